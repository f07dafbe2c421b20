//! Outbound webhooks end to end: a receiver on a loopback port gets signed events from the real
//! worker; retries, disabled endpoints, internal notes, validation and permissions.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tandem_server::ServerConfig;
use tandem_server::webhooks::WebhookConfig;

use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, Session, TestApp, build};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) event: String,
    pub(crate) delivery: String,
    pub(crate) signature: String,
    pub(crate) raw: Vec<u8>,
    pub(crate) body: Value,
}

struct ReceiverState {
    /// The statuses to answer, in order; 200 once they are used up.
    statuses: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

/// A business's HTTP endpoint, served on a loopback port inside the test.
pub(crate) struct Receiver {
    pub(crate) url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
    };
    assert_eq!(header("content-type"), "application/json");
    let received = Received {
        event: header("x-tandem-event"),
        delivery: header("x-tandem-delivery"),
        signature: header("x-tandem-signature"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
    };
    let status = state.statuses.lock().unwrap().pop_front().unwrap_or(200);
    state.received.lock().unwrap().push(received);
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    pub(crate) async fn start(statuses: &[u16]) -> Receiver {
        let state = Arc::new(ReceiverState {
            statuses: Mutex::new(statuses.iter().copied().collect()),
            received: Mutex::new(Vec::new()),
        });
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, state }
    }

