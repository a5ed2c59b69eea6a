//! Wire types: what chat-tui sends and the events a response turns into.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Which endpoint a conversation talks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `POST /chat/completions`
    #[default]
    Chat,
    /// The legacy `POST /completions` (a single prompt string).
    Completion,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Chat => "chat",
            Mode::Completion => "completion",
        })
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "chat" => Ok(Mode::Chat),
            "completion" | "completions" | "legacy" => Ok(Mode::Completion),
            other => Err(format!(
                "unknown mode `{other}` (expected chat or completion)"
            )),
        }
    }
}

/// A message role on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a chat request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireMessage {
    pub role: Role,
    pub content: String,
}

impl WireMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// Sampling parameters. Every field is optional: a parameter the user did not set is
/// omitted from the request so the server applies its own default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_of: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Log probabilities: how many alternatives per token (0–20). Sent as `logprobs: true,
    /// top_logprobs: N` in chat mode and `logprobs: N` in completion mode (see
    /// [`Request::body`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Any other body field, passed through unvalidated (server-specific parameters).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Value>,
}

/// The names `/set` and `--set` accept, in display order.
pub const PARAM_NAMES: &[&str] = &[
    "temperature",
    "top_p",
    "max_tokens",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "suffix",
    "best_of",
    "seed",
    "logprobs",
];

/// The most alternatives per token `/set logprobs` accepts (the chat API's `top_logprobs`
/// maximum).
pub const MAX_TOP_LOGPROBS: u32 = 20;

/// A parameter value that breaks the API's rules, found before any request is sent.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

impl Params {
    /// Number of choices asked for (`n`, default 1).
    pub fn choices(&self) -> u32 {
        self.n.unwrap_or(1).max(1)
    }

    /// Check the values against the API's documented ranges. `mode` matters for
    /// `suffix` and `best_of`, which only the legacy completions endpoint accepts.
    pub fn validate(&self, mode: Mode) -> Result<(), ParamError> {
        fn range(name: &str, v: Option<f64>, lo: f64, hi: f64) -> Result<(), ParamError> {
            match v {
                Some(x) if !x.is_finite() || x < lo || x > hi => Err(ParamError(format!(
                    "{name} must be between {lo} and {hi} (got {x})"
                ))),
                _ => Ok(()),
            }
        }
        range("temperature", self.temperature, 0.0, 2.0)?;
        range("top_p", self.top_p, 0.0, 1.0)?;
        range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        if self.n == Some(0) {
            return Err(ParamError("n must be at least 1".into()));
        }
        if self.max_tokens == Some(0) {
            return Err(ParamError("max_tokens must be at least 1".into()));
        }
        if self.stop.len() > 4 {
            return Err(ParamError(format!(
                "at most 4 stop sequences are allowed (got {})",
                self.stop.len()
            )));
        }
        if self.stop.iter().any(|s| s.is_empty()) {
            return Err(ParamError("stop sequences must not be empty".into()));
        }
        if let Some(b) = self.best_of {
            if b < self.choices() {
                return Err(ParamError(format!(
                    "best_of ({b}) must be at least n ({})",
                    self.choices()
                )));
            }
            if mode != Mode::Completion {
                return Err(ParamError(
                    "best_of is only accepted by the completion endpoint (/mode completion)".into(),
                ));
            }
        }
        if let Some(n) = self.logprobs
            && n > MAX_TOP_LOGPROBS
        {
            return Err(ParamError(format!(
                "logprobs must be between 0 and {MAX_TOP_LOGPROBS} (got {n})"
            )));
        }
        if self.suffix.is_some() && mode != Mode::Completion {
            return Err(ParamError(
                "suffix is only accepted by the completion endpoint (/mode completion)".into(),
            ));
        }
        Ok(())
    }

