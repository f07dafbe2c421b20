//! The article form as typed: what the edit page shows (the stored article, or a refused form
//! as it was sent) and what creating or saving an article reads.

use serde::Deserialize;
use tandem_domain::validate;
use tandem_domain::{Article, ArticleStatus, Channel, Problem, ValidationError};
use tandem_knowledge::formats::ArticleInput;

use crate::error::ApiError;

/// The form's fields as typed, so that a refused form comes back as it was sent.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ArticleForm {
    #[serde(default)]
    pub(super) key: String,
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) answer: String,
    /// One question per line.
    #[serde(default)]
    pub(super) questions: String,
    /// Separated by commas.
    #[serde(default)]
    pub(super) tags: String,
    /// `zh`, `en` or empty.
    #[serde(default)]
    pub(super) language: String,
    /// The button pressed: `draft`, `in_review` or `published`.
    #[serde(default)]
    pub(super) status: String,
    /// `2026-02-01T00:00+08:00`, or empty for none.
    #[serde(default)]
    pub(super) effective_from: String,
    #[serde(default)]
    pub(super) expires_at: String,
    /// Checked channel boxes ("on"); none checked means every channel.
    #[serde(default)]
    pub(super) channel_web: Option<String>,
    #[serde(default)]
    pub(super) channel_email: Option<String>,
    #[serde(default)]
    pub(super) channel_api: Option<String>,
    #[serde(default)]
    pub(super) channel_wecom: Option<String>,
    #[serde(default)]
    pub(super) channel_wechat: Option<String>,
    #[serde(default)]
    pub(super) channel_feishu: Option<String>,
    #[serde(default)]
    pub(super) channel_dingtalk: Option<String>,
}

impl ArticleForm {
    pub(super) fn from_article(article: &Article) -> ArticleForm {
        let checked = |channel| article.channels.contains(&channel).then(|| "on".to_owned());
        ArticleForm {
            key: article.key.clone(),
            title: article.title.clone(),
            answer: article.answer.clone(),
            questions: article.questions.join("\n"),
            tags: article.tags.join(", "),
            language: article.language.map(|locale| locale.as_str().to_owned()).unwrap_or_default(),
            effective_from: article
                .effective_from
                .map(validate::format_timestamp)
                .unwrap_or_default(),
            expires_at: article.expires_at.map(validate::format_timestamp).unwrap_or_default(),
            channel_web: checked(Channel::Web),
            channel_email: checked(Channel::Email),
            channel_api: checked(Channel::Api),
            channel_wecom: checked(Channel::Wecom),
            channel_wechat: checked(Channel::Wechat),
            channel_feishu: checked(Channel::Feishu),
            channel_dingtalk: checked(Channel::Dingtalk),
            ..ArticleForm::default()
        }
    }

    /// Whether the box for `channel` is checked.
    pub(super) fn has_channel(&self, channel: Channel) -> bool {
        match channel {
            Channel::Web => self.channel_web.is_some(),
            Channel::Email => self.channel_email.is_some(),
            Channel::Api => self.channel_api.is_some(),
            Channel::Wecom => self.channel_wecom.is_some(),
            Channel::Wechat => self.channel_wechat.is_some(),
            Channel::Feishu => self.channel_feishu.is_some(),
            Channel::Dingtalk => self.channel_dingtalk.is_some(),
        }
    }

    pub(super) fn input(&self, key: &str) -> ArticleInput {
        ArticleInput {
            id: key.to_owned(),
            title: self.title.clone(),
            questions: self
                .questions
                .lines()
                .map(str::trim)
                .filter(|question| !question.is_empty())
                .map(str::to_owned)
                .collect(),
            answer: self.answer.clone(),
            lang: Some(self.language.clone()).filter(|lang| !lang.is_empty()),
            tags: self.tags.split([',', '，']).map(str::to_owned).collect(),
            effective_from: Some(self.effective_from.clone()),
            expires_at: Some(self.expires_at.clone()),
            channels: Channel::ALL
                .iter()
                .filter(|channel| self.has_channel(**channel))
                .map(|channel| channel.as_str().to_owned())
                .collect(),
        }
    }

    /// The status the pressed button asks for.
    pub(super) fn saved_status(&self) -> Result<ArticleStatus, ApiError> {
        match ArticleStatus::parse(&self.status) {
            Some(status) if status != ArticleStatus::Archived => Ok(status),
            _ => {
                let problem =
                    Problem::not_one_of(self.status.as_str(), &["draft", "in_review", "published"]);
                Err(ApiError::Invalid(ValidationError::new("status", problem)))
            }
        }
    }
}
