//! Triage settings: the escalation policy (when the bot hands a conversation to people) and
//! routing (each agent's skills and capacity, each queue's rules and opening hours). Every agent
//! may read them; only admins and supervisors change them.
//!
//! Skills, opening hours and UTC offsets are typed as short text (`refunds:4, lang:zh:5`,
//! `mon-fri 09:00-18:00`, `+08:00`); the parsers here turn them into the stored records and
//! back, and a refused form comes back as it was typed with the problem named.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tandem_domain::validate::{self, ESCALATION_REASONS};
use tandem_domain::{
    AgentRouting, Channel, EscalationPolicy, OpeningHours, Queue, QueueId, QueueRouting,
    SkillLevels, TimeZoneName, UserId, ValidationError,
};

use super::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/escalation", get(show_escalation).post(save_escalation))
        .route("/settings/routing", get(show_routing))
        .route("/settings/routing/agents/{id}", post(save_agent))
        .route("/settings/routing/queues/{id}", post(save_queue))
}

fn text_for(agent: &Agent) -> &'static Text {
    Text::for_locale(agent.user.locale)
}

fn require_manager(agent: &Agent) -> Result<(), PageError> {
    agent.require_manager().map_err(PageError::for_agent(agent))
}

fn store_failed(agent: &Agent) -> impl Fn(tandem_store::StoreError) -> PageError + use<> {
    let failed = PageError::for_agent(agent);
    move |error| failed(error.into())
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ValidationError {
    ValidationError { field, reason: reason.into() }
}

#[derive(Debug, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

// ---------- Escalation policy ----------

/// The policy form as typed, so that a refused form comes back unchanged.
#[derive(Debug, Default)]
struct PolicyForm {
    csrf: String,
    hand_off_on: Vec<String>,
    approve_on: Vec<String>,
    abstains_in_a_row: String,
    repeats: String,
    didnt_help: String,
    anger_turns: String,
    negative_sentiment: String,
    /// Separated by commas.
    vip_tiers: String,
}

impl PolicyForm {
    fn from_policy(policy: &EscalationPolicy) -> PolicyForm {
        PolicyForm {
            csrf: String::new(),
            hand_off_on: policy.hand_off_on.clone(),
            approve_on: policy.approve_on.clone(),
            abstains_in_a_row: policy.abstains_in_a_row.to_string(),
            repeats: policy.repeats.to_string(),
            didnt_help: policy.didnt_help.to_string(),
            anger_turns: policy.anger_turns.to_string(),
            negative_sentiment: format!("{:.2}", policy.negative_sentiment),
            vip_tiers: policy.vip_tiers.join(", "),
        }
    }

    /// From the posted fields; check boxes repeat their name once per checked box.
    fn from_fields(fields: Vec<(String, String)>) -> PolicyForm {
        let mut form = PolicyForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "csrf" => form.csrf = value,
                "hand_off_on" => form.hand_off_on.push(value),
                "approve_on" => form.approve_on.push(value),
                "abstains_in_a_row" => form.abstains_in_a_row = value,
                "repeats" => form.repeats = value,
                "didnt_help" => form.didnt_help = value,
                "anger_turns" => form.anger_turns = value,
                "negative_sentiment" => form.negative_sentiment = value,
                "vip_tiers" => form.vip_tiers = value,
                _ => {}
            }
        }
        form
    }

    /// The policy the form describes, checked.
    fn policy(&self) -> Result<EscalationPolicy, ValidationError> {
        let count = |field: &'static str, text: &str| {
            let text = text.trim();
            text.parse::<u32>()
                .map_err(|_| invalid(field, format!("{text:?} is not a whole number from 0 to 20")))
        };
        let sentiment = self.negative_sentiment.trim();
        let negative_sentiment = sentiment.parse::<f32>().map_err(|_| {
            invalid("negative_sentiment", format!("{sentiment:?} is not a number from -1 to 0"))
        })?;
        validate::escalation_policy(EscalationPolicy {
            hand_off_on: self.hand_off_on.clone(),
            approve_on: self.approve_on.clone(),
            abstains_in_a_row: count("abstains_in_a_row", &self.abstains_in_a_row)?,
            repeats: count("repeats", &self.repeats)?,
            didnt_help: count("didnt_help", &self.didnt_help)?,
            anger_turns: count("anger_turns", &self.anger_turns)?,
            negative_sentiment,
            vip_tiers: split_list(&self.vip_tiers),
            updated_at: 0,
        })
    }
}

