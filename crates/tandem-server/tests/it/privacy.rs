//! Privacy: an admin exports everything held about a customer and erases them (agents may not);
//! the reports stop counting erased conversations; retention deletes resolved conversations
//! past the workspace's period and keeps recent and open ones.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_domain::validate::format_timestamp;
use tandem_domain::{ConversationId, Millis};
use tandem_server::testing::{ADMIN, AGENT, Session, TestApp, build};

use crate::webhooks::call;

const DAY: Millis = 24 * 60 * 60 * 1000;

/// The KPI report's conversation count, as a supervisor or admin sees it.
async fn reported(app: &TestApp, session: &Session) -> i64 {
    let report = call(app, session, Method::GET, "/api/v1/reports/kpis", None).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text());
    report.json()["total"]["conversations"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_exports_and_erases_a_customer_and_the_reports_forget_them() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let agent = app.login(AGENT).await;
    let erased = app.widget_token().await;
    let sent = app.widget_send(&erased, "e1", "我的手机号是13800138000，耳机坏了").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let kept = app.widget_token().await;
    assert_eq!(app.widget_send(&kept, "k1", "营业时间").await.status, StatusCode::CREATED);
    let customer =
        app.store.conversation(ConversationId(conversation)).await.unwrap().unwrap().customer_id.0;
    assert_eq!(reported(&app, &admin).await, 2);

    // Export: admins only, everything about the customer.
    let export = format!("/api/v1/customers/{customer}/export");
    let refused = call(&app, &agent, Method::GET, &export, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let exported = call(&app, &admin, Method::GET, &export, None).await;
    assert_eq!(exported.status, StatusCode::OK, "{}", exported.text());
    let disposition = exported.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.contains(&format!("customer-{customer}.json")), "{disposition}");
    let data = exported.json();
    assert_eq!(data["customer"]["id"], customer);
    let conversations = data["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1, "{data:#}");
    assert_eq!(conversations[0]["conversation"]["id"], conversation);
    let bodies: Vec<&str> = conversations[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|message| message["body"].as_str())
        .collect();
    assert!(bodies.contains(&"我的手机号是13800138000，耳机坏了"), "{bodies:?}");
    assert!(conversations[0].get("handoffs").is_some() && conversations[0].get("rating").is_some());

    // Erase: admins only, and only when confirmed.
    let erase = format!("/api/v1/customers/{customer}?confirm=erase");
    let refused = call(&app, &agent, Method::DELETE, &erase, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let unconfirmed =
        call(&app, &admin, Method::DELETE, &format!("/api/v1/customers/{customer}"), None).await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unconfirmed.text());
    assert!(app.store.customer(tandem_domain::CustomerId(customer)).await.unwrap().is_some());
    let done = call(&app, &admin, Method::DELETE, &erase, None).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    let record = done.json();
    assert_eq!(
        (record["kind"].as_str(), record["customer_id"].as_i64()),
        (Some("customer"), Some(customer))
    );
    assert_eq!(record["conversations"], 1);
    assert!(record["rows"]["messages"].as_u64().unwrap() >= 1, "{record}");
    assert!(!record.to_string().contains("13800138000"));
    assert!(app.store.conversation(ConversationId(conversation)).await.unwrap().is_none());
    // The customer's widget token no longer names anyone: the widget must start afresh.
    let stale = app.widget_send(&erased, "e2", "还在吗").await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED, "{}", stale.text());
    let again = call(&app, &admin, Method::DELETE, &erase, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.text());
    let gone = call(&app, &admin, Method::GET, &export, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.text());

    // The record is listed; the reports (already loaded) stop counting the conversation.
    let records = call(&app, &admin, Method::GET, "/api/v1/privacy/erasures", None).await;
    assert_eq!(records.status, StatusCode::OK);
    assert_eq!(records.json()["erasures"][0]["customer_id"], customer);
    let deadline = Instant::now() + Duration::from_secs(10);
    while reported(&app, &admin).await != 1 {
        assert!(Instant::now() < deadline, "the report still counts the erased conversation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let page = app.get("/settings/privacy", &[("cookie", &admin.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains(&format!("#{customer}")), "the console lists the erasure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_erases_only_with_confirmation_and_only_for_admins() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let agent = app.login(AGENT).await;
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "c1", "你好").await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let customer =
        app.store.conversation(ConversationId(conversation)).await.unwrap().unwrap().customer_id;
    let page = format!("/conversations/{conversation}");
    let shown = app.get(&page, &[("cookie", &admin.cookie)]).await.text();
    assert!(
        shown.contains(&format!("/api/v1/customers/{}/export", customer.0)),
        "admins see the export"
    );
    let hidden = app.get(&page, &[("cookie", &agent.cookie)]).await.text();
    assert!(!hidden.contains("/erase\""), "agents do not see the erase form");
    let action = format!("/customers/{}/erase", customer.0);
    let form = |session: &Session, confirm: &str| {
        let fields = [
            ("csrf", session.csrf.clone()),
            ("confirm", confirm.to_owned()),
            ("conversation", conversation.to_string()),
        ];
        serde_urlencoded::to_string(fields).unwrap()
    };
    let post = |session: &Session, confirm: &str| {
        build(
            Method::POST,
            &action,
            &[
                ("cookie", session.cookie.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Body::from(form(session, confirm)),
        )
    };
    let refused = app.send(post(&agent, "erase")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let unconfirmed = app.send(post(&admin, "yes")).await;
    assert_eq!(unconfirmed.status, StatusCode::SEE_OTHER);
    assert!(app.store.customer(customer).await.unwrap().is_some(), "nothing erased");
    let erased = app.send(post(&admin, "erase")).await;
    assert_eq!(erased.status, StatusCode::SEE_OTHER, "{}", erased.text());
    assert_eq!(erased.headers["location"], "/settings/privacy?notice=erased");
    assert!(app.store.customer(customer).await.unwrap().is_none());
}

fn history_line(id: &str, created_at: Millis, resolved_at: Option<Millis>) -> String {
    let mut line = json!({
        "id": id,
        "created_at": format_timestamp(created_at),
        "messages": [{"author": "customer", "text": "我的订单到哪了", "at": format_timestamp(created_at)}],
    });
    if let Some(resolved_at) = resolved_at {
        line["resolved_at"] = json!(format_timestamp(resolved_at));
    }
    line.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_resolved_conversations_and_keeps_recent_and_open_ones() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let agent = app.login(AGENT).await;
    let now = tandem_store::now_millis();
    let lines = [
        history_line("old-resolved", now - 40 * DAY, Some(now - 40 * DAY + 60_000)),
        history_line("old-open", now - 40 * DAY, None),
        history_line("recent-resolved", now - 2 * DAY, Some(now - 2 * DAY + 60_000)),
    ];
    let parsed = tandem_knowledge::history::parse_strict(&lines.join("\n")).unwrap();
    let imported = tandem_bot::history_import::imported_conversations(&parsed);
    app.store.import_conversations(app.workspace, imported).await.unwrap();
    let ids = |facts: Vec<tandem_domain::ConversationFacts>| -> Vec<String> {
        let mut ids: Vec<String> =
            facts.into_iter().filter_map(|facts| facts.external_id).collect();
        ids.sort();
        ids
    };
    let before = app.store.conversation_facts(app.workspace, 0, i64::MAX).await.unwrap();
    assert_eq!(ids(before), ["old-open", "old-resolved", "recent-resolved"]);

    // Keep forever by default: nothing goes.
    let shown = call(&app, &admin, Method::GET, "/api/v1/privacy/retention", None).await;
    assert_eq!(shown.json(), json!({"resolved_conversation_days": 0}));
    assert_eq!(tandem_server::privacy::apply_retention(&app.store, now).await.unwrap(), 0);

    // Only admins set it, within bounds.
    let thirty = json!({"resolved_conversation_days": 30});
    let refused =
        call(&app, &agent, Method::PUT, "/api/v1/privacy/retention", Some(thirty.clone())).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let too_long = json!({"resolved_conversation_days": 40_000});
    let invalid =
        call(&app, &admin, Method::PUT, "/api/v1/privacy/retention", Some(too_long)).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", invalid.text());
    let saved =
        call(&app, &admin, Method::PUT, "/api/v1/privacy/retention", Some(thirty.clone())).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let shown = call(&app, &admin, Method::GET, "/api/v1/privacy/retention", None).await;
    assert_eq!(shown.json(), thirty);

    assert_eq!(tandem_server::privacy::apply_retention(&app.store, now).await.unwrap(), 1);
    let after = app.store.conversation_facts(app.workspace, 0, i64::MAX).await.unwrap();
    assert_eq!(ids(after), ["old-open", "recent-resolved"]);
    let records = call(&app, &admin, Method::GET, "/api/v1/privacy/erasures", None).await;
    let record = &records.json()["erasures"][0];
    assert_eq!(
        (record["kind"].as_str(), record["conversations"].as_u64()),
        (Some("retention"), Some(1))
    );
    assert_eq!(record["customer_id"], Value::Null);
    // Running again finds nothing more.
    assert_eq!(tandem_server::privacy::apply_retention(&app.store, now).await.unwrap(), 0);
}
