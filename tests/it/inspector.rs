//! The inspector (`/request`, F3) and `/copy curl|request|response`: what the client records
//! against the fake server, the curl command run with bash against it, `update()` with the
//! record, the panel's snapshots, the transcript, and the real binary in a PTY.

use crate::support;

use std::time::Duration;

use chat_tui::action::{Effect, Msg};
use chat_tui::api::exchange::{Exchange, RawEvent};
use chat_tui::api::types::{Params, Prompt, Role, Shape, WireMessage};
use chat_tui::api::{ApiKey, Client, ClientConfig, Mode, Request, StreamEvent};
use chat_tui::app::inspector::{self, Line, Tab};
use chat_tui::app::{App, Event, Focus, Overlay, update};
use chat_tui::chat::conversation::{Conversation, Memory};
use chat_tui::ui::theme::Theme;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::fake_server::{DONE, FakeServer, Reply, SseStep, chat_chunk};
use support::pty::osc52_texts;
use support::pty::{Key, Tui};
use support::update::{key, start};

const T: Duration = Duration::from_secs(15);
const KEY: &str = "sk-test-0123456789-SECRETabcd";

fn client(srv: &FakeServer) -> Client {
    Client::new(ClientConfig {
        base_url: srv.url(),
        api_key: ApiKey::new(KEY),
        retries: 0,
        ..ClientConfig::default()
    })
    .unwrap()
}

fn chat_request(text: &str, stream: bool) -> Request {
    let params = Params {
        max_tokens: Some(7),
        ..Params::default()
    };
    Request {
        model: "fake".into(),
        prompt: Prompt::Chat(vec![WireMessage::new(Role::User, text)]),
        params,
        stream,
        shape: Shape::default(),
    }
}

fn run(client: &Client, req: &Request) -> (Result<String, String>, Exchange) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut text = String::new();
    let (result, ex) = rt.block_on(async {
        let mut sink = |e: StreamEvent| {
            if let StreamEvent::Delta { index: 0, text: t } = e {
                text.push_str(&t);
            }
        };
        client.send_recorded(req, &mut sink).await
    });
    (result.map(|_| text).map_err(|e| e.to_string()), ex)
}

