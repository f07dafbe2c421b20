//! `POST /api/v1/conversations/import`: a supervisor imports a history from another helpdesk;
//! sending it again stores nothing new, and a history with a mistake stores nothing at all.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_server::testing::{AGENT, SUPERVISOR, Session, TestApp, build};

const HISTORY: &str = concat!(
    r#"{"id": "zd-1", "created_at": "2026-09-03T08:12:44Z", "channel": "web", "lang": "zh", "customer": {"id": "u-1", "name": "王芳", "email": "fang@example.com", "tier": "vip"}, "queue": "after-sales", "tags": ["refund"], "messages": [{"author": "customer", "text": "退款多久到账", "at": "2026-09-03T08:12:44Z"}, {"author": "bot", "text": "三个工作日内到账。", "source": "refund-time"}, {"author": "agent", "agent": "emily@galaxy.example", "text": "已为您加急。", "at": "2026-09-03T08:20:00Z"}], "handed_off_at": "2026-09-03T08:13:00Z", "resolved_at": "2026-09-03T08:30:00Z", "csat": 5, "csat_comment": "很快"}"#,
    "\n",
    r#"{"id": "zd-2", "created_at": "2026-09-04T09:00:00+08:00", "channel": "email", "messages": [{"author": "customer", "text": "发票怎么开"}]}"#,
    "\n"
);

async fn import(
    app: &TestApp,
    session: &Session,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let headers = [
        ("cookie", session.cookie.as_str()),
        ("x-csrf-token", session.csrf.as_str()),
        ("content-type", content_type),
    ];
    let request =
        build(Method::POST, "/api/v1/conversations/import", &headers, Body::from(body.to_owned()));
    let response = app.send(request).await;
    let json = if response.body.is_empty() { Value::Null } else { response.json() };
    (response.status, json)
}

async fn imported_ids(app: &TestApp) -> Vec<String> {
    let facts = app.store.conversation_facts(app.workspace, 0, i64::MAX).await.unwrap();
    let mut ids: Vec<String> = facts.into_iter().filter_map(|facts| facts.external_id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_history_is_imported_once_and_a_bad_one_stores_nothing() {
    let app = TestApp::new().await;
    let supervisor = app.login(SUPERVISOR).await;

    let (status, body) = import(&app, &supervisor, "application/x-ndjson", HISTORY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "imported": 2, "skipped": 0 }));
    assert_eq!(imported_ids(&app).await, ["zd-1", "zd-2"]);
    let facts = app.store.conversation_facts(app.workspace, 0, i64::MAX).await.unwrap();
    let first = facts.iter().find(|facts| facts.external_id.as_deref() == Some("zd-1")).unwrap();
    assert_eq!(first.csat, Some(5));
    assert_eq!(first.agent_messages, 1);
    assert!(first.resolved_at.is_some());

    // Again: every conversation is already there.
    let (status, body) = import(&app, &supervisor, "text/plain; charset=utf-8", HISTORY).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "imported": 0, "skipped": 2 }));

    // A new conversation next to a bad line: nothing is stored, each problem has its line.
    let fresh = r#"{"id": "zd-3", "created_at": "2026-09-05T10:00:00Z", "messages": [{"author": "customer", "text": "还在吗"}]}"#;
    let bad = r#"{"id": "zd-4", "created_at": "2026-09-05", "csat": 6, "messages": [{"author": "robot", "text": "hi"}]}"#;
    let (status, body) =
        import(&app, &supervisor, "application/x-ndjson", &format!("{fresh}\n{bad}\n")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "history_import_failed", "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.iter().all(|error| error["line"] == 2), "{body}");
    assert!(
        errors.iter().any(|error| error["message"]
            .as_str()
            .unwrap()
            .starts_with("messages[0]: unknown variant `robot`")),
        "{body}"
    );
    assert_eq!(imported_ids(&app).await, ["zd-1", "zd-2"], "nothing of the bad file was stored");
    let bad = r#"{"id": "zd-4", "created_at": "2026-09-05", "csat": 6, "messages": [{"author": "customer", "text": "hi"}]}"#;
    let (_, body) = import(&app, &supervisor, "text/plain", bad).await;
    let messages: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.starts_with("created_at:")), "{messages:?}");
    assert!(messages.contains(&"csat: 6 is not a rating from 1 to 5"), "{messages:?}");

    // Only supervisors and admins import, and only JSON lines or text.
    let agent = app.login(AGENT).await;
    let (status, body) = import(&app, &agent, "application/x-ndjson", fresh).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("managers_only")));
    let (status, body) = import(&app, &supervisor, "application/json", fresh).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(imported_ids(&app).await, ["zd-1", "zd-2"]);

    // A history larger than the usual 64 KiB body limit is taken.
    let mut large = String::new();
    for index in 0..600 {
        large.push_str(&format!(
            r#"{{"id": "big-{index}", "created_at": "2026-09-06T10:00:00Z", "messages": [{{"author": "customer", "text": "我想问一下这个订单的物流信息，什么时候能到，已经等了很久了"}}]}}"#
        ));
        large.push('\n');
    }
    assert!(large.len() > 64 * 1024);
    let (status, body) = import(&app, &supervisor, "application/x-ndjson", &large).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["imported"], 600);
}
