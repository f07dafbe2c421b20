//! The installation and its workspaces: installation settings, workspaces and their settings
//! documents, inboxes with their identity secrets, users, sessions and API tokens.

use tandem_domain::{
    ApiToken, ApiTokenId, Inbox, InboxId, Locale, Millis, Role, TokenScope, User, UserId,
    Workspace, WorkspaceId,
};
use tokio_postgres::Row;

use super::rows::{
    INBOX_COLUMNS, USER_COLUMNS, WORKSPACE_COLUMNS, inbox_from_row, user_from_row,
    workspace_from_row,
};
use super::sql::{Db, code, execute, get, is_unique_violation, query, query_one, query_opt};
use crate::{
    Conflict, Entity, NewApiToken, NewInbox, NewUser, Session, StoreError, StoreResult,
    TokenOwners, UserUpdate, now_millis,
};

/// A new identity secret: 32 bytes from the server's strong random source, as 64 lowercase hex
/// digits (SQLite's `lower(hex(randomblob(32)))`). PostgreSQL's core has no random-bytes
/// function without pgcrypto, so the bytes are the SHA-256 of two `gen_random_uuid()`s (each
/// 122 random bits from `pg_strong_random`).
const NEW_SECRET: &str =
    "encode(sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())), 'hex')";

pub(super) async fn setting(db: &Db, key: &str) -> StoreResult<Option<String>> {
    let row = query_opt(db, "SELECT value FROM settings WHERE key = $1", &[&key]).await?;
    row.map(|row| get(&row, 0)).transpose()
}

/// The setting's value, inserting `value` if it has none. Under concurrency the first insert
/// wins: a second waits for it on the key and then reads its value (a fresh snapshot, READ
/// COMMITTED).
pub(super) async fn setting_or_insert(db: &Db, key: &str, value: &str) -> StoreResult<String> {
    execute(
        db,
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        &[&key, &value],
    )
    .await?;
    let row = query_one(db, "SELECT value FROM settings WHERE key = $1", &[&key]).await?;
    get(&row, 0)
}

pub(super) async fn create_workspace(db: &Db, name: String) -> StoreResult<Workspace> {
    let now = now_millis();
    let row = query_one(
        db,
        "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) RETURNING id",
        &[&name, &now],
    )
    .await?;
    Ok(Workspace { id: WorkspaceId(get(&row, 0)?), name, created_at: now })
}

