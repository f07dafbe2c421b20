//! A baseline for `tandem bench`: how fast plain batched SQLite inserts the same message rows
//! that the full pipeline stores, so the pipeline's overhead can be read as a ratio.

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
