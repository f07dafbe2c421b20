//! `POST /settings/inboxes` (admins): creates an inbox with a name and a channel; its channel
//! settings (other than web chat and the API's) are then filled in on the settings page.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::page::settings_page;
use crate::AppState;
use crate::api::inboxes::{CreateInbox, create_checked};
use crate::console::{CsrfForm, PageError, PageResult, text_for};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct InboxForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    channel: String,
}

pub(super) async fn create_inbox(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<InboxForm>,
) -> PageResult {
    let request = CreateInbox { name: form.name, channel: form.channel, bot_name: None };
    match create_checked(&state, &agent, request).await {
        Ok(inbox) => {
            Ok(Redirect::to(&format!("/settings?notice=inbox_created#inbox-{}", inbox.id.0))
                .into_response())
        }
        Err(error @ (ApiError::Internal(_) | ApiError::Refused(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => {
            let message = text_for(&agent).api_error(&error);
            settings_page(&state, &agent, None, None, Some(message)).await
        }
    }
}
