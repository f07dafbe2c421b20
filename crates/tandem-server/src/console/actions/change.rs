//! `POST /settings/actions/{key}` (admins and supervisors): enables, disables or deletes an
//! action (the page asks to confirm a delete before posting it).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tandem_domain::{Problem, ValidationError};

use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, require_manager};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct ChangeForm {
    /// enable, disable or delete.
    action: String,
}

pub(super) async fn change_action(
    State(state): State<AppState>,
    Path(key): Path<String>,
    CsrfForm { agent, form }: CsrfForm<ChangeForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    require_manager(&agent)?;
    let workspace = agent.user.workspace_id;
    let store_failed = |error: tandem_store::StoreError| failed(error.into());
    let enabled = match form.action.as_str() {
        "enable" => true,
        "disable" => false,
        "delete" => {
            state.store.delete_action(workspace, &key).await.map_err(store_failed)?;
            return Ok(Redirect::to("/settings/actions?notice=deleted").into_response());
        }
        other => {
            let problem = Problem::not_one_of(other, &["enable", "disable", "delete"]);
            return Err(failed(ApiError::Invalid(ValidationError::new("action", problem))));
        }
    };
    let mut action = state
        .store
        .actions(workspace)
        .await
        .map_err(store_failed)?
        .into_iter()
        .find(|action| action.key == key)
        .ok_or_else(|| failed(ApiError::NotFound(tandem_store::Entity::Action)))?;
    action.enabled = enabled;
    state.store.save_actions(workspace, vec![action]).await.map_err(store_failed)?;
    let notice = if enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!("/settings/actions?notice={notice}#action-{key}")).into_response())
}
