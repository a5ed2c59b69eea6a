//! The conversation pane: its message cursor, and Tab from the input (complete a
//! /command, or move here).

use crate::app::{App, Focus, NoticeKind};

/// Focus the conversation pane: the message cursor starts on the last message (or stays
/// where it was, if that message is still there).
pub(super) fn enter(app: &mut App) {
    app.focus = Focus::Conversation;
    let still_there = app
        .selected
        .is_some_and(|id| app.conv.messages.iter().any(|m| m.id == id));
    if !still_there {
        app.selected = app.conv.messages.last().map(|m| m.id);
    }
    if let Some(id) = app.selected {
        app.view.get_mut().reveal(id);
    }
}

/// Move the message cursor by `delta` messages (and bring the message into view).
pub(super) fn select(app: &mut App, delta: isize) {
    let msgs = &app.conv.messages;
    if msgs.is_empty() {
        app.selected = None;
        return;
    }
    let last = msgs.len() - 1;
    let pos = app
        .selected
        .and_then(|id| msgs.iter().position(|m| m.id == id));
    let next = match pos {
        Some(p) => p.saturating_add_signed(delta).min(last),
        None => last,
    };
    let id = msgs[next].id;
    app.selected = Some(id);
    let view = app.view.get_mut();
    if next == last && delta > 0 {
        view.to_bottom();
    } else {
        view.reveal(id);
    }
}

/// Show or hide the reasoning of the selected reply (the message cursor's, else the last
/// reply), for the choice shown.
pub(super) fn toggle_reasoning(app: &mut App) {
    let id = app
        .selected
        .filter(|_| app.focus == Focus::Conversation)
        .and_then(|id| app.conv.get(id))
        .filter(|m| m.speaker == crate::chat::conversation::Speaker::Assistant)
        .or_else(|| app.conv.last_reply())
        .map(|m| m.id);
    let Some(m) = id.and_then(|id| app.conv.get_mut(id)) else {
        app.notify(NoticeKind::Info, "no reply yet");
        return;
    };
    let sel = m.selected;
    let has = m
        .choices
        .get(sel)
        .and_then(|c| c.reasoning.as_ref())
        .is_some_and(|r| !r.text.is_empty());
    if !has {
        app.notify(NoticeKind::Info, "this reply has no reasoning");
        return;
    }
    if let Some(r) = m.choice_mut(sel).reasoning.as_mut() {
        r.open = !r.open;
    }
    m.touch();
    app.dirty = true;
}

/// Tab: complete a /command, otherwise move to the conversation.
pub(super) fn complete(app: &mut App) {
    let draft = app.draft.text();
    if !draft.starts_with('/') || draft.contains('\n') {
        enter(app);
        return;
    }
    let mut done = crate::commands::complete(&draft);
    // `/copy N`: the code block numbers there are.
    if let Some(arg) = draft.strip_prefix("/copy ") {
        let arg = arg.trim_start();
        let total = crate::chat::code::total(&app.conv.messages);
        done.extend(
            (1..=total)
                .map(|n| n.to_string())
                .filter(|n| n.starts_with(arg))
                .map(|n| format!("/copy {n}")),
        );
    }
    match done.as_slice() {
        [one] => app.draft.set(one),
        [] => app.notify(NoticeKind::Info, "no command starts like that"),
        many => {
            let common = crate::commands::common_prefix(many);
            if common.len() > draft.len() {
                app.draft.set(&common);
            }
            app.notify(NoticeKind::Info, many.join("  "));
        }
    }
}
