//! The console's pages: sign-in, language, CSRF on forms, and the page flows without script.

use axum::http::StatusCode;

use crate::support::{ADMIN, AGENT, TestApp, attribute, set_cookie};

#[tokio::test]
async fn wrong_password_is_refused_and_pages_redirect_to_login() {
    let app = TestApp::new().await;
    let page = app.get("/login", &[]).await;
    let login_cookie = set_cookie(&page.headers, "tandem_login").unwrap();
    let csrf = attribute(&page.text(), "name=\"csrf\" value=\"");
    let cookie = format!("tandem_login={login_cookie}");
    let wrong = app
        .post_form(
            "/login",
            &[("cookie", &cookie)],
            &[("email", ADMIN.0), ("password", "nope-nope"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("Wrong e-mail or password"));
    let forged = app
        .post_form(
            "/login",
            &[("cookie", &cookie)],
            &[("email", ADMIN.0), ("password", ADMIN.1), ("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let inbox = app.get("/inbox", &[]).await;
    assert_eq!(
        (inbox.status, inbox.headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/login")
    );
}

#[tokio::test]
async fn console_speaks_each_agents_language() {
    let app = TestApp::new().await;
    let chinese = app.login(ADMIN).await;
    let page = app.get("/inbox?view=queued", &[("cookie", &chinese.cookie)]).await.text();
    assert!(page.contains("排队中") && page.contains("收件箱"), "{page}");
    assert!(page.contains("Sarah Miller"), "the queued demo conversation is listed");
    let english = app.login(AGENT).await;
    let page = app.get("/inbox?view=queued", &[("cookie", &english.cookie)]).await.text();
    assert!(page.contains("Queued") && page.contains("Inbox"));
    let sign_in = app.get("/login", &[("accept-language", "zh-CN,zh;q=0.9")]).await.text();
    assert!(sign_in.contains("登录"));
}

#[tokio::test]
async fn conversation_page_shows_transcript_customer_and_actions() {
    let app = TestApp::new().await;
    let session = app.login(ADMIN).await;
    let fragment =
        app.get("/inbox/live?view=resolved", &[("cookie", &session.cookie)]).await.text();
    let id = attribute(&fragment, "data-conversation-id=\"");
    let page = app.get(&format!("/conversations/{id}"), &[("cookie", &session.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    for expected in
        ["张伟", "VIP 金卡", "蓝牙耳机", "kind-note", "已申请免运费", "重新打开", "kind-system"]
    {
        assert!(html.contains(expected), "{expected} missing");
    }
    let missing = app.get("/conversations/999999", &[("cookie", &session.cookie)]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn page_forms_need_the_session_csrf_token() {
    let app = TestApp::new().await;
    let session = app.login(AGENT).await;
    let fragment = app.get("/inbox/live?view=bot", &[("cookie", &session.cookie)]).await.text();
    let id = attribute(&fragment, "data-conversation-id=\"");
    let uri = format!("/conversations/{id}/actions");
    let forged = app
        .post_form(
            &uri,
            &[("cookie", &session.cookie)],
            &[("csrf", "forged"), ("action", "assign")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let taken = app
        .post_form(
            &uri,
            &[("cookie", &session.cookie)],
            &[("csrf", &session.csrf), ("action", "assign")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER);
    let reply = app
        .post_form(
            &format!("/conversations/{id}/messages"),
            &[("cookie", &session.cookie)],
            &[
                ("csrf", &session.csrf),
                ("body", "双十一 11 月 1 日晚 8 点开始。"),
                ("kind", "reply"),
                ("client_msg_id", "form-1"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let page =
        app.get(&format!("/conversations/{id}"), &[("cookie", &session.cookie)]).await.text();
    assert!(page.contains("双十一 11 月 1 日晚 8 点开始。"));
    assert!(page.contains("data-action=\"resolve\""), "the owner is offered resolve");
    // An illegal action comes back as a readable error on the page, not a crash.
    let illegal = app
        .post_form(
            &uri,
            &[("cookie", &session.cookie)],
            &[("csrf", &session.csrf), ("action", "reopen")],
        )
        .await;
    let location = illegal.headers["location"].to_str().unwrap().to_owned();
    assert!(location.contains("?error="), "{location}");
    assert!(
        app.get(&location, &[("cookie", &session.cookie)]).await.text().contains("cannot reopen")
    );
}

#[tokio::test]
async fn admins_manage_agents_from_the_console() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let page = app.get("/admin/agents", &[("cookie", &admin.cookie)]).await;
    assert!(page.text().contains("emily@galaxy.example"));
    let created = app
        .post_form(
            "/admin/agents",
            &[("cookie", &admin.cookie)],
            &[
                ("csrf", &admin.csrf),
                ("email", "li@galaxy.example"),
                ("display_name", "李丽"),
                ("role", "agent"),
                ("locale", "zh"),
                ("password", "li-password"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let invalid = app
        .post_form(
            "/admin/agents",
            &[("cookie", &admin.cookie)],
            &[
                ("csrf", &admin.csrf),
                ("email", "not-an-email"),
                ("display_name", "X"),
                ("role", "agent"),
                ("locale", "zh"),
                ("password", "li-password"),
            ],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::OK);
    assert!(invalid.text().contains("email: is not a valid e-mail address"));
    let agent = app.login(AGENT).await;
    assert_eq!(
        app.get("/admin/agents", &[("cookie", &agent.cookie)]).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::new().await;
    let session = app.login(AGENT).await;
    let out =
        app.post_form("/logout", &[("cookie", &session.cookie)], &[("csrf", &session.csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = app.get("/api/v1/me", &[("cookie", &session.cookie)]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn changing_language_in_settings_switches_the_console() {
    let app = TestApp::new().await;
    let session = app.login(AGENT).await;
    let saved = app
        .post_form(
            "/settings",
            &[("cookie", &session.cookie)],
            &[("csrf", &session.csrf), ("display_name", "Emily Chen"), ("locale", "zh")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(app.get("/inbox", &[("cookie", &session.cookie)]).await.text().contains("收件箱"));
}
