//! The knowledge base: articles listed and searched, edited and published with their version
//! history, imported from pasted JSONL, CSV or Markdown, exported, and the "test the bot" page
//! that shows what the answer engine would decide for a question, and the suggestions learnt
//! from the conversations people answered. Every agent may read and
//! test; only admins and supervisors change articles.
//!
//! Where a page and an action share a name, the page's file says so (`import_page.rs` shows
//! the import form, `import.rs` imports).

mod article_form;
mod create;
mod edit;
mod export;
mod import;
mod import_page;
mod list;
mod new;
mod save;
mod settings_page;
mod settings_save;
mod status;
mod suggestions_decide;
mod suggestions_page;
mod test_page;
mod versions;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tandem_domain::Article;

use super::PageError;
use crate::AppState;
use crate::auth::Agent;

/// A pasted import may be far larger than the other forms.
const MAX_IMPORT_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/knowledge", get(list::show_knowledge_list).post(create::create_article))
        .route("/knowledge/new", get(new::show_new_article_page))
        .route(
            "/knowledge/import",
            get(import_page::show_import_page)
                .post(import::import_articles)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/knowledge/export", get(export::export_articles))
        .route("/knowledge/test", get(test_page::show_test_page))
        .route(
            "/knowledge/suggestions",
            get(suggestions_page::show_suggestions_page)
                .post(suggestions_decide::decide_suggestions),
        )
        .route(
            "/knowledge/settings",
            get(settings_page::show_answer_settings_page).post(settings_save::save_answer_settings),
        )
        .route("/knowledge/{key}", get(edit::show_edit_article_page).post(save::save_article))
        .route("/knowledge/{key}/status", post(status::change_article_status))
}

async fn all_articles(state: &AppState, agent: &Agent) -> Result<Vec<Article>, PageError> {
    state
        .store
        .articles(agent.user.workspace_id)
        .await
        .map_err(|e| PageError::for_agent(agent)(e.into()))
}

async fn find_article(
    state: &AppState,
    agent: &Agent,
    key: &str,
) -> Result<Option<Article>, PageError> {
    state
        .store
        .article(agent.user.workspace_id, key)
        .await
        .map_err(|e| PageError::for_agent(agent)(e.into()))
}

/// Back to the article's edit page, saying it was saved.
fn saved_redirect(key: &str) -> Response {
    Redirect::to(&format!("/knowledge/{key}?notice=saved")).into_response()
}
