//! `GET /knowledge/export`: every article as a JSONL, CSV or Markdown file to download, in the
//! formats the import reads.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use tandem_knowledge::formats as kb;

use super::all_articles;
use crate::AppState;
use crate::console::{PageAgent, PageError, PageResult};

#[derive(Debug, Deserialize)]
pub(super) struct ExportQuery {
    #[serde(default)]
    format: String,
}

pub(super) async fn export_articles(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<ExportQuery>,
) -> PageResult {
    let articles = all_articles(&state, &agent).await?;
    let asked = if query.format.is_empty() { "jsonl" } else { query.format.as_str() };
    let export =
        kb::export(asked, &articles).map_err(|error| PageError::for_agent(&agent)(error.into()))?;
    let headers = [
        (header::CONTENT_TYPE, export.content_type.to_owned()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", export.file_name)),
    ];
    Ok((headers, export.text).into_response())
}
