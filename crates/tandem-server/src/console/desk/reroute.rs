//! `POST /desk/reroute` (admins and supervisors): gives a waiting or assigned conversation to
//! another active agent of the workspace.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tandem_domain::Transition;

use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult};

#[derive(Debug, Deserialize)]
pub(super) struct RerouteForm {
    conversation: i64,
    agent: i64,
}

pub(super) async fn reroute_conversation(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<RerouteForm>,
) -> PageResult {
    let fail = PageError::for_agent(&agent);
    agent.require_manager().map_err(fail)?;
    let conversation = crate::api::agents::conversation_for(&state, &agent, form.conversation)
        .await
        .map_err(fail)?;
    let target = state
        .store
        .user(tandem_domain::UserId(form.agent))
        .await
        .map_err(|error| fail(error.into()))?
        .filter(|user| user.workspace_id == agent.user.workspace_id && user.active)
        .ok_or_else(|| fail(crate::error::ApiError::NotFound(tandem_store::Entity::Agent)))?;
    state
        .relay
        .agent_transition(
            &conversation,
            Transition::Assign { agent: target.id },
            &target.display_name,
        )
        .await
        .map_err(|error| fail(error.into()))?;
    Ok(Redirect::to("/desk").into_response())
}
