//! An inbox's channel settings: the credentials and options Tandem needs to receive and answer
//! on e-mail, WeCom customer service, a WeChat Official Account, Feishu or DingTalk. Admins
//! set them with `PUT /api/v1/inboxes/{id}/channel`; they are stored with the inbox and read
//! on every callback and reply, so a change takes effect at once on every node.
//!
//! Secrets (passwords, app secrets, AES keys) are never shown again: a read answers
//! [`MASK`] in their place, and a write that leaves one out (or sends the mask back) keeps
//! the stored one, so an admin can change a port without retyping the password.

use serde::{Deserialize, Serialize};
use tandem_channels::email::SmtpSettings;
use tandem_domain::{Channel, Inbox, Problem, ValidationError};

/// What a read shows in place of a secret.
pub const MASK: &str = "********";

/// One inbox's settings, by its channel: `{"email": {...}}`, `{"wecom": {...}}`...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelSettings {
    Email(EmailSettings),
    Wecom(WecomSettings),
    Wechat(WechatSettings),
    Feishu(FeishuSettings),
    Dingtalk(DingtalkSettings),
}

/// An e-mail inbox: the address customers write to, and the SMTP server replies leave by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The inbox's address (`support@shop.example`): mail to it (or to its `+tag` form, which
    /// replies carry to thread) reaches this inbox, and replies come from it.
    pub address: String,
    /// The name replies come from (`Shop support`); the inbox's bot name when unset.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The server replies are sent through.
    #[schema(value_type = Object)]
    pub smtp: SmtpSettings,
    /// Signs the thread tokens in replies' `Message-ID`, reply address and subject tag;
    /// generated when the settings are first saved, never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub thread_secret: Option<String>,
}

/// A WeCom customer-service account (微信客服): the app's callback settings ("接收消息"
/// Token and EncodingAESKey) and the secret of the customer-service app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WecomSettings {
    /// The company's id (`corpid`), which decrypted callbacks must name.
    pub corp_id: String,
    /// The customer-service app's secret (for `access_token`).
    #[serde(default)]
    pub secret: Option<String>,
    /// The callback's Token.
    #[serde(default)]
    pub token: Option<String>,
    /// The callback's EncodingAESKey (43 characters).
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
    /// The customer-service account (`open_kfid`) this inbox answers for.
    pub open_kfid: String,
    /// The API's address; WeCom's own by default. Point it elsewhere for a private
    /// deployment or a test double.
    #[serde(default = "wecom_base")]
    pub base_url: String,
}

/// A WeChat Official Account (公众号) in safe mode (encrypted messages) or plain mode (no
/// `encoding_aes_key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatSettings {
    pub app_id: String,
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The server configuration's Token.
    #[serde(default)]
    pub token: Option<String>,
    /// The server configuration's EncodingAESKey; unset for plain mode.
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
    #[serde(default = "wechat_base")]
    pub base_url: String,
}

/// A Feishu (Lark) app's bot, for an internal help desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeishuSettings {
    pub app_id: String,
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The event subscription's Verification Token.
    #[serde(default)]
    pub verification_token: Option<String>,
    /// The event subscription's Encrypt Key; unset when events are not encrypted.
    #[serde(default)]
    pub encrypt_key: Option<String>,
    /// `https://open.feishu.cn` by default; `https://open.larksuite.com` for Lark.
    #[serde(default = "feishu_base")]
    pub base_url: String,
}

/// A DingTalk app's robot receiving messages over HTTP, for an internal help desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DingtalkSettings {
    pub app_key: String,
    /// The app's secret: it signs callbacks and fetches the access token.
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The robot's code, for messages sent after a conversation's session webhook expired.
    pub robot_code: String,
    #[serde(default = "dingtalk_base")]
    pub base_url: String,
}

fn wecom_base() -> String {
    "https://qyapi.weixin.qq.com".to_owned()
}

fn wechat_base() -> String {
    "https://api.weixin.qq.com".to_owned()
}

