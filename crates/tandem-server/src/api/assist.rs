//! Agent assist: what the console shows beside a conversation while a person answers it — the
//! articles that fit the customer's latest message, how the customer felt message by message,
//! the alerts an agent should not miss, who the customer is, and how the suggestions were used.
//! [`assist_for`] computes it once for both the JSON API and the console's panel. On request,
//! the workspace's model drafts a reply from the suggested articles ([`draft_reply`]); the draft
//! goes to the agent only, never to the customer.

use axum::extract::State;
use serde::Serialize;
use tandem_bot::{AgentActionError, DraftUnavailable};
use tandem_domain::{
    AuthorKind, Conversation, ConversationId, ConversationState, LlmRecord, Locale, Message, Millis,
};
use tandem_flow::assist::{AlertCode, FirstReplyWait, SlaStanding, alerts, sla_standing};
use tandem_store::SuggestionUse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::api::agents::conversation_for;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::i18n::Text;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_assist))
        .routes(routes!(draft_reply))
        .routes(routes!(run_action))
}

/// At most this many articles are suggested.
const MAX_SUGGESTIONS: usize = 3;
/// At most this many of the customer's other conversations are listed.
const PREVIOUS_CONVERSATIONS: u32 = 10;

/// An article that may answer the customer's latest message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// The article's key.
    pub key: String,
    pub title: String,
    /// The article's answer, which the console inserts into the reply box for editing.
    pub answer: String,
    /// The engine's score, 0 to 1.
    pub score: f32,
}

/// How one customer message reads.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EmotionPoint {
    /// The message's `seq`.
    pub seq: i64,
    /// `anger`, `frustration`, `anxiety`, `sadness`, `joy` or `neutral`.
    pub emotion: String,
    /// -1 (very negative) to 1 (very positive).
    pub sentiment: f32,
}

/// Something the agent should not miss.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// `anger_rising`, `legal_threat`, `regulated_topic`, `personal_data`, `vip_waiting` or
    /// `sla_breach_soon` (waiting for a person's first reply, and the queue's first-response
    /// target is near or already passed: `why` says which).
    pub code: String,
    /// Why it was raised, in English (the console says it in the agent's language).
    pub why: String,
}

/// Another conversation of the same customer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviousConversation {
    pub id: ConversationId,
    pub state: ConversationState,
    pub created_at: Millis,
    /// Its wrap-up summary when it was resolved, else its hand-off summary (the model's when it
    /// wrote one), if it was handed to a person.
    pub summary: Option<String>,
}

/// Who the customer is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssistCustomer {
    pub name: String,
    /// The `tier` attribute the business set, if any.
    pub tier: Option<String>,
    /// Newest first.
    pub previous: Vec<PreviousConversation>,
}

/// How the conversation's suggestions were used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Acceptance {
    /// Customer messages that had at least one suggestion.
    pub shown: u32,
    /// Replies sent with a suggestion inserted (unchanged plus edited).
    pub inserted: u32,
    pub sent_unchanged: u32,
    pub sent_edited: u32,
    /// Shown but never inserted.
    pub ignored: u32,
}

/// Everything the assist panel shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Assist {
    /// The `seq` of the customer's latest message, which the suggestions are for.
    pub message_seq: Option<i64>,
    /// Best first, at most three, each scoring above half the threshold the bot answers at.
    pub suggestions: Vec<Suggestion>,
    /// One per customer message, oldest first.
    pub emotions: Vec<EmotionPoint>,
    pub alerts: Vec<Alert>,
    pub customer: AssistCustomer,
    pub acceptance: Acceptance,
    /// Whether the workspace's model is on to draft a reply
    /// (`POST /api/v1/conversations/{id}/assist/draft`).
    pub can_draft: bool,
    /// The workspace's enabled business actions, with what the conversation gives them; those
    /// `runnable` can be run for the agent (`POST …/assist/actions/{key}`).
    pub actions: Vec<AssistAction>,
}

/// A business action as the panel offers it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssistAction {
    pub key: String,
    pub name: String,
    /// Parameters found in the customer's messages or profile, by name.
    pub found: std::collections::BTreeMap<String, String>,
    /// Parameters the customer has not given yet.
    pub missing: Vec<String>,
    /// The action needs a signed-in (verified) customer, and this one is not.
    pub needs_verified_customer: bool,
    pub runnable: bool,
}

