//! Privacy for admins: `/settings/privacy` (how long resolved conversations are kept, and the
//! record of every erasure) and the conversation page's "erase this customer" form. The
//! customer's data is exported by the API's `/api/v1/customers/{id}/export`, which the
//! conversation page links to.

mod erase;
mod page;
mod save;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/privacy", get(page::show_privacy_page).post(save::save_retention))
        .route("/customers/{id}/erase", post(erase::erase_customer))
}
