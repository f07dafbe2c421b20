//! The conversation page: the hand-off card, transcript, customer panel, reply and note box,
//! and the ownership actions (assign to me, back to queue, hand back to bot, resolve, reopen).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tandem_domain::{
    AuthorKind, ConversationState, DecisionRecord, EscalationOutcome, HandoffPacket, LlmUsage,
    Message,
};

use super::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::AppState;
use crate::api::agents::{TransitionRequest, apply_transition, conversation_for};
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/conversations/{id}", get(show_conversation))
        .route("/conversations/{id}/actions", post(submit_action))
        .route("/conversations/{id}/messages", post(submit_message))
}

#[derive(Debug)]
pub struct MessageView {
    pub seq: i64,
    pub kind: &'static str,
    pub author: String,
    pub body: String,
    pub time: String,
    pub timestamp: i64,
    /// For a bot message: why it said this.
    pub decision: Option<DecisionView>,
}

/// A bot turn's decision record, ready to show.
#[derive(Debug)]
pub struct DecisionView {
    pub outcome: &'static str,
    pub threshold: String,
    pub latency: String,
    pub knowledge_version: String,
    /// `/knowledge/test?q=...`: the same question against today's knowledge.
    pub replay_url: String,
    /// (title, key, score, retrieval, intent)
    pub candidates: Vec<(String, String, String, String, String)>,
    /// The business action the turn ran: its key and outcome, its parameters, and each call
    /// as "GET url → 200 · 35 ms" (or the error).
    pub action: Option<(String, String, String, Vec<String>)>,
    /// What the model did with the answer: "used · 1 attempt · 312+45 tokens · 0.0021 · 840 ms",
    /// or why its wording was not used.
    pub llm: Option<String>,
}

fn decision_view(text: &'static Text, record: &DecisionRecord) -> DecisionView {
    let outcome = match record.outcome.as_str() {
        "answer" => &text.kb_outcome_answer,
        "clarify" => &text.kb_outcome_clarify,
        "action" => &text.action_outcome,
        _ => &text.kb_outcome_abstain,
    };
    let action = record.action.as_ref().map(|action| {
        let params = action
            .params
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(", ");
        let calls = action
            .calls
            .iter()
            .map(|call| {
                let result = match (&call.status, &call.error) {
                    (_, Some(error)) => error.clone(),
                    (Some(status), None) => status.to_string(),
                    (None, None) => "—".to_owned(),
                };
                format!("{} {} → {result} · {} ms", call.method, call.url, call.latency_ms)
            })
            .collect();
        (action.action.clone(), action.outcome.clone(), params, calls)
    });
    let llm = record.llm.as_ref().map(|llm| {
        let mut parts = vec![llm.outcome.clone()];
        if let Some(tool) = &llm.tool {
            parts.push(format!("{} {tool}", text.llm_chose_action));
        }
        if let Some(error) = &llm.error {
            parts.push(error.clone());
        }
        if !llm.rejected_claims.is_empty() {
            parts.push(format!("{} {}", text.llm_unsupported, llm.rejected_claims.join(", ")));
        }
        parts.push(format!("{} × {}", llm.attempts, text.llm_attempts));
        parts.push(format!("{}+{} tokens", llm.prompt_tokens, llm.completion_tokens));
        parts.push(format!("{:.4}", llm.cost));
        parts.push(format!("{} ms", llm.latency_ms));
        parts.join(" · ")
    });
    let query = serde_urlencoded::to_string([("q", record.query.as_str())]).unwrap_or_default();
    DecisionView {
        outcome,
        threshold: format!("{:.2}", record.threshold),
        latency: format!("{} µs", record.latency_us),
        knowledge_version: record.knowledge_version.clone(),
        replay_url: format!("/knowledge/test?{query}"),
        candidates: record
            .candidates
            .iter()
            .map(|candidate| {
                (
                    candidate.title.clone(),
                    candidate.article.clone(),
                    format!("{:.3}", candidate.score),
                    format!("{:.3}", candidate.retrieval),
                    candidate
                        .intent
                        .map_or_else(|| "—".to_owned(), |intent| format!("{intent:.3}")),
                )
            })
            .collect(),
        action,
        llm,
    }
}

