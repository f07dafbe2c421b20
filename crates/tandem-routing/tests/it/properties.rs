//! Property tests: many seeds of random event sequences (agents come, go, change presence,
//! capacity and skills; conversations arrive, are accepted, declined, time out, finish, are
//! cancelled, transferred and rerouted; rounds run at increasing times), each applied to the
//! router and to the reference model. After every event the answers must agree and the
//! invariants must hold:
//!
//! - an agent's load is the number of conversations placed with them per channel, and it never
//!   grows above capacity except by a forced reroute (lowering capacity keeps what is held);
//! - every live conversation is in exactly one place (waiting, or with exactly one agent);
//!   nothing finished is still known and nothing live is lost;
//! - a round offers only to agents online before it, never to a skipped agent, and leaves them
//!   within capacity;
//! - priority: if a round offers conversation L to agent G, no conversation H of L's queue that
//!   is still waiting after the round and goes ahead of L at `now` could have been offered to G
//!   at the moment L was (G online with room on H's channel, not skipped by H, meeting H's
//!   requirement at `now`).
//!
//! `ROUTING_SEEDS=n` runs more seeds, `ROUTING_SEED=s` one seed. A failure prints its seed and
//! the events that led to it.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tandem_domain::{Channel, ConversationId, Millis, QueueId, UserId};
use tandem_routing::{
    AgentConfig, AssignReason, BusinessHours, ConversationRequest, OpenRange, Presence,
    QueueConfig, Router, RouterConfig,
};

use crate::reference::Reference;
use crate::utc;

const SKILLS: [&str; 5] = ["refunds", "billing", "tech", "lang:zh", "lang:en"];
const AGENTS: i64 = 9;
const EVENTS: usize = 220;

#[derive(Debug, Clone)]
enum Event {
    AddAgent(AgentConfig),
    RemoveAgent(UserId),
    Presence(UserId, Presence),
    Capacity(UserId, BTreeMap<Channel, u32>),
    Skills(UserId, BTreeMap<String, u8>),
    UpsertQueue(QueueConfig),
    Enqueue(ConversationRequest),
    Accept(ConversationId),
    Decline(ConversationId),
    Finish(ConversationId),
    Cancel(ConversationId),
    Transfer(ConversationId, QueueId),
    Reroute(ConversationId, UserId, bool),
    /// Time moves to this instant; offers expire; a round runs.
    Tick(Millis),
}

fn queue_variant(rng: &mut StdRng, id: i64) -> QueueConfig {
    let minute = 60_000;
    match id {
        1 => QueueConfig {
            sla_ms: rng.random_range(1..=4) * minute,
            offer_timeout_ms: 45_000,
            ..QueueConfig::new(QueueId(1))
        },
        2 => QueueConfig {
            skills: [("refunds".to_owned(), rng.random_range(1..=4))].into_iter().collect(),
            sla_ms: 5 * minute,
            offer_timeout_ms: rng.random_range(0..=2) * minute,
            widen_after_ms: rng.random_range(1..=3) * minute,
            ..QueueConfig::new(QueueId(2))
        },
        _ => QueueConfig {
            skills: [("billing".to_owned(), 2), ("lang:zh".to_owned(), 1)].into_iter().collect(),
            sla_ms: 10 * minute,
            widen_after_ms: 150_000,
            offer_timeout_ms: minute,
            // Weekdays 09:00-18:00 in Beijing.
            hours: BusinessHours::new(
                (0..5)
                    .map(|day| OpenRange { weekday: day, start_minute: 540, end_minute: 1080 })
                    .collect(),
                tandem_domain::TimeZoneName::fixed(480).unwrap(),
            ),
            ..QueueConfig::new(QueueId(id))
        },
    }
}

fn random_skills(rng: &mut StdRng) -> BTreeMap<String, u8> {
    let mut skills = BTreeMap::new();
    for name in SKILLS {
        if rng.random_bool(0.5) {
            skills.insert(name.to_owned(), rng.random_range(1..=5));
        }
    }
    skills
}

fn random_capacity(rng: &mut StdRng) -> BTreeMap<Channel, u32> {
    Channel::ALL.iter().map(|&channel| (channel, rng.random_range(0..=3))).collect()
}

fn random_presence(rng: &mut StdRng) -> Presence {
    match rng.random_range(0..10) {
        0..=5 => Presence::Online,
        6..=7 => Presence::Away,
        _ => Presence::Offline,
    }
}

struct Generator {
    rng: StdRng,
    now: Millis,
    next_conversation: i64,
}

