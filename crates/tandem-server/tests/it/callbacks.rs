//! The platforms' callbacks end to end, against fake WeCom, WeChat, Feishu and DingTalk servers
//! on loopback ports: each request is signed (and encrypted) by the test with the platform's
//! published algorithm, the customer's message is stored under the identity the platform
//! vouches for, and the bot's answer leaves through the platform's API as it documents it.
//! Refused callbacks (bad signatures, replays, stale or malformed requests) store nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tandem_channels::wecom;
use tandem_domain::{AuthorKind, Channel, IdentityKind, Message};
use tandem_server::ServerConfig;
use tandem_server::testing::{ADMIN, Response, Session, TestApp, build};
use tandem_store::{ConversationFilter, now_millis};

use crate::webhooks::call;

/// A 43-character EncodingAESKey, as the consoles generate them.
const AES_KEY: &str = "OCb8YY4UojTIXKTHcQ/TCJWt+iso8mk80iwGUr5Zo6c";
/// The User-Agent of the webhook worker, which sends the replies.
const WORKER_AGENT: &str = "Tandem-Webhooks/";

/// One request a fake platform got.
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    path: String,
    query: String,
    user_agent: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Default)]
struct FakeState {
    calls: Mutex<Vec<Call>>,
    /// What WeCom's `sync_msg` answers in `msg_list`.
    sync: Mutex<Vec<Value>>,
    /// When set, `sync_msg` answers these pages instead, by cursor (`page-<n>`).
    pages: Mutex<Vec<Vec<Value>>>,
}

/// A platform's API on a loopback port, answering as the platform documents.
struct Fake {
    url: String,
    state: Arc<FakeState>,
}

