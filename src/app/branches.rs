//! Branches in the app: editing a question into a new branch (`/edit`, `e`), switching
//! branch at a message (Alt+↑/↓), and the branches panel (`/branches`). The tree itself
//! lives in `chat::tree` and the conversation's operations; versions of a reply (retry,
//! compare) are in `turn`.
//!
//! While a reply streams, nothing here changes the path: it is refused with a notice (Esc
//! cancels the reply first). The one exception is switching among the versions a
//! `/compare` is writing side by side.

use crate::action::{Action, Effect};
use crate::app::{App, Focus, NoticeKind, Overlay, turn};
use crate::chat::conversation::{Branch, MessageId, Speaker};
use crate::keymap::Context;

/// A question being edited in the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Editing {
    /// The question edited: what is sent goes beside it, as a new branch.
    pub id: MessageId,
    /// The draft from before (Esc puts it back).
    pub draft: String,
}

/// `/edit` (no `id`: the last question on the path) and `e` on a selected question: put it
/// in the input; sending it starts a new branch there.
pub fn edit(app: &mut App, id: Option<MessageId>) {
    if turn::still_streaming(app) {
        return;
    }
    let target = match id {
        Some(id) => app.conv.get(id),
        None => app
            .conv
            .messages
            .iter()
            .rev()
            .find(|m| m.speaker == Speaker::User),
    };
    let Some((mid, text)) = target
        .filter(|m| m.speaker == Speaker::User)
        .map(|m| (m.id, m.content.clone()))
    else {
        let text = if id.is_some() {
            format!(
                "only your own messages can be edited ({} asks for a new version of a reply)",
                app.keymap.hint_key(Context::Conversation, Action::Retry)
            )
        } else {
            "no question to edit yet".to_string()
        };
        app.notify(NoticeKind::Info, text);
        return;
    };
    let draft = match app.editing.take() {
        Some(e) => e.draft,
        None => app.draft.text(),
    };
    app.editing = Some(Editing { id: mid, draft });
    app.draft.set(&text);
    app.focus = Focus::Input;
    let km = &app.keymap;
    let text = format!(
        "editing your question: {} sends it as a new branch (the old one is kept), {} cancels",
        km.hint_key(Context::Input, Action::Submit),
        km.hint_key(Context::Input, Action::Cancel)
    );
    app.notify(NoticeKind::Info, text);
}

/// `e` in the conversation pane: edit the question under the message cursor.
pub(super) fn edit_selected(app: &mut App) {
    match app.selected.filter(|_| app.focus == Focus::Conversation) {
        Some(id) => edit(app, Some(id)),
        None => edit(app, None),
    }
}

/// Esc while editing: the draft from before comes back.
pub(super) fn cancel_edit(app: &mut App) {
    if let Some(e) = app.editing.take() {
        app.draft.set(&e.draft);
        app.notify(NoticeKind::Info, "edit cancelled");
    }
}

/// Enter while editing: `text` goes beside the question edited, as a new branch from the
/// same point; the old branch is kept whole.
pub(super) fn send_edit(app: &mut App, edit: Editing, draft: &str, text: String) -> Vec<Effect> {
    if turn::still_streaming(app) {
        app.editing = Some(edit);
        return Vec::new();
    }
    if let Err(e) = app.conv.params.validate(app.conv.mode) {
        app.editing = Some(edit);
        app.notify(NoticeKind::Error, format!("not sent: {e}"));
        return Vec::new();
    }
    let note = match app.conv.get(edit.id).map(|m| m.parent) {
        Some(parent) => {
            let left = summary_left_behind(app, parent);
            app.conv.open_at(parent);
            let mut note = format!("a new branch ({})", switch_hint(app));
            if let Some(s) = left {
                note = format!("{note}; {s}");
            }
            note
        }
        // Another conversation was opened meanwhile: it is an ordinary message here.
        None => "the question being edited is not in this conversation: sent as a new message"
            .to_string(),
    };
    app.notify(NoticeKind::Info, note);
    app.draft.remember(draft);
    app.draft.set("");
    app.tokens.draft = 0;
    turn::send_user_message(app, text, None)
}

/// Whether the path may move from `from` to `to` now: always when nothing streams; while
/// replies stream, only among the versions being written side by side (a `/compare`).
/// Otherwise says why not.
pub(crate) fn may_switch(app: &mut App, from: MessageId, to: MessageId) -> bool {
    if app.turns.is_empty() {
        return true;
    }
    let siblings = app.conv.siblings(to);
    let ok = siblings.contains(&from)
        && app
            .turns
            .iter()
            .all(|t| t.reply().is_some_and(|r| siblings.contains(&r)));
    if !ok {
        turn::still_streaming(app);
    }
    ok
}

