//! End to end in a real browser: headless Chromium driven over the DevTools protocol.
//!
//! A customer chats in the widget on `/demo`: the bot answers with its source, asks which
//! article is meant when two fit (a quick-reply tap gets that one's answer) and offers a person
//! when it cannot answer; an agent signed into the console sees the conversation appear without
//! reloading, takes it, replies; the customer sees the reply, and after a reload of the shop
//! page the whole history is still there.
//!
//! The DevTools client is a few calls over the WebSocket crate the tests already use: the
//! protocol crates (chromiumoxide, headless_chrome) generate bindings for the whole protocol
//! and would add minutes to every build on two cores for the five methods needed here.
//!
//! Without Chromium the test says so loudly and passes, unless `TANDEM_REQUIRE_BROWSER` is set
//! (as `.ci/run` does), in which case a missing browser fails it.

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

use crate::support::{AGENT, TestApp};

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

struct Browser {
    socket: Mutex<Socket>,
    next_id: AtomicU64,
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
                "--disable-quic",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1280,860",
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
        Browser {
            socket: Mutex::new(socket),
            next_id: AtomicU64::new(1),
            process: std::sync::Mutex::new(child),
            _profile: profile,
        }
    }

    /// Sends one DevTools command and waits for its result, skipping events.
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self.try_call(session, method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// Like `call`, but a protocol error (the page navigated mid-call, say) is returned.
    async fn try_call(
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

    /// A new tab in its own browser context (its own cookies and storage).
    async fn new_page(&self) -> Page<'_> {
        let context =
            self.call(None, "Target.createBrowserContext", json!({})).await["browserContextId"]
                .clone();
        let target = self
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await["targetId"]
            .clone();
        let session = self
            .call(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true }))
            .await["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        Page { browser: self, session }
    }
}

struct Page<'a> {
    browser: &'a Browser,
    session: String,
}

