//! The conversation history format (JSONL, one conversation a line) that `tandem learn`,
//! `tandem trends` and `tandem import conversations` read: conversations from Tandem or from
//! another helpdesk, as `../shared/PRODUCT.md` defines it.
//!
//! [`parse`] reads the structure (what learning and trends need); [`parse_strict`] also checks
//! every value an import stores (times, channel, rating, texts) and refuses an id seen twice.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One conversation of a history file. Learning and trends read only the id, the day and the
/// messages; an import stores every field.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HistoryConversation {
    /// The source system's id.
    pub id: String,
    /// RFC 3339.
    pub created_at: String,
    /// `web`, `email` or `api`.
    #[serde(default)]
    pub channel: Option<String>,
    /// The conversation's language, as the source system wrote it.
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub customer: Option<HistoryCustomer>,
    /// The queue's name.
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub messages: Vec<HistoryMessage>,
    #[serde(default)]
    pub handed_off_at: Option<String>,
    #[serde(default)]
    pub assigned_at: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<String>,
    /// 1–5.
    #[serde(default)]
    pub csat: Option<i64>,
    #[serde(default)]
    pub csat_comment: Option<String>,
}

/// Who the customer was in the source system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HistoryCustomer {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// `vip`, …
    #[serde(default)]
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HistoryMessage {
    pub author: Author,
    pub text: String,
    /// The knowledge article a bot message answered from.
    #[serde(default)]
    pub source: Option<String>,
    /// RFC 3339; missing: the time of the message before it (or the conversation's start).
    #[serde(default)]
    pub at: Option<String>,
    /// An agent message's author, by e-mail.
    #[serde(default)]
    pub agent: Option<String>,
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

/// An RFC 3339 moment (fractional seconds allowed) as milliseconds since the Unix epoch;
/// `None` when it is not one.
pub fn moment(text: &str) -> Option<i64> {
    let text = text.trim();
    // The domain's reader takes whole seconds: set a fraction aside and add it back.
    let (whole, fraction_millis) = match text.find('.') {
        Some(dot) if text.get(..dot)?.contains(['T', ' ']) => {
            let digits = text[dot + 1..].chars().take_while(char::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let fraction = &text[dot + 1..dot + 1 + digits];
            let millis = format!("{fraction:0<3}")[..3].parse::<i64>().ok()?;
            (format!("{}{}", &text[..dot], &text[dot + 1 + digits..]), millis)
        }
        _ => (text.to_owned(), 0),
    };
    // A bare date is not a moment in the format.
    if !whole.contains(['T', ' ']) {
        return None;
    }
    Some(tandem_domain::validate::timestamp("at", &whole).ok()? + fraction_millis)
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
    /// `field: problem`.
    pub message: String,
}

/// Reads a history file: every bad line is reported with its number, and any makes the whole
/// file unread (a partial history would teach from a biased sample).
pub fn parse(text: &str) -> Result<Vec<HistoryConversation>, Vec<HistoryError>> {
    read(text, false)
}

/// Reads a history file for an import: as [`parse`], and every value is checked as the store
/// will keep it (each problem a `field: problem` of its line), and an id may appear only once.
pub fn parse_strict(text: &str) -> Result<Vec<HistoryConversation>, Vec<HistoryError>> {
    read(text, true)
}

fn read(text: &str, strict: bool) -> Result<Vec<HistoryConversation>, Vec<HistoryError>> {
    let mut conversations = Vec::new();
    let mut errors = Vec::new();
    let mut lines_of: HashMap<String, usize> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let mut problems = Vec::new();
        match serde_json::from_str::<HistoryConversation>(line) {
            Ok(conversation) => {
                if conversation.id.trim().is_empty() {
                    problems.push("id: must not be empty".to_owned());
                }
                if conversation.messages.is_empty() {
                    problems.push("messages: at least one is needed".to_owned());
                }
                if strict {
                    problems.extend(check(&conversation));
                    if let Some(first) = lines_of.get(conversation.id.trim()) {
                        problems.push(format!(
                            "id: {} is already on line {first}",
                            conversation.id.trim()
                        ));
                    } else {
                        lines_of.insert(conversation.id.trim().to_owned(), number);
                    }
                }
                if problems.is_empty() {
                    conversations.push(conversation);
                }
            }
            Err(error) => problems.extend(diagnose(line, error)),
        }
        errors.extend(problems.into_iter().map(|message| HistoryError { line: number, message }));
    }
    if errors.is_empty() { Ok(conversations) } else { Err(errors) }
}

/// Names the field a line that does not read has wrong (serde's own message says only where
/// in the line).
fn diagnose(line: &str, error: serde_json::Error) -> Vec<String> {
    let value = match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => return vec!["a line is one JSON object".to_owned()],
        Err(_) => return vec![format!("not JSON: {error}")],
    };
    let mut problems = Vec::new();
    for required in ["id", "created_at", "messages"] {
        if !value.contains_key(required) {
            problems.push(format!("{required}: missing"));
        }
    }
    let field = |name: &str,
                 problems: &mut Vec<String>,
                 check: fn(&serde_json::Value) -> Option<String>| {
        if let Some(found) = value.get(name).and_then(check) {
            problems.push(format!("{name}: {found}"));
        }
    };
    field("id", &mut problems, kind::<String>);
    field("created_at", &mut problems, kind::<String>);
    field("channel", &mut problems, kind::<Option<String>>);
    field("lang", &mut problems, kind::<Option<String>>);
    field("customer", &mut problems, kind::<Option<HistoryCustomer>>);
    field("queue", &mut problems, kind::<Option<String>>);
    field("tags", &mut problems, kind::<Vec<String>>);
    field("handed_off_at", &mut problems, kind::<Option<String>>);
    field("assigned_at", &mut problems, kind::<Option<String>>);
    field("resolved_at", &mut problems, kind::<Option<String>>);
    field("csat", &mut problems, kind::<Option<i64>>);
    field("csat_comment", &mut problems, kind::<Option<String>>);
    match value.get("messages") {
        Some(serde_json::Value::Array(messages)) => {
            for (index, message) in messages.iter().enumerate() {
                if let Some(found) = kind::<HistoryMessage>(message) {
                    problems.push(format!("messages[{index}]: {found}"));
                }
            }
        }
        Some(_) => problems.push("messages: must be a list".to_owned()),
        None => {}
    }
    if problems.is_empty() {
        problems.push(error.to_string());
    }
    problems
}

