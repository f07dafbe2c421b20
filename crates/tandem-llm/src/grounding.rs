//! Grounded answers: the built-in retrieval picks the passages, the model writes the answer
//! from them, and [`verify`] checks the answer against them before a customer sees it.
//!
//! The check is deliberately simple, so that an agent reading a rejected answer can tell why.
//! A *claim* is:
//!
//! - a number with its unit, if any: amounts (`¥99`, `99 元`), durations (`7 天`, `48 小时`,
//!   `30 days`), percentages and counts, after full-width/half-width folding and Chinese or
//!   English number words before a unit (`七天` → `7天`, `seven days` → `7 days`);
//! - a date (`2024-11-11`, `11月11日`, `Nov 11`);
//! - a quoted term (`“无理由退货”`, `"price protection"`);
//! - a policy term from a short list of phrases that promise something (free of charge, free
//!   shipping, no questions asked, full refund, unconditional, lifetime, compensation, cash, guarantee,
//!   price protection), in Chinese or English.
//!
//! Every claim must appear in some passage: the same number with the same unit (or any unit,
//! when the answer gives none), the same date, the quoted term verbatim, or a phrase of the
//! same policy term. The customer's own personal data and Tandem's placeholders for it are not
//! claims. An answer that is, or contains, [`NO_ANSWER`] is the model saying it does not know.

use std::sync::OnceLock;

use regex::Regex;
use tandem_domain::Locale;
use tandem_text::Lang;
use tandem_text::signals::find_personal_data;

use crate::ChatMessage;

/// What the model is asked to reply when the passages do not answer the question.
pub const NO_ANSWER: &str = "NO_ANSWER";

/// One retrieved passage: an article's key, title and answer text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    pub key: String,
    pub title: String,
    pub text: String,
}

/// What kind of claim could not be found in the passages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// A number, with its unit if it had one.
    Quantity,
    Date,
    /// A term the answer put in quotation marks.
    Quoted,
    /// A phrase that promises something (free, full refund…).
    PolicyTerm,
    /// A `[ref:key]` citation of a passage that was not given.
    Citation,
}

/// A claim of the answer that no passage supports, as the answer wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub kind: ClaimKind,
    pub text: String,
}

/// Why an answer may not be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The model said the passages do not answer the question.
    #[error("the model did not know")]
    Refused,
    /// Some claims are in no passage.
    #[error("unsupported claims: {}", claims.iter().map(|claim| claim.text.as_str()).collect::<Vec<_>>().join(", "))]
    Unsupported { claims: Vec<Claim> },
    /// The answer makes no unsupported claim but is not an answer drawn from the passages.
    #[error("not grounded: {}", .0.code())]
    NotGrounded(NotGrounded),
}

/// Why an answer without unsupported claims is still not shown; see [`check_answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotGrounded {
    /// Nothing but white space (or only citations).
    Empty,
    /// Not in the language of the customer's question.
    WrongLanguage,
    /// It mostly repeats the instructions of the prompt.
    EchoesInstructions,
    /// It shares nothing with the question nor with any passage.
    OffTopic,
    /// It cites none of the passages it was given.
    NoCitation,
    /// Too little of it comes from the passages it cites.
    NotFromPassage,
}

impl NotGrounded {
    /// The stable code kept in the decision record.
    pub fn code(self) -> &'static str {
        match self {
            NotGrounded::Empty => "empty",
            NotGrounded::WrongLanguage => "wrong_language",
            NotGrounded::EchoesInstructions => "echoes_instructions",
            NotGrounded::OffTopic => "off_topic",
            NotGrounded::NoCitation => "no_citation",
            NotGrounded::NotFromPassage => "not_from_passage",
        }
    }
}

/// The prompt for a grounded answer: the rules and the passages as the system message, the
/// customer's question alone as the user message (so nothing the customer writes can pass for
/// an instruction or a passage).
pub fn grounded_messages(question: &str, passages: &[Passage], locale: Locale) -> Vec<ChatMessage> {
    let language = match locale {
        Locale::Zh => "简体中文 (Simplified Chinese)",
        Locale::En => "English",
    };
    let mut system = instructions(language);
    system.push_str("\n\nPassages:\n");
    for passage in passages {
        system.push_str(&format!("\n[ref:{}] {}\n{}\n", passage.key, passage.title, passage.text));
    }
    vec![ChatMessage::system(system), ChatMessage::user(question)]
}

