//! Reading what the app wrote.

use std::path::{Path, PathBuf};

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

/// The environment of a run of the binary with `home` as its HOME and XDG folders, and `key`
/// as the API key.
pub fn home_env(home: &Path, key: &str) -> Vec<(String, String)> {
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    vec![
        ("HOME".into(), s(home.to_path_buf())),
        ("XDG_CONFIG_HOME".into(), s(home.join(".config"))),
        ("XDG_DATA_HOME".into(), s(home.join(".local/share"))),
        ("XDG_STATE_HOME".into(), s(home.join(".local/state"))),
        ("XDG_CACHE_HOME".into(), s(home.join(".cache"))),
        ("OPENAI_API_KEY".into(), key.into()),
    ]
}

/// The `.json` files directly in `dir` that are transcripts (not hidden, not the index),
/// sorted; none when `dir` does not exist.
pub fn transcripts_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".json") && n != "index.json" && !n.starts_with('.')
        })
        .collect();
    v.sort();
    v
}
