//! Validated input: every value a customer, agent or admin types passes through here before it
//! is stored, so the store and the HTTP layer never see an empty message or a malformed e-mail.

use crate::problem::Problem;

/// Longest message body, in characters.
pub const MAX_MESSAGE_CHARS: usize = 5000;
/// Longest client message id, in bytes.
pub const MAX_CLIENT_MSG_ID: usize = 64;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// An input that breaks a rule: `field` names the input, `problem` says what is wrong (as data;
/// the catalogue words it in each language).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: &'static str,
    pub problem: Problem,
}

impl ValidationError {
    pub fn new(field: &'static str, problem: Problem) -> ValidationError {
        ValidationError { field, problem }
    }
}

/// Whether `c` shows nothing by itself: white space, a control character, or an invisible
/// format character (zero-width spaces and joiners, the soft hyphen, direction marks and
/// overrides, word joiners and invisible operators, variation selectors, the byte-order mark,
/// tags, Hangul fillers, the Braille blank).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// Whether `c` changes the direction text is shown in (embeddings, overrides, isolates and
/// marks), which can make a name read as something else (`\u{202E}` turns `gnp.exe` around).
pub fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn has_control_chars(text: &str, allow_newlines: bool) -> bool {
    text.chars().any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\t' | '\r')))
}

/// A message body: not blank (nor only invisible characters), at most [`MAX_MESSAGE_CHARS`], no control characters other than
/// line breaks and tabs. Surrounding whitespace is removed; inner formatting is kept.
pub fn message_body(text: &str) -> Result<String, ValidationError> {
    article_text("body", text, MAX_MESSAGE_CHARS)
}

/// The range a workspace's answer threshold may be set in: below it the bot answers nearly
/// anything, above it nearly nothing.
pub const ANSWER_THRESHOLD_RANGE: std::ops::RangeInclusive<f32> = 0.05..=0.95;
/// Most words in a workspace's dictionary.
pub const MAX_DICTIONARY_WORDS: usize = 5000;
/// Longest dictionary word, in characters.
pub const MAX_DICTIONARY_WORD_CHARS: usize = 40;

/// A channel by name (`web`, `email`, `api`), as typed: surrounding space and case ignored.
pub fn channel(field: &'static str, name: &str) -> Result<crate::Channel, ValidationError> {
    let name = name.trim().to_lowercase();
    crate::Channel::parse(&name).ok_or_else(|| {
        let allowed: Vec<&str> =
            crate::Channel::ALL.iter().map(|channel| channel.as_str()).collect();
        ValidationError::new(field, Problem::not_one_of(name, &allowed))
    })
}

/// A workspace's answer threshold, within [`ANSWER_THRESHOLD_RANGE`].
pub fn answer_threshold(value: f32) -> Result<f32, ValidationError> {
    if !ANSWER_THRESHOLD_RANGE.contains(&value) {
        let (min, max) = (ANSWER_THRESHOLD_RANGE.start(), ANSWER_THRESHOLD_RANGE.end());
        return Err(ValidationError::new("threshold", Problem::out_of_range(min, max)));
    }
    Ok(value)
}

/// A workspace's dictionary: words of 2 to [`MAX_DICTIONARY_WORD_CHARS`] characters without
/// line breaks, at most [`MAX_DICTIONARY_WORDS`]; blanks dropped, duplicates kept once, order
/// kept.
pub fn dictionary<S: AsRef<str>>(words: &[S]) -> Result<Vec<String>, ValidationError> {
    let mut kept: Vec<String> = Vec::new();
    for word in words {
        let word = word.as_ref().trim();
        if word.is_empty() || kept.iter().any(|known| known == word) {
            continue;
        }
        let chars = word.chars().count();
        if !(2..=MAX_DICTIONARY_WORD_CHARS).contains(&chars) || has_control_chars(word, false) {
            let problem = Problem::ItemLength {
                item: word.to_owned(),
                min: 2,
                max: MAX_DICTIONARY_WORD_CHARS,
            };
            return Err(ValidationError::new("dictionary", problem));
        }
        kept.push(word.to_owned());
    }
    if kept.len() > MAX_DICTIONARY_WORDS {
        return Err(ValidationError::new(
            "dictionary",
            Problem::Count { min: 0, max: MAX_DICTIONARY_WORDS },
        ));
    }
    Ok(kept)
}

