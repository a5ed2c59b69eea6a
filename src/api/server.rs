//! What the server knows: which kind of server it is, the model's context window when it
//! says, and exact token counts where it can tokenize.
//!
//! - Context window: `GET /v1/models` (llama.cpp `data[].meta.n_ctx`, vLLM `max_model_len`,
//!   others `context_length` / `context_window`), llama.cpp `GET /props`, Ollama `POST
//!   /api/show`, LM Studio `GET /api/v0/models/{model}`.
//! - Exact counts: llama.cpp `POST /apply-template` then `POST /tokenize`; vLLM `POST
//!   /tokenize`. Both live at the server's root (the base URL without `/v1`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::api::client::Client;
use crate::api::error::{self, ApiError};
use crate::api::types::Prompt;

/// Longest wait for one probe or count request (shorter when the client's connect and
/// first-byte timeouts add up to less).
pub const SERVER_TIMEOUT: Duration = Duration::from_secs(5);

/// The kind of server, as far as its answers tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    LlamaCpp,
    Vllm,
    Ollama,
    LmStudio,
    /// OpenAI, or a server that did not say.
    Other,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::LlamaCpp => "llama.cpp",
            ServerKind::Vllm => "vLLM",
            ServerKind::Ollama => "Ollama",
            ServerKind::LmStudio => "LM Studio",
            ServerKind::Other => "server",
        }
    }

    /// The server counts tokens exactly for us.
    pub fn can_tokenize(self) -> bool {
        matches!(self, ServerKind::LlamaCpp | ServerKind::Vllm)
    }
}

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    pub kind: ServerKind,
    /// The model's context window, when the server says.
    pub context_window: Option<u64>,
    /// Where it said it ("llama.cpp /v1/models meta.n_ctx").
    pub source: Option<String>,
}

/// Exact counts from the server's tokenizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExactCount {
    /// The whole request (chat template applied, special tokens included): what the server
    /// will report as `prompt_tokens`.
    pub request: u64,
    /// The draft alone.
    pub draft: u64,
}

/// A number a JSON field holds (as a number or a numeric string).
fn as_count(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|n| *n > 0)
}

/// The context size fields servers use in a model list entry, in the order trusted.
const WINDOW_FIELDS: &[(&str, &str)] = &[
    ("/meta/n_ctx", "meta.n_ctx"),
    ("/max_model_len", "max_model_len"),
    ("/loaded_context_length", "loaded_context_length"),
    ("/context_length", "context_length"),
    ("/context_window", "context_window"),
    ("/max_context_length", "max_context_length"),
];

/// Read `GET /models`: the kind of server and, for `model`, the context window it states.
/// The entry is the one whose `id` (or an alias) is `model`, or the only one.
pub fn read_model_list(v: &Value, model: &str) -> ServerInfo {
    let empty = Vec::new();
    let data = v.get("data").and_then(Value::as_array).unwrap_or(&empty);
    let named = |m: &&Value| {
        m.get("id").and_then(Value::as_str) == Some(model)
            || m.get("aliases")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(model)))
    };
    let entry = data
        .iter()
        .find(named)
        .or_else(|| (data.len() == 1).then(|| &data[0]));
    let owned_by = |m: &Value| {
        m.get("owned_by")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let any = |f: &dyn Fn(&Value) -> bool| data.iter().any(f);
    let kind = if any(&|m| owned_by(m) == "llamacpp" || m.pointer("/meta/n_ctx").is_some()) {
        ServerKind::LlamaCpp
    } else if any(&|m| owned_by(m) == "vllm" || m.get("max_model_len").is_some()) {
        ServerKind::Vllm
    } else if any(&|m| owned_by(m) == "library") {
        ServerKind::Ollama
    } else if any(&|m| owned_by(m) == "organization_owner") {
        ServerKind::LmStudio
    } else {
        ServerKind::Other
    };
    let mut info = ServerInfo {
        kind,
        context_window: None,
        source: None,
    };
    if let Some(m) = entry {
        for (pointer, name) in WINDOW_FIELDS {
            if let Some(n) = m.pointer(pointer).and_then(as_count) {
                info.context_window = Some(n);
                info.source = Some(format!("/v1/models {name}"));
                break;
            }
        }
    }
    info
}

/// llama.cpp's `GET /props`: `default_generation_settings.n_ctx` (the context of one slot).
pub fn read_props(v: &Value) -> Option<u64> {
    v.pointer("/default_generation_settings/n_ctx")
        .or_else(|| v.get("n_ctx"))
        .and_then(as_count)
}

/// Ollama's `POST /api/show`: `num_ctx` in `parameters` (what the model runs with), else
/// `model_info["<arch>.context_length"]` (what it was trained for).
pub fn read_ollama_show(v: &Value) -> Option<(u64, &'static str)> {
    if let Some(params) = v.get("parameters").and_then(Value::as_str) {
        for line in params.lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some("num_ctx")
                && let Some(n) = words.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0)
            {
                return Some((n, "/api/show parameters num_ctx"));
            }
        }
    }
    let info = v.get("model_info").and_then(Value::as_object)?;
    info.iter()
        .find(|(k, _)| k.ends_with(".context_length"))
        .and_then(|(_, v)| as_count(v))
        .map(|n| (n, "/api/show model_info context_length"))
}

