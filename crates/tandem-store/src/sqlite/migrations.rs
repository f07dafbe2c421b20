//! Versioned schema migrations for SQLite. The schema version is SQLite's `user_version`;
//! each migration runs once, in order, in its own transaction. Never edit a released
//! migration: add a new one.

use rusqlite::Connection;

use crate::StoreResult;

const MIGRATIONS: &[&str] = &[
    // 1: conversations, messages, people.
    r#"
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE workspaces (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE inboxes (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        name TEXT NOT NULL,
        channel TEXT NOT NULL,
        public_key TEXT NOT NULL UNIQUE,
        bot_name TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        email TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        locale TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        name TEXT NOT NULL,
        email TEXT,
        locale TEXT,
        attributes TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL
    );
    CREATE TABLE queues (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        UNIQUE (workspace_id, name)
    );
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        inbox_id INTEGER NOT NULL REFERENCES inboxes(id),
        customer_id INTEGER NOT NULL REFERENCES customers(id),
        state TEXT NOT NULL,
        assignee_id INTEGER REFERENCES users(id),
        queue_id INTEGER REFERENCES queues(id),
        last_seq INTEGER NOT NULL DEFAULT 0,
        preview TEXT NOT NULL DEFAULT '',
        last_message_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        CHECK ((state = 'human') = (assignee_id IS NOT NULL))
    );
    CREATE INDEX conversations_by_state ON conversations (workspace_id, state, last_message_at DESC);
    CREATE INDEX conversations_by_assignee ON conversations (assignee_id, last_message_at DESC);
    CREATE INDEX conversations_by_customer ON conversations (customer_id, inbox_id, id DESC);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        seq INTEGER NOT NULL,
        author_kind TEXT NOT NULL,
        author_id INTEGER,
        author_name TEXT,
        body TEXT NOT NULL,
        client_msg_id TEXT,
        created_at INTEGER NOT NULL,
        UNIQUE (conversation_id, seq)
    );
    CREATE UNIQUE INDEX messages_by_client_id ON messages (conversation_id, client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    "#,
    // 2: knowledge articles with their published versions; message metadata (answer sources,
    // quick replies).
    r#"
    ALTER TABLE messages ADD COLUMN meta TEXT;
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        title TEXT NOT NULL,
        answer TEXT NOT NULL,
        questions TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        language TEXT,
        effective_from INTEGER,
        expires_at INTEGER,
        version INTEGER NOT NULL DEFAULT 0,
        author_id INTEGER REFERENCES users(id),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (workspace_id, key)
    );
    CREATE TABLE article_versions (
        article_id INTEGER NOT NULL REFERENCES articles(id),
        version INTEGER NOT NULL,
        title TEXT NOT NULL,
        answer TEXT NOT NULL,
        questions TEXT NOT NULL,
        tags TEXT NOT NULL,
        language TEXT,
        effective_from INTEGER,
        expires_at INTEGER,
        author_id INTEGER REFERENCES users(id),
        published_at INTEGER NOT NULL,
        PRIMARY KEY (article_id, version)
    );
    "#,
    // 3: the decision record of every bot turn.
    r#"
    CREATE TABLE bot_turns (
        message_id INTEGER PRIMARY KEY REFERENCES messages(id),
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        record TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX bot_turns_by_conversation ON bot_turns (conversation_id);
    "#,
    // 4: articles for some channels only; each workspace's answer settings.
    r#"
    ALTER TABLE articles ADD COLUMN channels TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE article_versions ADD COLUMN channels TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE answer_settings (
        workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id),
        threshold REAL,
        dictionary TEXT NOT NULL DEFAULT '[]',
        updated_at INTEGER NOT NULL
    );
    "#,
    // 5: triage and routing: escalation policies, hand-off packets, agents' skills, capacity and
    // presence, queues' routing rules, and each conversation's place in routing.
    r#"
    CREATE TABLE escalation_policies (
        workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id),
        policy TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE handoffs (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        packet TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX handoffs_by_conversation ON handoffs (conversation_id, id);
    CREATE TABLE agent_routing (
        user_id INTEGER PRIMARY KEY REFERENCES users(id),
        skills TEXT NOT NULL,
        capacity TEXT NOT NULL,
        presence TEXT NOT NULL,
        presence_at INTEGER NOT NULL
    );
    ALTER TABLE queues ADD COLUMN routing TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE conversations ADD COLUMN route TEXT;
    "#,
    // 6: outbound webhooks: endpoints, the outbox of events and their deliveries.
    //
    // The outbox is written by triggers, so an event is stored in the very transaction that
    // commits the change it reports, whichever code path (or process) made it: nothing can be
    // lost between a commit and a later "now record the event" step, and a rolled-back write
    // leaves no event behind. An event is recorded only when an active endpoint of the
    // workspace subscribes to its type, and it fans out to one delivery per such endpoint.
    // Its `data` is a snapshot taken at commit time, so retries send the same facts. A later
    // migration that renames a column used here must recreate these triggers; another backend
    // must write the same rows in the same transactions.
    r#"
    CREATE TABLE webhook_endpoints (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        url TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        events TEXT NOT NULL,
        secret TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, id);
    CREATE TABLE webhook_events (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        -- Set for an event meant for one endpoint (a test); NULL fans out by subscription.
        endpoint_id INTEGER REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX webhook_events_by_time ON webhook_events (created_at);
    CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
        event_id INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_attempt_at INTEGER,
        response_status INTEGER,
        error TEXT,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
        WHERE status = 'pending';
    CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
    CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

    -- A conversation as events describe it.
    CREATE VIEW webhook_conversations AS
    SELECT c.id, c.workspace_id, json_object(
        'id', c.id, 'inbox_id', c.inbox_id, 'channel', i.channel, 'state', c.state,
        'assignee_id', c.assignee_id, 'queue_id', c.queue_id, 'customer_id', c.customer_id,
        'customer', json_object('id', k.id, 'name', k.name, 'email', k.email, 'locale', k.locale),
        'created_at', c.created_at, 'updated_at', c.updated_at) AS snapshot
    FROM conversations c
    JOIN inboxes i ON i.id = c.inbox_id
    JOIN customers k ON k.id = c.customer_id;

    -- Active endpoints by workspace and subscribed event type.
    CREATE VIEW webhook_subscriptions AS
    SELECT e.id AS endpoint_id, e.workspace_id, j.value AS type
    FROM webhook_endpoints e, json_each(e.events) j
    WHERE e.active;

    CREATE TRIGGER webhook_events_fan_out AFTER INSERT ON webhook_events
    WHEN NEW.endpoint_id IS NULL
    BEGIN
        INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at, created_at)
        SELECT s.endpoint_id, NEW.id, NEW.created_at, NEW.created_at FROM webhook_subscriptions s
        WHERE s.workspace_id = NEW.workspace_id AND s.type = NEW.type;
    END;

    -- Customer, agent and bot messages; never internal notes or system lines.
    CREATE TRIGGER webhook_message_created AFTER INSERT ON messages
    WHEN NEW.author_kind IN ('customer', 'agent', 'bot')
    BEGIN
        INSERT INTO webhook_events (workspace_id, type, data, created_at)
        SELECT v.workspace_id, 'message.created', json_object(
            'conversation', json(v.snapshot),
            'message', json_object(
                'id', NEW.id, 'conversation_id', NEW.conversation_id, 'seq', NEW.seq,
                'author_kind', NEW.author_kind, 'author_id', NEW.author_id,
                'author_name', NEW.author_name, 'body', NEW.body,
                'client_msg_id', NEW.client_msg_id, 'meta', json(NEW.meta),
                'created_at', NEW.created_at)),
            NEW.created_at
        FROM webhook_conversations v
        WHERE v.id = NEW.conversation_id AND EXISTS (
            SELECT 1 FROM webhook_subscriptions s
            WHERE s.workspace_id = v.workspace_id AND s.type = 'message.created');
    END;

    CREATE TRIGGER webhook_conversation_handed_off AFTER INSERT ON handoffs
    BEGIN
        INSERT INTO webhook_events (workspace_id, type, data, created_at)
        SELECT v.workspace_id, 'conversation.handed_off', json_object(
            'conversation', json(v.snapshot), 'packet', json(NEW.packet)),
            NEW.created_at
        FROM webhook_conversations v
        WHERE v.id = NEW.conversation_id AND EXISTS (
            SELECT 1 FROM webhook_subscriptions s
            WHERE s.workspace_id = v.workspace_id AND s.type = 'conversation.handed_off');
    END;

    CREATE TRIGGER webhook_conversation_assigned AFTER UPDATE OF assignee_id ON conversations
    WHEN NEW.assignee_id IS NOT NULL AND NEW.assignee_id IS NOT OLD.assignee_id
    BEGIN
        INSERT INTO webhook_events (workspace_id, type, data, created_at)
        SELECT v.workspace_id, 'conversation.assigned', json_object(
            'conversation', json(v.snapshot),
            'assignee', json_object('id', u.id, 'display_name', u.display_name, 'email', u.email),
            'previous_state', OLD.state, 'previous_assignee_id', OLD.assignee_id),
            NEW.updated_at
        FROM webhook_conversations v JOIN users u ON u.id = NEW.assignee_id
        WHERE v.id = NEW.id AND EXISTS (
            SELECT 1 FROM webhook_subscriptions s
            WHERE s.workspace_id = v.workspace_id AND s.type = 'conversation.assigned');
    END;

    CREATE TRIGGER webhook_conversation_resolved AFTER UPDATE OF state ON conversations
    WHEN NEW.state = 'resolved' AND OLD.state IS NOT 'resolved'
    BEGIN
        INSERT INTO webhook_events (workspace_id, type, data, created_at)
        SELECT v.workspace_id, 'conversation.resolved', json_object(
            'conversation', json(v.snapshot),
            'previous_state', OLD.state, 'previous_assignee_id', OLD.assignee_id),
            NEW.updated_at
        FROM webhook_conversations v
        WHERE v.id = NEW.id AND EXISTS (
            SELECT 1 FROM webhook_subscriptions s
            WHERE s.workspace_id = v.workspace_id AND s.type = 'conversation.resolved');
    END;
    "#,
    // 7: business actions (declarative connectors) and a conversation's action in progress.
    r#"
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        key TEXT NOT NULL,
        definition TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        updated_at INTEGER NOT NULL,
        UNIQUE (workspace_id, key)
    );
    ALTER TABLE conversations ADD COLUMN pending_action TEXT;
    "#,
    // 8: identity verification. Each inbox gets a secret the business signs its users' ids
    // with (existing inboxes get one here; SQLite's randomblob is a ChaCha20 generator seeded
    // from the operating system); a verified customer carries the business's user id, unique
    // per workspace, so two devices of one person share one customer.
    r#"
    ALTER TABLE inboxes ADD COLUMN identity_secret TEXT;
    UPDATE inboxes SET identity_secret = lower(hex(randomblob(32)));
    ALTER TABLE customers ADD COLUMN external_id TEXT;
    ALTER TABLE customers ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
    CREATE UNIQUE INDEX customers_by_external_id ON customers (workspace_id, external_id)
        WHERE external_id IS NOT NULL;
    "#,
    // 9: per-workspace settings documents (JSON), one per key: `llm` is the model provider.
    r#"
    CREATE TABLE workspace_settings (
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, key)
    );
    "#,
    // 10: bot turns by time, for a workspace's model usage over a period.
    r#"
    CREATE INDEX bot_turns_by_time ON bot_turns (created_at);
    "#,
    // 11: hand-offs by time, for the model's hand-off summaries in the same usage.
    r#"
    CREATE INDEX handoffs_by_time ON handoffs (created_at);
    "#,
    // 12: webhook events are written by the store's Rust code, in the transaction of the change
    // they report, from the values it wrote (every field reaches the payload without a
    // migration): the triggers and the views that built JSON in SQL go.
    r#"
    DROP TRIGGER webhook_events_fan_out;
    DROP TRIGGER webhook_message_created;
    DROP TRIGGER webhook_conversation_handed_off;
    DROP TRIGGER webhook_conversation_assigned;
    DROP TRIGGER webhook_conversation_resolved;
    DROP VIEW webhook_conversations;
    DROP VIEW webhook_subscriptions;
    "#,
    // 13: a queue's opening hours are kept in a time zone (an IANA name with its daylight
    // saving, or an offset) instead of a fixed UTC offset in minutes: the offset becomes the
    // zone `+HH:MM` (or `UTC`), which keeps every queue's hours where they were.
    r#"
    UPDATE queues SET routing = json_remove(json_set(routing, '$.time_zone',
        CASE WHEN COALESCE(json_extract(routing, '$.utc_offset_minutes'), 0) = 0 THEN 'UTC'
        ELSE printf('%s%02d:%02d',
            CASE WHEN json_extract(routing, '$.utc_offset_minutes') < 0 THEN '-' ELSE '+' END,
            abs(json_extract(routing, '$.utc_offset_minutes')) / 60,
            abs(json_extract(routing, '$.utc_offset_minutes')) % 60)
        END), '$.utc_offset_minutes');
    "#,
    // 14: which suggested article an agent inserted into a reply and whether they sent it as it
    // was or edited it, one row per reply, for the console's assist panel.
    r#"
    CREATE TABLE suggestion_uses (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id),
        article_key TEXT NOT NULL,
        edited INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX suggestion_uses_by_conversation ON suggestion_uses (conversation_id);
    "#,
    // 15: what people decided about the knowledge suggestions learnt from conversations (a
    // customer's wording as a variant of an article, a gap as a new article): accepted ones
    // keep their evidence beside the article version that took them in; rejected ones are
    // not proposed again.
    r#"
    CREATE TABLE knowledge_suggestions (
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        decision TEXT NOT NULL,
        article_key TEXT,
        article_version INTEGER,
        conversation_ids TEXT NOT NULL,
        decided_by INTEGER REFERENCES users(id),
        decided_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, kind, subject)
    );
    "#, // 16: the wrap-up of a resolved conversation (summary, key points, topic), one per
    // conversation: resolving again replaces it.
    r#"
    CREATE TABLE wrapups (
        conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id),
        summary TEXT NOT NULL,
        key_points TEXT NOT NULL,
        topic TEXT,
        created_at INTEGER NOT NULL
    );
    "#,
    // 17: the embedding of each published article's current version, per embedding model
    // (little-endian f32s), written in the background after a publish.
    r#"
    CREATE TABLE article_embeddings (
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        article_key TEXT NOT NULL,
        version INTEGER NOT NULL,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, article_key, model)
    );
    "#,
    // 18: the summary the workspace's model wrote for a wrap-up, beside the extractive one.
    r#"
    ALTER TABLE wrapups ADD COLUMN model_summary TEXT;
    "#,
    // 19: insight. Each conversation's facts for the reports, kept current in the transaction
    // of every change (rebuilt here for the conversations that exist, see
    // `insight::backfill`); customers' ratings; the id of a conversation imported from
    // another system; the bot's conversations by how long they have been idle (those it
    // answered are resolved after a while); the spike alerts raised on a workspace's topics.
    r#"
    CREATE TABLE conversation_facts (
        conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id),
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        created_at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        customer_id INTEGER NOT NULL,
        state TEXT NOT NULL,
        queue_id INTEGER,
        agent_id INTEGER,
        topic TEXT,
        first_customer_at INTEGER,
        customer_messages INTEGER NOT NULL,
        bot_messages INTEGER NOT NULL,
        agent_messages INTEGER NOT NULL,
        handed_off_at INTEGER,
        assigned_at INTEGER,
        first_agent_at INTEGER,
        resolved_at INTEGER,
        last_resolved_at INTEGER,
        reopened_at INTEGER,
        csat INTEGER,
        sentiment_first REAL,
        sentiment_last REAL,
        reasons TEXT NOT NULL,
        tags TEXT NOT NULL,
        external_id TEXT,
        topic_is_cluster INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX conversation_facts_by_time ON conversation_facts (workspace_id, created_at);
    CREATE TABLE ratings (
        conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id),
        rating INTEGER,
        comment TEXT,
        answers TEXT NOT NULL,
        rated_at INTEGER NOT NULL
    );
    ALTER TABLE conversations ADD COLUMN external_id TEXT;
    CREATE UNIQUE INDEX conversations_by_external_id ON conversations (workspace_id, external_id)
        WHERE external_id IS NOT NULL;
    CREATE INDEX conversations_idle_with_the_bot ON conversations (last_message_at)
        WHERE state = 'bot' AND route IS NULL;
    CREATE TABLE insight_alerts (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        key TEXT NOT NULL,
        alert TEXT NOT NULL,
        raised_at INTEGER NOT NULL,
        dismissed_at INTEGER,
        UNIQUE (workspace_id, key)
    );
    "#,
    // 20: API tokens get an id, a scope (read_only, agent or admin: at most what the token may
    // do; existing tokens get the scope of their user's role, so they keep working as
    // before), an expiry, when they were last used and when they were revoked.
    r#"
    CREATE TABLE api_tokens_v20 (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        scope TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        revoked_at INTEGER
    );
    INSERT INTO api_tokens_v20 (token_hash, user_id, name, scope, created_at)
        SELECT api_tokens.token_hash, api_tokens.user_id, api_tokens.name,
               CASE users.role WHEN 'agent' THEN 'agent' ELSE 'admin' END, api_tokens.created_at
        FROM api_tokens JOIN users ON users.id = api_tokens.user_id
        ORDER BY api_tokens.created_at, api_tokens.rowid;
    DROP TABLE api_tokens;
    ALTER TABLE api_tokens_v20 RENAME TO api_tokens;
    CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at);
    "#,
    // 21: the audit log: who (a user, an API token, the bot, the model, the system) changed
    // what, when and from where. Append-only: the triggers refuse every UPDATE and DELETE,
    // whoever sends them.
    r#"
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        at INTEGER NOT NULL,
        actor_kind TEXT NOT NULL,
        actor_id TEXT,
        actor_name TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        ip TEXT
    );
    CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, id);
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only');
    END;
    "#,
    // 22: an endpoint may serve one inbox (an API channel's), and events name their
    // conversation, so one endpoint's deliveries about a conversation go one at a time, in
    // order. Events already recorded get the id their data carries.
    r#"
    ALTER TABLE webhook_endpoints ADD COLUMN inbox_id INTEGER REFERENCES inboxes(id);
    ALTER TABLE webhook_events ADD COLUMN conversation_id INTEGER;
    UPDATE webhook_events SET conversation_id = json_extract(data, '$.conversation.id')
        WHERE json_valid(data) AND json_type(data, '$.conversation.id') = 'integer';
    CREATE INDEX webhook_deliveries_pending_by_endpoint ON webhook_deliveries (endpoint_id, id)
        WHERE status = 'pending';
    "#,
    // 23: one customer across channels: a customer merged into another is marked (its
    // sessions' new messages go to the kept one), and each merge is recorded so it can be
    // undone (the conversations it moved and the fields it filled, as JSON).
    r#"
    ALTER TABLE customers ADD COLUMN merged_into INTEGER REFERENCES customers(id);
    CREATE TABLE customer_merges (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        keep_id INTEGER NOT NULL REFERENCES customers(id),
        merged_id INTEGER NOT NULL REFERENCES customers(id),
        conversation_ids TEXT NOT NULL,
        filled TEXT NOT NULL,
        by_user_id INTEGER,
        at INTEGER NOT NULL,
        undone_at INTEGER,
        undone_by INTEGER
    );
    CREATE INDEX customer_merges_by_keep ON customer_merges (keep_id);
    CREATE INDEX customer_merges_by_merged ON customer_merges (merged_id);
    "#,
    // 24: channels beyond the web: each inbox's channel settings (JSON, may hold secrets);
    // customers' identities (an e-mail address, a phone number, a channel's account id: one
    // customer's per workspace), with what a merge moved recorded so an undo moves them back;
    // files that came with messages; and an index to thread replies by. Each customer with an
    // e-mail address gets it as an unverified identity (trimmed and lowercased, as the server
    // normalises addresses; the first customer wins when two share one).
    r#"
    ALTER TABLE inboxes ADD COLUMN settings TEXT;
    CREATE TABLE customer_identities (
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        customer_id INTEGER NOT NULL REFERENCES customers(id),
        verified INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (workspace_id, kind, value)
    );
    CREATE INDEX customer_identities_by_customer ON customer_identities (customer_id);
    INSERT OR IGNORE INTO customer_identities
        (workspace_id, kind, value, customer_id, verified, created_at)
        SELECT workspace_id, 'email', lower(trim(email)), id, 0, created_at FROM customers
        WHERE email IS NOT NULL AND trim(email) <> ''
        ORDER BY id;
    ALTER TABLE customer_merges ADD COLUMN identities TEXT NOT NULL DEFAULT '[]';
    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        conversation_id INTEGER NOT NULL REFERENCES conversations(id),
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        data BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX attachments_by_conversation ON attachments (conversation_id, id);
    -- Threading: a reply names the messages it answers by their channel ids.
    CREATE INDEX messages_by_client_msg_id ON messages (client_msg_id)
        WHERE client_msg_id IS NOT NULL;
    "#,
];

