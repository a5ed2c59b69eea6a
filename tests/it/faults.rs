//! The fault matrix (docs/faults.md): the rows tests/api.rs and the unit tests do not
//! already prove. Client level against the fake server, headless runs of the binary,
//! rendering into a ratatui buffer, and full-screen sessions in a pseudo-terminal.

use crate::support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chat_tui::api::client::{ApiKey, Client, ClientConfig, Timeouts};
use chat_tui::api::error::ApiError;
use chat_tui::api::types::{
    Outcome, Params, Prompt, Request, Role, Shape, StreamEvent, WireMessage,
};
use chat_tui::chat::conversation::{Choice, Message, Speaker};
use chat_tui::ui::conversation::ConversationView;
use chat_tui::ui::markdown;
use chat_tui::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use support::fake_server::{FakeServer, Reply, SseStep, chat_chunk};
use support::pty::{Key, Tui};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";
const SECS10: Duration = Duration::from_secs(10);

// ----------------------------------------------------------------------------------------
// Client level
// ----------------------------------------------------------------------------------------

fn client_at(base_url: &str, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = ClientConfig {
        base_url: base_url.to_string(),
        api_key: ApiKey::new(KEY),
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

fn client(server: &FakeServer) -> Client {
    client_at(&server.url(), |_| {})
}

fn chat_n(text: &str, n: u32) -> Request {
    let mut params = Params::default();
    if n > 1 {
        params.set("n", &n.to_string()).unwrap();
    }
    Request {
        model: "fake-small".into(),
        prompt: Prompt::Chat(vec![WireMessage::new(Role::User, text)]),
        params,
        stream: true,
        shape: Shape::default(),
    }
}

fn chat(text: &str) -> Request {
    chat_n(text, 1)
}

/// Per-choice text and the result.
async fn send(client: &Client, req: &Request) -> (Vec<String>, Result<Outcome, ApiError>) {
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
        client.send(req, &mut sink).await
    };
    (texts, r)
}

fn status(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    Reply::Status {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.into(),
    }
}

fn done() -> SseStep {
    SseStep::Bytes(b"data: [DONE]\n\n".to_vec())
}

fn bytes(s: impl Into<Vec<u8>>) -> SseStep {
    SseStep::Bytes(s.into())
}

#[tokio::test]
async fn a_403_says_to_check_the_key_and_never_shows_it() {
    let server = FakeServer::start();
    server.push(status(
        403,
        &[],
        r#"{"error":{"message":"Project does not have access to model `gpt-4o`","type":"invalid_request_error","code":"model_not_found"}}"#,
    ));
    let (_, r) = send(&client(&server), &chat("x")).await;
    let e = r.unwrap_err();
    let s = e.to_string();
    assert_eq!(e.status(), Some(403));
    assert!(s.contains("Project does not have access"), "{s}");
    assert!(s.contains("check the API key"), "{s}");
    assert!(!s.contains(KEY) && !format!("{e:?}").contains(KEY), "{s}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn a_404_names_the_model_and_says_what_to_check() {
    let server = FakeServer::start();
    server.push(status(
        404,
        &[("Content-Type", "application/json")],
        r#"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","code":"model_not_found"}}"#,
    ));
    let (_, r) = send(&client(&server), &chat("x")).await;
    let e = r.unwrap_err();
    let s = e.to_string();
    assert_eq!(e.status(), Some(404));
    assert!(s.contains("The model `gpt-9` does not exist"), "{s}");
    assert!(s.contains("check the model name"), "{s}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn a_413_and_a_context_length_400_offer_summarize_or_new() {
    let server = FakeServer::start();
    server.push(status(413, &[], "Request Entity Too Large"));
    server.push(status(
        400,
        &[],
        r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
    ));
    let c = client(&server);
    for expect_status in [413, 400] {
        let (_, r) = send(&c, &chat("x")).await;
        let e = r.unwrap_err();
        assert_eq!(e.status(), Some(expect_status));
        assert!(e.is_context_overflow(), "{e:?}");
        let s = e.to_string();
        assert!(s.contains("/memory summarize") && s.contains("/new"), "{s}");
    }
    assert_eq!(server.requests().len(), 2, "neither is retried");
}

#[tokio::test]
async fn a_429_without_retry_after_backs_off_then_reports_a_clear_message() {
    let server = FakeServer::start();
    for _ in 0..2 {
        server.push(status(
            429,
            &[],
            r#"{"error":{"message":"Rate limit reached for requests","type":"requests"}}"#,
        ));
    }
    let c = client_at(&server.url(), |c| c.retries = 1);
    let (_, r) = send(&c, &chat("x")).await;
    let e = r.unwrap_err();
    let s = e.to_string();
    assert_eq!(e.status(), Some(429));
    assert!(s.contains("Rate limit reached for requests"), "{s}");
    assert!(s.contains("wait a moment and /retry"), "{s}");
    assert_eq!(server.requests().len(), 2, "one retry with backoff");
}

#[tokio::test]
async fn a_429_with_retry_after_says_how_long_when_retries_run_out() {
    let server = FakeServer::start();
    server.push(status(429, &[("Retry-After", "20")], "{}"));
    let (_, r) = send(&client(&server), &chat("x")).await;
    let s = r.unwrap_err().to_string();
    assert!(s.contains("wait 20 s"), "{s}");
}

#[tokio::test]
async fn server_errors_with_json_html_and_empty_bodies_read_well() {
    let server = FakeServer::start();
    let c = client(&server);
    for code in [500u16, 502, 503] {
        let cases = [
            (
                "application/json",
                r#"{"error":{"message":"upstream overloaded","type":"server_error"}}"#,
                "upstream overloaded",
            ),
            (
                "text/html",
                "<html><body><h1>Service Unavailable</h1><p>try later</p></body></html>",
                "Service Unavailable try later",
            ),
            ("text/plain", "", "(empty body)"),
        ];
        for (ctype, body, expect) in cases {
            server.push(status(code, &[("Content-Type", ctype)], body));
            let (_, r) = send(&c, &chat("x")).await;
            let e = r.unwrap_err();
            let s = e.to_string();
            assert_eq!(e.status(), Some(code));
            assert!(s.starts_with(&format!("HTTP {code}")), "{s}");
            assert!(s.contains(expect), "{code} {ctype}: {s}");
            assert!(s.contains("/retry may work"), "{s}");
            assert!(!s.contains('<') && !s.contains('\n'), "{s}");
        }
    }
}

#[tokio::test]
async fn an_unresolvable_host_is_a_connect_error() {
    let c = client_at("http://chat-tui-fault-test.invalid/v1", |c| {
        c.timeouts.connect = Duration::from_secs(3)
    });
    let (_, r) = send(&c, &chat("x")).await;
    let e = r.unwrap_err();
    // Without a resolver the lookup may also just run out of time: either way, clearly.
    assert!(
        matches!(e, ApiError::Connect { .. } | ApiError::Timeout { .. }),
        "{e:?}"
    );
    let s = e.to_string();
    assert!(s.contains("connect"), "{s}");
    assert!(!s.contains(KEY));
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_error() {
    // What a plain HTTP server answers to a TLS ClientHello.
    let addr = raw_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request",
    );
    let url = format!("https://{addr}/v1");
    let (_, r) = send(&client_at(&url, |_| {}), &chat("x")).await;
    let e = r.unwrap_err();
    assert!(matches!(e, ApiError::Tls { .. }), "{e:?}");
    assert!(e.to_string().starts_with("secure connection to"), "{e}");
}

/// A TCP server that answers every connection with `reply` and closes.
fn raw_server(reply: &'static [u8]) -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    addr
}

#[tokio::test]
async fn https_to_a_server_that_sends_garbage_is_a_tls_error() {
    let addr =
        raw_server(b"\x00\xff garbage that is not a TLS record \x15\x03\x03\x00\x02\x02\x28");
    let url = format!("https://{addr}/v1");
    let (_, r) = send(&client_at(&url, |_| {}), &chat("x")).await;
    let e = r.unwrap_err();
    assert!(matches!(e, ApiError::Tls { .. }), "{e:?}");
    assert!(e.to_string().starts_with("secure connection to"), "{e}");
}

#[tokio::test]
async fn a_connection_closed_before_any_response_is_an_error_not_a_hang() {
    let server = FakeServer::start();
    server.push(Reply::Close);
    let (texts, r) = send(&client(&server), &chat("x")).await;
    assert!(texts.is_empty());
    let e = r.unwrap_err();
    assert!(
        matches!(e, ApiError::Connect { .. } | ApiError::Network(_)),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_server_that_closes_right_after_the_headers_is_incomplete() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![SseStep::Drop]));
    let (texts, r) = send(&client(&server), &chat("x")).await;
    assert!(texts.is_empty());
    let e = r.unwrap_err();
    assert!(
        matches!(e, ApiError::Network(_) | ApiError::Incomplete),
        "{e:?}"
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        bytes(
            r#"data: {"id":"c1","object":"chat.completion.chunk","system_fingerprint":"fp","x_new":{"a":[1,2]},"choices":[{"index":0,"delta":{"role":"assistant","content":"hi","reasoning":"…","tool_calls":null},"logprobs":null,"finish_reason":null,"extra":true}]}

"#,
        ),
        bytes(chat_chunk(0, "", Some("stop"))),
        done(),
    ]));
    let (texts, r) = send(&client(&server), &chat("x")).await;
    r.unwrap();
    assert_eq!(texts, vec!["hi"]);
}

