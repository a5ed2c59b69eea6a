//! The conversation view: a per-message cache of wrapped lines and the visible window.
//!
//! A frame costs O(messages) cheap comparisons (ids and versions) plus rendering the
//! messages that are visible and changed. Messages never shown have estimated heights,
//! corrected when they are drawn; the view is anchored to a message and a line inside it,
//! so corrections above the view never make it jump.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Local, Offset, Utc};
use ratatui::buffer::{Buffer, Cell};
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
    /// With the id, tells messages of different conversations apart (ids restart at 1).
    created: DateTime<Utc>,
    version: u64,
    /// The text length at `version`: a cheap extra check that the text did not change.
    len: usize,
    selected: usize,
    /// The width `lines` were rendered at; 0 when they are stale.
    width: u16,
    lines: Vec<Line<'static>>,
    /// Exact when `width` is the current width, else an estimate.
    height: usize,
    /// (height, width, text length) of the last exact rendering, for estimates.
    base: Option<(usize, u16, usize)>,
    /// While the message streams: its finished blocks, rendered once.
    stream: Option<StreamCache>,
}

/// The part of a streaming reply that no longer changes: the text up to the last blank
/// line outside a code fence, and its rendered lines. Each new token then only re-renders
/// the last block, so a frame's cost does not grow with the reply. The split is checked
/// against a full rendering whenever it moves; where they differ (e.g. a loose list), the
/// message is rendered whole.
struct StreamCache {
    width: u16,
    selected: usize,
    prefix: String,
    lines: Vec<Line<'static>>,
    /// The split rendered exactly like the whole when last checked.
    ok: bool,
}

