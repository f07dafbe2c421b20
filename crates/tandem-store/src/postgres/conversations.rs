//! Conversations and their messages: appending with gapless `seq`, ownership changes through
//! the state machine with the routing record following the owner, hand-off packets, the bot's
//! decision records and the webhook events all of these raise, each in the transaction of the
//! change it reports.
//!
//! Writes run at READ COMMITTED alongside other nodes' writes: each one first locks the
//! conversation row (`FOR UPDATE`, see [`lock`]) and reads it again, so a message's `seq` is
//! the locked row's `last_seq + 1` (gapless, in commit order) and transitions see the owner
//! they change. Finding or creating a customer's latest conversation locks the customer row
//! first (workspace → customer → conversation is the crate's lock order).

use std::sync::Arc;

use tandem_domain::{
    AuthorKind, Channel, Conversation, ConversationId, ConversationState, CustomerId,
    DecisionRecord, HandoffPacket, InboxId, LlmOutcome, LlmUsage, Message, MessageId, MessageMeta,
    Millis, ModelSummary, PendingAction, Transition, UserId, WebhookEventType, WorkspaceId, Wrapup,
    conversation::Ownership,
};

use super::rows::{CONVERSATION_COLUMNS, MESSAGE_COLUMNS, conversation_from_row, message_from_row};
use super::sql::{Db, Param, execute, get, json, query, query_one, query_opt, to_json};
use super::webhooks;
use crate::shared::conversations as shared;
use crate::shared::webhooks as payload;
use crate::{
    Appended, Change, ConversationCounts, ConversationFilter, Entity, MessageTarget, NewMessage,
    RouteChange, StoreError, StoreResult, SuggestionUse, SuggestionUses, now_millis,
};

pub(super) async fn load(db: &Db, id: ConversationId) -> StoreResult<Conversation> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
    query_opt(db, &sql, &[&id.0])
        .await?
        .as_ref()
        .map(conversation_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound(Entity::Conversation))
}

/// Locks the conversation's row for the rest of the transaction and reads it as it is now:
/// what every write to a conversation (its messages, owner, route, packet, wrap-up, pending
/// action) does first.
pub(super) async fn lock(db: &Db, id: ConversationId) -> StoreResult<Conversation> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 FOR UPDATE");
    query_opt(db, &sql, &[&id.0])
        .await?
        .as_ref()
        .map(conversation_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound(Entity::Conversation))
}

pub(super) async fn conversation(db: &Db, id: ConversationId) -> StoreResult<Option<Conversation>> {
    match load(db, id).await {
        Err(StoreError::NotFound(_)) => Ok(None),
        other => other.map(Some),
    }
}

pub(super) async fn latest(
    db: &Db,
    inbox: InboxId,
    customer: CustomerId,
) -> StoreResult<Option<Conversation>> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE customer_id = $1 AND inbox_id = $2 ORDER BY id DESC LIMIT 1"
    );
    query_opt(db, &sql, &[&customer.0, &inbox.0])
        .await?
        .as_ref()
        .map(conversation_from_row)
        .transpose()
}

/// [`latest`], its row locked (the customer's row must be locked already).
async fn latest_for_update(
    db: &Db,
    inbox: InboxId,
    customer: CustomerId,
) -> StoreResult<Option<Conversation>> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE customer_id = $1 AND inbox_id = $2 ORDER BY id DESC LIMIT 1 FOR UPDATE"
    );
    query_opt(db, &sql, &[&customer.0, &inbox.0])
        .await?
        .as_ref()
        .map(conversation_from_row)
        .transpose()
}