    /// Set one parameter from text, as typed after `/set NAME` or `--set NAME=VALUE`.
    /// Unknown names become extra body fields when `value` parses as JSON
    /// (or as a bare string otherwise).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let value = value.trim();
        fn num<T: FromStr>(name: &str, v: &str) -> Result<T, ParamError> {
            v.parse::<T>()
                .map_err(|_| ParamError(format!("{name}: `{v}` is not a valid number")))
        }
        match name {
            "temperature" => self.temperature = Some(num(name, value)?),
            "top_p" => self.top_p = Some(num(name, value)?),
            "max_tokens" => self.max_tokens = Some(num(name, value)?),
            "n" => self.n = Some(num(name, value)?),
            "presence_penalty" => self.presence_penalty = Some(num(name, value)?),
            "frequency_penalty" => self.frequency_penalty = Some(num(name, value)?),
            "best_of" => self.best_of = Some(num(name, value)?),
            "seed" => self.seed = Some(num(name, value)?),
            "logprobs" => self.logprobs = Some(num(name, value)?),
            "suffix" => self.suffix = Some(unquote(value)),
            "stop" => {
                self.stop = parse_stop_list(value)?;
            }
            "" => return Err(ParamError("parameter name is empty".into())),
            other => {
                let v = serde_json::from_str::<Value>(value)
                    .unwrap_or_else(|_| Value::String(value.to_string()));
                self.extra.insert(other.to_string(), v);
            }
        }
        Ok(())
    }

    /// Remove a parameter so the server's default applies again.
    pub fn unset(&mut self, name: &str) -> Result<(), ParamError> {
        match name {
            "temperature" => self.temperature = None,
            "top_p" => self.top_p = None,
            "max_tokens" => self.max_tokens = None,
            "n" => self.n = None,
            "stop" => self.stop.clear(),
            "presence_penalty" => self.presence_penalty = None,
            "frequency_penalty" => self.frequency_penalty = None,
            "suffix" => self.suffix = None,
            "best_of" => self.best_of = None,
            "seed" => self.seed = None,
            "logprobs" => self.logprobs = None,
            other => {
                if self.extra.remove(other).is_none() {
                    return Err(ParamError(format!("`{other}` is not set")));
                }
            }
        }
        Ok(())
    }

    /// The value of a named parameter as text, or `None` when unset.
    pub fn get(&self, name: &str) -> Option<String> {
        fn f(v: Option<f64>) -> Option<String> {
            v.map(|x| format!("{x}"))
        }
        match name {
            "temperature" => f(self.temperature),
            "top_p" => f(self.top_p),
            "max_tokens" => self.max_tokens.map(|v| v.to_string()),
            "n" => self.n.map(|v| v.to_string()),
            "stop" => (!self.stop.is_empty())
                .then(|| serde_json::to_string(&self.stop).unwrap_or_default()),
            "presence_penalty" => f(self.presence_penalty),
            "frequency_penalty" => f(self.frequency_penalty),
            "suffix" => self
                .suffix
                .as_ref()
                .map(|s| serde_json::to_string(s).unwrap_or_default()),
            "best_of" => self.best_of.map(|v| v.to_string()),
            "seed" => self.seed.map(|v| v.to_string()),
            "logprobs" => self.logprobs.map(|v| v.to_string()),
            other => self.extra.get(other).map(|v| v.to_string()),
        }
    }

    /// Lay `over` on top of `self`: every field `over` sets wins.
    pub fn merge(&mut self, over: &Params) {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f.clone(); } )* };
        }
        take!(
            temperature,
            top_p,
            max_tokens,
            n,
            presence_penalty,
            frequency_penalty,
            suffix,
            best_of,
            seed,
            logprobs
        );
        if !over.stop.is_empty() {
            self.stop = over.stop.clone();
        }
        for (k, v) in &over.extra {
            self.extra.insert(k.clone(), v.clone());
        }
    }

    /// Write every set parameter into a JSON request body. `logprobs` is not written here:
    /// its shape depends on the endpoint ([`Request::body`] writes it).
    pub fn write_into(&self, body: &mut Map<String, Value>) {
        if let Ok(Value::Object(m)) = serde_json::to_value(self) {
            for (k, v) in m {
                if k == "extra" || k == "logprobs" {
                    continue;
                }
                body.insert(k, v);
            }
        }
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
    }
}

