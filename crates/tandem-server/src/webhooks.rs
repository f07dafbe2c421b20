//! The webhook worker: posts each due delivery of the store's outbox to its endpoint, signed,
//! and records the attempt; a failed attempt is retried on a backoff schedule kept in the
//! store, so retries survive restarts.
//!
//! Why nothing is lost: the event is not produced here. The store writes it (and one delivery
//! per subscribed, active endpoint) with triggers inside the transaction that commits the
//! change it reports, so there is no moment between "committed" and "recorded" for a crash to
//! fall into. Following the change feed instead would lose every event committed while the
//! worker was down or lagging (the feed is in memory and drops what a slow subscriber misses).
//! The feed is used only as a doorbell: a change wakes the worker early; without it the worker
//! still looks at the outbox at least once a second.
//!
//! A delivery is leased when claimed (not due again until the timeout plus a margin has
//! passed), so a worker that dies mid-attempt leaves it to be sent again: deliveries are *at
//! least once*, and receivers should ignore an `id` they have already processed.
//!
//! Ordering per endpoint is best-effort: due deliveries are claimed oldest first, but several
//! may be in flight to one endpoint at once, and a retried delivery arrives after newer ones.
//! Receivers that need order should use each event's `created_at` and the conversation's
//! `updated_at` or the message's `seq`.
//!
//! The worker never blocks the message pipeline: it runs on its own tasks, talks to the store
//! like any other caller, and at most [`WebhookConfig::concurrency`] requests are in flight.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tandem_domain::{Millis, WebhookEventId, WebhookEventType, WorkspaceId};
use tandem_store::{
    DueWebhook, Store, StoreError, WebhookAttempt, WebhookEvent, WebhookOutcome, now_millis,
};
use tokio::sync::{Notify, Semaphore};

/// The `[server.webhooks]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Deliveries in flight at once, over all endpoints.
    pub concurrency: usize,
    /// Seconds an endpoint has to answer (connecting included) before the attempt fails.
    pub timeout_secs: u64,
    /// Seconds to wait before each retry of a failed delivery, in order; when they are spent
    /// the delivery is marked failed. The default retries after 10 s, 1 min, 5 min, 30 min,
    /// 2 h and 6 h: seven attempts over about eight and a half hours.
    pub retry_secs: Vec<f64>,
    /// Days that finished (delivered or failed) deliveries stay listed before they are deleted.
    pub retention_days: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            concurrency: 8,
            timeout_secs: 10,
            retry_secs: vec![10.0, 60.0, 300.0, 1800.0, 7200.0, 21_600.0],
            retention_days: 30,
        }
    }
}

impl WebhookConfig {
    /// How long to wait after the `attempts`-th failed attempt; `None` when it was the last.
    pub fn retry_delay(&self, attempts: u32) -> Option<Duration> {
        let seconds = *self.retry_secs.get(attempts.checked_sub(1)? as usize)?;
        Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::from_secs(1)))
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Tandem-Signature";
/// The header that names the event type.
pub const EVENT_HEADER: &str = "X-Tandem-Event";
/// The header that carries the delivery id (the same on every retry of a delivery).
pub const DELIVERY_HEADER: &str = "X-Tandem-Delivery";

/// The longest the worker sleeps without looking at the outbox: deliveries made due by another
/// process, or a test event queued by the console, wait at most this long.
const POLL: Duration = Duration::from_secs(1);
/// How long a claimed delivery stays leased beyond its request timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(60);
/// How often finished deliveries past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How much of an error response's body is kept with the attempt.
const MAX_ERROR_BODY: usize = 300;

