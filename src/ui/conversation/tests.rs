use chrono::{TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use unicode_width::UnicodeWidthStr;

use super::cache::KEEP_NEAR;
use super::*;
use crate::chat::conversation::{Choice, Speaker, Status};

/// The buffer as text, one row per line, trailing spaces trimmed; the cell hidden
/// behind a wide character is skipped.
pub(crate) fn buffer_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut row = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(buf.area.x + x, buf.area.y + y)].symbol();
            skip = sym.width().saturating_sub(1);
            row.push_str(sym);
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

fn at(id: MessageId, speaker: Speaker, text: &str) -> Message {
    let mut m = Message::new(id, speaker, "");
    m.created = Utc.with_ymd_and_hms(2025, 1, 2, 14, 5, 0).unwrap();
    if speaker == Speaker::Assistant {
        m.model = Some("gpt-4o".into());
        m.choices = vec![Choice {
            text: text.into(),
            finish_reason: None,
            ..Choice::default()
        }];
    } else {
        m.content = text.into();
    }
    m
}

fn view() -> ConversationView {
    let mut v = ConversationView::new();
    v.set_utc_offset(FixedOffset::east_opt(0).unwrap());
    v
}

fn draw(v: &mut ConversationView, msgs: &[Message], w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        v.render(
            msgs,
            f.area(),
            f.buffer_mut(),
            &Theme::default(),
            true,
            None,
        )
    })
    .unwrap();
    buffer_text(term.backend().buffer())
}

/// Everything: as many rows as the messages need.
fn draw_all(msgs: &[Message], w: u16) -> String {
    let mut v = view();
    draw(&mut v, msgs, w, 200);
    let h = v.total_lines() as u16;
    draw(&mut view(), msgs, w, h)
}

const REPLY: &str = "# Plan\n\nHere is **what** to do, see [the docs](https://docs.rs/ratatui):\n\n\
    1. Read the *config*\n2. Parse it\n   - with `serde`\n   - ~~by hand~~\n\n\
    > Note: keep it simple.\n\n\
    | Step | Time |\n|------|-----:|\n| read | 1 ms |\n| parse | 12 ms |\n\n\
    ```rust\nfn main() {\n    let config = std::fs::read_to_string(\"config.toml\").expect(\"config\");\n}\n```\n";

#[test]
fn snapshot_markdown_reply_80() {
    let msgs = [
        at(1, Speaker::User, "How do I load a config?"),
        at(2, Speaker::Assistant, REPLY),
    ];
    insta::assert_snapshot!(draw_all(&msgs, 81));
}

#[test]
fn snapshot_markdown_reply_40() {
    let msgs = [
        at(1, Speaker::User, "How do I load a config?"),
        at(2, Speaker::Assistant, REPLY),
    ];
    insta::assert_snapshot!(draw_all(&msgs, 41));
}

#[test]
fn snapshot_cjk_paragraph_20() {
    let msgs = [at(
        1,
        Speaker::Assistant,
        "海洋污染對哪個地區影響最大？太平洋垃圾帶 (Great Pacific Garbage Patch) 是最著名的例子。",
    )];
    insta::assert_snapshot!(draw_all(&msgs, 21));
}

#[test]
fn snapshot_cancelled_partial_reply() {
    let mut m = at(1, Speaker::Assistant, "The answer is forty");
    m.status = Status::Cancelled;
    let mut p = at(2, Speaker::Assistant, "Still typi");
    p.status = Status::Partial;
    insta::assert_snapshot!(draw_all(&[m, p], 50));
}

#[test]
fn snapshot_failed_and_incomplete_replies() {
    let mut m = at(1, Speaker::Assistant, "Partial text before the error");
    m.status = Status::Failed {
        error: "HTTP 429: rate limited\nretry later".into(),
    };
    let mut i = at(2, Speaker::Assistant, "Cut off mid");
    i.status = Status::Incomplete;
    insta::assert_snapshot!(draw_all(&[m, i], 50));
}

#[test]
fn snapshot_three_choices() {
    let mut m = at(1, Speaker::Assistant, "");
    m.choices = ["First option.", "Second option.", "Third option."]
        .map(|t| Choice {
            text: t.into(),
            finish_reason: None,
            ..Choice::default()
        })
        .to_vec();
    m.selected = 1;
    let out = draw_all(&[m], 50);
    assert!(out.contains("choice 2/3") && out.contains("Second option."));
    insta::assert_snapshot!(out);
}

