//! A baseline for `tandem bench`: how fast plain batched SQLite inserts the same message rows
//! that the full pipeline stores, so the pipeline's overhead can be read as a ratio.
//! [`raw_postgres_inserts`] does the same on PostgreSQL for `tandem bench --cluster`, which
//! also uses the small helpers below (fresh databases, the router lease).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use crate::StoreResult;

/// Inserts `rows` messages into a fresh database at `path` with the production schema and
/// settings (WAL, `synchronous = FULL`), `batch` rows per transaction; returns the time taken.
pub fn raw_message_inserts(path: &Path, rows: usize, batch: usize) -> StoreResult<Duration> {
    let mut connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    crate::sqlite::migrate_for_bench(&mut connection)?;
    connection.execute_batch(
        "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'bench', 0);
         INSERT INTO inboxes (id, workspace_id, name, channel, public_key, bot_name, created_at) VALUES (1, 1, 'w', 'web', 'k', 'b', 0);
         INSERT INTO customers (id, workspace_id, name, created_at) VALUES (1, 1, 'c', 0);
         INSERT INTO conversations (id, workspace_id, inbox_id, customer_id, state, last_message_at, created_at, updated_at) VALUES (1, 1, 1, 1, 'bot', 0, 0, 0);",
    )?;
    let started = Instant::now();
    let mut seq = 0i64;
    while (seq as usize) < rows {
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO messages (conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at)
                 VALUES (1, ?1, 'customer', 'bench', ?2, ?3, ?4)",
            )?;
            for _ in 0..batch.min(rows - seq as usize) {
                seq += 1;
                insert.execute(params![
                    seq,
                    format!("bench message {seq}"),
                    format!("raw-{seq}"),
                    seq
                ])?;
            }
            transaction.execute("UPDATE conversations SET last_seq = ?1 WHERE id = 1", [seq])?;
        }
        transaction.commit()?;
    }
    Ok(started.elapsed())
}

/// Inserts `rows` messages into the PostgreSQL database at `url` (emptied of Tandem's tables
/// or fresh: the store's schema is created by opening a [`crate::PostgresStore`] on it), `batch`
/// rows per transaction, the statements of a transaction pipelined on one connection; returns
/// the time taken. The rows and the conversation's `last_seq` update match
/// [`raw_message_inserts`].
pub async fn raw_postgres_inserts(url: &str, rows: usize, batch: usize) -> StoreResult<Duration> {
    let store = crate::PostgresStore::open(&crate::PostgresConfig::new(url)).await?;
    store.close();
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = raw_postgres_rows(&client, rows, batch.max(1)).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn raw_postgres_rows(
    client: &tokio_postgres::Client,
    rows: usize,
    batch: usize,
) -> StoreResult<Duration> {
    let row = client
        .query_one(
            "WITH w AS (INSERT INTO workspaces (name, created_at) VALUES ('bench', 0) RETURNING id),
                  i AS (INSERT INTO inboxes (workspace_id, name, channel, public_key, bot_name, created_at)
                        SELECT id, 'w', 'web', 'raw_bench_key', 'b', 0 FROM w RETURNING id, workspace_id),
                  c AS (INSERT INTO customers (workspace_id, name, created_at)
                        SELECT id, 'c', 0 FROM w RETURNING id)
             INSERT INTO conversations (workspace_id, inbox_id, customer_id, state, last_message_at, created_at, updated_at)
             SELECT i.workspace_id, i.id, c.id, 'bot', 0, 0, 0 FROM i, c RETURNING id",
            &[],
        )
        .await?;
    let conversation: i64 = row.get(0);
    let insert = client
        .prepare(
            "INSERT INTO messages (conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at)
             VALUES ($1, $2, 'customer', 'bench', $3, $4, $5)",
        )
        .await?;
    let update = client.prepare("UPDATE conversations SET last_seq = $1 WHERE id = $2").await?;
    let started = Instant::now();
    let mut seq = 0i64;
    while (seq as usize) < rows {
        let first = seq + 1;
        seq += batch.min(rows - seq as usize) as i64;
        let values: Vec<(i64, String, String)> = (first..=seq)
            .map(|seq| (seq, format!("bench message {seq}"), format!("raw-{seq}")))
            .collect();
        client.batch_execute("BEGIN").await?;
        let insert = &insert;
        let inserts = values.iter().map(|(seq, body, client_msg_id)| async move {
            client.execute(insert, &[&conversation, seq, body, client_msg_id, seq]).await
        });
        futures_util::future::try_join_all(inserts).await?;
        client.execute(&update, &[&seq, &conversation]).await?;
        client.batch_execute("COMMIT").await?;
    }
    Ok(started.elapsed())
}

/// `url` with its database replaced by `database` (a `postgres://` URL; its query string kept).
pub fn postgres_url_with_database(url: &str, database: &str) -> StoreResult<String> {
    let scheme = url
        .find("://")
        .ok_or_else(|| crate::StoreError::database(format!("not a postgres:// URL: {url}")))?;
    let rest = &url[scheme + 3..];
    let (authority_and_path, query) = match rest.find('?') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let authority = match authority_and_path.rfind('@') {
        // The path starts at the first '/' after the credentials.
        Some(at) => match authority_and_path[at..].find('/') {
            Some(slash) => &authority_and_path[..at + slash],
            None => authority_and_path,
        },
        None => authority_and_path.split('/').next().unwrap_or(authority_and_path),
    };
    Ok(format!("{}{authority}/{database}{query}", &url[..scheme + 3]))
}

/// Runs `sql` (one statement outside a transaction, such as `CREATE DATABASE`) on the server
/// `url` names: on its database, or on the `postgres` database when that one cannot be reached.
pub async fn postgres_admin(url: &str, sql: &str) -> StoreResult<()> {
    let connected = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        Ok(connected) => connected,
        Err(_) => {
            let fallback = postgres_url_with_database(url, "postgres")?;
            tokio_postgres::connect(&fallback, tokio_postgres::NoTls).await?
        }
    };
    let (client, connection) = connected;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    Ok(result?)
}

/// The holder and expiry (milliseconds since the epoch) of the lease `name` in the store's
/// `leases` table of the PostgreSQL database at `url`, if any node took it.
pub async fn postgres_lease(url: &str, name: &str) -> StoreResult<Option<(String, i64)>> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let row =
        client.query_opt("SELECT holder, expires_at FROM leases WHERE name = $1", &[&name]).await;
    drop(client);
    let _ = driver.await;
    Ok(row?.map(|row| (row.get(0), row.get(1))))
}
