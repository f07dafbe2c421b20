//! Importing conversation history from another helpdesk: the JSONL format `tandem import
//! conversations` reads, sent as the body. Supervisors and admins.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use serde::Serialize;
use tandem_knowledge::history;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiResult, ApiText};

/// The largest history one request may carry.
pub const MAX_HISTORY_BYTES: usize = 16 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_conversations))
        .layer(DefaultBodyLimit::max(MAX_HISTORY_BYTES))
}

/// What an import stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct HistoryImported {
    /// Conversations stored.
    imported: u32,
    /// Conversations the workspace already had (the same `id`), left as they were.
    skipped: u32,
}

/// Imports conversation history (JSONL, one conversation a line, as `tandem import
/// conversations` reads it; `application/x-ndjson` or `text/plain`, up to 16 MiB). Every line
/// is checked first: with any problem nothing is stored and `history_import_failed` lists each
/// with its line. Conversations whose `id` the workspace already has are skipped, so sending a
/// file twice stores it once. Reports count the imported conversations at once. Supervisors and
/// admins.
#[utoipa::path(post, path = "/api/v1/conversations/import", operation_id = "importConversations", tag = "agents",
    request_body(content = String, content_type = "application/x-ndjson", description = "The history, one conversation a line."),
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Imported.", body = HistoryImported), Errors))]
async fn import_conversations(
    State(state): State<AppState>,
    agent: Agent,
    headers: HeaderMap,
    ApiText(body): ApiText,
) -> ApiResult<ApiJson<HistoryImported>> {
    agent.require_manager()?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    if let Some(content_type) = content_type
        && !["application/x-ndjson", "application/jsonl", "text/plain"]
            .contains(&content_type.as_str())
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the history as application/x-ndjson or text/plain, not {content_type}"
        )));
    }
    // Reading and scoring the sentiment of a large history is CPU work.
    let imported = tokio::task::spawn_blocking(move || {
        history::parse_strict(&body)
            .map(|parsed| tandem_bot::history_import::imported_conversations(&parsed))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::HistoryImportFailed)?;
    let workspace = agent.user.workspace_id;
    let summary = state.store.import_conversations(workspace, imported).await?;
    state.insight.invalidate(workspace);
    Ok(ApiJson(HistoryImported { imported: summary.imported, skipped: summary.skipped }))
}
