//! Word wrapping of styled text, and display widths.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use super::LineMeta;

/// Display width of one grapheme.
#[inline]
fn grapheme_width(g: &str) -> usize {
    if g.len() == 1 { 1 } else { g.width() }
}

pub(super) fn spaces(n: usize) -> Span<'static> {
    Span::raw(" ".repeat(n))
}

pub(super) fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.width()).sum()
}

/// Cut `spans` to at most `max` display cells.
pub(super) fn truncate_spans(spans: Vec<Span<'static>>, max: usize) -> (Vec<Span<'static>>, usize) {
    let mut out = Vec::with_capacity(spans.len());
    let mut w = 0;
    for span in spans {
        let sw = span.content.width();
        if w + sw <= max {
            w += sw;
            out.push(span);
            continue;
        }
        let mut s = String::new();
        for g in span.content.graphemes(true) {
            let gw = grapheme_width(g);
            if w + gw > max {
                break;
            }
            w += gw;
            s.push_str(g);
        }
        if !s.is_empty() {
            out.push(Span::styled(s, span.style));
        }
        break;
    }
    (out, w)
}

/// Word-wraps styled text into lines of at most `width` cells, each starting with a prefix
/// (one for the first line, another for the rest: hanging indents, quote bars).
pub(crate) struct Wrapper {
    width: usize,
    first: Vec<Span<'static>>,
    first_w: usize,
    rest: Vec<Span<'static>>,
    rest_w: usize,
    out: Vec<Line<'static>>,
    cur: Vec<Span<'static>>,
    cur_w: usize,
    /// The current line was started by a hard break and must be emitted even if empty.
    open: bool,
    /// The current line was started by wrapping (so leading spaces are dropped).
    soft: bool,
    /// Spaces the wrap that started the current line dropped (put back when copying).
    join_space: usize,
    /// Leading cells of a first line, and of a line after a hard break, that are drawing
    /// (quote bars), not text.
    lead_first: u16,
    lead_rest: u16,
    meta: Vec<LineMeta>,
    word: String,
    /// (start offset in `word`, style) runs.
    word_runs: Vec<(usize, Style)>,
    word_w: usize,
    space: String,
    space_style: Style,
    space_w: usize,
}

impl Wrapper {
    pub(crate) fn new(width: usize) -> Self {
        Self::with_prefix(width, Vec::new(), Vec::new())
    }

    pub(super) fn with_prefix(
        width: usize,
        first: Vec<Span<'static>>,
        rest: Vec<Span<'static>>,
    ) -> Self {
        let first_w = spans_width(&first);
        let rest_w = spans_width(&rest);
        Self {
            width,
            first,
            first_w,
            rest,
            rest_w,
            out: Vec::new(),
            cur: Vec::new(),
            cur_w: 0,
            open: false,
            soft: false,
            join_space: 0,
            lead_first: 0,
            lead_rest: 0,
            meta: Vec::new(),
            word: String::new(),
            word_runs: Vec::new(),
            word_w: 0,
            space: String::new(),
            space_style: Style::default(),
            space_w: 0,
        }
    }

    /// Cells at the start of first and later (unwrapped) lines that are not text; a wrapped
    /// line's whole prefix (its hanging indent) never is.
    pub(super) fn with_leads(mut self, first: usize, rest: usize) -> Self {
        self.lead_first = first.min(usize::from(u16::MAX)) as u16;
        self.lead_rest = rest.min(usize::from(u16::MAX)) as u16;
        self
    }

    fn cap(&self) -> usize {
        let prefix = if self.out.is_empty() {
            self.first_w
        } else {
            self.rest_w
        };
        self.width.saturating_sub(prefix).max(1)
    }

    fn rest_cap(&self) -> usize {
        self.width.saturating_sub(self.rest_w).max(1)
    }

    /// Append `text` (sanitized) in `style`. `\n` is a hard line break.
    pub(crate) fn push(&mut self, text: &str, style: Style) {
        for g in text.graphemes(true) {
            let b = g.as_bytes()[0];
            if b == b'\n' {
                self.flush_word();
                self.clear_space();
                self.end_line(false);
                self.open = true;
            } else if b == b' ' || (b >= 0x80 && g.chars().all(char::is_whitespace)) {
                self.flush_word();
                self.space.push_str(g);
                self.space_style = style;
                self.space_w += grapheme_width(g);
            } else {
                let w = grapheme_width(g);
                if w >= 2 {
                    // Wide (CJK) characters: a line may break before and after each.
                    self.flush_word();
                    self.add_to_word(g, style, w);
                    self.flush_word();
                } else {
                    self.add_to_word(g, style, w);
                }
            }
        }
    }

