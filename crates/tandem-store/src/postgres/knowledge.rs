//! What the bot answers from: articles with their published versions, the workspace's answer
//! settings, and the stamp that tells another process the knowledge changed.
//!
//! Writes that read what they change lock the workspace row first, so knowledge writes of one
//! workspace from several nodes run one after another.

use tandem_domain::{
    AnswerSettings, Article, ArticleStatus, ConversationId, Locale, Millis, NewArticle, UserId,
    WorkspaceId,
};

use super::rows::{ARTICLE_COLUMNS, MESSAGE_COLUMNS, article_from_row, message_from_row};
use super::sql::{Db, execute, get, json, query, query_one, query_opt, to_json};
use crate::{
    ArticleEmbedding, ArticleVersion, Change, Entity, HandledConversation, StoreError, StoreResult,
    SuggestionDecision, now_millis,
};

/// Locks the workspace row: the knowledge writes of a workspace run one at a time.
async fn lock_workspace(db: &Db, workspace: WorkspaceId) -> StoreResult<()> {
    execute(db, "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", &[&workspace.0])
        .await?;
    Ok(())
}

pub(super) async fn article(
    db: &Db,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<Option<Article>> {
    let sql =
        format!("SELECT {ARTICLE_COLUMNS} FROM articles WHERE workspace_id = $1 AND key = $2");
    query_opt(db, &sql, &[&workspace.0, &key]).await?.as_ref().map(article_from_row).transpose()
}

pub(super) async fn articles(db: &Db, workspace: WorkspaceId) -> StoreResult<Vec<Article>> {
    let sql =
        format!("SELECT {ARTICLE_COLUMNS} FROM articles WHERE workspace_id = $1 ORDER BY key");
    query(db, &sql, &[&workspace.0]).await?.iter().map(article_from_row).collect()
}

/// Records the article's current content as its next published version.
async fn publish_version(
    db: &Db,
    article: &mut Article,
    author: Option<UserId>,
    now: Millis,
) -> StoreResult<()> {
    article.version += 1;
    execute(
        db,
        "INSERT INTO article_versions (article_id, version, title, answer, questions, tags, language, effective_from, expires_at, author_id, published_at, channels)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &article.id.0,
            &article.version,
            &article.title,
            &article.answer,
            &to_json(&article.questions)?,
            &to_json(&article.tags)?,
            &article.language.map(Locale::as_str),
            &article.effective_from,
            &article.expires_at,
            &author.map(|user| user.0),
            &now,
            &to_json(&article.channels)?,
        ],
    )
    .await?;
    execute(
        db,
        "UPDATE articles SET version = $2 WHERE id = $1",
        &[&article.id.0, &article.version],
    )
    .await?;
    Ok(())
}

pub(super) async fn save_articles(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    articles: Vec<NewArticle>,
    (status, author): (ArticleStatus, Option<UserId>),
) -> StoreResult<Vec<Article>> {
    // The versions read to publish the next one stay this write's until it commits.
    lock_workspace(db, workspace).await?;
    let now = now_millis();
    let sql = format!(
        "INSERT INTO articles (workspace_id, key, status, title, answer, questions, tags, language,
                               effective_from, expires_at, author_id, created_at, updated_at, channels)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)
         ON CONFLICT (workspace_id, key) DO UPDATE SET
            status = excluded.status, title = excluded.title, answer = excluded.answer,
            questions = excluded.questions, tags = excluded.tags, language = excluded.language,
            effective_from = excluded.effective_from, expires_at = excluded.expires_at,
            author_id = excluded.author_id, updated_at = excluded.updated_at,
            channels = excluded.channels
         RETURNING {ARTICLE_COLUMNS}"
    );
    let mut saved = Vec::with_capacity(articles.len());
    for new in articles {
        let row = query_one(
            db,
            &sql,
            &[
                &workspace.0,
                &new.key,
                &status.as_str(),
                &new.title,
                &new.answer,
                &to_json(&new.questions)?,
                &to_json(&new.tags)?,
                &new.language.map(Locale::as_str),
                &new.effective_from,
                &new.expires_at,
                &author.map(|user| user.0),
                &now,
                &to_json(&new.channels)?,
            ],
        )
        .await?;
        let mut article = article_from_row(&row)?;
        if status == ArticleStatus::Published {
            publish_version(db, &mut article, author, now).await?;
        }
        saved.push(article);
    }
    changes.push(Change::Knowledge(workspace));
    Ok(saved)
}

