//! The API channel: a business connects any messaging app, or its own app, to an inbox whose
//! channel is `api`. It posts its customers' messages here, authenticated by the inbox's key
//! (`X-Tandem-Inbox: pk_…` and `Authorization: Bearer <the inbox's identity secret>`); the
//! bot's and the agents' replies reach it as signed `message.created` webhooks of an endpoint
//! bound to the inbox (sent one at a time per conversation, in `seq` order), or by polling.
//!
//! A customer is the business's user, found or created by the business's id and marked
//! verified: the key vouches for them as a signed `user_hash` does for the widget, so the
//! same user signed in on the business's site is the same customer.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_domain::{
    Channel, Customer, IdentityKind, Inbox, Locale, Message, Problem, ValidationError, validate,
};
use tandem_store::VerifiedCustomer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::api::widget::{self, SendRequest, WidgetConversation};
use crate::auth::bearer_token;
use crate::channels::claim_identity;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

/// The header that names the inbox by its public key.
pub const INBOX_HEADER: &str = "x-tandem-inbox";

/// Longest business user id, in bytes (as for identity verification).
const MAX_CUSTOMER_ID: usize = 255;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_message)).routes(routes!(list_messages))
}

/// An API-channel inbox whose key the request carries: its public key in `X-Tandem-Inbox` and
/// its identity secret as the bearer token, compared in constant time.
#[derive(Debug)]
pub struct ChannelInbox(pub Inbox);

impl FromRequestParts<AppState> for ChannelInbox {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = bearer_token(parts).ok_or(ApiError::Unauthorized)?;
        let public_key = parts
            .headers
            .get(INBOX_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|key| !key.is_empty())
            // The public key is half of the credential: without it there is none.
            .ok_or(ApiError::Unauthorized)?;
        let inbox = state
            .store
            .inbox_by_public_key(public_key)
            .await?
            .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))?;
        let expected = state
            .store
            .inbox_identity_secret(inbox.id)
            .await?
            .ok_or(ApiError::NotFound(tandem_store::Entity::Inbox))?;
        if !crate::metrics::same_secret(secret, &expected) {
            // Neither secret is ever logged.
            tracing::warn!(inbox_id = %inbox.id, "API channel call with a wrong inbox secret");
            return Err(ApiError::InvalidToken);
        }
        if inbox.channel != Channel::Api {
            return Err(ApiError::NotApiInbox);
        }
        Ok(ChannelInbox(inbox))
    }
}

/// The business's user who wrote the message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChannelCustomer)]
pub struct CustomerRef {
    /// The business's own id of its user (1 to 255 bytes, no control characters): the same
    /// id is the same customer, in every conversation and on the widget.
    pub id: String,
    /// The name agents see (a new customer without one is named by `id`).
    pub name: Option<String>,
    /// The user's e-mail address, as the business knows it: mail from this address reaches
    /// this customer, and a customer who wrote from it before is merged into this one.
    pub email: Option<String>,
    /// The user's phone number (digits, an optional leading `+`; spaces and dashes are
    /// ignored), held as this customer's the same way.
    pub phone: Option<String>,
    /// `zh` or `en`: the language the bot answers a new customer in.
    pub locale: Option<String>,
}

/// A phone number as an identity holds it: `+` and digits only, 5 to 20 digits.
fn phone_number(text: &str) -> Result<String, ValidationError> {
    let kept: String = text.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
    let digits = kept.strip_prefix('+').unwrap_or(&kept);
    if digits.len() < 5 || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let problem =
            Problem::Identifier { value: text.to_owned(), max: 20, allowed: "+ 0-9".to_owned() };
        return Err(ValidationError::new("customer.phone", problem));
    }
    Ok(kept)
}

/// A customer's message, posted by the business.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChannelSendRequest)]
pub struct ChannelSend {
    pub customer: CustomerRef,
    /// 1 to 4,000 characters.
    pub text: String,
    /// The business's id of this message (1 to 64 of `A-Z a-z 0-9 - _ . :`): a retry with
    /// the same id returns the stored message instead of storing a copy.
    pub client_msg_id: String,
}

/// A stored customer message and where its conversation stands.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ChannelSent)]
pub struct ChannelSent {
    pub customer_id: i64,
    pub conversation_id: i64,
    pub message: Message,
    pub conversation: WidgetConversation,
}

/// A refused value named as this request has it (`customer.name`, `text`).
fn named(field: &'static str) -> impl Fn(ValidationError) -> ValidationError {
    move |error| ValidationError { field, ..error }
}

