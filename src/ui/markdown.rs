//! Markdown to styled, wrapped terminal lines.
//!
//! Everything here is linear in the input: the parser is driven as a flat event stream, the
//! container stack is only walked to a fixed depth, and inline styles are kept as a stack of
//! already-combined styles.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, HighlightState, ThemeSet};
use syntect::parsing::{ParseState, SyntaxReference, SyntaxSet};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use crate::ui::sanitize::sanitize;
use crate::ui::theme::Theme;

/// Containers nested deeper than this add no more indentation (nor markers).
pub const MAX_DEPTH: usize = 12;

static SYNTAXES: OnceLock<SyntaxSet> = OnceLock::new();
static THEMES: OnceLock<ThemeSet> = OnceLock::new();

fn syntaxes() -> &'static SyntaxSet {
    SYNTAXES.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn themes() -> &'static ThemeSet {
    THEMES.get_or_init(ThemeSet::load_defaults)
}

/// Load the syntax definitions and highlighting themes (tens of milliseconds). Call it from
/// a background thread at startup so the first code block does not stall a frame.
pub fn warm_up() {
    syntaxes();
    themes();
}

/// Display width of one grapheme.
#[inline]
fn grapheme_width(g: &str) -> usize {
    if g.len() == 1 { 1 } else { g.width() }
}

fn spaces(n: usize) -> Span<'static> {
    Span::raw(" ".repeat(n))
}

fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.width()).sum()
}

/// Cut `spans` to at most `max` display cells.
fn truncate_spans(spans: Vec<Span<'static>>, max: usize) -> (Vec<Span<'static>>, usize) {
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

    fn with_prefix(width: usize, first: Vec<Span<'static>>, rest: Vec<Span<'static>>) -> Self {
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
            word: String::new(),
            word_runs: Vec::new(),
            word_w: 0,
            space: String::new(),
            space_style: Style::default(),
            space_w: 0,
        }
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
            0
        } else {
            space_w
        };
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
            }
        } else {
            // Longer than a line: break it between graphemes.
            if self.cur_w > 0 {
                self.end_line(true);
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

    pub(crate) fn finish(mut self) -> Vec<Line<'static>> {
        self.flush_word();
        if self.cur_w > 0 || !self.cur.is_empty() || self.open {
            self.end_line(false);
        }
        self.out
    }
}

/// A grapheme and its width, or a one-cell stand-in when it is wider than a whole line
/// (a wide character at width 1), so no line is ever wider than its width.
fn fit_grapheme(g: &str, cap: usize) -> (&str, usize) {
    let w = grapheme_width(g);
    if w > cap.max(1) { ("?", 1) } else { (g, w) }
}

/// Wrap styled spans (sanitized first) to `width` cells; `\n` breaks lines.
pub fn wrap_spans(spans: &[Span<'_>], width: u16) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let mut w = Wrapper::new(width as usize);
    for s in spans {
        w.push(&sanitize(&s.content), s.style);
    }
    w.finish()
}

/// Plain text (no Markdown), sanitized and wrapped to `width`, newlines preserved.
pub fn render_plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let text = sanitize(text);
    let mut w = Wrapper::new(width as usize);
    w.push(&text, style);
    let mut lines = w.finish();
    while lines.last().is_some_and(|l| l.width() == 0) {
        lines.pop();
    }
    lines
}

enum Container {
    Quote,
    Item {
        marker: String,
        width: usize,
        style: Style,
        emitted: bool,
    },
}

#[derive(Default)]
struct TableBuf {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<Vec<(String, Style)>>>,
    header_rows: usize,
    row: Vec<Vec<(String, Style)>>,
    cell: Vec<(String, Style)>,
    in_head: bool,
}

struct Renderer<'t> {
    theme: &'t Theme,
    width: usize,
    out: Vec<Line<'static>>,
    containers: Vec<Container>,
    lists: Vec<Option<u64>>,
    styles: Vec<Style>,
    wrapper: Option<Wrapper>,
    pending_blank: bool,
    links: Vec<(String, String)>,
    code: Option<(String, String)>,
    table: Option<TableBuf>,
}

const BULLETS: [&str; 3] = ["• ", "◦ ", "▪ "];

