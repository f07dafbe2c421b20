//! `POST /settings`: saves one's name, language and, when one is typed, a new password (which
//! ends every session, and revokes one's API tokens when the box says so).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::page::settings_page;
use crate::AppState;
use crate::api::agents::{UpdateUser, update_user_checked};
use crate::console::{CsrfForm, PageError, PageResult, text_for};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct SettingsForm {
    display_name: String,
    locale: String,
    password: Option<String>,
    /// The box "also revoke my API tokens", sent only when ticked.
    revoke_tokens: Option<String>,
}

pub(super) async fn save_settings(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<SettingsForm>,
) -> PageResult {
    let password = form.password.filter(|password| !password.is_empty());
    let changes_password = password.is_some();
    // Tokens are revoked only with a new password, when the box is ticked.
    let revoke_api_tokens = changes_password && form.revoke_tokens.is_some();
    let request = UpdateUser {
        display_name: Some(form.display_name),
        locale: Some(form.locale),
        password,
        revoke_api_tokens: Some(revoke_api_tokens),
        ..UpdateUser::default()
    };
    match update_user_checked(&state, &agent, agent.user.id, request).await {
        // A new password ends every session, this one included: sign in again.
        Ok(_) if changes_password => Ok(Redirect::to("/login").into_response()),
        Ok(_) => Ok(Redirect::to("/settings?notice=saved").into_response()),
        Err(error @ (ApiError::Internal(_) | ApiError::Refused(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => {
            let message = text_for(&agent).api_error(&error);
            settings_page(&state, &agent, None, None, Some(message)).await
        }
    }
}
