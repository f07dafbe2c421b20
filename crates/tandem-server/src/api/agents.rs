//! The agents' API: conversations, messages, ownership changes, users and API tokens.
//! Authenticated by session cookie (with `X-CSRF-Token` on writes) or `Bearer` API token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_domain::{
    Conversation, ConversationId, ConversationState, Customer, LlmUsage, Locale, Message, Problem,
    Role, Transition, User, UserId, ValidationError, Wrapup, validate,
};
use tandem_store::{ConversationFilter, NewUser, UserUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::{Agent, hash_password};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_conversations))
        .routes(routes!(show_conversation))
        .routes(routes!(put_wrapup_topic))
        .routes(routes!(list_messages, post_message))
        .routes(routes!(post_transition))
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
}

/// The signed-in user (or the API token's).
#[utoipa::path(get, path = "/api/v1/me", operation_id = "getMe", tag = "agents", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The caller.", body = User), Errors))]
async fn me(agent: Agent) -> ApiJson<User> {
    ApiJson(agent.user)
}

/// Loads a conversation of the agent's own workspace; others do not exist for them.
pub async fn conversation_for(state: &AppState, agent: &Agent, id: i64) -> ApiResult<Conversation> {
    state
        .store
        .conversation(ConversationId(id))
        .await?
        .filter(|conversation| conversation.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::Conversation))
}

/// Which conversations an inbox view lists.
pub fn filter_for(view: &str, agent: &Agent) -> Option<ConversationFilter> {
    Some(match view {
        "mine" => ConversationFilter::Mine(agent.user.id),
        "open" => ConversationFilter::Open,
        "all" => ConversationFilter::All,
        state => ConversationFilter::State(ConversationState::parse(state)?),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `mine`, `bot`, `queued`, `human`, `resolved`, `open` (the default: not resolved) or `all`.
    view: Option<String>,
    /// 1 to 500 (50 by default), newest activity first.
    limit: Option<u32>,
}

/// Conversations of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Conversations {
    conversations: Vec<Conversation>,
}

/// The workspace's conversations in one of the inbox views, newest activity first.
#[utoipa::path(get, path = "/api/v1/conversations", operation_id = "listConversations", tag = "agents", params(ListQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The conversations.", body = Conversations), Errors))]
async fn list_conversations(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<ApiJson<Conversations>> {
    let view = query.view.as_deref().unwrap_or("open");
    let filter = filter_for(view, &agent).ok_or_else(|| {
        let views = ["mine", "bot", "queued", "human", "resolved", "open", "all"];
        ApiError::Invalid(ValidationError::new("view", Problem::not_one_of(view, &views)))
    })?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let conversations = state.store.conversations(agent.user.workspace_id, filter, limit).await?;
    Ok(ApiJson(Conversations { conversations }))
}

/// A conversation with its customer, its assignee and what the model cost it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ConversationDetail {
    conversation: Conversation,
    customer: Option<Customer>,
    assignee: Option<User>,
    /// The model calls of the conversation's bot turns, added up.
    llm_usage: LlmUsage,
    /// What the conversation came to, written when it was last resolved; absent before.
    #[serde(skip_serializing_if = "Option::is_none")]
    wrapup: Option<Wrapup>,
}

/// One conversation of the caller's workspace.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", operation_id = "getConversation", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The conversation.", body = ConversationDetail), Errors))]
async fn show_conversation(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<ConversationDetail>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let customer = state.store.customer(conversation.customer_id).await?;
    let assignee = match conversation.assignee_id {
        Some(user) => state.store.user(user).await?,
        None => None,
    };
    let decisions = state.store.decisions(conversation.id).await?;
    let mut llm_usage = LlmUsage::of(decisions.iter().map(|(_, decision)| decision));
    // The hand-off summary the model wrote, if any, counts too.
    if let Some(summary) =
        state.store.handoff(conversation.id).await?.and_then(|packet| packet.model_summary)
    {
        llm_usage.record(&summary.llm);
    }
    // Only a resolved conversation's wrap-up is current: a reopened one keeps its old one
    // until it is resolved again.
    let wrapup = match conversation.state {
        ConversationState::Resolved => state.store.wrapup(conversation.id).await?,
        _ => None,
    };
    Ok(ApiJson(ConversationDetail { conversation, customer, assignee, llm_usage, wrapup }))
}

/// A wrap-up's topic as people correct it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct WrapupTopic {
    /// 1 to 200 characters on one line (trimmed); `null` clears the topic. Required, so a
    /// misspelt body cannot clear it by accident.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schema(required = true)]
    topic: Option<String>,
}

/// Changes (or clears) the topic of a resolved conversation's wrap-up; the rest of the wrap-up
/// stays as it is. A conversation that is not resolved has no current wrap-up:
/// `wrapup_not_found`.
#[utoipa::path(put, path = "/api/v1/conversations/{id}/wrapup/topic", operation_id = "setWrapupTopic", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), request_body = WrapupTopic, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The wrap-up with its new topic.", body = Wrapup), Errors))]
async fn put_wrapup_topic(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<WrapupTopic>,
) -> ApiResult<ApiJson<Wrapup>> {
    Ok(ApiJson(set_wrapup_topic(&state, &agent, id, request.topic.as_deref()).await?))
}

