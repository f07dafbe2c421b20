//! The access-control matrix: every route × every kind of caller, against one small table of
//! who each route is for.
//!
//! API routes come from the served document (`/openapi.json`: paths × methods), so a new
//! operation fails this test until the table below says who it is for. Console routes are the
//! list [`console_table`], which is checked against the `.route("…")` calls under
//! `src/console/` (paths) and against the router itself (any GET or POST the list leaves out
//! must answer `method_not_allowed`), since an axum router cannot list its routes.
//!
//! Each cell asserts the class of outcome only: refused as anonymous (401, or for a page the
//! redirect to `/login`), refused as too low (403), or let past the guard (anything else: a 404
//! for an id that does not exist, a 422 for a body that does not validate). Path ids are
//! `999999` wherever the guard runs before the lookup, and bodies are ones that read but do not
//! validate, so that the rows change nothing later rows depend on.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use tandem_domain::{Channel, Locale, Role};
use tandem_server::auth::hash_password;
use tandem_server::testing::{ADMIN, AGENT, Response, SUPERVISOR, Session, TestApp, build};
use tandem_store::{NewInbox, NewUser};

/// Who a route is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// Anyone, signed in or not.
    Public,
    /// Anyone, but a bearer token that is no API token is refused as one (the sign-in page
    /// reads who is signed in).
    SignIn,
    /// A widget customer (`Authorization: Bearer` widget token).
    Widget,
    /// Any signed-in agent (session or API token).
    Agents,
    /// Supervisors and admins.
    Managers,
    /// Admins only.
    Admins,
    /// The API channel: an `api` inbox's key (`X-Tandem-Inbox` and its secret as the bearer),
    /// which none of the callers holds.
    InboxKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    /// A widget customer's token.
    Customer,
    Agent,
    Supervisor,
    Admin,
    /// The admin's API token with the `read_only` scope.
    ReadOnlyToken,
    /// The admin's API token with the `agent` scope.
    AgentToken,
}

const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::Customer,
    Caller::Agent,
    Caller::Supervisor,
    Caller::Admin,
    Caller::ReadOnlyToken,
    Caller::AgentToken,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Past the guard: anything but 401 and 403.
    Allowed,
    /// 401, or a page's redirect to the sign-in page.
    Unauthorized,
    /// 403.
    Forbidden,
}

/// What the table says `caller` gets from a route for `guard`.
fn expected(guard: Guard, caller: Caller, method: &Method) -> Outcome {
    let reads = matches!(*method, Method::GET | Method::HEAD);
    let rank = match guard {
        Guard::Public => return Outcome::Allowed,
        // Neither a session, an API token nor a widget token is an inbox's key.
        Guard::InboxKey => return Outcome::Unauthorized,
        Guard::SignIn if caller == Caller::Customer => return Outcome::Unauthorized,
        Guard::SignIn => return Outcome::Allowed,
        Guard::Widget if caller == Caller::Customer => return Outcome::Allowed,
        // Neither a session nor an API token is a widget token.
        Guard::Widget => return Outcome::Unauthorized,
        Guard::Agents => 0,
        Guard::Managers => 1,
        Guard::Admins => 2,
    };
    let role = match caller {
        // A widget token is no API token.
        Caller::Anonymous | Caller::Customer => return Outcome::Unauthorized,
        Caller::ReadOnlyToken if !reads => return Outcome::Forbidden,
        // A token's scope caps its admin's role at an agent's.
        Caller::Agent | Caller::ReadOnlyToken | Caller::AgentToken => 0,
        Caller::Supervisor => 1,
        Caller::Admin => 2,
    };
    if role >= rank { Outcome::Allowed } else { Outcome::Forbidden }
}

fn outcome(status: StatusCode, location: Option<&str>) -> Outcome {
    if status == StatusCode::UNAUTHORIZED || (status.is_redirection() && location == Some("/login"))
    {
        Outcome::Unauthorized
    } else if status == StatusCode::FORBIDDEN {
        Outcome::Forbidden
    } else {
        Outcome::Allowed
    }
}

/// What a row sends.
#[derive(Clone, Debug)]
enum Payload {
    None,
    Json(Value),
    /// A raw body with its content type.
    Text(&'static str, &'static str),
    /// Form fields (the session's CSRF token is added).
    Form(Vec<(&'static str, &'static str)>),
    /// A WebSocket handshake over a real connection.
    Socket,
}

struct Row {
    /// `METHOD /template`, as the document or the router names it.
    key: String,
    guard: Guard,
    /// The concrete address requested.
    uri: String,
    payload: Payload,
}

fn row(key: &str, guard: Guard, uri: &str, payload: Payload) -> Row {
    Row { key: key.to_owned(), guard, uri: uri.to_owned(), payload }
}