/// The rules of the grounded prompt (before its passages), for a reply in `language`.
fn instructions(language: &str) -> String {
    format!(
        "You are a customer-service assistant. Answer the customer's question using only the \
         passages below.\n\
         Rules:\n\
         1. Use only facts the passages state. Never add numbers, dates, amounts, time limits, \
         fees or conditions that are not in them, and copy those the passages give exactly.\n\
         2. After each sentence that uses a passage, cite it as [ref:KEY] with that passage's key. \
         An answer that cites no passage is not shown.\n\
         3. If the passages do not answer the question, reply with exactly {NO_ANSWER} and nothing \
         else.\n\
         4. Placeholders such as [PHONE_1] or [EMAIL_1] stand for the customer's personal data: \
         keep them unchanged.\n\
         5. Reply in {language}, briefly and politely."
    )
}

/// The passage keys an answer cites, in order, without repeats.
pub fn citations(answer: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for capture in citation_pattern().captures_iter(answer) {
        let key = capture[1].to_owned();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The answer without its `[ref:key]` citations, for showing to the customer.
pub fn strip_citations(answer: &str) -> String {
    let stripped = citation_pattern().replace_all(answer, "");
    stripped.trim().replace(" 。", "。").replace(" .", ".")
}

/// The text without its `[ref:key]` citations, white space kept: for a piece of a streamed
/// answer.
pub(super) fn without_citations(text: &str) -> String {
    citation_pattern().replace_all(text, "").into_owned()
}

/// Checks that every claim of `answer` is in some passage; see the module documentation.
pub fn verify(answer: &str, passages: &[Passage]) -> Result<(), Rejection> {
    verify_in_context(answer, passages, &[])
}

/// Like [`verify`], with more texts whose claims the answer may repeat: typically the
/// customer's question, so that an answer may mention the order number the customer gave.
pub fn verify_in_context(
    answer: &str,
    passages: &[Passage],
    context: &[&str],
) -> Result<(), Rejection> {
    if answer.trim().is_empty() || answer.contains(NO_ANSWER) {
        return Err(Rejection::Refused);
    }
    let mut sources: Vec<&str> = Vec::new();
    for passage in passages {
        sources.push(&passage.title);
        sources.push(&passage.text);
    }
    sources.extend_from_slice(context);
    let supported: Vec<Facts> = sources.iter().map(|source| Facts::of(source)).collect();
    let normalized_sources: Vec<String> =
        sources.iter().map(|source| tandem_text::normalize(source)).collect();

    let mut claims = Vec::new();
    for key in citations(answer) {
        if !passages.iter().any(|passage| passage.key == key) {
            claims.push(Claim { kind: ClaimKind::Citation, text: format!("[ref:{key}]") });
        }
    }
    let facts = Facts::of(answer);
    for (quantity, text) in &facts.quantities {
        let found = supported.iter().flat_map(|facts| &facts.quantities).any(|(other, _)| {
            (other.value - quantity.value).abs() < 1e-9
                && (quantity.unit.is_none() || other.unit == quantity.unit)
        });
        if !found {
            claims.push(Claim { kind: ClaimKind::Quantity, text: text.clone() });
        }
    }
    for (date, text) in &facts.dates {
        let found = supported.iter().flat_map(|facts| &facts.dates).any(|(other, _)| {
            other.month == date.month
                && other.day == date.day
                && (date.year.is_none() || other.year.is_none() || other.year == date.year)
        });
        if !found {
            claims.push(Claim { kind: ClaimKind::Date, text: text.clone() });
        }
    }
    for term in &facts.quoted {
        let normalized = tandem_text::normalize(term);
        if !normalized_sources.iter().any(|source| source.contains(&normalized)) {
            claims.push(Claim { kind: ClaimKind::Quoted, text: term.clone() });
        }
    }
    for (concept, text) in &facts.policy_terms {
        if !supported
            .iter()
            .any(|facts| facts.policy_terms.iter().any(|(other, _)| other == concept))
        {
            claims.push(Claim { kind: ClaimKind::PolicyTerm, text: text.clone() });
        }
    }
    if claims.is_empty() { Ok(()) } else { Err(Rejection::Unsupported { claims }) }
}

/// How much of an answer's content must come from the passages it cites (the words the
/// customer's question already used do not count either way).
pub const MIN_PASSAGE_SHARE: f64 = 0.5;

/// How many content words an answer must share with the passages it cites (fewer when the
/// answer has fewer content words).
pub const MIN_SHARED_WORDS: usize = 2;

/// From what share of its content words found in the prompt's instructions an answer is taken
/// to repeat them (when more of them are in the instructions than in the passages).
pub const ECHO_SHARE: f64 = 0.6;

/// What the answer to one question is checked against: the passages, the question, the
/// instructions of the prompt and the language the customer needs. Built once per answer (the
/// stream gate checks every clause against it).
///
/// On top of [`verify_in_context`] (no unsupported claim), [`Grounds::check`] keeps an answer
/// only if, in this order:
///
/// 1. it has text besides citations ([`NotGrounded::Empty`]) and is not [`NO_ANSWER`];
/// 2. it does not repeat the instructions: less than [`ECHO_SHARE`] of its content words are in
///    them, or more are in the passages ([`NotGrounded::EchoesInstructions`]);
/// 3. it is in the language of the customer's question, or of the conversation when the
///    question has no letters ([`NotGrounded::WrongLanguage`]);
/// 4. it shares a content word with the question or a passage ([`NotGrounded::OffTopic`]);
/// 5. every claim is in a passage or the question ([`Rejection::Unsupported`]);
/// 6. it cites at least one of the given passages as `[ref:KEY]` ([`NotGrounded::NoCitation`]);
/// 7. it is drawn from the passages it cites: at least [`MIN_SHARED_WORDS`] of its content
///    words are in them, and at least one and at least [`MIN_PASSAGE_SHARE`] of its content
///    words that the question does not already contain ([`NotGrounded::NotFromPassage`]).
///
/// Content words are what `tandem_text` makes of the text (jieba's words for Chinese, Snowball
/// stems for English, numbers whole) less common function words and courtesies; a Chinese word
/// is also found in a text that contains it without jieba cutting it the same way there.
#[derive(Debug)]
pub struct Grounds<'a> {
    passages: &'a [Passage],
    question: &'a str,
    language: Lang,
    /// Each passage's title and text, in the order of `passages`.
    sources: Vec<Source>,
    asked: Source,
    instructions: Source,
}

impl<'a> Grounds<'a> {
    /// The grounds of an answer to `question` from `passages`, for a customer whose
    /// conversation is in `locale`.
    pub fn new(passages: &'a [Passage], question: &'a str, locale: Locale) -> Grounds<'a> {
        let language = tandem_text::detect_language(question).unwrap_or(match locale {
            Locale::Zh => Lang::Zh,
            Locale::En => Lang::En,
        });
        Grounds {
            passages,
            question,
            language,
            sources: passages
                .iter()
                .map(|passage| Source::of(&format!("{}\n{}", passage.title, passage.text)))
                .collect(),
            asked: Source::of(question),
            instructions: Source::of(&instructions("")),
        }
    }

    pub fn passages(&self) -> &'a [Passage] {
        self.passages
    }

    pub fn question(&self) -> &'a str {
        self.question
    }

    /// Checks a whole answer (citations included); see the type's documentation.
    pub fn check(&self, answer: &str) -> Result<(), Rejection> {
        let visible = visible_text(answer);
        if visible.trim().is_empty() {
            return Err(Rejection::NotGrounded(NotGrounded::Empty));
        }
        if answer.contains(NO_ANSWER) {
            return Err(Rejection::Refused);
        }
        let words = content_words(&visible);
        self.judge(&visible, &words).map_err(Rejection::NotGrounded)?;
        let in_passages = words.iter().any(|word| self.sources.iter().any(|s| s.has(word)));
        if !in_passages && !words.iter().any(|word| self.asked.has(word)) {
            return Err(Rejection::NotGrounded(NotGrounded::OffTopic));
        }
        verify_in_context(answer, self.passages, &[self.question])?;
        let cited: Vec<&Source> = citations(answer)
            .iter()
            .filter_map(|key| self.passages.iter().position(|passage| passage.key == *key))
            .map(|index| &self.sources[index])
            .collect();
        if cited.is_empty() {
            return Err(Rejection::NotGrounded(NotGrounded::NoCitation));
        }
        let from_cited = |word: &String| cited.iter().any(|source| source.has(word));
        let shared = words.iter().filter(|word| from_cited(word)).count();
        let new: Vec<&String> = words.iter().filter(|word| !self.asked.has(word)).collect();
        let new_shared = new.iter().filter(|word| from_cited(word)).count();
        let enough_shared = shared >= MIN_SHARED_WORDS.min(words.len()) && shared > 0;
        // An answer that adds nothing to the question's own words answers nothing.
        let enough_share =
            new_shared > 0 && new_shared as f64 >= MIN_PASSAGE_SHARE * new.len() as f64;
        if enough_shared && enough_share {
            Ok(())
        } else {
            Err(Rejection::NotGrounded(NotGrounded::NotFromPassage))
        }
    }

    /// Whether a clause of a streamed answer may be shown, before the citations that may follow
    /// it are known: `so_far` is the visible answer up to and including it. It must be in the
    /// customer's language, not repeat the instructions, and be drawn from some passage (at
    /// least [`MIN_PASSAGE_SHARE`] of its content words the question does not contain; when
    /// the answer so far shares no word with them or the question, it is off the subject); a clause of function
    /// words and courtesies only passes.
    pub fn check_clause(&self, so_far: &str, clause: &str) -> Result<(), NotGrounded> {
        let visible = visible_text(clause);
        let words = content_words(&visible);
        self.judge(so_far, &words)?;
        let new: Vec<&String> = words.iter().filter(|word| !self.asked.has(word)).collect();
        let found = new.iter().filter(|word| self.sources.iter().any(|s| s.has(word))).count();
        if new.is_empty() || found as f64 >= MIN_PASSAGE_SHARE * new.len() as f64 {
            Ok(())
        } else if !content_words(so_far)
            .iter()
            .any(|word| self.asked.has(word) || self.sources.iter().any(|s| s.has(word)))
        {
            Err(NotGrounded::OffTopic)
        } else {
            Err(NotGrounded::NotFromPassage)
        }
    }

    /// The checks a clause and a whole answer share: instructions repeated (in `words`), the
    /// language (of `text`).
    fn judge(&self, text: &str, words: &[String]) -> Result<(), NotGrounded> {
        let in_passages =
            words.iter().filter(|word| self.sources.iter().any(|s| s.has(word))).count();
        let in_instructions = words.iter().filter(|word| self.instructions.has(word)).count();
        if !words.is_empty()
            && in_instructions as f64 >= ECHO_SHARE * words.len() as f64
            && in_instructions > in_passages
        {
            return Err(NotGrounded::EchoesInstructions);
        }
        if tandem_text::detect_language(text).is_some_and(|language| language != self.language) {
            return Err(NotGrounded::WrongLanguage);
        }
        Ok(())
    }
}

