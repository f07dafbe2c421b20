//! The wrap-up of a resolved conversation, extracted from its own messages and records: what the
//! customer wanted, what was done, the business actions that ran, what the agent promised, the
//! order numbers, amounts, dates and (masked) contact details mentioned, and the questions left
//! open. Nothing is invented: every line is a sentence of the conversation (personal data
//! masked), a value found in one, or a code from a record. Pure: the relay reads the store and
//! stores the result with the resolution.

use std::collections::BTreeMap;

use tandem_domain::{
    AuthorKind, ConversationId, DecisionRecord, KeyPoint, KeyPointKind, Message, MessageId, Wrapup,
};
use tandem_text::signals::mask_personal_data;

use crate::triage::{entities_in, sentences};

/// The most characters of one sentence in the summary; a longer one is cut with "…".
const SENTENCE_CHARS: usize = 160;

/// How many of the customer's first messages count as "early" for what they wanted.
const EARLY_MESSAGES: usize = 3;

/// The least share of an agent reply's words (Chinese character pairs) an article's answer must contain to be
/// the conversation's topic when no bot answer names one.
const TOPIC_OVERLAP: f32 = 0.3;

/// What a wrap-up is built from.
#[derive(Debug, Clone, Copy)]
pub struct WrapupInput<'a> {
    pub conversation: ConversationId,
    /// The conversation's messages, oldest first (notes and system lines are skipped).
    pub messages: &'a [Message],
    /// The bot's decision records (for the actions that ran and the articles answered from).
    pub decisions: &'a [(MessageId, DecisionRecord)],
    /// The workspace's live articles as (title, answer), to find the topic of a conversation
    /// only people answered.
    pub articles: &'a [(String, String)],
}

/// Commitments in an agent's sentence, Chinese: written for Tandem, each a phrase a promise to
/// act later uses ("我会", "稍后", "24小时内"...). A bare "会" is not one: "会员" is a member.
const PROMISES_ZH: &[&str] = &[
    "我会",
    "我们会",
    "会在",
    "会给",
    "会为",
    "会尽快",
    "将会",
    "将在",
    "将为",
    "将于",
    "稍后",
    "明天",
    "给您",
    "为您安排",
    "尽快",
    "马上",
    "回头",
];

/// Commitments in an agent's sentence, English (lower case, straight apostrophes).
const PROMISES_EN: &[&str] = &[
    "i will",
    "i'll",
    "we will",
    "we'll",
    "will be",
    "will get",
    "will send",
    "by tomorrow",
    "tomorrow",
    "shortly",
    "as soon as",
    "follow up",
    "get back to you",
];

/// Computes the wrap-up; `created_at` is left 0 for the store to set.
pub fn wrapup(input: WrapupInput<'_>) -> Wrapup {
    let spoken: Vec<&Message> = input
        .messages
        .iter()
        .filter(|message| {
            matches!(
                message.author_kind,
                AuthorKind::Customer | AuthorKind::Agent | AuthorKind::Bot
            )
        })
        .collect();
    let request = customer_request(&spoken);
    let done = key_reply(&spoken);
    let mut key_points = Vec::new();
    let point = |kind, text: String, detail: Option<String>| KeyPoint { kind, text, detail };
    if let Some(request) = &request {
        key_points.push(point(KeyPointKind::Request, request.clone(), None));
    }
    if let Some(done) = &done {
        key_points.push(point(KeyPointKind::Done, done.clone(), None));
    }
    let mut actions = Vec::new();
    for (_, record) in input.decisions {
        if let Some(action) = &record.action {
            let entry = (action.action.clone(), action.outcome.as_str().to_owned());
            if !actions.contains(&entry) {
                actions.push(entry);
            }
        }
    }
    for (action, outcome) in actions {
        key_points.push(point(KeyPointKind::Action, action, Some(outcome)));
    }
    for promise in promises(&spoken) {
        key_points.push(point(KeyPointKind::Promise, promise, None));
    }
    for (kind, value) in entities(&spoken) {
        key_points.push(point(KeyPointKind::Entity, value, Some(kind)));
    }
    for question in open_questions(&spoken) {
        key_points.push(point(KeyPointKind::FollowUp, question, None));
    }
    let summary = join_sentences(request.iter().chain(done.iter()).map(String::as_str));
    Wrapup {
        conversation_id: input.conversation,
        summary,
        key_points,
        topic: topic(&input, &spoken),
        model_summary: None,
        created_at: 0,
    }
}

