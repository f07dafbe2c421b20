//! What the customer and the supervisor ask: where a conversation is, its place in the queue
//! and a wait estimate, and snapshots of queues and agents. Nothing here changes the router.

use std::collections::{BTreeMap, HashMap};

use tandem_domain::{ConversationId, Millis, Presence, QueueId, UserId};

use crate::router::{
    Agent, CHANNELS, Entry, Place, Queue, channel_index, risk_reached, wait_key, widen_level,
};
use crate::{
    AgentSnapshot, Placement, QueueSnapshot, Router, RoutingError, Snapshot, WaitEstimate,
};

impl Router {
    /// Where a conversation is; `None` when the router does not know it.
    pub fn placement(&self, conversation: ConversationId) -> Option<Placement> {
        let entry = self.conversations.get(&conversation)?;
        let queue = entry.request.queue;
        Some(match entry.place {
            Place::Waiting => Placement::Waiting { queue },
            Place::Offered { agent, assigned_at, deadline } => {
                Placement::Offered { queue, agent, assigned_at, deadline }
            }
            Place::Accepted { agent, assigned_at, accepted_at } => {
                Placement::Accepted { queue, agent, assigned_at, accepted_at }
            }
        })
    }

    /// Conversations the router knows (waiting or held).
    pub fn conversation_count(&self) -> usize {
        self.conversations.len()
    }

    /// Conversations waiting, in all queues.
    pub fn waiting_count(&self) -> usize {
        self.queues.values().map(|queue| queue.ranked.len()).sum()
    }

    /// Known agents, by id.
    pub fn agent_ids(&self) -> Vec<UserId> {
        self.agent_slots.keys().copied().collect()
    }

    fn key_at(&self, queue: &Queue, entry: &Entry, now: Millis) -> crate::router::WaitKey {
        let at_risk = entry.at_risk
            || risk_reached(queue.risk_after(&self.config), entry.request.enqueued_at, now);
        wait_key(&self.config, &entry.request, at_risk)
    }

    /// A queue's waiting conversations in priority order at `now`.
    pub fn queue_order(
        &self,
        queue: QueueId,
        now: Millis,
    ) -> Result<Vec<ConversationId>, RoutingError> {
        let state = self.queues.get(&queue).ok_or(RoutingError::UnknownQueue(queue))?;
        let mut keys: Vec<_> = state
            .by_age
            .iter()
            .map(|(_, conversation)| self.key_at(state, &self.conversations[conversation], now))
            .collect();
        keys.sort_unstable();
        Ok(keys.into_iter().map(|key| key.conversation).collect())
    }

    /// A waiting conversation's place in its queue and a rough wait estimate.
    ///
    /// The estimate counts the conversations ahead in the same queue and the agents online who
    /// could take this one now (its current, possibly widened requirement; not skipped): when
    /// their free slots outnumber those ahead it is 0; otherwise slots free up at
    /// `total capacity / average handling time`, so it is
    /// `(ahead - free + 1) * average handling / total capacity`. `None` when nobody online
    /// could take it. A closed queue adds the time until it opens (and then assumes 0 if
    /// nobody is online now, as agents come online when it opens). Costs a pass over the
    /// queue and the agents; use [`Router::queue_estimates`] for a whole queue.
    pub fn wait_estimate(
        &self,
        conversation: ConversationId,
        now: Millis,
    ) -> Result<WaitEstimate, RoutingError> {
        let entry = self
            .conversations
            .get(&conversation)
            .ok_or(RoutingError::UnknownConversation(conversation))?;
        if entry.place != Place::Waiting {
            return Err(RoutingError::NotWaiting(conversation));
        }
        let queue = &self.queues[&entry.request.queue];
        let own = self.key_at(queue, entry, now);
        let ahead = queue
            .by_age
            .iter()
            .filter(|(_, other)| self.key_at(queue, &self.conversations[other], now) < own)
            .count() as u64;
        let (free, total) = self.eligible_capacity(queue, entry, now);
        Ok(self.estimate(queue, ahead, free, total, now))
    }

    /// [`Router::wait_estimate`] for every waiting conversation of a queue, in priority order,
    /// in one pass (for pushing positions to every waiting customer).
    pub fn queue_estimates(
        &self,
        queue: QueueId,
        now: Millis,
    ) -> Result<Vec<(ConversationId, WaitEstimate)>, RoutingError> {
        let order = self.queue_order(queue, now)?;
        let state = &self.queues[&queue];
        // Conversations without a skip list share their capacity by requirement and channel.
        let mut shared: HashMap<(u32, usize, usize), (u64, u64)> = HashMap::new();
        Ok(order
            .into_iter()
            .enumerate()
            .map(|(ahead, conversation)| {
                let entry = &self.conversations[&conversation];
                let (free, total) = if entry.request.skip.is_empty() {
                    let level = self.level_at(state, entry, now);
                    let channel = channel_index(entry.request.channel);
                    *shared
                        .entry((entry.profile, level, channel))
                        .or_insert_with(|| self.eligible_capacity(state, entry, now))
                } else {
                    self.eligible_capacity(state, entry, now)
                };
                (conversation, self.estimate(state, ahead as u64, free, total, now))
            })
            .collect())
    }

    fn level_at(&self, queue: &Queue, entry: &Entry, now: Millis) -> usize {
        widen_level(queue.config.widen_after_ms, now.saturating_sub(entry.request.enqueued_at))
    }

