//! Tandem's conversation flow: who speaks when, and where a conversation goes.
//!
//! [`Relay`] owns the flow around the bot: persist the customer's message first, let the bot
//! answer only while it owns the conversation, apply the workspace's escalation policy
//! ([`triage`]) and hand off to a queue with a packet, let agents take over. [`Routing`] gives
//! waiting conversations to people. [`Responder`] is the seam where answer engines plug in
//! (`tandem-bot` is the built-in one; [`PlaceholderResponder`] only acknowledges and offers a
//! person); what Tandem itself says to customers is in [`Phrases`]; [`assist`] reads the alerts
//! an agent is shown beside a conversation.
//!
//! This crate calls no HTTP service: everything outside the store reaches it through a
//! [`Responder`].

pub mod assist;
pub mod idle;
pub mod insight;
mod phrases;
mod relay;
mod responder;
pub mod routing;
mod supervise;
#[cfg(feature = "testing")]
pub mod testing;
pub mod triage;
pub mod wrapup;

use std::sync::Arc;

use tandem_domain::Millis;

pub use insight::Insight;
pub use phrases::Phrases;
pub use relay::{CustomerSend, Relay, RelayError, TurnEnded};
pub use responder::{
    BotReply, Draft, DraftSink, PlaceholderResponder, Responder, Turn, detect_locale,
};
pub use routing::{Routing, RoutingServiceError};
pub use supervise::{holds_lease, supervise};

/// A source of the current time in milliseconds: the system clock, or a test's own.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;
