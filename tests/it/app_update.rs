//! `update()` driven by keys, pastes, actions and task results: no terminal, no network.

use std::path::PathBuf;

use chat_tui::action::{Action, Effect, Msg, TurnId};
use chat_tui::api::{
    ApiError, FinishReason, Mode, Prompt, Request, Role, StreamEvent, Usage, WireMessage,
};
use chat_tui::app::{App, Event, NoticeKind, Purpose, SaveTarget, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use chat_tui::chat::counts::{CountJob, CountOf};
use chat_tui::chat::tokens::TokenCounter;
use chat_tui::keymap::Keymap;
use crossterm::event::KeyCode;

use crate::support::update::{
    MODEL, alt, chat, ctrl, delta, done_ok, key, long_turn, new_app, notice, start,
};

/// The effects less the background token counts (`Effect::CountTokens`).
fn no_counts(fx: Vec<Effect>) -> Vec<Effect> {
    fx.into_iter()
        .filter(|e| !matches!(e, Effect::CountTokens(_)))
        .collect()
}

/// The background token counts among `fx`.
fn count_jobs(fx: Vec<Effect>) -> Vec<CountJob> {
    fx.into_iter()
        .filter_map(|e| match e {
            Effect::CountTokens(job) => Some(job),
            _ => None,
        })
        .collect()
}

/// Carry out the background token counts among `fx` as the runtime would (their results
/// go back through `update`); the other effects are returned.
fn settle(app: &mut App, fx: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    for e in fx {
        match e {
            Effect::CountTokens(job) => {
                let more = update(app, Event::Msg(Msg::TokensCounted(job.run())));
                rest.extend(settle(app, more));
            }
            other => rest.push(other),
        }
    }
    rest
}

/// Type `text` key by key (no newlines); its count is made as the runtime would.
fn type_str(app: &mut App, text: &str) {
    for c in text.chars() {
        let fx = update(app, key(KeyCode::Char(c)));
        let fx = settle(app, fx);
        assert!(fx.is_empty(), "typing {c:?} produced {fx:?}");
    }
}

/// Type `text` and press Enter.
fn enter(app: &mut App, text: &str) -> Vec<Effect> {
    type_str(app, text);
    update(app, key(KeyCode::Enter))
}

fn sends(fx: &[Effect]) -> Vec<(TurnId, Request)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send { turn, request } => Some((*turn, request.clone())),
            _ => None,
        })
        .collect()
}

/// The one Send among `fx`.
fn the_send(fx: &[Effect]) -> (TurnId, Request) {
    let s = sends(fx);
    assert_eq!(s.len(), 1, "expected exactly one Send in {fx:?}");
    s.into_iter().next().unwrap()
}

fn completion(req: &Request) -> String {
    match &req.prompt {
        Prompt::Completion(p) => p.clone(),
        Prompt::Chat(m) => panic!("expected a completion prompt, got chat {m:?}"),
    }
}

fn finish(turn: TurnId, index: u32, reason: FinishReason) -> Event {
    Event::Msg(Msg::Stream {
        turn,
        event: StreamEvent::Finish { index, reason },
    })
}

fn usage_ev(turn: TurnId, p: u64, c: u64) -> Event {
    Event::Msg(Msg::Stream {
        turn,
        event: StreamEvent::Usage(Usage {
            prompt_tokens: p,
            completion_tokens: c,
            total_tokens: p + c,
            ..Usage::default()
        }),
    })
}

fn done_err(turn: TurnId, e: ApiError) -> Event {
    Event::Msg(Msg::Done {
        turn,
        result: Err(e),
    })
}

/// One whole exchange: type, send, stream `reply`, finish. Returns the request sent.
fn exchange(app: &mut App, prompt: &str, reply: &str) -> Request {
    let (turn, req) = the_send(&enter(app, prompt));
    update(app, delta(turn, 0, reply));
    update(app, finish(turn, 0, FinishReason::Stop));
    update(app, done_ok(turn));
    assert!(app.turns.is_empty());
    req
}

fn last_reply(app: &App) -> &chat_tui::chat::conversation::Message {
    app.conv.last_reply().expect("a reply")
}

fn current_turn(app: &App) -> TurnId {
    app.turns.first().expect("a request in flight").id
}

// ---------------------------------------------------------------------------------------

#[test]
fn enter_sends_the_draft_with_the_system_prompt_first() {
    let mut app = new_app();
    app.conv.system = Some("Be brief.".into());
    app.conv.params.n = Some(2);
    app.conv.params.temperature = Some(0.5);
    let fx = enter(&mut app, "Hello there");
    let (turn, req) = the_send(&fx);

    assert_eq!(app.draft_text(), "", "the draft is cleared");
    assert_eq!(app.conv.messages.len(), 2);
    let user = &app.conv.messages[0];
    assert_eq!(user.speaker, Speaker::User);
    assert_eq!(user.content, "Hello there");
    let reply = &app.conv.messages[1];
    assert_eq!(reply.speaker, Speaker::Assistant);
    assert_eq!(reply.status, Status::Partial);
    assert_eq!(reply.choices.len(), 2);
    assert_eq!(
        app.turns.first().map(|c| (c.id, c.purpose.clone())),
        Some((
            turn,
            Purpose::Reply {
                reply: reply.id,
                append: None
            }
        ))
    );

    assert_eq!(req.model, MODEL);
    assert_eq!(req.params, app.conv.params);
    assert!(req.stream);
    assert_eq!(
        req.prompt,
        Prompt::Chat(vec![
            WireMessage::new(Role::System, "Be brief."),
            WireMessage::new(Role::User, "Hello there"),
        ])
    );
    // No autosave path: nothing to save.
    assert!(!fx.iter().any(|e| matches!(e, Effect::Save { .. })));
}

#[test]
fn empty_or_blank_draft_sends_nothing() {
    let mut app = new_app();
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    type_str(&mut app, "   ");
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    assert!(app.conv.messages.is_empty());
    assert!(app.turns.is_empty());
}

