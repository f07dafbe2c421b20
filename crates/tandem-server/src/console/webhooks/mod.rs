//! Settings → Webhooks (admins): register endpoints (the signing secret is shown once), enable,
//! disable, delete, send a test event, and read each endpoint's recent deliveries.

mod change;
mod create;
mod page;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/webhooks", get(page::show_webhooks_page).post(create::create_webhook))
        .route("/settings/webhooks/{id}", post(change::change_webhook))
}
