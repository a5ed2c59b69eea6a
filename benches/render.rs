//! Drawing cost of the conversation view on a large transcript.
//!
//! Run: `cargo bench --bench render -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use chat_tui::chat::conversation::{Choice, Message, Speaker, Status};
use chat_tui::ui::conversation::ConversationView;
use chat_tui::ui::markdown;
use chat_tui::ui::theme::Theme;
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;

/// A Markdown reply of about `target` bytes: prose, a list, a table and code blocks.
fn reply(seed: usize, target: usize) -> String {
    let mut s = format!("## Answer {seed}\n\n");
    let mut k = seed;
    while s.len() < target {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        match (k >> 33) % 4 {
            0 => s.push_str(
                "Here is a **detailed** explanation with `inline code`, a [link](https://example.com/docs) \
                 and some *emphasis* that goes on long enough to wrap over several lines of the \
                 terminal, because real replies are wordy and rarely fit on one line.\n\n",
            ),
            1 => s.push_str(
                "- first point about the problem\n- second point, with more words in it\n  \
                 - a nested detail\n- third point\n\n",
            ),
            // Every code block differs, so none comes from the highlight cache.
            2 => s.push_str(&format!(
                "```rust\nfn main() {{\n    let v: Vec<u32> = (0..{k}).map(|x| x * 2).collect();\n    \
                 println!(\"{{v:?}}\");\n    for (i, x) in v.iter().enumerate() {{\n        \
                 if i % 2 == 0 {{ continue; }}\n        eprintln!(\"{{i}}: {{x}}\");\n    }}\n}}\n```\n\n",
                k = k % 100_000
            )),
            _ => s.push_str(
                "| name | value | note |\n|---|--:|:-:|\n| alpha | 1 | first |\n| beta | 22 | second |\n\n> A quoted remark that \
                 someone made earlier in the conversation.\n\n",
            ),
        }
    }
    s
}

fn assistant(id: u64, text: String) -> Message {
    let mut m = Message::new(id, Speaker::Assistant, "");
    m.model = Some("gpt-4o".into());
    m.choices = vec![Choice {
        text,
        finish_reason: None,
        ..Choice::default()
    }];
    m
}

/// 10,000 messages, about 20 MB: short user questions and long Markdown replies.
fn conversation() -> Vec<Message> {
    let mut msgs = Vec::with_capacity(10_000);
    for i in 0..10_000u64 {
        if i % 2 == 0 {
            let q = "How would I do this in Rust, and what are the trade-offs? ".repeat(4);
            msgs.push(Message::new(i + 1, Speaker::User, q));
        } else {
            msgs.push(assistant(i + 1, reply(i as usize, 3_800)));
        }
    }
    msgs
}

fn draw(
    term: &mut Terminal<TestBackend>,
    view: &mut ConversationView,
    msgs: &[Message],
    theme: &Theme,
) {
    term.draw(|f| view.render(msgs, f.area(), f.buffer_mut(), theme, true, None))
        .expect("draw");
}

fn bench(c: &mut Criterion) {
    markdown::warm_up();
    let theme = Theme::default();
    let msgs = conversation();
    let bytes: usize = msgs.iter().map(|m| m.text().len()).sum();
    eprintln!(
        "conversation: {} messages, {:.1} MB",
        msgs.len(),
        bytes as f64 / 1e6
    );
    let mut term = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("terminal");

    c.bench_function("history/first_frame_10k", |b| {
        b.iter(|| {
            markdown::clear_highlight_cache();
            let mut view = ConversationView::new();
            draw(&mut term, &mut view, &msgs, &theme);
            black_box(view.total_lines());
        })
    });

    c.bench_function("history/page_up_frame_10k", |b| {
        let mut view = ConversationView::new();
        draw(&mut term, &mut view, &msgs, &theme);
        let mut pages = 0;
        b.iter(|| {
            // Scroll into parts not drawn yet; start over near the top.
            if pages == 2_000 {
                view.to_bottom();
                pages = 0;
            }
            view.page_up();
            pages += 1;
            draw(&mut term, &mut view, &msgs, &theme);
            black_box(view.renders_last_frame());
        });
    });

    c.bench_function("history/growing_last_frame_10k", |b| {
        let mut msgs = msgs.clone();
        let mut view = ConversationView::new();
        let last = msgs.len() - 1;
        msgs[last].status = Status::Partial;
        let base = msgs[last].text().len();
        draw(&mut term, &mut view, &msgs, &theme);
        b.iter(|| {
            let m = &mut msgs[last];
            let c = m.choice_mut(0);
            if c.text.len() > base + 10_000 {
                c.text.truncate(base);
            }
            c.text.push_str("word ");
            draw(&mut term, &mut view, &msgs, &theme);
        })
    });

    // Numbering code blocks: what the first frame of a conversation adds to count every
    // message's blocks (each message is parsed once; later frames reuse the counts).
    c.bench_function("code/count_blocks_10k", |b| {
        b.iter(|| black_box(chat_tui::chat::code::total(black_box(&msgs))))
    });

    let text = reply(7, 10_000);
    eprintln!("reply: {} bytes", text.len());
    c.bench_function("markdown/render_10k_reply_cold", |b| {
        b.iter(|| {
            markdown::clear_highlight_cache();
            black_box(markdown::render(black_box(&text), 100, &theme))
        })
    });
    c.bench_function("markdown/render_10k_reply_cached_code", |b| {
        b.iter(|| black_box(markdown::render(black_box(&text), 100, &theme)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