#[test]
fn stream_fills_choices_usage_and_done_completes_with_autosave() {
    let mut app = App::new(Start {
        save: SaveTarget {
            autosave: Some(PathBuf::from("/nonexistent/chat-tui-test/conv.json")),
            file: None,
        },
        ..start(Conversation::new(MODEL, Mode::Chat, Memory::Full))
    });
    app.conv.params.n = Some(2);
    let fx = enter(&mut app, "count");
    assert!(
        fx.iter().any(|e| matches!(e, Effect::Save { .. })),
        "the user message is saved at once"
    );
    let (turn, _) = the_send(&fx);
    update(&mut app, delta(turn, 0, "one"));
    update(&mut app, delta(turn, 1, "uno"));
    update(&mut app, delta(turn, 0, " two"));
    update(&mut app, delta(turn, 1, " dos"));
    update(&mut app, finish(turn, 0, FinishReason::Stop));
    update(&mut app, finish(turn, 1, FinishReason::Length));
    update(&mut app, usage_ev(turn, 10, 6));
    {
        let m = last_reply(&app);
        assert_eq!(m.choices[0].text, "one two");
        assert_eq!(m.choices[1].text, "uno dos");
        assert_eq!(m.choices[0].finish_reason, Some(FinishReason::Stop));
        assert_eq!(m.choices[1].finish_reason, Some(FinishReason::Length));
        assert_eq!(m.status, Status::Partial, "still partial until Done");
        assert_eq!(
            m.usage,
            Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 6,
                total_tokens: 16,
                ..Usage::default()
            })
        );
    }
    assert_eq!(app.tokens.session.total_tokens, 16);

    let fx = update(&mut app, done_ok(turn));
    assert!(app.turns.is_empty());
    assert_eq!(last_reply(&app).status, Status::Complete);
    let saved = fx.iter().find_map(|e| match e {
        Effect::Save {
            conversation,
            path,
            explicit,
            ..
        } => Some((conversation, path, explicit)),
        _ => None,
    });
    let (conv, path, explicit) = saved.expect("Done(Ok) saves");
    assert!(!explicit);
    assert_eq!(
        path.as_path(),
        std::path::Path::new("/nonexistent/chat-tui-test/conv.json")
    );
    assert_eq!(conv.last_reply().unwrap().status, Status::Complete);
    assert_eq!(conv.last_reply().unwrap().choices[0].text, "one two");

    // Usage adds up over the session.
    let (turn, _) = the_send(&enter(&mut app, "again"));
    update(&mut app, usage_ev(turn, 20, 4));
    update(&mut app, done_ok(turn));
    assert_eq!(app.tokens.session.total_tokens, 40);
    assert_eq!(app.tokens.session.prompt_tokens, 30);
}

#[test]
fn done_with_an_error_fails_the_reply_and_says_why() {
    let mut app = new_app();
    let (turn, _) = the_send(&enter(&mut app, "hi"));
    update(&mut app, delta(turn, 0, "Hel"));
    let err = ApiError::Network("connection reset by peer".into());
    let text = err.to_string();
    update(&mut app, done_err(turn, err));
    let m = last_reply(&app);
    assert_eq!(
        m.status,
        Status::Failed {
            error: text.clone()
        }
    );
    assert_eq!(m.text(), "Hel", "the text so far is kept");
    assert_eq!(notice(&app), (NoticeKind::Error, text.clone()));
    assert_eq!(app.status.last_error.as_deref(), Some(text.as_str()));
    assert!(app.turns.is_empty());

    // The next request clears the error.
    enter(&mut app, "again");
    assert_eq!(app.status.last_error, None);
}

#[test]
fn done_incomplete_marks_the_reply_incomplete() {
    let mut app = new_app();
    let (turn, _) = the_send(&enter(&mut app, "hi"));
    update(&mut app, delta(turn, 0, "cut"));
    update(&mut app, done_err(turn, ApiError::Incomplete));
    assert_eq!(last_reply(&app).status, Status::Incomplete);
    assert_eq!(notice(&app).0, NoticeKind::Error);
}

#[test]
fn messages_for_stale_turns_are_ignored() {
    let mut app = new_app();
    let (t1, _) = the_send(&enter(&mut app, "first"));
    update(&mut app, delta(t1, 0, "A"));
    let fx = update(&mut app, key(KeyCode::Esc));
    assert!(matches!(fx.as_slice(), [Effect::Cancel { turn }] if *turn == t1));

    let (t2, _) = the_send(&enter(&mut app, "second"));
    assert_ne!(t1, t2);
    // Late traffic from the cancelled turn.
    assert!(update(&mut app, delta(t1, 0, "LEAK")).is_empty());
    assert!(update(&mut app, usage_ev(t1, 100, 100)).is_empty());
    assert!(update(&mut app, done_ok(t1)).is_empty());
    assert_eq!(
        current_turn(&app),
        t2,
        "a stale Done does not end the new turn"
    );
    update(&mut app, delta(t2, 0, "B"));
    update(&mut app, done_ok(t2));

    let replies: Vec<_> = app
        .conv
        .messages
        .iter()
        .filter(|m| m.speaker == Speaker::Assistant)
        .collect();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].text(), "A");
    assert_eq!(replies[0].status, Status::Cancelled);
    assert_eq!(replies[1].text(), "B");
    assert_eq!(replies[1].status, Status::Complete);
    assert_eq!(app.tokens.session, Usage::default());
    // A turn id never issued.
    assert!(update(&mut app, delta(t2 + 100, 0, "X")).is_empty());
    assert_eq!(last_reply(&app).text(), "B");
}

#[test]
fn esc_while_streaming_cancels_and_keeps_the_partial_text() {
    let mut app = new_app();
    let (turn, _) = the_send(&enter(&mut app, "tell me"));
    update(&mut app, delta(turn, 0, "Once upon"));
    let fx = update(&mut app, key(KeyCode::Esc));
    assert!(matches!(fx.first(), Some(Effect::Cancel { turn: t }) if *t == turn));
    assert!(app.turns.is_empty());
    let m = last_reply(&app);
    assert_eq!(m.status, Status::Cancelled);
    assert_eq!(m.text(), "Once upon");
    assert!(!app.quit);
}

#[test]
fn ctrl_c_quits_when_idle_and_cancels_when_streaming() {
    let mut app = new_app();
    let (turn, _) = the_send(&enter(&mut app, "hi"));
    let fx = update(&mut app, ctrl('c'));
    assert!(matches!(fx.first(), Some(Effect::Cancel { turn: t }) if *t == turn));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Quit)));
    assert!(!app.quit);
    assert_eq!(last_reply(&app).status, Status::Cancelled);

    let fx = update(&mut app, ctrl('c'));
    assert!(fx.iter().any(|e| matches!(e, Effect::Quit)), "{fx:?}");
    assert!(app.quit);
}

