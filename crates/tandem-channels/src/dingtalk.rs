//! DingTalk (钉钉) bots: the messages an internal enterprise robot (企业内部机器人) receives
//! over HTTP, and the two ways of answering them.
//!
//! DingTalk signs each callback with headers `timestamp` (Unix milliseconds) and `sign`, the
//! base64 HMAC-SHA256 of `timestamp + "\n" + app secret` keyed with the app secret. The
//! signature covers only the timestamp, not the body, so it proves the sender knows the secret
//! and the request is recent; the hour-long window is DingTalk's own.
//!
//! A received message carries a session webhook: a URL that answers into the same
//! conversation with no access token, until it expires (about 90 minutes). After that,
//! [`DingtalkClient::send_text`] messages the users one-to-one through the robot API.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::token::TokenCache;

/// DingTalk's current API host.
pub const DINGTALK_BASE_URL: &str = "https://api.dingtalk.com";

/// How far a callback's timestamp may be from now, in milliseconds.
const MAX_SKEW_MS: i64 = 60 * 60 * 1000;

/// Why a callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum DingtalkError {
    #[error("the callback's sign does not match")]
    BadSignature,
    #[error("the callback's timestamp {0:?} is missing, malformed or more than an hour from now")]
    StaleTimestamp(String),
    #[error("the callback is not a well-formed DingTalk robot message: {0}")]
    Malformed(String),
}

/// One robot's callback settings.
#[derive(Debug, Clone)]
pub struct Dingtalk {
    app_secret: String,
}

/// What a received message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A text message, trimmed (DingTalk keeps the space after an @-mention of the robot).
    Text(String),
    /// Any other `msgtype` (picture, richText, file, audio, ...).
    Other(String),
}

/// Whether the robot was messaged one-to-one or in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationType {
    OneToOne,
    Group,
    Other(String),
}

/// A message sent to the robot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotMessage {
    pub msg_id: String,
    pub kind: MessageKind,
    /// When it was sent, in Unix milliseconds.
    pub create_at: i64,
    pub conversation_type: ConversationType,
    pub conversation_id: String,
    /// The group's name; absent one-to-one.
    pub conversation_title: Option<String>,
    pub sender_id: String,
    pub sender_nick: String,
    /// The sender's user ID in the robot's organisation, for [`DingtalkClient::send_text`];
    /// absent when the sender is from another organisation.
    pub sender_staff_id: Option<String>,
    pub sender_corp_id: Option<String>,
    pub chatbot_user_id: String,
    pub robot_code: Option<String>,
    /// Where to answer with [`reply_via_session`] until `session_webhook_expired_time`.
    pub session_webhook: String,
    /// Unix milliseconds.
    pub session_webhook_expired_time: i64,
    /// Whether the robot was @-mentioned (always, for messages in a group).
    pub is_in_at_list: bool,
}

impl Dingtalk {
    pub fn new(app_secret: String) -> Dingtalk {
        Dingtalk { app_secret }
    }

