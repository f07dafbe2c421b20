//! `POST /settings/webhooks` (admins): registers an endpoint and shows its signing secret, on
//! this response only; a refused form comes back as it was typed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::page::{Flash, webhooks_page};
use crate::AppState;
use crate::api::webhooks::{CreateWebhook, create_checked};
use crate::console::{CsrfForm, PageError, PageResult, render};
use crate::error::ApiError;

/// The create form as typed, so that a refused form comes back unchanged.
#[derive(Debug, Default)]
pub(super) struct CreateForm {
    pub(super) url: String,
    pub(super) description: String,
    pub(super) events: Vec<String>,
}

impl CreateForm {
    /// From the posted fields; check boxes repeat their name once per checked box.
    pub(super) fn from_fields(fields: Vec<(String, String)>) -> CreateForm {
        let mut form = CreateForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "url" => form.url = value,
                "description" => form.description = value,
                "events" => form.events.push(value),
                _ => {}
            }
        }
        form
    }
}

pub(super) async fn create_webhook(
    State(state): State<AppState>,
    CsrfForm { agent, form: fields }: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let form = CreateForm::from_fields(fields);
    let request = CreateWebhook {
        url: form.url.clone(),
        events: form.events.clone(),
        description: form.description.clone(),
        active: Some(true),
        inbox_id: None,
    };
    match create_checked(&state, &agent, request).await {
        // The secret is shown on this response only; reloading the page does not show it again.
        Ok(created) => {
            let flash = Flash { new_secret: Some(created), notice: None, error: None };
            let page = webhooks_page(&state, &agent, CreateForm::default(), flash).await?;
            Ok((StatusCode::CREATED, render(&page)).into_response())
        }
        Err(error @ (ApiError::Refused(_) | ApiError::Internal(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => {
            let flash = Flash { new_secret: None, notice: None, error: Some(error) };
            let page = webhooks_page(&state, &agent, form, flash).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}
