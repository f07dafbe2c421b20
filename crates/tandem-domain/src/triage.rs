//! Triage: when the bot hands a conversation to people, what it hands over, and how people are
//! set up to receive it (skills, capacity, presence, queue rules).
//!
//! These are the records a workspace edits and the store keeps; the decisions that use them live
//! in `tandem-flow` (escalation) and `tandem-routing` (assignment).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::entities::string_enum;
use crate::{Channel, ConversationId, Locale, Millis, QueueId, Source, UserId};

string_enum! {
    /// What happens to a conversation after a customer's message.
    EscalationOutcome {
        /// The bot answers.
        KeepWithBot = "keep_with_bot",
        /// The bot drafts an answer that a person approves before the customer sees it
        /// (regulated topics).
        DraftForApproval = "draft_for_approval",
        /// A person takes over now.
        HandOff = "hand_off",
    }
}

string_enum! {
    /// Why a conversation needs a person, care or masking: every reason code Tandem writes (in
    /// escalation decisions, hand-off packets and webhook payloads) and a policy reads, listed
    /// once. The first ten are raised by a message itself (`tandem_text::signals`); the others
    /// by the conversation so far or by the bot's own turn.
    Reason {
        /// The customer asks for a person instead of the assistant.
        AsksForHuman = "asks_for_human",
        Complaint = "complaint",
        /// The customer is angry (from the emotion the signal models read).
        Anger = "anger",
        /// A threat of lawyers, courts, regulators, the consumer association or the press.
        LegalThreat = "legal_threat",
        RegulatedMedical = "regulated_medical",
        RegulatedLegal = "regulated_legal",
        RegulatedFinancial = "regulated_financial",
        /// A request about the customer's own data or account: access, deletion, privacy.
        Privacy = "privacy",
        /// The message contains personal data (a mobile number, an ID or card number, e-mail).
        PersonalData = "personal_data",
        /// Several questions or numbered points, or a message too long to answer in one go.
        MultiPart = "multi_part",
        /// The bot could not answer several messages in a row.
        AbstainedRepeatedly = "abstained_repeatedly",
        /// The customer asked the same thing again.
        RepeatedQuestion = "repeated_question",
        /// The customer said the answers did not help.
        DidntHelp = "didnt_help",
        /// Anger over several messages, or a sharp fall in mood.
        AngerRising = "anger_rising",
        /// A message more negative than the policy's cut-off.
        VeryNegative = "very_negative",
        /// A customer of a VIP tier in any trouble.
        Vip = "vip",
        /// A business action's call failed.
        ActionFailed = "action_failed",
        /// The bot could not get the details a business action needs.
        ActionGaveUp = "action_gave_up",
    }
}

impl Reason {
    /// The reasons a message raises by itself, in this order: the ones an escalation policy
    /// lists as hand-off or approval reasons.
    pub const OF_A_MESSAGE: &'static [Reason] = &[
        Reason::AsksForHuman,
        Reason::Complaint,
        Reason::Anger,
        Reason::LegalThreat,
        Reason::RegulatedMedical,
        Reason::RegulatedLegal,
        Reason::RegulatedFinancial,
        Reason::Privacy,
        Reason::PersonalData,
        Reason::MultiPart,
    ];

    /// Whether a message raises this reason by itself (see [`Reason::OF_A_MESSAGE`]).
    pub fn of_a_message(self) -> bool {
        Reason::OF_A_MESSAGE.contains(&self)
    }
}

/// A workspace's rules for handing conversations to people. Stored as data and edited in the
/// console; [`EscalationPolicy::default`] is what a new workspace gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationPolicy {
    /// Message reasons that hand off at once (`asks_for_human`, `legal_threat`...).
    pub hand_off_on: Vec<Reason>,
    /// Message reasons for which the bot only drafts and a person approves.
    pub approve_on: Vec<Reason>,
    /// Hand off after the bot could not answer this many customer messages in a row (0 = never).
    pub abstains_in_a_row: u32,
    /// Hand off when the customer asks the same thing this many times (0 = never).
    pub repeats: u32,
    /// Hand off after the customer says this many times that an answer did not help (0 = never).
    pub didnt_help: u32,
    /// Hand off when this many of the customer's last three messages are angry, or when the
    /// mood drops sharply into the negative (0 = never).
    pub anger_turns: u32,
    /// Hand off at once when a message is at least this negative (-1..0; -1 = never).
    pub negative_sentiment: f32,
    /// Customer tiers (the `tier` profile attribute) handed off at the first sign of trouble:
    /// any reason, anger, or a negative message.
    pub vip_tiers: Vec<String>,
    pub updated_at: Millis,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        EscalationPolicy {
            hand_off_on: vec![
                Reason::AsksForHuman,
                Reason::Complaint,
                Reason::LegalThreat,
                Reason::Anger,
                Reason::Privacy,
            ],
            approve_on: vec![
                Reason::RegulatedMedical,
                Reason::RegulatedLegal,
                Reason::RegulatedFinancial,
            ],
            abstains_in_a_row: 2,
            repeats: 3,
            didnt_help: 2,
            anger_turns: 2,
            negative_sentiment: -0.85,
            vip_tiers: vec!["vip".to_owned()],
            updated_at: 0,
        }
    }
}

