//! Customer satisfaction: the widget's questions and rating of a resolved conversation, the
//! agents' API for ratings collected elsewhere, each inbox's questions (API and console), and the
//! rating on the conversation page.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, Session, TestApp, build};

/// A customer's conversation, resolved by the agent when `resolve`; returns its id.
async fn conversation(app: &TestApp, token: &str, agent: &Session, resolve: bool) -> i64 {
    let sent = app.widget_send(token, "c1", "我要退货").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let id = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    if resolve {
        resolve_it(app, agent, id).await;
    }
    id
}

/// The agent takes the conversation and resolves it.
async fn resolve_it(app: &TestApp, agent: &Session, id: i64) {
    {
        let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
        let uri = format!("/api/v1/conversations/{id}/transitions");
        let taken = app.post_json(&uri, &headers, json!({ "action": "assign" })).await;
        assert_eq!(taken.status, StatusCode::OK, "{}", taken.text());
        let resolved = app.post_json(&uri, &headers, json!({ "action": "resolve" })).await;
        assert_eq!(resolved.json()["conversation"]["state"], "resolved", "{}", resolved.text());
    }
}

async fn rate(
    app: &TestApp,
    token: &str,
    id: i64,
    body: Value,
) -> tandem_server::testing::Response {
    let bearer = format!("Bearer {token}");
    let uri = format!("/api/v1/widget/conversations/{id}/rating");
    app.post_json(&uri, &[("authorization", &bearer)], body).await
}

async fn put_csat(
    app: &TestApp,
    session: &Session,
    inbox: i64,
    body: Value,
) -> tandem_server::testing::Response {
    let headers = [
        ("cookie", session.cookie.as_str()),
        ("x-csrf-token", session.csrf.as_str()),
        ("content-type", "application/json"),
    ];
    let uri = format!("/api/v1/inboxes/{inbox}/csat");
    app.send(build(Method::PUT, &uri, &headers, Body::from(body.to_string()))).await
}

fn questions(extra: Value) -> Value {
    json!({
        "enabled": true,
        "rating": { "zh": "您满意吗？", "en": "Are you satisfied?" },
        "comment": { "zh": "还有什么想说的？", "en": "Anything else?" },
        "questions": extra,
    })
}

#[tokio::test]
async fn the_widget_rates_its_own_resolved_conversation_only() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let token = app.widget_token().await;
    let bearer = format!("Bearer {token}");
    let id = conversation(&app, &token, &agent, false).await;

    // The default questions, in the customer's language (the fixture's widget is Chinese).
    let uri = format!("/api/v1/widget/conversations/{id}/csat");
    let asked = app.get(&uri, &[("authorization", &bearer)]).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text());
    let asked = asked.json();
    assert_eq!((asked["enabled"].clone(), asked["resolved"].clone()), (json!(true), json!(false)));
    let kinds: Vec<&str> = asked["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["rating", "comment"]);
    assert_eq!(asked["questions"][0]["text"], "您对本次服务满意吗？");
    assert_eq!(asked["rating"], Value::Null);
    // The widget may name the language it shows.
    let english = app.get(&format!("{uri}?locale=en"), &[("authorization", &bearer)]).await.json();
    assert_eq!(english["questions"][0]["text"], "How satisfied are you with this conversation?");

    // Not before it is resolved.
    let early = rate(&app, &token, id, json!({ "rating": 5 })).await;
    assert_eq!(
        (early.status, early.code().as_str()),
        (StatusCode::CONFLICT, "conversation_not_resolved")
    );

    resolve_it(&app, &agent, id).await;
    // Another customer's conversation does not exist for them, nor does an unknown one.
    let stranger = app.widget_token().await;
    let theirs = rate(&app, &stranger, id, json!({ "rating": 1 })).await;
    assert_eq!(
        (theirs.status, theirs.code().as_str()),
        (StatusCode::NOT_FOUND, "conversation_not_found")
    );
    let peek = app.get(&uri, &[("authorization", &format!("Bearer {stranger}"))]).await;
    assert_eq!(peek.code(), "conversation_not_found");
    let unknown = rate(&app, &token, id + 1000, json!({ "rating": 1 })).await;
    assert_eq!(unknown.code(), "conversation_not_found");
    let anonymous = app
        .post_json(
            &format!("/api/v1/widget/conversations/{id}/rating"),
            &[],
            json!({ "rating": 5 }),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // Bad values, each with its code and field.
    for (body, code, field) in [
        (json!({ "rating": 0 }), "invalid_input", Some("rating")),
        (json!({ "rating": 6 }), "invalid_input", Some("rating")),
        (json!({ "rating": 4, "comment": "好".repeat(1001) }), "invalid_input", Some("comment")),
        (json!({ "rating": 4, "answers": { "colour": "blue" } }), "csat_unknown_question", None),
        (json!({ "rating": "five" }), "invalid_input", Some("body")),
        (json!({ "rating": 4, "extra": 1 }), "invalid_input", Some("body")),
    ] {
        let refused = rate(&app, &token, id, body.clone()).await;
        assert_eq!(refused.code(), code, "{body}: {}", refused.text());
        assert_eq!(refused.json()["field"].as_str(), field, "{body}");
    }
    assert_eq!(app.store.rating(tandem_domain::ConversationId(id)).await.unwrap(), None);

    // A good rating is stored, shown to the widget and to agents through the API.
    let rated = rate(&app, &token, id, json!({ "rating": 5, "comment": "  很满意  " })).await;
    assert_eq!(rated.status, StatusCode::OK, "{}", rated.text());
    assert_eq!(
        (rated.json()["rating"].clone(), rated.json()["comment"].clone()),
        (json!(5), json!("很满意"))
    );
    let again = app.get(&uri, &[("authorization", &bearer)]).await.json();
    assert_eq!(
        (again["resolved"].clone(), again["rating"]["rating"].clone()),
        (json!(true), json!(5))
    );
    let headers = [("cookie", agent.cookie.as_str())];
    let seen = app.get(&format!("/api/v1/conversations/{id}/rating"), &headers).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text());
    assert_eq!(seen.json()["rating"]["rating"], 5);
    assert_eq!(seen.json()["rating"]["comment"], "很满意");
    // A second rating replaces the first.
    let changed = rate(&app, &token, id, json!({ "rating": 3 })).await;
    assert_eq!(changed.status, StatusCode::OK);
    let stored = app.store.rating(tandem_domain::ConversationId(id)).await.unwrap().unwrap();
    assert_eq!((stored.rating, stored.comment), (Some(3), None));

    // The conversation page shows it to the agent.
    let page = app.get(&format!("/conversations/{id}"), &headers).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("data-testid=\"csat-rating\" data-rating=\"3\""),
        "{}",
        page.text()
    );
    assert!(page.text().contains("★★★☆☆"));
}

