//! Two `tandem serve` nodes on one PostgreSQL database, as a cluster runs: a customer's widget
//! on one node and an agent's console socket on the other see each other's messages live, a
//! hand-off is routed once, the node that routes the workspace is killed (`kill -9`) and the
//! other takes over routing, and no acknowledged message is lost or stored twice.
//!
//! Runs when `TANDEM_TEST_POSTGRES` names a PostgreSQL server (a URL of any database on it);
//! each run creates a database of its own and drops it afterwards.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tandem_domain::{AgentRouting, Channel, Locale, Presence, Role, User, WorkspaceId};
use tandem_server::auth::{WidgetIdentity, random_token, token_hash};
use tandem_store::testing::{TestDatabase, postgres_server};
use tandem_store::{NewCustomer, NewInbox, NewUser, PostgresConfig, PostgresStore, Store};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long a message may take to reach a socket on the other node.
const LIVE: Duration = Duration::from_secs(5);
/// How long a send may take to be acknowledged.
const ACK: Duration = Duration::from_secs(10);
/// How long a hand-off may wait for its assignment while a router runs.
const ASSIGNED: Duration = Duration::from_secs(10);
/// How long, after the router's node died, a hand-off may wait for the other node to assign it
/// (a lease of 5 s, renewed every second, plus a round).
const TAKEOVER: Duration = Duration::from_secs(15);
/// Customers asking for a person at once, before the kill.
const HANDOFFS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_live_messages_and_routing_survives_the_routers_death() {
    let Some(server) = postgres_server() else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let began = Instant::now();
    let database = TestDatabase::create(&server).await;
    let seeded = seed(&database.url).await;
    let db = connect(&database.url).await;
    let directory = tempfile::tempdir().unwrap();

    // Both nodes start at once on the seeded database.
    let (a, b) = tokio::join!(
        Node::start_blocking("A", &database.url, directory.path()),
        Node::start_blocking("B", &database.url, directory.path())
    );
    let mut nodes = [a, b];
    eprintln!("cluster: both nodes ready after {:?}", began.elapsed());
    let http = reqwest::Client::new();
    let mut acked: Vec<Acked> = Vec::new();
    for node in &nodes {
        let ready: Value = http
            .get(format!("http://{}/readyz", node.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["backend"], "postgres", "{ready}");
        assert_eq!(ready["checks"]["feed"], "ok", "{ready}");
    }

    // 1. A customer on node A, an agent's console on node B.
    let mut console = Socket::console(&nodes[1].address, &seeded.api_token).await;
    let mut widget = Socket::widget(&nodes[0].address, &seeded.widget_tokens[0]).await;
    let sent = Instant::now();
    let hello = widget.send("c1-hello", "Hello, is anyone there?").await;
    acked.push(Acked::of("widget on A", &hello));
    let conversation = hello["conversation_id"].as_i64().expect("a conversation id");
    console.wait("the customer's hello on B", LIVE, |frame| is_message(frame, &hello)).await;
    eprintln!("cluster: sent on A, on B's console {:?} later", sent.elapsed());
    // The bot's answer (its turn runs on A) reaches both sockets.
    let in_conversation = |kind: &'static str| {
        move |frame: &Value| {
            frame["type"] == "message"
                && frame["message"]["conversation_id"].as_i64() == Some(conversation)
                && frame["message"]["author_kind"] == kind
        }
    };
    let bot = console.wait("the bot's answer on B", ACK, in_conversation("bot")).await;
    widget.wait("the bot's answer on A", LIVE, |frame| is_message(frame, &bot["message"])).await;

    // The agent answers through node B's API: the widget on A has it live.
    let sent = Instant::now();
    let reply = agent_reply(&http, &nodes[1].address, &seeded, conversation, "agent-0").await;
    acked.push(Acked::of("agent on B", &reply));
    widget.wait("the agent's reply on A", LIVE, |frame| is_message(frame, &reply)).await;
    eprintln!("cluster: sent on B, in A's widget {:?} later", sent.elapsed());

    // 2. Both sides at once: ten customer messages on A while the agent sends ten replies on
    // B, each side seeing every message of the other, in seq order.
    let customer_side = async {
        let mut sent = Vec::new();
        for number in 1..=10 {
            let id = format!("c1-{number}");
            sent.push(widget.send(&id, &format!("customer message {number}")).await);
        }
        sent
    };
    let agent_side = async {
        let mut sent = Vec::new();
        for number in 1..=10 {
            let id = format!("agent-{number}");
            sent.push(agent_reply(&http, &nodes[1].address, &seeded, conversation, &id).await);
        }
        sent
    };
    let (customer_sent, agent_sent) = tokio::join!(customer_side, agent_side);
    for message in &customer_sent {
        acked.push(Acked::of("widget on A", message));
        console.wait("a customer message on B", LIVE, |frame| is_message(frame, message)).await;
    }
    for message in &agent_sent {
        acked.push(Acked::of("agent on B", message));
        widget.wait("an agent reply on A", LIVE, |frame| is_message(frame, message)).await;
    }

    // A retry of a message acknowledged on A, sent through B, is the stored message again.
    let retry = http
        .post(format!("http://{}/api/v1/widget/messages", nodes[1].address))
        .bearer_auth(&seeded.widget_tokens[0])
        .json(&json!({ "client_msg_id": "c1-3", "body": "customer message 3" }))
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 200, "a retry through the other node stores nothing new");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["message"]["id"], customer_sent[2]["id"], "the stored message: {retry}");

    // Every message of the conversation reached both sockets once, the widget's in seq order.
    let stored = stored_messages(&db, conversation).await;
    for (id, _, kind) in &stored {
        let wanted = |frame: &Value| {
            frame["type"] == "message" && frame["message"]["id"].as_i64() == Some(*id)
        };
        console.wait(&format!("message {id} ({kind}) on B"), LIVE, wanted).await;
        if kind != "note" {
            widget.wait(&format!("message {id} ({kind}) on A"), LIVE, wanted).await;
        }
    }
    console.drain();
    widget.drain();
    let console_ids: Vec<i64> = message_frames(&console.seen, conversation)
        .iter()
        .map(|message| message["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        console_ids.len(),
        console_ids.iter().collect::<HashSet<_>>().len(),
        "the console got a message twice: {console_ids:?}"
    );
    let widget_seqs: Vec<i64> = message_frames(&widget.seen, conversation)
        .iter()
        .map(|message| message["seq"].as_i64().unwrap())
        .collect();
    assert!(
        widget_seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "the widget's messages out of seq order or twice: {widget_seqs:?}"
    );

    // 3. Four customers ask for a person at once, two on each node: each conversation is
    // assigned to exactly one agent, and each customer is told so live.
    let mut asking = Vec::new();
    for (index, token) in seeded.widget_tokens[1..=HANDOFFS].iter().enumerate() {
        asking.push(Socket::widget(&nodes[index % 2].address, token).await);
    }
    let asked = Instant::now();
    let asks = futures_util::future::join_all(asking.iter_mut().enumerate().map(
        |(index, socket)| async move { socket.send(&format!("ask-{index}"), "转人工").await },
    ))
    .await;
    let mut handed_off = Vec::new();
    for (index, ask) in asks.iter().enumerate() {
        acked.push(Acked::of(if index % 2 == 0 { "widget on A" } else { "widget on B" }, ask));
        let conversation = ask["conversation_id"].as_i64().unwrap();
        let agent = wait_assigned(&db, conversation, &seeded, asked + ASSIGNED).await;
        handed_off.push((conversation, agent));
    }
    eprintln!("cluster: {HANDOFFS} hand-offs assigned in {:?}: {handed_off:?}", asked.elapsed());
    for socket in &mut asking {
        socket.wait("the agent joining, on the customer's socket", LIVE, is_joined).await;
    }

    // 4. The node holding the router lease dies; the other one routes the next hand-off.
    let lease = format!("router:{}", seeded.workspace);
    let (holder, _) = wait_lease(&db, &lease, |_| true).await;
    let pid = holder_pid(&holder);
    let router = nodes
        .iter()
        .position(|node| node.pid() == pid)
        .unwrap_or_else(|| panic!("the lease holder {holder} is neither node"));
    let survivor = 1 - router;
    eprintln!("cluster: node {} routes ({holder}); killing it", nodes[router].name);
    drop((console, widget, asking));
    nodes[router].kill();
    let killed = Instant::now();

    let late_token = &seeded.widget_tokens[HANDOFFS + 1];
    let mut late = Socket::widget(&nodes[survivor].address, late_token).await;
    let late_ask = late.send("late-ask", "Can I talk to a real person please").await;
    acked.push(Acked::of("widget on the survivor", &late_ask));
    let late_conversation = late_ask["conversation_id"].as_i64().unwrap();
    let earlier = handed_off.iter().any(|(id, _)| *id == late_conversation);
    assert!(!earlier && late_conversation != conversation, "a new conversation: {late_ask}");
    let second_agent = wait_assigned(&db, late_conversation, &seeded, killed + TAKEOVER).await;
    eprintln!(
        "cluster: after the kill, {} assigned the hand-off to {second_agent} in {:?}",
        nodes[survivor].name,
        killed.elapsed()
    );
    let survivor_pid = nodes[survivor].pid();
    let (holder, _) = wait_lease(&db, &lease, |holder| holder_pid(holder) == survivor_pid).await;
    assert_eq!(holder_pid(&holder), survivor_pid);
    late.wait("the agent joining after the takeover", LIVE, is_joined).await;

    // 5. What the database holds: every acknowledged message once, seqs without gaps, one
    // assignment per hand-off, one bot answer to the first message.
    for acked in &acked {
        let row = db
            .query_opt(
                "SELECT conversation_id, seq, client_msg_id FROM messages WHERE id = $1",
                &[&acked.id],
            )
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("message acknowledged to {} lost: {acked:?}", acked.by));
        let stored: (i64, i64, Option<String>) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(
            stored,
            (acked.conversation, acked.seq, acked.client_msg_id.clone()),
            "{acked:?}"
        );
        let copies: i64 = db
            .query_one(
                "SELECT count(*) FROM messages WHERE conversation_id = $1 AND client_msg_id = $2",
                &[&acked.conversation, &acked.client_msg_id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(copies, 1, "stored {copies} times: {acked:?}");
    }
    let twice = db
        .query(
            "SELECT conversation_id, client_msg_id, count(*) FROM messages
             WHERE client_msg_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1",
            &[],
        )
        .await
        .unwrap();
    let twice: Vec<(i64, String, i64)> =
        twice.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    let conversations = db
        .query(
            "SELECT c.id, c.last_seq, array_agg(m.seq ORDER BY m.seq) FILTER (WHERE m.seq IS NOT NULL)
             FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
             GROUP BY c.id, c.last_seq ORDER BY c.id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(conversations.len(), HANDOFFS + 2, "one conversation per customer");
    for row in &conversations {
        let (id, last_seq): (i64, i64) = (row.get(0), row.get(1));
        let seqs: Vec<i64> = row.get::<_, Option<Vec<i64>>>(2).unwrap_or_default();
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, expected, "conversation {id}: seqs with gaps or repeats");
        assert_eq!(last_seq, seqs.len() as i64, "conversation {id}: last_seq");
    }
    let customer_messages = count(
        &db,
        "SELECT count(*) FROM messages WHERE conversation_id = $1 AND author_kind = 'customer'",
        conversation,
    )
    .await;
    assert_eq!(customer_messages, 11, "the hello and ten messages, the retry not again");
    let bot_answers = count(
        &db,
        "SELECT count(*) FROM messages WHERE conversation_id = $1 AND author_kind = 'bot'",
        conversation,
    )
    .await;
    assert_eq!(bot_answers, 1, "one bot turn for the hello, on one node");
    handed_off.push((late_conversation, second_agent));
    for (handoff, agent) in &handed_off {
        let handoff = *handoff;
        let joined = count(
            &db,
            "SELECT count(*) FROM messages WHERE conversation_id = $1 AND author_kind = 'system'
             AND (body LIKE '%已加入对话%' OR body LIKE '%joined the conversation%')",
            handoff,
        )
        .await;
        assert_eq!(joined, 1, "conversation {handoff}: assigned once (to {agent})");
        let packets =
            count(&db, "SELECT count(*) FROM handoffs WHERE conversation_id = $1", handoff).await;
        assert_eq!(packets, 1, "conversation {handoff}: handed off once");
        let assignee = assignee_name(&db, handoff).await;
        assert_eq!(assignee.as_deref(), Some(agent.as_str()), "conversation {handoff}");
    }
    for agent in &seeded.agents {
        let load = handed_off.iter().filter(|(_, name)| *name == agent.display_name).count();
        assert!(load <= 3, "{} has {load} conversations, over their capacity", agent.display_name);
    }
    // Neither node met a database error on the way (a store bug, even where the node carried
    // on without it), and no assignment was refused: one router at a time, never two nodes
    // offering the same conversation (the store would refuse the second).
    for node in &nodes {
        let log = std::fs::read_to_string(&node.log).unwrap_or_default();
        let errors: Vec<&str> = log
            .lines()
            .filter(|line| line.contains("database error") || line.contains("assignment refused"))
            .collect();
        assert!(errors.is_empty(), "node {}:\n{}", node.name, errors.join("\n"));
    }
    eprintln!("cluster: done in {:?}", began.elapsed());
}

/// A message somebody was told was stored.
#[derive(Debug)]
struct Acked {
    by: &'static str,
    id: i64,
    conversation: i64,
    seq: i64,
    client_msg_id: Option<String>,
}

impl Acked {
    fn of(by: &'static str, message: &Value) -> Acked {
        Acked {
            by,
            id: message["id"].as_i64().unwrap_or_else(|| panic!("{by}: no id in {message}")),
            conversation: message["conversation_id"].as_i64().unwrap(),
            seq: message["seq"].as_i64().unwrap(),
            client_msg_id: message["client_msg_id"].as_str().map(str::to_owned),
        }
    }
}

/// The system message that tells a customer a person joined (in Chinese or English).
fn is_joined(frame: &Value) -> bool {
    let body = frame["message"]["body"].as_str().unwrap_or_default();
    frame["type"] == "message"
        && frame["message"]["author_kind"] == "system"
        && (body.contains("已加入对话") || body.contains("joined the conversation"))
}

fn is_message(frame: &Value, message: &Value) -> bool {
    frame["type"] == "message" && frame["message"]["id"] == message["id"]
}

/// The messages of `conversation` among `frames`, in the order they came.
fn message_frames(frames: &[Value], conversation: i64) -> Vec<&Value> {
    frames
        .iter()
        .filter(|frame| frame["type"] == "message")
        .map(|frame| &frame["message"])
        .filter(|message| message["conversation_id"].as_i64() == Some(conversation))
        .collect()
}

/// The agent's reply through `address`'s API: the stored message.
async fn agent_reply(
    http: &reqwest::Client,
    address: &str,
    seeded: &Seeded,
    conversation: i64,
    client_msg_id: &str,
) -> Value {
    let response = http
        .post(format!("http://{address}/api/v1/conversations/{conversation}/messages"))
        .bearer_auth(&seeded.api_token)
        .json(&json!({ "body": format!("agent reply {client_msg_id}"), "client_msg_id": client_msg_id }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "agent reply {client_msg_id}: {body}");
    body["message"].clone()
}

/// Waits until `conversation` is with one of the seeded agents; their name.
async fn wait_assigned(
    db: &tokio_postgres::Client,
    conversation: i64,
    seeded: &Seeded,
    deadline: Instant,
) -> String {
    loop {
        let row = db
            .query_one(
                "SELECT c.state, c.assignee_id, u.display_name FROM conversations c
                 LEFT JOIN users u ON u.id = c.assignee_id WHERE c.id = $1",
                &[&conversation],
            )
            .await
            .unwrap();
        let (state, assignee, name): (String, Option<i64>, Option<String>) =
            (row.get(0), row.get(1), row.get(2));
        if state == "human" {
            let assignee = assignee.expect("a person's conversation has an assignee");
            assert!(
                seeded.agents.iter().any(|agent| agent.id.0 == assignee),
                "conversation {conversation} went to {name:?}, not a routed agent"
            );
            return name.unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "conversation {conversation} was not assigned in time (state {state})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a live lease `name` has a holder `wanted` accepts: the holder and expiry.
async fn wait_lease(
    db: &tokio_postgres::Client,
    name: &str,
    wanted: impl Fn(&str) -> bool,
) -> (String, i64) {
    let deadline = Instant::now() + TAKEOVER;
    loop {
        let row = db
            .query_opt("SELECT holder, expires_at FROM leases WHERE name = $1", &[&name])
            .await
            .unwrap();
        let now = tandem_store::now_millis();
        if let Some(row) = row {
            let (holder, expires_at): (String, i64) = (row.get(0), row.get(1));
            if expires_at > now && wanted(&holder) {
                return (holder, expires_at);
            }
        }
        assert!(Instant::now() < deadline, "no live lease {name} as wanted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The pid in a lease holder `host:pid:start`.
fn holder_pid(holder: &str) -> u32 {
    holder.rsplit(':').nth(1).and_then(|pid| pid.parse().ok()).unwrap_or(0)
}

async fn count(db: &tokio_postgres::Client, sql: &str, conversation: i64) -> i64 {
    db.query_one(sql, &[&conversation]).await.unwrap().get(0)
}

async fn assignee_name(db: &tokio_postgres::Client, conversation: i64) -> Option<String> {
    db.query_one(
        "SELECT u.display_name FROM conversations c LEFT JOIN users u ON u.id = c.assignee_id
         WHERE c.id = $1",
        &[&conversation],
    )
    .await
    .unwrap()
    .get(0)
}

/// The stored messages of `conversation`: id, seq and author kind, in seq order.
async fn stored_messages(
    db: &tokio_postgres::Client,
    conversation: i64,
) -> Vec<(i64, i64, String)> {
    let rows = db
        .query(
            "SELECT id, seq, author_kind FROM messages WHERE conversation_id = $1 ORDER BY seq",
            &[&conversation],
        )
        .await
        .unwrap();
    rows.iter().map(|row| (row.get(0), row.get(1), row.get(2))).collect()
}

/// What the test seeded.
struct Seeded {
    workspace: WorkspaceId,
    api_token: String,
    agents: Vec<User>,
    widget_tokens: Vec<String>,
}

/// A workspace with a web inbox, an admin with an API token (the console and the replies),
/// two online agents the router assigns to (three web conversations each), and customers with
/// widget tokens.
async fn seed(url: &str) -> Seeded {
    let postgres = PostgresStore::open(&PostgresConfig::new(url.to_owned())).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(postgres.clone());
    let secret = store.setting_or_insert("widget_token_secret", &random_token()).await.unwrap();
    let workspace = store.create_workspace("cluster").await.unwrap().id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "web".into(),
            channel: Channel::Web,
            public_key: "pk_cluster".into(),
            bot_name: "bot".into(),
        })
        .await
        .unwrap();
    let admin = user(&store, workspace, "admin@cluster.test", "Admin", Role::Admin).await;
    let api_token = format!("tdm_{}", random_token());
    store
        .create_api_token(tandem_store::NewApiToken {
            user_id: admin.id,
            token_hash: token_hash(&api_token),
            name: "cluster test".into(),
            scope: tandem_domain::TokenScope::of_role(Role::Admin),
            expires_at: None,
        })
        .await
        .unwrap();
    let mut agents = Vec::new();
    for name in ["Alpha", "Beta"] {
        let email = format!("{}@cluster.test", name.to_lowercase());
        let agent = user(&store, workspace, &email, name, Role::Agent).await;
        let mut routing = AgentRouting::new(agent.id);
        routing.skills = BTreeMap::from([("lang:zh".into(), 5), ("lang:en".into(), 5)]);
        routing.presence = Presence::Online;
        routing.presence_at = tandem_store::now_millis();
        store.save_agent_routing(routing).await.unwrap();
        agents.push(agent);
    }
    let mut widget_tokens = Vec::new();
    for number in 0..HANDOFFS + 2 {
        let customer = store
            .create_customer(NewCustomer {
                workspace_id: workspace,
                name: format!("Customer {number}"),
                email: None,
                locale: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap();
        let identity = WidgetIdentity { inbox_id: inbox.id, customer_id: customer.id };
        widget_tokens.push(identity.sign(secret.as_bytes()));
    }
    postgres.close();
    Seeded { workspace, api_token, agents, widget_tokens }
}

async fn user(
    store: &Arc<dyn Store>,
    workspace: WorkspaceId,
    email: &str,
    name: &str,
    role: Role,
) -> User {
    store
        .create_user(NewUser {
            workspace_id: workspace,
            email: email.into(),
            display_name: name.into(),
            role,
            locale: Locale::En,
            password_hash: "unused".into(),
        })
        .await
        .unwrap()
}

/// A running `tandem serve`, killed when dropped; its log is printed if the test failed (or
/// always, with `CLUSTER_LOGS` set).
struct Node {
    name: &'static str,
    child: Child,
    /// `host:port`.
    address: String,
    log: PathBuf,
    killed: bool,
}

impl Node {
    async fn start_blocking(name: &'static str, store: &str, directory: &Path) -> Node {
        let (store, directory) = (store.to_owned(), directory.to_owned());
        tokio::task::spawn_blocking(move || Node::start(name, &store, &directory)).await.unwrap()
    }

    /// Starts a node in a directory of its own and waits until it answers `/healthz`.
    fn start(name: &'static str, store: &str, directory: &Path) -> Node {
        let home = directory.join(name);
        std::fs::create_dir_all(&home).unwrap();
        let log = home.join("stderr.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["serve", "--store", store, "--listen", "127.0.0.1:0"])
            .current_dir(&home)
            .env("TANDEM__LOG__FILTER", "info")
            .env("NO_COLOR", "1")
            .env("TANDEM__SERVER__WIDGET_BURST", "1000000")
            .env("TANDEM__SERVER__WIDGET_PER_MINUTE", "1000000")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("tandem starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("Tandem is listening on http://") {
                        break url.trim().to_owned();
                    }
                }
                _ => panic!("node {name} stopped before it listened:\n{}", tail(&log)),
            }
        };
        // Keep reading: a closed pipe would fail the process's next print.
        std::thread::spawn(move || lines.for_each(drop));
        let node = Node { name, child, address, log, killed: false };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !healthy(&node.address) {
            assert!(Instant::now() < deadline, "node {name} never became healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !self.killed {
            self.kill();
        }
        if std::thread::panicking() || std::env::var_os("CLUSTER_LOGS").is_some() {
            eprintln!("---- node {} ({}) log ----\n{}", self.name, self.address, tail(&self.log));
        }
    }
}

fn healthy(address: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else { return false };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
}

/// The last lines of a log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket whose JSON frames are read in the background and kept.
struct Socket {
    name: String,
    sink: futures_util::stream::SplitSink<Ws, Frame>,
    frames: mpsc::UnboundedReceiver<Value>,
    /// Every frame received so far, in order.
    seen: Vec<Value>,
}

impl Socket {
    async fn widget(address: &str, token: &str) -> Socket {
        let url = format!("ws://{address}/api/v1/widget/ws?token={token}&after_seq=0");
        Socket::open(format!("widget on {address}"), url.into_client_request().unwrap()).await
    }

    async fn console(address: &str, api_token: &str) -> Socket {
        let mut request =
            format!("ws://{address}/api/v1/console/ws").into_client_request().unwrap();
        let bearer = format!("Bearer {api_token}").parse().unwrap();
        request.headers_mut().insert("authorization", bearer);
        Socket::open(format!("console on {address}"), request).await
    }

    async fn open(
        name: String,
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> Socket {
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let (sink, mut stream) = socket.split();
        let (sender, frames) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Frame::Text(text) = frame else { continue };
                let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                if sender.send(value).is_err() {
                    return;
                }
            }
        });
        Socket { name, sink, frames, seen: Vec::new() }
    }

    /// Keeps the frames that arrived meanwhile.
    fn drain(&mut self) {
        while let Ok(frame) = self.frames.try_recv() {
            self.seen.push(frame);
        }
    }

    /// The first frame, received so far or within `within`, that `wanted` accepts.
    async fn wait(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(frame) = self.seen.iter().find(|frame| wanted(frame)) {
            return frame.clone();
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.frames.recv()).await {
                Ok(Some(frame)) => {
                    let hit = wanted(&frame);
                    self.seen.push(frame);
                    if hit {
                        return self.seen.last().unwrap().clone();
                    }
                }
                Ok(None) => panic!("{}: closed while waiting for {what}", self.name),
                Err(_) => panic!(
                    "{}: no {what} within {within:?}; the last frames: {:#?}",
                    self.name,
                    &self.seen[self.seen.len().saturating_sub(5)..]
                ),
            }
        }
    }

    /// Sends a customer's message and waits for its ack: the stored message.
    async fn send(&mut self, client_msg_id: &str, body: &str) -> Value {
        let frame = json!({ "type": "message", "client_msg_id": client_msg_id, "body": body });
        self.sink.send(Frame::Text(frame.to_string().into())).await.unwrap();
        let answer = self
            .wait(&format!("an answer to {client_msg_id}"), ACK, |frame| {
                (frame["type"] == "ack" || frame["type"] == "error")
                    && frame["client_msg_id"] == client_msg_id
            })
            .await;
        assert_eq!(answer["type"], "ack", "{}: {answer}", self.name);
        answer["message"].clone()
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("reach postgres");
    tokio::spawn(connection);
    client
}
