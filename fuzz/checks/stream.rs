//! What the streamed-answer reader must do with any bytes: never panic, and say the same
//! whatever pieces the network cut the stream into. Shared by the libFuzzer target and the
//! stable fuzz test (`#[path]`).

use tandem_llm::{StreamParser, Streamed};

/// Everything a stream says when delivered in the given pieces: the events up to the end or
/// the first error, and the error's text.
fn read(pieces: &[&[u8]]) -> (Vec<Streamed>, Option<String>, String, usize, Option<String>) {
    let mut parser = StreamParser::default();
    let mut events = Vec::new();
    let mut failed = None;
    'pieces: for piece in pieces {
        if let Err(error) = parser.feed(piece) {
            failed = Some(error.to_string());
            break;
        }
        loop {
            match parser.next_event() {
                Ok(Some(Streamed::Done)) => {
                    events.push(Streamed::Done);
                    break 'pieces;
                }
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(error) => {
                    failed = Some(error.to_string());
                    break 'pieces;
                }
            }
        }
    }
    let text: String = events
        .iter()
        .flat_map(|event| match event {
            Streamed::Text(texts) => texts.clone(),
            Streamed::Done => Vec::new(),
        })
        .collect();
    assert_eq!(text, parser.model_text, "the text pieces are the model's text");
    (events, failed, parser.model_text, parser.tool_calls.len(), parser.finish_reason)
}

/// `data` read whole, then cut at `cut` (and byte by byte when short): the same events.
pub fn parse(data: &[u8], cut: usize) {
    let whole = read(&[data]);
    assert!(whole.3 <= tandem_llm::MAX_TOOL_CALLS);
    let cut = if data.is_empty() { 0 } else { cut % (data.len() + 1) };
    let (head, tail) = data.split_at(cut);
    assert_eq!(read(&[head, tail]), whole, "cutting the stream at {cut} changed what it says");
    if data.len() <= 512 {
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(read(&bytes), whole, "byte by byte, the stream says something else");
    }
}
