//! The JSON API: authentication, every error class, and bad input of every shape.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_domain::{AuthorKind, ConversationState};
use tandem_server::ServerConfig;

use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, Session, TestApp, build};

#[tokio::test]
async fn healthz_answers_when_the_store_does() {
    let app = TestApp::new().await;
    let response = app.get("/healthz", &[]).await;
    assert_eq!((response.status, response.text().as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn widget_message_is_persisted_before_ack() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let response = app.widget_send(&token, "m-1", "我的订单 20241123001 到哪了？").await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
    let body = response.json();
    assert_eq!(body["message"]["seq"], 1);
    assert_eq!(body["conversation"]["state"], "bot");
    let conversation =
        tandem_domain::ConversationId(body["message"]["conversation_id"].as_i64().unwrap());
    // The acknowledgement came after the write: the row is there now, without waiting.
    let stored = app.store.messages(conversation, 0, 10).await.unwrap();
    assert_eq!(stored[0].body, "我的订单 20241123001 到哪了？");
    assert_eq!(stored[0].author_kind, AuthorKind::Customer);
}

#[tokio::test]
async fn retried_widget_send_is_stored_once() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let first = app.widget_send(&token, "same-id", "hello").await;
    let retry = app.widget_send(&token, "same-id", "hello").await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(first.json()["message"]["id"], retry.json()["message"]["id"]);
    let listed = app
        .get("/api/v1/widget/messages", &[("authorization", &format!("Bearer {token}"))])
        .await
        .json();
    let customer_messages = listed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author_kind"] == "customer")
        .count();
    assert_eq!(customer_messages, 1);
}

#[tokio::test]
async fn returning_widget_session_keeps_the_customer() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let again = app
        .post_json(
            "/api/v1/widget/session",
            &[],
            json!({ "inbox_key": app.inbox_key, "token": token }),
        )
        .await
        .json();
    assert_eq!(again["token"], token.as_str());
    let forged = app
        .post_json(
            "/api/v1/widget/session",
            &[],
            json!({ "inbox_key": app.inbox_key, "token": "w1.1.1.forged" }),
        )
        .await
        .json();
    assert_ne!(forged["token"], token.as_str(), "a forged token gets a new customer");
    let unknown =
        app.post_json("/api/v1/widget/session", &[], json!({ "inbox_key": "pk_nope" })).await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "inbox_not_found")
    );
}

