//! `tandem bench --routing`: how fast the router decides who gets a waiting conversation.
//!
//! One router with 1,000 agents (varied topics, proficiencies, languages and capacities, some
//! away) and 20 queues is loaded with waiting conversations, a first round fills every free
//! slot, and the queue is topped up to 10,000 waiting. Then, round after round, a second of
//! simulated time passes, some held conversations finish (freeing slots) and as many new ones
//! arrive, and a round decides for every waiting conversation of every open queue. Each
//! decision (choosing an agent for one conversation, or finding that nobody eligible has room)
//! is timed on its own.

use std::time::{Duration, Instant};

use tandem_domain::{Channel, ConversationId, Millis, QueueId, UserId};
use tandem_routing::{AgentConfig, ConversationRequest, Presence, QueueConfig, Router};

const AGENTS: i64 = 1_000;
const QUEUES: i64 = 20;
const WAITING: usize = 10_000;
/// Held conversations that finish (and new ones that arrive) between two rounds.
const CHURN: usize = 200;
const MEASURE: Duration = Duration::from_secs(3);
const MINUTE: Millis = 60_000;
/// 2024-01-02 10:00 UTC.
const START: Millis = 1_704_189_600_000;
const TOPICS: [&str; 10] = [
    "refunds", "billing", "delivery", "returns", "warranty", "account", "payment", "invoice",
    "coupon", "tech",
];

/// splitmix64: reproducible, and no dependency for a benchmark's dice.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Debug, serde::Serialize)]
struct Report {
    agents: i64,
    agents_away: usize,
    queues: i64,
    waiting_per_round: usize,
    first_round_decisions: usize,
    first_round_assignments: usize,
    first_round_ms: f64,
    rounds: usize,
    decisions: usize,
    assignments: usize,
    finished: usize,
    decisions_per_sec: f64,
    decision_p50_us: f64,
    decision_p99_us: f64,
    decision_p999_us: f64,
    /// Includes the machine's own hiccups (preemption on a busy 2-core box).
    decision_max_us: f64,
    assigning_decision_p50_us: f64,
    assigning_decision_p99_us: f64,
    wait_estimate_p50_us: f64,
    wait_estimate_p99_us: f64,
    /// Estimates for every waiting conversation of every queue, one `queue_estimates` each.
    all_estimates_ms: f64,
    offers_per_sec: f64,
}

fn new_conversation(dice: &mut Dice, id: i64, now: Millis) -> ConversationRequest {
    let queue = 1 + dice.below(QUEUES as u64) as i64;
    let language = if queue <= 10 { "lang:zh" } else { "lang:en" };
    let mut skills = vec![language.to_owned()];
    if dice.percent(30) {
        skills.push(TOPICS[dice.below(TOPICS.len() as u64) as usize].to_owned());
    }
    let channel = match dice.below(10) {
        0..=5 => Channel::Web,
        6..=8 => Channel::Email,
        _ => Channel::Api,
    };
    ConversationRequest {
        skills,
        priority: [0, 0, 0, 20, 60][dice.below(5) as usize] + if dice.percent(10) { 30 } else { 0 },
        sticky: dice.percent(5).then(|| UserId(1 + dice.below(AGENTS as u64) as i64)),
        ..ConversationRequest::new(
            ConversationId(id),
            QueueId(queue),
            channel,
            now - dice.below(20 * MINUTE as u64) as Millis,
        )
    }
}

fn build(dice: &mut Dice) -> anyhow::Result<(Router, usize)> {
    let mut router = Router::default();
    for id in 1..=QUEUES {
        let topic = TOPICS[(id as usize - 1) % TOPICS.len()];
        let language = if id <= 10 { "lang:zh" } else { "lang:en" };
        router.upsert_queue(QueueConfig {
            skills: [(topic.to_owned(), 1 + (id % 3) as u8), (language.to_owned(), 1)]
                .into_iter()
                .collect(),
            sla_ms: 5 * MINUTE,
            offer_timeout_ms: 2 * MINUTE,
            widen_after_ms: 10 * MINUTE,
            ..QueueConfig::new(QueueId(id))
        })?;
    }
    let mut away = 0;
    for id in 1..=AGENTS {
        let mut skills = std::collections::BTreeMap::new();
        for _ in 0..2 + dice.below(4) {
            let topic = TOPICS[dice.below(TOPICS.len() as u64) as usize];
            skills.insert(topic.to_owned(), 1 + dice.below(5) as u8);
        }
        let chinese = dice.percent(70);
        if chinese {
            skills.insert("lang:zh".to_owned(), 3 + dice.below(3) as u8);
        }
        if !chinese || dice.percent(50) {
            skills.insert("lang:en".to_owned(), 1 + dice.below(5) as u8);
        }
        let presence = if dice.percent(10) {
            away += 1;
            Presence::Away
        } else {
            Presence::Online
        };
        router.add_agent(AgentConfig {
            id: UserId(id),
            skills,
            capacity: [
                (Channel::Web, 2 + dice.below(4) as u32),
                (Channel::Email, dice.below(7) as u32),
                (Channel::Api, dice.below(3) as u32),
            ]
            .into_iter()
            .collect(),
            presence,
            last_assigned_at: None,
        })?;
    }
    Ok((router, away))
}

fn quantile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index] as f64 / 1000.0
}

