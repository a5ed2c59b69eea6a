//! The transcript store at scale: a library of 10,000 small conversations (list warm and
//! cold, search through the index and by reading the files, the first streamed matches,
//! the index update after one save), one 20 MB conversation (parse, serialise + atomic
//! write, the index update after an autosave), and one conversation of 10,000 short
//! messages with 500 versions and branches (parse with the tree's checks, switching
//! branch, adding a message).
//!
//! Run: `cargo bench --bench store -- --warm-up-time 1 --measurement-time 3`

use std::fs;
use std::hint::black_box;

use chat_tui::api::types::{Mode, Params};
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use chat_tui::store::library::note_saved;
use chat_tui::store::{INDEX_FILE, Library, parse, to_json, write_atomic};
use criterion::{Criterion, criterion_group, criterion_main};

const WORDS: &[&str] = &[
    "ocean",
    "pollution",
    "region",
    "rust",
    "terminal",
    "stream",
    "token",
    "summary",
    "model",
    "some",
    "verb",
    "海洋",
    "污染",
    "地區",
    "question",
    "answer",
    "latency",
    "budget",
];

fn sentence(seed: &mut u64, words: usize) -> String {
    let mut s = String::new();
    for _ in 0..words {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[(*seed >> 33) as usize % WORDS.len()]);
    }
    s
}

fn small(i: u64) -> Conversation {
    let mut seed = i;
    let mut c = Conversation::new("gpt-bench", Mode::Chat, Memory::Full);
    for turn in 0..3 {
        let mut q = sentence(&mut seed, 12);
        if turn == 1 && i % 100 == 7 {
            q.push_str(" and then some word appears");
        }
        if turn == 2 && i % 50 == 3 {
            q.push_str(" 海洋污染對哪個地區影響最大");
        }
        c.push(Speaker::User, q);
        let r = c.push_reply(&Params::default(), "gpt-bench");
        if let Some(m) = c.get_mut(r) {
            m.choice_mut(0).text = sentence(&mut seed, 60);
            m.status = Status::Complete;
        }
    }
    c
}

fn big() -> Conversation {
    let mut c = Conversation::new("gpt-bench", Mode::Chat, Memory::Full);
    let mut seed = 1;
    let chunk = sentence(&mut seed, 1500);
    while c.messages.len() * chunk.len() < 20 << 20 {
        c.push(Speaker::User, chunk.clone());
        let r = c.push_reply(&Params::default(), "gpt-bench");
        if let Some(m) = c.get_mut(r) {
            m.choice_mut(0).text = chunk.clone();
            m.status = Status::Complete;
        }
    }
    c
}

fn library(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    // STORE_BENCH_LIBRARY=DIR keeps the library there (e.g. to time `chat-tui list
    // --search` on it with hyperfine, XDG_DATA_HOME=... so that DIR is its library).
    let dir = std::env::var_os("STORE_BENCH_LIBRARY").map_or_else(
        || tmp.path().join("conversations"),
        std::path::PathBuf::from,
    );
    let lib = Library::open(dir).expect("library");
    for i in 0..10_000 {
        let conv = small(i);
        // Plain writes for setup speed; saving goes through write_atomic in the app.
        fs::write(lib.path_for(&conv), to_json(&conv)).expect("write");
    }
    assert_eq!(lib.list().expect("list").len(), 10_000);
    let hits = lib.search("some word").expect("search").len();
    assert_eq!(hits, 100);

    let mut g = c.benchmark_group("library_10k");
    g.sample_size(10);
    g.bench_function("list_warm", |b| {
        b.iter(|| black_box(lib.list().expect("list").len()))
    });
    // Search through the index, as `chat-tui list --search` does (the folder is checked
    // for changes first; no snippets).
    for (name, q) in [
        ("search_hit_some_word", "some word"),
        ("search_miss_zebra", "zebra"),
        ("search_cjk_5_chars", "海洋污染對"),
        ("search_cjk_2_chars", "海洋"),
        ("search_common_token", "token"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(lib.search_with(q, false).expect("search").len()))
        });
    }
    // With snippets, as the library API gives them.
    g.bench_function("search_hit_some_word_snippets", |b| {
        b.iter(|| black_box(lib.search("some word").expect("search").len()))
    });
    // The sessions filter: a keystroke's first matches (the index as it is, snippets).
    for (name, q) in [
        ("first_batch_hit_some_word", "some word"),
        ("first_batch_miss_zebra", "zebra"),
        ("first_batch_cjk_2_chars", "海洋"),
        ("first_batch_common_token", "token"),
        ("first_batch_one_char_t", "t"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0;
                lib.search_streamed(q, |batch| {
                    n += batch.len();
                    false
                })
                .expect("search");
                black_box(n)
            })
        });
    }
    // Before the index: every file read (the fallback without an index).
    for (name, q) in [
        ("scan_hit_some_word", "some word"),
        ("scan_miss_zebra", "zebra"),
        ("scan_common_token", "token"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(lib.search_by_reading(q).expect("search").len()))
        });
    }
    // An autosave of one conversation: its grown reply indexed again.
    let mut conv = small(4242);
    let path = lib.path_for(&conv);
    let mut k = 0u64;
    g.bench_function("index_update_after_one_save", |b| {
        b.iter(|| {
            k += 1;
            if let Some(m) = conv.messages.last_mut() {
                m.choice_mut(0).text.push_str(&format!(" more{k}"));
            }
            write_atomic(&path, &to_json(&conv)).expect("write");
            note_saved(&path, &conv);
        })
    });
    let index = lib.dir().join(INDEX_FILE);
    g.bench_function("list_cold_index_build", |b| {
        b.iter(|| {
            remove_index(&index);
            black_box(lib.list().expect("list").len())
        })
    });
    g.finish();
    let size: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| fs::metadata(format!("{}{s}", index.display())).ok())
        .map(|m| m.len())
        .sum();
    let text: u64 = fs::read_dir(lib.dir())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "index on disk: {:.1} MB for {:.1} MB of transcripts",
        size as f64 / 1e6,
        text as f64 / 1e6
    );
}