/// Items separated by commas (ASCII or Chinese) or line breaks, trimmed, blanks dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split([',', '，', '、', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

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
struct EscalationPage {
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

fn escalation_page(
    agent: &Agent,
    form: PolicyForm,
    updated_at: i64,
    notice: Option<String>,
    error: Option<ValidationError>,
) -> EscalationPage {
    let text = text_for(agent);
    let reasons = ESCALATION_REASONS
        .iter()
        .map(|&code| ReasonRow {
            code,
            label: text.reason(code).unwrap_or(code),
            hand_off: form.hand_off_on.iter().any(|checked| checked.trim() == code),
            approve: form.approve_on.iter().any(|checked| checked.trim() == code),
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
        error: error.map(|error| format!("{} {error}", text.kb_not_saved)),
    }
}

async fn show_escalation(
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

async fn save_escalation(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = PolicyForm::from_fields(fields);
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_manager(&agent)?;
    let policy = match form.policy() {
        Ok(policy) => policy,
        Err(error) => {
            let page = escalation_page(&agent, form, 0, None, Some(error));
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    state
        .store
        .save_escalation_policy(agent.user.workspace_id, policy)
        .await
        .map_err(store_failed(&agent))?;
    Ok(Redirect::to("/settings/escalation?notice=saved").into_response())
}

// ---------- Routing ----------

/// An agent's row: stored values, or what was typed when saving it failed.
#[derive(Debug)]
pub struct AgentRow {
    pub id: i64,
    pub name: String,
    pub role_label: &'static str,
    pub presence: &'static str,
    pub presence_label: &'static str,
    /// Since when, when known.
    pub presence_at: Option<(String, i64)>,
    pub skills: String,
    /// (channel, label, value)
    pub capacity: Vec<(&'static str, &'static str, String)>,
    pub error: Option<String>,
}

/// A queue's form: stored values, or what was typed when saving it failed.
#[derive(Debug, Default, Deserialize)]
struct QueueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    skills: String,
    #[serde(default)]
    topics: String,
    #[serde(default)]
    sla_minutes: String,
    #[serde(default)]
    offer_timeout_minutes: String,
    #[serde(default)]
    widen_after_minutes: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    time_zone: String,
}

#[derive(Debug)]
pub struct QueueRow {
    pub id: i64,
    /// The stored name.
    pub title: String,
    form: QueueForm,
    pub error: Option<String>,
    /// The input the error is about ("" when none).
    pub error_field: &'static str,
}

#[derive(Template)]
#[template(path = "pages/routing.html")]
struct RoutingPage {
    chrome: Chrome,
    can_edit: bool,
    /// The capacity columns' channel names.
    channel_labels: Vec<&'static str>,
    agents: Vec<AgentRow>,
    queues: Vec<QueueRow>,
    notice: Option<String>,
    error: Option<String>,
}

/// A failed save, shown on its row.
enum Refused {
    Agent { id: UserId, form: AgentForm, message: String },
    Queue { id: QueueId, form: QueueForm, field: &'static str, message: String },
}

fn channel_label(text: &'static Text, channel: Channel) -> &'static str {
    match channel {
        Channel::Web => &text.channel_web,
        Channel::Email => &text.channel_email,
        Channel::Api => &text.channel_api,
    }
}

async fn routing_page(
    state: &AppState,
    agent: &Agent,
    notice: Option<String>,
    refused: Option<Refused>,
) -> PageResult {
    let text = text_for(agent);
    let failed = store_failed(agent);
    let workspace = agent.user.workspace_id;
    let users: HashMap<UserId, tandem_domain::User> = state
        .store
        .users(workspace)
        .await
        .map_err(&failed)?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    let routing = state.store.agent_routing(workspace).await.map_err(&failed)?;
    let queues = state.store.queues(workspace).await.map_err(&failed)?;
    let mut error = None;
    let mut agents: Vec<AgentRow> = routing
        .iter()
        .filter_map(|routing| {
            let user = users.get(&routing.user_id)?;
            Some(AgentRow {
                id: user.id.0,
                name: user.display_name.clone(),
                role_label: text.role(user.role),
                presence: routing.presence.as_str(),
                presence_label: text.presence(routing.presence),
                presence_at: (routing.presence_at > 0)
                    .then(|| (format_time(routing.presence_at), routing.presence_at)),
                skills: format_skills(&routing.skills),
                capacity: Channel::ALL
                    .iter()
                    .map(|&channel| {
                        let count = routing.capacity.get(&channel).copied().unwrap_or(0);
                        (channel.as_str(), channel_label(text, channel), count.to_string())
                    })
                    .collect(),
                error: None,
            })
        })
        .collect();
    agents.sort_by(|a, b| a.name.cmp(&b.name));
    let mut queues: Vec<QueueRow> = queues
        .iter()
        .map(|queue| QueueRow {
            id: queue.id.0,
            title: queue.name.clone(),
            form: QueueForm::from_queue(queue),
            error: None,
            error_field: "",
        })
        .collect();
    match refused {
        Some(Refused::Agent { id, form, message }) => {
            if let Some(row) = agents.iter_mut().find(|row| row.id == id.0) {
                for (channel, _, value) in &mut row.capacity {
                    *value = form.capacity(channel).to_owned();
                }
                row.skills = form.skills;
                row.error = Some(message.clone());
            }
            error = Some(format!("{} {message}", text.kb_not_saved));
        }
        Some(Refused::Queue { id, form, field, message }) => {
            if let Some(row) = queues.iter_mut().find(|row| row.id == id.0) {
                row.form = form;
                row.error = Some(message.clone());
                row.error_field = field;
            }
            error = Some(format!("{} {message}", text.kb_not_saved));
        }
        None => {}
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = RoutingPage {
        chrome: Chrome::new(agent, "routing"),
        can_edit: agent.user.is_manager(),
        channel_labels: Channel::ALL.iter().map(|&channel| channel_label(text, channel)).collect(),
        agents,
        queues,
        notice,
        error,
    };
    Ok((status, render(&page)).into_response())
}

async fn show_routing(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    let notice = query.notice.map(|_| text_for(&agent).saved.to_owned());
    routing_page(&state, &agent, notice, None).await
}

#[derive(Debug, Default, Deserialize)]
struct AgentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    skills: String,
    #[serde(default)]
    capacity_web: String,
    #[serde(default)]
    capacity_email: String,
    #[serde(default)]
    capacity_api: String,
}

impl AgentForm {
    fn capacity(&self, channel: &str) -> &str {
        match channel {
            "web" => &self.capacity_web,
            "email" => &self.capacity_email,
            _ => &self.capacity_api,
        }
    }

    /// `routing` with the skills and capacity the form describes, checked. Presence is the
    /// agent's own: it stays as it is.
    fn apply(&self, routing: AgentRouting) -> Result<AgentRouting, ValidationError> {
        let skills = parse_skills(&self.skills)?;
        let mut capacity = BTreeMap::new();
        for &channel in Channel::ALL {
            let typed = self.capacity(channel.as_str()).trim();
            let count = typed.parse::<u32>().map_err(|_| {
                invalid(
                    "capacity",
                    format!("{}: {typed:?} is not a whole number from 0 to 50", channel.as_str()),
                )
            })?;
            capacity.insert(channel, count);
        }
        Ok(AgentRouting { skills, capacity: validate::capacity(&capacity)?, ..routing })
    }
}

async fn save_agent(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Form(form): Form<AgentForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_manager(&agent)?;
    let failed = store_failed(&agent);
    let workspace = agent.user.workspace_id;
    let id = UserId(id);
    let routing = state
        .store
        .agent_routing(workspace)
        .await
        .map_err(&failed)?
        .into_iter()
        .find(|routing| routing.user_id == id)
        .ok_or_else(|| {
            PageError::for_agent(&agent)(ApiError::NotFound(tandem_store::Entity::Agent))
        })?;
    match form.apply(routing) {
        Ok(routing) => {
            // Through routing, so that the router uses the new skills and capacity at once.
            state
                .routing
                .save_agent(workspace, routing)
                .await
                .map_err(|error| PageError::for_agent(&agent)(error.into()))?;
            Ok(Redirect::to(&format!("/settings/routing?notice=saved#agent-{}", id.0))
                .into_response())
        }
        Err(error) => {
            let name = state
                .store
                .user(id)
                .await
                .map_err(&failed)?
                .map(|user| user.display_name)
                .unwrap_or_default();
            let message = format!("{name}: {error}");
            let refused = Refused::Agent { id, form, message };
            routing_page(&state, &agent, None, Some(refused)).await
        }
    }
}

impl QueueForm {
    fn from_queue(queue: &Queue) -> QueueForm {
        let routing = &queue.routing;
        QueueForm {
            csrf: String::new(),
            name: queue.name.clone(),
            description: queue.description.clone(),
            skills: format_skills(&routing.skills),
            topics: routing.topics.join(", "),
            sla_minutes: format_minutes(routing.sla_ms),
            offer_timeout_minutes: format_minutes(routing.offer_timeout_ms),
            widen_after_minutes: format_minutes(routing.widen_after_ms),
            hours: OpeningHours(routing.hours.clone()).to_string(),
            time_zone: routing.time_zone.to_string(),
        }
    }

    /// The queue's name, description and routing as typed, checked.
    fn parse(&self) -> Result<(String, String, QueueRouting), ValidationError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(invalid("name", "must be 1 to 80 characters on one line"));
        }
        let description = self.description.trim();
        if description.chars().count() > 500 {
            return Err(invalid("description", "must be at most 500 characters"));
        }
        let routing = validate::queue_routing(QueueRouting {
            skills: parse_skills(&self.skills)?,
            topics: split_list(&self.topics),
            sla_ms: parse_minutes("sla_minutes", &self.sla_minutes)?,
            offer_timeout_ms: parse_minutes("offer_timeout_minutes", &self.offer_timeout_minutes)?,
            widen_after_ms: parse_minutes("widen_after_minutes", &self.widen_after_minutes)?,
            hours: self
                .hours
                .parse::<OpeningHours>()
                .map_err(|error| invalid("hours", error.to_string()))?
                .0,
            time_zone: self
                .time_zone
                .parse::<TimeZoneName>()
                .map_err(|error| invalid("time_zone", error.to_string()))?,
        })?;
        Ok((name.to_owned(), description.to_owned(), routing))
    }
}

/// The form input a validation error is about.
fn queue_input(field: &'static str) -> &'static str {
    match field {
        "sla_ms" => "sla_minutes",
        "offer_timeout_ms" => "offer_timeout_minutes",
        "widen_after_ms" => "widen_after_minutes",
        other => other,
    }
}

async fn save_queue(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Form(form): Form<QueueForm>,
) -> PageResult {
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    require_manager(&agent)?;
    let failed = store_failed(&agent);
    let id = QueueId(id);
    let queue = state
        .store
        .queues(agent.user.workspace_id)
        .await
        .map_err(&failed)?
        .into_iter()
        .find(|queue| queue.id == id)
        .ok_or_else(|| {
            PageError::for_agent(&agent)(ApiError::NotFound(tandem_store::Entity::Queue))
        })?;
    match form.parse() {
        Ok((name, description, routing)) => {
            let update = Queue { name, description, routing, ..queue.clone() };
            match state.routing.save_queue(update).await {
                Ok(_) => {
                    Ok(Redirect::to(&format!("/settings/routing?notice=saved#queue-{}", id.0))
                        .into_response())
                }
                // Another queue has the name.
                Err(tandem_flow::RoutingServiceError::Store(
                    tandem_store::StoreError::Conflict(reason),
                )) => {
                    let message = format!("{}: name: {reason}", queue.name);
                    let refused = Refused::Queue { id, form, field: "name", message };
                    routing_page(&state, &agent, None, Some(refused)).await
                }
                Err(error) => Err(PageError::for_agent(&agent)(error.into())),
            }
        }
        Err(error) => {
            let message = format!("{}: {error}", queue.name);
            let field = queue_input(error.field);
            let refused = Refused::Queue { id, form, field, message };
            routing_page(&state, &agent, None, Some(refused)).await
        }
    }
}

// ---------- Text formats ----------

/// What is typed in a form field for skills, read (the rules live with the domain's type).
fn parse_skills(text: &str) -> Result<BTreeMap<String, u8>, ValidationError> {
    let skills =
        text.parse::<SkillLevels>().map_err(|error| invalid("skills", error.to_string()))?;
    validate::skill_levels(&skills.0)
}

fn format_skills(skills: &BTreeMap<String, u8>) -> String {
    SkillLevels(skills.clone()).to_string()
}

/// Minutes as typed (`5`, `0.5`) to milliseconds.
fn parse_minutes(field: &'static str, text: &str) -> Result<i64, ValidationError> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(minutes) if minutes.is_finite() && minutes >= 0.0 => {
            Ok((minutes * 60_000.0).round() as i64)
        }
        _ => Err(invalid(field, format!("{text:?} is not a number of minutes"))),
    }
}

fn format_minutes(millis: i64) -> String {
    if millis % 60_000 == 0 {
        return (millis / 60_000).to_string();
    }
    let text = format!("{:.2}", millis as f64 / 60_000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_read_and_written_as_typed() {
        assert_eq!(parse_minutes("sla_minutes", " 5 "), Ok(300_000));
        assert_eq!(parse_minutes("sla_minutes", "0.5"), Ok(30_000));
        assert!(parse_minutes("sla_minutes", "soon").is_err());
        assert_eq!(format_minutes(300_000), "5");
        assert_eq!(format_minutes(30_000), "0.5");
    }

    #[test]
    fn policy_forms_keep_what_was_typed() {
        let form = PolicyForm::from_fields(vec![
            ("csrf".into(), "token".into()),
            ("hand_off_on".into(), "complaint".into()),
            ("hand_off_on".into(), "asks_for_human".into()),
            ("approve_on".into(), "regulated_legal".into()),
            ("abstains_in_a_row".into(), "2".into()),
            ("repeats".into(), "3".into()),
            ("didnt_help".into(), "1".into()),
            ("anger_turns".into(), "2".into()),
            ("negative_sentiment".into(), "-0.8".into()),
            ("vip_tiers".into(), "VIP, gold".into()),
        ]);
        let policy = form.policy().unwrap();
        assert_eq!(policy.hand_off_on, ["asks_for_human", "complaint"]);
        assert_eq!(policy.vip_tiers, ["vip", "gold"]);
        assert_eq!(policy.repeats, 3);
        let bad = PolicyForm { anger_turns: "many".into(), ..form };
        assert_eq!(bad.policy().unwrap_err().field, "anger_turns");
    }
}
