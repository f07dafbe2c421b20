//! The backend-independent storage tests.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tandem_domain::{
    AgentRouting, AuthorKind, Channel, ConversationState, Customer, CustomerCard,
    EscalationOutcome, EscalationPolicy, HandoffPacket, Inbox, Locale, Presence, QueueId,
    QueueRouting, Role, Transition, User, WorkspaceId,
};
use tandem_store::{
    Change, ConversationFilter, Entity, MessageTarget, NewCustomer, NewInbox, NewMessage, NewUser,
    RouteChange, Session, Store, StoreError, TokenOwners, UserUpdate, now_millis,
};

use crate::Harness;

struct World {
    workspace: WorkspaceId,
    inbox: Inbox,
    customer: Customer,
    agent: User,
}

async fn world(store: &Arc<dyn Store>) -> World {
    let workspace = store.create_workspace("Galaxy Shop").await.unwrap().id;
    let inbox = store
        .create_inbox(NewInbox {
            workspace_id: workspace,
            name: "Website".into(),
            channel: Channel::Web,
            public_key: format!("pk_test_{}", workspace.0),
            bot_name: "Xiaohe".into(),
        })
        .await
        .unwrap();
    let customer = store
        .create_customer(NewCustomer {
            workspace_id: workspace,
            name: "李雷".into(),
            email: None,
            locale: Some(Locale::Zh),
            attributes: BTreeMap::from([("tier".into(), "vip".into())]),
        })
        .await
        .unwrap();
    let agent = store.create_user(new_user(workspace, "fang@example.com")).await.unwrap();
    World { workspace, inbox, customer, agent }
}

fn new_user(workspace: WorkspaceId, email: &str) -> NewUser {
    NewUser {
        workspace_id: workspace,
        email: email.into(),
        display_name: "王芳".into(),
        role: Role::Agent,
        locale: Locale::Zh,
        password_hash: "hash".into(),
    }
}

fn customer_message(world: &World, body: &str, client_msg_id: Option<&str>) -> NewMessage {
    NewMessage {
        target: MessageTarget::CustomerLatest {
            inbox_id: world.inbox.id,
            customer_id: world.customer.id,
        },
        author_kind: AuthorKind::Customer,
        author_id: None,
        author_name: Some(world.customer.name.clone()),
        body: body.into(),
        client_msg_id: client_msg_id.map(str::to_owned),
        reopen_if_resolved: true,
        only_while_bot_owns: false,
        meta: None,
        decision: None,
        sentiment: None,
    }
}

pub async fn migrations_reach_the_latest_version(harness: Harness) {
    let version = harness.store.schema_version().await.unwrap();
    let latest = match harness.store.backend() {
        "postgres" => tandem_store::PostgresStore::latest_schema_version(),
        _ => tandem_store::SqliteStore::latest_schema_version(),
    };
    assert_eq!(version, latest);
}

pub async fn retried_send_with_same_client_msg_id_is_stored_once(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let first = store
        .append_message(customer_message(&world, "我的订单到哪了？", Some("c-1")))
        .await
        .unwrap();
    let retry = store
        .append_message(customer_message(&world, "我的订单到哪了？", Some("c-1")))
        .await
        .unwrap();
    assert!(first.created);
    assert!(!retry.created);
    assert_eq!(first.message, retry.message);
    let messages = store.messages(first.conversation.id, 0, 100).await.unwrap();
    assert_eq!(messages.len(), 1);
}

pub async fn suggestion_uses_are_counted_once_per_reply_of_the_conversation(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let first = store.append_message(customer_message(&world, "怎么退货", None)).await.unwrap();
    let conversation = first.conversation.id;
    let used = |message, edited| tandem_store::SuggestionUse {
        message,
        article: "returns".into(),
        edited,
    };
    assert_eq!(store.suggestion_uses(conversation).await.unwrap(), Default::default());
    store.record_suggestion_use(conversation, used(first.message.id, false)).await.unwrap();
    // Recording the same reply again changes nothing.
    store.record_suggestion_use(conversation, used(first.message.id, true)).await.unwrap();
    let other = store.append_message(customer_message(&world, "还有", None)).await.unwrap();
    store.record_suggestion_use(conversation, used(other.message.id, true)).await.unwrap();
    assert_eq!(
        store.suggestion_uses(conversation).await.unwrap(),
        tandem_store::SuggestionUses { sent_unchanged: 1, sent_edited: 1 }
    );
    // A message is recorded only for its own conversation.
    let elsewhere = tandem_domain::ConversationId(conversation.0 + 1000);
    let refused = store.record_suggestion_use(elsewhere, used(other.message.id, false)).await;
    assert!(
        matches!(
            refused,
            Err(tandem_store::StoreError::NotFound(tandem_store::Entity::Conversation))
        ),
        "{refused:?}"
    );
}

pub async fn seq_is_gapless_and_ordered_under_concurrent_writers(harness: Harness) {
    let store = &harness.store;
    let world = Arc::new(world(store).await);
    let conversation =
        store.append_message(customer_message(&world, "hello", None)).await.unwrap().conversation;
    let mut tasks = Vec::new();
    for writer in 0..40 {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            for index in 0..25 {
                let message = NewMessage {
                    target: MessageTarget::Conversation(conversation.id),
                    author_kind: AuthorKind::Agent,
                    author_id: None,
                    author_name: None,
                    body: format!("{writer}/{index}"),
                    client_msg_id: Some(format!("w{writer}-{index}")),
                    reopen_if_resolved: false,
                    only_while_bot_owns: false,
                    meta: None,
                    decision: None,
                    sentiment: None,
                };
                store.append_message(message).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let messages = store.messages(conversation.id, 0, 5000).await.unwrap();
    let seqs: Vec<i64> = messages.iter().map(|message| message.seq).collect();
    assert_eq!(seqs, (1..=1001).collect::<Vec<_>>());
    // Each writer's own messages keep the order it sent them in.
    for writer in 0..40 {
        let mine: Vec<usize> = messages
            .iter()
            .filter_map(|message| message.body.strip_prefix(&format!("{writer}/")))
            .map(|index| index.parse().unwrap())
            .collect();
        assert_eq!(mine, (0..25).collect::<Vec<_>>());
    }
    let conversation = store.conversation(conversation.id).await.unwrap().unwrap();
    assert_eq!(conversation.last_seq, 1001);
}

pub async fn data_survives_a_restart(harness: Harness) {
    let world = world(&harness.store).await;
    let appended = harness
        .store
        .append_message(customer_message(&world, "退货政策是什么？", Some("r-1")))
        .await
        .unwrap();
    let reopened = (harness.reopen)();
    let messages = reopened.messages(appended.conversation.id, 0, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, "退货政策是什么？");
    let customer = reopened.customer(world.customer.id).await.unwrap().unwrap();
    assert_eq!(customer.attributes.get("tier").map(String::as_str), Some("vip"));
    // Sequence numbers continue where they stopped.
    let next = reopened
        .append_message(NewMessage {
            target: MessageTarget::Conversation(appended.conversation.id),
            ..customer_message(&world, "还在吗", None)
        })
        .await
        .unwrap();
    assert_eq!(next.message.seq, 2);
}

pub async fn customer_latest_creates_one_conversation_and_reuses_it(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let first = store.append_message(customer_message(&world, "one", None)).await.unwrap();
    let second = store.append_message(customer_message(&world, "two", None)).await.unwrap();
    assert_eq!(first.conversation.id, second.conversation.id);
    assert_eq!(first.conversation.state, ConversationState::Bot);
    assert_eq!(second.message.seq, 2);
    assert_eq!(second.conversation.preview, "two");
    let latest =
        store.latest_conversation(world.inbox.id, world.customer.id).await.unwrap().unwrap();
    assert_eq!(latest.id, first.conversation.id);
}

pub async fn illegal_transition_is_refused_and_changes_nothing(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let conversation =
        store.append_message(customer_message(&world, "hi", None)).await.unwrap().conversation;
    let error = store
        .transition(conversation.id, Transition::Release, Some("released".into()))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Transition(_)), "{error:?}");
    let unchanged = store.conversation(conversation.id).await.unwrap().unwrap();
    assert_eq!(unchanged.state, ConversationState::Bot);
    assert_eq!(unchanged.last_seq, 1, "no system message was written");
    let missing =
        store.transition(tandem_domain::ConversationId(999_999), Transition::Resolve, None).await;
    assert!(matches!(missing, Err(StoreError::NotFound(Entity::Conversation))));
}

pub async fn transition_records_system_message_and_assignee(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let conversation =
        store.append_message(customer_message(&world, "转人工", None)).await.unwrap().conversation;
    let queued = store.transition(conversation.id, Transition::Escalate, None).await.unwrap();
    assert_eq!(queued.state, ConversationState::Queued);
    let taken = store
        .transition(
            conversation.id,
            Transition::Assign { agent: world.agent.id },
            Some("王芳 joined".into()),
        )
        .await
        .unwrap();
    assert_eq!(taken.state, ConversationState::Human);
    assert_eq!(taken.assignee_id, Some(world.agent.id));
    let messages = store.messages(conversation.id, 0, 10).await.unwrap();
    assert_eq!(messages.last().unwrap().author_kind, AuthorKind::System);
    assert_eq!(messages.last().unwrap().seq, 2);
    // A second "assign to me" by the same agent is refused: it cannot be won twice.
    let again =
        store.transition(conversation.id, Transition::Assign { agent: world.agent.id }, None).await;
    assert!(matches!(again, Err(StoreError::Transition(_))));
}

pub async fn assigning_to_an_inactive_or_unknown_agent_fails(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let conversation =
        store.append_message(customer_message(&world, "hi", None)).await.unwrap().conversation;
    let unknown = store
        .transition(
            conversation.id,
            Transition::Assign { agent: tandem_domain::UserId(4242) },
            None,
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound(Entity::Agent))));
    store
        .update_user(world.agent.id, UserUpdate { active: Some(false), ..UserUpdate::default() })
        .await
        .unwrap();
    let inactive =
        store.transition(conversation.id, Transition::Assign { agent: world.agent.id }, None).await;
    assert!(matches!(inactive, Err(StoreError::NotFound(Entity::Agent))));
}

pub async fn customer_message_reopens_a_resolved_conversation(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let conversation =
        store.append_message(customer_message(&world, "thanks", None)).await.unwrap().conversation;
    store.transition(conversation.id, Transition::Resolve, None).await.unwrap();
    let appended =
        store.append_message(customer_message(&world, "one more thing", None)).await.unwrap();
    assert_eq!(appended.conversation.id, conversation.id);
    assert_eq!(appended.conversation.state, ConversationState::Bot);
    // An agent's message does not reopen.
    store.transition(conversation.id, Transition::Resolve, None).await.unwrap();
    let note = NewMessage {
        target: MessageTarget::Conversation(conversation.id),
        author_kind: AuthorKind::Note,
        reopen_if_resolved: false,
        ..customer_message(&world, "closing note", None)
    };
    let appended = store.append_message(note).await.unwrap();
    assert_eq!(appended.conversation.state, ConversationState::Resolved);
    assert_eq!(
        appended.conversation.preview, "one more thing",
        "only customer messages set the preview"
    );
}

pub async fn change_feed_follows_commit_order(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let mut feed = store.subscribe();
    let conversation =
        store.append_message(customer_message(&world, "first", None)).await.unwrap().conversation;
    store.transition(conversation.id, Transition::Escalate, None).await.unwrap();
    store.append_message(customer_message(&world, "second", None)).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        match feed.recv().await.unwrap() {
            Change::Message { message, .. } => seen.push(format!("message {}", message.seq)),
            Change::Conversation(conversation) => {
                seen.push(format!("conversation {}", conversation.state.as_str()))
            }
            Change::Knowledge(_) => seen.push("knowledge".to_owned()),
            Change::Agents(_) => seen.push("agents".to_owned()),
            Change::Erased { .. } => seen.push("erased".to_owned()),
        }
    }
    assert_eq!(seen, ["conversation bot", "message 1", "conversation queued", "message 2"]);
}

