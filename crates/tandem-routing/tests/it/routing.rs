//! Who gets a conversation: table-driven cases, each one round on a fresh router.

use tandem_domain::{Channel, ConversationId, Millis, UserId};
use tandem_routing::{
    AgentConfig, AssignReason, ConversationRequest, Presence, QueueConfig, Router, RouterConfig,
};

use crate::{MINUTE, T0, agent, capacity, queue, request};

struct Case {
    name: &'static str,
    agents: Vec<AgentConfig>,
    queue: QueueConfig,
    conversations: Vec<ConversationRequest>,
    /// Conversations already held: (request, agent).
    held: Vec<(ConversationRequest, i64)>,
    now: Millis,
    /// (conversation, agent) in the order offered.
    expected: Vec<(i64, i64)>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            agents: Vec::new(),
            queue: queue(1, &[]),
            conversations: Vec::new(),
            held: Vec::new(),
            now: T0,
            expected: Vec::new(),
        }
    }
}

fn check(case: Case) {
    let mut router = Router::default();
    router.upsert_queue(case.queue).unwrap();
    for agent in case.agents {
        router.add_agent(agent).unwrap();
    }
    for (request, agent) in case.held {
        router.restore_assigned(request, UserId(agent), T0 - 60 * MINUTE, Some(T0)).unwrap();
    }
    for request in case.conversations {
        router.enqueue(request).unwrap();
    }
    let got: Vec<(i64, i64)> = router
        .assign(case.now)
        .into_iter()
        .map(|assignment| (assignment.conversation.0, assignment.agent.0))
        .collect();
    assert_eq!(got, case.expected, "{}", case.name);
}

fn with_skills(id: i64, enqueued_at: Millis, extra: &[&str]) -> ConversationRequest {
    ConversationRequest {
        skills: extra.iter().map(|name| (*name).to_owned()).collect(),
        ..request(id, 1, enqueued_at)
    }
}

fn idle_since(mut agent: AgentConfig, at: Millis) -> AgentConfig {
    agent.last_assigned_at = Some(at);
    agent
}

fn presence(mut agent: AgentConfig, presence: Presence) -> AgentConfig {
    agent.presence = presence;
    agent
}