fn unquote(v: &str) -> String {
    if v.len() >= 2
        && v.starts_with('"')
        && v.ends_with('"')
        && let Ok(s) = serde_json::from_str::<String>(v)
    {
        return s;
    }
    v.to_string()
}

/// `stop` accepts a JSON array (`["\n", "User:"]`), a JSON string, or bare text.
fn parse_stop_list(v: &str) -> Result<Vec<String>, ParamError> {
    if v.starts_with('[') {
        return serde_json::from_str::<Vec<String>>(v)
            .map_err(|e| ParamError(format!("stop: not a JSON list of strings ({e})")));
    }
    Ok(vec![unquote(v)])
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Prompt {
    Chat(Vec<WireMessage>),
    Completion(String),
}

/// One API request, complete.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub model: String,
    pub prompt: Prompt,
    pub params: Params,
    /// Stream over SSE (the default). `best_of` forces a non-streamed request.
    pub stream: bool,
    /// What the model does not accept, adjusted in the body (see [`Shape`]). Default: none.
    pub shape: Shape,
}

/// A change to a request body for a model that refuses a parameter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Adaptation {
    /// Send the value of `from` under the name `to` (`max_tokens` → `max_completion_tokens`).
    Rename { from: String, to: String },
    /// Do not send `name` (the server's default applies).
    Drop { name: String },
}

impl Adaptation {
    /// The body field this changes.
    pub fn param(&self) -> &str {
        match self {
            Adaptation::Rename { from, .. } => from,
            Adaptation::Drop { name } => name,
        }
    }

    /// A few words for the status line: "max_tokens sent as max_completion_tokens",
    /// "temperature not sent".
    pub fn describe(&self) -> String {
        match self {
            Adaptation::Rename { from, to } => format!("{from} sent as {to}"),
            Adaptation::Drop { name } => format!("{name} not sent"),
        }
    }
}

/// The adaptations applied to a request body, in order (from what is known about the
/// model, and what the server said). The fields that carry the conversation (`model`,
/// `messages`, `prompt`) are never changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub adaptations: Vec<Adaptation>,
}

/// Body fields a [`Shape`] never touches.
const PROTECTED_FIELDS: &[&str] = &["model", "messages", "prompt"];

impl Shape {
    pub fn is_empty(&self) -> bool {
        self.adaptations.is_empty()
    }

    /// Add `a` unless the same field is already adapted.
    pub fn push(&mut self, a: Adaptation) {
        if !self.adaptations.iter().any(|x| x.param() == a.param()) {
            self.adaptations.push(a);
        }
    }

    /// The adaptation of field `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Adaptation> {
        self.adaptations.iter().find(|a| a.param() == name)
    }

    /// Apply to a body. Dropping (or renaming) `logprobs` takes `top_logprobs` with it: one
    /// is meaningless without the other.
    pub fn apply(&self, body: &mut Map<String, Value>) {
        for a in &self.adaptations {
            if PROTECTED_FIELDS.contains(&a.param()) {
                continue;
            }
            match a {
                Adaptation::Rename { from, to } => {
                    if PROTECTED_FIELDS.contains(&to.as_str()) {
                        continue;
                    }
                    if let Some(v) = body.remove(from) {
                        body.insert(to.clone(), v);
                    }
                }
                Adaptation::Drop { name } => {
                    body.remove(name);
                    if name == "logprobs" || name == "top_logprobs" {
                        body.remove("logprobs");
                        body.remove("top_logprobs");
                    }
                }
            }
        }
    }
}

impl Request {
    pub fn mode(&self) -> Mode {
        match self.prompt {
            Prompt::Chat(_) => Mode::Chat,
            Prompt::Completion(_) => Mode::Completion,
        }
    }

    /// Whether this request will be streamed (`best_of` cannot stream).
    pub fn streams(&self) -> bool {
        self.stream && self.params.best_of.is_none()
    }

