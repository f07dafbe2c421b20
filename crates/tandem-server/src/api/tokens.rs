//! API tokens: one's own (admins: the workspace's) listed, created with a scope and an expiry
//! (the secret shown once), and revoked.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_domain::{
    ApiToken, ApiTokenId, Millis, Problem, TokenScope, TokenStatus, User, ValidationError, validate,
};
use tandem_store::{NewApiToken, TokenOwners};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::{Agent, random_token, token_hash};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}

/// Longest API token name, in characters.
pub(crate) const MAX_TOKEN_NAME: usize = 80;

/// Longest lifetime a token may be given, in days (ten years).
pub(crate) const MAX_TOKEN_DAYS: u32 = 3650;

const DAY_MS: Millis = 24 * 60 * 60 * 1000;

/// A new API token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// What it is for, 1 to 80 characters.
    pub name: String,
    /// `read_only`, `agent` or `admin` (the default: the caller's own role); never wider than
    /// the scope of the token that creates it.
    pub scope: Option<String>,
    /// Days until it stops working, 1 to 3650; it never expires when absent.
    pub expires_in_days: Option<u32>,
}

/// A new API token, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct CreatedToken {
    /// `tdm_…`: send as `Authorization: Bearer`. Only its hash is kept.
    token: String,
    #[serde(flatten)]
    details: TokenView,
}

/// An API token as listed: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TokenView {
    #[serde(flatten)]
    pub token: ApiToken,
    /// `active`, `expired` or `revoked`.
    pub status: TokenStatus,
    /// The owner's name and e-mail address (admins see the workspace's tokens).
    pub user_name: String,
    pub user_email: String,
}

impl TokenView {
    pub(crate) fn of(token: ApiToken, user: &User, now: Millis) -> TokenView {
        TokenView {
            status: token.status(now),
            token,
            user_name: user.display_name.clone(),
            user_email: user.email.clone(),
        }
    }
}

/// API tokens, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Tokens {
    tokens: Vec<TokenView>,
}

fn parse_scope(text: &str) -> ApiResult<TokenScope> {
    TokenScope::parse(text).ok_or_else(|| {
        let scopes: Vec<&str> = TokenScope::ALL.iter().map(|scope| scope.as_str()).collect();
        ApiError::Invalid(ValidationError::new("scope", Problem::not_one_of(text, &scopes)))
    })
}

/// Validates and stores a new token of the caller; returns the secret (shown once) and the
/// token. Shared with the settings page.
pub(crate) async fn create_token_checked(
    state: &AppState,
    agent: &Agent,
    request: CreateToken,
) -> ApiResult<(String, ApiToken)> {
    let name = validate::one_line("name", &request.name, MAX_TOKEN_NAME)?;
    let scope = match request.scope.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => parse_scope(text)?,
        None => TokenScope::of_role(agent.user.role),
    };
    if !agent.token_scope().covers(scope) {
        return Err(ApiError::TokenScopeTooWide);
    }
    let now = tandem_store::now_millis();
    let expires_at = match request.expires_in_days {
        None => None,
        Some(days @ 1..=MAX_TOKEN_DAYS) => Some(now + Millis::from(days) * DAY_MS),
        Some(_) => {
            let problem = Problem::out_of_range(1, MAX_TOKEN_DAYS);
            return Err(ApiError::Invalid(ValidationError::new("expires_in_days", problem)));
        }
    };
    let secret = format!("tdm_{}", random_token());
    let token = state
        .store
        .create_api_token(NewApiToken {
            user_id: agent.user.id,
            token_hash: token_hash(&secret),
            name,
            scope,
            expires_at,
        })
        .await?;
    Ok((secret, token))
}

/// The tokens a caller may manage: their own, or, for admins, the workspace's.
pub(crate) async fn tokens_for(state: &AppState, agent: &Agent) -> ApiResult<Vec<TokenView>> {
    let owners = if agent.user.is_admin() {
        TokenOwners::Workspace(agent.user.workspace_id)
    } else {
        TokenOwners::User(agent.user.id)
    };
    let now = tandem_store::now_millis();
    Ok(state
        .store
        .api_tokens(owners)
        .await?
        .into_iter()
        .map(|(token, user)| TokenView::of(token, &user, now))
        .collect())
}

/// Revokes a token the caller may manage (their own; admins any of the workspace's); others
/// do not exist for them.
pub(crate) async fn revoke_token_checked(
    state: &AppState,
    agent: &Agent,
    id: ApiTokenId,
) -> ApiResult<TokenView> {
    let (_, owner) = state
        .store
        .api_token_by_id(id)
        .await?
        .filter(|(_, owner)| tandem_domain::api_token::may_manage_token(&agent.user, owner))
        .ok_or(ApiError::NotFound(tandem_store::Entity::ApiToken))?;
    let now = tandem_store::now_millis();
    let token = state.store.revoke_api_token(id, now).await?;
    Ok(TokenView::of(token, &owner, now))
}

/// The caller's API tokens (admins: every token of the workspace), newest first; never their
/// secrets.
#[utoipa::path(get, path = "/api/v1/tokens", operation_id = "listApiTokens", tag = "agents", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The tokens.", body = Tokens), Errors))]
async fn list_tokens(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Tokens>> {
    Ok(ApiJson(Tokens { tokens: tokens_for(&state, &agent).await? }))
}

/// Creates an API token that acts as the caller, with at most its scope, until it expires or
/// is revoked.
#[utoipa::path(post, path = "/api/v1/tokens", operation_id = "createApiToken", tag = "agents", request_body = CreateToken, security(("session" = []), ("apiToken" = [])),
    responses((status = 201, description = "Created; the token is shown once.", body = CreatedToken), Errors))]
async fn create_token(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<CreateToken>,
) -> ApiResult<impl IntoResponse> {
    let (secret, token) = create_token_checked(&state, &agent, request).await?;
    let now = tandem_store::now_millis();
    let details = TokenView::of(token, &agent.user, now);
    // The token is shown once; only its hash is kept.
    Ok((StatusCode::CREATED, ApiJson(CreatedToken { token: secret, details })))
}

/// Revokes an API token: one's own, or (admins) any of the workspace's. Revoking a revoked
/// token changes nothing.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", operation_id = "revokeApiToken", tag = "agents",
    params(("id" = i64, Path, description = "The token.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Revoked.", body = TokenView), Errors))]
async fn revoke_token(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<TokenView>> {
    Ok(ApiJson(revoke_token_checked(&state, &agent, ApiTokenId(id)).await?))
}