/// Checks and stores a new topic for a conversation's wrap-up (`None` clears it); any agent of
/// the workspace may. Shared by the API and the console's wrap-up card.
pub async fn set_wrapup_topic(
    state: &AppState,
    agent: &Agent,
    id: i64,
    topic: Option<&str>,
) -> ApiResult<Wrapup> {
    let conversation = conversation_for(state, agent, id).await?;
    // Only a resolved conversation's wrap-up is current (see `show_conversation`): a reopened
    // one's describes a resolution that no longer holds.
    if conversation.state != ConversationState::Resolved {
        return Err(ApiError::NotFound(tandem_store::Entity::Wrapup));
    }
    let topic = topic.map(validate::wrapup_topic).transpose()?;
    Ok(state.store.set_wrapup_topic(conversation.id, topic).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MessagesQuery {
    /// Only messages with a greater `seq`.
    #[serde(default)]
    after_seq: i64,
    /// 1 to 1,000 (200 by default).
    limit: Option<u32>,
}

/// Messages of a conversation, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Messages {
    messages: Vec<Message>,
}

/// A conversation's messages after `after_seq`, internal notes included.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", operation_id = "listConversationMessages", tag = "agents",
    params(("id" = i64, Path, description = "The conversation."), MessagesQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The messages.", body = Messages), Errors))]
async fn list_messages(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> ApiResult<ApiJson<Messages>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let limit = query.limit.unwrap_or(200).clamp(1, 1000);
    let messages = state.store.messages(conversation.id, query.after_seq, limit).await?;
    Ok(ApiJson(Messages { messages }))
}

/// An agent's reply or internal note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PostMessage {
    /// 1 to 4,000 characters.
    body: String,
    /// Makes a retry idempotent (see the widget's messages).
    client_msg_id: Option<String>,
    /// An internal note for colleagues, never shown to the customer.
    #[serde(default)]
    note: bool,
    /// The key of the suggested article whose answer was inserted into this reply, if one was.
    suggestion: Option<String>,
    /// Whether the inserted answer was changed before sending.
    #[serde(default)]
    suggestion_edited: bool,
}

/// A stored message and its conversation after it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Posted {
    message: Message,
    conversation: Conversation,
}

/// Replies to the customer (taking the conversation from the bot or the queue first), or adds
/// an internal note.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", operation_id = "postConversationMessage", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), request_body = PostMessage, security(("session" = []), ("apiToken" = [])),
    responses(
        (status = 201, description = "Stored.", body = Posted),
        (status = 200, description = "Already stored with this `client_msg_id`.", body = Posted),
        Errors))]
async fn post_message(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<PostMessage>,
) -> ApiResult<impl IntoResponse> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let suggestion = request.suggestion.as_deref().map(validate::article_key).transpose()?;
    let appended = state
        .relay
        .agent_message(
            &conversation,
            &agent.user,
            &request.body,
            request.client_msg_id.as_deref(),
            request.note,
        )
        .await?;
    if appended.created && !request.note {
        crate::api::assist::record_use(
            &state,
            &appended.message,
            suggestion,
            request.suggestion_edited,
        )
        .await;
    }
    let status = if appended.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, ApiJson(Posted { message: appended.message, conversation: appended.conversation })))
}

/// A change of who owns a conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `assign`, `release` (back to the queue), `hand_back` (to the bot), `resolve`, `reopen`
    /// or `escalate` (to the queue).
    pub action: String,
    /// For `assign`: who gets the conversation; the caller when omitted.
    pub agent_id: Option<i64>,
}

/// Turns a requested action into a transition the caller may make (the domain's
/// [`may_transition`](tandem_domain::permissions::may_transition) says who may do what).
pub fn transition_for(
    agent: &Agent,
    conversation: &Conversation,
    request: &TransitionRequest,
) -> ApiResult<Transition> {
    let transition = match request.action.as_str() {
        "assign" => Transition::Assign { agent: request.agent_id.map_or(agent.user.id, UserId) },
        "release" => Transition::Release,
        "hand_back" => Transition::HandBack,
        "resolve" => Transition::Resolve,
        "reopen" => Transition::Reopen,
        "escalate" => Transition::Escalate,
        _ => {
            let actions = ["assign", "release", "hand_back", "resolve", "reopen", "escalate"];
            let problem = Problem::not_one_of(request.action.as_str(), &actions);
            return Err(ApiError::Invalid(ValidationError::new("action", problem)));
        }
    };
    tandem_domain::permissions::may_transition(&agent.user, conversation, transition)?;
    Ok(transition)
}

/// A conversation after a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Changed {
    conversation: Conversation,
}

/// Changes who owns the conversation, through the ownership state machine; the customer sees
/// a system message in their language.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/transitions", operation_id = "transitionConversation", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), request_body = TransitionRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Changed.", body = Changed), Errors))]
async fn post_transition(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<TransitionRequest>,
) -> ApiResult<ApiJson<Changed>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let conversation = apply_transition(&state, &agent, &conversation, &request).await?;
    Ok(ApiJson(Changed { conversation }))
}