/// Most a count of an escalation policy may be (abstains, repeats, "didn't help").
const MAX_POLICY_COUNT: u32 = 20;
/// Most angry messages an escalation policy may count: it looks at the last three.
const MAX_ANGER_TURNS: u32 = 3;

/// An escalation policy as typed by a person: known reason codes, each in one list at most,
/// counts up to 20 (0 is never; anger looks at the last three messages), a sentiment cut-off
/// in -1..=0 (-1 is never), tiers as short names.
pub fn escalation_policy(
    mut policy: crate::EscalationPolicy,
) -> Result<crate::EscalationPolicy, ValidationError> {
    for (field, codes) in
        [("hand_off_on", &mut policy.hand_off_on), ("approve_on", &mut policy.approve_on)]
    {
        if let Some(reason) = codes.iter().find(|reason| !reason.of_a_message()) {
            let known: Vec<&str> =
                crate::Reason::OF_A_MESSAGE.iter().map(|reason| reason.as_str()).collect();
            return Err(ValidationError::new(field, Problem::not_one_of(reason.as_str(), &known)));
        }
        codes.sort();
        codes.dedup();
    }
    if let Some(both) = policy.hand_off_on.iter().find(|code| policy.approve_on.contains(code)) {
        return Err(ValidationError::new(
            "approve_on",
            Problem::AlsoHandOff { reason: both.as_str().into() },
        ));
    }
    for (field, count, max) in [
        ("abstains_in_a_row", policy.abstains_in_a_row, MAX_POLICY_COUNT),
        ("repeats", policy.repeats, MAX_POLICY_COUNT),
        ("didnt_help", policy.didnt_help, MAX_POLICY_COUNT),
        ("anger_turns", policy.anger_turns, MAX_ANGER_TURNS),
    ] {
        if count > max {
            return Err(ValidationError::new(field, Problem::out_of_range(0, max)));
        }
    }
    if !(-1.0..=0.0).contains(&policy.negative_sentiment) {
        return Err(ValidationError::new("negative_sentiment", Problem::out_of_range(-1, 0)));
    }
    policy.vip_tiers = names("vip_tiers", &policy.vip_tiers)?;
    Ok(policy)
}

/// The characters of skill and tier names.
pub(crate) const NAME_CHARACTERS: &str = "a-z 0-9 _ - :";
/// Longest skill or tier name, in characters.
pub(crate) const MAX_NAME: usize = 40;

/// Skill and tier names: lowercase letters, digits, `_`, `-` and `:`, 1 to 40 characters;
/// blanks dropped, duplicates kept once.
fn names(field: &'static str, values: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut kept: Vec<String> = Vec::new();
    for value in values {
        let value = value.trim().to_lowercase();
        if value.is_empty() || kept.contains(&value) {
            continue;
        }
        if !crate::hours::is_skill_name(&value) {
            let problem =
                Problem::Identifier { value, max: MAX_NAME, allowed: NAME_CHARACTERS.into() };
            return Err(ValidationError::new(field, problem));
        }
        kept.push(value);
    }
    Ok(kept)
}

/// A skill name (see [`names`]).
pub fn skill(name: &str) -> Result<String, ValidationError> {
    names("skills", &[name.to_owned()])?
        .pop()
        .ok_or_else(|| ValidationError::new("skills", Problem::Empty))
}

/// Most skills an agent or a queue may list.
const MAX_SKILLS: usize = 50;

