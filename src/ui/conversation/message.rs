//! The lines of one message: its header, body and separator.

use chrono::FixedOffset;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::chat::conversation::{Message, Speaker, Status};
use crate::ui::markdown;
use crate::ui::theme::Theme;

/// The header of a message: who, when, its state and its choice.
pub(super) fn header_spans(m: &Message, theme: &Theme, offset: FixedOffset) -> Vec<Span<'static>> {
    let mut header: Vec<Span<'static>> = Vec::new();
    match m.speaker {
        Speaker::User => header.push(Span::styled("You", theme.user)),
        Speaker::System => header.push(Span::styled("System", theme.system)),
        Speaker::Assistant => {
            header.push(Span::styled("Assistant", theme.assistant));
            if let Some(model) = &m.model {
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

/// The header line(s) of a message and, for a reply that reasoned, its thinking block:
/// one collapsed line ("▸ thinking · 312 tokens · 4.1 s"), or the reasoning text when
/// opened (`Action::ToggleReasoning`).
pub(super) fn head_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    offset: FixedOffset,
) -> Vec<Line<'static>> {
    let mut lines = markdown::wrap_spans(&header_spans(m, theme, offset), width);
    if m.speaker != Speaker::Assistant {
        return lines;
    }
    let Some(c) = m.choices.get(m.selected).or_else(|| m.choices.first()) else {
        return lines;
    };
    let Some(r) = c.reasoning.as_ref().filter(|r| !r.text.is_empty()) else {
        return lines;
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
    lines.extend(markdown::wrap_spans(&head, width));
    if r.open {
        // A bar down the left, where there is room for it.
        if width >= 4 {
            let bar = Span::styled("│ ", theme.dim);
            for line in markdown::render_plain(&r.text, width - 2, theme.dim) {
                let mut spans = vec![bar.clone()];
                spans.extend(line.spans);
                lines.push(Line::from(spans));
            }
        } else {
            lines.extend(markdown::render_plain(&r.text, width, theme.dim));
        }
    }
    lines
}

/// The header line(s), body and separator of one message.
pub(super) fn message_lines(
    m: &Message,
    width: u16,
    theme: &Theme,
    offset: FixedOffset,
) -> Vec<Line<'static>> {
    let mut lines = head_lines(m, width, theme, offset);
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
