//! Channels beyond the web widget and the API channel: e-mail (a built-in SMTP listener in,
//! SMTP out), WeCom customer service and WeChat Official Accounts, Feishu and DingTalk bots.
//!
//! Each protocol lives in `tandem-channels`; this module wires them to inboxes:
//! - [`settings`]: an inbox's credentials, set by admins through the API;
//! - the callbacks (`/channels/<channel>/<inbox public key>`) and the SMTP listener check
//!   what arrives by the protocol's rules, then hand the customer's message to
//!   [`inbound::receive`], one path for every channel;
//! - [`outbound`]: the bot's and agents' replies leave through the webhook outbox, each by
//!   its inbox's channel.

mod callbacks;
pub(crate) mod compose;
pub mod email;
mod inbound;
pub mod outbound;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use tandem_domain::{Channel, Inbox, InboxId, WebhookEventType};
use tandem_store::{NewWebhookEndpoint, Store, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::{Agent, random_token};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
pub(crate) use inbound::claim_identity;
pub use settings::ChannelSettings;

/// The channels' state on this node, shared by the callbacks and the replies: each inbox's
/// API client (so one access token serves both fetching and sending), WeCom's message-sync
/// positions, and the WeCom and WeChat callbacks seen lately (replays).
pub struct Channels {
    pub outbound: outbound::Outbound,
    /// Where each WeCom account's message sync stands (a node that restarts fetches again what
    /// the API still keeps, and stores none of it twice), by inbox, corp id and `open_kfid`: a
    /// cursor means nothing to another account.
    cursors: Mutex<HashMap<(InboxId, String, String), String>>,
    /// (timestamp, nonce) pairs seen within the callbacks' window. A replay reaching another
    /// node inside it is still stored once: its message id is its `client_msg_id`.
    replays: tandem_channels::wecom::ReplayGuard,
}

impl Channels {
    pub fn new(store: Arc<dyn Store>, http: reqwest::Client) -> Channels {
        Channels {
            outbound: outbound::Outbound::new(store, http),
            cursors: Mutex::new(HashMap::new()),
            replays: tandem_channels::wecom::ReplayGuard::new(callbacks::MAX_SKEW),
        }
    }
}

/// The API routes: settings and files.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_settings, save_settings))
        .routes(routes!(download))
        .routes(routes!(compose::email_customer))
}

/// The channels' callbacks, which their platforms call (not part of Tandem's API: their
/// shapes are the platforms').
pub fn callback_routes() -> axum::Router<AppState> {
    callbacks::routes()
}

/// An inbox's channel settings as admins read them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub inbox_id: i64,
    pub channel: Channel,
    /// Secrets shown as `********`.
    pub settings: ChannelSettings,
    /// Where the platform sends callbacks: enter it in its console (WeCom, WeChat, Feishu,
    /// DingTalk). `None` for e-mail, which arrives through the SMTP listener.
    pub callback_url: Option<String>,
    /// For e-mail: the SMTP listener's address, where the business's mail server or relay
    /// forwards the inbox's mail; `None` when the listener is off.
    pub smtp_listener: Option<String>,
}

/// Where the inbox's platform sends its callbacks; `None` for e-mail, which has none.
pub(crate) fn callback_url(state: &AppState, inbox: &Inbox) -> Option<String> {
    (inbox.channel != Channel::Email).then(|| {
        format!(
            "{}/channels/{}/{}",
            state.config.public_url.trim_end_matches('/'),
            inbox.channel.as_str(),
            inbox.public_key
        )
    })
}

fn view(state: &AppState, inbox: &Inbox, settings: ChannelSettings) -> ChannelView {
    let callback_url = callback_url(state, inbox);
    let smtp_listener = (inbox.channel == Channel::Email)
        .then(|| state.smtp_address().map(|address| address.to_string()))
        .flatten();
    ChannelView {
        inbox_id: inbox.id.0,
        channel: inbox.channel,
        settings: settings.masked(),
        callback_url,
        smtp_listener,
    }
}

/// The inbox's stored settings, if they are readable.
pub(crate) async fn stored(state: &AppState, inbox: InboxId) -> ApiResult<Option<ChannelSettings>> {
    let Some(json) = state.store.inbox_settings(inbox).await? else { return Ok(None) };
    match serde_json::from_value(json) {
        Ok(settings) => Ok(Some(settings)),
        Err(error) => {
            tracing::warn!(inbox_id = %inbox, %error, "unreadable channel settings");
            Ok(None)
        }
    }
}

