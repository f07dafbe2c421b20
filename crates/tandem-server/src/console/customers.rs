//! The conversation page's customer merge (supervisors and admins): `POST
//! /customers/{id}/merge` merges the conversation's customer into the customer whose id the
//! form names, and `POST /customer-merges/{id}/undo` undoes a merge; both go back to the
//! conversation page the form was on (the API's `/api/v1/customers/{id}/merge` does the same).
//! `POST /customers/{id}/email` (any agent) writes to the customer by e-mail from a
//! conversation on another channel, and opens the e-mail conversation it started.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;
use serde::Deserialize;
use tandem_domain::CustomerId;

use crate::AppState;
use crate::console::conversation::back;
use crate::console::{CsrfForm, PageError, PageResult, text_for};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers/{id}/merge", post(merge_customer))
        .route("/customer-merges/{id}/undo", post(undo_merge))
        .route("/customers/{id}/email", post(email_customer))
}

#[derive(Debug, Deserialize)]
struct EmailForm {
    #[serde(default)]
    subject: String,
    body: String,
    /// The conversation page the form was on.
    conversation: i64,
}

async fn email_customer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<EmailForm>,
) -> PageResult {
    let request = crate::channels::compose::NewEmail {
        body: form.body,
        subject: Some(form.subject).filter(|subject| !subject.trim().is_empty()),
    };
    let started = crate::channels::compose::start_email(&state, &agent, CustomerId(id), request);
    Ok(match started.await {
        Ok(started) => back(started.conversation_id, None),
        Err(error) => back(form.conversation, Some(text_for(&agent).api_error(&error))),
    })
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
