//! Identity verification: a business signs its signed-in user's id with the inbox's identity
//! secret; the widget session with a valid hash is that user's one verified customer on every
//! device, a wrong hash is refused, and anonymous visitors never become verified.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tandem_bot::KnowledgeResponder;
use tandem_domain::{Channel, CustomerId, InboxId};
use tandem_server::auth::user_hash;
use tandem_server::demo::{DEMO_USER_EMAIL, DEMO_USER_ID, DEMO_USER_NAME};
use tandem_store::{NewInbox, SqliteConfig, SqliteStore, Store};

use crate::support::{ADMIN, AGENT, SUPERVISOR, Session, TestApp, attribute};

/// Widget and secret helpers of these tests.
trait IdentityApp {
    async fn inbox_id(&self) -> InboxId;
    async fn identity_secret(&self) -> String;
    async fn widget_session(&self, fields: Value) -> crate::support::Response;
    async fn signed_in_session(&self, user_id: &str) -> Value;
    async fn widget_messages(&self, token: &str) -> Value;
}

impl IdentityApp for TestApp {
    async fn inbox_id(&self) -> InboxId {
        self.store.inbox_by_public_key(&self.inbox_key).await.unwrap().unwrap().id
    }

    async fn identity_secret(&self) -> String {
        self.store.inbox_identity_secret(self.inbox_id().await).await.unwrap().unwrap()
    }

    /// Opens a widget session with `fields` added to the request.
    async fn widget_session(&self, fields: Value) -> crate::support::Response {
        let mut request = json!({ "inbox_key": self.inbox_key, "locale": "zh" });
        for (key, value) in fields.as_object().unwrap() {
            request[key] = value.clone();
        }
        self.post_json("/api/v1/widget/session", &[], request).await
    }

    async fn signed_in_session(&self, user_id: &str) -> Value {
        let hash = user_hash(&self.identity_secret().await, user_id);
        let response = self.widget_session(json!({ "user_id": user_id, "user_hash": hash })).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    async fn widget_messages(&self, token: &str) -> Value {
        let bearer = format!("Bearer {token}");
        let response = self.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }
}

fn bodies(messages: &Value) -> Vec<String> {
    messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["body"].as_str().unwrap().to_owned())
        .collect()
}

fn customer_id(session: &Value) -> CustomerId {
    CustomerId(session["customer"]["id"].as_i64().unwrap())
}

#[tokio::test]
async fn a_valid_hash_is_one_verified_customer_on_every_device() {
    let app = TestApp::new().await;
    let secret = app.identity_secret().await;
    let phone = app
        .widget_session(json!({
            "user_id": "u-2002",
            "user_hash": user_hash(&secret, "u-2002"),
            "name": "陈静",
            "email": "Chen.Jing@example.cn",
        }))
        .await;
    assert_eq!(phone.status, StatusCode::OK, "{}", phone.text());
    let phone = phone.json();
    assert_eq!(phone["customer"]["verified"], true);
    assert_eq!(phone["customer"]["name"], "陈静");
    let customer = app.store.customer(customer_id(&phone)).await.unwrap().unwrap();
    assert!(customer.verified);
    assert_eq!(customer.external_id.as_deref(), Some("u-2002"));
    assert_eq!(customer.email.as_deref(), Some("chen.jing@example.cn"));

    let token = phone["token"].as_str().unwrap();
    let sent = app.widget_send(token, "c-1", "我的订单到哪了？").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());

    // The laptop, with nothing stored: the same customer and the same conversation.
    let laptop = app.signed_in_session("u-2002").await;
    assert_eq!(customer_id(&laptop), customer.id);
    assert_eq!(laptop["customer"]["name"], "陈静", "a session without a name keeps it");
    let history = app.widget_messages(laptop["token"].as_str().unwrap()).await;
    assert!(bodies(&history).contains(&"我的订单到哪了？".to_owned()), "{history}");

    // A token from the phone changes nothing: the hash decides who this is.
    let again = app
        .widget_session(json!({
            "token": app.widget_token().await,
            "user_id": "u-2002",
            "user_hash": user_hash(&secret, "u-2002"),
        }))
        .await
        .json();
    assert_eq!(customer_id(&again), customer.id);

    // The seeded demo customer is the shop's u-1001 with his history.
    let zhang = app.signed_in_session(DEMO_USER_ID).await;
    assert_eq!(zhang["customer"]["name"], DEMO_USER_NAME);
    let history = app.widget_messages(zhang["token"].as_str().unwrap()).await;
    assert!(bodies(&history).iter().any(|body| body.contains("蓝牙耳机")), "{history}");
}

