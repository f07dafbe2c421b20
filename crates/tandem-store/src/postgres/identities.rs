//! Customers' identities: an e-mail address, a phone number or a channel's account id names
//! one customer of a workspace. The primary key on (workspace, kind, value) settles races
//! between nodes: a second find-or-create waits for the first's commit and finds its customer.

use tandem_domain::{Customer, CustomerId, IdentityKind, WorkspaceId};
use tokio_postgres::Row;

use super::sql::{Db, code, execute, get, query, query_opt, to_json};
use crate::shared::identities::MovedIdentity;
use crate::{
    Attached, CustomerIdentity, Entity, IdentifiedCustomer, NewCustomer, StoreError, StoreResult,
    now_millis,
};

fn identity_from_row(row: &Row) -> StoreResult<CustomerIdentity> {
    Ok(CustomerIdentity {
        customer_id: CustomerId(get(row, 0)?),
        kind: code(row, 1, IdentityKind::parse)?,
        value: get(row, 2)?,
        verified: get(row, 3)?,
        created_at: get(row, 4)?,
    })
}

/// The customer holding the identity, if any, its row locked until the transaction ends.
async fn holder(
    db: &Db,
    workspace: WorkspaceId,
    kind: IdentityKind,
    value: &str,
) -> StoreResult<Option<CustomerId>> {
    match query_opt(
        db,
        "SELECT customer_id FROM customer_identities
         WHERE workspace_id = $1 AND kind = $2 AND value = $3 FOR UPDATE",
        &[&workspace.0, &kind.as_str(), &value],
    )
    .await?
    {
        Some(row) => Ok(Some(CustomerId(get(&row, 0)?))),
        None => Ok(None),
    }
}

/// Gives `customer` the identity unless it is taken; `false` when it was (a concurrent
/// insert is waited for, so its holder is then visible).
async fn insert(
    db: &Db,
    workspace: WorkspaceId,
    customer: CustomerId,
    (kind, value, verified): (IdentityKind, &str, bool),
) -> StoreResult<bool> {
    let inserted = execute(
        db,
        "INSERT INTO customer_identities (workspace_id, kind, value, customer_id, verified, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        &[&workspace.0, &kind.as_str(), &value, &customer.0, &verified, &now_millis()],
    )
    .await?;
    Ok(inserted > 0)
}

/// Marks the identity verified (never the other way).
async fn verify(
    db: &Db,
    workspace: WorkspaceId,
    kind: IdentityKind,
    value: &str,
) -> StoreResult<()> {
    execute(
        db,
        "UPDATE customer_identities SET verified = TRUE
         WHERE workspace_id = $1 AND kind = $2 AND value = $3 AND NOT verified",
        &[&workspace.0, &kind.as_str(), &value],
    )
    .await?;
    Ok(())
}

/// The customer holding the identity, followed through merges to the one kept; marks the
/// identity verified when asked.
async fn found(
    db: &Db,
    holder: CustomerId,
    identity: (WorkspaceId, IdentityKind, &str, bool),
) -> StoreResult<Customer> {
    let (workspace, kind, value, verified) = identity;
    if verified {
        verify(db, workspace, kind, value).await?;
    }
    let kept = super::customers::lock_kept(db, holder).await?;
    super::customers::customer(db, kept).await?.ok_or(StoreError::NotFound(Entity::Customer))
}

