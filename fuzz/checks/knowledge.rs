//! What the knowledge importers and the history reader must do with any text: never panic, and
//! report every problem on a line the text has. Shared by the libFuzzer targets and the stable
//! fuzz tests (`#[path]`).

#![allow(dead_code)] // each libFuzzer target uses one of these

use tandem_knowledge::formats::{self, Format};
use tandem_knowledge::history;

/// The last line a problem may be reported on (a file's end counts as a line).
fn last_line(text: &str) -> usize {
    text.matches('\n').count() + 1
}

/// A knowledge file in `format`: every error names its file and a line of the text, and a file
/// that imports gives articles with distinct ids.
pub fn import(format: Format, text: &str) {
    match formats::parse(format, "fuzz.txt", text) {
        Ok(articles) => {
            assert!(!articles.is_empty(), "an import without articles must fail");
            let mut keys: Vec<&str> = articles.iter().map(|article| article.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), articles.len(), "duplicate ids imported");
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in &errors {
                assert_eq!(error.file, "fuzz.txt");
                assert!(
                    (1..=last_line(text)).contains(&error.line),
                    "{error} is not on a line of the file ({} lines)",
                    last_line(text)
                );
                let _ = error.to_string();
            }
        }
    }
}

/// A conversation history: the lenient and the strict reader agree that a strictly valid file
/// reads, and every error is on a line of the text.
pub fn history(text: &str) {
    let strict = history::parse_strict(text);
    let lenient = history::parse(text);
    match &strict {
        Ok(conversations) => {
            let lenient = lenient.as_ref().expect("a file the strict reader takes must read");
            assert_eq!(lenient.len(), conversations.len());
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in errors {
                assert!(
                    (1..=last_line(text)).contains(&error.line),
                    "line {} is not in the file ({} lines): {}",
                    error.line,
                    last_line(text),
                    error.message
                );
            }
        }
    }
    if let Err(errors) = &lenient {
        assert!(
            strict.is_err(),
            "the strict reader took a file the lenient one refused: {errors:?}"
        );
    }
}
