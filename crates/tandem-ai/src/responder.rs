//! The answer-engine seam.

use async_trait::async_trait;
use tandem_domain::{Conversation, Customer, DecisionRecord, Inbox, Locale, Message, MessageMeta};

use crate::Phrases;

/// Everything an engine may use to answer one customer message.
#[derive(Debug, Clone)]
pub struct Turn {
    pub inbox: Inbox,
    pub customer: Customer,
    pub conversation: Conversation,
    /// The message to answer.
    pub message: Message,
    /// Earlier messages of the conversation, oldest first (the answered message excluded).
    pub history: Vec<Message>,
    /// The language to reply in.
    pub locale: Locale,
}

/// What kind of reply the engine gave; recorded with every bot turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered from knowledge.
    Answer,
    /// Two candidates were close; asked which one.
    Clarify,
    /// Nothing good enough: said so instead of guessing.
    Abstain,
    /// Acknowledged the message without answering it.
    Acknowledge,
}

/// The bot's reply to one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct BotReply {
    pub body: String,
    pub outcome: Outcome,
    /// Hand the conversation to the human queue after replying.
    pub hand_off: bool,
    /// The answer's source and any quick replies.
    pub meta: Option<MessageMeta>,
    /// Why: stored with the message for agents (never shown to the customer).
    pub decision: Option<DecisionRecord>,
}

impl BotReply {
    pub fn text(body: &str, outcome: Outcome, hand_off: bool) -> BotReply {
        BotReply { body: body.to_owned(), outcome, hand_off, meta: None, decision: None }
    }
}

/// An answer engine.
#[async_trait]
pub trait Responder: Send + Sync + 'static {
    async fn respond(&self, turn: &Turn) -> BotReply;
}

/// The engine used until the knowledge engine lands: it never pretends to know an answer. It
/// acknowledges the message and offers a person, and hands off at once when the customer asks
/// for one.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlaceholderResponder;

#[async_trait]
impl Responder for PlaceholderResponder {
    async fn respond(&self, turn: &Turn) -> BotReply {
        let phrases = Phrases::for_locale(turn.locale);
        if asks_for_person(&turn.message.body) {
            return BotReply::text(phrases.handing_off, Outcome::Abstain, true);
        }
        BotReply::text(
            &phrases.acknowledge.replace("{bot}", &turn.inbox.bot_name),
            Outcome::Acknowledge,
            false,
        )
    }
}

/// Whether the customer explicitly asks for a person.
pub(crate) fn asks_for_person(text: &str) -> bool {
    const ZH: &[&str] = &["人工", "转人工", "真人", "找客服", "客服人员"];
    const EN: &[&str] =
        &["human", "agent", "real person", "a person", "someone real", "representative"];
    let lower = text.to_lowercase();
    ZH.iter().any(|phrase| text.contains(phrase))
        || EN.iter().any(|phrase| {
            lower.match_indices(phrase).any(|(start, matched)| {
                let before = lower[..start].chars().next_back();
                let after = lower[start + matched.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            })
        })
}

/// The language of a text: Chinese if it contains Han characters, else English. The knowledge
/// engine brings a real language detector; this is enough to pick reply phrases.
pub fn detect_locale(text: &str) -> Option<Locale> {
    let is_han = |c: char| matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}');
    if text.chars().any(is_han) {
        Some(Locale::Zh)
    } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
        Some(Locale::En)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_requests_for_a_person() {
        let cases = [
            ("转人工", true),
            ("我要找人工客服", true),
            ("Can I talk to a human?", true),
            ("AGENT please", true),
            ("I want a real person", true),
            ("my user agent string is broken", true),
            ("where is my order", false),
            ("humane society", false),
            ("reagent delivery", false),
            ("退货政策", false),
        ];
        for (text, expected) in cases {
            assert_eq!(asks_for_person(text), expected, "{text}");
        }
    }

    #[test]
    fn locale_detection() {
        assert_eq!(detect_locale("我的订单到哪了"), Some(Locale::Zh));
        assert_eq!(detect_locale("订单 20241123001 status"), Some(Locale::Zh));
        assert_eq!(detect_locale("where is my order"), Some(Locale::En));
        assert_eq!(detect_locale("20241123001 ?"), None);
    }
}