pub(super) async fn workspaces(db: &Db) -> StoreResult<Vec<Workspace>> {
    let rows =
        query(db, &format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY id"), &[]).await?;
    rows.iter().map(workspace_from_row).collect()
}

pub(super) async fn workspace_setting(
    db: &Db,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<Option<serde_json::Value>> {
    let row = query_opt(
        db,
        "SELECT value FROM workspace_settings WHERE workspace_id = $1 AND key = $2",
        &[&workspace.0, &key],
    )
    .await?;
    let value: Option<String> = row.map(|row| get(&row, 0)).transpose()?;
    value.map(|text| serde_json::from_str(&text).map_err(StoreError::database)).transpose()
}

pub(super) async fn save_workspace_setting(
    db: &Db,
    workspace: WorkspaceId,
    key: &str,
    value: serde_json::Value,
) -> StoreResult<Millis> {
    // The workspace must exist (and go on existing until the commit): the same key-share lock
    // the foreign key takes, so no new lock-order constraint. The write itself is one atomic
    // upsert (the last writer wins), so nothing read here decides what it writes.
    let exists =
        query_opt(db, "SELECT 1 FROM workspaces WHERE id = $1 FOR KEY SHARE", &[&workspace.0])
            .await?
            .is_some();
    if !exists {
        return Err(StoreError::NotFound(Entity::Workspace));
    }
    let now = now_millis();
    execute(
        db,
        "INSERT INTO workspace_settings (workspace_id, key, value, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value,
            updated_at = excluded.updated_at",
        &[&workspace.0, &key, &value.to_string(), &now],
    )
    .await?;
    Ok(now)
}

pub(super) async fn create_inbox(db: &Db, inbox: NewInbox) -> StoreResult<Inbox> {
    let now = now_millis();
    let row = query_one(
        db,
        &format!(
            "INSERT INTO inboxes (workspace_id, name, channel, public_key, bot_name, created_at, identity_secret)
             VALUES ($1, $2, $3, $4, $5, $6, {NEW_SECRET}) RETURNING id"
        ),
        &[
            &inbox.workspace_id.0,
            &inbox.name,
            &inbox.channel.as_str(),
            &inbox.public_key,
            &inbox.bot_name,
            &now,
        ],
    )
    .await?;
    Ok(crate::shared::created::inbox(get(&row, 0)?, inbox, now))
}

pub(super) async fn inbox(db: &Db, id: InboxId) -> StoreResult<Option<Inbox>> {
    let row =
        query_opt(db, &format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE id = $1"), &[&id.0])
            .await?;
    row.as_ref().map(inbox_from_row).transpose()
}

pub(super) async fn inbox_by_public_key(db: &Db, public_key: &str) -> StoreResult<Option<Inbox>> {
    let row = query_opt(
        db,
        &format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE public_key = $1"),
        &[&public_key],
    )
    .await?;
    row.as_ref().map(inbox_from_row).transpose()
}

pub(super) async fn inboxes(db: &Db, workspace: WorkspaceId) -> StoreResult<Vec<Inbox>> {
    let rows = query(
        db,
        &format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE workspace_id = $1 ORDER BY id"),
        &[&workspace.0],
    )
    .await?;
    rows.iter().map(inbox_from_row).collect()
}

/// The inbox's identity secret: `None` for an unknown inbox, `Some(None)` for one that has
/// none yet.
pub(super) async fn identity_secret(
    db: &Db,
    inbox: InboxId,
) -> StoreResult<Option<Option<String>>> {
    let row =
        query_opt(db, "SELECT identity_secret FROM inboxes WHERE id = $1", &[&inbox.0]).await?;
    row.map(|row| get::<Option<String>>(&row, 0)).transpose()
}

/// Gives the inbox an identity secret if it has none; returns the one it has. (Two at once:
/// the second waits for the first's row lock and keeps the first's secret.)
pub(super) async fn ensure_identity_secret(db: &Db, inbox: InboxId) -> StoreResult<Option<String>> {
    let row = query_opt(
        db,
        &format!(
            "UPDATE inboxes SET identity_secret = COALESCE(identity_secret, {NEW_SECRET})
             WHERE id = $1 RETURNING identity_secret"
        ),
        &[&inbox.0],
    )
    .await?;
    Ok(row.map(|row| get::<Option<String>>(&row, 0)).transpose()?.flatten())
}

pub(super) async fn rotate_identity_secret(db: &Db, inbox: InboxId) -> StoreResult<String> {
    let row = query_opt(
        db,
        &format!(
            "UPDATE inboxes SET identity_secret = {NEW_SECRET}
             WHERE id = $1 RETURNING identity_secret"
        ),
        &[&inbox.0],
    )
    .await?
    .ok_or(StoreError::NotFound(Entity::Inbox))?;
    get(&row, 0)
}

pub(super) async fn create_user(db: &Db, user: NewUser) -> StoreResult<User> {
    let now = now_millis();
    // A taken e-mail fails the insert (and so the transaction): answered as the conflict at once.
    let inserted = query_one(
        db,
        "INSERT INTO users (workspace_id, email, display_name, role, locale, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &user.workspace_id.0,
            &user.email,
            &user.display_name,
            &user.role.as_str(),
            &user.locale.as_str(),
            &user.password_hash,
            &now,
        ],
    )
    .await;
    let row = match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(Conflict::EmailTaken(user.email).into());
        }
        other => other?,
    };
    Ok(crate::shared::created::user(get(&row, 0)?, user, now))
}

pub(super) async fn user(db: &Db, id: UserId) -> StoreResult<Option<User>> {
    let row =
        query_opt(db, &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id.0]).await?;
    row.as_ref().map(user_from_row).transpose()
}

pub(super) async fn user_credentials(db: &Db, email: &str) -> StoreResult<Option<(User, String)>> {
    let row = query_opt(
        db,
        &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"),
        &[&email],
    )
    .await?;
    row.map(|row| Ok((user_from_row(&row)?, get(&row, 8)?))).transpose()
}

pub(super) async fn users(db: &Db, workspace: WorkspaceId) -> StoreResult<Vec<User>> {
    // SQLite's BINARY collation: byte order, whatever the database's locale.
    let rows = query(
        db,
        &format!(
            "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = $1 ORDER BY display_name COLLATE \"C\""
        ),
        &[&workspace.0],
    )
    .await?;
    rows.iter().map(user_from_row).collect()
}

pub(super) async fn update_user(db: &Db, id: UserId, update: UserUpdate) -> StoreResult<User> {
    let changed = execute(
        db,
        "UPDATE users SET
            display_name = COALESCE($2, display_name),
            role = COALESCE($3, role),
            locale = COALESCE($4, locale),
            active = COALESCE($5, active),
            password_hash = COALESCE($6, password_hash)
         WHERE id = $1",
        &[
            &id.0,
            &update.display_name,
            &update.role.map(Role::as_str),
            &update.locale.map(Locale::as_str),
            &update.active,
            &update.password_hash,
        ],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::User));
    }
    if update.active == Some(false) || update.password_hash.is_some() {
        // A deactivated user or a changed password ends every open session.
        execute(db, "DELETE FROM sessions WHERE user_id = $1", &[&id.0]).await?;
    }
    if update.revoke_api_tokens {
        execute(
            db,
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            &[&id.0, &now_millis()],
        )
        .await?;
    }
    user(db, id).await?.ok_or(StoreError::NotFound(Entity::User))
}

pub(super) async fn create_session(db: &Db, session: Session) -> StoreResult<()> {
    let now = now_millis();
    execute(db, "DELETE FROM sessions WHERE expires_at < $1", &[&now]).await?;
    execute(
        db,
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[&session.token_hash, &session.user_id.0, &session.csrf_token, &now, &session.expires_at],
    )
    .await?;
    Ok(())
}

