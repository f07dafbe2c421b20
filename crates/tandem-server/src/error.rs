//! Every error a client can see, with its stable code and HTTP status, in one table.
//!
//! Each distinct condition has its own code ([`ErrorCode`], listed once in
//! [`error_codes!`]), so the widget and the console act on a code and translate it instead of
//! guessing from an HTTP status; `message` is for developers reading a response. The layers
//! below report typed errors (the store's [`Entity`] and [`Conflict`], the domain's
//! [`Refusal`] and [`TransitionError`], routing's [`RoutingError`]); this module only names
//! them. Unexpected errors keep their cause, which is logged with its chain and never shown to
//! clients: they are all `internal`. A refused value's `message` is the catalogue's English
//! sentence for its [`Problem`] (the console shows the same sentence in the agent's language),
//! with what a parser said, if anything.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection, StringRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tandem_domain::{Problem, Refusal, TransitionError, ValidationError};
use tandem_flow::RelayError;
use tandem_routing::RoutingError;
use tandem_store::{Conflict, Entity, StoreError};

/// Defines [`ErrorCode`] from one table: each code with its HTTP status and what it means.
macro_rules! error_codes {
    ($($variant:ident = $code:literal, $status:ident, $meaning:literal;)*) => {
        /// The stable code of every error the API answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the table's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)* }
            }

            /// What the code means, for the API document.
            pub fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $meaning,)* }
            }
        }
    };
}

