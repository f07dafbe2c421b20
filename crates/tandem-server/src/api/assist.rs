//! Agent assist: what the console shows beside a conversation while a person answers it — the
//! articles that fit the customer's latest message, how the customer felt message by message,
//! the alerts an agent should not miss, who the customer is, and how the suggestions were used.
//! [`assist_for`] computes it once for both the JSON API and the console's panel.

use axum::extract::{Path, State};
use serde::Serialize;
use tandem_domain::{
    AuthorKind, Conversation, ConversationId, ConversationState, Locale, Message, Millis,
};
use tandem_flow::assist::{AlertCode, alerts};
use tandem_store::SuggestionUse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::api::agents::conversation_for;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiResult};
use crate::i18n::Text;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_assist))
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
    /// `anger_rising`, `legal_threat`, `regulated_topic`, `personal_data` or `vip_waiting`.
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
}

/// The assist, with its alerts also as codes for the console to word in the agent's language.
pub struct AssistData {
    pub assist: Assist,
    pub alert_codes: Vec<AlertCode>,
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
        let (decision, articles) =
            state.knowledge.explain(conversation.workspace_id, &message.body, channel).await?;
        let floor = decision.threshold / 2.0;
        let found: Vec<Suggestion> = decision
            .candidates
            .iter()
            .zip(articles)
            // Business actions take part in the engine as articles; they are run, not quoted.
            .filter(|(candidate, article)| {
                candidate.score > floor && !article.key.starts_with("action:")
            })
            .take(MAX_SUGGESTIONS)
            .map(|(candidate, article)| Suggestion {
                key: article.key,
                title: article.title,
                answer: article.answer,
                score: candidate.score,
            })
            .collect();
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
    let alert_codes = alerts(&analyses, vip && customer_spoke_last);
    let english = Text::for_locale(Locale::En);
    let alerts = alert_codes
        .iter()
        .map(|&code| Alert {
            code: code.as_str().to_owned(),
            why: english.alert(code).1.to_owned(),
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
    };
    Ok(AssistData { assist, alert_codes })
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
    Path(id): Path<i64>,
) -> ApiResult<ApiJson<Assist>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    Ok(ApiJson(assist_for(&state, &conversation).await?.assist))
}
