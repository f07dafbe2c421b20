//! `TestApp`: the real application over a fresh database, driven without a socket (`oneshot`)
//! or served on a loopback port for WebSocket and browser tests; and [`Fixture`], the small
//! workspace a test starts from; and [`browser`], the headless Chromium the end-to-end tests
//! drive. Compiled only with the `testing` feature.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tandem_bot::KnowledgeResponder;
use tandem_domain::{
    AgentRouting, ArticleStatus, AuthorKind, Channel, ConversationId, CustomerId, Inbox, InboxId,
    Locale, NewArticle, Presence, QueueRouting, Role, Transition, User, WorkspaceId,
};
use tandem_store::{
    MessageTarget, NewCustomer, NewInbox, NewMessage, NewUser, SqliteConfig, SqliteStore, Store,
    VerifiedCustomer,
};
use tower::ServiceExt;

use crate::ServerConfig;
use crate::auth::{hash_password, user_hash};

pub mod browser;

pub const ADMIN: (&str, &str) = ("fang@galaxy.example", "tandem-admin");
pub const SUPERVISOR: (&str, &str) = ("qiang@galaxy.example", "tandem-super");
pub const AGENT: (&str, &str) = ("emily@galaxy.example", "tandem-agent");

/// The signed-in customer of [`Fixture::conversations`]: the shop's user id and name.
pub const SIGNED_IN_USER: (&str, &str) = ("u-1001", "张伟");

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub workspace: WorkspaceId,
    /// The public key of the workspace's web inbox.
    pub inbox_key: String,
    /// Where the SMTP listener listens, when the configuration turned it on
    /// (`email.smtp_listen`, e.g. `127.0.0.1:0`).
    pub smtp: Option<std::net::SocketAddr>,
    /// A listener bound before the app was built (for apps that must know their own address);
    /// `spawn` serves on it.
    listener: Mutex<Option<std::net::TcpListener>>,
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

/// What a test's workspace holds. Every fixture has a workspace with a web inbox (the bot is
/// 小河), the three accounts [`ADMIN`], [`SUPERVISOR`] and [`AGENT`] (skills and presence set:
/// the supervisor handles disputes, the admin is offline) and three queues (pre-sales,
/// after-sales, disputes); articles and conversations only when asked for.
#[derive(Debug, Default)]
pub struct Fixture {
    config: ServerConfig,
    articles: Vec<NewArticle>,
    actions: Vec<tandem_domain::Action>,
    conversations: bool,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::default()
    }

    pub fn config(mut self, config: ServerConfig) -> Fixture {
        self.config = config;
        self
    }

    /// Publishes these articles.
    pub fn articles(mut self, articles: Vec<NewArticle>) -> Fixture {
        self.articles.extend(articles);
        self
    }

    /// Saves the actions of this TOML file (`[[action]]` tables).
    pub fn actions(mut self, toml: &str) -> Fixture {
        self.actions.extend(tandem_bot::actions::parse(toml).expect("valid actions"));
        self
    }

    /// Publishes [`sample_articles`].
    pub fn sample_articles(self) -> Fixture {
        self.articles(sample_articles())
    }

    /// Adds three customers and their conversations: the signed-in [`SIGNED_IN_USER`] (tier
    /// gold, value 3200) with a return a person resolved (with an internal note), Sarah Miller
    /// waiting in the queue, and 刘洋 talking to the bot.
    pub fn conversations(mut self) -> Fixture {
        self.conversations = true;
        self
    }

    pub async fn build(self) -> TestApp {
        let directory = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("t.db"))).unwrap());
        let (workspace, inbox, agents) = seed_workspace(&store).await;
        if !self.articles.is_empty() {
            store
                .save_articles(
                    workspace,
                    self.articles,
                    ArticleStatus::Published,
                    Some(agents[0].id),
                )
                .await
                .unwrap();
        }
        if !self.actions.is_empty() {
            store.save_actions(workspace, self.actions).await.unwrap();
        }
        if self.conversations {
            seed_conversations(&store, &inbox, &agents).await;
        }
        let responder = KnowledgeResponder::start(Arc::clone(&store), Default::default());
        let state = crate::build(Arc::clone(&store), responder, self.config).await.unwrap();
        let smtp = crate::channels::email::start(state.clone()).await.unwrap();
        let mut app = TestApp::from_parts(crate::router(state), store, directory, None).await;
        app.smtp = smtp;
        app
    }
}

