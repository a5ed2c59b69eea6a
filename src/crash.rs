//! Crash reports: what panicked and where, with no secrets.

use std::io::Write;
use std::path::PathBuf;

/// Write a report for a panic into the state dir; returns its path.
pub fn write_report(info: &std::panic::PanicHookInfo<'_>) -> Option<PathBuf> {
    let dir = crate::store::paths::crash_dir()?;
    let _ = std::fs::create_dir_all(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    let now = chrono::Utc::now();
    let path = dir.join(format!("crash-{}.txt", now.format("%Y%m%d-%H%M%S%.3f")));
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let backtrace = std::backtrace::Backtrace::force_capture();
    let text = format!(
        "chat-tui {} crashed at {now}\npanic: {}\nat: {location}\n\n{backtrace}\n",
        env!("CARGO_PKG_VERSION"),
        redact(&payload),
    );
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path).ok()?;
    f.write_all(text.as_bytes()).ok()?;
    Some(path)
}

/// Remove anything that looks like a key or a bearer token.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        let trimmed = word.trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
        let tail = &word[trimmed.len()..];
        if trimmed.starts_with("sk-")
            || trimmed.len() > 40
                && trimmed
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push_str("[redacted]");
        } else {
            out.push_str(trimmed);
        }
        out.push_str(tail);
    }
    if let Ok(k) = std::env::var("OPENAI_API_KEY")
        && !k.trim().is_empty()
    {
        out = out.replace(k.trim(), "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_keys() {
        let s = super::redact("bad key sk-abc123 and \"sk-xyz\" ok");
        assert_eq!(s, "bad key [redacted] and \"[redacted]\" ok");
    }
}
