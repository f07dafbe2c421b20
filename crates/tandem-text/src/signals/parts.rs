//! The separate requests packed into one customer message: "我想改一下收货地址，改不了就退款。
//! 另外上个订单的发票还没收到" is three (the address, the refund, the invoice); "我昨天买了耳机。
//! 怎么退货？" is one (the first sentence only says what it is about).
//!
//! A message is cut into clauses at sentence ends and commas, and a clause starts a new part when
//! the customer marks it as one (a number, "另外", "also,", "otherwise"), or when it is a question
//! or request of its own after one (a second question). A clause that asks nothing (context, a
//! complaint, "谢谢") and a short follow-up ("运费谁出？", "and for kids?") stay with the part
//! they belong to. Each part keeps the customer's own words, for the bot to answer it on its own
//! and for a person to see what is left.

/// How a clause is joined to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Join {
    /// The first clause.
    Start,
    /// After a comma.
    Clause,
    /// After a sentence end ("。", "?", "!", a full stop, a line break).
    Sentence,
    /// Before "and" and a second request ("... and can you tell me").
    And,
    /// Marked as a new part: a numbered point, "另外", "also,", "otherwise".
    Marked,
}

/// Words that, starting a clause, mark a new matter: "另外，发票怎么开", "Also, my coupon".
const NEW_MATTER: &[&str] = &[
    "另外",
    "此外",
    "还有一个问题",
    "还有个问题",
    "还有一件事",
    "还有件事",
    "还有就是",
    "还有一个",
    "还想问",
    "顺便问下",
    "顺便问一下",
    "顺便问",
    "顺便说",
    "顺便",
    "另一个问题",
    "另一个",
    "oh and",
    "and separately",
    "and another thing",
    "another thing",
    "another question",
    "one more thing",
    "one more question",
    "additionally",
    "in addition",
    "besides that",
    "besides",
    "by the way",
    "btw",
    "also",
    "plus",
    "and also",
    "separately",
    "on another note",
    "unrelated",
];

/// Words that, starting a clause, go on to the next thing: a new request when it asks something
/// ("再帮我查一下物流"), context when it does not ("然后发现坏了").
const NARRATIVE: &[&str] = &["而且", "然后", "以及", "同时", "再帮我", "再帮", "再给我", "再问"];

/// Words that, starting a clause, give a fallback request: "改不了的话就退款", "otherwise refund
/// me". The fallback is a request of its own (the bot answers it; a person may need to do it).
const FALLBACK: &[&str] = &[
    "否则",
    "不然",
    "要不然",
    "如果不行的话",
    "不行的话",
    "不行就",
    "如果不行",
    "改不了的话",
    "改不了就",
    "otherwise",
    "or else",
    "if not",
    "failing that",
];

/// Clauses that only count the points: the clause after each is a point of its own.
const ORDINALS: &[&str] = &[
    "第一", "第二", "第三", "首先", "其次", "最后", "first", "second", "third", "lastly", "finally",
];

/// A clause that is only one of these starts another matter with the next clause ("还有，运费
/// 谁出").
const MARKER_ALONE: &[&str] = &["还有", "再有"];

/// How a clause's first words mark it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    /// Goes on to the next thing ([`NARRATIVE`], [`FALLBACK`]).
    Next,
    /// Another matter ([`NEW_MATTER`]): this part and the one before are separate requests.
    Another,
    /// A counted point ([`ORDINALS`], or a number).
    Point,
}

/// Chinese numerals that number points ("一、", "二、").
const CHINESE_NUMERALS: &[char] = &['一', '二', '三', '四', '五', '六', '七', '八', '九', '十'];

