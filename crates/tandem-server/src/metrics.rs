//! Operations: `/metrics` in the Prometheus (OpenMetrics) text format, `/livez` and `/readyz`.
//!
//! The library is `prometheus-client`, the Prometheus project's own Rust client: it writes
//! OpenMetrics text, keeps each registry an ordinary value (so every [`AppState`], and every
//! test's app, has its own counters: no process-global registry as `metrics` or `prometheus`
//! keep) and brings four small crates with it.
//!
//! Where the figures come from:
//! - messages by author, bot turns by outcome, model calls by outcome (the bot turns' decision
//!   records) and hand-offs by reason (the hand-off packet): a follower of the store's change
//!   feed, so they count what was committed, whoever wrote it, and nothing that rolled back;
//! - webhook deliveries by outcome: the webhook worker, after each attempt;
//! - open sockets: a guard held by each widget and console socket;
//! - store write latency: the SQLite engine's own histogram (from the caller's hand-off to the
//!   writer until its group committed), read at scrape time;
//! - queue lengths, the longest wait and the model breakers: read at scrape time from the
//!   routing service and the bot's workspace models, so they are never stale.
//!
//! Who may read `/metrics`: with `[server] metrics_token` set, a request with
//! `Authorization: Bearer <token>`; without it, only a request from the loopback address that
//! no proxy forwarded (a reverse proxy on the same host would otherwise make every request
//! look local). `/livez` and `/readyz` say nothing secret and are open, like `/healthz`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use tandem_domain::{AuthorKind, ConversationId, ConversationState, Millis};
use tandem_store::{Change, Store, StoreError, WRITE_BUCKETS_SECONDS, WriteSnapshot};
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::error::ApiError;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Hand-offs remembered (by conversation) so that one packet is counted once.
const HANDOFFS_REMEMBERED: usize = 10_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthorLabels {
    author: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SocketLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    workspace: String,
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    workspace: String,
    state: String,
}

/// Which socket a [`SocketGuard`] counts.
#[derive(Debug, Clone, Copy)]
pub enum SocketKind {
    Widget,
    Console,
}

impl SocketKind {
    fn as_str(self) -> &'static str {
        match self {
            SocketKind::Widget => "widget",
            SocketKind::Console => "console",
        }
    }
}

/// The store's write latency histogram, read from the store at scrape time.
struct StoreWrites(Arc<dyn Store>);

impl std::fmt::Debug for StoreWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreWrites")
    }
}

