//! Settings → Model in the console: the defaults shown to admins, a save the API reads back, a
//! refused value that keeps the form and saves nothing, agents and supervisors refused, and the
//! model usage added up from decision records on the page, the conversation and its API.

use axum::http::StatusCode;
use serde_json::json;
use tandem_domain::{AuthorKind, ConversationId, DecisionRecord, LlmRecord};
use tandem_store::{ConversationFilter, MessageTarget, NewMessage};

use tandem_server::testing::{ADMIN, AGENT, SUPERVISOR, Session, TestApp};

const PAGE: &str = "/settings/model";

/// Every field of a valid form, as a browser sends it with all check boxes ticked.
fn valid_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("enabled", "true"),
        ("allow_external", "true"),
        ("base_url", "https://llm.example/v1"),
        ("model", "qwen-plus"),
        ("api_key_env", "TANDEM_LLM_TEST_KEY_THAT_IS_NOT_SET"),
        ("timeout_ms", "8000"),
        ("total_timeout_ms", "15000"),
        ("max_tokens", "400"),
        ("temperature", "0.3"),
        ("max_retries", "1"),
        ("input_price_per_1k", "0.0008"),
        ("output_price_per_1k", "0.002"),
        ("breaker_failures", "4"),
        ("breaker_cooldown_ms", "20000"),
        ("stream", "true"),
        ("summaries", "true"),
    ]
}

/// `valid_fields` with `name` set to `value`.
fn with(name: &str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    valid_fields()
        .into_iter()
        .map(|(field, old)| (field, if field == name { value } else { old }))
        .collect()
}

