//! Text off the screen: which line of which message each row shows (read-only, from the
//! last frame), the text between two places in those lines (for a mouse selection), the
//! word or message around a place, and the highlight of a selection.
//!
//! Places are in the view's lines, not on the screen, so a selection stays on its text
//! while the view scrolls. Copied text is the drawn text, less the drawing: quote bars, the
//! code gutter, code block labels and a wrapped line's hanging indent are left out; a
//! wrapped line joins the one above without a line break (with the space the wrap took);
//! any other line break is a newline.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::ConversationView;
use crate::chat::conversation::{Message, MessageId};
use crate::ui::markdown::LineMeta;
use crate::ui::theme::Theme;

/// A place in the conversation's drawn text: a message, one of its lines (as drawn at the
/// current width; line 0 is the header), and a cell of that line (0 is its first cell;
/// past the end means the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinePos {
    pub message: MessageId,
    pub line: usize,
    pub col: u16,
}

/// What a row of the pane shows: a line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowRef {
    pub message: MessageId,
    pub line: usize,
}

/// A place as (entry index, line, cell): ordered as the text reads.
type Key = (usize, usize, u16);

/// A grapheme of a drawn line: its first cell, its width and its text.
struct Cell<'a> {
    col: usize,
    width: usize,
    text: &'a str,
}

fn cells<'a>(line: &'a Line<'_>) -> Vec<Cell<'a>> {
    let mut out = Vec::new();
    let mut col = 0;
    for span in &line.spans {
        for g in span.content.graphemes(true) {
            let width = g.width();
            out.push(Cell {
                col,
                width,
                text: g,
            });
            col += width;
        }
    }
    out
}

/// Characters that belong to a word for a double click (besides letters and digits): enough
/// to take a path, a URL or an identifier whole.
fn word_char(g: &str) -> bool {
    g.chars()
        .all(|c| c.is_alphanumeric() || "_-./:~@#%+=?&$".contains(c))
        && !g.trim().is_empty()
}

impl ConversationView {
    /// What each row of the pane showed in the last frame, top to bottom (rows below the
    /// last line are not listed).
    pub fn rows(&self) -> &[RowRef] {
        &self.row_refs
    }

    /// Where the text was drawn in the last frame: the pane less its scrollbar column.
    pub fn text_area(&self) -> Rect {
        self.text_area
    }

    /// Nothing is drawn by the view this frame until `render` says otherwise (the pane shows
    /// the welcome text, or another panel covers it).
    pub fn begin_frame(&mut self) {
        self.begin_frame_kept(false);
    }

    /// [`Self::begin_frame`], saying whether the buffer the frame is drawn into holds the
    /// last frame (`ui::layout::draw_frame`): then rows that show the same line at the same
    /// place are left as they are instead of copied again.
    pub fn begin_frame_kept(&mut self, kept: bool) {
        self.kept = kept;
        self.shifted.clear();
        self.last_frame = std::mem::take(&mut self.frame);
        self.clean.clear();
        self.row_refs.clear();
        self.row_index.clear();
        self.text_area = Rect::default();
    }

    /// Draw this selection (from, to: both ends included, in any order) at the next render.
    pub fn set_text_selection(&mut self, sel: Option<(LinePos, LinePos)>) {
        self.text_selection = sel;
    }

    /// The place under screen cell (`column`, `row`), if it is in the text area. A row
    /// below the last line is the end of the last line.
    pub fn hit(&self, column: u16, row: u16) -> Option<LinePos> {
        let a = self.text_area;
        if self.row_refs.is_empty()
            || column < a.x
            || column >= a.right()
            || row < a.y
            || row >= a.bottom()
        {
            return None;
        }
        Some(self.place(column - a.x, usize::from(row - a.y)))
    }

    /// Like [`ConversationView::hit`], but a cell outside the text area counts as the
    /// nearest place inside it (dragging past the pane's edges), and the rows above or below
    /// it say how far (negative above): the caller scrolls by that much.
    pub fn hit_clamped(&self, column: u16, row: u16) -> Option<(LinePos, isize)> {
        let a = self.text_area;
        if self.row_refs.is_empty() {
            return None;
        }
        let col = column.clamp(a.x, a.right().saturating_sub(1).max(a.x)) - a.x;
        if row < a.y {
            return Some((self.place(0, 0), row as isize - a.y as isize));
        }
        if row >= a.bottom() {
            let last = self.row_refs.len() - 1;
            let over = row as isize - a.bottom() as isize + 1;
            return Some((self.place(u16::MAX, last), over));
        }
        Some((self.place(col, usize::from(row - a.y)), 0))
    }

