//! An inbox's channel settings as the settings page's form has them: one flat list of inputs
//! per channel (`smtp_host` for the settings' `smtp.host`), read from the stored settings
//! (secrets only as "set") and turned back into [`ChannelSettings`] when the form is posted.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tandem_domain::{Channel, Inbox, Problem, ValidationError};

use crate::AppState;
use crate::channels::ChannelSettings;
use crate::i18n::Text;

/// What kind of input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Email,
    Number,
    Url,
    /// Never shown; empty keeps the stored one.
    Secret,
    /// `none`, `starttls` or `tls`.
    Security,
}

/// One input of a channel's form.
#[derive(Debug, Clone, Copy)]
struct Spec {
    /// The input's name: the settings' field, `smtp_` standing for `smtp.`.
    name: &'static str,
    kind: Kind,
    /// Must not be empty (secrets: checked by the settings, since a stored one is kept).
    required: bool,
}

const fn field(name: &'static str, kind: Kind, required: bool) -> Spec {
    Spec { name, kind, required }
}

const EMAIL: &[Spec] = &[
    field("address", Kind::Email, true),
    field("display_name", Kind::Text, false),
    field("smtp_host", Kind::Text, true),
    field("smtp_port", Kind::Number, true),
    field("smtp_security", Kind::Security, true),
    field("smtp_username", Kind::Text, false),
    field("smtp_password", Kind::Secret, false),
    field("smtp_timeout", Kind::Number, false),
];

const WECOM: &[Spec] = &[
    field("corp_id", Kind::Text, true),
    field("secret", Kind::Secret, false),
    field("token", Kind::Secret, false),
    field("encoding_aes_key", Kind::Secret, false),
    field("open_kfid", Kind::Text, true),
    field("base_url", Kind::Url, false),
];

const WECHAT: &[Spec] = &[
    field("app_id", Kind::Text, true),
    field("app_secret", Kind::Secret, false),
    field("token", Kind::Secret, false),
    field("encoding_aes_key", Kind::Secret, false),
    field("base_url", Kind::Url, false),
];

const FEISHU: &[Spec] = &[
    field("app_id", Kind::Text, true),
    field("app_secret", Kind::Secret, false),
    field("verification_token", Kind::Secret, false),
    field("encrypt_key", Kind::Secret, false),
    field("base_url", Kind::Url, false),
];

const DINGTALK: &[Spec] = &[
    field("app_key", Kind::Text, true),
    field("app_secret", Kind::Secret, false),
    field("robot_code", Kind::Text, true),
    field("base_url", Kind::Url, false),
];

/// The channel's inputs; none for the web widget and the API channel, which need no settings.
fn specs(channel: Channel) -> &'static [Spec] {
    match channel {
        Channel::Web | Channel::Api => &[],
        Channel::Email => EMAIL,
        Channel::Wecom => WECOM,
        Channel::Wechat => WECHAT,
        Channel::Feishu => FEISHU,
        Channel::Dingtalk => DINGTALK,
    }
}

/// Whether the inbox's channel has settings to fill in.
pub fn has_settings(channel: Channel) -> bool {
    !specs(channel).is_empty()
}

/// Where an input's value lives in the settings' JSON: `smtp_host` is `smtp.host`.
fn path(name: &str) -> (Option<&'static str>, &str) {
    match name.strip_prefix("smtp_") {
        Some(rest) => (Some("smtp"), rest),
        None => (None, name),
    }
}

/// The input named by a refused settings field (`smtp.password` is `smtp_password`).
pub fn input_name(field: &str) -> String {
    field.replace('.', "_")
}

/// A field's label in the agent's language; the input's name for one without.
pub fn label(text: &'static Text, name: &str) -> &'static str {
    let t = &**text;
    let label = match name {
        "address" => &t.chs_address,
        "display_name" => &t.chs_display_name,
        "smtp_host" => &t.chs_smtp_host,
        "smtp_port" => &t.chs_smtp_port,
        "smtp_security" => &t.chs_smtp_security,
        "smtp_username" => &t.chs_smtp_username,
        "smtp_password" => &t.chs_smtp_password,
        "smtp_timeout" => &t.chs_smtp_timeout,
        "corp_id" => &t.chs_corp_id,
        "secret" => &t.chs_secret,
        "token" => &t.chs_token,
        "encoding_aes_key" => &t.chs_encoding_aes_key,
        "open_kfid" => &t.chs_open_kfid,
        "app_id" => &t.chs_app_id,
        "app_secret" => &t.chs_app_secret,
        "verification_token" => &t.chs_verification_token,
        "encrypt_key" => &t.chs_encrypt_key,
        "app_key" => &t.chs_app_key,
        "robot_code" => &t.chs_robot_code,
        "base_url" => &t.chs_base_url,
        "channel" => &t.chs_channel,
        _ => return text.field_label(name).unwrap_or("—"),
    };
    label.as_str()
}

/// A refused form, shown again on its inbox with the values that were typed (never secrets).
#[derive(Debug)]
pub struct Refusal {
    pub inbox_id: i64,
    /// The refused input, when the problem is one input's.
    pub field: Option<String>,
    pub message: String,
    pub values: BTreeMap<String, String>,
}

/// One input as the template shows it.
#[derive(Debug)]
pub struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `email`, `number`, `url`, `password` or `security` (a select).
    pub kind: &'static str,
    /// Empty for a secret.
    pub value: String,
    pub required: bool,
    /// A secret: whether one is stored.
    pub secret_set: bool,
    pub invalid: bool,
}

