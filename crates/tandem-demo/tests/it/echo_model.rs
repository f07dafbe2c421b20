//! The echo model streamed to the widget over its socket: drafts that grow clause by clause,
//! then the stored reply with its source.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tandem_domain::ConversationId;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::demo;

/// The widget's frames until the bot's stored reply (and the end of its draft) arrive.
async fn frames_until_reply(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Vec<Value> {
    let mut frames = Vec::new();
    let mut replied = false;
    let mut ended = false;
    while !(replied && ended) {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        let Frame::Text(text) = frame else { continue };
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        replied |= frame["type"] == "message" && frame["message"]["author_kind"] == "bot";
        ended |= frame["type"] == "draft" && frame["done"] == true;
        frames.push(frame);
    }
    frames
}

#[tokio::test]
async fn the_widget_sees_the_answer_grow_and_then_the_stored_reply_with_its_source() {
    let app = demo().await;
    let address = app.spawn().await;
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    let mut settings =
        tandem_bot::model::llm_settings(app.store.as_ref(), workspace).await.unwrap();
    settings.enabled = true;
    settings.model = "echo:0:10".into();
    tandem_bot::model::save_llm_settings(app.store.as_ref(), workspace, &settings).await.unwrap();

    let token = app.widget_token().await;
    let (mut widget, _) =
        tokio_tungstenite::connect_async(format!("ws://{address}/api/v1/widget/ws?token={token}"))
            .await
            .unwrap();
    let sent = app.widget_send(&token, "s-1", "什么时候发货").await.json();
    let asked = sent["message"]["seq"].as_i64().unwrap();
    let frames = frames_until_reply(&mut widget).await;

    let drafts: Vec<&str> = frames
        .iter()
        .filter(|frame| frame["type"] == "draft" && frame["done"] == false)
        .map(|frame| {
            assert_eq!(frame["reply_to"], asked);
            frame["text"].as_str().unwrap()
        })
        .collect();
    assert!(drafts.len() >= 3, "the answer grows clause by clause: {drafts:?}");
    for pair in drafts.windows(2) {
        assert!(pair[1].starts_with(pair[0]) && pair[1].len() > pair[0].len(), "{pair:?}");
    }
    assert!(drafts.iter().all(|text| !text.contains("[ref:")), "{drafts:?}");
    let reply = frames
        .iter()
        .find(|frame| frame["type"] == "message" && frame["message"]["author_kind"] == "bot")
        .unwrap();
    let body = reply["message"]["body"].as_str().unwrap();
    assert!(body.starts_with("现货商品在付款后 48 小时内发货"), "{body}");
    assert_eq!(body, *drafts.last().unwrap(), "the last draft is the answer");
    assert_eq!(reply["message"]["meta"]["source"]["article"], "shipping", "{reply}");

    let conversation = ConversationId(sent["message"]["conversation_id"].as_i64().unwrap());
    let decisions = app.store.decisions(conversation).await.unwrap();
    let llm = decisions.last().unwrap().1.llm.clone().expect("the model was asked");
    assert_eq!(llm.outcome.as_str(), "used");
    assert!(llm.completion_tokens > 0);
}
