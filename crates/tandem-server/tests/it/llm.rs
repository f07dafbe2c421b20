//! The workspace's model settings over the API: off by default, admins only, checked.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use tandem_server::testing::{ADMIN, AGENT, TestApp, build};

#[tokio::test]
async fn admins_turn_the_model_on_and_bad_settings_are_refused() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let shown = app.get("/api/v1/llm/settings", &[("cookie", &admin.cookie)]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let mut settings = shown.json();
    assert_eq!(
        (settings["enabled"].clone(), settings["allow_external"].clone()),
        (json!(false), json!(false))
    );
    let headers = [
        ("cookie", admin.cookie.as_str()),
        ("x-csrf-token", admin.csrf.as_str()),
        ("content-type", "application/json"),
    ];
    settings["enabled"] = json!(true);
    settings["allow_external"] = json!(true);
    settings["base_url"] = json!("https://llm.example/v1");
    settings["model"] = json!("qwen-plus");
    let saved = app
        .send(build(
            Method::PUT,
            "/api/v1/llm/settings",
            &headers,
            Body::from(settings.to_string()),
        ))
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let again = app.get("/api/v1/llm/settings", &[("cookie", &admin.cookie)]).await.json();
    assert_eq!(
        (again["enabled"].clone(), again["model"].clone()),
        (json!(true), json!("qwen-plus"))
    );

    settings["base_url"] = json!("ftp://llm.example");
    let bad = app
        .send(build(
            Method::PUT,
            "/api/v1/llm/settings",
            &headers,
            Body::from(settings.to_string()),
        ))
        .await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(bad.text().contains("base_url"), "{}", bad.text());

    let agent = app.login(AGENT).await;
    let refused = app.get("/api/v1/llm/settings", &[("cookie", &agent.cookie)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
