//! `POST /settings/inboxes/{id}/identity/rotate` (admins): replaces an inbox's identity secret,
//! so that hashes signed with the old one stop verifying.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tandem_domain::InboxId;

use crate::AppState;
use crate::console::{CsrfForm, NoFields, PageError, PageResult};

pub(super) async fn rotate_identity_secret(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, .. }: CsrfForm<NoFields>,
) -> PageResult {
    crate::api::inboxes::rotate_for(&state, &agent, InboxId(id))
        .await
        .map_err(PageError::for_agent(&agent))?;
    Ok(Redirect::to(&format!("/settings?notice=identity_rotated#inbox-{id}")).into_response())
}