/// Skills with their levels: proficiency (or minimum) 1 to 5, at most 50.
pub fn skill_levels(
    skills: &std::collections::BTreeMap<String, u8>,
) -> Result<std::collections::BTreeMap<String, u8>, ValidationError> {
    if skills.len() > MAX_SKILLS {
        return Err(ValidationError::new("skills", Problem::Count { min: 0, max: MAX_SKILLS }));
    }
    let mut kept = std::collections::BTreeMap::new();
    for (name, level) in skills {
        if !(1..=5).contains(level) {
            return Err(ValidationError::new("skills", Problem::item_out_of_range(name, 1, 5)));
        }
        kept.insert(skill(name)?, *level);
    }
    Ok(kept)
}

/// Most open conversations an agent may take at once on one channel.
const MAX_CAPACITY: u32 = 50;

/// An agent's capacity per channel: 0 to 50 open conversations.
pub fn capacity(
    capacity: &std::collections::BTreeMap<crate::Channel, u32>,
) -> Result<std::collections::BTreeMap<crate::Channel, u32>, ValidationError> {
    if let Some((channel, _)) = capacity.iter().find(|(_, count)| **count > MAX_CAPACITY) {
        let problem = Problem::item_out_of_range(channel.as_str(), 0, MAX_CAPACITY);
        return Err(ValidationError::new("capacity", problem));
    }
    Ok(capacity.clone())
}

/// A queue's routing rules: skills with minimum levels, topic names, times between 10 seconds
/// and 7 days (SLA, offer timeout, widening) and opening hours inside the day (the time zone is
/// checked when it is read).
pub fn queue_routing(
    mut routing: crate::QueueRouting,
) -> Result<crate::QueueRouting, ValidationError> {
    routing.skills = skill_levels(&routing.skills)?;
    routing.topics = names("topics", &routing.topics)?;
    const MIN_SECONDS: usize = 10;
    const MAX_DAYS: usize = 7;
    let bounds = MIN_SECONDS as i64 * 1000..=MAX_DAYS as i64 * 24 * 3_600_000;
    for (field, value) in [
        ("sla_ms", routing.sla_ms),
        ("offer_timeout_ms", routing.offer_timeout_ms),
        ("widen_after_ms", routing.widen_after_ms),
    ] {
        if !bounds.contains(&value) {
            let problem =
                Problem::DurationOutOfRange { min_seconds: MIN_SECONDS, max_days: MAX_DAYS };
            return Err(ValidationError::new(field, problem));
        }
    }
    for range in &routing.hours {
        if range.weekday > 6 || range.start_minute >= range.end_minute || range.end_minute > 1440 {
            return Err(ValidationError::new("hours", Problem::OpeningRange));
        }
    }
    Ok(routing)
}

/// A client message id: 1 to 64 characters of `A-Z a-z 0-9 - _ . :`.
pub fn client_msg_id(text: &str) -> Result<String, ValidationError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if text.is_empty() || text.len() > MAX_CLIENT_MSG_ID || !text.chars().all(allowed) {
        let problem = Problem::Identifier {
            value: text.to_owned(),
            max: MAX_CLIENT_MSG_ID,
            allowed: "A-Z a-z 0-9 - _ . :".into(),
        };
        return Err(ValidationError::new("client_msg_id", problem));
    }
    Ok(text.to_owned())
}

