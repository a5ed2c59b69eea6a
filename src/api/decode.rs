//! Decoding a reply: SSE events and response JSON (streamed chunks or one whole
//! document) become [`StreamEvent`]s, and the end of the reply an [`Outcome`] or an error.

use serde_json::Value;

use crate::api::error::{self, ApiError};
use crate::api::logprobs::{self, Parsed};
use crate::api::sse::SseEvent;
use crate::api::types::{FinishReason, Mode, Outcome, Request, StreamEvent, Usage};

/// Turns response JSON (chunks or whole documents) into [`StreamEvent`]s.
pub(crate) struct Decoder {
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
    /// Log probability entries passed on (all choices), up to [`logprobs::MAX_TOKENS`].
    logprob_tokens: usize,
    /// Log probability entries that did not parse, skipped.
    bad_logprobs: usize,
    /// Alternatives beyond the most a token keeps, dropped.
    dropped_alternatives: usize,
    /// Log probabilities beyond the cap, not passed on.
    logprobs_cut: usize,
}

impl Decoder {
    /// A decoder for a streamed reply to `req`, failing once the text exceeds `max_bytes`.
    pub(crate) fn new(req: &Request, max_bytes: usize) -> Self {
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
            logprob_tokens: 0,
            bad_logprobs: 0,
            dropped_alternatives: 0,
            logprobs_cut: 0,
        }
    }

    /// A decoder for a non-streamed reply (one whole JSON document).
    pub(crate) fn whole(req: &Request, max_bytes: usize) -> Self {
        Self {
            whole: true,
            ..Self::new(req, max_bytes)
        }
    }

    /// `[DONE]` was seen.
    pub(crate) fn done(&self) -> bool {
        self.done
    }

    pub(crate) fn event(
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

    /// One chunk (or the whole document): the model, each choice, the usage.
    pub(crate) fn object(
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
                self.choice(pos, c, on_event)?;
            }
        } else if let Some(probs) = v.get("completion_probabilities") {
            // llama.cpp's native answer shape: one choice, its probabilities at the top.
            let parsed = logprobs::parse_completion_probabilities(probs);
            self.logprobs(0, parsed, on_event);
        }
        if let Some(usage) = v
            .get("usage")
            .filter(|u| !u.is_null())
            .and_then(Usage::from_api)
        {
            self.usage(v, usage, on_event);
        }
        Ok(())
    }

    /// One element of `choices`, at position `pos` in its array.
    fn choice(
        &mut self,
        pos: usize,
        c: &Value,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) -> Result<(), ApiError> {
        let index = c
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(pos as u32);
        if index as usize >= self.max_choices {
            self.stray_choices += 1;
            return Ok(());
        }
        if let Some(text) = self.choice_reasoning(c).filter(|t| !t.is_empty()) {
            self.count_bytes(text.len())?;
            on_event(StreamEvent::Reasoning { index, text });
        }
        if let Some(text) = self.choice_text(c).filter(|t| !t.is_empty()) {
            self.count_bytes(text.len())?;
            on_event(StreamEvent::Delta { index, text });
        }
        let parsed = match c.get("logprobs").and_then(logprobs::parse_choice) {
            Some(p) => Some(p),
            None => c
                .get("completion_probabilities")
                .map(logprobs::parse_completion_probabilities),
        };
        if let Some(parsed) = parsed {
            self.logprobs(index, parsed, on_event);
        }
        let i = index as usize;
        if self.finished.len() <= i {
            self.finished.resize(i + 1, false);
        }
        if let Some(reason) = c.get("finish_reason").and_then(Value::as_str) {
            self.finished[i] = true;
            on_event(StreamEvent::Finish {
                index,
                reason: FinishReason::parse(reason),
            });
        }
        Ok(())
    }

    /// Count `n` more bytes of the reply against `max_reply_bytes`.
    fn count_bytes(&mut self, n: usize) -> Result<(), ApiError> {
        self.bytes += n;
        if self.bytes > self.max_bytes {
            return Err(ApiError::TooLarge {
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    /// Pass on the log probabilities of choice `index` (up to the cap).
    fn logprobs(
        &mut self,
        index: u32,
        mut parsed: Parsed,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) {
        self.bad_logprobs += parsed.malformed;
        self.dropped_alternatives += parsed.dropped_alternatives;
        let room = logprobs::MAX_TOKENS.saturating_sub(self.logprob_tokens);
        if parsed.tokens.len() > room {
            self.logprobs_cut += parsed.tokens.len() - room;
            parsed.tokens.truncate(room);
        }
        if parsed.tokens.is_empty() {
            return;
        }
        self.logprob_tokens += parsed.tokens.len();
        on_event(StreamEvent::Logprobs {
            index,
            tokens: parsed.tokens,
        });
    }

    /// A choice's reasoning text: `reasoning_content` (DeepSeek, llama.cpp, vLLM) or
    /// `reasoning` (OpenRouter, Ollama), in the delta (streamed) or the message (whole).
    fn choice_reasoning(&self, c: &Value) -> Option<String> {
        let holder = if self.whole {
            c.get("message").or_else(|| c.get("delta"))
        } else {
            c.get("delta").or_else(|| c.get("message"))
        }?;
        ["reasoning_content", "reasoning"]
            .iter()
            .find_map(|k| holder.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    }

    /// A choice's text: where the mode puts it, else where the other mode does.
    fn choice_text(&self, c: &Value) -> Option<String> {
        match self.mode {
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
        }
    }

    /// A `usage` object, found in the chunk `v`.
    fn usage(
        &mut self,
        v: &Value,
        mut usage: Usage,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
    ) {
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
                if let Some(r) = prev.reasoning_tokens {
                    usage.reasoning_tokens = Some(usage.reasoning_tokens.unwrap_or(0) + r);
                }
                usage.cached_tokens = usage.cached_tokens.max(prev.cached_tokens);
            }
            self.final_usage = Some(usage);
        }
        self.usage = Some(usage);
        on_event(StreamEvent::Usage(usage));
    }

    /// `clean`: the stream ended with `[DONE]` (or was a whole document).
    pub(crate) fn finish(self, clean: bool) -> Result<Outcome, ApiError> {
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
        if self.bad_logprobs > 0 {
            warnings.push(format!(
                "{} malformed logprobs entr{} (no token or no log probability) skipped",
                self.bad_logprobs,
                if self.bad_logprobs == 1 { "y" } else { "ies" }
            ));
        }
        if self.dropped_alternatives > 0 {
            warnings.push(format!(
                "the server sent more than {} alternatives per token: {} less likely ones dropped",
                logprobs::MAX_ALTERNATIVES,
                self.dropped_alternatives
            ));
        }
        if self.logprobs_cut > 0 {
            warnings.push(format!(
                "logprobs kept for the first {} tokens only ({} more not kept)",
                logprobs::MAX_TOKENS,
                self.logprobs_cut
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

/// The message of an `error` object (or string) the server sent in place of a reply.
pub(crate) fn stream_error_message(err: &Value) -> String {
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
