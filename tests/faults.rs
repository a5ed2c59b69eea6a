//! The fault matrix (docs/faults.md): the rows not already proven elsewhere. Each test feeds
//! chat-tui one fault and checks it keeps working, says what happened, and loses nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use chat_tui::api::client::{ApiKey, Client, ClientConfig, Timeouts};
use chat_tui::api::error::ApiError;
use chat_tui::api::types::{Params, Prompt, Request, Role, StreamEvent, WireMessage};
use support::fake_server::{FakeServer, Reply, SseStep, chat_chunk};
use support::pty::{Key, Tui};

const BIN: &str = env!("CARGO_BIN_EXE_chat-tui");
const CANARY: &str = "sk-test-SECRET-canary-42";

fn client(server: &FakeServer, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = ClientConfig {
        base_url: server.url(),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(5),
        },
        retries: 0,
        backoff: Duration::from_millis(10),
        ..ClientConfig::default()
    };
    f(&mut cfg);
    Client::new(cfg).unwrap()
}

fn chat(n: Option<u32>) -> Request {
    Request {
        model: "fake-small".into(),
        prompt: Prompt::Chat(vec![WireMessage::new(Role::User, "hello")]),
        params: Params {
            n,
            ..Params::default()
        },
        stream: true,
    }
}

/// Text per choice and the result.
async fn run(
    c: &Client,
    req: &Request,
) -> (Vec<String>, Result<chat_tui::api::types::Outcome, ApiError>) {
    let mut texts: Vec<String> = Vec::new();
    let r = {
        let mut sink = |ev: StreamEvent| {
            if let StreamEvent::Delta { index, text } = ev {
                let i = index as usize;
                if texts.len() <= i {
                    texts.resize(i + 1, String::new());
                }
                texts[i].push_str(&text);
            }
        };
        c.send(req, &mut sink).await
    };
    (texts, r)
}

// ---------------------------------------------------------------- HTTP

#[tokio::test]
async fn http_403_says_to_check_the_key() {
    let s = FakeServer::start();
    s.push(Reply::error(
        403,
        "You are not allowed to sample from this model",
    ));
    let c = client(&s, |c| c.api_key = ApiKey::new(CANARY));
    let e = run(&c, &chat(None)).await.1.unwrap_err().to_string();
    assert!(
        e.contains("HTTP 403") && e.contains("not allowed to sample"),
        "{e}"
    );
    assert!(
        e.contains("check the API key") && !e.contains(CANARY),
        "{e}"
    );
}

#[tokio::test]
async fn http_404_model_not_found_points_at_the_model_list() {
    let s = FakeServer::start();
    s.push(Reply::error(
        404,
        "The model `gpt-9` does not exist or you do not have access to it.",
    ));
    let e = run(&client(&s, |_| {}), &chat(None))
        .await
        .1
        .unwrap_err()
        .to_string();
    assert!(e.contains("The model `gpt-9` does not exist"), "{e}");
    assert!(e.contains("/model lists the server's models"), "{e}");
}

#[tokio::test]
async fn http_413_and_context_length_offer_summarize_or_new() {
    let s = FakeServer::start();
    s.push(Reply::Status {
        status: 413,
        headers: vec![],
        body: "Request Entity Too Large".into(),
    });
    let e = run(&client(&s, |_| {}), &chat(None)).await.1.unwrap_err();
    assert!(e.is_context_overflow());
    assert!(
        e.to_string().contains("/memory summarize") && e.to_string().contains("/new"),
        "{e}"
    );
    s.push(Reply::Status {
        status: 400,
        headers: vec![],
        body: r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#.into(),
    });
    let e = run(&client(&s, |_| {}), &chat(None)).await.1.unwrap_err();
    assert!(
        e.is_context_overflow() && e.to_string().contains("maximum context length is 8192"),
        "{e}"
    );
}

