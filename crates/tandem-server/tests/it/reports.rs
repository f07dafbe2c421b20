//! The reports API: the KPIs over conversations made through the API, as each role sees them,
//! and the conversations behind a figure.

use axum::http::StatusCode;
use serde_json::{Value, json};
use tandem_server::testing::{AGENT, SUPERVISOR, Session, TestApp};

async fn get(app: &TestApp, session: &Session, uri: &str) -> Value {
    let response = app.get(uri, &[("cookie", &session.cookie)]).await;
    assert_eq!(response.status, StatusCode::OK, "{uri}: {}", response.text());
    response.json()
}

#[tokio::test]
async fn kpis_count_what_happened_and_each_figure_lists_its_conversations() {
    let app = TestApp::fixture().sample_articles().build().await;
    // One customer talks to the bot only; another is taken, answered and resolved by a person.
    let alone = app.widget_token().await;
    assert_eq!(app.widget_send(&alone, "a1", "营业时间").await.status, StatusCode::CREATED);
    let helped = app.widget_token().await;
    let sent = app.widget_send(&helped, "b1", "我的耳机坏了").await;
    let conversation = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    let agent = app.login(AGENT).await;
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let transitions = format!("/api/v1/conversations/{conversation}/transitions");
    let taken = app.post_json(&transitions, &headers, json!({ "action": "assign" })).await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.text());
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let reply = app.post_json(&messages, &headers, json!({ "body": "给您换一副新的" })).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let resolved = app.post_json(&transitions, &headers, json!({ "action": "resolve" })).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text());

    let supervisor = app.login(SUPERVISOR).await;
    let report = get(&app, &supervisor, "/api/v1/reports/kpis?by=handler").await;
    let total = &report["total"];
    assert_eq!(total["conversations"], 2, "{report}");
    assert_eq!(total["customers"], 2);
    assert_eq!(total["handed_off"], 1);
    assert_eq!(total["handoff_rate"], 0.5);
    assert_eq!(total["resolved"], 1);
    assert_eq!(total["bot_resolved"], 0, "a person resolved it");
    assert_eq!(total["fcr"], 1.0);
    assert_eq!(total["csat_avg"], Value::Null, "nobody rated");
    assert!(total["frt_p50"].as_f64().unwrap() >= 0.0);
    let keys: Vec<&str> =
        report["rows"].as_array().unwrap().iter().map(|row| row["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["bot", "people"]);
    assert_eq!(report["by"], "handler");
    assert!(report["from"].as_str().unwrap().len() == 10 && report["to"].is_string());

    // Every figure has its conversations: the hand-offs are exactly the one a person took.
    let behind = get(&app, &supervisor, "/api/v1/reports/conversations?metric=handed_off").await;
    assert_eq!(behind["total"], 1);
    assert_eq!(behind["conversations"][0]["conversation_id"], conversation);
    let bots = get(&app, &supervisor, "/api/v1/reports/conversations?by=handler&key=bot").await;
    assert_eq!(bots["total"], 1);
    assert_ne!(bots["conversations"][0]["conversation_id"], conversation);

    // An agent sees the conversations they answered, nobody else's.
    let own = get(&app, &agent, "/api/v1/reports/kpis").await;
    assert_eq!(own["total"]["conversations"], 1, "{own}");

    // One channel's figures: both conversations came through the widget.
    let web = get(&app, &supervisor, "/api/v1/reports/kpis?channel=web").await;
    assert_eq!(web["total"]["conversations"], 2, "{web}");
    let mail = get(&app, &supervisor, "/api/v1/reports/kpis?channel=email").await;
    assert_eq!(mail["total"]["conversations"], 0, "{mail}");
    let uri = "/api/v1/reports/conversations?metric=handed_off&channel=email";
    assert_eq!(get(&app, &supervisor, uri).await["total"], 0);
    let uri = "/api/v1/reports/conversations?metric=handed_off&channel=web";
    assert_eq!(get(&app, &supervisor, uri).await["total"], 1);

    // A period without conversations has counts of zero and nothing to measure.
    let empty = get(&app, &supervisor, "/api/v1/reports/kpis?from=2020-01-01&to=2020-01-31").await;
    assert_eq!(empty["total"]["conversations"], 0);
    assert_eq!(empty["total"]["handoff_rate"], Value::Null);
    for bad in ["by=month", "from=yesterday", "metric=happiness", "tz=Mars/Olympus", "channel=fax"]
    {
        let path = if bad.starts_with("metric") { "conversations" } else { "kpis" };
        let uri = format!("/api/v1/reports/{path}?{bad}");
        let response = app.get(&uri, &[("cookie", &supervisor.cookie)]).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", response.text());
        assert_eq!(response.code(), "invalid_input");
    }
    let anonymous = app.get("/api/v1/reports/kpis", &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
