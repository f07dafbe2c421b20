//! `GET /knowledge/new`: the edit page for a new article (admins and supervisors), empty or
//! filled in from the query (a knowledge gap's "create article").

use axum::extract::{Query, State};

use super::article_form::ArticleForm;
use super::edit::edit_page;
use crate::AppState;
use crate::console::{PageAgent, PageResult, require_manager};

pub(super) async fn show_new_article_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(form): Query<ArticleForm>,
) -> PageResult {
    require_manager(&agent)?;
    edit_page(&state, &agent, None, form, None, None).await
}
