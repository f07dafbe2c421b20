//! A slow, obviously-correct router written straight from the rules in the crate docs: plain
//! maps, loads counted on demand, priorities computed at `now`, every agent checked for every
//! conversation. The property tests drive it and the real router with the same events and
//! compare every answer.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use tandem_domain::{Channel, ConversationId, Millis, QueueId, UserId};
use tandem_routing::{
    AgentConfig, AssignReason, Assignment, ConversationRequest, Placement, Presence, QueueConfig,
    Released, RouterConfig,
};

#[derive(Debug, Clone)]
pub struct RefAgent {
    pub presence: Presence,
    pub skills: BTreeMap<String, u8>,
    pub capacity: BTreeMap<Channel, u32>,
    pub last_assigned_at: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct RefConversation {
    pub request: ConversationRequest,
    pub placement: Placement,
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub config: RouterConfig,
    pub agents: BTreeMap<UserId, RefAgent>,
    pub queues: BTreeMap<QueueId, QueueConfig>,
    pub conversations: BTreeMap<ConversationId, RefConversation>,
}

/// The refusal of an operation; the tests only compare whether both refused.
pub type Refused = ();

impl Reference {
    pub fn new(config: RouterConfig) -> Reference {
        Reference {
            config,
            agents: BTreeMap::new(),
            queues: BTreeMap::new(),
            conversations: BTreeMap::new(),
        }
    }

    pub fn load(&self, agent: UserId, channel: Channel) -> u32 {
        self.conversations
            .values()
            .filter(|conversation| {
                conversation.placement.agent() == Some(agent)
                    && conversation.request.channel == channel
            })
            .count() as u32
    }

    pub fn capacity(&self, agent: UserId, channel: Channel) -> u32 {
        self.agents[&agent].capacity.get(&channel).copied().unwrap_or(0)
    }

    pub fn has_room(&self, agent: UserId, channel: Channel) -> bool {
        self.agents[&agent].presence == Presence::Online
            && self.load(agent, channel) < self.capacity(agent, channel)
    }

    // Priority.

    fn at_risk(&self, conversation: &RefConversation, now: Millis) -> bool {
        let sla = self.queues[&conversation.placement.queue()].sla_ms;
        sla > 0
            && now - conversation.request.enqueued_at
                >= sla * Millis::from(self.config.sla_risk_percent) / 100
    }

    /// Priority in points at `now`, times 60 000 to stay in integers.
    fn priority_at(&self, conversation: &RefConversation, now: Millis) -> i128 {
        let boost = if self.at_risk(conversation, now) { self.config.sla_risk_boost } else { 0 };
        (i128::from(conversation.request.priority) + i128::from(boost)) * 60_000
            + i128::from(self.config.aging_points_per_minute)
                * i128::from(now - conversation.request.enqueued_at)
    }

    /// Sorts before every conversation it goes ahead of.
    pub fn order_key(
        &self,
        conversation: ConversationId,
        now: Millis,
    ) -> (Reverse<i128>, Millis, ConversationId) {
        let state = &self.conversations[&conversation];
        (Reverse(self.priority_at(state, now)), state.request.enqueued_at, conversation)
    }

    pub fn waiting(&self) -> impl Iterator<Item = ConversationId> + '_ {
        self.conversations
            .iter()
            .filter(|(_, state)| matches!(state.placement, Placement::Waiting { .. }))
            .map(|(&id, _)| id)
    }

    pub fn position(&self, conversation: ConversationId, now: Millis) -> u32 {
        let queue = self.conversations[&conversation].placement.queue();
        let own = self.order_key(conversation, now);
        1 + self
            .waiting()
            .filter(|&other| {
                self.conversations[&other].placement.queue() == queue
                    && self.order_key(other, now) < own
            })
            .count() as u32
    }

    // Requirements.

    pub fn level(&self, conversation: ConversationId, now: Millis) -> u8 {
        let state = &self.conversations[&conversation];
        let widen = self.queues[&state.placement.queue()].widen_after_ms;
        let waited = now - state.request.enqueued_at;
        if widen == 0 || waited < widen { 0 } else { (waited / widen).min(3) as u8 }
    }

    fn requirement(&self, conversation: ConversationId, level: u8) -> BTreeMap<String, u8> {
        let state = &self.conversations[&conversation];
        let queue = &self.queues[&state.placement.queue()];
        let mut full = queue.skills.clone();
        for extra in &state.request.skills {
            full.entry(extra.clone()).or_insert(1);
        }
        let language = |name: &String| name.starts_with("lang:");
        match level {
            0 => full,
            1 => queue
                .skills
                .keys()
                .chain(state.request.skills.iter().filter(|name| language(name)))
                .map(|name| (name.clone(), 1))
                .collect(),
            2 => full.keys().filter(|name| language(name)).map(|name| (name.clone(), 1)).collect(),
            _ => BTreeMap::new(),
        }
    }