/// Checks and applies an ownership change asked for by `agent`; the customer's system message
/// names whoever now has the conversation. Shared by the API and the console.
pub async fn apply_transition(
    state: &AppState,
    agent: &Agent,
    conversation: &Conversation,
    request: &TransitionRequest,
) -> ApiResult<Conversation> {
    let transition = transition_for(agent, conversation, request)?;
    let name = match transition {
        Transition::Assign { agent: target } if target != agent.user.id => {
            let target = state.store.user(target).await?;
            target
                .filter(|user| user.workspace_id == agent.user.workspace_id)
                .map(|user| user.display_name)
                .ok_or(ApiError::NotFound(tandem_store::Entity::Agent))?
        }
        _ => agent.user.display_name.clone(),
    };
    Ok(state.relay.agent_transition(conversation, transition, &name).await?)
}

/// The workspace's users.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Users {
    users: Vec<User>,
}

/// The workspace's users, by name.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "listUsers", tag = "agents", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The users.", body = Users), Errors))]
async fn list_users(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Users>> {
    let users = state.store.users(agent.user.workspace_id).await?;
    Ok(ApiJson(Users { users }))
}

/// A new user of the workspace (admins).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub locale: Option<String>,
    pub password: String,
}

fn parse_role(text: &str) -> ApiResult<Role> {
    Role::parse(text).ok_or_else(|| {
        let roles: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
        ApiError::Invalid(ValidationError::new("role", Problem::not_one_of(text, &roles)))
    })
}

fn parse_locale(text: &str) -> ApiResult<Locale> {
    Locale::parse(text).ok_or_else(|| {
        let locales: Vec<&str> = Locale::ALL.iter().map(|locale| locale.as_str()).collect();
        ApiError::Invalid(ValidationError::new("locale", Problem::not_one_of(text, &locales)))
    })
}

/// Validates and stores a new user of the admin's workspace; shared with the admin page.
pub async fn create_user_checked(
    state: &AppState,
    agent: &Agent,
    request: CreateUser,
) -> ApiResult<User> {
    agent.require_admin()?;
    let password = validate::password(&request.password)?;
    let user = NewUser {
        workspace_id: agent.user.workspace_id,
        email: validate::email(&request.email)?,
        display_name: validate::display_name(&request.display_name)?,
        role: parse_role(&request.role)?,
        locale: request.locale.as_deref().map(parse_locale).transpose()?.unwrap_or(Locale::Zh),
        password_hash: hash_password(password)?,
    };
    Ok(state.store.create_user(user).await?)
}

/// Creates a user (admins).
#[utoipa::path(post, path = "/api/v1/users", operation_id = "createUser", tag = "agents", request_body = CreateUser, security(("session" = []), ("apiToken" = [])),
    responses((status = 201, description = "Created.", body = User), Errors))]
async fn create_user(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<CreateUser>,
) -> ApiResult<impl IntoResponse> {
    let user = create_user_checked(&state, &agent, request).await?;
    Ok((StatusCode::CREATED, ApiJson(user)))
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub locale: Option<String>,
    pub active: Option<bool>,
    pub password: Option<String>,
    /// `true`: also revoke every API token of the user (the settings page asks for it with a
    /// new password, which always ends the user's sessions).
    pub revoke_api_tokens: Option<bool>,
}

/// Applies a change to a user. Admins change anyone in their workspace; everyone may change
/// their own name, language and password, but not their own role or activity.
pub async fn update_user_checked(
    state: &AppState,
    agent: &Agent,
    id: UserId,
    request: UpdateUser,
) -> ApiResult<User> {
    let target = state
        .store
        .user(id)
        .await?
        .filter(|user| user.workspace_id == agent.user.workspace_id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::User))?;
    let role = request.role.as_deref().map(parse_role).transpose()?;
    tandem_domain::permissions::may_change_user(&agent.user, &target, role, request.active)?;
    let update = UserUpdate {
        display_name: request.display_name.as_deref().map(validate::display_name).transpose()?,
        role,
        locale: request.locale.as_deref().map(parse_locale).transpose()?,
        active: request.active,
        password_hash: match request.password.as_deref() {
            Some(password) => Some(hash_password(validate::password(password)?)?),
            None => None,
        },
        revoke_api_tokens: request.revoke_api_tokens == Some(true),
    };
    Ok(state.store.update_user(id, update).await?)
}

/// Changes a user: admins change anyone; everyone their own name, language and password. A
/// deactivation or a new password ends the user's sessions.
#[utoipa::path(patch, path = "/api/v1/users/{id}", operation_id = "updateUser", tag = "agents",
    params(("id" = i64, Path, description = "The user.")), request_body = UpdateUser, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Changed.", body = User), Errors))]
async fn update_user(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<UpdateUser>,
) -> ApiResult<ApiJson<User>> {
    Ok(ApiJson(update_user_checked(&state, &agent, UserId(id), request).await?))
}