#[tokio::test]
async fn http_429_without_retry_after_backs_off_and_retries() {
    let s = FakeServer::start();
    s.push(Reply::error(429, "Rate limit reached"));
    s.push(Reply::error(429, "Rate limit reached"));
    let c = client(&s, |c| {
        c.retries = 3;
        c.backoff = Duration::from_millis(50);
    });
    let started = std::time::Instant::now();
    let (texts, r) = run(&c, &chat(None)).await;
    r.unwrap();
    assert_eq!(texts, vec!["echo: hello"]);
    assert_eq!(s.requests().len(), 3);
    // 50 ms, then 100 ms.
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn http_5xx_with_json_html_and_empty_bodies() {
    for (status, body, expect) in [
        (
            500,
            r#"{"error":{"message":"internal boom"}}"#,
            "internal boom",
        ),
        (
            502,
            "<html><body><h1>Bad Gateway</h1></body></html>",
            "Bad Gateway",
        ),
        (503, "", "(empty body)"),
    ] {
        let s = FakeServer::start();
        s.push(Reply::Status {
            status,
            headers: vec![],
            body: body.into(),
        });
        let e = run(&client(&s, |_| {}), &chat(None))
            .await
            .1
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("HTTP {status}")) && e.contains(expect),
            "{e}"
        );
        assert!(e.contains("/retry"), "{e}");
        assert!(!e.contains('<'), "{e}");
    }
}

// ---------------------------------------------------------------- network

#[tokio::test]
async fn dns_failure_is_a_connect_error() {
    let c = Client::new(ClientConfig {
        base_url: "http://no-such-host.invalid/v1".into(),
        retries: 0,
        ..ClientConfig::default()
    })
    .unwrap();
    let e = run(&c, &chat(None)).await.1.unwrap_err();
    assert!(
        matches!(e, ApiError::Connect { .. } | ApiError::Timeout { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("no-such-host.invalid") || e.to_string().contains("connect"),
        "{e}"
    );
}

#[tokio::test]
async fn tls_failure_is_reported_as_such() {
    // https:// to a server that answers the TLS hello with plain HTTP: the handshake fails.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let c = Client::new(ClientConfig {
        base_url: url,
        retries: 0,
        ..ClientConfig::default()
    })
    .unwrap();
    let e = run(&c, &chat(None)).await.1.unwrap_err();
    assert!(matches!(e, ApiError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("secure connection"), "{e}");
}

// ---------------------------------------------------------------- protocol

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let s = FakeServer::start();
    s.push(Reply::Sse(vec![
        SseStep::Bytes(b"data: {\"id\":\"x\",\"system_fingerprint\":\"fp\",\"new_thing\":{\"a\":[1]},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\",\"reasoning\":\"hmm\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n".to_vec()),
        SseStep::Bytes(chat_chunk(0, "", Some("stop")).into_bytes()),
        SseStep::Bytes(b"data: [DONE]\n\n".to_vec()),
    ]));
    let (texts, r) = run(&client(&s, |_| {}), &chat(None)).await;
    r.unwrap();
    assert_eq!(texts, vec!["ok"]);
}

#[tokio::test]
async fn missing_choices() {
    // In a stream: chunks without choices carry nothing and are passed over.
    let s = FakeServer::start();
    s.push(Reply::Sse(vec![
        SseStep::Bytes(b"data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\"}\n\n".to_vec()),
        SseStep::Bytes(chat_chunk(0, "fine", Some("stop")).into_bytes()),
        SseStep::Bytes(b"data: [DONE]\n\n".to_vec()),
    ]));
    let (texts, r) = run(&client(&s, |_| {}), &chat(None)).await;
    r.unwrap();
    assert_eq!(texts, vec!["fine"]);
    // A whole (non-streamed) reply without choices is an error that says so.
    s.push(Reply::Status {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: r#"{"id":"x","object":"chat.completion"}"#.into(),
    });
    let mut req = chat(None);
    req.stream = false;
    let e = run(&client(&s, |_| {}), &req).await.1.unwrap_err();
    assert!(e.to_string().contains("no `choices`"), "{e}");
}

#[tokio::test]
async fn a_choice_index_beyond_n_is_kept_apart() {
    let s = FakeServer::start();
    s.push(Reply::Sse(vec![
        SseStep::Bytes(chat_chunk(0, "zero", Some("stop")).into_bytes()),
        SseStep::Bytes(chat_chunk(5, "five", Some("stop")).into_bytes()),
        SseStep::Bytes(b"data: [DONE]\n\n".to_vec()),
    ]));
    let (texts, r) = run(&client(&s, |_| {}), &chat(Some(1))).await;
    r.unwrap();
    assert_eq!(texts[0], "zero");
    assert_eq!(texts[5], "five");
}

