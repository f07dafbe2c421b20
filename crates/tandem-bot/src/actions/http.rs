//! Calling the business's HTTP endpoints and turning the answers into a reply.
//!
//! The templates are a few `{name}` placeholders, so they are filled here rather than with a
//! template engine: a URL value is percent-encoded, a JSON value keeps its type, and
//! `{env.NAME}` reads a secret from the server's environment (`TANDEM_ACTION_NAME`), which the
//! call record never shows.
//!
//! Who may do what with secrets: supervisors write actions, administrators set the server's
//! environment. A secret goes only to the hosts the administrator bound it to
//! (`TANDEM_ACTION_NAME_HOSTS`, comma-separated `host` or `host:port`; a secret that is itself
//! a URL, a base URL, is bound to its own host too), so an action cannot send it anywhere else;
//! a value read from an answer that contains a secret is masked before any reply or record
//! sees it; and no call reaches a link-local or metadata address
//! ([`tandem_llm::outbound`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tandem_domain::{
    Action, ActionOutcome, ActionRecord, ActionStep, CallRecord, Locale, Millis, ParamKind, Texts,
};
use tandem_text::signals::mask_personal_data;

use super::slots::same_value;

/// The prefix of the environment variables that actions may read.
pub const ENV_PREFIX: &str = "TANDEM_ACTION_";

/// Where `{env.NAME}` comes from: the name after `env.`, to its value.
pub type Secrets = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The server's environment: `{env.SHOP_KEY}` is `TANDEM_ACTION_SHOP_KEY`, and the hosts it may
/// be sent to are `TANDEM_ACTION_SHOP_KEY_HOSTS`.
pub fn environment() -> Secrets {
    std::sync::Arc::new(|name| std::env::var(format!("{ENV_PREFIX}{name}")).ok())
}

/// The suffix of the name that lists the hosts a secret may be sent to.
pub const HOSTS_SUFFIX: &str = "_HOSTS";

/// The names of the secrets (`{env.NAME}`) a step's URL, headers and body use.
fn secret_names(step: &ActionStep) -> Vec<String> {
    let mut texts: Vec<&str> = vec![step.url.as_str()];
    texts.extend(step.headers.values().map(String::as_str));
    let mut body = Vec::new();
    if let Some(template) = &step.body {
        strings_of(template, &mut body);
    }
    texts.extend(body.iter().map(String::as_str));
    let mut names = Vec::new();
    for text in texts {
        let _ = fill(text, |name, _| {
            if let Some(secret) = name.strip_prefix("env.")
                && !names.iter().any(|known| known == secret)
            {
                names.push(secret.to_owned());
            }
            Ok(())
        });
    }
    names
}

fn strings_of(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| strings_of(item, out)),
        serde_json::Value::Object(fields) => fields.values().for_each(|item| strings_of(item, out)),
        _ => {}
    }
}

/// Whether the secret `name` may be sent to `url`'s host: one of its `_HOSTS` (a host without
/// a port matches any port), or the host of its own value when that is a URL.
fn bound_to(secrets: &Secrets, name: &str, url: &reqwest::Url) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default();
    let listed = secrets(&format!("{name}{HOSTS_SUFFIX}")).unwrap_or_default();
    let matches = |entry: &str| {
        let entry = entry.trim().to_ascii_lowercase();
        match entry.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()) {
            Some((entry_host, entry_port)) => {
                entry_host.trim_matches(['[', ']']) == host.trim_matches(['[', ']'])
                    && entry_port.parse::<u16>().ok() == port
            }
            None => {
                !entry.is_empty() && entry.trim_matches(['[', ']']) == host.trim_matches(['[', ']'])
            }
        }
    };
    let own = secrets(name).and_then(|value| reqwest::Url::parse(&value).ok()).is_some_and(|own| {
        own.host_str().is_some_and(|own_host| own_host.eq_ignore_ascii_case(&host))
            && own.port_or_known_default() == port
    });
    if own || listed.split(',').any(matches) {
        return Ok(());
    }
    Err(format!(
        "the secret {{env.{name}}} may not be sent to {host}: an administrator binds it to its \
         hosts with {ENV_PREFIX}{name}{HOSTS_SUFFIX}"
    ))
}

/// The values of the secrets an action's steps use, long enough to recognise in an answer.
fn secret_values(action: &Action, secrets: &Secrets) -> Vec<String> {
    const SHORTEST: usize = 4;
    let mut values: Vec<String> = action
        .steps
        .iter()
        .flat_map(secret_names)
        .filter_map(|name| secrets(&name))
        .filter(|value| value.chars().count() >= SHORTEST)
        .collect();
    values.sort();
    values.dedup();
    values
}

/// Masks every secret value inside what an answer gave: a service that echoes a credential
/// back must not put it into the customer's reply.
fn mask_secrets(vars: &mut BTreeMap<String, String>, values: &[String]) {
    for value in vars.values_mut() {
        for secret in values {
            if value.contains(secret.as_str()) {
                *value = value.replace(secret.as_str(), "***");
            }
        }
    }
}

/// The end of a run: what to say, whether to offer a person, and what happened.
#[derive(Debug, Clone)]
pub struct Run {
    pub reply: String,
    pub hand_off: bool,
    pub record: ActionRecord,
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
    let secret_values = secret_values(action, secrets);
    let mut record = ActionRecord {
        params: shown_params(action, values),
        ..ActionRecord::new(&action.key, ActionOutcome::Done)
    };
    let finish =
        |record: &mut ActionRecord, outcome: ActionOutcome, reply: String, hand_off: bool| {
            record.outcome = outcome;
            Run { reply, hand_off, record: record.clone() }
        };
    for step in &action.steps {
        let (status, body) = match call(http, secrets, step, &vars, &mut record).await {
            Ok(answer) => answer,
            Err(()) => {
                let reply = reply_text(&action.replies.error, locale, &vars);
                return finish(&mut record, ActionOutcome::Error, reply, true);
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
                return finish(&mut record, ActionOutcome::IdentityFailed, reply, false);
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
                    mask_secrets(&mut vars, &secret_values);
                }
                let reply = reply_text(&rule.reply, locale, &vars);
                return finish(&mut record, ActionOutcome::Rule, reply, rule.hand_off);
            }
        }
        if status == 404 {
            let reply = reply_text(&action.replies.not_found, locale, &vars);
            return finish(&mut record, ActionOutcome::NotFound, reply, false);
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
            return finish(&mut record, ActionOutcome::Error, reply, true);
        };
        extract(step, &json, &mut vars);
        mask_secrets(&mut vars, &secret_values);
        if let Some(check) = &step.within_days {
            let moment = vars.get(&check.field).and_then(|value| value.parse::<i64>().ok());
            let fresh =
                moment.is_some_and(|moment| now - moment <= i64::from(check.days) * 86_400_000);
            if !fresh {
                // The reply explains why and offers a person; the customer decides.
                let reply = reply_text(&check.reply, locale, &vars);
                return finish(&mut record, ActionOutcome::CheckFailed, reply, false);
            }
        }
    }
    let reply = reply_text(&action.replies.done, locale, &vars);
    finish(&mut record, ActionOutcome::Done, reply, false)
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
        let parsed = reqwest::Url::parse(&url).map_err(|error| format!("not a URL: {error}"))?;
        tandem_llm::outbound::check_url(&parsed).map_err(|refused| refused.to_string())?;
        for name in secret_names(step) {
            bound_to(secrets, &name, &parsed)?;
        }
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
