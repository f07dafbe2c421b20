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

/// Sends "转人工" as a new widget visitor and waits until the conversation left the bot: the
/// visitor's token and the conversation's id.
async fn handed_off(app: &TestApp) -> (String, i64) {
    let token = app.widget_token().await;
    app.widget_send(&token, "h1", "怎么退货").await;
    app.widget_send(&token, "h2", "转人工").await;
    let bearer = format!("Bearer {token}");
    for _ in 0..100 {
        let state = app.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await.json();
        if state["conversation"]["state"] != "bot" {
            return (token, state["conversation"]["id"].as_i64().unwrap());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the conversation was not handed off");
}

fn alert<'a>(assist: &'a Value, code: &str) -> Option<&'a Value> {
    assist["alerts"].as_array().unwrap().iter().find(|alert| alert["code"] == code)
}

#[tokio::test]
async fn a_first_reply_past_the_queues_target_is_an_alert_until_an_agent_answers() {
    let app = TestApp::fixture().sample_articles().build().await;
    let (_token, conversation) = handed_off(&app).await;
    let agent = app.login(AGENT).await;
    // Just handed off: minutes left of the queue's target.
    let fresh = assist(&app, &agent, conversation).await;
    assert!(alert(&fresh, "sla_breach_soon").is_none(), "{fresh}");

    // The queue's target shortened to nothing: the wait is already past it.
    let queue_id = app.store.conversation(tandem_domain::ConversationId(conversation)).await;
    let queue_id = queue_id.unwrap().unwrap().queue_id.expect("routed to a queue");
    let queues = app.store.queues(app.workspace).await.unwrap();
    let mut queue = queues.into_iter().find(|queue| queue.id == queue_id).unwrap();
    queue.routing.sla_ms = 1;
    app.store.update_queue(queue).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let late = assist(&app, &agent, conversation).await;
    let why = alert(&late, "sla_breach_soon").expect("the SLA alert")["why"].as_str().unwrap();
    assert!(why.contains("has just passed"), "{why}");
    // The console words it in the agent's language.
    let fragment = app
        .get(&format!("/conversations/{conversation}/assist"), &[("cookie", &agent.cookie)])
        .await
        .text();
    assert!(fragment.contains("data-alert=\"sla_breach_soon\""), "{fragment}");

    // An agent's first reply stops the clock.
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let reply = json!({ "body": "您好，我来帮您。", "client_msg_id": "a1" });
    let replied = app.post_json(&messages, &headers, reply).await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text());
    let answered = assist(&app, &agent, conversation).await;
    assert!(alert(&answered, "sla_breach_soon").is_none(), "{answered}");
}