#[test]
fn snapshot_summary_and_system() {
    let mut s = at(
        3,
        Speaker::Summary,
        "The user asked about **configs**; we chose TOML.",
    );
    s.summary_of = vec![1, 2];
    let sys = at(4, Speaker::System, "You are terse.");
    insta::assert_snapshot!(draw_all(&[sys, s], 50));
}

#[test]
fn snapshot_escape_sequences_are_visible() {
    let u = at(
        1,
        Speaker::User,
        "before\x1b[2J\x1b]0;pwned\x07after\rover\u{202e}txt",
    );
    let a = at(
        2,
        Speaker::Assistant,
        "ok \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \u{9b}1m",
    );
    let out = draw_all(&[u, a], 50);
    assert!(!out.contains('\x1b'));
    insta::assert_snapshot!(out);
}

fn numbered(n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| at(i as u64 + 1, Speaker::User, &format!("m{i}")))
        .collect()
}

/// Rows without the scrollbar column.
fn rows(s: &str) -> Vec<&str> {
    s.lines()
        .map(|l| l.trim_end_matches(['│', '█']).trim_end())
        .collect()
}

#[test]
fn follows_the_bottom_while_the_last_message_grows() {
    let mut msgs = numbered(20);
    msgs.push(at(100, Speaker::Assistant, "start"));
    let mut v = view();
    let out = draw(&mut v, &msgs, 30, 10);
    assert!(v.is_following());
    assert_eq!(rows(&out)[8], "start");
    let last = msgs.last_mut().unwrap();
    last.choice_mut(0).text.push_str("\n\nmore text");
    let out = draw(&mut v, &msgs, 30, 10);
    assert!(v.is_following());
    assert_eq!(rows(&out)[8], "more text");
    // 20 user messages of 3 lines, the reply: header, start, blank, more text, blank.
    assert_eq!(v.total_lines(), 20 * 3 + 5);
}

#[test]
fn scrolled_up_stays_put_while_text_streams_in() {
    let mut msgs = numbered(20);
    msgs.push(at(100, Speaker::Assistant, "start"));
    let mut v = view();
    draw(&mut v, &msgs, 30, 10);
    v.scroll_up(4);
    let before = draw(&mut v, &msgs, 30, 10);
    assert!(!v.is_following());
    for k in 0..5 {
        msgs.last_mut()
            .unwrap()
            .choice_mut(0)
            .text
            .push_str(&format!("\n\nline {k}"));
        let out = draw(&mut v, &msgs, 30, 10);
        assert_eq!(rows(&out)[..9], rows(&before)[..9], "frame {k}");
        assert!(rows(&out)[9].contains("new lines"), "{out}");
    }
    assert!(!v.is_following());
    v.to_bottom();
    let out = draw(&mut v, &msgs, 30, 10);
    assert!(v.is_following());
    assert_eq!(rows(&out)[8], "line 4");
    assert!(!out.contains("new line"));
}

#[test]
fn paging_top_and_bottom() {
    let msgs = numbered(30); // 90 lines
    let mut v = view();
    let bottom = draw(&mut v, &msgs, 20, 9);
    assert_eq!(rows(&bottom)[0], "You · 14:05");
    assert_eq!(rows(&bottom)[7], "m29");
    v.page_up();
    let out = draw(&mut v, &msgs, 20, 9);
    assert_eq!(rows(&out)[1], "m24");
    v.page_up();
    let out = draw(&mut v, &msgs, 20, 9);
    assert_eq!(rows(&out)[1], "m21");
    v.page_down();
    let out = draw(&mut v, &msgs, 20, 9);
    assert_eq!(rows(&out)[1], "m24");
    assert!(!v.is_following());
    v.page_down();
    let out = draw(&mut v, &msgs, 20, 9);
    assert_eq!(out, bottom);
    assert!(v.is_following(), "paging down to the end follows again");
    v.to_top();
    let out = draw(&mut v, &msgs, 20, 9);
    assert_eq!(rows(&out)[1], "m0");
    v.scroll_up(5);
    let out = draw(&mut v, &msgs, 20, 9);
    assert_eq!(rows(&out)[1], "m0", "cannot scroll above the top");
    v.scroll_down(1);
    let out = draw(&mut v, &msgs, 20, 9);
    assert_eq!(rows(&out)[0], "m0");
    v.scroll_down(10_000);
    assert_eq!(draw(&mut v, &msgs, 20, 9), bottom);
    assert!(v.is_following());
    v.to_top();
    draw(&mut v, &msgs, 20, 9);
    v.to_bottom();
    assert_eq!(draw(&mut v, &msgs, 20, 9), bottom);
}

