//! The hand-off card at the top of a conversation handed to people: the hand-off packet with
//! the names it only refers to (the previous agent, the queue) and the bot's replies it cites.

use tandem_domain::{AuthorKind, ConversationState, EscalationOutcome, HandoffPacket, Message};

use crate::console::format_time;
use crate::i18n::Text;

/// The hand-off packet as a card at the top of the conversation: why it came to people, the
/// problem in the customer's words, how they feel, what the bot said, and who they are.
#[derive(Debug)]
pub struct HandoffView {
    /// Shown open while the conversation waits for or is with a person.
    pub open: bool,
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    /// (code, label)
    pub reasons: Vec<(&'static str, &'static str)>,
    pub summary: String,
    /// The model's summary, when it wrote one the conversation supports.
    pub model_summary: Option<String>,
    pub language: String,
    pub emotions: Vec<EmotionChip>,
    /// (article key, title, score as text, score 0..1)
    pub intents: Vec<(String, String, String, f32)>,
    pub bot_replies: Vec<BotReplyView>,
    /// (label, value), personal data already masked
    pub entities: Vec<(String, String)>,
    /// What the bot looked up or did: (action key, outcome, parameters).
    pub actions: Vec<(String, &'static str, String)>,
    pub customer: CustomerCardView,
    pub skills: String,
    pub priority: i64,
    pub queue: Option<String>,
    pub draft: Option<String>,
    /// The separate requests of the newest message, when it had several.
    pub parts: Vec<PartView>,
    /// No person has replied since the hand-off: the draft can still be approved as it is.
    pub draft_pending: bool,
    /// Approving twice sends the draft once.
    pub draft_msg_id: String,
    pub time: String,
    pub timestamp: i64,
}

/// One customer message's emotion and sentiment.
#[derive(Debug)]
pub struct EmotionChip {
    pub seq: i64,
    pub emotion: String,
    pub label: String,
    pub sentiment: String,
    /// neg, neu or pos: the chip's colour.
    pub tone: &'static str,
}

#[derive(Debug)]
pub struct BotReplyView {
    pub seq: i64,
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    pub body: String,
    /// (article key, title, version)
    pub source: Option<(String, String, i64)>,
}

/// One of several requests in a message: answered by the bot from an article, or left for the
/// person taking over.
#[derive(Debug)]
pub struct PartView {
    pub text: String,
    pub left: bool,
    /// (article key, title, version) of the answer
    pub source: Option<(String, String, i64)>,
}

impl PartView {
    pub(super) fn of(part: &tandem_domain::RequestPart) -> PartView {
        PartView {
            text: part.text.clone(),
            left: part.left_for_people(),
            source: part
                .source
                .as_ref()
                .map(|source| (source.article.clone(), source.title.clone(), source.version)),
        }
    }
}

#[derive(Debug)]
pub struct CustomerCardView {
    pub name: String,
    pub tier: Option<String>,
    pub value: Option<String>,
    pub history: String,
    pub previous_agent: Option<String>,
}

/// A sentiment's colour: neg, neu or pos.
pub(super) fn tone(sentiment: f32) -> &'static str {
    if sentiment <= -0.3 {
        "neg"
    } else if sentiment >= 0.3 {
        "pos"
    } else {
        "neu"
    }
}

/// The first `limit` characters of `text`, with an ellipsis when cut.
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    text.chars().take(limit.saturating_sub(1)).collect::<String>() + "…"
}

/// What the card needs beyond the packet: names the packet only refers to.
pub(super) struct CardContext<'a> {
    pub(super) state: ConversationState,
    pub(super) messages: &'a [Message],
    pub(super) previous_agent: Option<String>,
    pub(super) queue: Option<String>,
}

pub(super) fn handoff_view(
    text: &'static Text,
    packet: HandoffPacket,
    context: CardContext<'_>,
) -> HandoffView {
    let CardContext { state, messages, previous_agent, queue } = context;
    let draft_pending = packet.draft.is_some()
        && state != ConversationState::Resolved
        && !messages.iter().any(|message| {
            message.author_kind == AuthorKind::Agent && message.created_at >= packet.created_at
        });
    let (outcome_label, outcome) = match packet.outcome {
        EscalationOutcome::DraftForApproval => (&text.handoff_outcome_draft, "draft_for_approval"),
        _ => (&text.handoff_outcome_hand_off, "hand_off"),
    };
    let label = |known: Option<&'static str>, code: &str| known.unwrap_or(code).to_owned();
    HandoffView {
        open: matches!(state, ConversationState::Queued | ConversationState::Human),
        outcome,
        outcome_label,
        reasons: packet
            .reasons
            .iter()
            .map(|&reason| (reason.as_str(), text.reason(reason)))
            .collect(),
        summary: packet.summary,
        model_summary: packet.model_summary.and_then(|summary| summary.text),
        language: match packet.language {
            Some(tandem_domain::Locale::Zh) => "中文".to_owned(),
            Some(tandem_domain::Locale::En) => "English".to_owned(),
            None => String::new(),
        },
        emotions: packet
            .emotions
            .iter()
            .map(|turn| EmotionChip {
                seq: turn.seq,
                label: label(text.emotion(&turn.emotion), &turn.emotion),
                emotion: turn
                    .emotion
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
                sentiment: format!("{:+.2}", turn.sentiment),
                tone: tone(turn.sentiment),
            })
            .collect(),
        intents: packet
            .intents
            .iter()
            .map(|intent| {
                let score = intent.score.clamp(0.0, 1.0);
                (intent.article.clone(), intent.title.clone(), format!("{score:.2}"), score)
            })
            .collect(),
        bot_replies: packet
            .bot_replies
            .iter()
            .map(|reply| BotReplyView {
                seq: reply.seq,
                outcome: reply.outcome.map_or("reply", |outcome| outcome.as_str()),
                outcome_label: text.bot_outcome(reply.outcome),
                body: messages
                    .iter()
                    .find(|message| message.seq == reply.seq)
                    .map(|message| shorten(&message.body, 160))
                    .unwrap_or_default(),
                source: reply
                    .source
                    .as_ref()
                    .map(|source| (source.article.clone(), source.title.clone(), source.version)),
            })
            .collect(),
        entities: packet
            .entities
            .iter()
            .map(|entity| {
                (label(text.entity_kind(&entity.kind), &entity.kind), entity.value.clone())
            })
            .collect(),
        actions: packet
            .actions
            .iter()
            .map(|action| {
                let params = super::params_line(&action.params);
                (action.action.clone(), action.outcome.as_str(), params)
            })
            .collect(),
        customer: CustomerCardView {
            name: packet.customer.name.clone(),
            tier: packet.customer.tier.clone(),
            value: packet.customer.value.clone(),
            history: text
                .conversation_history(packet.customer.conversations, packet.customer.with_people),
            previous_agent,
        },
        skills: packet.skills.join(", "),
        priority: packet.priority,
        queue,
        draft_msg_id: format!("handoff-draft-{}-{}", packet.conversation_id.0, packet.created_at),
        draft: packet.draft,
        parts: packet.parts.iter().map(PartView::of).collect(),
        draft_pending,
        time: format_time(packet.created_at),
        timestamp: packet.created_at,
    }
}
