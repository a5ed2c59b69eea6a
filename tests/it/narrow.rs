//! What was found trying chat-tui at 80x24, the most common terminal size: the sessions
//! list with CJK titles and its title line, a notice against the key hints, the tokens
//! panel's first line, a quote against the pane border, the first-run probe's result.
//! Drawn on ratatui's TestBackend.

use std::path::PathBuf;

use chat_tui::action::Msg;
use chat_tui::api::{FinishReason, Mode, Outcome, StreamEvent, Usage};
use chat_tui::app::{App, Event, NoticeKind, Overlay, SessionsPane, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory};
use chat_tui::store::library::Entry;
use chat_tui::ui::layout;
use chat_tui::ui::theme::Theme;
use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use unicode_width::UnicodeWidthStr;

use crate::support::update::start;

fn app_with(first_run: bool) -> App {
    let app = App::new(Start {
        first_run,
        ..start(Conversation::new("gpt-4o-mini", Mode::Chat, Memory::Full))
    });
    app.tokens.counter().warm_up();
    app
}

fn rows(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| layout::draw(f, app, &Theme::default())).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            let mut s = String::new();
            let mut x = 0;
            while x < w {
                let sym = buf[(x, y)].symbol();
                s.push_str(sym);
                // A wide character's second cell holds nothing of its own.
                x += sym.width().max(1) as u16;
            }
            s
        })
        .collect()
}

fn exchange(app: &mut App, prompt: &str, reply: &str, usage: Option<(u64, u64)>) {
    app.set_draft(prompt);
    update(
        app,
        Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let turn = app.turns.first().unwrap().id;
    let mut events = vec![
        StreamEvent::Delta {
            index: 0,
            text: reply.into(),
        },
        StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Stop,
        },
    ];
    if let Some((p, c)) = usage {
        events.push(StreamEvent::Usage(Usage {
            prompt_tokens: p,
            completion_tokens: c,
            total_tokens: p + c,
            ..Usage::default()
        }));
    }
    for event in events {
        update(app, Event::Msg(Msg::Stream { turn, event }));
    }
    update(
        app,
        Event::Msg(Msg::Done {
            turn,
            result: Ok(Outcome::default()),
        }),
    );
}

fn entry(title: &str, model: &str) -> Entry {
    let t = Utc.with_ymd_and_hms(2025, 3, 4, 9, 30, 0).unwrap();
    Entry {
        id: title.chars().filter(char::is_ascii_alphanumeric).collect(),
        path: PathBuf::from("/tmp/x.json"),
        title: title.into(),
        created: t,
        updated: t,
        model: model.into(),
        messages: 4,
        first_line: "the first line".into(),
        bytes: 100,
        broken: None,
        snippet: None,
    }
}

#[test]
fn sessions_rows_align_by_display_width_and_the_title_line_fits() {
    let mut app = app_with(false);
    let mut pane = SessionsPane::new(PathBuf::from("/tmp"));
    pane.entries = vec![
        entry("A plain English title", "gpt-4o-mini"),
        entry("海洋污染對哪個地區影響最大", "gpt-4o-mini"),
        entry(
            "混ぜ mixed 日本語 and a title far too long to fit the column",
            "gpt-4o-mini",
        ),
        entry("한국어 제목", "gpt-4o-mini"),
    ];
    app.overlay = Some(Overlay::Sessions(pane));
    let screen = rows(&app, 80, 24);
    // The model column starts at the same display column on every row.
    let starts: Vec<usize> = screen
        .iter()
        .filter(|r| r.starts_with("│2025-"))
        .filter_map(|r| r.find("gpt-4o-mini").map(|i| r[..i].width()))
        .collect();
    assert_eq!(starts.len(), 4, "{screen:#?}");
    assert!(
        starts.iter().all(|s| *s == starts[0]),
        "{starts:?}\n{screen:#?}"
    );
    // The panel's title line is whole: its keys end before the corner.
    let top = screen
        .iter()
        .find(|r| r.contains("conversations"))
        .expect("the panel's title");
    assert!(top.contains("close ─"), "{top}");
    assert!(top.contains("open"), "{top}");
    // The long title is cut with an ellipsis, within its column.
    assert!(screen.iter().any(|r| r.contains("…")), "{screen:#?}");
}