    /// Checks the `timestamp` and `sign` headers of a callback received at `now_ms`.
    pub fn verify(&self, timestamp: &str, sign: &str, now_ms: i64) -> Result<(), DingtalkError> {
        let stale = || DingtalkError::StaleTimestamp(timestamp.to_owned());
        let sent: i64 = timestamp.trim().parse().map_err(|_| stale())?;
        if now_ms.abs_diff(sent) > MAX_SKEW_MS.unsigned_abs() {
            return Err(stale());
        }
        let given = BASE64.decode(sign.trim()).map_err(|_| DingtalkError::BadSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.app_secret.as_bytes())
            .map_err(|_| DingtalkError::BadSignature)?;
        mac.update(timestamp.trim().as_bytes());
        mac.update(b"\n");
        mac.update(self.app_secret.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&given).map_err(|_| DingtalkError::BadSignature)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Incoming {
    #[serde(rename = "msgtype")]
    msg_type: String,
    msg_id: String,
    #[serde(default)]
    text: Option<IncomingText>,
    #[serde(default)]
    create_at: Option<i64>,
    #[serde(default)]
    conversation_type: Option<Value>,
    conversation_id: String,
    #[serde(default)]
    conversation_title: Option<String>,
    sender_id: String,
    #[serde(default)]
    sender_nick: String,
    #[serde(default)]
    sender_staff_id: Option<String>,
    #[serde(default)]
    sender_corp_id: Option<String>,
    #[serde(default)]
    chatbot_user_id: String,
    #[serde(default)]
    robot_code: Option<String>,
    session_webhook: String,
    #[serde(default)]
    session_webhook_expired_time: Option<i64>,
    #[serde(default)]
    is_in_at_list: Option<bool>,
}

#[derive(Deserialize)]
struct IncomingText {
    #[serde(default)]
    content: String,
}

/// Parses a callback body (after [`Dingtalk::verify`]).
pub fn parse(body: &[u8]) -> Result<RobotMessage, DingtalkError> {
    let incoming: Incoming = serde_json::from_slice(body)
        .map_err(|error| DingtalkError::Malformed(error.to_string()))?;
    let kind = if incoming.msg_type == "text" {
        let text = incoming
            .text
            .ok_or_else(|| DingtalkError::Malformed("a text message without `text`".into()))?;
        MessageKind::Text(text.content.trim().to_owned())
    } else {
        MessageKind::Other(incoming.msg_type)
    };
    // Documented as the string "1" or "2"; a number is accepted too.
    let conversation_type = match incoming.conversation_type {
        Some(Value::String(kind)) => kind,
        Some(Value::Number(kind)) => kind.to_string(),
        _ => String::new(),
    };
    let conversation_type = match conversation_type.as_str() {
        "1" => ConversationType::OneToOne,
        "2" => ConversationType::Group,
        _ => ConversationType::Other(conversation_type),
    };
    let non_empty = |id: Option<String>| id.filter(|id| !id.is_empty());
    Ok(RobotMessage {
        msg_id: incoming.msg_id,
        kind,
        create_at: incoming.create_at.unwrap_or_default(),
        conversation_type,
        conversation_id: incoming.conversation_id,
        conversation_title: non_empty(incoming.conversation_title),
        sender_id: incoming.sender_id,
        sender_nick: incoming.sender_nick,
        sender_staff_id: non_empty(incoming.sender_staff_id),
        sender_corp_id: non_empty(incoming.sender_corp_id),
        chatbot_user_id: incoming.chatbot_user_id,
        robot_code: non_empty(incoming.robot_code),
        session_webhook: incoming.session_webhook,
        session_webhook_expired_time: incoming.session_webhook_expired_time.unwrap_or_default(),
        is_in_at_list: incoming.is_in_at_list.unwrap_or_default(),
    })
}

/// A failed call to a DingTalk API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request did not get an answer (connection refused, timeout): worth retrying.
    #[error("DingTalk API unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// The API answered with an error: `code` is the string code of the current API (such as
    /// `invalidParameter.userIds.empty`) or the number `errcode` of a session webhook.
    #[error("DingTalk API error {code} (HTTP {status}): {message}")]
    Api { status: u16, code: String, message: String, temporary: bool },
    /// The API answered something that is not its JSON (an HTTP error page).
    #[error("unexpected DingTalk API response (HTTP {status}): {detail}")]
    Response { status: u16, detail: String },
}

impl ApiError {
    /// Whether the same call may succeed later (rate limits, server errors, network trouble);
    /// otherwise it fails until something is changed (an expired webhook, IDs, credentials).
    pub fn is_temporary(&self) -> bool {
        match self {
            ApiError::Transport(_) => true,
            ApiError::Api { temporary, .. } => *temporary,
            ApiError::Response { status, .. } => status_is_temporary(*status),
        }
    }

