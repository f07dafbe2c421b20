//! The widget's public API: open a session, read and send messages, ask for a person.
//! Callers are identified by the inbox's public key and then by a signed customer token.
//!
//! Identity verification: a business that signs its logged-in user's id with the inbox's
//! identity secret (see [`crate::auth::user_hash`]) gets that user's one verified customer,
//! whichever device the session is opened on. A token of a verified customer is resumed only
//! with a valid hash for them, so a page without one (after the user signed out) never shows
//! their conversation; the earlier anonymous visitor of a browser whose user then signs in
//! keeps their own conversation, which is not merged into the verified customer's.

use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tandem_domain::{
    Conversation, ConversationId, ConversationState, Customer, Inbox, Locale, Message, Problem,
    ValidationError, validate,
};
use tandem_flow::CustomerSend;
use tandem_store::{Appended, NewCustomer, VerifiedCustomer};
use tower_http::cors::{Any, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::{ClientIp, WidgetCustomer, WidgetIdentity, verify_user_hash};
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};

/// Most messages returned by one read.
pub const PAGE: u32 = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    // The widget runs on the business's own site, so its API answers any origin. It uses no
    // cookies: the token travels in a header.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER]);
    OpenApiRouter::new()
        .routes(routes!(open_session))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(hand_off))
        .layer(cors)
}

/// Opens a widget session for a visitor of an inbox.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WidgetSessionRequest)]
struct SessionRequest {
    /// The inbox's public key (`data-inbox` of the script tag).
    inbox_key: String,
    /// The token of an earlier session in this browser: the same (anonymous) customer again.
    token: Option<String>,
    /// `zh` or `en`: the new customer's language.
    locale: Option<String>,
    /// The business's id of its logged-in user; needs `user_hash`.
    user_id: Option<String>,
    /// Hex HMAC-SHA256 of `user_id` keyed with the inbox's identity secret.
    user_hash: Option<String>,
    /// The verified user's name and e-mail, taken as given (only the id is signed); ignored
    /// for anonymous visitors.
    name: Option<String>,
    email: Option<String>,
}

/// Longest external user id, in bytes.
const MAX_USER_ID: usize = 255;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetSession)]
struct SessionResponse {
    /// Send as `Authorization: Bearer` (or `?token=` on the socket).
    token: String,
    customer: CustomerSummary,
    inbox: InboxSummary,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetCustomer)]
struct CustomerSummary {
    id: i64,
    name: String,
    /// Whether the business vouched for this customer (identity verification).
    verified: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetInbox)]
struct InboxSummary {
    name: String,
    bot_name: String,
}

/// A waiting conversation's place in its queue, if routing knows it.
pub async fn queue_place(state: &AppState, conversation: &Conversation) -> Option<QueuePlace> {
    match state.routing.wait_estimate(conversation).await {
        Ok(estimate) => estimate.map(|estimate| QueuePlace {
            position: estimate.position,
            eta_seconds: estimate.eta_ms.map(|ms| (ms + 999) / 1000),
            open: estimate.open,
        }),
        Err(error) => {
            tracing::warn!(conversation_id = %conversation.id, %error, "no queue estimate");
            None
        }
    }
}

/// A conversation as its customer sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WidgetConversation {
    pub id: i64,
    pub state: ConversationState,
    pub assignee_name: Option<String>,
    /// While waiting for a person: the customer's place in the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueuePlace>,
    /// After hours: when a person will pick the conversation up (milliseconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up_at: Option<i64>,
}

impl WidgetConversation {
    /// When an after-hours ticket of this conversation joins the queue.
    pub fn follow_up_at(conversation: &Conversation) -> Option<i64> {
        conversation
            .route
            .as_ref()
            .and_then(|route| route.follow_up_at)
            .filter(|_| conversation.state == ConversationState::Bot)
    }
}

/// Where a waiting customer stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueuePlace {
    /// 1 = next.
    pub position: u32,
    /// Estimated seconds until a person joins; absent when unknown.
    pub eta_seconds: Option<i64>,
    /// Whether the queue is staffed now (business hours).
    pub open: bool,
}

