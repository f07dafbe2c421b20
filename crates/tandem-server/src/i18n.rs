//! The console's interface text, chosen by the agent's language setting: the `[console]` table
//! of the translation catalogue (tandem-locales), plus what is logic here: the labels of
//! states, roles and codes, and the sentences that carry numbers.

use std::ops::Deref;

use tandem_domain::{
    ArticleStatus, ConversationState, LlmUsage, Locale, Presence, Reason, Role, TurnOutcome,
};
use tandem_locales::{Catalogue, Console, fill, plural};

/// The console's text in one language. It dereferences to the catalogue's [`Console`], so
/// templates read its sentences as fields (`{{ t.inbox }}`) and call its methods for labels.
#[derive(Debug)]
pub struct Text {
    locale: Locale,
}

pub static ZH: Text = Text { locale: Locale::Zh };
pub static EN: Text = Text { locale: Locale::En };

impl Deref for Text {
    type Target = Console;

    fn deref(&self) -> &Console {
        &self.catalogue().console
    }
}

impl Text {
    pub fn for_locale(locale: Locale) -> &'static Text {
        match locale {
            Locale::Zh => &ZH,
            Locale::En => &EN,
        }
    }

    /// The whole catalogue of this language; it lives as long as the program, so labels taken
    /// from it are `'static` whatever the borrow of `self`.
    fn catalogue(&self) -> &'static Catalogue {
        Catalogue::for_locale(self.locale)
    }

    fn console(&self) -> &'static Console {
        &self.catalogue().console
    }

    pub fn state(&self, state: ConversationState) -> &'static str {
        let console = self.console();
        match state {
            ConversationState::Bot => &console.view_bot,
            ConversationState::Queued => &console.view_queued,
            ConversationState::Human => &console.view_human,
            ConversationState::Resolved => &console.view_resolved,
        }
    }

    /// A role as agents read it; the code itself if the catalogue had no label for it (its
    /// tests make sure it has one for every role).
    pub fn role(&self, role: Role) -> &'static str {
        self.catalogue().role(role.as_str()).unwrap_or(role.as_str())
    }

    pub fn article_status(&self, status: ArticleStatus) -> &'static str {
        let console = self.console();
        match status {
            ArticleStatus::Draft => &console.kb_status_draft,
            ArticleStatus::InReview => &console.kb_status_in_review,
            ArticleStatus::Published => &console.kb_status_published,
            ArticleStatus::Archived => &console.kb_status_archived,
        }
    }

    /// A hand-off reason as agents read it.
    pub fn reason(&self, reason: Reason) -> &'static str {
        self.catalogue().reason(reason)
    }

    /// An emotion the signal models read in a message.
    pub fn emotion(&self, code: &str) -> Option<&'static str> {
        self.catalogue().emotion(code)
    }

    /// What kind of detail a customer gave (`order_number`, `mobile`...).
    pub fn entity_kind(&self, kind: &str) -> Option<&'static str> {
        self.catalogue().entity(kind)
    }

    /// What the error page says for an error code: its own sentence, or the general "something
    /// went wrong" for a code the catalogue does not know, never the developer's English
    /// message.
    pub fn error_message(&self, code: &str) -> &'static str {
        self.catalogue().error(code).unwrap_or(&self.console().error)
    }

    /// What the bot did with a message (`None`: a reply without a decision record).
    pub fn bot_outcome(&self, outcome: Option<TurnOutcome>) -> &'static str {
        let console = self.console();
        match outcome {
            Some(TurnOutcome::Answer) => &console.kb_outcome_answer,
            Some(TurnOutcome::Clarify) => &console.kb_outcome_clarify,
            Some(TurnOutcome::Abstain) => &console.kb_outcome_abstain,
            Some(TurnOutcome::Acknowledge) => &console.kb_outcome_acknowledge,
            Some(TurnOutcome::Action) => &console.kb_outcome_action,
            Some(TurnOutcome::HandOff) => &console.handoff_outcome_hand_off,
            None => &console.reply,
        }
    }

    pub fn presence(&self, presence: Presence) -> &'static str {
        let console = self.console();
        match presence {
            Presence::Online => &console.presence_online,
            Presence::Away => &console.presence_away,
            Presence::Offline => &console.presence_offline,
        }
    }

    /// A customer's history with the workspace: "5 conversations, 2 with a person".
    pub fn conversation_history(&self, conversations: u32, with_people: u32) -> String {
        let sentence = plural(
            conversations.into(),
            &self.conversation_history_one,
            &self.conversation_history_other,
        );
        fill(sentence, &[("conversations", &conversations), ("with_people", &with_people)])
    }

    /// A problem on a line of an import.
    pub fn line_error(&self, line: usize, message: &str) -> String {
        fill(&self.console().line_error, &[("line", &line), ("message", &message)])
    }

    /// How many articles a filtered list shows.
    pub fn articles_shown(&self, shown: usize, total: usize) -> String {
        fill(&self.console().articles_shown, &[("shown", &shown), ("total", &total)])
    }

    /// A conversation's model usage in one line: "3 calls · 900+120 tokens · cost 0.0042".
    pub fn llm_usage_line(&self, usage: &LlmUsage) -> String {
        let sentence = plural(usage.calls, &self.llm_usage_line_one, &self.llm_usage_line_other);
        let cost = format!("{:.4}", usage.cost);
        fill(
            sentence,
            &[
                ("calls", &usage.calls),
                ("prompt_tokens", &usage.prompt_tokens),
                ("completion_tokens", &usage.completion_tokens),
                ("cost", &cost),
            ],
        )
    }

    /// How many articles an import saved.
    pub fn imported(&self, count: usize) -> String {
        let sentence = plural(count as u64, &self.imported_one, &self.imported_other);
        fill(sentence, &[("count", &count)])
    }
}

