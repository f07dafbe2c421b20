//! What goes into the router (settings, agents, queues, conversations to route) and what comes
//! out (assignments, released conversations, estimates, snapshots). All of it is plain data
//! that serializes to JSON, so the server can store and serve it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tandem_domain::{
    AgentRouting, Channel, ConversationId, Millis, Presence, QueueId, QueueRouting, RouteInfo,
    UserId,
};

use crate::BusinessHours;

/// Router-wide settings: how priority ages, when a conversation counts as at risk, and what
/// wait estimates assume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RouterConfig {
    /// Priority points a waiting conversation gains per minute of waiting, so that a
    /// low-priority conversation waiting long enough overtakes fresh high-priority ones.
    pub aging_points_per_minute: i64,
    /// A waiting conversation is at risk once it has waited this share (percent) of its
    /// queue's first-response SLA target.
    pub sla_risk_percent: u32,
    /// Priority points added to a conversation at risk.
    pub sla_risk_boost: i64,
    /// Handling time assumed for a queue before any of its conversations has finished.
    pub default_handling_ms: Millis,
    /// Weight (percent) of the newest handling time in a queue's moving average.
    pub handling_weight_percent: u32,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            aging_points_per_minute: 1,
            sla_risk_percent: 80,
            sla_risk_boost: 60,
            default_handling_ms: 10 * 60_000,
            handling_weight_percent: 20,
        }
    }
}

fn offline() -> Presence {
    Presence::Offline
}

/// An agent as the router sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub id: UserId,
    /// Skill name (`refunds`, `lang:zh`; lowercased) → proficiency 1..=5.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// Open conversations at once per channel; a missing channel or 0 = does not take it.
    #[serde(default)]
    pub capacity: BTreeMap<Channel, u32>,
    #[serde(default = "offline")]
    pub presence: Presence,
    /// When the agent was last assigned a conversation (for longest-idle); `None` = never.
    #[serde(default)]
    pub last_assigned_at: Option<Millis>,
}

impl AgentConfig {
    /// An online agent without skills who takes nothing until given capacity.
    pub fn new(id: UserId) -> AgentConfig {
        AgentConfig {
            id,
            skills: BTreeMap::new(),
            capacity: BTreeMap::new(),
            presence: Presence::Online,
            last_assigned_at: None,
        }
    }
}

impl From<&AgentRouting> for AgentConfig {
    fn from(routing: &AgentRouting) -> AgentConfig {
        AgentConfig {
            id: routing.user_id,
            skills: routing.skills.clone(),
            capacity: routing.capacity.clone(),
            presence: routing.presence,
            last_assigned_at: None,
        }
    }
}

/// How a queue routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub id: QueueId,
    /// Skill name → minimum proficiency (1..=5) every agent of this queue needs.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// Target time from enqueue to the first human response; 0 = no target (never at risk).
    #[serde(default)]
    pub sla_ms: Millis,
    /// An offer not accepted this long after it was made goes to someone else, and the agent
    /// is skipped for that conversation; 0 = offers never time out.
    #[serde(default)]
    pub offer_timeout_ms: Millis,
    /// After waiting this long the requirements widen (see the crate docs); 0 = never.
    #[serde(default)]
    pub widen_after_ms: Millis,
    /// When the queue is staffed; closed queues assign nobody.
    #[serde(default)]
    pub hours: BusinessHours,
}

impl QueueConfig {
    /// A queue without requirements, targets or hours: anyone, any time, no timeouts.
    pub fn new(id: QueueId) -> QueueConfig {
        QueueConfig {
            id,
            skills: BTreeMap::new(),
            sla_ms: 0,
            offer_timeout_ms: 0,
            widen_after_ms: 0,
            hours: BusinessHours::always(),
        }
    }

    pub fn from_routing(id: QueueId, routing: &QueueRouting) -> QueueConfig {
        QueueConfig {
            id,
            skills: routing.skills.clone(),
            sla_ms: routing.sla_ms,
            offer_timeout_ms: routing.offer_timeout_ms,
            widen_after_ms: routing.widen_after_ms,
            hours: BusinessHours::new(routing.hours.clone(), routing.time_zone.clone()),
        }
    }
}

/// A conversation to route: where it waits, what it needs, how urgent it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationRequest {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub channel: Channel,
    /// Skills needed beyond the queue's, at any proficiency: the detected topic, the language
    /// (`lang:zh`).
    #[serde(default)]
    pub skills: Vec<String>,
    /// Base priority points: the customer's tier/value plus any emotion boost (the caller's
    /// scale; aging and the SLA boost are added by the router).
    #[serde(default)]
    pub priority: i64,
    /// When it started waiting for a person; kept when it is requeued.
    pub enqueued_at: Millis,
    /// The customer's previous agent, preferred when eligible.
    #[serde(default)]
    pub sticky: Option<UserId>,
    /// Agents never offered this conversation again (declined or timed out).
    #[serde(default)]
    pub skip: Vec<UserId>,
}