pub async fn a_failing_write_does_not_spoil_its_group(harness: Harness) {
    let store = &harness.store;
    let world = Arc::new(world(store).await);
    let conversation =
        store.append_message(customer_message(&world, "start", None)).await.unwrap().conversation;
    // Many writes at once land in the same groups; the illegal ones must fail alone.
    let mut tasks = Vec::new();
    for index in 0..60 {
        let store = Arc::clone(store);
        let world = Arc::clone(&world);
        tasks.push(tokio::spawn(async move {
            if index % 3 == 0 {
                store
                    .transition(conversation.id, Transition::Reopen, None)
                    .await
                    .map(|_| ())
                    .is_err()
            } else {
                let mut message = customer_message(&world, &format!("m{index}"), None);
                message.target = MessageTarget::Conversation(conversation.id);
                store.append_message(message).await.is_ok()
            }
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let messages = store.messages(conversation.id, 0, 100).await.unwrap();
    assert_eq!(messages.len(), 41);
}

pub async fn duplicate_user_email_is_a_conflict(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let error = store.create_user(new_user(world.workspace, "fang@example.com")).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    let (user, hash) = store.user_credentials(" FANG@example.com").await.unwrap().unwrap();
    assert_eq!(user.id, world.agent.id);
    assert_eq!(hash, "hash");
}

pub async fn sessions_expire_and_end_when_user_is_deactivated(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let now = now_millis();
    let session = |hash: &str, expires_at| Session {
        token_hash: hash.into(),
        user_id: world.agent.id,
        csrf_token: "csrf".into(),
        expires_at,
    };
    store.create_session(session("live", now + 60_000)).await.unwrap();
    store.create_session(session("old", now - 1)).await.unwrap();
    assert!(store.session("live", now).await.unwrap().is_some());
    assert!(store.session("old", now).await.unwrap().is_none());
    assert!(store.session("unknown", now).await.unwrap().is_none());
    store
        .update_user(world.agent.id, UserUpdate { active: Some(false), ..UserUpdate::default() })
        .await
        .unwrap();
    assert!(store.session("live", now).await.unwrap().is_none());
    store.create_api_token(new_token(world.agent.id, "token-hash")).await.unwrap();
    assert!(
        store.api_token("token-hash").await.unwrap().is_none(),
        "inactive users' tokens do not work"
    );
}

fn new_token(user: tandem_domain::UserId, token_hash: &str) -> tandem_store::NewApiToken {
    tandem_store::NewApiToken {
        user_id: user,
        token_hash: token_hash.into(),
        name: "ci".into(),
        scope: tandem_domain::TokenScope::Agent,
        expires_at: None,
    }
}

pub async fn api_tokens_are_listed_revoked_touched_and_end_with_a_password_when_asked(
    harness: Harness,
) {
    let store = &harness.store;
    let world = world(store).await;
    let mut token = new_token(world.agent.id, "hash-1");
    token.scope = tandem_domain::TokenScope::ReadOnly;
    token.expires_at = Some(5_000);
    let first = store.create_api_token(token).await.unwrap();
    assert_eq!(first.scope, tandem_domain::TokenScope::ReadOnly);
    let second = store.create_api_token(new_token(world.agent.id, "hash-2")).await.unwrap();
    let (found, user) = store.api_token("hash-1").await.unwrap().unwrap();
    assert_eq!((found.clone(), user.id), (first.clone(), world.agent.id));
    assert_eq!(found.status(4_999), tandem_domain::TokenStatus::Active);
    assert_eq!(found.status(5_000), tandem_domain::TokenStatus::Expired);

    let mine = store.api_tokens(TokenOwners::User(world.agent.id)).await.unwrap();
    let ids: Vec<_> = mine.iter().map(|(token, _)| token.id).collect();
    assert_eq!(ids, [second.id, first.id], "newest first");
    let all = store.api_tokens(TokenOwners::Workspace(world.workspace)).await.unwrap();
    assert_eq!(all.len(), 2);
    let elsewhere = store.create_workspace("Elsewhere").await.unwrap();
    assert!(store.api_tokens(TokenOwners::Workspace(elsewhere.id)).await.unwrap().is_empty());

    // Uses are noted at most once a minute.
    store.touch_api_token(first.id, 100_000).await.unwrap();
    store.touch_api_token(first.id, 130_000).await.unwrap();
    let (touched, _) = store.api_token_by_id(first.id).await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, Some(100_000));
    store.touch_api_token(first.id, 160_000).await.unwrap();
    let (touched, _) = store.api_token_by_id(first.id).await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, Some(160_000));

    // A revocation keeps its first time.
    let revoked = store.revoke_api_token(first.id, 200_000).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(200_000));
    let again = store.revoke_api_token(first.id, 300_000).await.unwrap();
    assert_eq!(again.revoked_at, Some(200_000));
    assert!(matches!(
        store.revoke_api_token(tandem_domain::ApiTokenId(999), 1).await,
        Err(StoreError::NotFound(Entity::ApiToken))
    ));

    // A new password alone keeps the tokens; asked to, it revokes them.
    let password = |revoke| UserUpdate {
        password_hash: Some("new".into()),
        revoke_api_tokens: revoke,
        ..UserUpdate::default()
    };
    store.update_user(world.agent.id, password(false)).await.unwrap();
    let (kept, _) = store.api_token("hash-2").await.unwrap().unwrap();
    assert_eq!(kept.revoked_at, None);
    store.update_user(world.agent.id, password(true)).await.unwrap();
    let (ended, _) = store.api_token("hash-2").await.unwrap().unwrap();
    assert!(ended.revoked_at.is_some());
}

pub async fn conversation_filters_and_counts(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let mut ids = Vec::new();
    for index in 0..4 {
        let customer = store
            .create_customer(NewCustomer {
                workspace_id: world.workspace,
                name: format!("visitor {index}"),
                email: None,
                locale: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap();
        let message = NewMessage {
            target: MessageTarget::CustomerLatest {
                inbox_id: world.inbox.id,
                customer_id: customer.id,
            },
            ..customer_message(&world, "hello", None)
        };
        ids.push(store.append_message(message).await.unwrap().conversation.id);
    }
    store.transition(ids[1], Transition::Escalate, None).await.unwrap();
    store.transition(ids[2], Transition::Assign { agent: world.agent.id }, None).await.unwrap();
    store.transition(ids[3], Transition::Resolve, None).await.unwrap();
    let listed = |filter| async move {
        store
            .conversations(world.workspace, filter, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<HashSet<_>>()
    };
    assert_eq!(
        listed(ConversationFilter::State(ConversationState::Bot)).await,
        HashSet::from([ids[0]])
    );
    assert_eq!(
        listed(ConversationFilter::State(ConversationState::Queued)).await,
        HashSet::from([ids[1]])
    );
    assert_eq!(listed(ConversationFilter::Mine(world.agent.id)).await, HashSet::from([ids[2]]));
    assert_eq!(listed(ConversationFilter::Open).await, HashSet::from([ids[0], ids[1], ids[2]]));
    assert_eq!(listed(ConversationFilter::All).await.len(), 4);
    let counts = store.conversation_counts(world.workspace, world.agent.id).await.unwrap();
    assert_eq!(
        (counts.bot, counts.queued, counts.human, counts.resolved, counts.mine),
        (1, 1, 1, 1, 1)
    );
    let other = store.create_workspace("Other").await.unwrap();
    assert!(store.conversations(other.id, ConversationFilter::All, 50).await.unwrap().is_empty());
}

pub async fn conversations_are_listed_by_channel(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let api = store
        .create_inbox(NewInbox {
            workspace_id: world.workspace,
            name: "Backend".into(),
            channel: Channel::Api,
            public_key: format!("pk_api_{}", world.workspace.0),
            bot_name: "Xiaohe".into(),
        })
        .await
        .unwrap();
    let on_web = store.append_message(customer_message(&world, "hello", None)).await.unwrap();
    let on_api = NewMessage {
        target: MessageTarget::CustomerLatest { inbox_id: api.id, customer_id: world.customer.id },
        ..customer_message(&world, "hello from the api", None)
    };
    let on_api = store.append_message(on_api).await.unwrap();
    let (web_id, api_id) = (on_web.conversation.id, on_api.conversation.id);
    assert_ne!(web_id, api_id);
    store.transition(api_id, Transition::Escalate, None).await.unwrap();
    let listed = |filter, channel| async move {
        store
            .conversations_on(world.workspace, filter, channel, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<HashSet<_>>()
    };
    use ConversationFilter::{All, Open, State};
    assert_eq!(listed(All, Some(Channel::Web)).await, HashSet::from([web_id]));
    assert_eq!(listed(All, Some(Channel::Api)).await, HashSet::from([api_id]));
    assert!(listed(All, Some(Channel::Email)).await.is_empty());
    assert_eq!(listed(All, None).await, HashSet::from([web_id, api_id]));
    assert_eq!(listed(Open, Some(Channel::Api)).await, HashSet::from([api_id]));
    let queued = State(ConversationState::Queued);
    assert_eq!(listed(queued, Some(Channel::Api)).await, HashSet::from([api_id]));
    assert!(listed(queued, Some(Channel::Web)).await.is_empty());
    store.transition(api_id, Transition::Assign { agent: world.agent.id }, None).await.unwrap();
    let mine = ConversationFilter::Mine(world.agent.id);
    assert_eq!(listed(mine, Some(Channel::Api)).await, HashSet::from([api_id]));
    assert!(listed(mine, Some(Channel::Web)).await.is_empty());
    // The limit counts only the channel's conversations.
    let newest = store.conversations_on(world.workspace, All, Some(Channel::Web), 1).await.unwrap();
    assert_eq!(newest.iter().map(|c| c.id).collect::<Vec<_>>(), vec![web_id]);
    let all = store.conversations(world.workspace, All, 50).await.unwrap();
    assert_eq!(all.len(), 2);
}

pub async fn settings_keep_their_first_value(harness: Harness) {
    let store = &harness.store;
    assert_eq!(store.setting("secret").await.unwrap(), None);
    assert_eq!(store.setting_or_insert("secret", "first").await.unwrap(), "first");
    assert_eq!(store.setting_or_insert("secret", "second").await.unwrap(), "first");
    assert_eq!(store.setting("secret").await.unwrap().as_deref(), Some("first"));
}

pub async fn bot_reply_is_refused_once_a_person_owns_the_conversation(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let conversation =
        store.append_message(customer_message(&world, "hi", None)).await.unwrap().conversation;
    let bot_reply = || NewMessage {
        target: MessageTarget::Conversation(conversation.id),
        author_kind: AuthorKind::Bot,
        only_while_bot_owns: true,
        meta: None,
        decision: None,
        reopen_if_resolved: false,
        ..customer_message(&world, "I can help", None)
    };
    let replied = store.append_message(bot_reply()).await.unwrap();
    assert_eq!(
        replied.conversation.preview, "hi",
        "the bot's reply does not hide what the customer said"
    );
    store
        .transition(conversation.id, Transition::Assign { agent: world.agent.id }, None)
        .await
        .unwrap();
    let refused = store.append_message(bot_reply()).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert_eq!(store.messages(conversation.id, 0, 10).await.unwrap().len(), 2);
}

fn new_article(key: &str, title: &str) -> tandem_store::NewArticle {
    tandem_store::NewArticle {
        key: key.into(),
        title: title.into(),
        answer: format!("{title}: the answer"),
        questions: vec![format!("how about {title}?")],
        tags: vec!["faq".into()],
        language: Some(Locale::En),
        effective_from: None,
        expires_at: None,
        channels: Vec::new(),
    }
}

pub async fn articles_are_saved_by_key_and_publishing_keeps_versions(harness: Harness) {
    use tandem_domain::ArticleStatus;
    let store = &harness.store;
    let world = world(store).await;
    let mut feed = store.subscribe();
    let saved = store
        .save_articles(
            world.workspace,
            vec![new_article("returns", "Returns"), new_article("hours", "Opening hours")],
            ArticleStatus::Published,
            Some(world.agent.id),
        )
        .await
        .unwrap();
    assert_eq!(saved.iter().map(|article| article.version).collect::<Vec<_>>(), [1, 1]);
    assert!(
        matches!(feed.recv().await.unwrap(), Change::Knowledge(workspace) if workspace == world.workspace)
    );
    // Saving the same key again replaces the content and, when published, adds a version.
    let mut edited = new_article("returns", "Returns (holiday)");
    edited.questions.push("can i return after christmas".into());
    let again = store
        .save_articles(world.workspace, vec![edited], ArticleStatus::Published, None)
        .await
        .unwrap();
    assert_eq!((again[0].version, again[0].questions.len()), (2, 2));
    let draft = store
        .save_articles(
            world.workspace,
            vec![new_article("draft-only", "Draft")],
            ArticleStatus::Draft,
            None,
        )
        .await
        .unwrap();
    assert_eq!(draft[0].version, 0);
    let archived = store
        .set_article_status(world.workspace, "hours", ArticleStatus::Archived, None)
        .await
        .unwrap();
    assert_eq!(archived.status, ArticleStatus::Archived);
    let all = store.articles(world.workspace).await.unwrap();
    assert_eq!(
        all.iter().map(|article| article.key.as_str()).collect::<Vec<_>>(),
        ["draft-only", "hours", "returns"]
    );
    let now = now_millis();
    let live: Vec<&str> = all
        .iter()
        .filter(|article| article.live_at(now))
        .map(|article| article.key.as_str())
        .collect();
    assert_eq!(live, ["returns"]);
    let hours = store.article(world.workspace, "hours").await.unwrap();
    assert_eq!(hours.map(|article| article.status), Some(ArticleStatus::Archived));
    assert!(store.article(world.workspace, "nope").await.unwrap().is_none());
    let missing =
        store.set_article_status(world.workspace, "nope", ArticleStatus::Published, None).await;
    assert!(matches!(missing, Err(StoreError::NotFound(Entity::Article))));
}

pub async fn a_failed_import_saves_nothing(harness: Harness) {
    use tandem_domain::ArticleStatus;
    let store = &harness.store;
    let world = world(store).await;
    // The second article names a user that does not exist: the whole import fails.
    let result = store
        .save_articles(
            world.workspace,
            vec![new_article("a", "A"), new_article("b", "B")],
            ArticleStatus::Published,
            Some(tandem_domain::UserId(999_999)),
        )
        .await;
    assert!(result.is_err());
    assert!(store.articles(world.workspace).await.unwrap().is_empty());
}

pub async fn answer_settings_and_article_channels_are_kept(harness: Harness) {
    use tandem_domain::{AnswerSettings, ArticleStatus, Channel};
    let store = &harness.store;
    let world = world(store).await;
    assert_eq!(store.answer_settings(world.workspace).await.unwrap(), AnswerSettings::default());
    let mut email_only = new_article("email-signature", "Signature");
    email_only.channels = vec![Channel::Email];
    store
        .save_articles(world.workspace, vec![email_only], ArticleStatus::Published, None)
        .await
        .unwrap();
    let article = store.article(world.workspace, "email-signature").await.unwrap().unwrap();
    assert_eq!(article.channels, [Channel::Email]);
    assert!(article.serves(Channel::Email) && !article.serves(Channel::Web));
    let stamp = store.knowledge_stamp(world.workspace).await.unwrap();
    let mut feed = store.subscribe();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let saved = store
        .save_answer_settings(
            world.workspace,
            AnswerSettings {
                threshold: Some(0.5),
                dictionary: vec!["天猫精灵".into()],
                updated_at: 0,
            },
        )
        .await
        .unwrap();
    assert!(saved.updated_at > 0);
    assert_eq!(store.answer_settings(world.workspace).await.unwrap(), saved);
    assert!(
        matches!(feed.recv().await.unwrap(), Change::Knowledge(workspace) if workspace == world.workspace)
    );
    // A settings change is a knowledge change to other processes too.
    assert_ne!(store.knowledge_stamp(world.workspace).await.unwrap(), stamp);
    let cleared =
        store.save_answer_settings(world.workspace, AnswerSettings::default()).await.unwrap();
    assert_eq!((cleared.threshold, cleared.dictionary.len()), (None, 0));
}

pub async fn routing_record_follows_the_owner_and_packets_are_kept(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let queue = store
        .create_queue(world.workspace, "After-sales", "", QueueRouting::default())
        .await
        .unwrap();
    let conversation =
        store.append_message(customer_message(&world, "退款", None)).await.unwrap().conversation;
    assert_eq!(conversation.route, None);
    let packet = HandoffPacket {
        conversation_id: conversation.id,
        created_at: 1,
        reasons: vec![tandem_domain::Reason::Complaint],
        outcome: EscalationOutcome::HandOff,
        language: Some(Locale::Zh),
        summary: "退款".into(),
        model_summary: None,
        intents: Vec::new(),
        emotions: Vec::new(),
        bot_replies: Vec::new(),
        actions: Vec::new(),
        draft: None,
        parts: Vec::new(),
        entities: Vec::new(),
        customer: CustomerCard::default(),
        skills: vec!["refunds".into()],
        priority: 40,
        queue_id: Some(queue.id),
    };
    let queued = store
        .route(
            conversation.id,
            RouteChange {
                transition: Some(Transition::Escalate),
                queue_id: Some(queue.id),
                skills: Some(vec!["refunds".into()]),
                priority: Some(40),
                packet: Some(packet.clone()),
                ..RouteChange::default()
            },
        )
        .await
        .unwrap();
    let route = queued.route.clone().unwrap();
    assert_eq!((queued.queue_id, route.priority), (Some(queue.id), 40));
    assert_eq!(route.skills, ["refunds"]);
    assert!(route.queued_at > 0 && route.assigned_at.is_none());
    assert_eq!(store.handoff(conversation.id).await.unwrap(), Some(packet.clone()));
    // The model's summary joins the packet later, leaving the rest as it was.
    let summary = tandem_domain::ModelSummary {
        text: Some("客户要求退款。".into()),
        llm: llm_record("used", (120, 30), 0.01),
    };
    store.set_model_summary(conversation.id, summary.clone()).await.unwrap();
    let kept = store.handoff(conversation.id).await.unwrap().unwrap();
    assert_eq!(kept, HandoffPacket { model_summary: Some(summary), ..packet });
    assert!(matches!(
        store
            .set_model_summary(tandem_domain::ConversationId(999_999), kept.model_summary.unwrap())
            .await,
        Err(tandem_store::StoreError::NotFound(_))
    ));

    // An offer becomes the agent's with their first reply; a timed-out release is then refused.
    let agent = world.agent.id;
    let offered =
        store.transition(conversation.id, Transition::Assign { agent }, None).await.unwrap();
    assert!(offered.route.as_ref().unwrap().assigned_at.is_some());
    let mut reply = customer_message(&world, "您好", None);
    reply.target = MessageTarget::Conversation(conversation.id);
    reply.author_kind = AuthorKind::Agent;
    reply.author_id = Some(agent.0);
    store.append_message(reply).await.unwrap();
    let release = RouteChange {
        transition: Some(Transition::Release),
        skip: Some(agent),
        only_if_offered_to: Some(agent),
        ..RouteChange::default()
    };
    let refused = store.route(conversation.id, release.clone()).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let reloaded = store.conversation(conversation.id).await.unwrap().unwrap();
    assert!(reloaded.route.as_ref().unwrap().accepted_at.is_some());
    assert_eq!(reloaded.state, ConversationState::Human);

    // Released without the offer condition, it keeps its place and skips the agent.
    let back = store
        .route(conversation.id, RouteChange { only_if_offered_to: None, ..release })
        .await
        .unwrap();
    let back_route = back.route.unwrap();
    assert_eq!(back.state, ConversationState::Queued);
    assert_eq!((back_route.queued_at, back_route.skip.as_slice()), (route.queued_at, &[agent][..]));
    assert_eq!(store.routed_conversations(world.workspace).await.unwrap().len(), 1);

    // Back to the bot, the routing record is gone.
    let bot = store.transition(conversation.id, Transition::HandBack, None).await.unwrap();
    assert_eq!(bot.route, None);
    assert!(store.routed_conversations(world.workspace).await.unwrap().is_empty());
    let unknown_queue =
        RouteChange { queue_id: Some(QueueId(queue.id.0 + 100)), ..RouteChange::default() };
    assert!(matches!(
        store.route(conversation.id, unknown_queue).await,
        Err(StoreError::NotFound(Entity::Queue))
    ));
}

pub async fn escalation_policy_agent_and_queue_settings_are_kept(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    assert_eq!(
        store.escalation_policy(world.workspace).await.unwrap(),
        EscalationPolicy::default()
    );
    let policy = EscalationPolicy { abstains_in_a_row: 3, ..EscalationPolicy::default() };
    let saved = store.save_escalation_policy(world.workspace, policy).await.unwrap();
    assert!(saved.updated_at > 0);
    assert_eq!(store.escalation_policy(world.workspace).await.unwrap(), saved);

    let agents = store.agent_routing(world.workspace).await.unwrap();
    assert_eq!(agents, [AgentRouting::new(world.agent.id)]);
    let mut routing = AgentRouting::new(world.agent.id);
    routing.skills.insert("refunds".into(), 4);
    routing.capacity.insert(Channel::Email, 0);
    routing.presence = Presence::Online;
    store.save_agent_routing(routing.clone()).await.unwrap();
    assert_eq!(store.agent_routing(world.workspace).await.unwrap(), [routing]);

    let mut queue =
        store.create_queue(world.workspace, "Disputes", "", QueueRouting::default()).await.unwrap();
    queue.routing.skills.insert("disputes".into(), 3);
    queue.routing.time_zone = "Asia/Shanghai".parse().unwrap();
    store.update_queue(queue.clone()).await.unwrap();
    assert_eq!(store.queues(world.workspace).await.unwrap(), [queue]);
}

// ---------- Outbound webhooks ----------

fn webhook_endpoint(
    world: &World,
    events: &[tandem_domain::WebhookEventType],
    active: bool,
) -> tandem_store::NewWebhookEndpoint {
    tandem_store::NewWebhookEndpoint {
        workspace_id: world.workspace,
        url: "https://crm.example.com/hooks/tandem".into(),
        description: "CRM".into(),
        events: events.to_vec(),
        active,
        secret: "whsec_test".into(),
        inbox_id: None,
    }
}

fn inbox_of(world: &World) -> NewInbox {
    NewInbox {
        workspace_id: world.workspace,
        name: world.inbox.name.clone(),
        channel: world.inbox.channel,
        public_key: world.inbox.public_key.clone(),
        bot_name: world.inbox.bot_name.clone(),
    }
}

pub(crate) fn handoff_packet(conversation: tandem_domain::ConversationId) -> HandoffPacket {
    HandoffPacket {
        conversation_id: conversation,
        created_at: 1,
        reasons: vec![tandem_domain::Reason::Complaint],
        outcome: EscalationOutcome::HandOff,
        language: Some(Locale::Zh),
        summary: "耳机坏了".into(),
        model_summary: None,
        intents: Vec::new(),
        emotions: Vec::new(),
        bot_replies: Vec::new(),
        actions: Vec::new(),
        draft: None,
        parts: Vec::new(),
        entities: Vec::new(),
        customer: CustomerCard::default(),
        skills: Vec::new(),
        priority: 40,
        queue_id: None,
    }
}

pub async fn webhook_outbox_is_written_with_the_change_it_reports(harness: Harness) {
    use tandem_domain::WebhookEventType as Event;
    let store = &harness.store;
    let world = world(store).await;
    let first = store.append_message(customer_message(&world, "在吗", None)).await.unwrap();
    assert_eq!(store.next_webhook_due().await.unwrap(), None, "nobody listens: no events");
    let conversation = first.conversation.id;
    let all = store
        .create_webhook_endpoint(webhook_endpoint(&world, Event::SUBSCRIBABLE, true))
        .await
        .unwrap();
    let handoffs = store
        .create_webhook_endpoint(webhook_endpoint(&world, &[Event::ConversationHandedOff], true))
        .await
        .unwrap();
    let disabled = store
        .create_webhook_endpoint(webhook_endpoint(&world, Event::SUBSCRIBABLE, false))
        .await
        .unwrap();
    assert_eq!(store.webhook_endpoints(world.workspace).await.unwrap().len(), 3);

    store.append_message(customer_message(&world, "我要投诉", None)).await.unwrap();
    let in_conversation = |kind: AuthorKind, body: &str| NewMessage {
        target: MessageTarget::Conversation(conversation),
        author_kind: kind,
        author_id: (kind == AuthorKind::Note || kind == AuthorKind::Agent)
            .then_some(world.agent.id.0),
        ..customer_message(&world, body, None)
    };
    store.append_message(in_conversation(AuthorKind::Note, "VIP, careful")).await.unwrap();
    let handed_off = RouteChange {
        transition: Some(Transition::Escalate),
        packet: Some(handoff_packet(conversation)),
        system_message: Some("正在为您转接人工客服".into()),
        ..RouteChange::default()
    };
    store.route(conversation, handed_off).await.unwrap();
    // A write that is refused leaves no event behind.
    let late_bot_reply = NewMessage {
        only_while_bot_owns: true,
        ..in_conversation(AuthorKind::Bot, "我来回答")
    };
    assert!(store.append_message(late_bot_reply).await.is_err());
    let agent = world.agent.id;
    store.transition(conversation, Transition::Assign { agent }, None).await.unwrap();
    store.append_message(in_conversation(AuthorKind::Agent, "您好，我来处理")).await.unwrap();
    store.transition(conversation, Transition::Resolve, None).await.unwrap();
    // Another workspace's conversations are not this endpoint's business.
    let other = store.create_workspace("Other Shop").await.unwrap().id;
    let other_inbox =
        NewInbox { workspace_id: other, public_key: "pk_other".into(), ..inbox_of(&world) };
    let inbox_id = store.create_inbox(other_inbox).await.unwrap().id;
    let customer = NewCustomer {
        workspace_id: other,
        name: "Lucy".into(),
        email: None,
        locale: None,
        attributes: BTreeMap::new(),
    };
    let customer_id = store.create_customer(customer).await.unwrap().id;
    let target = MessageTarget::CustomerLatest { inbox_id, customer_id };
    store
        .append_message(NewMessage { target, ..customer_message(&world, "hello", None) })
        .await
        .unwrap();

    let now = now_millis();
    let due = store.claim_webhooks(now, now + 60_000, 100).await.unwrap();
    let of = |endpoint| -> Vec<_> {
        due.iter().filter(|webhook| webhook.delivery.endpoint_id == endpoint).collect()
    };
    let types: Vec<Event> = of(all.id).iter().map(|webhook| webhook.event.event_type).collect();
    assert_eq!(
        types,
        [
            Event::MessageCreated,
            Event::ConversationHandedOff,
            Event::ConversationAssigned,
            Event::MessageCreated,
            Event::ConversationResolved
        ]
    );
    assert_eq!(of(handoffs.id).len(), 1);
    assert!(of(disabled.id).is_empty(), "a disabled endpoint gets nothing");
    assert_eq!(due.len(), 6);
    let everything =
        format!("{:?}", due.iter().map(|webhook| &webhook.event.data).collect::<Vec<_>>());
    assert!(!everything.contains("VIP, careful"), "internal notes are never sent");
    assert!(!everything.contains("正在为您转接"), "system lines are not messages");

    let [customer, handoff, assigned, reply, resolved] = &of(all.id)[..] else { unreachable!() };
    assert_eq!((customer.url.as_str(), customer.secret.as_str()), (all.url.as_str(), "whsec_test"));
    assert_eq!(customer.event.workspace_id, world.workspace);
    let data = &customer.event.data;
    assert_eq!(data["message"]["body"], "我要投诉");
    assert_eq!(data["message"]["author_kind"], "customer");
    assert_eq!(data["conversation"]["id"], conversation.0);
    assert_eq!(data["conversation"]["customer"]["name"], "李雷");
    assert_eq!(data["conversation"]["channel"], "web");
    let data = &handoff.event.data;
    assert_eq!(data["packet"]["summary"], "耳机坏了");
    assert_eq!(data["packet"]["reasons"][0], "complaint");
    assert_eq!(data["conversation"]["state"], "queued");
    assert_eq!(handoff.event.id, of(handoffs.id)[0].event.id, "one event, two deliveries");
    assert_eq!(assigned.event.data["assignee"]["id"], agent.0);
    assert_eq!(assigned.event.data["previous_state"], "queued");
    assert_eq!(reply.event.data["message"]["author_kind"], "agent");
    assert_eq!(resolved.event.data["conversation"]["state"], "resolved");
    assert_eq!(resolved.event.data["previous_assignee_id"], agent.0);
    assert!(
        customer.delivery.attempts == 0 && customer.delivery.next_attempt_at == Some(now + 60_000)
    );
}

pub async fn a_resolution_stores_its_wrapup_and_the_event_carries_it(harness: Harness) {
    use tandem_domain::{KeyPoint, KeyPointKind, WebhookEventType as Event, Wrapup};
    let store = &harness.store;
    let world = world(store).await;
    store
        .create_webhook_endpoint(webhook_endpoint(&world, &[Event::ConversationResolved], true))
        .await
        .unwrap();
    let conversation =
        store.append_message(customer_message(&world, "退货", None)).await.unwrap().conversation.id;
    let wrapup = |summary: &str| Wrapup {
        conversation_id: tandem_domain::ConversationId(0),
        summary: summary.into(),
        key_points: vec![KeyPoint {
            kind: KeyPointKind::Entity,
            text: "20240115001".into(),
            detail: Some("order_number".into()),
        }],
        topic: Some("退货政策".into()),
        model_summary: None,
        created_at: 0,
    };
    let resolve = |summary: &str| RouteChange {
        transition: Some(Transition::Resolve),
        wrapup: Some(wrapup(summary)),
        ..RouteChange::default()
    };
    assert_eq!(store.wrapup(conversation).await.unwrap(), None);
    store.route(conversation, resolve("想退货。已办理。")).await.unwrap();
    let stored = store.wrapup(conversation).await.unwrap().expect("stored with the resolution");
    assert_eq!(stored.conversation_id, conversation, "the store names the conversation");
    assert!(stored.created_at > 0, "the store dates it");
    assert_eq!(stored.key_points, wrapup("").key_points);
    assert_eq!(stored.topic.as_deref(), Some("退货政策"));

    let now = now_millis();
    let due = store.claim_webhooks(now, now + 60_000, 100).await.unwrap();
    assert_eq!(due.len(), 1);
    let data = &due[0].event.data;
    assert_eq!(data["wrapup"]["summary"], "想退货。已办理。");
    assert_eq!(data["wrapup"]["key_points"][0]["detail"], "order_number");

    // Reopened and resolved again: the new wrap-up replaces the old one.
    store.transition(conversation, Transition::Reopen, None).await.unwrap();
    store.route(conversation, resolve("第二次。")).await.unwrap();
    assert_eq!(store.wrapup(conversation).await.unwrap().unwrap().summary, "第二次。");
    // A resolution without one leaves none that describes an earlier resolution.
    store.transition(conversation, Transition::Reopen, None).await.unwrap();
    store.transition(conversation, Transition::Resolve, None).await.unwrap();
    assert_eq!(store.wrapup(conversation).await.unwrap(), None);

    // Corrected later (the topic), kept as given.
    let corrected = Wrapup {
        topic: Some("换货".into()),
        model_summary: Some("客户要退货。".into()),
        ..stored.clone()
    };
    store.save_wrapup(corrected.clone()).await.unwrap();
    assert_eq!(store.wrapup(conversation).await.unwrap(), Some(corrected.clone()));
    // The topic alone, leaving the rest (the model's summary) as it is.
    let retitled = store.set_wrapup_topic(conversation, Some("退货".into())).await.unwrap();
    assert_eq!(retitled, Wrapup { topic: Some("退货".into()), ..corrected.clone() });
    let cleared = store.set_wrapup_topic(conversation, None).await.unwrap();
    assert_eq!(cleared, Wrapup { topic: None, ..corrected });
    assert_eq!(store.wrapup(conversation).await.unwrap(), Some(cleared));
    let unknown = Wrapup { conversation_id: tandem_domain::ConversationId(999_999), ..stored };
    assert!(matches!(
        store.set_wrapup_topic(unknown.conversation_id, None).await,
        Err(StoreError::NotFound(Entity::Wrapup))
    ));
    assert!(matches!(
        store.save_wrapup(unknown).await,
        Err(StoreError::NotFound(Entity::Conversation))
    ));
}

pub async fn webhook_payloads_carry_every_customer_field(harness: Harness) {
    use tandem_domain::WebhookEventType as Event;
    let store = &harness.store;
    let world = world(store).await;
    store
        .create_webhook_endpoint(webhook_endpoint(&world, &[Event::MessageCreated], true))
        .await
        .unwrap();
    let verified = store
        .verified_customer(tandem_store::VerifiedCustomer {
            workspace_id: world.workspace,
            external_id: "u-1001".into(),
            name: Some("张伟".into()),
            email: Some("zhangwei@example.cn".into()),
            locale: Some(Locale::Zh),
            attributes: BTreeMap::from([("tier".into(), "gold".into())]),
        })
        .await
        .unwrap();
    let target =
        MessageTarget::CustomerLatest { inbox_id: world.inbox.id, customer_id: verified.id };
    store
        .append_message(NewMessage {
            target, ..customer_message(&world, "我的订单到哪了", None)
        })
        .await
        .unwrap();
    let now = now_millis();
    let due = store.claim_webhooks(now, now + 60_000, 10).await.unwrap();
    let [event] = &due[..] else { panic!("one event: {due:?}") };
    let customer = &event.event.data["conversation"]["customer"];
    // Every field of the customer as the store keeps it, as the domain type serialises it.
    assert_eq!(customer, &serde_json::to_value(&verified).unwrap());
    for (field, expected) in [
        ("external_id", serde_json::json!("u-1001")),
        ("verified", serde_json::json!(true)),
        ("email", serde_json::json!("zhangwei@example.cn")),
        ("locale", serde_json::json!("zh")),
        ("attributes", serde_json::json!({"tier": "gold"})),
    ] {
        assert_eq!(customer[field], expected, "{field}");
    }
}

pub async fn the_webhook_endpoint_limit_holds_under_concurrent_creates(harness: Harness) {
    use tandem_domain::{MAX_WEBHOOK_ENDPOINTS, WebhookEventType as Event};
    let store = &harness.store;
    let world = world(store).await;
    let creates = (0..MAX_WEBHOOK_ENDPOINTS + 10).map(|_| {
        let store = Arc::clone(store);
        let endpoint = webhook_endpoint(&world, &[Event::MessageCreated], true);
        tokio::spawn(async move { store.create_webhook_endpoint(endpoint).await })
    });
    let mut created = 0;
    for create in creates.collect::<Vec<_>>() {
        match create.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict(tandem_store::Conflict::WebhookEndpointLimit(limit))) => {
                assert_eq!(limit, MAX_WEBHOOK_ENDPOINTS);
            }
            Err(error) => panic!("{error}"),
        }
    }
    assert_eq!(created, MAX_WEBHOOK_ENDPOINTS);
    assert_eq!(
        store.webhook_endpoints(world.workspace).await.unwrap().len(),
        MAX_WEBHOOK_ENDPOINTS
    );
}

pub async fn webhook_deliveries_are_leased_retried_and_survive_a_restart(harness: Harness) {
    use tandem_domain::{WebhookDeliveryStatus as Status, WebhookEventType as Event};
    use tandem_store::{WebhookAttempt, WebhookEndpointUpdate, WebhookOutcome};
    let world = world(&harness.store).await;
    let endpoint = harness
        .store
        .create_webhook_endpoint(webhook_endpoint(&world, &[Event::MessageCreated], true))
        .await
        .unwrap();
    harness.store.append_message(customer_message(&world, "订单到哪了", None)).await.unwrap();
    let store = &harness.store;
    let now = now_millis();
    let claimed = store.claim_webhooks(now, now + 30_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let delivery = claimed[0].delivery.id;
    assert!(store.claim_webhooks(now, now + 30_000, 10).await.unwrap().is_empty(), "leased");
    // A worker that died mid-attempt: once its lease ends, the delivery is due again.
    let again = store.claim_webhooks(now + 30_000, now + 60_000, 10).await.unwrap();
    assert_eq!(again.iter().map(|webhook| webhook.delivery.id).collect::<Vec<_>>(), [delivery]);
    let failed_attempt = WebhookAttempt {
        at: now + 30_000,
        response_status: Some(500),
        error: Some("HTTP 500".into()),
        outcome: WebhookOutcome::RetryAt(now + 40_000),
    };
    store.finish_webhook(delivery, failed_attempt).await.unwrap();
    let recorded = &store.webhook_deliveries(endpoint.id, 10).await.unwrap()[0];
    assert_eq!((recorded.status, recorded.attempts), (Status::Pending, 1));
    assert_eq!(
        (recorded.response_status, recorded.error.as_deref()),
        (Some(500), Some("HTTP 500"))
    );
    assert_eq!(recorded.next_attempt_at, Some(now + 40_000));
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(now + 40_000));

    // The retry is still due after a restart.
    let store = (harness.reopen)();
    assert!(store.claim_webhooks(now + 39_999, now + 70_000, 10).await.unwrap().is_empty());
    let retried = store.claim_webhooks(now + 40_000, now + 70_000, 10).await.unwrap();
    assert_eq!(retried[0].delivery.id, delivery);
    let delivered = WebhookAttempt {
        at: now + 40_000,
        response_status: Some(204),
        error: None,
        outcome: WebhookOutcome::Delivered,
    };
    store.finish_webhook(delivery, delivered).await.unwrap();
    let recorded = &store.webhook_deliveries(endpoint.id, 10).await.unwrap()[0];
    assert_eq!(
        (recorded.status, recorded.attempts, recorded.error.as_deref()),
        (Status::Delivered, 2, None)
    );
    assert_eq!((recorded.delivered_at, recorded.next_attempt_at), (Some(now + 40_000), None));
    assert_eq!(store.next_webhook_due().await.unwrap(), None);

    // A test event goes to its endpoint whatever it subscribes to.
    let test = store.enqueue_webhook_test(endpoint.id).await.unwrap();
    assert_eq!((test.event_type, test.status, test.attempts), (Event::Test, Status::Pending, 0));
    let claimed = store.claim_webhooks(now_millis(), now_millis() + 30_000, 10).await.unwrap();
    assert_eq!(claimed[0].event.data["endpoint_id"], endpoint.id.0);
    let gave_up = WebhookAttempt {
        at: now_millis(),
        response_status: None,
        error: Some("connection refused".into()),
        outcome: WebhookOutcome::Failed,
    };
    store.finish_webhook(test.id, gave_up).await.unwrap();
    assert_eq!(store.webhook_deliveries(endpoint.id, 1).await.unwrap()[0].status, Status::Failed);

    // Disabling gives up on what was pending and records nothing new.
    store.append_message(customer_message(&world, "还在吗", None)).await.unwrap();
    let update = WebhookEndpointUpdate { active: Some(false), ..WebhookEndpointUpdate::default() };
    let updated = store.update_webhook_endpoint(endpoint.id, update).await.unwrap();
    assert!(!updated.active && updated.updated_at >= endpoint.updated_at);
    let cancelled = &store.webhook_deliveries(endpoint.id, 1).await.unwrap()[0];
    assert_eq!(
        (cancelled.status, cancelled.error.as_deref()),
        (Status::Failed, Some("endpoint disabled"))
    );
    store.append_message(customer_message(&world, "有人吗", None)).await.unwrap();
    assert_eq!(store.webhook_deliveries(endpoint.id, 100).await.unwrap().len(), 3);
    assert_eq!(store.next_webhook_due().await.unwrap(), None);

    let update = WebhookEndpointUpdate {
        url: Some("https://crm.example.com/v2".into()),
        events: Some(vec![Event::ConversationResolved]),
        active: Some(true),
        ..WebhookEndpointUpdate::default()
    };
    let updated = store.update_webhook_endpoint(endpoint.id, update).await.unwrap();
    assert_eq!(
        (updated.url.as_str(), updated.events.as_slice()),
        ("https://crm.example.com/v2", &[Event::ConversationResolved][..])
    );
    assert_eq!(store.webhook_endpoint(endpoint.id).await.unwrap(), Some(updated));

    // Finished deliveries are pruned; deleting an endpoint takes its deliveries along.
    assert_eq!(store.prune_webhooks(now_millis() + 1).await.unwrap(), 3);
    assert!(store.webhook_deliveries(endpoint.id, 100).await.unwrap().is_empty());
    store.enqueue_webhook_test(endpoint.id).await.unwrap();
    store.delete_webhook_endpoint(endpoint.id).await.unwrap();
    assert_eq!(store.webhook_endpoint(endpoint.id).await.unwrap(), None);
    assert!(store.webhook_deliveries(endpoint.id, 100).await.unwrap().is_empty());
    assert_eq!(store.next_webhook_due().await.unwrap(), None);
    assert!(matches!(
        store.delete_webhook_endpoint(endpoint.id).await,
        Err(StoreError::NotFound(_))
    ));
    let missing = WebhookEndpointUpdate::default();
    assert!(store.update_webhook_endpoint(endpoint.id, missing).await.is_err());
}

fn verified(workspace: WorkspaceId, external_id: &str) -> tandem_store::VerifiedCustomer {
    tandem_store::VerifiedCustomer {
        workspace_id: workspace,
        external_id: external_id.into(),
        name: None,
        email: None,
        locale: None,
        attributes: BTreeMap::new(),
    }
}

pub async fn verified_customers_are_one_per_external_id(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    assert!(!world.customer.verified && world.customer.external_id.is_none());

    let created = store
        .verified_customer(tandem_store::VerifiedCustomer {
            name: Some("张伟".into()),
            email: Some("zhangwei@example.cn".into()),
            locale: Some(Locale::Zh),
            attributes: BTreeMap::from([("tier".into(), "gold".into())]),
            ..verified(world.workspace, "u-1001")
        })
        .await
        .unwrap();
    assert!(created.verified);
    assert_eq!(created.external_id.as_deref(), Some("u-1001"));
    assert_eq!((created.name.as_str(), created.locale), ("张伟", Some(Locale::Zh)));
    assert_ne!(created.id, world.customer.id);

    // Found again by the id: a new e-mail is taken, a missing name keeps the stored one, and
    // the profile attributes and language stay.
    let again = store
        .verified_customer(tandem_store::VerifiedCustomer {
            email: Some("wei.zhang@example.cn".into()),
            locale: Some(Locale::En),
            ..verified(world.workspace, "u-1001")
        })
        .await
        .unwrap();
    assert_eq!(again.id, created.id);
    assert_eq!(again.name, "张伟");
    assert_eq!(again.email.as_deref(), Some("wei.zhang@example.cn"));
    assert_eq!(again.locale, Some(Locale::Zh));
    assert_eq!(again.attributes.get("tier").map(String::as_str), Some("gold"));
    assert_eq!(store.customer(created.id).await.unwrap(), Some(again.clone()));

    // A customer created without a name is named by its id.
    let unnamed = store.verified_customer(verified(world.workspace, "u-7")).await.unwrap();
    assert_eq!(unnamed.name, "u-7");

    // Concurrent first sessions of one person (two devices) make one customer.
    let calls = (0..8).map(|_| {
        let store = Arc::clone(store);
        let workspace = world.workspace;
        tokio::spawn(async move { store.verified_customer(verified(workspace, "u-2")).await })
    });
    let ids: HashSet<_> = join_all(calls).await.into_iter().map(|customer| customer.id).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");

    // External ids are the business's own: another workspace's u-1001 is someone else.
    let other = store.create_workspace("Other").await.unwrap().id;
    let stranger = store.verified_customer(verified(other, "u-1001")).await.unwrap();
    assert_ne!(stranger.id, created.id);

    let reopened = (harness.reopen)();
    let kept = reopened.verified_customer(verified(world.workspace, "u-1001")).await.unwrap();
    assert_eq!(kept, again);
}

async fn join_all<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<T, StoreError>>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        results.push(handle.await.unwrap().unwrap());
    }
    results
}

pub async fn inbox_identity_secrets_are_random_and_rotate(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let second = store
        .create_inbox(NewInbox {
            workspace_id: world.workspace,
            name: "App".into(),
            channel: Channel::Web,
            public_key: "pk_second".into(),
            bot_name: "Xiaohe".into(),
        })
        .await
        .unwrap();
    let first_secret = store.inbox_identity_secret(world.inbox.id).await.unwrap().unwrap();
    let second_secret = store.inbox_identity_secret(second.id).await.unwrap().unwrap();
    for secret in [&first_secret, &second_secret] {
        assert_eq!(secret.len(), 64, "{secret}");
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
    assert_ne!(first_secret, second_secret);
    // Reading does not change it.
    assert_eq!(
        store.inbox_identity_secret(world.inbox.id).await.unwrap(),
        Some(first_secret.clone())
    );

    let rotated = store.rotate_inbox_identity_secret(world.inbox.id).await.unwrap();
    assert_ne!(rotated, first_secret);
    assert_eq!(rotated.len(), 64);
    assert_eq!(store.inbox_identity_secret(world.inbox.id).await.unwrap(), Some(rotated.clone()));
    assert_eq!(store.inbox_identity_secret(second.id).await.unwrap(), Some(second_secret));
    let reopened = (harness.reopen)();
    assert_eq!(reopened.inbox_identity_secret(world.inbox.id).await.unwrap(), Some(rotated));

    let unknown = tandem_domain::InboxId(999_999);
    assert_eq!(reopened.inbox_identity_secret(unknown).await.unwrap(), None);
    assert!(matches!(
        reopened.rotate_inbox_identity_secret(unknown).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn workspace_settings_are_kept_per_workspace_and_key(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let other = store.create_workspace("Other Shop").await.unwrap().id;
    assert_eq!(store.workspace_setting(world.workspace, "llm").await.unwrap(), None);

    let first = serde_json::json!({"enabled": true, "model": "qwen-plus"});
    let saved_at =
        store.save_workspace_setting(world.workspace, "llm", first.clone()).await.unwrap();
    assert!(saved_at > 0);
    assert_eq!(store.workspace_setting(world.workspace, "llm").await.unwrap(), Some(first));
    assert_eq!(store.workspace_setting(world.workspace, "other").await.unwrap(), None);
    assert_eq!(store.workspace_setting(other, "llm").await.unwrap(), None);

    // Saving again replaces the document.
    let second = serde_json::json!({"enabled": false});
    store.save_workspace_setting(world.workspace, "llm", second.clone()).await.unwrap();
    store.save_workspace_setting(other, "llm", serde_json::json!({"model": "m"})).await.unwrap();
    let reopened = (harness.reopen)();
    assert_eq!(reopened.workspace_setting(world.workspace, "llm").await.unwrap(), Some(second));
    assert_eq!(
        reopened.workspace_setting(other, "llm").await.unwrap(),
        Some(serde_json::json!({"model": "m"}))
    );

    assert!(matches!(
        reopened.save_workspace_setting(WorkspaceId(999_999), "llm", serde_json::json!({})).await,
        Err(StoreError::NotFound(_))
    ));
}

fn decision_with_llm(llm: Option<tandem_domain::LlmRecord>) -> tandem_domain::DecisionRecord {
    tandem_domain::DecisionRecord {
        query: "退货期多久".into(),
        outcome: tandem_domain::TurnOutcome::Answer,
        threshold: 0.35,
        candidates: Vec::new(),
        knowledge_version: "1 articles".into(),
        latency_us: 120,
        action: None,
        llm,
        parts: Vec::new(),
    }
}

fn llm_record(outcome: &str, tokens: (u64, u64), cost: f64) -> tandem_domain::LlmRecord {
    tandem_domain::LlmRecord {
        attempts: u32::from(outcome != "skipped"),
        prompt_tokens: tokens.0,
        completion_tokens: tokens.1,
        cost,
        latency_ms: 800,
        ..tandem_domain::LlmRecord::new(tandem_domain::LlmOutcome::parse(outcome).unwrap())
    }
}

pub async fn llm_usage_adds_up_a_workspaces_model_calls_since_a_time(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let before = now_millis();
    assert_eq!(
        store.llm_usage(world.workspace, 0).await.unwrap(),
        tandem_domain::LlmUsage::default()
    );
    let conversation =
        store.append_message(customer_message(&world, "hi", None)).await.unwrap().conversation;
    let bot_reply = |target, llm| NewMessage {
        target: MessageTarget::Conversation(target),
        author_kind: AuthorKind::Bot,
        decision: Some(decision_with_llm(llm)),
        reopen_if_resolved: false,
        ..customer_message(&world, "30 天内可以退货", None)
    };
    for llm in [
        Some(llm_record("used", (300, 40), 0.25)),
        Some(llm_record("used", (320, 50), 0.25)),
        Some(llm_record("rejected", (310, 45), 0.5)),
        Some(llm_record("refused", (290, 5), 0.125)),
        Some(llm_record("error", (0, 0), 0.0)),
        Some(llm_record("skipped", (0, 0), 0.0)),
        // A turn that never involved the model counts for nothing.
        None,
    ] {
        store.append_message(bot_reply(conversation.id, llm)).await.unwrap();
    }

    // Another workspace's calls are its own.
    let other = store.create_workspace("Other Shop").await.unwrap().id;
    let other_inbox = store
        .create_inbox(NewInbox {
            workspace_id: other,
            name: "Website".into(),
            channel: Channel::Web,
            public_key: "pk_test_other".into(),
            bot_name: "Bot".into(),
        })
        .await
        .unwrap();
    let other_customer = store
        .create_customer(NewCustomer {
            workspace_id: other,
            name: "Visitor".into(),
            email: None,
            locale: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let other_conversation = store
        .append_message(NewMessage {
            target: MessageTarget::CustomerLatest {
                inbox_id: other_inbox.id,
                customer_id: other_customer.id,
            },
            ..customer_message(&world, "hello", None)
        })
        .await
        .unwrap()
        .conversation;
    store
        .append_message(bot_reply(
            other_conversation.id,
            Some(llm_record("used", (1000, 100), 4.0)),
        ))
        .await
        .unwrap();

    // The hand-off summary the model wrote counts too.
    store
        .route(
            conversation.id,
            RouteChange {
                transition: Some(Transition::Escalate),
                packet: Some(handoff_packet(conversation.id)),
                ..RouteChange::default()
            },
        )
        .await
        .unwrap();
    let summary = tandem_domain::ModelSummary {
        text: Some("客户问退货期限。".into()),
        llm: llm_record("used", (100, 20), 0.5),
    };
    store.set_model_summary(conversation.id, summary).await.unwrap();

    let usage = store.llm_usage(world.workspace, before).await.unwrap();
    assert_eq!(
        (usage.calls, usage.used, usage.rejected, usage.refused, usage.error, usage.skipped),
        (6, 3, 1, 1, 1, 1)
    );
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1320, 160));
    assert_eq!(usage.cost, 1.625);
    let theirs = store.llm_usage(other, 0).await.unwrap();
    assert_eq!((theirs.calls, theirs.prompt_tokens, theirs.cost), (1, 1000, 4.0));
    assert_eq!(
        store.llm_usage(world.workspace, now_millis() + 60_000).await.unwrap(),
        tandem_domain::LlmUsage::default(),
        "nothing was stored after `since`"
    );
}

pub async fn handled_conversations_and_suggestion_decisions_are_kept(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    // Another customer's conversation, which the bot alone answered.
    let other = store
        .create_customer(NewCustomer {
            workspace_id: world.workspace,
            name: "韩梅梅".into(),
            email: None,
            locale: Some(Locale::Zh),
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let bot_only = World {
        workspace: world.workspace,
        inbox: world.inbox.clone(),
        customer: other,
        agent: world.agent.clone(),
    };
    store.append_message(customer_message(&bot_only, "营业时间", None)).await.unwrap();
    let handled = store
        .append_message(customer_message(&world, "钱啥时候退回来", None))
        .await
        .unwrap()
        .conversation;
    let by_agent = |kind, body: &str| NewMessage {
        target: MessageTarget::Conversation(handled.id),
        author_kind: kind,
        author_id: Some(world.agent.id.0),
        author_name: Some(world.agent.display_name.clone()),
        body: body.into(),
        client_msg_id: None,
        reopen_if_resolved: false,
        only_while_bot_owns: false,
        meta: None,
        decision: None,
        sentiment: None,
    };
    store.append_message(by_agent(AuthorKind::Note, "查一下退款单")).await.unwrap();
    store.append_message(by_agent(AuthorKind::Agent, "3 个工作日内原路退回。")).await.unwrap();
    let found = store.handled_conversations(world.workspace, 0, 10).await.unwrap();
    assert_eq!(found.len(), 1, "only the conversation an agent answered");
    let tandem_store::HandledConversation { id, created_at, messages } = &found[0];
    assert_eq!(*id, handled.id);
    assert_eq!(*created_at, handled.created_at, "with the day it began");
    let bodies: Vec<&str> = messages.iter().map(|message| message.body.as_str()).collect();
    assert_eq!(bodies, ["钱啥时候退回来", "3 个工作日内原路退回。"], "notes are left out");
    let later = messages[0].created_at + 60_000;
    assert!(store.handled_conversations(world.workspace, later, 10).await.unwrap().is_empty());

    let decision = |accepted, version| tandem_store::SuggestionDecision {
        kind: "variant".into(),
        subject: "refund-time:钱啥时候退回来".into(),
        accepted,
        article_key: Some("refund-time".into()),
        article_version: version,
        conversation_ids: vec![handled.id.0],
        decided_by: Some(world.agent.id),
        decided_at: 1,
    };
    store.decide_suggestions(world.workspace, vec![decision(false, None)]).await.unwrap();
    // Deciding again replaces the decision.
    store.decide_suggestions(world.workspace, vec![decision(true, Some(2))]).await.unwrap();
    let decisions = store.suggestion_decisions(world.workspace).await.unwrap();
    assert_eq!(decisions, vec![decision(true, Some(2))]);
    let other = store.create_workspace("Other").await.unwrap().id;
    assert!(store.suggestion_decisions(other).await.unwrap().is_empty());
}

pub async fn conversation_facts_follow_every_change_in_its_transaction(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let first =
        NewMessage { sentiment: Some(-0.6), ..customer_message(&world, "耳机坏了", None) };
    let conversation = store.append_message(first).await.unwrap().conversation;
    let facts = |store: Arc<dyn Store>| async move {
        store.facts_of(world.workspace, vec![conversation.id]).await.unwrap().remove(0)
    };
    let started = facts(store.clone()).await;
    assert_eq!((started.customer_messages, started.sentiment_first), (1, Some(-0.6)));
    assert_eq!(started.channel, Channel::Web);
    let handoff = RouteChange {
        transition: Some(Transition::Escalate),
        packet: Some(handoff_packet(conversation.id)),
        ..RouteChange::default()
    };
    store.route(conversation.id, handoff).await.unwrap();
    let assign = RouteChange {
        transition: Some(Transition::Assign { agent: world.agent.id }),
        ..RouteChange::default()
    };
    store.route(conversation.id, assign).await.unwrap();
    let reply = NewMessage {
        target: MessageTarget::Conversation(conversation.id),
        author_kind: AuthorKind::Agent,
        author_id: Some(world.agent.id.0),
        author_name: Some(world.agent.display_name.clone()),
        ..customer_message(&world, "给您换一副", None)
    };
    store.append_message(reply).await.unwrap();
    let resolve = RouteChange { transition: Some(Transition::Resolve), ..RouteChange::default() };
    store.route(conversation.id, resolve).await.unwrap();
    let done = facts(store.clone()).await;
    assert!(done.handed_off_at.is_some() && done.assigned_at.is_some());
    assert_eq!(done.reasons, [tandem_domain::Reason::Complaint]);
    assert_eq!((done.agent_messages, done.agent_id), (1, Some(world.agent.id)));
    assert_eq!(done.state, ConversationState::Resolved);
    assert!(done.resolved_at.is_some() && done.reopened_at.is_none());
    assert!(done.first_response_ms().is_some());
    // A rating is kept on the conversation and in its facts; a second one replaces it.
    let rating = |stars| tandem_store::Rating {
        rating: Some(stars),
        comment: Some("快".into()),
        answers: BTreeMap::from([("solved".into(), serde_json::json!(true))]),
        rated_at: 0,
    };
    store.rate_conversation(conversation.id, rating(3)).await.unwrap();
    store.rate_conversation(conversation.id, rating(5)).await.unwrap();
    assert_eq!(facts(store.clone()).await.csat, Some(5));
    let kept = store.rating(conversation.id).await.unwrap().unwrap();
    assert_eq!((kept.rating, kept.comment.as_deref()), (Some(5), Some("快")));
    // The customer writes again: reopened, and a reopened conversation cannot be rated.
    let again = NewMessage { sentiment: Some(0.5), ..customer_message(&world, "还是坏", None) };
    store.append_message(again).await.unwrap();
    let reopened = facts(store.clone()).await;
    assert!(reopened.reopened());
    assert_eq!(reopened.sentiment_shift(), Some(1.1));
    let refused = store.rate_conversation(conversation.id, rating(1)).await.unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(tandem_store::Conflict::NotResolved { .. })));
    let all = store.conversation_facts(world.workspace, 0, i64::MAX).await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(store.conversation_facts(world.workspace, 0, 1).await.unwrap().is_empty());
}

pub async fn imported_history_is_all_or_nothing_and_idempotent(harness: Harness) {
    use tandem_store::{ImportedConversation, ImportedMessage};
    let store = &harness.store;
    let world = world(store).await;
    let message = |author_kind, body: &str, at| ImportedMessage {
        author_kind,
        body: body.into(),
        at,
        agent: (author_kind == AuthorKind::Agent).then(|| "fang@example.com".to_owned()),
        source: None,
        sentiment: None,
    };
    let conversation = |id: &str| ImportedConversation {
        external_id: id.into(),
        created_at: 1_000,
        channel: Channel::Email,
        customer_external_id: Some("u-77".into()),
        customer_name: "Emily".into(),
        customer_email: Some("emily@example.com".into()),
        customer_phone: None,
        customer_tier: Some("vip".into()),
        queue: None,
        tags: vec!["refund".into()],
        messages: vec![
            message(AuthorKind::Customer, "Where is my refund?", 1_000),
            message(AuthorKind::Agent, "Sent today.", 61_000),
            message(AuthorKind::Customer, "Thanks, got it", 200_000),
        ],
        handed_off_at: None,
        assigned_at: None,
        resolved_at: Some(100_000),
        csat: Some(4),
        csat_comment: Some("ok".into()),
    };
    let summary = store
        .import_conversations(world.workspace, vec![conversation("zd-1"), conversation("zd-2")])
        .await
        .unwrap();
    assert_eq!((summary.imported, summary.skipped), (2, 0));
    let again = store
        .import_conversations(world.workspace, vec![conversation("zd-2"), conversation("zd-3")])
        .await
        .unwrap();
    assert_eq!((again.imported, again.skipped), (1, 1), "the same external id is skipped");
    let facts = store.conversation_facts(world.workspace, 0, i64::MAX).await.unwrap();
    assert_eq!(facts.len(), 3);
    let one = &facts[0];
    assert_eq!(one.external_id.as_deref(), Some("zd-1"));
    assert_eq!(
        (one.channel, one.csat, one.agent_id),
        (Channel::Email, Some(4), Some(world.agent.id))
    );
    assert_eq!(one.first_response_ms(), Some(60_000), "no bot: from the first customer message");
    assert!(one.reopened(), "a customer message after the resolution reopens");
    assert_eq!(one.tags, ["refund"]);
    let customers: HashSet<_> = facts.iter().map(|facts| facts.customer_id).collect();
    assert_eq!(customers.len(), 1, "one customer by external id");
    // A workspace without an inbox to file them under refuses the batch and keeps nothing.
    let other = store.create_workspace("Empty").await.unwrap().id;
    let batch = vec![conversation("zd-1"), conversation("zd-2")];
    let refused = store.import_conversations(other, batch).await.unwrap_err();
    assert!(matches!(refused, StoreError::NotFound(Entity::Inbox)), "{refused:?}");
    assert_eq!(store.conversation_facts(other, 0, i64::MAX).await.unwrap().len(), 0);
}

pub async fn conversation_texts_are_each_conversations_opening(harness: Harness) {
    use tandem_store::{ImportedConversation, ImportedMessage};
    let store = &harness.store;
    let world = world(store).await;
    let message = |author_kind, body: &str, source: Option<&str>| ImportedMessage {
        author_kind,
        body: body.into(),
        at: 0,
        agent: None,
        source: source.map(str::to_owned),
        sentiment: None,
    };
    let conversation = |id: &str, created_at, messages| ImportedConversation {
        external_id: id.into(),
        created_at,
        channel: Channel::Web,
        customer_external_id: None,
        customer_name: "Emily".into(),
        customer_email: None,
        customer_phone: None,
        customer_tier: None,
        queue: None,
        tags: Vec::new(),
        messages,
        handed_off_at: None,
        assigned_at: None,
        resolved_at: None,
        csat: None,
        csat_comment: None,
    };
    let batch = vec![
        conversation("old", 1_000, vec![message(AuthorKind::Customer, "too old", None)]),
        conversation(
            "answered",
            5_000,
            vec![
                message(AuthorKind::System, "hello", None),
                message(AuthorKind::Customer, "charger is hot", None),
                message(AuthorKind::Bot, "see this", Some("charger-safety")),
                message(AuthorKind::Customer, "still hot", None),
            ],
        ),
        conversation("silent", 6_000, vec![message(AuthorKind::Bot, "hi", None)]),
    ];
    store.import_conversations(world.workspace, batch).await.unwrap();
    let texts = store.conversation_texts(world.workspace, 2_000).await.unwrap();
    let openings: Vec<_> = texts
        .iter()
        .map(|text| {
            (text.created_at, text.first_customer_message.as_deref(), text.source.as_deref())
        })
        .collect();
    assert_eq!(
        openings,
        [(5_000, Some("charger is hot"), Some("charger-safety")), (6_000, None, None)]
    );
    let other = store.create_workspace("Other").await.unwrap().id;
    assert!(store.conversation_texts(other, 0).await.unwrap().is_empty());
}

pub async fn insight_alerts_are_raised_once_and_announced(harness: Harness) {
    use tandem_domain::WebhookEventType as Event;
    let store = &harness.store;
    let world = world(store).await;
    store
        .create_webhook_endpoint(tandem_store::NewWebhookEndpoint {
            workspace_id: world.workspace,
            url: "https://example.com/hook".into(),
            description: String::new(),
            events: vec![Event::InsightAlert],
            active: true,
            secret: "whsec_test".into(),
            inbox_id: None,
        })
        .await
        .unwrap();
    let alert = tandem_store::NewInsightAlert {
        key: "t1:2026-09-24".into(),
        alert: serde_json::json!({"label": "充电器 / 发烫", "count": 70}),
    };
    let raised = store.raise_insight_alert(world.workspace, alert.clone()).await.unwrap();
    assert!(raised.is_some());
    assert_eq!(store.raise_insight_alert(world.workspace, alert).await.unwrap(), None);
    let alerts = store.insight_alerts(world.workspace, 0).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].alert["count"], 70);
    assert_eq!(raised.unwrap().id, alerts[0].id, "the alert's own id, not its event's");
    let due = store.claim_webhooks(i64::MAX, i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 1, "one insight.alert event for the one alert");
    store.dismiss_insight_alert(world.workspace, alerts[0].id).await.unwrap();
    let dismissed = store.insight_alerts(world.workspace, 0).await.unwrap();
    assert!(dismissed[0].dismissed_at.is_some());
    let missing = store.dismiss_insight_alert(world.workspace, 9_999).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(Entity::InsightAlert)));
}

/// The bot's business action and the model's reply are in the audit log from the transaction
/// of the reply that carries their decision record; a turn that only asked a question or did
/// not use the model leaves nothing.
pub async fn a_bot_turns_action_and_model_reply_are_audited_with_the_reply(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    // The workspace's model, as its settings document names it.
    let settings =
        serde_json::json!({ "model": "qwen-plus", "base_url": "https://llm.example/v1" });
    store.save_workspace_setting(world.workspace, "llm", settings).await.unwrap();
    let conversation =
        store.append_message(customer_message(&world, "查订单", None)).await.unwrap().conversation;
    let reply = |decision| NewMessage {
        target: MessageTarget::Conversation(conversation.id),
        author_kind: AuthorKind::Bot,
        decision: Some(decision),
        reopen_if_resolved: false,
        ..customer_message(&world, "您的订单已发货", None)
    };
    let mut action = decision_with_llm(Some(llm_record("used", (300, 40), 0.25)));
    let mut record =
        tandem_domain::ActionRecord::new("order_status", tandem_domain::ActionOutcome::Done);
    record.params.insert("order".into(), "A-1001".into());
    action.action = Some(record);
    store.append_message(reply(action)).await.unwrap();
    let mut asking = decision_with_llm(Some(llm_record("error", (0, 0), 0.0)));
    asking.action = Some(tandem_domain::ActionRecord::new(
        "order_status",
        tandem_domain::ActionOutcome::Asking,
    ));
    store.append_message(reply(asking)).await.unwrap();

    let entries =
        store.audit(world.workspace, tandem_store::AuditFilter::default(), 10, None).await.unwrap();
    let actions: Vec<(&str, tandem_store::AuditActorKind)> =
        entries.iter().map(|entry| (entry.action.as_str(), entry.actor_kind)).collect();
    assert_eq!(
        actions,
        [
            ("model.reply.used", tandem_store::AuditActorKind::Model),
            ("bot.action", tandem_store::AuditActorKind::Bot),
        ]
    );
    let target = format!("conversation:{}", conversation.id);
    assert!(entries.iter().all(|entry| entry.target == target));
    assert_eq!(entries[0].actor_name, "qwen-plus", "the model is named");
    assert_eq!(entries[1].detail["outcome"], "done");
    assert!(!entries[1].detail.to_string().contains("A-1001"), "parameters are the customer's");
}

/// An endpoint bound to an inbox (an API channel's) hears only that inbox's conversations, and
/// its deliveries about a conversation go one at a time, in the order of the messages: a later
/// one waits while an earlier one is pending, retries included. (Workspace-wide endpoints are
/// sent what is due at once, as before.)
pub async fn an_inbox_endpoint_hears_its_inbox_in_order(harness: Harness) {
    use tandem_domain::WebhookEventType as Event;
    use tandem_store::{WebhookAttempt, WebhookOutcome};
    let store = &harness.store;
    let world = world(store).await;
    let other_inbox = store
        .create_inbox(NewInbox {
            workspace_id: world.workspace,
            name: "App".into(),
            channel: Channel::Api,
            public_key: format!("pk_app_{}", world.workspace.0),
            bot_name: "Bot".into(),
        })
        .await
        .unwrap();
    let mut bound = webhook_endpoint(&world, &[Event::MessageCreated, Event::InsightAlert], true);
    bound.inbox_id = Some(world.inbox.id);
    let bound = store.create_webhook_endpoint(bound).await.unwrap();
    assert_eq!(bound.inbox_id, Some(world.inbox.id));
    let mut elsewhere = webhook_endpoint(&world, &[Event::MessageCreated], true);
    elsewhere.inbox_id = Some(other_inbox.id);
    let elsewhere = store.create_webhook_endpoint(elsewhere).await.unwrap();
    assert_eq!(
        store.webhook_endpoint(elsewhere.id).await.unwrap().unwrap().inbox_id,
        elsewhere.inbox_id
    );

    for body in ["一", "二", "三"] {
        store.append_message(customer_message(&world, body, None)).await.unwrap();
    }
    let alert = tandem_store::NewInsightAlert { key: "k".into(), alert: serde_json::json!({}) };
    store.raise_insight_alert(world.workspace, alert).await.unwrap();
    assert!(store.webhook_deliveries(elsewhere.id, 10).await.unwrap().is_empty(), "not its inbox");
    assert_eq!(store.webhook_deliveries(bound.id, 10).await.unwrap().len(), 3, "no alert");

    let now = now_millis();
    let body = |due: &tandem_store::DueWebhook| due.event.data["message"]["body"].clone();
    let first = store.claim_webhooks(now, now + 30_000, 10).await.unwrap();
    assert_eq!(first.iter().map(body).collect::<Vec<_>>(), ["一"], "one at a time");
    assert_eq!(first[0].inbox_id, Some(world.inbox.id), "the claim names the endpoint's inbox");
    let retry = WebhookAttempt {
        at: now,
        response_status: Some(503),
        error: Some("HTTP 503".into()),
        outcome: WebhookOutcome::RetryAt(now + 10_000),
    };
    store.finish_webhook(first[0].delivery.id, retry).await.unwrap();
    assert!(store.claim_webhooks(now + 1, now + 30_000, 10).await.unwrap().is_empty());
    // Another conversation of the inbox is not held up by this one's retry.
    let someone = store
        .create_customer(NewCustomer {
            workspace_id: world.workspace,
            name: "Ada".into(),
            email: None,
            locale: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let target =
        MessageTarget::CustomerLatest { inbox_id: world.inbox.id, customer_id: someone.id };
    let other = NewMessage { target, ..customer_message(&world, "另一位", None) };
    store.append_message(other).await.unwrap();
    let meanwhile = store.claim_webhooks(now_millis(), now_millis() + 30_000, 10).await.unwrap();
    assert_eq!(meanwhile.iter().map(body).collect::<Vec<_>>(), ["另一位"]);
    assert_eq!(store.next_webhook_due().await.unwrap(), Some(now + 10_000), "the retry is next");
    let again = store.claim_webhooks(now + 10_000, now + 40_000, 10).await.unwrap();
    assert_eq!(again.iter().map(body).collect::<Vec<_>>(), ["一"]);
    let delivered = WebhookAttempt {
        at: now,
        response_status: Some(204),
        error: None,
        outcome: WebhookOutcome::Delivered,
    };
    store.finish_webhook(again[0].delivery.id, delivered.clone()).await.unwrap();
    let second = store.claim_webhooks(now + 10_000, now + 40_000, 10).await.unwrap();
    assert_eq!(second.iter().map(body).collect::<Vec<_>>(), ["二"]);
    let gave_up = WebhookAttempt { outcome: WebhookOutcome::Failed, ..delivered };
    store.finish_webhook(second[0].delivery.id, gave_up).await.unwrap();
    let third = store.claim_webhooks(now + 10_000, now + 40_000, 10).await.unwrap();
    assert_eq!(
        third.iter().map(body).collect::<Vec<_>>(),
        ["三"],
        "a failed one holds nothing back"
    );
}

pub async fn merging_two_customers_moves_their_conversations_and_undo_restores_them(
    harness: Harness,
) {
    use tandem_store::Conflict;
    let store = &harness.store;
    let world = world(store).await;
    // The anonymous visitor (world.customer: locale zh, tier vip) wrote on the widget; the
    // verified customer of the API channel has an e-mail and an external id.
    let visitor_first = store.append_message(customer_message(&world, "在吗", None)).await.unwrap();
    let verified_customer = store
        .verified_customer(tandem_store::VerifiedCustomer {
            email: Some("lilei@example.cn".into()),
            attributes: BTreeMap::from([("city".into(), "上海".into())]),
            ..verified(world.workspace, "u-7")
        })
        .await
        .unwrap();
    assert_eq!(verified_customer.locale, None);
    // The same person on the API channel.
    let world = World { customer: verified_customer.clone(), ..world };
    let verified_first =
        store.append_message(customer_message(&world, "订单 A100", None)).await.unwrap();
    let visitor = store.customer(visitor_first.conversation.customer_id).await.unwrap().unwrap();
    let keep = verified_customer.id;

    // Refused: into itself, across workspaces, unknown customers.
    assert!(matches!(
        store.merge_customers(world.workspace, keep, keep, None).await,
        Err(StoreError::Conflict(Conflict::MergeIntoItself(id))) if id == keep
    ));
    let other = store.create_workspace("Other").await.unwrap().id;
    assert!(matches!(
        store.merge_customers(other, keep, visitor.id, None).await,
        Err(StoreError::NotFound(Entity::Customer))
    ));

    // The visitor's (widget) history merged into the verified customer.
    let merge = store
        .merge_customers(world.workspace, keep, visitor.id, Some(world.agent.id))
        .await
        .unwrap();
    assert_eq!((merge.keep, merge.merged, merge.by), (keep, visitor.id, Some(world.agent.id)));
    assert_eq!(merge.conversations, vec![visitor_first.conversation.id]);
    assert_eq!(
        merge.filled,
        BTreeMap::from([
            ("attributes.tier".to_owned(), "vip".to_owned()),
            ("locale".to_owned(), "zh".to_owned()),
        ])
    );
    assert_eq!(store.customer_history(keep).await.unwrap().conversations, 2);
    assert_eq!(store.customer_history(visitor.id).await.unwrap().conversations, 0);
    let kept = store.customer(keep).await.unwrap().unwrap();
    assert_eq!(kept.locale, Some(Locale::Zh));
    assert_eq!(kept.email.as_deref(), Some("lilei@example.cn"));
    assert_eq!(kept.attributes.get("tier").map(String::as_str), Some("vip"));
    assert_eq!(kept.attributes.get("city").map(String::as_str), Some("上海"));
    let facts = store
        .facts_of(
            world.workspace,
            vec![visitor_first.conversation.id, verified_first.conversation.id],
        )
        .await
        .unwrap();
    assert!(facts.iter().all(|fact| fact.customer_id == keep), "{facts:?}");
    assert_eq!(
        store.customer_merges(world.workspace, visitor.id).await.unwrap(),
        vec![merge.clone()]
    );
    assert_eq!(store.customer_merges(world.workspace, keep).await.unwrap(), vec![merge.clone()]);

    // Merged away: neither side of another merge.
    assert!(matches!(
        store.merge_customers(world.workspace, visitor.id, keep, None).await,
        Err(StoreError::Conflict(Conflict::CustomerMergedAway(id))) if id == visitor.id
    ));
    // A later message from the visitor's widget session goes to the kept customer
    let visitor_world = World { customer: visitor.clone(), ..world };
    let later =
        store.append_message(customer_message(&visitor_world, "还在吗", None)).await.unwrap();
    assert_eq!(later.conversation.customer_id, keep);
    // (the kept customer's newest conversation in the inbox).
    assert_eq!(later.conversation.id, verified_first.conversation.id);

    // Undone: the conversation goes back, the filled fields are taken back.
    let undone = store.undo_customer_merge(visitor_world.workspace, merge.id, None).await.unwrap();
    assert!(undone.undone_at.is_some());
    assert_eq!(store.customer_history(keep).await.unwrap().conversations, 1);
    assert_eq!(store.customer_history(visitor.id).await.unwrap().conversations, 1);
    let kept = store.customer(keep).await.unwrap().unwrap();
    assert_eq!(kept.locale, None);
    assert_eq!(kept.attributes, BTreeMap::from([("city".into(), "上海".into())]));
    assert_eq!(kept.email.as_deref(), Some("lilei@example.cn"));
    let facts =
        store.facts_of(visitor_world.workspace, vec![visitor_first.conversation.id]).await.unwrap();
    assert!(facts.iter().all(|fact| fact.customer_id == visitor.id), "{facts:?}");
    assert!(matches!(
        store.undo_customer_merge(visitor_world.workspace, merge.id, None).await,
        Err(StoreError::Conflict(Conflict::MergeUndone(id))) if id == merge.id
    ));
    assert!(matches!(
        store.undo_customer_merge(other, merge.id, None).await,
        Err(StoreError::NotFound(Entity::CustomerMerge))
    ));
    // The visitor writes in its own conversation again.
    let again = store.append_message(customer_message(&visitor_world, "好的", None)).await.unwrap();
    assert_eq!(again.conversation.customer_id, visitor.id);

    // The other way round, the verified customer's external id moves to the kept visitor and
    // comes back on undo.
    let merge =
        store.merge_customers(visitor_world.workspace, visitor.id, keep, None).await.unwrap();
    assert_eq!(merge.filled.get("external_id").map(String::as_str), Some("u-7"));
    assert_eq!(
        store.customer(visitor.id).await.unwrap().unwrap().external_id.as_deref(),
        Some("u-7")
    );
    store.undo_customer_merge(visitor_world.workspace, merge.id, None).await.unwrap();
    assert_eq!(store.customer(visitor.id).await.unwrap().unwrap().external_id, None);
    assert_eq!(store.customer(keep).await.unwrap().unwrap().external_id.as_deref(), Some("u-7"));

    // Erasing the kept customer takes its merges along; the merged one is used again.
    store.merge_customers(visitor_world.workspace, keep, visitor.id, None).await.unwrap();
    store.erase_customer(visitor_world.workspace, keep, None).await.unwrap();
    assert_eq!(store.customer_merges(visitor_world.workspace, visitor.id).await.unwrap(), vec![]);
    let alone = store.append_message(customer_message(&visitor_world, "你好", None)).await.unwrap();
    assert_eq!(alone.conversation.customer_id, visitor.id);
}

fn identified(world: &World, value: &str, verified: bool) -> tandem_store::IdentifiedCustomer {
    tandem_store::IdentifiedCustomer {
        workspace_id: world.workspace,
        kind: tandem_domain::IdentityKind::Email,
        value: value.into(),
        verified,
        name: value.into(),
        email: Some(value.into()),
        locale: None,
        attributes: BTreeMap::new(),
    }
}

pub async fn a_new_conversation_target_starts_another_conversation(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let first = store.append_message(customer_message(&world, "first thread", None)).await.unwrap();
    let mut feed = store.subscribe();
    let target =
        MessageTarget::NewConversation { inbox_id: world.inbox.id, customer_id: world.customer.id };
    let new_thread = NewMessage {
        target,
        ..customer_message(&world, "second thread", Some("<m2@example.com>"))
    };
    let second = store.append_message(new_thread.clone()).await.unwrap();
    assert!(second.created);
    assert_ne!(second.conversation.id, first.conversation.id);
    assert_eq!(second.conversation.state, ConversationState::Bot);
    assert_eq!(second.message.seq, 1);
    // Created as `CustomerLatest` creates one: announced, with its report facts.
    loop {
        match feed.recv().await.unwrap() {
            Change::Conversation(created) if created.id == second.conversation.id => break,
            Change::Message { conversation, .. } => {
                assert_ne!(conversation.id, second.conversation.id, "announced before its message")
            }
            _ => {}
        }
    }
    let facts = store.facts_of(world.workspace, vec![second.conversation.id]).await.unwrap();
    assert_eq!(facts.len(), 1);
    // A retried delivery answers the stored message.
    let retry = store.append_message(new_thread).await.unwrap();
    assert!(!retry.created);
    assert_eq!(retry.message.id, second.message.id);
    let conversations = store.customer_conversations(world.customer.id, 10).await.unwrap();
    assert_eq!(conversations.len(), 2);
    // The customer's latest conversation is now the new one.
    let next = store.append_message(customer_message(&world, "more", None)).await.unwrap();
    assert_eq!(next.conversation.id, second.conversation.id);
}

pub async fn identities_find_or_create_one_customer_under_concurrency(harness: Harness) {
    use tandem_domain::IdentityKind;
    use tandem_store::Attached;
    let store = &harness.store;
    let world = world(store).await;
    let calls = (0..8).map(|_| {
        let store = store.clone();
        let wanted = identified(&world, "ada@example.com", false);
        tokio::spawn(async move { store.identified_customer(wanted).await })
    });
    let found = join_all(calls).await;
    let ids: HashSet<_> = found.iter().map(|customer| customer.id).collect();
    assert_eq!(ids.len(), 1, "{found:?}");
    let ada = found[0].clone();
    assert_eq!(
        (ada.name.as_str(), ada.email.as_deref()),
        ("ada@example.com", Some("ada@example.com"))
    );
    let identities = store.customer_identities(ada.id).await.unwrap();
    assert_eq!(identities.len(), 1);
    assert_eq!(
        (identities[0].kind, identities[0].value.as_str()),
        (IdentityKind::Email, "ada@example.com")
    );
    assert!(!identities[0].verified);
    // A verified call finds the same customer and marks the identity verified.
    let again =
        store.identified_customer(identified(&world, "ada@example.com", true)).await.unwrap();
    assert_eq!(again.id, ada.id);
    assert!(store.customer_identities(ada.id).await.unwrap()[0].verified);
    // Values are compared exactly: the caller normalises.
    let other = store.identified_customer(identified(&world, "ADA@example.com", false)).await;
    assert_ne!(other.unwrap().id, ada.id);

    // Attaching: new, already held, held by another (never moved).
    let attach = |customer, value: &'static str| {
        let store = store.clone();
        async move { store.attach_identity(customer, IdentityKind::Wecom, value, false).await }
    };
    assert_eq!(attach(ada.id, "wm_ada").await.unwrap(), Attached::Attached);
    assert_eq!(attach(ada.id, "wm_ada").await.unwrap(), Attached::Already);
    assert_eq!(attach(world.customer.id, "wm_ada").await.unwrap(), Attached::HeldBy(ada.id));
    assert_eq!(store.customer_identities(ada.id).await.unwrap().len(), 2);
    assert!(store.customer_identities(world.customer.id).await.unwrap().is_empty());
    let unknown = tandem_domain::CustomerId(world.customer.id.0 + 1000);
    assert!(matches!(attach(unknown, "wm_x").await, Err(StoreError::NotFound(Entity::Customer))));
}

pub async fn merging_moves_identities_and_undo_moves_them_back(harness: Harness) {
    use tandem_domain::IdentityKind;
    let store = &harness.store;
    let world = world(store).await;
    let ada =
        store.identified_customer(identified(&world, "ada@example.com", false)).await.unwrap();
    store.attach_identity(ada.id, IdentityKind::Phone, "+8613800138000", true).await.unwrap();
    let merge =
        store.merge_customers(world.workspace, world.customer.id, ada.id, None).await.unwrap();
    assert!(store.customer_identities(ada.id).await.unwrap().is_empty());
    let kept = store.customer_identities(world.customer.id).await.unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|identity| identity.customer_id == world.customer.id));
    // The identity now finds the kept customer.
    let found =
        store.identified_customer(identified(&world, "ada@example.com", false)).await.unwrap();
    assert_eq!(found.id, world.customer.id);
    let export = store.customer_export(world.workspace, world.customer.id).await.unwrap();
    assert_eq!(export.identities.len(), 2);

    store.undo_customer_merge(world.workspace, merge.id, None).await.unwrap();
    let back = store.customer_identities(ada.id).await.unwrap();
    let values: Vec<&str> = back.iter().map(|identity| identity.value.as_str()).collect();
    assert_eq!(back.len(), 2, "{values:?}");
    assert!(store.customer_identities(world.customer.id).await.unwrap().is_empty());
    let found =
        store.identified_customer(identified(&world, "ada@example.com", false)).await.unwrap();
    assert_eq!(found.id, ada.id);
}