/// The JSON body Tandem posts to an endpoint, with `Content-Type: application/json`,
/// `X-Tandem-Event` (the type), `X-Tandem-Delivery` (the delivery id, the same on every retry)
/// and `X-Tandem-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed
/// with the endpoint's secret>`. Answer with a 2xx within 10 seconds; anything else (a
/// redirect included) is retried after 10 s, 1 min, 5 min, 30 min, 2 h and 6 h, then given
/// up. Deliveries are at least once (ignore an `id` you have seen) and ordered only
/// best-effort.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEvent)]
pub struct Envelope<'a> {
    /// The event's id: the same for every endpoint and every retry.
    id: WebhookEventId,
    #[serde(rename = "type")]
    event_type: WebhookEventType,
    created_at: Millis,
    workspace_id: WorkspaceId,
    /// As of the commit of the change: `conversation` (id, inbox_id, channel, state,
    /// assignee_id, queue_id, customer_id, customer {id, name, email, locale}, created_at,
    /// updated_at) and, by type, `packet` (the hand-off packet), `assignee` {id, display_name,
    /// email} with `previous_state` and `previous_assignee_id`, `message` (id,
    /// conversation_id, seq, author_kind, author_id, author_name, body, client_msg_id, meta,
    /// created_at), or for `webhook.test` only `endpoint_id` and `message`.
    #[schema(value_type = Object)]
    data: &'a serde_json::Value,
}

/// The JSON body posted for `event`.
pub fn payload(event: &WebhookEvent) -> Vec<u8> {
    let envelope = Envelope {
        id: event.id,
        event_type: event.event_type,
        created_at: event.created_at,
        workspace_id: event.workspace_id,
        data: &event.data,
    };
    // Serialising plain data into memory cannot fail.
    serde_json::to_vec(&envelope).unwrap_or_default()
}

type HmacSha256 = Hmac<Sha256>;

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the endpoint's secret
/// exactly as it was shown (its `whsec_` prefix included).
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The client deliveries are posted with, and the channels' APIs called with; `None` (logged)
/// when it cannot be built.
pub fn client(config: &WebhookConfig) -> Option<reqwest::Client> {
    let client = tandem_llm::outbound::client()
        .timeout(config.timeout())
        .connect_timeout(config.timeout())
        // A redirect is an answer, not a delivery: the endpoint's URL should be fixed instead.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Tandem-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build();
    match client {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook HTTP client; webhooks are not sent");
            None
        }
    }
}

/// Starts the worker on the current runtime. It runs until the store is closed. Replies
/// through e-mail, WeCom, WeChat, Feishu and DingTalk leave by the same outbox, sent by
/// `channels`.
pub fn start(
    store: Arc<dyn Store>,
    config: WebhookConfig,
    metrics: Arc<crate::metrics::Metrics>,
    client: reqwest::Client,
    channels: Arc<crate::channels::Channels>,
) {
    let config = Arc::new(config);
    tandem_flow::supervise("webhooks: worker", move |_| {
        // What was in flight when a worker died is leased, not lost: it is claimed again when
        // its lease ends.
        let worker = Worker {
            store: Arc::clone(&store),
            client: client.clone(),
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            finished: Arc::new(Notify::new()),
            config: Arc::clone(&config),
            metrics: Arc::clone(&metrics),
            channels: Arc::clone(&channels),
        };
        worker.run()
    });
}

struct Worker {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    config: Arc<WebhookConfig>,
    /// One permit per request allowed in flight.
    slots: Arc<Semaphore>,
    /// Rung when a request finishes, so that waiting deliveries take its slot at once.
    finished: Arc<Notify>,
    metrics: Arc<crate::metrics::Metrics>,
    channels: Arc<crate::channels::Channels>,
}

