//! Insight: what one conversation amounts to for the reports (its facts), and the KPIs over
//! many, exactly as `PRODUCT.md` defines them. Every report, page, export and API computes its
//! figures here, so they cannot disagree; the store keeps one [`ConversationFacts`] row per
//! conversation current inside the transaction of each change.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use crate::{
    Channel, ConversationId, ConversationState, CustomerId, Millis, QueueId, Reason, UserId,
};

/// How long after its first resolution a customer's message still counts against first-contact
/// resolution.
pub const FCR_WINDOW_MS: Millis = 7 * 24 * 3_600_000;

/// What a report needs to know of one conversation, kept current by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationFacts {
    pub conversation_id: ConversationId,
    pub created_at: Millis,
    pub channel: Channel,
    pub customer_id: CustomerId,
    pub state: ConversationState,
    /// The queue it was last routed to.
    pub queue_id: Option<QueueId>,
    /// The agent who last wrote to the customer (or holds it now).
    pub agent_id: Option<UserId>,
    /// What it was about: an article or action key, a wrap-up's topic, or a cluster of similar
    /// first messages.
    pub topic: Option<String>,
    /// The topic is a cluster's label, which any article, action or person's topic replaces.
    #[serde(default)]
    pub topic_is_cluster: bool,
    pub first_customer_at: Option<Millis>,
    pub customer_messages: u32,
    pub bot_messages: u32,
    pub agent_messages: u32,
    /// The first hand-off to people.
    pub handed_off_at: Option<Millis>,
    /// The first time a person was assigned.
    pub assigned_at: Option<Millis>,
    pub first_agent_at: Option<Millis>,
    /// The first resolution.
    pub resolved_at: Option<Millis>,
    /// The latest resolution.
    pub last_resolved_at: Option<Millis>,
    /// The first customer message after a resolution.
    pub reopened_at: Option<Millis>,
    /// Rating 1–5.
    pub csat: Option<u8>,
    pub sentiment_first: Option<f32>,
    pub sentiment_last: Option<f32>,
    /// Why it was handed off, over all its hand-offs.
    pub reasons: Vec<Reason>,
    pub tags: Vec<String>,
    /// The id in the system it was imported from.
    pub external_id: Option<String>,
}

impl ConversationFacts {
    /// The facts of a conversation that has just started, before its first message.
    pub fn new(
        conversation_id: ConversationId,
        created_at: Millis,
        channel: Channel,
        customer_id: CustomerId,
    ) -> ConversationFacts {
        ConversationFacts {
            conversation_id,
            created_at,
            channel,
            customer_id,
            state: ConversationState::Bot,
            queue_id: None,
            agent_id: None,
            topic: None,
            topic_is_cluster: false,
            first_customer_at: None,
            customer_messages: 0,
            bot_messages: 0,
            agent_messages: 0,
            handed_off_at: None,
            assigned_at: None,
            first_agent_at: None,
            resolved_at: None,
            last_resolved_at: None,
            reopened_at: None,
            csat: None,
            sentiment_first: None,
            sentiment_last: None,
            reasons: Vec::new(),
            tags: Vec::new(),
            external_id: None,
        }
    }

    /// A customer message at `at` with its sentiment (when it was scored).
    pub fn customer_message(&mut self, at: Millis, sentiment: Option<f32>) {
        self.customer_messages += 1;
        self.first_customer_at.get_or_insert(at);
        if let Some(sentiment) = sentiment {
            self.sentiment_first.get_or_insert(sentiment);
            self.sentiment_last = Some(sentiment);
        }
        if self.resolved_at.is_some_and(|resolved| at > resolved) {
            self.reopened_at.get_or_insert(at);
        }
    }

    pub fn agent_message(&mut self, at: Millis, agent: UserId) {
        self.agent_messages += 1;
        self.first_agent_at.get_or_insert(at);
        self.agent_id = Some(agent);
    }

    /// A bot message, with the article or action it answered from.
    pub fn bot_message(&mut self, topic: Option<&str>) {
        self.bot_messages += 1;
        if let Some(topic) = topic.filter(|_| self.topic.is_none() || self.topic_is_cluster) {
            self.topic = Some(topic.to_owned());
            self.topic_is_cluster = false;
        }
    }

    pub fn handed_off(&mut self, at: Millis, reasons: &[Reason]) {
        self.handed_off_at.get_or_insert(at);
        for reason in reasons {
            if !self.reasons.contains(reason) {
                self.reasons.push(*reason);
            }
        }
    }

    pub fn resolved(&mut self, at: Millis) {
        self.resolved_at.get_or_insert(at);
        self.last_resolved_at = Some(at);
    }

    /// Handed off to people at least once.
    pub fn handed_off_to_people(&self) -> bool {
        self.handed_off_at.is_some() || self.agent_messages > 0
    }