error_codes! {
    MalformedRequest = "malformed_request", BAD_REQUEST,
        "The request could not be read: not JSON, or a malformed query string.";
    MalformedCallback = "malformed_callback", BAD_REQUEST,
        "A channel's callback body is not what its protocol defines (XML or JSON, fields, encryption); `message` says what. Nothing was stored.";
    InvalidPathParameter = "invalid_path_parameter", BAD_REQUEST,
        "A part of the path is not what the route takes (a word where an id, a number, belongs).";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "The body is not of the content type the endpoint takes (JSON unless it says otherwise).";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE,
        "The body is larger than the endpoint accepts (64 KiB; 16 MiB for the knowledge and history imports).";
    InvalidInput = "invalid_input", UNPROCESSABLE_ENTITY,
        "A value is not valid; `field` names it and `message` says why.";
    ImportFailed = "import_failed", UNPROCESSABLE_ENTITY,
        "A knowledge import has problems; `errors` lists each with its file and line. Nothing was saved.";
    HistoryImportFailed = "history_import_failed", UNPROCESSABLE_ENTITY,
        "A conversation history has problems; `errors` lists each with its line. Nothing was stored.";
    ActionsInvalid = "actions_invalid", UNPROCESSABLE_ENTITY,
        "Business actions have problems; `problems` lists each (action, part, reason). Nothing was saved.";
    Unauthorized = "unauthorized", UNAUTHORIZED,
        "Sign in (a session cookie) or send an API token, a widget token or (API channel) the inbox's secret.";
    InvalidToken = "invalid_token", UNAUTHORIZED,
        "The token is unknown (or its user deactivated); on the API channel, the bearer is not the inbox's identity secret.";
    TokenRevoked = "token_revoked", UNAUTHORIZED,
        "The API token was revoked (by its user, an admin or a password change).";
    TokenExpired = "token_expired", UNAUTHORIZED,
        "The API token has passed its expiry date.";
    TokenReadOnly = "token_read_only", FORBIDDEN,
        "The API token is read-only: it may only GET and HEAD.";
    TokenScopeTooWide = "token_scope_too_wide", FORBIDDEN,
        "An API token may create only tokens whose scope is no wider than its own.";
    CsrfFailed = "csrf_failed", FORBIDDEN,
        "A write with a session cookie needs the session's CSRF token in `X-CSRF-Token` (or the form).";
    CrossOrigin = "cross_origin", FORBIDDEN,
        "A console socket opened from another origin.";
    IdentityMismatch = "identity_mismatch", FORBIDDEN,
        "`user_hash` is not the HMAC of `user_id` with this inbox's identity secret.";
    NotApiInbox = "not_api_inbox", FORBIDDEN,
        "The inbox's channel is not `api`: only API-channel inboxes take messages through `/api/v1/channel`.";
    BadSignature = "bad_signature", UNAUTHORIZED,
        "A channel's callback (WeCom, WeChat, Feishu, DingTalk) is not signed with the inbox's settings, or its timestamp is stale or was seen before. Nothing was stored.";
    AdminsOnly = "admins_only", FORBIDDEN,
        "Only admins may do this.";
    ManagersOnly = "managers_only", FORBIDDEN,
        "Only supervisors and admins may do this.";
    AssignToOthers = "assign_to_others", FORBIDDEN,
        "Only supervisors and admins assign conversations to other agents.";
    NotYourConversation = "not_your_conversation", FORBIDDEN,
        "Only the assigned agent or a supervisor may release this conversation.";
    WorkspaceNotFound = "workspace_not_found", NOT_FOUND, "No such workspace.";
    InboxNotFound = "inbox_not_found", NOT_FOUND, "No such inbox (or inbox key).";
    UserNotFound = "user_not_found", NOT_FOUND, "No such user in this workspace.";
    AgentNotFound = "agent_not_found", NOT_FOUND, "No such active agent in this workspace.";
    CustomerNotFound = "customer_not_found", NOT_FOUND, "No such customer.";
    ConversationNotFound = "conversation_not_found", NOT_FOUND, "No such conversation in this workspace.";
    QueueNotFound = "queue_not_found", NOT_FOUND, "No such queue in this workspace.";
    ArticleNotFound = "article_not_found", NOT_FOUND, "No article with this key.";
    ActionNotFound = "action_not_found", NOT_FOUND, "No business action with this key.";
    HandoffNotFound = "handoff_not_found", NOT_FOUND, "The conversation was never handed to people.";
    WrapupNotFound = "wrapup_not_found", NOT_FOUND, "The conversation has no current wrap-up: it is not resolved.";
    InsightAlertNotFound = "insight_alert_not_found", NOT_FOUND, "No insight alert of this workspace has that id.";
    ApiTokenNotFound = "api_token_not_found", NOT_FOUND, "No API token with that id that the caller may manage.";
    CustomerMergeNotFound = "customer_merge_not_found", NOT_FOUND, "No merge of customers of this workspace has that id.";
    WebhookEndpointNotFound = "webhook_endpoint_not_found", NOT_FOUND, "No such webhook endpoint.";
    AttachmentNotFound = "attachment_not_found", NOT_FOUND, "No file of a conversation of this workspace has that id.";
    ChannelNotConfigured = "channel_not_configured", NOT_FOUND,
        "The inbox's channel has no settings yet (`PUT /api/v1/inboxes/{id}/channel`), or the inbox is of another channel.";
    WebhookDeliveryNotFound = "webhook_delivery_not_found", NOT_FOUND, "No such webhook delivery.";
    RouteNotFound = "route_not_found", NOT_FOUND, "No such page, file or API route.";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED,
        "The route exists but does not take this method.";
    IllegalTransition = "illegal_transition", CONFLICT,
        "The conversation cannot move that way from where it is (for example, replying to a resolved one).";
    EmailTaken = "email_taken", CONFLICT, "A user with this e-mail address exists.";
    QueueNameTaken = "queue_name_taken", CONFLICT, "A queue with this name exists.";
    StateChanged = "state_changed", CONFLICT,
        "The conversation moved on since the change was decided; read it again.";
    OfferWithdrawn = "offer_withdrawn", CONFLICT,
        "The conversation is no longer an open offer to that agent.";
    BotMayNotReply = "bot_may_not_reply", CONFLICT,
        "A person owns the conversation: the bot does not speak.";
    ConversationNotResolved = "conversation_not_resolved", CONFLICT,
        "Only a resolved conversation can be rated.";
    CsatDisabled = "csat_disabled", CONFLICT,
        "The conversation's inbox does not ask customers for ratings (its CSAT settings are off).";
    CsatUnknownQuestion = "csat_unknown_question", UNPROCESSABLE_ENTITY,
        "A rating answers a question the inbox does not ask (`comment` when it asks for none); `message` names it.";
    MergeIntoItself = "merge_into_itself", CONFLICT,
        "A customer cannot be merged into itself.";
    CustomerMergedAway = "customer_merged_away", CONFLICT,
        "The customer was merged into another one; use that one (or undo the merge).";
    MergeUndone = "merge_undone", CONFLICT,
        "The merge was undone already: a merge is undone once.";
    NotTheBots = "not_the_bots", CONFLICT,
        "Only conversations the bot has wait as after-hours tickets.";
    WebhookEndpointLimit = "webhook_endpoint_limit", CONFLICT,
        "The workspace has as many webhook endpoints as it may (20).";
    WebhookEndpointDisabled = "webhook_endpoint_disabled", CONFLICT,
        "The endpoint is disabled; enable it first.";
    CannotDemoteYourself = "cannot_demote_yourself", CONFLICT,
        "An admin cannot take away their own admin role; another admin can.";
    CannotDeactivateYourself = "cannot_deactivate_yourself", CONFLICT,
        "Nobody can deactivate their own account; an admin can.";
    AgentUnavailable = "agent_unavailable", CONFLICT,
        "The agent is not online, so routing cannot give them the conversation.";
    AgentAtCapacity = "agent_at_capacity", CONFLICT,
        "The agent has no spare capacity on this channel.";
    NotWaiting = "not_waiting", CONFLICT, "The conversation is not waiting in a queue.";
    NotAssigned = "not_assigned", CONFLICT, "The conversation is not assigned to anyone.";
    AlreadyAssigned = "already_assigned", CONFLICT, "The conversation is already that agent's.";
    QueueInUse = "queue_in_use", CONFLICT, "The queue still has conversations.";
    ModelOff = "model_off", CONFLICT,
        "The workspace's model is off (or not allowed to receive text); turn it on in the model settings first.";
    NothingToDraft = "nothing_to_draft", CONFLICT,
        "No customer message of the conversation has a suggested article to draft a reply from.";
    CustomerNotVerified = "customer_not_verified", CONFLICT,
        "The business action needs a signed-in (verified) customer, and this one is not.";
    ActionParamsMissing = "action_params_missing", CONFLICT,
        "The conversation does not give the business action's parameters yet; `message` names them.";
    RateLimited = "rate_limited", TOO_MANY_REQUESTS,
        "Too many requests; `Retry-After` says when to try again.";
    Internal = "internal", INTERNAL_SERVER_ERROR,
        "Something went wrong on the server; it is logged. Retrying may help.";
}

