//! Inboxes: admins create them (a web widget, an e-mail address, an API channel), every agent
//! of the workspace lists them, and admins read and rotate the identity secret a business
//! signs its logged-in users' ids with (identity verification) and an API channel's business
//! authenticates with. The secret is stored as it is, because checking a hash needs it, and
//! only admins of the inbox's workspace ever see it.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_domain::{Channel, Inbox, InboxId, validate};
use tandem_store::NewInbox;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::{Agent, random_token};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show_identity))
        .routes(routes!(rotate_identity))
}

/// Longest inbox or bot name, in characters.
const MAX_NAME: usize = 80;

/// The bot's name in a new inbox when none is given.
const DEFAULT_BOT_NAME: &str = "Tandem";

/// An inbox as agents see it (never its identity secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = InboxSummary)]
pub struct InboxView {
    pub id: i64,
    pub name: String,
    pub channel: Channel,
    /// The key the widget (`data-inbox`) or an API channel's business (`X-Tandem-Inbox`) names
    /// the inbox with; public by design.
    pub public_key: String,
    pub bot_name: String,
    pub created_at: i64,
}

impl From<Inbox> for InboxView {
    fn from(inbox: Inbox) -> InboxView {
        InboxView {
            id: inbox.id.0,
            name: inbox.name,
            channel: inbox.channel,
            public_key: inbox.public_key,
            bot_name: inbox.bot_name,
            created_at: inbox.created_at,
        }
    }
}

/// The workspace's inboxes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Inboxes {
    inboxes: Vec<InboxView>,
}

/// The workspace's inboxes, oldest first (any agent of the workspace).
#[utoipa::path(get, path = "/api/v1/inboxes", operation_id = "listInboxes", tag = "inboxes",
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The inboxes.", body = Inboxes), Errors))]
async fn list(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Inboxes>> {
    let mut inboxes = state.store.inboxes(agent.user.workspace_id).await?;
    inboxes.sort_by_key(|inbox| inbox.id.0);
    Ok(ApiJson(Inboxes { inboxes: inboxes.into_iter().map(InboxView::from).collect() }))
}

/// A new inbox.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInbox {
    /// 1 to 80 characters on one line.
    pub name: String,
    /// `web` (the chat widget), `email` or `api` (the API channel: the business posts its
    /// customers' messages with the inbox's key and receives replies as webhooks).
    pub channel: String,
    /// The name the bot speaks under (1 to 80 characters; `Tandem` by default).
    pub bot_name: Option<String>,
}

/// Validates and creates an inbox (admins).
pub async fn create_checked(
    state: &AppState,
    agent: &Agent,
    request: CreateInbox,
) -> ApiResult<Inbox> {
    agent.require_admin()?;
    let name = validate::one_line("name", &request.name, MAX_NAME)?;
    let channel = validate::channel("channel", &request.channel)?;
    let bot_name = match request.bot_name.as_deref() {
        Some(bot_name) => validate::one_line("bot_name", bot_name, MAX_NAME)?,
        None => DEFAULT_BOT_NAME.to_owned(),
    };
    let inbox = state
        .store
        .create_inbox(NewInbox {
            workspace_id: agent.user.workspace_id,
            name,
            channel,
            public_key: format!("pk_{}", random_token()),
            bot_name,
        })
        .await?;
    tracing::info!(inbox_id = %inbox.id, channel = inbox.channel.as_str(), user_id = %agent.user.id, "inbox created");
    Ok(inbox)
}

/// Creates an inbox (admins): its public key is generated; its identity secret is read with
/// `GET /api/v1/inboxes/{id}/identity`.
#[utoipa::path(post, path = "/api/v1/inboxes", operation_id = "createInbox", tag = "inboxes",
    request_body = CreateInbox, security(("session" = []), ("apiToken" = [])),
    responses((status = 201, description = "Created.", body = InboxView), Errors))]
async fn create(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<CreateInbox>,
) -> ApiResult<impl IntoResponse> {
    let inbox = create_checked(&state, &agent, request).await?;
    Ok((StatusCode::CREATED, ApiJson(InboxView::from(inbox))))
}

/// An inbox of the admin's own workspace; others do not exist for them.
pub async fn inbox_for_admin(state: &AppState, agent: &Agent, id: InboxId) -> ApiResult<Inbox> {
    // Only admins see identity secrets.
    agent.require_admin()?;
    state
        .store
        .inbox(id)
        .await?
        .filter(|inbox| inbox.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))
}

/// What a business needs to sign its users' ids for the inbox's widget.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InboxIdentity {
    pub inbox_id: i64,
    pub public_key: String,
    /// The key of the HMAC, used as the text it is.
    pub secret: String,
    pub algorithm: &'static str,
}

impl InboxIdentity {
    fn new(inbox: Inbox, secret: String) -> InboxIdentity {
        InboxIdentity {
            inbox_id: inbox.id.0,
            public_key: inbox.public_key,
            secret,
            algorithm: "HMAC-SHA256",
        }
    }
}

/// The inbox's identity secret (admins only).
pub async fn identity_for(
    state: &AppState,
    agent: &Agent,
    id: InboxId,
) -> ApiResult<InboxIdentity> {
    let inbox = inbox_for_admin(state, agent, id).await?;
    let secret = state
        .store
        .inbox_identity_secret(inbox.id)
        .await?
        .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))?;
    Ok(InboxIdentity::new(inbox, secret))
}

/// Replaces the inbox's identity secret (admins only); hashes made with the old one stop
/// verifying at once.
pub async fn rotate_for(state: &AppState, agent: &Agent, id: InboxId) -> ApiResult<InboxIdentity> {
    let inbox = inbox_for_admin(state, agent, id).await?;
    let secret = state.store.rotate_inbox_identity_secret(inbox.id).await?;
    tracing::info!(inbox_id = %inbox.id, user_id = %agent.user.id, "identity secret rotated");
    Ok(InboxIdentity::new(inbox, secret))
}

/// A secret in a response is not kept by caches.
const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

/// The inbox's identity secret, for signing the business's users' ids (admins; never cached).
#[utoipa::path(get, path = "/api/v1/inboxes/{id}/identity", operation_id = "getInboxIdentity", tag = "inboxes",
    params(("id" = i64, Path, description = "The inbox.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The secret.", body = InboxIdentity), Errors))]
async fn show_identity(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<impl IntoResponse> {
    Ok((NO_STORE, ApiJson(identity_for(&state, &agent, InboxId(id)).await?)))
}

/// Replaces the inbox's identity secret; every hash made with the old one stops verifying at
/// once (admins).
#[utoipa::path(post, path = "/api/v1/inboxes/{id}/identity/rotate", operation_id = "rotateInboxIdentity", tag = "inboxes",
    params(("id" = i64, Path, description = "The inbox.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The new secret.", body = InboxIdentity), Errors))]
async fn rotate_identity(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<impl IntoResponse> {
    Ok((NO_STORE, ApiJson(rotate_for(&state, &agent, InboxId(id)).await?)))
}
