//! The audit log: who changed what, when and from where. Append-only: the schema gives the
//! table triggers that abort any `UPDATE`, `DELETE` or `TRUNCATE`, so not even a bug (or a
//! person with `psql`, short of dropping the triggers) can rewrite history through Tandem.
//!
//! People's and API tokens' changes are appended by the server's middleware; the AI's own
//! changes (the bot's hand-offs and business actions, the model's replies) are appended here,
//! inside the transaction of the change they record (see `conversations`), so a committed
//! change always has its entry and a rolled-back one never does.

use tandem_domain::{Conversation, DecisionRecord, HandoffPacket, Millis, WorkspaceId};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::sql::{Db, Param, code, get, json, query, query_one, to_json};
use crate::shared::audit::{COLUMNS, containing, escape_like};
use crate::{AuditActorKind, AuditEntry, AuditFilter, NewAuditEntry, StoreResult};

fn entry_from_row(row: &Row) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: get(row, 0)?,
        workspace_id: WorkspaceId(get(row, 1)?),
        at: get(row, 2)?,
        actor_kind: code(row, 3, AuditActorKind::parse)?,
        actor_id: get(row, 4)?,
        actor_name: get(row, 5)?,
        action: get(row, 6)?,
        target: get(row, 7)?,
        detail: json(row, 8)?.unwrap_or_default(),
        ip: get(row, 9)?,
    })
}

pub(super) async fn append(db: &Db, entry: &NewAuditEntry, now: Millis) -> StoreResult<AuditEntry> {
    let row = query_one(
        db,
        "INSERT INTO audit_log (workspace_id, at, actor_kind, actor_id, actor_name, action, target, detail, ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            &entry.workspace_id.0,
            &now,
            &entry.actor_kind.as_str(),
            &entry.actor_id,
            &entry.actor_name,
            &entry.action,
            &entry.target,
            &to_json(&entry.detail)?,
            &entry.ip,
        ],
    )
    .await?;
    Ok(crate::shared::audit::stored(get(&row, 0)?, entry, now))
}

/// The workspace's entries through `filter`, newest first, before `before_id` if given. The
/// text filters are case-insensitive, as SQLite's `LIKE` is: `ILIKE`.
pub(super) async fn list(
    db: &Db,
    workspace: WorkspaceId,
    filter: &AuditFilter,
    limit: u32,
    before_id: Option<i64>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE workspace_id = $1");
    let mut values: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(workspace.0)];
    // The next placeholder, for the value pushed with it.
    fn next(
        values: &mut Vec<Box<dyn ToSql + Sync + Send>>,
        value: impl ToSql + Sync + Send + 'static,
    ) -> String {
        values.push(Box::new(value));
        format!("${}", values.len())
    }
    let given = |value: &Option<String>| {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty()).map(str::to_owned)
    };
    if let Some(before) = before_id {
        sql.push_str(&format!(" AND id < {}", next(&mut values, before)));
    }
    if let Some(kind) = filter.actor_kind {
        sql.push_str(&format!(" AND actor_kind = {}", next(&mut values, kind.as_str().to_owned())));
    }
    if let Some(actor) = given(&filter.actor) {
        let pattern = next(&mut values, containing(&actor));
        sql.push_str(&format!(
            " AND (actor_name ILIKE {pattern} ESCAPE '\\' OR coalesce(actor_id, '') ILIKE {pattern} ESCAPE '\\')"
        ));
    }
    if let Some(prefix) = given(&filter.action_prefix) {
        let pattern = next(&mut values, format!("{}%", escape_like(&prefix)));
        sql.push_str(&format!(" AND action ILIKE {pattern} ESCAPE '\\'"));
    }
    if let Some(text) = given(&filter.text) {
        let pattern = next(&mut values, containing(&text));
        sql.push_str(&format!(
            " AND (action || ' ' || target || ' ' || detail || ' ' || actor_name || ' ' || coalesce(ip, '')) ILIKE {pattern} ESCAPE '\\'"
        ));
    }
    if let Some(from) = filter.from {
        sql.push_str(&format!(" AND at >= {}", next(&mut values, from)));
    }
    if let Some(to) = filter.to {
        sql.push_str(&format!(" AND at < {}", next(&mut values, to)));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", next(&mut values, i64::from(limit))));
    let params: Vec<Param<'_>> = values.iter().map(|value| &**value as Param<'_>).collect();
    let rows = query(db, &sql, &params).await?;
    rows.iter().map(entry_from_row).collect()
}

/// The bot handed a conversation to people (or kept it as an after-hours ticket): called in
/// the transaction that stores the hand-off packet.
pub(super) async fn handoff(
    db: &Db,
    conversation: &Conversation,
    packet: &HandoffPacket,
    after_hours: bool,
    now: Millis,
) -> StoreResult<()> {
    let entry = crate::shared::audit::handoff(conversation, packet, after_hours);
    append(db, &entry, now).await.map(|_| ())
}

/// What the bot's turn changed, from its decision record: a business action it ran (with its
/// outcome; parameters are left out, they are the customer's data) and the model's reply,
/// used or rejected. Called in the transaction that stores the bot's reply.
pub(super) async fn bot_turn(
    db: &Db,
    conversation: &Conversation,
    bot_name: Option<&str>,
    record: &DecisionRecord,
    now: Millis,
) -> StoreResult<()> {
    if let Some(entry) = crate::shared::audit::bot_action(conversation, bot_name, record) {
        append(db, &entry, now).await?;
    }
    if let Some(llm) = crate::shared::audit::model_reply(record) {
        // The workspace's model as its settings name it now, in this transaction.
        let settings =
            super::accounts::workspace_setting(db, conversation.workspace_id, "llm").await?;
        let entry = crate::shared::audit::model_reply_entry(conversation, llm, settings.as_ref());
        append(db, &entry, now).await?;
    }
    Ok(())
}
