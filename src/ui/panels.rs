//! The small panels: finish_reason, token usage, the input box and the status line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Gauge, Paragraph};

use crate::action::Action;
use crate::api::types::FinishReason;
use crate::app::server::{self, Exactness};
use crate::app::{App, Focus, NoticeKind, Purpose};
use crate::chat::conversation::{Speaker, Status};
use crate::keymap::{Context, Hint, hints as keymap_hints};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::pane as block;

const SPINNER: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Thousands separators: 12,345.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Short form: 128k, 1.0M.
pub fn short(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 10_000 {
        format!("{}k", n / 1000)
    } else {
        thousands(n)
    }
}

/// The style and label for a finish reason (or the reply's state when it has none).
pub fn reason_span(reason: Option<&FinishReason>, status: &Status, theme: &Theme) -> Span<'static> {
    match reason {
        Some(FinishReason::Stop) => Span::styled("stop", theme.ok),
        Some(FinishReason::Length) => {
            Span::styled("length", theme.warning.add_modifier(Modifier::BOLD))
        }
        Some(FinishReason::ContentFilter) => {
            Span::styled("content_filter", theme.error.add_modifier(Modifier::BOLD))
        }
        Some(FinishReason::ToolCalls) => Span::styled("tool_calls", theme.accent),
        Some(FinishReason::FunctionCall) => Span::styled("function_call", theme.accent),
        Some(FinishReason::Other(s)) => Span::styled(sanitize(s).into_owned(), theme.accent),
        None => match status {
            Status::Partial => Span::styled("streaming…", theme.dim),
            Status::Cancelled => Span::styled("cancelled", theme.warning),
            Status::Failed { .. } => {
                Span::styled("error", theme.error.add_modifier(Modifier::BOLD))
            }
            Status::Incomplete => Span::styled("incomplete", theme.error),
            Status::Complete => Span::styled("none reported", theme.dim),
        },
    }
}

