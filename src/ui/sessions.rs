//! The saved-conversations browser: newest first, filtered as you type.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::action::Action;
use crate::app::{SessionsMode, SessionsPane};
use crate::keymap::{Context, Hint, Keymap, hints};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{panel, panel_area};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub fn draw(f: &mut Frame, area: Rect, state: &SessionsPane, keymap: &Keymap, theme: &Theme) {
    let r = panel_area(f, area, 120, area.height.saturating_sub(2));
    let title = title_for(keymap, usize::from(r.width.saturating_sub(2)));
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
    // The title column: 40 wide where there is room, narrower in a small terminal (the
    // date takes 18 columns, the model and count 30).
    let title_w = usize::from(list.width)
        .saturating_sub(18 + 30)
        .clamp(12, 40);
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
                    pad(&sanitize(&e.title), title_w),
                    style.add_modifier(Modifier::BOLD),
                ));
                spans.push(Span::styled(
                    format!(
                        "  {} {:>4} msgs  ",
                        pad(&sanitize(&e.model), 18),
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

/// The panel's title: what it is and its keys, as many as fit in `width` (the filter
/// hint goes first, then keys from the end, keeping open and close).
fn title_for(keymap: &Keymap, width: usize) -> String {
    let mut items = vec![
        Hint::One(Action::Accept),
        Hint::One(Action::Rename),
        Hint::One(Action::Delete),
        Hint::One(Action::Export),
        Hint::One(Action::Close),
    ];
    // The block adds a space either side.
    let fits = |t: &str| t.width() + 2 <= width;
    let mut filter = true;
    loop {
        let keys = hints(keymap, Context::Sessions, &items).join(" · ");
        let title = if filter {
            format!("conversations — type to filter · {keys}")
        } else {
            format!("conversations · {keys}")
        };
        if fits(&title) {
            return title;
        }
        if filter {
            filter = false;
        } else if items.len() > 2 {
            items.remove(items.len() - 2);
        } else {
            return title;
        }
    }
}

/// `s` cut to `width` columns (with an ellipsis) and padded to exactly `width` columns:
/// wide (CJK) characters count two.
fn pad(s: &str, width: usize) -> String {
    let mut out = truncate(s, width);
    let w = out.width();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

/// `s` in at most `max` columns, an ellipsis where it was cut.
fn truncate(s: &str, max: usize) -> String {
    if s.width() <= max {
        return s.to_string();
    }
    let mut w = 0;
    let mut out = String::new();
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_counts_display_width() {
        assert_eq!(pad("abc", 6), "abc   ");
        assert_eq!(pad("你好", 6), "你好  ");
        assert_eq!(pad("你好世界", 6).width(), 6);
        assert_eq!(pad("你好世界", 6), "你好… ");
        assert_eq!(pad("abcdefgh", 5), "abcd…");
        assert_eq!(truncate("short", 40), "short");
    }

    #[test]
    fn the_title_fits_at_80_columns() {
        let km = Keymap::default();
        let wide = title_for(&km, 118);
        assert!(
            wide.contains("type to filter") && wide.contains("export"),
            "{wide}"
        );
        let narrow = title_for(&km, 78);
        assert!(narrow.width() + 2 <= 78, "{narrow}");
        assert!(
            narrow.contains("open") && narrow.contains("close"),
            "{narrow}"
        );
    }
}
