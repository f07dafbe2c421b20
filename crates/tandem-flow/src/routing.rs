//! The routing service: keeps one [`Router`] per workspace in step with the store and writes
//! what it decides back through the conversation state machine.
//!
//! The store stays the truth. Every store change of a routed conversation is followed by
//! re-reading that conversation and bringing the router in line with it (a conversation a person
//! took by hand, released, resolved or handed back), then a round of assignments; each
//! assignment is persisted (`Assign`, only while the conversation still waits) before anyone is
//! told. Offers nobody answered in time go back to the queue skipping that agent, unless the
//! agent's reply got there first (the store refuses the release then). Everything runs under one
//! lock, in the order events arrive, so two assignments can never race each other.
//!
//! Several Tandem nodes on one database (a shared store) each keep every workspace's desk in
//! step with the store, but only the node holding the workspace's router lease (`router:{id}`, renewed every
//! round, [`LEASE`] long) assigns, times out offers and opens tickets: the others mirror it,
//! for wait estimates and the supervisor's view. A node that takes the lease over rebuilds the
//! desk from the store first. Agents' settings and queues changed on any node reach every desk
//! through the change feed (`Change::Agents`).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tandem_domain::{
    AgentRouting, Channel, Conversation, ConversationId, ConversationState, InboxId, Millis,
    Presence, Queue, QueueId, QueueRouting, Transition, UserId, WorkspaceId,
};
use tandem_routing::{
    AgentConfig, ConversationRequest, Placement, QueueConfig, Router, RouterConfig, Snapshot,
    WaitEstimate,
};
use tandem_store::{Change, RouteChange, Store, StoreError};
use tokio::sync::{Mutex, broadcast, watch};

use crate::{Clock, Phrases};

/// Conversations of a workspace without queues wait in this one.
pub const DEFAULT_QUEUE: QueueId = QueueId(0);
/// How often offers are checked for their deadline.
const TICK: Duration = Duration::from_secs(1);
/// How long a node's router lease runs without renewal: how soon another node takes over a
/// workspace whose router stopped.
pub const LEASE: Millis = 5_000;
/// Every this many rounds the service looks for workspaces it has no desk for yet.
const LIST_EVERY: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum RoutingServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Routing(#[from] tandem_routing::RoutingError),
}

struct Desk {
    router: Router,
    channels: HashMap<InboxId, Channel>,
    queues: HashSet<QueueId>,
    /// After-hours tickets: conversations the bot keeps until their queue opens, and when.
    tickets: HashMap<ConversationId, Millis>,
    /// Whether this node holds the workspace's router lease: only then does it assign.
    leader: bool,
}

/// See the module documentation. Cheap to share (`Arc`).
pub struct Routing {
    store: Arc<dyn Store>,
    clock: Clock,
    desks: Mutex<HashMap<WorkspaceId, Desk>>,
    /// A workspace whose queues moved: widgets show new positions.
    moved: broadcast::Sender<WorkspaceId>,
    /// The time (by `clock`) of the latest round of deadlines, once it has finished.
    rounds: watch::Sender<Millis>,
    /// Rounds run so far.
    round: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routing")
    }
}

