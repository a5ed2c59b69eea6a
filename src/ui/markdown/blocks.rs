//! The Markdown renderer: drives the pulldown-cmark event stream into wrapped lines.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::table::TableBuf;
use super::wrap::{Wrapper, spaces, spans_width, truncate_spans};
use super::{LineMeta, MAX_DEPTH};
use crate::ui::theme::Theme;

enum Container {
    Quote,
    Item {
        marker: String,
        width: usize,
        style: Style,
        emitted: bool,
    },
}

pub(super) struct Renderer<'t> {
    pub(super) theme: &'t Theme,
    pub(super) width: usize,
    pub(super) out: Vec<Line<'static>>,
    /// What each line of `out` is made of (may lag behind `out`: see `fill_meta`).
    pub(super) meta: Vec<LineMeta>,
    /// Code blocks above this text (in the conversation), and drawn so far.
    code_base: usize,
    pub(super) code_blocks: usize,
    containers: Vec<Container>,
    lists: Vec<Option<u64>>,
    styles: Vec<Style>,
    wrapper: Option<Wrapper>,
    pending_blank: bool,
    links: Vec<(String, String)>,
    pub(super) code: Option<(String, String)>,
    pub(super) table: Option<TableBuf>,
}

const BULLETS: [&str; 3] = ["• ", "◦ ", "▪ "];

impl<'t> Renderer<'t> {
    pub(super) fn new(theme: &'t Theme, width: usize, code_base: usize) -> Self {
        Self {
            theme,
            width,
            out: Vec::new(),
            meta: Vec::new(),
            code_base,
            code_blocks: 0,
            containers: Vec::new(),
            lists: Vec::new(),
            styles: vec![Style::default()],
            wrapper: None,
            pending_blank: false,
            links: Vec::new(),
            code: None,
            table: None,
        }
    }

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

    pub(super) fn flush_wrapper(&mut self) {
        if let Some(w) = self.wrapper.take() {
            let (lines, meta) = w.finish_meta();
            self.fill_meta(LineMeta::default());
            self.out.extend(lines);
            self.meta.extend(meta);
        }
    }

    /// Give the lines pushed without one the meta `m`.
    pub(super) fn fill_meta(&mut self, m: LineMeta) {
        let n = self.out.len();
        if self.meta.len() < n {
            self.meta.resize(n, m);
        }
    }

    /// Push a line of `lead` cells of drawing, the rest text.
    pub(super) fn push_line(&mut self, line: Line<'static>, lead: usize) {
        self.fill_meta(LineMeta::default());
        self.out.push(line);
        self.meta.push(LineMeta {
            lead: lead.min(usize::from(u16::MAX)) as u16,
            ..LineMeta::default()
        });
    }

    /// The cells of the container prefix that are quote bars (and the indentation before
    /// them): drawing, not text, on every line of a block.
    pub(super) fn quote_lead(&self) -> usize {
        let mut w = 0;
        let mut lead = 0;
        for c in self.containers.iter().take(MAX_DEPTH) {
            match c {
                Container::Quote => {
                    w += 2;
                    lead = w;
                }
                Container::Item { width, .. } => w += width,
            }
        }
        lead.min(self.width / 2)
    }

    /// The label of the next code block: its number in the conversation.
    pub(super) fn next_code_label(&mut self) -> usize {
        self.code_blocks += 1;
        self.code_base + self.code_blocks
    }

    /// Start a block: finish inline text, add the blank line between blocks, and return
    /// the prefixes for the new block.
    pub(super) fn begin_block(&mut self) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
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
            let w = line.width();
            self.push_line(line, w);
        }
        self.pending_blank = false;
    }

    fn start_wrapper(&mut self) {
        let (first, rest) = self.begin_block();
        let lead = self.quote_lead();
        self.wrapper = Some(Wrapper::with_prefix(self.width, first, rest).with_leads(lead, lead));
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

    pub(super) fn event(&mut self, ev: Event<'_>) {
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
                let lead = self.quote_lead();
                self.push_line(Line::from(spans), lead);
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
                    let lead = self.quote_lead();
                    self.push_line(Line::from(first), lead);
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
}