/// The migration after which existing conversations' facts are rebuilt in Rust.
const FACTS_MIGRATION: usize = 19;

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

pub(crate) fn current_version(connection: &Connection) -> StoreResult<i64> {
    Ok(connection.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the schema up to [`LATEST`]. Refuses a database written by a newer Tandem.
pub(crate) fn migrate(connection: &mut Connection) -> StoreResult<()> {
    let version = current_version(connection)?;
    if version > LATEST {
        return Err(crate::StoreError::database(format!(
            "the database has schema version {version}, newer than this build ({LATEST}); upgrade Tandem"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        if index + 1 == FACTS_MIGRATION {
            super::insight::backfill(&transaction)?;
        }
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
        transaction.commit()?;
        tracing::info!(version = index + 1, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migrates a fresh in-memory database up to `version` only.
    fn database_at(version: usize) -> Connection {
        let mut connection = Connection::open_in_memory().unwrap();
        for (index, sql) in MIGRATIONS.iter().enumerate().take(version) {
            let transaction = connection.transaction().unwrap();
            transaction.execute_batch(sql).unwrap();
            transaction.pragma_update(None, "user_version", index as i64 + 1).unwrap();
            transaction.commit().unwrap();
        }
        connection
    }

    #[test]
    fn queues_keep_their_hours_in_the_zone_their_offset_was() {
        let mut connection = database_at(12);
        connection
            .execute_batch(
                r#"INSERT INTO workspaces (id, name, created_at) VALUES (1, 'Shop', 0);
                 INSERT INTO queues (workspace_id, name, description, routing) VALUES
                 (1, 'Beijing', '', '{"hours": [], "utc_offset_minutes": 480}'),
                 (1, 'Newfoundland', '', '{"utc_offset_minutes": -210}'),
                 (1, 'London', '', '{"utc_offset_minutes": 0}'),
                 (1, 'Never set', '', '{}');"#,
            )
            .unwrap();
        migrate(&mut connection).unwrap();
        let routings: Vec<String> = connection
            .prepare("SELECT routing FROM queues ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let zones: Vec<tandem_domain::QueueRouting> =
            routings.iter().map(|routing| serde_json::from_str(routing).unwrap()).collect();
        let names: Vec<&str> = zones.iter().map(|routing| routing.time_zone.as_str()).collect();
        assert_eq!(names, ["+08:00", "-03:30", "UTC", "UTC"]);
        assert!(routings.iter().all(|routing| !routing.contains("utc_offset_minutes")));
    }

    #[test]
    fn inboxes_that_existed_before_identity_verification_get_their_own_secret() {
        let mut connection = database_at(7);
        connection
            .execute_batch(
                "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'Shop', 0);
                 INSERT INTO inboxes (workspace_id, name, channel, public_key, bot_name, created_at)
                 VALUES (1, 'Web', 'web', 'pk_1', 'Bot', 0), (1, 'App', 'web', 'pk_2', 'Bot', 0);
                 INSERT INTO customers (workspace_id, name, attributes, created_at)
                 VALUES (1, 'Visitor 1234', '{}', 0);",
            )
            .unwrap();
        migrate(&mut connection).unwrap();
        assert_eq!(current_version(&connection).unwrap(), LATEST);
        let secrets: Vec<String> = connection
            .prepare("SELECT identity_secret FROM inboxes ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(secrets.len(), 2);
        assert!(secrets.iter().all(|secret| secret.len() == 64), "{secrets:?}");
        assert_ne!(secrets[0], secrets[1]);
        let (external_id, verified): (Option<String>, bool) = connection
            .query_row("SELECT external_id, verified FROM customers", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!((external_id, verified), (None, false), "existing customers stay anonymous");
    }

    #[test]
    fn api_tokens_that_existed_before_scopes_keep_what_their_user_may_do() {
        let mut connection = database_at(19);
        connection
            .execute_batch(
                "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'Shop', 0);
                 INSERT INTO users (id, workspace_id, email, display_name, role, locale, password_hash, created_at)
                 VALUES (1, 1, 'a@x', 'A', 'admin', 'en', 'h', 0),
                        (2, 1, 's@x', 'S', 'supervisor', 'en', 'h', 0),
                        (3, 1, 'g@x', 'G', 'agent', 'en', 'h', 0);
                 INSERT INTO api_tokens (token_hash, user_id, name, created_at)
                 VALUES ('h1', 1, 'ci', 10), ('h2', 2, 'ci', 20), ('h3', 3, 'ci', 30);",
            )
            .unwrap();
        migrate(&mut connection).unwrap();
        // Each token as `id:scope:expires_at:revoked_at`.
        let tokens: Vec<String> = connection
            .prepare(
                "SELECT id || ':' || scope || ':' || IFNULL(expires_at, '-') || ':'
                        || IFNULL(revoked_at, '-')
                 FROM api_tokens ORDER BY token_hash",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(tokens, ["1:admin:-:-", "2:admin:-:-", "3:agent:-:-"]);
    }

    #[test]
    fn customers_with_an_email_get_it_as_an_identity_and_the_first_one_wins() {
        let mut connection = database_at(23);
        connection
            .execute_batch(
                "INSERT INTO workspaces (id, name, created_at) VALUES (1, 'Shop', 0), (2, 'Other', 0);
                 INSERT INTO customers (id, workspace_id, name, email, attributes, created_at) VALUES
                 (1, 1, 'Ada', ' Ada@Example.com', '{}', 10),
                 (2, 1, 'Ada again', 'ada@example.com', '{}', 20),
                 (3, 1, 'Nobody', NULL, '{}', 30),
                 (4, 1, 'Empty', '', '{}', 40),
                 (5, 2, 'Ada elsewhere', 'ADA@example.com', '{}', 50);",
            )
            .unwrap();
        migrate(&mut connection).unwrap();
        let identities: Vec<String> = connection
            .prepare(
                "SELECT workspace_id || ':' || kind || ':' || value || ':' || customer_id || ':'
                        || verified
                 FROM customer_identities ORDER BY workspace_id, customer_id",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(identities, ["1:email:ada@example.com:1:0", "2:email:ada@example.com:5:0"]);
    }
}
