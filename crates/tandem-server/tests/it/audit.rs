//! The audit log: people's and API tokens' changes through the console and the API, the
//! bot's hand-offs, the admin-only page, API and CSV export, and a log that cannot be edited.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_server::ServerConfig;
use tandem_server::testing::{ADMIN, AGENT, Session, TestApp, build};
use tandem_store::{AuditActorKind, AuditEntry, AuditFilter};

async fn post_form(
    app: &TestApp,
    session: &Session,
    uri: &str,
    fields: &[(&str, &str)],
    forwarded_for: &str,
) -> tandem_server::testing::Response {
    let mut all = vec![("csrf", session.csrf.as_str())];
    all.extend_from_slice(fields);
    let headers = [("cookie", session.cookie.as_str()), ("x-forwarded-for", forwarded_for)];
    app.post_form(uri, &headers, &all).await
}

async fn entries(app: &TestApp) -> Vec<AuditEntry> {
    app.store.audit(app.workspace, AuditFilter::default(), 500, None).await.unwrap()
}

/// The entries with this action, oldest first.
async fn with_action(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let mut found: Vec<AuditEntry> =
        entries(app).await.into_iter().filter(|entry| entry.action == action).collect();
    found.reverse();
    found
}

/// An app behind a trusted proxy on loopback, so the client's address comes from the header.
async fn behind_proxy() -> TestApp {
    let config = ServerConfig {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Default::default()
    };
    TestApp::fixture().config(config).build().await
}

#[tokio::test]
async fn an_admins_console_changes_each_leave_one_entry_with_who_what_and_where() {
    let app = behind_proxy().await;
    let admin = app.login(ADMIN).await;
    let signed_in = with_action(&app, "auth.sign_in").await;
    assert_eq!(signed_in.len(), 1, "the sign-in is recorded");
    assert_eq!(signed_in[0].actor_kind, AuditActorKind::User);

    let policy = [
        ("hand_off_on", "asks_for_human"),
        ("abstains_in_a_row", "3"),
        ("repeats", "2"),
        ("didnt_help", "1"),
        ("anger_turns", "2"),
        ("negative_sentiment", "-0.9"),
        ("vip_tiers", ""),
    ];
    let saved = post_form(&app, &admin, "/settings/escalation", &policy, "198.51.100.7").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let article = [
        ("key", "gift-wrap"),
        ("title", "礼品包装"),
        ("answer", "可以，每件加收 5 元。"),
        ("questions", "可以礼品包装吗"),
        ("language", "zh"),
        ("channel_web", "on"),
        ("status", "published"),
    ];
    let created = post_form(&app, &admin, "/knowledge", &article, "198.51.100.8").await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    let published = post_form(&app, &admin, "/knowledge/gift-wrap", &article, "198.51.100.8").await;
    assert_eq!(published.status, StatusCode::SEE_OTHER, "{}", published.text());
    let webhook = [
        ("url", "https://crm.example.com/hook"),
        ("description", "CRM"),
        ("events", "conversation.handed_off"),
    ];
    let created = post_form(&app, &admin, "/settings/webhooks", &webhook, "198.51.100.9").await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    // A refused change is no change: nothing is recorded for it.
    let refused =
        post_form(&app, &admin, "/settings/webhooks", &[("url", "ftp://x")], "1.1.1.1").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    let admin_name = app.store.users(app.workspace).await.unwrap();
    let admin_user = admin_name.iter().find(|user| user.email == ADMIN.0).unwrap();
    for (action, ip, target) in [
        ("settings.escalation", "198.51.100.7", ""),
        ("knowledge.save", "198.51.100.8", "key:gift-wrap"),
        ("knowledge.create", "198.51.100.8", "location:/knowledge/gift-wrap"),
        ("webhook.create", "198.51.100.9", ""),
    ] {
        let found = with_action(&app, action).await;
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        let entry = &found[0];
        assert_eq!(entry.actor_kind, AuditActorKind::User);
        assert_eq!(entry.actor_id.as_deref(), Some(admin_user.id.to_string().as_str()));
        assert_eq!(entry.actor_name, admin_user.display_name);
        assert_eq!(entry.ip.as_deref(), Some(ip), "{action}");
        assert_eq!(entry.target, target);
        assert_eq!(
            entry.detail["status"].as_u64().unwrap() / 100 * 100,
            if action == "webhook.create" { 200 } else { 300 }
        );
    }
    // No body is recorded: not the webhook's URL, nor anything typed.
    let all = entries(&app).await;
    assert!(all.iter().all(|entry| !entry.detail.to_string().contains("crm.example.com")));
    assert!(all.iter().all(|entry| entry.ip.as_deref() != Some("1.1.1.1")));
}

#[tokio::test]
async fn a_tokens_change_is_attributed_to_the_token() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let created = app
        .post_json(
            "/api/v1/tokens",
            &[("cookie", &admin.cookie), ("x-csrf-token", &admin.csrf)],
            json!({ "name": "deploy bot" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(with_action(&app, "token.create").await.len(), 1);
    let bearer = format!("Bearer {}", created.json()["token"].as_str().unwrap());
    let webhook = app
        .post_json(
            "/api/v1/webhooks",
            &[("authorization", &bearer)],
            json!({ "url": "https://crm.example.com/hook", "events": ["conversation.resolved"] }),
        )
        .await;
    assert_eq!(webhook.status, StatusCode::CREATED, "{}", webhook.text());
    let found = with_action(&app, "webhook.create").await;
    assert_eq!(found.len(), 1);
    let entry = &found[0];
    assert_eq!(entry.actor_kind, AuditActorKind::Token);
    assert_eq!(entry.actor_name, "deploy bot");
    assert_eq!(entry.detail["route"], "POST /api/v1/webhooks");
    assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));
    let id = webhook.json()["id"].as_i64().expect("the endpoint's id");
    let uri = format!("/api/v1/webhooks/{id}");
    let deleted =
        app.send(build(Method::DELETE, &uri, &[("authorization", &bearer)], Body::empty())).await;
    assert!(deleted.status.is_success(), "{}", deleted.text());
    let found = with_action(&app, "webhook.delete").await;
    assert_eq!(found[0].target, format!("id:{id}"));
}