/// A text's content words, and the text itself for finding Chinese words jieba cut otherwise.
#[derive(Debug)]
struct Source {
    words: std::collections::HashSet<String>,
    normalized: String,
}

impl Source {
    fn of(text: &str) -> Source {
        let visible = visible_text(text);
        Source {
            words: content_words(&visible).into_iter().collect(),
            normalized: tandem_text::normalize(&visible).replace(' ', ""),
        }
    }

    fn has(&self, word: &str) -> bool {
        self.words.contains(word)
            || (word.chars().any(tandem_text::is_han) && self.normalized.contains(word))
    }
}

/// The text without citations, placeholders and personal data: what the customer reads of
/// it, less what is theirs.
fn visible_text(text: &str) -> String {
    let kept = without_personal_data(text);
    let kept = citation_pattern().replace_all(&kept, " ");
    placeholder_pattern().replace_all(&kept, " ").into_owned()
}

/// The text with each piece of the customer's personal data replaced by a space.
fn without_personal_data(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut copied = 0;
    for span in find_personal_data(text) {
        kept.push_str(&text[copied..span.start]);
        kept.push(' ');
        copied = span.end;
    }
    kept.push_str(&text[copied..]);
    kept
}

/// The content words of a text, each once, in order.
fn content_words(text: &str) -> Vec<String> {
    let normalized = tandem_text::normalize(text);
    let stop = stop_words();
    let mut words: Vec<String> = Vec::new();
    for word in tandem_text::analyzer().words(&normalized) {
        if !stop.contains(word.as_str()) && !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// Function words and courtesies, as `tandem_text` writes them (English stemmed).
fn stop_words() -> &'static std::collections::HashSet<String> {
    static WORDS: OnceLock<std::collections::HashSet<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        const CHINESE: &str = "的 地 得 了 着 过 是 在 和 与 及 或 也 都 就 会 可 能 可以 能够 \
            您 你 我 我们 您们 你们 他 她 它 他们 这 那 这个 那个 这些 那些 这里 那里 这样 有 没有 \
            吗 呢 吧 啊 哦 呀 嘛 哈 呢 请 请问 谢谢 感谢 您好 你好 亲 亲亲 一下 一个 什么 怎么 怎样 \
            如何 为 对 把 被 让 给 从 到 将 还 又 很 非常 已经 如果 的话 需要 就是 但 但是 而 并 \
            所以 因为 及其 其 之 中 上 下 好 好的 是的 哪 哪些 哪里 多少 为什么 关于 根据 以 以及 \
            很 高兴 为您 注意 希望 帮助 帮到 其他 随时 联系 祝您 愉快 如有 疑问 欢迎 咨询";
        const ENGLISH: &str = "a an the and or but if of to in on at for with by from as is are \
            be been being was were it its this that these those you your yours we our ours us i me \
            my they them their he she his her can could will would shall should may might must do \
            does did done have has had not no yes so than then there here what which who whom \
            when where how why all any some please thank thanks hello hi hey dear sorry also just \
            about into out up more most very too only let know help happy glad sure okay ok ask \
            asking question questions hope welcome other anything else feel free contact us";
        let analyzer = tandem_text::analyzer();
        let mut words: std::collections::HashSet<String> =
            CHINESE.split_whitespace().map(str::to_owned).collect();
        for word in ENGLISH.split_whitespace() {
            words.extend(analyzer.words(word));
            words.insert(word.to_owned());
        }
        words
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Percent,
    Workday,
    Day,
    Hour,
    Minute,
    Week,
    Month,
    Year,
    Yuan,
    Dollar,
    /// 折: a discount written as tenths of the price.
    Tenths,
    Times,
    Items,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Quantity {
    value: f64,
    unit: Option<Unit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Date {
    year: Option<u32>,
    month: u32,
    day: u32,
}

/// The claims of one text, each with the text it was read from.
#[derive(Debug, Default)]
struct Facts {
    quantities: Vec<(Quantity, String)>,
    dates: Vec<(Date, String)>,
    quoted: Vec<String>,
    policy_terms: Vec<(&'static str, String)>,
}

impl Facts {
    fn of(text: &str) -> Facts {
        let mut facts = Facts::default();
        let text = without_non_claims(text);
        for capture in quote_pattern().captures_iter(&text) {
            if let Some(term) = capture.iter().skip(1).flatten().next() {
                facts.quoted.push(term.as_str().trim().to_owned());
            }
        }
        let mut prepared = prepare(&text);
        facts.dates = take_dates(&mut prepared);
        for capture in quantity_pattern().captures_iter(&prepared) {
            let number = capture.name("number").map_or("", |m| m.as_str());
            let Ok(value) = number.parse::<f64>() else { continue };
            let currency = capture.name("currency").map(|m| m.as_str());
            let unit = capture.name("unit").map(|m| m.as_str());
            let unit = currency.or(unit).and_then(unit_of);
            facts.quantities.push((Quantity { value, unit }, capture[0].trim().to_owned()));
        }
        for (concept, pattern) in policy_patterns() {
            if let Some(found) = pattern.find(&prepared) {
                facts.policy_terms.push((concept, found.as_str().to_owned()));
            }
        }
        facts
    }
}

/// Removes what is not a claim: citations, placeholders, the customer's personal data, and
/// list numbering at the start of a line (`1.`, `2、`).
fn without_non_claims(text: &str) -> String {
    list_marker_pattern().replace_all(&visible_text(text), "").into_owned()
}

/// Folds the text (NFKC, lower case, simplified Chinese, one space), writes number words
/// before units as digits and drops thousands separators.
fn prepare(text: &str) -> String {
    let folded = tandem_text::normalize(text);
    let folded = chinese_number_pattern().replace_all(&folded, |capture: &regex::Captures<'_>| {
        let Some(value) = chinese_number(&capture[2]) else { return capture[0].to_owned() };
        match (capture.get(1), capture.get(3)) {
            (Some(_), _) => format!("{value}%"),
            (None, Some(unit)) => format!("{value}{}", unit.as_str()),
            (None, None) => capture[0].to_owned(),
        }
    });
    let folded = english_number_pattern().replace_all(&folded, |capture: &regex::Captures<'_>| {
        let tens = english_number(&capture[1]).unwrap_or(0);
        let ones = capture.get(2).and_then(|m| english_number(m.as_str())).unwrap_or(0);
        format!("{} {}", tens + ones, &capture[3])
    });
    static SEPARATOR: OnceLock<Regex> = OnceLock::new();
    let separator = SEPARATOR.get_or_init(|| Regex::new(r"(\d),(\d{3})\b").unwrap());
    // Twice, for `1,000,000` (the matches of one pass do not overlap).
    let once = separator.replace_all(&folded, "$1$2").into_owned();
    separator.replace_all(&once, "$1$2").into_owned()
}

/// Finds the dates, blanking them out of the text so that their numbers are not read again as
/// quantities.
fn take_dates(text: &mut String) -> Vec<(Date, String)> {
    static PATTERNS: OnceLock<Vec<Regex>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        vec![
            Regex::new(r"(?P<year>\d{4}) ?[-/.年] ?(?P<month>\d{1,2}) ?[-/.月] ?(?P<day>\d{1,2}) ?[日号]?").unwrap(),
            Regex::new(r"(?P<month>\d{1,2}) ?月 ?(?P<day>\d{1,2}) ?[日号]").unwrap(),
            Regex::new(concat!(
                r"\b(?P<name>(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(?:uary|ruary|ch|il|e|y|ust|tember|ober|ember)?)",
                r"\.? (?P<day>\d{1,2})(?:st|nd|rd|th)?\b(?:,? (?P<year>\d{4}))?"
            ))
            .unwrap(),
        ]
    });
    const MONTHS: [&str; 12] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let mut dates = Vec::new();
    for pattern in patterns {
        let mut blanked = String::with_capacity(text.len());
        let mut copied = 0;
        for capture in pattern.captures_iter(text) {
            let number =
                |name: &str| capture.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
            let month = number("month").or_else(|| {
                let name = capture.name("name")?.as_str().get(..3)?;
                MONTHS.iter().position(|month| *month == name).map(|index| index as u32 + 1)
            });
            let (Some(month), Some(day)) = (month, number("day")) else { continue };
            if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                continue;
            }
            let whole = capture.get(0).unwrap();
            dates.push((
                Date { year: number("year"), month, day },
                whole.as_str().trim().to_owned(),
            ));
            blanked.push_str(&text[copied..whole.start()]);
            blanked.push(' ');
            copied = whole.end();
        }
        blanked.push_str(&text[copied..]);
        *text = blanked;
    }
    dates
}