/// Chinese words that make a clause a question or a request; a problem reported ("坏了", "用不
/// 了") asks for help too.
const REQUEST_HAN: &[&str] = &[
    "吗",
    "坏了",
    "用不了",
    "不能用",
    "错了",
    "少了",
    "扣了",
    "漏",
    "呢",
    "么",
    "谁",
    "咋",
    "啥",
    "是不是",
    "行不行",
    "怎么",
    "如何",
    "怎样",
    "什么",
    "哪",
    "几",
    "多少",
    "多久",
    "为什么",
    "为啥",
    "能不能",
    "能否",
    "可不可以",
    "可以",
    "是否",
    "有没有",
    "请",
    "帮我",
    "帮忙",
    "麻烦",
    "想",
    "要",
    "需要",
    "希望",
    "给我",
    "没收到",
    "没到",
    "还没",
    "退",
    "换",
    "改",
    "取消",
    "查",
];

/// Saying there are several things to ask.
const ANNOUNCEMENTS: &[&str] = &[
    "两个问题",
    "几个问题",
    "两件事",
    "几件事",
    "三个问题",
    "问两个",
    "问几个",
    "two things",
    "three things",
    "a couple of things",
    "a few things",
    "two questions",
    "a few questions",
    "couple of questions",
    "several questions",
];

/// Chinese words that, opening a short question, leave out what it is about: it is about the
/// question before ("有没有保修", "可以分几期", "是原路退回吗").
const ELLIPTICAL_HAN: &[&str] = &[
    "是",
    "可以",
    "能",
    "能不能",
    "可不可以",
    "有没有",
    "会不会",
    "要不要",
    "需不需要",
    "需要",
    "支持",
    "包括",
    "包不包",
    "含",
    "它",
    "这个",
    "那个",
    "这款",
    "那款",
];

/// English words that point back to what the question before was about: "how long does it
/// take", "is that free".
const BACK_REFERENCES: &[&str] = &["it", "its", "that", "them", "they", "there", "those", "this"];

/// English words that start a question.
const QUESTION_WORDS: &[&str] = &[
    "how", "what", "when", "where", "why", "which", "who", "whats", "can", "could", "would",
    "will", "is", "are", "do", "does", "did", "should", "may", "have", "has", "any",
];

/// English phrases that make a clause a request; a problem reported ("is missing", "doesn't
/// work") asks for help too.
const REQUEST_PHRASES: &[&str] = &[
    "missing",
    "broken",
    "not working",
    "isn't working",
    "doesn't work",
    "don't work",
    "didn't arrive",
    "hasn't arrived",
    "haven't received",
    "haven't got",
    "never arrived",
    "is wrong",
    "damaged",
    "charged twice",
    "please",
    "pls",
    "i want",
    "i need",
    "i'd like",
    "i would like",
    "i wanna",
    "help me",
    "tell me",
    "let me know",
    "want to",
    "need to",
    "cancel",
    "refund",
    "change",
];

/// English words after "and" that start a second request in the same sentence: "cancel order
/// 123 and tell me how to reset my password" (but not "pay by card and use a coupon").
const REQUEST_STARTERS: &[&str] = &[
    "can i",
    "will you",
    "is the",
    "is there",
    "is my",
    "are the",
    "are there",
    "are my",
    "do you",
    "does the",
    "i also want",
    "i also need",
    "i'd also like",
    "tell me",
    "let me know",
    "can you",
    "could you",
    "how",
    "what",
    "where",
    "when",
    "why",
    "i want",
    "i need",
    "i'd like",
    "i would like",
    "please",
];

/// Clauses that only say the customer complains.
const COMPLAINT_ONLY: &[&str] = &[
    "我要投诉",
    "我要投诉你们",
    "投诉",
    "我要举报",
    "i want to complain",
    "i'd like to complain",
    "i want to make a complaint",
    "i want to file a complaint",
    "i'm complaining",
];

/// Whole clauses that ask nothing: greetings and thanks.
const PLEASANTRIES: &[&str] = &[
    "你好",
    "您好",
    "在吗",
    "在不在",
    "谢谢",
    "谢谢你",
    "谢谢您",
    "多谢",
    "麻烦了",
    "请问",
    "亲",
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank you",
    "thx",
    "please",
    "pls",
    "ok",
    "okay",
];

