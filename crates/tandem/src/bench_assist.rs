//! `tandem bench --assist`: how soon the agent-assist panel shows a customer's new message,
//! under the ordinary message load, against a real `tandem serve` child over loopback.
//!
//! The workspace is seeded as for the message pipeline (widget clients whose conversations an
//! admin owns) plus published knowledge articles in Chinese and English and `conversations`
//! more customers, each with a conversation that an agent takes through the API
//! (`POST /api/v1/conversations/{id}/transitions`, `assign`). While the widget clients send
//! their messages in the background, the customers of the agent's conversations send
//! `samples` messages one at a time, round robin; each is timed from its widget send being
//! acknowledged (the message is stored) to the response of
//! `GET /api/v1/conversations/{id}/assist` whose `message_seq` is that message's — what the
//! console does when its socket says a customer message arrived. The request goes out as
//! soon as the acknowledgement is read, over a kept-alive connection, with nothing in between.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tandem_domain::{ArticleStatus, ConversationId, Locale, Role};
use tandem_server::auth::random_token;
use tandem_store::{NewArticle, SqliteConfig, SqliteStore, Store};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::bench::{
    Load, UNTHROTTLED, customer_said, percentile, pipeline, seed, spawn, user_with_token,
};

/// Messages each background widget client may send; the load is stopped once the
/// measurement ends, long before this.
const BACKGROUND_CAP: usize = 100_000;

/// Hand-written articles, (title, answer, question variants), in both languages.
const ARTICLES: [(&str, &str, [&str; 2]); 12] = [
    ("发货时间", "付款后 48 小时内发货。", ["什么时候发货", "下单后几天发货"]),
    ("查询物流", "在订单页点击“查看物流”即可。", ["怎么查物流", "快递到哪里了"]),
    ("申请退货", "签收 7 天内可在订单页申请退货。", ["怎么退货", "可以退货吗"]),
    ("退款到账", "退款 1 到 3 个工作日原路退回。", ["退款多久到账", "钱什么时候退回来"]),
    ("开发票", "在订单页申请电子发票。", ["怎么开发票", "能开增值税发票吗"]),
    ("修改地址", "发货前可以在订单页修改地址。", ["怎么改收货地址", "地址填错了"]),
    (
        "Shipping time",
        "Orders ship within 48 hours of payment.",
        ["when will my order ship", "how long does shipping take"],
    ),
    (
        "Tracking a parcel",
        "Open the order and choose Track parcel.",
        ["where is my package", "how do I track my order"],
    ),
    (
        "Returns",
        "You can return an item within 7 days of delivery.",
        ["how do I return an item", "can I send it back"],
    ),
    (
        "Refund timing",
        "Refunds reach your card in 1 to 3 working days.",
        ["when will I get my refund", "how long does a refund take"],
    ),
    (
        "Invoices",
        "Request an electronic invoice from the order page.",
        ["how do I get an invoice", "can I have a VAT invoice"],
    ),
    (
        "Changing the address",
        "You can change the address until the order ships.",
        ["how do I change my delivery address", "I entered the wrong address"],
    ),
];

/// What the customers of the agent's conversations say, in turn.
const QUESTIONS: [&str; 8] = [
    "我的订单什么时候发货",
    "where is my package, it has been a week",
    "退款多久能到账啊",
    "how do I return these headphones",
    "快递到哪里了，怎么还没到",
    "can I change my delivery address",
    "怎么开增值税发票",
    "when will I get my refund",
];

/// Synthetic articles beside the hand-written ones, so the knowledge base has a few dozen.
const SYNTHETIC_ARTICLES: usize = 36;

#[derive(Debug, Serialize)]
pub struct AssistReport {
    /// Widget clients sending the background load.
    pub background_clients: usize,
    /// The background load's acknowledged messages per second while the assist was timed.
    pub background_msgs_per_sec: f64,
    pub knowledge_articles: usize,
    /// Conversations in the agent's hands.
    pub conversations: usize,
    pub samples: usize,
    /// From the send to its acknowledgement, for the timed messages.
    pub ack_p50_ms: f64,
    pub ack_p99_ms: f64,
    /// From the acknowledgement to the assist that includes the message.
    pub assist_p50_ms: f64,
    pub assist_p99_ms: f64,
    pub assist_max_ms: f64,
    /// Timed messages whose assist suggested at least one article.
    pub with_suggestions: usize,
    /// Assist requests that came back without the message (each was asked again at once).
    pub stale_responses: usize,
}

/// The agent's side of the workspace: an API token and the customers of its conversations.
struct Assisted {
    agent_token: String,
    conversations: Vec<ConversationId>,
    widget_tokens: Vec<String>,
}

