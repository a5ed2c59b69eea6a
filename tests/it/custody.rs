//! `update()` and the files a conversation is kept in: the choice offered for a conversation
//! another chat-tui writes, read-only mode, a copy, moved saves, `/save` onto another file,
//! and what quitting writes. No terminal, no disk, no network (the runtime's side is in
//! `src/runtime/claims.rs` and `tests/safety.rs`).

use std::path::PathBuf;

use chat_tui::action::{Action, Effect, Msg, TurnId};
use chat_tui::api::{FinishReason, Mode, Outcome, StreamEvent};
use chat_tui::app::{App, Event, NoticeKind, Overlay, SaveTarget, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use chat_tui::keymap::Context;
use chat_tui::store::lock::Holder;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::support::update::{notice, start};

const LIB: &str = "/dev/null/lib";

fn app_with(conv: Conversation) -> App {
    App::new(Start {
        save: SaveTarget {
            autosave: Some(PathBuf::from(LIB).join(format!("{}.json", conv.id))),
            file: None,
        },
        ..start(conv)
    })
}

fn new_app() -> App {
    app_with(Conversation::new("m", Mode::Chat, Memory::Full))
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Event {
    Event::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn enter(app: &mut App, text: &str) -> Vec<Effect> {
    for c in text.chars() {
        update(app, key(c));
    }
    update(app, code(KeyCode::Enter))
}

fn saves(fx: &[Effect]) -> Vec<(PathBuf, bool)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Save { path, replace, .. } => Some((path.clone(), *replace)),
            _ => None,
        })
        .collect()
}

fn has_send(fx: &[Effect]) -> bool {
    fx.iter().any(|e| matches!(e, Effect::Send { .. }))
}

fn the_turn(fx: &[Effect]) -> TurnId {
    fx.iter()
        .find_map(|e| match e {
            Effect::Send { turn, .. } => Some(*turn),
            _ => None,
        })
        .expect("a send")
}

/// A whole exchange.
fn exchange(app: &mut App, q: &str, a: &str) {
    let turn = the_turn(&enter(app, q));
    for ev in [
        StreamEvent::Delta {
            index: 0,
            text: a.into(),
        },
        StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Stop,
        },
    ] {
        update(app, Event::Msg(Msg::Stream { turn, event: ev }));
    }
    update(
        app,
        Event::Msg(Msg::Done {
            turn,
            result: Ok(Outcome::default()),
        }),
    );
}

fn saved_conv(text: &str) -> Conversation {
    let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
    c.title = "Theirs".into();
    c.push(Speaker::User, text);
    let r = c.push_reply(&Default::default(), "m");
    let m = c.get_mut(r).unwrap();
    m.choice_mut(0).text = format!("echo: {text}");
    m.status = Status::Complete;
    c
}

fn opened_held(app: &mut App, conv: Conversation, path: &str) -> Vec<Effect> {
    update(
        app,
        Event::Msg(Msg::Opened {
            path: PathBuf::from(path),
            result: Ok(Box::new(conv)),
            held: Some(Holder { pid: Some(4242) }),
        }),
    )
}

#[test]
fn a_held_conversation_is_offered_read_only_or_a_copy() {
    let mut app = new_app();
    let before = app.conv.id.clone();
    let fx = opened_held(&mut app, saved_conv("hi"), "/x/notes.json");
    assert!(fx.is_empty(), "nothing done before the choice: {fx:?}");
    assert!(matches!(app.overlay, Some(Overlay::Held(_))));
    assert_eq!(app.key_context(), Context::Held);
    assert_eq!(app.conv.id, before, "still the conversation before");
    // Keys the panel does not bind leave it up.
    update(&mut app, key('x'));
    assert!(matches!(app.overlay, Some(Overlay::Held(_))));
    // Esc: not opened.
    update(&mut app, code(KeyCode::Esc));
    assert!(app.overlay.is_none());
    assert_eq!(app.conv.id, before);
    assert!(notice(&app).1.contains("was not opened"));
}