/// See [`crate::Store::identified_customer`].
pub(super) async fn identified(db: &Db, wanted: IdentifiedCustomer) -> StoreResult<Customer> {
    let workspace = wanted.workspace_id;
    let identity = (workspace, wanted.kind, wanted.value.as_str(), wanted.verified);
    if let Some(holder) = holder(db, workspace, wanted.kind, &wanted.value).await? {
        return found(db, holder, identity).await;
    }
    let customer = super::customers::create(
        db,
        NewCustomer {
            workspace_id: workspace,
            name: wanted.name.clone(),
            email: wanted.email.clone(),
            locale: wanted.locale,
            attributes: wanted.attributes.clone(),
        },
    )
    .await?;
    let new = (wanted.kind, wanted.value.as_str(), wanted.verified);
    if insert(db, workspace, customer.id, new).await? {
        return Ok(customer);
    }
    // Another transaction gave the identity to its new customer first: that one is the
    // customer, and the one made here goes (nothing refers to it yet).
    execute(db, "DELETE FROM customers WHERE id = $1", &[&customer.id.0]).await?;
    let holder = holder(db, workspace, wanted.kind, &wanted.value)
        .await?
        .ok_or_else(|| StoreError::database("an identity taken meanwhile has no holder"))?;
    found(db, holder, identity).await
}

/// See [`crate::Store::attach_identity`].
pub(super) async fn attach(
    db: &Db,
    customer: CustomerId,
    kind: IdentityKind,
    value: &str,
    verified: bool,
) -> StoreResult<Attached> {
    let workspace = super::customers::customer(db, customer)
        .await?
        .ok_or(StoreError::NotFound(Entity::Customer))?
        .workspace_id;
    if insert(db, workspace, customer, (kind, value, verified)).await? {
        return Ok(Attached::Attached);
    }
    match holder(db, workspace, kind, value).await? {
        Some(holder) if holder == customer => {
            if verified {
                verify(db, workspace, kind, value).await?;
            }
            Ok(Attached::Already)
        }
        Some(holder) => Ok(Attached::HeldBy(holder)),
        None => Err(StoreError::database("an identity taken meanwhile has no holder")),
    }
}

/// See [`crate::Store::customer_identities`].
pub(super) async fn of_customer(
    db: &Db,
    customer: CustomerId,
) -> StoreResult<Vec<CustomerIdentity>> {
    query(
        db,
        "SELECT customer_id, kind, value, verified, created_at FROM customer_identities
         WHERE customer_id = $1 ORDER BY created_at, kind, value",
        &[&customer.0],
    )
    .await?
    .iter()
    .map(identity_from_row)
    .collect()
}

/// Moves every identity of `from` to `to` (a merge), recording which in the merge `merge`.
pub(super) async fn move_all(
    db: &Db,
    merge: i64,
    from: CustomerId,
    to: CustomerId,
) -> StoreResult<()> {
    let moved: Vec<MovedIdentity> = query(
        db,
        "UPDATE customer_identities SET customer_id = $2 WHERE customer_id = $1
         RETURNING kind, value",
        &[&from.0, &to.0],
    )
    .await?
    .iter()
    .map(|row| Ok(MovedIdentity { kind: code(row, 0, IdentityKind::parse)?, value: get(row, 1)? }))
    .collect::<StoreResult<_>>()?;
    execute(
        db,
        "UPDATE customer_merges SET identities = $2 WHERE id = $1",
        &[&merge, &to_json(&moved)?],
    )
    .await?;
    Ok(())
}

/// Moves back those identities the merge `merge` moved that `from` (the kept customer) still
/// holds, to `to` (the merged one).
pub(super) async fn move_back(
    db: &Db,
    merge: i64,
    from: CustomerId,
    to: CustomerId,
) -> StoreResult<()> {
    let row = query_opt(db, "SELECT identities FROM customer_merges WHERE id = $1", &[&merge])
        .await?
        .ok_or(StoreError::NotFound(Entity::CustomerMerge))?;
    let recorded: String = get(&row, 0)?;
    let moved: Vec<MovedIdentity> =
        serde_json::from_str(&recorded).map_err(StoreError::database)?;
    for identity in moved {
        execute(
            db,
            "UPDATE customer_identities SET customer_id = $4
             WHERE customer_id = $1 AND kind = $2 AND value = $3",
            &[&from.0, &identity.kind.as_str(), &identity.value, &to.0],
        )
        .await?;
    }
    Ok(())
}
