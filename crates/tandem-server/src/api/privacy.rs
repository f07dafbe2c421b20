//! Privacy (admins): one customer's data exported, one customer erased with a record that it
//! was done, the erasure records, and how long resolved conversations are kept.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tandem_domain::problem::Problem;
use tandem_domain::{CustomerId, Millis, ValidationError};
use tandem_store::{Erasure, ErasureKind, RETENTION_SETTING, RetentionSettings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_customer))
        .routes(routes!(erase_customer))
        .routes(routes!(list_erasures))
        .routes(routes!(show_retention, save_retention))
}

/// What was erased: ids and counts, never what anyone said.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErasureRecord {
    /// `customer` (an admin's request) or `retention` (resolved conversations past the
    /// workspace's retention period).
    kind: String,
    customer_id: Option<i64>,
    /// The admin who asked for it.
    erased_by: Option<i64>,
    /// When (milliseconds since the epoch).
    at: Millis,
    conversations: u64,
    /// Rows deleted (for evidence lists: rows changed) per table.
    rows: BTreeMap<String, u64>,
}

impl From<Erasure> for ErasureRecord {
    fn from(erasure: Erasure) -> ErasureRecord {
        ErasureRecord {
            kind: match erasure.kind {
                ErasureKind::Customer => "customer",
                ErasureKind::Retention => "retention",
            }
            .to_owned(),
            customer_id: erasure.customer_id.map(|id| id.0),
            erased_by: erasure.erased_by.map(|id| id.0),
            at: erasure.at,
            conversations: erasure.conversations,
            rows: erasure.rows,
        }
    }
}

/// Everything the workspace holds about a customer (the response of the export).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CustomerData {
    /// The profile.
    #[schema(value_type = Object)]
    customer: serde_json::Value,
    /// Each conversation with its messages (internal notes included), the bot's decision
    /// records, hand-off packets, wrap-up and rating.
    #[schema(value_type = Vec<Object>)]
    conversations: serde_json::Value,
    exported_at: Millis,
}

/// Everything held about one customer, as JSON (admins): their profile and every
/// conversation with its messages, decision records, hand-off packets, wrap-up and rating.
#[utoipa::path(get, path = "/api/v1/customers/{id}/export", operation_id = "exportCustomer", tag = "privacy",
    params(("id" = i64, Path, description = "The customer.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The customer's data, as a download.", body = CustomerData), Errors))]
async fn export_customer(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    agent.require_admin()?;
    let export = state.store.customer_export(agent.user.workspace_id, CustomerId(id)).await?;
    let disposition = format!("attachment; filename=\"customer-{id}.json\"");
    let data = CustomerData {
        customer: serde_json::to_value(&export.customer).map_err(ApiError::internal)?,
        conversations: serde_json::to_value(&export.conversations).map_err(ApiError::internal)?,
        exported_at: export.exported_at,
    };
    Ok(([(header::CONTENT_DISPOSITION, disposition)], ApiJson(data)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EraseQuery {
    /// Must be `erase`: erasing cannot be undone.
    confirm: Option<String>,
}

/// Erases a customer (admins) with `?confirm=erase`: the customer and every row about them
/// (all their conversations on every channel, messages, decision records, hand-off packets,
/// wrap-ups, ratings, report facts, suggestion uses, webhook events and deliveries naming
/// them) in one transaction, and records that it was done (the record holds no personal data).
#[utoipa::path(delete, path = "/api/v1/customers/{id}", operation_id = "eraseCustomer", tag = "privacy",
    params(("id" = i64, Path, description = "The customer."), EraseQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Erased; the record of it.", body = ErasureRecord), Errors))]
async fn erase_customer(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<EraseQuery>,
) -> ApiResult<ApiJson<ErasureRecord>> {
    agent.require_admin()?;
    let confirm = query.confirm.unwrap_or_default();
    if confirm != "erase" {
        return Err(ValidationError::new(
            "confirm",
            Problem::Mismatch { value: confirm, expected: "erase".into() },
        )
        .into());
    }
    let erasure = erase(&state, &agent, CustomerId(id)).await?;
    Ok(ApiJson(erasure.into()))
}

/// Erases the customer for `agent` (the console's action too); the reports forget their
/// conversations through the change feed.
pub(crate) async fn erase(
    state: &AppState,
    agent: &Agent,
    customer: CustomerId,
) -> ApiResult<Erasure> {
    let erasure =
        state.store.erase_customer(agent.user.workspace_id, customer, Some(agent.user.id)).await?;
    tracing::info!(
        customer_id = customer.0,
        erased_by = agent.user.id.0,
        conversations = erasure.conversations,
        "customer erased"
    );
    Ok(erasure)
}

/// The workspace's erasure records, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Erasures {
    erasures: Vec<ErasureRecord>,
}

/// The records of every erasure and retention run (admins), newest first.
#[utoipa::path(get, path = "/api/v1/privacy/erasures", operation_id = "listErasures", tag = "privacy",
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The records.", body = Erasures), Errors))]
async fn list_erasures(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<Erasures>> {
    agent.require_admin()?;
    let erasures = state.store.erasures(agent.user.workspace_id).await?;
    Ok(ApiJson(Erasures { erasures: erasures.into_iter().map(ErasureRecord::from).collect() }))
}

/// How long resolved conversations are kept.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Retention {
    /// Resolved conversations with no activity for this many days are deleted with every row
    /// about them (checked every hour); 0 keeps them forever. At most 36500.
    resolved_conversation_days: u32,
}

/// The workspace's retention period (admins); 0 (keep forever) when never set.
#[utoipa::path(get, path = "/api/v1/privacy/retention", operation_id = "getRetention", tag = "privacy",
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The retention settings.", body = Retention), Errors))]
async fn show_retention(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<Retention>> {
    agent.require_admin()?;
    let settings = crate::privacy::retention(state.store.as_ref(), agent.user.workspace_id).await?;
    Ok(ApiJson(Retention { resolved_conversation_days: settings.resolved_conversation_days }))
}

/// Sets the workspace's retention period (admins), applied from the next hourly run.
#[utoipa::path(put, path = "/api/v1/privacy/retention", operation_id = "saveRetention", tag = "privacy",
    request_body = Retention, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = Retention), Errors))]
async fn save_retention(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(retention): ApiJson<Retention>,
) -> ApiResult<ApiJson<Retention>> {
    agent.require_admin()?;
    save(&state, &agent, retention.resolved_conversation_days).await?;
    Ok(ApiJson(retention))
}

/// Checks and saves the retention period (the console's form too).
pub(crate) async fn save(state: &AppState, agent: &Agent, days: u32) -> ApiResult<()> {
    if days > crate::privacy::MAX_DAYS {
        return Err(ValidationError::new(
            "resolved_conversation_days",
            Problem::OutOfRange { min: "0".into(), max: crate::privacy::MAX_DAYS.to_string() },
        )
        .into());
    }
    let settings = RetentionSettings { resolved_conversation_days: days };
    let value = serde_json::to_value(settings).map_err(ApiError::internal)?;
    state.store.save_workspace_setting(agent.user.workspace_id, RETENTION_SETTING, value).await?;
    Ok(())
}