fn unit_of(unit: &str) -> Option<Unit> {
    let unit = unit.trim().trim_start_matches('个');
    Some(match unit {
        "%" | "percent" => Unit::Percent,
        "工作日" | "business day" | "business days" | "working day" | "working days" => {
            Unit::Workday
        }
        "天" | "日" | "day" | "days" => Unit::Day,
        "小时" | "钟头" | "hour" | "hours" | "hr" | "hrs" | "h" => Unit::Hour,
        "分钟" | "minute" | "minutes" | "min" | "mins" => Unit::Minute,
        "星期" | "周" | "礼拜" | "week" | "weeks" => Unit::Week,
        "月" | "month" | "months" => Unit::Month,
        "年" | "year" | "years" => Unit::Year,
        "¥" | "元" | "块" | "块钱" | "rmb" | "cny" | "yuan" => Unit::Yuan,
        "$" | "usd" | "dollar" | "dollars" => Unit::Dollar,
        "折" => Unit::Tenths,
        "倍" | "次" | "times" | "time" => Unit::Times,
        "件" | "items" | "item" => Unit::Items,
        _ => return None,
    })
}

fn quantity_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(
            r"(?x)
            (?:(?P<currency>[¥$]|rmb|cny|usd)\ ?)?
            (?P<number>\d+(?:\.\d+)?)
            (?:\ ?(?P<unit>%|个?工作日|个?小时|钟头|分钟|个?星期|个?礼拜|周|个?月|年|天|日|元|块钱|块|折|倍|次|件
                |(?:business|working)\ days?\b|days?\b|hours?\b|hrs?\b|h\b|minutes?\b|mins?\b|weeks?\b
                |months?\b|years?\b|percent\b|rmb\b|cny\b|yuan\b|usd\b|dollars?\b|times?\b|items?\b))?",
        )
        .unwrap()
    })
}

