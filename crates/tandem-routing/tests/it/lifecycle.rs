//! A conversation's life in routing: offers time out, agents leave and come back, queues open
//! and close, conversations finish; what customers and supervisors are told meanwhile.

use tandem_domain::{
    AgentRouting, Channel, ConversationId, Millis, QueueId, QueueRouting, RouteInfo, UserId,
};
use tandem_routing::{
    AgentConfig, BusinessHours, ConversationRequest, OpenRange, Placement, Presence, QueueConfig,
    Released, Router, RouterConfig, RoutingError,
};

use crate::{MINUTE, T0, agent, queue, request, utc};

const C10: ConversationId = ConversationId(10);
const C11: ConversationId = ConversationId(11);
const A1: UserId = UserId(1);
const A2: UserId = UserId(2);

fn router_with(queue_config: QueueConfig, agents: Vec<AgentConfig>) -> Router {
    let mut router = Router::default();
    router.upsert_queue(queue_config).unwrap();
    for agent in agents {
        router.add_agent(agent).unwrap();
    }
    router
}

fn agent_of(router: &Router, conversation: ConversationId) -> Option<UserId> {
    router.placement(conversation).and_then(|placement| placement.agent())
}

#[test]
fn offer_timeout_reoffers_to_someone_else_and_never_back() {
    let timed = QueueConfig { offer_timeout_ms: MINUTE, ..queue(1, &[]) };
    let mut router = router_with(timed, vec![agent(1, &[], 1), agent(2, &[], 1)]);
    router.enqueue(request(10, 1, T0)).unwrap();
    assert_eq!(router.assign(T0)[0].agent, A1);
    assert_eq!(router.next_deadline(), Some(T0 + MINUTE));
    assert!(router.expired(T0 + MINUTE - 1).is_empty());
    let released = router.expired(T0 + MINUTE);
    assert_eq!(
        released,
        vec![Released { conversation: C10, agent: A1, queue: QueueId(1), was_accepted: false }]
    );
    assert_eq!(router.placement(C10), Some(Placement::Waiting { queue: QueueId(1) }));
    // Agent 1 is free and more idle by id, but skipped.
    let again = router.assign(T0 + MINUTE);
    assert_eq!(again[0].agent, A2);
    // Agent 2 times out too: nobody is left.
    assert_eq!(router.expired(T0 + 2 * MINUTE).len(), 1);
    assert!(router.assign(T0 + 2 * MINUTE).is_empty());
    // Accepting stops the timer.
    router.enqueue(request(11, 1, T0 + 2 * MINUTE)).unwrap();
    let offer = router.assign(T0 + 2 * MINUTE).remove(0);
    router.accepted(offer.conversation, T0 + 2 * MINUTE + 5).unwrap();
    assert!(router.expired(T0 + 60 * MINUTE).is_empty());
    assert!(matches!(router.placement(C11), Some(Placement::Accepted { .. })));
}

#[test]
fn declined_goes_to_someone_else() {
    let mut router = router_with(queue(1, &[]), vec![agent(1, &[], 1), agent(2, &[], 1)]);
    router.enqueue(request(10, 1, T0)).unwrap();
    router.assign(T0);
    assert_eq!(router.declined(C10).unwrap().agent, A1);
    assert_eq!(router.assign(T0 + 1)[0].agent, A2);
    assert_eq!(router.declined(C11), Err(RoutingError::UnknownConversation(C11)));
}

