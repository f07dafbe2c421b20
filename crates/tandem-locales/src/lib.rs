//! Tandem's one translation catalogue: every sentence the agent console, the bot and the chat
//! widget show, in Chinese (`locales/zh.toml`) and English (`locales/en.toml`), compiled into
//! the binary.
//!
//! Each file has a table per area. `[console]`, `[phrases]` and `[widget]` deserialize into
//! structs that deny unknown keys and have no defaults, so a key missing from one language, or
//! left over in it, fails to load; the keyed tables (`[reasons]`, `[emotions]`, `[entities]`,
//! `[roles]`, `[errors]`, `[validation]`) are looked up by a code and answer `None` for a code
//! they lack. `[validation]` words the domain's [`Problem`]s: the console shows it in the
//! agent's language and the JSON API in English, so its English is the only English there is
//! of a refused value. The
//! files are fixed at compile time, so the tests (which load both, compare their keys and their
//! `{placeholders}`) are what keeps a broken catalogue from ever reaching a customer's request.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use tandem_domain::{Channel, Locale, Problem, Reason};

/// The Chinese catalogue as written.
pub const ZH_SOURCE: &str = include_str!("../locales/zh.toml");
/// The English catalogue as written.
pub const EN_SOURCE: &str = include_str!("../locales/en.toml");

static ZH: LazyLock<Catalogue> = LazyLock::new(|| load(Locale::Zh));
static EN: LazyLock<Catalogue> = LazyLock::new(|| load(Locale::En));

/// Loads a compiled-in catalogue. The tests load both files, so this cannot fail in a build
/// whose tests pass; if it does anyway, it says which file and where.
fn load(locale: Locale) -> Catalogue {
    Catalogue::parse(source(locale)).unwrap_or_else(|error| {
        panic!(
            "locales/{}.toml does not load (run the tandem-locales tests): {error}",
            locale.as_str()
        )
    })
}

/// The text of a language's catalogue file.
pub fn source(locale: Locale) -> &'static str {
    match locale {
        Locale::Zh => ZH_SOURCE,
        Locale::En => EN_SOURCE,
    }
}

/// A refused value's problem in English, for developers (the API's `message`, the command
/// line): the catalogue's sentence, then what a parser said about it (a serde or TOML
/// message), if anything.
pub fn english(problem: &Problem) -> String {
    let sentence = Catalogue::for_locale(Locale::En).problem(problem);
    match problem.detail() {
        Some(detail) => format!("{sentence}: {detail}"),
        None => sentence,
    }
}

/// [`english`] about a field, when one is named: `title: must not be empty`.
pub fn english_about(field: Option<&str>, problem: &Problem) -> String {
    match field {
        Some(field) => format!("{field}: {}", english(problem)),
        None => english(problem),
    }
}

/// Everything Tandem says in one language.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub console: Console,
    pub phrases: Phrases,
    pub widget: Widget,
    /// Hand-off reason labels by reason code (`complaint`, `vip`...).
    reasons: BTreeMap<String, String>,
    /// Emotion labels by the signal models' emotion code (`anger`, `joy`...).
    emotions: BTreeMap<String, String>,
    /// Labels of the kinds of detail a customer gave (`order_number`, `mobile`...).
    entities: BTreeMap<String, String>,
    /// Role labels by role code (`admin`, `supervisor`, `agent`).
    roles: BTreeMap<String, String>,
    /// What the console's error page says, by error code (`conversation_not_found`, `email_taken`...).
    errors: BTreeMap<String, String>,
    /// Why a value was refused, by problem code (`too_long`...), with the problem's parameters
    /// as `{placeholders}`.
    validation: BTreeMap<String, String>,
}

