//! The relay against a real SQLite store: who speaks when.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tandem_domain::{AuthorKind, ConversationState, Locale, Message, Transition, TurnOutcome};
use tandem_flow::testing::{World, send, wait_for_messages, wait_until_queued, world};
use tandem_flow::{BotReply, PlaceholderResponder, Relay, RelayError, Responder, Turn};
use tandem_store::NewCustomer;
use tokio::sync::Notify;

mod routing;

#[tokio::test]
async fn bot_acknowledges_in_the_customers_language() {
    let world = world().await;
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let appended = relay.customer_message(send(&world, "你们几点关门？")).await.unwrap();
    let messages = wait_for_messages(&world, appended.conversation.id, 2).await;
    assert_eq!(messages[1].author_kind, AuthorKind::Bot);
    assert_eq!(messages[1].author_name.as_deref(), Some("小河"));
    assert!(messages[1].body.contains("小河"), "{}", messages[1].body);
    let english = relay.customer_message(send(&world, "when do you close?")).await.unwrap();
    let messages = wait_for_messages(&world, english.conversation.id, 4).await;
    assert!(messages[3].body.starts_with("Hi, I'm 小河"), "{}", messages[3].body);
}

#[tokio::test]
async fn asking_for_a_person_queues_the_conversation() {
    let world = world().await;
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let appended = relay.customer_message(send(&world, "转人工")).await.unwrap();
    wait_for_messages(&world, appended.conversation.id, 2).await;
    wait_until_queued(&world.store, appended.conversation.id).await;
}

#[tokio::test]
async fn bot_stays_silent_while_a_person_owns_the_conversation() {
    let world = world().await;
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let first = relay.customer_message(send(&world, "hello")).await.unwrap();
    wait_for_messages(&world, first.conversation.id, 2).await;
    let conversation = world.store.conversation(first.conversation.id).await.unwrap().unwrap();
    relay.agent_message(&conversation, &world.agent, "我来帮您", None, false).await.unwrap();
    let conversation = world.store.conversation(first.conversation.id).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::Human, "replying takes the conversation");
    // The relay says when it is done with the message: after that, nothing more comes of it.
    let reply = send_until_done(&relay, &world, "thanks, and another question").await;
    assert!(reply.is_none(), "the bot replied: {reply:?}");
    let messages = world.store.messages(conversation.id, 0, 100).await.unwrap();
    let kinds: Vec<AuthorKind> = messages.iter().map(|message| message.author_kind).collect();
    assert_eq!(
        kinds,
        [
            AuthorKind::Customer,
            AuthorKind::Bot,
            AuthorKind::System,
            AuthorKind::Agent,
            AuthorKind::Customer
        ]
    );
}

