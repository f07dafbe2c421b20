//! The business actions API: list, import (TOML or JSON, all or nothing), save one, delete.
//! Admins and supervisors change them; every agent may read them.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tandem_bot::actions;
use tandem_domain::Action;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ApiText};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(import)).routes(routes!(save, delete))
}

/// The workspace's business actions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Actions {
    actions: Vec<Action>,
}

/// The workspace's business actions, by key.
#[utoipa::path(get, path = "/api/v1/actions", operation_id = "listActions", tag = "actions", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The actions.", body = Actions), Errors))]
async fn list(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Actions>> {
    let actions = state.store.actions(agent.user.workspace_id).await?;
    Ok(ApiJson(Actions { actions }))
}

/// What an import saved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Imported {
    imported: usize,
    /// The keys of the actions saved.
    actions: Vec<String>,
}

/// Imports actions from a TOML file with `[[action]]` tables, or JSON (an array or
/// `{"actions": [...]}`), sent as the body; every action is checked first and nothing is saved
/// unless all are valid (`actions_invalid` lists each problem). Supervisors and admins.
#[utoipa::path(post, path = "/api/v1/actions/import", operation_id = "importActions", tag = "actions",
    request_body(content = String, content_type = "text/plain", description = "A TOML or JSON file of actions."), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Imported.", body = Imported), Errors))]
async fn import(
    State(state): State<AppState>,
    agent: Agent,
    ApiText(body): ApiText,
) -> ApiResult<ApiJson<Imported>> {
    agent.require_manager()?;
    let parsed = actions::parse(&body).map_err(ApiError::ActionsInvalid)?;
    let saved = state.store.save_actions(agent.user.workspace_id, parsed).await?;
    let keys = saved.iter().map(|action| action.key.clone()).collect();
    Ok(ApiJson(Imported { imported: saved.len(), actions: keys }))
}

/// Creates or replaces one action (supervisors and admins).
#[utoipa::path(put, path = "/api/v1/actions/{key}", operation_id = "saveAction", tag = "actions",
    params(("key" = String, Path, description = "The action's key, as in the body.")),
    request_body = Action, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = Action), Errors))]
async fn save(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(key): ApiPath<String>,
    ApiJson(action): ApiJson<Action>,
) -> ApiResult<ApiJson<Action>> {
    agent.require_manager()?;
    if action.key != key {
        let problem = tandem_domain::Problem::Mismatch { value: action.key, expected: key };
        return Err(ApiError::Invalid(tandem_domain::ValidationError::new("key", problem)));
    }
    let action =
        actions::validate(action).map_err(|error| ApiError::ActionsInvalid(vec![error]))?;
    let mut saved = state.store.save_actions(agent.user.workspace_id, vec![action]).await?;
    Ok(ApiJson(saved.remove(0)))
}

/// Deletes an action (supervisors and admins).
#[utoipa::path(delete, path = "/api/v1/actions/{key}", operation_id = "deleteAction", tag = "actions",
    params(("key" = String, Path, description = "The action's key.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 204, description = "Deleted."), Errors))]
async fn delete(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<StatusCode> {
    agent.require_manager()?;
    state.store.delete_action(agent.user.workspace_id, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