#[test]
fn going_offline_requeues_offers_and_open_conversations_at_their_priority() {
    let mut router = router_with(queue(1, &[]), vec![agent(1, &[], 3)]);
    router.enqueue(request(10, 1, T0 - 10 * MINUTE)).unwrap();
    router.enqueue(request(11, 1, T0 - 5 * MINUTE)).unwrap();
    router.assign(T0);
    router.accepted(C10, T0 + 1).unwrap();
    router.enqueue(ConversationRequest { priority: 30, ..request(12, 1, T0) }).unwrap();
    router.enqueue(request(13, 1, T0)).unwrap();
    // One slot is left: the VIP (12) gets it, 13 waits.
    assert_eq!(router.assign(T0)[0].conversation, ConversationId(12));

    let released = router.set_presence(A1, Presence::Offline).unwrap();
    let ids: Vec<i64> = released.iter().map(|released| released.conversation.0).collect();
    assert_eq!(ids, vec![10, 11, 12]);
    assert!(released[0].was_accepted && !released[1].was_accepted);
    assert_eq!(router.agent_snapshot(A1).unwrap().load[&Channel::Web], 0);
    // Original priority: 12 (30 points) first, then 10 (waited 10 minutes), 11, 13.
    let order = router.queue_order(QueueId(1), T0 + MINUTE).unwrap();
    assert_eq!(order, [12, 10, 11, 13].map(ConversationId).to_vec());
    // Back online: they come back, nothing skipped.
    router.set_presence(A1, Presence::Online).unwrap();
    let again: Vec<i64> =
        router.assign(T0 + MINUTE).iter().map(|assignment| assignment.conversation.0).collect();
    assert_eq!(again, vec![12, 10, 11]);
}

#[test]
fn away_keeps_what_it_has_and_gets_nothing_new() {
    let timed = QueueConfig { offer_timeout_ms: MINUTE, ..queue(1, &[]) };
    let mut router = router_with(timed, vec![agent(1, &[], 3)]);
    router.enqueue(request(10, 1, T0)).unwrap();
    router.assign(T0);
    assert!(router.set_presence(A1, Presence::Away).unwrap().is_empty());
    router.enqueue(request(11, 1, T0)).unwrap();
    assert!(router.assign(T0 + 1).is_empty());
    assert_eq!(agent_of(&router, C10), Some(A1));
    // The offer's timer keeps running while away.
    assert_eq!(router.expired(T0 + MINUTE).len(), 1);
}

#[test]
fn closed_queue_waits_then_assigns_when_open() {
    // Monday to Friday 09:00-18:00 in Beijing (+08:00).
    let hours = BusinessHours::new(
        (0..5).map(|day| OpenRange { weekday: day, start_minute: 540, end_minute: 1080 }).collect(),
        "Asia/Shanghai".parse().unwrap(),
    );
    let mut router = router_with(QueueConfig { hours, ..queue(1, &[]) }, vec![agent(1, &[], 2)]);
    // Friday 19:00 local.
    let friday_evening = utc(2024, 1, 5, 11, 0);
    router.enqueue(request(10, 1, friday_evening)).unwrap();
    assert!(router.assign(friday_evening).is_empty());
    let monday_open = utc(2024, 1, 8, 1, 0);
    let estimate = router.wait_estimate(C10, friday_evening).unwrap();
    assert!(!estimate.open);
    assert_eq!(estimate.eta_ms, Some(monday_open - friday_evening));
    let snapshot = router.queue_snapshot(QueueId(1), friday_evening).unwrap();
    assert_eq!(snapshot.next_open, Some(monday_open));
    assert!(router.assign(monday_open - 1).is_empty());
    assert_eq!(router.assign(monday_open)[0].agent, A1);
}

#[test]
fn finishing_frees_capacity_and_teaches_handling_time() {
    let config = RouterConfig { default_handling_ms: 4 * MINUTE, ..RouterConfig::default() };
    let mut router = Router::new(config).unwrap();
    router.upsert_queue(queue(1, &[])).unwrap();
    router.add_agent(agent(1, &[], 1)).unwrap();
    router.enqueue(request(10, 1, T0)).unwrap();
    router.enqueue(request(11, 1, T0 + 1)).unwrap();
    router.assign(T0);
    assert!(router.assign(T0 + 1).is_empty());
    assert_eq!(router.queue_snapshot(QueueId(1), T0).unwrap().average_handling_ms, 4 * MINUTE);
    router.finished(C10, T0 + 10 * MINUTE).unwrap();
    assert_eq!(router.queue_snapshot(QueueId(1), T0).unwrap().average_handling_ms, 10 * MINUTE);
    assert_eq!(router.assign(T0 + 10 * MINUTE)[0].conversation, C11);
    router.finished(C11, T0 + 15 * MINUTE).unwrap();
    // 10 + (5 - 10) * 20% = 9 minutes.
    assert_eq!(router.queue_snapshot(QueueId(1), T0).unwrap().average_handling_ms, 9 * MINUTE);
    assert_eq!(router.placement(C11), None);
    assert_eq!(router.finished(C11, T0), Err(RoutingError::UnknownConversation(C11)));
}

