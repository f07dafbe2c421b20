//! The demo shop page: a made-up shop that embeds the widget of the demo workspace's web inbox
//! (or, on a database `tandem demo` did not seed, the first web inbox it finds). With
//! `?as=u-1001` the widget is signed in as the shop's customer 张伟 (identity verification), the
//! hash computed here as a shop's own backend would; only ever for the workspace `tandem demo`
//! seeded.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tandem_domain::{Channel, WorkspaceId};
use tandem_store::{Store, StoreError};

use crate::seed::{DEMO_USER_EMAIL, DEMO_USER_ID, DEMO_USER_NAME, DEMO_WORKSPACE_SETTING};

pub const DEMO_HTML: &str = include_str!("../assets/demo.html");
/// The page's stylesheet: a file, not a `<style>` element, as the page's Content-Security-Policy
/// (the console's) allows no inline style.
pub const DEMO_CSS: &str = include_str!("../assets/demo.css");

/// The page's routes, `/demo` and its stylesheet `/demo.css`, with the server's security
/// headers (they are mounted beside `tandem_server::router`, outside its layer).
pub fn router(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/demo", get(demo_page))
        .route("/demo.css", get(demo_css))
        .layer(axum::middleware::from_fn(tandem_server::security::headers))
        .with_state(store)
}

async fn demo_css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")],
        DEMO_CSS,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct DemoQuery {
    /// `u-1001`: sign the widget in as the demo customer.
    #[serde(rename = "as")]
    sign_in_as: Option<String>,
}

async fn demo_page(
    State(store): State<Arc<dyn Store>>,
    Query(query): Query<DemoQuery>,
) -> Response {
    match render(store.as_ref(), query).await {
        Ok(Some(page)) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // A signed-in page carries an identity hash: no cache keeps it.
                (header::CACHE_CONTROL, "no-store"),
            ],
            page,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "The demo workspace has no web inbox.").into_response(),
        Err(error) => {
            tracing::error!(error = %error, "the demo page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "The demo page failed; see the log.")
                .into_response()
        }
    }
}

/// The page for the demo workspace's web inbox; `None` when there is no web inbox at all.
async fn render(store: &dyn Store, query: DemoQuery) -> Result<Option<String>, StoreError> {
    let demo = demo_workspace(store).await?;
    let mut workspaces: Vec<WorkspaceId> =
        store.workspaces().await?.into_iter().map(|workspace| workspace.id).collect();
    // The demo workspace first, when there is one.
    workspaces.sort_by_key(|workspace| Some(*workspace) != demo);
    let mut found = None;
    for workspace in workspaces {
        let inboxes = store.inboxes(workspace).await?;
        if let Some(inbox) = inboxes.into_iter().find(|inbox| inbox.channel == Channel::Web) {
            found = Some(inbox);
            break;
        }
    }
    let Some(inbox) = found else { return Ok(None) };
    let demo = demo == Some(inbox.workspace_id);
    let signed_in = demo && query.sign_in_as.as_deref() == Some(DEMO_USER_ID);
    let user_attributes = match store.inbox_identity_secret(inbox.id).await? {
        Some(secret) if signed_in => format!(
            " data-user-id=\"{DEMO_USER_ID}\" data-user-hash=\"{hash}\" data-user-name=\"{DEMO_USER_NAME}\" data-user-email=\"{DEMO_USER_EMAIL}\"",
            hash = tandem_server::auth::user_hash(&secret, DEMO_USER_ID),
        ),
        _ => String::new(),
    };
    let toggle = if !demo {
        String::new()
    } else if signed_in {
        format!(
            "<span class=\"demo-account signed-in\">已登录：{DEMO_USER_NAME} ({DEMO_USER_ID}) · Signed in <a href=\"/demo\" data-testid=\"demo-sign-out\">退出 Sign out</a></span>"
        )
    } else {
        format!(
            "<a class=\"demo-account\" href=\"/demo?as={DEMO_USER_ID}\" data-testid=\"demo-sign-in\">以演示客户 {DEMO_USER_NAME} ({DEMO_USER_ID}) 登录 · Sign in as the demo customer</a>"
        )
    };
    Ok(Some(
        DEMO_HTML
            .replace("{{INBOX_KEY}}", &inbox.public_key)
            .replace("{{USER_ATTRIBUTES}}", &user_attributes)
            .replace("{{DEMO_SIGN_IN}}", &toggle),
    ))
}

/// The workspace `tandem demo` seeded (recorded in the installation's settings).
async fn demo_workspace(store: &dyn Store) -> Result<Option<WorkspaceId>, StoreError> {
    let id = store.setting(DEMO_WORKSPACE_SETTING).await?;
    Ok(id.and_then(|id| id.parse().ok()).map(WorkspaceId))
}