#[test]
fn read_only_refuses_to_send_and_saves_nothing() {
    let mut app = new_app();
    let conv = saved_conv("hi");
    let id = conv.id.clone();
    opened_held(&mut app, conv, "/x/notes.json");
    let fx = update(&mut app, key('r'));
    assert!(saves(&fx).is_empty(), "{fx:?}");
    assert_eq!(app.conv.id, id);
    let ro = app.custody.read_only.as_ref().expect("read-only");
    assert_eq!(ro.holder.pid, Some(4242));
    assert!(notice(&app).1.contains("read-only"));
    // Sending is refused, pointing at the choice; the draft stays.
    let fx = enter(&mut app, "may I?");
    assert!(!has_send(&fx) && saves(&fx).is_empty(), "{fx:?}");
    assert_eq!(app.draft_text(), "may I?");
    assert_eq!(app.conv.messages.len(), 2);
    match &app.overlay {
        Some(Overlay::Held(p)) => {
            assert!(p.conv.is_none());
            assert!(p.note.as_deref().unwrap().contains("not sent"));
        }
        o => panic!("{o:?}"),
    }
    update(&mut app, code(KeyCode::Esc));
    assert!(app.overlay.is_none());
    assert!(app.custody.read_only.is_some(), "still read-only");
    // Retry and /save are refused too; changes are never written.
    let fx = update(&mut app, Event::Action(Action::Retry));
    assert!(!has_send(&fx));
    update(&mut app, code(KeyCode::Esc));
    app.set_draft("");
    let fx = enter(&mut app, "/save /x/mine.json");
    assert!(saves(&fx).is_empty(), "{fx:?}");
    update(&mut app, code(KeyCode::Esc));
    app.set_draft("");
    let fx = enter(&mut app, "/set temperature 0.2");
    assert!(saves(&fx).is_empty(), "{fx:?}");
    let fx = update(&mut app, Event::Action(Action::Quit));
    assert!(saves(&fx).is_empty(), "{fx:?}");
}

#[test]
fn continuing_in_a_copy_is_a_new_conversation_saved_at_once() {
    let mut app = new_app();
    let conv = saved_conv("hello there");
    let id = conv.id.clone();
    opened_held(&mut app, conv, "/x/notes.json");
    let fx = update(&mut app, key('c'));
    assert_ne!(app.conv.id, id);
    assert_eq!(app.conv.title, "Theirs (copy)");
    assert_eq!(app.conv.messages.len(), 2);
    assert!(app.custody.read_only.is_none());
    assert_eq!(app.save.file, None, "the copy lives in the library");
    let want = PathBuf::from(LIB).join(format!("{}.json", app.conv.id));
    assert_eq!(saves(&fx), vec![(want.clone(), false)]);
    assert!(notice(&app).1.contains("continuing in a copy"));
    // And it chats like any other.
    assert!(has_send(&enter(&mut app, "more")));
    // From read-only too, later.
    let mut app = new_app();
    opened_held(&mut app, saved_conv("x"), "/x/y.json");
    update(&mut app, key('r'));
    enter(&mut app, "refused");
    let fx = update(&mut app, key('c'));
    assert_eq!(saves(&fx).len(), 1);
    assert!(app.custody.read_only.is_none());
    assert!(app.conv.title.ends_with("(copy)"));
    assert!(
        has_send(&update(&mut app, code(KeyCode::Enter))),
        "the draft sends now"
    );
}