#[tokio::test]
async fn chunks_without_choices_are_skipped_and_a_whole_reply_without_them_is_an_error() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        bytes("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\"}\n\n"),
        bytes("data: {\"choices\":null}\n\n"),
        bytes("data: {\"choices\":{\"index\":0}}\n\n"),
        bytes(chat_chunk(0, "ok", Some("stop"))),
        done(),
    ]));
    let (texts, r) = send(&client(&server), &chat("x")).await;
    r.unwrap();
    assert_eq!(texts, vec!["ok"]);

    server.push(status(
        200,
        &[("Content-Type", "application/json")],
        r#"{"id":"c2","object":"chat.completion"}"#,
    ));
    let mut req = chat("x");
    req.stream = false;
    let (_, r) = send(&client(&server), &req).await;
    let e = r.unwrap_err();
    assert!(matches!(e, ApiError::Protocol(_)), "{e:?}");
    assert!(e.to_string().contains("no `choices`"), "{e}");
}

#[tokio::test]
async fn a_choice_index_beyond_n_is_skipped_with_a_warning() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        bytes(chat_chunk(0, "real", None)),
        // A huge index must not size anything by it.
        bytes(
            "data: {\"choices\":[{\"index\":4294967295,\"delta\":{\"content\":\"stray\"},\"finish_reason\":\"stop\"}]}\n\n",
        ),
        bytes(chat_chunk(5, "also stray", None)),
        bytes(chat_chunk(0, "", Some("stop"))),
        done(),
    ]));
    let (texts, r) = send(&client(&server), &chat("x")).await;
    let outcome = r.unwrap();
    assert_eq!(texts, vec!["real"]);
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("2 choice(s) with an index beyond")),
        "{:?}",
        outcome.warnings
    );

    // With n = 2, index 1 is fine.
    server.push(Reply::Sse(vec![
        bytes(chat_chunk(1, "b", Some("stop"))),
        bytes(chat_chunk(0, "a", Some("stop"))),
        done(),
    ]));
    let (texts, r) = send(&client(&server), &chat_n("x", 2)).await;
    assert!(r.unwrap().warnings.is_empty());
    assert_eq!(texts, vec!["a", "b"]);
}

