//! The whole screen: history (+ parameters), finish_reason and tokens, input, status line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::app::{App, Focus, NoticeKind, Probe};
use crate::runtime::backend::Moved;
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::{overlays, panels, params, widgets};

/// Rows the input box takes: its lines, between 1 and 8, plus borders.
fn input_height(app: &App, area: Rect) -> u16 {
    let lines = app.draft.line_count().clamp(1, 8) as u16;
    (lines + 2).min(area.height / 3).max(3)
}

/// Draw everything. Small terminals drop the side panels first, then the info panels.
pub fn draw(f: &mut Frame, app: &App, theme: &Theme) {
    draw_frame(f, app, theme, &mut FrameCache::default(), false);
}

/// What the small panels showed in the last frame [`draw_frame`] drew, and where: a panel
/// that would show the same again in the same place is not drawn (its cells are still in
/// the buffer) nor compared with the screen.
#[derive(Default)]
pub struct FrameCache {
    theme: Option<Theme>,
    area: Rect,
    /// Something was drawn over the panes in the last frame (an overlay, the local model's
    /// panel): the next frame draws everything.
    overdrawn: bool,
    finish: Option<(Rect, Vec<Line<'static>>)>,
    usage: Option<(Rect, panels::UsageView)>,
    status: Option<(Rect, panels::StatusView)>,
}

/// A panel of the cache: drawn (over its area, cleared first when the buffer holds the
/// last frame) unless it shows the same in the same place as in the last frame and the
/// buffer still holds that frame — then its area is added to `clean`.
/// `slot` holds what the panel showed last frame (None: not drawn then).
fn cached<V: PartialEq>(
    f: &mut Frame,
    slot: &mut Option<(Rect, V)>,
    area: Rect,
    view: V,
    kept: bool,
    clean: &mut Vec<Rect>,
    render: impl FnOnce(&mut Frame, Rect, &V),
) {
    if kept && slot.as_ref().is_some_and(|(a, v)| *a == area && *v == view) {
        clean.push(area);
        return;
    }
    if kept {
        f.render_widget(Clear, area);
    }
    render(f, area, &view);
    *slot = Some((area, view));
}

/// Draw the whole screen into `f`'s buffer and return the areas whose cells are those of
/// the last frame (not to be compared with the screen again), and the conversation's rows
/// that moved up unchanged (to be scrolled by the terminal first; the areas are then what
/// is unchanged after the scroll). `kept`: the buffer holds the
/// last frame this function drew with `cache` (as `runtime::terminal::draw_kept` gives
/// it); only then are unchanged panels and rows left as they are. Otherwise the buffer is
/// reset and everything drawn.
pub fn draw_frame(
    f: &mut Frame,
    app: &App,
    theme: &Theme,
    cache: &mut FrameCache,
    kept: bool,
) -> (Vec<Rect>, Option<Moved>) {
    let area = f.area();
    let history_w = if app.params.shown && area.width >= 60 {
        area.width.saturating_sub(36)
    } else {
        area.width
    };
    let overdrawn = app.overlay.is_some() || crate::ui::local::panel_height(app, history_w) > 0;
    let kept = kept
        && !overdrawn
        && !cache.overdrawn
        && cache.area == area
        && cache.theme.as_ref() == Some(theme);
    if !kept {
        f.buffer_mut().reset();
    }
    if cache.theme.as_ref() != Some(theme) {
        cache.theme = Some(theme.clone());
    }
    cache.area = area;
    cache.overdrawn = overdrawn;
    let mut clean = Vec::new();
    // The conversation pane says what its rows show when it draws them.
    app.view.borrow_mut().begin_frame_kept(kept);
    if area.width < 4 || area.height < 3 {
        (cache.finish, cache.usage, cache.status) = (None, None, None);
        if kept {
            f.render_widget(Clear, area);
        }
        f.render_widget(Paragraph::new("…"), area);
        return (clean, None);
    }
    let show_info = area.height >= 16 && area.width >= 40;
    let info_h = if show_info { 5 } else { 0 };
    let input_h = if area.height >= 8 {
        input_height(app, area)
    } else {
        0
    };
    let [main, info, input, status] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(info_h),
        Constraint::Length(input_h),
        Constraint::Length(1),
    ])
    .areas(area);

    let (history_area, params_area) = if app.params.shown && main.width >= 60 {
        let [h, p] = Layout::horizontal([Constraint::Min(30), Constraint::Length(36)]).areas(main);
        (h, Some(p))
    } else if app.params.shown {
        (Rect::default(), Some(main))
    } else {
        (main, None)
    };

    if history_area.width > 0 && history_area.height > 0 {
        draw_conversation(f, history_area, app, theme);
        // The local model's progress (or failure), over the bottom of the conversation:
        // the app stays usable underneath.
        let h = crate::ui::local::panel_height(app, history_area.width).min(history_area.height);
        if h > 0 {
            app.view.borrow_mut().mark_overdrawn();
            let r = Rect {
                y: history_area.y + history_area.height - h,
                height: h,
                ..history_area
            };
            crate::ui::local::draw_panel(f, r, app, theme);
        }
    }
    if let Some(p) = params_area {
        if kept {
            f.render_widget(Clear, p);
        }
        params::draw(f, p, app, theme);
    }
    if show_info {
        let [fin, usage] =
            Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)])
                .areas(info);
        let v = panels::finish_view(app, theme);
        cached(f, &mut cache.finish, fin, v, kept, &mut clean, |f, a, v| {
            panels::render_finish(f, a, v, theme)
        });
        let v = panels::usage_view(app, theme, usage);
        cached(
            f,
            &mut cache.usage,
            usage,
            v,
            kept,
            &mut clean,
            |f, a, v| panels::render_usage(f, a, v, theme),
        );
    } else {
        (cache.finish, cache.usage) = (None, None);
    }
    if input_h > 0 {
        if kept {
            f.render_widget(Clear, input);
        }
        panels::draw_input(f, input, app, theme);
    }
    let v = panels::status_view(app, theme, status.width);
    cached(
        f,
        &mut cache.status,
        status,
        v,
        kept,
        &mut clean,
        |f, a, v| panels::render_status(f, a, v, theme),
    );
    if app.overlay.is_some() {
        app.view.borrow_mut().mark_overdrawn();
    }
    overlays::draw(f, area, app, theme);
    let (rows, moved) = app.view.borrow().clean_and_moved();
    clean.extend(rows);
    (clean, moved)
}

