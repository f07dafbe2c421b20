//! `tandem bench --llm`: what Tandem adds around a model call, measured end to end.
//!
//! The demo workspace is served in process on loopback, with its model settings pointing at
//! the demo's echo model (`tandem_demo::echo_model`), served by the benchmark on its own
//! port behind a layer that notes when each request arrives. Each question comes from a new
//! widget customer over a real WebSocket:
//!
//! 1. **Overhead before the request leaves**: from the widget sending the message to the
//!    model server receiving the completion request (storing the message, the bot's turn,
//!    retrieval, the settings read, the prompt, redaction, the HTTP request).
//! 2. **Time to first streamed token in the widget**: from sending to the first `draft` frame,
//!    with the echo model waiting `first` ms before its first chunk and `gap` ms between
//!    chunks; the first draft is the first clause that checked out.
//! 3. **Fallback when the provider hangs**: the model never answers; from sending to the
//!    article's own answer arriving, against the configured timeout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tandem_bot::KnowledgeResponder;
use tandem_bot::model::{llm_settings, save_llm_settings};
use tandem_domain::WorkspaceId;
use tandem_llm::LlmSettings;
use tandem_server::auth::WidgetIdentity;
use tandem_store::{NewCustomer, SqliteConfig, SqliteStore, Store};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::bench::percentile;

/// Questions the demo's articles answer (none of them triggers an action).
const QUESTIONS: [&str; 6] = [
    "什么时候发货",
    "how long does shipping take",
    "怎么查物流",
    "track my package",
    "下单后几天发货",
    "which courier do you use",
];

#[derive(Debug, Serialize)]
pub struct LlmReport {
    pub questions: usize,
    pub overhead_p50_ms: f64,
    pub overhead_p95_ms: f64,
    pub overhead_max_ms: f64,
    pub first_chunk_delay_ms: u64,
    pub chunk_gap_ms: u64,
    pub first_draft_p50_ms: f64,
    pub first_draft_p95_ms: f64,
    pub reply_p50_ms: f64,
    pub hang_timeout_ms: u64,
    pub fallback_p50_ms: f64,
    pub fallback_max_ms: f64,
}

struct Bench {
    address: String,
    store: Arc<dyn Store>,
    workspace: WorkspaceId,
    secret: Vec<u8>,
    inbox: tandem_domain::InboxId,
    /// When the model server received each request, in order.
    arrivals: Arc<Mutex<Vec<Instant>>>,
    model_url: String,
    _directory: tempfile::TempDir,
}

/// What one question's widget saw.
struct Seen {
    arrived: Option<Duration>,
    first_draft: Option<Duration>,
    reply: Duration,
    body: String,
}

impl Bench {
    async fn start() -> anyhow::Result<Bench> {
        let directory = tempfile::tempdir()?;
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("tandem.db")))?);
        tandem_demo::seed(&store).await.context("seeding the demo workspace")?;
        let workspace = store.workspaces().await?[0].id;
        let inbox = store.inboxes(workspace).await?[0].id;
        let responder = KnowledgeResponder::start(Arc::clone(&store), Default::default());
        let config = tandem_server::ServerConfig {
            widget_burst: 1_000_000,
            widget_per_minute: 1_000_000,
            ..Default::default()
        };
        let state = tandem_server::build(Arc::clone(&store), responder, config).await?;
        let secret = store.setting_or_insert("widget_token_secret", "unused").await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let app = tandem_server::router(state);
        tokio::spawn(async move { tandem_server::serve(listener, app).await });

        // The echo model on its own port, noting when each request arrives.
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let noted = Arc::clone(&arrivals);
        let model = tandem_demo::echo_model::router().layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                if let Ok(mut arrivals) = noted.lock() {
                    arrivals.push(Instant::now());
                }
                next.run(request)
            },
        ));
        let model_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let model_url = format!(
            "http://{}{}",
            model_listener.local_addr()?,
            tandem_demo::echo_model::BASE_PATH
        );
        tokio::spawn(async move { axum::serve(model_listener, model).await });
        Ok(Bench {
            address,
            store,
            workspace,
            secret: secret.into_bytes(),
            inbox,
            arrivals,
            model_url,
            _directory: directory,
        })
    }

    async fn set_model(&self, model: &str, timeout_ms: u64) -> anyhow::Result<()> {
        let settings = LlmSettings {
            enabled: true,
            allow_external: true,
            base_url: self.model_url.clone(),
            model: model.to_owned(),
            api_key_env: None,
            timeout_ms,
            total_timeout_ms: timeout_ms,
            // Every hanging call waits for its timeout: the breaker would spare most of them.
            breaker_failures: 100,
            ..llm_settings(self.store.as_ref(), self.workspace).await?
        };
        save_llm_settings(self.store.as_ref(), self.workspace, &settings).await?;
        Ok(())
    }

    /// A new customer asks `question`; returns what their widget saw.
    async fn ask(&self, index: usize, question: &str) -> anyhow::Result<Seen> {
        let customer = self
            .store
            .create_customer(NewCustomer {
                workspace_id: self.workspace,
                name: format!("bench customer {index}"),
                email: None,
                locale: None,
                attributes: Default::default(),
            })
            .await?;
        let token =
            WidgetIdentity { inbox_id: self.inbox, customer_id: customer.id }.sign(&self.secret);
        let url = format!("ws://{}/api/v1/widget/ws?token={token}", self.address);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
        let before = self.arrivals.lock().map(|arrivals| arrivals.len()).unwrap_or(0);
        let frame = serde_json::json!({"type": "message", "client_msg_id": "q", "body": question});
        let sent = Instant::now();
        socket.send(Frame::Text(frame.to_string().into())).await?;
        let mut first_draft = None;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
                .await
                .context("no reply in 30 s")?
                .context("the socket closed")??;
            let Frame::Text(text) = frame else { continue };
            let value: serde_json::Value = serde_json::from_str(text.as_str())?;
            if value["type"] == "draft" && value["done"] == false && first_draft.is_none() {
                first_draft = Some(sent.elapsed());
            }
            if value["type"] == "message" && value["message"]["author_kind"] == "bot" {
                let reply = sent.elapsed();
                let arrived = self
                    .arrivals
                    .lock()
                    .ok()
                    .and_then(|arrivals| arrivals.get(before).copied())
                    .map(|at| at.saturating_duration_since(sent));
                let body = value["message"]["body"].as_str().unwrap_or_default().to_owned();
                return Ok(Seen { arrived, first_draft, reply, body });
            }
        }
    }
}