fn remove_index(index: &std::path::Path) {
    for s in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{s}", index.display()));
    }
}

fn large(c: &mut Criterion) {
    let conv = big();
    let bytes = to_json(&conv);
    eprintln!("large conversation: {} bytes", bytes.len());
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("big.json");
    let mut g = c.benchmark_group("conversation_20mb");
    g.sample_size(10);
    g.bench_function("parse", |b| {
        b.iter(|| black_box(parse(&bytes).expect("parse").messages.len()))
    });
    g.bench_function("to_json_write_atomic", |b| {
        b.iter(|| write_atomic(&path, &to_json(&conv)).expect("write"))
    });
    // An autosave while a reply streams into it: the index updates the grown message only.
    let lib = Library::open(tmp.path().join("lib")).expect("library");
    let mut conv = conv;
    conv.id = "big".into();
    let lpath = lib.path_for(&conv);
    write_atomic(&lpath, &to_json(&conv)).expect("write");
    lib.list().expect("index it");
    let mut k = 0u64;
    g.bench_function("index_update_after_autosave", |b| {
        b.iter(|| {
            k += 1;
            if let Some(m) = conv.messages.last_mut() {
                m.choice_mut(0).text.push_str(&format!(" more{k}"));
            }
            note_saved(&lpath, &conv);
        })
    });
    g.finish();
}

/// 5,000 turns of short messages; every tenth reply gets a second version and every tenth
/// question an edited branch beside it (each with a reply): 10,000 messages on the path,
/// 1,000 off it.
fn branchy() -> Conversation {
    let mut c = Conversation::new("gpt-bench", Mode::Chat, Memory::Full);
    let mut seed = 7;
    for i in 0..5_000 {
        let q = c.push(Speaker::User, sentence(&mut seed, 12));
        let r = c.push_reply(&Params::default(), "gpt-bench");
        if let Some(m) = c.get_mut(r) {
            m.choice_mut(0).text = sentence(&mut seed, 20);
            m.status = Status::Complete;
        }
        if i % 10 == 5 {
            let path = c.path_ids();
            let parent = c.get(q).and_then(|m| m.parent);
            c.open_at(parent);
            c.push(Speaker::User, sentence(&mut seed, 12));
            c.push(Speaker::Assistant, sentence(&mut seed, 20));
            c.open_at(Some(q));
            c.push(Speaker::Assistant, sentence(&mut seed, 20));
            c.open_path(&path);
        }
    }
    c
}

fn branches(c: &mut Criterion) {
    let conv = branchy();
    assert_eq!(conv.messages.len(), 10_000);
    assert_eq!(conv.others.len(), 1_500);
    let bytes = to_json(&conv);
    eprintln!("branchy conversation: {} bytes", bytes.len());
    let mut g = c.benchmark_group("branches_10k");
    g.sample_size(10);
    g.bench_function("parse", |b| {
        b.iter(|| black_box(parse(&bytes).expect("parse").messages.len()))
    });
    // Alt+↑/↓ at a fork halfway down (turn 2,505's question, which has an edited sibling):
    // the new path, then back.
    let fork = conv.messages[5_010].id;
    let other = conv.sibling(fork, 1).expect("a sibling");
    g.bench_function("switch_branch_and_back", |b| {
        let mut c = conv.clone();
        b.iter(|| {
            c.open(other);
            c.open(fork);
            black_box(c.messages.len())
        })
    });
    // Sending: a question and its reply at the end of the path (then removed again).
    g.bench_function("push_question_and_reply", |b| {
        let mut c = conv.clone();
        b.iter(|| {
            let q = c.push(Speaker::User, "one more");
            let r = c.push_reply(&Params::default(), "gpt-bench");
            c.remove_leaf(r);
            c.remove_leaf(q);
            black_box(c.messages.len())
        })
    });
    g.finish();
}

criterion_group!(benches, library, large, branches);
criterion_main!(benches);
