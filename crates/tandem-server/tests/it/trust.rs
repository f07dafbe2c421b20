//! Trust and operations: every API error is JSON with a code, 429s say when to retry, failed
//! sign-ins are logged (without the password), URLs are logged by host only, large knowledge
//! imports, invisible messages and direction tricks in names, and retries past the rate limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_server::ServerConfig;
use tandem_server::testing::{ADMIN, AGENT, Session, TestApp, attribute, build, set_cookie};

/// Log lines written while the guard lives, on this thread (the tests' runtime is the current
/// thread, so the handlers and the workers they wake log here too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// A request with the session's cookie and CSRF token.
fn with_session(
    method: Method,
    uri: &str,
    session: &Session,
    content_type: &str,
    body: impl Into<Body>,
) -> axum::http::Request<Body> {
    let headers = [
        ("cookie", session.cookie.as_str()),
        ("x-csrf-token", session.csrf.as_str()),
        ("content-type", content_type),
    ];
    build(method, uri, &headers, body.into())
}

fn json_code(response: &tandem_server::testing::Response) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| panic!("not JSON ({}): {}", response.status, response.text()));
    let content_type = response.headers["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    assert!(body["message"].is_string(), "{body}");
    (response.status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn every_api_error_is_json_with_a_code() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let html = [("accept", "text/html"), ("cookie", admin.cookie.as_str())];
    // An unknown API route, even for a browser.
    let missing = app.get("/api/v1/nothing-here", &html).await;
    assert_eq!(json_code(&missing), (StatusCode::NOT_FOUND, "route_not_found".into()));
    // A method the route does not take: 405 with the methods it does.
    let wrong =
        app.send(build(Method::DELETE, "/api/v1/conversations", &html, Body::empty())).await;
    assert_eq!(json_code(&wrong), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed".into()));
    let allow = wrong.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET"), "{allow}");
    // A path parameter that is not an id.
    for uri in ["/api/v1/conversations/abc", "/api/v1/webhooks/1.5", "/api/v1/users/x"] {
        let method = if uri.contains("users") { Method::PATCH } else { Method::GET };
        let request = with_session(method, uri, &admin, "application/json", "{}");
        let bad = app.send(request).await;
        assert_eq!(
            json_code(&bad),
            (StatusCode::BAD_REQUEST, "invalid_path_parameter".into()),
            "{uri}"
        );
    }
    // A text body over the limit, and one that is not UTF-8.
    let big = "# x\n".repeat(20_000);
    let request = with_session(Method::POST, "/api/v1/actions/import", &admin, "text/plain", big);
    let too_large = app.send(request).await;
    assert_eq!(json_code(&too_large), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into()));
    let bytes = vec![b'a', 0xff, 0xfe];
    let request = with_session(Method::POST, "/api/v1/actions/import", &admin, "text/plain", bytes);
    let not_text = app.send(request).await;
    assert_eq!(json_code(&not_text), (StatusCode::BAD_REQUEST, "malformed_request".into()));
    // JSON that does not parse, and JSON of the wrong shape.
    let request = with_session(Method::POST, "/api/v1/webhooks", &admin, "application/json", "{");
    let broken = app.send(request).await;
    assert_eq!(json_code(&broken), (StatusCode::BAD_REQUEST, "malformed_request".into()));
    let request =
        with_session(Method::POST, "/api/v1/webhooks", &admin, "application/json", "{\"url\": 5}");
    let shape = app.send(request).await;
    assert_eq!(json_code(&shape), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input".into()));
    // The console keeps its pages.
    let page = app.get("/no-such-page", &html).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn every_error_code_has_a_sentence_in_both_languages() {
    let app = TestApp::new().await;
    let document = app.get("/openapi.json", &[]).await.json();
    let codes = document["components"]["schemas"]["ErrorCode"]["enum"].as_array().unwrap();
    assert!(codes.contains(&json!("invalid_path_parameter")), "{codes:?}");
    for locale in [
        include_str!("../../../tandem-locales/locales/en.toml"),
        include_str!("../../../tandem-locales/locales/zh.toml"),
    ] {
        let table: toml::Table = locale.parse().unwrap();
        let errors = table["errors"].as_table().unwrap();
        for code in codes {
            assert!(errors.contains_key(code.as_str().unwrap()), "{code} has no sentence");
        }
    }
}

/// Posts the sign-in form with a fresh login cookie and token.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> tandem_server::testing::Response {
    let page = app.get("/login", &[]).await;
    let login_cookie = set_cookie(&page.headers, "tandem_login").expect("login cookie");
    let csrf = attribute(&page.text(), "name=\"csrf\" value=\"");
    app.post_form(
        "/login",
        &[("cookie", &format!("tandem_login={login_cookie}"))],
        &[("email", email), ("password", password), ("csrf", &csrf)],
    )
    .await
}

#[tokio::test]
async fn refused_sign_ins_are_logged_and_a_429_says_when_to_retry() {
    let app =
        TestApp::with_config(ServerConfig { login_per_minute: 2, ..ServerConfig::default() }).await;
    let (logs, _guard) = Logs::capture();
    let (email, _) = AGENT;
    let wrong = sign_in(&app, email, "hunter2-not-it").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let unknown = sign_in(&app, "nobody@example.com", "hunter3-not-it").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let limited = sign_in(&app, email, "hunter4-not-it").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let text = logs.text();
    let lines: Vec<&str> = text.lines().filter(|line| line.contains("sign-in refused")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, reason) in lines.iter().zip(["wrong_password", "unknown_email", "rate_limited"]) {
        assert!(line.contains(&format!("reason=\"{reason}\"")), "{line}");
        assert!(line.contains("client_ip=127.0.0.1"), "{line}");
    }
    let (name, domain) = email.split_once('@').unwrap();
    assert!(lines[0].contains(&format!("{}***@{domain}", &name[..1])), "{}", lines[0]);
    assert!(!text.contains(email) && !text.contains("nobody@"), "an address is logged: {text}");
    assert!(!text.contains("hunter"), "a password is logged: {text}");
}

#[tokio::test]
async fn webhook_urls_are_logged_by_host_only() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let receiver = axum::Router::new().fallback(|| async { StatusCode::OK });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, receiver).await;
    });
    let (logs, _guard) = Logs::capture();
    let url = format!("http://{address}/hooks/T0/s3cr3t-path?token=t0ken-in-query");
    let body = json!({ "url": url, "events": ["message.created"] }).to_string();
    let request = with_session(Method::POST, "/api/v1/webhooks", &admin, "application/json", body);
    let created = app.send(request).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_i64().unwrap();
    let uri = format!("/api/v1/webhooks/{id}/test");
    let test = app.send(with_session(Method::POST, &uri, &admin, "application/json", "")).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.text());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !logs.text().contains("webhook delivered") {
        assert!(Instant::now() < deadline, "no delivery was logged: {}", logs.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = logs.text();
    assert!(text.contains(&format!("host=http://{address}")), "{text}");
    assert!(!text.contains("s3cr3t") && !text.contains("t0ken"), "a URL is logged: {text}");
}

#[tokio::test]
async fn a_knowledge_import_may_be_larger_than_other_bodies() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let answer = "Gift wrapping is free: tick the box at checkout. ".repeat(300);
    let body: String = (0..8)
        .map(|n| {
            let article = json!({
                "id": format!("big-{n}"),
                "title": format!("Big article {n}"),
                "questions": [format!("question number {n}?")],
                "answer": answer,
            });
            format!("{article}\n")
        })
        .collect();
    assert!(body.len() > 100 * 1024, "{}", body.len());
    let uri = "/api/v1/articles/import?format=jsonl";
    let imported = app.send(with_session(Method::POST, uri, &admin, "text/plain", body)).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    assert_eq!(imported.json()["imported"], 8);
    // Other bodies keep the small limit.
    let big = json!({ "url": format!("https://example.com/{}", "x".repeat(70_000)), "events": [] });
    let request =
        with_session(Method::POST, "/api/v1/webhooks", &admin, "application/json", big.to_string());
    let refused = app.send(request).await;
    assert_eq!(json_code(&refused), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into()));
}