#[test]
fn routing_table() {
    let widening = QueueConfig { widen_after_ms: 10 * MINUTE, ..queue(1, &[("billing", 3)]) };
    let cases = vec![
        Case {
            name: "skill match beats an idle unskilled agent",
            agents: vec![agent(1, &[], 2), idle_since(agent(2, &[("refunds", 1)], 2), T0 - 1)],
            conversations: vec![with_skills(10, T0, &["refunds"])],
            expected: vec![(10, 2)],
            ..Case::default()
        },
        Case {
            name: "after widening to anyone, the skilled agent still scores higher",
            agents: vec![agent(1, &[], 2), idle_since(agent(2, &[("refunds", 1)], 2), T0 - 1)],
            queue: QueueConfig { widen_after_ms: MINUTE, ..queue(1, &[]) },
            conversations: vec![with_skills(10, T0 - 5 * MINUTE, &["refunds"])],
            expected: vec![(10, 2)],
            ..Case::default()
        },
        Case {
            name: "higher proficiency first",
            agents: vec![
                agent(1, &[("refunds", 3)], 2),
                agent(2, &[("refunds", 5)], 2),
                agent(3, &[("refunds", 4)], 2),
            ],
            conversations: vec![with_skills(10, T0, &["refunds"])],
            expected: vec![(10, 2)],
            ..Case::default()
        },
        Case {
            name: "queue minimum level excludes the less proficient",
            agents: vec![agent(1, &[("billing", 2)], 2), agent(2, &[("billing", 3)], 2)],
            queue: queue(1, &[("billing", 3)]),
            conversations: vec![request(10, 1, T0), request(11, 1, T0 + 1)],
            expected: vec![(10, 2), (11, 2)],
            ..Case::default()
        },
        Case {
            name: "least loaded by ratio",
            agents: vec![agent(1, &[], 2), agent(2, &[], 4)],
            held: vec![(request(90, 1, T0 - MINUTE), 1), (request(91, 1, T0 - MINUTE), 2)],
            conversations: vec![request(10, 1, T0)],
            expected: vec![(10, 2)],
            ..Case::default()
        },
        Case {
            name: "spreads a burst over agents by load",
            agents: vec![agent(1, &[], 3), agent(2, &[], 3)],
            conversations: (10..14).map(|id| request(id, 1, T0 + id)).collect(),
            expected: vec![(10, 1), (11, 2), (12, 1), (13, 2)],
            ..Case::default()
        },
        Case {
            name: "longest idle among equals; never assigned is the most idle",
            agents: vec![
                idle_since(agent(1, &[], 2), T0 - MINUTE),
                idle_since(agent(2, &[], 2), T0 - 5 * MINUTE),
                agent(3, &[], 2),
            ],
            conversations: vec![request(10, 1, T0), request(11, 1, T0 + 1)],
            expected: vec![(10, 3), (11, 2)],
            ..Case::default()
        },
        Case {
            name: "lowest id breaks the last tie",
            agents: vec![agent(7, &[], 1), agent(4, &[], 1), agent(9, &[], 1)],
            conversations: vec![request(10, 1, T0)],
            expected: vec![(10, 4)],
            ..Case::default()
        },
        Case {
            name: "sticky agent preferred over a better match",
            agents: vec![agent(1, &[("refunds", 5)], 2), agent(2, &[("refunds", 1)], 2)],
            conversations: vec![ConversationRequest {
                sticky: Some(UserId(2)),
                ..with_skills(10, T0, &["refunds"])
            }],
            expected: vec![(10, 2)],
            ..Case::default()
        },
        Case {
            name: "sticky agent without the skill is ignored",
            agents: vec![agent(1, &[("refunds", 5)], 2), agent(2, &[], 2)],
            conversations: vec![ConversationRequest {
                sticky: Some(UserId(2)),
                ..with_skills(10, T0, &["refunds"])
            }],
            expected: vec![(10, 1)],
            ..Case::default()
        },
        Case {
            name: "sticky agent away is ignored",
            agents: vec![agent(1, &[], 2), presence(agent(2, &[], 2), Presence::Away)],
            conversations: vec![ConversationRequest {
                sticky: Some(UserId(2)),
                ..request(10, 1, T0)
            }],
            expected: vec![(10, 1)],
            ..Case::default()
        },
        Case {
            name: "sticky agent at capacity is ignored",
            agents: vec![agent(1, &[], 2), agent(2, &[], 1)],
            held: vec![(request(90, 1, T0 - MINUTE), 2)],
            conversations: vec![ConversationRequest {
                sticky: Some(UserId(2)),
                ..request(10, 1, T0)
            }],
            expected: vec![(10, 1)],
            ..Case::default()
        },
        Case {
            name: "sticky agent that left is ignored",
            agents: vec![agent(1, &[], 2)],
            conversations: vec![ConversationRequest {
                sticky: Some(UserId(42)),
                ..request(10, 1, T0)
            }],
            expected: vec![(10, 1)],
            ..Case::default()
        },
        Case {
            name: "before widening nobody without every skill",
            agents: widening_agents(),
            queue: widening.clone(),
            conversations: vec![with_skills(10, T0 - 9 * MINUTE, &["refunds", "lang:zh"])],
            expected: vec![],
            ..Case::default()
        },
        Case {
            name: "first widening: queue skills at any level plus the language",
            agents: widening_agents(),
            queue: widening.clone(),
            conversations: vec![with_skills(10, T0 - 10 * MINUTE, &["refunds", "lang:zh"])],
            expected: vec![(10, 2)],
            ..Case::default()
        },
        Case {
            name: "second widening: anyone with the language",
            agents: widening_agents().into_iter().filter(|agent| agent.id != UserId(2)).collect(),
            queue: widening.clone(),
            conversations: vec![with_skills(10, T0 - 20 * MINUTE, &["refunds", "lang:zh"])],
            expected: vec![(10, 3)],
            ..Case::default()
        },
        Case {
            name: "third widening: anyone",
            agents: vec![agent(1, &[("lang:en", 5)], 1)],
            queue: widening.clone(),
            conversations: vec![with_skills(10, T0 - 30 * MINUTE, &["refunds", "lang:zh"])],
            expected: vec![(10, 1)],
            ..Case::default()
        },
        Case {
            name: "the higher-level match wins when several levels are open",
            agents: widening_agents(),
            queue: widening,
            conversations: vec![with_skills(10, T0 - 30 * MINUTE, &["refunds", "lang:zh"])],
            // Agent 2 scores billing 1 + zh 2 = 3, agent 3 zh 5 = 5, agent 4 billing 3 + refunds 2 = 5,
            // agent 1 nothing: 3 and 4 tie on score and load, 3 is more idle.
            expected: vec![(10, 3)],
            ..Case::default()
        },
        Case {
            name: "capacity per channel",
            agents: vec![AgentConfig { capacity: capacity(0, 2, 1), ..agent(1, &[], 0) }],
            conversations: vec![
                request(10, 1, T0),
                ConversationRequest { channel: Channel::Email, ..request(11, 1, T0 + 1) },
                ConversationRequest { channel: Channel::Api, ..request(12, 1, T0 + 2) },
                ConversationRequest { channel: Channel::Api, ..request(13, 1, T0 + 3) },
                ConversationRequest { channel: Channel::Email, ..request(14, 1, T0 + 4) },
                ConversationRequest { channel: Channel::Email, ..request(15, 1, T0 + 5) },
            ],
            expected: vec![(11, 1), (12, 1), (14, 1)],
            ..Case::default()
        },
        Case {
            name: "never above capacity: the highest priority ones get the slots",
            agents: vec![agent(1, &[], 2)],
            conversations: vec![
                request(10, 1, T0),
                ConversationRequest { priority: 30, ..request(11, 1, T0) },
                ConversationRequest { priority: 10, ..request(12, 1, T0) },
            ],
            expected: vec![(11, 1), (12, 1)],
            ..Case::default()
        },
        Case {
            name: "away and offline agents get nothing",
            agents: vec![
                presence(agent(1, &[], 5), Presence::Away),
                presence(agent(2, &[], 5), Presence::Offline),
            ],
            conversations: vec![request(10, 1, T0)],
            expected: vec![],
            ..Case::default()
        },
        Case {
            name: "skipped agents are not offered it again",
            agents: vec![agent(1, &[("refunds", 5)], 2), agent(2, &[], 2)],
            conversations: vec![ConversationRequest {
                skip: vec![UserId(1)],
                ..request(10, 1, T0)
            }],
            expected: vec![(10, 2)],
            ..Case::default()
        },
        Case {
            name: "aging: a low-priority conversation waiting long overtakes a fresh VIP",
            agents: vec![agent(1, &[], 1)],
            conversations: vec![
                ConversationRequest { priority: 60, ..request(10, 1, T0) },
                // 0 + 61 minutes of aging at 1 point a minute > 60.
                request(11, 1, T0 - 61 * MINUTE),
            ],
            expected: vec![(11, 1)],
            ..Case::default()
        },
        Case {
            name: "aging: not yet long enough",
            agents: vec![agent(1, &[], 1)],
            conversations: vec![
                ConversationRequest { priority: 60, ..request(10, 1, T0) },
                request(11, 1, T0 - 59 * MINUTE),
            ],
            expected: vec![(10, 1)],
            ..Case::default()
        },
        Case {
            name: "SLA at risk jumps ahead",
            agents: vec![agent(1, &[], 1)],
            // At risk after 80% of 10 minutes = 8 minutes; boost 60 points.
            queue: QueueConfig { sla_ms: 10 * MINUTE, ..queue(1, &[]) },
            conversations: vec![
                ConversationRequest { priority: 50, ..request(10, 1, T0) },
                request(11, 1, T0 - 8 * MINUTE),
            ],
            expected: vec![(11, 1)],
            ..Case::default()
        },
        Case {
            name: "equal priority: first come first served, then by id",
            agents: vec![agent(1, &[], 2)],
            conversations: vec![request(12, 1, T0), request(11, 1, T0), request(10, 1, T0 + 1)],
            expected: vec![(11, 1), (12, 1)],
            ..Case::default()
        },
    ];
    for case in cases {
        check(case);
    }
}

