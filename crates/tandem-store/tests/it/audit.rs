//! The audit log: entries are listed newest first through every filter and paged by id, and
//! the database itself refuses to change or delete one.

use tandem_store::{AuditActorKind, AuditFilter, NewAuditEntry};

use crate::{Harness, TestDatabase};

fn entry(
    workspace: tandem_domain::WorkspaceId,
    kind: AuditActorKind,
    name: &str,
    action: &str,
    target: &str,
) -> NewAuditEntry {
    NewAuditEntry {
        workspace_id: workspace,
        actor_kind: kind,
        actor_id: Some("7".into()),
        actor_name: name.into(),
        action: action.into(),
        target: target.into(),
        detail: serde_json::json!({ "route": "/knowledge/{key}" }),
        ip: Some("203.0.113.9".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_audit_entries_are_filtered_paged_and_append_only() {
    audit_entries_are_filtered_paged_and_append_only(crate::sqlite_harness()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_audit_entries_are_filtered_paged_and_append_only() {
    let Some(harness) = crate::postgres().await else {
        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
        return;
    };
    audit_entries_are_filtered_paged_and_append_only(harness).await;
}

async fn audit_entries_are_filtered_paged_and_append_only(harness: Harness) {
    let store = harness.store.clone();
    let workspace = store.create_workspace("Shop").await.unwrap().id;
    let other = store.create_workspace("Other").await.unwrap().id;
    let first = store
        .append_audit(entry(
            workspace,
            AuditActorKind::User,
            "Ada Admin",
            "knowledge.save",
            "article:returns",
        ))
        .await
        .unwrap();
    store
        .append_audit(entry(
            workspace,
            AuditActorKind::Token,
            "ci deploy",
            "POST /api/v1/webhooks",
            "",
        ))
        .await
        .unwrap();
    store
        .append_audit(entry(
            workspace,
            AuditActorKind::Bot,
            "Bot",
            "conversation.handoff",
            "conversation:3",
        ))
        .await
        .unwrap();
    store
        .append_audit(entry(other, AuditActorKind::User, "Eve", "knowledge.save", "article:x"))
        .await
        .unwrap();

    let all = store.audit(workspace, AuditFilter::default(), 10, None).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["conversation.handoff", "POST /api/v1/webhooks", "knowledge.save"]);
    assert_eq!(all[2], first);
    assert_eq!(all[2].ip.as_deref(), Some("203.0.113.9"));

    let page = store.audit(workspace, AuditFilter::default(), 2, None).await.unwrap();
    let next = store.audit(workspace, AuditFilter::default(), 2, Some(page[1].id)).await.unwrap();
    assert_eq!(next.iter().map(|entry| entry.id).collect::<Vec<_>>(), [first.id]);

    let by = |filter: AuditFilter| {
        let store = store.clone();
        async move {
            store
                .audit(workspace, filter, 10, None)
                .await
                .unwrap()
                .into_iter()
                .map(|entry| entry.action)
                .collect::<Vec<_>>()
        }
    };
    let actor = AuditFilter { actor: Some("ada".into()), ..AuditFilter::default() };
    assert_eq!(by(actor).await, ["knowledge.save"]);
    let kind = AuditFilter { actor_kind: Some(AuditActorKind::Token), ..AuditFilter::default() };
    assert_eq!(by(kind).await, ["POST /api/v1/webhooks"]);
    let prefix =
        AuditFilter { action_prefix: Some("conversation.".into()), ..AuditFilter::default() };
    assert_eq!(by(prefix).await, ["conversation.handoff"]);
    let text = AuditFilter { text: Some("RETURNS".into()), ..AuditFilter::default() };
    assert_eq!(by(text).await, ["knowledge.save"]);
    // `%` and `_` are taken literally.
    let wildcard = AuditFilter { text: Some("%".into()), ..AuditFilter::default() };
    assert!(by(wildcard).await.is_empty());
    let later = AuditFilter { from: Some(first.at + 1_000_000), ..AuditFilter::default() };
    assert!(by(later).await.is_empty());
    let earlier = AuditFilter { to: Some(first.at + 1_000_000), ..AuditFilter::default() };
    assert_eq!(by(earlier).await.len(), 3);

    // Append-only: the database refuses to rewrite or remove an entry, whoever asks.
    match &harness.database {
        Some(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            let update = connection.execute("UPDATE audit_log SET actor_name = 'someone else'", []);
            assert!(update.unwrap_err().to_string().contains("append-only"));
            let delete = connection.execute("DELETE FROM audit_log", []);
            assert!(delete.unwrap_err().to_string().contains("append-only"));
            let count: i64 = connection
                .query_row("SELECT count(*) FROM audit_log", [], |row| row.get(0))
                .unwrap();
            assert_eq!(count, 4);
        }
        None => {
            let database = harness
                ._guard
                .downcast_ref::<TestDatabase>()
                .expect("a PostgreSQL harness keeps its test database");
            let (client, connection) =
                tokio_postgres::connect(&database.url, tokio_postgres::NoTls).await.unwrap();
            let driver = tokio::spawn(connection);
            let refused = |result: Result<u64, tokio_postgres::Error>| {
                let error = result.unwrap_err();
                let message = error.as_db_error().map(|error| error.message().to_owned());
                assert!(
                    message.is_some_and(|message| message.contains("append-only")),
                    "{error:?}"
                );
            };
            refused(client.execute("UPDATE audit_log SET actor_name = 'someone else'", &[]).await);
            refused(client.execute("DELETE FROM audit_log", &[]).await);
            refused(client.execute("TRUNCATE audit_log", &[]).await);
            let count: i64 =
                client.query_one("SELECT count(*) FROM audit_log", &[]).await.unwrap().get(0);
            assert_eq!(count, 4);
            drop(client);
            let _ = driver.await;
        }
    }
}
