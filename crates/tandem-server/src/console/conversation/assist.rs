//! The assist panel beside a conversation: suggested articles with an Insert button, the
//! customer's mood message by message, alerts with why, the customer and their earlier
//! conversations, how suggestions were used, and (when the workspace's model is on) a "Draft
//! with AI" button that asks for a grounded draft to put into the reply box. Rendered into the
//! page on load and served
//! alone at `GET /conversations/{id}/assist`, which the console script fetches again when a
//! new customer message arrives. Both come from [`assist_for`], as the JSON API does.

use askama::Template;
use axum::extract::{Path, State};
use tandem_flow::assist::AlertCode;

use super::handoff_card::{EmotionChip, tone};
use crate::AppState;
use crate::api::agents::conversation_for;
use crate::api::assist::{AssistData, assist_for};
use crate::console::{PageAgent, PageError, PageResult, format_time, render};
use crate::i18n::Text;

#[derive(Debug)]
pub struct SuggestionView {
    pub key: String,
    pub title: String,
    pub answer: String,
    pub score: String,
}

#[derive(Debug)]
pub struct AlertView {
    pub code: &'static str,
    pub label: &'static str,
    pub why: String,
}

#[derive(Debug)]
pub struct PreviousView {
    pub id: i64,
    pub state_label: &'static str,
    pub time: String,
    pub timestamp: i64,
    pub summary: Option<String>,
}

#[derive(Template)]
#[template(path = "partials/assist_panel.html")]
pub struct AssistPanel {
    t: &'static Text,
    suggestions: Vec<SuggestionView>,
    emotions: Vec<EmotionChip>,
    alerts: Vec<AlertView>,
    customer_name: String,
    tier: Option<String>,
    previous: Vec<PreviousView>,
    acceptance: String,
    /// The draft endpoint, when the workspace's model is on; `None` hides the button.
    draft_url: Option<String>,
    actions: Vec<ActionView>,
}

/// A business action the agent may run, with what the conversation gives it.
pub struct ActionView {
    pub key: String,
    pub name: String,
    /// `name: value` of the parameters found.
    pub found: String,
    /// Why it cannot run yet, when it cannot.
    pub blocked: Option<String>,
    pub url: String,
}

/// The panel in the agent's language.
pub(super) fn assist_panel(text: &'static Text, data: AssistData) -> AssistPanel {
    let AssistData { conversation, assist, alert_codes, sla } = data;
    AssistPanel {
        t: text,
        suggestions: assist
            .suggestions
            .into_iter()
            .map(|suggestion| SuggestionView {
                key: suggestion.key,
                title: suggestion.title,
                answer: suggestion.answer,
                score: format!("{:.2}", suggestion.score),
            })
            .collect(),
        emotions: assist
            .emotions
            .iter()
            .map(|point| EmotionChip {
                seq: point.seq,
                label: text.emotion(&point.emotion).unwrap_or(&point.emotion).to_owned(),
                emotion: point.emotion.clone(),
                sentiment: format!("{:+.2}", point.sentiment),
                tone: tone(point.sentiment),
            })
            .collect(),
        alerts: alert_codes
            .into_iter()
            .map(|code| {
                let (label, why) = text.alert(code);
                let why = match (code, sla) {
                    (AlertCode::SlaBreachSoon, Some(standing)) => text.sla_why(standing),
                    _ => why.to_owned(),
                };
                AlertView { code: code.as_str(), label, why }
            })
            .collect(),
        acceptance: text.acceptance_line(&assist.acceptance),
        draft_url: assist
            .can_draft
            .then(|| format!("/api/v1/conversations/{}/assist/draft", conversation.0)),
        actions: assist
            .actions
            .into_iter()
            .map(|action| ActionView {
                url: format!(
                    "/api/v1/conversations/{}/assist/actions/{}",
                    conversation.0, action.key
                ),
                found: action
                    .found
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}"))
                    .collect::<Vec<_>>()
                    .join(" · "),
                blocked: if action.needs_verified_customer {
                    Some(text.assist_action_needs_verified.clone())
                } else if !action.missing.is_empty() {
                    Some(format!("{} {}", text.assist_action_missing, action.missing.join(", ")))
                } else {
                    None
                },
                key: action.key,
                name: action.name,
            })
            .collect(),
        customer_name: assist.customer.name,
        tier: assist.customer.tier,
        previous: assist
            .customer
            .previous
            .into_iter()
            .map(|other| PreviousView {
                id: other.id.0,
                state_label: text.state(other.state),
                time: format_time(other.created_at),
                timestamp: other.created_at,
                summary: other.summary,
            })
            .collect(),
    }
}

pub(super) async fn show_assist_panel(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
) -> PageResult {
    let text = Text::for_locale(agent.user.locale);
    let failed = PageError::for_agent(&agent);
    let conversation = conversation_for(&state, &agent, id).await.map_err(failed)?;
    let data = assist_for(&state, &conversation).await.map_err(failed)?;
    Ok(render(&assist_panel(text, data)))
}
