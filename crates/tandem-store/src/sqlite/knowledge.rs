//! What the bot answers from: articles with their published versions, the workspace's answer
//! settings, and the stamp that tells another process the knowledge changed.

use rusqlite::{Connection, OptionalExtension, params};
use tandem_domain::{
    AnswerSettings, Article, ArticleStatus, ConversationId, Locale, Millis, NewArticle, UserId,
    WorkspaceId,
};

use super::rows::{
    ARTICLE_COLUMNS, MESSAGE_COLUMNS, article_from_row, json_column, message_from_row, to_json,
};
use crate::{
    ArticleEmbedding, ArticleVersion, Change, Entity, HandledConversation, StoreError, StoreResult,
    SuggestionDecision, now_millis,
};

pub(super) fn article(
    connection: &Connection,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<Option<Article>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles WHERE workspace_id = ?1 AND key = ?2"
        ))?
        .query_row(params![workspace.0, key], article_from_row)
        .optional()?)
}

pub(super) fn articles(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<Vec<Article>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {ARTICLE_COLUMNS} FROM articles WHERE workspace_id = ?1 ORDER BY key"
    ))?;
    let rows = statement.query_map([workspace.0], article_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records the article's current content as its next published version.
fn publish_version(
    connection: &Connection,
    article: &mut Article,
    author: Option<UserId>,
    now: Millis,
) -> StoreResult<()> {
    article.version += 1;
    connection.execute(
        "INSERT INTO article_versions (article_id, version, title, answer, questions, tags, language, effective_from, expires_at, author_id, published_at, channels)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            article.id.0,
            article.version,
            article.title,
            article.answer,
            to_json(&article.questions)?,
            to_json(&article.tags)?,
            article.language.map(Locale::as_str),
            article.effective_from,
            article.expires_at,
            author.map(|user| user.0),
            now,
            to_json(&article.channels)?
        ],
    )?;
    connection.execute(
        "UPDATE articles SET version = ?2 WHERE id = ?1",
        params![article.id.0, article.version],
    )?;
    Ok(())
}

pub(super) fn save_articles(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    articles: Vec<NewArticle>,
    (status, author): (ArticleStatus, Option<UserId>),
) -> StoreResult<Vec<Article>> {
    let now = now_millis();
    let mut saved = Vec::with_capacity(articles.len());
    for new in articles {
        connection
            .prepare_cached(
                "INSERT INTO articles (workspace_id, key, status, title, answer, questions, tags, language,
                                       effective_from, expires_at, author_id, created_at, updated_at, channels)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)
                 ON CONFLICT (workspace_id, key) DO UPDATE SET
                    status = excluded.status, title = excluded.title, answer = excluded.answer,
                    questions = excluded.questions, tags = excluded.tags, language = excluded.language,
                    effective_from = excluded.effective_from, expires_at = excluded.expires_at,
                    author_id = excluded.author_id, updated_at = excluded.updated_at,
                    channels = excluded.channels",
            )?
            .execute(params![
                workspace.0,
                new.key,
                status.as_str(),
                new.title,
                new.answer,
                to_json(&new.questions)?,
                to_json(&new.tags)?,
                new.language.map(Locale::as_str),
                new.effective_from,
                new.expires_at,
                author.map(|user| user.0),
                now,
                to_json(&new.channels)?
            ])?;
        let mut article = article(connection, workspace, &new.key)?
            .ok_or(StoreError::NotFound(Entity::Article))?;
        if status == ArticleStatus::Published {
            publish_version(connection, &mut article, author, now)?;
        }
        saved.push(article);
    }
    changes.push(Change::Knowledge(workspace));
    Ok(saved)
}

