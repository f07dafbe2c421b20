//! `POST /insight/alerts/{id}/dismiss` (supervisors and admins): the banner stops showing the
//! alert; back to the alerts page.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};

use crate::AppState;
use crate::console::{CsrfForm, NoFields, PageError, PageResult};

pub(super) async fn dismiss_alert(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form: NoFields {} }: CsrfForm<NoFields>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_manager().map_err(failed)?;
    state
        .store
        .dismiss_insight_alert(agent.user.workspace_id, id)
        .await
        .map_err(|error| failed(error.into()))?;
    Ok(Redirect::to(&format!("/insight/alerts#alert-{id}")).into_response())
}