#[cfg(test)]
mod tests {
    use tandem_domain::{Locale, Role};

    use super::Text;
    use crate::error::ErrorCode;

    #[test]
    fn every_error_code_has_a_sentence_in_both_languages() {
        for &locale in Locale::ALL {
            let catalogue = tandem_locales::Catalogue::for_locale(locale);
            for code in ErrorCode::ALL {
                let code = code.as_str();
                assert!(catalogue.error(code).is_some(), "[errors] {code} in {locale:?}");
            }
            for listed in catalogue.error_codes() {
                let known = ErrorCode::ALL.iter().any(|code| code.as_str() == listed);
                assert!(known, "[errors] {listed} in {locale:?} is no error code");
            }
        }
        assert_eq!(
            Text::for_locale(Locale::Zh).error_message("conversation_not_found"),
            "找不到该对话"
        );
        assert_eq!(Text::for_locale(Locale::Zh).error_message("no_such_code"), "出错了");
    }

    #[test]
    fn every_role_has_a_label_in_both_languages() {
        for &locale in Locale::ALL {
            for &role in Role::ALL {
                let catalogue = tandem_locales::Catalogue::for_locale(locale);
                assert!(catalogue.role(role.as_str()).is_some(), "[roles] {role:?} in {locale:?}");
            }
        }
        assert_eq!(Text::for_locale(Locale::Zh).role(Role::Supervisor), "主管");
    }

    #[test]
    fn sentences_with_numbers_read_as_before() {
        let (zh, en) = (Text::for_locale(Locale::Zh), Text::for_locale(Locale::En));
        assert_eq!(zh.conversation_history(5, 2), "5 次，其中 2 次有人工参与");
        assert_eq!(en.conversation_history(1, 0), "1 conversation, 0 with a person");
        assert_eq!(en.conversation_history(5, 2), "5 conversations, 2 with a person");
        assert_eq!(zh.line_error(3, "bad"), "第 3 行：bad");
        assert_eq!(en.line_error(3, "bad"), "line 3: bad");
        assert_eq!(zh.articles_shown(2, 9), "2 / 9 篇文章");
        assert_eq!(en.articles_shown(2, 9), "2 of 9 articles");
        assert_eq!(zh.imported(1), "已导入 1 篇文章");
        assert_eq!(en.imported(1), "Imported 1 article");
        assert_eq!(en.imported(4), "Imported 4 articles");
        let usage = tandem_domain::LlmUsage {
            calls: 3,
            prompt_tokens: 900,
            completion_tokens: 120,
            cost: 0.0042,
            ..Default::default()
        };
        assert_eq!(zh.llm_usage_line(&usage), "3 次调用 · 900+120 tokens · 费用 0.0042");
        assert_eq!(en.llm_usage_line(&usage), "3 calls · 900+120 tokens · cost 0.0042");
        let one = tandem_domain::LlmUsage { calls: 1, ..usage };
        assert_eq!(en.llm_usage_line(&one), "1 call · 900+120 tokens · cost 0.0042");
    }
}