    /// Free and total slots on the conversation's channel of the online agents who could take
    /// it now.
    fn eligible_capacity(&self, queue: &Queue, entry: &Entry, now: Millis) -> (u64, u64) {
        let requirement =
            &self.profiles[entry.profile as usize].levels[self.level_at(queue, entry, now)];
        let channel = channel_index(entry.request.channel);
        let (mut free, mut total) = (0u64, 0u64);
        for agent in self.agents.iter().flatten() {
            if agent.presence == Presence::Online
                && !entry.request.skip.contains(&agent.id)
                && agent.meets(requirement)
            {
                total += u64::from(agent.capacity[channel]);
                free += u64::from(agent.capacity[channel].saturating_sub(agent.load[channel]));
            }
        }
        (free, total)
    }

    fn estimate(
        &self,
        queue: &Queue,
        ahead: u64,
        free: u64,
        total: u64,
        now: Millis,
    ) -> WaitEstimate {
        let handling = queue.average_handling_ms.unwrap_or(self.config.default_handling_ms);
        let eta_when_open = if ahead < free {
            Some(0)
        } else if total == 0 {
            None
        } else {
            let eta = i128::from(ahead - free + 1) * i128::from(handling) / i128::from(total);
            Some(Millis::try_from(eta).unwrap_or(Millis::MAX))
        };
        let open = queue.config.hours.is_open(now);
        let eta_ms =
            if open {
                eta_when_open
            } else {
                queue.config.hours.next_open(now).map(|opens| {
                    opens.saturating_sub(now).saturating_add(eta_when_open.unwrap_or(0))
                })
            };
        WaitEstimate { position: u32::try_from(ahead + 1).unwrap_or(u32::MAX), eta_ms, open }
    }

    fn queue_snapshot_with(&self, queue: &Queue, held: (u32, u32), now: Millis) -> QueueSnapshot {
        let (offered, accepted) = held;
        let count_since = |wait: Millis| {
            let cutoff = now.saturating_sub(wait);
            queue.by_age.range(..=(cutoff, ConversationId(i64::MAX))).count() as u32
        };
        let (at_risk, breached) = match queue.risk_after(&self.config) {
            Some(risk_after) => {
                let breached = count_since(queue.config.sla_ms);
                (count_since(risk_after) - breached, breached)
            }
            None => (0, 0),
        };
        QueueSnapshot {
            queue: queue.config.id,
            open: queue.config.hours.is_open(now),
            next_open: queue.config.hours.next_open(now),
            waiting: queue.ranked.len() as u32,
            offered,
            accepted,
            longest_wait_ms: queue
                .by_age
                .first()
                .map_or(0, |&(enqueued_at, _)| now.saturating_sub(enqueued_at).max(0)),
            at_risk,
            breached,
            average_handling_ms: queue
                .average_handling_ms
                .unwrap_or(self.config.default_handling_ms),
        }
    }

    /// Offered and accepted counts per queue.
    fn held_counts(&self) -> BTreeMap<QueueId, (u32, u32)> {
        let mut counts: BTreeMap<QueueId, (u32, u32)> = BTreeMap::new();
        for entry in self.conversations.values() {
            let count = counts.entry(entry.request.queue).or_default();
            match entry.place {
                Place::Waiting => {}
                Place::Offered { .. } => count.0 += 1,
                Place::Accepted { .. } => count.1 += 1,
            }
        }
        counts
    }

    /// One queue as a supervisor sees it at `now`.
    pub fn queue_snapshot(
        &self,
        queue: QueueId,
        now: Millis,
    ) -> Result<QueueSnapshot, RoutingError> {
        let state = self.queues.get(&queue).ok_or(RoutingError::UnknownQueue(queue))?;
        let held = self.held_counts().get(&queue).copied().unwrap_or_default();
        Ok(self.queue_snapshot_with(state, held, now))
    }

    fn agent_snapshot_of(&self, agent: &Agent) -> AgentSnapshot {
        let per_channel = |values: [u32; CHANNELS.len()]| {
            CHANNELS.iter().map(|&channel| (channel, values[channel_index(channel)])).collect()
        };
        AgentSnapshot {
            id: agent.id,
            presence: agent.presence,
            skills: agent.skills.clone(),
            capacity: per_channel(agent.capacity),
            load: per_channel(agent.load),
            offered: agent
                .conversations
                .iter()
                .filter(|conversation| {
                    matches!(self.conversations[conversation].place, Place::Offered { .. })
                })
                .count() as u32,
            last_assigned_at: agent.last_assigned_at,
            conversations: agent.conversations.iter().copied().collect(),
        }
    }

    /// One agent as a supervisor sees them.
    pub fn agent_snapshot(&self, agent: UserId) -> Result<AgentSnapshot, RoutingError> {
        let state = self.agent(agent).ok_or(RoutingError::UnknownAgent(agent))?;
        Ok(self.agent_snapshot_of(state))
    }

    /// Every queue and agent at `now`, by id.
    pub fn snapshot(&self, now: Millis) -> crate::Snapshot {
        let held = self.held_counts();
        Snapshot {
            now,
            queues: self
                .queues
                .values()
                .map(|queue| {
                    let counts = held.get(&queue.config.id).copied().unwrap_or_default();
                    self.queue_snapshot_with(queue, counts, now)
                })
                .collect(),
            agents: self
                .agent_slots
                .values()
                .map(|&slot| {
                    self.agent_snapshot_of(self.agents[slot as usize].as_ref().expect("live"))
                })
                .collect(),
        }
    }
}