#[tokio::test]
async fn an_error_event_inside_the_stream_keeps_the_partial_text() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        bytes(chat_chunk(0, "partial", None)),
        bytes("event: error\ndata: upstream <b>exploded</b>\n\n"),
    ]));
    let (texts, r) = send(&client(&server), &chat("x")).await;
    assert_eq!(texts, vec!["partial"]);
    let e = r.unwrap_err();
    assert!(matches!(e, ApiError::Stream(_)), "{e:?}");
    assert!(e.to_string().contains("upstream exploded"), "{e}");
}

#[tokio::test]
async fn utf8_split_across_reads_arrives_whole() {
    let server = FakeServer::start();
    let chunk = chat_chunk(0, "你好🌊", Some("stop")).into_bytes();
    // Split inside the 4-byte emoji and inside a 3-byte CJK character, a read at a time.
    let emoji_at = chunk.windows(4).position(|w| w == "🌊".as_bytes()).unwrap();
    let cjk_at = chunk.windows(3).position(|w| w == "好".as_bytes()).unwrap();
    let mut steps = Vec::new();
    let cuts = [
        0,
        cjk_at + 1,
        cjk_at + 2,
        emoji_at + 1,
        emoji_at + 3,
        chunk.len(),
    ];
    for w in cuts.windows(2) {
        steps.push(bytes(chunk[w[0]..w[1]].to_vec()));
        steps.push(SseStep::Sleep(Duration::from_millis(30)));
    }
    steps.push(done());
    server.push(Reply::Sse(steps));
    let (texts, r) = send(&client(&server), &chat("x")).await;
    r.unwrap();
    assert_eq!(texts, vec!["你好🌊"]);
}

#[tokio::test]
async fn invalid_utf8_becomes_replacement_characters() {
    let server = FakeServer::start();
    let mut chunk = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a".to_vec();
    chunk.extend_from_slice(b"\xff\xfe\xc3");
    chunk.extend_from_slice(b"b\"},\"finish_reason\":\"stop\"}]}\n\n");
    server.push(Reply::Sse(vec![bytes(chunk), done()]));
    let (texts, r) = send(&client(&server), &chat("x")).await;
    r.unwrap();
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].starts_with('a') && texts[0].ends_with('b'),
        "{texts:?}"
    );
    assert!(texts[0].contains('\u{FFFD}'), "{texts:?}");
}

