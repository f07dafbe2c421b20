//! Triage and routing end to end against SQLite: the policy hands off with a packet, the
//! routing service assigns by skill, re-offers on timeout and gives conversations back when an
//! agent goes offline.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tandem_domain::{
    AgentRouting, ArticleStatus, AuthorKind, CandidateRecord, Channel, ConversationId,
    ConversationState, DecisionRecord, EscalationOutcome, Locale, NewArticle, Presence, Queue,
    QueueRouting, Reason, Role, TurnOutcome, User,
};
use tandem_flow::{BotReply, PlaceholderResponder, Relay, Responder, Routing, Turn};
use tandem_store::{NewUser, Store};

use tandem_flow::testing::{World, send, world};

async fn agent(world: &World, email: &str, skills: &[(&str, u8)], presence: Presence) -> User {
    let user = world
        .store
        .create_user(NewUser {
            workspace_id: world.inbox.workspace_id,
            email: email.into(),
            display_name: email.split('@').next().unwrap().into(),
            role: Role::Agent,
            locale: Locale::Zh,
            password_hash: "x".into(),
        })
        .await
        .unwrap();
    let mut routing = AgentRouting::new(user.id);
    routing.skills = skills.iter().map(|(name, level)| (name.to_string(), *level)).collect();
    routing.capacity = [(Channel::Web, 2)].into();
    routing.presence = presence;
    world.store.save_agent_routing(routing).await.unwrap();
    user
}

struct Clock(Arc<AtomicI64>);

impl Clock {
    fn start() -> (Clock, tandem_flow::Clock) {
        let time = Arc::new(AtomicI64::new(tandem_store::now_millis()));
        let reader = Arc::clone(&time);
        (Clock(time), Arc::new(move || reader.load(Ordering::SeqCst)))
    }

    fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

async fn wait_for_owner(
    store: &Arc<dyn Store>,
    conversation: ConversationId,
    wanted: impl Fn(ConversationState, Option<tandem_domain::UserId>) -> bool,
) -> tandem_domain::Conversation {
    for _ in 0..400 {
        let current = store.conversation(conversation).await.unwrap().unwrap();
        if wanted(current.state, current.assignee_id) {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let current = store.conversation(conversation).await.unwrap().unwrap();
    panic!("conversation {conversation} never reached the wanted owner: {current:?}");
}

/// A disputes queue that complaints go to, and two agents: one idle without the skill, one
/// with it.
async fn disputes_desk(world: &World) -> (User, User) {
    let mut routing = QueueRouting::default();
    routing.skills.insert("disputes".into(), 2);
    routing.topics = vec!["complaint".into(), "legal_threat".into()];
    routing.offer_timeout_ms = 60_000;
    world.store.create_queue(world.inbox.workspace_id, "Disputes", "", routing).await.unwrap();
    world
        .store
        .create_queue(world.inbox.workspace_id, "General", "", QueueRouting::default())
        .await
        .unwrap();
    let idle = agent(world, "idle@example.com", &[("lang:zh", 5)], Presence::Online).await;
    let skilled =
        agent(world, "skilled@example.com", &[("disputes", 4), ("lang:zh", 5)], Presence::Online)
            .await;
    (idle, skilled)
}

#[tokio::test]
async fn an_angry_dispute_goes_to_the_skilled_agent_with_a_packet() {
    let world = world().await;
    let (_idle, skilled) = disputes_desk(&world).await;
    let (_clock, time) = Clock::start();
    let _routing = Routing::start(world.store.clone(), time);
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let appended = relay
        .customer_message(send(
            &world,
            "我要投诉！订单 2024112300123 的耳机是坏的，你们太差劲了，必须退款！",
        ))
        .await
        .unwrap();
    let conversation = appended.conversation.id;
    let taken = wait_for_owner(&world.store, conversation, |state, agent| {
        state == ConversationState::Human && agent == Some(skilled.id)
    })
    .await;
    let route = taken.route.unwrap();
    assert!(route.assigned_at.is_some() && route.accepted_at.is_none());
    let packet = world.store.handoff(conversation).await.unwrap().expect("a hand-off packet");
    assert_eq!(packet.outcome, EscalationOutcome::HandOff);
    assert!(packet.reasons.contains(&tandem_domain::Reason::Complaint), "{:?}", packet.reasons);
    assert_eq!(packet.language, Some(Locale::Zh));
    assert!(packet.summary.contains("耳机"), "{}", packet.summary);
    assert!(packet.entities.iter().any(|entity| entity.value == "2024112300123"));
    assert_eq!(packet.emotions.len(), 1);
    assert!(packet.priority > 20, "{}", packet.priority);
    assert_eq!(packet.skills, ["disputes", "lang:zh"], "the queue's skills and the language");
    // The bot never answered; the customer was told a person is coming, then who joined.
    let messages = world.store.messages(conversation, 0, 20).await.unwrap();
    assert!(messages.iter().all(|message| message.author_kind != AuthorKind::Bot), "{messages:?}");
    assert!(messages.iter().any(|message| message.body.contains("skilled")), "{messages:?}");
}

/// Answers as the knowledge engine would, from the article whose key is paired with a phrase
/// the customer's message contains.
struct ArticleResponder(&'static [(&'static str, &'static str)]);

impl ArticleResponder {
    fn record(&self, body: &str) -> DecisionRecord {
        let key = self.0.iter().find(|(phrase, _)| body.contains(phrase)).map(|(_, key)| *key);
        let candidates = key
            .map(|key| CandidateRecord {
                article: key.into(),
                title: key.into(),
                version: 1,
                score: 0.9,
                retrieval: 0.9,
                intent: None,
            })
            .into_iter()
            .collect();
        let outcome = if key.is_some() { TurnOutcome::Answer } else { TurnOutcome::Abstain };
        DecisionRecord {
            query: body.to_owned(),
            outcome,
            threshold: 0.3,
            candidates,
            knowledge_version: "1".into(),
            latency_us: 1,
            action: None,
            llm: None,
            parts: Vec::new(),
        }
    }
}

#[async_trait]
impl Responder for ArticleResponder {
    async fn respond(&self, turn: &Turn) -> BotReply {
        let record = self.record(&turn.message.body);
        let mut reply = BotReply::text("answer", record.outcome, false);
        reply.decision = Some(record);
        reply
    }

    async fn read(&self, _inbox: &tandem_domain::Inbox, text: &str) -> Option<DecisionRecord> {
        Some(self.record(text)).filter(|record| record.outcome == TurnOutcome::Answer)
    }
}

/// A pre-sales queue listed before the disputes desk (so that queue order alone would pick it)
/// and a pre-sales article about shipping times for the bot to answer from.
async fn pre_sales_first(world: &World) -> Queue {
    let workspace = world.inbox.workspace_id;
    let routing =
        QueueRouting { topics: vec!["售前".into(), "presale".into()], ..Default::default() };
    let queue = world.store.create_queue(workspace, "Pre-sales", "", routing).await.unwrap();
    let article = NewArticle::new(
        "shipping-time",
        Locale::Zh,
        "多久发货",
        &["下单后多久发货"],
        "下单后 48 小时内发货。",
        &["售前", "presale"],
    );
    world
        .store
        .save_articles(workspace, vec![article], ArticleStatus::Published, None)
        .await
        .unwrap();
    queue
}

async fn queue_named(world: &World, name: &str) -> Queue {
    let queues = world.store.queues(world.inbox.workspace_id).await.unwrap();
    queues.into_iter().find(|queue| queue.name == name).unwrap()
}

#[tokio::test]
async fn an_angry_refund_demand_after_a_pre_sales_question_goes_to_disputes() {
    let world = world().await;
    let presale = pre_sales_first(&world).await;
    let (_idle, skilled) = disputes_desk(&world).await;
    let disputes = queue_named(&world, "Disputes").await;
    let (_clock, time) = Clock::start();
    let _routing = Routing::start(world.store.clone(), time);
    let responder = ArticleResponder(&[("发货", "shipping-time")]);
    let relay = Relay::new(world.store.clone(), Arc::new(responder));
    let answered = super::send_until_done(&relay, &world, "你们下单后多久发货？").await;
    assert!(answered.is_some(), "the bot answers the pre-sales question");
    let appended = relay
        .customer_message(send(&world, "等了一个星期还没发货！我要投诉，你们太差劲了，必须退款！"))
        .await
        .unwrap();
    let conversation = appended.conversation.id;
    wait_for_owner(&world.store, conversation, |state, agent| {
        state == ConversationState::Human && agent == Some(skilled.id)
    })
    .await;
    let packet = world.store.handoff(conversation).await.unwrap().expect("a hand-off packet");
    assert!(packet.reasons.contains(&Reason::Complaint), "{:?}", packet.reasons);
    assert_eq!(packet.queue_id, Some(disputes.id), "not {:?} (pre-sales)", presale.id);
    assert_eq!(packet.skills, ["disputes", "lang:zh"], "the complaint's skills, not pre-sales'");
}

/// Asking for a person names no queue: the earlier pre-sales question is still what the
/// conversation is about.
#[tokio::test]
async fn asking_for_a_person_after_a_pre_sales_question_goes_to_pre_sales() {
    let world = world().await;
    let presale = pre_sales_first(&world).await;
    disputes_desk(&world).await;
    let relay =
        Relay::new(world.store.clone(), Arc::new(ArticleResponder(&[("发货", "shipping-time")])));
    super::send_until_done(&relay, &world, "你们下单后多久发货？").await.expect("an answer");
    let appended = relay.customer_message(send(&world, "转人工")).await.unwrap();
    tandem_flow::testing::wait_until_queued(&world.store, appended.conversation.id).await;
    let packet = world.store.handoff(appended.conversation.id).await.unwrap().unwrap();
    assert_eq!(packet.queue_id, Some(presale.id), "{:?}", packet.reasons);
    assert_eq!(packet.skills, ["lang:zh"]);
}

/// Asking for a person in the same message as a question: the question is what the hand-off is
/// about, not the earlier one.
#[tokio::test]
async fn asking_for_a_person_with_a_question_goes_by_that_question() {
    let world = world().await;
    let presale = pre_sales_first(&world).await;
    let workspace = world.inbox.workspace_id;
    let routing = QueueRouting { topics: vec!["售后".into()], ..Default::default() };
    let after_sales =
        world.store.create_queue(workspace, "After-sales", "", routing).await.unwrap();
    let article =
        NewArticle::new("returns", Locale::Zh, "退货", &["怎么退货"], "7 天无理由。", &["售后"]);
    world
        .store
        .save_articles(workspace, vec![article], ArticleStatus::Published, None)
        .await
        .unwrap();
    let responder = ArticleResponder(&[("发货", "shipping-time"), ("退货", "returns")]);
    let relay = Relay::new(world.store.clone(), Arc::new(responder));
    super::send_until_done(&relay, &world, "你们下单后多久发货？").await.expect("an answer");
    let appended = relay.customer_message(send(&world, "我要退货，转人工")).await.unwrap();
    tandem_flow::testing::wait_until_queued(&world.store, appended.conversation.id).await;
    let packet = world.store.handoff(appended.conversation.id).await.unwrap().unwrap();
    assert_eq!(packet.reasons, [Reason::AsksForHuman]);
    assert_eq!(packet.queue_id, Some(after_sales.id), "not {:?} (pre-sales)", presale.id);
    assert_eq!(packet.intents[0].article, "returns", "{:?}", packet.intents);
}

/// A draft handed over for approval is about the article the bot drafted from, not the
/// article an earlier question was answered from.
#[tokio::test]
async fn a_drafted_answer_is_queued_by_its_own_article() {
    let world = world().await;
    let presale = pre_sales_first(&world).await;
    let workspace = world.inbox.workspace_id;
    let routing = QueueRouting { topics: vec!["health".into()], ..Default::default() };
    let health = world.store.create_queue(workspace, "Health", "", routing).await.unwrap();
    let article = NewArticle::new(
        "dosage",
        Locale::Zh,
        "用量",
        &["这个药每天吃几片"],
        "请遵医嘱。",
        &["health"],
    );
    world
        .store
        .save_articles(workspace, vec![article], ArticleStatus::Published, None)
        .await
        .unwrap();
    let responder = ArticleResponder(&[("发货", "shipping-time"), ("药", "dosage")]);
    let relay = Relay::new(world.store.clone(), Arc::new(responder));
    super::send_until_done(&relay, &world, "你们下单后多久发货？").await.expect("an answer");
    let appended =
        relay.customer_message(send(&world, "我血压高，这个药每天吃几片合适？")).await.unwrap();
    tandem_flow::testing::wait_until_queued(&world.store, appended.conversation.id).await;
    let packet = world.store.handoff(appended.conversation.id).await.unwrap().unwrap();
    assert_eq!(packet.outcome, EscalationOutcome::DraftForApproval);
    assert_eq!(packet.queue_id, Some(health.id), "not {:?} (pre-sales)", presale.id);
    assert_eq!(packet.intents[0].article, "dosage", "{:?}", packet.intents);
    assert!(packet.draft.is_some());
}

#[tokio::test]
async fn an_unanswered_offer_goes_to_someone_else_and_an_answered_one_stays() {
    let world = world().await;
    let (_idle, skilled) = disputes_desk(&world).await;
    let other =
        agent(&world, "other@example.com", &[("disputes", 2), ("lang:zh", 3)], Presence::Online)
            .await;
    let (clock, time) = Clock::start();
    let routing = Routing::start(world.store.clone(), time);
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let first =
        relay.customer_message(send(&world, "我要投诉你们的快递员态度太差了")).await.unwrap();
    let first = first.conversation.id;
    wait_for_owner(&world.store, first, |state, agent| {
        state == ConversationState::Human && agent == Some(skilled.id)
    })
    .await;
    // Past the offer timeout without a reply: re-offered to the other skilled agent.
    clock.advance(61_000);
    let moved = wait_for_owner(&world.store, first, |state, agent| {
        state == ConversationState::Human && agent == Some(other.id)
    })
    .await;
    assert_eq!(moved.route.unwrap().skip, [skilled.id]);
    // The other agent answers in time: the conversation stays theirs after the deadline.
    let conversation = world.store.conversation(first).await.unwrap().unwrap();
    relay.agent_message(&conversation, &other, "您好，我来处理", None, false).await.unwrap();
    clock.advance(120_000);
    // A round of deadlines at the new time has looked at the offer, and left it alone.
    let deadline = clock.now();
    let mut rounds = routing.rounds();
    tokio::time::timeout(Duration::from_secs(10), rounds.wait_for(|at| *at >= deadline))
        .await
        .expect("a round of deadlines after the clock moved")
        .unwrap();
    let kept = world.store.conversation(first).await.unwrap().unwrap();
    assert_eq!((kept.state, kept.assignee_id), (ConversationState::Human, Some(other.id)));
}

#[tokio::test]
async fn an_agent_going_offline_gives_conversations_back_and_waiting_customers_see_their_place() {
    let world = world().await;
    let (idle, skilled) = disputes_desk(&world).await;
    let (_clock, time) = Clock::start();
    let routing = Routing::start(world.store.clone(), time);
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let appended = relay.customer_message(send(&world, "我要投诉，商品质量太差")).await.unwrap();
    let conversation = appended.conversation.id;
    wait_for_owner(&world.store, conversation, |_, agent| agent == Some(skilled.id)).await;
    // Nobody else has the skill: offline, the conversation waits until widening lets the
    // idle agent have it (the disputes queue widens after its default five minutes).
    routing.set_presence(world.inbox.workspace_id, skilled.id, Presence::Offline).await.unwrap();
    let waiting =
        wait_for_owner(&world.store, conversation, |state, _| state == ConversationState::Queued)
            .await;
    let place = routing.wait_estimate(&waiting).await.unwrap().expect("a place in the queue");
    assert_eq!(place.position, 1);
    assert!(place.open);
    // Back online, it is offered again; the idle unskilled agent never got it.
    routing.set_presence(world.inbox.workspace_id, skilled.id, Presence::Online).await.unwrap();
    wait_for_owner(&world.store, conversation, |_, agent| agent == Some(skilled.id)).await;
    let snapshot = routing.snapshot(world.inbox.workspace_id).await.unwrap();
    let idle_load: u32 = snapshot
        .agents
        .iter()
        .find(|agent| agent.id == idle.id)
        .map(|agent| agent.load.values().sum())
        .unwrap();
    assert_eq!(idle_load, 0);
}

#[tokio::test]
async fn after_hours_the_bot_keeps_helping_and_the_ticket_joins_the_queue_when_it_opens() {
    const DAY: i64 = 86_400_000;
    let world = world().await;
    let now = tandem_store::now_millis();
    let today = now.div_euclid(DAY);
    let tomorrow = ((today + 1 + 3).rem_euclid(7)) as u8;
    // Open all day tomorrow (UTC), so closed now.
    let routing = QueueRouting {
        topics: vec!["complaint".into()],
        hours: vec![tandem_domain::OpenRange {
            weekday: tomorrow,
            start_minute: 0,
            end_minute: 1440,
        }],
        ..QueueRouting::default()
    };
    world.store.create_queue(world.inbox.workspace_id, "Complaints", "", routing).await.unwrap();
    let staff = agent(&world, "staff@example.com", &[("lang:zh", 5)], Presence::Online).await;
    let (clock, time) = Clock::start();
    let service = Routing::start(world.store.clone(), time);
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));

    let appended =
        relay.customer_message(send(&world, "我要投诉，快递员态度太差了")).await.unwrap();
    let conversation = appended.conversation.id;
    let noted = crate::wait_for_messages(&world, conversation, 2).await;
    assert_eq!(noted[1].author_kind, AuthorKind::System);
    assert!(
        noted[1].body.contains("非工作时间") && noted[1].body.contains("00:00"),
        "{}",
        noted[1].body
    );
    let ticket = world.store.conversation(conversation).await.unwrap().unwrap();
    assert_eq!(ticket.state, ConversationState::Bot);
    assert_eq!(ticket.route.as_ref().unwrap().follow_up_at, Some((today + 1) * DAY));
    assert!(world.store.handoff(conversation).await.unwrap().is_some());

    // Meanwhile the bot answers the customer's other questions, and says the note only once.
    relay.customer_message(send(&world, "我要投诉，还有退货怎么退？")).await.unwrap();
    let messages = crate::wait_for_messages(&world, conversation, 4).await;
    assert_eq!(messages[3].author_kind, AuthorKind::Bot, "{messages:?}");
    assert_eq!(
        messages.iter().filter(|message| message.body.contains("非工作时间")).count(),
        1,
        "{messages:?}"
    );
    for _ in 0..200 {
        if !service.tickets(world.inbox.workspace_id).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(service.tickets(world.inbox.workspace_id).await.unwrap().len(), 1);

    // The queue opens: the ticket joins it, keeping its time, and a person gets it.
    clock.advance((today + 1) * DAY - now + 1_000);
    let taken = wait_for_owner(&world.store, conversation, |state, agent| {
        state == ConversationState::Human && agent == Some(staff.id)
    })
    .await;
    assert_eq!(taken.route.unwrap().queued_at, ticket.route.unwrap().queued_at);
    assert!(service.tickets(world.inbox.workspace_id).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_concurrent_hand_offs_and_presence_changes_nothing_is_lost_or_over_capacity() {
    use tandem_flow::CustomerSend;
    use tandem_store::NewCustomer;
    let world = world().await;
    let workspace = world.inbox.workspace_id;
    let mut agents = Vec::new();
    for index in 0..3 {
        agents.push(
            agent(&world, &format!("a{index}@example.com"), &[("lang:zh", 3)], Presence::Online)
                .await,
        );
    }
    let (_clock, time) = Clock::start();
    let routing = Routing::start(world.store.clone(), time);
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));

    // Twenty customers ask for a person at once while agents flip between online, away and
    // offline.
    let mut tasks = Vec::new();
    for index in 0..20 {
        let (relay, store, inbox) = (relay.clone(), world.store.clone(), world.inbox.clone());
        tasks.push(tokio::spawn(async move {
            let customer = store
                .create_customer(NewCustomer {
                    workspace_id: inbox.workspace_id,
                    name: format!("访客 {index}"),
                    email: None,
                    locale: Some(Locale::Zh),
                    attributes: Default::default(),
                })
                .await
                .unwrap();
            let send = CustomerSend {
                inbox,
                customer,
                client_msg_id: None,
                body: format!("转人工，第 {index} 号问题"),
            };
            relay.customer_message(send).await.unwrap().conversation.id
        }));
    }
    let flipper = {
        let (routing, ids) =
            (Arc::clone(&routing), agents.iter().map(|agent| agent.id).collect::<Vec<_>>());
        tokio::spawn(async move {
            for round in 0..30 {
                let presence = [Presence::Online, Presence::Away, Presence::Offline][round % 3];
                routing.set_presence(workspace, ids[round % ids.len()], presence).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut conversations = Vec::new();
    for task in tasks {
        conversations.push(task.await.unwrap());
    }
    flipper.await.unwrap();
    for agent in &agents {
        routing.set_presence(workspace, agent.id, Presence::Online).await.unwrap();
    }

    // Settled: every agent holds at most their capacity (2 on the web), the six places are
    // filled, the rest wait, and the router agrees with the store.
    let mut settled = Vec::new();
    for _ in 0..300 {
        settled.clear();
        for id in &conversations {
            settled.push(world.store.conversation(*id).await.unwrap().unwrap());
        }
        if settled.iter().filter(|c| c.state == ConversationState::Human).count() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for agent in &agents {
        let held = settled.iter().filter(|c| c.assignee_id == Some(agent.id)).count();
        assert_eq!(held, 2, "agent {} holds {held}", agent.id);
    }
    assert_eq!(settled.iter().filter(|c| c.state == ConversationState::Queued).count(), 14);
    let snapshot = routing.snapshot(workspace).await.unwrap();
    let waiting: u32 = snapshot.queues.iter().map(|queue| queue.waiting).sum();
    assert_eq!(waiting, 14);
    for row in snapshot.agents.iter().filter(|row| agents.iter().any(|agent| agent.id == row.id)) {
        assert_eq!(row.load.get(&Channel::Web).copied().unwrap_or(0), 2, "{row:?}");
    }
}

#[tokio::test]
async fn routing_picks_up_where_it_left_off_after_a_restart() {
    let world = world().await;
    let (_idle, skilled) = disputes_desk(&world).await;
    let workspace = world.inbox.workspace_id;
    let relay = Relay::new(world.store.clone(), Arc::new(PlaceholderResponder));
    let conversation = {
        let (_clock, time) = Clock::start();
        let first = Routing::start(world.store.clone(), time);
        first.set_presence(workspace, skilled.id, Presence::Offline).await.unwrap();
        let appended = relay.customer_message(send(&world, "我要投诉，发错货了")).await.unwrap();
        wait_for_owner(&world.store, appended.conversation.id, |state, _| {
            state == ConversationState::Queued
        })
        .await;
        appended.conversation.id
    };
    // A new process: the router is rebuilt from the store and the waiting customer is served.
    let (_clock, time) = Clock::start();
    let second = Routing::start(world.store.clone(), time);
    let waiting = world.store.conversation(conversation).await.unwrap().unwrap();
    let place =
        second.wait_estimate(&waiting).await.unwrap().expect("still waiting after the restart");
    assert_eq!(place.position, 1);
    second.set_presence(workspace, skilled.id, Presence::Online).await.unwrap();
    wait_for_owner(&world.store, conversation, |_, agent| agent == Some(skilled.id)).await;
}