impl Generator {
    /// A live conversation most of the time, sometimes any id ever used (or never used).
    fn conversation(&mut self, reference: &Reference) -> ConversationId {
        let live: Vec<ConversationId> = reference.conversations.keys().copied().collect();
        if live.is_empty() || self.rng.random_bool(0.1) {
            ConversationId(self.rng.random_range(0..=self.next_conversation))
        } else {
            live[self.rng.random_range(0..live.len())]
        }
    }

    /// A held conversation if there is one.
    fn held(&mut self, reference: &Reference, accepted: bool) -> ConversationId {
        let held: Vec<ConversationId> = reference
            .conversations
            .iter()
            .filter(|(_, state)| match state.placement {
                tandem_routing::Placement::Offered { .. } => !accepted,
                tandem_routing::Placement::Accepted { .. } => accepted,
                tandem_routing::Placement::Waiting { .. } => false,
            })
            .map(|(&id, _)| id)
            .collect();
        if held.is_empty() {
            self.conversation(reference)
        } else {
            held[self.rng.random_range(0..held.len())]
        }
    }

    fn agent(&mut self) -> UserId {
        UserId(self.rng.random_range(1..=AGENTS))
    }

    fn event(&mut self, reference: &Reference) -> Event {
        let rng = &mut self.rng;
        match rng.random_range(0..100) {
            0..=5 => {
                let id = UserId(rng.random_range(1..=AGENTS));
                Event::AddAgent(AgentConfig {
                    id,
                    skills: random_skills(rng),
                    capacity: random_capacity(rng),
                    presence: random_presence(rng),
                    last_assigned_at: None,
                })
            }
            6 => Event::RemoveAgent(self.agent()),
            7..=11 => {
                let agent = self.agent();
                Event::Presence(agent, random_presence(&mut self.rng))
            }
            12..=13 => {
                let agent = self.agent();
                Event::Capacity(agent, random_capacity(&mut self.rng))
            }
            14 => {
                let agent = self.agent();
                Event::Skills(agent, random_skills(&mut self.rng))
            }
            15 => {
                let id = rng.random_range(1..=3);
                Event::UpsertQueue(queue_variant(rng, id))
            }
            16..=40 => {
                self.next_conversation += 1;
                let skills = SKILLS
                    .iter()
                    .filter(|_| rng.random_bool(0.25))
                    .map(|name| (*name).to_owned())
                    .collect();
                Event::Enqueue(ConversationRequest {
                    conversation: ConversationId(self.next_conversation),
                    queue: QueueId(rng.random_range(1..=3)),
                    channel: Channel::ALL[rng.random_range(0..Channel::ALL.len())],
                    skills,
                    priority: [0, 0, 10, 60, -5][rng.random_range(0..5)],
                    enqueued_at: self.now - rng.random_range(0..=300_000),
                    sticky: rng.random_bool(0.2).then(|| UserId(rng.random_range(1..=AGENTS))),
                    skip: Vec::new(),
                })
            }
            41..=50 => Event::Accept(self.held(reference, false)),
            51..=54 => {
                let accepted = rng.random_bool(0.3);
                Event::Decline(self.held(reference, accepted))
            }
            55..=64 => Event::Finish(self.held(reference, true)),
            65..=68 => Event::Cancel(self.conversation(reference)),
            69..=70 => {
                let conversation = self.conversation(reference);
                Event::Transfer(conversation, QueueId(self.rng.random_range(1..=4)))
            }
            71..=73 => {
                let conversation = self.conversation(reference);
                let agent = self.agent();
                Event::Reroute(conversation, agent, self.rng.random_bool(0.5))
            }
            _ => {
                self.now += match rng.random_range(0..100) {
                    0..=79 => rng.random_range(0..=60_000),
                    80..=96 => rng.random_range(60_000..=600_000),
                    _ => rng.random_range(3_600_000..=6 * 3_600_000),
                };
                Event::Tick(self.now)
            }
        }
    }
}

/// How often the interesting things happened, over all seeds: the test fails if one never
/// does, so that a change to the generator cannot quietly make it vacuous.
#[derive(Debug, Default)]
struct Coverage {
    assignments: usize,
    sticky: usize,
    widened: usize,
    expired: usize,
    released_by_presence: usize,
    closed_rounds: usize,
    rounds_leaving_some_waiting: usize,
    forced_reroutes: usize,
    over_capacity: usize,
}

struct Harness {
    coverage: Coverage,
    router: Router,
    reference: Reference,
    /// Every conversation id ever enqueued.
    seen: BTreeSet<ConversationId>,
    now: Millis,
}

fn ensure(condition: bool, message: impl FnOnce() -> String) {
    if !condition {
        panic!("{}", message());
    }
}