/// What a business action run for the agent gave: shown to the agent first, never sent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssistActionRun {
    /// The reply the bot would have sent, for the agent to insert, edit and send.
    pub reply: String,
    /// The call: outcome (`done`, `not_found`, `error`...), parameters (secrets and identity
    /// values masked) and each HTTP call.
    pub record: tandem_domain::ActionRecord,
}

/// The assist, with its alerts also as codes (and where the SLA stands) for the console to word
/// in the agent's language.
pub struct AssistData {
    pub conversation: ConversationId,
    pub assist: Assist,
    pub alert_codes: Vec<AlertCode>,
    pub sla: Option<SlaStanding>,
}

/// A reply the workspace's model drafted for the agent to check, edit and send.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssistDraft {
    /// The `seq` of the customer message the draft answers: the latest with suggestions.
    pub message_seq: i64,
    /// The draft, when every claim of it checks out against the articles; `null` when the
    /// model's text was rejected, it refused, or the call failed (`llm` says which and why).
    pub text: Option<String>,
    /// The keys of the suggested articles the model was given, best first.
    pub articles: Vec<String>,
    /// The model call: outcome (`used`, `rejected`, `refused`, `error`, `skipped`), error code,
    /// rejected claims, tokens, cost and time.
    pub llm: LlmRecord,
}

/// Computes the assist of a conversation the caller may read ([`conversation_for`]).
pub async fn assist_for(state: &AppState, conversation: &Conversation) -> ApiResult<AssistData> {
    let store = &state.store;
    let messages = all_messages(state, conversation.id).await?;
    let customer_messages: Vec<&Message> =
        messages.iter().filter(|message| message.author_kind == AuthorKind::Customer).collect();
    let channel = store.inbox(conversation.inbox_id).await?.map(|inbox| inbox.channel);

    // Suggestions for every customer message: those of the latest message that has any are
    // shown (a "转人工" after the question keeps the question's), the others only count
    // towards how many were shown.
    let mut shown = 0;
    let mut suggestions = Vec::new();
    for message in &customer_messages {
        let found = suggestions_for(state, conversation, message, channel).await?;
        if !found.is_empty() {
            shown += 1;
            suggestions = found;
        }
    }

    let analyses: Vec<tandem_text::Analysis> =
        customer_messages.iter().map(|message| tandem_text::analyze(&message.body)).collect();
    let emotions = customer_messages
        .iter()
        .zip(&analyses)
        .map(|(message, analysis)| EmotionPoint {
            seq: message.seq,
            emotion: analysis.emotion.as_str().to_owned(),
            sentiment: analysis.sentiment,
        })
        .collect();

    let customer = store.customer(conversation.customer_id).await?;
    let texts: Vec<&str> =
        customer_messages.iter().rev().map(|message| message.body.as_str()).collect();
    let actions = match &customer {
        Some(customer) => state
            .knowledge
            .actions_for_agent(conversation.workspace_id, customer, &texts)
            .await?
            .into_iter()
            .map(|offer| AssistAction {
                runnable: offer.runnable(),
                key: offer.key,
                name: offer.name,
                found: offer.found,
                missing: offer.missing,
                needs_verified_customer: offer.needs_verified_customer,
            })
            .collect(),
        None => Vec::new(),
    };
    let tier = customer.as_ref().and_then(|customer| customer.attributes.get("tier").cloned());
    let policy = store.escalation_policy(conversation.workspace_id).await?;
    let vip = tier.as_deref().is_some_and(|tier| {
        policy.vip_tiers.iter().any(|listed| listed.eq_ignore_ascii_case(tier.trim()))
    });
    // Notes and system messages are not answers: the customer waits if they spoke last.
    let customer_spoke_last = messages
        .iter()
        .rev()
        .find(|message| {
            matches!(
                message.author_kind,
                AuthorKind::Customer | AuthorKind::Agent | AuthorKind::Bot
            )
        })
        .is_some_and(|message| message.author_kind == AuthorKind::Customer);
    let sla = sla_of(state, conversation, &messages).await?;
    let alert_codes = alerts(&analyses, vip && customer_spoke_last, sla);
    let english = Text::for_locale(Locale::En);
    let alerts = alert_codes
        .iter()
        .map(|&code| Alert {
            code: code.as_str().to_owned(),
            why: match (code, sla) {
                (AlertCode::SlaBreachSoon, Some(standing)) => english.sla_why(standing),
                _ => english.alert(code).1.to_owned(),
            },
        })
        .collect();

    let mut previous = Vec::new();
    for other in
        store.customer_conversations(conversation.customer_id, PREVIOUS_CONVERSATIONS + 1).await?
    {
        if other.id == conversation.id || previous.len() as u32 == PREVIOUS_CONVERSATIONS {
            continue;
        }
        // Its wrap-up once resolved; before that, what the hand-off said.
        let summary = match store.wrapup(other.id).await? {
            Some(wrapup) if other.state == ConversationState::Resolved => Some(wrapup.summary),
            _ => store.handoff(other.id).await?.map(|packet| {
                packet.model_summary.and_then(|summary| summary.text).unwrap_or(packet.summary)
            }),
        };
        previous.push(PreviousConversation {
            id: other.id,
            state: other.state,
            created_at: other.created_at,
            summary: summary.filter(|summary| !summary.is_empty()),
        });
    }

    let uses = store.suggestion_uses(conversation.id).await?;
    let inserted = uses.sent_unchanged + uses.sent_edited;
    let acceptance = Acceptance {
        shown,
        inserted,
        sent_unchanged: uses.sent_unchanged,
        sent_edited: uses.sent_edited,
        ignored: shown.saturating_sub(inserted),
    };

    let assist = Assist {
        message_seq: customer_messages.last().map(|message| message.seq),
        suggestions,
        emotions,
        alerts,
        customer: AssistCustomer {
            name: customer.map(|customer| customer.name).unwrap_or_default(),
            tier,
            previous,
        },
        acceptance,
        can_draft: state.knowledge.drafts_available(conversation.workspace_id).await,
        actions,
    };
    Ok(AssistData { conversation: conversation.id, assist, alert_codes, sla })
}