impl WidgetConversation {
    pub async fn load(
        state: &AppState,
        conversation: &Conversation,
    ) -> ApiResult<WidgetConversation> {
        let assignee_name = match conversation.assignee_id {
            Some(user) => state.store.user(user).await?.map(|user| user.display_name),
            None => None,
        };
        let queue = if conversation.state == ConversationState::Queued {
            queue_place(state, conversation).await
        } else {
            None
        };
        Ok(WidgetConversation {
            id: conversation.id.0,
            state: conversation.state,
            assignee_name,
            queue,
            follow_up_at: WidgetConversation::follow_up_at(conversation),
        })
    }
}

/// The customer's current conversation and its messages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetMessages)]
struct MessagesResponse {
    /// `null` before the customer's first message.
    conversation: Option<WidgetConversation>,
    /// Oldest first, at most 200; internal notes are never included.
    messages: Vec<Message>,
}

/// A stored customer message and where its conversation stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetSent)]
pub struct SendResponse {
    pub message: Message,
    pub conversation: WidgetConversation,
}

/// The conversation, now with people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WidgetHandoff)]
struct HandoffResponse {
    conversation: WidgetConversation,
}

/// Opens a widget session: a new anonymous visitor, the returning visitor of `token`, or (with
/// `user_id` and `user_hash`, see identity verification) the business's signed-in user as
/// their one verified customer on every device. New visitors are rate limited per address.
#[utoipa::path(post, path = "/api/v1/widget/session", operation_id = "openWidgetSession", tag = "widget",
    request_body = SessionRequest,
    responses((status = 200, description = "The session.", body = SessionResponse), Errors))]
async fn open_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<SessionRequest>,
) -> ApiResult<ApiJson<SessionResponse>> {
    let inbox = state
        .store
        .inbox_by_public_key(&request.inbox_key)
        .await?
        .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))?;
    let locale = request.locale.as_deref().and_then(Locale::parse);
    if request.user_id.is_some() || request.user_hash.is_some() {
        let customer = verified_visitor(&state, &inbox, request, locale).await?;
        return Ok(session(&state, inbox, customer));
    }
    let returning = match request
        .token
        .as_deref()
        .and_then(|token| WidgetIdentity::verify(token, &state.secret))
    {
        // A verified customer's token is resumed only with their hash (above).
        Some(identity) if identity.inbox_id == inbox.id => {
            state.store.customer(identity.customer_id).await?.filter(|customer| !customer.verified)
        }
        _ => None,
    };
    let customer = match returning {
        Some(customer) => customer,
        None => {
            state
                .limits
                .widget_sessions
                .take(state.store.as_ref(), &ip)
                .await
                .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
            new_visitor(&state, &inbox, locale).await?
        }
    };
    Ok(session(&state, inbox, customer))
}

fn session(state: &AppState, inbox: Inbox, customer: Customer) -> ApiJson<SessionResponse> {
    let token = WidgetIdentity { inbox_id: inbox.id, customer_id: customer.id }.sign(&state.secret);
    ApiJson(SessionResponse {
        token,
        customer: CustomerSummary {
            id: customer.id.0,
            name: customer.name,
            verified: customer.verified,
        },
        inbox: InboxSummary { name: inbox.name, bot_name: inbox.bot_name },
    })
}

