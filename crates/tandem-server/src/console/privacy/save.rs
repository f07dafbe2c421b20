//! `POST /settings/privacy` (admins): saves the retention period, checked as the API checks it.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::page::privacy_page;
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, text_for};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct RetentionForm {
    resolved_conversation_days: String,
}

pub(super) async fn save_retention(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<RetentionForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_admin().map_err(failed)?;
    let typed = form.resolved_conversation_days.trim();
    let result = match typed.parse::<u32>() {
        Ok(days) => crate::api::privacy::save(&state, &agent, days).await.map(|()| days),
        Err(_) => Err(ApiError::Invalid(tandem_domain::ValidationError::new(
            "resolved_conversation_days",
            tandem_domain::Problem::NotAWholeNumber { value: typed.to_owned() },
        ))),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/settings/privacy?notice=saved").into_response()),
        Err(error @ ApiError::Invalid(_)) => {
            let message = text_for(&agent).api_error(&error);
            privacy_page(&state, &agent, None, None, Some(message)).await
        }
        Err(error) => Err(failed(error)),
    }
}
