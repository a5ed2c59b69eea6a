//! Local token counting: chat-tui's compact tokenizer (`chat::tokenizer`) against
//! tiktoken-rs (the reference it matches) and bpe-openai (github/rust-gems), on 10 KB of
//! English and of Chinese, a 1 MB draft and a 100-message chat request.
//!
//! After criterion, each implementation is loaded in a fresh process (this binary, run
//! again with `--probe`) to measure its load time and the resident memory it adds once it
//! has counted the English text. Run with `cargo bench --features compare-tokenizers
//! --bench tokens` (without the feature, bpe-openai is left out: it is not built for the
//! tests; `-- --probes-only` skips criterion).

use criterion::{Criterion, Throughput};
use std::hint::black_box;
use std::time::Instant;

use chat_tui::api::types::{Role, WireMessage};
use chat_tui::chat::tokenizer::Bpe;
use chat_tui::chat::tokens::TokenCounter;

fn text(seed: &str, bytes: usize) -> String {
    let mut s = String::new();
    while s.len() < bytes {
        s.push_str(seed);
    }
    s
}

fn english(bytes: usize) -> String {
    text(
        "The tutorial drives OpenAI's text-completion API from Python and turns it into a chatbot; each request carries the earlier turns. ",
        bytes,
    )
}

fn chinese(bytes: usize) -> String {
    text(
        "如果希望讓連續的對答可以有連慣性，可以把之前的對話內容一併送回。",
        bytes,
    )
}

fn bench(c: &mut Criterion) {
    let english = english(10_000);
    let chinese = chinese(10_000);
    let draft = {
        let mut s = String::new();
        let mut i = 0;
        while s.len() < 1 << 20 {
            i += 1;
            s.push_str(&format!("{i}. {}\n\n", &english[..600]));
        }
        s
    };
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
        let tiktoken = match model {
            "gpt-4o" => tiktoken_rs::o200k_base_singleton(),
            _ => tiktoken_rs::cl100k_base_singleton(),
        };
        #[cfg(feature = "compare-tokenizers")]
        let bpe_openai = match model {
            "gpt-4o" => bpe_openai::o200k_base(),
            _ => bpe_openai::cl100k_base(),
        };
        let mut g = c.benchmark_group(format!("tokens/{name}"));
        for (label, t) in [("english_10KB", &english), ("chinese_10KB", &chinese)] {
            g.throughput(Throughput::Bytes(t.len() as u64));
            g.bench_function(format!("{label}/chat-tui"), |b| {
                b.iter(|| counter.count(black_box(t)))
            });
            g.bench_function(format!("{label}/tiktoken-rs"), |b| {
                b.iter(|| tiktoken.encode_ordinary(black_box(t)).len())
            });
            #[cfg(feature = "compare-tokenizers")]
            g.bench_function(format!("{label}/bpe-openai"), |b| {
                b.iter(|| bpe_openai.count(black_box(t)))
            });
        }
        g.throughput(Throughput::Bytes(draft.len() as u64));
        g.sample_size(10);
        g.bench_function("draft_1MB/chat-tui", |b| {
            b.iter(|| counter.count(black_box(&draft)))
        });
        g.sample_size(100);
        g.throughput(Throughput::Elements(messages.len() as u64));
        g.bench_function("chat_100_messages/chat-tui", |b| {
            b.iter(|| counter.count_messages(black_box(&messages)))
        });
        g.finish();
    }
}

/// Resident and peak memory of this process, in KB.
fn memory_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// In a fresh process: load `implementation`'s `encoding`, count 10 KB of English; print
/// the load time, the first count's time and the memory added.
fn probe(implementation: &str, encoding: &str) {
    let english = english(10_000);
    let chinese = chinese(10_000);
    let (rss0, _) = memory_kb();
    let t0 = Instant::now();
    let count: Box<dyn Fn(&str) -> usize> = match (implementation, encoding) {
        ("chat-tui", "o200k") => {
            let b = Bpe::o200k();
            Box::new(move |t| b.count(t))
        }
        ("chat-tui", _) => {
            let b = Bpe::cl100k();
            Box::new(move |t| b.count(t))
        }
        ("tiktoken-rs", "o200k") => {
            let b = tiktoken_rs::o200k_base_singleton();
            Box::new(move |t| b.encode_ordinary(t).len())
        }
        ("tiktoken-rs", _) => {
            let b = tiktoken_rs::cl100k_base_singleton();
            Box::new(move |t| b.encode_ordinary(t).len())
        }
        #[cfg(feature = "compare-tokenizers")]
        ("bpe-openai", "o200k") => {
            let b = bpe_openai::o200k_base();
            Box::new(move |t| b.count(t))
        }
        #[cfg(feature = "compare-tokenizers")]
        ("bpe-openai", _) => {
            let b = bpe_openai::cl100k_base();
            Box::new(move |t| b.count(t))
        }
        _ => {
            eprintln!("{implementation}: not built in (cargo bench --features compare-tokenizers)");
            return;
        }
    };
    let loaded = t0.elapsed();
    let t1 = Instant::now();
    let n = count(&english);
    let first = t1.elapsed();
    let m = count(&chinese);
    let (rss, peak) = memory_kb();
    println!(
        "{implementation:12} {encoding:7} load {:8.2} ms  first count {:6.2} ms  RSS +{:6.1} MB (peak {:5.1} MB)  [{n}, {m} tokens]",
        loaded.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        (rss.saturating_sub(rss0)) as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--probe") {
        probe(&args[i + 1], &args[i + 2]);
        return;
    }
    // `cargo test --benches` runs this without --bench: nothing to measure then.
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    if !args.iter().any(|a| a == "--probes-only") {
        let mut c = Criterion::default().configure_from_args();
        bench(&mut c);
        c.final_summary();
    }
    println!("\nload and memory, each in a fresh process (10 KB English + 10 KB Chinese counted):");
    let Ok(me) = std::env::current_exe() else {
        return;
    };
    for encoding in ["o200k", "cl100k"] {
        let implementations: &[&str] = if cfg!(feature = "compare-tokenizers") {
            &["chat-tui", "tiktoken-rs", "bpe-openai"]
        } else {
            &["chat-tui", "tiktoken-rs"]
        };
        for implementation in implementations {
            let _ = std::process::Command::new(&me)
                .args(["--probe", implementation, encoding])
                .status();
        }
    }
}
