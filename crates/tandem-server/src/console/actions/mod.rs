//! Settings → Actions: the workspace's business actions listed for every agent, and for
//! managers (admins and supervisors) enable, disable, delete (after a confirmation step) and a
//! paste-in TOML or JSON form that imports new actions or replaces one being edited.
//!
//! Saving goes through `tandem_bot::actions::parse`, the same check as the API and the CLI: every
//! problem is shown with the text kept, and nothing is saved unless every action is valid.

mod change;
mod page;
mod save;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/actions", get(page::show_actions_page).post(save::save_actions))
        .route("/settings/actions/{key}", post(change::change_action))
}
