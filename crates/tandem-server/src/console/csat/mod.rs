//! Settings → Customer satisfaction: what each inbox asks a customer once their conversation
//! is resolved (a rating, a comment, further questions, in Chinese and English), saved through
//! the same check as the API (`tandem_domain::csat`). Every agent may read it; only admins and
//! supervisors change it.

mod form;
mod page;
mod save;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/csat", get(page::show_csat_page))
        .route("/settings/csat/{id}", post(save::save_csat))
}
