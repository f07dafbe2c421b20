//! The installation and its workspaces: installation settings, workspaces and their settings
//! documents, inboxes with their identity secrets, users, sessions and API tokens.

use rusqlite::{Connection, OptionalExtension, params};
use tandem_domain::{
    ApiToken, ApiTokenId, Inbox, InboxId, Locale, Millis, Role, TokenScope, User, UserId,
    Workspace, WorkspaceId,
};

use super::rows::{
    INBOX_COLUMNS, USER_COLUMNS, WORKSPACE_COLUMNS, inbox_from_row, is_unique_violation, text_enum,
    user_from_row, workspace_from_row,
};
use crate::{
    Conflict, Entity, NewApiToken, NewInbox, NewUser, Session, StoreError, StoreResult,
    TokenOwners, UserUpdate, now_millis,
};

pub(super) fn setting(connection: &Connection, key: &str) -> StoreResult<Option<String>> {
    Ok(connection
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| row.get(0))
        .optional()?)
}

pub(super) fn setting_or_insert(
    connection: &Connection,
    key: &str,
    value: &str,
) -> StoreResult<String> {
    connection.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        [key, value],
    )?;
    Ok(connection
        .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| row.get(0))?)
}

pub(super) fn create_workspace(connection: &Connection, name: String) -> StoreResult<Workspace> {
    let now = now_millis();
    connection
        .execute("INSERT INTO workspaces (name, created_at) VALUES (?1, ?2)", params![name, now])?;
    Ok(Workspace { id: WorkspaceId(connection.last_insert_rowid()), name, created_at: now })
}

pub(super) fn workspaces(connection: &Connection) -> StoreResult<Vec<Workspace>> {
    let mut statement =
        connection.prepare(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY id"))?;
    let rows = statement.query_map([], workspace_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn workspace_setting(
    connection: &Connection,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<Option<serde_json::Value>> {
    let value: Option<String> = connection
        .prepare_cached(
            "SELECT value FROM workspace_settings WHERE workspace_id = ?1 AND key = ?2",
        )?
        .query_row(params![workspace.0, key], |row| row.get(0))
        .optional()?;
    value.map(|text| serde_json::from_str(&text).map_err(StoreError::database)).transpose()
}

pub(super) fn save_workspace_setting(
    connection: &Connection,
    workspace: WorkspaceId,
    key: &str,
    value: serde_json::Value,
) -> StoreResult<Millis> {
    let exists = connection
        .prepare_cached("SELECT 1 FROM workspaces WHERE id = ?1")?
        .query_row([workspace.0], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Err(StoreError::NotFound(Entity::Workspace));
    }
    let now = now_millis();
    connection
        .prepare_cached(
            "INSERT INTO workspace_settings (workspace_id, key, value, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value,
                updated_at = excluded.updated_at",
        )?
        .execute(params![workspace.0, key, value.to_string(), now])?;
    Ok(now)
}

pub(super) fn create_inbox(connection: &Connection, inbox: NewInbox) -> StoreResult<Inbox> {
    let now = now_millis();
    connection.execute(
        "INSERT INTO inboxes (workspace_id, name, channel, public_key, bot_name, created_at, identity_secret)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, lower(hex(randomblob(32))))",
        params![
            inbox.workspace_id.0,
            inbox.name,
            inbox.channel.as_str(),
            inbox.public_key,
            inbox.bot_name,
            now
        ],
    )?;
    Ok(crate::shared::created::inbox(connection.last_insert_rowid(), inbox, now))
}

pub(super) fn inbox(connection: &Connection, id: InboxId) -> StoreResult<Option<Inbox>> {
    Ok(connection
        .prepare_cached(&format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE id = ?1"))?
        .query_row([id.0], inbox_from_row)
        .optional()?)
}

pub(super) fn inbox_by_public_key(
    connection: &Connection,
    public_key: &str,
) -> StoreResult<Option<Inbox>> {
    Ok(connection
        .prepare_cached(&format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE public_key = ?1"))?
        .query_row([public_key], inbox_from_row)
        .optional()?)
}

pub(super) fn inboxes(connection: &Connection, workspace: WorkspaceId) -> StoreResult<Vec<Inbox>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {INBOX_COLUMNS} FROM inboxes WHERE workspace_id = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map([workspace.0], inbox_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The inbox's identity secret: `None` for an unknown inbox, `Some(None)` for one that has
/// none yet.
pub(super) fn identity_secret(
    connection: &Connection,
    inbox: InboxId,
) -> StoreResult<Option<Option<String>>> {
    Ok(connection
        .prepare_cached("SELECT identity_secret FROM inboxes WHERE id = ?1")?
        .query_row([inbox.0], |row| row.get::<_, Option<String>>(0))
        .optional()?)
}

/// Gives the inbox an identity secret if it has none; returns the one it has.
pub(super) fn ensure_identity_secret(
    connection: &Connection,
    inbox: InboxId,
) -> StoreResult<Option<String>> {
    Ok(connection
        .prepare_cached(
            "UPDATE inboxes SET identity_secret = COALESCE(identity_secret, lower(hex(randomblob(32))))
             WHERE id = ?1 RETURNING identity_secret",
        )?
        .query_row([inbox.0], |row| row.get(0))
        .optional()?)
}

pub(super) fn rotate_identity_secret(
    connection: &Connection,
    inbox: InboxId,
) -> StoreResult<String> {
    connection
        .prepare_cached(
            "UPDATE inboxes SET identity_secret = lower(hex(randomblob(32)))
             WHERE id = ?1 RETURNING identity_secret",
        )?
        .query_row([inbox.0], |row| row.get(0))
        .optional()?
        .ok_or(StoreError::NotFound(Entity::Inbox))
}

pub(super) fn create_user(connection: &Connection, user: NewUser) -> StoreResult<User> {
    let now = now_millis();
    let inserted = connection.execute(
        "INSERT INTO users (workspace_id, email, display_name, role, locale, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            user.workspace_id.0,
            user.email,
            user.display_name,
            user.role.as_str(),
            user.locale.as_str(),
            user.password_hash,
            now
        ],
    );
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(Conflict::EmailTaken(user.email).into());
        }
        other => other?,
    };
    Ok(crate::shared::created::user(connection.last_insert_rowid(), user, now))
}

pub(super) fn user(connection: &Connection, id: UserId) -> StoreResult<Option<User>> {
    Ok(connection
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id.0], user_from_row)
        .optional()?)
}

pub(super) fn user_credentials(
    connection: &Connection,
    email: &str,
) -> StoreResult<Option<(User, String)>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?1"
        ))?
        .query_row([email], |row| Ok((user_from_row(row)?, row.get(8)?)))
        .optional()?)
}