/// Who each API operation is for. `target` is a plain agent none of the callers is, for the
/// routes that look the user up before they decide (one's own account is always one's own).
fn api_table(target: i64) -> Vec<Row> {
    use Guard::*;
    use Payload::{Json, None, Socket, Text};
    let user = format!("/api/v1/users/{target}");
    let presence = format!("/api/v1/routing/agents/{target}/presence");
    vec![
        row("GET /healthz", Public, "/healthz", None),
        row("GET /openapi.json", Public, "/openapi.json", None),
        // The widget.
        row(
            "POST /api/v1/widget/session",
            Public,
            "/api/v1/widget/session",
            Json(json!({ "inbox_key": "" })),
        ),
        row("GET /api/v1/widget/messages", Widget, "/api/v1/widget/messages", None),
        row(
            "POST /api/v1/widget/messages",
            Widget,
            "/api/v1/widget/messages",
            Json(json!({ "body": "" })),
        ),
        row("POST /api/v1/widget/handoff", Widget, "/api/v1/widget/handoff", None),
        row(
            "GET /api/v1/widget/conversations/{id}/csat",
            Widget,
            "/api/v1/widget/conversations/999999/csat",
            None,
        ),
        row(
            "POST /api/v1/widget/conversations/{id}/rating",
            Widget,
            "/api/v1/widget/conversations/999999/rating",
            Json(json!({ "rating": 0 })),
        ),
        // The widget's socket carries its token in the query (added per caller).
        row("GET /api/v1/widget/ws", Widget, "/api/v1/widget/ws", Socket),
        // The API channel.
        row(
            "POST /api/v1/channel/messages",
            InboxKey,
            "/api/v1/channel/messages",
            Json(json!({ "text": "" })),
        ),
        row(
            "GET /api/v1/channel/conversations/{id}/messages",
            InboxKey,
            "/api/v1/channel/conversations/999999/messages",
            None,
        ),
        row("GET /api/v1/console/ws", Agents, "/api/v1/console/ws", Socket),
        // Any agent.
        row("GET /api/v1/me", Agents, "/api/v1/me", None),
        row(
            "PUT /api/v1/me/presence",
            Agents,
            "/api/v1/me/presence",
            Json(json!({ "presence": "nowhere" })),
        ),
        row("GET /api/v1/conversations", Agents, "/api/v1/conversations", None),
        row("GET /api/v1/conversations/{id}", Agents, "/api/v1/conversations/999999", None),
        row(
            "GET /api/v1/conversations/{id}/messages",
            Agents,
            "/api/v1/conversations/999999/messages",
            None,
        ),
        row(
            "POST /api/v1/conversations/{id}/messages",
            Agents,
            "/api/v1/conversations/999999/messages",
            Json(json!({ "body": "" })),
        ),
        row(
            "POST /api/v1/conversations/{id}/transitions",
            Agents,
            "/api/v1/conversations/999999/transitions",
            Json(json!({ "action": "nonsense" })),
        ),
        row(
            "PUT /api/v1/conversations/{id}/wrapup/topic",
            Agents,
            "/api/v1/conversations/999999/wrapup/topic",
            Json(json!({ "topic": null })),
        ),
        row(
            "GET /api/v1/conversations/{id}/assist",
            Agents,
            "/api/v1/conversations/999999/assist",
            None,
        ),
        row(
            "POST /api/v1/conversations/{id}/assist/draft",
            Agents,
            "/api/v1/conversations/999999/assist/draft",
            None,
        ),
        row(
            "POST /api/v1/conversations/{id}/assist/actions/{key}",
            Agents,
            "/api/v1/conversations/999999/assist/actions/no-such-action",
            None,
        ),
        row(
            "GET /api/v1/conversations/{id}/handoff",
            Agents,
            "/api/v1/conversations/999999/handoff",
            None,
        ),
        row(
            "GET /api/v1/conversations/{id}/rating",
            Agents,
            "/api/v1/conversations/999999/rating",
            None,
        ),
        row(
            "POST /api/v1/conversations/{id}/rating",
            Agents,
            "/api/v1/conversations/999999/rating",
            Json(json!({ "rating": 0 })),
        ),
        row("GET /api/v1/users", Agents, "/api/v1/users", None),
        row("GET /api/v1/tokens", Agents, "/api/v1/tokens", None),
        row("POST /api/v1/tokens", Agents, "/api/v1/tokens", Json(json!({ "name": "" }))),
        row("DELETE /api/v1/tokens/{id}", Agents, "/api/v1/tokens/999999", None),
        row("GET /api/v1/actions", Agents, "/api/v1/actions", None),
        row("GET /api/v1/articles", Agents, "/api/v1/articles", None),
        row("GET /api/v1/articles/export", Agents, "/api/v1/articles/export", None),
        row(
            "POST /api/v1/answer/explain",
            Agents,
            "/api/v1/answer/explain",
            Json(json!({ "question": "" })),
        ),
        row("GET /api/v1/answer/settings", Agents, "/api/v1/answer/settings", None),
        row("GET /api/v1/reports/kpis", Agents, "/api/v1/reports/kpis", None),
        row("GET /api/v1/reports/conversations", Agents, "/api/v1/reports/conversations", None),
        row("GET /api/v1/routing", Agents, "/api/v1/routing", None),
        row("GET /api/v1/routing/agents", Agents, "/api/v1/routing/agents", None),
        row("GET /api/v1/queues", Agents, "/api/v1/queues", None),
        row("GET /api/v1/escalation/policy", Agents, "/api/v1/escalation/policy", None),
        row("GET /api/v1/inboxes/{id}/csat", Agents, "/api/v1/inboxes/999999/csat", None),
        row("GET /api/v1/inboxes", Agents, "/api/v1/inboxes", None),
        row("GET /api/v1/attachments/{id}", Agents, "/api/v1/attachments/999999", None),
        row(
            "POST /api/v1/customers/{id}/emails",
            Agents,
            "/api/v1/customers/999999/emails",
            Json(json!({ "body": "" })),
        ),
        // Supervisors and admins.
        row(
            "POST /api/v1/actions/import",
            Managers,
            "/api/v1/actions/import",
            Text("text/plain", "[[action]]\nkey = \"\"\n"),
        ),
        row(
            "PUT /api/v1/actions/{key}",
            Managers,
            "/api/v1/actions/rbac-probe",
            Json(json!({
                "key": "another-key", "name": "", "triggers": [], "steps": [],
                "replies": { "done": { "zh": "", "en": "" }, "not_found": { "zh": "", "en": "" }, "error": { "zh": "", "en": "" } }
            })),
        ),
        row("DELETE /api/v1/actions/{key}", Managers, "/api/v1/actions/no-such-action", None),
        row(
            "POST /api/v1/articles/import",
            Managers,
            "/api/v1/articles/import?format=jsonl",
            Text("text/plain", "{"),
        ),
        row(
            "PUT /api/v1/articles/{key}",
            Managers,
            "/api/v1/articles/rbac-probe",
            Json(json!({ "title": "", "answer": "" })),
        ),
        row(
            "POST /api/v1/articles/{key}/status",
            Managers,
            "/api/v1/articles/no-such-article/status",
            Json(json!({ "status": "nonsense" })),
        ),
        row(
            "PUT /api/v1/answer/settings",
            Managers,
            "/api/v1/answer/settings",
            Json(json!({ "threshold": 7.5 })),
        ),
        row(
            "POST /api/v1/conversations/import",
            Managers,
            "/api/v1/conversations/import",
            Text("application/x-ndjson", "{"),
        ),
        row(
            "POST /api/v1/conversations/{id}/reroute",
            Managers,
            "/api/v1/conversations/999999/reroute",
            Json(json!({})),
        ),
        row(
            "PUT /api/v1/escalation/policy",
            Managers,
            "/api/v1/escalation/policy",
            Json(json!({ "negative_sentiment": 7.5 })),
        ),
        row(
            "PUT /api/v1/inboxes/{id}/csat",
            Managers,
            "/api/v1/inboxes/999999/csat",
            Json(json!({ "enabled": false, "rating": { "zh": "", "en": "" } })),
        ),
        row("GET /api/v1/insight/alerts", Managers, "/api/v1/insight/alerts", None),
        row(
            "POST /api/v1/insight/alerts/{id}/dismiss",
            Managers,
            "/api/v1/insight/alerts/999999/dismiss",
            None,
        ),
        row(
            "PUT /api/v1/queues/{id}",
            Managers,
            "/api/v1/queues/999999",
            Json(json!({ "routing": {} })),
        ),
        row(
            "PUT /api/v1/routing/agents/{id}",
            Managers,
            "/api/v1/routing/agents/999999",
            Json(json!({})),
        ),
        // Someone else's presence (one's own is anyone's to set).
        row(
            "PUT /api/v1/routing/agents/{id}/presence",
            Managers,
            &presence,
            Json(json!({ "presence": "offline" })),
        ),
        // Admins.
        row("GET /api/v1/audit", Admins, "/api/v1/audit", None),
        row(
            "POST /api/v1/users",
            Admins,
            "/api/v1/users",
            Json(json!({ "email": "", "display_name": "", "role": "", "password": "" })),
        ),
        // Someone else's account (one's own name is anyone's to change).
        row("PATCH /api/v1/users/{id}", Admins, &user, Json(json!({ "display_name": "" }))),
        row(
            "POST /api/v1/inboxes",
            Admins,
            "/api/v1/inboxes",
            Json(json!({ "name": "", "channel": "api" })),
        ),
        row("GET /api/v1/inboxes/{id}/identity", Admins, "/api/v1/inboxes/999999/identity", None),
        row("GET /api/v1/inboxes/{id}/channel", Admins, "/api/v1/inboxes/999999/channel", None),
        row(
            "PUT /api/v1/inboxes/{id}/channel",
            Admins,
            "/api/v1/inboxes/999999/channel",
            Json(json!({ "dingtalk": { "app_key": "", "robot_code": "" } })),
        ),
        row(
            "POST /api/v1/inboxes/{id}/identity/rotate",
            Admins,
            "/api/v1/inboxes/999999/identity/rotate",
            None,
        ),
        row("GET /api/v1/llm/settings", Admins, "/api/v1/llm/settings", None),
        row(
            "PUT /api/v1/llm/settings",
            Admins,
            "/api/v1/llm/settings",
            Json(json!({ "temperature": 99.0 })),
        ),
        row("GET /api/v1/customers/{id}/export", Admins, "/api/v1/customers/999999/export", None),
        row("DELETE /api/v1/customers/{id}", Admins, "/api/v1/customers/999999", None),
        row("GET /api/v1/customers/{id}", Agents, "/api/v1/customers/999999", None),
        row(
            "POST /api/v1/customers/{id}/merge",
            Managers,
            "/api/v1/customers/999999/merge",
            Json(json!({ "into": 999998 })),
        ),
        row(
            "POST /api/v1/customer-merges/{id}/undo",
            Managers,
            "/api/v1/customer-merges/999999/undo",
            None,
        ),
        row("GET /api/v1/privacy/erasures", Admins, "/api/v1/privacy/erasures", None),
        row("GET /api/v1/privacy/retention", Admins, "/api/v1/privacy/retention", None),
        row(
            "PUT /api/v1/privacy/retention",
            Admins,
            "/api/v1/privacy/retention",
            Json(json!({ "resolved_conversation_days": 99999999 })),
        ),
        row("GET /api/v1/webhooks", Admins, "/api/v1/webhooks", None),
        row(
            "POST /api/v1/webhooks",
            Admins,
            "/api/v1/webhooks",
            Json(json!({ "url": "", "events": [] })),
        ),
        row("GET /api/v1/webhooks/{id}", Admins, "/api/v1/webhooks/999999", None),
        row("PATCH /api/v1/webhooks/{id}", Admins, "/api/v1/webhooks/999999", Json(json!({}))),
        row("DELETE /api/v1/webhooks/{id}", Admins, "/api/v1/webhooks/999999", None),
        row(
            "GET /api/v1/webhooks/{id}/deliveries",
            Admins,
            "/api/v1/webhooks/999999/deliveries",
            None,
        ),
        row("POST /api/v1/webhooks/{id}/test", Admins, "/api/v1/webhooks/999999/test", None),
    ]
}