impl Harness {
    fn loads(&self) -> BTreeMap<(UserId, Channel), u32> {
        let mut loads = BTreeMap::new();
        for agent in self.router.agent_ids() {
            let snapshot = self.router.agent_snapshot(agent).unwrap();
            for (channel, load) in snapshot.load {
                loads.insert((agent, channel), load);
            }
        }
        loads
    }

    fn apply(&mut self, event: &Event) {
        let loads_before = self.loads();
        let router = &mut self.router;
        let reference = &mut self.reference;
        let mut forced_to = None;
        match event.clone() {
            Event::AddAgent(config) => {
                let got = router.add_agent(config.clone()).is_ok();
                ensure(got == reference.add_agent(config).is_ok(), || "add_agent".into());
            }
            Event::RemoveAgent(agent) => {
                let got = router.remove_agent(agent).map_err(|_| ());
                self.coverage.released_by_presence += got.as_ref().map_or(0, Vec::len);
                ensure(got == reference.remove_agent(agent), || format!("remove_agent: {got:?}"));
            }
            Event::Presence(agent, presence) => {
                let got = router.set_presence(agent, presence).map_err(|_| ());
                let want = reference.set_presence(agent, presence);
                self.coverage.released_by_presence += got.as_ref().map_or(0, Vec::len);
                ensure(got == want, || format!("set_presence: {got:?} != {want:?}"));
            }
            Event::Capacity(agent, capacity) => {
                let got = router.set_capacity(agent, &capacity).is_ok();
                ensure(got == reference.set_capacity(agent, &capacity).is_ok(), || {
                    "capacity".into()
                });
            }
            Event::Skills(agent, skills) => {
                let got = router.set_skills(agent, &skills).is_ok();
                ensure(got == reference.set_skills(agent, &skills).is_ok(), || "skills".into());
            }
            Event::UpsertQueue(config) => {
                router.upsert_queue(config.clone()).unwrap();
                reference.upsert_queue(config);
            }
            Event::Enqueue(request) => {
                self.seen.insert(request.conversation);
                let got = router.enqueue(request.clone()).is_ok();
                ensure(got == reference.enqueue(request).is_ok(), || "enqueue".into());
            }
            Event::Accept(conversation) => {
                let got = router.accepted(conversation, self.now).is_ok();
                let want = reference.accepted(conversation, self.now).is_ok();
                ensure(got == want, || format!("accepted: {got} != {want}"));
            }
            Event::Decline(conversation) => {
                let got = router.declined(conversation).map_err(|_| ());
                let want = reference.declined(conversation);
                ensure(got == want, || format!("declined: {got:?} != {want:?}"));
            }
            Event::Finish(conversation) => {
                let got = router.finished(conversation, self.now).is_ok();
                ensure(got == reference.remove(conversation).is_ok(), || "finished".into());
            }
            Event::Cancel(conversation) => {
                let got = router.cancelled(conversation).is_ok();
                ensure(got == reference.remove(conversation).is_ok(), || "cancelled".into());
            }
            Event::Transfer(conversation, queue) => {
                let got = router.transfer(conversation, queue).map_err(|_| ());
                let want = reference.transfer(conversation, queue);
                ensure(got == want, || format!("transfer: {got:?} != {want:?}"));
            }
            Event::Reroute(conversation, agent, force) => {
                let got = router.reroute(conversation, agent, self.now, force).map_err(|_| ());
                let want = reference.reroute(conversation, agent, self.now, force);
                let same = match (&got, &want) {
                    (Ok(got), Ok(want)) => {
                        (got.conversation, got.agent, got.deadline)
                            == (want.conversation, want.agent, want.deadline)
                    }
                    (Err(()), Err(())) => true,
                    _ => false,
                };
                ensure(same, || format!("reroute: {got:?} != {want:?}"));
                if force && got.is_ok() {
                    forced_to = Some(agent);
                    self.coverage.forced_reroutes += 1;
                }
            }
            Event::Tick(now) => {
                self.now = now;
                let got = router.expired(now);
                let want = reference.expired(now);
                ensure(got == want, || format!("expired: {got:?} != {want:?}"));
                self.coverage.expired += got.len();
                let before = reference.clone();
                let got = router.assign(now);
                let want = reference.assign(now);
                ensure(got == want, || format!("assign at {now}:\n{got:#?}\n!=\n{want:#?}"));
                check_round(&before, reference, &got, now);
                let coverage = &mut self.coverage;
                coverage.assignments += got.len();
                for assignment in &got {
                    match assignment.reason {
                        AssignReason::Sticky => coverage.sticky += 1,
                        AssignReason::Skills { widened } if widened > 0 => coverage.widened += 1,
                        _ => {}
                    }
                }
                if reference.queues.values().any(|queue| !queue.hours.is_open(now)) {
                    coverage.closed_rounds += 1;
                }
                if !got.is_empty() && reference.waiting().next().is_some() {
                    coverage.rounds_leaving_some_waiting += 1;
                }
            }
        }
        self.check(&loads_before, forced_to);
    }

