//! The HTTP APIs Tandem calls: WeCom customer service (fetching what the callback announced,
//! sending replies, customers' names) and an Official Account's customer service messages.
//! Both take the base URL, so tests and private deployments point them elsewhere.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::token::TokenCache;

/// WeCom's API.
pub const WECOM_API: &str = "https://qyapi.weixin.qq.com";
/// WeChat's (Official Accounts') API.
pub const WECHAT_API: &str = "https://api.weixin.qq.com";

/// The errcodes saying the access token is invalid (40014, 40001) or expired (42001): the call
/// is made once more with a fresh token.
const TOKEN_REFUSED: [i64; 3] = [40001, 40014, 42001];
/// The errcodes worth retrying later: the system is busy (-1), or a rate limit was hit.
const TEMPORARY: [i64; 3] = [-1, 45009, 45011];

/// What the documented errcodes Tandem meets mean.
pub fn errcode_meaning(errcode: i64) -> Option<&'static str> {
    Some(match errcode {
        -1 => "the system is busy; try again later",
        40001 => "the secret or the access token is invalid",
        40003 => "the user id (openid or external_userid) is invalid",
        40013 => "the corp id or app id is invalid",
        40014 => "the access token is invalid",
        40125 => "the app secret is invalid",
        40164 => "the calling IP address is not on the account's allow list",
        41001 => "the access token is missing",
        42001 => "the access token has expired",
        43004 => "the user does not follow the account",
        44004 => "the message content is empty",
        45002 => "the message content is too long",
        45009 => "the API's call rate limit was reached; try again later",
        45011 => "the API's minute call limit was reached; try again later",
        45015 => "the reply window has passed (48 hours since the user's last message)",
        45047 => "too many messages were sent since the user's last message",
        48001 => "the account is not authorised to call this API",
        60020 => "the calling IP address is not trusted by the corp",
        _ => return None,
    })
}

fn describe(errcode: &i64) -> &'static str {
    errcode_meaning(*errcode).unwrap_or("undocumented here")
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request did not get an answer (the error carries no URL: it holds secrets).
    #[error("could not reach the API: {0}")]
    Network(#[source] reqwest::Error),
    #[error("the API answered HTTP {status}")]
    Http { status: u16 },
    #[error("the API's answer is not the expected JSON: {0}")]
    Decode(String),
    #[error("the API refused the call with errcode {errcode} ({}): {errmsg}", describe(.errcode))]
    Api { errcode: i64, errmsg: String },
}

impl ApiError {
    /// Whether sending the same request again can never succeed (a bad request, a user who
    /// cannot be reached, a reply window that has passed), as opposed to a failure worth
    /// retrying later (the network, a server error, a busy system, a rate limit).
    pub fn is_permanent(&self) -> bool {
        match self {
            ApiError::Network(_) | ApiError::Decode(_) => false,
            ApiError::Http { status } => !(*status >= 500 || *status == 429 || *status == 408),
            ApiError::Api { errcode, .. } => !TEMPORARY.contains(errcode),
        }
    }

    pub fn is_temporary(&self) -> bool {
        !self.is_permanent()
    }

