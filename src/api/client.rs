//! The HTTP client: one request in, a stream of [`StreamEvent`]s out.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

use crate::api::decode::{Decoder, stream_error_message};
use crate::api::error::{self, ApiError, TimeoutKind};
use crate::api::exchange::{Exchange, Recorder};
use crate::api::sse::{SseEvent, SseParser};
use crate::api::types::{Adaptation, Outcome, Request, Shape, StreamEvent};
use crate::diag::redact_url;

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
    /// Set up at once by [`Client::new`], on first use (or [`Client::warm`]) by
    /// [`Client::deferred`]: reading the system's TLS roots takes milliseconds that the
    /// first frame does not need.
    http: Arc<OnceLock<reqwest::Client>>,
    /// Held while the HTTP client is set up: a request that comes while [`Client::warm`]
    /// runs on another thread waits for it instead of reading the trust store again.
    building: Arc<Mutex<()>>,
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
        let client = Self::deferred(cfg);
        client.warm()?;
        Ok(client)
    }

    /// A client whose HTTP connection pool (and the system's TLS root certificates it
    /// reads) is set up on first use, or by [`Client::warm`]; a failure to set it up is
    /// the error of that first request.
    pub fn deferred(cfg: ClientConfig) -> Self {
        Self {
            http: Arc::new(OnceLock::new()),
            building: Arc::new(Mutex::new(())),
            cfg: Arc::new(cfg),
            send_usage_option: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Set up the HTTP client now (clones share it), if it is not yet.
    pub fn warm(&self) -> Result<(), ApiError> {
        self.http().map(|_| ())
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url.trim_end_matches('/'), path)
    }

    /// The HTTP client (shared connections), set up now if it is not yet (blocking: it
    /// reads the system's trust store).
    pub(crate) fn http(&self) -> Result<&reqwest::Client, ApiError> {
        if let Some(h) = self.http.get() {
            return Ok(h);
        }
        let _one = self.building.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = self.http.get() {
            return Ok(h);
        }
        let built = reqwest::Client::builder()
            .connect_timeout(self.cfg.timeouts.connect)
            .user_agent(concat!("chat-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Protocol(format!("could not set up the HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| built))
    }

    /// The HTTP client for a request: when it is not set up yet, that happens on a
    /// blocking thread (or the set-up already under way there is awaited), so the UI
    /// thread, which runs the requests, never reads the trust store itself.
    pub(crate) async fn http_ready(&self) -> Result<reqwest::Client, ApiError> {
        if let Some(h) = self.http.get() {
            return Ok(h.clone());
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.http().cloned())
            .await
            .unwrap_or_else(|e| {
                Err(ApiError::Protocol(format!(
                    "could not set up the HTTP client: {e}"
                )))
            })
    }

    pub(crate) fn authorize(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cfg.api_key {
            Some(k) => rb.bearer_auth(k.expose()),
            None => rb,
        }
    }

    /// The model ids the server offers (`GET /models`).
    pub async fn models(&self) -> Result<Vec<String>, ApiError> {
        let url = self.url("/models");
        tracing::debug!(method = "GET", url = %redact_url(&url), "request");
        let rb = self.authorize(self.http_ready().await?.get(&url));
        let resp = self.send_with_timeout(rb, &url).await?;
        let status = resp.status().as_u16();
        tracing::info!(method = "GET", url = %redact_url(&url), status, "response");
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
    ///
    /// A 400 "Unsupported parameter: 'X' … Use 'Y' instead" or "Unsupported value: 'X'" about
    /// a field this request sent is adapted once (X renamed to Y, or dropped), reported as
    /// [`StreamEvent::Adapted`], and the request is sent again. A field is adapted at most
    /// once per request, and one it did not send is never adapted: the error is returned.
    pub async fn send(
        &self,
        req: &Request,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        self.send_recorded(req, on_event).await.0
    }

    /// [`Client::send`], and the record of what was sent and received (its final attempt)
    /// for the inspector. The record never holds the key: only its masked form.
    pub async fn send_recorded(
        &self,
        req: &Request,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> (Result<Outcome, ApiError>, Exchange) {
        let mut rec = Recorder::default();
        let result = self.send_logged(req, &mut rec, on_event).await;
        (result, rec.finish())
    }

    async fn send_logged(
        &self,
        req: &Request,
        rec: &mut Recorder,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        req.params.validate(req.mode())?;
        let url = self.url(req.path());
        let started = std::time::Instant::now();
        tracing::debug!(
            method = "POST",
            url = %redact_url(&url),
            model = %req.model,
            stream = req.streams(),
            "request"
        );
        let result = self.send_inner(req, &url, rec, on_event).await;
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(o) => {
                for w in &o.warnings {
                    tracing::warn!(url = %redact_url(&url), warning = %crate::crash::redact(w), "stream warning");
                }
                tracing::info!(url = %redact_url(&url), ms, "reply complete");
            }
            Err(e) => tracing::warn!(
                url = %redact_url(&url),
                ms,
                error = %crate::crash::redact(&e.to_string()),
                "request failed"
            ),
        }
        result
    }

    async fn send_inner(
        &self,
        req: &Request,
        url: &str,
        rec: &mut Recorder,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        let url = url.to_string();
        let started = std::time::Instant::now();
        let mut attempt = 0u32;
        let mut dropped_usage_option = false;
        let mut shape = req.shape.clone();
        let mut adapted: Vec<String> = Vec::new();
        loop {
            let include_usage = req.streams() && self.send_usage_option.load(Ordering::Relaxed);
            let sent = req.body_shaped(include_usage, &shape);
            let text = sent.to_string();
            rec.begin(
                &url,
                self.cfg.api_key.as_ref().map(ApiKey::expose),
                &text,
                req.streams(),
            );
            let mut rb = self
                .authorize(self.http_ready().await?.post(&url))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(text);
            if req.streams() {
                rb = rb.header(reqwest::header::ACCEPT, "text/event-stream");
            }
            let resp = self.send_with_timeout(rb, &url).await?;
            let status = resp.status().as_u16();
            rec.response(status, resp.headers());
            tracing::info!(
                method = "POST",
                url = %redact_url(&url),
                status,
                attempt,
                first_byte_ms = started.elapsed().as_millis() as u64,
                "response"
            );
            if (200..300).contains(&status) {
                return if req.streams() {
                    self.read_stream(resp, req, rec, on_event).await
                } else {
                    self.read_whole(resp, req, rec, on_event).await
                };
            }
            let retry_after = retry_after(&resp);
            let body = self
                .read_body(resp, MAX_ERROR_BODY)
                .await
                .unwrap_or_default();
            rec.body(&body);
            let err = error::from_response(status, retry_after, &body);
            if include_usage && !dropped_usage_option && rejects_usage_option(&err) {
                self.send_usage_option.store(false, Ordering::Relaxed);
                dropped_usage_option = true;
                continue;
            }
            if let Some(a) = adaptation_for(&err, &sent, &shape, &adapted) {
                adapted.push(a.param().to_string());
                if let Adaptation::Rename { to, .. } = &a {
                    // What chat-tui renamed a field to is never adapted again.
                    adapted.push(to.clone());
                }
                let message = match &err {
                    ApiError::Http { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                shape.push(a.clone());
                on_event(StreamEvent::Adapted {
                    model: req.model.clone(),
                    adaptation: a,
                    message,
                });
                continue;
            }
            if err.is_retryable() && attempt < self.cfg.retries {
                let wait = retry_after
                    .map(|d| d.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| self.cfg.backoff * 2u32.saturating_pow(attempt));
                attempt += 1;
                tracing::info!(
                    status,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
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
        rec: &mut Recorder,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        let cap = self.cfg.max_reply_bytes.saturating_mul(2).max(1 << 20);
        let body = self.read_body(resp, cap).await?;
        rec.body(&body);
        let v: Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::Protocol(format!(
                "the reply is not JSON ({e}): {}",
                error::excerpt(&String::from_utf8_lossy(&body))
            ))
        })?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            return Err(ApiError::Stream(stream_error_message(err)));
        }
        let mut decoder = Decoder::whole(req, self.cfg.max_reply_bytes);
        decoder.object(&v, on_event)?;
        decoder.finish(true)
    }

    async fn read_stream(
        &self,
        mut resp: reqwest::Response,
        req: &Request,
        rec: &mut Recorder,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<Outcome, ApiError> {
        let is_sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.contains("event-stream") || v.contains("text/plain"));
        if !is_sse {
            // Some servers ignore `stream: true` and answer with one JSON document.
            return self.read_whole(resp, req, rec, on_event).await;
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
                    rec.data(bytes.len());
                    parser
                        .feed(bytes, &mut events)
                        .map_err(|e| ApiError::Protocol(e.to_string()))?;
                }
                None => parser.finish(&mut events),
            }
            for ev in events.drain(..) {
                rec.event(ev.event.as_deref(), &ev.data);
                decoder.event(&ev, on_event)?;
            }
            if decoder.done() {
                return decoder.finish(true);
            }
            if chunk.is_none() {
                return decoder.finish(false);
            }
        }
    }
}

/// The adaptation an "Unsupported parameter/value" error asks for, when the field it names
/// is one `body` sent (at its top level) and was not adapted already in this request.
fn adaptation_for(
    err: &ApiError,
    body: &Value,
    shape: &Shape,
    adapted: &[String],
) -> Option<Adaptation> {
    let ApiError::Http {
        status, message, ..
    } = err
    else {
        return None;
    };
    if *status != 400 && *status != 422 {
        return None;
    }
    let a = error::unsupported(message)?;
    let name = a.param();
    let sent = body.as_object().is_some_and(|o| o.contains_key(name));
    if !sent || adapted.iter().any(|p| p == name) || shape.get(name).is_some() {
        return None;
    }
    if matches!(name, "model" | "messages" | "prompt" | "stream") {
        return None;
    }
    Some(a)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_uses_the_http_client_being_set_up_instead_of_building_another() {
        let client = Client::deferred(ClientConfig::default());
        // A set-up under way on another thread (`Client::warm` after the first frame).
        let (locked_tx, locked) = std::sync::mpsc::channel();
        let (finish, finish_rx) = std::sync::mpsc::channel::<()>();
        let warm = std::thread::spawn({
            let client = client.clone();
            move || {
                let _under_way = client.building.lock().unwrap();
                locked_tx.send(()).unwrap();
                finish_rx.recv().unwrap();
                client.http.set(reqwest::Client::new()).unwrap();
            }
        });
        locked.recv().unwrap();
        let request = tokio::spawn({
            let client = client.clone();
            async move { client.http_ready().await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!request.is_finished(), "the request waits for it");
        finish.send(()).unwrap();
        // It waited off the runtime's thread (a single-threaded runtime here, like the
        // UI's: blocked on the lock, the sleep above would never have ended), and goes on
        // with the client set up there.
        request.await.unwrap().unwrap();
        warm.join().unwrap();
    }
}
