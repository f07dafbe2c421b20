//! A headless Chromium driven over the DevTools protocol, for the end-to-end tests of this crate
//! and the demo's: [`chromium_or_skip`] finds the browser, [`Browser::launch`] starts one and
//! [`Browser::new_page`] opens a tab in its own browser context, which a test drives with
//! [`Page`]'s few calls (evaluate, navigate, wait, click, sign in, screenshot).
//!
//! The DevTools client is a few calls over the WebSocket crate the tests already use: the
//! protocol crates (chromiumoxide, headless_chrome) generate bindings for the whole protocol
//! and would add minutes to every build on two cores for the five methods needed here.
//!
//! Without Chromium a test says so loudly and passes, unless `TANDEM_REQUIRE_BROWSER` is set
//! (as `.ci/run` does), in which case a missing browser fails it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as Frame;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The Chromium binary: `$CHROMIUM`, or the first of the usual places that exists.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// The Chromium binary, or `None` (after saying so) where the test may be skipped.
pub fn chromium_or_skip(test: &str) -> Option<PathBuf> {
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

/// One headless Chromium, driven over its DevTools socket; killed when dropped.
pub struct Browser {
    socket: Mutex<Socket>,
    next_id: AtomicU64,
    process: std::sync::Mutex<Child>,
    /// Where [`Page::screenshot`] writes its PNGs.
    screenshots: PathBuf,
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
    /// Starts `binary` headless with a fresh profile; its pages' screenshots go to
    /// `screenshots` (created when the first one is taken).
    pub async fn launch(binary: &Path, screenshots: impl Into<PathBuf>) -> Browser {
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
            screenshots: screenshots.into(),
            _profile: profile,
        }
    }

    /// Sends one DevTools command and waits for its result, skipping events.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self.try_call(session, method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// Like `call`, but a protocol error (the page navigated mid-call, say) is returned.
    pub async fn try_call(
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
    pub async fn new_page(&self) -> Page<'_> {
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

/// One tab of a [`Browser`].
pub struct Page<'a> {
    browser: &'a Browser,
    session: String,
}

impl Page<'_> {
    /// A DevTools command to this tab.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params).await
    }

    /// The value of a JavaScript expression (awaited when it is a promise); panics if it throws.
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(result.get("exceptionDetails").is_none(), "{expression} threw: {result}");
        result["result"]["value"].clone()
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            "page load",
        )
        .await;
    }

    /// Signs in through the console's login form and waits for the inbox.
    pub async fn sign_in(&self, base: &str, (email, password): (&str, &str)) {
        self.call("Page.enable", json!({})).await;
        self.goto(&format!("{base}/login")).await;
        self.eval(&format!(
            "document.querySelector('input[name=email]').value = {email:?}; document.querySelector('input[name=password]').value = {password:?}; document.querySelector('form').submit(); true"
        ))
        .await;
        self.wait_for(
            "location.pathname === '/inbox' && document.readyState === 'complete'",
            "sign-in",
        )
        .await;
    }

    /// Polls `condition` until it is true, for up to 15 seconds.
    pub async fn wait_for(&self, condition: &str, what: &str) {
        self.wait_for_within(Duration::from_secs(15), condition, what).await;
    }

    /// Polls `condition` until it is true, for up to `limit`; on timeout, takes a screenshot
    /// named `failed-` and `what` and panics.
    pub async fn wait_for_within(&self, limit: Duration, condition: &str, what: &str) {
        let deadline = Instant::now() + limit;
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

    /// A real mouse click in the middle of the element the JavaScript `selector` finds.
    pub async fn click(&self, selector: &str) {
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

    /// The window, as `name`.png in the browser's screenshots folder.
    pub async fn screenshot(&self, name: &str) {
        self.capture(name, json!({ "format": "png" })).await;
    }

    /// The whole page, also what lies below the window.
    pub async fn screenshot_full_page(&self, name: &str) {
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let clip =
            json!({ "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 });
        self.capture(name, json!({ "format": "png", "captureBeyondViewport": true, "clip": clip }))
            .await;
    }

    async fn capture(&self, name: &str, params: Value) {
        let result = self.call("Page.captureScreenshot", params).await;
        if let Some(data) = result["data"].as_str() {
            let directory = &self.browser.screenshots;
            std::fs::create_dir_all(directory).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
            std::fs::write(directory.join(format!("{name}.png")), bytes).unwrap();
        }
    }
}
