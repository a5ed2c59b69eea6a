//! Snapshots of the screen and its panels, drawn on ratatui's TestBackend.
//!
//! Message times are pinned (UTC, fixed `created`); the status line's live elapsed time
//! and token rate are redacted.

use chat_tui::action::{Msg, TurnId};
use chat_tui::api::{ApiError, FinishReason, Outcome, StreamEvent, Usage};
use chat_tui::app::{App, Event, update};
use chat_tui::ui::layout;
use chat_tui::ui::panels;
use chat_tui::ui::theme::Theme;
use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use crate::support::update::{key, snapshot_app as new_app};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn send(app: &mut App, text: &str) -> TurnId {
    app.set_draft(text);
    update(app, key(KeyCode::Enter));
    app.turns.first().expect("a request in flight").id
}

fn stream(app: &mut App, turn: TurnId, index: u32, text: &str) {
    update(
        app,
        Event::Msg(Msg::Stream {
            turn,
            event: StreamEvent::Delta {
                index,
                text: text.into(),
            },
        }),
    );
}

fn finish(app: &mut App, turn: TurnId, index: u32, reason: FinishReason) {
    update(
        app,
        Event::Msg(Msg::Stream {
            turn,
            event: StreamEvent::Finish { index, reason },
        }),
    );
}

fn usage(app: &mut App, turn: TurnId, p: u64, c: u64) {
    update(
        app,
        Event::Msg(Msg::Stream {
            turn,
            event: StreamEvent::Usage(Usage {
                prompt_tokens: p,
                completion_tokens: c,
                total_tokens: p + c,
                ..Usage::default()
            }),
        }),
    );
}

fn done(app: &mut App, turn: TurnId, result: Result<Outcome, ApiError>) {
    update(app, Event::Msg(Msg::Done { turn, result }));
}

/// A whole exchange that ends with `stop`.
fn exchange(app: &mut App, prompt: &str, reply: &str) {
    let t = send(app, prompt);
    stream(app, t, 0, reply);
    finish(app, t, 0, FinishReason::Stop);
    done(app, t, Ok(Outcome::default()));
}

/// Pin every time the screen shows.
fn pin_times(app: &mut App) {
    let t = Utc.with_ymd_and_hms(2025, 3, 4, 9, 30, 0).unwrap();
    for m in &mut app.conv.messages {
        m.created = t;
        if m.finished.is_some() {
            m.finished = Some(t);
        }
        m.touch();
    }
}

/// Replace the live numbers after "waiting"/"summarising" (seconds) and before "tok/s".
fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        let mut l = line.to_string();
        for word in ["waiting ", "summarising "] {
            if let Some(i) = l.find(word) {
                let start = i + word.len();
                let rest = &l[start..];
                let len = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(0);
                if len > 0 && rest[len..].starts_with('s') {
                    l.replace_range(start..start + len, &"#".repeat(len));
                }
            }
        }
        if let Some(i) = l.find(" tok/s") {
            let head = &l[..i];
            let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            l.replace_range(i - digits..i, &"#".repeat(digits));
        }
        out.push_str(&l);
    }
    out
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    pin_times(app);
    // What the running app's ticks do before a frame: count the messages not counted yet.
    app.count_pending(std::time::Duration::from_secs(5));
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| layout::draw(f, app, &Theme::default())).unwrap();
    redact(&t.backend().to_string())
}

/// The whole screen at both sizes.
fn snap_screen(name: &str, app: &mut App) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(app, w, h));
    }
}

