//! Live spike detection: a burst of similar first messages today, after weeks of ordinary
//! questions, raises one alert (with its webhook event) once; supervisors see it in the
//! console's banner and on the alerts page and dismiss it; agents never see it.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_domain::validate::format_timestamp;
use tandem_domain::{ConversationId, Millis};
use tandem_knowledge::history;
use tandem_server::insight_alerts::detect_once;
use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, Session, TestApp, build};

const DAY: Millis = 24 * 60 * 60 * 1000;

const ORDINARY: [&str; 8] = [
    "我的订单什么时候发货",
    "怎么申请退货",
    "发票在哪里下载",
    "where is my parcel",
    "how do i change my address",
    "can i pay with a credit card",
    "优惠券怎么用",
    "会员积分怎么兑换",
];

/// In one language: the detector finds a burst's words per language (a burst written in two
/// is two alerts, one per language's words, as `tandem trends` reports it).
const BURST: [&str; 5] = [
    "充电器用了一会儿就发烫",
    "新买的充电器烫手，还能用吗",
    "充电器特别烫，是不是坏了",
    "充电器发烫有焦味",
    "充电的时候充电器很烫",
];

fn line(id: &str, at: Millis, text: &str) -> String {
    json!({
        "id": id,
        "created_at": format_timestamp(at),
        "messages": [{"author": "customer", "text": text}],
    })
    .to_string()
}

/// Thirty days of ordinary questions before today (six a day) and, with `burst`, fourteen
/// conversations about a hot charger today; returns the Tandem ids of the burst's.
async fn plant(app: &TestApp, now: Millis, burst: bool) -> Vec<ConversationId> {
    let today = now - now.rem_euclid(DAY);
    let mut lines = Vec::new();
    for day in 1..=30 {
        for slot in 0..6 {
            let text = ORDINARY[(day as usize * 7 + slot) % ORDINARY.len()];
            let at = today - day * DAY + (9 + slot as i64) * 3_600_000;
            lines.push(line(&format!("bg-{day}-{slot}"), at, text));
        }
    }
    if burst {
        for (index, text) in BURST.iter().cycle().take(14).enumerate() {
            lines.push(line(&format!("burst-{index}"), today + index as i64 * 1000, text));
        }
    }
    let parsed = history::parse_strict(&lines.join("\n")).unwrap();
    let imported = tandem_bot::history_import::imported_conversations(&parsed);
    let summary = app.store.import_conversations(app.workspace, imported).await.unwrap();
    assert_eq!(summary.skipped, 0);
    let facts = app.store.conversation_facts(app.workspace, 0, i64::MAX).await.unwrap();
    let ids: HashMap<String, ConversationId> = facts
        .into_iter()
        .filter_map(|facts| Some((facts.external_id?, facts.conversation_id)))
        .collect();
    ids.into_iter().filter(|(id, _)| id.starts_with("burst-")).map(|(_, id)| id).collect()
}

async fn call(
    app: &TestApp,
    session: &Session,
    method: Method,
    uri: &str,
) -> tandem_server::testing::Response {
    let headers = [("cookie", session.cookie.as_str()), ("x-csrf-token", session.csrf.as_str())];
    app.send(build(method, uri, &headers, Body::empty())).await
}

