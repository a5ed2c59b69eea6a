//! Shared test infrastructure, one copy of each helper: from a module of a test binary
//! (`tests/it/`, `tests/llama/`), `use crate::support;` then
//! `use support::fake_server::{FakeServer, Reply, SseStep};`, `use support::pty::{Key, Tui};`,
//! `use support::update::{key, new_app};` (tests of `update()`), `use support::transcript::load;`.
#![allow(dead_code)]

pub mod fake_server;
pub mod pty;
pub mod transcript;
pub mod update;