async fn fake_api(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let path = uri.path().to_owned();
    let call = Call {
        method,
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_owned(),
        user_agent: headers
            .get("user-agent")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let request_body = call.body.clone();
    state.calls.lock().unwrap().push(call);
    let reply = match path.as_str() {
        "/cgi-bin/gettoken" => {
            json!({ "errcode": 0, "errmsg": "ok", "access_token": "wecom-token", "expires_in": 7200 })
        }
        "/cgi-bin/kf/sync_msg" if !state.pages.lock().unwrap().is_empty() => {
            let pages = state.pages.lock().unwrap().clone();
            let cursor = request_body["cursor"].clone();
            let page: usize = cursor
                .as_str()
                .and_then(|cursor| cursor.strip_prefix("page-"))
                .map_or(0, |page| page.parse().unwrap());
            let messages = pages.get(page).cloned().unwrap_or_default();
            json!({
                "errcode": 0,
                "errmsg": "ok",
                "next_cursor": format!("page-{}", (page + 1).min(pages.len())),
                "has_more": i32::from(page + 1 < pages.len()),
                "msg_list": messages,
            })
        }
        "/cgi-bin/kf/sync_msg" => json!({
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": "cursor-1",
            "has_more": 0,
            "msg_list": state.sync.lock().unwrap().clone(),
        }),
        "/cgi-bin/kf/send_msg" => json!({ "errcode": 0, "errmsg": "ok", "msgid": "sent-1" }),
        "/cgi-bin/token" => json!({ "access_token": "wechat-token", "expires_in": 7200 }),
        "/cgi-bin/message/custom/send" => json!({ "errcode": 0, "errmsg": "ok" }),
        "/open-apis/auth/v3/tenant_access_token/internal" => {
            json!({ "code": 0, "msg": "ok", "tenant_access_token": "t-feishu", "expire": 7200 })
        }
        "/v1.0/oauth2/accessToken" => json!({ "accessToken": "at-dingtalk", "expireIn": 7200 }),
        "/v1.0/robot/oToMessages/batchSend" => {
            json!({ "processQueryKey": "pqk-1", "invalidStaffIdList": [], "flowControlledStaffIdList": [] })
        }
        "/robot/session" => json!({ "errcode": 0, "errmsg": "ok" }),
        reply if reply.starts_with("/open-apis/im/v1/messages/") => {
            json!({ "code": 0, "msg": "success", "data": { "message_id": "om_reply" } })
        }
        _ => json!({ "errcode": 404, "errmsg": "unknown path" }),
    };
    axum::Json(reply)
}

impl Fake {
    async fn start() -> Fake {
        let state = Arc::new(FakeState::default());
        let router = axum::Router::new().fallback(fake_api).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Fake { url, state }
    }

    fn calls(&self, path: &str) -> Vec<Call> {
        self.state.calls.lock().unwrap().iter().filter(|call| call.path == path).cloned().collect()
    }

    fn set_sync(&self, messages: Vec<Value>) {
        *self.state.sync.lock().unwrap() = messages;
    }

    /// Waits (up to 10 s) until `count` calls to `path` arrived.
    async fn wait_for(&self, path: &str, count: usize) -> Vec<Call> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let calls = self.calls(path);
            if calls.len() >= count {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "{count} calls to {path} did not arrive: {:#?}",
                self.state.calls.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn app() -> TestApp {
    let mut config = ServerConfig::default();
    config.webhooks.retry_secs = vec![0.2, 0.2];
    TestApp::fixture().config(config).sample_articles().build().await
}

/// An inbox on `channel` with `settings` saved through the API; answers its public key.
async fn inbox(app: &TestApp, admin: &Session, channel: &str, settings: Value) -> String {
    let body = json!({ "name": format!("{channel} {}", nonce()), "channel": channel });
    let created = call(app, admin, Method::POST, "/api/v1/inboxes", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_i64().unwrap();
    let key = created.json()["public_key"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/inboxes/{id}/channel");
    let saved = call(app, admin, Method::PUT, &uri, Some(json!({ channel: settings }))).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let shown = call(app, admin, Method::GET, &uri, None).await;
    let callback_url = shown.json()["callback_url"].as_str().unwrap().to_owned();
    assert!(callback_url.ends_with(&format!("/channels/{channel}/{key}")), "{callback_url}");
    key
}

/// Every message stored in conversations on `channel`, oldest conversation first.
async fn stored(app: &TestApp, channel: Channel) -> Vec<Message> {
    let mut conversations = app
        .store
        .conversations_on(app.workspace, ConversationFilter::All, Some(channel), 100)
        .await
        .unwrap();
    conversations.sort_by_key(|conversation| conversation.id.0);
    let mut messages = Vec::new();
    for conversation in conversations {
        messages.extend(app.store.messages(conversation.id, 0, 1000).await.unwrap());
    }
    messages
}

fn customers_messages(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter(|message| message.author_kind == AuthorKind::Customer)
        .map(|message| message.body.clone())
        .collect()
}

/// The identity of kind `kind` the customer of `message`'s conversation holds.
async fn identity(app: &TestApp, message: &Message, kind: IdentityKind) -> (String, bool) {
    let conversation = app.store.conversation(message.conversation_id).await.unwrap().unwrap();
    let identities = app.store.customer_identities(conversation.customer_id).await.unwrap();
    let identity = identities
        .into_iter()
        .find(|identity| identity.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} identity"));
    (identity.value, identity.verified)
}

/// The bot's reply to the customer's message `body`, once stored.
async fn bot_reply_after(app: &TestApp, channel: Channel, body: &str) -> Message {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let messages = stored(app, channel).await;
        let asked = messages.iter().position(|message| message.body == body);
        if let Some(reply) = asked.and_then(|at| {
            messages[at..].iter().find(|message| message.author_kind == AuthorKind::Bot).cloned()
        }) {
            return reply;
        }
        assert!(Instant::now() < deadline, "no bot reply to {body:?}: {messages:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn now_secs() -> i64 {
    now_millis() / 1000
}

/// A fresh nonce: replay protection remembers (timestamp, nonce) pairs process-wide.
fn nonce() -> String {
    format!("n{:016x}", rand::random::<u64>())
}

fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn get(app: &TestApp, uri: &str) -> Response {
    app.get(uri, &[]).await
}

async fn post_xml(app: &TestApp, uri: &str, xml: &str) -> Response {
    let request =
        build(Method::POST, uri, &[("content-type", "text/xml")], Body::from(xml.to_owned()));
    app.send(request).await
}

async fn post_json(app: &TestApp, uri: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    app.send(build(Method::POST, uri, &all, Body::from(body.to_owned()))).await
}

// ---------- WeCom customer service ----------

const CORP_ID: &str = "wwTandemCorp01";
const KF_ID: &str = "wkTandemKf01";
const WECOM_TOKEN: &str = "wecomCallbackToken";

fn wecom_crypto() -> wecom::Crypto {
    wecom::Crypto::new(WECOM_TOKEN, AES_KEY, CORP_ID).unwrap()
}

/// The encrypted envelope WeCom POSTs, around `inner` XML.
fn envelope(encrypted: &str) -> String {
    format!(
        "<xml>\n  <ToUserName><![CDATA[{CORP_ID}]]></ToUserName>\n  <AgentID><![CDATA[]]></AgentID>\n  <Encrypt><![CDATA[{encrypted}]]></Encrypt>\n</xml>"
    )
}

fn kf_notice(token: &str) -> String {
    format!(
        "<xml>\n  <ToUserName><![CDATA[{CORP_ID}]]></ToUserName>\n  <CreateTime>{}</CreateTime>\n  <MsgType><![CDATA[event]]></MsgType>\n  <Event><![CDATA[kf_msg_or_event]]></Event>\n  <Token><![CDATA[{token}]]></Token>\n  <OpenKfId><![CDATA[{KF_ID}]]></OpenKfId>\n</xml>",
        now_secs()
    )
}

/// A signed, encrypted callback of `inner`: (query string, body).
fn wecom_signed(inner: &str, timestamp: &str, nonce: &str) -> (String, String) {
    let crypto = wecom_crypto();
    let encrypted = crypto.encrypt(inner);
    let signature = crypto.signature(timestamp, nonce, &encrypted);
    (
        query(&[("msg_signature", &signature), ("timestamp", timestamp), ("nonce", nonce)]),
        envelope(&encrypted),
    )
}

fn kf_text(msgid: &str, user: &str, text: &str) -> Value {
    json!({
        "msgid": msgid,
        "open_kfid": KF_ID,
        "external_userid": user,
        "send_time": now_secs(),
        "origin": 3,
        "msgtype": "text",
        "text": { "content": text },
    })
}

async fn wecom_inbox(app: &TestApp, admin: &Session, fake: &Fake) -> String {
    let settings = json!({
        "corp_id": CORP_ID,
        "secret": "wecomKfSecret",
        "token": WECOM_TOKEN,
        "encoding_aes_key": AES_KEY,
        "open_kfid": KF_ID,
        "base_url": fake.url,
    });
    inbox(app, admin, "wecom", settings).await
}

#[tokio::test]
async fn wecom_customer_service_end_to_end() {
    let app = app().await;
    let admin = app.login(ADMIN).await;
    let fake = Fake::start().await;
    let key = wecom_inbox(&app, &admin, &fake).await;
    let crypto = wecom_crypto();

    // The URL check: the decrypted echostr is answered.
    let echostr = crypto.encrypt("echo-8731462");
    let (timestamp, echo_nonce) = (now_secs().to_string(), nonce());
    let signature = crypto.signature(&timestamp, &echo_nonce, &echostr);
    let uri = format!(
        "/channels/wecom/{key}?{}",
        query(&[
            ("msg_signature", &signature),
            ("timestamp", &timestamp),
            ("nonce", &echo_nonce),
            ("echostr", &echostr)
        ])
    );
    let verified = get(&app, &uri).await;
    assert_eq!((verified.status, verified.text()), (StatusCode::OK, "echo-8731462".to_owned()));

    // A notice: the server fetches the message, stores it, and the bot answers via send_msg.
    fake.set_sync(vec![kf_text("msg-1", "wmCustomer01", "退货政策是什么")]);
    let (query1, body) =
        wecom_signed(&kf_notice("ENCsyncToken1"), &now_secs().to_string(), &nonce());
    let notified = post_xml(&app, &format!("/channels/wecom/{key}?{query1}"), &body).await;
    assert_eq!((notified.status, notified.text()), (StatusCode::OK, "success".to_owned()));
    let synced = fake.calls("/cgi-bin/kf/sync_msg");
    assert_eq!(synced.len(), 1);
    assert_eq!(synced[0].body["token"], "ENCsyncToken1");
    assert_eq!(synced[0].body["open_kfid"], KF_ID);
    assert_eq!(synced[0].query, "access_token=wecom-token");
    let gettoken = fake.calls("/cgi-bin/gettoken");
    assert!(gettoken[0].query.contains(&format!("corpid={CORP_ID}")), "{:?}", gettoken[0]);
    assert!(gettoken[0].query.contains("corpsecret=wecomKfSecret"), "{:?}", gettoken[0]);

    let messages = stored(&app, Channel::Wecom).await;
    assert_eq!(customers_messages(&messages), ["退货政策是什么"]);
    assert_eq!(
        identity(&app, &messages[0], IdentityKind::Wecom).await,
        ("wmCustomer01".to_owned(), true)
    );
    let conversation = app.store.conversation(messages[0].conversation_id).await.unwrap().unwrap();
    let inbox = app.store.inbox(conversation.inbox_id).await.unwrap().unwrap();
    assert_eq!(inbox.channel, Channel::Wecom);

    let answer = bot_reply_after(&app, Channel::Wecom, "退货政策是什么").await;
    assert!(answer.body.contains("7 天"), "{}", answer.body);
    let sent = fake.wait_for("/cgi-bin/kf/send_msg", 1).await;
    assert_eq!(sent[0].body["touser"], "wmCustomer01");
    assert_eq!(sent[0].body["open_kfid"], KF_ID);
    assert_eq!(sent[0].body["msgtype"], "text");
    assert!(
        sent[0].body["text"]["content"].as_str().unwrap().contains(answer.body.trim()),
        "{:?}",
        sent[0]
    );
    assert_eq!(sent[0].query, "access_token=wecom-token");

    // A second notice: the first message again (stored once) and a new one, answered too.
    fake.set_sync(vec![
        kf_text("msg-1", "wmCustomer01", "退货政策是什么"),
        kf_text("msg-2", "wmCustomer01", "什么时候发货"),
    ]);
    let (query2, body) =
        wecom_signed(&kf_notice("ENCsyncToken2"), &now_secs().to_string(), &nonce());
    let notified = post_xml(&app, &format!("/channels/wecom/{key}?{query2}"), &body).await;
    assert_eq!(notified.status, StatusCode::OK, "{}", notified.text());
    let messages = stored(&app, Channel::Wecom).await;
    assert_eq!(customers_messages(&messages), ["退货政策是什么", "什么时候发货"]);
    let answer = bot_reply_after(&app, Channel::Wecom, "什么时候发货").await;
    let sent = fake.wait_for("/cgi-bin/kf/send_msg", 2).await;
    assert!(
        sent[1].body["text"]["content"].as_str().unwrap().contains(answer.body.trim()),
        "{:?}",
        sent[1]
    );

    // An agent's reply leaves the same way.
    let conversation = messages[0].conversation_id.0;
    let uri = format!("/api/v1/conversations/{conversation}/messages");
    let reply = json!({ "body": "您好，我是客服小林，已为您登记退货" });
    let replied = call(&app, &admin, Method::POST, &uri, Some(reply)).await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text());
    let sent = fake.wait_for("/cgi-bin/kf/send_msg", 3).await;
    assert_eq!(sent[2].body["touser"], "wmCustomer01");
    assert_eq!(sent[2].body["text"]["content"], "您好，我是客服小林，已为您登记退货");

    // A third notice with nothing new stores nothing and sends nothing.
    let before = stored(&app, Channel::Wecom).await.len();
    let (query3, body) =
        wecom_signed(&kf_notice("ENCsyncToken3"), &now_secs().to_string(), &nonce());
    let notified = post_xml(&app, &format!("/channels/wecom/{key}?{query3}"), &body).await;
    assert_eq!(notified.status, StatusCode::OK, "{}", notified.text());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored(&app, Channel::Wecom).await.len(), before);
    assert_eq!(fake.calls("/cgi-bin/kf/send_msg").len(), 3);

    // The access token is cached, and the inbox's one client serves the syncs and the sends:
    // one gettoken in all.
    let gettoken = fake.calls("/cgi-bin/gettoken");
    let by_worker =
        gettoken.iter().filter(|call| call.user_agent.starts_with(WORKER_AGENT)).count();
    assert_eq!(by_worker, 1, "{gettoken:#?}");
    assert_eq!(gettoken.len(), 1, "{gettoken:#?}");
    assert_eq!(fake.calls("/cgi-bin/kf/sync_msg").len(), 3);
}

#[tokio::test]
async fn refused_wecom_callbacks_store_nothing() {
    let app = app().await;
    let admin = app.login(ADMIN).await;
    let fake = Fake::start().await;
    let key = wecom_inbox(&app, &admin, &fake).await;
    fake.set_sync(vec![kf_text("msg-r1", "wmCustomer02", "退货政策是什么")]);
    let crypto = wecom_crypto();
    let uri = |query: &str| format!("/channels/wecom/{key}?{query}");

    // A wrong msg_signature.
    let (timestamp, nonce1) = (now_secs().to_string(), nonce());
    let encrypted = crypto.encrypt(&kf_notice("ENCsync"));
    let wrong = wecom::Crypto::new("anotherToken", AES_KEY, CORP_ID)
        .unwrap()
        .signature(&timestamp, &nonce1, &encrypted);
    let bad = query(&[("msg_signature", &wrong), ("timestamp", &timestamp), ("nonce", &nonce1)]);
    let refused = post_xml(&app, &uri(&bad), &envelope(&encrypted)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    // No signature at all.
    let unsigned = query(&[("timestamp", &timestamp), ("nonce", &nonce1)]);
    let refused = post_xml(&app, &uri(&unsigned), &envelope(&encrypted)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );

    // A correctly signed notice is accepted once; the same timestamp and nonce again are not.
    let (timestamp, nonce2) = (now_secs().to_string(), nonce());
    let (signed, body) = wecom_signed(&kf_notice("ENCsync"), &timestamp, &nonce2);
    let accepted = post_xml(&app, &uri(&signed), &body).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
    bot_reply_after(&app, Channel::Wecom, "退货政策是什么").await;
    let count = stored(&app, Channel::Wecom).await.len();
    fake.set_sync(vec![kf_text("msg-r2", "wmCustomer02", "什么时候发货")]);
    let replayed = post_xml(&app, &uri(&signed), &body).await;
    assert_eq!(
        (replayed.status, replayed.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    // Replayed with a fresh envelope, signed again over the same timestamp and nonce.
    let (signed, body) = wecom_signed(&kf_notice("ENCsync"), &timestamp, &nonce2);
    let replayed = post_xml(&app, &uri(&signed), &body).await;
    assert_eq!(
        (replayed.status, replayed.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );

    // A stale timestamp (an hour old), and one from the future.
    for timestamp in [now_secs() - 3600, now_secs() + 3600] {
        let (stale, body) = wecom_signed(&kf_notice("ENCsync"), &timestamp.to_string(), &nonce());
        let refused = post_xml(&app, &uri(&stale), &body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
        );
    }

    // Signed and encrypted, but what is inside is not well-formed XML.
    let (signed, body) = wecom_signed(
        "<xml><MsgType>event</MsgType><Event>kf_msg",
        &now_secs().to_string(),
        &nonce(),
    );
    let malformed = post_xml(&app, &uri(&signed), &body).await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (StatusCode::BAD_REQUEST, "malformed_callback".to_owned())
    );
    // Well-formed, but not a notice's fields (no Token).
    let inner = format!(
        "<xml><MsgType>event</MsgType><Event>kf_msg_or_event</Event><OpenKfId>{KF_ID}</OpenKfId><CreateTime>1</CreateTime></xml>"
    );
    let (signed, body) = wecom_signed(&inner, &now_secs().to_string(), &nonce());
    let malformed = post_xml(&app, &uri(&signed), &body).await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (StatusCode::BAD_REQUEST, "malformed_callback".to_owned())
    );

    // An envelope that is not XML at all.
    let (timestamp, nonce3) = (now_secs().to_string(), nonce());
    let not_xml = "{\"encrypt\": \"abc\"}";
    let signature = crypto.signature(&timestamp, &nonce3, not_xml);
    let signed =
        query(&[("msg_signature", &signature), ("timestamp", &timestamp), ("nonce", &nonce3)]);
    let malformed = post_xml(&app, &uri(&signed), not_xml).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{}", malformed.text());
    assert_eq!(malformed.code(), "malformed_callback");

    // An unknown inbox key, and a key of an inbox on another channel.
    let (signed, body) = wecom_signed(&kf_notice("ENCsync"), &now_secs().to_string(), &nonce());
    let unknown = post_xml(&app, &format!("/channels/wecom/pk_unknown?{signed}"), &body).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "channel_not_configured".to_owned())
    );
    let unknown = post_xml(&app, &format!("/channels/wechat/{key}?{signed}"), &body).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "channel_not_configured".to_owned())
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        stored(&app, Channel::Wecom).await.len(),
        count,
        "a refused callback stored something"
    );
    assert_eq!(fake.calls("/cgi-bin/kf/sync_msg").len(), 1, "a refused callback fetched messages");
}

// ---------- WeChat Official Account ----------

const APP_ID: &str = "wxTandemApp0001";
const WECHAT_TOKEN: &str = "wechatServerToken";

fn wechat_text(openid: &str, msg_id: &str, text: &str) -> String {
    format!(
        "<xml>\n  <ToUserName><![CDATA[gh_tandem]]></ToUserName>\n  <FromUserName><![CDATA[{openid}]]></FromUserName>\n  <CreateTime>{}</CreateTime>\n  <MsgType><![CDATA[text]]></MsgType>\n  <Content><![CDATA[{text}]]></Content>\n  <MsgId>{msg_id}</MsgId>\n</xml>",
        now_secs()
    )
}

fn plain_signed(openid: &str) -> (String, String, String) {
    let (timestamp, nonce) = (now_secs().to_string(), nonce());
    let signature = wecom::plain_signature(WECHAT_TOKEN, &timestamp, &nonce);
    let query = query(&[
        ("signature", &signature),
        ("timestamp", &timestamp),
        ("nonce", &nonce),
        ("openid", openid),
    ]);
    (query, timestamp, nonce)
}

#[tokio::test]
async fn wechat_official_account_in_plain_and_safe_mode() {
    let app = app().await;
    let admin = app.login(ADMIN).await;
    let fake = Fake::start().await;
    let plain_settings = json!({
        "app_id": APP_ID, "app_secret": "wechatAppSecret", "token": WECHAT_TOKEN, "base_url": fake.url,
    });
    let plain = inbox(&app, &admin, "wechat", plain_settings).await;

    // The URL check echoes echostr as it came.
    let (signed, _, _) = plain_signed("");
    let verified = get(&app, &format!("/channels/wechat/{plain}?{signed}&echostr=5837261")).await;
    assert_eq!((verified.status, verified.text()), (StatusCode::OK, "5837261".to_owned()));
    let wrong =
        get(&app, &format!("/channels/wechat/{plain}?signature=00&timestamp=1&nonce=2&echostr=5"))
            .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );

    // A follower's text message in plain mode.
    let (signed, _, _) = plain_signed("oFollower01");
    let xml = wechat_text("oFollower01", "24500000000000001", "退货政策是什么");
    let received = post_xml(&app, &format!("/channels/wechat/{plain}?{signed}"), &xml).await;
    assert_eq!((received.status, received.text()), (StatusCode::OK, "success".to_owned()));
    let messages = stored(&app, Channel::Wechat).await;
    assert_eq!(customers_messages(&messages), ["退货政策是什么"]);
    assert_eq!(
        identity(&app, &messages[0], IdentityKind::Wechat).await,
        ("oFollower01".to_owned(), true)
    );
    let answer = bot_reply_after(&app, Channel::Wechat, "退货政策是什么").await;
    let sent = fake.wait_for("/cgi-bin/message/custom/send", 1).await;
    assert_eq!(sent[0].body["touser"], "oFollower01");
    assert_eq!(sent[0].body["msgtype"], "text");
    assert!(
        sent[0].body["text"]["content"].as_str().unwrap().contains(answer.body.trim()),
        "{:?}",
        sent[0]
    );
    assert_eq!(sent[0].query, "access_token=wechat-token");
    let token = fake.calls("/cgi-bin/token");
    assert_eq!(token.len(), 1);
    assert!(token[0].query.contains("grant_type=client_credential"), "{:?}", token[0]);
    assert!(token[0].query.contains(&format!("appid={APP_ID}")), "{:?}", token[0]);
    assert!(token[0].query.contains("secret=wechatAppSecret"), "{:?}", token[0]);

    // A plain-mode message with a wrong signature is refused.
    let count = stored(&app, Channel::Wechat).await.len();
    let (timestamp, nonce1) = (now_secs().to_string(), nonce());
    let forged = query(&[
        ("signature", "0123456789abcdef0123456789abcdef01234567"),
        ("timestamp", &timestamp),
        ("nonce", &nonce1),
    ]);
    let xml = wechat_text("oFollower01", "24500000000000009", "什么时候发货");
    let refused = post_xml(&app, &format!("/channels/wechat/{plain}?{forged}"), &xml).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    assert_eq!(stored(&app, Channel::Wechat).await.len(), count);

    // WeChat's retry of the first message (signed afresh) is acknowledged, stored once.
    let (signed, _, _) = plain_signed("oFollower01");
    let xml = wechat_text("oFollower01", "24500000000000001", "退货政策是什么");
    let retried = post_xml(&app, &format!("/channels/wechat/{plain}?{signed}"), &xml).await;
    assert_eq!((retried.status, retried.text()), (StatusCode::OK, "success".to_owned()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stored(&app, Channel::Wechat).await.len(), count);
    assert_eq!(fake.calls("/cgi-bin/message/custom/send").len(), 1);

    // Safe mode: the message encrypted, `msg_signature` over the ciphertext.
    let safe_settings = json!({
        "app_id": APP_ID, "app_secret": "wechatAppSecret", "token": WECHAT_TOKEN,
        "encoding_aes_key": AES_KEY, "base_url": fake.url,
    });
    let safe = inbox(&app, &admin, "wechat", safe_settings).await;
    let (signed, _, _) = plain_signed("");
    let verified = get(&app, &format!("/channels/wechat/{safe}?{signed}&echostr=99887766")).await;
    assert_eq!((verified.status, verified.text()), (StatusCode::OK, "99887766".to_owned()));

    let crypto = wecom::Crypto::new(WECHAT_TOKEN, AES_KEY, APP_ID).unwrap();
    let (timestamp, nonce2) = (now_secs().to_string(), nonce());
    let encrypted =
        crypto.encrypt(&wechat_text("oFollower02", "24500000000000002", "什么时候发货"));
    let msg_signature = crypto.signature(&timestamp, &nonce2, &encrypted);
    let signature = wecom::plain_signature(WECHAT_TOKEN, &timestamp, &nonce2);
    let signed = query(&[
        ("signature", signature.as_str()),
        ("timestamp", &timestamp),
        ("nonce", &nonce2),
        ("openid", "oFollower02"),
        ("encrypt_type", "aes"),
        ("msg_signature", &msg_signature),
    ]);
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_tandem]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    );
    let received = post_xml(&app, &format!("/channels/wechat/{safe}?{signed}"), &body).await;
    assert_eq!((received.status, received.text()), (StatusCode::OK, "success".to_owned()));
    let answer = bot_reply_after(&app, Channel::Wechat, "什么时候发货").await;
    let messages = stored(&app, Channel::Wechat).await;
    let asked = messages.iter().find(|message| message.body == "什么时候发货").unwrap();
    assert_eq!(identity(&app, asked, IdentityKind::Wechat).await, ("oFollower02".to_owned(), true));
    let sent = fake.wait_for("/cgi-bin/message/custom/send", 2).await;
    let to_second = sent
        .iter()
        .find(|call| call.body["touser"] == "oFollower02")
        .expect("a reply to oFollower02");
    assert!(
        to_second.body["text"]["content"].as_str().unwrap().contains(answer.body.trim()),
        "{to_second:?}"
    );

    // Safe mode with the plain signature right but the msg_signature wrong.
    let count = stored(&app, Channel::Wechat).await.len();
    let (timestamp, nonce3) = (now_secs().to_string(), nonce());
    let encrypted =
        crypto.encrypt(&wechat_text("oFollower02", "24500000000000003", "客服几点上班"));
    let signature = wecom::plain_signature(WECHAT_TOKEN, &timestamp, &nonce3);
    let signed = query(&[
        ("signature", signature.as_str()),
        ("timestamp", &timestamp),
        ("nonce", &nonce3),
        ("encrypt_type", "aes"),
        ("msg_signature", &signature),
    ]);
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_tandem]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    );
    let refused = post_xml(&app, &format!("/channels/wechat/{safe}?{signed}"), &body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    assert_eq!(stored(&app, Channel::Wechat).await.len(), count);
}

