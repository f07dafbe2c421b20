//! Privacy: erasing a customer with every row about them, deleting resolved conversations past
//! the workspace's retention period, the records of both, and exporting one customer's data.
//!
//! Both deletions go through [`delete_conversations`], the one list of what is stored about a
//! conversation; a test looks through every table of the schema for anything left behind.
//! Ported from the SQLite store's `privacy`. Both deletions lock the workspace (its evidence
//! lists and erasure records are read, then written), then the customer, then the
//! conversations in id order, so a write in flight on one of them finishes first and one that
//! comes later finds it gone. Besides SQLite's tables they delete the change feed's rows that
//! carry the erased conversations (their messages and customers' names).

use std::collections::{BTreeMap, HashSet};

use tandem_domain::{ConversationId, CustomerId, Millis, UserId, WorkspaceId};

use super::sql::{Db, Param, execute, get, json, query, query_one, query_opt, to_json};
use crate::shared::privacy::{
    CONVERSATION_TABLES, RECORD_PREFIX, customer_erasure, erased, forget_in_alert, kept_evidence,
    record_key, record_keys_at, retention_erasure,
};
use crate::{Change, ConversationExport, CustomerExport, Entity, Erasure, StoreError, StoreResult};

/// Deletes these conversations of the workspace and every row about them; returns the rows
/// removed (or changed, for evidence lists) per table. The caller holds the workspace's lock.
pub(super) async fn delete_conversations(
    db: &Db,
    workspace: WorkspaceId,
    ids: &[i64],
) -> StoreResult<BTreeMap<String, u64>> {
    let mut rows = BTreeMap::new();
    if ids.is_empty() {
        return Ok(rows);
    }
    let list: Vec<i64> = ids.to_vec();
    // The same ids as JSON text, as payloads name them.
    let texts: Vec<String> = ids.iter().map(i64::to_string).collect();
    // Writes in flight on these conversations finish first; later ones find them gone.
    query(
        db,
        "SELECT id FROM conversations WHERE workspace_id = $1 AND id = ANY($2)
         ORDER BY id FOR UPDATE",
        &[&workspace.0, &list],
    )
    .await?;
    // The outbox: events whose payload names one of the conversations, with their deliveries.
    let events = "SELECT id FROM webhook_events WHERE workspace_id = $1
         AND data::jsonb #>> '{conversation,id}' = ANY($2)";
    let deliveries = execute(
        db,
        &format!("DELETE FROM webhook_deliveries WHERE event_id IN ({events})"),
        &[&workspace.0, &texts],
    )
    .await?;
    let removed = execute(
        db,
        &format!("DELETE FROM webhook_events WHERE id IN ({events})"),
        &[&workspace.0, &texts],
    )
    .await?;
    rows.insert("webhook_deliveries".to_owned(), deliveries);
    rows.insert("webhook_events".to_owned(), removed);
    for table in CONVERSATION_TABLES {
        let removed =
            execute(db, &format!("DELETE FROM {table} WHERE conversation_id = ANY($1)"), &[&list])
                .await?;
        rows.insert((*table).to_owned(), removed);
    }
    let removed = execute(
        db,
        "DELETE FROM conversations WHERE workspace_id = $1 AND id = ANY($2)",
        &[&workspace.0, &list],
    )
    .await?;
    rows.insert("conversations".to_owned(), removed);
    // The change feed: the changes that carried the conversations (and their messages) to the
    // nodes. Erasures' own changes name ids only and stay.
    let removed = execute(
        db,
        "DELETE FROM change_feed
         WHERE payload::jsonb ->> 'kind' IN ('message', 'conversation')
           AND payload::jsonb #>> '{conversation,id}' = ANY($1)",
        &[&texts],
    )
    .await?;
    rows.insert("change_feed".to_owned(), removed);
    // Evidence lists keep no id of a deleted conversation.
    let gone: HashSet<i64> = ids.iter().copied().collect();
    rows.insert("knowledge_suggestions".to_owned(), forget_evidence(db, workspace, &gone).await?);
    rows.insert("insight_alerts".to_owned(), forget_in_alerts(db, workspace, &gone).await?);
    Ok(rows)
}

