//! The knowledge base: articles listed and searched, edited and published with their version
//! history, imported from pasted JSONL, CSV or Markdown, exported, and the "test the bot" page
//! that shows what the answer engine would decide for a question. Every agent may read and
//! test; only admins and supervisors change articles.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tandem_domain::validate;
use tandem_domain::{Article, ArticleStatus, Channel, UserId, ValidationError};
use tandem_knowledge::Outcome;
use tandem_knowledge::formats::{self as kb, ArticleInput, Format};

use super::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;
use crate::i18n::Text;

/// A pasted import may be far larger than the other forms.
const MAX_IMPORT_BYTES: usize = 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/knowledge", get(show_list).post(create_article))
        .route("/knowledge/new", get(show_new))
        .route(
            "/knowledge/import",
            get(show_import).post(submit_import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/knowledge/export", get(export))
        .route("/knowledge/test", get(show_test))
        .route("/knowledge/settings", get(show_settings).post(save_settings))
        .route("/knowledge/{key}", get(show_edit).post(save_article))
        .route("/knowledge/{key}/status", post(change_status))
}

fn text_for(agent: &Agent) -> &'static Text {
    Text::for_locale(agent.user.locale)
}

fn require_editor(agent: &Agent) -> Result<(), PageError> {
    agent.require_manager().map_err(PageError::for_agent(agent))
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

// ---------- The list ----------

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
struct ListQuery {
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

async fn show_list(
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

// ---------- Creating and editing ----------

/// The form's fields as typed, so that a refused form comes back as it was sent.
#[derive(Debug, Default, Deserialize)]
struct ArticleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    answer: String,
    /// One question per line.
    #[serde(default)]
    questions: String,
    /// Separated by commas.
    #[serde(default)]
    tags: String,
    /// `zh`, `en` or empty.
    #[serde(default)]
    language: String,
    /// The button pressed: `draft`, `in_review` or `published`.
    #[serde(default)]
    status: String,
    /// `2026-02-01T00:00+08:00`, or empty for none.
    #[serde(default)]
    effective_from: String,
    #[serde(default)]
    expires_at: String,
    /// Checked channel boxes ("on"); none checked means every channel.
    #[serde(default)]
    channel_web: Option<String>,
    #[serde(default)]
    channel_email: Option<String>,
    #[serde(default)]
    channel_api: Option<String>,
}

impl ArticleForm {
    fn from_article(article: &Article) -> ArticleForm {
        let checked = |channel| article.channels.contains(&channel).then(|| "on".to_owned());
        ArticleForm {
            key: article.key.clone(),
            title: article.title.clone(),
            answer: article.answer.clone(),
            questions: article.questions.join("\n"),
            tags: article.tags.join(", "),
            language: article.language.map(|locale| locale.as_str().to_owned()).unwrap_or_default(),
            effective_from: article
                .effective_from
                .map(validate::format_timestamp)
                .unwrap_or_default(),
            expires_at: article.expires_at.map(validate::format_timestamp).unwrap_or_default(),
            channel_web: checked(Channel::Web),
            channel_email: checked(Channel::Email),
            channel_api: checked(Channel::Api),
            ..ArticleForm::default()
        }
    }

    /// Whether the box for `channel` is checked.
    fn has_channel(&self, channel: Channel) -> bool {
        match channel {
            Channel::Web => self.channel_web.is_some(),
            Channel::Email => self.channel_email.is_some(),
            Channel::Api => self.channel_api.is_some(),
        }
    }

    fn input(&self, key: &str) -> ArticleInput {
        ArticleInput {
            id: key.to_owned(),
            title: self.title.clone(),
            questions: self
                .questions
                .lines()
                .map(str::trim)
                .filter(|question| !question.is_empty())
                .map(str::to_owned)
                .collect(),
            answer: self.answer.clone(),
            lang: Some(self.language.clone()).filter(|lang| !lang.is_empty()),
            tags: self.tags.split([',', '，']).map(str::to_owned).collect(),
            effective_from: Some(self.effective_from.clone()),
            expires_at: Some(self.expires_at.clone()),
            channels: Channel::ALL
                .iter()
                .filter(|channel| self.has_channel(**channel))
                .map(|channel| channel.as_str().to_owned())
                .collect(),
        }
    }

    /// The status the pressed button asks for.
    fn saved_status(&self) -> Result<ArticleStatus, ApiError> {
        match ArticleStatus::parse(&self.status) {
            Some(status) if status != ArticleStatus::Archived => Ok(status),
            _ => Err(ApiError::Invalid(ValidationError {
                field: "status",
                reason: "must be draft, in_review or published".into(),
            })),
        }
    }
}

#[derive(Debug)]
pub struct VersionView {
    pub version: i64,
    pub title: String,
    pub answer: String,
    pub questions: Vec<String>,
    pub author: String,
    pub time: String,
    pub timestamp: i64,
    /// The version customers are answered from now.
    pub live: bool,
}

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
                let label = match channel {
                    Channel::Web => t.channel_web.as_str(),
                    Channel::Email => t.channel_email.as_str(),
                    Channel::Api => t.channel_api.as_str(),
                };
                (channel.as_str(), label, self.form.has_channel(channel))
            })
            .collect()
    }
}