    /// The path under the base URL.
    pub fn path(&self) -> &'static str {
        match self.prompt {
            Prompt::Chat(_) => "/chat/completions",
            Prompt::Completion(_) => "/completions",
        }
    }

    /// The JSON body, exactly as sent. `include_usage` adds `stream_options.include_usage`
    /// to streamed requests; the request's [`Shape`] is applied last.
    pub fn body(&self, include_usage: bool) -> Value {
        self.body_shaped(include_usage, &self.shape)
    }

    /// The body with another shape (the client's retry after an "Unsupported parameter").
    pub fn body_shaped(&self, include_usage: bool, shape: &Shape) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), Value::String(self.model.clone()));
        match &self.prompt {
            Prompt::Chat(messages) => {
                body.insert("messages".into(), json!(messages));
            }
            Prompt::Completion(prompt) => {
                body.insert("prompt".into(), Value::String(prompt.clone()));
            }
        }
        self.params.write_into(&mut body);
        if let Some(n) = self.params.logprobs {
            match self.prompt {
                Prompt::Chat(_) => {
                    body.insert("logprobs".into(), Value::Bool(true));
                    body.insert("top_logprobs".into(), json!(n));
                }
                Prompt::Completion(_) => {
                    body.insert("logprobs".into(), json!(n));
                }
            }
        }
        let stream = self.streams();
        if stream {
            body.insert("stream".into(), Value::Bool(true));
            if include_usage {
                body.insert("stream_options".into(), json!({"include_usage": true}));
            }
        }
        shape.apply(&mut body);
        Value::Object(body)
    }
}

/// Why a choice stopped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    ToolCalls,
    FunctionCall,
    Other(String),
}

impl FinishReason {
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::FunctionCall => "function_call",
            FinishReason::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "stop" | "eos" | "stop_sequence" => FinishReason::Stop,
            "length" | "max_tokens" => FinishReason::Length,
            "content_filter" => FinishReason::ContentFilter,
            "tool_calls" => FinishReason::ToolCalls,
            "function_call" => FinishReason::FunctionCall,
            other => FinishReason::Other(other.to_string()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(FinishReason::parse(&s))
    }
}

/// Token usage as the API reported it.
///
/// On the wire the details are nested (`completion_tokens_details.reasoning_tokens`,
/// `prompt_tokens_details.cached_tokens`; the decoder reads them); in transcripts they are
/// flat, optional fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    /// Of `completion_tokens`, those the model spent reasoning (when the server says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Of `prompt_tokens`, those read from the server's prompt cache (when it says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.reasoning_tokens = add_opt(self.reasoning_tokens, other.reasoning_tokens);
        self.cached_tokens = add_opt(self.cached_tokens, other.cached_tokens);
    }

    /// The usage the API sent (`usage` of a response or chunk), with its details. `None`
    /// when it is not an object.
    pub fn from_api(v: &Value) -> Option<Usage> {
        let o = v.as_object()?;
        let n = |v: Option<&Value>| v.and_then(Value::as_u64);
        let detail = |outer: &str, inner: &str| n(o.get(outer).and_then(|d| d.get(inner)));
        Some(Usage {
            prompt_tokens: n(o.get("prompt_tokens")).unwrap_or(0),
            completion_tokens: n(o.get("completion_tokens")).unwrap_or(0),
            total_tokens: n(o.get("total_tokens")).unwrap_or(0),
            reasoning_tokens: detail("completion_tokens_details", "reasoning_tokens")
                // Flat, as some servers (and chat-tui's own transcripts) write it.
                .or_else(|| n(o.get("reasoning_tokens"))),
            cached_tokens: detail("prompt_tokens_details", "cached_tokens")
                // DeepSeek's name for it.
                .or_else(|| n(o.get("prompt_cache_hit_tokens")))
                .or_else(|| n(o.get("cached_tokens"))),
        })
    }
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

