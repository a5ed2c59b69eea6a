//! Local token counting: 10 KB of English and of Chinese, and a 100-message chat request,
//! with the encodings of current (o200k) and older (cl100k) OpenAI models.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use chat_tui::api::types::{Role, WireMessage};
use chat_tui::chat::tokens::TokenCounter;

fn text(seed: &str, bytes: usize) -> String {
    let mut s = String::new();
    while s.len() < bytes {
        s.push_str(seed);
    }
    s
}

fn bench(c: &mut Criterion) {
    let english = text(
        "The tutorial drives OpenAI's text-completion API from Python and turns it into a chatbot; each request carries the earlier turns. ",
        10_000,
    );
    let chinese = text(
        "如果希望讓連續的對答可以有連慣性，可以把之前的對話內容一併送回。",
        10_000,
    );
    let messages: Vec<WireMessage> = (0..100)
        .map(|i| {
            WireMessage::new(
                if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                },
                format!("message {i}: {}", &english[..300]),
            )
        })
        .collect();
    for model in ["gpt-4o", "gpt-4"] {
        let counter = TokenCounter::for_model(model);
        counter.warm_up();
        let name = counter.encoding().name();
        let mut g = c.benchmark_group(format!("tokens/{name}"));
        g.throughput(Throughput::Bytes(english.len() as u64));
        g.bench_function("english_10KB", |b| {
            b.iter(|| counter.count(black_box(&english)))
        });
        g.throughput(Throughput::Bytes(chinese.len() as u64));
        g.bench_function("chinese_10KB", |b| {
            b.iter(|| counter.count(black_box(&chinese)))
        });
        g.throughput(Throughput::Elements(messages.len() as u64));
        g.bench_function("chat_100_messages", |b| {
            b.iter(|| counter.count_messages(black_box(&messages)))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
