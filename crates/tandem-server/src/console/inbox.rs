//! The inbox: conversations by view (mine, queued, bot, with agents, resolved, all), with
//! counts, refreshed live by the console script through the `/inbox/live` fragment. When the
//! workspace's inboxes are on more than one channel, the rows carry a channel badge and the
//! list can be narrowed to one channel (`channel=api`; the tabs and the live refresh keep it).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use tandem_domain::{Channel, ConversationState, CustomerId, InboxId, UserId};
use tandem_store::ConversationCounts;

use super::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::AppState;
use crate::api::agents::filter_for;
use crate::auth::Agent;
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new().route("/inbox", get(show_inbox)).route("/inbox/live", get(inbox_fragment))
}

/// The views, in tab order.
const VIEWS: [&str; 6] = ["mine", "queued", "bot", "human", "resolved", "all"];

#[derive(Debug)]
pub struct Tab {
    /// The tab's address, keeping the chosen channel.
    pub href: String,
    pub label: &'static str,
    pub count: Option<i64>,
    pub selected: bool,
}

/// A channel filter link (the first is all channels).
#[derive(Debug)]
pub struct ChannelLink {
    pub href: String,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Debug)]
pub struct Row {
    pub id: i64,
    pub customer: String,
    pub preview: String,
    pub state: &'static str,
    pub state_label: &'static str,
    /// The conversation's channel (`web`, `email`, `api`) and its label; empty when unknown.
    pub channel: &'static str,
    pub channel_label: &'static str,
    pub assignee: String,
    pub time: String,
    pub timestamp: i64,
}

#[derive(Template)]
#[template(path = "pages/inbox.html")]
struct InboxPage {
    chrome: Chrome,
    view: &'static str,
    /// The chosen channel, empty for all.
    channel: &'static str,
    live: InboxLive,
}

#[derive(Template)]
#[template(path = "partials/inbox_live.html")]
struct InboxLive {
    t: &'static Text,
    tabs: Vec<Tab>,
    /// Empty unless the workspace has inboxes on more than one channel.
    channels: Vec<ChannelLink>,
    rows: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct ViewQuery {
    view: Option<String>,
    channel: Option<String>,
}

fn chosen_view(query: &ViewQuery) -> &'static str {
    let asked = query.view.as_deref().unwrap_or("mine");
    VIEWS.into_iter().find(|view| *view == asked).unwrap_or("mine")
}

/// The asked channel; an unknown one is ignored (all channels).
fn chosen_channel(query: &ViewQuery) -> Option<Channel> {
    query.channel.as_deref().and_then(Channel::parse)
}

/// The inbox address of a view on a channel.
fn href(view: &str, channel: Option<Channel>) -> String {
    match channel {
        Some(channel) => format!("/inbox?view={view}&channel={}", channel.as_str()),
        None => format!("/inbox?view={view}"),
    }
}

fn label(text: &'static Text, view: &str) -> &'static str {
    match view {
        "mine" => &text.view_mine,
        "queued" => &text.view_queued,
        "bot" => &text.view_bot,
        "human" => &text.view_human,
        "resolved" => &text.view_resolved,
        _ => &text.view_all,
    }
}

async fn live(
    state: &AppState,
    agent: &Agent,
    view: &'static str,
    channel: Option<Channel>,
) -> Result<InboxLive, PageError> {
    let text = Text::for_locale(agent.user.locale);
    let failed = |error: tandem_store::StoreError| PageError::new(error.into(), text);
    let workspace = agent.user.workspace_id;
    let filter = filter_for(view, agent).unwrap_or(tandem_store::ConversationFilter::Open);
    let conversations =
        state.store.conversations_on(workspace, filter, channel, 200).await.map_err(failed)?;
    let inboxes: HashMap<InboxId, Channel> = state
        .store
        .inboxes(workspace)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|inbox| (inbox.id, inbox.channel))
        .collect();
    let present: Vec<Channel> =
        Channel::ALL.iter().copied().filter(|one| inboxes.values().any(|c| c == one)).collect();
    let several = present.len() > 1;
    let channels = if several {
        std::iter::once(ChannelLink {
            href: href(view, None),
            label: &text.inbox_all_channels,
            selected: channel.is_none(),
        })
        .chain(present.iter().map(|&one| ChannelLink {
            href: href(view, Some(one)),
            label: text.channel(one),
            selected: channel == Some(one),
        }))
        .collect()
    } else {
        Vec::new()
    };
    let counts: ConversationCounts =
        state.store.conversation_counts(workspace, agent.user.id).await.map_err(failed)?;
    let tabs = VIEWS
        .into_iter()
        .map(|tab| Tab {
            href: href(tab, channel),
            label: label(text, tab),
            count: match tab {
                "mine" => Some(counts.mine),
                "queued" => Some(counts.queued),
                "bot" => Some(counts.bot),
                "human" => Some(counts.human),
                _ => None,
            },
            selected: tab == view,
        })
        .collect();
    let agents: HashMap<UserId, String> = state
        .store
        .users(workspace)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|user| (user.id, user.display_name))
        .collect();
    let mut customers: HashMap<CustomerId, String> = HashMap::new();
    let mut rows = Vec::with_capacity(conversations.len());
    for conversation in conversations {
        if let Entry::Vacant(entry) = customers.entry(conversation.customer_id) {
            let customer = state.store.customer(conversation.customer_id).await.map_err(failed)?;
            entry.insert(customer.map(|customer| customer.name).unwrap_or_default());
        }
        let assignee = match conversation.assignee_id {
            Some(user) => agents.get(&user).cloned().unwrap_or_default(),
            None if conversation.state == ConversationState::Resolved => String::new(),
            None => text.unassigned.to_owned(),
        };
        let on = inboxes.get(&conversation.inbox_id).copied().filter(|_| several);
        rows.push(Row {
            id: conversation.id.0,
            customer: customers[&conversation.customer_id].clone(),
            preview: conversation.preview.clone(),
            state: conversation.state.as_str(),
            state_label: text.state(conversation.state),
            channel: on.map(Channel::as_str).unwrap_or_default(),
            channel_label: on.map(|on| text.channel(on)).unwrap_or_default(),
            assignee,
            time: format_time(conversation.last_message_at),
            timestamp: conversation.last_message_at,
        });
    }
    Ok(InboxLive { t: text, tabs, channels, rows })
}

async fn show_inbox(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<ViewQuery>,
) -> PageResult {
    let view = chosen_view(&query);
    let channel = chosen_channel(&query);
    let live = live(&state, &agent, view, channel).await?;
    let chrome = Chrome::new(&agent, "inbox");
    let channel = channel.map(Channel::as_str).unwrap_or_default();
    Ok(render(&InboxPage { chrome, view, channel, live }))
}

async fn inbox_fragment(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<ViewQuery>,
) -> Result<Response, PageError> {
    let live = live(&state, &agent, chosen_view(&query), chosen_channel(&query)).await?;
    Ok(render(&live))
}