#[test]
fn short_conversations_always_follow() {
    let msgs = numbered(2);
    let mut v = view();
    draw(&mut v, &msgs, 20, 10);
    v.scroll_up(3);
    let out = draw(&mut v, &msgs, 20, 10);
    assert!(v.is_following());
    assert_eq!(rows(&out)[1], "m0");
    assert!(!out.contains('█'), "no scrollbar when everything fits");
}

#[test]
fn resizing_rewraps_and_keeps_the_bottom_exact() {
    let long = "word ".repeat(40);
    let mut msgs: Vec<Message> = (0..50).map(|i| at(i + 1, Speaker::User, &long)).collect();
    msgs.push(at(99, Speaker::User, "the end"));
    let mut v = view();
    for w in [80u16, 30, 51, 80] {
        let out = draw(&mut v, &msgs, w, 12);
        assert!(v.is_following());
        assert_eq!(rows(&out)[10], "the end", "width {w}");
        for r in rows(&out) {
            assert!(r.width() <= w as usize);
        }
    }
    // Scrolled up, a resize keeps the view on the same message.
    v.to_top();
    draw(&mut v, &msgs, 80, 12);
    v.scroll_down(30);
    let out = draw(&mut v, &msgs, 80, 12);
    let top_msg = v.top.0;
    let out2 = draw(&mut v, &msgs, 40, 12);
    assert_eq!(v.top.0, top_msg, "{out}\n{out2}");
    assert!(!v.is_following());
}

#[test]
fn only_visible_and_changed_messages_are_rendered() {
    let mut msgs: Vec<Message> = (0..10_000)
        .map(|i| {
            if i % 2 == 0 {
                at(i + 1, Speaker::User, "a question that is not very long")
            } else {
                at(
                    i + 1,
                    Speaker::Assistant,
                    "An **answer** with\n\n- a list\n- of things",
                )
            }
        })
        .collect();
    let mut v = view();
    draw(&mut v, &msgs, 80, 24);
    let first = v.renders_last_frame();
    assert!((1..=10).contains(&first), "first frame rendered {first}");
    draw(&mut v, &msgs, 80, 24);
    assert_eq!(v.renders_last_frame(), 0);
    let last = msgs.last_mut().unwrap();
    last.choice_mut(0).text.push_str(" more");
    draw(&mut v, &msgs, 80, 24);
    assert_eq!(v.renders_last_frame(), 1);
    v.page_up();
    draw(&mut v, &msgs, 80, 24);
    assert!(v.renders_last_frame() <= 10, "{}", v.renders_last_frame());
    v.to_top();
    draw(&mut v, &msgs, 80, 24);
    assert!(v.renders_last_frame() <= 10);
    // A resize re-renders only what is visible.
    draw(&mut v, &msgs, 60, 24);
    assert!(v.renders_last_frame() <= 10);
}

#[test]
fn inserted_summaries_and_replaced_conversations() {
    let mut msgs = numbered(10);
    let mut v = view();
    draw(&mut v, &msgs, 30, 6);
    let mut s = at(50, Speaker::Summary, "sum");
    s.summary_of = vec![1, 2];
    msgs.insert(2, s);
    draw(&mut v, &msgs, 30, 6);
    v.to_top();
    let out = draw(&mut v, &msgs, 30, 6);
    assert_eq!(rows(&out)[4], "m1");
    v.scroll_down(6);
    let out = draw(&mut v, &msgs, 30, 6);
    assert_eq!(rows(&out)[0], "Summary of 2 messages · 14:05");
    // Only the new one was rendered.
    assert!(v.renders_last_frame() <= 3);
    // A different conversation: starts at its bottom.
    let other: Vec<Message> = (0..5).map(|i| at(1000 + i, Speaker::User, "x")).collect();
    draw(&mut v, &other, 30, 6);
    assert!(v.is_following());
    assert_eq!(v.total_lines(), 15);
    // Another one whose ids and versions are the same (ids restart at 1 per
    // conversation): told apart by creation time.
    let mut third = other.clone();
    for m in &mut third {
        m.created += chrono::Duration::seconds(60);
        m.content = "y".into();
    }
    let out = draw(&mut v, &third, 30, 6);
    assert_eq!(rows(&out)[1], "y");
    assert_eq!(rows(&out)[0], "You · 14:06");
    draw(&mut v, &[], 30, 6);
    assert_eq!(v.total_lines(), 0);
}

