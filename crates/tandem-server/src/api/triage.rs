//! The triage API: the workspace's escalation policy, the hand-off packet of a conversation,
//! and routing: agents' presence, skills and capacity, queues' rules, the live snapshot, and
//! re-routing by a supervisor.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use serde::Deserialize;
use tandem_domain::{
    AgentRouting, Channel, EscalationPolicy, HandoffPacket, Presence, Queue, QueueId, QueueRouting,
    Transition, UserId, validate,
};
use tandem_routing::Snapshot;

use crate::AppState;
use crate::api::agents::conversation_for;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/escalation/policy", get(policy).put(save_policy))
        .route("/api/v1/conversations/{id}/handoff", get(handoff))
        .route("/api/v1/conversations/{id}/reroute", post(reroute))
        .route("/api/v1/routing", get(snapshot))
        .route("/api/v1/routing/agents", get(agents))
        .route("/api/v1/routing/agents/{id}", put(save_agent))
        .route("/api/v1/routing/agents/{id}/presence", put(set_presence))
        .route("/api/v1/me/presence", put(set_my_presence))
        .route("/api/v1/queues", get(queues))
        .route("/api/v1/queues/{id}", put(save_queue))
}

async fn snapshot(State(state): State<AppState>, agent: Agent) -> ApiResult<ApiJson<Snapshot>> {
    Ok(ApiJson(state.routing.snapshot(agent.user.workspace_id).await?))
}

async fn agents(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<serde_json::Value>> {
    let agents = state.store.agent_routing(agent.user.workspace_id).await?;
    Ok(ApiJson(serde_json::json!({ "agents": agents })))
}

#[derive(Debug, Deserialize)]
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

async fn save_agent(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    ApiJson(request): ApiJson<AgentRequest>,
) -> ApiResult<ApiJson<AgentRouting>> {
    agent.require_manager()?;
    let user = colleague(&state, &agent, id).await?;
    let mut routing = AgentRouting::new(user);
    routing.skills = validate::skill_levels(&request.skills)?;
    routing.capacity = validate::capacity(&request.capacity)?;
    Ok(ApiJson(state.routing.save_agent(agent.user.workspace_id, routing).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceRequest {
    presence: Presence,
}

async fn set_my_presence(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(request): ApiJson<PresenceRequest>,
) -> ApiResult<ApiJson<AgentRouting>> {
    let workspace = agent.user.workspace_id;
    Ok(ApiJson(state.routing.set_presence(workspace, agent.user.id, request.presence).await?))
}

async fn set_presence(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
    ApiJson(request): ApiJson<PresenceRequest>,
) -> ApiResult<ApiJson<AgentRouting>> {
    let user = colleague(&state, &agent, id).await?;
    if user != agent.user.id {
        agent.require_manager()?;
    }
    let workspace = agent.user.workspace_id;
    Ok(ApiJson(state.routing.set_presence(workspace, user, request.presence).await?))
}

async fn queues(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<serde_json::Value>> {
    let queues = state.store.queues(agent.user.workspace_id).await?;
    Ok(ApiJson(serde_json::json!({ "queues": queues })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueRequest {
    name: Option<String>,
    description: Option<String>,
    routing: QueueRouting,
}

async fn save_queue(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RerouteRequest {
    /// Give the conversation to this agent…
    agent_id: Option<i64>,
    /// …or put it back to wait in this queue.
    queue_id: Option<i64>,
}

/// A supervisor moves a conversation: to an agent (who gets it at once, even above their
/// capacity) or to another queue (where it waits, keeping its place in time).
async fn reroute(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
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
        _ => Err(ApiError::Invalid(tandem_domain::ValidationError {
            field: "agent_id",
            reason: "give exactly one of agent_id and queue_id".into(),
        })),
    }
}

async fn policy(
    State(state): State<AppState>,
    agent: Agent,
) -> ApiResult<ApiJson<EscalationPolicy>> {
    Ok(ApiJson(state.store.escalation_policy(agent.user.workspace_id).await?))
}

async fn save_policy(
    State(state): State<AppState>,
    agent: Agent,
    ApiJson(policy): ApiJson<EscalationPolicy>,
) -> ApiResult<ApiJson<EscalationPolicy>> {
    agent.require_manager()?;
    let policy = validate::escalation_policy(policy)?;
    Ok(ApiJson(state.store.save_escalation_policy(agent.user.workspace_id, policy).await?))
}

async fn handoff(
    State(state): State<AppState>,
    agent: Agent,
    Path(id): Path<i64>,
) -> ApiResult<ApiJson<HandoffPacket>> {
    let conversation = conversation_for(&state, &agent, id).await?;
    let packet = state
        .store
        .handoff(conversation.id)
        .await?
        .ok_or(ApiError::NotFound(tandem_store::Entity::HandoffPacket))?;
    Ok(ApiJson(packet))
}
