//! `tandem bench`: the figures the foundation promises, measured against a real `tandem serve`
//! child process over loopback.
//!
//! 1. Message pipeline: many widget clients send over their WebSockets; each message is
//!    persisted (acknowledged to its sender) and pushed to a console socket. Throughput and
//!    p50/p99 latency for both, beside the raw batched SQLite insert rate of the same rows.
//! 2. Idle WebSockets: server memory per idle widget connection.
//! 3. `tandem demo`: cold start to ready, and idle memory.
//!
//! `--knowledge`, `--routing`, `--llm` and `--assist` measure one part instead (see their
//! modules).
//!
//! The client runs on the same machine as the server, so on a 2-core box the figures include
//! the client's own CPU use: they are a floor, not a ceiling.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tandem_domain::{
    AuthorKind, Channel, ConversationId, InboxId, Locale, Role, Transition, User, WorkspaceId,
};
use tandem_server::auth::{WidgetIdentity, random_token, token_hash};
use tandem_store::{
    MessageTarget, NewCustomer, NewInbox, NewMessage, NewUser, SqliteConfig, SqliteStore, Store,
};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Widget clients sending at once [default: 200; 100 with --cluster].
    #[arg(long)]
    clients: Option<usize>,
    /// Messages each client sends, one after another [default: 200; 100 with --cluster].
    #[arg(long)]
    messages: Option<usize>,
    /// Idle WebSocket connections held open for the memory figure.
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// Measure only the idle WebSockets: server memory per idle widget connection with this
    /// many connections open (e.g. 50000; needs an open-file limit above it, see the README).
    #[arg(long)]
    sockets: Option<usize>,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
    /// Measure only the answer engine: index rebuild throughput and publish-to-answerable time.
    #[arg(long)]
    knowledge: bool,
    /// Measure only the router: assignment decisions per second and their latency with many
    /// agents and waiting conversations.
    #[arg(long)]
    routing: bool,
    /// Measure only what Tandem adds around a model call: overhead before the request
    /// leaves, time to the first streamed draft in the widget, and the fallback time when the
    /// provider hangs (against the demo's echo model on loopback).
    #[arg(long)]
    llm: bool,
    /// Questions in the model-call measurement.
    #[arg(long, default_value_t = 200)]
    llm_questions: usize,
    /// How long the echo model waits before its first chunk, in milliseconds.
    #[arg(long, default_value_t = 200)]
    first_chunk_ms: u64,
    /// How long the echo model waits between chunks, in milliseconds.
    #[arg(long, default_value_t = 20)]
    chunk_gap_ms: u64,
    /// The model timeout while the provider hangs, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    hang_timeout_ms: u64,
    /// Articles in the rebuild-throughput measurement.
    #[arg(long, default_value_t = 100_000)]
    rebuild_articles: usize,
    /// Measure only the agent-assist panel: from a customer message in a person's
    /// conversation being stored to the assist that includes it, under the message load of
    /// `--clients` widget clients.
    #[arg(long)]
    assist: bool,
    /// Measure only the reports: write `--insight-conversations` conversations through the
    /// store and time the Insight pages' queries through the reports API.
    #[arg(long)]
    insight: bool,
    /// Conversations in the reports measurement.
    #[arg(long, default_value_t = 1_000_000)]
    insight_conversations: usize,
    /// Rounds of queries in the reports measurement.
    #[arg(long, default_value_t = 20)]
    insight_rounds: usize,
    /// Measure only PostgreSQL and several nodes, against fresh databases made on the server
    /// this `postgres://` URL names: the message pipeline on SQLite, on PostgreSQL and on two
    /// nodes sharing PostgreSQL, the raw PostgreSQL insert rate, cross-node delivery and router
    /// failover (`--clients` and `--messages` default to 100 each here).
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
    /// Measure only the channels: the e-mail round trip through the SMTP listener, the bot
    /// and SMTP out to a local sink, and WeChat's signed, encrypted callbacks (`--clients`
    /// clients at once; 20 by default here).
    #[arg(long)]
    channels: bool,
    /// Mails, and callbacks, in the channels measurement.
    #[arg(long, default_value_t = 1_000)]
    channel_messages: usize,
    /// Conversations in people's hands in the assist measurement.
    #[arg(long, default_value_t = 50)]
    assist_conversations: usize,
    /// Customer messages timed in the assist measurement.
    #[arg(long, default_value_t = 1_000)]
    assist_samples: usize,
}

