//! Static assets embedded in the binary: the console's stylesheet and script, the widget
//! script and the OpenAPI document. Console assets are served under a content hash so browsers
//! may cache them forever and still see every new version.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

pub const CONSOLE_CSS: &str = include_str!("../assets/console.css");
pub const CONSOLE_JS: &str = include_str!("../assets/console.js");
pub const WIDGET_JS: &str = include_str!("../assets/widget.js");
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

async fn openapi() -> Response {
    with_type(OPENAPI_JSON, "application/json", "no-cache")
}
