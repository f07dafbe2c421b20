//! `POST /settings/escalation`: saves the escalation policy (admins and supervisors). The form
//! is read as a list of fields, as its check boxes repeat their names.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::page::escalation_page;
use super::policy_form::PolicyForm;
use crate::AppState;
use crate::console::{CsrfForm, PageResult, render, require_manager, store_failed};

pub(super) async fn save_escalation_policy(
    State(state): State<AppState>,
    CsrfForm { agent, form: fields }: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    let form = PolicyForm::from_fields(fields);
    require_manager(&agent)?;
    let policy = match form.policy() {
        Ok(policy) => policy,
        Err(error) => {
            let page = escalation_page(&agent, form, 0, None, Some(error));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    state
        .store
        .save_escalation_policy(agent.user.workspace_id, policy)
        .await
        .map_err(store_failed(&agent))?;
    Ok(Redirect::to("/settings/escalation?notice=saved").into_response())
}