#[tokio::test]
async fn a_50_mb_reply_is_cut_at_max_reply_bytes_with_a_clear_error() {
    let server = FakeServer::start();
    // 50 MB in 1 MB deltas.
    let delta = "x".repeat(1 << 20);
    let mut steps: Vec<SseStep> = (0..50)
        .map(|_| bytes(chat_chunk(0, &delta, None)))
        .collect();
    steps.push(bytes(chat_chunk(0, "", Some("stop"))));
    steps.push(done());
    server.push(Reply::Sse(steps));
    let limit = 4 << 20;
    let c = client_at(&server.url(), |c| c.max_reply_bytes = limit);
    let (texts, r) = send(&c, &chat("x")).await;
    let e = r.unwrap_err();
    assert_eq!(e, ApiError::TooLarge { limit });
    assert!(e.to_string().contains("max_reply_bytes"), "{e}");
    assert!(texts[0].len() <= limit, "kept {} bytes", texts[0].len());
    assert!(!texts[0].is_empty(), "the text up to the cap is kept");
}

#[tokio::test]
async fn a_reply_that_never_ends_is_cut_at_max_reply_bytes() {
    let server = FakeServer::start();
    // "Never ends": far more chunks than the cap allows, and no [DONE].
    let mut steps = Vec::new();
    for _ in 0..20_000 {
        steps.push(bytes(chat_chunk(0, "more and more ", None)));
    }
    steps.push(SseStep::Sleep(Duration::from_secs(60)));
    server.push(Reply::Sse(steps));
    let c = client_at(&server.url(), |c| c.max_reply_bytes = 64 * 1024);
    // Cut at the cap (TooLarge), not left waiting for the stalled stream (a timeout).
    let (_, r) = send(&c, &chat("x")).await;
    assert_eq!(r.unwrap_err(), ApiError::TooLarge { limit: 64 * 1024 });
}

#[tokio::test]
async fn one_enormous_sse_line_is_refused_not_buffered_forever() {
    let server = FakeServer::start();
    // A single line with no line end, bigger than max_reply_bytes + 64 KiB.
    let mut steps = vec![bytes(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"",
    )];
    for _ in 0..40 {
        steps.push(bytes(vec![b'y'; 64 * 1024]));
    }
    steps.push(SseStep::Sleep(Duration::from_secs(60)));
    server.push(Reply::Sse(steps));
    let c = client_at(&server.url(), |c| c.max_reply_bytes = 1 << 20);
    let (_, r) = send(&c, &chat("x")).await;
    let e = r.unwrap_err();
    assert!(matches!(e, ApiError::Protocol(_)), "{e:?}");
    assert!(e.to_string().contains("exceeded"), "{e}");
}

