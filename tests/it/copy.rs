//! Copying text out: `/copy`, `y` / `Y`, the mouse selection and the clipboard effect.
//!
//! The first half drives `update()` (no terminal: the screen is drawn on ratatui's
//! TestBackend so the conversation pane knows what each row shows); the second runs the real
//! binary in a pseudo-terminal and decodes the OSC 52 sequences it writes.

use crate::support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chat_tui::action::{Effect, Msg};
use chat_tui::api::Mode;
use chat_tui::app::{App, Event, Focus, NoticeKind, update};
use chat_tui::chat::conversation::{Choice, Conversation, Memory, Speaker};
use chat_tui::ui::layout;
use chat_tui::ui::theme::Theme;
use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::update::{key, notice, start};

const REPLY: &str = "Here is the plan, in words long enough to wrap around the pane at eighty columns wide.\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\n\nAnd a second block:\n\n```sh\necho second\n```";

fn conversation() -> Conversation {
    let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
    c.push(Speaker::User, "How do I print?");
    let id = c.push(Speaker::Assistant, "");
    if let Some(m) = c.get_mut(id) {
        m.choices = vec![Choice {
            text: REPLY.into(),
            finish_reason: None,
            ..Choice::default()
        }];
    }
    c.push(Speaker::User, "And in Python?");
    let id = c.push(Speaker::Assistant, "");
    if let Some(m) = c.get_mut(id) {
        m.choices = vec![
            Choice {
                text: "Use `print`:\n\n```python\nprint(\"hi\")\n```".into(),
                finish_reason: None,
                ..Choice::default()
            },
            Choice {
                text: "The second choice.".into(),
                finish_reason: None,
                ..Choice::default()
            },
        ];
    }
    c
}

fn app_with(conv: Conversation) -> App {
    App::new(start(conv))
}

/// Enter on `line`: the effects, less the background token counts (`Effect::CountTokens`).
fn command(app: &mut App, line: &str) -> Vec<Effect> {
    app.set_draft(line);
    update(app, key(KeyCode::Enter))
        .into_iter()
        .filter(|e| !matches!(e, Effect::CountTokens(_)))
        .collect()
}

