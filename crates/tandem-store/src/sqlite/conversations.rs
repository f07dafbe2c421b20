//! Conversations and their messages: appending with gapless `seq`, ownership changes through
//! the state machine with the routing record following the owner, hand-off packets, the bot's
//! decision records and the webhook events all of these raise, each in the transaction of the
//! change it reports.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use tandem_domain::{
    AuthorKind, Channel, Conversation, ConversationId, ConversationState, CustomerId,
    DecisionRecord, HandoffPacket, InboxId, LlmOutcome, LlmUsage, Message, MessageId, MessageMeta,
    Millis, ModelSummary, PendingAction, Transition, UserId, WebhookEventType, WorkspaceId, Wrapup,
    conversation::Ownership,
};

use super::rows::{
    CONVERSATION_COLUMNS, MESSAGE_COLUMNS, conversation_from_row, json_column, message_from_row,
    to_json,
};
use super::webhooks;
use crate::shared::conversations as shared;
use crate::shared::webhooks as payload;
use crate::{
    Appended, Change, ConversationCounts, ConversationFilter, Entity, MessageTarget, NewMessage,
    RouteChange, StoreError, StoreResult, SuggestionUse, SuggestionUses, now_millis,
};

pub(super) fn load(connection: &Connection, id: ConversationId) -> StoreResult<Conversation> {
    connection
        .prepare_cached(&format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"))?
        .query_row([id.0], conversation_from_row)
        .optional()?
        .ok_or(StoreError::NotFound(Entity::Conversation))
}

pub(super) fn conversation(
    connection: &Connection,
    id: ConversationId,
) -> StoreResult<Option<Conversation>> {
    match load(connection, id) {
        Err(StoreError::NotFound(_)) => Ok(None),
        other => other.map(Some),
    }
}

pub(super) fn latest(
    connection: &Connection,
    inbox: InboxId,
    customer: CustomerId,
) -> StoreResult<Option<Conversation>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE customer_id = ?1 AND inbox_id = ?2 ORDER BY id DESC LIMIT 1"
        ))?
        .query_row([customer.0, inbox.0], conversation_from_row)
        .optional()?)
}

