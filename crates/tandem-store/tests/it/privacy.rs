//! Erasure, retention and export: after an erasure no table of the schema holds a row about the
//! customer or their conversations, and the erasure is recorded; retention deletes only old
//! resolved conversations.

use std::collections::BTreeMap;
use std::sync::Arc;

use tandem_domain::{
    AuthorKind, Channel, ConversationId, Inbox, Locale, Role, Transition, WebhookEventType,
    WorkspaceId, Wrapup,
};
use tandem_store::{
    Change, ErasureKind, MessageTarget, NewCustomer, NewInbox, NewMessage, NewUser, Rating,
    RouteChange, Store, StoreError, SuggestionDecision, SuggestionUse,
};

async fn inbox(
    store: &Arc<dyn Store>,
    workspace: WorkspaceId,
    key: &str,
    channel: Channel,
) -> Inbox {
    store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: key.into(),
            channel,
            public_key: format!("pk_{key}_{}", workspace.0),
            bot_name: "Xiaohe".into(),
        })
        .await
        .unwrap()
}

fn message(target: MessageTarget, kind: AuthorKind, body: &str) -> NewMessage {
    NewMessage {
        target,
        author_kind: kind,
        author_id: None,
        author_name: None,
        body: body.into(),
        client_msg_id: None,
        reopen_if_resolved: true,
        only_while_bot_owns: false,
        meta: None,
        decision: (kind == AuthorKind::Bot).then(|| tandem_domain::DecisionRecord {
            query: body.into(),
            outcome: tandem_domain::TurnOutcome::Answer,
            threshold: 0.35,
            candidates: Vec::new(),
            knowledge_version: "1 articles".into(),
            latency_us: 1,
            action: None,
            llm: None,
            parts: Vec::new(),
        }),
        sentiment: Some(-0.5),
    }
}

/// A customer's conversation in `inbox` with every kind of row a conversation gets: messages,
/// a decision record, a suggestion use, a hand-off packet, an agent, a wrap-up, a rating, and
/// webhook events with their deliveries.
async fn full_conversation(
    store: &Arc<dyn Store>,
    inbox: &Inbox,
    customer: tandem_domain::CustomerId,
    agent: tandem_domain::UserId,
) -> ConversationId {
    let target = MessageTarget::CustomerLatest { inbox_id: inbox.id, customer_id: customer };
    let first =
        store.append_message(message(target, AuthorKind::Customer, "耳机坏了")).await.unwrap();
    let id = first.conversation.id;
    let here = MessageTarget::Conversation(id);
    store.append_message(message(here, AuthorKind::Bot, "请描述一下")).await.unwrap();
    store
        .route(
            id,
            RouteChange {
                transition: Some(Transition::Escalate),
                packet: Some(super::suite::handoff_packet(id)),
                ..RouteChange::default()
            },
        )
        .await
        .unwrap();
    store.transition(id, Transition::Assign { agent }, None).await.unwrap();
    let mut reply = message(here, AuthorKind::Agent, "给您换一个");
    reply.author_id = Some(agent.0);
    let reply = store.append_message(reply).await.unwrap();
    store
        .record_suggestion_use(
            id,
            SuggestionUse { message: reply.message.id, article: "returns".into(), edited: false },
        )
        .await
        .unwrap();
    let wrapup = Wrapup {
        conversation_id: id,
        summary: "耳机坏了，换新".into(),
        key_points: Vec::new(),
        topic: Some("returns".into()),
        model_summary: None,
        created_at: 0,
    };
    store
        .route(
            id,
            RouteChange {
                transition: Some(Transition::Resolve),
                wrapup: Some(wrapup),
                ..RouteChange::default()
            },
        )
        .await
        .unwrap();
    store
        .rate_conversation(
            id,
            Rating {
                rating: Some(2),
                comment: Some("太慢".into()),
                answers: BTreeMap::new(),
                rated_at: 1,
            },
        )
        .await
        .unwrap();
    id
}

fn count(connection: &rusqlite::Connection, sql: &str, ids: &str) -> i64 {
    connection.query_row(sql, [ids], |row| row.get(0)).unwrap()
}

/// What [`erase_a_customer`] leaves to look through.
struct Erased {
    workspace: WorkspaceId,
    customer: tandem_domain::CustomerId,
    /// The erased customer's conversations.
    gone: Vec<i64>,
    /// The other customer's conversation.
    other: ConversationId,
    erasure: tandem_store::Erasure,
}