impl<'t> Renderer<'t> {
    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, s: Style) {
        let combined = self.style().patch(s);
        self.styles.push(combined);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    /// Prefixes (first line, other lines) for a block at the current nesting. With `mark`,
    /// list markers not yet shown go on the first line (and count as shown).
    fn prefixes(&mut self, mark: bool) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        let mut first = Vec::new();
        let mut rest = Vec::new();
        let quote = self.theme.quote.remove_modifier(Modifier::ITALIC);
        for c in self.containers.iter_mut().take(MAX_DEPTH) {
            match c {
                Container::Quote => {
                    first.push(Span::styled("│ ", quote));
                    rest.push(Span::styled("│ ", quote));
                }
                Container::Item {
                    marker,
                    width,
                    style,
                    emitted,
                } => {
                    if mark && !*emitted {
                        first.push(Span::styled(marker.clone(), *style));
                        *emitted = true;
                    } else {
                        first.push(spaces(*width));
                    }
                    rest.push(spaces(*width));
                }
            }
        }
        // Never let indentation eat more than half the width.
        let max = self.width / 2;
        (truncate_spans(first, max).0, truncate_spans(rest, max).0)
    }

    fn flush_wrapper(&mut self) {
        if let Some(w) = self.wrapper.take() {
            self.out.extend(w.finish());
        }
    }

    /// Start a block: finish inline text, add the blank line between blocks, and return
    /// the prefixes for the new block.
    fn begin_block(&mut self) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
        self.flush_wrapper();
        self.blank_if_pending();
        self.prefixes(true)
    }

    /// The blank line between two blocks, if one is due.
    fn blank_if_pending(&mut self) {
        if self.pending_blank && !self.out.is_empty() {
            let (_, rest) = self.prefixes(false);
            let mut line = Line::from(rest);
            // No trailing indentation on blank lines.
            while line
                .spans
                .last()
                .is_some_and(|s| s.content.trim().is_empty())
            {
                line.spans.pop();
            }
            if let Some(last) = line.spans.last_mut() {
                let trimmed = last.content.trim_end().to_string();
                last.content = trimmed.into();
            }
            self.out.push(line);
        }
        self.pending_blank = false;
    }

    fn start_wrapper(&mut self) {
        let (first, rest) = self.begin_block();
        self.wrapper = Some(Wrapper::with_prefix(self.width, first, rest));
    }

    fn inline(&mut self, text: &str, style: Style) {
        if let Some((_, link_text)) = self.links.last_mut() {
            link_text.push_str(text);
        }
        if let Some(t) = &mut self.table {
            let style = if t.in_head {
                style.add_modifier(Modifier::BOLD)
            } else {
                style
            };
            let text = text.replace('\n', " ");
            match t.cell.last_mut() {
                Some((s, st)) if *st == style => s.push_str(&text),
                _ => t.cell.push((text, style)),
            }
            return;
        }
        if self.wrapper.is_none() {
            self.start_wrapper();
        }
        if let Some(w) = &mut self.wrapper {
            w.push(text, style);
        }
    }

    fn end_block(&mut self) {
        self.flush_wrapper();
        self.pending_blank = true;
    }

    fn event(&mut self, ev: Event<'_>) {
        let t = self.theme;
        match ev {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(s) => {
                if let Some((_, body)) = &mut self.code {
                    body.push_str(&s);
                } else {
                    self.inline(&s, self.style());
                }
            }
            Event::Code(s) => self.inline(&s, self.style().patch(t.code)),
            Event::InlineMath(s) | Event::DisplayMath(s) => {
                self.inline(&s, self.style().patch(t.code))
            }
            Event::Html(s) | Event::InlineHtml(s) => {
                if let Some((_, body)) = &mut self.code {
                    body.push_str(&s);
                } else {
                    self.inline(&s, self.style().patch(t.dim));
                }
            }
            Event::FootnoteReference(s) => self.inline(&format!("[^{s}]"), t.link),
            Event::SoftBreak => self.inline(" ", self.style()),
            Event::HardBreak => self.inline("\n", self.style()),
            Event::Rule => {
                let (first, _) = self.begin_block();
                let w = self.width.saturating_sub(spans_width(&first));
                let mut spans = first;
                spans.push(Span::styled("─".repeat(w), t.dim));
                self.out.push(Line::from(spans));
                self.pending_blank = true;
            }
            Event::TaskListMarker(done) => {
                if done {
                    self.inline("[x] ", t.ok);
                } else {
                    self.inline("[ ] ", t.dim);
                }
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        let t = self.theme;
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.start_wrapper(),
            Tag::Heading { level, .. } => {
                self.start_wrapper();
                let n = match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    HeadingLevel::H4 => 4,
                    HeadingLevel::H5 => 5,
                    HeadingLevel::H6 => 6,
                };
                let mut style = t.heading;
                if n == 1 {
                    style = style.add_modifier(Modifier::UNDERLINED);
                }
                self.push_style(style);
                let marks = format!("{} ", "#".repeat(n));
                self.inline(&marks, self.style());
            }
            Tag::BlockQuote(_) => {
                self.flush_wrapper();
                self.blank_if_pending();
                self.containers.push(Container::Quote);
                self.push_style(t.quote);
            }
            Tag::CodeBlock(kind) => {
                self.flush_wrapper();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.flush_wrapper();
                self.blank_if_pending();
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush_wrapper();
                let depth = self.lists.len().saturating_sub(1);
                let (marker, style) = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        (m, t.accent)
                    }
                    _ => (BULLETS[depth % BULLETS.len()].to_string(), t.accent),
                };
                let width = marker.width();
                self.containers.push(Container::Item {
                    marker,
                    width,
                    style,
                    emitted: false,
                });
                self.pending_blank = false;
            }
            Tag::Table(aligns) => {
                self.flush_wrapper();
                self.table = Some(TableBuf {
                    aligns,
                    ..TableBuf::default()
                });
            }
            Tag::TableHead => {
                if let Some(tb) = &mut self.table {
                    tb.in_head = true;
                }
            }
            Tag::TableRow | Tag::TableCell => {}
            Tag::Emphasis => self.push_style(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.push_style(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { dest_url, .. } => {
                self.push_style(t.link);
                self.links.push((dest_url.to_string(), String::new()));
            }
            Tag::Image { dest_url, .. } => {
                self.inline("[image: ", t.dim);
                self.push_style(t.link);
                self.links.push((dest_url.to_string(), String::new()));
            }
            // Superscript, subscript, footnotes, definition lists, metadata: not enabled;
            // their text still shows.
            _ => self.push_style(Style::new()),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        let t = self.theme;
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => self.end_block(),
            TagEnd::Heading(_) => {
                self.pop_style();
                self.end_block();
            }
            TagEnd::BlockQuote(_) => {
                self.flush_wrapper();
                self.containers.pop();
                self.pop_style();
                self.pending_blank = true;
            }
            TagEnd::CodeBlock => {
                if let Some((lang, body)) = self.code.take() {
                    let (first, rest) = self.begin_block();
                    self.code_block(&lang, &body, first, rest);
                    self.pending_blank = true;
                }
            }
            TagEnd::List(_) => {
                self.flush_wrapper();
                self.lists.pop();
                self.pending_blank = true;
            }
            TagEnd::Item => {
                self.flush_wrapper();
                if let Some(Container::Item { emitted: false, .. }) = self.containers.last() {
                    // An empty item: still show its marker.
                    let (first, _) = self.prefixes(true);
                    self.out.push(Line::from(first));
                }
                self.containers.pop();
            }
            TagEnd::Table => {
                if let Some(tb) = self.table.take() {
                    let (first, rest) = self.begin_block();
                    self.table_block(tb, first, rest);
                    self.pending_blank = true;
                }
            }
            TagEnd::TableHead => {
                if let Some(tb) = &mut self.table {
                    let row = std::mem::take(&mut tb.row);
                    tb.rows.push(row);
                    tb.header_rows = tb.rows.len();
                    tb.in_head = false;
                }
            }
            TagEnd::TableRow => {
                if let Some(tb) = &mut self.table {
                    let row = std::mem::take(&mut tb.row);
                    tb.rows.push(row);
                }
            }
            TagEnd::TableCell => {
                if let Some(tb) = &mut self.table {
                    let cell = std::mem::take(&mut tb.cell);
                    tb.row.push(cell);
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.pop_style(),
            TagEnd::Link | TagEnd::Image => {
                self.pop_style();
                if let Some((url, text)) = self.links.pop() {
                    if matches!(tag, TagEnd::Image) {
                        self.inline("]", t.dim);
                    }
                    let same = text == url || url.strip_prefix("mailto:") == Some(&text);
                    if !url.is_empty() && !same {
                        self.inline(" ", self.style());
                        self.inline(&format!("({url})"), t.dim);
                    }
                }
            }
            _ => self.pop_style(),
        }
    }

    fn code_block(
        &mut self,
        lang: &str,
        body: &str,
        first: Vec<Span<'static>>,
        rest: Vec<Span<'static>>,
    ) {
        let t = self.theme;
        let prefix = spans_width(&rest).max(spans_width(&first));
        // The gutter only where it leaves room for a character of code.
        let (gutter, gutter_w) = if self.width >= prefix + 3 {
            (Span::styled("▎ ", t.dim), 2)
        } else {
            (Span::raw(""), 0)
        };
        let avail = self.width.saturating_sub(prefix + gutter_w).max(1);
        // syntect takes about a second per megabyte, worse on very long lines: huge blocks
        // are shown plain rather than stalling the UI.
        let small = body.len() <= MAX_HIGHLIGHT_BYTES
            && body.split('\n').all(|l| l.len() <= MAX_HIGHLIGHT_LINE);
        let highlighted = find_syntax(lang).filter(|_| small).and_then(|syntax| {
            let ts = themes();
            let name = t.syntect_theme_name();
            let theme = ts.themes.get(name).or_else(|| ts.themes.values().next())?;
            highlight_block(syntax, theme, name, lang, body)
        });
        let body = body.strip_suffix('\n').unwrap_or(body);
        let plain = t.code_bg.patch(t.code);
        let mut is_first = true;
        for (k, src) in body.split('\n').enumerate() {
            let segs: Vec<(Style, &str)> = match highlighted.as_ref().and_then(|h| h.get(k)) {
                Some(line) => line
                    .iter()
                    .map(|(s, text)| (t.code_bg.patch(*s), text.as_str()))
                    .collect(),
                None => vec![(plain, src)],
            };
            let indent = src.len() - src.trim_start_matches(' ').len();
            let indent = indent.min(avail / 2);
            let mut cur: Vec<Span<'static>> = Vec::new();
            let mut cur_w = 0;
            let mut emit = |cur: &mut Vec<Span<'static>>, out: &mut Vec<Line<'static>>| {
                let mut spans = if is_first {
                    first.clone()
                } else {
                    rest.clone()
                };
                is_first = false;
                spans.push(gutter.clone());
                spans.append(cur);
                out.push(Line::from(spans));
            };
            for (style, text) in segs {
                for g in text.graphemes(true) {
                    let (g, w) = fit_grapheme(g, avail);
                    if cur_w > 0 && cur_w + w > avail {
                        emit(&mut cur, &mut self.out);
                        let indent = if indent + w <= avail { indent } else { 0 };
                        if indent > 0 {
                            cur.push(spaces(indent));
                        }
                        cur_w = indent;
                    }
                    match cur.last_mut() {
                        Some(last) if last.style == style => last.content.to_mut().push_str(g),
                        _ => cur.push(Span::styled(g.to_string(), style)),
                    }
                    cur_w += w;
                }
            }
            emit(&mut cur, &mut self.out);
        }
    }

    fn table_block(&mut self, tb: TableBuf, first: Vec<Span<'static>>, rest: Vec<Span<'static>>) {
        let t = self.theme;
        let ncols = tb
            .rows
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .max(tb.aligns.len());
        if ncols == 0 {
            return;
        }
        let prefix_w = spans_width(&first).max(spans_width(&rest));
        let chrome = 3 * ncols + 1;
        let avail = self.width.saturating_sub(prefix_w + chrome);
        let cell_w = |cell: &Vec<(String, Style)>| cell.iter().map(|(s, _)| s.width()).sum();
        // Columns are at least 2 cells wide, so any character fits.
        if avail < 2 * ncols {
            // Too narrow for boxes: one wrapped line per row, cells separated by bars.
            let mut w = Wrapper::with_prefix(self.width, first, rest);
            for row in &tb.rows {
                for (i, cell) in row.iter().enumerate() {
                    if i > 0 {
                        w.push(" │ ", t.border);
                    }
                    for (s, st) in cell {
                        w.push(s, *st);
                    }
                }
                w.push("\n", Style::default());
            }
            self.out.extend(w.finish());
            return;
        }
        let mut natural = vec![2usize; ncols];
        for row in &tb.rows {
            for (i, cell) in row.iter().enumerate() {
                natural[i] = natural[i].max(cell_w(cell));
            }
        }
        let widths = if natural.iter().sum::<usize>() <= avail {
            natural
        } else {
            // Narrow columns keep their width; the rest share what is left.
            let mut order: Vec<usize> = (0..ncols).collect();
            order.sort_by_key(|&i| natural[i]);
            let mut widths = vec![2usize; ncols];
            let mut remaining = avail;
            for (k, &i) in order.iter().enumerate() {
                let share = remaining / (ncols - k);
                widths[i] = natural[i].min(share).max(2);
                remaining = remaining.saturating_sub(widths[i]);
            }
            widths
        };
        let border = |l: &str, m: &str, r: &str| {
            let mut s = String::from(l);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    s.push_str(m);
                }
                s.push_str(&"─".repeat(w + 2));
            }
            s.push_str(r);
            s
        };
        let mut is_first = true;
        let mut push_line = |out: &mut Vec<Line<'static>>, mut spans: Vec<Span<'static>>| {
            let mut line = if is_first {
                first.clone()
            } else {
                rest.clone()
            };
            is_first = false;
            line.append(&mut spans);
            out.push(Line::from(line));
        };
        push_line(
            &mut self.out,
            vec![Span::styled(border("┌", "┬", "┐"), t.border)],
        );
        let empty = Vec::new();
        for (r, row) in tb.rows.iter().enumerate() {
            if r == tb.header_rows && r > 0 {
                push_line(
                    &mut self.out,
                    vec![Span::styled(border("├", "┼", "┤"), t.border)],
                );
            }
            let cells: Vec<Vec<Line<'static>>> = (0..ncols)
                .map(|i| {
                    let mut w = Wrapper::new(widths[i]);
                    for (s, st) in row.get(i).unwrap_or(&empty) {
                        w.push(s, *st);
                    }
                    w.finish()
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
            for k in 0..height {
                let mut spans = vec![Span::styled("│ ", t.border)];
                for (i, lines) in cells.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(" │ ", t.border));
                    }
                    let (content, w) = match lines.get(k) {
                        Some(l) => (l.spans.clone(), l.width()),
                        None => (Vec::new(), 0),
                    };
                    let pad = widths[i].saturating_sub(w);
                    let (left, right) = match tb.aligns.get(i) {
                        Some(Alignment::Right) => (pad, 0),
                        Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                        _ => (0, pad),
                    };
                    if left > 0 {
                        spans.push(spaces(left));
                    }
                    spans.extend(content);
                    if right > 0 {
                        spans.push(spaces(right));
                    }
                }
                spans.push(Span::styled(" │", t.border));
                push_line(&mut self.out, spans);
            }
        }
        push_line(
            &mut self.out,
            vec![Span::styled(border("└", "┴", "┘"), t.border)],
        );
    }
}

