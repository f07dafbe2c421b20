//! `GET /admin/agents` (admins): the agents page, shown again by the create and update actions
//! when a form is refused, with the problem named.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::Role;

use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render};
use crate::i18n::Text;

#[derive(Debug)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub role_label: &'static str,
    pub active: bool,
    pub is_me: bool,
}

#[derive(Template)]
#[template(path = "pages/agents.html")]
struct AgentsPage {
    chrome: Chrome,
    agents: Vec<AgentRow>,
    roles: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Flash {
    notice: Option<String>,
    error: Option<String>,
}

pub(super) async fn agents_page(
    state: &AppState,
    agent: &Agent,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult {
    agent.require_admin().map_err(PageError::for_agent(agent))?;
    let text = Text::for_locale(agent.user.locale);
    let users = state
        .store
        .users(agent.user.workspace_id)
        .await
        .map_err(|e| PageError::for_agent(agent)(e.into()))?;
    let agents = users
        .into_iter()
        .map(|user| AgentRow {
            id: user.id.0,
            is_me: user.id == agent.user.id,
            name: user.display_name,
            email: user.email,
            role: user.role.as_str(),
            role_label: text.role(user.role),
            active: user.active,
        })
        .collect();
    let roles = Role::ALL.iter().map(|role| (role.as_str(), text.role(*role))).collect();
    Ok(render(&AgentsPage { chrome: Chrome::new(agent, "agents"), agents, roles, notice, error }))
}

pub(super) async fn show_agents_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(flash): Query<Flash>,
) -> PageResult {
    agents_page(&state, &agent, flash.notice, flash.error).await
}
