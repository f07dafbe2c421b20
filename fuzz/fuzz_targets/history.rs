//! libFuzzer target: `cargo +nightly fuzz run history` (see fuzz/README.md).
#![no_main]

#[path = "../checks/knowledge.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        checks::history(text);
    }
});