/// Asking whether the customer talks to a bot.
const BOT_QUESTIONS: &[&str] = &[
    "机器人吗",
    "是机器人",
    "是不是机器人",
    "是真人吗",
    "是不是真人",
    "是人吗",
    "are you a bot",
    "are you a robot",
    "are you human",
    "are you a real person",
    "are you real",
    "is this a bot",
    "am i talking to a bot",
    "is this automated",
];

/// A clause of a message: its words (trimmed, the marker that opened it left out) and how it
/// joins the one before.
#[derive(Debug)]
struct Clause<'a> {
    text: &'a str,
    join: Join,
}

/// One part being put together.
struct Part {
    text: String,
    /// It asks something or asks for something.
    request: bool,
    /// Numbered, or after "two things:": a part whatever it says.
    forced: bool,
}

/// The separate requests in `text`, each in the customer's own words, in order. One element
/// (or none, for a message with no words) means the message asks one thing.
pub fn request_parts(text: &str) -> Vec<String> {
    let announced = announces_several(text);
    let mut parts: Vec<Part> = Vec::new();
    // "还有，..." or a bare number: how the next clause is marked.
    let mut pending = Marker::None;
    for clause in clauses(text, announced) {
        let (words, own) = strip_marker(clause.text);
        let marker = match (clause.join, own, pending) {
            (Join::Marked, ..) | (_, Marker::Point, _) | (_, _, Marker::Point) => Marker::Point,
            (_, Marker::Another, _) | (_, _, Marker::Another) => Marker::Another,
            (_, Marker::Next, _) | (_, _, Marker::Next) => Marker::Next,
            _ => Marker::None,
        };
        if words.is_empty() {
            pending = marker;
            continue;
        }
        pending = Marker::None;
        if is_pleasantry(words) || about_the_conversation(words) || is_announcement(words) {
            continue;
        }
        let request = is_request(words);
        let forced = matches!(marker, Marker::Point | Marker::Another)
            || (announced && clause.join != Join::Start);
        let new_part = match parts.last_mut() {
            None => true,
            Some(last) if forced => {
                // Another matter: what came before is one of its own, whatever it says.
                last.forced |= marker == Marker::Another;
                true
            }
            Some(_) if marker == Marker::Next => true,
            Some(last) => {
                matches!(clause.join, Join::Sentence | Join::And)
                    && last.request
                    && request
                    && !is_follow_up(words)
            }
        };
        if new_part {
            parts.push(Part { text: words.to_owned(), request, forced });
        } else if let Some(last) = parts.last_mut() {
            last.text.push_str(separator(clause.join, &last.text));
            last.text.push_str(words);
            last.request |= request;
        }
    }
    // A part that asks nothing ("我收到货，然后发现坏了") is the context of the request after it,
    // or (last) a remark on the one before.
    let mut merged: Vec<Part> = Vec::new();
    let mut context: Option<String> = None;
    for mut part in parts {
        if let Some(before) = context.take() {
            part.text = format!("{before}{}{}", separator(Join::Clause, &before), part.text);
        }
        if !part.request && !part.forced {
            context = Some(part.text);
            continue;
        }
        merged.push(part);
    }
    if let Some(rest) = context {
        match merged.last_mut() {
            Some(last) => {
                last.text.push_str(separator(Join::Sentence, &last.text));
                last.text.push_str(&rest);
            }
            None => merged.push(Part { text: rest, request: false, forced: false }),
        }
    }
    merged.into_iter().map(|part| part.text).collect()
}

/// Whether the message says it has several things to ask ("two things:", "几个问题"): then each
/// clause is one of them.
fn announces_several(text: &str) -> bool {
    let normalized = crate::normalize(text);
    let opening: String = normalized.chars().take(40).collect();
    ANNOUNCEMENTS.iter().any(|cue| opening.contains(cue))
}

