//! Helpers for the tests that drive `update()` directly: no terminal, no network, no disk.

use chat_tui::action::{Msg, TurnId};
use chat_tui::api::{Mode, Outcome, Prompt, Request, Role, StreamEvent};
use chat_tui::app::{App, Event, NoticeKind, SaveTarget, Start};
use chat_tui::chat::conversation::{Conversation, Memory};
use chat_tui::keymap::Keymap;
use chrono::{FixedOffset, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The model of `new_app()`'s conversation.
pub const MODEL: &str = "test-model";

/// What the app starts from: `conv`, the default key map, streaming, no context window.
pub fn start(conv: Conversation) -> Start {
    Start {
        conv,
        keymap: Keymap::default(),
        endpoint: "test".into(),
        context_window: None,
        reply_reserve: None,
        stream: true,
        save: SaveTarget::default(),
        first_run: false,
        prompt_history: Vec::new(),
    }
}

/// An app on an empty chat-mode conversation with `MODEL`.
pub fn new_app() -> App {
    App::new(start(Conversation::new(MODEL, Mode::Chat, Memory::Full)))
}

/// The app the screen snapshots are drawn from: `gpt-4o-mini`, a conversation created at a
/// fixed time and shown in UTC, the tokenizer warmed up as the runtime does at start
/// (`Effect::LoadTokenizer`).
pub fn snapshot_app() -> App {
    let mut conv = Conversation::new("gpt-4o-mini", Mode::Chat, Memory::Full);
    conv.created = Utc.with_ymd_and_hms(2025, 3, 4, 9, 30, 0).unwrap();
    conv.updated = conv.created;
    let mut app = App::new(start(conv));
    app.view
        .get_mut()
        .set_utc_offset(FixedOffset::east_opt(0).expect("offset"));
    app.tokens.counter().warm_up();
    app
}

pub fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn alt(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::ALT))
}

pub fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

/// The status line's notice: its kind and text (panics when there is none).
pub fn notice(app: &App) -> (NoticeKind, String) {
    let n = app.status.notice.as_ref().expect("a notice");
    (n.kind, n.text.clone())
}

/// A chat request's messages as (role, text).
pub fn chat(req: &Request) -> Vec<(Role, String)> {
    match &req.prompt {
        Prompt::Chat(m) => m.iter().map(|w| (w.role, w.content.clone())).collect(),
        Prompt::Completion(p) => panic!("expected a chat prompt, got completion {p:?}"),
    }
}

/// A piece of streamed text for choice `index` of `turn`.
pub fn delta(turn: TurnId, index: u32, text: &str) -> Event {
    Event::Msg(Msg::Stream {
        turn,
        event: StreamEvent::Delta {
            index,
            text: text.into(),
        },
    })
}

/// `turn` ended well.
pub fn done_ok(turn: TurnId) -> Event {
    Event::Msg(Msg::Done {
        turn,
        result: Ok(Outcome::default()),
    })
}

/// A question long enough that three of them overflow a 300-token context window.
pub fn long_turn(i: usize) -> String {
    format!(
        "Turn {i}: {}",
        "the quick brown fox jumps over the lazy dog ".repeat(8)
    )
}