#[test]
fn alt_arrows_cycle_choices_and_the_selected_one_continues_the_conversation() {
    let mut app = new_app();
    app.conv.params.n = Some(3);
    let (turn, _) = the_send(&enter(&mut app, "pick"));
    for (i, t) in ["zero", "one", "two"].iter().enumerate() {
        update(&mut app, delta(turn, i as u32, t));
        update(&mut app, finish(turn, i as u32, FinishReason::Stop));
    }
    update(&mut app, done_ok(turn));
    assert_eq!(last_reply(&app).selected, 0);
    update(&mut app, alt(KeyCode::Right));
    assert_eq!(last_reply(&app).selected, 1);
    update(&mut app, alt(KeyCode::Right));
    update(&mut app, alt(KeyCode::Right));
    assert_eq!(last_reply(&app).selected, 0, "wraps forward");
    update(&mut app, alt(KeyCode::Left));
    assert_eq!(last_reply(&app).selected, 2, "wraps backward");
    assert_eq!(last_reply(&app).text(), "two");

    app.conv.params.n = None;
    let (_, req) = the_send(&enter(&mut app, "and then?"));
    assert_eq!(
        chat(&req),
        vec![
            (Role::User, "pick".into()),
            (Role::Assistant, "two".into()),
            (Role::User, "and then?".into()),
        ]
    );
}

#[test]
fn up_in_an_empty_input_recalls_the_previous_prompt() {
    let mut app = App::new(Start {
        prompt_history: vec!["older".into()],
        ..start(Conversation::new(MODEL, Mode::Chat, Memory::Full))
    });
    exchange(&mut app, "newest", "ok");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.draft_text(), "newest");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.draft_text(), "older");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.draft_text(), "older", "stops at the oldest");
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.draft_text(), "newest");
    update(&mut app, key(KeyCode::Down));
    assert_eq!(
        app.draft_text(),
        "",
        "past the newest: an empty draft again"
    );
}

#[test]
fn paste_inserts_text_with_newlines_and_does_not_send() {
    let mut app = new_app();
    type_str(&mut app, "> ");
    let fx = no_counts(update(
        &mut app,
        Event::Paste("line one\r\nline two\nthree".into()),
    ));
    assert!(fx.is_empty());
    assert_eq!(app.draft_text(), "> line one\nline two\nthree");
    assert!(app.conv.messages.is_empty());
    let (_, req) = the_send(&update(&mut app, key(KeyCode::Enter)));
    assert_eq!(
        chat(&req),
        vec![(Role::User, "> line one\nline two\nthree".into())]
    );
}

#[test]
fn set_and_unset_parameters() {
    let mut app = new_app();
    let fx = enter(&mut app, "/set temperature 0.7");
    assert!(sends(&fx).is_empty());
    assert_eq!(app.conv.params.temperature, Some(0.7));
    assert_eq!(notice(&app).0, NoticeKind::Info);
    assert_eq!(
        app.draft_text(),
        "",
        "a command that worked clears the draft"
    );

    app.set_draft("");
    let fx = enter(&mut app, "/set temperature 9");
    assert!(fx.is_empty());
    assert_eq!(app.conv.params.temperature, Some(0.7), "unchanged");
    let (kind, text) = notice(&app);
    assert_eq!(kind, NoticeKind::Error);
    assert!(text.contains("temperature"), "{text}");
    assert_eq!(
        app.draft_text(),
        "/set temperature 9",
        "a failed command stays in the input to fix"
    );

    app.set_draft("");
    enter(&mut app, "/unset temperature");
    assert_eq!(app.conv.params.temperature, None);

    // The next request carries the parameters.
    app.set_draft("");
    enter(&mut app, "/set max_tokens 50");
    let (_, req) = the_send(&enter(&mut app, "hi"));
    assert_eq!(req.params.max_tokens, Some(50));
    assert_eq!(req.params.temperature, None);
}

#[test]
fn completion_mode_sends_a_labelled_transcript_with_the_turn_stop() {
    let mut app = new_app();
    enter(&mut app, "/mode completion");
    assert_eq!(app.conv.mode, Mode::Completion);
    exchange(&mut app, "What is 2+2?", " 4");
    let (_, req) = the_send(&enter(&mut app, "And 3+3?"));
    assert_eq!(
        completion(&req),
        "User: What is 2+2?\nAssistant: 4\nUser: And 3+3?\nAssistant:"
    );
    assert_eq!(req.params.stop, vec!["\nUser:".to_string()]);
    assert_eq!(req.path(), "/completions");
    assert!(
        app.conv.params.stop.is_empty(),
        "the turn stop is added to the request, not to the conversation's parameters"
    );
}

#[test]
fn mode_chat_clears_completion_only_parameters() {
    let mut app = new_app();
    enter(&mut app, "/mode completion");
    enter(&mut app, "/set suffix \"end\"");
    enter(&mut app, "/set best_of 2");
    assert_eq!(app.conv.params.suffix.as_deref(), Some("end"));
    assert_eq!(app.conv.params.best_of, Some(2));
    enter(&mut app, "/mode chat");
    assert_eq!(app.conv.mode, Mode::Chat);
    assert_eq!(app.conv.params.suffix, None);
    assert_eq!(app.conv.params.best_of, None);
    assert!(notice(&app).1.contains("suffix and best_of unset"));
    // And the next request is valid.
    let (_, req) = the_send(&enter(&mut app, "hi"));
    assert_eq!(req.params.validate(Mode::Chat), Ok(()));
}

#[test]
fn memory_last_and_none_limit_the_history() {
    let mut app = new_app();
    exchange(&mut app, "q1", "a1");
    exchange(&mut app, "q2", "a2");
    enter(&mut app, "/memory last 1");
    assert_eq!(app.conv.memory, Memory::Last(1));
    let req = exchange(&mut app, "q3", "a3");
    assert_eq!(
        chat(&req),
        vec![
            (Role::User, "q2".into()),
            (Role::Assistant, "a2".into()),
            (Role::User, "q3".into()),
        ]
    );
    enter(&mut app, "/memory none");
    let (_, req) = the_send(&enter(&mut app, "q4"));
    assert_eq!(chat(&req), vec![(Role::User, "q4".into())]);
}

#[test]
fn system_command_sets_and_clears_the_system_prompt() {
    let mut app = new_app();
    enter(&mut app, "/system You are a pirate.");
    assert_eq!(app.conv.system.as_deref(), Some("You are a pirate."));
    let req = exchange(&mut app, "hi", "arr");
    assert_eq!(chat(&req)[0], (Role::System, "You are a pirate.".into()));
    enter(&mut app, "/system");
    assert_eq!(app.conv.system, None);
    let (_, req) = the_send(&enter(&mut app, "bye"));
    assert_eq!(chat(&req)[0].0, Role::User);
}