pub async fn run(
    questions: usize,
    first_ms: u64,
    gap_ms: u64,
    hang_timeout_ms: u64,
) -> anyhow::Result<LlmReport> {
    let bench = Bench::start().await?;
    // Warm up: the Chinese dictionary, the engine, the connection pool.
    bench.set_model("echo:0:0", 10_000).await?;
    for (index, question) in QUESTIONS.iter().enumerate() {
        bench.ask(index, question).await?;
    }

    bench.set_model(&format!("echo:{first_ms}:{gap_ms}"), 10_000).await?;
    let (mut overheads, mut drafts, mut replies) = (Vec::new(), Vec::new(), Vec::new());
    for index in 0..questions {
        let question = QUESTIONS[index % QUESTIONS.len()];
        let seen = bench.ask(1_000 + index, question).await?;
        let arrived = seen.arrived.with_context(|| format!("the model never saw {question:?}"))?;
        let first = seen
            .first_draft
            .with_context(|| format!("no streamed draft for {question:?}: {}", seen.body))?;
        overheads.push(arrived);
        drafts.push(first);
        replies.push(seen.reply);
    }

    bench.set_model("hang", hang_timeout_ms).await?;
    let rounds = questions.clamp(1, 10);
    let mut fallbacks = Vec::new();
    for index in 0..rounds {
        let question = QUESTIONS[index % QUESTIONS.len()];
        let seen = bench.ask(10_000 + index, question).await?;
        if seen.first_draft.is_some() {
            bail!("a hanging model produced a draft");
        }
        fallbacks.push(seen.reply);
    }
    for values in [&mut overheads, &mut drafts, &mut replies, &mut fallbacks] {
        values.sort();
    }
    // Sorted: the maximum is the 100th percentile.
    Ok(LlmReport {
        questions,
        overhead_p50_ms: percentile(&overheads, 0.50),
        overhead_p95_ms: percentile(&overheads, 0.95),
        overhead_max_ms: percentile(&overheads, 1.0),
        first_chunk_delay_ms: first_ms,
        chunk_gap_ms: gap_ms,
        first_draft_p50_ms: percentile(&drafts, 0.50),
        first_draft_p95_ms: percentile(&drafts, 0.95),
        reply_p50_ms: percentile(&replies, 0.50),
        hang_timeout_ms,
        fallback_p50_ms: percentile(&fallbacks, 0.50),
        fallback_max_ms: percentile(&fallbacks, 1.0),
    })
}

pub fn print(report: &LlmReport) {
    println!(
        "Model calls ({} questions from new widget customers, echo model on loopback):",
        report.questions
    );
    println!(
        "  overhead before the request leaves   p50 {:>7.2} ms   p95 {:>7.2} ms   max {:>7.2} ms",
        report.overhead_p50_ms, report.overhead_p95_ms, report.overhead_max_ms
    );
    println!(
        "  first streamed draft in the widget   p50 {:>7.2} ms   p95 {:>7.2} ms   (model: first chunk after {} ms, then every {} ms)",
        report.first_draft_p50_ms,
        report.first_draft_p95_ms,
        report.first_chunk_delay_ms,
        report.chunk_gap_ms
    );
    println!("  whole reply stored and shown         p50 {:>7.2} ms", report.reply_p50_ms);
    println!(
        "  fallback when the model hangs        p50 {:>7.2} ms   max {:>7.2} ms   (timeout {} ms)",
        report.fallback_p50_ms, report.fallback_max_ms, report.hang_timeout_ms
    );
}