    pub fn is_permanent(&self) -> bool {
        !self.is_temporary()
    }
}

fn status_is_temporary(status: u16) -> bool {
    status == 429 || status >= 500
}

/// Answers into the conversation a message came from, through its session webhook (no
/// access token needed, but only until the webhook expires).
pub async fn reply_via_session(
    http: &reqwest::Client,
    session_webhook_url: &str,
    text: &str,
) -> Result<(), ApiError> {
    let response = http
        .post(session_webhook_url)
        .json(&json!({ "msgtype": "text", "text": { "content": text } }))
        .send()
        .await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let reply: Value = serde_json::from_slice(&bytes).map_err(|_| unexpected(status, &bytes))?;
    let errcode = reply.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if errcode == 0 && status < 400 {
        return Ok(());
    }
    Err(ApiError::Api {
        status,
        code: errcode.to_string(),
        message: reply.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_owned(),
        // -1 is "system busy"; 130101 is the robot's sending rate limit.
        temporary: matches!(errcode, -1 | 130101) || status_is_temporary(status),
    })
}

/// What a batch send reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSent {
    /// Identifies the send for DingTalk's read-status query.
    pub process_query_key: String,
    /// Users DingTalk does not know (not sent to, and never will be).
    pub invalid_staff_ids: Vec<String>,
    /// Users not sent to because of rate limits (worth sending to again later).
    pub flow_controlled_staff_ids: Vec<String>,
}

/// Calls DingTalk's robot API as one internal app, with its access token cached.
#[derive(Debug)]
pub struct DingtalkClient {
    http: reqwest::Client,
    base_url: String,
    app_key: String,
    app_secret: String,
    robot_code: String,
    token: TokenCache,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenReply {
    access_token: String,
    expire_in: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchReply {
    #[serde(default)]
    process_query_key: String,
    #[serde(default)]
    invalid_staff_id_list: Vec<String>,
    #[serde(default)]
    flow_controlled_staff_id_list: Vec<String>,
}

impl DingtalkClient {
    /// `base_url` is [`DINGTALK_BASE_URL`] (or a test server); `robot_code` is the robot's
    /// code, the same as the app key for an internal app's robot.
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        app_key: String,
        app_secret: String,
        robot_code: String,
    ) -> DingtalkClient {
        DingtalkClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            app_key,
            app_secret,
            robot_code,
            token: TokenCache::new(),
        }
    }

    /// Sends `text` one-to-one from the robot to each user (by staff ID): the way to answer
    /// once a message's session webhook has expired.
    pub async fn send_text(&self, staff_ids: &[String], text: &str) -> Result<BatchSent, ApiError> {
        let url = format!("{}/v1.0/robot/oToMessages/batchSend", self.base_url);
        let body = json!({
            "robotCode": self.robot_code,
            "userIds": staff_ids,
            "msgKey": "sampleText",
            // The message parameters are a JSON document sent as a string.
            "msgParam": json!({ "content": text }).to_string(),
        });
        let mut retried = false;
        loop {
            let token = self.token.get(|| self.fetch_token()).await?;
            let response = self
                .http
                .post(&url)
                .header("x-acs-dingtalk-access-token", &token)
                .json(&body)
                .send()
                .await?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await?;
            if status < 300 {
                let reply: BatchReply =
                    serde_json::from_slice(&bytes).map_err(|_| unexpected(status, &bytes))?;
                return Ok(BatchSent {
                    process_query_key: reply.process_query_key,
                    invalid_staff_ids: reply.invalid_staff_id_list,
                    flow_controlled_staff_ids: reply.flow_controlled_staff_id_list,
                });
            }
            let error = api_error(status, &bytes);
            // A token revoked before its stated expiry is refused with 401: forget it and try
            // once more with a fresh one.
            if token_refused(&error) && !retried {
                tracing::debug!(%error, "DingTalk refused the access token; refetching");
                self.token.invalidate(&token).await;
                retried = true;
                continue;
            }
            return Err(error);
        }
    }

    async fn fetch_token(&self) -> Result<(String, Duration), ApiError> {
        let url = format!("{}/v1.0/oauth2/accessToken", self.base_url);
        let response = self
            .http
            .post(url)
            .json(&json!({ "appKey": self.app_key, "appSecret": self.app_secret }))
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        if status >= 300 {
            return Err(api_error(status, &bytes));
        }
        let reply: TokenReply =
            serde_json::from_slice(&bytes).map_err(|_| unexpected(status, &bytes))?;
        Ok((reply.access_token, Duration::from_secs(reply.expire_in)))
    }
}

