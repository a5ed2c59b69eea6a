//! The lines of one message: its header, body and separator.

use chrono::FixedOffset;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::chat::conversation::{Message, Speaker, Status};
use crate::ui::markdown;
use crate::ui::theme::Theme;

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

/// The header line(s), body and separator of one message.
pub(super) fn message_lines(
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