pub(super) fn users(connection: &Connection, workspace: WorkspaceId) -> StoreResult<Vec<User>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = ?1 ORDER BY display_name"
    ))?;
    let rows = statement.query_map([workspace.0], user_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn update_user(
    connection: &Connection,
    id: UserId,
    update: UserUpdate,
) -> StoreResult<User> {
    let changed = connection.execute(
        "UPDATE users SET
            display_name = COALESCE(?2, display_name),
            role = COALESCE(?3, role),
            locale = COALESCE(?4, locale),
            active = COALESCE(?5, active),
            password_hash = COALESCE(?6, password_hash)
         WHERE id = ?1",
        params![
            id.0,
            update.display_name,
            update.role.map(Role::as_str),
            update.locale.map(Locale::as_str),
            update.active,
            update.password_hash
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::User));
    }
    if update.active == Some(false) || update.password_hash.is_some() {
        // A deactivated user or a changed password ends every open session.
        connection.execute("DELETE FROM sessions WHERE user_id = ?1", [id.0])?;
    }
    if update.revoke_api_tokens {
        connection.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            params![id.0, now_millis()],
        )?;
    }
    user(connection, id)?.ok_or(StoreError::NotFound(Entity::User))
}

pub(super) fn create_session(connection: &Connection, session: Session) -> StoreResult<()> {
    let now = now_millis();
    connection.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
    connection.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![session.token_hash, session.user_id.0, session.csrf_token, now, session.expires_at],
    )?;
    Ok(())
}