/// The one Copy among `fx`: (text, what).
fn copied(fx: &[Effect]) -> (String, String) {
    let c: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Copy { text, what } => Some((text.clone(), what.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(c.len(), 1, "expected one Copy in {fx:?}");
    c.into_iter().next().unwrap_or_default()
}

#[test]
fn slash_copy_copies_the_selected_choice_of_the_last_reply() {
    let mut app = app_with(conversation());
    let (text, what) = copied(&command(&mut app, "/copy"));
    assert_eq!(text, "Use `print`:\n\n```python\nprint(\"hi\")\n```");
    assert_eq!(what, "reply 2, choice 1");
    // The other choice, once selected.
    app.conv.messages[3].selected = 1;
    let (text, what) = copied(&command(&mut app, "/copy"));
    assert_eq!(
        (text.as_str(), what.as_str()),
        ("The second choice.", "reply 2, choice 2")
    );
}

#[test]
fn slash_copy_n_copies_code_block_n_without_fences() {
    let mut app = app_with(conversation());
    let (text, what) = copied(&command(&mut app, "/copy 1"));
    assert_eq!(text, "fn main() {\n    println!(\"hi\");\n}");
    assert_eq!(what, "code block 1, reply 1");
    let (text, _) = copied(&command(&mut app, "/copy 2"));
    assert_eq!(text, "echo second");
    let (text, what) = copied(&command(&mut app, "/copy 3"));
    assert_eq!(
        (text.as_str(), what.as_str()),
        ("print(\"hi\")", "code block 3, reply 2, choice 1")
    );
}

#[test]
fn slash_copy_n_out_of_range_says_how_many_and_keeps_the_command() {
    let mut app = app_with(conversation());
    let fx = command(&mut app, "/copy 9");
    assert!(fx.is_empty(), "{fx:?}");
    let (kind, text) = notice(&app);
    assert_eq!(kind, NoticeKind::Error);
    assert_eq!(text, "/copy 9: there are 3 code blocks (1 to 3)");
    assert_eq!(app.draft_text(), "/copy 9", "the typed command stays");
    // No code at all.
    let mut app = app_with(Conversation::new("m", Mode::Chat, Memory::Full));
    command(&mut app, "/copy 1");
    assert_eq!(
        notice(&app).1,
        "/copy 1: this conversation has no code block"
    );
    command(&mut app, "/copy 0");
    assert!(notice(&app).1.contains("numbered from 1"));
}

#[test]
fn slash_copy_all_and_last_question() {
    let mut app = app_with(conversation());
    let (text, what) = copied(&command(&mut app, "/copy all"));
    assert_eq!(text, chat_tui::store::export::to_markdown(&app.conv));
    assert_eq!(what, "the conversation, 4 messages");
    let (text, what) = copied(&command(&mut app, "/copy last-question"));
    assert_eq!(
        (text.as_str(), what.as_str()),
        ("And in Python?", "question 2")
    );
}

#[test]
fn slash_copy_with_nothing_to_copy_says_so() {
    let mut app = app_with(Conversation::new("m", Mode::Chat, Memory::Full));
    for (line, says) in [
        ("/copy", "/copy: no reply to copy yet"),
        ("/copy all", "/copy all: the conversation is empty"),
        (
            "/copy last-question",
            "/copy last-question: no question yet",
        ),
    ] {
        assert!(command(&mut app, line).is_empty());
        assert_eq!(notice(&app), (NoticeKind::Error, says.to_string()));
    }
    // An empty reply.
    let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
    c.push(Speaker::User, "q");
    let id = c.push(Speaker::Assistant, "");
    if let Some(m) = c.get_mut(id) {
        m.choices = vec![Choice::default()];
    }
    let mut app = app_with(c);
    assert!(command(&mut app, "/copy").is_empty());
    assert_eq!(
        notice(&app),
        (
            NoticeKind::Warning,
            "nothing copied: the reply 1 is empty".into()
        )
    );
}

#[test]
fn y_and_capital_y_copy_the_selected_message_and_its_first_code_block() {
    let mut app = app_with(conversation());
    // Tab from the empty input: the conversation pane, cursor on the last message.
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Conversation);
    update(&mut app, key(KeyCode::Char('k')));
    update(&mut app, key(KeyCode::Char('k')));
    let (text, what) = copied(&update(&mut app, key(KeyCode::Char('y'))));
    assert_eq!((text.as_str(), what.as_str()), (REPLY, "reply 1"));
    let (text, what) = copied(&update(&mut app, key(KeyCode::Char('Y'))));
    assert_eq!(text, "fn main() {\n    println!(\"hi\");\n}");
    assert_eq!(what, "code block 1, reply 1");
    // A question has no code block.
    update(&mut app, key(KeyCode::Char('k')));
    let (text, what) = copied(&update(&mut app, key(KeyCode::Char('y'))));
    assert_eq!(
        (text.as_str(), what.as_str()),
        ("How do I print?", "question 1")
    );
    assert!(update(&mut app, key(KeyCode::Char('Y'))).is_empty());
    assert_eq!(notice(&app).1, "question 1 has no code block");
    // The last reply's first block is block 3.
    update(&mut app, key(KeyCode::Char('G')));
    let (_, what) = copied(&update(&mut app, key(KeyCode::Char('Y'))));
    assert_eq!(what, "code block 3, reply 2, choice 1");
}

#[test]
fn the_status_line_says_what_was_copied() {
    let mut app = app_with(conversation());
    let copied = |app: &mut App, chars, note: Option<&str>| {
        update(
            app,
            Event::Msg(Msg::Copied {
                what: "reply 3".into(),
                chars,
                note: note.map(str::to_string),
            }),
        );
    };
    copied(&mut app, 1234, None);
    assert_eq!(
        notice(&app),
        (NoticeKind::Info, "copied 1,234 characters (reply 3)".into())
    );
    copied(&mut app, 1, None);
    assert_eq!(notice(&app).1, "copied 1 character (reply 3)");
    copied(&mut app, 200_000, Some("too big"));
    assert_eq!(
        notice(&app),
        (
            NoticeKind::Warning,
            "copied 200,000 characters (reply 3) — too big".into()
        )
    );
    update(
        &mut app,
        Event::Msg(Msg::ClipboardFailed("it broke".into())),
    );
    assert_eq!(notice(&app), (NoticeKind::Warning, "it broke".into()));
}

#[test]
fn tab_completes_copy_words_and_block_numbers() {
    let mut app = app_with(conversation());
    app.set_draft("/copy ");
    update(&mut app, key(KeyCode::Tab));
    let (_, text) = notice(&app);
    assert_eq!(
        text,
        "/copy all  /copy last-question  /copy curl  /copy request  /copy response  /copy 1  /copy 2  /copy 3"
    );
    app.set_draft("/copy la");
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.draft_text(), "/copy last-question");
}