/// The edit page of `article` (or the new article page), showing `form`.
async fn edit_page(
    state: &AppState,
    agent: &Agent,
    article: Option<&Article>,
    form: ArticleForm,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult {
    let text = text_for(agent);
    let mut versions = Vec::new();
    if let Some(article) = article {
        let fail = |error: tandem_store::StoreError| PageError::for_agent(agent)(error.into());
        let workspace = agent.user.workspace_id;
        let history = state.store.article_versions(workspace, &article.key).await.map_err(fail)?;
        let names: HashMap<UserId, String> = state
            .store
            .users(workspace)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|user| (user.id, user.display_name))
            .collect();
        versions = history
            .into_iter()
            .map(|version| VersionView {
                live: article.status == ArticleStatus::Published
                    && version.version == article.version,
                version: version.version,
                author: version
                    .author_id
                    .and_then(|author| names.get(&author).cloned())
                    .unwrap_or_default(),
                time: format_time(version.published_at),
                timestamp: version.published_at,
                title: version.title,
                answer: version.answer,
                questions: version.questions,
            })
            .collect();
    }
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
struct EditQuery {
    notice: Option<String>,
}

async fn show_new(State(state): State<AppState>, PageAgent(agent): PageAgent) -> PageResult {
    require_editor(&agent)?;
    edit_page(&state, &agent, None, ArticleForm::default(), None, None).await
}

async fn show_edit(
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

fn saved_redirect(key: &str) -> Response {
    Redirect::to(&format!("/knowledge/{key}?notice=saved")).into_response()
}

async fn create_article(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<ArticleForm>,
) -> PageResult {
    let text = text_for(&agent);
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_editor(&agent)?;
    let status = form.saved_status().map_err(PageError::for_agent(&agent))?;
    let article = match kb::validate_article(form.input(&form.key)) {
        Ok(article) => article,
        Err(error) => {
            let message = format!("{} {error}", text.kb_not_saved);
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

async fn save_article(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(key): Path<String>,
    Form(form): Form<ArticleForm>,
) -> PageResult {
    let text = text_for(&agent);
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_editor(&agent)?;
    let status = form.saved_status().map_err(PageError::for_agent(&agent))?;
    let existing = find_article(&state, &agent, &key).await?.ok_or_else(|| {
        PageError::for_agent(&agent)(ApiError::NotFound(tandem_store::Entity::Article))
    })?;
    let article = match kb::validate_article(form.input(&key)) {
        Ok(article) => article,
        Err(error) => {
            let message = format!("{} {error}", text.kb_not_saved);
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

#[derive(Debug, Deserialize)]
struct StatusForm {
    csrf: String,
    status: String,
}

async fn change_status(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(key): Path<String>,
    Form(form): Form<StatusForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_editor(&agent)?;
    let status = ArticleStatus::parse(&form.status).ok_or_else(|| {
        PageError::for_agent(&agent)(ApiError::Invalid(ValidationError {
            field: "status",
            reason: "must be draft, in_review, published or archived".into(),
        }))
    })?;
    state
        .knowledge
        .set_status(agent.user.workspace_id, &key, status, Some(agent.user.id))
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    Ok(saved_redirect(&key))
}

// ---------- Import and export ----------

#[derive(Template)]
#[template(path = "pages/knowledge_import.html")]
struct ImportPage {
    chrome: Chrome,
    content: String,
    format: String,
    publish: bool,
    /// Every problem, "line N: message".
    errors: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct ImportForm {
    csrf: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    format: String,
    publish: Option<String>,
}

async fn show_import(PageAgent(agent): PageAgent) -> PageResult {
    require_editor(&agent)?;
    Ok(render(&ImportPage {
        chrome: Chrome::new(&agent, "knowledge"),
        content: String::new(),
        format: "jsonl".into(),
        publish: true,
        errors: Vec::new(),
    }))
}

async fn submit_import(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<ImportForm>,
) -> PageResult {
    let text = text_for(&agent);
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_editor(&agent)?;
    let format = Format::parse(&form.format).ok_or_else(|| {
        PageError::for_agent(&agent)(ApiError::Invalid(ValidationError {
            field: "format",
            reason: "must be jsonl, csv or markdown".into(),
        }))
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
                errors: errors
                    .iter()
                    .map(|error| text.line_error(error.line, &error.message))
                    .collect(),
                content: form.content,
                format: form.format,
                publish,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    #[serde(default)]
    format: String,
}

async fn export(
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

// ---------- Testing the bot ----------

#[derive(Debug)]
pub struct CandidateRow {
    pub key: String,
    pub title: String,
    pub score: f32,
    pub score_text: String,
    pub retrieval: String,
    pub intent: String,
    /// At or above the threshold.
    pub passes: bool,
}

#[derive(Debug)]
pub struct TestResult {
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    pub threshold: f32,
    pub threshold_text: String,
    pub candidates: Vec<CandidateRow>,
    /// The article answered with and the answer the customer would get.
    pub answer: Option<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "pages/knowledge_test.html")]
struct TestPage {
    chrome: Chrome,
    q: String,
    channel: String,
    result: Option<TestResult>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TestQuery {
    #[serde(default)]
    q: String,
    /// Answer as for a customer on this channel; empty for any article.
    #[serde(default)]
    channel: String,
}

async fn show_test(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<TestQuery>,
) -> PageResult {
    let text = text_for(&agent);
    let chrome = Chrome::new(&agent, "knowledge");
    let TestQuery { q, channel } = query;
    if q.trim().is_empty() {
        return Ok(render(&TestPage { chrome, q, channel, result: None, error: None }));
    }
    let parsed = tandem_domain::validate::message_body(&q)
        .map_err(ApiError::from)
        .and_then(|question| Ok((question, crate::api::knowledge::parse_channel(Some(&channel))?)));
    let (question, wanted_channel) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let page =
                TestPage { chrome, q, channel, result: None, error: Some(error.to_string()) };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    let (decision, articles) = state
        .knowledge
        .explain(agent.user.workspace_id, &question, wanted_channel)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    let outcome = decision.outcome.as_str();
    let outcome_label = match decision.outcome {
        Outcome::Answer => &text.kb_outcome_answer,
        Outcome::Clarify => &text.kb_outcome_clarify,
        Outcome::Abstain => &text.kb_outcome_abstain,
    };
    let candidates = decision
        .candidates
        .iter()
        .zip(&articles)
        .map(|(candidate, article)| CandidateRow {
            key: article.key.clone(),
            title: article.title.clone(),
            score: candidate.score,
            score_text: format!("{:.3}", candidate.score),
            retrieval: format!("{:.3}", candidate.retrieval),
            intent: candidate.intent.map_or_else(|| "—".to_owned(), |p| format!("{p:.3}")),
            passes: candidate.score >= decision.threshold,
        })
        .collect();
    // Candidates come best first: an answer is the first one's.
    let answer = decision
        .answer()
        .and(articles.first())
        .map(|article| (article.key.clone(), article.title.clone(), article.answer.clone()));
    let result = TestResult {
        outcome,
        outcome_label,
        threshold: decision.threshold,
        threshold_text: format!("{:.2}", decision.threshold),
        candidates,
        answer,
    };
    Ok(render(&TestPage { chrome, q, channel, result: Some(result), error: None }))
}

// ---------- Answer settings ----------

#[derive(Debug, Default, Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf: String,
    /// Empty for the server's default.
    #[serde(default)]
    threshold: String,
    /// One word per line.
    #[serde(default)]
    dictionary: String,
}

#[derive(Template)]
#[template(path = "pages/knowledge_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    can_edit: bool,
    form: SettingsForm,
    default_threshold: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SettingsQuery {
    notice: Option<String>,
}

async fn show_settings(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<SettingsQuery>,
) -> PageResult {
    let settings = state
        .store
        .answer_settings(agent.user.workspace_id)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    let form = SettingsForm {
        threshold: settings.threshold.map(|value| format!("{value:.2}")).unwrap_or_default(),
        dictionary: settings.dictionary.join("\n"),
        ..SettingsForm::default()
    };
    let notice = query.notice.map(|_| text_for(&agent).saved.to_owned());
    Ok(render(&settings_page(&state, &agent, form, notice, None)))
}

fn settings_page(
    state: &AppState,
    agent: &Agent,
    form: SettingsForm,
    notice: Option<String>,
    error: Option<String>,
) -> SettingsPage {
    SettingsPage {
        chrome: Chrome::new(agent, "knowledge"),
        can_edit: agent.user.is_manager(),
        form,
        default_threshold: format!("{:.2}", state.knowledge.default_policy().threshold),
        notice,
        error,
    }
}

async fn save_settings(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<SettingsForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_editor(&agent)?;
    let threshold = form.threshold.trim();
    let threshold = if threshold.is_empty() {
        Ok(None)
    } else {
        threshold.parse::<f32>().map(Some).map_err(|_| ValidationError {
            field: "threshold",
            reason: format!("{threshold:?} is not a number"),
        })
    };
    let words: Vec<String> = form.dictionary.lines().map(str::to_owned).collect();
    let settings =
        threshold.and_then(|threshold| crate::api::knowledge::validate_settings(threshold, &words));
    let settings = match settings {
        Ok(settings) => settings,
        Err(error) => {
            let message = format!("{} {error}", text_for(&agent).kb_not_saved);
            let page = settings_page(&state, &agent, form, None, Some(message));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    state
        .knowledge
        .save_settings(agent.user.workspace_id, settings)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    Ok(Redirect::to("/knowledge/settings?notice=saved").into_response())
}
