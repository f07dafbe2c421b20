//! `tandem migrate-store`: an embedded installation moves to PostgreSQL whole, once.

use std::sync::Arc;

use tandem_store::testing::{TestDatabase, postgres_server};
use tandem_store::{MessageTarget, PostgresConfig, PostgresStore, Store};

use crate::backup::{article_keys, conversations, message, seeded, tandem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_installation_moves_to_postgres_whole_and_once() {
    let Some(server) = postgres_server() else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    let database = TestDatabase::create(&server).await;
    let directory = tempfile::tempdir().unwrap();
    let data = directory.path().join("data");
    let (sqlite, workspace, conversation) = seeded(&data, 25).await;
    let before: Arc<dyn Store> = Arc::new(sqlite.clone());
    let messages = conversations(before.as_ref(), workspace).await;
    let articles = article_keys(before.as_ref(), workspace).await;
    let users = before.users(workspace).await.unwrap();
    let actions = before.actions(workspace).await.unwrap();
    let audit = before.audit(workspace, Default::default(), 1_000, None).await.unwrap();
    sqlite.close();
    drop(before);

    let from = format!("sqlite:{}", data.display());
    let (ok, out, err) = tandem(&["migrate-store", "--from", &from, "--to", &database.url]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("every count matches"), "{out}");
    assert!(out.contains("messages"), "a line per table: {out}");

    let (ok, out, err) = tandem(&["migrate", "--store", &database.url]);
    assert!(ok, "{err}");
    assert!(out.contains("schema version 2 (this build writes 2)"), "{out}");
    let moved = PostgresStore::open(&PostgresConfig::new(database.url.clone())).await.unwrap();
    let after: Arc<dyn Store> = Arc::new(moved.clone());
    assert_eq!(conversations(after.as_ref(), workspace).await, messages);
    assert_eq!(article_keys(after.as_ref(), workspace).await, articles);
    assert_eq!(after.users(workspace).await.unwrap(), users);
    assert_eq!(after.actions(workspace).await.unwrap(), actions);
    assert_eq!(after.audit(workspace, Default::default(), 1_000, None).await.unwrap(), audit);
    let (user, _) = after.user_credentials(&users[0].email).await.unwrap().expect("signs in");
    assert_eq!(user.id, users[0].id);

    // New rows continue after the copied ids and seqs.
    let stored = after.messages(conversation, 0, 1_000).await.unwrap();
    let appended = after
        .append_message(message(MessageTarget::Conversation(conversation), "after the move".into()))
        .await
        .unwrap();
    assert_eq!(appended.message.seq, stored.last().unwrap().seq + 1);
    assert!(appended.message.id > stored.last().unwrap().id);
    moved.close();

    // Once: a database that already holds Tandem data is refused, and keeps what it has.
    let (ok, _, err) = tandem(&["migrate-store", "--from", &from, "--to", &database.url]);
    assert!(!ok);
    assert!(err.contains("already holds Tandem data"), "{err}");
    let (ok, _, err) = tandem(&["migrate-store", "--from", "tandem-data", "--to", &database.url]);
    assert!(!ok);
    assert!(err.contains("--from must be sqlite:"), "{err}");
    let again = PostgresStore::open(&PostgresConfig::new(database.url.clone())).await.unwrap();
    let messages_after = after_move(&again, workspace).await;
    assert_eq!(messages_after, messages.values().map(Vec::len).sum::<usize>() + 1);
    again.close();
}

async fn after_move(store: &PostgresStore, workspace: tandem_domain::WorkspaceId) -> usize {
    conversations(store, workspace).await.values().map(Vec::len).sum()
}
