//! The business actions API: list, import (TOML or JSON, all or nothing), save one, delete.
//! Admins and supervisors change them; every agent may read them.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use tandem_bot::actions;
use tandem_domain::Action;

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/actions", get(list))
        .route("/api/v1/actions/import", post(import))
        .route("/api/v1/actions/{key}", put(save).delete(delete))
}

async fn list(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<serde_json::Value>> {
    let actions = state.store.actions(agent.user.workspace_id).await?;
    Ok(ApiJson(serde_json::json!({ "actions": actions })))
}

/// A TOML file with `[[action]]` tables, or JSON (an array or `{"actions": [...]}`); every
/// action is checked first and nothing is saved unless all are valid.
async fn import(
    State(state): State<AppState>,
    agent: Agent,
    body: String,
) -> ApiResult<ApiJson<serde_json::Value>> {
    agent.require_manager()?;
    let parsed = actions::parse(&body).map_err(ApiError::ActionsInvalid)?;
    let saved = state.store.save_actions(agent.user.workspace_id, parsed).await?;
    let keys: Vec<&str> = saved.iter().map(|action| action.key.as_str()).collect();
    Ok(ApiJson(serde_json::json!({ "imported": saved.len(), "actions": keys })))
}

async fn save(
    State(state): State<AppState>,
    agent: Agent,
    Path(key): Path<String>,
    ApiJson(action): ApiJson<Action>,
) -> ApiResult<ApiJson<Action>> {
    agent.require_manager()?;
    if action.key != key {
        return Err(ApiError::Invalid(tandem_domain::ValidationError {
            field: "key",
            reason: format!("the body's key {:?} is not the URL's {key:?}", action.key),
        }));
    }
    let action =
        actions::validate(action).map_err(|error| ApiError::ActionsInvalid(vec![error]))?;
    let mut saved = state.store.save_actions(agent.user.workspace_id, vec![action]).await?;
    Ok(ApiJson(saved.remove(0)))
}

async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    agent.require_manager()?;
    state.store.delete_action(agent.user.workspace_id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
