//! The WebSockets over a real loopback socket: live pushes, resume after reconnect, privacy.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use tandem_server::testing::{AGENT, TestApp};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        if let Frame::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Reads frames until one of type `kind` satisfies `accept`.
async fn wait_for(socket: &mut Socket, kind: &str, accept: impl Fn(&Value) -> bool) -> Value {
    loop {
        let frame = next_json(socket).await;
        if frame["type"] == kind && accept(&frame) {
            return frame;
        }
    }
}

async fn console_socket(
    address: &str,
    cookie: &str,
    origin: Option<&str>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("ws://{address}/api/v1/console/ws").into_client_request().unwrap();
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

#[tokio::test]
async fn console_sees_customer_messages_live_and_widget_sees_the_reply() {
    let app = TestApp::new().await;
    let address = app.spawn().await;
    let agent = app.login(AGENT).await;
    let mut console =
        console_socket(&address, &agent.cookie, Some(&format!("http://{address}"))).await.unwrap();
    let token = app.widget_token().await;
    let (mut widget, _) =
        tokio_tungstenite::connect_async(format!("ws://{address}/api/v1/widget/ws?token={token}"))
            .await
            .unwrap();

    let sent = app.widget_send(&token, "live-1", "Where is order 20241123001?").await.json();
    let conversation = sent["message"]["conversation_id"].as_i64().unwrap();
    let pushed =
        wait_for(&mut console, "message", |frame| frame["message"]["client_msg_id"] == "live-1")
            .await;
    assert_eq!(pushed["conversation"]["id"], conversation);
    // The placeholder bot answers, and the widget hears it.
    wait_for(&mut widget, "message", |frame| frame["message"]["author_kind"] == "bot").await;

    let reply = app
        .post_json(
            &format!("/api/v1/conversations/{conversation}/messages"),
            &[("cookie", &agent.cookie), ("x-csrf-token", &agent.csrf)],
            json!({ "body": "It ships today." }),
        )
        .await;
    assert_eq!(reply.status, axum::http::StatusCode::CREATED);
    let state =
        wait_for(&mut widget, "conversation", |frame| frame["conversation"]["state"] == "human")
            .await;
    assert_eq!(state["conversation"]["assignee_name"], "Emily Chen");
    let message =
        wait_for(&mut widget, "message", |frame| frame["message"]["author_kind"] == "agent").await;
    assert_eq!(message["message"]["body"], "It ships today.");
}

#[tokio::test]
async fn reconnecting_widget_resumes_after_its_last_seq_and_never_sees_notes() {
    let app = TestApp::new().await;
    let address = app.spawn().await;
    let token = app.widget_token().await;
    let agent = app.login(AGENT).await;
    let first = app.widget_send(&token, "r-1", "first").await.json();
    let conversation = first["message"]["conversation_id"].as_i64().unwrap();
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let uri = format!("/api/v1/conversations/{conversation}/messages");
    // Taking over silences the bot, so the transcript is exactly what we write.
    app.post_json(
        &format!("/api/v1/conversations/{conversation}/transitions"),
        &headers,
        json!({ "action": "assign" }),
    )
    .await;
    app.post_json(&uri, &headers, json!({ "body": "secret note", "note": true })).await;
    app.post_json(&uri, &headers, json!({ "body": "answer one" })).await;
    app.post_json(&uri, &headers, json!({ "body": "answer two" })).await;

    let all =
        app.store.messages(tandem_domain::ConversationId(conversation), 0, 100).await.unwrap();
    let last_seen = all.iter().find(|m| m.body == "answer one").unwrap().seq;
    let url = format!("ws://{address}/api/v1/widget/ws?token={token}&after_seq={last_seen}");
    let (mut widget, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let state = next_json(&mut widget).await;
    assert_eq!(state["type"], "conversation");
    let resumed = next_json(&mut widget).await;
    assert_eq!(resumed["message"]["body"], "answer two", "only what came after {last_seen}");

    // From the start: everything but the note, in order.
    let (mut fresh, _) = tokio_tungstenite::connect_async(format!(
        "ws://{address}/api/v1/widget/ws?token={token}&after_seq=0"
    ))
    .await
    .unwrap();
    let mut bodies = Vec::new();
    let mut seqs = Vec::new();
    while bodies.len() < all.len() - 1 {
        let frame = next_json(&mut fresh).await;
        if frame["type"] == "message" {
            bodies.push(frame["message"]["body"].as_str().unwrap().to_owned());
            seqs.push(frame["message"]["seq"].as_i64().unwrap());
        }
    }
    assert!(!bodies.iter().any(|body| body == "secret note"));
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(bodies.last().map(String::as_str), Some("answer two"));
}

#[tokio::test]
async fn widget_can_send_over_its_socket_and_gets_an_ack() {
    let app = TestApp::new().await;
    let address = app.spawn().await;
    let token = app.widget_token().await;
    let (mut widget, _) =
        tokio_tungstenite::connect_async(format!("ws://{address}/api/v1/widget/ws?token={token}"))
            .await
            .unwrap();
    let frame = json!({ "type": "message", "client_msg_id": "ws-1", "body": "你好" });
    widget.send(Frame::Text(frame.to_string().into())).await.unwrap();
    let ack = wait_for(&mut widget, "ack", |_| true).await;
    assert_eq!(ack["client_msg_id"], "ws-1");
    assert_eq!(ack["message"]["seq"], 1);
    widget
        .send(Frame::Text(
            json!({ "type": "message", "client_msg_id": "ws-2", "body": "  " }).to_string().into(),
        ))
        .await
        .unwrap();
    let error = wait_for(&mut widget, "error", |_| true).await;
    assert_eq!(
        (error["client_msg_id"].as_str(), error["code"].as_str()),
        (Some("ws-2"), Some("invalid_input"))
    );
    widget.send(Frame::Text("not json".into())).await.unwrap();
    assert_eq!(wait_for(&mut widget, "error", |_| true).await["code"], "malformed_request");
}

#[tokio::test]
async fn sockets_refuse_bad_tokens_and_cross_site_console_connections() {
    let app = TestApp::new().await;
    let address = app.spawn().await;
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{address}/api/v1/widget/ws?token=forged"))
            .await;
    assert!(
        matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(ref response)) if response.status() == 401),
        "{refused:?}"
    );
    let agent = app.login(AGENT).await;
    let cross_site = console_socket(&address, &agent.cookie, Some("https://evil.example")).await;
    assert!(
        matches!(cross_site, Err(tokio_tungstenite::tungstenite::Error::Http(ref response)) if response.status() == 403)
    );
    let anonymous = console_socket(&address, "tandem_session=nope", None).await;
    assert!(
        matches!(anonymous, Err(tokio_tungstenite::tungstenite::Error::Http(ref response)) if response.status() == 401)
    );
}
