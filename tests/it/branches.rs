//! Versions and branches through `update()`: retry as a new version, switching versions
//! and branches, editing a question into a new branch, `/compare`, the branches panel,
//! requests and summaries following the current path, and the bad input around them. No
//! terminal, no network, no disk. The last test is a property: any sequence of sends,
//! retries, edits and switches round-trips through save and load.

use std::path::PathBuf;

use chat_tui::action::{Action, Effect, Msg, TurnId};
use chat_tui::api::{ApiError, FinishReason, Mode, Request, Role, StreamEvent};
use chat_tui::app::{App, Event, Focus, NoticeKind, Overlay, Purpose, SaveTarget, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory, Message, MessageId, Speaker, Status};
use chat_tui::store;
use crossterm::event::KeyCode;
use proptest::prelude::*;

use crate::support::update::{
    MODEL, alt, chat, ctrl, delta, done_ok, key, long_turn, new_app, notice, start,
};

fn type_str(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, key(KeyCode::Char(c)));
    }
}

fn enter(app: &mut App, text: &str) -> Vec<Effect> {
    type_str(app, text);
    update(app, key(KeyCode::Enter))
}

/// Every request among `fx`: (turn, request, another profile).
fn sends(fx: &[Effect]) -> Vec<(TurnId, Request, Option<String>)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send { turn, request } => Some((*turn, request.clone(), None)),
            Effect::SendWith {
                turn,
                request,
                profile,
            } => Some((*turn, request.clone(), Some(profile.clone()))),
            _ => None,
        })
        .collect()
}

fn the_send(fx: &[Effect]) -> (TurnId, Request) {
    let s = sends(fx);
    assert_eq!(s.len(), 1, "expected exactly one request in {fx:?}");
    let (t, r, _) = s.into_iter().next().unwrap();
    (t, r)
}

/// The texts of a chat request, without the roles.
fn texts(req: &Request) -> Vec<String> {
    chat(req).into_iter().map(|(_, t)| t).collect()
}

/// Stream `text` into `turn` (choice 0) and finish it.
fn answer(app: &mut App, turn: TurnId, text: &str) -> Vec<Effect> {
    update(app, delta(turn, 0, text));
    update(
        app,
        Event::Msg(Msg::Stream {
            turn,
            event: StreamEvent::Finish {
                index: 0,
                reason: FinishReason::Stop,
            },
        }),
    );
    update(app, done_ok(turn))
}

/// Send `prompt`, answer `reply`: returns the request.
fn exchange(app: &mut App, prompt: &str, reply: &str) -> Request {
    let (turn, req) = the_send(&enter(app, prompt));
    answer(app, turn, reply);
    assert!(app.turns.is_empty());
    req
}

/// The path as (speaker initial, text).
fn path(app: &App) -> Vec<String> {
    app.conv
        .messages
        .iter()
        .map(|m| {
            let who = match m.speaker {
                Speaker::User => "U",
                Speaker::Assistant => "A",
                Speaker::System => "S",
                Speaker::Summary => "Σ",
            };
            format!("{who}:{}", m.text())
        })
        .collect()
}

fn focus_on(app: &mut App, id: MessageId) {
    app.focus = Focus::Conversation;
    app.selected = Some(id);
}

fn focus_text(app: &mut App, text: &str) {
    let id = id_of(app, text);
    focus_on(app, id);
}

fn id_of(app: &App, text: &str) -> MessageId {
    app.conv
        .all()
        .find(|m| m.text() == text)
        .unwrap_or_else(|| panic!("no message {text:?} in {:?}", path(app)))
        .id
}

fn get(app: &App, id: MessageId) -> &Message {
    app.conv.get(id).expect("the message")
}

fn saves(fx: &[Effect]) -> usize {
    fx.iter()
        .filter(|e| matches!(e, Effect::Save { .. }))
        .count()
}

fn with_autosave(conv: Conversation) -> App {
    App::new(Start {
        save: SaveTarget {
            autosave: Some(PathBuf::from("/nonexistent/chat-tui-test/conv.json")),
            file: None,
        },
        ..start(conv)
    })
}

// ---- versions ---------------------------------------------------------------------------

