//! Assignment rounds: the waiting conversations of the open queues, in priority order, each
//! offered to the best eligible agent at that moment.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::ops::Bound::{Excluded, Unbounded};

use tandem_domain::{ConversationId, Millis, QueueId, UserId};

use crate::router::{Agent, CHANNELS, ProfileId, WaitKey, channel_index, widen_level};
use crate::{AssignReason, Assignment, Decision, Router};

/// One assignment round at a fixed `now`, one decision per step (see [`Router::round`]).
///
/// The round walks the waiting conversations of every queue open at `now` from the highest
/// priority down, merging the queues' ordered sets, and offers each to the best eligible agent
/// as the state stands after the offers before it. Nothing else changes the router while the
/// round borrows it, and the round never returns to a conversation it has passed. Dropping the
/// round early leaves the rest waiting.
pub struct Round<'r> {
    router: &'r mut Router,
    now: Millis,
    /// The next conversation of each open queue.
    heads: BinaryHeap<Reverse<(WaitKey, QueueId)>>,
    /// By profile, a bit per (level, channel) for which no agent had room this round: the load
    /// of an agent only grows during a round, so it stays that way.
    exhausted: Vec<u32>,
}

impl Router {
    /// Starts an assignment round at `now` (after the SLA boosts due by then).
    pub fn round(&mut self, now: Millis) -> Round<'_> {
        self.observe(now);
        let mut heads = BinaryHeap::new();
        for (&id, queue) in &self.queues {
            if let Some(&first) = queue.ranked.first()
                && queue.config.hours.is_open(now)
            {
                heads.push(Reverse((first, id)));
            }
        }
        Round { exhausted: vec![0; self.profiles.len()], router: self, now, heads }
    }

    /// Runs a whole round: every waiting conversation of an open queue, in priority order,
    /// offered to the best eligible agent if there is one. The offers are recorded at once
    /// (the caller persists them, see [`Assignment`]).
    pub fn assign(&mut self, now: Millis) -> Vec<Assignment> {
        self.round(now).filter_map(|decision| decision.assignment).collect()
    }

    /// The agent for a waiting conversation at widening `level`, and whether any agent meeting
    /// the requirement had room (ignoring the skip list).
    fn choose(
        &self,
        conversation: ConversationId,
        profile: ProfileId,
        level: usize,
        channel: usize,
    ) -> (Option<(UserId, AssignReason)>, bool) {
        let entry = &self.conversations[&conversation];
        let profile = &self.profiles[profile as usize];
        let skip = &entry.request.skip;
        if let Some(sticky) = entry.request.sticky
            && let Some(agent) = self.agent(sticky)
            && agent.has_room(channel)
            && !skip.contains(&sticky)
            && agent.meets(&profile.levels[level])
        {
            return (Some((sticky, AssignReason::Sticky)), true);
        }
        let candidates = profile.candidates[level].as_deref().expect("candidates built first");
        let mut best: Option<(u32, &Agent)> = None;
        let mut any_room = false;
        for candidate in candidates {
            if let Some((score, _)) = best
                && candidate.score < score
            {
                break;
            }
            let agent = self.agents[candidate.slot as usize].as_ref().expect("candidates live");
            if !agent.has_room(channel) {
                continue;
            }
            any_room = true;
            if skip.contains(&agent.id) {
                continue;
            }
            match best {
                Some((_, current)) if !less_busy(agent, current, channel) => {}
                _ => best = Some((candidate.score, agent)),
            }
        }
        let widened = u8::try_from(level).expect("few levels");
        (best.map(|(_, agent)| (agent.id, AssignReason::Skills { widened })), any_room)
    }
}

/// Between agents of the same score: the lower load ratio on the channel, then the longer idle
/// (never assigned first), then the lower id.
fn less_busy(agent: &Agent, other: &Agent, channel: usize) -> bool {
    let ratio = (u64::from(agent.load[channel]) * u64::from(other.capacity[channel]))
        .cmp(&(u64::from(other.load[channel]) * u64::from(agent.capacity[channel])));
    ratio
        .then_with(|| agent.last_assigned_at.cmp(&other.last_assigned_at))
        .then_with(|| agent.id.cmp(&other.id))
        == Ordering::Less
}

impl Round<'_> {
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Decides for the next waiting conversation; `None` when the round is over.
    pub fn step(&mut self) -> Option<Decision> {
        let Reverse((key, queue_id)) = self.heads.pop()?;
        let router = &mut *self.router;
        let queue = &router.queues[&queue_id];
        if let Some(&next) = queue.ranked.range((Excluded(key), Unbounded)).next() {
            self.heads.push(Reverse((next, queue_id)));
        }
        let conversation = key.conversation;
        let entry = &router.conversations[&conversation];
        let waited = self.now.saturating_sub(entry.request.enqueued_at);
        let level = widen_level(queue.config.widen_after_ms, waited);
        let profile = entry.profile;
        let channel = channel_index(entry.request.channel);
        // One bit per (level, channel): 4 levels × 7 channels fit a u32.
        let bit = 1u32 << (level * CHANNELS.len() + channel);
        let choice = if self.exhausted[profile as usize] & bit != 0 {
            None
        } else {
            router.ensure_candidates(profile, level);
            let (choice, any_room) = router.choose(conversation, profile, level, channel);
            if choice.is_none() && !any_room {
                self.exhausted[profile as usize] |= bit;
            }
            choice
        };
        let assignment =
            choice.map(|(agent, reason)| router.offer(conversation, agent, self.now, reason));
        Some(Decision { conversation, queue: queue_id, assignment })
    }
}

impl Iterator for Round<'_> {
    type Item = Decision;

    fn next(&mut self) -> Option<Decision> {
        self.step()
    }
}
