//! Integration tests of the whole server: one binary, a module per area.

mod actions;
mod actions_console;
mod api;
mod assist;
mod audit;
mod console;
mod csat;
mod fuzz;
mod history_import;
mod identity;
mod insight;
mod insight_alerts;
mod insight_browser;
mod learning;
mod llm;
mod llm_console;
mod metrics;
mod privacy;
mod rbac;
mod realtime;
mod reports;
mod routing;
mod security;
mod tokens;
mod trust;
mod webhooks;
