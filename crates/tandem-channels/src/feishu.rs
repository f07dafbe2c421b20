//! Feishu (飞书) and Lark bot events: the event subscription callbacks a Feishu app posts to
//! Tandem, and the IM API that answers them.
//!
//! A callback body is JSON, optionally wrapped as `{"encrypt": "<base64>"}` when the app has an
//! encrypt key: AES-256-CBC with the SHA-256 of the key, the IV in the first 16 bytes, PKCS#7
//! padding. With an encrypt key Feishu also signs each request (`X-Lark-Signature`, the hex
//! SHA-256 of timestamp, nonce, key and raw body); without one, the verification token inside
//! the body is the only proof of origin, so [`Feishu::open`] checks it in every case.
//!
//! Feishu and Lark are the same platform on two hosts; [`FeishuClient`] takes the base URL
//! ([`FEISHU_BASE_URL`] or [`LARK_BASE_URL`]).

use std::time::Duration;

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::token::TokenCache;

/// Feishu's open platform, for tenants in mainland China.
pub const FEISHU_BASE_URL: &str = "https://open.feishu.cn";
/// Lark's open platform, for tenants elsewhere.
pub const LARK_BASE_URL: &str = "https://open.larksuite.com";

/// Why a callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum FeishuError {
    #[error("the X-Lark-Signature does not match the request")]
    BadSignature,
    #[error("the request timestamp {0:?} is missing, malformed or too far from now")]
    StaleTimestamp(String),
    #[error("the verification token in the callback does not match the app's")]
    BadToken,
    #[error("the callback is encrypted but no encrypt key is configured")]
    NoEncryptKey,
    #[error("the encrypted callback could not be decrypted: {0}")]
    Decrypt(&'static str),
    #[error("the callback is not a well-formed Feishu event: {0}")]
    Malformed(String),
}

/// One subscription's callback settings, as entered in the app's "Events and callbacks" page.
#[derive(Debug, Clone)]
pub struct Feishu {
    verification_token: String,
    encrypt_key: Option<String>,
}

/// What a callback asks of Tandem.
// One value per HTTP request, matched and dropped: boxing the message would only add a step.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// Feishu checking the request URL: answer `{"challenge": challenge}` (in plain JSON, even
    /// when the callback came encrypted).
    UrlVerification { challenge: String },
    /// A message sent to the bot (`im.message.receive_v1`).
    Message(MessageEvent),
    /// Any other event, to be acknowledged and otherwise ignored.
    Other { event_type: String },
}

/// Whether a message came from a one-to-one chat with the bot or from a group it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatType {
    P2p,
    Group,
    Other(String),
}

/// A message received by the bot (schema 2.0 `im.message.receive_v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvent {
    /// Unique per event; Feishu redelivers an event it thinks was not received, so this is the
    /// key to drop duplicates by.
    pub event_id: String,
    pub app_id: String,
    pub tenant_key: String,
    pub message_id: String,
    pub chat_id: String,
    pub chat_type: ChatType,
    pub sender_open_id: String,
    pub sender_union_id: Option<String>,
    /// Only present when the app may read user IDs.
    pub sender_user_id: Option<String>,
    /// `user` for people; `app` for other bots.
    pub sender_type: String,
    /// For `text` messages the text with the @-mention placeholders (`@_user_1`) removed;
    /// empty for every other message type.
    pub text: String,
    pub message_type: String,
    /// When the message was sent, in milliseconds since the Unix epoch.
    pub create_time: i64,
}

impl Feishu {
    pub fn new(verification_token: String, encrypt_key: Option<String>) -> Feishu {
        // An empty key field in a settings form means "no key".
        let encrypt_key = encrypt_key.filter(|key| !key.is_empty());
        Feishu { verification_token, encrypt_key }
    }

    /// Checks `X-Lark-Signature` against the request's `X-Lark-Request-Timestamp`,
    /// `X-Lark-Request-Nonce` and raw body. Without an encrypt key Feishu signs nothing, so
    /// there is nothing to check and this answers `Ok`; [`Feishu::open`] still checks the
    /// verification token.
    pub fn verify_signature(
        &self,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<(), FeishuError> {
        let Some(key) = &self.encrypt_key else {
            return Ok(());
        };
        let mut hash = Sha256::new();
        hash.update(timestamp.as_bytes());
        hash.update(nonce.as_bytes());
        hash.update(key.as_bytes());
        hash.update(body);
        let expected = hex(&hash.finalize());
        let given = signature.trim().to_ascii_lowercase();
        if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            Ok(())
        } else {
            Err(FeishuError::BadSignature)
        }
    }