#[test]
fn cached_lines_are_bounded_and_evicted_messages_redraw_the_same() {
    let msgs: Vec<Message> = (0..400)
        .map(|i| at(i + 1, Speaker::User, &format!("message {i}\nsecond line")))
        .collect();
    let mut v = view();
    v.set_cache_limit(300);
    let bottom = draw(&mut v, &msgs, 30, 10);
    v.to_top();
    let top = draw(&mut v, &msgs, 30, 10);
    // Never-drawn messages have estimated heights (3 lines here, really 4).
    assert!(v.total_lines() < 400 * 4);
    let total = 400 * 4;
    // Scroll through everything, a page at a time.
    for _ in 0..(total / 10 + 2) {
        v.page_down();
        draw(&mut v, &msgs, 30, 10);
        assert!(
            v.cached_lines() <= 300 + 4 * 2 * KEEP_NEAR,
            "{}",
            v.cached_lines()
        );
    }
    assert!(v.is_following());
    assert_eq!(draw(&mut v, &msgs, 30, 10), bottom);
    assert_eq!(v.total_lines(), total, "heights stay exact after eviction");
    v.to_top();
    assert_eq!(draw(&mut v, &msgs, 30, 10), top);
}

// ---------------------------------------------------------------------------
// Code block numbers, the row map and copying text off the screen.

/// The label numbers drawn, top to bottom.
fn labels(screen: &str) -> Vec<usize> {
    screen
        .lines()
        .filter_map(|l| {
            let l = l.trim_start_matches(['▎', ' ']);
            let rest = l.strip_prefix('[')?;
            rest.split(']').next()?.parse().ok()
        })
        .collect()
}

#[test]
fn code_blocks_are_numbered_across_the_conversation() {
    let msgs = vec![
        at(1, Speaker::User, "```\nquestions are not numbered\n```"),
        at(2, Speaker::Assistant, "```rust\na\n```\n\n```\nb\n```"),
        at(3, Speaker::User, "more"),
        at(4, Speaker::Assistant, "text\n\n```py\nc\n```"),
    ];
    let screen = draw_all(&msgs, 40);
    assert_eq!(labels(&screen), [1, 2, 3], "{screen}");
    assert!(screen.contains("▎ [1] rust"), "{screen}");
    assert!(screen.contains("▎ [3] py"), "{screen}");
}

#[test]
fn numbers_stay_put_while_a_reply_streams_and_follow_a_changed_reply_above() {
    let mut msgs = vec![
        at(1, Speaker::Assistant, "```\na\n```"),
        at(2, Speaker::User, "q"),
        at(3, Speaker::Assistant, "one\n\n```\nb"),
    ];
    msgs[2].status = Status::Partial;
    let mut v = view();
    let screen = draw(&mut v, &msgs, 40, 40);
    assert_eq!(labels(&screen), [1, 2], "{screen}");
    // More text streams in: a third block, the first two keep their numbers.
    for (k, piece) in ["\nmore b\n```\n\n", "text\n\n```\nc\n", "```\n"]
        .iter()
        .enumerate()
    {
        msgs[2].choice_mut(0).text.push_str(piece);
        let screen = draw(&mut v, &msgs, 40, 40);
        let want: &[usize] = if k == 0 { &[1, 2] } else { &[1, 2, 3] };
        assert_eq!(labels(&screen), want, "{screen}");
        // Only the streaming reply is laid out again: numbering costs the others nothing.
        assert_eq!(v.renders_last_frame(), 1);
    }
    // The first reply gains a block: everything below is numbered after it (and drawn again).
    msgs[0].choice_mut(0).text.push_str("\n\n```\nz\n```");
    let screen = draw(&mut v, &msgs, 40, 40);
    assert_eq!(labels(&screen), [1, 2, 3, 4], "{screen}");
    assert_eq!(
        v.renders_last_frame(),
        2,
        "the changed reply and the one numbered after it"
    );
    assert_eq!(
        crate::chat::code::find(&msgs, 4).map(|(_, b)| b.body),
        Some("c".to_string())
    );
}

