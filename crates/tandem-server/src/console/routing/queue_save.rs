//! `POST /settings/routing/queues/{id}`: saves a queue's name, description and rules (admins
//! and supervisors) through the routing service, so that the router uses them at once.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tandem_domain::{Queue, QueueId};

use super::page::{Refused, routing_page};
use super::queue_form::{QueueForm, queue_input};
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, require_manager, store_failed, text_for};
use crate::error::ApiError;

pub(super) async fn save_queue(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<QueueForm>,
) -> PageResult {
    require_manager(&agent)?;
    let failed = store_failed(&agent);
    let text = text_for(&agent);
    let id = QueueId(id);
    let queue = state
        .store
        .queues(agent.user.workspace_id)
        .await
        .map_err(&failed)?
        .into_iter()
        .find(|queue| queue.id == id)
        .ok_or_else(|| {
            PageError::for_agent(&agent)(ApiError::NotFound(tandem_store::Entity::Queue))
        })?;
    match form.parse() {
        Ok((name, description, routing)) => {
            let update = Queue { name, description, routing, ..queue.clone() };
            match state.routing.save_queue(update).await {
                Ok(_) => {
                    Ok(Redirect::to(&format!("/settings/routing?notice=saved#queue-{}", id.0))
                        .into_response())
                }
                // Another queue has the name.
                Err(tandem_flow::RoutingServiceError::Store(
                    tandem_store::StoreError::Conflict(conflict),
                )) => {
                    let message = text.about(&queue.name, &text.api_error(&conflict.into()));
                    let refused = Refused::Queue { id, form, field: "name", message };
                    routing_page(&state, &agent, None, Some(refused)).await
                }
                Err(error) => Err(PageError::for_agent(&agent)(error.into())),
            }
        }
        Err(error) => {
            let message = text.about(&queue.name, &text.invalid(&error));
            let field = queue_input(error.field);
            let refused = Refused::Queue { id, form, field, message };
            routing_page(&state, &agent, None, Some(refused)).await
        }
    }
}
