//! `POST /admin/agents/{id}`: changes an agent's role, password or whether they may sign in.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tandem_domain::UserId;

use super::page::agents_page;
use crate::AppState;
use crate::api::agents::{UpdateUser, update_user_checked};
use crate::console::{CsrfForm, PageError, PageResult, text_for};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct UpdateAgentForm {
    role: Option<String>,
    active: Option<String>,
    password: Option<String>,
}

pub(super) async fn update_agent(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<UpdateAgentForm>,
) -> PageResult {
    let request = UpdateUser {
        role: form.role,
        active: form.active.map(|active| active == "true"),
        password: form.password.filter(|password| !password.is_empty()),
        ..UpdateUser::default()
    };
    match update_user_checked(&state, &agent, UserId(id), request).await {
        Ok(_) => Ok(Redirect::to("/admin/agents").into_response()),
        Err(error @ (ApiError::Refused(_) | ApiError::Internal(_) | ApiError::NotFound(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => {
            let message = text_for(&agent).api_error(&error);
            agents_page(&state, &agent, None, Some(message)).await
        }
    }
}
