//! End-to-end tests against a real OpenAI-compatible server: llama.cpp
//! (PyPI `xllamacpp`) serving SmolLM2-135M-Instruct, started through
//! `scripts/local-llm serve`. See docs/local-llm.md for what that server does.
//!
//! The first run creates `<repo>/.venv` (a few seconds with network access
//! to PyPI, ~220 MB). Set `CHAT_TUI_SKIP_REAL_SERVER=1` to skip these tests.
//!
//! One server is shared by every test in this file. It is started with
//! `--exit-on-stdin-eof` and its stdin is a pipe held by this process, so it
//! shuts down when the test process ends however it ends (statics are never
//! dropped); `ServerGuard` also stops it on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Context size per slot the server is started with.
const N_CTX: u64 = 2048;
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const SEED: u64 = 42;

// ---------------------------------------------------------------------------
// Server management
// ---------------------------------------------------------------------------

struct ServerGuard {
    child: Child,
    _stdin: Option<ChildStdin>,
    base_url: String,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        // Closing stdin asks the server to shut down cleanly; SIGKILL if it lingers.
        self._stdin.take();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn skip_requested() -> bool {
    static LOUD: std::sync::Once = std::sync::Once::new();
    if std::env::var("CHAT_TUI_SKIP_REAL_SERVER").as_deref() != Ok("1") {
        return false;
    }
    // Written straight to stderr: libtest captures `eprintln!` of passing tests.
    LOUD.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n##################################################################\n\
             ## SKIPPED: real llama.cpp server tests (CHAT_TUI_SKIP_REAL_SERVER=1)\n\
             ##################################################################\n"
        );
    });
    true
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

fn start_server() -> Result<ServerGuard, String> {
    let script = repo_root().join("scripts/local-llm");
    let setup = Command::new(&script)
        .arg("setup")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !setup.status.success() {
        return Err(format!(
            "`scripts/local-llm setup` failed ({}); set CHAT_TUI_SKIP_REAL_SERVER=1 to skip.\n{}",
            setup.status,
            String::from_utf8_lossy(&setup.stderr)
        ));
    }

    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(&script)
        .args(["serve", "--port", &port.to_string(), "--exit-on-stdin-eof"])
        .args([
            "--ctx",
            &N_CTX.to_string(),
            "--parallel",
            "2",
            "--threads",
            "2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot spawn local-llm serve: {e}"))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");

    // Keep both pipes drained for the server's whole life.
    let log = Arc::new(Mutex::new(String::new()));
    let log_w = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            log_w
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("READY ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });

    let mut guard = ServerGuard {
        child,
        _stdin: stdin,
        base_url: String::new(),
    };
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(url) => {
            eprintln!(
                "real_server: llama.cpp ready at {url} after {:.1?}",
                started.elapsed()
            );
            guard.base_url = url;
            Ok(guard)
        }
        Err(_) => {
            let status = guard.child.try_wait().ok().flatten();
            drop(guard);
            Err(format!(
                "local-llm serve never printed READY (exit: {status:?}); stderr:\n{}",
                log.lock().unwrap()
            ))
        }
    }
}

