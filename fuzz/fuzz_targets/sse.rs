//! The SSE parser: any bytes, fed in chunks whose sizes come from the input, give the same
//! events as the whole input fed at once, and never panic.
#![no_main]

use chat_tui::api::sse::{SseEvent, SseParser};
use libfuzzer_sys::fuzz_target;

fn events(input: &[u8], sizes: &[u8]) -> Vec<SseEvent> {
    let mut p = SseParser::with_max_line(1 << 20);
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = if sizes.is_empty() {
            rest.len()
        } else {
            usize::from(sizes[i % sizes.len()]).clamp(1, rest.len())
        };
        if p.feed(&rest[..n], &mut out).is_err() {
            return out;
        }
        rest = &rest[n..];
        i += 1;
    }
    p.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map(|b| usize::from(*b % 16)).unwrap_or(0).min(data.len());
    let (sizes, input) = data.split_at(split);
    assert_eq!(events(input, sizes), events(input, &[]));
});
