//! `tandem bench --cluster <URL>`: what PostgreSQL and a second node cost and give, in one
//! run on one machine, against fresh databases made on the server the URL names (each
//! `tandem_bench_<pid>_<n>`, dropped afterwards).
//!
//! 1. The message pipeline of `tandem bench` (widget clients over WebSockets, each message
//!    acknowledged to its sender and pushed to one console socket) on one node with SQLite,
//!    one node with PostgreSQL, and two nodes sharing PostgreSQL with the widget clients
//!    spread over both and the console on node A.
//! 2. The raw insert rate of the same message rows, batches of 512 per transaction, on SQLite
//!    and on PostgreSQL.
//! 3. Cross-node delivery: from run 1's two nodes, the console pushes of the messages sent on
//!    node B (through PostgreSQL's NOTIFY to node A), beside those sent on node A.
//! 4. Router failover: two nodes, agents online, customers with the bot. The node holding the
//!    workspace's router lease is killed (SIGKILL), a customer asks the surviving node for a
//!    person ("转人工"), and the time from the kill to the conversation's assignment is taken
//!    from the store. The same hand-off with a live router is timed before the kill.
//!
//! Every process (client, both nodes, PostgreSQL) shares the machine's cores, so on a small
//! box the figures are a floor.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tandem_domain::{
    AgentRouting, Channel, ConversationId, ConversationState, Presence, Role, WorkspaceId,
};
use tandem_server::auth::random_token;
use tandem_store::{NewInbox, PostgresConfig, PostgresStore, Store};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::bench::{
    Pipeline, Server, UNTHROTTLED, customer_said, percentile, pipeline, pipeline_across, seed,
    seed_store, spawn, user_with_token,
};

/// Agents online in the failover measurement, and the conversations each takes at once.
const AGENTS: usize = 3;
const AGENT_CAPACITY: u32 = 5;
/// Customers with the bot in the failover measurement.
const FAILOVER_CUSTOMERS: usize = 4;
/// What a customer says to ask for a person.
const ASK_FOR_PERSON: &str = "转人工";
/// How long a hand-off may take before the measurement gives up.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, serde::Serialize)]
pub(crate) struct Report {
    /// The server URL, without its password.
    server: String,
    clients: usize,
    messages_per_client: usize,
    messages: usize,
    sqlite_one_node: PipelineFigures,
    postgres_one_node: PipelineFigures,
    postgres_two_nodes: PipelineFigures,
    raw_sqlite_rows_per_sec: f64,
    raw_postgres_rows_per_sec: f64,
    cross_node: CrossNode,
    failover: Failover,
}

#[derive(Debug, serde::Serialize)]
struct PipelineFigures {
    nodes: usize,
    store: &'static str,
    msgs_per_sec: f64,
    ack_p50_ms: f64,
    ack_p99_ms: f64,
    console_p50_ms: f64,
    console_p99_ms: f64,
}

impl PipelineFigures {
    fn of(nodes: usize, store: &'static str, run: &Pipeline) -> PipelineFigures {
        PipelineFigures {
            nodes,
            store,
            msgs_per_sec: run.acks.len() as f64 / run.elapsed.as_secs_f64(),
            ack_p50_ms: percentile(&run.acks, 0.50),
            ack_p99_ms: percentile(&run.acks, 0.99),
            console_p50_ms: percentile(&run.pushes, 0.50),
            console_p99_ms: percentile(&run.pushes, 0.99),
        }
    }
}

/// Console pushes (console on node A) of the two-node run, by the node the message was sent to.
#[derive(Debug, serde::Serialize)]
struct CrossNode {
    sent_on_b: usize,
    b_to_a_p50_ms: f64,
    b_to_a_p99_ms: f64,
    sent_on_a: usize,
    a_to_a_p50_ms: f64,
    a_to_a_p99_ms: f64,
}

#[derive(Debug, serde::Serialize)]
struct Failover {
    agents: usize,
    customers: usize,
    /// `host:pid:start_millis` of the node killed and of the one that took the lease over.
    killed_holder: String,
    new_holder: String,
    /// How long the killed node's lease still ran when it was killed.
    lease_left_at_kill_ms: f64,
    /// With both nodes up: from the customer's "转人工" sent (on the node not routing) to the
    /// conversation assigned.
    live_handoff_to_assigned_ms: f64,
    /// From the kill to the surviving node's acknowledgement of the customer's "转人工".
    kill_to_ack_ms: f64,
    /// From the kill to the conversation assigned by the surviving node.
    kill_to_assigned_ms: f64,
}