pub(super) async fn set_article_status(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    key: &str,
    (status, author): (ArticleStatus, Option<UserId>),
) -> StoreResult<Article> {
    lock_workspace(db, workspace).await?;
    let now = now_millis();
    let mut article =
        article(db, workspace, key).await?.ok_or(StoreError::NotFound(Entity::Article))?;
    execute(
        db,
        "UPDATE articles SET status = $2, updated_at = $3 WHERE id = $1",
        &[&article.id.0, &status.as_str(), &now],
    )
    .await?;
    article.status = status;
    article.updated_at = now;
    if status == ArticleStatus::Published {
        publish_version(db, &mut article, author, now).await?;
    }
    changes.push(Change::Knowledge(workspace));
    Ok(article)
}

pub(super) async fn article_versions(
    db: &Db,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<Vec<ArticleVersion>> {
    let rows = query(
        db,
        "SELECT v.version, v.title, v.answer, v.questions, v.effective_from, v.expires_at, v.author_id, v.published_at
         FROM article_versions v JOIN articles a ON a.id = v.article_id
         WHERE a.workspace_id = $1 AND a.key = $2 ORDER BY v.version DESC",
        &[&workspace.0, &key],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ArticleVersion {
                version: get(row, 0)?,
                title: get(row, 1)?,
                answer: get(row, 2)?,
                questions: json(row, 3)?.unwrap_or_default(),
                effective_from: get(row, 4)?,
                expires_at: get(row, 5)?,
                author_id: get::<Option<i64>>(row, 6)?.map(UserId),
                published_at: get(row, 7)?,
            })
        })
        .collect()
}

pub(super) async fn answer_settings(
    db: &Db,
    workspace: WorkspaceId,
) -> StoreResult<AnswerSettings> {
    let row = query_opt(
        db,
        "SELECT threshold, dictionary, updated_at FROM answer_settings WHERE workspace_id = $1",
        &[&workspace.0],
    )
    .await?;
    let Some(row) = row else { return Ok(AnswerSettings::default()) };
    Ok(AnswerSettings {
        threshold: get::<Option<f64>>(&row, 0)?.map(|value| value as f32),
        dictionary: json(&row, 1)?.unwrap_or_default(),
        updated_at: get(&row, 2)?,
    })
}

pub(super) async fn save_answer_settings(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    mut settings: AnswerSettings,
) -> StoreResult<AnswerSettings> {
    // One knowledge write of the workspace at a time: the stamps follow the commits.
    lock_workspace(db, workspace).await?;
    settings.updated_at = now_millis();
    execute(
        db,
        "INSERT INTO answer_settings (workspace_id, threshold, dictionary, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workspace_id) DO UPDATE SET threshold = excluded.threshold,
            dictionary = excluded.dictionary, updated_at = excluded.updated_at",
        &[
            &workspace.0,
            &settings.threshold.map(f64::from),
            &to_json(&settings.dictionary)?,
            &settings.updated_at,
        ],
    )
    .await?;
    changes.push(Change::Knowledge(workspace));
    Ok(settings)
}

pub(super) async fn stamp(db: &Db, workspace: WorkspaceId) -> StoreResult<(i64, Millis)> {
    let row = query_one(
        db,
        "SELECT COUNT(*) + (SELECT COUNT(*) FROM actions WHERE workspace_id = $1),
                GREATEST(COALESCE(MAX(updated_at), 0),
                COALESCE((SELECT updated_at FROM answer_settings WHERE workspace_id = $1), 0),
                COALESCE((SELECT MAX(updated_at) FROM actions WHERE workspace_id = $1), 0))
         FROM articles WHERE workspace_id = $1",
        &[&workspace.0],
    )
    .await?;
    Ok((get(&row, 0)?, get(&row, 1)?))
}

/// Most messages read per handled conversation: the question and the answer are at the start.
const HANDLED_MESSAGES: i64 = 200;

