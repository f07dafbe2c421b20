//! Every error a client can see, with its stable code and HTTP status, in one table.
//!
//! The widget and the console translate by `code`; `message` is for developers reading a
//! response. Unexpected errors are logged with their cause and shown only as `internal`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tandem_domain::ValidationError;
use tandem_flow::RelayError;
use tandem_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("sign in first")]
    Unauthorized,
    #[error("the token is invalid or expired")]
    InvalidToken,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the CSRF token is missing or wrong; reload the page")]
    CsrfFailed,
    #[error("user_hash does not match user_id; compute it with this inbox's identity secret")]
    IdentityMismatch,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    IllegalTransition(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the import has {} problem(s); nothing was saved", .0.len())]
    ImportFailed(Vec<tandem_knowledge::formats::ImportError>),
    #[error("{} action problem(s); nothing was saved", .0.len())]
    ActionsInvalid(Vec<tandem_bot::actions::ActionError>),
    #[error("too many requests; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The stable code and the HTTP status of each error.
    pub fn code_and_status(&self) -> (&'static str, StatusCode) {
        match self {
            ApiError::Malformed(_) => ("malformed_request", StatusCode::BAD_REQUEST),
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            ApiError::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED),
            ApiError::InvalidToken => ("invalid_token", StatusCode::UNAUTHORIZED),
            ApiError::Forbidden(_) => ("forbidden", StatusCode::FORBIDDEN),
            ApiError::CsrfFailed => ("csrf_failed", StatusCode::FORBIDDEN),
            ApiError::IdentityMismatch => ("identity_mismatch", StatusCode::FORBIDDEN),
            ApiError::NotFound(_) => ("not_found", StatusCode::NOT_FOUND),
            ApiError::IllegalTransition(_) => ("illegal_transition", StatusCode::CONFLICT),
            ApiError::Conflict(_) => ("conflict", StatusCode::CONFLICT),
            ApiError::PayloadTooLarge(_) => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            ApiError::Invalid(_) | ApiError::ImportFailed(_) | ApiError::ActionsInvalid(_) => {
                ("invalid_input", StatusCode::UNPROCESSABLE_ENTITY)
            }
            ApiError::RateLimited { .. } => ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
            ApiError::Internal(_) => ("internal", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// Every problem of a failed import, with its line.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [tandem_knowledge::formats::ImportError]>,
    /// Every problem of a set of actions: which action, which part, why.
    #[serde(skip_serializing_if = "Option::is_none")]
    problems: Option<&'a [tandem_bot::actions::ActionError]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let field = match &self {
            ApiError::Invalid(error) => Some(error.field),
            _ => None,
        };
        let errors = match &self {
            ApiError::ImportFailed(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let problems = match &self {
            ApiError::ActionsInvalid(problems) => Some(problems.as_slice()),
            _ => None,
        };
        let body = ErrorBody { code, message: self.to_string(), field, errors, problems };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what.as_str()),
            StoreError::Conflict(conflict) => ApiError::Conflict(conflict.to_string()),
            StoreError::Transition(error) => ApiError::IllegalTransition(error.to_string()),
            StoreError::Database(_) | StoreError::Panicked(_) | StoreError::Closed => {
                ApiError::Internal(error.to_string())
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
        use tandem_routing::RoutingError;
        match error {
            tandem_flow::RoutingServiceError::Store(error) => error.into(),
            tandem_flow::RoutingServiceError::Routing(
                RoutingError::UnknownAgent(_) | RoutingError::UnknownConversation(_),
            ) => ApiError::NotFound("agent"),
            tandem_flow::RoutingServiceError::Routing(RoutingError::UnknownQueue(_)) => {
                ApiError::NotFound("queue")
            }
            tandem_flow::RoutingServiceError::Routing(error) => {
                ApiError::Conflict(error.to_string())
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(error) => {
                ApiError::Invalid(ValidationError { field: "body", reason: error.body_text() })
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "send JSON with Content-Type: application/json".into(),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge(crate::MAX_BODY_BYTES)
            }
            other => ApiError::Malformed(other.body_text()),
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