pub(super) async fn list(
    db: &Db,
    workspace: WorkspaceId,
    filter: ConversationFilter,
    channel: Option<Channel>,
    limit: u32,
) -> StoreResult<Vec<Conversation>> {
    let (condition, user, state) = match filter {
        ConversationFilter::Mine(user) => {
            ("assignee_id = $2 AND state = 'human'", Some(user.0), None)
        }
        ConversationFilter::State(state) => ("state = $2", None, Some(state.as_str())),
        ConversationFilter::Open => ("state != 'resolved'", None, None),
        ConversationFilter::All => ("TRUE", None, None),
    };
    let channel = channel.map(Channel::as_str);
    let mut params: Vec<Param<'_>> = vec![&workspace.0];
    if let Some(user) = &user {
        params.push(user);
    }
    if let Some(state) = &state {
        params.push(state);
    }
    let on_channel = match &channel {
        Some(channel) => {
            params.push(channel);
            format!(" AND inbox_id IN (SELECT id FROM inboxes WHERE channel = ${})", params.len())
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE workspace_id = $1 AND {condition}{on_channel}
         ORDER BY last_message_at DESC, id DESC LIMIT {limit}"
    );
    let rows = query(db, &sql, &params).await?;
    rows.iter().map(conversation_from_row).collect()
}

pub(super) async fn counts(
    db: &Db,
    workspace: WorkspaceId,
    me: UserId,
) -> StoreResult<ConversationCounts> {
    let mut counts = ConversationCounts::default();
    let rows = query(
        db,
        "SELECT state, COUNT(*), COUNT(*) FILTER (WHERE assignee_id = $2)
         FROM conversations WHERE workspace_id = $1 GROUP BY state",
        &[&workspace.0, &me.0],
    )
    .await?;
    for row in &rows {
        let count: i64 = get(row, 1)?;
        match ConversationState::parse(&get::<String>(row, 0)?) {
            Some(ConversationState::Bot) => counts.bot = count,
            Some(ConversationState::Queued) => counts.queued = count,
            Some(ConversationState::Human) => {
                counts.human = count;
                counts.mine = get(row, 2)?;
            }
            Some(ConversationState::Resolved) => counts.resolved = count,
            None => {}
        }
    }
    Ok(counts)
}

pub(super) async fn of_customer(
    db: &Db,
    customer: CustomerId,
    limit: u32,
) -> StoreResult<Vec<Conversation>> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE customer_id = $1 ORDER BY id DESC LIMIT {limit}"
    );
    query(db, &sql, &[&customer.0]).await?.iter().map(conversation_from_row).collect()
}

/// Every conversation waiting for or owned by a person, and the bot's after-hours tickets.
pub(super) async fn routed(db: &Db, workspace: WorkspaceId) -> StoreResult<Vec<Conversation>> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE workspace_id = $1 AND (state IN ('queued', 'human') OR (state = 'bot' AND route IS NOT NULL))
         ORDER BY id"
    );
    query(db, &sql, &[&workspace.0]).await?.iter().map(conversation_from_row).collect()
}

pub(super) async fn messages(
    db: &Db,
    conversation: ConversationId,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    let rows = query(db, &sql, &[&conversation.0, &after_seq, &i64::from(limit)]).await?;
    rows.iter().map(message_from_row).collect()
}

/// See [`crate::Store::awaiting_bot`].
pub(super) async fn awaiting_bot(db: &Db, since: Millis, limit: u32) -> StoreResult<Vec<Appended>> {
    let columns: String = MESSAGE_COLUMNS
        .split(", ")
        .map(|column| format!("m.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns} FROM conversations c
         JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
         WHERE c.state = 'bot' AND m.author_kind = 'customer' AND m.created_at >= $1
         ORDER BY m.created_at LIMIT $2"
    );
    let rows = query(db, &sql, &[&since, &i64::from(limit)]).await?;
    let messages = rows.iter().map(message_from_row).collect::<StoreResult<Vec<Message>>>()?;
    let mut appended = Vec::with_capacity(messages.len());
    for message in messages {
        let conversation = load(db, message.conversation_id).await?;
        appended.push(Appended { message, conversation, created: true });
    }
    Ok(appended)
}

pub(super) async fn message_by_client_id(
    db: &Db,
    conversation: ConversationId,
    client_msg_id: &str,
) -> StoreResult<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND client_msg_id = $2"
    );
    query_opt(db, &sql, &[&conversation.0, &client_msg_id])
        .await?
        .as_ref()
        .map(message_from_row)
        .transpose()
}

/// The message stored with `client_msg_id` in one of the customer's conversations in the
/// inbox, as [`append`] answers a retry.
async fn stored_in_inbox(
    db: &Db,
    inbox: InboxId,
    customer: CustomerId,
    client_msg_id: &str,
) -> StoreResult<Option<Appended>> {
    let found = query_opt(
        db,
        "SELECT m.conversation_id FROM messages m
         JOIN conversations c ON c.id = m.conversation_id
         WHERE m.client_msg_id = $1 AND c.inbox_id = $2 AND c.customer_id = $3
         ORDER BY m.id DESC LIMIT 1",
        &[&client_msg_id, &inbox.0, &customer.0],
    )
    .await?;
    let Some(row) = found else { return Ok(None) };
    let id = ConversationId(get(&row, 0)?);
    let conversation = load(db, id).await?;
    let message = message_by_client_id(db, id, client_msg_id)
        .await?
        .ok_or(StoreError::NotFound(Entity::Conversation))?;
    Ok(Some(Appended { message, conversation, created: false }))
}

