//! End-to-end tests of the full-screen app: the real `chat-tui` binary in a real
//! pseudo-terminal (tests/support/pty.rs) against the fake server
//! (tests/support/fake_server.rs).  Every test waits on screen content, not on sleeps.

use crate::support;

use std::time::Duration;

use support::fake_server::{FakeServer, Reply, SseStep, chat_chunk, smart_texts};
use support::pty::{Key, Tui};
use support::pty::{input_box, screen_text as full, status_line};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";
/// Generous: the machine is shared and loaded.
const T: Duration = Duration::from_secs(15);

const ALT_RIGHT: &[u8] = b"\x1b[1;3C";
const CTRL_END: &[u8] = b"\x1b[1;5F";

fn spawn(srv: &FakeServer, cols: u16, rows: u16) -> Tui {
    let url = srv.url();
    let mut t = Tui::spawn(
        &["--base-url", &url, "--model", "fake-small"],
        &[("OPENAI_API_KEY", KEY)],
        cols,
        rows,
    );
    t.wait_for("Welcome to chat-tui", T);
    t
}

/// Type `text` and press Enter.
fn say(t: &mut Tui, text: &str) {
    t.send(text);
    t.key(Key::Enter);
}

/// (finish_reason panel, tokens panel): their inner rows, split at the tokens panel's
/// left border.
fn info_panels(screen: &str) -> (String, String) {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(top) = lines.iter().position(|l| l.contains("┌ finish_reason")) else {
        return (String::new(), String::new());
    };
    // The tokens panel's top-left corner (all these characters are one column wide).
    let split = lines[top]
        .chars()
        .enumerate()
        .skip(1)
        .find(|&(_, c)| c == '┌')
        .map_or(0, |(i, _)| i);
    let mut fin = Vec::new();
    let mut tok = Vec::new();
    for l in lines[top + 1..].iter().take_while(|l| !l.starts_with('└')) {
        let chars: Vec<char> = l.chars().collect();
        let (a, b) = chars.split_at(split.min(chars.len()));
        fin.push(a.iter().collect::<String>());
        tok.push(b.iter().collect::<String>());
    }
    (fin.join("\n"), tok.join("\n"))
}

fn finish_panel(screen: &str) -> String {
    info_panels(screen).0
}

fn tokens_panel(screen: &str) -> String {
    info_panels(screen).1
}

/// Wait until the screen contains every one of `needles` (a frame may arrive in pieces).
fn wait_all(t: &mut Tui, needles: &[&str]) {
    t.wait_until(&format!("screen to contain all of {needles:?}"), T, |s| {
        let sc = full(s);
        needles.iter().all(|n| sc.contains(n))
    });
}

/// Wait until the reply is done: the status line says idle and the finish panel `stop`.
fn wait_idle_stop(t: &mut Tui) {
    t.wait_until("idle with finish_reason stop", T, |s| {
        let sc = full(s);
        status_line(&sc).contains("● idle") && finish_panel(&sc).contains("stop")
    });
}

fn assert_restored(t: &Tui) {
    assert!(!t.alternate_screen(), "alternate screen still active");
    assert!(t.cursor_visible(), "cursor left hidden");
    assert_eq!(
        t.termios_is_cooked(),
        Some(true),
        "terminal left in raw mode"
    );
    assert!(!t.bracketed_paste(), "bracketed paste left on");
}

fn last_user_content(body: &serde_json::Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------
// 1. a message and its reply

#[test]
fn message_reply_finish_reason_and_usage() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "hello there friend");
    t.wait_for("echo: hello there friend", T);
    wait_idle_stop(&mut t);

    let reqs = srv.wait_completions(1, T);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    let body = reqs[0].json();
    assert_eq!(last_user_content(&body), "hello there friend");
    assert_eq!(body["model"], "fake-small");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);

    // What the fake server's usage chunk says: prompt = words of the messages,
    // completion = tokens of the reply.
    let prompt: usize = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["content"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .sum();
    let completion = "echo: hello there friend".split_whitespace().count();
    let expect = format!(
        "prompt {prompt} · completion {completion} · total {}",
        prompt + completion
    );
    t.wait_until(&format!("tokens panel to show {expect:?}"), T, |s| {
        tokens_panel(&full(s)).contains(&expect)
    });
    let screen = t.screen();
    assert!(
        finish_panel(&screen).contains("stop"),
        "finish panel: {}",
        finish_panel(&screen)
    );
    assert!(screen.contains("You"), "{screen}");
    assert!(screen.contains("Assistant"), "{screen}");
    // fake-small has no known encoding: the local count is labelled an estimate, once.
    let tp = tokens_panel(&screen);
    assert!(tp.contains("cl100k_base (estimate)"), "{tp}");
    assert!(!tp.contains("(estimate) (estimate)"), "{tp}");
    // session total = this reply's total
    assert!(
        tokens_panel(&screen).contains(&format!("session {}", prompt + completion)),
        "{}",
        tokens_panel(&screen)
    );
}

