//! A fake OpenAI-compatible HTTP server for tests.
//!
//! Real HTTP/1.1 over a real TCP socket on `127.0.0.1` (an ephemeral port by
//! default), hand-written on tokio.  The server runs on its own thread with
//! its own (current-thread) tokio runtime, so it can be used from sync tests,
//! async tests and tests that spawn the `chat-tui` binary.  Every response is
//! sent with `Connection: close`.
//!
//! ```ignore
//! mod support;
//! use support::fake_server::{FakeServer, Reply};
//!
//! let srv = FakeServer::start();
//! srv.push(Reply::Text(vec!["hello there".into()]));   // next completion request
//! // ... point the client at srv.url() ("http://127.0.0.1:PORT/v1") ...
//! let reqs = srv.wait_requests(1, Duration::from_secs(5));
//! assert_eq!(reqs[0].json()["model"], "fake-small");
//! ```
//!
//! Routing (in this order):
//! 1. if [`FakeServer::set_require_key`] is active, any request without
//!    `Authorization: Bearer KEY` gets a 401 OpenAI-style error (the key is
//!    masked in the message, never echoed whole);
//! 2. `GET /v1/models` → a list with `fake-small` and `fake-large` (with
//!    [`FakeServer::set_llama_cpp`]: one model, `owned_by: "llamacpp"`, and
//!    `meta.n_ctx` when given; then `GET /props`, `POST /apply-template` and `POST
//!    /tokenize` answer like llama.cpp's, counting words as tokens, the way this server
//!    counts `prompt_tokens`);
//! 3. `POST /v1/chat/completions` and `POST /v1/completions`: a body that is
//!    not JSON gets 400; a body with a top-level field listed in
//!    [`FakeServer::set_reject_fields`] gets 400 "Unrecognized request argument
//!    supplied: FIELD", one listed in [`FakeServer::set_unsupported`] gets OpenAI's
//!    400 "Unsupported parameter: 'X' … Use 'Y' instead." / "Unsupported value: 'X' …";
//!    otherwise the next scripted [`Reply`] is popped (or [`Reply::Smart`] when the
//!    queue is empty).  Rejections (1 and 3) do not consume a scripted reply.
//!    Smart and Text replies also send log probabilities when asked
//!    (`logprobs`/`top_logprobs`, in the shape of [`FakeServer::set_logprobs_style`]),
//!    reasoning before the text ([`FakeServer::set_reasoning`]) and usage details
//!    ([`FakeServer::set_usage_details`]);
//! 4. anything else → 404 JSON error.
//!
//! Every request (including rejected ones) is recorded, see
//! [`FakeServer::requests`].
//!
//! Note for async tests: the `wait_*` methods block the calling thread (they
//! use a condvar).  That is fine while the client request runs on another
//! thread or a multi-thread runtime; on a current-thread runtime, await the
//! client first or call them via `tokio::task::spawn_blocking`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The terminating SSE event.
pub const DONE: &str = "data: [DONE]\n\n";

/// One request as received by the server.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path including any query string, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Header names are lowercased; values are as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body parsed as JSON (panics with the body text if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "request body of {} {} is not JSON ({e}): {:?}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as (lossy) UTF-8.
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted reply to one completion request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Behaves like a tiny model (the default when the queue is empty):
    /// choice `i` says `"echo{i}: <last user message>"` (`"echo: ..."` for
    /// choice 0); see the module docs of [`smart_texts`].
    Smart,
    /// The given text for each choice (choice `i` gets `texts[i]`, or the last
    /// one when fewer are given; `n` comes from the request).  Otherwise the
    /// same as `Smart`: honours `stream`, `max_tokens`, `stop`, usage, token
    /// delay.
    Text(Vec<String>),
    /// A plain response with `Content-Length`.  `Content-Type` defaults to
    /// `application/json` unless given in `headers`.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// 200 + SSE headers, then the scripted steps (the terminating 0-chunk is
    /// written at the end unless a [`SseStep::Drop`] came first).
    Sse(Vec<SseStep>),
    /// Read the request, never answer (until the client goes away).
    Hang,
    /// Send 200 + SSE headers, then nothing (until the client goes away;
    /// that counts as a disconnect).
    HangAfterHeaders,
    /// Close the socket right after reading the request, without a response.
    Close,
}

impl Reply {
    /// Convenience: a JSON error reply like OpenAI's.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::Status {
            status,
            headers: vec![],
            body: json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
                .to_string(),
        }
    }

    /// Convenience: a well-formed SSE stream of chat chunks (choice 0) for
    /// the given deltas, a finish chunk with `finish_reason: "stop"`, and `[DONE]`.
    pub fn chat_stream(deltas: &[&str]) -> Reply {
        let mut steps: Vec<SseStep> = deltas
            .iter()
            .map(|d| SseStep::text(&chat_chunk(0, d, None)))
            .collect();
        steps.push(SseStep::text(&chat_chunk(0, "", Some("stop"))));
        steps.push(SseStep::text(DONE));
        Reply::Sse(steps)
    }
}