fn citation_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"\[ref:\s*([^\]\s]+)\s*\]").unwrap())
}

fn placeholder_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"\[(?:PHONE|ID_NUMBER|CARD|EMAIL|ADDRESS)_\d+\]").unwrap())
}

fn list_marker_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"(?m)^\s*\d{1,2}[.、)）]\s*").unwrap())
}

fn quote_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(
            r#"“([^”]{1,40})”|"([^"]{1,40})"|「([^」]{1,40})」|『([^』]{1,40})』|‘([^’]{1,40})’"#,
        )
        .unwrap()
    })
}

/// The characters of Chinese number words, which the check reads as numbers before a unit.
pub(super) const CHINESE_NUMERALS: &str = "零〇一二两三四五六七八九十百千万";

fn chinese_number_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(&format!(r"(百分之)?([{CHINESE_NUMERALS}]+)(个?工作日|个?小时|分钟|个?星期|周|个?月|年|天|日|号|元|块|折|倍|次|件)?")).unwrap()
    })
}

fn english_number_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let words = "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|\
                     fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|\
                     sixty|seventy|eighty|ninety";
        let pattern = format!(
            "{}{}",
            format_args!(r"\b({words})(?:-(one|two|three|four|five|six|seven|eight|nine))? "),
            r"((?:business |working )?days?|hours?|minutes?|weeks?|months?|years?|percent|times|items)\b"
        );
        Regex::new(&pattern)
        .unwrap()
    })
}

