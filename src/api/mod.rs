//! The OpenAI-compatible HTTP client. Knows nothing of the terminal.

pub mod client;
mod decode;
pub mod error;
pub mod sse;
pub mod types;

pub use client::{ApiKey, Client, ClientConfig, Timeouts};
pub use error::{ApiError, TimeoutKind};
pub use types::{
    FinishReason, Mode, Outcome, Params, Prompt, Request, Role, StreamEvent, Usage, WireMessage,
};
