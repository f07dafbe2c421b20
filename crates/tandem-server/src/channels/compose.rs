//! An agent writes to a customer on another channel than the one they last wrote on: by
//! e-mail, to a customer who chatted on the widget and left. The message starts a new
//! conversation in the workspace's e-mail inbox, assigned to the agent, and leaves through that
//! inbox's outbox like any reply; the customer's answer threads back into it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_domain::{
    AuthorKind, Channel, CustomerId, ExternalMeta, IdentityKind, Inbox, Message, MessageMeta,
    Problem, ValidationError, validate,
};
use tandem_store::{MessageTarget, NewMessage};

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

/// Longest subject, in characters.
const MAX_SUBJECT: usize = 200;

/// An e-mail to a customer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEmail {
    /// 1 to 4,000 characters.
    pub body: String,
    /// The subject (up to 200 characters); the workspace's e-mail inbox's name by default.
    #[serde(default)]
    pub subject: Option<String>,
}

/// The e-mail conversation started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmailStarted {
    pub conversation_id: i64,
    /// The address it goes to.
    pub to: String,
    pub message: Message,
}

/// The address to write to: a verified e-mail identity first, then any, then the profile's.
pub(crate) async fn address_of(
    state: &AppState,
    customer: CustomerId,
) -> ApiResult<Option<String>> {
    let mut identities: Vec<_> = state
        .store
        .customer_identities(customer)
        .await?
        .into_iter()
        .filter(|identity| identity.kind == IdentityKind::Email)
        .collect();
    identities.sort_by_key(|identity| !identity.verified);
    if let Some(identity) = identities.into_iter().next() {
        return Ok(Some(identity.value));
    }
    Ok(state.store.customer(customer).await?.and_then(|customer| customer.email))
}

/// The workspace's e-mail inbox that has settings (the oldest, when there are several).
pub(crate) async fn email_inbox(state: &AppState, agent: &Agent) -> ApiResult<Option<Inbox>> {
    Ok(state
        .store
        .channel_inboxes(Channel::Email)
        .await?
        .into_iter()
        .map(|(inbox, _)| inbox)
        .find(|inbox| inbox.workspace_id == agent.user.workspace_id))
}

/// Starts an e-mail conversation with the customer, assigned to `agent`.
pub(crate) async fn start_email(
    state: &AppState,
    agent: &Agent,
    customer: CustomerId,
    request: NewEmail,
) -> ApiResult<EmailStarted> {
    let customer = crate::api::customers::workspace_customer(state, agent, customer.0).await?;
    let body = validate::message_body(&request.body)?;
    let subject = match request.subject.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(subject) => Some(validate::one_line("subject", subject, MAX_SUBJECT)?),
        None => None,
    };
    let to = address_of(state, customer.id)
        .await?
        .ok_or_else(|| ValidationError::new("to", Problem::NotAnEmail))?;
    let inbox = email_inbox(state, agent).await?.ok_or(ApiError::ChannelNotConfigured)?;
    // The customer's answer comes from this address: it must find this customer (unless
    // another customer already holds the address, whose answer then starts its own thread).
    state
        .store
        .attach_identity(customer.id, IdentityKind::Email, &to.to_lowercase(), false)
        .await?;
    let subject = subject.unwrap_or_else(|| inbox.name.clone());
    // The conversation opens with a line for agents naming who wrote to whom; its `external`
    // is where the reply goes and under which subject.
    let opened = state
        .store
        .append_message(NewMessage {
            target: MessageTarget::NewConversation { inbox_id: inbox.id, customer_id: customer.id },
            author_kind: AuthorKind::System,
            author_id: None,
            author_name: None,
            body: format!("{} → {to}", agent.user.display_name),
            client_msg_id: None,
            reopen_if_resolved: false,
            only_while_bot_owns: false,
            meta: Some(MessageMeta {
                external: Some(ExternalMeta {
                    subject: Some(subject),
                    reply_to: Some(to.clone()),
                    ..ExternalMeta::default()
                }),
                ..MessageMeta::default()
            }),
            decision: None,
            sentiment: None,
        })
        .await?;
    let sent =
        state.relay.agent_message(&opened.conversation, &agent.user, &body, None, false).await?;
    tracing::info!(conversation_id = %opened.conversation.id, user_id = %agent.user.id, "e-mail conversation started by an agent");
    Ok(EmailStarted { conversation_id: opened.conversation.id.0, to, message: sent.message })
}

/// Writes to the customer by e-mail (any agent): a new conversation in the workspace's e-mail
/// inbox, assigned to the caller, whose first message is this one. For a customer reached on
/// another channel (a widget visitor who left) at their e-mail address: a verified e-mail
/// identity first, then any, then the profile's. `422 invalid_input` (`to`) when the customer
/// has none; `404 channel_not_configured` when no e-mail inbox has settings.
#[utoipa::path(post, path = "/api/v1/customers/{id}/emails", operation_id = "emailCustomer", tag = "customers",
    params(("id" = i64, Path, description = "The customer.")), request_body = NewEmail,
    security(("session" = []), ("apiToken" = [])),
    responses((status = 201, description = "Stored; it leaves through the e-mail inbox's outbox.", body = EmailStarted), Errors))]
pub(super) async fn email_customer(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<NewEmail>,
) -> ApiResult<impl IntoResponse> {
    let started = start_email(&state, &agent, CustomerId(id), request).await?;
    Ok((StatusCode::CREATED, ApiJson(started)))
}