// 2. n = 3: choices

#[test]
fn n3_choices_switch_with_alt_arrows_and_brackets() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "/set n 3");
    t.wait_for("n = 3", T);
    say(&mut t, "pick one");
    t.wait_for("choice 1/3", T);
    t.wait_for("echo: pick one", T);
    wait_idle_stop(&mut t);
    let reqs = srv.wait_completions(1, T);
    assert_eq!(reqs[0].json()["n"], 3);

    t.wait_until("three finish reasons, the first selected", T, |s| {
        let fin = finish_panel(&full(s));
        fin.contains("▸1:stop") && fin.contains(" 2:stop") && fin.contains(" 3:stop")
    });

    t.send_bytes(ALT_RIGHT);
    t.wait_until("choice 2 shown instead of choice 1", T, |s| {
        let sc = full(s);
        sc.contains("choice 2/3")
            && sc.contains("echo1: pick one")
            && !sc.contains("echo: pick one")
            && finish_panel(&sc).contains("▸2:stop")
    });

    // Tab (empty input) focuses the history, where ] and [ switch.
    t.key(Key::Tab);
    t.wait_for("[ ] choice", T);
    t.send("]");
    t.wait_for("choice 3/3", T);
    t.wait_for("echo2: pick one", T);
    t.send("]");
    t.wait_for("choice 1/3", T);
    t.wait_for("echo: pick one", T);
    t.send("[");
    t.wait_for("choice 3/3", T);
    t.send("[");
    t.wait_for("choice 2/3", T);
    t.wait_for("echo1: pick one", T);
    // Typing in the history did not go to the input.
    assert_eq!(input_box(&t.screen()), "");
}

// 3. Esc cancels a streaming reply

#[test]
fn esc_cancels_streaming_reply_and_app_stays_usable() {
    let srv = FakeServer::start();
    srv.set_token_delay(Duration::from_millis(50));
    let words: Vec<String> = (1..=80).map(|i| format!("tok{i:03}")).collect();
    srv.push(Reply::Text(vec![words.join(" ")]));
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "please talk for a long time");
    t.wait_for("tok003", T);
    t.wait_for("streaming", T);
    t.key(Key::Esc);
    t.wait_until("finish panel to say cancelled", T, |s| {
        finish_panel(&full(s)).contains("cancelled")
    });
    srv.wait_disconnects(1, T);
    let s = t.screen();
    assert!(s.contains("· cancelled"), "history header marks it:\n{s}");
    assert!(
        s.contains("tok001 tok002 tok003"),
        "partial text kept:\n{s}"
    );
    assert!(!s.contains("tok080"), "reply was not cut:\n{s}");
    assert!(
        finish_panel(&s).contains("partial text kept"),
        "{}",
        finish_panel(&s)
    );
    assert!(status_line(&s).contains("● idle"), "{}", status_line(&s));
    // Nothing more arrives after the cancel (a short sleep: nothing to observe).
    std::thread::sleep(Duration::from_millis(300));
    assert!(!t.screen().contains("tok080"));

    srv.set_token_delay(Duration::from_millis(1));
    say(&mut t, "are you there");
    t.wait_for("echo: are you there", T);
    wait_idle_stop(&mut t);
    let reqs = srv.wait_completions(2, T);
    assert_eq!(last_user_content(&reqs[1].json()), "are you there");
    // The cancelled reply's partial text went along as history.
    assert!(
        reqs[1].body_str().contains("tok001"),
        "{}",
        reqs[1].body_str()
    );
}

// 4. quitting

#[test]
fn ctrl_c_cancels_when_streaming_then_quits_when_idle() {
    let srv = FakeServer::start();
    srv.set_token_delay(Duration::from_millis(50));
    let words: Vec<String> = (1..=80).map(|i| format!("w{i:03}")).collect();
    srv.push(Reply::Text(vec![words.join(" ")]));
    let mut t = spawn(&srv, 120, 30);
    assert!(t.alternate_screen());
    assert!(t.bracketed_paste());
    say(&mut t, "go on");
    t.wait_for("w002", T);
    t.key(Key::Ctrl('c'));
    t.wait_until("finish panel to say cancelled", T, |s| {
        finish_panel(&full(s)).contains("cancelled")
    });
    srv.wait_disconnects(1, T);
    assert!(
        t.try_exit().is_none(),
        "Ctrl+C while streaming must not quit"
    );
    t.key(Key::Ctrl('c'));
    let st = t.wait_exit(T);
    assert!(st.success(), "exit status {st:?}");
    assert_restored(&t);
}

