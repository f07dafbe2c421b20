//! `GET /insight/alerts` (supervisors and admins): the spike alerts of the last 30 days, newest
//! first, each with its words, days, counts and conversations, and a button to dismiss it.

use askama::Template;
use axum::extract::State;

use crate::AppState;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render};

/// Alerts raised this many days back are listed.
const LISTED_DAYS: i64 = 30;
/// Conversations linked under each alert.
const LINKED: usize = 30;

#[derive(Debug)]
pub(super) struct AlertRow {
    id: i64,
    sentence: String,
    terms: String,
    first_day: String,
    days: String,
    count: u64,
    expected: String,
    score: String,
    raised: (String, i64),
    dismissed: bool,
    conversations: Vec<i64>,
    /// Conversations not linked, with the sentence that says so.
    more: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    alerts: Vec<AlertRow>,
}

pub(super) async fn show_alerts_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_manager().map_err(failed)?;
    let text = crate::console::text_for(&agent);
    let since = tandem_store::now_millis() - LISTED_DAYS * 24 * 60 * 60 * 1000;
    let alerts = state
        .store
        .insight_alerts(agent.user.workspace_id, since)
        .await
        .map_err(|error| failed(error.into()))?;
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::to_owned)
            .collect()
    };
    let rows = alerts
        .into_iter()
        .map(|alert| {
            let json = &alert.alert;
            let ids: Vec<i64> = json["conversation_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_i64)
                .collect();
            let more = (ids.len() > LINKED).then(|| {
                tandem_locales::fill(&text.alerts_more, &[("count", &(ids.len() - LINKED))])
            });
            AlertRow {
                id: alert.id,
                sentence: super::sentence(text, json),
                terms: strings(&json["terms"]).join(" · "),
                first_day: json["first_day"].as_str().unwrap_or_default().to_owned(),
                days: strings(&json["days"]).join(", "),
                count: json["count"].as_u64().unwrap_or_default(),
                expected: format!("{:.1}", json["expected"].as_f64().unwrap_or_default()),
                score: format!("{:.1}", json["score"].as_f64().unwrap_or_default()),
                raised: (format_time(alert.raised_at), alert.raised_at),
                dismissed: alert.dismissed_at.is_some(),
                conversations: ids.into_iter().take(LINKED).collect(),
                more,
            }
        })
        .collect();
    Ok(render(&AlertsPage { chrome: Chrome::new(&agent, "insight"), alerts: rows }))
}
