//! `GET /settings/routing`: the routing page, a row per agent and per queue; the save actions
//! show it again with a refused row as it was typed.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use tandem_domain::{Channel, QueueId, UserId};

use super::agent_form::AgentForm;
use super::queue_form::QueueForm;
use super::text_formats::format_skills;
use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageResult, format_time, render, store_failed, text_for};

/// An agent's row: stored values, or what was typed when saving it failed.
#[derive(Debug)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub role_label: &'static str,
    pub presence: &'static str,
    pub presence_label: &'static str,
    /// Since when, when known.
    pub presence_at: Option<(String, i64)>,
    pub skills: String,
    /// (channel, label, value)
    pub capacity: Vec<(&'static str, &'static str, String)>,
    pub error: Option<String>,
}

#[derive(Debug)]
pub struct QueueRow {
    pub id: i64,
    /// The stored name.
    pub title: String,
    form: QueueForm,
    pub error: Option<String>,
    /// The input the error is about ("" when none).
    pub error_field: &'static str,
}

#[derive(Template)]
#[template(path = "pages/routing.html")]
struct RoutingPage {
    chrome: Chrome,
    can_edit: bool,
    /// The capacity columns' channel names.
    channel_labels: Vec<&'static str>,
    agents: Vec<AgentRow>,
    queues: Vec<QueueRow>,
    notice: Option<String>,
    error: Option<String>,
}

/// A failed save, shown on its row.
pub(super) enum Refused {
    Agent { id: UserId, form: AgentForm, message: String },
    Queue { id: QueueId, form: QueueForm, field: &'static str, message: String },
}

pub(super) async fn routing_page(
    state: &AppState,
    agent: &Agent,
    notice: Option<String>,
    refused: Option<Refused>,
) -> PageResult {
    let text = text_for(agent);
    let failed = store_failed(agent);
    let workspace = agent.user.workspace_id;
    let users: HashMap<UserId, tandem_domain::User> = state
        .store
        .users(workspace)
        .await
        .map_err(&failed)?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    let routing = state.store.agent_routing(workspace).await.map_err(&failed)?;
    let queues = state.store.queues(workspace).await.map_err(&failed)?;
    let mut error = None;
    let mut agents: Vec<AgentRow> = routing
        .iter()
        .filter_map(|routing| {
            let user = users.get(&routing.user_id)?;
            Some(AgentRow {
                id: user.id.0,
                name: user.display_name.clone(),
                role_label: text.role(user.role),
                presence: routing.presence.as_str(),
                presence_label: text.presence(routing.presence),
                presence_at: (routing.presence_at > 0)
                    .then(|| (format_time(routing.presence_at), routing.presence_at)),
                skills: format_skills(&routing.skills),
                capacity: Channel::ALL
                    .iter()
                    .map(|&channel| {
                        let count = routing.capacity.get(&channel).copied().unwrap_or(0);
                        (channel.as_str(), text.channel(channel), count.to_string())
                    })
                    .collect(),
                error: None,
            })
        })
        .collect();
    agents.sort_by(|a, b| a.name.cmp(&b.name));
    let mut queues: Vec<QueueRow> = queues
        .iter()
        .map(|queue| QueueRow {
            id: queue.id.0,
            title: queue.name.clone(),
            form: QueueForm::from_queue(queue),
            error: None,
            error_field: "",
        })
        .collect();
    match refused {
        Some(Refused::Agent { id, form, message }) => {
            if let Some(row) = agents.iter_mut().find(|row| row.id == id.0) {
                for (channel, _, value) in &mut row.capacity {
                    *value = form.capacity(channel).to_owned();
                }
                row.skills = form.skills;
                row.error = Some(message.clone());
            }
            error = Some(format!("{} {message}", text.kb_not_saved));
        }
        Some(Refused::Queue { id, form, field, message }) => {
            if let Some(row) = queues.iter_mut().find(|row| row.id == id.0) {
                row.form = form;
                row.error = Some(message.clone());
                row.error_field = field;
            }
            error = Some(format!("{} {message}", text.kb_not_saved));
        }
        None => {}
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = RoutingPage {
        chrome: Chrome::new(agent, "routing"),
        can_edit: agent.user.is_manager(),
        channel_labels: Channel::ALL.iter().map(|&channel| text.channel(channel)).collect(),
        agents,
        queues,
        notice,
        error,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

pub(super) async fn show_routing_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    let notice = query.notice.map(|_| text_for(&agent).saved.to_owned());
    routing_page(&state, &agent, notice, None).await
}