async fn forget_evidence(db: &Db, workspace: WorkspaceId, gone: &HashSet<i64>) -> StoreResult<u64> {
    let found = query(
        db,
        "SELECT kind, subject, conversation_ids FROM knowledge_suggestions WHERE workspace_id = $1",
        &[&workspace.0],
    )
    .await?;
    let mut changed = 0;
    for row in found {
        let kind: String = get(&row, 0)?;
        let subject: String = get(&row, 1)?;
        let ids: Vec<i64> = json(&row, 2)?.unwrap_or_default();
        let Some(kept) = kept_evidence(ids, gone) else { continue };
        execute(
            db,
            "UPDATE knowledge_suggestions SET conversation_ids = $4
             WHERE workspace_id = $1 AND kind = $2 AND subject = $3",
            &[&workspace.0, &kind, &subject, &to_json(&kept)?],
        )
        .await?;
        changed += 1;
    }
    Ok(changed)
}

async fn forget_in_alerts(
    db: &Db,
    workspace: WorkspaceId,
    gone: &HashSet<i64>,
) -> StoreResult<u64> {
    let found =
        query(db, "SELECT id, alert FROM insight_alerts WHERE workspace_id = $1", &[&workspace.0])
            .await?;
    let mut changed = 0;
    for row in found {
        let id: i64 = get(&row, 0)?;
        let Some(mut alert) = json::<serde_json::Value>(&row, 1)? else { continue };
        if !forget_in_alert(&mut alert, gone) {
            continue;
        }
        execute(
            db,
            "UPDATE insight_alerts SET alert = $2 WHERE id = $1",
            &[&id, &to_json(&alert)?],
        )
        .await?;
        changed += 1;
    }
    Ok(changed)
}

/// Writes the record of an erasure as a workspace settings document of its own. The caller
/// holds the workspace's lock, so the number below is free.
async fn record(db: &Db, workspace: WorkspaceId, erasure: &Erasure) -> StoreResult<()> {
    // Unique even for two records in one millisecond: the next free number after the time.
    let row = query_one(
        db,
        "SELECT COUNT(*) FROM workspace_settings WHERE workspace_id = $1 AND key LIKE $2",
        &[&workspace.0, &record_keys_at(erasure.at)],
    )
    .await?;
    let taken: i64 = get(&row, 0)?;
    let key = record_key(erasure.at, taken);
    super::accounts::save_workspace_setting(
        db,
        workspace,
        &key,
        serde_json::to_value(erasure).map_err(StoreError::database)?,
    )
    .await?;
    Ok(())
}

/// Locks the workspace's row against other erasures, evidence decisions and imports (NO KEY
/// UPDATE: inserts of the workspace's rows, which take its key-share lock, go on). `false` when
/// there is no such workspace.
async fn lock_workspace(db: &Db, workspace: WorkspaceId) -> StoreResult<bool> {
    Ok(query_opt(db, "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", &[&workspace.0])
        .await?
        .is_some())
}

/// See [`crate::Store::erase_customer`].
pub(super) async fn erase_customer(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    customer: CustomerId,
    erased_by: Option<UserId>,
    now: Millis,
) -> StoreResult<Erasure> {
    lock_workspace(db, workspace).await?;
    // The customer's lock keeps new conversations of theirs out until this commits.
    let known = query_opt(
        db,
        "SELECT 1 FROM customers WHERE id = $1 AND workspace_id = $2 FOR UPDATE",
        &[&customer.0, &workspace.0],
    )
    .await?
    .is_some();
    if !known {
        return Err(StoreError::NotFound(Entity::Customer));
    }
    let ids = conversation_ids(
        db,
        "SELECT id FROM conversations WHERE workspace_id = $1 AND customer_id = $2 ORDER BY id",
        &[&workspace.0, &customer.0],
    )
    .await?;
    let mut rows = delete_conversations(db, workspace, &ids).await?;
    // Their merges go, and a customer merged into them is theirs no longer.
    let merges = execute(
        db,
        "DELETE FROM customer_merges WHERE keep_id = $1 OR merged_id = $1",
        &[&customer.0],
    )
    .await?;
    rows.insert("customer_merges".to_owned(), merges);
    let identities =
        execute(db, "DELETE FROM customer_identities WHERE customer_id = $1", &[&customer.0])
            .await?;
    rows.insert("customer_identities".to_owned(), identities);
    execute(db, "UPDATE customers SET merged_into = NULL WHERE merged_into = $1", &[&customer.0])
        .await?;
    let removed = execute(
        db,
        "DELETE FROM customers WHERE id = $1 AND workspace_id = $2",
        &[&customer.0, &workspace.0],
    )
    .await?;
    rows.insert("customers".to_owned(), removed);
    let erasure = customer_erasure(customer, erased_by, now, &ids, rows);
    record(db, workspace, &erasure).await?;
    erased(changes, workspace, &ids);
    Ok(erasure)
}

