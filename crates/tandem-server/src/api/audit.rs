//! The audit log (see `crate::audit`): who changed what, when and from where. Admins only.

use axum::extract::State;
use serde::Serialize;
use tandem_domain::{Millis, Problem, ValidationError};
use tandem_store::AuditEntry;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::audit::AuditQuery;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// One recorded change. Entries are never changed or deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AuditRecord {
    id: i64,
    /// When (milliseconds since the epoch).
    at: Millis,
    /// `user`, `token`, `bot`, `model` or `system`.
    actor_kind: String,
    /// The user's or token's id.
    actor_id: Option<String>,
    actor_name: String,
    /// A stable code (`knowledge.save`, `settings.escalation`, `conversation.handoff`,
    /// `bot.action`, `model.reply.used`) or the method and route template.
    action: String,
    /// The route's parameters (`key:returns`) or the changed record (`conversation:12`).
    target: String,
    /// More about the change (the route and status; a hand-off's reasons; an action's outcome);
    /// never a request body or a secret.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    /// The client's address, for people's and tokens' changes.
    ip: Option<String>,
}

impl From<AuditEntry> for AuditRecord {
    fn from(entry: AuditEntry) -> AuditRecord {
        AuditRecord {
            id: entry.id,
            at: entry.at,
            actor_kind: entry.actor_kind.as_str().to_owned(),
            actor_id: entry.actor_id,
            actor_name: entry.actor_name,
            action: entry.action,
            target: entry.target,
            detail: entry.detail,
            ip: entry.ip,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AuditPage {
    entries: Vec<AuditRecord>,
    /// Pass as `before` for the next page; absent on the last page.
    next_before: Option<i64>,
}

/// The query's filter, or the validation error naming the field that does not read.
pub(crate) fn read_filter(query: &AuditQuery) -> Result<tandem_store::AuditFilter, ApiError> {
    query.filter().map_err(|field| {
        ApiError::Invalid(ValidationError::new(
            field,
            Problem::Unreadable { detail: format!("`{field}` does not read") },
        ))
    })
}

/// The audit log: every change people, API tokens, the bot and the model made in the
/// workspace, newest first, filtered and paged by id. Admins only.
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "listAuditLog", tag = "audit",
    params(AuditQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "A page of entries.", body = AuditPage), Errors))]
async fn list_audit(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<ApiJson<AuditPage>> {
    agent.require_admin()?;
    let filter = read_filter(&query)?;
    let limit = query.limit();
    let entries = state.store.audit(agent.user.workspace_id, filter, limit, query.before).await?;
    let next_before =
        (entries.len() == limit as usize).then(|| entries.last().map(|entry| entry.id)).flatten();
    Ok(ApiJson(AuditPage {
        entries: entries.into_iter().map(AuditRecord::from).collect(),
        next_before,
    }))
}
