//! Several nodes on one PostgreSQL database: two `PostgresStore`s opened on it stand for two
//! Tandem processes. Skipped unless `TANDEM_TEST_POSTGRES` names a server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tandem_domain::{AuthorKind, Channel, ConversationId, WorkspaceId};
use tandem_store::testing::{TestDatabase, postgres_server};
use tandem_store::{
    Change, MessageTarget, NewCustomer, NewInbox, NewMessage, PostgresConfig, PostgresStore, Store,
};

/// Two stores on one new database, or `None` without a server.
async fn two_nodes() -> Option<(TestDatabase, Arc<dyn Store>, Arc<dyn Store>)> {
    let server = postgres_server()?;
    let database = TestDatabase::create(&server).await;
    let config = PostgresConfig::new(database.url.clone());
    let first = PostgresStore::open(&config).await.expect("node A opens");
    let second = PostgresStore::open(&config).await.expect("node B opens");
    Some((database, Arc::new(first), Arc::new(second)))
}

async fn conversation(store: &Arc<dyn Store>) -> (WorkspaceId, ConversationId) {
    let workspace = store.create_workspace("Nodes").await.unwrap().id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "Web".into(),
            channel: Channel::Web,
            public_key: "pk_nodes".into(),
            bot_name: "Bot".into(),
        })
        .await
        .unwrap();
    let customer = store
        .create_customer(NewCustomer {
            workspace_id: workspace,
            name: "Lin".into(),
            email: None,
            locale: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let target = MessageTarget::CustomerLatest { inbox_id: inbox.id, customer_id: customer.id };
    let first = store.append_message(said(target, "hello", None)).await.unwrap();
    (workspace, first.conversation.id)
}

fn said(target: MessageTarget, body: &str, client_msg_id: Option<String>) -> NewMessage {
    NewMessage {
        target,
        author_kind: AuthorKind::Customer,
        author_id: None,
        author_name: None,
        body: body.into(),
        client_msg_id,
        reopen_if_resolved: true,
        only_while_bot_owns: false,
        meta: None,
        decision: None,
        sentiment: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_on_two_nodes_keep_seq_gapless_and_each_node_hears_both_in_commit_order() {
    let Some((_database, a, b)) = two_nodes().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let (_, conversation) = conversation(&a).await;
    let mut heard_on_a = a.subscribe();
    let mut heard_on_b = b.subscribe();
    let mut writers = Vec::new();
    for writer in 0..8 {
        let store = Arc::clone(if writer % 2 == 0 { &a } else { &b });
        writers.push(tokio::spawn(async move {
            for index in 0..25 {
                let target = MessageTarget::Conversation(conversation);
                let body = format!("{writer}/{index}");
                // Every message is sent twice, as a retry would: stored once.
                let id = Some(format!("w{writer}-{index}"));
                let first = store.append_message(said(target, &body, id.clone())).await.unwrap();
                let retry = store.append_message(said(target, &body, id)).await.unwrap();
                assert!(first.created && !retry.created);
                assert_eq!(first.message.id, retry.message.id);
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let stored = a.messages(conversation, 0, 1_000).await.unwrap();
    let seqs: Vec<i64> = stored.iter().map(|message| message.seq).collect();
    assert_eq!(seqs, (1..=201).collect::<Vec<_>>());
    for heard in [&mut heard_on_a, &mut heard_on_b] {
        let mut seen = Vec::new();
        while seen.last() != Some(&201) {
            let change = tokio::time::timeout(Duration::from_secs(10), heard.recv())
                .await
                .expect("every message reaches every node")
                .unwrap();
            // The first message may still be on its way to the other node when it subscribes.
            if let Change::Message { message, .. } = change
                && message.seq > 1
            {
                seen.push(message.seq);
            }
        }
        assert_eq!(seen, (2..=201).collect::<Vec<_>>(), "in commit order, once each");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_has_one_holder_until_it_expires_or_is_given_up() {
    let Some((_database, a, b)) = two_nodes().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let racers: Vec<_> = (0..10)
        .map(|node| {
            let store = Arc::clone(if node % 2 == 0 { &a } else { &b });
            tokio::spawn(async move {
                store.lease("router:1", &format!("node-{node}"), 1_000, 5_000).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1, "one holder at a time");
    let holder = ["node-0", "node-1", "node-2", "node-3", "node-4", "node-5", "node-6"];
    let mut held_by = None;
    for name in holder.iter().chain(["node-7", "node-8", "node-9"].iter()) {
        if a.lease("router:1", name, 2_000, 5_000).await.unwrap() {
            held_by = Some(*name);
        }
    }
    let held_by = held_by.expect("the holder renews its lease");
    assert!(!b.lease("router:1", "node-x", 5_999, 5_000).await.unwrap(), "still running");
    assert!(b.lease("router:1", "node-x", 7_000, 5_000).await.unwrap(), "expired: taken over");
    assert!(!a.lease("router:1", held_by, 7_001, 5_000).await.unwrap());
    b.release_lease("router:1", "node-x").await.unwrap();
    assert!(a.lease("router:1", held_by, 7_002, 5_000).await.unwrap(), "given up: free");
    assert!(a.lease("router:2", "node-x", 7_002, 5_000).await.unwrap(), "leases are per name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_nodes() {
    let Some((_database, a, b)) = two_nodes().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    // The wall clock's time: each node's feed prunes buckets idle for ten minutes by it.
    let now = tandem_store::now_millis();
    let mut allowed = 0;
    for request in 0..10 {
        let store = if request % 2 == 0 { &a } else { &b };
        let taken = store.take_token("logins:10.0.0.1", 4, 60, now).await.unwrap();
        if taken.expect("a shared store limits").is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 4, "the burst counts requests on both nodes");
    let refused = b.take_token("logins:10.0.0.1", 4, 60, now).await.unwrap().unwrap();
    assert_eq!(refused, Err(1), "one a second at 60 a minute");
    let later = a.take_token("logins:10.0.0.1", 4, 60, now + 1_000).await.unwrap().unwrap();
    assert_eq!(later, Ok(()), "refilled after a second");
    let other = a.take_token("logins:10.0.0.2", 4, 60, now).await.unwrap().unwrap();
    assert_eq!(other, Ok(()), "keys are independent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_claimed_by_one_node_each() {
    let Some((_database, a, b)) = two_nodes().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let (workspace, _) = conversation(&a).await;
    let endpoint = a
        .create_webhook_endpoint(tandem_store::NewWebhookEndpoint {
            workspace_id: workspace,
            url: "https://example.com/hook".into(),
            description: String::new(),
            events: vec![tandem_domain::WebhookEventType::MessageCreated],
            active: true,
            secret: "whsec_nodes".into(),
            inbox_id: None,
        })
        .await
        .unwrap();
    for _ in 0..60 {
        a.enqueue_webhook_test(endpoint.id).await.unwrap();
    }
    let claimers: Vec<_> = (0..6)
        .map(|claimer| {
            let store = Arc::clone(if claimer % 2 == 0 { &a } else { &b });
            tokio::spawn(async move {
                let mut claimed = Vec::new();
                loop {
                    let due = store.claim_webhooks(i64::MAX / 2, i64::MAX, 7).await.unwrap();
                    if due.is_empty() {
                        return claimed;
                    }
                    claimed.extend(due.into_iter().map(|due| due.delivery.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!((count, all.len()), (60, 60), "each delivery claimed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_feed_connection_catches_up_from_the_table() {
    let Some((database, a, b)) = two_nodes().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let (workspace, conversation) = conversation(&a).await;
    let mut heard_on_b = b.subscribe();
    // Cut every listening connection (both nodes'): what is committed meanwhile is announced
    // to nobody, and each node must find it in the table when it reconnects.
    let (admin, connection) =
        tokio_postgres::connect(&database.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'tandem change feed'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), 2, "one listening connection per node");
    for index in 0..5 {
        let target = MessageTarget::Conversation(conversation);
        a.append_message(said(target, &format!("while cut {index}"), None)).await.unwrap();
    }
    a.save_answer_settings(workspace, Default::default()).await.unwrap();
    let mut seen = Vec::new();
    let mut knowledge = false;
    while seen.len() < 5 || !knowledge {
        let change = tokio::time::timeout(Duration::from_secs(15), heard_on_b.recv())
            .await
            .expect("node B catches up after reconnecting")
            .unwrap();
        match change {
            Change::Message { message, .. } if message.seq > 1 => seen.push(message.seq),
            Change::Knowledge(changed) => knowledge = changed == workspace,
            _ => {}
        }
    }
    assert_eq!(seen, [2, 3, 4, 5, 6], "each once, in order");
    assert!(b.feed_connected(), "connected again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_attachments_and_inbox_settings_move_to_postgres() {
    let Some(server) = postgres_server() else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let harness = crate::sqlite_harness();
    let store = &harness.store;
    let workspace = store.create_workspace("Moving").await.unwrap().id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "Mail".into(),
            channel: Channel::Email,
            public_key: "pk_mail".into(),
            bot_name: "Bot".into(),
        })
        .await
        .unwrap();
    let settings = serde_json::json!({"imap": {"host": "imap.example.com"}});
    store.set_inbox_settings(inbox.id, settings.clone()).await.unwrap();
    let customer = store
        .identified_customer(tandem_store::IdentifiedCustomer {
            workspace_id: workspace,
            kind: tandem_domain::IdentityKind::Email,
            value: "ada@example.com".into(),
            verified: true,
            name: "Ada".into(),
            email: Some("ada@example.com".into()),
            locale: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let target = MessageTarget::NewConversation { inbox_id: inbox.id, customer_id: customer.id };
    let conversation = store
        .append_message(NewMessage {
            target,
            author_kind: AuthorKind::Customer,
            author_id: None,
            author_name: None,
            body: "see attached".into(),
            client_msg_id: Some("<a@example.com>".into()),
            reopen_if_resolved: true,
            only_while_bot_owns: false,
            meta: None,
            decision: None,
            sentiment: None,
        })
        .await
        .unwrap()
        .conversation;
    let attachment = store
        .store_attachment(tandem_store::NewAttachment {
            conversation_id: conversation.id,
            filename: "receipt.pdf".into(),
            content_type: "application/pdf".into(),
            data: vec![0, 1, 2, 255],
        })
        .await
        .unwrap();
    (harness.reopen)().schema_version().await.unwrap();
    let path = harness.database.clone().unwrap();

    let database = TestDatabase::create(&server).await;
    let config = PostgresConfig::new(database.url.clone());
    let report = tandem_store::copy_sqlite_to_postgres(&path, &config).await.unwrap();
    let copied = |name: &str| report.tables.iter().find(|table| table.name == name).unwrap().rows;
    assert_eq!((copied("customer_identities"), copied("attachments")), (1, 1));
    let moved = PostgresStore::open(&config).await.unwrap();
    let identities = moved.customer_identities(customer.id).await.unwrap();
    assert_eq!(identities.len(), 1);
    assert!(identities[0].verified);
    assert_eq!(moved.attachment(attachment.id).await.unwrap().unwrap().1, [0, 1, 2, 255]);
    assert_eq!(moved.inbox_settings(inbox.id).await.unwrap(), Some(settings));
    let ids = ["<a@example.com>".to_owned()];
    let threaded = moved.conversation_by_client_msg_ids(inbox.id, &ids).await.unwrap();
    assert_eq!(threaded.unwrap().id, conversation.id);
    moved.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_customers_with_an_email_get_it_as_an_identity_and_the_first_one_wins() {
    let Some(server) = postgres_server() else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let database = TestDatabase::create(&server).await;
    let (client, connection) =
        tokio_postgres::connect(&database.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    // A database at version 1, as the first PostgreSQL release left it.
    client.batch_execute(include_str!("../../src/postgres/schema.sql")).await.unwrap();
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 0);
             INSERT INTO workspaces (id, name, created_at) VALUES (1, 'Shop', 0), (2, 'Other', 0);
             INSERT INTO customers (id, workspace_id, name, email, attributes, created_at) VALUES
             (1, 1, 'Ada', ' Ada@Example.com', '{}', 10),
             (2, 1, 'Ada again', 'ada@example.com', '{}', 20),
             (3, 1, 'Nobody', NULL, '{}', 30),
             (4, 1, 'Empty', '', '{}', 40),
             (5, 2, 'Ada elsewhere', 'ADA@example.com', '{}', 50);",
        )
        .await
        .unwrap();
    let store = PostgresStore::open(&PostgresConfig::new(database.url.clone())).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), PostgresStore::latest_schema_version());
    let rows = client
        .query(
            "SELECT workspace_id, kind, value, customer_id, verified FROM customer_identities
             ORDER BY workspace_id, customer_id",
            &[],
        )
        .await
        .unwrap();
    let found: Vec<(i64, String, String, i64, bool)> = rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
    let ada = |workspace, customer| {
        (workspace, "email".to_owned(), "ada@example.com".to_owned(), customer, false)
    };
    assert_eq!(found, [ada(1, 1), ada(2, 5)]);
    store.close();
}
