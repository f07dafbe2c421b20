//! The facts of each conversation for the reports (one row per conversation, kept current in
//! the transaction of every change that moves a figure), satisfaction ratings, imported
//! history, and the spike alerts raised on a workspace's topics.
//!
//! Ported from the SQLite store's `insight`. Whoever changes a conversation's facts holds the
//! conversation's row lock (`rate` takes it; the callers in `conversations` hold it), so the
//! read-modify-write of [`update`] is one writer's at a time. An import locks its workspace so
//! that two imports of the same file skip each other's conversations. (The SQLite migration
//! that rebuilt facts for conversations stored before facts were kept has no counterpart: a
//! PostgreSQL database starts with facts.)

use std::collections::HashMap;

use tandem_domain::{
    AuthorKind, Channel, Conversation, ConversationFacts, ConversationId, ConversationState,
    CustomerId, Millis, QueueId, Reason, UserId, WorkspaceId,
};
use tokio_postgres::Row;

use super::rows::{CONVERSATION_COLUMNS, conversation_from_row};
use super::sql::{Db, code, execute, get, json, query, query_one, query_opt, to_json};
use crate::shared::insight::{self as shared, FACTS_COLUMNS};
use crate::{
    Change, Conflict, ConversationText, Entity, ImportSummary, ImportedConversation, InsightAlert,
    NewInsightAlert, Rating, StoreError, StoreResult,
};

/// A count column (BIGINT) as the `u32` the facts keep.
fn count(row: &Row, index: usize) -> StoreResult<u32> {
    let value: i64 = get(row, index)?;
    u32::try_from(value).map_err(StoreError::database)
}

/// A rating column (BIGINT, nullable) as the `u8` it is.
fn small(row: &Row, index: usize) -> StoreResult<Option<u8>> {
    get::<Option<i64>>(row, index)?
        .map(|value| u8::try_from(value).map_err(StoreError::database))
        .transpose()
}

fn facts_from_row(row: &Row) -> StoreResult<ConversationFacts> {
    let reasons: String = get(row, 21)?;
    let tags: String = get(row, 22)?;
    Ok(ConversationFacts {
        conversation_id: ConversationId(get(row, 0)?),
        created_at: get(row, 1)?,
        channel: code(row, 2, Channel::parse)?,
        customer_id: CustomerId(get(row, 3)?),
        state: code(row, 4, ConversationState::parse)?,
        queue_id: get::<Option<i64>>(row, 5)?.map(QueueId),
        agent_id: get::<Option<i64>>(row, 6)?.map(UserId),
        topic: get(row, 7)?,
        first_customer_at: get(row, 8)?,
        customer_messages: count(row, 9)?,
        bot_messages: count(row, 10)?,
        agent_messages: count(row, 11)?,
        handed_off_at: get(row, 12)?,
        assigned_at: get(row, 13)?,
        first_agent_at: get(row, 14)?,
        resolved_at: get(row, 15)?,
        last_resolved_at: get(row, 16)?,
        reopened_at: get(row, 17)?,
        csat: small(row, 18)?,
        sentiment_first: get::<Option<f64>>(row, 19)?.map(|value| value as f32),
        sentiment_last: get::<Option<f64>>(row, 20)?.map(|value| value as f32),
        reasons: reasons.split(',').filter_map(Reason::parse).collect(),
        // Almost every conversation has no tags: skip the JSON parse for those.
        tags: match tags.as_str() {
            "[]" => Vec::new(),
            _ => json(row, 22)?.unwrap_or_default(),
        },
        external_id: get(row, 23)?,
        topic_is_cluster: get(row, 24)?,
    })
}

pub(super) async fn load(
    db: &Db,
    conversation: ConversationId,
) -> StoreResult<Option<ConversationFacts>> {
    let sql = format!("SELECT {FACTS_COLUMNS} FROM conversation_facts WHERE conversation_id = $1");
    query_opt(db, &sql, &[&conversation.0]).await?.map(|row| facts_from_row(&row)).transpose()
}

