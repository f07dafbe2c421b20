//! The demo shop page: the widget of the demo workspace, signed in as the demo customer only
//! when asked and only for the demo workspace; a signed-in customer files an exchange through
//! the shop's API.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;
use tandem_bot::KnowledgeResponder;
use tandem_demo::seed::{DEMO_USER_EMAIL, DEMO_USER_ID, DEMO_USER_NAME};
use tandem_domain::{Channel, CustomerId};
use tandem_server::auth::user_hash;
use tandem_server::testing::{TestApp, attribute};
use tandem_store::{NewInbox, SqliteConfig, SqliteStore, Store};

use crate::demo;

#[tokio::test]
async fn the_demo_page_signs_in_as_the_demo_customer_only_when_asked() {
    let app = demo().await;
    let anonymous = app.get("/demo", &[]).await;
    assert_eq!(anonymous.status, StatusCode::OK);
    let html = anonymous.text();
    assert!(!html.contains("data-user-id"), "anonymous by default");
    assert!(html.contains("href=\"/demo?as=u-1001\""), "offers the sign-in toggle");
    assert!(!html.contains("{{"), "every placeholder is filled");

    let page = app.get("/demo?as=u-1001", &[]).await;
    assert_eq!(page.headers["cache-control"], "no-store");
    // The console's security headers: the page has no inline script or style.
    assert_eq!(
        page.headers["content-security-policy"],
        tandem_server::security::CONTENT_SECURITY_POLICY
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    let html = page.text();
    assert!(!html.contains("<style") && !html.contains(" style="), "no inline style");
    assert_eq!(html.matches("<script").count(), html.matches("<script src=").count());
    let css = app.get("/demo.css", &[]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.headers["x-content-type-options"], "nosniff");
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
    let id = CustomerId(session["customer"]["id"].as_i64().unwrap());
    let zhang = app.store.customer(id).await.unwrap().unwrap();
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
    // `tandem demo` on a database it did not seed.
    let router = tandem_server::router(state)
        .merge(tandem_demo::routes(Arc::clone(&store), tandem_demo::shop::DEFAULT_KEY));
    let app = TestApp::from_parts(router, store, directory, None).await;
    let page = app.get("/demo?as=u-1001", &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("data-inbox=\"pk_real\""));
    assert!(!html.contains("data-user-"), "no identity for a real workspace");
    assert!(!html.contains("?as="), "and no sign-in toggle");
}

#[tokio::test]
async fn a_production_server_serves_no_demo_route_even_on_the_demo_database() {
    let demo = demo().await;
    // `tandem serve` builds the application without the demo's routes.
    let state = tandem_server::build(
        Arc::clone(&demo.store),
        KnowledgeResponder::start(Arc::clone(&demo.store), Default::default()),
        Default::default(),
    )
    .await
    .unwrap();
    let router = tandem_server::router(state);
    for (method, uri) in [
        (Method::GET, "/demo"),
        (Method::GET, "/demo?as=u-1001"),
        (Method::GET, "/demo.css"),
        (Method::GET, "/demo/shop/api/orders/20241123001"),
        (Method::POST, "/demo/model/v1/chat/completions"),
    ] {
        let request = tandem_server::testing::build(method, uri, &[], Body::empty());
        let response = tower::ServiceExt::oneshot(router.clone(), request).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
    }
    // The same database behind the demo's router does have them.
    assert_eq!(demo.get("/demo", &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_signed_in_customer_files_an_exchange_through_the_demo_shop() {
    let app = demo().await;
    app.spawn().await;
    let session = app.signed_in_session(DEMO_USER_ID).await;
    let token = session["token"].as_str().unwrap();
    app.widget_send(token, "x-1", "我要换货").await;
    app.bot_reply_containing(token, "要换货的订单号").await;
    app.widget_send(token, "x-2", "20241123001").await;
    let filed = app.bot_reply_containing(token, "换货申请").await;
    assert!(filed.starts_with("已为您提交换货申请，申请号 E"), "{filed}");
    // The shop has it as an exchange: nothing refunded, and the order cannot be returned now.
    app.widget_send(token, "x-3", "订单 20241123001 我要退货").await;
    let refused = app.bot_reply_containing(token, "已经提交过").await;
    assert!(
        refused.contains(&filed["已为您提交换货申请，申请号 ".len()..filed.find('。').unwrap()]),
        "{refused}"
    );
}
