//! The triage and routing API on the fixture workspace: escalation policy, presence, skills,
//! queues, the hand-off packet, the customer's place in the queue and re-routing.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use tandem_server::testing::{ADMIN, AGENT, Response, SUPERVISOR, Session, TestApp, build};

async fn put_json(app: &TestApp, session: &Session, uri: &str, body: Value) -> Response {
    let headers = [
        ("cookie", session.cookie.as_str()),
        ("x-csrf-token", session.csrf.as_str()),
        ("content-type", "application/json"),
    ];
    app.send(build(Method::PUT, uri, &headers, Body::from(body.to_string()))).await
}

async fn me(app: &TestApp, session: &Session) -> i64 {
    app.get("/api/v1/me", &[("cookie", &session.cookie)]).await.json()["id"].as_i64().unwrap()
}

#[tokio::test]
async fn the_escalation_policy_is_workspace_data_that_managers_edit() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let policy = app.get("/api/v1/escalation/policy", &[("cookie", &admin.cookie)]).await.json();
    assert_eq!(policy["abstains_in_a_row"], 2);
    assert!(policy["hand_off_on"].as_array().unwrap().contains(&json!("asks_for_human")));
    let saved = put_json(
        &app,
        &admin,
        "/api/v1/escalation/policy",
        json!({ "hand_off_on": ["legal_threat"], "repeats": 0 }),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["hand_off_on"], json!(["legal_threat"]));
    assert_eq!(saved.json()["abstains_in_a_row"], 2, "missing fields keep their defaults");
    let bad =
        put_json(&app, &admin, "/api/v1/escalation/policy", json!({ "hand_off_on": ["furious"] }))
            .await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(bad.text().contains("hand_off_on"), "{}", bad.text());
    let unknown =
        put_json(&app, &admin, "/api/v1/escalation/policy", json!({ "handoff": [] })).await;
    assert!(unknown.status.is_client_error() && !unknown.code().is_empty(), "{}", unknown.text());
    let agent = app.login(AGENT).await;
    let refused = put_json(&app, &agent, "/api/v1/escalation/policy", json!({})).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::FORBIDDEN, "managers_only"));
    // With asks_for_human off the list, "转人工" alone no longer hands off: the bot answers.
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "c1", "转人工").await;
    assert_eq!(sent.status, StatusCode::CREATED);
    // A hand-off would have come before any answer: once the bot has answered, it kept it.
    app.bot_reply_containing(&token, "").await;
    let bearer = format!("Bearer {token}");
    let messages = app.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await.json();
    assert_eq!(messages["conversation"]["state"], "bot", "{messages}");
}