/// The hand-off packet as a card at the top of the conversation: why it came to people, the
/// problem in the customer's words, how they feel, what the bot said, and who they are.
#[derive(Debug)]
pub struct HandoffView {
    /// Shown open while the conversation waits for or is with a person.
    pub open: bool,
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    /// (code, label)
    pub reasons: Vec<(String, String)>,
    pub summary: String,
    /// The model's summary, when it wrote one the conversation supports.
    pub model_summary: Option<String>,
    pub language: String,
    pub emotions: Vec<EmotionChip>,
    /// (article key, title, score as text, score 0..1)
    pub intents: Vec<(String, String, String, f32)>,
    pub bot_replies: Vec<BotReplyView>,
    /// (label, value), personal data already masked
    pub entities: Vec<(String, String)>,
    /// What the bot looked up or did: (action key, outcome, parameters).
    pub actions: Vec<(String, String, String)>,
    pub customer: CustomerCardView,
    pub skills: String,
    pub priority: i64,
    pub queue: Option<String>,
    pub draft: Option<String>,
    /// No person has replied since the hand-off: the draft can still be approved as it is.
    pub draft_pending: bool,
    /// Approving twice sends the draft once.
    pub draft_msg_id: String,
    pub time: String,
    pub timestamp: i64,
}

/// One customer message's emotion and sentiment.
#[derive(Debug)]
pub struct EmotionChip {
    pub seq: i64,
    pub emotion: String,
    pub label: String,
    pub sentiment: String,
    /// neg, neu or pos: the chip's colour.
    pub tone: &'static str,
}

#[derive(Debug)]
pub struct BotReplyView {
    pub seq: i64,
    pub outcome: String,
    pub outcome_label: &'static str,
    pub body: String,
    /// (article key, title, version)
    pub source: Option<(String, String, i64)>,
}

#[derive(Debug)]
pub struct CustomerCardView {
    pub name: String,
    pub tier: Option<String>,
    pub value: Option<String>,
    pub history: String,
    pub previous_agent: Option<String>,
}

/// The first `limit` characters of `text`, with an ellipsis when cut.
fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    text.chars().take(limit.saturating_sub(1)).collect::<String>() + "…"
}

/// What the card needs beyond the packet: names the packet only refers to.
struct CardContext<'a> {
    state: ConversationState,
    messages: &'a [Message],
    previous_agent: Option<String>,
    queue: Option<String>,
}

fn handoff_view(
    text: &'static Text,
    packet: HandoffPacket,
    context: CardContext<'_>,
) -> HandoffView {
    let CardContext { state, messages, previous_agent, queue } = context;
    let draft_pending = packet.draft.is_some()
        && state != ConversationState::Resolved
        && !messages.iter().any(|message| {
            message.author_kind == AuthorKind::Agent && message.created_at >= packet.created_at
        });
    let (outcome_label, outcome) = match packet.outcome {
        EscalationOutcome::DraftForApproval => (&text.handoff_outcome_draft, "draft_for_approval"),
        _ => (&text.handoff_outcome_hand_off, "hand_off"),
    };
    let label = |known: Option<&'static str>, code: &str| known.unwrap_or(code).to_owned();
    HandoffView {
        open: matches!(state, ConversationState::Queued | ConversationState::Human),
        outcome,
        outcome_label,
        reasons: packet
            .reasons
            .iter()
            .map(|code| (code.clone(), label(text.reason(code), code)))
            .collect(),
        summary: packet.summary,
        model_summary: packet.model_summary.and_then(|summary| summary.text),
        language: match packet.language {
            Some(tandem_domain::Locale::Zh) => "中文".to_owned(),
            Some(tandem_domain::Locale::En) => "English".to_owned(),
            None => String::new(),
        },
        emotions: packet
            .emotions
            .iter()
            .map(|turn| EmotionChip {
                seq: turn.seq,
                label: label(text.emotion(&turn.emotion), &turn.emotion),
                emotion: turn
                    .emotion
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect(),
                sentiment: format!("{:+.2}", turn.sentiment),
                tone: if turn.sentiment <= -0.3 {
                    "neg"
                } else if turn.sentiment >= 0.3 {
                    "pos"
                } else {
                    "neu"
                },
            })
            .collect(),
        intents: packet
            .intents
            .iter()
            .map(|intent| {
                let score = intent.score.clamp(0.0, 1.0);
                (intent.article.clone(), intent.title.clone(), format!("{score:.2}"), score)
            })
            .collect(),
        bot_replies: packet
            .bot_replies
            .iter()
            .map(|reply| BotReplyView {
                seq: reply.seq,
                outcome: reply.outcome.clone(),
                outcome_label: text.bot_outcome(&reply.outcome),
                body: messages
                    .iter()
                    .find(|message| message.seq == reply.seq)
                    .map(|message| shorten(&message.body, 160))
                    .unwrap_or_default(),
                source: reply
                    .source
                    .as_ref()
                    .map(|source| (source.article.clone(), source.title.clone(), source.version)),
            })
            .collect(),
        entities: packet
            .entities
            .iter()
            .map(|entity| {
                (label(text.entity_kind(&entity.kind), &entity.kind), entity.value.clone())
            })
            .collect(),
        actions: packet
            .actions
            .iter()
            .map(|action| {
                let params = action
                    .params
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                (action.action.clone(), action.outcome.clone(), params)
            })
            .collect(),
        customer: CustomerCardView {
            name: packet.customer.name.clone(),
            tier: packet.customer.tier.clone(),
            value: packet.customer.value.clone(),
            history: text
                .conversation_history(packet.customer.conversations, packet.customer.with_people),
            previous_agent,
        },
        skills: packet.skills.join(", "),
        priority: packet.priority,
        queue,
        draft_msg_id: format!("handoff-draft-{}-{}", packet.conversation_id.0, packet.created_at),
        draft: packet.draft,
        draft_pending,
        time: format_time(packet.created_at),
        timestamp: packet.created_at,
    }
}

