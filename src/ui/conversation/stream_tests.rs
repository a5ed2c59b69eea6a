use super::message::message_lines;
use super::stream::{stable_split, streaming_lines};
use super::*;
use crate::chat::conversation::{Choice, Speaker, Status};
use crate::test_rng::Rng;
use chrono::FixedOffset;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Blocks of the kinds a reply is made of, including the ones that may join the block
/// before them (loose lists, lazy lines, quotes, tables) or reach back across blocks (a
/// link reference definition, raw HTML), and fences holding blank lines and other fences.
const BLOCKS: &[&str] = &[
    "# Title {i}",
    "## Section {i}: streaming benchmark",
    "This is paragraph {i}. It mixes **bold text**, *italic text*, `inline_code_{i}()` and a [link](http://example.invalid/doc/{i}) so that renderers have work to do; the quick brown fox jumps over the lazy dog while the renderer keeps wrapping long lines.",
    "A short line {i}\nwith a soft break and a lazy\ncontinuation.",
    "- first bullet item {i} with `some_code`\n- second bullet with a **strong** word and more words to wrap around the screen edge\n- third\n  - nested item {i}",
    "1. numbered step one\n2. numbered step two with `value = {i}`",
    "3. a loose item",
    "- a loose bullet",
    "> A quoted line number {i}.\n>\n> more quote",
    "```rust\nfn compute_{i}(values: &[u64]) -> u64 {\n    let mut total = 0;\n\n    for v in values.iter() {\n        total += v * {i};\n    }\n    total\n}\n```",
    "```python\ndef handler_{i}(request):\n\n    data = request.get(\"payload\", {})\n    return {\"n\": {i}}\n```",
    "~~~\n```\nnot a close\n\nstill code {i}\n~~~",
    "````md\n```\ninner\n```\n\nstill outer {i}\n````",
    "| column a | column b | column c |\n|----------|----------|----------|\n| {i} | alpha | beta |",
    "a | b\n--|--\n1 | 2",
    "    indented code {i}\n\n    more indented",
    "Setext heading {i}\n===",
    "---",
    "你好 世界 {i}, 🦀 and δέλτα, wide and narrow.",
    "Text with [a ref][r{i}] and a [b][] link.",
    "[r{i}]: http://example.invalid/ref",
    "<details>\n<summary>raw html {i}</summary>\n\nhidden\n\n</details>",
    "- [ ] a task {i}\n- [x] done",
    "Term {i}\n: definition-like line",
];

/// A reply of `n` random blocks, separated by one or two blank lines (some without the
/// final newline, some with trailing spaces).
fn random_reply(rng: &mut Rng, n: usize, hazards: bool) -> String {
    let mut s = String::new();
    for i in 0..n {
        let mut b = BLOCKS[rng.below(BLOCKS.len())];
        while !hazards && (b.starts_with('[') || b.starts_with('<')) {
            b = BLOCKS[rng.below(BLOCKS.len())];
        }
        s.push_str(&b.replace("{i}", &i.to_string()));
        s.push_str(["\n\n", "\n\n\n", "\n\n", "  \n\n"][rng.below(4)]);
    }
    s
}

/// Cut `text` into tokens as a server does: 1–6 characters, sometimes a whole line.
fn tokens(rng: &mut Rng, text: &str) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let mut j = i;
        for _ in 0..1 + rng.below(6) {
            if let Some(c) = text[j..].chars().next() {
                j += c.len_utf8();
            }
        }
        if rng.below(10) == 0 {
            j = text[i..].find('\n').map_or(text.len(), |k| i + k + 1);
        }
        cuts.push(j);
        i = j;
    }
    cuts
}

fn reply(text: &str) -> Message {
    let mut m = Message::new(1, Speaker::Assistant, "");
    m.status = Status::Partial;
    m.choices = vec![Choice {
        text: text.into(),
        ..Choice::default()
    }];
    m
}