#[test]
fn ctrl_q_quits_and_restores_the_terminal() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 100, 30);
    say(&mut t, "hi");
    t.wait_for("echo: hi", T);
    wait_idle_stop(&mut t);
    t.send("an unsent draft");
    t.wait_for("an unsent draft", T);
    t.key(Key::Ctrl('q'));
    let st = t.wait_exit(T);
    assert!(st.success(), "exit status {st:?}");
    assert_restored(&t);
}

// 5. resize while streaming

#[test]
fn resize_to_tiny_sizes_while_streaming() {
    let srv = FakeServer::start();
    srv.set_token_delay(Duration::from_millis(25));
    let words: Vec<String> = (1..=60).map(|i| format!("r{i:02}")).collect();
    srv.push(Reply::Text(vec![format!("{} THE-END", words.join(" "))]));
    let mut t = spawn(&srv, 100, 30);
    say(&mut t, "resize me");
    t.wait_for("r02", T);

    t.resize(20, 6);
    t.wait_until("a 20x6 frame (history border)", T, |s| {
        let sc = full(s);
        let first = sc.lines().next().unwrap_or("");
        first.starts_with('┌') && first.ends_with('┐') && first.chars().count() == 20
    });
    t.resize(8, 3);
    t.wait_until("an 8x3 frame", T, |s| {
        let sc = full(s);
        let first = sc.lines().next().unwrap_or("");
        first.starts_with('┌') && first.ends_with('┐') && first.chars().count() == 8
    });
    t.resize(2, 1);
    t.wait_until("the 2x1 placeholder", T, |s| s.contents().starts_with('…'));
    assert!(t.try_exit().is_none(), "the app exited at 2x1");
    t.resize(100, 30);
    t.wait_for("THE-END", T);
    wait_idle_stop(&mut t);
    assert!(t.try_exit().is_none(), "the app exited");
    let s = t.screen();
    assert_eq!(s.lines().count(), 30);
    let first = s.lines().next().unwrap();
    assert!(first.starts_with('┌') && first.ends_with('┐'), "{s}");
    assert!(s.contains("┌ message"), "{s}");
    assert!(s.contains("┌ tokens"), "{s}");
    assert!(s.contains("r01 r02 r03"), "{s}");
    assert!(
        s.lines().all(|l| l.chars().count() <= 100),
        "line wider than the terminal:\n{s}"
    );
    // The status line's left part (cut to fit) does not run into the key hints.
    let status = status_line(&s);
    assert!(status.contains(" Enter send"), "{status}");
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
    assert_restored(&t);
}

// 6. bracketed paste

#[test]
fn large_multiline_paste_goes_to_input_and_is_sent_whole() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 100, 30);
    let text: String = (0..200)
        .map(|i| format!("line {i:03} {}", "x".repeat(95)))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.len() >= 20_000);
    t.paste(&text);
    // Shown as one element (over 1,000 characters), sent in full.
    t.wait_for("[pasted 20,999 characters]", T);
    // Nothing observable can prove a request did NOT go out: give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    assert!(srv.completions().is_empty(), "paste sent something");
    assert!(t.screen().contains("● idle"));
    t.key(Key::Enter);
    let reqs = srv.wait_completions(1, T);
    assert_eq!(last_user_content(&reqs[0].json()), text);
    wait_idle_stop(&mut t);
    assert_eq!(srv.completions().len(), 1);
}

// 7. prompt history

#[test]
fn up_in_empty_input_recalls_previous_prompts() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 100, 30);
    say(&mut t, "first prompt");
    t.wait_for("echo: first prompt", T);
    wait_idle_stop(&mut t);
    say(&mut t, "second prompt");
    t.wait_for("echo: second prompt", T);
    wait_idle_stop(&mut t);
    assert_eq!(input_box(&t.screen()), "");
    t.key(Key::Up);
    t.wait_until("the input to hold the last prompt", T, |s| {
        input_box(&full(s)) == "second prompt"
    });
    t.key(Key::Up);
    t.wait_until("the input to hold the prompt before", T, |s| {
        input_box(&full(s)) == "first prompt"
    });
    t.key(Key::Down);
    t.wait_until("Down to go forward again", T, |s| {
        input_box(&full(s)) == "second prompt"
    });
    t.key(Key::Up);
    t.wait_until("back to the first", T, |s| {
        input_box(&full(s)) == "first prompt"
    });
    t.key(Key::Enter);
    let reqs = srv.wait_completions(3, T);
    assert_eq!(last_user_content(&reqs[2].json()), "first prompt");
}

