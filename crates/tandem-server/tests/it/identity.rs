//! Identity verification: a business signs its signed-in user's id with the inbox's identity
//! secret; the widget session with a valid hash is that user's one verified customer on every
//! device, a wrong hash is refused, and anonymous visitors never become verified.

use axum::http::StatusCode;
use serde_json::{Value, json};
use tandem_domain::CustomerId;
use tandem_server::auth::user_hash;

use tandem_server::testing::{ADMIN, AGENT, SIGNED_IN_USER, SUPERVISOR, Session, TestApp};

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
    let app = TestApp::fixture().conversations().build().await;
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

    // The fixture's signed-in customer is the shop's u-1001 with his history.
    let zhang = app.signed_in_session(SIGNED_IN_USER.0).await;
    assert_eq!(zhang["customer"]["name"], SIGNED_IN_USER.1);
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

async fn post_api(app: &TestApp, session: &Session, uri: &str) -> tandem_server::testing::Response {
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
        assert_eq!((shown.status, shown.code().as_str()), (StatusCode::FORBIDDEN, "admins_only"));
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