/// What a response turns into, in arrival order.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// More text for choice `index`.
    Delta { index: u32, text: String },
    /// Choice `index` finished.
    Finish { index: u32, reason: FinishReason },
    /// Token usage for the whole request (arrives last when the server sends it).
    Usage(Usage),
    /// The model that actually answered.
    Model(String),
    /// Reasoning text for choice `index` (`reasoning_content` or `reasoning` deltas): kept
    /// apart from the reply and never sent back.
    Reasoning { index: u32, text: String },
    /// Log probabilities of the next tokens of choice `index`, in order.
    Logprobs {
        index: u32,
        tokens: Vec<crate::api::logprobs::TokenLogprob>,
    },
    /// The server refused a parameter (`Unsupported parameter` / `Unsupported value`): the
    /// request for `model` was sent again with `adaptation`. `message` is the server's words.
    Adapted {
        model: String,
        adaptation: Adaptation,
        message: String,
    },
}

/// The end of a successful request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub usage: Option<Usage>,
    pub model: Option<String>,
    /// Things that went wrong without failing the request (e.g. malformed events skipped).
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(params: Params, mode: Mode) -> Request {
        Request {
            model: "m".into(),
            prompt: match mode {
                Mode::Chat => Prompt::Chat(vec![WireMessage::new(Role::User, "hi")]),
                Mode::Completion => Prompt::Completion("hi".into()),
            },
            params,
            stream: true,
            shape: Shape::default(),
        }
    }

    #[test]
    fn unset_parameters_are_omitted() {
        let body = req(Params::default(), Mode::Chat).body(true);
        let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["messages", "model", "stream", "stream_options"]);
    }

    #[test]
    fn every_parameter_serialises() {
        let mut p = Params::default();
        for (k, v) in [
            ("temperature", "0.4"),
            ("top_p", "0.9"),
            ("max_tokens", "300"),
            ("n", "2"),
            ("stop", r#"["迎","好"]"#),
            ("presence_penalty", "-1.5"),
            ("frequency_penalty", "2"),
            ("suffix", "換工作"),
            ("best_of", "3"),
            ("seed", "42"),
            ("top_k", "40"),
        ] {
            p.set(k, v).unwrap();
        }
        p.validate(Mode::Completion).unwrap();
        let body = req(p, Mode::Completion).body(true);
        assert_eq!(
            body,
            json!({"model":"m","prompt":"hi","temperature":0.4,"top_p":0.9,"max_tokens":300,"n":2,
                   "stop":["迎","好"],"presence_penalty":-1.5,"frequency_penalty":2.0,
                   "suffix":"換工作","best_of":3,"seed":42,"top_k":40})
        );
    }

    #[test]
    fn validation_rules() {
        let check = |k: &str, v: &str, mode: Mode| {
            let mut p = Params::default();
            p.set(k, v).unwrap();
            p.validate(mode)
        };
        assert!(check("temperature", "2.1", Mode::Chat).is_err());
        assert!(check("temperature", "-0.1", Mode::Chat).is_err());
        assert!(check("temperature", "2", Mode::Chat).is_ok());
        assert!(check("presence_penalty", "-2.5", Mode::Chat).is_err());
        assert!(check("frequency_penalty", "2.01", Mode::Chat).is_err());
        assert!(check("n", "0", Mode::Chat).is_err());
        assert!(check("stop", r#"["a","b","c","d","e"]"#, Mode::Chat).is_err());
        assert!(check("stop", r#"["a",""]"#, Mode::Chat).is_err());
        assert!(check("suffix", "x", Mode::Chat).is_err());
        assert!(check("suffix", "x", Mode::Completion).is_ok());
        assert!(check("best_of", "2", Mode::Chat).is_err());
        let mut p = Params::default();
        p.set("n", "3").unwrap();
        p.set("best_of", "2").unwrap();
        assert!(p.validate(Mode::Completion).is_err());
        assert!(Params::default().set("temperature", "hot").is_err());
    }

    #[test]
    fn best_of_disables_streaming() {
        let p = Params {
            best_of: Some(2),
            ..Params::default()
        };
        let r = req(p, Mode::Completion);
        assert!(!r.streams());
        assert!(r.body(true).get("stream").is_none());
    }

    #[test]
    fn logprobs_take_the_shape_of_the_endpoint() {
        let p = Params {
            logprobs: Some(5),
            ..Params::default()
        };
        let chat = req(p.clone(), Mode::Chat).body(false);
        assert_eq!(chat["logprobs"], json!(true));
        assert_eq!(chat["top_logprobs"], json!(5));
        let completion = req(p, Mode::Completion).body(false);
        assert_eq!(completion["logprobs"], json!(5));
        assert!(completion.get("top_logprobs").is_none());
        let mut p = Params::default();
        p.set("logprobs", "0").unwrap();
        assert_eq!(
            req(p.clone(), Mode::Chat).body(false)["top_logprobs"],
            json!(0)
        );
        p.set("logprobs", "21").unwrap();
        assert!(p.validate(Mode::Chat).is_err());
        p.set("logprobs", "20").unwrap();
        assert!(p.validate(Mode::Chat).is_ok());
        p.unset("logprobs").unwrap();
        assert_eq!(p, Params::default());
    }

    #[test]
    fn a_shape_renames_and_drops_but_never_the_conversation() {
        let mut p = Params::default();
        p.set("max_tokens", "30").unwrap();
        p.set("temperature", "0.2").unwrap();
        p.set("logprobs", "3").unwrap();
        let mut r = req(p, Mode::Chat);
        r.shape.push(Adaptation::Rename {
            from: "max_tokens".into(),
            to: "max_completion_tokens".into(),
        });
        r.shape.push(Adaptation::Drop {
            name: "temperature".into(),
        });
        r.shape.push(Adaptation::Drop {
            name: "top_logprobs".into(),
        });
        r.shape.push(Adaptation::Drop {
            name: "messages".into(),
        });
        // A second adaptation of the same field is ignored.
        r.shape.push(Adaptation::Drop {
            name: "max_tokens".into(),
        });
        let body = r.body(false);
        assert_eq!(
            body,
            json!({"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":30,
                   "stream":true})
        );
    }

    #[test]
    fn usage_details_are_read_from_the_api_and_added() {
        let u = Usage::from_api(&json!({"prompt_tokens": 30, "completion_tokens": 400,
            "total_tokens": 430, "completion_tokens_details": {"reasoning_tokens": 312},
            "prompt_tokens_details": {"cached_tokens": 24}}))
        .unwrap();
        assert_eq!(u.reasoning_tokens, Some(312));
        assert_eq!(u.cached_tokens, Some(24));
        let deepseek = Usage::from_api(&json!({"prompt_tokens": 10, "completion_tokens": 5,
            "total_tokens": 15, "prompt_cache_hit_tokens": 8}))
        .unwrap();
        assert_eq!(deepseek.cached_tokens, Some(8));
        assert_eq!(deepseek.reasoning_tokens, None);
        let mut sum = u;
        sum.add(&deepseek);
        assert_eq!(
            (sum.reasoning_tokens, sum.cached_tokens),
            (Some(312), Some(32))
        );
        let plain = Usage::from_api(&json!({"prompt_tokens": 1})).unwrap();
        assert_eq!((plain.reasoning_tokens, plain.cached_tokens), (None, None));
        assert!(Usage::from_api(&json!(null)).is_none());
        // Transcripts: the details are flat and omitted when unknown.
        assert_eq!(
            serde_json::to_value(plain).unwrap(),
            json!({"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 0})
        );
    }

    #[test]
    fn merge_and_unset() {
        let mut base = Params::default();
        base.set("temperature", "0.2").unwrap();
        base.set("stop", "x").unwrap();
        let mut over = Params::default();
        over.set("temperature", "0.9").unwrap();
        over.set("top_k", "5").unwrap();
        base.merge(&over);
        assert_eq!(base.temperature, Some(0.9));
        assert_eq!(base.stop, vec!["x".to_string()]);
        assert_eq!(base.get("top_k").as_deref(), Some("5"));
        base.unset("top_k").unwrap();
        assert!(base.unset("top_k").is_err());
        base.unset("temperature").unwrap();
        assert_eq!(base.get("temperature"), None);
    }
}