impl Routing {
    /// Starts following the store's change feed and the offer clock.
    pub fn start(store: Arc<dyn Store>, clock: Clock) -> Arc<Routing> {
        let (moved, _) = broadcast::channel(256);
        let routing = Arc::new(Routing {
            store,
            clock,
            desks: Mutex::new(HashMap::new()),
            moved,
            rounds: watch::Sender::new(0),
            round: std::sync::atomic::AtomicU64::new(0),
        });
        let this = Arc::downgrade(&routing);
        crate::supervise("routing: change feed", move |restarts| {
            let this = this.clone();
            async move {
                let Some(routing) = this.upgrade() else { return };
                let mut feed = routing.store.subscribe();
                if restarts > 0 {
                    // Changes may have gone by meanwhile: mirror the store afresh.
                    routing.reload_all().await;
                }
                drop(routing);
                loop {
                    let change = feed.recv().await;
                    let Some(routing) = this.upgrade() else { return };
                    match change {
                        Ok(change) => routing.on_change(&change).await,
                        Err(broadcast::error::RecvError::Lagged(_)) => routing.reload_all().await,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
        let this: Weak<Routing> = Arc::downgrade(&routing);
        crate::supervise("routing: clock", move |_| {
            let this = this.clone();
            async move {
                let mut ticker = tokio::time::interval(TICK);
                loop {
                    ticker.tick().await;
                    let Some(routing) = this.upgrade() else { return };
                    routing.tick().await;
                }
            }
        });
        routing
    }

    /// Tells when a workspace's queues moved (positions, estimates).
    pub fn subscribe(&self) -> broadcast::Receiver<WorkspaceId> {
        self.moved.subscribe()
    }

    /// The time, by the service's clock, of the latest round of offer deadlines and opening
    /// hours (0 before the first), sent when the round has finished; rounds run every second.
    /// For a health check that the clock still runs, and for tests that must know a deadline
    /// was looked at before they check that nothing moved.
    pub fn rounds(&self) -> watch::Receiver<Millis> {
        self.rounds.subscribe()
    }

    fn now(&self) -> Millis {
        (self.clock)()
    }

    /// The customer's place in the queue, while their conversation waits.
    pub async fn wait_estimate(
        &self,
        conversation: &Conversation,
    ) -> Result<Option<WaitEstimate>, RoutingServiceError> {
        let now = self.now();
        let mut desks = self.desks.lock().await;
        let workspace = conversation.workspace_id;
        let known = self.desk(&mut desks, workspace).await?.router.placement(conversation.id);
        if known.is_none() && conversation.state == ConversationState::Queued {
            // Asked before the change feed got here: catch up now.
            self.sync(&mut desks, workspace, conversation.id).await?;
            self.dispatch(&mut desks, workspace).await;
        }
        let desk = self.desk(&mut desks, workspace).await?;
        match desk.router.placement(conversation.id) {
            Some(Placement::Waiting { .. }) => {
                Ok(Some(desk.router.wait_estimate(conversation.id, now)?))
            }
            _ => Ok(None),
        }
    }

    /// Live queues and agents for the supervisor.
    pub async fn snapshot(&self, workspace: WorkspaceId) -> Result<Snapshot, RoutingServiceError> {
        let now = self.now();
        let mut desks = self.desks.lock().await;
        let desk = self.desk(&mut desks, workspace).await?;
        Ok(desk.router.snapshot(now))
    }

    /// The after-hours tickets waiting for their queue to open, soonest first.
    pub async fn tickets(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<(ConversationId, Millis)>, RoutingServiceError> {
        let mut desks = self.desks.lock().await;
        let desk = self.desk(&mut desks, workspace).await?;
        let mut tickets: Vec<(ConversationId, Millis)> =
            desk.tickets.iter().map(|(id, at)| (*id, *at)).collect();
        tickets.sort_by_key(|(id, at)| (*at, *id));
        Ok(tickets)
    }

    /// An agent goes online, away or offline. Offline gives their conversations back to the
    /// queue, each written to the store before the next round assigns it again.
    pub async fn set_presence(
        &self,
        workspace: WorkspaceId,
        agent: UserId,
        presence: Presence,
    ) -> Result<AgentRouting, RoutingServiceError> {
        let mut desks = self.desks.lock().await;
        let mut routing = self.stored_agent(workspace, agent).await?;
        routing.presence = presence;
        routing.presence_at = self.now();
        let saved = self.store.save_agent_routing(routing).await?;
        let desk = self.desk(&mut desks, workspace).await?;
        let released = desk.router.set_presence(agent, presence)?;
        for released in released {
            let change = RouteChange {
                transition: Some(Transition::Release),
                only_if_state: Some(ConversationState::Human),
                ..RouteChange::default()
            };
            self.persist_release(released.conversation, change).await;
        }
        self.settle(&mut desks, workspace).await;
        Ok(saved)
    }

    /// An agent's skills or capacity changed (presence is kept as stored).
    pub async fn save_agent(
        &self,
        workspace: WorkspaceId,
        mut routing: AgentRouting,
    ) -> Result<AgentRouting, RoutingServiceError> {
        let mut desks = self.desks.lock().await;
        let stored = self.stored_agent(workspace, routing.user_id).await?;
        routing.presence = stored.presence;
        routing.presence_at = stored.presence_at;
        let saved = self.store.save_agent_routing(routing).await?;
        let desk = self.desk(&mut desks, workspace).await?;
        desk.router.set_skills(saved.user_id, &saved.skills)?;
        desk.router.set_capacity(saved.user_id, &saved.capacity)?;
        self.settle(&mut desks, workspace).await;
        Ok(saved)
    }

    /// An active user's stored routing settings.
    async fn stored_agent(
        &self,
        workspace: WorkspaceId,
        agent: UserId,
    ) -> Result<AgentRouting, RoutingServiceError> {
        let all = self.store.agent_routing(workspace).await?;
        let found = all.into_iter().find(|routing| routing.user_id == agent);
        Ok(found.ok_or(StoreError::NotFound(tandem_store::Entity::Agent))?)
    }

    /// A queue's routing rules changed.
    pub async fn save_queue(&self, queue: Queue) -> Result<Queue, RoutingServiceError> {
        let mut desks = self.desks.lock().await;
        let saved = self.store.update_queue(queue).await?;
        let desk = self.desk(&mut desks, saved.workspace_id).await?;
        desk.router.upsert_queue(QueueConfig::from_routing(saved.id, &saved.routing))?;
        desk.queues.insert(saved.id);
        self.settle(&mut desks, saved.workspace_id).await;
        Ok(saved)
    }

    /// Forgets a workspace's router so that it is rebuilt from the store on next use (after
    /// users were added or deactivated).
    pub async fn reload(&self, workspace: WorkspaceId) {
        let mut desks = self.desks.lock().await;
        desks.remove(&workspace);
        self.settle(&mut desks, workspace).await;
    }

    async fn reload_all(&self) {
        let workspaces: Vec<WorkspaceId> = self.desks.lock().await.keys().copied().collect();
        for workspace in workspaces {
            self.reload(workspace).await;
        }
    }

    async fn on_change(&self, change: &Change) {
        let (conversation, accepted_by) = match change {
            Change::Conversation(conversation) => (conversation, None),
            Change::Message { conversation, message } => {
                let by_agent = message.author_kind == tandem_domain::AuthorKind::Agent;
                (conversation, message.author_id.filter(|_| by_agent).map(UserId))
            }
            Change::Knowledge(_) => return,
            Change::Agents(workspace) => {
                if self.desks.lock().await.contains_key(workspace) {
                    self.reload(*workspace).await;
                }
                return;
            }
            Change::Erased { workspace, conversations } => {
                // An erased conversation that was waiting or with a person leaves the router.
                let known = self.desks.lock().await.get(workspace).is_some_and(|desk| {
                    conversations.iter().any(|id| desk.router.placement(*id).is_some())
                });
                if known {
                    self.reload(*workspace).await;
                }
                return;
            }
        };
        // Waiting, with a person, or an after-hours ticket the bot keeps until its queue opens.
        let ticket = conversation.state == ConversationState::Bot
            && conversation.route.as_ref().is_some_and(|route| route.follow_up_at.is_some());
        let routed = ticket
            || matches!(conversation.state, ConversationState::Queued | ConversationState::Human);
        let mut desks = self.desks.lock().await;
        let known = desks
            .get(&conversation.workspace_id)
            .is_some_and(|desk| desk.router.placement(conversation.id).is_some());
        if !routed && !known {
            return;
        }
        if accepted_by.is_some() && known && conversation.state == ConversationState::Human {
            // Only a reply of the assignee makes an offer theirs; the store already recorded it.
            let now = self.now();
            if let Some(desk) = desks.get_mut(&conversation.workspace_id)
                && conversation.assignee_id == accepted_by
            {
                let _ = desk.router.accepted(conversation.id, now);
            }
        }
        if let Err(error) = self.sync(&mut desks, conversation.workspace_id, conversation.id).await
        {
            tracing::warn!(conversation_id = %conversation.id, workspace_id = %conversation.workspace_id, %error, "routing could not follow a change");
        }
        self.settle(&mut desks, conversation.workspace_id).await;
    }

    async fn tick(&self) {
        let round = self.round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut desks = self.desks.lock().await;
        if self.store.shared() && round.is_multiple_of(LIST_EVERY) {
            // With several nodes every workspace gets a desk, so a node that takes a
            // workspace's lease over routes its waiting conversations even when nothing
            // happens in it. (One process alone builds a desk on first use, as agents come
            // online or customers wait.)
            match self.store.workspaces().await {
                Ok(workspaces) => {
                    for workspace in workspaces {
                        if let Err(error) = self.desk(&mut desks, workspace.id).await {
                            tracing::warn!(workspace_id = %workspace.id, %error, "routing unavailable");
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "routing cannot list the workspaces"),
            }
        }
        let now = self.now();
        let workspaces: Vec<WorkspaceId> = desks.keys().copied().collect();
        for workspace in workspaces {
            let leader = self.lead(workspace).await;
            let was_leader = desks.get(&workspace).is_some_and(|desk| desk.leader);
            if leader && !was_leader {
                // Taken over from a node that stopped: start from what the store holds.
                desks.remove(&workspace);
                if let Err(error) = self.desk(&mut desks, workspace).await {
                    tracing::warn!(workspace_id = %workspace, %error, "routing unavailable");
                    continue;
                }
                tracing::info!(workspace_id = %workspace, node = tandem_store::node_id(), "this node routes the workspace now");
            }
            let Some(desk) = desks.get_mut(&workspace) else { continue };
            desk.leader = leader;
            if !leader {
                continue;
            }
            let expired = desk.router.expired(now);
            let any = !expired.is_empty();
            for released in expired {
                let change = RouteChange {
                    transition: Some(Transition::Release),
                    skip: Some(released.agent),
                    only_if_offered_to: Some(released.agent),
                    ..RouteChange::default()
                };
                self.persist_release(released.conversation, change).await;
                // The agent may have replied just before the deadline: follow the store.
                let _ = self.sync(&mut desks, workspace, released.conversation).await;
            }
            // Tickets whose queue opened join it now, keeping the time they were raised.
            let due: Vec<ConversationId> = desks
                .get(&workspace)
                .map(|desk| {
                    desk.tickets.iter().filter(|(_, at)| **at <= now).map(|(id, _)| *id).collect()
                })
                .unwrap_or_default();
            for conversation in &due {
                self.follow_up(*conversation).await;
                if let Some(desk) = desks.get_mut(&workspace) {
                    desk.tickets.remove(conversation);
                }
                let _ = self.sync(&mut desks, workspace, *conversation).await;
            }
            let any = any || !due.is_empty();
            // Queues open and close and waits grow: a round can place what could not wait.
            let placed = self.dispatch(&mut desks, workspace).await;
            if any || placed {
                let _ = self.moved.send(workspace);
            }
        }
        self.rounds.send_replace(now);
    }

    /// An after-hours ticket joins its queue: the customer is told a person is coming.
    async fn follow_up(&self, conversation: ConversationId) {
        let mut change = RouteChange {
            transition: Some(Transition::Escalate),
            only_if_state: Some(ConversationState::Bot),
            ..RouteChange::default()
        };
        if let Ok(Some(stored)) = self.store.conversation(conversation).await {
            let locale = crate::relay::conversation_locale(&self.store, &stored).await;
            change.system_message = Some(Phrases::for_locale(locale).follow_up_now.to_owned());
        }
        match self.store.route(conversation, change).await {
            Ok(_) | Err(StoreError::Conflict(_) | StoreError::Transition(_)) => {}
            Err(error) => {
                tracing::warn!(conversation_id = %conversation, %error, "ticket not queued")
            }
        }
    }

    async fn persist_release(&self, conversation: ConversationId, mut change: RouteChange) {
        if let Ok(Some(stored)) = self.store.conversation(conversation).await {
            let locale = crate::relay::conversation_locale(&self.store, &stored).await;
            change.system_message = Some(Phrases::for_locale(locale).back_to_queue.to_owned());
        }
        match self.store.route(conversation, change).await {
            Ok(_) | Err(StoreError::Conflict(_) | StoreError::Transition(_)) => {}
            Err(error) => tracing::warn!(conversation_id = %conversation, %error, "release failed"),
        }
    }

    /// A round of assignments, then tell the widgets.
    async fn settle(&self, desks: &mut HashMap<WorkspaceId, Desk>, workspace: WorkspaceId) {
        self.dispatch(desks, workspace).await;
        let _ = self.moved.send(workspace);
    }

    /// Assigns what can be assigned; each assignment is persisted, and one the store refuses
    /// (the conversation changed meanwhile) is brought back in line with the store.
    async fn dispatch(
        &self,
        desks: &mut HashMap<WorkspaceId, Desk>,
        workspace: WorkspaceId,
    ) -> bool {
        let now = self.now();
        let assignments = match self.desk(desks, workspace).await {
            // Another node routes this workspace.
            Ok(desk) if !desk.leader => return false,
            Ok(desk) => desk.router.assign(now),
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, %error, "routing unavailable");
                return false;
            }
        };
        let placed = !assignments.is_empty();
        for assignment in assignments {
            let name = match self.store.user(assignment.agent).await {
                Ok(Some(user)) => user.display_name,
                _ => String::new(),
            };
            let note = match self.store.conversation(assignment.conversation).await {
                Ok(Some(stored)) => {
                    let locale = crate::relay::conversation_locale(&self.store, &stored).await;
                    Some(Phrases::for_locale(locale).agent_joined.replace("{agent}", &name))
                }
                _ => None,
            };
            let change = RouteChange {
                transition: Some(Transition::Assign { agent: assignment.agent }),
                only_if_state: Some(ConversationState::Queued),
                system_message: note,
                ..RouteChange::default()
            };
            if let Err(error) = self.store.route(assignment.conversation, change).await {
                tracing::info!(conversation_id = %assignment.conversation, workspace_id = %workspace, agent_id = %assignment.agent, %error, "assignment refused; following the store");
                if let Some(desk) = desks.get_mut(&workspace) {
                    let _ = desk.router.cancelled(assignment.conversation);
                }
                let _ = self.sync(desks, workspace, assignment.conversation).await;
            }
        }
        placed
    }

    /// Brings the router's view of one conversation in line with the store's.
    async fn sync(
        &self,
        desks: &mut HashMap<WorkspaceId, Desk>,
        workspace: WorkspaceId,
        conversation: ConversationId,
    ) -> Result<(), RoutingServiceError> {
        let stored = self.store.conversation(conversation).await?;
        let now = self.now();
        let desk = self.desk(desks, workspace).await?;
        let placement = desk.router.placement(conversation);
        let Some(stored) = stored else {
            if placement.is_some() {
                desk.router.cancelled(conversation)?;
            }
            return Ok(());
        };
        match stored.route.as_ref().and_then(|route| route.follow_up_at) {
            Some(at) if stored.state == ConversationState::Bot => {
                desk.tickets.insert(conversation, at);
            }
            _ => {
                desk.tickets.remove(&conversation);
            }
        }
        let request = request_for(&stored, desk);
        match (stored.state, placement) {
            (ConversationState::Queued, None) => desk.router.enqueue(request)?,
            (ConversationState::Queued, Some(Placement::Waiting { queue })) => {
                if queue != request.queue {
                    desk.router.transfer(conversation, request.queue)?;
                }
            }
            (ConversationState::Queued, Some(_)) => {
                // A person released it: back to waiting, keeping its place.
                desk.router.cancelled(conversation)?;
                desk.router.enqueue(request)?;
            }
            (ConversationState::Human, placement) => {
                let agent = stored
                    .assignee_id
                    .ok_or(StoreError::database("a person's conversation has no assignee"))?;
                let route = stored.route.clone().unwrap_or_default();
                match placement {
                    Some(placement) if placement.agent() == Some(agent) => {
                        if route.accepted_at.is_some() {
                            let _ = desk.router.accepted(conversation, now);
                        }
                    }
                    other => {
                        // Taken by hand, transferred, or restored: record who has it.
                        if other.is_some() {
                            desk.router.cancelled(conversation)?;
                        }
                        let assigned_at = route.assigned_at.unwrap_or(stored.updated_at);
                        if let Err(error) = desk.router.restore_assigned(
                            request,
                            agent,
                            assigned_at,
                            route.accepted_at,
                        ) {
                            tracing::info!(conversation_id = %conversation, %error, "an agent outside routing has the conversation");
                        }
                    }
                }
            }
            (ConversationState::Bot | ConversationState::Resolved, Some(_)) => {
                desk.router.finished(conversation, now)?;
            }
            (ConversationState::Bot | ConversationState::Resolved, None) => {}
        }
        Ok(())
    }

    /// The workspace's desk, built from the store on first use.
    async fn desk<'a>(
        &self,
        desks: &'a mut HashMap<WorkspaceId, Desk>,
        workspace: WorkspaceId,
    ) -> Result<&'a mut Desk, RoutingServiceError> {
        match desks.entry(workspace) {
            Entry::Occupied(desk) => Ok(desk.into_mut()),
            Entry::Vacant(slot) => Ok(slot.insert(self.load(workspace).await?)),
        }
    }

    /// Takes or renews this node's router lease of the workspace.
    async fn lead(&self, workspace: WorkspaceId) -> bool {
        crate::supervise::take_lease(self.store.as_ref(), &format!("router:{workspace}"), LEASE)
            .await
    }

    async fn load(&self, workspace: WorkspaceId) -> Result<Desk, RoutingServiceError> {
        let mut router = Router::new(RouterConfig::default())?;
        router.upsert_queue(QueueConfig::from_routing(DEFAULT_QUEUE, &QueueRouting::default()))?;
        let mut queues = HashSet::from([DEFAULT_QUEUE]);
        for queue in self.store.queues(workspace).await? {
            router.upsert_queue(QueueConfig::from_routing(queue.id, &queue.routing))?;
            queues.insert(queue.id);
        }
        for agent in self.store.agent_routing(workspace).await? {
            router.add_agent(AgentConfig::from(&agent))?;
        }
        let channels = self
            .store
            .inboxes(workspace)
            .await?
            .into_iter()
            .map(|inbox| (inbox.id, inbox.channel))
            .collect();
        let leader = self.lead(workspace).await;
        let mut desk = Desk { router, channels, queues, tickets: HashMap::new(), leader };
        for conversation in self.store.routed_conversations(workspace).await? {
            if conversation.state == ConversationState::Bot {
                if let Some(at) = conversation.route.as_ref().and_then(|route| route.follow_up_at) {
                    desk.tickets.insert(conversation.id, at);
                }
                continue;
            }
            let request = request_for(&conversation, &desk);
            let route = conversation.route.clone().unwrap_or_default();
            let restored = match (conversation.state, conversation.assignee_id) {
                (ConversationState::Human, Some(agent)) => desk.router.restore_assigned(
                    request,
                    agent,
                    route.assigned_at.unwrap_or(conversation.updated_at),
                    route.accepted_at,
                ),
                _ => desk.router.enqueue(request),
            };
            if let Err(error) = restored {
                tracing::warn!(conversation_id = %conversation.id, workspace_id = %workspace, %error, "not restored into routing");
            }
        }
        Ok(desk)
    }
}

/// What the router needs to know about a conversation, from its stored routing record.
fn request_for(conversation: &Conversation, desk: &Desk) -> ConversationRequest {
    let queue =
        conversation.queue_id.filter(|queue| desk.queues.contains(queue)).unwrap_or(DEFAULT_QUEUE);
    let channel = desk.channels.get(&conversation.inbox_id).copied().unwrap_or(Channel::Web);
    match &conversation.route {
        Some(route) => ConversationRequest::from_route(conversation.id, queue, channel, route),
        None => ConversationRequest::new(conversation.id, queue, channel, conversation.updated_at),
    }
}