/// Just the status line at both widths.
fn snap_status(name: &str, app: &mut App) {
    for (w, _) in SIZES {
        let mut t = Terminal::new(TestBackend::new(w, 1)).unwrap();
        t.draw(|f| panels::draw_status(f, Rect::new(0, 0, w, 1), app, &Theme::default()))
            .unwrap();
        insta::assert_snapshot!(
            format!("status_{name}_{w}"),
            redact(&t.backend().to_string())
        );
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn welcome_screen() {
    let mut app = new_app();
    snap_screen("welcome", &mut app);
}

const MARKDOWN_REPLY: &str = "Here is a comparison:\n\n| Language | Typing | Year |\n|---|:---:|---:|\n| Rust | static | 2015 |\n| Python | dynamic | 1991 |\n\nAnd some code:\n\n```rust\nfn main() {\n    let xs = vec![1, 2, 3];\n    println!(\"{}\", xs.iter().sum::<i32>());\n}\n```\n\nThat's **all**.";

#[test]
fn markdown_table_and_code_block() {
    let mut app = new_app();
    exchange(
        &mut app,
        "Compare Rust and Python in a table, then show code.",
        MARKDOWN_REPLY,
    );
    snap_screen("markdown", &mut app);
}

#[test]
fn cjk_text() {
    let mut app = new_app();
    exchange(
        &mut app,
        "海洋污染對哪個地區影響最大？請用繁體中文回答。",
        "海洋污染對**東南亞**沿海地區影響最大，尤其是菲律賓、印尼和越南。這些國家的塑膠廢棄物流入海洋的比例非常高，對漁業和珊瑚礁生態系統造成嚴重損害。日本語も混ぜます：海はきれいです。",
    );
    snap_screen("cjk", &mut app);
}

#[test]
fn cancelled_partial_reply() {
    let mut app = new_app();
    let t = send(&mut app, "Tell me a long story.");
    stream(
        &mut app,
        t,
        0,
        "Once upon a time, in a land far away, there lived",
    );
    update(&mut app, key(KeyCode::Esc));
    snap_screen("cancelled", &mut app);
}

#[test]
fn failed_reply() {
    let mut app = new_app();
    let t = send(&mut app, "Hello?");
    stream(&mut app, t, 0, "Hel");
    done(
        &mut app,
        t,
        Err(ApiError::Http {
            status: 429,
            message: "Rate limit reached for gpt-4o-mini".into(),
            code: Some("rate_limit_exceeded".into()),
            retry_after: None,
            hint: None,
        }),
    );
    snap_screen("failed", &mut app);
    snap_status("error", &mut app);
}

#[test]
fn three_choices_with_the_second_selected() {
    let mut app = new_app();
    app.conv.params.n = Some(3);
    let t = send(&mut app, "Name a colour.");
    for (i, c) in ["Red.", "Green.", "Blue."].iter().enumerate() {
        stream(&mut app, t, i as u32, c);
    }
    finish(&mut app, t, 0, FinishReason::Stop);
    finish(&mut app, t, 1, FinishReason::Stop);
    finish(&mut app, t, 2, FinishReason::Length);
    done(&mut app, t, Ok(Outcome::default()));
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Right, KeyModifiers::ALT)),
    );
    assert_eq!(app.conv.last_reply().unwrap().selected, 1);
    snap_screen("choices", &mut app);
}

#[test]
fn length_reply_shows_the_continue_hint() {
    let mut app = new_app();
    app.conv.params.max_tokens = Some(8);
    let t = send(&mut app, "Write a poem about the sea.");
    stream(&mut app, t, 0, "The sea is wide, the sea is");
    finish(&mut app, t, 0, FinishReason::Length);
    usage(&mut app, t, 14, 8);
    done(&mut app, t, Ok(Outcome::default()));
    snap_screen("length", &mut app);
}

#[test]
fn usage_with_api_count_differing_from_the_local_count() {
    let mut app = new_app();
    exchange(&mut app, "First question", "First answer.");
    let t = send(&mut app, "Second question");
    let local = app.conv.last_reply().unwrap().request_tokens.unwrap();
    stream(&mut app, t, 0, "Second answer.");
    finish(&mut app, t, 0, FinishReason::Stop);
    usage(&mut app, t, local + 1234, 5);
    done(&mut app, t, Ok(Outcome::default()));
    let s = screen(&mut app, 160, 48);
    assert!(s.contains("(local prompt count"), "{s}");
    snap_screen("usage_mismatch", &mut app);
}

