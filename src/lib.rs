//! chat-tui: a full-screen terminal chat client for OpenAI-compatible APIs.
//!
//! Dependencies point one way: `main → runtime → app → {action, keymap, chat, api, store,
//! text}`, and `ui → app` (read only). `api`, `chat`, `store` and `text` never import the
//! terminal libraries; `app` never does I/O (it returns effects, which `runtime` carries
//! out); `ui` only draws. See docs/architecture.md.

pub mod action;
pub mod api;
pub mod app;
pub mod chat;
pub mod cli;
pub mod commands;
pub mod config;
pub mod crash;
pub mod diag;
pub mod headless;
pub mod keymap;
pub mod local;
pub mod runtime;
pub mod store;
#[cfg(test)]
mod test_rng;
pub mod text;
pub mod ui;
