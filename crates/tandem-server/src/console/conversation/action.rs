//! `POST /conversations/{id}/actions`: an ownership action from the conversation page (assign,
//! release, hand back, resolve, reopen), applied as the JSON API applies it; a refused action
//! comes back as a message on the page.

use axum::extract::{Path, State};
use serde::Deserialize;

use super::back;
use crate::AppState;
use crate::api::agents::{TransitionRequest, apply_transition, conversation_for};
use crate::console::{CsrfForm, PageError, PageResult, text_for};

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    action: String,
    /// For `assign` by a supervisor: who gets the conversation.
    agent_id: Option<i64>,
}

pub(super) async fn submit_conversation_action(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<ActionForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    let conversation = conversation_for(&state, &agent, id).await.map_err(failed)?;
    let request = TransitionRequest { action: form.action, agent_id: form.agent_id };
    let outcome = apply_transition(&state, &agent, &conversation, &request)
        .await
        .err()
        .map(|error| text_for(&agent).api_error(&error));
    Ok(back(id, outcome))
}