pub(super) fn list(
    connection: &Connection,
    workspace: WorkspaceId,
    filter: ConversationFilter,
    channel: Option<Channel>,
    limit: u32,
) -> StoreResult<Vec<Conversation>> {
    let (condition, argument): (&str, Option<String>) = match filter {
        ConversationFilter::Mine(user) => {
            ("assignee_id = ?2 AND state = 'human'", Some(user.0.to_string()))
        }
        ConversationFilter::State(state) => ("state = ?2", Some(state.as_str().to_owned())),
        ConversationFilter::Open => ("state != 'resolved'", None),
        ConversationFilter::All => ("1", None),
    };
    // The channel is the last parameter: ?2 when the filter takes none, ?3 when it does.
    let on_channel = match (channel, argument.is_some()) {
        (None, _) => "",
        (Some(_), false) => " AND inbox_id IN (SELECT id FROM inboxes WHERE channel = ?2)",
        (Some(_), true) => " AND inbox_id IN (SELECT id FROM inboxes WHERE channel = ?3)",
    };
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE workspace_id = ?1 AND {condition}{on_channel}
         ORDER BY last_message_at DESC, id DESC LIMIT {limit}"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let mut arguments: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(workspace.0)];
    if let Some(argument) = argument {
        arguments.push(Box::new(argument));
    }
    if let Some(channel) = channel {
        arguments.push(Box::new(channel.as_str()));
    }
    let rows = statement.query_map(
        rusqlite::params_from_iter(arguments.iter().map(|argument| argument.as_ref())),
        conversation_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn counts(
    connection: &Connection,
    workspace: WorkspaceId,
    me: UserId,
) -> StoreResult<ConversationCounts> {
    let mut counts = ConversationCounts::default();
    let mut statement = connection.prepare_cached(
        "SELECT state, COUNT(*), SUM(assignee_id = ?2) FROM conversations WHERE workspace_id = ?1 GROUP BY state",
    )?;
    let mut rows = statement.query(params![workspace.0, me.0])?;
    while let Some(row) = rows.next()? {
        let count: i64 = row.get(1)?;
        match ConversationState::parse(&row.get::<_, String>(0)?) {
            Some(ConversationState::Bot) => counts.bot = count,
            Some(ConversationState::Queued) => counts.queued = count,
            Some(ConversationState::Human) => {
                counts.human = count;
                counts.mine = row.get::<_, Option<i64>>(2)?.unwrap_or(0);
            }
            Some(ConversationState::Resolved) => counts.resolved = count,
            None => {}
        }
    }
    Ok(counts)
}

pub(super) fn of_customer(
    connection: &Connection,
    customer: CustomerId,
    limit: u32,
) -> StoreResult<Vec<Conversation>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE customer_id = ?1 ORDER BY id DESC LIMIT {limit}"
    ))?;
    let rows = statement.query_map([customer.0], conversation_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every conversation waiting for or owned by a person, and the bot's after-hours tickets.
pub(super) fn routed(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<Vec<Conversation>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE workspace_id = ?1 AND (state IN ('queued', 'human') OR (state = 'bot' AND route IS NOT NULL))
         ORDER BY id"
    ))?;
    let rows = statement.query_map([workspace.0], conversation_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn messages(
    connection: &Connection,
    conversation: ConversationId,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = statement.query_map(params![conversation.0, after_seq, limit], message_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// See [`crate::Store::awaiting_bot`].
pub(super) fn awaiting_bot(
    connection: &Connection,
    since: Millis,
    limit: u32,
) -> StoreResult<Vec<Appended>> {
    let columns: String = MESSAGE_COLUMNS
        .split(", ")
        .map(|column| format!("m.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {columns} FROM conversations c
         JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
         WHERE c.state = 'bot' AND m.author_kind = 'customer' AND m.created_at >= ?1
         ORDER BY m.created_at LIMIT ?2"
    ))?;
    let messages = statement
        .query_map(params![since, limit], message_from_row)?
        .collect::<rusqlite::Result<Vec<Message>>>()?;
    messages
        .into_iter()
        .map(|message| {
            let conversation = load(connection, message.conversation_id)?;
            Ok(Appended { message, conversation, created: true })
        })
        .collect()
}

pub(super) fn message_by_client_id(
    connection: &Connection,
    conversation: ConversationId,
    client_msg_id: &str,
) -> StoreResult<Option<Message>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND client_msg_id = ?2"
        ))?
        .query_row(params![conversation.0, client_msg_id], message_from_row)
        .optional()?)
}

/// The message stored with `client_msg_id` in one of the customer's conversations in the
/// inbox, as [`append`] answers a retry.
fn stored_in_inbox(
    connection: &Connection,
    inbox: InboxId,
    customer: CustomerId,
    client_msg_id: &str,
) -> StoreResult<Option<Appended>> {
    let found = connection
        .prepare_cached(
            "SELECT m.id, m.conversation_id FROM messages m
             JOIN conversations c ON c.id = m.conversation_id
             WHERE m.client_msg_id = ?1 AND c.inbox_id = ?2 AND c.customer_id = ?3
             ORDER BY m.id DESC LIMIT 1",
        )?
        .query_row(params![client_msg_id, inbox.0, customer.0], |row| {
            Ok(ConversationId(row.get(1)?))
        })
        .optional()?;
    let Some(id) = found else { return Ok(None) };
    let conversation = load(connection, id)?;
    let message = message_by_client_id(connection, id, client_msg_id)?
        .ok_or(StoreError::NotFound(Entity::Conversation))?;
    Ok(Some(Appended { message, conversation, created: false }))
}

fn create(
    connection: &Connection,
    inbox_id: InboxId,
    customer_id: CustomerId,
    now: Millis,
    changes: &mut Vec<Change>,
) -> StoreResult<Conversation> {
    let workspace_id: i64 = connection
        .prepare_cached("SELECT workspace_id FROM inboxes WHERE id = ?1")?
        .query_row([inbox_id.0], |row| row.get(0))
        .optional()?
        .ok_or(StoreError::NotFound(Entity::Inbox))?;
    connection
        .prepare_cached(
            "INSERT INTO conversations (workspace_id, inbox_id, customer_id, state, last_message_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'bot', ?4, ?4, ?4)",
        )?
        .execute(params![workspace_id, inbox_id.0, customer_id.0, now])?;
    let conversation =
        shared::started(connection.last_insert_rowid(), workspace_id, inbox_id, customer_id, now);
    changes.push(Change::Conversation(Arc::new(conversation.clone())));
    Ok(conversation)
}

