//! The audit log of people's and API tokens' changes: one middleware around every route of the
//! console and the API (`record`), so no handler has to remember to write an entry.
//!
//! For a request that may change something (POST, PUT, PATCH, DELETE) the caller is resolved
//! before the handler runs (a signed-in user by the session cookie, a program by its API token,
//! with `auth`'s own functions), and when the handler succeeded (2xx or 3xx) one entry is
//! appended: who, the action (a well-known code such as `knowledge.save`, or else the method
//! and the matched route template), the target (the route's path parameters), the route and
//! status in the detail, and the client's address (`ClientIp`, trusted proxies included).
//! Request bodies are never recorded: they may hold passwords, secrets or customers' data.
//! Widget endpoints (customers, not administrators) are skipped, and so are anonymous calls;
//! a sign-in is recorded as `auth.sign_in` when it hands out a session.
//!
//! The AI's changes (the bot's hand-offs and business actions, the model's replies) are
//! written by the store in the transaction of the change itself (see
//! `tandem_store::sqlite::audit`): a feed subscriber could lag and lose them.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tandem_domain::{User, WorkspaceId};
use tandem_store::{AuditActorKind, AuditFilter, NewAuditEntry};

use crate::AppState;
use crate::auth::{ClientIp, SESSION_COOKIE, bearer_token, cookie, token_hash};

/// Who made a request, as the audit log names them.
#[derive(Debug, Clone)]
struct Actor {
    workspace_id: WorkspaceId,
    kind: AuditActorKind,
    id: String,
    name: String,
    /// For a token: the user it acts for.
    user: Option<(i64, String)>,
}

impl Actor {
    fn user(user: &User) -> Actor {
        Actor {
            workspace_id: user.workspace_id,
            kind: AuditActorKind::User,
            id: user.id.to_string(),
            name: user.display_name.clone(),
            user: None,
        }
    }
}

/// Paths of customers' (widget) calls: not administrators' changes.
const SKIPPED_PREFIXES: [&str; 1] = ["/api/v1/widget"];

/// Calls that change nothing although they are POSTs (they compute an answer).
const READ_ONLY: [&str; 2] = ["/api/v1/answer/explain", "/api/v1/conversations/{id}/assist/draft"];

/// The stable code of a well-known change, by method and route template; others are recorded
/// as `METHOD /route/{template}`.
pub(crate) fn action_code(method: &Method, route: &str) -> Option<&'static str> {
    let code = match (method.as_str(), route) {
        ("POST", "/login") => "auth.sign_in",
        ("POST", "/logout") => "auth.sign_out",
        ("POST", "/settings/escalation") | ("PUT", "/api/v1/escalation/policy") => {
            "settings.escalation"
        }
        ("POST", "/settings/model") | ("PUT", "/api/v1/llm/settings") => "settings.model",
        ("POST", "/settings") => "settings.workspace",
        ("POST", "/knowledge") => "knowledge.create",
        ("POST", "/knowledge/{key}") | ("PUT", "/api/v1/articles/{key}") => "knowledge.save",
        ("POST", "/knowledge/{key}/status" | "/api/v1/articles/{key}/status") => "knowledge.status",
        ("POST", "/knowledge/import" | "/api/v1/articles/import") => "knowledge.import",
        ("POST", "/knowledge/settings") | ("PUT", "/api/v1/answer/settings") => {
            "knowledge.settings"
        }
        ("POST", "/settings/webhooks" | "/api/v1/webhooks") => "webhook.create",
        ("POST", "/settings/webhooks/{id}") | ("PATCH", "/api/v1/webhooks/{id}") => {
            "webhook.change"
        }
        ("DELETE", "/api/v1/webhooks/{id}") => "webhook.delete",
        ("POST", "/settings/actions" | "/api/v1/actions/import")
        | ("PUT", "/api/v1/actions/{key}") => "action.save",
        ("DELETE", "/api/v1/actions/{key}") => "action.delete",
        ("POST", "/admin/agents" | "/api/v1/users") => "user.create",
        ("POST", "/admin/agents/{id}") | ("PATCH", "/api/v1/users/{id}") => "user.update",
        ("POST", "/settings/tokens" | "/api/v1/tokens") => "token.create",
        ("POST", "/settings/routing/queues/{id}") | ("PUT", "/api/v1/queues/{id}") => {
            "routing.queue"
        }
        ("POST", "/api/v1/conversations/{id}/transitions") => "conversation.transition",
        ("POST", "/customers/{id}/merge" | "/api/v1/customers/{id}/merge") => "customer.merge",
        ("POST", "/customer-merges/{id}/undo" | "/api/v1/customer-merges/{id}/undo") => {
            "customer.merge_undo"
        }
        ("POST", "/desk/reroute" | "/api/v1/conversations/{id}/reroute") => "conversation.reroute",
        _ => return None,
    };
    Some(code)
}