#[test]
fn retry_adds_a_version_and_the_first_one_stays() {
    let mut app = new_app();
    exchange(&mut app, "q1", "a1");
    let first = exchange(&mut app, "q2", "first answer");
    let old = app.conv.last_reply().unwrap().id;

    let (turn, req) = the_send(&enter(&mut app, "/retry"));
    assert_eq!(
        req.prompt, first.prompt,
        "the same question, the same history"
    );
    answer(&mut app, turn, "second answer");
    assert_eq!(path(&app), ["U:q1", "A:a1", "U:q2", "A:second answer"]);
    // The first answer is kept, beside it.
    assert_eq!(app.conv.others.len(), 1);
    assert_eq!(app.conv.others[0].text(), "first answer");
    assert_eq!(app.conv.others[0].id, old);
    let new = app.conv.last_reply().unwrap();
    assert_eq!(
        new.parent,
        get(&app, old).parent,
        "versions answer the same question"
    );
    assert_eq!(new.fork_label().as_deref(), Some("version 2/2"));

    // Alt+← shows the first version again, and the next request carries it.
    let fx = update(&mut app, alt(KeyCode::Left));
    assert_eq!(saves(&fx), 0, "no autosave path in this test");
    assert_eq!(path(&app), ["U:q1", "A:a1", "U:q2", "A:first answer"]);
    assert_eq!(
        app.conv.last_reply().unwrap().fork_label().as_deref(),
        Some("version 1/2")
    );
    let req = exchange(&mut app, "q3", "a3");
    assert_eq!(
        texts(&req),
        ["q1", "a1", "q2", "first answer", "q3"],
        "the request follows the version shown"
    );
    // Ctrl+R also keeps what it replaces.
    let (t, _) = the_send(&update(&mut app, ctrl('r')));
    answer(&mut app, t, "a3 again");
    assert!(app.conv.all().any(|m| m.text() == "a3"));
    assert!(app.conv.all().any(|m| m.text() == "second answer"));
    assert_eq!(app.conv.check(), Ok(()));
}

#[test]
fn versions_in_order_then_the_choices_within_each() {
    let mut app = new_app();
    app.conv.params.n = Some(2);
    let (t, _) = the_send(&enter(&mut app, "q"));
    update(&mut app, delta(t, 0, "v1c1"));
    update(&mut app, delta(t, 1, "v1c2"));
    update(&mut app, done_ok(t));
    let (t, _) = the_send(&enter(&mut app, "/retry"));
    update(&mut app, delta(t, 0, "v2c1"));
    update(&mut app, delta(t, 1, "v2c2"));
    update(&mut app, done_ok(t));
    let shown = |app: &App| app.conv.last_reply().unwrap().text().to_string();
    assert_eq!(shown(&app), "v2c1", "the new version, its first choice");
    let mut seen = Vec::new();
    for _ in 0..5 {
        update(&mut app, alt(KeyCode::Right));
        let m = app.conv.last_reply().unwrap();
        seen.push(format!(
            "{} {} {}",
            shown(&app),
            m.fork_label().unwrap_or_default(),
            m.selected
        ));
    }
    assert_eq!(
        seen,
        [
            "v2c2 version 2/2 1",
            "v1c1 version 1/2 0",
            "v1c2 version 1/2 1",
            "v2c1 version 2/2 0",
            "v2c2 version 2/2 1"
        ]
    );
    // `[` in the conversation pane goes back the same way.
    app.focus = Focus::Conversation;
    update(&mut app, key(KeyCode::Char('[')));
    assert_eq!(shown(&app), "v2c1");
    update(&mut app, key(KeyCode::Char('[')));
    assert_eq!(shown(&app), "v1c2");
    // The selected version and choice are what the next request carries.
    app.focus = Focus::Input;
    let req = exchange(&mut app, "next", "ok");
    assert_eq!(texts(&req), ["q", "v1c2", "next"]);
}

#[test]
fn a_reply_with_one_version_and_one_choice_says_how_to_get_more() {
    let mut app = new_app();
    exchange(&mut app, "q", "a");
    update(&mut app, alt(KeyCode::Right));
    assert!(
        notice(&app).1.contains("/retry adds a version"),
        "{:?}",
        notice(&app)
    );
}

#[test]
fn retrying_an_earlier_reply_forks_a_branch_there() {
    let mut app = new_app();
    exchange(&mut app, "q1", "a1");
    exchange(&mut app, "q2", "a2");
    exchange(&mut app, "q3", "a3");
    let a1 = id_of(&app, "a1");
    focus_on(&mut app, a1);
    let (t, req) = the_send(&update(&mut app, ctrl('r')));
    assert_eq!(
        texts(&req),
        ["q1"],
        "only what comes before that reply is sent"
    );
    let (kind, text) = notice(&app);
    assert_eq!(kind, NoticeKind::Info);
    assert!(text.contains("stays with the earlier version"), "{text}");
    answer(&mut app, t, "a1 again");
    assert_eq!(path(&app), ["U:q1", "A:a1 again"]);
    assert_eq!(
        app.selected,
        Some(app.conv.messages[1].id),
        "the cursor on the new version"
    );
    // The rest of the conversation is kept on the first version: `[` goes back to it, whole.
    update(&mut app, key(KeyCode::Char('[')));
    assert_eq!(path(&app), ["U:q1", "A:a1", "U:q2", "A:a2", "U:q3", "A:a3"]);
    assert_eq!(app.conv.check(), Ok(()));
}

