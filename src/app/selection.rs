//! Copying: the mouse in the conversation pane (a drag selects text, release copies it; a
//! double click copies a word, a triple click the message), `y` / `Y` on the selected
//! message, and `/copy`. The selection is held as places in the view's lines
//! ([`LinePos`]), so it stays on its text while the view scrolls.
//!
//! Copying is an effect ([`Effect::Copy`]): the runtime sends the text to the terminal's
//! clipboard (OSC 52) and to the system clipboard, and says so (`Msg::Copied`).

use std::time::{Duration, Instant};

use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::action::Effect;
use crate::app::{App, CommandError, Focus, NoticeKind};
use crate::chat::code;
use crate::chat::conversation::{Message, Speaker};
use crate::commands::CopyWhat;
use crate::ui::conversation::LinePos;

/// Two presses on the same cell within this time are a double click (three a triple).
pub const MULTI_CLICK: Duration = Duration::from_millis(500);

/// The mouse selection in the conversation pane.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Where the selection started and where it ends now (both cells included).
    ends: Option<(LinePos, LinePos)>,
    /// The left button is down and the selection follows it.
    dragging: bool,
    /// The mouse moved since the press (a press and release in place is a click).
    moved: bool,
    last_click: Option<Click>,
}

#[derive(Clone, Copy, Debug)]
struct Click {
    at: Instant,
    column: u16,
    row: u16,
    count: u8,
}

impl Selection {
    /// The selection to draw: (start, end) in the order made, both included.
    pub fn range(&self) -> Option<(LinePos, LinePos)> {
        self.ends
    }

    /// A drag is under way.
    pub fn is_dragging(&self) -> bool {
        self.dragging
    }

    pub fn clear(&mut self) {
        self.ends = None;
        self.dragging = false;
        self.moved = false;
    }
}

/// A mouse event: the wheel scrolls the conversation; the left button selects in it. With
/// Shift held the terminal's own selection is left alone (most terminals keep Shift+drag
/// for themselves; those that pass it on get nothing done here).
pub(super) fn on_mouse(app: &mut App, m: MouseEvent) -> Vec<Effect> {
    if matches!(app.overlay, Some(crate::app::Overlay::Logprobs(_)))
        && matches!(
            m.kind,
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
        )
    {
        crate::app::logprobs::wheel(app, m.kind == MouseEventKind::ScrollDown);
        app.dirty = true;
        return Vec::new();
    }
    match m.kind {
        MouseEventKind::ScrollUp => {
            app.view.get_mut().scroll_up(3);
            app.dirty = true;
            return Vec::new();
        }
        MouseEventKind::ScrollDown => {
            app.view.get_mut().scroll_down(3);
            app.dirty = true;
            return Vec::new();
        }
        _ => {}
    }
    if m.modifiers.contains(KeyModifiers::SHIFT) || app.overlay.is_some() {
        return Vec::new();
    }
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => press(app, m.column, m.row),
        MouseEventKind::Drag(MouseButton::Left) => {
            drag(app, m.column, m.row);
            Vec::new()
        }
        MouseEventKind::Up(MouseButton::Left) => release(app),
        _ => Vec::new(),
    }
}

fn press(app: &mut App, column: u16, row: u16) -> Vec<Effect> {
    let now = Instant::now();
    let Some(p) = app.view.get_mut().hit(column, row) else {
        // Outside the text: a click elsewhere drops the selection.
        if app.selection.ends.is_some() {
            app.selection.clear();
            app.dirty = true;
        }
        app.selection.last_click = None;
        return Vec::new();
    };
    let count = match app.selection.last_click {
        Some(c)
            if c.column == column
                && c.row == row
                && now.saturating_duration_since(c.at) <= MULTI_CLICK =>
        {
            c.count % 3 + 1
        }
        _ => 1,
    };
    app.selection.last_click = Some(Click {
        at: now,
        column,
        row,
        count,
    });
    app.dirty = true;
    // A click puts the message cursor on the message.
    app.focus = Focus::Conversation;
    app.selected = Some(p.message);
    match count {
        1 => {
            app.selection.ends = Some((p, p));
            app.selection.dragging = true;
            app.selection.moved = false;
            Vec::new()
        }
        2 => {
            app.selection.dragging = false;
            let Some((a, b)) = app.view.get_mut().word_at(&app.conv.messages, p) else {
                app.selection.clear();
                return Vec::new();
            };
            app.selection.ends = Some((a, b));
            let text = app.view.get_mut().text_between(&app.conv.messages, a, b);
            copy(app, text, "word".into())
        }
        _ => {
            app.selection.dragging = false;
            let id = p.message;
            app.selection.ends = app.view.get_mut().message_body(&app.conv.messages, id);
            match app.conv.messages.iter().find(|m| m.id == id) {
                Some(m) => {
                    let (text, what) = (m.text().to_string(), describe(&app.conv.messages, m));
                    copy(app, text, what)
                }
                None => Vec::new(),
            }
        }
    }
}

fn drag(app: &mut App, column: u16, row: u16) {
    if !app.selection.dragging {
        return;
    }
    let view = app.view.get_mut();
    let Some((p, beyond)) = view.hit_clamped(column, row) else {
        return;
    };
    // Dragging past the top or bottom edge scrolls, a line per event.
    if beyond < 0 {
        view.scroll_up(1);
    } else if beyond > 0 {
        view.scroll_down(1);
    }
    if let Some((a, _)) = app.selection.ends {
        app.selection.ends = Some((a, p));
        app.selection.moved = true;
        app.dirty = true;
    }
}