pub(super) fn append(
    connection: &Connection,
    changes: &mut Vec<Change>,
    new: NewMessage,
) -> StoreResult<Appended> {
    let now = now_millis();
    let mut conversation = match new.target {
        MessageTarget::Conversation(id) => load(connection, id)?,
        MessageTarget::CustomerLatest { inbox_id, customer_id } => {
            // A customer merged into another one writes in the kept customer's conversation.
            let customer_id = super::customers::kept(connection, customer_id)?;
            match latest(connection, inbox_id, customer_id)? {
                Some(conversation) => conversation,
                None => create(connection, inbox_id, customer_id, now, changes)?,
            }
        }
        MessageTarget::NewConversation { inbox_id, customer_id } => {
            let customer_id = super::customers::kept(connection, customer_id)?;
            // A retried delivery (the same e-mail again) starts no second conversation.
            if let Some(client_msg_id) = &new.client_msg_id
                && let Some(stored) =
                    stored_in_inbox(connection, inbox_id, customer_id, client_msg_id)?
            {
                return Ok(stored);
            }
            create(connection, inbox_id, customer_id, now, changes)?
        }
    };
    if let Some(client_msg_id) = &new.client_msg_id {
        let existing = connection
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND client_msg_id = ?2"
            ))?
            .query_row(params![conversation.id.0, client_msg_id], message_from_row)
            .optional()?;
        if let Some(message) = existing {
            return Ok(Appended { message, conversation, created: false });
        }
    }
    if new.only_while_bot_owns {
        shared::bot_may_reply(&conversation)?;
    }
    if new.reopen_if_resolved && conversation.state == ConversationState::Resolved {
        let ownership = conversation.ownership().apply(Transition::Reopen)?;
        save_ownership(connection, &mut conversation, ownership, now, None, changes)?;
    }
    let accepts = new.author_kind == AuthorKind::Agent
        && conversation.state == ConversationState::Human
        && new.author_id == conversation.assignee_id.map(|agent| agent.0);
    if let Some(route) = conversation.route.as_mut().filter(|_| accepts)
        && route.accepted_at.is_none()
    {
        // The assigned agent's first reply turns the offer into theirs.
        route.accepted_at = Some(now);
        save_route(connection, &conversation)?;
    }
    let author = (new.author_kind, new.author_id, new.author_name);
    let decision = new.decision.as_ref().map(to_json).transpose()?;
    let topic = shared::message_topic(new.meta.as_ref(), new.decision.as_ref());
    let message = insert_message(
        connection,
        &mut conversation,
        author,
        (new.body, new.client_msg_id, new.meta),
        now,
    )?;
    if let Some(record) = decision {
        connection
            .prepare_cached(
                "INSERT INTO bot_turns (message_id, conversation_id, record, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![message.id.0, conversation.id.0, record, now])?;
    }
    if let Some(record) = new.decision.as_ref() {
        // What the bot's turn changed, in the audit log in the same transaction.
        let bot = message.author_name.as_deref();
        super::audit::bot_turn(connection, &conversation, bot, record, now)?;
    }
    let author = (message.author_kind, message.author_id);
    super::insight::message(
        connection,
        &conversation,
        author,
        now,
        new.sentiment,
        topic.as_deref(),
    )?;
    changes.push(Change::Message {
        conversation: Arc::new(conversation.clone()),
        message: Arc::new(message.clone()),
    });
    Ok(Appended { message, conversation, created: true })
}

/// Inserts a message with the conversation's next seq, updates the conversation's summary
/// fields and records its `message.created` event. Runs inside the writer's transaction, so
/// seq has no gaps and follows commit order.
fn insert_message(
    connection: &Connection,
    conversation: &mut Conversation,
    (author_kind, author_id, author_name): (AuthorKind, Option<i64>, Option<String>),
    (body, client_msg_id, meta): (String, Option<String>, Option<MessageMeta>),
    now: Millis,
) -> StoreResult<Message> {
    let seq = conversation.last_seq + 1;
    connection
        .prepare_cached(
            "INSERT INTO messages (conversation_id, seq, author_kind, author_id, author_name, body, client_msg_id, created_at, meta)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            conversation.id.0,
            seq,
            author_kind.as_str(),
            author_id,
            author_name,
            body,
            client_msg_id,
            now,
            meta.as_ref().map(to_json).transpose()?
        ])?;
    let id = MessageId(connection.last_insert_rowid());
    shared::message_added(conversation, author_kind, &body, seq, now);
    connection
        .prepare_cached(
            "UPDATE conversations SET last_seq = ?2, preview = ?3, last_message_at = ?4, updated_at = ?5 WHERE id = ?1",
        )?
        .execute(params![conversation.id.0, seq, conversation.preview, conversation.last_message_at, now])?;
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
        webhooks::record(
            connection,
            conversation,
            WebhookEventType::MessageCreated,
            now,
            |snapshot| Ok(payload::message_created(snapshot, &message)),
        )?;
    }
    Ok(message)
}

