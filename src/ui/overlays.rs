//! Panels drawn over the others: help, the model picker, the local-server offer, sessions.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::action::{Action, Effect};
use crate::app::{App, NoticeKind, Overlay, run_command};
use crate::commands::{COMMANDS, Command};
use crate::keymap::Context;
use crate::text::sanitize;
use crate::ui::theme::Theme;

/// Keys while an overlay is open.
pub fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    app.dirty = true;
    let Some(overlay) = app.overlay.as_mut() else {
        return Vec::new();
    };
    // Quitting works everywhere.
    if let Some(Action::Quit) = app.keymap.lookup(Context::Global, &key) {
        app.overlay = None;
        return crate::app::on_action(app, Action::Quit);
    }
    match overlay {
        Overlay::Help { scroll } => match key.code {
            KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
            KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
            KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
            _ => app.overlay = None,
        },
        Overlay::Models {
            models, selected, ..
        } => match key.code {
            KeyCode::Up => *selected = selected.saturating_sub(1),
            KeyCode::Down => *selected = (*selected + 1).min(models.len().saturating_sub(1)),
            KeyCode::Enter => {
                let choice = models.get(*selected).cloned();
                app.overlay = None;
                if let Some(m) = choice {
                    return run_command(app, Command::Model(Some(m)));
                }
            }
            KeyCode::Esc => app.overlay = None,
            _ => {}
        },
        Overlay::LocalServer { url, name } => match key.code {
            KeyCode::Enter | KeyCode::Char('y') => {
                let (url, name) = (url.clone(), name.clone());
                app.overlay = None;
                app.first_run = false;
                return vec![Effect::UseServer {
                    base_url: url,
                    name,
                }];
            }
            _ => {
                app.overlay = None;
                app.first_run = false;
                app.notify(
                    NoticeKind::Info,
                    "set OPENAI_API_KEY or base_url in the config (F1 shows where)",
                );
            }
        },
        Overlay::Sessions(_) => return crate::ui::sessions::on_key(app, key),
    }
    Vec::new()
}

/// A centred rectangle of at most `w` x `h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [c] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(r);
    c
}

fn frame_block<'a>(title: &'a str, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(format!(" {title} "), theme.heading))
}

/// The help text: every binding (from the keymap) and every command.
pub fn help_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled("Keys", theme.heading))];
    let bindings = app.keymap.bindings();
    for ctx in [Context::Global, Context::Input, Context::History] {
        lines.push(Line::from(Span::styled(
            format!("  {}", ctx.name()),
            theme.accent,
        )));
        for (c, key, action) in &bindings {
            if *c == ctx {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("    {key:<14}"),
                        theme.accent.add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(action.describe()),
                    Span::styled(format!("  ({})", action.name()), theme.dim),
                ]));
            }
        }
    }
    lines.push(Line::from(Span::styled(
        "  Mouse wheel scrolls; hold Shift to select text with the mouse.",
        theme.dim,
    )));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Commands (Tab completes)",
        theme.heading,
    )));
    for (name, args, what) in COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<36}", format!("{name} {args}")), theme.accent),
            Span::raw(*what),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Parameters (/set NAME VALUE, or F2)",
        theme.heading,
    )));
    lines.push(Line::from(
        "  temperature 0..2 · top_p · max_tokens · n · stop (up to 4) · presence_penalty -2..2",
    ));
    lines.push(Line::from(
        "  frequency_penalty -2..2 · seed · suffix, best_of (completion mode) · any other name: extra body field",
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Files", theme.heading)));
    for (what, path) in crate::store::paths::describe() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {what:<14}"), theme.dim),
            Span::raw(path),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Any key closes this help.",
        theme.dim,
    )));
    lines
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(overlay) = &app.overlay else {
        return;
    };
    match overlay {
        Overlay::Help { scroll } => {
            let r = centered(area, 110, area.height.saturating_sub(2));
            f.render_widget(Clear, r);
            let p = Paragraph::new(help_lines(app, theme))
                .block(frame_block("help — ↑↓ PgUp PgDn scroll", theme))
                .scroll((*scroll, 0));
            f.render_widget(p, r);
        }
        Overlay::Models {
            models,
            selected,
            loading,
            error,
        } => {
            let r = centered(area, 60, 20);
            f.render_widget(Clear, r);
            let b = frame_block("models — Enter picks, Esc closes", theme);
            let inner = b.inner(r);
            f.render_widget(b, r);
            let lines: Vec<Line> = if *loading {
                vec![Line::from(Span::styled(
                    "asking the server (GET /models)…",
                    theme.dim,
                ))]
            } else if let Some(e) = error {
                vec![Line::from(Span::styled(
                    sanitize(e).into_owned(),
                    theme.error,
                ))]
            } else if models.is_empty() {
                vec![Line::from(Span::styled(
                    "the server lists no models",
                    theme.dim,
                ))]
            } else {
                models
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let cur = if *m == app.conv.model {
                            " (current)"
                        } else {
                            ""
                        };
                        let style = if i == *selected {
                            theme.selection
                        } else {
                            ratatui::style::Style::default()
                        };
                        Line::from(Span::styled(format!("{}{cur}", sanitize(m)), style))
                    })
                    .collect()
            };
            let h = inner.height as usize;
            let scroll = (*selected + 1).saturating_sub(h) as u16;
            f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
        }
        Overlay::LocalServer { name, url } => {
            let r = centered(area, 64, 9);
            f.render_widget(Clear, r);
            let text = vec![
                Line::from(format!(
                    "No API key or server is configured, but {name} answers at"
                )),
                Line::from(Span::styled(url.clone(), theme.accent)),
                Line::from(""),
                Line::from("Use it for this session?  Enter / y: yes · any other key: no"),
                Line::from(Span::styled(
                    "(to keep it, set base_url in the config, or use --profile)",
                    theme.dim,
                )),
            ];
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(frame_block("local server found", theme)),
                r,
            );
        }
        Overlay::Sessions(state) => crate::ui::sessions::draw(f, area, state, theme),
    }
}