// ---------- Feishu ----------

const FEISHU_TOKEN: &str = "feishuVerificationToken";
const FEISHU_KEY: &str = "feishuEncryptKey-7Hq2";

/// Feishu's encryption of `plain`: base64 of a random IV and AES-256-CBC (key SHA-256 of the
/// encrypt key, PKCS#7 padding). This test crate has no AES of its own, so it borrows WeCom's
/// AES-256-CBC: with the same 32-byte key its ciphertext blocks from the second on are a
/// valid Feishu message whose IV is the ciphertext's second block, when the plaintext from the
/// third block on is the JSON followed by WeCom's padding, 1 to 16 bytes of its length (which
/// is PKCS#7 for 16-byte blocks).
fn feishu_encrypt(plain: &str) -> String {
    let key = BASE64.encode(Sha256::digest(FEISHU_KEY.as_bytes()));
    let crypto = wecom::Crypto::new("", key.trim_end_matches('='), "").unwrap();
    // WeCom's plaintext: 16 random bytes, a 4-byte length, the message, the (empty) receive
    // id, then padding to a multiple of 32. Twelve filler bytes complete the second block;
    // trailing spaces (JSON whitespace) keep the padding within 1..=16 bytes.
    let mut json = plain.to_owned();
    while !(16..32).contains(&(json.len() % 32)) {
        json.push(' ');
    }
    let raw = BASE64.decode(crypto.encrypt(&format!("{}{json}", "x".repeat(12)))).unwrap();
    BASE64.encode(&raw[16..])
}

