//! Customers: anonymous ones made by the widget, verified ones found by the business's own
//! user id, and what each has talked about with the workspace before.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use tandem_domain::{ConversationId, Customer, CustomerId, Locale, UserId, WorkspaceId};

use super::rows::{CUSTOMER_COLUMNS, customer_from_row, to_json};
use crate::shared::customers::{self as shared, MAX_HOPS, MERGE_COLUMNS, MergeRow};
use crate::{
    Change, CustomerHistory, CustomerMerge, NewCustomer, StoreResult, VerifiedCustomer, now_millis,
};

pub(super) fn create(connection: &Connection, customer: NewCustomer) -> StoreResult<Customer> {
    let now = now_millis();
    connection
        .prepare_cached(
            "INSERT INTO customers (workspace_id, name, email, locale, attributes, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            customer.workspace_id.0,
            customer.name,
            customer.email,
            customer.locale.map(Locale::as_str),
            to_json(&customer.attributes)?,
            now
        ])?;
    Ok(crate::shared::created::customer(connection.last_insert_rowid(), customer, now))
}

pub(super) fn customer(connection: &Connection, id: CustomerId) -> StoreResult<Option<Customer>> {
    Ok(connection
        .prepare_cached(&format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?1"))?
        .query_row([id.0], customer_from_row)
        .optional()?)
}

/// The names of these customers of the workspace (those it has), in one read.
pub(super) fn names(
    connection: &Connection,
    workspace: WorkspaceId,
    ids: &[CustomerId],
) -> StoreResult<Vec<(CustomerId, String)>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let mut statement = connection.prepare_cached(
        "SELECT id, name FROM customers
         WHERE workspace_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
    )?;
    let rows = statement.query_map(params![workspace.0, to_json(&ids)?], |row| {
        Ok((CustomerId(row.get(0)?), row.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn verified(
    connection: &Connection,
    customer: VerifiedCustomer,
) -> StoreResult<Customer> {
    let attributes = to_json(&customer.attributes)?;
    // One statement finds or creates: the unique index on (workspace, external id) turns a
    // second insert of the same id into an update of the first.
    connection
        .prepare_cached(
            "INSERT INTO customers (workspace_id, name, email, locale, attributes, created_at, external_id, verified)
             VALUES (?1, COALESCE(?2, ?6), ?3, ?4, ?5, ?7, ?6, 1)
             ON CONFLICT (workspace_id, external_id) WHERE external_id IS NOT NULL
             DO UPDATE SET name = COALESCE(?2, name), email = COALESCE(?3, email),
                locale = COALESCE(locale, ?4), verified = 1",
        )?
        .execute(params![
            customer.workspace_id.0,
            customer.name,
            customer.email,
            customer.locale.map(Locale::as_str),
            attributes,
            customer.external_id,
            now_millis()
        ])?;
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE workspace_id = ?1 AND external_id = ?2"
        ))?
        .query_row(params![customer.workspace_id.0, customer.external_id], customer_from_row)?)
}

pub(super) fn history(
    connection: &Connection,
    customer: CustomerId,
) -> StoreResult<CustomerHistory> {
    let (conversations, with_people) = connection
        .prepare_cached(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE EXISTS (
                 SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'agent'))
             FROM conversations c WHERE c.customer_id = ?1",
        )?
        .query_row([customer.0], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let last_agent = connection
        .prepare_cached(
            "SELECT m.author_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.customer_id = ?1 AND m.author_kind = 'agent' ORDER BY m.id DESC LIMIT 1",
        )?
        .query_row([customer.0], |row| row.get::<_, Option<i64>>(0))
        .optional()?
        .flatten()
        .map(UserId);
    Ok(CustomerHistory { conversations, with_people, last_agent })
}

/// The customer whose conversations `customer`'s sessions use: itself, or the one it was
/// merged into (followed through later merges).
pub(super) fn kept(connection: &Connection, customer: CustomerId) -> StoreResult<CustomerId> {
    let mut current = customer;
    for _ in 0..MAX_HOPS {
        let into = connection
            .prepare_cached("SELECT merged_into FROM customers WHERE id = ?1")?
            .query_row([current.0], |row| row.get::<_, Option<i64>>(0))
            .optional()?
            .flatten();
        match into {
            Some(into) => current = CustomerId(into),
            None => break,
        }
    }
    Ok(current)
}

/// The workspace's customer with the customer it was merged into, if any.
fn merge_party(
    connection: &Connection,
    workspace: WorkspaceId,
    id: CustomerId,
) -> StoreResult<Option<(Customer, Option<i64>)>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {CUSTOMER_COLUMNS}, merged_into FROM customers WHERE id = ?1 AND workspace_id = ?2"
        ))?
        .query_row(params![id.0, workspace.0], |row| Ok((customer_from_row(row)?, row.get(9)?)))
        .optional()?)
}

