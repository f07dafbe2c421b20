//! `POST /conversations/{id}/messages`: a reply or an internal note from the reply box.

use axum::extract::{Path, State};
use serde::Deserialize;

use super::back;
use crate::AppState;
use crate::api::agents::conversation_for;
use crate::api::assist::record_use;
use crate::console::{CsrfForm, PageError, PageResult, text_for};

#[derive(Debug, Deserialize)]
pub(super) struct MessageForm {
    body: String,
    #[serde(default)]
    kind: String,
    client_msg_id: Option<String>,
    /// The suggested article inserted into the reply, if one was (set by the console script).
    #[serde(default)]
    suggestion: String,
    #[serde(default)]
    suggestion_edited: bool,
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
    let suggestion = Some(form.suggestion.trim())
        .filter(|key| !key.is_empty())
        .map(tandem_domain::validate::article_key)
        .transpose();
    let suggestion = match suggestion {
        Ok(suggestion) => suggestion,
        Err(error) => return Ok(back(id, Some(text_for(&agent).api_error(&error.into())))),
    };
    let sent = state
        .relay
        .agent_message(&conversation, &agent.user, &form.body, form.client_msg_id.as_deref(), note)
        .await;
    let outcome = match sent {
        Ok(appended) => {
            if appended.created && !note {
                record_use(&state, &appended.message, suggestion, form.suggestion_edited).await;
            }
            None
        }
        Err(error) => Some(text_for(&agent).api_error(&error.into())),
    };
    Ok(back(id, outcome))
}
