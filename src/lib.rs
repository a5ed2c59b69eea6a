//! chat-tui: a full-screen terminal chat client for OpenAI-compatible APIs.
//!
//! `api`, `chat` and `store` never import ratatui; `ui` draws `App` state; `app` holds the
//! state and its one `update()`; `tui` runs the loop.

pub mod action;
pub mod api;
pub mod app;
pub mod chat;
pub mod cli;
pub mod commands;
pub mod config;
pub mod crash;
pub mod headless;
pub mod keymap;
pub mod store;
pub mod text;
pub mod tui;
pub mod ui;
pub mod worker;
