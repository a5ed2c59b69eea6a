//! Typed API errors, worded for the person at the keyboard.

use std::time::Duration;

use crate::api::types::ParamError;

/// Which wait ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing the connection.
    Connect,
    /// Waiting for the response to start.
    FirstByte,
    /// Waiting for the next chunk of a response that had started.
    Idle,
}

/// Everything that can go wrong with a request.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request was not sent: a parameter breaks the API's rules.
    #[error("not sent: {0}")]
    Invalid(#[from] ParamError),
    /// The server answered with an error status.
    #[error("{}", http_message(*status, message, hint.as_deref()))]
    Http {
        status: u16,
        /// `error.message` from a JSON body, verbatim, or an excerpt of a non-JSON body.
        message: String,
        /// `error.code` or `error.type` when the body had them.
        code: Option<String>,
        /// Seconds from `Retry-After`, when given.
        retry_after: Option<Duration>,
        /// What the person can do about it.
        hint: Option<String>,
    },
    /// Could not connect (refused, DNS, unreachable).
    #[error("could not connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    /// The TLS handshake failed.
    #[error("secure connection to {url} failed: {detail}")]
    Tls { url: String, detail: String },
    /// A wait ran out.
    #[error("{}", timeout_message(*kind, *after))]
    Timeout { kind: TimeoutKind, after: Duration },
    /// The connection broke after the response had started.
    #[error("connection lost while receiving the reply: {0}")]
    Network(String),
    /// The stream ended without `[DONE]` or a finish_reason.
    #[error("the reply ended early: the server closed the stream before it finished")]
    Incomplete,
    /// An `{"error": ...}` object arrived inside the stream.
    #[error("the server reported an error mid-stream: {0}")]
    Stream(String),
    /// The response did not follow the protocol.
    #[error("unexpected response from the server: {0}")]
    Protocol(String),
    /// The reply exceeded the configured size cap.
    #[error("the reply was cut off at {limit} bytes (max_reply_bytes)")]
    TooLarge { limit: usize },
    /// The API key command failed.
    #[error("{0}")]
    Key(String),
}

impl ApiError {
    /// Worth retrying (429, 5xx) — only ever before any text arrived.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Http { status, .. } if *status == 429 || (500..=599).contains(status))
    }

    /// The context window a context-overflow message states ("maximum context length is 8192
    /// tokens", llama.cpp's "available context size (2048 tokens)"), if it says.
    pub fn stated_context_window(&self) -> Option<u64> {
        let ApiError::Http { message, .. } = self else {
            return None;
        };
        let m = message.to_ascii_lowercase();
        for marker in [
            "context length is ",
            "context size (",
            "context window of ",
            "context length of ",
        ] {
            if let Some(i) = m.find(marker) {
                let digits: String = m[i + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == ',')
                    .filter(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse::<u64>()
                    && n > 0
                {
                    return Some(n);
                }
            }
        }
        None
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A server error that says the request needs fewer tokens.
    pub fn is_context_overflow(&self) -> bool {
        match self {
            ApiError::Http {
                status,
                message,
                code,
                ..
            } => {
                let m = message.to_ascii_lowercase();
                *status == 413
                    || code.as_deref() == Some("context_length_exceeded")
                    || m.contains("context length")
                    || m.contains("context_length")
                    || m.contains("context size")
                    || m.contains("maximum context")
                    || m.contains("too many tokens")
            }
            _ => false,
        }
    }
}

fn http_message(status: u16, message: &str, hint: Option<&str>) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = if reason.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {reason}")
    };
    if !message.is_empty() {
        out.push_str(": ");
        out.push_str(message);
    }
    if let Some(h) = hint {
        out.push_str(" — ");
        out.push_str(h);
    }
    out
}

fn timeout_message(kind: TimeoutKind, after: Duration) -> String {
    let secs = after.as_secs_f64();
    match kind {
        TimeoutKind::Connect => format!("could not connect within {secs:.0} s (connect_timeout)"),
        TimeoutKind::FirstByte => format!(
            "the server accepted the request but sent nothing for {secs:.0} s (first_byte_timeout)"
        ),
        TimeoutKind::Idle => {
            format!("the reply stalled: nothing arrived for {secs:.0} s (idle_timeout)")
        }
    }
}

