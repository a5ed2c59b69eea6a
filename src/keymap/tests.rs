use super::*;
use crossterm::event::{KeyCode, KeyEventKind, KeyModifiers};

fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
    KeyEvent::new_with_kind(code, m, KeyEventKind::Press)
}

fn user(entries: &[(&str, &str)], tables: &[(&str, &[(&str, &str)])]) -> KeyConfig {
    let mut c = KeyConfig::new();
    for (k, a) in entries {
        c.insert(k.to_string(), KeyEntry::Action(a.to_string()));
    }
    for (ctx, table) in tables {
        c.insert(
            ctx.to_string(),
            KeyEntry::Context(
                table
                    .iter()
                    .map(|(k, a)| (k.to_string(), a.to_string()))
                    .collect(),
            ),
        );
    }
    c
}

#[test]
fn defaults() {
    let km = Keymap::default();
    assert_eq!(
        km.lookup(Context::Input, &ev(KeyCode::Enter, KeyModifiers::NONE)),
        Some(Action::Submit)
    );
    assert_eq!(
        km.lookup(Context::Input, &ev(KeyCode::Enter, KeyModifiers::ALT)),
        Some(Action::Newline)
    );
    assert_eq!(
        km.lookup(
            Context::Input,
            &ev(KeyCode::Char('j'), KeyModifiers::CONTROL)
        ),
        Some(Action::Newline)
    );
    assert_eq!(
        km.lookup(Context::Input, &ev(KeyCode::Char('['), KeyModifiers::NONE)),
        None
    );
    assert_eq!(
        km.lookup(
            Context::Conversation,
            &ev(KeyCode::Char('['), KeyModifiers::NONE)
        ),
        Some(Action::PrevChoice)
    );
    assert_eq!(
        km.lookup(Context::Input, &ev(KeyCode::Right, KeyModifiers::ALT)),
        Some(Action::NextChoice)
    );
    assert_eq!(
        km.lookup(
            Context::Conversation,
            &ev(KeyCode::Char('c'), KeyModifiers::CONTROL)
        ),
        Some(Action::CancelOrQuit)
    );
    assert_eq!(
        km.lookup(
            Context::Conversation,
            &ev(KeyCode::Char('G'), KeyModifiers::SHIFT)
        ),
        Some(Action::ScrollBottom)
    );
}

#[test]
fn panels_see_their_own_keys_and_quit_only() {
    let km = Keymap::default();
    assert_eq!(
        km.lookup(
            Context::Sessions,
            &ev(KeyCode::Char('r'), KeyModifiers::CONTROL)
        ),
        Some(Action::Rename),
        "the panel's Ctrl+R, not the global retry"
    );
    assert_eq!(
        km.lookup(Context::Sessions, &ev(KeyCode::F(2), KeyModifiers::NONE)),
        None
    );
    assert_eq!(
        km.lookup(
            Context::Models,
            &ev(KeyCode::Char('q'), KeyModifiers::CONTROL)
        ),
        Some(Action::Quit)
    );
    assert_eq!(
        km.lookup(
            Context::Sessions,
            &ev(KeyCode::Char('x'), KeyModifiers::NONE)
        ),
        None,
        "typing goes to the filter"
    );
}

#[test]
fn user_bindings_and_parsing() {
    let (km, problems) = Keymap::with_overrides(&user(
        &[
            ("ctrl-s", "submit"),
            ("ctrl-nope-x", "submit"),
            ("f5", "launch_rockets"),
            ("x", "quit"),
        ],
        &[],
    ));
    assert_eq!(
        km.lookup(
            Context::Conversation,
            &ev(KeyCode::Char('s'), KeyModifiers::CONTROL)
        ),
        Some(Action::Submit)
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[2].contains("plain character"), "{problems:?}");
    assert_eq!(parse_key("shift-tab").unwrap().code, KeyCodeOrd::BackTab);
    assert_eq!(parse_key("F12").unwrap().code, KeyCodeOrd::F(12));
    assert_eq!(parse_key("Alt+Enter").unwrap().label(), "Alt+Enter");
    assert!(parse_key("ctrl-").is_none());
    for a in Action::ALL {
        assert_eq!(Action::from_name(&a.name()), Some(*a));
    }
    assert_eq!(Action::from_name("history_prev"), Some(Action::RecallPrev));
}

