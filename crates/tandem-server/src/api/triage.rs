//! The triage API: the workspace's escalation policy, the hand-off packet of a conversation,
//! and routing: agents' presence, skills and capacity, queues' rules, the live snapshot, and
//! re-routing by a supervisor.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tandem_domain::{
    AgentRouting, Channel, EscalationPolicy, HandoffPacket, Presence, Queue, QueueId, QueueRouting,
    Transition, UserId, validate,
};
use tandem_routing::Snapshot;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::api::agents::conversation_for;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(policy, save_policy))
        .routes(routes!(handoff))
        .routes(routes!(reroute))
        .routes(routes!(snapshot))
        .routes(routes!(agents))
        .routes(routes!(save_agent))
        .routes(routes!(set_presence))
        .routes(routes!(set_my_presence))
        .routes(routes!(queues))
        .routes(routes!(save_queue))
}

/// Routing as it stands: queues (waiting, offered, with people, longest wait, SLA at risk),
/// agents (presence, load) and the conversations waiting or offered: the live desk's data.
#[utoipa::path(get, path = "/api/v1/routing", operation_id = "getRoutingSnapshot", tag = "triage", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The snapshot.", body = Snapshot), Errors))]
async fn snapshot(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Snapshot>> {
    Ok(ApiJson(state.routing.snapshot(agent.user.workspace_id).await?))
}

/// The agents' routing settings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Agents {
    agents: Vec<AgentRouting>,
}

/// Every active user's skills, capacity and presence (defaults for those never set up).
#[utoipa::path(get, path = "/api/v1/routing/agents", operation_id = "listAgentRouting", tag = "triage", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The agents.", body = Agents), Errors))]
async fn agents(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Agents>> {
    let agents = state.store.agent_routing(agent.user.workspace_id).await?;
    Ok(ApiJson(Agents { agents }))
}

/// An agent's skills and capacity.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AgentRequest {
    #[serde(default)]
    skills: BTreeMap<String, u8>,
    #[serde(default)]
    capacity: BTreeMap<Channel, u32>,
}

/// A user of the agent's own workspace.
async fn colleague(state: &AppState, agent: &Agent, id: i64) -> ApiResult<UserId> {
    state
        .store
        .user(UserId(id))
        .await?
        .filter(|user| user.workspace_id == agent.user.workspace_id)
        .map(|user| user.id)
        .ok_or(ApiError::NotFound(tandem_store::Entity::Agent))
}

/// Sets an agent's skills (name → level 1 to 5) and capacity (channel → open conversations,
/// 0 to 50); routing uses them from its next round (supervisors and admins).
#[utoipa::path(put, path = "/api/v1/routing/agents/{id}", operation_id = "saveAgentRouting", tag = "triage",
    params(("id" = i64, Path, description = "The agent (user).")), request_body = AgentRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = AgentRouting), Errors))]
async fn save_agent(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<AgentRequest>,
) -> ApiResult<ApiJson<AgentRouting>> {
    agent.require_manager()?;
    let user = colleague(&state, &agent, id).await?;
    let mut routing = AgentRouting::new(user);
    routing.skills = validate::skill_levels(&request.skills)?;
    routing.capacity = validate::capacity(&request.capacity)?;
    Ok(ApiJson(state.routing.save_agent(agent.user.workspace_id, routing).await?))
}

/// A new presence.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PresenceRequest {
    presence: Presence,
}

/// Sets the caller's own presence: `online` takes new conversations, `away` keeps what it has,
/// `offline` gives its open conversations back to the queue.
#[utoipa::path(put, path = "/api/v1/me/presence", operation_id = "setMyPresence", tag = "triage", request_body = PresenceRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Set.", body = AgentRouting), Errors))]
async fn set_my_presence(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<PresenceRequest>,
) -> ApiResult<ApiJson<AgentRouting>> {
    let workspace = agent.user.workspace_id;
    Ok(ApiJson(state.routing.set_presence(workspace, agent.user.id, request.presence).await?))
}

/// Sets an agent's presence (their own, or anyone's for supervisors and admins).
#[utoipa::path(put, path = "/api/v1/routing/agents/{id}/presence", operation_id = "setAgentPresence", tag = "triage",
    params(("id" = i64, Path, description = "The agent (user).")), request_body = PresenceRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Set.", body = AgentRouting), Errors))]
async fn set_presence(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<PresenceRequest>,
) -> ApiResult<ApiJson<AgentRouting>> {
    let user = colleague(&state, &agent, id).await?;
    if user != agent.user.id {
        agent.require_manager()?;
    }
    let workspace = agent.user.workspace_id;
    Ok(ApiJson(state.routing.set_presence(workspace, user, request.presence).await?))
}

/// The workspace's queues.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Queues {
    queues: Vec<Queue>,
}

