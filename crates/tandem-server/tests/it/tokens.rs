//! API tokens: scopes cap what a token may do, revoked and expired tokens are refused, uses
//! are noted, a password change revokes them when asked, and the settings page lists and
//! revokes them.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tandem_domain::{ApiTokenId, TokenScope, User};
use tandem_server::auth::token_hash;
use tandem_server::testing::{ADMIN, AGENT, Session, TestApp, attribute, build};
use tandem_store::NewApiToken;

fn with_session(session: &Session) -> [(&str, &str); 2] {
    [("cookie", session.cookie.as_str()), ("x-csrf-token", session.csrf.as_str())]
}

/// Creates a token through the API as the signed-in person; returns the whole answer.
async fn create(app: &TestApp, session: &Session, body: Value) -> Value {
    let created = app.post_json("/api/v1/tokens", &with_session(session), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    created.json()
}

fn bearer(token: &Value) -> String {
    format!("Bearer {}", token["token"].as_str().unwrap())
}

async fn user(app: &TestApp, (email, _): (&str, &str)) -> User {
    app.store.user_credentials(email).await.unwrap().unwrap().0
}

async fn delete(
    app: &TestApp,
    uri: &str,
    headers: &[(&str, &str)],
) -> tandem_server::testing::Response {
    app.send(build(Method::DELETE, uri, headers, Body::empty())).await
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_through_the_api() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let created =
        create(&app, &agent, json!({ "name": "crm", "scope": "agent", "expires_in_days": 30 }))
            .await;
    assert!(created["token"].as_str().unwrap().starts_with("tdm_"));
    assert_eq!(created["name"], "crm");
    assert_eq!(created["scope"], "agent");
    assert_eq!(created["status"], "active");
    assert!(created["expires_at"].as_i64().unwrap() > tandem_store::now_millis());
    let token = bearer(&created);

    // Refused values name their field.
    let refused = app
        .post_json("/api/v1/tokens", &with_session(&agent), json!({ "name": "x", "scope": "root" }))
        .await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert_eq!(refused.json()["field"], "scope");
    let refused = app
        .post_json(
            "/api/v1/tokens",
            &with_session(&agent),
            json!({ "name": "x", "expires_in_days": 0 }),
        )
        .await;
    assert_eq!(refused.json()["field"], "expires_in_days");
    let refused =
        app.post_json("/api/v1/tokens", &with_session(&agent), json!({ "name": " " })).await;
    assert_eq!(refused.json()["field"], "name");

    // The list never shows secrets; the token lists its own owner's tokens.
    let listed = app.get("/api/v1/tokens", &[("authorization", &token)]).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let tokens = listed.json()["tokens"].as_array().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["name"], "crm");
    assert!(tokens[0].get("token").is_none() && !listed.text().contains("tdm_"));

    // An admin sees the workspace's tokens; another agent's token is not theirs to revoke.
    let admin = app.login(ADMIN).await;
    let admins = create(&app, &admin, json!({ "name": "reports" })).await;
    assert_eq!(admins["scope"], "admin", "the caller's role by default");
    let all = app.get("/api/v1/tokens", &with_session(&admin)).await.json();
    assert_eq!(all["tokens"].as_array().unwrap().len(), 2);
    let mine = app.get("/api/v1/tokens", &with_session(&agent)).await.json();
    assert_eq!(mine["tokens"].as_array().unwrap().len(), 1);
    let not_theirs =
        delete(&app, &format!("/api/v1/tokens/{}", admins["id"]), &with_session(&agent)).await;
    assert_eq!(
        (not_theirs.status, not_theirs.code().as_str()),
        (StatusCode::NOT_FOUND, "api_token_not_found")
    );

    // The owner revokes it; it is refused from then on.
    let id = created["id"].as_i64().unwrap();
    let revoked = delete(&app, &format!("/api/v1/tokens/{id}"), &[("authorization", &token)]).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text());
    assert_eq!(revoked.json()["status"], "revoked");
    let refused = app.get("/api/v1/me", &[("authorization", &token)]).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
    // The admin revokes the admin's own token of someone else's workspace… only their own
    // workspace's; here their own.
    let by_admin =
        delete(&app, &format!("/api/v1/tokens/{}", admins["id"]), &with_session(&admin)).await;
    assert_eq!(by_admin.status, StatusCode::OK);
    let unknown = app.get("/api/v1/me", &[("authorization", "Bearer tdm_nothing")]).await;
    assert_eq!(unknown.code(), "invalid_token");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::new().await;
    let agent = user(&app, AGENT).await;
    app.store
        .create_api_token(NewApiToken {
            user_id: agent.id,
            token_hash: token_hash("tdm_old"),
            name: "old".into(),
            scope: TokenScope::Agent,
            expires_at: Some(tandem_store::now_millis() - 1),
        })
        .await
        .unwrap();
    let refused = app.get("/api/v1/me", &[("authorization", "Bearer tdm_old")]).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );
}