#[test]
fn cancelled_leaves_from_anywhere() {
    let mut router = router_with(queue(1, &[]), vec![agent(1, &[], 1)]);
    router.enqueue(request(10, 1, T0)).unwrap();
    router.enqueue(request(11, 1, T0 + 1)).unwrap();
    router.assign(T0);
    router.cancelled(C11).unwrap();
    router.cancelled(C10).unwrap();
    assert_eq!(router.conversation_count(), 0);
    assert_eq!(router.waiting_count(), 0);
    assert_eq!(router.agent_snapshot(A1).unwrap().load[&Channel::Web], 0);
    router.remove_queue(QueueId(1)).unwrap();
}

#[test]
fn position_and_eta() {
    let config = RouterConfig { default_handling_ms: 6 * MINUTE, ..RouterConfig::default() };
    let mut router = Router::new(config).unwrap();
    router.upsert_queue(queue(1, &[])).unwrap();
    router.upsert_queue(queue(2, &[("refunds", 1)])).unwrap();
    router.add_agent(agent(1, &[], 2)).unwrap();
    router.add_agent(agent(2, &[], 1)).unwrap();
    for id in 0..8 {
        router.enqueue(request(id, 1, T0 + id)).unwrap();
    }
    router.enqueue(ConversationRequest { priority: 100, ..request(20, 1, T0 + 50) }).unwrap();
    // Before any round: 3 free slots. The VIP is first; positions 1..=3 are 0 ms away.
    let vip = router.wait_estimate(ConversationId(20), T0 + 60).unwrap();
    assert_eq!((vip.position, vip.eta_ms, vip.open), (1, Some(0), true));
    assert_eq!(router.wait_estimate(ConversationId(1), T0 + 60).unwrap().position, 3);
    assert_eq!(router.wait_estimate(ConversationId(1), T0 + 60).unwrap().eta_ms, Some(0));
    router.assign(T0 + 60);
    // Now 0..=1 and the VIP are held; 2..=7 wait with no free slot and 3 slots in total:
    // the k-th in line waits k * 6 minutes / 3.
    for (position, id) in (2..8).enumerate() {
        let estimate = router.wait_estimate(ConversationId(id), T0 + 60).unwrap();
        assert_eq!(estimate.position as usize, position + 1);
        assert_eq!(estimate.eta_ms, Some((position as Millis + 1) * 2 * MINUTE));
    }
    // Nobody could take a refunds conversation: no estimate.
    router.enqueue(request(30, 2, T0)).unwrap();
    assert_eq!(router.wait_estimate(ConversationId(30), T0 + 60).unwrap().eta_ms, None);
    assert_eq!(
        router.wait_estimate(ConversationId(20), T0),
        Err(RoutingError::NotWaiting(ConversationId(20)))
    );
}

#[test]
fn snapshots_count_sla_risk_and_breaches() {
    let mut router = router_with(
        QueueConfig { sla_ms: 10 * MINUTE, ..queue(1, &[]) },
        vec![agent(1, &[("refunds", 3)], 1)],
    );
    router.enqueue(request(1, 1, T0 - 12 * MINUTE)).unwrap(); // breached
    router.enqueue(request(2, 1, T0 - 9 * MINUTE)).unwrap(); // at risk (>= 8 minutes)
    router.enqueue(request(3, 1, T0 - 8 * MINUTE)).unwrap(); // at risk
    router.enqueue(request(4, 1, T0 - 7 * MINUTE)).unwrap(); // fine
    let queue_snapshot = router.queue_snapshot(QueueId(1), T0).unwrap();
    assert_eq!(
        (queue_snapshot.waiting, queue_snapshot.at_risk, queue_snapshot.breached),
        (4, 2, 1)
    );
    assert_eq!(queue_snapshot.longest_wait_ms, 12 * MINUTE);
    router.assign(T0);
    let snapshot = router.snapshot(T0);
    assert_eq!(snapshot.queues[0].offered, 1);
    assert_eq!(snapshot.queues[0].waiting, 3);
    let agent_snapshot = &snapshot.agents[0];
    assert_eq!(agent_snapshot.load[&Channel::Web], 1);
    assert_eq!(agent_snapshot.offered, 1);
    assert_eq!(agent_snapshot.conversations, vec![ConversationId(1)]);
    // The snapshot is JSON for the console.
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["agents"][0]["presence"], "online");
    assert_eq!(json["agents"][0]["load"]["web"], 1);
}