impl Catalogue {
    /// The catalogue of a language, loaded on first use.
    pub fn for_locale(locale: Locale) -> &'static Catalogue {
        match locale {
            Locale::Zh => &ZH,
            Locale::En => &EN,
        }
    }

    /// Reads a catalogue file; an unknown, missing or mistyped key is an error.
    pub fn parse(source: &str) -> Result<Catalogue, toml::de::Error> {
        toml::from_str(source)
    }

    /// A hand-off reason as agents read it (the tests check every reason has a label).
    pub fn reason(&self, reason: Reason) -> &str {
        self.reasons.get(reason.as_str()).map_or(reason.as_str(), String::as_str)
    }

    /// The codes `[reasons]` has a label for.
    pub fn reason_codes(&self) -> impl Iterator<Item = &str> {
        self.reasons.keys().map(String::as_str)
    }

    /// An emotion the signal models read in a message.
    pub fn emotion(&self, code: &str) -> Option<&str> {
        self.emotions.get(code).map(String::as_str)
    }

    /// What kind of detail a customer gave (`order_number`, `mobile`...).
    pub fn entity(&self, kind: &str) -> Option<&str> {
        self.entities.get(kind).map(String::as_str)
    }

    /// A role by its code (`admin`, `supervisor`, `agent`).
    pub fn role(&self, code: &str) -> Option<&str> {
        self.roles.get(code).map(String::as_str)
    }

    /// What an error with this code means, for an agent on the console's error page.
    pub fn error(&self, code: &str) -> Option<&str> {
        self.errors.get(code).map(String::as_str)
    }

    /// The codes `[errors]` has a sentence for.
    pub fn error_codes(&self) -> impl Iterator<Item = &str> {
        self.errors.keys().map(String::as_str)
    }

    /// Why a value was refused, in this language: the problem's `[validation]` sentence with
    /// its parameters filled in, a reason code (`{reason}`) read as the reason's label. Without
    /// a sentence (the tests make sure every problem has one), the problem's code and
    /// parameters.
    pub fn problem(&self, problem: &Problem) -> String {
        let Some(sentence) = self.validation.get(problem.code()) else {
            return problem.to_string();
        };
        let params: Vec<(&str, String)> = problem
            .params()
            .into_iter()
            .map(|(name, value)| match Reason::parse(&value).filter(|_| name == "reason") {
                Some(reason) => (name, self.reason(reason).to_owned()),
                None => (name, value),
            })
            .collect();
        let values: Vec<(&str, &dyn Display)> =
            params.iter().map(|(name, value)| (*name, value as &dyn Display)).collect();
        fill(sentence, &values)
    }

    /// The problem codes `[validation]` has a sentence for, with the sentence.
    pub fn validation_sentences(&self) -> impl Iterator<Item = (&str, &str)> {
        self.validation.iter().map(|(code, sentence)| (code.as_str(), sentence.as_str()))
    }
}

