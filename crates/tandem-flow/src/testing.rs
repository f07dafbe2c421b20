//! A small world for tests of the flow and of the engines behind it: a fresh SQLite store with
//! a workspace, a web inbox, a customer and an agent. Compiled only with the `testing` feature.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tandem_domain::{Channel, ConversationState, Customer, Inbox, Locale, Role, User};
use tandem_store::{NewCustomer, NewInbox, NewUser, SqliteConfig, SqliteStore, Store};

use crate::CustomerSend;

pub struct World {
    pub store: Arc<dyn Store>,
    pub inbox: Inbox,
    pub customer: Customer,
    pub agent: User,
    _directory: tempfile::TempDir,
}

impl World {
    /// The database file, for a second store opened on it (as another process would).
    pub fn database_path(&self) -> std::path::PathBuf {
        self._directory.path().join("t.db")
    }
}

pub async fn world() -> World {
    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("t.db"))).unwrap());
    let workspace = store.create_workspace("Shop").await.unwrap().id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "Web".into(),
            channel: Channel::Web,
            public_key: "pk".into(),
            bot_name: "小河".into(),
        })
        .await
        .unwrap();
    let customer = store
        .create_customer(NewCustomer {
            workspace_id: workspace,
            name: "访客".into(),
            email: None,
            locale: Some(Locale::Zh),
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let agent = store
        .create_user(NewUser {
            workspace_id: workspace,
            email: "a@example.com".into(),
            display_name: "王芳".into(),
            role: Role::Agent,
            locale: Locale::Zh,
            password_hash: "x".into(),
        })
        .await
        .unwrap();
    World { store, inbox, customer, agent, _directory: directory }
}

pub fn send(world: &World, body: &str) -> CustomerSend {
    CustomerSend {
        inbox: world.inbox.clone(),
        customer: world.customer.clone(),
        client_msg_id: None,
        body: body.into(),
    }
}

/// Waits until the conversation has `count` messages.
pub async fn wait_for_messages(
    world: &World,
    conversation: tandem_domain::ConversationId,
    count: usize,
) -> Vec<tandem_domain::Message> {
    for _ in 0..200 {
        let messages = world.store.messages(conversation, 0, 100).await.unwrap();
        if messages.len() >= count {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("conversation never reached {count} messages");
}

/// Waits until the conversation waits for a person.
pub async fn wait_until_queued(
    store: &Arc<dyn Store>,
    conversation: tandem_domain::ConversationId,
) {
    for _ in 0..100 {
        if store.conversation(conversation).await.unwrap().unwrap().state
            == ConversationState::Queued
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("conversation {conversation} was not handed to a person");
}