#[test]
fn the_record_holds_the_body_as_sent_the_masked_key_and_the_events() {
    let srv = FakeServer::start();
    let (reply, ex) = run(&client(&srv), &chat_request("你好, it's me", true));
    assert_eq!(reply.unwrap(), "echo: 你好, it's me");
    let sent = srv.completions();
    // The body is byte for byte what the server received.
    assert_eq!(ex.body.as_deref(), Some(sent[0].body_str().as_str()));
    assert_eq!(ex.body_bytes as usize, sent[0].body_str().len());
    assert_eq!(ex.method, "POST");
    assert_eq!(ex.url, format!("{}/chat/completions", srv.url()));
    assert!(
        ex.request_headers
            .contains(&("Authorization".into(), "Bearer sk-…abcd".into())),
        "{:?}",
        ex.request_headers
    );
    assert_eq!(ex.status, Some(200));
    assert!(ex.total_events >= 3, "{ex:?}");
    assert_eq!(ex.events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    assert!(ex.ttfb_ms.is_some() && ex.duration_ms.is_some());
    assert!(ex.pretty_body().unwrap().contains("\"max_tokens\": 7"));
    // Nowhere the key: not in the record, its saved form or the curl command.
    let saved = serde_json::to_string(&ex).unwrap();
    for text in [format!("{ex:?}"), saved, ex.curl().unwrap()] {
        assert!(!text.contains(KEY) && !text.contains("SECRET"), "{text}");
    }
}

#[test]
fn a_response_with_thousands_of_events_keeps_the_first_and_last() {
    let srv = FakeServer::start();
    let mut steps: Vec<SseStep> = (0..5000)
        .map(|i| SseStep::text(&chat_chunk(0, &format!("{i} "), None)))
        .collect();
    steps.push(SseStep::text(&chat_chunk(0, "", Some("stop"))));
    steps.push(SseStep::text(DONE));
    srv.push(Reply::Sse(steps));
    let (reply, ex) = run(&client(&srv), &chat_request("count", true));
    assert!(reply.unwrap().ends_with("4999 "));
    assert_eq!(ex.total_events, 5002);
    assert_eq!(ex.events.len(), chat_tui::api::exchange::HEAD_EVENTS);
    assert_eq!(ex.tail.len(), chat_tui::api::exchange::TAIL_EVENTS);
    assert_eq!(ex.tail.back().map(|e| e.data.as_str()), Some("[DONE]"));
    assert!(
        ex.raw_response()
            .contains("4802 events not kept (5002 received)")
    );
}

#[test]
fn a_non_json_body_is_kept_as_text_and_shown_as_not_json() {
    let srv = FakeServer::start();
    srv.push(Reply::Status {
        status: 200,
        headers: vec![("Set-Cookie".into(), "session=topsecret".into())],
        body: "<html>proxy login</html>".into(),
    });
    let (reply, ex) = run(&client(&srv), &chat_request("hi", false));
    assert!(reply.unwrap_err().contains("not JSON"));
    assert_eq!(
        ex.response_body.as_deref(),
        Some("<html>proxy login</html>")
    );
    assert!(
        ex.response_headers
            .iter()
            .any(|(k, v)| k == "set-cookie" && !v.contains("topsecret")),
        "{:?}",
        ex.response_headers
    );
    let mut app = app_with(ex);
    inspector::open(&mut app);
    let text = panel_text(&app);
    assert!(
        text.contains("Response body · 24 bytes · not JSON"),
        "{text}"
    );
    assert!(text.contains("<html>proxy login</html>"), "{text}");
}

/// The text of choice 0 in a raw SSE stream (chat deltas or legacy completion texts).
fn streamed_text(raw: &str) -> String {
    raw.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            let c = &v["choices"][0];
            c["delta"]["content"]
                .as_str()
                .or(c["text"].as_str())
                .map(str::to_string)
        })
        .collect()
}

/// The curl command a record gives, run with bash (the key from the environment).
fn run_curl(curl: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(curl)
        .env("OPENAI_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{curl}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_copied_curl_command_reproduces_the_reply() {
    let srv = FakeServer::start();
    srv.set_require_key(Some(KEY));
    let c = client(&srv);
    // Streamed: the same text in the events.
    let (reply, ex) = run(&c, &chat_request("你好, it's 'quoted' $HOME", true));
    assert_eq!(reply.unwrap(), "echo: 你好, it's 'quoted' $HOME");
    let curl = ex.curl().unwrap();
    assert!(curl.starts_with("curl -N "), "{curl}");
    assert!(curl.contains("Bearer $OPENAI_API_KEY") && !curl.contains("SECRET"));
    let out = run_curl(&curl);
    assert!(out.contains("data: "), "{out}");
    assert_eq!(
        streamed_text(&out),
        "echo: 你好, it's 'quoted' $HOME",
        "{out}"
    );
    // The server got the same body twice.
    let sent = srv.completions();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].body_str(), sent[1].body_str());
    // Not streamed, the legacy completions call: the same JSON.
    let req = Request {
        prompt: Prompt::Completion("Say this is a test".into()),
        ..chat_request("", false)
    };
    let (reply, ex) = run(&c, &req);
    let reply = reply.unwrap();
    let out = run_curl(&ex.curl().unwrap());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["choices"][0]["text"].as_str(), Some(reply.as_str()));
}

// ---- update() -------------------------------------------------------------------------

fn new_app() -> App {
    let mut app = App::new(start(Conversation::new("fake", Mode::Chat, Memory::Full)));
    app.conn.base_url = "http://127.0.0.1:8080/v1".into();
    app.conn.key_mask = Some("sk-…abcd".into());
    app
}