    pub fn is_resolved(&self) -> bool {
        self.resolved_at.is_some()
    }

    /// Resolved with no agent message and never handed off.
    pub fn bot_resolved(&self) -> bool {
        self.is_resolved() && !self.handed_off_to_people()
    }

    /// A customer message after a resolution.
    pub fn reopened(&self) -> bool {
        self.is_resolved() && self.reopened_at.is_some()
    }

    /// Resolved and not reopened within [`FCR_WINDOW_MS`] of the first resolution.
    pub fn first_contact_resolved(&self) -> bool {
        match (self.resolved_at, self.reopened_at) {
            (Some(_), None) => true,
            (Some(resolved), Some(reopened)) => reopened - resolved > FCR_WINDOW_MS,
            _ => false,
        }
    }

    /// First human response in milliseconds: from the first hand-off, or from the first
    /// customer message when there was none, to the first agent message.
    pub fn first_response_ms(&self) -> Option<Millis> {
        let answered = self.first_agent_at?;
        let from = self.handed_off_at.or(self.first_customer_at).unwrap_or(self.created_at);
        Some((answered - from).max(0))
    }

    /// From creation to the latest resolution.
    pub fn resolution_ms(&self) -> Option<Millis> {
        Some((self.last_resolved_at? - self.created_at).max(0))
    }

    /// A person's time on it: from the first assignment (or their first message) to the latest
    /// resolution, for resolved conversations a person answered.
    pub fn handle_ms(&self) -> Option<Millis> {
        let first_agent = self.first_agent_at?;
        let from = self.assigned_at.map_or(first_agent, |assigned| assigned.min(first_agent));
        Some((self.last_resolved_at? - from).max(0))
    }

    /// Whether the first human response met the SLA: `None` while it cannot be told yet (not
    /// handed off, or still waiting inside the SLA).
    pub fn sla_met(&self, sla_ms: Millis, now: Millis) -> Option<bool> {
        if !self.handed_off_to_people() {
            return None;
        }
        match self.first_response_ms() {
            Some(waited) => Some(waited <= sla_ms),
            None => {
                let from = self.handed_off_at.unwrap_or(self.created_at);
                (now - from > sla_ms).then_some(false)
            }
        }
    }

    /// Last minus first customer sentiment, for conversations with two or more customer messages.
    pub fn sentiment_shift(&self) -> Option<f32> {
        if self.customer_messages < 2 {
            return None;
        }
        Some(self.sentiment_last? - self.sentiment_first?)
    }

    /// Who handled it: the bot alone, or people.
    pub fn handler(&self) -> Handler {
        if self.handed_off_to_people() { Handler::People } else { Handler::Bot }
    }
}

crate::entities::string_enum! {
    /// Who handled a conversation.
    Handler { Bot = "bot", People = "people", }
}

crate::entities::string_enum! {
    /// How a report groups conversations.
    GroupBy {
        Day = "day",
        Week = "week",
        Channel = "channel",
        Queue = "queue",
        Agent = "agent",
        Topic = "topic",
        /// The bot alone against people.
        Handler = "handler",
    }
}

crate::entities::string_enum! {
    /// Which conversations behind a figure a drill-down lists: each KPI's own population.
    Metric {
        Conversations = "conversations",
        BotResolved = "bot_resolved",
        HandedOff = "handed_off",
        /// With a first human response (the population of `frt_*`).
        Answered = "answered",
        Resolved = "resolved",
        Reopened = "reopened",
        /// Resolved but reopened within the FCR window.
        NotFirstContact = "not_first_contact",
        Rated = "rated",
        /// Rated 1–3.
        Unhappy = "unhappy",
        SlaMet = "sla_met",
        SlaMissed = "sla_missed",
    }
}

/// What a report needs beyond the facts: the clock, the calendar and the queues' SLAs.
#[derive(Debug, Clone)]
pub struct ReportContext {
    pub now: Millis,
    pub time_zone: jiff::tz::TimeZone,
    pub sla_ms: FxHashMap<QueueId, Millis>,
    /// For conversations handed off without a queue.
    pub default_sla_ms: Millis,
}

impl ReportContext {
    pub fn sla_of(&self, queue: Option<QueueId>) -> Millis {
        queue.and_then(|queue| self.sla_ms.get(&queue).copied()).unwrap_or(self.default_sla_ms)
    }

    /// Whether a conversation belongs to a metric's population (and, for
    /// [`Metric::Conversations`], to the report at all).
    pub fn includes(&self, facts: &ConversationFacts, metric: Metric) -> bool {
        match metric {
            Metric::Conversations => true,
            Metric::BotResolved => facts.bot_resolved(),
            Metric::HandedOff => facts.handed_off_to_people(),
            Metric::Answered => facts.first_response_ms().is_some(),
            Metric::Resolved => facts.is_resolved(),
            Metric::Reopened => facts.reopened(),
            Metric::NotFirstContact => facts.is_resolved() && !facts.first_contact_resolved(),
            Metric::Rated => facts.csat.is_some(),
            Metric::Unhappy => facts.csat.is_some_and(|rating| rating <= 3),
            Metric::SlaMet => self.sla(facts) == Some(true),
            Metric::SlaMissed => self.sla(facts) == Some(false),
        }
    }

