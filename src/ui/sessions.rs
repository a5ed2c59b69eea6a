//! The saved-conversations browser (`/sessions`, Ctrl+O): newest first, filtered as you type
//! across titles and message text; open, rename, delete (confirmed) and export.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::action::Effect;
use crate::app::{App, NoticeKind, Overlay};
use crate::store::library::{Entry, Library};
use crate::text::sanitize;
use crate::ui::overlays::centered;
use crate::ui::theme::Theme;

/// What the browser is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionsMode {
    Browse,
    Rename(String),
    ConfirmDelete,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionsState {
    pub dir: PathBuf,
    pub filter: String,
    pub entries: Vec<Entry>,
    pub selected: usize,
    pub mode: SessionsMode,
    pub message: Option<String>,
}

impl SessionsState {
    pub fn load(dir: &Path) -> Self {
        let mut s = SessionsState {
            dir: dir.to_path_buf(),
            filter: String::new(),
            entries: Vec::new(),
            selected: 0,
            mode: SessionsMode::Browse,
            message: None,
        };
        s.refresh();
        s
    }

    fn library(&self) -> Option<Library> {
        Library::open(&self.dir).ok()
    }

    pub fn refresh(&mut self) {
        let Some(lib) = self.library() else {
            self.message = Some(format!("cannot open {}", self.dir.display()));
            return;
        };
        let found = if self.filter.trim().is_empty() {
            lib.list()
        } else {
            lib.search(self.filter.trim())
        };
        match found {
            Ok(e) => self.entries = e,
            Err(e) => self.message = Some(e.to_string()),
        }
        self.selected = self.selected.min(self.entries.len().saturating_sub(1));
    }

    fn current(&self) -> Option<&Entry> {
        self.entries.get(self.selected)
    }
}

pub fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(Overlay::Sessions(state)) = app.overlay.as_mut() else {
        return Vec::new();
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match &mut state.mode {
        SessionsMode::Rename(buf) => match key.code {
            KeyCode::Enter => {
                let title = buf.trim().to_string();
                state.mode = SessionsMode::Browse;
                if let (Some(e), Some(lib)) = (state.current().cloned(), state.library()) {
                    if title.is_empty() {
                        state.message = Some("a title cannot be empty".into());
                    } else {
                        match lib.rename(&e.id, &title) {
                            Ok(_) => {
                                state.message = Some(format!("renamed to {title}"));
                                let is_open = e.id == app_conv_id(app);
                                if is_open {
                                    app.conv.title = title;
                                }
                            }
                            Err(err) => state.message = Some(err.to_string()),
                        }
                    }
                }
                if let Some(Overlay::Sessions(s)) = app.overlay.as_mut() {
                    s.refresh();
                }
            }
            KeyCode::Esc => state.mode = SessionsMode::Browse,
            KeyCode::Backspace => {
                buf.pop();
            }
            KeyCode::Char(c) if !ctrl => buf.push(c),
            _ => {}
        },
        SessionsMode::ConfirmDelete => {
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                if let (Some(e), Some(lib)) = (state.current().cloned(), state.library()) {
                    if e.id == app.conv.id {
                        state.message = Some("that is the open conversation: /new first".into());
                    } else {
                        match lib.delete(&e.id) {
                            Ok(_) => state.message = Some(format!("deleted {}", e.title)),
                            Err(err) => state.message = Some(err.to_string()),
                        }
                    }
                }
                state.mode = SessionsMode::Browse;
                state.refresh();
            } else {
                state.mode = SessionsMode::Browse;
                state.message = Some("not deleted".into());
            }
        }
        SessionsMode::Browse => match key.code {
            KeyCode::Esc => app.overlay = None,
            KeyCode::Up => state.selected = state.selected.saturating_sub(1),
            KeyCode::Down => {
                state.selected = (state.selected + 1).min(state.entries.len().saturating_sub(1))
            }
            KeyCode::PageUp => state.selected = state.selected.saturating_sub(10),
            KeyCode::PageDown => {
                state.selected = (state.selected + 10).min(state.entries.len().saturating_sub(1))
            }
            KeyCode::Enter => {
                if let Some(e) = state.current().cloned() {
                    if let Some(reason) = &e.broken {
                        state.message = Some(format!("cannot open {}: {reason}", e.path.display()));
                    } else {
                        app.overlay = None;
                        return vec![Effect::Open { path: e.path }];
                    }
                }
            }
            KeyCode::Char('r') if ctrl => {
                if let Some(e) = state.current() {
                    state.mode = SessionsMode::Rename(e.title.clone());
                }
            }
            KeyCode::Char('d') if ctrl && state.current().is_some() => {
                state.mode = SessionsMode::ConfirmDelete;
            }
            KeyCode::Delete if state.current().is_some() => {
                state.mode = SessionsMode::ConfirmDelete;
            }
            KeyCode::Char('e') if ctrl => {
                if let Some(e) = state.current().cloned() {
                    let out = PathBuf::from(format!("chat-{}.md", &e.id[..e.id.len().min(12)]));
                    match crate::store::save::load(&e.path) {
                        Ok(conv) => {
                            app.overlay = None;
                            app.notify(NoticeKind::Info, format!("exporting to {}", out.display()));
                            return vec![Effect::Save {
                                conversation: std::sync::Arc::new(conv),
                                path: Some(out),
                                explicit: true,
                                markdown: true,
                            }];
                        }
                        Err(err) => state.message = Some(err.to_string()),
                    }
                }
            }
            KeyCode::Backspace => {
                state.filter.pop();
                state.refresh();
            }
            KeyCode::Char(c) if !ctrl => {
                state.filter.push(c);
                state.selected = 0;
                state.refresh();
            }
            _ => {}
        },
    }
    Vec::new()
}