/// Growing a reply token by token gives, at every step, exactly the lines a full
/// rendering of the same text gives — the lines handed back each time as the view does.
/// Returns how much of the text was kept laid out at the end.
fn check_growth(text: &str, cuts: &[usize], widths: &[u16]) -> usize {
    let mut kept = 0;
    let theme = Theme::default();
    let offset = FixedOffset::east_opt(0).unwrap();
    for &width in widths {
        let mut cache = None;
        let mut m = reply("");
        for &cut in cuts {
            m.choices[0].text = text[..cut].to_string();
            // Numbered after 3 blocks above: the labels match too.
            let inc = streaming_lines(&m, width, &theme, offset, &mut cache, 3);
            let full = message_lines(&m, width, &theme, offset, 3);
            assert_eq!(inc, full, "width {width}, after {:?}", &text[..cut]);
            if let Some(c) = cache.as_mut() {
                c.recycle(inc.lines, inc.meta);
            }
        }
        kept = cache.as_ref().map_or(0, |c| c.finished());
    }
    kept
}

#[test]
fn incremental_streaming_render_equals_full_render() {
    let text = "# Title\n\nFirst paragraph with **bold** text and `code`.\n\n- item one\n- item two\n\n1. first\n\n2. loose second\n\n```rust\nfn main() {\n\n    println!(\"hi\");\n}\n```\n\n> quote\n>\n> more quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nLast paragraph 你好 世界 that keeps going and going.";
    let cuts: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
    check_growth(text, &cuts, &[17, 40, 80]);
    assert!(stable_split(text) > 0);
}

/// Random replies made of every kind of block, streamed in random tokens.
#[test]
fn random_streams_render_exactly_like_full_renders() {
    let mut rng = Rng(14);
    for round in 0..24 {
        let n = 4 + rng.below(10);
        let text = random_reply(&mut rng, n, round % 4 == 0);
        let cuts = tokens(&mut rng, &text);
        check_growth(&text, &cuts, &[23, 76]);
    }
}

/// The shared benchmark's reply (its sections, in order), streamed word by word.
#[test]
fn the_benchmark_reply_streams_exactly() {
    let section = BLOCKS[1..3].join("\n\n")
        + "\n\n"
        + &BLOCKS[4..6].join("\n\n")
        + "\n\n"
        + BLOCKS[8]
        + "\n\n"
        + BLOCKS[9]
        + "\n\n"
        + BLOCKS[13]
        + "\n\n"
        + BLOCKS[10]
        + "\n\n";
    let text: String = (0..6)
        .map(|i| section.replace("{i}", &i.to_string()))
        .collect();
    let mut cuts: Vec<usize> = text
        .match_indices([' ', '\n'])
        .map(|(i, _)| i + 1)
        .collect();
    cuts.push(text.len());
    // Only the last section's tail is laid out again per token.
    let kept = check_growth(&text, &cuts, &[100]);
    assert!(
        kept > text.len() - section.len(),
        "{kept} of {}",
        text.len()
    );
}

/// The whole view: after every token, the streamed view's buffer (the rows it kept, the
/// finished blocks it kept) equals a fresh view's drawing of the same messages.
#[test]
fn streamed_view_equals_a_fresh_view_after_every_token() {
    let mut rng = Rng(3);
    let (w, h) = (70u16, 24u16);
    let theme = Theme::default();
    let draw = |v: &mut ConversationView, msgs: &[Message]| {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| v.render(msgs, f.area(), f.buffer_mut(), &theme, true, None))
            .unwrap();
        term.backend().buffer().clone()
    };
    for _ in 0..4 {
        let text = random_reply(&mut rng, 12, false);
        let cuts = tokens(&mut rng, &text);
        let mut question = Message::new(1, Speaker::User, "");
        question.content = "a question with ```code``` in it".into();
        let mut m = reply("");
        m.id = 2;
        let mut msgs = vec![question, m];
        let mut streamed = ConversationView::new();
        streamed.set_utc_offset(FixedOffset::east_opt(0).unwrap());
        for (k, &cut) in cuts.iter().enumerate() {
            msgs[1].choices[0].text = text[..cut].to_string();
            if k == cuts.len() / 2 {
                // Scrolled up a little for a while: the view stops following.
                streamed.scroll_up(3);
            }
            if k == cuts.len() * 3 / 4 {
                streamed.to_bottom();
            }
            let got = draw(&mut streamed, &msgs);
            let mut fresh = ConversationView::new();
            fresh.set_utc_offset(FixedOffset::east_opt(0).unwrap());
            if !streamed.is_following() {
                continue; // a fresh view starts at the bottom
            }
            assert_eq!(got, draw(&mut fresh, &msgs), "after {:?}", &text[..cut]);
        }
    }
}