async fn submit(
    app: &TestApp,
    session: &Session,
    fields: &[(&str, &str)],
) -> tandem_server::testing::Response {
    let mut all = vec![("csrf", session.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(PAGE, &[("cookie", &session.cookie)], &all).await
}

async fn api_settings(app: &TestApp, session: &Session) -> serde_json::Value {
    let response = app.get("/api/v1/llm/settings", &[("cookie", &session.cookie)]).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    response.json()
}

#[tokio::test]
async fn admins_see_the_default_settings_and_whether_the_key_is_set() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let page = app.get(PAGE, &[("cookie", &admin.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(html.contains("href=\"/settings/model\" aria-current=\"page\""), "linked in the nav");
    for expected in [
        "name=\"base_url\" type=\"url\" value=\"https://api.openai.com/v1\"",
        "value=\"gpt-4o-mini\"",
        "value=\"TANDEM_LLM_API_KEY\"",
        "name=\"timeout_ms\" type=\"number\" step=\"1\" inputmode=\"decimal\" value=\"10000\"",
        "name=\"temperature\" type=\"number\" step=\"any\" inputmode=\"decimal\" value=\"0.2\"",
        "name=\"breaker_cooldown_ms\" type=\"number\" step=\"1\" inputmode=\"decimal\" value=\"30000\"",
        "允许把文本发送给服务商",
        "最近 30 天没有调用大模型",
    ] {
        assert!(html.contains(expected), "{expected} missing");
    }
    // Off by default; the four uses are on.
    assert!(!html.contains("name=\"enabled\" value=\"true\" checked"));
    assert!(!html.contains("name=\"allow_external\" value=\"true\" checked"));
    for name in ["stream", "tools", "choose", "summaries"] {
        assert!(html.contains(&format!("name=\"{name}\" value=\"true\" checked")), "{name}");
    }
    assert!(html.contains("data-key-set="), "the key variable's status is shown");

    // Only the variable's name and whether the server has it are shown (the name must start
    // with TANDEM_LLM_, so no other secret of the server can be sent as the key).
    let mut settings = api_settings(&app, &admin).await;
    settings["api_key_env"] = json!("TANDEM_LLM_CONSOLE_TEST_UNSET");
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    let settings: tandem_llm::LlmSettings = serde_json::from_value(settings).unwrap();
    tandem_bot::model::save_llm_settings(app.store.as_ref(), workspace, &settings).await.unwrap();
    let html = app.get(PAGE, &[("cookie", &admin.cookie)]).await.text();
    assert!(html.contains("<code>TANDEM_LLM_CONSOLE_TEST_UNSET</code>"), "{html}");
    assert!(html.contains("data-key-set=\"false\""), "{html}");
}

#[tokio::test]
async fn a_saved_form_is_what_the_api_returns() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let saved = submit(&app, &admin, &valid_fields()).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert_eq!(saved.headers["location"], "/settings/model?notice=saved");

    let settings = api_settings(&app, &admin).await;
    assert_eq!(
        settings,
        json!({
            "enabled": true,
            "allow_external": true,
            "base_url": "https://llm.example/v1",
            "model": "qwen-plus",
            "api_key_env": "TANDEM_LLM_TEST_KEY_THAT_IS_NOT_SET",
            "timeout_ms": 8000,
            "total_timeout_ms": 15000,
            "max_tokens": 400,
            "temperature": settings["temperature"],
            "max_retries": 1,
            "input_price_per_1k": 0.0008,
            "output_price_per_1k": 0.002,
            "breaker_failures": 4,
            "breaker_cooldown_ms": 20000,
            "stream": true,
            "tools": false,
            "choose": false,
            "embedding_model": null,
            "summaries": true,
        })
    );
    assert!((settings["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);

    let html = app.get("/settings/model?notice=saved", &[("cookie", &admin.cookie)]).await.text();
    assert!(html.contains("大模型设置已保存"), "{html}");
    assert!(html.contains("name=\"enabled\" value=\"true\" checked"));
    assert!(!html.contains("name=\"tools\" value=\"true\" checked"), "unticked stays off");
    assert!(html.contains("value=\"qwen-plus\"") && html.contains("value=\"0.3\""));
    assert!(html.contains("data-key-set=\"false\">未设置"), "the named variable is not set");

    // An empty key variable means no key is sent.
    let saved = submit(&app, &admin, &with("api_key_env", "  ")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert_eq!(api_settings(&app, &admin).await["api_key_env"], json!(null));
}

#[tokio::test]
async fn a_refused_value_is_named_next_to_its_field_and_nothing_is_saved() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let before = api_settings(&app, &admin).await;

    let mut fields = with("temperature", "3");
    fields.retain(|(name, _)| *name != "model");
    fields.push(("model", "qwen-max"));
    let refused = submit(&app, &admin, &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains("没有保存任何内容"), "{html}");
    assert!(
        html.contains("value=\"3\" spellcheck=\"false\" aria-invalid=\"true\" aria-describedby=\"error-temperature\""),
        "{html}"
    );
    assert!(html.contains("data-field=\"temperature\">须在 0 到 2 之间</small>"), "{html}");
    assert_eq!(html.matches("aria-invalid=\"true\"").count(), 1, "only the refused field");
    assert!(html.contains("value=\"qwen-max\""), "the typed form comes back");
    assert!(html.contains("name=\"enabled\" value=\"true\" checked"));
    assert_eq!(api_settings(&app, &admin).await, before, "nothing was saved");

    // A number that does not read, in the agent's language.
    let refused = submit(&app, &admin, &with("timeout_ms", "ten")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("data-field=\"timeout_ms\">“ten”不是整数</small>"));
    let refused = submit(&app, &admin, &with("api_key_env", "sk-live-123")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("data-field=\"api_key_env\""));
    assert_eq!(api_settings(&app, &admin).await, before, "nothing was saved");

    // A forged form is refused before anything is read.
    let forged = app
        .post_form(PAGE, &[("cookie", &admin.cookie)], &[("csrf", "forged"), ("model", "x")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn agents_and_supervisors_are_refused() {
    let app = TestApp::new().await;
    let admin = app.login(ADMIN).await;
    let before = api_settings(&app, &admin).await;
    for account in [AGENT, SUPERVISOR] {
        let session = app.login(account).await;
        let page = app.get(PAGE, &[("cookie", &session.cookie)]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", account.0);
        let saved = submit(&app, &session, &valid_fields()).await;
        assert_eq!(saved.status, StatusCode::FORBIDDEN, "{}", account.0);
        let inbox = app.get("/inbox", &[("cookie", &session.cookie)]).await.text();
        assert!(!inbox.contains("href=\"/settings/model\""), "not in {}'s nav", account.0);
    }
    assert_eq!(api_settings(&app, &admin).await, before, "nothing was saved");
}

fn decision(llm: Option<LlmRecord>) -> DecisionRecord {
    DecisionRecord {
        query: "什么时候发货".into(),
        outcome: tandem_domain::TurnOutcome::Answer,
        threshold: 0.35,
        candidates: Vec::new(),
        knowledge_version: "12 articles".into(),
        latency_us: 150,
        action: None,
        llm,
        parts: Vec::new(),
    }
}

fn llm(outcome: &str, prompt_tokens: u64, completion_tokens: u64, cost: f64) -> LlmRecord {
    LlmRecord {
        error: (outcome == "error").then(|| "llm_timeout".to_owned()),
        attempts: u32::from(outcome != "skipped"),
        prompt_tokens,
        completion_tokens,
        cost,
        latency_ms: 700,
        ..LlmRecord::new(tandem_domain::LlmOutcome::parse(outcome).unwrap())
    }
}

/// Stores a bot reply with this decision in the conversation.
async fn bot_turn(app: &TestApp, conversation: ConversationId, record: DecisionRecord) {
    app.store
        .append_message(NewMessage {
            target: MessageTarget::Conversation(conversation),
            author_kind: AuthorKind::Bot,
            author_id: None,
            author_name: None,
            body: "现货商品在付款后 48 小时内发货。".into(),
            client_msg_id: None,
            reopen_if_resolved: false,
            meta: None,
            decision: Some(record),
            only_while_bot_owns: false,
            sentiment: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn usage_adds_up_the_decision_records_on_the_page_the_conversation_and_its_api() {
    let app = TestApp::fixture().conversations().build().await;
    let workspace = app.store.workspaces().await.unwrap()[0].id;
    let conversations =
        app.store.conversations(workspace, ConversationFilter::All, 10).await.unwrap();
    let (first, second) = (conversations[0].id, conversations[1].id);
    bot_turn(&app, first, decision(Some(llm("used", 300, 40, 0.25)))).await;
    bot_turn(&app, first, decision(Some(llm("rejected", 320, 60, 0.5)))).await;
    bot_turn(&app, first, decision(Some(llm("skipped", 0, 0, 0.0)))).await;
    bot_turn(&app, first, decision(None)).await;
    bot_turn(&app, second, decision(Some(llm("refused", 280, 5, 0.125)))).await;
    bot_turn(&app, second, decision(Some(llm("error", 0, 0, 0.0)))).await;

    let admin = app.login(ADMIN).await;
    let html = app.get(PAGE, &[("cookie", &admin.cookie)]).await.text();
    assert!(!html.contains("最近 30 天没有调用大模型"), "{html}");
    let row = |label: &str, value: &str| {
        format!("<tr><th scope=\"row\">{label}</th><td class=\"num\">{value}</td></tr>")
    };
    for (label, value) in [
        ("调用", "4"),
        ("采用", "1"),
        ("未通过核实", "1"),
        ("模型拒答", "1"),
        ("出错", "1"),
        ("跳过", "1"),
        ("输入 token", "900"),
        ("输出 token", "105"),
        ("估算费用", "0.8750"),
    ] {
        assert!(html.contains(&row(label, value)), "{label} {value} missing");
    }

    // The conversation's own total, in the agent's language and in the API.
    let agent = app.login(AGENT).await;
    let page = app.get(&format!("/conversations/{}", first.0), &[("cookie", &agent.cookie)]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains(
            "data-testid=\"llm-usage\" title=\"Estimated cost\">Model: 2 calls · 620+100 tokens · cost 0.7500</span>"
        ),
        "{}",
        page.text()
    );
    let detail = app
        .get(&format!("/api/v1/conversations/{}", first.0), &[("cookie", &agent.cookie)])
        .await
        .json();
    assert_eq!(
        detail["llm_usage"],
        json!({
            "calls": 2, "used": 1, "rejected": 1, "refused": 0, "error": 0, "skipped": 1,
            "prompt_tokens": 620, "completion_tokens": 100, "cost": 0.75,
        })
    );
    let third = conversations[2].id;
    let untouched =
        app.get(&format!("/conversations/{}", third.0), &[("cookie", &agent.cookie)]).await;
    assert!(!untouched.text().contains("data-testid=\"llm-usage\""), "no model, no line");
    let detail = app
        .get(&format!("/api/v1/conversations/{}", third.0), &[("cookie", &agent.cookie)])
        .await
        .json();
    assert_eq!(
        (detail["llm_usage"]["calls"].clone(), detail["llm_usage"]["cost"].clone()),
        (json!(0), json!(0.0))
    );
}
