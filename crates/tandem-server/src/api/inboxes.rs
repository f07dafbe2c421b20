//! Inbox settings for admins: the identity secret a business signs its logged-in users' ids
//! with (identity verification), read and rotated. The secret is stored as it is, because
//! checking a hash needs it, and only admins of the inbox's workspace ever see it.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use tandem_domain::{Inbox, InboxId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_identity)).routes(routes!(rotate_identity))
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