pub(crate) async fn run(url: &str, clients: usize, messages: usize) -> anyhow::Result<Report> {
    let mut databases = Databases { server: url.to_owned(), made: 0 };
    let total = clients * messages;

    let directory = tempfile::tempdir()?;
    let fixture = seed(directory.path(), clients).await?;
    let data_dir = directory.path().to_string_lossy().into_owned();
    let sqlite_run = {
        let (server, _) =
            spawn(&["serve", "--data-dir", &data_dir, "--listen", "127.0.0.1:0"], &UNTHROTTLED)?;
        pipeline(&server.address, &fixture, messages, None).await?
    };
    drop(directory);

    let postgres_run = databases
        .with(|database| postgres_pipeline(database, 1, clients, messages))
        .await
        .context("one node on PostgreSQL")?;
    let two_nodes_run = databases
        .with(|database| postgres_pipeline(database, 2, clients, messages))
        .await
        .context("two nodes on PostgreSQL")?;

    let raw_directory = tempfile::tempdir()?;
    let raw_sqlite =
        tandem_store::bench::raw_message_inserts(&raw_directory.path().join("raw.db"), total, 512)?;
    drop(raw_directory);
    let raw_postgres = databases
        .with(|database| async move {
            Ok(tandem_store::bench::raw_postgres_inserts(&database, total, 512).await?)
        })
        .await
        .context("raw PostgreSQL inserts")?;

    let failover = databases.with(failover).await.context("router failover")?;

    let on_a = &two_nodes_run.pushes_by_node[0];
    let on_b = &two_nodes_run.pushes_by_node[1];
    Ok(Report {
        server: crate::redacted(url),
        clients,
        messages_per_client: messages,
        messages: total,
        sqlite_one_node: PipelineFigures::of(1, "sqlite", &sqlite_run),
        postgres_one_node: PipelineFigures::of(1, "postgres", &postgres_run),
        postgres_two_nodes: PipelineFigures::of(2, "postgres", &two_nodes_run),
        raw_sqlite_rows_per_sec: total as f64 / raw_sqlite.as_secs_f64(),
        raw_postgres_rows_per_sec: total as f64 / raw_postgres.as_secs_f64(),
        cross_node: CrossNode {
            sent_on_b: on_b.len(),
            b_to_a_p50_ms: percentile(on_b, 0.50),
            b_to_a_p99_ms: percentile(on_b, 0.99),
            sent_on_a: on_a.len(),
            a_to_a_p50_ms: percentile(on_a, 0.50),
            a_to_a_p99_ms: percentile(on_a, 0.99),
        },
        failover,
    })
}

pub(crate) fn print(report: &Report) {
    println!(
        "Cluster benchmark on {} (a fresh database for each PostgreSQL measurement, dropped after)",
        report.server
    );
    println!(
        "Message pipeline ({} widget clients x {} messages = {} messages, persisted then pushed to a console on node A):",
        report.clients, report.messages_per_client, report.messages
    );
    println!(
        "  {:<22} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "", "msg/s", "ack p50", "ack p99", "push p50", "push p99"
    );
    for (name, figures) in [
        ("1 node, SQLite", &report.sqlite_one_node),
        ("1 node, PostgreSQL", &report.postgres_one_node),
        ("2 nodes, PostgreSQL", &report.postgres_two_nodes),
    ] {
        println!(
            "  {:<22} {:>9.0} {:>7.2} ms {:>7.2} ms {:>7.2} ms {:>7.2} ms",
            name,
            figures.msgs_per_sec,
            figures.ack_p50_ms,
            figures.ack_p99_ms,
            figures.console_p50_ms,
            figures.console_p99_ms
        );
    }
    println!(
        "Raw inserts of the same {} rows (transactions of 512): SQLite {:.0} rows/s (synchronous=FULL), PostgreSQL {:.0} rows/s (statements pipelined)",
        report.messages, report.raw_sqlite_rows_per_sec, report.raw_postgres_rows_per_sec
    );
    println!(
        "  pipeline/raw: SQLite {:.3}, PostgreSQL 1 node {:.3}, 2 nodes {:.3}",
        report.sqlite_one_node.msgs_per_sec / report.raw_sqlite_rows_per_sec,
        report.postgres_one_node.msgs_per_sec / report.raw_postgres_rows_per_sec,
        report.postgres_two_nodes.msgs_per_sec / report.raw_postgres_rows_per_sec
    );
    let cross = &report.cross_node;
    println!(
        "Cross-node delivery (2 nodes): customer on node B to the console on node A p50 {:.2} ms, p99 {:.2} ms ({} messages); on node A itself p50 {:.2} ms, p99 {:.2} ms ({} messages)",
        cross.b_to_a_p50_ms,
        cross.b_to_a_p99_ms,
        cross.sent_on_b,
        cross.a_to_a_p50_ms,
        cross.a_to_a_p99_ms,
        cross.sent_on_a
    );
    let failover = &report.failover;
    println!(
        "Router failover (2 nodes, {} agents online, {} customers with the bot; lease {} ms, renewed every second):",
        failover.agents,
        failover.customers,
        tandem_flow::routing::LEASE
    );
    println!(
        "  live router: \"{ASK_FOR_PERSON}\" on the other node to assignment {:.0} ms",
        failover.live_handoff_to_assigned_ms
    );
    println!(
        "  router node killed (SIGKILL) with {:.0} ms of lease left; \"{ASK_FOR_PERSON}\" on the survivor acknowledged {:.0} ms after the kill",
        failover.lease_left_at_kill_ms, failover.kill_to_ack_ms
    );
    println!(
        "  kill to assignment by the survivor: {:.0} ms ({} -> {})",
        failover.kill_to_assigned_ms, failover.killed_holder, failover.new_holder
    );
}

