//! Tandem's AI layer: what the bot says, and the relay that decides when it may speak.
//!
//! [`Responder`] is the seam where answer engines plug in: [`KnowledgeResponder`] answers from
//! the workspace's published articles with the built-in engine (LLM providers will sit on top
//! of it); [`PlaceholderResponder`] only acknowledges and offers a person.
//! [`Relay`] owns the conversation flow around it — persist the customer's message first, let
//! the bot answer only while it owns the conversation, hand off to the queue when asked — so
//! the HTTP layer only translates requests.

pub mod actions;
pub mod kb;
mod knowledge;
pub mod llm;
mod phrases;
mod relay;
mod responder;
pub mod routing;
pub mod triage;

pub use knowledge::{Clock, KnowledgeResponder};
pub use phrases::Phrases;
pub use relay::{CustomerSend, Relay, RelayError};
pub use responder::{
    BotReply, Draft, DraftSink, Outcome, PlaceholderResponder, Responder, Turn, detect_locale,
};
pub use routing::{Routing, RoutingServiceError};
pub use tandem_knowledge::DecisionPolicy;
