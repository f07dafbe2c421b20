//! Managing agents (admins) and one's own settings: name, language, password, API tokens;
//! admins also see each inbox's identity secret there and rotate it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tandem_domain::{InboxId, Role, UserId};

use super::{Chrome, PageAgent, PageError, PageResult, render};
use crate::AppState;
use crate::api::agents::{CreateUser, UpdateUser, create_user_checked, update_user_checked};
use crate::auth::{Agent, random_token, token_hash};
use crate::error::ApiError;
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/agents", get(show_agents).post(create_agent))
        .route("/admin/agents/{id}", post(update_agent))
        .route("/settings", get(show_settings).post(update_settings))
        .route("/settings/tokens", post(create_token))
        .route("/settings/inboxes/{id}/identity/rotate", post(rotate_identity))
}

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
struct Flash {
    notice: Option<String>,
    error: Option<String>,
}

async fn agents_page(
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

async fn show_agents(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(flash): Query<Flash>,
) -> PageResult {
    agents_page(&state, &agent, flash.notice, flash.error).await
}

#[derive(Debug, Deserialize)]
struct CreateAgentForm {
    csrf: String,
    email: String,
    display_name: String,
    role: String,
    locale: String,
    password: String,
}

async fn create_agent(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<CreateAgentForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    let request = CreateUser {
        email: form.email,
        display_name: form.display_name,
        role: form.role,
        locale: Some(form.locale),
        password: form.password,
    };
    match create_user_checked(&state, &agent, request).await {
        Ok(_) => Ok(Redirect::to("/admin/agents").into_response()),
        Err(error @ (ApiError::Refused(_) | ApiError::Internal(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => agents_page(&state, &agent, None, Some(error.to_string())).await,
    }
}

#[derive(Debug, Deserialize)]
struct UpdateAgentForm {
    csrf: String,
    role: Option<String>,
    active: Option<String>,
    password: Option<String>,
}

async fn update_agent(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Form(form): Form<UpdateAgentForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    let request = UpdateUser {
        role: form.role,
        active: form.active.map(|active| active == "true"),
        password: form.password.filter(|password| !password.is_empty()),
        ..UpdateUser::default()
    };
    match update_user_checked(&state, &agent, UserId(id), request).await {
        Ok(_) => Ok(Redirect::to("/admin/agents").into_response()),
        Err(error @ (ApiError::Refused(_) | ApiError::Internal(_) | ApiError::NotFound(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => agents_page(&state, &agent, None, Some(error.to_string())).await,
    }
}

#[derive(Template)]
#[template(path = "pages/settings.html")]
struct SettingsPage {
    chrome: Chrome,
    display_name: String,
    email: String,
    locale: &'static str,
    new_token: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    /// Admins only: the workspace's inboxes with their identity secrets.
    inboxes: Vec<InboxIdentityRow>,
}

#[derive(Debug)]
pub struct InboxIdentityRow {
    pub id: i64,
    pub name: String,
    pub public_key: String,
    pub secret: String,
    /// The embed code with the identity attributes to fill in.
    pub snippet: String,
}

/// The workspace's inboxes and their identity secrets, for admins; nothing for others.
async fn inbox_identities(
    state: &AppState,
    agent: &Agent,
) -> Result<Vec<InboxIdentityRow>, ApiError> {
    if !agent.user.is_admin() {
        return Ok(Vec::new());
    }
    let mut rows = Vec::new();
    for inbox in state.store.inboxes(agent.user.workspace_id).await? {
        let identity = crate::api::inboxes::identity_for(state, agent, inbox.id).await?;
        let snippet = format!(
            "<script src=\"{}/widget.js\" data-inbox=\"{}\" data-user-id=\"USER_ID\" data-user-hash=\"HMAC_SHA256_HEX\" data-user-name=\"NAME\" data-user-email=\"EMAIL\" async></script>",
            state.config.public_url, inbox.public_key
        );
        rows.push(InboxIdentityRow {
            id: inbox.id.0,
            name: inbox.name,
            public_key: inbox.public_key,
            secret: identity.secret,
            snippet,
        });
    }
    Ok(rows)
}

async fn settings_page(
    state: &AppState,
    agent: &Agent,
    new_token: Option<String>,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult {
    let inboxes = inbox_identities(state, agent).await.map_err(PageError::for_agent(agent))?;
    Ok(render(&SettingsPage {
        chrome: Chrome::new(agent, "settings"),
        display_name: agent.user.display_name.clone(),
        email: agent.user.email.clone(),
        locale: agent.user.locale.as_str(),
        new_token,
        notice,
        error,
        inboxes,
    }))
}

async fn show_settings(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(flash): Query<Flash>,
) -> PageResult {
    let text = Text::for_locale(agent.user.locale);
    let notice = flash.notice.map(|notice| match notice.as_str() {
        "identity_rotated" => text.identity_rotated.to_owned(),
        _ => text.saved.to_owned(),
    });
    settings_page(&state, &agent, None, notice, flash.error).await
}

#[derive(Debug, Deserialize)]
struct SettingsForm {
    csrf: String,
    display_name: String,
    locale: String,
    password: Option<String>,
}

async fn update_settings(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<SettingsForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    let password = form.password.filter(|password| !password.is_empty());
    let changes_password = password.is_some();
    let request = UpdateUser {
        display_name: Some(form.display_name),
        locale: Some(form.locale),
        password,
        ..UpdateUser::default()
    };
    match update_user_checked(&state, &agent, agent.user.id, request).await {
        // A new password ends every session, this one included: sign in again.
        Ok(_) if changes_password => Ok(Redirect::to("/login").into_response()),
        Ok(_) => Ok(Redirect::to("/settings?notice=saved").into_response()),
        Err(error @ (ApiError::Internal(_) | ApiError::Refused(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => settings_page(&state, &agent, None, None, Some(error.to_string())).await,
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    csrf: String,
    name: String,
}

async fn create_token(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<TokenForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return settings_page(
            &state,
            &agent,
            None,
            None,
            Some("name: must be 1 to 80 characters".into()),
        )
        .await;
    }
    let token = format!("tdm_{}", random_token());
    state
        .store
        .create_api_token(agent.user.id, &token_hash(&token), name)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    settings_page(&state, &agent, Some(token), None, None).await
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn rotate_identity(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    crate::api::inboxes::rotate_for(&state, &agent, InboxId(id))
        .await
        .map_err(PageError::for_agent(&agent))?;
    Ok(Redirect::to(&format!("/settings?notice=identity_rotated#inbox-{id}")).into_response())
}