/// The verified customer whose id the business signed, found or created; `identity_mismatch`
/// when the hash does not match (or half of the pair is missing).
async fn verified_visitor(
    state: &AppState,
    inbox: &Inbox,
    request: SessionRequest,
    locale: Option<Locale>,
) -> ApiResult<Customer> {
    let (Some(user_id), Some(user_hash)) = (request.user_id, request.user_hash) else {
        return Err(ApiError::IdentityMismatch);
    };
    if user_id.is_empty() || user_id.len() > MAX_USER_ID {
        let problem = Problem::Bytes { min: 1, max: MAX_USER_ID };
        return Err(ApiError::Invalid(ValidationError::new("user_id", problem)));
    }
    if user_id.chars().any(char::is_control) {
        return Err(ApiError::Invalid(ValidationError::new("user_id", Problem::ControlCharacters)));
    }
    let secret = state
        .store
        .inbox_identity_secret(inbox.id)
        .await?
        .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))?;
    if !verify_user_hash(&secret, &user_id, &user_hash) {
        // The hash and the secret are never logged.
        tracing::warn!(inbox_id = %inbox.id, "widget identity hash mismatch");
        return Err(ApiError::IdentityMismatch);
    }
    let name = match request.name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => Some(
            validate::display_name(name)
                .map_err(|error| ValidationError { field: "name", ..error })?,
        ),
        None => None,
    };
    let email = match request.email.as_deref().map(str::trim).filter(|email| !email.is_empty()) {
        Some(email) => Some(validate::email(email)?),
        None => None,
    };
    let customer = state
        .store
        .verified_customer(VerifiedCustomer {
            workspace_id: inbox.workspace_id,
            external_id: user_id,
            name,
            email: email.clone(),
            locale,
            attributes: BTreeMap::from([("source".to_owned(), "web widget".to_owned())]),
        })
        .await?;
    // `user_hash` signs the user's id, not the address the page passed along: the address is
    // recorded as theirs (mail from it then reaches this customer) unless another customer
    // holds it, and is never grounds for an automatic merge. The API channel, where the
    // business itself sends the address with its key, merges on it.
    if let Some(email) = email {
        let email = email.to_lowercase();
        let kind = tandem_domain::IdentityKind::Email;
        state.store.attach_identity(customer.id, kind, &email, false).await?;
    }
    Ok(customer)
}

async fn new_visitor(
    state: &AppState,
    inbox: &Inbox,
    locale: Option<Locale>,
) -> ApiResult<Customer> {
    let number = rand::random_range(1000..10000);
    let name = match locale {
        Some(Locale::Zh) => format!("访客 {number}"),
        _ => format!("Visitor {number}"),
    };
    Ok(state
        .store
        .create_customer(NewCustomer {
            workspace_id: inbox.workspace_id,
            name,
            email: None,
            locale,
            attributes: BTreeMap::from([("source".to_owned(), "web widget".to_owned())]),
        })
        .await?)
}

