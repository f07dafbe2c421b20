//! `POST /knowledge`: creates an article (admins and supervisors) as a draft, for review or
//! published, by the button pressed. A refused form comes back on the new article page.

use axum::extract::State;
use tandem_knowledge::formats as kb;

use super::article_form::ArticleForm;
use super::edit::edit_page;
use super::{find_article, saved_redirect};
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, require_manager, text_for};

pub(super) async fn create_article(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<ArticleForm>,
) -> PageResult {
    let text = text_for(&agent);
    require_manager(&agent)?;
    let status = form.saved_status().map_err(PageError::for_agent(&agent))?;
    let article = match kb::validate_article(form.input(&form.key)) {
        Ok(article) => article,
        Err(error) => {
            let message = format!("{} {}", text.kb_not_saved, text.invalid(&error));
            return edit_page(&state, &agent, None, form, None, Some(message)).await;
        }
    };
    // Saving replaces by key: a new article must not silently overwrite another.
    if find_article(&state, &agent, &article.key).await?.is_some() {
        let message = format!("{} {}", text.kb_not_saved, text.kb_key_taken);
        return edit_page(&state, &agent, None, form, None, Some(message)).await;
    }
    let key = article.key.clone();
    state
        .knowledge
        .save(agent.user.workspace_id, vec![article], status, Some(agent.user.id))
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    Ok(saved_redirect(&key))
}