/// An e-mail address, lower-cased. Deliberately loose (one `@`, a dotted domain, no spaces):
/// the only real check of an address is a mail that arrives.
pub fn email(text: &str) -> Result<String, ValidationError> {
    let text = text.trim().to_lowercase();
    let valid = text.len() <= 254
        && !text.chars().any(char::is_whitespace)
        && matches!(text.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.contains('@') && domain.contains('.')
               && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid { Ok(text) } else { Err(ValidationError::new("email", Problem::NotAnEmail)) }
}

/// Longest display name, in characters.
const MAX_DISPLAY_NAME: usize = 80;

/// Longest wrap-up topic, in characters.
pub const MAX_WRAPUP_TOPIC: usize = 200;

/// A wrap-up's topic as people correct it: 1 to 200 characters on one line, trimmed.
pub fn wrapup_topic(text: &str) -> Result<String, ValidationError> {
    one_line("topic", text, MAX_WRAPUP_TOPIC)
}

/// A person's display name: 1 to 80 characters, no control or text-direction characters, not
/// only invisible ones.
pub fn display_name(text: &str) -> Result<String, ValidationError> {
    one_line("display_name", text, MAX_DISPLAY_NAME)
}

/// A name on one line (a person's, a queue's, an action's, a token's): 1 to `max` characters,
/// not only invisible ones, no control characters and no text-direction controls (a name is
/// shown beside others, where an override could make it read as someone else's), trimmed.
pub fn one_line(field: &'static str, text: &str, max: usize) -> Result<String, ValidationError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > max || text.chars().all(is_invisible) {
        return Err(ValidationError::new(field, Problem::Length { min: 1, max }));
    }
    if has_control_chars(text, false) || text.chars().any(is_direction_control) {
        return Err(ValidationError::new(field, Problem::ControlCharacters));
    }
    Ok(text.to_owned())
}

/// A new password: [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`] characters.
pub fn password(text: &str) -> Result<&str, ValidationError> {
    let chars = text.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        let problem = Problem::Length { min: MIN_PASSWORD_CHARS, max: MAX_PASSWORD_CHARS };
        return Err(ValidationError::new("password", problem));
    }
    Ok(text)
}

/// Keys that name console pages (`/knowledge/new`...) and so cannot name articles.
const RESERVED_ARTICLE_KEYS: &[&str] = &["new", "import", "export", "test", "settings"];
/// Longest article (or action) key.
const MAX_KEY: usize = 100;

/// An article key: 1 to 100 characters of `a-z 0-9 - _ .` (lower case), not a reserved
/// word.
pub fn article_key(text: &str) -> Result<String, ValidationError> {
    let key = text.trim();
    if RESERVED_ARTICLE_KEYS.contains(&key) {
        return Err(ValidationError::new("id", Problem::Reserved { value: key.to_owned() }));
    }
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(key.to_owned())
    } else {
        let problem = Problem::Identifier {
            value: key.to_owned(),
            max: MAX_KEY,
            allowed: "a-z 0-9 - _ .".into(),
        };
        Err(ValidationError::new("id", problem))
    }
}

/// Text of a knowledge article field (or a message): not blank nor only invisible characters
/// (zero-width spaces, joiners, direction marks), at most `max` characters, no
/// control characters other than line breaks and tabs; trimmed, Windows line breaks made
/// plain.
pub fn article_text(
    field: &'static str,
    text: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 || text.chars().all(is_invisible) {
        return Err(ValidationError::new(field, Problem::Empty));
    }
    if chars > max {
        return Err(ValidationError::new(field, Problem::TooLong { max, got: chars }));
    }
    if has_control_chars(text, true) {
        return Err(ValidationError::new(field, Problem::ControlCharacters));
    }
    Ok(text.replace("\r\n", "\n"))
}

