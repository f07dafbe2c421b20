//! The relay: the conversation flow between the customer, the bot and the people.

use std::sync::Arc;

use tandem_domain::{
    AuthorKind, Conversation, ConversationState, Customer, Inbox, Locale, Message, Transition,
    TransitionError, User, ValidationError, validate,
};
use tandem_store::{Appended, MessageTarget, NewMessage, Store, StoreError};

use crate::{Phrases, Responder, Turn, detect_locale};

/// How many earlier messages an engine sees.
const HISTORY_FOR_ENGINE: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message a customer sends.
#[derive(Debug, Clone)]
pub struct CustomerSend {
    pub inbox: Inbox,
    pub customer: Customer,
    pub client_msg_id: Option<String>,
    pub body: String,
}

/// Runs the conversation flow. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn Store>,
    responder: Arc<dyn Responder>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Relay")
    }
}

impl Relay {
    pub fn new(store: Arc<dyn Store>, responder: Arc<dyn Responder>) -> Relay {
        Relay { store, responder }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Stores a customer's message in their current conversation (starting or reopening it as
    /// needed) and returns once it is durable. If the bot owns the conversation, the bot's
    /// turn then runs in the background; its reply arrives through the change feed.
    pub async fn customer_message(&self, send: CustomerSend) -> Result<Appended, RelayError> {
        let body = validate::message_body(&send.body)?;
        let client_msg_id =
            send.client_msg_id.as_deref().map(validate::client_msg_id).transpose()?;
        let appended = self
            .store
            .append_message(NewMessage {
                target: MessageTarget::CustomerLatest {
                    inbox_id: send.inbox.id,
                    customer_id: send.customer.id,
                },
                author_kind: AuthorKind::Customer,
                author_id: None,
                author_name: Some(send.customer.name.clone()),
                body,
                client_msg_id,
                reopen_if_resolved: true,
                only_while_bot_owns: false,
                meta: None,
                decision: None,
            })
            .await?;
        if appended.created && appended.conversation.state.bot_may_reply() {
            let relay = self.clone();
            let appended = appended.clone();
            tokio::spawn(async move {
                let conversation = appended.conversation.id;
                if let Err(error) = relay.bot_turn(send.inbox, send.customer, appended).await {
                    tracing::warn!(conversation_id = %conversation, %error, "bot turn failed");
                }
            });
        }
        Ok(appended)
    }

    /// Lets the engine answer one customer message. Returns the bot's message, or `None` when
    /// a person took the conversation before the reply could be posted.
    pub async fn bot_turn(
        &self,
        inbox: Inbox,
        customer: Customer,
        appended: Appended,
    ) -> Result<Option<Message>, RelayError> {
        let conversation = appended.conversation.id;
        let mut history = self
            .store
            .messages(
                conversation,
                (appended.message.seq - 1 - i64::from(HISTORY_FOR_ENGINE)).max(0),
                HISTORY_FOR_ENGINE,
            )
            .await?;
        history.retain(|message| {
            message.seq < appended.message.seq && message.author_kind.visible_to_customer()
        });
        let locale = reply_locale(&appended.message.body, &customer);
        let turn = Turn {
            inbox: inbox.clone(),
            customer,
            conversation: appended.conversation,
            message: appended.message,
            history,
            locale,
        };
        let reply = self.responder.respond(&turn).await;
        let posted = self
            .store
            .append_message(NewMessage {
                target: MessageTarget::Conversation(conversation),
                author_kind: AuthorKind::Bot,
                author_id: None,
                author_name: Some(inbox.bot_name.clone()),
                body: reply.body,
                // One bot reply per customer message, even if the turn is retried.
                client_msg_id: Some(format!("bot:{}", turn.message.id)),
                reopen_if_resolved: false,
                only_while_bot_owns: true,
                meta: reply.meta,
                decision: reply.decision,
            })
            .await;
        let message = match posted {
            Ok(appended) => appended.message,
            Err(StoreError::Conflict(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        if reply.hand_off {
            match self.store.transition(conversation, Transition::Escalate, None).await {
                Ok(_) | Err(StoreError::Transition(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(Some(message))
    }

    /// The customer asks for a person: their conversation (started now if there is none)
    /// joins the queue, and they are told so in their language.
    pub async fn request_person(
        &self,
        inbox: &Inbox,
        customer: &Customer,
    ) -> Result<Conversation, RelayError> {
        let latest = self.store.latest_conversation(inbox.id, customer.id).await?;
        let locale = match &latest {
            Some(conversation) => self.conversation_locale(conversation).await?,
            None => customer.locale.unwrap_or(Locale::En),
        };
        let note = Phrases::for_locale(locale).handing_off.to_owned();
        let (conversation, note) = match latest {
            Some(conversation) => (conversation, Some(note)),
            None => {
                let appended = self
                    .store
                    .append_message(NewMessage {
                        target: MessageTarget::CustomerLatest {
                            inbox_id: inbox.id,
                            customer_id: customer.id,
                        },
                        author_kind: AuthorKind::System,
                        author_id: None,
                        author_name: None,
                        body: note,
                        client_msg_id: None,
                        reopen_if_resolved: false,
                        only_while_bot_owns: false,
                        meta: None,
                        decision: None,
                    })
                    .await?;
                (appended.conversation, None)
            }
        };
        if conversation.state == ConversationState::Resolved {
            // Asking for a person after the end starts over with a person, not the bot.
            self.store.transition(conversation.id, Transition::Reopen, None).await?;
        }
        Ok(self.store.transition(conversation.id, Transition::Escalate, note).await?)
    }

    /// An agent changes who owns the conversation; the customer sees a system message in their
    /// language.
    pub async fn agent_transition(
        &self,
        conversation: &Conversation,
        transition: Transition,
        agent_name: &str,
    ) -> Result<Conversation, RelayError> {
        let phrases = Phrases::for_locale(self.conversation_locale(conversation).await?);
        let note = match transition {
            Transition::Assign { .. } => Some(phrases.agent_joined.replace("{agent}", agent_name)),
            Transition::HandBack => Some(phrases.back_to_bot.to_owned()),
            Transition::Release | Transition::Escalate => Some(phrases.back_to_queue.to_owned()),
            Transition::Resolve => Some(phrases.resolved.to_owned()),
            Transition::Reopen => Some(phrases.reopened.to_owned()),
        };
        Ok(self.store.transition(conversation.id, transition, note).await?)
    }

    /// The language the customer writes in: that of their latest message, else their profile's.
    async fn conversation_locale(&self, conversation: &Conversation) -> Result<Locale, RelayError> {
        let recent =
            self.store.messages(conversation.id, (conversation.last_seq - 20).max(0), 20).await?;
        let written = recent
            .iter()
            .rev()
            .filter(|message| message.author_kind == AuthorKind::Customer)
            .find_map(|message| detect_locale(&message.body));
        if let Some(locale) = written {
            return Ok(locale);
        }
        let customer = self
            .store
            .customer(conversation.customer_id)
            .await?
            .ok_or(StoreError::NotFound("customer"))?;
        Ok(customer.locale.unwrap_or(Locale::En))
    }

    /// An agent writes to the customer (or, with `note`, to colleagues only). A reply to a
    /// conversation that the bot or the queue holds first assigns it to the agent, so the bot
    /// never talks over a person.
    pub async fn agent_message(
        &self,
        conversation: &Conversation,
        agent: &User,
        body: &str,
        client_msg_id: Option<&str>,
        note: bool,
    ) -> Result<Appended, RelayError> {
        let body = validate::message_body(body)?;
        let client_msg_id = client_msg_id.map(validate::client_msg_id).transpose()?;
        match conversation.state {
            _ if note => {}
            ConversationState::Resolved => {
                return Err(StoreError::Transition(TransitionError {
                    from: "resolved",
                    transition: "reply to",
                })
                .into());
            }
            ConversationState::Bot | ConversationState::Queued => {
                self.agent_transition(
                    conversation,
                    Transition::Assign { agent: agent.id },
                    &agent.display_name,
                )
                .await?;
            }
            ConversationState::Human => {}
        }
        Ok(self
            .store
            .append_message(NewMessage {
                target: MessageTarget::Conversation(conversation.id),
                author_kind: if note { AuthorKind::Note } else { AuthorKind::Agent },
                author_id: Some(agent.id.0),
                author_name: Some(agent.display_name.clone()),
                body,
                client_msg_id,
                reopen_if_resolved: false,
                only_while_bot_owns: false,
                meta: None,
                decision: None,
            })
            .await?)
    }
}

fn reply_locale(text: &str, customer: &Customer) -> Locale {
    detect_locale(text).or(customer.locale).unwrap_or(Locale::En)
}
