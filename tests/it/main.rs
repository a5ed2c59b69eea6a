//! The integration tests that need no model server, as one test binary (one build of
//! `tests/support/`, one link): a module per area. `cargo test --test it panels::` runs one
//! area. The tests that need llama.cpp's server are in `tests/llama/`.
//!
//! Insta snapshots live in `tests/it/snapshots/` as `it__<module>__<name>.snap`; proptest's
//! regression files in `tests/proptest-regressions/<module>.txt`.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod app_update;
mod branches;
mod compose;
mod compose_update;
mod copy;
mod custody;
mod e2e;
mod faults;
mod fuzz_props;
mod inspector;
mod local_panels;
mod local_update;
mod narrow;
mod network;
mod panels;
mod safety;
mod secrets;
mod support_selftest;
mod themes;
mod transcripts;
mod versions;
mod workbench;
mod workbench_e2e;