/// For a queue needing billing 3 and a conversation adding refunds and lang:zh.
fn widening_agents() -> Vec<AgentConfig> {
    vec![
        agent(1, &[], 1),
        idle_since(agent(2, &[("billing", 1), ("lang:zh", 2)], 1), T0 - 3 * MINUTE),
        idle_since(agent(3, &[("lang:zh", 5)], 1), T0 - 4 * MINUTE),
        idle_since(agent(4, &[("billing", 3), ("refunds", 2)], 1), T0 - 2 * MINUTE),
    ]
}

#[test]
fn assignments_say_why() {
    let mut router = Router::default();
    router
        .upsert_queue(QueueConfig {
            widen_after_ms: MINUTE,
            offer_timeout_ms: 30_000,
            ..queue(1, &[])
        })
        .unwrap();
    router.add_agent(agent(1, &[], 3)).unwrap();
    router.add_agent(agent(2, &[], 3)).unwrap();
    router.enqueue(ConversationRequest { sticky: Some(UserId(2)), ..request(10, 1, T0) }).unwrap();
    router.enqueue(request(11, 1, T0 - 2 * MINUTE)).unwrap();
    let assignments = router.assign(T0);
    assert_eq!(assignments.len(), 2);
    assert_eq!(assignments[0].conversation, ConversationId(11));
    assert_eq!(assignments[0].reason, AssignReason::Skills { widened: 2 });
    assert_eq!(assignments[0].deadline, Some(T0 + 30_000));
    assert_eq!(assignments[1].agent, UserId(2));
    assert_eq!(assignments[1].reason, AssignReason::Sticky);
}

