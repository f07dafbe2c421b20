//! `GET /settings`: one's settings page, shown again by the save and token actions with a
//! refused form's problem or a newly created API token.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::{Channel, TokenScope, TokenStatus};

use super::channel_form::{self, ChannelFormView, Refusal};
use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render};
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
    /// One's API tokens (admins: the workspace's), newest first.
    tokens: Vec<TokenRow>,
    /// Whether the token table has an owner column (admins).
    show_owner: bool,
    /// The channels a new inbox can have (admins' form).
    channels: Vec<ChannelOption>,
}

/// A channel of the new inbox form's select.
#[derive(Debug)]
pub struct ChannelOption {
    pub channel: Channel,
}

/// An API token as the settings page lists it.
#[derive(Debug)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub scope: &'static str,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub status: &'static str,
    /// `active`, `expired` or `revoked`, for styles and tests.
    pub status_code: &'static str,
    pub revocable: bool,
}

fn token_rows(text: &'static Text, tokens: Vec<crate::api::tokens::TokenView>) -> Vec<TokenRow> {
    let when = |millis: Option<i64>| millis.map_or(text.token_never.clone(), format_time);
    tokens
        .into_iter()
        .map(|view| TokenRow {
            id: view.token.id.0,
            name: view.token.name,
            owner: view.user_name,
            scope: match view.token.scope {
                TokenScope::ReadOnly => text.token_scope_read_only.as_str(),
                TokenScope::Agent => text.token_scope_agent.as_str(),
                TokenScope::Admin => text.token_scope_admin.as_str(),
            },
            created: format_time(view.token.created_at),
            expires: when(view.token.expires_at),
            last_used: when(view.token.last_used_at),
            status: match view.status {
                TokenStatus::Active => text.token_status_active.as_str(),
                TokenStatus::Expired => text.token_status_expired.as_str(),
                TokenStatus::Revoked => text.token_status_revoked.as_str(),
            },
            status_code: view.status.as_str(),
            revocable: view.status != TokenStatus::Revoked,
        })
        .collect()
}

#[derive(Debug)]
pub struct InboxIdentityRow {
    pub id: i64,
    pub name: String,
    pub public_key: String,
    pub secret: String,
    /// The embed code with the identity attributes to fill in.
    pub snippet: String,
    pub channel: Channel,
    /// The channel's settings form; none for web and API inboxes.
    pub settings: Option<ChannelFormView>,
}

/// The workspace's inboxes and their identity secrets, for admins; nothing for others.
async fn inbox_identities(
    state: &AppState,
    agent: &Agent,
    refusal: Option<&Refusal>,
) -> Result<Vec<InboxIdentityRow>, ApiError> {
    let text = Text::for_locale(agent.user.locale);
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
        let settings = if channel_form::has_settings(inbox.channel) {
            let stored = crate::channels::stored(state, inbox.id).await?;
            channel_form::view(state, text, &inbox, stored, refusal)
        } else {
            None
        };
        rows.push(InboxIdentityRow {
            id: inbox.id.0,
            channel: inbox.channel,
            settings,
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
    settings_page_with(state, agent, new_token, notice, error, None).await
}

/// The settings page, with a refused channel form shown again on its inbox.
pub(super) async fn settings_page_with(
    state: &AppState,
    agent: &Agent,
    new_token: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    refusal: Option<Refusal>,
) -> PageResult {
    let inboxes = inbox_identities(state, agent, refusal.as_ref())
        .await
        .map_err(PageError::for_agent(agent))?;
    let tokens =
        crate::api::tokens::tokens_for(state, agent).await.map_err(PageError::for_agent(agent))?;
    let text = Text::for_locale(agent.user.locale);
    Ok(render(&SettingsPage {
        chrome: Chrome::new(agent, "settings"),
        display_name: agent.user.display_name.clone(),
        email: agent.user.email.clone(),
        locale: agent.user.locale.as_str(),
        new_token,
        notice,
        error,
        inboxes,
        tokens: token_rows(text, tokens),
        show_owner: agent.user.is_admin(),
        channels: Channel::ALL.iter().map(|&channel| ChannelOption { channel }).collect(),
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
        "token_revoked" => text.token_revoked_notice.to_owned(),
        "channel_saved" => text.chs_saved.to_owned(),
        "inbox_created" => text.chs_created.to_owned(),
        _ => text.saved.to_owned(),
    });
    settings_page(&state, &agent, None, notice, flash.error).await
}