pub(super) async fn save(
    db: &Db,
    workspace: WorkspaceId,
    facts: &ConversationFacts,
) -> StoreResult<()> {
    let reasons: Vec<&str> = facts.reasons.iter().map(|reason| reason.as_str()).collect();
    let sql = format!(
        "INSERT INTO conversation_facts (workspace_id, {FACTS_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $20, $21, $22, $23, $24, $25, $26)
         ON CONFLICT (conversation_id) DO UPDATE SET
             workspace_id = EXCLUDED.workspace_id, created_at = EXCLUDED.created_at,
             channel = EXCLUDED.channel, customer_id = EXCLUDED.customer_id,
             state = EXCLUDED.state, queue_id = EXCLUDED.queue_id, agent_id = EXCLUDED.agent_id,
             topic = EXCLUDED.topic, first_customer_at = EXCLUDED.first_customer_at,
             customer_messages = EXCLUDED.customer_messages,
             bot_messages = EXCLUDED.bot_messages, agent_messages = EXCLUDED.agent_messages,
             handed_off_at = EXCLUDED.handed_off_at, assigned_at = EXCLUDED.assigned_at,
             first_agent_at = EXCLUDED.first_agent_at, resolved_at = EXCLUDED.resolved_at,
             last_resolved_at = EXCLUDED.last_resolved_at, reopened_at = EXCLUDED.reopened_at,
             csat = EXCLUDED.csat, sentiment_first = EXCLUDED.sentiment_first,
             sentiment_last = EXCLUDED.sentiment_last, reasons = EXCLUDED.reasons,
             tags = EXCLUDED.tags, external_id = EXCLUDED.external_id,
             topic_is_cluster = EXCLUDED.topic_is_cluster"
    );
    let channel = facts.channel.as_str();
    let state = facts.state.as_str();
    let queue = facts.queue_id.map(|queue| queue.0);
    let agent = facts.agent_id.map(|agent| agent.0);
    let customer_messages = i64::from(facts.customer_messages);
    let bot_messages = i64::from(facts.bot_messages);
    let agent_messages = i64::from(facts.agent_messages);
    let csat = facts.csat.map(i64::from);
    let sentiment_first = facts.sentiment_first.map(f64::from);
    let sentiment_last = facts.sentiment_last.map(f64::from);
    let reasons = reasons.join(",");
    let tags = to_json(&facts.tags)?;
    execute(
        db,
        &sql,
        &[
            &workspace.0,
            &facts.conversation_id.0,
            &facts.created_at,
            &channel,
            &facts.customer_id.0,
            &state,
            &queue,
            &agent,
            &facts.topic,
            &facts.first_customer_at,
            &customer_messages,
            &bot_messages,
            &agent_messages,
            &facts.handed_off_at,
            &facts.assigned_at,
            &facts.first_agent_at,
            &facts.resolved_at,
            &facts.last_resolved_at,
            &facts.reopened_at,
            &csat,
            &sentiment_first,
            &sentiment_last,
            &reasons,
            &tags,
            &facts.external_id,
            &facts.topic_is_cluster,
        ],
    )
    .await?;
    Ok(())
}

/// Changes a conversation's facts with `change` (starting them if the conversation has none,
/// as one created before facts were kept), and keeps its state and queue in step. The caller
/// holds the conversation's row lock.
pub(super) async fn update(
    db: &Db,
    conversation: &Conversation,
    change: impl FnOnce(&mut ConversationFacts),
) -> StoreResult<()> {
    let mut facts = match load(db, conversation.id).await? {
        Some(facts) => facts,
        None => {
            let row = query_one(
                db,
                "SELECT channel FROM inboxes WHERE id = $1",
                &[&conversation.inbox_id.0],
            )
            .await?;
            let channel: String = get(&row, 0)?;
            shared::first_facts(conversation, &channel)
        }
    };
    shared::apply(&mut facts, conversation, change);
    save(db, conversation.workspace_id, &facts).await
}

/// The facts of a message just stored (notes and system lines move no figure).
pub(super) async fn message(
    db: &Db,
    conversation: &Conversation,
    author: (AuthorKind, Option<i64>),
    at: Millis,
    sentiment: Option<f32>,
    topic: Option<&str>,
) -> StoreResult<()> {
    match author {
        (AuthorKind::Customer, _) => {
            update(db, conversation, |facts| facts.customer_message(at, sentiment)).await
        }
        (AuthorKind::Agent, Some(agent)) => {
            update(db, conversation, |facts| facts.agent_message(at, UserId(agent))).await
        }
        (AuthorKind::Bot, _) => update(db, conversation, |facts| facts.bot_message(topic)).await,
        _ => Ok(()),
    }
}

