//! The catalogue's own checks: both files load, both languages have the same keys (in the
//! spirit of miniflux's `TestMissingTranslations`), and a translation uses the same
//! `{placeholders}` as the sentence it translates.

use std::collections::{BTreeMap, BTreeSet};

use tandem_domain::{Locale, Problem, Reason};

use crate::{Catalogue, fill, plural, source};

/// A catalogue file as dotted key paths and their text: `console.sign_in`,
/// `phrases.weekdays[0]`.
fn flatten(locale: Locale) -> BTreeMap<String, String> {
    let table: toml::Table = source(locale)
        .parse()
        .unwrap_or_else(|error| panic!("locales/{}.toml is not TOML: {error}", locale.as_str()));
    let mut keys = BTreeMap::new();
    for (key, value) in &table {
        flatten_into(key.clone(), value, &mut keys);
    }
    keys
}

fn flatten_into(path: String, value: &toml::Value, keys: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                flatten_into(format!("{path}.{key}"), value, keys);
            }
        }
        toml::Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                flatten_into(format!("{path}[{index}]"), value, keys);
            }
        }
        toml::Value::String(text) => {
            keys.insert(path, text.clone());
        }
        other => {
            keys.insert(path, other.to_string());
        }
    }
}

/// The `{name}` placeholders of a sentence; braces around anything but a plain lower-case name
/// (`{"actions": [...]}`) are text, not placeholders.
fn placeholders(sentence: &str) -> BTreeSet<&str> {
    let mut found = BTreeSet::new();
    let mut rest = sentence;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find('}') {
            let name = &rest[..close];
            let plain = !name.is_empty()
                && name
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
            if plain {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn both_catalogues_load() {
    for &locale in Locale::ALL {
        if let Err(error) = Catalogue::parse(source(locale)) {
            panic!("locales/{}.toml does not load: {error}", locale.as_str());
        }
        // The statics load the same text; this proves they do not panic either.
        let catalogue = Catalogue::for_locale(locale);
        assert!(!catalogue.console.lang.is_empty());
    }
}

#[test]
fn every_key_is_in_both_languages() {
    let chinese = flatten(Locale::Zh);
    let english = flatten(Locale::En);
    let missing_in_english: Vec<&String> =
        chinese.keys().filter(|key| !english.contains_key(*key)).collect();
    let missing_in_chinese: Vec<&String> =
        english.keys().filter(|key| !chinese.contains_key(*key)).collect();
    assert!(
        missing_in_english.is_empty() && missing_in_chinese.is_empty(),
        "missing in en.toml: {missing_in_english:?}\nmissing in zh.toml: {missing_in_chinese:?}"
    );
}

#[test]
fn a_translation_uses_the_same_placeholders() {
    let chinese = flatten(Locale::Zh);
    let english = flatten(Locale::En);
    let mismatches: Vec<String> = chinese
        .iter()
        .filter_map(|(key, zh)| {
            let en = english.get(key)?;
            let (zh_names, en_names) = (placeholders(zh), placeholders(en));
            (zh_names != en_names)
                .then(|| format!("{key}: zh uses {zh_names:?}, en uses {en_names:?}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "placeholders differ:\n{}", mismatches.join("\n"));
}

#[test]
fn no_translation_is_empty() {
    for &locale in Locale::ALL {
        let empty: Vec<String> = flatten(locale)
            .into_iter()
            .filter(|(_, text)| text.trim().is_empty())
            .map(|(key, _)| key)
            .collect();
        assert!(empty.is_empty(), "empty in {}.toml: {empty:?}", locale.as_str());
    }
}

#[test]
fn a_missing_or_unknown_key_does_not_load() {
    let source = source(Locale::En);
    let extra = source.replacen("[console]\n", "[console]\nunheard_of = \"x\"\n", 1);
    let error = Catalogue::parse(&extra).expect_err("an unknown key is refused").to_string();
    assert!(error.contains("unheard_of"), "{error}");

    let sign_in = source.lines().find(|line| line.starts_with("sign_in = ")).unwrap();
    let missing = source.replacen(&format!("{sign_in}\n"), "", 1);
    let error = Catalogue::parse(&missing).expect_err("a missing key is refused").to_string();
    assert!(error.contains("sign_in"), "{error}");

    let short_week = source.replacen(", \"Sun\"]", "]", 1);
    assert!(Catalogue::parse(&short_week).is_err(), "a week has seven days");
}

#[test]
fn every_reason_has_a_label_and_every_label_a_reason() {
    let codes: BTreeSet<&str> = Reason::ALL.iter().map(|reason| reason.as_str()).collect();
    for &locale in Locale::ALL {
        let labelled: BTreeSet<&str> = Catalogue::for_locale(locale).reason_codes().collect();
        assert_eq!(labelled, codes, "[reasons] of locales/{}.toml", locale.as_str());
    }
}

#[test]
fn keyed_tables_answer_by_code() {
    let chinese = Catalogue::for_locale(Locale::Zh);
    let english = Catalogue::for_locale(Locale::En);
    assert_eq!(chinese.reason(Reason::Complaint), "投诉");
    assert_eq!(english.reason(Reason::Complaint), "Complaint");
    assert_eq!(chinese.emotion("joy"), Some("高兴"));
    assert_eq!(english.entity("mobile"), Some("Mobile"));
    assert_eq!(chinese.role("admin"), Some("管理员"));
    assert_eq!(chinese.error("conversation_not_found"), Some("找不到该对话"));
    assert_eq!(english.error("internal"), Some("Something went wrong"));
}

#[test]
fn fill_replaces_the_named_placeholders_only() {
    let check = |sentence: &str, expected: &str| {
        let filled = fill(sentence, &[("bot", &"小助手"), ("count", &3)]);
        assert_eq!(filled, expected, "{sentence}");
    };
    check("您好，我是{bot}。", "您好，我是小助手。");
    check("{count} of {count}", "3 of 3");
    check("{agent} joined", "{agent} joined");
    check("JSON ({\"actions\": [...]})", "JSON ({\"actions\": [...]})");
    check("{base_url}/chat and {bot}", "{base_url}/chat and 小助手");
    check("unclosed {bot", "unclosed {bot");
    check("", "");
}

#[test]
fn plural_picks_one_only_for_one() {
    assert_eq!(plural(1, "1 article", "articles"), "1 article");
    for count in [0, 2, 21] {
        assert_eq!(plural(count, "one", "other"), "other");
    }
}

#[test]
fn every_problem_has_a_sentence_with_its_placeholders_and_nothing_else() {
    let problems: BTreeMap<&str, BTreeSet<&str>> = Problem::all()
        .into_iter()
        .map(|(code, params)| (code, params.into_iter().collect()))
        .collect();
    for &locale in Locale::ALL {
        let file = format!("[validation] of locales/{}.toml", locale.as_str());
        let sentences: BTreeMap<&str, &str> =
            Catalogue::for_locale(locale).validation_sentences().collect();
        let missing: Vec<&&str> =
            problems.keys().filter(|code| !sentences.contains_key(*code)).collect();
        let extra: Vec<&&str> =
            sentences.keys().filter(|code| !problems.contains_key(*code)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{file}: missing {missing:?}, no such problem {extra:?}"
        );
        for (code, sentence) in sentences {
            assert_eq!(placeholders(sentence), problems[code], "{file}: {code} = {sentence:?}");
        }
    }
}

/// Whether `text` has three or more ASCII words in a row (`must not be`): English left in a
/// Chinese sentence. Names, codes and examples (`Asia/Shanghai`, `mon-fri 09:00-18:00`) are
/// single words.
fn has_english_phrase(text: &str) -> bool {
    let mut run = 0;
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')')) {
        let english = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphabetic());
        run = if english {
            run + 1
        } else if word.is_empty() {
            run
        } else {
            0
        };
        if run >= 3 {
            return true;
        }
    }
    false
}

#[test]
fn chinese_problem_sentences_are_chinese() {
    assert!(has_english_phrase("hours: each range needs a weekday"));
    assert!(!has_english_phrase("“{days}”不是星期或星期范围（mon … sun），如 mon-fri 09:00-18:00"));
    for (code, sentence) in Catalogue::for_locale(Locale::Zh).validation_sentences() {
        let chinese = sentence.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        assert!(chinese && !has_english_phrase(sentence), "[validation] {code} = {sentence:?}");
    }
}

#[test]
fn problems_are_worded_in_each_language() {
    let (chinese, english) = (Catalogue::for_locale(Locale::Zh), Catalogue::for_locale(Locale::En));
    let too_long = Problem::TooLong { max: 200, got: 250 };
    assert_eq!(chinese.problem(&too_long), "共 250 个字符，最多 200 个");
    assert_eq!(english.problem(&too_long), "is 250 characters; at most 200");
    let hours = Problem::NotWeekdays { days: "funday".into() };
    assert!(chinese.problem(&hours).starts_with("“funday”不是星期"), "{}", chinese.problem(&hours));
    // A reason code reads as its label; what a parser said is left to the API.
    let both = Problem::AlsoHandOff { reason: "complaint".into() };
    assert_eq!(chinese.problem(&both), "“投诉”已设为立即转人工，一个信号只能选一列");
    assert!(english.problem(&both).starts_with("Complaint already hands off"));
    let unreadable = Problem::Unreadable { detail: "expected value at line 1".into() };
    assert_eq!(chinese.problem(&unreadable), "无法识别，请检查格式");
    assert_eq!(english.problem(&unreadable), "could not be read");
    let placeholder = Problem::UnknownPlaceholder { name: "order".into() };
    assert!(chinese.problem(&placeholder).starts_with("{order} 既不是参数"));
}
