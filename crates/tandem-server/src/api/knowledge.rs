//! The knowledge API: list, import, export and publish articles, and ask the engine to explain
//! a decision. Admins and supervisors change knowledge; every agent may read it.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use tandem_domain::{AnswerSettings, Article, ArticleStatus, Channel, ValidationError, validate};
use tandem_knowledge::formats::{self as kb, ArticleInput, Format};

use crate::AppState;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/articles", get(list_articles))
        .route("/api/v1/articles/import", post(import_articles))
        .route("/api/v1/articles/export", get(export_articles))
        .route("/api/v1/articles/{key}", put(save_article))
        .route("/api/v1/articles/{key}/status", post(set_status))
        .route("/api/v1/answer/explain", post(explain))
        .route("/api/v1/answer/settings", get(answer_settings).put(save_answer_settings))
}

fn parse_status(text: &str) -> ApiResult<ArticleStatus> {
    ArticleStatus::parse(text).ok_or_else(|| {
        ApiError::Invalid(ValidationError {
            field: "status",
            reason: "must be draft, in_review, published or archived".into(),
        })
    })
}

async fn list_articles(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<serde_json::Value>> {
    let articles = state.store.articles(agent.user.workspace_id).await?;
    Ok(ApiJson(serde_json::json!({ "articles": articles })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    format: String,
    #[serde(default = "published")]
    status: String,
}

fn published() -> String {
    "published".into()
}

async fn import_articles(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: String,
) -> ApiResult<ApiJson<serde_json::Value>> {
    agent.require_manager()?;
    let format = Format::parse(&query.format).ok_or_else(|| {
        ApiError::Invalid(ValidationError {
            field: "format",
            reason: "must be jsonl, csv or markdown".into(),
        })
    })?;
    let status = parse_status(&query.status)?;
    let articles = kb::parse(format, "body", &body).map_err(ApiError::ImportFailed)?;
    let saved = state
        .knowledge
        .save(agent.user.workspace_id, articles, status, Some(agent.user.id))
        .await?;
    let keys: Vec<&str> = saved.iter().map(|article| article.key.as_str()).collect();
    Ok(ApiJson(serde_json::json!({ "imported": saved.len(), "status": status, "articles": keys })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    #[serde(default = "jsonl")]
    format: String,
}

fn jsonl() -> String {
    "jsonl".into()
}

async fn export_articles(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let articles = state.store.articles(agent.user.workspace_id).await?;
    let export = kb::export(&query.format, &articles)?;
    Ok(([(header::CONTENT_TYPE, export.content_type)], export.text).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveArticle {
    title: String,
    answer: String,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    lang: Option<String>,
    /// Not answered before this moment, e.g. `2026-02-01T00:00+08:00`.
    effective_from: Option<String>,
    /// Not answered from this moment on.
    expires_at: Option<String>,
    /// Only customers on these channels are answered from it; empty means all.
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default = "published")]
    status: String,
}

async fn save_article(
    State(state): State<AppState>,
    agent: Agent,
    Path(key): Path<String>,
    ApiJson(request): ApiJson<SaveArticle>,
) -> ApiResult<ApiJson<Article>> {
    agent.require_manager()?;
    let status = parse_status(&request.status)?;
    let input = ArticleInput {
        id: key,
        title: request.title,
        questions: request.questions,
        answer: request.answer,
        lang: request.lang,
        tags: request.tags,
        effective_from: request.effective_from,
        expires_at: request.expires_at,
        channels: request.channels,
    };
    let article = kb::validate_article(input)?;
    let mut saved = state
        .knowledge
        .save(agent.user.workspace_id, vec![article], status, Some(agent.user.id))
        .await?;
    saved.pop().map(ApiJson).ok_or_else(|| ApiError::internal("no article saved"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    agent: Agent,
    Path(key): Path<String>,
    ApiJson(request): ApiJson<StatusRequest>,
) -> ApiResult<ApiJson<Article>> {
    agent.require_manager()?;
    let status = parse_status(&request.status)?;
    Ok(ApiJson(
        state
            .knowledge
            .set_status(agent.user.workspace_id, &key, status, Some(agent.user.id))
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainRequest {
    question: String,
    /// Answer as for a customer on this channel (`web`, `email`, `api`); any article if absent.
    channel: Option<String>,
}

#[derive(Debug, Serialize)]
struct ExplainedCandidate {
    article: String,
    title: String,
    score: f32,
    retrieval: f32,
    intent: Option<f32>,
}

async fn explain(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<ExplainRequest>,
) -> ApiResult<ApiJson<serde_json::Value>> {
    let question = tandem_domain::validate::message_body(&request.question)?;
    let channel = parse_channel(request.channel.as_deref())?;
    let (decision, articles) =
        state.knowledge.explain(agent.user.workspace_id, &question, channel).await?;
    let candidates: Vec<ExplainedCandidate> = decision
        .candidates
        .iter()
        .zip(&articles)
        .map(|(candidate, article)| ExplainedCandidate {
            article: article.key.clone(),
            title: article.title.clone(),
            score: candidate.score,
            retrieval: candidate.retrieval,
            intent: candidate.intent,
        })
        .collect();
    Ok(ApiJson(serde_json::json!({
        "outcome": decision.outcome,
        "threshold": decision.threshold,
        "candidates": candidates,
        // Candidates come best first, so an answer is the first article's.
        "answer": decision.answer().and(articles.first()).map(|article| article.answer.clone()),
    })))
}

/// An optional channel name from a request; blank means none.
pub(crate) fn parse_channel(name: Option<&str>) -> Result<Option<Channel>, ApiError> {
    match name.map(str::trim).filter(|name| !name.is_empty()) {
        None => Ok(None),
        Some(name) => Ok(Some(validate::channel("channel", name)?)),
    }
}

/// A workspace's answer settings as the API shows them.
#[derive(Debug, Serialize)]
struct SettingsView {
    /// The workspace's own threshold, or null when it uses the server's default.
    threshold: Option<f32>,
    /// The threshold in force.
    effective_threshold: f32,
    default_threshold: f32,
    dictionary: Vec<String>,
    updated_at: Option<String>,
}

fn settings_view(state: &AppState, settings: AnswerSettings) -> SettingsView {
    let default_threshold = state.knowledge.default_policy().threshold;
    SettingsView {
        threshold: settings.threshold,
        effective_threshold: settings.threshold.unwrap_or(default_threshold),
        default_threshold,
        dictionary: settings.dictionary,
        updated_at: (settings.updated_at > 0)
            .then(|| validate::format_timestamp(settings.updated_at)),
    }
}

async fn answer_settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<SettingsView>> {
    let settings = state.store.answer_settings(agent.user.workspace_id).await?;
    Ok(ApiJson(settings_view(&state, settings)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsRequest {
    /// null (or absent) to use the server's default.
    #[serde(default)]
    threshold: Option<f32>,
    #[serde(default)]
    dictionary: Vec<String>,
}

/// Checks answer settings as typed by a person.
pub(crate) fn validate_settings(
    threshold: Option<f32>,
    dictionary: &[String],
) -> Result<AnswerSettings, ValidationError> {
    Ok(AnswerSettings {
        threshold: threshold.map(validate::answer_threshold).transpose()?,
        dictionary: validate::dictionary(dictionary)?,
        updated_at: 0,
    })
}

async fn save_answer_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<SettingsRequest>,
) -> ApiResult<ApiJson<SettingsView>> {
    agent.require_manager()?;
    let settings = validate_settings(request.threshold, &request.dictionary)?;
    let saved = state.knowledge.save_settings(agent.user.workspace_id, settings).await?;
    Ok(ApiJson(settings_view(&state, saved)))
}
