//! Reading what the app wrote.

use std::path::Path;

use chat_tui::chat::conversation::Conversation;
use chat_tui::store;

/// Read and parse a transcript with the library's own parser (panics with the file's text
/// when it does not parse).
pub fn load(p: &Path) -> Conversation {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    store::parse(&bytes).unwrap_or_else(|e| {
        panic!(
            "{} does not parse: {e}\n{}",
            p.display(),
            String::from_utf8_lossy(&bytes)
        )
    })
}
