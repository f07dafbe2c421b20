//! `POST /knowledge/{key}`: saves an article's new version (admins and supervisors). A refused
//! form comes back on the article's edit page as it was sent.

use axum::extract::{Path, State};
use tandem_knowledge::formats as kb;

use super::article_form::ArticleForm;
use super::edit::edit_page;
use super::{find_article, saved_redirect};
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, require_manager, text_for};
use crate::error::ApiError;

pub(super) async fn save_article(
    State(state): State<AppState>,
    Path(key): Path<String>,
    CsrfForm { agent, form }: CsrfForm<ArticleForm>,
) -> PageResult {
    let text = text_for(&agent);
    require_manager(&agent)?;
    let status = form.saved_status().map_err(PageError::for_agent(&agent))?;
    let existing = find_article(&state, &agent, &key).await?.ok_or_else(|| {
        PageError::for_agent(&agent)(ApiError::NotFound(tandem_store::Entity::Article))
    })?;
    let article = match kb::validate_article(form.input(&key)) {
        Ok(article) => article,
        Err(error) => {
            let message = format!("{} {}", text.kb_not_saved, text.invalid(&error));
            let form = ArticleForm { key, ..form };
            return edit_page(&state, &agent, Some(&existing), form, None, Some(message)).await;
        }
    };
    state
        .knowledge
        .save(agent.user.workspace_id, vec![article], status, Some(agent.user.id))
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    Ok(saved_redirect(&key))
}
