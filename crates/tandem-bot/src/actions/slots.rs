//! Slot filling: finding an action's parameters in what the customer wrote (or in their
//! profile, or in the arguments a model chose), and asking for the missing ones.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;
use tandem_domain::{Action, ActionParam, Customer, ParamKind};
use tandem_llm::ToolCall;
use tandem_text::signals::{PersonalKind, find_personal_data};

/// How many times the bot asks for a parameter before it hands the customer to a person.
pub const MAX_TRIES: u32 = 3;

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
pub(crate) fn same_value(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// The arguments of `call` that may be used: valid for their parameter, and written by the
/// customer in one of `said` (their messages). Unknown, invalid and invented ones are dropped.
pub fn chosen_values(action: &Action, call: &ToolCall, said: &[&str]) -> BTreeMap<String, String> {
    let Ok(Value::Object(arguments)) = serde_json::from_str::<Value>(&call.arguments) else {
        return BTreeMap::new();
    };
    let folded: Vec<String> = said.iter().map(|text| squeeze(text)).collect();
    let mut values = BTreeMap::new();
    for param in action.params.iter().filter(|param| param.from_profile.is_none()) {
        let Some(given) = arguments.get(&param.name).and_then(Value::as_str) else { continue };
        let Some(value) = find_param(param, given, true) else { continue };
        if folded.iter().any(|text| text.contains(&squeeze(&value))) {
            values.insert(param.name.clone(), value);
        }
    }
    values
}

/// Lower case without white space or separators, so that "138 0013 8000" and "13800138000"
/// are the same value.
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')' | '+'))
        .flat_map(char::to_lowercase)
        .collect()
}