/// Turns the workspace's model on, pointed at `server`.
async fn model_on(app: &TestApp, server: &tandem_llm::mock::MockServer) {
    tandem_bot::model::save_llm_settings(app.store.as_ref(), app.workspace, &server.settings())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_agent_gets_a_verified_draft_to_edit_and_never_an_unsupported_one() {
    use tandem_llm::mock::{MockServer, Reply};
    let app = TestApp::fixture().sample_articles().build().await;
    let (_token, conversation) = handed_off(&app).await;
    let agent = app.login(AGENT).await;
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let uri = format!("/api/v1/conversations/{conversation}/assist/draft");
    let panel = format!("/conversations/{conversation}/assist");

    // The model is off: no button, and the endpoint says why.
    assert_eq!(assist(&app, &agent, conversation).await["can_draft"], false);
    assert!(!app.get(&panel, &[("cookie", &agent.cookie)]).await.text().contains("data-draft="));
    let off = app.post_json(&uri, &headers, json!({})).await;
    assert_eq!((off.status, off.code().as_str()), (StatusCode::CONFLICT, "model_off"));

    let server = MockServer::start(vec![
        Reply::Text("签收后 7 天内可无理由退货 [ref:returns]。"),
        Reply::Text("签收后 30 天内可以退货 [ref:returns]。"),
    ])
    .await;
    model_on(&app, &server).await;
    assert_eq!(assist(&app, &agent, conversation).await["can_draft"], true);
    let html = app.get(&panel, &[("cookie", &agent.cookie)]).await.text();
    assert!(html.contains(&format!("data-draft=\"{uri}\"")), "{html}");

    let before = app.store.conversation(tandem_domain::ConversationId(conversation)).await;
    let last_seq = before.unwrap().unwrap().last_seq;
    let drafted = app.post_json(&uri, &headers, json!({})).await;
    assert_eq!(drafted.status, StatusCode::OK, "{}", drafted.text());
    let draft = drafted.json();
    assert_eq!(draft["text"], "签收后 7 天内可无理由退货。", "{draft}");
    assert_eq!(draft["articles"][0], "returns");
    assert_eq!(draft["llm"]["outcome"], "used");
    // The question drafted for is the one with suggestions, not the "转人工" after it.
    let body = server.bodies()[0].to_string();
    assert!(body.contains("怎么退货"), "{body}");

    let rejected = app.post_json(&uri, &headers, json!({})).await.json();
    assert_eq!(rejected["text"], Value::Null, "{rejected}");
    assert_eq!(rejected["llm"]["outcome"], "rejected");
    assert_eq!(rejected["llm"]["rejected_claims"], json!(["30 天"]));

    // A draft is never sent: the conversation has no message more than before.
    let after = app.store.conversation(tandem_domain::ConversationId(conversation)).await;
    assert_eq!(after.unwrap().unwrap().last_seq, last_seq);

    // Without CSRF a session may not ask.
    let forged = app.post_json(&uri, &[("cookie", agent.cookie.as_str())], json!({})).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

/// A shop API on loopback: `GET /orders/{number}` answers its status and counts the calls.
async fn shop() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = axum::Router::new().route(
        "/orders/{number}",
        axum::routing::get(move |axum::extract::Path(number): axum::extract::Path<String>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({ "number": number, "status": "已发货 shipped" }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{address}"), calls)
}

#[tokio::test]
async fn an_agent_runs_a_business_action_and_sees_the_reply_before_sending_it() {
    let (base, calls) = shop().await;
    let toml = format!(
        r#"
[[action]]
key = "order-status"
name = "查询订单"
triggers = ["查一下物流状态"]
[[action.params]]
name = "order_number"
kind = "order_number"
ask = {{ zh = "请提供订单号", en = "Your order number, please" }}
[[action.steps]]
method = "GET"
url = "{base}/orders/{{order_number}}"
extract = {{ status = "/status" }}
[action.replies]
done = {{ zh = "订单 {{order_number}}：{{status}}", en = "Order {{order_number}}: {{status}}" }}
not_found = {{ zh = "没有找到订单", en = "No such order" }}
error = {{ zh = "系统繁忙", en = "The system is busy" }}

[[action]]
key = "refund"
name = "申请退款"
requires_verified = true
triggers = ["帮我退款"]
[[action.steps]]
method = "GET"
url = "{base}/orders/refund"
[action.replies]
done = {{ zh = "已提交", en = "Submitted" }}
not_found = {{ zh = "没有找到", en = "Not found" }}
error = {{ zh = "系统繁忙", en = "Busy" }}
"#
    );
    let app = TestApp::fixture().actions(&toml).build().await;
    let token = app.widget_token().await;
    let first = app.widget_send(&token, "c1", "你好").await;
    let conversation = first.json()["message"]["conversation_id"].as_i64().unwrap();
    let agent = app.login(AGENT).await;
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    app.post_json(&transitions, &headers, json!({ "action": "assign" })).await;

    // Before the customer gives an order number the action waits for it.
    let waiting = assist(&app, &agent, conversation).await;
    let actions = waiting["actions"].as_array().unwrap().clone();
    assert_eq!(actions.len(), 2, "{waiting}");
    assert_eq!(
        (actions[0]["key"].as_str(), actions[0]["runnable"].as_bool()),
        (Some("order-status"), Some(false))
    );
    assert_eq!(actions[0]["missing"], json!(["order_number"]));
    assert_eq!(actions[1]["needs_verified_customer"], true);
    let run = format!("/api/v1/conversations/{conversation}/assist/actions/order-status");
    let early = app.post_json(&run, &headers, json!({})).await;
    assert_eq!(
        (early.status, early.code().as_str()),
        (StatusCode::CONFLICT, "action_params_missing")
    );
    assert!(early.json()["message"].as_str().unwrap().contains("order_number"));

    app.widget_send(&token, "c2", "订单 20241123001 怎么还没到").await;
    let ready = assist(&app, &agent, conversation).await;
    assert_eq!(ready["actions"][0]["found"], json!({ "order_number": "20241123001" }), "{ready}");
    assert_eq!(ready["actions"][0]["runnable"], true);
    let last_seq = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .conversation(tandem_domain::ConversationId(conversation))
                .await
                .unwrap()
                .unwrap()
                .last_seq
        }
    };
    let before = last_seq(&app).await;
    let ran = app.post_json(&run, &headers, json!({})).await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.text());
    let ran = ran.json();
    assert_eq!(ran["reply"], "订单 20241123001：已发货 shipped", "{ran}");
    assert_eq!(ran["record"]["outcome"], "done");
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(last_seq(&app).await, before, "nothing reaches the customer by itself");

    // Identity rules hold for agents too; an unknown key is not found; CSRF is required.
    let refund = format!("/api/v1/conversations/{conversation}/assist/actions/refund");
    let refused = app.post_json(&refund, &headers, json!({})).await;
    assert_eq!(refused.code(), "customer_not_verified");
    let unknown = format!("/api/v1/conversations/{conversation}/assist/actions/nope");
    assert_eq!(app.post_json(&unknown, &headers, json!({})).await.code(), "action_not_found");
    let forged = app.post_json(&run, &[("cookie", agent.cookie.as_str())], json!({})).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    // The console's panel offers Run for the one that can run.
    let page =
        app.get(&format!("/conversations/{conversation}"), &[("cookie", &agent.cookie)]).await;
    let html = page.text();
    assert!(html.contains(&format!("data-run-action=\"{run}\"")), "{html}");
    assert!(!html.contains(&format!("data-run-action=\"{refund}\"")));
}