/// The customer's fullest early message, masked: what they came for.
fn customer_request(spoken: &[&Message]) -> Option<String> {
    spoken
        .iter()
        .filter(|message| message.author_kind == AuthorKind::Customer)
        .take(EARLY_MESSAGES)
        .max_by_key(|message| (message.body.chars().count(), std::cmp::Reverse(message.seq)))
        .map(|message| shorten(&mask_personal_data(message.body.trim())))
}

/// The sentence of the people's replies (the bot's when no person wrote) that says most of
/// what was done: the longest, a promise or a number counting extra, masked.
fn key_reply(spoken: &[&Message]) -> Option<String> {
    let by_people = spoken.iter().any(|message| message.author_kind == AuthorKind::Agent);
    let author = if by_people { AuthorKind::Agent } else { AuthorKind::Bot };
    spoken
        .iter()
        .filter(|message| message.author_kind == author)
        .flat_map(|message| sentences(&message.body))
        .map(|sentence| {
            let length = sentence.chars().count().min(SENTENCE_CHARS);
            let digits = sentence.chars().any(|character| character.is_ascii_digit());
            let score =
                length + if is_promise(sentence) { 40 } else { 0 } + if digits { 20 } else { 0 };
            (score, sentence)
        })
        .max_by_key(|(score, _)| *score)
        .map(|(_, sentence)| shorten(&mask_personal_data(sentence)))
}

/// Deadlines: a promise ("3个工作日内退款") unless the sentence says what the customer may do
/// by then ("签收后 7 天内可申请退货": a policy).
const DEADLINES_ZH: &[&str] = &["小时内", "天内", "工作日内"];
const DEADLINES_EN: &[&str] = &["within"];
const PERMISSIONS_ZH: &[&str] = &["内可", "可以", "可申请"];
const PERMISSIONS_EN: &[&str] = &["you can", "you may", "can be"];

/// Whether a sentence commits someone to act later.
pub fn is_promise(sentence: &str) -> bool {
    let lower = sentence.to_lowercase().replace(['’', '‘'], "'");
    let deadline = DEADLINES_ZH.iter().any(|phrase| lower.contains(phrase))
        || DEADLINES_EN.iter().any(|phrase| contains_words(&lower, phrase));
    let permission = PERMISSIONS_ZH.iter().any(|phrase| lower.contains(phrase))
        || PERMISSIONS_EN.iter().any(|phrase| contains_words(&lower, phrase));
    PROMISES_ZH.iter().any(|phrase| lower.contains(phrase))
        || PROMISES_EN.iter().any(|phrase| contains_words(&lower, phrase))
        || (deadline && !permission)
}