impl Worker {
    async fn run(self) {
        let mut feed = self.store.subscribe();
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_prune {
                next_prune += PRUNE_EVERY;
                self.prune().await;
            }
            let wait = match self.dispatch().await {
                Ok(wait) => wait,
                Err(StoreError::Closed) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the webhook outbox");
                    POLL
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.finished.notified() => {}
                change = feed.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = change {
                        return;
                    }
                    // A burst of commits rings once: what arrived meanwhile is already in the
                    // outbox the next look reads.
                    while feed.try_recv().is_ok() {}
                }
            }
        }
    }

    /// Sends what is due while there are free slots; returns how long to wait before looking
    /// again.
    async fn dispatch(&self) -> Result<Duration, StoreError> {
        loop {
            let free = self.slots.available_permits();
            if free == 0 {
                return Ok(POLL);
            }
            let now = now_millis();
            // A cheap read first, so that commits with nothing due cost no write.
            match self.store.next_webhook_due().await? {
                None => return Ok(POLL),
                Some(due) if due > now => {
                    return Ok(Duration::from_millis((due - now) as u64).min(POLL));
                }
                Some(_) => {}
            }
            let lease = (self.config.timeout() + LEASE_MARGIN).as_millis() as Millis;
            let claimed = self.store.claim_webhooks(now, now + lease, free as u32).await?;
            if claimed.is_empty() {
                return Ok(POLL);
            }
            let all_slots_used = claimed.len() == free;
            for webhook in claimed {
                let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else { break };
                let store = Arc::clone(&self.store);
                let client = self.client.clone();
                let config = Arc::clone(&self.config);
                let finished = Arc::clone(&self.finished);
                let metrics = Arc::clone(&self.metrics);
                let channels = Arc::clone(&self.channels);
                tokio::spawn(async move {
                    deliver(&*store, &client, &channels.outbound, &config, &metrics, webhook).await;
                    drop(permit);
                    finished.notify_one();
                });
            }
            if all_slots_used {
                return Ok(POLL);
            }
        }
    }

    async fn prune(&self) {
        let retention = i64::from(self.config.retention_days) * 86_400_000;
        match self.store.prune_webhooks(now_millis() - retention).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "pruned old webhook deliveries"),
            Err(error) => tracing::warn!(%error, "cannot prune old webhook deliveries"),
        }
    }
}

/// Makes one attempt and records it.
async fn deliver(
    store: &dyn Store,
    client: &reqwest::Client,
    outbound: &crate::channels::outbound::Outbound,
    config: &WebhookConfig,
    metrics: &crate::metrics::Metrics,
    webhook: DueWebhook,
) {
    use crate::channels::outbound::{SCHEME, Sent};
    let delivery = webhook.delivery.id;
    // A channel endpoint sends through the inbox's channel; a refusal that cannot change (an
    // unknown user, a closed reply window) is not retried.
    let (response_status, error, permanent) = if webhook.url.starts_with(SCHEME) {
        match outbound.deliver(&webhook).await {
            Sent::Done => (None, None, false),
            Sent::Retry(error) => (None, Some(error), false),
            Sent::Refused(error) => (None, Some(error), true),
        }
    } else {
        let (status, error) = post(client, &webhook).await;
        (status, error, false)
    };
    let at = now_millis();
    let attempts = webhook.delivery.attempts + 1;
    let outcome = match (&error, config.retry_delay(attempts)) {
        (None, _) => WebhookOutcome::Delivered,
        (Some(_), _) if permanent => WebhookOutcome::Failed,
        (Some(_), Some(delay)) => WebhookOutcome::RetryAt(at + delay.as_millis() as Millis),
        (Some(_), None) => WebhookOutcome::Failed,
    };
    match &error {
        None => tracing::debug!(
            delivery = %delivery,
            workspace_id = %webhook.event.workspace_id,
            conversation_id = conversation_of(&webhook.event).map(tracing::field::display),
            host = %url_host(&webhook.url),
            "webhook delivered"
        ),
        Some(error) => tracing::warn!(
            delivery = %delivery,
            workspace_id = %webhook.event.workspace_id,
            conversation_id = conversation_of(&webhook.event).map(tracing::field::display),
            endpoint = %webhook.delivery.endpoint_id,
            attempts,
            %error,
            ?outcome,
            "webhook attempt failed"
        ),
    }
    metrics.webhook_attempt(&outcome);
    let attempt = WebhookAttempt { at, response_status, error, outcome };
    if let Err(error) = store.finish_webhook(delivery, attempt).await {
        // The lease runs out and the delivery is sent again: at least once, never lost.
        tracing::warn!(delivery = %delivery, %error, "cannot record a webhook attempt");
    }
}

/// The conversation an event is about, when it is about one (for log lines).
fn conversation_of(event: &WebhookEvent) -> Option<i64> {
    event.data.get("conversation")?.get("id")?.as_i64()
}

