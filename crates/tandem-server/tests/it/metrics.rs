//! Operations: `/metrics` counts what happened (messages, bot turns, hand-offs, sockets,
//! webhook deliveries, store writes), `/livez` and `/readyz` answer, and only whom the access
//! rule allows reads `/metrics`.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;
use tandem_server::ServerConfig;
use tandem_server::testing::{ADMIN, AGENT, TestApp, build};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// `/metrics` over a real loopback connection, with extra headers.
async fn scrape_with(address: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("http://{address}/metrics"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn scrape(address: &str) -> String {
    let response = scrape_with(address, &[]).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of the sample `series` (name and labels as written, e.g.
/// `tandem_messages_total{author="customer"}`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The sum of every sample of `name` whose labels contain `labels`.
fn total(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Scrapes until `ready` accepts the text (up to 10 s).
async fn scrape_until(address: &str, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(address).await;
        if ready(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} never showed in /metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A webhook receiver that accepts everything.
async fn receiver() -> String {
    let router = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

#[tokio::test]
async fn metrics_count_messages_turns_hand_offs_sockets_and_webhooks() {
    let app = TestApp::new().await;
    let address = app.spawn().await;
    let admin = app.login(ADMIN).await;
    let url = receiver().await;
    let created = app
        .send(build(
            Method::POST,
            "/api/v1/webhooks",
            &[
                ("cookie", admin.cookie.as_str()),
                ("x-csrf-token", admin.csrf.as_str()),
                ("content-type", "application/json"),
            ],
            axum::body::Body::from(
                json!({ "url": url, "events": ["conversation.handed_off"] }).to_string(),
            ),
        ))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());

    let before = scrape(&address).await;
    assert_eq!(sample(&before, "tandem_sockets{kind=\"widget\"}").unwrap_or(0.0), 0.0);
    for name in [
        "# TYPE tandem_store_write_seconds histogram",
        "tandem_store_write_seconds_bucket{le=\"+Inf\"}",
    ] {
        assert!(before.contains(name), "{name} missing:\n{before}");
    }

    let token = app.widget_token().await;
    let (widget, _) =
        tokio_tungstenite::connect_async(format!("ws://{address}/api/v1/widget/ws?token={token}"))
            .await
            .unwrap();
    let agent = app.login(AGENT).await;
    let mut request = format!("ws://{address}/api/v1/console/ws").into_client_request().unwrap();
    request.headers_mut().insert("cookie", agent.cookie.parse().unwrap());
    request.headers_mut().insert("origin", format!("http://{address}").parse().unwrap());
    let (console, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    scrape_until(&address, "the open widget and console sockets", |text| {
        sample(text, "tandem_sockets{kind=\"widget\"}") == Some(1.0)
            && sample(text, "tandem_sockets{kind=\"console\"}") == Some(1.0)
    })
    .await;

    let sent = app.widget_send(&token, "metrics-1", "Where is order 20241123001?").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let text = scrape_until(&address, "the customer's message and the bot's turn", |text| {
        sample(text, "tandem_messages_total{author=\"customer\"}").unwrap_or(0.0) >= 1.0
            && sample(text, "tandem_messages_total{author=\"bot\"}").unwrap_or(0.0) >= 1.0
            && total(text, "tandem_bot_turns_total", "outcome=") >= 1.0
    })
    .await;
    assert!(sample(&text, "tandem_store_write_seconds_count").unwrap() >= 2.0, "{text}");

    let sent = app.widget_send(&token, "metrics-2", "我要投诉，转人工").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let text = scrape_until(&address, "the hand-off and its webhook", |text| {
        total(text, "tandem_handoffs_total", "reason=") >= 1.0
            && sample(text, "tandem_webhook_deliveries_total{outcome=\"delivered\"}").unwrap_or(0.0)
                >= 1.0
    })
    .await;
    assert!(
        total(&text, "tandem_handoffs_total", "reason=\"asks_for_human\"")
            + total(&text, "tandem_handoffs_total", "reason=\"complaint\"")
            >= 1.0,
        "{text}"
    );
    // The queue gauges are read at scrape time from the routing service.
    assert!(text.contains("# TYPE tandem_queue_waiting gauge"), "{text}");
    assert!(text.contains("tandem_queue_oldest_wait_seconds{workspace="), "{text}");

    drop((widget, console));
    scrape_until(&address, "the closed sockets", |text| {
        sample(text, "tandem_sockets{kind=\"widget\"}") == Some(0.0)
            && sample(text, "tandem_sockets{kind=\"console\"}") == Some(0.0)
    })
    .await;
}

#[tokio::test]
async fn metrics_are_for_loopback_or_the_configured_token_only() {
    let app = TestApp::new().await;
    // No peer address (as through a socket not known to be local): refused.
    let refused = app.get("/metrics", &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let address = app.spawn().await;
    assert_eq!(scrape_with(&address, &[]).await.status(), reqwest::StatusCode::OK);
    // A proxy on the same host forwarded it: not local after all.
    let forwarded = scrape_with(&address, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(forwarded.status(), reqwest::StatusCode::UNAUTHORIZED);

    let config = ServerConfig { metrics_token: Some("scrape-s3cret".into()), ..Default::default() };
    let app = TestApp::with_config(config).await;
    let address = app.spawn().await;
    assert_eq!(scrape_with(&address, &[]).await.status(), reqwest::StatusCode::UNAUTHORIZED);
    let wrong = scrape_with(&address, &[("authorization", "Bearer scrape-s3cre")]).await;
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    let right = app.get("/metrics", &[("authorization", "Bearer scrape-s3cret")]).await;
    assert_eq!(right.status, StatusCode::OK);
    assert!(right.text().contains("tandem_store_write_seconds_count"), "{}", right.text());
}

#[tokio::test]
async fn liveness_and_readiness_answer() {
    let app = TestApp::new().await;
    let live = app.get("/livez", &[]).await;
    assert_eq!((live.status, live.text().as_str()), (StatusCode::OK, "ok"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = app.get("/readyz", &[]).await;
        if ready.status == StatusCode::OK {
            assert_eq!(ready.json()["status"], "ready");
            assert_eq!(ready.json()["checks"]["store"], "ok");
            break;
        }
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "never ready: {}", ready.text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The old health check still answers.
    assert_eq!(app.get("/healthz", &[]).await.status, StatusCode::OK);
}