#[tokio::test]
async fn the_bots_hand_off_leaves_a_bot_entry_and_customers_leave_none() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let bearer = format!("Bearer {token}");
    let hand_off =
        build(Method::POST, "/api/v1/widget/handoff", &[("authorization", &bearer)], Body::empty());
    let response = app.send(hand_off).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    let conversation = response.json()["conversation"]["id"].as_i64().unwrap();
    // The hand-off is written in the transaction that stores its packet.
    let found = with_action(&app, "conversation.handoff").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].actor_kind, AuditActorKind::Bot);
    assert_eq!(found[0].target, format!("conversation:{conversation}"));
    assert!(found[0].detail["reasons"].as_array().is_some_and(|reasons| !reasons.is_empty()));
    // The customer's own calls (widget session, hand-off) are not administrators' changes.
    assert!(entries(&app).await.iter().all(|entry| !entry.action.contains("/widget")));
}

#[tokio::test]
async fn admins_filter_page_and_export_the_log_and_agents_cannot() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let mut bearer = String::new();
    for name in ["first", "second", "=HYPERLINK(\"x\")"] {
        let created = app
            .post_json(
                "/api/v1/tokens",
                &[("cookie", &admin.cookie), ("x-csrf-token", &admin.csrf)],
                json!({ "name": name }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        bearer = format!("Bearer {}", created.json()["token"].as_str().unwrap());
    }
    let cookie = [("cookie", admin.cookie.as_str())];

    let all = app.get("/api/v1/audit", &cookie).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let listed: Vec<Value> = all.json()["entries"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 4, "a sign-in and three tokens: {listed:?}");
    assert_eq!(listed[0]["action"], "token.create", "newest first");
    assert_eq!(listed[3]["action"], "auth.sign_in");

    let page = app.get("/api/v1/audit?limit=3", &cookie).await.json();
    let before = page["next_before"].as_i64().expect("a next page");
    let rest = app.get(&format!("/api/v1/audit?limit=3&before={before}"), &cookie).await.json();
    assert_eq!(rest["entries"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_before"], Value::Null);

    let by_action = app.get("/api/v1/audit?action=auth.", &cookie).await.json();
    assert_eq!(by_action["entries"].as_array().unwrap().len(), 1);
    let by_kind = app.get("/api/v1/audit?kind=bot", &cookie).await.json();
    assert!(by_kind["entries"].as_array().unwrap().is_empty());
    let by_actor = app.get("/api/v1/audit?actor=nobody", &cookie).await.json();
    assert!(by_actor["entries"].as_array().unwrap().is_empty());
    let by_day = app.get("/api/v1/audit?from=2000-01-01&to=2000-01-02", &cookie).await.json();
    assert!(by_day["entries"].as_array().unwrap().is_empty());
    let bad = app.get("/api/v1/audit?kind=robot", &cookie).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());

    let html = app.get("/settings/audit?action=token.", &cookie).await;
    assert_eq!(html.status, StatusCode::OK);
    let html = html.text();
    assert!(html.contains("审计日志") && html.contains("aria-current=\"page\""), "{html}");
    assert_eq!(html.matches("<code>token.create</code>").count(), 3);
    assert!(html.contains("href=\"/settings/audit/export.csv?action=token.\""));

    let csv = app.get("/settings/audit/export.csv?action=token.", &cookie).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text();
    assert!(
        text.starts_with("\u{feff}id,at,actor_kind,actor_id,actor_name,action,target,detail,ip")
    );
    assert_eq!(text.lines().count(), 4, "{text}");
    // A token named like a formula: its change is exported as text, never as a formula.
    let webhook = app
        .post_json(
            "/api/v1/webhooks",
            &[("authorization", &bearer)],
            json!({ "url": "https://crm.example.com/hook", "events": ["conversation.resolved"] }),
        )
        .await;
    assert_eq!(webhook.status, StatusCode::CREATED, "{}", webhook.text());
    let csv = app.get("/settings/audit/export.csv?kind=token", &cookie).await.text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(",\"'=HYPERLINK(\"\"x\"\")\",webhook.create,"), "{csv}");

    let agent = app.login(AGENT).await;
    let agent_cookie = [("cookie", agent.cookie.as_str())];
    let api = app.get("/api/v1/audit", &agent_cookie).await;
    assert_eq!(api.status, StatusCode::FORBIDDEN);
    let page = app.get("/settings/audit", &agent_cookie).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let export = app.get("/settings/audit/export.csv", &agent_cookie).await;
    assert_eq!(export.status, StatusCode::FORBIDDEN);
    let nav = app.get("/inbox", &agent_cookie).await.text();
    assert!(!nav.contains("href=\"/settings/audit\""), "agents are not shown the link");
    let admin_nav = app.get("/inbox", &cookie).await.text();
    assert!(admin_nav.contains("href=\"/settings/audit\""));
}
