//! What the widget socket's frame reader must do with any text: never panic, and read only
//! JSON (an object, or the array form serde also accepts for a tagged enum), whose `body` is
//! the message's. Shared by the libFuzzer target and the stable fuzz test (`#[path]`).

use tandem_server::{WidgetRequest, parse_widget_request};

pub fn parse(text: &str) {
    if let Ok(request) = parse_widget_request(text) {
        let value: serde_json::Value =
            serde_json::from_str(text).expect("a frame that reads is JSON");
        assert!(
            value.is_object() || value.is_array(),
            "a frame that reads is an object or an array"
        );
        if let (WidgetRequest::Message { body, .. }, Some(object)) = (request, value.as_object()) {
            assert_eq!(object.get("body").and_then(|body| body.as_str()), Some(body.as_str()));
        }
    }
}
