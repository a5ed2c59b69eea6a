//! `update()` for composing: large pastes as one element, the external editor and Ctrl+Z as
//! effects whose results come back as messages, the first-run probe's result. No terminal,
//! no network.

use chat_tui::action::{Action, Effect, Msg};
use chat_tui::api::{Mode, Prompt, Role};
use chat_tui::app::{App, Event, Focus, NoticeKind, Probe, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory};
use crossterm::event::KeyCode;

use crate::support::update::{ctrl, key, start};

fn app_with(first_run: bool) -> App {
    App::new(Start {
        first_run,
        ..start(Conversation::new("test-model", Mode::Chat, Memory::Full))
    })
}

fn new_app() -> App {
    app_with(false)
}

/// `update()`, less the background token counts (`Effect::CountTokens`) a changed draft asks for.
fn step(app: &mut App, ev: Event) -> Vec<Effect> {
    update(app, ev)
        .into_iter()
        .filter(|e| !matches!(e, Effect::CountTokens(_)))
        .collect()
}

fn type_str(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(step(app, key(KeyCode::Char(c))).is_empty());
    }
}

fn big(n: usize) -> String {
    (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
}

/// The user message of the one request among `fx`.
fn sent_text(fx: &[Effect]) -> String {
    let reqs: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Send { request, .. } => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(reqs.len(), 1, "one request in {fx:?}");
    match &reqs[0].prompt {
        Prompt::Chat(m) => m
            .iter()
            .rev()
            .find(|w| w.role == Role::User)
            .map(|w| w.content.clone())
            .unwrap_or_default(),
        Prompt::Completion(p) => p.clone(),
    }
}

fn input_shows(app: &App) -> String {
    app.draft.input.lines().join("\n")
}

#[test]
fn a_large_paste_is_one_element_and_is_sent_in_full() {
    let mut app = new_app();
    type_str(&mut app, "Summarise: ");
    assert!(!chat_tui::ui::panels::hints(&app).contains("expand paste"));
    let pasted = format!("{}\r\n{}", big(6000), big(6341));
    assert!(update(&mut app, Event::Paste(pasted)).is_empty());
    assert_eq!(
        input_shows(&app),
        "Summarise: [pasted 12,342 characters]",
        "one element in the input"
    );
    assert_eq!(app.draft.line_count(), 1);
    // The key hints offer to expand it while it is there.
    assert!(
        chat_tui::ui::panels::hints(&app).contains("Ctrl+T expand paste"),
        "{}",
        chat_tui::ui::panels::hints(&app)
    );
    let notice = app.status.notice.clone().unwrap();
    assert!(
        notice.text.contains("12,342 characters") && notice.text.contains("Ctrl+T"),
        "{notice:?}"
    );
    type_str(&mut app, " please");
    let fx = update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        sent_text(&fx),
        format!("Summarise: {}\n{} please", big(6000), big(6341)),
        "the request carries the pasted text"
    );
    assert_eq!(input_shows(&app), "", "the draft is cleared");
}

#[test]
fn the_draft_token_count_counts_the_pasted_text() {
    let mut app = new_app();
    // Wait for the counter's tables (loaded in the background by the runtime).
    app.tokens.counter().warm_up();
    // Count as the runtime would in the background (here, now).
    let count = |app: &mut App| app.count_pending(std::time::Duration::from_secs(10));
    type_str(&mut app, "hi");
    count(&mut app);
    let small = app.tokens.draft;
    update(&mut app, Event::Paste("word ".repeat(400)));
    count(&mut app);
    assert!(
        app.tokens.draft >= small + 400,
        "draft {} tokens after pasting 400 words (was {small})",
        app.tokens.draft
    );
}

#[test]
fn backspace_deletes_the_element_and_its_text_is_not_sent() {
    let mut app = new_app();
    type_str(&mut app, "keep ");
    update(&mut app, Event::Paste(big(3000)));
    update(&mut app, key(KeyCode::Backspace));
    assert_eq!(input_shows(&app), "keep ");
    type_str(&mut app, "this");
    let fx = update(&mut app, key(KeyCode::Enter));
    assert_eq!(sent_text(&fx), "keep this");
}

