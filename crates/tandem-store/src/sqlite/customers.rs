//! Customers: anonymous ones made by the widget, verified ones found by the business's own
//! user id, and what each has talked about with the workspace before.

use rusqlite::{Connection, OptionalExtension, params};
use tandem_domain::{Customer, CustomerId, Locale, UserId, WorkspaceId};

use super::rows::{CUSTOMER_COLUMNS, customer_from_row, to_json};
use crate::{CustomerHistory, NewCustomer, StoreResult, VerifiedCustomer, now_millis};

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