fn release(app: &mut App) -> Vec<Effect> {
    if !app.selection.dragging {
        return Vec::new();
    }
    app.selection.dragging = false;
    app.dirty = true;
    let Some((a, b)) = app.selection.ends else {
        return Vec::new();
    };
    if !app.selection.moved {
        // A click: the message cursor moved there, nothing is selected.
        app.selection.ends = None;
        return Vec::new();
    }
    let text = app.view.get_mut().text_between(&app.conv.messages, a, b);
    if text.trim().is_empty() {
        app.notify(
            NoticeKind::Warning,
            "nothing copied: the selection is empty",
        );
        return Vec::new();
    }
    copy(app, text, "selection".into())
}

/// Copy `text` (`what` names it on the status line), or say there is nothing to copy.
pub(crate) fn copy(app: &mut App, text: String, what: String) -> Vec<Effect> {
    if text.trim().is_empty() {
        app.notify(
            NoticeKind::Warning,
            format!("nothing copied: the {what} is empty"),
        );
        return Vec::new();
    }
    vec![Effect::Copy { text, what }]
}

/// How the status line names a message: "reply 3", "question 2", "reply 3, choice 2".
pub fn describe(messages: &[Message], m: &Message) -> String {
    let nth = |speaker: Speaker| {
        messages
            .iter()
            .filter(|x| x.speaker == speaker)
            .position(|x| x.id == m.id)
            .map_or(0, |p| p + 1)
    };
    match m.speaker {
        Speaker::Assistant if m.choices.len() > 1 => format!(
            "reply {}, choice {}",
            nth(Speaker::Assistant),
            m.selected.min(m.choices.len() - 1) + 1
        ),
        Speaker::Assistant => format!("reply {}", nth(Speaker::Assistant)),
        Speaker::User => format!("question {}", nth(Speaker::User)),
        Speaker::System => "system message".into(),
        Speaker::Summary => "summary".into(),
    }
}

/// The message `y` and `Y` act on: the message cursor's, else the last.
fn target(app: &App) -> Option<&Message> {
    let msgs = &app.conv.messages;
    app.selected
        .and_then(|id| msgs.iter().find(|m| m.id == id))
        .or(msgs.last())
}

/// `y`: copy the selected message (the selected choice of a reply), its Markdown source.
pub(super) fn copy_message(app: &mut App) -> Vec<Effect> {
    let Some(m) = target(app) else {
        app.notify(NoticeKind::Warning, "nothing to copy yet");
        return Vec::new();
    };
    let (text, what) = (m.text().to_string(), describe(&app.conv.messages, m));
    copy(app, text, what)
}

/// `Y`: copy the first code block of the selected message.
pub(super) fn copy_first_code(app: &mut App) -> Vec<Effect> {
    let Some(m) = target(app) else {
        app.notify(NoticeKind::Warning, "nothing to copy yet");
        return Vec::new();
    };
    let id = m.id;
    let what = describe(&app.conv.messages, m);
    match code::blocks_in(m).into_iter().next() {
        Some(block) => {
            let n = code::first_number_in(&app.conv.messages, id).unwrap_or(1);
            copy(app, block.body, format!("code block {n}, {what}"))
        }
        None => {
            app.notify(NoticeKind::Warning, format!("{what} has no code block"));
            Vec::new()
        }
    }
}

/// `/copy …`.
pub(super) fn copy_command(app: &mut App, what: CopyWhat) -> Result<Vec<Effect>, CommandError> {
    let err = |s: String| Err(CommandError(s));
    let msgs = &app.conv.messages;
    match what {
        CopyWhat::Reply => {
            let Some(m) = msgs.iter().rev().find(|m| m.speaker == Speaker::Assistant) else {
                return err("/copy: no reply to copy yet".into());
            };
            let (text, what) = (m.text().to_string(), describe(msgs, m));
            Ok(copy(app, text, what))
        }
        CopyWhat::Block(n) => {
            let Some((id, block)) = code::find(msgs, n) else {
                let total = code::total(msgs);
                return err(match total {
                    0 => format!("/copy {n}: this conversation has no code block"),
                    1 => format!("/copy {n}: there is 1 code block (/copy 1)"),
                    t => format!("/copy {n}: there are {t} code blocks (1 to {t})"),
                });
            };
            let of = msgs
                .iter()
                .find(|m| m.id == id)
                .map(|m| describe(msgs, m))
                .unwrap_or_default();
            Ok(copy(app, block.body, format!("code block {n}, {of}")))
        }
        CopyWhat::All => {
            if msgs.is_empty() {
                return err("/copy all: the conversation is empty".into());
            }
            let n = msgs.len();
            let s = if n == 1 { "" } else { "s" };
            let text = crate::store::export::to_markdown(&app.conv);
            Ok(copy(app, text, format!("the conversation, {n} message{s}")))
        }
        CopyWhat::Curl | CopyWhat::Request | CopyWhat::Response => {
            crate::app::inspector::copy_command(app, what).map_err(CommandError)
        }
        CopyWhat::LastQuestion => {
            let Some(m) = msgs.iter().rev().find(|m| m.speaker == Speaker::User) else {
                return err("/copy last-question: no question yet".into());
            };
            let (text, what) = (m.text().to_string(), describe(msgs, m));
            Ok(copy(app, text, what))
        }
    }
}