/// One step of a raw scripted SSE stream.
#[derive(Debug, Clone)]
pub enum SseStep {
    /// Written as one chunked-encoding chunk, verbatim (then flushed).
    Bytes(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Close the socket without the terminating 0-chunk.
    Drop,
}

impl SseStep {
    pub fn text(s: &str) -> SseStep {
        SseStep::Bytes(s.as_bytes().to_vec())
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A full chat-completion chunk event (`data: {...}\n\n`) for one choice.
/// `delta` becomes `delta.content`; when `delta` is empty and `finish` is
/// `Some`, the delta is `{}` (like OpenAI's final chunk).
pub fn chat_chunk(index: u32, delta: &str, finish: Option<&str>) -> String {
    let d = if delta.is_empty() && finish.is_some() {
        json!({})
    } else {
        json!({ "content": delta })
    };
    sse_event(&chat_chunk_value("fake-small", index, d, finish))
}

/// A full legacy completion chunk event (`choices[{index, text, finish_reason}]`).
pub fn completion_chunk(index: u32, text: &str, finish: Option<&str>) -> String {
    sse_event(&completion_chunk_value("fake-small", index, text, finish))
}

/// A usage-only chunk event (`choices: []`), as sent with
/// `stream_options.include_usage`.
pub fn usage_chunk(prompt_tokens: u64, completion_tokens: u64) -> String {
    sse_event(&json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": now_secs(),
        "model": "fake-small",
        "choices": [],
        "usage": usage_value(prompt_tokens, completion_tokens),
    }))
}

/// `data: <json>\n\n`
pub fn sse_event(v: &Value) -> String {
    format!("data: {v}\n\n")
}

fn usage_value(p: u64, c: u64) -> Value {
    json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})
}

/// Usage with OpenAI's details: reasoning tokens (counted in the completion) and cached
/// prompt tokens.
fn usage_with(p: u64, c: u64, details: Option<(u64, u64)>) -> Value {
    let mut u = usage_value(p, c);
    if let Some((reasoning, cached)) = details {
        u["completion_tokens_details"] = json!({"reasoning_tokens": reasoning});
        u["prompt_tokens_details"] = json!({"cached_tokens": cached});
    }
    u
}

/// How log probabilities are written in `/v1/completions` answers (chat answers always use
/// `logprobs.content`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogprobStyle {
    /// OpenAI's legacy arrays: `tokens`, `token_logprobs`, `top_logprobs`, `text_offset`.
    #[default]
    OpenAi,
    /// llama.cpp's: `logprobs.content[]` like chat.
    LlamaCpp,
}

/// A parameter the server refuses, the way OpenAI says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// "Unsupported parameter: 'X' is not supported with this model. Use 'Y' instead."
    Rename(String, String),
    /// "Unsupported parameter: 'X' is not supported with this model."
    Parameter(String),
    /// "Unsupported value: 'X' does not support … Only the default (1) value is supported."
    Value(String),
}

/// What `/tokenize` does (llama.cpp mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tokenize {
    #[default]
    Works,
    /// 500 with an error.
    Fails,
    /// Never answers.
    Hangs,
}

/// The log probability the fake model gives token `k` of a reply, and alternative `j`.
pub fn fake_logprob(k: usize, j: usize) -> f32 {
    -0.25 * (k % 4) as f32 - 1.5 * j as f32
}

/// One token's entry in the chat shape (`{token, logprob, bytes, top_logprobs}`), with
/// `alts` alternatives: the token itself, then `alt1`, `alt2`…
pub fn logprob_entry(tok: &str, k: usize, alts: usize) -> Value {
    let top: Vec<Value> = (0..alts)
        .map(|j| {
            let t = if j == 0 {
                tok.to_string()
            } else {
                format!("alt{j}")
            };
            json!({"token": t, "logprob": fake_logprob(k, j), "bytes": t.as_bytes()})
        })
        .collect();
    json!({"token": tok, "logprob": fake_logprob(k, 0), "bytes": tok.as_bytes(), "top_logprobs": top})
}

/// The `logprobs` value for tokens `toks` (the reply's tokens from number `first` on).
fn logprobs_value(
    chat: bool,
    style: LogprobStyle,
    toks: &[String],
    first: usize,
    offset: usize,
    alts: usize,
) -> Value {
    if chat || style == LogprobStyle::LlamaCpp {
        let content: Vec<Value> = toks
            .iter()
            .enumerate()
            .map(|(i, t)| logprob_entry(t, first + i, alts))
            .collect();
        return json!({ "content": content });
    }
    let mut offsets = Vec::new();
    let mut at = offset;
    for t in toks {
        offsets.push(at);
        at += t.len();
    }
    let top: Vec<Value> = toks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m = serde_json::Map::new();
            for j in 0..alts {
                let name = if j == 0 { t.clone() } else { format!("alt{j}") };
                m.insert(name, json!(fake_logprob(first + i, j)));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "tokens": toks,
        "token_logprobs": toks.iter().enumerate().map(|(i, _)| fake_logprob(first + i, 0)).collect::<Vec<_>>(),
        "top_logprobs": top,
        "text_offset": offsets,
    })
}

fn chat_chunk_value(model: &str, index: u32, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": now_secs(),
        "model": model,
        "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}],
    })
}

fn completion_chunk_value(model: &str, index: u32, text: &str, finish: Option<&str>) -> Value {
    json!({
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": now_secs(),
        "model": model,
        "choices": [{"index": index, "text": text, "logprobs": null, "finish_reason": finish}],
    })
}

// ---------------------------------------------------------------------------
// Shared state