#[test]
fn restoring_loads_assignments_without_deciding() {
    let timed = QueueConfig { offer_timeout_ms: 2 * MINUTE, ..queue(1, &[]) };
    let mut router = router_with(timed, vec![agent(1, &[], 1), agent(2, &[], 1)]);
    // Agent 2 holds two (above capacity: the database is the truth), one accepted.
    router.restore_assigned(request(10, 1, T0 - 9 * MINUTE), A2, T0 - 5 * MINUTE, None).unwrap();
    router
        .restore_assigned(
            request(11, 1, T0 - 9 * MINUTE),
            A2,
            T0 - 8 * MINUTE,
            Some(T0 - 7 * MINUTE),
        )
        .unwrap();
    router
        .enqueue(ConversationRequest { skip: vec![A1], ..request(12, 1, T0 - 20 * MINUTE) })
        .unwrap();
    assert_eq!(router.agent_snapshot(A2).unwrap().load[&Channel::Web], 2);
    assert_eq!(router.agent_snapshot(A2).unwrap().last_assigned_at, Some(T0 - 5 * MINUTE));
    // Conversation 12 skips agent 1 and agent 2 is full: nothing happens.
    assert!(router.assign(T0).is_empty());
    // The restored offer expires from its original assignment time.
    assert_eq!(router.next_deadline(), Some(T0 - 3 * MINUTE));
    let released = router.expired(T0);
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].conversation, C10);
    // Agent 2 is still at capacity (11): 10 goes to agent 1.
    assert_eq!(router.assign(T0)[0].agent, A1);
    assert_eq!(
        router.restore_assigned(request(13, 1, T0), UserId(9), T0, None),
        Err(RoutingError::UnknownAgent(UserId(9)))
    );
    assert_eq!(
        router.enqueue(request(12, 1, T0)),
        Err(RoutingError::DuplicateConversation(ConversationId(12)))
    );
}

#[test]
fn reroute_respects_capacity_unless_forced() {
    let mut router = router_with(queue(1, &[]), vec![agent(1, &[], 1), agent(2, &[], 1)]);
    router.enqueue(request(10, 1, T0)).unwrap();
    router.enqueue(request(11, 1, T0 + 1)).unwrap();
    router.assign(T0 + 1);
    assert_eq!(agent_of(&router, C10), Some(A1));
    assert_eq!(
        router.reroute(C10, A2, T0 + 2, false),
        Err(RoutingError::NoCapacity { agent: A2, channel: Channel::Web })
    );
    assert_eq!(
        router.reroute(C10, A1, T0 + 2, true),
        Err(RoutingError::AlreadyAssigned { conversation: C10, agent: A1 })
    );
    let forced = router.reroute(C10, A2, T0 + 2, true).unwrap();
    assert_eq!(forced.agent, A2);
    assert_eq!(router.agent_snapshot(A2).unwrap().load[&Channel::Web], 2);
    assert_eq!(router.agent_snapshot(A1).unwrap().load[&Channel::Web], 0);
    // Above capacity, agent 2 gets nothing new; agent 1 does.
    router.enqueue(request(12, 1, T0 + 3)).unwrap();
    assert_eq!(router.assign(T0 + 3)[0].agent, A1);
    router.set_presence(A1, Presence::Away).unwrap();
    assert_eq!(router.reroute(C11, A1, T0 + 4, true), Err(RoutingError::AgentUnavailable(A1)));
}

#[test]
fn reroute_takes_a_skipped_agent_off_the_skip_list() {
    let mut router = router_with(queue(1, &[]), vec![agent(1, &[], 1)]);
    router.enqueue(ConversationRequest { skip: vec![A1], ..request(10, 1, T0) }).unwrap();
    assert!(router.assign(T0).is_empty());
    router.reroute(C10, A1, T0, false).unwrap();
    router.withdraw(C10).unwrap();
    assert_eq!(router.assign(T0)[0].agent, A1);
}

