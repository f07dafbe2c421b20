//! Outbound webhooks: the endpoints a workspace registers, the events they subscribe to, and
//! the record of each delivery. Checking what an admin types (the URL, the event names, the
//! description) lives here too, so the API and the console refuse the same things.

use serde::{Deserialize, Serialize};

use crate::entities::id_type;
use crate::{InboxId, Millis, Problem, ValidationError, WorkspaceId};

id_type! {
    /// A URL of the business that Tandem posts events to.
    WebhookEndpointId;
    /// Something that happened, once, whatever number of endpoints it is sent to.
    WebhookEventId;
    /// One event on its way to one endpoint, with its attempts.
    WebhookDeliveryId;
}

/// What an event is about. The names are the `type` field of the JSON Tandem posts and the
/// `X-Tandem-Event` header.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum WebhookEventType {
    /// A conversation moved to the queue; `data.packet` is its hand-off packet.
    #[serde(rename = "conversation.handed_off")]
    ConversationHandedOff,
    /// A person was given the conversation (offered by routing or taken by an agent).
    #[serde(rename = "conversation.assigned")]
    ConversationAssigned,
    #[serde(rename = "conversation.resolved")]
    ConversationResolved,
    /// A customer, agent or bot message; internal notes and system lines are never sent.
    #[serde(rename = "message.created")]
    MessageCreated,
    /// A topic of customers' messages rose well above its expected level; `data.alert` is the
    /// alert as `tandem trends` prints it.
    #[serde(rename = "insight.alert")]
    InsightAlert,
    /// Sent by "send test event"; no endpoint subscribes to it.
    #[serde(rename = "webhook.test")]
    Test,
}

impl WebhookEventType {
    /// The events an endpoint may subscribe to.
    pub const SUBSCRIBABLE: &'static [WebhookEventType] = &[
        WebhookEventType::ConversationHandedOff,
        WebhookEventType::ConversationAssigned,
        WebhookEventType::ConversationResolved,
        WebhookEventType::MessageCreated,
        WebhookEventType::InsightAlert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::ConversationHandedOff => "conversation.handed_off",
            WebhookEventType::ConversationAssigned => "conversation.assigned",
            WebhookEventType::ConversationResolved => "conversation.resolved",
            WebhookEventType::MessageCreated => "message.created",
            WebhookEventType::InsightAlert => "insight.alert",
            WebhookEventType::Test => "webhook.test",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookEventType> {
        SUBSCRIBABLE_AND_TEST.iter().copied().find(|event| event.as_str() == text)
    }
}

const SUBSCRIBABLE_AND_TEST: &[WebhookEventType] = &[
    WebhookEventType::ConversationHandedOff,
    WebhookEventType::ConversationAssigned,
    WebhookEventType::ConversationResolved,
    WebhookEventType::MessageCreated,
    WebhookEventType::InsightAlert,
    WebhookEventType::Test,
];

crate::entities::string_enum! {
    /// Where a delivery is: still to be sent (first try or a retry), accepted with a 2xx, or
    /// given up on (every retry failed, or its endpoint was disabled).
    WebhookDeliveryStatus { Pending = "pending", Delivered = "delivered", Failed = "failed", }
}

/// A URL of the business that receives the events it subscribed to. Its signing secret is not
/// part of it, so that serialising an endpoint can never reveal the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEventType>,
    /// Disabled endpoints get nothing; disabling one gives up on what it had pending.
    pub active: bool,
    /// Only this inbox's conversations (an API channel's endpoint), and no workspace-wide
    /// events; its deliveries about one conversation are sent one at a time, in order.
    /// `None`: the whole workspace, each delivery as soon as it is due.
    pub inbox_id: Option<InboxId>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl WebhookEndpoint {
    pub fn subscribes_to(&self, event: WebhookEventType) -> bool {
        self.events.contains(&event)
    }
}

