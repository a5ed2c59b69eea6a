//! The parameters panel (F2): every parameter with its value, edited in place.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::action::Effect;
use crate::app::{App, Focus, NoticeKind, param_rows, run_command};
use crate::commands::Command;
use crate::text::sanitize;
use crate::ui::theme::Theme;

/// Rows above the sampling parameters.
const SETTINGS: &[&str] = &["model", "mode", "memory", "system"];

fn rows(app: &App) -> Vec<(String, Option<String>)> {
    let mut r = vec![
        ("model".to_string(), Some(app.conv.model.clone())),
        ("mode".to_string(), Some(app.conv.mode.to_string())),
        ("memory".to_string(), Some(app.conv.memory.to_string())),
        ("system".to_string(), app.conv.system.clone()),
    ];
    r.extend(param_rows(&app.conv.params));
    r
}

/// Keys while the panel has focus. `None`: not handled here.
pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let count = rows(app).len();
    if let Some(buf) = app.params_edit.as_mut() {
        match key.code {
            KeyCode::Enter => {
                let value = buf.clone();
                app.params_edit = None;
                return Some(commit(app, value));
            }
            KeyCode::Esc => app.params_edit = None,
            KeyCode::Backspace => {
                buf.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => buf.push(c),
            _ => return None,
        }
        app.dirty = true;
        return Some(Vec::new());
    }
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.params_selected = app.params_selected.saturating_sub(1)
        }
        KeyCode::Down | KeyCode::Char('j') => {
            app.params_selected = (app.params_selected + 1).min(count.saturating_sub(1))
        }
        KeyCode::Enter | KeyCode::Char('e') => {
            let current = rows(app)
                .get(app.params_selected)
                .and_then(|(_, v)| v.clone())
                .unwrap_or_default();
            app.params_edit = Some(current);
        }
        KeyCode::Delete | KeyCode::Backspace | KeyCode::Char('d') => {
            let name = rows(app).get(app.params_selected).map(|(n, _)| n.clone());
            if let Some(name) = name {
                let fx = match name.as_str() {
                    "system" => run_command(app, Command::System(None)),
                    "model" | "mode" | "memory" => {
                        app.notify(NoticeKind::Info, format!("{name} always has a value"));
                        Vec::new()
                    }
                    _ => run_command(app, Command::Unset(name)),
                };
                app.dirty = true;
                return Some(fx);
            }
        }
        KeyCode::Esc => {
            app.show_params = false;
            app.focus = Focus::Input;
        }
        _ => return None,
    }
    app.dirty = true;
    Some(Vec::new())
}

fn commit(app: &mut App, value: String) -> Vec<Effect> {
    let Some((name, _)) = rows(app).get(app.params_selected).cloned() else {
        return Vec::new();
    };
    let value = value.trim().to_string();
    let cmd = match name.as_str() {
        "model" if !value.is_empty() => Command::Model(Some(value)),
        "mode" => match value.parse() {
            Ok(m) => Command::Mode(m),
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                return Vec::new();
            }
        },
        "memory" => match value.parse() {
            Ok(m) => Command::Memory(m),
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                return Vec::new();
            }
        },
        "system" => Command::System(Some(value)),
        _ if value.is_empty() => Command::Unset(name),
        _ => Command::Set(name, value),
    };
    run_command(app, cmd)
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Params && app.overlay.is_none();
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Span::styled(" parameters (F2) ", theme.dim));
    let inner = b.inner(area);
    f.render_widget(b, area);
    let rows = rows(app);
    let name_w = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(8)
        .min(18);
    let mut lines = Vec::new();
    for (i, (name, value)) in rows.iter().enumerate() {
        let selected = focused && i == app.params_selected;
        let mut name_style = if SETTINGS.contains(&name.as_str()) {
            theme.accent
        } else {
            theme.heading
        };
        if selected {
            name_style = name_style.add_modifier(Modifier::REVERSED);
        }
        let value_span = match (&app.params_edit, selected) {
            (Some(buf), true) => Span::styled(
                format!("{}▏", sanitize(buf)),
                theme.accent.add_modifier(Modifier::BOLD),
            ),
            _ => match value {
                Some(v) => Span::raw(sanitize(v).into_owned()),
                None => Span::styled("default", theme.dim),
            },
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<name_w$}"), name_style),
            Span::raw(" "),
            value_span,
        ]));
    }
    if focused {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            if app.params_edit.is_some() {
                "Enter apply · Esc cancel"
            } else {
                "Enter edit · Del unset · Esc close"
            },
            theme.dim,
        )));
    }
    // Keep the selected row in view.
    let h = inner.height as usize;
    let scroll = (app.params_selected + 1).saturating_sub(h.saturating_sub(2)) as u16;
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        inner,
    );
}