    pub(crate) fn all(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for a request that `matches`.
    async fn wait_for(&self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = self.all().into_iter().find(|received| matches(received)) {
                return found;
            }
            assert!(Instant::now() < deadline, "no {what} arrived; got {:#?}", self.all());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Checks `X-Tandem-Signature: t=..,v1=..` the way a receiver would.
pub(crate) fn signature_is_valid(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else { return false };
    let now = tandem_store::now_millis() / 1000;
    if (now - timestamp).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let expected: String =
        mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
    signatures.contains(&expected)
}

/// Calls the JSON API as a signed-in user.
pub(crate) async fn call(
    app: &TestApp,
    session: &Session,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> tandem_server::testing::Response {
    let mut headers =
        vec![("cookie", session.cookie.as_str()), ("x-csrf-token", session.csrf.as_str())];
    let body = match body {
        Some(body) => {
            headers.push(("content-type", "application/json"));
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    app.send(build(method, uri, &headers, body)).await
}

/// Registers an endpoint; returns its id and secret.
async fn register(app: &TestApp, admin: &Session, url: &str, events: &[&str]) -> (i64, String) {
    let created = call(
        app,
        admin,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({ "url": url, "events": events, "description": "CRM" })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let body = created.json();
    (body["id"].as_i64().unwrap(), body["secret"].as_str().unwrap().to_owned())
}

/// The endpoint's deliveries once none is pending any more.
async fn settled_deliveries(app: &TestApp, admin: &Session, endpoint: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let uri = format!("/api/v1/webhooks/{endpoint}/deliveries");
        let response = call(app, admin, Method::GET, &uri, None).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let deliveries = response.json()["deliveries"].as_array().unwrap().clone();
        if !deliveries.is_empty()
            && deliveries.iter().all(|delivery| delivery["status"] != "pending")
        {
            return deliveries;
        }
        assert!(Instant::now() < deadline, "deliveries still pending: {deliveries:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_hand_off_is_pushed_with_its_packet_and_a_valid_signature() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let receiver = Receiver::start(&[]).await;
    let (endpoint, secret) =
        register(&app, &admin, &receiver.url, &["conversation.handed_off"]).await;
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");

    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "complain-1", "我要投诉，转人工").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();

    let received =
        receiver.wait_for("hand-off", |received| received.event == "conversation.handed_off").await;
    assert!(
        signature_is_valid(&secret, &received.signature, &received.raw),
        "{} does not verify",
        received.signature
    );
    assert!(!signature_is_valid("whsec_wrong", &received.signature, &received.raw));
    let body = &received.body;
    assert_eq!(body["type"], "conversation.handed_off");
    assert!(body["id"].is_i64() && body["created_at"].is_i64() && body["workspace_id"].is_i64());
    let data = &body["data"];
    assert_eq!(data["conversation"]["id"], conversation);
    assert_eq!(data["conversation"]["state"], "queued");
    let packet = &data["packet"];
    assert_eq!(packet["conversation_id"], conversation);
    let reasons = packet["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|reason| reason == "asks_for_human"), "{packet:#}");
    assert!(reasons.iter().any(|reason| reason == "complaint"), "{packet:#}");
    assert_eq!((&packet["outcome"], &packet["language"]), (&json!("hand_off"), &json!("zh")));
    assert_eq!(packet["emotions"][0]["seq"], 1, "what the customer felt, turn by turn");
    assert_eq!(received.delivery.parse::<i64>().ok().map(|_| ()), Some(()));

    let deliveries = settled_deliveries(&app, &admin, endpoint).await;
    assert_eq!(deliveries.len(), 1, "only the subscribed event: {deliveries:#?}");
    let delivery = &deliveries[0];
    assert_eq!(delivery["id"].to_string(), received.delivery);
    assert_eq!(
        (&delivery["status"], &delivery["attempts"], &delivery["response_status"]),
        (&json!("delivered"), &json!(1), &json!(200))
    );
    assert_eq!(delivery["event_type"], "conversation.handed_off");
    assert!(delivery["error"].is_null());
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_the_receiver_accepts_it() {
    let webhooks = WebhookConfig { retry_secs: vec![0.2, 0.2], ..WebhookConfig::default() };
    let app = TestApp::with_config(ServerConfig { webhooks, ..ServerConfig::default() }).await;
    let admin = app.login(ADMIN).await;
    let receiver = Receiver::start(&[500]).await;
    let (endpoint, secret) = register(&app, &admin, &receiver.url, &["message.created"]).await;

    let token = app.widget_token().await;
    app.widget_send(&token, "hello-1", "你好，请问营业时间？").await;
    let first = receiver.wait_for("first attempt", |_| true).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.all().iter().filter(|received| received.delivery == first.delivery).count() < 2 {
        assert!(
            Instant::now() < deadline,
            "no retry of the failed delivery: {:#?}",
            receiver.all()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attempts: Vec<Received> =
        receiver.all().into_iter().filter(|received| received.delivery == first.delivery).collect();
    assert_eq!(attempts.len(), 2, "one failure, one success: {attempts:#?}");
    assert_eq!(attempts[0].body, attempts[1].body, "a retry sends the same event");
    assert!(signature_is_valid(&secret, &attempts[1].signature, &attempts[1].raw));

    let deliveries = settled_deliveries(&app, &admin, endpoint).await;
    let delivery = deliveries
        .iter()
        .find(|delivery| delivery["id"].as_i64() == first.delivery.parse().ok())
        .unwrap();
    assert_eq!(
        (&delivery["status"], &delivery["attempts"], &delivery["response_status"]),
        (&json!("delivered"), &json!(2), &json!(200))
    );
    assert!(delivery["next_attempt_at"].is_null() && delivery["error"].is_null());
}

#[tokio::test]
async fn internal_notes_are_never_sent() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let receiver = Receiver::start(&[]).await;
    let (endpoint, _) = register(&app, &admin, &receiver.url, &["message.created"]).await;
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "order-1", "我的订单 20240501 到哪了？").await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let uri = format!("/api/v1/conversations/{conversation}/messages");
    let note = json!({ "body": "内部：这位客户上次投诉过", "note": true });
    let posted = call(&app, &admin, Method::POST, &uri, Some(note)).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.text());
    let reply = json!({ "body": "您好，我帮您查一下" });
    assert_eq!(
        call(&app, &admin, Method::POST, &uri, Some(reply)).await.status,
        StatusCode::CREATED
    );

    receiver
        .wait_for("the agent's reply", |received| {
            received.body["data"]["message"]["author_kind"] == "agent"
        })
        .await;
    receiver
        .wait_for("the customer's message", |received| {
            received.body["data"]["message"]["author_kind"] == "customer"
        })
        .await;
    let deliveries = settled_deliveries(&app, &admin, endpoint).await;
    let received = receiver.all();
    assert_eq!(received.len(), deliveries.len(), "every delivery arrived once");
    for received in &received {
        let text = String::from_utf8_lossy(&received.raw);
        assert!(!text.contains("这位客户上次投诉过"), "a note was sent: {text}");
        assert_ne!(received.body["data"]["message"]["author_kind"], "note");
        assert_ne!(received.body["data"]["message"]["author_kind"], "system");
    }
}

#[tokio::test]
async fn a_disabled_endpoint_gets_nothing() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let listening = Receiver::start(&[]).await;
    let switched_off = Receiver::start(&[]).await;
    register(&app, &admin, &listening.url, &["message.created"]).await;
    let (disabled, _) = register(&app, &admin, &switched_off.url, &["message.created"]).await;
    let uri = format!("/api/v1/webhooks/{disabled}");
    let patched = call(&app, &admin, Method::PATCH, &uri, Some(json!({ "active": false }))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    assert_eq!(patched.json()["active"], false);
    assert!(patched.json().get("secret").is_none(), "the secret is not shown again");

    // The worker sends only what the outbox holds, so an endpoint without deliveries there
    // gets nothing, now or later.
    let outbox = format!("{uri}/deliveries");
    let token = app.widget_token().await;
    app.widget_send(&token, "hi-1", "在吗").await;
    listening.wait_for("the message", |received| received.event == "message.created").await;
    // The message's deliveries were written with it: the disabled endpoint had none to make.
    let deliveries = call(&app, &admin, Method::GET, &outbox, None).await;
    assert_eq!(deliveries.json()["deliveries"], json!([]));
    assert!(switched_off.all().is_empty());
    let test = call(&app, &admin, Method::POST, &format!("{uri}/test"), None).await;
    assert_eq!(
        (test.status, test.code().as_str()),
        (StatusCode::CONFLICT, "webhook_endpoint_disabled")
    );
    let deliveries = call(&app, &admin, Method::GET, &outbox, None).await;
    assert_eq!(deliveries.json()["deliveries"], json!([]), "a refused test queues nothing");
    assert!(switched_off.all().is_empty());
}

#[tokio::test]
async fn webhook_input_is_validated_with_stable_codes() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let create = |body: Value| call(&app, &admin, Method::POST, "/api/v1/webhooks", Some(body));
    let cases = [
        (json!({ "url": "ftp://crm.example.com", "events": ["message.created"] }), "url"),
        (json!({ "url": "crm.example.com/hook", "events": ["message.created"] }), "url"),
        (json!({ "url": "https://user:pw@crm.example.com", "events": ["message.created"] }), "url"),
        (json!({ "url": "https://crm.example.com", "events": [] }), "events"),
        (json!({ "url": "https://crm.example.com", "events": ["message.deleted"] }), "events"),
        (
            json!({ "url": "https://crm.example.com", "events": ["message.created"], "description": "x".repeat(201) }),
            "description",
        ),
        (
            json!({ "url": "https://crm.example.com", "events": ["message.created"], "secret": "mine" }),
            "body",
        ),
        (json!({ "events": ["message.created"] }), "body"),
    ];
    for (body, field) in cases {
        let response = create(body.clone()).await;
        assert_eq!(
            (response.status, response.code().as_str(), response.json()["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", Some(field)),
            "{body}: {}",
            response.text()
        );
    }
    let listed = call(&app, &admin, Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(listed.json()["webhooks"], json!([]), "nothing was saved");

    let (id, secret) =
        register(&app, &admin, " HTTPS://CRM.Example.com/hooks ", &["message.created"]).await;
    let shown =
        call(&app, &admin, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await.json();
    assert_eq!(shown["url"], "https://crm.example.com/hooks");
    assert_eq!(shown["events"], json!(["message.created"]));
    let listed = call(&app, &admin, Method::GET, "/api/v1/webhooks", None).await;
    assert!(!listed.text().contains(&secret) && !listed.text().contains("secret"));
    let uri = format!("/api/v1/webhooks/{id}");
    let bad = call(&app, &admin, Method::PATCH, &uri, Some(json!({ "url": "http://" }))).await;
    assert_eq!(
        (bad.status, bad.json()["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("url"))
    );
    let rolled =
        call(&app, &admin, Method::PATCH, &uri, Some(json!({ "rotate_secret": true }))).await;
    let new_secret = rolled.json()["secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    let deleted = call(&app, &admin, Method::DELETE, &uri, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for (method, path) in [
        (Method::GET, uri.clone()),
        (Method::DELETE, uri.clone()),
        (Method::GET, format!("{uri}/deliveries")),
        (Method::POST, format!("{uri}/test")),
    ] {
        let missing = call(&app, &admin, method, &path, None).await;
        assert_eq!(
            (missing.status, missing.code().as_str()),
            (StatusCode::NOT_FOUND, "webhook_endpoint_not_found")
        );
    }

    // Another workspace's endpoint does not exist for this admin.
    let other = app.store.create_workspace("Other").await.unwrap().id;
    let foreign = app
        .store
        .create_webhook_endpoint(tandem_store::NewWebhookEndpoint {
            workspace_id: other,
            url: "https://other.example.com".into(),
            description: String::new(),
            events: vec![tandem_domain::WebhookEventType::MessageCreated],
            active: true,
            secret: "whsec_other".into(),
            inbox_id: None,
        })
        .await
        .unwrap();
    let hidden =
        call(&app, &admin, Method::GET, &format!("/api/v1/webhooks/{}", foreign.id), None).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_admins_manage_webhooks() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let (id, _) =
        register(&app, &admin, "https://crm.example.com/hook", &["message.created"]).await;
    for person in [AGENT, SUPERVISOR] {
        let session = app.login(person).await;
        let body = json!({ "url": "https://evil.example.com", "events": ["message.created"] });
        for (method, uri, body) in [
            (Method::GET, "/api/v1/webhooks".to_owned(), None),
            (Method::POST, "/api/v1/webhooks".to_owned(), Some(body)),
            (Method::GET, format!("/api/v1/webhooks/{id}"), None),
            (Method::PATCH, format!("/api/v1/webhooks/{id}"), Some(json!({ "active": false }))),
            (Method::DELETE, format!("/api/v1/webhooks/{id}"), None),
            (Method::GET, format!("/api/v1/webhooks/{id}/deliveries"), None),
            (Method::POST, format!("/api/v1/webhooks/{id}/test"), None),
        ] {
            let response = call(&app, &session, method.clone(), &uri, body).await;
            assert_eq!(
                (response.status, response.code().as_str()),
                (StatusCode::FORBIDDEN, "admins_only"),
                "{} {method} {uri}",
                person.0
            );
        }
        let page = app.get("/settings/webhooks", &[("cookie", &session.cookie)]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let inbox = app.get("/inbox", &[("cookie", &session.cookie)]).await.text();
        assert!(!inbox.contains("href=\"/settings/webhooks\""), "no nav link for {}", person.0);
    }
    let anonymous = app.get("/api/v1/webhooks", &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let still = call(&app, &admin, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(still.json()["active"], true, "nothing was changed");
    let inbox = app.get("/inbox", &[("cookie", &admin.cookie)]).await.text();
    assert!(inbox.contains("href=\"/settings/webhooks\""));
}

#[tokio::test]
async fn admins_manage_webhooks_in_the_console_and_see_the_secret_once() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let receiver = Receiver::start(&[]).await;
    let empty = app.get("/settings/webhooks", &[("cookie", &admin.cookie)]).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.text().contains("还没有 Webhook"), "{}", empty.text());
    assert!(empty.text().contains("href=\"/settings/webhooks\" aria-current=\"page\""));

    let refused = post_form(
        &app,
        &admin,
        "/settings/webhooks",
        &[("url", "ftp://crm.example.com"), ("description", "CRM"), ("events", "message.created")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains("接收地址（URL）：须以 http:// 或 https:// 开头"), "{html}");
    assert!(
        html.contains("value=\"ftp://crm.example.com\"") && html.contains("aria-invalid=\"true\"")
    );

    let created = post_form(
        &app,
        &admin,
        "/settings/webhooks",
        &[
            ("url", &receiver.url),
            ("description", "工单系统"),
            ("events", "conversation.handed_off"),
            ("events", "conversation.resolved"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let html = created.text();
    let start = html.find("<code id=\"new-secret\">").expect("the secret is shown") + 22;
    let secret = html[start..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let page = app.get("/settings/webhooks", &[("cookie", &admin.cookie)]).await.text();
    assert!(page.contains(&receiver.url) && page.contains("工单系统"));
    assert!(!page.contains(&secret), "the secret is shown once");
    let id = tandem_server::testing::attribute(&page, "data-webhook-id=\"");
    let action_uri = format!("/settings/webhooks/{id}");

    let test = post_form(&app, &admin, &action_uri, &[("action", "test")]).await;
    assert_eq!(test.status, StatusCode::SEE_OTHER);
    let received =
        receiver.wait_for("the test event", |received| received.event == "webhook.test").await;
    assert!(signature_is_valid(&secret, &received.signature, &received.raw));
    assert_eq!(received.body["data"]["endpoint_id"].to_string(), id);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = app.get("/settings/webhooks", &[("cookie", &admin.cookie)]).await.text();
        if page.contains("data-status=\"delivered\"") {
            assert!(page.contains("测试事件") && page.contains("已送达"), "{page}");
            break;
        }
        assert!(Instant::now() < deadline, "the test delivery is not listed: {page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let disabled = post_form(&app, &admin, &action_uri, &[("action", "disable")]).await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER);
    let page = app.get("/settings/webhooks", &[("cookie", &admin.cookie)]).await.text();
    assert!(page.contains("已停用") && page.contains("value=\"enable\""));
    let forged = app
        .post_form(
            &action_uri,
            &[("cookie", &admin.cookie)],
            &[("csrf", "nope"), ("action", "delete")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let deleted = post_form(&app, &admin, &action_uri, &[("action", "delete")]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let page =
        app.get("/settings/webhooks?notice=deleted", &[("cookie", &admin.cookie)]).await.text();
    assert!(page.contains("Webhook 已删除") && !page.contains(&receiver.url));
}

/// Posts a console form with the session's cookie and CSRF token.
async fn post_form(
    app: &TestApp,
    session: &Session,
    uri: &str,
    fields: &[(&str, &str)],
) -> tandem_server::testing::Response {
    let mut all = vec![("csrf", session.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(uri, &[("cookie", &session.cookie)], &all).await
}

#[tokio::test]
async fn the_openapi_document_describes_webhooks() {
    let app = TestApp::new().await;
    let document = app.get("/openapi.json", &[]).await.json();
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
        "/api/v1/webhooks/{id}/deliveries",
        "/api/v1/webhooks/{id}/test",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    let events = document["components"]["schemas"]["WebhookEventType"]["enum"].clone();
    assert_eq!(
        events,
        json!([
            "conversation.handed_off",
            "conversation.assigned",
            "conversation.resolved",
            "message.created",
            "insight.alert",
            "webhook.test"
        ])
    );
    for event in events.as_array().unwrap() {
        assert!(document["webhooks"][event.as_str().unwrap()]["post"].is_object(), "{event}");
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_records_why_and_waits_for_its_retry() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    // A port that was just free: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let url = format!("http://{closed}/hook");
    let (endpoint, _) = register(&app, &admin, &url, &["message.created"]).await;
    let test =
        call(&app, &admin, Method::POST, &format!("/api/v1/webhooks/{endpoint}/test"), None).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.text());
    assert_eq!(test.json()["delivery"]["event_type"], "webhook.test");
    let uri = format!("/api/v1/webhooks/{endpoint}/deliveries");
    let deadline = Instant::now() + Duration::from_secs(10);
    let delivery = loop {
        let deliveries = call(&app, &admin, Method::GET, &uri, None).await.json();
        let delivery = deliveries["deliveries"][0].clone();
        if delivery["attempts"] == 1 {
            break delivery;
        }
        assert!(Instant::now() < deadline, "no attempt was recorded: {delivery:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(delivery["status"], "pending", "{delivery:#}");
    assert!(delivery["response_status"].is_null());
    let error = delivery["error"].as_str().unwrap();
    assert!(error.contains("error sending request") && !error.contains(&url), "{error}");
    let next = delivery["next_attempt_at"].as_i64().unwrap();
    let last = delivery["last_attempt_at"].as_i64().unwrap();
    assert!((9_000..=11_000).contains(&(next - last)), "the first retry waits 10 s: {delivery:#}");
}

#[tokio::test]
async fn a_resolution_pushes_stores_and_shows_its_wrapup() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let receiver = Receiver::start(&[]).await;
    register(&app, &admin, &receiver.url, &["conversation.resolved"]).await;

    let token = app.widget_token().await;
    let asked = "你好，我的订单 2024011500123 还没发货，手机 13812345678，怎么回事？";
    let sent = app.widget_send(&token, "w1", asked).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let agent = app.login(AGENT).await;
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    let taken = call(&app, &agent, Method::POST, &transitions, Some(json!({ "action": "assign" })));
    assert_eq!(taken.await.json()["conversation"]["state"], "human");
    let promise = "我们会在24小时内给您发货。";
    let reply = format!("已为您查询订单 2024011500123，仓库缺货。{promise}");
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let replied = call(&app, &agent, Method::POST, &messages, Some(json!({ "body": reply }))).await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text());
    assert_eq!(app.widget_send(&token, "w2", "运费谁出？").await.status, StatusCode::CREATED);

    let detail = format!("/api/v1/conversations/{conversation}");
    let before = call(&app, &agent, Method::GET, &detail, None).await.json();
    assert!(before.get("wrapup").is_none(), "no wrap-up before the resolution: {before}");
    let resolve = Some(json!({ "action": "resolve" }));
    let resolved = call(&app, &agent, Method::POST, &transitions, resolve).await;
    assert_eq!(resolved.json()["conversation"]["state"], "resolved");

    let wrapup = call(&app, &agent, Method::GET, &detail, None).await.json()["wrapup"].clone();
    let summary = wrapup["summary"].as_str().unwrap();
    assert!(summary.contains("2024011500123") && summary.contains(promise), "{summary}");
    assert!(summary.contains("138****5678") && !summary.contains("13812345678"), "{summary}");
    let points = wrapup["key_points"].as_array().unwrap();
    let has = |kind: &str, text: &str| {
        points.iter().any(|point| point["kind"] == kind && point["text"] == text)
    };
    assert!(has("promise", promise), "{wrapup:#}");
    assert!(has("entity", "2024011500123"), "{wrapup:#}");
    assert!(has("follow_up", "运费谁出？"), "{wrapup:#}");
    assert!(!wrapup.to_string().contains("13812345678"), "personal data is masked");

    let pushed = receiver.wait_for("resolution", |r| r.event == "conversation.resolved").await;
    assert_eq!(pushed.body["data"]["wrapup"], wrapup, "the event carries the stored wrap-up");

    let page_uri = format!("/conversations/{conversation}");
    let cookie = [("cookie", agent.cookie.as_str())];
    let html = app.get(&page_uri, &cookie).await.text();
    assert!(html.contains("data-testid=\"wrapup\"") && html.contains("Wrap-up"), "{html}");
    assert!(html.contains("Promised (to follow up)") && html.contains(promise));

    // Reopened, the conversation shows no stale wrap-up; resolved again, it gets a new one.
    let reopen = Some(json!({ "action": "reopen" }));
    call(&app, &agent, Method::POST, &transitions, reopen).await;
    let reopened = call(&app, &agent, Method::GET, &detail, None).await.json();
    assert!(reopened.get("wrapup").is_none(), "{reopened}");
    assert!(!app.get(&page_uri, &cookie).await.text().contains("data-testid=\"wrapup\""));
}

#[tokio::test]
async fn any_agent_corrects_or_clears_a_wrapups_topic_from_the_api_or_the_card() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "w1", "我买的鞋子尺码不对，想换一双大一码的").await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let agent = app.login(AGENT).await;
    let topic_uri = format!("/api/v1/conversations/{conversation}/wrapup/topic");
    let put = |session: &Session, body: Value| {
        let headers = [
            ("cookie", session.cookie.clone()),
            ("x-csrf-token", session.csrf.clone()),
            ("content-type", "application/json".to_owned()),
        ];
        let (app, uri) = (&app, &topic_uri);
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
            app.send(build(Method::PUT, uri, &headers, Body::from(body.to_string()))).await
        }
    };

    // Not resolved yet: there is no wrap-up to correct.
    let early = put(&agent, json!({ "topic": "换货" })).await;
    assert_eq!(early.status, StatusCode::NOT_FOUND, "{}", early.text());
    assert_eq!(early.json()["code"], "wrapup_not_found");

    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    call(&app, &agent, Method::POST, &transitions, Some(json!({ "action": "assign" }))).await;
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let reply = Some(json!({ "body": "已为您登记换货，新鞋明天发出。" }));
    assert_eq!(
        call(&app, &agent, Method::POST, &messages, reply).await.status,
        StatusCode::CREATED
    );
    let resolve = Some(json!({ "action": "resolve" }));
    call(&app, &agent, Method::POST, &transitions, resolve).await;
    let detail = format!("/api/v1/conversations/{conversation}");
    let stored = call(&app, &agent, Method::GET, &detail, None).await.json()["wrapup"].clone();
    assert!(stored["summary"].is_string(), "resolved with a wrap-up: {stored}");

    // Another agent of the workspace (not the one who resolved it) corrects it, trimmed.
    let supervisor = app.login(SUPERVISOR).await;
    let corrected = put(&supervisor, json!({ "topic": "  换货（尺码）  " })).await;
    assert_eq!(corrected.status, StatusCode::OK, "{}", corrected.text());
    assert_eq!(corrected.json()["topic"], "换货（尺码）");
    assert_eq!(corrected.json()["summary"], stored["summary"], "the rest stays as it was");
    let shown = call(&app, &agent, Method::GET, &detail, None).await.json();
    assert_eq!(shown["wrapup"]["topic"], "换货（尺码）");

    // Refused text leaves the topic as it was.
    for (body, why) in [
        (json!({ "topic": "   " }), "blank"),
        (json!({ "topic": "换".repeat(201) }), "over 200 characters"),
        (json!({ "topic": "换货\n退款" }), "a control character"),
    ] {
        let refused = put(&agent, body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {}", refused.text());
        assert_eq!(refused.json()["code"], "invalid_input", "{why}");
    }
    let missing = put(&agent, json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.text());
    let longest = put(&agent, json!({ "topic": "换".repeat(200) })).await;
    assert_eq!(longest.status, StatusCode::OK, "{}", longest.text());

    // Null clears it.
    let cleared = put(&agent, json!({ "topic": null })).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text());
    assert!(cleared.json().get("topic").is_none(), "{}", cleared.text());

    // The card's form sets it again and comes back to the page, which shows it.
    let page_uri = format!("/conversations/{conversation}");
    let cookie = [("cookie", agent.cookie.as_str())];
    let html = app.get(&page_uri, &cookie).await.text();
    assert!(html.contains("data-testid=\"wrapup-topic-form\"") && html.contains("No topic"));
    let form_uri = format!("/conversations/{conversation}/wrapup/topic");
    let fields = [("csrf", agent.csrf.as_str()), ("topic", "尺码换货")];
    let posted = app.post_form(&form_uri, &cookie, &fields).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(posted.headers["location"], page_uri);
    let html = app.get(&page_uri, &cookie).await.text();
    assert!(html.contains("<span data-testid=\"wrapup-topic\">尺码换货</span>"), "{html}");
    // A refusal comes back as the page's message, in the agent's language.
    let long = "换".repeat(201);
    let fields = [("csrf", agent.csrf.as_str()), ("topic", long.as_str())];
    let refused = app.post_form(&form_uri, &cookie, &fields).await;
    let location = refused.headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{page_uri}?error=")), "{location}");
    let html = app.get(&location, &cookie).await.text();
    assert!(html.contains("role=\"alert\"") && html.contains("Topic"), "{html}");
    assert!(html.contains("<span data-testid=\"wrapup-topic\">尺码换货</span>"));
    // An empty field clears it.
    let fields = [("csrf", agent.csrf.as_str()), ("topic", "")];
    assert_eq!(app.post_form(&form_uri, &cookie, &fields).await.status, StatusCode::SEE_OTHER);
    let shown = call(&app, &agent, Method::GET, &detail, None).await.json();
    assert!(shown["wrapup"].get("topic").is_none(), "{shown}");

    // Reopened, the old wrap-up is no longer current: nothing to correct.
    call(&app, &agent, Method::POST, &transitions, Some(json!({ "action": "reopen" }))).await;
    let reopened = put(&agent, json!({ "topic": "换货" })).await;
    assert_eq!(reopened.json()["code"], "wrapup_not_found");
}

/// An endpoint at a cloud metadata address is never called: each attempt fails with why.
#[tokio::test]
async fn an_endpoint_at_a_metadata_address_is_never_called() {
    let webhooks = WebhookConfig { retry_secs: vec![0.1], ..WebhookConfig::default() };
    let app = TestApp::with_config(ServerConfig { webhooks, ..ServerConfig::default() }).await;
    let admin = app.login(ADMIN).await;
    let url = "http://169.254.169.254/latest/meta-data/iam";
    let (endpoint, _) = register(&app, &admin, url, &["message.created"]).await;
    let token = app.widget_token().await;
    app.widget_send(&token, "metadata-1", "你好").await;
    let deliveries = settled_deliveries(&app, &admin, endpoint).await;
    let delivery = &deliveries[0];
    assert_eq!(delivery["status"], "failed", "{delivery:#}");
    let error = delivery["error"].as_str().unwrap_or_default();
    assert!(error.contains("link-local or metadata address"), "{error}");
    assert!(delivery["response_status"].is_null());
}
