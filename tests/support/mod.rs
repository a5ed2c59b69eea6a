//! Shared test infrastructure: `mod support;` from an integration test, then
//! `use support::fake_server::{FakeServer, Reply, SseStep};` and
//! `use support::pty::{Key, Tui};`.
#![allow(dead_code)]

pub mod fake_server;
pub mod pty;
