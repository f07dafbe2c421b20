//! The pure part of reading a streamed chat completion: the bytes of a server-sent event stream
//! in, the text, tool calls, usage and end it says out. The client feeds it what the network
//! delivers and does the redaction, timing and sending; the fuzz targets feed it anything.

use crate::client::{LlmError, MAX_RESPONSE_BYTES, MAX_TOOL_CALLS, ToolCall, Usage};
use crate::wire::ChatCompletionChunk;

/// What one step of a stream said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Streamed {
    /// The text pieces of one event, in order (the model's words, not yet restored).
    Text(Vec<String>),
    /// `data: [DONE]`: the completion is whole; nothing after it is read.
    Done,
}

/// Reads a server-sent event stream of chat-completion chunks as it arrives.
#[derive(Debug, Default)]
pub struct StreamParser {
    buffer: Vec<u8>,
    data: String,
    received: usize,
    /// Everything the model wrote so far.
    pub model_text: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

impl StreamParser {
    /// Takes the next bytes the stream delivered; a stream larger than [`MAX_RESPONSE_BYTES`]
    /// in all is refused.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), LlmError> {
        self.received += chunk.len();
        if self.received > MAX_RESPONSE_BYTES {
            return Err(LlmError::Malformed("the stream is too large".into()));
        }
        self.buffer.extend_from_slice(chunk);
        Ok(())
    }

    /// The next thing the whole lines fed so far say; `None` when they say nothing more until
    /// more bytes arrive.
    pub fn next_event(&mut self) -> Result<Option<Streamed>, LlmError> {
        while let Some(newline) = self.buffer.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=newline).collect();
            let line = String::from_utf8(line)
                .map_err(|_| LlmError::Malformed("a line is not UTF-8".into()))?;
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(value) = line.strip_prefix("data:") {
                let value = value.strip_prefix(' ').unwrap_or(value);
                if value.trim() == "[DONE]" {
                    return Ok(Some(Streamed::Done));
                }
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                continue;
            }
            // Anything else (`event:`, `id:`, `: comment`) is ignored; a blank line ends the
            // event.
            if !line.is_empty() || self.data.is_empty() {
                continue;
            }
            let event = std::mem::take(&mut self.data);
            return self.event(&event).map(|texts| Some(Streamed::Text(texts)));
        }
        Ok(None)
    }

    fn event(&mut self, event: &str) -> Result<Vec<String>, LlmError> {
        let chunk: ChatCompletionChunk = serde_json::from_str(event).map_err(|error| {
            LlmError::Malformed(format!("a chunk is not a chat completion chunk: {error}"))
        })?;
        if let Some(reported) = chunk.usage {
            self.usage = Usage {
                prompt_tokens: reported.prompt_tokens,
                completion_tokens: reported.completion_tokens,
            };
        }
        let mut texts = Vec::new();
        for choice in chunk.choices {
            if let Some(content) = choice.delta.content {
                self.model_text.push_str(&content);
                texts.push(content);
            }
            for piece in choice.delta.tool_calls {
                if piece.index >= MAX_TOOL_CALLS {
                    return Err(LlmError::Malformed(format!(
                        "a tool call index of {} (at most {MAX_TOOL_CALLS} calls)",
                        piece.index
                    )));
                }
                if self.tool_calls.len() <= piece.index {
                    self.tool_calls.resize_with(piece.index + 1, || ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                let call = &mut self.tool_calls[piece.index];
                if let Some(id) = piece.id {
                    call.id = id;
                }
                if let Some(function) = piece.function {
                    call.name.push_str(function.name.as_deref().unwrap_or_default());
                    call.arguments.push_str(function.arguments.as_deref().unwrap_or_default());
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        Ok(texts)
    }
}