/// The user or token behind a request, resolved as `auth` does (the token's or the session's
/// hash looked up in the store); `None` for anonymous and widget calls.
async fn actor(parts: &Parts, state: &AppState) -> Option<Actor> {
    if let Some(token) = bearer_token(parts) {
        let (token, user) = state.store.api_token(&token_hash(token)).await.ok()??;
        return Some(Actor {
            workspace_id: user.workspace_id,
            kind: AuditActorKind::Token,
            id: token.id.to_string(),
            name: token.name.clone(),
            user: Some((user.id.0, user.display_name.clone())),
        });
    }
    let token = cookie(&parts.headers, SESSION_COOKIE)?;
    session_user(state, token).await.map(|user| Actor::user(&user))
}

async fn session_user(state: &AppState, token: &str) -> Option<User> {
    let found = state.store.session(&token_hash(token), tandem_store::now_millis()).await.ok()?;
    found.map(|(_, user)| user)
}

/// The session a successful sign-in handed out, read from its `Set-Cookie`.
fn new_session(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next()?.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The middleware: see the module's documentation.
pub(crate) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let changes =
        matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    let path = request.uri().path().to_owned();
    if !changes || SKIPPED_PREFIXES.iter().any(|prefix| path.starts_with(prefix)) {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |matched| matched.as_str().to_owned());
    if READ_ONLY.contains(&route.as_str()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let method = parts.method.clone();
    let ClientIp(ip) = match ClientIp::from_request_parts(&mut parts, &state).await {
        Ok(ip) => ip,
        Err(never) => match never {},
    };
    let target = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .map(|params| {
            params
                .iter()
                .map(|(name, value)| format!("{name}:{value}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let sign_in = method == Method::POST && route == "/login";
    let who = if sign_in { None } else { actor(&parts, &state).await };
    if who.is_none() && !sign_in {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if !(status.is_success() || status.is_redirection()) {
        return response;
    }
    let who = match who {
        Some(who) => who,
        None => {
            // A sign-in: recorded only when it handed out a session.
            let Some(token) = new_session(&response) else { return response };
            let Some(user) = session_user(&state, &token).await else { return response };
            Actor::user(&user)
        }
    };
    // A create names no id in its path: the new resource's address (a redirect or `Location`
    // under the collection it was posted to, `POST /knowledge` → `/knowledge/gift-wrap`) does.
    let target =
        if target.is_empty() { created(&path, &response).unwrap_or_default() } else { target };
    let action =
        action_code(&method, &route).map_or_else(|| format!("{method} {route}"), str::to_owned);
    let mut detail = serde_json::json!({
        "route": format!("{method} {route}"),
        "status": status.as_u16(),
    });
    if let Some((id, name)) = &who.user {
        detail["user_id"] = (*id).into();
        detail["user_name"] = name.clone().into();
    }
    let entry = NewAuditEntry {
        workspace_id: who.workspace_id,
        actor_kind: who.kind,
        actor_id: Some(who.id),
        actor_name: who.name,
        action,
        target,
        detail,
        ip: Some(ip.to_string()),
    };
    if let Err(error) = state.store.append_audit(entry).await {
        // The change itself is done: say so loudly, but do not turn it into a failure.
        tracing::error!(%error, route, "could not append to the audit log");
    }
    response
}

/// The address of what a request to `path` created: its response's `Location`, when that lies
/// under `path` (`/knowledge/gift-wrap` after `POST /knowledge`).
fn created(path: &str, response: &Response) -> Option<String> {
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let location = location.split(['?', '#']).next()?;
    let under = location.strip_prefix(path.trim_end_matches('/'))?.strip_prefix('/')?;
    (!under.is_empty()).then(|| format!("location:{location}"))
}

/// The filters of the audit page and API, as query parameters.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Who: `user`, `token`, `bot`, `model` or `system`.
    pub kind: Option<String>,
    /// Part of the actor's name or id.
    pub actor: Option<String>,
    /// The start of the action's code (`knowledge.`, `POST /api/v1/webhooks`).
    pub action: Option<String>,
    /// Text anywhere in the entry (action, target, detail, actor, address).
    pub q: Option<String>,
    /// From this day (`YYYY-MM-DD`, UTC), inclusive.
    pub from: Option<String>,
    /// To this day (`YYYY-MM-DD`, UTC), inclusive.
    pub to: Option<String>,
    /// Entries older than this id: the next page after the last entry seen.
    pub before: Option<i64>,
    /// Entries per page, 1 to 500 (100 by default).
    pub limit: Option<u32>,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Milliseconds at the start of a `YYYY-MM-DD` day in UTC.
fn day_start(text: &str) -> Option<i64> {
    let date: jiff::civil::Date = text.trim().parse().ok()?;
    let moment = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(moment.timestamp().as_millisecond())
}

impl AuditQuery {
    /// The store's filter; a value that does not read (an unknown kind, a bad date) is the
    /// error's field name.
    pub(crate) fn filter(&self) -> Result<AuditFilter, &'static str> {
        let given = |value: &Option<String>| {
            value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_owned)
        };
        let actor_kind = match given(&self.kind) {
            Some(kind) => Some(AuditActorKind::parse(&kind).ok_or("kind")?),
            None => None,
        };
        let from = match given(&self.from) {
            Some(day) => Some(day_start(&day).ok_or("from")?),
            None => None,
        };
        let to = match given(&self.to) {
            Some(day) => Some(day_start(&day).ok_or("to")? + DAY_MS),
            None => None,
        };
        Ok(AuditFilter {
            actor_kind,
            actor: given(&self.actor),
            action_prefix: given(&self.action),
            text: given(&self.q),
            from,
            to,
        })
    }

    pub(crate) fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, 500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_changes_have_codes() {
        assert_eq!(action_code(&Method::POST, "/settings/escalation"), Some("settings.escalation"));
        assert_eq!(action_code(&Method::PUT, "/api/v1/articles/{key}"), Some("knowledge.save"));
        assert_eq!(action_code(&Method::POST, "/settings/webhooks"), Some("webhook.create"));
        assert_eq!(action_code(&Method::POST, "/desk/presence"), None);
    }

    #[test]
    fn queries_read_into_filters() {
        let query = AuditQuery {
            kind: Some("token".into()),
            from: Some("2026-01-02".into()),
            to: Some("2026-01-02".into()),
            q: Some("  ".into()),
            ..AuditQuery::default()
        };
        let filter = query.filter().unwrap();
        assert_eq!(filter.actor_kind, Some(AuditActorKind::Token));
        assert_eq!(filter.to.unwrap() - filter.from.unwrap(), DAY_MS);
        assert_eq!(filter.text, None);
        let bad = AuditQuery { kind: Some("robot".into()), ..AuditQuery::default() };
        assert_eq!(bad.filter(), Err("kind"));
        let bad = AuditQuery { from: Some("yesterday".into()), ..AuditQuery::default() };
        assert_eq!(bad.filter(), Err("from"));
    }
}
