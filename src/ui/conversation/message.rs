//! The lines of one message: its header, body and separator.

use chrono::FixedOffset;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::chat::conversation::{Message, Speaker, Status};
use crate::ui::markdown::{self, LineMeta};
use crate::ui::theme::Theme;

/// A message's lines: header, body, separator; what each is made of; and how many code
/// blocks the body drew.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct MessageLines {
    pub(super) lines: Vec<Line<'static>>,
    pub(super) meta: Vec<LineMeta>,
    /// Lines of the header (the body starts after them).
    pub(super) head: usize,
    pub(super) code_blocks: usize,
}

impl MessageLines {
    /// The header of `m` and, for a reply that reasoned, its thinking block.
    /// The header's lines, taken from `kept` (the spans and width it was laid out from, and
    /// its lines) while its spans and the width are the same and the message has no thinking
    /// block; else laid out (and kept).
    pub(super) fn header_kept(
        m: &Message,
        theme: &Theme,
        offset: FixedOffset,
        width: u16,
        kept: &mut Option<(Vec<Span<'static>>, u16, MessageLines)>,
    ) -> Self {
        let thinking = m.speaker == Speaker::Assistant
            && m.choices
                .get(m.selected)
                .or_else(|| m.choices.first())
                .and_then(|c| c.reasoning.as_ref())
                .is_some_and(|r| !r.text.is_empty());
        if thinking {
            *kept = None;
            return Self::header(m, theme, offset, width);
        }
        let spans = header_spans(m, theme, offset);
        if let Some((s, w, lines)) = kept.as_ref()
            && *w == width
            && *s == spans
        {
            return lines.clone();
        }
        let (lines, meta) = markdown::wrap_spans_meta(&spans, width);
        let out = Self {
            head: lines.len(),
            lines,
            meta,
            code_blocks: 0,
        };
        *kept = Some((spans, width, out.clone()));
        out
    }

    pub(super) fn header(m: &Message, theme: &Theme, offset: FixedOffset, width: u16) -> Self {
        let (mut lines, mut meta) =
            markdown::wrap_spans_meta(&header_spans(m, theme, offset), width);
        thinking_lines(m, width, theme, &mut lines, &mut meta);
        Self {
            head: lines.len(),
            lines,
            meta,
            code_blocks: 0,
        }
    }

    pub(super) fn extend(&mut self, lines: Vec<Line<'static>>, meta: Vec<LineMeta>) {
        debug_assert_eq!(lines.len(), meta.len());
        self.lines.extend(lines);
        self.meta.extend(meta);
    }

    pub(super) fn push(&mut self, line: Line<'static>) {
        self.lines.push(line);
        self.meta.push(LineMeta::default());
    }

    pub(super) fn markdown(&mut self, r: markdown::Rendered) {
        self.code_blocks += r.code_blocks;
        self.extend(r.lines, r.meta);
    }
}

/// The header of a message: who, when, its state, its version or branch (`version 2/3`,
/// `branch 2/2`) and its choice.
pub(super) fn header_spans(m: &Message, theme: &Theme, offset: FixedOffset) -> Vec<Span<'static>> {
    let mut header: Vec<Span<'static>> = Vec::new();
    match m.speaker {
        Speaker::User => header.push(Span::styled("You", theme.user)),
        Speaker::System => header.push(Span::styled("System", theme.system)),
        Speaker::Assistant => {
            header.push(Span::styled("Assistant", theme.assistant));
            // A version asked of another model is labelled with what was asked.
            if let Some(model) = m.target.as_ref().or(m.model.as_ref()) {
                let model = crate::text::sanitize(model);
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
            let error = crate::text::sanitize(&error.replace(['\n', '\r'], " ")).into_owned();
            header.push(Span::styled(format!(" · failed: {error}"), theme.error));
        }
        Status::Incomplete => header.push(Span::styled(
            " · incomplete — the stream ended early",
            theme.warning,
        )),
    }
    if let Some(fork) = m.fork_label() {
        header.push(Span::styled(format!(" · {fork}"), theme.accent));
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

/// For a reply that reasoned, its thinking block (part of the header): one collapsed line
/// ("▸ thinking · 312 tokens · 4.1 s"), or the reasoning text when opened
/// (`Action::ToggleReasoning`).
fn thinking_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    lines: &mut Vec<Line<'static>>,
    meta: &mut Vec<LineMeta>,
) {
    if m.speaker != Speaker::Assistant {
        return;
    }
    let Some(c) = m.choices.get(m.selected).or_else(|| m.choices.first()) else {
        return;
    };
    let Some(r) = c.reasoning.as_ref().filter(|r| !r.text.is_empty()) else {
        return;
    };
    let mut head = vec![Span::styled(
        if r.open {
            "▾ thinking"
        } else {
            "▸ thinking"
        },
        theme.accent,
    )];
    let streaming = m.status == Status::Partial && r.millis.is_none();
    if streaming {
        head.push(Span::styled("…", theme.dim));
    }
    // Tokens as the server counted them (one choice: the usage is this choice's).
    if let Some(n) = m
        .usage
        .and_then(|u| u.reasoning_tokens)
        .filter(|n| *n > 0 && m.choices.len() == 1)
    {
        head.push(Span::styled(format!(" · {n} tokens"), theme.dim));
    }
    if let Some(ms) = r.millis {
        head.push(Span::styled(
            format!(" · {:.1} s", ms as f64 / 1000.0),
            theme.dim,
        ));
    }
    let (l, mut d) = markdown::wrap_spans_meta(&head, width);
    // The toggle line is drawing, not text: never copied.
    for x in &mut d {
        x.deco = true;
    }
    lines.extend(l);
    meta.extend(d);
    if r.open {
        // A bar down the left, where there is room for it (drawing: never copied).
        if width >= 4 {
            let bar = Span::styled("│ ", theme.dim);
            let (l, d) = markdown::render_plain_meta(&r.text, width - 2, theme.dim);
            for (line, mut x) in l.into_iter().zip(d) {
                let mut spans = vec![bar.clone()];
                spans.extend(line.spans);
                lines.push(Line::from(spans));
                x.lead += 2;
                meta.push(x);
            }
        } else {
            let (l, d) = markdown::render_plain_meta(&r.text, width, theme.dim);
            lines.extend(l);
            meta.extend(d);
        }
    }
}

/// The header line(s), body and separator of one message; its code blocks are numbered
/// from `code_base + 1`.
pub(super) fn message_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    offset: FixedOffset,
    code_base: usize,
) -> MessageLines {
    let mut out = MessageLines::header(m, theme, offset, width);
    if crate::chat::code::is_markdown(m) {
        out.markdown(markdown::render_full(m.text(), width, theme, code_base));
        suffix_lines(m, width, theme, &mut out);
    } else {
        let (lines, meta) = markdown::render_plain_meta(m.text(), width, Style::default());
        out.extend(lines, meta);
    }
    out.push(Line::default());
    out
}

/// An insertion (`/insert`): the reply stands between the prompt and this text.
pub(super) fn suffix_lines(m: &Message, width: u16, theme: &Theme, out: &mut MessageLines) {
    if let Some(suffix) = m.suffix.as_deref().filter(|s| !s.is_empty()) {
        out.lines
            .push(Line::from(Span::styled("⟨suffix⟩", theme.dim)));
        out.meta.push(LineMeta {
            deco: true,
            ..LineMeta::default()
        });
        let (lines, meta) = markdown::render_plain_meta(suffix, width, theme.dim);
        out.extend(lines, meta);
    }
}