fn save_profile(connection: &Connection, customer: &Customer) -> StoreResult<()> {
    connection
        .prepare_cached(
            "UPDATE customers SET email = ?2, locale = ?3, external_id = ?4, attributes = ?5
             WHERE id = ?1",
        )?
        .execute(params![
            customer.id.0,
            customer.email,
            customer.locale.map(Locale::as_str),
            customer.external_id,
            to_json(&customer.attributes)?
        ])?;
    Ok(())
}

/// Moves those of `ids` that `from` has to `to` (their report facts too), telling followers.
fn move_conversations(
    connection: &Connection,
    changes: &mut Vec<Change>,
    ids: &[ConversationId],
    from: CustomerId,
    to: CustomerId,
) -> StoreResult<Vec<ConversationId>> {
    let mut moved = Vec::new();
    for id in ids {
        let changed = connection
            .prepare_cached(
                "UPDATE conversations SET customer_id = ?3 WHERE id = ?1 AND customer_id = ?2",
            )?
            .execute(params![id.0, from.0, to.0])?;
        if changed > 0 {
            connection
                .prepare_cached(
                    "UPDATE conversation_facts SET customer_id = ?2 WHERE conversation_id = ?1",
                )?
                .execute(params![id.0, to.0])?;
            let conversation = super::conversations::load(connection, *id)?;
            changes.push(Change::Conversation(Arc::new(conversation)));
            moved.push(*id);
        }
    }
    Ok(moved)
}

fn merge_by_id(
    connection: &Connection,
    workspace: WorkspaceId,
    id: i64,
) -> StoreResult<Option<CustomerMerge>> {
    connection
        .prepare_cached(&format!(
            "SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = ?1 AND workspace_id = ?2"
        ))?
        .query_row(params![id, workspace.0], merge_row)
        .optional()?
        .map(MergeRow::merge)
        .transpose()
}

fn merge_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MergeRow> {
    Ok(MergeRow {
        id: row.get(0)?,
        workspace_id: row.get(1)?,
        keep_id: row.get(2)?,
        merged_id: row.get(3)?,
        conversation_ids: row.get(4)?,
        filled: row.get(5)?,
        by_user_id: row.get(6)?,
        at: row.get(7)?,
        undone_at: row.get(8)?,
        undone_by: row.get(9)?,
    })
}