/// Fresh databases on the server, one per measurement.
struct Databases {
    server: String,
    made: usize,
}

impl Databases {
    /// Runs `job` with the URL of a fresh database, and drops the database afterwards (also
    /// when `job` fails).
    async fn with<T, F, Fut>(&mut self, job: F) -> anyhow::Result<T>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        self.made += 1;
        let name = format!("tandem_bench_{}_{}", std::process::id(), self.made);
        tandem_store::bench::postgres_admin(&self.server, &format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("cannot create the database {name}"))?;
        let result = match tandem_store::bench::postgres_url_with_database(&self.server, &name) {
            Ok(url) => job(url).await,
            Err(error) => Err(error.into()),
        };
        let dropped = tandem_store::bench::postgres_admin(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
        .with_context(|| format!("cannot drop the database {name}"));
        let value = result?;
        dropped?;
        Ok(value)
    }
}

/// A `tandem serve` on the PostgreSQL database at `url`, with a data directory of its own.
struct Node {
    server: Server,
    _directory: tempfile::TempDir,
}

fn start_node(url: &str) -> anyhow::Result<Node> {
    let directory = tempfile::tempdir()?;
    let data_dir = directory.path().to_string_lossy().into_owned();
    let arguments = ["serve", "--store", url, "--data-dir", &data_dir, "--listen", "127.0.0.1:0"];
    let (server, _) = spawn(&arguments, &UNTHROTTLED)?;
    Ok(Node { server, _directory: directory })
}

async fn open_postgres(url: &str) -> anyhow::Result<PostgresStore> {
    PostgresStore::open(&PostgresConfig::new(url))
        .await
        .with_context(|| format!("cannot open the PostgreSQL store {}", crate::redacted(url)))
}

/// The pipeline on `nodes` nodes sharing the database at `url`.
async fn postgres_pipeline(
    url: String,
    nodes: usize,
    clients: usize,
    messages: usize,
) -> anyhow::Result<Pipeline> {
    let store = open_postgres(&url).await?;
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let fixture = seed_store(&shared, clients).await;
    store.close();
    let fixture = fixture?;
    let nodes = (0..nodes).map(|_| start_node(&url)).collect::<anyhow::Result<Vec<_>>>()?;
    let addresses: Vec<&str> = nodes.iter().map(|node| node.server.address.as_str()).collect();
    pipeline_across(&addresses, addresses[0], &fixture, messages, None).await
}

async fn failover(url: String) -> anyhow::Result<Failover> {
    let store = open_postgres(&url).await?;
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let result = failover_on(&url, &shared).await;
    store.close();
    result
}

