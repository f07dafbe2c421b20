//! What channels beyond the web keep: each inbox's channel settings, files that came with
//! messages, and the lookup that threads a reply (an e-mail's `In-Reply-To`) into its
//! conversation.

use tandem_domain::{Channel, Conversation, ConversationId, Inbox, InboxId, WorkspaceId};
use tokio_postgres::Row;

use super::rows::{CONVERSATION_COLUMNS, INBOX_COLUMNS, conversation_from_row, inbox_from_row};
use super::sql::{Db, execute, get, json, query, query_one, query_opt, to_json};
use crate::shared::attachments::sha256_hex;
use crate::{AttachmentInfo, Entity, NewAttachment, StoreError, StoreResult, now_millis};

/// The columns [`attachment_from_row`] reads, without the bytes.
const ATTACHMENT_COLUMNS: &str =
    "id, workspace_id, conversation_id, filename, content_type, size, sha256, created_at";

fn attachment_from_row(row: &Row) -> StoreResult<AttachmentInfo> {
    Ok(AttachmentInfo {
        id: get(row, 0)?,
        workspace_id: WorkspaceId(get(row, 1)?),
        conversation_id: ConversationId(get(row, 2)?),
        filename: get(row, 3)?,
        content_type: get(row, 4)?,
        size: get(row, 5)?,
        sha256: get(row, 6)?,
        created_at: get(row, 7)?,
    })
}

pub(super) async fn inbox_settings(
    db: &Db,
    inbox: InboxId,
) -> StoreResult<Option<serde_json::Value>> {
    match query_opt(db, "SELECT settings FROM inboxes WHERE id = $1", &[&inbox.0]).await? {
        Some(row) => json(&row, 0),
        None => Ok(None),
    }
}

pub(super) async fn set_inbox_settings(
    db: &Db,
    inbox: InboxId,
    settings: &serde_json::Value,
) -> StoreResult<()> {
    let changed = execute(
        db,
        "UPDATE inboxes SET settings = $2 WHERE id = $1",
        &[&inbox.0, &to_json(settings)?],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::Inbox));
    }
    Ok(())
}

pub(super) async fn channel_inboxes(
    db: &Db,
    channel: Channel,
) -> StoreResult<Vec<(Inbox, serde_json::Value)>> {
    let rows = query(
        db,
        &format!(
            "SELECT {INBOX_COLUMNS}, settings FROM inboxes
             WHERE channel = $1 AND settings IS NOT NULL ORDER BY created_at, id"
        ),
        &[&channel.as_str()],
    )
    .await?;
    let mut inboxes = Vec::new();
    for row in &rows {
        if let Some(settings) = json(row, 7)? {
            inboxes.push((inbox_from_row(row)?, settings));
        }
    }
    Ok(inboxes)
}

pub(super) async fn store_attachment(
    db: &Db,
    attachment: NewAttachment,
) -> StoreResult<AttachmentInfo> {
    let workspace: i64 = match query_opt(
        db,
        "SELECT workspace_id FROM conversations WHERE id = $1",
        &[&attachment.conversation_id.0],
    )
    .await?
    {
        Some(row) => get(&row, 0)?,
        None => return Err(StoreError::NotFound(Entity::Conversation)),
    };
    let now = now_millis();
    let sha256 = sha256_hex(&attachment.data);
    let size = attachment.data.len() as i64;
    let row = query_one(
        db,
        "INSERT INTO attachments
             (workspace_id, conversation_id, filename, content_type, size, sha256, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        &[
            &workspace,
            &attachment.conversation_id.0,
            &attachment.filename,
            &attachment.content_type,
            &size,
            &sha256,
            &attachment.data,
            &now,
        ],
    )
    .await?;
    Ok(AttachmentInfo {
        id: get(&row, 0)?,
        workspace_id: WorkspaceId(workspace),
        conversation_id: attachment.conversation_id,
        filename: attachment.filename,
        content_type: attachment.content_type,
        size,
        sha256,
        created_at: now,
    })
}

pub(super) async fn attachment(db: &Db, id: i64) -> StoreResult<Option<(AttachmentInfo, Vec<u8>)>> {
    let row = query_opt(
        db,
        &format!("SELECT {ATTACHMENT_COLUMNS}, data FROM attachments WHERE id = $1"),
        &[&id],
    )
    .await?;
    match row {
        Some(row) => Ok(Some((attachment_from_row(&row)?, get(&row, 8)?))),
        None => Ok(None),
    }
}

pub(super) async fn conversation_attachments(
    db: &Db,
    conversation: ConversationId,
) -> StoreResult<Vec<AttachmentInfo>> {
    query(
        db,
        &format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE conversation_id = $1 ORDER BY id"
        ),
        &[&conversation.0],
    )
    .await?
    .iter()
    .map(attachment_from_row)
    .collect()
}

pub(super) async fn conversation_by_client_msg_ids(
    db: &Db,
    inbox: InboxId,
    ids: &[String],
) -> StoreResult<Option<Conversation>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let row = query_opt(
        db,
        &format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE inbox_id = $1 AND id IN (
                 SELECT conversation_id FROM messages WHERE client_msg_id = ANY($2))
             ORDER BY id DESC LIMIT 1"
        ),
        &[&inbox.0, &ids],
    )
    .await?;
    row.as_ref().map(conversation_from_row).transpose()
}
