//! The alerts the console shows an agent beside a conversation a person owns, read from the
//! signals already computed for each customer message (no model of its own): they point at what
//! an agent should not miss while typing, and each has a stable code the catalogue explains.

use tandem_domain::Reason;
use tandem_text::{Analysis, Emotion};

/// What an agent is warned of, in the order the console lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertCode {
    AngerRising,
    LegalThreat,
    RegulatedTopic,
    PersonalData,
    VipWaiting,
}

impl AlertCode {
    pub const ALL: [AlertCode; 5] = [
        AlertCode::AngerRising,
        AlertCode::LegalThreat,
        AlertCode::RegulatedTopic,
        AlertCode::PersonalData,
        AlertCode::VipWaiting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertCode::AngerRising => "anger_rising",
            AlertCode::LegalThreat => "legal_threat",
            AlertCode::RegulatedTopic => "regulated_topic",
            AlertCode::PersonalData => "personal_data",
            AlertCode::VipWaiting => "vip_waiting",
        }
    }
}

/// How many of the latest customer messages a falling sentiment is read over.
const FALLING_OVER: usize = 3;

/// The alerts of a conversation: `turns` are the customer's messages analysed, oldest first;
/// `vip_waiting` says the customer is of a VIP tier and wrote last.
///
/// Anger is about now (the latest message, or a sentiment that fell with every one of the last
/// messages and ended negative); a legal threat, a regulated topic or personal data stays an
/// alert once any message raised it, since the agent answers the whole conversation.
pub fn alerts(turns: &[Analysis], vip_waiting: bool) -> Vec<AlertCode> {
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
        assert_eq!(alerts(&[], false), []);
        assert_eq!(alerts(&[calm(), turn(0.4, Emotion::Joy, &[])], false), []);
    }

    #[test]
    fn anger_is_the_latest_message_or_a_steady_fall_into_the_negative() {
        let angry = turn(-0.8, Emotion::Anger, &[Reason::Anger]);
        assert_eq!(alerts(&[calm(), angry.clone()], false), [AlertCode::AngerRising]);
        // Angry earlier, calm now: no longer rising.
        assert_eq!(alerts(&[angry, calm()], false), []);
        let falling = [
            turn(0.3, Emotion::Neutral, &[]),
            turn(-0.1, Emotion::Frustration, &[]),
            turn(-0.5, Emotion::Frustration, &[]),
        ];
        assert_eq!(alerts(&falling, false), [AlertCode::AngerRising]);
        // Falling but still positive, or negative but recovering: not rising.
        let still_positive = [turn(0.8, Emotion::Joy, &[]), turn(0.4, Emotion::Joy, &[])];
        assert_eq!(alerts(&still_positive, false), []);
        let recovering = [
            turn(-0.6, Emotion::Frustration, &[]),
            turn(-0.2, Emotion::Frustration, &[]),
            turn(-0.3, Emotion::Frustration, &[]),
        ];
        assert_eq!(alerts(&recovering, false), []);
        // One negative message alone is not a trend.
        assert_eq!(alerts(&[turn(-0.5, Emotion::Sadness, &[])], false), []);
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
            alerts(&turns, true),
            [
                AlertCode::LegalThreat,
                AlertCode::RegulatedTopic,
                AlertCode::PersonalData,
                AlertCode::VipWaiting
            ]
        );
        let medical = [turn(0.0, Emotion::Neutral, &[Reason::RegulatedMedical])];
        assert_eq!(alerts(&medical, false), [AlertCode::RegulatedTopic]);
        let complaint = [turn(-0.2, Emotion::Frustration, &[Reason::Complaint])];
        assert_eq!(alerts(&complaint, false), []);
    }

    #[test]
    fn codes_are_distinct() {
        let codes: std::collections::HashSet<_> =
            AlertCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(codes.len(), AlertCode::ALL.len());
    }
}
