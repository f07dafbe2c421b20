//! The workspace's large-model settings: off by default; admins turn the provider on, and the
//! bot then words answers with it, keeping only what the knowledge articles support.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tandem_bot::model::{self as llm, LlmSettingsError};
use tandem_llm::LlmSettings;

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/llm/settings", get(show).put(save))
}

impl From<LlmSettingsError> for ApiError {
    fn from(error: LlmSettingsError) -> Self {
        match error {
            LlmSettingsError::Store(error) => error.into(),
            LlmSettingsError::Invalid(error) => ApiError::Invalid(tandem_domain::ValidationError {
                field: error.field,
                reason: error.message,
            }),
            LlmSettingsError::Unreadable(reason) => ApiError::internal(reason),
        }
    }
}

async fn show(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<LlmSettings>> {
    agent.require_admin()?;
    Ok(ApiJson(llm::llm_settings(state.store.as_ref(), agent.user.workspace_id).await?))
}

async fn save(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(settings): ApiJson<LlmSettings>,
) -> ApiResult<ApiJson<LlmSettings>> {
    agent.require_admin()?;
    llm::save_llm_settings(state.store.as_ref(), agent.user.workspace_id, &settings).await?;
    Ok(ApiJson(settings))
}