#[derive(Debug)]
pub struct Action {
    pub name: &'static str,
    pub label: &'static str,
    pub primary: bool,
}

#[derive(Debug)]
pub struct PastConversation {
    pub id: i64,
    pub preview: String,
    pub state_label: &'static str,
    pub time: String,
}

#[derive(Template)]
#[template(path = "pages/conversation.html")]
struct ConversationPage {
    chrome: Chrome,
    /// For supervisors and admins: the active agents the conversation may be given to.
    assignable: Vec<(i64, String)>,
    id: i64,
    state: &'static str,
    state_label: &'static str,
    assignee: String,
    customer_name: String,
    customer_email: String,
    customer_language: String,
    customer_since: String,
    /// The business's id of a customer whose identity it verified.
    customer_verified: Option<String>,
    attributes: Vec<(String, String)>,
    past: Vec<PastConversation>,
    messages: Vec<MessageView>,
    last_seq: i64,
    actions: Vec<Action>,
    client_msg_id: String,
    error: Option<String>,
    handoff: Option<HandoffView>,
    /// The reply box's text: the bot's draft while it awaits approval.
    reply_prefill: String,
    /// The model calls of the whole conversation in one line; `None` when the model was never
    /// involved.
    llm_usage: Option<String>,
}

fn message_view(
    text: &'static Text,
    message: &Message,
    bot_name: &str,
    customer_name: &str,
    decision: Option<&DecisionRecord>,
) -> MessageView {
    let author = match message.author_kind {
        AuthorKind::Customer => customer_name.to_owned(),
        AuthorKind::Bot => message.author_name.clone().unwrap_or_else(|| bot_name.to_owned()),
        AuthorKind::Agent => message.author_name.clone().unwrap_or_default(),
        AuthorKind::Note => {
            format!("{} · {}", message.author_name.clone().unwrap_or_default(), text.internal_note)
        }
        AuthorKind::System => String::new(),
    };
    MessageView {
        seq: message.seq,
        kind: message.author_kind.as_str(),
        author,
        body: message.body.clone(),
        time: format_time(message.created_at),
        timestamp: message.created_at,
        decision: decision.map(|record| decision_view(text, record)),
    }
}

/// The actions offered for a conversation in its current state.
fn actions(text: &'static Text, state: ConversationState, mine: bool) -> Vec<Action> {
    let action = |name, label, primary| Action { name, label, primary };
    match state {
        ConversationState::Bot | ConversationState::Queued => {
            let mut list = vec![action("assign", &text.assign_to_me, true)];
            if state == ConversationState::Queued {
                list.push(action("hand_back", &text.hand_back, false));
            }
            list.push(action("resolve", &text.resolve, false));
            list
        }
        ConversationState::Human => {
            let mut list = Vec::new();
            if !mine {
                list.push(action("assign", &text.assign_to_me, false));
            }
            list.push(action("resolve", &text.resolve, true));
            list.push(action("release", &text.release, false));
            list.push(action("hand_back", &text.hand_back, false));
            list
        }
        ConversationState::Resolved => vec![action("reopen", &text.reopen, true)],
    }
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    error: Option<String>,
}

