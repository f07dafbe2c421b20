//! `POST /admin/agents`: adds an agent; a refused form shows the agents page with the problem.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::page::agents_page;
use crate::AppState;
use crate::api::agents::{CreateUser, create_user_checked};
use crate::console::{CsrfForm, PageError, PageResult, text_for};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct CreateAgentForm {
    email: String,
    display_name: String,
    role: String,
    locale: String,
    password: String,
}

pub(super) async fn create_agent(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<CreateAgentForm>,
) -> PageResult {
    let request = CreateUser {
        email: form.email,
        display_name: form.display_name,
        role: form.role,
        locale: Some(form.locale),
        password: form.password,
    };
    match create_user_checked(&state, &agent, request).await {
        Ok(_) => Ok(Redirect::to("/admin/agents").into_response()),
        Err(error @ (ApiError::Refused(_) | ApiError::Internal(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => {
            let message = text_for(&agent).api_error(&error);
            agents_page(&state, &agent, None, Some(message)).await
        }
    }
}
