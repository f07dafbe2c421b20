//! `tandem migrate-store`: the one-way move of an embedded installation to PostgreSQL. Every
//! table of the SQLite database is copied (binary COPY, keeping ids) into an empty PostgreSQL
//! database of the same schema version, in one transaction that is committed only when every
//! table's row count matches.

use std::path::Path;

use rusqlite::types::Value;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{PostgresConfig, PostgresStore};
use crate::{SqliteConfig, SqliteStore, StoreError, StoreResult};

/// Tables that hold no data of an installation: the cluster's recent changes, its leases and
/// its rate limits.
const NOT_COPIED: &[&str] = &["change_feed", "leases", "rate_buckets"];
/// Rows read from SQLite at a time.
const PAGE: i64 = 5_000;

/// What [`copy_sqlite_to_postgres`] copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Every table with its row count (the same on both sides), in copy order.
    pub tables: Vec<CopiedTable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub name: String,
    pub rows: u64,
}

/// Copies the SQLite database at `sqlite` (migrated to this build's schema first) into the
/// PostgreSQL database `postgres` (created with this build's schema), which must hold no
/// workspace yet. Nothing is committed unless every table arrives whole.
pub async fn copy_sqlite_to_postgres(
    sqlite: &Path,
    postgres: &PostgresConfig,
) -> StoreResult<CopyReport> {
    // Opening each store brings its schema up to date.
    let source = SqliteStore::open(&SqliteConfig::new(sqlite))?;
    source.close();
    PostgresStore::open(postgres).await?.close();

    let reader = rusqlite::Connection::open_with_flags(
        sqlite,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let config: tokio_postgres::Config = postgres.url.parse().map_err(StoreError::database)?;
    let (mut client, connection) = config.connect(tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let copied = copy(&reader, &mut client).await;
    drop(client);
    let _ = driver.await;
    copied
}

async fn copy(
    reader: &rusqlite::Connection,
    client: &mut tokio_postgres::Client,
) -> StoreResult<CopyReport> {
    let transaction = client.transaction().await?;
    let existing: bool =
        transaction.query_one("SELECT EXISTS (SELECT 1 FROM workspaces)", &[]).await?.try_get(0)?;
    if existing {
        return Err(StoreError::database(
            "the PostgreSQL database already holds Tandem data; migrate-store fills an empty one",
        ));
    }
    let mut report = CopyReport { tables: Vec::new() };
    for table in tables() {
        let columns = transaction
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .await?;
        let names: Vec<String> = columns.iter().map(|row| row.get(0)).collect();
        let types: Vec<Type> =
            columns.iter().map(|row| column_type(row.get(1))).collect::<StoreResult<_>>()?;
        let list = names.join(", ");
        let sink = transaction.copy_in(&format!("COPY {table} ({list}) FROM STDIN BINARY")).await?;
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
        let mut after = i64::MIN;
        let mut copied = 0u64;
        loop {
            let page = read_page(reader, table, &list, names.len(), after)?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, values) in &page {
                let row: Vec<Box<dyn ToSql + Sync + Send>> = values
                    .iter()
                    .zip(&types)
                    .map(|(value, kind)| to_postgres(value, kind))
                    .collect::<StoreResult<_>>()?;
                let params: Vec<&(dyn ToSql + Sync)> =
                    row.iter().map(|value| value.as_ref() as &(dyn ToSql + Sync)).collect();
                writer.as_mut().write(&params).await?;
                copied += 1;
            }
        }
        writer.finish().await?;
        if names.iter().any(|name| name == "id") {
            transaction
                .execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
                    ),
                    &[],
                )
                .await?;
        }
        let source: i64 =
            reader.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get(0))?;
        let target: i64 = transaction
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await?
            .try_get(0)?;
        if source != target || copied != source as u64 {
            return Err(StoreError::database(format!(
                "{table}: {source} rows in SQLite, {target} in PostgreSQL; nothing was committed"
            )));
        }
        report.tables.push(CopiedTable { name: table.to_owned(), rows: copied });
    }
    transaction.commit().await?;
    Ok(report)
}

/// The schema's tables in the order they are created (by every migration), so a row's references are copied
/// before it.
fn tables() -> Vec<&'static str> {
    super::migrations::MIGRATIONS
        .iter()
        .flat_map(|migration| migration.lines())
        .filter_map(|line| line.strip_prefix("CREATE TABLE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| !NOT_COPIED.contains(name))
        .collect()
}

fn column_type(data_type: &str) -> StoreResult<Type> {
    Ok(match data_type {
        "bigint" => Type::INT8,
        "boolean" => Type::BOOL,
        "double precision" => Type::FLOAT8,
        "text" => Type::TEXT,
        "bytea" => Type::BYTEA,
        other => return Err(StoreError::database(format!("no copy for column type {other}"))),
    })
}

/// Up to [`PAGE`] rows with a rowid after `after`, with their rowids.
fn read_page(
    reader: &rusqlite::Connection,
    table: &str,
    columns: &str,
    width: usize,
    after: i64,
) -> StoreResult<Vec<(i64, Vec<Value>)>> {
    let mut statement = reader.prepare_cached(&format!(
        "SELECT rowid, {columns} FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT {PAGE}"
    ))?;
    let rows = statement.query_map([after], |row| {
        let rowid: i64 = row.get(0)?;
        let values =
            (1..=width).map(|index| row.get::<_, Value>(index)).collect::<rusqlite::Result<_>>()?;
        Ok((rowid, values))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A SQLite value as the PostgreSQL column's type wants it.
fn to_postgres(value: &Value, kind: &Type) -> StoreResult<Box<dyn ToSql + Sync + Send>> {
    let mismatch = || StoreError::database(format!("cannot copy {value:?} into a {kind} column"));
    Ok(match (value, kind) {
        (Value::Null, &Type::INT8) => Box::new(None::<i64>),
        (Value::Null, &Type::BOOL) => Box::new(None::<bool>),
        (Value::Null, &Type::FLOAT8) => Box::new(None::<f64>),
        (Value::Null, &Type::TEXT) => Box::new(None::<String>),
        (Value::Null, &Type::BYTEA) => Box::new(None::<Vec<u8>>),
        (Value::Integer(number), &Type::INT8) => Box::new(*number),
        (Value::Integer(number), &Type::BOOL) => Box::new(*number != 0),
        (Value::Integer(number), &Type::FLOAT8) => Box::new(*number as f64),
        (Value::Real(number), &Type::FLOAT8) => Box::new(*number),
        (Value::Text(text), &Type::TEXT) => Box::new(text.clone()),
        (Value::Blob(bytes), &Type::BYTEA) => Box::new(bytes.clone()),
        _ => return Err(mismatch()),
    })
}