#[test]
fn parameters_panel_with_a_value_being_edited() {
    let mut app = new_app();
    for cmd in [
        "/set temperature 0.7",
        "/set max_tokens 256",
        "/set stop [\"END\"]",
        "/system You are terse.",
    ] {
        app.set_draft(cmd);
        update(&mut app, key(KeyCode::Enter));
    }
    exchange(&mut app, "hi", "Hello!");
    update(&mut app, key(KeyCode::F(2)));
    assert!(app.params.shown);
    // model, mode, memory, system, temperature, top_p: edit top_p.
    for _ in 0..5 {
        update(&mut app, key(KeyCode::Down));
    }
    update(&mut app, key(KeyCode::Enter));
    for c in "0.9".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    assert_eq!(app.params.edit.as_deref(), Some("0.9"));
    snap_screen("params_editing", &mut app);
}

#[test]
fn help_overlay() {
    let mut app = new_app();
    exchange(&mut app, "hi", "Hello!");
    update(&mut app, key(KeyCode::F(1)));
    snap_screen("help", &mut app);
}

#[test]
fn status_line_while_waiting_and_streaming() {
    let mut app = new_app();
    let t = send(&mut app, "hi");
    // Live numbers are redacted; pin the clocks so their width is stable too.
    let long_ago = |secs| {
        std::time::Instant::now()
            .checked_sub(std::time::Duration::from_secs(secs))
            .expect("an instant in the past")
    };
    app.turns.first_mut().unwrap().started = long_ago(5);
    snap_status("waiting", &mut app);
    snap_screen("waiting", &mut app);
    stream(&mut app, t, 0, "Hel");
    // 1 delta over 1000 s: "0 tok/s", a single digit.
    app.turns.first_mut().unwrap().first_token = Some(long_ago(1000));
    snap_status("streaming", &mut app);
}

#[test]
fn redaction_replaces_only_the_live_numbers() {
    assert_eq!(
        redact("⠋ waiting 12.3s · test\n"),
        "⠋ waiting ####s · test\n"
    );
    assert_eq!(redact("⠋ streaming 42 tok/s x"), "⠋ streaming ## tok/s x");
    assert_eq!(redact("no numbers here"), "no numbers here");
}

#[test]
fn every_small_size_draws_without_panicking() {
    let mut app = new_app();
    exchange(
        &mut app,
        "海洋污染對哪個地區影響最大？",
        &format!(
            "東南亞。{}\n\n| a | 表 |\n|---|---|\n| 1 | 二 |\n\n```rust\nfn x() {{}}\n```",
            "x".repeat(500)
        ),
    );
    app.conv.params.n = Some(2);
    let t = send(&mut app, &"長".repeat(300));
    stream(&mut app, t, 1, &"y".repeat(400));
    app.set_draft(&format!("draft {}\n第二行", "z".repeat(200)));
    let sizes = (1..=60)
        .flat_map(|w| (1..=20).map(move |h| (w, h)))
        .chain([(200, 3), (3, 200)]);
    for (w, h) in sizes {
        for variant in 0..3 {
            app.params.shown = variant >= 1;
            app.overlay = (variant == 2).then_some(chat_tui::app::Overlay::Help { scroll: 3 });
            let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
            term.draw(|f| layout::draw(f, &app, &Theme::default()))
                .unwrap_or_else(|e| panic!("{w}x{h} variant {variant}: {e}"));
        }
    }
}