#[tokio::test]
async fn a_wrong_hash_is_refused_with_identity_mismatch() {
    let app = TestApp::new().await;
    let secret = app.identity_secret().await;
    let cases = [
        json!({ "user_id": "u-1001", "user_hash": user_hash(&secret, "u-1002") }),
        json!({ "user_id": "u-1001", "user_hash": user_hash("another secret", "u-1001") }),
        json!({ "user_id": "u-1001", "user_hash": "not hex" }),
        json!({ "user_id": "u-1001", "user_hash": "" }),
        json!({ "user_id": "u-1001" }),
        json!({ "user_hash": user_hash(&secret, "u-1001") }),
    ];
    for fields in cases {
        let response = app.widget_session(fields.clone()).await;
        assert_eq!(
            (response.status, response.code().as_str()),
            (StatusCode::FORBIDDEN, "identity_mismatch"),
            "{fields}"
        );
    }
    let blank = app.widget_session(json!({ "user_id": "", "user_hash": "00" })).await;
    assert_eq!(
        (blank.status, blank.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    let bad_email = app
        .widget_session(json!({
            "user_id": "u-1001",
            "user_hash": user_hash(&secret, "u-1001"),
            "email": "not an address",
        }))
        .await;
    assert_eq!(bad_email.code(), "invalid_input");
}

#[tokio::test]
async fn without_a_hash_the_visitor_is_anonymous_and_never_becomes_verified() {
    let app = TestApp::new().await;
    let anonymous = app.widget_session(json!({ "name": "Mallory" })).await.json();
    assert_eq!(anonymous["customer"]["verified"], false);
    assert_ne!(anonymous["customer"]["name"], "Mallory", "unsigned names are ignored");
    let visitor = customer_id(&anonymous);
    let token = anonymous["token"].as_str().unwrap().to_owned();
    let sent = app.widget_send(&token, "a-1", "随便看看").await;
    assert_eq!(sent.status, StatusCode::CREATED);

    // The visitor signs in on the shop: their session is now the verified customer's, and
    // the anonymous conversation stays with the anonymous customer.
    let hash = user_hash(&app.identity_secret().await, "u-3003");
    let signed_in = app
        .widget_session(json!({ "token": token, "user_id": "u-3003", "user_hash": hash }))
        .await
        .json();
    assert_ne!(customer_id(&signed_in), visitor);
    assert!(bodies(&app.widget_messages(signed_in["token"].as_str().unwrap()).await).is_empty());
    let still_anonymous = app.store.customer(visitor).await.unwrap().unwrap();
    assert!(!still_anonymous.verified && still_anonymous.external_id.is_none());
    // (The bot's reply to it may or may not have arrived yet.)
    assert_eq!(
        bodies(&app.widget_messages(&token).await).first().map(String::as_str),
        Some("随便看看")
    );

    // The anonymous token still resumes its anonymous visitor...
    let resumed = app.widget_session(json!({ "token": token })).await.json();
    assert_eq!((customer_id(&resumed), &resumed["customer"]["verified"]), (visitor, &json!(false)));
    // ...but a verified customer's token without a hash (the user signed out) does not resume
    // them: a new anonymous visitor starts.
    let signed_out = app.widget_session(json!({ "token": signed_in["token"] })).await.json();
    assert_ne!(customer_id(&signed_out), customer_id(&signed_in));
    assert_eq!(signed_out["customer"]["verified"], false);
}

async fn post_api(app: &TestApp, session: &Session, uri: &str) -> crate::support::Response {
    app.post_json(uri, &[("cookie", &session.cookie), ("x-csrf-token", &session.csrf)], json!({}))
        .await
}

#[tokio::test]
async fn rotating_the_secret_invalidates_old_hashes() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let inbox = app.inbox_id().await;
    let shown =
        app.get(&format!("/api/v1/inboxes/{inbox}/identity"), &[("cookie", &admin.cookie)]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    assert_eq!(shown.headers["cache-control"], "no-store");
    let old_secret = shown.json()["secret"].as_str().unwrap().to_owned();
    assert_eq!(old_secret, app.identity_secret().await);
    assert_eq!(shown.json()["algorithm"], "HMAC-SHA256");
    let old_hash = user_hash(&old_secret, "u-1001");
    assert_eq!(
        app.widget_session(json!({ "user_id": "u-1001", "user_hash": old_hash })).await.status,
        StatusCode::OK
    );

    let rotated = post_api(&app, &admin, &format!("/api/v1/inboxes/{inbox}/identity/rotate")).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    let stale = app.widget_session(json!({ "user_id": "u-1001", "user_hash": old_hash })).await;
    assert_eq!((stale.status, stale.code().as_str()), (StatusCode::FORBIDDEN, "identity_mismatch"));
    let fresh = app
        .widget_session(
            json!({ "user_id": "u-1001", "user_hash": user_hash(&new_secret, "u-1001") }),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK);

    // Without the CSRF header a cookie session cannot rotate.
    let forged = app
        .post_json(
            &format!("/api/v1/inboxes/{inbox}/identity/rotate"),
            &[("cookie", &admin.cookie)],
            json!({}),
        )
        .await;
    assert_eq!(forged.code(), "csrf_failed");

    // The console's settings page shows the secret and rotates it with a form.
    let page = app.get("/settings", &[("cookie", &admin.cookie)]).await.text();
    assert!(page.contains(&new_secret) && page.contains("data-action=\"rotate-identity\""));
    let submitted = app
        .post_form(
            &format!("/settings/inboxes/{inbox}/identity/rotate"),
            &[("cookie", &admin.cookie)],
            &[("csrf", &admin.csrf)],
        )
        .await;
    assert_eq!(submitted.status, StatusCode::SEE_OTHER, "{}", submitted.text());
    let third = app.identity_secret().await;
    assert_ne!(third, new_secret);
    let page =
        app.get("/settings?notice=identity_rotated", &[("cookie", &admin.cookie)]).await.text();
    assert!(page.contains(&third) && page.contains("身份密钥已更换"));
}

#[tokio::test]
async fn only_admins_read_or_rotate_identity_secrets() {
    let app = TestApp::new().await;
    let inbox = app.inbox_id().await;
    let secret = app.identity_secret().await;
    let show = format!("/api/v1/inboxes/{inbox}/identity");
    let rotate = format!("/api/v1/inboxes/{inbox}/identity/rotate");
    for account in [SUPERVISOR, AGENT] {
        let session = app.login(account).await;
        let shown = app.get(&show, &[("cookie", &session.cookie)]).await;
        assert_eq!((shown.status, shown.code().as_str()), (StatusCode::FORBIDDEN, "forbidden"));
        assert!(!shown.text().contains(&secret));
        let rotated = post_api(&app, &session, &rotate).await;
        assert_eq!(rotated.status, StatusCode::FORBIDDEN);
        let page = app.get("/settings", &[("cookie", &session.cookie)]).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.text().contains(&secret), "{account:?} sees no secret in the console");
        let form = app
            .post_form(
                &format!("/settings/inboxes/{inbox}/identity/rotate"),
                &[("cookie", &session.cookie)],
                &[("csrf", &session.csrf)],
            )
            .await;
        assert_eq!(form.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.identity_secret().await, secret, "nobody but an admin rotated it");
    assert_eq!(app.get(&show, &[]).await.code(), "unauthorized");
    let admin = app.login(ADMIN).await;
    let missing = app.get("/api/v1/inboxes/999999/identity", &[("cookie", &admin.cookie)]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_demo_page_signs_in_as_the_demo_customer_only_when_asked() {
    let app = TestApp::new().await;
    let anonymous = app.get("/demo", &[]).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    let html = anonymous.text();
    assert!(!html.contains("data-user-id"), "anonymous by default");
    assert!(html.contains("href=\"/demo?as=u-1001\""), "offers the sign-in toggle");
    assert!(!html.contains("{{"), "every placeholder is filled");

    let page = app.get("/demo?as=u-1001", &[]).await;
    assert_eq!(page.headers["cache-control"], "no-store");
    let html = page.text();
    let hash = user_hash(&app.identity_secret().await, DEMO_USER_ID);
    for expected in [
        format!("data-inbox=\"{}\"", app.inbox_key),
        format!("data-user-id=\"{DEMO_USER_ID}\""),
        format!("data-user-hash=\"{hash}\""),
        format!("data-user-name=\"{DEMO_USER_NAME}\""),
        format!("data-user-email=\"{DEMO_USER_EMAIL}\""),
        "href=\"/demo\"".to_owned(),
    ] {
        assert!(html.contains(&expected), "{expected} missing");
    }
    // What the page carries opens the demo customer's session.
    let session = app
        .widget_session(json!({
            "user_id": attribute(&html, "data-user-id=\""),
            "user_hash": attribute(&html, "data-user-hash=\""),
            "name": attribute(&html, "data-user-name=\""),
        }))
        .await
        .json();
    assert_eq!(session["customer"]["verified"], true);
    assert_eq!(session["customer"]["name"], DEMO_USER_NAME);
    let zhang = app.store.customer(customer_id(&session)).await.unwrap().unwrap();
    assert_eq!(zhang.attributes.get("tier").map(String::as_str), Some("gold"));
    assert_eq!(zhang.attributes.get("value").map(String::as_str), Some("3200"));

    // Only the demo customer, never any id someone asks for.
    let other = app.get("/demo?as=u-2002", &[]).await.text();
    assert!(!other.contains("data-user-id"));
}

#[tokio::test]
async fn a_workspace_that_is_not_the_demo_never_gets_a_hash_from_the_demo_page() {
    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("t.db"))).unwrap());
    let workspace = store.create_workspace("Real Shop").await.unwrap().id;
    store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "Website".into(),
            channel: Channel::Web,
            public_key: "pk_real".into(),
            bot_name: "Bot".into(),
        })
        .await
        .unwrap();
    let state = tandem_server::build(
        Arc::clone(&store),
        KnowledgeResponder::start(Arc::clone(&store), Default::default()),
        Default::default(),
    )
    .await
    .unwrap();
    let router = tandem_server::router(state);
    let request = crate::support::build(
        axum::http::Method::GET,
        "/demo?as=u-1001",
        &[],
        axum::body::Body::empty(),
    );
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let html = String::from_utf8_lossy(&body);
    assert!(html.contains("data-inbox=\"pk_real\""));
    assert!(!html.contains("data-user-"), "no identity for a real workspace");
    assert!(!html.contains("?as="), "and no sign-in toggle");
}