async fn create(
    db: &Db,
    inbox_id: InboxId,
    customer_id: CustomerId,
    now: Millis,
    changes: &mut Vec<Change>,
) -> StoreResult<Conversation> {
    let workspace_id: i64 =
        match query_opt(db, "SELECT workspace_id FROM inboxes WHERE id = $1", &[&inbox_id.0])
            .await?
        {
            Some(row) => get(&row, 0)?,
            None => return Err(StoreError::NotFound(Entity::Inbox)),
        };
    let row = query_one(
        db,
        "INSERT INTO conversations (workspace_id, inbox_id, customer_id, state, last_message_at, created_at, updated_at)
         VALUES ($1, $2, $3, 'bot', $4, $4, $4) RETURNING id",
        &[&workspace_id, &inbox_id.0, &customer_id.0, &now],
    )
    .await?;
    let conversation = shared::started(get(&row, 0)?, workspace_id, inbox_id, customer_id, now);
    changes.push(Change::Conversation(Arc::new(conversation.clone())));
    Ok(conversation)
}

pub(super) async fn append(
    db: &Db,
    changes: &mut Vec<Change>,
    new: NewMessage,
) -> StoreResult<Appended> {
    let now = now_millis();
    let mut conversation = match new.target {
        MessageTarget::Conversation(id) => lock(db, id).await?,
        MessageTarget::CustomerLatest { inbox_id, customer_id } => {
            // The customer's row serializes finding-or-creating: two first messages at once
            // make one conversation. (An unknown customer fails below, on the foreign key.)
            // A customer merged into another one writes in the kept customer's conversation.
            let customer_id = super::customers::lock_kept(db, customer_id).await?;
            match latest_for_update(db, inbox_id, customer_id).await? {
                Some(conversation) => conversation,
                None => create(db, inbox_id, customer_id, now, changes).await?,
            }
        }
        MessageTarget::NewConversation { inbox_id, customer_id } => {
            // The customer's row serializes this with other appends of theirs, as above.
            let customer_id = super::customers::lock_kept(db, customer_id).await?;
            // A retried delivery (the same e-mail again) starts no second conversation.
            if let Some(client_msg_id) = &new.client_msg_id
                && let Some(stored) =
                    stored_in_inbox(db, inbox_id, customer_id, client_msg_id).await?
            {
                return Ok(stored);
            }
            create(db, inbox_id, customer_id, now, changes).await?
        }
    };
    if let Some(client_msg_id) = &new.client_msg_id
        && let Some(message) = message_by_client_id(db, conversation.id, client_msg_id).await?
    {
        return Ok(Appended { message, conversation, created: false });
    }
    if new.only_while_bot_owns {
        shared::bot_may_reply(&conversation)?;
    }
    if new.reopen_if_resolved && conversation.state == ConversationState::Resolved {
        let ownership = conversation.ownership().apply(Transition::Reopen)?;
        save_ownership(db, &mut conversation, ownership, now, None, changes).await?;
    }
    let accepts = new.author_kind == AuthorKind::Agent
        && conversation.state == ConversationState::Human
        && new.author_id == conversation.assignee_id.map(|agent| agent.0);
    if let Some(route) = conversation.route.as_mut().filter(|_| accepts)
        && route.accepted_at.is_none()
    {
        // The assigned agent's first reply turns the offer into theirs.
        route.accepted_at = Some(now);
        save_route(db, &conversation).await?;
    }
    let author = (new.author_kind, new.author_id, new.author_name);
    let decision = new.decision.as_ref().map(to_json).transpose()?;
    let topic = shared::message_topic(new.meta.as_ref(), new.decision.as_ref());
    let message =
        insert_message(db, &mut conversation, author, (new.body, new.client_msg_id, new.meta), now)
            .await?;
    if let Some(record) = decision {
        execute(
            db,
            "INSERT INTO bot_turns (message_id, conversation_id, record, created_at) VALUES ($1, $2, $3, $4)",
            &[&message.id.0, &conversation.id.0, &record, &now],
        )
        .await?;
    }
    if let Some(record) = new.decision.as_ref() {
        // What the bot's turn changed, in the audit log in the same transaction.
        let bot = message.author_name.as_deref();
        super::audit::bot_turn(db, &conversation, bot, record, now).await?;
    }
    let author = (message.author_kind, message.author_id);
    super::insight::message(db, &conversation, author, now, new.sentiment, topic.as_deref())
        .await?;
    changes.push(Change::Message {
        conversation: Arc::new(conversation.clone()),
        message: Arc::new(message.clone()),
    });
    Ok(Appended { message, conversation, created: true })
}

