//! The conversation page: the hand-off card, transcript, customer panel, reply and note box,
//! the assist panel, and the ownership actions (assign to me, back to queue, hand back to bot,
//! resolve, reopen), and the wrap-up's topic.

mod action;
mod assist;
mod decision;
mod handoff_card;
mod message;
mod page;
mod rating_card;
mod wrapup_card;
mod wrapup_topic;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;

/// An action's parameters as agents read them: `order=2024…, phone=138****0000`.
fn params_line(params: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = params.iter().map(|(name, value)| format!("{name}={value}")).collect();
    pairs.join(", ")
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}", get(page::show_conversation_page))
        .route("/conversations/{id}/assist", get(assist::show_assist_panel))
        .route("/conversations/{id}/actions", post(action::submit_conversation_action))
        .route("/conversations/{id}/messages", post(message::submit_conversation_message))
        .route("/conversations/{id}/wrapup/topic", post(wrapup_topic::submit_wrapup_topic))
}

/// A redirect back to the conversation, carrying an error message to show if there is one.
pub(super) fn back(id: i64, error: Option<String>) -> Response {
    let query = error
        .and_then(|error| serde_urlencoded::to_string([("error", error)]).ok())
        .map_or_else(String::new, |query| format!("?{query}"));
    Redirect::to(&format!("/conversations/{id}{query}")).into_response()
}