    fn sla(&self, facts: &ConversationFacts) -> Option<bool> {
        facts.sla_met(self.sla_of(facts.queue_id), self.now)
    }

    /// The calendar day a time falls on, in the report's time zone (`2026-09-03`).
    pub fn day(&self, at: Millis) -> jiff::civil::Date {
        let timestamp =
            jiff::Timestamp::from_millisecond(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        timestamp.to_zoned(self.time_zone.clone()).date()
    }

    /// The start of the day in the report's time zone, in milliseconds.
    pub fn day_start(&self, day: jiff::civil::Date) -> Millis {
        day.to_zoned(self.time_zone.clone())
            .map(|zoned| zoned.timestamp().as_millisecond())
            .unwrap_or(0)
    }

    /// The key a conversation is grouped under (ids as text; the caller names them).
    pub fn key(&self, facts: &ConversationFacts, by: GroupBy) -> String {
        Group::of(facts, by, self, &mut DayMemo::default()).key(self)
    }
}

/// The KPIs of a group of conversations (durations in seconds; `None` when there is nothing
/// to measure). Field names are the report's JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Kpis {
    pub conversations: u64,
    /// Distinct customers among them.
    pub customers: u64,
    pub bot_resolved: u64,
    /// `bot_resolved / conversations` (containment).
    pub bot_resolution_rate: Option<f64>,
    pub handed_off: u64,
    pub handoff_rate: Option<f64>,
    /// Hand-offs by reason (a conversation counts once per reason).
    pub handoff_reasons: BTreeMap<String, u64>,
    pub frt_p50: Option<f64>,
    pub frt_p90: Option<f64>,
    pub resolved: u64,
    pub resolution_p50: Option<f64>,
    pub resolution_p90: Option<f64>,
    pub handle_p50: Option<f64>,
    pub handle_p90: Option<f64>,
    pub reopened: u64,
    /// `reopened / resolved`.
    pub reopen_rate: Option<f64>,
    pub fcr: Option<f64>,
    pub csat_avg: Option<f64>,
    pub csat_score: Option<f64>,
    pub csat_responses: u64,
    pub sla_met: Option<f64>,
    pub sentiment_shift: Option<f64>,
}

/// Accumulates conversations into [`Kpis`].
#[derive(Debug, Default)]
pub struct KpiAccumulator {
    kpis: Kpis,
    /// Every conversation's customer, counted distinct when the figures are worked out
    /// (sorting a list is cheaper than a set over a million conversations, and merging is a copy).
    customers: Vec<i64>,
    frt: Vec<Millis>,
    resolution: Vec<Millis>,
    handle: Vec<Millis>,
    fcr: u64,
    csat_sum: u64,
    csat_good: u64,
    sla_met: u64,
    sla_known: u64,
    shift_sum: f64,
    shifts: u64,
}

impl KpiAccumulator {
    pub fn add(&mut self, facts: &ConversationFacts, context: &ReportContext) {
        let kpis = &mut self.kpis;
        kpis.conversations += 1;
        self.customers.push(facts.customer_id.0);
        if facts.bot_resolved() {
            kpis.bot_resolved += 1;
        }
        if facts.handed_off_to_people() {
            kpis.handed_off += 1;
            for reason in &facts.reasons {
                *kpis.handoff_reasons.entry(reason.as_str().to_owned()).or_default() += 1;
            }
        }
        if let Some(frt) = facts.first_response_ms() {
            self.frt.push(frt);
        }
        if facts.is_resolved() {
            kpis.resolved += 1;
            self.resolution.extend(facts.resolution_ms());
            self.handle.extend(facts.handle_ms());
            if facts.reopened() {
                kpis.reopened += 1;
            }
            if facts.first_contact_resolved() {
                self.fcr += 1;
            }
        }
        if let Some(rating) = facts.csat {
            kpis.csat_responses += 1;
            self.csat_sum += u64::from(rating);
            if rating >= 4 {
                self.csat_good += 1;
            }
        }
        if let Some(met) = context.sla(facts) {
            self.sla_known += 1;
            if met {
                self.sla_met += 1;
            }
        }
        if let Some(shift) = facts.sentiment_shift() {
            self.shift_sum += f64::from(shift);
            self.shifts += 1;
        }
    }