pub(super) fn session(
    connection: &Connection,
    token_hash: &str,
    now: Millis,
) -> StoreResult<Option<(Session, User)>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, sessions.csrf_token, sessions.expires_at
             FROM sessions JOIN users ON users.id = sessions.user_id
             WHERE sessions.token_hash = ?1 AND sessions.expires_at > ?2 AND users.active = 1"
        ))?
        .query_row(params![token_hash, now], |row| {
            let user = user_from_row(row)?;
            let session = Session {
                token_hash: token_hash.to_owned(),
                user_id: user.id,
                csrf_token: row.get(8)?,
                expires_at: row.get(9)?,
            };
            Ok((session, user))
        })
        .optional()?)
}

pub(super) fn delete_session(connection: &Connection, token_hash: &str) -> StoreResult<()> {
    connection.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}

/// The token's columns after [`USER_COLUMNS`] (from index 8).
const TOKEN_COLUMNS: &str = "api_tokens.id, api_tokens.user_id, api_tokens.name, api_tokens.scope,
    api_tokens.created_at, api_tokens.expires_at, api_tokens.last_used_at, api_tokens.revoked_at";

fn token_from_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: ApiTokenId(row.get(at)?),
        user_id: UserId(row.get(at + 1)?),
        name: row.get(at + 2)?,
        scope: text_enum(row, at + 3, TokenScope::parse)?,
        created_at: row.get(at + 4)?,
        expires_at: row.get(at + 5)?,
        last_used_at: row.get(at + 6)?,
        revoked_at: row.get(at + 7)?,
    })
}

fn token_and_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<(ApiToken, User)> {
    Ok((token_from_row(row, 8)?, user_from_row(row)?))
}

pub(super) fn create_api_token(
    connection: &Connection,
    token: NewApiToken,
) -> StoreResult<ApiToken> {
    let now = now_millis();
    connection.execute(
        "INSERT INTO api_tokens (token_hash, user_id, name, scope, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            token.token_hash,
            token.user_id.0,
            token.name,
            token.scope.as_str(),
            now,
            token.expires_at
        ],
    )?;
    Ok(crate::shared::created::api_token(connection.last_insert_rowid(), token, now))
}

pub(super) fn api_token(
    connection: &Connection,
    token_hash: &str,
) -> StoreResult<Option<(ApiToken, User)>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, {TOKEN_COLUMNS}
             FROM api_tokens JOIN users ON users.id = api_tokens.user_id
             WHERE api_tokens.token_hash = ?1 AND users.active = 1"
        ))?
        .query_row([token_hash], token_and_user)
        .optional()?)
}

pub(super) fn api_token_by_id(
    connection: &Connection,
    id: ApiTokenId,
) -> StoreResult<Option<(ApiToken, User)>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, {TOKEN_COLUMNS}
             FROM api_tokens JOIN users ON users.id = api_tokens.user_id
             WHERE api_tokens.id = ?1"
        ))?
        .query_row([id.0], token_and_user)
        .optional()?)
}

pub(super) fn api_tokens(
    connection: &Connection,
    owners: TokenOwners,
) -> StoreResult<Vec<(ApiToken, User)>> {
    let (filter, id) = match owners {
        TokenOwners::User(user) => ("api_tokens.user_id = ?1", user.0),
        TokenOwners::Workspace(workspace) => ("users.workspace_id = ?1", workspace.0),
    };
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {USER_COLUMNS}, {TOKEN_COLUMNS}
         FROM api_tokens JOIN users ON users.id = api_tokens.user_id
         WHERE {filter} ORDER BY api_tokens.created_at DESC, api_tokens.id DESC"
    ))?;
    let rows = statement.query_map([id], token_and_user)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn revoke_api_token(
    connection: &Connection,
    id: ApiTokenId,
    now: Millis,
) -> StoreResult<ApiToken> {
    connection.execute(
        "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![id.0, now],
    )?;
    api_token_by_id(connection, id)?
        .map(|(token, _)| token)
        .ok_or(StoreError::NotFound(Entity::ApiToken))
}

use crate::shared::created::TOUCH_EVERY_MS;

pub(super) fn touch_api_token(
    connection: &Connection,
    id: ApiTokenId,
    now: Millis,
) -> StoreResult<()> {
    connection
        .prepare_cached(
            "UPDATE api_tokens SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2 - ?3)",
        )?
        .execute(params![id.0, now, TOUCH_EVERY_MS])?;
    Ok(())
}
