//! Privacy: erasing a customer with every row about them, deleting resolved conversations past
//! the workspace's retention period, the records of both, and exporting one customer's data.
//!
//! Both deletions go through [`delete_conversations`], the one list of what is stored about a
//! conversation; a test looks through every table of the schema for anything left behind.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};
use tandem_domain::{ConversationId, CustomerId, Millis, UserId, WorkspaceId};

use super::rows::{json_column, to_json};
use crate::shared::privacy::{
    CONVERSATION_TABLES, RECORD_PREFIX, customer_erasure, erased, forget_in_alert, kept_evidence,
    record_key, record_keys_at, retention_erasure,
};
use crate::{Change, ConversationExport, CustomerExport, Entity, Erasure, StoreError, StoreResult};

/// Deletes these conversations of the workspace and every row about them; returns the rows
/// removed (or changed, for evidence lists) per table.
pub(super) fn delete_conversations(
    connection: &Connection,
    workspace: WorkspaceId,
    ids: &[i64],
) -> StoreResult<BTreeMap<String, u64>> {
    let mut rows = BTreeMap::new();
    if ids.is_empty() {
        return Ok(rows);
    }
    let list = to_json(&ids)?;
    // The outbox: events whose payload names one of the conversations, with their deliveries.
    let events = "SELECT id FROM webhook_events WHERE workspace_id = ?1
         AND json_extract(data, '$.conversation.id') IN (SELECT value FROM json_each(?2))";
    let deliveries: i64 = connection.query_row(
        &format!("SELECT COUNT(*) FROM webhook_deliveries WHERE event_id IN ({events})"),
        params![workspace.0, list],
        |row| row.get(0),
    )?;
    connection.execute(
        &format!("DELETE FROM webhook_deliveries WHERE event_id IN ({events})"),
        params![workspace.0, list],
    )?;
    let removed = connection.execute(
        &format!("DELETE FROM webhook_events WHERE id IN ({events})"),
        params![workspace.0, list],
    )?;
    rows.insert("webhook_deliveries".to_owned(), deliveries as u64);
    rows.insert("webhook_events".to_owned(), removed as u64);
    for table in CONVERSATION_TABLES {
        let removed = connection.execute(
            &format!(
                "DELETE FROM {table} WHERE conversation_id IN (SELECT value FROM json_each(?1))"
            ),
            [&list],
        )?;
        rows.insert((*table).to_owned(), removed as u64);
    }
    let removed = connection.execute(
        "DELETE FROM conversations WHERE workspace_id = ?1
         AND id IN (SELECT value FROM json_each(?2))",
        params![workspace.0, list],
    )?;
    rows.insert("conversations".to_owned(), removed as u64);
    // Evidence lists keep no id of a deleted conversation.
    let gone: HashSet<i64> = ids.iter().copied().collect();
    rows.insert("knowledge_suggestions".to_owned(), forget_evidence(connection, workspace, &gone)?);
    rows.insert("insight_alerts".to_owned(), forget_in_alerts(connection, workspace, &gone)?);
    Ok(rows)
}

