//! `POST /settings/webhooks/{id}` (admins): enables, disables or deletes an endpoint, or queues
//! a test event to it.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::create::CreateForm;
use super::page::{Flash, webhooks_page};
use crate::AppState;
use crate::api::webhooks::{
    UpdateWebhook, delete_checked, endpoint_for, send_test_checked, update_checked,
};
use crate::console::{CsrfForm, PageError, PageResult, render};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct ChangeForm {
    /// enable, disable, test or delete.
    action: String,
}

pub(super) async fn change_webhook(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<ChangeForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    let active = |active| UpdateWebhook { active: Some(active), ..UpdateWebhook::default() };
    let outcome = match form.action.as_str() {
        "enable" => update_checked(&state, &agent, id, active(true)).await.map(|_| "saved"),
        "disable" => update_checked(&state, &agent, id, active(false)).await.map(|_| "saved"),
        "test" => send_test_checked(&state, &agent, id).await.map(|_| "test"),
        "delete" => delete_checked(&state, &agent, id).await.map(|()| "deleted"),
        other => {
            let actions = ["enable", "disable", "test", "delete"];
            let problem = tandem_domain::Problem::not_one_of(other, &actions);
            Err(ApiError::Invalid(tandem_domain::ValidationError::new("action", problem)))
        }
    };
    match outcome {
        Ok(notice) => {
            let anchor = if notice == "deleted" { String::new() } else { format!("#webhook-{id}") };
            Ok(Redirect::to(&format!("/settings/webhooks?notice={notice}{anchor}")).into_response())
        }
        Err(error @ (ApiError::Invalid(_) | ApiError::Conflict(_))) => {
            // Keep the page: name the problem above the list.
            endpoint_for(&state, &agent, id).await.map_err(failed)?;
            let status = error.code().status();
            let flash = Flash { new_secret: None, notice: None, error: Some(error) };
            let page = webhooks_page(&state, &agent, CreateForm::default(), flash).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(error) => Err(failed(error)),
    }
}
