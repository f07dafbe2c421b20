//! What channels beyond the web keep: each inbox's channel settings, files that came with
//! messages, and the lookup that threads a reply (an e-mail's `In-Reply-To`) into its
//! conversation.

use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_domain::{Channel, Conversation, ConversationId, Inbox, InboxId, WorkspaceId};

use super::rows::{CONVERSATION_COLUMNS, INBOX_COLUMNS, conversation_from_row, inbox_from_row};
use super::rows::{json_column, to_json};
use crate::shared::attachments::sha256_hex;
use crate::{AttachmentInfo, Entity, NewAttachment, StoreError, StoreResult, now_millis};

/// The columns [`attachment_from_row`] reads, without the bytes.
const ATTACHMENT_COLUMNS: &str =
    "id, workspace_id, conversation_id, filename, content_type, size, sha256, created_at";

fn attachment_from_row(row: &Row<'_>) -> rusqlite::Result<AttachmentInfo> {
    Ok(AttachmentInfo {
        id: row.get(0)?,
        workspace_id: WorkspaceId(row.get(1)?),
        conversation_id: ConversationId(row.get(2)?),
        filename: row.get(3)?,
        content_type: row.get(4)?,
        size: row.get(5)?,
        sha256: row.get(6)?,
        created_at: row.get(7)?,
    })
}

pub(super) fn inbox_settings(
    connection: &Connection,
    inbox: InboxId,
) -> StoreResult<Option<serde_json::Value>> {
    Ok(connection
        .prepare_cached("SELECT settings FROM inboxes WHERE id = ?1")?
        .query_row([inbox.0], |row| json_column(row, 0))
        .optional()?
        .flatten())
}

pub(super) fn set_inbox_settings(
    connection: &Connection,
    inbox: InboxId,
    settings: &serde_json::Value,
) -> StoreResult<()> {
    let changed = connection
        .prepare_cached("UPDATE inboxes SET settings = ?2 WHERE id = ?1")?
        .execute(params![inbox.0, to_json(settings)?])?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::Inbox));
    }
    Ok(())
}

pub(super) fn channel_inboxes(
    connection: &Connection,
    channel: Channel,
) -> StoreResult<Vec<(Inbox, serde_json::Value)>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {INBOX_COLUMNS}, settings FROM inboxes
         WHERE channel = ?1 AND settings IS NOT NULL ORDER BY created_at, id"
    ))?;
    let rows = statement.query_map([channel.as_str()], |row| {
        Ok((inbox_from_row(row)?, json_column::<serde_json::Value>(row, 7)?))
    })?;
    let mut inboxes = Vec::new();
    for row in rows {
        if let (inbox, Some(settings)) = row? {
            inboxes.push((inbox, settings));
        }
    }
    Ok(inboxes)
}

pub(super) fn store_attachment(
    connection: &Connection,
    attachment: NewAttachment,
) -> StoreResult<AttachmentInfo> {
    let workspace: i64 = connection
        .prepare_cached("SELECT workspace_id FROM conversations WHERE id = ?1")?
        .query_row([attachment.conversation_id.0], |row| row.get(0))
        .optional()?
        .ok_or(StoreError::NotFound(Entity::Conversation))?;
    let now = now_millis();
    let sha256 = sha256_hex(&attachment.data);
    let size = attachment.data.len() as i64;
    connection
        .prepare_cached(
            "INSERT INTO attachments
                 (workspace_id, conversation_id, filename, content_type, size, sha256, data, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            workspace,
            attachment.conversation_id.0,
            attachment.filename,
            attachment.content_type,
            size,
            sha256,
            attachment.data,
            now
        ])?;
    Ok(AttachmentInfo {
        id: connection.last_insert_rowid(),
        workspace_id: WorkspaceId(workspace),
        conversation_id: attachment.conversation_id,
        filename: attachment.filename,
        content_type: attachment.content_type,
        size,
        sha256,
        created_at: now,
    })
}

pub(super) fn attachment(
    connection: &Connection,
    id: i64,
) -> StoreResult<Option<(AttachmentInfo, Vec<u8>)>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {ATTACHMENT_COLUMNS}, data FROM attachments WHERE id = ?1"
        ))?
        .query_row([id], |row| Ok((attachment_from_row(row)?, row.get(8)?)))
        .optional()?)
}

pub(super) fn conversation_attachments(
    connection: &Connection,
    conversation: ConversationId,
) -> StoreResult<Vec<AttachmentInfo>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE conversation_id = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map([conversation.0], attachment_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn conversation_by_client_msg_ids(
    connection: &Connection,
    inbox: InboxId,
    ids: &[String],
) -> StoreResult<Option<Conversation>> {
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE inbox_id = ?1 AND id IN (
                 SELECT conversation_id FROM messages
                 WHERE client_msg_id IN (SELECT value FROM json_each(?2)))
             ORDER BY id DESC LIMIT 1"
        ))?
        .query_row(params![inbox.0, to_json(&ids)?], conversation_from_row)
        .optional()?)
}