/// Writes a new owner for a conversation, records the change, and queues the change event and
/// the webhook events (assigned, resolved). Its routing record follows the owner: waiting since
/// now when it joins the queue (keeping its place when a person gives it back), offered (not
/// yet accepted) when a person is assigned, gone when the bot has it or it is resolved.
fn save_ownership(
    connection: &Connection,
    conversation: &mut Conversation,
    ownership: Ownership,
    now: Millis,
    wrapup: Option<&Wrapup>,
    changes: &mut Vec<Change>,
) -> StoreResult<()> {
    let (previous_state, previous_assignee) = (conversation.state, conversation.assignee_id);
    conversation.route = shared::route_for(conversation, ownership.state, now);
    connection
        .prepare_cached(
            "UPDATE conversations SET state = ?2, assignee_id = ?3, updated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![
            conversation.id.0,
            ownership.state.as_str(),
            ownership.assignee.map(|user| user.0),
            now
        ])?;
    conversation.state = ownership.state;
    conversation.assignee_id = ownership.assignee;
    conversation.updated_at = now;
    save_route(connection, conversation)?;
    let state = ownership.state;
    super::insight::update(connection, conversation, |facts| {
        shared::owner_changed(facts, state, ownership.assignee, now)
    })?;
    if let Some(topic) = wrapup
        .filter(|_| state == ConversationState::Resolved)
        .and_then(|wrapup| wrapup.topic.as_deref())
    {
        super::insight::set_topic(connection, conversation, topic)?;
    }
    changes.push(Change::Conversation(Arc::new(conversation.clone())));
    if let Some(assignee) = ownership.assignee.filter(|agent| Some(*agent) != previous_assignee) {
        let agent = super::accounts::user(connection, assignee)?
            .ok_or(StoreError::NotFound(Entity::Agent))?;
        let event = WebhookEventType::ConversationAssigned;
        webhooks::record(connection, conversation, event, now, |snapshot| {
            Ok(payload::assigned(snapshot, &agent, previous_state, previous_assignee))
        })?;
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
            Some(wrapup) => save_wrapup(connection, wrapup)?,
            None => {
                connection
                    .prepare_cached("DELETE FROM wrapups WHERE conversation_id = ?1")?
                    .execute([conversation.id.0])?;
            }
        }
        let event = WebhookEventType::ConversationResolved;
        webhooks::record(connection, conversation, event, now, |snapshot| {
            Ok(payload::resolved(snapshot, previous_state, previous_assignee, wrapup.as_ref()))
        })?;
    }
    Ok(())
}

fn save_route(connection: &Connection, conversation: &Conversation) -> StoreResult<()> {
    let route = conversation.route.as_ref().map(to_json).transpose()?;
    connection
        .prepare_cached("UPDATE conversations SET route = ?2, queue_id = ?3 WHERE id = ?1")?
        .execute(params![conversation.id.0, route, conversation.queue_id.map(|queue| queue.0)])?;
    Ok(())
}