#[test]
fn the_selected_message_is_highlighted_when_the_conversation_has_focus() {
    let mut app = new_app();
    exchange(&mut app, "first question", "first answer");
    exchange(&mut app, "second question", "second answer");
    let draw = |app: &mut App| {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| layout::draw(f, app, &Theme::default())).unwrap();
        t.backend().buffer().clone()
    };
    let reversed_rows = |buf: &ratatui::buffer::Buffer| -> Vec<String> {
        (0..buf.area.height)
            .filter(|&y| {
                // (Column 1 is the pane's margin.)
                (2..10).all(|x| {
                    buf[(x, y)]
                        .modifier
                        .contains(ratatui::style::Modifier::REVERSED)
                })
            })
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect()
    };
    assert!(reversed_rows(&draw(&mut app)).is_empty(), "input focused");
    // Tab selects the last message (the second answer); Up the second question.
    update(&mut app, key(KeyCode::Tab));
    update(&mut app, key(KeyCode::Up));
    let rows = reversed_rows(&draw(&mut app));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("You · "), "{rows:?}");
    // It is the second question's header: the row after it holds its text.
    let buf = draw(&mut app);
    let y = (0..buf.area.height)
        .find(|&y| {
            buf[(2, y)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
        })
        .expect("a highlighted row");
    let next: String = (0..buf.area.width)
        .map(|x| buf[(x, y + 1)].symbol())
        .collect();
    assert!(next.contains("second question"), "{next}");
}

// ---- versions and branches ----

/// Pin the times of every message, on the path or off it.
fn pin_all_times(app: &mut App) {
    let t = Utc.with_ymd_and_hms(2025, 3, 4, 9, 30, 0).unwrap();
    for m in app
        .conv
        .messages
        .iter_mut()
        .chain(app.conv.others.iter_mut())
    {
        m.created = t;
        m.finished = m.finished.map(|_| t);
        m.touch();
    }
}

/// A reply with two versions, then an edited question (a branch) after it.
fn versions_and_branches_app() -> App {
    let mut app = new_app();
    exchange(&mut app, "Name a colour.", "Teal.");
    app.set_draft("/retry");
    update(&mut app, key(KeyCode::Enter));
    let t = app.turns.first().expect("the retry").id;
    stream(&mut app, t, 0, "Ochre.");
    finish(&mut app, t, 0, FinishReason::Stop);
    done(&mut app, t, Ok(Outcome::default()));
    exchange(&mut app, "Why?", "It is warm.");
    app.set_draft("/edit");
    update(&mut app, key(KeyCode::Enter));
    app.set_draft("Why not blue?");
    update(&mut app, key(KeyCode::Enter));
    let t = app.turns.first().expect("the edit").id;
    stream(&mut app, t, 0, "Blue is taken.");
    finish(&mut app, t, 0, FinishReason::Stop);
    done(&mut app, t, Ok(Outcome::default()));
    app.status.notice = None;
    pin_all_times(&mut app);
    app
}

#[test]
fn versions_and_branches() {
    let mut app = versions_and_branches_app();
    snap_screen("versions_branches", &mut app);
}

#[test]
fn branches_panel() {
    let mut app = versions_and_branches_app();
    app.set_draft("/branches");
    update(&mut app, key(KeyCode::Enter));
    snap_screen("branches_panel", &mut app);
}

#[test]
fn compare_panel_while_streaming() {
    let mut app = new_app();
    exchange(&mut app, "Say hi.", "Hi!");
    app.set_draft("/compare gpt-4o o3-mini");
    update(&mut app, key(KeyCode::Enter));
    let turns: Vec<TurnId> = app.turns.iter().map(|t| t.id).collect();
    assert_eq!(turns.len(), 2);
    stream(&mut app, turns[0], 0, "Hello there, **friend**.");
    finish(&mut app, turns[0], 0, FinishReason::Stop);
    done(&mut app, turns[0], Ok(Outcome::default()));
    stream(&mut app, turns[1], 0, "Hey");
    // 1 delta over 1000 s: "0 tok/s", a single digit (the rate's width is stable).
    let long_ago = std::time::Instant::now()
        .checked_sub(std::time::Duration::from_secs(1000))
        .expect("an instant in the past");
    let streaming = app.turns.first_mut().expect("o3-mini still streams");
    assert_eq!(streaming.id, turns[1]);
    streaming.first_token = Some(long_ago);
    pin_all_times(&mut app);
    snap_screen("compare_panel", &mut app);
}

