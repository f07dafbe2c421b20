//! The console's Insight pages over conversations built through the widget and agent APIs (the
//! bot answering, people replying and resolving, a rating): the figures match what was built,
//! every figure's link lists exactly the conversations behind it, the CSV has one row per
//! conversation, an agent sees only their own, and nobody else gets in.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::json;
use tandem_domain::ConversationId;
use tandem_server::auth::user_hash;
use tandem_server::testing::{AGENT, SUPERVISOR, Session, TestApp};

/// A customer name a spreadsheet would run as a formula, with a comma and quotes to quote.
pub const FORMULA_NAME: &str = "=HYPERLINK(\"http://evil.example\",\"点我\"), Ltd";

/// What [`seed`] built.
pub struct Built {
    /// Resolved by the bot alone (a supervisor closed it without writing): topic `returns`.
    pub bot_resolved: i64,
    /// The bot answered (`returns`), then Emily took it over, resolved it, and it was rated 5.
    pub emily: i64,
    /// The bot answered (`shipping`), then 李强 replied; still open. Its customer is
    /// [`FORMULA_NAME`].
    pub supervisor: i64,
}

async fn open(app: &TestApp, token: &str, text: &str, answer: &str) -> i64 {
    let sent = app.widget_send(token, "first", text).await;
    assert!(sent.status.is_success(), "{}", sent.text());
    let id = sent.json()["message"]["conversation_id"].as_i64().unwrap();
    app.bot_reply_containing(token, answer).await;
    id
}

async fn write(app: &TestApp, session: &Session, id: i64, body: &str) {
    let uri = format!("/api/v1/conversations/{id}/messages");
    let headers = [("cookie", session.cookie.as_str()), ("x-csrf-token", session.csrf.as_str())];
    let response = app.post_json(&uri, &headers, json!({ "body": body })).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text());
}

async fn resolve(app: &TestApp, session: &Session, id: i64) {
    let uri = format!("/api/v1/conversations/{id}/transitions");
    let headers = [("cookie", session.cookie.as_str()), ("x-csrf-token", session.csrf.as_str())];
    let response = app.post_json(&uri, &headers, json!({ "action": "resolve" })).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
}

/// Three conversations of today, each through the real flow.
pub async fn seed(app: &TestApp) -> Built {
    let supervisor = app.login(SUPERVISOR).await;
    let emily = app.login(AGENT).await;

    let first = app.widget_token().await;
    let bot_resolved = open(app, &first, "怎么退货", "7 天").await;
    resolve(app, &supervisor, bot_resolved).await;

    let second = app.widget_token().await;
    let taken = open(app, &second, "可以退货吗", "7 天").await;
    write(app, &emily, taken, "您好，我来帮您办理退货。").await;
    resolve(app, &emily, taken).await;
    let rating = tandem_store::Rating {
        rating: Some(5),
        comment: None,
        answers: Default::default(),
        rated_at: tandem_store::now_millis(),
    };
    app.store.rate_conversation(ConversationId(taken), rating).await.unwrap();

    let hash = user_hash(&app.identity_secret().await, "u-formula");
    let session = app
        .widget_session(json!({ "user_id": "u-formula", "user_hash": hash, "name": FORMULA_NAME }))
        .await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text());
    let third = session.json()["token"].as_str().unwrap().to_owned();
    let open_one = open(app, &third, "什么时候发货", "48 小时").await;
    write(app, &supervisor, open_one, "正在为您查询物流。").await;

    Built { bot_resolved, emily: taken, supervisor: open_one }
}

/// `&amp;` in an attribute back to `&`.
pub fn unescape(href: &str) -> String {
    href.replace("&amp;", "&").replace("&#38;", "&")
}

/// The value shown on a KPI tile and where the tile links to.
fn tile(html: &str, kpi: &str) -> (String, String) {
    let start = html.find(&format!("data-kpi=\"{kpi}\"")).unwrap_or_else(|| panic!("{kpi} tile"));
    let rest = &html[start..];
    let href = rest.split("href=\"").nth(1).unwrap().split('"').next().unwrap();
    let value = rest.split("insight-tile-value\">").nth(1).unwrap().split('<').next().unwrap();
    (value.to_owned(), unescape(href))
}