/// Feishu's signature headers for `body`.
fn feishu_headers(body: &str) -> Vec<(String, String)> {
    let (timestamp, nonce) = (now_secs().to_string(), nonce());
    let signature = sha256_hex(format!("{timestamp}{nonce}{FEISHU_KEY}{body}").as_bytes());
    vec![
        ("x-lark-request-timestamp".to_owned(), timestamp),
        ("x-lark-request-nonce".to_owned(), nonce),
        ("x-lark-signature".to_owned(), signature),
    ]
}

async fn post_feishu(
    app: &TestApp,
    key: &str,
    headers: &[(String, String)],
    body: &str,
) -> Response {
    let headers: Vec<(&str, &str)> =
        headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    post_json(app, &format!("/channels/feishu/{key}"), &headers, body).await
}

fn feishu_message(token: &str, message_id: &str, open_id: &str, text: &str) -> String {
    json!({
        "schema": "2.0",
        "header": {
            "event_id": format!("ev-{message_id}"),
            "token": token,
            "create_time": now_millis().to_string(),
            "event_type": "im.message.receive_v1",
            "tenant_key": "tenant-1",
            "app_id": "cli_tandem",
        },
        "event": {
            "sender": {
                "sender_id": { "open_id": open_id, "union_id": "on_union1", "user_id": "u1" },
                "sender_type": "user",
                "tenant_key": "tenant-1",
            },
            "message": {
                "message_id": message_id,
                "chat_id": "oc_chat1",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json!({ "text": text }).to_string(),
                "create_time": now_millis().to_string(),
            },
        },
    })
    .to_string()
}

