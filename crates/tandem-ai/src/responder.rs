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

impl Outcome {
    /// The name decision records use.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answer => "answer",
            Outcome::Clarify => "clarify",
            Outcome::Abstain => "abstain",
            Outcome::Acknowledge => "acknowledge",
        }
    }
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

/// A responder without knowledge, for relays that do not answer: it never pretends to know an
/// answer. It acknowledges the message and offers a person, and hands off at once when the
/// customer asks for one.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlaceholderResponder;

#[async_trait]
impl Responder for PlaceholderResponder {
    async fn respond(&self, turn: &Turn) -> BotReply {
        let phrases = Phrases::for_locale(turn.locale);
        if tandem_text::signals::asks_for_person(&turn.message.body) {
            return BotReply::text(phrases.handing_off, Outcome::Abstain, true);
        }
        BotReply::text(
            &phrases.acknowledge.replace("{bot}", &turn.inbox.bot_name),
            Outcome::Acknowledge,
            false,
        )
    }
}

/// The language of a text, if it has letters: Chinese when Chinese characters carry it.
pub fn detect_locale(text: &str) -> Option<Locale> {
    tandem_text::detect_language(text).map(|lang| match lang {
        tandem_text::Lang::Zh => Locale::Zh,
        tandem_text::Lang::En => Locale::En,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_detection() {
        assert_eq!(detect_locale("我的订单到哪了"), Some(Locale::Zh));
        assert_eq!(detect_locale("订单 20241123001 status"), Some(Locale::Zh));
        assert_eq!(detect_locale("where is my order"), Some(Locale::En));
        assert_eq!(detect_locale("20241123001 ?"), None);
    }
}
