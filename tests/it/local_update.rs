//! The local model through `update()`: the effects asked for, the state and what the user
//! is told, for every message the job can send. No process, no network.

use chat_tui::action::{Effect, LocalEvent, Msg, TurnId};
use chat_tui::api::{ApiError, Mode, StreamEvent};
use chat_tui::app::local::Phase;
use chat_tui::app::{App, Event, NoticeKind, Overlay, SaveTarget, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use chat_tui::local::server::Exit;
use chat_tui::local::{Bytes, Failure, LocalError, Package, Progress, ServerInfo, Step};
use crossterm::event::KeyCode;

use crate::support::update::{key, notice, start};

fn app(first_run: bool) -> App {
    App::new(Start {
        endpoint: "api.openai.com".into(),
        // Only a path: update() does no I/O, it asks for saves.
        save: SaveTarget {
            autosave: Some("/nonexistent/library/conversation.json".into()),
            file: None,
        },
        first_run,
        ..start(Conversation::new("gpt-4o-mini", Mode::Chat, Memory::Full))
    })
}

fn local(job: u64, event: LocalEvent) -> Event {
    Event::Msg(Msg::Local { job, event })
}

fn info(port: u16) -> ServerInfo {
    ServerInfo {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        port,
        model: "smollm2".into(),
        context: Some(4096),
        pid: 4242,
        port_note: None,
    }
}

/// `--local`: the start effects start job 1.
fn started() -> App {
    let mut a = app(false);
    a.local.autostart = true;
    let fx = a.start_effects();
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LocalStart { job: 1, .. })),
        "{fx:?}"
    );
    assert!(a.local.is_working());
    a
}

fn running() -> App {
    let mut a = started();
    update(&mut a, local(1, LocalEvent::Ready(info(40001))));
    a
}

fn send(a: &mut App, text: &str) -> TurnId {
    for c in text.chars() {
        update(a, key(KeyCode::Char(c)));
    }
    let fx = update(a, key(KeyCode::Enter));
    fx.iter()
        .find_map(|e| match e {
            Effect::Send { turn, .. } => Some(*turn),
            _ => None,
        })
        .expect("a Send")
}

#[test]
fn progress_then_ready_points_the_conversation_at_the_server() {
    let mut a = started();
    let plan = vec![
        Step::Python,
        Step::Venv,
        Step::Install(Package::Server),
        Step::Install(Package::Model),
        Step::Start,
    ];
    update(&mut a, local(1, LocalEvent::Progress(Progress::Plan(plan))));
    update(
        &mut a,
        local(
            1,
            LocalEvent::Progress(Progress::Step(Step::Install(Package::Server))),
        ),
    );
    update(
        &mut a,
        local(
            1,
            LocalEvent::Progress(Progress::Bytes(Bytes {
                done: 5_000_000,
                total: Some(33_800_000),
            })),
        ),
    );
    update(
        &mut a,
        local(
            1,
            LocalEvent::Progress(Progress::Line("Downloading x".into())),
        ),
    );
    let Phase::Working(w) = &a.local.phase else {
        panic!("working")
    };
    assert_eq!(w.position(), Some((3, 5)));
    assert_eq!(w.line.as_deref(), Some("Downloading x"));
    assert_eq!(w.bytes.map(|b| b.done), Some(5_000_000));

    let fx = update(&mut a, local(1, LocalEvent::Ready(info(40001))));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::UseLocalServer { base_url } if base_url == "http://127.0.0.1:40001/v1")),
        "{fx:?}"
    );
    assert_eq!(a.conv.model, "smollm2");
    assert_eq!(a.conn.endpoint, "local");
    assert_eq!(a.conv.endpoint.as_deref(), Some("local"));
    assert_eq!(a.tokens.learned_window, Some(4096));
    assert_eq!(a.budget().map(|b| b.context_window), Some(4096));
    assert!(a.local.running().is_some());
    assert_eq!(
        notice(&a),
        (
            NoticeKind::Info,
            "local model smollm2 ready at 127.0.0.1:40001".into()
        )
    );
}

#[test]
fn esc_cancels_the_install_and_later_news_of_that_job_is_dropped() {
    let mut a = started();
    let fx = update(&mut a, key(KeyCode::Esc));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LocalCancel { job: 1 })),
        "{fx:?}"
    );
    assert!(matches!(a.local.phase, Phase::Off));
    assert!(notice(&a).1.contains("cancelled"), "{:?}", notice(&a));
    // The cancelled job's last words change nothing.
    update(&mut a, local(1, LocalEvent::Ready(info(40001))));
    assert!(matches!(a.local.phase, Phase::Off));
    assert_eq!(a.conv.model, "gpt-4o-mini");
    // Starting again is a new job.
    let fx = update(&mut a, Event::Action(chat_tui::action::Action::StartLocal));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LocalStart { job: 2, .. })),
        "{fx:?}"
    );
}

#[test]
fn a_message_typed_while_it_installs_is_not_sent_and_stays() {
    let mut a = started();
    for c in "hello".chars() {
        update(&mut a, key(KeyCode::Char(c)));
    }
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Send { .. })),
        "{fx:?}"
    );
    assert_eq!(a.draft_text(), "hello");
    assert!(a.conv.messages.is_empty());
    assert_eq!(notice(&a).0, NoticeKind::Warning);
    // Commands still work.
    a.set_draft("/local status");
    update(&mut a, key(KeyCode::Enter));
    assert!(notice(&a).1.starts_with("local model:"), "{:?}", notice(&a));
}

