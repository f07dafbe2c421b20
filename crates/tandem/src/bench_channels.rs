//! `tandem bench --channels`: the e-mail round trip and the WeChat callback path, on loopback.
//!
//! The demo workspace is served in process with its SMTP listener on, and an e-mail inbox
//! whose replies leave through a local SMTP sink (the same listener code, recording when each
//! reply arrives):
//!
//! 1. **E-mail round trip**: `--channel-messages` customer mails (each a new customer and
//!    thread, asking one of the demo articles' questions), sent by `--clients` SMTP clients at
//!    once; from the client starting to send a mail to the sink receiving the bot's answer in
//!    its thread (SMTP in → stored → the bot's turn → the outbox → SMTP out). Sustained rate:
//!    answers received per second from the first send to the last answer.
//! 2. **WeChat Official Account callback** (safe mode): signed, AES-encrypted message
//!    callbacks posted over HTTP by `--clients` clients at once; from sending to the `success`
//!    answer, which Tandem gives only after the signature check, the replay check, decryption,
//!    parsing and storing the message. The bot's answers go to a local stand-in for WeChat's
//!    API, off the timed path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tandem_bot::KnowledgeResponder;
use tandem_channels::email::{
    self, Envelope, MailHandler, Mailbox, OutboundMail, Recipient, Refusal,
};
use tandem_channels::wecom::Crypto;
use tandem_domain::{Channel, Inbox};
use tandem_server::channels::ChannelSettings;
use tandem_server::channels::settings::{EmailSettings, WechatSettings};
use tandem_store::{NewInbox, SqliteConfig, SqliteStore, Store};

use crate::bench::percentile;

/// Questions the demo's articles answer.
const QUESTIONS: [&str; 4] =
    ["什么时候发货", "how long does shipping take", "怎么查物流", "which courier do you use"];

#[derive(Debug, Serialize)]
pub struct ChannelsReport {
    pub mails: usize,
    pub clients: usize,
    pub mail_round_trip_p50_ms: f64,
    pub mail_round_trip_p99_ms: f64,
    pub mails_answered_per_sec: f64,
    pub callbacks: usize,
    pub callback_p50_ms: f64,
    pub callback_p99_ms: f64,
    pub callbacks_per_sec: f64,
}

