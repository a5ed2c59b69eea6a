//! The conversation view: a per-message cache of wrapped lines and the visible window.
//!
//! A frame costs O(messages) cheap comparisons (ids and versions) plus rendering the
//! messages that are visible and changed. Messages never shown have estimated heights,
//! corrected when they are drawn; the view is anchored to a message and a line inside it,
//! so corrections above the view never make it jump.

use std::collections::HashMap;

use chrono::{FixedOffset, Local, Offset};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Clear, Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget, Widget,
};

use crate::chat::conversation::{Message, MessageId, Speaker, Status};
use crate::ui::markdown;
use crate::ui::theme::Theme;

struct Entry {
    id: MessageId,
    version: u64,
    selected: usize,
    /// The width `lines` were rendered at; 0 when they are stale.
    width: u16,
    lines: Vec<Line<'static>>,
    /// Exact when `width` is the current width, else an estimate.
    height: usize,
    /// (height, width, text length) of the last exact rendering, for estimates.
    base: Option<(usize, u16, usize)>,
}

impl Entry {
    fn new(m: &Message, width: u16) -> Self {
        let mut e = Self {
            id: m.id,
            version: m.version,
            selected: m.selected,
            width: 0,
            lines: Vec::new(),
            height: 0,
            base: None,
        };
        e.height = e.estimate(m, width);
        e
    }

    /// Height guess without rendering: header + separator + body.
    fn estimate(&self, m: &Message, width: u16) -> usize {
        let w = width.max(1) as usize;
        let len = m.text().len();
        match self.base {
            Some((h, bw, blen)) => {
                2 + h.saturating_sub(2) * bw as usize / w + len.saturating_sub(blen) / w
            }
            None => 3 + len / w,
        }
    }
}

/// UI-local state of the conversation view: the cache and the scroll position.
pub struct HistoryView {
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
}

impl Default for HistoryView {
    fn default() -> Self {
        Self::new()
    }
}

impl HistoryView {
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