/// The request's customer, found or created by the business's id and marked verified.
async fn channel_customer(
    state: &AppState,
    inbox: &Inbox,
    customer: CustomerRef,
) -> ApiResult<Customer> {
    let id = customer.id.trim();
    if id.is_empty() || id.len() > MAX_CUSTOMER_ID {
        let problem = Problem::Bytes { min: 1, max: MAX_CUSTOMER_ID };
        return Err(ApiError::Invalid(ValidationError::new("customer.id", problem)));
    }
    if id.chars().any(char::is_control) {
        let problem = Problem::ControlCharacters;
        return Err(ApiError::Invalid(ValidationError::new("customer.id", problem)));
    }
    let name = match customer.name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => Some(validate::display_name(name).map_err(named("customer.name"))?),
        None => None,
    };
    let email = match customer.email.as_deref().map(str::trim).filter(|email| !email.is_empty()) {
        Some(email) => Some(validate::email(email).map_err(named("customer.email"))?),
        None => None,
    };
    let phone = match customer.phone.as_deref().map(str::trim).filter(|phone| !phone.is_empty()) {
        Some(phone) => Some(phone_number(phone)?),
        None => None,
    };
    let locale = match customer.locale.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => Some(Locale::parse(&text.to_lowercase()).ok_or_else(|| {
            let allowed: Vec<&str> = Locale::ALL.iter().map(|locale| locale.as_str()).collect();
            ValidationError::new("customer.locale", Problem::not_one_of(text, &allowed))
        })?),
        None => None,
    };
    let found = state
        .store
        .verified_customer(VerifiedCustomer {
            workspace_id: inbox.workspace_id,
            external_id: id.to_owned(),
            name,
            email: email.clone(),
            locale,
            attributes: BTreeMap::from([("source".to_owned(), "api channel".to_owned())]),
        })
        .await?;
    if let Some(email) = email {
        claim_identity(state, &found, IdentityKind::Email, &email.to_lowercase()).await?;
    }
    if let Some(phone) = phone {
        claim_identity(state, &found, IdentityKind::Phone, &phone).await?;
    }
    Ok(found)
}

/// Stores a customer's message in their current conversation of the inbox (a new one if they
/// have none, a resolved one reopened) and runs the bot's turn; the bot's and agents' replies
/// reach the inbox's webhook endpoints (`message.created`) in `seq` order. Needs the inbox's
/// key; the inbox's channel must be `api`. Rate limited per customer as the widget is.
#[utoipa::path(post, path = "/api/v1/channel/messages", operation_id = "sendChannelMessage", tag = "channel",
    request_body = ChannelSend, security(("inboxKey" = [], "inboxPublicKey" = [])),
    responses(
        (status = 201, description = "Stored.", body = ChannelSent),
        (status = 200, description = "Already stored with this `client_msg_id`: the stored message.", body = ChannelSent),
        Errors))]
async fn send_message(
    State(state): State<AppState>,
    ChannelInbox(inbox): ChannelInbox,
    ApiJson(request): ApiJson<ChannelSend>,
) -> ApiResult<impl IntoResponse> {
    // Checked before anything is stored, and named as this request names them.
    validate::message_body(&request.text).map_err(named("text"))?;
    validate::client_msg_id(&request.client_msg_id)?;
    let customer = channel_customer(&state, &inbox, request.customer).await?;
    let customer_id = customer.id.0;
    let send = SendRequest { client_msg_id: Some(request.client_msg_id), body: request.text };
    let appended = widget::send(&state, inbox, customer, send).await?;
    let status = if appended.created { StatusCode::CREATED } else { StatusCode::OK };
    let conversation = WidgetConversation::load(&state, &appended.conversation).await?;
    Ok((
        status,
        ApiJson(ChannelSent {
            customer_id,
            conversation_id: appended.conversation.id.0,
            message: appended.message,
            conversation,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AfterSeq {
    /// Only messages with a greater `seq` (0 by default: from the start).
    #[serde(default)]
    after_seq: i64,
}

/// A conversation's messages as its customer sees them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ChannelMessages)]
struct ChannelMessages {
    conversation: WidgetConversation,
    /// Oldest first, at most 200 (ask again after the last `seq` for more); internal notes
    /// are never included.
    messages: Vec<Message>,
}

/// A conversation's messages after `after_seq`, for a business that polls instead of (or as
/// well as) receiving webhooks. Only the inbox's own conversations; needs the inbox's key.
#[utoipa::path(get, path = "/api/v1/channel/conversations/{id}/messages", operation_id = "listChannelMessages", tag = "channel",
    params(("id" = i64, Path, description = "The conversation."), AfterSeq),
    security(("inboxKey" = [], "inboxPublicKey" = [])),
    responses((status = 200, description = "The conversation and its messages.", body = ChannelMessages), Errors))]
async fn list_messages(
    State(state): State<AppState>,
    ChannelInbox(inbox): ChannelInbox,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<AfterSeq>,
) -> ApiResult<ApiJson<ChannelMessages>> {
    let conversation = state
        .store
        .conversation(tandem_domain::ConversationId(id))
        .await?
        .filter(|conversation| conversation.inbox_id == inbox.id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::Conversation))?;
    let messages = widget::visible_messages(&state, conversation.id, query.after_seq).await?;
    let conversation = WidgetConversation::load(&state, &conversation).await?;
    Ok(ApiJson(ChannelMessages { conversation, messages }))
}
