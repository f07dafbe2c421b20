//! Insight in a real browser (headless Chromium over the DevTools protocol, driven with
//! `tandem_server::testing::browser` as the demo's end-to-end tests are): a supervisor opens
//! Insight, clicks a bar of the chart, lands on the conversations behind it, and gets their CSV
//! with the session. Screenshots of both pages are written to `$CARGO_TARGET_TMPDIR/e2e/`.
//!
//! Without Chromium the test says so loudly and passes, unless `TANDEM_REQUIRE_BROWSER` is set,
//! in which case a missing browser fails it.

use serde_json::json;

use tandem_server::testing::browser::{Browser, chromium_or_skip};
use tandem_server::testing::{AGENT, SUPERVISOR, TestApp};

use crate::insight::{FORMULA_NAME, seed};

/// Where the pages' screenshots go.
const SCREENSHOTS: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/e2e");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_clicks_a_bar_and_gets_its_conversations_and_their_csv() {
    let Some(chromium) =
        chromium_or_skip("a_supervisor_clicks_a_bar_and_gets_its_conversations_and_their_csv")
    else {
        return;
    };
    let app = TestApp::fixture().sample_articles().build().await;
    let built = seed(&app).await;
    let base = format!("http://{}", app.spawn().await);
    let browser = Browser::launch(&chromium, SCREENSHOTS).await;
    let page = browser.new_page().await;

    page.sign_in(&base, SUPERVISOR).await;

    // Insight from the navigation, then grouped by topic.
    page.click("document.querySelector('.topbar nav a[href=\"/insight\"]')").await;
    page.wait_for(
        "location.pathname === '/insight' && document.readyState === 'complete'",
        "insight",
    )
    .await;
    page.eval("document.querySelector('select[name=by]').value = 'topic'; document.querySelector('.insight-filters').submit(); true").await;
    page.wait_for(
        "location.search.includes('by=topic') && document.readyState === 'complete'",
        "by topic",
    )
    .await;
    page.screenshot_full_page("insight-page").await;
    assert_eq!(
        page.eval(
            "document.querySelector('[data-kpi=conversations] .insight-tile-value').textContent"
        )
        .await,
        "3"
    );

    // The handed-off part of the returns bar (titled with the article's name).
    let bar = "[...document.querySelectorAll('#chart-volume rect.series-people')].find(r => r.querySelector('title').textContent.startsWith('退货政策'))";
    page.wait_for(bar, "the returns bar").await;
    page.click(bar).await;
    page.wait_for(
        "location.pathname === '/insight/conversations' && document.readyState === 'complete'",
        "drill-down",
    )
    .await;
    page.screenshot_full_page("insight-conversations").await;
    let listed = page
        .eval("[...document.querySelectorAll('tr[data-conversation-id]')].map(r => Number(r.dataset.conversationId))")
        .await;
    assert_eq!(listed, json!([built.emily]), "the conversation behind the bar");
    let search = page.eval("location.search").await;
    assert!(search.as_str().unwrap().contains("metric=handed_off"), "{search}");

    // The CSV of the same selection, fetched with the session.
    let csv = page
        .eval("fetch(document.querySelector('[data-testid=insight-export]').href, { credentials: 'same-origin' }).then(r => r.text())")
        .await;
    let csv = csv.as_str().unwrap().trim_start_matches('\u{feff}');
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,link,customer,"));
    assert!(lines[1].starts_with(&format!("{},/conversations/{},", built.emily, built.emily)));
    assert!(!csv.contains(FORMULA_NAME));

    // And the whole period's file, with the customer whose name is a formula.
    page.goto(&format!("{base}/insight/conversations?metric=conversations")).await;
    page.screenshot_full_page("insight-all-conversations").await;
    let all = page
        .eval("fetch(document.querySelector('[data-testid=insight-export]').href).then(r => r.text())")
        .await;
    assert_eq!(all.as_str().unwrap().lines().count(), 4);
}

