//! The storage test suite. Every test is written once against `Arc<dyn Store>`; the
//! `backend_suite!` macro instantiates the whole suite for a backend. SQLite runs always;
//! PostgreSQL runs when `TANDEM_TEST_POSTGRES` names a server (`.ci/run` sets it), each test
//! on a database of its own that is dropped afterwards. (How the SQLite writer isolates
//! a job whose savepoint fails, or that panics, from the rest of its group is tested beside the
//! writer, in `src/sqlite/engine.rs`, where those failures can be injected.)

mod audit;
mod backup;
mod nodes;
mod privacy;
mod suite;

use std::sync::Arc;

use tandem_store::testing::TestDatabase;
use tandem_store::{PostgresConfig, PostgresStore, SqliteConfig, SqliteStore, Store};

/// A store and whatever keeps it alive (a temporary directory).
pub struct Harness {
    pub store: Arc<dyn Store>,
    pub reopen: Box<dyn Fn() -> Arc<dyn Store> + Send + Sync>,
    /// The SQLite file, for tests that look through every table of the schema.
    pub database: Option<std::path::PathBuf>,
    _guard: Box<dyn std::any::Any + Send + Sync>,
}

pub async fn sqlite() -> Option<Harness> {
    Some(sqlite_harness())
}

pub fn sqlite_harness() -> Harness {
    let directory = tempfile::tempdir().expect("temporary directory");
    let config = SqliteConfig::new(directory.path().join("tandem.db"));
    let store = SqliteStore::open(&config).expect("open sqlite");
    let first = store.clone();
    let database = Some(config.path.clone());
    Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            first.close();
            Arc::new(SqliteStore::open(&config).expect("reopen sqlite"))
        }),
        database,
        _guard: Box::new(directory),
    }
}

pub use tandem_store::testing::postgres_server;

/// A PostgreSQL store on a new database of the server `TANDEM_TEST_POSTGRES` names; `None`
/// when it names none.
pub async fn postgres() -> Option<Harness> {
    let server = postgres_server()?;
    let database = TestDatabase::create(&server).await;
    let config = PostgresConfig::new(database.url.clone());
    let store = PostgresStore::open(&config).await.expect("open postgres");
    let first = store.clone();
    Some(Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            first.close();
            let config = config.clone();
            let reopened = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(PostgresStore::open(&config))
            });
            Arc::new(reopened.expect("reopen postgres"))
        }),
        database: None,
        _guard: Box::new(database),
    })
}

macro_rules! backend_suite {
    ($backend:ident: $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(harness) = crate::$backend().await else {
                        eprintln!("skipped: TANDEM_TEST_POSTGRES is not set");
                        return;
                    };
                    crate::suite::$test(harness).await;
                }
            )*
        }
    };
}

macro_rules! both_backends {
    ($($test:ident),* $(,)?) => {
        backend_suite!(sqlite: $($test),*);
        backend_suite!(postgres: $($test),*);
    };
}

both_backends!(
    migrations_reach_the_latest_version,
    merging_two_customers_moves_their_conversations_and_undo_restores_them,
    retried_send_with_same_client_msg_id_is_stored_once,
    suggestion_uses_are_counted_once_per_reply_of_the_conversation,
    handled_conversations_and_suggestion_decisions_are_kept,
    seq_is_gapless_and_ordered_under_concurrent_writers,
    data_survives_a_restart,
    customer_latest_creates_one_conversation_and_reuses_it,
    illegal_transition_is_refused_and_changes_nothing,
    transition_records_system_message_and_assignee,
    assigning_to_an_inactive_or_unknown_agent_fails,
    customer_message_reopens_a_resolved_conversation,
    change_feed_follows_commit_order,
    a_failing_write_does_not_spoil_its_group,
    duplicate_user_email_is_a_conflict,
    sessions_expire_and_end_when_user_is_deactivated,
    api_tokens_are_listed_revoked_touched_and_end_with_a_password_when_asked,
    conversation_filters_and_counts,
    conversations_are_listed_by_channel,
    answer_settings_and_article_channels_are_kept,
    settings_keep_their_first_value,
    bot_reply_is_refused_once_a_person_owns_the_conversation,
    articles_are_saved_by_key_and_publishing_keeps_versions,
    a_failed_import_saves_nothing,
    routing_record_follows_the_owner_and_packets_are_kept,
    escalation_policy_agent_and_queue_settings_are_kept,
    webhook_outbox_is_written_with_the_change_it_reports,
    webhook_deliveries_are_leased_retried_and_survive_a_restart,
    webhook_payloads_carry_every_customer_field,
    a_resolution_stores_its_wrapup_and_the_event_carries_it,
    the_webhook_endpoint_limit_holds_under_concurrent_creates,
    verified_customers_are_one_per_external_id,
    inbox_identity_secrets_are_random_and_rotate,
    workspace_settings_are_kept_per_workspace_and_key,
    llm_usage_adds_up_a_workspaces_model_calls_since_a_time,
    conversation_facts_follow_every_change_in_its_transaction,
    imported_history_is_all_or_nothing_and_idempotent,
    insight_alerts_are_raised_once_and_announced,
    conversation_texts_are_each_conversations_opening,
    a_bot_turns_action_and_model_reply_are_audited_with_the_reply,
    an_inbox_endpoint_hears_its_inbox_in_order,
    a_new_conversation_target_starts_another_conversation,
    identities_find_or_create_one_customer_under_concurrency,
    merging_moves_identities_and_undo_moves_them_back,
    a_merged_away_holder_is_found_as_the_kept_customer,
    inbox_settings_round_trip_and_channel_inboxes_filter,
    attachments_are_stored_with_their_conversation,
    a_reply_threads_into_the_conversation_of_the_message_it_names,
    a_claimed_delivery_of_an_unbound_endpoint_names_no_inbox,
);
