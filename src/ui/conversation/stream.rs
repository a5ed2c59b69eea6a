//! A streaming reply: its finished blocks are rendered once, each token re-renders only
//! the last block.

use chrono::FixedOffset;
use ratatui::text::Line;

use super::message::head_lines;
use crate::chat::conversation::Message;
use crate::ui::markdown;
use crate::ui::theme::Theme;

/// The part of a streaming reply that no longer changes: the text up to the last blank
/// line outside a code fence, and its rendered lines. Each new token then only re-renders
/// the last block, so a frame's cost does not grow with the reply. The split is checked
/// against a full rendering whenever it moves; where they differ (e.g. a loose list), the
/// message is rendered whole.
pub(super) struct StreamCache {
    width: u16,
    selected: usize,
    prefix: String,
    lines: Vec<Line<'static>>,
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

/// A streaming reply's lines, reusing the rendering of its finished blocks.
pub(super) fn streaming_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    offset: FixedOffset,
    cache: &mut Option<StreamCache>,
) -> Vec<Line<'static>> {
    let text = m.text();
    let split = stable_split(text);
    // A tail that starts like a list item, a quote, a table row or an indented line may
    // still join the block before the blank line (a loose list): render whole.
    let safe = text[split..]
        .chars()
        .next()
        .is_some_and(|c| !(c.is_whitespace() || c.is_ascii_digit() || "-*+>|:=".contains(c)));
    if split > 0 && !safe {
        let mut lines = head_lines(m, width, theme, offset);
        lines.extend(markdown::render(text, width, theme));
        lines.push(Line::default());
        return lines;
    }
    let usable = cache.as_ref().is_some_and(|c| {
        c.ok && c.width == width
            && c.selected == m.selected
            && c.prefix.len() == split
            && text.starts_with(c.prefix.as_str())
    });
    let body = if usable && split > 0 {
        let c = cache.as_ref().map(|c| &c.lines);
        let mut lines = c.cloned().unwrap_or_default();
        lines.push(Line::default());
        lines.extend(markdown::render(&text[split..], width, theme));
        lines
    } else {
        // The split moved (or nothing is cached): render whole, and check the split.
        let whole = markdown::render(text, width, theme);
        if split > 0 {
            let prefix = text[..split].trim_end_matches(['\n', ' ']);
            let head = markdown::render(prefix, width, theme);
            let tail = markdown::render(&text[split..], width, theme);
            let ok = whole.len() == head.len() + 1 + tail.len()
                && whole[..head.len()] == head[..]
                && whole[head.len()]
                    .spans
                    .iter()
                    .all(|s| s.content.trim().is_empty())
                && whole[head.len() + 1..] == tail[..];
            *cache = Some(StreamCache {
                width,
                selected: m.selected,
                prefix: text[..split].to_string(),
                lines: head,
                ok,
            });
        } else {
            *cache = None;
        }
        whole
    };
    let mut lines = head_lines(m, width, theme, offset);
    lines.extend(body);
    lines.push(Line::default());
    lines
}