/// Sends `text` as the world's customer and waits (up to 10 s) until the relay is done with
/// it; returns the bot's reply, if it gave one.
async fn send_until_done(relay: &Relay, world: &World, text: &str) -> Option<Message> {
    let mut turns = relay.turns();
    let appended = relay.customer_message(send(world, text)).await.unwrap();
    let done = async {
        loop {
            let ended = turns.recv().await.expect("the relay's ended turns");
            if ended.message == appended.message.id {
                return ended.reply;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .unwrap_or_else(|_| panic!("the relay never finished with {text:?}"))
}

/// A responder that says when it has been asked, then waits until released, to take the
/// conversation mid-turn.
struct SlowResponder {
    asked: Arc<Notify>,
    release: Arc<Notify>,
}

#[async_trait]
impl Responder for SlowResponder {
    async fn respond(&self, _turn: &Turn) -> BotReply {
        self.asked.notify_one();
        self.release.notified().await;
        BotReply::text("late answer", TurnOutcome::Answer, false)
    }
}

/// A customer message stored as the relay stores it, with no bot turn run for it (yet).
async fn stored_without_a_turn(world: &World, body: &str) -> tandem_store::Appended {
    world
        .store
        .append_message(tandem_store::NewMessage {
            target: tandem_store::MessageTarget::CustomerLatest {
                inbox_id: world.inbox.id,
                customer_id: world.customer.id,
            },
            author_kind: AuthorKind::Customer,
            author_id: None,
            author_name: None,
            body: body.into(),
            client_msg_id: None,
            reopen_if_resolved: true,
            only_while_bot_owns: false,
            meta: None,
            decision: None,
            sentiment: None,
        })
        .await
        .unwrap()
}

/// A turn cut off by a restart (the message stored and acknowledged, no reply written) is run
/// by the next start, once; a graceful shutdown waits for the turns that are running.
#[tokio::test]
async fn turns_a_restart_cut_off_are_resumed_once_and_shutdown_waits_for_running_ones() {
    let world = world().await;
    let appended = stored_without_a_turn(&world, "还在吗？").await;
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    assert_eq!(relay.resume_turns().await.unwrap(), 1);
    let messages = wait_for_messages(&world, appended.conversation.id, 2).await;
    assert_eq!(messages[1].author_kind, AuthorKind::Bot);
    assert_eq!(relay.resume_turns().await.unwrap(), 0, "answered: nothing to resume");

    let (asked, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let responder = SlowResponder { asked: asked.clone(), release: release.clone() };
    let relay = Relay::new(world.store.clone(), Arc::new(responder));
    relay.customer_message(send(&world, "one more thing")).await.unwrap();
    asked.notified().await;
    assert_eq!(relay.finish_turns(Duration::from_millis(50)).await, 1, "still running");
    release.notify_one();
    assert_eq!(relay.finish_turns(Duration::from_secs(5)).await, 0);
    let messages = world.store.messages(appended.conversation.id, 0, 10).await.unwrap();
    assert_eq!(messages.last().map(|message| message.body.as_str()), Some("late answer"));
}

#[tokio::test]
async fn a_bot_reply_computed_before_a_takeover_is_dropped() {
    let world = world().await;
    let (asked, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let responder = SlowResponder { asked: asked.clone(), release: release.clone() };
    let relay = Relay::new(world.store.clone(), Arc::new(responder));
    let appended = stored_without_a_turn(&world, "help").await;
    let turn = tokio::spawn({
        let relay = relay.clone();
        let (inbox, customer, appended) =
            (world.inbox.clone(), world.customer.clone(), appended.clone());
        async move { relay.bot_turn(inbox, customer, appended).await }
    });
    // The bot is working on its answer when the person takes over.
    asked.notified().await;
    relay
        .agent_transition(
            &appended.conversation,
            Transition::Assign { agent: world.agent.id },
            "王芳",
        )
        .await
        .unwrap();
    release.notify_one();
    assert_eq!(turn.await.unwrap().unwrap(), None);
    let bodies: Vec<String> = world
        .store
        .messages(appended.conversation.id, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(
        bodies,
        ["help", "王芳 joined the conversation"],
        "system messages follow the customer's language"
    );
}

#[tokio::test]
async fn invalid_messages_are_rejected_before_storage() {
    let world = world().await;
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let blank = relay.customer_message(send(&world, "   ")).await;
    assert!(matches!(blank, Err(RelayError::Invalid(_))));
    let mut bad_id = send(&world, "hi");
    bad_id.client_msg_id = Some("not valid!".into());
    assert!(matches!(relay.customer_message(bad_id).await, Err(RelayError::Invalid(_))));
    assert!(
        world.store.latest_conversation(world.inbox.id, world.customer.id).await.unwrap().is_none()
    );
}

#[tokio::test]
async fn agents_cannot_reply_to_resolved_conversations_but_can_add_notes() {
    let world = world().await;
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let appended = relay.customer_message(send(&world, "bye")).await.unwrap();
    wait_for_messages(&world, appended.conversation.id, 2).await;
    let resolved =
        relay.agent_transition(&appended.conversation, Transition::Resolve, "王芳").await.unwrap();
    assert!(relay.agent_message(&resolved, &world.agent, "hello?", None, false).await.is_err());
    let note = relay
        .agent_message(&resolved, &world.agent, "customer was happy", None, true)
        .await
        .unwrap();
    assert_eq!(note.message.author_kind, AuthorKind::Note);
}

#[tokio::test]
async fn system_messages_follow_the_language_the_customer_writes() {
    let mut world = world().await;
    world.customer = world
        .store
        .create_customer(NewCustomer {
            workspace_id: world.inbox.workspace_id,
            name: "Visitor".into(),
            email: None,
            locale: Some(Locale::En),
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let appended = relay.customer_message(send(&world, "我的快递到哪了")).await.unwrap();
    wait_for_messages(&world, appended.conversation.id, 2).await;
    let conversation = world.store.conversation(appended.conversation.id).await.unwrap().unwrap();
    relay
        .agent_transition(&conversation, Transition::Assign { agent: world.agent.id }, "王芳")
        .await
        .unwrap();
    let messages = world.store.messages(conversation.id, 0, 10).await.unwrap();
    assert_eq!(messages.last().unwrap().body, "客服 王芳 已加入对话");
}

#[tokio::test]
async fn the_bots_answered_conversations_are_resolved_once_idle() {
    use tandem_domain::DecisionRecord;
    use tandem_store::{MessageTarget, NewMessage};
    let world = world().await;
    let store = &world.store;
    let said = |target, author_kind, body: &str, outcome: Option<TurnOutcome>| NewMessage {
        target,
        author_kind,
        author_id: None,
        author_name: None,
        body: body.into(),
        client_msg_id: None,
        reopen_if_resolved: true,
        meta: None,
        decision: outcome.map(|outcome| DecisionRecord {
            query: "q".into(),
            outcome,
            threshold: 0.3,
            candidates: Vec::new(),
            knowledge_version: "1".into(),
            latency_us: 1,
            action: None,
            llm: None,
            parts: Vec::new(),
        }),
        only_while_bot_owns: false,
        sentiment: None,
    };
    let latest =
        MessageTarget::CustomerLatest { inbox_id: world.inbox.id, customer_id: world.customer.id };
    let answered =
        store.append_message(said(latest, AuthorKind::Customer, "几点关门", None)).await.unwrap();
    let answered = MessageTarget::Conversation(answered.conversation.id);
    let outcome = Some(TurnOutcome::Answer);
    store.append_message(said(answered, AuthorKind::Bot, "晚上九点", outcome)).await.unwrap();
    // Another customer whose question the bot could not answer.
    let other = store
        .create_customer(NewCustomer {
            workspace_id: world.inbox.workspace_id,
            name: "访客 2".into(),
            email: None,
            locale: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let other = MessageTarget::CustomerLatest { inbox_id: world.inbox.id, customer_id: other.id };
    let unanswered = store.append_message(said(other, AuthorKind::Customer, "?", None)).await;
    let unanswered = MessageTarget::Conversation(unanswered.unwrap().conversation.id);
    let abstained = Some(TurnOutcome::Abstain);
    store.append_message(said(unanswered, AuthorKind::Bot, "不确定", abstained)).await.unwrap();

    let now = tandem_store::now_millis();
    let idle = 30 * 60_000;
    assert_eq!(tandem_flow::idle::resolve_idle(store, idle, now).await.unwrap(), 0, "not idle yet");
    let later = now + idle + 1_000;
    assert_eq!(tandem_flow::idle::resolve_idle(store, idle, later).await.unwrap(), 1);
    let MessageTarget::Conversation(id) = answered else { unreachable!() };
    let conversation = store.conversation(id).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::Resolved);
    let facts = store.facts_of(conversation.workspace_id, vec![id]).await.unwrap();
    assert!(facts[0].bot_resolved(), "it counts as resolved by the bot");
    let MessageTarget::Conversation(open) = unanswered else { unreachable!() };
    let open = store.conversation(open).await.unwrap().unwrap();
    assert_eq!(open.state, ConversationState::Bot, "an abstention is no answer");
    assert_eq!(tandem_flow::idle::resolve_idle(store, idle, later).await.unwrap(), 0);
}