    fn add_to_word(&mut self, g: &str, style: Style, w: usize) {
        if self.word_runs.last().is_none_or(|&(_, s)| s != style) {
            self.word_runs.push((self.word.len(), style));
        }
        self.word.push_str(g);
        self.word_w += w;
    }

    fn clear_space(&mut self) {
        self.space.clear();
        self.space_w = 0;
    }

    fn put(&mut self, text: &str, style: Style, w: usize) {
        match self.cur.last_mut() {
            Some(last) if last.style == style => last.content.to_mut().push_str(text),
            _ => self.cur.push(Span::styled(text.to_string(), style)),
        }
        self.cur_w += w;
    }

    fn flush_word(&mut self) {
        if self.word.is_empty() {
            return;
        }
        let word = std::mem::take(&mut self.word);
        let runs = std::mem::take(&mut self.word_runs);
        let word_w = std::mem::replace(&mut self.word_w, 0);
        let space = std::mem::take(&mut self.space);
        let space_w = std::mem::replace(&mut self.space_w, 0);
        let space_w = if self.cur_w == 0 && self.soft {
            // Spaces at the start of a wrapped line are dropped: the wrap took them.
            self.join_space += space.chars().count();
            0
        } else {
            space_w
        };
        let dropped = space.chars().count();
        let cap = self.cap();
        let run_text = |i: usize| {
            let (start, style) = runs[i];
            let end = runs.get(i + 1).map_or(word.len(), |r| r.0);
            (&word[start..end], style)
        };
        if self.cur_w + space_w + word_w <= cap {
            if space_w > 0 {
                self.put(&space, self.space_style, space_w);
            }
        } else if word_w <= self.rest_cap() {
            if self.cur_w > 0 {
                self.end_line(true);
                self.join_space = dropped;
            }
        } else {
            // Longer than a line: break it between graphemes.
            if self.cur_w > 0 {
                self.end_line(true);
                self.join_space = dropped;
            }
            for i in 0..runs.len() {
                let (text, style) = run_text(i);
                for g in text.graphemes(true) {
                    let (g, w) = fit_grapheme(g, self.cap());
                    if self.cur_w > 0 && self.cur_w + w > self.cap() {
                        self.end_line(true);
                    }
                    self.put(g, style, w);
                }
            }
            self.space = space;
            self.space.clear();
            self.word = word;
            self.word.clear();
            return;
        }
        for i in 0..runs.len() {
            let (text, style) = run_text(i);
            self.put(text, style, text.width());
        }
        // Keep the allocations.
        self.space = space;
        self.space.clear();
        self.word = word;
        self.word.clear();
    }

    fn end_line(&mut self, soft: bool) {
        let lead = if self.soft {
            self.rest_w.min(usize::from(u16::MAX)) as u16
        } else if self.out.is_empty() {
            self.lead_first
        } else {
            self.lead_rest
        };
        self.meta.push(LineMeta {
            lead,
            soft: self.soft,
            space: self.join_space.min(usize::from(u8::MAX)) as u8,
            deco: false,
        });
        self.join_space = 0;
        let prefix = if self.out.is_empty() {
            &self.first
        } else {
            &self.rest
        };
        let mut spans = Vec::with_capacity(prefix.len() + self.cur.len());
        spans.extend(prefix.iter().cloned());
        spans.append(&mut self.cur);
        self.out.push(Line::from(spans));
        self.cur_w = 0;
        self.soft = soft;
        self.open = false;
    }

    pub(crate) fn finish(self) -> Vec<Line<'static>> {
        self.finish_meta().0
    }

    /// The lines, and for each what it is made of (see [`LineMeta`]).
    pub(crate) fn finish_meta(mut self) -> (Vec<Line<'static>>, Vec<LineMeta>) {
        self.flush_word();
        if self.cur_w > 0 || !self.cur.is_empty() || self.open {
            self.end_line(false);
        }
        (self.out, self.meta)
    }
}

/// A grapheme and its width, or a one-cell stand-in when it is wider than a whole line
/// (a wide character at width 1), so no line is ever wider than its width.
pub(super) fn fit_grapheme(g: &str, cap: usize) -> (&str, usize) {
    let w = grapheme_width(g);
    if w > cap.max(1) { ("?", 1) } else { (g, w) }
}
