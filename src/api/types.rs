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
];

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
            seed
        );
        if !over.stop.is_empty() {
            self.stop = over.stop.clone();
        }
        for (k, v) in &over.extra {
            self.extra.insert(k.clone(), v.clone());
        }
    }

    /// Write every set parameter into a JSON request body.
    pub fn write_into(&self, body: &mut Map<String, Value>) {
        if let Ok(Value::Object(m)) = serde_json::to_value(self) {
            for (k, v) in m {
                if k == "extra" {
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
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        if let Ok(s) = serde_json::from_str::<String>(v) {
            return s;
        }
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

    /// The JSON body. `include_usage` adds `stream_options.include_usage` to streamed requests.
    pub fn body(&self, include_usage: bool) -> Value {
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
        let stream = self.streams();
        if stream {
            body.insert("stream".into(), Value::Bool(true));
            if include_usage {
                body.insert("stream_options".into(), json!({"include_usage": true}));
            }
        }
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
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
}

/// The end of a successful request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub usage: Option<Usage>,
    pub model: Option<String>,
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
        let mut p = Params::default();
        p.best_of = Some(2);
        let r = req(p, Mode::Completion);
        assert!(!r.streams());
        assert!(r.body(true).get("stream").is_none());
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
