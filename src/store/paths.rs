//! Where chat-tui keeps its files (all via `directories`, following the XDG rules on
//! Linux). The only place that knows a path: everything else asks here.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "chat-tui")
}

/// `$XDG_CONFIG_HOME/chat-tui/config.toml`
pub fn config_file() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("config.toml"))
}

/// `$XDG_DATA_HOME/chat-tui/conversations`: one JSON file per conversation.
pub fn conversations_dir() -> Option<PathBuf> {
    dirs().map(|d| d.data_dir().join("conversations"))
}

/// `$XDG_DATA_HOME/chat-tui/local`: the built-in local model (llama.cpp's server and
/// SmolLM2 in a Python virtual environment; see `crate::local`).
pub fn local_dir() -> Option<PathBuf> {
    dirs().map(|d| d.data_dir().join("local"))
}

/// `$XDG_STATE_HOME/chat-tui`: prompt history, crash reports. Where the platform has no
/// state dir, `state` under the local data dir.
pub fn state_dir() -> Option<PathBuf> {
    let dirs = dirs()?;
    Some(
        dirs.state_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dirs.data_local_dir().join("state")),
    )
}

/// The prompt history file (Up in an empty input).
pub fn prompt_history_file() -> Option<PathBuf> {
    state_dir().map(|d| d.join("prompt-history.json"))
}

/// Crash reports.
pub fn crash_dir() -> Option<PathBuf> {
    state_dir().map(|d| d.join("crash"))
}

/// The diagnostic log when `CHAT_TUI_LOG` is set without `--log FILE`.
pub fn log_file() -> Option<PathBuf> {
    state_dir().map(|d| d.join("chat-tui.log"))
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
        ("log", show(log_file())),
        ("local model", show(local_dir())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_live_under_their_dirs() {
        if let Some(state) = state_dir() {
            assert_eq!(
                prompt_history_file(),
                Some(state.join("prompt-history.json"))
            );
            assert_eq!(crash_dir(), Some(state.join("crash")));
        }
        if let Some(c) = config_file() {
            assert!(c.ends_with("chat-tui/config.toml"), "{}", c.display());
        }
        if let Some(d) = conversations_dir() {
            assert!(d.ends_with("chat-tui/conversations"), "{}", d.display());
        }
        let what: Vec<&str> = describe().into_iter().map(|(w, _)| w).collect();
        assert_eq!(
            what,
            [
                "config",
                "conversations",
                "prompt history",
                "crash reports",
                "log",
                "local model"
            ]
        );
    }
}