/// One event on its way to one endpoint: its state after the latest attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: WebhookEventId,
    pub event_type: WebhookEventType,
    pub status: WebhookDeliveryStatus,
    /// Attempts made so far (0 before the first).
    pub attempts: u32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<Millis>,
    pub last_attempt_at: Option<Millis>,
    /// The HTTP status of the latest answer, when the endpoint answered.
    pub response_status: Option<u16>,
    /// Why the latest attempt failed.
    pub error: Option<String>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

/// Longest endpoint URL, in bytes.
pub const MAX_WEBHOOK_URL: usize = 2048;
/// Longest endpoint description, in characters.
pub const MAX_WEBHOOK_DESCRIPTION: usize = 200;
/// Most endpoints one workspace may register.
pub const MAX_WEBHOOK_ENDPOINTS: usize = 20;

/// An endpoint URL: `http` or `https`, a host (a name, an IPv4 address or an `[IPv6]` address)
/// and an optional port, then any path and query; ASCII only (percent-encode the rest), no
/// spaces, no user name or password, no `#fragment` (it is never sent). The scheme and the
/// host are lower-cased; the rest is kept as typed.
///
/// Private and loopback addresses are allowed: a self-hosted Tandem often posts to a CRM on
/// the same network.
pub fn webhook_url(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ValidationError::new("url", Problem::Empty));
    }
    if !text.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ValidationError::new("url", Problem::UrlNotAscii));
    }
    // ASCII: as many characters as bytes.
    if text.len() > MAX_WEBHOOK_URL {
        let problem = Problem::TooLong { max: MAX_WEBHOOK_URL, got: text.len() };
        return Err(ValidationError::new("url", problem));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(ValidationError::new("url", Problem::UrlScheme));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(ValidationError::new("url", Problem::UrlScheme));
    }
    if rest.contains('#') {
        return Err(ValidationError::new("url", Problem::UrlFragment));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(ValidationError::new("url", Problem::UrlCredentials));
    }
    let bad_host = || ValidationError::new("url", Problem::UrlHost { host: authority.to_owned() });
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        // An IPv6 address: hex digits and colons in brackets, then perhaps a port.
        let Some((address, after)) = bracketed.split_once(']') else {
            return Err(bad_host());
        };
        if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return Err(bad_host());
        }
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':').ok_or_else(bad_host)?),
        };
        (format!("[{}]", address.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let label_ok = |label: &str| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !host.trim_end_matches('.').split('.').all(label_ok) {
            return Err(ValidationError::new("url", Problem::UrlHost { host: host.to_owned() }));
        }
        (host.to_ascii_lowercase(), port)
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|port| (1..=65_535).contains(&port));
        if !valid {
            return Err(ValidationError::new("url", Problem::UrlPort));
        }
    }
    let port = port.map(|port| format!(":{port}")).unwrap_or_default();
    Ok(format!("{scheme}://{host}{port}{path}"))
}

/// The events an endpoint subscribes to: at least one, each a known name; duplicates kept once,
/// in the order of [`WebhookEventType::SUBSCRIBABLE`].
pub fn webhook_events<S: AsRef<str>>(
    names: &[S],
) -> Result<Vec<WebhookEventType>, ValidationError> {
    let mut events = Vec::new();
    for name in names {
        let name = name.as_ref().trim();
        let event = WebhookEventType::parse(name)
            .filter(|event| WebhookEventType::SUBSCRIBABLE.contains(event))
            .ok_or_else(|| {
                let known: Vec<&str> =
                    WebhookEventType::SUBSCRIBABLE.iter().map(|event| event.as_str()).collect();
                ValidationError::new("events", Problem::not_one_of(name, &known))
            })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err(ValidationError::new("events", Problem::NothingChosen));
    }
    events.sort_by_key(|event| {
        WebhookEventType::SUBSCRIBABLE.iter().position(|known| known == event)
    });
    Ok(events)
}

