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
pub use crate::text::thousands;
use crate::ui::theme::Theme;
use crate::ui::widgets::pane as block;
use unicode_width::UnicodeWidthStr;

const SPINNER: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

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

/// finish_reason of the current (last) reply, per choice: the panel's lines (a panel is drawn
/// again only when this changes, see `ui::layout::FrameCache`).
pub fn finish_view(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let Some(m) = app.conv.last_reply() else {
        return vec![Line::from(Span::styled("no reply yet", theme.dim))];
    };
    let mut spans: Vec<Span<'static>> = Vec::new();
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
    lines
}

/// Draw the finish_reason panel showing `lines` ([`finish_view`]).
pub fn render_finish(f: &mut Frame, area: Rect, lines: &[Line<'static>], theme: &Theme) {
    let b = block("finish_reason", theme, false);
    let inner = b.inner(area);
    f.render_widget(b, area);
    // Wrapped: at 80 columns the panel is 26 wide and the hint (the command to type)
    // would otherwise be cut off.
    f.render_widget(
        Paragraph::new(lines.to_vec()).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

/// Token usage (the API's numbers for the last reply, local counts, the budget, the session):
/// what the panel shows in `area` (it is drawn again only when this changes, see
/// `ui::layout::FrameCache`).
#[derive(Clone, Debug, PartialEq)]
pub struct UsageView {
    title: String,
    /// The last reply's usage and the draft's count (none when the panel has no room).
    lines: Option<(Line<'static>, Line<'static>)>,
    third: Option<Third>,
}

/// The tokens panel's third row: the context gauge or why there is none.
#[derive(Clone, Debug, PartialEq)]
enum Third {
    Gauge {
        style: Style,
        ratio: f64,
        label: String,
    },
    Text(Line<'static>),
}

pub fn usage_view(app: &App, theme: &Theme, area: Rect) -> UsageView {
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
    let inner = block(&title, theme, false).inner(area);
    if inner.height == 0 || inner.width == 0 {
        return UsageView {
            title,
            lines: None,
            third: None,
        };
    }
    let first = fit_line(usage_lines(app, theme), inner.width, theme);
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
    let third = (inner.height >= 3).then(|| {
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
            Third::Gauge {
                style,
                ratio,
                label: format!(
                    "{} / {} context{} ({} kept for the reply)",
                    short(next),
                    short(b.context_window),
                    if from_server { " (server)" } else { "" },
                    short(b.reply_reserve)
                ),
            }
        } else {
            Third::Text(Line::from(Span::styled(
                "context window unknown for this model (set context_window in the config)",
                theme.dim,
            )))
        }
    });
    UsageView {
        title,
        lines: Some((first, second)),
        third,
    }
}

/// Draw the tokens panel as `v` ([`usage_view`]) says.
pub fn render_usage(f: &mut Frame, area: Rect, v: &UsageView, theme: &Theme) {
    let b = block(&v.title, theme, false);
    let inner = b.inner(area);
    f.render_widget(b, area);
    let Some((first, second)) = &v.lines else {
        return;
    };
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .split(inner);
    f.render_widget(Paragraph::new(first.clone()), rows[0]);
    if inner.height >= 2 {
        f.render_widget(Paragraph::new(second.clone()), rows[1]);
    }
    match &v.third {
        Some(Third::Gauge {
            style,
            ratio,
            label,
        }) => f.render_widget(
            Gauge::default()
                .gauge_style(*style)
                .ratio(*ratio)
                .label(label.as_str()),
            rows[2],
        ),
        Some(Third::Text(line)) => f.render_widget(Paragraph::new(line.clone()), rows[2]),
        None => {}
    }
}

/// The tokens panel's first line (the last reply's usage), longest form first: the first
/// that fits the panel is drawn (see [`fit_line`]).
fn usage_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let last = || Span::styled("last ", theme.dim);
    let dim = |s: String| Span::styled(s, theme.dim);
    let Some(m) = app.conv.last_reply() else {
        return vec![Line::from(vec![last(), dim("—".into())])];
    };
    let local = m.request_tokens.map(thousands);
    match m.usage {
        Some(u) => {
            let (p, c, t) = (
                thousands(u.prompt_tokens),
                thousands(u.completion_tokens),
                thousands(u.total_tokens),
            );
            // The local count, where it differs from the server's.
            let local = local.filter(|_| m.request_tokens != Some(u.prompt_tokens));
            // Details beside what they are part of: cached prompt tokens, reasoning
            // completion tokens.
            let cached = u
                .cached_tokens
                .filter(|c| *c > 0)
                .map(|c| format!(" ({} cached)", thousands(c)));
            let reasoning = u
                .reasoning_tokens
                .filter(|r| *r > 0)
                .map(|r| format!(" ({} reasoning)", thousands(r)));
            let forms = [
                (
                    format!("prompt {p}"),
                    format!(" · completion {c}"),
                    format!(" · total {t}"),
                ),
                (
                    format!("prompt {p}"),
                    format!(" · compl. {c}"),
                    format!(" · total {t}"),
                ),
                (
                    format!("in {p}"),
                    format!(" · out {c}"),
                    format!(" · total {t}"),
                ),
                (p.clone(), format!(" + {c}"), format!(" = {t}")),
            ];
            // Fuller words first, then keep the local count over the words.
            let order: &[(usize, usize)] = if local.is_some() {
                &[
                    (0, 0),
                    (0, 1),
                    (1, 1),
                    (2, 1),
                    (0, 2),
                    (1, 2),
                    (2, 2),
                    (3, 1),
                    (3, 2),
                ]
            } else {
                &[(0, 2), (1, 2), (2, 2), (3, 2)]
            };
            let note = |k: usize| -> Option<String> {
                let l = local.as_ref()?;
                match k {
                    0 => Some(format!(" (local prompt count {l})")),
                    1 => Some(format!(" (local {l})")),
                    _ => None,
                }
            };
            let line = |f: usize, n: usize, details: bool| {
                let (prompt, completion, total) = &forms[f];
                let mut spans = vec![last(), Span::raw(prompt.clone())];
                if details {
                    spans.extend(cached.clone().map(dim));
                }
                spans.push(Span::raw(completion.clone()));
                if details {
                    spans.extend(reasoning.clone().map(dim));
                }
                spans.push(Span::raw(total.clone()));
                spans.extend(note(n).map(dim));
                Line::from(spans)
            };
            // The details are kept over fuller words and the local count.
            let has_details = cached.is_some() || reasoning.is_some();
            let mut out: Vec<Line<'static>> = Vec::new();
            if has_details {
                out.extend(order.iter().map(|&(f, n)| line(f, n, true)));
            }
            out.extend(order.iter().map(|&(f, n)| line(f, n, false)));
            out
        }
        None if m.status == Status::Partial => {
            vec![Line::from(vec![last(), dim("streaming…".into())])]
        }
        None => {
            let mut out = Vec::new();
            for (what, note) in [
                (
                    "not reported by the server",
                    local.clone().map(|l| format!(" (local prompt {l})")),
                ),
                (
                    "not reported",
                    local.clone().map(|l| format!(" (local prompt {l})")),
                ),
                (
                    "not reported",
                    local.clone().map(|l| format!(" (local {l})")),
                ),
                ("not reported", None),
            ] {
                let mut spans = vec![last(), dim(what.into())];
                spans.extend(note.map(dim));
                out.push(Line::from(spans));
            }
            out
        }
    }
}

/// The first of `forms` (longest first) that fits `width`; else the last one, cut with an
/// ellipsis (never mid-number without saying so).
fn fit_line(forms: Vec<Line<'static>>, width: u16, theme: &Theme) -> Line<'static> {
    let width = usize::from(width);
    let mut last = Line::default();
    for l in forms {
        if l.width() <= width {
            return l;
        }
        last = l;
    }
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for sp in last.spans {
        let w = sp.width();
        if used + w < width {
            used += w;
            out.push(sp);
            continue;
        }
        let mut text = String::new();
        for c in sp.content.chars() {
            let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if used + cw + 1 > width {
                break;
            }
            used += cw;
            text.push(c);
        }
        out.push(Span::styled(text, sp.style));
        break;
    }
    if width > 0 {
        out.push(Span::styled("…", theme.dim));
    }
    Line::from(out)
}

/// The input box.
pub fn draw_input(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Input && app.overlay.is_none();
    let title = if app.is_busy() {
        format!(
            "message ({} cancels the reply)",
            app.keymap.hint_key(Context::Input, Action::Cancel)
        )
    } else if app.editing.is_some() {
        format!(
            "editing a question — {} sends it as a new branch, {} cancels",
            app.keymap.hint_key(Context::Input, Action::Submit),
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
    render_status(f, area, &status_view(app, theme, area.width), theme);
}

/// What the status line shows at `width` columns: its left part, and the hints on the
/// right (it is drawn again only when this changes, see `ui::layout::FrameCache`).
#[derive(Clone, Debug, PartialEq)]
pub struct StatusView {
    left: Line<'static>,
    hints: String,
}

pub fn status_view(app: &App, theme: &Theme, width: u16) -> StatusView {
    let mut spans: Vec<Span<'static>> = Vec::new();
    match app.turns.first() {
        Some(cur) => {
            let sp = SPINNER[app.status.spinner % SPINNER.len()];
            let summary = matches!(cur.purpose, Purpose::Summary { .. });
            match app
                .turns
                .iter()
                .find_map(|t| t.first_token)
                .or(cur.first_token)
            {
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
                    let rate = app.turns.rate().unwrap_or(cur.deltas as f64 / secs);
                    spans.push(Span::styled(
                        format!(
                            "{sp} {} {rate:.0} tok/s ",
                            if summary { "summarising" } else { "streaming" }
                        ),
                        theme.accent,
                    ));
                }
            }
            let many = app.turns.len();
            if many > 1 {
                spans.push(Span::styled(format!("· {many} replies "), theme.accent));
            }
        }
        None => match &app.status.last_error {
            Some(_) => spans.push(Span::styled("✗ error ", theme.error)),
            // Idle, unless the local model is on its way (or down).
            None => spans.push(
                crate::ui::local::status_span(app, theme)
                    .unwrap_or_else(|| Span::styled("● idle ", theme.ok)),
            ),
        },
    }
    if app.custody.read_only.is_some() {
        spans.push(Span::styled("read-only ", theme.warning));
    }
    let state_w: usize = spans.iter().map(Span::width).sum();
    let mut notice_w = 0;
    if let Some(n) = &app.status.notice {
        let style = match n.kind {
            NoticeKind::Info => Style::default(),
            NoticeKind::Warning => theme.warning,
            NoticeKind::Error => theme.error,
        };
        let text = Span::styled(sanitize(&n.text).into_owned(), style);
        notice_w = text.width();
        spans.push(text);
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
    // Hints get at most half the line, and with a notice only what the notice leaves: a
    // notice is never cut to make room for them. Whole hints are dropped (keeping the
    // last, the help key, while it fits) rather than one cut mid-word.
    let all = hints(app);
    let mut parts: Vec<&str> = all.split(" · ").filter(|p| !p.is_empty()).collect();
    let width = usize::from(width);
    let budget = if notice_w > 0 {
        (width / 2).min(width.saturating_sub(state_w + notice_w + 1))
    } else {
        width / 2
    };
    let joined_w = |parts: &[&str]| parts.join(" · ").width();
    while parts.len() > 1 && joined_w(&parts) > budget {
        parts.remove(parts.len() - 2);
    }
    if notice_w > 0 && joined_w(&parts) > budget {
        parts.clear();
    }
    let hints = parts.join(" · ");
    StatusView {
        left: Line::from(spans),
        hints,
    }
}

/// Draw the status line as `v` ([`status_view`]) says.
pub fn render_status(f: &mut Frame, area: Rect, v: &StatusView, theme: &Theme) {
    let hint_w = u16::try_from(v.hints.width())
        .unwrap_or(u16::MAX)
        .min(area.width / 2);
    // A column between them, so a long left part does not run into the hints.
    let cols = Layout::horizontal([Constraint::Min(0), Constraint::Length(hint_w)])
        .spacing(if hint_w > 0 { 1 } else { 0 })
        .split(area);
    f.render_widget(Paragraph::new(v.left.clone()), cols[0]);
    f.render_widget(
        Paragraph::new(Span::styled(v.hints.as_str(), theme.dim)).right_aligned(),
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
        Focus::Input if app.draft.paste_elements() > 0 => keymap_hints(
            km,
            ctx,
            &[
                Hint::One(Action::Submit),
                Hint::One(Action::ExpandPaste),
                Hint::One(Action::Newline),
            ],
        ),
        Focus::Input => keymap_hints(
            km,
            ctx,
            &[Hint::One(Action::Submit), Hint::One(Action::Newline)],
        ),
        Focus::Conversation => {
            let mut items = vec![
                Hint::Pair(Action::SelectPrev, Action::SelectNext),
                Hint::One(Action::CopyMessage),
                Hint::One(Action::CopyCode),
                Hint::Pair(Action::PrevChoice, Action::NextChoice),
            ];
            // The selected reply reasoned: say how to see it (before the hints that are
            // always there, so it is not the one a narrow bar leaves out).
            let reasoned = app
                .selected
                .and_then(|id| app.conv.get(id))
                .and_then(|m| m.choices.get(m.selected))
                .is_some_and(|c| c.reasoning_text().is_some());
            if reasoned {
                items.insert(1, Hint::One(Action::ToggleReasoning));
            }
            // The selected reply has log probabilities: the token view and the tint.
            let probabilities = app
                .selected
                .and_then(|id| app.conv.get(id))
                .is_some_and(|m| crate::app::logprobs::choice_logprobs(m).is_some());
            if probabilities {
                items.insert(1, Hint::One(Action::Logprobs));
                items.insert(2, Hint::One(Action::ToggleTint));
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
        assert_eq!(thousands(0u64), "0");
        assert_eq!(thousands(1234567u64), "1,234,567");
        assert_eq!(short(128_000), "128k");
        assert_eq!(short(1_047_576), "1.0M");
    }
}