#[tokio::test]
async fn inboxes_ask_their_own_questions_and_refuse_others() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let supervisor = app.login(SUPERVISOR).await;
    let inbox = app.inbox_id().await.0;
    let extra = json!([
        { "id": "solved", "kind": "yes_no", "text": { "zh": "问题解决了吗？", "en": "Was your problem solved?" } },
        { "id": "speed", "kind": "scale", "text": { "zh": "速度如何？", "en": "How fast were we?" } },
    ]);
    // Agents read the questions; only supervisors and admins change them.
    let read =
        app.get(&format!("/api/v1/inboxes/{inbox}/csat"), &[("cookie", &agent.cookie)]).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    assert_eq!(read.json()["comment"]["en"], "Is there anything you would like to tell us?");
    let by_agent = put_csat(&app, &agent, inbox, questions(extra.clone())).await;
    assert_eq!(
        (by_agent.status, by_agent.code().as_str()),
        (StatusCode::FORBIDDEN, "managers_only")
    );
    let other_inbox = put_csat(&app, &supervisor, inbox + 1000, questions(extra.clone())).await;
    assert_eq!(other_inbox.code(), "inbox_not_found");
    // Bad settings are refused naming the part, and nothing is saved.
    let mut blank = questions(extra.clone());
    blank["rating"]["zh"] = json!(" ");
    let mut twice = questions(extra.clone());
    twice["questions"][1]["id"] = json!("solved");
    let mut reserved = questions(extra.clone());
    reserved["questions"][0]["id"] = json!("comment");
    let mut wrong_kind = questions(extra.clone());
    wrong_kind["questions"][0]["kind"] = json!("comment");
    let mut four = questions(extra.clone());
    for n in 0..2 {
        four["questions"].as_array_mut().unwrap().push(json!({ "id": format!("more{n}"), "kind": "scale", "text": { "zh": "再问", "en": "More" } }));
    }
    for (body, field) in [
        (blank, "rating_zh"),
        (twice, "q2_id"),
        (reserved, "q1_id"),
        (wrong_kind, "q1_kind"),
        (four, "questions"),
    ] {
        let refused = put_csat(&app, &supervisor, inbox, body).await;
        assert_eq!(
            (refused.code().as_str(), refused.json()["field"].as_str()),
            ("invalid_input", Some(field))
        );
    }
    let unchanged =
        app.get(&format!("/api/v1/inboxes/{inbox}/csat"), &[("cookie", &agent.cookie)]).await;
    assert_eq!(unchanged.json()["questions"], json!([]));

    let saved = put_csat(&app, &supervisor, inbox, questions(extra)).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());

    let token = app.widget_token().await;
    let id = conversation(&app, &token, &agent, true).await;
    let bearer = format!("Bearer {token}");
    let asked = app
        .get(&format!("/api/v1/widget/conversations/{id}/csat"), &[("authorization", &bearer)])
        .await
        .json();
    let ids: Vec<&str> =
        asked["questions"].as_array().unwrap().iter().map(|q| q["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["rating", "solved", "speed", "comment"]);
    assert_eq!(asked["questions"][1]["text"], "问题解决了吗？");

    for (answers, code) in [
        (json!({ "solved": "yes" }), "invalid_input"),
        (json!({ "speed": 9 }), "invalid_input"),
        (json!({ "colour": true }), "csat_unknown_question"),
    ] {
        let refused = rate(&app, &token, id, json!({ "rating": 4, "answers": answers })).await;
        assert_eq!(refused.code(), code, "{answers}");
    }
    let rated =
        rate(&app, &token, id, json!({ "rating": 4, "answers": { "solved": true, "speed": 5 } }))
            .await;
    assert_eq!(rated.status, StatusCode::OK, "{}", rated.text());
    let page = app.get(&format!("/conversations/{id}"), &[("cookie", &agent.cookie)]).await.text();
    assert!(page.contains("Was your problem solved?") && page.contains("Yes"), "{page}");

    // Without a comment question, a comment is an unknown answer; switched off, nothing is asked.
    let mut off = questions(json!([]));
    off["enabled"] = json!(false);
    off["comment"] = Value::Null;
    assert_eq!(put_csat(&app, &supervisor, inbox, off).await.status, StatusCode::OK);
    let asked = app
        .get(&format!("/api/v1/widget/conversations/{id}/csat"), &[("authorization", &bearer)])
        .await
        .json();
    assert_eq!(asked["enabled"], false);
    let disabled = rate(&app, &token, id, json!({ "rating": 5 })).await;
    assert_eq!(
        (disabled.status, disabled.code().as_str()),
        (StatusCode::CONFLICT, "csat_disabled")
    );
    // The agents' API records a rating collected elsewhere (checked against the same questions).
    let token_created = app
        .post_json(
            "/api/v1/tokens",
            &[("cookie", &agent.cookie), ("x-csrf-token", &agent.csrf)],
            json!({ "name": "survey" }),
        )
        .await;
    let api = format!("Bearer {}", token_created.json()["token"].as_str().unwrap());
    let uri = format!("/api/v1/conversations/{id}/rating");
    let with_comment = app
        .post_json(&uri, &[("authorization", &api)], json!({ "rating": 2, "comment": "slow" }))
        .await;
    assert_eq!(with_comment.code(), "csat_unknown_question");
    let recorded = app.post_json(&uri, &[("authorization", &api)], json!({ "rating": 2 })).await;
    assert_eq!(recorded.status, StatusCode::OK, "{}", recorded.text());
    let read = app.get(&uri, &[("authorization", &api)]).await.json();
    assert_eq!(read["rating"]["rating"], 2);
    // Not before the conversation is resolved.
    let open = conversation(&app, &app.widget_token().await, &agent, false).await;
    let early = app
        .post_json(
            &format!("/api/v1/conversations/{open}/rating"),
            &[("authorization", &api)],
            json!({ "rating": 2 }),
        )
        .await;
    assert_eq!(early.code(), "conversation_not_resolved");
    let none = app
        .get(&format!("/api/v1/conversations/{open}/rating"), &[("authorization", &api)])
        .await
        .json();
    assert_eq!(none["rating"], Value::Null);
}

#[tokio::test]
async fn the_console_page_edits_each_inboxs_questions() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let agent = app.login(AGENT).await;
    let inbox = app.inbox_id().await.0;
    let page = app.get("/settings/csat", &[("cookie", &admin.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(text.contains("data-testid=\"csat-defaults\""), "{text}");
    assert!(text.contains(&format!("action=\"/settings/csat/{inbox}\"")));

    let uri = format!("/settings/csat/{inbox}");
    let mut fields = vec![
        ("csrf", admin.csrf.as_str()),
        ("enabled", "1"),
        ("rating_zh", "满意吗？"),
        ("rating_en", "Happy?"),
        ("q2_id", "Solved!"),
        ("q2_kind", "yes_no"),
        ("q2_zh", "解决了吗？"),
        ("q2_en", "Solved?"),
    ];
    let cookie = [("cookie", admin.cookie.as_str())];
    let refused = app.post_form(&uri, &cookie, &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = refused.text();
    assert!(text.contains("data-field=\"q1_id\""), "{text}");
    assert!(text.contains("value=\"Solved!\""), "the form comes back as typed");
    // (The question left blank before it moved down: the message names the row it is in.)
    fields[4] = ("q2_id", "solved");
    let saved = app.post_form(&uri, &cookie, &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let stored = app.get(&format!("/api/v1/inboxes/{inbox}/csat"), &cookie).await.json();
    assert_eq!(stored["rating"]["en"], "Happy?");
    assert_eq!(stored["comment"], Value::Null, "the comment box was not ticked");
    assert_eq!(stored["questions"][0]["id"], "solved");

    // Agents read the page but cannot save it.
    let read = app.get("/settings/csat", &[("cookie", &agent.cookie)]).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(read.text().contains("fieldset disabled"));
    let forbidden = app
        .post_form(
            &uri,
            &[("cookie", &agent.cookie)],
            &[("csrf", &agent.csrf), ("rating_zh", "x"), ("rating_en", "x")],
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
}
