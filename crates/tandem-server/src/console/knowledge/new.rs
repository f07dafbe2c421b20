//! `GET /knowledge/new`: the empty edit page for a new article (admins and supervisors).

use axum::extract::State;

use super::article_form::ArticleForm;
use super::edit::edit_page;
use crate::AppState;
use crate::console::{PageAgent, PageResult, require_manager};

pub(super) async fn show_new_article_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
) -> PageResult {
    require_manager(&agent)?;
    edit_page(&state, &agent, None, ArticleForm::default(), None, None).await
}
