//! The workspace's large-model settings: off by default; admins turn the provider on, and the
//! bot then words answers with it, keeping only what the knowledge articles support.

use axum::extract::State;
use tandem_bot::model::{self as llm, LlmSettingsError};
use tandem_llm::LlmSettings;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, save))
}

impl From<LlmSettingsError> for ApiError {
    fn from(error: LlmSettingsError) -> Self {
        match error {
            LlmSettingsError::Store(error) => error.into(),
            LlmSettingsError::Invalid(error) => ApiError::Invalid(error),
            LlmSettingsError::Unreadable(reason) => ApiError::internal(reason),
        }
    }
}

/// The workspace's model settings (admins); the defaults (off) when never saved.
#[utoipa::path(get, path = "/api/v1/llm/settings", operation_id = "getLlmSettings", tag = "model", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The settings.", body = LlmSettings), Errors))]
async fn show(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<LlmSettings>> {
    agent.require_admin()?;
    Ok(ApiJson(llm::llm_settings(state.store.as_ref(), agent.user.workspace_id).await?))
}

/// Replaces the workspace's model settings (admins): checked field by field (`invalid_input`
/// names the field), applied from the next turn.
#[utoipa::path(put, path = "/api/v1/llm/settings", operation_id = "saveLlmSettings", tag = "model", request_body = LlmSettings, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = LlmSettings), Errors))]
async fn save(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(settings): ApiJson<LlmSettings>,
) -> ApiResult<ApiJson<LlmSettings>> {
    agent.require_admin()?;
    state.knowledge.save_llm_settings(agent.user.workspace_id, &settings).await?;
    Ok(ApiJson(settings))
}