impl TypedMetric for StoreWrites {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for StoreWrites {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let snapshot =
            self.0.write_stats().map(|stats| stats.snapshot()).unwrap_or_else(|| WriteSnapshot {
                count: 0,
                sum_seconds: 0.0,
                buckets: WRITE_BUCKETS_SECONDS
                    .iter()
                    .chain(&[f64::INFINITY])
                    .map(|b| (*b, 0))
                    .collect(),
            });
        encoder.encode_histogram::<NoLabelSet>(
            snapshot.sum_seconds,
            snapshot.count,
            &snapshot.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The server's metrics. One per [`AppState`].
pub struct Metrics {
    registry: Registry,
    messages: Family<AuthorLabels, Counter>,
    bot_turns: Family<OutcomeLabels, Counter>,
    handoffs: Family<ReasonLabels, Counter>,
    model_calls: Family<OutcomeLabels, Counter>,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    sockets: Family<SocketLabels, Gauge>,
    queue_waiting: Family<QueueLabels, Gauge>,
    queue_oldest_wait: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    breakers: Family<BreakerLabels, Gauge>,
    feed_lagged: Counter,
    /// The change feed follower has subscribed (and so counts what commits from now on).
    following: AtomicBool,
    /// Conversation → the newest hand-off packet counted (its `created_at`).
    handoffs_seen: Mutex<HashMap<ConversationId, Millis>>,
    /// One scrape at a time: the gauges read at scrape time are cleared and refilled.
    scrape: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new(store: Arc<dyn Store>) -> Metrics {
        let mut registry = Registry::with_prefix("tandem");
        let metrics = Metrics {
            registry: Registry::default(),
            messages: Family::default(),
            bot_turns: Family::default(),
            handoffs: Family::default(),
            model_calls: Family::default(),
            webhook_deliveries: Family::default(),
            sockets: Family::default(),
            queue_waiting: Family::default(),
            queue_oldest_wait: Family::default(),
            breakers: Family::default(),
            feed_lagged: Counter::default(),
            following: AtomicBool::new(false),
            handoffs_seen: Mutex::default(),
            scrape: tokio::sync::Mutex::new(()),
        };
        registry.register(
            "messages",
            "Messages stored, by author kind (customer, bot, agent, note, system)",
            metrics.messages.clone(),
        );
        registry.register(
            "bot_turns",
            "Bot replies stored, by the turn's outcome (answer, clarify, abstain, action, \
             hand_off, acknowledge)",
            metrics.bot_turns.clone(),
        );
        registry.register(
            "handoffs",
            "Hand-offs to people, by reason (a hand-off with several reasons counts once per \
             reason)",
            metrics.handoffs.clone(),
        );
        registry.register(
            "model_calls",
            "Model calls of the bot's turns, by outcome (used, rejected, refused, error, \
             skipped)",
            metrics.model_calls.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, retry, failed)",
            metrics.webhook_deliveries.clone(),
        );
        registry.register(
            "sockets",
            "Open WebSockets, by kind (widget, console)",
            metrics.sockets.clone(),
        );
        registry.register(
            "queue_waiting",
            "Conversations waiting in a queue (not yet offered)",
            metrics.queue_waiting.clone(),
        );
        registry.register(
            "queue_oldest_wait_seconds",
            "How long the longest-waiting conversation of a queue has waited",
            metrics.queue_oldest_wait.clone(),
        );
        registry.register(
            "model_breaker_state",
            "A workspace model's circuit breaker: 1 for its current state (closed, open, \
             half_open), 0 for the others",
            metrics.breakers.clone(),
        );
        registry.register(
            "change_feed_lagged",
            "Times the metrics follower fell behind the change feed (changes went uncounted)",
            metrics.feed_lagged.clone(),
        );
        registry.register(
            "store_write_seconds",
            "How long store writes waited for their commit (queue, job and group fsync)",
            StoreWrites(store),
        );
        Metrics { registry, ..metrics }
    }

    /// Whether the change feed follower runs.
    pub fn following(&self) -> bool {
        self.following.load(Ordering::SeqCst)
    }

    /// Counts an open socket until the guard is dropped.
    pub fn socket(self: &Arc<Self>, kind: SocketKind) -> SocketGuard {
        self.sockets.get_or_create(&SocketLabels { kind: kind.as_str().into() }).inc();
        SocketGuard { metrics: Arc::clone(self), kind }
    }

    /// Counts a webhook delivery attempt by its outcome.
    pub fn webhook_attempt(&self, outcome: &tandem_store::WebhookOutcome) {
        let outcome = match outcome {
            tandem_store::WebhookOutcome::Delivered => "delivered",
            tandem_store::WebhookOutcome::RetryAt(_) => "retry",
            tandem_store::WebhookOutcome::Failed => "failed",
        };
        self.webhook_deliveries.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
    }

    /// The text of `/metrics`, with the gauges read now from the routing service and the
    /// workspace models.
    async fn render(&self, state: &AppState) -> Result<String, StoreError> {
        let _one_at_a_time = self.scrape.lock().await;
        let workspaces = state.store.workspaces().await?;
        self.queue_waiting.clear();
        self.queue_oldest_wait.clear();
        for workspace in workspaces {
            let snapshot = match state.routing.snapshot(workspace.id).await {
                Ok(snapshot) => snapshot,
                Err(error) => {
                    tracing::warn!(workspace_id = %workspace.id, %error, "metrics: no routing snapshot");
                    continue;
                }
            };
            for queue in snapshot.queues {
                let labels = QueueLabels {
                    workspace: workspace.id.to_string(),
                    queue: queue.queue.to_string(),
                };
                self.queue_waiting.get_or_create(&labels).set(i64::from(queue.waiting));
                self.queue_oldest_wait
                    .get_or_create(&labels)
                    .set(queue.longest_wait_ms as f64 / 1000.0);
            }
        }
        self.breakers.clear();
        for (workspace, current) in state.knowledge.model_breakers() {
            for (candidate, name) in [
                (tandem_llm::BreakerState::Closed, "closed"),
                (tandem_llm::BreakerState::Open, "open"),
                (tandem_llm::BreakerState::HalfOpen, "half_open"),
            ] {
                let labels = BreakerLabels { workspace: workspace.to_string(), state: name.into() };
                self.breakers.get_or_create(&labels).set(i64::from(candidate == current));
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|_| StoreError::Database("metrics could not be written".into()))?;
        Ok(text)
    }

    /// Counts one committed change.
    fn observe(self: &Arc<Self>, store: &Arc<dyn Store>, change: Change) {
        match change {
            Change::Message { conversation, message } => {
                let author = message.author_kind;
                self.messages.get_or_create(&AuthorLabels { author: author.as_str().into() }).inc();
                if author == AuthorKind::Bot {
                    // The decision record is not on the feed: read it without holding up the feed.
                    let (metrics, store) = (Arc::clone(self), Arc::clone(store));
                    tokio::spawn(async move {
                        metrics.count_turn(&*store, conversation.id, message.id).await;
                    });
                }
            }
            Change::Conversation(conversation) => {
                // A hand-off moves the conversation to a queue, or makes it an after-hours ticket
                // (still the bot's, with a routing record); its packet says why.
                let maybe_handoff = conversation.state == ConversationState::Queued
                    || (conversation.state == ConversationState::Bot
                        && conversation
                            .route
                            .as_ref()
                            .is_some_and(|route| route.follow_up_at.is_some()));
                if maybe_handoff {
                    let (metrics, store) = (Arc::clone(self), Arc::clone(store));
                    tokio::spawn(async move {
                        metrics.count_handoff(&*store, conversation.id).await;
                    });
                }
            }
            _ => {}
        }
    }

    async fn count_turn(
        &self,
        store: &dyn Store,
        conversation: ConversationId,
        message: tandem_domain::MessageId,
    ) {
        let decisions = match store.decisions(conversation).await {
            Ok(decisions) => decisions,
            Err(error) => {
                tracing::debug!(conversation_id = %conversation, %error, "metrics: no decisions");
                return;
            }
        };
        let Some((_, record)) = decisions.into_iter().find(|(id, _)| *id == message) else {
            return;
        };
        self.bot_turns
            .get_or_create(&OutcomeLabels { outcome: record.outcome.as_str().into() })
            .inc();
        if let Some(llm) = &record.llm {
            self.model_calls
                .get_or_create(&OutcomeLabels { outcome: llm.outcome.as_str().into() })
                .inc();
        }
    }

    async fn count_handoff(&self, store: &dyn Store, conversation: ConversationId) {
        let packet = match store.handoff(conversation).await {
            Ok(Some(packet)) => packet,
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(conversation_id = %conversation, %error, "metrics: no packet");
                return;
            }
        };
        {
            let mut seen =
                self.handoffs_seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if seen.get(&conversation).is_some_and(|counted| *counted >= packet.created_at) {
                return;
            }
            if seen.len() >= HANDOFFS_REMEMBERED {
                // Keep the newest half; an older conversation handed off again is still new.
                let mut times: Vec<Millis> = seen.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                seen.retain(|_, at| *at > cut);
            }
            seen.insert(conversation, packet.created_at);
        }
        for reason in &packet.reasons {
            self.handoffs.get_or_create(&ReasonLabels { reason: reason.as_str().into() }).inc();
        }
    }
}

/// Counts an open socket while held.
#[derive(Debug)]
pub struct SocketGuard {
    metrics: Arc<Metrics>,
    kind: SocketKind,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.metrics.sockets.get_or_create(&SocketLabels { kind: self.kind.as_str().into() }).dec();
    }
}

/// Follows the store's change feed and counts what it commits, under `supervise`.
pub fn start(metrics: Arc<Metrics>, store: Arc<dyn Store>) {
    let since = tandem_store::now_millis();
    tandem_flow::supervise("metrics: feed", move |_| {
        let mut feed = store.subscribe();
        let (metrics, store) = (Arc::clone(&metrics), Arc::clone(&store));
        // Packets written before the process started were counted by the one before it.
        if let Ok(mut seen) = metrics.handoffs_seen.lock() {
            seen.retain(|_, at| *at >= since);
        }
        metrics.following.store(true, Ordering::SeqCst);
        async move {
            loop {
                match feed.recv().await {
                    Ok(change) => metrics.observe(&store, change),
                    Err(RecvError::Lagged(missed)) => {
                        metrics.feed_lagged.inc();
                        tracing::warn!(
                            missed,
                            "metrics fell behind the change feed; some changes went uncounted"
                        );
                    }
                    Err(RecvError::Closed) => {
                        metrics.following.store(false, Ordering::SeqCst);
                        return;
                    }
                }
            }
        }
    });
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
}

/// The process is up and serving.
async fn livez() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// Ready for traffic: the store answers a read and the background followers run.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = match state.store.schema_version().await {
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, "readiness: the store does not answer");
            Err("unreachable")
        }
    };
    let workers = state.metrics.following();
    // A node that does not hear the change feed would show stale conversations: not ready.
    let feed = state.store.feed_connected();
    let ready = store.is_ok() && workers && feed;
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "backend": state.store.backend(),
        "checks": {
            "store": if store.is_ok() { "ok" } else { "unreachable" },
            "feed": if feed { "ok" } else { "disconnected" },
            "workers": if workers { "ok" } else { "not_started" },
        },
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn scrape(State(state): State<AppState>, request: Request) -> Response {
    if !may_scrape(&state, &request) {
        let mut response = ApiError::Unauthorized.into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    match state.metrics.render(&state).await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// The access rule of `/metrics` (see the module's documentation).
fn may_scrape(state: &AppState, request: &Request) -> bool {
    let headers = request.headers();
    match state.config.metrics_token.as_deref().filter(|token| !token.is_empty()) {
        Some(token) => bearer(headers).is_some_and(|given| same_secret(given, token)),
        None => {
            let local = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
            let forwarded = [
                "forwarded",
                "x-forwarded-for",
                "x-real-ip",
                state.config.client_ip_header.as_str(),
            ]
            .iter()
            .any(|name| headers.contains_key(*name));
            local && !forwarded
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    given.iter().zip(expected.iter()).fold(0u8, |differs, (a, b)| differs | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_and_compared_whole() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert_eq!(bearer(&headers), Some("s3cret"));
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cre", "s3cret"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic s3cret"));
        assert_eq!(bearer(&headers), None);
    }
}
