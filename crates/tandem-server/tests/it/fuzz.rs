//! Stable-toolchain fuzzing of the widget socket's frame reader: mutated frames for
//! `TANDEM_FUZZ_SECS` seconds (default 2), none of which may panic. The check is the libFuzzer
//! target's own (`fuzz/checks`).

#[path = "../../../../fuzz/checks/widget.rs"]
mod checks;
#[path = "../../../../fuzz/mutate.rs"]
mod mutate;

#[test]
fn widget_frames() {
    let seeds = [
        r#"{"type": "ping"}"#,
        r#"{"type": "message", "client_msg_id": "c-1", "body": "退款多久到账？"}"#,
        r#"{"body": "hello \ud83d\ude00 \"quoted\"", "type": "message", "client_msg_id": null}"#,
    ];
    mutate::run_text("widget_frames", &seeds, checks::parse);
}