/// Inserts a message with the conversation's next seq, updates the conversation's summary
/// fields and records its `message.created` event. The conversation's row is locked (and
/// `conversation` read after the lock), so seq has no gaps and follows commit order.
async fn insert_message(
    db: &Db,
    conversation: &mut Conversation,
    (author_kind, author_id, author_name): (AuthorKind, Option<i64>, Option<String>),
    (body, client_msg_id, meta): (String, Option<String>, Option<MessageMeta>),
    now: Millis,
) -> StoreResult<Message> {
    let seq = conversation.last_seq + 1;
    let meta_json = meta.as_ref().map(to_json).transpose()?;
    let row = query_one(
        db,
        "INSERT INTO messages (conversation_id, seq, author_kind, author_id, author_name, body, client_msg_id, created_at, meta)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            &conversation.id.0,
            &seq,
            &author_kind.as_str(),
            &author_id,
            &author_name,
            &body,
            &client_msg_id,
            &now,
            &meta_json,
        ],
    )
    .await?;
    let id = MessageId(get(&row, 0)?);
    shared::message_added(conversation, author_kind, &body, seq, now);
    execute(
        db,
        "UPDATE conversations SET last_seq = $2, preview = $3, last_message_at = $4, updated_at = $5 WHERE id = $1",
        &[&conversation.id.0, &seq, &conversation.preview, &conversation.last_message_at, &now],
    )
    .await?;
    let message = Message {
        id,
        conversation_id: conversation.id,
        seq,
        author_kind,
        author_id,
        author_name,
        body,
        client_msg_id,
        meta,
        created_at: now,
    };
    if shared::announced(author_kind) {
        webhooks::record(db, conversation, WebhookEventType::MessageCreated, now, |snapshot| {
            Ok(payload::message_created(snapshot, &message))
        })
        .await?;
    }
    Ok(message)
}

/// Writes a new owner for a conversation (its row locked), records the change, and queues the
/// change event and the webhook events (assigned, resolved). Its routing record follows the
/// owner: waiting since now when it joins the queue (keeping its place when a person gives it
/// back), offered (not yet accepted) when a person is assigned, gone when the bot has it or it
/// is resolved.
async fn save_ownership(
    db: &Db,
    conversation: &mut Conversation,
    ownership: Ownership,
    now: Millis,
    wrapup: Option<&Wrapup>,
    changes: &mut Vec<Change>,
) -> StoreResult<()> {
    let (previous_state, previous_assignee) = (conversation.state, conversation.assignee_id);
    conversation.route = shared::route_for(conversation, ownership.state, now);
    execute(
        db,
        "UPDATE conversations SET state = $2, assignee_id = $3, updated_at = $4 WHERE id = $1",
        &[
            &conversation.id.0,
            &ownership.state.as_str(),
            &ownership.assignee.map(|user| user.0),
            &now,
        ],
    )
    .await?;
    conversation.state = ownership.state;
    conversation.assignee_id = ownership.assignee;
    conversation.updated_at = now;
    save_route(db, conversation).await?;
    let state = ownership.state;
    super::insight::update(db, conversation, |facts| {
        shared::owner_changed(facts, state, ownership.assignee, now)
    })
    .await?;
    if let Some(topic) = wrapup
        .filter(|_| state == ConversationState::Resolved)
        .and_then(|wrapup| wrapup.topic.as_deref())
    {
        super::insight::set_topic(db, conversation, topic).await?;
    }
    changes.push(Change::Conversation(Arc::new(conversation.clone())));
    if let Some(assignee) = ownership.assignee.filter(|agent| Some(*agent) != previous_assignee) {
        let agent = super::accounts::user(db, assignee)
            .await?
            .ok_or(StoreError::NotFound(Entity::Agent))?;
        let event = WebhookEventType::ConversationAssigned;
        webhooks::record(db, conversation, event, now, |snapshot| {
            Ok(payload::assigned(snapshot, &agent, previous_state, previous_assignee))
        })
        .await?;
    }
    let resolved = ownership.state == ConversationState::Resolved
        && previous_state != ConversationState::Resolved;
    if resolved {
        // The wrap-up describes this resolution only: an earlier one goes either way.
        let wrapup = wrapup.map(|wrapup| Wrapup {
            conversation_id: conversation.id,
            created_at: now,
            ..wrapup.clone()
        });
        match &wrapup {
            Some(wrapup) => save_wrapup(db, wrapup).await?,
            None => {
                execute(
                    db,
                    "DELETE FROM wrapups WHERE conversation_id = $1",
                    &[&conversation.id.0],
                )
                .await?;
            }
        }
        let event = WebhookEventType::ConversationResolved;
        webhooks::record(db, conversation, event, now, |snapshot| {
            Ok(payload::resolved(snapshot, previous_state, previous_assignee, wrapup.as_ref()))
        })
        .await?;
    }
    Ok(())
}