fn is_announcement(clause: &str) -> bool {
    let normalized = crate::normalize(clause);
    let bare = normalized.trim_end_matches([':', '：', ' ', '-']);
    ANNOUNCEMENTS.iter().any(|cue| bare.ends_with(cue)) && bare.chars().count() <= 24
}

/// What joins a clause to the part it continues: the customer's punctuation is gone, so a
/// Chinese or English comma or full stop.
fn separator(join: Join, part: &str) -> &'static str {
    let chinese = part.chars().any(crate::is_han);
    match (join, chinese) {
        (Join::Clause, true) => "，",
        (_, true) => "。",
        (Join::Clause, false) => ", ",
        (_, false) => ". ",
    }
}

/// Cuts `text` at sentence ends, commas and numbered points ("1.", "2)", "一、"), and before
/// "and" when a second request follows it.
fn clauses(text: &str, announced: bool) -> Vec<Clause<'_>> {
    let mut clauses = Vec::new();
    let mut start = 0;
    let mut join = Join::Start;
    let mut characters = text.char_indices().peekable();
    while let Some((at, character)) = characters.next() {
        let next = characters.peek().map(|(_, next)| *next);
        let boundary = match character {
            '。' | '！' | '？' | '!' | '?' | '；' | ';' | '\n' | '…' => Some(Join::Sentence),
            '.' if next.is_none_or(char::is_whitespace) => Some(Join::Sentence),
            '，' | ',' => Some(Join::Clause),
            // Chinese has no spaces between words: one between two characters is a pause.
            ' ' if next.is_some_and(crate::is_han)
                && text[..at].chars().next_back().is_some_and(crate::is_han) =>
            {
                Some(Join::Clause)
            }
            _ => None,
        };
        let (end, opens) = if let Some(boundary) = boundary {
            (at + character.len_utf8(), boundary)
        } else if let Some(end) = numbered_point(text, at) {
            (end, Join::Marked)
        } else if character == ' '
            && let Some(starter) = second_request_after_and(&text[at..], announced)
        {
            (at + starter, Join::And)
        } else {
            continue;
        };
        let piece = text[start..at].trim();
        if piece.is_empty() {
            // A run of marks ("?!", "。\n", "2. "): the strongest one counts.
            join = join.max(opens);
        } else {
            clauses.push(Clause { text: piece, join });
            join = opens;
        }
        while characters.peek().is_some_and(|(next_at, _)| *next_at < end) {
            characters.next();
        }
        start = end;
    }
    let piece = text[start..].trim();
    if !piece.is_empty() {
        clauses.push(Clause { text: piece, join });
    }
    clauses
}

/// Where the marker of a numbered point at `at` ends: "1." "2)" "3、" "4:" not inside a longer
/// number or a word and not followed by a digit ("1.5 kg", "2024.1.5", "1:30"), or a Chinese
/// numeral with "、" ("一、") at the start of a clause.
fn numbered_point(text: &str, at: usize) -> Option<usize> {
    let before = text[..at].chars().next_back();
    let mut rest = text[at..].chars();
    let number = rest.next()?;
    let marker = rest.next()?;
    let after = rest.next();
    let at_clause_start = before.is_none_or(|c| {
        c.is_whitespace() || matches!(c, '，' | ',' | '。' | '；' | ';' | ':' | '：' | '\n')
    });
    let arabic = number.is_ascii_digit()
        && !before.is_some_and(|c| c.is_alphanumeric() || c == '.')
        && matches!(marker, '.' | ')' | '、' | ':' | '）')
        && !after.is_some_and(|c| c.is_ascii_digit());
    let chinese = CHINESE_NUMERALS.contains(&number) && marker == '、' && at_clause_start;
    (arabic || chinese).then(|| at + number.len_utf8() + marker.len_utf8())
}

