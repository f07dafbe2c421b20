//! `tandem bench --insight`: the reports over a large history. It writes N conversations
//! (a year of them, with a made-up but plausible mix of channels, queues, agents, topics,
//! hand-offs, resolutions, reopenings and ratings) through the store's history import, which
//! keeps each conversation's report facts as live traffic does, starts `tandem serve` on that
//! database, and times every query the Insight pages make through the reports API: the first
//! (which loads the working set) and then repeated rounds, with conversations changing between
//! rounds as they would while a team works. The console's Insight pages themselves (which add
//! the bottlenecks) and a CSV export are timed the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tandem_domain::{AuthorKind, Channel, Locale, QueueRouting, Role};
use tandem_store::{
    ImportedConversation, ImportedMessage, NewInbox, NewUser, SqliteConfig, SqliteStore, Store,
};

use crate::bench::{UNTHROTTLED, percentile, spawn, user_with_token};
use crate::bench_assist::Http;

const DAY_MS: i64 = 86_400_000;
const BATCH: usize = 5_000;
const AGENTS: usize = 20;
const TOPICS: usize = 40;
/// Customer messages sent through the server before each round of queries.
const CHANGES_PER_ROUND: usize = 20;

#[derive(Debug, Serialize)]
pub struct InsightReport {
    pub conversations: usize,
    pub write_conversations_per_sec: f64,
    pub database_mb: f64,
    pub first_query_ms: f64,
    pub server_rss_mb: f64,
    pub queries: Vec<QueryTime>,
    /// The slowest query's p95.
    pub worst_p95_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct QueryTime {
    pub query: String,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

pub async fn run(conversations: usize, rounds: usize) -> anyhow::Result<InsightReport> {
    let directory = tempfile::tempdir()?;
    let now = tandem_store::now_millis();
    let (token, written) = generate(directory.path(), conversations, now).await?;
    let database_mb = std::fs::metadata(directory.path().join("tandem.db"))?.len() as f64 / 1e6;
    let data_dir = directory.path().to_string_lossy().into_owned();
    let environment =
        [UNTHROTTLED[0], UNTHROTTLED[1], ("TANDEM__SERVER__WIDGET_SESSIONS_PER_MINUTE", "1000000")];
    let (server, _) =
        spawn(&["serve", "--data-dir", &data_dir, "--listen", "127.0.0.1:0"], &environment)?;
    let mut http = Http::connect(&server.address, &token).await?;
    let year_ago = jiff::Timestamp::from_millisecond(now - 364 * DAY_MS)?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let queries: Vec<String> = [
        "kpis".to_owned(),
        "kpis?by=day".to_owned(),
        format!("kpis?by=week&from={year_ago}"),
        format!("kpis?by=channel&from={year_ago}"),
        format!("kpis?by=queue&from={year_ago}"),
        format!("kpis?by=agent&from={year_ago}"),
        format!("kpis?by=topic&from={year_ago}"),
        format!("kpis?by=handler&from={year_ago}"),
        "kpis?by=day&tz=Asia/Shanghai".to_owned(),
        "conversations?metric=sla_missed".to_owned(),
        format!("conversations?by=topic&key=topic-7&from={year_ago}"),
    ]
    .into_iter()
    .map(|query| format!("/api/v1/reports/{query}"))
    .chain([
        "/insight".to_owned(),
        format!("/insight?by=topic&from={year_ago}"),
        format!("/insight?by=queue&from={year_ago}"),
        "/insight/conversations?metric=sla_missed".to_owned(),
        "/insight/export.csv?by=day&metric=unhappy".to_owned(),
    ])
    .collect();
    let started = Instant::now();
    get(&mut http, &queries[0]).await?;
    let first_query_ms = started.elapsed().as_secs_f64() * 1000.0;
    let server_rss_mb = crate::bench::rss_bytes(server.pid())? as f64 / 1e6;
    // Visitors whose messages change the history between rounds.
    let mut visitors = Vec::new();
    for _ in 0..CHANGES_PER_ROUND {
        let body = serde_json::json!({ "inbox_key": "pk_Web", "locale": "en" });
        let (status, value) = http.request("POST", "/api/v1/widget/session", Some(&body)).await?;
        if status != 200 {
            bail!("widget session: {status} {value}");
        }
        let token = value["token"].as_str().unwrap_or_default().to_owned();
        visitors.push(Http::connect(&server.address, &token).await?);
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); queries.len()];
    for round in 0..rounds {
        for (index, visitor) in visitors.iter_mut().enumerate() {
            let body = serde_json::json!({
                "client_msg_id": format!("r{round}-{index}"), "body": "is my order late?"
            });
            let (status, value) =
                visitor.request("POST", "/api/v1/widget/messages", Some(&body)).await?;
            if status != 201 {
                bail!("widget message: {status} {value}");
            }
        }
        for (index, query) in queries.iter().enumerate() {
            let started = Instant::now();
            get(&mut http, query).await?;
            times[index].push(started.elapsed());
        }
    }
    let queries: Vec<QueryTime> = queries
        .into_iter()
        .zip(times)
        .map(|(query, mut times)| {
            times.sort();
            QueryTime {
                query,
                p50_ms: percentile(&times, 0.5),
                p95_ms: percentile(&times, 0.95),
                max_ms: times.last().map_or(f64::NAN, |max| max.as_secs_f64() * 1000.0),
            }
        })
        .collect();
    let worst_p95_ms = queries.iter().map(|query| query.p95_ms).fold(0.0, f64::max);
    Ok(InsightReport {
        conversations,
        write_conversations_per_sec: written,
        database_mb,
        first_query_ms,
        server_rss_mb,
        queries,
        worst_p95_ms,
    })
}

/// GETs an API report or a console page; only its status matters.
async fn get(http: &mut Http, path: &str) -> anyhow::Result<()> {
    let (status, size) = http.fetch(path).await?;
    if status != 200 {
        bail!("GET {path}: {status} ({size} bytes)");
    }
    Ok(())
}

/// Writes the workspace and its history; returns a supervisor's API token and the write rate
/// (conversations per second).
async fn generate(
    directory: &std::path::Path,
    conversations: usize,
    now: i64,
) -> anyhow::Result<(String, f64)> {
    let mut config = SqliteConfig::new(directory.join("tandem.db"));
    config.synchronous_full = false;
    let sqlite = SqliteStore::open(&config)?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let workspace = store.create_workspace("insight bench").await?.id;
    for (name, channel) in [("Web", Channel::Web), ("Mail", Channel::Email), ("App", Channel::Api)]
    {
        store
            .create_inbox(NewInbox {
                workspace_id: workspace,
                name: name.into(),
                channel,
                public_key: format!("pk_{name}"),
                bot_name: "bot".into(),
            })
            .await?;
    }
    for name in ["pre-sales", "after-sales", "disputes"] {
        store.create_queue(workspace, name, "", QueueRouting::default()).await?;
    }
    let (_, token) =
        user_with_token(&store, workspace, "supervisor@example.com", Role::Supervisor).await?;
    for index in 0..AGENTS {
        store
            .create_user(NewUser {
                workspace_id: workspace,
                email: format!("agent{index}@example.com"),
                display_name: format!("Agent {index}"),
                role: Role::Agent,
                locale: Locale::En,
                password_hash: "unused".into(),
            })
            .await?;
    }
    let mut random = StdRng::seed_from_u64(13);
    let started = Instant::now();
    let mut written = 0;
    while written < conversations {
        let batch: Vec<ImportedConversation> = (written..(written + BATCH).min(conversations))
            .map(|index| conversation(&mut random, index, now))
            .collect();
        written += batch.len();
        store.import_conversations(workspace, batch).await?;
    }
    let rate = conversations as f64 / started.elapsed().as_secs_f64();
    sqlite.close();
    Ok((token, rate))
}

/// One made-up conversation of the last year: more on weekdays and in the afternoon, about half
/// answered by the bot alone, the rest handed off, most resolved, some reopened and rated.
fn conversation(random: &mut StdRng, index: usize, now: i64) -> ImportedConversation {
    let day = random.random_range(0..365i64);
    let hour = (random.random_range(0..24i64) + random.random_range(0..24i64)) / 2;
    let created_at = now - day * DAY_MS - hour * 3_600_000 - random.random_range(0..3_600_000);
    let channel = match random.random_range(0..10) {
        0..7 => Channel::Web,
        7..9 => Channel::Email,
        _ => Channel::Api,
    };
    let topic = format!("topic-{}", random.random_range(0..TOPICS));
    let at = |offset: i64| created_at + offset;
    let mut messages = vec![ImportedMessage {
        author_kind: AuthorKind::Customer,
        body: format!("question about {topic}"),
        at: at(0),
        agent: None,
        source: None,
        sentiment: Some(random.random_range(-1.0..0.5)),
    }];
    let handed_off = random.random_bool(0.45);
    messages.push(ImportedMessage {
        author_kind: AuthorKind::Bot,
        body: "an answer".into(),
        at: at(1_000),
        agent: None,
        source: (!handed_off).then(|| topic.clone()),
        sentiment: None,
    });
    let mut handed_off_at = None;
    let mut resolved_at = Some(at(random.random_range(60_000..1_800_000)));
    if handed_off {
        let handoff = at(random.random_range(5_000..120_000));
        handed_off_at = Some(handoff);
        let waited = random.random_range(10_000..1_200_000);
        messages.push(ImportedMessage {
            author_kind: AuthorKind::Agent,
            body: "a person's answer".into(),
            at: handoff + waited,
            agent: Some(format!("agent{}@example.com", random.random_range(0..AGENTS))),
            source: None,
            sentiment: None,
        });
        resolved_at = random
            .random_bool(0.9)
            .then(|| handoff + waited + random.random_range(60_000..7_200_000));
    }
    if let Some(resolved) = resolved_at.filter(|_| random.random_bool(0.08)) {
        messages.push(ImportedMessage {
            author_kind: AuthorKind::Customer,
            body: "it happened again".into(),
            at: resolved + random.random_range(3_600_000..10 * DAY_MS),
            agent: None,
            source: None,
            sentiment: Some(random.random_range(-1.0..0.0)),
        });
    }
    let queue = handed_off.then(|| ["pre-sales", "after-sales", "disputes"][index % 3].to_owned());
    ImportedConversation {
        external_id: format!("bench-{index}"),
        created_at,
        channel,
        customer_external_id: Some(format!("customer-{}", random.random_range(0..200_000))),
        customer_name: "customer".into(),
        customer_email: None,
        customer_phone: None,
        customer_tier: None,
        queue,
        tags: Vec::new(),
        messages,
        handed_off_at,
        assigned_at: handed_off_at,
        resolved_at,
        csat: random.random_bool(0.3).then(|| random.random_range(1..=5)),
        csat_comment: None,
    }
}

pub fn print(report: &InsightReport) {
    println!(
        "Insight over {} conversations: written at {:.0} conversations/s ({:.0} MB), first query {:.0} ms (loads the working set; server RSS {:.0} MB)",
        report.conversations,
        report.write_conversations_per_sec,
        report.database_mb,
        report.first_query_ms,
        report.server_rss_mb
    );
    for query in &report.queries {
        println!(
            "  {:<70} p50 {:>7.1} ms  p95 {:>7.1} ms  max {:>7.1} ms",
            query.query, query.p50_ms, query.p95_ms, query.max_ms
        );
    }
    println!("Slowest p95: {:.1} ms", report.worst_p95_ms);
}