async fn save_route(db: &Db, conversation: &Conversation) -> StoreResult<()> {
    let route = conversation.route.as_ref().map(to_json).transpose()?;
    execute(
        db,
        "UPDATE conversations SET route = $2, queue_id = $3 WHERE id = $1",
        &[&conversation.id.0, &route, &conversation.queue_id.map(|queue| queue.0)],
    )
    .await?;
    Ok(())
}

pub(super) async fn route(
    db: &Db,
    changes: &mut Vec<Change>,
    conversation: ConversationId,
    change: RouteChange,
) -> StoreResult<Conversation> {
    let now = now_millis();
    let mut conversation = lock(db, conversation).await?;
    shared::route_still_wanted(&conversation, &change)?;
    if let Some(queue) = change.queue_id {
        let row = query_one(
            db,
            "SELECT EXISTS (SELECT 1 FROM queues WHERE id = $1 AND workspace_id = $2)",
            &[&queue.0, &conversation.workspace_id.0],
        )
        .await?;
        let known: bool = get(&row, 0)?;
        if !known {
            return Err(StoreError::NotFound(Entity::Queue));
        }
        conversation.queue_id = Some(queue);
    }
    if let Some(until) = change.follow_up_at {
        shared::follow_up(&mut conversation, &change, until, now)?;
    }
    if let Some(transition) = change.transition {
        let ownership = conversation.ownership().apply(transition)?;
        if let Transition::Assign { agent } = transition {
            let assignable = super::accounts::user(db, agent)
                .await?
                .is_some_and(|user| user.active && user.workspace_id == conversation.workspace_id);
            if !assignable {
                return Err(StoreError::NotFound(Entity::Agent));
            }
        }
        if let (Some(skip), Some(route)) = (change.skip, conversation.route.as_mut())
            && !route.skip.contains(&skip)
        {
            route.skip.push(skip);
        }
        let wrapup = change.wrapup.as_ref();
        save_ownership(db, &mut conversation, ownership, now, wrapup, changes).await?;
    }
    shared::set_route_settings(&mut conversation, change.skills, change.priority, change.sticky);
    save_route(db, &conversation).await?;
    if change.transition.is_none() {
        changes.push(Change::Conversation(Arc::new(conversation.clone())));
    }
    if let Some(packet) = &change.packet {
        execute(
            db,
            "INSERT INTO handoffs (conversation_id, packet, created_at) VALUES ($1, $2, $3)",
            &[&conversation.id.0, &to_json(packet)?, &now],
        )
        .await?;
        super::insight::update(db, &conversation, |facts| facts.handed_off(now, &packet.reasons))
            .await?;
        let after_hours = change.follow_up_at.is_some();
        super::audit::handoff(db, &conversation, packet, after_hours, now).await?;
        webhooks::record(
            db,
            &conversation,
            WebhookEventType::ConversationHandedOff,
            now,
            |snapshot| Ok(payload::handed_off(snapshot, packet)),
        )
        .await?;
    }
    if let Some(body) = change.system_message {
        let system = (AuthorKind::System, None, None);
        let message =
            insert_message(db, &mut conversation, system, (body, None, None), now).await?;
        changes.push(Change::Message {
            conversation: Arc::new(conversation.clone()),
            message: Arc::new(message),
        });
    }
    Ok(conversation)
}