    /// Adds another group's conversations (the report's total is its groups merged, so each
    /// conversation is read once).
    pub fn merge(&mut self, other: &KpiAccumulator) {
        let (kpis, more) = (&mut self.kpis, &other.kpis);
        kpis.conversations += more.conversations;
        kpis.bot_resolved += more.bot_resolved;
        kpis.handed_off += more.handed_off;
        for (reason, count) in &more.handoff_reasons {
            *kpis.handoff_reasons.entry(reason.clone()).or_default() += count;
        }
        kpis.resolved += more.resolved;
        kpis.reopened += more.reopened;
        kpis.csat_responses += more.csat_responses;
        self.customers.extend_from_slice(&other.customers);
        self.frt.extend_from_slice(&other.frt);
        self.resolution.extend_from_slice(&other.resolution);
        self.handle.extend_from_slice(&other.handle);
        self.fcr += other.fcr;
        self.csat_sum += other.csat_sum;
        self.csat_good += other.csat_good;
        self.sla_met += other.sla_met;
        self.sla_known += other.sla_known;
        self.shift_sum += other.shift_sum;
        self.shifts += other.shifts;
    }

    pub fn finish(mut self) -> Kpis {
        let kpis = &mut self.kpis;
        self.customers.sort_unstable();
        self.customers.dedup();
        kpis.customers = self.customers.len() as u64;
        kpis.bot_resolution_rate = ratio(kpis.bot_resolved, kpis.conversations);
        kpis.handoff_rate = ratio(kpis.handed_off, kpis.conversations);
        (kpis.frt_p50, kpis.frt_p90) = percentiles(&mut self.frt);
        (kpis.resolution_p50, kpis.resolution_p90) = percentiles(&mut self.resolution);
        (kpis.handle_p50, kpis.handle_p90) = percentiles(&mut self.handle);
        kpis.reopen_rate = ratio(kpis.reopened, kpis.resolved);
        kpis.fcr = ratio(self.fcr, kpis.resolved);
        kpis.csat_avg =
            (kpis.csat_responses > 0).then(|| self.csat_sum as f64 / kpis.csat_responses as f64);
        kpis.csat_score = ratio(self.csat_good, kpis.csat_responses);
        kpis.sla_met = ratio(self.sla_met, self.sla_known);
        kpis.sentiment_shift = (self.shifts > 0).then(|| self.shift_sum / self.shifts as f64);
        self.kpis
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Nearest-rank p50 and p90 of durations in milliseconds, in seconds.
fn percentiles(values: &mut [Millis]) -> (Option<f64>, Option<f64>) {
    (nearest_rank(values, 50), nearest_rank(values, 90))
}

/// The nearest-rank percentile: the smallest value with at least `p`% of the values at or
/// below it.
pub fn nearest_rank(values: &mut [Millis], p: u32) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * values.len() as u64).div_ceil(100).max(1) as usize;
    let (_, value, _) = values.select_nth_unstable(rank - 1);
    Some(*value as f64 / 1000.0)
}

/// A report: the KPIs of every conversation created in `[from, to)`, and per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub total: Kpis,
    /// One row per group key, in key order (days and weeks in time order).
    pub rows: Vec<ReportRow>,
}

/// One group of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportRow {
    /// The group: a day or week's first day, a channel, a queue, agent or topic id (empty for
    /// conversations without one), `bot` or `people`.
    pub key: String,
    /// What the key names (a queue's or agent's name, an article's title), when it names
    /// something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// A report as `tandem report --json` and `GET /api/v1/reports/kpis` answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportDocument {
    /// The first day (or moment) of the period, as asked or defaulted.
    pub from: String,
    /// The last day of the period (included), or the moment it ends.
    pub to: String,
    pub by: Option<GroupBy>,
    pub total: Kpis,
    pub rows: Vec<ReportRow>,
}

/// A report's period in milliseconds, `[from, to)`.
pub type Period = (Millis, Millis);

/// Days in a report without `from`.
pub const DEFAULT_DAYS: i64 = 30;

/// Reads a report's period: `from` and `to` are days (`2026-09-01`, in the report's time zone;
/// `to` includes its day) or RFC 3339 moments. Without `to` the period ends today (included);
/// without `from` it starts [`DEFAULT_DAYS`] days before its end. Returns the period in
/// milliseconds (`[from, to)`) and how to write each end.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    context: &ReportContext,
) -> Result<(Period, (String, String)), crate::ValidationError> {
    let read =
        |field: &'static str, text: &str, end: bool| -> Result<Millis, crate::ValidationError> {
            let text = text.trim();
            match text.parse::<jiff::civil::Date>() {
                Ok(day) if end => Ok(context.day_start(day.tomorrow().unwrap_or(day))),
                Ok(day) => Ok(context.day_start(day)),
                Err(_) => {
                    let moment = text.parse::<jiff::Timestamp>().map_err(|_| {
                        crate::ValidationError::new(
                            field,
                            crate::Problem::NotADate { value: text.to_owned() },
                        )
                    })?;
                    Ok(moment.as_millisecond())
                }
            }
        };
    let today = context.day(context.now);
    let (to_ms, to_text) = match to {
        Some(text) => (read("to", text, true)?, text.trim().to_owned()),
        None => (context.day_start(today.tomorrow().unwrap_or(today)), today.to_string()),
    };
    let (from_ms, from_text) = match from {
        Some(text) => (read("from", text, false)?, text.trim().to_owned()),
        None => {
            let last = context.day(to_ms - 1);
            let first = last.checked_sub(jiff::Span::new().days(DEFAULT_DAYS - 1)).unwrap_or(last);
            (context.day_start(first), first.to_string())
        }
    };
    if from_ms >= to_ms {
        return Err(crate::ValidationError::new(
            "from",
            crate::Problem::NotADate { value: from_text },
        ));
    }
    Ok(((from_ms, to_ms), (from_text, to_text)))
}

