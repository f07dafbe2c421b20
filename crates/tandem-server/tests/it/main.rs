//! Integration tests of the whole server: one binary, a module per area.

mod actions;
mod actions_console;
mod api;
mod assist;
mod console;
mod identity;
mod learning;
mod llm;
mod llm_console;
mod realtime;
mod routing;
mod webhooks;
