//! SSE parsing throughput: a 1 MB realistic chat stream, fed in network-sized and tiny chunks,
//! and the full decode path (parser + JSON) as the client runs it.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use chat_tui::api::sse::{SseEvent, SseParser};

fn stream(bytes: usize) -> Vec<u8> {
    let mut s = String::new();
    let words = [
        "Hello", " world", ",", " 你好", " 世界", " 🌊", " the", " quick", " fox",
    ];
    let mut i = 0;
    while s.len() < bytes {
        let w = words[i % words.len()];
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{w}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
        if i % 50 == 0 {
            s.push_str(": keep-alive\n\n");
        }
        i += 1;
    }
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

fn parse(input: &[u8], chunk: usize) -> usize {
    let mut p = SseParser::new();
    let mut out: Vec<SseEvent> = Vec::new();
    let mut n = 0;
    for c in input.chunks(chunk) {
        p.feed(c, &mut out).unwrap();
        n += out.len();
        out.clear();
    }
    p.finish(&mut out);
    n + out.len()
}

fn bench(c: &mut Criterion) {
    let input = stream(1 << 20);
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("parse_1MB_1KiB_chunks", |b| {
        b.iter(|| parse(black_box(&input), 1024))
    });
    g.bench_function("parse_1MB_7B_chunks", |b| {
        b.iter(|| parse(black_box(&input), 7))
    });
    g.bench_function("parse_and_decode_json_1MB", |b| {
        b.iter(|| {
            let mut p = SseParser::new();
            let mut out = Vec::new();
            let mut text = 0usize;
            for c in input.chunks(1024) {
                p.feed(c, &mut out).unwrap();
                for ev in out.drain(..) {
                    if ev.data != "[DONE]" {
                        let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
                        text += v["choices"][0]["delta"]["content"]
                            .as_str()
                            .map_or(0, str::len);
                    }
                }
            }
            text
        })
    });
    g.finish();
}

/// A 20,000-token reply with 20 alternatives per token, as streamed chat chunks' `logprobs`
/// objects: parsed (`logprobs::parse_choice`) and kept (`Logprobs::extend`) as the app does.
fn logprobs(c: &mut Criterion) {
    use chat_tui::api::logprobs::{Logprobs, parse_choice};
    let words: Vec<String> = (0..4000).map(|i| format!(" w{i}")).collect();
    let chunks: Vec<String> = (0..20_000)
        .map(|k| {
            let top: Vec<String> = (0..20)
                .map(|j| {
                    let w = &words[(k * 7 + j * 13) % words.len()];
                    format!(
                        "{{\"token\":\"{w}\",\"logprob\":{},\"bytes\":{:?}}}",
                        -(j as f64) * 0.37,
                        w.as_bytes()
                    )
                })
                .collect();
            let w = &words[k % words.len()];
            format!(
                "{{\"content\":[{{\"token\":\"{w}\",\"logprob\":-0.5,\"bytes\":{:?},\"top_logprobs\":[{}]}}]}}",
                w.as_bytes(),
                top.join(",")
            )
        })
        .collect();
    let bytes: usize = chunks.iter().map(String::len).sum();
    let mut g = c.benchmark_group("logprobs");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_and_keep_20k_tokens_x20", |b| {
        b.iter(|| {
            let mut kept = Logprobs::new();
            for ch in &chunks {
                let v: serde_json::Value = serde_json::from_str(ch).unwrap();
                if let Some(p) = parse_choice(&v) {
                    kept.extend(&p.tokens);
                }
            }
            kept.shrink_to_fit();
            black_box(kept.heap_bytes())
        })
    });
    g.finish();
}

criterion_group!(benches, bench, logprobs);
criterion_main!(benches);
