//! The SSE parser: any bytes, fed whole and in a chunking taken from the input, give the
//! same events and never panic.
#![no_main]

use chat_tui::api::sse::{SseEvent, SseParser};
use libfuzzer_sys::fuzz_target;

fn run(input: &[u8], sizes: &[u8]) -> Vec<SseEvent> {
    let mut p = SseParser::with_max_line(1 << 20);
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = if sizes.is_empty() {
            rest.len()
        } else {
            (sizes[i % sizes.len()] as usize % 17).clamp(1, rest.len())
        };
        p.feed(&rest[..n], &mut out)
            .expect("line limit not reached");
        rest = &rest[n..];
        i += 1;
    }
    p.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    // First byte: how many chunk sizes follow.
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let k = (k as usize % 8).min(rest.len());
    let (sizes, input) = rest.split_at(k);
    assert_eq!(run(input, sizes), run(input, &[]));
});
