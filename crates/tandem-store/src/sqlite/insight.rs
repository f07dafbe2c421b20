//! The facts of each conversation for the reports (one row per conversation, kept current in
//! the transaction of every change that moves a figure), satisfaction ratings, imported
//! history, and the spike alerts raised on a workspace's topics.

use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_domain::{
    AuthorKind, Channel, Conversation, ConversationFacts, ConversationId, ConversationState,
    CustomerId, Millis, QueueId, Reason, UserId, WorkspaceId,
};

use super::rows::{json_column, text_enum, to_json};
use crate::shared::insight::{self as shared, FACTS_COLUMNS};
use crate::{
    Change, Conflict, ConversationText, Entity, ImportSummary, ImportedConversation, InsightAlert,
    NewInsightAlert, Rating, StoreError, StoreResult,
};

fn facts_from_row(row: &Row<'_>) -> rusqlite::Result<ConversationFacts> {
    let reasons: String = row.get(21)?;
    Ok(ConversationFacts {
        conversation_id: ConversationId(row.get(0)?),
        created_at: row.get(1)?,
        channel: text_enum(row, 2, Channel::parse)?,
        customer_id: CustomerId(row.get(3)?),
        state: text_enum(row, 4, ConversationState::parse)?,
        queue_id: row.get::<_, Option<i64>>(5)?.map(QueueId),
        agent_id: row.get::<_, Option<i64>>(6)?.map(UserId),
        topic: row.get(7)?,
        first_customer_at: row.get(8)?,
        customer_messages: row.get(9)?,
        bot_messages: row.get(10)?,
        agent_messages: row.get(11)?,
        handed_off_at: row.get(12)?,
        assigned_at: row.get(13)?,
        first_agent_at: row.get(14)?,
        resolved_at: row.get(15)?,
        last_resolved_at: row.get(16)?,
        reopened_at: row.get(17)?,
        csat: row.get(18)?,
        sentiment_first: row.get(19)?,
        sentiment_last: row.get(20)?,
        reasons: reasons.split(',').filter_map(Reason::parse).collect(),
        // Almost every conversation has no tags: skip the JSON parse for those.
        tags: match row.get_ref(22)?.as_str_or_null()? {
            None | Some("[]") => Vec::new(),
            Some(_) => json_column(row, 22)?.unwrap_or_default(),
        },
        external_id: row.get(23)?,
        topic_is_cluster: row.get(24)?,
    })
}

pub(super) fn load(
    connection: &Connection,
    conversation: ConversationId,
) -> StoreResult<Option<ConversationFacts>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {FACTS_COLUMNS} FROM conversation_facts WHERE conversation_id = ?1"
        ))?
        .query_row([conversation.0], facts_from_row)
        .optional()?)
}

pub(super) fn save(
    connection: &Connection,
    workspace: WorkspaceId,
    facts: &ConversationFacts,
) -> StoreResult<()> {
    let reasons: Vec<&str> = facts.reasons.iter().map(|reason| reason.as_str()).collect();
    connection
        .prepare_cached(&format!(
            "INSERT OR REPLACE INTO conversation_facts (workspace_id, {FACTS_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                     ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)"
        ))?
        .execute(params![
            workspace.0,
            facts.conversation_id.0,
            facts.created_at,
            facts.channel.as_str(),
            facts.customer_id.0,
            facts.state.as_str(),
            facts.queue_id.map(|queue| queue.0),
            facts.agent_id.map(|agent| agent.0),
            facts.topic,
            facts.first_customer_at,
            facts.customer_messages,
            facts.bot_messages,
            facts.agent_messages,
            facts.handed_off_at,
            facts.assigned_at,
            facts.first_agent_at,
            facts.resolved_at,
            facts.last_resolved_at,
            facts.reopened_at,
            facts.csat,
            facts.sentiment_first,
            facts.sentiment_last,
            reasons.join(","),
            to_json(&facts.tags)?,
            facts.external_id,
            facts.topic_is_cluster,
        ])?;
    Ok(())
}

/// Changes a conversation's facts with `change` (starting them if the conversation has none,
/// as one created before facts were kept), and keeps its state and queue in step.
pub(super) fn update(
    connection: &Connection,
    conversation: &Conversation,
    change: impl FnOnce(&mut ConversationFacts),
) -> StoreResult<()> {
    let mut facts = match load(connection, conversation.id)? {
        Some(facts) => facts,
        None => {
            let channel: String = connection
                .prepare_cached("SELECT channel FROM inboxes WHERE id = ?1")?
                .query_row([conversation.inbox_id.0], |row| row.get(0))?;
            shared::first_facts(conversation, &channel)
        }
    };
    shared::apply(&mut facts, conversation, change);
    save(connection, conversation.workspace_id, &facts)
}

