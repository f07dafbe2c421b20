//! Customer satisfaction (CSAT): each inbox's questions (a workspace settings document, checked
//! by `tandem_domain::csat`), the widget's rating of a resolved conversation by its customer,
//! and the agents' API for integrations that collect ratings themselves (e-mail, their app).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{Method, header};
use serde::{Deserialize, Serialize};
use tandem_domain::csat::{self, CsatSettings, InboxCsat, QuestionKind, Texts};
use tandem_domain::{Conversation, ConversationId, Inbox, InboxId, Locale, WorkspaceId};
use tandem_locales::Catalogue;
use tandem_store::Rating;
use tower_http::cors::{Any, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::api::agents::conversation_for;
use crate::api::widget::resolve_identity;
use crate::auth::{Agent, WidgetCustomer};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    // The widget's routes answer any origin, as the rest of the widget's API.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER]);
    let widget = OpenApiRouter::new()
        .routes(routes!(widget_questions))
        .routes(routes!(widget_rate))
        .layer(cors);
    OpenApiRouter::new()
        .routes(routes!(show_rating, record_rating))
        .routes(routes!(show_inbox_csat, save_inbox_csat))
        .merge(widget)
}

/// What an inbox asks when nobody configured it: a rating and a comment, worded by the
/// catalogue in both languages.
pub fn default_inbox_csat() -> InboxCsat {
    let text = |pick: fn(&tandem_locales::Phrases) -> &String| Texts {
        zh: pick(&Catalogue::for_locale(Locale::Zh).phrases).clone(),
        en: pick(&Catalogue::for_locale(Locale::En).phrases).clone(),
    };
    InboxCsat::default_with(
        text(|phrases| &phrases.csat_rating_question),
        text(|phrases| &phrases.csat_comment_question),
    )
}

/// The workspace's CSAT settings document (empty when never saved).
pub async fn settings(state: &AppState, workspace: WorkspaceId) -> ApiResult<CsatSettings> {
    match state.store.workspace_setting(workspace, csat::SETTINGS_KEY).await? {
        None => Ok(CsatSettings::default()),
        Some(value) => serde_json::from_value(value).map_err(ApiError::internal),
    }
}

/// The inbox's questions: as configured, else the defaults.
pub async fn inbox_csat(state: &AppState, inbox: &Inbox) -> ApiResult<InboxCsat> {
    let settings = settings(state, inbox.workspace_id).await?;
    Ok(settings.inbox(inbox.id).cloned().unwrap_or_else(default_inbox_csat))
}

/// An inbox of the agent's own workspace; others do not exist for them.
pub async fn inbox_of(state: &AppState, agent: &Agent, id: InboxId) -> ApiResult<Inbox> {
    state
        .store
        .inbox(id)
        .await?
        .filter(|inbox| inbox.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))
}

/// Checks and saves an inbox's questions (supervisors and admins, as the workspace's other
/// customer-facing settings); returns them as saved.
pub async fn save_for(
    state: &AppState,
    agent: &Agent,
    id: InboxId,
    csat: InboxCsat,
) -> ApiResult<InboxCsat> {
    agent.require_manager()?;
    let inbox = inbox_of(state, agent, id).await?;
    let csat = csat::inbox_csat(csat)?;
    let mut settings = settings(state, inbox.workspace_id).await?;
    settings.set_inbox(inbox.id, csat.clone());
    let value = serde_json::to_value(&settings).map_err(ApiError::internal)?;
    state.store.save_workspace_setting(inbox.workspace_id, csat::SETTINGS_KEY, value).await?;
    tracing::info!(inbox_id = %inbox.id, user_id = %agent.user.id, "csat questions saved");
    Ok(csat)
}

/// A customer's rating of a conversation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = CsatRating)]
pub struct RatingView {
    /// 1 to 5; absent only for imported history rated without one.
    pub rating: Option<u8>,
    pub comment: Option<String>,
    /// Answers to the inbox's further questions by question id: `true`/`false` for a yes/no
    /// question, 1 to 5 for a scale.
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, serde_json::Value>,
    /// When it was given (milliseconds since the epoch).
    pub rated_at: i64,
}

