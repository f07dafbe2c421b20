//! The knowledge API: list, import, export and publish articles, and ask the engine to explain
//! a decision. Admins and supervisors change knowledge; every agent may read it.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tandem_domain::{
    AnswerSettings, Article, ArticleStatus, Channel, Problem, ValidationError, WorkspaceId,
    validate,
};
use tandem_knowledge::formats::{self as kb, ArticleInput, Format};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ApiText};

/// The largest knowledge file one import may carry; other JSON bodies stay at
/// [`crate::MAX_BODY_BYTES`].
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    let import = OpenApiRouter::new()
        .routes(routes!(import_articles))
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES));
    OpenApiRouter::new()
        .routes(routes!(list_articles))
        .merge(import)
        .routes(routes!(export_articles))
        .routes(routes!(save_article))
        .routes(routes!(set_status))
        .routes(routes!(explain))
        .routes(routes!(answer_settings, save_answer_settings))
}

fn parse_status(text: &str) -> ApiResult<ArticleStatus> {
    ArticleStatus::parse(text).ok_or_else(|| {
        let known: Vec<&str> = ArticleStatus::ALL.iter().map(|status| status.as_str()).collect();
        ApiError::Invalid(ValidationError::new("status", Problem::not_one_of(text, &known)))
    })
}

/// The workspace's articles.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Articles {
    articles: Vec<Article>,
}

/// Every article of the workspace, whatever its status, by key.
#[utoipa::path(get, path = "/api/v1/articles", operation_id = "listArticles", tag = "knowledge", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The articles.", body = Articles), Errors))]
async fn list_articles(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<Articles>> {
    let articles = state.store.articles(agent.user.workspace_id).await?;
    Ok(ApiJson(Articles { articles }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// `jsonl`, `csv` or `markdown`.
    format: String,
    /// What the imported articles become: `published` (the default), `draft`, `in_review`.
    #[serde(default = "published")]
    status: String,
}

/// What an import saved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ImportedArticles {
    imported: usize,
    status: ArticleStatus,
    /// The keys of the articles saved.
    articles: Vec<String>,
}

fn published() -> String {
    "published".into()
}

/// Imports a knowledge file (JSONL as `tandem eval` reads it, CSV with a row per question, or
/// Markdown with TOML front matter), sent as the body: every entry is checked first, and
/// nothing is saved unless all are clean (`import_failed` lists each problem with its line).
/// Published articles are answerable when this returns. Supervisors and admins.
#[utoipa::path(post, path = "/api/v1/articles/import", operation_id = "importArticles", tag = "knowledge", params(ImportQuery),
    request_body(content = String, content_type = "text/plain", description = "The file."), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Imported.", body = ImportedArticles), Errors))]
async fn import_articles(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<ImportQuery>,
    ApiText(body): ApiText,
) -> ApiResult<ApiJson<ImportedArticles>> {
    agent.require_manager()?;
    let format = Format::parse(&query.format).ok_or_else(|| {
        let problem = Problem::not_one_of(query.format.as_str(), &["jsonl", "csv", "markdown"]);
        ApiError::Invalid(ValidationError::new("format", problem))
    })?;
    let status = parse_status(&query.status)?;
    let articles = kb::parse(format, "body", &body).map_err(ApiError::ImportFailed)?;
    let saved = state
        .knowledge
        .save(agent.user.workspace_id, articles, status, Some(agent.user.id))
        .await?;
    let keys = saved.iter().map(|article| article.key.clone()).collect();
    Ok(ApiJson(ImportedArticles { imported: saved.len(), status, articles: keys }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `jsonl` (the default) or `csv`.
    #[serde(default = "jsonl")]
    format: String,
}

fn jsonl() -> String {
    "jsonl".into()
}

/// Every article as a knowledge file that imports back.
#[utoipa::path(get, path = "/api/v1/articles/export", operation_id = "exportArticles", tag = "knowledge", params(ExportQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The file (`application/x-ndjson` or `text/csv`).", body = String), Errors))]
async fn export_articles(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let articles = state.store.articles(agent.user.workspace_id).await?;
    let export = kb::export(&query.format, &articles)?;
    Ok(([(header::CONTENT_TYPE, export.content_type)], export.text).into_response())
}

/// An article as written.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
    /// `published` (the default: answerable when this returns), `draft`, `in_review` or
    /// `archived`.
    #[serde(default = "published")]
    status: String,
}

/// Creates or replaces the article with this key; publishing records a new version.
#[utoipa::path(put, path = "/api/v1/articles/{key}", operation_id = "saveArticle", tag = "knowledge",
    params(("key" = String, Path, description = "The article's key.")), request_body = SaveArticle, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = Article), Errors))]
async fn save_article(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(key): ApiPath<String>,
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

/// An article's new status.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    /// `draft`, `in_review`, `published` or `archived`.
    status: String,
}

/// Moves an article to a status; publishing records a new version, and the engine reflects the
/// change when this returns.
#[utoipa::path(post, path = "/api/v1/articles/{key}/status", operation_id = "setArticleStatus", tag = "knowledge",
    params(("key" = String, Path, description = "The article's key.")), request_body = StatusRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Changed.", body = Article), Errors))]
