//! Diagnostics: a log file, only when asked for — `--log FILE`, or `CHAT_TUI_LOG=LEVEL`
//! (`error`, `warn`, `info`, `debug`, `trace`; with no `--log`, the file is
//! `$XDG_STATE_HOME/chat-tui/chat-tui.log`). Through `tracing`: requests (method, URL
//! without its query or credentials, status, timings, retries), stream warnings, saves and
//! lock events. Never the key or a header, never on the screen. The file is capped: past
//! [`MAX_BYTES`] it becomes `FILE.1` (replacing the one before) and a new one starts.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The environment variable that turns the log on (and sets its level).
pub const ENV: &str = "CHAT_TUI_LOG";
/// A log file is rotated past this size.
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;

/// The log file when `CHAT_TUI_LOG` is set without `--log`.
pub fn default_file() -> Option<PathBuf> {
    crate::store::paths::log_file()
}

/// The level `CHAT_TUI_LOG` asks for (`None`: unset or empty). An unknown word is `debug`.
pub fn level_from_env() -> Option<LevelFilter> {
    let v = std::env::var(ENV).ok()?;
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    Some(parse_level(v))
}

fn parse_level(v: &str) -> LevelFilter {
    match v.to_ascii_lowercase().as_str() {
        "off" | "0" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" | "warning" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "trace" => LevelFilter::TRACE,
        _ => LevelFilter::DEBUG,
    }
}

/// Start logging when asked for (`file` from `--log`). Returns the file written, or why it
/// could not be opened (the app runs on either way).
pub fn init(file: Option<&Path>) -> Result<Option<PathBuf>, String> {
    let level = match (level_from_env(), file) {
        (Some(l), _) => l,
        (None, Some(_)) => LevelFilter::DEBUG,
        (None, None) => return Ok(None),
    };
    if level == LevelFilter::OFF {
        return Ok(None);
    }
    let path = match file {
        Some(p) => p.to_path_buf(),
        None => default_file().ok_or("no state directory for the log (use --log FILE)")?,
    };
    let writer = CappedFile::open(&path, MAX_BYTES)
        .map_err(|e| format!("cannot log to {}: {e}", path.display()))?;
    // Only chat-tui's own events: the HTTP libraries' would be noise (and could show
    // headers).
    let targets = Targets::new().with_target("chat_tui", level);
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(Mutex::new(writer));
    tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(layer, targets))
        .try_init()
        .map_err(|e| e.to_string())?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        pid = std::process::id(),
        "chat-tui started"
    );
    Ok(Some(path))
}

/// A log file that starts over (keeping one old file, `NAME.1`) past a size.
pub struct CappedFile {
    path: PathBuf,
    file: File,
    written: u64,
    max: u64,
}

impl CappedFile {
    /// Append to `path` (created 0600, its folder 0700 when missing).
    pub fn open(path: &Path, max: u64) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::store::save::ensure_private_dir(dir)?;
        }
        let file = open_append(path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(CappedFile {
            path: path.to_path_buf(),
            file,
            written,
            max,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = open_append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

impl Write for CappedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max {
            // A log that cannot rotate keeps growing rather than losing lines.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A URL for the log: no credentials, no query, no fragment (either could carry a key).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let rest = &rest[..end];
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_queries_and_fragments() {
        assert_eq!(
            redact_url("https://user:sk-secret@api.example.com/v1/chat/completions?key=sk-x#f"),
            "https://api.example.com/v1/chat/completions"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(redact_url("http://h?x=1"), "http://h");
    }

    #[test]
    fn levels_parse_and_default_to_debug() {
        assert_eq!(parse_level("INFO"), LevelFilter::INFO);
        assert_eq!(parse_level("off"), LevelFilter::OFF);
        assert_eq!(parse_level("1"), LevelFilter::DEBUG);
    }

    #[test]
    fn the_file_is_capped_and_keeps_one_old_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("logs/chat.log");
        let mut f = CappedFile::open(&p, 100).unwrap();
        for i in 0..30 {
            writeln!(f, "line {i:03} of the log").unwrap();
        }
        let cur = std::fs::metadata(&p).unwrap().len();
        let old = std::fs::metadata(t.path().join("logs/chat.log.1"))
            .unwrap()
            .len();
        assert!(cur <= 100, "{cur}");
        assert!(old <= 100, "{old}");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.ends_with("line 029 of the log\n"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