#[test]
fn the_row_map_says_which_line_of_which_message_each_row_shows() {
    let msgs = vec![
        at(1, Speaker::User, "hello"),
        at(2, Speaker::Assistant, "world"),
    ];
    let mut v = view();
    draw(&mut v, &msgs, 30, 10);
    let rows: Vec<(MessageId, usize)> = v.rows().iter().map(|r| (r.message, r.line)).collect();
    // Header, body, separator for each.
    assert_eq!(rows, [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]);
    assert_eq!(v.text_area(), Rect::new(0, 0, 29, 10));
    assert_eq!(
        v.hit(2, 1),
        Some(LinePos {
            message: 1,
            line: 1,
            col: 2
        })
    );
    // The scrollbar column is not text.
    assert_eq!(v.hit(29, 1), None);
    // Below the last line: the end of it.
    assert_eq!(v.hit(0, 8).map(|p| (p.message, p.line)), Some((2, 2)));
    v.begin_frame();
    assert_eq!(v.hit(2, 1), None);
}

fn pos(message: MessageId, line: usize, col: u16) -> LinePos {
    LinePos { message, line, col }
}

#[test]
fn copied_text_joins_wrapped_lines_and_keeps_hard_breaks() {
    let msgs = vec![at(
        1,
        Speaker::Assistant,
        "The quick brown fox jumps over the lazy dog.\n\n> quoted words that wrap around\n\n```\nlet x = 1;\n```",
    )];
    let mut v = view();
    let screen = draw(&mut v, &msgs, 31, 30);
    // Lines of the message: 0 header; 1.. the paragraph wrapped at 30 cells.
    assert_eq!(
        rows(&screen)[1..3],
        ["The quick brown fox jumps over", "the lazy dog."],
        "{screen}"
    );
    assert!(
        screen.contains("│ quoted words that wrap\n│ around"),
        "{screen}"
    );
    // From "fox" to "lazy": across one wrap, the space it took put back.
    let t = v.text_between(&msgs, pos(1, 1, 16), pos(1, 2, 7));
    assert_eq!(t, "fox jumps over the lazy");
    // Either order.
    assert_eq!(v.text_between(&msgs, pos(1, 2, 7), pos(1, 1, 16)), t);
    // The whole body: quote bars, the code label and gutter are drawing, not text.
    let all = v.text_between(&msgs, pos(1, 1, 0), pos(1, 100, u16::MAX));
    assert_eq!(
        all,
        "The quick brown fox jumps over the lazy dog.\n\nquoted words that wrap around\n\nlet x = 1;\n"
    );
}

#[test]
fn a_double_click_word_spans_a_wrapped_break_and_skips_punctuation_spaces() {
    let url = "https://example.com/a/very/long/path/that/wraps";
    let msgs = vec![at(1, Speaker::User, &format!("see {url} now"))];
    let mut v = view();
    draw(&mut v, &msgs, 21, 30);
    let (a, b) = v.word_at(&msgs, pos(1, 2, 3)).expect("a word");
    assert_eq!(v.text_between(&msgs, a, b), url);
    let (a, b) = v.word_at(&msgs, pos(1, 1, 1)).expect("a word");
    assert_eq!(v.text_between(&msgs, a, b), "see");
    assert_eq!(v.word_at(&msgs, pos(1, 1, 3)), None, "a space is no word");
}

#[test]
fn a_message_body_leaves_out_the_header_and_the_separator() {
    let msgs = vec![at(1, Speaker::User, "line one\nline two")];
    let mut v = view();
    draw(&mut v, &msgs, 30, 10);
    let (a, b) = v.message_body(&msgs, 1).unwrap();
    assert_eq!((a.line, b.line), (1, 2));
    assert_eq!(v.text_between(&msgs, a, b), "line one\nline two");
}