struct State {
    replies: VecDeque<Reply>,
    requests: Vec<Recorded>,
    disconnects: usize,
    token_delay: Duration,
    require_key: Option<String>,
    reject_fields: Vec<String>,
    schema_errors: Vec<String>,
    unsupported: Vec<Unsupported>,
    logprob_style: LogprobStyle,
    /// (field, text): reasoning sent before the reply's text.
    reasoning: Option<(String, String)>,
    usage_details: Option<(u64, u64)>,
    /// llama.cpp mode: `meta.n_ctx` for `/v1/models` and `n_ctx` for `/props`.
    llama: Option<(Option<u64>, Option<u64>)>,
    tokenize: Tokenize,
}

struct Shared {
    state: Mutex<State>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The server handle.  Dropping it stops the server (open connections are
/// cut).
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Start on an ephemeral port of 127.0.0.1.
    pub fn start() -> FakeServer {
        Self::start_on(0)
    }

    /// Start on the given port of 127.0.0.1 (0 = ephemeral).
    pub fn start_on(port: u16) -> FakeServer {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("fake server: cannot bind 127.0.0.1:{port}: {e}"));
        std_listener.set_nonblocking(true).expect("set_nonblocking");
        let addr = std_listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                replies: VecDeque::new(),
                requests: Vec::new(),
                disconnects: 0,
                token_delay: Duration::ZERO,
                require_key: None,
                reject_fields: Vec::new(),
                schema_errors: Vec::new(),
                unsupported: Vec::new(),
                logprob_style: LogprobStyle::default(),
                reasoning: None,
                usage_details: None,
                llama: None,
                tokenize: Tokenize::default(),
            }),
            cond: Condvar::new(),
        });
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-server-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake server runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(std_listener).expect("from_std");
                    loop {
                        tokio::select! {
                            _ = &mut rx => break,
                            acc = listener.accept() => {
                                if let Ok((sock, _)) = acc {
                                    let sh = sh.clone();
                                    tokio::spawn(async move { handle_conn(sock, sh).await });
                                }
                            }
                        }
                    }
                });
                // Dropping the runtime cancels (and closes) all connections.
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .expect("spawn fake server thread");
        FakeServer {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Base URL including `/v1`, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queue a scripted reply for the next completion request.
    pub fn push(&self, reply: Reply) {
        self.shared.lock().replies.push_back(reply);
    }

    /// Number of scripted replies not yet consumed.
    pub fn pending_replies(&self) -> usize {
        self.shared.lock().replies.len()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The completion requests so far (`POST …/chat/completions` and `POST
    /// …/completions`), in order: what a conversation sends, without the client's own
    /// queries about the server (its model list, `/props`, `/tokenize`…), which chat-tui
    /// makes in the background at start and while typing.
    pub fn completions(&self) -> Vec<Recorded> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| is_completion(r))
            .cloned()
            .collect()
    }

    /// Wait until at least `n` completion requests arrived; returns all of them (see
    /// [`Self::completions`]). Panics with a clear message on timeout.
    pub fn wait_completions(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            let got: Vec<Recorded> = st
                .requests
                .iter()
                .filter(|r| is_completion(r))
                .cloned()
                .collect();
            if got.len() >= n {
                return got;
            }
            let now = Instant::now();
            if now >= deadline {
                let all: Vec<String> = st
                    .requests
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                panic!(
                    "fake server: expected at least {n} completion request(s) within {timeout:?}, got {}: {all:?}{}",
                    got.len(),
                    current_thread_hint()
                );
            }
            st = self
                .shared
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Wait until at least `n` requests arrived; returns all of them.
    /// Panics with a clear message on timeout.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.requests.len() < n {
            let now = Instant::now();
            if now >= deadline {
                let got: Vec<String> = st
                    .requests
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                panic!(
                    "fake server: expected at least {n} request(s) within {timeout:?}, got {}: {got:?}{}",
                    st.requests.len(),
                    current_thread_hint()
                );
            }
            st = self
                .shared
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.requests.clone()
    }

    /// How many times a client closed the connection while a streamed reply
    /// (Smart/Text streaming, `Sse`, `HangAfterHeaders`) was still being written.
    pub fn disconnects(&self) -> usize {
        self.shared.lock().disconnects
    }

    /// Wait until `disconnects() >= n`; panics on timeout.  Disconnects are
    /// noticed asynchronously, so prefer this over `disconnects()` right
    /// after dropping a response.
    pub fn wait_disconnects(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.disconnects < n {
            let now = Instant::now();
            if now >= deadline {
                panic!(
                    "fake server: expected at least {n} disconnect(s) within {timeout:?}, got {}{}",
                    st.disconnects,
                    current_thread_hint()
                );
            }
            st = self
                .shared
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.disconnects
    }

    /// Async version of [`Self::wait_requests`]: does not block the runtime
    /// (needed on a current-thread runtime while the client is in flight).
    pub async fn wait_requests_async(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        while self.shared.lock().requests.len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.wait_requests(n, Duration::ZERO)
    }

    /// Async version of [`Self::wait_disconnects`].  Use this in
    /// `#[tokio::test]` (current-thread) after dropping a reqwest response:
    /// reqwest closes the socket from a task on the test's runtime, which a
    /// blocking wait would starve.
    pub async fn wait_disconnects_async(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.shared.lock().disconnects < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.wait_disconnects(n, Duration::ZERO)
    }

    /// Request bodies that break the official request schema
    /// (`CreateChatCompletionRequest` / `CreateCompletionRequest` from
    /// `tests/fixtures/openai-spec.json`), one line per violation:
    /// `"POST /v1/chat/completions #3: /messages/0/role: ..."` (`#3` = index in
    /// [`Self::requests`]).  Violations do not change the reply.  A test
    /// of the client should usually end with
    /// `assert_eq!(srv.schema_errors(), Vec::<String>::new())`.
    pub fn schema_errors(&self) -> Vec<String> {
        self.shared.lock().schema_errors.clone()
    }

    /// Delay between SSE chunks of Smart/Text streamed replies (default 0).
    pub fn set_token_delay(&self, d: Duration) {
        self.shared.lock().token_delay = d;
    }

    /// When `Some(key)`, requests without `Authorization: Bearer KEY` get 401.
    pub fn set_require_key(&self, key: Option<&str>) {
        self.shared.lock().require_key = key.map(str::to_owned);
    }

    /// Completion requests whose JSON body has any of these top-level fields
    /// get 400 "Unrecognized request argument supplied: FIELD".
    pub fn set_reject_fields(&self, fields: &[&str]) {
        self.shared.lock().reject_fields = fields.iter().map(|s| s.to_string()).collect();
    }

    /// Completion requests with any of these fields get OpenAI's "Unsupported …" 400.
    pub fn set_unsupported(&self, rules: Vec<Unsupported>) {
        self.shared.lock().unsupported = rules;
    }

    /// The shape of log probabilities in `/v1/completions` answers.
    pub fn set_logprobs_style(&self, style: LogprobStyle) {
        self.shared.lock().logprob_style = style;
    }

    /// Chat replies reason first: `text` (split in words) under `field`
    /// (`reasoning_content` or `reasoning`) of the delta or message.
    pub fn set_reasoning(&self, field: &str, text: &str) {
        self.shared.lock().reasoning = Some((field.to_string(), text.to_string()));
    }

    /// Usage carries `completion_tokens_details.reasoning_tokens` and
    /// `prompt_tokens_details.cached_tokens`.
    pub fn set_usage_details(&self, reasoning_tokens: u64, cached_tokens: u64) {
        self.shared.lock().usage_details = Some((reasoning_tokens, cached_tokens));
    }

    /// Behave like llama.cpp's server: one model, `owned_by: "llamacpp"`, `meta.n_ctx`
    /// (when given) in `/v1/models`, `/props` with `n_ctx` (when given), and
    /// `/apply-template` + `/tokenize` (words are tokens).
    pub fn set_llama_cpp(&self, models_n_ctx: Option<u64>, props_n_ctx: Option<u64>) {
        self.shared.lock().llama = Some((models_n_ctx, props_n_ctx));
    }

    /// What `/tokenize` does in llama.cpp mode.
    pub fn set_tokenize(&self, t: Tokenize) {
        self.shared.lock().tokenize = t;
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn is_completion(r: &Recorded) -> bool {
    let path = r.path.split('?').next().unwrap_or("");
    r.method == "POST" && (path.ends_with("/chat/completions") || path.ends_with("/v1/completions"))
}

fn current_thread_hint() -> &'static str {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => {
            " (note: this blocking wait ran on a current-thread tokio runtime, which starves the client's tasks; use the *_async variant)"
        }
        _ => "",
    }
}