#[test]
fn unknown_commands_suggest_and_tab_completes() {
    let mut app = new_app();
    let fx = enter(&mut app, "/retyr");
    assert!(fx.is_empty());
    let (kind, text) = notice(&app);
    assert_eq!(kind, NoticeKind::Error);
    assert!(text.contains("did you mean /retry"), "{text}");
    assert!(app.conv.messages.is_empty(), "nothing is sent");

    app.set_draft("");
    type_str(&mut app, "/ret");
    assert!(no_counts(update(&mut app, key(KeyCode::Tab))).is_empty());
    assert_eq!(app.draft_text(), "/retry");

    // `//text` sends the text with one slash.
    app.set_draft("");
    let (_, req) = the_send(&enter(&mut app, "//etc/hosts is a file"));
    assert_eq!(
        chat(&req),
        vec![(Role::User, "/etc/hosts is a file".into())]
    );
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
    assert_eq!(app.conv.memory, Memory::Summarize);
    app
}

#[test]
fn summarize_folds_old_turns_then_sends_the_reply_request() {
    let mut app = summarize_app();
    let folded_candidates: Vec<_> = app.conv.messages.iter().map(|m| m.id).collect();
    let fx = enter(&mut app, "What was turn 0 about?");
    let (t1, req) = the_send(&fx);
    let ids = match &app.turns.first().unwrap().purpose {
        Purpose::Summary { ids, .. } => ids.clone(),
        other => panic!("expected a summary turn, got {other:?}"),
    };
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|i| folded_candidates.contains(i)));
    let msgs = chat(&req);
    assert_eq!(msgs[0].0, Role::System);
    assert!(msgs[1].1.contains("Turn 0"), "{:?}", msgs[1]);
    assert!(
        msgs[1]
            .1
            .ends_with("Write the summary of the conversation above.")
    );
    assert!(!msgs[1].1.contains("What was turn 0 about?"));
    // No reply is shown while summarising.
    assert_eq!(app.conv.messages.last().unwrap().speaker, Speaker::User);

    update(&mut app, delta(t1, 0, "The user talked about "));
    update(&mut app, delta(t1, 0, "foxes."));
    let mut fx = update(&mut app, done_ok(t1));
    let summary = app
        .conv
        .messages
        .iter()
        .find(|m| m.speaker == Speaker::Summary)
        .expect("a summary message");
    assert_eq!(summary.content, "The user talked about foxes.");
    assert_eq!(summary.summary_of, ids);

    // With a window this small (under SUMMARY_MAX_TOKENS + 50) each summary request may
    // fold only one turn, so the app can chain summaries; each one covers the previous.
    let mut rounds = 1;
    let mut covered = ids.clone();
    let (t2, req) = loop {
        let (t, req) = the_send(&fx);
        match app.turns.first().unwrap().purpose.clone() {
            Purpose::Reply { .. } => break (t, req),
            Purpose::Summary { ids, .. } => {
                rounds += 1;
                assert!(rounds <= 6, "summaries do not converge");
                assert!(
                    covered.iter().all(|i| ids.contains(i)) && ids.len() > covered.len(),
                    "a later summary covers more: {covered:?} then {ids:?}"
                );
                covered = ids;
                update(&mut app, delta(t, 0, "The user talked about foxes."));
                fx = update(&mut app, done_ok(t));
            }
        }
    };
    assert_ne!(t1, t2);
    let latest = app
        .conv
        .messages
        .iter()
        .filter(|m| m.speaker == Speaker::Summary)
        .max_by_key(|m| m.id)
        .unwrap();
    assert_eq!(latest.summary_of, covered);
    let msgs = chat(&req);
    assert_eq!(
        msgs[0],
        (
            Role::System,
            "Summary of the earlier conversation: The user talked about foxes.".into()
        )
    );
    assert_eq!(
        msgs.last().unwrap(),
        &(Role::User, "What was turn 0 about?".into())
    );
    for id in &covered {
        let folded = app.conv.get(*id).unwrap().text().to_string();
        assert!(
            !msgs[1..].iter().any(|(_, t)| *t == folded),
            "folded message {id} is still sent: {msgs:?}"
        );
    }
    assert_eq!(
        msgs.iter().filter(|(r, _)| *r == Role::System).count(),
        1,
        "only the latest summary is sent"
    );
    update(&mut app, delta(t2, 0, "Foxes."));
    update(&mut app, done_ok(t2));
    assert_eq!(last_reply(&app).text(), "Foxes.");
    assert_eq!(last_reply(&app).status, Status::Complete);
}