/// Code blocks longer than this are not highlighted.
pub const MAX_HIGHLIGHT_BYTES: usize = 256 * 1024;
/// Code blocks with a line longer than this are not highlighted.
pub const MAX_HIGHLIGHT_LINE: usize = 4096;

/// One highlighted source line: (style, text) runs, without the newline.
type HlLine = Vec<(Style, String)>;

/// Where the last highlighted block stopped: a growing (streaming) block resumes here
/// instead of being highlighted again from its start.
struct Resume {
    key: (String, String),
    /// The complete lines highlighted so far (ends with `\n`).
    done: String,
    lines: Vec<HlLine>,
    state: (HighlightState, ParseState),
}

#[derive(Default)]
struct CodeCache {
    /// hash(theme, lang, body) → (lang, body, lines).
    map: HashMap<u64, (String, String, Arc<Vec<HlLine>>)>,
    bytes: usize,
    resume: Option<Resume>,
}

/// Highlighted code blocks are kept up to this many bytes of source, then dropped.
const CODE_CACHE_BYTES: usize = 8 << 20;

static CODE_CACHE: OnceLock<Mutex<CodeCache>> = OnceLock::new();

fn code_cache() -> MutexGuard<'static, CodeCache> {
    CODE_CACHE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Forget all highlighted code blocks (for benchmarks of cold rendering).