/// The sink: when each reply arrived, by the customer mail it answers.
struct Sink {
    arrived: Mutex<HashMap<String, Instant>>,
    notify: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl MailHandler for Sink {
    async fn recipient(&self, _address: &str) -> Recipient {
        Recipient::Accept
    }

    async fn deliver(&self, envelope: Envelope) -> Result<(), Refusal> {
        let at = Instant::now();
        let mail = email::parse(&envelope.data).map_err(|e| Refusal::permanent(e.to_string()))?;
        if let Some(answered) = mail.in_reply_to.first() {
            self.arrived.lock().expect("not poisoned").insert(answered.clone(), at);
            self.notify.notify_waiters();
        }
        Ok(())
    }
}

pub async fn run(mails: usize, callbacks: usize, clients: usize) -> anyhow::Result<ChannelsReport> {
    let directory = tempfile::tempdir()?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("tandem.db")))?);
    tandem_demo::seed(&store).await.context("seeding the demo workspace")?;
    let workspace = store.workspaces().await?[0].id;

    // The sink the e-mail inbox sends through, and a stand-in for WeChat's API.
    let sink = Arc::new(Sink { arrived: Mutex::new(HashMap::new()), notify: Default::default() });
    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_port = sink_listener.local_addr()?.port();
    let handler: Arc<dyn MailHandler> = sink.clone();
    tokio::spawn(email::serve(sink_listener, email::ListenerConfig::default(), handler));
    let wechat_api = axum::Router::new()
        .route(
            "/cgi-bin/token",
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({"access_token": "bench", "expires_in": 7200}))
            }),
        )
        .route(
            "/cgi-bin/message/custom/send",
            axum::routing::post(|| async {
                axum::Json(serde_json::json!({"errcode": 0, "errmsg": "ok"}))
            }),
        );
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_url = format!("http://{}", api_listener.local_addr()?);
    tokio::spawn(async move { axum::serve(api_listener, wechat_api).await });

    let mail_inbox = channel_inbox(&store, workspace, Channel::Email).await?;
    let smtp: tandem_channels::email::SmtpSettings = serde_json::from_value(serde_json::json!({
        "host": "127.0.0.1", "port": sink_port, "security": "none", "timeout": 10
    }))?;
    let settings = ChannelSettings::Email(EmailSettings {
        address: "support@shop.example".into(),
        display_name: Some("Shop support".into()),
        smtp,
        thread_secret: Some("bench-thread-secret".into()),
    });
    tandem_server::channels::apply(store.as_ref(), &mail_inbox, &settings).await?;
    let wechat_inbox = channel_inbox(&store, workspace, Channel::Wechat).await?;
    let aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    let settings = ChannelSettings::Wechat(WechatSettings {
        app_id: "wxbench".into(),
        app_secret: Some("secret".into()),
        token: Some("bench-token".into()),
        encoding_aes_key: Some(aes_key.into()),
        base_url: api_url,
    });
    tandem_server::channels::apply(store.as_ref(), &wechat_inbox, &settings).await?;

    let responder = KnowledgeResponder::start(Arc::clone(&store), Default::default());
    let mut config = tandem_server::ServerConfig {
        widget_burst: 1_000_000,
        widget_per_minute: 1_000_000,
        ..Default::default()
    };
    config.email.smtp_listen = Some("127.0.0.1:0".parse()?);
    config.webhooks.concurrency = 32;
    let state = tandem_server::build(Arc::clone(&store), responder, config).await?;
    let smtp_in = tandem_server::channels::email::start(state.clone())
        .await?
        .context("the SMTP listener did not start")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http = listener.local_addr()?.to_string();
    let app = tandem_server::router(state);
    tokio::spawn(async move { tandem_server::serve(listener, app).await });

    let (round_trips, mail_rate) = mail_round_trips(&sink, smtp_in, mails, clients).await?;
    let (callback_times, callback_rate) =
        callback_times(&http, &wechat_inbox.public_key, aes_key, callbacks, clients).await?;
    Ok(ChannelsReport {
        mails,
        clients,
        mail_round_trip_p50_ms: percentile(&round_trips, 0.50),
        mail_round_trip_p99_ms: percentile(&round_trips, 0.99),
        mails_answered_per_sec: mail_rate,
        callbacks,
        callback_p50_ms: percentile(&callback_times, 0.50),
        callback_p99_ms: percentile(&callback_times, 0.99),
        callbacks_per_sec: callback_rate,
    })
}

async fn channel_inbox(
    store: &Arc<dyn Store>,
    workspace: tandem_domain::WorkspaceId,
    channel: Channel,
) -> anyhow::Result<Inbox> {
    Ok(store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: format!("{channel} (bench)"),
            channel,
            public_key: format!("pk_bench_{channel}"),
            bot_name: "Tandem".into(),
        })
        .await?)
}