/// The shared server's base URL (`http://127.0.0.1:PORT/v1`), or `None` when
/// the tests are skipped. Panics if the server cannot be started.
fn server() -> Option<&'static str> {
    static SERVER: OnceLock<Result<ServerGuard, String>> = OnceLock::new();
    if skip_requested() {
        return None;
    }
    match SERVER.get_or_init(start_server) {
        Ok(guard) => Some(guard.base_url.as_str()),
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn post(base: &str, path: &str, body: &Value) -> (u16, String) {
    let resp = client()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("request reaches the server");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// Parses an SSE body into its `data:` payloads, checking the framing:
/// every event is one `data: ` line followed by a blank line, and the
/// stream ends with `data: [DONE]`.
fn sse_events(body: &str) -> Vec<Value> {
    assert!(
        body.ends_with("data: [DONE]\n\n"),
        "stream must end with [DONE]: {body:?}"
    );
    let mut events = Vec::new();
    for block in body.split("\n\n").filter(|b| !b.is_empty()) {
        let data = block
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("unexpected SSE block {block:?}"));
        assert!(!data.contains('\n'), "one data line per event: {block:?}");
        if data == "[DONE]" {
            continue;
        }
        events.push(serde_json::from_str(data).expect("event is JSON"));
    }
    events
}

fn usage_of(v: &Value) -> (u64, u64, u64) {
    let u = &v["usage"];
    (
        u["prompt_tokens"].as_u64().expect("prompt_tokens"),
        u["completion_tokens"].as_u64().expect("completion_tokens"),
        u["total_tokens"].as_u64().expect("total_tokens"),
    )
}

fn chat_body(prompt: &str, max_tokens: u32) -> Value {
    json!({
        "model": "smollm2",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": SEED,
    })
}

fn with(mut body: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// A prompt of about 3 x n_ctx words: more tokens than one slot holds.
fn overflow_prompt() -> String {
    vec!["word"; 3 * N_CTX as usize].join(" ")
}

// ---------------------------------------------------------------------------
// The server itself, at the HTTP level (independent of the headless CLI)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn real_server_answers_openai_api_streaming_chat_with_usage() {
    let Some(base) = server() else { return };
    let models: Value = client()
        .get(format!("{base}/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!models["data"].as_array().unwrap().is_empty());

    let body = with(
        chat_body("What is the capital of France?", 16),
        json!({"stream": true, "stream_options": {"include_usage": true}}),
    );
    let (status, text) = post(base, "/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);

    let mut content = String::new();
    let mut finish = Vec::new();
    for ev in &events {
        assert_eq!(ev["object"], "chat.completion.chunk");
        for c in ev["choices"].as_array().unwrap() {
            assert_eq!(c["index"], 0);
            if let Some(s) = c["delta"]["content"].as_str() {
                content.push_str(s);
            }
            if let Some(f) = c["finish_reason"].as_str() {
                finish.push(f.to_owned());
            }
        }
    }
    assert!(!content.trim().is_empty(), "reply text streamed");
    assert_eq!(finish.len(), 1, "exactly one finish_reason: {finish:?}");
    assert!(["stop", "length"].contains(&finish[0].as_str()));

    // include_usage: one extra chunk, choices empty, after the finish chunk.
    let usage_events: Vec<_> = events.iter().filter(|e| e.get("usage").is_some()).collect();
    assert_eq!(usage_events.len(), 1);
    let last = events.last().unwrap();
    assert!(last["choices"].as_array().unwrap().is_empty());
    let (p, c, t) = usage_of(last);
    assert!(p > 0 && c > 0 && c <= 16);
    assert_eq!(t, p + c);
}

#[tokio::test]
async fn real_server_answers_openai_api_max_tokens_gives_length() {
    let Some(base) = server() else { return };
    let (status, text) = post(
        base,
        "/chat/completions",
        &chat_body("Write a long story about a dragon.", 5),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let (p, c, t) = usage_of(&v);
    assert_eq!(c, 5, "llama.cpp generates exactly max_tokens");
    assert_eq!(t, p + c);
}

#[tokio::test]
async fn real_server_answers_openai_api_chat_n2() {
    let Some(base) = server() else { return };

    // Non-streamed: two choices; usage counts ONE choice's tokens, not the sum.
    let (status, text) = post(
        base,
        "/chat/completions",
        &with(chat_body("Say hi", 6), json!({"n": 2})),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let choices = v["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(c["index"], i);
        assert_eq!(c["finish_reason"], "length");
    }
    let (p, c, t) = usage_of(&v);
    assert_eq!(c, 6, "usage.completion_tokens is per choice, not summed");
    assert_eq!(t, p + c);

    // Streamed: both indices, each finishes once, one usage chunk PER CHOICE.
    let body = with(
        chat_body("Say hi", 6),
        json!({"n": 2, "stream": true, "stream_options": {"include_usage": true}}),
    );
    let (status, text) = post(base, "/chat/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let mut texts = [String::new(), String::new()];
    let mut finishes = [0, 0];
    let mut usage_chunks = 0;
    for ev in &events {
        if ev.get("usage").is_some() {
            usage_chunks += 1;
            assert!(ev["choices"].as_array().unwrap().is_empty());
            let (p, c, t) = usage_of(ev);
            assert_eq!((c, t), (6, p + 6));
        }
        for ch in ev["choices"].as_array().unwrap() {
            // One choice per chunk.
            assert_eq!(ev["choices"].as_array().unwrap().len(), 1);
            let i = ch["index"].as_u64().unwrap() as usize;
            texts[i].push_str(ch["delta"]["content"].as_str().unwrap_or(""));
            if ch["finish_reason"].is_string() {
                finishes[i] += 1;
            }
        }
    }
    assert!(texts.iter().all(|t| !t.is_empty()), "{texts:?}");
    assert_eq!(finishes, [1, 1]);
    assert_eq!(usage_chunks, 2);

    // n is capped at the number of parallel slots (2 here).
    let (status, text) = post(
        base,
        "/chat/completions",
        &with(chat_body("Say hi", 2), json!({"n": 3})),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("'n'"));
}

#[tokio::test]
async fn real_server_answers_openai_api_completions() {
    let Some(base) = server() else { return };
    let body = json!({
        "model": "smollm2",
        "prompt": "The capital of France is",
        "max_tokens": 4,
        "temperature": 0,
        "seed": SEED,
    });
    let (status, text) = post(base, "/completions", &body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["object"], "text_completion");
    assert!(!v["choices"][0]["text"].as_str().unwrap().is_empty());
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let (p, c, t) = usage_of(&v);
    assert_eq!((c, t), (4, p + 4));

    // Streamed, n=2, no stream_options: usage still rides on each choice's
    // final chunk (the one carrying finish_reason).
    let (status, text) = post(
        base,
        "/completions",
        &with(body, json!({"stream": true, "n": 2})),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let mut finished = [false, false];
    for ev in &events {
        let ch = &ev["choices"][0];
        assert!(ch["text"].is_string());
        let i = ch["index"].as_u64().unwrap() as usize;
        if ch["finish_reason"].is_string() {
            assert_eq!(ch["finish_reason"], "length");
            let (p, c, t) = usage_of(ev);
            assert_eq!((c, t), (4, p + 4));
            finished[i] = true;
        } else {
            assert!(ev.get("usage").is_none());
        }
    }
    assert_eq!(finished, [true, true]);
}

#[tokio::test]
async fn real_server_answers_openai_api_context_overflow_error() {
    let Some(base) = server() else { return };
    for stream in [false, true] {
        let body = with(
            chat_body(&overflow_prompt(), 4),
            json!({"stream": stream, "stream_options": {"include_usage": true}}),
        );
        let (status, text) = post(base, "/chat/completions", &body).await;
        // Even with stream=true the error is a plain JSON 400, not SSE.
        assert_eq!(status, 400, "stream={stream}: {text}");
        let v: Value = serde_json::from_str(&text).expect("JSON error body");
        let err = &v["error"];
        assert_eq!(err["code"], 400);
        assert_eq!(err["type"], "exceed_context_size_error");
        assert_eq!(err["n_ctx"], N_CTX);
        assert!(err["n_prompt_tokens"].as_u64().unwrap() > N_CTX);
        assert!(err["message"].as_str().unwrap().contains("context size"));
    }
}

// ---------------------------------------------------------------------------
// The headless CLI (`chat-tui -p ...`) against the real server
// ---------------------------------------------------------------------------

struct CliRun {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

fn run_cli(base: &str, args: &[&str], stdin: Option<&str>) -> CliRun {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-tui"));
    cmd.args(["--base-url", base, "--model", "smollm2"])
        .args(["--temperature", "0", "--seed", &SEED.to_string()])
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env("HOME", h)
        .env("XDG_CONFIG_HOME", h.join("config"))
        .env("XDG_DATA_HOME", h.join("data"))
        .env("XDG_STATE_HOME", h.join("state"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn chat-tui");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_owned();
        std::thread::spawn(move || {
            let _ = pipe.write_all(input.as_bytes());
        });
    }
    let Output {
        status,
        stdout,
        stderr,
    } = wait_with_timeout(child, Duration::from_secs(60));
    let run = CliRun {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    eprintln!(
        "chat-tui {args:?} -> {}\n--- stdout\n{}\n--- stderr\n{}",
        run.status, run.stdout, run.stderr
    );
    run
}

fn wait_with_timeout(child: Child, timeout: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait for chat-tui"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("chat-tui did not exit within {timeout:?}");
        }
    }
}

fn stderr_line<'a>(run: &'a CliRun, prefix: &str) -> &'a str {
    run.stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line on stderr:\n{}", run.stderr))
}

/// Parses `usage: prompt_tokens=P completion_tokens=C total_tokens=T`.
fn usage_line(run: &CliRun) -> (u64, u64, u64) {
    let rest = stderr_line(run, "usage: ");
    let field = |name: &str| -> u64 {
        rest.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("usage line lacks {name}: {rest:?}"))
            .parse()
            .unwrap()
    };
    (
        field("prompt_tokens"),
        field("completion_tokens"),
        field("total_tokens"),
    )
}

fn assert_success(run: &CliRun) {
    assert!(run.status.success(), "chat-tui failed:\n{}", run.stderr);
    assert!(!run.stdout.trim().is_empty(), "reply text on stdout");
}

#[test]
fn cli_streams_chat_from_real_server() {
    let Some(base) = server() else { return };
    let run = run_cli(
        base,
        &["-p", "What is the capital of France?", "--max-tokens", "24"],
        None,
    );
    assert_success(&run);
    assert!(["stop", "length"].contains(&stderr_line(&run, "finish_reason: ")));
    let (p, c, t) = usage_line(&run);
    assert!(p > 0 && c > 0 && c <= 24);
    assert_eq!(t, p + c);
}

#[test]
fn cli_no_stream_chat_from_real_server() {
    let Some(base) = server() else { return };
    let run = run_cli(
        base,
        &[
            "-p",
            "What is the capital of France?",
            "--max-tokens",
            "24",
            "--no-stream",
        ],
        None,
    );
    assert_success(&run);
    assert!(["stop", "length"].contains(&stderr_line(&run, "finish_reason: ")));
    let (p, c, t) = usage_line(&run);
    assert!(p > 0 && c > 0);
    assert_eq!(t, p + c);
}

#[test]
fn cli_max_tokens_reports_length() {
    let Some(base) = server() else { return };
    let run = run_cli(
        base,
        &[
            "-p",
            "Write a long story about a dragon.",
            "--max-tokens",
            "5",
        ],
        None,
    );
    assert_success(&run);
    assert_eq!(stderr_line(&run, "finish_reason: "), "length");
    let (p, c, t) = usage_line(&run);
    assert_eq!(c, 5, "llama.cpp generates exactly max_tokens");
    assert_eq!(t, p + c);
}

#[test]
fn cli_n2_prints_two_choice_blocks() {
    let Some(base) = server() else { return };
    // llama.cpp supports n in chat (capped at its parallel slots) and
    // interleaves the two choices' chunks in the stream.
    let run = run_cli(
        base,
        &["-p", "Say hi", "--max-tokens", "6", "--n", "2"],
        None,
    );
    assert_success(&run);
    let headers: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("[choice "))
        .collect();
    assert_eq!(headers, ["[choice 1]", "[choice 2]"], "{}", run.stdout);
    assert!(run.stdout.starts_with("[choice 1]"));
    // Each block has text of its own.
    let second = run.stdout.find("[choice 2]").unwrap();
    assert!(!run.stdout["[choice 1]".len()..second].trim().is_empty());
    assert!(!run.stdout[second + "[choice 2]".len()..].trim().is_empty());
    assert_eq!(
        stderr_line(&run, "finish_reason: "),
        "[1] length [2] length"
    );
    assert!(run.stderr.lines().any(|l| l.starts_with("usage: ")));
}

#[test]
fn cli_completion_mode_uses_completions_endpoint() {
    let Some(base) = server() else { return };
    let run = run_cli(
        base,
        &[
            "-p",
            "The capital of France is",
            "--mode",
            "completion",
            "--max-tokens",
            "4",
        ],
        None,
    );
    assert_success(&run);
    assert_eq!(stderr_line(&run, "finish_reason: "), "length");
    let (p, c, t) = usage_line(&run);
    assert_eq!((c, t), (4, p + 4));
}

#[tokio::test]
async fn cli_stop_sequence_reports_stop() {
    let Some(base) = server() else { return };
    // Pick a stop string from what the model says without one (temperature 0,
    // fixed seed: the same request without `stop` is deterministic).
    let (status, text) = post(base, "/chat/completions", &chat_body("Say hi", 12)).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let reply = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let words: Vec<&str> = reply.split_whitespace().collect();
    assert!(words.len() >= 3, "need a few words to cut at: {reply:?}");
    let stop = words[2].to_owned();

    let base = base.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        run_cli(
            &base,
            &["-p", "Say hi", "--max-tokens", "12", "--stop", &stop],
            None,
        )
    })
    .await
    .unwrap();
    assert!(run.status.success(), "chat-tui failed:\n{}", run.stderr);
    assert_eq!(stderr_line(&run, "finish_reason: "), "stop");
    // llama.cpp cuts the reply before the stop string and omits it.
    assert!(reply.starts_with(run.stdout.trim_end_matches('\n')));
    assert!(run.stdout.len() < reply.len());
}

#[tokio::test]
async fn cli_context_overflow_surfaces_server_error() {
    let Some(base) = server() else { return };
    let prompt = overflow_prompt();

    // What the server itself says about this prompt ...
    let (status, text) = post(base, "/chat/completions", &chat_body(&prompt, 4)).await;
    assert_eq!(status, 400);
    let v: Value = serde_json::from_str(&text).unwrap();
    let message = v["error"]["message"].as_str().unwrap().to_owned();
    // ... minus the leading "request (N tokens)", whose N depends on how the
    // client wraps the prompt.
    let tail = message
        .split_once(") ")
        .map_or(message.as_str(), |(_, t)| t);

    let base = base.to_owned();
    let run = tokio::task::spawn_blocking(move || {
        run_cli(&base, &["-p", "-", "--max-tokens", "4"], Some(&prompt))
    })
    .await
    .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(tail),
        "stderr lacks the server's message {tail:?}:\n{}",
        run.stderr
    );
}

#[test]
fn local_llm_url_prints_base_url() {
    let out = Command::new(repo_root().join("scripts/local-llm"))
        .args(["url", "--port", "9999"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "http://127.0.0.1:9999/v1"
    );
}

// ---------------------------------------------------------------------------
// What the server knows: its context window, exact counts, logprobs (chat-tui's client)
// ---------------------------------------------------------------------------

fn tui_client(base: &str) -> chat_tui::api::Client {
    chat_tui::api::Client::new(chat_tui::api::ClientConfig {
        base_url: base.to_string(),
        ..chat_tui::api::ClientConfig::default()
    })
    .unwrap()
}

/// Send `req`; the reply's text, its log probabilities and its usage.
async fn tui_send(
    client: &chat_tui::api::Client,
    req: &chat_tui::api::Request,
) -> (
    String,
    Vec<chat_tui::api::logprobs::TokenLogprob>,
    chat_tui::api::Usage,
) {
    use chat_tui::api::StreamEvent;
    let mut text = String::new();
    let mut logprobs = Vec::new();
    let mut usage = None;
    let mut sink = |ev: StreamEvent| match ev {
        StreamEvent::Delta { index: 0, text: t } => text.push_str(&t),
        StreamEvent::Logprobs { index: 0, tokens } => logprobs.extend(tokens),
        StreamEvent::Usage(u) => usage = Some(u),
        _ => {}
    };
    client.send(req, &mut sink).await.expect("the reply");
    (text, logprobs, usage.expect("usage"))
}

#[tokio::test]
async fn real_server_states_its_context_window_and_counts_exactly() {
    use chat_tui::api::server::ServerKind;
    use chat_tui::api::{Mode, Params, Request, Shape};
    use chat_tui::chat::conversation::{Conversation, Memory, Speaker};
    let Some(base) = server() else { return };
    let client = tui_client(base);
    let info = client.probe("smollm2", true).await.unwrap();
    assert_eq!(info.kind, ServerKind::LlamaCpp);
    assert_eq!(info.context_window, Some(N_CTX), "{info:?}");

    for mode in [Mode::Chat, Mode::Completion] {
        // A conversation with history, and a draft with CJK text: what Enter would send.
        let mut conv = Conversation::new("smollm2", mode, Memory::Full);
        conv.system = Some("You are terse.".into());
        conv.push(Speaker::User, "What is the capital of France?");
        let r = conv.push_reply(&Params::default(), "smollm2");
        conv.get_mut(r).unwrap().choice_mut(0).text = "Paris.".into();
        let draft = "你好, and the capital of Italy?";
        let prompt = chat_tui::chat::memory::next_prompt(&conv, draft);
        let exact = client
            .count_tokens(ServerKind::LlamaCpp, "smollm2", &prompt, draft)
            .await
            .unwrap();
        let mut params = Params::default();
        params.set("max_tokens", "1").unwrap();
        params.set("temperature", "0").unwrap();
        let req = Request {
            model: "smollm2".into(),
            prompt,
            params,
            stream: true,
            shape: Shape::default(),
        };
        let (_, _, usage) = tui_send(&client, &req).await;
        assert_eq!(
            exact.request, usage.prompt_tokens,
            "{mode}: the exact count is the server's prompt_tokens"
        );
        assert!(exact.draft > 0 && exact.draft < exact.request);
    }
    // "你好" alone: the example (9 counted locally by cl100k, 34 by llama.cpp).
    let conv = Conversation::new("smollm2", Mode::Chat, Memory::Full);
    let prompt = chat_tui::chat::memory::next_prompt(&conv, "你好");
    let exact = client
        .count_tokens(ServerKind::LlamaCpp, "smollm2", &prompt, "你好")
        .await
        .unwrap();
    assert_eq!(exact.request, 34);
}

#[tokio::test]
async fn real_server_logprobs_line_up_with_the_text() {
    use chat_tui::api::logprobs::Logprobs;
    use chat_tui::api::{Params, Prompt, Request, Role, Shape, WireMessage};
    let Some(base) = server() else { return };
    let client = tui_client(base);
    let mut params = Params::default();
    params.set("max_tokens", "6").unwrap();
    params.set("temperature", "0").unwrap();
    params.set("logprobs", "3").unwrap();
    for (prompt, stream) in [
        (
            Prompt::Chat(vec![WireMessage::new(Role::User, "Say hi")]),
            true,
        ),
        (
            Prompt::Chat(vec![WireMessage::new(Role::User, "Say hi")]),
            false,
        ),
        (Prompt::Completion("The capital of France is".into()), true),
        (Prompt::Completion("The capital of France is".into()), false),
    ] {
        let req = Request {
            model: "smollm2".into(),
            prompt,
            params: params.clone(),
            stream,
            shape: Shape::default(),
        };
        let (text, tokens, usage) = tui_send(&client, &req).await;
        assert_eq!(tokens.len() as u64, usage.completion_tokens, "{req:?}");
        let mut l = Logprobs::new();
        l.extend(&tokens);
        assert!(l.lines_up_with(&text), "{text:?} vs {tokens:?}");
        for t in l.iter() {
            assert!(t.logprob() <= 0.0);
            assert!((1..=3).contains(&t.alternative_count()), "{t:?}");
            // Most likely first.
            let lps: Vec<f32> = t.alternatives().map(|(_, lp)| lp).collect();
            assert!(lps.windows(2).all(|w| w[0] >= w[1]), "{lps:?}");
        }
    }
}
