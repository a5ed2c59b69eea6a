//! Panels drawn over the others: help, the model picker, the local-server offer, sessions.
//! Draw only: their keys are handled in `app::overlay`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::action::Action;
use crate::app::{App, Overlay};
use crate::commands::COMMANDS;
use crate::keymap::{Context, Hint, hints};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{panel, panel_area};

/// The keys of `contexts`, a heading each (with its `[keys…]` table name).
fn key_lines(app: &App, theme: &Theme, contexts: &[Context], lines: &mut Vec<Line<'static>>) {
    for ctx in contexts {
        let bindings = app.keymap.bindings(*ctx);
        if bindings.is_empty() {
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {}", ctx.title()), theme.accent),
            Span::styled(
                match ctx {
                    Context::Global => "  [keys]".to_string(),
                    c => format!("  [keys.{}]", c.name()),
                },
                theme.dim,
            ),
        ]));
        for (key, action) in &bindings {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("    {key:<14}"),
                    theme.accent.add_modifier(Modifier::BOLD),
                ),
                Span::raw(action.describe()),
                Span::styled(format!("  ({})", action.name()), theme.dim),
            ]));
        }
    }
}

/// The help text: every binding (from the keymap, per pane and panel) and every command.
pub fn help_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(Span::styled(
        "Keys (rebind in the config: [keys] for anywhere, [keys.PANE] for one pane)",
        theme.heading,
    ))];
    key_lines(
        app,
        theme,
        &[Context::Global, Context::Input, Context::Conversation],
        &mut lines,
    );
    for text in [
        "  Mouse in the conversation: the wheel scrolls; drag selects and copies on release;",
        "  double-click copies a word, triple-click the message. Hold Shift for the terminal's",
        "  own selection.",
    ] {
        lines.push(Line::from(Span::styled(text, theme.dim)));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Commands (Tab completes)",
        theme.heading,
    )));
    for (name, args, what) in COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<36}", format!("{name} {args}")), theme.accent),
            Span::raw(*what),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Parameters (/set NAME VALUE, or F2)",
        theme.heading,
    )));
    lines.push(Line::from(
        "  temperature 0..2 · top_p · max_tokens · n · stop (up to 4) · presence_penalty -2..2",
    ));
    lines.push(Line::from(
        "  frequency_penalty -2..2 · seed · suffix, best_of (completion mode) · any other name: extra body field",
    ));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Keys in panels", theme.heading)));
    let panels: Vec<Context> = Context::ALL
        .iter()
        .copied()
        .filter(|c| !matches!(c, Context::Global | Context::Input | Context::Conversation))
        .collect();
    key_lines(app, theme, &panels, &mut lines);
    lines.push(Line::from(Span::styled(
        "  In the sessions browser, a rename and a parameter being edited, other keys type.",
        theme.dim,
    )));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Files", theme.heading)));
    for (what, path) in crate::store::paths::describe() {
        lines.push(Line::from(vec![
            Span::styled(format!("  {what:<14}"), theme.dim),
            Span::raw(path),
        ]));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Any other key closes this help.",
        theme.dim,
    )));
    lines
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(overlay) = &app.overlay else {
        return;
    };
    match overlay {
        Overlay::Help { scroll } => {
            let r = panel_area(f, area, 110, area.height.saturating_sub(2));
            let keys = hints(
                &app.keymap,
                Context::Help,
                &[
                    Hint::Pair(Action::ScrollUp, Action::ScrollDown),
                    Hint::Pair(Action::PageUp, Action::PageDown),
                    Hint::One(Action::Close),
                ],
            );
            let p = Paragraph::new(help_lines(app, theme))
                .block(panel(&format!("help — {}", keys.join(" · ")), theme))
                .scroll((*scroll, 0));
            f.render_widget(p, r);
        }
        Overlay::Models {
            models,
            selected,
            loading,
            error,
        } => {
            let r = panel_area(f, area, 60, 20);
            let keys = hints(
                &app.keymap,
                Context::Models,
                &[
                    Hint::Named(Action::Accept, "picks"),
                    Hint::Named(Action::Close, "closes"),
                ],
            );
            let b = panel(&format!("models — {}", keys.join(", ")), theme);
            let inner = b.inner(r);
            f.render_widget(b, r);
            let lines: Vec<Line> = if *loading {
                vec![Line::from(Span::styled(
                    "asking the server (GET /models)…",
                    theme.dim,
                ))]
            } else if let Some(e) = error {
                vec![Line::from(Span::styled(
                    sanitize(e).into_owned(),
                    theme.error,
                ))]
            } else if models.is_empty() {
                vec![Line::from(Span::styled(
                    "the server lists no models",
                    theme.dim,
                ))]
            } else {
                models
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let cur = if *m == app.conv.model {
                            " (current)"
                        } else {
                            ""
                        };
                        let style = if i == *selected {
                            theme.selection
                        } else {
                            ratatui::style::Style::default()
                        };
                        Line::from(Span::styled(format!("{}{cur}", sanitize(m)), style))
                    })
                    .collect()
            };
            let h = inner.height as usize;
            let scroll = (*selected + 1).saturating_sub(h) as u16;
            f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
        }
        Overlay::LocalServer { name, url } => {
            let r = panel_area(f, area, 64, 9);
            let text = vec![
                Line::from(format!(
                    "No API key or server is configured, but {name} answers at"
                )),
                Line::from(Span::styled(url.clone(), theme.accent)),
                Line::from(""),
                Line::from(format!(
                    "Use it for this session?  {}: yes · any other key: no",
                    app.keymap
                        .keys_for(Context::LocalServer, Action::Yes)
                        .iter()
                        .map(|k| k.label())
                        .collect::<Vec<_>>()
                        .join(" / ")
                )),
                Line::from(Span::styled(
                    "(to keep it, set base_url in the config, or use --profile)",
                    theme.dim,
                )),
            ];
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(panel("local server found", theme)),
                r,
            );
        }
        Overlay::LocalModel { restart } => {
            crate::ui::local::draw_offer(f, area, app, theme, *restart)
        }
        Overlay::Sessions(state) => crate::ui::sessions::draw(f, area, state, &app.keymap, theme),
        Overlay::Held(p) => crate::ui::custody::draw_held(f, area, p, &app.keymap, theme),
        Overlay::Replace { path, what } => {
            crate::ui::custody::draw_replace(f, area, path, what, &app.keymap, theme)
        }
        Overlay::Branches(pane) => crate::ui::branches::draw(f, area, app, pane, theme),
        Overlay::Compare(pane) => crate::ui::compare::draw(f, area, app, pane, theme),
        Overlay::Inspector(pane) => crate::ui::inspector::draw(f, area, app, pane, theme),
        Overlay::Logprobs(pane) => crate::ui::logprobs::draw(f, area, app, pane, theme),
    }
}