pub async fn a_merged_away_holder_is_found_as_the_kept_customer(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let ada =
        store.identified_customer(identified(&world, "ada@example.com", false)).await.unwrap();
    store.merge_customers(world.workspace, world.customer.id, ada.id, None).await.unwrap();
    // Even an identity left with the merged customer (attached after the merge) leads to the
    // kept one, as the merged customer's widget sessions do.
    store
        .attach_identity(ada.id, tandem_domain::IdentityKind::Wechat, "openid_ada", false)
        .await
        .unwrap();
    let mut wanted = identified(&world, "openid_ada", false);
    wanted.kind = tandem_domain::IdentityKind::Wechat;
    assert_eq!(store.identified_customer(wanted).await.unwrap().id, world.customer.id);
}

pub async fn inbox_settings_round_trip_and_channel_inboxes_filter(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let other = store.create_workspace("Other Shop").await.unwrap().id;
    let inbox = |workspace: WorkspaceId, name: &str, channel: Channel| NewInbox {
        workspace_id: workspace,
        name: name.into(),
        channel,
        public_key: format!("pk_{name}_{}", workspace.0),
        bot_name: "Bot".into(),
    };
    let mail = store.create_inbox(inbox(world.workspace, "mail", Channel::Email)).await.unwrap();
    let unset = store.create_inbox(inbox(world.workspace, "unset", Channel::Email)).await.unwrap();
    let theirs = store.create_inbox(inbox(other, "theirs", Channel::Email)).await.unwrap();
    let wecom = store.create_inbox(inbox(other, "wecom", Channel::Wecom)).await.unwrap();
    assert_eq!(store.inbox_settings(mail.id).await.unwrap(), None);
    let settings = serde_json::json!({"imap": {"host": "imap.example.com", "password": "s3cret"}});
    store.set_inbox_settings(mail.id, settings.clone()).await.unwrap();
    assert_eq!(store.inbox_settings(mail.id).await.unwrap(), Some(settings.clone()));
    let replaced = serde_json::json!({"imap": {"host": "imap2.example.com"}});
    store.set_inbox_settings(mail.id, replaced.clone()).await.unwrap();
    store.set_inbox_settings(theirs.id, serde_json::json!({"n": 2})).await.unwrap();
    store.set_inbox_settings(wecom.id, serde_json::json!({"corp_id": "ww1"})).await.unwrap();
    let unknown = tandem_domain::InboxId(wecom.id.0 + 1000);
    assert!(matches!(
        store.set_inbox_settings(unknown, serde_json::json!({})).await,
        Err(StoreError::NotFound(Entity::Inbox))
    ));
    assert_eq!(store.inbox_settings(unknown).await.unwrap(), None);
    let email = store.channel_inboxes(Channel::Email).await.unwrap();
    let ids: Vec<_> = email.iter().map(|(inbox, _)| inbox.id).collect();
    assert_eq!(ids, [mail.id, theirs.id], "every workspace's, with settings, oldest first");
    assert_eq!(email[0].1, replaced);
    assert!(!ids.contains(&unset.id));
    let wecoms = store.channel_inboxes(Channel::Wecom).await.unwrap();
    assert_eq!(wecoms.len(), 1);
    assert_eq!(wecoms[0].0.channel, Channel::Wecom);
    assert!(store.channel_inboxes(Channel::Feishu).await.unwrap().is_empty());
}

