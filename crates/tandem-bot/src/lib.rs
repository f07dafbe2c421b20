//! Tandem's built-in bot: the [`Responder`](tandem_flow::Responder) that answers customers
//! from the workspace's knowledge base, runs its business actions and, when the workspace has
//! one, uses its model.
//!
//! - [`KnowledgeResponder`] runs one bot turn as a sequence of stages: an action in progress
//!   (slot filling), "that didn't help", the engine's decision, a business action, the model's
//!   choice of action, the model's wording of the answer;
//! - [`actions`]: business actions (their definition, slot filling and HTTP calls);
//! - [`model`]: the workspace's model, used behind the built-in engine, never instead of it;
//! - [`KnowledgeResponder::learn`]: what the knowledge should learn from the conversations
//!   people answered (the console's suggestions).

pub mod actions;
mod embeddings;
mod engines;
pub mod history_import;
mod learning;
pub mod model;
mod responder;

pub use engines::ACTION_PREFIX;
pub use learning::Learnt;
pub use responder::{
    AgentActionError, AgentDraft, AgentRun, DraftUnavailable, KnowledgeResponder, OfferedAction,
    Suggested,
};
pub use tandem_knowledge::DecisionPolicy;