/// The topic people gave a conversation's wrap-up: an article's key when it names one of the
/// workspace's articles by title or key, else the words as written.
pub(super) async fn set_topic(
    db: &Db,
    conversation: &Conversation,
    topic: &str,
) -> StoreResult<()> {
    let key: Option<String> = query_opt(
        db,
        "SELECT key FROM articles WHERE workspace_id = $1 AND (title = $2 OR key = $2)
         ORDER BY id LIMIT 1",
        &[&conversation.workspace_id.0, &topic],
    )
    .await?
    .map(|row| get(&row, 0))
    .transpose()?;
    let topic = key.unwrap_or_else(|| topic.to_owned());
    update(db, conversation, |facts| {
        facts.topic = Some(topic);
        facts.topic_is_cluster = false;
    })
    .await
}

/// Facts of a workspace's conversations created in `[from, to)`, oldest first.
pub(super) async fn facts(
    db: &Db,
    workspace: WorkspaceId,
    from: Millis,
    to: Millis,
) -> StoreResult<Vec<ConversationFacts>> {
    let sql = format!(
        "SELECT {FACTS_COLUMNS} FROM conversation_facts
         WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3
         ORDER BY created_at, conversation_id"
    );
    query(db, &sql, &[&workspace.0, &from, &to]).await?.iter().map(facts_from_row).collect()
}

/// Facts of the given conversations of a workspace (those it has), in the order asked.
pub(super) async fn facts_of(
    db: &Db,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> StoreResult<Vec<ConversationFacts>> {
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = conversations.iter().map(|conversation| conversation.0).collect();
    let sql = format!(
        "SELECT {FACTS_COLUMNS} FROM conversation_facts
         WHERE conversation_id = ANY($1) AND workspace_id = $2"
    );
    let mut by_id = HashMap::with_capacity(ids.len());
    for row in query(db, &sql, &[&ids, &workspace.0]).await? {
        let facts = facts_from_row(&row)?;
        by_id.insert(facts.conversation_id, facts);
    }
    Ok(conversations.iter().filter_map(|conversation| by_id.get(conversation).cloned()).collect())
}

/// The conversation, locked for this transaction; `NotFound` when there is none.
async fn lock_conversation(db: &Db, conversation: ConversationId) -> StoreResult<Conversation> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 FOR UPDATE");
    let row = query_opt(db, &sql, &[&conversation.0])
        .await?
        .ok_or(StoreError::NotFound(Entity::Conversation))?;
    conversation_from_row(&row)
}

/// Records a customer's rating of a resolved conversation (a second rating replaces the first).
pub(super) async fn rate(
    db: &Db,
    changes: &mut Vec<Change>,
    conversation: ConversationId,
    rating: &Rating,
    now: Millis,
) -> StoreResult<()> {
    let conversation = lock_conversation(db, conversation).await?;
    if conversation.state != ConversationState::Resolved {
        return Err(Conflict::NotResolved { conversation: conversation.id }.into());
    }
    update(db, &conversation, |facts| facts.csat = rating.rating).await?;
    let score = rating.rating.map(i64::from);
    let answers = to_json(&rating.answers)?;
    execute(
        db,
        "INSERT INTO ratings (conversation_id, rating, comment, answers, rated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (conversation_id) DO UPDATE SET rating = EXCLUDED.rating,
             comment = EXCLUDED.comment, answers = EXCLUDED.answers, rated_at = EXCLUDED.rated_at",
        &[&conversation.id.0, &score, &rating.comment, &answers, &now],
    )
    .await?;
    changes.push(Change::Conversation(std::sync::Arc::new(conversation)));
    Ok(())
}