/// Who each console route is for, read from `src/console/` (see the module's note).
fn console_table(target: i64) -> Vec<Row> {
    use Guard::*;
    use Payload::{Form, None};
    let agent_update = format!("/admin/agents/{target}");
    vec![
        row("GET /", Public, "/", None),
        row("GET /login", SignIn, "/login", None),
        row("GET /inbox", Agents, "/inbox", None),
        row("GET /inbox/live", Agents, "/inbox/live", None),
        row("GET /conversations/{id}", Agents, "/conversations/999999", None),
        row("GET /conversations/{id}/assist", Agents, "/conversations/999999/assist", None),
        row(
            "POST /conversations/{id}/actions",
            Agents,
            "/conversations/999999/actions",
            Form(vec![("action", "nonsense")]),
        ),
        row(
            "POST /conversations/{id}/messages",
            Agents,
            "/conversations/999999/messages",
            Form(vec![("body", "")]),
        ),
        row(
            "POST /conversations/{id}/wrapup/topic",
            Agents,
            "/conversations/999999/wrapup/topic",
            Form(vec![]),
        ),
        row("GET /settings", Agents, "/settings", None),
        row(
            "POST /settings",
            Agents,
            "/settings",
            Form(vec![("display_name", ""), ("locale", "")]),
        ),
        row("POST /settings/tokens", Agents, "/settings/tokens", Form(vec![("name", "")])),
        row(
            "POST /settings/tokens/{id}/revoke",
            Agents,
            "/settings/tokens/999999/revoke",
            Form(vec![]),
        ),
        row("GET /knowledge", Agents, "/knowledge", None),
        row("GET /knowledge/export", Agents, "/knowledge/export", None),
        row("GET /knowledge/test", Agents, "/knowledge/test", None),
        row("GET /knowledge/suggestions", Agents, "/knowledge/suggestions", None),
        row("GET /knowledge/settings", Agents, "/knowledge/settings", None),
        row("GET /knowledge/{key}", Agents, "/knowledge/no-such-article", None),
        row("GET /settings/escalation", Agents, "/settings/escalation", None),
        row("GET /settings/routing", Agents, "/settings/routing", None),
        row("GET /settings/csat", Agents, "/settings/csat", None),
        row("GET /settings/actions", Agents, "/settings/actions", None),
        row("GET /desk", Agents, "/desk", None),
        row("POST /desk/presence", Agents, "/desk/presence", Form(vec![("presence", "nowhere")])),
        row("GET /insight", Agents, "/insight", None),
        row(
            "GET /insight/conversations",
            Agents,
            "/insight/conversations?metric=conversations",
            None,
        ),
        row("GET /insight/export.csv", Agents, "/insight/export.csv", None),
        // Supervisors and admins.
        row("POST /knowledge", Managers, "/knowledge", Form(vec![])),
        row("GET /knowledge/new", Managers, "/knowledge/new", None),
        row("GET /knowledge/import", Managers, "/knowledge/import", None),
        row(
            "POST /knowledge/import",
            Managers,
            "/knowledge/import",
            Form(vec![("content", "{"), ("format", "jsonl")]),
        ),
        row("POST /knowledge/suggestions", Managers, "/knowledge/suggestions", Form(vec![])),
        row(
            "POST /knowledge/settings",
            Managers,
            "/knowledge/settings",
            Form(vec![("threshold", "nonsense")]),
        ),
        row("POST /knowledge/{key}", Managers, "/knowledge/no-such-article", Form(vec![])),
        row(
            "POST /knowledge/{key}/status",
            Managers,
            "/knowledge/no-such-article/status",
            Form(vec![("status", "nonsense")]),
        ),
        row(
            "POST /settings/escalation",
            Managers,
            "/settings/escalation",
            Form(vec![("negative_sentiment", "nonsense")]),
        ),
        row(
            "POST /settings/routing/agents/{id}",
            Managers,
            "/settings/routing/agents/999999",
            Form(vec![]),
        ),
        row(
            "POST /settings/routing/queues/{id}",
            Managers,
            "/settings/routing/queues/999999",
            Form(vec![]),
        ),
        row("POST /settings/csat/{id}", Managers, "/settings/csat/999999", Form(vec![])),
        row(
            "POST /settings/actions",
            Managers,
            "/settings/actions",
            Form(vec![("content", "[[action]]\nkey = \"\"\n")]),
        ),
        row(
            "POST /settings/actions/{key}",
            Managers,
            "/settings/actions/no-such-action",
            Form(vec![("action", "nonsense")]),
        ),
        row(
            "POST /desk/reroute",
            Managers,
            "/desk/reroute",
            Form(vec![("conversation", "999999"), ("agent", "999999")]),
        ),
        row("GET /insight/alerts", Managers, "/insight/alerts", None),
        row(
            "POST /insight/alerts/{id}/dismiss",
            Managers,
            "/insight/alerts/999999/dismiss",
            Form(vec![]),
        ),
        // Admins.
        row("GET /admin/agents", Admins, "/admin/agents", None),
        row(
            "POST /admin/agents",
            Admins,
            "/admin/agents",
            Form(vec![
                ("email", ""),
                ("display_name", ""),
                ("role", ""),
                ("locale", ""),
                ("password", ""),
            ]),
        ),
        // Someone else's account.
        row("POST /admin/agents/{id}", Admins, &agent_update, Form(vec![])),
        row("GET /settings/audit", Admins, "/settings/audit", None),
        row("GET /settings/audit/export.csv", Admins, "/settings/audit/export.csv", None),
        row(
            "POST /settings/inboxes/{id}/identity/rotate",
            Admins,
            "/settings/inboxes/999999/identity/rotate",
            Form(vec![]),
        ),
        row("POST /settings/inboxes", Admins, "/settings/inboxes", Form(vec![("name", "")])),
        row(
            "POST /settings/inboxes/{id}/channel",
            Admins,
            "/settings/inboxes/999999/channel",
            Form(vec![]),
        ),
        row("GET /settings/webhooks", Admins, "/settings/webhooks", None),
        row("POST /settings/webhooks", Admins, "/settings/webhooks", Form(vec![("url", "")])),
        row(
            "POST /settings/webhooks/{id}",
            Admins,
            "/settings/webhooks/999999",
            Form(vec![("action", "enable")]),
        ),
        row("GET /settings/model", Admins, "/settings/model", None),
        row(
            "POST /settings/model",
            Admins,
            "/settings/model",
            Form(vec![("timeout_ms", "nonsense")]),
        ),
        row("GET /settings/privacy", Admins, "/settings/privacy", None),
        row(
            "POST /settings/privacy",
            Admins,
            "/settings/privacy",
            Form(vec![("resolved_conversation_days", "nonsense")]),
        ),
        row(
            "POST /customers/{id}/merge",
            Managers,
            "/customers/999999/merge",
            Form(vec![("into", "999998"), ("conversation", "0")]),
        ),
        row(
            "POST /customers/{id}/email",
            Agents,
            "/customers/999999/email",
            Form(vec![("body", "hi"), ("conversation", "0")]),
        ),
        row(
            "POST /customer-merges/{id}/undo",
            Managers,
            "/customer-merges/999999/undo",
            Form(vec![("conversation", "0")]),
        ),
        row(
            "POST /customers/{id}/erase",
            Admins,
            "/customers/999999/erase",
            Form(vec![("confirm", "no"), ("conversation", "0")]),
        ),
    ]
}