pub(super) fn route(
    connection: &Connection,
    changes: &mut Vec<Change>,
    conversation: ConversationId,
    change: RouteChange,
) -> StoreResult<Conversation> {
    let now = now_millis();
    let mut conversation = load(connection, conversation)?;
    shared::route_still_wanted(&conversation, &change)?;
    if let Some(queue) = change.queue_id {
        let known: bool = connection
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM queues WHERE id = ?1 AND workspace_id = ?2)",
            )?
            .query_row(params![queue.0, conversation.workspace_id.0], |row| row.get(0))?;
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
            let assignable = super::accounts::user(connection, agent)?
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
        save_ownership(connection, &mut conversation, ownership, now, wrapup, changes)?;
    }
    shared::set_route_settings(&mut conversation, change.skills, change.priority, change.sticky);
    save_route(connection, &conversation)?;
    if change.transition.is_none() {
        changes.push(Change::Conversation(Arc::new(conversation.clone())));
    }
    if let Some(packet) = &change.packet {
        connection
            .prepare_cached(
                "INSERT INTO handoffs (conversation_id, packet, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![conversation.id.0, to_json(packet)?, now])?;
        super::insight::update(connection, &conversation, |facts| {
            facts.handed_off(now, &packet.reasons)
        })?;
        let after_hours = change.follow_up_at.is_some();
        super::audit::handoff(connection, &conversation, packet, after_hours, now)?;
        webhooks::record(
            connection,
            &conversation,
            WebhookEventType::ConversationHandedOff,
            now,
            |snapshot| Ok(payload::handed_off(snapshot, packet)),
        )?;
    }
    if let Some(body) = change.system_message {
        let system = (AuthorKind::System, None, None);
        let message =
            insert_message(connection, &mut conversation, system, (body, None, None), now)?;
        changes.push(Change::Message {
            conversation: Arc::new(conversation.clone()),
            message: Arc::new(message),
        });
    }
    Ok(conversation)
}

