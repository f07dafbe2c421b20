//! libFuzzer target: `cargo +nightly fuzz run knowledge_jsonl` (see fuzz/README.md).
#![no_main]

#[path = "../checks/knowledge.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;
use tandem_knowledge::formats::Format;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        checks::import(Format::Jsonl, text);
    }
});