/// An inbox's channel form.
#[derive(Debug)]
pub struct ChannelFormView {
    /// Whether settings are stored.
    pub configured: bool,
    pub fields: Vec<FieldView>,
    /// WeCom, WeChat, Feishu, DingTalk: where the platform sends callbacks.
    pub callback_url: Option<String>,
    /// E-mail: where mail arrives (the SMTP listener), or that it is off.
    pub smtp_hint: Option<String>,
    /// The refused form's problem.
    pub error: Option<String>,
}

/// A JSON value as an input's text.
fn as_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        _ => String::new(),
    }
}

/// The value at an input's place in the settings' JSON.
fn lookup<'a>(json: &'a Value, name: &str) -> Option<&'a Value> {
    let (group, key) = path(name);
    let object = json.as_object()?.values().next()?;
    let object = match group {
        Some(group) => object.get(group)?,
        None => object,
    };
    object.get(key)
}

/// What new settings start from: SMTP on 587 with STARTTLS, each platform's own API.
fn default_value(name: &str) -> &'static str {
    match name {
        "smtp_port" => "587",
        "smtp_security" => "starttls",
        "smtp_timeout" => "30",
        _ => "",
    }
}

fn default_base(channel: Channel) -> &'static str {
    match channel {
        Channel::Wecom => "https://qyapi.weixin.qq.com",
        Channel::Wechat => "https://api.weixin.qq.com",
        Channel::Feishu => "https://open.feishu.cn",
        Channel::Dingtalk => "https://api.dingtalk.com",
        _ => "",
    }
}

/// The form of `inbox` (none for web and API inboxes), from its stored settings or, shown
/// again, the refused form.
pub fn view(
    state: &AppState,
    text: &'static Text,
    inbox: &Inbox,
    stored: Option<ChannelSettings>,
    refusal: Option<&Refusal>,
) -> Option<ChannelFormView> {
    let specs = specs(inbox.channel);
    if specs.is_empty() {
        return None;
    }
    let configured = stored.is_some();
    // Secrets are read only as "set": the masked settings hold the mask or nothing.
    let json = stored.map(|settings| serde_json::to_value(settings.masked()).unwrap_or_default());
    let refusal = refusal.filter(|refusal| refusal.inbox_id == inbox.id.0);
    let fields = specs
        .iter()
        .map(|spec| {
            let kept = json.as_ref().and_then(|json| lookup(json, spec.name));
            let secret = spec.kind == Kind::Secret;
            let value = if secret {
                String::new()
            } else if let Some(refusal) = refusal {
                refusal.values.get(spec.name).cloned().unwrap_or_default()
            } else if json.is_some() {
                as_text(kept)
            } else if spec.name == "base_url" {
                default_base(inbox.channel).to_owned()
            } else {
                default_value(spec.name).to_owned()
            };
            FieldView {
                name: spec.name,
                label: label(text, spec.name),
                kind: match spec.kind {
                    Kind::Text => "text",
                    Kind::Email => "email",
                    Kind::Number => "number",
                    Kind::Url => "url",
                    Kind::Secret => "password",
                    Kind::Security => "security",
                },
                value,
                required: spec.required,
                secret_set: secret && kept.is_some_and(|value| !value.is_null()),
                invalid: refusal.and_then(|refusal| refusal.field.as_deref()) == Some(spec.name),
            }
        })
        .collect();
    let console = &**text;
    let callback_url = crate::channels::callback_url(state, inbox);
    let smtp_hint = (inbox.channel == Channel::Email).then(|| match state.smtp_address() {
        Some(address) => console.chs_smtp_listener.replace("{address}", &address.to_string()),
        None => console.chs_smtp_off.clone(),
    });
    Some(ChannelFormView {
        configured,
        fields,
        callback_url,
        smtp_hint,
        error: refusal.map(|refusal| refusal.message.clone()),
    })
}

/// The settings a posted form describes for `inbox` (before their secrets are kept), or the
/// input it refuses. Empty inputs are left out, so that secrets are kept and defaults apply.
pub fn parse(
    inbox: &Inbox,
    form: &BTreeMap<String, String>,
) -> Result<ChannelSettings, ValidationError> {
    let mut settings = Map::new();
    let mut smtp = Map::new();
    for spec in specs(inbox.channel) {
        let typed = form.get(spec.name).map(|value| value.trim()).unwrap_or_default();
        if typed.is_empty() {
            if spec.required {
                return Err(ValidationError::new(spec.name, Problem::Empty));
            }
            continue;
        }
        let value = match spec.kind {
            Kind::Number => match typed.parse::<u16>() {
                Ok(number) if number > 0 => Value::from(number),
                _ => {
                    let problem = Problem::NotAWholeNumber { value: typed.to_owned() };
                    return Err(ValidationError::new(spec.name, problem));
                }
            },
            Kind::Security => {
                let allowed = ["none", "starttls", "tls"];
                if !allowed.contains(&typed) {
                    return Err(ValidationError::new(
                        spec.name,
                        Problem::not_one_of(typed, &allowed),
                    ));
                }
                Value::from(typed)
            }
            _ => Value::from(typed),
        };
        match path(spec.name) {
            (Some(_), key) => smtp.insert(key.to_owned(), value),
            (None, key) => settings.insert(key.to_owned(), value),
        };
    }
    if inbox.channel == Channel::Email {
        settings.insert("smtp".to_owned(), Value::Object(smtp));
    }
    let json = Value::Object(Map::from_iter([(
        inbox.channel.as_str().to_owned(),
        Value::Object(settings),
    )]));
    serde_json::from_value(json).map_err(|_| {
        // Every input was checked above; the settings read whatever they allow.
        ValidationError::new("channel", Problem::Empty)
    })
}
