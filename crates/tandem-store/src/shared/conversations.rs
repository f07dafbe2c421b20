//! A conversation's own fields as both stores change them: a new one, the inbox's preview of a
//! message and its topic, and the routing record and report facts that follow a new owner.

use tandem_domain::{
    AuthorKind, Conversation, ConversationFacts, ConversationId, ConversationState, CustomerId,
    DecisionRecord, InboxId, MessageMeta, Millis, RouteInfo, UserId, WorkspaceId,
};

use crate::{Conflict, RouteChange, StoreResult};

/// A conversation just started: the bot's, with no message yet.
pub(crate) fn started(
    id: i64,
    workspace_id: i64,
    inbox_id: InboxId,
    customer_id: CustomerId,
    now: Millis,
) -> Conversation {
    Conversation {
        id: ConversationId(id),
        workspace_id: WorkspaceId(workspace_id),
        inbox_id,
        customer_id,
        state: ConversationState::Bot,
        assignee_id: None,
        queue_id: None,
        route: None,
        pending_action: None,
        last_seq: 0,
        preview: String::new(),
        last_message_at: now,
        created_at: now,
        updated_at: now,
    }
}

/// Refuses a bot message (`Conflict`) once the bot may no longer reply.
pub(crate) fn bot_may_reply(conversation: &Conversation) -> StoreResult<()> {
    if conversation.state.bot_may_reply() {
        return Ok(());
    }
    Err(Conflict::BotMayNotReply { conversation: conversation.id, state: conversation.state }
        .into())
}

/// The topic a message counts for in the reports: the article it answered from, or the
/// business action its decision ran.
pub(crate) fn message_topic(
    meta: Option<&MessageMeta>,
    decision: Option<&DecisionRecord>,
) -> Option<String> {
    let topic = meta.and_then(|meta| meta.source.as_ref()).map(|source| source.article.clone());
    topic.or_else(|| {
        let action = decision?.action.as_ref()?;
        Some(format!("action:{}", action.action))
    })
}

/// After hours: a ticket that stays with the bot until its queue opens at `until` (refused,
/// `Conflict`, with a transition or when the bot does not have it).
pub(crate) fn follow_up(
    conversation: &mut Conversation,
    change: &RouteChange,
    until: Millis,
    now: Millis,
) -> StoreResult<()> {
    if change.transition.is_some() || conversation.state != ConversationState::Bot {
        return Err(Conflict::NotTheBots {
            conversation: conversation.id,
            state: conversation.state,
        }
        .into());
    }
    let route = conversation
        .route
        .get_or_insert_with(|| RouteInfo { queued_at: now, ..RouteInfo::default() });
    route.follow_up_at = Some(until);
    Ok(())
}

/// The routing settings a change gives a conversation that is being routed.
pub(crate) fn set_route_settings(
    conversation: &mut Conversation,
    skills: Option<Vec<String>>,
    priority: Option<i64>,
    sticky: Option<UserId>,
) {
    if let Some(route) = conversation.route.as_mut() {
        if let Some(skills) = skills {
            route.skills = skills;
        }
        if let Some(priority) = priority {
            route.priority = priority;
        }
        if sticky.is_some() {
            route.sticky = sticky;
        }
    }
}

/// A conversation after a message at `seq`: its last activity where the customer sees the
/// message, and the inbox's preview where the customer wrote it (that is what an agent triages
/// on).
pub(crate) fn message_added(
    conversation: &mut Conversation,
    author_kind: AuthorKind,
    body: &str,
    seq: i64,
    now: Millis,
) {
    conversation.last_seq = seq;
    conversation.updated_at = now;
    if author_kind.visible_to_customer() {
        conversation.last_message_at = now;
    }
    if author_kind == AuthorKind::Customer {
        conversation.preview = preview(body);
    }
}

/// Whether a message raises `message.created`: customer, agent and bot messages; never
/// internal notes or system lines.
pub(crate) fn announced(author_kind: AuthorKind) -> bool {
    matches!(author_kind, AuthorKind::Customer | AuthorKind::Agent | AuthorKind::Bot)
}

/// What the inbox shows of a customer's message: its first line, at most 140 characters.
pub(crate) fn preview(body: &str) -> String {
    body.lines().next().unwrap_or_default().chars().take(140).collect()
}

/// The routing record of `conversation` under its new `state`: waiting since now when it joins
/// the queue (keeping its place when a person gives it back), offered (not yet accepted) when a
/// person is assigned, gone when the bot has it or it is resolved. Takes the old one.
pub(crate) fn route_for(
    conversation: &mut Conversation,
    state: ConversationState,
    now: Millis,
) -> Option<RouteInfo> {
    match state {
        ConversationState::Bot | ConversationState::Resolved => None,
        ConversationState::Queued => {
            // Back in the queue after a person had it, it keeps its place.
            let mut route = conversation
                .route
                .take()
                .unwrap_or(RouteInfo { queued_at: now, ..RouteInfo::default() });
            route.assigned_at = None;
            route.accepted_at = None;
            Some(route)
        }
        ConversationState::Human => {
            let mut route = conversation
                .route
                .take()
                .unwrap_or(RouteInfo { queued_at: now, ..RouteInfo::default() });
            route.assigned_at = Some(now);
            route.accepted_at = None;
            route.follow_up_at = None;
            Some(route)
        }
    }
}

/// The report facts of a conversation that changed owner: handed off, assigned, resolved.
pub(crate) fn owner_changed(
    facts: &mut ConversationFacts,
    state: ConversationState,
    assignee: Option<UserId>,
    now: Millis,
) {
    match state {
        ConversationState::Queued => facts.handed_off(now, &[]),
        ConversationState::Human => {
            facts.handed_off(now, &[]);
            facts.assigned_at.get_or_insert(now);
            facts.agent_id = assignee;
        }
        ConversationState::Resolved => facts.resolved(now),
        ConversationState::Bot => {}
    }
}

/// Refuses a route change (`Conflict`) whose conditions no longer hold: the state it expects,
/// or the offer to the agent it would take back.
pub(crate) fn route_still_wanted(
    conversation: &Conversation,
    change: &RouteChange,
) -> StoreResult<()> {
    if let Some(expected) = change.only_if_state.filter(|state| *state != conversation.state) {
        return Err(Conflict::StateChanged {
            conversation: conversation.id,
            state: conversation.state,
            expected,
        }
        .into());
    }
    if let Some(agent) = change.only_if_offered_to {
        let offered = conversation.state == ConversationState::Human
            && conversation.assignee_id == Some(agent)
            && conversation.route.as_ref().is_some_and(|route| route.accepted_at.is_none());
        if !offered {
            return Err(Conflict::OfferWithdrawn { conversation: conversation.id, agent }.into());
        }
    }
    Ok(())
}