// 8. the parameters panel

#[test]
fn f2_parameters_panel_edits_temperature() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 160, 48);
    t.key(Key::F(2));
    wait_all(
        &mut t,
        &["parameters (F2)", "│seed ", "│frequency_penalty "],
    );
    let row = |s: &str, name: &str| {
        s.lines()
            .find(|l| l.contains(&format!("│{name} ")))
            .unwrap_or("")
            .to_string()
    };
    let s = t.screen();
    for name in ["temperature", "top_p", "max_tokens", "n", "seed"] {
        assert!(row(&s, name).contains("default"), "{name}:\n{s}");
    }
    assert!(row(&s, "model").contains("fake-small"), "{s}");
    // model, mode, memory, system, then temperature.
    for _ in 0..4 {
        t.key(Key::Down);
    }
    t.key(Key::Enter);
    t.wait_for("Enter apply · Esc cancel", T);
    t.send("0.7");
    t.wait_for("0.7▏", T);
    t.key(Key::Enter);
    t.wait_for("temperature = 0.7", T);
    t.wait_until("the panel to show temperature 0.7", T, |s| {
        let sc = full(s);
        let r = row(&sc, "temperature");
        r.contains("0.7") && !r.contains("default")
    });

    // An invalid value: an error, and the old value stays.
    t.key(Key::Enter);
    t.wait_for("0.7▏", T);
    for _ in 0..3 {
        t.key(Key::Backspace);
    }
    t.send("5");
    t.wait_for("5▏", T);
    t.key(Key::Enter);
    t.wait_for("must be between 0 and 2", T);
    t.wait_until("the edit to end with the old value kept", T, |s| {
        let sc = full(s);
        let r = row(&sc, "temperature");
        r.contains("0.7") && !r.contains('5') && !r.contains('▏')
    });

    // Close the panel and send: the request carries 0.7.
    t.key(Key::Esc);
    t.wait_until("the panel to close", T, |s| {
        !full(s).contains("parameters (F2)")
    });
    say(&mut t, "warm please");
    let reqs = srv.wait_completions(1, T);
    assert!(
        reqs[0].body_str().contains("\"temperature\":0.7"),
        "{}",
        reqs[0].body_str()
    );
    t.wait_for("echo: warm please", T);
}

// 9. commands

#[test]
fn bad_commands_give_errors_and_send_nothing() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "/set temperature 9");
    t.wait_for("must be between 0 and 2", T);
    // The draft stays for fixing.
    assert_eq!(input_box(&t.screen()), "/set temperature 9");
    for _ in 0.."/set temperature 9".len() {
        t.key(Key::Backspace);
    }
    t.wait_until("the input to be empty", T, |s| {
        input_box(&full(s)).is_empty()
    });
    say(&mut t, "/retyr");
    t.wait_for("did you mean /retry", T);
    // Nothing to observe for "not sent": a moment, then look.
    std::thread::sleep(Duration::from_millis(300));
    assert!(srv.completions().is_empty(), "{:?}", srv.completions());
    assert!(t.screen().contains("no reply yet"));
}

#[test]
fn completion_mode_uses_the_completions_endpoint() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "/mode completion");
    t.wait_for("mode: completion", T);
    say(&mut t, "Say this is a test");
    let reqs = srv.wait_completions(1, T);
    assert_eq!(reqs[0].path, "/v1/completions");
    let body = reqs[0].json();
    let prompt = body["prompt"].as_str().unwrap_or_default().to_string();
    assert!(prompt.contains("Say this is a test"), "{prompt}");
    let expect = smart_texts(false, &body, 1).remove(0);
    t.wait_for(&expect, T);
    wait_idle_stop(&mut t);
    assert!(status_line(&t.screen()).contains("completion"));
}

#[test]
fn model_picker_lists_server_models() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "/model");
    t.wait_for("models — Enter picks", T);
    t.wait_for("fake-large", T);
    t.wait_for("fake-small (current)", T);
    assert!(
        srv.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == "/v1/models")
    );
    let s = t.screen();
    let pos = |name: &str| s.lines().position(|l| l.contains(name)).unwrap();
    if pos("fake-large") > pos("fake-small (current)") {
        t.key(Key::Down);
    }
    t.key(Key::Enter);
    t.wait_until("the picker to close with fake-large chosen", T, |s| {
        let sc = full(s);
        sc.contains("model: fake-large") && !sc.contains("models — Enter picks")
    });
    say(&mut t, "big model");
    let reqs = srv.wait_completions(1, T);
    let last = reqs.last().unwrap();
    assert_eq!(last.path, "/v1/chat/completions");
    assert_eq!(last.json()["model"], "fake-large");
    t.wait_for("echo: big model", T);
}

