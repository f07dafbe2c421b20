//! The webhooks API: admins register the URLs that receive conversation events, see recent
//! deliveries and send a test event. The signing secret is returned once, when an endpoint is
//! created or its secret is rolled.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_domain::{
    InboxId, Problem, ValidationError, WebhookDelivery, WebhookEndpoint, WebhookEndpointId,
    webhook_description, webhook_events, webhook_url,
};
use tandem_store::{NewWebhookEndpoint, WebhookEndpointUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::{Agent, random_token};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

/// What Tandem posts to endpoints, which no operation of this API answers with.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(crate::webhooks::Envelope)))]
struct Posted;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<Posted as utoipa::OpenApi>::openapi())
        .routes(routes!(list, create))
        .routes(routes!(show, update, delete))
        .routes(routes!(deliveries))
        .routes(routes!(send_test))
}

/// A new signing secret.
fn new_secret() -> String {
    format!("whsec_{}", random_token())
}

/// An endpoint of the admin's own workspace; others do not exist for them. Webhook endpoints
/// carry URLs that may hold credentials: only admins see or change them.
pub async fn endpoint_for(state: &AppState, agent: &Agent, id: i64) -> ApiResult<WebhookEndpoint> {
    agent.require_admin()?;
    state
        .store
        .webhook_endpoint(WebhookEndpointId(id))
        .await?
        .filter(|endpoint| endpoint.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::WebhookEndpoint))
}

/// The workspace's endpoints (admins only).
pub async fn endpoints_for(state: &AppState, agent: &Agent) -> ApiResult<Vec<WebhookEndpoint>> {
    agent.require_admin()?;
    Ok(state.store.webhook_endpoints(agent.user.workspace_id).await?)
}

/// The workspace's webhook endpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Endpoints {
    webhooks: Vec<WebhookEndpoint>,
}

/// The workspace's webhook endpoints, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/webhooks", operation_id = "listWebhooks", tag = "webhooks", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The endpoints.", body = Endpoints), Errors))]
async fn list(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Endpoints>> {
    let webhooks = endpoints_for(&state, &agent).await?;
    Ok(ApiJson(Endpoints { webhooks }))
}

/// One webhook endpoint (admins).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", operation_id = "getWebhook", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The endpoint.", body = WebhookEndpoint), Errors))]
async fn show(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<WebhookEndpoint>> {
    Ok(ApiJson(endpoint_for(&state, &agent, id).await?))
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub active: Option<bool>,
    /// Only the events of this inbox's conversations (an API channel's endpoint: the replies
    /// to its customers), and no workspace-wide ones such as `insight.alert`; absent: every
    /// event of the workspace. An inbox of the workspace (`GET /api/v1/inboxes`).
    pub inbox_id: Option<i64>,
}

/// The inbox an endpoint is bound to: one of the caller's workspace, or `inbox_id` is not
/// valid (the workspace's inbox ids are the values it may take).
async fn bound_inbox(
    state: &AppState,
    agent: &Agent,
    inbox_id: Option<i64>,
) -> ApiResult<Option<InboxId>> {
    let Some(id) = inbox_id else { return Ok(None) };
    let inboxes = state.store.inboxes(agent.user.workspace_id).await?;
    if inboxes.iter().any(|inbox| inbox.id.0 == id) {
        return Ok(Some(InboxId(id)));
    }
    let mut ids: Vec<i64> = inboxes.iter().map(|inbox| inbox.id.0).collect();
    ids.sort_unstable();
    let allowed: Vec<String> = ids.iter().map(i64::to_string).collect();
    Err(ApiError::Invalid(ValidationError::new(
        "inbox_id",
        Problem::not_one_of(id.to_string(), &allowed),
    )))
}

/// An endpoint with its signing secret, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
    agent.require_admin()?;
    let url = webhook_url(&request.url)?;
    let events = webhook_events(&request.events)?;
    let description = webhook_description(&request.description)?;
    let inbox_id = bound_inbox(state, agent, request.inbox_id).await?;
    let workspace = agent.user.workspace_id;
    let secret = new_secret();
    let endpoint = NewWebhookEndpoint {
        workspace_id: workspace,
        url,
        description,
        events,
        active: request.active.unwrap_or(true),
        secret: secret.clone(),
        inbox_id,
    };
    let endpoint = state.store.create_webhook_endpoint(endpoint).await?;
    tracing::info!(endpoint = %endpoint.id, user = %agent.user.id, host = %crate::webhooks::url_host(&endpoint.url), "webhook endpoint created");
    Ok(WithSecret { endpoint, secret })
}

/// Registers an endpoint (admins; at most 20 per workspace), for the whole workspace or bound
/// to one inbox (`inbox_id`). The response carries the signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", operation_id = "createWebhook", tag = "webhooks", request_body = CreateWebhook, security(("session" = []), ("apiToken" = [])),
    responses((status = 201, description = "Registered, with its secret.", body = WithSecret), Errors))]
async fn create(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<CreateWebhook>,
) -> ApiResult<impl IntoResponse> {
    let created = create_checked(&state, &agent, request).await?;
    Ok((StatusCode::CREATED, ApiJson(created)))
}

/// A change to an endpoint; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = UpdatedWebhook)]
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

/// Changes an endpoint (admins); disabling it gives up on its pending deliveries, and
/// `rotate_secret` returns a new secret, once.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", operation_id = "updateWebhook", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint.")), request_body = UpdateWebhook, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Changed.", body = Updated), Errors))]
async fn update(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
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

/// Deletes an endpoint with its deliveries (admins).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", operation_id = "deleteWebhook", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 204, description = "Deleted."), Errors))]
async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    delete_checked(&state, &agent, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// 1 to 200 (50 by default).
    limit: Option<u32>,
}

/// An endpoint's deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Deliveries {
    deliveries: Vec<WebhookDelivery>,
}

/// An endpoint's newest deliveries with their attempts, status and error (admins).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint."), DeliveriesQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The deliveries.", body = Deliveries), Errors))]
async fn deliveries(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<ApiJson<Deliveries>> {
    let endpoint = endpoint_for(&state, &agent, id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let deliveries: Vec<WebhookDelivery> =
        state.store.webhook_deliveries(endpoint.id, limit).await?;
    Ok(ApiJson(Deliveries { deliveries }))
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

/// A queued test delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TestQueued {
    delivery: WebhookDelivery,
}

/// Queues a `webhook.test` event for this endpoint only (admins; the endpoint must be enabled).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", operation_id = "sendWebhookTest", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 202, description = "Queued.", body = TestQueued), Errors))]
async fn send_test(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<impl IntoResponse> {
    let delivery = send_test_checked(&state, &agent, id).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(TestQueued { delivery })))
}
