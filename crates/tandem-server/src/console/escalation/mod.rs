//! Settings → Escalation: the workspace's escalation policy, when the bot hands a conversation
//! to people (or drafts an answer for their approval) by the message's signals and the
//! conversation so far. Every agent may read it; only admins and supervisors change it.

mod page;
mod policy_form;
mod save;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/settings/escalation",
        get(page::show_escalation_page).post(save::save_escalation_policy),
    )
}