#[test]
fn tab_completes_commands_and_f1_shows_help() {
    let srv = FakeServer::start();
    // Tall enough for the keys of every pane and the first commands.
    let mut t = spawn(&srv, 120, 70);
    t.send("/ret");
    t.wait_until("the draft", T, |s| input_box(&full(s)) == "/ret");
    t.key(Key::Tab);
    t.wait_until("Tab to complete /retry", T, |s| {
        input_box(&full(s)) == "/retry"
    });
    for _ in 0.."/retry".len() {
        t.key(Key::Backspace);
    }
    t.wait_until("the input to be empty", T, |s| {
        input_box(&full(s)).is_empty()
    });
    t.key(Key::F(1));
    wait_all(
        &mut t,
        &["help — ↑↓ scroll", "Ctrl+Q", "Ctrl+C", "F2", "Esc"],
    );
    // The commands follow the keys: page down to them (each page changes the screen).
    let commands = ["/memory", "/continue", "/set"];
    for _ in 0..10 {
        let now = t.with_screen(full);
        if commands.iter().all(|c| now.contains(c)) {
            break;
        }
        t.key(Key::PageDown);
        t.wait_until("the next page of help", T, |s| full(s) != now);
    }
    wait_all(&mut t, &commands);
    // Any other key closes it.
    t.send("x");
    t.wait_until("help to close", T, |s| !full(s).contains("help — ↑↓"));
    assert!(srv.completions().is_empty());
}

// 10. control characters in model output

#[test]
fn control_characters_in_replies_are_neutralised() {
    let srv = FakeServer::start();
    let evil = "A\x1b[2JB OSC52:\x1b]52;c;SGVsbG8=\x07 TITLE:\x1b]0;pwned-title\x07 \
                C1:\u{9b}31m CR:x\ry BIDI:\u{202e}abc SGR:\x1b[31;5;7mINJECTED END.";
    srv.push(Reply::Sse(vec![
        SseStep::text(&chat_chunk(0, evil, None)),
        SseStep::text(&chat_chunk(0, "", Some("stop"))),
        SseStep::text(support::fake_server::DONE),
    ]));
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "be evil");
    t.wait_for("END.", T);
    wait_idle_stop(&mut t);
    let s = t.screen();
    for shown in ["␛", "OSC52:", "TITLE:", "INJECTED", "⇆abc", "x␍y", "␇"] {
        assert!(s.contains(shown), "{shown:?} not shown:\n{s}");
    }
    assert!(s.contains("C1:⍰31m"), "C1 control not shown:\n{s}");
    let raw = t.raw_output();
    let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    for bad in [
        &b"\x1b]52;"[..],
        b"\x1b]0;pwned",
        b"pwned-title\x07",
        b"A\x1b[2JB",
        b"\x1b[31;5;7mINJECTED",
        "\u{9b}".as_bytes(),
        "\u{202e}".as_bytes(),
        b"x\ry",
    ] {
        assert!(
            !has(bad),
            "raw output contains {:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Still one coherent screen: the layout is intact.
    assert!(s.contains("┌ message"), "{s}");
    let first = s.lines().next().unwrap();
    assert!(first.starts_with('┌') && first.ends_with('┐'), "{s}");
}

// 11. wide characters

#[test]
fn cjk_reply_wraps_without_broken_characters() {
    let srv = FakeServer::start();
    let text = "你好，世界！這是一個測試。".repeat(10);
    srv.push(Reply::Text(vec![text.clone()]));
    let mut t = spawn(&srv, 100, 30);
    say(&mut t, "in chinese please");
    wait_idle_stop(&mut t);
    let cjk_rows = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| {
                l.contains('你') || l.contains('界') || l.contains('測') || l.contains('。')
            })
            .map(|l| {
                l.trim_start_matches('│')
                    .trim_end()
                    .trim_end_matches('│')
                    .trim()
                    .to_string()
            })
            .collect()
    };
    // The wrapped rows put back together are the reply, character for character.
    t.wait_until(
        "the reply's rows to put back together to the text",
        T,
        |s| cjk_rows(&full(s)).concat() == text,
    );
    let s = t.screen();
    assert!(
        !s.contains('\u{fffd}'),
        "replacement character on screen:\n{s}"
    );
    assert!(cjk_rows(&s).len() >= 2, "the reply should wrap:\n{s}");
    // No row is wider than the history pane.
    t.with_screen(|sc| {
        for row in 0..30 {
            for col in 0..100 {
                if let Some(c) = sc.cell(row, col)
                    && c.is_wide()
                {
                    assert!(col + 1 < 100, "wide char in the last column at row {row}");
                }
            }
        }
    });
}

// 12. /continue after finish_reason length

