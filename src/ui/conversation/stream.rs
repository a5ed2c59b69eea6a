//! A streaming reply: its finished blocks are rendered once, each token re-renders only
//! the last block.

use chrono::FixedOffset;
use ratatui::text::Line;

use super::message::MessageLines;
use crate::chat::conversation::Message;
use crate::ui::markdown::{self, Rendered};
use crate::ui::theme::Theme;

/// The part of a streaming reply that no longer changes: the text up to the last blank
/// line outside a code fence, and its rendered lines. Each new token then only re-renders
/// the last block, so a frame's cost does not grow with the reply. The split is checked
/// against a full rendering whenever it moves; where they differ (e.g. a loose list), the
/// message is rendered whole.
pub(super) struct StreamCache {
    width: u16,
    selected: usize,
    /// The number the first code block was labelled with, less one.
    code_base: usize,
    prefix: String,
    /// The finished blocks rendered (their lines, what each is made of, their code blocks).
    head: Rendered,
    /// The split rendered exactly like the whole when last checked.
    ok: bool,
}

/// Where the finished blocks of a streaming text end: after the last blank line that is
/// outside a code fence (0 when there is none).
pub(super) fn stable_split(text: &str) -> usize {
    let mut in_fence = false;
    let mut split = 0;
    let mut pos = 0;
    let mut prev_blank = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let blank = line.trim().is_empty();
        // A blank line followed by more text, outside any fence, ends the blocks before it.
        if !in_fence && prev_blank && !blank {
            split = pos;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        }
        pos += line.len();
        prev_blank = blank && line.ends_with('\n');
    }
    split
}

/// A streaming reply's lines, reusing the rendering of its finished blocks. Its code blocks
/// are numbered from `code_base + 1`.
pub(super) fn streaming_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    offset: FixedOffset,
    cache: &mut Option<StreamCache>,
    code_base: usize,
) -> MessageLines {
    let text = m.text();
    let split = stable_split(text);
    // A tail that starts like a list item, a quote, a table row or an indented line may
    // still join the block before the blank line (a loose list): render whole.
    let safe = text[split..]
        .chars()
        .next()
        .is_some_and(|c| !(c.is_whitespace() || c.is_ascii_digit() || "-*+>|:=".contains(c)));
    let mut out = MessageLines::header(m, theme, offset, width);
    if split > 0 && !safe {
        out.markdown(markdown::render_full(text, width, theme, code_base));
        out.push(Line::default());
        return out;
    }
    let usable = cache.as_ref().is_some_and(|c| {
        c.ok && c.width == width
            && c.selected == m.selected
            && c.code_base == code_base
            && c.prefix.len() == split
            && text.starts_with(c.prefix.as_str())
    });
    match cache.as_ref().filter(|_| usable && split > 0) {
        Some(c) => {
            out.markdown(c.head.clone());
            out.push(Line::default());
            let base = code_base + c.head.code_blocks;
            out.markdown(markdown::render_full(&text[split..], width, theme, base));
        }
        None => {
            // The split moved (or nothing is cached): render whole, and check the split.
            let whole = markdown::render_full(text, width, theme, code_base);
            if split > 0 {
                let prefix = text[..split].trim_end_matches(['\n', ' ']);
                let head = markdown::render_full(prefix, width, theme, code_base);
                let base = code_base + head.code_blocks;
                let tail = markdown::render_full(&text[split..], width, theme, base);
                let (w, h, t) = (&whole.lines, &head.lines, &tail.lines);
                let ok = w.len() == h.len() + 1 + t.len()
                    && w[..h.len()] == h[..]
                    && w[h.len()].spans.iter().all(|s| s.content.trim().is_empty())
                    && w[h.len() + 1..] == t[..]
                    && whole.meta[..h.len()] == head.meta[..]
                    && whole.meta[h.len() + 1..] == tail.meta[..]
                    && whole.code_blocks == head.code_blocks + tail.code_blocks;
                *cache = Some(StreamCache {
                    width,
                    selected: m.selected,
                    code_base,
                    prefix: text[..split].to_string(),
                    head,
                    ok,
                });
            } else {
                *cache = None;
            }
            out.markdown(whole);
        }
    }
    out.push(Line::default());
    out
}
