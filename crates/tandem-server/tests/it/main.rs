//! Integration tests of the whole server: one binary, a module per area.

mod api;
mod browser;
mod console;
mod realtime;
mod routing;
mod support;
mod webhooks;
