//! Text handling shared by every output: the screen, Markdown export, headless output and
//! `chat-tui list`. Knows nothing of the terminal library.

pub mod code_blocks;
pub mod sanitize;

pub use sanitize::{Tabs, sanitize, sanitize_with};