#[test]
fn the_version_of_another_model_is_labelled_and_goes_on_with_it() {
    let mut app = new_app();
    app.conn.profiles = vec!["ollama".into()];
    exchange(&mut app, "q", "a");
    let fx = enter(&mut app, "/retry --model ollama:llama3:8b");
    let s = sends(&fx);
    assert_eq!(s.len(), 1);
    let (t, req, profile) = s.into_iter().next().unwrap();
    assert_eq!(req.model, "llama3:8b");
    assert_eq!(
        profile.as_deref(),
        Some("ollama"),
        "through that profile's client"
    );
    answer(&mut app, t, "from llama");
    let m = app.conv.last_reply().unwrap();
    assert_eq!(m.target.as_deref(), Some("ollama:llama3:8b"));
    assert_eq!(m.fork_label().as_deref(), Some("version 2/2"));
    // A colon that names no profile is part of the model's name, on this server.
    let (_, req, profile) = sends(&enter(&mut app, "/retry --model qwen:7b"))
        .into_iter()
        .next()
        .unwrap();
    assert_eq!((req.model.as_str(), profile), ("qwen:7b", None));
}

// ---- /compare ---------------------------------------------------------------------------

#[test]
fn compare_asks_each_model_and_streams_the_versions_side_by_side() {
    let mut app = new_app();
    app.conn.profiles = vec!["local".into()];
    exchange(&mut app, "q1", "a1");
    let first = exchange(&mut app, "q2", "mine");
    let fx = enter(&mut app, "/compare big-model local:small");
    let s = sends(&fx);
    assert_eq!(s.len(), 2, "{fx:?}");
    assert_eq!(s[0].1.model, "big-model");
    assert_eq!(s[0].2, None);
    assert_eq!(
        (s[1].1.model.as_str(), s[1].2.as_deref()),
        ("small", Some("local"))
    );
    for (_, req, _) in &s {
        assert_eq!(req.prompt, first.prompt, "the same question and history");
    }
    assert_eq!(app.turns.len(), 2, "both in flight");
    assert!(
        matches!(app.overlay, Some(Overlay::Compare(_))),
        "shown side by side"
    );
    // They stream at the same time, each into its version.
    update(&mut app, delta(s[1].0, 0, "small says"));
    update(&mut app, delta(s[0].0, 0, "big says"));
    update(&mut app, delta(s[1].0, 0, " hi"));
    let q2 = id_of(&app, "q2");
    let versions: Vec<String> = app
        .conv
        .siblings(id_of(&app, "mine"))
        .iter()
        .map(|id| {
            let m = get(&app, *id);
            format!(
                "{} [{}] {}",
                m.target.clone().unwrap_or_default(),
                m.fork_label().unwrap_or_default(),
                m.text()
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            " [version 1/3] mine",
            "big-model [version 2/3] big says",
            "local:small [version 3/3] small says hi"
        ]
    );
    assert_eq!(get(&app, app.conv.messages[3].id).parent, Some(q2));
    // While they stream, the panel moves among the versions…
    update(&mut app, key(KeyCode::Right));
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(path(&app).last().unwrap(), "A:small says hi");
    update(&mut app, alt(KeyCode::Left));
    assert_eq!(path(&app).last().unwrap(), "A:big says");
    update(&mut app, alt(KeyCode::Left));
    assert_eq!(path(&app).last().unwrap(), "A:mine");
    update(&mut app, alt(KeyCode::Right));
    // …but nothing else may move the path: refused, with a notice.
    app.status.notice = None;
    enter(&mut app, "/edit");
    assert!(app.editing.is_none());
    assert!(
        notice(&app).1.contains("still streaming"),
        "{:?}",
        notice(&app)
    );
    focus_text(&mut app, "a1");
    update(&mut app, alt(KeyCode::Down));
    assert_eq!(path(&app)[1], "A:a1");
    app.focus = Focus::Input;
    // Esc cancels every reply of the compare.
    let fx = update(&mut app, key(KeyCode::Esc));
    let cancelled: Vec<TurnId> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Cancel { turn } => Some(*turn),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, [s[0].0, s[1].0]);
    assert!(app.turns.is_empty());
    for (_, _, _) in &s {
        assert!(
            app.conv
                .all()
                .filter(|m| m.target.is_some())
                .all(|m| m.status == Status::Cancelled)
        );
    }
    // Late results of cancelled turns are dropped.
    update(&mut app, delta(s[0].0, 0, " late"));
    assert_eq!(path(&app).last().unwrap(), "A:big says");
}

#[test]
fn compare_needs_models_and_a_question() {
    let mut app = new_app();
    enter(&mut app, "/compare");
    assert_eq!(notice(&app).0, NoticeKind::Error);
    assert_eq!(
        app.draft_text(),
        "/compare",
        "a failed command stays in the input"
    );
    app.set_draft("");
    enter(&mut app, "/compare a b");
    assert!(
        notice(&app).1.contains("nothing to retry"),
        "{:?}",
        notice(&app)
    );
}

