//! Settings → Routing: each agent's skills and capacity per channel, and each queue's rules
//! (skills, topics, SLA, offer timeout, widening) and opening hours. Every agent may read them;
//! only admins and supervisors change them, and the router uses a saved change at once.
//!
//! Skills, opening hours and time zones are typed as short text (`refunds:4, lang:zh:5`,
//! `mon-fri 09:00-18:00`, `Asia/Shanghai` or `+08:00`); the forms here turn them into the
//! stored records and back, and a refused form comes back on its row as it was typed, with the
//! problem named.

mod agent_form;
mod agent_save;
mod page;
mod queue_form;
mod queue_save;
mod text_formats;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/routing", get(page::show_routing_page))
        .route("/settings/routing/agents/{id}", post(agent_save::save_agent_routing))
        .route("/settings/routing/queues/{id}", post(queue_save::save_queue))
}