    fn proficiency(&self, agent: UserId, skill: &str) -> u8 {
        self.agents[&agent].skills.get(skill).copied().unwrap_or(0)
    }

    /// Whether `agent` could be offered `conversation` right now.
    pub fn eligible(&self, conversation: ConversationId, agent: UserId, now: Millis) -> bool {
        let state = &self.conversations[&conversation];
        self.has_room(agent, state.request.channel)
            && !state.request.skip.contains(&agent)
            && self
                .requirement(conversation, self.level(conversation, now))
                .iter()
                .all(|(skill, &minimum)| self.proficiency(agent, skill) >= minimum)
    }

    fn score(&self, conversation: ConversationId, agent: UserId) -> u32 {
        self.requirement(conversation, 0)
            .keys()
            .map(|skill| u32::from(self.proficiency(agent, skill)))
            .sum()
    }

    // Changes.

    fn offer(&mut self, conversation: ConversationId, agent: UserId, now: Millis) -> Assignment {
        let state = &self.conversations[&conversation];
        let queue = state.placement.queue();
        let timeout = self.queues[&queue].offer_timeout_ms;
        let deadline = (timeout > 0).then_some(now + timeout);
        let request = state.request.clone();
        self.conversations.get_mut(&conversation).unwrap().placement =
            Placement::Offered { queue, agent, assigned_at: now, deadline };
        self.agents.get_mut(&agent).unwrap().last_assigned_at = Some(now);
        Assignment {
            conversation,
            agent,
            queue,
            channel: request.channel,
            assigned_at: now,
            deadline,
            reason: AssignReason::Manual,
        }
    }

    pub fn assign(&mut self, now: Millis) -> Vec<Assignment> {
        let mut order: Vec<ConversationId> = self
            .waiting()
            .filter(|&id| {
                self.queues[&self.conversations[&id].placement.queue()].hours.is_open(now)
            })
            .collect();
        order.sort_by_key(|&id| self.order_key(id, now));
        let mut assignments = Vec::new();
        for conversation in order {
            let level = self.level(conversation, now);
            let sticky = self.conversations[&conversation]
                .request
                .sticky
                .filter(|agent| self.agents.contains_key(agent))
                .filter(|&agent| self.eligible(conversation, agent, now));
            let channel = self.conversations[&conversation].request.channel;
            let choice = match sticky {
                Some(agent) => Some((agent, AssignReason::Sticky)),
                None => self
                    .agents
                    .keys()
                    .copied()
                    .filter(|&agent| self.eligible(conversation, agent, now))
                    .min_by(|&a, &b| {
                        // Best score, then lowest load ratio, longest idle, lowest id.
                        let ratio = |agent| {
                            self.load(agent, channel) as f64 / self.capacity(agent, channel) as f64
                        };
                        self.score(conversation, b)
                            .cmp(&self.score(conversation, a))
                            .then(ratio(a).partial_cmp(&ratio(b)).unwrap())
                            .then(
                                self.agents[&a]
                                    .last_assigned_at
                                    .cmp(&self.agents[&b].last_assigned_at),
                            )
                            .then(a.cmp(&b))
                    })
                    .map(|agent| (agent, AssignReason::Skills { widened: level })),
            };
            if let Some((agent, reason)) = choice {
                let mut assignment = self.offer(conversation, agent, now);
                assignment.reason = reason;
                assignments.push(assignment);
            }
        }
        assignments
    }

    /// Puts a held conversation back to waiting.
    fn take_back(&mut self, conversation: ConversationId, skip: bool) -> Released {
        let state = self.conversations.get_mut(&conversation).unwrap();
        let queue = state.placement.queue();
        let (agent, was_accepted) = match state.placement {
            Placement::Offered { agent, .. } => (agent, false),
            Placement::Accepted { agent, .. } => (agent, true),
            Placement::Waiting { .. } => panic!("take back a waiting conversation"),
        };
        if skip && !state.request.skip.contains(&agent) {
            state.request.skip.push(agent);
        }
        state.placement = Placement::Waiting { queue };
        Released { conversation, agent, queue, was_accepted }
    }

    fn held_by(&self, agent: UserId) -> Vec<ConversationId> {
        self.conversations
            .iter()
            .filter(|(_, state)| state.placement.agent() == Some(agent))
            .map(|(&id, _)| id)
            .collect()
    }

