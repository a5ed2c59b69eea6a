//! The integration tests that run llama.cpp's server (installed from PyPI on first use):
//! `chat-tui --local` (`local::`) and the client against a real OpenAI-compatible server
//! (`real_server::`). `CHAT_TUI_SKIP_REAL_SERVER=1` skips the tests that need the model.
//! Kept out of `tests/it/` so the model's load does not run beside the PTY tests.

#[path = "../support/mod.rs"]
mod support;

mod local;
mod real_server;