impl ConversationRequest {
    pub fn new(
        conversation: ConversationId,
        queue: QueueId,
        channel: Channel,
        enqueued_at: Millis,
    ) -> ConversationRequest {
        ConversationRequest {
            conversation,
            queue,
            channel,
            skills: Vec::new(),
            priority: 0,
            enqueued_at,
            sticky: None,
            skip: Vec::new(),
        }
    }

    /// The request for a conversation whose routing record the store keeps.
    pub fn from_route(
        conversation: ConversationId,
        queue: QueueId,
        channel: Channel,
        route: &RouteInfo,
    ) -> ConversationRequest {
        ConversationRequest {
            conversation,
            queue,
            channel,
            skills: route.skills.clone(),
            priority: route.priority,
            enqueued_at: route.queued_at,
            sticky: route.sticky,
            skip: route.skip.clone(),
        }
    }
}

/// Why an agent got a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AssignReason {
    /// The customer's previous agent.
    Sticky,
    /// The best match for the requirements, widened `widened` steps (0 = not widened).
    Skills { widened: u8 },
    /// A supervisor chose the agent ([`crate::Router::reroute`]).
    Manual,
}

/// An offer of a conversation to an agent, already recorded by the router. The service
/// persists it (`Transition::Assign`) and, if that fails, calls
/// [`crate::Router::withdraw`] (or `cancelled` when the conversation is gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assignment {
    pub conversation: ConversationId,
    pub agent: UserId,
    pub queue: QueueId,
    pub channel: Channel,
    pub assigned_at: Millis,
    /// When the offer times out unless accepted; `None` = never.
    pub deadline: Option<Millis>,
    pub reason: AssignReason,
}

/// One step of an assignment round: the conversation considered and the agent chosen, if any
/// was eligible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub assignment: Option<Assignment>,
}

/// A conversation taken from an agent and put back to wait (offer timed out, agent went
/// offline or was removed). The service persists it (`Transition::Release`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Released {
    pub conversation: ConversationId,
    pub agent: UserId,
    pub queue: QueueId,
    /// Whether the agent had accepted it (responded) before it was taken away.
    pub was_accepted: bool,
}

/// Where a conversation is in routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Placement {
    Waiting {
        queue: QueueId,
    },
    /// Offered to an agent who has not responded yet.
    Offered {
        queue: QueueId,
        agent: UserId,
        assigned_at: Millis,
        deadline: Option<Millis>,
    },
    /// The agent has responded: no timer runs.
    Accepted {
        queue: QueueId,
        agent: UserId,
        assigned_at: Millis,
        accepted_at: Millis,
    },
}

impl Placement {
    pub fn queue(&self) -> QueueId {
        match *self {
            Placement::Waiting { queue }
            | Placement::Offered { queue, .. }
            | Placement::Accepted { queue, .. } => queue,
        }
    }

    /// The agent holding the conversation, if any.
    pub fn agent(&self) -> Option<UserId> {
        match *self {
            Placement::Waiting { .. } => None,
            Placement::Offered { agent, .. } | Placement::Accepted { agent, .. } => Some(agent),
        }
    }
}

/// What a waiting customer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WaitEstimate {
    /// 1-based place among the conversations waiting in the same queue, in priority order.
    pub position: u32,
    /// A rough estimate of the remaining wait; `None` when nobody online could take it and the
    /// queue cannot estimate when someone will.
    pub eta_ms: Option<Millis>,
    /// Whether the queue is open now.
    pub open: bool,
}

/// A queue as a supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueSnapshot {
    pub queue: QueueId,
    pub open: bool,
    /// `now` when open; the next opening when closed; `None` if it never opens.
    pub next_open: Option<Millis>,
    pub waiting: u32,
    /// Offered to an agent who has not responded yet.
    pub offered: u32,
    pub accepted: u32,
    /// How long the longest-waiting conversation has waited; 0 when none waits.
    pub longest_wait_ms: Millis,
    /// Waiting conversations past the at-risk share of the SLA target but not past the target.
    pub at_risk: u32,
    /// Waiting conversations past the SLA target.
    pub breached: u32,
    /// The moving average of handling time, or the default before any conversation finished.
    pub average_handling_ms: Millis,
}

/// An agent as a supervisor sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentSnapshot {
    pub id: UserId,
    pub presence: Presence,
    pub skills: BTreeMap<String, u8>,
    pub capacity: BTreeMap<Channel, u32>,
    /// Conversations held per channel (offered or accepted).
    pub load: BTreeMap<Channel, u32>,
    /// Of those, offers not yet accepted.
    pub offered: u32,
    pub last_assigned_at: Option<Millis>,
    /// The conversations held, by id.
    pub conversations: Vec<ConversationId>,
}

/// Every queue and agent, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub now: Millis,
    pub queues: Vec<QueueSnapshot>,
    pub agents: Vec<AgentSnapshot>,
}