/// Two customers with full conversations, knowledge evidence naming both: exports the first,
/// erases them and checks what the store answers afterwards.
async fn erase_a_customer(store: &Arc<dyn Store>) -> Erased {
    let workspace = store.create_workspace("Galaxy Shop").await.unwrap().id;
    let web = inbox(store, workspace, "web", Channel::Web).await;
    let app = inbox(store, workspace, "app", Channel::Email).await;
    let agent = store
        .create_user(NewUser {
            workspace_id: workspace,
            email: "fang@example.com".into(),
            display_name: "王芳".into(),
            role: Role::Agent,
            locale: Locale::Zh,
            password_hash: "hash".into(),
        })
        .await
        .unwrap()
        .id;
    store
        .create_webhook_endpoint(tandem_store::NewWebhookEndpoint {
            workspace_id: workspace,
            url: "https://crm.example.com/hooks".into(),
            description: String::new(),
            events: WebhookEventType::SUBSCRIBABLE.to_vec(),
            active: true,
            secret: "whsec_test".into(),
            inbox_id: None,
        })
        .await
        .unwrap();
    let new_customer = |name: &str| NewCustomer {
        workspace_id: workspace,
        name: name.into(),
        email: Some(format!("{name}@example.com")),
        locale: Some(Locale::Zh),
        attributes: BTreeMap::from([("phone".into(), "13800138000".into())]),
    };
    let erased = store.create_customer(new_customer("lilei")).await.unwrap().id;
    let kept = store.create_customer(new_customer("hanmeimei")).await.unwrap().id;
    // The customer on two channels, and someone else whose rows must stay.
    let on_web = full_conversation(store, &web, erased, agent).await;
    let on_app = full_conversation(store, &app, erased, agent).await;
    let other = full_conversation(store, &web, kept, agent).await;
    let gone = vec![on_web.0, on_app.0];
    // Their identities and a file they sent go too; the other customer's stay.
    let wecom = tandem_domain::IdentityKind::Wecom;
    store.attach_identity(erased, wecom, "wm_lilei", true).await.unwrap();
    store.attach_identity(kept, wecom, "wm_hanmeimei", true).await.unwrap();
    let file = |conversation, name: &str| tandem_store::NewAttachment {
        conversation_id: conversation,
        filename: format!("{name}-receipt.pdf"),
        content_type: "application/pdf".into(),
        data: format!("%PDF {name}").into_bytes(),
    };
    let attachment = store.store_attachment(file(on_web, "lilei")).await.unwrap();
    store.store_attachment(file(other, "hanmeimei")).await.unwrap();
    store
        .decide_suggestions(
            workspace,
            vec![SuggestionDecision {
                kind: "variant".into(),
                subject: "returns:耳机坏了".into(),
                accepted: false,
                article_key: Some("returns".into()),
                article_version: None,
                conversation_ids: vec![on_web.0, other.0],
                decided_by: Some(agent),
                decided_at: 1,
            }],
        )
        .await
        .unwrap();
    let export = store.customer_export(workspace, erased).await.unwrap();
    assert_eq!(export.customer.id, erased);
    assert_eq!(export.conversations.len(), 2);
    assert_eq!(export.identities.len(), 1);
    assert_eq!(export.identities[0].value, "wm_lilei");
    let first = &export.conversations[0];
    assert_eq!(first.messages.len(), 3, "{:?}", first.messages);
    assert_eq!((first.decisions.len(), first.handoffs.len()), (1, 1));
    assert!(first.wrapup.is_some() && first.rating.is_some());

    let mut feed = store.subscribe();
    let erasure = store.erase_customer(workspace, erased, Some(agent)).await.unwrap();
    assert_eq!(erasure.kind, ErasureKind::Customer);
    assert_eq!((erasure.customer_id, erasure.erased_by), (Some(erased), Some(agent)));
    assert_eq!(erasure.conversations, 2);
    assert_eq!(erasure.rows["messages"], 6);
    assert_eq!(erasure.rows["customers"], 1);
    assert_eq!((erasure.rows["customer_identities"], erasure.rows["attachments"]), (1, 1));
    assert!(store.attachment(attachment.id).await.unwrap().is_none());
    assert!(erasure.rows["webhook_events"] > 0, "{:?}", erasure.rows);
    match feed.recv().await.unwrap() {
        Change::Erased { workspace: changed, conversations } => {
            assert_eq!(changed, workspace);
            assert_eq!(&*conversations, [on_web, on_app]);
        }
        other => panic!("expected the erasure on the feed, got {other:?}"),
    }
    assert_eq!(store.erasures(workspace).await.unwrap(), std::slice::from_ref(&erasure));
    let record = serde_json::to_string(&erasure).unwrap();
    assert!(!record.contains("lilei") && !record.contains("耳机"), "{record}");
    assert!(matches!(
        store.erase_customer(workspace, erased, None).await,
        Err(StoreError::NotFound(tandem_store::Entity::Customer))
    ));
    assert!(store.customer_export(workspace, erased).await.is_err());
    Erased { workspace, customer: erased, gone, other, erasure }
}