/// After a space: "and (also) tell me...", "and can you...": the length up to the request that
/// follows, which starts a new clause.
fn second_request_after_and(rest: &str, announced: bool) -> Option<usize> {
    let lower = rest.to_ascii_lowercase();
    let after_and = lower.strip_prefix(" and ")?;
    // "... and btw the link is broken": another matter, which the clause's marker says.
    // ("and also" goes on with the same request: "pay by card and also use a coupon".)
    let another = NEW_MATTER.iter().filter(|marker| !matches!(**marker, "also" | "plus"));
    if another.into_iter().any(|marker| starts_with_word(after_and, marker)) {
        return Some(rest.len() - after_and.len());
    }
    let after_also = ["also ", "separately, ", "separately ", "then "]
        .iter()
        .find_map(|lead| after_and.strip_prefix(lead))
        .unwrap_or(after_and);
    (announced || REQUEST_STARTERS.iter().any(|starter| starts_with_word(after_also, starter)))
        .then(|| rest.len() - after_also.len())
}

/// The clause without the words that mark it as a new part, and how they mark it.
fn strip_marker(clause: &str) -> (&str, Marker) {
    let lower = clause.to_lowercase();
    let bare = lower.trim_end_matches([':', '：', ' ', '-', '—']);
    if ORDINALS.contains(&bare) {
        return ("", Marker::Point);
    }
    if MARKER_ALONE.contains(&bare) || NEW_MATTER.contains(&bare) {
        return ("", Marker::Another);
    }
    if NARRATIVE.contains(&bare) || FALLBACK.contains(&bare) {
        return ("", Marker::Next);
    }
    let kinds =
        [(NEW_MATTER, Marker::Another), (NARRATIVE, Marker::Next), (FALLBACK, Marker::Next)];
    for (markers, kind) in kinds {
        for marker in markers {
            // Lower-casing keeps the length of ASCII and of Chinese, the only text markers have.
            if starts_with_word(&lower, marker) && clause.is_char_boundary(marker.len()) {
                let rest = clause[marker.len()..]
                    .trim_start_matches([' ', ',', '，', ':', '：', '-', '—']);
                let rest = rest.strip_prefix("的话").unwrap_or(rest);
                let rest = rest.strip_prefix('就').unwrap_or(rest);
                return (rest.trim(), kind);
            }
        }
    }
    // "还有我的会员怎么续费" is another matter; "还有红色的吗" asks on about the same one.
    if let Some(rest) = clause.strip_prefix("还有")
        && rest.chars().filter(|c| crate::is_han(*c)).count() > 4
    {
        return (rest.trim_start_matches([' ', ',', '，']).trim(), Marker::Another);
    }
    (clause, Marker::None)
}

/// Whether `text` starts with `word`, ending at a word boundary when it ends in a letter.
fn starts_with_word(text: &str, word: &str) -> bool {
    text.starts_with(word)
        && (!word.ends_with(|c: char| c.is_ascii_alphanumeric())
            || !text[word.len()..].starts_with(|c: char| c.is_ascii_alphanumeric()))
}

fn is_pleasantry(clause: &str) -> bool {
    let bare: String =
        crate::normalize(clause).chars().filter(|c| c.is_alphanumeric() || *c == ' ').collect();
    let bare = bare.trim();
    bare.is_empty() || PLEASANTRIES.contains(&bare)
}

/// Asking for a person or whether the customer is talking to a bot is about the conversation,
/// not one of the customer's matters.
fn about_the_conversation(clause: &str) -> bool {
    let normalized = crate::normalize(clause);
    super::asks_for_person(clause) || BOT_QUESTIONS.iter().any(|cue| normalized.contains(cue))
}

/// Whether a clause asks something or asks for something.
fn is_request(clause: &str) -> bool {
    let normalized = crate::normalize(clause);
    // "我要投诉！" says how the customer feels about what follows; it is no matter of its own.
    let bare = normalized.trim_end_matches(|c: char| !c.is_alphanumeric());
    if COMPLAINT_ONLY.contains(&bare) {
        return false;
    }
    if normalized.contains('?') {
        return true;
    }
    if normalized.chars().any(crate::is_han) {
        return REQUEST_HAN.iter().any(|cue| normalized.contains(cue));
    }
    let first = normalized.split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("");
    QUESTION_WORDS.contains(&first)
        || REQUEST_PHRASES.iter().any(|phrase| super::contains_cue(&normalized, phrase))
}