async fn show_conversation(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let text = Text::for_locale(agent.user.locale);
    let failed = PageError::for_agent(&agent);
    let conversation = conversation_for(&state, &agent, id).await.map_err(failed)?;
    let store = &state.store;
    let customer = store.customer(conversation.customer_id).await.map_err(|e| failed(e.into()))?;
    let inbox = store.inbox(conversation.inbox_id).await.map_err(|e| failed(e.into()))?;
    let bot_name = inbox.map(|inbox| inbox.bot_name).unwrap_or_default();
    let assignee = match conversation.assignee_id {
        Some(user) => store
            .user(user)
            .await
            .map_err(|e| failed(e.into()))?
            .map(|u| u.display_name)
            .unwrap_or_default(),
        None => text.unassigned.to_owned(),
    };
    let mut messages = Vec::new();
    let mut after = 0;
    loop {
        let page =
            store.messages(conversation.id, after, 1000).await.map_err(|e| failed(e.into()))?;
        let done = page.len() < 1000;
        after = page.last().map_or(after, |message| message.seq);
        messages.extend(page);
        if done {
            break;
        }
    }
    let customer_name = customer.as_ref().map(|c| c.name.clone()).unwrap_or_default();
    let manager = agent.user.is_manager();
    let assignable = if manager && conversation.state != ConversationState::Resolved {
        store
            .users(agent.user.workspace_id)
            .await
            .map_err(|e| failed(e.into()))?
            .into_iter()
            .filter(|user| user.active && Some(user.id) != conversation.assignee_id)
            .map(|user| (user.id.0, user.display_name))
            .collect()
    } else {
        Vec::new()
    };
    let decisions: std::collections::HashMap<_, _> =
        store.decisions(conversation.id).await.map_err(|e| failed(e.into()))?.into_iter().collect();
    let past = store
        .customer_conversations(conversation.customer_id, 10)
        .await
        .map_err(|e| failed(e.into()))?
        .into_iter()
        .filter(|other| other.id != conversation.id)
        .map(|other| PastConversation {
            id: other.id.0,
            preview: other.preview.clone(),
            state_label: text.state(other.state),
            time: format_time(other.last_message_at),
        })
        .collect();
    let packet = store.handoff(conversation.id).await.map_err(|e| failed(e.into()))?;
    // The model's calls: the bot's turns and the hand-off summary.
    let mut usage = LlmUsage::of(decisions.values());
    if let Some(summary) = packet.as_ref().and_then(|packet| packet.model_summary.as_ref()) {
        usage.record(&summary.llm);
    }
    let handoff = match packet {
        Some(packet) => {
            let previous_agent = match packet.customer.previous_agent {
                Some(user) => {
                    store.user(user).await.map_err(|e| failed(e.into()))?.map(|u| u.display_name)
                }
                None => None,
            };
            let queue = match packet.queue_id.or(conversation.queue_id) {
                Some(queue) => store
                    .queues(conversation.workspace_id)
                    .await
                    .map_err(|e| failed(e.into()))?
                    .into_iter()
                    .find(|candidate| candidate.id == queue)
                    .map(|queue| queue.name),
                None => None,
            };
            let context = CardContext {
                state: conversation.state,
                messages: &messages,
                previous_agent,
                queue,
            };
            Some(handoff_view(text, packet, context))
        }
        None => None,
    };
    let llm_usage =
        Some(usage).filter(|usage| !usage.is_empty()).map(|usage| text.llm_usage_line(&usage));
    let reply_prefill = handoff
        .as_ref()
        .filter(|card| card.draft_pending)
        .and_then(|card| card.draft.clone())
        .unwrap_or_default();
    let page = ConversationPage {
        chrome: Chrome::new(&agent, "inbox"),
        id: conversation.id.0,
        state: conversation.state.as_str(),
        state_label: text.state(conversation.state),
        assignee,
        customer_email: customer.as_ref().and_then(|c| c.email.clone()).unwrap_or_default(),
        customer_language: customer
            .as_ref()
            .and_then(|c| c.locale)
            .map(|l| l.as_str().to_owned())
            .unwrap_or_default(),
        customer_since: customer.as_ref().map(|c| format_time(c.created_at)).unwrap_or_default(),
        customer_verified: customer
            .as_ref()
            .filter(|c| c.verified)
            .map(|c| c.external_id.clone().unwrap_or_default()),
        attributes: customer.map(|c| c.attributes.into_iter().collect()).unwrap_or_default(),
        past,
        messages: messages
            .iter()
            .map(|message| {
                message_view(text, message, &bot_name, &customer_name, decisions.get(&message.id))
            })
            .collect(),
        last_seq: conversation.last_seq,
        actions: actions(text, conversation.state, conversation.assignee_id == Some(agent.user.id)),
        assignable,
        customer_name,
        client_msg_id: crate::auth::random_token(),
        error: query.error.filter(|error| error.chars().count() <= 300),
        handoff,
        reply_prefill,
        llm_usage,
    };
    Ok(render(&page))
}