fn feishu_base() -> String {
    "https://open.feishu.cn".to_owned()
}

fn dingtalk_base() -> String {
    "https://api.dingtalk.com".to_owned()
}

impl ChannelSettings {
    pub fn channel(&self) -> Channel {
        match self {
            ChannelSettings::Email(_) => Channel::Email,
            ChannelSettings::Wecom(_) => Channel::Wecom,
            ChannelSettings::Wechat(_) => Channel::Wechat,
            ChannelSettings::Feishu(_) => Channel::Feishu,
            ChannelSettings::Dingtalk(_) => Channel::Dingtalk,
        }
    }

    /// The settings' secrets, by field name.
    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut Option<String>)> {
        match self {
            ChannelSettings::Email(email) => vec![("smtp.password", &mut email.smtp.password)],
            ChannelSettings::Wecom(wecom) => vec![
                ("secret", &mut wecom.secret),
                ("token", &mut wecom.token),
                ("encoding_aes_key", &mut wecom.encoding_aes_key),
            ],
            ChannelSettings::Wechat(wechat) => vec![
                ("app_secret", &mut wechat.app_secret),
                ("token", &mut wechat.token),
                ("encoding_aes_key", &mut wechat.encoding_aes_key),
            ],
            ChannelSettings::Feishu(feishu) => vec![
                ("app_secret", &mut feishu.app_secret),
                ("verification_token", &mut feishu.verification_token),
                ("encrypt_key", &mut feishu.encrypt_key),
            ],
            ChannelSettings::Dingtalk(dingtalk) => vec![("app_secret", &mut dingtalk.app_secret)],
        }
    }

    /// The settings as a read shows them: each secret that is set is [`MASK`].
    pub fn masked(mut self) -> ChannelSettings {
        if let ChannelSettings::Email(email) = &mut self {
            email.thread_secret = None;
        }
        for (_, secret) in self.secrets_mut() {
            if secret.is_some() {
                *secret = Some(MASK.to_owned());
            }
        }
        self
    }

    /// Takes from `stored` each secret this write left out or sent back masked (an e-mail
    /// inbox's thread secret always), and makes the thread secret when there is none yet.
    pub fn keep_secrets(&mut self, stored: Option<&ChannelSettings>) {
        let mut stored = stored.cloned();
        if let (ChannelSettings::Email(email), Some(ChannelSettings::Email(old))) =
            (&mut *self, &stored)
        {
            email.thread_secret.clone_from(&old.thread_secret);
        }
        if let ChannelSettings::Email(email) = self
            && email.thread_secret.is_none()
        {
            email.thread_secret = Some(crate::auth::random_token());
        }
        let old: Vec<(&'static str, Option<String>)> = match stored.as_mut() {
            Some(stored) if stored.channel() == self.channel() => stored
                .secrets_mut()
                .into_iter()
                .map(|(name, value)| (name, value.clone()))
                .collect(),
            _ => Vec::new(),
        };
        for (name, secret) in self.secrets_mut() {
            let left_out = secret.as_deref().is_none_or(|value| value == MASK || value.is_empty());
            if left_out {
                *secret = old.iter().find(|(field, _)| *field == name).and_then(|(_, v)| v.clone());
            }
        }
    }

    /// Checks the settings for `inbox` (after [`ChannelSettings::keep_secrets`]): the
    /// inbox's channel, the secrets the channel cannot work without, addresses and URLs.
    pub fn check(&self, inbox: &Inbox) -> Result<(), ValidationError> {
        if self.channel() != inbox.channel {
            return Err(ValidationError::new(
                "channel",
                Problem::not_one_of(self.channel().as_str(), &[inbox.channel.as_str()]),
            ));
        }
        let required: &[&str] = match self {
            ChannelSettings::Email(_) => &[],
            ChannelSettings::Wecom(_) => &["secret", "token", "encoding_aes_key"],
            ChannelSettings::Wechat(_) => &["app_secret", "token"],
            ChannelSettings::Feishu(_) => &["app_secret", "verification_token"],
            ChannelSettings::Dingtalk(_) => &["app_secret"],
        };
        let mut settings = self.clone();
        for (name, secret) in settings.secrets_mut() {
            if required.contains(&name) && secret.as_deref().is_none_or(str::is_empty) {
                return Err(ValidationError::new(name, Problem::Empty));
            }
        }
        match self {
            ChannelSettings::Email(email) => {
                tandem_domain::validate::email(&email.address)
                    .map_err(|error| ValidationError { field: "address", ..error })?;
                if email.smtp.host.trim().is_empty() {
                    return Err(ValidationError::new("smtp.host", Problem::Empty));
                }
            }
            ChannelSettings::Wecom(wecom) => {
                check_key(wecom.encoding_aes_key.as_deref())?;
                check_base(&wecom.base_url)?;
                if wecom.open_kfid.trim().is_empty() {
                    return Err(ValidationError::new("open_kfid", Problem::Empty));
                }
            }
            ChannelSettings::Wechat(wechat) => {
                check_key(wechat.encoding_aes_key.as_deref())?;
                check_base(&wechat.base_url)?;
            }
            ChannelSettings::Feishu(feishu) => check_base(&feishu.base_url)?,
            ChannelSettings::Dingtalk(dingtalk) => check_base(&dingtalk.base_url)?,
        }
        Ok(())
    }
}

