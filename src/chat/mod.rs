//! Conversations, token counting and chat memory. Knows nothing of the terminal.

pub mod capabilities;
pub mod code;
pub mod conversation;
pub mod counts;
pub mod memory;
pub mod prices;
pub mod prompt;
pub mod tokenizer;
pub mod tokens;
pub mod tree;