/// Every sentence of the agent console. Templates read these through the server's `Text`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// The `lang` attribute of the console's pages (`zh-CN`, `en`).
    pub lang: String,
    pub product_tagline: String,
    pub sign_in: String,
    pub sign_out: String,
    pub privacy_title: String,
    pub privacy_intro: String,
    pub privacy_retention_days: String,
    pub privacy_retention_note: String,
    pub privacy_save: String,
    pub privacy_saved: String,
    pub privacy_erased: String,
    pub privacy_records: String,
    pub privacy_records_none: String,
    pub privacy_at: String,
    pub privacy_kind: String,
    pub privacy_kind_customer: String,
    pub privacy_kind_retention: String,
    pub privacy_customer: String,
    pub privacy_by: String,
    pub privacy_conversations: String,
    pub privacy_rows: String,
    pub privacy_customer_data: String,
    pub privacy_export: String,
    pub privacy_erase: String,
    pub privacy_erase_confirm: String,
    pub privacy_erase_unconfirmed: String,
    pub customer_merge_title: String,
    pub customer_merge_into: String,
    pub customer_merge: String,
    /// Undoing the latest merge into this customer: `{merged}` is the merged customer's id.
    pub customer_merge_undo: String,
    pub alerts_title: String,
    pub alerts_intro: String,
    /// A spike alert in the supervisors' banner: `{label}`, `{count}`, `{expected}`.
    pub alerts_banner: String,
    pub alerts_banner_link: String,
    pub alerts_none: String,
    pub alerts_words: String,
    pub alerts_first_day: String,
    pub alerts_days: String,
    pub alerts_count: String,
    pub alerts_expected: String,
    pub alerts_score: String,
    pub alerts_raised_at: String,
    pub alerts_sample: String,
    /// After the conversations an alert lists: `{count}` not listed.
    pub alerts_more: String,
    pub alerts_dismiss: String,
    pub alerts_dismissed: String,
    pub audit_title: String,
    pub audit_intro: String,
    pub audit_none: String,
    pub audit_at: String,
    pub audit_kind: String,
    pub audit_any_kind: String,
    pub audit_kind_user: String,
    pub audit_kind_token: String,
    pub audit_kind_bot: String,
    pub audit_kind_model: String,
    pub audit_kind_system: String,
    pub audit_actor: String,
    pub audit_action: String,
    pub audit_target: String,
    pub audit_detail: String,
    pub audit_ip: String,
    pub audit_text: String,
    pub audit_from: String,
    pub audit_to: String,
    pub audit_apply: String,
    pub audit_export: String,
    pub audit_next: String,
    pub email: String,
    pub password: String,
    pub wrong_credentials: String,
    pub too_many_attempts: String,
    pub inbox: String,
    pub admin_agents: String,
    pub settings: String,
    pub view_mine: String,
    pub view_queued: String,
    pub view_bot: String,
    pub view_human: String,
    pub view_resolved: String,
    pub view_all: String,
    pub no_conversations: String,
    pub inbox_channels: String,
    pub inbox_all_channels: String,
    pub channel: String,
    pub live: String,
    pub reconnecting: String,
    pub customer: String,
    pub assignee: String,
    pub unassigned: String,
    pub assign_to_me: String,
    pub assign_to: String,
    pub release: String,
    pub hand_back: String,
    pub resolve: String,
    pub reopen: String,
    pub reply: String,
    pub note: String,
    pub send: String,
    pub reply_placeholder: String,
    pub note_placeholder: String,
    pub resolved_hint: String,
    pub internal_note: String,
    pub attributes: String,
    pub language: String,
    pub past_conversations: String,
    pub customer_since: String,
    pub phone: String,
    pub identities: String,
    pub files: String,
    pub whole_message: String,
    pub email_customer: String,
    pub email_customer_to: String,
    pub email_subject: String,
    pub email_send: String,
    pub back_to_inbox: String,
    pub name: String,
    pub role: String,
    pub status: String,
    pub active: String,
    pub inactive: String,
    pub create_agent: String,
    pub create: String,
    pub save: String,
    pub deactivate: String,
    pub activate: String,
    pub new_password: String,
    pub reset_password: String,
    pub saved: String,
    pub api_tokens: String,
    pub token_name: String,
    pub create_token: String,
    pub token_created: String,
    pub token_scope: String,
    pub token_scope_read_only: String,
    pub token_scope_agent: String,
    pub token_scope_admin: String,
    pub token_expires_in_days: String,
    pub token_owner: String,
    pub token_created_at: String,
    pub token_expires: String,
    pub token_last_used: String,
    pub token_never: String,
    pub token_status_active: String,
    pub token_status_expired: String,
    pub token_status_revoked: String,
    pub token_revoke: String,
    pub token_revoked_notice: String,
    pub no_tokens: String,
    pub revoke_tokens_with_password: String,
    pub password_change_hint: String,
    pub profile: String,
    /// What the error page says when its error has no text of its own in `[errors]`.
    pub error: String,
    pub you: String,
    pub knowledge: String,
    pub kb_new_article: String,
    pub kb_import: String,
    pub kb_export_jsonl: String,
    pub kb_export_csv: String,
    pub kb_search_placeholder: String,
    pub kb_search: String,
    pub kb_all_statuses: String,
    pub kb_status_draft: String,
    pub kb_status_in_review: String,
    pub kb_status_published: String,
    pub kb_status_archived: String,
    pub kb_title: String,
    pub kb_key: String,
    pub kb_key_hint: String,
    pub kb_version: String,
    pub kb_questions: String,
    pub kb_questions_hint: String,
    pub kb_tags: String,
    pub kb_tags_hint: String,
    pub kb_answer: String,
    pub kb_updated: String,
    pub kb_no_articles: String,
    pub kb_language_any: String,
    pub kb_save_draft: String,
    pub kb_submit_review: String,
    pub kb_publish: String,
    pub kb_archive: String,
    pub kb_history: String,
    pub kb_no_versions: String,
    pub kb_published_at: String,
    pub kb_author: String,
    pub kb_live: String,
    pub kb_effective_from: String,
    pub kb_expires_at: String,
    pub kb_window_hint: String,
    pub kb_channels: String,
    pub kb_channels_hint: String,
    pub kb_any_channel: String,
    pub kb_settings: String,
    pub kb_threshold_hint: String,
    pub kb_suggestions: String,
    pub kb_suggestions_intro: String,
    pub kb_suggestions_effect: String,
    pub kb_variants: String,
    pub kb_variants_none: String,
    pub kb_gaps: String,
    pub kb_gaps_none: String,
    pub kb_suggestion_article: String,
    pub kb_suggestion_wording: String,
    pub kb_suggestion_evidence: String,
    pub kb_gap_answer: String,
    pub kb_gap_create: String,
    pub kb_accept_selected: String,
    pub kb_reject_selected: String,
    pub kb_suggestions_accepted: String,
    pub kb_suggestions_rejected: String,
    pub kb_suggestions_none_picked: String,
    pub kb_learnt: String,
    pub kb_learnt_none: String,
    pub kb_own_threshold: String,
    pub kb_dictionary: String,
    pub kb_dictionary_hint: String,
    pub channel_web: String,
    pub channel_email: String,
    pub channel_api: String,
    pub channel_wecom: String,
    pub channel_wechat: String,
    pub channel_feishu: String,
    pub channel_dingtalk: String,
    pub kb_not_saved: String,
    pub kb_key_taken: String,
    pub kb_back: String,
    pub kb_read_only: String,
    pub kb_import_title: String,
    pub kb_import_hint: String,
    pub kb_content: String,
    pub kb_format: String,
    pub kb_publish_now: String,
    pub kb_import_failed: String,
    pub kb_test: String,
    pub kb_test_placeholder: String,
    pub kb_test_button: String,
    pub kb_test_hint: String,
    pub kb_outcome: String,
    pub kb_outcome_answer: String,
    pub kb_outcome_clarify: String,
    pub kb_outcome_abstain: String,
    pub kb_outcome_acknowledge: String,
    pub kb_outcome_action: String,
    pub kb_threshold: String,
    pub decision_record: String,
    pub replay: String,
    pub kb_candidates: String,
    pub kb_score: String,
    pub kb_retrieval: String,
    pub kb_intent: String,
    pub kb_customer_gets: String,
    pub kb_no_candidates: String,
    pub handoff_title: String,
    pub handoff_outcome_hand_off: String,
    pub handoff_outcome_draft: String,
    pub handoff_summary: String,
    pub handoff_model_summary: String,
    /// Before the key of the action the model chose.
    pub llm_chose_action: String,
    pub llm_chose_article: String,
    pub handoff_emotions: String,
    pub handoff_intents: String,
    pub handoff_bot_replies: String,
    pub handoff_source: String,
    pub handoff_entities: String,
    pub handoff_tier: String,
    pub handoff_value: String,
    pub handoff_conversations: String,
    pub handoff_previous_agent: String,
    pub handoff_skills: String,
    pub handoff_priority: String,
    pub handoff_queue: String,
    pub handoff_draft: String,
    pub handoff_parts: String,
    pub handoff_part_left: String,
    pub handoff_part_answered: String,
    pub handoff_draft_hint: String,
    pub handoff_draft_answered: String,
    pub handoff_approve: String,
    pub handoff_none: String,
    pub escalation: String,
    pub esc_lead: String,
    pub esc_signals: String,
    pub esc_signals_hint: String,
    pub esc_signal: String,
    pub esc_hand_off_on: String,
    pub esc_approve_on: String,
    pub esc_rules: String,
    pub esc_abstains: String,
    pub esc_abstains_hint: String,
    pub esc_repeats: String,
    pub esc_repeats_hint: String,
    pub esc_didnt_help: String,
    pub esc_didnt_help_hint: String,
    pub esc_anger_turns: String,
    pub esc_anger_turns_hint: String,
    pub esc_negative: String,
    pub esc_negative_hint: String,
    pub esc_vip: String,
    pub esc_vip_hint: String,
    pub desk: String,
    pub desk_my_presence: String,
    pub presence_online: String,
    pub presence_away: String,
    pub presence_offline: String,
    pub desk_queues: String,
    pub desk_queue: String,
    pub desk_default_queue: String,
    pub desk_waiting: String,
    pub desk_offered: String,
    pub desk_with_people: String,
    pub desk_longest_wait: String,
    pub desk_sla_risk: String,
    pub desk_breached: String,
    pub desk_closed: String,
    pub desk_agents: String,
    pub desk_agent: String,
    pub desk_presence: String,
    pub desk_load: String,
    pub desk_skills: String,
    pub desk_conversations: String,
    pub desk_customer_said: String,
    pub desk_state: String,
    pub desk_since: String,
    pub desk_reroute: String,
    pub desk_ticket: String,
    pub action_outcome: String,
    pub customer_verified: String,
    pub llm_record: String,
    pub llm_unsupported: String,
    pub llm_attempts: String,
    pub managers_only: String,
    pub routing: String,
    pub routing_lead: String,
    pub routing_agents: String,
    pub routing_skills: String,
    pub routing_skills_hint: String,
    pub routing_capacity: String,
    pub routing_capacity_hint: String,
    pub routing_presence: String,
    pub routing_queues: String,
    pub routing_no_queues: String,
    pub queue_name: String,
    pub queue_description: String,
    pub queue_skills: String,
    pub queue_skills_hint: String,
    pub queue_topics: String,
    pub queue_topics_hint: String,
    pub queue_sla: String,
    pub queue_offer_timeout: String,
    pub queue_offer_timeout_hint: String,
    pub queue_widen: String,
    pub queue_widen_hint: String,
    pub queue_hours: String,
    pub queue_hours_hint: String,
    pub queue_time_zone: String,
    pub queue_time_zone_hint: String,
    pub webhooks: String,
    pub wh_lead: String,
    pub wh_url: String,
    pub wh_url_hint: String,
    pub wh_description: String,
    pub wh_events: String,
    pub wh_event_handed_off: String,
    pub wh_event_assigned: String,
    pub wh_event_resolved: String,
    pub wh_event_message: String,
    pub wh_event_test: String,
    pub wh_event_insight_alert: String,
    pub wh_create: String,
    pub wh_secret_created: String,
    pub wh_signing_hint: String,
    pub wh_none: String,
    pub wh_enabled: String,
    pub wh_disabled: String,
    pub wh_enable: String,
    pub wh_disable: String,
    pub wh_delete: String,
    pub wh_send_test: String,
    pub wh_test_queued: String,
    pub wh_saved: String,
    pub wh_deleted: String,
    pub wh_deliveries: String,
    pub wh_no_deliveries: String,
    pub wh_time: String,
    pub wh_event: String,
    pub wh_response: String,
    pub wh_attempts: String,
    pub wh_next_retry: String,
    pub wh_error: String,
    pub wh_status_pending: String,
    pub wh_status_delivered: String,
    pub wh_status_failed: String,
    pub identity_verification: String,
    pub identity_lead: String,
    pub identity_public_key: String,
    pub identity_secret: String,
    pub identity_show_secret: String,
    pub identity_hint: String,
    pub identity_rotate: String,
    pub identity_rotate_hint: String,
    pub identity_rotated: String,
    pub actions: String,
    pub act_lead: String,
    pub act_name: String,
    pub act_triggers: String,
    pub act_params: String,
    pub act_steps: String,
    pub act_requires_login: String,
    pub act_yes: String,
    pub act_no: String,
    pub act_enabled: String,
    pub act_disabled: String,
    pub act_enable: String,
    pub act_disable: String,
    pub act_edit: String,
    pub act_delete: String,
    pub act_delete_confirm: String,
    pub act_cancel: String,
    pub act_none: String,
    pub act_import_title: String,
    pub act_import_hint: String,
    pub act_content: String,
    pub act_save: String,
    pub act_import_failed: String,
    pub act_empty: String,
    pub act_saved: String,
    pub act_enabled_notice: String,
    pub act_disabled_notice: String,
    pub act_deleted: String,
    pub llm_settings: String,
    pub llm_lead: String,
    pub llm_provider: String,
    pub llm_enabled: String,
    pub llm_enabled_hint: String,
    pub llm_allow_external: String,
    pub llm_allow_external_hint: String,
    pub llm_base_url: String,
    pub llm_base_url_hint: String,
    pub llm_model: String,
    pub llm_embedding_model: String,
    pub llm_embedding_model_hint: String,
    pub llm_api_key_env: String,
    pub llm_api_key_env_hint: String,
    pub llm_key_status: String,
    pub llm_key_set: String,
    pub llm_key_not_set: String,
    pub llm_key_none: String,
    pub llm_limits: String,
    pub llm_timeout: String,
    pub llm_timeout_hint: String,
    pub llm_total_timeout: String,
    pub llm_total_timeout_hint: String,
    pub llm_max_tokens: String,
    pub llm_temperature: String,
    pub llm_temperature_hint: String,
    pub llm_max_retries: String,
    pub llm_max_retries_hint: String,
    pub llm_costs: String,
    pub llm_input_price: String,
    pub llm_output_price: String,
    pub llm_price_hint: String,
    pub llm_breaker: String,
    pub llm_breaker_failures: String,
    pub llm_breaker_cooldown: String,
    pub llm_breaker_hint: String,
    pub llm_features: String,
    pub llm_stream: String,
    pub llm_stream_hint: String,
    pub llm_tools: String,
    pub llm_tools_hint: String,
    pub llm_choose: String,
    pub llm_choose_hint: String,
    pub llm_summaries: String,
    pub llm_summaries_hint: String,
    pub llm_saved: String,
    pub llm_not_saved: String,
    pub llm_usage: String,
    pub llm_usage_hint: String,
    pub llm_usage_none: String,
    pub llm_calls: String,
    pub llm_used: String,
    pub llm_rejected: String,
    pub llm_refused: String,
    pub llm_errors: String,
    pub llm_skipped: String,
    pub llm_prompt_tokens: String,
    pub llm_completion_tokens: String,
    pub llm_cost: String,
    /// A customer's history: `{conversations}`, `{with_people}` (those a person took part in).
    pub conversation_history_one: String,
    pub conversation_history_other: String,
    /// A problem on a line of an import: `{line}`, `{message}`.
    pub line_error: String,
    /// A refused value: the `{field}`'s label (or an action's key and part), then the
    /// `{problem}`.
    pub field_problem: String,
    /// How many articles a filtered list shows: `{shown}` of `{total}`.
    pub articles_shown: String,
    /// A conversation's model usage: `{calls}`, `{prompt_tokens}`, `{completion_tokens}`, `{cost}`.
    pub llm_usage_line_one: String,
    pub llm_usage_line_other: String,
    /// How many articles an import saved: `{count}`.
    pub imported_one: String,
    pub imported_other: String,
    // agent assist
    pub assist_title: String,
    pub assist_suggestions: String,
    pub assist_no_suggestions: String,
    pub assist_score: String,
    pub assist_insert: String,
    pub assist_insert_hint: String,
    pub assist_emotions: String,
    pub assist_alerts: String,
    pub assist_alert_anger_rising: String,
    pub assist_alert_anger_rising_why: String,
    pub assist_alert_legal_threat: String,
    pub assist_alert_legal_threat_why: String,
    pub assist_alert_regulated_topic: String,
    pub assist_alert_regulated_topic_why: String,
    pub assist_alert_personal_data: String,
    pub assist_alert_personal_data_why: String,
    pub assist_alert_vip_waiting: String,
    pub assist_alert_vip_waiting_why: String,
    pub assist_previous: String,
    pub assist_acceptance: String,
    /// How a conversation's suggestions were used: `{shown}`, `{inserted}`, `{unchanged}`,
    /// `{edited}`, `{ignored}`.
    pub assist_acceptance_line: String,
    pub assist_actions: String,
    pub assist_action_run: String,
    pub assist_action_hint: String,
    pub assist_action_running: String,
    pub assist_action_needs_verified: String,
    pub assist_action_missing: String,
    pub assist_alert_sla_breach_soon: String,
    /// The first reply is due soon: `{minutes}` (rounded up).
    pub assist_alert_sla_breach_soon_why: String,
    /// The target passed: `{minutes}` ago (whole minutes).
    pub assist_alert_sla_breached_why: String,
    /// The target passed less than a minute ago.
    pub assist_alert_sla_breached_now_why: String,
    pub assist_draft: String,
    pub assist_draft_hint: String,
    pub assist_drafting: String,
    pub assist_draft_ready: String,
    pub assist_draft_rejected: String,
    pub assist_draft_refused: String,
    pub assist_draft_failed: String,
    // wrap-up
    pub wrapup_title: String,
    pub wrapup_summary: String,
    pub wrapup_key_points: String,
    pub wrapup_topic: String,
    /// The labels of the key points' kinds (`tandem_domain::KeyPointKind`).
    pub wrapup_request: String,
    pub wrapup_done: String,
    pub wrapup_action: String,
    pub wrapup_promise: String,
    pub wrapup_entity: String,
    pub wrapup_follow_up: String,
    /// The kinds of entity only a wrap-up finds (the others are in `[entities]`).
    pub wrapup_entity_amount: String,
    pub wrapup_entity_date: String,
    // wrap-up topic, learnt provenance, gap days
    /// What the wrap-up card shows when the conversation has no topic.
    pub wrapup_topic_none: String,
    pub wrapup_topic_change: String,
    pub wrapup_topic_hint: String,
    /// Before the links to the conversations an article version's accepted wordings came from.
    pub kb_learnt_from: String,
    /// The label of a knowledge gap's conversations per day.
    pub kb_gap_daily: String,
    // Insight: the KPI pages, their charts, bottlenecks and drill-downs
    pub insight_title: String,
    pub insight_lead: String,
    pub insight_own_only: String,
    pub insight_from: String,
    pub insight_to: String,
    pub insight_group_by: String,
    pub insight_apply: String,
    /// The period: `{from}`, `{to}` (days or moments).
    pub insight_period: String,
    pub insight_export: String,
    pub insight_kpis: String,
    pub insight_by_day: String,
    pub insight_by_week: String,
    pub insight_by_channel: String,
    pub insight_by_queue: String,
    pub insight_by_agent: String,
    pub insight_by_topic: String,
    pub insight_by_handler: String,
    pub insight_by_group: String,
    /// A week by its Monday: `{day}`.
    pub insight_week_of: String,
    pub insight_handler_bot: String,
    pub insight_handler_people: String,
    pub insight_none: String,
    pub insight_list_separator: String,
    pub insight_total: String,
    pub insight_empty: String,
    pub insight_kpi_conversations: String,
    pub insight_kpi_customers: String,
    pub insight_kpi_bot_resolution: String,
    pub insight_kpi_handoff: String,
    pub insight_kpi_frt: String,
    pub insight_kpi_resolution: String,
    pub insight_kpi_handle: String,
    pub insight_kpi_reopen: String,
    pub insight_kpi_fcr: String,
    pub insight_kpi_csat: String,
    pub insight_kpi_sla: String,
    pub insight_kpi_sentiment: String,
    /// A tile's count: `{count}`.
    pub insight_count_conversations: String,
    /// The 90th percentile beside a median: `{value}`.
    pub insight_p90_detail: String,
    /// `{share}` of ratings 4 or 5, of `{count}`.
    pub insight_csat_detail: String,
    pub insight_col_frt_p50: String,
    pub insight_col_frt_p90: String,
    pub insight_col_resolution_p50: String,
    /// Durations: `{value}` in the unit.
    pub insight_seconds: String,
    pub insight_minutes: String,
    pub insight_hours: String,
    pub insight_days: String,
    pub insight_chart_volume: String,
    pub insight_chart_handoff: String,
    pub insight_chart_frt: String,
    pub insight_chart_hours: String,
    pub insight_series_other: String,
    pub insight_metric_conversations: String,
    pub insight_metric_bot_resolved: String,
    pub insight_metric_handed_off: String,
    pub insight_metric_answered: String,
    pub insight_metric_resolved: String,
    pub insight_metric_reopened: String,
    pub insight_metric_not_first_contact: String,
    pub insight_metric_rated: String,
    pub insight_metric_unhappy: String,
    pub insight_metric_sla_met: String,
    pub insight_metric_sla_missed: String,
    pub insight_bottlenecks: String,
    pub insight_bottlenecks_lead: String,
    pub insight_waits_by_queue: String,
    pub insight_bot_fails: String,
    pub insight_bot_fails_lead: String,
    pub insight_nothing_handed_off: String,
    pub insight_hours_table: String,
    pub insight_hour: String,
    pub insight_growing_reasons: String,
    pub insight_growing_reasons_lead: String,
    pub insight_nothing_growing: String,
    pub insight_reason: String,
    pub insight_first_half: String,
    pub insight_second_half: String,
    pub insight_back: String,
    /// How many of the drill-down's conversations are listed: `{shown}` of `{total}`.
    pub insight_shown: String,
    pub insight_no_conversations: String,
    /// The group a drill-down lists: the grouping's `{group}` label and the key's `{name}`.
    pub insight_filter_group: String,
    /// `{hour}` as `09:00`.
    pub insight_filter_hour: String,
    pub insight_filter_after_bot: String,
    /// `{reason}`: a hand-off reason's label.
    pub insight_filter_reason: String,
    pub insight_col_conversation: String,
    pub insight_col_customer: String,
    pub insight_col_channel: String,
    pub insight_col_created: String,
    pub insight_col_first_response: String,
    pub insight_col_resolved: String,
    pub insight_col_csat: String,
    pub insight_col_reasons: String,
    // customer satisfaction (CSAT)
    pub csat_title: String,
    pub csat_lead: String,
    pub csat_enabled: String,
    pub csat_rating_question: String,
    pub csat_comment_question: String,
    pub csat_comment_enabled: String,
    pub csat_extra: String,
    pub csat_extra_hint: String,
    /// A further question's heading: `{n}` (1, 2, 3).
    pub csat_question: String,
    pub csat_question_id: String,
    pub csat_kind: String,
    pub csat_kind_yes_no: String,
    pub csat_kind_scale: String,
    pub csat_zh: String,
    pub csat_en: String,
    pub csat_no_inboxes: String,
    pub csat_defaults: String,
    pub csat_rating: String,
    /// A conversation's rating: `{rating}` (1 to 5).
    pub csat_stars: String,
    pub csat_comment: String,
    pub csat_yes: String,
    pub csat_no: String,
    pub csat_rated_at: String,
    pub chs_inboxes: String,
    pub chs_inboxes_lead: String,
    pub chs_channel: String,
    pub chs_create: String,
    pub chs_created: String,
    pub chs_settings: String,
    pub chs_lead: String,
    pub chs_not_configured: String,
    pub chs_secret_set: String,
    pub chs_secret_unset: String,
    pub chs_callback_url: String,
    pub chs_smtp_listener: String,
    pub chs_smtp_off: String,
    pub chs_save: String,
    pub chs_saved: String,
    pub chs_address: String,
    pub chs_display_name: String,
    pub chs_smtp_host: String,
    pub chs_smtp_port: String,
    pub chs_smtp_security: String,
    pub chs_security_none: String,
    pub chs_security_starttls: String,
    pub chs_security_tls: String,
    pub chs_smtp_username: String,
    pub chs_smtp_password: String,
    pub chs_smtp_timeout: String,
    pub chs_corp_id: String,
    pub chs_secret: String,
    pub chs_token: String,
    pub chs_encoding_aes_key: String,
    pub chs_open_kfid: String,
    pub chs_app_id: String,
    pub chs_app_secret: String,
    pub chs_verification_token: String,
    pub chs_encrypt_key: String,
    pub chs_app_key: String,
    pub chs_robot_code: String,
    pub chs_base_url: String,
}