pub fn run(json: bool) -> anyhow::Result<()> {
    let mut dice = Dice(0x007a_4de3);
    let (mut router, agents_away) = build(&mut dice)?;
    let mut now = START;
    let mut next_id = 0;
    let mut top_up = |router: &mut Router, dice: &mut Dice, now: Millis| -> anyhow::Result<()> {
        while router.waiting_count() < WAITING {
            next_id += 1;
            router.enqueue(new_conversation(dice, next_id, now))?;
        }
        Ok(())
    };
    top_up(&mut router, &mut dice, now)?;

    // The first round fills every free slot (and builds the candidate lists).
    let started = Instant::now();
    let first: Vec<_> = router.round(now).collect();
    let first_round_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut held: Vec<ConversationId> = Vec::new();
    for decision in &first {
        if let Some(assignment) = &decision.assignment {
            router.accepted(assignment.conversation, now)?;
            held.push(assignment.conversation);
        }
    }
    let first_round_assignments = held.len();
    top_up(&mut router, &mut dice, now)?;

    let mut all = Vec::new();
    let mut assigning = Vec::new();
    let mut in_rounds = Duration::ZERO;
    let (mut rounds, mut finished) = (0, 0);
    let measuring = Instant::now();
    while measuring.elapsed() < MEASURE {
        now += 1000;
        for _ in 0..CHURN.min(held.len()) {
            let index = dice.below(held.len() as u64) as usize;
            router.finished(held.swap_remove(index), now)?;
            finished += 1;
        }
        top_up(&mut router, &mut dice, now)?;
        let mut offered = Vec::new();
        let round_started = Instant::now();
        let mut round = router.round(now);
        loop {
            let started = Instant::now();
            let Some(decision) = round.step() else { break };
            let nanos = started.elapsed().as_nanos() as u64;
            all.push(nanos);
            if let Some(assignment) = decision.assignment {
                assigning.push(nanos);
                offered.push(assignment.conversation);
            }
        }
        in_rounds += round_started.elapsed();
        rounds += 1;
        for conversation in offered {
            router.accepted(conversation, now)?;
            held.push(conversation);
        }
    }

    // What a waiting customer's "you are number N, about M minutes" costs.
    let mut estimates = Vec::new();
    for id in (next_id - 2_000..next_id).step_by(2) {
        let started = Instant::now();
        if router.wait_estimate(ConversationId(id), now).is_ok() {
            estimates.push(started.elapsed().as_nanos() as u64);
        }
    }

    let started = Instant::now();
    let mut estimated = 0;
    for queue in 1..=QUEUES {
        estimated += router.queue_estimates(QueueId(queue), now)?.len();
    }
    let all_estimates_ms = started.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(estimated == router.waiting_count(), "every waiting conversation estimated");

    let decisions = all.len();
    let assignments = assigning.len();
    all.sort_unstable();
    assigning.sort_unstable();
    estimates.sort_unstable();
    let report = Report {
        agents: AGENTS,
        agents_away,
        queues: QUEUES,
        waiting_per_round: WAITING,
        first_round_decisions: first.len(),
        first_round_assignments,
        first_round_ms,
        rounds,
        decisions,
        assignments,
        finished,
        decisions_per_sec: decisions as f64 / in_rounds.as_secs_f64(),
        decision_p50_us: quantile(&all, 0.50),
        decision_p99_us: quantile(&all, 0.99),
        decision_p999_us: quantile(&all, 0.999),
        decision_max_us: all.last().map_or(0.0, |&max| max as f64 / 1000.0),
        assigning_decision_p50_us: quantile(&assigning, 0.50),
        assigning_decision_p99_us: quantile(&assigning, 0.99),
        wait_estimate_p50_us: quantile(&estimates, 0.50),
        wait_estimate_p99_us: quantile(&estimates, 0.99),
        all_estimates_ms,
        offers_per_sec: assignments as f64 / in_rounds.as_secs_f64(),
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "Routing ({} agents, {} away; {} queues; {} waiting before each round):",
        report.agents, report.agents_away, report.queues, report.waiting_per_round
    );
    println!(
        "  first round       {} decisions, {} offers in {:.1} ms (builds candidate lists)",
        report.first_round_decisions, report.first_round_assignments, report.first_round_ms
    );
    println!(
        "  steady rounds     {} rounds, {} decisions, {} offers, {} finished between rounds",
        report.rounds, report.decisions, report.assignments, report.finished
    );
    println!(
        "  throughput        {:>10.0} decisions/s ({:.0} offers/s)",
        report.decisions_per_sec, report.offers_per_sec
    );
    println!(
        "  every decision    p50 {:>7.2} µs   p99 {:>7.2} µs   p99.9 {:>7.2} µs   max {:>8.1} µs",
        report.decision_p50_us,
        report.decision_p99_us,
        report.decision_p999_us,
        report.decision_max_us
    );
    println!(
        "  decisions offering p50 {:>6.2} µs   p99 {:>7.2} µs",
        report.assigning_decision_p50_us, report.assigning_decision_p99_us
    );
    println!(
        "  wait estimate     p50 {:>7.2} µs   p99 {:>7.2} µs",
        report.wait_estimate_p50_us, report.wait_estimate_p99_us
    );
    println!(
        "  all {} waiting     {:.1} ms (queue_estimates for each queue)",
        report.waiting_per_round, report.all_estimates_ms
    );
    Ok(())
}
