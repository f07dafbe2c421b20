//! Tandem's server: the HTTP API, the WebSockets, the agent console and the chat widget.
//!
//! This crate translates between HTTP and the layers below; it holds no business rules. The
//! conversation flow lives in `tandem-flow`'s relay, state rules in `tandem-domain`, persistence
//! in `tandem-store`. [`build`] makes the whole application from a store and a config so tests
//! can drive it without a socket.

mod api;
pub mod assets;
mod audit;
pub mod auth;
pub mod channels;
mod console;
pub mod error;
mod hub;
mod i18n;
pub mod insight_alerts;
pub mod metrics;
pub mod privacy;
mod rate_limit;
pub mod security;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhooks;
mod ws;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use serde::{Deserialize, Serialize};
use tandem_bot::KnowledgeResponder;
use tandem_flow::{Relay, Routing};
use tandem_store::Store;

pub use hub::Hub;
pub use ws::{WidgetRequest, parse_widget_request};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `[server]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The address and port to listen on.
    pub listen: SocketAddr,
    /// The URL people reach Tandem at, without a trailing slash; used in printed links and
    /// the widget snippet.
    pub public_url: String,
    /// Mark the session cookie `Secure`. Unset: on exactly when `public_url` is https.
    pub secure_cookies: Option<bool>,
    /// How long an agent stays signed in, in hours.
    pub session_hours: u64,
    /// Messages a widget customer may send at once before being slowed down.
    pub widget_burst: u32,
    /// Messages a widget customer may send per minute, sustained.
    pub widget_per_minute: u32,
    /// New widget sessions (customers) one IP address may open per minute.
    pub widget_sessions_per_minute: u32,
    /// Sign-in attempts one IP address may make per minute.
    pub login_per_minute: u32,
    /// WebSocket read and write buffer size per connection, in bytes. Small buffers keep idle
    /// connections cheap; messages larger than this are still accepted.
    pub websocket_buffer_bytes: usize,
    /// Reverse proxies (addresses or networks, `10.0.0.0/8`) whose `client_ip_header` names the
    /// client for rate limits; empty (the default): the socket's peer is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header a trusted proxy names the client in.
    pub client_ip_header: String,
    /// Outbound webhooks: concurrency, timeout, retry schedule, retention.
    pub webhooks: webhooks::WebhookConfig,
    /// E-mail inboxes' SMTP listener.
    pub email: channels::email::EmailConfig,
    /// Minutes after the bot's answer with no word from the customer before the conversation
    /// is resolved as the bot's (0: never).
    pub bot_idle_resolve_minutes: u32,
    /// Live spike detection: how often it runs.
    pub insight: insight_alerts::InsightConfig,
    /// Networks that business actions, webhooks and the model provider may reach although they
    /// are link-local or cloud metadata addresses (refused by default, see
    /// `tandem_llm::outbound`), e.g. `["169.254.10.0/24"]`.
    pub outbound_allow: Vec<ipnet::IpNet>,
    /// The bearer token `/metrics` asks for. Unset (the default): `/metrics` answers only
    /// requests from the loopback address that no proxy forwarded.
    pub metrics_token: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            secure_cookies: None,
            session_hours: 24 * 7,
            widget_burst: 20,
            widget_per_minute: 60,
            widget_sessions_per_minute: 30,
            login_per_minute: 10,
            websocket_buffer_bytes: 512,
            trusted_proxies: Vec::new(),
            client_ip_header: "x-forwarded-for".into(),
            webhooks: webhooks::WebhookConfig::default(),
            email: channels::email::EmailConfig::default(),
            bot_idle_resolve_minutes: 30,
            insight: insight_alerts::InsightConfig::default(),
            outbound_allow: Vec::new(),
            metrics_token: None,
        }
    }
}

impl ServerConfig {
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| self.public_url.starts_with("https://"))
    }
}

/// Per-key rate limits of the public endpoints.
#[derive(Debug)]
struct Limits {
    widget_messages: rate_limit::RateLimiter<tandem_domain::CustomerId>,
    widget_sessions: rate_limit::RateLimiter<IpAddr>,
    logins: rate_limit::RateLimiter<IpAddr>,
}

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub relay: Relay,
    /// The answer engine, also behind the relay; the console asks it to explain decisions.
    pub knowledge: Arc<KnowledgeResponder>,
    /// Who gets which waiting conversation; follows the store.
    pub routing: Arc<Routing>,
    /// The reports' working set of conversation facts; follows the store.
    pub insight: tandem_flow::Insight,
    pub config: Arc<ServerConfig>,
    /// What `/metrics` reports; follows the store.
    pub metrics: Arc<metrics::Metrics>,
    hub: Arc<Hub>,
    /// Signs widget tokens. Generated once per installation and kept in the store.
    secret: Arc<[u8]>,
    limits: Arc<Limits>,
    /// The channels' API clients and callback state on this node.
    channels: Arc<channels::Channels>,
    /// Where the SMTP listener listens once it has started (the port it bound, when the
    /// configuration said `:0`).
    smtp: Arc<std::sync::OnceLock<SocketAddr>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl AppState {
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The SMTP listener's address: the one it bound once started, else the configured one.
    pub fn smtp_address(&self) -> Option<SocketAddr> {
        self.smtp.get().copied().or(self.config.email.smtp_listen)
    }
}

/// Builds the application state: loads (or creates) the signing secret and starts the hub.
pub async fn build(
    store: Arc<dyn Store>,
    knowledge: Arc<KnowledgeResponder>,
    config: ServerConfig,
) -> Result<AppState, tandem_store::StoreError> {
    let secret = store.setting_or_insert("widget_token_secret", &auth::random_token()).await?;
    let relay =
        Relay::new(Arc::clone(&store), Arc::clone(&knowledge) as Arc<dyn tandem_flow::Responder>);
    let hub = Hub::start(&store, relay.drafts());
    let routing = Routing::start(Arc::clone(&store), Arc::new(tandem_store::now_millis));
    let metrics = Arc::new(metrics::Metrics::new(Arc::clone(&store)));
    metrics::start(Arc::clone(&metrics), Arc::clone(&store));
    let http = webhooks::client(&config.webhooks);
    let channels =
        Arc::new(channels::Channels::new(Arc::clone(&store), http.clone().unwrap_or_default()));
    if let Some(http) = http {
        let webhooks = config.webhooks.clone();
        webhooks::start(
            Arc::clone(&store),
            webhooks,
            Arc::clone(&metrics),
            http,
            Arc::clone(&channels),
        );
    }
    insight_alerts::start(Arc::clone(&store), config.insight.clone());
    privacy::start(Arc::clone(&store));
    let idle_ms = i64::from(config.bot_idle_resolve_minutes) * 60_000;
    tandem_flow::idle::start_idle_resolver(
        Arc::clone(&store),
        idle_ms,
        Arc::new(tandem_store::now_millis),
    );
    let insight = tandem_flow::Insight::new(Arc::clone(&store));
    let follower = insight.clone();
    tandem_flow::supervise("insight: facts", move |_| follower.clone().follow());
    let limits = Limits {
        widget_messages: rate_limit::RateLimiter::new(
            "widget_messages",
            config.widget_burst,
            config.widget_per_minute,
        ),
        widget_sessions: rate_limit::RateLimiter::new(
            "widget_sessions",
            config.widget_sessions_per_minute,
            config.widget_sessions_per_minute,
        ),
        logins: rate_limit::RateLimiter::new(
            "logins",
            config.login_per_minute,
            config.login_per_minute,
        ),
    };
    Ok(AppState {
        relay,
        knowledge,
        routing,
        insight,
        store,
        config: Arc::new(config),
        metrics,
        hub,
        secret: secret.into_bytes().into(),
        limits: Arc::new(limits),
        smtp: Arc::default(),
        channels,
    })
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, _) = api::routes().split_for_parts();
    Router::new()
        .merge(api)
        .merge(console::routes())
        .merge(assets::routes())
        .merge(channels::callback_routes())
        // Around every route (not the fallbacks): people's and tokens' changes in the audit log.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), audit::record))
        // Operations (`/metrics`, `/livez`, `/readyz`): read-only, outside the audit log.
        .merge(metrics::routes())
        .fallback(console::not_found)
        .method_not_allowed_fallback(console::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(state)
}

/// Serves `router` on `listener` until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