#[test]
fn v_shows_the_versions_of_the_selected_reply_side_by_side() {
    let mut app = new_app();
    exchange(&mut app, "q", "a");
    app.focus = Focus::Conversation;
    update(&mut app, key(KeyCode::Char('v')));
    assert!(app.overlay.is_none());
    assert!(notice(&app).1.contains("one version"));
    let (t, _) = the_send(&enter(&mut app, "/retry"));
    answer(&mut app, t, "b");
    app.focus = Focus::Conversation;
    update(&mut app, key(KeyCode::Char('v')));
    match &app.overlay {
        Some(Overlay::Compare(p)) => assert_eq!(p.focus, 1, "the version shown"),
        o => panic!("{o:?}"),
    }
    update(&mut app, key(KeyCode::Left));
    update(&mut app, key(KeyCode::Enter));
    assert!(app.overlay.is_none());
    assert_eq!(path(&app), ["U:q", "A:a"]);
}

// ---- branches ---------------------------------------------------------------------------

#[test]
fn edit_puts_the_question_in_the_input_and_sending_it_forks_a_branch() {
    let mut app = new_app();
    exchange(&mut app, "q1", "a1");
    exchange(&mut app, "What is Rust?", "a language");
    // A draft in the input, then `e` on the question in the conversation pane…
    type_str(&mut app, "half-written");
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Conversation);
    // (The cursor starts on the last message, a reply: that cannot be edited.)
    update(&mut app, key(KeyCode::Char('e')));
    assert_eq!(app.draft_text(), "half-written");
    assert!(app.editing.is_none());
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.selected, Some(id_of(&app, "What is Rust?")));
    update(&mut app, key(KeyCode::Char('e')));
    assert_eq!(app.draft_text(), "What is Rust?");
    assert!(app.editing.is_some());
    // …and Esc gives the draft from before back.
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.draft_text(), "half-written");
    assert!(app.editing.is_none());
    app.set_draft("");

    enter(&mut app, "/edit");
    for _ in 0.."Rust?".len() {
        update(&mut app, key(KeyCode::Backspace));
    }
    let (t, req) = the_send(&enter(&mut app, "Go?"));
    assert_eq!(texts(&req), ["q1", "a1", "What is Go?"]);
    answer(&mut app, t, "another language");
    assert_eq!(
        path(&app),
        ["U:q1", "A:a1", "U:What is Go?", "A:another language"]
    );
    assert!(app.editing.is_none());
    let edited = &app.conv.messages[2];
    assert_eq!(edited.fork_label().as_deref(), Some("branch 2/2"));
    // The old branch is kept whole.
    let old: Vec<&str> = app.conv.others.iter().map(|m| m.text()).collect();
    assert_eq!(old, ["What is Rust?", "a language"]);

    // Alt+↑ on the fork shows the old branch; the next request follows it.
    let fork = edited.id;
    focus_on(&mut app, fork);
    update(&mut app, alt(KeyCode::Up));
    assert_eq!(
        path(&app),
        ["U:q1", "A:a1", "U:What is Rust?", "A:a language"]
    );
    assert_eq!(app.selected, Some(id_of(&app, "What is Rust?")));
    app.focus = Focus::Input;
    let req = exchange(&mut app, "and Python?", "yes");
    assert_eq!(
        texts(&req),
        ["q1", "a1", "What is Rust?", "a language", "and Python?"]
    );
    assert_eq!(app.conv.check(), Ok(()));
}

#[test]
fn e_on_a_selected_question_edits_that_one() {
    let mut app = new_app();
    exchange(&mut app, "first", "a1");
    exchange(&mut app, "second", "a2");
    focus_text(&mut app, "first");
    update(&mut app, key(KeyCode::Char('e')));
    assert_eq!(app.focus, Focus::Input);
    assert_eq!(app.draft_text(), "first");
    update(&mut app, key(KeyCode::Char('!')));
    let (t, req) = the_send(&update(&mut app, key(KeyCode::Enter)));
    assert_eq!(
        texts(&req),
        ["first!"],
        "a new first question: nothing before it"
    );
    answer(&mut app, t, "b1");
    assert_eq!(path(&app), ["U:first!", "A:b1"]);
    assert_eq!(
        app.conv.messages[0].fork_label().as_deref(),
        Some("branch 2/2")
    );
    // `e` on a reply says what to do instead.
    focus_text(&mut app, "b1");
    update(&mut app, key(KeyCode::Char('e')));
    assert!(app.editing.is_none());
    assert!(
        notice(&app).1.contains("only your own messages"),
        "{:?}",
        notice(&app)
    );
}

#[test]
fn a_switch_where_there_is_no_other_branch_says_so() {
    let mut app = new_app();
    exchange(&mut app, "q", "a");
    focus_text(&mut app, "q");
    update(&mut app, alt(KeyCode::Down));
    assert!(
        notice(&app).1.contains("no other branch"),
        "{:?}",
        notice(&app)
    );
    assert_eq!(path(&app), ["U:q", "A:a"]);
}