    /// The invariants after every event, and agreement on where everything is.
    fn check(
        &mut self,
        loads_before: &BTreeMap<(UserId, Channel), u32>,
        forced_to: Option<UserId>,
    ) {
        let router = &self.router;
        let reference = &self.reference;
        // Same conversations, each in exactly one place, the same place.
        ensure(router.conversation_count() == reference.conversations.len(), || {
            format!(
                "{} live, expected {}",
                router.conversation_count(),
                reference.conversations.len()
            )
        });
        for &conversation in &self.seen {
            let got = router.placement(conversation);
            let want = reference.conversations.get(&conversation).map(|state| state.placement);
            ensure(got == want, || format!("{conversation}: {got:?} != {want:?}"));
        }
        let waiting = reference.waiting().count();
        ensure(router.waiting_count() == waiting, || "waiting count".into());
        // Agents: same set; load = what is placed with them; within capacity unless it was
        // already above (capacity lowered) or a forced reroute put it there.
        let agents: Vec<UserId> = reference.agents.keys().copied().collect();
        ensure(router.agent_ids() == agents, || "agent ids".into());
        let mut held_total = 0;
        let mut over_capacity = 0;
        for &agent in &agents {
            let snapshot = router.agent_snapshot(agent).unwrap();
            ensure(snapshot.presence == reference.agents[&agent].presence, || "presence".into());
            let mut listed = snapshot.conversations.clone();
            listed.sort();
            let mut placed: Vec<ConversationId> = reference
                .conversations
                .iter()
                .filter(|(_, state)| state.placement.agent() == Some(agent))
                .map(|(&id, _)| id)
                .collect();
            placed.sort();
            ensure(listed == placed, || {
                format!("agent {agent} holds {listed:?}, expected {placed:?}")
            });
            held_total += listed.len();
            for &channel in Channel::ALL {
                let load = snapshot.load[&channel];
                ensure(load == reference.load(agent, channel), || format!("load of {agent}"));
                let capacity = snapshot.capacity[&channel];
                let before = loads_before.get(&(agent, channel)).copied().unwrap_or(0);
                if load > capacity {
                    over_capacity += 1;
                }
                ensure(load <= capacity || load <= before || forced_to == Some(agent), || {
                    format!("agent {agent} at {load} over capacity {capacity} on {channel:?}")
                });
            }
        }
        ensure(held_total + waiting == reference.conversations.len(), || "held + waiting".into());
        self.coverage.over_capacity += over_capacity;
        // Same place in line for every waiting conversation; the bulk estimates are the
        // single ones.
        for conversation in reference.waiting() {
            let got = router.wait_estimate(conversation, self.now).unwrap().position;
            let want = reference.position(conversation, self.now);
            ensure(got == want, || format!("position of {conversation}: {got} != {want}"));
        }
        for &queue in reference.queues.keys() {
            for (conversation, bulk) in router.queue_estimates(queue, self.now).unwrap() {
                let single = router.wait_estimate(conversation, self.now).unwrap();
                ensure(bulk == single, || format!("{conversation}: {bulk:?} != {single:?}"));
            }
        }
    }
}

/// The round invariants, replaying its offers on the state from before it.
fn check_round(
    before: &Reference,
    after: &Reference,
    assignments: &[tandem_routing::Assignment],
    now: Millis,
) {
    let still_waiting: Vec<ConversationId> = after.waiting().collect();
    let mut state = before.clone();
    let mut offered = BTreeSet::new();
    for assignment in assignments {
        let (low, agent) = (assignment.conversation, assignment.agent);
        ensure(offered.insert(low), || format!("{low} offered twice in one round"));
        ensure(before.agents[&agent].presence == Presence::Online, || {
            format!("{low} offered to {agent} who is not online")
        });
        ensure(!before.conversations[&low].request.skip.contains(&agent), || {
            format!("{low} offered to {agent} who is skipped")
        });
        ensure(state.eligible(low, agent, now), || format!("{agent} was not eligible for {low}"));
        let queue = before.conversations[&low].placement.queue();
        for &high in &still_waiting {
            if before.conversations[&high].placement.queue() == queue
                && state.order_key(high, now) < state.order_key(low, now)
            {
                ensure(!state.eligible(high, agent, now), || {
                    format!("{high} waits ahead of {low} but {agent} could have taken it")
                });
            }
        }
        // Apply the offer to the replayed state.
        let held = state.conversations.get_mut(&low).unwrap();
        held.placement = after.conversations[&low].placement;
        state.agents.get_mut(&agent).unwrap().last_assigned_at = Some(now);
    }
    for assignment in assignments {
        let channel = assignment.channel;
        ensure(
            after.load(assignment.agent, channel) <= after.capacity(assignment.agent, channel),
            || format!("{} left above capacity", assignment.agent),
        );
    }
}