/// What an OpenAI-style "unsupported" message asks for, if it is one:
/// - `Unsupported parameter: 'max_tokens' is not supported with this model. Use
///   'max_completion_tokens' instead.` → rename `max_tokens` to `max_completion_tokens`;
/// - `Unsupported parameter: 'temperature' is not supported with this model.` → drop it;
/// - `Unsupported value: 'temperature' does not support 0.2 with this model. Only the
///   default (1) value is supported.` → drop it (the server's default applies).
///
/// The field is the first quoted name; a nested one (`messages[0].role`) is returned as
/// written, and matches no top-level field of a body.
pub fn unsupported(message: &str) -> Option<crate::api::types::Adaptation> {
    use crate::api::types::Adaptation;
    let lower = message.to_ascii_lowercase();
    let at = ["unsupported parameter", "unsupported value"]
        .iter()
        .filter_map(|m| lower.find(m))
        .min()?;
    let rest = &message[at..];
    let name = quoted(rest)?;
    if name.is_empty() {
        return None;
    }
    let is_parameter = lower[at..].starts_with("unsupported parameter");
    if is_parameter
        && let Some(i) = rest.find("Use '").or_else(|| rest.find("use '"))
        && let Some(to) = quoted(&rest[i..])
        && !to.is_empty()
        && to != name
    {
        return Some(Adaptation::Rename {
            from: name.to_string(),
            to: to.to_string(),
        });
    }
    Some(Adaptation::Drop {
        name: name.to_string(),
    })
}

/// The text between the first pair of single quotes.
fn quoted(s: &str) -> Option<&str> {
    let start = s.find('\'')? + 1;
    let len = s[start..].find('\'')?;
    Some(&s[start..start + len])
}

/// Build the error for a non-success response from its status, headers and body.
pub fn from_response(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
    let (message, code) = error_body_message(body);
    let hint = match status {
        401 | 403 => {
            Some("check the API key (OPENAI_API_KEY or api_key_cmd in the config)".to_string())
        }
        404 => Some(
            "check the model name (/model lists the server's models) and the base URL".to_string(),
        ),
        413 => Some("the request is too long: try /memory summarize or /new".to_string()),
        429 => Some(match retry_after {
            Some(d) => format!("rate limited; the server asked to wait {} s", d.as_secs()),
            None => "rate limited; wait a moment and /retry".to_string(),
        }),
        500..=599 => Some("the server had a problem; /retry may work".to_string()),
        _ => None,
    };
    let mut err = ApiError::Http {
        status,
        message,
        code,
        retry_after,
        hint,
    };
    if status == 400
        && err.is_context_overflow()
        && let ApiError::Http { hint, .. } = &mut err
    {
        *hint = Some(
            "the conversation is too long for the model: try /memory summarize or /new".into(),
        );
    }
    err
}

/// `error.message` from an OpenAI-style JSON error body, verbatim; otherwise a short,
/// single-line excerpt of the body (HTML tags stripped).
pub fn error_body_message(body: &[u8]) -> (String, Option<String>) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let err = v.get("error").unwrap_or(&v);
        let message = match err {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => o
                .get("message")
                .or_else(|| o.get("detail"))
                .or_else(|| o.get("msg"))
                .and_then(|m| {
                    m.as_str()
                        .map(str::to_string)
                        .or_else(|| Some(m.to_string()))
                }),
            _ => None,
        };
        let code = err
            .get("code")
            .and_then(|c| {
                c.as_str()
                    .map(str::to_string)
                    .or_else(|| c.as_u64().map(|n| n.to_string()))
            })
            .or_else(|| err.get("type").and_then(|t| t.as_str()).map(str::to_string));
        if let Some(m) = message {
            return (m, code);
        }
        return (excerpt(&v.to_string()), code);
    }
    (excerpt(&String::from_utf8_lossy(body)), None)
}

