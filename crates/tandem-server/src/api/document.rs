//! The API document (`/openapi.json`), generated from the handlers and their types as the
//! routes are registered (`utoipa_axum`'s `routes!`), so it cannot drift from the router: a
//! route exists in the document exactly when it exists in the API.
//!
//! What the handlers cannot say for themselves is added here: the overview, the tags, the
//! three ways of authenticating, and the table of error codes (from [`ErrorCode`], the one
//! table every error response uses).

use std::sync::LazyLock;

use utoipa::openapi::response::{Response, ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};

use serde_json::json;
use tandem_domain::WebhookEventType;

use crate::error::ErrorCode;

const OVERVIEW: &str = "The HTTP API of Tandem, an AI-first customer-service platform: the chat \
widget's public endpoints, the agents' endpoints and two WebSockets.

- A message is stored durably before it is acknowledged: a success response or an `ack` frame \
means it is saved.
- A client-chosen `client_msg_id` makes a send idempotent: retrying returns the stored message \
instead of storing a copy.
- Messages carry a per-conversation `seq` (1, 2, 3…). A WebSocket client that reconnects with \
`after_seq` set to the highest `seq` it holds resumes without missing any.

Errors are JSON `{\"code\", \"message\", \"field\"?}` with a stable `code` for each distinct \
condition; the `ErrorCode` schema lists every code with its status and meaning. Translate \
`code` for people; `message` is for developers. Times are integer milliseconds since the Unix \
epoch. Request bodies are JSON of at most 64 KiB (the knowledge and history imports take up \
to 16 MiB of text). A `429` carries `Retry-After` in seconds.";

/// The tags operations are grouped by, with what each group is for.
const TAGS: &[(&str, &str)] = &[
    (
        "widget",
        "Public endpoints used by the chat widget on a business's website (any origin, no cookies).",
    ),
    (
        "agents",
        "Conversations, messages, users and tokens: for agents, supervisors, admins and integrations, authenticated by API token or console session.",
    ),
    ("knowledge", "Knowledge articles, the answer engine and its settings."),
    ("actions", "Business actions: declarative connectors to the business's own systems."),
    ("triage", "Escalation policy, hand-off packets, routing, queues and presence."),
    ("model", "The workspace's model provider (optional, off by default)."),
    (
        "webhooks",
        "Outbound webhooks: endpoints that receive signed conversation events, and their deliveries.",
    ),
    (
        "inboxes",
        "Inboxes (web, e-mail, API channel): created by admins, listed for agents, and the identity secret for identity verification and the API channel (admins).",
    ),
    (
        "channel",
        "The API channel: a business posts its customers' messages to an `api` inbox with the inbox's key, and receives the replies as signed webhooks of an endpoint bound to the inbox (or polls).",
    ),
    (
        "reports",
        "Insight: KPIs over conversations, the conversations behind each figure, and spike alerts on what customers ask.",
    ),
    (
        "audit",
        "The audit log: who (a user, an API token, the bot, the model) changed what, when and from where (admins).",
    ),
    (
        "customers",
        "One customer across channels: a customer's profile with its merges, two customers merged into one (supervisors and admins) and a merge undone.",
    ),
    (
        "privacy",
        "Retention and erasure (PIPL, GDPR): one customer's data exported or erased, the records of erasures, and how long resolved conversations are kept (admins).",
    ),
    ("realtime", "WebSockets that push new messages and conversation changes."),
    ("health", "Operational checks and this document."),
];

/// Error responses every operation may answer with (`4XX`, `5XX`), in the `Error` schema.
#[derive(Debug)]
pub struct Errors;

impl utoipa::IntoResponses for Errors {
    fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Error"))).build(),
                )
                .build()
        };
        ResponsesBuilder::new()
            .response("4XX", error("The request was refused; `code` says why (see `ErrorCode`)."))
            .response("5XX", error("The server failed (`internal`); it is logged."))
            .build()
            .into()
    }
}

/// The code table, as the `ErrorCode` schema's description.
fn error_table() -> String {
    let mut table = String::from(
        "Every error's stable `code`, one per distinct condition, with its HTTP status.\n\n\
         | code | status | meaning |\n|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        table.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.status().as_u16(),
            code.meaning()
        ));
    }
    table
}

