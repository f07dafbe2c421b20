//! Customers' identities: an e-mail address, a phone number or a channel's account id names
//! one customer of a workspace. The single writer runs each find-or-create alone, so two
//! messages from a new address make one customer.

use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_domain::{Customer, CustomerId, IdentityKind, WorkspaceId};

use super::rows::{text_enum, to_json};
use crate::shared::identities::MovedIdentity;
use crate::{
    Attached, CustomerIdentity, Entity, IdentifiedCustomer, NewCustomer, StoreError, StoreResult,
    now_millis,
};

fn identity_from_row(row: &Row<'_>) -> rusqlite::Result<CustomerIdentity> {
    Ok(CustomerIdentity {
        customer_id: CustomerId(row.get(0)?),
        kind: text_enum(row, 1, IdentityKind::parse)?,
        value: row.get(2)?,
        verified: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// The customer holding the identity, if any.
fn holder(
    connection: &Connection,
    workspace: WorkspaceId,
    kind: IdentityKind,
    value: &str,
) -> StoreResult<Option<CustomerId>> {
    Ok(connection
        .prepare_cached(
            "SELECT customer_id FROM customer_identities
             WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3",
        )?
        .query_row(params![workspace.0, kind.as_str(), value], |row| row.get(0).map(CustomerId))
        .optional()?)
}

fn insert(
    connection: &Connection,
    workspace: WorkspaceId,
    customer: CustomerId,
    (kind, value, verified): (IdentityKind, &str, bool),
) -> StoreResult<()> {
    connection
        .prepare_cached(
            "INSERT INTO customer_identities (workspace_id, kind, value, customer_id, verified, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![workspace.0, kind.as_str(), value, customer.0, verified, now_millis()])?;
    Ok(())
}

/// Marks the identity verified (never the other way).
fn verify(
    connection: &Connection,
    workspace: WorkspaceId,
    kind: IdentityKind,
    value: &str,
) -> StoreResult<()> {
    connection
        .prepare_cached(
            "UPDATE customer_identities SET verified = 1
             WHERE workspace_id = ?1 AND kind = ?2 AND value = ?3 AND NOT verified",
        )?
        .execute(params![workspace.0, kind.as_str(), value])?;
    Ok(())
}

/// See [`crate::Store::identified_customer`].
pub(super) fn identified(
    connection: &Connection,
    found: IdentifiedCustomer,
) -> StoreResult<Customer> {
    let workspace = found.workspace_id;
    if let Some(holder) = holder(connection, workspace, found.kind, &found.value)? {
        if found.verified {
            verify(connection, workspace, found.kind, &found.value)?;
        }
        // A customer merged into another one is found as the kept one.
        let kept = super::customers::kept(connection, holder)?;
        return super::customers::customer(connection, kept)?
            .ok_or(StoreError::NotFound(Entity::Customer));
    }
    let identity = (found.kind, found.value.as_str(), found.verified);
    let customer = super::customers::create(
        connection,
        NewCustomer {
            workspace_id: workspace,
            name: found.name,
            email: found.email,
            locale: found.locale,
            attributes: found.attributes,
        },
    )?;
    insert(connection, workspace, customer.id, identity)?;
    Ok(customer)
}

/// See [`crate::Store::attach_identity`].
pub(super) fn attach(
    connection: &Connection,
    customer: CustomerId,
    kind: IdentityKind,
    value: &str,
    verified: bool,
) -> StoreResult<Attached> {
    let workspace = super::customers::customer(connection, customer)?
        .ok_or(StoreError::NotFound(Entity::Customer))?
        .workspace_id;
    match holder(connection, workspace, kind, value)? {
        None => {
            insert(connection, workspace, customer, (kind, value, verified))?;
            Ok(Attached::Attached)
        }
        Some(holder) if holder == customer => {
            if verified {
                verify(connection, workspace, kind, value)?;
            }
            Ok(Attached::Already)
        }
        Some(holder) => Ok(Attached::HeldBy(holder)),
    }
}

/// See [`crate::Store::customer_identities`].
pub(super) fn of_customer(
    connection: &Connection,
    customer: CustomerId,
) -> StoreResult<Vec<CustomerIdentity>> {
    let mut statement = connection.prepare_cached(
        "SELECT customer_id, kind, value, verified, created_at FROM customer_identities
         WHERE customer_id = ?1 ORDER BY created_at, kind, value",
    )?;
    let rows = statement.query_map([customer.0], identity_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Moves every identity of `from` to `to` (a merge), recording which in the merge `merge`.
pub(super) fn move_all(
    connection: &Connection,
    merge: i64,
    from: CustomerId,
    to: CustomerId,
) -> StoreResult<()> {
    let moved: Vec<MovedIdentity> = of_customer(connection, from)?
        .into_iter()
        .map(|identity| MovedIdentity { kind: identity.kind, value: identity.value })
        .collect();
    connection
        .prepare_cached("UPDATE customer_identities SET customer_id = ?2 WHERE customer_id = ?1")?
        .execute(params![from.0, to.0])?;
    connection
        .prepare_cached("UPDATE customer_merges SET identities = ?2 WHERE id = ?1")?
        .execute(params![merge, to_json(&moved)?])?;
    Ok(())
}

/// Moves back those identities the merge `merge` moved that `from` (the kept customer) still
/// holds, to `to` (the merged one).
pub(super) fn move_back(
    connection: &Connection,
    merge: i64,
    from: CustomerId,
    to: CustomerId,
) -> StoreResult<()> {
    let recorded: String = connection
        .prepare_cached("SELECT identities FROM customer_merges WHERE id = ?1")?
        .query_row([merge], |row| row.get(0))?;
    let moved: Vec<MovedIdentity> =
        serde_json::from_str(&recorded).map_err(StoreError::database)?;
    let mut statement = connection.prepare_cached(
        "UPDATE customer_identities SET customer_id = ?4
         WHERE customer_id = ?1 AND kind = ?2 AND value = ?3",
    )?;
    for identity in moved {
        statement.execute(params![from.0, identity.kind.as_str(), identity.value, to.0])?;
    }
    Ok(())
}
