//! A conversation history (the format `tandem import conversations` and
//! `POST /api/v1/conversations/import` read, as [`tandem_knowledge::history`] parses it) as the
//! store imports it, each customer message with its sentiment scored as a live one is.

use tandem_domain::{AuthorKind, Channel};
use tandem_knowledge::history::{self, Author, HistoryConversation};
use tandem_store::{ImportedConversation, ImportedMessage};

/// Every conversation of a history, as the store imports it. Read the history with
/// [`history::parse_strict`] first: a value that check refuses is dropped here, not reported.
pub fn imported_conversations(conversations: &[HistoryConversation]) -> Vec<ImportedConversation> {
    conversations.iter().map(imported).collect()
}

/// One conversation as the store imports it. A message without a time is given the time of
/// the message before it (the conversation's start for the first), so the messages keep the
/// order the file lists them in.
pub fn imported(conversation: &HistoryConversation) -> ImportedConversation {
    let moment = |text: &Option<String>| text.as_deref().and_then(history::moment);
    let created_at = history::moment(&conversation.created_at).unwrap_or_default();
    let mut previous = created_at;
    let messages = conversation
        .messages
        .iter()
        .map(|message| {
            let at = moment(&message.at).unwrap_or(previous);
            previous = at;
            let author_kind = match message.author {
                Author::Customer => AuthorKind::Customer,
                Author::Bot => AuthorKind::Bot,
                Author::Agent => AuthorKind::Agent,
                Author::System => AuthorKind::System,
            };
            let sentiment = (author_kind == AuthorKind::Customer)
                .then(|| tandem_text::sentiment::analyze(&message.text).sentiment);
            ImportedMessage {
                author_kind,
                body: message.text.trim().to_owned(),
                at,
                agent: message.agent.as_deref().map(str::trim).map(str::to_owned),
                source: message.source.as_deref().map(str::trim).map(str::to_owned),
                sentiment,
            }
        })
        .collect();
    let customer = conversation.customer.clone().unwrap_or_default();
    let trimmed = |value: &Option<String>| {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_owned)
    };
    // The customer is named by what the source system knew of them.
    let customer_name = [&customer.name, &customer.email, &customer.id, &customer.phone]
        .into_iter()
        .find_map(trimmed)
        .unwrap_or_else(|| conversation.id.trim().to_owned());
    ImportedConversation {
        external_id: conversation.id.trim().to_owned(),
        created_at,
        channel: conversation.channel.as_deref().and_then(Channel::parse).unwrap_or(Channel::Web),
        customer_external_id: trimmed(&customer.id),
        customer_name,
        customer_email: trimmed(&customer.email),
        customer_phone: trimmed(&customer.phone),
        customer_tier: trimmed(&customer.tier),
        queue: trimmed(&conversation.queue),
        tags: conversation.tags.iter().map(|tag| tag.trim().to_owned()).collect(),
        messages,
        handed_off_at: moment(&conversation.handed_off_at),
        assigned_at: moment(&conversation.assigned_at),
        resolved_at: moment(&conversation.resolved_at),
        csat: conversation.csat.and_then(|csat| u8::try_from(csat).ok()),
        csat_comment: trimmed(&conversation.csat_comment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_reaches_the_store_and_missing_times_follow_the_order() {
        let line = r#"{"id": " zd-1 ", "created_at": "2026-09-03T08:00:00Z", "channel": "email",
            "customer": {"id": "u-77", "email": "fang@example.com", "tier": "vip"},
            "queue": "after-sales", "tags": ["refund"],
            "messages": [{"author": "customer", "text": "太糟糕了，我非常生气，退款还没到！"},
                         {"author": "bot", "text": "三个工作日。", "at": "2026-09-03T08:05:00Z", "source": "refund-time"},
                         {"author": "agent", "agent": "emily@example.com", "text": "已加急。"}],
            "handed_off_at": "2026-09-03T08:06:00Z", "assigned_at": "2026-09-03T08:07:00Z",
            "resolved_at": "2026-09-03T08:30:00Z", "csat": 2, "csat_comment": "慢"}"#
            .replace('\n', " ");
        let parsed = history::parse_strict(&line).unwrap();
        let imported = &imported_conversations(&parsed)[0];
        let at = |text: &str| history::moment(text).unwrap();
        assert_eq!(imported.external_id, "zd-1");
        assert_eq!(imported.created_at, at("2026-09-03T08:00:00Z"));
        assert_eq!(imported.channel, Channel::Email);
        assert_eq!(imported.customer_external_id.as_deref(), Some("u-77"));
        assert_eq!(imported.customer_name, "fang@example.com");
        assert_eq!(imported.customer_tier.as_deref(), Some("vip"));
        assert_eq!(imported.queue.as_deref(), Some("after-sales"));
        assert_eq!(imported.tags, ["refund"]);
        let times: Vec<i64> = imported.messages.iter().map(|message| message.at).collect();
        assert_eq!(
            times,
            [at("2026-09-03T08:00:00Z"), at("2026-09-03T08:05:00Z"), at("2026-09-03T08:05:00Z")]
        );
        assert!(imported.messages[0].sentiment.is_some_and(|score| score < 0.0));
        assert_eq!(imported.messages[1].sentiment, None);
        assert_eq!(imported.messages[1].source.as_deref(), Some("refund-time"));
        assert_eq!(imported.messages[2].agent.as_deref(), Some("emily@example.com"));
        assert_eq!(imported.resolved_at, Some(at("2026-09-03T08:30:00Z")));
        assert_eq!(imported.csat, Some(2));
        assert_eq!(imported.csat_comment.as_deref(), Some("慢"));
    }
}