/// The conversations a drill-down page lists.
pub fn listed(html: &str) -> BTreeSet<i64> {
    html.split("data-conversation-id=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

fn ids(ids: &[i64]) -> BTreeSet<i64> {
    ids.iter().copied().collect()
}

/// The cells of a table row whose `data-key` is `key`: (text, link) for each linked figure.
fn row(html: &str, key: &str) -> Vec<(String, String)> {
    let start =
        html.find(&format!("<tr data-key=\"{key}\">")).unwrap_or_else(|| panic!("row {key}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("<a href=\"")
        .skip(1)
        .map(|cell| {
            let (href, rest) = cell.split_once('"').unwrap();
            let text = rest.split_once('>').unwrap().1.split('<').next().unwrap();
            (text.to_owned(), unescape(href))
        })
        .collect()
}

#[tokio::test]
async fn a_supervisor_sees_the_figures_and_the_conversations_behind_each() {
    let app = TestApp::fixture().sample_articles().build().await;
    let built = seed(&app).await;
    let session = app.login(SUPERVISOR).await;
    let cookie = [("cookie", session.cookie.as_str())];

    let page = app.get("/insight?by=topic", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("数据洞察") && html.contains("href=\"/insight\""), "title and nav");
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "no inline script"
    );
    let tiles = |kpi| tile(&html, kpi);
    assert_eq!(tiles("conversations").0, "3");
    assert_eq!(tiles("customers").0, "3");
    assert_eq!(tiles("bot_resolution_rate").0, "33%", "one of three resolved by the bot");
    assert_eq!(tiles("handoff_rate").0, "67%", "two of three answered by people");
    assert_eq!(tiles("csat").0, "5.00");
    assert!(html.contains("100% 评 4–5 分 · 1 份评价"), "CSAT detail");

    // Each tile's link lists the conversations it counts.
    let everyone = ids(&[built.bot_resolved, built.emily, built.supervisor]);
    for (kpi, expected) in [
        ("conversations", everyone.clone()),
        ("bot_resolution_rate", ids(&[built.bot_resolved])),
        ("handoff_rate", ids(&[built.emily, built.supervisor])),
        ("frt", ids(&[built.emily, built.supervisor])),
        ("resolution", ids(&[built.bot_resolved, built.emily])),
        ("csat", ids(&[built.emily])),
    ] {
        let drill = app.get(&tiles(kpi).1, &cookie).await;
        assert_eq!(drill.status, StatusCode::OK, "{kpi}");
        assert_eq!(listed(&drill.text()), expected, "{kpi}");
    }

    // Topics are named by their article, and each cell links to its group.
    assert!(html.contains("退货政策") && html.contains("发货时间"), "article titles");
    let returns = row(&html, "returns");
    assert_eq!(returns[0].0, "2", "two conversations about returns");
    assert_eq!(returns[2].0, "50%", "one of them handed off");
    let handed_off = app.get(&returns[2].1, &cookie).await.text();
    assert_eq!(listed(&handed_off), ids(&[built.emily]));
    assert!(handed_off.contains("Emily Chen") && handed_off.contains("退货政策"));
    assert!(handed_off.contains(&format!("href=\"/conversations/{}\"", built.emily)));

    // The charts' bars are links too: the stacked bar of returns has a bot-resolved part.
    let bar = html
        .split("<a href=\"")
        .skip(1)
        .map(|rest| unescape(rest.split('"').next().unwrap()))
        .find(|href| href.contains("key=returns") && href.contains("metric=bot_resolved"))
        .expect("a bar for the bot-resolved returns");
    let behind_bar = app.get(&bar, &cookie).await.text();
    assert_eq!(listed(&behind_bar), ids(&[built.bot_resolved]));

    // Grouped by agent: named, and the bot's own conversation is under "none".
    let by_agent = app.get("/insight?by=agent", &cookie).await.text();
    assert!(by_agent.contains("Emily Chen") && by_agent.contains("李强"));
    assert!(by_agent.contains("（无）"), "no agent");
    let nobody = row(&by_agent, "");
    assert_eq!(nobody[0].0, "1");
    assert_eq!(listed(&app.get(&nobody[0].1, &cookie).await.text()), ids(&[built.bot_resolved]));

    // Bottlenecks: both hand-offs came after a bot reply.
    assert!(html.contains("data-testid=\"insight-bot-fails\""));

    // A period that does not read is said, and the default period shown.
    let bad = app.get("/insight?from=yesterday", &cookie).await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.text().contains("flash error") && bad.text().contains("yesterday"));
    let refused = app.get("/insight/conversations?metric=everything", &cookie).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    // One channel's figures, and the links behind them keep the channel.
    let web = app.get("/insight?channel=web", &cookie).await.text();
    assert_eq!(tile(&web, "conversations").0, tile(&html, "conversations").0);
    assert!(web.contains("<option value=\"web\" selected>"), "the menu shows the channel");
    let mail = app.get("/insight?channel=email", &cookie).await.text();
    assert_eq!(tile(&mail, "conversations").0, "0");
    assert!(
        tile(&mail, "conversations").1.contains("channel=email"),
        "{}",
        tile(&mail, "conversations").1
    );
    let fax = app.get("/insight?channel=fax", &cookie).await;
    assert!(fax.text().contains("flash error") && fax.text().contains("fax"));

    // An old period has nothing.
    let old = app.get("/insight?from=2020-01-01&to=2020-01-31", &cookie).await.text();
    assert_eq!(tile(&old, "conversations").0, "0");
    assert_eq!(tile(&old, "handoff_rate").0, "—");
}

#[tokio::test]
async fn the_csv_has_a_quoted_row_per_conversation() {
    let app = TestApp::fixture().sample_articles().build().await;
    let built = seed(&app).await;
    let session = app.login(SUPERVISOR).await;
    let cookie = [("cookie", session.cookie.as_str())];

    let drill = app.get("/insight/conversations?metric=conversations", &cookie).await.text();
    let link = drill
        .split("href=\"")
        .skip(1)
        .map(|rest| unescape(rest.split('"').next().unwrap()))
        .find(|href| href.starts_with("/insight/export.csv?"))
        .expect("the CSV link");
    let response = app.get(&link, &cookie).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers["content-type"], "text/csv; charset=utf-8");
    let disposition = response.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"insight-"), "{disposition}");
    let text = response.text();
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark for spreadsheets");
    // RFC 4180: the name's quotes doubled, the cell quoted for its comma, and the formula
    // defused with a leading quote.
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"点我\"\"), Ltd\""),
        "{text}"
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "id",
            "link",
            "customer",
            "channel",
            "queue",
            "agent",
            "state",
            "topic",
            "created_at",
            "first_response_seconds",
            "resolved_at",
            "resolution_seconds",
            "handle_seconds",
            "csat",
            "handoff_reasons",
            "tags"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "one row per conversation");
    let of = |id: i64| rows.iter().find(|row| row[0] == id.to_string()).expect("a row");
    let emily = of(built.emily);
    assert_eq!(&emily[1], format!("/conversations/{}", built.emily));
    assert_eq!(
        (&emily[5], &emily[6], &emily[7], &emily[13]),
        ("Emily Chen", "resolved", "退货政策", "5")
    );
    assert!(!emily[9].is_empty() && !emily[10].is_empty() && !emily[12].is_empty());
    let open = of(built.supervisor);
    assert_eq!(&open[2], format!("'{FORMULA_NAME}"));
    assert_eq!((&open[5], &open[10]), ("李强", ""), "not resolved");
    let bot = of(built.bot_resolved);
    assert_eq!((&bot[5], &bot[9]), ("", ""), "no agent, no human response");

    // The same selection as the page narrows the file.
    let narrowed = app
        .get("/insight/export.csv?by=topic&key=shipping&metric=conversations", &cookie)
        .await
        .text();
    assert_eq!(narrowed.lines().count(), 2, "{narrowed}");
}

