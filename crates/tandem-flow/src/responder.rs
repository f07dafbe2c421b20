//! The answer-engine seam.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tandem_domain::{
    Conversation, ConversationId, Customer, CustomerId, DecisionRecord, Inbox, InboxId, Locale,
    Message, MessageMeta, TurnOutcome, WorkspaceId,
};
use tokio::sync::broadcast;

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
    /// Where to show the reply while it is being written; `None` when it must not be shown
    /// before it is complete (a draft for a person's approval).
    pub drafts: Option<DraftSink>,
}

/// A bot reply being written, shown to the customer before it is stored. Drafts are not
/// persisted: the stored message replaces the draft, and a draft whose reply is not sent is
/// withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub workspace_id: WorkspaceId,
    pub inbox_id: InboxId,
    pub customer_id: CustomerId,
    pub conversation_id: ConversationId,
    /// The seq of the customer message the reply answers.
    pub reply_to: i64,
    /// The reply so far (each draft carries all of it); empty when `done`.
    pub text: String,
    /// The draft is over: the reply was stored, or will not be sent.
    pub done: bool,
}

/// Publishes one turn's drafts.
#[derive(Debug, Clone)]
pub struct DraftSink {
    sender: broadcast::Sender<Arc<Draft>>,
    draft: Draft,
    used: Arc<AtomicBool>,
}

impl DraftSink {
    pub fn new(sender: broadcast::Sender<Arc<Draft>>, turn: &Turn) -> DraftSink {
        DraftSink {
            sender,
            draft: Draft {
                workspace_id: turn.inbox.workspace_id,
                inbox_id: turn.inbox.id,
                customer_id: turn.customer.id,
                conversation_id: turn.conversation.id,
                reply_to: turn.message.seq,
                text: String::new(),
                done: false,
            },
            used: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Shows `text` as the reply so far.
    pub fn show(&self, text: &str) {
        self.used.store(true, Ordering::Relaxed);
        let _ = self.sender.send(Arc::new(Draft { text: text.to_owned(), ..self.draft.clone() }));
    }

    /// Ends the draft, if anything was shown.
    pub fn finish(&self) {
        if self.used.swap(false, Ordering::Relaxed) {
            let _ = self.sender.send(Arc::new(Draft { done: true, ..self.draft.clone() }));
        }
    }
}

/// The bot's reply to one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct BotReply {
    pub body: String,
    /// What kind of reply it is; recorded with the turn.
    pub outcome: TurnOutcome,
    /// Hand the conversation to the human queue after replying.
    pub hand_off: bool,
    /// The answer's source and any quick replies.
    pub meta: Option<MessageMeta>,
    /// Why: stored with the message for agents (never shown to the customer).
    pub decision: Option<DecisionRecord>,
}

impl BotReply {
    pub fn text(body: &str, outcome: TurnOutcome, hand_off: bool) -> BotReply {
        BotReply { body: body.to_owned(), outcome, hand_off, meta: None, decision: None }
    }
}

/// An answer engine.
#[async_trait]
pub trait Responder: Send + Sync + 'static {
    async fn respond(&self, turn: &Turn) -> BotReply;

    /// What the engine reads `text` as, without answering it: the articles it is about, for a
    /// hand-off decided before the bot's turn ("我要退货，转人工" is about returns). `None` when
    /// it matches nothing well enough to say (or the engine has no knowledge).
    async fn read(&self, _inbox: &Inbox, _text: &str) -> Option<DecisionRecord> {
        None
    }

    /// A summary of a conversation handed to people, for the person taking over, written by
    /// the workspace's model; `None` when there is none to ask (the extractive summary of the
    /// packet is then all there is).
    async fn hand_off_summary(
        &self,
        _workspace: WorkspaceId,
        _messages: &[Message],
        _locale: Locale,
    ) -> Option<tandem_domain::ModelSummary> {
        None
    }

    /// A summary of a conversation just resolved, for its wrap-up, written by the workspace's
    /// model; `None` when there is none to ask (the extractive summary is then all there is).
    async fn wrapup_summary(
        &self,
        _workspace: WorkspaceId,
        _messages: &[Message],
        _locale: Locale,
    ) -> Option<tandem_domain::ModelSummary> {
        None
    }
}

/// A responder without knowledge, for relays that do not answer: it never pretends to know an
/// answer. It acknowledges the message and offers a person, and hands off at once when the
/// customer asks for one.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlaceholderResponder;

#[async_trait]
impl Responder for PlaceholderResponder {
    async fn respond(&self, turn: &Turn) -> BotReply {
        let phrases = Phrases::for_channel(turn.locale, turn.inbox.channel);
        if tandem_text::signals::asks_for_person(&turn.message.body) {
            return BotReply::text(phrases.handing_off, TurnOutcome::Abstain, true);
        }
        BotReply::text(
            &phrases.acknowledge.replace("{bot}", &turn.inbox.bot_name),
            TurnOutcome::Acknowledge,
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