/// The facts of a message just stored (notes and system lines move no figure).
pub(super) fn message(
    connection: &Connection,
    conversation: &Conversation,
    author: (AuthorKind, Option<i64>),
    at: Millis,
    sentiment: Option<f32>,
    topic: Option<&str>,
) -> StoreResult<()> {
    match author {
        (AuthorKind::Customer, _) => {
            update(connection, conversation, |facts| facts.customer_message(at, sentiment))
        }
        (AuthorKind::Agent, Some(agent)) => {
            update(connection, conversation, |facts| facts.agent_message(at, UserId(agent)))
        }
        (AuthorKind::Bot, _) => update(connection, conversation, |facts| facts.bot_message(topic)),
        _ => Ok(()),
    }
}

/// The topic people gave a conversation's wrap-up: an article's key when it names one of the
/// workspace's articles by title or key, else the words as written.
pub(super) fn set_topic(
    connection: &Connection,
    conversation: &Conversation,
    topic: &str,
) -> StoreResult<()> {
    let key: Option<String> = connection
        .prepare_cached(
            "SELECT key FROM articles WHERE workspace_id = ?1 AND (title = ?2 OR key = ?2)
             ORDER BY id LIMIT 1",
        )?
        .query_row(params![conversation.workspace_id.0, topic], |row| row.get(0))
        .optional()?;
    let topic = key.unwrap_or_else(|| topic.to_owned());
    update(connection, conversation, |facts| {
        facts.topic = Some(topic);
        facts.topic_is_cluster = false;
    })
}

/// Facts of a workspace's conversations created in `[from, to)`, oldest first.
pub(super) fn facts(
    connection: &Connection,
    workspace: WorkspaceId,
    from: Millis,
    to: Millis,
) -> StoreResult<Vec<ConversationFacts>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {FACTS_COLUMNS} FROM conversation_facts
         WHERE workspace_id = ?1 AND created_at >= ?2 AND created_at < ?3
         ORDER BY created_at, conversation_id"
    ))?;
    let rows = statement.query_map(params![workspace.0, from, to], facts_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Facts of the given conversations of a workspace (those it has).
pub(super) fn facts_of(
    connection: &Connection,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> StoreResult<Vec<ConversationFacts>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {FACTS_COLUMNS} FROM conversation_facts WHERE conversation_id = ?1 AND workspace_id = ?2"
    ))?;
    let mut found = Vec::with_capacity(conversations.len());
    for conversation in conversations {
        if let Some(facts) =
            statement.query_row(params![conversation.0, workspace.0], facts_from_row).optional()?
        {
            found.push(facts);
        }
    }
    Ok(found)
}

/// Records a customer's rating of a resolved conversation (a second rating replaces the first).
pub(super) fn rate(
    connection: &Connection,
    changes: &mut Vec<Change>,
    conversation: ConversationId,
    rating: &Rating,
    now: Millis,
) -> StoreResult<()> {
    let conversation = super::conversations::load(connection, conversation)?;
    if conversation.state != ConversationState::Resolved {
        return Err(Conflict::NotResolved { conversation: conversation.id }.into());
    }
    update(connection, &conversation, |facts| facts.csat = rating.rating)?;
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO ratings (conversation_id, rating, comment, answers, rated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            conversation.id.0,
            rating.rating,
            rating.comment,
            to_json(&rating.answers)?,
            now
        ])?;
    changes.push(Change::Conversation(std::sync::Arc::new(conversation)));
    Ok(())
}

pub(super) fn rating(
    connection: &Connection,
    conversation: ConversationId,
) -> StoreResult<Option<Rating>> {
    Ok(connection
        .prepare_cached(
            "SELECT rating, comment, answers, rated_at FROM ratings WHERE conversation_id = ?1",
        )?
        .query_row([conversation.0], |row| {
            Ok(Rating {
                rating: row.get(0)?,
                comment: row.get(1)?,
                answers: json_column(row, 2)?.unwrap_or_default(),
                rated_at: row.get(3)?,
            })
        })
        .optional()?)
}

