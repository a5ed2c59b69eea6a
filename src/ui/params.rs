//! The parameters panel (F2): every parameter with its value, edited in place.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::action::Action;
use crate::app::params::{SETTINGS, rows};
use crate::app::{App, Focus, server};
use crate::chat::capabilities::Support;
use crate::keymap::{Context, Hint, hints};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Params && app.overlay.is_none();
    let b = widgets::pane("parameters (F2)", theme, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let rows = rows(app);
    let name_w = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(8)
        .min(18);
    let selected_row = app.params.selected;
    let mut lines = Vec::new();
    let mut unsupported = false;
    let mut renamed: Vec<String> = Vec::new();
    for (i, (name, value)) in rows.iter().enumerate() {
        let selected = focused && i == selected_row;
        let mut name_style = if SETTINGS.contains(&name.as_str()) {
            theme.accent
        } else {
            theme.heading
        };
        if selected {
            name_style = name_style.add_modifier(Modifier::REVERSED);
        }
        let value_span = match (&app.params.edit, selected) {
            (Some(buf), true) => Span::styled(
                format!("{}▏", sanitize(buf)),
                theme.accent.add_modifier(Modifier::BOLD),
            ),
            _ => match value {
                Some(v) => Span::raw(sanitize(v).into_owned()),
                None => Span::styled("default", theme.dim),
            },
        };
        let mut line = vec![
            Span::styled(format!("{name:<name_w$}"), name_style),
            Span::raw(" "),
        ];
        // What the model refuses is shown as such (and not sent), with a legend below.
        let support = if SETTINGS.contains(&name.as_str()) {
            Support::Sent
        } else {
            server::support(app, name)
        };
        let editing = app.params.edit.is_some() && selected;
        match support {
            Support::Sent => line.push(value_span),
            Support::NotSent => {
                unsupported = true;
                if value.is_some() || editing {
                    line.push(value_span.patch_style(theme.dim));
                    line.push(Span::styled(" (not sent)", theme.warning));
                } else {
                    line.push(Span::styled("not supported", theme.warning));
                }
            }
            Support::SentAs(to) => {
                line.push(value_span);
                if value.is_some() || editing {
                    line.push(Span::styled(" (renamed)", theme.dim));
                    renamed.push(format!("{name} → {to}"));
                }
            }
        }
        lines.push(Line::from(line));
    }
    if unsupported || !renamed.is_empty() {
        lines.push(Line::from(""));
        if unsupported {
            lines.push(Line::from(Span::styled(
                "not supported by this model",
                theme.warning,
            )));
        }
        for r in renamed {
            lines.push(Line::from(Span::styled(r, theme.dim)));
        }
    }
    if focused {
        let items = if app.params.edit.is_some() {
            hints(
                &app.keymap,
                Context::ParamEdit,
                &[
                    Hint::One(Action::Apply),
                    Hint::Named(Action::Close, "cancel"),
                ],
            )
        } else {
            hints(
                &app.keymap,
                Context::Params,
                &[
                    Hint::One(Action::Edit),
                    Hint::One(Action::Unset),
                    Hint::One(Action::Close),
                ],
            )
        };
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(items.join(" · "), theme.dim)));
    }
    // Keep the selected row in view.
    let h = inner.height as usize;
    let scroll = (selected_row + 1).saturating_sub(h.saturating_sub(2)) as u16;
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        inner,
    );
}