#[test]
fn a_failure_is_shown_with_its_lines_and_esc_puts_it_away() {
    let mut a = started();
    let f = Failure {
        error: LocalError::ModelLoad(
            "gguf_init_from_reader: failed to read key-value pairs".into(),
        ),
        lines: vec!["load_model: failed to load model".into()],
    };
    update(&mut a, local(1, LocalEvent::Failed(f)));
    let Phase::Failed(failed) = &a.local.phase else {
        panic!("failed")
    };
    assert_eq!(
        failed.error,
        "the model failed to load: gguf_init_from_reader: failed to read key-value pairs"
    );
    assert_eq!(failed.lines.len(), 1);
    assert_eq!(notice(&a).0, NoticeKind::Error);
    // The app goes on: a key types.
    update(&mut a, key(KeyCode::Char('x')));
    assert_eq!(a.draft_text(), "x");
    update(&mut a, key(KeyCode::Esc));
    assert!(matches!(a.local.phase, Phase::Off));
}

#[test]
fn nothing_found_at_first_run_offers_the_local_model_and_l_starts_it() {
    let mut a = app(true);
    update(&mut a, Event::Msg(Msg::LocalServer(None)));
    assert_eq!(a.overlay, Some(Overlay::LocalModel { restart: false }));
    assert!(a.local.probed_none);
    let fx = update(&mut a, key(KeyCode::Char('L')));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LocalStart { job: 1, .. })),
        "{fx:?}"
    );
    assert_eq!(a.overlay, None);
    assert!(!a.conn.first_run);

    // Any other key declines, and says how to get one later.
    let mut b = app(true);
    update(&mut b, Event::Msg(Msg::LocalServer(None)));
    let fx = update(&mut b, key(KeyCode::Char('x')));
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(b.overlay, None);
    assert!(notice(&b).1.contains("/local"), "{:?}", notice(&b));
    assert!(matches!(b.local.phase, Phase::Off));
}

#[test]
fn the_server_dying_mid_reply_fails_the_reply_and_offers_a_restart() {
    let mut a = running();
    let turn = send(&mut a, "count to a thousand");
    update(
        &mut a,
        Event::Msg(Msg::Stream {
            turn,
            event: StreamEvent::Delta {
                index: 0,
                text: "1, 2, 3".into(),
            },
        }),
    );
    let exit = Exit {
        status: "killed by SIGKILL".into(),
        lines: vec![],
    };
    let fx = update(&mut a, local(1, LocalEvent::Exited(exit)));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Cancel { turn: t } if *t == turn)),
        "{fx:?}"
    );
    assert!(
        fx.iter().any(|e| matches!(e, Effect::Save { .. })),
        "{fx:?}"
    );
    assert!(a.turns.is_empty());
    let reply = a.conv.messages.last().unwrap();
    assert_eq!(reply.speaker, Speaker::Assistant);
    assert_eq!(reply.text(), "1, 2, 3", "the text so far is kept");
    assert_eq!(
        reply.status,
        Status::Failed {
            error: "the local server stopped (killed by SIGKILL)".into()
        }
    );
    assert_eq!(a.overlay, Some(Overlay::LocalModel { restart: true }));
    // A late error for the cancelled turn changes nothing.
    update(
        &mut a,
        Event::Msg(Msg::Done {
            turn,
            result: Err(ApiError::Incomplete),
        }),
    );
    assert!(matches!(
        a.conv.messages.last().unwrap().status,
        Status::Failed { .. }
    ));
    let fx = update(&mut a, key(KeyCode::Char('l')));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LocalStart { job: 2, .. })),
        "{fx:?}"
    );
}

#[test]
fn when_the_error_comes_first_the_servers_exit_still_says_why() {
    let mut a = running();
    let turn = send(&mut a, "hi");
    update(
        &mut a,
        Event::Msg(Msg::Done {
            turn,
            result: Err(ApiError::Incomplete),
        }),
    );
    assert_eq!(a.conv.messages.last().unwrap().status, Status::Incomplete);
    let exit = Exit {
        status: "exit status 1".into(),
        lines: vec!["ggml_abort: out of memory".into()],
    };
    update(&mut a, local(1, LocalEvent::Exited(exit)));
    assert_eq!(
        a.conv.messages.last().unwrap().status,
        Status::Failed {
            error: "the local server stopped (exit status 1): ggml_abort: out of memory".into()
        }
    );
}

#[test]
fn local_commands_stop_restart_and_describe() {
    let mut a = running();
    a.set_draft("/local status");
    update(&mut a, key(KeyCode::Enter));
    let (_, text) = notice(&a);
    assert!(
        text.contains("smollm2 at http://127.0.0.1:40001/v1 (pid 4242, context 4096)"),
        "{text}"
    );
    a.set_draft("/local restart");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::LocalStop { job: 1 })),
        "{fx:?}"
    );
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::LocalStart { job: 2, .. })),
        "{fx:?}"
    );
    update(&mut a, local(2, LocalEvent::Ready(info(40002))));
    a.set_draft("/local stop");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::LocalStop { job: 2 })),
        "{fx:?}"
    );
    assert!(matches!(a.local.phase, Phase::Off));
    // A stopped server's exit is not a death.
    update(&mut a, local(2, LocalEvent::Stopped));
    assert_eq!(a.overlay, None);
    a.set_draft("/local stop");
    update(&mut a, key(KeyCode::Enter));
    assert_eq!(notice(&a).1, "the local model is not running");
    // A message now goes nowhere else (not to the configured server): it waits.
    a.set_draft("hello");
    let fx = update(&mut a, key(KeyCode::Enter));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Send { .. })),
        "{fx:?}"
    );
    assert_eq!(a.draft_text(), "hello");
    assert!(
        notice(&a).1.contains("/local starts it"),
        "{:?}",
        notice(&a)
    );
}
