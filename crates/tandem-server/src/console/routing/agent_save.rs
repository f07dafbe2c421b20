//! `POST /settings/routing/agents/{id}`: saves an agent's skills and capacity (admins and
//! supervisors) through the routing service, so that the router uses them at once.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tandem_domain::UserId;

use super::agent_form::AgentForm;
use super::page::{Refused, routing_page};
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, require_manager, store_failed, text_for};
use crate::error::ApiError;

pub(super) async fn save_agent_routing(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<AgentForm>,
) -> PageResult {
    require_manager(&agent)?;
    let failed = store_failed(&agent);
    let workspace = agent.user.workspace_id;
    let id = UserId(id);
    let routing = state
        .store
        .agent_routing(workspace)
        .await
        .map_err(&failed)?
        .into_iter()
        .find(|routing| routing.user_id == id)
        .ok_or_else(|| {
            PageError::for_agent(&agent)(ApiError::NotFound(tandem_store::Entity::Agent))
        })?;
    match form.apply(routing) {
        Ok(routing) => {
            // Through routing, so that the router uses the new skills and capacity at once.
            state
                .routing
                .save_agent(workspace, routing)
                .await
                .map_err(|error| PageError::for_agent(&agent)(error.into()))?;
            Ok(Redirect::to(&format!("/settings/routing?notice=saved#agent-{}", id.0))
                .into_response())
        }
        Err(error) => {
            let name = state
                .store
                .user(id)
                .await
                .map_err(&failed)?
                .map(|user| user.display_name)
                .unwrap_or_default();
            let text = text_for(&agent);
            let message = text.about(&name, &text.invalid(&error));
            let refused = Refused::Agent { id, form, message };
            routing_page(&state, &agent, None, Some(refused)).await
        }
    }
}
