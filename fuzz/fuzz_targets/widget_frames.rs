//! libFuzzer target: `cargo +nightly fuzz run widget_frames` (see fuzz/README.md).
#![no_main]

#[path = "../checks/widget.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        checks::parse(text);
    }
});