fn forget_evidence(
    connection: &Connection,
    workspace: WorkspaceId,
    gone: &HashSet<i64>,
) -> StoreResult<u64> {
    let mut statement = connection.prepare(
        "SELECT kind, subject, conversation_ids FROM knowledge_suggestions WHERE workspace_id = ?1",
    )?;
    let found = statement
        .query_map([workspace.0], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                json_column::<Vec<i64>>(row, 2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut changed = 0;
    for (kind, subject, ids) in found {
        let ids = ids.unwrap_or_default();
        let Some(kept) = kept_evidence(ids, gone) else { continue };
        connection.execute(
            "UPDATE knowledge_suggestions SET conversation_ids = ?4
             WHERE workspace_id = ?1 AND kind = ?2 AND subject = ?3",
            params![workspace.0, kind, subject, to_json(&kept)?],
        )?;
        changed += 1;
    }
    Ok(changed)
}

fn forget_in_alerts(
    connection: &Connection,
    workspace: WorkspaceId,
    gone: &HashSet<i64>,
) -> StoreResult<u64> {
    let mut statement =
        connection.prepare("SELECT id, alert FROM insight_alerts WHERE workspace_id = ?1")?;
    let found = statement
        .query_map([workspace.0], |row| {
            Ok((row.get::<_, i64>(0)?, json_column::<serde_json::Value>(row, 1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut changed = 0;
    for (id, alert) in found {
        let Some(mut alert) = alert else { continue };
        if !forget_in_alert(&mut alert, gone) {
            continue;
        }
        connection.execute(
            "UPDATE insight_alerts SET alert = ?2 WHERE id = ?1",
            params![id, to_json(&alert)?],
        )?;
        changed += 1;
    }
    Ok(changed)
}

/// Writes the record of an erasure as a workspace settings document of its own.
fn record(connection: &Connection, workspace: WorkspaceId, erasure: &Erasure) -> StoreResult<()> {
    // Unique even for two records in one millisecond: the next free number after the time.
    let taken: i64 = connection.query_row(
        "SELECT COUNT(*) FROM workspace_settings WHERE workspace_id = ?1 AND key LIKE ?2",
        params![workspace.0, record_keys_at(erasure.at)],
        |row| row.get(0),
    )?;
    let key = record_key(erasure.at, taken);
    super::accounts::save_workspace_setting(
        connection,
        workspace,
        &key,
        serde_json::to_value(erasure).map_err(StoreError::database)?,
    )?;
    Ok(())
}

/// See [`crate::Store::erase_customer`].
pub(super) fn erase_customer(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    customer: CustomerId,
    erased_by: Option<UserId>,
    now: Millis,
) -> StoreResult<Erasure> {
    let known = connection
        .query_row(
            "SELECT 1 FROM customers WHERE id = ?1 AND workspace_id = ?2",
            params![customer.0, workspace.0],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !known {
        return Err(StoreError::NotFound(Entity::Customer));
    }
    let ids = conversation_ids(
        connection,
        "SELECT id FROM conversations WHERE workspace_id = ?1 AND customer_id = ?2 ORDER BY id",
        params![workspace.0, customer.0],
    )?;
    let mut rows = delete_conversations(connection, workspace, &ids)?;
    // Events about the customer that name no conversation of theirs (none today).
    // Their merges go, and a customer merged into them is theirs no longer.
    let merges = connection.execute(
        "DELETE FROM customer_merges WHERE keep_id = ?1 OR merged_id = ?1",
        [customer.0],
    )?;
    rows.insert("customer_merges".to_owned(), merges as u64);
    let identities = connection
        .execute("DELETE FROM customer_identities WHERE customer_id = ?1", [customer.0])?;
    rows.insert("customer_identities".to_owned(), identities as u64);
    connection
        .execute("UPDATE customers SET merged_into = NULL WHERE merged_into = ?1", [customer.0])?;
    let removed = connection.execute(
        "DELETE FROM customers WHERE id = ?1 AND workspace_id = ?2",
        params![customer.0, workspace.0],
    )?;
    rows.insert("customers".to_owned(), removed as u64);
    let erasure = customer_erasure(customer, erased_by, now, &ids, rows);
    record(connection, workspace, &erasure)?;
    erased(changes, workspace, &ids);
    Ok(erasure)
}

/// See [`crate::Store::delete_resolved_conversations`].
pub(super) fn delete_resolved(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    before: Millis,
    limit: u32,
    now: Millis,
) -> StoreResult<Erasure> {
    let ids = conversation_ids(
        connection,
        "SELECT id FROM conversations
         WHERE workspace_id = ?1 AND state = 'resolved' AND MAX(updated_at, last_message_at) < ?2
         ORDER BY id LIMIT ?3",
        params![workspace.0, before, limit],
    )?;
    let rows = delete_conversations(connection, workspace, &ids)?;
    let erasure = retention_erasure(now, &ids, rows);
    if !ids.is_empty() {
        record(connection, workspace, &erasure)?;
        erased(changes, workspace, &ids);
    }
    Ok(erasure)
}

fn conversation_ids(
    connection: &Connection,
    sql: &str,
    parameters: impl rusqlite::Params,
) -> StoreResult<Vec<i64>> {
    let mut statement = connection.prepare(sql)?;
    let rows = statement.query_map(parameters, |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// See [`crate::Store::erasures`].
pub(super) fn erasures(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<Vec<Erasure>> {
    let mut statement = connection.prepare(
        "SELECT value FROM workspace_settings WHERE workspace_id = ?1 AND key LIKE ?2
         ORDER BY key DESC",
    )?;
    let rows = statement.query_map(params![workspace.0, format!("{RECORD_PREFIX}%")], |row| {
        row.get::<_, String>(0)
    })?;
    let mut erasures = Vec::new();
    for text in rows {
        erasures.push(serde_json::from_str(&text?).map_err(StoreError::database)?);
    }
    Ok(erasures)
}

/// See [`crate::Store::customer_export`].
pub(super) fn export(
    connection: &Connection,
    workspace: WorkspaceId,
    customer: CustomerId,
    now: Millis,
) -> StoreResult<CustomerExport> {
    let customer = super::customers::customer(connection, customer)?
        .filter(|found| found.workspace_id == workspace)
        .ok_or(StoreError::NotFound(Entity::Customer))?;
    let ids = conversation_ids(
        connection,
        "SELECT id FROM conversations WHERE workspace_id = ?1 AND customer_id = ?2 ORDER BY id",
        params![workspace.0, customer.id.0],
    )?;
    let mut conversations = Vec::with_capacity(ids.len());
    for id in ids {
        let id = ConversationId(id);
        let mut statement = connection
            .prepare_cached("SELECT packet FROM handoffs WHERE conversation_id = ?1 ORDER BY id")?;
        let handoffs = statement
            .query_map([id.0], |row| json_column(row, 0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        conversations.push(ConversationExport {
            conversation: super::conversations::load(connection, id)?,
            messages: super::conversations::messages(connection, id, i64::MIN, u32::MAX)?,
            decisions: super::conversations::decisions(connection, id)?,
            handoffs,
            wrapup: super::conversations::wrapup(connection, id)?,
            rating: super::insight::rating(connection, id)?,
        });
    }
    let identities = super::identities::of_customer(connection, customer.id)?;
    Ok(CustomerExport { customer, identities, conversations, exported_at: now })
}
