//! The router's state and the changes the service reports to it: agents, queues, and the
//! lifecycle of each conversation (waiting → offered → accepted → gone).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use tandem_domain::{Channel, ConversationId, Millis, Presence, QueueId, UserId};

use crate::{
    AgentConfig, AssignReason, Assignment, ConversationRequest, QueueConfig, Released,
    RouterConfig, RoutingError,
};

pub(crate) type SkillId = u32;
pub(crate) type ProfileId = u32;
/// Requirement levels: as configured, then three widening steps.
pub(crate) const LEVELS: usize = 4;
pub(crate) const CHANNELS: [Channel; 7] = [
    Channel::Web,
    Channel::Email,
    Channel::Api,
    Channel::Wecom,
    Channel::Wechat,
    Channel::Feishu,
    Channel::Dingtalk,
];
const MINUTE: i128 = 60_000;
const MAX_PROFICIENCY: u8 = 5;

pub(crate) fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::Web => 0,
        Channel::Email => 1,
        Channel::Api => 2,
        Channel::Wecom => 3,
        Channel::Wechat => 4,
        Channel::Feishu => 5,
        Channel::Dingtalk => 6,
    }
}

pub(crate) fn is_language(name: &str) -> bool {
    name.starts_with("lang:")
}

/// How many widening steps apply after waiting `waited`.
pub(crate) fn widen_level(widen_after_ms: Millis, waited: Millis) -> usize {
    if widen_after_ms <= 0 || waited < widen_after_ms {
        0
    } else {
        usize::try_from(waited / widen_after_ms).unwrap_or(LEVELS).min(LEVELS - 1)
    }
}

/// The order of waiting conversations: the smallest key goes first. `rank` is the priority
/// formula of the crate docs multiplied by a minute, minus the part every conversation shares
/// (`rate * now`), so it does not change with time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WaitKey {
    pub(crate) rank: Reverse<i128>,
    pub(crate) enqueued_at: Millis,
    pub(crate) conversation: ConversationId,
}

pub(crate) struct Agent {
    pub(crate) id: UserId,
    pub(crate) presence: Presence,
    pub(crate) capacity: [u32; CHANNELS.len()],
    pub(crate) load: [u32; CHANNELS.len()],
    pub(crate) last_assigned_at: Option<Millis>,
    /// Proficiency by skill id; 0 = lacks the skill.
    pub(crate) levels: Vec<u8>,
    pub(crate) skills: BTreeMap<String, u8>,
    /// Offered and accepted conversations.
    pub(crate) conversations: BTreeSet<ConversationId>,
}

impl Agent {
    pub(crate) fn level(&self, skill: SkillId) -> u8 {
        self.levels.get(skill as usize).copied().unwrap_or(0)
    }

    pub(crate) fn meets(&self, requirement: &[(SkillId, u8)]) -> bool {
        requirement.iter().all(|&(skill, minimum)| self.level(skill) >= minimum)
    }

    pub(crate) fn score(&self, skills: &[SkillId]) -> u32 {
        skills.iter().map(|&skill| u32::from(self.level(skill))).sum()
    }

    /// Online with a free slot on the channel.
    pub(crate) fn has_room(&self, channel: usize) -> bool {
        self.presence == Presence::Online && self.load[channel] < self.capacity[channel]
    }
}

pub(crate) struct Queue {
    /// Validated, skill names normalized.
    pub(crate) config: QueueConfig,
    pub(crate) skills: Vec<(SkillId, u8)>,
    /// Waiting conversations in priority order.
    pub(crate) ranked: BTreeSet<WaitKey>,
    /// Waiting conversations, oldest first.
    pub(crate) by_age: BTreeSet<(Millis, ConversationId)>,
    /// Waiting conversations not yet at risk, oldest first: the next to cross the threshold.
    pub(crate) not_at_risk: BTreeSet<(Millis, ConversationId)>,
    /// Waiting, offered and accepted conversations.
    pub(crate) live: usize,
    pub(crate) average_handling_ms: Option<Millis>,
    pub(crate) profiles: Vec<ProfileId>,
}

impl Queue {
    /// How long a conversation waits before it is at risk; `None` without an SLA target.
    pub(crate) fn risk_after(&self, config: &RouterConfig) -> Option<Millis> {
        (self.config.sla_ms > 0)
            .then(|| self.config.sla_ms.saturating_mul(Millis::from(config.sla_risk_percent)) / 100)
    }
}