/// Adds knowledge articles, an agent with an API token, and `conversations` customers who each
/// said hello (their conversations are the bot's until the agent takes them).
async fn seed_assisted(
    directory: &std::path::Path,
    conversations: usize,
) -> anyhow::Result<Assisted> {
    let sqlite = SqliteStore::open(&SqliteConfig::new(directory.join("tandem.db")))?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let secret = store.setting_or_insert("widget_token_secret", &random_token()).await?;
    let workspace = store.workspaces().await?.first().context("no workspace")?.id;
    let inbox = store.inboxes(workspace).await?.first().context("no inbox")?.id;

    let mut articles = crate::bench_knowledge::synthetic(SYNTHETIC_ARTICLES);
    for (index, (title, answer, questions)) in ARTICLES.iter().enumerate() {
        let chinese = title.chars().next().is_some_and(|first| !first.is_ascii());
        articles.push(NewArticle {
            key: format!("assist-{index}"),
            title: (*title).into(),
            answer: (*answer).into(),
            questions: questions.iter().map(|question| (*question).to_owned()).collect(),
            tags: Vec::new(),
            language: Some(if chinese { Locale::Zh } else { Locale::En }),
            effective_from: None,
            expires_at: None,
            channels: Vec::new(),
        });
    }
    store.save_articles(workspace, articles, ArticleStatus::Published, None).await?;

    let (_, agent_token) =
        user_with_token(&store, workspace, "assist@example.com", Role::Agent).await?;
    let mut ids = Vec::with_capacity(conversations);
    let mut widget_tokens = Vec::with_capacity(conversations);
    for index in 0..conversations {
        let name = format!("assisted customer {index}");
        let (conversation, token) =
            customer_said(&store, workspace, inbox, &name, "你好", &secret).await?;
        ids.push(conversation);
        widget_tokens.push(token);
    }
    sqlite.close();
    Ok(Assisted { agent_token, conversations: ids, widget_tokens })
}

/// The agent's HTTP client: one kept-alive connection to the server, as the console's browser
/// holds one.
pub(crate) struct Http {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Http {
    pub(crate) async fn connect(address: &str, token: &str) -> anyhow::Result<Http> {
        let client =
            reqwest::Client::builder().pool_max_idle_per_host(1).tcp_nodelay(true).build()?;
        Ok(Http { base: format!("http://{address}"), token: token.to_owned(), client })
    }

    /// Sends one request and reads the whole response: its status and JSON body.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content = response.bytes().await?;
        let value = if content.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&content)
                .with_context(|| String::from_utf8_lossy(&content).into_owned())?
        };
        Ok((status, value))
    }

    /// GETs a page or a file and reads it whole: its status and size in bytes.
    pub(crate) async fn fetch(&mut self, path: &str) -> anyhow::Result<(u16, usize)> {
        let response =
            self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?.len()))
    }

    /// The conversation's assist, or an error naming the status.
    async fn assist(&mut self, conversation: ConversationId) -> anyhow::Result<serde_json::Value> {
        let path = format!("/api/v1/conversations/{}/assist", conversation.0);
        let (status, value) = self.request("GET", &path, None).await?;
        if status != 200 {
            bail!("GET {path}: {status} {value}");
        }
        Ok(value)
    }
}

type Widget =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends `body` over the widget socket and reads until its acknowledgement: the stored
/// message's seq.
async fn send(socket: &mut Widget, id: &str, body: &str) -> anyhow::Result<i64> {
    let frame = serde_json::json!({ "type": "message", "client_msg_id": id, "body": body });
    socket.send(Frame::Text(frame.to_string().into())).await?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .context("no acknowledgement in 30 s")?
            .context("the widget socket closed")??;
        let Frame::Text(text) = frame else { continue };
        let value: serde_json::Value = serde_json::from_str(text.as_str())?;
        if value["type"] == "error" {
            bail!("send failed: {value}");
        }
        if value["type"] == "ack" && value["client_msg_id"] == id {
            return value["message"]["seq"].as_i64().context("an ack without a seq");
        }
    }
}