#[test]
fn transfer_moves_to_another_queue_with_its_wait() {
    let mut router =
        router_with(queue(1, &[]), vec![agent(1, &[], 1), agent(2, &[("refunds", 2)], 1)]);
    router.upsert_queue(queue(2, &[("refunds", 2)])).unwrap();
    router.enqueue(request(10, 1, T0 - 30 * MINUTE)).unwrap();
    router.assign(T0);
    assert_eq!(agent_of(&router, C10), Some(A1));
    assert_eq!(router.transfer(C10, QueueId(2)), Ok(Some(A1)));
    assert_eq!(router.placement(C10), Some(Placement::Waiting { queue: QueueId(2) }));
    assert_eq!(router.queue_snapshot(QueueId(2), T0).unwrap().longest_wait_ms, 30 * MINUTE);
    assert_eq!(router.assign(T0)[0].agent, A2);
    assert_eq!(router.remove_queue(QueueId(2)), Err(RoutingError::QueueInUse(QueueId(2))));
    router.remove_queue(QueueId(1)).unwrap();
}

#[test]
fn skills_and_capacity_changes_apply_to_the_next_round() {
    let mut router = router_with(queue(1, &[("refunds", 3)]), vec![agent(1, &[], 1)]);
    router.enqueue(request(10, 1, T0)).unwrap();
    assert!(router.assign(T0).is_empty());
    router.set_skills(A1, &crate::skills(&[("refunds", 3)])).unwrap();
    router.set_capacity(A1, &crate::capacity(0, 1, 0)).unwrap();
    assert!(router.assign(T0).is_empty());
    router.set_capacity(A1, &crate::capacity(1, 0, 0)).unwrap();
    assert_eq!(router.assign(T0)[0].agent, A1);
    // Removing the agent requeues what they held.
    assert_eq!(router.remove_agent(A1).unwrap().len(), 1);
    assert_eq!(router.placement(C10), Some(Placement::Waiting { queue: QueueId(1) }));
    assert_eq!(router.set_presence(A1, Presence::Online), Err(RoutingError::UnknownAgent(A1)));
    // Raising the queue's requirement applies to waiting conversations.
    router.add_agent(agent(2, &[("refunds", 3)], 1)).unwrap();
    router.upsert_queue(queue(1, &[("refunds", 4)])).unwrap();
    assert!(router.assign(T0).is_empty());
}

#[test]
fn settings_deserialize_with_defaults_and_convert_from_the_domain() {
    let config: RouterConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, RouterConfig::default());
    assert!(Router::new(config).is_ok());
    assert!(serde_json::from_str::<RouterConfig>(r#"{"agin": 1}"#).is_err());
    let queue_config: QueueConfig = serde_json::from_str(
        r#"{"id": 3, "skills": {"refunds": 2}, "sla_ms": 60000,
            "hours": {"ranges": [{"weekday": 0, "start_minute": 540, "end_minute": 1080}],
                      "time_zone": "Asia/Shanghai"}}"#,
    )
    .unwrap();
    assert_eq!(queue_config.hours.time_zone.as_str(), "Asia/Shanghai");
    assert_eq!(queue_config.offer_timeout_ms, 0);
    let round_trip: QueueConfig =
        serde_json::from_str(&serde_json::to_string(&queue_config).unwrap()).unwrap();
    assert_eq!(round_trip, queue_config);
    let agent_config: AgentConfig = serde_json::from_str(r#"{"id": 4}"#).unwrap();
    assert_eq!(agent_config.presence, Presence::Offline);

    let routing = QueueRouting::default();
    let from_domain = QueueConfig::from_routing(QueueId(1), &routing);
    assert_eq!(from_domain.sla_ms, routing.sla_ms);
    let agent_routing = AgentRouting::new(UserId(5));
    assert_eq!(AgentConfig::from(&agent_routing).capacity[&Channel::Email], 3);
    let route = RouteInfo { priority: 7, queued_at: T0, ..RouteInfo::default() };
    let request = ConversationRequest::from_route(C10, QueueId(1), Channel::Web, &route);
    assert_eq!((request.priority, request.enqueued_at), (7, T0));
}
