//! The API channel end to end: an `api` inbox created through the API, an endpoint bound to
//! it, customer messages posted with the inbox's key, and the customer's message, the bot's
//! answer and an agent's reply received as signed webhooks in `seq` order.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::webhooks::{Receiver, call, signature_is_valid};
use tandem_server::testing::{ADMIN, AGENT, Session, TestApp};

/// The `message.created` deliveries `receiver` got, in the order they arrived.
fn messages(receiver: &Receiver) -> Vec<Value> {
    receiver
        .all()
        .into_iter()
        .filter(|received| received.event == "message.created")
        .map(|received| received.body["data"]["message"].clone())
        .collect()
}

/// Waits (up to 10 s) until `count` messages have arrived.
async fn wait_for_messages(receiver: &Receiver, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let messages = messages(receiver);
        if messages.len() >= count {
            return messages;
        }
        assert!(Instant::now() < deadline, "{count} messages did not arrive: {messages:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An inbox created through the API: (id, public key, identity secret).
async fn create_inbox(app: &TestApp, admin: &Session, channel: &str) -> (i64, String, String) {
    let body =
        json!({ "name": format!("{channel} inbox"), "channel": channel, "bot_name": "小河" });
    let created = call(app, admin, Method::POST, "/api/v1/inboxes", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let inbox = created.json();
    assert_eq!(inbox["channel"], channel);
    assert!(inbox.get("secret").is_none(), "{inbox}");
    let id = inbox["id"].as_i64().unwrap();
    let public_key = inbox["public_key"].as_str().unwrap().to_owned();
    assert!(public_key.starts_with("pk_") && public_key.len() > 40, "{public_key}");
    let uri = format!("/api/v1/inboxes/{id}/identity");
    let identity = call(app, admin, Method::GET, &uri, None).await;
    assert_eq!(identity.status, StatusCode::OK, "{}", identity.text());
    let secret = identity.json()["secret"].as_str().unwrap().to_owned();
    (id, public_key, secret)
}

/// Registers an endpoint for `message.created` bound to `inbox`; returns its secret.
async fn register(app: &TestApp, admin: &Session, url: &str, inbox: i64) -> String {
    let body = json!({ "url": url, "events": ["message.created"], "inbox_id": inbox });
    let created = call(app, admin, Method::POST, "/api/v1/webhooks", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["inbox_id"], inbox);
    created.json()["secret"].as_str().unwrap().to_owned()
}

/// Posts a customer's message through the channel with `key` = (public key, secret).
async fn post(app: &TestApp, key: (&str, &str), body: Value) -> tandem_server::testing::Response {
    let bearer = format!("Bearer {}", key.1);
    app.post_json(
        "/api/v1/channel/messages",
        &[("authorization", &bearer), ("x-tandem-inbox", key.0)],
        body,
    )
    .await
}

/// A conversation's messages as the channel's polling shows them.
async fn poll(app: &TestApp, key: (&str, &str), conversation: i64, after: i64) -> Value {
    let bearer = format!("Bearer {}", key.1);
    let uri = format!("/api/v1/channel/conversations/{conversation}/messages?after_seq={after}");
    let response = app.get(&uri, &[("authorization", &bearer), ("x-tandem-inbox", key.0)]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

async fn message_count(app: &TestApp, key: (&str, &str), conversation: i64) -> usize {
    poll(app, key, conversation, 0).await["messages"].as_array().unwrap().len()
}

#[tokio::test]
async fn replies_reach_the_business_signed_and_in_seq_order() {
    let app = TestApp::fixture().sample_articles().build().await;
    let admin = app.login(ADMIN).await;
    let (inbox, public_key, inbox_secret) = create_inbox(&app, &admin, "api").await;
    let key = (public_key.as_str(), inbox_secret.as_str());
    let receiver = Receiver::start(&[]).await;
    let secret = register(&app, &admin, &receiver.url, inbox).await;
    // An endpoint of another inbox (the web one) hears nothing of this conversation.
    let elsewhere = Receiver::start(&[]).await;
    let web_inbox = app.inbox_id().await.0;
    register(&app, &admin, &elsewhere.url, web_inbox).await;

    let message = json!({
        "customer": { "id": "u-42", "name": "张伟", "email": "zhang@example.com", "locale": "zh" },
        "text": "怎么退货",
        "client_msg_id": "wx-1",
    });
    let sent = post(&app, key, message.clone()).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let sent = sent.json();
    let conversation = sent["conversation_id"].as_i64().unwrap();
    let customer = sent["customer_id"].as_i64().unwrap();
    assert_eq!(sent["message"]["conversation_id"], conversation);
    assert_eq!(
        (&sent["message"]["seq"], &sent["message"]["author_kind"]),
        (&json!(1), &json!("customer"))
    );
    assert_eq!(sent["message"]["client_msg_id"], "wx-1");

    // The customer's message, then the bot's answer.
    let messages = wait_for_messages(&receiver, 2).await;
    assert_eq!(messages[0]["author_kind"], "customer");
    assert_eq!(messages[0]["body"], "怎么退货");
    assert_eq!(messages[1]["author_kind"], "bot");
    assert!(messages[1]["body"].as_str().unwrap().contains("7 天内"), "{messages:#?}");

    // A retry of the same message stores nothing new: the stored message again.
    let before = message_count(&app, key, conversation).await;
    let retried = post(&app, key, message).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text());
    assert_eq!(retried.json()["message"]["id"], sent["message"]["id"]);
    assert_eq!(retried.json()["customer_id"], customer);
    assert_eq!(message_count(&app, key, conversation).await, before);

    // An agent answers from the console's API.
    let uri = format!("/api/v1/conversations/{conversation}/messages");
    let reply = json!({ "body": "您好，我是客服，已为您登记退货" });
    let replied = call(&app, &admin, Method::POST, &uri, Some(reply)).await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text());
    let messages = wait_for_messages(&receiver, 3).await;
    assert_eq!(messages[2]["author_kind"], "agent");
    assert_eq!(messages[2]["body"], "您好，我是客服，已为您登记退货");

    let seqs: Vec<i64> = messages.iter().map(|message| message["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "not in seq order: {seqs:?}");
    for received in receiver.all() {
        assert!(
            signature_is_valid(&secret, &received.signature, &received.raw),
            "{} does not verify",
            received.signature
        );
        let data = &received.body["data"];
        assert_eq!(data["conversation"]["id"], conversation);
        assert_eq!(data["conversation"]["inbox_id"], inbox);
        assert_eq!(data["conversation"]["channel"], "api");
        assert_eq!(data["conversation"]["customer"]["external_id"], "u-42");
    }

    // Polling shows the same conversation to the business.
    let polled = poll(&app, key, conversation, 1).await;
    let kinds: Vec<&str> = polled["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["author_kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"bot") && kinds.contains(&"agent"), "{kinds:?}");
    assert!(!kinds.contains(&"customer"), "after seq 1: {kinds:?}");

    // The same business user posting again is the same customer, in the same conversation.
    let again = json!({ "customer": { "id": "u-42" }, "text": "谢谢", "client_msg_id": "wx-2" });
    let again = post(&app, key, again).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_eq!(
        (again.json()["customer_id"].as_i64(), again.json()["conversation_id"].as_i64()),
        (Some(customer), Some(conversation))
    );
    wait_for_messages(&receiver, 4).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(elsewhere.all().is_empty(), "another inbox's endpoint got {:#?}", elsewhere.all());
}

#[tokio::test]
async fn a_wrong_key_or_a_web_inbox_is_refused_and_stores_nothing() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let (_, public_key, secret) = create_inbox(&app, &admin, "api").await;
    let message =
        |id: &str| json!({ "customer": { "id": "u-7" }, "text": "hello", "client_msg_id": id });
    // The newest customer before the calls: a refused call must create none after it.
    let visitor = app.widget_session(json!({})).await.json()["customer"]["id"].as_i64().unwrap();
    let next = tandem_domain::CustomerId(visitor + 1);

    let wrong = post(&app, (&public_key, "not-the-secret"), message("m-1")).await;
    assert_eq!((wrong.status, wrong.code().as_str()), (StatusCode::UNAUTHORIZED, "invalid_token"));
    let other_secret = app.identity_secret().await;
    let wrong = post(&app, (&public_key, &other_secret), message("m-1")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "another inbox's secret");
    let bare = app
        .post_json("/api/v1/channel/messages", &[("x-tandem-inbox", &public_key)], message("m-1"))
        .await;
    assert_eq!((bare.status, bare.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let unknown = post(&app, ("pk_nope", &secret), message("m-1")).await;
    assert_eq!(unknown.code(), "inbox_not_found");
    assert!(app.store.customer(next).await.unwrap().is_none(), "a refused call made a customer");

    // A web inbox, even with its own right key, takes no channel messages.
    let web = (app.inbox_key.clone(), app.identity_secret().await);
    let refused = post(&app, (&web.0, &web.1), message("m-2")).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::FORBIDDEN, "not_api_inbox"));
    assert!(app.store.customer(next).await.unwrap().is_none(), "a refused call made a customer");

    // The right key works, and polling another inbox's conversation does not.
    let sent = post(&app, (&public_key, &secret), message("m-3")).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let conversation = sent.json()["conversation_id"].as_i64().unwrap();
    let (_, other_key, other_secret) = create_inbox(&app, &admin, "api").await;
    let bearer = format!("Bearer {other_secret}");
    let uri = format!("/api/v1/channel/conversations/{conversation}/messages");
    let foreign =
        app.get(&uri, &[("authorization", &bearer), ("x-tandem-inbox", &other_key)]).await;
    assert_eq!(foreign.code(), "conversation_not_found");
}

#[tokio::test]
async fn inboxes_are_created_by_admins_and_listed_without_secrets() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let agent = app.login(AGENT).await;
    let body = json!({ "name": "WeChat", "channel": "api" });
    let refused = call(&app, &agent, Method::POST, "/api/v1/inboxes", Some(body)).await;
    assert_eq!(refused.code(), "admins_only");
    let invalid = json!({ "name": "Fax", "channel": "fax" });
    let invalid = call(&app, &admin, Method::POST, "/api/v1/inboxes", Some(invalid)).await;
    assert_eq!(
        (invalid.code().as_str(), &invalid.json()["field"]),
        ("invalid_input", &json!("channel"))
    );
    let blank = json!({ "name": " ", "channel": "api" });
    let blank = call(&app, &admin, Method::POST, "/api/v1/inboxes", Some(blank)).await;
    assert_eq!(blank.json()["field"], "name");

    let (id, public_key, _) = create_inbox(&app, &admin, "api").await;
    let listed = call(&app, &agent, Method::GET, "/api/v1/inboxes", None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let inboxes = listed.json()["inboxes"].as_array().unwrap().clone();
    assert_eq!(inboxes.len(), 2, "{inboxes:#?}");
    let created = inboxes.iter().find(|inbox| inbox["id"] == id).unwrap();
    assert_eq!((&created["public_key"], &created["channel"]), (&json!(public_key), &json!("api")));
    assert!(!listed.text().contains("secret"), "{}", listed.text());

    // An endpoint may be bound only to an inbox of the workspace.
    let body = json!({ "url": "https://crm.example.com/hook", "events": ["message.created"], "inbox_id": 999 });
    let unknown = call(&app, &admin, Method::POST, "/api/v1/webhooks", Some(body)).await;
    assert_eq!(
        (unknown.code().as_str(), &unknown.json()["field"]),
        ("invalid_input", &json!("inbox_id"))
    );
    let body = json!({ "url": "https://crm.example.com/hook", "events": ["message.created"] });
    let everything = call(&app, &admin, Method::POST, "/api/v1/webhooks", Some(body)).await;
    assert_eq!(everything.status, StatusCode::CREATED, "{}", everything.text());
    assert!(everything.json()["inbox_id"].is_null());
    let listed = call(&app, &admin, Method::GET, "/api/v1/webhooks", None).await;
    assert!(listed.json()["webhooks"][0]["inbox_id"].is_null(), "{}", listed.text());
}