/// LM Studio's `GET /api/v0/models/{model}`: `loaded_context_length`, else
/// `max_context_length`.
pub fn read_lm_studio(v: &Value) -> Option<(u64, &'static str)> {
    if let Some(n) = v.get("loaded_context_length").and_then(as_count) {
        return Some((n, "/api/v0/models loaded_context_length"));
    }
    v.get("max_context_length")
        .and_then(as_count)
        .map(|n| (n, "/api/v0/models max_context_length"))
}

impl Client {
    /// The server's root: the base URL without a trailing `/v1`.
    pub fn root_url(&self) -> String {
        let base = self.config().base_url.trim_end_matches('/');
        base.strip_suffix("/v1").unwrap_or(base).to_string()
    }

    /// GET or POST (with a JSON body) `url`, with [`SERVER_TIMEOUT`]; the answer as JSON.
    async fn json_at(&self, url: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let http = self.http_ready().await?;
        let rb = match body {
            Some(b) => self
                .authorize(http.post(url))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string()),
            None => self.authorize(http.get(url)),
        };
        let work = async {
            let resp = rb
                .send()
                .await
                .map_err(|e| ApiError::Network(error_text(&e)))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| ApiError::Network(error_text(&e)))?;
            if !(200..300).contains(&status) {
                return Err(error::from_response(status, None, &bytes));
            }
            serde_json::from_slice::<Value>(&bytes).map_err(|e| {
                ApiError::Protocol(format!(
                    "not JSON ({e}): {}",
                    error::excerpt(&String::from_utf8_lossy(&bytes))
                ))
            })
        };
        let limit = (self.config().timeouts.connect + self.config().timeouts.first_byte)
            .min(SERVER_TIMEOUT);
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| ApiError::Timeout {
                kind: error::TimeoutKind::FirstByte,
                after: limit,
            })?
    }

    /// Ask the server about itself and `model`'s context window. `more`: also try the
    /// endpoints of other servers (Ollama, LM Studio) when the model list does not say —
    /// pointless for a model whose window is known anyway.
    pub async fn probe(&self, model: &str, more: bool) -> Result<ServerInfo, ApiError> {
        let list = self
            .json_at(
                &format!("{}/models", self.config().base_url.trim_end_matches('/')),
                None,
            )
            .await?;
        let mut info = read_model_list(&list, model);
        if info.context_window.is_some() {
            info.source = info
                .source
                .map(|s| format!("{} {s}", info.kind.name()).trim().to_string());
            return Ok(info);
        }
        let root = self.root_url();
        if info.kind == ServerKind::LlamaCpp {
            if let Ok(props) = self.json_at(&format!("{root}/props"), None).await
                && let Some(n) = read_props(&props)
            {
                info.context_window = Some(n);
                info.source = Some("llama.cpp /props default_generation_settings.n_ctx".into());
            }
            return Ok(info);
        }
        if !more
            || !matches!(
                info.kind,
                ServerKind::Other | ServerKind::Ollama | ServerKind::LmStudio
            )
        {
            return Ok(info);
        }
        if matches!(info.kind, ServerKind::Other | ServerKind::Ollama)
            && let Ok(show) = self
                .json_at(
                    &format!("{root}/api/show"),
                    Some(&json!({ "model": model })),
                )
                .await
            && let Some((n, source)) = read_ollama_show(&show)
        {
            info.kind = ServerKind::Ollama;
            info.context_window = Some(n);
            info.source = Some(format!("Ollama {source}"));
            return Ok(info);
        }
        if matches!(info.kind, ServerKind::Other | ServerKind::LmStudio)
            && let Ok(m) = self
                .json_at(&format!("{root}/api/v0/models/{model}"), None)
                .await
            && let Some((n, source)) = read_lm_studio(&m)
        {
            info.kind = ServerKind::LmStudio;
            info.context_window = Some(n);
            info.source = Some(format!("LM Studio {source}"));
        }
        Ok(info)
    }

    /// Count `prompt` (the request Enter would send) and `draft` with the server's own
    /// tokenizer. Only llama.cpp and vLLM can.
    pub async fn count_tokens(
        &self,
        kind: ServerKind,
        model: &str,
        prompt: &Prompt,
        draft: &str,
    ) -> Result<ExactCount, ApiError> {
        let root = self.root_url();
        let tokens_of = |v: &Value| -> Result<u64, ApiError> {
            v.get("count")
                .and_then(Value::as_u64)
                .or_else(|| {
                    v.get("tokens")
                        .and_then(Value::as_array)
                        .map(|t| t.len() as u64)
                })
                .ok_or_else(|| ApiError::Protocol("the tokenizer's answer has no `tokens`".into()))
        };
        match kind {
            ServerKind::LlamaCpp => {
                let text = match prompt {
                    Prompt::Chat(messages) => {
                        let v = self
                            .json_at(
                                &format!("{root}/apply-template"),
                                Some(&json!({ "messages": messages })),
                            )
                            .await?;
                        v.get("prompt")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                ApiError::Protocol(
                                    "/apply-template answered without `prompt`".into(),
                                )
                            })?
                            .to_string()
                    }
                    Prompt::Completion(p) => p.clone(),
                };
                // As the server tokenizes a prompt: special tokens added and parsed.
                let request = self
                    .json_at(
                        &format!("{root}/tokenize"),
                        Some(&json!({"content": text, "add_special": true, "parse_special": true})),
                    )
                    .await?;
                let d = self
                    .json_at(
                        &format!("{root}/tokenize"),
                        Some(&json!({ "content": draft })),
                    )
                    .await?;
                Ok(ExactCount {
                    request: tokens_of(&request)?,
                    draft: tokens_of(&d)?,
                })
            }
            ServerKind::Vllm => {
                let body = match prompt {
                    Prompt::Chat(messages) => {
                        json!({"model": model, "messages": messages, "add_generation_prompt": true})
                    }
                    Prompt::Completion(p) => {
                        json!({"model": model, "prompt": p, "add_special_tokens": true})
                    }
                };
                let request = self
                    .json_at(&format!("{root}/tokenize"), Some(&body))
                    .await?;
                let d = self
                    .json_at(
                        &format!("{root}/tokenize"),
                        Some(
                            &json!({"model": model, "prompt": draft, "add_special_tokens": false}),
                        ),
                    )
                    .await?;
                Ok(ExactCount {
                    request: tokens_of(&request)?,
                    draft: tokens_of(&d)?,
                })
            }
            other => Err(ApiError::Protocol(format!(
                "{} cannot count tokens",
                other.name()
            ))),
        }
    }
}