pub(crate) fn risk_reached(risk_after: Option<Millis>, enqueued_at: Millis, now: Millis) -> bool {
    risk_after.is_some_and(|after| now.saturating_sub(enqueued_at) >= after)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Waiting,
    Offered { agent: UserId, assigned_at: Millis, deadline: Option<Millis> },
    Accepted { agent: UserId, assigned_at: Millis, accepted_at: Millis },
}

impl Place {
    pub(crate) fn agent(self) -> Option<UserId> {
        match self {
            Place::Waiting => None,
            Place::Offered { agent, .. } | Place::Accepted { agent, .. } => Some(agent),
        }
    }
}

pub(crate) struct Entry {
    /// Skill names normalized, skip list without duplicates.
    pub(crate) request: ConversationRequest,
    pub(crate) profile: ProfileId,
    /// Whether the SLA boost is part of its key (only meaningful while waiting).
    pub(crate) at_risk: bool,
    pub(crate) place: Place,
}

impl Entry {
    pub(crate) fn key(&self, config: &RouterConfig) -> WaitKey {
        wait_key(config, &self.request, self.at_risk)
    }
}

pub(crate) fn wait_key(
    config: &RouterConfig,
    request: &ConversationRequest,
    at_risk: bool,
) -> WaitKey {
    let boost = if at_risk { config.sla_risk_boost } else { 0 };
    let rank = (i128::from(request.priority) + i128::from(boost)) * MINUTE
        - i128::from(config.aging_points_per_minute) * i128::from(request.enqueued_at);
    WaitKey {
        rank: Reverse(rank),
        enqueued_at: request.enqueued_at,
        conversation: request.conversation,
    }
}

/// One agent that meets a requirement, with its score.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub(crate) score: u32,
    pub(crate) slot: u32,
}

/// What conversations of one queue with the same extra skills require at each level, and the
/// agents who meet it (built when first needed, dropped when agents' skills change).
pub(crate) struct Profile {
    pub(crate) queue: QueueId,
    pub(crate) extras: Vec<SkillId>,
    pub(crate) levels: [Vec<(SkillId, u8)>; LEVELS],
    /// The skills the score sums over: every skill the unwidened requirement names.
    pub(crate) scored: Vec<SkillId>,
    /// By level: agents meeting it, best score first, then lowest id.
    pub(crate) candidates: [Option<Vec<Candidate>>; LEVELS],
}

/// One workspace's routing state. See the crate docs for the rules.
pub struct Router {
    pub(crate) config: RouterConfig,
    skill_ids: HashMap<String, SkillId>,
    pub(crate) skill_names: Vec<String>,
    pub(crate) agents: Vec<Option<Agent>>,
    pub(crate) agent_slots: BTreeMap<UserId, u32>,
    free_slots: Vec<u32>,
    pub(crate) queues: BTreeMap<QueueId, Queue>,
    pub(crate) conversations: HashMap<ConversationId, Entry>,
    /// Offers with a deadline, soonest first.
    offers: BTreeSet<(Millis, ConversationId)>,
    pub(crate) profiles: Vec<Profile>,
    profile_ids: HashMap<(QueueId, Vec<SkillId>), ProfileId>,
    /// The latest `now` seen: at-risk flags are up to date for it.
    pub(crate) latest_now: Millis,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Router")
            .field("agents", &self.agent_slots.len())
            .field("queues", &self.queues.len())
            .field("conversations", &self.conversations.len())
            .field("offers_with_deadline", &self.offers.len())
            .field("latest_now", &self.latest_now)
            .finish_non_exhaustive()
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new(RouterConfig::default()).expect("the default settings are valid")
    }
}

fn normalize_skill(name: &str) -> Result<String, RoutingError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(RoutingError::Invalid(format!("skill name {name:?} is empty or has spaces")));
    }
    Ok(name)
}

fn normalize_levels(levels: &BTreeMap<String, u8>) -> Result<BTreeMap<String, u8>, RoutingError> {
    let mut normalized = BTreeMap::new();
    for (name, &level) in levels {
        if !(1..=MAX_PROFICIENCY).contains(&level) {
            return Err(RoutingError::Invalid(format!(
                "skill {name:?} has level {level}, expected 1..={MAX_PROFICIENCY}"
            )));
        }
        let entry = normalized.entry(normalize_skill(name)?).or_insert(level);
        *entry = (*entry).max(level);
    }
    Ok(normalized)
}

