//! The alerts the console shows an agent beside a conversation a person owns, read from the
//! signals already computed for each customer message (no model of its own): they point at what
//! an agent should not miss while typing, and each has a stable code the catalogue explains.

use tandem_domain::{Millis, Reason};
use tandem_text::{Analysis, Emotion};

/// What an agent is warned of, in the order the console lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertCode {
    AngerRising,
    LegalThreat,
    RegulatedTopic,
    PersonalData,
    VipWaiting,
    SlaBreachSoon,
}

impl AlertCode {
    pub const ALL: [AlertCode; 6] = [
        AlertCode::AngerRising,
        AlertCode::LegalThreat,
        AlertCode::RegulatedTopic,
        AlertCode::PersonalData,
        AlertCode::VipWaiting,
        AlertCode::SlaBreachSoon,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertCode::AngerRising => "anger_rising",
            AlertCode::LegalThreat => "legal_threat",
            AlertCode::RegulatedTopic => "regulated_topic",
            AlertCode::PersonalData => "personal_data",
            AlertCode::VipWaiting => "vip_waiting",
            AlertCode::SlaBreachSoon => "sla_breach_soon",
        }
    }
}

/// How many of the latest customer messages a falling sentiment is read over.
const FALLING_OVER: usize = 3;

/// A conversation waiting for a person, against its queue's first-response SLA target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstReplyWait {
    /// When it (last) started waiting for a person: the SLA clock starts here.
    pub waiting_since: Millis,
    /// When an agent last wrote to the customer, if ever; a reply since `waiting_since` stops
    /// the clock.
    pub last_agent_reply_at: Option<Millis>,
    /// The queue's target from waiting to the first human reply; 0 or less: no target.
    pub sla_ms: Millis,
    /// The share (percent) of the target after which the router counts the conversation at
    /// risk; the alert uses the same line so that the panel and the queue boards agree.
    pub risk_percent: u32,
}

/// Where a waiting conversation stands against its SLA once it is at risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaStanding {
    /// The target is this many milliseconds away.
    DueIn(Millis),
    /// The target passed this many milliseconds ago.
    BreachedFor(Millis),
}

/// Where `wait` stands at `now`: `None` while the first reply is given, the queue has no
/// target, or less than the at-risk share of the target has gone by; the router counts the
/// same way (`now - waiting_since >= sla_ms * risk_percent / 100`).
pub fn sla_standing(wait: &FirstReplyWait, now: Millis) -> Option<SlaStanding> {
    if wait.sla_ms <= 0 || wait.last_agent_reply_at.is_some_and(|at| at >= wait.waiting_since) {
        return None;
    }
    let waited = now.saturating_sub(wait.waiting_since).max(0);
    let risk_after = wait.sla_ms.saturating_mul(Millis::from(wait.risk_percent)) / 100;
    if waited < risk_after {
        return None;
    }
    Some(if waited >= wait.sla_ms {
        SlaStanding::BreachedFor(waited - wait.sla_ms)
    } else {
        SlaStanding::DueIn(wait.sla_ms - waited)
    })
}

/// The alerts of a conversation: `turns` are the customer's messages analysed, oldest first;
/// `vip_waiting` says the customer is of a VIP tier and wrote last; `sla` is where the wait for
/// a person's first reply stands ([`sla_standing`]), when it is at risk.
///
/// Anger is about now (the latest message, or a sentiment that fell with every one of the last
/// messages and ended negative); a legal threat, a regulated topic or personal data stays an
/// alert once any message raised it, since the agent answers the whole conversation.
pub fn alerts(turns: &[Analysis], vip_waiting: bool, sla: Option<SlaStanding>) -> Vec<AlertCode> {
    let raised = |wanted: &[Reason]| {
        turns.iter().any(|turn| turn.reasons.iter().any(|reason| wanted.contains(reason)))
    };
    let mut alerts = Vec::new();
    if anger_rising(turns) {
        alerts.push(AlertCode::AngerRising);
    }
    if raised(&[Reason::LegalThreat]) {
        alerts.push(AlertCode::LegalThreat);
    }
    if raised(&[Reason::RegulatedMedical, Reason::RegulatedLegal, Reason::RegulatedFinancial]) {
        alerts.push(AlertCode::RegulatedTopic);
    }
    if raised(&[Reason::PersonalData]) {
        alerts.push(AlertCode::PersonalData);
    }
    if vip_waiting {
        alerts.push(AlertCode::VipWaiting);
    }
    if sla.is_some() {
        alerts.push(AlertCode::SlaBreachSoon);
    }
    alerts
}