#[test]
fn the_branches_panel_lists_every_branch_and_opens_one() {
    let mut app = new_app();
    enter(&mut app, "/branches");
    assert!(app.overlay.is_none(), "one branch: nothing to list");
    assert!(notice(&app).1.contains("one branch so far"));
    exchange(&mut app, "q1", "a1");
    exchange(&mut app, "q2", "a2");
    enter(&mut app, "/edit");
    app.set_draft("q2 edited");
    let (t, _) = the_send(&update(&mut app, key(KeyCode::Enter)));
    answer(&mut app, t, "a2 edited");
    let (t, _) = the_send(&enter(&mut app, "/retry"));
    answer(&mut app, t, "a2 edited again");
    enter(&mut app, "/branches");
    let pane = match &app.overlay {
        Some(Overlay::Branches(p)) => p.clone(),
        o => panic!("{o:?}"),
    };
    assert_eq!(pane.items.len(), 3);
    assert_eq!(pane.selected, 2, "the branch shown is selected");
    assert!(pane.items[2].current);
    assert_eq!(
        pane.items.iter().map(|b| b.len).collect::<Vec<_>>(),
        [4, 4, 4]
    );
    // Where each differs from the branch shown.
    let fork = |i: usize| {
        pane.items[i]
            .fork
            .map(|id| get(&app, id).text().to_string())
    };
    assert_eq!(fork(0).as_deref(), Some("q2"));
    assert_eq!(fork(1).as_deref(), Some("a2 edited"));
    assert_eq!(fork(2), None);
    // Open the first: the path and the cursor go there.
    update(&mut app, key(KeyCode::Up));
    update(&mut app, key(KeyCode::Up));
    update(&mut app, key(KeyCode::Enter));
    assert!(app.overlay.is_none());
    assert_eq!(path(&app), ["U:q1", "A:a1", "U:q2", "A:a2"]);
    assert_eq!(app.selected, Some(id_of(&app, "q2")));
    assert_eq!(app.focus, Focus::Conversation);
}

// ---- bad input --------------------------------------------------------------------------

#[test]
fn edit_retry_and_switches_are_refused_while_a_reply_streams() {
    let mut app = with_autosave(Conversation::new(MODEL, Mode::Chat, Memory::Full));
    exchange(&mut app, "q1", "a1");
    let (t, _) = the_send(&enter(&mut app, "/retry"));
    answer(&mut app, t, "a1 v2");
    let (t, _) = the_send(&enter(&mut app, "q2"));
    update(&mut app, delta(t, 0, "stream"));
    let before = app.conv.clone();
    let refused = |app: &App| {
        let (kind, text) = notice(app);
        kind == NoticeKind::Warning && text.contains("still streaming — Esc cancels it")
    };
    // /edit, e, /retry, Ctrl+R, /compare, a version switch, a branch switch, /branches' Enter.
    for what in ["/edit", "/retry", "/compare x y", "/retry --model x"] {
        app.status.notice = None;
        let fx = enter(&mut app, what);
        assert!(sends(&fx).is_empty(), "{what}");
        assert!(refused(&app), "{what}: {:?}", app.status.notice);
        assert_eq!(app.draft_text(), "", "{what}");
    }
    let a1 = id_of(&app, "a1 v2");
    for ev in [ctrl('r'), alt(KeyCode::Left), alt(KeyCode::Up)] {
        focus_on(&mut app, a1);
        app.status.notice = None;
        let fx = update(&mut app, ev);
        assert!(sends(&fx).is_empty());
        assert!(refused(&app), "{:?}", app.status.notice);
    }
    focus_text(&mut app, "q1");
    update(&mut app, key(KeyCode::Char('e')));
    assert!(refused(&app) && app.editing.is_none());
    app.focus = Focus::Input;
    enter(&mut app, "/branches");
    app.status.notice = None;
    update(&mut app, key(KeyCode::Enter));
    assert!(refused(&app));
    update(&mut app, key(KeyCode::Esc));
    // Nothing changed, and the reply still streams into its place.
    assert_eq!(app.conv.path_ids(), before.path_ids());
    assert_eq!(app.conv.others.len(), before.others.len());
    update(&mut app, delta(t, 0, "ing"));
    update(&mut app, done_ok(t));
    assert_eq!(path(&app).last().unwrap(), "A:streaming");
    // Once it is done, the same keys work.
    focus_text(&mut app, "a1 v2");
    update(&mut app, alt(KeyCode::Left));
    assert_eq!(path(&app), ["U:q1", "A:a1"]);
}

#[test]
fn an_edit_sent_while_a_reply_streams_waits_in_the_input() {
    let mut app = new_app();
    exchange(&mut app, "q1", "a1");
    enter(&mut app, "/edit");
    app.set_draft("q1 edited");
    // A reply starts streaming meanwhile (another message sent elsewhere is impossible
    // from the input, so start one directly).
    app.editing.as_ref().expect("editing");
    let saved_edit = app.editing.clone();
    app.editing = None;
    let draft = app.draft_text();
    app.set_draft("");
    let (t, _) = the_send(&enter(&mut app, "q2"));
    app.editing = saved_edit;
    app.set_draft(&draft);
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(sends(&fx).is_empty());
    assert_eq!(app.draft_text(), "q1 edited", "nothing lost");
    assert!(app.editing.is_some(), "still editing");
    answer(&mut app, t, "a2");
    let (t, req) = the_send(&update(&mut app, key(KeyCode::Enter)));
    assert_eq!(texts(&req), ["q1 edited"]);
    answer(&mut app, t, "b1");
    assert_eq!(path(&app), ["U:q1 edited", "A:b1"]);
}

