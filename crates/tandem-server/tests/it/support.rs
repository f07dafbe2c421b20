//! `TestApp`: the real application over a fresh database, driven without a socket
//! (`oneshot`) or served on a loopback port for WebSocket and browser tests.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tandem_bot::KnowledgeResponder;
use tandem_server::ServerConfig;
use tandem_store::{SqliteConfig, SqliteStore, Store};
use tower::ServiceExt;

pub const ADMIN: (&str, &str) = ("fang@galaxy.example", "tandem-admin");
pub const SUPERVISOR: (&str, &str) = ("qiang@galaxy.example", "tandem-super");
pub const AGENT: (&str, &str) = ("emily@galaxy.example", "tandem-agent");

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub inbox_key: String,
    /// With the demo shop (`with_shop`): its base URL, set once `spawn` knows the address.
    shop_url: Option<Arc<OnceLock<String>>>,
    _directory: tempfile::TempDir,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// An agent's browser session: its cookie and CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_config(ServerConfig::default()).await
    }

    /// The demo workspace (agents, inbox, customers, conversations) under `config`.
    pub async fn with_config(config: ServerConfig) -> TestApp {
        TestApp::assemble(config, false).await
    }

    /// The demo workspace with the demo shop and the echo model served beside it, as `tandem
    /// demo` runs it: the shop's API under `demo_shop::BASE_PATH` (default key), the echo model
    /// under `demo_model::BASE_PATH`, and the seeded actions' secrets
    /// `DEMO_SHOP_URL` / `DEMO_SHOP_KEY` pointing at it once `spawn` has bound a port.
    pub async fn with_shop() -> TestApp {
        TestApp::assemble(ServerConfig::default(), true).await
    }

    async fn assemble(config: ServerConfig, shop: bool) -> TestApp {
        let directory = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("t.db"))).unwrap());
        tandem_server::demo::seed(&store).await.unwrap();
        let workspace = store.workspaces().await.unwrap()[0].id;
        let inbox_key = store.inboxes(workspace).await.unwrap()[0].public_key.clone();
        let shop_url = shop.then(|| Arc::new(OnceLock::<String>::new()));
        let responder = match &shop_url {
            Some(url) => {
                let url = Arc::clone(url);
                let key = tandem_server::demo_shop::DEFAULT_KEY;
                let secrets: tandem_bot::actions::Secrets = Arc::new(move |name| match name {
                    "DEMO_SHOP_URL" => url.get().cloned(),
                    "DEMO_SHOP_KEY" => Some(key.to_owned()),
                    _ => None,
                });
                KnowledgeResponder::start_with(
                    Arc::clone(&store),
                    Default::default(),
                    Arc::new(tandem_store::now_millis),
                    secrets,
                )
            }
            None => KnowledgeResponder::start(Arc::clone(&store), Default::default()),
        };
        let state = tandem_server::build(Arc::clone(&store), responder, config).await.unwrap();
        let mut router = tandem_server::router(state);
        if shop {
            let shop =
                tandem_server::demo_shop::DemoShop::new(tandem_server::demo_shop::DEFAULT_KEY);
            router = router.merge(shop.router()).merge(tandem_server::demo_model::router());
        }
        TestApp { router, store, inbox_key, shop_url, _directory: directory }
    }

    /// Serves the app on a loopback port; returns `host:port`.
    pub async fn spawn(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        if let Some(url) = &self.shop_url {
            let base = format!("http://{address}{}", tandem_server::demo_shop::BASE_PATH);
            assert_eq!(url.get_or_init(|| base.clone()), &base, "the shop is served on one port");
        }
        let router = self.router.clone();
        tokio::spawn(async move {
            let _ = tandem_server::serve(listener, router).await;
        });
        address
    }

    pub async fn send(&self, request: Request<Body>) -> Response {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Response { status, headers, body }
    }

    pub async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> Response {
        self.send(build(Method::GET, uri, headers, Body::empty())).await
    }

    pub async fn post_json(&self, uri: &str, headers: &[(&str, &str)], body: Value) -> Response {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send(build(Method::POST, uri, &all, Body::from(body.to_string()))).await
    }

    pub async fn post_form(
        &self,
        uri: &str,
        headers: &[(&str, &str)],
        fields: &[(&str, &str)],
    ) -> Response {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.send(build(Method::POST, uri, &all, Body::from(body))).await
    }

    /// Signs in through the real login form.
    pub async fn login(&self, (email, password): (&str, &str)) -> Session {
        let page = self.get("/login", &[]).await;
        let login_cookie = set_cookie(&page.headers, "tandem_login").expect("login cookie");
        let csrf = attribute(&page.text(), "name=\"csrf\" value=\"");
        let response = self
            .post_form(
                "/login",
                &[("cookie", &format!("tandem_login={login_cookie}"))],
                &[("email", email), ("password", password), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.text());
        let cookie = format!(
            "tandem_session={}",
            set_cookie(&response.headers, "tandem_session").expect("session cookie")
        );
        let inbox = self.get("/inbox", &[("cookie", &cookie)]).await;
        let csrf = attribute(&inbox.text(), "data-csrf=\"");
        Session { cookie, csrf }
    }

    /// Opens a widget session for a new visitor; returns its token.
    pub async fn widget_token(&self) -> String {
        let response = self
            .post_json(
                "/api/v1/widget/session",
                &[],
                serde_json::json!({ "inbox_key": self.inbox_key, "locale": "zh" }),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()["token"].as_str().unwrap().to_owned()
    }

    /// Sends a widget message; returns the response.
    pub async fn widget_send(&self, token: &str, client_msg_id: &str, body: &str) -> Response {
        let bearer = format!("Bearer {token}");
        self.post_json(
            "/api/v1/widget/messages",
            &[("authorization", &bearer)],
            serde_json::json!({ "client_msg_id": client_msg_id, "body": body }),
        )
        .await
    }
}

pub fn build(method: Method, uri: &str, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body).unwrap()
}

/// The value of cookie `name` in the response's Set-Cookie headers.
pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next()?.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The text after `prefix` up to the next double quote.
pub fn attribute(html: &str, prefix: &str) -> String {
    let start = html.find(prefix).unwrap_or_else(|| panic!("{prefix} not in page")) + prefix.len();
    html[start..].split('"').next().unwrap().to_owned()
}