pub async fn run(
    background_clients: usize,
    conversations: usize,
    samples: usize,
) -> anyhow::Result<AssistReport> {
    let directory = tempfile::tempdir()?;
    let fixture = seed(directory.path(), background_clients).await?;
    let assisted = seed_assisted(directory.path(), conversations).await?;
    let data_dir = directory.path().to_string_lossy().into_owned();
    let (server, _) =
        spawn(&["serve", "--data-dir", &data_dir, "--listen", "127.0.0.1:0"], &UNTHROTTLED)?;
    let address = server.address.clone();

    // The agent takes each conversation, as from the console.
    let mut http = Http::connect(&address, &assisted.agent_token).await?;
    for conversation in &assisted.conversations {
        let path = format!("/api/v1/conversations/{}/transitions", conversation.0);
        let (status, value) =
            http.request("POST", &path, Some(&serde_json::json!({ "action": "assign" }))).await?;
        if status != 200 || value["conversation"]["state"] != "human" {
            bail!("POST {path}: {status} {value}");
        }
    }
    let mut widgets = Vec::with_capacity(conversations);
    for token in &assisted.widget_tokens {
        let url = format!("ws://{address}/api/v1/widget/ws?token={token}&after_seq=1000000");
        widgets.push(tokio_tungstenite::connect_async(url).await.context("widget socket")?.0);
    }
    // Warm up (the dictionaries, the engine, the connections): one message per conversation.
    for (index, (widget, conversation)) in
        widgets.iter_mut().zip(&assisted.conversations).enumerate()
    {
        let seq =
            send(widget, &format!("warm-{index}"), QUESTIONS[index % QUESTIONS.len()]).await?;
        let assist = http.assist(*conversation).await?;
        if assist["message_seq"].as_i64() != Some(seq) {
            bail!("the assist of {} missed message {seq}: {assist}", conversation.0);
        }
    }

    // The background load, from the pipeline's widget clients.
    let load = Arc::new(Load::default());
    let background = tokio::spawn({
        let (address, load) = (address.clone(), Arc::clone(&load));
        async move { pipeline(&address, &fixture, BACKGROUND_CAP, Some(load)).await }
    });
    // Wait until every background client has had a message acknowledged or so.
    let waiting = Instant::now();
    while load.acked.load(Ordering::Relaxed) < background_clients {
        if waiting.elapsed() > Duration::from_secs(30) || background.is_finished() {
            bail!("the background load did not start");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (mut acks, mut assists, mut stale, mut suggested) = (Vec::new(), Vec::new(), 0, 0);
    let acked_before = load.acked.load(Ordering::Relaxed);
    let window = Instant::now();
    for sample in 0..samples {
        let index = sample % conversations;
        let conversation = assisted.conversations[index];
        let body = QUESTIONS[(sample + index) % QUESTIONS.len()];
        let sent = Instant::now();
        let seq = send(&mut widgets[index], &format!("s-{sample}"), body).await?;
        let stored = Instant::now();
        loop {
            let assist = http.assist(conversation).await?;
            let shown = assist["message_seq"].as_i64().unwrap_or(0);
            if shown == seq {
                suggested += usize::from(
                    assist["suggestions"].as_array().is_some_and(|list| !list.is_empty()),
                );
                break;
            }
            if shown > seq {
                bail!("the assist of {} skipped message {seq}: {assist}", conversation.0);
            }
            stale += 1;
            if stored.elapsed() > Duration::from_secs(30) {
                bail!("the assist of {} never showed message {seq}", conversation.0);
            }
        }
        assists.push(stored.elapsed());
        acks.push(stored - sent);
    }
    let window = window.elapsed();
    let acked = load.acked.load(Ordering::Relaxed) - acked_before;
    let still_running = !background.is_finished();
    load.stop.store(true, Ordering::Relaxed);
    background.await??;
    if !still_running {
        bail!("the background load ended before the measurement did");
    }
    drop(server);

    acks.sort();
    assists.sort();
    Ok(AssistReport {
        background_clients,
        background_msgs_per_sec: acked as f64 / window.as_secs_f64(),
        knowledge_articles: SYNTHETIC_ARTICLES + ARTICLES.len(),
        conversations,
        samples,
        ack_p50_ms: percentile(&acks, 0.50),
        ack_p99_ms: percentile(&acks, 0.99),
        assist_p50_ms: percentile(&assists, 0.50),
        assist_p99_ms: percentile(&assists, 0.99),
        assist_max_ms: percentile(&assists, 1.0),
        with_suggestions: suggested,
        stale_responses: stale,
    })
}

pub fn print(report: &AssistReport) {
    println!(
        "Agent assist ({} conversations in an agent's hands, {} knowledge articles, {} timed customer messages):",
        report.conversations, report.knowledge_articles, report.samples
    );
    println!(
        "  background load    {:>10.0} msg/s from {} widget clients",
        report.background_msgs_per_sec, report.background_clients
    );
    println!(
        "  send to stored     p50 {:>7.2} ms   p99 {:>7.2} ms",
        report.ack_p50_ms, report.ack_p99_ms
    );
    println!(
        "  stored to assist   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        report.assist_p50_ms, report.assist_p99_ms, report.assist_max_ms
    );
    println!(
        "  {} of {} assists suggested articles; {} responses came back without the message",
        report.with_suggestions, report.samples, report.stale_responses
    );
}
