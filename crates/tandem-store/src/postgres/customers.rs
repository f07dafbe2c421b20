//! Customers: anonymous ones made by the widget, verified ones found by the business's own
//! user id, and what each has talked about with the workspace before.

use std::sync::Arc;

use tandem_domain::{ConversationId, Customer, CustomerId, Locale, UserId, WorkspaceId};

use super::rows::{CUSTOMER_COLUMNS, customer_from_row};
use super::sql::{Db, execute, get, query, query_one, query_opt, to_json};
use crate::shared::customers::{self as shared, MAX_HOPS, MERGE_COLUMNS, MergeRow};
use crate::{
    Change, CustomerHistory, CustomerMerge, NewCustomer, StoreError, StoreResult, VerifiedCustomer,
    now_millis,
};

pub(super) async fn create(db: &Db, customer: NewCustomer) -> StoreResult<Customer> {
    let now = now_millis();
    let row = query_one(
        db,
        "INSERT INTO customers (workspace_id, name, email, locale, attributes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &customer.workspace_id.0,
            &customer.name,
            &customer.email,
            &customer.locale.map(Locale::as_str),
            &to_json(&customer.attributes)?,
            &now,
        ],
    )
    .await?;
    Ok(crate::shared::created::customer(get(&row, 0)?, customer, now))
}

pub(super) async fn customer(db: &Db, id: CustomerId) -> StoreResult<Option<Customer>> {
    let row =
        query_opt(db, &format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1"), &[&id.0])
            .await?;
    row.as_ref().map(customer_from_row).transpose()
}

/// The names of these customers of the workspace (those it has), in one read.
pub(super) async fn names(
    db: &Db,
    workspace: WorkspaceId,
    ids: &[CustomerId],
) -> StoreResult<Vec<(CustomerId, String)>> {
    let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
    let rows = query(
        db,
        "SELECT id, name FROM customers WHERE workspace_id = $1 AND id = ANY($2)",
        &[&workspace.0, &ids],
    )
    .await?;
    rows.iter().map(|row| Ok((CustomerId(get(row, 0)?), get(row, 1)?))).collect()
}

pub(super) async fn verified(db: &Db, customer: VerifiedCustomer) -> StoreResult<Customer> {
    let attributes = to_json(&customer.attributes)?;
    // One statement finds or creates: the unique index on (workspace, external id) turns a
    // second insert of the same id into an update of the first (a concurrent one waits for
    // the first's commit, then updates its row), and either way returns the row.
    let row = query_one(
        db,
        &format!(
            "INSERT INTO customers (workspace_id, name, email, locale, attributes, created_at, external_id, verified)
             VALUES ($1, COALESCE($2, $6), $3, $4, $5, $7, $6, TRUE)
             ON CONFLICT (workspace_id, external_id) WHERE external_id IS NOT NULL
             DO UPDATE SET name = COALESCE($2, customers.name), email = COALESCE($3, customers.email),
                locale = COALESCE(customers.locale, $4), verified = TRUE
             RETURNING {CUSTOMER_COLUMNS}"
        ),
        &[
            &customer.workspace_id.0,
            &customer.name,
            &customer.email,
            &customer.locale.map(Locale::as_str),
            &attributes,
            &customer.external_id,
            &now_millis(),
        ],
    )
    .await?;
    customer_from_row(&row)
}

pub(super) async fn history(db: &Db, customer: CustomerId) -> StoreResult<CustomerHistory> {
    let row = query_one(
        db,
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE EXISTS (
             SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'agent'))
         FROM conversations c WHERE c.customer_id = $1",
        &[&customer.0],
    )
    .await?;
    let count = |index: usize| -> StoreResult<u32> {
        u32::try_from(get::<i64>(&row, index)?).map_err(StoreError::database)
    };
    let (conversations, with_people) = (count(0)?, count(1)?);
    let last_agent = query_opt(
        db,
        "SELECT m.author_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE c.customer_id = $1 AND m.author_kind = 'agent' ORDER BY m.id DESC LIMIT 1",
        &[&customer.0],
    )
    .await?
    .map(|row| get::<Option<i64>>(&row, 0))
    .transpose()?
    .flatten()
    .map(UserId);
    Ok(CustomerHistory { conversations, with_people, last_agent })
}

