//! Managing agents (admins): the list of the workspace's agents with their roles, adding an
//! agent, and changing one's role, password or whether they may sign in.

mod create;
mod page;
mod update;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/agents", get(page::show_agents_page).post(create::create_agent))
        .route("/admin/agents/{id}", post(update::update_agent))
}