/// `phrase` in `text` starting and ending at word boundaries ("within" but not "withinside").
fn contains_words(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The agents' sentences that promise something, masked, each once.
fn promises(spoken: &[&Message]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for message in spoken.iter().filter(|message| message.author_kind == AuthorKind::Agent) {
        for sentence in sentences(&message.body).filter(|sentence| is_promise(sentence)) {
            let masked = shorten(&mask_personal_data(sentence));
            if !found.contains(&masked) {
                found.push(masked);
            }
        }
    }
    found
}

/// (kind, value) of the order numbers, personal data (masked), amounts and dates anyone
/// wrote, each once, in the order first written.
fn entities(spoken: &[&Message]) -> Vec<(String, String)> {
    let texts: Vec<&str> = spoken.iter().map(|message| message.body.as_str()).collect();
    let mut found: Vec<(String, String)> = entities_in(texts.iter().copied())
        .into_iter()
        .map(|entity| (entity.kind, entity.value))
        .collect();
    for text in texts {
        for amount in amounts(text) {
            found.push(("amount".to_owned(), amount));
        }
        for date in dates(text) {
            found.push(("date".to_owned(), date));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    found.retain(|entry| seen.insert(entry.clone()));
    found
}

/// Money amounts: a number after a currency sign (¥, ￥, $, €, £) or before a currency word
/// (元, 块, yuan, rmb, usd, dollars), as written.
pub fn amounts(text: &str) -> Vec<String> {
    const SIGNS: &[char] = &['¥', '￥', '$', '€', '£'];
    const WORDS: &[&str] =
        &["元", " 元", "块", " 块", "yuan", " yuan", "rmb", " rmb", "usd", " usd", " dollars"];
    let mut found = Vec::new();
    for (start, end) in numbers(text) {
        let before = text[..start].trim_end_matches(' ');
        let after = &text[end..];
        let lower_after = after.to_lowercase();
        if let Some(sign) = before.chars().next_back().filter(|sign| SIGNS.contains(sign)) {
            found.push(format!("{sign}{}", &text[start..end]));
        } else if let Some(word) = WORDS.iter().find(|word| lower_after.starts_with(**word)) {
            found.push(format!("{}{}", &text[start..end], &after[..word.len()]));
        }
    }
    found
}

/// Dates: 2024-01-15, 2024/1/15, 2024年1月15日, 1月15日 (or 号), as written.
pub fn dates(text: &str) -> Vec<String> {
    let spans = numbers(text);
    let mut found = Vec::new();
    let mut index = 0;
    while index < spans.len() {
        let (start, end) = spans[index];
        let number = &text[start..end];
        let next_after = |separator: &str, at: usize| {
            spans.get(at + 1).filter(|(next, _)| text[spans[at].1..*next] == *separator).copied()
        };
        // 2024-01-15 and 2024/1/15
        let dashed = ["-", "/"].into_iter().find_map(|separator| {
            next_after(separator, index)?;
            let day = next_after(separator, index + 1)?;
            (number.len() == 4 && !number.contains('.')).then_some(day.1)
        });
        if let Some(last) = dashed {
            found.push(text[start..last].to_owned());
            index += 3;
            continue;
        }
        // [2024年]1月15日
        let (first, month_at) = match next_after("年", index) {
            Some(_) if number.len() == 4 => (start, index + 1),
            _ => (start, index),
        };
        if let Some(day) = next_after("月", month_at) {
            let rest = &text[day.1..];
            if let Some(suffix) = ["日", "号"].into_iter().find(|suffix| rest.starts_with(suffix))
            {
                found.push(text[first..day.1 + suffix.len()].to_owned());
                index = month_at + 2;
                continue;
            }
        }
        index += 1;
    }
    found
}

/// Byte spans of the numbers in a text (ASCII digits, one decimal point inside).
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    let bytes = text.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        let decimal = *byte == b'.'
            && start.is_some()
            && bytes.get(index + 1).is_some_and(u8::is_ascii_digit)
            && !text[start.unwrap_or(0)..index].contains('.');
        match (byte.is_ascii_digit() || decimal, start) {
            (true, None) => start = Some(index),
            (false, Some(from)) => {
                spans.push((from, index));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        spans.push((from, text.len()));
    }
    spans
}

/// The customer's questions after the last reply by the bot or a person (all of them when
/// nobody replied), masked: nobody answered them.
fn open_questions(spoken: &[&Message]) -> Vec<String> {
    let last_reply = spoken
        .iter()
        .rposition(|message| matches!(message.author_kind, AuthorKind::Agent | AuthorKind::Bot));
    let after = last_reply.map_or(0, |position| position + 1);
    spoken[after..]
        .iter()
        .filter(|message| message.author_kind == AuthorKind::Customer)
        .flat_map(|message| sentences(&message.body))
        .filter(|sentence| is_question(sentence))
        .map(|sentence| shorten(&mask_personal_data(sentence)))
        .collect()
}

fn is_question(sentence: &str) -> bool {
    let trimmed = sentence.trim_end_matches(['。', '.', ' ']);
    trimmed.ends_with(['?', '？', '吗', '呢', '么'])
        || ["什么时候", "怎么", "为什么", "多久", "能不能", "可以吗", "是否"]
            .iter()
            .any(|asks| trimmed.contains(asks))
}

/// The article the conversation was about: the one the bot answered from most often (the
/// latest of a tie), else the article whose answer an agent's reply repeats best.
fn topic(input: &WrapupInput<'_>, spoken: &[&Message]) -> Option<String> {
    let mut answered: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let sources = spoken
        .iter()
        .filter_map(|message| message.meta.as_ref()?.source.as_ref())
        .map(|source| source.title.as_str());
    for (order, title) in sources.enumerate() {
        let entry = answered.entry(title).or_default();
        entry.0 += 1;
        entry.1 = order;
    }
    if let Some((title, _)) = answered.into_iter().max_by_key(|(_, counted)| *counted) {
        return Some(title.to_owned());
    }
    let replies: Vec<_> = spoken
        .iter()
        .filter(|message| message.author_kind == AuthorKind::Agent)
        .map(|message| units(&message.body))
        .filter(|units| !units.is_empty())
        .collect();
    let mut best: Option<(f32, &str)> = None;
    for (title, answer) in input.articles {
        let answer = units(answer);
        for reply in &replies {
            let shared = reply.intersection(&answer).count() as f32 / reply.len() as f32;
            if shared >= TOPIC_OVERLAP && best.is_none_or(|(score, _)| shared > score) {
                best = Some((shared, title));
            }
        }
    }
    best.map(|(_, title)| title.to_owned())
}

/// The words of a text (case folded) and the pairs of adjacent Chinese characters: enough to
/// tell whether a reply repeats an answer, in either language.
fn units(text: &str) -> std::collections::BTreeSet<String> {
    let mut found = std::collections::BTreeSet::new();
    let mut word = String::new();
    let mut previous_han: Option<char> = None;
    for character in text.to_lowercase().chars().chain([' ']) {
        if tandem_text::is_han(character) {
            if let Some(previous) = previous_han {
                found.insert(format!("{previous}{character}"));
            }
            previous_han = Some(character);
        } else {
            previous_han = None;
        }
        if character.is_alphanumeric() && !tandem_text::is_han(character) {
            word.push(character);
        } else if !word.is_empty() {
            found.insert(std::mem::take(&mut word));
        }
    }
    found
}

/// A sentence cut to [`SENTENCE_CHARS`].
fn shorten(text: &str) -> String {
    if text.chars().count() <= SENTENCE_CHARS {
        return text.to_owned();
    }
    text.chars().take(SENTENCE_CHARS - 1).collect::<String>() + "…"
}

/// Sentences one after another, each closed: Chinese without a space, others with one.
fn join_sentences<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut joined = String::new();
    for part in parts {
        if !joined.is_empty() {
            let chinese = joined.chars().chain(part.chars()).any(tandem_text::is_han);
            if !joined.ends_with(['。', '！', '？', '…', '.', '!', '?']) {
                joined.push(if chinese { '。' } else { '.' });
            }
            if !chinese {
                joined.push(' ');
            }
        }
        joined.push_str(part);
    }
    joined
}

#[cfg(test)]
mod tests {
    use tandem_domain::{ActionOutcome, ActionRecord, MessageMeta, Source, TurnOutcome};

    use super::*;

    fn message(seq: i64, author_kind: AuthorKind, body: &str) -> Message {
        Message {
            id: MessageId(seq),
            conversation_id: ConversationId(1),
            seq,
            author_kind,
            author_id: None,
            author_name: None,
            body: body.to_owned(),
            client_msg_id: None,
            meta: None,
            created_at: seq,
        }
    }

    fn of(messages: &[Message], articles: &[(String, String)]) -> Wrapup {
        wrapup(WrapupInput { conversation: ConversationId(1), messages, decisions: &[], articles })
    }

    fn texts(wrapup: &Wrapup, kind: KeyPointKind) -> Vec<String> {
        wrapup
            .key_points
            .iter()
            .filter(|point| point.kind == kind)
            .map(|point| point.text.clone())
            .collect()
    }

    #[test]
    fn a_chinese_conversation_is_wrapped_up_from_its_own_sentences() {
        use AuthorKind::*;
        let messages = [
            message(1, Customer, "你好"),
            message(2, Customer, "我的订单 2024011500123 还没发货，手机 13812345678，付了 ¥299.00"),
            message(3, System, "王芳 加入了对话"),
            message(4, Note, "客户很急，订单 99999999999"),
            message(5, Agent, "您好，已为您查到订单。我们会在24小时内给您发货，1月20日前送达。"),
            message(6, Customer, "好的，运费谁出？"),
        ];
        let wrapup = of(&messages, &[]);
        assert_eq!(
            wrapup.summary,
            "我的订单 2024011500123 还没发货，手机 138****5678，付了 ¥299.00。我们会在24小时内给您发货，1月20日前送达。"
        );
        assert_eq!(
            texts(&wrapup, KeyPointKind::Promise),
            ["我们会在24小时内给您发货，1月20日前送达。"]
        );
        let entities: Vec<(String, String)> = wrapup
            .key_points
            .iter()
            .filter(|point| point.kind == KeyPointKind::Entity)
            .map(|point| (point.detail.clone().unwrap(), point.text.clone()))
            .collect();
        let pair = |kind: &str, value: &str| (kind.to_owned(), value.to_owned());
        assert!(entities.contains(&pair("order_number", "2024011500123")), "{entities:?}");
        assert!(entities.contains(&pair("mobile", "138****5678")), "{entities:?}");
        assert!(entities.contains(&pair("amount", "¥299.00")), "{entities:?}");
        assert!(entities.contains(&pair("date", "1月20日")), "{entities:?}");
        assert!(!format!("{wrapup:?}").contains("13812345678"), "personal data is masked");
        assert!(!format!("{wrapup:?}").contains("99999999999"), "notes are not read");
        assert_eq!(texts(&wrapup, KeyPointKind::FollowUp), ["好的，运费谁出？"]);
    }

    #[test]
    fn an_english_conversation_with_an_action_and_a_bot_answer() {
        use AuthorKind::*;
        let mut answer = message(2, Bot, "Refunds reach your card within 5 working days.");
        answer.meta = Some(MessageMeta {
            source: Some(Source {
                article: "refund-time".into(),
                title: "Refund time".into(),
                version: 1,
            }),
            quick_replies: Vec::new(),
            more_sources: Vec::new(),
            ..MessageMeta::default()
        });
        let messages = [
            message(
                1,
                Customer,
                "Where is my refund for order 123456789? Email me at li.lei@example.com",
            ),
            answer,
            message(3, Agent, "Thanks for waiting. I'll send the refund receipt by tomorrow."),
            message(4, Agent, "Anything else?"),
        ];
        let record = DecisionRecord {
            query: "refund".into(),
            outcome: TurnOutcome::Action,
            threshold: 0.5,
            candidates: Vec::new(),
            knowledge_version: String::new(),
            latency_us: 0,
            action: Some(ActionRecord::new("order_status", ActionOutcome::Done)),
            llm: None,
            parts: Vec::new(),
        };
        let decisions = vec![(MessageId(2), record.clone()), (MessageId(3), record)];
        let wrapup = wrapup(WrapupInput {
            conversation: ConversationId(1),
            messages: &messages,
            decisions: &decisions,
            articles: &[],
        });
        let asked = "Where is my refund for order 123456789? Email me at li.lei@example.com";
        let expected =
            format!("{}. I'll send the refund receipt by tomorrow.", mask_personal_data(asked));
        assert_eq!(wrapup.summary, expected);
        assert_eq!(
            texts(&wrapup, KeyPointKind::Promise),
            ["I'll send the refund receipt by tomorrow."]
        );
        let actions: Vec<_> =
            wrapup.key_points.iter().filter(|point| point.kind == KeyPointKind::Action).collect();
        assert_eq!(actions.len(), 1, "the same action and outcome once");
        assert_eq!(
            (actions[0].text.as_str(), actions[0].detail.as_deref()),
            ("order_status", Some("done"))
        );
        assert_eq!(wrapup.topic.as_deref(), Some("Refund time"));
        assert!(texts(&wrapup, KeyPointKind::FollowUp).is_empty(), "the agent wrote last");
        assert!(!format!("{wrapup:?}").contains("li.lei@"), "the e-mail is masked");
    }

    #[test]
    fn promises_follow_the_rule_lists_in_both_languages() {
        for promise in [
            "我会尽快处理",
            "稍后给您回电",
            "明天发出",
            "3个工作日内退款",
            "We'll call you",
            "I will check",
            "Done within 2 days",
            "You’ll hear from us shortly",
        ] {
            assert!(is_promise(promise), "{promise}");
        }
        for plain in [
            "您是我们的会员",
            "签收后 7 天内可申请无理由退货",
            "You can return it within 30 days",
            "已经退款了",
            "The parcel was delivered",
            "Williams signed for it",
            "withinside",
        ] {
            assert!(!is_promise(plain), "{plain}");
        }
    }

    #[test]
    fn amounts_and_dates_are_found_as_written() {
        assert_eq!(amounts("退 299 元，另付 $15.50 和 20块"), ["299 元", "$15.50", "20块"]);
        assert_eq!(amounts("order 12345678, 3 items"), Vec::<String>::new());
        assert_eq!(
            dates("2024-01-15 发货，2024年2月1日到，3月8号回访，版本 1.2"),
            ["2024-01-15", "2024年2月1日", "3月8号"]
        );
        assert_eq!(dates("call 2024/1/5 please"), ["2024/1/5"]);
    }

    #[test]
    fn the_topic_is_the_article_an_agent_reply_repeats() {
        use AuthorKind::*;
        let articles = [
            (
                "Shipping".to_owned(),
                "Orders ship within 48 hours from our Shanghai warehouse.".to_owned(),
            ),
            ("Returns".to_owned(), "You can return any item within 7 days of delivery.".to_owned()),
        ];
        let messages = [
            message(1, Customer, "Can I send it back?"),
            message(2, Agent, "Yes, you can return any item within 7 days of delivery."),
        ];
        assert_eq!(of(&messages, &articles).topic.as_deref(), Some("Returns"));
        let unrelated =
            [message(1, Customer, "hi"), message(2, Agent, "Hello there, how are things?")];
        assert_eq!(of(&unrelated, &articles).topic, None, "nothing close enough");
    }

    #[test]
    fn questions_are_open_only_after_the_last_reply() {
        use AuthorKind::*;
        let messages = [
            message(1, Customer, "什么时候到？"),
            message(2, Agent, "明天到。"),
            message(3, Customer, "谢谢。能开发票吗"),
        ];
        assert_eq!(texts(&of(&messages, &[]), KeyPointKind::FollowUp), ["能开发票吗"]);
        let unanswered = [message(1, Customer, "在吗？")];
        assert_eq!(texts(&of(&unanswered, &[]), KeyPointKind::FollowUp), ["在吗？"]);
    }
}
