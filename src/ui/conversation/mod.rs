//! The conversation view: a per-message cache of wrapped lines and the visible window.
//!
//! A frame costs O(messages) cheap comparisons (ids and versions) plus rendering the
//! messages that are visible and changed. Messages never shown have estimated heights,
//! corrected when they are drawn; the view is anchored to a message and a line inside it,
//! so corrections above the view never make it jump.
//!
//! By job: this module holds the view and its scroll state; `cache` the per-message line
//! cache (entries, estimates, eviction); `stream` the incremental rendering of a streaming
//! reply; `message` the lines of one message; `rows` the drawing of the visible rows.

mod cache;
mod message;
mod rows;
mod select;
mod stream;
mod tint;

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

use chrono::{FixedOffset, Local, Offset};
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::Line;
use ratatui::widgets::{
    Clear, Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget, Widget,
};

use crate::chat::conversation::{Message, MessageId};
use crate::ui::theme::Theme;

use self::cache::Entry;
pub use self::select::{LinePos, RowRef};

/// UI-local state of the conversation view: the cache and the scroll position.
pub struct ConversationView {
    entries: Vec<Entry>,
    /// prefix[i] = total height of entries[..i]; valid below `dirty_from`.
    prefix: Vec<usize>,
    dirty_from: usize,
    width: u16,
    /// First visible line: (entry index, line within the entry).
    top: (usize, usize),
    top_id: Option<MessageId>,
    following: bool,
    pending: isize,
    last_height: usize,
    total: usize,
    new_lines: usize,
    renders: usize,
    offset: FixedOffset,
    /// The last message changed while not following: its height before.
    grown_last: Option<usize>,
    /// Lines held in `entries[..].lines`.
    cached: usize,
    cache_limit: usize,
    /// The rows drawn last frame: the line and the cells it became. A row whose line is
    /// unchanged is copied instead of laid out again (text shaping is most of a frame's cost
    /// while a reply streams).
    rows: Vec<(Line<'static>, Vec<Cell>)>,
    rows_area: Rect,
    /// A message to bring into view at the next render.
    reveal: Option<MessageId>,
    /// What each row drawn last frame shows (and the entry index of its message).
    row_refs: Vec<RowRef>,
    row_index: Vec<usize>,
    /// Where the text was drawn last frame (the pane less the scrollbar column).
    text_area: Rect,
    /// The mouse selection to draw (both ends included).
    text_selection: Option<(LinePos, LinePos)>,
    /// The theme of the last frame, to lay out lines between frames (copying text).
    theme: Theme,
    /// Finished replies' tokens tinted by probability (`/logprobs color`).
    tint: bool,
    /// The pane's border and title, drawn from the cells of the last frame while they stay
    /// the same.
    pane: crate::ui::widgets::BlockCache,
    /// Rows of this frame's text area whose cells are those of the last frame (the same
    /// line at the same place): the screen need not compare them again.
    clean: Vec<bool>,
    /// This frame and the last: the view drew its rows (`rendered`), drew over them (the
    /// message cursor, a selection, the new-lines mark: `decorated`), or something else
    /// drew over the pane (`overdrawn`). Only rows of two plain frames in a row are clean.
    frame: FrameMarks,
    last_frame: FrameMarks,
    /// The buffer of this frame holds the last frame's cells (`begin_frame_kept`).
    kept: bool,
    /// Rows of this frame's text area that show the row `moved_by` below them in the last
    /// frame, moved up unchanged (the reply grew at the bottom), when the buffer holds the
    /// last frame: see [`ConversationView::clean_and_moved`].
    shifted: Vec<bool>,
    moved_by: usize,
}

/// What happened to the view's rows in a frame (see `ConversationView::clean_rows`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct FrameMarks {
    rendered: bool,
    decorated: bool,
    overdrawn: bool,
}

impl Default for ConversationView {
    fn default() -> Self {
        Self::new()
    }
}

