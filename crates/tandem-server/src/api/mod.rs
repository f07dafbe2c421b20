//! The JSON API under `/api/v1`: the widget's public endpoints and the agents' endpoints.

pub(crate) mod actions;
pub(crate) mod agents;
pub(crate) mod inboxes;
pub(crate) mod knowledge;
pub(crate) mod llm;
pub(crate) mod triage;
pub(crate) mod webhooks;
pub(crate) mod widget;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(widget::routes())
        .merge(agents::routes())
        .merge(actions::routes())
        .merge(inboxes::routes())
        .merge(knowledge::routes())
        .merge(llm::routes())
        .merge(triage::routes())
        .merge(webhooks::routes())
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> crate::error::ApiResult<&'static str> {
    // Ready means the store answers, not only that the process runs.
    state.store.schema_version().await?;
    Ok("ok")
}
