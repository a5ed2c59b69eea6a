//! The config file: its shape ([`FileConfig`], [`Layer`]), parsing with `file:line:col`
//! errors, reading it from disk, and the "others can read your key" check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::api::types::{Mode, Params};
use crate::chat::conversation::Memory;
use crate::config::ConfigError;

/// A key as written in the config file. Its `Debug` never shows it.
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Timeouts in seconds, as written in the file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileTimeouts {
    pub connect: Option<f64>,
    pub first_byte: Option<f64>,
    pub idle: Option<f64>,
}

/// `[local]`: the built-in local model (`chat-tui --local`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileLocal {
    /// A GGUF file to serve instead of SmolLM2 (`~/` is the home folder).
    pub model: Option<String>,
    /// Context size per slot, in tokens.
    pub context_size: Option<u32>,
    /// CPU threads.
    pub threads: Option<u32>,
    /// The port to try first (another free one when it is taken).
    pub port: Option<u16>,
}

/// Settings a profile (or the top level of the file) may set.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub base_url: Option<String>,
    /// A command whose standard output is the API key (e.g. a password manager).
    pub api_key_cmd: Option<String>,
    /// The key itself (discouraged: prefer api_key_cmd; the file must then be private).
    pub api_key: Option<Secret>,
    /// The name of an environment variable that holds the key.
    pub api_key_env: Option<String>,
    pub model: Option<String>,
    pub mode: Option<Mode>,
    pub memory: Option<Memory>,
    pub system: Option<String>,
    pub stream: Option<bool>,
    pub context_window: Option<u64>,
    pub reply_reserve: Option<u64>,
    pub max_reply_bytes: Option<usize>,
    pub retries: Option<u32>,
    pub timeouts: Option<FileTimeouts>,
    pub params: Option<Params>,
    pub extra: Option<BTreeMap<String, Value>>,
}

/// The whole file. (The top-level settings are spelt out rather than `#[serde(flatten)]`ed
/// from [`Layer`]: flattening would lose the positions that error messages need.)
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The profile used when `--profile` is not given.
    pub profile: Option<String>,
    pub base_url: Option<String>,
    pub api_key_cmd: Option<String>,
    pub api_key: Option<Secret>,
    pub api_key_env: Option<String>,
    pub model: Option<String>,
    pub mode: Option<Mode>,
    pub memory: Option<Memory>,
    pub system: Option<String>,
    pub stream: Option<bool>,
    pub context_window: Option<u64>,
    pub reply_reserve: Option<u64>,
    pub max_reply_bytes: Option<usize>,
    pub retries: Option<u32>,
    pub timeouts: Option<FileTimeouts>,
    pub params: Option<Params>,
    pub extra: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Layer>,
    /// Key bindings: `"ctrl-s" = "submit"`.
    #[serde(default)]
    pub keys: crate::keymap::KeyConfig,
    /// The built-in local model.
    pub local: Option<FileLocal>,
    /// `theme = "light"`, or a `[theme]` table: `base` and colours by role.
    pub theme: Option<crate::config::ThemeConfig>,
    /// Prices per model: `[prices."gpt-4o"] input = 2.5, cached_input = 1.25, output = 10`.
    #[serde(default)]
    pub prices: BTreeMap<String, crate::chat::prices::Price>,
}

impl FileConfig {
    /// The top-level settings as a layer.
    pub fn top(&self) -> Layer {
        Layer {
            base_url: self.base_url.clone(),
            api_key_cmd: self.api_key_cmd.clone(),
            api_key: self.api_key.clone(),
            api_key_env: self.api_key_env.clone(),
            model: self.model.clone(),
            mode: self.mode,
            memory: self.memory,
            system: self.system.clone(),
            stream: self.stream,
            context_window: self.context_window,
            reply_reserve: self.reply_reserve,
            max_reply_bytes: self.max_reply_bytes,
            retries: self.retries,
            timeouts: self.timeouts.clone(),
            params: self.params.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// Parse a config file's text. Errors name the file, the line and the key.
pub fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str::<FileConfig>(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        let msg = e.message().trim().to_string();
        if line > 0 {
            let src = text.lines().nth(line - 1).unwrap_or("").trim();
            ConfigError(format!(
                "{}:{line}:{col}: {msg}\n    {line} | {src}",
                path.display()
            ))
        } else {
            ConfigError(format!("{}: {msg}", path.display()))
        }
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, col)
}

/// Read the config file: `--config PATH` (must exist) or the default path (may be absent).
pub fn read_file(
    explicit: Option<&Path>,
) -> Result<(Option<PathBuf>, FileConfig, Vec<String>), ConfigError> {
    let (path, required) = match explicit {
        Some(p) => (Some(p.to_path_buf()), true),
        None => (crate::store::paths::config_file(), false),
    };
    let Some(path) = path else {
        return Ok((None, FileConfig::default(), Vec::new()));
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok((None, FileConfig::default(), Vec::new()));
        }
        Err(e) => {
            return Err(ConfigError(format!(
                "{}: cannot read the config file: {e}",
                path.display()
            )));
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        ConfigError(format!(
            "{}: the config file is not valid UTF-8 (at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    let file = parse_file(&path, &text)?;
    let mut warnings = Vec::new();
    let holds_key = file.api_key.is_some() || file.profiles.values().any(|p| p.api_key.is_some());
    if holds_key && readable_by_others(&path) {
        warnings.push(format!(
            "{} holds an API key and can be read by other users: run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok((Some(path), file, warnings))
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o044 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> bool {
    false
}