impl ConversationView {
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
            prefix: vec![0],
            dirty_from: 0,
            width: 0,
            top: (0, 0),
            top_id: None,
            following: true,
            pending: 0,
            last_height: 0,
            total: 0,
            new_lines: 0,
            renders: 0,
            offset: Local::now().offset().fix(),
            grown_last: None,
            cached: 0,
            cache_limit: 200_000,
            rows: Vec::new(),
            rows_area: Rect::default(),
            reveal: None,
            row_refs: Vec::new(),
            row_index: Vec::new(),
            text_area: Rect::default(),
            text_selection: None,
            theme: Theme::default(),
            tint: false,
            pane: crate::ui::widgets::BlockCache::default(),
            clean: Vec::new(),
            frame: FrameMarks::default(),
            last_frame: FrameMarks::default(),
            kept: false,
            shifted: Vec::new(),
            moved_by: 0,
        }
    }

    /// Something else drew over the pane this frame (a panel, an overlay): its rows are
    /// not the view's alone, this frame or the next.
    pub fn mark_overdrawn(&mut self) {
        self.frame.overdrawn = true;
    }

    /// The screen rows whose cells are the same as in the last frame (the same line drawn
    /// at the same place, nothing drawn over it either time): the part of the text area
    /// they cover, top to bottom, merged into runs. Empty unless the view drew plain rows
    /// in this frame and the last.
    pub fn clean_rows(&self) -> Vec<Rect> {
        let plain = |m: FrameMarks| m.rendered && !m.decorated && !m.overdrawn;
        let mut out: Vec<Rect> = Vec::new();
        if !plain(self.frame) || !plain(self.last_frame) || self.text_area.is_empty() {
            return out;
        }
        let a = self.text_area;
        for (y, _) in self.clean.iter().enumerate().filter(|(_, c)| **c) {
            let y = a.y + y as u16;
            match out.last_mut() {
                Some(r) if r.bottom() == y => r.height += 1,
                _ => out.push(Rect::new(a.x, y, a.width, 1)),
            }
        }
        out
    }

    /// [`Self::clean_rows`], and the rows that moved up since the last frame unchanged (the
    /// reply grew at the bottom), when the screen shows the last frame (the buffer was
    /// kept, nothing drew over the pane either time): the screen rows to scroll (`top..
    /// bottom`, up by `by`) and, with them, the areas clean once they are scrolled: the
    /// moved rows, and the clean rows outside the scrolled ones. The terminal scrolls them
    /// instead of the backend finding the shift by comparing every row.
    pub fn clean_and_moved(&self) -> (Vec<Rect>, Option<crate::runtime::backend::Moved>) {
        let plain = |m: FrameMarks| m.rendered && !m.decorated && !m.overdrawn;
        let first = self.shifted.iter().position(|s| *s);
        let last = self.shifted.iter().rposition(|s| *s);
        let (Some(first), Some(last)) = (first, last) else {
            return (self.clean_rows(), None);
        };
        if !plain(self.frame) || !plain(self.last_frame) || self.text_area.is_empty() {
            return (Vec::new(), None);
        }
        let bottom = (last + 1 + self.moved_by).min(self.clean.len());
        let a = self.text_area;
        let mut out: Vec<Rect> = Vec::new();
        for y in 0..self.clean.len() {
            let keep = if (first..bottom).contains(&y) {
                self.shifted[y]
            } else {
                self.clean[y]
            };
            if !keep {
                continue;
            }
            let y = a.y + y as u16;
            match out.last_mut() {
                Some(r) if r.bottom() == y => r.height += 1,
                _ => out.push(Rect::new(a.x, y, a.width, 1)),
            }
        }
        let moved = crate::runtime::backend::Moved {
            top: a.y + first as u16,
            bottom: a.y + bottom as u16,
            by: self.moved_by as u16,
        };
        (out, Some(moved))
    }

    /// Draw the pane's block (border and title) over `area`: the cells it drew last frame
    /// while the block and the area are the same.
    pub fn render_block(
        &mut self,
        block: ratatui::widgets::Block<'static>,
        area: Rect,
        buf: &mut Buffer,
    ) {
        self.pane.render(block, area, buf);
    }

    /// Tint finished replies' tokens by probability (`/logprobs color`): the messages are
    /// drawn again when it changes.
    pub fn set_tint(&mut self, on: bool) {
        if on != self.tint {
            self.tint = on;
            for e in &mut self.entries {
                e.width = 0;
            }
        }
    }

    /// Show times in this UTC offset (default: the local offset at creation).
    pub fn set_utc_offset(&mut self, offset: FixedOffset) {
        if offset != self.offset {
            self.offset = offset;
            for e in &mut self.entries {
                e.width = 0;
            }
        }
    }

    /// The UTC offset times are shown in (other panels show times the same way).
    pub fn utc_offset(&self) -> FixedOffset {
        self.offset
    }

    pub fn scroll_up(&mut self, lines: usize) {
        self.pending = self
            .pending
            .saturating_sub(lines.min(isize::MAX as usize) as isize);
    }

    pub fn scroll_down(&mut self, lines: usize) {
        self.pending = self
            .pending
            .saturating_add(lines.min(isize::MAX as usize) as isize);
    }

    pub fn page_up(&mut self) {
        self.scroll_up(self.last_height.max(1));
    }

    pub fn page_down(&mut self) {
        self.scroll_down(self.last_height.max(1));
    }

    pub fn to_top(&mut self) {
        self.following = false;
        self.pending = 0;
        self.top = (0, 0);
        self.top_id = self.entries.first().map(|e| e.id);
    }

    /// Scroll so that message `id` is in view at the next render (its start, or all of it
    /// when it fits).
    pub fn reveal(&mut self, id: MessageId) {
        self.reveal = Some(id);
        self.pending = 0;
    }

    pub fn to_bottom(&mut self) {
        self.following = true;
        self.pending = 0;
        self.new_lines = 0;
    }

    /// At the bottom: new text keeps the view at the bottom.
    pub fn is_following(&self) -> bool {
        self.following
    }

    /// Total lines as of the last render (messages never drawn at this width are estimated).
    pub fn total_lines(&self) -> usize {
        self.total
    }

    /// Lines that arrived below the view since it stopped following.
    pub fn new_lines(&self) -> usize {
        self.new_lines
    }

    /// How many messages the last `render` had to (re-)render: a debugging counter.
    pub fn renders_last_frame(&self) -> usize {
        self.renders
    }

    /// Draw `messages` into `area` of `buf`, using cached lines. The first line of message
    /// `selected` (the message cursor) is highlighted.
    pub fn render(
        &mut self,
        messages: &[Message],
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
        focused: bool,
        selected: Option<MessageId>,
    ) {
        self.renders = 0;
        self.row_refs.clear();
        self.row_index.clear();
        self.text_area = Rect::default();
        self.clean.clear();
        self.shifted.clear();
        self.frame.rendered = true;
        if *theme != self.theme {
            self.theme = theme.clone();
        }
        let area = area.intersection(buf.area);
        // Every row is written below (copied, drawn, or reset), so no clearing pass first.
        self.last_height = area.height as usize;
        if area.width < 2 || area.height == 0 {
            Clear.render(area, buf);
            // Not the rows of a frame: nothing is clean in the next.
            self.frame.decorated = true;
            return;
        }
        let width = area.width - 1;
        let height = area.height as usize;
        self.sync(messages, width);
        self.number_code_blocks(messages);
        let n = self.entries.len();
        if n == 0 {
            Clear.render(area, buf);
            self.frame.decorated = true;
            self.total = 0;
            self.following = true;
            self.new_lines = 0;
            self.pending = 0;
            return;
        }

        if let Some(id) = self.reveal.take() {
            self.bring_into_view(id, messages, height, theme);
        }
        let pending = std::mem::take(&mut self.pending);
        if pending < 0 && self.following {
            self.top = self.bottom_top(messages, height, theme);
            self.following = false;
        }
        if !self.following && pending != 0 {
            self.move_top_laid_out(pending, messages, theme);
        }
        if let Some(old) = self.grown_last.take()
            && !self.following
        {
            // New text below the view: count its lines for the indicator.
            self.ensure(n - 1, messages, theme);
            self.new_lines += self.entries[n - 1].height.saturating_sub(old);
        }
        if !self.following {
            let i = self.top.0.min(n - 1);
            self.ensure(i, messages, theme);
            let off = self.top.1.min(self.entries[i].height.saturating_sub(1));
            self.top = (i, off);
            let mut rows = self.entries[i].height - off;
            let mut j = i;
            while rows < height && j + 1 < n {
                j += 1;
                self.ensure(j, messages, theme);
                rows += self.entries[j].height;
            }
            if j + 1 == n && rows <= height {
                self.following = true;
            }
        }
        if self.following {
            self.new_lines = 0;
            self.top = self.bottom_top(messages, height, theme);
        }
        self.top_id = Some(self.entries[self.top.0].id);

        // Draw.
        self.draw_rows(messages, area, buf, theme, width, height);
        self.text_area = Rect::new(area.x, area.y, width, area.height);
        if let Some(id) = selected {
            self.highlight(id, area, buf, theme, width);
        }
        self.highlight_selection(buf, theme);
        self.frame.decorated = selected.is_some()
            || self.text_selection.is_some()
            || (!self.following && self.new_lines > 0);

        self.evict();
        self.fix_prefix();
        self.total = self.prefix[n];
        let abs_top = self.prefix[self.top.0] + self.top.1;
        if self.total > height {
            let style = if focused {
                theme.border_focused
            } else {
                theme.border
            };
            let mut state = ScrollbarState::new(self.total - height + 1)
                .position(abs_top.min(self.total - height))
                .viewport_content_length(height);
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None)
                .track_symbol(Some("│"))
                .thumb_symbol("█")
                .style(style)
                .render(area, buf, &mut state);
        }
        if !self.following && self.new_lines > 0 {
            let s = if self.new_lines == 1 { "" } else { "s" };
            let text = format!(" ↓ {} new line{s} ", self.new_lines);
            let w = text.chars().count() as u16;
            let x = area.x + width.saturating_sub(w);
            let style = theme.accent.add_modifier(Modifier::REVERSED);
            buf.set_stringn(x, area.bottom() - 1, &text, width as usize, style);
        }
    }

    /// Lay out one message within `pages` pages above or below the view (nearest first)
    /// that is not laid out at the current width yet: work for idle moments between frames,
    /// so that paging finds its lines ready. Returns false when there is none (or the
    /// messages are not those of the last frame). A message's height found exact this way
    /// moves nothing on the screen: the view is anchored to its top message.
    pub fn prefetch(&mut self, messages: &[Message], theme: &Theme, pages: usize) -> bool {
        let n = self.entries.len();
        let (ti, off) = self.top;
        if n == 0 || self.width == 0 || n != messages.len() || ti >= n || *theme != self.theme {
            return false;
        }
        let reach = pages * self.last_height.max(1);
        let wanted = |e: &Entry, m: &Message, width: u16| {
            e.width != width
                && e.id == m.id
                && m.status != crate::chat::conversation::Status::Partial
        };
        // Above: the messages before the top one, up to `reach` rows.
        let (mut rows, mut j) = (off, ti);
        while rows < reach && j > 0 {
            j -= 1;
            if wanted(&self.entries[j], &messages[j], self.width) {
                self.ensure(j, messages, theme);
                return true;
            }
            rows += self.entries[j].height;
        }
        // Below: the page on screen and `reach` rows after it.
        let (mut rows, mut j) = (0usize, ti);
        while rows < reach + self.last_height && j < n {
            if wanted(&self.entries[j], &messages[j], self.width) {
                self.ensure(j, messages, theme);
                return true;
            }
            rows += self.entries[j].height;
            j += 1;
        }
        false
    }

    /// Keep at most about this many rendered lines cached (default 200,000): beyond it,
    /// the lines of messages far from the view are dropped (their heights are kept).
    pub fn set_cache_limit(&mut self, lines: usize) {
        self.cache_limit = lines;
    }

    /// Rendered lines currently cached.
    pub fn cached_lines(&self) -> usize {
        self.cached
    }

    /// Move the top so that entry `id` shows: its start when it is above the view or
    /// taller than it, else its end at the bottom when it is below.
    fn bring_into_view(
        &mut self,
        id: MessageId,
        messages: &[Message],
        height: usize,
        theme: &Theme,
    ) {
        let Some(i) = self.entries.iter().position(|e| e.id == id) else {
            return;
        };
        self.ensure(i, messages, theme);
        if self.following {
            self.top = self.bottom_top(messages, height, theme);
        }
        let (ti, toff) = self.top;
        if i < ti || (i == ti && toff > 0) {
            self.top = (i, 0);
            self.following = false;
            return;
        }
        // Rows from the top of the view to the end of entry i.
        let mut rows = self.entries[ti].height.saturating_sub(toff);
        for j in ti + 1..=i {
            self.ensure(j, messages, theme);
            rows += self.entries[j].height;
        }
        if rows <= height {
            return; // already in view
        }
        self.following = false;
        if self.entries[i].height >= height {
            self.top = (i, 0);
        } else {
            self.move_top((rows - height) as isize);
        }
    }

    /// Highlight the first visible line of entry `id`, if it is the top line of that message.
    fn highlight(&self, id: MessageId, area: Rect, buf: &mut Buffer, theme: &Theme, width: u16) {
        let (ti, toff) = self.top;
        let mut y = 0usize;
        for (i, e) in self.entries.iter().enumerate().skip(ti) {
            let skip = if i == ti { toff } else { 0 };
            if e.id == id {
                if skip == 0 && y < area.height as usize {
                    let row = Rect::new(area.x, area.y + y as u16, width, 1);
                    buf.set_style(row, theme.selection);
                }
                return;
            }
            y += e.height.saturating_sub(skip);
            if y >= area.height as usize {
                return;
            }
        }
    }

    /// The top position that shows the last `height` lines.
    fn bottom_top(&mut self, messages: &[Message], height: usize, theme: &Theme) -> (usize, usize) {
        let mut need = height;
        let mut i = self.entries.len();
        while i > 0 {
            i -= 1;
            self.ensure(i, messages, theme);
            let h = self.entries[i].height;
            if h >= need {
                return (i, h - need);
            }
            need -= h;
        }
        (0, 0)
    }

    /// Move the top by `delta` lines. Within a few pages, the messages passed over are laid
    /// out first, so that the move is exact: a page up shows the page just above, never
    /// skipping lines of a message whose height was only estimated. A longer jump goes by
    /// the estimates (the screen still shows exactly the messages it lands on).
    fn move_top_laid_out(&mut self, delta: isize, messages: &[Message], theme: &Theme) {
        let n = self.entries.len();
        let d = delta.unsigned_abs();
        if n > 0 && d <= 8 * self.last_height.max(1) {
            let (i, off) = self.top;
            let i = i.min(n - 1);
            self.ensure(i, messages, theme);
            let mut j = i;
            if delta < 0 {
                let mut have = off.min(self.entries[i].height);
                while have < d && j > 0 {
                    j -= 1;
                    self.ensure(j, messages, theme);
                    have += self.entries[j].height;
                }
            } else {
                let mut have = self.entries[i].height.saturating_sub(off);
                while have <= d && j + 1 < n {
                    j += 1;
                    self.ensure(j, messages, theme);
                    have += self.entries[j].height;
                }
            }
        }
        self.move_top(delta);
    }

    /// Move the top by `delta` lines using known or estimated heights.
    fn move_top(&mut self, delta: isize) {
        let n = self.entries.len();
        let (mut i, mut off) = self.top;
        i = i.min(n - 1);
        let mut d = delta.unsigned_abs();
        if delta < 0 {
            loop {
                if off >= d {
                    off -= d;
                    break;
                }
                d -= off;
                if i == 0 {
                    off = 0;
                    break;
                }
                i -= 1;
                off = self.entries[i].height;
            }
        } else {
            off = off.saturating_add(d);
            while i + 1 < n && off >= self.entries[i].height {
                off -= self.entries[i].height;
                i += 1;
            }
        }
        self.top = (i, off);
    }
}