#[tokio::test]
async fn feishu_bot_end_to_end() {
    let app = app().await;
    let admin = app.login(ADMIN).await;
    let fake = Fake::start().await;
    let settings = json!({
        "app_id": "cli_tandem", "app_secret": "feishuSecret", "verification_token": FEISHU_TOKEN, "base_url": fake.url,
    });
    let plain = inbox(&app, &admin, "feishu", settings).await;
    let settings = json!({
        "app_id": "cli_tandem", "app_secret": "feishuSecret", "verification_token": FEISHU_TOKEN,
        "encrypt_key": FEISHU_KEY, "base_url": fake.url,
    });
    let encrypted = inbox(&app, &admin, "feishu", settings).await;

    // The URL check, plain and encrypted.
    let challenge =
        json!({ "challenge": "ch-plain-1", "token": FEISHU_TOKEN, "type": "url_verification" })
            .to_string();
    let answered = post_feishu(&app, &plain, &[], &challenge).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
    assert_eq!(answered.json(), json!({ "challenge": "ch-plain-1" }));
    let challenge =
        json!({ "challenge": "ch-secret-2", "token": FEISHU_TOKEN, "type": "url_verification" })
            .to_string();
    let body = json!({ "encrypt": feishu_encrypt(&challenge) }).to_string();
    let answered = post_feishu(&app, &encrypted, &[], &body).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
    assert_eq!(answered.json(), json!({ "challenge": "ch-secret-2" }));
    let wrong = json!({ "challenge": "ch-3", "token": "notTheToken", "type": "url_verification" })
        .to_string();
    let refused = post_feishu(&app, &plain, &[], &wrong).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );

    // An encrypted, signed message: stored, answered through the reply API.
    let event = feishu_message(FEISHU_TOKEN, "om_msg1", "ou_customer1", "退货政策是什么");
    let body = json!({ "encrypt": feishu_encrypt(&event) }).to_string();
    let received = post_feishu(&app, &encrypted, &feishu_headers(&body), &body).await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    let messages = stored(&app, Channel::Feishu).await;
    assert_eq!(customers_messages(&messages), ["退货政策是什么"]);
    assert_eq!(
        identity(&app, &messages[0], IdentityKind::Feishu).await,
        ("ou_customer1".to_owned(), true)
    );
    let answer = bot_reply_after(&app, Channel::Feishu, "退货政策是什么").await;
    let sent = fake.wait_for("/open-apis/im/v1/messages/om_msg1/reply", 1).await;
    assert_eq!(sent[0].method, Method::POST);
    assert_eq!(sent[0].body["msg_type"], "text");
    let content: Value = serde_json::from_str(sent[0].body["content"].as_str().unwrap()).unwrap();
    assert!(content["text"].as_str().unwrap().contains(answer.body.trim()), "{content}");
    let authorization = sent[0].headers.get("authorization").unwrap().to_str().unwrap();
    assert_eq!(authorization, "Bearer t-feishu");
    let token = fake.calls("/open-apis/auth/v3/tenant_access_token/internal");
    assert_eq!(token.len(), 1);
    assert_eq!(token[0].body, json!({ "app_id": "cli_tandem", "app_secret": "feishuSecret" }));

    // The same message again (Feishu retries) is stored once.
    let received = post_feishu(&app, &encrypted, &feishu_headers(&body), &body).await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    let count = stored(&app, Channel::Feishu).await.len();
    assert_eq!(customers_messages(&stored(&app, Channel::Feishu).await).len(), 1);

    // A wrong verification token inside a correctly signed, encrypted body.
    let event = feishu_message("notTheToken", "om_msg2", "ou_customer1", "什么时候发货");
    let body = json!({ "encrypt": feishu_encrypt(&event) }).to_string();
    let refused = post_feishu(&app, &encrypted, &feishu_headers(&body), &body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    // A wrong token in a plain one.
    let event = feishu_message("notTheToken", "om_msg3", "ou_customer1", "什么时候发货");
    let refused = post_feishu(&app, &plain, &[], &event).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );

    // A bad X-Lark-Signature, and none at all.
    let event = feishu_message(FEISHU_TOKEN, "om_msg4", "ou_customer1", "什么时候发货");
    let body = json!({ "encrypt": feishu_encrypt(&event) }).to_string();
    let mut headers = feishu_headers(&body);
    headers[2].1 = sha256_hex(b"forged");
    let refused = post_feishu(&app, &encrypted, &headers, &body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    let refused = post_feishu(&app, &encrypted, &[], &body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    // Signed with the right key but an hour ago.
    let timestamp = (now_secs() - 3600).to_string();
    let signature = sha256_hex(format!("{timestamp}n1{FEISHU_KEY}{body}").as_bytes());
    let stale = [
        ("x-lark-request-timestamp".to_owned(), timestamp),
        ("x-lark-request-nonce".to_owned(), "n1".to_owned()),
        ("x-lark-signature".to_owned(), signature),
    ];
    let refused = post_feishu(&app, &encrypted, &stale, &body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        stored(&app, Channel::Feishu).await.len(),
        count,
        "a refused callback stored something"
    );

    // In a group the bot is @-mentioned: the mention is not part of the question, and the
    // answer replies to that message.
    let mut event: Value =
        serde_json::from_str(&feishu_message(FEISHU_TOKEN, "om_group1", "ou_customer2", ""))
            .unwrap();
    event["event"]["message"]["chat_type"] = json!("group");
    event["event"]["message"]["content"] =
        json!(json!({ "text": "@_user_1 什么时候发货" }).to_string());
    event["event"]["message"]["mentions"] =
        json!([{ "key": "@_user_1", "id": { "open_id": "ou_bot" }, "name": "小河" }]);
    let body = json!({ "encrypt": feishu_encrypt(&event.to_string()) }).to_string();
    let received = post_feishu(&app, &encrypted, &feishu_headers(&body), &body).await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    let answer = bot_reply_after(&app, Channel::Feishu, "什么时候发货").await;
    let sent = fake.wait_for("/open-apis/im/v1/messages/om_group1/reply", 1).await;
    let content: Value = serde_json::from_str(sent[0].body["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["text"].as_str().unwrap(), answer.body.trim());
    assert_eq!(
        fake.calls("/open-apis/auth/v3/tenant_access_token/internal").len(),
        1,
        "the token is cached"
    );
}

// ---------- DingTalk ----------

const DINGTALK_SECRET: &str = "dingtalkAppSecret-Zq8";

fn dingtalk_sign(timestamp: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

fn dingtalk_message(fake: &Fake, msg_id: &str, text: &str, expires: i64) -> String {
    json!({
        "conversationId": "cidTandem01",
        "chatbotCorpId": "dingCorp01",
        "chatbotUserId": "$:LWCP_v1:$robot",
        "msgId": msg_id,
        "senderNick": "张伟",
        "isAdmin": false,
        "senderStaffId": "staff0001",
        "sessionWebhookExpiredTime": expires,
        "createAt": now_millis(),
        "senderCorpId": "dingCorp01",
        "conversationType": "1",
        "senderId": "$:LWCP_v1:$sender01",
        "sessionWebhook": format!("{}/robot/session?session=s1", fake.url),
        "text": { "content": format!(" {text} ") },
        "robotCode": "dingRobot01",
        "msgtype": "text",
    })
    .to_string()
}

async fn post_dingtalk(
    app: &TestApp,
    key: &str,
    sign: &str,
    timestamp: &str,
    body: &str,
) -> Response {
    let headers = [("timestamp", timestamp), ("sign", sign)];
    post_json(app, &format!("/channels/dingtalk/{key}"), &headers, body).await
}

#[tokio::test]
async fn dingtalk_robot_end_to_end() {
    let app = app().await;
    let admin = app.login(ADMIN).await;
    let fake = Fake::start().await;
    let settings = json!({
        "app_key": "dingAppKey01", "app_secret": DINGTALK_SECRET, "robot_code": "dingRobot01", "base_url": fake.url,
    });
    let key = inbox(&app, &admin, "dingtalk", settings).await;

    // A signed message: stored, answered through its session webhook.
    let body = dingtalk_message(&fake, "msgDing01", "退货政策是什么", now_millis() + 90 * 60_000);
    let timestamp = now_millis().to_string();
    let received =
        post_dingtalk(&app, &key, &dingtalk_sign(&timestamp, DINGTALK_SECRET), &timestamp, &body)
            .await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    let messages = stored(&app, Channel::Dingtalk).await;
    assert_eq!(customers_messages(&messages), ["退货政策是什么"]);
    assert_eq!(
        identity(&app, &messages[0], IdentityKind::Dingtalk).await,
        ("staff0001".to_owned(), true)
    );
    let answer = bot_reply_after(&app, Channel::Dingtalk, "退货政策是什么").await;
    let sent = fake.wait_for("/robot/session", 1).await;
    assert_eq!(sent[0].query, "session=s1");
    assert_eq!(sent[0].body["msgtype"], "text");
    assert!(
        sent[0].body["text"]["content"].as_str().unwrap().contains(answer.body.trim()),
        "{:?}",
        sent[0]
    );

    // DingTalk's retry of the same message is stored once.
    let count = stored(&app, Channel::Dingtalk).await.len();
    let body = dingtalk_message(&fake, "msgDing01", "退货政策是什么", now_millis() + 90 * 60_000);
    let timestamp = now_millis().to_string();
    let sign = dingtalk_sign(&timestamp, DINGTALK_SECRET);
    let retried = post_dingtalk(&app, &key, &sign, &timestamp, &body).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());

    // A wrong sign, a sign made with another secret, and a stale timestamp store nothing.
    let body = dingtalk_message(&fake, "msgDing02", "什么时候发货", now_millis() + 90 * 60_000);
    let timestamp = now_millis().to_string();
    for sign in
        [BASE64.encode([7u8; 32]), dingtalk_sign(&timestamp, "anotherSecret"), String::new()]
    {
        let refused = post_dingtalk(&app, &key, &sign, &timestamp, &body).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
        );
    }
    let old = (now_millis() - 2 * 3_600_000).to_string();
    let refused =
        post_dingtalk(&app, &key, &dingtalk_sign(&old, DINGTALK_SECRET), &old, &body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNAUTHORIZED, "bad_signature".to_owned())
    );
    // Signed, but not a robot message.
    let refused = post_dingtalk(
        &app,
        &key,
        &dingtalk_sign(&timestamp, DINGTALK_SECRET),
        &timestamp,
        "{\"msgtype\":",
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "malformed_callback".to_owned())
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stored(&app, Channel::Dingtalk).await.len(), count);

    // The session webhook has expired: the answer goes one-to-one through the robot API.
    let body = dingtalk_message(&fake, "msgDing03", "什么时候发货", now_millis() - 1000);
    let timestamp = now_millis().to_string();
    let received =
        post_dingtalk(&app, &key, &dingtalk_sign(&timestamp, DINGTALK_SECRET), &timestamp, &body)
            .await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    let answer = bot_reply_after(&app, Channel::Dingtalk, "什么时候发货").await;
    let sent = fake.wait_for("/v1.0/robot/oToMessages/batchSend", 1).await;
    assert_eq!(sent[0].body["robotCode"], "dingRobot01");
    assert_eq!(sent[0].body["userIds"], json!(["staff0001"]));
    assert_eq!(sent[0].body["msgKey"], "sampleText");
    let param: Value = serde_json::from_str(sent[0].body["msgParam"].as_str().unwrap()).unwrap();
    assert!(param["content"].as_str().unwrap().contains(answer.body.trim()), "{param}");
    let access = sent[0].headers.get("x-acs-dingtalk-access-token").unwrap().to_str().unwrap();
    assert_eq!(access, "at-dingtalk");
    let token = fake.calls("/v1.0/oauth2/accessToken");
    assert_eq!(token.len(), 1);
    assert_eq!(token[0].body, json!({ "appKey": "dingAppKey01", "appSecret": DINGTALK_SECRET }));
    assert_eq!(fake.calls("/robot/session").len(), 1, "the expired session webhook was not used");
}