#[test]
fn the_selection_is_drawn_over_text_cells_only() {
    let msgs = vec![at(
        1,
        Speaker::Assistant,
        "> one two three four five six seven eight nine",
    )];
    let mut v = view();
    v.set_text_selection(Some((pos(1, 1, 0), pos(1, 2, u16::MAX))));
    let mut term = Terminal::new(TestBackend::new(30, 8)).unwrap();
    let theme = Theme::default();
    term.draw(|f| v.render(&msgs, f.area(), f.buffer_mut(), &theme, true, None))
        .unwrap();
    let buf = term.backend().buffer();
    let text = buffer_text(buf);
    assert_eq!(
        rows(&text)[1..3],
        ["│ one two three four five six", "│ seven eight nine"],
        "{text}"
    );
    let selected = |x: u16, y: u16| buf[(x, y)].bg == theme.selected_text.bg.unwrap();
    // The quote bar and the cells past the text stay as they were; the scrollbar column too.
    assert!(!selected(0, 1) && !selected(1, 1) && !selected(0, 2));
    assert!((2..29).all(|x| selected(x, 1)), "{text}");
    assert!((2..18).all(|x| selected(x, 2)));
    assert!((18..30).all(|x| !selected(x, 2)) && !selected(29, 1));
    assert!(
        (0..30).all(|x| !selected(x, 0)),
        "the header is not selected"
    );
}

// ---------------------------------------------------------------------------
// A long conversation laid out lazily shows exactly what a full eager layout shows.

/// A long conversation like the shared benchmark's: questions, and replies with headings,
/// lists, quotes, tables, CJK, code blocks (numbered across the conversation) and lines
/// long enough to wrap; the replies' lengths vary so estimated heights are wrong.
fn long_chat(pairs: usize) -> Vec<Message> {
    let mut msgs = Vec::new();
    for i in 0..pairs {
        let id = 2 * i as u64 + 1;
        msgs.push(at(
            id,
            Speaker::User,
            &format!("msg-{i:04} question: explain item {i}"),
        ));
        let mut reply = format!("msg-{i:04} answer\n\n## Section {i}\n\n");
        for k in 0..(i % 5 + 1) {
            reply.push_str(&format!(
                "Paragraph {k} of reply {i}, with **bold**, `code_{i}()` and a long line that \
                 wraps at the pane's width 海洋污染對哪個地區影響最大 and goes on.\n\n"
            ));
        }
        if i % 3 == 0 {
            reply.push_str(&format!(
                "```rust\nfn f_{i}() -> u64 {{\n    {i}\n}}\n```\n\n"
            ));
        }
        if i % 4 == 1 {
            reply.push_str(
                "- one\n- two\n  - nested\n\n> quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n",
            );
        }
        if i % 7 == 2 {
            reply.push_str("```\nplain block\n```\n");
        }
        msgs.push(at(id + 1, Speaker::Assistant, &reply));
    }
    msgs
}

/// Draw, and return the rows of the text columns only (the last column, the scrollbar's,
/// left out), trailing spaces trimmed.
fn draw_text(v: &mut ConversationView, msgs: &[Message], w: u16, h: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| {
        v.render(
            msgs,
            f.area(),
            f.buffer_mut(),
            &Theme::default(),
            true,
            None,
        )
    })
    .unwrap();
    let buf = term.backend().buffer();
    (0..h)
        .map(|y| {
            let mut row = String::new();
            let mut skip = 0;
            for x in 0..w - 1 {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let sym = buf[(x, y)].symbol();
                skip = sym.width().saturating_sub(1);
                row.push_str(sym);
            }
            row.trim_end().to_string()
        })
        .collect()
}

/// Where `shown` sits in the full layout `all`: the first line of the window of `all` it
/// equals, if any.
fn window_in(all: &[String], shown: &[String]) -> Option<usize> {
    (0..=all.len().saturating_sub(shown.len())).find(|&s| all[s..s + shown.len()] == *shown)
}