#[test]
fn continue_after_length_appends_to_the_same_reply() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "/set max_tokens 3");
    t.wait_for("max_tokens = 3", T);
    say(&mut t, "one two three four five six");
    t.wait_for("echo: one two", T);
    t.wait_until("finish_reason length", T, |s| {
        let sc = full(s);
        finish_panel(&sc).contains("length") && status_line(&sc).contains("● idle")
    });
    t.wait_until("the /continue hint", T, |s| {
        finish_panel(&full(s)).contains("cut at max_tokens — /continue")
    });
    srv.push(Reply::chat_stream(&[" three", " four"]));
    say(&mut t, "/continue");
    let reqs = srv.wait_completions(2, T);
    let body = reqs[1].json();
    let msgs = body["messages"].as_array().unwrap();
    assert!(
        msgs.iter()
            .any(|m| m["role"] == "assistant" && m["content"] == "echo: one two"),
        "the partial reply goes along: {body}"
    );
    t.wait_for("echo: one two three four", T);
    wait_idle_stop(&mut t);
    let s = t.screen();
    assert_eq!(
        s.matches("Assistant").count(),
        1,
        "continued in place, not a new reply:\n{s}"
    );
    assert!(!finish_panel(&s).contains("length"), "{}", finish_panel(&s));
}

// 13. scrolling

#[test]
fn page_up_scrolls_and_streaming_does_not_yank_the_view() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 100, 30);
    for m in 1..=3 {
        let body: String = (1..=20)
            .map(|i| format!("para {i:02} of reply {m}"))
            .collect::<Vec<_>>()
            .join("\n\n");
        srv.push(Reply::chat_stream(&[&body]));
        say(&mut t, &format!("message {m}"));
        t.wait_for(&format!("para 20 of reply {m}"), T);
        wait_idle_stop(&mut t);
    }
    t.key(Key::PageUp);
    t.wait_until("PageUp to move the view", T, |s| {
        !full(s).contains("para 20 of reply 3")
    });
    t.send_bytes(CTRL_END);
    t.wait_for("para 20 of reply 3", T);

    // A slow reply; scroll up while it streams.
    srv.set_token_delay(Duration::from_millis(20));
    let words: Vec<String> = (1..=120).map(|i| format!("s{i:03}")).collect();
    srv.push(Reply::Text(vec![format!("{} LAST-WORD", words.join(" "))]));
    say(&mut t, "stream slowly");
    t.wait_for("s002", T);
    t.key(Key::PageUp);
    t.wait_until("the view to scroll up", T, |s| {
        !full(s).contains("stream slowly")
    });
    // The reply finishes while we look elsewhere.
    t.wait_until("the reply to finish", T, |s| {
        let sc = full(s);
        status_line(&sc).contains("● idle") && finish_panel(&sc).contains("stop")
    });
    let s = t.screen();
    assert!(!s.contains("LAST-WORD"), "the view was pulled down:\n{s}");
    assert!(!s.contains("stream slowly"), "the view moved:\n{s}");
    assert!(new_lines_indicator(&s), "no new-lines indicator:\n{s}");
    t.send_bytes(CTRL_END);
    t.wait_until("the bottom, without the indicator", T, |s| {
        let sc = full(s);
        sc.contains("LAST-WORD") && !new_lines_indicator(&sc)
    });
}

/// The history's " ↓ N new lines " indicator.
fn new_lines_indicator(screen: &str) -> bool {
    screen.lines().any(|l| {
        l.split("↓ ").skip(1).any(|rest| {
            rest.starts_with(|c: char| c.is_ascii_digit()) && rest.contains(" new line")
        })
    })
}

// An error, then /retry: the reply comes, and the command leaves the input.

#[test]
fn retry_after_a_failed_request_clears_the_input() {
    let srv = FakeServer::start();
    srv.push(Reply::error(400, "the fake server says no"));
    let mut t = spawn(&srv, 160, 48);
    say(&mut t, "try this");
    t.wait_until("the error", T, |s| {
        let sc = full(s);
        status_line(&sc).contains("✗ error") && sc.contains("the fake server says no")
    });
    assert!(finish_panel(&t.screen()).contains("error"));
    say(&mut t, "/retry");
    t.wait_for("echo: try this", T);
    wait_idle_stop(&mut t);
    let reqs = srv.wait_completions(2, T);
    assert_eq!(last_user_content(&reqs[1].json()), "try this");
    t.wait_until("the input to be empty after /retry", T, |s| {
        input_box(&full(s)).is_empty()
    });
    // The old error is not shown next to "idle" any more.
    let s = t.screen();
    assert!(!status_line(&s).contains("says no"), "{}", status_line(&s));
    // The failed reply was replaced, not kept next to the new one.
    assert_eq!(s.matches("Assistant").count(), 1, "{s}");
}