/// Console routes the matrix leaves to their own tests: signing in (its own CSRF cookie and
/// rate limit, `console.rs`) and out (it would end the callers' sessions mid-table).
const CONSOLE_ELSEWHERE: [&str; 2] = ["POST /login", "POST /logout"];

/// Every caller's credentials.
struct Callers {
    agent: Session,
    supervisor: Session,
    admin: Session,
    read_only: String,
    agent_token: String,
    widget: String,
}

impl Callers {
    async fn new(app: &TestApp) -> Callers {
        let admin = app.login(ADMIN).await;
        let token = |scope: &'static str| {
            let admin = admin.clone();
            async move {
                let headers =
                    [("cookie", admin.cookie.as_str()), ("x-csrf-token", admin.csrf.as_str())];
                let created = app
                    .post_json("/api/v1/tokens", &headers, json!({ "name": scope, "scope": scope }))
                    .await;
                assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
                created.json()["token"].as_str().unwrap().to_owned()
            }
        };
        Callers {
            read_only: token("read_only").await,
            agent_token: token("agent").await,
            agent: app.login(AGENT).await,
            supervisor: app.login(SUPERVISOR).await,
            admin,
            widget: app.widget_token().await,
        }
    }

    /// The caller's headers; `csrf` is where a session's CSRF token goes (none for reads and
    /// forms, whose token travels in the body).
    fn headers(&self, caller: Caller, csrf: bool) -> Vec<(&'static str, String)> {
        let session = |session: &Session| {
            let mut headers = vec![("cookie", session.cookie.clone())];
            if csrf {
                headers.push(("x-csrf-token", session.csrf.clone()));
            }
            headers
        };
        let bearer = |token: &str| vec![("authorization", format!("Bearer {token}"))];
        match caller {
            Caller::Anonymous => Vec::new(),
            Caller::Customer => bearer(&self.widget),
            Caller::Agent => session(&self.agent),
            Caller::Supervisor => session(&self.supervisor),
            Caller::Admin => session(&self.admin),
            Caller::ReadOnlyToken => bearer(&self.read_only),
            Caller::AgentToken => bearer(&self.agent_token),
        }
    }

    fn csrf(&self, caller: Caller) -> &str {
        match caller {
            Caller::Agent => &self.agent.csrf,
            Caller::Supervisor => &self.supervisor.csrf,
            Caller::Admin => &self.admin.csrf,
            _ => "",
        }
    }
}