pub async fn attachments_are_stored_with_their_conversation(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let conversation = store
        .append_message(customer_message(&world, "see attached", None))
        .await
        .unwrap()
        .conversation;
    let stored = store
        .store_attachment(tandem_store::NewAttachment {
            conversation_id: conversation.id,
            filename: "receipt.txt".into(),
            content_type: "text/plain".into(),
            data: b"abc".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!((stored.workspace_id, stored.conversation_id), (world.workspace, conversation.id));
    assert_eq!(stored.size, 3);
    assert_eq!(stored.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let second = store
        .store_attachment(tandem_store::NewAttachment {
            conversation_id: conversation.id,
            filename: "photo.png".into(),
            content_type: "image/png".into(),
            data: vec![0, 159, 146, 150, 255],
        })
        .await
        .unwrap();
    let (info, data) = store.attachment(second.id).await.unwrap().unwrap();
    assert_eq!(info, second);
    assert_eq!(data, [0, 159, 146, 150, 255]);
    assert_eq!(
        store.conversation_attachments(conversation.id).await.unwrap(),
        [stored.clone(), second.clone()]
    );
    assert!(store.attachment(second.id + 1000).await.unwrap().is_none());
    let unknown = tandem_domain::ConversationId(conversation.id.0 + 1000);
    let refused = store
        .store_attachment(tandem_store::NewAttachment {
            conversation_id: unknown,
            filename: "x".into(),
            content_type: "text/plain".into(),
            data: Vec::new(),
        })
        .await;
    assert!(matches!(refused, Err(StoreError::NotFound(Entity::Conversation))), "{refused:?}");
    // Retention takes the files with their conversation.
    store.transition(conversation.id, Transition::Resolve, None).await.unwrap();
    let erasure =
        store.delete_resolved_conversations(world.workspace, now_millis() + 1, 10).await.unwrap();
    assert_eq!(erasure.rows["attachments"], 2);
    assert!(store.attachment(stored.id).await.unwrap().is_none());
    assert!(store.conversation_attachments(conversation.id).await.unwrap().is_empty());
}

pub async fn a_reply_threads_into_the_conversation_of_the_message_it_names(harness: Harness) {
    let store = &harness.store;
    let world = world(store).await;
    let first = store
        .append_message(customer_message(&world, "hello", Some("<a@example.com>")))
        .await
        .unwrap();
    let target =
        MessageTarget::NewConversation { inbox_id: world.inbox.id, customer_id: world.customer.id };
    let second = store
        .append_message(NewMessage {
            target,
            ..customer_message(&world, "new topic", Some("<b@example.com>"))
        })
        .await
        .unwrap();
    let ids = |list: &[&str]| list.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    let find = |list: Vec<String>| {
        let store = store.clone();
        let inbox = world.inbox.id;
        async move { store.conversation_by_client_msg_ids(inbox, &list).await.unwrap() }
    };
    assert_eq!(find(ids(&["<a@example.com>"])).await.unwrap().id, first.conversation.id);
    assert_eq!(find(ids(&["<b@example.com>"])).await.unwrap().id, second.conversation.id);
    // Several named: the newest conversation.
    let both = ids(&["<x@example.com>", "<a@example.com>", "<b@example.com>"]);
    assert_eq!(find(both).await.unwrap().id, second.conversation.id);
    assert!(find(ids(&["<x@example.com>"])).await.is_none());
    assert!(find(Vec::new()).await.is_none());
    // Another inbox's messages are not this inbox's threads.
    let other_inbox =
        NewInbox { public_key: format!("pk_other_{}", world.workspace.0), ..inbox_of(&world) };
    let other = store.create_inbox(other_inbox).await.unwrap();
    let named = ids(&["<a@example.com>"]);
    let elsewhere = store.conversation_by_client_msg_ids(other.id, &named).await.unwrap();
    assert!(elsewhere.is_none());
}

pub async fn a_claimed_delivery_of_an_unbound_endpoint_names_no_inbox(harness: Harness) {
    use tandem_domain::WebhookEventType as Event;
    let store = &harness.store;
    let world = world(store).await;
    store
        .create_webhook_endpoint(webhook_endpoint(&world, &[Event::MessageCreated], true))
        .await
        .unwrap();
    store.append_message(customer_message(&world, "hi", None)).await.unwrap();
    let now = now_millis();
    let due = store.claim_webhooks(now, now + 30_000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].inbox_id, None);
}
