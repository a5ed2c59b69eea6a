//! The prompt history (Up in an empty input): a JSON array of strings in the state dir,
//! written atomically with mode 0600 like every other file ([`crate::store::save`]).

use std::io;
use std::path::Path;

use crate::store::{paths, save};

/// The saved prompts, oldest first. Empty when there is no file, no home directory or
/// the file cannot be read or parsed (the history is a convenience, never an error).
pub fn load() -> Vec<String> {
    paths::prompt_history_file()
        .map(|p| load_from(&p))
        .unwrap_or_default()
}

/// Replace the saved prompts with `items` (creating the state dir, 0700, if needed).
pub fn save(items: &[String]) -> io::Result<()> {
    let path = paths::prompt_history_file()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no home directory"))?;
    save_to(&path, items)
}

fn load_from(path: &Path) -> Vec<String> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
        .unwrap_or_default()
}

fn save_to(path: &Path, items: &[String]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        save::ensure_private_dir(dir)?;
    }
    let bytes = serde_json::to_vec(items)?;
    save::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_private() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("state/chat-tui/prompt-history.json");
        assert!(load_from(&p).is_empty(), "no file: no history");
        let items = vec!["first".to_string(), "two\nlines 你好".to_string()];
        save_to(&p, &items).unwrap();
        assert_eq!(load_from(&p), items);
        save_to(&p, &items[1..]).unwrap();
        assert_eq!(load_from(&p), &items[1..]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&p), 0o600);
            assert_eq!(mode(p.parent().unwrap()), 0o700);
        }
    }

    #[test]
    fn a_broken_file_is_an_empty_history() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("prompt-history.json");
        std::fs::write(&p, b"{not json").unwrap();
        assert!(load_from(&p).is_empty());
        std::fs::write(&p, b"[1, 2]").unwrap();
        assert!(load_from(&p).is_empty());
    }
}
