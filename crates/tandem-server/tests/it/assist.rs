//! Agent assist: suggestions, mood, alerts and the customer for a conversation a person owns,
//! and how the suggestions were used.

use axum::http::StatusCode;
use serde_json::{Value, json};
use tandem_server::testing::{AGENT, Session, TestApp};

/// The assist of `conversation` as the agent API answers it.
async fn assist(app: &TestApp, session: &Session, conversation: i64) -> Value {
    let uri = format!("/api/v1/conversations/{conversation}/assist");
    let response = app.get(&uri, &[("cookie", &session.cookie)]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

fn codes(assist: &Value) -> Vec<String> {
    assist["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| alert["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_agent_gets_suggestions_and_alerts_and_their_use_is_counted() {
    let app = TestApp::fixture().sample_articles().build().await;
    let token = app.widget_token().await;
    let first = app.widget_send(&token, "c1", "你好").await;
    let conversation = first.json()["message"]["conversation_id"].as_i64().unwrap();
    let agent = app.login(AGENT).await;
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    let taken = app.post_json(&transitions, &headers, json!({ "action": "assign" })).await;
    assert_eq!(taken.json()["conversation"]["state"], "human", "{}", taken.text());

    for (id, body) in
        [("c2", "我的手机号是13800138000"), ("c3", "再不退款我就打12315"), ("c4", "怎么退货")]
    {
        let sent = app.widget_send(&token, id, body).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    }

    let before = assist(&app, &agent, conversation).await;
    let suggestions = before["suggestions"].as_array().unwrap();
    assert_eq!(suggestions[0]["key"], "returns", "{before}");
    assert!(suggestions.len() <= 3);
    assert!(suggestions[0]["answer"].as_str().unwrap().contains("7 天内"));
    let codes = codes(&before);
    assert!(codes.contains(&"legal_threat".to_owned()), "{codes:?}");
    assert!(codes.contains(&"personal_data".to_owned()), "{codes:?}");
    assert!(!codes.contains(&"vip_waiting".to_owned()), "an anonymous visitor is no VIP");
    let legal = before["alerts"].as_array().unwrap().iter().find(|a| a["code"] == "legal_threat");
    assert!(!legal.unwrap()["why"].as_str().unwrap().is_empty());
    let seqs: Vec<i64> =
        before["emotions"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs.len(), 4, "one per customer message: {before}");
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "in order: {seqs:?}");
    assert_eq!(before["message_seq"], json!(seqs[3]));
    assert_eq!(before["acceptance"]["inserted"], 0);
    let shown = before["acceptance"]["shown"].as_u64().unwrap();
    assert!(shown >= 1, "{before}");
    assert_eq!(before["acceptance"]["ignored"].as_u64().unwrap(), shown);

    // The reply with the inserted answer unchanged, through the JSON API.
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let answer = suggestions[0]["answer"].as_str().unwrap();
    let request = json!({ "body": answer, "client_msg_id": "r1", "suggestion": "returns" });
    let replied = app.post_json(&messages, &headers, request.clone()).await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text());
    // A retry of the same reply is stored once and counted once; a note is never counted.
    assert_eq!(app.post_json(&messages, &headers, request).await.status, StatusCode::OK);
    let note = json!({ "body": "internal", "note": true, "suggestion": "returns" });
    assert_eq!(app.post_json(&messages, &headers, note).await.status, StatusCode::CREATED);
    // A suggestion that is no article key is refused before anything is sent.
    let bad = json!({ "body": "hi", "suggestion": "not a key!" });
    let refused = app.post_json(&messages, &headers, bad).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    // An edited one through the console's form.
    let form = app
        .post_form(
            &format!("/conversations/{conversation}/messages"),
            &[("cookie", &agent.cookie)],
            &[
                ("csrf", agent.csrf.as_str()),
                ("kind", "reply"),
                ("body", "您好，签收后 7 天内可以退货。"),
                ("client_msg_id", "r2"),
                ("suggestion", "returns"),
                ("suggestion_edited", "true"),
            ],
        )
        .await;
    assert_eq!(form.status, StatusCode::SEE_OTHER, "{}", form.text());
    assert!(!form.headers["location"].to_str().unwrap().contains("error"));

    let after = assist(&app, &agent, conversation).await;
    assert_eq!(
        after["acceptance"],
        json!({
            "shown": shown,
            "inserted": 2,
            "sent_unchanged": 1,
            "sent_edited": 1,
            "ignored": shown.saturating_sub(2),
        })
    );
    // The agent replied last: the customer no longer waits.
    assert!(!self::codes(&after).contains(&"vip_waiting".to_owned()));

    // The console shows the same panel, in the agent's language, with Insert buttons.
    let page =
        app.get(&format!("/conversations/{conversation}"), &[("cookie", &agent.cookie)]).await;
    let html = page.text();
    assert!(html.contains("data-insert=\"returns\""), "{html}");
    assert!(html.contains("data-alert=\"legal_threat\""));
    let fragment = app
        .get(&format!("/conversations/{conversation}/assist"), &[("cookie", &agent.cookie)])
        .await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(fragment.text().contains("data-alert=\"personal_data\""), "{}", fragment.text());
}

#[tokio::test]
async fn a_vip_waiting_is_an_alert_and_other_workspaces_see_nothing() {
    let app = TestApp::fixture().sample_articles().build().await;
    // A customer the business signed in and marked VIP.
    app.store
        .verified_customer(tandem_store::VerifiedCustomer {
            workspace_id: app.workspace,
            external_id: "vip-1".into(),
            name: Some("王芳".into()),
            email: None,
            locale: Some(tandem_domain::Locale::Zh),
            attributes: [("tier".to_owned(), "VIP".to_owned())].into(),
        })
        .await
        .unwrap();
    let session = app.signed_in_session("vip-1").await;
    let token = session["token"].as_str().unwrap().to_owned();
    let sent = app.widget_send(&token, "c1", "请问营业时间是几点").await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let agent = app.login(AGENT).await;
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    app.post_json(&transitions, &headers, json!({ "action": "assign" })).await;
    app.widget_send(&token, "c2", "还在吗？").await;
    let seen = assist(&app, &agent, conversation).await;
    assert_eq!(
        (&seen["customer"]["name"], &seen["customer"]["tier"]),
        (&json!("王芳"), &json!("VIP"))
    );
    assert!(codes(&seen).contains(&"vip_waiting".to_owned()), "{seen}");

    let other = app.store.create_workspace("Other shop").await.unwrap();
    app.store
        .create_user(tandem_store::NewUser {
            workspace_id: other.id,
            email: "out@example.com".into(),
            display_name: "Outsider".into(),
            role: tandem_domain::Role::Agent,
            locale: tandem_domain::Locale::En,
            password_hash: tandem_server::auth::hash_password("outsider-pass").unwrap(),
        })
        .await
        .unwrap();
    let outsider = app.login(("out@example.com", "outsider-pass")).await;
    let uri = format!("/api/v1/conversations/{conversation}/assist");
    let response = app.get(&uri, &[("cookie", &outsider.cookie)]).await;
    assert_eq!(
        (response.status, response.code().as_str()),
        (StatusCode::NOT_FOUND, "conversation_not_found")
    );
}
