//! Insight in a real browser (headless Chromium over the DevTools protocol, as the demo's
//! end-to-end tests drive it): a supervisor opens Insight, clicks a bar of the chart, lands on
//! the conversations behind it, and gets their CSV with the session. Screenshots of both pages
//! are written to `$CARGO_TARGET_TMPDIR/e2e/`.
//!
//! Without Chromium the test says so loudly and passes, unless `TANDEM_REQUIRE_BROWSER` is set,
//! in which case a missing browser fails it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as Frame;

use tandem_server::testing::{AGENT, SUPERVISOR, TestApp};

use crate::insight::{FORMULA_NAME, seed};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// The Chromium binary, or `None` (after saying so) where the test may be skipped.
fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let chromium = find_chromium();
    if chromium.is_none() {
        assert!(
            std::env::var_os("TANDEM_REQUIRE_BROWSER").is_none(),
            "TANDEM_REQUIRE_BROWSER is set but Chromium is not installed"
        );
        eprintln!("\n*** SKIPPED {test}: Chromium not found (apt-get install chromium) ***\n");
    }
    chromium
}

/// One headless Chromium with one tab, driven over its DevTools socket.
struct Browser {
    socket: Mutex<Socket>,
    next_id: AtomicU64,
    session: String,
    process: std::sync::Mutex<Child>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(mut process) = self.process.lock() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Browser {
    async fn launch(binary: &PathBuf) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = tokio::process::ChildStderr::from_std(child.stderr.take().unwrap()).unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(index) = line.find("ws://") {
                    return line[index..].trim().to_owned();
                }
            }
            panic!("chromium exited without a DevTools address");
        })
        .await
        .expect("chromium started in time");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut browser = Browser {
            socket: Mutex::new(socket),
            next_id: AtomicU64::new(1),
            session: String::new(),
            process: std::sync::Mutex::new(child),
            _profile: profile,
        };
        let target = browser
            .send(None, "Target.createTarget", json!({ "url": "about:blank" }))
            .await
            .unwrap()["targetId"]
            .clone();
        browser.session = browser
            .send(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true }))
            .await
            .unwrap()["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        browser.call("Page.enable", json!({})).await;
        browser
    }

    /// Sends one DevTools command and waits for its answer, skipping events.
    async fn send(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let mut socket = self.socket.lock().await;
        socket.send(Frame::Text(command.to_string().into())).await.unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
                .await
                .expect("DevTools answered")
                .unwrap()
                .unwrap();
            let Frame::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(text.as_str()).unwrap();
            if value["id"] == id {
                return match value.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(value["result"].clone()),
                };
            }
        }
    }

    /// A command to the tab.
    async fn call(&self, method: &str, params: Value) -> Value {
        match self.send(Some(&self.session), method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(result.get("exceptionDetails").is_none(), "{expression} threw: {result}");
        result["result"]["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            "load",
        )
        .await;
    }

    /// Polls `condition` until it is true, for up to 15 seconds.
    async fn wait_for(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let params = json!({ "expression": format!("!!({condition})"), "returnByValue": true });
            // A navigation may interrupt the evaluation: that is "not yet", not a failure.
            let result = self.send(Some(&self.session), "Runtime.evaluate", params).await;
            if result.is_ok_and(|result| result["result"]["value"] == json!(true)) {
                return;
            }
            if Instant::now() > deadline {
                self.screenshot(&format!("insight-failed-{}", what.replace(' ', "-"))).await;
                panic!("timed out waiting for {what}: {condition}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The whole page, also what lies below the window.
    async fn screenshot(&self, name: &str) {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let clip =
            json!({ "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 });
        let params = json!({ "format": "png", "captureBeyondViewport": true, "clip": clip });
        let result = self.call("Page.captureScreenshot", params).await;
        if let Some(data) = result["data"].as_str() {
            let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
            std::fs::create_dir_all(&directory).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
            std::fs::write(directory.join(format!("{name}.png")), bytes).unwrap();
        }
    }

    /// A real mouse click in the middle of the element `selector` finds.
    async fn click(&self, selector: &str) {
        let point = self
            .eval(&format!(
                "(() => {{ const e = {selector}; e.scrollIntoView({{ block: 'center' }}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
            ))
            .await;
        let (x, y) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            let event = json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 });
            self.call("Input.dispatchMouseEvent", event).await;
        }
    }
}

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
    let browser = Browser::launch(&chromium).await;

    browser.goto(&format!("{base}/login")).await;
    let (email, password) = SUPERVISOR;
    browser
        .eval(&format!(
            "document.querySelector('input[name=email]').value = {email:?}; document.querySelector('input[name=password]').value = {password:?}; document.querySelector('form').submit(); true"
        ))
        .await;
    browser
        .wait_for("location.pathname === '/inbox' && document.readyState === 'complete'", "sign-in")
        .await;

    // Insight from the navigation, then grouped by topic.
    browser.click("document.querySelector('.topbar nav a[href=\"/insight\"]')").await;
    browser
        .wait_for(
            "location.pathname === '/insight' && document.readyState === 'complete'",
            "insight",
        )
        .await;
    browser.eval("document.querySelector('select[name=by]').value = 'topic'; document.querySelector('.insight-filters').submit(); true").await;
    browser
        .wait_for(
            "location.search.includes('by=topic') && document.readyState === 'complete'",
            "by topic",
        )
        .await;
    browser.screenshot("insight-page").await;
    assert_eq!(
        browser
            .eval(
                "document.querySelector('[data-kpi=conversations] .insight-tile-value').textContent"
            )
            .await,
        "3"
    );

    // The handed-off part of the returns bar (titled with the article's name).
    let bar = "[...document.querySelectorAll('#chart-volume rect.series-people')].find(r => r.querySelector('title').textContent.startsWith('退货政策'))";
    browser.wait_for(bar, "the returns bar").await;
    browser.click(bar).await;
    browser
        .wait_for(
            "location.pathname === '/insight/conversations' && document.readyState === 'complete'",
            "drill-down",
        )
        .await;
    browser.screenshot("insight-conversations").await;
    let listed = browser
        .eval("[...document.querySelectorAll('tr[data-conversation-id]')].map(r => Number(r.dataset.conversationId))")
        .await;
    assert_eq!(listed, json!([built.emily]), "the conversation behind the bar");
    let search = browser.eval("location.search").await;
    assert!(search.as_str().unwrap().contains("metric=handed_off"), "{search}");

    // The CSV of the same selection, fetched with the session.
    let csv = browser
        .eval("fetch(document.querySelector('[data-testid=insight-export]').href, { credentials: 'same-origin' }).then(r => r.text())")
        .await;
    let csv = csv.as_str().unwrap().trim_start_matches('\u{feff}');
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,link,customer,"));
    assert!(lines[1].starts_with(&format!("{},/conversations/{},", built.emily, built.emily)));
    assert!(!csv.contains(FORMULA_NAME));

    // And the whole period's file, with the customer whose name is a formula.
    browser.goto(&format!("{base}/insight/conversations?metric=conversations")).await;
    browser.screenshot("insight-all-conversations").await;
    let all = browser
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
    let browser = Browser::launch(&chromium).await;
    browser.goto(&format!("{base}/login")).await;
    let (email, password) = SUPERVISOR;
    browser
        .eval(&format!(
            "document.querySelector('input[name=email]').value = {email:?}; document.querySelector('input[name=password]').value = {password:?}; document.querySelector('form').submit(); true"
        ))
        .await;
    browser
        .wait_for("location.pathname === '/inbox' && document.readyState === 'complete'", "sign-in")
        .await;

    for by in ["day", "queue"] {
        browser.goto(&format!("{base}/insight?by={by}")).await;
        browser.screenshot(&format!("insight-month-by-{by}")).await;
        let fits = browser.eval("document.documentElement.scrollWidth <= window.innerWidth").await;
        assert_eq!(fits, json!(true), "the page fits the window grouped by {by}");
    }
    // By day: a bar for every day with conversations, each part a link.
    browser.goto(&format!("{base}/insight?by=day")).await;
    let days = browser.eval("document.querySelectorAll('#chart-volume a.bar-link').length").await;
    assert!(days.as_u64().unwrap() >= 28, "{days}");
    let links = browser
        .eval("[...document.querySelectorAll('svg a')].every(a => a.getAttribute('href').startsWith('/insight/conversations?'))")
        .await;
    assert_eq!(links, json!(true));
    let waits = browser
        .eval("document.querySelectorAll('[data-testid=insight-waits] tbody tr').length")
        .await;
    assert_eq!(waits, json!(2), "the two queues people answered");
}