/// The outcome of the escalation policy for one customer message, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationDecision {
    pub outcome: EscalationOutcome,
    /// The message's own reasons and the conversation's, each once.
    pub reasons: Vec<Reason>,
}

/// One customer message as the signal models read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurnSignal {
    pub seq: i64,
    pub sentiment: f32,
    pub emotion: String,
}

/// A bot reply in the transcript, for the hand-off packet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BotReply {
    pub seq: i64,
    /// `null` when the reply has no decision record (a responder that keeps none); packets
    /// stored before outcomes were typed said `reply` for those.
    #[serde(default, deserialize_with = "known_outcome")]
    pub outcome: Option<crate::TurnOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// An outcome as stored, or `None` for one no build knows.
fn known_outcome<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<crate::TurnOutcome>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.as_deref().and_then(crate::TurnOutcome::parse))
}

/// An article the bot thought the customer was asking about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntentGuess {
    pub article: String,
    pub title: String,
    pub score: f32,
}

/// Something the customer told us (an order number, a phone number), masked when personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entity {
    /// order_number, mobile, id_number, bank_card, email.
    pub kind: String,
    pub value: String,
}

/// The customer as the agent needs to know them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerCard {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Other profile attributes set by the business.
    pub attributes: BTreeMap<String, String>,
    /// Conversations with this workspace, this one included.
    pub conversations: u32,
    /// Of those, how many a person wrote in.
    pub with_people: u32,
    /// The agent who last helped this customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_agent: Option<UserId>,
}

/// Everything a person needs to take over a conversation without reading the transcript:
/// created when the bot hands off, shown as a card at the top of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HandoffPacket {
    pub conversation_id: ConversationId,
    pub created_at: Millis,
    /// Why the conversation came to people (see [`EscalationDecision`]).
    pub reasons: Vec<Reason>,
    pub outcome: EscalationOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Locale>,
    /// A few of the customer's own sentences that state the problem, personal data masked.
    pub summary: String,
    /// The summary the workspace's model wrote for the person taking over, added after the
    /// hand-off when the model is on (see [`ModelSummary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_summary: Option<ModelSummary>,
    pub intents: Vec<IntentGuess>,
    /// Sentiment and emotion of each customer message, oldest first.
    pub emotions: Vec<TurnSignal>,
    pub bot_replies: Vec<BotReply>,
    /// What the bot looked up or did in the business's systems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<crate::ActionRecord>,
    /// A draft reply the bot wrote for a person to approve (regulated topics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
    /// The separate requests of the newest message, when it had several: which the bot
    /// answered (with their sources) and which are left for people (personal data masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<crate::RequestPart>,
    pub entities: Vec<Entity>,
    pub customer: CustomerCard,
    pub skills: Vec<String>,
    pub priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<QueueId>,
}

/// A hand-off summary written by the workspace's model, and what the call took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelSummary {
    /// The summary, if the conversation supports every claim of it; `None`: the model's text
    /// was refused (the record says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub llm: crate::LlmRecord,
}

/// What a resolved conversation came to, computed when it is resolved from its own messages and
/// records (never invented), so whoever reads it later need not read the transcript. A reopened
/// conversation that is resolved again gets a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Wrapup {
    pub conversation_id: ConversationId,
    /// One or two of the conversation's own sentences: what the customer wanted and what was
    /// done, personal data masked.
    pub summary: String,
    pub key_points: Vec<KeyPoint>,
    /// The knowledge article the conversation was about (its title), when one stands out;
    /// a plain field that people may correct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The summary the workspace's model wrote, when it is on and every claim of it checks out
    /// against the conversation; added a moment after the resolution (the extractive summary
    /// stays, and is what the `conversation.resolved` webhook carries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_summary: Option<String>,
    pub created_at: Millis,
}

/// One line of a wrap-up. Its text is the conversation's own (masked) or a code; what kind of
/// line it is is a code, so the console can label it in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyPoint {
    pub kind: KeyPointKind,
    pub text: String,
    /// For an entity, its kind (`order_number`, `amount`, `date`, `mobile`...); for an action,
    /// its outcome code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

string_enum! {
    /// What a wrap-up's key point says.
    KeyPointKind {
        /// What the customer wanted.
        Request = "request",
        /// What the agent or the bot did or answered.
        Done = "done",
        /// A business action that ran, with its outcome.
        Action = "action",
        /// Something the agent promised to do.
        Promise = "promise",
        /// An order number, amount, date or (masked) contact detail.
        Entity = "entity",
        /// A customer question left unanswered after the last reply.
        FollowUp = "follow_up",
    }
}

