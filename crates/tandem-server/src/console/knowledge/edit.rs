//! `GET /knowledge/{key}`: an article's edit page, with its status, schedule, channels and
//! version history. The same page, empty, is the new article page, and the create and save
//! actions show it again with a refused form as it was sent.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use tandem_domain::{Article, ArticleStatus, Channel};

use super::article_form::ArticleForm;
use super::find_article;
use super::versions::{VersionView, article_versions};
use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render, text_for};
use crate::error::ApiError;

/// What the edit page shows of a stored article.
#[derive(Debug)]
pub struct Stored {
    pub key: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub version: i64,
    pub published: bool,
    pub archived: bool,
    pub effective_from: Option<(String, i64)>,
    pub expires_at: Option<(String, i64)>,
}

#[derive(Template)]
#[template(path = "pages/knowledge_edit.html")]
struct EditPage {
    chrome: Chrome,
    can_edit: bool,
    heading: String,
    /// None while creating.
    stored: Option<Stored>,
    form: ArticleForm,
    versions: Vec<VersionView>,
    notice: Option<String>,
    error: Option<String>,
}

impl EditPage {
    /// The channel check boxes: name, label, checked.
    fn channel_boxes(&self) -> Vec<(&'static str, &'static str, bool)> {
        let t = self.chrome.t;
        Channel::ALL
            .iter()
            .map(|&channel| {
                let label = t.channel(channel);
                (channel.as_str(), label, self.form.has_channel(channel))
            })
            .collect()
    }
}

/// The edit page of `article` (or the new article page), showing `form`.
pub(super) async fn edit_page(
    state: &AppState,
    agent: &Agent,
    article: Option<&Article>,
    form: ArticleForm,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult {
    let text = text_for(agent);
    let versions = match article {
        Some(article) => article_versions(state, agent, article).await?,
        None => Vec::new(),
    };
    let stored = article.map(|article| Stored {
        key: article.key.clone(),
        status: article.status.as_str(),
        status_label: text.article_status(article.status),
        version: article.version,
        published: article.status == ArticleStatus::Published,
        archived: article.status == ArticleStatus::Archived,
        effective_from: article.effective_from.map(|at| (format_time(at), at)),
        expires_at: article.expires_at.map(|at| (format_time(at), at)),
    });
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = EditPage {
        chrome: Chrome::new(agent, "knowledge"),
        can_edit: agent.user.is_manager(),
        heading: article.map_or_else(|| text.kb_new_article.to_owned(), |a| a.title.clone()),
        stored,
        form,
        versions,
        notice,
        error,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct EditQuery {
    notice: Option<String>,
}

pub(super) async fn show_edit_article_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(key): Path<String>,
    Query(query): Query<EditQuery>,
) -> PageResult {
    let text = text_for(&agent);
    let article = find_article(&state, &agent, &key).await?.ok_or_else(|| {
        PageError::for_agent(&agent)(ApiError::NotFound(tandem_store::Entity::Article))
    })?;
    let notice = query.notice.map(|_| text.saved.to_owned());
    edit_page(&state, &agent, Some(&article), ArticleForm::from_article(&article), notice, None)
        .await
}
