//! The JSON API under `/api/v1`: the widget's public endpoints and the agents' endpoints.
//!
//! Every route is registered with `utoipa_axum`'s `routes!`, which adds it to the router and
//! its operation (from the handler's `#[utoipa::path]`) to the API document together: there is
//! no other way an API route is added, so the document lists exactly what is served.

pub(crate) mod actions;
pub(crate) mod agents;
pub(crate) mod assist;
pub(crate) mod audit;
pub(crate) mod channel;
pub(crate) mod csat;
pub(crate) mod customers;
pub mod document;
pub(crate) mod history_import;
pub(crate) mod inboxes;
pub(crate) mod insight_alerts;
pub(crate) mod knowledge;
pub(crate) mod llm;
pub(crate) mod privacy;
pub(crate) mod reports;
pub(crate) mod tokens;
pub(crate) mod triage;
pub(crate) mod webhooks;
pub(crate) mod widget;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiResult;

pub use document::Errors;

/// The body of every error, which operations name through [`Errors`].
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(crate::error::ErrorBody)))]
struct Shared;

/// The whole API (the sockets included) with its document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<Shared as utoipa::OpenApi>::openapi())
        .routes(routes!(healthz))
        .routes(routes!(openapi))
        .merge(widget::routes())
        .merge(agents::routes())
        .merge(assist::routes())
        .merge(audit::routes())
        .merge(actions::routes())
        .merge(inboxes::routes())
        .merge(channel::routes())
        .merge(crate::channels::routes())
        .merge(history_import::routes())
        .merge(insight_alerts::routes())
        .merge(csat::routes())
        .merge(customers::routes())
        .merge(knowledge::routes())
        .merge(llm::routes())
        .merge(privacy::routes())
        .merge(reports::routes())
        .merge(tokens::routes())
        .merge(triage::routes())
        .merge(webhooks::routes())
        .merge(crate::ws::routes())
}

/// Whether the server is ready: the store answers, not only the process runs.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "health",
    responses((status = 200, description = "Ready.", body = String, example = "ok"), Errors))]
async fn healthz(State(state): State<AppState>) -> ApiResult<&'static str> {
    state.store.schema_version().await?;
    Ok("ok")
}

/// This document: every route of the API, generated from the handlers and their types.
#[utoipa::path(get, path = "/openapi.json", operation_id = "getOpenApi", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json")))]
async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache")],
        document::DOCUMENT.as_str(),
    )
}