#[tokio::test]
async fn a_burst_today_raises_one_alert_once_for_supervisors() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let webhook = app
        .send(build(
            Method::POST,
            "/api/v1/webhooks",
            &[
                ("cookie", admin.cookie.as_str()),
                ("x-csrf-token", admin.csrf.as_str()),
                ("content-type", "application/json"),
            ],
            Body::from(
                json!({"url": "https://crm.example.com/hooks", "events": ["insight.alert"]})
                    .to_string(),
            ),
        ))
        .await;
    assert_eq!(webhook.status, StatusCode::CREATED, "{}", webhook.text());
    let endpoint = webhook.json()["id"].as_i64().unwrap();

    let now = tandem_store::now_millis();
    let burst = plant(&app, now, true).await;
    let raised = detect_once(&app.store, app.workspace, now).await.unwrap();
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let alert = &raised[0].alert;
    let today = format_timestamp(now)[..10].to_owned();
    assert_eq!(alert["first_day"], today.as_str(), "{alert:#}");
    let terms: Vec<&str> =
        alert["terms"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(terms.contains(&"充电器"), "{alert:#}");
    let flagged: Vec<i64> =
        alert["conversation_ids"].as_array().unwrap().iter().filter_map(Value::as_i64).collect();
    assert!(flagged.len() >= 8, "{alert:#}");
    assert!(
        flagged.iter().all(|id| burst.contains(&ConversationId(*id))),
        "only the burst: {alert:#}"
    );
    assert!(alert["count"].as_u64().unwrap() as f64 > alert["expected"].as_f64().unwrap());

    // Its webhook event was written with it.
    let deliveries =
        call(&app, &admin, Method::GET, &format!("/api/v1/webhooks/{endpoint}/deliveries")).await;
    let deliveries = deliveries.json()["deliveries"].as_array().unwrap().clone();
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    assert_eq!(deliveries[0]["event_type"], "insight.alert");

    // Detecting again (the same moment or a few minutes on) raises nothing new.
    assert!(detect_once(&app.store, app.workspace, now).await.unwrap().is_empty());
    assert!(detect_once(&app.store, app.workspace, now + 600_000).await.unwrap().is_empty());
    // The burst's conversations, which no article answered, are filed under their cluster's
    // topic for the reports.
    let facts = app.store.facts_of(app.workspace, burst.clone()).await.unwrap();
    let topics: std::collections::HashSet<_> =
        facts.iter().filter_map(|facts| facts.topic.clone()).collect();
    assert!(facts.iter().all(|facts| facts.topic_is_cluster), "{topics:?}");
    assert!(topics.iter().any(|topic| topic.contains("充电器")), "{topics:?}");

    // The API lists it for supervisors, not agents.
    let supervisor = app.login(SUPERVISOR).await;
    let agent = app.login(AGENT).await;
    let listed = call(&app, &supervisor, Method::GET, "/api/v1/insight/alerts").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let alerts = listed.json()["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 1);
    let id = alerts[0]["id"].as_i64().unwrap();
    assert_eq!(alerts[0]["alert"]["conversation_ids"], alert["conversation_ids"]);
    let refused = call(&app, &agent, Method::GET, "/api/v1/insight/alerts").await;
    assert_eq!(refused.code(), "managers_only");

    // The banner: on a supervisor's pages, never on an agent's.
    let page = app.get("/inbox", &[("cookie", &supervisor.cookie)]).await;
    assert!(page.text().contains("id=\"alerts-banner\""), "{}", page.text());
    assert!(page.text().contains("href=\"/insight/alerts\""));
    let page = app.get("/inbox", &[("cookie", &agent.cookie)]).await;
    assert!(!page.text().contains("alerts-banner"));
    let page = app.get("/insight/alerts", &[("cookie", &agent.cookie)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // The alerts page links its conversations; dismissing it there ends the banner.
    let page = app.get("/insight/alerts", &[("cookie", &supervisor.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(
        page.text().contains(&format!("href=\"/conversations/{}\"", flagged[0])),
        "{}",
        page.text()
    );
    let dismissed = app
        .post_form(
            &format!("/insight/alerts/{id}/dismiss"),
            &[("cookie", &supervisor.cookie)],
            &[("csrf", &supervisor.csrf)],
        )
        .await;
    assert_eq!(dismissed.status, StatusCode::SEE_OTHER, "{}", dismissed.text());
    let page = app.get("/inbox", &[("cookie", &supervisor.cookie)]).await;
    assert!(!page.text().contains("alerts-banner"));
    let listed = call(&app, &supervisor, Method::GET, "/api/v1/insight/alerts").await.json();
    assert!(listed["alerts"][0]["dismissed_at"].is_i64(), "{listed}");

    // The API dismisses too; an unknown alert is named.
    let again =
        call(&app, &supervisor, Method::POST, &format!("/api/v1/insight/alerts/{id}/dismiss"))
            .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "{}", again.text());
    let unknown = call(&app, &supervisor, Method::POST, "/api/v1/insight/alerts/999/dismiss").await;
    assert_eq!(unknown.code(), "insight_alert_not_found");
    let refused =
        call(&app, &agent, Method::POST, &format!("/api/v1/insight/alerts/{id}/dismiss")).await;
    assert_eq!(refused.code(), "managers_only");
}

#[tokio::test]
async fn ordinary_weeks_raise_no_alert() {
    let app = TestApp::new().await;
    let now = tandem_store::now_millis();
    plant(&app, now, false).await;
    assert!(detect_once(&app.store, app.workspace, now).await.unwrap().is_empty());
    let supervisor = app.login(SUPERVISOR).await;
    let page = app.get("/inbox", &[("cookie", &supervisor.cookie)]).await;
    assert!(!page.text().contains("alerts-banner"));
}