/// A few articles in both languages: returns (`returns`, `returns-en`), shipping (`shipping`,
/// `shipping-en`) and opening hours (`service-hours`).
pub fn sample_articles() -> Vec<NewArticle> {
    let article = NewArticle::new;
    vec![
        article(
            "returns",
            Locale::Zh,
            "退货政策",
            &["怎么退货", "可以退货吗", "七天无理由退货", "退货要运费吗", "退货流程是什么"],
            "签收后 7 天内可申请无理由退货（商品及包装保持完好）。退款在我们收到退货后 1–3 个工作日原路返回。",
            &["售后", "退货"],
        ),
        article(
            "returns-en",
            Locale::En,
            "Return policy",
            &["how do i return an item", "can i return my order", "what is your return policy"],
            "You can return any item within 7 days of delivery, unused and in its original packaging. Refunds go back to your original payment within 1–3 working days after we receive the return.",
            &["after-sales", "returns"],
        ),
        article(
            "shipping",
            Locale::Zh,
            "发货时间",
            &["什么时候发货", "多久能发货", "下单后几天发货", "怎么还没发货"],
            "现货商品在付款后 48 小时内发货，江浙沪一般次日达，其他地区 2–4 天送达。",
            &["物流"],
        ),
        article(
            "shipping-en",
            Locale::En,
            "Shipping times",
            &[
                "how long does shipping take",
                "when will my order ship",
                "how long until my order arrives",
            ],
            "In-stock items ship within 48 hours of payment. Delivery inside mainland China takes 1–4 days.",
            &["shipping"],
        ),
        article(
            "service-hours",
            Locale::En,
            "Customer service hours",
            &["when are you open", "what are your opening hours", "客服几点上班"],
            "Our assistant answers around the clock. People are available 09:00–22:00 (Beijing time) every day.",
            &["contact"],
        ),
    ]
}

/// The workspace, its web inbox and the three accounts (admin, supervisor, agent).
async fn seed_workspace(store: &Arc<dyn Store>) -> (WorkspaceId, Inbox, Vec<User>) {
    let workspace = store.create_workspace("星河商城 Galaxy Shop").await.unwrap().id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "Web".into(),
            channel: Channel::Web,
            public_key: format!("pk_{}", crate::auth::random_token()),
            bot_name: "小河".into(),
        })
        .await
        .unwrap();
    let queue = |topics: &[&str], skills: &[(&str, u8)]| QueueRouting {
        topics: topics.iter().map(|topic| (*topic).to_owned()).collect(),
        skills: skills.iter().map(|(skill, level)| ((*skill).to_owned(), *level)).collect(),
        ..QueueRouting::default()
    };
    for (name, topics, skills) in [
        ("售前咨询 Pre-sales", &["活动", "会员", "contact"][..], &[][..]),
        ("售后服务 After-sales", &["售后", "退货", "物流", "returns", "shipping"][..], &[][..]),
        (
            "投诉与纠纷 Disputes",
            &["complaint", "legal_threat", "anger"][..],
            &[("disputes", 3)][..],
        ),
    ] {
        store.create_queue(workspace, name, "", queue(topics, skills)).await.unwrap();
    }
    let accounts = [
        (ADMIN, "王芳", Role::Admin, Locale::Zh, &[("lang:zh", 5), ("lang:en", 4)][..]),
        (
            SUPERVISOR,
            "李强",
            Role::Supervisor,
            Locale::Zh,
            &[("disputes", 4), ("lang:zh", 5), ("lang:en", 3)][..],
        ),
        (AGENT, "Emily Chen", Role::Agent, Locale::En, &[("lang:en", 5), ("lang:zh", 2)][..]),
    ];
    let mut agents = Vec::new();
    for ((email, password), name, role, locale, skills) in accounts {
        let user = store
            .create_user(NewUser {
                workspace_id: workspace,
                email: email.into(),
                display_name: name.into(),
                role,
                locale,
                password_hash: hash_password(password).unwrap(),
            })
            .await
            .unwrap();
        let mut routing = AgentRouting::new(user.id);
        routing.skills =
            skills.iter().map(|(skill, level)| ((*skill).to_owned(), *level)).collect();
        routing.presence = if role == Role::Admin { Presence::Offline } else { Presence::Online };
        store.save_agent_routing(routing).await.unwrap();
        agents.push(user);
    }
    (workspace, inbox, agents)
}

