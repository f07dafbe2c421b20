//! The audit log: who changed what, when and from where. Append-only: the migration that made
//! the table gave it triggers that abort any `UPDATE` or `DELETE`, so not even a bug (or a
//! person with the database file and the `sqlite3` shell, short of dropping the triggers) can
//! rewrite history through Tandem.
//!
//! People's and API tokens' changes are appended by the server's middleware; the AI's own
//! changes (the bot's hand-offs and business actions, the model's replies) are appended here,
//! inside the writer job of the change they record (see `conversations`), so a committed
//! change always has its entry and a rolled-back one never does.

use rusqlite::{Connection, Row, params, params_from_iter};
use tandem_domain::{Conversation, DecisionRecord, HandoffPacket, Millis, WorkspaceId};

use super::rows::{json_column, text_enum, to_json};
use crate::shared::audit::{COLUMNS, containing, escape_like};
use crate::{AuditActorKind, AuditEntry, AuditFilter, NewAuditEntry, StoreResult};

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.get(0)?,
        workspace_id: WorkspaceId(row.get(1)?),
        at: row.get(2)?,
        actor_kind: text_enum(row, 3, AuditActorKind::parse)?,
        actor_id: row.get(4)?,
        actor_name: row.get(5)?,
        action: row.get(6)?,
        target: row.get(7)?,
        detail: json_column(row, 8)?.unwrap_or_default(),
        ip: row.get(9)?,
    })
}

pub(super) fn append(
    connection: &Connection,
    entry: &NewAuditEntry,
    now: Millis,
) -> StoreResult<AuditEntry> {
    connection
        .prepare_cached(
            "INSERT INTO audit_log (workspace_id, at, actor_kind, actor_id, actor_name, action, target, detail, ip)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            entry.workspace_id.0,
            now,
            entry.actor_kind.as_str(),
            entry.actor_id,
            entry.actor_name,
            entry.action,
            entry.target,
            to_json(&entry.detail)?,
            entry.ip,
        ])?;
    Ok(crate::shared::audit::stored(connection.last_insert_rowid(), entry, now))
}

pub(super) fn list(
    connection: &Connection,
    workspace: WorkspaceId,
    filter: &AuditFilter,
    limit: u32,
    before_id: Option<i64>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE workspace_id = ?");
    let mut values: Vec<rusqlite::types::Value> = vec![workspace.0.into()];
    let given = |value: &Option<String>| {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_owned)
    };
    if let Some(before) = before_id {
        sql.push_str(" AND id < ?");
        values.push(before.into());
    }
    if let Some(kind) = filter.actor_kind {
        sql.push_str(" AND actor_kind = ?");
        values.push(kind.as_str().to_owned().into());
    }
    if let Some(actor) = given(&filter.actor) {
        sql.push_str(
            " AND (actor_name LIKE ? ESCAPE '\\' OR coalesce(actor_id, '') LIKE ? ESCAPE '\\')",
        );
        values.push(containing(&actor).into());
        values.push(containing(&actor).into());
    }
    if let Some(prefix) = given(&filter.action_prefix) {
        sql.push_str(" AND action LIKE ? ESCAPE '\\'");
        values.push(format!("{}%", escape_like(&prefix)).into());
    }
    if let Some(text) = given(&filter.text) {
        sql.push_str(
            " AND (action || ' ' || target || ' ' || detail || ' ' || actor_name || ' ' || coalesce(ip, '')) LIKE ? ESCAPE '\\'",
        );
        values.push(containing(&text).into());
    }
    if let Some(from) = filter.from {
        sql.push_str(" AND at >= ?");
        values.push(from.into());
    }
    if let Some(to) = filter.to {
        sql.push_str(" AND at < ?");
        values.push(to.into());
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    values.push(i64::from(limit).into());
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(values), entry_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The bot handed a conversation to people (or kept it as an after-hours ticket): called in
/// the writer job that stores the hand-off packet.
pub(super) fn handoff(
    connection: &Connection,
    conversation: &Conversation,
    packet: &HandoffPacket,
    after_hours: bool,
    now: Millis,
) -> StoreResult<()> {
    let entry = crate::shared::audit::handoff(conversation, packet, after_hours);
    append(connection, &entry, now).map(|_| ())
}

/// What the bot's turn changed, from its decision record: a business action it ran (with its
/// outcome; parameters are left out, they are the customer's data) and the model's reply,
/// used or rejected. Called in the writer job that stores the bot's reply.
pub(super) fn bot_turn(
    connection: &Connection,
    conversation: &Conversation,
    bot_name: Option<&str>,
    record: &DecisionRecord,
    now: Millis,
) -> StoreResult<()> {
    if let Some(entry) = crate::shared::audit::bot_action(conversation, bot_name, record) {
        append(connection, &entry, now)?;
    }
    if let Some(llm) = crate::shared::audit::model_reply(record) {
        // The workspace's model as its settings name it now, in this transaction.
        let settings =
            super::accounts::workspace_setting(connection, conversation.workspace_id, "llm")?;
        let entry = crate::shared::audit::model_reply_entry(conversation, llm, settings.as_ref());
        append(connection, &entry, now)?;
    }
    Ok(())
}
