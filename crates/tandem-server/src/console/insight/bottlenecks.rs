//! Where conversations wait and where the bot fails, from the handed-off conversations of the
//! period: the first human response by hour of the hand-off, the topics most often handed off
//! after the bot had replied, and the hand-off reasons that grew from the period's first half to
//! its second. (The first response per queue is the report grouped by queue.)

use std::collections::{BTreeMap, HashMap};

use tandem_domain::insight::nearest_rank;
use tandem_domain::{ConversationFacts, Millis, Reason};

/// The hand-offs of one hour of the day.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HourFigures {
    pub(super) hour: i8,
    pub(super) handed_off: usize,
    /// First human response in seconds, over those answered.
    pub(super) frt_p50: Option<f64>,
    pub(super) frt_p90: Option<f64>,
}

/// A topic handed off after the bot had replied.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BotFailure {
    /// Empty for conversations without a topic.
    pub(super) topic: String,
    pub(super) handed_off: usize,
}

/// A reason's hand-offs in the first and the second half of the period.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct GrowingReason {
    pub(super) reason: Reason,
    pub(super) first: usize,
    pub(super) second: usize,
}

/// Topics listed where the bot fails.
const TOP_TOPICS: usize = 10;

/// Hand-offs per hour of the day (`hour_of` in the report's time zone), only hours with any.
pub(super) fn by_hour(
    handed_off: &[&ConversationFacts],
    hour_of: impl Fn(Millis) -> i8,
) -> Vec<HourFigures> {
    let mut hours: BTreeMap<i8, (usize, Vec<Millis>)> = BTreeMap::new();
    for facts in handed_off {
        let Some(at) = facts.handed_off_at else { continue };
        let (count, waits) = hours.entry(hour_of(at)).or_default();
        *count += 1;
        waits.extend(facts.first_response_ms());
    }
    hours
        .into_iter()
        .map(|(hour, (handed_off, mut waits))| HourFigures {
            hour,
            handed_off,
            frt_p50: nearest_rank(&mut waits, 50),
            frt_p90: nearest_rank(&mut waits, 90),
        })
        .collect()
}

/// The topics most often handed off after a bot reply, most first.
pub(super) fn bot_failures(handed_off: &[&ConversationFacts]) -> Vec<BotFailure> {
    let mut topics: HashMap<&str, usize> = HashMap::new();
    for facts in handed_off.iter().filter(|facts| facts.bot_messages > 0) {
        *topics.entry(facts.topic.as_deref().unwrap_or_default()).or_default() += 1;
    }
    let mut failures: Vec<BotFailure> = topics
        .into_iter()
        .map(|(topic, handed_off)| BotFailure { topic: topic.to_owned(), handed_off })
        .collect();
    failures.sort_by(|a, b| b.handed_off.cmp(&a.handed_off).then_with(|| a.topic.cmp(&b.topic)));
    failures.truncate(TOP_TOPICS);
    failures
}

/// Reasons with more hand-offs among conversations created in the second half of the period
/// (from `middle`) than in the first, the largest growth first.
pub(super) fn growing_reasons(
    handed_off: &[&ConversationFacts],
    middle: Millis,
) -> Vec<GrowingReason> {
    let mut counts: BTreeMap<Reason, (usize, usize)> = BTreeMap::new();
    for facts in handed_off {
        for reason in &facts.reasons {
            let (first, second) = counts.entry(*reason).or_default();
            if facts.created_at < middle {
                *first += 1;
            } else {
                *second += 1;
            }
        }
    }
    let mut growing: Vec<GrowingReason> = counts
        .into_iter()
        .filter(|(_, (first, second))| second > first)
        .map(|(reason, (first, second))| GrowingReason { reason, first, second })
        .collect();
    growing.sort_by_key(|grown| std::cmp::Reverse(grown.second - grown.first));
    growing
}

#[cfg(test)]
mod tests {
    use tandem_domain::{Channel, ConversationId, CustomerId, UserId};

    use super::*;

    const HOUR: Millis = 3_600_000;

    fn handed_off(
        id: i64,
        at: Millis,
        topic: Option<&str>,
        reasons: &[Reason],
    ) -> ConversationFacts {
        let mut facts =
            ConversationFacts::new(ConversationId(id), at, Channel::Web, CustomerId(id));
        facts.customer_message(at, None);
        if topic.is_some() {
            facts.bot_message(topic);
        }
        facts.handed_off(at, reasons);
        facts
    }

    #[test]
    fn hours_topics_and_growing_reasons_are_counted_by_hand() {
        let mut answered = handed_off(1, 9 * HOUR, Some("returns"), &[Reason::AsksForHuman]);
        answered.agent_message(9 * HOUR + 120_000, UserId(7));
        let all = [
            answered,
            handed_off(2, 9 * HOUR + 60_000, Some("returns"), &[Reason::Complaint]),
            handed_off(3, 30 * HOUR, Some("shipping"), &[Reason::Complaint]),
            handed_off(4, 31 * HOUR, None, &[Reason::Complaint, Reason::AsksForHuman]),
        ];
        let all: Vec<&ConversationFacts> = all.iter().collect();
        let hour_of = |at: Millis| ((at / HOUR) % 24) as i8;
        let hours = by_hour(&all, hour_of);
        assert_eq!(
            hours,
            [
                HourFigures { hour: 6, handed_off: 1, frt_p50: None, frt_p90: None },
                HourFigures { hour: 7, handed_off: 1, frt_p50: None, frt_p90: None },
                HourFigures { hour: 9, handed_off: 2, frt_p50: Some(120.0), frt_p90: Some(120.0) },
            ]
        );
        let failures = bot_failures(&all);
        assert_eq!(
            failures,
            [
                BotFailure { topic: "returns".into(), handed_off: 2 },
                BotFailure { topic: "shipping".into(), handed_off: 1 },
            ],
            "conversation 4 had no bot reply"
        );
        // The period's middle at 24 h: complaints 1 → 2 grew, asking for a person 1 → 1 did not.
        let growing = growing_reasons(&all, 24 * HOUR);
        assert_eq!(growing, [GrowingReason { reason: Reason::Complaint, first: 1, second: 2 }]);
    }
}