// ---- memory and summaries follow the path ------------------------------------------------

/// Answer summary requests until the reply's request goes out; returns it.
fn through_summaries(app: &mut App, mut fx: Vec<Effect>, summary: &str) -> (TurnId, Request) {
    for _ in 0..8 {
        let (t, req) = the_send(&fx);
        match app.turns.first().map(|c| c.purpose.clone()) {
            Some(Purpose::Reply { .. }) => return (t, req),
            Some(Purpose::Summary { .. }) => {
                update(app, delta(t, 0, summary));
                fx = update(app, done_ok(t));
            }
            None => panic!("nothing in flight"),
        }
    }
    panic!("summaries do not converge");
}

fn summarize_app() -> App {
    let mut app = App::new(Start {
        context_window: Some(300),
        ..start(Conversation::new(MODEL, Mode::Chat, Memory::Full))
    });
    for i in 0..3 {
        exchange(
            &mut app,
            &long_turn(i),
            &format!("Reply {i}: {}", "ok ".repeat(40)),
        );
    }
    enter(&mut app, "/memory summarize");
    let fx = enter(&mut app, "What was turn 0 about?");
    let (t, req) = through_summaries(&mut app, fx, "About foxes.");
    assert!(texts(&req)[0].contains("About foxes."));
    answer(&mut app, t, "Foxes.");
    assert!(
        app.conv
            .messages
            .iter()
            .any(|m| m.speaker == Speaker::Summary)
    );
    app
}

fn summary_ids(app: &App) -> Vec<MessageId> {
    app.conv
        .messages
        .iter()
        .filter(|m| m.speaker == Speaker::Summary)
        .map(|m| m.id)
        .collect()
}

#[test]
fn a_fork_before_a_summary_leaves_it_on_its_branch() {
    let mut app = summarize_app();
    let summaries = summary_ids(&app);
    // Edit the first question: it was summarised.
    focus_text(&mut app, &long_turn(0));
    update(&mut app, key(KeyCode::Char('e')));
    app.set_draft("Tell me about cats.");
    let (t, req) = the_send(&update(&mut app, key(KeyCode::Enter)));
    assert_eq!(
        chat(&req),
        [(Role::User, "Tell me about cats.".to_string())],
        "the new branch carries neither the summary nor what it covered"
    );
    let (_, text) = notice(&app);
    assert!(
        text.contains("summary") && text.contains("stays with the other branch"),
        "{text}"
    );
    answer(&mut app, t, "Cats purr.");
    assert!(summary_ids(&app).is_empty(), "no summary on this branch");
    // The summary is still there, on the branch it summarised; back there, it is used.
    focus_text(&mut app, "Tell me about cats.");
    update(&mut app, alt(KeyCode::Up));
    assert_eq!(summary_ids(&app), summaries);
    app.focus = Focus::Input;
    let fx = enter(&mut app, "And the dog?");
    let (_, req) = through_summaries(&mut app, fx, "About foxes and a dog.");
    assert!(texts(&req)[0].starts_with("Summary of the earlier conversation: About foxes"));
    assert!(!texts(&req).iter().any(|t| t.contains("cats")));
}

#[test]
fn summaries_made_on_a_branch_stay_on_it() {
    let mut app = summarize_app();
    let old_branch = summary_ids(&app);
    // A new branch from the last question, which grows until it needs its own summary.
    enter(&mut app, "/edit");
    app.set_draft("A different last question");
    let fx = update(&mut app, key(KeyCode::Enter));
    let (t, _) = through_summaries(&mut app, fx, "About foxes, briefly.");
    answer(&mut app, t, &format!("Branch reply: {}", "ok ".repeat(40)));
    for i in 0..2 {
        let fx = enter(&mut app, &long_turn(10 + i));
        let (t, _) = through_summaries(&mut app, fx, "Branch summary.");
        answer(
            &mut app,
            t,
            &format!("Branch reply {i}: {}", "ok ".repeat(40)),
        );
    }
    let new_branch = summary_ids(&app);
    assert!(
        new_branch.iter().any(|id| !old_branch.contains(id)),
        "a summary of its own"
    );
    for id in &new_branch {
        for covered in &get(&app, *id).summary_of {
            assert!(
                app.conv.on_path(*covered),
                "a summary on this branch covers only messages on it"
            );
        }
    }
    // The old branch has none of them.
    let q = id_of(&app, "What was turn 0 about?");
    let edited = app.conv.sibling(q, 1).expect("the edited question");
    focus_on(&mut app, edited);
    update(&mut app, alt(KeyCode::Up));
    assert_eq!(summary_ids(&app), old_branch);
    assert!(
        !app.conv
            .messages
            .iter()
            .any(|m| m.text() == "Branch summary.")
    );
    // The token estimate follows the path shown too: the other branches change nothing.
    app.tokens.counter().warm_up();
    app.count_pending(std::time::Duration::from_secs(5));
    let here = app.next_request_tokens().expect("counted");
    let mut alone = app.conv.clone();
    alone.others.clear();
    let counts = app.tokens.cache.clone();
    assert_eq!(
        chat_tui::chat::memory::next_request_tokens(&alone, &counts, 0),
        Some(here)
    );
}