impl From<Rating> for RatingView {
    fn from(rating: Rating) -> Self {
        RatingView {
            rating: rating.rating,
            comment: rating.comment,
            answers: rating.answers,
            rated_at: rating.rated_at,
        }
    }
}

/// A rating, given by the customer or recorded for them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CsatRatingRequest)]
pub struct RatingRequest {
    /// 1 to 5.
    pub rating: i64,
    /// At most 1,000 characters; only when the inbox asks for a comment.
    pub comment: Option<String>,
    /// Answers to the inbox's further questions by id: `true`/`false` for a yes/no question,
    /// 1 to 5 for a scale. An id the inbox does not ask is `csat_unknown_question`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, serde_json::Value>,
}

/// A conversation's rating, if it has one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationRating)]
pub struct ConversationRating {
    /// `null` before the conversation was rated.
    pub rating: Option<RatingView>,
}

/// Checks a rating against the inbox's questions and stores it (the conversation must be
/// resolved: `conversation_not_resolved`; a second rating replaces the first).
pub async fn record(
    state: &AppState,
    conversation: &Conversation,
    csat: &InboxCsat,
    request: RatingRequest,
) -> ApiResult<RatingView> {
    let checked = csat::rating(csat, request.rating, request.comment.as_deref(), &request.answers)?;
    let rating = Rating {
        rating: Some(checked.rating),
        comment: checked.comment,
        answers: checked.answers,
        rated_at: tandem_store::now_millis(),
    };
    state.store.rate_conversation(conversation.id, rating).await?;
    let stored = state.store.rating(conversation.id).await?;
    stored.map(RatingView::from).ok_or(ApiError::NotFound(tandem_store::Entity::Conversation))
}

// ---------- the widget ----------

/// One question as the customer reads it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetCsatQuestion)]
pub struct WidgetQuestion {
    /// `rating`, `comment`, or a further question's id (the key of its answer).
    pub id: String,
    pub kind: QuestionKind,
    /// In the customer's language.
    pub text: String,
}

/// What the widget asks once the conversation is resolved.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetCsat)]
pub struct WidgetCsat {
    /// Whether the inbox asks for ratings at all.
    pub enabled: bool,
    /// Whether the conversation is resolved, so it may be rated now.
    pub resolved: bool,
    /// In order: the rating, further questions, the comment (when asked).
    pub questions: Vec<WidgetQuestion>,
    /// The customer's earlier rating of this conversation, if any.
    pub rating: Option<RatingView>,
}

/// The customer's own conversation (of the token's inbox); any other does not exist for them.
async fn own_conversation(
    state: &AppState,
    customer: &WidgetCustomer,
    id: i64,
) -> ApiResult<(Inbox, tandem_domain::Customer, Conversation)> {
    let (inbox, customer) = resolve_identity(state, customer.0).await?;
    let conversation = state
        .store
        .conversation(ConversationId(id))
        .await?
        .filter(|conversation| {
            conversation.customer_id == customer.id && conversation.inbox_id == inbox.id
        })
        .ok_or(ApiError::NotFound(tandem_store::Entity::Conversation))?;
    Ok((inbox, customer, conversation))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LocaleQuery {
    /// `zh` or `en`: the language the widget shows (its other sentences are in it too); the
    /// customer's own language when absent or unknown.
    locale: Option<String>,
}

/// The inbox's satisfaction questions for the customer's conversation, in the customer's
/// language, and their earlier rating of it.
#[utoipa::path(get, path = "/api/v1/widget/conversations/{id}/csat", operation_id = "getWidgetCsat", tag = "widget",
    params(("id" = i64, Path, description = "The customer's conversation."), LocaleQuery), security(("widgetToken" = [])),
    responses((status = 200, description = "The questions.", body = WidgetCsat), Errors))]
async fn widget_questions(
    State(state): State<AppState>,
    customer: WidgetCustomer,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<LocaleQuery>,
) -> ApiResult<ApiJson<WidgetCsat>> {
    let (inbox, customer, conversation) = own_conversation(&state, &customer, id).await?;
    let csat = inbox_csat(&state, &inbox).await?;
    let locale =
        query.locale.as_deref().and_then(Locale::parse).or(customer.locale).unwrap_or(Locale::En);
    let questions = csat
        .all_questions()
        .into_iter()
        .map(|(id, kind, text)| WidgetQuestion {
            id: id.to_owned(),
            kind,
            text: text.get(locale).to_owned(),
        })
        .collect();
    let rating = state.store.rating(conversation.id).await?.map(RatingView::from);
    Ok(ApiJson(WidgetCsat {
        enabled: csat.enabled,
        resolved: conversation.state == tandem_domain::ConversationState::Resolved,
        questions,
        rating,
    }))
}

