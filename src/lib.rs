//! chat-tui: a full-screen terminal chat client for OpenAI-compatible APIs.
//!
//! `api`, `chat` and `store` never import ratatui; `ui` draws `App` state.

pub mod api;
pub mod chat;
pub mod store;
pub mod ui;