/// A requirement of each skill at any proficiency.
fn any_level(skills: impl Iterator<Item = SkillId>) -> Vec<(SkillId, u8)> {
    let set: BTreeSet<SkillId> = skills.collect();
    set.into_iter().map(|skill| (skill, 1)).collect()
}

fn capacity_array(capacity: &BTreeMap<Channel, u32>) -> [u32; CHANNELS.len()] {
    let mut array = [0; CHANNELS.len()];
    for (&channel, &slots) in capacity {
        array[channel_index(channel)] = slots;
    }
    array
}

impl Router {
    pub fn new(config: RouterConfig) -> Result<Router, RoutingError> {
        if config.aging_points_per_minute < 0
            || config.sla_risk_percent > 100
            || config.default_handling_ms <= 0
            || !(1..=100).contains(&config.handling_weight_percent)
        {
            return Err(RoutingError::Invalid(format!("router settings {config:?}")));
        }
        Ok(Router {
            config,
            skill_ids: HashMap::new(),
            skill_names: Vec::new(),
            agents: Vec::new(),
            agent_slots: BTreeMap::new(),
            free_slots: Vec::new(),
            queues: BTreeMap::new(),
            conversations: HashMap::new(),
            offers: BTreeSet::new(),
            profiles: Vec::new(),
            profile_ids: HashMap::new(),
            latest_now: Millis::MIN,
        })
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    fn intern(&mut self, name: &str) -> SkillId {
        if let Some(&id) = self.skill_ids.get(name) {
            return id;
        }
        let id = SkillId::try_from(self.skill_names.len()).expect("fewer than 2^32 skills");
        self.skill_names.push(name.to_owned());
        self.skill_ids.insert(name.to_owned(), id);
        id
    }

    fn dense_levels(&mut self, skills: &BTreeMap<String, u8>) -> Vec<u8> {
        let mut levels = Vec::new();
        for (name, &level) in skills {
            let id = self.intern(name) as usize;
            if levels.len() <= id {
                levels.resize(id + 1, 0);
            }
            levels[id] = level;
        }
        levels
    }

    pub(crate) fn slot(&self, agent: UserId) -> Option<u32> {
        self.agent_slots.get(&agent).copied()
    }

    pub(crate) fn agent(&self, agent: UserId) -> Option<&Agent> {
        let slot = self.slot(agent)?;
        self.agents[slot as usize].as_ref()
    }

    fn agent_mut(&mut self, agent: UserId) -> Result<&mut Agent, RoutingError> {
        let slot = self.slot(agent).ok_or(RoutingError::UnknownAgent(agent))?;
        Ok(self.agents[slot as usize].as_mut().expect("slots map to live agents"))
    }

    fn invalidate_candidates(&mut self) {
        for profile in &mut self.profiles {
            profile.candidates = Default::default();
        }
    }

    /// Takes note of `now` and gives the SLA boost to waiting conversations that crossed their
    /// queue's at-risk threshold since the last call.
    pub(crate) fn observe(&mut self, now: Millis) {
        if now <= self.latest_now {
            return;
        }
        self.latest_now = now;
        for queue in self.queues.values_mut() {
            let Some(risk_after) = queue.risk_after(&self.config) else { continue };
            while let Some(&(enqueued_at, conversation)) = queue.not_at_risk.first() {
                if !risk_reached(Some(risk_after), enqueued_at, now) {
                    break;
                }
                queue.not_at_risk.pop_first();
                let entry = self.conversations.get_mut(&conversation).expect("waiting is live");
                queue.ranked.remove(&entry.key(&self.config));
                entry.at_risk = true;
                queue.ranked.insert(entry.key(&self.config));
            }
        }
    }

    // Agents.

    /// Adds an agent (at start-up, or when a user starts taking conversations).
    pub fn add_agent(&mut self, config: AgentConfig) -> Result<(), RoutingError> {
        if self.agent_slots.contains_key(&config.id) {
            return Err(RoutingError::DuplicateAgent(config.id));
        }
        let skills = normalize_levels(&config.skills)?;
        let agent = Agent {
            id: config.id,
            presence: config.presence,
            capacity: capacity_array(&config.capacity),
            load: [0; CHANNELS.len()],
            last_assigned_at: config.last_assigned_at,
            levels: self.dense_levels(&skills),
            skills,
            conversations: BTreeSet::new(),
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.agents[slot as usize] = Some(agent);
                slot
            }
            None => {
                self.agents.push(Some(agent));
                u32::try_from(self.agents.len() - 1).expect("fewer than 2^32 agents")
            }
        };
        self.agent_slots.insert(config.id, slot);
        self.invalidate_candidates();
        Ok(())
    }

