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
}

/// The prompt for a grounded answer: the rules and the passages as the system message, the
/// customer's question alone as the user message (so nothing the customer writes can pass for
/// an instruction or a passage).
pub fn grounded_messages(question: &str, passages: &[Passage], locale: Locale) -> Vec<ChatMessage> {
    let language = match locale {
        Locale::Zh => "简体中文 (Simplified Chinese)",
        Locale::En => "English",
    };
    let mut system = format!(
        "You are a customer-service assistant. Answer the customer's question using only the \
         passages below.\n\
         Rules:\n\
         1. Use only facts the passages state. Never add numbers, dates, amounts, time limits, \
         fees or conditions that are not in them, and copy those the passages give exactly.\n\
         2. After each sentence that uses a passage, cite it as [ref:KEY] with that passage's key.\n\
         3. If the passages do not answer the question, reply with exactly {NO_ANSWER} and nothing \
         else.\n\
         4. Placeholders such as [PHONE_1] or [EMAIL_1] stand for the customer's personal data: \
         keep them unchanged.\n\
         5. Reply in {language}, briefly and politely.\n\nPassages:\n"
    );
    for passage in passages {
        system.push_str(&format!("\n[ref:{}] {}\n{}\n", passage.key, passage.title, passage.text));
    }
    vec![ChatMessage::system(system), ChatMessage::user(question)]
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
    let mut kept = String::with_capacity(text.len());
    let mut copied = 0;
    for span in find_personal_data(text) {
        kept.push_str(&text[copied..span.start]);
        kept.push(' ');
        copied = span.end;
    }
    kept.push_str(&text[copied..]);
    let kept = citation_pattern().replace_all(&kept, " ");
    let kept = placeholder_pattern().replace_all(&kept, " ");
    list_marker_pattern().replace_all(&kept, "").into_owned()
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
}