pub(crate) struct Server {
    child: Child,
    pub(crate) address: String,
}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(|_| ())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tandem <arguments>` and waits for its "listening on" line.
pub(crate) fn spawn(
    arguments: &[&str],
    environment: &[(&str, &str)],
) -> anyhow::Result<(Server, Duration)> {
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args(arguments)
        .envs(environment.iter().copied())
        .env("TANDEM__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the server")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().context("the server exited before it was ready")??;
        if let Some(url) = line.strip_prefix("Tandem is listening on http://") {
            break url.trim().to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let server = Server { child, address };
    wait_healthy(&server.address)?;
    Ok((server, started.elapsed()))
}

fn wait_healthy(address: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            let request =
                format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
            let mut response = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut response).is_ok()
                && response.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("the server at {address} never became healthy")
}

/// Resident memory of a process, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS")?;
    let kilobytes: u64 = line.split_whitespace().nth(1).context("bad VmRSS")?.parse()?;
    Ok(kilobytes * 1024)
}

/// The `fraction` percentile of `sorted`, in milliseconds (NaN when empty).
pub(crate) fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

pub(crate) struct Fixture {
    pub(crate) api_token: String,
    pub(crate) widget_tokens: Vec<String>,
}

/// Seeds a workspace with `customers` conversations owned by an agent (so the bot stays out of
/// the measurement), an API token for the console socket, and the widget token secret.
pub(crate) async fn seed(directory: &Path, customers: usize) -> anyhow::Result<Fixture> {
    let sqlite = SqliteStore::open(&SqliteConfig::new(directory.join("tandem.db")))?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let fixture = seed_store(&store, customers).await?;
    sqlite.close();
    Ok(fixture)
}

/// [`seed`] on any store (left open).
pub(crate) async fn seed_store(
    store: &Arc<dyn Store>,
    customers: usize,
) -> anyhow::Result<Fixture> {
    let secret = store.setting_or_insert("widget_token_secret", &random_token()).await?;
    let workspace = store.create_workspace("bench").await?.id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "bench".into(),
            channel: Channel::Web,
            public_key: "pk_bench".into(),
            bot_name: "bot".into(),
        })
        .await?;
    let (agent, api_token) =
        user_with_token(store, workspace, "bench@example.com", Role::Admin).await?;
    let mut widget_tokens = Vec::with_capacity(customers);
    for index in 0..customers {
        let name = format!("customer {index}");
        let (conversation, token) =
            customer_said(store, workspace, inbox.id, &name, "hello", &secret).await?;
        store.transition(conversation, Transition::Assign { agent: agent.id }, None).await?;
        widget_tokens.push(token);
    }
    Ok(Fixture { api_token, widget_tokens })
}

/// A user of the workspace with `role` and an API token of theirs.
pub(crate) async fn user_with_token(
    store: &Arc<dyn Store>,
    workspace: WorkspaceId,
    email: &str,
    role: Role,
) -> anyhow::Result<(User, String)> {
    let user = store
        .create_user(NewUser {
            workspace_id: workspace,
            email: email.into(),
            display_name: email.split('@').next().unwrap_or(email).into(),
            role,
            locale: Locale::En,
            password_hash: "unused".into(),
        })
        .await?;
    let token = format!("tdm_{}", random_token());
    store
        .create_api_token(tandem_store::NewApiToken {
            user_id: user.id,
            token_hash: token_hash(&token),
            name: email.into(),
            scope: tandem_domain::TokenScope::of_role(role),
            expires_at: None,
        })
        .await?;
    Ok((user, token))
}

/// A new customer named `name` who said `hello` on `inbox`: their conversation (the bot's)
/// and their widget token, signed with `secret`.
pub(crate) async fn customer_said(
    store: &Arc<dyn Store>,
    workspace: WorkspaceId,
    inbox: InboxId,
    name: &str,
    hello: &str,
    secret: &str,
) -> anyhow::Result<(ConversationId, String)> {
    let customer = store
        .create_customer(NewCustomer {
            workspace_id: workspace,
            name: name.into(),
            email: None,
            locale: None,
            attributes: Default::default(),
        })
        .await?;
    let first = store
        .append_message(NewMessage {
            target: MessageTarget::CustomerLatest { inbox_id: inbox, customer_id: customer.id },
            author_kind: AuthorKind::Customer,
            author_id: None,
            author_name: None,
            body: hello.into(),
            client_msg_id: None,
            reopen_if_resolved: true,
            only_while_bot_owns: false,
            meta: None,
            decision: None,
            sentiment: None,
        })
        .await?;
    let token =
        WidgetIdentity { inbox_id: inbox, customer_id: customer.id }.sign(secret.as_bytes());
    Ok((first.conversation.id, token))
}

#[derive(Debug, serde::Serialize)]
struct Report {
    clients: usize,
    messages: usize,
    pipeline_msgs_per_sec: f64,
    ack_p50_ms: f64,
    ack_p99_ms: f64,
    console_p50_ms: f64,
    console_p99_ms: f64,
    raw_sqlite_rows_per_sec: f64,
    idle_connections: usize,
    idle_bytes_per_connection: f64,
    demo_cold_start_ms: f64,
    demo_warm_start_ms: f64,
    demo_idle_rss_mb: f64,
}

/// The environment of a benchmarked `tandem serve`: the widget rate limits lifted so the load
/// is not throttled.
pub(crate) const UNTHROTTLED: [(&str, &str); 2] = [
    ("TANDEM__SERVER__WIDGET_BURST", "1000000000"),
    ("TANDEM__SERVER__WIDGET_PER_MINUTE", "1000000000"),
];

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.cluster {
        let report = crate::bench_cluster::run(
            url,
            args.clients.unwrap_or(100).max(1),
            args.messages.unwrap_or(100).max(1),
        )
        .await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            crate::bench_cluster::print(&report);
        }
        return Ok(());
    }
    if args.channels {
        let count = args.channel_messages.max(1);
        let report =
            crate::bench_channels::run(count, count, args.clients.unwrap_or(20).max(1)).await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            crate::bench_channels::print(&report);
        }
        return Ok(());
    }
    let clients = args.clients.unwrap_or(200);
    let messages = args.messages.unwrap_or(200);
    if let Some(connections) = args.sockets {
        let report = idle_only(clients.max(1), connections).await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!(
                "Idle WebSockets: {} connections, {:.0} bytes each (server RSS delta, {:.1} MB in all)",
                report.idle_connections,
                report.idle_bytes_per_connection,
                report.idle_bytes_per_connection * report.idle_connections as f64 / 1_048_576.0
            );
        }
        return Ok(());
    }
    if args.insight {
        let report = crate::bench_insight::run(
            args.insight_conversations.max(1),
            args.insight_rounds.max(1),
        )
        .await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            crate::bench_insight::print(&report);
        }
        return Ok(());
    }
    if args.assist {
        let report = crate::bench_assist::run(
            clients.max(1),
            args.assist_conversations.max(1),
            args.assist_samples.max(1),
        )
        .await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            crate::bench_assist::print(&report);
        }
        return Ok(());
    }
    if args.routing {
        return crate::bench_routing::run(args.json);
    }
    if args.llm {
        let report = crate::bench_llm::run(
            args.llm_questions,
            args.first_chunk_ms,
            args.chunk_gap_ms,
            args.hang_timeout_ms,
        )
        .await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            crate::bench_llm::print(&report);
        }
        return Ok(());
    }
    if args.knowledge {
        let report = crate::bench_knowledge::run(args.rebuild_articles).await?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!(
                "Answer engine rebuild: {} articles at {:.0} articles/s",
                report.rebuild_articles, report.rebuild_articles_per_sec
            );
            let time = &report.question_time;
            println!(
                "Engine time per question ({} articles, {} questions): p50 {:.0} µs, p99 {:.0} µs",
                time.knowledge_base_articles, time.questions, time.p50_us, time.p99_us
            );
            for latency in &report.publish_to_answerable {
                println!(
                    "Publish to answerable ({} articles): p50 {:.1} ms, p99 {:.1} ms",
                    latency.knowledge_base_articles, latency.p50_ms, latency.p99_ms
                );
            }
        }
        return Ok(());
    }
    let directory = tempfile::tempdir()?;
    let fixture = seed(directory.path(), clients.max(1)).await?;
    let data_dir = directory.path().to_string_lossy().into_owned();
    let (server, _) =
        spawn(&["serve", "--data-dir", &data_dir, "--listen", "127.0.0.1:0"], &UNTHROTTLED)?;
    let pipeline = pipeline(&server.address, &fixture, messages, None).await?;
    let total = fixture.widget_tokens.len() * messages;

    let raw_directory = tempfile::tempdir()?;
    let raw =
        tandem_store::bench::raw_message_inserts(&raw_directory.path().join("raw.db"), total, 512)?;

    let idle_bytes = idle_memory(&server, &fixture, args.idle).await?;
    drop(server);

    let demo_directory = tempfile::tempdir()?;
    let demo_dir = demo_directory.path().join("demo").to_string_lossy().into_owned();
    let demo_arguments = ["demo", "--data-dir", demo_dir.as_str(), "--listen", "127.0.0.1:0"];
    let (demo, cold) = spawn(&demo_arguments, &[])?;
    drop(demo);
    let (demo, warm) = spawn(&demo_arguments, &[])?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let demo_rss = rss_bytes(demo.child.id())?;
    drop(demo);

    let report = Report {
        clients: fixture.widget_tokens.len(),
        messages: total,
        pipeline_msgs_per_sec: total as f64 / pipeline.elapsed.as_secs_f64(),
        ack_p50_ms: percentile(&pipeline.acks, 0.50),
        ack_p99_ms: percentile(&pipeline.acks, 0.99),
        console_p50_ms: percentile(&pipeline.pushes, 0.50),
        console_p99_ms: percentile(&pipeline.pushes, 0.99),
        raw_sqlite_rows_per_sec: total as f64 / raw.as_secs_f64(),
        idle_connections: args.idle,
        idle_bytes_per_connection: idle_bytes,
        demo_cold_start_ms: cold.as_secs_f64() * 1000.0,
        demo_warm_start_ms: warm.as_secs_f64() * 1000.0,
        demo_idle_rss_mb: demo_rss as f64 / 1_048_576.0,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "Message pipeline ({} widget clients, {} messages, persisted then pushed to a console):",
            report.clients, report.messages
        );
        println!("  throughput        {:>10.0} msg/s", report.pipeline_msgs_per_sec);
        println!(
            "  ack to sender     p50 {:>7.2} ms   p99 {:>7.2} ms",
            report.ack_p50_ms, report.ack_p99_ms
        );
        println!(
            "  push to console   p50 {:>7.2} ms   p99 {:>7.2} ms",
            report.console_p50_ms, report.console_p99_ms
        );
        println!(
            "  raw SQLite insert {:>10.0} rows/s (batches of 512, synchronous=FULL); pipeline/raw = {:.2}",
            report.raw_sqlite_rows_per_sec,
            report.pipeline_msgs_per_sec / report.raw_sqlite_rows_per_sec
        );
        println!(
            "Idle WebSockets: {} connections, {:.0} bytes each (server RSS delta)",
            report.idle_connections, report.idle_bytes_per_connection
        );
        println!(
            "tandem demo: cold start {:.0} ms (seeding), warm start {:.0} ms, idle RSS {:.1} MB",
            report.demo_cold_start_ms, report.demo_warm_start_ms, report.demo_idle_rss_mb
        );
    }
    Ok(())
}

pub(crate) struct Pipeline {
    pub(crate) elapsed: Duration,
    pub(crate) acks: Vec<Duration>,
    pub(crate) pushes: Vec<Duration>,
    /// `pushes` by the node (index in the addresses) whose widget client sent the message.
    pub(crate) pushes_by_node: Vec<Vec<Duration>>,
}

/// A pipeline run as background load: how many messages were acknowledged so far, and a
/// flag that makes every client stop before its next message.
#[derive(Default)]
pub(crate) struct Load {
    pub(crate) acked: AtomicUsize,
    pub(crate) stop: AtomicBool,
}

/// When each message was sent, and the node (index) it was sent to.
type SentAt = Arc<Mutex<HashMap<String, (Instant, usize)>>>;

/// Each widget client of `fixture` sends `per_client` messages one after another (fewer when
/// `load` says stop); returns the acknowledgement and console push latencies.
pub(crate) async fn pipeline(
    address: &str,
    fixture: &Fixture,
    per_client: usize,
    load: Option<Arc<Load>>,
) -> anyhow::Result<Pipeline> {
    pipeline_across(&[address], address, fixture, per_client, load).await
}

/// [`pipeline`] over several nodes of one store: widget client `i` talks to
/// `widget_addresses[i % len]`, the console socket to `console_address`.
pub(crate) async fn pipeline_across(
    widget_addresses: &[&str],
    console_address: &str,
    fixture: &Fixture,
    per_client: usize,
    load: Option<Arc<Load>>,
) -> anyhow::Result<Pipeline> {
    let nodes = widget_addresses.len();
    anyhow::ensure!(nodes > 0, "no widget address");
    let expected = fixture.widget_tokens.len() * per_client;
    // The console waits for this many pushes: every message, or those sent before a stop.
    let target = Arc::new(AtomicUsize::new(expected));
    let sent_at: SentAt = Arc::new(Mutex::new(HashMap::with_capacity(expected.min(1 << 16))));
    let mut request = format!("ws://{console_address}/api/v1/console/ws").into_client_request()?;
    request.headers_mut().insert("authorization", format!("Bearer {}", fixture.api_token).parse()?);
    let (console, _) = tokio_tungstenite::connect_async(request).await.context("console socket")?;
    let console_task = tokio::spawn({
        let sent_at = Arc::clone(&sent_at);
        let target = Arc::clone(&target);
        async move {
            let mut pushes: Vec<(Duration, usize)> = Vec::with_capacity(expected.min(1 << 16));
            let (_, mut reader) = console.split();
            let mut last_frame = Instant::now();
            while pushes.len() < target.load(Ordering::Acquire) {
                // Wake now and then to see a lowered target; give up after 30 s of silence.
                let frame =
                    match tokio::time::timeout(Duration::from_millis(100), reader.next()).await {
                        Ok(Some(Ok(frame))) => frame,
                        Err(_) if last_frame.elapsed() < Duration::from_secs(30) => continue,
                        _ => break,
                    };
                last_frame = Instant::now();
                let Frame::Text(text) = frame else { continue };
                let Ok(value) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
                    continue;
                };
                if value["type"] != "message" {
                    continue;
                }
                let Some(id) = value["message"]["client_msg_id"].as_str() else { continue };
                if let Some((started, node)) =
                    sent_at.lock().ok().and_then(|map| map.get(id).copied())
                {
                    pushes.push((started.elapsed(), node));
                }
            }
            pushes
        }
    });
    let mut sockets = Vec::new();
    for (index, token) in fixture.widget_tokens.iter().enumerate() {
        let address = widget_addresses[index % nodes];
        let url = format!("ws://{address}/api/v1/widget/ws?token={token}&after_seq=2");
        sockets.push(tokio_tungstenite::connect_async(url).await.context("widget socket")?.0);
    }
    let started = Instant::now();
    let mut clients = Vec::new();
    for (index, mut socket) in sockets.into_iter().enumerate() {
        let sent_at = Arc::clone(&sent_at);
        let load = load.clone();
        clients.push(tokio::spawn(async move {
            let mut acks = Vec::with_capacity(per_client.min(1 << 12));
            for number in 0..per_client {
                if load.as_ref().is_some_and(|load| load.stop.load(Ordering::Relaxed)) {
                    break;
                }
                let id = format!("b{index}-{number}");
                let frame = serde_json::json!({ "type": "message", "client_msg_id": id, "body": format!("bench message {number} 你好") });
                let begun = Instant::now();
                if let Ok(mut map) = sent_at.lock() {
                    map.insert(id.clone(), (begun, index % nodes));
                }
                socket.send(Frame::Text(frame.to_string().into())).await?;
                loop {
                    let Some(frame) = socket.next().await else { bail!("widget socket closed") };
                    let Frame::Text(text) = frame? else { continue };
                    let value: serde_json::Value = serde_json::from_str(text.as_str())?;
                    if value["type"] == "error" {
                        bail!("send failed: {value}");
                    }
                    if value["type"] == "ack" && value["client_msg_id"] == id.as_str() {
                        acks.push(begun.elapsed());
                        if let Some(load) = &load {
                            load.acked.fetch_add(1, Ordering::Relaxed);
                        }
                        break;
                    }
                }
            }
            anyhow::Ok(acks)
        }));
    }
    let mut acks = Vec::with_capacity(expected.min(1 << 16));
    for client in clients {
        acks.extend(client.await??);
    }
    let sent = acks.len();
    target.store(sent, Ordering::Release);
    let received = console_task.await?;
    let elapsed = started.elapsed();
    if received.len() < sent {
        bail!("the console received {} of {sent} messages", received.len());
    }
    acks.sort();
    let mut pushes_by_node = vec![Vec::new(); nodes];
    for (push, node) in &received {
        pushes_by_node[*node].push(*push);
    }
    for node in &mut pushes_by_node {
        node.sort();
    }
    let mut pushes: Vec<Duration> = received.into_iter().map(|(push, _)| push).collect();
    pushes.sort();
    Ok(Pipeline { elapsed, acks, pushes, pushes_by_node })
}

#[derive(serde::Serialize)]
struct IdleReport {
    idle_connections: usize,
    idle_bytes_per_connection: f64,
}

/// `--sockets`: only the idle-connection figure, after one message from each customer (so
/// each socket follows a conversation, as in the full run).
async fn idle_only(customers: usize, connections: usize) -> anyhow::Result<IdleReport> {
    raise_open_files(connections)?;
    let directory = tempfile::tempdir()?;
    let fixture = seed(directory.path(), customers).await?;
    let data_dir = directory.path().to_string_lossy().into_owned();
    let (server, _) =
        spawn(&["serve", "--data-dir", &data_dir, "--listen", "127.0.0.1:0"], &UNTHROTTLED)?;
    pipeline(&server.address, &fixture, 1, None).await?;
    let idle_bytes = idle_memory(&server, &fixture, connections).await?;
    Ok(IdleReport { idle_connections: connections, idle_bytes_per_connection: idle_bytes })
}

/// Raises this process's open-file limit to its hard limit (the server it spawns inherits
/// it): each idle connection is a descriptor on both sides.
fn raise_open_files(connections: usize) -> anyhow::Result<()> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = connections as u64 + 1_000;
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum;
    if limit.current.is_some_and(|current| current < needed) {
        setrlimit(Resource::Nofile, Rlimit { current: hard, maximum: hard })
            .context("raising the open-file limit")?;
    }
    if hard.is_some_and(|hard| hard < needed) {
        bail!(
            "{connections} idle connections need about {needed} open files in this process and \
             in the server, but the hard limit is {}: raise it first (as root: `ulimit -Hn {needed}`)",
            hard.unwrap_or_default()
        );
    }
    Ok(())
}

/// Connections opened from one client address: loopback has about 28,000 ephemeral ports per
/// source address, so larger runs spread over 127.0.0.2, 127.0.0.3 and so on.
const CONNECTIONS_PER_SOURCE: usize = 20_000;

async fn open_idle(address: &str, index: usize, token: &str) -> anyhow::Result<IdleSocket> {
    let source = std::net::Ipv4Addr::new(127, 0, 0, 1 + (index / CONNECTIONS_PER_SOURCE) as u8);
    let server: std::net::SocketAddr = address.parse()?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    let stream = socket.connect(server).await?;
    let url = format!("ws://{address}/api/v1/widget/ws?token={token}&after_seq=1000000");
    Ok(tokio_tungstenite::client_async(url, stream).await?.0)
}

type IdleSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn idle_memory(
    server: &Server,
    fixture: &Fixture,
    connections: usize,
) -> anyhow::Result<f64> {
    if connections == 0 {
        return Ok(0.0);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_bytes(server.child.id())?;
    let mut sockets = Vec::with_capacity(connections);
    for chunk in (0..connections).collect::<Vec<_>>().chunks(200) {
        let mut opening = Vec::new();
        for &index in chunk {
            let token = &fixture.widget_tokens[index % fixture.widget_tokens.len()];
            opening.push(open_idle(&server.address, index, token));
        }
        for socket in futures_util::future::join_all(opening).await {
            sockets.push(socket.context("idle socket")?);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_bytes(server.child.id())?;
    drop(sockets);
    Ok(after.saturating_sub(before) as f64 / connections as f64)
}