async fn set_status(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(key): ApiPath<String>,
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

/// A question to decide as for a customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExplainRequest {
    question: String,
    /// Answer as for a customer on this channel (`web`, `email`, `api`); any article if absent.
    channel: Option<String>,
}

/// An article the engine scored, best first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ExplainedCandidate {
    article: String,
    title: String,
    score: f32,
    retrieval: f32,
    intent: Option<f32>,
}

/// What the engine decided, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Explained {
    /// `answer`, `clarify` or `abstain`.
    #[schema(value_type = String)]
    outcome: tandem_knowledge::Outcome,
    threshold: f32,
    candidates: Vec<ExplainedCandidate>,
    /// The answer's text, when the outcome is `answer`.
    answer: Option<String>,
}

/// What the bot would decide for a question, with every candidate's scores: the console's
/// "test the bot".
#[utoipa::path(post, path = "/api/v1/answer/explain", operation_id = "explainAnswer", tag = "knowledge", request_body = ExplainRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The decision.", body = Explained), Errors))]
async fn explain(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<ExplainRequest>,
) -> ApiResult<ApiJson<Explained>> {
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
    Ok(ApiJson(Explained {
        outcome: decision.outcome,
        threshold: decision.threshold,
        candidates,
        // Candidates come best first, so an answer is the first article's.
        answer: decision.answer().and(articles.first()).map(|article| article.answer.clone()),
    }))
}

/// An optional channel name from a request; blank means none.
pub(crate) fn parse_channel(name: Option<&str>) -> Result<Option<Channel>, ApiError> {
    match name.map(str::trim).filter(|name| !name.is_empty()) {
        None => Ok(None),
        Some(name) => Ok(Some(validate::channel("channel", name)?)),
    }
}

/// A workspace's answer settings as the API shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AnswerSettings)]
struct SettingsView {
    /// The workspace's own threshold, or null when it uses the one learnt from its articles.
    threshold: Option<f32>,
    /// The threshold in force.
    effective_threshold: f32,
    /// The threshold learnt from the articles and what it is expected to do; null when the
    /// articles have too few question variants to learn from (then the default is in force).
    learnt: Option<LearntView>,
    /// In force when nothing was set or learnt.
    default_threshold: f32,
    dictionary: Vec<String>,
    updated_at: Option<String>,
}

/// A threshold learnt from a workspace's articles (shares from 0 to 1).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LearntThreshold)]
struct LearntView {
    threshold: f32,
    /// Expected share of right answers among those given, for as many covered questions as
    /// questions the articles do not cover.
    precision: f32,
    /// Share of question variants held out from their articles answered with their article.
    covered_answered: f32,
    /// Share of questions of articles held out whole (related, not covered) answered.
    uncovered_answered: f32,
    /// Share of the built-in unrelated reference questions answered.
    unrelated_answered: f32,
    held_out: usize,
    uncovered: usize,
    unrelated: usize,
}

async fn settings_view(
    state: &AppState,
    workspace: WorkspaceId,
    settings: AnswerSettings,
) -> Result<SettingsView, ApiError> {
    let (effective_threshold, learnt) = state.knowledge.threshold_in_force(workspace).await?;
    Ok(SettingsView {
        threshold: settings.threshold,
        effective_threshold,
        learnt: learnt.map(|learnt| LearntView {
            threshold: learnt.threshold,
            precision: learnt.precision,
            covered_answered: learnt.covered_answered,
            uncovered_answered: learnt.uncovered_answered,
            unrelated_answered: learnt.unrelated_answered,
            held_out: learnt.held_out,
            uncovered: learnt.uncovered,
            unrelated: learnt.unrelated,
        }),
        default_threshold: state.knowledge.default_policy().threshold,
        dictionary: settings.dictionary,
        updated_at: (settings.updated_at > 0)
            .then(|| validate::format_timestamp(settings.updated_at)),
    })
}

/// How the workspace's bot answers: its threshold and its business dictionary.
#[utoipa::path(get, path = "/api/v1/answer/settings", operation_id = "getAnswerSettings", tag = "knowledge", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The settings.", body = SettingsView), Errors))]
async fn answer_settings(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<SettingsView>> {
    let settings = state.store.answer_settings(agent.user.workspace_id).await?;
    Ok(ApiJson(settings_view(&state, agent.user.workspace_id, settings).await?))
}

/// New answer settings.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AnswerSettingsRequest)]
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

/// Replaces the answer settings; the bot answers with them when this returns (supervisors and
/// admins).
#[utoipa::path(put, path = "/api/v1/answer/settings", operation_id = "saveAnswerSettings", tag = "knowledge", request_body = SettingsRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = SettingsView), Errors))]
async fn save_answer_settings(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<SettingsRequest>,
) -> ApiResult<ApiJson<SettingsView>> {
    agent.require_manager()?;
    let settings = validate_settings(request.threshold, &request.dictionary)?;
    let saved = state.knowledge.save_settings(agent.user.workspace_id, settings).await?;
    Ok(ApiJson(settings_view(&state, agent.user.workspace_id, saved).await?))
}