/// An error of a handler, named by the layer that knows what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    InvalidPathParameter(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than this endpoint accepts")]
    PayloadTooLarge,
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the import has {} problem(s); nothing was saved", .0.len())]
    ImportFailed(Vec<tandem_knowledge::formats::ImportError>),
    #[error("the history has {} problem(s); nothing was stored", .0.len())]
    HistoryImportFailed(Vec<tandem_knowledge::history::HistoryError>),
    #[error("{} action problem(s); nothing was saved", .0.len())]
    ActionsInvalid(Vec<tandem_bot::actions::ActionError>),
    #[error("sign in first")]
    Unauthorized,
    #[error("the token is invalid or expired")]
    InvalidToken,
    #[error("the API token was revoked")]
    TokenRevoked,
    #[error("the API token has expired")]
    TokenExpired,
    #[error("the API token is read-only: it may only GET and HEAD")]
    TokenReadOnly,
    #[error("an API token may create only tokens of a scope no wider than its own")]
    TokenScopeTooWide,
    #[error("the CSRF token is missing or wrong; reload the page")]
    CsrfFailed,
    #[error("a console socket from another origin")]
    CrossOrigin,
    #[error("user_hash does not match user_id; compute it with this inbox's identity secret")]
    IdentityMismatch,
    #[error(
        "the inbox's channel is not api; create an inbox with channel \"api\" for the API channel"
    )]
    NotApiInbox,
    #[error("the callback's signature does not verify: {0}")]
    BadSignature(String),
    #[error("the callback is malformed: {0}")]
    MalformedCallback(String),
    #[error("no such file")]
    AttachmentNotFound,
    #[error(
        "the inbox's channel has no settings; set them with PUT /api/v1/inboxes/{{id}}/channel"
    )]
    ChannelNotConfigured,
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{} not found", .0.as_str())]
    NotFound(Entity),
    #[error("no such page, file or API route")]
    RouteNotFound,
    #[error("this route does not take this method")]
    MethodNotAllowed,
    #[error(transparent)]
    IllegalTransition(#[from] TransitionError),
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error("the endpoint is disabled; enable it first")]
    WebhookEndpointDisabled,
    #[error("the inbox does not ask customers for ratings")]
    CsatDisabled,
    #[error("the inbox asks no question {0:?}")]
    CsatUnknownQuestion(String),
    #[error(transparent)]
    Routing(RoutingError),
    #[error("the workspace's model is off; turn it on in the model settings first")]
    ModelOff,
    #[error("no customer question has a suggested article to draft a reply from")]
    NothingToDraft,
    #[error("the action needs a signed-in (verified) customer")]
    CustomerNotVerified,
    #[error("the customer has not given the action's {}", .0.join(", "))]
    ActionParamsMissing(Vec<String>),
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A failure the client cannot act on; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// An internal error with its cause.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
        ApiError::Internal(cause.into())
    }

    /// The error's stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Malformed(_) => ErrorCode::MalformedRequest,
            ApiError::InvalidPathParameter(_) => ErrorCode::InvalidPathParameter,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::Invalid(_) => ErrorCode::InvalidInput,
            ApiError::ImportFailed(_) => ErrorCode::ImportFailed,
            ApiError::HistoryImportFailed(_) => ErrorCode::HistoryImportFailed,
            ApiError::ActionsInvalid(_) => ErrorCode::ActionsInvalid,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::InvalidToken => ErrorCode::InvalidToken,
            ApiError::TokenRevoked => ErrorCode::TokenRevoked,
            ApiError::TokenExpired => ErrorCode::TokenExpired,
            ApiError::TokenReadOnly => ErrorCode::TokenReadOnly,
            ApiError::TokenScopeTooWide => ErrorCode::TokenScopeTooWide,
            ApiError::CsrfFailed => ErrorCode::CsrfFailed,
            ApiError::CrossOrigin => ErrorCode::CrossOrigin,
            ApiError::IdentityMismatch => ErrorCode::IdentityMismatch,
            ApiError::NotApiInbox => ErrorCode::NotApiInbox,
            ApiError::BadSignature(_) => ErrorCode::BadSignature,
            ApiError::MalformedCallback(_) => ErrorCode::MalformedCallback,
            ApiError::AttachmentNotFound => ErrorCode::AttachmentNotFound,
            ApiError::ChannelNotConfigured => ErrorCode::ChannelNotConfigured,
            ApiError::Refused(refusal) => match refusal {
                Refusal::AdminsOnly => ErrorCode::AdminsOnly,
                Refusal::ManagersOnly => ErrorCode::ManagersOnly,
                Refusal::AssignToOthers => ErrorCode::AssignToOthers,
                Refusal::NotYourConversation => ErrorCode::NotYourConversation,
                Refusal::DemoteYourself => ErrorCode::CannotDemoteYourself,
                Refusal::DeactivateYourself => ErrorCode::CannotDeactivateYourself,
            },
            ApiError::NotFound(entity) => match entity {
                Entity::Workspace => ErrorCode::WorkspaceNotFound,
                Entity::Inbox => ErrorCode::InboxNotFound,
                Entity::User => ErrorCode::UserNotFound,
                Entity::Agent => ErrorCode::AgentNotFound,
                Entity::Customer => ErrorCode::CustomerNotFound,
                Entity::Conversation => ErrorCode::ConversationNotFound,
                Entity::Queue => ErrorCode::QueueNotFound,
                Entity::Article => ErrorCode::ArticleNotFound,
                Entity::Action => ErrorCode::ActionNotFound,
                Entity::HandoffPacket => ErrorCode::HandoffNotFound,
                Entity::Wrapup => ErrorCode::WrapupNotFound,
                Entity::WebhookEndpoint => ErrorCode::WebhookEndpointNotFound,
                Entity::WebhookDelivery => ErrorCode::WebhookDeliveryNotFound,
                Entity::InsightAlert => ErrorCode::InsightAlertNotFound,
                Entity::ApiToken => ErrorCode::ApiTokenNotFound,
                Entity::CustomerMerge => ErrorCode::CustomerMergeNotFound,
            },
            ApiError::RouteNotFound => ErrorCode::RouteNotFound,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::IllegalTransition(_) => ErrorCode::IllegalTransition,
            ApiError::Conflict(conflict) => match conflict {
                Conflict::EmailTaken(_) => ErrorCode::EmailTaken,
                Conflict::QueueNameTaken(_) => ErrorCode::QueueNameTaken,
                Conflict::BotMayNotReply { .. } => ErrorCode::BotMayNotReply,
                Conflict::StateChanged { .. } => ErrorCode::StateChanged,
                Conflict::OfferWithdrawn { .. } => ErrorCode::OfferWithdrawn,
                Conflict::NotTheBots { .. } => ErrorCode::NotTheBots,
                Conflict::NotResolved { .. } => ErrorCode::ConversationNotResolved,
                Conflict::WebhookEndpointLimit(_) => ErrorCode::WebhookEndpointLimit,
                Conflict::MergeIntoItself(_) => ErrorCode::MergeIntoItself,
                Conflict::CustomerMergedAway(_) => ErrorCode::CustomerMergedAway,
                Conflict::MergeUndone(_) => ErrorCode::MergeUndone,
            },
            ApiError::WebhookEndpointDisabled => ErrorCode::WebhookEndpointDisabled,
            ApiError::CsatDisabled => ErrorCode::CsatDisabled,
            ApiError::CsatUnknownQuestion(_) => ErrorCode::CsatUnknownQuestion,
            ApiError::Routing(error) => match error {
                RoutingError::UnknownAgent(_) => ErrorCode::AgentNotFound,
                RoutingError::UnknownQueue(_) => ErrorCode::QueueNotFound,
                RoutingError::UnknownConversation(_) => ErrorCode::ConversationNotFound,
                RoutingError::AgentUnavailable(_) => ErrorCode::AgentUnavailable,
                RoutingError::NoCapacity { .. } => ErrorCode::AgentAtCapacity,
                RoutingError::NotWaiting(_) => ErrorCode::NotWaiting,
                RoutingError::NotAssigned(_) => ErrorCode::NotAssigned,
                RoutingError::AlreadyAssigned { .. } => ErrorCode::AlreadyAssigned,
                RoutingError::QueueInUse(_) => ErrorCode::QueueInUse,
                RoutingError::Invalid(_) => ErrorCode::InvalidInput,
                // The router's own bookkeeping disagreeing with itself is a bug.
                RoutingError::DuplicateAgent(_) | RoutingError::DuplicateConversation(_) => {
                    ErrorCode::Internal
                }
            },
            ApiError::ModelOff => ErrorCode::ModelOff,
            ApiError::NothingToDraft => ErrorCode::NothingToDraft,
            ApiError::CustomerNotVerified => ErrorCode::CustomerNotVerified,
            ApiError::ActionParamsMissing(_) => ErrorCode::ActionParamsMissing,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Logs an unexpected error with its cause chain (the client sees only `internal`).
    pub fn log(&self) {
        if self.code() != ErrorCode::Internal {
            return;
        }
        let mut chain = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            chain.push_str(": ");
            chain.push_str(&error.to_string());
            cause = error.source();
        }
        tracing::error!(error = %chain, "internal error");
    }
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// What went wrong, as a stable code (see the `ErrorCode` schema for each one's meaning).
    pub code: ErrorCode,
    /// For developers: what went wrong, in English. Show a translation of `code` to people.
    pub message: String,
    /// With `invalid_input`: the field that is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// With `import_failed` and `history_import_failed`: every problem of the import, with its
    /// file (`body` for a request's body) and line.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<ImportProblem<'a>>>,
    /// With `actions_invalid`: every problem of the actions (action, part, reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub problems: Option<Vec<ActionProblem<'a>>>,
}