fn draw_conversation(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Conversation && app.overlay.is_none();
    let mut title = if app.conv.title.is_empty() {
        "chat-tui".to_string()
    } else {
        sanitize(&app.conv.title).into_owned()
    };
    if let Some(ro) = &app.custody.read_only {
        title = format!(
            "{title} — {}",
            crate::ui::custody::read_only_mark(&ro.holder)
        );
    }
    let mut block = widgets::block(&title, theme.heading, focused, theme);
    if app.tint {
        // The tint's legend (`/logprobs color`).
        let mut legend = vec![Span::styled(" tokens: ", theme.dim)];
        for (i, label) in crate::app::logprobs::BANDS.iter().enumerate() {
            legend.push(Span::styled(format!("■ {label} "), theme.prob[i]));
        }
        block = block.title(Line::from(legend).right_aligned());
    }
    let inner = block.inner(area);
    app.view
        .borrow_mut()
        .render_block(block, area, f.buffer_mut());
    // A column between the border and the text, so a quote's bar or a table's edge is not
    // drawn against the border (`││`).
    let inner = if inner.width > 8 {
        Rect {
            x: inner.x + 1,
            width: inner.width - 1,
            ..inner
        }
    } else {
        inner
    };
    if app.conv.messages.is_empty() {
        // Over the last frame's cells, when the buffer was kept.
        f.render_widget(Clear, inner);
        f.render_widget(
            Paragraph::new(welcome(app, theme)).wrap(Wrap { trim: false }),
            inner,
        );
        return;
    }
    let buf = f.buffer_mut();
    let mut view = app.view.borrow_mut();
    view.set_text_selection(app.selection.range());
    view.set_tint(app.tint);
    view.render(
        &app.conv.messages,
        inner,
        buf,
        theme,
        focused,
        app.selected.filter(|_| focused),
    );
}

fn welcome(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(Span::styled("Welcome to chat-tui.", theme.heading)),
        Line::from(""),
        Line::from(format!(
            "Talking to {} with model {} ({} mode, memory {}).",
            sanitize(&app.conn.endpoint),
            sanitize(&app.conv.model),
            app.conv.mode,
            app.conv.memory
        )),
        Line::from(
            "Type below and press Enter. F1 lists every key and command; F2 shows the parameters.",
        ),
    ];
    if let Some(r) = app.local.running() {
        let ctx = r
            .info
            .context
            .map(|c| format!(", context window {c} tokens"))
            .unwrap_or_default();
        lines.push(Line::from(Span::styled(
            format!(
                "The local model is llama.cpp's server at {} (pid {}{ctx}); it stops when chat-tui quits.",
                r.info.base_url, r.info.pid
            ),
            theme.dim,
        )));
        if let Some(note) = &r.info.port_note {
            lines.push(Line::from(Span::styled(
                format!("The configured {note}."),
                theme.dim,
            )));
        }
    }
    // The status line cuts a long notice short (a file that could not be opened names its
    // path first): show an error here in full, wrapped, while the screen is empty.
    if let Some(n) = app
        .status
        .notice
        .as_ref()
        .filter(|n| n.kind == NoticeKind::Error)
    {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            sanitize(&n.text).into_owned(),
            theme.error,
        )));
    }
    if app.conn.first_run {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "No API key or server is configured yet.",
            theme.warning,
        )));
        match &app.conn.probe {
            Probe::Off => {}
            Probe::Looking => lines.push(Line::from(Span::styled(
                "Looking for Ollama (11434) and llama.cpp (8080) on this machine…",
                theme.dim,
            ))),
            Probe::Found { name, url } => lines.push(Line::from(Span::styled(
                format!("Found {} at {}.", sanitize(name), sanitize(url)),
                theme.ok,
            ))),
            Probe::NotFound => lines.push(Line::from(Span::styled(
                "No local server found (looked for Ollama on port 11434 and llama.cpp on 8080).",
                theme.dim,
            ))),
        }
        lines.push(Line::from(
            "  • OpenAI: export OPENAI_API_KEY=sk-... (or api_key_cmd in the config)",
        ));
        lines.push(Line::from(
            "  • A local server: chat-tui --base-url http://127.0.0.1:8080/v1",
        ));
        lines.push(Line::from(
            "    or --profile ollama (see the example config: chat-tui --print-config)",
        ));
        lines.push(Line::from(format!(
            "  • A small local model: chat-tui --local, or /local here ({}, once)",
            crate::local::DOWNLOAD_SIZE
        )));
        let cfg = crate::store::paths::config_file()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(no config directory)".into());
        lines.push(Line::from(format!("  • Config file: {cfg}")));
    }
    lines
}