    /// Removes an agent; everything they held goes back to waiting (not skipped), by id.
    pub fn remove_agent(&mut self, agent: UserId) -> Result<Vec<Released>, RoutingError> {
        let released = self.release_all(agent)?;
        let slot = self.agent_slots.remove(&agent).expect("release_all checked the agent");
        self.agents[slot as usize] = None;
        self.free_slots.push(slot);
        self.invalidate_candidates();
        Ok(released)
    }

    /// Changes an agent's presence. Going offline puts everything they held (offers and
    /// accepted conversations) back to waiting at its original priority, by id; it does so
    /// even when they were already offline. Away keeps what they hold and gets nothing new.
    pub fn set_presence(
        &mut self,
        agent: UserId,
        presence: Presence,
    ) -> Result<Vec<Released>, RoutingError> {
        self.agent_mut(agent)?.presence = presence;
        if presence == Presence::Offline { self.release_all(agent) } else { Ok(Vec::new()) }
    }

    /// Changes an agent's capacity. Lowering it below the current load takes nothing away:
    /// the agent keeps what they hold and gets nothing new on that channel until below it.
    pub fn set_capacity(
        &mut self,
        agent: UserId,
        capacity: &BTreeMap<Channel, u32>,
    ) -> Result<(), RoutingError> {
        self.agent_mut(agent)?.capacity = capacity_array(capacity);
        Ok(())
    }

    /// Changes an agent's skills; what they hold stays with them.
    pub fn set_skills(
        &mut self,
        agent: UserId,
        skills: &BTreeMap<String, u8>,
    ) -> Result<(), RoutingError> {
        let slot = self.slot(agent).ok_or(RoutingError::UnknownAgent(agent))?;
        let skills = normalize_levels(skills)?;
        let levels = self.dense_levels(&skills);
        let state = self.agents[slot as usize].as_mut().expect("slots map to live agents");
        state.levels = levels;
        state.skills = skills;
        self.invalidate_candidates();
        Ok(())
    }

    fn release_all(&mut self, agent: UserId) -> Result<Vec<Released>, RoutingError> {
        let held = std::mem::take(&mut self.agent_mut(agent)?.conversations);
        Ok(held.into_iter().map(|conversation| self.take_back(conversation, false)).collect())
    }

    // Queues.

    /// Adds a queue or changes its settings. New requirements apply to its waiting
    /// conversations at once; offers already made keep their deadlines.
    pub fn upsert_queue(&mut self, config: QueueConfig) -> Result<(), RoutingError> {
        config.hours.validate()?;
        if config.sla_ms < 0 || config.offer_timeout_ms < 0 || config.widen_after_ms < 0 {
            return Err(RoutingError::Invalid(format!("queue {} has a negative time", config.id)));
        }
        let mut config = config;
        config.skills = normalize_levels(&config.skills)?;
        let skills: Vec<(SkillId, u8)> =
            config.skills.iter().map(|(name, &level)| (self.intern(name), level)).collect();
        let id = config.id;
        let Some(queue) = self.queues.get_mut(&id) else {
            self.queues.insert(
                id,
                Queue {
                    config,
                    skills,
                    ranked: BTreeSet::new(),
                    by_age: BTreeSet::new(),
                    not_at_risk: BTreeSet::new(),
                    live: 0,
                    average_handling_ms: None,
                    profiles: Vec::new(),
                },
            );
            return Ok(());
        };
        let waiting: Vec<ConversationId> =
            queue.by_age.iter().map(|&(_, conversation)| conversation).collect();
        queue.config = config;
        queue.skills = skills;
        for &profile in &queue.profiles.clone() {
            self.rebuild_profile(profile);
        }
        // The SLA target may have changed: re-key every waiting conversation.
        for &conversation in &waiting {
            self.detach_waiting(conversation);
        }
        for &conversation in &waiting {
            self.attach_waiting(conversation);
        }
        Ok(())
    }