pub(super) async fn decisions(
    db: &Db,
    conversation: ConversationId,
) -> StoreResult<Vec<(MessageId, DecisionRecord)>> {
    let rows = query(
        db,
        "SELECT message_id, record FROM bot_turns WHERE conversation_id = $1 ORDER BY message_id",
        &[&conversation.0],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let record =
                json(row, 1)?.ok_or_else(|| StoreError::database("NULL in bot_turns.record"))?;
            Ok((MessageId(get(row, 0)?), record))
        })
        .collect()
}

pub(super) async fn llm_usage(
    db: &Db,
    workspace: WorkspaceId,
    since: Millis,
) -> StoreResult<LlmUsage> {
    // One group per outcome, the records' JSON read by PostgreSQL, so only a few sums cross
    // into Rust however many turns there were. Turns without an LLM record make a NULL group,
    // skipped below. The hand-off summaries the model wrote count too (their records are in
    // the packets).
    let rows = query(
        db,
        "SELECT llm ->> 'outcome' AS outcome, COUNT(*),
                COALESCE(SUM((llm ->> 'prompt_tokens')::DOUBLE PRECISION), 0)::DOUBLE PRECISION,
                COALESCE(SUM((llm ->> 'completion_tokens')::DOUBLE PRECISION), 0)::DOUBLE PRECISION,
                COALESCE(SUM((llm ->> 'cost')::DOUBLE PRECISION), 0)::DOUBLE PRECISION
         FROM (SELECT t.record::json -> 'llm' AS llm
               FROM bot_turns t JOIN conversations c ON c.id = t.conversation_id
               WHERE t.created_at >= $2 AND c.workspace_id = $1
               UNION ALL
               SELECT h.packet::json -> 'model_summary' -> 'llm'
               FROM handoffs h JOIN conversations c ON c.id = h.conversation_id
               WHERE h.created_at >= $2 AND c.workspace_id = $1) AS records
         GROUP BY 1",
        &[&workspace.0, &since],
    )
    .await?;
    let mut usage = LlmUsage::default();
    for row in &rows {
        let Some(outcome) = get::<Option<String>>(row, 0)? else { continue };
        let count: i64 = get(row, 1)?;
        let prompt_tokens: f64 = get(row, 2)?;
        let completion_tokens: f64 = get(row, 3)?;
        let cost: f64 = get(row, 4)?;
        let tokens = (prompt_tokens as u64, completion_tokens as u64);
        usage.add(LlmOutcome::parse(&outcome), count as u64, tokens, cost);
    }
    Ok(usage)
}

pub(super) async fn set_pending_action(
    db: &Db,
    conversation: ConversationId,
    pending: Option<PendingAction>,
) -> StoreResult<()> {
    lock(db, conversation).await?;
    let pending = pending.as_ref().map(to_json).transpose()?;
    let updated = execute(
        db,
        "UPDATE conversations SET pending_action = $2 WHERE id = $1",
        &[&conversation.0, &pending],
    )
    .await?;
    if updated == 0 {
        return Err(StoreError::NotFound(Entity::Conversation));
    }
    Ok(())
}

pub(super) async fn handoff(
    db: &Db,
    conversation: ConversationId,
) -> StoreResult<Option<HandoffPacket>> {
    let row = query_opt(
        db,
        "SELECT packet FROM handoffs WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1",
        &[&conversation.0],
    )
    .await?;
    match row {
        Some(row) => json(&row, 0),
        None => Ok(None),
    }
}