/// Locks `customer`'s row and the rows of the customers it was merged into (followed through
/// later merges); returns the customer whose conversations its sessions use.
pub(super) async fn lock_kept(db: &Db, customer: CustomerId) -> StoreResult<CustomerId> {
    let mut current = customer;
    for _ in 0..MAX_HOPS {
        let into: Option<i64> = match query_opt(
            db,
            "SELECT merged_into FROM customers WHERE id = $1 FOR UPDATE",
            &[&current.0],
        )
        .await?
        {
            Some(row) => get(&row, 0)?,
            None => None,
        };
        match into {
            Some(into) => current = CustomerId(into),
            None => break,
        }
    }
    Ok(current)
}

/// Locks the workspace's customer's row; returns it with the customer it was merged into.
async fn merge_party(
    db: &Db,
    workspace: WorkspaceId,
    id: CustomerId,
) -> StoreResult<Option<(Customer, Option<i64>)>> {
    let row = query_opt(
        db,
        &format!(
            "SELECT {CUSTOMER_COLUMNS}, merged_into FROM customers
             WHERE id = $1 AND workspace_id = $2 FOR UPDATE"
        ),
        &[&id.0, &workspace.0],
    )
    .await?;
    match row {
        Some(row) => Ok(Some((customer_from_row(&row)?, get(&row, 9)?))),
        None => Ok(None),
    }
}

async fn save_profile(db: &Db, customer: &Customer) -> StoreResult<()> {
    execute(
        db,
        "UPDATE customers SET email = $2, locale = $3, external_id = $4, attributes = $5
         WHERE id = $1",
        &[
            &customer.id.0,
            &customer.email,
            &customer.locale.map(Locale::as_str),
            &customer.external_id,
            &to_json(&customer.attributes)?,
        ],
    )
    .await?;
    Ok(())
}

/// Moves those of `ids` that `from` has to `to` (their report facts too), telling followers.
async fn move_conversations(
    db: &Db,
    changes: &mut Vec<Change>,
    ids: &[ConversationId],
    from: CustomerId,
    to: CustomerId,
) -> StoreResult<Vec<ConversationId>> {
    let mut moved = Vec::new();
    for id in ids {
        let changed = execute(
            db,
            "UPDATE conversations SET customer_id = $3 WHERE id = $1 AND customer_id = $2",
            &[&id.0, &from.0, &to.0],
        )
        .await?;
        if changed > 0 {
            execute(
                db,
                "UPDATE conversation_facts SET customer_id = $2 WHERE conversation_id = $1",
                &[&id.0, &to.0],
            )
            .await?;
            let conversation = super::conversations::load(db, *id).await?;
            changes.push(Change::Conversation(Arc::new(conversation)));
            moved.push(*id);
        }
    }
    Ok(moved)
}

fn merge_row(row: &tokio_postgres::Row) -> StoreResult<CustomerMerge> {
    MergeRow {
        id: get(row, 0)?,
        workspace_id: get(row, 1)?,
        keep_id: get(row, 2)?,
        merged_id: get(row, 3)?,
        conversation_ids: get(row, 4)?,
        filled: get(row, 5)?,
        by_user_id: get(row, 6)?,
        at: get(row, 7)?,
        undone_at: get(row, 8)?,
        undone_by: get(row, 9)?,
    }
    .merge()
}

async fn lock_workspace(db: &Db, workspace: WorkspaceId) -> StoreResult<()> {
    execute(db, "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", &[&workspace.0])
        .await?;
    Ok(())
}

