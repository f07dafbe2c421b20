//! The live desk: every agent's own presence switch, and for everyone the live queues (waiting,
//! longest wait, SLA at risk) and agents (presence, load); supervisors and admins re-route
//! waiting or assigned conversations from here.

mod page;
mod presence;
mod reroute;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/desk", get(page::show_desk_page))
        .route("/desk/presence", post(presence::set_presence))
        .route("/desk/reroute", post(reroute::reroute_conversation))
}