// ---------- Numbered answers ----------

#[tokio::test]
async fn a_numbered_answer_is_stored_as_the_choice_it_names() {
    let app = app().await;
    let admin = app.login(ADMIN).await;
    let fake = Fake::start().await;
    let settings = json!({
        "app_id": APP_ID, "app_secret": "wechatAppSecret", "token": WECHAT_TOKEN, "base_url": fake.url,
    });
    let key = inbox(&app, &admin, "wechat", settings).await;

    // A question between two articles: the bot asks which, with numbered choices.
    let (signed, _, _) = plain_signed("oChooser01");
    let xml = wechat_text("oChooser01", "24500000000000101", "退货要多久发货");
    let received = post_xml(&app, &format!("/channels/wechat/{key}?{signed}"), &xml).await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    let clarify = bot_reply_after(&app, Channel::Wechat, "退货要多久发货").await;
    let choices = clarify.meta.as_ref().map(|meta| meta.quick_replies.clone()).unwrap_or_default();
    assert_eq!(choices, ["退货政策", "发货时间"], "the bot did not offer choices: {clarify:?}");
    let sent = fake.wait_for("/cgi-bin/message/custom/send", 1).await;
    let text = sent[0].body["text"]["content"].as_str().unwrap().to_owned();
    assert!(text.contains(clarify.body.trim()), "{text}");
    assert!(text.ends_with("\n\n1. 退货政策\n2. 发货时间"), "{text:?}");

    // "1" is the first choice: stored as its text, and answered as that question.
    let (signed, _, _) = plain_signed("oChooser01");
    let xml = wechat_text("oChooser01", "24500000000000102", "1");
    let received = post_xml(&app, &format!("/channels/wechat/{key}?{signed}"), &xml).await;
    assert_eq!(received.status, StatusCode::OK, "{}", received.text());
    let messages = stored(&app, Channel::Wechat).await;
    assert_eq!(customers_messages(&messages), ["退货要多久发货", "退货政策"]);
    let answer = bot_reply_after(&app, Channel::Wechat, "退货政策").await;
    assert!(answer.body.contains("7 天"), "{}", answer.body);
    let sent = fake.wait_for("/cgi-bin/message/custom/send", 2).await;
    assert!(
        sent[1].body["text"]["content"].as_str().unwrap().contains(answer.body.trim()),
        "{:?}",
        sent[1]
    );
    assert_eq!(sent[1].body["touser"], "oChooser01");
}

