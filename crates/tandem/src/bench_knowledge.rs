//! `tandem bench --knowledge`: how fast the answer engine builds, how long it takes per
//! question on a large knowledge base, and how soon a published article is answerable through
//! the same responder the server uses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_bot::{DecisionPolicy, KnowledgeResponder};
use tandem_domain::{ArticleStatus, Locale};
use tandem_knowledge::{Article, Engine};
use tandem_store::{NewArticle, SqliteConfig, SqliteStore, Store};

/// Words for synthetic articles: enough variety that articles differ, in both languages.
const WORDS: &[&str] = &[
    "订单",
    "退货",
    "发票",
    "物流",
    "积分",
    "会员",
    "优惠券",
    "支付",
    "退款",
    "换货",
    "保修",
    "快递",
    "地址",
    "手机",
    "耳机",
    "电视",
    "冰箱",
    "尺码",
    "颜色",
    "库存",
    "预售",
    "发货",
    "取消",
    "修改",
    "查询",
    "申请",
    "失败",
    "延迟",
    "破损",
    "缺件",
    "order",
    "refund",
    "invoice",
    "delivery",
    "points",
    "member",
    "coupon",
    "payment",
    "return",
    "exchange",
    "warranty",
    "courier",
    "address",
    "phone",
    "headphones",
    "size",
    "colour",
    "stock",
    "preorder",
    "cancel",
    "change",
    "track",
    "failed",
    "late",
    "damaged",
    "missing",
    "account",
    "password",
    "login",
    "gift",
];

/// A reproducible pseudo-random sentence of `length` words.
fn sentence(seed: u64, length: usize) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            WORDS[(state % WORDS.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn synthetic(count: usize) -> Vec<NewArticle> {
    (0..count)
        .map(|index| NewArticle {
            key: format!("synthetic-{index}"),
            title: format!("{} {index}", sentence(index as u64, 4)),
            answer: sentence(index as u64 + 1_000_003, 20),
            questions: vec![
                sentence(index as u64 + 2_000_003, 6),
                sentence(index as u64 + 3_000_017, 6),
            ],
            tags: Vec::new(),
            language: Some(Locale::Zh),
            effective_from: None,
            expires_at: None,
            channels: Vec::new(),
        })
        .collect()
}

#[derive(Debug, serde::Serialize)]
pub struct KnowledgeReport {
    pub rebuild_articles: usize,
    pub rebuild_articles_per_sec: f64,
    pub question_time: QuestionTime,
    pub publish_to_answerable: Vec<PublishLatency>,
}

/// Engine time per question on a knowledge base of `knowledge_base_articles`.
#[derive(Debug, serde::Serialize)]
pub struct QuestionTime {
    pub knowledge_base_articles: usize,
    pub questions: usize,
    pub p50_us: f64,
    pub p99_us: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct PublishLatency {
    pub knowledge_base_articles: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

fn engine_articles(count: usize) -> Vec<Article> {
    synthetic(count)
        .into_iter()
        .map(|article| Article {
            id: article.key,
            title: article.title,
            questions: article.questions,
            answer: article.answer,
        })
        .collect()
}

/// Times the engine's decision for questions that paraphrase (reorder and shorten) articles'
/// question variants, as customers do.
fn question_time(articles: usize, questions: usize) -> QuestionTime {
    let engine = Engine::build(engine_articles(articles));
    let mut times: Vec<Duration> = (0..questions)
        .map(|index| {
            let seed = (index * 7919 % articles) as u64 + 2_000_003;
            let mut words: Vec<String> = sentence(seed, 6).split(' ').map(str::to_owned).collect();
            words.reverse();
            words.truncate(4);
            let question = words.join(" ");
            let started = Instant::now();
            std::hint::black_box(engine.decide(&question, DecisionPolicy::default()));
            started.elapsed()
        })
        .collect();
    times.sort();
    let quantile = |fraction: f64| {
        times[((times.len() as f64 * fraction).ceil() as usize).clamp(1, times.len()) - 1]
            .as_secs_f64()
            * 1e6
    };
    QuestionTime {
        knowledge_base_articles: articles,
        questions,
        p50_us: quantile(0.5),
        p99_us: quantile(0.99),
    }
}

pub async fn run(rebuild_articles: usize) -> anyhow::Result<KnowledgeReport> {
    tandem_text::analyzer();
    let articles = engine_articles(rebuild_articles);
    let started = Instant::now();
    let engine = Engine::build(articles);
    let rebuild = started.elapsed();
    drop(engine);
    let question_time = question_time(10_000, 5_000);
    let mut publish_to_answerable = Vec::new();
    for size in [12, 1_000] {
        publish_to_answerable.push(publish_latency(size).await?);
    }
    Ok(KnowledgeReport {
        rebuild_articles,
        rebuild_articles_per_sec: rebuild_articles as f64 / rebuild.as_secs_f64(),
        question_time,
        publish_to_answerable,
    })
}

/// Publishes new articles one at a time into a knowledge base of `size` articles and measures
/// from the publish returning until the responder answers the new article's question with it;
/// each publish waits for the previous one's background rebuild, as on an idle server.
async fn publish_latency(size: usize) -> anyhow::Result<PublishLatency> {
    let directory = tempfile::tempdir()?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("kb.db")))?);
    let workspace = store.create_workspace("bench").await?.id;
    store.save_articles(workspace, synthetic(size), ArticleStatus::Published, None).await?;
    let responder = KnowledgeResponder::start(Arc::clone(&store), DecisionPolicy::default());
    responder.rebuild(workspace).await?;
    let mut latencies = Vec::new();
    for round in 0..30 {
        let key = format!("fresh-{round}");
        let question = format!("青花瓷茶具第{round}号能不能用洗碗机清洗");
        let article = NewArticle {
            key: key.clone(),
            title: format!("青花瓷茶具 {round} 号的清洗"),
            answer: "请手洗，不要放进洗碗机。".into(),
            questions: vec![question.clone(), format!("茶具{round}号怎么清洗")],
            tags: Vec::new(),
            language: Some(Locale::Zh),
            effective_from: None,
            expires_at: None,
            channels: Vec::new(),
        };
        store.save_articles(workspace, vec![article], ArticleStatus::Published, None).await?;
        let published = Instant::now();
        loop {
            let (decision, found) = responder.explain(workspace, &question, None).await?;
            if decision.answer().is_some()
                && found.first().is_some_and(|article| article.key == key)
            {
                break;
            }
            if published.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("article {key} never became answerable");
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(published.elapsed());
        // Measure each publish on an idle server: let the background rebuild finish first.
        let settling = Instant::now();
        while !responder.is_settled(workspace) && settling.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    latencies.sort();
    let quantile = |fraction: f64| {
        latencies
            [((latencies.len() as f64 * fraction).ceil() as usize).clamp(1, latencies.len()) - 1]
            .as_secs_f64()
            * 1000.0
    };
    Ok(PublishLatency {
        knowledge_base_articles: size + 1,
        p50_ms: quantile(0.5),
        p99_ms: quantile(0.99),
    })
}
