//! `GET /settings/escalation`: the escalation policy page, a row of check boxes per signal
//! (hand off, or draft for approval) and the conversation rules; the save action shows it again
//! with a refused form as it was typed.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::Reason;
use tandem_domain::ValidationError;

use super::policy_form::PolicyForm;
use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageResult, format_time, render, store_failed, text_for};

/// One signal's row of check boxes.
#[derive(Debug)]
pub struct ReasonRow {
    pub code: &'static str,
    pub label: &'static str,
    pub hand_off: bool,
    pub approve: bool,
}

/// One conversation rule's number input.
#[derive(Debug)]
pub struct RuleInput {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
    pub min: &'static str,
    pub max: &'static str,
    pub step: &'static str,
}

#[derive(Template)]
#[template(path = "pages/escalation.html")]
pub(super) struct EscalationPage {
    chrome: Chrome,
    can_edit: bool,
    reasons: Vec<ReasonRow>,
    rules: Vec<RuleInput>,
    vip_tiers: String,
    updated: Option<(String, i64)>,
    notice: Option<String>,
    error: Option<String>,
    /// The input the error is about ("" when none).
    error_field: &'static str,
}

pub(super) fn escalation_page(
    agent: &Agent,
    form: PolicyForm,
    updated_at: i64,
    notice: Option<String>,
    error: Option<ValidationError>,
) -> EscalationPage {
    let text = text_for(agent);
    let reasons = Reason::OF_A_MESSAGE
        .iter()
        .map(|&reason| ReasonRow {
            code: reason.as_str(),
            label: text.reason(reason),
            hand_off: form.hand_off_on.iter().any(|checked| checked.trim() == reason.as_str()),
            approve: form.approve_on.iter().any(|checked| checked.trim() == reason.as_str()),
        })
        .collect();
    let rule = |name, label, hint, value: &String, min, max, step| RuleInput {
        name,
        label,
        hint,
        value: value.clone(),
        min,
        max,
        step,
    };
    let rules = vec![
        rule(
            "abstains_in_a_row",
            &text.esc_abstains,
            &text.esc_abstains_hint,
            &form.abstains_in_a_row,
            "0",
            "20",
            "1",
        ),
        rule("repeats", &text.esc_repeats, &text.esc_repeats_hint, &form.repeats, "0", "20", "1"),
        rule(
            "didnt_help",
            &text.esc_didnt_help,
            &text.esc_didnt_help_hint,
            &form.didnt_help,
            "0",
            "20",
            "1",
        ),
        rule(
            "anger_turns",
            &text.esc_anger_turns,
            &text.esc_anger_turns_hint,
            &form.anger_turns,
            "0",
            "3",
            "1",
        ),
        rule(
            "negative_sentiment",
            &text.esc_negative,
            &text.esc_negative_hint,
            &form.negative_sentiment,
            "-1",
            "0",
            "0.05",
        ),
    ];
    EscalationPage {
        chrome: Chrome::new(agent, "escalation"),
        can_edit: agent.user.is_manager(),
        reasons,
        rules,
        vip_tiers: form.vip_tiers,
        updated: (updated_at > 0).then(|| (format_time(updated_at), updated_at)),
        notice,
        error_field: error.as_ref().map_or("", |error| error.field),
        error: error.map(|error| format!("{} {}", text.kb_not_saved, text.invalid(&error))),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

pub(super) async fn show_escalation_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    let policy = state
        .store
        .escalation_policy(agent.user.workspace_id)
        .await
        .map_err(store_failed(&agent))?;
    let notice = query.notice.map(|_| text_for(&agent).saved.to_owned());
    let form = PolicyForm::from_policy(&policy);
    Ok(render(&escalation_page(&agent, form, policy.updated_at, notice, None)))
}
