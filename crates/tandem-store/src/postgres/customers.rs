//! Customers: anonymous ones made by the widget, verified ones found by the business's own
//! user id, and what each has talked about with the workspace before.

use tandem_domain::{Customer, CustomerId, Locale, UserId, WorkspaceId};

use super::rows::{CUSTOMER_COLUMNS, customer_from_row};
use super::sql::{Db, get, query, query_one, query_opt, to_json};
use crate::{CustomerHistory, NewCustomer, StoreError, StoreResult, VerifiedCustomer, now_millis};

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