/// Stores conversations from another system, all or nothing; one whose external id the
/// workspace already has is skipped, so importing a file twice changes nothing.
pub(super) fn import(
    connection: &Connection,
    workspace: WorkspaceId,
    conversations: &[ImportedConversation],
) -> StoreResult<ImportSummary> {
    let mut summary = ImportSummary::default();
    for imported in conversations {
        let exists: bool = connection
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM conversations WHERE workspace_id = ?1 AND external_id = ?2)",
            )?
            .query_row(params![workspace.0, imported.external_id], |row| row.get(0))?;
        if exists {
            summary.skipped += 1;
            continue;
        }
        import_one(connection, workspace, imported)?;
        summary.imported += 1;
    }
    Ok(summary)
}

fn import_one(
    connection: &Connection,
    workspace: WorkspaceId,
    imported: &ImportedConversation,
) -> StoreResult<()> {
    let inbox: i64 = connection
        .prepare_cached(
            "SELECT id FROM inboxes WHERE workspace_id = ?1 ORDER BY channel != ?2, id LIMIT 1",
        )?
        .query_row(params![workspace.0, imported.channel.as_str()], |row| row.get(0))
        .optional()?
        .ok_or(StoreError::NotFound(Entity::Inbox))?;
    let customer = import_customer(connection, workspace, imported)?;
    let queue: Option<i64> = match &imported.queue {
        Some(name) => connection
            .prepare_cached("SELECT id FROM queues WHERE workspace_id = ?1 AND name = ?2")?
            .query_row(params![workspace.0, name], |row| row.get(0))
            .optional()?,
        None => None,
    };
    let last_at = shared::last_at(imported);
    let state = shared::state(imported);
    let preview = shared::preview(imported);
    connection
        .prepare_cached(
            "INSERT INTO conversations (workspace_id, inbox_id, customer_id, state, queue_id,
                 last_seq, preview, last_message_at, created_at, updated_at, external_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?10)",
        )?
        .execute(params![
            workspace.0,
            inbox,
            customer.0,
            state.as_str(),
            queue,
            imported.messages.len() as i64,
            preview,
            last_at,
            imported.created_at,
            imported.external_id,
        ])?;
    let conversation = ConversationId(connection.last_insert_rowid());
    let mut facts = shared::facts(conversation, imported, customer, queue, state);
    let mut insert = connection.prepare_cached(
        "INSERT INTO messages (conversation_id, seq, author_kind, author_id, author_name, body, created_at, meta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut resolved = false;
    for (index, message) in imported.messages.iter().enumerate() {
        // Resolutions interleave with the messages by time, so a later customer message reopens.
        if let Some(at) = imported.resolved_at.filter(|at| !resolved && message.at > *at) {
            facts.resolved(at);
            resolved = true;
        }
        let agent = match (&message.agent, message.author_kind) {
            (Some(email), AuthorKind::Agent) => connection
                .prepare_cached("SELECT id FROM users WHERE workspace_id = ?1 AND email = ?2")?
                .query_row(params![workspace.0, email], |row| row.get::<_, i64>(0))
                .optional()?,
            _ => None,
        };
        let meta = shared::meta(message);
        insert.execute(params![
            conversation.0,
            index as i64 + 1,
            message.author_kind.as_str(),
            agent,
            shared::author_name(imported, message),
            message.body,
            message.at,
            meta,
        ])?;
        shared::count_message(&mut facts, message, agent);
    }
    if let Some(at) = imported.resolved_at.filter(|_| !resolved) {
        facts.resolved(at);
    }
    facts.csat = imported.csat;
    if imported.csat.is_some() || imported.csat_comment.is_some() {
        connection
            .prepare_cached(
                "INSERT INTO ratings (conversation_id, rating, comment, answers, rated_at)
                 VALUES (?1, ?2, ?3, '{}', ?4)",
            )?
            .execute(params![
                conversation.0,
                imported.csat,
                imported.csat_comment,
                imported.resolved_at.unwrap_or(last_at)
            ])?;
    }
    save(connection, workspace, &facts)
}