async fn failover_on(url: &str, store: &Arc<dyn Store>) -> anyhow::Result<Failover> {
    let secret = store.setting_or_insert("widget_token_secret", &random_token()).await?;
    let workspace = store.create_workspace("failover").await?.id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "failover".into(),
            channel: Channel::Web,
            public_key: "pk_failover".into(),
            bot_name: "bot".into(),
        })
        .await?;
    for index in 0..AGENTS {
        let email = format!("agent{index}@example.com");
        let (agent, _) = user_with_token(store, workspace, &email, Role::Agent).await?;
        let mut routing = AgentRouting::new(agent.id);
        routing.capacity = [(Channel::Web, AGENT_CAPACITY)].into_iter().collect();
        // Triage asks for the customer's language.
        routing.skills = [("lang:zh".to_owned(), 3), ("lang:en".to_owned(), 3)].into();
        routing.presence = Presence::Online;
        routing.presence_at = tandem_store::now_millis();
        store.save_agent_routing(routing).await?;
    }
    let mut customers = Vec::with_capacity(FAILOVER_CUSTOMERS);
    for index in 0..FAILOVER_CUSTOMERS {
        let name = format!("customer {index}");
        customers.push(customer_said(store, workspace, inbox.id, &name, "你好", &secret).await?);
    }

    let mut nodes = vec![start_node(url)?, start_node(url)?];
    let (killed_holder, leader) = router_holder(url, workspace, &nodes).await?;
    let survivor = 1 - leader;

    // With both nodes up: the hand-off goes through the node that does not route.
    let (live_conversation, live_token) = &customers[0];
    let asked = Instant::now();
    widget_say(&nodes[survivor].server.address, live_token, ASK_FOR_PERSON).await?;
    wait_assigned(store, *live_conversation).await.context("live hand-off")?;
    let live = asked.elapsed();

    let lease = format!("router:{workspace}");
    let (_, expires_at) =
        tandem_store::bench::postgres_lease(url, &lease).await?.context("no router lease")?;
    let left = expires_at - tandem_store::now_millis();
    nodes[leader].server.kill().context("cannot kill the router node")?;
    let killed = Instant::now();

    let (conversation, token) = &customers[1];
    widget_say(&nodes[survivor].server.address, token, ASK_FOR_PERSON).await?;
    let acknowledged = killed.elapsed();
    wait_assigned(store, *conversation).await.context("hand-off after the kill")?;
    let assigned = killed.elapsed();

    let (new_holder, _) =
        tandem_store::bench::postgres_lease(url, &lease).await?.context("no router lease")?;
    if holder_pid(&new_holder) != Some(nodes[survivor].server.pid()) {
        bail!("the router lease went to {new_holder}, not to the surviving node");
    }
    Ok(Failover {
        agents: AGENTS,
        customers: FAILOVER_CUSTOMERS,
        killed_holder,
        new_holder,
        lease_left_at_kill_ms: left as f64,
        live_handoff_to_assigned_ms: live.as_secs_f64() * 1000.0,
        kill_to_ack_ms: acknowledged.as_secs_f64() * 1000.0,
        kill_to_assigned_ms: assigned.as_secs_f64() * 1000.0,
    })
}

/// The holder of the workspace's router lease once one of `nodes` took it, and which node.
async fn router_holder(
    url: &str,
    workspace: WorkspaceId,
    nodes: &[Node],
) -> anyhow::Result<(String, usize)> {
    let lease = format!("router:{workspace}");
    let deadline = Instant::now() + ASSIGNMENT_TIMEOUT;
    loop {
        if let Some((holder, _)) = tandem_store::bench::postgres_lease(url, &lease).await?
            && let Some(index) =
                nodes.iter().position(|node| holder_pid(&holder) == Some(node.server.pid()))
        {
            return Ok((holder, index));
        }
        if Instant::now() > deadline {
            bail!("no node took the router lease {lease}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The process id in a lease holder `host:pid:start_millis`.
fn holder_pid(holder: &str) -> Option<u32> {
    holder.rsplit(':').nth(1)?.parse().ok()
}

/// Sends `body` as the customer of `token` over a widget socket of the node at `address`;
/// returns once the node acknowledged it (stored).
async fn widget_say(address: &str, token: &str, body: &str) -> anyhow::Result<()> {
    let url = format!("ws://{address}/api/v1/widget/ws?token={token}&after_seq=1000000");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.context("widget socket")?;
    let id = format!("failover-{}", random_token());
    let frame = serde_json::json!({ "type": "message", "client_msg_id": id, "body": body });
    socket.send(Frame::Text(frame.to_string().into())).await?;
    let acknowledged = async {
        loop {
            let Some(frame) = socket.next().await else { bail!("widget socket closed") };
            let Frame::Text(text) = frame? else { continue };
            let value: serde_json::Value = serde_json::from_str(text.as_str())?;
            if value["type"] == "error" {
                bail!("send failed: {value}");
            }
            if value["type"] == "ack" && value["client_msg_id"] == id.as_str() {
                return Ok(());
            }
        }
    };
    tokio::time::timeout(ASSIGNMENT_TIMEOUT, acknowledged)
        .await
        .context("no acknowledgement from the widget socket")?
}

/// Polls the store until `conversation` is a person's.
async fn wait_assigned(store: &Arc<dyn Store>, conversation: ConversationId) -> anyhow::Result<()> {
    let deadline = Instant::now() + ASSIGNMENT_TIMEOUT;
    let mut state = None;
    while Instant::now() < deadline {
        let stored = store.conversation(conversation).await?.context("no conversation")?;
        if stored.state == ConversationState::Human {
            return Ok(());
        }
        state = Some(stored.state);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!(
        "conversation {conversation} not assigned within {} s (still {state:?})",
        ASSIGNMENT_TIMEOUT.as_secs()
    )
}
