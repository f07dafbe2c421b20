//! Running business actions: finding their parameters in what the customer wrote (or in their
//! profile), asking for the missing ones, calling the business's HTTP endpoints and turning the
//! answers into a reply.
//!
//! The templates are a few `{name}` placeholders, so they are filled here rather than with a
//! template engine: a URL value is percent-encoded, a JSON value keeps its type, and
//! `{env.NAME}` reads a secret from the server's environment (`TANDEM_ACTION_NAME`), which the
//! call record never shows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use regex::Regex;
use tandem_domain::{
    Action, ActionParam, ActionRecord, ActionStep, CallRecord, Customer, Locale, Millis, ParamKind,
    Texts,
};
use tandem_text::signals::{PersonalKind, find_personal_data, mask_personal_data};

/// How many times the bot asks for a parameter before it hands the customer to a person.
pub const MAX_TRIES: u32 = 3;

/// The prefix of the environment variables that actions may read.
pub const ENV_PREFIX: &str = "TANDEM_ACTION_";

/// Where `{env.NAME}` comes from: the name after `env.`, to its value.
pub type Secrets = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The server's environment: `{env.SHOP_KEY}` is `TANDEM_ACTION_SHOP_KEY`.
pub fn environment() -> Secrets {
    std::sync::Arc::new(|name| std::env::var(format!("{ENV_PREFIX}{name}")).ok())
}

/// The end of a run: what to say, whether to offer a person, and what happened.
#[derive(Debug, Clone)]
pub struct Run {
    pub reply: String,
    pub hand_off: bool,
    pub record: ActionRecord,
}

/// Finds a parameter's value in a message. `asked` is true when the bot just asked for this
/// parameter, so free text may be the whole message.
pub fn find_param(param: &ActionParam, text: &str, asked: bool) -> Option<String> {
    let pattern =
        param.pattern.as_deref().and_then(|pattern| Regex::new(&format!("^(?:{pattern})$")).ok());
    let accepts = |value: &str| pattern.as_ref().is_none_or(|pattern| pattern.is_match(value));
    let personal = |kind: PersonalKind| {
        find_personal_data(text)
            .into_iter()
            .filter(|span| span.kind == kind)
            .map(|span| text[span.start..span.end].trim().to_owned())
            .find(|value| accepts(value))
    };
    match param.kind {
        ParamKind::Phone => personal(PersonalKind::Mobile)
            .map(|value| value.chars().filter(char::is_ascii_digit).collect::<String>())
            .map(|digits| {
                digits
                    .strip_prefix("86")
                    .filter(|rest| rest.len() == 11)
                    .unwrap_or(&digits)
                    .to_owned()
            }),
        ParamKind::Email => personal(PersonalKind::Email),
        ParamKind::OrderNumber => {
            let phones: Vec<(usize, usize)> = find_personal_data(text)
                .into_iter()
                .filter(|span| span.kind != PersonalKind::Email)
                .map(|span| (span.start, span.end))
                .collect();
            digit_runs(text)
                .into_iter()
                .filter(|(start, value)| {
                    (8..=24).contains(&value.len())
                        && !phones.iter().any(|(from, to)| from <= start && start < to)
                })
                .map(|(_, value)| value)
                .find(|value| accepts(value))
        }
        ParamKind::Number => Regex::new(r"\d+(?:\.\d+)?")
            .ok()?
            .find_iter(text)
            .map(|found| found.as_str().to_owned())
            .find(|value| accepts(value)),
        ParamKind::Text => {
            let value = text.trim();
            (asked && !value.is_empty() && accepts(value)).then(|| value.to_owned())
        }
    }
}

/// Runs of ASCII digits with their byte offsets (full-width digits are folded first).
fn digit_runs(text: &str) -> Vec<(usize, String)> {
    let mut runs = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (index, character) in text.char_indices().chain([(text.len(), ' ')]) {
        let digit = match character {
            '0'..='9' => Some(character),
            '０'..='９' => char::from_u32(character as u32 - '０' as u32 + '0' as u32),
            _ => None,
        };
        match digit {
            Some(digit) => {
                if current.is_empty() {
                    start = index;
                }
                current.push(digit);
            }
            None if !current.is_empty() => runs.push((start, std::mem::take(&mut current))),
            None => {}
        }
    }
    runs
}

/// A parameter's value from the customer's profile.
pub fn profile_value(param: &ActionParam, customer: &Customer) -> Option<String> {
    let field = param.from_profile.as_deref()?;
    let value = match field {
        "external_id" => customer.external_id.clone(),
        "email" => customer.email.clone(),
        "name" => Some(customer.name.clone()),
        attribute => customer.attributes.get(attribute).cloned(),
    }?;
    (!value.trim().is_empty()).then(|| value.trim().to_owned())
}

/// Fills what it can: values already collected, then the profile, then the message. Returns
/// the first parameter still missing.
pub fn gather<'a>(
    action: &'a Action,
    values: &mut BTreeMap<String, String>,
    customer: &Customer,
    text: &str,
) -> Option<&'a ActionParam> {
    let needed = needed_params(action, customer);
    for param in &needed {
        if values.contains_key(&param.name) {
            continue;
        }
        if let Some(value) =
            profile_value(param, customer).or_else(|| find_param(param, text, false))
        {
            values.insert(param.name.clone(), value);
        }
    }
    needed.into_iter().find(|param| !values.contains_key(&param.name))
}