// ---- opening, saving ---------------------------------------------------------------------

#[test]
fn a_transcript_repaired_on_reading_is_reported_and_not_saved_until_changed() {
    // A conversation whose off-path version names a parent that does not exist.
    let mut c = Conversation::new(MODEL, Mode::Chat, Memory::Full);
    c.push(Speaker::User, "q");
    let r = c.push_reply(&Default::default(), MODEL);
    c.get_mut(r).unwrap().choice_mut(0).text = "a".into();
    c.open_at(c.messages.first().map(|m| m.id));
    let v = c.push_reply(&Default::default(), MODEL);
    c.get_mut(v).unwrap().choice_mut(0).text = "a2".into();
    let mut json: serde_json::Value = serde_json::from_slice(&store::to_json(&c)).unwrap();
    json["conversation"]["messages"][1]["parent"] = serde_json::json!(77);
    let read = store::parse(&serde_json::to_vec(&json).unwrap()).unwrap();
    assert_eq!(read.problems.len(), 2, "{:?}", read.problems);

    let mut app = with_autosave(Conversation::new(MODEL, Mode::Chat, Memory::Full));
    let fx = update(
        &mut app,
        Event::Msg(Msg::Opened {
            path: PathBuf::from("/tmp/hand-edited.json"),
            result: Ok(Box::new(read)),
            held: None,
        }),
    );
    assert_eq!(saves(&fx), 0, "opening writes nothing");
    let (kind, text) = notice(&app);
    assert_eq!(kind, NoticeKind::Warning);
    assert!(
        text.contains("parent 77") && text.contains("unchanged"),
        "{text}"
    );
    assert_eq!(app.conv.check(), Ok(()));
    assert_eq!(
        app.conv.messages.len() + app.conv.others.len(),
        3,
        "nothing dropped"
    );
    // Quitting without a change leaves the file alone.
    let fx = update(&mut app, Event::Action(Action::Quit));
    assert_eq!(saves(&fx), 0, "{fx:?}");
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn a_change_saves_and_quitting_after_it_writes_nothing_more() {
    let mut app = with_autosave(Conversation::new(MODEL, Mode::Chat, Memory::Full));
    assert_eq!(saves(&update(&mut app, Event::Action(Action::Quit))), 0);
    let mut app = with_autosave(Conversation::new(MODEL, Mode::Chat, Memory::Full));
    exchange(&mut app, "q", "a");
    let (t, _) = the_send(&enter(&mut app, "/retry"));
    answer(&mut app, t, "b");
    // Switching versions is a change: the file records the version shown.
    assert_eq!(saves(&update(&mut app, alt(KeyCode::Left))), 1);
    // That save holds it all: quitting has nothing left to write.
    let fx = update(&mut app, Event::Action(Action::Quit));
    assert_eq!(saves(&fx), 0, "{fx:?}");
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn a_failed_version_is_kept_with_its_error() {
    let mut app = new_app();
    exchange(&mut app, "q", "a");
    let (t, _) = the_send(&enter(&mut app, "/retry"));
    update(
        &mut app,
        Event::Msg(Msg::Done {
            turn: t,
            result: Err(ApiError::Network("reset".into())),
        }),
    );
    let m = app.conv.last_reply().unwrap();
    assert!(matches!(m.status, Status::Failed { .. }));
    assert_eq!(m.fork_label().as_deref(), Some("version 2/2"));
    update(&mut app, alt(KeyCode::Left));
    assert_eq!(path(&app), ["U:q", "A:a"]);
}

// ---- the property: any sequence round-trips --------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Send(u8),
    Retry,
    /// Ctrl+R on the k-th reply of the path.
    RetryAt(prop::sample::Index),
    /// `e` on the k-th question of the path, then send.
    Edit(prop::sample::Index),
    /// Alt+← / Alt+→.
    Version(bool),
    /// Alt+↑ / Alt+↓ on the k-th message of the path.
    Branch(prop::sample::Index, bool),
    Compare,
    /// Choices: n = 2 for the next requests (or back to 1).
    Choices(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Send),
        2 => Just(Op::Retry),
        2 => any::<prop::sample::Index>().prop_map(Op::RetryAt),
        2 => any::<prop::sample::Index>().prop_map(Op::Edit),
        2 => any::<bool>().prop_map(Op::Version),
        2 => (any::<prop::sample::Index>(), any::<bool>()).prop_map(|(i, d)| Op::Branch(i, d)),
        1 => Just(Op::Compare),
        1 => any::<bool>().prop_map(Op::Choices),
    ]
}