pub(super) async fn rating(db: &Db, conversation: ConversationId) -> StoreResult<Option<Rating>> {
    let Some(row) = query_opt(
        db,
        "SELECT rating, comment, answers, rated_at FROM ratings WHERE conversation_id = $1",
        &[&conversation.0],
    )
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(Rating {
        rating: small(&row, 0)?,
        comment: get(&row, 1)?,
        answers: json(&row, 2)?.unwrap_or_default(),
        rated_at: get(&row, 3)?,
    }))
}

/// Stores conversations from another system, all or nothing; one whose external id the
/// workspace already has is skipped, so importing a file twice changes nothing. Two imports
/// into one workspace run one after the other (the workspace's row lock), so a file imported
/// twice at once is still stored once.
pub(super) async fn import(
    db: &Db,
    workspace: WorkspaceId,
    conversations: &[ImportedConversation],
) -> StoreResult<ImportSummary> {
    // NO KEY UPDATE: excludes other imports (and every other lock on the workspace row but the
    // key-share locks of foreign keys, so writers inserting rows of the workspace do not wait).
    query_opt(db, "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", &[&workspace.0])
        .await?;
    let mut summary = ImportSummary::default();
    for imported in conversations {
        let row = query_one(
            db,
            "SELECT EXISTS (SELECT 1 FROM conversations WHERE workspace_id = $1 AND external_id = $2)",
            &[&workspace.0, &imported.external_id],
        )
        .await?;
        let exists: bool = get(&row, 0)?;
        if exists {
            summary.skipped += 1;
            continue;
        }
        import_one(db, workspace, imported).await?;
        summary.imported += 1;
    }
    Ok(summary)
}

async fn import_one(
    db: &Db,
    workspace: WorkspaceId,
    imported: &ImportedConversation,
) -> StoreResult<()> {
    let channel = imported.channel.as_str();
    let inbox: i64 = query_opt(
        db,
        "SELECT id FROM inboxes WHERE workspace_id = $1 ORDER BY channel <> $2, id LIMIT 1",
        &[&workspace.0, &channel],
    )
    .await?
    .ok_or(StoreError::NotFound(Entity::Inbox))
    .and_then(|row| get(&row, 0))?;
    let customer = import_customer(db, workspace, imported).await?;
    let queue: Option<i64> = match &imported.queue {
        Some(name) => query_opt(
            db,
            "SELECT id FROM queues WHERE workspace_id = $1 AND name = $2",
            &[&workspace.0, name],
        )
        .await?
        .map(|row| get(&row, 0))
        .transpose()?,
        None => None,
    };
    let last_at = shared::last_at(imported);
    let state = shared::state(imported);
    let preview = shared::preview(imported);
    let state_code = state.as_str();
    let last_seq = imported.messages.len() as i64;
    let row = query_one(
        db,
        "INSERT INTO conversations (workspace_id, inbox_id, customer_id, state, queue_id,
             last_seq, preview, last_message_at, created_at, updated_at, external_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $10)
         RETURNING id",
        &[
            &workspace.0,
            &inbox,
            &customer.0,
            &state_code,
            &queue,
            &last_seq,
            &preview,
            &last_at,
            &imported.created_at,
            &imported.external_id,
        ],
    )
    .await?;
    let conversation = ConversationId(get(&row, 0)?);
    let mut facts = shared::facts(conversation, imported, customer, queue, state);
    let mut resolved = false;
    for (index, message) in imported.messages.iter().enumerate() {
        // Resolutions interleave with the messages by time, so a later customer message reopens.
        if let Some(at) = imported.resolved_at.filter(|at| !resolved && message.at > *at) {
            facts.resolved(at);
            resolved = true;
        }
        let agent: Option<i64> = match (&message.agent, message.author_kind) {
            (Some(email), AuthorKind::Agent) => query_opt(
                db,
                "SELECT id FROM users WHERE workspace_id = $1 AND email = $2",
                &[&workspace.0, email],
            )
            .await?
            .map(|row| get(&row, 0))
            .transpose()?,
            _ => None,
        };
        let meta = shared::meta(message);
        let seq = index as i64 + 1;
        let author_kind = message.author_kind.as_str();
        let author_name = shared::author_name(imported, message);
        execute(
            db,
            "INSERT INTO messages (conversation_id, seq, author_kind, author_id, author_name, body, created_at, meta)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &conversation.0,
                &seq,
                &author_kind,
                &agent,
                &author_name,
                &message.body,
                &message.at,
                &meta,
            ],
        )
        .await?;
        shared::count_message(&mut facts, message, agent);
    }
    if let Some(at) = imported.resolved_at.filter(|_| !resolved) {
        facts.resolved(at);
    }
    facts.csat = imported.csat;
    if imported.csat.is_some() || imported.csat_comment.is_some() {
        let score = imported.csat.map(i64::from);
        let rated_at = imported.resolved_at.unwrap_or(last_at);
        execute(
            db,
            "INSERT INTO ratings (conversation_id, rating, comment, answers, rated_at)
             VALUES ($1, $2, $3, '{}', $4)",
            &[&conversation.0, &score, &imported.csat_comment, &rated_at],
        )
        .await?;
    }
    save(db, workspace, &facts).await
}

