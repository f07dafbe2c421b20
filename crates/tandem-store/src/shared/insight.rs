//! What an imported conversation gets, as both stores import it: its state, preview, last
//! activity and report facts, and each message's author name and source.

use tandem_domain::{
    AuthorKind, Channel, Conversation, ConversationFacts, ConversationId, ConversationState,
    CustomerId, Millis, QueueId, UserId,
};

use crate::{ImportedConversation, ImportedMessage};

pub(crate) const FACTS_COLUMNS: &str =
    "conversation_id, created_at, channel, customer_id, state, queue_id,
    agent_id, topic, first_customer_at, customer_messages, bot_messages, agent_messages,
    handed_off_at, assigned_at, first_agent_at, resolved_at, last_resolved_at, reopened_at, csat,
    sentiment_first, sentiment_last, reasons, tags, external_id, topic_is_cluster";

/// Its last activity: the latest message, and never before it was created.
pub(crate) fn last_at(imported: &ImportedConversation) -> Millis {
    let last_at = imported.messages.iter().map(|message| message.at).max();
    last_at.unwrap_or(imported.created_at).max(imported.created_at)
}

/// History is over: a conversation that was resolved and not reopened stays resolved, any
/// other stays with the bot (never queued: an import must not wake the router).
pub(crate) fn state(imported: &ImportedConversation) -> ConversationState {
    if imported.resolved_at.is_some_and(|resolved| {
        !imported
            .messages
            .iter()
            .any(|message| message.author_kind == AuthorKind::Customer && message.at > resolved)
    }) {
        ConversationState::Resolved
    } else {
        ConversationState::Bot
    }
}

/// The preview of its last customer message.
pub(crate) fn preview(imported: &ImportedConversation) -> String {
    imported
        .messages
        .iter()
        .rev()
        .find(|message| message.author_kind == AuthorKind::Customer)
        .map(|message| super::conversations::preview(&message.body))
        .unwrap_or_default()
}

/// Its facts before any message is counted.
pub(crate) fn facts(
    conversation: ConversationId,
    imported: &ImportedConversation,
    customer: CustomerId,
    queue: Option<i64>,
    state: ConversationState,
) -> ConversationFacts {
    let mut facts =
        ConversationFacts::new(conversation, imported.created_at, imported.channel, customer);
    facts.external_id = Some(imported.external_id.clone());
    facts.queue_id = queue.map(QueueId);
    facts.tags = imported.tags.clone();
    facts.state = state;
    facts.handed_off_at = imported.handed_off_at;
    facts.assigned_at = imported.assigned_at;
    facts
}

/// A message's `meta`: the article a bot message answered from, as its source.
pub(crate) fn meta(message: &ImportedMessage) -> Option<String> {
    message.source.as_ref().map(|article| {
        serde_json::json!({"source": {"article": article, "title": article, "version": 0}})
            .to_string()
    })
}

/// A message's author name: the agent's e-mail, or the customer's name.
pub(crate) fn author_name<'a>(
    imported: &'a ImportedConversation,
    message: &'a ImportedMessage,
) -> Option<&'a str> {
    message.agent.as_deref().or(match message.author_kind {
        AuthorKind::Customer => Some(imported.customer_name.as_str()),
        _ => None,
    })
}

/// Counts a message (`agent` the user who wrote an agent's) in the facts.
pub(crate) fn count_message(
    facts: &mut ConversationFacts,
    message: &ImportedMessage,
    agent: Option<i64>,
) {
    match message.author_kind {
        AuthorKind::Customer => facts.customer_message(message.at, message.sentiment),
        AuthorKind::Agent => {
            facts.agent_messages += 1;
            facts.first_agent_at.get_or_insert(message.at);
            facts.agent_id = agent.map(UserId).or(facts.agent_id);
        }
        AuthorKind::Bot => facts.bot_message(message.source.as_deref()),
        _ => {}
    }
}

/// The facts of a conversation that has none yet (one from before the facts were kept), its
/// inbox on `channel`.
pub(crate) fn first_facts(conversation: &Conversation, channel: &str) -> ConversationFacts {
    ConversationFacts::new(
        conversation.id,
        conversation.created_at,
        Channel::parse(channel).unwrap_or(Channel::Web),
        conversation.customer_id,
    )
}

/// Applies `change` to a conversation's facts, then its state and queue as they are now.
pub(crate) fn apply(
    facts: &mut ConversationFacts,
    conversation: &Conversation,
    change: impl FnOnce(&mut ConversationFacts),
) {
    change(facts);
    facts.state = conversation.state;
    facts.queue_id = conversation.queue_id.or(facts.queue_id);
}

/// The attributes a customer made for an import gets: its phone and tier, where given.
pub(crate) fn customer_attributes(imported: &ImportedConversation) -> serde_json::Value {
    let attributes = match &imported.customer_phone {
        Some(phone) => serde_json::json!({ "phone": phone }),
        None => serde_json::json!({}),
    };
    match &imported.customer_tier {
        Some(tier) => {
            let mut attributes = attributes;
            attributes["tier"] = serde_json::Value::String(tier.clone());
            attributes
        }
        None => attributes,
    }
}