    pub fn add_agent(&mut self, config: AgentConfig) -> Result<(), Refused> {
        if self.agents.contains_key(&config.id) {
            return Err(());
        }
        let agent = RefAgent {
            presence: config.presence,
            skills: config.skills,
            capacity: config.capacity,
            last_assigned_at: config.last_assigned_at,
        };
        self.agents.insert(config.id, agent);
        Ok(())
    }

    pub fn remove_agent(&mut self, agent: UserId) -> Result<Vec<Released>, Refused> {
        let released = self.set_presence(agent, Presence::Offline)?;
        self.agents.remove(&agent);
        Ok(released)
    }

    pub fn set_presence(
        &mut self,
        agent: UserId,
        presence: Presence,
    ) -> Result<Vec<Released>, Refused> {
        self.agents.get_mut(&agent).ok_or(())?.presence = presence;
        if presence != Presence::Offline {
            return Ok(Vec::new());
        }
        Ok(self.held_by(agent).into_iter().map(|id| self.take_back(id, false)).collect())
    }

    pub fn set_capacity(
        &mut self,
        agent: UserId,
        capacity: &BTreeMap<Channel, u32>,
    ) -> Result<(), Refused> {
        self.agents.get_mut(&agent).ok_or(())?.capacity = capacity.clone();
        Ok(())
    }

    pub fn set_skills(
        &mut self,
        agent: UserId,
        skills: &BTreeMap<String, u8>,
    ) -> Result<(), Refused> {
        self.agents.get_mut(&agent).ok_or(())?.skills = skills.clone();
        Ok(())
    }

    pub fn upsert_queue(&mut self, config: QueueConfig) {
        self.queues.insert(config.id, config);
    }

    pub fn enqueue(&mut self, request: ConversationRequest) -> Result<(), Refused> {
        if self.conversations.contains_key(&request.conversation)
            || !self.queues.contains_key(&request.queue)
        {
            return Err(());
        }
        let placement = Placement::Waiting { queue: request.queue };
        self.conversations.insert(request.conversation, RefConversation { request, placement });
        Ok(())
    }

    pub fn accepted(&mut self, conversation: ConversationId, now: Millis) -> Result<(), Refused> {
        let state = self.conversations.get_mut(&conversation).ok_or(())?;
        match state.placement {
            Placement::Waiting { .. } => Err(()),
            Placement::Accepted { .. } => Ok(()),
            Placement::Offered { queue, agent, assigned_at, .. } => {
                state.placement =
                    Placement::Accepted { queue, agent, assigned_at, accepted_at: now };
                Ok(())
            }
        }
    }

    pub fn declined(&mut self, conversation: ConversationId) -> Result<Released, Refused> {
        let state = self.conversations.get(&conversation).ok_or(())?;
        if state.placement.agent().is_none() {
            return Err(());
        }
        Ok(self.take_back(conversation, true))
    }

    pub fn expired(&mut self, now: Millis) -> Vec<Released> {
        let mut due: Vec<(Millis, ConversationId)> = self
            .conversations
            .iter()
            .filter_map(|(&id, state)| match state.placement {
                Placement::Offered { deadline: Some(deadline), .. } if deadline <= now => {
                    Some((deadline, id))
                }
                _ => None,
            })
            .collect();
        due.sort();
        due.into_iter().map(|(_, id)| self.take_back(id, true)).collect()
    }

    pub fn remove(&mut self, conversation: ConversationId) -> Result<(), Refused> {
        self.conversations.remove(&conversation).map(|_| ()).ok_or(())
    }

    pub fn transfer(
        &mut self,
        conversation: ConversationId,
        queue: QueueId,
    ) -> Result<Option<UserId>, Refused> {
        if !self.queues.contains_key(&queue) {
            return Err(());
        }
        let state = self.conversations.get_mut(&conversation).ok_or(())?;
        let previous = state.placement.agent();
        state.request.skip.clear();
        state.request.queue = queue;
        state.placement = Placement::Waiting { queue };
        Ok(previous)
    }

    pub fn reroute(
        &mut self,
        conversation: ConversationId,
        agent: UserId,
        now: Millis,
        force: bool,
    ) -> Result<Assignment, Refused> {
        let state = self.conversations.get(&conversation).ok_or(())?;
        let target = self.agents.get(&agent).ok_or(())?;
        if target.presence != Presence::Online || state.placement.agent() == Some(agent) {
            return Err(());
        }
        let channel = state.request.channel;
        if !force && self.load(agent, channel) >= self.capacity(agent, channel) {
            return Err(());
        }
        if state.placement.agent().is_some() {
            self.take_back(conversation, false);
        }
        self.conversations.get_mut(&conversation).unwrap().request.skip.retain(|&a| a != agent);
        Ok(self.offer(conversation, agent, now))
    }
}
