//! Stable-toolchain fuzzing of the streamed-answer reader: mutated server-sent event streams
//! for `TANDEM_FUZZ_SECS` seconds (default 2), none of which may panic or read differently when
//! the network cuts them elsewhere. The check is the libFuzzer target's own (`fuzz/checks`).

#[path = "../../../../fuzz/checks/stream.rs"]
mod checks;
#[path = "../../../../fuzz/mutate.rs"]
mod mutate;

const TEXT: &str = concat!(
    ": keep-alive\n\n",
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"签收后\"}}]}\n\n",
    "event: chunk\r\ndata: {\"choices\":[{\"delta\":{\"content\":\" 7 天内可退货 [1]。\"},\"finish_reason\":null}]}\r\n\r\n",
    "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\n",
    "data: \"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7}}\n\n",
    "data: [DONE]\n\n",
);

const TOOLS: &str = concat!(
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"order_status\",\"arguments\":\"\"}}]}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"order\\\":\"}}]}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"function\":{\"name\":\"refund\",\"arguments\":\"{}\"}},{\"index\":0,\"function\":{\"arguments\":\"\\\"A1\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data:[DONE]\n",
);

#[test]
fn streamed_answer() {
    mutate::run("stream", &[TEXT.as_bytes(), TOOLS.as_bytes()], |data| {
        // Where the network cuts the stream comes from the input too.
        let cut = data
            .iter()
            .fold(0usize, |sum, byte| sum.wrapping_mul(31).wrapping_add(usize::from(*byte)));
        checks::parse(data, cut);
    });
}
