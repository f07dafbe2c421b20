//! Settings → Model (admins): every field of the workspace's [`LlmSettings`] as a plain form,
//! saved through `KnowledgeResponder::save_llm_settings` (the same check as the API: a refused
//! form comes back as typed, the message next to its field, and nothing is saved), and the
//! workspace's model usage over the last 30 days, added up from the stored decision records.
//!
//! [`LlmSettings`]: tandem_llm::LlmSettings

mod model_form;
mod page;
mod save;

use axum::Router;
use axum::routing::get;

use super::PageError;
use crate::AppState;
use crate::auth::Agent;

pub fn routes() -> Router<AppState> {
    Router::new().route("/settings/model", get(page::show_model_page).post(save::save_model))
}

fn require_admin(agent: &Agent) -> Result<(), PageError> {
    agent.require_admin().map_err(PageError::for_agent(agent))
}
