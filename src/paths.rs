//! Where chat-tui keeps its files (all via `directories`, following the XDG rules on Linux).

use std::path::PathBuf;

use directories::ProjectDirs;

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "chat-tui")
}

/// `$XDG_CONFIG_HOME/chat-tui/config.toml`
pub fn config_file() -> Option<PathBuf> {
    crate::config::default_config_path()
}

/// `$XDG_DATA_HOME/chat-tui/conversations`: one JSON file per conversation.
pub fn conversations_dir() -> Option<PathBuf> {
    dirs().map(|d| d.data_dir().join("conversations"))
}

/// `$XDG_STATE_HOME/chat-tui`: prompt history, crash reports.
pub fn state_dir() -> Option<PathBuf> {
    crate::config::state_dir()
}

/// The prompt history file (Up in an empty input).
pub fn prompt_history_file() -> Option<PathBuf> {
    state_dir().map(|d| d.join("prompt-history.json"))
}

/// Crash reports.
pub fn crash_dir() -> Option<PathBuf> {
    state_dir().map(|d| d.join("crash"))
}

/// (what, where) for `--paths` and the help screen.
pub fn describe() -> Vec<(&'static str, String)> {
    let show = |p: Option<PathBuf>| {
        p.map(|p| p.display().to_string())
            .unwrap_or_else(|| "(no home directory)".into())
    };
    vec![
        ("config", show(config_file())),
        ("conversations", show(conversations_dir())),
        ("prompt history", show(prompt_history_file())),
        ("crash reports", show(crash_dir())),
    ]
}