fn run_seed(seed: u64, log: &mut Vec<String>, coverage: &mut Coverage) {
    let mut rng = StdRng::seed_from_u64(seed);
    // A random moment in a week of January 2024, so business hours open and close.
    let now = utc(2024, 1, 1, 0, 0) + rng.random_range(0..7 * 24 * 60) * 60_000;
    let config = RouterConfig {
        aging_points_per_minute: rng.random_range(0..=3),
        sla_risk_boost: rng.random_range(0..=100),
        ..RouterConfig::default()
    };
    let mut generator = Generator { rng, now, next_conversation: 0 };
    let mut harness = Harness {
        coverage: Coverage::default(),
        router: Router::new(config.clone()).unwrap(),
        reference: Reference::new(config.clone()),
        seen: BTreeSet::new(),
        now,
    };
    log.push(format!("config {config:?}, start {now}"));
    let mut setup: Vec<Event> =
        (1..=3).map(|id| Event::UpsertQueue(queue_variant(&mut generator.rng, id))).collect();
    for id in 1..=AGENTS / 2 {
        setup.push(Event::AddAgent(AgentConfig {
            id: UserId(id),
            skills: random_skills(&mut generator.rng),
            capacity: random_capacity(&mut generator.rng),
            presence: Presence::Online,
            last_assigned_at: None,
        }));
    }
    for event in setup {
        log.push(format!("{event:?}"));
        harness.apply(&event);
    }
    for _ in 0..EVENTS {
        let event = generator.event(&harness.reference);
        log.push(format!("{event:?}"));
        harness.apply(&event);
    }
    let seen = harness.coverage;
    coverage.assignments += seen.assignments;
    coverage.sticky += seen.sticky;
    coverage.widened += seen.widened;
    coverage.expired += seen.expired;
    coverage.released_by_presence += seen.released_by_presence;
    coverage.closed_rounds += seen.closed_rounds;
    coverage.rounds_leaving_some_waiting += seen.rounds_leaving_some_waiting;
    coverage.forced_reroutes += seen.forced_reroutes;
    coverage.over_capacity += seen.over_capacity;
}

#[test]
fn router_agrees_with_the_reference_and_keeps_its_invariants() {
    let seeds: Vec<u64> = match std::env::var("ROUTING_SEED") {
        Ok(seed) => vec![seed.parse().expect("ROUTING_SEED is a number")],
        Err(_) => {
            let count = std::env::var("ROUTING_SEEDS").ok().and_then(|n| n.parse().ok());
            (0..count.unwrap_or(200)).collect()
        }
    };
    let many = seeds.len() > 50;
    let mut coverage = Coverage::default();
    for seed in seeds {
        let mut log = Vec::new();
        let run = catch_unwind(AssertUnwindSafe(|| run_seed(seed, &mut log, &mut coverage)));
        if let Err(panic) = run {
            eprintln!(
                "routing property failed with seed {seed} (rerun: ROUTING_SEED={seed}); events:"
            );
            for (index, line) in log.iter().enumerate() {
                eprintln!("{index:4} {line}");
            }
            resume_unwind(panic);
        }
    }
    eprintln!("{coverage:?}");
    if many {
        let Coverage {
            assignments,
            sticky,
            widened,
            expired,
            released_by_presence,
            closed_rounds,
            rounds_leaving_some_waiting,
            forced_reroutes,
            over_capacity,
        } = coverage;
        for (what, count) in [
            ("assignments", assignments),
            ("sticky", sticky),
            ("widened", widened),
            ("expired", expired),
            ("released_by_presence", released_by_presence),
            ("closed_rounds", closed_rounds),
            ("rounds_leaving_some_waiting", rounds_leaving_some_waiting),
            ("forced_reroutes", forced_reroutes),
            ("over_capacity", over_capacity),
        ] {
            assert!(count >= 10, "the generator rarely produces {what}: {count}");
        }
    }
}
