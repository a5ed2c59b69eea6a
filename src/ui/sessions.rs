//! The saved-conversations browser: newest first, filtered as you type.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::action::Action;
use crate::app::{SessionsMode, SessionsPane};
use crate::keymap::{Context, Hint, Keymap, hints};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{centered, panel};

pub fn draw(f: &mut Frame, area: Rect, state: &SessionsPane, keymap: &Keymap, theme: &Theme) {
    let r = centered(area, 120, area.height.saturating_sub(2));
    f.render_widget(Clear, r);
    let keys = hints(
        keymap,
        Context::Sessions,
        &[
            Hint::One(Action::Accept),
            Hint::One(Action::Rename),
            Hint::One(Action::Delete),
            Hint::One(Action::Export),
            Hint::One(Action::Close),
        ],
    );
    let title = format!("conversations — type to filter · {}", keys.join(" · "));
    let b = panel(&title, theme);
    let inner = b.inner(r);
    f.render_widget(b, r);
    let [top, list, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let count = if state.loading && state.entries.is_empty() {
        "   searching…".to_string()
    } else if state.loading {
        format!("   {} so far · searching…", state.entries.len())
    } else {
        format!("   {} conversations", state.entries.len())
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("filter: ", theme.dim),
            Span::styled(format!("{}▏", sanitize(&state.filter)), theme.accent),
            Span::styled(count, theme.dim),
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
            Style::default()
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
                // While filtering: where the text matched.
                let line = e.snippet.as_deref().unwrap_or(&e.first_line);
                spans.push(Span::raw(truncate(&sanitize(line), 60)));
            }
        }
        let mut line = Line::from(spans);
        if i == state.selected {
            line = line.style(theme.selection);
        }
        lines.push(line);
    }
    if state.entries.is_empty() && !state.loading {
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
        SessionsMode::Rename(buf) => {
            let keys = hints(
                keymap,
                Context::Rename,
                &[
                    Hint::One(Action::Apply),
                    Hint::Named(Action::Close, "cancel"),
                ],
            );
            Line::from(vec![
                Span::styled("new title: ", theme.accent),
                Span::raw(format!("{}▏", sanitize(buf))),
                Span::styled(format!("  {}", keys.join(" · ")), theme.dim),
            ])
        }
        SessionsMode::ConfirmDelete => Line::from(Span::styled(
            format!(
                "delete “{}” for good? {} / {}",
                state
                    .current()
                    .map(|e| sanitize(&e.title).into_owned())
                    .unwrap_or_default(),
                keymap.letter_key(Context::Confirm, Action::Yes),
                keymap.letter_key(Context::Confirm, Action::No),
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
