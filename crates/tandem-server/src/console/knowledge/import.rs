//! `POST /knowledge/import`: imports pasted articles (admins and supervisors), published or as
//! drafts: all of them, or none with every problem named by its line.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tandem_domain::{ArticleStatus, Problem, ValidationError};
use tandem_knowledge::formats::{self as kb, Format};

use super::import_page::ImportPage;
use crate::AppState;
use crate::console::{Chrome, CsrfForm, PageError, PageResult, render, require_manager, text_for};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct ImportForm {
    #[serde(default)]
    content: String,
    #[serde(default)]
    format: String,
    publish: Option<String>,
}

pub(super) async fn import_articles(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<ImportForm>,
) -> PageResult {
    let text = text_for(&agent);
    require_manager(&agent)?;
    let format = Format::parse(&form.format).ok_or_else(|| {
        let problem = Problem::not_one_of(form.format.as_str(), &["jsonl", "csv", "markdown"]);
        PageError::for_agent(&agent)(ApiError::Invalid(ValidationError::new("format", problem)))
    })?;
    let publish = form.publish.is_some();
    match kb::parse(format, "pasted", &form.content) {
        Ok(articles) => {
            let status = if publish { ArticleStatus::Published } else { ArticleStatus::Draft };
            let saved = state
                .knowledge
                .save(agent.user.workspace_id, articles, status, Some(agent.user.id))
                .await
                .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
            let location = format!("/knowledge?notice=imported&count={}", saved.len());
            Ok(Redirect::to(&location).into_response())
        }
        Err(errors) => {
            let page = ImportPage {
                chrome: Chrome::new(&agent, "knowledge"),
                errors: errors.iter().map(|error| text.import_error(error)).collect(),
                content: form.content,
                format: form.format,
                publish,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}