/// A problem of an import: where it is, and what is wrong in English (`answer: must not be
/// empty`).
#[derive(Serialize)]
pub struct ImportProblem<'a> {
    pub file: &'a str,
    pub line: usize,
    pub message: String,
}

/// A problem of an action: its key, the part (`steps[0].url`) and what is wrong in English.
#[derive(Serialize)]
pub struct ActionProblem<'a> {
    pub action: &'a str,
    pub field: &'a str,
    pub reason: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let code = self.code();
        let (message, field) = match &self {
            ApiError::Invalid(error) => (
                tandem_locales::english_about(Some(error.field), &error.problem),
                Some(error.field),
            ),
            other => (other.to_string(), None),
        };
        let errors = match &self {
            ApiError::ImportFailed(errors) => Some(
                errors
                    .iter()
                    .map(|error| ImportProblem {
                        file: &error.file,
                        line: error.line,
                        message: tandem_locales::english_about(error.field, &error.problem),
                    })
                    .collect(),
            ),
            ApiError::HistoryImportFailed(errors) => Some(
                errors
                    .iter()
                    .map(|error| ImportProblem {
                        file: "body",
                        line: error.line,
                        message: error.message.clone(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        let problems = match &self {
            ApiError::ActionsInvalid(problems) => Some(
                problems
                    .iter()
                    .map(|problem| ActionProblem {
                        action: &problem.action,
                        field: &problem.field,
                        reason: tandem_locales::english(&problem.problem),
                    })
                    .collect(),
            ),
            _ => None,
        };
        let body = ErrorBody { code, message, field, errors, problems };
        let mut response = (code.status(), Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(entity) => ApiError::NotFound(entity),
            StoreError::Conflict(conflict) => ApiError::Conflict(conflict),
            StoreError::Transition(error) => ApiError::IllegalTransition(error),
            StoreError::Database(_) | StoreError::Panicked(_) | StoreError::Closed => {
                ApiError::internal(error)
            }
        }
    }
}

impl From<tandem_domain::csat::RatingRefusal> for ApiError {
    fn from(refusal: tandem_domain::csat::RatingRefusal) -> Self {
        match refusal {
            tandem_domain::csat::RatingRefusal::Invalid(error) => ApiError::Invalid(error),
            tandem_domain::csat::RatingRefusal::UnknownQuestion(id) => {
                ApiError::CsatUnknownQuestion(id)
            }
        }
    }
}

impl From<RelayError> for ApiError {
    fn from(error: RelayError) -> Self {
        match error {
            RelayError::Invalid(error) => ApiError::Invalid(error),
            RelayError::Store(error) => error.into(),
        }
    }
}

impl From<tandem_flow::RoutingServiceError> for ApiError {
    fn from(error: tandem_flow::RoutingServiceError) -> Self {
        match error {
            tandem_flow::RoutingServiceError::Store(error) => error.into(),
            tandem_flow::RoutingServiceError::Routing(error) => ApiError::Routing(error),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(error) => ApiError::Invalid(ValidationError::new(
                "body",
                Problem::Unreadable { detail: error.body_text() },
            )),
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "send JSON with Content-Type: application/json".into(),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::Malformed(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(error) => {
                ApiError::InvalidPathParameter(error.body_text())
            }
            // No parameters where the handler expects some: the routes and the handler
            // disagree, a bug.
            other => ApiError::internal(other.body_text()),
        }
    }
}

impl From<StringRejection> for ApiError {
    fn from(rejection: StringRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::Malformed(rejection.body_text())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Malformed(rejection.body_text())
    }
}

/// `Json` whose rejections are [`ApiError`]s.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Path` whose rejections are [`ApiError`]s (`invalid_path_parameter`, not plain text).
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// A text body (a file to import) whose rejections are [`ApiError`]s: `payload_too_large`
/// over the route's limit, `malformed_request` when it is not UTF-8.
#[derive(Debug)]
pub struct ApiText(pub String);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiText {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(ApiText(String::from_request(request, state).await?))
    }
}

/// `Query` whose rejections are [`ApiError`]s.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_snake_case_and_serialises_as_itself() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!(code.as_str().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(!code.meaning().is_empty());
        }
    }

    #[tokio::test]
    async fn a_refused_value_is_explained_in_english_with_what_the_parser_said() {
        let body = |error: ApiError| async move {
            let bytes = axum::body::to_bytes(error.into_response().into_body(), usize::MAX);
            serde_json::from_slice::<serde_json::Value>(&bytes.await.unwrap()).unwrap()
        };
        let unreadable = Problem::Unreadable { detail: "missing field `url`".into() };
        let json = body(ApiError::Invalid(ValidationError::new("body", unreadable))).await;
        assert_eq!(json["message"], "body: could not be read: missing field `url`");
        assert_eq!(json["field"], "body");
        let long = Problem::TooLong { max: 200, got: 250 };
        let import = tandem_knowledge::formats::ImportError {
            file: "kb.jsonl".into(),
            line: 2,
            field: Some("title"),
            problem: long,
        };
        let json = body(ApiError::ImportFailed(vec![import])).await;
        assert_eq!(
            json["errors"][0],
            serde_json::json!({
                "file": "kb.jsonl",
                "line": 2,
                "message": "title: is 250 characters; at most 200"
            })
        );
    }

    #[test]
    fn an_internal_error_keeps_its_cause_but_does_not_show_it() {
        let cause = std::io::Error::other("disk on fire");
        let error = ApiError::from(StoreError::database(cause));
        assert_eq!(error.code(), ErrorCode::Internal);
        assert_eq!(error.to_string(), "internal error");
        let chain = std::error::Error::source(&error).unwrap().to_string();
        assert!(chain.contains("database error"), "{chain}");
    }
}