/// See [`crate::Store::merge_customers`].
pub(super) fn merge(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    keep: CustomerId,
    merged: CustomerId,
    by: Option<UserId>,
) -> StoreResult<CustomerMerge> {
    let found_keep = if keep == merged { None } else { merge_party(connection, workspace, keep)? };
    let found_merged =
        if keep == merged { None } else { merge_party(connection, workspace, merged)? };
    shared::check(
        keep,
        merged,
        found_keep.as_ref().map(|(_, into)| *into),
        found_merged.as_ref().map(|(_, into)| *into),
    )?;
    let (Some((mut kept, _)), Some((mut gone, _))) = (found_keep, found_merged) else {
        return Err(crate::StoreError::NotFound(crate::Entity::Customer));
    };
    let ids: Vec<ConversationId> = connection
        .prepare_cached("SELECT id FROM conversations WHERE customer_id = ?1 ORDER BY id")?
        .query_map([merged.0], |row| Ok(ConversationId(row.get(0)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let moved = move_conversations(connection, changes, &ids, merged, keep)?;
    let filled = shared::fill(&mut kept, &gone);
    if filled.contains_key("external_id") {
        // Unique per workspace: it leaves the merged customer before the kept one gets it.
        gone.external_id = None;
        save_profile(connection, &gone)?;
    }
    save_profile(connection, &kept)?;
    connection
        .prepare_cached("UPDATE customers SET merged_into = ?2 WHERE id = ?1")?
        .execute(params![merged.0, keep.0])?;
    let now = now_millis();
    let conversation_ids: Vec<i64> = moved.iter().map(|id| id.0).collect();
    connection
        .prepare_cached(
            "INSERT INTO customer_merges (workspace_id, keep_id, merged_id, conversation_ids, filled, by_user_id, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            workspace.0,
            keep.0,
            merged.0,
            to_json(&conversation_ids)?,
            to_json(&filled)?,
            by.map(|user| user.0),
            now
        ])?;
    let id = connection.last_insert_rowid();
    // The merged customer's addresses and accounts now name the kept one.
    super::identities::move_all(connection, id, merged, keep)?;
    Ok(CustomerMerge {
        id,
        workspace_id: workspace,
        keep,
        merged,
        conversations: moved,
        filled,
        by,
        at: now,
        undone_at: None,
        undone_by: None,
    })
}

/// See [`crate::Store::undo_customer_merge`].
pub(super) fn undo_merge(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    id: i64,
    by: Option<UserId>,
) -> StoreResult<CustomerMerge> {
    let mut merge = merge_by_id(connection, workspace, id)?
        .ok_or(crate::StoreError::NotFound(crate::Entity::CustomerMerge))?;
    if merge.undone_at.is_some() {
        return Err(crate::Conflict::MergeUndone(id).into());
    }
    let (Some((mut kept, _)), Some((mut gone, _))) = (
        merge_party(connection, workspace, merge.keep)?,
        merge_party(connection, workspace, merge.merged)?,
    ) else {
        return Err(crate::StoreError::NotFound(crate::Entity::Customer));
    };
    move_conversations(connection, changes, &merge.conversations, merge.keep, merge.merged)?;
    super::identities::move_back(connection, id, merge.keep, merge.merged)?;
    let external_id = shared::unfill(&mut kept, &merge.filled);
    save_profile(connection, &kept)?;
    if let Some(external_id) = external_id
        && kept.external_id.as_ref() != Some(&external_id)
    {
        gone.external_id = Some(external_id);
        save_profile(connection, &gone)?;
    }
    connection
        .prepare_cached("UPDATE customers SET merged_into = NULL WHERE id = ?1")?
        .execute([merge.merged.0])?;
    let now = now_millis();
    connection
        .prepare_cached("UPDATE customer_merges SET undone_at = ?2, undone_by = ?3 WHERE id = ?1")?
        .execute(params![id, now, by.map(|user| user.0)])?;
    merge.undone_at = Some(now);
    merge.undone_by = by;
    Ok(merge)
}

/// See [`crate::Store::customer_merges`].
pub(super) fn merges(
    connection: &Connection,
    workspace: WorkspaceId,
    customer: CustomerId,
) -> StoreResult<Vec<CustomerMerge>> {
    let rows: Vec<MergeRow> = connection
        .prepare_cached(&format!(
            "SELECT {MERGE_COLUMNS} FROM customer_merges
             WHERE workspace_id = ?1 AND (keep_id = ?2 OR merged_id = ?2) ORDER BY id DESC"
        ))?
        .query_map(params![workspace.0, customer.0], merge_row)?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter().map(MergeRow::merge).collect()
}