fn method_of(key: &str) -> Method {
    Method::from_bytes(key.split(' ').next().unwrap().as_bytes()).unwrap()
}

/// Sends the row as `caller`; returns the status and, for a redirect, where to.
async fn send(
    app: &TestApp,
    address: &str,
    callers: &Callers,
    caller: Caller,
    row: &Row,
) -> (StatusCode, Option<String>) {
    let method = method_of(&row.key);
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD);
    let mut headers = callers.headers(caller, unsafe_method);
    let body = match &row.payload {
        Payload::None => Body::empty(),
        Payload::Json(value) => {
            headers.push(("content-type", "application/json".into()));
            Body::from(value.to_string())
        }
        Payload::Text(content_type, text) => {
            headers.push(("content-type", (*content_type).into()));
            Body::from(*text)
        }
        Payload::Form(fields) => {
            let mut fields: Vec<(&str, &str)> = fields.clone();
            fields.push(("csrf", callers.csrf(caller)));
            headers.push(("content-type", "application/x-www-form-urlencoded".into()));
            Body::from(serde_urlencoded::to_string(&fields).unwrap())
        }
        Payload::Socket => return socket(address, callers, caller, row, &headers).await,
    };
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
    let response: Response = app.send(build(method, &row.uri, &headers, body)).await;
    let location = response
        .headers
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (response.status, location)
}

