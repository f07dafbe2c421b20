//! The settings page's channel forms: admins create inboxes and set each one's channel
//! credentials there, secrets kept when left empty and refused values shown again.

use axum::http::{StatusCode, header};
use tandem_domain::InboxId;
use tandem_server::testing::browser::{Browser, chromium_or_skip};
use tandem_server::testing::{ADMIN, AGENT, Session, TestApp};

/// Where the browser test's screenshots go.
const SCREENSHOTS: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/e2e");

/// Creates an inbox through the settings page's form and answers its id.
async fn create_inbox(app: &TestApp, admin: &Session, name: &str, channel: &str) -> i64 {
    let created = app
        .post_form(
            "/settings/inboxes",
            &[("cookie", &admin.cookie)],
            &[("csrf", &admin.csrf), ("name", name), ("channel", channel)],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    let location = created.headers[header::LOCATION].to_str().unwrap();
    assert!(location.starts_with("/settings?notice=inbox_created#inbox-"), "{location}");
    location.rsplit('-').next().unwrap().parse().unwrap()
}

fn email_form<'a>(csrf: &'a str, address: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("address", address),
        ("display_name", "Shop support"),
        ("smtp_host", "smtp.shop.example"),
        ("smtp_port", "465"),
        ("smtp_security", "tls"),
        ("smtp_username", "mailer"),
        ("smtp_password", password),
        ("smtp_timeout", "20"),
    ]
}

#[tokio::test]
async fn an_admin_sets_an_email_inbox_from_the_settings_page() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let inbox = create_inbox(&app, &admin, "Mail", "email").await;
    let uri = format!("/settings/inboxes/{inbox}/channel");

    let page = app.get("/settings", &[("cookie", &admin.cookie)]).await.text();
    assert!(page.contains(&format!("action=\"{uri}\"")), "{page}");
    assert!(page.contains("channel-unset"), "not configured yet");

    let saved = app
        .post_form(
            &uri,
            &[("cookie", &admin.cookie)],
            &email_form(&admin.csrf, "support@shop.example", "hunter2"),
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let location = saved.headers[header::LOCATION].to_str().unwrap();
    assert_eq!(location, format!("/settings?notice=channel_saved#inbox-{inbox}"));

    let shown =
        app.get(&format!("/api/v1/inboxes/{inbox}/channel"), &[("cookie", &admin.cookie)]).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    let view = shown.json();
    let email = &view["settings"]["email"];
    assert_eq!(email["address"], "support@shop.example", "{view}");
    assert_eq!(email["display_name"], "Shop support");
    assert_eq!(email["smtp"]["host"], "smtp.shop.example");
    assert_eq!(email["smtp"]["port"], 465);
    assert_eq!(email["smtp"]["security"], "tls");
    assert_eq!(email["smtp"]["username"], "mailer");
    assert_eq!(email["smtp"]["password"], "********");
    assert_eq!(email["smtp"]["timeout"], 20);
    assert!(!shown.text().contains("hunter2"));

    // The page shows the stored values, the password only as set, and the listener hint.
    let page = app.get(location, &[("cookie", &admin.cookie)]).await.text();
    assert!(page.contains("value=\"smtp.shop.example\""), "{page}");
    assert!(
        page.contains("class=\"small secret-state set\" data-secret=\"smtp_password\""),
        "{page}"
    );
    assert!(!page.contains("hunter2"));
    assert!(page.contains("smtp-hint"), "{page}");
    assert!(!page.contains("channel-unset"));

    // Saved again with the password left empty: the stored one is kept.
    let again = app
        .post_form(
            &uri,
            &[("cookie", &admin.cookie)],
            &email_form(&admin.csrf, "help@shop.example", ""),
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text());
    let stored = app.store.inbox_settings(InboxId(inbox)).await.unwrap().unwrap();
    assert_eq!(stored["email"]["smtp"]["password"], "hunter2", "kept: {stored}");
    assert_eq!(stored["email"]["address"], "help@shop.example");
}

