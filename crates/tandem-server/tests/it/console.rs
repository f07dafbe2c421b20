//! The console's pages: sign-in, language, CSRF on forms, and the page flows without script.

use axum::http::StatusCode;

use std::time::{Duration, Instant};

use tandem_domain::{ArticleStatus, AuthorKind, ConversationId};

use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, Session, TestApp, attribute, set_cookie};

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
    let app = TestApp::fixture().sample_articles().conversations().build().await;
    let chinese = app.login(ADMIN).await;
    let page = app.get("/inbox?view=queued", &[("cookie", &chinese.cookie)]).await.text();
    assert!(page.contains("排队中") && page.contains("收件箱"), "{page}");
    assert!(page.contains("Sarah Miller"), "the queued conversation is listed");
    let english = app.login(AGENT).await;
    let page = app.get("/inbox?view=queued", &[("cookie", &english.cookie)]).await.text();
    assert!(page.contains("Queued") && page.contains("Inbox"));
    let sign_in = app.get("/login", &[("accept-language", "zh-CN,zh;q=0.9")]).await.text();
    assert!(sign_in.contains("登录"));
}

#[tokio::test]
async fn conversation_page_shows_transcript_customer_and_actions() {
    let app = TestApp::fixture().sample_articles().conversations().build().await;
    let session = app.login(ADMIN).await;
    let fragment =
        app.get("/inbox/live?view=resolved", &[("cookie", &session.cookie)]).await.text();
    let id = attribute(&fragment, "data-conversation-id=\"");
    let page = app.get(&format!("/conversations/{id}"), &[("cookie", &session.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    for expected in
        ["张伟", "gold", "蓝牙耳机", "kind-note", "已申请免运费", "重新打开", "kind-system"]
    {
        assert!(html.contains(expected), "{expected} missing");
    }
    let missing = app.get("/conversations/999999", &[("cookie", &session.cookie)]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn page_forms_need_the_session_csrf_token() {
    let app = TestApp::fixture().sample_articles().conversations().build().await;
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
        app.get(&location, &[("cookie", &session.cookie)])
            .await
            .text()
            .contains("state does not allow that now")
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
    assert!(invalid.text().contains("邮箱：不是有效的邮箱地址"), "{}", invalid.text());
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

/// The workspace's articles, by key.
async fn articles(app: &TestApp) -> Vec<tandem_domain::Article> {
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    app.store.articles(workspace).await.unwrap()
}

/// The "test the bot" page for `question`.
async fn test_page(app: &TestApp, session: &Session, question: &str) -> String {
    let query = serde_urlencoded::to_string([("q", question)]).unwrap();
    let page = app.get(&format!("/knowledge/test?{query}"), &[("cookie", &session.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    page.text()
}

/// The test page once `ready` holds for it: the engine is rebuilt in the background after a
/// change, within milliseconds.
async fn test_page_until(
    app: &TestApp,
    session: &Session,
    question: &str,
    ready: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = test_page(app, session, question).await;
        if ready(&page) {
            return page;
        }
        assert!(Instant::now() < deadline, "the test page never got ready: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_article(
    app: &TestApp,
    session: &Session,
    uri: &str,
    fields: &[(&str, &str)],
) -> tandem_server::testing::Response {
    let mut all = vec![("csrf", session.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(uri, &[("cookie", &session.cookie)], &all).await
}

#[tokio::test]
async fn knowledge_list_searches_and_filters_articles() {
    let app = TestApp::fixture().sample_articles().build().await;
    let admin = app.login(ADMIN).await;
    let list = app.get("/knowledge", &[("cookie", &admin.cookie)]).await;
    assert_eq!(list.status, StatusCode::OK);
    let html = list.text();
    for expected in
        ["知识库", "退货政策", "href=\"/knowledge/returns\"", "已发布", "data-ts=", "导出 CSV"]
    {
        assert!(html.contains(expected), "{expected} missing");
    }
    assert_eq!(html.matches("<tr data-key=").count(), 5);
    // The key, title and questions are searched, whatever the case.
    let by_key = app.get("/knowledge?q=RETURNS", &[("cookie", &admin.cookie)]).await.text();
    assert_eq!(by_key.matches("<tr data-key=").count(), 2, "returns and returns-en");
    let by_question = app
        .get("/knowledge?q=%E6%80%8E%E4%B9%88%E9%80%80%E8%B4%A7", &[("cookie", &admin.cookie)])
        .await
        .text();
    assert!(by_question.contains("data-key=\"returns\""));
    assert_eq!(by_question.matches("<tr data-key=").count(), 1, "only 怎么退货's article");
    let drafts = app.get("/knowledge?status=draft", &[("cookie", &admin.cookie)]).await.text();
    assert!(drafts.contains("没有符合条件的文章"), "no article is a draft");
    // The edit page shows the published version in the history.
    let edit = app.get("/knowledge/returns", &[("cookie", &admin.cookie)]).await.text();
    assert!(edit.contains("版本历史") && edit.contains("<details>") && edit.contains("v1"));
    assert!(edit.contains("name=\"key\" value=\"returns\"") && edit.contains("readonly"));
    let missing = app.get("/knowledge/no-such-article", &[("cookie", &admin.cookie)]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_published_article_is_answered_by_the_bot() {
    let app = TestApp::fixture().sample_articles().build().await;
    let editor = app.login(SUPERVISOR).await;
    let answer = "可以！下单时勾选「礼品包装」，每件加收 5 元，附赠手写贺卡。";
    let fields = |status| {
        [
            ("key", "gift-wrap"),
            ("title", "礼品包装"),
            ("answer", answer),
            (
                "questions",
                "可以礼品包装吗\n能帮我包装成礼物吗\n\n有礼盒包装吗\n送人的话能包装一下吗",
            ),
            ("tags", "包装，礼品, 售前"),
            ("language", "zh"),
            ("channel_web", "on"),
            ("status", status),
        ]
    };
    // Invalid input comes back with the message and what was typed.
    let invalid = post_article(
        &app,
        &editor,
        "/knowledge",
        &[("key", "Gift Wrap"), ("title", "礼品包装"), ("answer", answer), ("status", "draft")],
    )
    .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = invalid.text();
    assert!(html.contains("标识：“Gift Wrap”须为 1 到 100 个字符") && html.contains("手写贺卡"));
    let taken = post_article(
        &app,
        &editor,
        "/knowledge",
        &[("key", "returns"), ("title", "x"), ("answer", "y"), ("status", "draft")],
    )
    .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.text().contains("已有文章使用这个标识"));
    assert_eq!(articles(&app).await.iter().find(|a| a.key == "returns").unwrap().title, "退货政策");

    // A draft is not answered from.
    let draft = post_article(&app, &editor, "/knowledge", &fields("draft")).await;
    assert_eq!(draft.status, StatusCode::SEE_OTHER, "{}", draft.text());
    assert_eq!(draft.headers["location"], "/knowledge/gift-wrap?notice=saved");
    let stored = articles(&app).await.into_iter().find(|a| a.key == "gift-wrap").unwrap();
    assert_eq!((stored.status, stored.version), (ArticleStatus::Draft, 0));
    assert_eq!(stored.questions.len(), 4, "the blank line is skipped");
    assert_eq!(stored.tags, ["包装", "礼品", "售前"]);
    assert_eq!(stored.channels, [tandem_domain::Channel::Web]);
    let cookie = [("cookie", editor.cookie.as_str())];
    let test = test_page(&app, &editor, "可以礼品包装吗").await;
    assert!(!test.contains("gift-wrap"), "drafts are not candidates");

    // Saving again with "Publish" makes it the bot's answer.
    let published = post_article(&app, &editor, "/knowledge/gift-wrap", &fields("published")).await;
    assert_eq!(published.status, StatusCode::SEE_OTHER);
    let edit = app.get("/knowledge/gift-wrap?notice=saved", &cookie).await.text();
    assert!(edit.contains("已保存") && edit.contains("v1") && edit.contains("kb-status-published"));
    assert!(
        edit.contains("name=\"channel_web\" checked") && !edit.contains("channel_email\" checked")
    );
    let test =
        test_page_until(&app, &editor, "可以礼品包装吗", |page| page.contains("gift-wrap")).await;
    assert!(test.contains("data-outcome=\"answer\"") && test.contains(answer), "{test}");

    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "gift-1", "可以礼品包装吗？").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let conversation = ConversationId(sent.json()["message"]["conversation_id"].as_i64().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let messages = app.store.messages(conversation, 0, 100).await.unwrap();
        if messages.iter().any(|m| m.author_kind == AuthorKind::Bot && m.body == answer) {
            break;
        }
        assert!(Instant::now() < deadline, "the bot did not answer: {messages:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Archiving takes it out of the answers; the history keeps the published version.
    let archived =
        post_article(&app, &editor, "/knowledge/gift-wrap/status", &[("status", "archived")]).await;
    assert_eq!(archived.status, StatusCode::SEE_OTHER);
    let stored = articles(&app).await.into_iter().find(|a| a.key == "gift-wrap").unwrap();
    assert_eq!((stored.status, stored.version), (ArticleStatus::Archived, 1));
    test_page_until(&app, &editor, "可以礼品包装吗", |page| !page.contains("gift-wrap")).await;
}

#[tokio::test]
async fn an_import_with_a_bad_line_saves_nothing() {
    let app = TestApp::fixture().sample_articles().build().await;
    let admin = app.login(ADMIN).await;
    let bad = concat!(
        "{\"id\": \"gift-wrap\", \"title\": \"礼品包装\", \"answer\": \"可以\"}\n",
        "{\"id\": \"Bad Key\", \"title\": \"x\", \"answer\": \"y\"}\n",
        "{\"id\": \"coupons\", \"title\": \"优惠券\", \"answer\": \"   \"}\n",
    );
    let refused = post_article(
        &app,
        &admin,
        "/knowledge/import",
        &[("format", "jsonl"), ("content", bad), ("publish", "1")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains("第 2 行：标识：“Bad Key”须为 1 到 100 个字符"), "{html}");
    assert!(html.contains("第 3 行：答案：不能为空"), "{html}");
    assert!(!html.contains("第 1 行"));
    assert!(html.contains("礼品包装"), "the pasted text is kept");
    assert_eq!(articles(&app).await.len(), 5, "nothing was saved");

    let good = "id,title,question,answer,lang,tags\ngift-wrap,礼品包装,可以礼品包装吗,可以,zh,售前\ngift-wrap,,有礼盒吗,,,\ncoupons,优惠券,怎么用优惠券,结算时选择,zh,\n";
    let imported =
        post_article(&app, &admin, "/knowledge/import", &[("format", "csv"), ("content", good)])
            .await;
    assert_eq!(imported.status, StatusCode::SEE_OTHER, "{}", imported.text());
    let location = imported.headers["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/knowledge?notice=imported&count=2");
    let list = app.get(&location, &[("cookie", &admin.cookie)]).await.text();
    assert!(list.contains("已导入 2 篇文章"));
    let all = articles(&app).await;
    assert_eq!(all.len(), 7);
    let gift = all.iter().find(|a| a.key == "gift-wrap").unwrap();
    assert_eq!(gift.status, ArticleStatus::Draft, "unchecked publish imports drafts");
    assert_eq!(gift.questions, ["可以礼品包装吗", "有礼盒吗"]);

    let csv = app.get("/knowledge/export?format=csv", &[("cookie", &admin.cookie)]).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-disposition"], "attachment; filename=\"knowledge.csv\"");
    assert!(
        csv.text()
            .starts_with("id,title,question,answer,lang,tags,effective_from,expires_at,channels\n")
    );
    assert!(csv.text().contains("gift-wrap,礼品包装,有礼盒吗"));
    let jsonl = app.get("/knowledge/export?format=jsonl", &[("cookie", &admin.cookie)]).await;
    assert_eq!(jsonl.headers["content-disposition"], "attachment; filename=\"knowledge.jsonl\"");
    assert_eq!(jsonl.text().lines().count(), 7);
}

#[tokio::test]
async fn agents_may_read_and_test_knowledge_but_not_change_it() {
    let app = TestApp::fixture().sample_articles().build().await;
    let agent = app.login(AGENT).await;
    let cookie = [("cookie", agent.cookie.as_str())];
    let list = app.get("/knowledge", &cookie).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text().contains("Knowledge") && list.text().contains("Return policy"));
    assert!(!list.text().contains("/knowledge/new"), "no button that would be refused");
    let edit = app.get("/knowledge/returns", &cookie).await.text();
    assert!(edit.contains("Only admins and supervisors") && edit.contains("disabled"));
    assert_eq!(app.get("/knowledge/new", &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/knowledge/import", &cookie).await.status, StatusCode::FORBIDDEN);
    let article = [("title", "x"), ("answer", "y"), ("status", "published")];
    let new_article = [("key", "mine"), ("title", "x"), ("answer", "y"), ("status", "published")];
    let import = [
        ("format", "jsonl"),
        ("content", "{\"id\": \"mine\", \"title\": \"x\", \"answer\": \"y\"}"),
    ];
    for (uri, fields) in [
        ("/knowledge", &new_article[..]),
        ("/knowledge/returns", &article[..]),
        ("/knowledge/returns/status", &[("status", "archived")][..]),
        ("/knowledge/import", &import[..]),
    ] {
        let refused = post_article(&app, &agent, uri, fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{uri}");
    }
    let returns = articles(&app).await.into_iter().find(|a| a.key == "returns").unwrap();
    assert_eq!((returns.status, returns.title.as_str()), (ArticleStatus::Published, "退货政策"));
    // An editor's form without the session's token is refused too.
    let admin = app.login(ADMIN).await;
    let forged = app
        .post_form(
            "/knowledge/returns/status",
            &[("cookie", &admin.cookie)],
            &[("csrf", "forged"), ("status", "archived")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_test_page_explains_the_decision() {
    let app = TestApp::fixture().sample_articles().build().await;
    let agent = app.login(AGENT).await;
    let html = test_page(&app, &agent, "怎么退货").await;
    // The threshold in force is the one learnt from the sample articles.
    let settings = app.get("/api/v1/answer/settings", &[("cookie", &agent.cookie)]).await.json();
    assert_eq!(settings["effective_threshold"], settings["learnt"]["threshold"], "{settings}");
    let threshold = format!("{:.2}", settings["effective_threshold"].as_f64().unwrap());
    let page = app.get("/knowledge/settings", &[("cookie", &agent.cookie)]).await.text();
    assert!(page.contains(&format!("In force: {threshold}, learnt from your articles")), "{page}");
    for expected in [
        "data-outcome=\"answer\"",
        "Threshold",
        threshold.as_str(),
        "Candidates",
        "href=\"/knowledge/returns\"",
        "退货政策",
        "签收后 7 天内可申请无理由退货",
        "<meter",
    ] {
        assert!(html.contains(expected), "{expected} missing: {html}");
    }
    let empty = app.get("/knowledge/test", &[("cookie", &agent.cookie)]).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(!empty.text().contains("data-outcome"));
}

#[tokio::test]
async fn supervisors_give_conversations_to_other_agents_from_the_page() {
    let app = TestApp::fixture().sample_articles().conversations().build().await;
    let supervisor = app.login(tandem_server::testing::SUPERVISOR).await;
    let fragment =
        app.get("/inbox/live?view=queued", &[("cookie", &supervisor.cookie)]).await.text();
    let id = attribute(&fragment, "data-conversation-id=\"");
    let page =
        app.get(&format!("/conversations/{id}"), &[("cookie", &supervisor.cookie)]).await.text();
    assert!(page.contains("data-action=\"assign-to\""), "supervisors see the assign-to control");
    let emily = app.store.user_credentials(AGENT.0).await.unwrap().unwrap().0.id.0.to_string();
    let given = app
        .post_form(
            &format!("/conversations/{id}/actions"),
            &[("cookie", &supervisor.cookie)],
            &[("csrf", &supervisor.csrf), ("action", "assign"), ("agent_id", &emily)],
        )
        .await;
    assert_eq!(
        given.headers["location"].to_str().unwrap(),
        format!("/conversations/{id}"),
        "no error"
    );
    let conversation = app
        .store
        .conversation(tandem_domain::ConversationId(id.parse().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conversation.assignee_id.map(|user| user.0.to_string()), Some(emily.clone()));
    let messages = app.store.messages(conversation.id, 0, 50).await.unwrap();
    assert!(
        messages.last().unwrap().body.contains("Emily Chen"),
        "the customer is told who joined"
    );

    let agent = app.login(AGENT).await;
    let page = app.get(&format!("/conversations/{id}"), &[("cookie", &agent.cookie)]).await.text();
    assert!(!page.contains("data-action=\"assign-to\""), "plain agents do not");
}

#[tokio::test]
async fn editors_set_the_answer_threshold_and_dictionary_in_the_console() {
    let app = TestApp::new().await;
    let agent = app.login(AGENT).await;
    let page = app.get("/knowledge/settings", &[("cookie", &agent.cookie)]).await.text();
    assert!(page.contains("Answer settings") && page.contains("placeholder=\"0.35\""), "{page}");
    assert!(page.contains("<fieldset disabled>"), "agents see the settings read-only");
    let refused = post_article(&app, &agent, "/knowledge/settings", &[("threshold", "0.5")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let editor = app.login(SUPERVISOR).await;
    let invalid = post_article(
        &app,
        &editor,
        "/knowledge/settings",
        &[("threshold", "high"), ("dictionary", "天猫精灵\n")],
    )
    .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.text().contains("threshold") && invalid.text().contains("天猫精灵"));
    let saved = post_article(
        &app,
        &editor,
        "/knowledge/settings",
        &[("threshold", "0.6"), ("dictionary", "天猫精灵\r\n\r\nAirPods Pro\n")],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    let settings = app.store.answer_settings(workspace).await.unwrap();
    assert_eq!(settings.threshold, Some(0.6));
    assert_eq!(settings.dictionary, ["天猫精灵", "AirPods Pro"]);
    let page = app.get("/knowledge/settings?notice=saved", &[("cookie", &editor.cookie)]).await;
    assert!(page.text().contains("value=\"0.60\"") && page.text().contains("已保存"));
    let test = test_page(&app, &editor, "怎么退货").await;
    assert!(test.contains("0.60"), "the test page uses the workspace threshold");
}

/// A conversation the bot holds in the fixture workspace, and its id as the page writes it.
async fn bot_conversation(app: &TestApp, session: &Session) -> (ConversationId, String) {
    let fragment = app.get("/inbox/live?view=bot", &[("cookie", &session.cookie)]).await.text();
    let id = attribute(&fragment, "data-conversation-id=\"");
    (ConversationId(id.parse().unwrap()), id)
}

/// Hands `conversation` to people with a packet such as the relay writes.
async fn hand_off(
    app: &TestApp,
    conversation: ConversationId,
    outcome: tandem_domain::EscalationOutcome,
    draft: Option<&str>,
) {
    use tandem_domain::{CustomerCard, Entity, HandoffPacket, IntentGuess, TurnSignal};
    let emily = app.store.user_credentials(AGENT.0).await.unwrap().unwrap().0.id;
    let current = app.store.conversation(conversation).await.unwrap().unwrap();
    let turn =
        |seq, sentiment, emotion: &str| TurnSignal { seq, sentiment, emotion: emotion.into() };
    let packet = HandoffPacket {
        conversation_id: conversation,
        created_at: tandem_store::now_millis(),
        reasons: vec![tandem_domain::Reason::Complaint, tandem_domain::Reason::AngerRising],
        outcome,
        language: Some(tandem_domain::Locale::Zh),
        summary: "耳机买了三天就断连，已经第三次联系了".into(),
        model_summary: None,
        intents: vec![IntentGuess {
            article: "returns".into(),
            title: "退货政策".into(),
            score: 0.42,
        }],
        emotions: vec![turn(1, 0.0, "neutral"), turn(3, -0.7, "anger")],
        bot_replies: Vec::new(),
        actions: Vec::new(),
        draft: draft.map(str::to_owned),
        parts: vec![
            tandem_domain::RequestPart {
                text: "耳机怎么退货".into(),
                outcome: tandem_domain::TurnOutcome::Answer,
                source: Some(tandem_domain::Source {
                    article: "returns".into(),
                    title: "退货政策".into(),
                    version: 1,
                }),
            },
            tandem_domain::RequestPart {
                text: "上个订单的发票还没收到".into(),
                outcome: tandem_domain::TurnOutcome::Abstain,
                source: None,
            },
        ],
        entities: vec![Entity { kind: "mobile".into(), value: "138****5678".into() }],
        customer: CustomerCard {
            name: "测试客户".into(),
            tier: Some("VIP 金卡".into()),
            value: Some("12800".into()),
            conversations: 4,
            with_people: 2,
            previous_agent: Some(emily),
            ..CustomerCard::default()
        },
        skills: vec!["lang:zh".into()],
        priority: 65,
        queue_id: None,
    };
    assert!(current.last_seq > 0);
    app.store
        .route(
            conversation,
            tandem_store::RouteChange {
                transition: Some(tandem_domain::Transition::Escalate),
                packet: Some(packet),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_handoff_card_tells_the_agent_why_and_what_the_customer_said() {
    let app = TestApp::fixture().sample_articles().conversations().build().await;
    let admin = app.login(ADMIN).await;
    let (conversation, id) = bot_conversation(&app, &admin).await;
    let before = app.get(&format!("/conversations/{id}"), &[("cookie", &admin.cookie)]).await;
    assert!(!before.text().contains("id=\"handoff\""), "no card before a hand-off");
    hand_off(&app, conversation, tandem_domain::EscalationOutcome::HandOff, None).await;
    let html = app.get(&format!("/conversations/{id}"), &[("cookie", &admin.cookie)]).await.text();
    let card = html.find("id=\"handoff\"").expect("the card is shown");
    assert!(card < html.find("id=\"transcript\"").unwrap(), "above the transcript");
    for expected in [
        "<details class=\"handoff outcome-hand_off\" id=\"handoff\" open>",
        "data-reason=\"complaint\" title=\"complaint\">投诉</span>",
        "情绪越来越差",
        "耳机买了三天就断连，已经第三次联系了",
        "data-emotion=\"neutral\"",
        "愤怒 <span class=\"sentiment\">-0.70</span>",
        "href=\"/knowledge/returns\">退货政策</a>",
        "138****5678",
        "VIP 金卡",
        "4 次，其中 2 次有人工参与",
        "Emily Chen",
        "lang:zh",
        "优先级 65",
        "这条消息里的几个问题",
        "<li data-left=\"false\"><span class=\"badge kb-outcome-answer\">已回答</span> 耳机怎么退货",
        "<li data-left=\"true\"><span class=\"badge handoff-part-left\">待处理</span> 上个订单的发票还没收到",
    ] {
        assert!(html.contains(expected), "{expected} missing");
    }
    assert!(!html.contains("data-action=\"approve-draft\""), "no draft, nothing to approve");

    // The English console translates the reason codes too; after resolution the card folds.
    let agent = app.login(AGENT).await;
    let english =
        app.get(&format!("/conversations/{id}"), &[("cookie", &agent.cookie)]).await.text();
    assert!(english.contains(">Complaint</span>") && english.contains("Growing anger"));
    app.store.transition(conversation, tandem_domain::Transition::Resolve, None).await.unwrap();
    let resolved =
        app.get(&format!("/conversations/{id}"), &[("cookie", &agent.cookie)]).await.text();
    assert!(resolved.contains("<details class=\"handoff outcome-hand_off\" id=\"handoff\">"));
}

#[tokio::test]
async fn approving_the_bots_draft_sends_it_as_the_agents_reply() {
    let app = TestApp::fixture().sample_articles().conversations().build().await;
    let admin = app.login(ADMIN).await;
    let (conversation, id) = bot_conversation(&app, &admin).await;
    let draft = "根据平台规则，质量问题可在 15 天内换货，运费由我们承担。";
    hand_off(&app, conversation, tandem_domain::EscalationOutcome::DraftForApproval, Some(draft))
        .await;
    let html = app.get(&format!("/conversations/{id}"), &[("cookie", &admin.cookie)]).await.text();
    assert!(html.contains("data-action=\"approve-draft\"") && html.contains("批准并发送"));
    assert!(html.contains(&format!(">{draft}</textarea>")), "the reply box holds the draft");
    let client_msg_id = attribute(&html, "name=\"client_msg_id\" value=\"handoff-draft-");
    let approve = [
        ("csrf", admin.csrf.as_str()),
        ("kind", "reply"),
        ("client_msg_id", &format!("handoff-draft-{client_msg_id}")),
        ("body", draft),
    ];
    let uri = format!("/conversations/{id}/messages");
    for _ in 0..2 {
        let sent = app.post_form(&uri, &[("cookie", &admin.cookie)], &approve).await;
        assert_eq!(sent.headers["location"].to_str().unwrap(), format!("/conversations/{id}"));
    }
    let messages = app.store.messages(conversation, 0, 100).await.unwrap();
    let replies: Vec<_> =
        messages.iter().filter(|m| m.author_kind == AuthorKind::Agent && m.body == draft).collect();
    assert_eq!(replies.len(), 1, "approved once, sent once");
    let stored = app.store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!(stored.state, tandem_domain::ConversationState::Human);
    let after = app.get(&format!("/conversations/{id}"), &[("cookie", &admin.cookie)]).await.text();
    assert!(!after.contains("data-action=\"approve-draft\""), "a sent draft is not offered again");
    assert!(after.contains("已有同事回复") && after.contains("></textarea>"));
}

#[tokio::test]
async fn a_customer_asking_for_a_person_arrives_with_a_handoff_card() {
    let app = TestApp::new().await;
    let token = app.widget_token().await;
    let sent = app.widget_send(&token, "complain-1", "我要投诉，耳机买了三天就坏了，转人工").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.text());
    let conversation = ConversationId(sent.json()["message"]["conversation_id"].as_i64().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.store.handoff(conversation).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "the relay did not hand off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admin = app.login(ADMIN).await;
    let html = app
        .get(&format!("/conversations/{}", conversation.0), &[("cookie", &admin.cookie)])
        .await
        .text();
    assert!(html.contains("id=\"handoff\" open"), "{html}");
    assert!(html.contains("title=\"asks_for_human\">要求转人工</span>"));
    assert!(html.contains("耳机买了三天就坏了"), "the summary is in the customer's words");
}

#[tokio::test]
async fn managers_edit_the_escalation_policy_and_bad_input_names_the_field() {
    let app = TestApp::new().await;
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    let agent = app.login(AGENT).await;
    let page = app.get("/settings/escalation", &[("cookie", &agent.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("<fieldset disabled>") && page.text().contains("Complaint"));
    assert!(!page.text().contains("href=\"/settings/routing\" aria-current"), "no manager nav");
    let fields = |anger: &'static str| {
        vec![
            ("hand_off_on", "asks_for_human"),
            ("hand_off_on", "complaint"),
            ("approve_on", "regulated_medical"),
            ("abstains_in_a_row", "3"),
            ("repeats", "2"),
            ("didnt_help", "1"),
            ("anger_turns", anger),
            ("negative_sentiment", "-0.9"),
            ("vip_tiers", "Gold, platinum"),
        ]
    };
    let refused = post_article(&app, &agent, "/settings/escalation", &fields("2")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let supervisor = app.login(SUPERVISOR).await;
    let page = app.get("/settings/escalation", &[("cookie", &supervisor.cookie)]).await.text();
    assert!(page.contains("href=\"/settings/escalation\" aria-current=\"page\""));
    assert!(page.contains("name=\"hand_off_on\" value=\"legal_threat\"") && page.contains("-0.85"));
    let invalid = post_article(&app, &supervisor, "/settings/escalation", &fields("5")).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = invalid.text();
    assert!(html.contains("未保存： 愤怒的消息（最近 3 条中）：须在 0 到 3 之间"), "{html}");
    assert!(html.contains("name=\"anger_turns\" type=\"number\""));
    assert!(html.contains("value=\"5\" required aria-invalid=\"true\""), "the field is marked");
    assert!(html.contains("value=\"Gold, platinum\""), "what was typed is kept");
    assert!(html.contains("value=\"complaint\" aria-label=\"立即转人工: 投诉\" checked"));
    let mut both = fields("2");
    both.push(("approve_on", "complaint"));
    let conflict = post_article(&app, &supervisor, "/settings/escalation", &both).await;
    assert_eq!(conflict.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        conflict.text().contains("写草稿待审核：“投诉”已设为立即转人工"),
        "{}",
        conflict.text()
    );
    assert_eq!(
        app.store.escalation_policy(workspace).await.unwrap().hand_off_on,
        tandem_domain::EscalationPolicy::default().hand_off_on,
        "nothing was saved"
    );

    let saved = post_article(&app, &supervisor, "/settings/escalation", &fields("2")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert_eq!(saved.headers["location"], "/settings/escalation?notice=saved");
    let policy = app.store.escalation_policy(workspace).await.unwrap();
    use tandem_domain::Reason;
    assert_eq!(policy.hand_off_on, [Reason::AsksForHuman, Reason::Complaint]);
    assert_eq!(policy.approve_on, [Reason::RegulatedMedical]);
    assert_eq!((policy.abstains_in_a_row, policy.repeats, policy.didnt_help), (3, 2, 1));
    assert_eq!((policy.anger_turns, policy.negative_sentiment), (2, -0.9));
    assert_eq!(policy.vip_tiers, ["gold", "platinum"]);
    let location = saved.headers["location"].to_str().unwrap().to_owned();
    let page = app.get(&location, &[("cookie", &supervisor.cookie)]).await.text();
    assert!(page.contains("已保存") && page.contains("value=\"gold, platinum\""));
}

#[tokio::test]
async fn managers_set_skills_capacity_and_queue_hours_on_the_routing_page() {
    use tandem_domain::{Channel, Presence};
    let app = TestApp::new().await;
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    let emily = app.store.user_credentials(AGENT.0).await.unwrap().unwrap().0.id;
    // Emily is online: saving her skills must not change that.
    let mut routing = app
        .store
        .agent_routing(workspace)
        .await
        .unwrap()
        .into_iter()
        .find(|routing| routing.user_id == emily)
        .unwrap();
    routing.presence = Presence::Online;
    routing.presence_at = 1_700_000_000_000;
    app.store.save_agent_routing(routing).await.unwrap();

    let supervisor = app.login(SUPERVISOR).await;
    let cookie = [("cookie", supervisor.cookie.as_str())];
    let page = app.get("/settings/routing", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(&format!("id=\"agent-{}\"", emily.0)) && html.contains("Emily Chen"));
    assert!(html.contains("badge presence-online"));
    let queue_id = attribute(&html, "data-queue-id=\"");

    let agent_uri = format!("/settings/routing/agents/{}", emily.0);
    let bad_skills = post_article(
        &app,
        &supervisor,
        &agent_uri,
        &[
            ("skills", "refunds, lang:zh:5"),
            ("capacity_web", "4"),
            ("capacity_email", "2"),
            ("capacity_api", "0"),
        ],
    )
    .await;
    assert_eq!(bad_skills.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad_skills.text();
    assert!(
        html.contains("Emily Chen：技能：“refunds”须先写技能名称，再在最后一个冒号后写等级"),
        "{html}"
    );
    assert!(html.contains("value=\"refunds, lang:zh:5\""), "what was typed is kept");
    let saved = post_article(
        &app,
        &supervisor,
        &agent_uri,
        &[
            ("skills", "refunds:4, lang:zh:5, disputes:3"),
            ("capacity_web", "4"),
            ("capacity_email", "2"),
            ("capacity_api", "0"),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let routing = app
        .store
        .agent_routing(workspace)
        .await
        .unwrap()
        .into_iter()
        .find(|routing| routing.user_id == emily)
        .unwrap();
    assert_eq!(
        routing.skills.into_iter().collect::<Vec<_>>(),
        [("disputes".into(), 3), ("lang:zh".into(), 5), ("refunds".into(), 4)]
    );
    assert_eq!(routing.capacity[&Channel::Web], 4);
    assert_eq!(routing.capacity[&Channel::Api], 0);
    assert_eq!((routing.presence, routing.presence_at), (Presence::Online, 1_700_000_000_000));

    let queue_uri = format!("/settings/routing/queues/{queue_id}");
    let taken_name = [
        ("name", "售后服务 After-sales"),
        ("sla_minutes", "5"),
        ("offer_timeout_minutes", "2"),
        ("widen_after_minutes", "5"),
    ];
    let taken = post_article(&app, &supervisor, &queue_uri, &taken_name).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(taken.text().contains("：已有同名队列"), "{}", taken.text());
    let queue_fields = |hours: &'static str| {
        [
            ("name", "售前咨询 Pre-sales"),
            ("description", "Product questions before buying"),
            ("skills", "refunds:3"),
            ("topics", "complaint, Refunds"),
            ("sla_minutes", "10"),
            ("offer_timeout_minutes", "3"),
            ("widen_after_minutes", "15"),
            ("hours", hours),
            ("time_zone", "asia/shanghai"),
        ]
    };
    let malformed =
        post_article(&app, &supervisor, &queue_uri, &queue_fields("weekdays 9 to 5")).await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = malformed.text();
    assert!(html.contains("营业时间：“weekdays”不是星期或星期范围"), "{html}");
    let nowhere = [("time_zone", "Mars/Olympus")];
    let fields: Vec<(&str, &str)> = queue_fields("mon 09:00-17:00")
        .into_iter()
        .filter(|(name, _)| *name != "time_zone")
        .chain(nowhere)
        .collect();
    let unknown_zone = post_article(&app, &supervisor, &queue_uri, &fields).await;
    assert_eq!(unknown_zone.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown_zone.text().contains("时区：“Mars/Olympus”不是有效的时区"));
    assert!(html.contains("value=\"weekdays 9 to 5\"") && html.contains("aria-invalid=\"true\""));
    let queues = app.store.queues(workspace).await.unwrap();
    let stored = queues.iter().find(|queue| queue.id.0.to_string() == queue_id).unwrap();
    assert!(stored.routing.hours.is_empty(), "nothing was saved");

    let saved = post_article(
        &app,
        &supervisor,
        &queue_uri,
        &queue_fields("mon-fri 09:00-18:00, sat 10:00-16:00"),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let queues = app.store.queues(workspace).await.unwrap();
    let stored = queues.iter().find(|queue| queue.id.0.to_string() == queue_id).unwrap();
    assert_eq!(stored.routing.hours.len(), 6);
    assert_eq!(stored.routing.time_zone.as_str(), "Asia/Shanghai");
    assert_eq!(stored.routing.sla_ms, 600_000);
    assert_eq!(stored.routing.topics, ["complaint", "refunds"]);
    assert_eq!(stored.routing.skills[&"refunds".to_owned()], 3);
    let page = app.get("/settings/routing?notice=saved", &cookie).await.text();
    assert!(page.contains("value=\"mon-fri 09:00-18:00, sat 10:00-16:00\""));
    assert!(page.contains("value=\"Asia/Shanghai\"") && page.contains("value=\"refunds:3\""));

    // Agents see the settings but cannot change them.
    let agent = app.login(AGENT).await;
    let read_only = app.get("/settings/routing", &[("cookie", &agent.cookie)]).await.text();
    assert!(read_only.contains("Only admins and supervisors") && read_only.contains("disabled"));
    let refused = post_article(&app, &agent, &agent_uri, &[("skills", "refunds:5")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = post_article(&app, &agent, &queue_uri, &queue_fields("")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

/// The text of every alert on a page (`role="alert"`: a form's error, a field's, an import's
/// list of problems), without tags.
fn alerts(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in html.match_indices("role=\"alert\"") {
        let tag_start = html[..at].rfind('<').unwrap() + 1;
        let tag = html[tag_start..].split([' ', '>']).next().unwrap();
        let content_start = at + html[at..].find('>').unwrap() + 1;
        let content_end = content_start + html[content_start..].find(&format!("</{tag}>")).unwrap();
        let mut text = String::new();
        let mut in_tag = false;
        for character in html[content_start..content_end].chars() {
            match character {
                '<' => in_tag = true,
                '>' => in_tag = false,
                _ if !in_tag => text.push(character),
                _ => {}
            }
        }
        let text = text.replace("&#34;", "\"").replace("&#39;", "'").replace("&amp;", "&");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.is_empty() {
            found.push(text);
        }
    }
    found
}

/// Whether `text` has three ASCII words in a row (`must not be`), leaving out what was typed
/// (shown in “quotes”).
fn has_english_phrase(text: &str) -> bool {
    let mut unquoted = String::new();
    let mut quoted = false;
    for character in text.chars() {
        match character {
            '“' => quoted = true,
            '”' => quoted = false,
            _ if !quoted => unquoted.push(character),
            _ => {}
        }
    }
    let mut run = 0;
    for word in unquoted.split_whitespace() {
        let word = word.trim_matches(|c: char| c.is_ascii_punctuation());
        let english = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphabetic());
        run = if english { run + 1 } else { 0 };
        if run >= 3 {
            return true;
        }
    }
    false
}

#[test]
fn english_phrases_are_told_from_names_and_typed_values() {
    assert!(has_english_phrase("未保存： hours: each range needs a weekday"));
    assert!(!has_english_phrase("营业时间：“funday is no day”不是星期，如 mon-fri 09:00-18:00"));
    assert!(!has_english_phrase("接收地址（URL）：须以 http:// 或 https:// 开头"));
}

#[tokio::test]
async fn a_chinese_admin_reads_every_refused_value_in_chinese() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    let queue = app.store.queues(workspace).await.unwrap()[0].clone();
    let queue_uri = format!("/settings/routing/queues/{}", queue.id.0);
    let queue_form = |hours, time_zone| {
        vec![
            ("name", "售后"),
            ("sla_minutes", "5"),
            ("offer_timeout_minutes", "2"),
            ("widen_after_minutes", "5"),
            ("hours", hours),
            ("time_zone", time_zone),
        ]
    };
    let model_form = |timeout_ms| {
        vec![
            ("base_url", "https://llm.example/v1"),
            ("model", "qwen-plus"),
            ("api_key_env", "TANDEM_LLM_API_KEY"),
            ("timeout_ms", timeout_ms),
            ("total_timeout_ms", "15000"),
            ("max_tokens", "400"),
            ("temperature", "0.3"),
            ("max_retries", "1"),
            ("input_price_per_1k", "0"),
            ("output_price_per_1k", "0"),
            ("breaker_failures", "4"),
            ("breaker_cooldown_ms", "20000"),
        ]
    };
    let policy_form = |repeats| {
        vec![
            ("hand_off_on", "asks_for_human"),
            ("abstains_in_a_row", "3"),
            ("repeats", repeats),
            ("didnt_help", "1"),
            ("anger_turns", "2"),
            ("negative_sentiment", "-0.9"),
            ("vip_tiers", "vip"),
        ]
    };
    let import = "not json\n{\"id\": \"gift-wrap\", \"title\": \" \", \"answer\": \"可以\"}\n";
    /// A form's fields, as posted.
    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Fields, &[&str])> = vec![
        (
            &queue_uri,
            queue_form("mon-fri 9:00-25:00", "Asia/Shanghai"),
            &["未保存：", "营业时间：“9:00-25:00”不是 00:00 到 24:00 之间的时间段"],
        ),
        (
            &queue_uri,
            queue_form("mon-fri 09:00-18:00", "Mars/Olympus"),
            &["时区：“Mars/Olympus”不是有效的时区：请写 Asia/Shanghai、Europe/Berlin 这样的名称"],
        ),
        (
            "/settings/webhooks",
            vec![("url", "https://user:pw@crm.example.com/hook"), ("events", "message.created")],
            &["接收地址（URL）：不能包含用户名或密码"],
        ),
        (
            "/knowledge",
            vec![("key", "gift-wrap"), ("title", " "), ("answer", "可以"), ("status", "draft")],
            &["未保存： 标题：不能为空"],
        ),
        ("/settings/model", model_form("5"), &["须在 100 到 120000 之间"]),
        ("/settings/escalation", policy_form("25"), &["未保存： 重复提问：须在 0 到 20 之间"]),
        (
            "/knowledge/import",
            vec![("format", "jsonl"), ("content", import)],
            &["第 1 行：无法识别，请检查格式", "第 2 行：标题：不能为空"],
        ),
        ("/knowledge/settings", vec![("threshold", "0.99")], &["阈值：须在 0.05 到 0.95 之间"]),
        (
            "/admin/agents",
            vec![
                ("email", "li@galaxy.example"),
                ("display_name", "李丽"),
                ("role", "agent"),
                ("locale", "zh"),
                ("password", "short"),
            ],
            &["密码：须为 8 到 256 个字符"],
        ),
    ];
    for (uri, fields, expected) in cases {
        let refused = post_article(&app, &admin, uri, &fields).await;
        assert_ne!(refused.status, StatusCode::SEE_OTHER, "{uri} saved {fields:?}");
        let shown = alerts(&refused.text());
        for sentence in expected {
            assert!(
                shown.iter().any(|alert| alert.contains(sentence)),
                "{uri}: {sentence:?} is not among {shown:?}"
            );
        }
        for alert in &shown {
            assert!(!has_english_phrase(alert), "{uri}: English in {alert:?}");
        }
    }

    // The JSON API answers the same refusal in English, with the field's name.
    let headers = [("cookie", admin.cookie.as_str()), ("x-csrf-token", admin.csrf.as_str())];
    let body = serde_json::json!({
        "url": "https://user:pw@crm.example.com/hook",
        "events": ["message.created"],
    });
    let api = app.post_json("/api/v1/webhooks", &headers, body).await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = api.json();
    assert_eq!(
        (error["code"].as_str(), error["field"].as_str()),
        (Some("invalid_input"), Some("url"))
    );
    assert_eq!(error["message"], "url: must not contain a user name or password");
}

#[tokio::test]
async fn inbox_filters_by_channel_when_the_workspace_has_several() {
    use tandem_domain::Channel;
    use tandem_store::{MessageTarget, NewCustomer, NewInbox, NewMessage};

    // One channel: no filter links and no channel badges.
    let app = TestApp::fixture().conversations().build().await;
    let session = app.login(ADMIN).await;
    let page = app.get("/inbox?view=all", &[("cookie", &session.cookie)]).await.text();
    assert!(page.contains("Sarah Miller"), "{page}");
    assert!(!page.contains("channel-filter") && !page.contains("全部渠道"), "{page}");
    assert!(!page.contains("badge channel channel-"), "{page}");

    // A web and an api inbox, a conversation in each.
    let api = app
        .store
        .create_inbox(NewInbox {
            workspace_id: app.workspace,
            name: "Backend".into(),
            channel: Channel::Api,
            public_key: "pk_test_api_inbox".into(),
            bot_name: "小河".into(),
        })
        .await
        .unwrap();
    let customer = app
        .store
        .create_customer(NewCustomer {
            workspace_id: app.workspace,
            name: "Api Caller".into(),
            email: None,
            locale: None,
            attributes: Default::default(),
        })
        .await
        .unwrap();
    app.store
        .append_message(NewMessage {
            target: MessageTarget::CustomerLatest { inbox_id: api.id, customer_id: customer.id },
            author_kind: AuthorKind::Customer,
            author_id: None,
            author_name: Some(customer.name.clone()),
            body: "order status via the api".into(),
            client_msg_id: None,
            reopen_if_resolved: true,
            only_while_bot_owns: false,
            meta: None,
            decision: None,
            sentiment: None,
        })
        .await
        .unwrap();

    let page = app.get("/inbox?view=all&channel=api", &[("cookie", &session.cookie)]).await.text();
    // The links' `&`, however the template escapes it.
    let page = page.replace("&#38;", "&").replace("&amp;", "&");
    assert!(page.contains("Api Caller"), "{page}");
    assert!(!page.contains("Sarah Miller") && !page.contains("张伟"), "{page}");
    assert!(page.contains("channel-filter") && page.contains("全部渠道"), "{page}");
    assert!(page.contains("网页聊天") && page.contains("badge channel channel-api"), "{page}");
    assert!(page.contains("data-channel=\"api\""), "the live refresh keeps the channel");
    assert!(
        page.contains("href=\"/inbox?view=queued&channel=api\""),
        "the tabs keep the channel: {page}"
    );
    assert!(page.contains("href=\"/inbox?view=all&channel=web\""), "{page}");
    assert!(page.contains("href=\"/inbox?view=all\""), "all channels: {page}");

    let fragment =
        app.get("/inbox/live?view=all&channel=api", &[("cookie", &session.cookie)]).await.text();
    assert!(fragment.contains("Api Caller") && !fragment.contains("Sarah Miller"), "{fragment}");

    let web = app.get("/inbox?view=all&channel=web", &[("cookie", &session.cookie)]).await.text();
    assert!(web.contains("Sarah Miller") && !web.contains("Api Caller"), "{web}");
    assert!(web.contains("badge channel channel-web"), "{web}");

    // An unknown channel is ignored, as an unknown view is.
    let all = app.get("/inbox?view=all&channel=fax", &[("cookie", &session.cookie)]).await.text();
    assert!(all.contains("Sarah Miller") && all.contains("Api Caller"), "{all}");
    assert!(all.contains("data-channel=\"\""), "{all}");

    let english = app.login(AGENT).await;
    let page = app.get("/inbox?view=all", &[("cookie", &english.cookie)]).await.text();
    assert!(page.contains("All channels") && page.contains("Web chat"), "{page}");
}
