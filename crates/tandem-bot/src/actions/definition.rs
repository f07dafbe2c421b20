//! What a business writes: checking an action's definition and reading action files.

use regex::Regex;
use tandem_domain::{Action, Problem};

/// An action's problem: the action's key (empty for a problem of the whole file), the part of
/// it (`name`, `steps[0].url`, `file`) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action}: {field}: {problem}")]
pub struct ActionError {
    pub action: String,
    pub field: String,
    pub problem: Problem,
}

/// The characters of parameter names.
const PARAM_CHARACTERS: &str = "a-z 0-9 _";
/// Longest parameter name.
const MAX_PARAM_NAME: usize = 40;
/// Longest action name, in characters.
const MAX_NAME: usize = 100;
/// How many things customers say an action may list.
const TRIGGERS: (usize, usize) = (1, 200);
/// How many HTTP calls an action may make.
const STEPS: (usize, usize) = (1, 5);
/// How long one call may take, in milliseconds.
const STEP_TIMEOUT_MS: (u64, u64) = (100, 30_000);

/// Why `name` cannot name a new parameter, given the names `taken` so far: names are 1 to 40 of
/// `a-z 0-9 _`, once each, and `env…` is kept for secrets from the environment.
fn param_name_problem(name: &str, taken: &[String]) -> Option<Problem> {
    let valid = !name.is_empty()
        && name.len() <= MAX_PARAM_NAME
        && name.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
        });
    if !valid {
        Some(Problem::Identifier {
            value: name.to_owned(),
            max: MAX_PARAM_NAME,
            allowed: PARAM_CHARACTERS.into(),
        })
    } else if name.starts_with("env") {
        Some(Problem::Reserved { value: name.to_owned() })
    } else if taken.iter().any(|known| known == name) {
        Some(Problem::Duplicate { value: name.to_owned() })
    } else {
        None
    }
}

