//! A streaming reply: its finished blocks are laid out once, each token lays out only the
//! open tail — so a frame's cost does not grow with the reply.
//!
//! The reply's text is cut at block boundaries that nothing later can change: a line that
//! starts a new block after a blank line, outside any code fence, with a character that
//! cannot continue the block before it (not a list item, quote, table row, indented line, or
//! definition). Markdown rendered in pieces cut there is the Markdown rendered whole, cut
//! into the same pieces with one blank line between them. When the text holds something
//! that can reach back across blocks (a link reference definition, a raw HTML block), the
//! reply is rendered whole every time instead.

use chrono::FixedOffset;
use ratatui::text::Line;

use super::message::MessageLines;
use crate::chat::conversation::Message;
use crate::ui::markdown;
use crate::ui::theme::Theme;

/// The finished part of a streaming reply, laid out.
pub(super) struct StreamCache {
    width: u16,
    selected: usize,
    /// The number the first code block is labelled with, less one.
    code_base: usize,
    /// The finished blocks' text (`text[..split]`; it ends with a blank line).
    prefix: String,
    /// Code blocks in the finished blocks.
    head_code_blocks: usize,
    /// The last lines handed out, given back when the message changed: the header
    /// (`out.head` lines), then the finished blocks (`body` lines), then the tail.
    out: Option<MessageLines>,
    body: usize,
    /// The text holds something that can change blocks before it: render it whole.
    whole: bool,
    /// The header's spans and width, and its lines (`MessageLines::header_kept`).
    header: Option<(Vec<ratatui::text::Span<'static>>, u16, MessageLines)>,
}

impl StreamCache {
    /// The length of the text laid out once and kept (tests).
    #[cfg(test)]
    pub(super) fn finished(&self) -> usize {
        if self.whole { 0 } else { self.prefix.len() }
    }

    /// The lines last handed out, given back for the next frame (their finished blocks are
    /// kept; the rest is laid out again).
    pub(super) fn recycle(&mut self, lines: Vec<Line<'static>>, meta: Vec<markdown::LineMeta>) {
        if let Some(out) = self.out.as_mut() {
            if out.lines.is_empty() && lines.len() >= out.head + self.body {
                out.lines = lines;
                out.meta = meta;
            } else {
                self.out = None;
            }
        }
    }
}

/// An open code fence: its character, its length and its indentation.
#[derive(Clone, Copy)]
struct Fence {
    ch: u8,
    len: usize,
    indent: usize,
}

/// The fence a line opens or closes: (indentation, character, run length, rest of line).
fn fence_of(line: &str) -> Option<(usize, u8, usize, &str)> {
    let t = line.trim_start_matches(' ');
    let indent = line.len() - t.len();
    let ch = *t.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = t.bytes().take_while(|&b| b == ch).count();
    (len >= 3).then(|| (indent, ch, len, &t[len..]))
}

/// Scan `text` from `from` (a line start outside any fence, in a block boundary's place):
/// the last place at or after `from` where the text can be cut (`from` when there is
/// none), and whether the text from `from` on holds something that reaches back across
/// blocks (the reply must then be rendered whole).
fn scan(text: &str, from: usize) -> (usize, bool) {
    let mut fence: Option<Fence> = None;
    let mut split = from;
    let mut pos = from;
    let mut prev_blank = false;
    for line in text[from..].split_inclusive('\n') {
        let complete = line.ends_with('\n');
        let blank = line.trim().is_empty();
        match fence {
            Some(f) => {
                if let Some((indent, ch, len, rest)) = fence_of(line)
                    && ch == f.ch
                    && len >= f.len
                    && indent <= f.indent + 3
                    && rest.trim().is_empty()
                    && complete
                {
                    fence = None;
                }
            }
            None => {
                let t = line.trim_start_matches(' ');
                let indent = line.len() - t.len();
                if indent <= 3 && (t.starts_with('<') || (t.starts_with('[') && t.contains("]:"))) {
                    return (from, true);
                }
                if prev_blank && !blank && pos > from && safe_start(line) {
                    split = pos;
                }
                if let Some((indent, ch, len, rest)) = fence_of(line)
                    && !(ch == b'`' && rest.contains('`'))
                {
                    fence = Some(Fence { ch, len, indent });
                }
            }
        }
        pos += line.len();
        prev_blank = blank && complete;
    }
    (split, false)
}

/// A line that starts a block which cannot join the block before it.
fn safe_start(line: &str) -> bool {
    line.chars()
        .next()
        .is_some_and(|c| !(c.is_whitespace() || c.is_ascii_digit() || "-*+>|:=[<".contains(c)))
}

/// A streaming reply's lines, reusing the layout of its finished blocks. Its code blocks
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
    let mut c = match cache.take().filter(|c| {
        c.width == width
            && c.selected == m.selected
            && c.code_base == code_base
            && !c.whole
            && text.starts_with(c.prefix.as_str())
    }) {
        Some(c) => c,
        None => StreamCache {
            width,
            selected: m.selected,
            code_base,
            prefix: String::new(),
            head_code_blocks: 0,
            out: None,
            body: 0,
            whole: false,
            header: None,
        },
    };
    let header = MessageLines::header_kept(m, theme, offset, width, &mut c.header);
    let split = c.prefix.len();
    let (new_split, whole) = if c.whole {
        (split, true)
    } else {
        scan(text, split)
    };
    if whole {
        c.whole = true;
        let mut out = header;
        out.markdown(markdown::render_full(text, width, theme, code_base));
        out.push(Line::default());
        *cache = Some(c);
        return out;
    }
    // The finished blocks laid out: kept from the last frame, or laid out again.
    let mut out = match c.out.take().filter(|o| !o.lines.is_empty()) {
        Some(mut o) => {
            o.lines.truncate(o.head + c.body);
            o.meta.truncate(o.head + c.body);
            // The header may have changed (the model's name, the thinking block).
            let old = o.head;
            o.lines.splice(..old, header.lines);
            o.meta.splice(..old, header.meta);
            o.head = header.head;
            o
        }
        None => {
            let mut o = header;
            let body = c.prefix.trim_end_matches(['\n', ' ']);
            c.body = 0;
            if !body.is_empty() {
                let r = markdown::render_full(body, width, theme, code_base);
                c.body = r.lines.len() + 1;
                c.head_code_blocks = r.code_blocks;
                o.extend(r.lines, r.meta);
                o.push(Line::default());
            }
            o
        }
    };
    // Blocks finished since: laid out once, after the others.
    if new_split > split {
        let piece = text[split..new_split].trim_end_matches(['\n', ' ']);
        let r = markdown::render_full(piece, width, theme, code_base + c.head_code_blocks);
        c.body += r.lines.len() + 1;
        c.head_code_blocks += r.code_blocks;
        out.extend(r.lines, r.meta);
        out.push(Line::default());
        c.prefix.push_str(&text[split..new_split]);
    }
    let tail = markdown::render_full(
        &text[new_split..],
        width,
        theme,
        code_base + c.head_code_blocks,
    );
    out.code_blocks = c.head_code_blocks;
    out.markdown(tail);
    out.push(Line::default());
    // Keep the lengths; the lines come back with `recycle`.
    c.out = Some(MessageLines {
        lines: Vec::new(),
        meta: Vec::new(),
        head: out.head,
        code_blocks: 0,
    });
    *cache = Some(c);
    out
}

/// Where the finished blocks of a streaming text end (0 when there are none yet).
#[cfg(test)]
pub(super) fn stable_split(text: &str) -> usize {
    scan(text, 0).0
}