/// A description of an endpoint: one line of at most [`MAX_WEBHOOK_DESCRIPTION`] characters
/// (may be empty), trimmed.
pub fn webhook_description(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars > MAX_WEBHOOK_DESCRIPTION {
        let problem = Problem::TooLong { max: MAX_WEBHOOK_DESCRIPTION, got: chars };
        return Err(ValidationError::new("description", problem));
    }
    if text.chars().any(char::is_control) {
        return Err(ValidationError::new("description", Problem::ControlCharacters));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_checked_and_normalised() {
        let host = |host: &str| Err(Problem::UrlHost { host: host.into() });
        let cases: &[(&str, Result<&str, Problem>)] = &[
            ("https://crm.example.com/hooks/tandem", Ok("https://crm.example.com/hooks/tandem")),
            ("  HTTPS://CRM.Example.com/Hooks?a=B  ", Ok("https://crm.example.com/Hooks?a=B")),
            ("http://127.0.0.1:8080/in", Ok("http://127.0.0.1:8080/in")),
            ("http://[::1]:9000", Ok("http://[::1]:9000")),
            ("http://localhost", Ok("http://localhost")),
            ("https://hooks.example.com.", Ok("https://hooks.example.com.")),
            ("https://a.example?x=1", Ok("https://a.example?x=1")),
            ("", Err(Problem::Empty)),
            ("ftp://example.com", Err(Problem::UrlScheme)),
            ("example.com/hook", Err(Problem::UrlScheme)),
            ("javascript:alert(1)", Err(Problem::UrlScheme)),
            ("https://", host("")),
            ("https:///path", host("")),
            ("https://user:pw@example.com", Err(Problem::UrlCredentials)),
            ("https://exa mple.com", Err(Problem::UrlNotAscii)),
            ("https://例子.cn/hook", Err(Problem::UrlNotAscii)),
            ("https://example.com/#top", Err(Problem::UrlFragment)),
            ("https://example.com:0/", Err(Problem::UrlPort)),
            ("https://example.com:99999/", Err(Problem::UrlPort)),
            ("https://example.com:/", Err(Problem::UrlPort)),
            ("https://-bad-.com", host("-bad-.com")),
            ("https://a..b", host("a..b")),
            ("http://[::1", host("[::1")),
            ("http://[zz]/", host("[zz]")),
            ("http://[::1]x", host("[::1]x")),
        ];
        for (input, expected) in cases {
            match (webhook_url(input), expected) {
                (Ok(url), Ok(expected)) => assert_eq!(&url, expected, "{input:?}"),
                (Err(error), Err(problem)) => {
                    assert_eq!((error.field, &error.problem), ("url", problem), "{input:?}");
                }
                (got, expected) => panic!("{input:?}: got {got:?}, expected {expected:?}"),
            }
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_WEBHOOK_URL));
        assert!(webhook_url(&long).is_err());
    }

    #[test]
    fn webhook_events_are_known_names_in_a_fixed_order() {
        assert_eq!(
            webhook_events(&["message.created", " conversation.handed_off", "message.created"]),
            Ok(vec![WebhookEventType::ConversationHandedOff, WebhookEventType::MessageCreated])
        );
        let empty: &[&str] = &[];
        assert_eq!(webhook_events(empty).unwrap_err().field, "events");
        let unknown = webhook_events(&["message.deleted"]).unwrap_err();
        assert!(
            matches!(&unknown.problem, Problem::NotOneOf { value, .. } if value == "message.deleted"),
            "{unknown}"
        );
        assert!(webhook_events(&["webhook.test"]).is_err(), "nobody subscribes to tests");
    }

    #[test]
    fn event_names_round_trip_through_text() {
        for event in SUBSCRIBABLE_AND_TEST {
            assert_eq!(WebhookEventType::parse(event.as_str()), Some(*event));
        }
        assert_eq!(WebhookEventType::parse("conversation_handed_off"), None);
    }

    #[test]
    fn descriptions_are_one_short_line() {
        assert_eq!(webhook_description("  CRM sync "), Ok("CRM sync".into()));
        assert_eq!(webhook_description(""), Ok(String::new()));
        assert!(webhook_description("a\nb").is_err());
        assert!(webhook_description(&"字".repeat(MAX_WEBHOOK_DESCRIPTION + 1)).is_err());
    }
}