/// OpenAI-style masking: keep a short prefix and the last 4 characters.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        let head: String = chars.iter().take(2).collect();
        return format!("{head}{}", "*".repeat(chars.len().saturating_sub(2).max(3)));
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 9))
}

// ---------------------------------------------------------------------------
// Connection handling

async fn read_request(rd: &mut OwnedReadHalf) -> Option<Recorded> {
    let mut buf = Vec::with_capacity(4096);
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
        let n = rd.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut rl = lines.next()?.split_whitespace();
    let method = rl.next()?.to_string();
    let path = rl.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let mut body = buf[head_end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        // Minimal chunked request-body decoding.
        loop {
            if let Some(decoded) = decode_chunked(&body) {
                body = decoded;
                break;
            }
            let n = rd.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&tmp[..n]);
        }
    } else {
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while body.len() < len {
            let n = rd.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&tmp[..n]);
        }
        body.truncate(len);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// Returns the decoded body once the whole chunked body is present.
fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_str = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn plain_response(status: u16, headers: &[(String, String)], body: &str) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        s.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    s.into_bytes()
}

fn json_error(status: u16, message: &str, typ: &str, param: Value, code: Value) -> Vec<u8> {
    let body = json!({"error": {"message": message, "type": typ, "param": param, "code": code}});
    plain_response(status, &[], &body.to_string())
}

const SSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nx-request-id: req_fake\r\n\r\n";

async fn write_chunk(wr: &mut OwnedWriteHalf, data: &[u8]) -> std::io::Result<()> {
    if data.is_empty() {
        return Ok(()); // an empty chunk would terminate the body
    }
    let mut v = format!("{:x}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\r\n");
    wr.write_all(&v).await?;
    wr.flush().await
}