/// The customer rates their resolved conversation (rate limited with their messages):
/// `conversation_not_resolved` before it is resolved, `csat_disabled` when the inbox does not
/// ask, `invalid_input` for a rating outside 1–5 or a comment over 1,000 characters,
/// `csat_unknown_question` for an answer to a question the inbox does not ask. A second rating
/// replaces the first. Writing again reopens the conversation, as always.
#[utoipa::path(post, path = "/api/v1/widget/conversations/{id}/rating", operation_id = "rateWidgetConversation", tag = "widget",
    params(("id" = i64, Path, description = "The customer's conversation.")), request_body = RatingRequest,
    security(("widgetToken" = [])),
    responses((status = 200, description = "Stored.", body = RatingView), Errors))]
async fn widget_rate(
    State(state): State<AppState>,
    customer: WidgetCustomer,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<RatingRequest>,
) -> ApiResult<ApiJson<RatingView>> {
    let (inbox, customer, conversation) = own_conversation(&state, &customer, id).await?;
    state
        .limits
        .widget_messages
        .check(&customer.id)
        .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
    let csat = inbox_csat(&state, &inbox).await?;
    if !csat.enabled {
        return Err(ApiError::CsatDisabled);
    }
    Ok(ApiJson(record(&state, &conversation, &csat, request).await?))
}

// ---------- agents and integrations ----------

/// A conversation's customer rating (`rating: null` before it was rated).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/rating", operation_id = "getConversationRating", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The rating.", body = ConversationRating), Errors))]
async fn show_rating(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<ConversationRating>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let rating = state.store.rating(conversation.id).await?.map(RatingView::from);
    Ok(ApiJson(ConversationRating { rating }))
}

/// Records the customer's rating of a resolved conversation that an integration collected
/// itself (an e-mail link, its own app), checked against the inbox's questions as the widget's
/// is, whether or not the widget asks (`conversation_not_resolved`, `invalid_input`,
/// `csat_unknown_question`). A second rating replaces the first.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/rating", operation_id = "recordConversationRating", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), request_body = RatingRequest,
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Stored.", body = ConversationRating), Errors))]
async fn record_rating(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<RatingRequest>,
) -> ApiResult<ApiJson<ConversationRating>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let inbox = state
        .store
        .inbox(conversation.inbox_id)
        .await?
        .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))?;
    let csat = inbox_csat(&state, &inbox).await?;
    let rating = record(&state, &conversation, &csat, request).await?;
    Ok(ApiJson(ConversationRating { rating: Some(rating) }))
}

/// The inbox's satisfaction questions (the defaults when never saved). Any agent may read them.
#[utoipa::path(get, path = "/api/v1/inboxes/{id}/csat", operation_id = "getInboxCsat", tag = "inboxes",
    params(("id" = i64, Path, description = "The inbox.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The questions.", body = InboxCsat), Errors))]
async fn show_inbox_csat(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<InboxCsat>> {
    let inbox = inbox_of(&state, &agent, InboxId(id)).await?;
    Ok(ApiJson(inbox_csat(&state, &inbox).await?))
}

/// Replaces the inbox's satisfaction questions (supervisors and admins): the rating's wording,
/// the comment question (or `null` for none) and up to 3 further questions (`yes_no` or
/// `scale`), each in Chinese and English.
#[utoipa::path(put, path = "/api/v1/inboxes/{id}/csat", operation_id = "saveInboxCsat", tag = "inboxes",
    params(("id" = i64, Path, description = "The inbox.")), request_body = InboxCsat,
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = InboxCsat), Errors))]
async fn save_inbox_csat(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<InboxCsat>,
) -> ApiResult<ApiJson<InboxCsat>> {
    Ok(ApiJson(save_for(&state, &agent, InboxId(id), request).await?))
}
