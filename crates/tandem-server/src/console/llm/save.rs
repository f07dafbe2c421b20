//! `POST /settings/model` (admins): saves the model settings, checked as the API checks them;
//! nothing is saved when a field is refused, and the form comes back as typed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use tandem_bot::model::LlmSettingsError;

use super::model_form::ModelForm;
use super::page::{Flash, model_page};
use super::require_admin;
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, render};
use crate::error::ApiError;

pub(super) async fn save_model(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<ModelForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    require_admin(&agent)?;
    let error = match form.to_settings() {
        Err(error) => error,
        Ok(settings) => {
            let workspace = agent.user.workspace_id;
            match state.knowledge.save_llm_settings(workspace, &settings).await {
                Ok(_) => return Ok(Redirect::to("/settings/model?notice=saved").into_response()),
                Err(LlmSettingsError::Invalid(error)) => error,
                Err(error) => return Err(failed(ApiError::from(error))),
            }
        }
    };
    // Nothing was saved: the form comes back as typed, the message next to its field.
    let flash = Flash { notice: None, error: Some(error) };
    let page = model_page(&state, &agent, form, flash).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}