    /// Removes a queue that holds no conversations.
    pub fn remove_queue(&mut self, queue: QueueId) -> Result<(), RoutingError> {
        let state = self.queues.get(&queue).ok_or(RoutingError::UnknownQueue(queue))?;
        if state.live > 0 {
            return Err(RoutingError::QueueInUse(queue));
        }
        for &profile in &state.profiles {
            let profile = &mut self.profiles[profile as usize];
            profile.candidates = Default::default();
            self.profile_ids.remove(&(profile.queue, profile.extras.clone()));
        }
        self.queues.remove(&queue);
        Ok(())
    }

    fn profile_for(&mut self, queue: QueueId, skills: &[String]) -> ProfileId {
        let mut extras: Vec<SkillId> = skills.iter().map(|name| self.intern(name)).collect();
        extras.sort_unstable();
        extras.dedup();
        if let Some(&id) = self.profile_ids.get(&(queue, extras.clone())) {
            return id;
        }
        let id = ProfileId::try_from(self.profiles.len()).expect("fewer than 2^32 profiles");
        self.profiles.push(Profile {
            queue,
            extras: extras.clone(),
            levels: Default::default(),
            scored: Vec::new(),
            candidates: Default::default(),
        });
        self.profile_ids.insert((queue, extras), id);
        self.queues.get_mut(&queue).expect("queue checked by the caller").profiles.push(id);
        self.rebuild_profile(id);
        id
    }

    /// Recomputes a profile's requirement at each level from its queue's settings.
    fn rebuild_profile(&mut self, id: ProfileId) {
        let profile = &self.profiles[id as usize];
        let queue = &self.queues[&profile.queue];
        let language = |skill: SkillId| is_language(&self.skill_names[skill as usize]);
        let mut full: BTreeMap<SkillId, u8> = queue.skills.iter().copied().collect();
        for &extra in &profile.extras {
            full.entry(extra).or_insert(1);
        }
        let level1 = any_level(
            queue
                .skills
                .iter()
                .map(|&(skill, _)| skill)
                .chain(profile.extras.iter().copied().filter(|&skill| language(skill))),
        );
        let level2 = any_level(full.keys().copied().filter(|&skill| language(skill)));
        let level0 = full.iter().map(|(&skill, &level)| (skill, level)).collect();
        let levels = [level0, level1, level2, Vec::new()];
        let scored = full.keys().copied().collect();
        let profile = &mut self.profiles[id as usize];
        profile.levels = levels;
        profile.scored = scored;
        profile.candidates = Default::default();
    }

    /// The agents meeting a profile's requirement at `level`, built if needed.
    pub(crate) fn ensure_candidates(&mut self, profile: ProfileId, level: usize) {
        let state = &self.profiles[profile as usize];
        if state.candidates[level].is_some() {
            return;
        }
        let requirement = &state.levels[level];
        let mut candidates: Vec<(Candidate, UserId)> = self
            .agents
            .iter()
            .enumerate()
            .filter_map(|(slot, agent)| {
                let agent = agent.as_ref()?;
                agent.meets(requirement).then(|| {
                    let slot = u32::try_from(slot).expect("fewer than 2^32 agents");
                    (Candidate { score: agent.score(&state.scored), slot }, agent.id)
                })
            })
            .collect();
        candidates.sort_unstable_by_key(|(candidate, id)| (Reverse(candidate.score), *id));
        self.profiles[profile as usize].candidates[level] =
            Some(candidates.into_iter().map(|(candidate, _)| candidate).collect());
    }

    // Conversations.

    fn new_entry(&mut self, request: ConversationRequest) -> Result<ConversationId, RoutingError> {
        if self.conversations.contains_key(&request.conversation) {
            return Err(RoutingError::DuplicateConversation(request.conversation));
        }
        if !self.queues.contains_key(&request.queue) {
            return Err(RoutingError::UnknownQueue(request.queue));
        }
        let mut request = request;
        let mut skills = request
            .skills
            .iter()
            .map(|name| normalize_skill(name))
            .collect::<Result<Vec<_>, _>>()?;
        skills.sort();
        skills.dedup();
        request.skills = skills;
        let mut skip = Vec::with_capacity(request.skip.len());
        for agent in request.skip.drain(..) {
            if !skip.contains(&agent) {
                skip.push(agent);
            }
        }
        request.skip = skip;
        let profile = self.profile_for(request.queue, &request.skills);
        let conversation = request.conversation;
        self.queues.get_mut(&request.queue).expect("checked above").live += 1;
        self.conversations.insert(
            conversation,
            Entry { request, profile, at_risk: false, place: Place::Waiting },
        );
        Ok(conversation)
    }