    /// Draw `messages` into `area` of `buf`, using cached lines.
    pub fn render(
        &mut self,
        messages: &[Message],
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
        focused: bool,
    ) {
        self.renders = 0;
        let area = area.intersection(buf.area);
        Clear.render(area, buf);
        self.last_height = area.height as usize;
        if area.width < 2 || area.height == 0 {
            return;
        }
        let width = area.width - 1;
        let height = area.height as usize;
        self.sync(messages, width);
        let n = self.entries.len();
        if n == 0 {
            self.total = 0;
            self.following = true;
            self.new_lines = 0;
            self.pending = 0;
            return;
        }

        let pending = std::mem::take(&mut self.pending);
        if pending < 0 && self.following {
            self.top = self.bottom_top(messages, height, theme);
            self.following = false;
        }
        if !self.following && pending != 0 {
            self.move_top(pending);
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
        let (mut i, mut off) = self.top;
        let mut y = 0;
        while y < height && i < n {
            self.ensure(i, messages, theme);
            for line in self.entries[i].lines.iter().skip(off) {
                if y >= height {
                    break;
                }
                buf.set_line(area.x, area.y + y as u16, line, width);
                y += 1;
            }
            i += 1;
            off = 0;
        }

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

    /// Bring the index up to date with `messages` (ids, versions, width).
    fn sync(&mut self, messages: &[Message], width: u16) {
        let width_changed = width != self.width;
        if width_changed {
            self.width = width;
            self.dirty_from = 0;
        }
        let old_len = self.entries.len();
        let same_prefix = old_len <= messages.len()
            && self.entries.iter().zip(messages).all(|(e, m)| e.id == m.id);
        if !same_prefix {
            self.rebuild(messages, width);
        } else if messages.len() > old_len {
            let counting = !self.following;
            for m in &messages[old_len..] {
                let e = Entry::new(m, width);
                if counting {
                    self.new_lines += e.height;
                }
                self.entries.push(e);
            }
            self.dirty_from = self.dirty_from.min(old_len);
        }
        let top = self.top.0;
        for (i, (e, m)) in self.entries.iter_mut().zip(messages).enumerate() {
            let changed = e.version != m.version || e.selected != m.selected;
            if !changed && !width_changed {
                continue;
            }
            let old_h = e.height;
            if changed {
                e.version = m.version;
                e.selected = m.selected;
            }
            e.width = 0;
            e.lines = Vec::new();
            e.height = e.estimate(m, width);
            if e.height != old_h {
                self.dirty_from = self.dirty_from.min(i);
            }
            if changed && !self.following && i >= top {
                self.new_lines += e.height.saturating_sub(old_h);
            }
        }
    }

    /// The message list changed other than by appending: re-index by id, keeping cached
    /// entries of the messages that are still there.
    fn rebuild(&mut self, messages: &[Message], width: u16) {
        let mut old: HashMap<MessageId, Entry> =
            self.entries.drain(..).map(|e| (e.id, e)).collect();
        let mut kept = 0;
        self.entries = messages
            .iter()
            .map(|m| match old.remove(&m.id) {
                Some(e) => {
                    kept += 1;
                    e
                }
                None => Entry::new(m, width),
            })
            .collect();
        self.dirty_from = 0;
        if kept == 0 {
            // A different conversation: start at its end.
            self.to_bottom();
            self.top = (0, 0);
        } else if let Some(pos) = self
            .top_id
            .and_then(|id| self.entries.iter().position(|e| e.id == id))
        {
            self.top.0 = pos;
        } else {
            self.top.0 = self.top.0.min(self.entries.len().saturating_sub(1));
        }
    }

    fn fix_prefix(&mut self) {
        let n = self.entries.len();
        self.prefix.resize(n + 1, 0);
        for i in self.dirty_from.min(n)..n {
            self.prefix[i + 1] = self.prefix[i] + self.entries[i].height;
        }
        self.dirty_from = n;
    }

    /// Make entry `i`'s lines current.
    fn ensure(&mut self, i: usize, messages: &[Message], theme: &Theme) {
        let width = self.width;
        let e = &mut self.entries[i];
        if e.width == width {
            return;
        }
        let Some(m) = messages.get(i) else { return };
        e.lines = message_lines(m, width, theme, self.offset);
        e.width = width;
        if e.lines.len() != e.height {
            self.dirty_from = self.dirty_from.min(i);
        }
        e.height = e.lines.len();
        e.base = Some((e.height, width, m.text().len()));
        self.renders += 1;
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

/// The header line(s), body and separator of one message.
fn message_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    offset: FixedOffset,
) -> Vec<Line<'static>> {
    let mut header: Vec<Span<'static>> = Vec::new();
    match m.speaker {
        Speaker::User => header.push(Span::styled("You", theme.user)),
        Speaker::System => header.push(Span::styled("System", theme.system)),
        Speaker::Assistant => {
            header.push(Span::styled("Assistant", theme.assistant));
            if let Some(model) = &m.model {
                header.push(Span::styled(format!(" ({model})"), theme.dim));
            }
        }
        Speaker::Summary => {
            let n = m.summary_of.len();
            let s = if n == 1 { "" } else { "s" };
            header.push(Span::styled(
                format!("Summary of {n} message{s}"),
                theme.summary,
            ));
        }
    }
    let time = m.created.with_timezone(&offset).format("%H:%M");
    header.push(Span::styled(format!(" · {time}"), theme.dim));
    match &m.status {
        Status::Complete => {}
        Status::Partial => header.push(Span::styled("  ▍ streaming", theme.accent)),
        Status::Cancelled => header.push(Span::styled(" · cancelled", theme.warning)),
        Status::Failed { error } => {
            let error = error.replace(['\n', '\r'], " ");
            header.push(Span::styled(format!(" · failed: {error}"), theme.error));
        }
        Status::Incomplete => header.push(Span::styled(
            " · incomplete — the stream ended early",
            theme.warning,
        )),
    }
    if m.choices.len() > 1 {
        let sel = if m.selected < m.choices.len() {
            m.selected + 1
        } else {
            1
        };
        header.push(Span::styled(
            format!(" · choice {sel}/{}", m.choices.len()),
            theme.accent,
        ));
    }
    let mut lines = markdown::wrap_spans(&header, width);
    match m.speaker {
        Speaker::Assistant | Speaker::Summary => {
            lines.extend(markdown::render(m.text(), width, theme));
        }
        Speaker::User | Speaker::System => {
            lines.extend(markdown::render_plain(m.text(), width, Style::default()));
        }
    }
    lines.push(Line::default());
    lines
}