#[test]
fn a_failing_summary_leaves_a_failed_reply_that_says_so() {
    let mut app = summarize_app();
    let (t1, _) = the_send(&enter(&mut app, "next question"));
    assert!(matches!(
        app.turns.first().unwrap().purpose,
        Purpose::Summary { .. }
    ));
    let fx = update(&mut app, done_err(t1, ApiError::Network("reset".into())));
    assert!(
        sends(&fx).is_empty(),
        "no reply request after a failed summary"
    );
    assert!(app.turns.is_empty());
    let m = app.conv.messages.last().unwrap();
    assert_eq!(m.speaker, Speaker::Assistant);
    match &m.status {
        Status::Failed { error } => {
            assert!(
                error.contains("could not summarise the earlier conversation"),
                "{error}"
            );
            assert!(error.contains("reset"), "{error}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert!(
        !app.conv
            .messages
            .iter()
            .any(|m| m.speaker == Speaker::Summary),
        "no summary inserted"
    );
    assert_eq!(notice(&app).0, NoticeKind::Error);
}

#[test]
fn retry_resends_the_same_history_and_keeps_the_old_reply_as_a_version() {
    let mut app = new_app();
    exchange(&mut app, "q1", "a1");
    let first = exchange(&mut app, "q2", "bad answer");
    let count = app.conv.messages.len();
    let fx = enter(&mut app, "/retry");
    let (turn, req) = the_send(&fx);
    assert_eq!(req.prompt, first.prompt);
    assert_eq!(
        app.conv.messages.len(),
        count,
        "the new version takes its place"
    );
    assert!(!app.conv.messages.iter().any(|m| m.text() == "bad answer"));
    assert!(
        app.conv.others.iter().any(|m| m.text() == "bad answer"),
        "the old reply is kept beside it (tests/branches.rs tests versions)"
    );
    update(&mut app, delta(turn, 0, "good answer"));
    update(&mut app, done_ok(turn));
    assert_eq!(last_reply(&app).text(), "good answer");
    assert_eq!(app.conv.messages[count - 2].content, "q2");
}

#[test]
fn continue_appends_to_the_selected_choice() {
    let mut app = new_app();
    let (turn, _) = the_send(&enter(&mut app, "write a poem"));
    update(&mut app, delta(turn, 0, "Roses are red,"));
    update(&mut app, finish(turn, 0, FinishReason::Length));
    update(&mut app, done_ok(turn));
    assert_eq!(notice(&app).0, NoticeKind::Info);
    assert!(notice(&app).1.contains("/continue"));
    let reply_id = last_reply(&app).id;
    let count = app.conv.messages.len();

    let (t2, req) = the_send(&enter(&mut app, "/continue"));
    assert_eq!(app.conv.messages.len(), count, "no new message");
    assert_eq!(
        app.turns.first().unwrap().purpose,
        Purpose::Reply {
            reply: reply_id,
            append: Some(0)
        }
    );
    let msgs = chat(&req);
    let n = msgs.len();
    assert_eq!(msgs[n - 3], (Role::User, "write a poem".into()));
    assert_eq!(msgs[n - 2], (Role::Assistant, "Roses are red,".into()));
    assert_eq!(msgs[n - 1].0, Role::User);
    assert!(msgs[n - 1].1.contains("Continue"), "{:?}", msgs[n - 1]);

    update(&mut app, delta(t2, 0, " violets are blue."));
    update(&mut app, finish(t2, 0, FinishReason::Stop));
    update(&mut app, done_ok(t2));
    let m = last_reply(&app);
    assert_eq!(m.id, reply_id);
    assert_eq!(m.text(), "Roses are red, violets are blue.");
    assert_eq!(m.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(m.status, Status::Complete);
}

#[test]
fn insert_in_completion_mode_sends_prompt_and_suffix() {
    let mut app = new_app();
    enter(&mut app, "/mode completion");
    let (_, req) = the_send(&enter(&mut app, "/insert before [insert] after"));
    assert_eq!(completion(&req), "before ");
    assert_eq!(req.params.suffix.as_deref(), Some(" after"));
    assert!(
        !req.params.stop.iter().any(|s| s == "\nUser:"),
        "no turn stop in an insertion"
    );
}

#[test]
fn insert_in_chat_mode_is_an_error() {
    let mut app = new_app();
    let fx = enter(&mut app, "/insert before [insert] after");
    assert!(fx.is_empty());
    let (kind, text) = notice(&app);
    assert_eq!(kind, NoticeKind::Error);
    assert!(text.contains("completion mode"), "{text}");
    assert!(app.conv.messages.is_empty());
}

#[test]
fn new_resets_the_conversation_and_cancels_a_running_turn() {
    let mut app = new_app();
    enter(&mut app, "/set temperature 0.3");
    enter(&mut app, "/model other-model");
    exchange(&mut app, "q1", "a1");
    let old_id = app.conv.id.clone();
    let (turn, _) = the_send(&enter(&mut app, "q2"));
    let fx = enter(&mut app, "/new");
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Cancel { turn: t } if *t == turn)),
        "{fx:?}"
    );
    assert!(app.turns.is_empty());
    assert!(app.conv.messages.is_empty());
    assert_ne!(app.conv.id, old_id);
    assert_eq!(app.conv.model, "other-model");
    assert_eq!(app.conv.params.temperature, Some(0.3));
    // Late traffic of the cancelled turn goes nowhere.
    update(&mut app, delta(turn, 0, "LEAK"));
    assert!(app.conv.messages.is_empty());
    let (_, req) = the_send(&enter(&mut app, "fresh"));
    assert_eq!(chat(&req), vec![(Role::User, "fresh".into())]);
    assert_eq!(req.model, "other-model");
}

#[test]
fn actions_work_like_their_keys() {
    let mut app = new_app();
    app.set_draft("via action");
    let (turn, _) = the_send(&update(&mut app, Event::Action(Action::Submit)));
    let fx = update(&mut app, Event::Action(Action::CancelOrQuit));
    assert!(matches!(fx.first(), Some(Effect::Cancel { turn: t }) if *t == turn));
    assert!(!app.quit);
}

#[test]
fn an_overflow_that_states_the_context_size_is_summarised_and_asked_again() {
    // A model whose context window nobody configured: the first request goes out whole.
    let mut app = App::new(start(Conversation::new(
        "local-model",
        Mode::Chat,
        Memory::Full,
    )));
    for i in 0..3 {
        exchange(
            &mut app,
            &long_turn(i),
            &format!("Reply {i}: {}", "ok ".repeat(40)),
        );
    }
    enter(&mut app, "/memory summarize");
    let fx = enter(&mut app, "And now?");
    let (t1, _) = the_send(&fx);
    assert!(matches!(
        app.turns.first().unwrap().purpose,
        Purpose::Reply { .. }
    ));
    let before = app.conv.messages.len();
    // llama.cpp's answer when the prompt does not fit.
    let e = chat_tui::api::error::from_response(
        400,
        None,
        br#"{"error":{"code":400,"message":"request (700 tokens) exceeds the available context size (300 tokens), try increasing it","type":"exceed_context_size_error"}}"#,
    );
    let fx = update(&mut app, done_err(t1, e.clone()));
    // The empty failed reply is gone, and the question is asked again, summarising first.
    assert_eq!(app.conv.messages.len(), before - 1);
    assert_eq!(app.conv.messages.last().unwrap().content, "And now?");
    let (t2, _) = the_send(&fx);
    assert!(matches!(
        app.turns.first().unwrap().purpose,
        Purpose::Summary { .. }
    ));
    assert_eq!(app.tokens.learned_window, Some(300));
    // The summary arrives; the reply request follows within the learned budget.
    update(&mut app, delta(t2, 0, "Three long turns."));
    let mut fx = update(&mut app, done_ok(t2));
    let mut rounds = 0;
    while matches!(
        app.turns.first().map(|c| &c.purpose),
        Some(Purpose::Summary { .. })
    ) {
        let (t, _) = the_send(&fx);
        update(&mut app, delta(t, 0, "Shorter."));
        fx = update(&mut app, done_ok(t));
        rounds += 1;
        assert!(rounds < 6, "summaries never end");
    }
    let (t3, req) = the_send(&fx);
    assert!(
        chat(&req)
            .iter()
            .any(|(r, c)| *r == Role::System && c.contains("Summary of the earlier conversation"))
    );
    // The same refusal again is shown, not retried in a loop.
    let fx = update(&mut app, done_err(t3, e));
    assert!(sends(&fx).is_empty());
    assert!(matches!(
        app.conv.messages.last().unwrap().status,
        Status::Failed { .. }
    ));
}

// --- the structure: keys by context, effects for every piece of I/O -------------------

fn entry(id: &str, title: &str) -> chat_tui::store::library::Entry {
    chat_tui::store::library::Entry {
        id: id.into(),
        path: PathBuf::from(format!("/dev/null/chat-tui/{id}.json")),
        title: title.into(),
        created: chrono::Utc::now(),
        updated: chrono::Utc::now(),
        model: MODEL.into(),
        messages: 2,
        first_line: "hello".into(),
        bytes: 100,
        broken: None,
        snippet: None,
    }
}