/// The other customer keeps everything.
async fn the_other_customer_keeps_everything(store: &Arc<dyn Store>, erased: &Erased) {
    let Erased { workspace, other, .. } = *erased;
    let kept = store.conversation(other).await.unwrap().unwrap().customer_id;
    let export = store.customer_export(workspace, kept).await.unwrap();
    assert_eq!(export.conversations.len(), 1);
    assert_eq!(export.conversations[0].messages.len(), 3);
    assert!(store.rating(other).await.unwrap().is_some());
    assert_eq!(store.customer_identities(kept).await.unwrap().len(), 1);
    assert_eq!(store.conversation_attachments(other).await.unwrap().len(), 1);
    let facts = store.conversation_facts(workspace, i64::MIN, i64::MAX).await.unwrap();
    let ids: Vec<ConversationId> = facts.iter().map(|facts| facts.conversation_id).collect();
    assert_eq!(ids, [other]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_customer_leaves_no_row_about_them_in_any_table() {
    let harness = crate::sqlite_harness();
    let store = &harness.store;
    let erased = erase_a_customer(store).await;
    let Erased { customer: erased_customer, ref gone, other, .. } = erased;
    // Look through every table of the schema for the customer or their conversations.
    let connection = rusqlite::Connection::open(harness.database.as_ref().unwrap()).unwrap();
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let gone_json = serde_json::to_string(&gone).unwrap();
    let customer_json = serde_json::to_string(&[erased_customer.0]).unwrap();
    let mut looked = 0;
    for table in &tables {
        let columns: Vec<String> = connection
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut check = |column: &str, ids: &str| {
            let sql = format!(
                "SELECT COUNT(*) FROM {table} WHERE {column} IN (SELECT value FROM json_each(?1))"
            );
            assert_eq!(count(&connection, &sql, ids), 0, "{table}.{column} still names them");
            looked += 1;
        };
        if columns.iter().any(|column| column == "conversation_id") {
            check("conversation_id", &gone_json);
        }
        if columns.iter().any(|column| column == "customer_id") {
            check("customer_id", &customer_json);
        }
        if table == "conversations" {
            check("id", &gone_json);
        }
        if table == "customers" {
            check("id", &customer_json);
        }
        // Any text column of any table: no trace of the customer's name or e-mail.
        for column in &columns {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE ?1");
            assert_eq!(
                count(&connection, &sql, "%lilei%"),
                0,
                "{table}.{column} still holds the customer's name"
            );
        }
    }
    assert!(looked >= 11, "looked at {looked} columns of {tables:?}");
    let events_naming: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM webhook_events WHERE json_extract(data, '$.conversation.id') IN (SELECT value FROM json_each(?1))",
            [&gone_json],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(events_naming, 0);
    let evidence: String = connection
        .query_row("SELECT conversation_ids FROM knowledge_suggestions", [], |row| row.get(0))
        .unwrap();
    assert_eq!(evidence, format!("[{}]", other.0));

    the_other_customer_keeps_everything(store, &erased).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_erasing_a_customer_leaves_no_row_about_them_in_any_table() {
    let Some(harness) = crate::postgres().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let store = &harness.store;
    let erased = erase_a_customer(store).await;
    let Erased { customer, ref gone, other, ref erasure, .. } = erased;
    assert!(erasure.rows["change_feed"] > 0, "the feed carried their messages: {:?}", erasure.rows);

    // Look through every table of the schema for the customer or their conversations.
    let url = &harness._guard.downcast_ref::<crate::TestDatabase>().expect("a test database").url;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap();
    for row in columns {
        tables.entry(row.get(0)).or_default().push(row.get(1));
    }
    let customers = vec![customer.0];
    let mut looked = 0;
    for (table, columns) in &tables {
        let mut checks: Vec<(&str, &Vec<i64>)> = Vec::new();
        if columns.iter().any(|column| column == "conversation_id") {
            checks.push(("conversation_id", gone));
        }
        if columns.iter().any(|column| column == "customer_id") {
            checks.push(("customer_id", &customers));
        }
        if table == "conversations" {
            checks.push(("id", gone));
        }
        if table == "customers" {
            checks.push(("id", &customers));
        }
        for (column, ids) in checks {
            let sql = format!("SELECT COUNT(*) FROM \"{table}\" WHERE \"{column}\" = ANY($1)");
            let count: i64 = client.query_one(&sql, &[ids]).await.unwrap().get(0);
            assert_eq!(count, 0, "{table}.{column} still names them");
            looked += 1;
        }
        // Any column of any table: no trace of the customer's name or e-mail.
        for column in columns {
            let sql = format!(
                "SELECT COUNT(*) FROM \"{table}\" WHERE CAST(\"{column}\" AS TEXT) LIKE $1"
            );
            let count: i64 = client.query_one(&sql, &[&"%lilei%"]).await.unwrap().get(0);
            assert_eq!(count, 0, "{table}.{column} still holds the customer's name");
        }
    }
    assert!(looked >= 11, "looked at {looked} columns of {:?}", tables.keys());
    let texts: Vec<String> = gone.iter().map(i64::to_string).collect();
    let events_naming: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM webhook_events WHERE data::jsonb #>> '{conversation,id}' = ANY($1)",
            &[&texts],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(events_naming, 0);
    let feed_naming: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM change_feed WHERE payload::jsonb #>> '{conversation,id}' = ANY($1)",
            &[&texts],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(feed_naming, 0, "the change feed still carries their conversations");
    let evidence: String = client
        .query_one("SELECT conversation_ids FROM knowledge_suggestions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(evidence, format!("[{}]", other.0));
    the_other_customer_keeps_everything(store, &erased).await;
}

async fn retention(harness: crate::Harness) {
    let store = &harness.store;
    let workspace = store.create_workspace("Galaxy Shop").await.unwrap().id;
    let web = inbox(store, workspace, "web", Channel::Web).await;
    let mut resolved = Vec::new();
    for name in ["a", "b", "c"] {
        let customer = store
            .create_customer(NewCustomer {
                workspace_id: workspace,
                name: name.into(),
                email: None,
                locale: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap()
            .id;
        let target = MessageTarget::CustomerLatest { inbox_id: web.id, customer_id: customer };
        let id = store
            .append_message(message(target, AuthorKind::Customer, "hello"))
            .await
            .unwrap()
            .conversation
            .id;
        if name != "c" {
            store.transition(id, Transition::Resolve, None).await.unwrap();
            resolved.push(id);
        }
    }
    let open = store.conversations(workspace, tandem_store::ConversationFilter::Open, 10).await;
    let open: Vec<ConversationId> = open.unwrap().iter().map(|c| c.id).collect();
    assert_eq!(open.len(), 1);
    // Nothing is older than a day ago.
    let day_ago = tandem_store::now_millis() - 86_400_000;
    let none = store.delete_resolved_conversations(workspace, day_ago, 10).await.unwrap();
    assert_eq!(none.conversations, 0);
    assert!(store.erasures(workspace).await.unwrap().is_empty(), "nothing to record");
    let later = tandem_store::now_millis() + 1;
    let first = store.delete_resolved_conversations(workspace, later, 1).await.unwrap();
    assert_eq!((first.kind, first.conversations), (ErasureKind::Retention, 1));
    let second = store.delete_resolved_conversations(workspace, later, 1).await.unwrap();
    assert_eq!(second.conversations, 1);
    let third = store.delete_resolved_conversations(workspace, later, 1).await.unwrap();
    assert_eq!(third.conversations, 0);
    for id in resolved {
        assert!(store.conversation(id).await.unwrap().is_none());
    }
    assert!(store.conversation(open[0]).await.unwrap().is_some(), "open ones stay");
    assert_eq!(store.erasures(workspace).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_resolved_conversations_in_batches_and_keeps_the_rest() {
    retention(crate::sqlite_harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retention_deletes_old_resolved_conversations_in_batches_and_keeps_the_rest() {
    let Some(harness) = crate::postgres().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    retention(harness).await;
}
