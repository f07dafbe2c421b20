//! Settings → Actions in the console: the shop's actions listed, enable and disable, delete after
//! a confirmation, edit as TOML and save it back, pasted imports that are all or nothing, and
//! read-only for agents.

use axum::http::StatusCode;
use tandem_domain::Action;

use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, Session, TestApp};

const PAGE: &str = "/settings/actions";

async fn post(app: &TestApp, session: &Session, uri: &str, fields: &[(&str, &str)]) -> String {
    let response = submit(app, session, uri, fields).await;
    assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.text());
    response.headers["location"].to_str().unwrap().to_owned()
}

async fn submit(
    app: &TestApp,
    session: &Session,
    uri: &str,
    fields: &[(&str, &str)],
) -> tandem_server::testing::Response {
    let mut all = vec![("csrf", session.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(uri, &[("cookie", &session.cookie)], &all).await
}

async fn page(app: &TestApp, session: &Session, uri: &str) -> String {
    let response = app.get(uri, &[("cookie", &session.cookie)]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.text()
}

async fn stored(app: &TestApp) -> Vec<Action> {
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    app.store.actions(workspace).await.unwrap()
}

/// The text of the form's textarea, unescaped.
fn textarea(html: &str) -> String {
    let start = html.find("<textarea name=\"content\"").expect("a content textarea");
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</textarea>").unwrap()];
    body.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The workspace's actions: an order look-up and a return request against the shop's API.
const SHOP_ACTIONS: &str = r#"[[action]]
key = "order-status"
name = "查询订单 Order status"
triggers = ["我的订单到哪了", "where is my order"]

[[action.params]]
name = "order_number"
kind = "order_number"
ask = { zh = "请提供订单号。", en = "Your order number, please." }

[[action.steps]]
method = "GET"
url = "{env.SHOP_URL}/orders/{order_number}"
headers = { Authorization = "Bearer {env.SHOP_KEY}" }
extract = { status = "/status" }

[action.replies]
done = { zh = "订单 {order_number}：{status}", en = "Order {order_number}: {status}" }
not_found = { zh = "没有找到订单。", en = "No such order." }
error = { zh = "系统繁忙，已转人工。", en = "The system is busy; a person will help." }

[[action]]
key = "return-request"
name = "申请退货 Return request"
triggers = ["我要退货", "I want to return an order"]
requires_verified = true

[[action.params]]
name = "order_number"
kind = "order_number"
ask = { zh = "请提供要退货的订单号。", en = "Which order would you like to return?" }

[[action.steps]]
method = "POST"
url = "{env.SHOP_URL}/returns"
body = { order_number = "{order_number}" }
extract = { request = "/request_number" }

[action.replies]
done = { zh = "已提交退货申请 {request}。", en = "Return {request} filed." }
not_found = { zh = "没有找到订单。", en = "No such order." }
error = { zh = "系统繁忙，已转人工。", en = "The system is busy; a person will help." }
"#;

/// The workspace with [`SHOP_ACTIONS`].
async fn shop() -> TestApp {
    TestApp::fixture().actions(SHOP_ACTIONS).build().await
}

const GIFT_CARD: &str = r#"[[action]]
key = "gift-card-balance"
name = "Gift card balance"
triggers = ["what is left on my gift card", "礼品卡余额"]

[[action.params]]
name = "card"
kind = "number"
ask = { zh = "请提供礼品卡号。", en = "What is the gift card number?" }

[[action.steps]]
method = "GET"
url = "https://shop.example.com/cards/{card}"
extract = { balance = "/balance" }

[action.replies]
done = { zh = "余额：{balance}", en = "Balance: {balance}" }
not_found = { zh = "没有找到这张卡。", en = "No such card." }
error = { zh = "暂时查不到。", en = "Not available right now." }
"#;

#[tokio::test]
async fn the_page_lists_the_actions_and_a_manager_disables_and_enables_one() {
    let app = shop().await;
    let admin = app.login(ADMIN).await;
    let html = page(&app, &admin, PAGE).await;
    for key in ["order-status", "return-request"] {
        assert!(
            html.contains(&format!("data-action-key=\"{key}\" data-enabled=\"true\"")),
            "{html}"
        );
    }
    assert!(html.contains("GET {env.SHOP_URL}/orders/{order_number}"), "{html}");
    assert!(html.contains("order_number (order_number)"));
    assert!(html.contains("href=\"/settings/actions\" aria-current=\"page\""));
    assert!(html.contains("<textarea name=\"content\""));

    let location =
        post(&app, &admin, "/settings/actions/order-status", &[("action", "disable")]).await;
    assert_eq!(location, "/settings/actions?notice=disabled#action-order-status");
    let order_status = |actions: Vec<Action>| {
        actions.into_iter().find(|action| action.key == "order-status").unwrap()
    };
    assert!(!order_status(stored(&app).await).enabled);
    let html = page(&app, &admin, location.split('#').next().unwrap()).await;
    assert!(html.contains("data-action-key=\"order-status\" data-enabled=\"false\""), "{html}");
    assert!(html.contains("data-action-key=\"return-request\" data-enabled=\"true\""));
    assert!(html.contains("name=\"action\" value=\"enable\""));
    assert!(html.contains("class=\"flash notice\""));

    post(&app, &admin, "/settings/actions/order-status", &[("action", "enable")]).await;
    let action = order_status(stored(&app).await);
    assert!(action.enabled);
    assert_eq!(action.steps.len(), 1, "the rest of the action is unchanged");
}

#[tokio::test]
async fn an_action_edited_as_toml_saves_back_unchanged() {
    let app = shop().await;
    let supervisor = app.login(SUPERVISOR).await;
    let before = stored(&app).await;
    let html = page(&app, &supervisor, "/settings/actions?edit=return-request").await;
    assert!(html.contains("name=\"editing\" value=\"return-request\""));
    let toml = textarea(&html);
    assert!(toml.starts_with("[[action]]"), "{toml}");
    assert!(toml.contains("key = \"return-request\"") && !toml.contains("updated_at"), "{toml}");

    let location = post(&app, &supervisor, PAGE, &[("content", &toml)]).await;
    assert_eq!(location, "/settings/actions?notice=saved");
    let after = stored(&app).await;
    assert_eq!(after.len(), before.len());
    let strip = |actions: Vec<Action>| {
        actions.into_iter().map(|action| Action { updated_at: 0, ..action }).collect::<Vec<_>>()
    };
    assert_eq!(strip(after), strip(before));
}

#[tokio::test]
async fn pasted_problems_are_shown_with_the_text_kept_and_nothing_is_saved() {
    let app = shop().await;
    let admin = app.login(ADMIN).await;
    let before = stored(&app).await;

    let broken = "[[action]]\nkey = \"gift-card-balance\"\nname = \"Gift card\ntriggers = []\n";
    let refused = submit(&app, &admin, PAGE, &[("content", broken)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains("class=\"flash error\""), "{html}");
    assert!(html.contains("<li>第 3 行无法识别"), "the syntax error names its line: {html}");
    assert_eq!(textarea(&html), broken, "what was typed is kept");

    // One valid action and one without triggers: all or nothing.
    let mixed = GIFT_CARD.to_owned()
        + "\n"
        + &GIFT_CARD.replace("gift-card-balance", "gift-card-top-up").replace(
            "triggers = [\"what is left on my gift card\", \"礼品卡余额\"]",
            "triggers = []",
        );
    let refused = submit(&app, &admin, PAGE, &[("content", &mixed)]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains("<li>gift-card-top-up：触发语句：须有 1 到 200 项</li>"), "{html}");
    assert_eq!(textarea(&html), mixed);

    let empty = submit(&app, &admin, PAGE, &[("content", "# nothing here\n")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stored(&app).await, before, "nothing was saved");
}

#[tokio::test]
async fn a_pasted_new_action_is_saved_and_listed() {
    let app = shop().await;
    let admin = app.login(ADMIN).await;
    let location = post(&app, &admin, PAGE, &[("content", GIFT_CARD)]).await;
    assert_eq!(location, "/settings/actions?notice=saved");
    let actions = stored(&app).await;
    assert_eq!(actions.len(), 3);
    let saved = actions.iter().find(|action| action.key == "gift-card-balance").unwrap();
    assert_eq!((saved.name.as_str(), saved.enabled), ("Gift card balance", true));
    let html = page(&app, &admin, &location).await;
    assert!(html.contains("data-action-key=\"gift-card-balance\" data-enabled=\"true\""));
    assert!(html.contains("GET https://shop.example.com/cards/{card}"), "{html}");
}

#[tokio::test]
async fn deleting_asks_for_confirmation_first() {
    let app = shop().await;
    let admin = app.login(ADMIN).await;
    let html = page(&app, &admin, PAGE).await;
    assert!(!html.contains("id=\"confirm-delete\""));
    assert!(html.contains("href=\"/settings/actions?delete=return-request#confirm-delete\""));
    let html = page(&app, &admin, "/settings/actions?delete=return-request").await;
    assert!(html.contains("id=\"confirm-delete\""), "{html}");
    assert_eq!(stored(&app).await.len(), 2, "asking deletes nothing");

    let location =
        post(&app, &admin, "/settings/actions/return-request", &[("action", "delete")]).await;
    assert_eq!(location, "/settings/actions?notice=deleted");
    let keys: Vec<String> = stored(&app).await.into_iter().map(|action| action.key).collect();
    assert_eq!(keys, ["order-status"]);
    assert!(!page(&app, &admin, &location).await.contains("data-action-key=\"return-request\""));
}

#[tokio::test]
async fn agents_read_the_list_without_controls_and_their_posts_are_refused() {
    let app = shop().await;
    let agent = app.login(AGENT).await;
    let before = stored(&app).await;
    let html = page(&app, &agent, "/settings/actions?edit=order-status&delete=order-status").await;
    assert!(html.contains("data-action-key=\"order-status\""), "{html}");
    assert!(!html.contains("name=\"action\" value=\"disable\""), "no enable/disable");
    assert!(!html.contains("<textarea") && !html.contains("id=\"confirm-delete\""), "{html}");
    assert!(!html.contains("?delete=") && !html.contains("?edit="));

    let refused = submit(&app, &agent, "/settings/actions/order-status", &[("action", "disable")]);
    assert_eq!(refused.await.status, StatusCode::FORBIDDEN);
    let refused = submit(&app, &agent, "/settings/actions/order-status", &[("action", "delete")]);
    assert_eq!(refused.await.status, StatusCode::FORBIDDEN);
    let refused = submit(&app, &agent, PAGE, &[("content", GIFT_CARD)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let forged = app
        .post_form(
            PAGE,
            &[("cookie", &agent.cookie)],
            &[("csrf", "forged"), ("content", GIFT_CARD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(stored(&app).await, before, "nothing changed");
}