/// A moment written as `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS]` followed by `Z`
/// or an offset such as `+08:00` (a space may stand for the `T`), as milliseconds since the
/// Unix epoch. A time without a zone is refused: "9 am" means different moments in Beijing and
/// London.
pub fn timestamp(field: &'static str, text: &str) -> Result<i64, ValidationError> {
    let text = text.trim();
    let bad = || ValidationError::new(field, Problem::NotADate { value: text.to_owned() });
    let number = |part: &str| part.parse::<i64>().map_err(|_| bad());
    let (date, time) = match text.find(['T', ' ']) {
        Some(index) => (&text[..index], Some(&text[index + 1..])),
        None => (text, None),
    };
    let mut date_parts = date.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (date_parts.next(), date_parts.next(), date_parts.next(), date_parts.next())
    else {
        return Err(bad());
    };
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return Err(bad());
    }
    let (mut seconds, mut offset) = (0, 0);
    if let Some(time) = time {
        let (clock, zone_seconds) = if let Some(clock) = time.strip_suffix('Z') {
            (clock, 0)
        } else if let Some(index) = time.rfind(['+', '-']) {
            let (clock, zone) = time.split_at(index);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = zone[1..].split_once(':').ok_or_else(bad)?;
            let (hours, minutes) = (number(hours)?, number(minutes)?);
            // An offset is at most ±23:59 (and larger numbers would overflow).
            if !(0..=23).contains(&hours) || !(0..=59).contains(&minutes) {
                return Err(bad());
            }
            (clock, sign * (hours * 3600 + minutes * 60))
        } else {
            return Err(ValidationError::new(field, Problem::NoTimeZone));
        };
        let mut clock_parts = clock.split(':');
        let hours = number(clock_parts.next().ok_or_else(bad)?)?;
        let minutes = number(clock_parts.next().ok_or_else(bad)?)?;
        let secs = clock_parts.next().map(number).transpose()?.unwrap_or(0);
        if !(0..=23).contains(&hours)
            || !(0..=59).contains(&minutes)
            || !(0..=59).contains(&secs)
            || clock_parts.next().is_some()
        {
            return Err(bad());
        }
        seconds = hours * 3600 + minutes * 60 + secs;
        offset = zone_seconds;
    }
    Ok((days_from_civil(year, month, day) * 86_400 + seconds - offset) * 1000)
}