#[test]
fn opening_another_conversation_releases_the_files_of_the_one_before() {
    let mut app = new_app();
    exchange(&mut app, "one", "two");
    let old = app.save.autosave.clone().unwrap();
    let conv = saved_conv("other");
    let fx = update(
        &mut app,
        Event::Msg(Msg::Opened {
            path: PathBuf::from("/x/other.json"),
            result: Ok(Box::new(conv)),
            held: None,
        }),
    );
    let released: Vec<PathBuf> = fx
        .iter()
        .flat_map(|e| match e {
            Effect::Release { paths } => paths.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(released, vec![old]);
    assert_eq!(app.save.file, Some(PathBuf::from("/x/other.json")));
}

#[test]
fn a_moved_save_is_followed_and_said_once() {
    let mut app = new_app();
    exchange(&mut app, "one", "two");
    let from = app.save.autosave.clone().unwrap();
    let to = PathBuf::from(LIB).join("newid.json");
    update(
        &mut app,
        Event::Msg(Msg::SaveMoved {
            from: from.clone(),
            to: to.clone(),
            new_id: Some("newid".into()),
            reason: "it changed on disk (edited elsewhere?)".into(),
        }),
    );
    assert_eq!(app.save.autosave, Some(to.clone()));
    assert_eq!(app.conv.id, "newid");
    let (kind, text) = notice(&app);
    assert_eq!(kind, NoticeKind::Warning);
    assert!(
        text.contains("not overwritten") && text.contains("newid.json"),
        "{text}"
    );
    assert_eq!(app.custody.moved, vec![(from, to.clone())]);
    let notes = chat_tui::app::custody::exit_notes(&app);
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("newid.json"));
    // Later saves go there.
    let fx = enter(&mut app, "three");
    assert_eq!(saves(&fx), vec![(to, false)]);
}

#[test]
fn save_onto_another_file_asks_and_takes_it_only_when_written() {
    let mut app = new_app();
    exchange(&mut app, "one", "two");
    let fx = enter(&mut app, "/save /x/other.json");
    assert_eq!(
        saves(&fx),
        vec![(PathBuf::from("/x/other.json"), false)],
        "asked for without replacing"
    );
    assert_eq!(app.save.file, None, "not this conversation's file yet");
    update(
        &mut app,
        Event::Msg(Msg::SaveAsk {
            path: PathBuf::from("/x/other.json"),
            what: "another conversation (\"X\", 4 messages)".into(),
        }),
    );
    assert!(matches!(app.overlay, Some(Overlay::Replace { .. })));
    assert_eq!(app.key_context(), Context::Confirm);
    // No (any other key): nothing.
    let fx = update(&mut app, key('z'));
    assert!(fx.is_empty());
    assert!(app.overlay.is_none());
    assert!(notice(&app).1.contains("not saved"));
    // Yes: saved, replacing.
    update(
        &mut app,
        Event::Msg(Msg::SaveAsk {
            path: PathBuf::from("/x/other.json"),
            what: "x".into(),
        }),
    );
    let fx = update(&mut app, key('y'));
    assert_eq!(saves(&fx), vec![(PathBuf::from("/x/other.json"), true)]);
    update(
        &mut app,
        Event::Msg(Msg::Saved {
            path: PathBuf::from("/x/other.json"),
            result: Ok(()),
            explicit: true,
            markdown: false,
        }),
    );
    assert_eq!(app.save.file, Some(PathBuf::from("/x/other.json")));
    // A Markdown export never becomes the conversation's file.
    let fx = update(
        &mut app,
        Event::Msg(Msg::Saved {
            path: PathBuf::from("/x/out.md"),
            result: Ok(()),
            explicit: true,
            markdown: true,
        }),
    );
    assert!(fx.is_empty());
    assert_eq!(app.save.file, Some(PathBuf::from("/x/other.json")));
    // Saving as yet another file lets the previous one go.
    let fx = update(
        &mut app,
        Event::Msg(Msg::Saved {
            path: PathBuf::from("/x/third.json"),
            result: Ok(()),
            explicit: true,
            markdown: false,
        }),
    );
    assert!(
        matches!(fx.as_slice(), [Effect::Release { paths }] if paths == &[PathBuf::from("/x/other.json")])
    );
}

#[test]
fn a_conversation_without_a_message_is_never_saved() {
    let mut app = new_app();
    let fx = enter(&mut app, "/set temperature 0.5");
    assert!(saves(&fx).is_empty(), "{fx:?}");
    let fx = enter(&mut app, "/system be brief");
    assert!(saves(&fx).is_empty(), "{fx:?}");
    let fx = update(&mut app, Event::Action(Action::Quit));
    assert!(saves(&fx).is_empty(), "{fx:?}");
}

#[test]
fn quitting_writes_only_a_conversation_that_changed() {
    // Opened and only read: nothing written.
    let mut app = app_with(saved_conv("read me"));
    update(&mut app, Event::Action(Action::PageUp));
    update(&mut app, Event::Action(Action::ScrollTop));
    update(&mut app, Event::Tick);
    let fx = update(&mut app, Event::Action(Action::Quit));
    assert!(saves(&fx).is_empty(), "{fx:?}");
    // Changed since it was saved (a streaming reply): written.
    let mut app = new_app();
    let turn = the_turn(&enter(&mut app, "hello"));
    update(
        &mut app,
        Event::Msg(Msg::Stream {
            turn,
            event: StreamEvent::Delta {
                index: 0,
                text: "partial".into(),
            },
        }),
    );
    let fx = update(&mut app, Event::Action(Action::Quit));
    assert_eq!(saves(&fx).len(), 1, "{fx:?}");
    // Saved, then nothing more: quitting writes nothing again.
    let mut app = new_app();
    exchange(&mut app, "one", "two");
    let fx = update(&mut app, Event::Action(Action::Quit));
    assert!(saves(&fx).is_empty(), "{fx:?}");
}

#[test]
fn switching_choices_there_and_back_leaves_the_message_as_it_was() {
    let mut c = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    c.push(Speaker::User, "pick");
    let p = chat_tui::api::Params {
        n: Some(2),
        ..Default::default()
    };
    let r = c.push_reply(&p, "gpt-4o");
    let counter = chat_tui::chat::tokens::TokenCounter::for_model("gpt-4o");
    counter.warm_up();
    {
        let m = c.get_mut(r).unwrap();
        m.choice_mut(0).text = "the first choice, a little longer".into();
        m.choice_mut(1).text = "second".into();
        m.status = Status::Complete;
        m.local_tokens = Some(counter.count(m.text()) as u64);
    }
    let mut app = app_with(c);
    let before = app.conv.clone();
    let estimate = app.next_request_tokens();
    let fx = update(&mut app, Event::Action(Action::NextChoice));
    assert_eq!(saves(&fx).len(), 1, "a choice switched is a change, saved");
    assert_eq!(
        app.conv.get(r).unwrap().local_tokens,
        Some(counter.count("second") as u64)
    );
    update(&mut app, Event::Action(Action::PrevChoice));
    let after = app.conv.get(r).unwrap();
    let was = before.get(r).unwrap();
    assert_eq!(
        (after.selected, after.local_tokens),
        (was.selected, was.local_tokens)
    );
    assert_eq!(app.next_request_tokens(), estimate);
}

#[test]
fn the_estimate_of_a_reopened_conversation_is_the_same() {
    let counter = chat_tui::chat::tokens::TokenCounter::for_model("gpt-4o");
    counter.warm_up();
    let mut c = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    for i in 0..60 {
        let id = c.push(
            Speaker::User,
            format!("question {i}: {}", "words and more words ".repeat(i)),
        );
        if i % 3 == 0 {
            c.get_mut(id).unwrap().local_tokens =
                Some(counter.count(&c.get(id).unwrap().content) as u64);
        }
    }
    let bytes = chat_tui::store::to_json(&c);
    let mut estimates = Vec::new();
    for _ in 0..3 {
        let conv = chat_tui::store::parse(&bytes).unwrap();
        let mut app = app_with(conv);
        for _ in 0..200 {
            update(&mut app, Event::Tick);
            update(&mut app, Event::Action(Action::PageUp));
        }
        app.count_pending(std::time::Duration::from_secs(10));
        estimates.push(app.next_request_tokens().expect("counted"));
        assert_eq!(
            chat_tui::store::to_json(&app.conv),
            bytes,
            "counting changes nothing in the conversation"
        );
    }
    assert!(estimates.windows(2).all(|w| w[0] == w[1]), "{estimates:?}");
}

#[test]
fn switching_away_from_a_streaming_reply_saves_what_arrived() {
    for how in ["open", "new", "copy"] {
        let mut app = new_app();
        let turn = the_turn(&enter(&mut app, "tell me"));
        update(
            &mut app,
            Event::Msg(Msg::Stream {
                turn,
                event: StreamEvent::Delta {
                    index: 0,
                    text: "half of it".into(),
                },
            }),
        );
        let old = app.save.autosave.clone().unwrap();
        let fx = match how {
            "open" => update(
                &mut app,
                Event::Msg(Msg::Opened {
                    path: PathBuf::from("/x/o.json"),
                    result: Ok(Box::new(saved_conv("other"))),
                    held: None,
                }),
            ),
            "new" => enter(&mut app, "/new"),
            _ => {
                opened_held(&mut app, saved_conv("other"), "/x/o.json");
                update(&mut app, key('c'))
            }
        };
        assert!(app.turns.is_empty(), "{how}");
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Cancel { turn: t } if *t == turn)),
            "{how}: {fx:?}"
        );
        let saved = fx.iter().find_map(|e| match e {
            Effect::Save {
                path, conversation, ..
            } if *path == old => Some(conversation.clone()),
            _ => None,
        });
        let saved = saved.unwrap_or_else(|| panic!("{how}: the old conversation saved: {fx:?}"));
        let reply = saved.last_reply().unwrap();
        assert_eq!(reply.text(), "half of it", "{how}");
        assert_eq!(reply.status, Status::Cancelled, "{how}");
        // Its stream, still arriving, changes nothing now.
        update(
            &mut app,
            Event::Msg(Msg::Stream {
                turn,
                event: StreamEvent::Delta {
                    index: 0,
                    text: " more".into(),
                },
            }),
        );
        assert!(!app.conv.messages.iter().any(|m| m.text().contains("more")));
    }
}