/// The parameters to collect from this customer: the action's, and the identity check's
/// when the customer is not verified.
pub fn needed_params<'a>(action: &'a Action, customer: &Customer) -> Vec<&'a ActionParam> {
    let check = action.identity_check.as_ref().filter(|_| !customer.verified);
    action.params.iter().chain(check.map(|check| &check.param)).collect()
}

/// Whether two values are the same to a person: case and surrounding spaces aside.
fn same_value(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// How a template value is written.
#[derive(Clone, Copy)]
enum Context {
    Url,
    Text,
}

/// Replaces every `{name}` in `template` with what `value` writes for it.
fn fill(
    template: &str,
    mut value: impl FnMut(&str, &mut String) -> Result<(), String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return Ok(out);
        };
        value(&after[..close], &mut out)?;
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Fills `{name}` and `{env.NAME}`; without `secrets`, secrets are shown as `***`.
fn render(
    template: &str,
    vars: &BTreeMap<String, String>,
    context: Context,
    secrets: Option<&Secrets>,
) -> Result<String, String> {
    fill(template, |name, out| {
        let value = if let Some(secret) = name.strip_prefix("env.") {
            match secrets {
                Some(secrets) => secrets(secret).ok_or_else(|| {
                    format!("the environment variable {ENV_PREFIX}{secret} is not set")
                })?,
                None => "***".to_owned(),
            }
        } else {
            vars.get(name).cloned().ok_or_else(|| format!("nothing to fill {{{name}}} with"))?
        };
        // Configuration (a base URL) goes in as written; what customers typed is encoded.
        match context {
            Context::Url if !name.starts_with("env.") => out.extend(url_encode(&value)),
            _ => out.push_str(&value),
        }
        Ok(())
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn url_encode(value: &str) -> impl Iterator<Item = char> + '_ {
    value.bytes().flat_map(|byte| {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        let encoded: Vec<char> =
            if unreserved { vec![byte as char] } else { format!("%{byte:02X}").chars().collect() };
        encoded.into_iter()
    })
}

/// A JSON body template: every string is a template; numbers, booleans and nulls are kept as
/// written. Filled values are always strings (an order number "00123" must not become 123).
fn render_json(
    template: &serde_json::Value,
    vars: &BTreeMap<String, String>,
    secrets: &Secrets,
) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match template {
        Value::String(text) => Value::String(render(text, vars, Context::Text, Some(secrets))?),
        Value::Array(items) => Value::Array(
            items.iter().map(|item| render_json(item, vars, secrets)).collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| Ok((key.clone(), render_json(value, vars, secrets)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A reply template filled with what the action knows (missing names left empty).
pub fn reply_text(texts: &Texts, locale: Locale, vars: &BTreeMap<String, String>) -> String {
    let filled = fill(texts.get(locale), |name, out| {
        out.push_str(vars.get(name).map_or("", String::as_str));
        Ok(())
    });
    filled.unwrap_or_default()
}

/// What the record shows of a parameter: personal data masked.
fn shown_params(action: &Action, values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(name, value)| {
            let checked =
                action.identity_check.as_ref().is_some_and(|check| check.param.name == *name);
            let personal = checked
                || action.params.iter().any(|param| {
                    param.name == *name && matches!(param.kind, ParamKind::Phone | ParamKind::Email)
                });
            let shown = if checked {
                // What proves who the customer is never shows.
                "*".repeat(value.chars().count())
            } else if personal {
                mask_personal_data(value)
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}

/// Calls the action's steps in order and says what came of it. With `verified` false and an
/// identity check, the check's value must match before anything else is said.
pub async fn execute(
    http: &reqwest::Client,
    secrets: &Secrets,
    action: &Action,
    values: &BTreeMap<String, String>,
    (locale, now, verified): (Locale, Millis, bool),
) -> Run {
    let mut check = action.identity_check.as_ref().filter(|_| !verified);
    let mut vars = values.clone();
    let mut record = ActionRecord {
        action: action.key.clone(),
        outcome: String::new(),
        params: shown_params(action, values),
        calls: Vec::new(),
    };
    let finish = |record: &mut ActionRecord, outcome: &str, reply: String, hand_off: bool| {
        record.outcome = outcome.to_owned();
        Run { reply, hand_off, record: record.clone() }
    };
    for step in &action.steps {
        let (status, body) = match call(http, secrets, step, &vars, &mut record).await {
            Ok(answer) => answer,
            Err(()) => {
                let reply = reply_text(&action.replies.error, locale, &vars);
                return finish(&mut record, "error", reply, true);
            }
        };
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        if let Some(pending) = check
            && (200..300).contains(&status)
            && let Some(pointer) = step.extract.get(&pending.field)
        {
            let expected = json
                .as_ref()
                .and_then(|json| json.pointer(pointer))
                .map(|value| value.as_str().map_or_else(|| value.to_string(), str::to_owned));
            let given = values.get(&pending.param.name);
            let matches = matches!((&expected, given), (Some(expected), Some(given)) if same_value(expected, given));
            if !matches {
                let reply = reply_text(&pending.mismatch, locale, values);
                return finish(&mut record, "identity_failed", reply, false);
            }
            check = None;
        }
        for rule in &step.rules {
            let status_matches = rule.status.is_none_or(|wanted| wanted == status);
            let value_matches = match (&rule.pointer, &json) {
                (None, _) => true,
                (Some(pointer), Some(json)) => {
                    let found = json.pointer(pointer);
                    match &rule.equals {
                        Some(wanted) => found == Some(wanted),
                        None => found.is_some_and(|value| !value.is_null()),
                    }
                }
                (Some(_), None) => false,
            };
            if status_matches && value_matches {
                if let Some(json) = &json {
                    extract(step, json, &mut vars);
                }
                let reply = reply_text(&rule.reply, locale, &vars);
                return finish(&mut record, "rule", reply, rule.hand_off);
            }
        }
        if status == 404 {
            let reply = reply_text(&action.replies.not_found, locale, &vars);
            return finish(&mut record, "not_found", reply, false);
        }
        let Some(json) = json.filter(|_| (200..300).contains(&status)) else {
            if let Some(call) = record.calls.last_mut()
                && call.error.is_none()
            {
                call.error = Some(if (200..300).contains(&status) {
                    "the answer is not JSON".to_owned()
                } else {
                    format!("HTTP {status}")
                });
            }
            let reply = reply_text(&action.replies.error, locale, &vars);
            return finish(&mut record, "error", reply, true);
        };
        extract(step, &json, &mut vars);
        if let Some(check) = &step.within_days {
            let moment = vars.get(&check.field).and_then(|value| value.parse::<i64>().ok());
            let fresh =
                moment.is_some_and(|moment| now - moment <= i64::from(check.days) * 86_400_000);
            if !fresh {
                // The reply explains why and offers a person; the customer decides.
                let reply = reply_text(&check.reply, locale, &vars);
                return finish(&mut record, "check_failed", reply, false);
            }
        }
    }
    let reply = reply_text(&action.replies.done, locale, &vars);
    finish(&mut record, "done", reply, false)
}

/// Values read from a response into the action's variables.
fn extract(step: &ActionStep, json: &serde_json::Value, vars: &mut BTreeMap<String, String>) {
    for (name, pointer) in &step.extract {
        let value = match json.pointer(pointer) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Null) | None => continue,
            // Amounts read as people write them: 338, 12.5.
            Some(serde_json::Value::Number(number)) => match number.as_f64() {
                Some(float) if number.as_i64().is_none() && float.fract() == 0.0 => {
                    format!("{}", float as i64)
                }
                _ => number.to_string(),
            },
            Some(other) => other.to_string(),
        };
        vars.insert(name.clone(), value);
    }
}

/// One HTTP call; the record gets its method, URL (secrets hidden), status, latency and error.
async fn call(
    http: &reqwest::Client,
    secrets: &Secrets,
    step: &ActionStep,
    vars: &BTreeMap<String, String>,
    record: &mut ActionRecord,
) -> Result<(u16, Vec<u8>), ()> {
    let started = Instant::now();
    let mut entry = CallRecord {
        method: step.method.as_str().to_owned(),
        url: render(&step.url, vars, Context::Url, None).unwrap_or_else(|_| step.url.clone()),
        ..CallRecord::default()
    };
    let prepared = (|| -> Result<reqwest::RequestBuilder, String> {
        let url = render(&step.url, vars, Context::Url, Some(secrets))?;
        let method = reqwest::Method::from_bytes(step.method.as_str().as_bytes())
            .map_err(|error| error.to_string())?;
        let mut request = http.request(method, url).timeout(Duration::from_millis(step.timeout_ms));
        for (name, value) in &step.headers {
            request =
                request.header(name.as_str(), render(value, vars, Context::Text, Some(secrets))?);
        }
        if let Some(body) = &step.body {
            request = request.json(&render_json(body, vars, secrets)?);
        }
        Ok(request)
    })();
    let outcome = match prepared {
        Err(error) => Err(error),
        Ok(request) => match request.send().await {
            Err(error) if error.is_timeout() => {
                Err(format!("no answer within {} ms", step.timeout_ms))
            }
            Err(error) => Err(format!("could not reach the service: {}", without_url(&error))),
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => Ok((status, body.to_vec())),
                    Err(error) if error.is_timeout() => {
                        Err(format!("no answer within {} ms", step.timeout_ms))
                    }
                    Err(error) => Err(format!("the answer broke off: {}", without_url(&error))),
                }
            }
        },
    };
    entry.latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok((status, body)) => {
            entry.status = Some(status);
            record.calls.push(entry);
            Ok((status, body))
        }
        Err(error) => {
            entry.error = Some(error);
            record.calls.push(entry);
            Err(())
        }
    }
}

/// What went wrong, without the URL (which may carry a secret).
fn without_url(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "unreadable body"
    } else if error.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    }
}

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