#[tokio::test]
async fn an_agent_sees_only_their_own_conversations() {
    let app = TestApp::fixture().sample_articles().build().await;
    let built = seed(&app).await;
    let session = app.login(AGENT).await;
    let cookie = [("cookie", session.cookie.as_str())];

    let page = app.get("/insight?by=agent", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("You see the conversations you answered."));
    assert_eq!(tile(&html, "conversations").0, "1");
    assert_eq!(tile(&html, "csat").0, "5.00");
    assert!(!html.contains("李强"), "no other agent is named");
    let everything = app.get("/insight/conversations?metric=conversations", &cookie).await.text();
    assert_eq!(listed(&everything), ids(&[built.emily]));
    // Asking for someone else's group finds nothing.
    let other = app
        .get("/insight/conversations?by=topic&key=shipping&metric=conversations", &cookie)
        .await
        .text();
    assert!(listed(&other).is_empty());
    let csv = app.get("/insight/export.csv?metric=conversations", &cookie).await.text();
    assert_eq!(csv.lines().count(), 2, "the header and Emily's conversation: {csv}");
    assert!(csv.contains(&format!("/conversations/{}", built.emily)));
    assert!(!csv.contains("evil.example"));
}

#[tokio::test]
async fn customers_and_strangers_are_refused() {
    let app = TestApp::fixture().sample_articles().build().await;
    let token = app.widget_token().await;
    let bearer = format!("Bearer {token}");
    for path in ["/insight", "/insight/conversations", "/insight/export.csv"] {
        let anonymous = app.get(path, &[]).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(anonymous.headers["location"], "/login");
        let customer = app.get(path, &[("authorization", &bearer)]).await;
        assert!(
            customer.status == StatusCode::SEE_OTHER || customer.status.is_client_error(),
            "{path}: {}",
            customer.status
        );
        assert!(!customer.text().contains("data-kpi"), "{path}");
    }
}