/// See [`crate::Store::delete_resolved_conversations`].
pub(super) async fn delete_resolved(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    before: Millis,
    limit: u32,
    now: Millis,
) -> StoreResult<Erasure> {
    lock_workspace(db, workspace).await?;
    // Locked as they are chosen: one reopened meanwhile no longer qualifies and is skipped.
    let ids = conversation_ids(
        db,
        "SELECT id FROM conversations
         WHERE workspace_id = $1 AND state = 'resolved' AND GREATEST(updated_at, last_message_at) < $2
         ORDER BY id LIMIT $3 FOR UPDATE",
        &[&workspace.0, &before, &i64::from(limit)],
    )
    .await?;
    let rows = delete_conversations(db, workspace, &ids).await?;
    let erasure = retention_erasure(now, &ids, rows);
    if !ids.is_empty() {
        record(db, workspace, &erasure).await?;
        erased(changes, workspace, &ids);
    }
    Ok(erasure)
}

async fn conversation_ids(db: &Db, sql: &str, parameters: &[Param<'_>]) -> StoreResult<Vec<i64>> {
    query(db, sql, parameters).await?.iter().map(|row| get(row, 0)).collect()
}

/// See [`crate::Store::erasures`].
pub(super) async fn erasures(db: &Db, workspace: WorkspaceId) -> StoreResult<Vec<Erasure>> {
    // Byte order, as SQLite sorts the keys.
    let rows = query(
        db,
        "SELECT value FROM workspace_settings WHERE workspace_id = $1 AND key LIKE $2
         ORDER BY key COLLATE \"C\" DESC",
        &[&workspace.0, &format!("{RECORD_PREFIX}%")],
    )
    .await?;
    let mut erasures = Vec::with_capacity(rows.len());
    for row in rows {
        let text: String = get(&row, 0)?;
        erasures.push(serde_json::from_str(&text).map_err(StoreError::database)?);
    }
    Ok(erasures)
}

/// See [`crate::Store::customer_export`]. Runs in one snapshot (a repeatable-read, read-only
/// transaction), so every part is as of the same commit.
pub(super) async fn export(
    db: &Db,
    workspace: WorkspaceId,
    customer: CustomerId,
    now: Millis,
) -> StoreResult<CustomerExport> {
    let customer = super::customers::customer(db, customer)
        .await?
        .filter(|found| found.workspace_id == workspace)
        .ok_or(StoreError::NotFound(Entity::Customer))?;
    let ids = conversation_ids(
        db,
        "SELECT id FROM conversations WHERE workspace_id = $1 AND customer_id = $2 ORDER BY id",
        &[&workspace.0, &customer.id.0],
    )
    .await?;
    let mut conversations = Vec::with_capacity(ids.len());
    for id in ids {
        let id = ConversationId(id);
        let handoffs = query(
            db,
            "SELECT packet FROM handoffs WHERE conversation_id = $1 ORDER BY id",
            &[&id.0],
        )
        .await?
        .iter()
        .map(|row| json(row, 0))
        .collect::<StoreResult<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
        conversations.push(ConversationExport {
            conversation: super::conversations::load(db, id).await?,
            messages: super::conversations::messages(db, id, i64::MIN, u32::MAX).await?,
            decisions: super::conversations::decisions(db, id).await?,
            handoffs,
            wrapup: super::conversations::wrapup(db, id).await?,
            rating: super::insight::rating(db, id).await?,
        });
    }
    let identities = super::identities::of_customer(db, customer.id).await?;
    Ok(CustomerExport { customer, identities, conversations, exported_at: now })
}
