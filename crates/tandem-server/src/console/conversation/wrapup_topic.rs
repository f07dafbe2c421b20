//! `POST /conversations/{id}/wrapup/topic`: the wrap-up card's topic, corrected by an agent
//! (an empty field clears it), checked and stored as the JSON API does; a refusal comes back
//! as a message on the page.

use axum::extract::{Path, State};
use serde::Deserialize;

use super::back;
use crate::AppState;
use crate::api::agents::set_wrapup_topic;
use crate::console::{CsrfForm, PageResult, text_for};

#[derive(Debug, Deserialize)]
pub(super) struct TopicForm {
    #[serde(default)]
    topic: String,
}

pub(super) async fn submit_wrapup_topic(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<TopicForm>,
) -> PageResult {
    // A form cannot send null: an empty (or blank) field is how people clear the topic.
    let topic = Some(form.topic.as_str()).filter(|topic| !topic.trim().is_empty());
    let outcome = set_wrapup_topic(&state, &agent, id, topic)
        .await
        .err()
        .map(|error| text_for(&agent).api_error(&error));
    Ok(back(id, outcome))
}
