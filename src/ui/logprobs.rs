//! The token view (`/logprobs`): a header with the reply's numbers, one row per token (only
//! the rows on screen are made), and the cursor token's alternatives; keys from the key map
//! in the bottom border.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::action::Action;
use crate::app::logprobs::{self, LogprobsPane, band, percent, visible};
use crate::app::{App, selection};
use crate::keymap::{Context, Hint, hints};
use crate::text::thousands;
use crate::ui::theme::Theme;
use crate::ui::widgets::{panel, panel_area};

/// Columns of the token text in a row.
const TOKEN_COLS: usize = 18;

/// `s` cut to `cols` display columns (with `…` when cut), then padded to `cols`.
fn fit(s: &str, cols: usize, pad: bool) -> String {
    let mut out = String::new();
    let mut w = 0;
    let total = s.width();
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if total > cols && w + cw + 1 > cols {
            out.push('…');
            w += 1;
            break;
        }
        if w + cw > cols {
            break;
        }
        out.push(c);
        w += cw;
    }
    if pad {
        out.extend(std::iter::repeat_n(' ', cols.saturating_sub(w)));
    }
    out
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, pane: &LogprobsPane, theme: &Theme) {
    let r = panel_area(
        f,
        area,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    let keys = hints(
        &app.keymap,
        Context::Logprobs,
        &[
            Hint::NamedPair(Action::SelectPrev, Action::SelectNext, "token"),
            Hint::NamedPair(Action::PrevChoice, Action::NextChoice, "alternative"),
            Hint::Named(Action::Accept, "continue from it"),
            Hint::One(Action::ToggleTint),
            Hint::One(Action::Close),
        ],
    );
    let reply = logprobs::view_reply(app);
    let title = match reply {
        Some(m) => format!("tokens of {}", selection::describe(&app.conv.messages, m)),
        None => "tokens".into(),
    };
    let b = panel(&title, theme).title_bottom(Line::from(Span::styled(
        format!(" {} ", keys.join(" · ")),
        theme.dim,
    )));
    let inner = b.inner(r);
    f.render_widget(b, r);
    if inner.height < 3 || inner.width < 20 {
        return;
    }
    let (Some(m), Some(l)) = (reply, logprobs::view_logprobs(app)) else {
        f.render_widget(
            Paragraph::new(Line::from(Span::styled(
                logprobs::empty_note(app),
                theme.dim,
            )))
            .wrap(Wrap { trim: false }),
            inner,
        );
        return;
    };
    let len = l.len();
    let cur = pane.cursor(len);
    let streaming = app.turns.writes(m.id);
    // Header: the numbers, and whether the tokens add up to the text.
    let mut head = vec![Span::styled(
        crate::text::sanitize(m.model.as_deref().unwrap_or(&app.conv.model)).into_owned(),
        theme.accent,
    )];
    if let Some(s) = logprobs::stats(l) {
        head.push(Span::raw(format!(
            " · {} tokens · mean {} · min {} (#{}) · perplexity {:.2}",
            thousands(s.tokens as u64),
            percent(s.mean),
            percent(s.min.1),
            s.min.0 + 1,
            s.perplexity
        )));
    }
    if streaming {
        head.push(Span::styled(" · streaming", theme.accent));
    } else if !logprobs::lines_up(l, m.text()) {
        head.push(Span::styled(
            " · the tokens do not add up to the reply's text: rows that do not line up cannot be continued",
            theme.warning,
        ));
    }
    let alts_here = l.get(cur).map_or(0, |t| t.alternative_count());
    let side = inner.width >= 110;
    let [top, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    let (rows_area, detail_area) = if side {
        let [a, b] = Layout::horizontal([Constraint::Min(40), Constraint::Length(44)]).areas(body);
        (a, b)
    } else {
        let want = (alts_here.min(6) + 2) as u16;
        let want = want.min(body.height / 2);
        let [a, b] = Layout::vertical([Constraint::Min(1), Constraint::Length(want)]).areas(body);
        (a, b)
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(head),
            Line::from(Span::styled(
                fit(
                    &format!(
                        "      # {:<TOKEN_COLS$}  {:>7}  {:>8}  alternatives",
                        "token", "prob", "logprob"
                    ),
                    usize::from(inner.width),
                    false,
                ),
                theme.dim,
            )),
        ]),
        top,
    );
    // Only the rows on screen.
    let h = usize::from(rows_area.height).max(1);
    let mut first = pane.top.get();
    if cur < first {
        first = cur;
    } else if cur >= first + h {
        first = cur + 1 - h;
    }
    first = first.min(len.saturating_sub(h));
    pane.top.set(first);
    pane.page.set(h);
    let width = usize::from(rows_area.width);
    let mut lines = Vec::with_capacity(h);
    for i in first..(first + h).min(len) {
        let Some(t) = l.get(i) else { break };
        let p = t.probability();
        let here = i == cur;
        let row_style = if here { theme.selection } else { Style::new() };
        let mut spans = vec![
            Span::styled(if here { "▸" } else { " " }, theme.accent),
            Span::styled(format!("{:>6} ", i + 1), theme.dim),
            Span::styled(
                fit(&visible(t.bytes()), TOKEN_COLS, true),
                theme.code.patch(row_style),
            ),
            Span::styled(format!("  {:>7}", percent(p)), theme.prob[band(p)]),
            Span::styled(format!("  {:>8.3}", t.logprob()), theme.dim),
            Span::raw("  "),
        ];
        let mut used = 1 + 7 + TOKEN_COLS + 9 + 10 + 2;
        for (a, alp) in t.alternatives() {
            if used + 4 >= width {
                break;
            }
            let ap = f64::from(alp).exp();
            let item = format!("{} {}  ", visible(a), percent(ap));
            let item = fit(&item, width - used, false);
            used += item.width();
            let style = if a == t.bytes() {
                theme.accent
            } else {
                Style::new()
            };
            spans.push(Span::styled(item, style));
        }
        lines.push(Line::from(spans));
    }
    f.render_widget(Paragraph::new(lines), rows_area);
    // The cursor token's alternatives, the one chosen for Enter highlighted.
    let Some(t) = l.get(cur) else { return };
    let mut detail = vec![Line::from(vec![
        Span::styled(format!("#{} ", cur + 1), theme.dim),
        Span::styled(
            visible(t.bytes()).into_owned(),
            if pane.alt.is_none() {
                theme.selection
            } else {
                theme.code
            },
        ),
        Span::styled(
            format!(" {} — alternatives:", percent(t.probability())),
            theme.dim,
        ),
    ])];
    if t.alternative_count() == 0 {
        detail.push(Line::from(Span::styled(
            "  none kept (/set logprobs N asks for N)",
            theme.dim,
        )));
    }
    let dh = usize::from(detail_area.height).saturating_sub(1).max(1);
    let chosen = pane.alt.unwrap_or(0);
    let skip = chosen.saturating_sub(dh.saturating_sub(1));
    for (j, (a, alp)) in t.alternatives().enumerate().skip(skip).take(dh) {
        let ap = f64::from(alp).exp();
        let mark = if a == t.bytes() { "✓" } else { " " };
        let style = if pane.alt == Some(j) {
            theme.selection
        } else {
            Style::new()
        };
        detail.push(Line::from(vec![
            Span::styled(format!(" {mark} "), theme.ok),
            Span::styled(fit(&visible(a), TOKEN_COLS, true), style),
            Span::styled(format!(" {:>7}", percent(ap)), theme.prob[band(ap)]),
            Span::styled(format!(" {alp:>8.3}"), theme.dim),
        ]));
    }
    let detail_area = if side {
        Rect {
            x: detail_area.x + 1,
            width: detail_area.width.saturating_sub(1),
            ..detail_area
        }
    } else {
        detail_area
    };
    f.render_widget(Paragraph::new(detail), detail_area);
}