impl Page<'_> {
    async fn call(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params).await
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
            "page load",
        )
        .await;
    }

    /// Polls `condition` until it is true, for up to 15 seconds.
    async fn wait_for(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let params = json!({ "expression": format!("!!({condition})"), "returnByValue": true });
            // A navigation may interrupt the evaluation: that is "not yet", not a failure.
            let result =
                self.browser.try_call(Some(&self.session), "Runtime.evaluate", params).await;
            if result.is_ok_and(|result| result["result"]["value"] == json!(true)) {
                return;
            }
            if Instant::now() > deadline {
                self.screenshot(&format!("failed-{}", what.replace(' ', "-"))).await;
                panic!("timed out waiting for {what}: {condition}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let result = self.call("Page.captureScreenshot", json!({ "format": "png" })).await;
        if let Some(data) = result["data"].as_str() {
            let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
            std::fs::create_dir_all(&directory).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
            std::fs::write(directory.join(format!("{name}.png")), bytes).unwrap();
        }
    }
}

/// JavaScript: the widget's shadow root.
const WIDGET: &str = "document.querySelector('tandem-widget')?.shadowRoot";

/// JavaScript: type `text` into the widget and press send.
fn type_and_send(text: &str) -> String {
    format!(
        "(() => {{ const input = {WIDGET}.querySelector('[data-testid=input]'); input.value = {text:?}; input.dispatchEvent(new Event('input', {{ bubbles: true }})); {WIDGET}.querySelector('[data-testid=send]').click(); return true; }})()"
    )
}

fn widget_messages(kind: &str, text: &str) -> String {
    format!(
        "[...({WIDGET})?.querySelectorAll('[data-testid=message][data-author-kind={kind}]') ?? []].some(m => m.textContent.includes({text:?}) && m.dataset.seq)"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_and_agent_chat_end_to_end_in_a_real_browser() {
    let Some(chromium) = find_chromium() else {
        assert!(
            std::env::var_os("TANDEM_REQUIRE_BROWSER").is_none(),
            "TANDEM_REQUIRE_BROWSER is set but Chromium is not installed"
        );
        eprintln!(
            "\n*** SKIPPED customer_and_agent_chat_end_to_end_in_a_real_browser: Chromium not found (apt-get install chromium) ***\n"
        );
        return;
    };
    let app = TestApp::new().await;
    let base = format!("http://{}", app.spawn().await);
    let browser = Browser::launch(&chromium).await;

    // The agent signs in and watches the bot view.
    let agent = browser.new_page().await;
    agent.call("Page.enable", json!({})).await;
    agent.goto(&format!("{base}/login")).await;
    agent
        .eval(&format!(
            "document.querySelector('input[name=email]').value = {:?}; document.querySelector('input[name=password]').value = {:?}; document.querySelector('form').submit(); true",
            AGENT.0, AGENT.1
        ))
        .await;
    agent
        .wait_for("location.pathname === '/inbox' && document.readyState === 'complete'", "sign-in")
        .await;
    agent.goto(&format!("{base}/inbox?view=bot")).await;
    agent
        .wait_for(
            "document.querySelector('#live-status')?.dataset.state === 'live'",
            "console socket",
        )
        .await;
    agent.eval("window.__sameDocument = true").await;

    // The customer opens the shop and writes.
    let customer = browser.new_page().await;
    customer.call("Page.enable", json!({})).await;
    customer
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true }),
        )
        .await;
    customer.goto(&format!("{base}/demo")).await;
    customer
        .wait_for(&format!("{WIDGET}?.querySelector('[data-testid=launcher]')"), "widget launcher")
        .await;
    customer.eval(&format!("{WIDGET}.querySelector('[data-testid=launcher]').click()")).await;
    customer
        .wait_for(&format!("!{WIDGET}.querySelector('[data-testid=panel]').hidden"), "widget panel")
        .await;
    let question = "我的订单 20241123001 到哪了？";
    customer.eval(&type_and_send(question)).await;
    customer.wait_for(&widget_messages("customer", question), "customer message confirmed").await;
    // The bot answers from the demo knowledge base and shows where the answer came from.
    customer.wait_for(&widget_messages("bot", "查看物流"), "bot answer").await;
    customer
        .wait_for(
            &format!(
                "{WIDGET}.querySelector('[data-testid=source]')?.textContent.includes('查询物流')"
            ),
            "answer source",
        )
        .await;

    // A question that fits two articles equally well: the bot asks which one is meant and
    // offers both as quick replies; tapping one sends it and gets that article's answer.
    let ambiguous = "发什么快递？到哪了？";
    customer.eval(&type_and_send(ambiguous)).await;
    customer
        .wait_for(&widget_messages("customer", ambiguous), "ambiguous question confirmed")
        .await;
    customer.wait_for(&widget_messages("bot", "您想问的是下面哪一个"), "clarification").await;
    let quick_replies = format!("[...{WIDGET}.querySelectorAll('[data-testid=quick-reply]')]");
    customer
        .wait_for(
            &format!(
                "!{WIDGET}.querySelector('[data-testid=quick-replies]').hidden && {quick_replies}.length === 2"
            ),
            "quick replies",
        )
        .await;
    assert_eq!(
        customer.eval(&format!("{quick_replies}.map(b => b.textContent)")).await,
        json!(["发货时间", "查询物流"]),
        "the clarification offers the two candidate articles by title"
    );
    customer.screenshot("widget-clarify").await;
    customer.eval(&format!("{quick_replies}[0].click(); true")).await;
    customer.wait_for(&widget_messages("customer", "发货时间"), "quick reply sent").await;
    customer
        .wait_for(
            &format!("{WIDGET}.querySelector('[data-testid=quick-replies]').hidden"),
            "quick replies gone",
        )
        .await;
    let newest_bot = format!(
        "[...{WIDGET}.querySelectorAll('[data-testid=message][data-author-kind=bot]')].at(-1)"
    );
    customer
        .wait_for(
            &format!(
                "{newest_bot}?.textContent.includes('48 小时内发货') && {newest_bot}.querySelector('[data-testid=source]')?.textContent.includes('发货时间')"
            ),
            "answer to the quick reply with its source",
        )
        .await;

    // A question the knowledge does not cover: the bot says so and offers a person, not a guess.
    let unknown = "你们公司的创始人是谁？";
    customer.eval(&type_and_send(unknown)).await;
    customer.wait_for(&widget_messages("bot", "转人工"), "abstain offering a person").await;
    customer
        .wait_for(
            &format!("!{WIDGET}.querySelector('[data-testid=handoff]').disabled"),
            "hand-off offered",
        )
        .await;

    // The conversation appears in the agent's inbox without a reload.
    let new_row = "[...document.querySelectorAll('.conversation-list li')].find(li => /^(Visitor|访客) /.test(li.querySelector('.who').textContent))";
    agent.wait_for(new_row, "live inbox row").await;
    assert_eq!(
        agent.eval("window.__sameDocument === true").await,
        json!(true),
        "the inbox updated without reloading"
    );
    agent.screenshot("console-inbox").await;

    // The agent takes it and replies.
    agent.eval(&format!("{new_row}.querySelector('a').click()")).await;
    agent
        .wait_for(
            "location.pathname.startsWith('/conversations/') && document.readyState === 'complete'",
            "conversation page",
        )
        .await;
    agent
        .wait_for(
            &format!("document.querySelector('#transcript').textContent.includes({question:?})"),
            "question in transcript",
        )
        .await;
    agent.eval("document.querySelector('button[data-action=assign]').click()").await;
    agent
        .wait_for(
            "document.body.dataset.state === 'human' && document.readyState === 'complete'",
            "assigned",
        )
        .await;
    agent
        .wait_for(
            "document.querySelector('#live-status')?.dataset.state === 'live'",
            "console socket on conversation",
        )
        .await;
    let answer = "您好，订单 20241123001 已发货，预计明天送达。";
    agent
        .eval(&format!("document.querySelector('#reply-body').value = {answer:?}; document.querySelector('#send-button').click(); true"))
        .await;
    agent
        .wait_for(
            &format!("document.querySelector('#transcript').textContent.includes({answer:?})"),
            "reply in transcript",
        )
        .await;
    agent.screenshot("console-conversation").await;

    // The customer sees the reply live, with the agent's name.
    customer.wait_for(&widget_messages("agent", answer), "agent reply in widget").await;
    customer
        .wait_for(
            &format!(
                "{WIDGET}.querySelector('[data-testid=status]').textContent.includes('Emily Chen')"
            ),
            "agent joined status",
        )
        .await;
    customer.screenshot("widget-phone").await;

    // After a reload the same conversation is there, whole.
    customer.call("Page.reload", json!({})).await;
    customer.wait_for("document.readyState === 'complete'", "reload").await;
    customer
        .wait_for(
            &format!("{WIDGET}?.querySelector('[data-testid=launcher]')"),
            "widget after reload",
        )
        .await;
    customer
        .eval(&format!("const panel = {WIDGET}.querySelector('[data-testid=panel]'); if (panel.hidden) {WIDGET}.querySelector('[data-testid=launcher]').click(); true"))
        .await;
    customer.wait_for(&widget_messages("agent", answer), "history after reload").await;
    customer
        .wait_for(&widget_messages("customer", question), "customer message after reload")
        .await;
    let count = customer
        .eval(&format!(
            "{WIDGET}.querySelectorAll('[data-testid=message][data-author-kind=customer]').length"
        ))
        .await;
    // The question, the ambiguous question, the tapped quick reply and the unknown question.
    assert_eq!(count, json!(4), "each of the customer's four messages is shown once");
}