#[tokio::test]
async fn a_refused_value_shows_the_form_again_and_stores_nothing() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let inbox = create_inbox(&app, &admin, "Mail", "email").await;
    let uri = format!("/settings/inboxes/{inbox}/channel");
    let refused = app
        .post_form(
            &uri,
            &[("cookie", &admin.cookie)],
            &email_form(&admin.csrf, "not-an-email", "hunter2"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.text());
    let page = refused.text();
    assert!(page.contains("channel-error"), "{page}");
    assert!(
        page.contains("name=\"address\" value=\"not-an-email\" required aria-invalid=\"true\""),
        "{page}"
    );
    assert!(!page.contains("hunter2"), "a typed secret is never shown again");
    assert!(app.store.inbox_settings(InboxId(inbox)).await.unwrap().is_none());

    // WeCom: an EncodingAESKey of 42 characters.
    let wecom = create_inbox(&app, &admin, "WeCom", "wecom").await;
    let key = "a".repeat(42);
    let refused = app
        .post_form(
            &format!("/settings/inboxes/{wecom}/channel"),
            &[("cookie", &admin.cookie)],
            &[
                ("csrf", &admin.csrf),
                ("corp_id", "ww1"),
                ("secret", "s3cret"),
                ("token", "tok"),
                ("encoding_aes_key", &key),
                ("open_kfid", "wkAAA"),
                ("base_url", "https://qyapi.weixin.qq.com"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.text());
    let page = refused.text();
    assert!(page.contains("EncodingAESKey"), "{page}");
    assert!(page.contains("name=\"encoding_aes_key\" autocomplete=\"new-password\""));
    assert!(page.contains("value=\"wkAAA\""), "typed values are kept: {page}");
    assert!(app.store.inbox_settings(InboxId(wecom)).await.unwrap().is_none());
}

#[tokio::test]
async fn the_page_shows_a_wecom_inbox_its_callback_url_and_agents_are_refused() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let wecom = create_inbox(&app, &admin, "WeCom", "wecom").await;
    let public_key = app.store.inbox(InboxId(wecom)).await.unwrap().unwrap().public_key;
    let page = app.get("/settings", &[("cookie", &admin.cookie)]).await.text();
    let url = format!("/channels/wecom/{public_key}</code>");
    assert!(page.contains(&url), "{page}");
    assert!(page.contains("class=\"callback-url\""));
    assert!(page.contains("name=\"encoding_aes_key\""));
    assert!(page.contains("value=\"https://qyapi.weixin.qq.com\""), "the default API address");

    let saved = app
        .post_form(
            &format!("/settings/inboxes/{wecom}/channel"),
            &[("cookie", &admin.cookie)],
            &[
                ("csrf", &admin.csrf),
                ("corp_id", "ww1"),
                ("secret", "s3cret"),
                ("token", "tok"),
                ("encoding_aes_key", &"a".repeat(43)),
                ("open_kfid", "wkAAA"),
                ("base_url", "https://qyapi.weixin.qq.com"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());

    let agent = app.login(AGENT).await;
    let refused = app
        .post_form(
            &format!("/settings/inboxes/{wecom}/channel"),
            &[("cookie", &agent.cookie)],
            &[("csrf", &agent.csrf), ("corp_id", "evil"), ("open_kfid", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let stored = app.store.inbox_settings(InboxId(wecom)).await.unwrap().unwrap();
    assert_eq!(stored["wecom"]["corp_id"], "ww1");
    let created = app
        .post_form(
            "/settings/inboxes",
            &[("cookie", &agent.cookie)],
            &[("csrf", &agent.csrf), ("name", "Mine"), ("channel", "web")],
        )
        .await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.text());
    let page = app.get("/settings", &[("cookie", &agent.cookie)]).await.text();
    assert!(!page.contains("channel-form"));
    assert!(!page.contains("create-inbox"));
}

/// In a real browser: an admin fills in an e-mail inbox's form and sees it saved, with a WeCom
/// inbox's callback URL below. The page is kept as `settings-channels.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_fills_in_a_channel_form_in_a_browser() {
    let Some(chromium) = chromium_or_skip("an_admin_fills_in_a_channel_form_in_a_browser") else {
        return;
    };
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let email = create_inbox(&app, &admin, "Support mail", "email").await;
    create_inbox(&app, &admin, "WeCom service", "wecom").await;
    let base = format!("http://{}", app.spawn().await);
    let browser = Browser::launch(&chromium, SCREENSHOTS).await;
    let page = browser.new_page().await;
    page.sign_in(&base, ADMIN).await;
    page.goto(&format!("{base}/settings")).await;
    let form =
        format!("document.querySelector('form[action=\\'/settings/inboxes/{email}/channel\\']')");
    page.eval(&format!(
        "(() => {{ const f = {form}; f.address.value = 'support@shop.example'; f.smtp_host.value = 'smtp.shop.example'; f.smtp_password.value = 'hunter2'; f.submit(); return true; }})()"
    ))
    .await;
    page.wait_for(
        "location.search.includes('notice=channel_saved') && document.readyState === 'complete'",
        "saved",
    )
    .await;
    assert_eq!(
        page.eval(&format!(
            "{form}.querySelector('[data-secret=smtp_password]').classList.contains('set')"
        ))
        .await,
        true
    );
    assert_eq!(
        page.eval(
            "document.querySelector('.callback-url').textContent.includes('/channels/wecom/pk_')"
        )
        .await,
        true
    );
    page.screenshot_full_page("settings-channels").await;
    let stored = app.store.inbox_settings(InboxId(email)).await.unwrap().unwrap();
    assert_eq!(stored["email"]["smtp"]["password"], "hunter2");
}
