//! The branches panel (`/branches`): one row per branch of the conversation — where it
//! differs from the branch shown, how long it is, when it was last written to.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::action::Action;
use crate::app::{App, BranchesPane};
use crate::chat::conversation::{Conversation, Message, Speaker};
use crate::keymap::{Context, Hint, hints};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{panel, panel_area};

pub fn draw(f: &mut Frame, area: Rect, app: &App, pane: &BranchesPane, theme: &Theme) {
    let rows = pane.items.len() as u16 + 4;
    let r = panel_area(f, area, 110, rows.min(area.height.saturating_sub(2)).max(5));
    let keys = hints(
        &app.keymap,
        Context::Branches,
        &[
            Hint::Pair(Action::SelectPrev, Action::SelectNext),
            Hint::Named(Action::Accept, "opens"),
            Hint::One(Action::Close),
        ],
    );
    let title = format!("branches — {}", keys.join(" · "));
    let b = panel(&title, theme);
    let inner = b.inner(r);
    f.render_widget(b, r);
    let [head, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(
            format!(
                "   {:<6} {:>5}  {:<16}  where it differs from the branch shown",
                "", "msgs", "last written"
            ),
            theme.dim,
        ))),
        head,
    );
    let h = list.height as usize;
    let start = (pane.selected + 1).saturating_sub(h);
    let n = pane.items.len();
    let offset = app.view.borrow().utc_offset();
    let mut lines = Vec::new();
    for (i, b) in pane.items.iter().enumerate().skip(start).take(h) {
        let when = b.last.with_timezone(&offset).format("%Y-%m-%d %H:%M");
        let mark = if b.current { "●" } else { " " };
        let mut spans = vec![
            Span::styled(format!(" {mark} "), theme.accent),
            Span::styled(format!("{:<6}", format!("{}/{n}", i + 1)), theme.accent),
            Span::styled(format!(" {:>5}  {when}  ", b.len), theme.dim),
        ];
        let differs = match b.fork.and_then(|id| app.conv.get(id)) {
            Some(m) => describe(&app.conv, m),
            None if b.current => "the branch shown".to_string(),
            None => "runs on from the branch shown".to_string(),
        };
        let style = if b.current {
            Style::default().add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        spans.push(Span::styled(differs, style));
        let mut line = Line::from(spans);
        if i == pane.selected {
            line = line.style(theme.selection);
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), list);
}

/// "You: first line…" / "Assistant (model) v2: first line…".
fn describe(conv: &Conversation, m: &Message) -> String {
    let who = match m.speaker {
        Speaker::User => "You".to_string(),
        Speaker::System => "System".to_string(),
        Speaker::Summary => "Summary".to_string(),
        Speaker::Assistant => {
            let model = m
                .target
                .as_deref()
                .or(m.model.as_deref())
                .unwrap_or(&conv.model);
            format!("Assistant ({model})")
        }
    };
    let label = m.fork_label().map(|l| format!(" {l}")).unwrap_or_default();
    let first: String = m
        .text()
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(empty)")
        .chars()
        .take(70)
        .collect();
    sanitize(&format!("{who}{label}: {first}")).into_owned()
}
