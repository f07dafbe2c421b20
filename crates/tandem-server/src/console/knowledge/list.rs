//! `GET /knowledge`: the articles, searched by key, title or question and filtered by status.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::{Article, ArticleStatus};

use super::all_articles;
use crate::AppState;
use crate::console::{Chrome, PageAgent, PageResult, format_time, render, text_for};

#[derive(Debug)]
pub struct ArticleRow {
    pub key: String,
    pub title: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub version: i64,
    pub questions: usize,
    pub tags: String,
    pub time: String,
    pub timestamp: i64,
}

#[derive(Template)]
#[template(path = "pages/knowledge.html")]
struct ListPage {
    chrome: Chrome,
    can_edit: bool,
    q: String,
    status: &'static str,
    /// The status filter's choices: value and label.
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<ArticleRow>,
    /// "3 of 12 articles".
    shown: String,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    notice: Option<String>,
    count: Option<usize>,
}

/// Whether `needle` (already lower case) is in the key, the title or a question.
fn matches(article: &Article, needle: &str) -> bool {
    needle.is_empty()
        || [&article.key, &article.title]
            .into_iter()
            .chain(&article.questions)
            .any(|text| text.to_lowercase().contains(needle))
}

pub(super) async fn show_knowledge_list(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let text = text_for(&agent);
    let articles = all_articles(&state, &agent).await?;
    let total = articles.len();
    let wanted = ArticleStatus::parse(&query.status);
    let needle = query.q.trim().to_lowercase();
    let rows = articles
        .into_iter()
        .filter(|article| wanted.is_none_or(|status| article.status == status))
        .filter(|article| matches(article, &needle))
        .map(|article| ArticleRow {
            status: article.status.as_str(),
            status_label: text.article_status(article.status),
            version: article.version,
            questions: article.questions.len(),
            tags: article.tags.join(", "),
            time: format_time(article.updated_at),
            timestamp: article.updated_at,
            key: article.key,
            title: article.title,
        })
        .collect::<Vec<_>>();
    let mut statuses = vec![("all", text.kb_all_statuses.as_str())];
    statuses.extend(
        ArticleStatus::ALL.iter().map(|status| (status.as_str(), text.article_status(*status))),
    );
    let notice = match query.notice.as_deref() {
        Some("imported") => Some(text.imported(query.count.unwrap_or(0))),
        Some(_) => Some(text.saved.to_owned()),
        None => None,
    };
    Ok(render(&ListPage {
        chrome: Chrome::new(&agent, "knowledge"),
        can_edit: agent.user.is_manager(),
        q: query.q,
        status: wanted.map_or("all", ArticleStatus::as_str),
        statuses,
        shown: text.articles_shown(rows.len(), total),
        rows,
        notice,
    }))
}