#[tokio::test]
async fn an_angry_dispute_waits_with_its_place_then_goes_to_the_skilled_agent() {
    let app = TestApp::new().await;
    let supervisor = app.login(SUPERVISOR).await;
    let agent = app.login(AGENT).await;
    let (li_qiang, emily) = (me(&app, &supervisor).await, me(&app, &agent).await);
    // The only agent with the disputes skill steps away.
    let away =
        put_json(&app, &supervisor, "/api/v1/me/presence", json!({ "presence": "offline" })).await;
    assert_eq!(away.status, StatusCode::OK, "{}", away.text());

    let token = app.widget_token().await;
    let bearer = format!("Bearer {token}");
    let sent = app
        .widget_send(
            &token,
            "d1",
            "我要投诉！耳机用了三天就坏了，客服一直不处理，必须退款！订单号 2024112300123",
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let mut waiting = Value::Null;
    for _ in 0..100 {
        waiting = app.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await.json();
        if waiting["conversation"]["queue"]["position"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(waiting["conversation"]["state"], "queued", "{waiting}");
    assert_eq!(waiting["conversation"]["queue"]["position"], 1, "{waiting}");
    assert_eq!(waiting["conversation"]["queue"]["open"], true);
    let kinds: Vec<&str> = waiting["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["author_kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"bot"), "the bot stays silent: {kinds:?}");
    let conversation = waiting["conversation"]["id"].as_i64().unwrap();

    // The packet is there for agents, not for the widget.
    let packet = app
        .get(&format!("/api/v1/conversations/{conversation}/handoff"), &[("cookie", &agent.cookie)])
        .await;
    assert_eq!(packet.status, StatusCode::OK, "{}", packet.text());
    let packet = packet.json();
    assert!(packet["reasons"].as_array().unwrap().contains(&json!("complaint")), "{packet}");
    assert!(packet["summary"].as_str().unwrap().contains("耳机"), "{packet}");
    assert!(!waiting.to_string().contains("\"reasons\""));

    // The idle unskilled agent does not get it; the live snapshot shows it waiting.
    let snapshot = app.get("/api/v1/routing", &[("cookie", &supervisor.cookie)]).await.json();
    let waiting_total: i64 =
        snapshot["queues"].as_array().unwrap().iter().map(|q| q["waiting"].as_i64().unwrap()).sum();
    assert!(waiting_total >= 1, "{snapshot}");
    let detail = app
        .get(&format!("/api/v1/conversations/{conversation}"), &[("cookie", &agent.cookie)])
        .await
        .json();
    assert_eq!(detail["conversation"]["state"], "queued");

    // Back online, the skilled agent is offered it at once.
    put_json(&app, &supervisor, "/api/v1/me/presence", json!({ "presence": "online" })).await;
    let mut owner = Value::Null;
    for _ in 0..100 {
        owner = app
            .get(&format!("/api/v1/conversations/{conversation}"), &[("cookie", &agent.cookie)])
            .await
            .json();
        if owner["conversation"]["state"] == "human" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(owner["conversation"]["assignee_id"], li_qiang, "{owner}");

    // A supervisor moves it to Emily; an agent may not.
    let uri = format!("/api/v1/conversations/{conversation}/reroute");
    let headers = |session: &Session| {
        vec![("cookie", session.cookie.clone()), ("x-csrf-token", session.csrf.clone())]
    };
    let as_agent: Vec<(&str, String)> = headers(&agent);
    let as_agent: Vec<(&str, &str)> = as_agent.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = app.post_json(&uri, &as_agent, json!({ "agent_id": emily })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let as_supervisor: Vec<(&str, String)> = headers(&supervisor);
    let as_supervisor: Vec<(&str, &str)> =
        as_supervisor.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let both =
        app.post_json(&uri, &as_supervisor, json!({ "agent_id": emily, "queue_id": 1 })).await;
    assert_eq!(both.status, StatusCode::UNPROCESSABLE_ENTITY);
    let moved = app.post_json(&uri, &as_supervisor, json!({ "agent_id": emily })).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    assert_eq!(moved.json()["assignee_id"], emily);
}

#[tokio::test]
async fn skills_capacity_and_queue_rules_are_validated_and_managers_only() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let agent = app.login(AGENT).await;
    let emily = me(&app, &agent).await;
    let uri = format!("/api/v1/routing/agents/{emily}");
    let saved = put_json(
        &app,
        &admin,
        &uri,
        json!({ "skills": { "Refunds": 4, "lang:en": 5 }, "capacity": { "web": 4, "email": 0 } }),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["skills"], json!({ "lang:en": 5, "refunds": 4 }));
    assert_eq!(saved.json()["presence"], "online", "presence is kept");
    let bad_level = put_json(&app, &admin, &uri, json!({ "skills": { "refunds": 9 } })).await;
    assert_eq!(bad_level.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_channel = put_json(&app, &admin, &uri, json!({ "capacity": { "fax": 1 } })).await;
    assert!(bad_channel.status.is_client_error(), "{}", bad_channel.text());
    let refused = put_json(&app, &agent, &uri, json!({ "skills": {} })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Anyone sets their own presence; only managers set someone else's.
    let admin_id = me(&app, &admin).await;
    let other = put_json(
        &app,
        &agent,
        &format!("/api/v1/routing/agents/{admin_id}/presence"),
        json!({ "presence": "online" }),
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let bad_presence =
        put_json(&app, &agent, "/api/v1/me/presence", json!({ "presence": "busy" })).await;
    assert!(bad_presence.status.is_client_error(), "{}", bad_presence.text());

    let queues = app.get("/api/v1/queues", &[("cookie", &agent.cookie)]).await.json();
    let queue = queues["queues"][0]["id"].as_i64().unwrap();
    let uri = format!("/api/v1/queues/{queue}");
    let hours = json!([{ "weekday": 0, "start_minute": 540, "end_minute": 1080 }]);
    let saved = put_json(&app, &admin, &uri, json!({ "routing": { "hours": hours, "time_zone": "Europe/Berlin", "skills": { "presale": 2 } } })).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json()["routing"]["time_zone"], "Europe/Berlin");
    let nowhere = json!({ "routing": { "time_zone": "Mars/Olympus" } });
    let refused = put_json(&app, &admin, &uri, nowhere).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text());
    let inverted = json!([{ "weekday": 0, "start_minute": 600, "end_minute": 540 }]);
    let bad = put_json(&app, &admin, &uri, json!({ "routing": { "hours": inverted } })).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("hours"), "{}", bad.text());
    let missing = put_json(&app, &admin, "/api/v1/queues/999", json!({ "routing": {} })).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_live_desk_switches_presence_and_lets_managers_reroute() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let supervisor = app.login(SUPERVISOR).await;
    let desk = app.get("/desk", &[("cookie", &agent.cookie)]).await;
    assert_eq!(desk.status, StatusCode::OK);
    let html = desk.text();
    assert!(
        html.contains("data-testid=\"desk-queues\"") && html.contains("投诉与纠纷 Disputes"),
        "{html}"
    );
    assert!(html.contains("Emily Chen"));
    assert!(!html.contains("action=\"/desk/reroute\""), "agents do not get the re-route forms");

    let away = app
        .post_form(
            "/desk/presence",
            &[("cookie", &agent.cookie)],
            &[("csrf", &agent.csrf), ("presence", "away")],
        )
        .await;
    assert_eq!(away.status, StatusCode::SEE_OTHER, "{}", away.text());
    let agents = app.get("/api/v1/routing/agents", &[("cookie", &agent.cookie)]).await.json();
    let emily = me(&app, &agent).await;
    let mine = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["user_id"] == emily)
        .unwrap()
        .clone();
    assert_eq!(mine["presence"], "away");
    let forged = app
        .post_form(
            "/desk/presence",
            &[("cookie", &agent.cookie)],
            &[("csrf", "nope"), ("presence", "online")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // A waiting conversation is re-routed by the supervisor from the desk.
    let token = app.widget_token().await;
    app.widget_send(&token, "r1", "转人工").await;
    let bearer = format!("Bearer {token}");
    let mut conversation = 0;
    for _ in 0..100 {
        let state = app.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await.json();
        if state["conversation"]["state"] != "bot" {
            conversation = state["conversation"]["id"].as_i64().unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(conversation > 0);
    let html = app.get("/desk", &[("cookie", &supervisor.cookie)]).await.text();
    assert!(html.contains("action=\"/desk/reroute\""));
    let conversation_field = conversation.to_string();
    let emily_field = emily.to_string();
    let refused = app
        .post_form(
            "/desk/reroute",
            &[("cookie", &agent.cookie)],
            &[
                ("csrf", &agent.csrf),
                ("conversation", &conversation_field),
                ("agent", &emily_field),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let moved = app
        .post_form(
            "/desk/reroute",
            &[("cookie", &supervisor.cookie)],
            &[
                ("csrf", &supervisor.csrf),
                ("conversation", &conversation_field),
                ("agent", &emily_field),
            ],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text());
    let detail = app
        .get(&format!("/api/v1/conversations/{conversation}"), &[("cookie", &agent.cookie)])
        .await
        .json();
    assert_eq!(detail["conversation"]["assignee_id"], emily, "{detail}");
}