#[tokio::test]
async fn bad_input_gets_a_stable_code_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str()), ("content-type", "application/json")];
    let cases: Vec<(Body, StatusCode, &str)> = vec![
        (Body::from("{\"body\": "), StatusCode::BAD_REQUEST, "malformed_request"),
        (Body::from(vec![b'{', 0xff, 0xfe, b'}']), StatusCode::BAD_REQUEST, "malformed_request"),
        (Body::from("{\"body\": 5}"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        (Body::from("{\"body\": \"   \"}"), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        (
            Body::from(json!({ "body": "长".repeat(5001) }).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            Body::from(json!({ "body": "x".repeat(70_000) }).to_string()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Body::from(json!({ "body": "hi", "client_msg_id": "no spaces allowed" }).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            Body::from(json!({ "body": "hi", "surprise": 1 }).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (Body::from(""), StatusCode::BAD_REQUEST, "malformed_request"),
    ];
    for (body, status, code) in cases {
        let response = app.send(build(Method::POST, "/api/v1/widget/messages", &auth, body)).await;
        assert_eq!(
            (response.status, response.code().as_str()),
            (status, code),
            "{}",
            response.text()
        );
    }
    let plain = app
        .send(build(
            Method::POST,
            "/api/v1/widget/messages",
            &[("authorization", &bearer), ("content-type", "text/plain")],
            Body::from("hi"),
        ))
        .await;
    assert_eq!(
        (plain.status, plain.code().as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let listed = app.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await.json();
    assert_eq!(
        listed["conversation"],
        serde_json::Value::Null,
        "no conversation was started by bad input"
    );
}

#[tokio::test]
async fn widget_endpoints_require_a_valid_token() {
    let app = TestApp::new().await;
    let missing = app.get("/api/v1/widget/messages", &[]).await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let forged = app.widget_send("w1.1.1.AAAA", "x", "hi").await;
    assert_eq!(
        (forged.status, forged.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let bad_query =
        app.get("/api/v1/widget/messages?after_seq=abc", &[("authorization", "Bearer x")]).await;
    assert_eq!(bad_query.status, StatusCode::UNAUTHORIZED, "authentication is checked first");
}

#[tokio::test]
async fn widget_sends_are_rate_limited_with_retry_after() {
    let app = TestApp::with_config(ServerConfig {
        widget_burst: 2,
        widget_per_minute: 1,
        ..ServerConfig::default()
    })
    .await;
    let token = app.widget_token().await;
    assert_eq!(app.widget_send(&token, "a", "one").await.status, StatusCode::CREATED);
    assert_eq!(app.widget_send(&token, "b", "two").await.status, StatusCode::CREATED);
    let limited = app.widget_send(&token, "c", "three").await;
    assert_eq!(
        (limited.status, limited.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn customer_can_ask_for_a_person_once() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let bearer = format!("Bearer {token}");
    let hand_off = || {
        build(Method::POST, "/api/v1/widget/handoff", &[("authorization", &bearer)], Body::empty())
    };
    let first = app.send(hand_off()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["conversation"]["state"], "queued");
    let again = app.send(hand_off()).await;
    assert_eq!((again.status, again.code().as_str()), (StatusCode::CONFLICT, "illegal_transition"));
}

#[tokio::test]
async fn agent_api_needs_authentication_and_csrf_for_cookie_writes() {
    let app = TestApp::fixture().conversations().build().await;
    let anonymous = app.get("/api/v1/conversations", &[]).await;
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let bad_token = app.get("/api/v1/conversations", &[("authorization", "Bearer tdm_nope")]).await;
    assert_eq!(bad_token.code(), "invalid_token");

    let session = app.login(AGENT).await;
    let listed = app.get("/api/v1/conversations?view=all", &[("cookie", &session.cookie)]).await;
    assert_eq!(listed.status, StatusCode::OK);
    let conversation = listed.json()["conversations"][0]["id"].as_i64().unwrap();
    let uri = format!("/api/v1/conversations/{conversation}/messages");
    let without_csrf = app
        .post_json(&uri, &[("cookie", &session.cookie)], json!({ "body": "hi", "note": true }))
        .await;
    assert_eq!(
        (without_csrf.status, without_csrf.code().as_str()),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    let with_csrf = app
        .post_json(
            &uri,
            &[("cookie", &session.cookie), ("x-csrf-token", &session.csrf)],
            json!({ "body": "hi", "note": true }),
        )
        .await;
    assert_eq!(with_csrf.status, StatusCode::CREATED, "{}", with_csrf.text());

    // API tokens are not sent by browsers on their own, so they need no CSRF token.
    let created = app
        .post_json(
            "/api/v1/tokens",
            &[("cookie", &session.cookie), ("x-csrf-token", &session.csrf)],
            json!({ "name": "crm" }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let by_token = app
        .post_json(
            &uri,
            &[("authorization", &bearer)],
            json!({ "body": "from the API", "note": true }),
        )
        .await;
    assert_eq!(by_token.status, StatusCode::CREATED);
    let me = app.get("/api/v1/me", &[("authorization", &bearer)]).await.json();
    assert_eq!(me["email"], AGENT.0);
}

#[tokio::test]
async fn ownership_changes_follow_the_state_machine() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let conversation =
        app.widget_send(&token, "c1", "我要退货").await.json()["message"]["conversation_id"]
            .as_i64()
            .unwrap();
    let agent = app.login(AGENT).await;
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let uri = format!("/api/v1/conversations/{conversation}/transitions");
    let taken = app.post_json(&uri, &headers, json!({ "action": "assign" })).await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.text());
    assert_eq!(taken.json()["conversation"]["state"], "human");
    let twice = app.post_json(&uri, &headers, json!({ "action": "assign" })).await;
    assert_eq!((twice.status, twice.code().as_str()), (StatusCode::CONFLICT, "illegal_transition"));
    let resolved = app.post_json(&uri, &headers, json!({ "action": "resolve" })).await;
    assert_eq!(resolved.json()["conversation"]["state"], "resolved");
    let again = app.post_json(&uri, &headers, json!({ "action": "resolve" })).await;
    assert_eq!(again.code(), "illegal_transition");
    let unknown = app.post_json(&uri, &headers, json!({ "action": "teleport" })).await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    let reopened = app.post_json(&uri, &headers, json!({ "action": "reopen" })).await;
    assert_eq!(reopened.json()["conversation"]["state"], "bot");
    // The customer sees each change as a system message in their language.
    let messages =
        app.store.messages(tandem_domain::ConversationId(conversation), 0, 50).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.author_kind == AuthorKind::System && m.body == "客服 Emily Chen 已加入对话")
    );
}

#[tokio::test]
async fn only_supervisors_assign_conversations_to_others() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let conversation =
        app.widget_send(&token, "c1", "help").await.json()["message"]["conversation_id"]
            .as_i64()
            .unwrap();
    let uri = format!("/api/v1/conversations/{conversation}/transitions");
    let agent = app.login(AGENT).await;
    let admin_id = app.store.user_credentials(ADMIN.0).await.unwrap().unwrap().0.id.0;
    let refused = app
        .post_json(
            &uri,
            &[("cookie", &agent.cookie), ("x-csrf-token", &agent.csrf)],
            json!({ "action": "assign", "agent_id": admin_id }),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::FORBIDDEN, "assign_to_others")
    );
    let supervisor = app.login(SUPERVISOR).await;
    let assigned = app
        .post_json(
            &uri,
            &[("cookie", &supervisor.cookie), ("x-csrf-token", &supervisor.csrf)],
            json!({ "action": "assign", "agent_id": admin_id }),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.text());
    assert_eq!(assigned.json()["conversation"]["assignee_id"], admin_id);
    let stored =
        app.store.conversation(tandem_domain::ConversationId(conversation)).await.unwrap().unwrap();
    assert_eq!(stored.state, ConversationState::Human);
}

#[tokio::test]
async fn conversations_of_other_workspaces_do_not_exist() {
    let app = TestApp::new().await;
    let other = app.store.create_workspace("Other shop").await.unwrap();
    let outsider = app
        .store
        .create_user(tandem_store::NewUser {
            workspace_id: other.id,
            email: "out@example.com".into(),
            display_name: "Outsider".into(),
            role: tandem_domain::Role::Admin,
            locale: tandem_domain::Locale::En,
            password_hash: tandem_server::auth::hash_password("outsider-pass").unwrap(),
        })
        .await
        .unwrap();
    let session = app.login(("out@example.com", "outsider-pass")).await;
    assert!(outsider.id.0 > 0);
    let listed =
        app.get("/api/v1/conversations?view=all", &[("cookie", &session.cookie)]).await.json();
    assert_eq!(listed["conversations"].as_array().unwrap().len(), 0);
    let response = app.get("/api/v1/conversations/1", &[("cookie", &session.cookie)]).await;
    assert_eq!(
        (response.status, response.code().as_str()),
        (StatusCode::NOT_FOUND, "conversation_not_found")
    );
}

#[tokio::test]
async fn admins_manage_users_and_agents_cannot() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let headers = [("cookie", admin.cookie.as_str()), ("x-csrf-token", admin.csrf.as_str())];
    let new_user = json!({ "email": "new@galaxy.example", "display_name": "小新", "role": "agent", "password": "new-agent-pass" });
    let created = app.post_json("/api/v1/users", &headers, new_user.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let duplicate = app.post_json("/api/v1/users", &headers, new_user).await;
    assert_eq!(
        (duplicate.status, duplicate.code().as_str()),
        (StatusCode::CONFLICT, "email_taken")
    );
    let weak = app.post_json("/api/v1/users", &headers, json!({ "email": "w@galaxy.example", "display_name": "W", "role": "agent", "password": "short" })).await;
    assert_eq!(
        (weak.status, weak.json()["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let bad_role = app.post_json("/api/v1/users", &headers, json!({ "email": "r@galaxy.example", "display_name": "R", "role": "king", "password": "long enough" })).await;
    assert_eq!(bad_role.json()["field"], "role");

    let agent = app.login(AGENT).await;
    let refused = app
        .post_json("/api/v1/users", &[("cookie", &agent.cookie), ("x-csrf-token", &agent.csrf)], json!({ "email": "x@galaxy.example", "display_name": "X", "role": "admin", "password": "long enough" }))
        .await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::FORBIDDEN, "admins_only"));

    // Deactivating an agent ends their session at once.
    let id = created.json()["id"].as_i64().unwrap();
    let new_session = app.login(("new@galaxy.example", "new-agent-pass")).await;
    let patch = build(
        Method::PATCH,
        &format!("/api/v1/users/{id}"),
        &[
            ("cookie", &admin.cookie),
            ("x-csrf-token", &admin.csrf),
            ("content-type", "application/json"),
        ],
        Body::from("{\"active\": false}"),
    );
    assert_eq!(app.send(patch).await.status, StatusCode::OK);
    let after = app.get("/api/v1/me", &[("cookie", &new_session.cookie)]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::new().await;
    let response = app.get("/openapi.json", &[]).await;
    assert_eq!(response.status, StatusCode::OK);
    let document = response.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        // Any value will do for a path parameter: the route matches before the handler looks.
        let uri = path.split('/').map(|part| if part.starts_with('{') { "1" } else { part });
        let uri = uri.collect::<Vec<_>>().join("/");
        for method in item.as_object().unwrap().keys() {
            let Ok(method) = Method::from_bytes(method.to_uppercase().as_bytes()) else { continue };
            if !matches!(
                method,
                Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            ) {
                continue;
            }
            let id = item[method.as_str().to_lowercase()]["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id.to_owned()), "{method} {path} repeats the id {id}");
            let response = app.send(build(method.clone(), &uri, &[], Body::empty())).await;
            let code =
                serde_json::from_str::<Value>(&response.text()).unwrap_or_default()["code"].clone();
            assert!(
                code != "route_not_found" && code != "method_not_allowed",
                "{method} {path} is documented but not served ({code})"
            );
        }
    }
    assert!(operation_ids.len() >= 50, "only {} operations are documented", operation_ids.len());
    // What is not routed says so in the one error shape.
    let missing = app.get("/api/v1/nothing-here", &[]).await;
    assert_eq!(
        (missing.status, missing.json()["code"].clone()),
        (StatusCode::NOT_FOUND, json!("route_not_found"))
    );
    let wrong = app.send(build(Method::DELETE, "/healthz", &[], Body::empty())).await;
    assert_eq!(
        (wrong.status, wrong.json()["code"].clone()),
        (StatusCode::METHOD_NOT_ALLOWED, json!("method_not_allowed"))
    );
    // A browser asking for a page gets one, in its language.
    let page =
        app.get("/nothing-here", &[("accept", "text/html"), ("accept-language", "zh-CN")]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text().contains("找不到该页面"), "{}", page.text());
    // A signed-in agent reads it in their own language, whatever the browser says.
    let emily = app.login(AGENT).await;
    let headers =
        [("accept", "text/html"), ("accept-language", "zh-CN"), ("cookie", &emily.cookie)];
    let page = app.get("/nothing-here", &headers).await;
    assert!(page.text().contains("That page does not exist"), "{}", page.text());
    // Every error code is listed with its meaning.
    let codes = &document["components"]["schemas"]["ErrorCode"];
    let table = codes["description"].as_str().unwrap();
    for code in tandem_server::error::ErrorCode::ALL {
        assert!(codes["enum"].as_array().unwrap().contains(&json!(code.as_str())), "{code:?}");
        assert!(
            table.contains(&format!("| `{}` | {} |", code.as_str(), code.status().as_u16())),
            "{code:?}"
        );
    }
}

/// The other half of the document's promise: an API route can only be added with
/// `utoipa_axum`'s `routes!`, which documents it. A plain `.route(...)` or `.nest(...)` for an
/// API path would serve it undocumented.
#[test]
fn api_routes_are_only_registered_with_their_document() {
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    assert!(files.len() > 10);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let registers = [".route(\"", ".nest(\"", ".route_service(\"", ".nest_service(\""]
                .iter()
                .filter_map(|call| line.find(call).map(|at| &line[at + call.len()..]))
                .next();
            if let Some(path) = registers {
                assert!(
                    !["/api", "/healthz", "/openapi"].iter().any(|api| path.starts_with(api)),
                    "{}:{}: an API route registered outside routes!: {line}",
                    file.display(),
                    number + 1
                );
            }
        }
    }
}

/// Posts a raw body with the session's CSRF token.
async fn post_text(
    app: &TestApp,
    session: &tandem_server::testing::Session,
    uri: &str,
    body: &str,
) -> tandem_server::testing::Response {
    let headers = [
        ("cookie", session.cookie.as_str()),
        ("x-csrf-token", session.csrf.as_str()),
        ("content-type", "text/plain"),
    ];
    app.send(build(Method::POST, uri, &headers, Body::from(body.to_owned()))).await
}

#[tokio::test]
async fn a_knowledge_import_with_a_bad_line_saves_nothing() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let body = "{\"id\": \"gift-wrap\", \"title\": \"礼品包装\", \"questions\": [\"可以包装成礼物吗\"], \"answer\": \"结算时勾选礼品包装，免费。\"}\n{\"id\": \"Bad Key\", \"title\": \"x\", \"answer\": \"y\"}\n";
    let response = post_text(&app, &admin, "/api/v1/articles/import?format=jsonl", body).await;
    assert_eq!(
        (response.status, response.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "import_failed")
    );
    let errors = response.json()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], 2);
    let listed = app.get("/api/v1/articles", &[("cookie", &admin.cookie)]).await.json();
    assert!(
        !listed["articles"].as_array().unwrap().iter().any(|article| article["key"] == "gift-wrap")
    );
}

#[tokio::test]
async fn an_imported_article_is_answered_at_once_with_its_source() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let body = "{\"id\": \"gift-wrap\", \"title\": \"礼品包装\", \"questions\": [\"可以包装成礼物吗\", \"有礼品包装吗\", \"能帮我包成礼物吗\"], \"answer\": \"结算时勾选「礼品包装」，免费提供。\"}\n";
    let response = post_text(&app, &admin, "/api/v1/articles/import?format=jsonl", body).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["imported"], 1);
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "gift-1", "有礼品包装吗？").await.json();
    let conversation =
        tandem_domain::ConversationId(sent["message"]["conversation_id"].as_i64().unwrap());
    let mut reply = None;
    for _ in 0..200 {
        let messages = app.store.messages(conversation, 1, 10).await.unwrap();
        if let Some(message) =
            messages.into_iter().find(|message| message.author_kind == AuthorKind::Bot)
        {
            reply = Some(message);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let reply = reply.expect("a bot reply");
    assert_eq!(reply.body, "结算时勾选「礼品包装」，免费提供。");
    assert_eq!(reply.meta.unwrap().source.unwrap().article, "gift-wrap");
    let bearer = format!("Bearer {token}");
    let widget_view =
        app.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await.json();
    let bot = widget_view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|message| message["author_kind"] == "bot")
        .unwrap()
        .clone();
    assert_eq!(bot["meta"]["source"]["title"], "礼品包装", "the widget receives the source");
    assert!(bot.get("decision").is_none(), "the decision record is for agents only");
    // Agents see the decision record under the bot message, with a replay link.
    let page = app
        .get(&format!("/conversations/{}", conversation.0), &[("cookie", &admin.cookie)])
        .await
        .text();
    assert!(
        page.contains("决策记录") && page.contains("<code>gift-wrap</code>"),
        "decision record missing"
    );
    assert!(page.contains("/knowledge/test?q="));
    let decisions = app.store.decisions(conversation).await.unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(
        (decisions[0].1.outcome.as_str(), decisions[0].1.query.as_str()),
        ("answer", "有礼品包装吗？")
    );
}

#[tokio::test]
async fn knowledge_is_read_by_all_and_changed_by_editors() {
    let app = TestApp::fixture().sample_articles().build().await;
    let agent = app.login(AGENT).await;
    let listed = app.get("/api/v1/articles", &[("cookie", &agent.cookie)]).await.json();
    assert_eq!(listed["articles"].as_array().unwrap().len(), 5);
    let refused = post_text(&app, &agent, "/api/v1/articles/import?format=jsonl", "{}").await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::FORBIDDEN, "managers_only"));
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let explained = app
        .post_json("/api/v1/answer/explain", &headers, json!({ "question": "怎么退货" }))
        .await
        .json();
    assert_eq!(explained["outcome"], "answer");
    assert_eq!(explained["candidates"][0]["article"], "returns");
    assert!(explained["answer"].as_str().unwrap().contains("7 天"));
    let supervisor = app.login(SUPERVISOR).await;
    let archived = app
        .post_json(
            "/api/v1/articles/returns/status",
            &[("cookie", &supervisor.cookie), ("x-csrf-token", &supervisor.csrf)],
            json!({ "status": "archived" }),
        )
        .await;
    assert_eq!(archived.json()["status"], "archived");
    let csv = app.get("/api/v1/articles/export?format=csv", &[("cookie", &agent.cookie)]).await;
    assert!(
        csv.text()
            .starts_with("id,title,question,answer,lang,tags,effective_from,expires_at,channels\n")
    );
    assert!(csv.text().contains("退货政策"));
}

#[tokio::test]
async fn answer_settings_are_validated_and_change_the_bot_at_once() {
    let app = TestApp::new().await;
    let put = |session: &Session, body: Value| {
        let headers =
            [("cookie", session.cookie.as_str()), ("x-csrf-token", session.csrf.as_str())];
        let request = build(
            Method::PUT,
            "/api/v1/answer/settings",
            &[&headers[..], &[("content-type", "application/json")]].concat(),
            Body::from(body.to_string()),
        );
        app.send(request)
    };
    let agent = app.login(AGENT).await;
    let shown = app.get("/api/v1/answer/settings", &[("cookie", &agent.cookie)]).await.json();
    assert_eq!(shown["threshold"], Value::Null);
    assert_eq!(shown["effective_threshold"], shown["default_threshold"]);
    let refused = put(&agent, json!({ "threshold": 0.5 })).await;
    assert_eq!(refused.code(), "managers_only");

    let supervisor = app.login(SUPERVISOR).await;
    for bad in [
        json!({ "threshold": 2 }),
        json!({ "threshold": "high" }),
        json!({ "dictionary": ["x"] }),
        json!({ "dictionary": ["ok word"], "extra": 1 }),
    ] {
        let response = put(&supervisor, bad.clone()).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let saved =
        put(&supervisor, json!({ "threshold": 0.9, "dictionary": ["天猫精灵", " "] })).await;
    assert_eq!(saved.status, StatusCode::OK);
    let saved = saved.json();
    assert_eq!((saved["effective_threshold"].as_f64().unwrap() * 100.0).round(), 90.0);
    assert_eq!(saved["dictionary"], json!(["天猫精灵"]));
    let headers = [("cookie", agent.cookie.as_str()), ("x-csrf-token", agent.csrf.as_str())];
    let explained = app
        .post_json("/api/v1/answer/explain", &headers, json!({ "question": "我想退个货可以吗" }))
        .await
        .json();
    assert_eq!((explained["threshold"].as_f64().unwrap() * 100.0).round(), 90.0);
    let bad_channel = app
        .post_json(
            "/api/v1/answer/explain",
            &headers,
            json!({ "question": "怎么退货", "channel": "fax" }),
        )
        .await;
    assert_eq!(bad_channel.code(), "invalid_input");
}