/// The inverse of [`timestamp`]: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_timestamp(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a Gregorian date (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: PartialEq + std::fmt::Debug>(
        parse: impl Fn(&str) -> Result<T, ValidationError>,
        cases: &[(&str, Option<T>)],
    ) {
        for (input, expected) in cases {
            assert_eq!(parse(input).ok().as_ref(), expected.as_ref(), "input {input:?}");
        }
    }

    #[test]
    fn message_bodies() {
        let long = "好".repeat(MAX_MESSAGE_CHARS);
        let too_long = "好".repeat(MAX_MESSAGE_CHARS + 1);
        check(
            message_body,
            &[
                ("你好", Some("你好".to_owned())),
                ("  where is my order?\n", Some("where is my order?".to_owned())),
                ("line one\r\nline two", Some("line one\nline two".to_owned())),
                ("", None),
                ("   \n\t ", None),
                ("bell\u{7}", None),
                ("nul\0", None),
                ("\u{200B}", None),
                ("\u{200B}\u{200C}\u{200D}\u{2060}\u{FEFF}\u{00AD}", None),
                (" \u{200E}\u{202E}\u{2066}\u{FE0F}\u{E0001}\u{3164} ", None),
                ("ok\u{200B}", Some("ok\u{200B}".to_owned())),
                ("👍\u{FE0F}", Some("👍\u{FE0F}".to_owned())),
                (long.as_str(), Some(long.clone())),
                (too_long.as_str(), None),
            ],
        );
    }

    #[test]
    fn wrapup_topics() {
        let longest = "退".repeat(MAX_WRAPUP_TOPIC);
        let too_long = "退".repeat(MAX_WRAPUP_TOPIC + 1);
        check(
            wrapup_topic,
            &[
                ("  退货政策 ", Some("退货政策".to_owned())),
                (longest.as_str(), Some(longest.clone())),
                (too_long.as_str(), None),
                ("   ", None),
                ("two\nlines", None),
                ("tab\there", None),
            ],
        );
        assert_eq!(wrapup_topic(" ").unwrap_err().field, "topic");
    }

    #[test]
    fn client_message_ids() {
        check(
            client_msg_id,
            &[
                (
                    "3f2c9a1e-5b7d-4c1a-9f0e-2d8b6a4c1e7f",
                    Some("3f2c9a1e-5b7d-4c1a-9f0e-2d8b6a4c1e7f".into()),
                ),
                ("bot:42", Some("bot:42".into())),
                ("", None),
                ("has space", None),
                ("中文", None),
                (&"a".repeat(65), None),
            ],
        );
    }

    #[test]
    fn emails() {
        check(
            email,
            &[
                ("Wang.Fang@Example.com ", Some("wang.fang@example.com".into())),
                ("a@b.cn", Some("a@b.cn".into())),
                ("no-at.example.com", None),
                ("two@@example.com", None),
                ("@example.com", None),
                ("a@localhost", None),
                ("a b@example.com", None),
                ("a@example.", None),
            ],
        );
    }

    #[test]
    fn article_keys_and_texts() {
        check(
            article_key,
            &[
                ("returns-policy", Some("returns-policy".into())),
                (" faq.1 ", Some("faq.1".into())),
                ("Returns", None),
                ("", None),
                ("退货", None),
                ("new", None),
                ("export", None),
            ],
        );
        assert!(article_text("title", "  ", 10).is_err());
        assert_eq!(article_text("title", " 退货政策 ", 10).unwrap(), "退货政策");
        assert_eq!(article_text("answer", &"x".repeat(11), 10).unwrap_err().field, "answer");
    }

    #[test]
    fn timestamps() {
        let parse = |text: &str| timestamp("effective_from", text).ok();
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2026-02-01T09:00+08:00"), Some(1_769_907_600_000));
        assert_eq!(parse("2026-02-01 01:00:00Z"), Some(1_769_907_600_000));
        assert_eq!(parse("2024-02-29T00:00Z"), Some(1_709_164_800_000));
        for bad in
            ["2026-02-30", "2026-13-01", "2026-02-01T09:00", "tomorrow", "2026-02-01T25:00Z", ""]
        {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // Found by fuzzing: numbers this large overflowed (a panic in debug builds, a wrong
        // moment in release ones), and negative hours were taken.
        for bad in [
            "2026-02-01T00:00+18446744073709551616:00",
            "2026-02-01T00:00+1844674407370955161:00",
            "2026-02-01T00:00+01:9223372036854775807",
            "2026-02-01T00:00+24:00",
            "2026-02-01T-9223372036854775808:00Z",
            "2026-02-01T-1:00Z",
            "2026-02-01T00:-1:00+01:00",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse("2026-02-01T09:00-23:59"), Some(1_770_022_740_000));
    }

    #[test]
    fn display_names_and_passwords() {
        check(display_name, &[(" 王芳 ", Some("王芳".into())), ("", None), ("tab\tname", None)]);
        for name in ["Ann\u{202E}gnp.exe", "\u{2066}Bob\u{2069}", "Eve\u{200F}", "x\u{061C}y"] {
            let error = display_name(name).unwrap_err();
            assert_eq!(error.problem, Problem::ControlCharacters, "{name:?}");
        }
        for name in ["\u{200B}", "\u{200B}\u{2060}\u{FEFF}", "\u{3164}"] {
            assert_eq!(
                display_name(name).unwrap_err().problem,
                Problem::Length { min: 1, max: 80 }
            );
        }
        assert_eq!(one_line("name", "Queue\u{202D}1", 40).unwrap_err().field, "name");
        assert_eq!(display_name("مرحبا Ann").as_deref(), Ok("مرحبا Ann"));
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert_eq!(password("1234567").unwrap_err().field, "password");
    }

    #[test]
    fn channels() {
        assert_eq!(channel("channels", " Email "), Ok(crate::Channel::Email));
        assert_eq!(channel("channels", "WeCom"), Ok(crate::Channel::Wecom));
        assert_eq!(
            channel("channel", "fax"),
            Err(ValidationError::new(
                "channel",
                Problem::not_one_of(
                    "fax",
                    &["web", "email", "api", "wecom", "wechat", "feishu", "dingtalk"]
                )
            ))
        );
    }

    #[test]
    fn answer_settings() {
        assert_eq!(answer_threshold(0.35), Ok(0.35));
        for bad in [0.0, 0.01, 0.99, f32::NAN] {
            assert!(answer_threshold(bad).is_err(), "{bad}");
        }
        assert_eq!(
            dictionary(&[" 天猫精灵 ", "", "AirPods Pro", "天猫精灵"]).unwrap(),
            ["天猫精灵", "AirPods Pro"]
        );
        assert_eq!(
            dictionary(&["好词", "x"]).unwrap_err().problem,
            Problem::ItemLength { item: "x".into(), min: 2, max: MAX_DICTIONARY_WORD_CHARS }
        );
        assert!(dictionary(&["a\u{7}b"]).is_err());
        assert!(dictionary(&["长".repeat(MAX_DICTIONARY_WORD_CHARS + 1)]).is_err());
        let many: Vec<String> = (0..=MAX_DICTIONARY_WORDS).map(|n| format!("w{n}")).collect();
        assert!(dictionary(&many).is_err());
    }

    #[test]
    fn escalation_policies_are_checked() {
        use crate::Reason;
        let policy = crate::EscalationPolicy::default;
        let cleaned = escalation_policy(crate::EscalationPolicy {
            hand_off_on: vec![Reason::Complaint, Reason::Complaint],
            vip_tiers: vec!["VIP".into(), "".into(), "gold".into()],
            ..policy()
        })
        .unwrap();
        assert_eq!(cleaned.hand_off_on, [Reason::Complaint]);
        assert_eq!(cleaned.vip_tiers, ["vip", "gold"]);
        let field = |bad: crate::EscalationPolicy| escalation_policy(bad).unwrap_err().field;
        assert_eq!(
            field(crate::EscalationPolicy { hand_off_on: vec![Reason::Vip], ..policy() }),
            "hand_off_on"
        );
        assert_eq!(
            field(crate::EscalationPolicy { approve_on: vec![Reason::AsksForHuman], ..policy() }),
            "approve_on"
        );
        assert_eq!(field(crate::EscalationPolicy { anger_turns: 4, ..policy() }), "anger_turns");
        assert_eq!(
            field(crate::EscalationPolicy { negative_sentiment: 0.5, ..policy() }),
            "negative_sentiment"
        );
        assert_eq!(
            field(crate::EscalationPolicy { vip_tiers: vec!["v i p".into()], ..policy() }),
            "vip_tiers"
        );
    }

    #[test]
    fn routing_settings_are_checked() {
        let skills = |pairs: &[(&str, u8)]| {
            pairs.iter().map(|(name, level)| (name.to_string(), *level)).collect()
        };
        assert_eq!(skill_levels(&skills(&[("Refunds", 3)])).unwrap(), skills(&[("refunds", 3)]));
        assert!(skill_levels(&skills(&[("refunds", 0)])).is_err());
        assert!(skill_levels(&skills(&[("退款", 2)])).is_err());
        let routing = crate::QueueRouting::default;
        assert!(queue_routing(routing()).is_ok());
        let hours = |weekday, start_minute, end_minute| crate::QueueRouting {
            hours: vec![crate::OpenRange { weekday, start_minute, end_minute }],
            ..routing()
        };
        assert!(queue_routing(hours(0, 540, 1080)).is_ok());
        assert_eq!(queue_routing(hours(7, 540, 1080)).unwrap_err().field, "hours");
        assert_eq!(queue_routing(hours(1, 600, 600)).unwrap_err().field, "hours");
        let slow = crate::QueueRouting { offer_timeout_ms: 5, ..routing() };
        assert_eq!(queue_routing(slow).unwrap_err().field, "offer_timeout_ms");
        let capacity = std::collections::BTreeMap::from([(crate::Channel::Web, 51)]);
        assert!(super::capacity(&capacity).is_err());
    }
}