#[test]
fn debug_output_never_shows_the_key() {
    let secret = "sk-test-SECRET-canary-42";
    let cfg = ClientConfig {
        api_key: ApiKey::new(secret),
        ..ClientConfig::default()
    };
    let client = Client::new(cfg.clone()).unwrap();
    for shown in [
        format!("{cfg:?}"),
        format!("{cfg:#?}"),
        format!("{client:?}"),
        format!("{:?}", ApiKey::new(secret).unwrap()),
    ] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    let env = chat_tui::config::Env {
        api_key: Some(secret.into()),
        ..Default::default()
    };
    let mut settings = chat_tui::config::merge(
        None,
        Default::default(),
        &env,
        &Default::default(),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(
        settings.client_config().unwrap().api_key.unwrap().expose(),
        secret,
        "the key did get through"
    );
    for shown in [
        format!("{settings:?}"),
        format!("{settings:#?}"),
        format!("{env:?}"),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let file = chat_tui::config::parse_file(
        Path::new("/tmp/c.toml"),
        &format!("api_key = \"{secret}\"\n"),
    )
    .unwrap();
    let shown = format!("{file:?}");
    assert!(!shown.contains(secret), "{shown}");
}

// ----------------------------------------------------------------------------------------
// Headless: the binary as a process
// ----------------------------------------------------------------------------------------

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("chat-tui-faults")
            .tempdir()
            .unwrap();
        for d in [".config", ".local/share", ".local/state", ".cache"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Home { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn config_file(&self) -> PathBuf {
        self.path().join(".config/chat-tui/config.toml")
    }
    fn write_config(&self, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.config_file();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let hp = self.path();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-tui"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", hp)
            .env("LANG", "C.UTF-8")
            .env("XDG_CONFIG_HOME", hp.join(".config"))
            .env("XDG_DATA_HOME", hp.join(".local/share"))
            .env("XDG_STATE_HOME", hp.join(".local/state"))
            .env("XDG_CACHE_HOME", hp.join(".cache"))
            .current_dir(hp)
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn headless_401_shows_the_hint_and_never_the_key() {
    let server = FakeServer::start();
    server.set_require_key(Some("sk-test-the-right-one"));
    let home = Home::new();
    let out = home.run(
        &["-p", "hi", "--base-url", &server.url()],
        &[("OPENAI_API_KEY", KEY)],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains("check the API key"), "{err}");
    assert!(!err.contains(KEY), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(KEY));
}

#[test]
fn headless_context_length_400_suggests_summarize_or_new() {
    let server = FakeServer::start();
    server.push(status(
        400,
        &[],
        r#"{"error":{"message":"This model's maximum context length is 4097 tokens.","code":"context_length_exceeded"}}"#,
    ));
    let out = Home::new().run(
        &["-p", "hi", "--base-url", &server.url()],
        &[("OPENAI_API_KEY", KEY)],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("maximum context length is 4097 tokens"),
        "{err}"
    );
    assert!(err.contains("/memory summarize"), "{err}");
}

#[test]
fn headless_connection_refused_exits_1_with_a_clear_message() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/v1");
    let out = Home::new().run(
        &["-p", "hi", "--base-url", &url],
        &[("OPENAI_API_KEY", KEY)],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not connect to"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn a_broken_config_file_exits_2_naming_file_line_and_key() {
    let home = Home::new();
    let path = home.write_config("model = \"m\"\n[params]\ntemperature = \"hot\"\n", 0o600);
    let out = home.run(&["-p", "hi"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}:3:", path.display())), "{err}");
    assert!(err.contains("temperature"), "{err}");
}

#[test]
fn an_unknown_config_key_exits_2_naming_it() {
    let home = Home::new();
    let path = home.write_config("modle = \"gpt-4o\"\n", 0o600);
    let out = home.run(&["-p", "hi"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}:1:", path.display())), "{err}");
    assert!(err.contains("modle"), "{err}");
}

#[test]
fn a_config_holding_a_key_readable_by_others_is_warned_about() {
    let server = FakeServer::start();
    let home = Home::new();
    let path = home.write_config(
        &format!("base_url = \"{}\"\napi_key = \"{KEY}\"\n", server.url()),
        0o644,
    );
    let out = home.run(&["-p", "hi"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", path.display())),
        "{err}"
    );
    assert!(!err.contains(KEY), "{err}");
    // 0600: no warning.
    home.write_config(
        &format!("base_url = \"{}\"\napi_key = \"{KEY}\"\n", server.url()),
        0o600,
    );
    let out = home.run(&["-p", "hi"], &[]);
    assert!(!stderr(&out).contains("chmod"), "{}", stderr(&out));
}

// ----------------------------------------------------------------------------------------
// Rendering: hostile content into a ratatui buffer
// ----------------------------------------------------------------------------------------

fn assistant(id: u64, text: &str) -> Message {
    let mut m = Message::new(id, Speaker::Assistant, "");
    m.choices = vec![Choice {
        text: text.into(),
        finish_reason: None,
        ..Choice::default()
    }];
    m
}

fn draw(msgs: &[Message], width: u16, height: u16) -> Buffer {
    let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
    let mut view = ConversationView::new();
    view.render(msgs, buf.area, &mut buf, &Theme::default(), true, None);
    buf
}

fn assert_no_controls(buf: &Buffer) {
    for (i, cell) in buf.content.iter().enumerate() {
        let sym = cell.symbol();
        assert!(
            !sym.chars().any(|c| c.is_control()
                || ('\u{202A}'..='\u{202E}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
                || c == '\u{200B}'
                || c == '\u{FEFF}'),
            "cell {i} holds {sym:?}"
        );
    }
}

const HOSTILE: &str = "clear\x1b[2J\x1b[H title\x1b]0;pwned\x07 osc52\x1b]52;c;ZXZpbA==\x1b\\ \
    hyperlink\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\ c0\x01\x02\x07\x08\x0b\x0c\x0e\x7f \
    c1\u{80}\u{85}\u{9b}31m\u{9d}0;t\u{9c} bidi\u{202E}txt.exe\u{202C}\u{2066}i\u{2069} \
    zw\u{200B}\u{200C}\u{200D}\u{FEFF}x combining e\u{301}\u{302}\u{303}\u{304}\u{305} \
    cr\rover tab\tx";

#[test]
fn escape_sequences_and_controls_never_reach_a_cell() {
    for width in [80u16, 20, 7, 3] {
        let msgs = [
            Message::new(1, Speaker::User, HOSTILE),
            assistant(2, HOSTILE),
            assistant(
                3,
                &format!("```\n{HOSTILE}\n```\n\n> {HOSTILE}\n\n- {HOSTILE}"),
            ),
        ];
        let buf = draw(&msgs, width, 60);
        assert_no_controls(&buf);
    }
}

#[test]
fn very_long_lines_without_spaces_wrap_to_the_width() {
    let long = "a".repeat(50_000);
    let wide = "界".repeat(5_000);
    for width in [80u16, 13, 2] {
        for text in [
            &long,
            &wide,
            &format!("`{long}`"),
            &format!("```\n{long}\n```"),
        ] {
            let lines = markdown::render(text, width, &Theme::default());
            assert!(lines.len() > 1, "wrapped at {width}");
            for l in &lines {
                assert!(
                    l.width() <= width as usize,
                    "{} > {width}: {:?}",
                    l.width(),
                    &text[..text.len().min(8)]
                );
            }
        }
    }
    let buf = draw(&[assistant(1, &long)], 40, 10);
    assert_no_controls(&buf);
    let row: String = (0..39).map(|x| buf[(x, 1)].symbol().to_string()).collect();
    assert!(row.contains("aaaaaaaaaa"), "{row:?}");
}

#[test]
fn a_huge_code_block_renders() {
    let code = "fn f() { let x = \"\u{1b}[31m\"; }\n".repeat(20_000);
    let text = format!("```rust\n{code}```\n");
    let lines = markdown::render(&text, 60, &Theme::default());
    assert!(lines.len() >= 20_000);
    for l in &lines {
        assert!(l.width() <= 60);
        for s in &l.spans {
            assert!(!s.content.contains('\x1b'));
        }
    }
}

#[test]
fn markdown_nested_10000_deep_renders_without_overflowing_the_stack() {
    let cases = [
        format!("{} deep", ">".repeat(10_000)),
        "- ".repeat(10_000) + "leaf",
        "*".repeat(10_000) + "x" + &"*".repeat(10_000),
        "[".repeat(10_000) + "x" + &"](u)".repeat(10_000),
        "1. ".repeat(10_000) + "x",
        (0..10_000)
            .map(|i| format!("{}- x\n", "  ".repeat(i)))
            .collect::<String>(),
    ];
    // On a thread with a small stack: deep recursion would overflow it.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for md in &cases {
                let lines = markdown::render(md, 60, &Theme::default());
                for l in &lines {
                    assert!(l.width() <= 60);
                }
                let buf = draw(&[assistant(1, md)], 60, 30);
                assert_no_controls(&buf);
            }
        })
        .unwrap()
        .join()
        .expect("rendering finished");
}

// ----------------------------------------------------------------------------------------
// Local: unwritable data dir, disk full
// ----------------------------------------------------------------------------------------

/// Env for a full-screen session against `server` with the given key.
fn tui(server: &FakeServer, key: &str, extra: &[(&str, &str)], cols: u16, rows: u16) -> Tui {
    let mut env = vec![("OPENAI_API_KEY", key)];
    env.extend_from_slice(extra);
    let mut t = Tui::spawn(&["--base-url", &server.url()], &env, cols, rows);
    if cols >= 60 && rows >= 20 {
        // Typed before raw mode is on, Enter would arrive as a newline.
        t.wait_for("Welcome to chat-tui", SECS10);
    }
    t
}

/// Type `text`, Enter, and wait for the fake server's echo.
fn exchange(t: &mut Tui, text: &str) {
    t.send(text);
    t.key(Key::Enter);
    t.wait_for(&format!("echo: {text}"), SECS10);
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn transcripts(home: &Path) -> Vec<PathBuf> {
    files_under(&home.join(".local/share/chat-tui/conversations"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

/// Wait until some transcript holds `text`.
fn wait_transcript_with(home: &Path, text: &str) -> PathBuf {
    let deadline = std::time::Instant::now() + SECS10;
    loop {
        for p in transcripts(home) {
            if std::fs::read_to_string(&p).is_ok_and(|s| s.contains(text)) {
                return p;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no transcript holds {text:?}: {:?}",
            transcripts(home)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_unusable_data_dir_still_chats_and_says_so() {
    let server = FakeServer::start();
    // A file where a directory is expected stops writes even for root.
    let scratch = tempfile::tempdir().unwrap();
    let blocker = scratch.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let mut t = tui(
        &server,
        KEY,
        &[("XDG_DATA_HOME", blocker.to_str().unwrap())],
        120,
        30,
    );
    t.wait_for("cannot use the conversation folder", SECS10);
    exchange(&mut t, "still works");
    t.key(Key::Ctrl('q'));
    let st = t.wait_exit(SECS10);
    assert!(st.success(), "{st:?}");
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
}

/// `write_atomic` in a child process whose file-size limit (`ulimit -f`) makes the write
/// fail part-way with EFBIG, as a full disk would (ENOSPC) — no mount or privileges needed.
#[test]
fn a_write_that_fails_part_way_leaves_the_previous_transcript_intact() {
    if let Ok(target) = std::env::var("CHAT_TUI_FAULTS_WRITE_TARGET") {
        // The child: try to replace the file with 4 MB.
        let r = chat_tui::store::save::write_atomic(Path::new(&target), &vec![b'n'; 4 << 20]);
        std::fs::write(format!("{target}.result"), format!("{r:?}")).unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("conv.json");
    let old = br#"{"version":1,"old":"content"}"#;
    std::fs::write(&target, old).unwrap();
    let exe = std::env::current_exe().unwrap();
    // This test's name in the test binary: its module path without the crate's name.
    let name = concat!(
        module_path!(),
        "::a_write_that_fails_part_way_leaves_the_previous_transcript_intact"
    );
    let name = name.split_once("::").map_or(name, |(_, rest)| rest);
    let script = format!(
        "trap '' XFSZ; ulimit -f 64 && exec '{}' --exact {name} --test-threads 1",
        exe.display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env("CHAT_TUI_FAULTS_WRITE_TARGET", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = std::fs::read_to_string(dir.path().join("conv.json.result")).unwrap();
    assert!(result.starts_with("Err("), "the write failed: {result}");
    assert_eq!(std::fs::read(&target).unwrap(), old, "old file intact");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "no temp file left: {left:?}");
}

// ----------------------------------------------------------------------------------------
// Process: panic, signals, tiny terminal (in a pseudo-terminal)
// ----------------------------------------------------------------------------------------

fn assert_restored(t: &Tui) {
    assert_eq!(t.termios_is_cooked(), Some(true), "termios back to cooked");
    assert!(!t.alternate_screen(), "alternate screen left");
    assert!(t.cursor_visible(), "cursor shown");
    assert!(!t.bracketed_paste(), "bracketed paste off");
}

#[test]
fn a_panic_restores_the_terminal_flushes_the_transcript_and_writes_a_clean_crash_report() {
    let server = FakeServer::start();
    server.set_require_key(Some(KEY));
    let mut t = tui(&server, KEY, &[("CHAT_TUI_TEST_PANIC", "1")], 100, 30);
    exchange(&mut t, "before the crash");
    t.send("/panic");
    t.key(Key::Enter);
    let st = t.wait_exit(SECS10);
    assert!(!st.success(), "{st:?}");
    assert_restored(&t);
    let raw = String::from_utf8_lossy(&t.raw_output()).into_owned();
    assert!(raw.contains("a report was written to"), "{raw}");
    let crash = files_under(&t.home().join(".local/state/chat-tui/crash"));
    assert_eq!(crash.len(), 1, "{crash:?}");
    let report = std::fs::read_to_string(&crash[0]).unwrap();
    assert!(
        report.contains("test panic requested with /panic"),
        "{report}"
    );
    assert!(
        !report.contains(KEY) && !report.contains("Bearer"),
        "{report}"
    );
    assert!(!raw.contains(KEY));
    let p = wait_transcript_with(t.home(), "echo: before the crash");
    let conv = chat_tui::store::save::load(&p).unwrap();
    assert_eq!(conv.messages.len(), 2, "{:?}", conv.messages);
}

fn signal_test(signal: &str) {
    let server = FakeServer::start();
    let mut t = tui(&server, KEY, &[], 100, 30);
    exchange(&mut t, &format!("before {signal}"));
    let pid = t.pid().expect("pid");
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let st = t.wait_exit(SECS10);
    assert!(st.success(), "{signal}: {st:?}");
    assert_restored(&t);
    wait_transcript_with(t.home(), &format!("echo: before {signal}"));
}

#[test]
fn sigterm_saves_restores_and_exits() {
    signal_test("TERM");
}

#[test]
fn sighup_saves_restores_and_exits() {
    signal_test("HUP");
}

#[test]
fn sigint_saves_restores_and_exits() {
    // In raw mode Ctrl+C is a key; SIGINT comes from `kill -INT`.
    signal_test("INT");
}

#[test]
fn a_terminal_3x2_survives_and_recovers_on_resize() {
    let server = FakeServer::start();
    let mut t = tui(&server, KEY, &[], 3, 2);
    std::thread::sleep(Duration::from_millis(800));
    assert!(t.try_exit().is_none(), "still running at 3x2");
    t.send("tiny");
    t.key(Key::Enter);
    std::thread::sleep(Duration::from_millis(500));
    t.resize(1, 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(t.try_exit().is_none(), "still running at 1x1");
    t.resize(100, 30);
    t.wait_for("echo: tiny", SECS10);
    exchange(&mut t, "grown");
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(SECS10).success());
    assert_restored(&t);
}

// ----------------------------------------------------------------------------------------
// The same faults as the person at the keyboard sees them
// ----------------------------------------------------------------------------------------

#[test]
fn the_tui_offers_summarize_or_new_when_the_context_is_too_long() {
    let server = FakeServer::start();
    server.push(status(
        400,
        &[],
        r#"{"error":{"message":"maximum context length exceeded","code":"context_length_exceeded"}}"#,
    ));
    let mut t = tui(&server, KEY, &[], 220, 40);
    t.send("long");
    t.key(Key::Enter);
    t.wait_for("maximum context length exceeded", SECS10);
    t.wait_for("/memory summarize", SECS10);
    // Still usable.
    exchange(&mut t, "shorter");
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(SECS10).success());
}

#[test]
fn the_tui_cuts_an_endless_reply_at_max_reply_bytes_with_a_notice() {
    let server = FakeServer::start();
    let mut steps = Vec::new();
    for i in 0..2_000 {
        steps.push(bytes(chat_chunk(0, &format!("chunk{i} "), None)));
    }
    steps.push(SseStep::Sleep(Duration::from_secs(60)));
    server.push(Reply::Sse(steps));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "max_reply_bytes = 2000\n").unwrap();
    let mut t = Tui::spawn(
        &[
            "--base-url",
            &server.url(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[("OPENAI_API_KEY", KEY)],
        160,
        40,
    );
    t.wait_for("Welcome to chat-tui", SECS10);
    t.send("go on forever");
    t.key(Key::Enter);
    t.wait_for("cut off at 2000 bytes (max_reply_bytes)", SECS10);
    // The text up to the cap is kept and saved.
    let p = wait_transcript_with(t.home(), "chunk0 chunk1");
    assert!(
        std::fs::read_to_string(&p)
            .unwrap()
            .contains("max_reply_bytes")
    );
    exchange(&mut t, "next");
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(SECS10).success());
}

#[test]
fn a_corrupt_or_future_transcript_is_left_untouched_and_a_new_conversation_starts() {
    let server = FakeServer::start();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "future.json",
            br#"{"format": "chat-tui-transcript", "version": 99, "conversation": {}}"#,
            "upgrade to open it",
        ),
        (
            "cut.json",
            br#"{"format": "chat-tui-transcript", "version": 1, "conversation": {"id": "x", "#,
            "cut off",
        ),
        (
            "binary.json",
            b"\x89PNG\r\n\x1a\n\x00\xff",
            "not valid UTF-8",
        ),
    ];
    for (name, content, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let mut t = Tui::spawn(
            &[path.to_str().unwrap(), "--base-url", &server.url()],
            &[("OPENAI_API_KEY", KEY)],
            250,
            40,
        );
        // (The status line is one row: the notice's tail, "left untouched", may be cut.)
        t.wait_for(says, SECS10);
        exchange(&mut t, &format!("after {name}"));
        t.key(Key::Ctrl('q'));
        assert!(t.wait_exit(SECS10).success());
        assert_eq!(std::fs::read(&path).unwrap(), content, "{name} untouched");
    }
}

/// The full-screen app under `ulimit -f` (as a full disk): the autosave of a big reply fails,
/// the app says so and goes on, and the transcript on disk is the previous, whole one.
#[test]
fn the_tui_reports_a_failed_save_and_keeps_the_previous_transcript() {
    let server = FakeServer::start();
    let big = "z".repeat(300 * 1024);
    server.push(Reply::chat_stream(&["small reply"]));
    server.push(Reply::chat_stream(&["big:", &big]));
    let script = format!(
        "trap '' XFSZ; ulimit -f 64 && exec '{}' --base-url '{}'",
        env!("CARGO_BIN_EXE_chat-tui"),
        server.url()
    );
    let mut t = Tui::spawn_cmd(
        Path::new("/bin/sh"),
        &["-c", &script],
        &[("OPENAI_API_KEY", KEY)],
        160,
        40,
    );
    t.wait_for("Welcome to chat-tui", SECS10);
    t.send("first");
    t.key(Key::Enter);
    t.wait_for("small reply", SECS10);
    let p = wait_transcript_with(t.home(), "small reply");
    t.send("second");
    t.key(Key::Enter);
    t.wait_for("could not save", SECS10);
    assert!(t.screen().contains("File too large"), "{}", t.screen());
    // The last save that fit: whole, with the first exchange, without the big reply.
    chat_tui::store::save::load(&p).expect("the previous transcript is whole");
    let on_disk = std::fs::read_to_string(&p).unwrap();
    assert!(on_disk.contains("small reply"));
    assert!(
        !on_disk.contains("zzzzzzzz"),
        "the failed save left nothing"
    );
    let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    // Still usable.
    t.send("third");
    t.key(Key::Enter);
    t.wait_for("echo: third", SECS10);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(SECS10).success());
}
