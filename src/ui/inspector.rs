//! The inspector (`/request`, F3): draws the lines `app::inspector` makes, scrolled, with
//! its tabs on top and its keys in the title.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

use crate::action::Action;
use crate::app::App;
use crate::app::inspector::{self, InspectorPane, Tab};
use crate::keymap::{Context, Hint, hints};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{panel, panel_area};

pub fn draw(f: &mut Frame, area: Rect, app: &App, pane: &InspectorPane, theme: &Theme) {
    let r = panel_area(
        f,
        area,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    let keys = hints(
        &app.keymap,
        Context::Inspector,
        &[
            Hint::Pair(Action::ScrollUp, Action::ScrollDown),
            Hint::NamedPair(Action::PrevChoice, Action::NextChoice, "reply"),
            Hint::Named(Action::CopyCurl, "curl"),
            Hint::Named(Action::CopyRequest, "body"),
            Hint::Named(Action::CopyResponse, "response"),
            Hint::One(Action::Close),
        ],
    );
    let b = panel("inspector", theme).title_bottom(Line::from(Span::styled(
        format!(" {} ", keys.join(" · ")),
        theme.dim,
    )));
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height < 3 || inner.width < 8 {
        return;
    }
    let [tabs, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    let title = inspector::title(app, pane);
    let (sent, next) = match pane.tab {
        Tab::Sent => (theme.accent, theme.dim),
        Tab::Next => (theme.dim, theme.accent),
    };
    let sent_label = match pane.tab {
        Tab::Sent => title.clone(),
        Tab::Next => "the reply's request".into(),
    };
    let next_label_of = |t: String| t;
    let tab = app
        .keymap
        .hint_key(Context::Inspector, Action::InspectorTab);
    let tab = if tab.is_empty() {
        String::new()
    } else {
        format!(" ({tab})")
    };
    let (sent_label, next_label) = match pane.tab {
        Tab::Sent => (sent_label, format!("next request{tab}")),
        Tab::Next => (format!("{sent_label}{tab}"), next_label_of(title)),
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(format!(" {sent_label} "), sent),
                Span::styled(" │ ", theme.dim),
                Span::styled(format!(" {next_label} "), next),
            ]),
            Line::from(Span::styled(
                "─".repeat(usize::from(inner.width)),
                theme.border,
            )),
        ]),
        tabs,
    );
    let width = usize::from(body.width.max(1));
    let lines: Vec<Line> = inspector::lines(app, pane)
        .into_iter()
        .map(|l| match l {
            inspector::Line::Title(t) => Line::from(Span::styled(t, theme.heading)),
            inspector::Line::Field(k, v) => Line::from(vec![
                Span::styled(format!("{k}: "), theme.accent),
                Span::raw(sanitize(&v).into_owned()),
            ]),
            inspector::Line::Text(t) => Line::from(sanitize(&t).into_owned()),
            inspector::Line::Note(t) => Line::from(Span::styled(t, theme.dim)),
            inspector::Line::Blank => Line::from(""),
        })
        .collect();
    // Rows once wrapped: the scroll stops at the last screenful.
    let heights: Vec<usize> = lines
        .iter()
        .map(|l| {
            let w: usize = l.spans.iter().map(|s| s.content.width()).sum();
            w.div_ceil(width).max(1)
        })
        .collect();
    let rows: usize = heights.iter().sum();
    let height = usize::from(body.height);
    let scroll = usize::from(pane.scroll).min(rows.saturating_sub(height));
    // Only the lines on screen go to the paragraph (a body can have thousands).
    let mut before = 0;
    let mut first = 0;
    while first < heights.len() && before + heights[first] <= scroll {
        before += heights[first];
        first += 1;
    }
    let mut shown = 0;
    let mut last = first;
    while last < heights.len() && shown < height + (scroll - before) {
        shown += heights[last];
        last += 1;
    }
    let visible: Vec<Line> = lines.into_iter().skip(first).take(last - first).collect();
    f.render_widget(
        Paragraph::new(visible)
            .wrap(Wrap { trim: false })
            .scroll(((scroll - before) as u16, 0)),
        body,
    );
}