#[test]
fn a_pane_key_can_be_rebound_in_its_pane() {
    let (km, problems) = Keymap::with_overrides(&user(
        &[("tab", "help")],
        &[
            ("conversation", &[("j", "scroll_up"), ("k", "none")]),
            ("input", &[("enter", "newline"), ("ctrl-s", "submit")]),
            ("sessions", &[("ctrl-x", "delete"), ("delete", "none")]),
            ("nowhere", &[("a", "quit")]),
        ],
    ));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("[keys.nowhere]"), "{problems:?}");
    let j = ev(KeyCode::Char('j'), KeyModifiers::NONE);
    assert_eq!(km.lookup(Context::Conversation, &j), Some(Action::ScrollUp));
    let kk = ev(KeyCode::Char('k'), KeyModifiers::NONE);
    assert_eq!(km.lookup(Context::Conversation, &kk), None, "unbound");
    let enter = ev(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(km.lookup(Context::Input, &enter), Some(Action::Newline));
    assert_eq!(km.hint_key(Context::Input, Action::Submit), "Ctrl+S");
    let tab = ev(KeyCode::Tab, KeyModifiers::NONE);
    assert_eq!(
        km.lookup(Context::Input, &tab),
        Some(Action::Help),
        "a key rebound anywhere wins over a pane's default"
    );
    let ctrl_x = ev(KeyCode::Char('x'), KeyModifiers::CONTROL);
    assert_eq!(km.lookup(Context::Sessions, &ctrl_x), Some(Action::Delete));
    let del = ev(KeyCode::Delete, KeyModifiers::NONE);
    assert_eq!(km.lookup(Context::Sessions, &del), None);
    let listed = km.bindings(Context::Input);
    assert!(listed.contains(&("Enter".to_string(), Action::Newline)));
    assert!(!listed.iter().any(|(k, _)| k == "Tab"), "{listed:?}");
}

#[test]
fn hints_come_from_the_table() {
    let km = Keymap::default();
    assert_eq!(km.hint_key(Context::Input, Action::Newline), "Alt+Enter");
    assert_eq!(km.hint_key(Context::Sessions, Action::Delete), "Del");
    assert_eq!(km.hint_key(Context::Params, Action::Unset), "Del");
    assert_eq!(km.hint_key(Context::Conversation, Action::SelectPrev), "↑");
    assert_eq!(
        km.hint_key(Context::Conversation, Action::ScrollUp),
        "Ctrl+↑"
    );
    assert_eq!(km.hint_key(Context::Confirm, Action::Yes), "y");
    assert_eq!(km.letter_key(Context::Confirm, Action::No), "n");
    assert_eq!(
        km.hint_pair(Context::Params, Action::SelectPrev, Action::SelectNext),
        "↑↓"
    );
    let h = hints(
        &km,
        Context::Sessions,
        &[Hint::One(Action::Rename), Hint::One(Action::Close)],
    );
    assert_eq!(h, vec!["Ctrl+R rename", "Esc close"]);
}

#[test]
fn every_context_has_a_unique_name() {
    for c in Context::ALL {
        assert_eq!(Context::from_name(c.name()), Some(*c));
    }
    assert_eq!(Context::from_name("history"), Some(Context::Conversation));
}

#[test]
fn remembered_keys_equal_a_fresh_scan_and_follow_a_rebinding() {
    let (mut km, _) = Keymap::with_overrides(&user(&[("ctrl-s", "submit")], &[]));
    // Asked twice (the second answer from the memo): both equal a scan of the table.
    for _ in 0..2 {
        for ctx in Context::ALL {
            for a in Action::ALL {
                assert_eq!(km.keys_for(*ctx, *a), km.scan_keys_for(*ctx, *a));
            }
        }
    }
    assert_eq!(km.hint_key(Context::Input, Action::Help), "F1");
    // A binding made after the answers were remembered is in the next answer.
    let mut problems = Vec::new();
    km.bind(Context::Global, "f1", "none", &mut problems);
    km.bind(Context::Global, "f9", "help", &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(km.hint_key(Context::Input, Action::Help), "F9");
    for ctx in Context::ALL {
        for a in Action::ALL {
            assert_eq!(km.keys_for(*ctx, *a), km.scan_keys_for(*ctx, *a));
        }
    }
}