/// The articles suggested for one customer message: best first, at most three, each scoring
/// above half the threshold the bot answers at.
async fn suggestions_for(
    state: &AppState,
    conversation: &Conversation,
    message: &Message,
    channel: Option<tandem_domain::Channel>,
) -> ApiResult<Vec<Suggestion>> {
    let found = state
        .knowledge
        .suggestions(conversation.workspace_id, &message.body, channel, MAX_SUGGESTIONS)
        .await?;
    Ok(found
        .into_iter()
        .map(|suggested| Suggestion {
            key: suggested.article.key,
            title: suggested.article.title,
            answer: suggested.article.answer,
            score: suggested.score,
        })
        .collect())
}

/// Where the conversation stands against its queue's first-response SLA, when it waits for a
/// person (queued or assigned) and is at risk by the router's measure
/// ([`RouterConfig::sla_risk_percent`](tandem_routing::RouterConfig), which the server's router
/// runs with by default).
async fn sla_of(
    state: &AppState,
    conversation: &Conversation,
    messages: &[Message],
) -> ApiResult<Option<SlaStanding>> {
    let waiting =
        matches!(conversation.state, ConversationState::Queued | ConversationState::Human);
    let (Some(route), Some(queue_id), true) =
        (conversation.route.as_ref(), conversation.queue_id, waiting)
    else {
        return Ok(None);
    };
    let queues = state.store.queues(conversation.workspace_id).await?;
    let Some(queue) = queues.into_iter().find(|queue| queue.id == queue_id) else {
        return Ok(None);
    };
    let wait = FirstReplyWait {
        waiting_since: route.queued_at,
        last_agent_reply_at: messages
            .iter()
            .rev()
            .find(|message| message.author_kind == AuthorKind::Agent)
            .map(|message| message.created_at),
        sla_ms: queue.routing.sla_ms,
        risk_percent: tandem_routing::RouterConfig::default().sla_risk_percent,
    };
    Ok(sla_standing(&wait, tandem_store::now_millis()))
}

/// Records that a reply just sent came from a suggested article (`article`, when one was
/// inserted). The reply is already with the customer, so a failure here is only logged: the
/// agent's retry would not record it either (the message is stored once).
pub async fn record_use(state: &AppState, reply: &Message, article: Option<String>, edited: bool) {
    let Some(article) = article else { return };
    let used = SuggestionUse { message: reply.id, article, edited };
    if let Err(error) = state.store.record_suggestion_use(reply.conversation_id, used).await {
        tracing::warn!(%error, message = reply.id.0, "could not record a suggestion's use");
    }
}

/// Every message of the conversation, oldest first.
async fn all_messages(state: &AppState, conversation: ConversationId) -> ApiResult<Vec<Message>> {
    const PAGE: u32 = 1000;
    let mut messages: Vec<Message> = Vec::new();
    loop {
        let after = messages.last().map_or(0, |message| message.seq);
        let page = state.store.messages(conversation, after, PAGE).await?;
        let done = page.len() < PAGE as usize;
        messages.extend(page);
        if done {
            return Ok(messages);
        }
    }
}