/// The customer an imported conversation belongs to: the workspace's customer with the same
/// external id, or e-mail, or a new one.
async fn import_customer(
    db: &Db,
    workspace: WorkspaceId,
    imported: &ImportedConversation,
) -> StoreResult<CustomerId> {
    let by_id: Option<i64> = match &imported.customer_external_id {
        Some(id) => query_opt(
            db,
            "SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $2",
            &[&workspace.0, id],
        )
        .await?
        .map(|row| get(&row, 0))
        .transpose()?,
        None => None,
    };
    let found = match (by_id, &imported.customer_email) {
        (Some(id), _) => Some(id),
        (None, Some(email)) => query_opt(
            db,
            "SELECT id FROM customers WHERE workspace_id = $1 AND email = $2 ORDER BY id LIMIT 1",
            &[&workspace.0, email],
        )
        .await?
        .map(|row| get(&row, 0))
        .transpose()?,
        (None, None) => None,
    };
    if let Some(id) = found {
        return Ok(CustomerId(id));
    }
    let attributes = shared::customer_attributes(imported);
    let attributes = attributes.to_string();
    // A customer with this external id that another write (a verified customer) created since
    // the look-up above is the one: the insert yields to it instead of failing the import.
    let inserted = query_opt(
        db,
        "INSERT INTO customers (workspace_id, name, email, attributes, created_at, external_id)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
         RETURNING id",
        &[
            &workspace.0,
            &imported.customer_name,
            &imported.customer_email,
            &attributes,
            &imported.created_at,
            &imported.customer_external_id,
        ],
    )
    .await?;
    let row = match inserted {
        Some(row) => row,
        None => {
            query_one(
                db,
                "SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $2",
                &[&workspace.0, &imported.customer_external_id],
            )
            .await?
        }
    };
    Ok(CustomerId(get(&row, 0)?))
}

/// Conversations the bot has whose last message, older than `before`, is a bot reply that
/// answered (from knowledge or a business action), and that wait for nothing (no after-hours
/// ticket): the customer got their answer and left.
pub(super) async fn idle_answered(
    db: &Db,
    before: Millis,
    limit: u32,
) -> StoreResult<Vec<ConversationId>> {
    let rows = query(
        db,
        "SELECT c.id FROM conversations c
         JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
         JOIN bot_turns t ON t.message_id = m.id
         WHERE c.state = 'bot' AND c.route IS NULL AND c.last_message_at < $1
           AND m.author_kind = 'bot'
           AND t.record::jsonb ->> 'outcome' IN ('answer', 'action')
         ORDER BY c.last_message_at LIMIT $2",
        &[&before, &i64::from(limit)],
    )
    .await?;
    rows.iter().map(|row| get(row, 0).map(ConversationId)).collect()
}