#[test]
fn at_80_columns_a_notice_wins_over_the_key_hints() {
    let mut app = app_with(false);
    app.notify(
        NoticeKind::Error,
        "temperature must be between 0 and 2 (got 3.5)",
    );
    let screen = rows(&app, 80, 24);
    let status = screen.last().unwrap();
    assert!(
        status.contains("temperature must be between 0 and 2 (got 3.5)"),
        "{status}"
    );
    // A notice too long for the line leaves no room for any hint.
    app.notify(NoticeKind::Error, "x".repeat(70));
    let status = rows(&app, 80, 24).pop().unwrap();
    assert!(status.contains(&"x".repeat(70)), "{status}");
    assert!(!status.contains("help"), "{status}");
    // Without a notice, the hints are there.
    app.status.notice = None;
    let status = rows(&app, 80, 24).pop().unwrap();
    assert!(status.contains("F1 help"), "{status}");
}

#[test]
fn the_tokens_panel_abbreviates_its_first_line_instead_of_cutting_it() {
    let mut app = app_with(false);
    exchange(&mut app, "a question", "an answer", Some((123_456, 7_890)));
    app.conv.messages.last_mut().unwrap().request_tokens = Some(120_000);
    for w in [80u16, 100, 120, 160] {
        let screen = rows(&app, w, 24);
        let line = screen
            .iter()
            // The panel's first line (its title names the last reply's cost too).
            .find(|r| r.contains("││last "))
            .expect("the tokens panel");
        let inner = line.rsplit("││").next().unwrap().trim_end_matches('│');
        // Whatever the width, the numbers are whole and the line is not cut mid-word.
        assert!(inner.contains("131,346"), "{w}: {inner}");
        assert!(!inner.trim_end().ends_with("(lo"), "{w}: {inner}");
        assert!(
            !inner.contains('(') || inner.contains(')'),
            "{w}: an unclosed parenthesis: {inner}"
        );
    }
    let wide = rows(&app, 200, 24);
    assert!(
        wide.iter().any(|r| r.contains(
            "prompt 123,456 · completion 7,890 · total 131,346 (local prompt count 120,000)"
        )),
        "{wide:#?}"
    );
}

#[test]
fn a_quote_and_a_table_are_not_drawn_against_the_pane_border() {
    let mut app = app_with(false);
    exchange(
        &mut app,
        "quote me",
        "> a quoted line\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        None,
    );
    let screen = rows(&app, 80, 24);
    let quote = screen.iter().find(|r| r.contains("a quoted line")).unwrap();
    assert!(quote.starts_with("│ │ a quoted line"), "{quote}");
    assert!(!screen.iter().any(|r| r.starts_with("││")), "{screen:#?}");
}

#[test]
fn the_first_run_probe_ends_with_a_result_on_screen() {
    let mut app = app_with(true);
    let looking = rows(&app, 80, 24).join("\n");
    assert!(looking.contains("Looking for Ollama"), "{looking}");
    update(&mut app, Event::Msg(Msg::LocalServer(None)));
    let done = rows(&app, 80, 24).join("\n");
    assert!(done.contains("No local server found"), "{done}");
    assert!(!done.contains("Looking for"), "{done}");
    let mut app = app_with(true);
    update(
        &mut app,
        Event::Msg(Msg::LocalServer(Some((
            "llama.cpp".into(),
            "http://127.0.0.1:8080/v1".into(),
        )))),
    );
    // The offer is on top; under it, the welcome text says what was found.
    app.overlay = None;
    let found = rows(&app, 80, 24).join("\n");
    assert!(
        found.contains("Found llama.cpp at http://127.0.0.1:8080/v1."),
        "{found}"
    );
}