pub fn clear_highlight_cache() {
    *code_cache() = CodeCache::default();
}

/// Highlight a code block (`body` as the parser gives it, with its newlines), reusing
/// earlier work: identical blocks come from the cache, and a block that grew by whole
/// lines since the last call resumes where that call stopped.
fn highlight_block(
    syntax: &SyntaxReference,
    theme: &syntect::highlighting::Theme,
    theme_name: &str,
    lang: &str,
    body: &str,
) -> Option<Arc<Vec<HlLine>>> {
    let mut h = DefaultHasher::new();
    (theme_name, lang, body).hash(&mut h);
    let key = h.finish();
    let resume = {
        let mut cache = code_cache();
        if let Some((l, b, lines)) = cache.map.get(&key)
            && l == lang
            && b == body
        {
            return Some(lines.clone());
        }
        cache.resume.take()
    };
    let rkey = (theme_name.to_string(), lang.to_string());
    let (mut lines, mut hl, start) = match resume {
        Some(r) if r.key == rkey && body.starts_with(&r.done) => {
            let (hs, ps) = r.state;
            (
                r.lines,
                HighlightLines::from_state(theme, hs, ps),
                r.done.len(),
            )
        }
        _ => (Vec::new(), HighlightLines::new(syntax, theme), 0),
    };
    let ss = syntaxes();
    let mut done = start;
    let mut saved = None;
    let mut buf = String::new();
    for src in body[start..].split_inclusive('\n') {
        let complete = src.ends_with('\n');
        if !complete {
            // Save the state before the unfinished last line, to resume from later.
            let (hs, ps) = hl.state();
            saved = Some((hs.clone(), ps.clone()));
            hl = HighlightLines::from_state(theme, hs, ps);
        }
        buf.clear();
        buf.push_str(src);
        if !complete {
            buf.push('\n');
        }
        let regions = hl.highlight_line(&buf, ss).ok()?;
        let line: HlLine = regions
            .into_iter()
            .filter_map(|(st, text)| {
                let text = text.strip_suffix('\n').unwrap_or(text);
                (!text.is_empty()).then(|| (syntect_style(st), text.to_string()))
            })
            .collect();
        lines.push(line);
        if complete {
            done += src.len();
        }
    }
    let complete_lines = if saved.is_some() {
        lines.len() - 1
    } else {
        lines.len()
    };
    let state = saved.unwrap_or_else(|| hl.state());
    let mut cache = code_cache();
    cache.resume = Some(Resume {
        key: rkey,
        done: body[..done].to_string(),
        lines: lines[..complete_lines].to_vec(),
        state,
    });
    let lines = Arc::new(lines);
    if body.len() <= CODE_CACHE_BYTES / 8 {
        if cache.bytes + body.len() > CODE_CACHE_BYTES {
            cache.map.clear();
            cache.bytes = 0;
        }
        cache.bytes += body.len();
        cache
            .map
            .insert(key, (lang.to_string(), body.to_string(), lines.clone()));
    }
    Some(lines)
}