/// Computes a report over conversations created in `[from, to)`.
pub fn report<'a>(
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
    from: Millis,
    to: Millis,
    by: Option<GroupBy>,
    context: &ReportContext,
) -> Report {
    finish(accumulate(facts, from, to, by, context), context)
}

/// Conversations below which a report is not split across threads.
const PARALLEL_FROM: usize = 50_000;

/// [`report`] over the conversations of `facts` that `keep` keeps, read by as many threads as
/// the machine has cores (up to four): a report over a year of a large helpdesk reads a
/// million conversations.
pub fn report_of<T: Borrow<ConversationFacts> + Sync>(
    facts: &[T],
    keep: &(dyn Fn(&ConversationFacts) -> bool + Sync),
    (from, to): (Millis, Millis),
    by: Option<GroupBy>,
    context: &ReportContext,
) -> Report {
    let threads = threads_for(facts.len());
    if threads == 1 {
        let kept = facts.iter().map(Borrow::borrow).filter(|facts| keep(facts));
        return report(kept, from, to, by, context);
    }
    let chunk = facts.len().div_ceil(threads);
    let parts: Vec<Accumulated> = std::thread::scope(|scope| {
        let workers: Vec<_> = facts
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let kept = part.iter().map(Borrow::borrow).filter(|facts| keep(facts));
                    accumulate(kept, from, to, by, context)
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("a report thread panicked")).collect()
    });
    let mut parts = parts.into_iter();
    let mut whole = parts.next().unwrap_or_default();
    for part in parts {
        whole.total.merge(&part.total);
        for (group, accumulator) in part.groups {
            whole.groups.entry(group).or_default().merge(&accumulator);
        }
    }
    finish(whole, context)
}

/// The conversations of `facts` that `keep` keeps, found by as many threads as [`report_of`]
/// uses (a scan of a million conversations is bound by memory, not by the test).
pub fn select<'a>(
    facts: &'a [ConversationFacts],
    keep: &(dyn Fn(&ConversationFacts) -> bool + Sync),
) -> Vec<&'a ConversationFacts> {
    let threads = threads_for(facts.len());
    if threads == 1 {
        return facts.iter().filter(|facts| keep(facts)).collect();
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = facts
            .chunks(facts.len().div_ceil(threads))
            .map(|part| {
                scope.spawn(move || part.iter().filter(|facts| keep(facts)).collect::<Vec<_>>())
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a selecting thread panicked"))
            .collect()
    })
}

/// Threads to read `rows` conversations with: one below [`PARALLEL_FROM`], else the machine's
/// cores, up to four.
fn threads_for(rows: usize) -> usize {
    if rows < PARALLEL_FROM {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |cores| cores.get().min(4))
}

/// A report before its figures are worked out: the ungrouped total, and each group.
#[derive(Default)]
struct Accumulated<'a> {
    total: KpiAccumulator,
    groups: FxHashMap<Group<'a>, KpiAccumulator>,
}

fn accumulate<'a>(
    facts: impl IntoIterator<Item = &'a ConversationFacts>,
    from: Millis,
    to: Millis,
    by: Option<GroupBy>,
    context: &ReportContext,
) -> Accumulated<'a> {
    let mut accumulated = Accumulated::default();
    // Grouped by a key borrowed from the facts (or a day's start), named once at the end: a
    // report over a million conversations allocates per group, not per conversation.
    let mut days = DayMemo::default();
    for facts in facts.into_iter().filter(|facts| (from..to).contains(&facts.created_at)) {
        let Some(by) = by else {
            accumulated.total.add(facts, context);
            continue;
        };
        let group = Group::of(facts, by, context, &mut days);
        accumulated.groups.entry(group).or_default().add(facts, context);
    }
    accumulated
}