// 14. first run

#[test]
fn first_run_without_key_or_server_shows_guidance() {
    let mut t = Tui::spawn(&[], &[], 120, 40);
    // Either the guidance (nothing on 11434/8080) or the offer overlay (something
    // answers there); both say it and both let the user quit.
    t.wait_until("the first-run guidance", T, |s| {
        let sc = full(s);
        sc.contains("No API key or server is configured")
            && (sc.contains("export OPENAI_API_KEY") || sc.contains("local server found"))
    });
    t.key(Key::Ctrl('q'));
    let st = t.wait_exit(T);
    assert!(st.success(), "exit status {st:?}");
    assert_restored(&t);
}

#[test]
fn pasted_control_characters_never_reach_the_terminal() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 100, 30);
    let pasted = "P1\x1b]0;PASTED-TITLE\x07P2 \x1b[31;5;7mREDPASTE P3\u{202e}x END";
    t.paste(pasted);
    t.wait_for("REDPASTE P3", T);
    t.key(Key::Enter);
    let reqs = srv.wait_completions(1, T);
    // The text is sent as typed...
    assert_eq!(last_user_content(&reqs[0].json()), pasted);
    // ...and shown with placeholders.
    wait_all(
        &mut t,
        &["echo: P1␛]0;PASTED-TITLE␇P2 ␛[31;5;7mREDPASTE P3⇆x END"],
    );
    wait_idle_stop(&mut t);
    let raw = t.raw_output();
    let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"\x1b]0;PASTED"));
    assert!(!has(b"\x1b[31;5;7mREDPASTE"));
    assert!(!has("\u{202e}".as_bytes()));
}

// Restart: --resume reopens the conversation, and the prompt history is kept.

#[test]
fn resume_and_prompt_history_survive_a_restart() {
    let srv = FakeServer::start();
    let mut t = spawn(&srv, 100, 30);
    say(&mut t, "persist me");
    t.wait_for("echo: persist me", T);
    wait_idle_stop(&mut t);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());

    // A second run with the first one's HOME and XDG directories.
    let home = t.home().to_path_buf();
    let dir = |p: &str| home.join(p).display().to_string();
    let (h, cfg, data, state, cache) = (
        dir(""),
        dir(".config"),
        dir(".local/share"),
        dir(".local/state"),
        dir(".cache"),
    );
    let url = srv.url();
    let mut t2 = Tui::spawn(
        &["--base-url", &url, "--model", "fake-small", "--resume"],
        &[
            ("OPENAI_API_KEY", KEY),
            ("HOME", &h),
            ("XDG_CONFIG_HOME", &cfg),
            ("XDG_DATA_HOME", &data),
            ("XDG_STATE_HOME", &state),
            ("XDG_CACHE_HOME", &cache),
        ],
        100,
        30,
    );
    wait_all(&mut t2, &["persist me", "echo: persist me", "● idle"]);
    t2.key(Key::Up);
    t2.wait_until("Up to recall the prompt of the last run", T, |s| {
        input_box(&full(s)) == "persist me"
    });
    t2.key(Key::Enter);
    let reqs = srv.wait_completions(2, T);
    let msgs = reqs[1].json()["messages"].clone();
    assert_eq!(
        msgs,
        serde_json::json!([
            {"role": "user", "content": "persist me"},
            {"role": "assistant", "content": "echo: persist me"},
            {"role": "user", "content": "persist me"},
        ]),
        "the resumed conversation goes along"
    );
    t2.wait_until("the second reply", T, |s| {
        full(s).matches("echo: persist me").count() == 2
    });
    t2.key(Key::Ctrl('q'));
    assert!(t2.wait_exit(T).success());
}

// Keys rebound per pane in the config's [keys.PANE] tables.

#[test]
fn keys_rebound_in_a_pane_from_the_config_work_in_the_app() {
    let srv = FakeServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[keys.input]\nenter = \"newline\"\nctrl-s = \"submit\"\n\n[keys.conversation]\nx = \"scroll_top\"\n",
    )
    .expect("write config");
    let url = srv.url();
    let config = config.to_string_lossy().into_owned();
    let mut t = Tui::spawn(
        &[
            "--config",
            &config,
            "--base-url",
            &url,
            "--model",
            "fake-small",
        ],
        &[("OPENAI_API_KEY", KEY)],
        100,
        30,
    );
    t.wait_for("Welcome to chat-tui", T);
    // The hint bar says what sends now.
    t.wait_for("Ctrl+S send", T);
    t.send("first line");
    t.key(Key::Enter);
    t.send("second line");
    t.wait_until("Enter to insert a line break", T, |s| {
        input_box(&full(s)) == "first line\nsecond line"
    });
    assert!(srv.completions().is_empty(), "Enter no longer sends");
    t.key(Key::Ctrl('s'));
    let reqs = srv.wait_completions(1, T);
    assert_eq!(
        reqs[0].json()["messages"][0]["content"],
        "first line\nsecond line"
    );
    t.wait_for("echo: first line", T);
}

