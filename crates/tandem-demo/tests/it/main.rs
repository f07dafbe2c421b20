//! Integration tests of the demo as `tandem demo` runs it: one binary, a module per area.

mod browser;
mod echo_model;
mod page;
mod shop;

use std::sync::Arc;

use tandem_bot::KnowledgeResponder;
use tandem_server::ServerConfig;
use tandem_server::testing::TestApp;
use tandem_store::{SqliteConfig, SqliteStore, Store};

/// The demo as `tandem demo` serves it, over a fresh database: the seeded workspace, the
/// application, and beside it the shop page, the shop's API (default key) and the echo model,
/// on a loopback port bound now (so that the actions' `DEMO_SHOP_URL` and the model settings
/// can name it) that [`TestApp::spawn`] serves.
pub(crate) async fn demo() -> TestApp {
    let directory = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&SqliteConfig::new(directory.path().join("t.db"))).unwrap());
    assert!(tandem_demo::seed(&store).await.unwrap());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let key = tandem_demo::shop::DEFAULT_KEY;
    let secrets = tandem_demo::secrets(&base, key, Arc::new(|_| None));
    let responder = KnowledgeResponder::start_with(
        Arc::clone(&store),
        Default::default(),
        Arc::new(tandem_store::now_millis),
        secrets,
    );
    let config = ServerConfig { public_url: base.clone(), ..ServerConfig::default() };
    let state = tandem_server::build(Arc::clone(&store), responder, config).await.unwrap();
    let router = tandem_server::router(state).merge(tandem_demo::routes(Arc::clone(&store), key));
    tandem_demo::point_model_at(&store, &base).await.unwrap();
    TestApp::from_parts(router, store, directory, Some(listener)).await
}
