//! The per-message line cache: an entry per message with its rendered lines (or an
//! estimated height), kept in step with the messages, and evicted far from the view.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ratatui::text::Line;

use super::ConversationView;
use super::message::message_lines;
use super::stream::{StreamCache, streaming_lines};
use crate::chat::conversation::{Message, MessageId, Speaker, Status};
use crate::ui::markdown::LineMeta;
use crate::ui::theme::Theme;

/// One message in the cache: what it was rendered from, and its lines or height.
pub(super) struct Entry {
    pub(super) id: MessageId,
    /// With the id, tells messages of different conversations apart (ids restart at 1).
    created: DateTime<Utc>,
    version: u64,
    /// The text length at `version`: a cheap extra check that the text did not change.
    len: usize,
    selected: usize,
    /// The width `lines` were rendered at; 0 when they are stale.
    pub(super) width: u16,
    pub(super) lines: Vec<Line<'static>>,
    /// What each of `lines` is made of (for copying text off the screen).
    pub(super) meta: Vec<LineMeta>,
    /// Lines of the header, at the start of `lines`.
    pub(super) head: usize,
    /// The code blocks the message draws (None: not counted since it changed).
    code_count: Option<usize>,
    /// The number of code blocks above this message: its first is labelled `code_base + 1`.
    code_base: usize,
    /// Exact when `width` is the current width, else an estimate.
    pub(super) height: usize,
    /// (height, width, text length) of the last exact rendering, for estimates.
    base: Option<(usize, u16, usize)>,
    /// While the message streams: its finished blocks, rendered once.
    stream: Option<StreamCache>,
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
            meta: Vec::new(),
            head: 0,
            code_count: None,
            code_base: 0,
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

/// Messages this close to the top of the view keep their lines when evicting.
pub(super) const KEEP_NEAR: usize = 64;

impl ConversationView {
    /// Bring the index up to date with `messages` (ids, versions, width).
    pub(super) fn sync(&mut self, messages: &[Message], width: u16) {
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
                e.code_count = None;
            }
            e.width = 0;
            dropped += e.lines.len();
            let (lines, meta) = (std::mem::take(&mut e.lines), std::mem::take(&mut e.meta));
            // A streaming reply keeps the layout of its finished blocks.
            if let Some(s) = e.stream.as_mut() {
                s.recycle(lines, meta);
            }
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

    /// Drop cached lines of messages away from the view, when over the limit.
    pub(super) fn evict(&mut self) {
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
            e.meta = Vec::new();
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

    /// Number the code blocks across the conversation: each message's first block follows
    /// the blocks of the messages above it. A message whose number changed (a reply above
    /// it gained or lost a block) is drawn again; the others keep their lines. Counting a
    /// message never drawn parses it once (most have no code and need no parse).
    pub(super) fn number_code_blocks(&mut self, messages: &[Message]) {
        let mut base = 0;
        let n = self.entries.len();
        for (i, (e, m)) in self.entries.iter_mut().zip(messages).enumerate() {
            if e.code_base != base {
                e.code_base = base;
                // A message without code draws the same whatever its number.
                if e.width != 0 && e.code_count != Some(0) {
                    e.width = 0;
                    self.cached -= e.lines.len();
                    e.lines = Vec::new();
                    e.meta = Vec::new();
                }
            }
            if i + 1 < n {
                let count = *e
                    .code_count
                    .get_or_insert_with(|| crate::chat::code::count_in(m));
                base += count;
            }
        }
    }

    pub(super) fn fix_prefix(&mut self) {
        let n = self.entries.len();
        self.prefix.resize(n + 1, 0);
        for i in self.dirty_from.min(n)..n {
            self.prefix[i + 1] = self.prefix[i] + self.entries[i].height;
        }
        self.dirty_from = n;
    }

    /// Make entry `i`'s lines current.
    pub(super) fn ensure(&mut self, i: usize, messages: &[Message], theme: &Theme) {
        let width = self.width;
        let e = &mut self.entries[i];
        if e.width == width {
            return;
        }
        let Some(m) = messages.get(i) else { return };
        self.cached -= e.lines.len();
        let mut out = if m.status == Status::Partial && m.speaker == Speaker::Assistant {
            streaming_lines(m, width, theme, self.offset, &mut e.stream, e.code_base)
        } else {
            e.stream = None;
            message_lines(m, width, theme, self.offset, e.code_base)
        };
        // The token tint, on a finished reply with log probabilities: a pass over its body.
        if self.tint
            && m.status != Status::Partial
            && let Some(l) = crate::app::logprobs::choice_logprobs(m)
        {
            let head = out.head.min(out.lines.len());
            super::tint::tint(&mut out.lines[head..], m.text(), l, theme);
        }
        e.lines = out.lines;
        e.meta = out.meta;
        e.head = out.head;
        e.code_count = Some(out.code_blocks);
        self.cached += e.lines.len();
        e.width = width;
        if e.lines.len() != e.height {
            self.dirty_from = self.dirty_from.min(i);
        }
        e.height = e.lines.len();
        e.base = Some((e.height, width, m.text().len()));
        self.renders += 1;
    }
}