/// Checks an action as a business wrote it: a key like an article's, triggers, parameter names
/// and patterns, URLs and templates that name only known values, sensible timeouts, and a
/// reply in at least one language for each outcome.
pub fn validate(mut action: Action) -> Result<Action, ActionError> {
    let key = action.key.trim().to_owned();
    let fail = |field: &str, problem: Problem| ActionError {
        action: key.clone(),
        field: field.to_owned(),
        problem,
    };
    action.key =
        tandem_domain::validate::article_key(&key).map_err(|error| fail("key", error.problem))?;
    action.name = tandem_domain::validate::one_line("name", &action.name, MAX_NAME)
        .map_err(|error| fail("name", error.problem))?;
    action.triggers = action
        .triggers
        .iter()
        .map(|trigger| trigger.trim().to_owned())
        .filter(|trigger| !trigger.is_empty())
        .collect();
    if !(TRIGGERS.0..=TRIGGERS.1).contains(&action.triggers.len()) {
        return Err(fail("triggers", Problem::Count { min: TRIGGERS.0, max: TRIGGERS.1 }));
    }
    let mut known: Vec<String> = Vec::new();
    for (index, param) in action.params.iter().enumerate() {
        let field = |part: &str| format!("params[{index}].{part}");
        if let Some(problem) = param_name_problem(&param.name, &known) {
            return Err(fail(&field("name"), problem));
        }
        if let Some(pattern) = &param.pattern {
            Regex::new(pattern).map_err(|error| {
                fail(&field("pattern"), Problem::Unreadable { detail: error.to_string() })
            })?;
        }
        if param.ask.zh.trim().is_empty() && param.ask.en.trim().is_empty() {
            return Err(fail(&field("ask"), Problem::NeedsChineseOrEnglish));
        }
        known.push(param.name.clone());
    }
    if let Some(check) = &action.identity_check {
        known.push(check.param.name.clone());
    }
    if !(STEPS.0..=STEPS.1).contains(&action.steps.len()) {
        return Err(fail("steps", Problem::Count { min: STEPS.0, max: STEPS.1 }));
    }
    for (index, step) in action.steps.iter().enumerate() {
        let field = |part: &str| format!("steps[{index}].{part}");
        let names = |template: &str| -> Vec<String> {
            template
                .split('{')
                .skip(1)
                .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
                .collect()
        };
        let mut templates = vec![("url".to_owned(), step.url.clone())];
        templates.extend(
            step.headers.iter().map(|(header, value)| (format!("headers.{header}"), value.clone())),
        );
        if let Some(body) = &step.body {
            templates.push(("body".to_owned(), body.to_string()));
        }
        for (part, template) in &templates {
            for name in names(template) {
                if !name.starts_with("env.") && !known.contains(&name) {
                    return Err(fail(&field(part), Problem::UnknownPlaceholder { name }));
                }
            }
        }
        let scheme_ok = step.url.starts_with("http://")
            || step.url.starts_with("https://")
            || step.url.starts_with("{env.");
        if !scheme_ok {
            return Err(fail(&field("url"), Problem::UrlScheme));
        }
        if !(STEP_TIMEOUT_MS.0..=STEP_TIMEOUT_MS.1).contains(&step.timeout_ms) {
            let problem = Problem::out_of_range(STEP_TIMEOUT_MS.0, STEP_TIMEOUT_MS.1);
            return Err(fail(&field("timeout_ms"), problem));
        }
        let pointers =
            step.extract.iter().map(|(name, pointer)| (format!("extract.{name}"), pointer));
        let rule_pointers = step.rules.iter().enumerate().filter_map(|(rule, reply)| {
            reply.pointer.as_ref().map(|pointer| (format!("rules[{rule}].pointer"), pointer))
        });
        for (part, pointer) in pointers.chain(rule_pointers) {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(fail(&field(&part), Problem::MustStartWith { prefix: "/".into() }));
            }
        }
        for name in step.extract.keys() {
            if known.contains(name) && action.params.iter().any(|param| &param.name == name) {
                let problem = Problem::Duplicate { value: name.clone() };
                return Err(fail(&field(&format!("extract.{name}")), problem));
            }
            known.push(name.clone());
        }
        if let Some(check) = &step.within_days
            && !known.contains(&check.field)
        {
            let problem = Problem::NotExtracted { name: check.field.clone() };
            return Err(fail(&field("within_days"), problem));
        }
    }
    if let Some(check) = &action.identity_check {
        let param = &check.param;
        let others: Vec<String> = action.params.iter().map(|other| other.name.clone()).collect();
        if let Some(problem) = param_name_problem(&param.name, &others) {
            return Err(fail("identity_check.param.name", problem));
        }
        if param.ask.zh.trim().is_empty() && param.ask.en.trim().is_empty() {
            return Err(fail("identity_check.param.ask", Problem::NeedsChineseOrEnglish));
        }
        if !action.steps.iter().any(|step| step.extract.contains_key(&check.field)) {
            let problem = Problem::NotExtracted { name: check.field.clone() };
            return Err(fail("identity_check.field", problem));
        }
        if check.mismatch.zh.trim().is_empty() && check.mismatch.en.trim().is_empty() {
            return Err(fail("identity_check.mismatch", Problem::NeedsChineseOrEnglish));
        }
    }
    for (field, texts) in [
        ("replies.done", &action.replies.done),
        ("replies.not_found", &action.replies.not_found),
        ("replies.error", &action.replies.error),
    ] {
        if texts.zh.trim().is_empty() && texts.en.trim().is_empty() {
            return Err(fail(field, Problem::NeedsChineseOrEnglish));
        }
    }
    Ok(action)
}

