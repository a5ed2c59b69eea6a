//! The first-run look for a model server on this machine (Ollama, llama.cpp).

use std::time::Duration;

use tokio::sync::mpsc;

use crate::action::Msg;
use crate::api::client::{Client, ClientConfig, Timeouts};

/// The servers looked for, in order: (name, base URL).
pub const CANDIDATES: &[(&str, &str)] = &[
    ("Ollama", "http://127.0.0.1:11434/v1"),
    ("llama.cpp", "http://127.0.0.1:8080/v1"),
];

/// Ask each candidate for its models (short timeouts, no retries); the first that answers
/// is reported, or none.
pub async fn local_servers(tx: mpsc::UnboundedSender<Msg>) {
    for (name, url) in CANDIDATES {
        let cfg = ClientConfig {
            base_url: url.to_string(),
            api_key: None,
            timeouts: Timeouts {
                connect: Duration::from_millis(300),
                first_byte: Duration::from_millis(500),
                idle: Duration::from_millis(500),
            },
            retries: 0,
            ..ClientConfig::default()
        };
        let Ok(client) = Client::new(cfg) else {
            continue;
        };
        if client.models().await.is_ok() {
            let _ = tx.send(Msg::LocalServer(Some((name.to_string(), url.to_string()))));
            return;
        }
    }
    let _ = tx.send(Msg::LocalServer(None));
}
