//! `POST /conversations/{id}/messages`: a reply or an internal note from the reply box.

use axum::extract::{Path, State};
use serde::Deserialize;

use super::back;
use crate::AppState;
use crate::api::agents::conversation_for;
use crate::console::{CsrfForm, PageError, PageResult, text_for};

#[derive(Debug, Deserialize)]
pub(super) struct MessageForm {
    body: String,
    #[serde(default)]
    kind: String,
    client_msg_id: Option<String>,
}

/// The reply box without JavaScript; with it, the script posts to the JSON API instead.
pub(super) async fn submit_conversation_message(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<MessageForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    let conversation = conversation_for(&state, &agent, id).await.map_err(failed)?;
    let note = form.kind == "note";
    let outcome = state
        .relay
        .agent_message(&conversation, &agent.user, &form.body, form.client_msg_id.as_deref(), note)
        .await
        .err()
        .map(|error| text_for(&agent).api_error(&error.into()));
    Ok(back(id, outcome))
}