/// Wait until the peer closes its side (EOF or error); data is discarded.
async fn wait_peer_gone(rd: &mut OwnedReadHalf) {
    let mut tmp = [0u8; 1024];
    loop {
        match rd.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

enum Plan {
    Bytes(Vec<u8>),
    Stream(Vec<SseStep>),
    Hang,
    HangAfterHeaders,
    Close,
}

async fn handle_conn(sock: TcpStream, sh: Arc<Shared>) {
    let _ = sock.set_nodelay(true);
    let (mut rd, mut wr) = sock.into_split();
    let Some(req) = read_request(&mut rd).await else {
        return;
    };
    let plan = {
        let mut st = sh.lock();
        st.requests.push(req.clone());
        sh.cond.notify_all();
        route(&req, &mut st)
    };
    match plan {
        Plan::Bytes(b) => {
            let _ = wr.write_all(&b).await;
            let _ = wr.flush().await;
            let _ = wr.shutdown().await;
            // Drain briefly so the client sees a clean close rather than RST.
            let _ = tokio::time::timeout(Duration::from_millis(200), wait_peer_gone(&mut rd)).await;
        }
        Plan::Close => {}
        Plan::Hang => wait_peer_gone(&mut rd).await,
        Plan::HangAfterHeaders => {
            if wr.write_all(SSE_HEAD).await.is_ok() {
                let _ = wr.flush().await;
                wait_peer_gone(&mut rd).await;
            }
            count_disconnect(&sh);
        }
        Plan::Stream(steps) => {
            let writer = async {
                wr.write_all(SSE_HEAD).await?;
                wr.flush().await?;
                for step in steps {
                    match step {
                        SseStep::Bytes(b) => write_chunk(&mut wr, &b).await?,
                        SseStep::Sleep(d) => tokio::time::sleep(d).await,
                        SseStep::Drop => return Ok::<bool, std::io::Error>(false),
                    }
                }
                wr.write_all(b"0\r\n\r\n").await?;
                wr.flush().await?;
                Ok(true)
            };
            // Some(true): complete; Some(false): scripted Drop; None: the
            // client went away (write error or EOF) while streaming.
            let outcome = tokio::select! {
                r = writer => r.ok(),
                _ = wait_peer_gone(&mut rd) => None,
            };
            match outcome {
                Some(true) => {
                    let _ = wr.shutdown().await;
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), wait_peer_gone(&mut rd))
                            .await;
                }
                Some(false) => {}
                None => count_disconnect(&sh),
            }
        }
    }
}

fn count_disconnect(sh: &Shared) {
    let mut st = sh.lock();
    st.disconnects += 1;
    sh.cond.notify_all();
}

fn route(req: &Recorded, st: &mut State) -> Plan {
    if let Some(key) = &st.require_key {
        let auth = req.header("authorization");
        match auth.and_then(|a| a.strip_prefix("Bearer ")) {
            Some(k) if k == key => {}
            Some(k) => {
                return Plan::Bytes(json_error(
                    401,
                    &format!(
                        "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                        mask_key(k)
                    ),
                    "invalid_request_error",
                    Value::Null,
                    json!("invalid_api_key"),
                ));
            }
            None => {
                return Plan::Bytes(json_error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    "invalid_request_error",
                    Value::Null,
                    Value::Null,
                ));
            }
        }
    }
    let path = req.path.split('?').next().unwrap_or("");
    if let Some((models_ctx, props_ctx)) = st.llama {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match (req.method.as_str(), path) {
            ("GET", "/v1/models") => {
                let mut m = json!({"id": "fake-llama", "aliases": ["fake-llama"], "object": "model",
                    "owned_by": "llamacpp", "meta": {"n_vocab": 49152, "n_ctx_train": 8192}});
                match models_ctx {
                    Some(n) => m["meta"]["n_ctx"] = json!(n),
                    None => {
                        if let Some(meta) = m["meta"].as_object_mut() {
                            meta.remove("n_ctx");
                        }
                    }
                }
                let v = json!({"object": "list", "data": [m]});
                return Plan::Bytes(plain_response(200, &[], &v.to_string()));
            }
            ("GET", "/props") => {
                let v = match props_ctx {
                    Some(n) => {
                        json!({"default_generation_settings": {"n_ctx": n}, "total_slots": 1})
                    }
                    None => json!({"total_slots": 1}),
                };
                return Plan::Bytes(plain_response(200, &[], &v.to_string()));
            }
            ("POST", "/apply-template") => {
                // The contents, a line each: its words are the tokens this server counts as
                // `prompt_tokens` for the same messages.
                let prompt: Vec<String> = body["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| content_text(&m["content"]))
                    .collect();
                let v = json!({ "prompt": prompt.join("\n") });
                return Plan::Bytes(plain_response(200, &[], &v.to_string()));
            }
            ("POST", "/tokenize") => match st.tokenize {
                Tokenize::Works => {
                    let n = words(body["content"].as_str().unwrap_or(""));
                    let tokens: Vec<u64> = (0..n as u64).collect();
                    return Plan::Bytes(plain_response(
                        200,
                        &[],
                        &json!({ "tokens": tokens }).to_string(),
                    ));
                }
                Tokenize::Fails => {
                    return Plan::Bytes(json_error(
                        500,
                        "tokenizer exploded",
                        "server_error",
                        Value::Null,
                        Value::Null,
                    ));
                }
                Tokenize::Hangs => return Plan::Hang,
            },
            _ => {}
        }
    }
    let mode = match (req.method.as_str(), path) {
        ("GET", "/v1/models") => {
            let body = json!({"object": "list", "data": [
                {"id": "fake-small", "object": "model", "created": 1700000000, "owned_by": "test"},
                {"id": "fake-large", "object": "model", "created": 1700000000, "owned_by": "test"},
            ]});
            return Plan::Bytes(plain_response(200, &[], &body.to_string()));
        }
        ("POST", "/v1/chat/completions") => Mode::Chat,
        ("POST", "/v1/completions") => Mode::Completion,
        _ => {
            return Plan::Bytes(json_error(
                404,
                &format!("Invalid URL ({} {})", req.method, req.path),
                "invalid_request_error",
                Value::Null,
                Value::Null,
            ));
        }
    };
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Plan::Bytes(json_error(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
                "invalid_request_error",
                Value::Null,
                Value::Null,
            ));
        }
    };
    let schema = match mode {
        Mode::Chat => "CreateChatCompletionRequest",
        Mode::Completion => "CreateCompletionRequest",
    };
    let idx = st.requests.len() - 1;
    for e in schema::validate(schema, &body) {
        st.schema_errors
            .push(format!("{} {} #{idx}: {e}", req.method, req.path));
    }
    for rule in &st.unsupported {
        let (field, message, code) = match rule {
            Unsupported::Rename(from, to) => (
                from,
                format!(
                    "Unsupported parameter: '{from}' is not supported with this model. Use '{to}' instead."
                ),
                "unsupported_parameter",
            ),
            Unsupported::Parameter(name) => (
                name,
                format!("Unsupported parameter: '{name}' is not supported with this model."),
                "unsupported_parameter",
            ),
            Unsupported::Value(name) => (
                name,
                format!(
                    "Unsupported value: '{name}' does not support {} with this model. Only the default (1) value is supported.",
                    body.get(name.as_str())
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                ),
                "unsupported_value",
            ),
        };
        if body.get(field.as_str()).is_some() {
            return Plan::Bytes(json_error(
                400,
                &message,
                "invalid_request_error",
                json!(field),
                json!(code),
            ));
        }
    }
    if let Some(f) = st
        .reject_fields
        .iter()
        .find(|f| body.get(f.as_str()).is_some())
    {
        return Plan::Bytes(json_error(
            400,
            &format!("Unrecognized request argument supplied: {f}"),
            "invalid_request_error",
            Value::Null,
            Value::Null,
        ));
    }
    let reply = st.replies.pop_front().unwrap_or(Reply::Smart);
    let extras = Extras {
        style: st.logprob_style,
        reasoning: st.reasoning.clone(),
        usage_details: st.usage_details,
    };
    match reply {
        Reply::Smart => model_reply(mode, &body, None, st.token_delay, &extras),
        Reply::Text(t) => model_reply(mode, &body, Some(t), st.token_delay, &extras),
        Reply::Status {
            status,
            headers,
            body,
        } => Plan::Bytes(plain_response(status, &headers, &body)),
        Reply::Sse(steps) => Plan::Stream(steps),
        Reply::Hang => Plan::Hang,
        Reply::HangAfterHeaders => Plan::HangAfterHeaders,
        Reply::Close => Plan::Close,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Chat,
    Completion,
}

fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn prompt_text(body: &Value) -> String {
    match body.get("prompt") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("").to_string(),
        _ => String::new(),
    }
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Split text into tokens: each whitespace-separated word with its leading
/// space (`"a b"` → `["a", " b"]`); concatenating them gives the text back
/// with runs of whitespace collapsed.
fn tokenize(s: &str) -> Vec<String> {
    s.split_whitespace()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_string()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

/// What Smart would say for each of the `n` choices, before `stop` and
/// `max_tokens` are applied: choice 0 `"echo: X"`, choice i `"echo{i}: X"`,
/// where X is the last user message (chat) or the prompt's last non-empty
/// line (completion); with a `suffix` (completion) `" ⟨before suffix⟩"` is
/// appended.
pub fn smart_texts(chat: bool, body: &Value, n: usize) -> Vec<String> {
    let x = if chat {
        body.get("messages")
            .and_then(Value::as_array)
            .and_then(|m| {
                m.iter()
                    .rev()
                    .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            })
            .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
            .unwrap_or_default()
    } else {
        prompt_text(body)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_string()
    };
    let has_suffix = !chat
        && body
            .get("suffix")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
    (0..n)
        .map(|i| {
            let label = if i == 0 {
                "echo:".to_string()
            } else {
                format!("echo{i}:")
            };
            let mut t = format!("{label} {x}");
            if has_suffix {
                t.push_str(" ⟨before suffix⟩");
            }
            t
        })
        .collect()
}

/// What a Smart or Text reply adds to its text.
struct Extras {
    style: LogprobStyle,
    reasoning: Option<(String, String)>,
    usage_details: Option<(u64, u64)>,
}

fn model_reply(
    mode: Mode,
    body: &Value,
    texts: Option<Vec<String>>,
    delay: Duration,
    extras: &Extras,
) -> Plan {
    let chat = mode == Mode::Chat;
    // Alternatives asked for: chat `logprobs: true, top_logprobs: N`, completion `logprobs: N`.
    let alts: Option<usize> = if chat {
        (body.get("logprobs") == Some(&Value::Bool(true))).then(|| {
            body.get("top_logprobs")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize
        })
    } else {
        body.get("logprobs")
            .and_then(Value::as_u64)
            .map(|n| n as usize)
    };
    let reasoning = extras.reasoning.as_ref().filter(|_| chat);
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if body.get("best_of").is_some_and(|v| !v.is_null()) && stream {
        return Plan::Bytes(json_error(
            400,
            "Cannot stream results with best_of > 1 (best_of is not supported with stream).",
            "invalid_request_error",
            json!("best_of"),
            Value::Null,
        ));
    }
    let n = body.get("n").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake-small")
        .to_string();
    let max_tokens = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    let stops: Vec<String> = match body.get("stop") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    };
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let prompt_tokens = if chat {
        body.get("messages")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .map(|m| words(&content_text(m.get("content").unwrap_or(&Value::Null))))
                    .sum()
            })
            .unwrap_or(0)
    } else {
        words(&prompt_text(body))
    } as u64;

    let full = match texts {
        None => smart_texts(chat, body, n),
        Some(t) => (0..n)
            .map(|i| t.get(i).or(t.last()).cloned().unwrap_or_default())
            .collect(),
    };
    // Apply stop, then max_tokens.
    let choices: Vec<(Vec<String>, &'static str)> = full
        .iter()
        .map(|text| {
            let mut t = text.as_str();
            for s in &stops {
                if s.is_empty() {
                    continue;
                }
                if let Some(p) = t.find(s.as_str()) {
                    t = &t[..p];
                }
            }
            let mut toks = tokenize(t);
            let mut finish = "stop";
            if let Some(m) = max_tokens
                && toks.len() > m
            {
                toks.truncate(m);
                finish = "length";
            }
            (toks, finish)
        })
        .collect();
    let completion_tokens: u64 = choices.iter().map(|(t, _)| t.len() as u64).sum();
    let created = now_secs();

    if !stream {
        let ch: Vec<Value> = choices
            .iter()
            .enumerate()
            .map(|(i, (toks, fin))| {
                let text = toks.concat();
                let lp = match alts {
                    Some(a) => logprobs_value(chat, extras.style, toks, 0, 0, a),
                    None => Value::Null,
                };
                if chat {
                    let mut message =
                        json!({"role": "assistant", "content": text, "refusal": null});
                    if let Some((field, r)) = reasoning {
                        message[field.as_str()] = json!(r);
                    }
                    json!({"index": i, "message": message, "logprobs": lp, "finish_reason": fin})
                } else {
                    json!({"index": i, "text": text, "logprobs": lp, "finish_reason": fin})
                }
            })
            .collect();
        let v = json!({
            "id": if chat { "chatcmpl-fake" } else { "cmpl-fake" },
            "object": if chat { "chat.completion" } else { "text_completion" },
            "created": created,
            "model": model,
            "choices": ch,
            "usage": usage_with(prompt_tokens, completion_tokens, extras.usage_details),
        });
        return Plan::Bytes(plain_response(200, &[], &v.to_string()));
    }

    let mut events: Vec<Value> = Vec::new();
    let chunk = |i: usize, tok: Option<&str>, role: bool, fin: Option<&str>| -> Value {
        let mut v = if chat {
            let delta = match (role, tok) {
                (true, _) => json!({"role": "assistant", "content": ""}),
                (false, Some(t)) => json!({"content": t}),
                (false, None) => json!({}),
            };
            chat_chunk_value(&model, i as u32, delta, fin)
        } else {
            completion_chunk_value(&model, i as u32, tok.unwrap_or(""), fin)
        };
        if include_usage {
            v["usage"] = Value::Null;
        }
        v
    };
    if chat {
        for i in 0..n {
            events.push(chunk(i, None, true, None));
        }
    }
    if let Some((field, r)) = reasoning {
        for word in tokenize(r) {
            for i in 0..n {
                let mut delta = serde_json::Map::new();
                delta.insert(field.clone(), json!(word));
                let mut v = chat_chunk_value(&model, i as u32, Value::Object(delta), None);
                if include_usage {
                    v["usage"] = Value::Null;
                }
                events.push(v);
            }
        }
    }
    let rounds = choices.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    let mut offsets = vec![0usize; n];
    for r in 0..rounds {
        for (i, (toks, _)) in choices.iter().enumerate() {
            if let Some(t) = toks.get(r) {
                let mut v = chunk(i, Some(t), false, None);
                if let Some(a) = alts {
                    v["choices"][0]["logprobs"] = logprobs_value(
                        chat,
                        extras.style,
                        std::slice::from_ref(t),
                        r,
                        offsets[i],
                        a,
                    );
                }
                offsets[i] += t.len();
                events.push(v);
            }
        }
    }
    for (i, (_, fin)) in choices.iter().enumerate() {
        events.push(chunk(i, None, false, Some(fin)));
    }
    if include_usage {
        events.push(json!({
            "id": if chat { "chatcmpl-fake" } else { "cmpl-fake" },
            "object": if chat { "chat.completion.chunk" } else { "text_completion" },
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage_with(prompt_tokens, completion_tokens, extras.usage_details),
        }));
    }
    let mut steps = Vec::new();
    for (k, e) in events.iter().enumerate() {
        if k > 0 && !delay.is_zero() {
            steps.push(SseStep::Sleep(delay));
        }
        steps.push(SseStep::text(&sse_event(e)));
    }
    steps.push(SseStep::text(DONE));
    Plan::Stream(steps)
}

