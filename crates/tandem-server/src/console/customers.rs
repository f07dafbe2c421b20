//! The conversation page's customer merge (supervisors and admins): `POST
//! /customers/{id}/merge` merges the conversation's customer into the customer whose id the
//! form names, and `POST /customer-merges/{id}/undo` undoes a merge; both go back to the
//! conversation page the form was on (the API's `/api/v1/customers/{id}/merge` does the same).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use serde::Deserialize;
use tandem_domain::CustomerId;

use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers/{id}/merge", post(merge_customer))
        .route("/customer-merges/{id}/undo", post(undo_merge))
}

#[derive(Debug, Deserialize)]
struct MergeForm {
    /// The customer to keep.
    into: i64,
    /// The conversation page the form was on.
    conversation: i64,
}

async fn merge_customer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<MergeForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_manager().map_err(failed)?;
    state
        .store
        .merge_customers(
            agent.user.workspace_id,
            CustomerId(form.into),
            CustomerId(id),
            Some(agent.user.id),
        )
        .await
        .map_err(|error| failed(error.into()))?;
    Ok(Redirect::to(&format!("/conversations/{}", form.conversation)).into_response())
}

#[derive(Debug, Deserialize)]
struct UndoForm {
    /// The conversation page the form was on.
    conversation: i64,
}

async fn undo_merge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<UndoForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_manager().map_err(failed)?;
    state
        .store
        .undo_customer_merge(agent.user.workspace_id, id, Some(agent.user.id))
        .await
        .map_err(|error| failed(error.into()))?;
    Ok(Redirect::to(&format!("/conversations/{}", form.conversation)).into_response())
}