/// Opens the row's socket over a real connection as `caller`: 101 or the refusal's status.
async fn socket(
    address: &str,
    callers: &Callers,
    caller: Caller,
    row: &Row,
    headers: &[(&'static str, String)],
) -> (StatusCode, Option<String>) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut uri = format!("ws://{address}{}", row.uri);
    if row.guard == Guard::Widget {
        // The widget's socket reads its token from the query; anyone else sends theirs there.
        let token = if caller == Caller::Customer { callers.widget.as_str() } else { "" };
        uri.push_str(&format!("?token={token}"));
    }
    let mut request = uri.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut socket, response)) => {
            let _ = socket.close(None).await;
            (response.status(), None)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => (response.status(), None),
        Err(error) => panic!("{} as {caller:?}: {error}", row.key),
    }
}

/// A plain agent none of the callers is, for the rows about someone else's account.
async fn target_user(app: &TestApp) -> i64 {
    let user = app
        .store
        .create_user(NewUser {
            workspace_id: app.workspace,
            email: "target@galaxy.example".into(),
            display_name: "Target".into(),
            role: Role::Agent,
            locale: Locale::En,
            password_hash: hash_password("tandem-target").unwrap(),
        })
        .await
        .unwrap();
    user.id.0
}

/// Runs every row as every caller; returns how many cells were checked and the ones that
/// differ from the table.
async fn check(
    app: &TestApp,
    address: &str,
    callers: &Callers,
    rows: &[Row],
    mismatches: &mut Vec<String>,
) -> usize {
    let mut cells = 0;
    for row in rows {
        let method = method_of(&row.key);
        for caller in CALLERS {
            let want = expected(row.guard, caller, &method);
            let (status, location) = send(app, address, callers, caller, row).await;
            let got = outcome(status, location.as_deref());
            cells += 1;
            if status.is_server_error() {
                mismatches.push(format!("{} ({}) as {caller:?}: {status}", row.key, row.uri));
            } else if got != want {
                mismatches.push(format!(
                    "{} ({}) as {caller:?}: expected {want:?} for {:?}, got {status} {}",
                    row.key,
                    row.uri,
                    row.guard,
                    location.unwrap_or_default()
                ));
            }
        }
    }
    cells
}

