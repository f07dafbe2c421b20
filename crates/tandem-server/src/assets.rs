//! Static assets embedded in the binary: the console's stylesheet and script, the widget
//! script, the widget demo page and the OpenAPI document. Console assets are served under a
//! content hash so browsers may cache them forever and still see every new version.
//!
//! The demo page can also show the widget signed in as the demo shop's customer (identity
//! verification), computing the hash here as a shop's backend would; only for the demo
//! workspace, never for a real one.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tandem_domain::{Inbox, WorkspaceId};

use crate::AppState;
use crate::error::ApiError;

pub const CONSOLE_CSS: &str = include_str!("../assets/console.css");
pub const CONSOLE_JS: &str = include_str!("../assets/console.js");
pub const WIDGET_JS: &str = include_str!("../assets/widget.js");
pub const DEMO_HTML: &str = include_str!("../assets/demo.html");
pub const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

/// A short hash of the console assets, appended to their URLs.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new().chain_update(CONSOLE_CSS).chain_update(CONSOLE_JS).finalize();
    digest.iter().take(6).map(|byte| format!("{byte:02x}")).collect()
});

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/{version}/{name}", get(console_asset))
        .route("/widget.js", get(widget_script))
        .route("/demo", get(demo_page))
        .route("/openapi.json", get(openapi))
}

fn with_type(body: &'static str, content_type: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}

async fn console_asset(Path((version, name)): Path<(String, String)>) -> Response {
    let cache =
        if version == *VERSION { "public, max-age=31536000, immutable" } else { "no-cache" };
    match name.as_str() {
        "console.css" => with_type(CONSOLE_CSS, "text/css; charset=utf-8", cache),
        "console.js" => with_type(CONSOLE_JS, "text/javascript; charset=utf-8", cache),
        _ => ApiError::NotFound("asset").into_response(),
    }
}

async fn widget_script() -> Response {
    // Embedding pages load this by a fixed URL, so it must be revalidated, not cached forever.
    let mut response =
        with_type(WIDGET_JS, "text/javascript; charset=utf-8", "public, max-age=300");
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

#[derive(Debug, Deserialize)]
struct DemoQuery {
    /// `u-1001`: sign the widget in as the demo customer.
    #[serde(rename = "as")]
    sign_in_as: Option<String>,
}

/// The demo shop page, embedding the widget of the workspace's first web inbox; with
/// `?as=u-1001`, signed in as the demo customer when that inbox is the demo workspace's.
async fn demo_page(
    State(state): State<AppState>,
    Query(query): Query<DemoQuery>,
) -> Result<Response, ApiError> {
    let workspaces = state.store.workspaces().await?;
    let mut found = None;
    for workspace in workspaces {
        let inboxes = state.store.inboxes(workspace.id).await?;
        if let Some(inbox) =
            inboxes.into_iter().find(|inbox| inbox.channel == tandem_domain::Channel::Web)
        {
            found = Some(inbox);
            break;
        }
    }
    let inbox = found.ok_or(ApiError::NotFound("web inbox"))?;
    let demo = is_demo_workspace(&state, &inbox).await?;
    let signed_in = demo && query.sign_in_as.as_deref() == Some(crate::demo::DEMO_USER_ID);
    let user_attributes = if signed_in {
        let secret = state
            .store
            .inbox_identity_secret(inbox.id)
            .await?
            .ok_or(ApiError::NotFound("web inbox"))?;
        format!(
            " data-user-id=\"{id}\" data-user-hash=\"{hash}\" data-user-name=\"{name}\" data-user-email=\"{email}\"",
            id = crate::demo::DEMO_USER_ID,
            hash = crate::auth::user_hash(&secret, crate::demo::DEMO_USER_ID),
            name = crate::demo::DEMO_USER_NAME,
            email = crate::demo::DEMO_USER_EMAIL,
        )
    } else {
        String::new()
    };
    let toggle = match (demo, signed_in) {
        (false, _) => String::new(),
        (true, false) => format!(
            "<a class=\"demo-account\" href=\"/demo?as={id}\" data-testid=\"demo-sign-in\">以演示客户 {name} ({id}) 登录 · Sign in as the demo customer</a>",
            id = crate::demo::DEMO_USER_ID,
            name = crate::demo::DEMO_USER_NAME,
        ),
        (true, true) => format!(
            "<span class=\"demo-account signed-in\">已登录：{name} ({id}) · Signed in <a href=\"/demo\" data-testid=\"demo-sign-out\">退出 Sign out</a></span>",
            id = crate::demo::DEMO_USER_ID,
            name = crate::demo::DEMO_USER_NAME,
        ),
    };
    let page = DEMO_HTML
        .replace("{{INBOX_KEY}}", &inbox.public_key)
        .replace("{{USER_ATTRIBUTES}}", &user_attributes)
        .replace("{{DEMO_SIGN_IN}}", &toggle);
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // A signed-in page carries an identity hash: no cache keeps it.
            (header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response())
}

/// Whether `inbox` belongs to the workspace `tandem demo` seeded (recorded in the settings).
async fn is_demo_workspace(state: &AppState, inbox: &Inbox) -> Result<bool, ApiError> {
    let demo = state.store.setting(crate::demo::DEMO_WORKSPACE_SETTING).await?;
    Ok(demo.and_then(|id| id.parse().ok()).map(WorkspaceId) == Some(inbox.workspace_id))
}

async fn openapi() -> Response {
    with_type(OPENAPI_JSON, "application/json", "no-cache")
}