    /// Puts a conversation in its queue to wait for a person (on escalation, or at start-up
    /// for conversations the database has as queued, with their original `enqueued_at`).
    pub fn enqueue(&mut self, request: ConversationRequest) -> Result<(), RoutingError> {
        let conversation = self.new_entry(request)?;
        self.attach_waiting(conversation);
        Ok(())
    }

    /// Loads a conversation the database has as assigned to `agent` (at start-up), without
    /// deciding anything: the agent must be known; capacity and presence are not checked, as
    /// the database is the truth (a restored load may exceed capacity; an agent restored as
    /// offline keeps it until `set_presence(Offline)` is called for them). Not yet accepted,
    /// the offer's deadline counts from `assigned_at`.
    pub fn restore_assigned(
        &mut self,
        request: ConversationRequest,
        agent: UserId,
        assigned_at: Millis,
        accepted_at: Option<Millis>,
    ) -> Result<(), RoutingError> {
        if self.slot(agent).is_none() {
            return Err(RoutingError::UnknownAgent(agent));
        }
        let conversation = self.new_entry(request)?;
        let place = match accepted_at {
            Some(accepted_at) => Place::Accepted { agent, assigned_at, accepted_at },
            None => {
                let timeout = self.queue_of(conversation).config.offer_timeout_ms;
                Place::Offered {
                    agent,
                    assigned_at,
                    deadline: (timeout > 0).then(|| assigned_at.saturating_add(timeout)),
                }
            }
        };
        self.hold(conversation, agent, place);
        let state = self.agent_mut(agent).expect("checked above");
        state.last_assigned_at = state.last_assigned_at.max(Some(assigned_at));
        Ok(())
    }

    fn queue_of(&self, conversation: ConversationId) -> &Queue {
        &self.queues[&self.conversations[&conversation].request.queue]
    }

    fn entry(&self, conversation: ConversationId) -> Result<&Entry, RoutingError> {
        self.conversations.get(&conversation).ok_or(RoutingError::UnknownConversation(conversation))
    }

    /// Puts a conversation (whose place is `Waiting`, detached) in its queue's waiting sets.
    pub(crate) fn attach_waiting(&mut self, conversation: ConversationId) {
        let entry = self.conversations.get_mut(&conversation).expect("attach a live conversation");
        let queue = self.queues.get_mut(&entry.request.queue).expect("entries have queues");
        entry.place = Place::Waiting;
        let enqueued_at = entry.request.enqueued_at;
        entry.at_risk = risk_reached(queue.risk_after(&self.config), enqueued_at, self.latest_now);
        queue.ranked.insert(entry.key(&self.config));
        queue.by_age.insert((enqueued_at, conversation));
        if !entry.at_risk {
            queue.not_at_risk.insert((enqueued_at, conversation));
        }
    }

    /// Takes a waiting conversation out of its queue's waiting sets.
    pub(crate) fn detach_waiting(&mut self, conversation: ConversationId) {
        let entry = &self.conversations[&conversation];
        debug_assert_eq!(entry.place, Place::Waiting);
        let queue = self.queues.get_mut(&entry.request.queue).expect("entries have queues");
        let enqueued_at = entry.request.enqueued_at;
        queue.ranked.remove(&entry.key(&self.config));
        queue.by_age.remove(&(enqueued_at, conversation));
        queue.not_at_risk.remove(&(enqueued_at, conversation));
    }

    /// Gives a detached conversation to an agent: load, the agent's list, the offer timer.
    fn hold(&mut self, conversation: ConversationId, agent: UserId, place: Place) {
        let entry = self.conversations.get_mut(&conversation).expect("hold a live conversation");
        entry.place = place;
        let channel = channel_index(entry.request.channel);
        if let Place::Offered { deadline: Some(deadline), .. } = place {
            self.offers.insert((deadline, conversation));
        }
        let state = self.agent_mut(agent).expect("hold for a known agent");
        state.load[channel] += 1;
        state.conversations.insert(conversation);
    }

