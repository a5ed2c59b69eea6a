//! The OpenAI-compatible HTTP client. Knows nothing of the terminal.

pub mod client;
mod decode;
pub mod error;
pub mod exchange;
pub mod logprobs;
pub mod server;
pub mod sse;
pub mod types;

pub use client::{ApiKey, Client, ClientConfig, Timeouts};
pub use error::{ApiError, TimeoutKind};
pub use exchange::Exchange;
pub use logprobs::{Logprobs, TokenLogprob};
pub use types::{
    Adaptation, FinishReason, Mode, Outcome, Params, Prompt, Request, Role, Shape, StreamEvent,
    Usage, WireMessage,
};