/// Answer every request in flight (every choice).
fn answer_all(app: &mut App, fx: Vec<Effect>, tag: &str) {
    for (t, req, _) in sends(&fx) {
        for c in 0..req.params.n.unwrap_or(1) {
            update(app, delta(t, c, &format!("{tag} #{t}.{c}")));
        }
        update(app, done_ok(t));
    }
    assert!(app.turns.is_empty());
}

fn run(app: &mut App, op: &Op) {
    // The side-by-side panel a /compare opened: Esc closes it.
    if app.overlay.is_some() {
        update(app, key(KeyCode::Esc));
        assert!(app.overlay.is_none());
    }
    app.focus = Focus::Input;
    app.set_draft("");
    match op {
        Op::Send(k) => {
            let fx = enter(app, &format!("question {k}"));
            answer_all(app, fx, "reply");
        }
        Op::Retry => {
            let fx = enter(app, "/retry");
            answer_all(app, fx, "again");
        }
        Op::RetryAt(i) => {
            let replies: Vec<MessageId> = app
                .conv
                .messages
                .iter()
                .filter(|m| m.speaker == Speaker::Assistant)
                .map(|m| m.id)
                .collect();
            if replies.is_empty() {
                return;
            }
            focus_on(app, replies[i.index(replies.len())]);
            let fx = update(app, ctrl('r'));
            answer_all(app, fx, "retried");
        }
        Op::Edit(i) => {
            let qs: Vec<MessageId> = app
                .conv
                .messages
                .iter()
                .filter(|m| m.speaker == Speaker::User)
                .map(|m| m.id)
                .collect();
            if qs.is_empty() {
                return;
            }
            focus_on(app, qs[i.index(qs.len())]);
            update(app, key(KeyCode::Char('e')));
            type_str(app, " (edited)");
            let fx = update(app, key(KeyCode::Enter));
            answer_all(app, fx, "edited");
        }
        Op::Version(right) => {
            update(
                app,
                alt(if *right {
                    KeyCode::Right
                } else {
                    KeyCode::Left
                }),
            );
        }
        Op::Branch(i, down) => {
            if app.conv.messages.is_empty() {
                return;
            }
            let id = app.conv.messages[i.index(app.conv.messages.len())].id;
            focus_on(app, id);
            update(app, alt(if *down { KeyCode::Down } else { KeyCode::Up }));
        }
        Op::Compare => {
            let fx = enter(app, "/compare m1 m2");
            answer_all(app, fx, "compared");
        }
        Op::Choices(two) => {
            enter(app, if *two { "/set n 2" } else { "/unset n" });
        }
    }
}

fn unversioned(mut c: Conversation) -> Conversation {
    for m in c.messages.iter_mut().chain(c.others.iter_mut()) {
        m.version = 0;
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_sequence_round_trips_through_save_and_load(ops in prop::collection::vec(op(), 1..14)) {
        let mut app = new_app();
        for op in &ops {
            run(&mut app, op);
            prop_assert_eq!(app.conv.check(), Ok(()), "after {:?}", op);
        }
        let bytes = store::to_json(&app.conv);
        let back = store::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(back.problems.is_empty(), "{:?}", back.problems);
        prop_assert_eq!(unversioned(back.clone()), unversioned(app.conv.clone()));
        // Opened again, the app shows the same path, versions and choices, and asks the
        // same next question with the same history.
        let mut again = App::new(start(back));
        prop_assert_eq!(again.conv.path_ids(), app.conv.path_ids());
        app.overlay = None;
        app.focus = Focus::Input;
        let a = enter(&mut app, "the same next question");
        let b = enter(&mut again, "the same next question");
        let prompts = |fx: &[Effect]| sends(fx).into_iter().map(|(_, r, _)| r.prompt).collect::<Vec<_>>();
        prop_assert_eq!(prompts(&a), prompts(&b));
    }
}

/// Copying follows the version shown: `/copy` and `y` take the selected version's text,
/// not the newest one.
#[test]
fn copy_takes_the_version_shown() {
    let mut app = new_app();
    exchange(&mut app, "q", "the first answer");
    let (turn, _) = the_send(&enter(&mut app, "/retry"));
    answer(&mut app, turn, "the second answer");
    let copied = |fx: &[Effect]| -> Vec<String> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Copy { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(copied(&enter(&mut app, "/copy")), ["the second answer"]);
    update(&mut app, alt(KeyCode::Left));
    assert_eq!(path(&app), ["U:q", "A:the first answer"]);
    assert_eq!(copied(&enter(&mut app, "/copy")), ["the first answer"]);
    focus_text(&mut app, "the first answer");
    assert_eq!(
        copied(&update(&mut app, key(KeyCode::Char('y')))),
        ["the first answer"]
    );
}
