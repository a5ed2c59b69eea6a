//! The OpenAI-compatible HTTP client. Knows nothing of the terminal.

pub mod sse;
pub mod types;