impl Console {
    /// A channel's name as agents read it.
    pub fn channel(&self, channel: Channel) -> &str {
        match channel {
            Channel::Web => &self.channel_web,
            Channel::Email => &self.channel_email,
            Channel::Api => &self.channel_api,
            Channel::Wecom => &self.channel_wecom,
            Channel::Wechat => &self.channel_wechat,
            Channel::Feishu => &self.channel_feishu,
            Channel::Dingtalk => &self.channel_dingtalk,
        }
    }
}

/// The customer-facing sentences of the bot and of system messages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phrases {
    /// The placeholder bot's reply; `{bot}` is replaced by the bot's name.
    pub acknowledge: String,
    pub handing_off: String,
    /// `{agent}` is replaced by the agent's display name.
    pub agent_joined: String,
    pub back_to_bot: String,
    pub back_to_queue: String,
    pub resolved: String,
    pub reopened: String,
    /// Two articles are close: ask which one (the titles follow as buttons).
    pub clarify: String,
    /// Nothing in the knowledge base answers the question.
    pub cannot_answer: String,
    /// The answer did not help and there is nothing else to offer.
    pub sorry_handing_off: String,
    /// A regulated question: a qualified person checks the answer before the customer gets it.
    pub specialist_review: String,
    /// The bot could not help and a person takes over.
    pub connecting_after_failure: String,
    /// Nobody is in: `{time}` is when the queue opens (its local time).
    pub after_hours: String,
    /// The queue opened: an after-hours ticket goes to a person.
    pub follow_up_now: String,
    /// Before asking again for a parameter that did not fit.
    pub action_retry: String,
    /// One answer of a reply to several questions: `{part}` is the question in the customer's
    /// words, `{answer}` the article's answer.
    pub part_answer: String,
    /// The questions of a message that a person takes over (`{parts}`, each quoted).
    pub parts_left: String,
    /// A parameter could not be understood after several tries: a person takes over.
    pub action_gave_up: String,
    /// An action that reveals personal data, for a customer who has not logged in.
    pub login_required: String,
    /// The default CSAT questions of an inbox nobody configured (see `tandem_domain::csat`).
    pub csat_rating_question: String,
    pub csat_comment_question: String,
    /// Weekday names, Monday first, for `{time}`.
    pub weekdays: [String; 7],
    /// On channels without buttons (e-mail, WeCom, WeChat, Feishu, DingTalk), in place of
    /// `acknowledge`, `cannot_answer` and `login_required`, which name the widget's button.
    pub acknowledge_by_reply: String,
    pub cannot_answer_by_reply: String,
    pub login_required_by_reply: String,
}