#[test]
fn the_expand_key_puts_the_paste_in_the_input_for_editing() {
    let mut app = new_app();
    update(&mut app, Event::Paste(big(1500)));
    assert!(update(&mut app, ctrl('t')).is_empty());
    assert_eq!(input_shows(&app), big(1500));
    // Nothing left to expand: said so.
    update(&mut app, ctrl('t'));
    assert_eq!(
        app.status.notice.as_ref().map(|n| n.text.as_str()),
        Some("no pasted block to expand")
    );
}

#[test]
fn ctrl_g_asks_for_the_editor_on_the_full_draft_and_its_text_replaces_it() {
    let mut app = new_app();
    type_str(&mut app, "draft ");
    update(&mut app, Event::Paste(big(1200)));
    app.focus = Focus::Conversation;
    let fx = update(&mut app, ctrl('g'));
    match fx.as_slice() {
        [Effect::Edit { draft }] => assert_eq!(draft, &format!("draft {}", big(1200))),
        other => panic!("{other:?}"),
    }
    assert_eq!(app.focus, Focus::Input);
    let fx = update(
        &mut app,
        Event::Msg(Msg::Edited(Ok("edited\nover two lines".into()))),
    );
    assert!(fx.is_empty());
    assert_eq!(app.draft.text(), "edited\nover two lines");
    assert_eq!(app.draft.line_count(), 2);
}

#[test]
fn an_editor_that_fails_keeps_the_draft_and_says_why() {
    let mut app = new_app();
    type_str(&mut app, "my draft");
    for why in [
        "the editor `false` exited with status 1",
        "the editor left the file empty",
        "editor `nope` not found (set $VISUAL or $EDITOR)",
    ] {
        update(&mut app, Event::Msg(Msg::Edited(Err(why.into()))));
        assert_eq!(app.draft.text(), "my draft");
        let n = app.status.notice.clone().unwrap();
        assert_eq!(n.kind, NoticeKind::Warning);
        assert!(
            n.text.contains(why) && n.text.contains("unchanged"),
            "{}",
            n.text
        );
    }
}

#[test]
fn slash_editor_opens_an_empty_editor_and_clears_the_command() {
    let mut app = new_app();
    type_str(&mut app, "/editor");
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(
        matches!(fx.as_slice(), [Effect::Edit { draft }] if draft.is_empty()),
        "{fx:?}"
    );
    assert_eq!(input_shows(&app), "");
}

#[test]
fn ctrl_z_suspends_and_resuming_redraws() {
    let mut app = new_app();
    let fx = update(&mut app, ctrl('z'));
    assert!(matches!(fx.as_slice(), [Effect::Suspend]), "{fx:?}");
    app.dirty = false;
    update(&mut app, Event::Msg(Msg::Resumed(Ok(()))));
    assert!(app.dirty, "everything is redrawn");
    update(
        &mut app,
        Event::Msg(Msg::Resumed(Err("cannot suspend: EPERM".into()))),
    );
    assert_eq!(app.status.notice.as_ref().unwrap().kind, NoticeKind::Error);
    // Over a panel, only the panel's keys (and quit) work.
    update(&mut app, Event::Action(Action::Help));
    assert!(update(&mut app, ctrl('z')).is_empty());
}

#[test]
fn the_first_run_probe_ends_with_a_result() {
    let mut app = app_with(true);
    assert_eq!(app.conn.probe, Probe::Looking);
    update(&mut app, Event::Msg(Msg::LocalServer(None)));
    assert_eq!(app.conn.probe, Probe::NotFound);
    let mut app = app_with(true);
    update(
        &mut app,
        Event::Msg(Msg::LocalServer(Some((
            "llama.cpp".into(),
            "http://127.0.0.1:8080/v1".into(),
        )))),
    );
    assert_eq!(
        app.conn.probe,
        Probe::Found {
            name: "llama.cpp".into(),
            url: "http://127.0.0.1:8080/v1".into()
        }
    );
    assert_eq!(new_app().conn.probe, Probe::Off);
}