pub(super) fn decisions(
    connection: &Connection,
    conversation: ConversationId,
) -> StoreResult<Vec<(MessageId, DecisionRecord)>> {
    let mut statement = connection.prepare_cached(
        "SELECT message_id, record FROM bot_turns WHERE conversation_id = ?1 ORDER BY message_id",
    )?;
    let rows = statement.query_map([conversation.0], |row| {
        let record = json_column(row, 1)?.ok_or(rusqlite::Error::InvalidColumnType(
            1,
            "record".into(),
            rusqlite::types::Type::Null,
        ))?;
        Ok((MessageId(row.get(0)?), record))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn llm_usage(
    connection: &Connection,
    workspace: WorkspaceId,
    since: Millis,
) -> StoreResult<LlmUsage> {
    // One group per outcome, the records' JSON read by SQLite, so only a few sums cross into
    // Rust however many turns there were. The recent turns are a small part of all of them:
    // CROSS JOIN keeps SQLite starting from the time index rather than from every conversation
    // the workspace ever had. Turns without an LLM record make a NULL group, skipped below.
    // The hand-off summaries the model wrote count too (their records are in the packets).
    let mut statement = connection.prepare_cached(
        "SELECT json_extract(llm, '$.outcome') AS outcome, count(*),
                total(json_extract(llm, '$.prompt_tokens')),
                total(json_extract(llm, '$.completion_tokens')),
                total(json_extract(llm, '$.cost'))
         FROM (SELECT json_extract(t.record, '$.llm') AS llm
               FROM bot_turns t CROSS JOIN conversations c ON c.id = t.conversation_id
               WHERE t.created_at >= ?2 AND c.workspace_id = ?1
               UNION ALL
               SELECT json_extract(h.packet, '$.model_summary.llm')
               FROM handoffs h CROSS JOIN conversations c ON c.id = h.conversation_id
               WHERE h.created_at >= ?2 AND c.workspace_id = ?1)
         GROUP BY outcome",
    )?;
    let rows = statement.query_map(params![workspace.0, since], |row| {
        Ok((
            row.get::<_, Option<String>>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, f64>(2)?,
            row.get::<_, f64>(3)?,
            row.get::<_, f64>(4)?,
        ))
    })?;
    let mut usage = LlmUsage::default();
    for row in rows {
        let (outcome, count, prompt_tokens, completion_tokens, cost) = row?;
        let Some(outcome) = outcome else { continue };
        let tokens = (prompt_tokens as u64, completion_tokens as u64);
        usage.add(LlmOutcome::parse(&outcome), count as u64, tokens, cost);
    }
    Ok(usage)
}

pub(super) fn set_pending_action(
    connection: &Connection,
    conversation: ConversationId,
    pending: Option<PendingAction>,
) -> StoreResult<()> {
    let updated = connection
        .prepare_cached("UPDATE conversations SET pending_action = ?2 WHERE id = ?1")?
        .execute(params![conversation.0, pending.as_ref().map(to_json).transpose()?])?;
    if updated == 0 {
        return Err(StoreError::NotFound(Entity::Conversation));
    }
    Ok(())
}

pub(super) fn handoff(
    connection: &Connection,
    conversation: ConversationId,
) -> StoreResult<Option<HandoffPacket>> {
    Ok(connection
        .prepare_cached(
            "SELECT packet FROM handoffs WHERE conversation_id = ?1 ORDER BY id DESC LIMIT 1",
        )?
        .query_row([conversation.0], |row| json_column(row, 0))
        .optional()?
        .flatten())
}

pub(super) fn set_model_summary(
    connection: &Connection,
    conversation: ConversationId,
    summary: ModelSummary,
) -> StoreResult<()> {
    let updated = connection
        .prepare_cached(
            "UPDATE handoffs SET packet = json_set(packet, '$.model_summary', json(?2))
             WHERE id = (SELECT MAX(id) FROM handoffs WHERE conversation_id = ?1)",
        )?
        .execute(params![conversation.0, to_json(&summary)?])?;
    if updated == 0 {
        return Err(StoreError::NotFound(Entity::HandoffPacket));
    }
    Ok(())
}

pub(super) fn wrapup(
    connection: &Connection,
    conversation: ConversationId,
) -> StoreResult<Option<Wrapup>> {
    Ok(connection
        .prepare_cached(
            "SELECT summary, key_points, topic, created_at, model_summary FROM wrapups
             WHERE conversation_id = ?1",
        )?
        .query_row([conversation.0], |row| {
            Ok(Wrapup {
                conversation_id: conversation,
                summary: row.get(0)?,
                key_points: json_column(row, 1)?.unwrap_or_default(),
                topic: row.get(2)?,
                model_summary: row.get(4)?,
                created_at: row.get(3)?,
            })
        })
        .optional()?)
}

pub(super) fn save_wrapup(connection: &Connection, wrapup: &Wrapup) -> StoreResult<()> {
    load(connection, wrapup.conversation_id)?;
    connection
        .prepare_cached(
            "INSERT INTO wrapups (conversation_id, summary, key_points, topic, created_at,
                 model_summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (conversation_id) DO UPDATE SET summary = excluded.summary,
                 key_points = excluded.key_points, topic = excluded.topic,
                 created_at = excluded.created_at, model_summary = excluded.model_summary",
        )?
        .execute(params![
            wrapup.conversation_id.0,
            wrapup.summary,
            to_json(&wrapup.key_points)?,
            wrapup.topic,
            wrapup.created_at,
            wrapup.model_summary,
        ])?;
    Ok(())
}

pub(super) fn set_wrapup_topic(
    connection: &Connection,
    conversation: ConversationId,
    topic: Option<&str>,
) -> StoreResult<Wrapup> {
    connection
        .prepare_cached("UPDATE wrapups SET topic = ?2 WHERE conversation_id = ?1")?
        .execute(params![conversation.0, topic])?;
    let wrapup = wrapup(connection, conversation)?.ok_or(StoreError::NotFound(Entity::Wrapup))?;
    if let Some(topic) = topic {
        super::insight::set_topic(connection, &load(connection, conversation)?, topic)?;
    }
    Ok(wrapup)
}

pub(super) fn record_suggestion_use(
    connection: &Connection,
    conversation: ConversationId,
    used: SuggestionUse,
) -> StoreResult<()> {
    let known = connection
        .prepare_cached("SELECT 1 FROM messages WHERE id = ?1 AND conversation_id = ?2")?
        .exists(params![used.message.0, conversation.0])?;
    if !known {
        return Err(StoreError::NotFound(Entity::Conversation));
    }
    connection
        .prepare_cached(
            "INSERT INTO suggestion_uses
                 (conversation_id, message_id, article_key, edited, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (message_id) DO NOTHING",
        )?
        .execute(params![
            conversation.0,
            used.message.0,
            used.article,
            used.edited,
            now_millis()
        ])?;
    Ok(())
}

pub(super) fn suggestion_uses(
    connection: &Connection,
    conversation: ConversationId,
) -> StoreResult<SuggestionUses> {
    Ok(connection
        .prepare_cached(
            "SELECT COALESCE(SUM(NOT edited), 0), COALESCE(SUM(edited), 0)
             FROM suggestion_uses WHERE conversation_id = ?1",
        )?
        .query_row([conversation.0], |row| {
            Ok(SuggestionUses { sent_unchanged: row.get(0)?, sent_edited: row.get(1)? })
        })?)
}