/// Completes the document the routes collected: overview, tags, security schemes, error table.
pub fn complete(mut document: OpenApi) -> OpenApi {
    document.info.title = "Tandem API".into();
    document.info.version = env!("CARGO_PKG_VERSION").into();
    document.info.description = Some(OVERVIEW.into());
    document.info.license = Some(utoipa::openapi::License::new("Apache-2.0"));
    document.tags = Some(
        TAGS.iter()
            .map(|(name, description)| {
                utoipa::openapi::tag::TagBuilder::new()
                    .name(*name)
                    .description(Some(*description))
                    .build()
            })
            .collect(),
    );
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            crate::auth::SESSION_COOKIE,
            "The console's session cookie, set by signing in at `/login`. Requests with unsafe \
             methods (anything but GET, HEAD and OPTIONS) must also send the session's CSRF \
             token in the `X-CSRF-Token` header.",
        ))),
    );
    components.add_security_scheme(
        "apiToken",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("tdm_…")
                .description(Some(
                    "An API token from `POST /api/v1/tokens`; it acts as the user who created \
                     it, with at most its scope: `read_only` only reads (GET, HEAD) as an agent \
                     at most, `agent` acts as an agent at most, `admin` with the user's role. \
                     A revoked or expired token is refused (`token_revoked`, `token_expired`). \
                     When an `Authorization: Bearer` header is present it is used instead of \
                     any cookie.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "widgetToken",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("w1.<inbox id>.<customer id>.<signature>")
                .description(Some(
                    "A widget token from `POST /api/v1/widget/session`, signed by the server, \
                     identifying one customer in one inbox.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "inboxKey",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The API channel's inbox secret: the identity secret of an `api` inbox \
                     (`GET /api/v1/inboxes/{id}/identity`), sent together with the inbox's \
                     public key in `X-Tandem-Inbox`. Rotating the secret refuses the old one \
                     at once.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "inboxPublicKey",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Tandem-Inbox",
            "The public key (`pk_…`) of the API channel's inbox, with its secret as the bearer.",
        ))),
    );
    if let Some(RefOr::T(Schema::Object(codes))) = components.schemas.get_mut("ErrorCode") {
        codes.description = Some(error_table());
    }
    document
}

/// One line on each event, as the title of its entry under `webhooks`.
fn event_summary(event: WebhookEventType) -> &'static str {
    match event {
        WebhookEventType::ConversationHandedOff => {
            "A conversation was handed off to people, with its hand-off packet"
        }
        WebhookEventType::ConversationAssigned => "A person was given a conversation",
        WebhookEventType::ConversationResolved => "A conversation was resolved",
        WebhookEventType::MessageCreated => "A customer, agent or bot message was stored",
        WebhookEventType::InsightAlert => {
            "A topic of customers' messages rose well above its expected level"
        }
        WebhookEventType::Test => "A test event from \"send test event\"",
    }
}

/// The requests Tandem makes to a business's endpoints (OpenAPI 3.1 `webhooks`, which the
/// document model lacks): one per event type, each a `WebhookEvent` with its headers.
fn webhooks() -> serde_json::Value {
    let header = |name: &str, schema: serde_json::Value, description: &str| json!({ "name": name, "in": "header", "required": true, "schema": schema, "description": description });
    let mut events = serde_json::Map::new();
    for &event in WebhookEventType::SUBSCRIBABLE.iter().chain([&WebhookEventType::Test]) {
        let operation = json!({
            "tags": ["webhooks"],
            "summary": event_summary(event),
            "parameters": [
                header("X-Tandem-Event", json!({ "type": "string", "const": event.as_str() }), "The event's type."),
                header("X-Tandem-Delivery", json!({ "type": "string" }), "The delivery id; the same on every retry."),
                header("X-Tandem-Signature", json!({ "type": "string" }),
                    "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`, keyed with the endpoint's secret (its `whsec_` prefix included)."),
            ],
            "requestBody": {
                "required": true,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/WebhookEvent" } } },
            },
            "responses": { "2XX": { "description": "Delivered. Anything else is retried." } },
        });
        events.insert(event.as_str().to_owned(), json!({ "post": operation }));
    }
    serde_json::Value::Object(events)
}

/// Times are `Millis`, an alias of `i64`, which the derive can only name by its target: the
/// schema it calls `i64` is given its real name and meaning.
fn name_timestamps(document: &mut serde_json::Value) {
    const ALIAS: &str = "#/components/schemas/i64";
    fn rename(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) if text == ALIAS => {
                *text = "#/components/schemas/Millis".into()
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(rename),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(rename),
            _ => {}
        }
    }
    rename(document);
    if let Some(schemas) = document["components"]["schemas"].as_object_mut() {
        schemas.remove("i64");
        schemas.insert(
            "Millis".into(),
            json!({ "type": "integer", "format": "int64", "description": "Milliseconds since the Unix epoch.", "examples": [1764072000000_i64] }),
        );
    }
}

/// A summary is the first paragraph of the handler's doc comment, wrapped as the source is:
/// unwrapped here, since tools show it as a title.
fn one_line_summaries(document: &mut serde_json::Value) {
    let Some(paths) = document["paths"].as_object_mut() else { return };
    for operation in paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
    {
        if let Some(summary) = operation.get_mut("summary")
            && let Some(text) = summary.as_str()
        {
            *summary = text.split_whitespace().collect::<Vec<_>>().join(" ").into();
        }
    }
}

/// The whole document, built once from the API's routes.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let (_, document) = super::routes().split_for_parts();
    let mut document = serde_json::to_value(complete(document)).unwrap_or_else(|error| {
        tracing::error!(%error, "the API document does not serialise");
        json!({})
    });
    document["webhooks"] = webhooks();
    name_timestamps(&mut document);
    one_line_summaries(&mut document);
    serde_json::to_string_pretty(&document).unwrap_or_default()
});