#[tokio::test]
async fn wecom_sync_follows_pages_and_resumes_from_its_cursor() {
    const PAGED_KF: &str = "wkPagedKf02";
    let app = app().await;
    let admin = app.login(ADMIN).await;
    let fake = Fake::start().await;
    let settings = json!({
        "corp_id": CORP_ID,
        "secret": "wecomKfSecret",
        "token": WECOM_TOKEN,
        "encoding_aes_key": AES_KEY,
        "open_kfid": PAGED_KF,
        "base_url": fake.url,
    });
    let key = inbox(&app, &admin, "wecom", settings).await;
    let text = |msgid: &str, user: &str, content: &str| {
        let mut message = kf_text(msgid, user, content);
        message["open_kfid"] = json!(PAGED_KF);
        message
    };
    let event = json!({
        "msgid": "ev-1", "open_kfid": PAGED_KF, "send_time": now_secs(), "origin": 4, "msgtype": "event",
        "event": { "event_type": "enter_session", "external_userid": "wmPaged01" },
    });
    let servicer = json!({
        "msgid": "sv-1", "open_kfid": PAGED_KF, "external_userid": "wmPaged01", "send_time": now_secs(),
        "origin": 5, "msgtype": "text", "text": { "content": "客服已接入" },
    });
    *fake.state.pages.lock().unwrap() = vec![
        vec![event, text("p-1", "wmPaged01", "退货政策是什么")],
        vec![servicer, text("p-2", "wmPaged02", "什么时候发货")],
        vec![text("p-3", "wmPaged01", "客服几点上班")],
    ];
    let notice = |token: &str| {
        format!(
            "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{PAGED_KF}]]></OpenKfId></xml>",
            now_secs()
        )
    };
    let (signed, body) = wecom_signed(&notice("ENCpaged1"), &now_secs().to_string(), &nonce());
    let notified = post_xml(&app, &format!("/channels/wecom/{key}?{signed}"), &body).await;
    assert_eq!(notified.status, StatusCode::OK, "{}", notified.text());
    let synced = fake.calls("/cgi-bin/kf/sync_msg");
    let cursors: Vec<&Value> = synced.iter().map(|call| &call.body["cursor"]).collect();
    assert_eq!(cursors, [&Value::Null, &json!("page-1"), &json!("page-2")]);
    // Only the customers' own messages are stored: not events, not a servicer's words.
    let mut asked = customers_messages(&stored(&app, Channel::Wecom).await);
    asked.sort();
    let mut expected = ["退货政策是什么", "什么时候发货", "客服几点上班"];
    expected.sort();
    assert_eq!(asked, expected);
    for user in ["wmPaged01", "wmPaged02"] {
        fake.wait_for("/cgi-bin/kf/send_msg", 1).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fake.calls("/cgi-bin/kf/send_msg").iter().any(|call| call.body["touser"] == user) {
            assert!(Instant::now() < deadline, "no answer to {user}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // The next notice resumes where the last page ended.
    let (signed, body) = wecom_signed(&notice("ENCpaged2"), &now_secs().to_string(), &nonce());
    let notified = post_xml(&app, &format!("/channels/wecom/{key}?{signed}"), &body).await;
    assert_eq!(notified.status, StatusCode::OK, "{}", notified.text());
    let synced = fake.calls("/cgi-bin/kf/sync_msg");
    assert_eq!(synced.len(), 4);
    assert_eq!(synced[3].body["cursor"], "page-3");
    assert_eq!(synced[3].body["token"], "ENCpaged2");
    assert_eq!(customers_messages(&stored(&app, Channel::Wecom).await).len(), 3);
}
