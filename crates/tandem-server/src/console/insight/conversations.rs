//! `GET /insight/conversations`: the conversations behind a figure of the Insight page (its
//! period, group, metric and bottleneck), newest first, with the link to the same list as CSV.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use tandem_domain::{ConversationFacts, CustomerId};
use tandem_locales::fill;

use super::{InsightQuery, Names, Selection, duration, group_by_label, metric_label};
use crate::AppState;
use crate::auth::Agent;
use crate::console::{
    Chrome, PageAgent, PageError, PageResult, format_time, render, store_failed, text_for,
};

/// Rows shown on the page; the CSV has them all.
pub(super) const SHOWN: usize = 500;

#[derive(Debug)]
pub(super) struct ConversationRow {
    pub(super) id: i64,
    pub(super) customer: String,
    pub(super) channel: &'static str,
    pub(super) queue: String,
    pub(super) agent: String,
    pub(super) state: &'static str,
    pub(super) state_code: &'static str,
    pub(super) topic: String,
    pub(super) created: (String, i64),
    pub(super) first_response: String,
    pub(super) resolved: Option<(String, i64)>,
    pub(super) csat: String,
    pub(super) reasons: String,
}

#[derive(Template)]
#[template(path = "pages/insight_conversations.html")]
pub(super) struct ConversationsPage {
    chrome: Chrome,
    heading: String,
    /// What narrows the list beyond the metric: the group, the hour, the reason.
    filters: Vec<String>,
    period_line: String,
    shown_line: String,
    rows: Vec<ConversationRow>,
    export_link: String,
    back_link: String,
}

pub(super) async fn show_insight_conversations(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<InsightQuery>,
) -> PageResult {
    let t = text_for(&agent);
    let selection = Selection::read(&state, &agent, &query).await?;
    let (total, shown) = selection.conversations(&state, &agent, SHOWN).await?;
    let names = Names::load(&state, &agent).await?;
    let customers = customer_names(&state, &agent, &shown).await?;
    let rows = shown.iter().map(|facts| row(t, &names, &customers, facts)).collect();
    let mut filters = Vec::new();
    if let Some((by, key)) = selection.group() {
        filters.push(fill(
            &t.insight_filter_group,
            &[("group", &group_by_label(t, by)), ("name", &names.key(by, key))],
        ));
    }
    if let Some(hour) = selection.narrow.hour {
        filters.push(fill(&t.insight_filter_hour, &[("hour", &format!("{hour:02}:00"))]));
    }
    if selection.narrow.after_bot {
        filters.push(t.insight_filter_after_bot.clone());
    }
    if let Some(reason) = selection.narrow.reason {
        filters.push(fill(&t.insight_filter_reason, &[("reason", &t.reason(reason))]));
    }
    let back = serde_urlencoded::to_string([
        ("from", selection.from.as_str()),
        ("to", selection.to.as_str()),
        ("by", selection.by.as_str()),
    ])
    .unwrap_or_default();
    let query_string = selection.query_string(
        (&selection.from, &selection.to),
        selection.key.as_deref(),
        selection.metric,
        selection.narrow,
    );
    let page = ConversationsPage {
        chrome: Chrome::new(&agent, "insight"),
        heading: metric_label(t, selection.metric).to_owned(),
        filters,
        period_line: fill(&t.insight_period, &[("from", &selection.from), ("to", &selection.to)]),
        shown_line: fill(&t.insight_shown, &[("shown", &shown.len()), ("total", &total)]),
        rows,
        export_link: format!("/insight/export.csv?{query_string}"),
        back_link: format!("/insight?{back}"),
    };
    Ok(render(&page))
}

/// The names of the customers of these conversations.
pub(super) async fn customer_names(
    state: &AppState,
    agent: &Agent,
    conversations: &[ConversationFacts],
) -> Result<HashMap<CustomerId, String>, PageError> {
    let mut ids: Vec<CustomerId> = conversations.iter().map(|facts| facts.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let workspace = agent.user.workspace_id;
    let names = state.store.customer_names(workspace, ids).await.map_err(store_failed(agent))?;
    Ok(names.into_iter().collect())
}

fn row(
    t: &'static crate::i18n::Text,
    names: &Names,
    customers: &HashMap<CustomerId, String>,
    facts: &ConversationFacts,
) -> ConversationRow {
    ConversationRow {
        id: facts.conversation_id.0,
        customer: customers.get(&facts.customer_id).cloned().unwrap_or_default(),
        channel: names.channel(facts.channel),
        queue: names.queue(facts.queue_id),
        agent: names.agent(facts.agent_id),
        state: t.state(facts.state),
        state_code: facts.state.as_str(),
        topic: names.topic(facts.topic.as_deref()),
        created: (format_time(facts.created_at), facts.created_at),
        first_response: duration(t, facts.first_response_ms().map(|ms| ms as f64 / 1000.0)),
        resolved: facts.last_resolved_at.map(|at| (format_time(at), at)),
        csat: facts.csat.map(|rating| rating.to_string()).unwrap_or_default(),
        reasons: names.reasons(&facts.reasons),
    }
}
