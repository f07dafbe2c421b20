//! The conversation history format (JSONL, one conversation a line) that `tandem learn` reads:
//! conversations from Tandem or from another helpdesk, as `../shared/PRODUCT.md` defines it.

use serde::{Deserialize, Serialize};

/// One conversation of a history file. Fields the format allows but learning does not use
/// (customer, queue, timings, ratings) are accepted and ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryConversation {
    /// The source system's id.
    pub id: String,
    pub created_at: String,
    pub messages: Vec<HistoryMessage>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HistoryMessage {
    pub author: Author,
    pub text: String,
    /// The knowledge article a bot message answered from.
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    Bot,
    Agent,
    System,
}

/// The calendar day of an RFC 3339 moment as it is written (`2026-09-03T23:30:00+08:00` is
/// the 3rd): the day the source system's people saw, whatever the server's zone. `None` when
/// it is not such a moment.
pub fn day_of(created_at: &str) -> Option<&str> {
    let created_at = created_at.trim();
    tandem_domain::validate::timestamp("created_at", created_at).ok()?;
    created_at.get(..10)
}

/// How many conversations one day had: `{"date": "2026-09-24", "count": 41}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub date: String,
    pub count: usize,
}

/// A line of a history file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryError {
    pub line: usize,
    pub message: String,
}

/// Reads a history file: every bad line is reported with its number, and any makes the whole
/// file unread (a partial history would teach from a biased sample).
pub fn parse(text: &str) -> Result<Vec<HistoryConversation>, Vec<HistoryError>> {
    let mut conversations = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| HistoryError { line: index + 1, message };
        match serde_json::from_str::<HistoryConversation>(line) {
            Ok(conversation) if conversation.id.trim().is_empty() => {
                errors.push(error("id: must not be empty".into()))
            }
            Ok(conversation) if conversation.messages.is_empty() => {
                errors.push(error("messages: at least one is needed".into()))
            }
            Ok(conversation) => conversations.push(conversation),
            Err(parse) => errors.push(error(parse.to_string())),
        }
    }
    if errors.is_empty() { Ok(conversations) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_conversations_and_names_bad_lines() {
        let good = r#"{"id": "zd-1", "created_at": "2026-09-03T08:12:44Z", "channel": "web", "csat": 4,
            "messages": [{"author": "customer", "text": "钱什么时候退回来", "at": "2026-09-03T08:12:44Z"},
                         {"author": "agent", "agent": "emily@example.com", "text": "三个工作日内。"}]}"#
            .replace('\n', " ");
        let conversations = parse(&good).unwrap();
        assert_eq!(conversations[0].messages[1].author, Author::Agent);
        let bad = format!(
            "{good}\n\n{{\"id\": \"x\", \"created_at\": \"2026-09-03T08:12:44Z\", \"messages\": []}}\n{{\"id\": 3}}"
        );
        let errors = parse(&bad).unwrap_err();
        assert_eq!(errors.iter().map(|error| error.line).collect::<Vec<_>>(), vec![3, 4]);
        assert!(errors[0].message.contains("messages"), "{errors:?}");
    }
}