/// What is wrong with a value read as `T` (serde's sentence), `None` when it reads.
fn kind<T: DeserializeOwned>(value: &serde_json::Value) -> Option<String> {
    T::deserialize(value).err().map(|error| error.to_string())
}

/// The problems of a conversation that reads, as an import would store it.
fn check(conversation: &HistoryConversation) -> Vec<String> {
    let mut problems = Vec::new();
    let time = |field: &str, value: &str, problems: &mut Vec<String>| {
        if moment(value).is_none() {
            problems.push(format!(
                "{field}: {value:?} is not an RFC 3339 time such as 2026-09-03T08:12:44Z"
            ));
        }
    };
    let text = |field: &str, value: &str, problems: &mut Vec<String>| {
        if value.trim().is_empty() {
            problems.push(format!("{field}: must not be empty"));
        }
    };
    time("created_at", &conversation.created_at, &mut problems);
    if let Some(channel) = &conversation.channel
        && tandem_domain::Channel::parse(channel).is_none()
    {
        problems.push(format!("channel: {channel:?} is not one of web, email, api"));
    }
    if let Some(lang) = &conversation.lang {
        text("lang", lang, &mut problems);
    }
    if let Some(customer) = &conversation.customer {
        for (field, value) in [
            ("customer.id", &customer.id),
            ("customer.name", &customer.name),
            ("customer.email", &customer.email),
            ("customer.phone", &customer.phone),
            ("customer.tier", &customer.tier),
        ] {
            if let Some(value) = value {
                text(field, value, &mut problems);
            }
        }
        if let Some(email) = &customer.email
            && !email.trim().is_empty()
            && tandem_domain::validate::email(email).is_err()
        {
            problems.push(format!("customer.email: {email:?} is not an e-mail address"));
        }
    }
    if let Some(queue) = &conversation.queue {
        text("queue", queue, &mut problems);
    }
    for (index, tag) in conversation.tags.iter().enumerate() {
        text(&format!("tags[{index}]"), tag, &mut problems);
    }
    for (index, message) in conversation.messages.iter().enumerate() {
        text(&format!("messages[{index}].text"), &message.text, &mut problems);
        if let Some(at) = &message.at {
            time(&format!("messages[{index}].at"), at, &mut problems);
        }
        if let Some(agent) = &message.agent {
            text(&format!("messages[{index}].agent"), agent, &mut problems);
        }
        if let Some(source) = &message.source {
            text(&format!("messages[{index}].source"), source, &mut problems);
        }
    }
    for (field, value) in [
        ("handed_off_at", &conversation.handed_off_at),
        ("assigned_at", &conversation.assigned_at),
        ("resolved_at", &conversation.resolved_at),
    ] {
        if let Some(value) = value {
            time(field, value, &mut problems);
        }
    }
    if let Some(csat) = conversation.csat
        && !(1..=5).contains(&csat)
    {
        problems.push(format!("csat: {csat} is not a rating from 1 to 5"));
    }
    if let Some(comment) = &conversation.csat_comment {
        text("csat_comment", comment, &mut problems);
    }
    problems
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
        assert_eq!(errors.iter().map(|error| error.line).collect::<Vec<_>>(), vec![3, 4, 4, 4]);
        assert!(errors[0].message.contains("messages"), "{errors:?}");
        let messages: Vec<&str> = errors[1..].iter().map(|error| error.message.as_str()).collect();
        assert!(messages.contains(&"created_at: missing"), "{messages:?}");
        assert!(
            messages.iter().any(|message| message.starts_with("id: invalid type")),
            "{messages:?}"
        );
    }

    #[test]
    fn reads_every_field_of_the_format() {
        let line = r#"{"id": "zd-1042", "created_at": "2026-09-03T08:12:44Z", "channel": "email", "lang": "zh",
            "customer": {"id": "u-77", "name": "王芳", "email": "fang@example.com", "phone": "13800138000", "tier": "vip"},
            "queue": "after-sales", "tags": ["refund", "vip"],
            "messages": [
              {"author": "customer", "text": "退款多久到账", "at": "2026-09-03T08:12:44.250+08:00"},
              {"author": "bot", "text": "三个工作日。", "at": "2026-09-03T08:12:45Z", "source": "return-policy"},
              {"author": "agent", "agent": "emily@example.com", "text": "已为您加急。", "at": "2026-09-03T08:20:00Z"},
              {"author": "system", "text": "已解决"}],
            "handed_off_at": "2026-09-03T08:13:00Z", "assigned_at": "2026-09-03T08:14:00Z",
            "resolved_at": "2026-09-03T08:30:00Z", "csat": 5, "csat_comment": "很快"}"#
            .replace('\n', " ");
        let conversation = parse_strict(&line).unwrap().remove(0);
        assert_eq!(conversation.id, "zd-1042");
        assert_eq!(conversation.channel.as_deref(), Some("email"));
        assert_eq!(conversation.lang.as_deref(), Some("zh"));
        let customer = conversation.customer.as_ref().unwrap();
        assert_eq!(customer.id.as_deref(), Some("u-77"));
        assert_eq!(customer.name.as_deref(), Some("王芳"));
        assert_eq!(customer.email.as_deref(), Some("fang@example.com"));
        assert_eq!(customer.phone.as_deref(), Some("13800138000"));
        assert_eq!(customer.tier.as_deref(), Some("vip"));
        assert_eq!(conversation.queue.as_deref(), Some("after-sales"));
        assert_eq!(conversation.tags, ["refund", "vip"]);
        assert_eq!(conversation.messages.len(), 4);
        assert_eq!(conversation.messages[1].source.as_deref(), Some("return-policy"));
        assert_eq!(conversation.messages[2].agent.as_deref(), Some("emily@example.com"));
        assert_eq!(conversation.messages[3].at, None);
        assert_eq!(conversation.csat, Some(5));
        assert_eq!(conversation.csat_comment.as_deref(), Some("很快"));
        assert_eq!(conversation.resolved_at.as_deref(), Some("2026-09-03T08:30:00Z"));
        // 08:12:44.250 in Beijing is 00:12:44.250 UTC.
        let at = moment(conversation.messages[0].at.as_deref().unwrap()).unwrap();
        assert_eq!(at, moment("2026-09-03T00:12:44Z").unwrap() + 250);
    }

    #[test]
    fn strict_reading_names_each_bad_value_with_its_line() {
        let lines = [
            r#"{"id": "a", "created_at": "2026-09-03T08:12:44Z", "messages": [{"author": "customer", "text": "hi"}]}"#,
            r#"{"id": "b", "created_at": "yesterday", "channel": "fax", "csat": 9, "messages": [{"author": "customer", "text": " ", "at": "2026-09-03"}]}"#,
            r#"{"id": "a", "created_at": "2026-09-03T08:12:44Z", "messages": [{"author": "robot", "text": "hi"}]}"#,
            r#"{"id": "c", "created_at": "2026-09-03T08:12:44Z", "customer": {"email": "nope"}, "resolved_at": "2026-13-01T00:00:00Z", "csat_comment": "", "messages": [{"author": "agent", "text": "hi", "agent": ""}]}"#,
            r#"{"id": "a", "created_at": "2026-09-03T08:12:44Z", "messages": [{"author": "bot", "text": "hi"}]}"#,
        ];
        let text = lines.join("\n");
        // The lenient reading (learning, trends) takes the values as they are.
        let lenient = parse(&text).unwrap_err();
        assert_eq!(lenient.len(), 1, "{lenient:?}");
        assert_eq!(lenient[0].line, 3);
        assert!(
            lenient[0].message.starts_with("messages[0]: unknown variant `robot`"),
            "{lenient:?}"
        );
        let errors = parse_strict(&text).unwrap_err();
        let found: Vec<(usize, &str)> =
            errors.iter().map(|error| (error.line, error.message.as_str())).collect();
        let has = |line: usize, start: &str| {
            assert!(
                found.iter().any(|(at, message)| *at == line && message.starts_with(start)),
                "line {line}: {start} not in {found:?}"
            )
        };
        has(2, "created_at: \"yesterday\" is not an RFC 3339 time");
        has(2, "channel: \"fax\" is not one of web, email, api");
        has(2, "csat: 9 is not a rating from 1 to 5");
        has(2, "messages[0].text: must not be empty");
        has(2, "messages[0].at: \"2026-09-03\" is not an RFC 3339 time");
        has(3, "messages[0]: unknown variant `robot`");
        has(4, "customer.email: \"nope\" is not an e-mail address");
        has(4, "resolved_at:");
        has(4, "csat_comment: must not be empty");
        has(4, "messages[0].agent: must not be empty");
        has(5, "id: a is already on line 1");
        assert!(found.iter().all(|(line, _)| *line != 1), "{found:?}");
    }
}