/// What of an endpoint's URL a log line may show: its scheme, host and port. A receiver's
/// path and query often carry a token (`/hooks/T0/B0/secret`, `?key=`), and logs are read
/// by more people than the webhook settings.
pub fn url_host(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("");
            match url.port() {
                Some(port) => format!("{}://{host}:{port}", url.scheme()),
                None => format!("{}://{host}", url.scheme()),
            }
        }
        Err(_) => "(unreadable URL)".to_owned(),
    }
}

/// Posts a delivery; returns the HTTP status when the endpoint answered, and why the attempt
/// failed (`None` for a 2xx).
async fn post(client: &reqwest::Client, webhook: &DueWebhook) -> (Option<u16>, Option<String>) {
    let body = payload(&webhook.event);
    let timestamp = now_millis().div_euclid(1000);
    let signature = signature_header(&webhook.secret, timestamp, &body);
    if let Ok(url) = reqwest::Url::parse(&webhook.url)
        && let Err(refused) = tandem_llm::outbound::check_url(&url)
    {
        return (None, Some(refused.to_string()));
    }
    let request = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, webhook.event.event_type.as_str())
        .header(DELIVERY_HEADER, webhook.delivery.id.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(body);
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => return (None, Some(describe(&error))),
    };
    let status = response.status();
    if status.is_success() {
        return (Some(status.as_u16()), None);
    }
    // Keep the start of the answer: it usually says what the receiver disliked.
    let mut answer = Vec::new();
    while answer.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let answer: String = String::from_utf8_lossy(&answer).chars().take(MAX_ERROR_BODY).collect();
    let answer = answer.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut error = format!("HTTP {}", status.as_u16());
    if !answer.is_empty() {
        error = format!("{error}: {answer}");
    }
    (Some(status.as_u16()), Some(error))
}

/// A request error with its causes ("error sending request: ... : connection refused"), but
/// without the URL, which the delivery list already shows.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    match &error.url() {
        Some(url) => text.replace(&format!(" for url ({url})"), ""),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_show_only_the_scheme_host_and_port_of_a_url() {
        assert_eq!(
            url_host("https://hooks.example.com/services/T0/B0/s3cr3t?token=abc#x"),
            "https://hooks.example.com"
        );
        assert_eq!(url_host("http://user:pw@10.0.0.5:8443/in?k=v"), "http://10.0.0.5:8443");
        assert_eq!(url_host("not a url/with/secret"), "(unreadable URL)");
    }

    #[test]
    fn the_default_schedule_retries_six_times_then_gives_up() {
        let config = WebhookConfig::default();
        let delays: Vec<u64> = (1..=7)
            .filter_map(|attempts| config.retry_delay(attempts))
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(delays, [10, 60, 300, 1800, 7200, 21_600]);
        assert_eq!(config.retry_delay(0), None);
        let quick = WebhookConfig { retry_secs: vec![0.2, -1.0], ..WebhookConfig::default() };
        assert_eq!(quick.retry_delay(1), Some(Duration::from_millis(200)));
        assert_eq!(quick.retry_delay(2), Some(Duration::from_secs(1)), "nonsense is a second");
        assert_eq!(quick.retry_delay(3), None);
    }

    #[test]
    fn signatures_are_hmac_sha256_of_the_timestamp_and_body() {
        // Computed with another HMAC implementation (Python's `hmac`).
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
        let header = signature_header("whsec_test", 1_700_000_000, b"{}");
        assert_ne!(header, signature_header("whsec_other", 1_700_000_000, b"{}"));
        assert_ne!(header, signature_header("whsec_test", 1_700_000_000, b"{ }"));
    }

    #[test]
    fn the_envelope_names_the_event_and_carries_its_data() {
        let event = WebhookEvent {
            id: WebhookEventId(7),
            workspace_id: WorkspaceId(1),
            event_type: WebhookEventType::ConversationHandedOff,
            created_at: 1_700_000_000_000,
            data: serde_json::json!({ "packet": { "summary": "耳机坏了" } }),
        };
        let body: serde_json::Value = serde_json::from_slice(&payload(&event)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "id": 7,
                "type": "conversation.handed_off",
                "created_at": 1_700_000_000_000_i64,
                "workspace_id": 1,
                "data": { "packet": { "summary": "耳机坏了" } },
            })
        );
    }
}