#[test]
fn a_long_conversation_laid_out_lazily_shows_what_the_full_layout_shows() {
    let msgs = long_chat(150);
    let (w, h) = (60u16, 20u16);
    // Every message laid out, at once, in one frame as tall as all of them (the width is
    // the same: one column is kept for the scrollbar either way).
    let mut tall = 200u16;
    let all = loop {
        let mut v = view();
        let out = draw_text(&mut v, &msgs, w, tall);
        if v.total_lines() == tall as usize {
            break out;
        }
        tall = v.total_lines() as u16;
    };
    let mut v = view();
    // Opened at its end: the last page, exactly, while almost nothing above was laid out.
    let end = draw_text(&mut v, &msgs, w, h);
    assert_eq!(
        window_in(&all, &end),
        Some(all.len() - h as usize),
        "{}",
        end.join("\n")
    );
    assert!(v.renders_last_frame() < 10, "{}", v.renders_last_frame());
    // Page up to the top: every screen a window of the full layout, each higher up.
    let mut at_line = all.len() - h as usize;
    let mut pages = 0;
    while at_line > 0 {
        v.page_up();
        let screen = draw_text(&mut v, &msgs, w, h);
        let now = window_in(&all, &screen).unwrap_or_else(|| {
            panic!(
                "page {pages}: not in the full layout:\n{}",
                screen.join("\n")
            )
        });
        assert!(now < at_line, "page {pages}: {now} after {at_line}");
        // A page up moves by a page exactly (or to the top): no line is skipped.
        assert_eq!(now, at_line.saturating_sub(h as usize), "page {pages}");
        at_line = now;
        pages += 1;
        assert!(pages < all.len(), "never reached the top");
    }
    // And down again to the end: the same windows, then the end as first drawn.
    while !v.is_following() {
        v.page_down();
        let screen = draw_text(&mut v, &msgs, w, h);
        assert!(window_in(&all, &screen).is_some(), "{}", screen.join("\n"));
    }
    assert_eq!(draw_text(&mut v, &msgs, w, h), end);
    // Heights are exact once laid out: the scrollbar's total is the full layout's.
    assert_eq!(v.total_lines(), all.len());
    // Jumps: to the top, to a message in the middle, to the end.
    let mut v = view();
    draw(&mut v, &msgs, w, h);
    v.to_top();
    assert_eq!(window_in(&all, &draw_text(&mut v, &msgs, w, h)), Some(0));
    let mut v = view();
    draw(&mut v, &msgs, w, h);
    v.reveal(msgs[151].id);
    let screen = draw_text(&mut v, &msgs, w, h);
    let first = all
        .iter()
        .position(|l| l.contains("msg-0075 answer"))
        .expect("in the layout");
    // The message's start is at the top of the screen (its header just above the line).
    let top = window_in(&all, &screen).expect("a window of the full layout");
    assert!(top <= first && first < top + 3, "{top} {first}");
    v.to_bottom();
    assert_eq!(draw_text(&mut v, &msgs, w, h), end);
    // Code blocks keep their conversation-wide numbers on every screen.
    // (every third reply has a Rust block: 50; every seventh from the third a plain one: 22)
    assert_eq!(labels(&all.join("\n")), (1..=72).collect::<Vec<_>>());
}

/// What idle moments lay out (`prefetch`): the messages of the pages around the view, one
/// at a time, until there are none — then a PageUp lays out nothing, and every page shows
/// exactly what a view that did not prefetch shows.
#[test]
fn prefetched_pages_leave_nothing_to_lay_out_and_the_same_screen() {
    let msgs: Vec<Message> = (0..300)
        .map(|i| {
            if i % 2 == 0 {
                at(i + 1, Speaker::User, "a question that is not very long")
            } else {
                at(
                    i + 1,
                    Speaker::Assistant,
                    "An **answer** with\n\n- a list\n- of things\n\n```rust\nfn f() {}\n```",
                )
            }
        })
        .collect();
    let theme = Theme::default();
    let (mut v, mut plain) = (view(), view());
    draw(&mut v, &msgs, 80, 24);
    draw(&mut plain, &msgs, 80, 24);
    // Not with another theme than the last frame's (its lines would be stale).
    assert!(!v.prefetch(&msgs, &Theme::light(), 2));
    let mut laid_out = 0;
    while v.prefetch(&msgs, &theme, 2) {
        laid_out += 1;
        assert!(laid_out < 300, "prefetch does not end");
    }
    assert!(laid_out > 3, "laid out {laid_out}");
    for page in 0..6 {
        v.page_up();
        plain.page_up();
        let (a, b) = (draw(&mut v, &msgs, 80, 24), draw(&mut plain, &msgs, 80, 24));
        assert_eq!(a, b, "page {page}");
        assert_eq!(v.renders_last_frame(), 0, "page {page}: messages laid out");
        while v.prefetch(&msgs, &theme, 2) {}
    }
    assert!(plain.renders_last_frame() > 0);
}
