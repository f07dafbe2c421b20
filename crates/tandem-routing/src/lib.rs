//! Skills-based routing: which agent is offered which waiting conversation, and in what order.
//!
//! A [`Router`] holds one workspace's agents, queues and the conversations waiting for or
//! assigned to people, in memory. It is pure: no IO, no async, no clock. Time comes in as
//! `now` (milliseconds since the Unix epoch) and should not go backwards between calls.
//!
//! The service around it keeps the database as the source of truth: it persists every change
//! of owner through the conversation state machine, tells the router what happened
//! (`accepted`, `finished`, `set_presence`...), and persists what the router decides
//! (`assign`, `expired`). At start-up it rebuilds the router from the database with
//! [`Router::add_agent`], [`Router::upsert_queue`], [`Router::enqueue`] and
//! [`Router::restore_assigned`], which load state without deciding anything.
//!
//! # Priority
//!
//! A waiting conversation's priority, in points, at time `now`:
//!
//! ```text
//! priority(now) = base + aging_points_per_minute * (now - enqueued_at) / 60_000
//!                      + (sla_risk_boost if now - enqueued_at >= sla_ms * sla_risk_percent / 100)
//! ```
//!
//! `base` is the caller's number for the customer's tier/value plus any emotion boost. Higher
//! goes first; ties go to the earlier `enqueued_at`, then the lower conversation id. Because
//! aging is linear and the same for everyone, `base * 60_000 - rate * enqueued_at` orders the
//! waiting conversations the same way at every `now`, so they are kept in ordered sets keyed by
//! it; the SLA boost is a step that each conversation crosses once, so crossing it re-keys that
//! one conversation (checked at the start of every round). A requeued conversation keeps its
//! `enqueued_at`, so it keeps its place.
//!
//! # Requirements and widening
//!
//! A conversation needs its queue's skills (each at the queue's minimum proficiency) and its own
//! extra skills (topic, `lang:xx`; any proficiency). With `widen_after_ms = w > 0`, after
//! waiting `w` it needs only the queue's skills at any proficiency plus its language skills
//! (`lang:` prefix); after `2w` only the language skills; after `3w` nothing (anyone).
//!
//! # Choosing an agent
//!
//! An agent is eligible when online, below capacity on the conversation's channel, not in the
//! conversation's skip list and meeting the (possibly widened) requirements. The sticky agent
//! (the customer's previous one) wins when eligible; otherwise the highest skill score (the sum
//! of the agent's proficiency over every skill the unwidened requirement names), then the
//! lowest load ratio on that channel, then the longest idle (oldest last assignment, never
//! assigned first), then the lowest id.
//!
//! # Driving it
//!
//! - A tick is `expired(now)` then `assign(now)`. The service persists each [`Released`]
//!   (`Transition::Release`) and each [`Assignment`] (`Transition::Assign`); an assignment it
//!   could not persist is undone with [`Router::withdraw`] (or [`Router::cancelled`] when the
//!   conversation is gone). Offers are recorded when decided, so a round never exceeds
//!   capacity or offers a conversation twice even before the service reports back.
//! - Run a round after anything that may free a slot or add a waiting conversation (enqueue,
//!   finished, cancelled, declined, expired, an agent online, more capacity), and also every few
//!   seconds: widening, SLA boosts and business hours change with time alone.
//!   [`Router::next_deadline`] is the next offer timeout.
//! - `now` must not go backwards: SLA boosts once given are kept.
//! - The router knows each conversation once: `enqueue` of a known one is refused; move it
//!   with `transfer`, or `cancelled` it first.
//! - Offline agents lose everything they hold (every `set_presence(Offline)`, even a repeated
//!   one); away agents keep it. `restore_assigned` loads what the database says, above
//!   capacity or on an offline agent included; call `set_presence(Offline)` afterwards for
//!   agents who should give their conversations back.
//! - Load exceeds capacity only through a lowered capacity, a forced [`Router::reroute`] or a
//!   restore; such an agent gets nothing new on that channel until below capacity again.
//! - Interned skill names and requirement profiles (one per queue and set of extra skills) are
//!   kept for the router's life; they are few.

mod error;
mod hours;
mod model;
mod query;
mod round;
mod router;

pub use error::RoutingError;
pub use hours::BusinessHours;
pub use model::{
    AgentConfig, AgentSnapshot, AssignReason, Assignment, ConversationRequest, Decision, Placement,
    QueueConfig, QueueSnapshot, Released, RouterConfig, Snapshot, WaitEstimate,
};
pub use round::Round;
pub use router::Router;
pub use tandem_domain::{OpenRange, Presence};