pub(super) fn set_article_status(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    key: &str,
    (status, author): (ArticleStatus, Option<UserId>),
) -> StoreResult<Article> {
    let now = now_millis();
    let mut article =
        article(connection, workspace, key)?.ok_or(StoreError::NotFound(Entity::Article))?;
    connection.execute(
        "UPDATE articles SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![article.id.0, status.as_str(), now],
    )?;
    article.status = status;
    article.updated_at = now;
    if status == ArticleStatus::Published {
        publish_version(connection, &mut article, author, now)?;
    }
    changes.push(Change::Knowledge(workspace));
    Ok(article)
}

pub(super) fn article_versions(
    connection: &Connection,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<Vec<ArticleVersion>> {
    let mut statement = connection.prepare_cached(
        "SELECT v.version, v.title, v.answer, v.questions, v.effective_from, v.expires_at, v.author_id, v.published_at
         FROM article_versions v JOIN articles a ON a.id = v.article_id
         WHERE a.workspace_id = ?1 AND a.key = ?2 ORDER BY v.version DESC",
    )?;
    let rows = statement.query_map(params![workspace.0, key], |row| {
        Ok(ArticleVersion {
            version: row.get(0)?,
            title: row.get(1)?,
            answer: row.get(2)?,
            questions: json_column(row, 3)?.unwrap_or_default(),
            effective_from: row.get(4)?,
            expires_at: row.get(5)?,
            author_id: row.get::<_, Option<i64>>(6)?.map(UserId),
            published_at: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn answer_settings(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<AnswerSettings> {
    let settings = connection
        .prepare_cached(
            "SELECT threshold, dictionary, updated_at FROM answer_settings WHERE workspace_id = ?1",
        )?
        .query_row([workspace.0], |row| {
            Ok(AnswerSettings {
                threshold: row.get::<_, Option<f64>>(0)?.map(|value| value as f32),
                dictionary: json_column(row, 1)?.unwrap_or_default(),
                updated_at: row.get(2)?,
            })
        })
        .optional()?;
    Ok(settings.unwrap_or_default())
}

pub(super) fn save_answer_settings(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    mut settings: AnswerSettings,
) -> StoreResult<AnswerSettings> {
    settings.updated_at = now_millis();
    connection.execute(
        "INSERT INTO answer_settings (workspace_id, threshold, dictionary, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workspace_id) DO UPDATE SET threshold = excluded.threshold,
            dictionary = excluded.dictionary, updated_at = excluded.updated_at",
        params![
            workspace.0,
            settings.threshold.map(f64::from),
            to_json(&settings.dictionary)?,
            settings.updated_at
        ],
    )?;
    changes.push(Change::Knowledge(workspace));
    Ok(settings)
}

pub(super) fn stamp(connection: &Connection, workspace: WorkspaceId) -> StoreResult<(i64, Millis)> {
    Ok(connection
        .prepare_cached(
            "SELECT COUNT(*) + (SELECT COUNT(*) FROM actions WHERE workspace_id = ?1),
                    MAX(COALESCE(MAX(updated_at), 0),
                    COALESCE((SELECT updated_at FROM answer_settings WHERE workspace_id = ?1), 0),
                    COALESCE((SELECT MAX(updated_at) FROM actions WHERE workspace_id = ?1), 0))
             FROM articles WHERE workspace_id = ?1",
        )?
        .query_row([workspace.0], |row| Ok((row.get(0)?, row.get(1)?)))?)
}

/// Most messages read per handled conversation: the question and the answer are at the start.
const HANDLED_MESSAGES: i64 = 200;

pub(super) fn handled_conversations(
    connection: &Connection,
    workspace: WorkspaceId,
    since: Millis,
    limit: u32,
) -> StoreResult<Vec<HandledConversation>> {
    let conversations: Vec<(i64, Millis)> = connection
        .prepare_cached(
            "SELECT c.id, c.created_at FROM conversations c WHERE c.workspace_id = ?1 AND c.created_at >= ?2
               AND EXISTS (SELECT 1 FROM messages m
                           WHERE m.conversation_id = c.id AND m.author_kind = 'agent')
             ORDER BY c.created_at DESC, c.id DESC LIMIT ?3",
        )?
        .query_map(params![workspace.0, since, limit], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND author_kind != 'note'
         ORDER BY seq LIMIT ?2"
    ))?;
    let mut handled = Vec::with_capacity(conversations.len());
    for (id, created_at) in conversations {
        let messages = statement
            .query_map(params![id, HANDLED_MESSAGES], message_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        handled.push(HandledConversation { id: ConversationId(id), created_at, messages });
    }
    Ok(handled)
}

pub(super) fn decide_suggestions(
    connection: &Connection,
    workspace: WorkspaceId,
    decisions: &[SuggestionDecision],
) -> StoreResult<()> {
    let mut statement = connection.prepare_cached(
        "INSERT INTO knowledge_suggestions (workspace_id, kind, subject, decision, article_key,
             article_version, conversation_ids, decided_by, decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (workspace_id, kind, subject) DO UPDATE SET decision = excluded.decision,
             article_key = excluded.article_key, article_version = excluded.article_version,
             conversation_ids = excluded.conversation_ids, decided_by = excluded.decided_by,
             decided_at = excluded.decided_at",
    )?;
    for decision in decisions {
        statement.execute(params![
            workspace.0,
            decision.kind,
            decision.subject,
            if decision.accepted { "accepted" } else { "rejected" },
            decision.article_key,
            decision.article_version,
            to_json(&decision.conversation_ids)?,
            decision.decided_by.map(|user| user.0),
            decision.decided_at,
        ])?;
    }
    Ok(())
}

pub(super) fn suggestion_decisions(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<Vec<SuggestionDecision>> {
    let mut statement = connection.prepare_cached(
        "SELECT kind, subject, decision, article_key, article_version, conversation_ids,
                decided_by, decided_at
         FROM knowledge_suggestions WHERE workspace_id = ?1 ORDER BY decided_at DESC, subject",
    )?;
    let rows = statement.query_map([workspace.0], |row| {
        Ok(SuggestionDecision {
            kind: row.get(0)?,
            subject: row.get(1)?,
            accepted: row.get::<_, String>(2)? == "accepted",
            article_key: row.get(3)?,
            article_version: row.get(4)?,
            conversation_ids: json_column(row, 5)?.unwrap_or_default(),
            decided_by: row.get::<_, Option<i64>>(6)?.map(UserId),
            decided_at: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn save_article_embeddings(
    connection: &Connection,
    workspace: WorkspaceId,
    model: &str,
    embeddings: &[ArticleEmbedding],
) -> StoreResult<()> {
    let mut statement = connection.prepare_cached(
        "INSERT INTO article_embeddings (workspace_id, article_key, version, model, vector, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (workspace_id, article_key, model) DO UPDATE SET version = excluded.version,
             vector = excluded.vector, created_at = excluded.created_at",
    )?;
    let now = now_millis();
    for embedding in embeddings {
        let bytes: Vec<u8> =
            embedding.vector.iter().flat_map(|value| value.to_le_bytes()).collect();
        statement.execute(params![
            workspace.0,
            embedding.key,
            embedding.version,
            model,
            bytes,
            now
        ])?;
    }
    Ok(())
}

pub(super) fn article_embeddings(
    connection: &Connection,
    workspace: WorkspaceId,
    model: &str,
) -> StoreResult<Vec<ArticleEmbedding>> {
    let mut statement = connection.prepare_cached(
        "SELECT article_key, version, vector FROM article_embeddings
         WHERE workspace_id = ?1 AND model = ?2 ORDER BY article_key",
    )?;
    let rows = statement.query_map(params![workspace.0, model], |row| {
        let bytes: Vec<u8> = row.get(2)?;
        Ok(ArticleEmbedding {
            key: row.get(0)?,
            version: row.get(1)?,
            vector: bytes
                .chunks_exact(4)
                .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
                .collect(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
