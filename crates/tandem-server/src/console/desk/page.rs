//! `GET /desk`: the live desk page, from the routing service's snapshot of the workspace's
//! router, with the conversations waiting for or with people and the after-hours tickets.

use askama::Template;
use axum::extract::State;
use tandem_domain::{Channel, ConversationState, Presence, QueueId};
use tandem_store::ConversationFilter;

use crate::AppState;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::i18n::Text;

#[derive(Debug)]
struct QueueRow {
    name: String,
    open: bool,
    next_open: String,
    waiting: u32,
    offered: u32,
    accepted: u32,
    longest_wait: String,
    at_risk: u32,
    breached: u32,
}

#[derive(Debug)]
struct AgentRow {
    id: i64,
    name: String,
    presence: &'static str,
    presence_label: &'static str,
    load: String,
    skills: String,
}

#[derive(Debug)]
struct WaitingRow {
    id: i64,
    preview: String,
    state_label: &'static str,
    assignee: String,
    queue: String,
    since: String,
}

#[derive(Template)]
#[template(path = "pages/desk.html")]
struct DeskPage {
    chrome: Chrome,
    my_presence: &'static str,
    presences: Vec<(&'static str, &'static str)>,
    queues: Vec<QueueRow>,
    agents: Vec<AgentRow>,
    /// Whom a conversation can be re-routed to: online first, then away, then offline.
    targets: Vec<(i64, String)>,
    conversations: Vec<WaitingRow>,
    can_reroute: bool,
}

fn presence_label(text: &'static Text, presence: Presence) -> &'static str {
    match presence {
        Presence::Online => &text.presence_online,
        Presence::Away => &text.presence_away,
        Presence::Offline => &text.presence_offline,
    }
}

fn minutes(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

pub(super) async fn show_desk_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
) -> PageResult {
    let fail = PageError::for_agent(&agent);
    let workspace = agent.user.workspace_id;
    let text = Text::for_locale(agent.user.locale);
    let snapshot = state.routing.snapshot(workspace).await.map_err(|error| fail(error.into()))?;
    let users = state.store.users(workspace).await.map_err(|error| fail(error.into()))?;
    let queues = state.store.queues(workspace).await.map_err(|error| fail(error.into()))?;
    let name_of = |id: tandem_domain::UserId| {
        users
            .iter()
            .find(|user| user.id == id)
            .map(|user| user.display_name.clone())
            .unwrap_or_default()
    };
    let queue_name = |id: QueueId| {
        queues
            .iter()
            .find(|queue| queue.id == id)
            .map_or_else(|| text.desk_default_queue.to_owned(), |queue| queue.name.clone())
    };
    let queue_rows = snapshot
        .queues
        .iter()
        .filter(|queue| {
            queue.queue != tandem_flow::routing::DEFAULT_QUEUE
                || queue.waiting + queue.offered + queue.accepted > 0
        })
        .map(|queue| QueueRow {
            name: queue_name(queue.queue),
            open: queue.open,
            next_open: queue.next_open.map(format_time).unwrap_or_default(),
            waiting: queue.waiting,
            offered: queue.offered,
            accepted: queue.accepted,
            longest_wait: minutes(queue.longest_wait_ms),
            at_risk: queue.at_risk,
            breached: queue.breached,
        })
        .collect();
    let my_presence = snapshot
        .agents
        .iter()
        .find(|row| row.id == agent.user.id)
        .map_or(Presence::Offline, |row| row.presence);
    let agents: Vec<AgentRow> = snapshot
        .agents
        .iter()
        .map(|row| AgentRow {
            id: row.id.0,
            name: name_of(row.id),
            presence: row.presence.as_str(),
            presence_label: presence_label(text, row.presence),
            load: Channel::ALL
                .iter()
                .filter(|channel| row.capacity.get(channel).copied().unwrap_or(0) > 0)
                .map(|channel| {
                    format!(
                        "{} {}/{}",
                        channel.as_str(),
                        row.load.get(channel).copied().unwrap_or(0),
                        row.capacity.get(channel).copied().unwrap_or(0)
                    )
                })
                .collect::<Vec<_>>()
                .join(" · "),
            skills: row
                .skills
                .iter()
                .map(|(skill, level)| format!("{skill}:{level}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let open = state
        .store
        .conversations(workspace, ConversationFilter::Open, 200)
        .await
        .map_err(|error| fail(error.into()))?;
    let tickets = state.routing.tickets(workspace).await.map_err(|error| fail(error.into()))?;
    let mut conversations: Vec<WaitingRow> = open
        .into_iter()
        .filter(|conversation| {
            matches!(conversation.state, ConversationState::Queued | ConversationState::Human)
        })
        .map(|conversation| WaitingRow {
            id: conversation.id.0,
            preview: conversation.preview.clone(),
            state_label: text.state(conversation.state),
            assignee: conversation.assignee_id.map(name_of).unwrap_or_default(),
            queue: queue_name(conversation.queue_id.unwrap_or(tandem_flow::routing::DEFAULT_QUEUE)),
            since: conversation
                .route
                .as_ref()
                .map(|route| format_time(route.queued_at))
                .unwrap_or_default(),
        })
        .collect();
    for (id, at) in tickets {
        let stored = state.store.conversation(id).await.map_err(|error| fail(error.into()))?;
        let Some(conversation) = stored else { continue };
        conversations.push(WaitingRow {
            id: id.0,
            preview: conversation.preview.clone(),
            state_label: &text.desk_ticket,
            assignee: format_time(at),
            queue: queue_name(conversation.queue_id.unwrap_or(tandem_flow::routing::DEFAULT_QUEUE)),
            since: conversation
                .route
                .as_ref()
                .map(|route| format_time(route.queued_at))
                .unwrap_or_default(),
        });
    }
    let mut targets: Vec<(u8, i64, String)> = agents
        .iter()
        .map(|row| {
            let rank = match row.presence {
                "online" => 0,
                "away" => 1,
                _ => 2,
            };
            (rank, row.id, format!("{} ({})", row.name, row.presence_label))
        })
        .collect();
    targets.sort();
    let targets = targets.into_iter().map(|(_, id, label)| (id, label)).collect();
    let page = DeskPage {
        chrome: Chrome::new(&agent, "desk"),
        my_presence: my_presence.as_str(),
        presences: Presence::ALL
            .iter()
            .map(|presence| (presence.as_str(), presence_label(text, *presence)))
            .collect(),
        queues: queue_rows,
        agents,
        targets,
        conversations,
        can_reroute: agent.user.is_manager(),
    };
    Ok(render(&page))
}
