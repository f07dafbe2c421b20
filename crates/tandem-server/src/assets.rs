//! Static assets embedded in the binary: the console's stylesheet and script and the widget
//! script. Console assets are served under a content hash so browsers
//! may cache them forever and still see every new version. The widget script is served with
//! its sentences written in from the translation catalogue.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tandem_domain::Locale;
use tandem_locales::Catalogue;

use crate::AppState;
use crate::error::ApiError;

pub const CONSOLE_CSS: &str = include_str!("../assets/console.css");
pub const CONSOLE_JS: &str = include_str!("../assets/console.js");
pub const WIDGET_JS: &str = include_str!("../assets/widget.js");

/// Where widget.js holds its sentences: an empty object, so the file as written still parses.
const WIDGET_STRINGS_PLACEHOLDER: &str = "/*TANDEM_STRINGS*/ {}";

/// widget.js as served: the catalogue's `[widget]` table of every language written in as one
/// JSON object keyed by language (`{"en": {...}, "zh": {...}}`), built once.
pub static WIDGET_SCRIPT: LazyLock<String> = LazyLock::new(|| {
    let strings: BTreeMap<&str, &tandem_locales::Widget> = Locale::ALL
        .iter()
        .map(|&locale| (locale.as_str(), &Catalogue::for_locale(locale).widget))
        .collect();
    // A map of string keys to structs of strings always serializes.
    let json = serde_json::to_string(&strings).expect("the widget's sentences serialize as JSON");
    WIDGET_JS.replacen(WIDGET_STRINGS_PLACEHOLDER, &json, 1)
});

/// A short hash of the console assets, appended to their URLs.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new().chain_update(CONSOLE_CSS).chain_update(CONSOLE_JS).finalize();
    digest.iter().take(6).map(|byte| format!("{byte:02x}")).collect()
});

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/{version}/{name}", get(console_asset))
        .route("/widget.js", get(widget_script))
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
        _ => ApiError::RouteNotFound.into_response(),
    }
}

async fn widget_script() -> Response {
    // Embedding pages load this by a fixed URL, so it must be revalidated, not cached forever.
    let mut response =
        with_type(&WIDGET_SCRIPT, "text/javascript; charset=utf-8", "public, max-age=300");
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tandem_domain::Locale;
    use tandem_locales::Catalogue;

    use super::{WIDGET_JS, WIDGET_SCRIPT, WIDGET_STRINGS_PLACEHOLDER};

    #[test]
    fn the_widget_is_served_with_the_catalogues_sentences() {
        assert_eq!(WIDGET_JS.matches(WIDGET_STRINGS_PLACEHOLDER).count(), 1);
        assert!(!WIDGET_SCRIPT.contains("TANDEM_STRINGS"));
        assert!(WIDGET_SCRIPT.contains(r#""open_chat":"打开客服对话""#));
        assert!(WIDGET_SCRIPT.contains(r#""open_chat":"Open chat""#));
    }

    /// Every `T.name` the script reads is a sentence of the catalogue's `[widget]` table, so a
    /// renamed key cannot leave the widget showing `undefined`.
    #[test]
    fn the_widget_reads_only_sentences_the_catalogue_has() {
        let widget = serde_json::to_value(&Catalogue::for_locale(Locale::En).widget).unwrap();
        let known: BTreeSet<&str> =
            widget.as_object().unwrap().keys().map(String::as_str).collect();
        let is_name = |character: char| character.is_ascii_alphanumeric() || character == '_';
        let read: BTreeSet<&str> = WIDGET_JS
            .match_indices("T.")
            .filter(|(at, _)| !WIDGET_JS[..*at].ends_with(is_name))
            .map(|(at, _)| {
                let rest = &WIDGET_JS[at + 2..];
                &rest[..rest.find(|character: char| !is_name(character)).unwrap_or(rest.len())]
            })
            .collect();
        let unknown: Vec<&&str> = read.difference(&known).collect();
        assert!(unknown.is_empty(), "widget.js reads sentences [widget] lacks: {unknown:?}");
        let unused: Vec<&&str> = known.difference(&read).collect();
        assert!(unused.is_empty(), "[widget] has sentences widget.js never reads: {unused:?}");
    }
}