/// One line, tags stripped, at most 200 characters.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let mut last_space = true;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() || c.is_control() => {
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
            }
            c => {
                out.push(c);
                last_space = false;
            }
        }
        if out.chars().count() >= 200 {
            out.push('…');
            break;
        }
    }
    let out = out.trim().to_string();
    if out.is_empty() {
        "(empty body)".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_message_is_verbatim() {
        let body = br#"{"error":{"message":"Unrecognized request argument supplied: max_token","type":"invalid_request_error","param":null,"code":null}}"#;
        let e = from_response(400, None, body);
        assert_eq!(
            e.to_string(),
            "HTTP 400 Bad Request: Unrecognized request argument supplied: max_token"
        );
    }

    #[test]
    fn html_body_becomes_an_excerpt() {
        let body = b"<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1><hr>nginx</body></html>";
        let e = from_response(502, None, body);
        let s = e.to_string();
        assert!(
            s.starts_with("HTTP 502 Bad Gateway: 502 Bad Gateway 502 Bad Gateway nginx"),
            "{s}"
        );
        assert!(!s.contains('<'));
        assert!(e.is_retryable());
    }

    #[test]
    fn empty_body_and_hints() {
        let e = from_response(503, None, b"");
        assert!(e.to_string().contains("(empty body)"));
        let e = from_response(401, None, br#"{"error":{"message":"Incorrect API key provided: sk-te***","code":"invalid_api_key"}}"#);
        assert!(e.to_string().contains("check the API key"));
        assert!(!e.is_retryable());
        let e = from_response(429, Some(Duration::from_secs(7)), b"{}");
        assert!(e.to_string().contains("wait 7 s"));
    }

    #[test]
    fn context_overflow_is_recognised() {
        let e = from_response(400, None, br#"{"error":{"message":"This model's maximum context length is 4097 tokens","code":"context_length_exceeded"}}"#);
        assert!(e.is_context_overflow());
        assert!(e.to_string().contains("/memory summarize"));
        let e = from_response(400, None, br#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#);
        assert!(e.is_context_overflow());
    }

    #[test]
    fn the_stated_context_window_is_read() {
        let e = from_response(400, None, br#"{"error":{"message":"This model's maximum context length is 8,192 tokens. However, you requested 9000 tokens."}}"#);
        assert_eq!(e.stated_context_window(), Some(8192));
        let e = from_response(400, None, br#"{"error":{"code":400,"message":"request (6531 tokens) exceeds the available context size (2048 tokens), try increasing it","type":"exceed_context_size_error"}}"#);
        assert_eq!(e.stated_context_window(), Some(2048));
        let e = from_response(400, None, br#"{"error":{"message":"too long"}}"#);
        assert_eq!(e.stated_context_window(), None);
    }

    #[test]
    fn unsupported_messages_say_what_to_change() {
        use crate::api::types::Adaptation;
        assert_eq!(
            unsupported(
                "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
            ),
            Some(Adaptation::Rename {
                from: "max_tokens".into(),
                to: "max_completion_tokens".into()
            })
        );
        assert_eq!(
            unsupported(
                "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported."
            ),
            Some(Adaptation::Drop {
                name: "temperature".into()
            })
        );
        assert_eq!(
            unsupported("Unsupported parameter: 'top_p' is not supported with this model."),
            Some(Adaptation::Drop {
                name: "top_p".into()
            })
        );
        assert_eq!(
            unsupported(
                "Unsupported value: 'messages[0].role' does not support 'system' with this model."
            ),
            Some(Adaptation::Drop {
                name: "messages[0].role".into()
            })
        );
        assert_eq!(
            unsupported("Unrecognized request argument supplied: max_token"),
            None
        );
        assert_eq!(unsupported("Unsupported parameter: none quoted"), None);
        assert_eq!(unsupported("Unsupported parameter: ''"), None);
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(10_000);
        let (m, _) = error_body_message(body.as_bytes());
        assert!(m.chars().count() <= 201);
    }
}
