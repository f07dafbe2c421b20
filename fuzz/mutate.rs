//! The stable-toolchain fuzz loop that `cargo test` runs: seeded byte and line mutations of
//! valid example inputs, each handed to a check under `catch_unwind`, for a bounded time.
//!
//! libFuzzer (`cargo +nightly fuzz run <target>`, see `fuzz/README.md`) needs a nightly
//! toolchain that CI does not have; this loop gives every parser a few seconds of mutated
//! input on stable instead. It is shared, not copied: each crate's test binary includes it
//! with `#[path = ".../fuzz/mutate.rs"] mod mutate;`.
//!
//! `TANDEM_FUZZ_SECS` sets the time per target (default 2, fractions allowed, 0 runs only the
//! seeds) and `TANDEM_FUZZ_SEED` the random seed (default: fixed per target, so a run is
//! repeatable up to how far it gets in its time).

#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Tokens worth splicing into any of the text formats.
const TOKENS: &[&str] = &[
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
    "[[",
    "]]",
    ",",
    ":",
    "=",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "#",
    "+++",
    "data:",
    "data: [DONE]",
    "\n\n",
    "null",
    "true",
    "false",
    "-1",
    "0",
    "1e999",
    "18446744073709551616",
    "-9223372036854775809",
    "0.5",
    "\"\"",
    "[]",
    "{}",
    "退",
    "é",
    "\u{200b}",
    "\u{feff}",
    "\u{10ffff}",
    "🙂",
    "2026-09-03T08:12:44Z",
    "2026-02-30T25:61:61",
    "1970-01-01T00:00:00.999999999+14:00",
    ".",
    "T",
    "'''",
    "\"\"\"",
];

/// A small deterministic generator (xorshift64*): no dependency, same run for the same seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `bound` (which must not be zero).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Changes `input` by one to eight random edits: bit flips, byte and token insertions,
/// deletions, duplications, and lines swapped with or spliced from `others`.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(8) {
        let len = input.len();
        let at = if len == 0 { 0 } else { rng.below(len + 1) };
        match rng.below(10) {
            0 if len > 0 => {
                let index = rng.below(len);
                input[index] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let index = rng.below(len);
                input[index] =
                    *b"\0\n\r\"\\{}[],:=# \x7f\xc3\xa9\xff".get(rng.below(19)).unwrap_or(&b'x');
            }
            2 => input.insert(at, rng.next() as u8),
            3 | 4 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                input.splice(at..at, token.iter().copied());
            }
            5 if len > 0 => {
                let end = (at + 1 + rng.below(16)).min(len);
                input.drain(at.min(len - 1)..end);
            }
            6 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(32)).min(len);
                let piece: Vec<u8> = input[start..end].to_vec();
                input.splice(at..at, piece);
            }
            7 | 8 => {
                // A whole line of another input (or this one) where a line starts here.
                let source =
                    if others.is_empty() { &*input } else { &others[rng.below(others.len())] };
                let lines: Vec<&[u8]> = source.split(|byte| *byte == b'\n').collect();
                let mut line = lines[rng.below(lines.len())].to_vec();
                line.push(b'\n');
                let start =
                    input[..at].iter().rposition(|byte| *byte == b'\n').map_or(0, |i| i + 1);
                input.splice(start..start, line);
            }
            _ => {
                // Swap two lines, or cut the input at a line's end.
                let mut lines: Vec<Vec<u8>> =
                    input.split(|byte| *byte == b'\n').map(<[u8]>::to_vec).collect();
                if lines.len() > 1 {
                    let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                    if rng.below(4) == 0 {
                        lines.truncate(a.max(1));
                    } else {
                        lines.swap(a, b);
                    }
                    *input = lines.join(&b'\n');
                }
            }
        }
    }
}

/// How long each target runs: `TANDEM_FUZZ_SECS`, or two seconds.
pub fn budget() -> Duration {
    let secs = std::env::var("TANDEM_FUZZ_SECS")
        .ok()
        .and_then(|secs| secs.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

/// Runs `check` on every seed, then on mutations of them (and of earlier mutations) until the
/// budget is spent. A panic in `check` fails the test with the seed, the round and the input.
pub fn run(name: &str, seeds: &[&[u8]], check: impl Fn(&[u8])) {
    let seed = std::env::var("TANDEM_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
            })
        });
    let mut rng = Rng::new(seed);
    let mut pool: Vec<Vec<u8>> = seeds.iter().map(|seed| seed.to_vec()).collect();
    let attempt = |round: u64, input: &[u8]| {
        if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
            panic!(
                "fuzz target {name} panicked (TANDEM_FUZZ_SEED={seed}, round {round}) on {:?}",
                String::from_utf8_lossy(input)
            );
        }
    };
    for input in &pool {
        attempt(0, input);
    }
    let deadline = Instant::now() + budget();
    let mut rounds = 0u64;
    while Instant::now() < deadline && !pool.is_empty() {
        rounds += 1;
        let mut input = pool[rng.below(pool.len())].clone();
        mutate(&mut rng, &mut input, &pool);
        attempt(rounds, &input);
        // Keep some mutants so that edits compound; the seeds stay in the pool.
        if input.len() <= 64 * 1024 && rng.below(8) == 0 {
            if pool.len() < 256 {
                pool.push(input);
            } else {
                let index = seeds.len() + rng.below(pool.len() - seeds.len());
                pool[index] = input;
            }
        }
    }
    eprintln!("fuzz target {name}: {rounds} mutated inputs, seed {seed}");
}

/// [`run`] for parsers of text: the input is read as UTF-8 with invalid bytes replaced.
pub fn run_text(name: &str, seeds: &[&str], check: impl Fn(&str)) {
    let seeds: Vec<&[u8]> = seeds.iter().map(|seed| seed.as_bytes()).collect();
    run(name, &seeds, |input| check(&String::from_utf8_lossy(input)));
}