/// The customer an imported conversation belongs to: the workspace's customer with the same
/// external id, or e-mail, or a new one.
fn import_customer(
    connection: &Connection,
    workspace: WorkspaceId,
    imported: &ImportedConversation,
) -> StoreResult<CustomerId> {
    let by_id = match &imported.customer_external_id {
        Some(id) => connection
            .prepare_cached(
                "SELECT id FROM customers WHERE workspace_id = ?1 AND external_id = ?2",
            )?
            .query_row(params![workspace.0, id], |row| row.get::<_, i64>(0))
            .optional()?,
        None => None,
    };
    let found = match (by_id, &imported.customer_email) {
        (Some(id), _) => Some(id),
        (None, Some(email)) => connection
            .prepare_cached(
                "SELECT id FROM customers WHERE workspace_id = ?1 AND email = ?2 ORDER BY id LIMIT 1",
            )?
            .query_row(params![workspace.0, email], |row| row.get::<_, i64>(0))
            .optional()?,
        (None, None) => None,
    };
    if let Some(id) = found {
        return Ok(CustomerId(id));
    }
    let attributes = shared::customer_attributes(imported);
    connection
        .prepare_cached(
            "INSERT INTO customers (workspace_id, name, email, attributes, created_at, external_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            workspace.0,
            imported.customer_name,
            imported.customer_email,
            attributes.to_string(),
            imported.created_at,
            imported.customer_external_id,
        ])?;
    Ok(CustomerId(connection.last_insert_rowid()))
}