/// The workspace's queues with their routing rules.
#[utoipa::path(get, path = "/api/v1/queues", operation_id = "listQueues", tag = "triage", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The queues.", body = Queues), Errors))]
async fn queues(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Queues>> {
    let queues = state.store.queues(agent.user.workspace_id).await?;
    Ok(ApiJson(Queues { queues }))
}

/// A queue's new name, description and rules.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct QueueRequest {
    name: Option<String>,
    description: Option<String>,
    routing: QueueRouting,
}

/// Changes a queue's name, description and routing rules (supervisors and admins).
#[utoipa::path(put, path = "/api/v1/queues/{id}", operation_id = "saveQueue", tag = "triage",
    params(("id" = i64, Path, description = "The queue.")), request_body = QueueRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = Queue), Errors))]
async fn save_queue(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<QueueRequest>,
) -> ApiResult<ApiJson<Queue>> {
    agent.require_manager()?;
    let mut queue = state
        .store
        .queues(agent.user.workspace_id)
        .await?
        .into_iter()
        .find(|queue| queue.id == QueueId(id))
        .ok_or(ApiError::NotFound(tandem_store::Entity::Queue))?;
    if let Some(name) = request.name {
        queue.name = validate::display_name(&name)?;
    }
    if let Some(description) = request.description {
        queue.description = description.trim().to_owned();
    }
    queue.routing = validate::queue_routing(request.routing)?;
    Ok(ApiJson(state.routing.save_queue(queue).await?))
}

/// Where a supervisor moves a conversation: exactly one of the two.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RerouteRequest {
    /// Give the conversation to this agent…
    agent_id: Option<i64>,
    /// …or put it back to wait in this queue.
    queue_id: Option<i64>,
}

/// A supervisor moves a conversation: to an agent (who gets it at once, even above their
/// capacity) or to another queue (where it waits, keeping its place in time).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/reroute", operation_id = "reroute", tag = "triage",
    params(("id" = i64, Path, description = "The conversation.")), request_body = RerouteRequest, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Moved.", body = tandem_domain::Conversation), Errors))]
async fn reroute(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<RerouteRequest>,
) -> ApiResult<ApiJson<tandem_domain::Conversation>> {
    agent.require_manager()?;
    let conversation = conversation_for(&state, &agent, id).await?;
    match (request.agent_id, request.queue_id) {
        (Some(target), None) => {
            let target = colleague(&state, &agent, target).await?;
            let user = state
                .store
                .user(target)
                .await?
                .ok_or(ApiError::NotFound(tandem_store::Entity::Agent))?;
            let assign = Transition::Assign { agent: target };
            Ok(ApiJson(
                state.relay.agent_transition(&conversation, assign, &user.display_name).await?,
            ))
        }
        (None, Some(queue)) => {
            let transition = match conversation.state {
                tandem_domain::ConversationState::Human => Some(Transition::Release),
                tandem_domain::ConversationState::Bot => Some(Transition::Escalate),
                _ => None,
            };
            let change = tandem_store::RouteChange {
                transition,
                queue_id: Some(QueueId(queue)),
                ..tandem_store::RouteChange::default()
            };
            Ok(ApiJson(state.store.route(conversation.id, change).await?))
        }
        _ => {
            let problem =
                tandem_domain::Problem::ExactlyOne { options: "agent_id, queue_id".into() };
            Err(ApiError::Invalid(tandem_domain::ValidationError::new("agent_id", problem)))
        }
    }
}

/// The workspace's escalation policy (the default when it never saved one).
#[utoipa::path(get, path = "/api/v1/escalation/policy", operation_id = "getEscalationPolicy", tag = "triage", security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The policy.", body = EscalationPolicy), Errors))]
async fn policy(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<EscalationPolicy>> {
    Ok(ApiJson(state.store.escalation_policy(agent.user.workspace_id).await?))
}

/// Replaces the escalation policy, checked (supervisors and admins).
#[utoipa::path(put, path = "/api/v1/escalation/policy", operation_id = "saveEscalationPolicy", tag = "triage", request_body = EscalationPolicy, security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "Saved.", body = EscalationPolicy), Errors))]
async fn save_policy(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(policy): ApiJson<EscalationPolicy>,
) -> ApiResult<ApiJson<EscalationPolicy>> {
    agent.require_manager()?;
    let policy = validate::escalation_policy(policy)?;
    Ok(ApiJson(state.store.save_escalation_policy(agent.user.workspace_id, policy).await?))
}

/// The conversation's newest hand-off packet: why it came to people and everything they need
/// to take over (`handoff_not_found` when it never did).
#[utoipa::path(get, path = "/api/v1/conversations/{id}/handoff", operation_id = "getHandoff", tag = "triage",
    params(("id" = i64, Path, description = "The conversation.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The packet.", body = HandoffPacket), Errors))]
async fn handoff(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<HandoffPacket>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let packet = state
        .store
        .handoff(conversation.id)
        .await?
        .ok_or(ApiError::NotFound(tandem_store::Entity::HandoffPacket))?;
    Ok(ApiJson(packet))
}