/// A secret in a response is not kept by caches.
const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

/// The inbox's channel settings, secrets masked (admins).
#[utoipa::path(get, path = "/api/v1/inboxes/{id}/channel", operation_id = "getInboxChannel", tag = "inboxes",
    params(("id" = i64, Path, description = "The inbox.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The settings.", body = ChannelView), Errors))]
async fn show_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<impl IntoResponse> {
    let inbox = crate::api::inboxes::inbox_for_admin(&state, &agent, InboxId(id)).await?;
    let settings = stored(&state, inbox.id).await?.ok_or(ApiError::ChannelNotConfigured)?;
    Ok((NO_STORE, ApiJson(view(&state, &inbox, settings))))
}

/// Sets how the inbox's channel is reached and answered (admins): `{"email": {...}}`,
/// `{"wecom": {...}}`, `{"wechat": {...}}`, `{"feishu": {...}}` or `{"dingtalk": {...}}`,
/// matching the inbox's channel. A secret left out (or sent back as `********`) keeps the
/// stored one. Takes effect at once; replies start leaving through the channel.
#[utoipa::path(put, path = "/api/v1/inboxes/{id}/channel", operation_id = "setInboxChannel", tag = "inboxes",
    params(("id" = i64, Path, description = "The inbox.")), request_body = ChannelSettings,
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved; secrets masked.", body = ChannelView), Errors))]
async fn save_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(mut settings): ApiJson<ChannelSettings>,
) -> ApiResult<impl IntoResponse> {
    let inbox = crate::api::inboxes::inbox_for_admin(&state, &agent, InboxId(id)).await?;
    let before = stored(&state, inbox.id).await?;
    settings.keep_secrets(before.as_ref());
    settings.check(&inbox)?;
    apply(state.store.as_ref(), &inbox, &settings).await?;
    tracing::info!(inbox_id = %inbox.id, channel = inbox.channel.as_str(), user_id = %agent.user.id, "channel settings saved");
    Ok((NO_STORE, ApiJson(view(&state, &inbox, settings))))
}

/// Stores checked settings for the inbox and makes sure its replies go out through its
/// channel: one active channel endpoint bound to the inbox, subscribed to new messages.
pub async fn apply(
    store: &dyn Store,
    inbox: &Inbox,
    settings: &ChannelSettings,
) -> Result<(), StoreError> {
    // Serialising plain data into a JSON value cannot fail.
    let json = serde_json::to_value(settings).unwrap_or_default();
    store.set_inbox_settings(inbox.id, json).await?;
    let url = outbound::endpoint_url(inbox.channel);
    let endpoints = store.webhook_endpoints(inbox.workspace_id).await?;
    let bound =
        endpoints.iter().any(|endpoint| endpoint.inbox_id == Some(inbox.id) && endpoint.url == url);
    if !bound {
        store
            .create_webhook_endpoint(NewWebhookEndpoint {
                workspace_id: inbox.workspace_id,
                url,
                description: format!(
                    "Replies to {} customers of inbox {}",
                    inbox.channel.as_str(),
                    inbox.name
                ),
                events: vec![WebhookEventType::MessageCreated],
                active: true,
                secret: format!("whsec_{}", random_token()),
                inbox_id: Some(inbox.id),
            })
            .await?;
    }
    Ok(())
}

/// A conversation's file, as it was received: served as a download (`Content-Disposition:
/// attachment`, never sniffed or shown inline), so a file can never run in the console.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", operation_id = "downloadAttachment", tag = "conversations",
    params(("id" = i64, Path, description = "The file.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The file's bytes.", content_type = "application/octet-stream"), Errors))]
async fn download(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<impl IntoResponse> {
    let (info, data) = state
        .store
        .attachment(id)
        .await?
        .filter(|(info, _)| info.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::AttachmentNotFound)?;
    let filename: String = info
        .filename
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' })
        .collect();
    let encoded: String = info
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{filename}\"; filename*=UTF-8''{encoded}");
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
        ],
        data,
    ))
}