/// See [`crate::Store::merge_customers`].
pub(super) async fn merge(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    keep: CustomerId,
    merged: CustomerId,
    by: Option<UserId>,
) -> StoreResult<CustomerMerge> {
    // The workspace's lock runs its merges one at a time; the customers' rows are then locked
    // in id order (and keep new conversations of theirs out until this commits).
    lock_workspace(db, workspace).await?;
    let (found_keep, found_merged) = if keep == merged {
        (None, None)
    } else if keep.0 < merged.0 {
        let found_keep = merge_party(db, workspace, keep).await?;
        (found_keep, merge_party(db, workspace, merged).await?)
    } else {
        let found_merged = merge_party(db, workspace, merged).await?;
        (merge_party(db, workspace, keep).await?, found_merged)
    };
    shared::check(
        keep,
        merged,
        found_keep.as_ref().map(|(_, into)| *into),
        found_merged.as_ref().map(|(_, into)| *into),
    )?;
    let (Some((mut kept, _)), Some((mut gone, _))) = (found_keep, found_merged) else {
        return Err(StoreError::NotFound(crate::Entity::Customer));
    };
    let ids: Vec<ConversationId> = query(
        db,
        "SELECT id FROM conversations WHERE customer_id = $1 ORDER BY id FOR UPDATE",
        &[&merged.0],
    )
    .await?
    .iter()
    .map(|row| Ok(ConversationId(get(row, 0)?)))
    .collect::<StoreResult<_>>()?;
    let moved = move_conversations(db, changes, &ids, merged, keep).await?;
    let filled = shared::fill(&mut kept, &gone);
    if filled.contains_key("external_id") {
        // Unique per workspace: it leaves the merged customer before the kept one gets it.
        gone.external_id = None;
        save_profile(db, &gone).await?;
    }
    save_profile(db, &kept).await?;
    execute(db, "UPDATE customers SET merged_into = $2 WHERE id = $1", &[&merged.0, &keep.0])
        .await?;
    let now = now_millis();
    let conversation_ids: Vec<i64> = moved.iter().map(|id| id.0).collect();
    let row = query_one(
        db,
        "INSERT INTO customer_merges (workspace_id, keep_id, merged_id, conversation_ids, filled, by_user_id, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &workspace.0,
            &keep.0,
            &merged.0,
            &to_json(&conversation_ids)?,
            &to_json(&filled)?,
            &by.map(|user| user.0),
            &now,
        ],
    )
    .await?;
    let id = get(&row, 0)?;
    // The merged customer's addresses and accounts now name the kept one.
    super::identities::move_all(db, id, merged, keep).await?;
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
pub(super) async fn undo_merge(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    id: i64,
    by: Option<UserId>,
) -> StoreResult<CustomerMerge> {
    lock_workspace(db, workspace).await?;
    let row = query_opt(
        db,
        &format!(
            "SELECT {MERGE_COLUMNS} FROM customer_merges WHERE id = $1 AND workspace_id = $2 FOR UPDATE"
        ),
        &[&id, &workspace.0],
    )
    .await?
    .ok_or(StoreError::NotFound(crate::Entity::CustomerMerge))?;
    let mut merge = merge_row(&row)?;
    if merge.undone_at.is_some() {
        return Err(crate::Conflict::MergeUndone(id).into());
    }
    let (first, second) = if merge.keep.0 < merge.merged.0 {
        (merge.keep, merge.merged)
    } else {
        (merge.merged, merge.keep)
    };
    let first = merge_party(db, workspace, first).await?;
    let second = merge_party(db, workspace, second).await?;
    let (Some((a, _)), Some((b, _))) = (first, second) else {
        return Err(StoreError::NotFound(crate::Entity::Customer));
    };
    let (mut kept, mut gone) = if a.id == merge.keep { (a, b) } else { (b, a) };
    let mut ids = merge.conversations.clone();
    ids.sort();
    execute(
        db,
        "SELECT id FROM conversations WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&ids.iter().map(|id| id.0).collect::<Vec<i64>>()],
    )
    .await?;
    move_conversations(db, changes, &merge.conversations, merge.keep, merge.merged).await?;
    super::identities::move_back(db, id, merge.keep, merge.merged).await?;
    let external_id = shared::unfill(&mut kept, &merge.filled);
    save_profile(db, &kept).await?;
    if let Some(external_id) = external_id
        && kept.external_id.as_ref() != Some(&external_id)
    {
        gone.external_id = Some(external_id);
        save_profile(db, &gone).await?;
    }
    execute(db, "UPDATE customers SET merged_into = NULL WHERE id = $1", &[&merge.merged.0])
        .await?;
    let now = now_millis();
    execute(
        db,
        "UPDATE customer_merges SET undone_at = $2, undone_by = $3 WHERE id = $1",
        &[&id, &now, &by.map(|user| user.0)],
    )
    .await?;
    merge.undone_at = Some(now);
    merge.undone_by = by;
    Ok(merge)
}

/// See [`crate::Store::customer_merges`].
pub(super) async fn merges(
    db: &Db,
    workspace: WorkspaceId,
    customer: CustomerId,
) -> StoreResult<Vec<CustomerMerge>> {
    query(
        db,
        &format!(
            "SELECT {MERGE_COLUMNS} FROM customer_merges
             WHERE workspace_id = $1 AND (keep_id = $2 OR merged_id = $2) ORDER BY id DESC"
        ),
        &[&workspace.0, &customer.0],
    )
    .await?
    .iter()
    .map(merge_row)
    .collect()
}
