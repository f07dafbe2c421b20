//! One customer across channels: a customer's profile with the merges it took part in, and
//! two customers of the workspace merged into one (the same person as an anonymous widget
//! visitor and a verified API customer) by a supervisor or admin, with an undo.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tandem_domain::{Customer, CustomerId, Millis};
use tandem_store::CustomerMerge;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_customer))
        .routes(routes!(merge_customer))
        .routes(routes!(undo_merge))
}

/// A merge of two customers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct MergeRecord {
    id: i64,
    /// The customer kept: it has both histories now.
    keep_id: i64,
    /// The customer merged away: its widget sessions' new messages go to the kept one.
    merged_id: i64,
    /// The conversations moved from the merged customer to the kept one.
    conversation_ids: Vec<i64>,
    /// The kept customer's empty fields filled from the merged one, with their values:
    /// `email`, `locale`, `external_id` and `attributes.<key>`.
    filled: BTreeMap<String, String>,
    /// Who merged them.
    by: Option<i64>,
    /// When (milliseconds since the epoch).
    at: Millis,
    /// When it was undone, if it was.
    undone_at: Option<Millis>,
    undone_by: Option<i64>,
}

impl From<CustomerMerge> for MergeRecord {
    fn from(merge: CustomerMerge) -> MergeRecord {
        MergeRecord {
            id: merge.id,
            keep_id: merge.keep.0,
            merged_id: merge.merged.0,
            conversation_ids: merge.conversations.iter().map(|id| id.0).collect(),
            filled: merge.filled,
            by: merge.by.map(|user| user.0),
            at: merge.at,
            undone_at: merge.undone_at,
            undone_by: merge.undone_by.map(|user| user.0),
        }
    }
}

/// A customer with its merges.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CustomerView {
    customer: Customer,
    /// The customer's conversations on every inbox and channel, newest first (at most 50).
    conversation_ids: Vec<i64>,
    /// The merges this customer took part in (kept or merged away), newest first.
    merges: Vec<MergeRecord>,
}

/// The workspace's customer `id`, or `customer_not_found`.
pub(crate) async fn workspace_customer(
    state: &AppState,
    agent: &Agent,
    id: i64,
) -> ApiResult<Customer> {
    state
        .store
        .customer(CustomerId(id))
        .await?
        .filter(|customer| customer.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::Customer))
}

/// A customer's profile and the merges it took part in.
#[utoipa::path(get, path = "/api/v1/customers/{id}", operation_id = "showCustomer", tag = "customers",
    params(("id" = i64, Path, description = "The customer.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The customer.", body = CustomerView), Errors))]
async fn show_customer(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<CustomerView>> {
    let customer = workspace_customer(&state, &agent, id).await?;
    let merges = state.store.customer_merges(agent.user.workspace_id, customer.id).await?;
    let conversations = state.store.customer_conversations(customer.id, 50).await?;
    Ok(ApiJson(CustomerView {
        customer,
        conversation_ids: conversations.iter().map(|conversation| conversation.id.0).collect(),
        merges: merges.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    /// The customer to keep: this one's conversations move to it.
    into: i64,
}

/// Merges this customer into another one of the workspace (supervisors and admins): its
/// conversations move to `into`, `into`'s empty e-mail, language and external id and the
/// attributes it lacks are filled from it, and it is marked merged (its widget sessions' new
/// messages go to `into`). `merge_into_itself` and `customer_merged_away` refuse it.
#[utoipa::path(post, path = "/api/v1/customers/{id}/merge", operation_id = "mergeCustomer", tag = "customers",
    params(("id" = i64, Path, description = "The customer merged away.")), request_body = MergeBody,
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Merged; the record of it.", body = MergeRecord), Errors))]
async fn merge_customer(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<MergeBody>,
) -> ApiResult<ApiJson<MergeRecord>> {
    agent.require_manager()?;
    let merge = state
        .store
        .merge_customers(
            agent.user.workspace_id,
            CustomerId(body.into),
            CustomerId(id),
            Some(agent.user.id),
        )
        .await?;
    tracing::info!(merge = merge.id, keep = body.into, merged = id, "customers merged");
    Ok(ApiJson(merge.into()))
}

/// Undoes a merge (supervisors and admins): the conversations it moved that the kept customer
/// still has go back, the fields it filled are taken back, and the merged customer is used
/// again. `merge_undone` when it was undone already.
#[utoipa::path(post, path = "/api/v1/customer-merges/{id}/undo", operation_id = "undoCustomerMerge", tag = "customers",
    params(("id" = i64, Path, description = "The merge.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Undone; the merge's record.", body = MergeRecord), Errors))]
async fn undo_merge(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<MergeRecord>> {
    agent.require_manager()?;
    let merge =
        state.store.undo_customer_merge(agent.user.workspace_id, id, Some(agent.user.id)).await?;
    tracing::info!(merge = merge.id, "customer merge undone");
    Ok(ApiJson(merge.into()))
}