pub(super) async fn session(
    db: &Db,
    token_hash: &str,
    now: Millis,
) -> StoreResult<Option<(Session, User)>> {
    let row = query_opt(
        db,
        &format!(
            "SELECT {USER_COLUMNS}, sessions.csrf_token, sessions.expires_at
             FROM sessions JOIN users ON users.id = sessions.user_id
             WHERE sessions.token_hash = $1 AND sessions.expires_at > $2 AND users.active"
        ),
        &[&token_hash, &now],
    )
    .await?;
    row.map(|row| {
        let user = user_from_row(&row)?;
        let session = Session {
            token_hash: token_hash.to_owned(),
            user_id: user.id,
            csrf_token: get(&row, 8)?,
            expires_at: get(&row, 9)?,
        };
        Ok((session, user))
    })
    .transpose()
}

pub(super) async fn delete_session(db: &Db, token_hash: &str) -> StoreResult<()> {
    execute(db, "DELETE FROM sessions WHERE token_hash = $1", &[&token_hash]).await?;
    Ok(())
}

/// The token's columns after [`USER_COLUMNS`] (from index 8).
const TOKEN_COLUMNS: &str = "api_tokens.id, api_tokens.user_id, api_tokens.name, api_tokens.scope,
    api_tokens.created_at, api_tokens.expires_at, api_tokens.last_used_at, api_tokens.revoked_at";

fn token_from_row(row: &Row, at: usize) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: ApiTokenId(get(row, at)?),
        user_id: UserId(get(row, at + 1)?),
        name: get(row, at + 2)?,
        scope: code(row, at + 3, TokenScope::parse)?,
        created_at: get(row, at + 4)?,
        expires_at: get(row, at + 5)?,
        last_used_at: get(row, at + 6)?,
        revoked_at: get(row, at + 7)?,
    })
}

fn token_and_user(row: &Row) -> StoreResult<(ApiToken, User)> {
    Ok((token_from_row(row, 8)?, user_from_row(row)?))
}

pub(super) async fn create_api_token(db: &Db, token: NewApiToken) -> StoreResult<ApiToken> {
    let now = now_millis();
    let row = query_one(
        db,
        "INSERT INTO api_tokens (token_hash, user_id, name, scope, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &token.token_hash,
            &token.user_id.0,
            &token.name,
            &token.scope.as_str(),
            &now,
            &token.expires_at,
        ],
    )
    .await?;
    Ok(crate::shared::created::api_token(get(&row, 0)?, token, now))
}

pub(super) async fn api_token(db: &Db, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
    let row = query_opt(
        db,
        &format!(
            "SELECT {USER_COLUMNS}, {TOKEN_COLUMNS}
             FROM api_tokens JOIN users ON users.id = api_tokens.user_id
             WHERE api_tokens.token_hash = $1 AND users.active"
        ),
        &[&token_hash],
    )
    .await?;
    row.as_ref().map(token_and_user).transpose()
}

pub(super) async fn api_token_by_id(
    db: &Db,
    id: ApiTokenId,
) -> StoreResult<Option<(ApiToken, User)>> {
    let row = query_opt(
        db,
        &format!(
            "SELECT {USER_COLUMNS}, {TOKEN_COLUMNS}
             FROM api_tokens JOIN users ON users.id = api_tokens.user_id
             WHERE api_tokens.id = $1"
        ),
        &[&id.0],
    )
    .await?;
    row.as_ref().map(token_and_user).transpose()
}

pub(super) async fn api_tokens(db: &Db, owners: TokenOwners) -> StoreResult<Vec<(ApiToken, User)>> {
    let (filter, id) = match owners {
        TokenOwners::User(user) => ("api_tokens.user_id = $1", user.0),
        TokenOwners::Workspace(workspace) => ("users.workspace_id = $1", workspace.0),
    };
    let rows = query(
        db,
        &format!(
            "SELECT {USER_COLUMNS}, {TOKEN_COLUMNS}
             FROM api_tokens JOIN users ON users.id = api_tokens.user_id
             WHERE {filter} ORDER BY api_tokens.created_at DESC, api_tokens.id DESC"
        ),
        &[&id],
    )
    .await?;
    rows.iter().map(token_and_user).collect()
}

pub(super) async fn revoke_api_token(
    db: &Db,
    id: ApiTokenId,
    now: Millis,
) -> StoreResult<ApiToken> {
    execute(
        db,
        "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&id.0, &now],
    )
    .await?;
    api_token_by_id(db, id)
        .await?
        .map(|(token, _)| token)
        .ok_or(StoreError::NotFound(Entity::ApiToken))
}

use crate::shared::created::TOUCH_EVERY_MS;

pub(super) async fn touch_api_token(db: &Db, id: ApiTokenId, now: Millis) -> StoreResult<()> {
    execute(
        db,
        "UPDATE api_tokens SET last_used_at = $2
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::BIGINT - $3::BIGINT)",
        &[&id.0, &now, &TOUCH_EVERY_MS],
    )
    .await?;
    Ok(())
}