/// finish_reason of the current (last) reply, per choice.
pub fn draw_finish(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let b = block("finish_reason", theme, false);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some(m) = app.conv.last_reply() else {
        f.render_widget(
            Paragraph::new(Span::styled("no reply yet", theme.dim)),
            inner,
        );
        return;
    };
    let mut spans: Vec<Span> = Vec::new();
    let n = m.choices.len();
    for (i, c) in m.choices.iter().enumerate() {
        if n > 1 {
            let label = format!("{}{}:", if i == m.selected { "▸" } else { " " }, i + 1);
            spans.push(Span::styled(
                label,
                if i == m.selected {
                    theme.accent
                } else {
                    theme.dim
                },
            ));
        }
        spans.push(reason_span(c.finish_reason.as_ref(), &m.status, theme));
        if i + 1 < n {
            spans.push(Span::raw("  "));
        }
    }
    if m.choices.is_empty() {
        spans.push(reason_span(None, &m.status, theme));
    }
    let mut lines = vec![Line::from(spans)];
    let hint = if m
        .choices
        .iter()
        .any(|c| c.finish_reason == Some(FinishReason::Length))
    {
        Some(Line::from(Span::styled(
            "cut at max_tokens — /continue asks for more",
            theme.warning,
        )))
    } else {
        match &m.status {
            Status::Cancelled => Some(Line::from(Span::styled(
                "cancelled — partial text kept; /retry",
                theme.dim,
            ))),
            Status::Failed { .. } => Some(Line::from(Span::styled(
                "failed — see the reply; /retry",
                theme.dim,
            ))),
            Status::Incomplete => Some(Line::from(Span::styled(
                "the stream ended early — /retry",
                theme.dim,
            ))),
            _ => None,
        }
    };
    lines.extend(hint);
    // Wrapped: at 80 columns the panel is 26 wide and the hint (the command to type)
    // would otherwise be cut off.
    f.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

/// Token usage: the API's numbers for the last reply, local counts, the budget, the session.
pub fn draw_usage(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    // What the replies cost, in the title (where there is room on the border): the last
    // reply's and the session's, for models with a price.
    let last_cost = app
        .conv
        .last_reply()
        .and_then(|m| server::reply_cost(app, m.id));
    let mut title = "tokens".to_string();
    let mut costs = Vec::new();
    if let Some(c) = last_cost {
        costs.push(format!("last {}", crate::chat::prices::format_usd(c)));
    }
    if let Some(s) = server::session_cost_label(app) {
        costs.push(format!("session {s}"));
    }
    if !costs.is_empty() {
        title.push_str(" · ");
        title.push_str(&costs.join(" · "));
    }
    let b = block(&title, theme, false);
    let inner = b.inner(area);
    f.render_widget(b, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let mut first: Vec<Span> = vec![Span::styled("last ", theme.dim)];
    match app.conv.last_reply() {
        Some(m) => match m.usage {
            Some(u) => {
                // Details beside what they are part of: cached prompt tokens, reasoning
                // completion tokens.
                first.push(Span::raw(format!("prompt {}", thousands(u.prompt_tokens))));
                if let Some(c) = u.cached_tokens.filter(|c| *c > 0) {
                    first.push(Span::styled(
                        format!(" ({} cached)", thousands(c)),
                        theme.dim,
                    ));
                }
                first.push(Span::raw(format!(
                    " · completion {}",
                    thousands(u.completion_tokens)
                )));
                if let Some(r) = u.reasoning_tokens.filter(|r| *r > 0) {
                    first.push(Span::styled(
                        format!(" ({} reasoning)", thousands(r)),
                        theme.dim,
                    ));
                }
                first.push(Span::raw(format!(" · total {}", thousands(u.total_tokens))));
                if let Some(local) = m.request_tokens
                    && local != u.prompt_tokens
                {
                    first.push(Span::styled(
                        format!(" (local prompt count {})", thousands(local)),
                        theme.dim,
                    ));
                }
            }
            None if m.status == Status::Partial => {
                first.push(Span::styled("streaming…", theme.dim))
            }
            None => {
                first.push(Span::styled("not reported by the server", theme.dim));
                if let Some(local) = m.request_tokens {
                    first.push(Span::styled(
                        format!(" (local prompt {})", thousands(local)),
                        theme.dim,
                    ));
                }
            }
        },
        None => first.push(Span::styled("—", theme.dim)),
    }
    let exactness = server::exact(app);
    let (draft, next) = match &exactness {
        Exactness::Exact(c) => (
            vec![
                Span::raw(thousands(c.draft)),
                Span::styled(" exact", theme.dim),
            ],
            Some(c.request),
        ),
        _ => (
            vec![Span::raw(thousands(app.tokens.draft))],
            app.next_request_tokens(),
        ),
    };
    let mut second = vec![Span::styled("draft ", theme.dim)];
    second.extend(draft);
    second.push(Span::styled(" · next request ", theme.dim));
    match (&exactness, next) {
        (Exactness::Exact(_), Some(n)) => {
            second.push(Span::raw(thousands(n)));
            second.push(Span::styled(" exact", theme.dim));
        }
        (_, Some(n)) => second.push(Span::raw(format!("~{}", thousands(n)))),
        (_, None) => second.push(Span::styled("counting…", theme.dim)),
    }
    let label_at = second.len();
    second.push(Span::styled(" · session ", theme.dim));
    second.push(Span::raw(thousands(app.tokens.session.total_tokens)));
    // How the next request was counted, where it fits: the encoding (it says "(estimate)"
    // itself for a guess), or why the server's count is not there.
    let label = match &exactness {
        Exactness::Exact(_) => None,
        Exactness::Failed(_) => Some(" (estimate: the server could not count)".to_string()),
        Exactness::Counting | Exactness::Local => {
            Some(format!(" ({})", app.tokens.counter().label()))
        }
    };
    if let Some(label) = label {
        let used: usize = second.iter().map(|s| s.width()).sum();
        if used + label.chars().count() <= usize::from(inner.width) {
            second.insert(label_at, Span::styled(label, theme.dim));
        }
    }
    let second = Line::from(second);
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .split(inner);
    f.render_widget(Paragraph::new(Line::from(first)), rows[0]);
    if inner.height >= 2 {
        f.render_widget(Paragraph::new(second), rows[1]);
    }
    if inner.height >= 3 {
        if let Some(b) = app.budget() {
            let next = next.unwrap_or(0);
            let limit = b.prompt_limit().max(1);
            let ratio = (next as f64 / limit as f64).clamp(0.0, 1.0);
            let style = if next > limit {
                theme.error
            } else if ratio > 0.8 {
                theme.warning
            } else {
                theme.ok
            };
            // Say when the window is the one the server stated.
            let from_server = app.tokens.window_override.is_none()
                && app.tokens.learned_window.is_none()
                && server::context_window(app).is_some_and(|(n, _)| n == b.context_window);
            let g = Gauge::default()
                .gauge_style(style)
                .ratio(ratio)
                .label(format!(
                    "{} / {} context{} ({} kept for the reply)",
                    short(next),
                    short(b.context_window),
                    if from_server { " (server)" } else { "" },
                    short(b.reply_reserve)
                ));
            f.render_widget(g, rows[2]);
        } else {
            f.render_widget(
                Paragraph::new(Span::styled(
                    "context window unknown for this model (set context_window in the config)",
                    theme.dim,
                )),
                rows[2],
            );
        }
    }
}

/// The input box.
pub fn draw_input(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Input && app.overlay.is_none();
    let title = if app.is_busy() {
        format!(
            "message ({} cancels the reply)",
            app.keymap.hint_key(Context::Input, Action::Cancel)
        )
    } else {
        "message".to_string()
    };
    let b = block(&title, theme, focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    f.render_widget(&app.draft.input, inner);
}

/// One line at the bottom: where, what, state, and hints for the focused pane.
pub fn draw_status(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans: Vec<Span> = Vec::new();
    match &app.turn {
        Some(cur) => {
            let sp = SPINNER[app.status.spinner % SPINNER.len()];
            let summary = matches!(cur.purpose, Purpose::Summary { .. });
            match cur.first_token {
                None => spans.push(Span::styled(
                    format!(
                        "{sp} {} {:.1}s ",
                        if summary { "summarising" } else { "waiting" },
                        cur.started.elapsed().as_secs_f64()
                    ),
                    theme.accent,
                )),
                Some(t0) => {
                    let secs = t0.elapsed().as_secs_f64().max(0.001);
                    let rate = cur.deltas as f64 / secs;
                    spans.push(Span::styled(
                        format!(
                            "{sp} {} {rate:.0} tok/s ",
                            if summary { "summarising" } else { "streaming" }
                        ),
                        theme.accent,
                    ));
                }
            }
        }
        None => match &app.status.last_error {
            Some(_) => spans.push(Span::styled("✗ error ", theme.error)),
            None => spans.push(Span::styled("● idle ", theme.ok)),
        },
    }
    if let Some(n) = &app.status.notice {
        let style = match n.kind {
            NoticeKind::Info => Style::default(),
            NoticeKind::Warning => theme.warning,
            NoticeKind::Error => theme.error,
        };
        spans.push(Span::styled(sanitize(&n.text).into_owned(), style));
        spans.push(Span::raw("  "));
    }
    spans.push(Span::styled(
        format!(
            "{} · {} · {} · memory {}",
            sanitize(&app.conn.endpoint),
            sanitize(&app.conv.model),
            app.conv.mode,
            app.conv.memory
        ),
        theme.dim,
    ));
    // Hints get at most half the line: drop whole hints (keeping the last, the help key)
    // rather than cut one mid-word, and keep a space between them and the left part.
    let all = hints(app);
    let mut parts: Vec<&str> = all.split(" · ").collect();
    let budget = usize::from(area.width / 2);
    while parts.len() > 1 && parts.join(" · ").chars().count() > budget {
        parts.remove(parts.len() - 2);
    }
    let hints = parts.join(" · ");
    let left = Line::from(spans);
    let hint_w = (hints.chars().count() as u16).min(area.width / 2);
    // A column between them, so a long left part does not run into the hints.
    let cols = Layout::horizontal([Constraint::Min(0), Constraint::Length(hint_w)])
        .spacing(1)
        .split(area);
    f.render_widget(Paragraph::new(left), cols[0]);
    f.render_widget(
        Paragraph::new(Span::styled(hints, theme.dim)).right_aligned(),
        cols[1],
    );
}

/// Key hints for the focused pane, from the keymap.
pub fn hints(app: &App) -> String {
    // A panel on top lists its own keys in its title.
    if app.overlay.is_some() {
        return String::new();
    }
    let km = &app.keymap;
    let ctx = app.key_context();
    let mut parts = match app.focus {
        Focus::Input if app.is_busy() => keymap_hints(km, ctx, &[Hint::One(Action::Cancel)]),
        Focus::Input => keymap_hints(
            km,
            ctx,
            &[Hint::One(Action::Submit), Hint::One(Action::Newline)],
        ),
        Focus::Conversation => {
            let mut items = vec![
                Hint::Pair(Action::SelectPrev, Action::SelectNext),
                Hint::Pair(Action::PrevChoice, Action::NextChoice),
            ];
            // The selected reply reasoned: say how to see it.
            let reasoned = app
                .selected
                .and_then(|id| app.conv.get(id))
                .and_then(|m| m.choices.get(m.selected))
                .is_some_and(|c| c.reasoning_text().is_some());
            if reasoned {
                items.push(Hint::One(Action::ToggleReasoning));
            }
            keymap_hints(km, ctx, &items)
        }
        Focus::Params if app.params.edit.is_some() => keymap_hints(
            km,
            ctx,
            &[
                Hint::One(Action::Apply),
                Hint::Named(Action::Close, "cancel"),
            ],
        ),
        Focus::Params => keymap_hints(
            km,
            ctx,
            &[
                Hint::Pair(Action::SelectPrev, Action::SelectNext),
                Hint::One(Action::Edit),
                Hint::One(Action::Unset),
            ],
        ),
    };
    let mut global = Vec::new();
    if app.focus != Focus::Conversation
        && app
            .conv
            .last_reply()
            .is_some_and(|m| m.choices.len() > 1 && m.speaker == Speaker::Assistant)
    {
        global.push(Hint::One(Action::NextChoice));
    }
    global.push(Hint::One(Action::ToggleParams));
    global.push(Hint::One(Action::Help));
    parts.extend(keymap_hints(km, Context::Global, &global));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(short(128_000), "128k");
        assert_eq!(short(1_047_576), "1.0M");
    }
}