/// An EncodingAESKey is 43 characters of base64 (a 32-byte key without its `=`).
fn check_key(key: Option<&str>) -> Result<(), ValidationError> {
    match key {
        Some(key)
            if key.len() != 43
                || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') =>
        {
            Err(ValidationError::new("encoding_aes_key", Problem::Length { min: 43, max: 43 }))
        }
        _ => Ok(()),
    }
}

/// An API's address is checked as a webhook's URL is (http or https, a host, no
/// credentials); the outbound guard refuses private addresses when it is called.
fn check_base(url: &str) -> Result<(), ValidationError> {
    let url = tandem_domain::webhook_url(url)
        .map_err(|error| ValidationError { field: "base_url", ..error })?;
    if let Ok(parsed) = reqwest::Url::parse(&url)
        && let Err(refused) = tandem_llm::outbound::check_url(&parsed)
    {
        return Err(ValidationError::new(
            "base_url",
            Problem::UrlRefusedAddress { host: refused.host },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wecom() -> ChannelSettings {
        ChannelSettings::Wecom(WecomSettings {
            corp_id: "ww1".into(),
            secret: Some("s3cret".into()),
            token: Some("tok".into()),
            encoding_aes_key: Some("a".repeat(43)),
            open_kfid: "wkAAA".into(),
            base_url: wecom_base(),
        })
    }

    #[test]
    fn reads_mask_secrets_and_writes_keep_what_they_leave_out() {
        let stored = wecom();
        let ChannelSettings::Wecom(masked) = stored.clone().masked() else { unreachable!() };
        assert_eq!(masked.secret.as_deref(), Some(MASK));
        assert_eq!(masked.corp_id, "ww1");
        let mut write = ChannelSettings::Wecom(WecomSettings {
            secret: None,
            token: Some(MASK.into()),
            encoding_aes_key: Some("b".repeat(43)),
            ..masked
        });
        write.keep_secrets(Some(&stored));
        let ChannelSettings::Wecom(kept) = write else { unreachable!() };
        assert_eq!(kept.secret.as_deref(), Some("s3cret"));
        assert_eq!(kept.token.as_deref(), Some("tok"));
        assert_eq!(kept.encoding_aes_key, Some("b".repeat(43)), "a new secret replaces the old");
    }

    #[test]
    fn json_names_the_channel() {
        let json = serde_json::to_value(wecom()).unwrap();
        assert_eq!(json["wecom"]["open_kfid"], "wkAAA");
        let back: ChannelSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, wecom());
        let error = serde_json::from_value::<ChannelSettings>(serde_json::json!({"fax": {}}));
        assert!(error.is_err());
    }
}