fn error_text(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_cpp_model_lists_say_the_context() {
        // What llama.cpp answered (docs/local-llm.md).
        let v = json!({"object": "list", "data": [{"id": "smollm2", "aliases": ["smollm2"],
            "object": "model", "owned_by": "llamacpp",
            "meta": {"vocab_type": 2, "n_vocab": 49152, "n_ctx": 2048, "n_ctx_train": 8192}}]});
        let info = read_model_list(&v, "anything");
        assert_eq!(info.kind, ServerKind::LlamaCpp);
        assert_eq!(info.context_window, Some(2048));
    }

    #[test]
    fn vllm_and_others() {
        let v = json!({"data": [
            {"id": "a", "owned_by": "vllm", "max_model_len": 32768},
            {"id": "b", "owned_by": "vllm", "max_model_len": 8192}]});
        let info = read_model_list(&v, "b");
        assert_eq!(
            (info.kind, info.context_window),
            (ServerKind::Vllm, Some(8192))
        );
        // Several models, none named: no guess.
        assert_eq!(read_model_list(&v, "c").context_window, None);
        let openai = json!({"data": [{"id": "gpt-4o", "owned_by": "system"}, {"id": "o3", "owned_by": "system"}]});
        let info = read_model_list(&openai, "gpt-4o");
        assert_eq!((info.kind, info.context_window), (ServerKind::Other, None));
        let groq = json!({"data": [{"id": "llama-3.1-8b", "context_window": 131072}]});
        assert_eq!(
            read_model_list(&groq, "llama-3.1-8b").context_window,
            Some(131072)
        );
        let ollama = json!({"data": [{"id": "llama3.2:latest", "owned_by": "library"}]});
        assert_eq!(
            read_model_list(&ollama, "llama3.2").kind,
            ServerKind::Ollama
        );
        assert_eq!(
            read_model_list(&json!({"nonsense": 1}), "m").kind,
            ServerKind::Other
        );
        let zero = json!({"data": [{"id": "m", "max_model_len": 0}]});
        assert_eq!(read_model_list(&zero, "m").context_window, None);
    }

    #[test]
    fn props_show_and_lm_studio() {
        assert_eq!(
            read_props(&json!({"default_generation_settings": {"n_ctx": 4096}})),
            Some(4096)
        );
        assert_eq!(read_props(&json!({})), None);
        let show = json!({"parameters": "stop \"<|eot_id|>\"\nnum_ctx 8192",
            "model_info": {"llama.context_length": 131072}});
        assert_eq!(read_ollama_show(&show).map(|x| x.0), Some(8192));
        let show = json!({"model_info": {"general.architecture": "llama", "llama.context_length": 131072}});
        assert_eq!(read_ollama_show(&show).map(|x| x.0), Some(131072));
        assert_eq!(read_ollama_show(&json!({})), None);
        assert_eq!(
            read_lm_studio(&json!({"max_context_length": 32768, "loaded_context_length": 4096}))
                .map(|x| x.0),
            Some(4096)
        );
        assert_eq!(
            read_lm_studio(&json!({"max_context_length": "32768"})).map(|x| x.0),
            Some(32768)
        );
    }
}