/// Conversations the bot has whose last message, older than `before`, is a bot reply that
/// answered (from knowledge or a business action), and that wait for nothing (no after-hours
/// ticket): the customer got their answer and left.
pub(super) fn idle_answered(
    connection: &Connection,
    before: Millis,
    limit: u32,
) -> StoreResult<Vec<ConversationId>> {
    let mut statement = connection.prepare_cached(
        "SELECT c.id FROM conversations c
         JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
         JOIN bot_turns t ON t.message_id = m.id
         WHERE c.state = 'bot' AND c.route IS NULL AND c.last_message_at < ?1
           AND m.author_kind = 'bot'
           AND json_extract(t.record, '$.outcome') IN ('answer', 'action')
         ORDER BY c.last_message_at LIMIT ?2",
    )?;
    let rows = statement.query_map(params![before, limit], |row| row.get(0).map(ConversationId))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Files conversations without a topic (or with an older cluster's) under the cluster of
/// similar first messages the detector found for them; returns how many changed.
pub(super) fn set_cluster_topics(
    connection: &Connection,
    workspace: WorkspaceId,
    topics: &[(ConversationId, String)],
) -> StoreResult<usize> {
    let mut statement = connection.prepare_cached(
        "UPDATE conversation_facts SET topic = ?3, topic_is_cluster = 1
         WHERE conversation_id = ?1 AND workspace_id = ?2
           AND (topic IS NULL OR (topic_is_cluster AND topic != ?3))",
    )?;
    let mut changed = 0;
    for (conversation, label) in topics {
        changed += statement.execute(params![conversation.0, workspace.0, label])?;
    }
    Ok(changed)
}

/// Records a spike alert unless the workspace already has one for the same topic and first
/// day (the detector runs again and again over the same days).
pub(super) fn raise_alert(
    connection: &Connection,
    workspace: WorkspaceId,
    alert: &NewInsightAlert,
    now: Millis,
) -> StoreResult<Option<InsightAlert>> {
    let inserted = connection
        .prepare_cached(
            "INSERT OR IGNORE INTO insight_alerts (workspace_id, key, alert, raised_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![workspace.0, alert.key, alert.alert.to_string(), now])?;
    if inserted == 0 {
        return Ok(None);
    }
    // Before the webhook event's rows, whose ids would follow.
    let id = connection.last_insert_rowid();
    let data = serde_json::json!({ "alert": alert.alert });
    super::webhooks::record_for_workspace(
        connection,
        workspace,
        tandem_domain::WebhookEventType::InsightAlert,
        now,
        &data,
    )?;
    Ok(Some(InsightAlert {
        id,
        key: alert.key.clone(),
        alert: alert.alert.clone(),
        raised_at: now,
        dismissed_at: None,
    }))
}

pub(super) fn alerts(
    connection: &Connection,
    workspace: WorkspaceId,
    since: Millis,
) -> StoreResult<Vec<InsightAlert>> {
    let mut statement = connection.prepare_cached(
        "SELECT id, key, alert, raised_at, dismissed_at FROM insight_alerts
         WHERE workspace_id = ?1 AND raised_at >= ?2 ORDER BY raised_at DESC, id DESC",
    )?;
    let rows = statement.query_map(params![workspace.0, since], |row| {
        Ok(InsightAlert {
            id: row.get(0)?,
            key: row.get(1)?,
            alert: json_column(row, 2)?.unwrap_or_default(),
            raised_at: row.get(3)?,
            dismissed_at: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn dismiss_alert(
    connection: &Connection,
    workspace: WorkspaceId,
    id: i64,
    now: Millis,
) -> StoreResult<()> {
    let changed = connection
        .prepare_cached(
            "UPDATE insight_alerts SET dismissed_at = COALESCE(dismissed_at, ?3)
             WHERE id = ?1 AND workspace_id = ?2",
        )?
        .execute(params![id, workspace.0, now])?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::InsightAlert));
    }
    Ok(())
}

/// The openings of the workspace's conversations created since `since`: found through the
/// facts' time index, each first customer message and first answer source through the
/// messages' `(conversation_id, seq)` key.
pub(super) fn conversation_texts(
    connection: &Connection,
    workspace: WorkspaceId,
    since: Millis,
) -> StoreResult<Vec<ConversationText>> {
    let mut statement = connection.prepare_cached(
        "SELECT f.conversation_id, f.created_at,
             (SELECT m.body FROM messages m WHERE m.conversation_id = f.conversation_id
                AND m.author_kind = 'customer' ORDER BY m.seq LIMIT 1),
             (SELECT json_extract(m.meta, '$.source.article') FROM messages m
              WHERE m.conversation_id = f.conversation_id AND m.author_kind = 'bot'
                AND json_extract(m.meta, '$.source.article') IS NOT NULL ORDER BY m.seq LIMIT 1)
         FROM conversation_facts f WHERE f.workspace_id = ?1 AND f.created_at >= ?2
         ORDER BY f.created_at, f.conversation_id",
    )?;
    let rows = statement.query_map(params![workspace.0, since], |row| {
        Ok(ConversationText {
            id: ConversationId(row.get(0)?),
            created_at: row.get(1)?,
            first_customer_message: row.get(2)?,
            source: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The facts of every conversation stored before facts were kept, rebuilt from its messages,
/// hand-offs and routing record (sentiment is not known for them). Runs in the migration that
/// adds the table.
pub(super) fn backfill(connection: &Connection) -> StoreResult<()> {
    let conversations: Vec<(i64, i64)> = connection
        .prepare("SELECT id, workspace_id FROM conversations ORDER BY id")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, workspace) in conversations {
        let conversation = super::conversations::load(connection, ConversationId(id))?;
        let channel: String = connection
            .prepare_cached("SELECT channel FROM inboxes WHERE id = ?1")?
            .query_row([conversation.inbox_id.0], |row| row.get(0))?;
        let mut facts = ConversationFacts::new(
            conversation.id,
            conversation.created_at,
            Channel::parse(&channel).unwrap_or(Channel::Web),
            conversation.customer_id,
        );
        let handoffs: Vec<(String, Millis)> = connection
            .prepare_cached(
                "SELECT packet, created_at FROM handoffs WHERE conversation_id = ?1 ORDER BY id",
            )?
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (packet, at) in handoffs {
            let reasons = serde_json::from_str::<tandem_domain::HandoffPacket>(&packet)
                .map(|packet| packet.reasons)
                .unwrap_or_default();
            facts.handed_off(at, &reasons);
        }
        let messages: Vec<(String, Option<i64>, Option<String>, Millis)> = connection
            .prepare_cached(
                "SELECT author_kind, author_id, meta, created_at FROM messages
                 WHERE conversation_id = ?1 ORDER BY seq",
            )?
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (author, author_id, meta, at) in messages {
            match (AuthorKind::parse(&author), author_id) {
                (Some(AuthorKind::Customer), _) => facts.customer_message(at, None),
                (Some(AuthorKind::Agent), Some(agent)) => facts.agent_message(at, UserId(agent)),
                (Some(AuthorKind::Bot), _) => {
                    let source = meta
                        .and_then(|meta| serde_json::from_str::<serde_json::Value>(&meta).ok())
                        .and_then(|meta| meta["source"]["article"].as_str().map(str::to_owned));
                    facts.bot_message(source.as_deref());
                }
                _ => {}
            }
        }
        if let Some(route) = &conversation.route {
            facts.assigned_at = route.assigned_at;
        }
        if conversation.state == ConversationState::Resolved {
            facts.resolved(conversation.updated_at);
        }
        facts.state = conversation.state;
        facts.queue_id = conversation.queue_id;
        save(connection, WorkspaceId(workspace), &facts)?;
    }
    Ok(())
}