/// Alt+↑/↓: show the next (previous) branch at the message under the cursor — its next
/// sibling, and below it the branch written to last.
pub fn switch(app: &mut App, delta: isize) -> Vec<Effect> {
    let at = app
        .selected
        .filter(|id| app.focus == Focus::Conversation && app.conv.on_path(*id));
    // Elsewhere than the conversation pane: the last fork on the path.
    let id = at.or_else(|| {
        app.conv
            .messages
            .iter()
            .rev()
            .find(|m| m.fork.is_fork())
            .map(|m| m.id)
    });
    let Some(next) = id.and_then(|id| app.conv.sibling(id, delta)) else {
        let text = format!(
            "no other branch at this message (messages marked `branch i/n` or `version i/n` have them; {} lists every branch)",
            app.keymap.hint_key(Context::Conversation, Action::Branches)
        );
        app.notify(NoticeKind::Info, text);
        return Vec::new();
    };
    let Some(from) = id else {
        return Vec::new();
    };
    if !may_switch(app, from, next) {
        return Vec::new();
    }
    app.conv.open(next);
    if app.focus == Focus::Conversation {
        app.selected = Some(next);
    }
    app.view.get_mut().reveal(next);
    app.save_effect()
}

/// When the path is cut back to `fork` (a new branch from there): the summary on the path
/// after it that the new branch leaves behind, said in a few words. The new branch sends
/// its messages in full (until it is summarised itself).
pub(crate) fn summary_left_behind(app: &App, fork: Option<MessageId>) -> Option<String> {
    let path = &app.conv.messages;
    let after = match fork {
        Some(f) => path.iter().position(|m| m.id == f)? + 1,
        None => 0,
    };
    let s = path[after..]
        .iter()
        .find(|m| m.speaker == Speaker::Summary)?;
    let n = s.summary_of.len();
    Some(format!(
        "it starts before the summary of {n} message{} — that summary stays with the other branch, and this one sends its messages in full",
        if n == 1 { "" } else { "s" }
    ))
}

/// How to go back: the branch keys, and the list.
pub(crate) fn switch_hint(app: &App) -> String {
    let km = &app.keymap;
    let pair = km.hint_pair(
        Context::Conversation,
        Action::PrevBranch,
        Action::NextBranch,
    );
    let list = km.hint_key(Context::Conversation, Action::Branches);
    match (pair.is_empty(), list.is_empty()) {
        (false, false) => format!("{pair} at the fork switches, {list} or /branches lists them"),
        (false, true) => format!("{pair} at the fork switches, /branches lists them"),
        _ => "/branches lists them".to_string(),
    }
}

// ---- the branches panel ----

/// The branches panel: one row per branch (a leaf of the tree).
#[derive(Clone, Debug, PartialEq)]
pub struct BranchesPane {
    pub items: Vec<Branch>,
    pub selected: usize,
}

/// `/branches`, `b`: list the branches (the one shown selected).
pub fn open(app: &mut App) {
    let items = app.conv.branches();
    if items.len() < 2 {
        let km = &app.keymap;
        let text = format!(
            "one branch so far: edit a question ({} in the conversation, or /edit) or ask for a new version ({}) to start another",
            km.hint_key(Context::Conversation, Action::EditMessage),
            km.hint_key(Context::Conversation, Action::Retry)
        );
        app.notify(NoticeKind::Info, text);
        return;
    }
    let selected = items.iter().position(|b| b.current).unwrap_or(0);
    app.overlay = Some(Overlay::Branches(BranchesPane { items, selected }));
}

/// An action while the branches panel is on top.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    let Some(Overlay::Branches(pane)) = app.overlay.as_mut() else {
        return Vec::new();
    };
    let last = pane.items.len().saturating_sub(1);
    match a {
        Action::SelectPrev => pane.selected = pane.selected.saturating_sub(1),
        Action::SelectNext => pane.selected = (pane.selected + 1).min(last),
        Action::PageUp => pane.selected = pane.selected.saturating_sub(10),
        Action::PageDown => pane.selected = (pane.selected + 10).min(last),
        Action::Accept => {
            let Some(b) = pane.items.get(pane.selected).cloned() else {
                return Vec::new();
            };
            if turn::still_streaming(app) {
                return Vec::new();
            }
            app.overlay = None;
            let path = app.conv.forest().ancestry(b.leaf);
            if !app.conv.open_path(&path) {
                return Vec::new();
            }
            // The cursor goes where the branch differs from the one shown before.
            let at = b.fork.unwrap_or(b.leaf);
            app.selected = Some(at);
            app.focus = Focus::Conversation;
            app.view.get_mut().reveal(at);
            return app.save_effect();
        }
        Action::Close => app.overlay = None,
        _ => {}
    }
    Vec::new()
}
