//! `GET /conversations/{id}`: the conversation page, with the transcript (each bot message with
//! its decision record), the customer panel, the hand-off card, the actions the conversation's
//! state allows and the reply box.

use askama::Template;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tandem_domain::{
    AuthorKind, Channel, ConversationState, DecisionRecord, IdentityKind, InboxId, LlmUsage,
    Message,
};

use super::assist::{AssistPanel, assist_panel};
use super::decision::{DecisionView, decision_view};
use super::handoff_card::{CardContext, HandoffView, handoff_view};
use super::rating_card::{RatingView, rating_view};
use super::wrapup_card::{WrapupView, wrapup_view};
use crate::AppState;
use crate::api::agents::conversation_for;
use crate::api::assist::assist_for;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::i18n::Text;

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
    /// The whole text as its channel delivered it (an e-mail with its quoted history), when
    /// the body was trimmed from it.
    pub original: Option<String>,
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
    pub channel: &'static str,
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
    /// For admins' export and erase.
    customer_id: i64,
    customer_language: String,
    customer_since: String,
    /// The business's id of a customer whose identity it verified.
    customer_verified: Option<String>,
    attributes: Vec<(String, String)>,
    /// For supervisors and admins: the latest merge into this customer not undone, as (merge
    /// id, merged customer id).
    undo_merge: Option<(i64, i64)>,
    past: Vec<PastConversation>,
    /// The conversation's channel, and an e-mail's subject.
    channel: &'static str,
    subject: Option<String>,
    /// The customer's identities: (label, value, verified).
    identities: Vec<(&'static str, String, bool)>,
    /// The conversation's files: (id, name, size).
    files: Vec<(i64, String, String)>,
    /// Where "Write by e-mail" writes to: the customer's address, when this conversation is on
    /// another channel and the workspace has an e-mail inbox.
    email_to: Option<String>,
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
    /// Suggestions, mood, alerts and the customer, for the agent answering.
    assist: AssistPanel,
    /// What a resolved conversation came to.
    wrapup: Option<WrapupView>,
    /// The customer's satisfaction rating, once given.
    rating: Option<RatingView>,
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
        original: message
            .meta
            .as_ref()
            .and_then(|meta| meta.external.as_ref())
            .and_then(|external| external.original.clone()),
    }
}

/// How the customer panel names an identity's kind.
fn identity_label(text: &'static Text, kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::Email => &text.email,
        IdentityKind::Phone => &text.phone,
        IdentityKind::Wecom => text.channel(Channel::Wecom),
        IdentityKind::Wechat => text.channel(Channel::Wechat),
        IdentityKind::Feishu => text.channel(Channel::Feishu),
        IdentityKind::Dingtalk => text.channel(Channel::Dingtalk),
    }
}

fn file_size(bytes: i64) -> String {
    match bytes {
        ..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{} KB", (bytes + 1023) / 1024),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
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
pub(super) struct PageQuery {
    error: Option<String>,
}

pub(super) async fn show_conversation_page(
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
    let channel = inbox.as_ref().map_or(Channel::Web, |inbox| inbox.channel);
    let bot_name = inbox.map(|inbox| inbox.bot_name).unwrap_or_default();
    // Each past conversation's channel, from its inbox.
    let channels: std::collections::HashMap<InboxId, Channel> = store
        .inboxes(agent.user.workspace_id)
        .await
        .map_err(|e| failed(e.into()))?
        .into_iter()
        .map(|inbox| (inbox.id, inbox.channel))
        .collect();
    let identities = store
        .customer_identities(conversation.customer_id)
        .await
        .map_err(|e| failed(e.into()))?
        .into_iter()
        .map(|identity| (identity_label(text, identity.kind), identity.value, identity.verified))
        .collect();
    let files = store
        .conversation_attachments(conversation.id)
        .await
        .map_err(|e| failed(e.into()))?
        .into_iter()
        .map(|file| (file.id, file.filename, file_size(file.size)))
        .collect();
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
            channel: text.channel(channels.get(&other.inbox_id).copied().unwrap_or(Channel::Web)),
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
    let assist = assist_panel(text, assist_for(&state, &conversation).await.map_err(failed)?);
    let wrapup = match conversation.state {
        ConversationState::Resolved => store
            .wrapup(conversation.id)
            .await
            .map_err(|e| failed(e.into()))?
            .map(|wrapup| wrapup_view(text, wrapup)),
        _ => None,
    };
    let rating = match store.rating(conversation.id).await.map_err(|e| failed(e.into()))? {
        Some(rating) => {
            let inbox = store.inbox(conversation.inbox_id).await.map_err(|e| failed(e.into()))?;
            let csat = match inbox {
                Some(inbox) => {
                    crate::api::csat::inbox_csat(&state, &inbox).await.map_err(failed)?
                }
                None => crate::api::csat::default_inbox_csat(),
            };
            Some(rating_view(text, agent.user.locale, &csat, rating))
        }
        None => None,
    };
    let undo_merge = if agent.user.is_manager() {
        store
            .customer_merges(agent.user.workspace_id, conversation.customer_id)
            .await
            .map_err(|e| failed(e.into()))?
            .into_iter()
            .find(|merge| merge.keep == conversation.customer_id && merge.undone_at.is_none())
            .map(|merge| (merge.id, merge.merged.0))
    } else {
        None
    };
    let email_to = if channel != Channel::Email
        && crate::channels::compose::email_inbox(&state, &agent).await.map_err(failed)?.is_some()
    {
        crate::channels::compose::address_of(&state, conversation.customer_id)
            .await
            .map_err(failed)?
    } else {
        None
    };
    let subject = messages
        .iter()
        .filter_map(|message| message.meta.as_ref()?.external.as_ref()?.subject.clone())
        .next();
    let page = ConversationPage {
        undo_merge,
        channel: text.channel(channel),
        subject,
        identities,
        files,
        email_to,
        chrome: Chrome::new(&agent, "inbox"),
        id: conversation.id.0,
        state: conversation.state.as_str(),
        state_label: text.state(conversation.state),
        assignee,
        customer_email: customer.as_ref().and_then(|c| c.email.clone()).unwrap_or_default(),
        customer_id: conversation.customer_id.0,
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
        assist,
        wrapup,
        rating,
    };
    Ok(render(&page))
}
