//! The offline demo that `tandem demo` runs: a seeded workspace, a made-up shop with its own
//! small API for the bot's business actions, an echo model standing in for a language model,
//! and the shop's page with the chat widget.
//!
//! Nothing here is part of Tandem proper. Only the binary's `demo` command mounts these
//! routes next to the application (`tandem serve` never does), so a production server serves
//! no demo page, no shop and no echo model, even on a database that `tandem demo` once seeded.

pub mod echo_model;
pub mod page;
pub mod seed;
pub mod shop;

use std::sync::Arc;

use axum::Router;
use tandem_bot::actions::Secrets;
use tandem_store::Store;

pub use seed::{ACCOUNTS, DemoAccount, point_model_at, seed};

/// Why the demo could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] tandem_store::StoreError),
    #[error("cannot hash a demo password: {0}")]
    Password(String),
    #[error("the demo actions are invalid: {0:?}")]
    Actions(Vec<tandem_bot::actions::ActionError>),
    #[error(transparent)]
    Model(#[from] tandem_bot::model::LlmSettingsError),
}

/// The shop's API key: `TANDEM_DEMO_SHOP_KEY` when set, else [`shop::DEFAULT_KEY`].
pub fn shop_key() -> String {
    std::env::var(shop::KEY_VARIABLE)
        .ok()
        .filter(|key| !key.is_empty())
        .unwrap_or_else(|| shop::DEFAULT_KEY.to_owned())
}

/// The demo's routes: the shop page (`/demo`), the shop's API ([`shop::BASE_PATH`]) answering
/// to `shop_key`, and the echo model ([`echo_model::BASE_PATH`]).
pub fn routes(store: Arc<dyn Store>, shop_key: &str) -> Router {
    page::router(store).merge(shop::DemoShop::new(shop_key).router()).merge(echo_model::router())
}

/// The secrets the demo's actions read: `DEMO_SHOP_URL` (the shop served at `base_url`) and
/// `DEMO_SHOP_KEY`, bound to the shop's host; any other name is looked up in `otherwise`.
pub fn secrets(base_url: &str, shop_key: &str, otherwise: Secrets) -> Secrets {
    let shop = format!("{base_url}{}", shop::BASE_PATH);
    let host = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    let host = host.split('/').next().unwrap_or_default().to_owned();
    let key = shop_key.to_owned();
    Arc::new(move |name| match name {
        "DEMO_SHOP_URL" => Some(shop.clone()),
        "DEMO_SHOP_KEY" => Some(key.clone()),
        "DEMO_SHOP_KEY_HOSTS" => Some(host.clone()),
        other => otherwise(other),
    })
}
