//! `POST /knowledge/settings`: saves the answer settings (admins and supervisors), checked as
//! the JSON API checks them; a refused form comes back as it was typed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use tandem_domain::{Problem, ValidationError};

use super::settings_page::{SettingsForm, settings_page};
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, render, require_manager, text_for};

pub(super) async fn save_answer_settings(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<SettingsForm>,
) -> PageResult {
    require_manager(&agent)?;
    let threshold = form.threshold.trim();
    let threshold = if threshold.is_empty() {
        Ok(None)
    } else {
        threshold.parse::<f32>().map(Some).map_err(|_| {
            ValidationError::new("threshold", Problem::NotANumber { value: threshold.to_owned() })
        })
    };
    let words: Vec<String> = form.dictionary.lines().map(str::to_owned).collect();
    let settings =
        threshold.and_then(|threshold| crate::api::knowledge::validate_settings(threshold, &words));
    let settings = match settings {
        Ok(settings) => settings,
        Err(error) => {
            let text = text_for(&agent);
            let message = format!("{} {}", text.kb_not_saved, text.invalid(&error));
            let page = settings_page(&state, &agent, form, None, Some(message)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    state
        .knowledge
        .save_settings(agent.user.workspace_id, settings)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    Ok(Redirect::to("/knowledge/settings?notice=saved").into_response())
}