string_enum! {
    /// Whether an agent takes new conversations.
    Presence {
        /// Takes new conversations up to their capacity.
        Online = "online",
        /// Keeps what they have, gets nothing new.
        Away = "away",
        /// Gets nothing; their open conversations go back to the queue.
        Offline = "offline",
    }
}

/// How an agent receives conversations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentRouting {
    pub user_id: UserId,
    /// Skill name (`refunds`, `lang:zh`) → proficiency 1..=5.
    pub skills: BTreeMap<String, u8>,
    /// Open conversations at once per channel; 0 = does not take the channel.
    pub capacity: BTreeMap<Channel, u32>,
    pub presence: Presence,
    pub presence_at: Millis,
}

impl AgentRouting {
    /// What an agent without settings gets: every channel, a few at a time, offline.
    pub fn new(user_id: UserId) -> AgentRouting {
        AgentRouting {
            user_id,
            skills: BTreeMap::new(),
            capacity: Channel::ALL.iter().map(|channel| (*channel, 3)).collect(),
            presence: Presence::Offline,
            presence_at: 0,
        }
    }
}

/// One opening-hours range: a weekday (0 = Monday) and minutes since local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OpenRange {
    pub weekday: u8,
    pub start_minute: u16,
    pub end_minute: u16,
}

/// How a queue routes: what its agents must know, how fast, and when it is staffed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct QueueRouting {
    /// Skill name → minimum proficiency.
    pub skills: BTreeMap<String, u8>,
    /// Article tags and reason codes that send a conversation to this queue.
    pub topics: Vec<String>,
    /// Target time to the first human reply.
    pub sla_ms: i64,
    /// An agent who has not replied this long after assignment loses the conversation to
    /// someone else.
    pub offer_timeout_ms: i64,
    /// After this long waiting, the skill requirements widen.
    pub widen_after_ms: i64,
    /// Opening hours in `time_zone`'s local time; empty = always open.
    pub hours: Vec<OpenRange>,
    /// Where the opening hours are kept: an IANA zone (daylight saving included) or an offset.
    pub time_zone: crate::TimeZoneName,
}

impl Default for QueueRouting {
    fn default() -> Self {
        QueueRouting {
            skills: BTreeMap::new(),
            topics: Vec::new(),
            sla_ms: 5 * 60_000,
            offer_timeout_ms: 2 * 60_000,
            widen_after_ms: 5 * 60_000,
            hours: Vec::new(),
            time_zone: crate::TimeZoneName::utc(),
        }
    }
}

/// Where a queued conversation stands in routing; kept with the conversation so that routing
/// survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RouteInfo {
    /// Skills the conversation needs beyond its queue's (its topic, its language).
    pub skills: Vec<String>,
    /// From the customer's tier and value and the conversation's emotion; aging is added by the
    /// router.
    pub priority: i64,
    /// When it (last) started waiting for a person.
    pub queued_at: Millis,
    /// Prefer this agent (the customer's previous one) when available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<UserId>,
    /// Agents who let it time out or released it: not offered to them again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<UserId>,
    /// When the current agent was assigned; `None` while waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<Millis>,
    /// When the current agent first replied; until then the assignment is only an offer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<Millis>,
    /// After hours: the conversation stays with the bot as a ticket and joins the queue at this
    /// time (when its queue opens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up_at: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn reasons_have_stable_codes() {
        let codes: Vec<&str> = Reason::ALL.iter().map(|reason| reason.as_str()).collect();
        assert_eq!(
            codes,
            [
                "asks_for_human",
                "complaint",
                "anger",
                "legal_threat",
                "regulated_medical",
                "regulated_legal",
                "regulated_financial",
                "privacy",
                "personal_data",
                "multi_part",
                "abstained_repeatedly",
                "repeated_question",
                "didnt_help",
                "anger_rising",
                "very_negative",
                "vip",
                "action_failed",
                "action_gave_up",
            ]
        );
        for &reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
        assert_eq!(Reason::OF_A_MESSAGE, &Reason::ALL[..10]);
        assert!(Reason::OF_A_MESSAGE.iter().all(|reason| reason.of_a_message()));
        assert!(!Reason::Vip.of_a_message());
    }

    #[test]
    fn a_stored_reply_outcome_no_build_knows_reads_as_none() {
        let read = |json: &str| serde_json::from_str::<super::BotReply>(json).unwrap().outcome;
        assert_eq!(read(r#"{"seq": 2, "outcome": "abstain"}"#), Some(crate::TurnOutcome::Abstain));
        assert_eq!(read(r#"{"seq": 2, "outcome": "reply"}"#), None);
        assert_eq!(read(r#"{"seq": 2, "outcome": null}"#), None);
        assert_eq!(read(r#"{"seq": 2}"#), None);
    }
}