/// A small JSON-schema validator for the subset of OpenAPI 3.x schema
/// keywords used by OpenAI's request schemas: `$ref` (local), `type`
/// (string or list, plus `nullable`), `enum`, `properties`, `required`,
/// `additionalProperties`, `items`, `allOf`, `anyOf`, `oneOf` (checked
/// leniently, like `anyOf`), `minimum`/`maximum`, `minItems`/`maxItems`,
/// `minLength`/`maxLength`.  Everything else (`format`, `default`, `x-*`...)
/// is ignored.
pub mod schema {
    use serde_json::Value;
    use std::sync::OnceLock;

    /// The spec, copied from OpenAI's published OpenAPI description (reduced).
    pub fn spec() -> &'static Value {
        static SPEC: OnceLock<Value> = OnceLock::new();
        SPEC.get_or_init(|| {
            serde_json::from_str(include_str!("../fixtures/openai-spec.json"))
                .expect("tests/fixtures/openai-spec.json is valid JSON")
        })
    }

    /// Validate `v` against `#/components/schemas/{name}`; returns
    /// `"/json/pointer: problem"` strings (empty when valid).
    pub fn validate(name: &str, v: &Value) -> Vec<String> {
        let root = spec();
        let s = &root["components"]["schemas"][name];
        assert!(!s.is_null(), "no schema named {name}");
        let mut errs = Vec::new();
        check(root, s, v, "", &mut errs, 0);
        errs
    }

    fn resolve<'a>(root: &'a Value, r: &str) -> &'a Value {
        let p = r.strip_prefix('#').unwrap_or(r);
        root.pointer(p)
            .unwrap_or_else(|| panic!("unresolvable $ref {r}"))
    }

    fn type_ok(t: &str, v: &Value) -> bool {
        match t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "null" => v.is_null(),
            _ => true,
        }
    }

    fn short(v: &Value) -> String {
        let s = v.to_string();
        if s.chars().count() > 60 {
            format!("{}…", s.chars().take(60).collect::<String>())
        } else {
            s
        }
    }

    fn check(root: &Value, s: &Value, v: &Value, path: &str, errs: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            return;
        }
        let Some(obj) = s.as_object() else {
            if s == &Value::Bool(false) {
                errs.push(format!("{path}: not allowed"));
            }
            return;
        };
        let at = if path.is_empty() { "/" } else { path };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            check(root, resolve(root, r), v, path, errs, depth + 1);
        }
        if v.is_null() && obj.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        if let Some(t) = obj.get("type") {
            let ok = match t {
                Value::String(t) => type_ok(t, v),
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)),
                _ => true,
            };
            if !ok {
                errs.push(format!("{at}: expected type {t}, got {}", short(v)));
                return;
            }
        }
        if let Some(e) = obj.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            errs.push(format!(
                "{at}: {} is not one of {}",
                short(v),
                short(&Value::Array(e.clone()))
            ));
        }
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            for sub in all {
                check(root, sub, v, path, errs, depth + 1);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = obj.get(key).and_then(Value::as_array) {
                let mut best: Option<Vec<String>> = None;
                let mut matched = false;
                for sub in alts {
                    let mut e = Vec::new();
                    check(root, sub, v, path, &mut e, depth + 1);
                    if e.is_empty() {
                        matched = true;
                        break;
                    }
                    if best.as_ref().is_none_or(|b| e.len() < b.len()) {
                        best = Some(e);
                    }
                }
                if !matched {
                    let hint = best
                        .and_then(|b| b.into_iter().next())
                        .map(|e| format!(" (closest: {e})"))
                        .unwrap_or_default();
                    errs.push(format!(
                        "{at}: {} matches none of the {key} alternatives{hint}",
                        short(v)
                    ));
                }
            }
        }
        if let Some(n) = v.as_f64() {
            if let Some(min) = obj.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                errs.push(format!("{at}: {n} < minimum {min}"));
            }
            if let Some(max) = obj.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                errs.push(format!("{at}: {n} > maximum {max}"));
            }
        }
        if let Some(st) = v.as_str() {
            let len = st.chars().count() as u64;
            if let Some(m) = obj.get("minLength").and_then(Value::as_u64)
                && len < m
            {
                errs.push(format!("{at}: string shorter than {m}"));
            }
            if let Some(m) = obj.get("maxLength").and_then(Value::as_u64)
                && len > m
            {
                errs.push(format!("{at}: string longer than {m}"));
            }
        }
        if let Some(a) = v.as_array() {
            if let Some(m) = obj.get("minItems").and_then(Value::as_u64)
                && (a.len() as u64) < m
            {
                errs.push(format!("{at}: fewer than {m} items"));
            }
            if let Some(m) = obj.get("maxItems").and_then(Value::as_u64)
                && (a.len() as u64) > m
            {
                errs.push(format!("{at}: more than {m} items"));
            }
            if let Some(items) = obj.get("items") {
                for (i, x) in a.iter().enumerate() {
                    check(root, items, x, &format!("{path}/{i}"), errs, depth + 1);
                }
            }
        }
        if let Some(o) = v.as_object() {
            let props = obj.get("properties").and_then(Value::as_object);
            if let Some(req) = obj.get("required").and_then(Value::as_array) {
                for r in req.iter().filter_map(Value::as_str) {
                    if !o.contains_key(r) {
                        errs.push(format!("{at}: missing required property {r:?}"));
                    }
                }
            }
            for (k, x) in o {
                let sub_path = format!("{path}/{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => check(root, ps, x, &sub_path, errs, depth + 1),
                    None => match obj.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errs.push(format!("{at}: unexpected property {k:?}"))
                        }
                        Some(ap @ Value::Object(_)) => {
                            check(root, ap, x, &sub_path, errs, depth + 1)
                        }
                        _ => {}
                    },
                }
            }
        }
    }
}