async fn seed_conversations(store: &Arc<dyn Store>, inbox: &Inbox, agents: &[User]) {
    let workspace = inbox.workspace_id;
    let customer = |name: &str, email: &str, locale, attributes: &[(&str, &str)]| NewCustomer {
        workspace_id: workspace,
        name: name.into(),
        email: Some(email.into()),
        locale: Some(locale),
        attributes: attributes
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    };
    let zhang = store
        .verified_customer(VerifiedCustomer {
            workspace_id: workspace,
            external_id: SIGNED_IN_USER.0.into(),
            name: Some(SIGNED_IN_USER.1.into()),
            email: Some("zhangwei@example.cn".into()),
            locale: Some(Locale::Zh),
            attributes: [("tier", "gold"), ("value", "3200")]
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .into(),
        })
        .await
        .unwrap();
    let sarah = store
        .create_customer(customer(
            "Sarah Miller",
            "sarah.miller@example.com",
            Locale::En,
            &[("tier", "standard")],
        ))
        .await
        .unwrap();
    let liu = store
        .create_customer(customer("刘洋", "liu@example.cn", Locale::Zh, &[("tier", "new")]))
        .await
        .unwrap();
    let (fang, emily) = (&agents[0], &agents[2]);
    let zhang_conversation = write(
        store,
        inbox,
        zhang.id,
        fang,
        &[
            (
                AuthorKind::Customer,
                "你好，我上周买的蓝牙耳机右耳没声音，可以退货吗？订单号 20241123001",
            ),
            (AuthorKind::Customer, "人工"),
        ],
    )
    .await;
    for (transition, note) in [
        (Transition::Escalate, "好的，正在为您转接人工客服，请稍候。"),
        (Transition::Assign { agent: fang.id }, "客服 王芳 已加入对话"),
    ] {
        store.transition(zhang_conversation, transition, Some(note.into())).await.unwrap();
    }
    write_to(
        store,
        zhang_conversation,
        fang,
        &[
            (AuthorKind::Agent, "张先生您好，耳机在 7 天无理由退货期内，我已为您创建退货单。"),
            (AuthorKind::Note, "VIP 客户，已申请免运费。"),
            (AuthorKind::Customer, "好的，谢谢！"),
        ],
    )
    .await;
    store
        .transition(zhang_conversation, Transition::Resolve, Some("对话已结束。".into()))
        .await
        .unwrap();
    let sarah_conversation = write(
        store,
        inbox,
        sarah.id,
        emily,
        &[(
            AuthorKind::Customer,
            "Hi, I was charged twice for order 20241123002. Can someone check?",
        )],
    )
    .await;
    store
        .transition(
            sarah_conversation,
            Transition::Escalate,
            Some("Connecting you to a person.".into()),
        )
        .await
        .unwrap();
    write(store, inbox, liu.id, fang, &[(AuthorKind::Customer, "双十一活动什么时候开始？")]).await;
}

/// Starts the customer's conversation with `turns`; returns its id.
async fn write(
    store: &Arc<dyn Store>,
    inbox: &Inbox,
    customer: CustomerId,
    agent: &User,
    turns: &[(AuthorKind, &str)],
) -> ConversationId {
    let target = MessageTarget::CustomerLatest { inbox_id: inbox.id, customer_id: customer };
    let first = store.append_message(message(target, turns[0], agent)).await.unwrap();
    write_to(store, first.conversation.id, agent, &turns[1..]).await;
    first.conversation.id
}

async fn write_to(
    store: &Arc<dyn Store>,
    conversation: ConversationId,
    agent: &User,
    turns: &[(AuthorKind, &str)],
) {
    for turn in turns {
        let target = MessageTarget::Conversation(conversation);
        store.append_message(message(target, *turn, agent)).await.unwrap();
    }
}

fn message(
    target: MessageTarget,
    (author_kind, body): (AuthorKind, &str),
    agent: &User,
) -> NewMessage {
    let by_agent = matches!(author_kind, AuthorKind::Agent | AuthorKind::Note);
    NewMessage {
        target,
        author_kind,
        author_id: by_agent.then_some(agent.id.0),
        author_name: by_agent.then(|| agent.display_name.clone()),
        body: body.into(),
        client_msg_id: None,
        reopen_if_resolved: false,
        only_while_bot_owns: false,
        meta: None,
        decision: None,
        sentiment: None,
    }
}