/// The latest message is angry, or the last few messages (at least two) each read more
/// negative than the one before and the latest is negative.
fn anger_rising(turns: &[Analysis]) -> bool {
    let Some(latest) = turns.last() else { return false };
    if latest.emotion == Emotion::Anger {
        return true;
    }
    let recent = &turns[turns.len().saturating_sub(FALLING_OVER)..];
    recent.len() >= 2
        && latest.sentiment < 0.0
        && recent.windows(2).all(|pair| pair[1].sentiment < pair[0].sentiment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(sentiment: f32, emotion: Emotion, reasons: &[Reason]) -> Analysis {
        Analysis {
            language: None,
            sentiment,
            emotion,
            emotion_confidence: 0.9,
            reasons: reasons.to_vec(),
        }
    }

    fn calm() -> Analysis {
        turn(0.0, Emotion::Neutral, &[])
    }

    #[test]
    fn a_calm_conversation_raises_nothing() {
        assert_eq!(alerts(&[], false, None), []);
        assert_eq!(alerts(&[calm(), turn(0.4, Emotion::Joy, &[])], false, None), []);
    }

    #[test]
    fn anger_is_the_latest_message_or_a_steady_fall_into_the_negative() {
        let angry = turn(-0.8, Emotion::Anger, &[Reason::Anger]);
        assert_eq!(alerts(&[calm(), angry.clone()], false, None), [AlertCode::AngerRising]);
        // Angry earlier, calm now: no longer rising.
        assert_eq!(alerts(&[angry, calm()], false, None), []);
        let falling = [
            turn(0.3, Emotion::Neutral, &[]),
            turn(-0.1, Emotion::Frustration, &[]),
            turn(-0.5, Emotion::Frustration, &[]),
        ];
        assert_eq!(alerts(&falling, false, None), [AlertCode::AngerRising]);
        // Falling but still positive, or negative but recovering: not rising.
        let still_positive = [turn(0.8, Emotion::Joy, &[]), turn(0.4, Emotion::Joy, &[])];
        assert_eq!(alerts(&still_positive, false, None), []);
        let recovering = [
            turn(-0.6, Emotion::Frustration, &[]),
            turn(-0.2, Emotion::Frustration, &[]),
            turn(-0.3, Emotion::Frustration, &[]),
        ];
        assert_eq!(alerts(&recovering, false, None), []);
        // One negative message alone is not a trend.
        assert_eq!(alerts(&[turn(-0.5, Emotion::Sadness, &[])], false, None), []);
    }

    #[test]
    fn reasons_raised_by_any_message_stay_and_come_in_order() {
        let turns = [
            turn(0.0, Emotion::Neutral, &[Reason::PersonalData]),
            turn(0.0, Emotion::Neutral, &[Reason::RegulatedFinancial]),
            turn(0.0, Emotion::Neutral, &[Reason::LegalThreat]),
            calm(),
        ];
        assert_eq!(
            alerts(&turns, true, None),
            [
                AlertCode::LegalThreat,
                AlertCode::RegulatedTopic,
                AlertCode::PersonalData,
                AlertCode::VipWaiting
            ]
        );
        let medical = [turn(0.0, Emotion::Neutral, &[Reason::RegulatedMedical])];
        assert_eq!(alerts(&medical, false, None), [AlertCode::RegulatedTopic]);
        let complaint = [turn(-0.2, Emotion::Frustration, &[Reason::Complaint])];
        assert_eq!(alerts(&complaint, false, None), []);
    }

    fn wait(waiting_since: Millis, last_agent_reply_at: Option<Millis>) -> FirstReplyWait {
        FirstReplyWait { waiting_since, last_agent_reply_at, sla_ms: 300_000, risk_percent: 80 }
    }

    #[test]
    fn the_sla_alert_comes_in_the_last_fifth_of_the_target_and_says_when_it_passed() {
        let queued = 1_000_000;
        let waiting = wait(queued, None);
        // Four fifths of five minutes is four minutes: not yet, then at risk exactly there.
        assert_eq!(sla_standing(&waiting, queued + 239_999), None);
        assert_eq!(sla_standing(&waiting, queued + 240_000), Some(SlaStanding::DueIn(60_000)));
        assert_eq!(sla_standing(&waiting, queued + 299_000), Some(SlaStanding::DueIn(1_000)));
        assert_eq!(sla_standing(&waiting, queued + 300_000), Some(SlaStanding::BreachedFor(0)));
        assert_eq!(
            sla_standing(&waiting, queued + 420_000),
            Some(SlaStanding::BreachedFor(120_000))
        );
        let late = sla_standing(&waiting, queued + 420_000);
        assert_eq!(alerts(&[calm()], false, late), [AlertCode::SlaBreachSoon]);
        assert_eq!(
            alerts(&[calm()], true, late),
            [AlertCode::VipWaiting, AlertCode::SlaBreachSoon]
        );
    }

    #[test]
    fn a_reply_since_the_hand_off_or_no_target_means_no_sla_alert() {
        let queued = 1_000_000;
        let late = queued + 600_000;
        // An agent answered after the hand-off: the first reply is given.
        assert_eq!(sla_standing(&wait(queued, Some(queued + 5_000)), late), None);
        // An agent's reply from before the hand-off (an earlier assignment) does not count.
        assert!(sla_standing(&wait(queued, Some(queued - 5_000)), late).is_some());
        let no_target = FirstReplyWait { sla_ms: 0, ..wait(queued, None) };
        assert_eq!(sla_standing(&no_target, late), None);
        // A clock behind the hand-off is no wait at all.
        assert_eq!(sla_standing(&wait(queued, None), queued - 10_000), None);
    }

    #[test]
    fn codes_are_distinct() {
        let codes: std::collections::HashSet<_> =
            AlertCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(codes.len(), AlertCode::ALL.len());
    }
}