/// An app whose one reply has `ex` as its record, sent and finished through `update()`.
fn app_with(ex: Exchange) -> App {
    let mut app = new_app();
    turn_with(&mut app, "hello", ex);
    app
}

fn sample() -> Exchange {
    Exchange {
        method: "POST".into(),
        url: "http://127.0.0.1:8080/v1/chat/completions".into(),
        request_headers: vec![
            ("Authorization".into(), "Bearer sk-…abcd".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        authorized: true,
        body: Some(
            r#"{"max_tokens":7,"messages":[{"content":"hello","role":"user"}],"model":"fake","stream":true}"#
                .into(),
        ),
        body_bytes: 91,
        stream: true,
        status: Some(200),
        response_headers: vec![("content-type".into(), "text/event-stream".into())],
        events: vec![
            RawEvent {
                ms: 12,
                event: None,
                data: r#"{"choices":[{"delta":{"content":"echo: hello"},"index":0}]}"#.into(),
            },
            RawEvent {
                ms: 15,
                event: None,
                data: "[DONE]".into(),
            },
        ],
        total_events: 2,
        response_bytes: 120,
        ttfb_ms: Some(9),
        first_data_ms: Some(12),
        duration_ms: Some(16),
        ..Exchange::default()
    }
}

fn panel(app: &App) -> inspector::InspectorPane {
    match &app.overlay {
        Some(Overlay::Inspector(p)) => p.clone(),
        other => panic!("no inspector: {other:?}"),
    }
}

fn panel_text(app: &App) -> String {
    inspector::lines(app, &panel(app))
        .into_iter()
        .map(|l| match l {
            Line::Title(t) | Line::Text(t) | Line::Note(t) => t,
            Line::Field(k, v) => format!("{k}: {v}"),
            Line::Blank => String::new(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn copied(fx: &[Effect]) -> String {
    fx.iter()
        .find_map(|e| match e {
            Effect::Copy { text, .. } => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no copy in {fx:?}"))
}

#[test]
fn f3_opens_the_record_of_the_last_reply_and_tab_shows_the_next_request() {
    let mut app = app_with(sample());
    let reply = app.conv.messages[1].id;
    assert!(app.conv.messages[1].exchange.is_some());
    update(&mut app, key(KeyCode::F(3)));
    let p = panel(&app);
    assert_eq!((p.reply, p.tab), (Some(reply), Tab::Sent));
    let text = panel_text(&app);
    for want in [
        "POST http://127.0.0.1:8080/v1/chat/completions",
        "Authorization: Bearer sk-…abcd",
        "  \"max_tokens\": 7,",
        "status: 200 OK",
        "Events · 2 received · ms from send",
        "     15  [DONE]",
        "time to first byte: 9 ms",
        "duration: 16 ms",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    // Scrolling, then the next request: what Enter would send with the draft now.
    update(&mut app, key(KeyCode::Down));
    assert_eq!(panel(&app).scroll, 1);
    app.set_draft("and now?");
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(panel(&app).tab, Tab::Next);
    let text = panel_text(&app);
    assert!(text.contains("tokens: "), "{text}");
    assert!(text.contains("memory: full"), "{text}");
    assert!(text.contains("\"content\": \"echo: hello\""), "{text}");
    assert!(text.contains("\"content\": \"and now?\""), "{text}");
    assert!(text.contains("Authorization: Bearer sk-…abcd"), "{text}");
    // The body there is the one sending would build.
    let next = app.next_request_tokens();
    assert!(
        next.is_some_and(|n| text.contains(&format!("tokens: {n}"))),
        "{text}"
    );
    // Esc closes.
    update(&mut app, key(KeyCode::Esc));
    assert!(app.overlay.is_none());
    // `/request` opens it too.
    app.set_draft("/request");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(panel(&app).reply, Some(reply));
}

#[test]
fn the_message_cursor_chooses_the_reply_and_arrows_move_between_replies() {
    let mut app = app_with(sample());
    let first = app.conv.messages[1].id;
    // A second exchange, with a different record.
    let mut ex2 = sample();
    ex2.status = Some(429);
    turn_with(&mut app, "second", ex2);
    let second = app.conv.messages[3].id;
    app.focus = Focus::Conversation;
    app.selected = Some(app.conv.messages[0].id); // on the first question: its reply
    update(&mut app, key(KeyCode::F(3)));
    assert_eq!(panel(&app).reply, Some(first));
    update(&mut app, key(KeyCode::Right));
    assert_eq!(panel(&app).reply, Some(second));
    assert!(panel_text(&app).contains("status: 429 Too Many Requests"));
    update(&mut app, key(KeyCode::Left));
    assert_eq!(panel(&app).reply, Some(first));
}

#[test]
fn copy_curl_request_and_response_copy_the_record() {
    let mut app = app_with(sample());
    app.set_draft("/copy curl");
    let curl = copied(&update(&mut app, key(KeyCode::Enter)));
    assert!(curl.starts_with("curl -N 'http://127.0.0.1:8080/v1/chat/completions'"));
    assert!(curl.contains("-H \"Authorization: Bearer $OPENAI_API_KEY\""));
    assert!(curl.contains(r#"-d '{"max_tokens":7,"#), "{curl}");
    app.set_draft("/copy request");
    let body = copied(&update(&mut app, key(KeyCode::Enter)));
    assert_eq!(Some(body), sample().body);
    app.set_draft("/copy response");
    let raw = copied(&update(&mut app, key(KeyCode::Enter)));
    assert!(raw.starts_with("data: {\"choices\""), "{raw}");
    assert!(raw.ends_with("data: [DONE]\n\n"), "{raw}");
    // In the panel, `c` copies too.
    update(&mut app, key(KeyCode::F(3)));
    let fx = update(&mut app, key(KeyCode::Char('c')));
    assert_eq!(copied(&fx), curl);
}

#[test]
fn a_reopened_transcript_keeps_the_record_and_one_without_says_so() {
    let app = app_with(sample());
    let json = String::from_utf8(chat_tui::store::to_json(&app.conv)).unwrap();
    assert!(json.contains("\"exchange\""), "{json}");
    // Never the request headers (the masked key included).
    assert!(
        !json.contains("Authorization") && !json.contains("sk-…"),
        "{json}"
    );
    let conv = chat_tui::store::parse(json.as_bytes()).unwrap();
    let mut reopened = new_app();
    let _ = reopened.load_conversation(conv, None);
    update(&mut reopened, key(KeyCode::F(3)));
    let text = panel_text(&reopened);
    assert!(text.contains("\"max_tokens\": 7"), "{text}");
    assert!(text.contains("not saved with the transcript"), "{text}");
    // Without the record (an older file), or with one that does not parse.
    let old = json.replace("\"exchange\"", "\"exchange_of_the_future\"");
    let broken = json.replace("\"POST\"", "7");
    for text in [old, broken] {
        let conv = chat_tui::store::parse(text.as_bytes()).unwrap();
        assert!(conv.messages[1].exchange.is_none());
        let mut app = new_app();
        let _ = app.load_conversation(conv, None);
        update(&mut app, key(KeyCode::F(3)));
        assert!(
            panel_text(&app).contains("no request record"),
            "{}",
            panel_text(&app)
        );
        app.overlay = None;
        app.set_draft("/copy curl");
        let fx = update(&mut app, key(KeyCode::Enter));
        assert!(!fx.iter().any(|e| matches!(e, Effect::Copy { .. })));
        let notice = app.status.notice.as_ref().map(|n| n.text.clone());
        assert!(
            notice
                .as_deref()
                .is_some_and(|n| n.contains("no request record")),
            "{notice:?}"
        );
    }
}

#[test]
fn a_huge_body_is_shown_by_its_size_and_not_copied() {
    let mut ex = sample();
    ex.body = None;
    ex.body_bytes = 5 * 1024 * 1024;
    let mut app = app_with(ex);
    update(&mut app, key(KeyCode::F(3)));
    let text = panel_text(&app);
    assert!(text.contains("Request body · 5,242,880 bytes"), "{text}");
    assert!(text.contains("not kept: over the 1024 KiB"), "{text}");
    app.overlay = None;
    app.set_draft("/copy curl");
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Copy { .. })));
}

/// Sends `text` and finishes its reply with `ex` as the record, through `update()`.
fn turn_with(app: &mut App, text: &str, ex: Exchange) {
    app.set_draft(text);
    let fx = update(app, key(KeyCode::Enter));
    let turn = fx
        .iter()
        .find_map(|e| match e {
            Effect::Send { turn, .. } => Some(*turn),
            _ => None,
        })
        .unwrap();
    let ev = StreamEvent::Delta {
        index: 0,
        text: format!("echo: {text}"),
    };
    update(app, Event::Msg(Msg::Stream { turn, event: ev }));
    update(
        app,
        Event::Msg(Msg::Exchange {
            turn,
            exchange: Box::new(ex),
        }),
    );
    update(
        app,
        Event::Msg(Msg::Done {
            turn,
            result: Ok(Default::default()),
        }),
    );
}

#[test]
fn a_long_chat_keeps_the_newest_records_whole_and_the_summary_of_older_ones() {
    use chat_tui::api::exchange::KEPT_PER_CONVERSATION;
    // Every request repeats the conversation so far: 12 turns whose bodies reach 480 KB
    // would be 3.1 MB of bodies in the transcript if every record were kept whole.
    let mut app = new_app();
    let mut sizes = Vec::new();
    for i in 0..12 {
        let mut ex = sample();
        let n = 40_000 * (i + 1);
        ex.body = Some(format!("{{\"pad\":\"{}\"}}", "x".repeat(n)));
        ex.body_bytes = n as u64 + 10;
        sizes.push(ex.body_bytes);
        turn_with(&mut app, &format!("question {i}"), ex);
    }
    let replies: Vec<_> = app.conv.messages.iter().skip(1).step_by(2).collect();
    assert_eq!(replies.len(), 12);
    let kept: usize = replies
        .iter()
        .filter_map(|m| m.exchange.as_deref())
        .map(|e| e.bulk())
        .sum();
    assert!(kept <= KEPT_PER_CONVERSATION, "{kept}");
    let json = chat_tui::store::to_json(&app.conv);
    assert!(
        json.len() < KEPT_PER_CONVERSATION + 64 * 1024,
        "{}",
        json.len()
    );
    // The newest records are whole, the older ones their summary; every size is known.
    let whole: Vec<bool> = replies
        .iter()
        .map(|m| !m.exchange.as_deref().unwrap().trimmed)
        .collect();
    // Newest first: 480 + 440 KB fit in 1 MiB, with 400 KB more they would not.
    assert_eq!(whole.iter().filter(|w| **w).count(), 2, "{whole:?}");
    assert!(whole[10..].iter().all(|w| *w) && !whole[..10].iter().any(|w| *w));
    for (m, size) in replies.iter().zip(&sizes) {
        let ex = m.exchange.as_deref().unwrap();
        assert_eq!((ex.body_bytes, ex.status), (*size, Some(200)));
    }
    // Saved and opened again: the first reply's record says what it kept and why.
    let conv = chat_tui::store::parse(&json).unwrap();
    let mut app = new_app();
    let _ = app.load_conversation(conv, None);
    app.focus = Focus::Conversation;
    app.selected = Some(app.conv.messages[0].id);
    update(&mut app, key(KeyCode::F(3)));
    let text = panel_text(&app);
    assert!(text.contains("Request body · 40,010 bytes"), "{text}");
    assert!(text.contains("status: 200 OK"), "{text}");
    let why =
        "not kept: a conversation keeps the bodies and events of its newest requests, up to 1 MiB";
    assert_eq!(text.matches(why).count(), 2, "{text}");
    assert!(text.contains("Events · 2 received · 120 bytes"), "{text}");
    assert!(
        !text.contains("xxxx") && !text.contains("echo: hello"),
        "{text}"
    );
    // Nothing half-kept is copied: curl, the body, the response (keys c, b, r).
    for k in ['c', 'b', 'r'] {
        app.status.notice = None;
        let fx = update(&mut app, key(KeyCode::Char(k)));
        assert!(!fx.iter().any(|e| matches!(e, Effect::Copy { .. })), "{k}");
        let notice = app.status.notice.as_ref().map(|n| n.text.clone());
        assert!(
            notice
                .as_deref()
                .is_some_and(|n| n.contains("only the summary of")),
            "{notice:?}"
        );
    }
    // The newest reply's record is whole: it copies.
    app.overlay = None;
    app.focus = Focus::Input;
    app.set_draft("/copy request");
    let body = copied(&update(&mut app, key(KeyCode::Enter)));
    assert_eq!(body.len() as u64, sizes[11]);
}

fn draw(app: &App, w: u16, h: u16) -> String {
    let pane = panel(app);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| chat_tui::ui::inspector::draw(f, f.area(), app, &pane, &Theme::default()))
        .unwrap();
    t.backend().to_string()
}

#[test]
fn snapshots_of_the_inspector() {
    let mut app = app_with(sample());
    update(&mut app, key(KeyCode::F(3)));
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(format!("inspector_sent_{w}x{h}"), draw(&app, w, h));
    }
    // Scrolled to the end: the timings.
    update(&mut app, key(KeyCode::End));
    insta::assert_snapshot!("inspector_sent_end_80x24", draw(&app, 80, 24));
    update(&mut app, key(KeyCode::Tab));
    insta::assert_snapshot!("inspector_next_80x24", draw(&app, 80, 24));
}

// ---- the real binary ------------------------------------------------------------------

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn pty_f3_shows_the_masked_key_and_the_body_and_copy_curl_runs() {
    let srv = FakeServer::start();
    srv.set_require_key(Some(KEY));
    let url = srv.url();
    let mut t = Tui::spawn(
        &["--base-url", &url, "--model", "fake"],
        &[("OPENAI_API_KEY", KEY)],
        120,
        40,
    );
    t.wait_for("Welcome to chat-tui", T);
    t.send("/set max_tokens 7");
    t.key(Key::Enter);
    t.send("你好 it's me");
    t.key(Key::Enter);
    t.wait_until("the reply and idle", T, |s| {
        let sc = s.contents();
        sc.contains("echo: 你好 it's me") && sc.contains("● idle")
    });
    t.key(Key::F(3));
    t.wait_for("Bearer sk-…abcd", T);
    t.wait_for("\"max_tokens\": 7", T);
    t.wait_for("POST ", T);
    assert!(!t.screen().contains("SECRET"), "{}", t.screen());
    t.key(Key::Esc);
    t.wait_until("the inspector closed", T, |s| {
        !s.contents().contains("Bearer sk-…abcd")
    });
    t.send("/copy curl");
    t.key(Key::Enter);
    let deadline = std::time::Instant::now() + T;
    let curl = loop {
        if let Some(c) = osc52_texts(&t.raw_output()).into_iter().last() {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "{}", t.screen());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!curl.contains("SECRET"), "{curl}");
    let out = run_curl(&curl);
    assert_eq!(streamed_text(&out), "echo: 你好 it's me", "{out}");
    t.wait_for("(curl command, reply 1)", T);
    // Nothing the program wrote holds the key: not the screen, not its files.
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
    assert!(!String::from_utf8_lossy(&t.raw_output()).contains("SECRET"));
    let mut files = Vec::new();
    files_under(t.home(), &mut files);
    let transcripts: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|s| s.contains("chat-tui-transcript"))
        .collect();
    assert!(
        transcripts.iter().any(|s| s.contains("\"exchange\"")),
        "{transcripts:?}"
    );
    for p in &files {
        let bytes = std::fs::read(p).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SECRET"),
            "the key in {p:?}"
        );
    }
}