/// The chat widget's sentences. The server hands them to `widget.js` as JSON, so the field
/// names are the keys the script reads; `{name}` placeholders are filled in by the script.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    pub title: String,
    pub dialog: String,
    pub open_chat: String,
    pub close_chat: String,
    pub minimize: String,
    pub placeholder: String,
    pub input: String,
    pub send: String,
    pub handoff: String,
    pub handoff_label: String,
    pub messages: String,
    pub connecting: String,
    pub reconnecting: String,
    pub online: String,
    pub queued: String,
    pub human: String,
    pub position: String,
    pub eta: String,
    pub nobody_free: String,
    pub closed: String,
    pub follow_up: String,
    pub resolved: String,
    pub sending: String,
    pub failed: String,
    pub retry: String,
    pub too_long: String,
    pub invalid: String,
    pub rate_limited: String,
    pub error: String,
    pub welcome: String,
    pub welcome_no_bot: String,
    pub typing: String,
    pub agent: String,
    pub bot: String,
    pub unread: String,
    pub source: String,
    pub quick_replies: String,
    // customer satisfaction, asked once the conversation is resolved
    pub csat_form: String,
    /// A star's label: `{n}` of 5.
    pub csat_star: String,
    pub csat_yes: String,
    pub csat_no: String,
    pub csat_placeholder: String,
    pub csat_submit: String,
    pub csat_thanks: String,
    pub csat_error: String,
}

/// Replaces each `{name}` in a sentence by the value given for `name`. A placeholder without
/// a value, and a brace that starts no placeholder (`{"actions": [...]}`), stay as written.
pub fn fill(sentence: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut filled = String::with_capacity(sentence.len() + 16);
    let mut rest = sentence;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let found = after.find('}').and_then(|close| {
            let name = &after[..close];
            values.iter().find(|(key, _)| *key == name).map(|(_, value)| (close, value))
        });
        match found {
            Some((close, value)) => {
                filled.push_str(&value.to_string());
                rest = &after[close + 1..];
            }
            None => {
                filled.push('{');
                rest = after;
            }
        }
    }
    filled.push_str(rest);
    filled
}

/// Picks a sentence's `_one` or `_other` form. English is the only language with plurals
/// here; Chinese writes the same sentence under both keys, so one rule serves both.
pub fn plural<'a>(count: u64, one: &'a str, other: &'a str) -> &'a str {
    if count == 1 { one } else { other }
}

#[cfg(test)]
mod tests;