pub(super) async fn set_model_summary(
    db: &Db,
    conversation: ConversationId,
    summary: ModelSummary,
) -> StoreResult<()> {
    // The packet changes under the conversation's lock (an unknown conversation has no
    // packet). It is rewritten here rather than with jsonb_set, which PostgreSQL refuses on
    // text with a `\u0000` escape.
    query_opt(db, "SELECT id FROM conversations WHERE id = $1 FOR UPDATE", &[&conversation.0])
        .await?;
    let row = query_opt(
        db,
        "SELECT id, packet FROM handoffs WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1",
        &[&conversation.0],
    )
    .await?
    .ok_or(StoreError::NotFound(Entity::HandoffPacket))?;
    let id: i64 = get(&row, 0)?;
    let mut packet: serde_json::Value =
        serde_json::from_str(&get::<String>(&row, 1)?).map_err(StoreError::database)?;
    let summary = serde_json::to_value(&summary).map_err(StoreError::database)?;
    packet
        .as_object_mut()
        .ok_or_else(|| StoreError::database("a hand-off packet that is not a JSON object"))?
        .insert("model_summary".to_owned(), summary);
    execute(db, "UPDATE handoffs SET packet = $2 WHERE id = $1", &[&id, &to_json(&packet)?])
        .await?;
    Ok(())
}

pub(super) async fn wrapup(db: &Db, conversation: ConversationId) -> StoreResult<Option<Wrapup>> {
    let row = query_opt(
        db,
        "SELECT summary, key_points, topic, created_at, model_summary FROM wrapups
         WHERE conversation_id = $1",
        &[&conversation.0],
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Wrapup {
        conversation_id: conversation,
        summary: get(&row, 0)?,
        key_points: json(&row, 1)?.unwrap_or_default(),
        topic: get(&row, 2)?,
        model_summary: get(&row, 4)?,
        created_at: get(&row, 3)?,
    }))
}

pub(super) async fn save_wrapup(db: &Db, wrapup: &Wrapup) -> StoreResult<()> {
    lock(db, wrapup.conversation_id).await?;
    execute(
        db,
        "INSERT INTO wrapups (conversation_id, summary, key_points, topic, created_at,
             model_summary)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (conversation_id) DO UPDATE SET summary = excluded.summary,
             key_points = excluded.key_points, topic = excluded.topic,
             created_at = excluded.created_at, model_summary = excluded.model_summary",
        &[
            &wrapup.conversation_id.0,
            &wrapup.summary,
            &to_json(&wrapup.key_points)?,
            &wrapup.topic,
            &wrapup.created_at,
            &wrapup.model_summary,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn set_wrapup_topic(
    db: &Db,
    conversation: ConversationId,
    topic: Option<&str>,
) -> StoreResult<Wrapup> {
    // An unknown conversation has no wrap-up either.
    let locked = match lock(db, conversation).await {
        Err(StoreError::NotFound(_)) => return Err(StoreError::NotFound(Entity::Wrapup)),
        other => other?,
    };
    execute(
        db,
        "UPDATE wrapups SET topic = $2 WHERE conversation_id = $1",
        &[&conversation.0, &topic],
    )
    .await?;
    let wrapup = wrapup(db, conversation).await?.ok_or(StoreError::NotFound(Entity::Wrapup))?;
    if let Some(topic) = topic {
        super::insight::set_topic(db, &locked, topic).await?;
    }
    Ok(wrapup)
}

pub(super) async fn record_suggestion_use(
    db: &Db,
    conversation: ConversationId,
    used: SuggestionUse,
) -> StoreResult<()> {
    query_opt(db, "SELECT id FROM conversations WHERE id = $1 FOR UPDATE", &[&conversation.0])
        .await?;
    let known = query_opt(
        db,
        "SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2",
        &[&used.message.0, &conversation.0],
    )
    .await?
    .is_some();
    if !known {
        return Err(StoreError::NotFound(Entity::Conversation));
    }
    execute(
        db,
        "INSERT INTO suggestion_uses
             (conversation_id, message_id, article_key, edited, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (message_id) DO NOTHING",
        &[&conversation.0, &used.message.0, &used.article, &used.edited, &now_millis()],
    )
    .await?;
    Ok(())
}

pub(super) async fn suggestion_uses(
    db: &Db,
    conversation: ConversationId,
) -> StoreResult<SuggestionUses> {
    let row = query_one(
        db,
        "SELECT COUNT(*) FILTER (WHERE NOT edited), COUNT(*) FILTER (WHERE edited)
         FROM suggestion_uses WHERE conversation_id = $1",
        &[&conversation.0],
    )
    .await?;
    let count = |index| -> StoreResult<u32> {
        let count: i64 = get(&row, index)?;
        u32::try_from(count).map_err(StoreError::database)
    };
    Ok(SuggestionUses { sent_unchanged: count(0)?, sent_edited: count(1)? })
}
