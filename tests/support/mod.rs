//! Shared test infrastructure: from a module of a test binary (`tests/it/`, `tests/llama/`),
//! `use crate::support;` then `use support::fake_server::{FakeServer, Reply, SseStep};` and
//! `use support::pty::{Key, Tui};`.
#![allow(dead_code)]

pub mod fake_server;
pub mod pty;