#[tokio::test]
async fn scopes_cap_what_a_token_may_do() {
    let app = TestApp::fixture().conversations().build().await;
    let admin = app.login(ADMIN).await;

    // Read-only: reads, but writes nothing.
    let read_only =
        bearer(&create(&app, &admin, json!({ "name": "bi", "scope": "read_only" })).await);
    let read = app.get("/api/v1/conversations", &[("authorization", &read_only)]).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    let write = app
        .post_json("/api/v1/tokens", &[("authorization", &read_only)], json!({ "name": "more" }))
        .await;
    assert_eq!((write.status, write.code().as_str()), (StatusCode::FORBIDDEN, "token_read_only"));

    // An admin's agent-scoped token acts as an agent: no admin-only route, no wider token.
    let agent_scoped =
        bearer(&create(&app, &admin, json!({ "name": "bot", "scope": "agent" })).await);
    let me = app.get("/api/v1/me", &[("authorization", &agent_scoped)]).await.json();
    assert_eq!(me["role"], "agent");
    let new_user = json!({
        "email": "new@galaxy.example", "display_name": "New", "role": "agent", "password": "long enough"
    });
    let refused =
        app.post_json("/api/v1/users", &[("authorization", &agent_scoped)], new_user.clone()).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::FORBIDDEN, "admins_only"));
    let wider = app
        .post_json(
            "/api/v1/tokens",
            &[("authorization", &agent_scoped)],
            json!({ "name": "x", "scope": "admin" }),
        )
        .await;
    assert_eq!(
        (wider.status, wider.code().as_str()),
        (StatusCode::FORBIDDEN, "token_scope_too_wide")
    );
    let narrower = app
        .post_json(
            "/api/v1/tokens",
            &[("authorization", &agent_scoped)],
            json!({ "name": "x", "scope": "read_only" }),
        )
        .await;
    assert_eq!(narrower.status, StatusCode::CREATED, "{}", narrower.text());

    // The admin-scoped token acts as the admin.
    let full = bearer(&create(&app, &admin, json!({ "name": "ops", "scope": "admin" })).await);
    let created = app.post_json("/api/v1/users", &[("authorization", &full)], new_user).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
}

#[tokio::test]
async fn a_use_is_noted_in_the_background() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let created = create(&app, &agent, json!({ "name": "crm" })).await;
    assert!(created["last_used_at"].is_null());
    let id = ApiTokenId(created["id"].as_i64().unwrap());
    let used = app.get("/api/v1/me", &[("authorization", &bearer(&created))]).await;
    assert_eq!(used.status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (token, _) = app.store.api_token_by_id(id).await.unwrap().unwrap();
        if token.last_used_at.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "last_used_at was never set");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn save_settings(app: &TestApp, session: &Session, revoke: bool) {
    let mut fields = vec![
        ("csrf", session.csrf.as_str()),
        ("display_name", "Emily"),
        ("locale", "en"),
        ("password", "a new password"),
    ];
    if revoke {
        fields.push(("revoke_tokens", "1"));
    }
    let saved = app.post_form("/settings", &[("cookie", &session.cookie)], &fields).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
}

#[tokio::test]
async fn a_password_change_revokes_tokens_only_when_asked() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let token = bearer(&create(&app, &agent, json!({ "name": "crm" })).await);
    save_settings(&app, &agent, false).await;
    // A new password alone ends the sessions but keeps the tokens.
    let kept = app.get("/api/v1/me", &[("authorization", &token)]).await;
    assert_eq!(kept.status, StatusCode::OK, "without the box, tokens keep working");

    let agent = app.login((AGENT.0, "a new password")).await;
    save_settings(&app, &agent, true).await;
    let ended = app.get("/api/v1/me", &[("authorization", &token)]).await;
    assert_eq!((ended.status, ended.code().as_str()), (StatusCode::UNAUTHORIZED, "token_revoked"));
    let signed_out = app.get("/api/v1/me", &with_session(&agent)).await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED, "sessions end with a new password");
}

#[tokio::test]
async fn the_settings_page_lists_creates_and_revokes_tokens() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let created = app
        .post_form(
            "/settings/tokens",
            &[("cookie", &agent.cookie)],
            &[
                ("csrf", &agent.csrf),
                ("name", "spreadsheet"),
                ("scope", "read_only"),
                ("expires_in_days", "7"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let html = created.text();
    let start = html.find("<code id=\"new-token\">").expect("the new token") + 21;
    let secret = html[start..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("tdm_"), "{secret}");

    let page = app.get("/settings", &[("cookie", &agent.cookie)]).await.text();
    assert!(page.contains("spreadsheet") && page.contains("data-status=\"active\""), "{page}");
    assert!(!page.contains(&secret), "the secret is shown once");
    let id = attribute(&page, "data-token-id=\"");

    // Without the CSRF token nothing is revoked.
    let forged = app
        .post_form(
            &format!("/settings/tokens/{id}/revoke"),
            &[("cookie", &agent.cookie)],
            &[("csrf", "wrong")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let token = format!("Bearer {secret}");
    assert_eq!(app.get("/api/v1/me", &[("authorization", &token)]).await.status, StatusCode::OK);

    let revoked = app
        .post_form(
            &format!("/settings/tokens/{id}/revoke"),
            &[("cookie", &agent.cookie)],
            &[("csrf", &agent.csrf)],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.text());
    let page = app.get("/settings?notice=token_revoked", &[("cookie", &agent.cookie)]).await.text();
    assert!(
        page.contains("data-status=\"revoked\"") && page.contains("The token was revoked"),
        "{page}"
    );
    let refused = app.get("/api/v1/me", &[("authorization", &token)]).await;
    assert_eq!(refused.code(), "token_revoked");

    // Refused values are said on the page, in the agent's language.
    let bad = app
        .post_form(
            "/settings/tokens",
            &[("cookie", &agent.cookie)],
            &[
                ("csrf", &agent.csrf),
                ("name", "x"),
                ("scope", "agent"),
                ("expires_in_days", "soon"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.text().contains("flash error"), "{}", bad.text());
}