/// Sends `mails` customer mails from `clients` clients; returns each round trip (sorted) and
/// the answers per second.
async fn mail_round_trips(
    sink: &Arc<Sink>,
    smtp_in: std::net::SocketAddr,
    mails: usize,
    clients: usize,
) -> anyhow::Result<(Vec<Duration>, f64)> {
    let settings: tandem_channels::email::SmtpSettings = serde_json::from_value(
        serde_json::json!({
            "host": smtp_in.ip().to_string(), "port": smtp_in.port(), "security": "none", "timeout": 30
        }),
    )?;
    let sender = Arc::new(email::Sender::new(&settings)?);
    let started = Instant::now();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut tasks = Vec::new();
    for client in 0..clients.max(1) {
        let (sender, sent) = (Arc::clone(&sender), Arc::clone(&sent));
        tasks.push(tokio::spawn(async move {
            let mut number = client;
            while number < mails {
                let id = format!("bench-{number}@customers.example");
                let mail = OutboundMail {
                    from: Mailbox::new(
                        Some("Customer"),
                        &format!("customer{number}@customers.example"),
                    ),
                    to: Mailbox::new(None, "support@shop.example"),
                    reply_to: None,
                    subject: format!("Question {number}"),
                    message_id: id.clone(),
                    in_reply_to: None,
                    references: Vec::new(),
                    text: QUESTIONS[number % QUESTIONS.len()].to_owned(),
                    html: String::new(),
                    attachments: Vec::new(),
                    auto_submitted: false,
                };
                sent.lock().expect("not poisoned").insert(id, Instant::now());
                sender.send(&mail).await?;
                number += clients;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let notified = sink.notify.notified();
        if sink.arrived.lock().expect("not poisoned").len() >= mails {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "not every mail was answered within 2 minutes");
        let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
    }
    let arrived = sink.arrived.lock().expect("not poisoned");
    let sent = sent.lock().expect("not poisoned");
    let mut trips: Vec<Duration> =
        sent.iter().filter_map(|(id, at)| arrived.get(id).map(|done| *done - *at)).collect();
    trips.sort();
    let last = arrived.values().max().copied().unwrap_or(started);
    let rate = mails as f64 / (last - started).as_secs_f64().max(1e-9);
    Ok((trips, rate))
}

/// Posts `count` signed, encrypted WeChat message callbacks from `clients` clients; returns
/// each answer time (sorted) and the callbacks per second.
async fn callback_times(
    http: &str,
    key: &str,
    aes_key: &str,
    count: usize,
    clients: usize,
) -> anyhow::Result<(Vec<Duration>, f64)> {
    let crypto = Arc::new(Crypto::new("bench-token", aes_key, "wxbench")?);
    let client = reqwest::Client::new();
    let url = format!("http://{http}/channels/wechat/{key}");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..clients.max(1) {
        let (crypto, client, url) = (Arc::clone(&crypto), client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut number = worker;
            while number < count {
                let now = tandem_store::now_millis() / 1000;
                let inner = format!(
                    "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[openid-{number}]]></FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{}]]></Content><MsgId>{}</MsgId></xml>",
                    QUESTIONS[number % QUESTIONS.len()],
                    9_000_000 + number
                );
                let encrypted = crypto.encrypt(&inner);
                let (timestamp, nonce) = (now.to_string(), format!("n{number}"));
                let signature = crypto.signature(&timestamp, &nonce, &encrypted);
                let body = format!(
                    "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
                );
                let query = [
                    ("timestamp", timestamp.as_str()),
                    ("nonce", nonce.as_str()),
                    ("encrypt_type", "aes"),
                    ("msg_signature", signature.as_str()),
                ];
                let start = Instant::now();
                let response = client.post(&url).query(&query).body(body).send().await?;
                let status = response.status();
                let text = response.text().await?;
                anyhow::ensure!(status.is_success() && text == "success", "callback answered {status}: {text}");
                times.push(start.elapsed());
                number += clients;
            }
            anyhow::Ok(times)
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await??);
    }
    let rate = count as f64 / started.elapsed().as_secs_f64().max(1e-9);
    times.sort();
    Ok((times, rate))
}

pub fn print(report: &ChannelsReport) {
    println!(
        "E-mail round trip ({} mails, {} SMTP clients; SMTP in → stored → bot answer → SMTP out): p50 {:.1} ms, p99 {:.1} ms; {:.0} mails answered/s",
        report.mails,
        report.clients,
        report.mail_round_trip_p50_ms,
        report.mail_round_trip_p99_ms,
        report.mails_answered_per_sec
    );
    println!(
        "WeChat callback ({} signed, encrypted messages; verify + decrypt + store, then `success`): p50 {:.1} ms, p99 {:.1} ms; {:.0} callbacks/s",
        report.callbacks, report.callback_p50_ms, report.callback_p99_ms, report.callbacks_per_sec
    );
}
