//! How rows become entities: the column lists every query selects and their readers, and the
//! JSON columns' helpers.

use rusqlite::Row;
use tandem_domain::{
    Article, ArticleId, ArticleStatus, AuthorKind, Channel, Conversation, ConversationId,
    ConversationState, Customer, CustomerId, Inbox, InboxId, Locale, Message, MessageId, QueueId,
    Role, User, UserId, Workspace, WorkspaceId,
};

use crate::{StoreError, StoreResult};

pub(super) fn text_enum<T>(
    row: &Row<'_>,
    index: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unknown value {text:?}").into(),
        )
    })
}

pub(super) const WORKSPACE_COLUMNS: &str = "id, name, created_at";
pub(super) fn workspace_from_row(row: &Row<'_>) -> rusqlite::Result<Workspace> {
    Ok(Workspace { id: WorkspaceId(row.get(0)?), name: row.get(1)?, created_at: row.get(2)? })
}

pub(super) const INBOX_COLUMNS: &str =
    "id, workspace_id, name, channel, public_key, bot_name, created_at";
pub(super) fn inbox_from_row(row: &Row<'_>) -> rusqlite::Result<Inbox> {
    Ok(Inbox {
        id: InboxId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        name: row.get(2)?,
        channel: text_enum(row, 3, Channel::parse)?,
        public_key: row.get(4)?,
        bot_name: row.get(5)?,
        created_at: row.get(6)?,
    })
}

pub(super) const USER_COLUMNS: &str = "users.id, users.workspace_id, users.email, users.display_name, users.role, users.locale, users.active, users.created_at";
pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        email: row.get(2)?,
        display_name: row.get(3)?,
        role: text_enum(row, 4, Role::parse)?,
        locale: text_enum(row, 5, Locale::parse)?,
        active: row.get(6)?,
        created_at: row.get(7)?,
    })
}

pub(super) const CUSTOMER_COLUMNS: &str =
    "id, workspace_id, name, email, locale, attributes, created_at, external_id, verified";
pub(super) fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    let locale: Option<String> = row.get(4)?;
    let attributes: String = row.get(5)?;
    Ok(Customer {
        id: CustomerId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        name: row.get(2)?,
        email: row.get(3)?,
        locale: locale.as_deref().and_then(Locale::parse),
        attributes: serde_json::from_str(&attributes).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, error.into())
        })?,
        created_at: row.get(6)?,
        external_id: row.get(7)?,
        verified: row.get(8)?,
    })
}

pub(super) const CONVERSATION_COLUMNS: &str = "id, workspace_id, inbox_id, customer_id, state, assignee_id, queue_id, \
     last_seq, preview, last_message_at, created_at, updated_at, route, pending_action";
pub(super) fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: ConversationId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        inbox_id: InboxId(row.get(2)?),
        customer_id: CustomerId(row.get(3)?),
        state: text_enum(row, 4, ConversationState::parse)?,
        assignee_id: row.get::<_, Option<i64>>(5)?.map(UserId),
        queue_id: row.get::<_, Option<i64>>(6)?.map(QueueId),
        last_seq: row.get(7)?,
        preview: row.get(8)?,
        last_message_at: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
        route: json_column(row, 12)?,
        pending_action: json_column(row, 13)?,
    })
}

pub(super) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, author_kind, author_id, author_name, body, client_msg_id, created_at, meta";
pub(super) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(row.get(0)?),
        conversation_id: ConversationId(row.get(1)?),
        seq: row.get(2)?,
        author_kind: text_enum(row, 3, AuthorKind::parse)?,
        author_id: row.get(4)?,
        author_name: row.get(5)?,
        body: row.get(6)?,
        client_msg_id: row.get(7)?,
        created_at: row.get(8)?,
        meta: json_column(row, 9)?,
    })
}

/// A nullable JSON column.
pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    let Some(text) = row.get::<_, Option<String>>(index)? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error.into())
    })
}

pub(super) fn to_json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(StoreError::database)
}

pub(super) const ARTICLE_COLUMNS: &str = "id, workspace_id, key, status, title, answer, questions, tags, language, \
     effective_from, expires_at, version, created_at, updated_at, channels";
pub(super) fn article_from_row(row: &Row<'_>) -> rusqlite::Result<Article> {
    let language: Option<String> = row.get(8)?;
    Ok(Article {
        id: ArticleId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        key: row.get(2)?,
        status: text_enum(row, 3, ArticleStatus::parse)?,
        title: row.get(4)?,
        answer: row.get(5)?,
        questions: json_column(row, 6)?.unwrap_or_default(),
        tags: json_column(row, 7)?.unwrap_or_default(),
        language: language.as_deref().and_then(Locale::parse),
        effective_from: row.get(9)?,
        expires_at: row.get(10)?,
        version: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        channels: json_column(row, 14)?.unwrap_or_default(),
    })
}

pub(super) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}
