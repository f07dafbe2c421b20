//! What a business writes: checking an action's definition and reading action files.

use regex::Regex;
use tandem_domain::Action;

/// An action's problem, naming the action and the part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{action}: {field}: {reason}")]
pub struct ActionError {
    pub action: String,
    pub field: String,
    pub reason: String,
}

/// Checks an action as a business wrote it: a key like an article's, triggers, parameter names
/// and patterns, URLs and templates that name only known values, sensible timeouts, and a
/// reply in at least one language for each outcome.
pub fn validate(mut action: Action) -> Result<Action, ActionError> {
    let key = action.key.trim().to_owned();
    let fail = |field: &str, reason: String| ActionError {
        action: key.clone(),
        field: field.to_owned(),
        reason,
    };
    action.key =
        tandem_domain::validate::article_key(&key).map_err(|error| fail("key", error.reason))?;
    action.name = action.name.trim().to_owned();
    if action.name.is_empty() || action.name.chars().count() > 100 {
        return Err(fail("name", "must be 1 to 100 characters".into()));
    }
    action.triggers = action
        .triggers
        .iter()
        .map(|trigger| trigger.trim().to_owned())
        .filter(|trigger| !trigger.is_empty())
        .collect();
    if action.triggers.is_empty() || action.triggers.len() > 200 {
        return Err(fail("triggers", "give 1 to 200 things customers say to ask for it".into()));
    }
    let mut known: Vec<String> = Vec::new();
    for (index, param) in action.params.iter().enumerate() {
        let field = format!("params[{index}]");
        let valid_name = !param.name.is_empty()
            && param.name.len() <= 40
            && param.name.chars().all(|character| {
                character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
            });
        if !valid_name || param.name.starts_with("env") || known.contains(&param.name) {
            return Err(fail(
                &field,
                format!(
                    "name {:?} must be unique, 1 to 40 of a-z, 0-9 and _, not starting with env",
                    param.name
                ),
            ));
        }
        if let Some(pattern) = &param.pattern {
            Regex::new(pattern)
                .map_err(|error| fail(&field, format!("pattern does not compile: {error}")))?;
        }
        if param.ask.zh.trim().is_empty() && param.ask.en.trim().is_empty() {
            return Err(fail(&field, "needs a question to ask for it (ask.zh or ask.en)".into()));
        }
        known.push(param.name.clone());
    }
    if let Some(check) = &action.identity_check {
        known.push(check.param.name.clone());
    }
    if action.steps.is_empty() || action.steps.len() > 5 {
        return Err(fail("steps", "give 1 to 5 HTTP calls".into()));
    }
    for (index, step) in action.steps.iter().enumerate() {
        let field = format!("steps[{index}]");
        let names = |template: &str| -> Vec<String> {
            template
                .split('{')
                .skip(1)
                .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
                .collect()
        };
        let mut templates = vec![step.url.clone()];
        templates.extend(step.headers.values().cloned());
        if let Some(body) = &step.body {
            templates.push(body.to_string());
        }
        for name in templates.iter().flat_map(|template| names(template)) {
            if !name.starts_with("env.") && !known.contains(&name) {
                return Err(fail(
                    &field,
                    format!(
                        "{{{name}}} is neither a parameter nor a value read by an earlier step"
                    ),
                ));
            }
        }
        let scheme_ok = step.url.starts_with("http://")
            || step.url.starts_with("https://")
            || step.url.starts_with("{env.");
        if !scheme_ok {
            return Err(fail(
                &field,
                "url must start with http:// or https:// (or an {env.NAME} base)".into(),
            ));
        }
        if !(100..=30_000).contains(&step.timeout_ms) {
            return Err(fail(&field, "timeout_ms must be between 100 and 30000".into()));
        }
        for pointer in
            step.extract.values().chain(step.rules.iter().filter_map(|rule| rule.pointer.as_ref()))
        {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(fail(
                    &field,
                    format!("{pointer:?} is not a JSON pointer (they start with /)"),
                ));
            }
        }
        for name in step.extract.keys() {
            if known.contains(name) && action.params.iter().any(|param| &param.name == name) {
                return Err(fail(&field, format!("{name} is already a parameter")));
            }
            known.push(name.clone());
        }
        if let Some(check) = &step.within_days
            && !known.contains(&check.field)
        {
            return Err(fail(
                &field,
                format!("within_days reads {}, which no step extracts", check.field),
            ));
        }
    }
    if let Some(check) = &action.identity_check {
        let param = &check.param;
        let valid_name = !param.name.is_empty()
            && param.name.chars().all(|character| {
                character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
            });
        if !valid_name
            || action.params.iter().any(|other| other.name == param.name)
            || param.name.starts_with("env")
        {
            return Err(fail(
                "identity_check.param",
                format!("name {:?} must be a new parameter name of a-z, 0-9 and _", param.name),
            ));
        }
        if param.ask.zh.trim().is_empty() && param.ask.en.trim().is_empty() {
            return Err(fail("identity_check.param", "needs a question to ask for it".into()));
        }
        if !action.steps.iter().any(|step| step.extract.contains_key(&check.field)) {
            return Err(fail("identity_check.field", format!("no step extracts {}", check.field)));
        }
        if check.mismatch.zh.trim().is_empty() && check.mismatch.en.trim().is_empty() {
            return Err(fail(
                "identity_check.mismatch",
                "needs a reply in Chinese or English".into(),
            ));
        }
    }
    for (field, texts) in [
        ("replies.done", &action.replies.done),
        ("replies.not_found", &action.replies.not_found),
        ("replies.error", &action.replies.error),
    ] {
        if texts.zh.trim().is_empty() && texts.en.trim().is_empty() {
            return Err(fail(field, "needs a reply in Chinese or English".into()));
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
    #[serde(untagged)]
    enum JsonFile {
        List(Vec<Action>),
        Wrapped { actions: Vec<Action> },
    }
    let file_error =
        |reason: String| vec![ActionError { action: String::new(), field: "file".into(), reason }];
    let trimmed = text.trim_start();
    let actions =
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") || trimmed.starts_with('{') {
            match serde_json::from_str::<JsonFile>(text) {
                Ok(JsonFile::List(actions) | JsonFile::Wrapped { actions }) => actions,
                Err(error) => return Err(file_error(format!("line {}: {error}", error.line()))),
            }
        } else {
            match toml::from_str::<TomlFile>(text) {
                Ok(file) => file.action,
                Err(error) => {
                    let line = error.span().map(|span| text[..span.start].lines().count().max(1));
                    let at = line.map(|line| format!("line {line}: ")).unwrap_or_default();
                    return Err(file_error(format!("{at}{}", error.message())));
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
                reason: "appears twice in the file".into(),
            }),
            Ok(action) => checked.push(action),
            Err(error) => problems.push(error),
        }
    }
    if problems.is_empty() { Ok(checked) } else { Err(problems) }
}