/// Works out the figures: grouped, the total is the groups merged (each conversation read once).
fn finish(accumulated: Accumulated<'_>, context: &ReportContext) -> Report {
    let Accumulated { mut total, groups } = accumulated;
    let mut rows: Vec<(Group<'_>, KpiAccumulator)> = groups.into_iter().collect();
    rows.sort_by_key(|(group, _)| *group);
    for (_, group) in &rows {
        total.merge(group);
    }
    Report {
        total: total.finish(),
        rows: rows
            .into_iter()
            .map(|(group, accumulator)| ReportRow {
                key: group.key(context),
                label: None,
                kpis: accumulator.finish(),
            })
            .collect(),
    }
}

/// A report group as it is accumulated: see [`ReportContext::key`] for its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Group<'a> {
    /// A day's or week's first moment.
    Day(Millis),
    Text(&'a str),
    Id(Option<i64>),
}

impl<'a> Group<'a> {
    /// The group `by` puts a conversation in (`days` remembers the last day or week).
    fn of(
        facts: &'a ConversationFacts,
        by: GroupBy,
        context: &ReportContext,
        days: &mut DayMemo,
    ) -> Group<'a> {
        match by {
            GroupBy::Day => Group::Day(days.start(context, facts.created_at, false)),
            GroupBy::Week => Group::Day(days.start(context, facts.created_at, true)),
            GroupBy::Channel => Group::Text(facts.channel.as_str()),
            GroupBy::Handler => Group::Text(facts.handler().as_str()),
            GroupBy::Queue => Group::Id(facts.queue_id.map(|queue| queue.0)),
            GroupBy::Agent => Group::Id(facts.agent_id.map(|agent| agent.0)),
            GroupBy::Topic => Group::Text(facts.topic.as_deref().unwrap_or_default()),
        }
    }

    /// The group's key as reports write it: a day (a week's Monday), a code, an id or a topic.
    fn key(self, context: &ReportContext) -> String {
        match self {
            Group::Day(start) => context.day(start).to_string(),
            Group::Text(text) => text.to_owned(),
            Group::Id(id) => id.map(|id| id.to_string()).unwrap_or_default(),
        }
    }
}

/// The day (or week) the previous conversation fell in: conversations come roughly in time
/// order, so most need no calendar arithmetic.
#[derive(Default)]
struct DayMemo {
    day: Option<(Millis, Millis)>,
    week: Option<(Millis, Millis)>,
}