#[derive(Debug, Deserialize)]
struct ActionForm {
    csrf: String,
    action: String,
    /// For `assign` by a supervisor: who gets the conversation.
    agent_id: Option<i64>,
}

/// A redirect back to the conversation, carrying an error message to show if there is one.
fn back(id: i64, error: Option<String>) -> axum::response::Response {
    let query = error
        .and_then(|error| serde_urlencoded::to_string([("error", error)]).ok())
        .map_or_else(String::new, |query| format!("?{query}"));
    Redirect::to(&format!("/conversations/{id}{query}")).into_response()
}

async fn submit_action(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.check_csrf(&form.csrf).map_err(failed)?;
    let conversation = conversation_for(&state, &agent, id).await.map_err(failed)?;
    let request = TransitionRequest { action: form.action, agent_id: form.agent_id };
    let outcome = apply_transition(&state, &agent, &conversation, &request)
        .await
        .err()
        .map(|error| error.to_string());
    Ok(back(id, outcome))
}

#[derive(Debug, Deserialize)]
struct MessageForm {
    csrf: String,
    body: String,
    #[serde(default)]
    kind: String,
    client_msg_id: Option<String>,
}

/// The reply box without JavaScript; with it, the script posts to the JSON API instead.
async fn submit_message(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Form(form): Form<MessageForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.check_csrf(&form.csrf).map_err(failed)?;
    let conversation = conversation_for(&state, &agent, id).await.map_err(failed)?;
    let note = form.kind == "note";
    let outcome = state
        .relay
        .agent_message(&conversation, &agent.user, &form.body, form.client_msg_id.as_deref(), note)
        .await
        .err()
        .map(|error| crate::error::ApiError::from(error).to_string());
    Ok(back(id, outcome))
}

#[cfg(test)]
mod tests {
    use tandem_domain::{DecisionRecord, LlmRecord, Locale};

    use super::decision_view;
    use crate::i18n::Text;

    #[test]
    fn a_decision_shows_what_the_model_did_and_why_its_words_were_not_used() {
        let record = DecisionRecord {
            query: "退货期多久".into(),
            outcome: "answer".into(),
            threshold: 0.35,
            candidates: Vec::new(),
            knowledge_version: "1 articles".into(),
            latency_us: 120,
            action: None,
            llm: Some(LlmRecord {
                outcome: "rejected".into(),
                error: None,
                rejected_claims: vec!["30 天".into()],
                attempts: 1,
                prompt_tokens: 312,
                completion_tokens: 45,
                cost: 0.0021,
                latency_ms: 840,
                tool: None,
            }),
        };
        let view = decision_view(Text::for_locale(Locale::Zh), &record);
        let llm = view.llm.unwrap();
        assert!(llm.starts_with("rejected · 无依据： 30 天 · 1 × 次调用"), "{llm}");
        assert!(llm.contains("312+45 tokens") && llm.ends_with("840 ms"), "{llm}");
        let chose = DecisionRecord {
            llm: Some(LlmRecord {
                outcome: "used".into(),
                tool: Some("order-status".into()),
                ..LlmRecord::default()
            }),
            ..record.clone()
        };
        let llm = decision_view(Text::for_locale(Locale::En), &chose).llm.unwrap();
        assert!(llm.starts_with("used · chose the action order-status · "), "{llm}");
        let plain = DecisionRecord { llm: None, ..record };
        assert_eq!(decision_view(Text::for_locale(Locale::En), &plain).llm, None);
    }
}