/// Files conversations without a topic (or with an older cluster's) under the cluster of
/// similar first messages the detector found for them; returns how many changed.
pub(super) async fn set_cluster_topics(
    db: &Db,
    workspace: WorkspaceId,
    topics: &[(ConversationId, String)],
) -> StoreResult<usize> {
    if topics.is_empty() {
        return Ok(0);
    }
    // The conversations' row locks first, in id order, as every other writer of facts holds
    // its conversation's lock before it changes them.
    let ids: Vec<i64> = topics.iter().map(|(conversation, _)| conversation.0).collect();
    query(
        db,
        "SELECT id FROM conversations WHERE id = ANY($1) AND workspace_id = $2
         ORDER BY id FOR UPDATE",
        &[&ids, &workspace.0],
    )
    .await?;
    let mut changed = 0;
    for (conversation, label) in topics {
        changed += execute(
            db,
            "UPDATE conversation_facts SET topic = $3, topic_is_cluster = TRUE
             WHERE conversation_id = $1 AND workspace_id = $2
               AND (topic IS NULL OR (topic_is_cluster AND topic <> $3))",
            &[&conversation.0, &workspace.0, label],
        )
        .await?;
    }
    Ok(changed as usize)
}

/// Records a spike alert unless the workspace already has one for the same topic and first
/// day (the detector runs again and again over the same days).
pub(super) async fn raise_alert(
    db: &Db,
    workspace: WorkspaceId,
    alert: &NewInsightAlert,
    now: Millis,
) -> StoreResult<Option<InsightAlert>> {
    let text = alert.alert.to_string();
    let Some(row) = query_opt(
        db,
        "INSERT INTO insight_alerts (workspace_id, key, alert, raised_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, key) DO NOTHING
         RETURNING id",
        &[&workspace.0, &alert.key, &text, &now],
    )
    .await?
    else {
        return Ok(None);
    };
    let id: i64 = get(&row, 0)?;
    let data = serde_json::json!({ "alert": alert.alert });
    super::webhooks::record_for_workspace(
        db,
        workspace,
        tandem_domain::WebhookEventType::InsightAlert,
        now,
        &data,
    )
    .await?;
    Ok(Some(InsightAlert {
        id,
        key: alert.key.clone(),
        alert: alert.alert.clone(),
        raised_at: now,
        dismissed_at: None,
    }))
}

pub(super) async fn alerts(
    db: &Db,
    workspace: WorkspaceId,
    since: Millis,
) -> StoreResult<Vec<InsightAlert>> {
    let rows = query(
        db,
        "SELECT id, key, alert, raised_at, dismissed_at FROM insight_alerts
         WHERE workspace_id = $1 AND raised_at >= $2 ORDER BY raised_at DESC, id DESC",
        &[&workspace.0, &since],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(InsightAlert {
                id: get(row, 0)?,
                key: get(row, 1)?,
                alert: json(row, 2)?.unwrap_or_default(),
                raised_at: get(row, 3)?,
                dismissed_at: get(row, 4)?,
            })
        })
        .collect()
}

pub(super) async fn dismiss_alert(
    db: &Db,
    workspace: WorkspaceId,
    id: i64,
    now: Millis,
) -> StoreResult<()> {
    let changed = execute(
        db,
        "UPDATE insight_alerts SET dismissed_at = COALESCE(dismissed_at, $3)
         WHERE id = $1 AND workspace_id = $2",
        &[&id, &workspace.0, &now],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::InsightAlert));
    }
    Ok(())
}

/// The openings of the workspace's conversations created since `since`: found through the
/// facts' time index, each first customer message and first answer source through the
/// messages' `(conversation_id, seq)` key.
pub(super) async fn conversation_texts(
    db: &Db,
    workspace: WorkspaceId,
    since: Millis,
) -> StoreResult<Vec<ConversationText>> {
    let rows = query(
        db,
        "SELECT f.conversation_id, f.created_at,
             (SELECT m.body FROM messages m WHERE m.conversation_id = f.conversation_id
                AND m.author_kind = 'customer' ORDER BY m.seq LIMIT 1),
             (SELECT m.meta::jsonb #>> '{source,article}' FROM messages m
              WHERE m.conversation_id = f.conversation_id AND m.author_kind = 'bot'
                AND m.meta::jsonb #>> '{source,article}' IS NOT NULL ORDER BY m.seq LIMIT 1)
         FROM conversation_facts f WHERE f.workspace_id = $1 AND f.created_at >= $2
         ORDER BY f.created_at, f.conversation_id",
        &[&workspace.0, &since],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ConversationText {
                id: ConversationId(get(row, 0)?),
                created_at: get(row, 1)?,
                first_customer_message: get(row, 2)?,
                source: get(row, 3)?,
            })
        })
        .collect()
}
