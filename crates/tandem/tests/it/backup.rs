//! `tandem backup` and `tandem restore`: a backup taken while messages keep being written holds
//! everything committed before it started and is consistent, restores into a fresh directory,
//! and restoring refuses what would lose or break data.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tandem_domain::{AuthorKind, ConversationId, WorkspaceId};
use tandem_store::{
    ConversationFilter, MessageTarget, NewCustomer, NewMessage, SqliteConfig, SqliteStore, Store,
};

/// Runs `tandem` with `arguments`; its exit success, standard output and standard error.
pub(crate) fn tandem(arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(arguments)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("tandem runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn text(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

fn open(data: &Path) -> SqliteStore {
    SqliteStore::open(&SqliteConfig::new(data.join("tandem.db"))).expect("the store opens")
}

/// A customer's message as the relay stores it (no bot turn run for it).
pub(crate) fn message(target: MessageTarget, body: String) -> NewMessage {
    NewMessage {
        target,
        author_kind: AuthorKind::Customer,
        author_id: None,
        author_name: Some("Backup test".into()),
        body,
        client_msg_id: None,
        reopen_if_resolved: true,
        only_while_bot_owns: false,
        meta: None,
        decision: None,
        sentiment: None,
    }
}

/// Each conversation's messages' bodies, oldest first.
pub(crate) async fn conversations(
    store: &dyn Store,
    workspace: WorkspaceId,
) -> BTreeMap<ConversationId, Vec<String>> {
    let mut all = BTreeMap::new();
    for conversation in
        store.conversations(workspace, ConversationFilter::All, 10_000).await.unwrap()
    {
        let messages = store.messages(conversation.id, 0, 1_000_000).await.unwrap();
        all.insert(conversation.id, messages.into_iter().map(|message| message.body).collect());
    }
    all
}

pub(crate) async fn article_keys(store: &dyn Store, workspace: WorkspaceId) -> Vec<String> {
    store.articles(workspace).await.unwrap().into_iter().map(|article| article.key).collect()
}

/// A data directory with the demo workspace and one more conversation of `messages` messages.
pub(crate) async fn seeded(
    data: &Path,
    messages: usize,
) -> (SqliteStore, WorkspaceId, ConversationId) {
    let sqlite = open(data);
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    tandem_demo::seed(&store).await.expect("the demo seeds");
    let workspace = store.workspaces().await.unwrap()[0].id;
    let inbox = store.inboxes(workspace).await.unwrap()[0].id;
    let customer = store
        .create_customer(NewCustomer {
            workspace_id: workspace,
            name: "Backup test".into(),
            email: None,
            locale: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let target = MessageTarget::CustomerLatest { inbox_id: inbox, customer_id: customer.id };
    let conversation =
        store.append_message(message(target, "0".into())).await.unwrap().conversation.id;
    for number in 1..messages {
        let target = MessageTarget::Conversation(conversation);
        store.append_message(message(target, number.to_string())).await.unwrap();
    }
    (sqlite, workspace, conversation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_messages_are_written_restores_into_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (data, file, fresh) =
        (dir.path().join("data"), dir.path().join("tandem.backup"), dir.path().join("fresh"));
    let (sqlite, workspace, busy) = seeded(&data, 1).await;

    // A writer keeps appending numbered messages to one conversation, as a server would.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (sqlite.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut written = 1;
            while !stop.load(Ordering::Relaxed) {
                let target = MessageTarget::Conversation(busy);
                store.append_message(message(target, written.to_string())).await.unwrap();
                written += 1;
            }
            written
        })
    };
    while sqlite.messages(busy, 0, 100).await.unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = conversations(&sqlite, workspace).await;
    let arguments = ["backup", "--data-dir", text(&data), "--out", text(&file)].map(str::to_owned);
    let (backed_up, output, errors) = tokio::task::spawn_blocking(move || {
        tandem(&arguments.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let after = conversations(&sqlite, workspace).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(backed_up, "{errors}");
    assert!(output.contains("pages") && output.contains("schema version"), "{output}");
    assert!(after[&busy].len() > before[&busy].len(), "the writer kept writing during the backup");

    let (restored, output, errors) =
        tandem(&["restore", "--from", text(&file), "--data-dir", text(&fresh)]);
    assert!(restored, "{errors}");
    assert!(output.contains("restored"), "{output}");
    let copy = open(&fresh);
    assert_eq!(copy.schema_version().await.unwrap(), SqliteStore::latest_schema_version());
    let copied = conversations(&copy, workspace).await;
    assert_eq!(
        copied.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same conversations"
    );
    for (conversation, messages) in &copied {
        // Everything committed before the backup started, nothing after it ended, and in
        // between a prefix: the copy is one moment of the database.
        assert!(messages.len() >= before[conversation].len(), "{conversation:?}");
        assert!(messages.len() <= after[conversation].len(), "{conversation:?}");
        assert_eq!(messages[..], after[conversation][..messages.len()], "{conversation:?}");
    }
    let numbers: Vec<String> = (0..copied[&busy].len()).map(|n| n.to_string()).collect();
    assert_eq!(copied[&busy], numbers, "no message missing in the middle");
    assert!(copied[&busy].len() < written, "the backup holds none written after it");
    let keys = article_keys(&copy, workspace).await;
    assert!(!keys.is_empty(), "the demo has articles");
    assert_eq!(keys, article_keys(&sqlite, workspace).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_store_in_use_or_not_empty_and_a_damaged_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (data, file, target) =
        (dir.path().join("data"), dir.path().join("tandem.backup"), dir.path().join("target"));
    let (source, workspace, _) = seeded(&data, 3).await;
    let (backed_up, _, errors) =
        tandem(&["backup", "--data-dir", text(&data), "--out", text(&file)]);
    assert!(backed_up, "{errors}");
    let expected = conversations(&source, workspace).await;

    // The target holds a database of its own, open as a server would keep it.
    let other = open(&target);
    other.create_workspace("Other").await.unwrap();
    let restore = |force: bool| {
        let mut arguments = vec!["restore", "--from", text(&file), "--data-dir", text(&target)];
        arguments.extend(force.then_some("--force"));
        tandem(&arguments)
    };
    let (restored, _, errors) = restore(false);
    assert!(!restored);
    assert!(errors.contains("already holds a database; pass --force to replace it"), "{errors}");
    let (restored, _, errors) = restore(true);
    assert!(!restored);
    assert!(errors.contains("is in use by another process"), "{errors}");
    assert_eq!(other.workspaces().await.unwrap()[0].name, "Other", "left as it was");
    other.close();
    drop(other);

    // Damaged backups are refused before anything is touched.
    let garbage = dir.path().join("garbage.backup");
    std::fs::write(&garbage, vec![b'x'; 64 * 1024]).unwrap();
    let damaged = dir.path().join("damaged.backup");
    let mut bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 40 * 4096, "the demo database has enough pages to damage some");
    bytes[8 * 4096..40 * 4096].fill(0xA5);
    std::fs::write(&damaged, bytes).unwrap();
    for (backup, says) in [(&garbage, "is not a Tandem backup"), (&damaged, "is damaged")] {
        let fresh = dir.path().join("never");
        let (restored, _, errors) =
            tandem(&["restore", "--from", text(backup), "--data-dir", text(&fresh), "--force"]);
        assert!(!restored);
        assert!(errors.contains(says), "{errors}");
        assert!(!fresh.exists(), "nothing is created for a refused backup");
        let (restored, _, errors) =
            tandem(&["restore", "--from", text(backup), "--data-dir", text(&target), "--force"]);
        assert!(!restored);
        assert!(errors.contains(says), "{errors}");
    }
    let check = open(&target);
    assert_eq!(check.workspaces().await.unwrap()[0].name, "Other", "left as it was");
    check.close();
    drop(check);

    // Stopped, the server's database is replaced on request.
    let (restored, output, errors) = restore(true);
    assert!(restored, "{errors}");
    assert!(output.contains("replacing its database"), "{output}");
    let copy = open(&target);
    assert_eq!(conversations(&copy, workspace).await, expected);
}
