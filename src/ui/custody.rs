//! The panels about whose file a conversation is: the choice offered when another chat-tui
//! writes the conversation being opened, and "replace it?" for `/save` onto another file.
//! Draw only: their keys are handled in `app::custody`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::action::Action;
use crate::app::HeldPanel;
use crate::keymap::{Context, Keymap};
use crate::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{panel, panel_area};

/// "read-only (pid 1234 writes it)" — the mark beside the title and on the status line.
pub fn read_only_mark(holder: &crate::store::lock::Holder) -> String {
    format!("read-only — {} writes it", holder.describe())
}

pub fn draw_held(f: &mut Frame, area: Rect, p: &HeldPanel, keymap: &Keymap, theme: &Theme) {
    let r = panel_area(f, area, 76, 12);
    let key = |a: Action| keymap.letter_key(Context::Held, a);
    let mut lines = Vec::new();
    if let Some(note) = &p.note {
        lines.push(Line::from(Span::styled(
            sanitize(note).into_owned(),
            theme.warning,
        )));
        lines.push(Line::from(""));
    }
    lines.push(Line::from(vec![
        Span::styled(
            sanitize(&p.path.display().to_string()).into_owned(),
            theme.accent,
        ),
        Span::raw(format!(" is open in {}.", p.holder.describe())),
    ]));
    lines.push(Line::from(
        "Two windows writing one conversation would lose one window's turns.",
    ));
    lines.push(Line::from(""));
    let choice = |k: String, what: &str| {
        Line::from(vec![
            Span::styled(format!("  {k:<6}"), theme.accent),
            Span::raw(what.to_string()),
        ])
    };
    if p.conv.is_some() {
        lines.push(choice(
            key(Action::ReadOnly),
            "open it read-only: read, scroll, search, export; nothing is sent or saved",
        ));
    }
    lines.push(choice(
        key(Action::ContinueInCopy),
        "continue in a copy: a new conversation with the same messages",
    ));
    lines.push(choice(
        key(Action::Close),
        if p.conv.is_some() {
            "do not open it"
        } else {
            "stay read-only"
        },
    ));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel("open in another chat-tui", theme)),
        r,
    );
}

pub fn draw_replace(
    f: &mut Frame,
    area: Rect,
    path: &std::path::Path,
    what: &str,
    keymap: &Keymap,
    theme: &Theme,
) {
    let r = panel_area(f, area, 72, 8);
    let lines = vec![
        Line::from(vec![
            Span::styled(
                sanitize(&path.display().to_string()).into_owned(),
                theme.accent,
            ),
            Span::raw(" already exists:"),
        ]),
        Line::from(sanitize(what).into_owned()),
        Line::from(""),
        Line::from(vec![
            Span::styled(
                format!(
                    "Replace it with this conversation? {} / {}",
                    keymap.letter_key(Context::Confirm, Action::Yes),
                    keymap.letter_key(Context::Confirm, Action::No),
                ),
                theme.warning,
            ),
            Span::styled("  (any other key: no)", theme.dim),
        ]),
    ];
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel("/save", theme)),
        r,
    );
}
