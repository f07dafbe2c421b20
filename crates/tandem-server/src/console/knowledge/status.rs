//! `POST /knowledge/{key}/status`: moves an article to another status (publish, archive...)
//! without changing its text (admins and supervisors).

use axum::extract::{Path, State};
use serde::Deserialize;
use tandem_domain::{ArticleStatus, Problem, ValidationError};

use super::saved_redirect;
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, require_manager};
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
pub(super) struct StatusForm {
    status: String,
}

pub(super) async fn change_article_status(
    State(state): State<AppState>,
    Path(key): Path<String>,
    CsrfForm { agent, form }: CsrfForm<StatusForm>,
) -> PageResult {
    require_manager(&agent)?;
    let status = ArticleStatus::parse(&form.status).ok_or_else(|| {
        let known: Vec<&str> = ArticleStatus::ALL.iter().map(|status| status.as_str()).collect();
        let problem = Problem::not_one_of(form.status.as_str(), &known);
        PageError::for_agent(&agent)(ApiError::Invalid(ValidationError::new("status", problem)))
    })?;
    state
        .knowledge
        .set_status(agent.user.workspace_id, &key, status, Some(agent.user.id))
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    Ok(saved_redirect(&key))
}
