//! The HTTP client: one request in, a stream of [`StreamEvent`]s out.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::api::error::{self, ApiError, TimeoutKind};
use crate::api::sse::{SseEvent, SseParser};
use crate::api::types::{FinishReason, Mode, Outcome, Request, StreamEvent, Usage};

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// `None` for an empty or blank key.
    pub fn new(key: impl Into<String>) -> Option<Self> {
        let k = key.into().trim().to_string();
        (!k.is_empty()).then_some(ApiKey(k))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// How long to wait, and for what.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(60),
        }
    }
}

/// Everything the client needs to know.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// e.g. `https://api.openai.com/v1` (no trailing slash needed).
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub timeouts: Timeouts,
    /// Retries of 429 and 5xx before any text arrived.
    pub retries: u32,
    /// Base of the exponential backoff when the server gives no `Retry-After`.
    pub backoff: Duration,
    /// Cap on one reply's text (all choices together), in bytes.
    pub max_reply_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            timeouts: Timeouts::default(),
            retries: 3,
            backoff: Duration::from_millis(500),
            max_reply_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A cheap-to-clone handle: clones share connections and what was learnt about the server.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    cfg: Arc<ClientConfig>,
    /// Cleared when the server rejected `stream_options`; then it is never sent again.
    send_usage_option: Arc<AtomicBool>,
}

/// Longest error body read, in bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Longest wait honoured from `Retry-After`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.timeouts.connect)
            .user_agent(concat!("chat-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Protocol(format!("could not set up the HTTP client: {e}")))?;
        Ok(Self {
            http,
            cfg: Arc::new(cfg),
            send_usage_option: Arc::new(AtomicBool::new(true)),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url.trim_end_matches('/'), path)
    }

    fn authorize(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cfg.api_key {
            Some(k) => rb.bearer_auth(k.expose()),
            None => rb,
        }
    }

    /// The model ids the server offers (`GET /models`).
    pub async fn models(&self) -> Result<Vec<String>, ApiError> {
        let url = self.url("/models");
        let rb = self.authorize(self.http.get(&url));
        let resp = self.send_with_timeout(rb, &url).await?;
        let status = resp.status().as_u16();
        let retry_after = retry_after(&resp);
        let body = self.read_body(resp, MAX_ERROR_BODY * 64).await?;
        if !(200..300).contains(&status) {
            return Err(error::from_response(status, retry_after, &body));
        }
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::Protocol(format!(
                "the model list is not JSON ({e}): {}",
                error::excerpt(&String::from_utf8_lossy(&body))
            ))
        })?;
        let data = v
            .get("data")
            .or_else(|| v.get("models"))
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::Protocol("the model list has no `data` array".into()))?;
        let mut ids: Vec<String> = data
            .iter()
            .filter_map(|m| {
                m.get("id")
                    .or_else(|| m.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Send `req` and deliver what comes back to `on_event`, in order. Returns when the reply
    /// is complete. Dropping the future closes the connection at once.
    ///
    /// 429 and 5xx are retried (honouring `Retry-After`) only before any text arrived, which
    /// is always the case for an error status. A server that rejects `stream_options` gets
    /// the request again without it, and never again afterwards.
    pub async fn send(
        &self,
        req: &Request,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        req.params.validate(req.mode())?;
        let url = self.url(req.path());
        let mut attempt = 0u32;
        let mut dropped_usage_option = false;
        loop {
            let include_usage = req.streams() && self.send_usage_option.load(Ordering::Relaxed);
            let body = req.body(include_usage);
            let mut rb = self
                .authorize(self.http.post(&url))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
            if req.streams() {
                rb = rb.header(reqwest::header::ACCEPT, "text/event-stream");
            }
            let resp = self.send_with_timeout(rb, &url).await?;
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                return if req.streams() {
                    self.read_stream(resp, req, on_event).await
                } else {
                    self.read_whole(resp, req, on_event).await
                };
            }
            let retry_after = retry_after(&resp);
            let body = self
                .read_body(resp, MAX_ERROR_BODY)
                .await
                .unwrap_or_default();
            let err = error::from_response(status, retry_after, &body);
            if include_usage && !dropped_usage_option && rejects_usage_option(&err) {
                self.send_usage_option.store(false, Ordering::Relaxed);
                dropped_usage_option = true;
                continue;
            }
            if err.is_retryable() && attempt < self.cfg.retries {
                let wait = retry_after
                    .map(|d| d.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| self.cfg.backoff * 2u32.saturating_pow(attempt));
                attempt += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(err);
        }
    }

    async fn send_with_timeout(
        &self,
        rb: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ApiError> {
        let limit = self.cfg.timeouts.connect + self.cfg.timeouts.first_byte;
        match tokio::time::timeout(limit, rb.send()).await {
            Err(_) => Err(ApiError::Timeout {
                kind: TimeoutKind::FirstByte,
                after: self.cfg.timeouts.first_byte,
            }),
            Ok(Err(e)) => Err(self.transport_error(e, url)),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    fn transport_error(&self, e: reqwest::Error, url: &str) -> ApiError {
        let detail = error_chain(&e);
        let lower = detail.to_ascii_lowercase();
        if e.is_timeout() && e.is_connect() {
            return ApiError::Timeout {
                kind: TimeoutKind::Connect,
                after: self.cfg.timeouts.connect,
            };
        }
        if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
            || lower.contains("invalidcontenttype")
            || lower.contains("corrupt message")
        {
            return ApiError::Tls {
                url: url.to_string(),
                detail,
            };
        }
        if e.is_connect() || e.is_builder() {
            return ApiError::Connect {
                url: url.to_string(),
                detail,
            };
        }
        if e.is_request() && !e.is_body() {
            // Connected, sent the request, and the server hung up without an answer.
            return ApiError::Network(format!(
                "the server closed the connection before answering ({detail})"
            ));
        }
        ApiError::Network(detail)
    }

    async fn next_chunk(
        &self,
        resp: &mut reqwest::Response,
        first: bool,
    ) -> Result<Option<bytes::Bytes>, ApiError> {
        let (limit, kind) = if first {
            (self.cfg.timeouts.first_byte, TimeoutKind::FirstByte)
        } else {
            (self.cfg.timeouts.idle, TimeoutKind::Idle)
        };
        match tokio::time::timeout(limit, resp.chunk()).await {
            Err(_) => Err(ApiError::Timeout { kind, after: limit }),
            Ok(Err(e)) => Err(ApiError::Network(error_chain(&e))),
            Ok(Ok(c)) => Ok(c),
        }
    }

    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        cap: usize,
    ) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        let mut first = true;
        while let Some(chunk) = self.next_chunk(&mut resp, first).await? {
            first = false;
            let room = cap.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if out.len() >= cap {
                break;
            }
        }
        Ok(out)
    }

    async fn read_whole(
        &self,
        resp: reqwest::Response,
        req: &Request,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        let cap = self.cfg.max_reply_bytes.saturating_mul(2).max(1 << 20);
        let body = self.read_body(resp, cap).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::Protocol(format!(
                "the reply is not JSON ({e}): {}",
                error::excerpt(&String::from_utf8_lossy(&body))
            ))
        })?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(ApiError::Stream(stream_error_message(err)));
        }
        let mut decoder = Decoder::new(req, self.cfg.max_reply_bytes);
        decoder.whole = true;
        decoder.object(&v, on_event)?;
        decoder.finish(true)
    }

    async fn read_stream(
        &self,
        mut resp: reqwest::Response,
        req: &Request,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        let is_sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.contains("event-stream") || v.contains("text/plain"));
        if !is_sse {
            // Some servers ignore `stream: true` and answer with one JSON document.
            return self.read_whole(resp, req, on_event).await;
        }
        let mut parser = SseParser::with_max_line(self.cfg.max_reply_bytes.saturating_add(1 << 16));
        let mut decoder = Decoder::new(req, self.cfg.max_reply_bytes);
        let mut events: Vec<SseEvent> = Vec::new();
        let mut first = true;
        loop {
            let chunk = self.next_chunk(&mut resp, first).await?;
            first = false;
            match &chunk {
                Some(bytes) => {
                    parser
                        .feed(bytes, &mut events)
                        .map_err(|e| ApiError::Protocol(e.to_string()))?;
                }
                None => parser.finish(&mut events),
            }
            for ev in events.drain(..) {
                decoder.event(&ev, on_event)?;
            }
            if decoder.done {
                return decoder.finish(true);
            }
            if chunk.is_none() {
                return decoder.finish(false);
            }
        }
    }
}

