//! `POST /settings/tokens`: creates an API token for oneself (a name, a scope, an expiry),
//! shown on the page this once.

use axum::extract::State;
use serde::Deserialize;
use tandem_domain::{Problem, ValidationError};

use super::page::settings_page;
use crate::AppState;
use crate::api::tokens::{CreateToken, create_token_checked};
use crate::console::{CsrfForm, PageError, PageResult, text_for};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    name: String,
    scope: Option<String>,
    /// Days until it expires; empty for never.
    expires_in_days: Option<String>,
}

pub(super) async fn create_api_token(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<TokenForm>,
) -> PageResult {
    let days = form.expires_in_days.as_deref().map(str::trim).filter(|days| !days.is_empty());
    let expires_in_days = match days.map(|days| (days, days.parse::<u32>())) {
        None => None,
        Some((_, Ok(days))) => Some(days),
        Some((days, Err(_))) => {
            let problem = Problem::NotAWholeNumber { value: days.to_owned() };
            let error = ValidationError::new("expires_in_days", problem);
            let message = text_for(&agent).invalid(&error);
            return settings_page(&state, &agent, None, None, Some(message)).await;
        }
    };
    let request = CreateToken { name: form.name, scope: form.scope, expires_in_days };
    match create_token_checked(&state, &agent, request).await {
        Ok((secret, _)) => settings_page(&state, &agent, Some(secret), None, None).await,
        Err(error @ (ApiError::Internal(_) | ApiError::Refused(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => {
            let message = text_for(&agent).api_error(&error);
            settings_page(&state, &agent, None, None, Some(message)).await
        }
    }
}