fn big_stream(bytes: usize, done: bool) -> Vec<SseStep> {
    let piece = "x".repeat(1000);
    let mut steps: Vec<SseStep> = (0..bytes / 1000)
        .map(|_| SseStep::Bytes(chat_chunk(0, &piece, None).into_bytes()))
        .collect();
    if done {
        steps.push(SseStep::Bytes(chat_chunk(0, "", Some("stop")).into_bytes()));
        steps.push(SseStep::Bytes(b"data: [DONE]\n\n".to_vec()));
    }
    steps
}

#[tokio::test]
async fn a_50_mb_reply_arrives_whole_under_a_larger_cap() {
    let s = FakeServer::start();
    s.push(Reply::Sse(big_stream(50_000_000, true)));
    let c = client(&s, |c| c.max_reply_bytes = 64 << 20);
    let (texts, r) = run(&c, &chat(None)).await;
    r.unwrap();
    assert_eq!(texts[0].len(), 50_000_000);
}

#[tokio::test]
async fn a_reply_that_never_ends_is_cut_at_the_cap_with_its_text_kept() {
    let s = FakeServer::start();
    // No [DONE], no finish: it would go on; the cap stops it.
    s.push(Reply::Sse(big_stream(3_000_000, false)));
    let c = client(&s, |c| c.max_reply_bytes = 1 << 20);
    let (texts, r) = run(&c, &chat(None)).await;
    let e = r.unwrap_err();
    assert_eq!(e, ApiError::TooLarge { limit: 1 << 20 });
    assert!(e.to_string().contains("max_reply_bytes"), "{e}");
    assert!(
        texts[0].len() >= 1_000_000 && texts[0].len() <= 1 << 20,
        "{}",
        texts[0].len()
    );
}

// ---------------------------------------------------------------- local: config, data dir

