//! The audit log for admins (`/settings/audit`): the entries with filters (who, what, text,
//! dates), paged by id, and the same selection as a CSV file.

mod export;
mod page;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/audit", get(page::show_audit_page))
        .route("/settings/audit/export.csv", get(export::export_audit_csv))
}