impl Entry {
    fn new(m: &Message, width: u16) -> Self {
        let mut e = Self {
            id: m.id,
            created: m.created,
            version: m.version,
            len: m.text().len(),
            selected: m.selected,
            width: 0,
            lines: Vec::new(),
            height: 0,
            base: None,
            stream: None,
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
}

/// Messages this close to the top of the view keep their lines when evicting.
const KEEP_NEAR: usize = 64;

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
            grown_last: None,
            cached: 0,
            cache_limit: 200_000,
            rows: Vec::new(),
            rows_area: Rect::default(),
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
        // Every row is written below (copied, drawn, or reset), so no clearing pass first.
        self.last_height = area.height as usize;
        if area.width < 2 || area.height == 0 {
            Clear.render(area, buf);
            return;
        }
        let width = area.width - 1;
        let height = area.height as usize;
        self.sync(messages, width);
        let n = self.entries.len();
        if n == 0 {
            Clear.render(area, buf);
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
        if self.rows_area != area {
            self.rows.clear();
            self.rows_area = area;
        }
        let (mut i, mut off) = self.top;
        let mut y = 0;
        while y < height && i < n {
            self.ensure(i, messages, theme);
            for line in self.entries[i].lines.iter().skip(off) {
                if y >= height {
                    break;
                }
                let row_y = area.y + y as u16;
                match self.rows.get(y) {
                    Some((prev, cells)) if prev == line => {
                        let start = buf.index_of(area.x, row_y);
                        buf.content[start..start + cells.len()].clone_from_slice(cells);
                    }
                    _ => {
                        buf.set_line(area.x, row_y, line, width);
                        let start = buf.index_of(area.x, row_y);
                        let cells = buf.content[start..start + usize::from(width)].to_vec();
                        if self.rows.len() <= y {
                            self.rows
                                .resize_with(y + 1, || (Line::default(), Vec::new()));
                        }
                        self.rows[y] = (line.clone(), cells);
                    }
                }
                y += 1;
            }
            i += 1;
            off = 0;
        }
        self.rows.truncate(y);
        // Rows below the last line, and the scrollbar column (drawn over below if needed).
        for row in y..height {
            let start = buf.index_of(area.x, area.y + row as u16);
            buf.content[start..start + usize::from(width)].fill(Cell::default());
        }
        for row in 0..height {
            buf[(area.x + width, area.y + row as u16)] = Cell::default();
        }

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

    /// Bring the index up to date with `messages` (ids, versions, width).
    fn sync(&mut self, messages: &[Message], width: u16) {
        let width_changed = width != self.width;
        if width_changed {
            self.width = width;
            self.dirty_from = 0;
        }
        let old_len = self.entries.len();
        let same_prefix = old_len <= messages.len()
            && self
                .entries
                .iter()
                .zip(messages)
                .all(|(e, m)| e.id == m.id && e.created == m.created);
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
        let n = self.entries.len();
        self.grown_last = None;
        let mut dropped = 0;
        for (i, (e, m)) in self.entries.iter_mut().zip(messages).enumerate() {
            let changed =
                e.version != m.version || e.selected != m.selected || e.len != m.text().len();
            if !changed && !width_changed {
                continue;
            }
            let old_h = e.height;
            if changed {
                e.version = m.version;
                e.selected = m.selected;
                e.len = m.text().len();
            }
            e.width = 0;
            dropped += e.lines.len();
            e.lines = Vec::new();
            e.height = e.estimate(m, width);
            if e.height != old_h {
                self.dirty_from = self.dirty_from.min(i);
            }
            if changed && !self.following && i >= top {
                if i + 1 == n {
                    // Rendered exactly in `render`, so the count is right.
                    self.grown_last = Some(old_h);
                } else {
                    self.new_lines += e.height.saturating_sub(old_h);
                }
            }
        }
        self.cached -= dropped;
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

    /// Drop cached lines of messages away from the view, when over the limit.
    fn evict(&mut self) {
        if self.cached <= self.cache_limit {
            return;
        }
        let n = self.entries.len();
        let keep = self.top.0.saturating_sub(KEEP_NEAR)..(self.top.0 + KEEP_NEAR).min(n);
        for (i, e) in self.entries.iter_mut().enumerate() {
            if keep.contains(&i) || i + 1 == n || e.lines.is_empty() {
                continue;
            }
            self.cached -= e.lines.len();
            e.lines = Vec::new();
            // Stale, but `height` stays exact for this width.
            e.width = 0;
        }
    }

    /// The message list changed other than by appending: re-index by id, keeping cached
    /// entries of the messages that are still there.
    fn rebuild(&mut self, messages: &[Message], width: u16) {
        let mut old: HashMap<(MessageId, DateTime<Utc>), Entry> = self
            .entries
            .drain(..)
            .map(|e| ((e.id, e.created), e))
            .collect();
        let mut kept = 0;
        self.entries = messages
            .iter()
            .map(|m| match old.remove(&(m.id, m.created)) {
                Some(e) => {
                    kept += 1;
                    e
                }
                None => Entry::new(m, width),
            })
            .collect();
        self.dirty_from = 0;
        self.cached = self.entries.iter().map(|e| e.lines.len()).sum();
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
        self.cached -= e.lines.len();
        e.lines = if m.status == Status::Partial && m.speaker == Speaker::Assistant {
            streaming_lines(m, width, theme, self.offset, &mut e.stream)
        } else {
            e.stream = None;
            message_lines(m, width, theme, self.offset)
        };
        self.cached += e.lines.len();
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

/// Where the finished blocks of a streaming text end: after the last blank line that is
/// outside a code fence (0 when there is none).
fn stable_split(text: &str) -> usize {
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
fn streaming_lines(
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
        let mut lines = markdown::wrap_spans(&header_spans(m, theme, offset), width);
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
    let mut lines = markdown::wrap_spans(&header_spans(m, theme, offset), width);
    lines.extend(body);
    lines.push(Line::default());
    lines
}

/// The header of a message: who, when, its state and its choice.
fn header_spans(m: &Message, theme: &Theme, offset: FixedOffset) -> Vec<Span<'static>> {
    let mut header: Vec<Span<'static>> = Vec::new();
    match m.speaker {
        Speaker::User => header.push(Span::styled("You", theme.user)),
        Speaker::System => header.push(Span::styled("System", theme.system)),
        Speaker::Assistant => {
            header.push(Span::styled("Assistant", theme.assistant));
            if let Some(model) = &m.model {
                let model = crate::ui::sanitize::sanitize(model);
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
            let error =
                crate::ui::sanitize::sanitize(&error.replace(['\n', '\r'], " ")).into_owned();
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
    header
}

/// The header line(s), body and separator of one message.
fn message_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    offset: FixedOffset,
) -> Vec<Line<'static>> {
    let mut lines = markdown::wrap_spans(&header_spans(m, theme, offset), width);
    match m.speaker {
        Speaker::Assistant | Speaker::Summary => {
            lines.extend(markdown::render(m.text(), width, theme));
            // An insertion (`/insert`): the reply stands between the prompt and this text.
            if let Some(suffix) = m.suffix.as_deref().filter(|s| !s.is_empty()) {
                lines.push(Line::from(Span::styled("⟨suffix⟩", theme.dim)));
                lines.extend(markdown::render_plain(suffix, width, theme.dim));
            }
        }
        Speaker::User | Speaker::System => {
            lines.extend(markdown::render_plain(m.text(), width, Style::default()));
        }
    }
    lines.push(Line::default());
    lines
}

#[cfg(test)]
mod stream_tests {
    use super::*;
    use crate::chat::conversation::Choice;
    use chrono::FixedOffset;

    /// Growing a reply token by token gives, at every step, exactly the lines a full
    /// rendering of the same text gives.
    #[test]
    fn incremental_streaming_render_equals_full_render() {
        let text = "# Title\n\nFirst paragraph with **bold** text and `code`.\n\n- item one\n- item two\n\n1. first\n\n2. loose second\n\n```rust\nfn main() {\n\n    println!(\"hi\");\n}\n```\n\n> quote\n>\n> more quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nLast paragraph 你好 世界 that keeps going and going.";
        let theme = Theme::default();
        let offset = FixedOffset::east_opt(0).unwrap();
        let mut cache = None;
        let mut m = Message::new(1, Speaker::Assistant, "");
        m.status = Status::Partial;
        m.choices = vec![Choice::default()];
        for (i, c) in text.char_indices() {
            m.choices[0].text = text[..i + c.len_utf8()].to_string();
            for width in [17u16, 40, 80] {
                let inc = streaming_lines(&m, width, &theme, offset, &mut cache);
                let full = message_lines(&m, width, &theme, offset);
                assert_eq!(inc, full, "after {:?}", &m.choices[0].text);
            }
        }
        assert!(stable_split(text) > 0);
    }

    #[test]
    fn splits_only_outside_fences() {
        assert_eq!(stable_split("a\n\nb"), 3);
        assert_eq!(stable_split("a\n\n```\nx\n\ny"), 3);
        assert_eq!(stable_split("no blank line"), 0);
        assert_eq!(stable_split("a\n\n"), 0);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use unicode_width::UnicodeWidthStr;

    use super::*;
    use crate::chat::conversation::Choice;

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
            }];
        } else {
            m.content = text.into();
        }
        m
    }

    fn view() -> HistoryView {
        let mut v = HistoryView::new();
        v.set_utc_offset(FixedOffset::east_opt(0).unwrap());
        v
    }

    fn draw(v: &mut HistoryView, msgs: &[Message], w: u16, h: u16) -> String {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| v.render(msgs, f.area(), f.buffer_mut(), &Theme::default(), true))
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
}