impl TestApp {
    /// A fixture to build on: `TestApp::fixture().sample_articles().build().await`.
    pub fn fixture() -> Fixture {
        Fixture::new()
    }

    /// The base [`Fixture`] with the default configuration.
    pub async fn new() -> TestApp {
        Fixture::new().build().await
    }

    pub async fn with_config(config: ServerConfig) -> TestApp {
        Fixture::new().config(config).build().await
    }

    /// An app built elsewhere (such as the demo's) over `store`, which lives in `directory`;
    /// `listener`, when given, is where [`spawn`](Self::spawn) serves it.
    pub async fn from_parts(
        router: Router,
        store: Arc<dyn Store>,
        directory: tempfile::TempDir,
        listener: Option<std::net::TcpListener>,
    ) -> TestApp {
        let workspace = store.workspaces().await.unwrap()[0].id;
        let inbox_key = store
            .inboxes(workspace)
            .await
            .unwrap()
            .into_iter()
            .find(|inbox| inbox.channel == Channel::Web)
            .expect("a web inbox")
            .public_key;
        TestApp {
            router,
            store,
            workspace,
            inbox_key,
            smtp: None,
            listener: Mutex::new(listener),
            _directory: directory,
        }
    }

    /// Serves the app on a loopback port; returns `host:port`.
    pub async fn spawn(&self) -> String {
        let bound = self.listener.lock().unwrap().take();
        let listener = match bound {
            Some(listener) => {
                listener.set_nonblocking(true).unwrap();
                tokio::net::TcpListener::from_std(listener).unwrap()
            }
            None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let address = listener.local_addr().unwrap().to_string();
        let router = self.router.clone();
        tokio::spawn(async move {
            let _ = crate::serve(listener, router).await;
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

    /// Opens a widget session with `fields` added to the request.
    pub async fn widget_session(&self, fields: Value) -> Response {
        let mut request = json!({ "inbox_key": self.inbox_key, "locale": "zh" });
        for (key, value) in fields.as_object().unwrap() {
            request[key] = value.clone();
        }
        self.post_json("/api/v1/widget/session", &[], request).await
    }

    /// Opens a widget session for a new visitor; returns its token.
    pub async fn widget_token(&self) -> String {
        let response = self.widget_session(json!({})).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()["token"].as_str().unwrap().to_owned()
    }

    /// Opens a widget session as the business's signed-in user `user_id` (a valid hash).
    pub async fn signed_in_session(&self, user_id: &str) -> Value {
        let hash = user_hash(&self.identity_secret().await, user_id);
        let response = self.widget_session(json!({ "user_id": user_id, "user_hash": hash })).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    /// Sends a widget message; returns the response.
    pub async fn widget_send(&self, token: &str, client_msg_id: &str, body: &str) -> Response {
        let bearer = format!("Bearer {token}");
        self.post_json(
            "/api/v1/widget/messages",
            &[("authorization", &bearer)],
            json!({ "client_msg_id": client_msg_id, "body": body }),
        )
        .await
    }

    /// The widget's view of its customer's conversation.
    pub async fn widget_messages(&self, token: &str) -> Value {
        let bearer = format!("Bearer {token}");
        let response = self.get("/api/v1/widget/messages", &[("authorization", &bearer)]).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        response.json()
    }

    /// Waits for a bot reply in the widget's conversation that contains `text`.
    pub async fn bot_reply_containing(&self, token: &str, text: &str) -> String {
        for _ in 0..300 {
            let messages = self.widget_messages(token).await;
            let found = messages["messages"].as_array().unwrap().iter().rev().find_map(|m| {
                let body = m["body"].as_str().unwrap();
                (m["author_kind"] == "bot" && body.contains(text)).then(|| body.to_owned())
            });
            if let Some(body) = found {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no bot reply containing {text:?}: {}", self.widget_messages(token).await);
    }

    pub async fn inbox_id(&self) -> InboxId {
        self.store.inbox_by_public_key(&self.inbox_key).await.unwrap().unwrap().id
    }

    /// The web inbox's identity secret.
    pub async fn identity_secret(&self) -> String {
        self.store.inbox_identity_secret(self.inbox_id().await).await.unwrap().unwrap()
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
