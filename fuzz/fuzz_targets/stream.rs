//! libFuzzer target: `cargo +nightly fuzz run stream` (see fuzz/README.md).
#![no_main]

#[path = "../checks/stream.rs"]
mod checks;

use libfuzzer_sys::fuzz_target;

// The first two bytes say where the network cuts the stream; the rest is the stream.
fuzz_target!(|data: &[u8]| {
    let (cut, stream) = match data {
        [high, low, rest @ ..] => (usize::from(*high) << 8 | usize::from(*low), rest),
        _ => (0, data),
    };
    checks::parse(stream, cut);
});