    pub fn errcode(&self) -> Option<i64> {
        match self {
            ApiError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

fn network(error: reqwest::Error) -> ApiError {
    ApiError::Network(error.without_url())
}

/// The JSON of an answer, or the error it states.
async fn read(response: reqwest::Response) -> Result<Value, ApiError> {
    let status = response.status();
    if !status.is_success() {
        return Err(ApiError::Http { status: status.as_u16() });
    }
    let body = response.bytes().await.map_err(network)?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|error| ApiError::Decode(error.to_string()))?;
    match value.get("errcode").and_then(Value::as_i64).unwrap_or(0) {
        0 => Ok(value),
        errcode => Err(ApiError::Api {
            errcode,
            errmsg: value.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_owned(),
        }),
    }
}

/// One account of either API: where it is, how its token is fetched, and the token.
struct Account {
    http: reqwest::Client,
    base: String,
    /// For logs: the host only, never a URL (its query holds the secret or the token).
    host: String,
    token_path: &'static str,
    token_query: Vec<(&'static str, String)>,
    token: TokenCache,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: u64,
}

impl Account {
    fn new(
        http: reqwest::Client,
        base_url: String,
        token_path: &'static str,
        token_query: Vec<(&'static str, String)>,
    ) -> Account {
        let base = base_url.trim_end_matches('/').to_owned();
        let host = reqwest::Url::parse(&base)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        Account { http, base, host, token_path, token_query, token: TokenCache::new() }
    }

    async fn access_token(&self) -> Result<String, ApiError> {
        self.token
            .get(|| async {
                tracing::debug!(host = %self.host, "fetching an access token");
                let response = self
                    .http
                    .get(format!("{}{}", self.base, self.token_path))
                    .query(&self.token_query)
                    .send()
                    .await
                    .map_err(network)?;
                let reply: TokenReply = serde_json::from_value(read(response).await?)
                    .map_err(|error| ApiError::Decode(error.to_string()))?;
                Ok((reply.access_token, Duration::from_secs(reply.expires_in)))
            })
            .await
    }

    /// POSTs `body` to `path` with the access token, once more with a fresh token when the API
    /// says the one used is invalid or expired.
    async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, ApiError> {
        let mut retried = false;
        loop {
            let token = self.access_token().await?;
            tracing::debug!(host = %self.host, path, "calling the API");
            let response = self
                .http
                .post(format!("{}{path}", self.base))
                .query(&[("access_token", token.as_str())])
                .json(body)
                .send()
                .await
                .map_err(network)?;
            match read(response).await {
                Err(ApiError::Api { errcode, .. })
                    if !retried && TOKEN_REFUSED.contains(&errcode) =>
                {
                    tracing::info!(host = %self.host, path, errcode, "the access token was refused; fetching a new one");
                    self.token.invalidate(&token).await;
                    retried = true;
                }
                Err(error) => return Err(error),
                Ok(value) => {
                    return serde_json::from_value(value)
                        .map_err(|error| ApiError::Decode(error.to_string()));
                }
            }
        }
    }
}

/// WeCom customer service (微信客服) for one corp: the secret is the customer service app's.
pub struct WecomClient {
    account: Account,
    corp_id: String,
}

impl std::fmt::Debug for WecomClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WecomClient")
            .field("host", &self.account.host)
            .field("corp_id", &self.corp_id)
            .finish_non_exhaustive()
    }
}

/// One page of [`WecomClient::sync_msg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPage {
    /// Where the next call starts; store it, so a restart does not fetch the page again.
    pub next_cursor: String,
    pub has_more: bool,
    pub messages: Vec<KfMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KfMessage {
    pub msgid: String,
    pub open_kfid: String,
    /// The customer; for events, the one the event is about (empty when there is none).
    pub external_userid: String,
    /// Unix seconds.
    pub send_time: i64,
    /// Who wrote it: [`KfMessage::FROM_CUSTOMER`], [`KfMessage::FROM_SYSTEM`] or
    /// [`KfMessage::FROM_SERVICER`].
    pub origin: u32,
    pub kind: KfKind,
}

impl KfMessage {
    /// The WeChat customer.
    pub const FROM_CUSTOMER: u32 = 3;
    /// An event or system message.
    pub const FROM_SYSTEM: u32 = 4;
    /// A servicer (a human agent, or Tandem through `send_msg`).
    pub const FROM_SERVICER: u32 = 5;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KfKind {
    Text(String),
    Image {
        media_id: String,
    },
    /// Any other `msgtype` (voice, video, file, location, link, event…), as written.
    Other(String),
}

#[derive(Deserialize)]
struct SyncReply {
    #[serde(default)]
    next_cursor: String,
    #[serde(default)]
    has_more: Value,
    #[serde(default)]
    msg_list: Vec<RawKfMessage>,
}

#[derive(Deserialize)]
struct RawKfMessage {
    #[serde(default)]
    msgid: String,
    #[serde(default)]
    open_kfid: String,
    #[serde(default)]
    external_userid: Option<String>,
    #[serde(default)]
    send_time: i64,
    #[serde(default)]
    origin: u32,
    #[serde(default)]
    msgtype: String,
    #[serde(default)]
    text: Option<RawText>,
    #[serde(default)]
    image: Option<RawMedia>,
    #[serde(default)]
    event: Option<RawEvent>,
}

#[derive(Deserialize)]
struct RawText {
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
struct RawMedia {
    #[serde(default)]
    media_id: String,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(default)]
    external_userid: Option<String>,
}

impl From<RawKfMessage> for KfMessage {
    fn from(raw: RawKfMessage) -> KfMessage {
        let kind = match (raw.msgtype.as_str(), raw.text, raw.image) {
            ("text", Some(text), _) => KfKind::Text(text.content),
            ("image", _, Some(image)) => KfKind::Image { media_id: image.media_id },
            _ => KfKind::Other(raw.msgtype),
        };
        let external_userid = raw
            .external_userid
            .or_else(|| raw.event.and_then(|event| event.external_userid))
            .unwrap_or_default();
        KfMessage {
            msgid: raw.msgid,
            open_kfid: raw.open_kfid,
            external_userid,
            send_time: raw.send_time,
            origin: raw.origin,
            kind,
        }
    }
}

#[derive(Deserialize)]
struct SendReply {
    #[serde(default)]
    msgid: String,
}

#[derive(Deserialize)]
struct CustomersReply {
    #[serde(default)]
    customer_list: Vec<Customer>,
}

#[derive(Deserialize)]
struct Customer {
    external_userid: String,
    #[serde(default)]
    nickname: String,
}

impl WecomClient {
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        corp_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> WecomClient {
        let corp_id = corp_id.into();
        let query = vec![("corpid", corp_id.clone()), ("corpsecret", secret.into())];
        WecomClient {
            account: Account::new(http, base_url.into(), "/cgi-bin/gettoken", query),
            corp_id,
        }
    }

    /// The cached access token, or a new one.
    pub async fn access_token(&self) -> Result<String, ApiError> {
        self.account.access_token().await
    }

    /// Fetches messages and events of `open_kfid` after `cursor` (none: from the oldest the
    /// API keeps). Pass the `token` of the [`super::Inbound::KfNotice`] that prompted the call:
    /// with it the API allows far more calls. `limit` is at most 1000.
    pub async fn sync_msg(
        &self,
        cursor: Option<&str>,
        token: Option<&str>,
        open_kfid: &str,
        limit: u32,
    ) -> Result<SyncPage, ApiError> {
        let mut body = Map::new();
        if let Some(cursor) = cursor {
            body.insert("cursor".into(), cursor.into());
        }
        if let Some(token) = token {
            body.insert("token".into(), token.into());
        }
        body.insert("limit".into(), limit.clamp(1, 1000).into());
        body.insert("voice_format".into(), 0.into());
        body.insert("open_kfid".into(), open_kfid.into());
        let reply: SyncReply =
            self.account.post("/cgi-bin/kf/sync_msg", &Value::Object(body)).await?;
        let has_more = match reply.has_more {
            Value::Bool(more) => more,
            other => other.as_i64().is_some_and(|more| more != 0),
        };
        Ok(SyncPage {
            next_cursor: reply.next_cursor,
            has_more,
            messages: reply.msg_list.into_iter().map(KfMessage::from).collect(),
        })
    }

    /// Sends a text to a customer from `open_kfid`; answers the message's id.
    pub async fn send_text(
        &self,
        to_external_userid: &str,
        open_kfid: &str,
        text: &str,
    ) -> Result<String, ApiError> {
        let body = json!({
            "touser": to_external_userid,
            "open_kfid": open_kfid,
            "msgtype": "text",
            "text": { "content": text },
        });
        let reply: SendReply = self.account.post("/cgi-bin/kf/send_msg", &body).await?;
        Ok(reply.msgid)
    }

    /// The WeChat nicknames of customers, as (external_userid, nickname); ids the API does not
    /// know are left out.
    pub async fn customer_names(
        &self,
        external_userids: &[String],
    ) -> Result<Vec<(String, String)>, ApiError> {
        if external_userids.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({
            "external_userid_list": external_userids,
            "need_enter_session_context": 0,
        });
        let reply: CustomersReply =
            self.account.post("/cgi-bin/kf/customer/batchget", &body).await?;
        Ok(reply
            .customer_list
            .into_iter()
            .map(|customer| (customer.external_userid, customer.nickname))
            .collect())
    }
}

/// An Official Account's customer service messages (客服消息).
pub struct WechatClient {
    account: Account,
    app_id: String,
}

impl std::fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatClient")
            .field("host", &self.account.host)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Empty {}

impl WechatClient {
    pub fn new(
        http: reqwest::Client,
        base_url: impl Into<String>,
        app_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> WechatClient {
        let app_id = app_id.into();
        let query = vec![
            ("grant_type", "client_credential".to_owned()),
            ("appid", app_id.clone()),
            ("secret", secret.into()),
        ];
        WechatClient {
            account: Account::new(http, base_url.into(), "/cgi-bin/token", query),
            app_id,
        }
    }

    /// The cached access token, or a new one.
    pub async fn access_token(&self) -> Result<String, ApiError> {
        self.account.access_token().await
    }

    /// Sends a text to a follower; allowed within 48 hours of the follower's last message
    /// (later: errcode 45015).
    pub async fn send_text(&self, openid: &str, text: &str) -> Result<(), ApiError> {
        let body = json!({
            "touser": openid,
            "msgtype": "text",
            "text": { "content": text },
        });
        let _: Empty = self.account.post("/cgi-bin/message/custom/send", &body).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    const SECRET: &str = "s3cr3t-value";

    #[derive(Debug, Clone)]
    struct Request {
        method: String,
        /// Path and query.
        target: String,
        body: String,
    }

    impl Request {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap()
        }
    }

    type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

    /// A tiny HTTP/1.1 server answering each request with `handler`, one request per
    /// connection, recording what it was asked.
    struct Mock {
        base: String,
        requests: Arc<Mutex<Vec<Request>>>,
    }

    impl Mock {
        async fn start(
            handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static,
        ) -> Mock {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let requests = Arc::new(Mutex::new(Vec::new()));
            let handler: Arc<Handler> = Arc::new(handler);
            let recorded = Arc::clone(&requests);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else { return };
                    let (handler, recorded) = (Arc::clone(&handler), Arc::clone(&recorded));
                    tokio::spawn(async move {
                        let mut stream = BufReader::new(stream);
                        let mut line = String::new();
                        stream.read_line(&mut line).await.unwrap();
                        let mut parts = line.split_whitespace();
                        let method = parts.next().unwrap_or_default().to_owned();
                        let target = parts.next().unwrap_or_default().to_owned();
                        let mut length = 0;
                        loop {
                            let mut header = String::new();
                            stream.read_line(&mut header).await.unwrap();
                            let header = header.trim_end();
                            if header.is_empty() {
                                break;
                            }
                            if let Some((name, value)) = header.split_once(':')
                                && name.eq_ignore_ascii_case("content-length")
                            {
                                length = value.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; length];
                        stream.read_exact(&mut body).await.unwrap();
                        let request =
                            Request { method, target, body: String::from_utf8(body).unwrap() };
                        let (status, answer) = handler(&request);
                        recorded.lock().unwrap().push(request);
                        let response = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                            answer.len()
                        );
                        let mut stream = stream.into_inner();
                        stream.write_all(response.as_bytes()).await.unwrap();
                        stream.shutdown().await.ok();
                    });
                }
            });
            Mock { base, requests }
        }

        fn requests(&self) -> Vec<Request> {
            self.requests.lock().unwrap().clone()
        }

        fn paths(&self) -> Vec<String> {
            self.requests()
                .iter()
                .map(|request| request.target.split('?').next().unwrap().to_owned())
                .collect()
        }
    }

    /// Answers gettoken with T1, T2… and send_msg with `send(n)` for its nth call.
    fn wecom_handler(
        send: impl Fn(usize) -> String + Send + Sync + 'static,
    ) -> impl Fn(&Request) -> (u16, String) + Send + Sync + 'static {
        let tokens = AtomicUsize::new(0);
        let sends = AtomicUsize::new(0);
        move |request| {
            if request.target.starts_with("/cgi-bin/gettoken") {
                let n = tokens.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    200,
                    format!(
                        r#"{{"errcode":0,"errmsg":"ok","access_token":"T{n}","expires_in":7200}}"#
                    ),
                )
            } else {
                (200, send(sends.fetch_add(1, Ordering::SeqCst)))
            }
        }
    }

    #[tokio::test]
    async fn the_token_is_fetched_once_for_two_sends() {
        let mock = Mock::start(wecom_handler(|n| {
            format!(r#"{{"errcode":0,"errmsg":"ok","msgid":"m{n}"}}"#)
        }))
        .await;
        let client =
            WecomClient::new(reqwest::Client::new(), format!("{}/", mock.base), "wwcorp", SECRET);
        assert_eq!(client.send_text("wmCustomer", "wkTandem", "你好").await.unwrap(), "m0");
        assert_eq!(client.send_text("wmCustomer", "wkTandem", "again").await.unwrap(), "m1");
        let requests = mock.requests();
        assert_eq!(
            mock.paths(),
            ["/cgi-bin/gettoken", "/cgi-bin/kf/send_msg", "/cgi-bin/kf/send_msg"]
        );
        assert_eq!(requests[0].method, "GET");
        assert_eq!(
            requests[0].target,
            format!("/cgi-bin/gettoken?corpid=wwcorp&corpsecret={SECRET}")
        );
        assert_eq!(requests[1].method, "POST");
        assert_eq!(requests[1].target, "/cgi-bin/kf/send_msg?access_token=T1");
        assert_eq!(
            requests[1].json(),
            json!({"touser": "wmCustomer", "open_kfid": "wkTandem", "msgtype": "text", "text": {"content": "你好"}})
        );
        assert!(!format!("{client:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn an_expired_token_is_replaced_and_the_call_retried_once() {
        let mock = Mock::start(wecom_handler(|n| match n {
            0 => r#"{"errcode":42001,"errmsg":"access_token expired"}"#.to_owned(),
            1 => r#"{"errcode":0,"errmsg":"ok","msgid":"sent"}"#.to_owned(),
            _ => r#"{"errcode":40014,"errmsg":"invalid access_token"}"#.to_owned(),
        }))
        .await;
        let client = WecomClient::new(reqwest::Client::new(), mock.base.clone(), "wwcorp", SECRET);
        assert_eq!(client.send_text("wm", "wk", "hi").await.unwrap(), "sent");
        let targets: Vec<_> = mock.requests().into_iter().map(|request| request.target).collect();
        assert_eq!(targets[1], "/cgi-bin/kf/send_msg?access_token=T1");
        assert_eq!(targets[3], "/cgi-bin/kf/send_msg?access_token=T2");

        // A token refused again after the retry is an error, not a loop.
        let error = client.send_text("wm", "wk", "hi").await.unwrap_err();
        assert_eq!(error.errcode(), Some(40014));
        assert_eq!(
            mock.paths(),
            [
                "/cgi-bin/gettoken",
                "/cgi-bin/kf/send_msg",
                "/cgi-bin/gettoken",
                "/cgi-bin/kf/send_msg",
                "/cgi-bin/kf/send_msg",
                "/cgi-bin/gettoken",
                "/cgi-bin/kf/send_msg",
            ]
        );
    }

    #[tokio::test]
    async fn errors_are_permanent_or_temporary() {
        let mock = Mock::start(wecom_handler(|n| match n {
            0 => r#"{"errcode":45015,"errmsg":"response out of time limit"}"#.to_owned(),
            1 => r#"{"errcode":40003,"errmsg":"invalid user"}"#.to_owned(),
            2 => r#"{"errcode":-1,"errmsg":"system error"}"#.to_owned(),
            3 => r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#.to_owned(),
            _ => "<html>bad gateway</html>".to_owned(),
        }))
        .await;
        let client = WecomClient::new(reqwest::Client::new(), mock.base.clone(), "wwcorp", SECRET);
        let window = client.send_text("wm", "wk", "hi").await.unwrap_err();
        assert!(window.is_permanent());
        assert_eq!(window.errcode(), Some(45015));
        assert!(window.to_string().contains("48 hours"), "{window}");
        assert!(window.to_string().contains("response out of time limit"));
        assert!(client.send_text("wm", "wk", "hi").await.unwrap_err().is_permanent());
        assert!(client.send_text("wm", "wk", "hi").await.unwrap_err().is_temporary());
        assert!(client.send_text("wm", "wk", "hi").await.unwrap_err().is_temporary());
        let garbage = client.send_text("wm", "wk", "hi").await.unwrap_err();
        assert!(matches!(garbage, ApiError::Decode(_)) && garbage.is_temporary());

        let failing = Mock::start(|_: &Request| (502, "{}".to_owned())).await;
        let client =
            WecomClient::new(reqwest::Client::new(), failing.base.clone(), "wwcorp", SECRET);
        let error = client.access_token().await.unwrap_err();
        assert!(matches!(error, ApiError::Http { status: 502 }) && error.is_temporary());
        let refused = Mock::start(|_: &Request| (400, "{}".to_owned())).await;
        let client =
            WecomClient::new(reqwest::Client::new(), refused.base.clone(), "wwcorp", SECRET);
        assert!(client.access_token().await.unwrap_err().is_permanent());

        // Nothing listening: a network error, temporary, whose message holds no secret.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let client =
            WecomClient::new(reqwest::Client::new(), format!("http://{address}"), "wwcorp", SECRET);
        let error = client.access_token().await.unwrap_err();
        assert!(matches!(error, ApiError::Network(_)) && error.is_temporary());
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            chain.push_str(&cause.to_string());
            source = cause.source();
        }
        assert!(!chain.contains(SECRET), "{chain}");
    }

    #[tokio::test]
    async fn sync_msg_reads_a_page() {
        let page = json!({
            "errcode": 0, "errmsg": "ok", "next_cursor": "c2", "has_more": 1,
            "msg_list": [
                {"msgid": "m1", "open_kfid": "wk", "external_userid": "wm1", "send_time": 1733400000,
                 "origin": 3, "msgtype": "text", "text": {"content": "where is my order?"}},
                {"msgid": "m2", "open_kfid": "wk", "external_userid": "wm1", "send_time": 1733400001,
                 "origin": 3, "msgtype": "image", "image": {"media_id": "media1"}},
                {"msgid": "m3", "open_kfid": "wk", "send_time": 1733400002, "origin": 4, "msgtype": "event",
                 "event": {"event_type": "enter_session", "open_kfid": "wk", "external_userid": "wm2"}},
                {"msgid": "m4", "open_kfid": "wk", "external_userid": "wm1", "send_time": 1733400003,
                 "origin": 5, "servicer_userid": "agent", "msgtype": "voice", "voice": {"media_id": "v"}}
            ]
        })
        .to_string();
        let mock = Mock::start(wecom_handler(move |_| page.clone())).await;
        let client = WecomClient::new(reqwest::Client::new(), mock.base.clone(), "wwcorp", SECRET);
        let page = client.sync_msg(Some("c1"), Some("ENCtoken"), "wk", 5000).await.unwrap();
        assert_eq!(page.next_cursor, "c2");
        assert!(page.has_more);
        assert_eq!(
            page.messages[0],
            KfMessage {
                msgid: "m1".into(),
                open_kfid: "wk".into(),
                external_userid: "wm1".into(),
                send_time: 1733400000,
                origin: KfMessage::FROM_CUSTOMER,
                kind: KfKind::Text("where is my order?".into()),
            }
        );
        assert_eq!(page.messages[1].kind, KfKind::Image { media_id: "media1".into() });
        assert_eq!(page.messages[2].kind, KfKind::Other("event".into()));
        assert_eq!(page.messages[2].external_userid, "wm2");
        assert_eq!(page.messages[2].origin, KfMessage::FROM_SYSTEM);
        assert_eq!(page.messages[3].kind, KfKind::Other("voice".into()));
        let requests = mock.requests();
        assert_eq!(requests[1].target, "/cgi-bin/kf/sync_msg?access_token=T1");
        assert_eq!(
            requests[1].json(),
            json!({"cursor": "c1", "token": "ENCtoken", "limit": 1000, "voice_format": 0, "open_kfid": "wk"})
        );

        client.sync_msg(None, None, "wk", 10).await.unwrap();
        assert_eq!(
            mock.requests()[2].json(),
            json!({"limit": 10, "voice_format": 0, "open_kfid": "wk"})
        );
    }

    #[tokio::test]
    async fn customer_names_are_fetched_in_one_call() {
        let mock = Mock::start(wecom_handler(|_| {
            json!({"errcode": 0, "errmsg": "ok",
                   "customer_list": [{"external_userid": "wm1", "nickname": "小王", "avatar": "", "gender": 0}],
                   "invalid_external_userid": ["wm9"]})
            .to_string()
        }))
        .await;
        let client = WecomClient::new(reqwest::Client::new(), mock.base.clone(), "wwcorp", SECRET);
        assert_eq!(client.customer_names(&[]).await.unwrap(), []);
        let ids = ["wm1".to_owned(), "wm9".to_owned()];
        assert_eq!(
            client.customer_names(&ids).await.unwrap(),
            [("wm1".to_owned(), "小王".to_owned())]
        );
        let requests = mock.requests();
        assert_eq!(requests[1].target, "/cgi-bin/kf/customer/batchget?access_token=T1");
        assert_eq!(requests[1].json()["external_userid_list"], json!(["wm1", "wm9"]));
    }

    #[tokio::test]
    async fn the_official_account_client_sends_customer_service_texts() {
        let tokens = AtomicUsize::new(0);
        let mock = Mock::start(move |request: &Request| {
            if request.target.starts_with("/cgi-bin/token") {
                tokens.fetch_add(1, Ordering::SeqCst);
                (200, r#"{"access_token":"OA1","expires_in":7200}"#.to_owned())
            } else if request.json()["touser"] == "oLate" {
                (200, r#"{"errcode":45015,"errmsg":"response out of time limit or subscription is canceled"}"#.to_owned())
            } else {
                (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_owned())
            }
        })
        .await;
        let client = WechatClient::new(reqwest::Client::new(), mock.base.clone(), "wxapp", SECRET);
        client.send_text("oUser1", "hello").await.unwrap();
        let late = client.send_text("oLate", "hello").await.unwrap_err();
        assert!(late.is_permanent() && late.errcode() == Some(45015));
        let requests = mock.requests();
        assert_eq!(requests.len(), 3, "one token for both sends");
        assert_eq!(
            requests[0].target,
            format!("/cgi-bin/token?grant_type=client_credential&appid=wxapp&secret={SECRET}")
        );
        assert_eq!(requests[1].target, "/cgi-bin/message/custom/send?access_token=OA1");
        assert_eq!(
            requests[1].json(),
            json!({"touser": "oUser1", "msgtype": "text", "text": {"content": "hello"}})
        );
    }
}