/// Turns response JSON (chunks or whole documents) into [`StreamEvent`]s.
struct Decoder {
    mode: Mode,
    /// `[DONE]` seen.
    done: bool,
    /// Parsing a non-streamed document.
    whole: bool,
    /// Per choice index: finished?
    finished: Vec<bool>,
    model_sent: bool,
    usage: Option<Usage>,
    /// Usage from chunks without choices, summed over choices.
    final_usage: Option<Usage>,
    model: Option<String>,
    bytes: usize,
    max_bytes: usize,
    malformed: usize,
    /// Choices asked for (`n`, or `best_of`'s `n`): a larger index is the server's mistake,
    /// and trusting it would size per-choice vectors by whatever number it sent.
    max_choices: usize,
    /// Choices with an index beyond `max_choices`, skipped.
    stray_choices: usize,
}

impl Decoder {
    fn new(req: &Request, max_bytes: usize) -> Self {
        Self {
            mode: req.mode(),
            done: false,
            whole: false,
            finished: Vec::new(),
            model_sent: false,
            usage: None,
            final_usage: None,
            model: None,
            bytes: 0,
            max_bytes,
            malformed: 0,
            max_choices: req.params.choices() as usize,
            stray_choices: 0,
        }
    }

    fn event(
        &mut self,
        ev: &SseEvent,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<(), ApiError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(_) => {
                if ev.event.as_deref() == Some("error") {
                    return Err(ApiError::Stream(error::excerpt(data)));
                }
                self.malformed += 1;
                return Ok(());
            }
        };
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(ApiError::Stream(stream_error_message(err)));
        }
        if ev.event.as_deref() == Some("error") {
            return Err(ApiError::Stream(stream_error_message(&v)));
        }
        self.object(&v, on_event)
    }

    fn object(
        &mut self,
        v: &Value,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<(), ApiError> {
        if !self.model_sent
            && let Some(m) = v
                .get("model")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
        {
            self.model_sent = true;
            self.model = Some(m.to_string());
            on_event(StreamEvent::Model(m.to_string()));
        }
        if let Some(choices) = v.get("choices").and_then(Value::as_array) {
            for (pos, c) in choices.iter().enumerate() {
                let index = c
                    .get("index")
                    .and_then(Value::as_u64)
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(pos as u32);
                if index as usize >= self.max_choices {
                    self.stray_choices += 1;
                    continue;
                }
                let text = match self.mode {
                    Mode::Chat => {
                        let holder = if self.whole {
                            c.get("message")
                        } else {
                            c.get("delta")
                        };
                        holder
                            .and_then(|d| d.get("content"))
                            .and_then(content_text)
                            .or_else(|| c.get("text").and_then(Value::as_str).map(str::to_string))
                    }
                    Mode::Completion => c
                        .get("text")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .or_else(|| {
                            c.get("delta")
                                .and_then(|d| d.get("content"))
                                .and_then(content_text)
                        }),
                };
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    self.bytes += text.len();
                    if self.bytes > self.max_bytes {
                        return Err(ApiError::TooLarge {
                            limit: self.max_bytes,
                        });
                    }
                    on_event(StreamEvent::Delta { index, text });
                }
                if let Some(reason) = c.get("finish_reason").and_then(Value::as_str) {
                    let i = index as usize;
                    if self.finished.len() <= i {
                        self.finished.resize(i + 1, false);
                    }
                    self.finished[i] = true;
                    on_event(StreamEvent::Finish {
                        index,
                        reason: FinishReason::parse(reason),
                    });
                } else {
                    let i = index as usize;
                    if self.finished.len() <= i {
                        self.finished.resize(i + 1, false);
                    }
                }
            }
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null())
            && let Ok(mut usage) = serde_json::from_value::<Usage>(u.clone())
        {
            if usage.total_tokens == 0 {
                usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            }
            // llama.cpp sends one usage chunk (with no choices) per choice when n > 1, each
            // counting only its own completion: add those up. Usage riding on choice chunks is
            // cumulative (vLLM's continuous stats): the last one wins.
            let final_chunk = v
                .get("choices")
                .and_then(Value::as_array)
                .is_some_and(|c| c.is_empty());
            if final_chunk {
                if let Some(prev) = self.final_usage {
                    usage.prompt_tokens = usage.prompt_tokens.max(prev.prompt_tokens);
                    usage.completion_tokens += prev.completion_tokens;
                    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
                }
                self.final_usage = Some(usage);
            }
            self.usage = Some(usage);
            on_event(StreamEvent::Usage(usage));
        }
        Ok(())
    }

    /// `clean`: the stream ended with `[DONE]` (or was a whole document).
    fn finish(self, clean: bool) -> Result<Outcome, ApiError> {
        let all_finished = !self.finished.is_empty() && self.finished.iter().all(|f| *f);
        if !clean && !all_finished {
            return Err(ApiError::Incomplete);
        }
        if self.whole && self.finished.is_empty() && self.usage.is_none() {
            return Err(ApiError::Protocol("the reply has no `choices`".into()));
        }
        let mut warnings = Vec::new();
        if self.malformed > 0 {
            warnings.push(format!(
                "{} malformed event(s) in the stream were skipped",
                self.malformed
            ));
        }
        if self.stray_choices > 0 {
            warnings.push(format!(
                "{} choice(s) with an index beyond the {} asked for were skipped",
                self.stray_choices, self.max_choices
            ));
        }
        Ok(Outcome {
            usage: self.usage,
            model: self.model,
            warnings,
        })
    }
}

/// Chat `content` is a string, or (some servers) an array of `{type: "text", text}` parts.
fn content_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect(),
        ),
        _ => None,
    }
}

fn stream_error_message(err: &Value) -> String {
    match err {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| error::excerpt(&err.to_string())),
        other => error::excerpt(&other.to_string()),
    }
}

fn rejects_usage_option(err: &ApiError) -> bool {
    match err {
        ApiError::Http {
            status, message, ..
        } if *status == 400 || *status == 422 => {
            message.contains("stream_options") || message.contains("include_usage")
        }
        _ => false,
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(3600.0)));
    }
    // An HTTP date.
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (when.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    Some(Duration::from_millis(secs.max(0) as u64))
}

/// The error and its causes, one line, without the URL's query (which could carry a key).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}