fn listed(generation: u64, entries: Vec<chat_tui::store::library::Entry>) -> Event {
    Event::Msg(Msg::SessionsListed {
        generation,
        result: Ok(entries),
        partial: false,
    })
}

#[test]
fn the_sessions_browser_does_no_io_in_update() {
    // A data directory that cannot exist (a folder under a device file, whoever runs the
    // test): any read or write from update() would fail and show.
    let mut s = start(Conversation::new(MODEL, Mode::Chat, Memory::Full));
    s.save = SaveTarget {
        autosave: Some(PathBuf::from("/dev/null/chat-tui/conversations/x.json")),
        file: None,
    };
    let mut app = App::new(s);
    let dir = PathBuf::from("/dev/null/chat-tui/conversations");
    // Opening lists in the background.
    let fx = update(&mut app, ctrl('o'));
    let first = match fx.as_slice() {
        [
            Effect::ListSessions {
                dir: d,
                query: None,
                generation,
            },
        ] if *d == dir => *generation,
        other => panic!("expected one ListSessions, got {other:?}"),
    };
    // Typing in the filter asks again, once per key, newest generation last.
    let mut generations = Vec::new();
    for c in "abc".chars() {
        match update(&mut app, key(KeyCode::Char(c))).as_slice() {
            [
                Effect::ListSessions {
                    query: Some(q),
                    generation,
                    ..
                },
            ] => {
                assert!(q.ends_with(c));
                generations.push(*generation);
            }
            other => panic!("typing {c:?}: {other:?}"),
        }
    }
    assert!(generations.windows(2).all(|w| w[0] < w[1]) && generations[0] > first);
    // A stale listing is dropped; the latest fills the list.
    update(&mut app, listed(first, vec![entry("old", "stale")]));
    let pane = |app: &App| match &app.overlay {
        Some(chat_tui::app::Overlay::Sessions(p)) => p.clone(),
        o => panic!("sessions closed: {o:?}"),
    };
    assert!(pane(&app).entries.is_empty() && pane(&app).loading);
    let last = *generations.last().expect("a generation");
    update(
        &mut app,
        listed(last, vec![entry("a1", "first"), entry("b2", "second")]),
    );
    assert_eq!(pane(&app).entries.len(), 2);
    assert!(!pane(&app).loading);
    // Rename, delete and export are effects too.
    update(&mut app, key(KeyCode::Down));
    update(&mut app, ctrl('r'));
    for _ in 0.."second".len() {
        update(&mut app, key(KeyCode::Backspace));
    }
    type_str(&mut app, "renamed");
    match update(&mut app, key(KeyCode::Enter)).as_slice() {
        [Effect::RenameSession { id, title, .. }] => {
            assert_eq!((id.as_str(), title.as_str()), ("b2", "renamed"))
        }
        other => panic!("{other:?}"),
    }
    update(&mut app, key(KeyCode::Delete));
    match update(&mut app, key(KeyCode::Char('y'))).as_slice() {
        [Effect::DeleteSession { id, .. }] => assert_eq!(id, "b2"),
        other => panic!("{other:?}"),
    }
    match update(&mut app, ctrl('e')).as_slice() {
        [Effect::ExportFile { source, out }] => {
            assert_eq!(source, &PathBuf::from("/dev/null/chat-tui/b2.json"));
            assert_eq!(out, &PathBuf::from("chat-b2.md"));
        }
        other => panic!("{other:?}"),
    }
    // Enter on a conversation opens it in the background.
    update(&mut app, ctrl('o'));
    let g = match &app.overlay {
        Some(chat_tui::app::Overlay::Sessions(_)) => {
            match update(&mut app, key(KeyCode::Char('f'))).as_slice() {
                [Effect::ListSessions { generation, .. }] => *generation,
                other => panic!("{other:?}"),
            }
        }
        o => panic!("{o:?}"),
    };
    update(&mut app, listed(g, vec![entry("a1", "first")]));
    match update(&mut app, key(KeyCode::Enter)).as_slice() {
        [Effect::Open { path }] => assert_eq!(path, &PathBuf::from("/dev/null/chat-tui/a1.json")),
        other => panic!("{other:?}"),
    }
    assert!(app.overlay.is_none());
}

#[test]
fn the_sessions_filter_shows_the_first_matches_while_the_rest_are_searched() {
    let mut s = start(Conversation::new(MODEL, Mode::Chat, Memory::Full));
    s.save = SaveTarget {
        autosave: Some(PathBuf::from("/dev/null/chat-tui/conversations/x.json")),
        file: None,
    };
    let mut app = App::new(s);
    update(&mut app, ctrl('o'));
    let pane = |app: &App| match &app.overlay {
        Some(chat_tui::app::Overlay::Sessions(p)) => p.clone(),
        o => panic!("sessions closed: {o:?}"),
    };
    let at = |id: &str, minutes: i64| {
        let t0: chrono::DateTime<chrono::Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
        let mut e = entry(id, id);
        e.updated = t0 + chrono::Duration::minutes(minutes);
        e
    };
    let g = match update(&mut app, key(KeyCode::Char('w'))).as_slice() {
        [Effect::ListSessions { generation, .. }] => *generation,
        other => panic!("{other:?}"),
    };
    // The first matches: shown at once, still searching.
    update(
        &mut app,
        Event::Msg(Msg::SessionsListed {
            generation: g,
            result: Ok(vec![at("m50", 50), at("m30", 30)]),
            partial: true,
        }),
    );
    assert_eq!(pane(&app).entries.len(), 2);
    assert!(pane(&app).loading, "the pane still says searching");
    // The user moves to the second match while more arrive, newer and older ones.
    update(&mut app, key(KeyCode::Down));
    assert_eq!(pane(&app).current().unwrap().id, "m30");
    update(
        &mut app,
        Event::Msg(Msg::SessionsMore {
            generation: g,
            entries: vec![at("m60", 60), at("m40", 40), at("m10", 10)],
            partial: true,
        }),
    );
    let p = pane(&app);
    let ids: Vec<&str> = p.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["m60", "m50", "m40", "m30", "m10"],
        "merged newest first"
    );
    assert_eq!(p.current().unwrap().id, "m30", "the selection stays put");
    assert!(p.loading);
    // A batch of an older search is dropped; the last batch ends the search.
    update(
        &mut app,
        Event::Msg(Msg::SessionsMore {
            generation: g - 1,
            entries: vec![at("old", 99)],
            partial: false,
        }),
    );
    assert_eq!(pane(&app).entries.len(), 5);
    assert!(pane(&app).loading);
    update(
        &mut app,
        Event::Msg(Msg::SessionsMore {
            generation: g,
            entries: Vec::new(),
            partial: false,
        }),
    );
    assert!(!pane(&app).loading);
    assert_eq!(pane(&app).entries.len(), 5);
    // Typing again starts a new search: its first batch replaces the list.
    let g2 = match update(&mut app, key(KeyCode::Char('x'))).as_slice() {
        [Effect::ListSessions { generation, .. }] => *generation,
        other => panic!("{other:?}"),
    };
    update(
        &mut app,
        Event::Msg(Msg::SessionsListed {
            generation: g2,
            result: Ok(vec![at("m10", 10)]),
            partial: false,
        }),
    );
    assert_eq!(pane(&app).entries.len(), 1);
    assert!(!pane(&app).loading);
}

