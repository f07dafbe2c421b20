//! The security headers every response carries, set by one middleware ([`headers`]) around
//! the whole router (and the demo's page, which `tandem demo` mounts beside it).
//!
//! - Every response: `X-Content-Type-Options: nosniff` (widget.js and JSON too) and
//!   `Referrer-Policy: same-origin`, so console URLs (conversation ids, report filters) never
//!   leave in a `Referer`.
//! - A response whose handler set no `Cache-Control` gets `no-store`: signed-in pages (the
//!   settings pages show secrets), fragments, CSV exports and API answers are never kept by a
//!   browser or proxy cache. Assets and widget.js set their own.
//! - HTML: [`CONTENT_SECURITY_POLICY`] and `X-Frame-Options: DENY`. The console loads only its
//!   own script and stylesheet (no inline script, event handler or `style` attribute), and the
//!   widget styles its shadow root with a constructed stylesheet, which `style-src` does not
//!   govern, so neither needs `'unsafe-inline'`.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every HTML page. `'self'` in `connect-src` also covers the same-origin
/// `ws:`/`wss:` sockets (CSP level 3, as every current browser implements it).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'; object-src 'none'";

/// `Referrer-Policy` of every response.
pub const REFERRER_POLICY: &str = "same-origin";

/// Adds the security headers to the response of `request`.
pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(REFERRER_POLICY));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("text/html"));
    if html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}
