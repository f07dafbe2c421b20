//! Versioned schema migrations for PostgreSQL, kept apart from SQLite's (version 1 is the
//! schema SQLite reached in 21 steps). Applied under an advisory lock, so nodes starting
//! together migrate once; each migration in its own transaction.

use tokio_postgres::Client;

use super::sql::Db;
use crate::{StoreError, StoreResult, now_millis};

const MIGRATIONS: &[&str] = &[include_str!("schema.sql")];

pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Any number that other software on the same database is unlikely to lock.
const MIGRATION_LOCK: i64 = 0x7461_6e64_656d;

pub(super) async fn current_version(db: &Db) -> StoreResult<i64> {
    let row = db.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?;
    Ok(row.try_get(0)?)
}

pub(super) async fn migrate(client: &Client) -> StoreResult<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let migrated = apply(client).await;
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await?;
    migrated
}

async fn apply(client: &Client) -> StoreResult<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await?;
    let row =
        client.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?;
    let current: i64 = row.try_get(0)?;
    if current > LATEST {
        return Err(StoreError::database(format!(
            "the database has schema version {current}, newer than this build's {LATEST}"
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        client.batch_execute("BEGIN").await?;
        let applied = async {
            client.batch_execute(migration).await?;
            client
                .execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[&version, &now_millis()],
                )
                .await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(error) = applied {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(error.into());
        }
    }
    Ok(())
}
