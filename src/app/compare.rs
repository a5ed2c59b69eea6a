//! The versions of a reply side by side: opened by `/compare` (while its replies stream)
//! and by `v` on a reply with several versions. One column per version; ←/→ move between
//! them, Enter shows the one in focus in the conversation (it becomes the path).

use crate::action::{Action, Effect};
use crate::app::{App, Focus, NoticeKind, Overlay, branches, turn};
use crate::chat::conversation::{Conversation, MessageId, Speaker};
use crate::keymap::Context;

/// The side-by-side panel: the versions of the replies to `question`.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparePane {
    pub question: MessageId,
    /// The version in focus (index into [`versions`]).
    pub focus: usize,
    /// Lines scrolled, for every column together.
    pub scroll: u16,
}

/// The replies to `question`, by id: its versions.
pub fn versions(conv: &Conversation, question: MessageId) -> Vec<MessageId> {
    conv.forest()
        .children(Some(question))
        .iter()
        .copied()
        .filter(|id| {
            conv.get(*id)
                .is_some_and(|m| m.speaker == Speaker::Assistant)
        })
        .collect()
}

/// Show the versions of the replies to `question` side by side, the one on the path in
/// focus.
pub fn open(app: &mut App, question: MessageId) {
    let v = versions(&app.conv, question);
    let focus = v.iter().position(|id| app.conv.on_path(*id)).unwrap_or(0);
    app.overlay = Some(Overlay::Compare(ComparePane {
        question,
        focus,
        scroll: 0,
    }));
}

/// `v`: the versions of the reply under the cursor (else of the last reply).
pub(super) fn open_selected(app: &mut App) {
    let at = app
        .selected
        .filter(|_| app.focus == Focus::Conversation)
        .and_then(|id| app.conv.get(id))
        .filter(|m| m.speaker == Speaker::Assistant);
    let reply = at.or_else(|| app.conv.last_reply());
    let Some(question) = reply.and_then(|m| m.parent) else {
        app.notify(NoticeKind::Info, "no reply to compare yet");
        return;
    };
    if versions(&app.conv, question).len() < 2 {
        let text = format!(
            "this reply has one version: {} or /retry --model NAME adds one, /compare MODEL MODEL… several",
            app.keymap.hint_key(Context::Conversation, Action::Retry)
        );
        app.notify(NoticeKind::Info, text);
        return;
    }
    open(app, question);
}

/// An action while the side-by-side panel is on top.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    let Some(Overlay::Compare(pane)) = app.overlay.as_mut() else {
        return Vec::new();
    };
    let question = pane.question;
    let n = versions(&app.conv, question).len();
    match a {
        Action::PrevChoice => {
            pane.focus = pane.focus.saturating_sub(1);
            pane.scroll = 0;
        }
        Action::NextChoice => {
            pane.focus = (pane.focus + 1).min(n.saturating_sub(1));
            pane.scroll = 0;
        }
        Action::ScrollUp => pane.scroll = pane.scroll.saturating_sub(1),
        Action::ScrollDown => pane.scroll = pane.scroll.saturating_add(1),
        Action::PageUp => pane.scroll = pane.scroll.saturating_sub(10),
        Action::PageDown => pane.scroll = pane.scroll.saturating_add(10),
        Action::Accept => {
            let focus = pane.focus;
            let all = versions(&app.conv, question);
            let Some(&to) = all.get(focus) else {
                return Vec::new();
            };
            let from = all
                .iter()
                .copied()
                .find(|id| app.conv.on_path(*id))
                .unwrap_or(to);
            if !branches::may_switch(app, from, to) {
                return Vec::new();
            }
            app.overlay = None;
            app.conv.open(to);
            if app.selected == Some(from) || app.focus == Focus::Conversation {
                app.selected = Some(to);
            }
            app.view.get_mut().reveal(to);
            app.notify(
                NoticeKind::Info,
                format!("version {}/{} is shown", focus + 1, all.len()),
            );
            return app.save_effect();
        }
        Action::Cancel => return turn::cancel(app),
        Action::Close => app.overlay = None,
        _ => {}
    }
    Vec::new()
}