#[test]
fn a_key_rebound_in_a_pane_works_there() {
    let config: chat_tui::keymap::KeyConfig = toml::from_str(
        r#"
        [input]
        enter = "newline"
        ctrl-s = "submit"
        [conversation]
        x = "scroll_top"
        [sessions]
        ctrl-x = "close"
        "#,
    )
    .expect("a [keys] table");
    let (keymap, problems) = Keymap::with_overrides(&config);
    assert!(problems.is_empty(), "{problems:?}");
    let mut s = start(Conversation::new(MODEL, Mode::Chat, Memory::Full));
    s.keymap = keymap;
    s.save.autosave = Some(PathBuf::from("/dev/null/lib/x.json"));
    let mut app = App::new(s);
    type_str(&mut app, "one");
    assert!(no_counts(update(&mut app, key(KeyCode::Enter))).is_empty());
    type_str(&mut app, "two");
    assert_eq!(app.draft_text(), "one\ntwo", "Enter is a new line now");
    let (_, req) = the_send(&update(&mut app, ctrl('s')));
    assert_eq!(chat(&req).last().map(|m| m.1.as_str()), Some("one\ntwo"));
    // A plain letter bound in the conversation pane only.
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, chat_tui::app::Focus::Conversation);
    update(&mut app, key(KeyCode::Char('x')));
    assert_eq!(
        app.focus,
        chat_tui::app::Focus::Conversation,
        "x was not typed"
    );
    assert!(app.draft_text().is_empty());
    // And one in a panel.
    update(&mut app, ctrl('o'));
    assert!(app.overlay.is_some());
    update(&mut app, ctrl('x'));
    assert!(app.overlay.is_none(), "Ctrl+X closes the sessions browser");
}

#[test]
fn the_next_request_count_is_what_enter_sends() {
    for memory in [Memory::Full, Memory::Last(1), Memory::None] {
        let mut app = App::new(start(Conversation::new("gpt-4o", Mode::Chat, memory)));
        app.conv.system = Some("Be brief.".into());
        app.tokens.counter().warm_up();
        exchange(&mut app, "what is a hamburger?", "A sandwich. 🍔");
        exchange(&mut app, "和薯條呢？", "也是食物。");
        type_str(&mut app, "and a third question");
        let fx = update(&mut app, Event::Tick);
        settle(&mut app, fx);
        let shown = app
            .next_request_tokens()
            .expect("counted in the background after a tick");
        let fx = update(&mut app, key(KeyCode::Enter));
        assert_eq!(sends(&fx).len(), 1);
        let reply = app.conv.messages.last().expect("the reply");
        assert_eq!(
            reply.request_tokens,
            Some(shown),
            "{memory}: the tokens panel said {shown}"
        );
    }
}

#[test]
fn the_message_cursor_moves_between_messages_in_the_conversation_pane() {
    let mut app = new_app();
    exchange(&mut app, "one", "reply one");
    exchange(&mut app, "two", "reply two");
    let ids: Vec<_> = app.conv.messages.iter().map(|m| m.id).collect();
    assert_eq!(app.selected, None);
    // Tab (empty input) focuses the conversation: the cursor starts on the last message.
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, chat_tui::app::Focus::Conversation);
    assert_eq!(app.selected, Some(ids[3]));
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.selected, Some(ids[2]));
    update(&mut app, key(KeyCode::Char('k')));
    assert_eq!(app.selected, Some(ids[1]));
    update(&mut app, key(KeyCode::Char('j')));
    assert_eq!(app.selected, Some(ids[2]));
    update(&mut app, key(KeyCode::Char('g')));
    assert_eq!(app.selected, Some(ids[0]));
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.selected, Some(ids[0]), "stops at the first");
    update(&mut app, key(KeyCode::Char('G')));
    assert_eq!(app.selected, Some(ids[3]));
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.selected, Some(ids[3]), "stops at the last");
    // Leaving and coming back keeps the place.
    update(&mut app, key(KeyCode::Up));
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, chat_tui::app::Focus::Input);
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.selected, Some(ids[2]));
    // A letter typed here goes to the input.
    update(&mut app, key(KeyCode::Char('x')));
    assert_eq!(app.focus, chat_tui::app::Focus::Input);
    assert_eq!(app.draft_text(), "x");
}

// --- token counts, off the UI thread ----------------------------------------------------

#[test]
fn the_draft_is_counted_in_the_background_one_count_at_a_time() {
    let mut app = App::new(start(Conversation::new("gpt-4o", Mode::Chat, Memory::Full)));
    let counter = TokenCounter::for_model("gpt-4o");
    let first = count_jobs(update(&mut app, key(KeyCode::Char('h'))));
    assert_eq!(first.len(), 1, "a key asks for the draft's count");
    assert_eq!(first[0].items.len(), 1);
    assert!(matches!(first[0].items[0].0, CountOf::Draft { .. }));
    assert_eq!(first[0].items[0].1, "h");
    // Keys typed while it runs ask for nothing more.
    for c in "i there".chars() {
        let fx = update(&mut app, key(KeyCode::Char(c)));
        assert!(count_jobs(fx).is_empty(), "{c:?} queued a count");
    }
    // The count of "h" comes back: the draft is "hi there" now, so it is dropped, and the
    // draft as it is is asked for.
    let first = first.into_iter().next().expect("a job");
    let next = count_jobs(update(
        &mut app,
        Event::Msg(Msg::TokensCounted(first.run())),
    ));
    assert_eq!(app.tokens.draft, 0, "a stale count is not shown");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].items[0].1, "hi there");
    let next = next.into_iter().next().expect("a job");
    let more = count_jobs(update(&mut app, Event::Msg(Msg::TokensCounted(next.run()))));
    assert!(more.is_empty());
    assert_eq!(app.tokens.draft, counter.count("hi there") as u64);
    // An emptied draft is 0 at once, without a count.
    for _ in 0.."hi there".len() {
        let fx = update(&mut app, key(KeyCode::Backspace));
        for job in count_jobs(fx) {
            update(&mut app, Event::Msg(Msg::TokensCounted(job.run())));
        }
    }
    assert!(app.draft_text().is_empty());
    assert_eq!(app.tokens.draft, 0);
}