/// A short question that goes on from the one before ("运费谁出？", "还有红色的吗？", "and
/// for kids?"): part of the same request.
fn is_follow_up(clause: &str) -> bool {
    let normalized = crate::normalize(clause);
    let han = normalized.chars().filter(|c| crate::is_han(*c)).count();
    let words: Vec<&str> = normalized
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    let marked = ["那", "还有", "也", "如果", "要是", "and ", "what about", "how about", "what if"]
        .iter()
        .any(|marker| normalized.starts_with(marker));
    if han > 0 {
        let elliptical = ELLIPTICAL_HAN.iter().any(|start| normalized.starts_with(start));
        han <= 4 || ((marked || elliptical) && han <= 8)
    } else {
        // "how long does it take", "is that included": about what came before.
        let points_back = words.iter().take(6).any(|word| BACK_REFERENCES.contains(word));
        words.len() <= 3 || (marked && words.len() <= 6) || points_back
    }
}

#[cfg(test)]
mod tests {
    use super::request_parts;

    #[test]
    fn separate_requests_are_parts() {
        let cases: &[(&str, &[&str])] = &[
            (
                "我想改一下收货地址，改不了的话就退款吧。另外上个订单的发票还没收到",
                &["我想改一下收货地址", "退款吧", "上个订单的发票还没收到"],
            ),
            ("1. 退货 2. 换货 3. 发票", &["退货", "换货", "发票"]),
            ("一、怎么退货 二、发票怎么开", &["怎么退货", "发票怎么开"]),
            (
                "Where is my order? Can I change the address? How do refunds work?",
                &["Where is my order", "Can I change the address", "How do refunds work"],
            ),
            (
                "我想退货。另外，发票怎么开。还有一个问题，运费谁出",
                &["我想退货", "发票怎么开", "运费谁出"],
            ),
            (
                "Can you cancel order 123 and also tell me how to reset my password?",
                &["Can you cancel order 123", "tell me how to reset my password"],
            ),
            (
                "Please change my delivery address, otherwise refund me. Also my invoice is missing",
                &["Please change my delivery address", "refund me", "my invoice is missing"],
            ),
            ("怎么退货？发票怎么开？", &["怎么退货", "发票怎么开"]),
        ];
        for (text, expected) in cases {
            assert_eq!(request_parts(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn one_request_with_its_context_is_one_part() {
        let cases: &[(&str, &str)] = &[
            ("我昨天买了个耳机。怎么退货？", "我昨天买了个耳机。怎么退货"),
            ("你好，请问怎么退货", "请问怎么退货"),
            ("还有货吗？还有红色的吗？", "还有货吗。还有红色的吗"),
            ("我想退货。运费谁出？", "我想退货。运费谁出"),
            (
                "I bought headphones last week. They stopped working. How do I return them?",
                "I bought headphones last week. They stopped working. How do I return them",
            ),
            (
                "Can I also pay by card and also use a coupon",
                "Can I also pay by card and also use a coupon",
            ),
            ("Where is my order???", "Where is my order"),
            ("第一次买，第二天就坏了", "第一次买，第二天就坏了"),
            (
                "Version 1.5 or 2.0, bought 2024.1.5 at 1:30",
                "Version 1.5 or 2.0, bought 2024.1.5 at 1:30",
            ),
            (
                "How do I return this? And for kids' shoes?",
                "How do I return this. And for kids' shoes",
            ),
            ("怎么退货，谢谢！", "怎么退货"),
            ("你是机器人吗？我要找真人。退货怎么退", "退货怎么退"),
        ];
        for (text, expected) in cases {
            assert_eq!(request_parts(text), [*expected], "{text:?}");
        }
        assert!(request_parts("  ").is_empty());
    }
}
