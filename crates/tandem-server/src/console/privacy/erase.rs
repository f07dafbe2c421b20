//! `POST /customers/{id}/erase` (admins): erases the customer when the form's `confirm` box
//! says `erase`, then shows the erasure records; otherwise back to the conversation it was
//! asked from, saying why.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tandem_domain::CustomerId;

use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, text_for};

#[derive(Debug, Deserialize)]
pub(super) struct EraseForm {
    confirm: String,
    /// The conversation page the form was on.
    conversation: i64,
}

pub(super) async fn erase_customer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<EraseForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_admin().map_err(failed)?;
    if form.confirm.trim() != "erase" {
        let message = text_for(&agent).privacy_erase_unconfirmed.clone();
        let query = serde_urlencoded::to_string([("error", message)]).unwrap_or_default();
        return Ok(
            Redirect::to(&format!("/conversations/{}?{query}", form.conversation)).into_response()
        );
    }
    crate::api::privacy::erase(&state, &agent, CustomerId(id)).await.map_err(failed)?;
    Ok(Redirect::to("/settings/privacy?notice=erased").into_response())
}
