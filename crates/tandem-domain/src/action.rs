//! Business actions: declarative connectors that let the bot look things up and get things
//! done in the business's own systems (order status, return requests), with the parameters it
//! must collect first.
//!
//! An action is data a workspace writes (console or TOML/JSON import): what the customer says
//! to trigger it, the parameters and how to recognise them, the HTTP calls to make (templates
//! filled with the parameters and with what earlier calls returned), how to read the answers
//! (JSON pointers), and what to reply for each outcome in Chinese and English. `tandem-bot` runs
//! them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::entities::string_enum;
use crate::{Locale, Millis};

/// A text in both languages: what the bot asks for an action, an inbox's satisfaction
/// question. A side left empty reads as the other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub zh: String,
    pub en: String,
}

impl Texts {
    pub fn get(&self, locale: Locale) -> &str {
        match locale {
            Locale::Zh if !self.zh.is_empty() => &self.zh,
            Locale::En if !self.en.is_empty() => &self.en,
            Locale::Zh => &self.en,
            Locale::En => &self.zh,
        }
    }
}

string_enum! {
    /// What a parameter is; each kind knows how to find itself in a message.
    ParamKind {
        /// Free text: the whole message (trimmed) when asked for.
        Text = "text",
        /// An order number: 8 to 24 digits (or the parameter's own pattern).
        OrderNumber = "order_number",
        /// A mainland Chinese mobile number.
        Phone = "phone",
        Email = "email",
        /// A whole or decimal number.
        Number = "number",
    }
}

/// A value an action needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionParam {
    /// Used in templates as `{name}`.
    pub name: String,
    pub kind: ParamKind,
    /// A regular expression the value must match (whole value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Taken from the customer's profile when present: `external_id`, `email`, `name` or an
    /// attribute name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_profile: Option<String>,
    /// How the bot asks for it ("请提供订单号").
    pub ask: Texts,
}

/// The HTTP method of a step, written as in HTTP (`GET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Ends the action with a reply when a response matches: a status, or a field's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A JSON pointer into the response body (`/error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// What the pointed value must equal (any JSON value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    pub reply: Texts,
    /// Offer the customer a person after this reply.
    #[serde(default)]
    pub hand_off: bool,
}

/// A condition on a value read so far: a timestamp (milliseconds) no older than some days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithinDays {
    /// A variable extracted by an earlier step.
    pub field: String,
    pub days: u32,
    /// The reply when it is older (or missing).
    pub reply: Texts,
}

/// One HTTP call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionStep {
    pub method: HttpMethod,
    /// A template: `{name}` is a parameter or an earlier extracted value (URL-encoded here),
    /// `{env.NAME}` the server's environment variable `TANDEM_ACTION_NAME`.
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON template: string values are templates (filled values are strings); numbers,
    /// booleans and nulls are sent as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Values to read from a successful response: name → JSON pointer.
    #[serde(default)]
    pub extract: BTreeMap<String, String>,
    /// Checked in order on every response; the first match ends the action with its reply.
    #[serde(default)]
    pub rules: Vec<ReplyRule>,
    /// Checked after a successful response, before the next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<WithinDays>,
}

fn default_timeout_ms() -> u64 {
    5_000
}

/// What the bot says when the action ends without a matching rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionReplies {
    /// Every step succeeded: the result (templates over parameters and extracted values).
    pub done: Texts,
    /// A step answered 404.
    pub not_found: Texts,
    /// A step failed (timeout, 5xx, unreadable answer): the bot apologises and offers a person.
    pub error: Texts,
    /// The customer must log in first (actions that reveal personal data).
    #[serde(default)]
    pub login_required: Texts,
}

/// A business action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Stable id (`order-status`).
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// What customers say to ask for it, in both languages.
    pub triggers: Vec<String>,
    #[serde(default)]
    pub params: Vec<ActionParam>,
    pub steps: Vec<ActionStep>,
    pub replies: ActionReplies,
    /// Only for customers whose identity the business verified (the action reveals personal
    /// data); others are asked to log in, unless `identity_check` lets them prove it here.
    #[serde(default)]
    pub requires_verified: bool,
    /// A one-time check for customers who are not logged in: the bot asks for something only
    /// the owner knows (the last four digits of the phone on the order) and goes on only if
    /// it matches what the first call returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_check: Option<IdentityCheck>,
    /// The knowledge article the action applies (a return policy): named as the reply's source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_article: Option<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub updated_at: Millis,
}

fn enabled() -> bool {
    true
}

/// See [`Action::identity_check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityCheck {
    /// What to ask for; asked only of customers who are not verified.
    pub param: ActionParam,
    /// The value, read by a step's `extract`, that the answer must equal.
    pub field: String,
    /// The reply when it does not match (nothing else is said).
    pub mismatch: Texts,
}

/// An action waiting for the customer to give a parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingAction {
    pub action: String,
    /// Parameters collected so far.
    pub values: BTreeMap<String, String>,
    /// The parameter asked for.
    pub asking: String,
    /// How many times it was asked.
    pub tries: u32,
}

/// What an action did, kept in the decision record and the hand-off packet. Parameters that
/// are personal data are masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActionRecord {
    pub action: String,
    pub outcome: crate::ActionOutcome,
    pub params: BTreeMap<String, String>,
    pub calls: Vec<CallRecord>,
}

impl ActionRecord {
    /// The record of `action` ending this way, before any parameter or call is known.
    pub fn new(action: &str, outcome: crate::ActionOutcome) -> ActionRecord {
        ActionRecord {
            action: action.to_owned(),
            outcome,
            params: BTreeMap::new(),
            calls: Vec::new(),
        }
    }
}

/// One HTTP call of an action: where (without secrets), the status, how long, what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallRecord {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