    fn place(&self, col: u16, y: usize) -> LinePos {
        match self.row_refs.get(y) {
            Some(r) => LinePos {
                message: r.message,
                line: r.line,
                col,
            },
            None => {
                let r = self.row_refs[self.row_refs.len() - 1];
                LinePos {
                    message: r.message,
                    line: r.line,
                    col: u16::MAX,
                }
            }
        }
    }

    /// (entry index, line, col) of `p`, for ordering; None when its message is gone.
    fn key(&self, p: LinePos) -> Option<Key> {
        let i = self.entries.iter().position(|e| e.id == p.message)?;
        Some((i, p.line, p.col))
    }

    /// `a` and `b` in order, as keys.
    fn ordered(&self, a: LinePos, b: LinePos) -> Option<(Key, Key)> {
        let (ka, kb) = (self.key(a)?, self.key(b)?);
        Some(if ka <= kb { (ka, kb) } else { (kb, ka) })
    }

    /// Make entry `i`'s lines current outside a frame (with the last frame's theme).
    fn ensure_lines(&mut self, i: usize, messages: &[Message]) {
        let theme = self.theme.clone();
        self.ensure(i, messages, &theme);
    }

    /// The text from `a` to `b` (both cells included, in either order), as drawn less the
    /// drawing (see the module's doc).
    pub fn text_between(&mut self, messages: &[Message], a: LinePos, b: LinePos) -> String {
        let Some((s, e)) = self.ordered(a, b) else {
            return String::new();
        };
        let mut out = String::new();
        let mut first = true;
        for i in s.0..=e.0.min(self.entries.len().saturating_sub(1)) {
            self.ensure_lines(i, messages);
            let entry = &self.entries[i];
            if entry.lines.is_empty() {
                continue;
            }
            let last = entry.lines.len() - 1;
            let l0 = if i == s.0 { s.1.min(last) } else { 0 };
            let l1 = if i == e.0 { e.1.min(last) } else { last };
            for l in l0..=l1 {
                let meta = entry.meta.get(l).copied().unwrap_or_default();
                if meta.deco {
                    continue;
                }
                let c0 = if (i, l) == (s.0, s.1) { s.2 } else { 0 };
                let c1 = if (i, l) == (e.0, e.1) {
                    e.2.saturating_add(1)
                } else {
                    u16::MAX
                };
                if !first {
                    if meta.soft {
                        out.extend(std::iter::repeat_n(' ', usize::from(meta.space)));
                    } else {
                        out.push('\n');
                    }
                }
                first = false;
                push_cells(&mut out, &entry.lines[l], meta, c0, c1);
            }
        }
        out
    }

    /// The word around `p` (letters, digits and the characters of paths and URLs; a word
    /// broken across wrapped lines is taken whole), or None on a space or the drawing.
    pub fn word_at(&mut self, messages: &[Message], p: LinePos) -> Option<(LinePos, LinePos)> {
        let (i, line, col) = self.key(p)?;
        self.ensure_lines(i, messages);
        let entry = &self.entries[i];
        let meta_of = |l: usize| entry.meta.get(l).copied().unwrap_or_default();
        let l = entry.lines.get(line)?;
        let meta = meta_of(line);
        if meta.deco || usize::from(col) < usize::from(meta.lead) {
            return None;
        }
        let cs = cells(l);
        let k = cs
            .iter()
            .position(|c| c.col <= usize::from(col) && usize::from(col) < c.col + c.width)?;
        if !word_char(cs[k].text) {
            return None;
        }
        // Backwards, over wrapped lines joined without a space.
        let (mut sl, mut scol) = (line, cs[k].col);
        let mut j = k;
        loop {
            let lcs = cells(&entry.lines[sl]);
            let lead = usize::from(meta_of(sl).lead);
            while j > 0 && lcs[j - 1].col >= lead && word_char(lcs[j - 1].text) {
                j -= 1;
            }
            scol = lcs.get(j).map_or(scol, |c| c.col);
            let m = meta_of(sl);
            let at_start = lcs.get(j).is_some_and(|c| c.col == lead);
            if !(at_start && m.soft && m.space == 0 && sl > 0) {
                break;
            }
            let prev = cells(&entry.lines[sl - 1]);
            if !prev.last().is_some_and(|c| word_char(c.text)) {
                break;
            }
            sl -= 1;
            j = prev.len() - 1;
        }
        // Forwards.
        let (mut el, mut ecol) = (line, cs[k].col);
        let mut j = k;
        loop {
            let lcs = cells(&entry.lines[el]);
            while j + 1 < lcs.len() && word_char(lcs[j + 1].text) {
                j += 1;
            }
            ecol = lcs.get(j).map_or(ecol, |c| c.col + c.width - 1);
            let at_end = j + 1 == lcs.len();
            let next = el + 1;
            let joins = next < entry.lines.len() && {
                let m = meta_of(next);
                m.soft && m.space == 0
            };
            if !(at_end && joins) {
                break;
            }
            let ncs = cells(&entry.lines[next]);
            let lead = usize::from(meta_of(next).lead);
            let Some(first) = ncs.iter().position(|c| c.col >= lead) else {
                break;
            };
            if !word_char(ncs[first].text) {
                break;
            }
            el = next;
            j = first;
        }
        let at = |line, col: usize| LinePos {
            message: p.message,
            line,
            col: col.min(usize::from(u16::MAX)) as u16,
        };
        Some((at(sl, scol), at(el, ecol)))
    }

