//! The client of an optional LLM provider: any OpenAI-compatible chat-completions endpoint,
//! configured per workspace ([`LlmSettings`]) and off by default. This crate knows nothing of
//! the store or of conversations: it sends requests, checks answers and builds prompts; the bot
//! (`tandem-bot`) decides when to ask it and what to do with what it says.
//!
//! - [`LlmClient`] sends chat completions, plain or streamed, with tools; it redacts personal
//!   data before anything leaves the machine and restores it in the reply ([`Redactor`]),
//!   retries rate limits and server errors with backoff inside a total time budget, and shares a
//!   [`CircuitBreaker`] per workspace and provider ([`Breakers`]). Every error is a reason to
//!   fall back to the built-in engine, never to keep the customer waiting.
//! - [`grounding`] builds the prompt for an answer from retrieved passages, [`verify`]s the
//!   answer's claims against them and [`Grounds::check`]s that it cites them and is drawn from
//!   them (in the customer's language, not a repeat of the instructions); [`choice`] asks which of the engine's candidates answers a question
//!   the engine was unsure of.
//!
//! Why not `async-openai`: its current release (0.43) is built on reqwest 0.13, whose rustls
//! feature brings the aws-lc-rs crypto provider (a C and CMake build), so the workspace would
//! compile two HTTP and TLS stacks next to the reqwest 0.12 it already uses; and its client
//! retries rate limits by itself and folds errors into one type without the `Retry-After`
//! header, where Tandem needs every attempt to count towards its circuit breaker and its time
//! budget. The part of the wire format Tandem uses is small ([`wire`](self) has it) and is
//! tested against a server that speaks it.

mod breaker;
pub mod choice;
mod client;
mod gate;
pub mod grounding;
#[cfg(feature = "mock")]
pub mod mock;
pub mod outbound;
mod redact;
mod settings;
mod stream;
pub mod summary;
pub mod tools;
mod wire;

pub use breaker::{BreakerState, Breakers, CircuitBreaker};
pub use client::{
    ChatMessage, ChatRequest, ChatRole, ChatStream, Completion, Embedded, LlmClient, LlmError,
    MAX_RESPONSE_BYTES, MAX_TOOL_CALLS, StreamEvent, ToolCall, ToolDefinition, Usage,
};
pub use gate::StreamGate;
pub use grounding::{
    Claim, ClaimKind, Grounds, NO_ANSWER, NotGrounded, Passage, Rejection, grounded_messages,
    verify, verify_in_context,
};
pub use redact::{Redactor, StreamRestorer};
pub use settings::{LlmSettings, SettingsError};
pub use stream::{StreamParser, Streamed};
