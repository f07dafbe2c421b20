//! The webhooks API: admins register the URLs that receive conversation events, see recent
//! deliveries and send a test event. The signing secret is returned once, when an endpoint is
//! created or its secret is rolled.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tandem_domain::{
    WebhookDelivery, WebhookEndpoint, WebhookEndpointId, webhook_description, webhook_events,
    webhook_url,
};
use tandem_store::{NewWebhookEndpoint, WebhookEndpointUpdate};

use crate::AppState;
use crate::auth::{Agent, random_token};
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route("/api/v1/webhooks/{id}", get(show).patch(update).delete(delete))
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
        .route("/api/v1/webhooks/{id}/test", post(send_test))
}

/// Webhook endpoints carry URLs that may hold credentials: only admins see or change them.
fn require_admin(agent: &Agent) -> ApiResult<()> {
    agent.require_admin()
}

/// A new signing secret.
fn new_secret() -> String {
    format!("whsec_{}", random_token())
}

/// An endpoint of the admin's own workspace; others do not exist for them.
pub async fn endpoint_for(state: &AppState, agent: &Agent, id: i64) -> ApiResult<WebhookEndpoint> {
    require_admin(agent)?;
    state
        .store
        .webhook_endpoint(WebhookEndpointId(id))
        .await?
        .filter(|endpoint| endpoint.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::WebhookEndpoint))
}

/// The workspace's endpoints (admins only).
pub async fn endpoints_for(state: &AppState, agent: &Agent) -> ApiResult<Vec<WebhookEndpoint>> {
    require_admin(agent)?;
    Ok(state.store.webhook_endpoints(agent.user.workspace_id).await?)
}

async fn list(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<serde_json::Value>> {
    let endpoints = endpoints_for(&state, &agent).await?;
    Ok(ApiJson(serde_json::json!({ "webhooks": endpoints })))
}

async fn show(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
) -> ApiResult<ApiJson<WebhookEndpoint>> {
    Ok(ApiJson(endpoint_for(&state, &agent, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub active: Option<bool>,
}

/// An endpoint with its signing secret, shown once.
#[derive(Debug, Serialize)]
pub struct WithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// Validates and registers an endpoint; shared with the console page.
pub async fn create_checked(
    state: &AppState,
    agent: &Agent,
    request: CreateWebhook,
) -> ApiResult<WithSecret> {
    require_admin(agent)?;
    let url = webhook_url(&request.url)?;
    let events = webhook_events(&request.events)?;
    let description = webhook_description(&request.description)?;
    let workspace = agent.user.workspace_id;
    let secret = new_secret();
    let endpoint = NewWebhookEndpoint {
        workspace_id: workspace,
        url,
        description,
        events,
        active: request.active.unwrap_or(true),
        secret: secret.clone(),
    };
    let endpoint = state.store.create_webhook_endpoint(endpoint).await?;
    tracing::info!(endpoint = %endpoint.id, user = %agent.user.id, url = %endpoint.url, "webhook endpoint created");
    Ok(WithSecret { endpoint, secret })
}

async fn create(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<CreateWebhook>,
) -> ApiResult<impl IntoResponse> {
    let created = create_checked(&state, &agent, request).await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub active: Option<bool>,
    /// Replace the signing secret; the new one is in the response, once.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// The endpoint after a change, with its new secret when it was rolled.
#[derive(Debug, Serialize)]
pub struct Updated {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Validates and applies a change to an endpoint; shared with the console page.
pub async fn update_checked(
    state: &AppState,
    agent: &Agent,
    id: i64,
    request: UpdateWebhook,
) -> ApiResult<Updated> {
    let endpoint = endpoint_for(state, agent, id).await?;
    let secret = request.rotate_secret.then(new_secret);
    let update = WebhookEndpointUpdate {
        url: request.url.as_deref().map(webhook_url).transpose()?,
        description: request.description.as_deref().map(webhook_description).transpose()?,
        events: request.events.as_deref().map(webhook_events).transpose()?,
        active: request.active,
        secret: secret.clone(),
    };
    let endpoint = state.store.update_webhook_endpoint(endpoint.id, update).await?;
    Ok(Updated { endpoint, secret })
}

async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    ApiJson(request): ApiJson<UpdateWebhook>,
) -> ApiResult<ApiJson<Updated>> {
    Ok(ApiJson(update_checked(&state, &agent, id, request).await?))
}

/// Deletes an endpoint with its deliveries; shared with the console page.
pub async fn delete_checked(state: &AppState, agent: &Agent, id: i64) -> ApiResult<()> {
    let endpoint = endpoint_for(state, agent, id).await?;
    state.store.delete_webhook_endpoint(endpoint.id).await?;
    tracing::info!(endpoint = %endpoint.id, user = %agent.user.id, "webhook endpoint deleted");
    Ok(())
}

async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    delete_checked(&state, &agent, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    limit: Option<u32>,
}

async fn deliveries(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<ApiJson<serde_json::Value>> {
    let endpoint = endpoint_for(&state, &agent, id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let deliveries: Vec<WebhookDelivery> =
        state.store.webhook_deliveries(endpoint.id, limit).await?;
    Ok(ApiJson(serde_json::json!({ "deliveries": deliveries })))
}

/// Queues a `webhook.test` event for one endpoint; shared with the console page.
pub async fn send_test_checked(
    state: &AppState,
    agent: &Agent,
    id: i64,
) -> ApiResult<WebhookDelivery> {
    let endpoint = endpoint_for(state, agent, id).await?;
    if !endpoint.active {
        return Err(ApiError::WebhookEndpointDisabled);
    }
    Ok(state.store.enqueue_webhook_test(endpoint.id).await?)
}

async fn send_test(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
) -> ApiResult<impl IntoResponse> {
    let delivery = send_test_checked(&state, &agent, id).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(serde_json::json!({ "delivery": delivery }))))
}
