//! The console's interface text, chosen by the agent's language setting: the `[console]` table
//! of the translation catalogue (tandem-locales), plus what is logic here: the labels of
//! states, roles and codes, the sentences that carry numbers, and refused values (a
//! [`ValidationError`], an import's or an action's problem, any [`ApiError`]) worded for the
//! agent, never the API's English.

use std::ops::Deref;

use tandem_bot::actions::ActionError;
use tandem_domain::{
    ArticleStatus, ConversationState, LlmUsage, Locale, Millis, Presence, Problem, Reason, Role,
    TurnOutcome, ValidationError,
};
use tandem_flow::assist::{AlertCode, SlaStanding};
use tandem_knowledge::formats::ImportError;
use tandem_locales::{Catalogue, Console, fill, plural};

use crate::error::ApiError;

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

    /// The label of a kind of actor in the audit log.
    pub fn audit_kind(&self, kind: tandem_store::AuditActorKind) -> &'static str {
        let console = self.console();
        match kind {
            tandem_store::AuditActorKind::User => &console.audit_kind_user,
            tandem_store::AuditActorKind::Token => &console.audit_kind_token,
            tandem_store::AuditActorKind::Bot => &console.audit_kind_bot,
            tandem_store::AuditActorKind::Model => &console.audit_kind_model,
            tandem_store::AuditActorKind::System => &console.audit_kind_system,
        }
    }

    /// An assist alert's label and the sentence saying why it was raised.
    pub fn alert(&self, code: AlertCode) -> (&'static str, &'static str) {
        let console = self.console();
        match code {
            AlertCode::AngerRising => {
                (&console.assist_alert_anger_rising, &console.assist_alert_anger_rising_why)
            }
            AlertCode::LegalThreat => {
                (&console.assist_alert_legal_threat, &console.assist_alert_legal_threat_why)
            }
            AlertCode::RegulatedTopic => {
                (&console.assist_alert_regulated_topic, &console.assist_alert_regulated_topic_why)
            }
            AlertCode::PersonalData => {
                (&console.assist_alert_personal_data, &console.assist_alert_personal_data_why)
            }
            AlertCode::VipWaiting => {
                (&console.assist_alert_vip_waiting, &console.assist_alert_vip_waiting_why)
            }
            AlertCode::SlaBreachSoon => {
                (&console.assist_alert_sla_breach_soon, &console.assist_alert_sla_breach_soon_why)
            }
        }
    }

    /// Why the SLA alert was raised, with how long until (rounded up, so "less than" holds) or
    /// since (whole minutes) the queue's first-reply target.
    pub fn sla_why(&self, standing: SlaStanding) -> String {
        const MINUTE: Millis = 60_000;
        let console = self.console();
        match standing {
            SlaStanding::DueIn(left) => fill(
                &console.assist_alert_sla_breach_soon_why,
                &[("minutes", &(left / MINUTE + 1))],
            ),
            SlaStanding::BreachedFor(over) if over < MINUTE => {
                console.assist_alert_sla_breached_now_why.clone()
            }
            SlaStanding::BreachedFor(over) => {
                fill(&console.assist_alert_sla_breached_why, &[("minutes", &(over / MINUTE))])
            }
        }
    }

    /// How a conversation's suggestions were used, in one line.
    pub fn acceptance_line(&self, acceptance: &crate::api::assist::Acceptance) -> String {
        fill(
            &self.console().assist_acceptance_line,
            &[
                ("shown", &acceptance.shown),
                ("inserted", &acceptance.inserted),
                ("unchanged", &acceptance.sent_unchanged),
                ("edited", &acceptance.sent_edited),
                ("ignored", &acceptance.ignored),
            ],
        )
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

    /// Why a value was refused, without the field (for a message next to its input).
    pub fn problem(&self, problem: &Problem) -> String {
        self.catalogue().problem(problem)
    }

    /// `problem` about `field` (a label, a queue's or an agent's name, an action's key and
    /// part): "标题：不能为空".
    pub fn about(&self, field: &str, problem: &str) -> String {
        fill(&self.console().field_problem, &[("field", &field), ("problem", &problem)])
    }

    /// A refused value with the label of its field, as the forms name it: "标题：不能为空".
    pub fn invalid(&self, error: &ValidationError) -> String {
        let field = self.field_label(error.field).unwrap_or(error.field);
        self.about(field, &self.problem(&error.problem))
    }

    /// What a person reads for an error a form's action answered: a refused value with its
    /// field, anything else by its code (as the error page says it).
    pub fn api_error(&self, error: &ApiError) -> String {
        match error {
            ApiError::Invalid(error) => self.invalid(error),
            other => self.error_message(other.code().as_str()).to_owned(),
        }
    }

    /// A problem of an import, on its line: "第 3 行：答案：不能为空".
    pub fn import_error(&self, error: &ImportError) -> String {
        let message = match error.field {
            Some(field) => self.invalid(&ValidationError::new(field, error.problem.clone())),
            None => self.problem(&error.problem),
        };
        self.line_error(error.line, &message)
    }

    /// A problem of pasted actions: "order-status：steps[0].url：须以 http:// 或 https:// 开头";
    /// a problem of the whole text (it does not read) is only the problem: "第 3 行无法识别…".
    pub fn action_error(&self, error: &ActionError) -> String {
        let problem = self.problem(&error.problem);
        if error.action.is_empty() {
            return problem;
        }
        let field = self.field_label(&error.field).unwrap_or(&error.field);
        self.about(&error.action, &self.about(field, &problem))
    }

    /// The label the console's forms give a field, by the name the domain and the API give it;
    /// `None` for names no form shows (an action's `steps[0].url` is shown as written).
    pub fn field_label(&self, field: &str) -> Option<&'static str> {
        let console = self.console();
        let label = match field {
            "body" => &console.reply,
            "id" | "key" => &console.kb_key,
            "title" => &console.kb_title,
            "answer" => &console.kb_answer,
            "questions" => &console.kb_questions,
            "lang" | "language" | "locale" => &console.language,
            "effective_from" => &console.kb_effective_from,
            "expires_at" => &console.kb_expires_at,
            "channels" => &console.kb_channels,
            "threshold" => &console.kb_threshold,
            "dictionary" => &console.kb_dictionary,
            "hand_off_on" => &console.esc_hand_off_on,
            "approve_on" => &console.esc_approve_on,
            "abstains_in_a_row" => &console.esc_abstains,
            "repeats" => &console.esc_repeats,
            "didnt_help" => &console.esc_didnt_help,
            "anger_turns" => &console.esc_anger_turns,
            "negative_sentiment" => &console.esc_negative,
            "vip_tiers" => &console.esc_vip,
            "skills" => &console.routing_skills,
            "capacity" => &console.routing_capacity,
            "name" => &console.act_name,
            "description" => &console.queue_description,
            "topics" => &console.queue_topics,
            "topic" => &console.wrapup_topic,
            "sla_ms" | "sla_minutes" => &console.queue_sla,
            "offer_timeout_ms" | "offer_timeout_minutes" => &console.queue_offer_timeout,
            "widen_after_ms" | "widen_after_minutes" => &console.queue_widen,
            "hours" => &console.queue_hours,
            "time_zone" => &console.queue_time_zone,
            "url" => &console.wh_url,
            "events" => &console.wh_events,
            "email" => &console.email,
            "display_name" => &console.name,
            "password" => &console.password,
            "role" => &console.role,
            "status" => &console.status,
            "format" => &console.kb_format,
            "triggers" => &console.act_triggers,
            "base_url" => &console.llm_base_url,
            "model" => &console.llm_model,
            "api_key_env" => &console.llm_api_key_env,
            "timeout_ms" => &console.llm_timeout,
            "total_timeout_ms" => &console.llm_total_timeout,
            "max_tokens" => &console.llm_max_tokens,
            "temperature" => &console.llm_temperature,
            "max_retries" => &console.llm_max_retries,
            "input_price_per_1k" => &console.llm_input_price,
            "output_price_per_1k" => &console.llm_output_price,
            "breaker_failures" => &console.llm_breaker_failures,
            "breaker_cooldown_ms" => &console.llm_breaker_cooldown,
            _ => return None,
        };
        Some(label)
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
    fn refused_values_are_worded_with_their_fields_label() {
        use tandem_bot::actions::ActionError;
        use tandem_domain::{Problem, ValidationError};
        use tandem_knowledge::formats::ImportError;

        let (zh, en) = (Text::for_locale(Locale::Zh), Text::for_locale(Locale::En));
        let untitled = ValidationError::new("title", Problem::Empty);
        assert_eq!(zh.invalid(&untitled), "标题：不能为空");
        assert_eq!(en.invalid(&untitled), "Title: must not be empty");
        let hours = ValidationError::new("hours", Problem::NotWeekdays { days: "funday".into() });
        assert!(
            zh.invalid(&hours).starts_with("营业时间：“funday”不是星期"),
            "{}",
            zh.invalid(&hours)
        );
        // A field no form shows keeps its name.
        let unknown = ValidationError::new("client_msg_id", Problem::Empty);
        assert_eq!(zh.invalid(&unknown), "client_msg_id：不能为空");
        // Next to its input, the problem alone.
        assert_eq!(zh.problem(&Problem::out_of_range(100, 120_000)), "须在 100 到 120000 之间");

        let line = |field, problem| ImportError { file: "pasted".into(), line: 3, field, problem };
        assert_eq!(
            zh.import_error(&line(Some("answer"), Problem::Empty)),
            "第 3 行：答案：不能为空"
        );
        let unreadable = Problem::Unreadable { detail: "expected value at line 3".into() };
        assert_eq!(zh.import_error(&line(None, unreadable)), "第 3 行：无法识别，请检查格式");

        let problem = |action: &str, field: &str, problem| ActionError {
            action: action.into(),
            field: field.into(),
            problem,
        };
        assert_eq!(
            zh.action_error(&problem("top-up", "triggers", Problem::Count { min: 1, max: 200 })),
            "top-up：触发语句：须有 1 到 200 项"
        );
        assert_eq!(
            zh.action_error(&problem("top-up", "steps[0].url", Problem::UrlScheme)),
            "top-up：steps[0].url：须以 http:// 或 https:// 开头"
        );
        let garbled = Problem::UnreadableLine { line: 2, detail: "expected `=`".into() };
        assert_eq!(zh.action_error(&problem("", "file", garbled)), "第 2 行无法识别，请检查格式");

        // Other errors read as the error page says them.
        let invalid = crate::error::ApiError::Invalid(untitled);
        assert_eq!(zh.api_error(&invalid), "标题：不能为空");
        assert_eq!(zh.api_error(&crate::error::ApiError::Unauthorized), "请先登录");
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