fn home() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn headless(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn write_config(home: &Path, text: &str) -> PathBuf {
    let dir = home.join(".config/chat-tui");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_broken_config_stops_with_file_line_and_key_and_status_2() {
    let h = home();
    let p = write_config(h.path(), "model = \"m\"\n[params]\ntemperature = \"hot\"\n");
    let out = headless(h.path(), &["-p", "hi"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3:", p.display())) && err.contains("temperature"),
        "{err}"
    );
    // And the TUI refuses the same way, before touching the terminal.
    let out = headless(h.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unknown_config_key_is_an_error_not_ignored() {
    let h = home();
    let p = write_config(h.path(), "model = \"m\"\nmodle = \"typo\"\n");
    let out = headless(h.path(), &["-p", "hi"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:", p.display())) && err.contains("modle"),
        "{err}"
    );
}

#[test]
fn a_config_holding_a_key_readable_by_others_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let h = home();
    let s = FakeServer::start();
    let p = write_config(
        h.path(),
        &format!("api_key = \"{CANARY}\"\nbase_url = \"{}\"\n", s.url()),
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = headless(h.path(), &["-p", "hi"], &[]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("can be read by other users") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains(CANARY));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = headless(h.path(), &["-p", "hi"], &[]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("can be read by other users"));
}

#[test]
fn an_unusable_data_dir_leaves_the_app_usable_and_says_so() {
    let s = FakeServer::start();
    let h = home();
    // A file where the data directory should be: nothing can be created under it.
    let blocker = h.path().join("data-is-a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let mut t = Tui::spawn(
        &["--base-url", &s.url(), "--model", "fake-small"],
        &[("XDG_DATA_HOME", blocker.to_str().unwrap())],
        100,
        30,
    );
    t.wait_for("not be autosaved", Duration::from_secs(10));
    ready(&mut t);
    t.send("still works");
    t.key(Key::Enter);
    t.wait_for("echo: still works", Duration::from_secs(10));
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(Duration::from_secs(10)).success());
    assert_eq!(std::fs::read(&blocker).unwrap(), b"not a directory");
}

// ---------------------------------------------------------------- process

/// The app is up and its input box drawn (keys typed before raw mode would be lost).
fn ready(t: &mut Tui) {
    t.wait_for(" message ", Duration::from_secs(10));
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

fn conversations(home: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    files_under(&home.join(".local/share/chat-tui/conversations"), &mut v);
    v.retain(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("index.json"));
    v
}

#[test]
fn a_panic_restores_the_terminal_flushes_the_transcript_and_writes_a_clean_crash_report() {
    let s = FakeServer::start();
    s.set_require_key(Some(CANARY));
    let mut t = Tui::spawn(
        &["--base-url", &s.url(), "--model", "fake-small"],
        &[("CHAT_TUI_TEST_PANIC", "1"), ("OPENAI_API_KEY", CANARY)],
        100,
        30,
    );
    ready(&mut t);
    t.send("before the crash");
    t.key(Key::Enter);
    t.wait_for("echo: before the crash", Duration::from_secs(10));
    t.send("/panic");
    t.key(Key::Enter);
    let status = t.wait_exit(Duration::from_secs(10));
    assert!(!status.success());
    assert!(!t.alternate_screen(), "left the alternate screen");
    assert_eq!(t.termios_is_cooked(), Some(true), "raw mode undone");
    let home = t.home().to_path_buf();
    let mut crash = Vec::new();
    files_under(&home.join(".local/state/chat-tui/crash"), &mut crash);
    assert_eq!(crash.len(), 1, "one crash report: {crash:?}");
    let report = std::fs::read_to_string(&crash[0]).unwrap();
    assert!(report.contains("test panic requested"), "{report}");
    let convs = conversations(&home);
    assert_eq!(convs.len(), 1);
    let c = chat_tui::store::load(&convs[0]).unwrap();
    assert!(
        c.messages
            .iter()
            .any(|m| m.text().contains("echo: before the crash"))
    );
    let mut all = Vec::new();
    files_under(&home, &mut all);
    for f in all {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(CANARY),
            "{} holds the key",
            f.display()
        );
    }
    assert!(!String::from_utf8_lossy(&t.raw_output()).contains(CANARY));
}

fn signal_test(sig: &str) {
    let s = FakeServer::start();
    let mut t = Tui::spawn(
        &["--base-url", &s.url(), "--model", "fake-small"],
        &[],
        100,
        30,
    );
    ready(&mut t);
    t.send("save me");
    t.key(Key::Enter);
    t.wait_for("echo: save me", Duration::from_secs(10));
    let pid = t.pid().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = t.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{sig}: {status:?}");
    assert!(!t.alternate_screen());
    assert_eq!(t.termios_is_cooked(), Some(true));
    let convs = conversations(t.home());
    assert_eq!(convs.len(), 1, "{sig}");
    let c = chat_tui::store::load(&convs[0]).unwrap();
    assert!(
        c.messages.iter().any(|m| m.text() == "echo: save me"),
        "{sig}"
    );
}

#[test]
fn sigterm_saves_restores_and_exits() {
    signal_test("-TERM");
}

#[test]
fn sighup_saves_restores_and_exits() {
    signal_test("-HUP");
}

// ---------------------------------------------------------------- secrets

#[test]
fn the_key_never_shows_in_headless_output_errors_or_debug() {
    let s = FakeServer::start();
    s.set_require_key(Some("sk-test-the-right-one"));
    let h = home();
    let out = headless(
        h.path(),
        &["-p", "hi", "--base-url", &s.url()],
        &[("OPENAI_API_KEY", CANARY)],
    );
    assert_eq!(out.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("HTTP 401") && all.contains("check the API key"),
        "{all}"
    );
    assert!(!all.contains(CANARY) && !all.contains("Bearer"), "{all}");
    // What the server echoed back is masked, as OpenAI does.
    let cfg = ClientConfig {
        api_key: ApiKey::new(CANARY),
        ..ClientConfig::default()
    };
    assert!(!format!("{cfg:?}").contains(CANARY));
    let c = Client::new(cfg).unwrap();
    assert!(!format!("{c:?}").contains(CANARY));
}