impl DayMemo {
    fn start(&mut self, context: &ReportContext, at: Millis, week: bool) -> Millis {
        let memo = if week { &mut self.week } else { &mut self.day };
        if let Some((start, end)) = *memo
            && (start..end).contains(&at)
        {
            return start;
        }
        let mut first = context.day(at);
        if week {
            let back = i64::from(first.weekday().to_monday_zero_offset());
            first = first.checked_sub(jiff::Span::new().days(back)).unwrap_or(first);
        }
        let length = if week { 7 } else { 1 };
        let next = first.checked_add(jiff::Span::new().days(length)).unwrap_or(first);
        let (start, end) = (context.day_start(first), context.day_start(next));
        *memo = Some((start, end));
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;
    const DAY: Millis = 24 * 60 * MIN;
    /// 2026-09-07, a Monday, 00:00 UTC.
    const MONDAY: Millis = 1_788_739_200_000;

    fn context() -> ReportContext {
        ReportContext {
            now: MONDAY + 30 * DAY,
            time_zone: jiff::tz::TimeZone::UTC,
            sla_ms: [(QueueId(1), 5 * MIN), (QueueId(2), 60 * MIN)].into_iter().collect(),
            default_sla_ms: 10 * MIN,
        }
    }

    fn conversation(id: i64, customer: i64, at: Millis) -> ConversationFacts {
        ConversationFacts::new(ConversationId(id), at, Channel::Web, CustomerId(customer))
    }

    /// Four conversations whose every figure is worked out by hand below.
    fn history() -> Vec<ConversationFacts> {
        // 1: the bot answers and it is resolved: bot resolved, 10 minutes to resolution.
        let mut bot = conversation(1, 100, MONDAY);
        bot.customer_message(MONDAY, Some(0.0));
        bot.bot_message(Some("return-policy"));
        bot.resolved(MONDAY + 10 * MIN);
        // 2: handed off (anger) at +2 min into queue 1 (SLA 5 min), assigned at +3, the agent
        // answers at +4 (FRT 2 min, SLA met), resolved at +20; reopened 2 days later (not FCR),
        // resolved again at day 2 + 30 min (resolution from created: 2 days 30 minutes). Rated 5.
        // Sentiment -0.8 then 0.4: shift +1.2.
        let mut reopened = conversation(2, 200, MONDAY + DAY);
        reopened.customer_message(MONDAY + DAY, Some(-0.8));
        reopened.bot_message(None);
        reopened.handed_off(MONDAY + DAY + 2 * MIN, &[Reason::Anger, Reason::AsksForHuman]);
        reopened.queue_id = Some(QueueId(1));
        reopened.assigned_at = Some(MONDAY + DAY + 3 * MIN);
        reopened.agent_message(MONDAY + DAY + 4 * MIN, UserId(7));
        reopened.resolved(MONDAY + DAY + 20 * MIN);
        reopened.customer_message(MONDAY + 3 * DAY, Some(0.4));
        reopened.resolved(MONDAY + 3 * DAY + 30 * MIN);
        reopened.csat = Some(5);
        // 3: same customer as 2, no bot (imported from e-mail): FRT from the first customer
        // message, 90 minutes in queue 2 (SLA 60): missed. Resolved at +100 min. Rated 2.
        let mut email = conversation(3, 200, MONDAY + DAY + 12 * 60 * MIN);
        email.channel = Channel::Email;
        email.customer_message(email.created_at, Some(-0.5));
        email.queue_id = Some(QueueId(2));
        email.agent_message(email.created_at + 90 * MIN, UserId(8));
        email.resolved(email.created_at + 100 * MIN);
        email.csat = Some(2);
        // 4: handed off at +1 min with no queue (default SLA 10 min) and never answered:
        // SLA missed (the report's now is a month later), not resolved.
        let mut waiting = conversation(4, 300, MONDAY + 8 * DAY);
        waiting.customer_message(waiting.created_at, None);
        waiting.customer_message(waiting.created_at + MIN, None);
        waiting.handed_off(waiting.created_at + MIN, &[Reason::AsksForHuman]);
        vec![bot, reopened, email, waiting]
    }

    #[test]
    fn every_figure_of_a_hand_built_history() {
        let report = report(&history(), MONDAY, MONDAY + 30 * DAY, None, &context());
        let kpis = report.total;
        assert_eq!(kpis.conversations, 4);
        assert_eq!(kpis.customers, 3);
        assert_eq!(kpis.bot_resolved, 1);
        assert_eq!(kpis.bot_resolution_rate, Some(0.25));
        assert_eq!(kpis.handed_off, 3);
        assert_eq!(kpis.handoff_rate, Some(0.75));
        assert_eq!(
            kpis.handoff_reasons,
            BTreeMap::from([("anger".to_owned(), 1), ("asks_for_human".to_owned(), 2)])
        );
        // FRT: 2 min and 90 min; nearest rank p50 of two values is the first, p90 the second.
        assert_eq!(kpis.frt_p50, Some(120.0));
        assert_eq!(kpis.frt_p90, Some(5400.0));
        assert_eq!(kpis.resolved, 3);
        // Resolution: 10 min, 100 min, 2 days 30 min.
        assert_eq!(kpis.resolution_p50, Some(6000.0));
        assert_eq!(kpis.resolution_p90, Some((2 * DAY + 30 * MIN) as f64 / 1000.0));
        // Handle: conversation 2 from assignment (+3 min) to its last resolution; 3 from its
        // agent's first message to resolution (10 min).
        assert_eq!(kpis.handle_p50, Some(600.0));
        assert_eq!(kpis.handle_p90, Some((2 * DAY + 27 * MIN) as f64 / 1000.0));
        assert_eq!(kpis.reopened, 1);
        assert_eq!(kpis.reopen_rate, Some(1.0 / 3.0));
        assert_eq!(kpis.fcr, Some(2.0 / 3.0));
        assert_eq!(kpis.csat_responses, 2);
        assert_eq!(kpis.csat_avg, Some(3.5));
        assert_eq!(kpis.csat_score, Some(0.5));
        // SLA: 2 met, 3 missed (90 > 60 min), 4 missed (never answered, long past 10 min).
        assert_eq!(kpis.sla_met, Some(1.0 / 3.0));
        // Only conversation 2 has two scored customer messages (4 has two, unscored).
        let shift = kpis.sentiment_shift.unwrap();
        assert!((shift - 1.2).abs() < 1e-6, "{shift}");
    }

    #[test]
    fn a_period_counts_only_conversations_created_in_it() {
        let report = report(&history(), MONDAY + DAY, MONDAY + 2 * DAY, None, &context());
        assert_eq!(report.total.conversations, 2);
        assert_eq!(report.total.bot_resolved, 0);
        let empty = super::report(&history(), 0, 1, None, &context()).total;
        assert_eq!(empty.conversations, 0);
        assert_eq!((empty.handoff_rate, empty.frt_p50, empty.csat_avg), (None, None, None));
    }

    #[test]
    fn groups_by_day_week_channel_and_handler() {
        let history = history();
        let by_day = report(&history, MONDAY, MONDAY + 30 * DAY, Some(GroupBy::Day), &context());
        let days: Vec<(&str, u64)> =
            by_day.rows.iter().map(|row| (row.key.as_str(), row.kpis.conversations)).collect();
        assert_eq!(days, [("2026-09-07", 1), ("2026-09-08", 2), ("2026-09-15", 1)]);
        let by_week = report(&history, MONDAY, MONDAY + 30 * DAY, Some(GroupBy::Week), &context());
        let weeks: Vec<(&str, u64)> =
            by_week.rows.iter().map(|row| (row.key.as_str(), row.kpis.conversations)).collect();
        assert_eq!(weeks, [("2026-09-07", 3), ("2026-09-14", 1)]);
        let by_channel =
            report(&history, MONDAY, MONDAY + 30 * DAY, Some(GroupBy::Channel), &context());
        assert_eq!(by_channel.rows[0].key, "email");
        assert_eq!(by_channel.rows[0].kpis.csat_avg, Some(2.0));
        let by_handler =
            report(&history, MONDAY, MONDAY + 30 * DAY, Some(GroupBy::Handler), &context());
        let handlers: Vec<(&str, u64)> =
            by_handler.rows.iter().map(|row| (row.key.as_str(), row.kpis.conversations)).collect();
        assert_eq!(handlers, [("bot", 1), ("people", 3)]);
        // Days are the report's time zone's: 12:00 UTC is 20:00 the same day in Shanghai,
        // 17:00 UTC is 01:00 the next day there.
        let shanghai = ReportContext {
            time_zone: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
            ..context()
        };
        assert_eq!(shanghai.key(&history[2], GroupBy::Day), "2026-09-08");
        let late = conversation(5, 1, MONDAY + 17 * 60 * MIN);
        assert_eq!(shanghai.key(&late, GroupBy::Day), "2026-09-08");
        assert_eq!(context().key(&late, GroupBy::Day), "2026-09-07");
    }

    #[test]
    fn drill_down_lists_each_figures_population() {
        let history = history();
        let context = context();
        let ids = |metric| -> Vec<i64> {
            history
                .iter()
                .filter(|facts| context.includes(facts, metric))
                .map(|facts| facts.conversation_id.0)
                .collect()
        };
        assert_eq!(ids(Metric::BotResolved), [1]);
        assert_eq!(ids(Metric::HandedOff), [2, 3, 4]);
        assert_eq!(ids(Metric::Answered), [2, 3]);
        assert_eq!(ids(Metric::Reopened), [2]);
        assert_eq!(ids(Metric::NotFirstContact), [2]);
        assert_eq!(ids(Metric::Unhappy), [3]);
        assert_eq!(ids(Metric::SlaMet), [2]);
        assert_eq!(ids(Metric::SlaMissed), [3, 4]);
    }

    #[test]
    fn sla_is_unknown_while_the_wait_is_inside_it() {
        let mut waiting = conversation(1, 1, MONDAY);
        waiting.handed_off(MONDAY, &[]);
        assert_eq!(waiting.sla_met(5 * MIN, MONDAY + 4 * MIN), None);
        assert_eq!(waiting.sla_met(5 * MIN, MONDAY + 6 * MIN), Some(false));
        assert_eq!(conversation(2, 1, MONDAY).sla_met(5 * MIN, MONDAY + DAY), None);
    }

    #[test]
    fn a_reopen_after_the_window_still_counts_as_first_contact() {
        let mut late = conversation(1, 1, MONDAY);
        late.resolved(MONDAY + MIN);
        late.customer_message(MONDAY + MIN + FCR_WINDOW_MS + 1, None);
        assert!(late.reopened());
        assert!(late.first_contact_resolved());
    }

    #[test]
    fn periods_are_days_in_the_reports_zone_or_moments() {
        let context = context();
        let ((from, to), (from_text, to_text)) =
            period(Some("2026-09-07"), Some("2026-09-08"), &context).unwrap();
        assert_eq!((from, to), (MONDAY, MONDAY + 2 * DAY), "to includes its day");
        assert_eq!((from_text.as_str(), to_text.as_str()), ("2026-09-07", "2026-09-08"));
        let ((from, to), _) = period(None, None, &context).unwrap();
        assert_eq!(to - from, DEFAULT_DAYS * DAY);
        assert_eq!(to, MONDAY + 31 * DAY, "up to the end of today");
        let ((from, _), _) = period(Some("2026-09-07T12:00:00Z"), None, &context).unwrap();
        assert_eq!(from, MONDAY + 12 * 60 * MIN);
        assert!(period(Some("yesterday"), None, &context).is_err());
        assert!(period(Some("2026-09-08"), Some("2026-09-07"), &context).is_err());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut values = vec![5_000, 1_000, 3_000, 2_000, 4_000];
        assert_eq!(nearest_rank(&mut values, 50), Some(3.0));
        assert_eq!(nearest_rank(&mut values, 90), Some(5.0));
        assert_eq!(nearest_rank(&mut [7_000], 90), Some(7.0));
        assert_eq!(nearest_rank(&mut [], 50), None);
    }
}