/// Bytes written to a terminal, readable while the terminal holds its writer.
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Each row of `buf` as text (a wide character once).
fn buffer_rows(buf: &ratatui::buffer::Buffer) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let a = buf.area;
    (a.top()..a.bottom())
        .map(|y| {
            let mut row = String::new();
            let mut x = a.left();
            while x < a.right() {
                let s = buf[(x, y)].symbol();
                row.push_str(s);
                x += s.width().max(1) as u16;
            }
            row
        })
        .collect()
}

/// Each row the terminal emulator `p` shows, as text (a wide character once).
fn terminal_rows(p: &vt100::Parser, w: u16, h: u16) -> Vec<String> {
    let s = p.screen();
    (0..h)
        .map(|y| {
            let mut row = String::new();
            for x in 0..w {
                match s.cell(y, x) {
                    Some(c) if c.is_wide_continuation() => {}
                    Some(c) if !c.contents().is_empty() => row.push_str(c.contents()),
                    _ => row.push(' '),
                }
            }
            row
        })
        .collect()
}

/// The frame loop's drawing (`layout::draw_frame` over the buffer the terminal kept, its
/// panel cache, `terminal::draw_kept` and the screen backend) after every step of random
/// changes to what the panes and panels show — a reply streamed in Markdown, keys typed,
/// usage and finish events, the parameters panel, the help overlay, the focus, ticks, a
/// cleared screen — gives exactly the frame a fresh draw gives (a new view, a reset buffer),
/// cell for cell; and a terminal emulator fed the bytes written shows it. (The status
/// line's live numbers are compared redacted: the two frames are drawn moments apart.)
#[test]
fn frames_over_the_kept_buffer_equal_fresh_frames() {
    use chat_tui::runtime::backend::ScreenBackend;
    use chat_tui::runtime::terminal::draw_kept;

    let pieces = [
        "word ",
        "more text ",
        "\n\n",
        "\n",
        "- item ",
        "1. first ",
        "> quoted ",
        "```rust\nfn main() {}\n",
        "```\n",
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        "# Heading\n",
        "`code` ",
        "**bold** ",
        "日本語 ",
        "🙂 ",
    ];
    let theme = Theme::default();
    for (w, h) in SIZES {
        let mut app = new_app();
        let sink = Sink::default();
        let mut term = Terminal::new(ScreenBackend::with_size(sink.clone(), w, h)).unwrap();
        term.clear().unwrap();
        let mut cache = layout::FrameCache::default();
        let nz = |v| std::num::NonZeroU16::new(v).unwrap();
        let mut emulator = vt100::Parser::new(nz(h), nz(w), 0);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(w);
        let mut below = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut turn: Option<TurnId> = None;
        let (mut kept_frames, mut clean_frames, mut n_moved) = (0, 0, 0);
        for step in 0..250 {
            match below(20) {
                0..=8 => {
                    // A reply cancelled (Esc) is over.
                    turn = turn.filter(|_| !app.turns.is_empty());
                    let t = match turn {
                        Some(t) => t,
                        None => {
                            app.focus = chat_tui::app::Focus::Input;
                            app.set_draft("go");
                            update(&mut app, key(KeyCode::Enter));
                            let Some(t) = app.turns.first().map(|t| t.id) else {
                                continue;
                            };
                            turn = Some(t);
                            t
                        }
                    };
                    let p = pieces[below(pieces.len() as u64) as usize];
                    stream(&mut app, t, 0, p);
                }
                9 | 10 => {
                    let c = (b'a' + below(26) as u8) as char;
                    update(&mut app, key(KeyCode::Char(c)));
                }
                11 => {
                    if let Some(t) = turn {
                        usage(&mut app, t, below(5000), below(5000));
                    }
                }
                12 => {
                    if let Some(t) = turn.take() {
                        finish(&mut app, t, 0, FinishReason::Stop);
                        done(&mut app, t, Ok(chat_tui::api::Outcome::default()));
                    }
                }
                13 => {
                    update(&mut app, key(KeyCode::F(2)));
                }
                14 => {
                    update(&mut app, key(KeyCode::F(1)));
                }
                15 => {
                    update(&mut app, key(KeyCode::Esc));
                }
                16 => {
                    update(&mut app, key(KeyCode::Tab));
                }
                17 => {
                    update(&mut app, key(KeyCode::Backspace));
                }
                18 if below(4) == 0 => term.clear().unwrap(),
                _ => {
                    update(&mut app, Event::Tick);
                }
            }
            // The rate's width stays put (see `compare_panel_while_streaming`).
            if let Some(t) = app.turns.first_mut().filter(|t| t.first_token.is_some()) {
                t.first_token =
                    std::time::Instant::now().checked_sub(std::time::Duration::from_secs(1000));
            }
            let before = sink.0.lock().unwrap().len();
            let mut was_kept = false;
            let mut n_clean = 0;
            draw_kept(&mut term, |f, kept| {
                was_kept = kept;
                let (clean, moved) = layout::draw_frame(f, &app, &theme, &mut cache, kept);
                n_clean = clean.len();
                n_moved += usize::from(moved.is_some());
                (clean, moved)
            })
            .unwrap();
            kept_frames += usize::from(was_kept);
            clean_frames += usize::from(n_clean > 0);
            let drawn = term.current_buffer_mut().clone();
            // The same state drawn fresh: a blank buffer, everything drawn. (With the same
            // view: a new one would estimate the heights of messages it has not laid out,
            // and its scrollbar differ. Drawing the same state twice leaves the view as it
            // was.)
            let mut fresh = Terminal::new(TestBackend::new(w, h)).unwrap();
            fresh.draw(|f| layout::draw(f, &app, &theme)).unwrap();
            let want = fresh.backend().buffer().clone();
            let last = usize::from(h) - 1;
            for y in 0..usize::from(h) {
                let row = |b: &ratatui::buffer::Buffer| {
                    let a = b.area;
                    (a.left()..a.right())
                        .map(|x| b[(x, y as u16)].clone())
                        .collect::<Vec<_>>()
                };
                if y == last {
                    assert_eq!(
                        redact(&buffer_rows(&drawn)[y]),
                        redact(&buffer_rows(&want)[y]),
                        "{w}x{h}, step {step}: the status line"
                    );
                } else {
                    let (a, b) = (row(&drawn), row(&want));
                    if let Some(x) = (0..a.len()).find(|&x| a[x] != b[x]) {
                        panic!(
                            "{w}x{h}, step {step}: row {y} column {x}: {:?} drawn, {:?} fresh\n{}\n{}",
                            a[x],
                            b[x],
                            buffer_rows(&drawn)[y],
                            buffer_rows(&want)[y]
                        );
                    }
                }
            }
            emulator.process(&sink.0.lock().unwrap()[before..]);
            assert_eq!(
                terminal_rows(&emulator, w, h),
                buffer_rows(&drawn),
                "{w}x{h}, step {step}: the terminal"
            );
        }
        // The steps did exercise the kept buffer and the panels left as they were.
        assert!(kept_frames > 120, "{w}x{h}: {kept_frames} kept frames");
        assert!(
            clean_frames > 60,
            "{w}x{h}: {clean_frames} frames with clean areas"
        );
        assert!(n_moved > 10, "{w}x{h}: {n_moved} frames with rows scrolled");
    }
}