    /// Parses a callback body, decrypting it first when it is encrypted.
    pub fn open(&self, body: &[u8]) -> Result<Callback, FeishuError> {
        let outer: Value = serde_json::from_slice(body)
            .map_err(|error| FeishuError::Malformed(format!("body is not JSON: {error}")))?;
        let event = match outer.get("encrypt") {
            Some(Value::String(encrypted)) => {
                let key = self.encrypt_key.as_deref().ok_or(FeishuError::NoEncryptKey)?;
                let plain = decrypt(key, encrypted)?;
                serde_json::from_slice(&plain).map_err(|error| {
                    FeishuError::Malformed(format!("decrypted body is not JSON: {error}"))
                })?
            }
            Some(_) => return Err(FeishuError::Malformed("`encrypt` is not a string".into())),
            None => outer,
        };
        self.interpret(&event)
    }

    fn interpret(&self, event: &Value) -> Result<Callback, FeishuError> {
        if !event.is_object() {
            return Err(FeishuError::Malformed("the event is not a JSON object".into()));
        }
        // Schema 2.0 carries the token and type in `header`; URL verification and schema 1.0
        // events carry them at the top level.
        if let Some(header) = event.get("header").filter(|_| event.get("schema").is_some()) {
            self.check_token(header.get("token"))?;
            let event_type = string_at(header, "event_type")?;
            if event_type == "im.message.receive_v1" {
                return message_event(event).map(Callback::Message);
            }
            return Ok(Callback::Other { event_type });
        }
        self.check_token(event.get("token"))?;
        match event.get("type").and_then(Value::as_str) {
            Some("url_verification") => {
                Ok(Callback::UrlVerification { challenge: string_at(event, "challenge")? })
            }
            Some("event_callback") => Ok(Callback::Other {
                event_type: event
                    .get("event")
                    .and_then(|inner| inner.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("event_callback")
                    .to_owned(),
            }),
            Some(other) => Ok(Callback::Other { event_type: other.to_owned() }),
            None => Err(FeishuError::Malformed("neither a schema 2.0 header nor a `type`".into())),
        }
    }

    fn check_token(&self, token: Option<&Value>) -> Result<(), FeishuError> {
        let token = token.and_then(Value::as_str).unwrap_or_default();
        if !self.verification_token.is_empty()
            && constant_time_eq(token.as_bytes(), self.verification_token.as_bytes())
        {
            Ok(())
        } else {
            Err(FeishuError::BadToken)
        }
    }
}

/// Checks that `X-Lark-Request-Timestamp` (Unix seconds) is within `max_skew` of `now_unix_secs`,
/// so a captured signed request cannot be replayed later. The signature covers the timestamp,
/// so this is only meaningful after [`Feishu::verify_signature`].
pub fn check_timestamp(
    timestamp: &str,
    now_unix_secs: i64,
    max_skew: Duration,
) -> Result<(), FeishuError> {
    let stale = || FeishuError::StaleTimestamp(timestamp.to_owned());
    let sent: i64 = timestamp.trim().parse().map_err(|_| stale())?;
    if now_unix_secs.abs_diff(sent) <= max_skew.as_secs() { Ok(()) } else { Err(stale()) }
}

/// Decrypts an `encrypt` field: base64 of IV followed by AES-256-CBC ciphertext.
fn decrypt(key: &str, encrypted: &str) -> Result<Vec<u8>, FeishuError> {
    let raw = BASE64.decode(encrypted.trim()).map_err(|_| FeishuError::Decrypt("not base64"))?;
    if raw.len() < 32 || raw.len() % 16 != 0 {
        return Err(FeishuError::Decrypt("not a whole number of AES blocks"));
    }
    let (iv, ciphertext) = raw.split_at(16);
    let key = Sha256::digest(key.as_bytes());
    let mut buffer = ciphertext.to_vec();
    let plain = cbc::Decryptor::<Aes256>::new_from_slices(&key, iv)
        .map_err(|_| FeishuError::Decrypt("bad key or IV length"))?
        .decrypt_padded_mut::<Pkcs7>(&mut buffer)
        .map_err(|_| FeishuError::Decrypt("bad padding (wrong encrypt key?)"))?;
    Ok(plain.to_vec())
}

#[derive(Deserialize)]
struct Envelope {
    header: Header,
    event: ReceiveEvent,
}

#[derive(Deserialize)]
struct Header {
    event_id: String,
    #[serde(default)]
    app_id: String,
    #[serde(default)]
    tenant_key: String,
}

#[derive(Deserialize)]
struct ReceiveEvent {
    sender: Sender,
    message: Message,
}

#[derive(Deserialize)]
struct Sender {
    sender_id: SenderId,
    #[serde(default)]
    sender_type: String,
}

#[derive(Deserialize)]
struct SenderId {
    open_id: String,
    union_id: Option<String>,
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    message_id: String,
    chat_id: String,
    chat_type: String,
    message_type: String,
    #[serde(default)]
    content: String,
    create_time: Value,
    #[serde(default)]
    mentions: Vec<Mention>,
}

#[derive(Deserialize)]
struct Mention {
    key: String,
}

fn message_event(event: &Value) -> Result<MessageEvent, FeishuError> {
    let envelope = Envelope::deserialize(event)
        .map_err(|error| FeishuError::Malformed(format!("im.message.receive_v1: {error}")))?;
    let Envelope { header, event } = envelope;
    let message = event.message;
    let text = if message.message_type == "text" {
        let content: Value = serde_json::from_str(&message.content).map_err(|error| {
            FeishuError::Malformed(format!("message content is not JSON: {error}"))
        })?;
        let text = content.get("text").and_then(Value::as_str).unwrap_or_default();
        strip_mentions(text, &message.mentions)
    } else {
        String::new()
    };
    // Feishu sends the time as a string of milliseconds; accept a number too.
    let create_time = match &message.create_time {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
    .ok_or_else(|| FeishuError::Malformed("message create_time is not a number".into()))?;
    let chat_type = match message.chat_type.as_str() {
        "p2p" => ChatType::P2p,
        "group" => ChatType::Group,
        _ => ChatType::Other(message.chat_type),
    };
    Ok(MessageEvent {
        event_id: header.event_id,
        app_id: header.app_id,
        tenant_key: header.tenant_key,
        message_id: message.message_id,
        chat_id: message.chat_id,
        chat_type,
        sender_open_id: event.sender.sender_id.open_id,
        sender_union_id: event.sender.sender_id.union_id.filter(|id| !id.is_empty()),
        sender_user_id: event.sender.sender_id.user_id.filter(|id| !id.is_empty()),
        sender_type: event.sender.sender_type,
        text,
        message_type: message.message_type,
        create_time,
    })
}

/// Removes the placeholders Feishu puts where a message @-mentions someone (`@_user_1`, and
/// `@_all` for everyone): a customer's question reads the same whether or not they addressed
/// the bot. The mention list names them; any placeholder it missed is removed as well.
fn strip_mentions(text: &str, mentions: &[Mention]) -> String {
    let mut text = text.to_owned();
    for mention in mentions {
        if !mention.key.is_empty() {
            text = text.replace(&mention.key, " ");
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("@_") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let placeholder = if let Some(digits) = after.strip_prefix("user_") {
            let len = digits.bytes().take_while(u8::is_ascii_digit).count();
            (len > 0).then_some(2 + 5 + len)
        } else if after.starts_with("all") {
            Some(2 + 3)
        } else {
            None
        };
        match placeholder {
            Some(len) => {
                out.push(' ');
                rest = &rest[at + len..];
            }
            None => {
                out.push_str("@_");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    // Collapse the spaces the removal leaves, but keep line breaks.
    out.lines()
        .map(|line| {
            line.split([' ', '\t']).filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn string_at(value: &Value, field: &str) -> Result<String, FeishuError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| FeishuError::Malformed(format!("`{field}` is missing or not a string")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares without stopping at the first difference, so the time taken does not tell an
/// attacker how much of a forged signature or token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A failed call to the Feishu API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request did not get an answer (connection refused, timeout): worth retrying.
    #[error("Feishu API unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// The API answered with an error code.
    #[error("Feishu API error {code}: {msg}")]
    Api { code: i64, msg: String, temporary: bool },
    /// The API answered something that is not its JSON envelope (an HTTP error page).
    #[error("unexpected Feishu API response (HTTP {status}): {detail}")]
    Response { status: u16, detail: String },
}

impl ApiError {
    /// Whether the same call may succeed later (rate limits, server errors, network trouble);
    /// otherwise it will fail until something is changed (permissions, IDs, credentials).
    pub fn is_temporary(&self) -> bool {
        match self {
            ApiError::Transport(_) => true,
            ApiError::Api { temporary, .. } => *temporary,
            ApiError::Response { status, .. } => *status == 429 || *status >= 500,
        }
    }

    pub fn is_permanent(&self) -> bool {
        !self.is_temporary()
    }
}

/// Codes with which the API refuses the access token itself (missing, malformed, invalid or
/// expired): fetching a fresh token and trying again can succeed.
const TOKEN_INVALID_CODES: [i64; 5] = [99991661, 99991663, 99991664, 99991668, 99991677];

/// Whether an error means "later": the rate limit (99991400) or the server's own trouble.
fn code_is_temporary(code: i64, status: u16) -> bool {
    code == 99991400 || status == 429 || status >= 500
}

/// Calls the Feishu IM API as one app, with its tenant access token cached.
#[derive(Debug)]
pub struct FeishuClient {
    http: reqwest::Client,
    base_url: String,
    app_id: String,
    app_secret: String,
    token: TokenCache,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    tenant_access_token: String,
    #[serde(default)]
    expire: u64,
}

impl FeishuClient {
    /// `base_url` is [`FEISHU_BASE_URL`] or [`LARK_BASE_URL`] (or a test server).
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        app_id: String,
        app_secret: String,
    ) -> FeishuClient {
        FeishuClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            app_id,
            app_secret,
            token: TokenCache::new(),
        }
    }

    /// Replies in the thread of `message_id` (in the chat it came from); answers the new
    /// message's ID.
    pub async fn reply_text(&self, message_id: &str, text: &str) -> Result<String, ApiError> {
        let url = format!("{}/open-apis/im/v1/messages/{message_id}/reply", self.base_url);
        let body = json!({ "msg_type": "text", "content": text_content(text) });
        let data = self.call(&url, &body).await?;
        Ok(new_message_id(&data))
    }

    /// Sends a one-to-one message to the user with `open_id`; answers the new message's ID.
    pub async fn send_text(&self, open_id: &str, text: &str) -> Result<String, ApiError> {
        let url = format!("{}/open-apis/im/v1/messages?receive_id_type=open_id", self.base_url);
        let body = json!({
            "receive_id": open_id,
            "msg_type": "text",
            "content": text_content(text),
        });
        let data = self.call(&url, &body).await?;
        Ok(new_message_id(&data))
    }

    /// Posts with the cached token; when the API refuses the token, forgets it and tries once
    /// more with a fresh one (a token can be revoked before its stated expiry, e.g. when the
    /// app secret is reset).
    async fn call(&self, url: &str, body: &Value) -> Result<Value, ApiError> {
        let mut retried = false;
        loop {
            let token = self.token.get(|| self.fetch_token()).await?;
            let response = self.http.post(url).bearer_auth(&token).json(body).send().await?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await?;
            let reply: Reply = match serde_json::from_slice(&bytes) {
                Ok(reply) => reply,
                Err(_) => return Err(unexpected(status, &bytes)),
            };
            if reply.code == 0 && status < 400 {
                return Ok(reply.data);
            }
            if TOKEN_INVALID_CODES.contains(&reply.code) && !retried {
                tracing::debug!(code = reply.code, "Feishu refused the tenant token; refetching");
                self.token.invalidate(&token).await;
                retried = true;
                continue;
            }
            return Err(ApiError::Api {
                code: reply.code,
                temporary: code_is_temporary(reply.code, status),
                msg: reply.msg,
            });
        }
    }

    async fn fetch_token(&self) -> Result<(String, Duration), ApiError> {
        let url = format!("{}/open-apis/auth/v3/tenant_access_token/internal", self.base_url);
        let response = self
            .http
            .post(url)
            .json(&json!({ "app_id": self.app_id, "app_secret": self.app_secret }))
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let reply: TokenReply =
            serde_json::from_slice(&bytes).map_err(|_| unexpected(status, &bytes))?;
        if reply.code != 0 || reply.tenant_access_token.is_empty() {
            return Err(ApiError::Api {
                code: reply.code,
                temporary: code_is_temporary(reply.code, status),
                msg: reply.msg,
            });
        }
        Ok((reply.tenant_access_token, Duration::from_secs(reply.expire)))
    }
}

/// A text message's `content` is itself a JSON document, sent as a string.
fn text_content(text: &str) -> String {
    json!({ "text": text }).to_string()
}

fn new_message_id(data: &Value) -> String {
    data.get("message_id").and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn unexpected(status: u16, body: &[u8]) -> ApiError {
    let detail: String = String::from_utf8_lossy(body).chars().take(200).collect();
    ApiError::Response { status, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::serve;

    // Known answers computed with Python's hashlib and the `cryptography` package.
    const KEY: &str = "kF7pQ2xW9mZrT4vB";
    const TOKEN: &str = "vtok-123";
    /// sha256("1733485800" + "a1b2c3d4" + KEY + BODY)
    const SIGNATURE: &str = "ec5ec5e3ee1f2efb3b624e0f3d686add25ede71529d9999aa1334748889d750c";
    const SIGNED_BODY: &[u8] = br#"{"encrypt":"abc"}"#;
    /// {"challenge":"ch-4471","token":"vtok-123","type":"url_verification"}, IV 00..0f.
    const ENCRYPTED_CHALLENGE: &str = "AAECAwQFBgcICQoLDA0OD3cHekMv9Cr2SFw9fA7mx5Ix7QXbfb466RJl+yDtctNiXqLl43/NYi8HJBSN2glB5DL/7NVu6gmuTZhov9PpJXWbYVrN19Oj/m7JTarfg+6H";
    /// A schema 2.0 im.message.receive_v1 in a group, text "@_user_1 发票开错了，怎么改？",
    /// IV 10..1f.
    const ENCRYPTED_MESSAGE: &str = "EBESExQVFhcYGRobHB0eHzNg5xLoxBxyUblMIBKdeUsV1ea6wU/BKOrdstUNJBCmF5NPS5zIM4wqrwWyGXhzn2zSjDghUe1wcL2JwmqEYkBUDlC6T1qSOfzZvvuKdzv5KHCUsz0khwfXrZqnURLXc6c+vqEV7HwRPaX5kH+YyVKTmkekLDP6GSgOu6B6tox21cORVkD57p40VXEy9FUDChEZouHKuG/zxA1muiINLeOWl1+qJzGcWtaIwSuLUgLUlSLWelC9tuE05g5+wQj2lGKVjcCNmyrE/34cnQfgUt9hfrVVPG8xfjfId8ZRIlgec+/71wF61XG4CCL6vcrNVjt8SCBrBhEsjQAPD/06A+v2pnt1GMMxxKmdRFsOOC7mYu4ESjS+FiYgOXH+i+Rtdiuq4He2sT5cxneN3naQwCqsO1VhX61muxwEXCoBzZjWGeFm8EPFACmtpVIcMNNxihxmLjYSLWf4jTj5MHMJqleDHnizgWcnZ4VB8ia2ovYG3qcoobPUXWzfQWegnAHYx4r5vsmwCf+bz73fZ9mGm39NEKZ31XxYvQqs5+LJO0Dy54bSr3NfPg4pR01G78ba3ev/OmsACxw+8thLnyA//vq77ejzhjnbsnNwSNNCqXJhutGXAznxvirIZ08OM0PKU6E3NzraXzHvqCynKA9Q/mY8rDcwH6LVOB48thgXf5WGjz77532etCjkKuZi5qDgTdmhaHa7H/22dPhQC1dP3HAi9EZMNPiLuvPkg353IMEv+614elOZguPbp/gqZWJBW7nq86EyOOWtn0Zp51XpTZ8=";

    fn encrypted() -> Feishu {
        Feishu::new(TOKEN.to_owned(), Some(KEY.to_owned()))
    }

    fn plain() -> Feishu {
        Feishu::new(TOKEN.to_owned(), None)
    }

    fn wrap(encrypted: &str) -> Vec<u8> {
        json!({ "encrypt": encrypted }).to_string().into_bytes()
    }

    #[test]
    fn the_signature_matches_a_known_answer() {
        let feishu = encrypted();
        feishu.verify_signature("1733485800", "a1b2c3d4", SIGNED_BODY, SIGNATURE).unwrap();
        feishu
            .verify_signature("1733485800", "a1b2c3d4", SIGNED_BODY, &SIGNATURE.to_uppercase())
            .unwrap();
        for (timestamp, nonce, body, signature) in [
            ("1733485801", "a1b2c3d4", SIGNED_BODY, SIGNATURE),
            ("1733485800", "a1b2c3d5", SIGNED_BODY, SIGNATURE),
            ("1733485800", "a1b2c3d4", &br#"{"encrypt":"abd"}"#[..], SIGNATURE),
            ("1733485800", "a1b2c3d4", SIGNED_BODY, &SIGNATURE[..63]),
            ("1733485800", "a1b2c3d4", SIGNED_BODY, ""),
        ] {
            assert!(matches!(
                feishu.verify_signature(timestamp, nonce, body, signature),
                Err(FeishuError::BadSignature)
            ));
        }
        let other_key = Feishu::new(TOKEN.to_owned(), Some("another key".to_owned()));
        assert!(
            other_key.verify_signature("1733485800", "a1b2c3d4", SIGNED_BODY, SIGNATURE).is_err()
        );
        // Without a key Feishu signs nothing; the token is checked in `open` instead.
        plain().verify_signature("1733485800", "a1b2c3d4", SIGNED_BODY, "").unwrap();
    }

    #[test]
    fn timestamps_must_be_recent() {
        let window = Duration::from_secs(300);
        check_timestamp("1733485800", 1733485800 + 300, window).unwrap();
        check_timestamp("1733485800", 1733485800 - 10, window).unwrap();
        for (timestamp, now) in [
            ("1733485800", 1733485800 + 301),
            ("1733485800", 1733485800 - 301),
            ("", 1733485800),
            ("soon", 1733485800),
        ] {
            assert!(matches!(
                check_timestamp(timestamp, now, window),
                Err(FeishuError::StaleTimestamp(_))
            ));
        }
    }

    #[test]
    fn url_verification_plain_and_encrypted() {
        let challenge = Callback::UrlVerification { challenge: "ch-4471".to_owned() };
        let body = br#"{"challenge":"ch-4471","token":"vtok-123","type":"url_verification"}"#;
        assert_eq!(plain().open(body).unwrap(), challenge);
        assert_eq!(encrypted().open(&wrap(ENCRYPTED_CHALLENGE)).unwrap(), challenge);
        let forged = br#"{"challenge":"ch-4471","token":"guess","type":"url_verification"}"#;
        assert!(matches!(plain().open(forged), Err(FeishuError::BadToken)));
        let tokenless = br#"{"challenge":"ch-4471","type":"url_verification"}"#;
        assert!(matches!(plain().open(tokenless), Err(FeishuError::BadToken)));
        let other_token = Feishu::new("other".to_owned(), Some(KEY.to_owned()));
        assert!(matches!(other_token.open(&wrap(ENCRYPTED_CHALLENGE)), Err(FeishuError::BadToken)));
    }

    #[test]
    fn an_encrypted_message_event_is_decrypted_and_parsed() {
        let Callback::Message(message) = encrypted().open(&wrap(ENCRYPTED_MESSAGE)).unwrap() else {
            panic!("not a message");
        };
        assert_eq!(
            message,
            MessageEvent {
                event_id: "ev-1".to_owned(),
                app_id: "cli_a1".to_owned(),
                tenant_key: "tk-9".to_owned(),
                message_id: "om_m1".to_owned(),
                chat_id: "oc_c1".to_owned(),
                chat_type: ChatType::Group,
                sender_open_id: "ou_o1".to_owned(),
                sender_union_id: Some("on_u1".to_owned()),
                sender_user_id: Some("u1".to_owned()),
                sender_type: "user".to_owned(),
                text: "发票开错了，怎么改？".to_owned(),
                message_type: "text".to_owned(),
                create_time: 1733485800000,
            }
        );
    }

    #[test]
    fn encryption_failures_are_reported() {
        assert!(matches!(plain().open(&wrap(ENCRYPTED_CHALLENGE)), Err(FeishuError::NoEncryptKey)));
        let wrong_key = Feishu::new(TOKEN.to_owned(), Some("wrong".to_owned()));
        assert!(wrong_key.open(&wrap(ENCRYPTED_CHALLENGE)).is_err());
        for garbage in ["not base64!", "AAECAwQF", ""] {
            assert!(matches!(encrypted().open(&wrap(garbage)), Err(FeishuError::Decrypt(_))));
        }
        assert!(matches!(encrypted().open(br#"{"encrypt": 7}"#), Err(FeishuError::Malformed(_))));
    }

    fn message_body(token: &str, content: &str, message_type: &str) -> Vec<u8> {
        json!({
            "schema": "2.0",
            "header": {
                "event_id": "ev-2", "event_type": "im.message.receive_v1",
                "create_time": "1733485800123", "token": token,
                "app_id": "cli_a1", "tenant_key": "tk-9",
            },
            "event": {
                "sender": {
                    "sender_id": { "open_id": "ou_o2", "union_id": "on_u2" },
                    "sender_type": "user", "tenant_key": "tk-9",
                },
                "message": {
                    "message_id": "om_m2", "create_time": "1733485800000",
                    "chat_id": "oc_c2", "chat_type": "p2p",
                    "message_type": message_type, "content": content,
                    "mentions": [
                        { "key": "@_user_1", "id": { "open_id": "ou_bot" }, "name": "Tandem" },
                        { "key": "@_user_2", "id": { "open_id": "ou_x" }, "name": "Li" },
                    ],
                },
            },
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_plain_message_with_mentions() {
        let content = json!({ "text": "@_user_1  my order @_user_2 never came\nhelp @_all" });
        let body = message_body(TOKEN, &content.to_string(), "text");
        let Callback::Message(message) = plain().open(&body).unwrap() else {
            panic!("not a message");
        };
        assert_eq!(message.text, "my order never came\nhelp");
        assert_eq!(message.chat_type, ChatType::P2p);
        assert_eq!(message.sender_user_id, None);
        assert_eq!(message.sender_union_id.as_deref(), Some("on_u2"));

        let image = message_body(TOKEN, r#"{"image_key":"img_1"}"#, "image");
        let Callback::Message(message) = plain().open(&image).unwrap() else {
            panic!("not a message");
        };
        assert_eq!((message.text.as_str(), message.message_type.as_str()), ("", "image"));

        let forged = message_body("guess", &content.to_string(), "text");
        assert!(matches!(plain().open(&forged), Err(FeishuError::BadToken)));
    }

    #[test]
    fn other_events_and_malformed_bodies() {
        let read = json!({
            "schema": "2.0",
            "header": { "event_id": "ev-3", "event_type": "im.message.message_read_v1", "token": TOKEN },
            "event": {},
        });
        assert_eq!(
            plain().open(read.to_string().as_bytes()).unwrap(),
            Callback::Other { event_type: "im.message.message_read_v1".to_owned() }
        );
        let v1 =
            json!({ "token": TOKEN, "type": "event_callback", "event": { "type": "message" } });
        assert_eq!(
            plain().open(v1.to_string().as_bytes()).unwrap(),
            Callback::Other { event_type: "message".to_owned() }
        );
        for body in [&b"{not json"[..], b"[]", b"", br#"{"token":"vtok-123"}"#] {
            assert!(matches!(plain().open(body), Err(FeishuError::Malformed(_))), "{body:?}");
        }
        let missing_message = json!({
            "schema": "2.0",
            "header": { "event_id": "ev-4", "event_type": "im.message.receive_v1", "token": TOKEN },
            "event": { "sender": { "sender_id": { "open_id": "ou" } } },
        });
        assert!(matches!(
            plain().open(missing_message.to_string().as_bytes()),
            Err(FeishuError::Malformed(_))
        ));
        let bad_content = message_body(TOKEN, "{oops", "text");
        assert!(matches!(plain().open(&bad_content), Err(FeishuError::Malformed(_))));
    }

    const TOKEN_OK: &str = r#"{"code":0,"msg":"ok","tenant_access_token":"t-first","expire":7200}"#;
    const TOKEN_AGAIN: &str =
        r#"{"code":0,"msg":"ok","tenant_access_token":"t-second","expire":7200}"#;

    fn client(base: &str) -> FeishuClient {
        FeishuClient::new(
            reqwest::Client::new(),
            &format!("{base}/"),
            "cli_a1".to_owned(),
            "s3cret".to_owned(),
        )
    }

    #[tokio::test]
    async fn one_token_serves_two_sends() {
        let (base, seen) = serve(vec![
            (200, TOKEN_OK),
            (200, r#"{"code":0,"msg":"success","data":{"message_id":"om_r1"}}"#),
            (200, r#"{"code":0,"msg":"success","data":{"message_id":"om_s1"}}"#),
        ])
        .await;
        let client = client(&base);
        assert_eq!(client.reply_text("om_m1", "已为您重开发票").await.unwrap(), "om_r1");
        assert_eq!(client.send_text("ou_o1", "还有问题吗？").await.unwrap(), "om_s1");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].line, "POST /open-apis/auth/v3/tenant_access_token/internal HTTP/1.1");
        assert_eq!(seen[0].body, json!({ "app_id": "cli_a1", "app_secret": "s3cret" }));
        assert_eq!(seen[1].line, "POST /open-apis/im/v1/messages/om_m1/reply HTTP/1.1");
        assert_eq!(seen[1].header("authorization"), Some("Bearer t-first"));
        assert_eq!(
            seen[1].body,
            json!({ "msg_type": "text", "content": r#"{"text":"已为您重开发票"}"# })
        );
        assert_eq!(seen[2].line, "POST /open-apis/im/v1/messages?receive_id_type=open_id HTTP/1.1");
        assert_eq!(seen[2].header("authorization"), Some("Bearer t-first"));
        assert_eq!(
            seen[2].body,
            json!({ "receive_id": "ou_o1", "msg_type": "text", "content": r#"{"text":"还有问题吗？"}"# })
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_replaced_once() {
        let invalid = r#"{"code":99991663,"msg":"Invalid access token for authorization."}"#;
        let (base, seen) = serve(vec![
            (200, TOKEN_OK),
            (400, invalid),
            (200, TOKEN_AGAIN),
            (200, r#"{"code":0,"msg":"success","data":{"message_id":"om_r2"}}"#),
            // A second refusal in a row is reported, not retried forever.
            (400, invalid),
            (200, TOKEN_OK),
            (400, invalid),
        ])
        .await;
        let client = client(&base);
        assert_eq!(client.reply_text("om_m1", "hi").await.unwrap(), "om_r2");
        let error = client.reply_text("om_m1", "hi").await.unwrap_err();
        assert!(matches!(error, ApiError::Api { code: 99991663, .. }), "{error}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[3].header("authorization"), Some("Bearer t-second"));
        assert_eq!(seen.len(), 7);
    }

    #[tokio::test]
    async fn errors_say_whether_they_are_temporary() {
        let (base, _) = serve(vec![
            (200, TOKEN_OK),
            (400, r#"{"code":230002,"msg":"The bot can not be outside the group."}"#),
            (400, r#"{"code":99991400,"msg":"request trigger frequency limit"}"#),
            (502, "<html>Bad Gateway</html>"),
            (400, r#"{"code":230001,"msg":"invalid message content"}"#),
        ])
        .await;
        let api = client(&base);
        let permanent = api.send_text("ou_o1", "hi").await.unwrap_err();
        assert!(permanent.is_permanent(), "{permanent}");
        let limited = api.send_text("ou_o1", "hi").await.unwrap_err();
        assert!(limited.is_temporary(), "{limited}");
        let gateway = api.send_text("ou_o1", "hi").await.unwrap_err();
        assert!(matches!(gateway, ApiError::Response { status: 502, .. }));
        assert!(gateway.is_temporary());
        assert!(api.reply_text("om", "hi").await.unwrap_err().is_permanent());

        let (base, _) = serve(vec![(200, r#"{"code":10014,"msg":"app secret invalid"}"#)]).await;
        let bad_secret = client(&base).send_text("ou", "hi").await;
        assert!(bad_secret.unwrap_err().is_permanent());

        // Nobody listening: a transport error, worth retrying.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let unreachable = client(&format!("http://{address}")).send_text("ou", "hi").await;
        assert!(unreachable.unwrap_err().is_temporary());
    }
}