    /// Takes a conversation from its agent (without touching its place).
    fn unhold(&mut self, conversation: ConversationId) -> Option<(UserId, bool)> {
        let entry = &self.conversations[&conversation];
        let channel = channel_index(entry.request.channel);
        let (agent, accepted) = match entry.place {
            Place::Waiting => return None,
            Place::Offered { agent, deadline, .. } => {
                if let Some(deadline) = deadline {
                    self.offers.remove(&(deadline, conversation));
                }
                (agent, false)
            }
            Place::Accepted { agent, .. } => (agent, true),
        };
        // The agent may be gone already (remove_agent takes their list first).
        if let Some(slot) = self.slot(agent) {
            let state = self.agents[slot as usize].as_mut().expect("slots map to live agents");
            state.load[channel] -= 1;
            state.conversations.remove(&conversation);
        }
        Some((agent, accepted))
    }

    /// Offers a waiting conversation to an agent, now.
    pub(crate) fn offer(
        &mut self,
        conversation: ConversationId,
        agent: UserId,
        now: Millis,
        reason: AssignReason,
    ) -> Assignment {
        self.detach_waiting(conversation);
        let queue = self.queue_of(conversation);
        let timeout = queue.config.offer_timeout_ms;
        let deadline = (timeout > 0).then(|| now.saturating_add(timeout));
        self.hold(conversation, agent, Place::Offered { agent, assigned_at: now, deadline });
        self.agent_mut(agent).expect("offer to a known agent").last_assigned_at = Some(now);
        let request = &self.conversations[&conversation].request;
        Assignment {
            conversation,
            agent,
            queue: request.queue,
            channel: request.channel,
            assigned_at: now,
            deadline,
            reason,
        }
    }

    /// Puts a held conversation back to waiting, skipping its agent from now on if `skip`.
    fn take_back(&mut self, conversation: ConversationId, skip: bool) -> Released {
        let (agent, was_accepted) = self.unhold(conversation).expect("take back a held one");
        let entry = self.conversations.get_mut(&conversation).expect("live");
        if skip && !entry.request.skip.contains(&agent) {
            entry.request.skip.push(agent);
        }
        let queue = entry.request.queue;
        self.attach_waiting(conversation);
        Released { conversation, agent, queue, was_accepted }
    }

    /// Removes a conversation from routing altogether.
    fn forget(&mut self, conversation: ConversationId) -> Result<Entry, RoutingError> {
        let entry = self.entry(conversation)?;
        if entry.place == Place::Waiting {
            self.detach_waiting(conversation);
        } else {
            self.unhold(conversation);
        }
        let entry = self.conversations.remove(&conversation).expect("checked above");
        self.queues.get_mut(&entry.request.queue).expect("entries have queues").live -= 1;
        Ok(entry)
    }

    /// The agent responded to an offer: its timer stops. Accepting twice is harmless.
    pub fn accepted(
        &mut self,
        conversation: ConversationId,
        now: Millis,
    ) -> Result<(), RoutingError> {
        let entry = self.entry(conversation)?;
        match entry.place {
            Place::Waiting => Err(RoutingError::NotAssigned(conversation)),
            Place::Accepted { .. } => Ok(()),
            Place::Offered { agent, assigned_at, deadline } => {
                if let Some(deadline) = deadline {
                    self.offers.remove(&(deadline, conversation));
                }
                let entry = self.conversations.get_mut(&conversation).expect("checked above");
                entry.place = Place::Accepted { agent, assigned_at, accepted_at: now };
                Ok(())
            }
        }
    }

    /// The agent declined an offer or released an accepted conversation: it waits again, at
    /// its original priority, and is never offered to that agent again.
    pub fn declined(&mut self, conversation: ConversationId) -> Result<Released, RoutingError> {
        if self.entry(conversation)?.place == Place::Waiting {
            return Err(RoutingError::NotAssigned(conversation));
        }
        Ok(self.take_back(conversation, true))
    }

    /// Undoes an offer the service could not persist: the conversation waits again and the
    /// agent is not skipped. (The agent's last-assignment time is not rolled back.)
    pub fn withdraw(&mut self, conversation: ConversationId) -> Result<Released, RoutingError> {
        if self.entry(conversation)?.place == Place::Waiting {
            return Err(RoutingError::NotAssigned(conversation));
        }
        Ok(self.take_back(conversation, false))
    }