#[test]
fn splits_only_outside_fences() {
    assert_eq!(stable_split("a\n\nb"), 3);
    assert_eq!(stable_split("a\n\n```\nx\n\ny"), 3);
    assert_eq!(stable_split("no blank line"), 0);
    assert_eq!(stable_split("a\n\n"), 0);
    // A fence closes only with its own character, at least as long.
    assert_eq!(stable_split("a\n\n~~~\n```\n\ny\n"), 3);
    assert_eq!(stable_split("a\n\n````\n```\n\ny\n````\n\nz"), 21);
    // Not before a block that may join the one above.
    assert_eq!(stable_split("a\n\n- b\n\n1. c\n\n> d"), 0);
}

/// The rows the view calls clean hold, cell for cell, what the same screen rows held the
/// frame before — through streaming (rows moving up), scrolling, the message cursor, a
/// panel drawn over the pane, resizes and frames without the view; and the rows it drew
/// from moved rows equal a fresh view's drawing.
#[test]
fn clean_rows_hold_the_cells_of_the_last_frame() {
    let mut rng = Rng(11);
    let theme = Theme::default();
    let offset = FixedOffset::east_opt(0).unwrap();
    let text = random_reply(&mut rng, 14, false);
    let cuts = tokens(&mut rng, &text);
    let mut question = Message::new(1, Speaker::User, "");
    question.content = "a question".into();
    let mut m = reply("");
    m.id = 2;
    let mut msgs = vec![question, m];
    let mut view = ConversationView::new();
    view.set_utc_offset(offset);
    let (mut w, mut h) = (60u16, 20u16);
    let mut last: Option<Buffer> = None;
    let (mut clean_rows, mut frames) = (0, 0);
    for (k, &cut) in cuts.iter().enumerate() {
        msgs[1].choices[0].text = text[..cut].to_string();
        let mut selected = None;
        let mut overdrawn = false;
        let mut shown = true;
        match rng.below(40) {
            0 => view.scroll_up(1 + rng.below(5)),
            1 => view.scroll_down(1 + rng.below(5)),
            2 => view.to_bottom(),
            3 => selected = Some(1 + rng.below(2) as u64),
            4 => overdrawn = true,
            5 => {
                w = 40 + rng.below(30) as u16;
                h = 10 + rng.below(15) as u16;
            }
            6 => shown = false,
            _ => {}
        }
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        view.begin_frame();
        if shown {
            view.render(&msgs, area, &mut buf, &theme, true, selected);
        }
        if overdrawn {
            view.mark_overdrawn();
            buf.set_string(2, h - 2, "a panel over the pane", theme.accent);
        }
        let clean = view.clean_rows();
        if let Some(prev) = last.as_ref().filter(|p| p.area == area) {
            for r in &clean {
                for y in r.top()..r.bottom() {
                    for x in r.left()..r.right() {
                        assert_eq!(buf[(x, y)], prev[(x, y)], "token {k}, cell ({x}, {y})");
                    }
                }
                clean_rows += r.height as usize;
            }
        } else {
            assert!(
                clean.is_empty() || last.is_none(),
                "token {k}: clean rows after a resize"
            );
        }
        if shown && view.is_following() && selected.is_none() && !overdrawn {
            let mut fresh = ConversationView::new();
            fresh.set_utc_offset(offset);
            let mut want = Buffer::empty(area);
            fresh.render(&msgs, area, &mut want, &theme, true, None);
            assert_eq!(buf, want, "token {k}");
        }
        frames += 1;
        last = Some(buf);
    }
    // Most rows of most frames are clean while the reply streams.
    assert!(
        clean_rows > frames * 5,
        "{clean_rows} clean rows in {frames} frames"
    );
}
