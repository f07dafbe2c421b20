//! Validated input: every value a customer, agent or admin types passes through here before it
//! is stored, so the store and the HTTP layer never see an empty message or a malformed e-mail.

/// Longest message body, in characters.
pub const MAX_MESSAGE_CHARS: usize = 5000;
/// Longest client message id, in bytes.
pub const MAX_CLIENT_MSG_ID: usize = 64;
pub const MIN_PASSWORD_CHARS: usize = 8;

/// An input that breaks a rule; `field` names the input, `reason` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ValidationError {
    ValidationError { field, reason: reason.into() }
}

fn has_control_chars(text: &str, allow_newlines: bool) -> bool {
    text.chars().any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\t' | '\r')))
}

/// A message body: not blank, at most [`MAX_MESSAGE_CHARS`], no control characters other than
/// line breaks and tabs. Surrounding whitespace is removed; inner formatting is kept.
pub fn message_body(text: &str) -> Result<String, ValidationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid("body", "must not be empty"));
    }
    let chars = trimmed.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(invalid("body", format!("is {chars} characters; at most {MAX_MESSAGE_CHARS}")));
    }
    if has_control_chars(trimmed, true) {
        return Err(invalid("body", "must not contain control characters"));
    }
    Ok(trimmed.replace("\r\n", "\n"))
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
    crate::Channel::parse(&name)
        .ok_or_else(|| invalid(field, format!("{name:?} is not one of web, email, api")))
}

/// A workspace's answer threshold, within [`ANSWER_THRESHOLD_RANGE`].
pub fn answer_threshold(value: f32) -> Result<f32, ValidationError> {
    if !ANSWER_THRESHOLD_RANGE.contains(&value) {
        return Err(invalid(
            "threshold",
            format!(
                "must be between {} and {}",
                ANSWER_THRESHOLD_RANGE.start(),
                ANSWER_THRESHOLD_RANGE.end()
            ),
        ));
    }
    Ok(value)
}

/// A workspace's dictionary: words of 2 to [`MAX_DICTIONARY_WORD_CHARS`] characters without
/// line breaks, at most [`MAX_DICTIONARY_WORDS`]; blanks dropped, duplicates kept once, order
/// kept.
pub fn dictionary<S: AsRef<str>>(words: &[S]) -> Result<Vec<String>, ValidationError> {
    let mut kept: Vec<String> = Vec::new();
    for (index, word) in words.iter().enumerate() {
        let word = word.as_ref().trim();
        if word.is_empty() || kept.iter().any(|known| known == word) {
            continue;
        }
        let chars = word.chars().count();
        if !(2..=MAX_DICTIONARY_WORD_CHARS).contains(&chars) || has_control_chars(word, false) {
            return Err(invalid(
                "dictionary",
                format!(
                    "word {} ({word:?}) must be 2 to {MAX_DICTIONARY_WORD_CHARS} characters on one line",
                    index + 1
                ),
            ));
        }
        kept.push(word.to_owned());
    }
    if kept.len() > MAX_DICTIONARY_WORDS {
        return Err(invalid(
            "dictionary",
            format!("has {} words; at most {MAX_DICTIONARY_WORDS}", kept.len()),
        ));
    }
    Ok(kept)
}

/// An escalation policy as typed by a person: known reason codes, each in one list at most,
/// counts up to 20, a sentiment cut-off in -1..=0, tiers as short names.
pub fn escalation_policy(
    mut policy: crate::EscalationPolicy,
) -> Result<crate::EscalationPolicy, ValidationError> {
    for (field, codes) in
        [("hand_off_on", &mut policy.hand_off_on), ("approve_on", &mut policy.approve_on)]
    {
        if let Some(reason) = codes.iter().find(|reason| !reason.of_a_message()) {
            let known: Vec<&str> =
                crate::Reason::OF_A_MESSAGE.iter().map(|reason| reason.as_str()).collect();
            return Err(invalid(
                field,
                format!("{reason} is not raised by a message; a policy lists {}", known.join(", ")),
            ));
        }
        codes.sort();
        codes.dedup();
    }
    if let Some(both) = policy.hand_off_on.iter().find(|code| policy.approve_on.contains(code)) {
        return Err(invalid("approve_on", format!("{both} is already a hand-off reason")));
    }
    for (field, count) in [
        ("abstains_in_a_row", policy.abstains_in_a_row),
        ("repeats", policy.repeats),
        ("didnt_help", policy.didnt_help),
        ("anger_turns", policy.anger_turns),
    ] {
        if count > 20 {
            return Err(invalid(field, "must be 0 (never) to 20"));
        }
    }
    if policy.anger_turns > 3 {
        return Err(invalid("anger_turns", "counts the last three messages: 0 (never) to 3"));
    }
    if !(-1.0..=0.0).contains(&policy.negative_sentiment) {
        return Err(invalid("negative_sentiment", "must be between -1 (never) and 0"));
    }
    policy.vip_tiers = names("vip_tiers", &policy.vip_tiers)?;
    Ok(policy)
}

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
            return Err(invalid(
                field,
                format!("{value:?} must be 1 to 40 of a-z, 0-9, _, - and :"),
            ));
        }
        kept.push(value);
    }
    Ok(kept)
}

/// A skill name (see [`names`]).
pub fn skill(name: &str) -> Result<String, ValidationError> {
    names("skills", &[name.to_owned()])?
        .pop()
        .ok_or_else(|| invalid("skills", "a skill name cannot be blank"))
}