    /// Offers whose deadline is at or before `now` go back to waiting, each skipping the agent
    /// who let it time out; soonest deadline first.
    pub fn expired(&mut self, now: Millis) -> Vec<Released> {
        self.observe(now);
        let mut released = Vec::new();
        while let Some(&(deadline, conversation)) = self.offers.first() {
            if deadline > now {
                break;
            }
            released.push(self.take_back(conversation, true));
        }
        released
    }

    /// The earliest offer deadline, for the caller's timer.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.offers.first().map(|&(deadline, _)| deadline)
    }

    /// The conversation is resolved: it leaves routing and frees its agent's slot. The time
    /// the agent held it teaches the queue's average handling time.
    pub fn finished(
        &mut self,
        conversation: ConversationId,
        now: Millis,
    ) -> Result<(), RoutingError> {
        let entry = self.forget(conversation)?;
        let assigned_at = match entry.place {
            Place::Waiting => return Ok(()),
            Place::Offered { assigned_at, .. } | Place::Accepted { assigned_at, .. } => assigned_at,
        };
        let sample = now.saturating_sub(assigned_at).max(0);
        let weight = i128::from(self.config.handling_weight_percent);
        let queue = self.queues.get_mut(&entry.request.queue).expect("entries have queues");
        queue.average_handling_ms = Some(match queue.average_handling_ms {
            None => sample,
            Some(average) => {
                let (average, sample) = (i128::from(average), i128::from(sample));
                Millis::try_from(average + (sample - average) * weight / 100)
                    .expect("between two millis values")
            }
        });
        Ok(())
    }

    /// The conversation left routing without being handled by a person (handed back to the
    /// bot, customer left): it is forgotten, wherever it was.
    pub fn cancelled(&mut self, conversation: ConversationId) -> Result<(), RoutingError> {
        self.forget(conversation).map(|_| ())
    }

    /// Moves a conversation to another queue, where it waits with its original `enqueued_at`
    /// and extra skills and an empty skip list. Returns the agent it was taken from, if any.
    pub fn transfer(
        &mut self,
        conversation: ConversationId,
        queue: QueueId,
    ) -> Result<Option<UserId>, RoutingError> {
        let entry = self.entry(conversation)?;
        if !self.queues.contains_key(&queue) {
            return Err(RoutingError::UnknownQueue(queue));
        }
        let from = entry.request.queue;
        let previous = match entry.place {
            Place::Waiting => {
                self.detach_waiting(conversation);
                None
            }
            _ => self.unhold(conversation).map(|(agent, _)| agent),
        };
        let skills = self.conversations[&conversation].request.skills.clone();
        let profile = self.profile_for(queue, &skills);
        let entry = self.conversations.get_mut(&conversation).expect("checked above");
        entry.request.queue = queue;
        entry.request.skip.clear();
        entry.profile = profile;
        entry.place = Place::Waiting;
        self.queues.get_mut(&from).expect("entries have queues").live -= 1;
        self.queues.get_mut(&queue).expect("checked above").live += 1;
        self.attach_waiting(conversation);
        Ok(previous)
    }

    /// A supervisor gives a conversation (waiting or held by someone else) to `agent`, as an
    /// offer with the queue's timeout. The agent must be online; skills and the skip list are
    /// not checked (the agent is taken off the skip list). Without `force` the agent needs a
    /// free slot on the channel; with it, the agent may go above capacity (and then gets
    /// nothing new until below it again).
    pub fn reroute(
        &mut self,
        conversation: ConversationId,
        agent: UserId,
        now: Millis,
        force: bool,
    ) -> Result<Assignment, RoutingError> {
        let entry = self.entry(conversation)?;
        let state = self.agent(agent).ok_or(RoutingError::UnknownAgent(agent))?;
        if state.presence != Presence::Online {
            return Err(RoutingError::AgentUnavailable(agent));
        }
        if entry.place.agent() == Some(agent) {
            return Err(RoutingError::AlreadyAssigned { conversation, agent });
        }
        let channel = entry.request.channel;
        if !force && !state.has_room(channel_index(channel)) {
            return Err(RoutingError::NoCapacity { agent, channel });
        }
        self.observe(now);
        if self.conversations[&conversation].place != Place::Waiting {
            self.take_back(conversation, false);
        }
        self.conversations
            .get_mut(&conversation)
            .expect("checked above")
            .request
            .skip
            .retain(|&skipped| skipped != agent);
        Ok(self.offer(conversation, agent, now, AssignReason::Manual))
    }
}
