//! Tandem's domain: identifiers, entities, validated values and the conversation ownership
//! state machine.
//!
//! This crate does no IO. Everything here is plain data and pure functions, so the rules that
//! matter most (who owns a conversation, what a valid message is) can be tested exhaustively
//! without a database or a server.

pub mod action;
pub mod api_token;
pub mod conversation;
pub mod csat;
pub mod entities;
pub mod hours;
pub mod insight;
pub mod permissions;
pub mod problem;
pub mod triage;
pub mod validate;
pub mod webhook;

pub use action::*;
pub use api_token::{ApiToken, ApiTokenId, TokenScope, TokenStatus};
pub use conversation::{ConversationState, Transition, TransitionError};
pub use entities::*;
pub use hours::{OpeningHours, SkillLevels, TimeZoneName};
pub use insight::{
    ConversationFacts, GroupBy, Handler, Kpis, Metric, Report, ReportContext, ReportDocument,
    ReportRow,
};
pub use permissions::Refusal;
pub use problem::Problem;
pub use triage::*;
pub use validate::ValidationError;
pub use webhook::*;