fn app_conv_id(app: &App) -> String {
    app.conv.id.clone()
}

pub fn draw(f: &mut Frame, area: Rect, state: &SessionsState, theme: &Theme) {
    let r = centered(area, 120, area.height.saturating_sub(2));
    f.render_widget(Clear, r);
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border_focused)
        .title(Span::styled(
            " conversations — type to filter · Enter open · Ctrl+R rename · Del delete · Ctrl+E export · Esc close ",
            theme.heading,
        ));
    let inner = b.inner(r);
    f.render_widget(b, r);
    let [top, list, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("filter: ", theme.dim),
            Span::styled(format!("{}▏", sanitize(&state.filter)), theme.accent),
            Span::styled(
                format!("   {} conversations", state.entries.len()),
                theme.dim,
            ),
        ])),
        top,
    );
    let h = list.height as usize;
    let start = (state.selected + 1).saturating_sub(h);
    let mut lines = Vec::new();
    for (i, e) in state.entries.iter().enumerate().skip(start).take(h) {
        let when = e
            .updated
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M");
        let style = if i == state.selected {
            theme.selection
        } else {
            ratatui::style::Style::default()
        };
        let mut spans = vec![Span::styled(format!("{when}  "), theme.dim)];
        match &e.broken {
            Some(reason) => spans.push(Span::styled(
                format!("unreadable: {} ({})", e.path.display(), sanitize(reason)),
                theme.error,
            )),
            None => {
                spans.push(Span::styled(
                    format!("{:<40}", truncate(&sanitize(&e.title), 40)),
                    style.add_modifier(Modifier::BOLD),
                ));
                spans.push(Span::styled(
                    format!(
                        "  {:<18} {:>4} msgs  ",
                        truncate(&sanitize(&e.model), 18),
                        e.messages
                    ),
                    theme.dim,
                ));
                spans.push(Span::raw(truncate(&sanitize(&e.first_line), 60)));
            }
        }
        let mut line = Line::from(spans);
        if i == state.selected {
            line = line.style(theme.selection);
        }
        lines.push(line);
    }
    if state.entries.is_empty() {
        lines.push(Line::from(Span::styled(
            if state.filter.is_empty() {
                "no saved conversations yet"
            } else {
                "nothing matches"
            },
            theme.dim,
        )));
    }
    f.render_widget(Paragraph::new(lines), list);
    let status = match &state.mode {
        SessionsMode::Rename(buf) => Line::from(vec![
            Span::styled("new title: ", theme.accent),
            Span::raw(format!("{}▏", sanitize(buf))),
            Span::styled("  Enter apply · Esc cancel", theme.dim),
        ]),
        SessionsMode::ConfirmDelete => Line::from(Span::styled(
            format!(
                "delete “{}” for good? y / n",
                state
                    .current()
                    .map(|e| sanitize(&e.title).into_owned())
                    .unwrap_or_default()
            ),
            theme.warning,
        )),
        SessionsMode::Browse => Line::from(Span::styled(
            state.message.clone().unwrap_or_default(),
            theme.dim,
        )),
    };
    f.render_widget(Paragraph::new(status), bottom);
}

fn truncate(s: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut w = 0;
    let mut out = String::new();
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max.saturating_sub(1) && s.chars().count() > out.chars().count() + 1 {
            out.push('…');
            return out;
        }
        w += cw;
        out.push(c);
    }
    out
}