// ---------------------------------------------------------------------------
// The mouse (update() with the screen drawn on a TestBackend).

const W: u16 = 80;
const H: u16 = 40;

fn draw(term: &mut Terminal<TestBackend>, app: &mut App) -> Vec<String> {
    term.draw(|f| layout::draw(f, app, &Theme::default()))
        .expect("draw");
    app.dirty = false;
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn mouse(kind: MouseEventKind, column: u16, row: u16, modifiers: KeyModifiers) -> Event {
    Event::Mouse(MouseEvent {
        kind,
        column,
        row,
        modifiers,
    })
}

fn down(c: u16, r: u16) -> Event {
    mouse(
        MouseEventKind::Down(MouseButton::Left),
        c,
        r,
        KeyModifiers::NONE,
    )
}
fn drag(c: u16, r: u16) -> Event {
    mouse(
        MouseEventKind::Drag(MouseButton::Left),
        c,
        r,
        KeyModifiers::NONE,
    )
}
fn up(c: u16, r: u16) -> Event {
    mouse(
        MouseEventKind::Up(MouseButton::Left),
        c,
        r,
        KeyModifiers::NONE,
    )
}

/// (column, row) where `needle` is drawn.
fn find(screen: &[String], needle: &str) -> (u16, u16) {
    for (y, row) in screen.iter().enumerate() {
        if let Some(i) = row.find(needle) {
            let col = row[..i].chars().count();
            return (col as u16, y as u16);
        }
    }
    panic!("{needle:?} not on screen:\n{}", screen.join("\n"));
}

fn screen_app() -> (App, Terminal<TestBackend>, Vec<String>) {
    let mut app = app_with(conversation());
    let mut term = Terminal::new(TestBackend::new(W, H)).expect("terminal");
    let screen = draw(&mut term, &mut app);
    (app, term, screen)
}

#[test]
fn dragging_across_a_wrapped_line_copies_exactly_the_dragged_text() {
    let (mut app, mut term, screen) = screen_app();
    // "Here is the plan, … at eighty" wraps before "columns wide."
    let (c0, r0) = find(&screen, "plan,");
    let (c1, r1) = find(&screen, "columns wide.");
    assert_eq!(
        r1,
        r0 + 1,
        "the sentence wraps once:\n{}",
        screen.join("\n")
    );
    assert!(update(&mut app, down(c0, r0)).is_empty());
    assert!(update(&mut app, drag(c0 + 3, r0)).is_empty());
    assert!(update(&mut app, drag(c1 + 6, r1)).is_empty());
    // Drawn while dragging: the highlight follows.
    let _ = draw(&mut term, &mut app);
    let bg = Theme::default().selected_text.bg;
    let buf = term.backend().buffer();
    assert_eq!(buf[(c0, r0)].bg, bg.unwrap_or_default());
    assert_eq!(buf[(c1, r1)].bg, bg.unwrap_or_default());
    assert_ne!(buf[(c1 + 7, r1)].bg, bg.unwrap_or_default());
    assert_ne!(
        buf[(0, r0)].bg,
        bg.unwrap_or_default(),
        "the border is never selected"
    );
    let (text, what) = copied(&update(&mut app, up(c1 + 6, r1)));
    assert_eq!(
        text,
        "plan, in words long enough to wrap around the pane at eighty columns"
    );
    assert_eq!(what, "selection");
    // The selection stays drawn until a click elsewhere or Esc.
    assert!(app.selection.range().is_some());
    update(&mut app, key(KeyCode::Esc));
    assert!(app.selection.range().is_none());
}

#[test]
fn a_drag_across_blocks_keeps_line_breaks_and_drops_the_drawing() {
    let (mut app, _term, screen) = screen_app();
    let (c0, r0) = find(&screen, "fn main");
    let (c1, r1) = find(&screen, "echo second");
    update(&mut app, down(c0, r0));
    update(&mut app, drag(c1 + 10, r1));
    let (text, _) = copied(&update(&mut app, up(c1 + 10, r1)));
    assert_eq!(
        text,
        "fn main() {\n    println!(\"hi\");\n}\n\nAnd a second block:\n\necho second"
    );
}

#[test]
fn a_click_moves_the_message_cursor_and_copies_nothing() {
    let (mut app, _term, screen) = screen_app();
    let (c, r) = find(&screen, "And in Python?");
    assert!(update(&mut app, down(c, r)).is_empty());
    assert!(update(&mut app, up(c, r)).is_empty());
    assert_eq!(app.focus, Focus::Conversation);
    assert_eq!(app.selected, Some(app.conv.messages[2].id));
    assert!(app.selection.range().is_none());
}

#[test]
fn double_click_copies_a_word_and_triple_click_the_message() {
    let (mut app, _term, screen) = screen_app();
    let (c, r) = find(&screen, "eighty");
    update(&mut app, down(c + 2, r));
    update(&mut app, up(c + 2, r));
    let (text, what) = copied(&update(&mut app, down(c + 2, r)));
    assert_eq!((text.as_str(), what.as_str()), ("eighty", "word"));
    update(&mut app, up(c + 2, r));
    let (text, what) = copied(&update(&mut app, down(c + 2, r)));
    assert_eq!((text.as_str(), what.as_str()), (REPLY, "reply 1"));
    update(&mut app, up(c + 2, r));
}

#[test]
fn shift_drag_is_left_to_the_terminal_and_the_wheel_still_scrolls() {
    let (mut app, mut term, screen) = screen_app();
    let (c, r) = find(&screen, "plan,");
    let shift = KeyModifiers::SHIFT;
    for ev in [
        mouse(MouseEventKind::Down(MouseButton::Left), c, r, shift),
        mouse(MouseEventKind::Drag(MouseButton::Left), c + 5, r, shift),
        mouse(MouseEventKind::Up(MouseButton::Left), c + 5, r, shift),
    ] {
        assert!(update(&mut app, ev).is_empty());
    }
    assert!(app.selection.range().is_none());
    assert_eq!(app.focus, Focus::Input);
    // The wheel: a short pane so there is something to scroll.
    let mut small = Terminal::new(TestBackend::new(W, 16)).expect("terminal");
    let before = draw(&mut small, &mut app);
    update(
        &mut app,
        mouse(MouseEventKind::ScrollUp, c, 3, KeyModifiers::NONE),
    );
    let after = draw(&mut small, &mut app);
    assert_ne!(before, after, "the wheel scrolls");
    let _ = draw(&mut term, &mut app);
}

#[test]
fn a_selection_of_blank_lines_says_it_is_empty_and_clicks_outside_do_nothing() {
    let (mut app, _term, screen) = screen_app();
    let (_, r) = find(&screen, "}");
    // The blank line after the code block.
    update(&mut app, down(5, r + 1));
    update(&mut app, drag(6, r + 1));
    assert!(update(&mut app, up(6, r + 1)).is_empty());
    assert_eq!(
        notice(&app),
        (
            NoticeKind::Warning,
            "nothing copied: the selection is empty".into()
        )
    );
    // The border, the input box: outside the text.
    for (c, r) in [(0, 0), (0, 5), (10, H - 2)] {
        assert!(update(&mut app, down(c, r)).is_empty());
        assert!(update(&mut app, up(c, r)).is_empty());
        assert!(app.selection.range().is_none());
    }
}

// ---------------------------------------------------------------------------
// The real binary in a pseudo-terminal: the OSC 52 it writes decodes to the text.

use support::fake_server::{FakeServer, Reply};
use support::pty::osc52_texts;
use support::pty::{Key, Tui};

const T: Duration = Duration::from_secs(20);

fn wait_clip(t: &mut Tui, n: usize) -> String {
    let deadline = std::time::Instant::now() + T;
    loop {
        let texts = osc52_texts(&t.raw_output());
        if texts.len() >= n {
            return texts[n - 1].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no OSC 52 #{n} in the output; screen:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The app at 80 columns (or `wide`: 200, for status lines read in full).
fn spawn(srv: &FakeServer, env: &[(&str, &str)]) -> Tui {
    spawn_at(srv, env, 80)
}

fn spawn_wide(srv: &FakeServer, env: &[(&str, &str)]) -> Tui {
    spawn_at(srv, env, 200)
}

fn spawn_at(srv: &FakeServer, env: &[(&str, &str)], cols: u16) -> Tui {
    let url = srv.url();
    let mut all = vec![("OPENAI_API_KEY", "sk-test-NOT-A-REAL-KEY")];
    all.extend_from_slice(env);
    let mut t = Tui::spawn(&["--base-url", &url, "--model", "fake"], &all, cols, 30);
    t.wait_for("Welcome to chat-tui", T);
    t
}

fn ask(t: &mut Tui, srv: &FakeServer, q: &str, reply: &str, last_words: &str) {
    srv.push(Reply::chat_stream(&[reply]));
    t.send(q);
    t.key(Key::Enter);
    t.wait_until("the reply and idle", T, |s| {
        let sc = s.contents();
        sc.contains(last_words) && sc.contains("● idle")
    });
}

/// An SGR mouse report (1-based cells): press `b` (`M`) or release (`m`).
fn sgr(b: u16, col: u16, row: u16, press: bool) -> Vec<u8> {
    format!(
        "\x1b[<{b};{};{}{}",
        col + 1,
        row + 1,
        if press { 'M' } else { 'm' }
    )
    .into_bytes()
}

fn screen_rows(t: &Tui) -> Vec<String> {
    t.screen().lines().map(str::to_string).collect()
}

#[test]
fn pty_slash_copy_and_copy_n_reach_the_terminal_clipboard() {
    let srv = FakeServer::start();
    let mut t = spawn_wide(&srv, &[]);
    ask(&mut t, &srv, "show me", REPLY, "echo second");
    t.send("/copy");
    t.key(Key::Enter);
    assert_eq!(wait_clip(&mut t, 1), REPLY);
    t.wait_for("copied 177 characters (reply 1)", T);
    t.send("/copy 2");
    t.key(Key::Enter);
    assert_eq!(wait_clip(&mut t, 2), "echo second");
    t.wait_for("(code block 2, reply 1)", T);
    // The labels are on screen.
    let screen = t.screen();
    assert!(
        screen.contains("[1] rust") && screen.contains("[2] sh"),
        "{screen}"
    );
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn pty_y_copies_the_selected_message() {
    let srv = FakeServer::start();
    let mut t = spawn_wide(&srv, &[]);
    ask(&mut t, &srv, "first question", "The **answer**.", "answer");
    t.key(Key::Tab);
    t.send("y");
    assert_eq!(wait_clip(&mut t, 1), "The **answer**.");
    t.wait_for("(reply 1)", T);
    t.send("k");
    t.send("y");
    assert_eq!(wait_clip(&mut t, 2), "first question");
    t.wait_for("(question 1)", T);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn pty_mouse_drag_across_a_wrapped_line_copies_exactly_the_dragged_text() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, &[]);
    let reply = "Alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa.";
    ask(&mut t, &srv, "spell", reply, "papa.");
    let rows = screen_rows(&t);
    let at = |needle: &str| {
        rows.iter()
            .enumerate()
            .find_map(|(y, r)| {
                r.find(needle)
                    .map(|x| (r[..x].chars().count() as u16, y as u16))
            })
            .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", rows.join("\n")))
    };
    let (c0, r0) = at("golf");
    let (c1, r1) = at("oscar");
    assert!(r1 > r0, "the reply wraps:\n{}", rows.join("\n"));
    let mut bytes = sgr(0, c0, r0, true);
    bytes.extend(sgr(32, c0 + 4, r0, true));
    bytes.extend(sgr(32, c1 + 4, r1, true));
    bytes.extend(sgr(0, c1 + 4, r1, false));
    t.send_bytes(&bytes);
    assert_eq!(
        wait_clip(&mut t, 1),
        "golf hotel india juliett kilo lima mike november oscar"
    );
    t.wait_for("(selection)", T);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn pty_double_and_triple_click() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, &[]);
    ask(
        &mut t,
        &srv,
        "q",
        "Some *words* to pick from.",
        "pick from.",
    );
    let rows = screen_rows(&t);
    let (x, y) = rows
        .iter()
        .enumerate()
        .find_map(|(y, r)| r.find("pick").map(|x| (x as u16, y as u16)))
        .expect("on screen");
    let mut click = sgr(0, x + 1, y, true);
    click.extend(sgr(0, x + 1, y, false));
    let mut two = click.clone();
    two.extend(click.clone());
    t.send_bytes(&two);
    assert_eq!(wait_clip(&mut t, 1), "pick");
    t.wait_for("(word)", T);
    t.send_bytes(&click);
    assert_eq!(wait_clip(&mut t, 2), "Some *words* to pick from.");
    t.wait_for("(reply 1)", T);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn pty_inside_tmux_the_sequence_is_also_wrapped_for_passthrough() {
    let srv = FakeServer::start();
    let mut t = spawn_wide(&srv, &[("TMUX", "/tmp/tmux-0/default,1,0")]);
    ask(&mut t, &srv, "q", "tmux text", "tmux text");
    t.send("/copy");
    t.key(Key::Enter);
    t.wait_for("copied 9 characters", T);
    let raw = String::from_utf8_lossy(&t.raw_output()).into_owned();
    let b64 = BASE64.encode("tmux text");
    assert!(
        raw.contains(&format!("\x1b]52;c;{b64}\x07")),
        "plain sequence"
    );
    assert!(
        raw.contains(&format!("\x1bPtmux;\x1b\x1b]52;c;{b64}\x07\x1b\\")),
        "passthrough"
    );
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn pty_an_oversized_payload_is_sent_with_a_note() {
    let srv = FakeServer::start();
    let mut t = spawn_wide(&srv, &[]);
    let big = "word ".repeat(16_000);
    ask(&mut t, &srv, "long", big.trim_end(), "word");
    t.send("/copy");
    t.key(Key::Enter);
    assert_eq!(wait_clip(&mut t, 1), big.trim_end());
    t.wait_for(
        "copied 79,999 characters (reply 1) — 107 kB of OSC 52, over the 100 kB many terminals take: sent anyway",
        T,
    );
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn pty_a_failing_system_clipboard_is_a_notice_and_osc52_still_goes() {
    // A display with no X server behind it: arboard cannot connect.
    let srv = FakeServer::start();
    let mut t = spawn_wide(&srv, &[("DISPLAY", ":7321")]);
    ask(&mut t, &srv, "q", "still copied", "still copied");
    t.send("/copy");
    t.key(Key::Enter);
    assert_eq!(wait_clip(&mut t, 1), "still copied");
    t.wait_for(
        "copied through the terminal only (OSC 52); system clipboard: X11 server",
        T,
    );
    // The app goes on.
    t.send("/copy last-question");
    t.key(Key::Enter);
    assert_eq!(wait_clip(&mut t, 2), "q");
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn pty_a_hanging_system_clipboard_times_out_without_blocking_the_app() {
    // An "X server" that accepts the connection and never answers: the clipboard hangs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    assert!(port > 6000, "an ephemeral port");
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(conns);
    });
    let display = format!("127.0.0.1:{}", port - 6000);
    let srv = FakeServer::start();
    let mut t = spawn_wide(&srv, &[("DISPLAY", &display)]);
    ask(&mut t, &srv, "q", "hang on", "hang on");
    t.send("/copy");
    t.key(Key::Enter);
    assert_eq!(wait_clip(&mut t, 1), "hang on");
    t.wait_for("copied 7 characters (reply 1)", T);
    // The app answers while the clipboard hangs.
    t.send("/copy last-question");
    t.key(Key::Enter);
    assert_eq!(wait_clip(&mut t, 2), "q");
    t.wait_for(
        "copied through the terminal only (OSC 52); system clipboard: no answer in 2 s",
        T,
    );
    // Quitting does not wait for it.
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
    drop(held);
}