#[tokio::test]
async fn the_openapi_document_describes_identity_verification() {
    let app = TestApp::new().await;
    let document = app.get("/openapi.json", &[]).await.json();
    let paths = document["paths"].as_object().unwrap();
    for path in ["/api/v1/inboxes/{id}/identity", "/api/v1/inboxes/{id}/identity/rotate"] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    let codes = document["components"]["schemas"]["ErrorCode"]["enum"].as_array().unwrap();
    assert!(codes.iter().any(|code| code == "identity_mismatch"));
    let request = &document["components"]["schemas"]["WidgetSessionRequest"]["properties"];
    for field in ["user_id", "user_hash", "name", "email"] {
        assert!(request.get(field).is_some(), "{field} is not documented");
    }
}

/// Waits for a bot reply after the customer's `after`-th message that contains `text`.
async fn bot_reply_containing(app: &TestApp, token: &str, text: &str) -> String {
    for _ in 0..300 {
        let messages = app.widget_messages(token).await;
        if let Some(body) = messages["messages"].as_array().unwrap().iter().rev().find_map(|m| {
            let body = m["body"].as_str().unwrap();
            (m["author_kind"] == "bot" && body.contains(text)).then(|| body.to_owned())
        }) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no bot reply containing {text:?}: {}", app.widget_messages(token).await);
}

#[tokio::test]
async fn a_signed_in_customer_files_an_exchange_through_the_demo_shop() {
    let app = TestApp::with_shop().await;
    app.spawn().await;
    let session = app.signed_in_session(DEMO_USER_ID).await;
    let token = session["token"].as_str().unwrap();
    app.widget_send(token, "x-1", "我要换货").await;
    bot_reply_containing(&app, token, "要换货的订单号").await;
    app.widget_send(token, "x-2", "20241123001").await;
    let filed = bot_reply_containing(&app, token, "换货申请").await;
    assert!(filed.starts_with("已为您提交换货申请，申请号 E"), "{filed}");
    // The shop has it as an exchange: nothing refunded, and the order cannot be returned now.
    app.widget_send(token, "x-3", "订单 20241123001 我要退货").await;
    let refused = bot_reply_containing(&app, token, "已经提交过").await;
    assert!(
        refused.contains(&filed["已为您提交换货申请，申请号 ".len()..filed.find('。').unwrap()]),
        "{refused}"
    );
}
