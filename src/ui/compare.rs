//! The versions of a reply side by side (`/compare`, `v`): a column per version, each
//! headed by its model and state, drawn live while they stream.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::action::Action;
use crate::app::{App, ComparePane, compare};
use crate::chat::conversation::Status;
use crate::keymap::{Context, Hint, hints};
use crate::text::sanitize;
use crate::ui::markdown;
use crate::ui::theme::Theme;
use crate::ui::widgets::{block, panel, panel_area};

/// Columns narrower than this are not drawn side by side (fewer columns show at once).
const MIN_COLUMN: u16 = 32;

pub fn draw(f: &mut Frame, area: Rect, app: &App, pane: &ComparePane, theme: &Theme) {
    let r = panel_area(
        f,
        area,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    let keys = hints(
        &app.keymap,
        Context::Compare,
        &[
            Hint::NamedPair(Action::PrevChoice, Action::NextChoice, "version"),
            Hint::Pair(Action::ScrollUp, Action::ScrollDown),
            Hint::Named(Action::Accept, "shows it"),
            Hint::One(Action::Close),
        ],
    );
    let b = panel(
        &format!("versions side by side — {}", keys.join(" · ")),
        theme,
    );
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height < 3 || inner.width < 4 {
        return;
    }
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    let question = app
        .conv
        .get(pane.question)
        .map(|m| m.text().lines().next().unwrap_or("").to_string())
        .unwrap_or_default();
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("You: ", theme.user),
            Span::raw(sanitize(&question).into_owned()),
        ])),
        head,
    );
    let versions = compare::versions(&app.conv, pane.question);
    if versions.is_empty() {
        return;
    }
    let n = versions.len();
    let fit = usize::from((body.width / MIN_COLUMN).max(1)).min(n);
    let focus = pane.focus.min(n - 1);
    // The version in focus first, then the ones after it (the newest are last).
    let first = focus.min(n - fit);
    let cols = Layout::horizontal(vec![Constraint::Fill(1); fit]).split(body);
    for (k, col) in cols.iter().enumerate() {
        let i = first + k;
        let Some(m) = app.conv.get(versions[i]) else {
            continue;
        };
        let model = m
            .target
            .as_deref()
            .or(m.model.as_deref())
            .unwrap_or(&app.conv.model);
        let state = match &m.status {
            Status::Complete => m
                .choices
                .get(m.selected)
                .and_then(|c| c.finish_reason.as_ref())
                .map(|r| r.as_str().to_string())
                .unwrap_or_else(|| "done".into()),
            Status::Partial if app.turns.writes(m.id) => "▍ streaming".into(),
            s => s.label().to_string(),
        };
        let shown = if app.conv.on_path(m.id) { " ●" } else { "" };
        let choice = if m.choices.len() > 1 {
            format!(" · choice {}/{}", m.selected + 1, m.choices.len())
        } else {
            String::new()
        };
        let title = format!("{}/{n}{shown} {} · {state}{choice}", i + 1, sanitize(model));
        let style = if i == focus { theme.heading } else { theme.dim };
        let b = block(&title, style, i == focus, theme);
        let text_area = b.inner(*col);
        f.render_widget(b, *col);
        let lines: Vec<Line> = markdown::render(m.text(), text_area.width, theme);
        f.render_widget(Paragraph::new(lines).scroll((pane.scroll, 0)), text_area);
    }
}