fn find_syntax(lang: &str) -> Option<&'static SyntaxReference> {
    if lang.is_empty() {
        return None;
    }
    let ss = syntaxes();
    ss.find_syntax_by_token(lang)
        .or_else(|| ss.find_syntax_by_token(&lang.to_ascii_lowercase()))
}

fn syntect_style(s: syntect::highlighting::Style) -> Style {
    let mut style = Style::new().fg(Color::Rgb(s.foreground.r, s.foreground.g, s.foreground.b));
    if s.font_style.contains(FontStyle::BOLD) {
        style = style.add_modifier(Modifier::BOLD);
    }
    if s.font_style.contains(FontStyle::ITALIC) {
        style = style.add_modifier(Modifier::ITALIC);
    }
    if s.font_style.contains(FontStyle::UNDERLINE) {
        style = style.add_modifier(Modifier::UNDERLINED);
    }
    style
}

/// Render Markdown to styled lines no wider than `width` cells.
pub fn render(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let text = sanitize(text);
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut r = Renderer {
        theme,
        width: width as usize,
        out: Vec::new(),
        containers: Vec::new(),
        lists: Vec::new(),
        styles: vec![Style::default()],
        wrapper: None,
        pending_blank: false,
        links: Vec::new(),
        code: None,
        table: None,
    };
    for ev in Parser::new_ext(&text, options) {
        r.event(ev);
    }
    // Unterminated constructs (streaming): show what there is.
    if let Some((lang, body)) = r.code.take() {
        let (first, rest) = r.begin_block();
        r.code_block(&lang, &body, first, rest);
    }
    if let Some(tb) = r.table.take() {
        let (first, rest) = r.begin_block();
        r.table_block(tb, first, rest);
    }
    r.flush_wrapper();
    // At very small widths the fixed decorations (a code gutter, quote bars, list markers)
    // can be wider than the width itself: cut what is left over so no line overflows.
    let width = usize::from(width);
    for line in &mut r.out {
        if spans_width(&line.spans) > width {
            let spans = std::mem::take(&mut line.spans);
            line.spans = truncate_spans(spans, width).0;
        }
    }
    r.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.to_string().trim_end().to_string())
            .collect()
    }

    fn assert_fits(lines: &[Line<'_>], width: u16) {
        for l in lines {
            assert!(
                l.width() <= width as usize,
                "line {:?} is {} wide, more than {width}",
                l.to_string(),
                l.width()
            );
        }
    }

    fn th() -> Theme {
        Theme::default()
    }

    #[test]
    fn paragraphs_word_wrap() {
        let lines = render("the quick brown fox jumps over the lazy dog", 12, &th());
        assert_eq!(
            text(&lines),
            ["the quick", "brown fox", "jumps over", "the lazy dog"]
        );
    }

    #[test]
    fn cjk_wraps_between_characters_and_long_words_break() {
        let lines = render_plain("海洋污染對哪個地區影響最大", 9, Style::default());
        assert_eq!(text(&lines), ["海洋污染", "對哪個地", "區影響最", "大"]);
        let lines = render_plain("abcdefghijkl xy", 5, Style::default());
        assert_eq!(text(&lines), ["abcde", "fghij", "kl xy"]);
    }

    #[test]
    fn no_line_is_wider_than_the_width() {
        let samples = [
            "海洋污染對哪個地區影響最大 mixed with English words and 😀👍🏽 emoji 👨‍👩‍👧 family",
            "e\u{301}e\u{301}e\u{301} combining ﷽ wide ＡＢＣ fullwidth",
            "a_very_long_identifier_that_cannot_possibly_fit_on_one_line_at_all",
            "- list item with 漢字 text\n  - nested 😀 item with more text\n\n> quote 海洋污染對哪個地區影響最大",
            "| 名前 | value |\n|---|--:|\n| 海洋污染對哪個地區 | 😀😀😀😀 long cell text |\n",
            "```\n\t海洋污染對哪個地區影響最大 let x = 1; 😀😀😀😀😀😀\n```",
        ];
        for s in samples {
            for w in 4..50u16 {
                assert_fits(&render(s, w, &th()), w);
                assert_fits(&render_plain(s, w, Style::default()), w);
            }
        }
    }

    #[test]
    fn wide_characters_at_width_1_become_a_one_cell_stand_in() {
        // Found by tests/fuzz_props.rs: "界" at width 1 made a line 2 cells wide.
        for md in ["界", "a界b", "```\n界\n```", "`界`"] {
            let lines = render(md, 1, &th());
            assert_fits(&lines, 1);
            assert!(
                text(&lines).concat().contains('?'),
                "{md}: {:?}",
                text(&lines)
            );
        }
        assert_eq!(text(&render("界", 2, &th())), ["界"]);
    }

    #[test]
    fn code_blocks_fit_even_narrower_than_their_gutter() {
        // Found by the fault tests: at width 2 the gutter plus one character made 3.
        for width in 1..=4 {
            let lines = render(
                "```
abcdefgh
```

> ```
> xyz
> ```",
                width,
                &th(),
            );
            assert_fits(&lines, width);
            assert!(text(&lines).concat().contains('h'), "{:?}", text(&lines));
        }
    }

    #[test]
    fn plain_text_keeps_newlines_and_indentation() {
        let lines = render_plain("a\n\n    b\r\n", 20, Style::default());
        assert_eq!(text(&lines), ["a", "", "    b␍"]);
    }

    #[test]
    fn inline_styles() {
        let lines = render("*it* **bold** ~~gone~~ `code`", 80, &th());
        let spans = &lines[0].spans;
        let find = |t: &str| spans.iter().find(|s| s.content.contains(t)).unwrap().style;
        assert!(find("it").add_modifier.contains(Modifier::ITALIC));
        assert!(find("bold").add_modifier.contains(Modifier::BOLD));
        assert!(find("gone").add_modifier.contains(Modifier::CROSSED_OUT));
        assert_eq!(find("code").fg, th().code.fg);
    }

    #[test]
    fn headings_keep_markers_and_are_styled() {
        let lines = render("## Title\n\ntext", 80, &th());
        assert_eq!(text(&lines), ["## Title", "", "text"]);
        assert!(
            lines[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn links_show_their_url_unless_it_is_the_text() {
        let lines = render("see [docs](https://d.rs) and <https://x.io>", 80, &th());
        assert_eq!(text(&lines), ["see docs (https://d.rs) and https://x.io"]);
        let url = lines[0]
            .spans
            .iter()
            .find(|s| s.content.contains("(https://d.rs)"))
            .unwrap();
        assert!(url.style.add_modifier.contains(Modifier::DIM));
        let lines = render("mail <a@b.co>", 80, &th());
        assert_eq!(text(&lines), ["mail a@b.co"]);
    }

    #[test]
    fn quotes_nest() {
        let lines = render("> a\n>> b\n\n> c", 80, &th());
        // A blank line ends a quote: "> c" starts a new one.
        assert_eq!(text(&lines), ["│ a", "│", "│ │ b", "", "│ c"]);
        let lines = render("> a\n>\n> b", 80, &th());
        assert_eq!(text(&lines), ["│ a", "│", "│ b"]);
    }

    #[test]
    fn lists_nest_with_hanging_indent() {
        let lines = render("- one two three\n  - four five\n3. x\n4. y", 10, &th());
        assert_eq!(
            text(&lines),
            [
                "• one two",
                "  three",
                "  ◦ four",
                "    five",
                "",
                "3. x",
                "4. y"
            ]
        );
    }

    #[test]
    fn task_lists_and_rules() {
        let lines = render("- [x] done\n- [ ] todo\n\n---", 10, &th());
        assert_eq!(text(&lines), ["• [x] done", "• [ ] todo", "", "──────────"]);
    }

    #[test]
    fn tables_are_boxed_aligned_and_fit() {
        let md = "| a | b |\n|:-:|--:|\n| x | 12345 |\n| long cell | 1 |";
        let lines = render(md, 40, &th());
        assert_eq!(
            text(&lines),
            [
                "┌───────────┬───────┐",
                "│     a     │     b │",
                "├───────────┼───────┤",
                "│     x     │ 12345 │",
                "│ long cell │     1 │",
                "└───────────┴───────┘",
            ]
        );
        let lines = render(md, 16, &th());
        assert_fits(&lines, 16);
        assert!(text(&lines).iter().any(|l| l.contains("│ long")));
    }

    #[test]
    fn code_is_highlighted_and_hard_broken() {
        let md = "```rust\nfn main() {\n    let s = \"0123456789012345678901234567890\";\n}\n```";
        let lines = render(md, 24, &th());
        assert_fits(&lines, 24);
        let t = text(&lines);
        assert_eq!(t[0], "▎ fn main() {");
        // Broken at the width, continuation keeps the indentation.
        assert_eq!(t[1], "▎     let s = \"012345678");
        assert!(t[2].starts_with("▎     9012"), "{t:?}");
        assert_eq!(t.last().unwrap(), "▎ }");
        let rgb = lines[0]
            .spans
            .iter()
            .any(|s| matches!(s.style.fg, Some(Color::Rgb(..))));
        assert!(rgb, "rust code should be highlighted");
        // Not word-wrapped: spaces do not move words.
        let lines = render("```\nab cd ef gh\n```", 6, &th());
        assert_eq!(text(&lines), ["▎ ab c", "▎ d ef", "▎  gh"]);
    }

    #[test]
    fn streamed_code_highlights_like_a_cold_render() {
        let full = "Intro\n\n```rust\n/* a comment\n   over lines */\nfn f() -> &'static str {\n    \"s\\\"x\"\n}\n```\n\n```python\ndef g():\n    return \"\"\"x\n    y\"\"\"\n```\n";
        let mut streamed = Vec::new();
        for end in (0..=full.len()).filter(|&i| full.is_char_boundary(i)) {
            streamed = render(&full[..end], 30, &th());
        }
        clear_highlight_cache();
        let cold = render(full, 30, &th());
        assert_eq!(streamed, cold);
        // A cache hit gives the same again.
        assert_eq!(render(full, 30, &th()), cold);
    }

    #[test]
    fn huge_code_blocks_are_not_highlighted() {
        let long_line = format!(
            "```rust\nlet s = \"{}\";\n```",
            "x".repeat(MAX_HIGHLIGHT_LINE)
        );
        let lines = render(&long_line, 80, &th());
        assert!(lines.len() > 50);
        assert!(lines.iter().all(|l| l.spans[1].style.fg == th().code.fg));
    }

    #[test]
    fn unknown_language_and_unterminated_fence_are_plain_code() {
        let lines = render("```nosuchlang\nx <- 1\n```", 40, &th());
        assert_eq!(text(&lines), ["▎ x <- 1"]);
        assert_eq!(lines[0].spans[1].style.fg, th().code.fg);
        // Streaming: the closing fence has not arrived yet.
        let lines = render("text\n\n```python\ndef f():\n    return 1", 40, &th());
        assert_eq!(text(&lines), ["text", "", "▎ def f():", "▎     return 1"]);
    }

    #[test]
    fn control_sequences_are_neutralised() {
        let lines = render("\x1b[2J hi *\x1b]52;c;eA==\x07*", 80, &th());
        assert_eq!(text(&lines), ["␛[2J hi ␛]52;c;eA==␇"]);
    }

    #[test]
    fn deep_nesting_is_capped_and_fast() {
        let t0 = std::time::Instant::now();
        let quotes = format!("{} deep", ">".repeat(10_000));
        let lines = render(&quotes, 80, &th());
        assert_fits(&lines, 80);
        assert!(text(&lines).iter().any(|l| l.ends_with("deep")));
        let mut lists = String::new();
        for i in 0..10_000 {
            lists.push_str(&"  ".repeat(i.min(3)));
            lists.push_str("- x\n");
        }
        let lists2 = "- ".repeat(10_000) + "leaf";
        for md in [&lists, &lists2] {
            let lines = render(md, 60, &th());
            assert_fits(&lines, 60);
        }
        assert!(t0.elapsed().as_secs() < 10, "took {:?}", t0.elapsed());
    }

    #[test]
    fn huge_replies_render_in_linear_time() {
        let chunk =
            "Some *text* with `code` and a [link](http://x).\n\n```rust\nlet x = 1;\n```\n\n";
        let small = chunk.repeat(200);
        let big = chunk.repeat(800);
        let t = |s: &str| {
            let t0 = std::time::Instant::now();
            render(s, 80, &th());
            t0.elapsed()
        };
        warm_up();
        let (a, b) = (t(&small), t(&big));
        // 4x the input: allow generous noise, but not 16x.
        assert!(b < a * 10, "small {a:?}, big {b:?}");
    }
}