/// The current API answers errors with an HTTP error status and `{code, message, requestid}`.
fn api_error(status: u16, body: &[u8]) -> ApiError {
    let Ok(reply) = serde_json::from_slice::<Value>(body) else {
        return unexpected(status, body);
    };
    let field = |name: &str| reply.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let code = field("code");
    let lower = code.to_ascii_lowercase();
    let temporary = status_is_temporary(status)
        || lower.contains("throttl")
        || lower.contains("qpslimit")
        || lower.contains("busy");
    ApiError::Api { status, message: field("message"), code, temporary }
}

fn token_refused(error: &ApiError) -> bool {
    match error {
        ApiError::Api { status, code, .. } => {
            *status == 401 || code == "InvalidAuthentication" || code.contains("token.invalid")
        }
        _ => false,
    }
}

fn unexpected(status: u16, body: &[u8]) -> ApiError {
    let detail: String = String::from_utf8_lossy(body).chars().take(200).collect();
    ApiError::Response { status, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::serve;

    const SECRET: &str = "dtSecret-Zq8L3mNv";
    const TIMESTAMP: &str = "1733485800000";
    /// base64(HMAC-SHA256(SECRET, TIMESTAMP + "\n" + SECRET)), computed with Python's hmac.
    const SIGN: &str = "0dZLWLCrd08suZfaHMbtATUmxg5cuqrH74kOoJTwvGs=";
    const NOW: i64 = 1733485800000;

    #[test]
    fn the_sign_matches_a_known_answer() {
        let robot = Dingtalk::new(SECRET.to_owned());
        robot.verify(TIMESTAMP, SIGN, NOW).unwrap();
        robot.verify(TIMESTAMP, SIGN, NOW + MAX_SKEW_MS).unwrap();
        robot.verify(TIMESTAMP, SIGN, NOW - 5_000).unwrap();
        for sign in [
            "1dZLWLCrd08suZfaHMbtATUmxg5cuqrH74kOoJTwvGs=",
            "0dZLWLCrd08suZfaHMbtATUmxg5cuqrH74kOoJTwvG==",
            "",
            "not base64!",
        ] {
            assert!(matches!(robot.verify(TIMESTAMP, sign, NOW), Err(DingtalkError::BadSignature)));
        }
        let other = Dingtalk::new("another secret".to_owned());
        assert!(matches!(other.verify(TIMESTAMP, SIGN, NOW), Err(DingtalkError::BadSignature)));
        // A valid sign for another moment does not cover this timestamp.
        assert!(matches!(
            robot.verify("1733485800001", SIGN, NOW),
            Err(DingtalkError::BadSignature)
        ));
    }

    #[test]
    fn stale_or_malformed_timestamps_are_refused() {
        let robot = Dingtalk::new(SECRET.to_owned());
        for (timestamp, now) in [
            (TIMESTAMP, NOW + MAX_SKEW_MS + 1),
            (TIMESTAMP, NOW - MAX_SKEW_MS - 1),
            ("", NOW),
            ("yesterday", NOW),
        ] {
            assert!(matches!(
                robot.verify(timestamp, SIGN, now),
                Err(DingtalkError::StaleTimestamp(_))
            ));
        }
    }

    fn group_text() -> Value {
        json!({
            "conversationId": "cid-group-1",
            "atUsers": [{ "dingtalkId": "$:LWCP_v1:$bot" }],
            "chatbotCorpId": "ding-corp",
            "chatbotUserId": "$:LWCP_v1:$bot",
            "msgId": "msg-1",
            "senderNick": "王芳",
            "isAdmin": false,
            "senderStaffId": "staff-7",
            "sessionWebhookExpiredTime": 1733491200000_i64,
            "createAt": 1733485799000_i64,
            "senderCorpId": "ding-corp",
            "conversationType": "2",
            "senderId": "$:LWCP_v1:$sender",
            "conversationTitle": "售后群",
            "isInAtList": true,
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=abc",
            "text": { "content": " 退款什么时候到账？ " },
            "robotCode": "ding-robot",
            "msgtype": "text",
        })
    }

    #[test]
    fn a_group_text_message_is_parsed() {
        let message = parse(group_text().to_string().as_bytes()).unwrap();
        assert_eq!(
            message,
            RobotMessage {
                msg_id: "msg-1".to_owned(),
                kind: MessageKind::Text("退款什么时候到账？".to_owned()),
                create_at: 1733485799000,
                conversation_type: ConversationType::Group,
                conversation_id: "cid-group-1".to_owned(),
                conversation_title: Some("售后群".to_owned()),
                sender_id: "$:LWCP_v1:$sender".to_owned(),
                sender_nick: "王芳".to_owned(),
                sender_staff_id: Some("staff-7".to_owned()),
                sender_corp_id: Some("ding-corp".to_owned()),
                chatbot_user_id: "$:LWCP_v1:$bot".to_owned(),
                robot_code: Some("ding-robot".to_owned()),
                session_webhook: "https://oapi.dingtalk.com/robot/sendBySession?session=abc"
                    .to_owned(),
                session_webhook_expired_time: 1733491200000,
                is_in_at_list: true,
            }
        );
    }

    #[test]
    fn one_to_one_and_other_kinds() {
        let mut body = group_text();
        body["conversationType"] = json!("1");
        body["msgtype"] = json!("picture");
        body["content"] = json!({ "downloadCode": "dc" });
        body.as_object_mut().unwrap().remove("text");
        body.as_object_mut().unwrap().remove("senderStaffId");
        body.as_object_mut().unwrap().remove("conversationTitle");
        let message = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(message.kind, MessageKind::Other("picture".to_owned()));
        assert_eq!(message.conversation_type, ConversationType::OneToOne);
        assert_eq!(message.sender_staff_id, None);
        assert_eq!(message.conversation_title, None);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let mut no_text = group_text();
        no_text.as_object_mut().unwrap().remove("text");
        let mut no_webhook = group_text();
        no_webhook.as_object_mut().unwrap().remove("sessionWebhook");
        for body in [
            b"{oops".to_vec(),
            b"[]".to_vec(),
            Vec::new(),
            no_text.to_string().into_bytes(),
            no_webhook.to_string().into_bytes(),
        ] {
            assert!(matches!(parse(&body), Err(DingtalkError::Malformed(_))));
        }
    }

    #[tokio::test]
    async fn replies_through_the_session_webhook() {
        let (base, seen) = serve(vec![
            (200, r#"{"errcode":0,"errmsg":"ok"}"#),
            (200, r#"{"errcode":300001,"errmsg":"session expired"}"#),
            (200, r#"{"errcode":130101,"errmsg":"send too fast"}"#),
            (503, "<html>busy</html>"),
        ])
        .await;
        let http = reqwest::Client::new();
        let webhook = format!("{base}/robot/sendBySession?session=abc");
        reply_via_session(&http, &webhook, "三个工作日内到账").await.unwrap();
        let expired = reply_via_session(&http, &webhook, "hi").await.unwrap_err();
        assert!(expired.is_permanent(), "{expired}");
        let limited = reply_via_session(&http, &webhook, "hi").await.unwrap_err();
        assert!(limited.is_temporary(), "{limited}");
        let busy = reply_via_session(&http, &webhook, "hi").await.unwrap_err();
        assert!(matches!(busy, ApiError::Response { status: 503, .. }) && busy.is_temporary());
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0].line, "POST /robot/sendBySession?session=abc HTTP/1.1");
        assert_eq!(
            seen[0].body,
            json!({ "msgtype": "text", "text": { "content": "三个工作日内到账" } })
        );
    }

    const TOKEN_OK: &str = r#"{"accessToken":"at-first","expireIn":7200}"#;
    const TOKEN_AGAIN: &str = r#"{"accessToken":"at-second","expireIn":7200}"#;
    const SENT: &str = r#"{"processQueryKey":"pqk-1","invalidStaffIdList":["ghost"],"flowControlledStaffIdList":[]}"#;

    fn client(base: &str) -> DingtalkClient {
        DingtalkClient::new(
            reqwest::Client::new(),
            base,
            "ding-key".to_owned(),
            "ding-secret".to_owned(),
            "ding-robot".to_owned(),
        )
    }

    #[tokio::test]
    async fn one_token_serves_two_sends() {
        let (base, seen) = serve(vec![(200, TOKEN_OK), (200, SENT), (200, SENT)]).await;
        let client = client(&base);
        let users = vec!["staff-7".to_owned(), "ghost".to_owned()];
        let sent = client.send_text(&users, "您的退款已处理").await.unwrap();
        assert_eq!(
            sent,
            BatchSent {
                process_query_key: "pqk-1".to_owned(),
                invalid_staff_ids: vec!["ghost".to_owned()],
                flow_controlled_staff_ids: Vec::new(),
            }
        );
        client.send_text(&users[..1], "再见").await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0].line, "POST /v1.0/oauth2/accessToken HTTP/1.1");
        assert_eq!(seen[0].body, json!({ "appKey": "ding-key", "appSecret": "ding-secret" }));
        assert_eq!(seen[1].line, "POST /v1.0/robot/oToMessages/batchSend HTTP/1.1");
        assert_eq!(seen[1].header("x-acs-dingtalk-access-token"), Some("at-first"));
        assert_eq!(
            seen[1].body,
            json!({
                "robotCode": "ding-robot",
                "userIds": ["staff-7", "ghost"],
                "msgKey": "sampleText",
                "msgParam": r#"{"content":"您的退款已处理"}"#,
            })
        );
        assert_eq!(seen[2].header("x-acs-dingtalk-access-token"), Some("at-first"));
    }

    #[tokio::test]
    async fn a_refused_token_is_replaced_once() {
        let refused =
            r#"{"code":"InvalidAuthentication","message":"不合法的access_token","requestid":"r1"}"#;
        let (base, seen) = serve(vec![
            (200, TOKEN_OK),
            (401, refused),
            (200, TOKEN_AGAIN),
            (200, SENT),
            (401, refused),
            (200, TOKEN_OK),
            (401, refused),
        ])
        .await;
        let client = client(&base);
        let users = ["staff-7".to_owned()];
        client.send_text(&users, "hi").await.unwrap();
        let error = client.send_text(&users, "hi").await.unwrap_err();
        assert!(
            matches!(&error, ApiError::Api { status: 401, code, .. } if code == "InvalidAuthentication"),
            "{error}"
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[3].header("x-acs-dingtalk-access-token"), Some("at-second"));
        assert_eq!(seen.len(), 7);
    }

    #[tokio::test]
    async fn errors_say_whether_they_are_temporary() {
        let (base, _) = serve(vec![
            (200, TOKEN_OK),
            (400, r#"{"code":"invalidParameter.userIds.empty","message":"userIds is empty","requestid":"r2"}"#),
            (429, r#"{"code":"Throttling.Api","message":"too many requests","requestid":"r3"}"#),
            (500, r#"{"code":"ServiceError","message":"internal","requestid":"r4"}"#),
        ])
        .await;
        let api = client(&base);
        let permanent = api.send_text(&[], "hi").await.unwrap_err();
        assert!(permanent.is_permanent(), "{permanent}");
        let limited = api.send_text(&["a".to_owned()], "hi").await.unwrap_err();
        assert!(limited.is_temporary(), "{limited}");
        let server = api.send_text(&["a".to_owned()], "hi").await.unwrap_err();
        assert!(server.is_temporary(), "{server}");

        let (base, _) = serve(vec![(
            400,
            r#"{"code":"invalidClientIdOrSecret","message":"无效的clientId或者clientSecret","requestid":"r5"}"#,
        )])
        .await;
        let bad_secret = client(&base).send_text(&["a".to_owned()], "hi").await;
        assert!(bad_secret.unwrap_err().is_permanent());
    }
}
