//! The few calls every module makes: a statement through the connection's cache, and a row's
//! columns read as Tandem's types (JSON kept as text, codes as their enums).

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSqlOwned, ToSql};

use crate::{StoreError, StoreResult};

/// A pooled connection with its statement cache. Inside a write it is in the write's
/// transaction.
pub(super) type Db = ClientWrapper;

/// One statement parameter.
pub(super) type Param<'a> = &'a (dyn ToSql + Sync);

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        StoreError::database(error)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Closed => StoreError::Closed,
            other => StoreError::database(other),
        }
    }
}

pub(super) async fn query(db: &Db, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
    let statement = db.prepare_cached(sql).await?;
    Ok(db.query(&statement, params).await?)
}

pub(super) async fn query_opt(
    db: &Db,
    sql: &str,
    params: &[Param<'_>],
) -> StoreResult<Option<Row>> {
    let statement = db.prepare_cached(sql).await?;
    Ok(db.query_opt(&statement, params).await?)
}

pub(super) async fn query_one(db: &Db, sql: &str, params: &[Param<'_>]) -> StoreResult<Row> {
    let statement = db.prepare_cached(sql).await?;
    Ok(db.query_one(&statement, params).await?)
}

/// Runs a statement; the number of rows it changed.
pub(super) async fn execute(db: &Db, sql: &str, params: &[Param<'_>]) -> StoreResult<u64> {
    let statement = db.prepare_cached(sql).await?;
    Ok(db.execute(&statement, params).await?)
}

/// Column `index` of `row`.
pub(super) fn get<T: FromSqlOwned>(row: &Row, index: usize) -> StoreResult<T> {
    Ok(row.try_get(index)?)
}

/// A text column holding a code, read through its parser.
pub(super) fn code<T>(row: &Row, index: usize, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let text: String = get(row, index)?;
    parse(&text)
        .ok_or_else(|| StoreError::database(format!("unknown value {text:?} in column {index}")))
}

/// A nullable JSON column.
pub(super) fn json<T: serde::de::DeserializeOwned>(
    row: &Row,
    index: usize,
) -> StoreResult<Option<T>> {
    let Some(text) = get::<Option<String>>(row, index)? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(StoreError::database)
}

pub(super) fn to_json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(StoreError::database)
}

/// Whether a statement failed on a unique constraint.
pub(super) fn is_unique_violation(error: &StoreError) -> bool {
    let StoreError::Database(cause) = error else { return false };
    cause
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|code| *code == SqlState::UNIQUE_VIOLATION)
}