#[tokio::test]
async fn a_message_of_invisible_characters_is_refused() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    for body in ["\u{200B}", "\u{200B}\u{200D}\u{2060}\u{FEFF}", " \u{00AD}\u{FE0F}\u{202E} "] {
        let refused = app.widget_send(&token, "invisible", body).await;
        assert_eq!(
            (refused.status, refused.code().as_str(), refused.json()["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", json!("body")),
            "{body:?}"
        );
    }
    let listed = app.widget_messages(&token).await;
    assert_eq!(listed["conversation"], Value::Null, "nothing was stored");
    let fine = app.widget_send(&token, "visible", "ok\u{200B}").await;
    assert_eq!(fine.status, StatusCode::CREATED, "{}", fine.text());
}

#[tokio::test]
async fn direction_controls_in_names_are_refused() {
    let app = TestApp::new().await;
    let trick = "Ann\u{202E}gnp.exe";
    // A signed-in customer's name.
    let secret = app.identity_secret().await;
    let hash = tandem_server::auth::user_hash(&secret, "u-1");
    let response =
        app.widget_session(json!({ "user_id": "u-1", "user_hash": hash, "name": trick })).await;
    assert_eq!(
        (response.status, response.code().as_str(), response.json()["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", json!("name")),
        "{}",
        response.text()
    );
    assert!(response.json()["message"].as_str().unwrap().contains("control characters"));
    // An agent's name, created and changed.
    let admin = app.login(ADMIN).await;
    let new_user = json!({
        "email": "mallory@example.com",
        "display_name": "\u{2067}Mallory\u{2069}",
        "role": "agent",
        "password": "long enough password",
    });
    let request = with_session(
        Method::POST,
        "/api/v1/users",
        &admin,
        "application/json",
        new_user.to_string(),
    );
    let created = app.send(request).await;
    assert_eq!(
        (created.status, created.code().as_str(), created.json()["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", json!("display_name")),
        "{}",
        created.text()
    );
    let me = app.get("/api/v1/me", &[("cookie", &admin.cookie)]).await.json();
    let uri = format!("/api/v1/users/{}", me["id"]);
    let change = json!({ "display_name": "Boss\u{200F}" }).to_string();
    let changed =
        app.send(with_session(Method::PATCH, &uri, &admin, "application/json", change)).await;
    assert_eq!(
        (changed.status, changed.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        "{}",
        changed.text()
    );
}

#[tokio::test]
async fn a_retry_of_a_stored_message_is_answered_past_the_rate_limit() {
    let app = TestApp::with_config(ServerConfig {
        widget_burst: 1,
        widget_per_minute: 1,
        ..ServerConfig::default()
    })
    .await;
    let token = app.widget_token().await;
    let first = app.widget_send(&token, "m-1", "where is my order?").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let retry = app.widget_send(&token, "m-1", "where is my order?").await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text());
    assert_eq!(retry.json()["message"]["id"], first.json()["message"]["id"]);
    let new = app.widget_send(&token, "m-2", "hello?").await;
    assert_eq!((new.status, new.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(new.headers.contains_key("retry-after"));
}

#[test]
fn api_handlers_read_paths_through_the_json_error_extractor() {
    let api = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    for entry in std::fs::read_dir(api).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for (number, line) in source.lines().enumerate() {
            assert!(
                !line.contains(": Path<"),
                "{}:{}: use ApiPath, whose rejection is JSON: {line}",
                path.display(),
                number + 1
            );
        }
    }
}