/// A month of history (imported with its times): every few conversations the bot alone, one a
/// person answered in the after-sales queue and rated, one still waiting in disputes.
async fn import_month(app: &TestApp) {
    use tandem_domain::{AuthorKind, Channel};
    use tandem_store::{ImportedConversation, ImportedMessage};

    const MINUTE: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MINUTE;
    let now = tandem_store::now_millis();
    let today = now - now.rem_euclid(DAY);
    let message =
        |author_kind, body: &str, at, agent: Option<&str>, source: Option<&str>| ImportedMessage {
            author_kind,
            body: body.into(),
            at,
            agent: agent.map(str::to_owned),
            source: source.map(str::to_owned),
            sentiment: None,
        };
    let mut history = Vec::new();
    for day in 1..29i64 {
        for index in 0..(4 + (day * 7) % 6) {
            let created = today - day * DAY + 8 * 60 * MINUTE + index * 53 * MINUTE;
            let kind = (day + index) % 4;
            let topic = if index % 3 == 0 { "shipping" } else { "returns" };
            let wait = ((day * 13 + index * 7) % 40 + 1) * MINUTE;
            let mut conversation = ImportedConversation {
                external_id: format!("h-{day}-{index}"),
                created_at: created,
                channel: if index % 5 == 0 { Channel::Email } else { Channel::Web },
                customer_external_id: Some(format!("c-{}", (day * 3 + index) % 40)),
                customer_name: format!("Customer {}", (day * 3 + index) % 40),
                customer_email: None,
                customer_phone: None,
                customer_tier: None,
                queue: None,
                tags: vec!["history".into()],
                messages: vec![
                    message(AuthorKind::Customer, "where is my order", created, None, None),
                    message(
                        AuthorKind::Bot,
                        "In-stock items ship within 48 hours.",
                        created + 2_000,
                        None,
                        Some(topic),
                    ),
                ],
                handed_off_at: None,
                assigned_at: None,
                resolved_at: None,
                csat: None,
                csat_comment: None,
            };
            match kind {
                0 | 3 => conversation.resolved_at = Some(created + 5 * MINUTE),
                1 => {
                    conversation.queue = Some("售后服务 After-sales".into());
                    conversation.handed_off_at = Some(created + MINUTE);
                    conversation.assigned_at = Some(created + MINUTE);
                    conversation.messages.push(message(
                        AuthorKind::Agent,
                        "Let me check.",
                        created + MINUTE + wait,
                        Some(AGENT.0),
                        None,
                    ));
                    conversation.resolved_at = Some(created + 2 * MINUTE + wait * 2);
                    conversation.csat = Some((1 + (day + index) % 5) as u8);
                }
                _ => {
                    conversation.queue = Some("投诉与纠纷 Disputes".into());
                    conversation.handed_off_at = Some(created + MINUTE);
                    conversation.messages.push(message(
                        AuthorKind::Agent,
                        "Sorry about that.",
                        created + MINUTE + wait * 3,
                        Some(SUPERVISOR.0),
                        None,
                    ));
                }
            }
            history.push(conversation);
        }
    }
    app.store.import_conversations(app.workspace, history).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_history_fits_the_page_in_english() {
    let Some(chromium) = chromium_or_skip("a_month_of_history_fits_the_page_in_english") else {
        return;
    };
    let app = TestApp::fixture().sample_articles().build().await;
    import_month(&app).await;
    let supervisor = app.store.user_credentials(SUPERVISOR.0).await.unwrap().unwrap().0;
    let english =
        tandem_store::UserUpdate { locale: Some(tandem_domain::Locale::En), ..Default::default() };
    app.store.update_user(supervisor.id, english).await.unwrap();
    let base = format!("http://{}", app.spawn().await);
    let browser = Browser::launch(&chromium, SCREENSHOTS).await;
    let page = browser.new_page().await;
    page.sign_in(&base, SUPERVISOR).await;

    for by in ["day", "queue"] {
        page.goto(&format!("{base}/insight?by={by}")).await;
        page.screenshot_full_page(&format!("insight-month-by-{by}")).await;
        let fits = page.eval("document.documentElement.scrollWidth <= window.innerWidth").await;
        assert_eq!(fits, json!(true), "the page fits the window grouped by {by}");
    }
    // By day: a bar for every day with conversations, each part a link.
    page.goto(&format!("{base}/insight?by=day")).await;
    let days = page.eval("document.querySelectorAll('#chart-volume a.bar-link').length").await;
    assert!(days.as_u64().unwrap() >= 28, "{days}");
    let links = page
        .eval("[...document.querySelectorAll('svg a')].every(a => a.getAttribute('href').startsWith('/insight/conversations?'))")
        .await;
    assert_eq!(links, json!(true));
    let waits =
        page.eval("document.querySelectorAll('[data-testid=insight-waits] tbody tr').length").await;
    assert_eq!(waits, json!(2), "the two queues people answered");
}
