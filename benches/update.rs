//! The cost of `update()` (and one frame) for what a user does while the app is busy with
//! something big: typing in the sessions filter with 10,000 saved conversations listed.
//! The search itself runs as an effect, off the UI path (see `benches/store.rs` for it).
//!
//! Run: `cargo bench --bench update -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::path::PathBuf;

use chat_tui::action::Msg;
use chat_tui::api::Mode;
use chat_tui::app::{App, Event, SaveTarget, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory};
use chat_tui::keymap::Keymap;
use chat_tui::store::library::Entry;
use chat_tui::ui::layout;
use chat_tui::ui::theme::Theme;
use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app_with_sessions(n: usize) -> App {
    let mut app = App::new(Start {
        conv: Conversation::new("gpt-4o", Mode::Chat, Memory::Full),
        keymap: Keymap::default(),
        endpoint: "bench".into(),
        context_window: None,
        reply_reserve: None,
        stream: true,
        save: SaveTarget {
            autosave: Some(PathBuf::from("/dev/null/lib/x.json")),
            file: None,
        },
        first_run: false,
        prompt_history: Vec::new(),
    });
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL)),
    );
    let now = chrono::Utc::now();
    let entries: Vec<Entry> = (0..n)
        .map(|i| Entry {
            id: format!("{i:08}"),
            path: PathBuf::from(format!("/dev/null/lib/{i:08}.json")),
            title: format!("Conversation number {i} about something"),
            created: now,
            updated: now,
            model: "gpt-4o".into(),
            messages: 12,
            first_line: "What is the capital of …".into(),
            bytes: 10_000,
            broken: None,
            snippet: None,
        })
        .collect();
    update(
        &mut app,
        Event::Msg(Msg::SessionsListed {
            generation: 1,
            result: Ok(entries),
            partial: false,
        }),
    );
    app
}

fn bench(c: &mut Criterion) {
    let mut app = app_with_sessions(10_000);
    let key = |c| Event::Key(KeyEvent::new(c, KeyModifiers::NONE));
    c.bench_function("sessions/filter_keystroke_update_10k", |b| {
        b.iter(|| {
            black_box(update(&mut app, key(KeyCode::Char('a'))));
            black_box(update(&mut app, key(KeyCode::Backspace)));
        })
    });
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let theme = Theme::default();
    c.bench_function("sessions/filter_keystroke_update_and_frame_10k", |b| {
        b.iter(|| {
            black_box(update(&mut app, key(KeyCode::Char('a'))));
            term.draw(|f| layout::draw(f, &app, &theme)).expect("draw");
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