/// Reads actions from a TOML file (`[[action]]` tables) or JSON (an array, or
/// `{"actions": [...]}`), then checks each.
pub fn parse(text: &str) -> Result<Vec<Action>, Vec<ActionError>> {
    #[derive(serde::Deserialize)]
    struct TomlFile {
        #[serde(default)]
        action: Vec<Action>,
    }
    #[derive(serde::Deserialize)]
    struct JsonFile {
        actions: Vec<Action>,
    }
    let file_error =
        |problem| vec![ActionError { action: String::new(), field: "file".into(), problem }];
    let trimmed = text.trim_start();
    let actions =
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") || trimmed.starts_with('{') {
            // Read as the shape the file starts with, so that serde says where it went wrong
            // (an untagged enum's error has no line).
            let read = if trimmed.starts_with('[') {
                serde_json::from_str::<Vec<Action>>(text)
            } else {
                serde_json::from_str::<JsonFile>(text).map(|file| file.actions)
            };
            match read {
                Ok(actions) => actions,
                Err(error) => {
                    let detail = error.to_string();
                    let problem = match error.line() {
                        0 => Problem::Unreadable { detail },
                        line => Problem::UnreadableLine { line, detail },
                    };
                    return Err(file_error(problem));
                }
            }
        } else {
            match toml::from_str::<TomlFile>(text) {
                Ok(file) => file.action,
                Err(error) => {
                    let detail = error.message().to_owned();
                    let problem = match error.span() {
                        Some(span) => {
                            // The line the span starts on (counting the line breaks before it,
                            // so a span at a line's start is on that line, not the one above).
                            let line = text[..span.start].matches('\n').count() + 1;
                            Problem::UnreadableLine { line, detail }
                        }
                        None => Problem::Unreadable { detail },
                    };
                    return Err(file_error(problem));
                }
            }
        };
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    let mut keys = std::collections::HashSet::new();
    for action in actions {
        match validate(action) {
            Ok(action) if !keys.insert(action.key.clone()) => problems.push(ActionError {
                action: action.key.clone(),
                field: "key".into(),
                problem: Problem::Duplicate { value: action.key },
            }),
            Ok(action) => checked.push(action),
            Err(error) => problems.push(error),
        }
    }
    if problems.is_empty() { Ok(checked) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIFT_CARD: &str = r#"[[action]]
key = "gift-card-balance"
name = "Gift card balance"
triggers = ["what is left on my gift card", "礼品卡余额"]

[[action.params]]
name = "card"
kind = "number"
ask = { zh = "请提供礼品卡号。", en = "What is the gift card number?" }

[[action.steps]]
method = "GET"
url = "https://shop.example.com/cards/{card}"
extract = { balance = "/balance" }

[action.replies]
done = { zh = "余额：{balance}", en = "Balance: {balance}" }
not_found = { zh = "没有找到这张卡。", en = "No such card." }
error = { zh = "暂时查不到。", en = "Not available right now." }
"#;

    /// The one problem of `GIFT_CARD` with `from` replaced by `to`: (part, problem).
    fn problem(from: &str, to: &str) -> (String, Problem) {
        assert!(GIFT_CARD.contains(from), "{from}");
        let mut problems = parse(&GIFT_CARD.replace(from, to)).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        let error = problems.remove(0);
        (error.field, error.problem)
    }

    /// Found by fuzzing: a JSON file of the wrong shape was reported on line 0.
    #[test]
    fn a_json_file_of_the_wrong_shape_is_reported_on_its_line() {
        let errors = parse("{\n  \"as\": []\n}").unwrap_err();
        assert!(matches!(errors[0].problem, Problem::UnreadableLine { line: 3, .. }), "{errors:?}");
        let errors = parse("[\n  {\"key\": 1}\n]").unwrap_err();
        assert!(matches!(errors[0].problem, Problem::UnreadableLine { line: 2, .. }), "{errors:?}");
        assert_eq!(parse("[]").unwrap(), Vec::new());
        assert_eq!(parse("{\"actions\": []}").unwrap(), Vec::new());
    }

    #[test]
    fn each_problem_names_the_part_it_is_in() {
        assert_eq!(parse(GIFT_CARD).unwrap().len(), 1);
        let cases = [
            ("name = \"card\"", "name = \"env_card\"", "params[0].name", "reserved"),
            (
                "kind = \"number\"",
                "kind = \"number\"\npattern = \"[\"",
                "params[0].pattern",
                "unreadable",
            ),
            ("{card}\"", "{card_id}\"", "steps[0].url", "unknown_placeholder"),
            (
                "url = \"https:",
                "timeout_ms = 5\nurl = \"https:",
                "steps[0].timeout_ms",
                "out_of_range",
            ),
            ("\"/balance\"", "\"balance\"", "steps[0].extract.balance", "must_start_with"),
            (
                "triggers = [\"what is left on my gift card\", \"礼品卡余额\"]",
                "triggers = []",
                "triggers",
                "count",
            ),
            (
                "done = { zh = \"余额：{balance}\", en = \"Balance: {balance}\" }",
                "done = { zh = \"\", en = \" \" }",
                "replies.done",
                "needs_chinese_or_english",
            ),
        ];
        for (from, to, part, code) in cases {
            let (field, problem) = problem(from, to);
            assert_eq!((field.as_str(), problem.code()), (part, code), "{to}");
        }
    }

    #[test]
    fn a_file_that_does_not_read_names_its_line() {
        let problems = parse("[[action]]\nkey = \"x\"\nname = \n").unwrap_err();
        assert_eq!((problems[0].action.as_str(), problems[0].field.as_str()), ("", "file"));
        assert!(
            matches!(problems[0].problem, Problem::UnreadableLine { line: 3, .. }),
            "{:?}",
            problems[0]
        );
        // A table missing a field is named by its header's line, the fourth here.
        let missing = "[[action]]\nkey = \"x\"\nname = \"X\"\n[[action.steps]]\nurl = \"https://a.example\"\n";
        let problems = parse(missing).unwrap_err();
        assert!(
            matches!(problems[0].problem, Problem::UnreadableLine { line: 4, .. }),
            "{:?}",
            problems[0]
        );
        let twice = format!("{GIFT_CARD}\n{GIFT_CARD}");
        let problems = parse(&twice).unwrap_err();
        assert_eq!(problems[0].problem, Problem::Duplicate { value: "gift-card-balance".into() });
    }
}