pub(super) async fn handled_conversations(
    db: &Db,
    workspace: WorkspaceId,
    since: Millis,
    limit: u32,
) -> StoreResult<Vec<HandledConversation>> {
    let conversations = query(
        db,
        "SELECT c.id, c.created_at FROM conversations c WHERE c.workspace_id = $1 AND c.created_at >= $2
           AND EXISTS (SELECT 1 FROM messages m
                       WHERE m.conversation_id = c.id AND m.author_kind = 'agent')
         ORDER BY c.created_at DESC, c.id DESC LIMIT $3",
        &[&workspace.0, &since, &i64::from(limit)],
    )
    .await?;
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND author_kind != 'note'
         ORDER BY seq LIMIT $2"
    );
    let mut handled = Vec::with_capacity(conversations.len());
    for row in &conversations {
        let id: i64 = get(row, 0)?;
        let created_at: Millis = get(row, 1)?;
        let messages = query(db, &sql, &[&id, &HANDLED_MESSAGES])
            .await?
            .iter()
            .map(message_from_row)
            .collect::<StoreResult<_>>()?;
        handled.push(HandledConversation { id: ConversationId(id), created_at, messages });
    }
    Ok(handled)
}

pub(super) async fn decide_suggestions(
    db: &Db,
    workspace: WorkspaceId,
    decisions: &[SuggestionDecision],
) -> StoreResult<()> {
    for decision in decisions {
        let verdict = if decision.accepted { "accepted" } else { "rejected" };
        execute(
            db,
            "INSERT INTO knowledge_suggestions (workspace_id, kind, subject, decision, article_key,
                 article_version, conversation_ids, decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (workspace_id, kind, subject) DO UPDATE SET decision = excluded.decision,
                 article_key = excluded.article_key, article_version = excluded.article_version,
                 conversation_ids = excluded.conversation_ids, decided_by = excluded.decided_by,
                 decided_at = excluded.decided_at",
            &[
                &workspace.0,
                &decision.kind,
                &decision.subject,
                &verdict,
                &decision.article_key,
                &decision.article_version,
                &to_json(&decision.conversation_ids)?,
                &decision.decided_by.map(|user| user.0),
                &decision.decided_at,
            ],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn suggestion_decisions(
    db: &Db,
    workspace: WorkspaceId,
) -> StoreResult<Vec<SuggestionDecision>> {
    let rows = query(
        db,
        "SELECT kind, subject, decision, article_key, article_version, conversation_ids,
                decided_by, decided_at
         FROM knowledge_suggestions WHERE workspace_id = $1 ORDER BY decided_at DESC, subject",
        &[&workspace.0],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SuggestionDecision {
                kind: get(row, 0)?,
                subject: get(row, 1)?,
                accepted: get::<String>(row, 2)? == "accepted",
                article_key: get(row, 3)?,
                article_version: get(row, 4)?,
                conversation_ids: json(row, 5)?.unwrap_or_default(),
                decided_by: get::<Option<i64>>(row, 6)?.map(UserId),
                decided_at: get(row, 7)?,
            })
        })
        .collect()
}

pub(super) async fn save_article_embeddings(
    db: &Db,
    workspace: WorkspaceId,
    model: &str,
    embeddings: &[ArticleEmbedding],
) -> StoreResult<()> {
    let now = now_millis();
    for embedding in embeddings {
        // The same bytes as the SQLite store's BLOB: each f32 little-endian, in order.
        let bytes: Vec<u8> =
            embedding.vector.iter().flat_map(|value| value.to_le_bytes()).collect();
        execute(
            db,
            "INSERT INTO article_embeddings (workspace_id, article_key, version, model, vector, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (workspace_id, article_key, model) DO UPDATE SET version = excluded.version,
                 vector = excluded.vector, created_at = excluded.created_at",
            &[&workspace.0, &embedding.key, &embedding.version, &model, &bytes, &now],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn article_embeddings(
    db: &Db,
    workspace: WorkspaceId,
    model: &str,
) -> StoreResult<Vec<ArticleEmbedding>> {
    let rows = query(
        db,
        "SELECT article_key, version, vector FROM article_embeddings
         WHERE workspace_id = $1 AND model = $2 ORDER BY article_key",
        &[&workspace.0, &model],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let bytes: Vec<u8> = get(row, 2)?;
            Ok(ArticleEmbedding {
                key: get(row, 0)?,
                version: get(row, 1)?,
                vector: bytes
                    .chunks_exact(4)
                    .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
                    .collect(),
            })
        })
        .collect()
}
