//! The whole screen: history (+ parameters), finish_reason and tokens, input, status line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::{App, Focus, NoticeKind, Probe};
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
    let area = f.area();
    // The conversation pane says what its rows show when it draws them.
    app.view.borrow_mut().begin_frame();
    if area.width < 4 || area.height < 3 {
        f.render_widget(Paragraph::new("…"), area);
        return;
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
        params::draw(f, p, app, theme);
    }
    if show_info {
        let [fin, usage] =
            Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)])
                .areas(info);
        panels::draw_finish(f, fin, app, theme);
        panels::draw_usage(f, usage, app, theme);
    }
    if input_h > 0 {
        panels::draw_input(f, input, app, theme);
    }
    panels::draw_status(f, status, app, theme);
    if app.overlay.is_some() {
        app.view.borrow_mut().mark_overdrawn();
    }
    overlays::draw(f, area, app, theme);
}

/// The areas of the screen drawn by the last `draw` whose cells are the same as in the
/// frame before (the conversation's unchanged rows): the terminal need not compare them.
pub fn clean_areas(app: &App) -> Vec<Rect> {
    app.view.borrow().clean_rows()
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