#[test]
fn a_pasted_megabyte_is_counted_off_the_ui_thread() {
    let mut app = App::new(start(Conversation::new("gpt-4o", Mode::Chat, Memory::Full)));
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(24_000);
    let jobs = count_jobs(update(&mut app, Event::Paste(text.clone())));
    assert_eq!(jobs.len(), 1, "the paste is counted in the background");
    assert_eq!(jobs[0].items[0].1.len(), text.len());
    assert_eq!(app.tokens.draft, 0, "not counted during update()");
    let job = jobs.into_iter().next().expect("a job");
    update(&mut app, Event::Msg(Msg::TokensCounted(job.run())));
    assert_eq!(
        app.tokens.draft,
        TokenCounter::for_model("gpt-4o").count(&text) as u64
    );
}

#[test]
fn messages_are_counted_in_batches_and_the_estimate_waits_for_them() {
    let mut conv = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    let para = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(350);
    for i in 0..40 {
        conv.push(Speaker::User, format!("question {i}: {para}"));
    }
    let mut app = App::new(start(conv));
    assert_eq!(app.next_request_tokens(), None);
    let mut batches = 0;
    let mut jobs = count_jobs(update(&mut app, Event::Tick));
    while let Some(job) = jobs.pop() {
        assert!(jobs.is_empty(), "one batch at a time");
        assert!(
            job.bytes() <= chat_tui::app::tokens::BATCH_BYTES,
            "{} bytes in a batch",
            job.bytes()
        );
        assert_eq!(app.next_request_tokens(), None, "counting…");
        batches += 1;
        jobs = count_jobs(update(&mut app, Event::Msg(Msg::TokensCounted(job.run()))));
    }
    assert!(batches > 1, "{batches} batches");
    let shown = app.next_request_tokens().expect("all counted");
    let counter = TokenCounter::for_model("gpt-4o");
    let expected: u64 = app
        .conv
        .messages
        .iter()
        .map(|m| 4 + counter.count(m.text()) as u64)
        .sum::<u64>()
        + 4 // the (empty) draft
        + 3;
    assert_eq!(shown, expected);
}

/// The tick walks the conversation for uncounted messages only when an event came since
/// its last look found none (at idle, a 2,000-message chat is not walked ten times a second).
#[test]
fn the_tick_looks_for_uncounted_messages_only_after_an_event() {
    let mut conv = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    conv.push(Speaker::User, "the first question");
    let mut app = App::new(start(conv));
    let fx = update(&mut app, Event::Tick);
    let asked = fx
        .iter()
        .filter(|e| matches!(e, Effect::CountTokens(_)))
        .count();
    assert_eq!(asked, 1, "the first tick asks");
    settle(&mut app, fx);
    assert!(app.next_request_tokens().is_some(), "all counted");
    assert!(count_jobs(update(&mut app, Event::Tick)).is_empty());
    // A message that appears with no event (as if behind the loop's back) is not looked
    // for by the ticks alone: nothing happened, so nothing is walked…
    app.conv.push(Speaker::User, "a second question");
    for _ in 0..3 {
        assert!(count_jobs(update(&mut app, Event::Tick)).is_empty());
    }
    // …and any event makes the next tick look again.
    update(&mut app, Event::Resize);
    let jobs = count_jobs(update(&mut app, Event::Tick));
    assert_eq!(jobs.len(), 1, "asked after an event");
    assert_eq!(jobs[0].items[0].1, "a second question");
}

#[test]
fn counts_for_a_conversation_no_longer_open_are_dropped() {
    let mut conv = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    conv.push(Speaker::User, "the first conversation's only message");
    let mut app = App::new(start(conv));
    let job = count_jobs(update(&mut app, Event::Tick))
        .into_iter()
        .next()
        .expect("a batch");
    let mut other = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    other.push(Speaker::User, "x");
    app.load_conversation(other, None);
    // Message 1 of the new conversation must not take the old message 1's count.
    let fx = count_jobs(update(&mut app, Event::Msg(Msg::TokensCounted(job.run()))));
    assert_eq!(fx.len(), 1, "the new conversation's message is asked for");
    assert_eq!(fx[0].items[0].1, "x");
    let job = fx.into_iter().next().expect("a batch");
    update(&mut app, Event::Msg(Msg::TokensCounted(job.run())));
    // One message (4 + 1 token), the empty draft (4) and 3 that prime the reply.
    assert_eq!(app.next_request_tokens(), Some(12));
}

#[test]
fn a_sent_draft_gives_its_count_to_its_message() {
    let mut app = App::new(start(Conversation::new("gpt-4o", Mode::Chat, Memory::Full)));
    let fx = update(&mut app, Event::Paste("what is a hamburger?".into()));
    let job = count_jobs(fx).into_iter().next().expect("a job");
    update(&mut app, Event::Msg(Msg::TokensCounted(job.run())));
    let fx = update(&mut app, key(KeyCode::Enter));
    assert_eq!(sends(&fx).len(), 1);
    // Nothing left to count for the next request but the reply (streaming, not counted).
    let asked: Vec<_> = count_jobs(update(&mut app, Event::Tick))
        .into_iter()
        .flat_map(|j| j.items)
        .filter(|(of, _)| matches!(of, CountOf::Message { .. }))
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
}

/// The baseline of a conversation opened at start ("has it changed?") is taken once the
/// first frame is drawn (`start_effects`) or at the first event, whichever comes first: a
/// conversation only read is not written at quit; one changed after that is.
#[test]
fn the_opened_conversation_is_saved_at_quit_only_when_changed() {
    let opened = || {
        let mut c = Conversation::new(MODEL, Mode::Chat, Memory::Full);
        c.push(Speaker::User, "a question");
        let mut s = start(c);
        s.save = SaveTarget {
            autosave: Some(PathBuf::from("/tmp/never-written/x.json")),
            file: None,
        };
        App::new(s)
    };
    let saves = |fx: &[Effect]| {
        fx.iter()
            .filter(|e| matches!(e, Effect::Save { .. }))
            .count()
    };
    // Only read: quit at once, or after the first frame.
    let mut app = opened();
    let fx = update(&mut app, ctrl('q'));
    assert_eq!(saves(&fx), 0, "{fx:?}");
    let mut app = opened();
    app.start_effects();
    let fx = update(&mut app, ctrl('q'));
    assert_eq!(saves(&fx), 0, "{fx:?}");
    // Changed after the first frame: saved.
    let mut app = opened();
    app.start_effects();
    app.conv.title = "renamed".into();
    let fx = update(&mut app, ctrl('q'));
    assert_eq!(saves(&fx), 1, "{fx:?}");
}