/// The value of an English number word (`seven`, `forty`), lower case.
pub(super) fn english_number(word: &str) -> Option<u64> {
    const WORDS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] =
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    if let Some(index) = WORDS.iter().position(|w| *w == word) {
        return Some(index as u64);
    }
    TENS.iter().position(|w| *w == word).map(|index| (index as u64 + 2) * 10)
}

/// `七` → 7, `三十` → 30, `十五` → 15, `两千五百` → 2500, `二〇二四` → 2024.
fn chinese_number(text: &str) -> Option<u64> {
    let digit = |c: char| -> Option<u64> {
        Some(match c {
            '零' | '〇' => 0,
            '一' => 1,
            '二' | '两' => 2,
            '三' => 3,
            '四' => 4,
            '五' => 5,
            '六' => 6,
            '七' => 7,
            '八' => 8,
            '九' => 9,
            _ => return None,
        })
    };
    if text.chars().all(|c| digit(c).is_some()) {
        return text
            .chars()
            .try_fold(0u64, |value, c| value.checked_mul(10)?.checked_add(digit(c)?));
    }
    let (mut total, mut section, mut pending) = (0u64, 0u64, None::<u64>);
    for c in text.chars() {
        if let Some(d) = digit(c) {
            pending = Some(d);
            continue;
        }
        let multiplier = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            '万' => {
                total += (section + pending.take().unwrap_or(0)) * 10_000;
                section = 0;
                continue;
            }
            _ => return None,
        };
        // `十五` starts with the multiplier: one ten.
        section += pending.take().unwrap_or(1) * multiplier;
    }
    Some(total + section + pending.unwrap_or(0))
}