/// The inbox and customer behind a widget token; an unknown customer means a stale token.
pub async fn resolve_identity(
    state: &AppState,
    identity: WidgetIdentity,
) -> ApiResult<(Inbox, Customer)> {
    let inbox = state.store.inbox(identity.inbox_id).await?.ok_or(ApiError::InvalidToken)?;
    let customer =
        state.store.customer(identity.customer_id).await?.ok_or(ApiError::InvalidToken)?;
    Ok((inbox, customer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AfterSeq {
    /// Only messages with a greater `seq`.
    #[serde(default)]
    after_seq: i64,
}

/// The customer's conversation and its messages after `after_seq`.
#[utoipa::path(get, path = "/api/v1/widget/messages", operation_id = "listWidgetMessages", tag = "widget", params(AfterSeq),
    security(("widgetToken" = [])),
    responses((status = 200, description = "The conversation and its messages.", body = MessagesResponse), Errors))]
async fn list_messages(
    State(state): State<AppState>,
    WidgetCustomer(identity): WidgetCustomer,
    ApiQuery(query): ApiQuery<AfterSeq>,
) -> ApiResult<ApiJson<MessagesResponse>> {
    resolve_identity(&state, identity).await?;
    let Some(conversation) =
        state.store.latest_conversation(identity.inbox_id, identity.customer_id).await?
    else {
        return Ok(ApiJson(MessagesResponse { conversation: None, messages: Vec::new() }));
    };
    let messages = visible_messages(&state, conversation.id, query.after_seq).await?;
    let conversation = Some(WidgetConversation::load(&state, &conversation).await?);
    Ok(ApiJson(MessagesResponse { conversation, messages }))
}

/// Up to [`PAGE`] messages after `after_seq` that the customer may see. Fewer than a page
/// means there are no more, however many internal notes were skipped.
pub async fn visible_messages(
    state: &AppState,
    conversation: ConversationId,
    mut after_seq: i64,
) -> ApiResult<Vec<Message>> {
    let mut visible = Vec::new();
    loop {
        let page = state.store.messages(conversation, after_seq, PAGE).await?;
        let exhausted = page.len() < PAGE as usize;
        after_seq = page.last().map_or(after_seq, |message| message.seq);
        for message in page {
            if message.author_kind.visible_to_customer() && visible.len() < PAGE as usize {
                visible.push(message);
            }
        }
        if exhausted || visible.len() >= PAGE as usize {
            return Ok(visible);
        }
    }
}

/// A customer's message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WidgetSendRequest)]
pub struct SendRequest {
    /// The sender's id for this message (1 to 64 of `A-Z a-z 0-9 - _ . :`): a retry with the
    /// same id returns the stored message instead of storing a copy.
    pub client_msg_id: Option<String>,
    /// 1 to 4,000 characters.
    pub body: String,
}

/// Stores a customer's message (rate limited); shared by the REST endpoint and the socket.
/// A retry of a message already stored answers it even when the limit would refuse a new
/// one: the retry stores nothing, and refusing it would tell the widget its message was lost.
pub async fn send(
    state: &AppState,
    inbox: Inbox,
    customer: Customer,
    request: SendRequest,
) -> ApiResult<Appended> {
    if let Err(retry_after_secs) =
        state.limits.widget_messages.take(state.store.as_ref(), &customer.id).await
    {
        if let Some(stored) = already_stored(state, &inbox, &customer, &request).await? {
            return Ok(stored);
        }
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    Ok(state
        .relay
        .customer_message(CustomerSend {
            inbox,
            customer,
            client_msg_id: request.client_msg_id,
            body: request.body,
        })
        .await?)
}

/// The message a send's `client_msg_id` names, if the customer's current conversation (where
/// the store would put the message) has it already.
async fn already_stored(
    state: &AppState,
    inbox: &Inbox,
    customer: &Customer,
    request: &SendRequest,
) -> ApiResult<Option<Appended>> {
    let Some(client_msg_id) = request.client_msg_id.as_deref() else {
        return Ok(None);
    };
    let Some(conversation) = state.store.latest_conversation(inbox.id, customer.id).await? else {
        return Ok(None);
    };
    let stored = state.store.message_by_client_id(conversation.id, client_msg_id).await?;
    Ok(stored.map(|message| Appended { message, conversation, created: false }))
}

/// Stores the customer's message (in their current conversation, reopening a resolved one)
/// and answers once it is durable; the bot's reply arrives on the socket. Rate limited per
/// customer.
#[utoipa::path(post, path = "/api/v1/widget/messages", operation_id = "sendWidgetMessage", tag = "widget",
    request_body = SendRequest, security(("widgetToken" = [])),
    responses(
        (status = 201, description = "Stored.", body = SendResponse),
        (status = 200, description = "Already stored with this `client_msg_id`: the stored message.", body = SendResponse),
        Errors))]
async fn send_message(
    State(state): State<AppState>,
    WidgetCustomer(identity): WidgetCustomer,
    ApiJson(request): ApiJson<SendRequest>,
) -> ApiResult<impl IntoResponse> {
    let (inbox, customer) = resolve_identity(&state, identity).await?;
    let appended = send(&state, inbox, customer, request).await?;
    let status = if appended.created { StatusCode::CREATED } else { StatusCode::OK };
    let conversation = WidgetConversation::load(&state, &appended.conversation).await?;
    Ok((status, ApiJson(SendResponse { message: appended.message, conversation })))
}

/// The customer asks for a person: their conversation joins a queue with a hand-off packet
/// (`illegal_transition` when people already have it).
#[utoipa::path(post, path = "/api/v1/widget/handoff", operation_id = "requestPerson", tag = "widget",
    security(("widgetToken" = [])),
    responses((status = 200, description = "Queued.", body = HandoffResponse), Errors))]
async fn hand_off(
    State(state): State<AppState>,
    WidgetCustomer(identity): WidgetCustomer,
) -> ApiResult<ApiJson<HandoffResponse>> {
    let (inbox, customer) = resolve_identity(&state, identity).await?;
    let conversation = state.relay.request_person(&inbox, &customer).await?;
    let conversation = WidgetConversation::load(&state, &conversation).await?;
    Ok(ApiJson(HandoffResponse { conversation }))
}