/// Skills with their levels: proficiency (or minimum) 1 to 5, at most 50 skills.
pub fn skill_levels(
    skills: &std::collections::BTreeMap<String, u8>,
) -> Result<std::collections::BTreeMap<String, u8>, ValidationError> {
    if skills.len() > 50 {
        return Err(invalid("skills", "at most 50 skills"));
    }
    let mut kept = std::collections::BTreeMap::new();
    for (name, level) in skills {
        if !(1..=5).contains(level) {
            return Err(invalid("skills", format!("{name}: level must be 1 to 5")));
        }
        kept.insert(skill(name)?, *level);
    }
    Ok(kept)
}

/// An agent's capacity per channel: 0 to 50 open conversations.
pub fn capacity(
    capacity: &std::collections::BTreeMap<crate::Channel, u32>,
) -> Result<std::collections::BTreeMap<crate::Channel, u32>, ValidationError> {
    if let Some((channel, _)) = capacity.iter().find(|(_, count)| **count > 50) {
        return Err(invalid("capacity", format!("{}: at most 50 at once", channel.as_str())));
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
    const WEEK_MS: i64 = 7 * 24 * 3_600_000;
    for (field, value) in [
        ("sla_ms", routing.sla_ms),
        ("offer_timeout_ms", routing.offer_timeout_ms),
        ("widen_after_ms", routing.widen_after_ms),
    ] {
        if !(10_000..=WEEK_MS).contains(&value) {
            return Err(invalid(field, "must be between 10 seconds and 7 days"));
        }
    }
    for range in &routing.hours {
        if range.weekday > 6 || range.start_minute >= range.end_minute || range.end_minute > 1440 {
            return Err(invalid(
                "hours",
                "each range needs a weekday 0 (Monday) to 6 and start before end within the day",
            ));
        }
    }
    Ok(routing)
}

/// A client message id: 1 to 64 characters of `A-Z a-z 0-9 - _ . :`.
pub fn client_msg_id(text: &str) -> Result<String, ValidationError> {
    if text.is_empty() || text.len() > MAX_CLIENT_MSG_ID {
        return Err(invalid(
            "client_msg_id",
            format!("must be 1 to {MAX_CLIENT_MSG_ID} characters"),
        ));
    }
    if !text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) {
        return Err(invalid(
            "client_msg_id",
            "may only contain letters, digits, '-', '_', '.', ':'",
        ));
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
    if valid { Ok(text) } else { Err(invalid("email", "is not a valid e-mail address")) }
}

/// A person's display name: 1 to 80 characters, no control characters.
pub fn display_name(text: &str) -> Result<String, ValidationError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > 80 {
        return Err(invalid("display_name", "must be 1 to 80 characters"));
    }
    if has_control_chars(text, false) {
        return Err(invalid("display_name", "must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// A new password: at least [`MIN_PASSWORD_CHARS`] characters, at most 256.
pub fn password(text: &str) -> Result<&str, ValidationError> {
    let chars = text.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > 256 {
        return Err(invalid("password", "must be at most 256 characters"));
    }
    Ok(text)
}

/// Keys that name console pages (`/knowledge/new`...) and so cannot name articles.
const RESERVED_ARTICLE_KEYS: &[&str] = &["new", "import", "export", "test", "settings"];

/// An article key: 1 to 100 characters of `a-z 0-9 - _ .` (lower case), not a reserved word.
pub fn article_key(text: &str) -> Result<String, ValidationError> {
    let key = text.trim();
    if RESERVED_ARTICLE_KEYS.contains(&key) {
        return Err(invalid("id", format!("{key:?} is reserved; choose another id")));
    }
    let valid = !key.is_empty()
        && key.len() <= 100
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(key.to_owned())
    } else {
        Err(invalid("id", "must be 1 to 100 characters of a-z, 0-9, '-', '_', '.'"))
    }
}

/// Text of a knowledge article field: not blank, at most `max` characters.
pub fn article_text(
    field: &'static str,
    text: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(invalid(field, "must not be empty"));
    }
    if chars > max {
        return Err(invalid(field, format!("is {chars} characters; at most {max}")));
    }
    if has_control_chars(text, true) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(text.replace("\r\n", "\n"))
}

/// A moment written as `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS]` followed by `Z`
/// or an offset such as `+08:00` (a space may stand for the `T`), as milliseconds since the
/// Unix epoch. A time without a zone is refused: "9 am" means different moments in Beijing and
/// London.
pub fn timestamp(field: &'static str, text: &str) -> Result<i64, ValidationError> {
    let text = text.trim();
    let bad = || {
        invalid(field, format!("{text:?} is not a date like 2026-02-01 or 2026-02-01T09:00+08:00"))
    };
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
            (clock, sign * (number(hours)? * 3600 + number(minutes)? * 60))
        } else {
            return Err(invalid(field, "give a time zone, such as Z or +08:00"));
        };
        let mut clock_parts = clock.split(':');
        let hours = number(clock_parts.next().ok_or_else(bad)?)?;
        let minutes = number(clock_parts.next().ok_or_else(bad)?)?;
        let secs = clock_parts.next().map(number).transpose()?.unwrap_or(0);
        if hours > 23 || minutes > 59 || secs > 59 || clock_parts.next().is_some() {
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
                (long.as_str(), Some(long.clone())),
                (too_long.as_str(), None),
            ],
        );
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
    }

    #[test]
    fn display_names_and_passwords() {
        check(display_name, &[(" 王芳 ", Some("王芳".into())), ("", None), ("tab\tname", None)]);
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert_eq!(password("1234567").unwrap_err().field, "password");
    }

    #[test]
    fn channels() {
        assert_eq!(channel("channels", " Email "), Ok(crate::Channel::Email));
        let error = channel("channel", "fax").unwrap_err();
        assert_eq!(
            (error.field, error.reason.as_str()),
            ("channel", "\"fax\" is not one of web, email, api")
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
        let error = dictionary(&["好词", "x"]).unwrap_err();
        assert!(error.reason.starts_with("word 2"), "{error}");
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