/// The policy terms: phrases that promise the customer something, in Chinese and English.
fn policy_patterns() -> &'static [(&'static str, Regex)] {
    static PATTERNS: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            ("free_of_charge", r"免费|不收费|\bfree of charge\b|\bfor free\b|\bfree returns?\b|\bat no (?:extra )?cost\b|\bno (?:extra )?charge\b"),
            ("free_shipping", r"包邮|免运费|\bfree (?:shipping|delivery)\b"),
            ("no_questions_asked", r"无理由|\bno questions? asked\b|\bwithout (?:giving )?(?:a |any )?reason\b|\bfor any reason\b"),
            ("full_refund", r"全额退款|全额退还|退全款|\bfull refund\b|\brefund in full\b|\bfully refund"),
            ("unconditional", r"无条件|\bunconditional"),
            ("lifetime", r"终身|永久|\blifetime\b|\bforever\b|\bpermanent"),
            ("compensation", r"赔偿|补偿|赔付|\bcompensat"),
            ("cash", r"现金|\bcash\b"),
            ("guarantee", r"保证|担保|\bguarantee"),
            ("price_protection", r"价保|保价|\bprice (?:protection|match)"),
        ]
        .into_iter()
        .map(|(concept, pattern)| (concept, Regex::new(pattern).unwrap()))
        .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passages() -> Vec<Passage> {
        vec![
            Passage {
                key: "returns".into(),
                title: "退货政策".into(),
                text: "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。运费险最高赔付 ¥12。".into(),
            },
            Passage {
                key: "sale".into(),
                title: "Double 11".into(),
                text: "The Double 11 sale runs until 2024-11-11; members get 15% off and free shipping over ¥99.".into(),
            },
        ]
    }

    fn check(answer: &str, expected: Result<(), &[&str]>) {
        let verdict = verify(answer, &passages());
        match (verdict, expected) {
            (Ok(()), Ok(())) => {}
            (Err(Rejection::Unsupported { claims }), Err(texts)) => {
                let found: Vec<&str> = claims.iter().map(|claim| claim.text.as_str()).collect();
                assert_eq!(found, texts, "{answer}");
            }
            (verdict, expected) => panic!("{answer}: got {verdict:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn claims_in_the_passages_are_supported_in_any_notation() {
        check("签收后7天内可以无理由退货 [ref:returns]。", Ok(()));
        check("签收后七天内可以退货，退款四十八小时内到账。", Ok(()));
        check("You can return it within seven days; refunds arrive within 48 hours.", Ok(()));
        check("You have 7 days [ref:returns].", Ok(()));
        check("运费险最多赔 12 元。", Ok(()));
        check("会员打 15% 的折扣，满 ９９ 元包邮，活动到 11月11日。", Ok(()));
        check("Members save fifteen percent until Nov 11, 2024.", Ok(()));
        check("1. 打开订单页\n2. 申请退货（7 天内）", Ok(()));
        check("我们会联系 [PHONE_1]，也会发邮件到 a.b@example.com。", Ok(()));
        check("我们会寄到 [ADDRESS_1]，也就是上海市浦东新区世纪大道100号。", Ok(()));
    }

    #[test]
    fn claims_missing_from_the_passages_are_named() {
        check("签收后 30 天内可退货。", Err(&["30 天"]));
        check("退款在 48 天内退回。", Err(&["48 天"]));
        check("运费险最多赔 ¥20。", Err(&["¥20"]));
        check("Returns are free of charge within 7 days.", Err(&["free of charge"]));
        check("活动到 12月12日。", Err(&["12月12日"]));
        check("请选择“极速退款”。", Err(&["极速退款"]));
        check("签收后 7 天内可退货 [ref:warranty]。", Err(&["[ref:warranty]"]));
        check("提供终身保修。", Err(&["终身"]));
    }

    #[test]
    fn the_sentinel_is_a_refusal() {
        assert_eq!(verify("NO_ANSWER", &passages()), Err(Rejection::Refused));
        assert_eq!(verify("  ", &passages()), Err(Rejection::Refused));
        assert!(
            verify_in_context("订单 20241123001 已发货", &passages(), &["我的订单 20241123001"])
                .is_ok()
        );
    }

    #[test]
    fn chinese_numbers_convert() {
        for (text, value) in [
            ("七", 7),
            ("十", 10),
            ("十五", 15),
            ("三十", 30),
            ("两千五百", 2500),
            ("二〇二四", 2024),
            ("一万二千", 12000),
        ] {
            assert_eq!(chinese_number(text), Some(value), "{text}");
        }
    }

    #[test]
    fn prompt_carries_passages_rules_and_language() {
        let messages = grounded_messages("怎么退货", &passages(), Locale::Zh);
        assert_eq!(messages.len(), 2);
        assert!(messages[0].content.contains("[ref:returns] 退货政策"));
        assert!(messages[0].content.contains(NO_ANSWER));
        assert!(messages[0].content.contains("简体中文"));
        assert_eq!(messages[1].content, "怎么退货");
        assert_eq!(citations("a [ref:x] b [ref:y] [ref:x]"), ["x", "y"]);
        assert_eq!(strip_citations("7 天内可退货 [ref:returns]。"), "7 天内可退货。");
    }

    /// The verdict on `answer` to `question` from the test passages.
    fn judged(question: &str, answer: &str) -> Result<(), Rejection> {
        let passages = passages();
        Grounds::new(&passages, question, Locale::Zh).check(answer)
    }

    fn not_grounded(reason: NotGrounded) -> Result<(), Rejection> {
        Err(Rejection::NotGrounded(reason))
    }

    #[test]
    fn an_answer_must_cite_and_be_drawn_from_its_passage() {
        // Cited and drawn from the passage, in Chinese and in English.
        assert_eq!(judged("怎么退货", "签收后七天内可以无理由退货 [ref:returns]。"), Ok(()));
        assert_eq!(
            judged("我的耳机能退吗", "耳机签收后 7 天内可无理由退货[ref:returns]。"),
            Ok(())
        );
        assert_eq!(
            judged(
                "How long does the Double 11 sale run?",
                "The Double 11 sale runs until 2024-11-11, and members get 15% off [ref:sale]."
            ),
            Ok(())
        );
        // Empty, or only a citation.
        assert_eq!(judged("怎么退货", "  \n "), not_grounded(NotGrounded::Empty));
        assert_eq!(judged("怎么退货", "[ref:returns]"), not_grounded(NotGrounded::Empty));
        // The model saying it does not know stays a refusal.
        assert_eq!(judged("怎么退货", NO_ANSWER), Err(Rejection::Refused));
        // No citation, or only of a passage that was not given.
        assert_eq!(
            judged("怎么退货", "签收后七天内可以无理由退货。"),
            not_grounded(NotGrounded::NoCitation)
        );
        assert!(matches!(
            judged("怎么退货", "签收后七天内可以无理由退货 [ref:warranty]。"),
            Err(Rejection::Unsupported { .. })
        ));
        // Cites a passage it does not draw from.
        assert_eq!(
            judged("怎么退货", "退货请先联系快递公司上门取件，再把包裹寄回仓库 [ref:sale]。"),
            not_grounded(NotGrounded::NotFromPassage)
        );
        // Only repeats the question, citing a passage.
        assert_eq!(
            judged("怎么退货", "怎么退货 [ref:returns]"),
            not_grounded(NotGrounded::NotFromPassage)
        );
        // Nothing to do with the question or the passages.
        assert_eq!(
            judged("怎么退货", "今天天气晴朗，适合出门散步 [ref:returns]。"),
            not_grounded(NotGrounded::OffTopic)
        );
        assert_eq!(
            judged("How do I return it?", "Our office cat sleeps all afternoon [ref:returns]."),
            not_grounded(NotGrounded::OffTopic)
        );
        // The instructions repeated, whatever the customer's language.
        let echo = "Use only facts the passages state. Never add numbers, dates, amounts, time \
                    limits, fees or conditions that are not in them [ref:returns].";
        assert_eq!(judged("怎么退货", echo), not_grounded(NotGrounded::EchoesInstructions));
        assert_eq!(
            judged("How do I return it?", echo),
            not_grounded(NotGrounded::EchoesInstructions)
        );
        // A Chinese question needs a Chinese answer, and an English one an English answer.
        assert_eq!(
            judged("怎么退货", "You can return it without a reason within 7 days [ref:returns]."),
            not_grounded(NotGrounded::WrongLanguage)
        );
        assert_eq!(
            judged("Can members get a discount?", "会员打 15% 的折扣，满 99 元包邮 [ref:sale]。"),
            not_grounded(NotGrounded::WrongLanguage)
        );
        // A question without letters: the conversation's language.
        let passages = passages();
        let grounds = Grounds::new(&passages, "???", Locale::En);
        assert_eq!(
            grounds.check("签收后七天内可以无理由退货 [ref:returns]。"),
            not_grounded(NotGrounded::WrongLanguage)
        );
        assert_eq!(NotGrounded::NotFromPassage.code(), "not_from_passage");
    }
}