/// The templates of the `.route("…")` calls under `src/console/`.
fn console_sources() -> BTreeSet<String> {
    fn walk(dir: &std::path::Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (at, _) in text.match_indices(".route(") {
                    let rest = text[at + ".route(".len()..].trim_start();
                    let template = rest.strip_prefix('"').and_then(|rest| rest.split('"').next());
                    found.insert(template.expect("a literal route path").to_owned());
                }
            }
        }
    }
    let mut found = BTreeSet::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console"), &mut found);
    found
}

#[tokio::test]
async fn every_route_refuses_exactly_the_callers_the_table_says() {
    let app = TestApp::fixture().conversations().build().await;
    let address = app.spawn().await;
    let target = target_user(&app).await;
    let callers = Callers::new(&app).await;

    // The API: the table covers exactly the documented operations.
    let document = app.get("/openapi.json", &[]).await.json();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let api = api_table(target);
    let listed: BTreeSet<String> = api.iter().map(|row| row.key.clone()).collect();
    assert_eq!(listed.len(), api.len(), "an API row is listed twice");
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(missing.is_empty(), "documented operations missing from the RBAC table: {missing:?}");
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(stale.is_empty(), "RBAC table rows no longer documented: {stale:?}");

    // The console: the table covers every path routed under src/console, and every method
    // of those paths it leaves out is not served.
    let console = console_table(target);
    let keys: BTreeSet<String> = console.iter().map(|row| row.key.clone()).collect();
    assert_eq!(keys.len(), console.len(), "a console row is listed twice");
    let mut paths: BTreeSet<String> =
        keys.iter().map(|key| key.split_once(' ').unwrap().1.to_owned()).collect();
    paths.extend(CONSOLE_ELSEWHERE.iter().map(|key| key.split_once(' ').unwrap().1.to_owned()));
    assert_eq!(paths, console_sources(), "the console table and src/console's routes differ");
    for row in &console {
        let path = row.key.split_once(' ').unwrap().1;
        for method in ["GET", "POST"] {
            let key = format!("{method} {path}");
            if keys.contains(&key) || CONSOLE_ELSEWHERE.contains(&key.as_str()) {
                continue;
            }
            let headers = [
                ("cookie", callers.admin.cookie.as_str()),
                ("x-csrf-token", callers.admin.csrf.as_str()),
            ];
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let response = app.send(build(method, &row.uri, &headers, Body::empty())).await;
            assert_eq!(
                (response.status, response.code().as_str()),
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
                "{key} is served but not in the console table"
            );
        }
    }

    let mut mismatches = Vec::new();
    let cells = check(&app, &address, &callers, &api, &mut mismatches).await
        + check(&app, &address, &callers, &console, &mut mismatches).await;
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    println!(
        "RBAC matrix: {} API and {} console routes × {} callers = {cells} cells",
        api.len(),
        console.len(),
        CALLERS.len()
    );
    assert_eq!(cells, (api.len() + console.len()) * CALLERS.len());

    // The callers still are who they were: no row signed anyone out or revoked a token.
    let me =
        app.get("/api/v1/me", &[("authorization", &format!("Bearer {}", callers.read_only))]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    let me = app.get("/api/v1/me", &[("cookie", &callers.agent.cookie)]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
}

#[tokio::test]
async fn one_workspace_never_reaches_another() {
    let app = TestApp::fixture().conversations().build().await;
    // A second workspace with its own admin and inbox.
    let other = app.store.create_workspace("Other Shop").await.unwrap().id;
    let other_inbox = app
        .store
        .create_inbox(NewInbox {
            workspace_id: other,
            name: "Web".into(),
            channel: Channel::Web,
            public_key: "pk_other_workspace".into(),
            bot_name: "Bot".into(),
        })
        .await
        .unwrap();
    app.store
        .create_user(NewUser {
            workspace_id: other,
            email: "boss@other.example".into(),
            display_name: "Other Boss".into(),
            role: Role::Admin,
            locale: Locale::En,
            password_hash: hash_password("other-admin-pass").unwrap(),
        })
        .await
        .unwrap();
    let stranger = app.login(("boss@other.example", "other-admin-pass")).await;
    let admin = app.login(ADMIN).await;
    let session = |session: &Session| {
        vec![("cookie", session.cookie.clone()), ("x-csrf-token", session.csrf.clone())]
    };

    // What the first workspace holds.
    let headers = session(&admin);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let listed = app.get("/api/v1/conversations?view=all", &headers).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let conversation = listed.json()["conversations"][0]["id"].as_i64().expect("a conversation");
    let customer = listed.json()["conversations"][0]["customer_id"].as_i64();
    let token = app
        .post_json("/api/v1/tokens", &headers, json!({ "name": "mine", "scope": "admin" }))
        .await
        .json();
    let (token_id, token) =
        (token["id"].as_i64().unwrap(), token["token"].as_str().unwrap().to_owned());
    let inbox = app.inbox_id().await.0;
    let users = app.get("/api/v1/users", &headers).await.json();
    let user = users["users"][0]["id"].as_i64().unwrap();

    // The other workspace's admin finds none of it, by the API or the console.
    let headers = session(&stranger);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut requests = vec![
        (Method::GET, format!("/api/v1/conversations/{conversation}"), None),
        (Method::GET, format!("/api/v1/conversations/{conversation}/messages"), None),
        (
            Method::POST,
            format!("/api/v1/conversations/{conversation}/messages"),
            Some(json!({ "body": "hello from elsewhere" })),
        ),
        (Method::GET, format!("/api/v1/inboxes/{inbox}/identity"), None),
        (Method::GET, format!("/api/v1/inboxes/{inbox}/csat"), None),
        (Method::PATCH, format!("/api/v1/users/{user}"), Some(json!({ "display_name": "Taken" }))),
        (Method::DELETE, format!("/api/v1/tokens/{token_id}"), None),
        (Method::GET, format!("/conversations/{conversation}"), None),
    ];
    if let Some(customer) = customer {
        requests.push((Method::GET, format!("/api/v1/customers/{customer}/export"), None));
        requests.push((Method::GET, format!("/api/v1/customers/{customer}"), None));
    }
    for (method, uri, body) in requests {
        let mut all = headers.clone();
        let body = match body {
            Some(body) => {
                all.push(("content-type", "application/json"));
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let response = app.send(build(method.clone(), &uri, &all, body)).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{method} {uri}: {}", response.text());
    }
    let theirs = app.get("/api/v1/conversations?view=all", &headers).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.json()["conversations"], json!([]), "{}", theirs.text());
    let users = app.get("/api/v1/users", &headers).await.json();
    assert_eq!(users["users"].as_array().unwrap().len(), 1, "{users}");

    // Nor does the first workspace's token find the other's inbox; and it still works.
    let bearer = format!("Bearer {token}");
    let identity = app
        .get(
            &format!("/api/v1/inboxes/{}/identity", other_inbox.id.0),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(identity.status, StatusCode::NOT_FOUND, "{}", identity.text());
    let me = app.get("/api/v1/me", &[("authorization", &bearer)]).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
}