/// What may help an agent answer the conversation now: suggested articles for the customer's
/// latest message, the customer's mood message by message, alerts, the customer and their
/// earlier conversations, and how the suggestions were used. Any agent of the workspace may
/// read it.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/assist", operation_id = "getConversationAssist", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The assist.", body = Assist), Errors))]
async fn show_assist(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<Assist>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    Ok(ApiJson(assist_for(&state, &conversation).await?.assist))
}

/// Asks the workspace's model for a reply to the customer's latest question that has suggested
/// articles, written from the best of them (at most three) in the customer's language and
/// checked claim by claim against them like the bot's answers. The draft is only returned to
/// the agent, who edits and sends it; a rejected or refused draft has no text, and `llm` says
/// why. Any agent of the workspace may ask.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/assist/draft", operation_id = "draftConversationReply", tag = "agents",
    params(("id" = i64, Path, description = "The conversation.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The draft, or why there is none.", body = AssistDraft), Errors))]
async fn draft_reply(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<AssistDraft>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let workspace = conversation.workspace_id;
    // Off: refuse before reading the conversation, as nothing could be drafted.
    if !state.knowledge.drafts_available(workspace).await {
        return Err(ApiError::ModelOff);
    }
    let messages = all_messages(&state, conversation.id).await?;
    let channel = state.store.inbox(conversation.inbox_id).await?.map(|inbox| inbox.channel);
    // The question the panel's suggestions are for: the latest customer message with any.
    let mut question = None;
    for message in
        messages.iter().rev().filter(|message| message.author_kind == AuthorKind::Customer)
    {
        if !suggestions_for(&state, &conversation, message, channel).await?.is_empty() {
            question = Some(message);
            break;
        }
    }
    let question = question.ok_or(ApiError::NothingToDraft)?;
    let customer = state.store.customer(conversation.customer_id).await?;
    // The customer's language, as the bot would answer them.
    let locale = tandem_flow::detect_locale(&question.body)
        .or(customer.and_then(|customer| customer.locale))
        .unwrap_or(Locale::En);
    let draft =
        state.knowledge.draft_for_agent(workspace, &question.body, channel, locale).await.map_err(
            |error| match error {
                DraftUnavailable::ModelOff => ApiError::ModelOff,
                DraftUnavailable::NoArticles => ApiError::NothingToDraft,
                DraftUnavailable::Store(error) => error.into(),
            },
        )?;
    Ok(ApiJson(AssistDraft {
        message_seq: question.seq,
        text: draft.text,
        articles: draft.articles,
        llm: draft.llm,
    }))
}

/// Runs the workspace's business action `key` for the agent with the parameters the
/// conversation gives (the customer's messages, newest first, and profile), under the same
/// identity rules as the bot. The reply it would have sent is returned to the agent only,
/// to insert, edit and send. Any agent of the workspace may run one.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/assist/actions/{key}", operation_id = "runConversationAction", tag = "agents",
    params(("id" = i64, Path, description = "The conversation."), ("key" = String, Path, description = "The action's key.")),
    security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "What the action gave.", body = AssistActionRun), Errors))]
async fn run_action(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath((id, key)): ApiPath<(i64, String)>,
) -> ApiResult<ApiJson<AssistActionRun>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let customer = state
        .store
        .customer(conversation.customer_id)
        .await?
        .ok_or(ApiError::NotFound(tandem_store::Entity::Customer))?;
    let messages = all_messages(&state, conversation.id).await?;
    let texts: Vec<&str> = messages
        .iter()
        .rev()
        .filter(|message| message.author_kind == AuthorKind::Customer)
        .map(|message| message.body.as_str())
        .collect();
    let latest = texts.first().copied().unwrap_or_default();
    let locale = tandem_flow::detect_locale(latest).or(customer.locale).unwrap_or(Locale::En);
    let run = state
        .knowledge
        .run_for_agent(conversation.workspace_id, &key, &customer, &texts, locale)
        .await
        .map_err(|error| match error {
            AgentActionError::NotFound => ApiError::NotFound(tandem_store::Entity::Action),
            AgentActionError::NeedsVerifiedCustomer => ApiError::CustomerNotVerified,
            AgentActionError::Missing(names) => ApiError::ActionParamsMissing(names),
            AgentActionError::Store(error) => error.into(),
        })?;
    Ok(ApiJson(AssistActionRun { reply: run.reply, record: run.record }))
}