/// The HTTP client is set up after the first frame: a trust store it cannot use (here a
/// certificate file holding no valid certificate) no longer stops the app from starting;
/// the first request says what failed, nothing is sent, and the app stays usable.
#[test]
fn a_trust_store_that_cannot_be_used_fails_the_first_request_not_the_start() {
    let srv = FakeServer::start();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let empty = dir.path().join("certs");
    std::fs::create_dir(&empty).unwrap();
    let (file, certs) = (bad.to_string_lossy(), empty.to_string_lossy());
    let url = srv.url();
    let mut t = Tui::spawn(
        &["--base-url", &url, "--model", "fake-small"],
        &[
            ("OPENAI_API_KEY", KEY),
            ("SSL_CERT_FILE", &file),
            ("SSL_CERT_DIR", &certs),
        ],
        100,
        30,
    );
    t.wait_for("Welcome to chat-tui", T);
    say(&mut t, "hello there");
    t.wait_for("could not set up the HTTP client", T);
    assert!(
        srv.requests().is_empty(),
        "nothing reaches the server without a client"
    );
    // Still usable: the draft can be written and the app quits cleanly.
    t.send("next");
    t.wait_for("next", T);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
    assert_restored(&t);
}

/// A long Markdown reply streamed word by word, with pauses so that it is drawn in many
/// frames while the view follows it (the terminal scrolls the rows that moved): the screen
/// at the end, colours and all, is exactly what a full redraw of the same state shows.
#[test]
fn streamed_reply_screen_equals_a_fresh_redraw() {
    let srv = FakeServer::start();
    let section = "## Section {i}\n\nParagraph {i} with **bold**, *italic*, `code_{i}()` and a [link](http://example.invalid/{i}) that wraps around the edge of the screen more than once.\n\n- bullet {i}\n- another bullet with `x = {i}`\n\n> a quote {i}\n\n```rust\nfn f_{i}() -> u32 {\n    {i}\n}\n```\n\n| a | b |\n|---|---|\n| {i} | 你好 |\n\n";
    let text: String = (0..8)
        .map(|i| section.replace("{i}", &i.to_string()))
        .collect::<String>()
        + "The end ZQXEND.";
    let mut steps = Vec::new();
    for (k, word) in text.split_inclusive([' ', '\n']).enumerate() {
        steps.push(SseStep::text(&chat_chunk(0, word, None)));
        if k % 3 == 0 {
            steps.push(SseStep::Sleep(Duration::from_millis(4)));
        }
    }
    steps.push(SseStep::text(&chat_chunk(0, "", Some("stop"))));
    steps.push(SseStep::text(support::fake_server::DONE));
    srv.push(Reply::Sse(steps));
    let mut t = spawn(&srv, 90, 30);
    say(&mut t, "go");
    wait_all(&mut t, &["ZQXEND"]);
    wait_idle_stop(&mut t);
    // Every cell below the title row (whose style ratatui may leave differently after a
    // title change: not what is tested here), with its colours and attributes.
    let cells = |s: &vt100::Screen| {
        let (rows, cols) = s.size();
        let mut v = Vec::new();
        for y in 1..rows.get() {
            for x in 0..cols.get() {
                if let Some(c) = s.cell(y, x) {
                    // A space written and a cell erased look the same.
                    let text = match c.contents() {
                        "" => " ",
                        t => t,
                    };
                    v.push((
                        y,
                        x,
                        text.to_string(),
                        c.fgcolor(),
                        c.bgcolor(),
                        c.bold(),
                        c.dim(),
                        c.italic(),
                        c.underline(),
                        c.inverse(),
                    ));
                }
            }
        }
        v
    };
    let streamed = t.with_screen(|s| (cells(s), full(s)));
    // A resize and back: the app clears the screen and draws it whole.
    t.resize(91, 30);
    t.wait_until("the wider frame", T, |s| {
        full(s).lines().any(|l| l.chars().count() == 91)
    });
    t.resize(90, 30);
    t.wait_until("the redraw", T, |s| full(s) == streamed.1);
    let redrawn = t.with_screen(cells);
    assert_eq!(streamed.0, redrawn, "the streamed screen:\n{}", streamed.1);
    t.key(Key::Ctrl('q'));
    t.wait_exit(T);
}