#[test]
fn a_round_decides_once_per_waiting_conversation_of_open_queues() {
    let mut router = Router::default();
    router.upsert_queue(queue(1, &[])).unwrap();
    let closed = QueueConfig {
        hours: tandem_routing::BusinessHours::new(
            vec![tandem_routing::OpenRange { weekday: 6, start_minute: 0, end_minute: 60 }],
            tandem_domain::TimeZoneName::utc(),
        ),
        ..queue(2, &[])
    };
    router.upsert_queue(closed).unwrap();
    router.add_agent(agent(1, &[], 1)).unwrap();
    for id in 0..5 {
        router.enqueue(request(id, 1, T0 + id)).unwrap();
        router.enqueue(request(100 + id, 2, T0 + id)).unwrap();
    }
    let decisions: Vec<_> = router.round(T0 + MINUTE).collect();
    let considered: Vec<i64> = decisions.iter().map(|decision| decision.conversation.0).collect();
    assert_eq!(considered, vec![0, 1, 2, 3, 4]);
    assert_eq!(decisions.iter().filter(|decision| decision.assignment.is_some()).count(), 1);
}

#[test]
fn configuration_is_validated() {
    let mut router = Router::default();
    assert!(router.upsert_queue(queue(1, &[("refunds", 6)])).is_err());
    assert!(router.upsert_queue(queue(1, &[("", 1)])).is_err());
    assert!(router.add_agent(agent(1, &[("refunds", 0)], 1)).is_err());
    assert!(
        Router::new(RouterConfig { aging_points_per_minute: -1, ..RouterConfig::default() })
            .is_err()
    );
    // Names are trimmed and lowercased: "Refunds " is "refunds".
    router.upsert_queue(queue(1, &[("Refunds ", 2)])).unwrap();
    router.add_agent(agent(1, &[("REFUNDS", 2)], 1)).unwrap();
    router.enqueue(with_skills(10, T0, &["Lang:ZH"])).unwrap();
    router.add_agent(agent(2, &[("refunds", 2), ("lang:zh", 1)], 1)).unwrap();
    assert_eq!(router.assign(T0)[0].agent, UserId(2));
    assert_eq!(router.agent_snapshot(UserId(1)).unwrap().skills, crate::skills(&[("refunds", 2)]));
}