    /// The body of message `id` (its lines less the header and the blank line after it),
    /// or None when it has none.
    pub fn message_body(
        &mut self,
        messages: &[Message],
        id: MessageId,
    ) -> Option<(LinePos, LinePos)> {
        let i = self.entries.iter().position(|e| e.id == id)?;
        self.ensure_lines(i, messages);
        let e = &self.entries[i];
        let last = e.lines.len().checked_sub(2)?;
        if last < e.head {
            return None;
        }
        Some((
            LinePos {
                message: id,
                line: e.head,
                col: 0,
            },
            LinePos {
                message: id,
                line: last,
                col: u16::MAX,
            },
        ))
    }

    /// Paint the selection over the rows drawn (text cells only: never the drawing, the
    /// scrollbar, or past a line's end).
    pub(super) fn highlight_selection(&self, buf: &mut Buffer, theme: &Theme) {
        let Some((a, b)) = self.text_selection else {
            return;
        };
        let Some((s, e)) = self.ordered(a, b) else {
            return;
        };
        let area = self.text_area;
        for (y, (r, &i)) in self.row_refs.iter().zip(&self.row_index).enumerate() {
            let here = (i, r.line);
            if here < (s.0, s.1) || here > (e.0, e.1) {
                continue;
            }
            let entry = &self.entries[i];
            let Some(line) = entry.lines.get(r.line) else {
                continue;
            };
            let meta = entry.meta.get(r.line).copied().unwrap_or_default();
            if meta.deco {
                continue;
            }
            let c0 = if here == (s.0, s.1) { s.2 } else { 0 };
            let c1 = if here == (e.0, e.1) {
                e.2.saturating_add(1)
            } else {
                u16::MAX
            };
            let c0 = usize::from(c0.max(meta.lead));
            let c1 = usize::from(c1);
            let Some(first) = cells(line).into_iter().find(|c| c.col + c.width > c0) else {
                continue;
            };
            let end = cells(line)
                .into_iter()
                .filter(|c| c.col < c1)
                .map(|c| c.col + c.width)
                .max()
                .unwrap_or(0)
                .min(usize::from(area.width));
            if end <= first.col {
                continue;
            }
            let rect = Rect::new(
                area.x + first.col as u16,
                area.y + y as u16,
                (end - first.col) as u16,
                1,
            );
            buf.set_style(rect, theme.selected_text);
        }
    }
}

/// Append the cells of `line` from `c0` to before `c1` (a grapheme counts when any of its
/// cells is in range), less its leading drawing.
fn push_cells(out: &mut String, line: &Line<'_>, meta: LineMeta, c0: u16, c1: u16) {
    let c0 = usize::from(c0.max(meta.lead));
    let c1 = usize::from(c1);
    for c in cells(line) {
        if c.col >= c1 {
            break;
        }
        if c.col + c.width > c0 && c.col >= usize::from(meta.lead) {
            out.push_str(c.text);
        }
    }
}
