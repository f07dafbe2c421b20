//! `GET /settings`: one's settings page, shown again by the save and token actions with a
//! refused form's problem or a newly created API token.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render};
use crate::error::ApiError;
use crate::i18n::Text;

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

pub(super) async fn settings_page(
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

#[derive(Debug, Deserialize)]
pub(super) struct Flash {
    notice: Option<String>,
    error: Option<String>,
}

pub(super) async fn show_settings_page(
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
