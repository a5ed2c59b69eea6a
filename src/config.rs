//! Configuration: built-in defaults < config file < environment < flags, in one merge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::api::client::{ApiKey, ClientConfig, Timeouts};
use crate::api::types::{Mode, Params};
use crate::chat::conversation::Memory;

/// The commented example shipped with the program (`chat-tui --print-config`).
pub const EXAMPLE_CONFIG: &str = include_str!("../assets/config.example.toml");

/// The model used when nothing else names one.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The base URL used when nothing else names one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// A problem with the configuration. Always names where it came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

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
    pub keys: BTreeMap<String, String>,
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

/// What the command line says (flags win over everything).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub profile: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub mode: Option<Mode>,
    pub memory: Option<Memory>,
    pub system: Option<String>,
    pub stream: Option<bool>,
    pub context_window: Option<u64>,
    pub params: Params,
    pub timeouts: FileTimeouts,
}

/// The environment variables that matter, read once. Its `Debug` shows no values that
/// could be keys.
#[derive(Clone, Default)]
pub struct Env {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub profile: Option<String>,
    /// Any other variable a profile's `api_key_env` may name.
    pub lookup: BTreeMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("profile", &self.profile)
            .field("lookup", &self.lookup.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Env {
    pub fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            api_key: get("OPENAI_API_KEY"),
            base_url: get("OPENAI_BASE_URL"),
            model: get("CHAT_TUI_MODEL"),
            profile: get("CHAT_TUI_PROFILE"),
            lookup: std::env::vars().collect(),
        }
    }
}

/// Where the API key comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    None,
    Env(String),
    Command(String),
    File,
}

/// The merged configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub base_url: String,
    /// True when a base URL was configured anywhere (first-run detection).
    pub base_url_configured: bool,
    pub key_source: KeySource,
    /// A command to run for the key (resolved lazily, see [`Settings::resolve_key`]).
    pub api_key_cmd: Option<String>,
    api_key: Option<ApiKey>,
    pub profile: Option<String>,
    pub model: String,
    pub mode: Mode,
    pub memory: Memory,
    pub system: Option<String>,
    pub params: Params,
    pub stream: bool,
    pub context_window: Option<u64>,
    pub reply_reserve: Option<u64>,
    pub max_reply_bytes: usize,
    pub retries: u32,
    pub timeouts: Timeouts,
    pub keys: BTreeMap<String, String>,
    /// The file that was read, if any.
    pub config_path: Option<PathBuf>,
    /// Things the user should know (e.g. a key in a file others can read).
    pub warnings: Vec<String>,
}

impl Settings {
    /// The API key, running `api_key_cmd` if that is its source.
    pub fn resolve_key(&mut self) -> Result<Option<ApiKey>, ConfigError> {
        if self.api_key.is_none()
            && let Some(cmd) = self.api_key_cmd.clone()
        {
            self.api_key = Some(run_key_command(&cmd)?);
        }
        Ok(self.api_key.clone())
    }

    pub fn has_key(&self) -> bool {
        self.key_source != KeySource::None
    }

    /// The client configuration (resolving the key).
    pub fn client_config(&mut self) -> Result<ClientConfig, ConfigError> {
        Ok(ClientConfig {
            base_url: self.base_url.clone(),
            api_key: self.resolve_key()?,
            timeouts: self.timeouts,
            retries: self.retries,
            max_reply_bytes: self.max_reply_bytes,
            ..ClientConfig::default()
        })
    }

    /// A name for the endpoint that is safe to save and show: the profile, or the host.
    pub fn endpoint_name(&self) -> String {
        if let Some(p) = &self.profile {
            return p.clone();
        }
        host_of(&self.base_url)
    }
}

/// `host[:port]` of a URL, without user info, path or query.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    host.to_string()
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

/// Merge defaults, the file, the environment and the flags.
pub fn merge(
    path: Option<PathBuf>,
    file: FileConfig,
    env: &Env,
    flags: &Overrides,
    mut warnings: Vec<String>,
) -> Result<Settings, ConfigError> {
    let where_ = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the configuration".into());
    let profile_name = flags
        .profile
        .clone()
        .or_else(|| env.profile.clone())
        .or_else(|| file.profile.clone());
    let profile = match &profile_name {
        Some(name) => Some(file.profiles.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
            ConfigError(format!(
                "unknown profile `{name}` ({}: {})",
                where_,
                if known.is_empty() {
                    "no [profiles.NAME] sections".to_string()
                } else {
                    format!("known profiles: {}", known.join(", "))
                }
            ))
        })?),
        None => None,
    };
    // Layer: top of the file, then the profile over it.
    let top = file.top();
    let mut layer = top.clone();
    if let Some(p) = &profile {
        overlay(&mut layer, p);
    }

    let base_url_configured =
        layer.base_url.is_some() || env.base_url.is_some() || flags.base_url.is_some();
    let base_url = flags
        .base_url
        .clone()
        .or_else(|| {
            // A profile's own base URL wins over OPENAI_BASE_URL: it was chosen by name.
            profile
                .as_ref()
                .and_then(|p| p.base_url.clone())
                .or_else(|| env.base_url.clone())
                .or_else(|| layer.base_url.clone())
        })
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    check_url(&base_url)?;

    // The key. A profile that names its own key source uses it; a profile that points at
    // another server without naming one gets no key (never send the OpenAI key elsewhere).
    let profile_key = profile
        .as_ref()
        .map(|p| p.api_key.is_some() || p.api_key_cmd.is_some() || p.api_key_env.is_some())
        .unwrap_or(false);
    let profile_elsewhere = profile
        .as_ref()
        .map(|p| p.base_url.is_some())
        .unwrap_or(false);
    let mut api_key = None;
    let mut api_key_cmd = None;
    let mut key_source = KeySource::None;
    let from_layer = |layer: &Layer,
                      api_key: &mut Option<ApiKey>,
                      api_key_cmd: &mut Option<String>,
                      key_source: &mut KeySource|
     -> Result<(), ConfigError> {
        if let Some(var) = &layer.api_key_env {
            let v = env.lookup.get(var).cloned().unwrap_or_default();
            *api_key = ApiKey::new(v);
            if api_key.is_none() {
                return Err(ConfigError(format!(
                    "{where_}: api_key_env names `{var}`, which is not set"
                )));
            }
            *key_source = KeySource::Env(var.clone());
        } else if let Some(cmd) = &layer.api_key_cmd {
            *api_key_cmd = Some(cmd.clone());
            *key_source = KeySource::Command(cmd.clone());
        } else if let Some(k) = &layer.api_key {
            *api_key = ApiKey::new(k.0.clone());
            if api_key.is_some() {
                *key_source = KeySource::File;
            }
        }
        Ok(())
    };
    if profile_key {
        if let Some(p) = &profile {
            from_layer(p, &mut api_key, &mut api_key_cmd, &mut key_source)?;
        }
    } else if !profile_elsewhere {
        if let Some(k) = env.api_key.as_ref().and_then(|k| ApiKey::new(k.clone())) {
            api_key = Some(k);
            key_source = KeySource::Env("OPENAI_API_KEY".into());
        } else {
            from_layer(&top, &mut api_key, &mut api_key_cmd, &mut key_source)?;
        }
    }

    let mut params = Params::default();
    if let Some(p) = &top.params {
        params.merge(p);
    }
    if let Some(x) = &top.extra {
        params.extra.extend(x.clone());
    }
    if let Some(p) = profile.as_ref().and_then(|p| p.params.as_ref()) {
        params.merge(p);
    }
    if let Some(x) = profile.as_ref().and_then(|p| p.extra.as_ref()) {
        params.extra.extend(x.clone());
    }
    params.merge(&flags.params);

    let mut timeouts = Timeouts::default();
    let mut apply_t = |t: &FileTimeouts| -> Result<(), ConfigError> {
        let secs = |name: &str, v: Option<f64>| -> Result<Option<Duration>, ConfigError> {
            match v {
                None => Ok(None),
                Some(s) if s.is_finite() && s > 0.0 && s < 1e6 => {
                    Ok(Some(Duration::from_secs_f64(s)))
                }
                Some(s) => Err(ConfigError(format!(
                    "{where_}: timeouts.{name} must be a positive number of seconds (got {s})"
                ))),
            }
        };
        if let Some(d) = secs("connect", t.connect)? {
            timeouts.connect = d;
        }
        if let Some(d) = secs("first_byte", t.first_byte)? {
            timeouts.first_byte = d;
        }
        if let Some(d) = secs("idle", t.idle)? {
            timeouts.idle = d;
        }
        Ok(())
    };
    if let Some(t) = &layer.timeouts {
        apply_t(t)?;
    }
    apply_t(&flags.timeouts)?;

    let model = flags
        .model
        .clone()
        .or_else(|| profile.as_ref().and_then(|p| p.model.clone()))
        .or_else(|| env.model.clone())
        .or_else(|| layer.model.clone())
        .unwrap_or_else(|| DEFAULT_MODEL.to_string());
    let mode = flags.mode.or(layer.mode).unwrap_or_default();
    let memory = flags.memory.or(layer.memory).unwrap_or_default();
    let system = flags.system.clone().or(layer.system.clone());
    if let Err(e) = params.validate(mode) {
        return Err(ConfigError(format!("{where_}: {e}")));
    }
    if let Some(ks) = &file
        .keys
        .keys()
        .find(|k| crate::keymap::parse_key(k).is_none())
    {
        warnings.push(format!(
            "{where_}: [keys] `{ks}` is not a key this program knows"
        ));
    }
    Ok(Settings {
        base_url,
        base_url_configured,
        key_source,
        api_key_cmd,
        api_key,
        profile: profile_name,
        model,
        mode,
        memory,
        system,
        params,
        stream: flags.stream.or(layer.stream).unwrap_or(true),
        context_window: flags.context_window.or(layer.context_window),
        reply_reserve: layer.reply_reserve,
        max_reply_bytes: layer.max_reply_bytes.unwrap_or(16 * 1024 * 1024),
        retries: layer.retries.unwrap_or(3),
        timeouts,
        keys: file.keys,
        config_path: path,
        warnings,
    })
}

fn overlay(base: &mut Layer, over: &Layer) {
    macro_rules! take {
        ($($f:ident),*) => { $( if over.$f.is_some() { base.$f = over.$f.clone(); } )* };
    }
    take!(
        base_url,
        api_key_cmd,
        api_key,
        api_key_env,
        model,
        mode,
        memory,
        system,
        stream,
        context_window,
        reply_reserve,
        max_reply_bytes,
        retries,
        timeouts
    );
}

fn check_url(url: &str) -> Result<(), ConfigError> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(()),
        Ok(u) => Err(ConfigError(format!(
            "base URL `{}` must start with http:// or https:// (got {}:)",
            host_of(url),
            u.scheme()
        ))),
        Err(e) => Err(ConfigError(format!(
            "base URL `{}` is not a URL: {e}",
            host_of(url)
        ))),
    }
}

/// Run `api_key_cmd` through the shell; its trimmed standard output is the key.
pub fn run_key_command(cmd: &str) -> Result<ApiKey, ConfigError> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| ConfigError(format!("api_key_cmd `{cmd}` could not be run: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(ConfigError(format!(
            "api_key_cmd `{cmd}` failed ({}){}",
            out.status,
            if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            }
        )));
    }
    let key = String::from_utf8_lossy(&out.stdout);
    let key = key.lines().next().unwrap_or("").trim().to_string();
    ApiKey::new(key).ok_or_else(|| ConfigError(format!("api_key_cmd `{cmd}` printed no key")))
}

/// Load everything: the file (or `--config`), the process environment, the flags.
pub fn load(flags: &Overrides) -> Result<Settings, ConfigError> {
    let (path, file, warnings) = read_file(flags.config.as_deref())?;
    merge(path, file, &Env::from_process(), flags, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str, env: Env, flags: Overrides) -> Result<Settings, ConfigError> {
        let p = PathBuf::from("/tmp/chat-tui-test.toml");
        let f = parse_file(&p, text)?;
        merge(Some(p), f, &env, &flags, Vec::new())
    }

    #[test]
    fn example_config_parses() {
        let f = parse_file(Path::new("config.example.toml"), EXAMPLE_CONFIG).unwrap();
        assert!(f.profiles.contains_key("ollama"));
    }

    #[test]
    fn order_is_defaults_file_env_flags() {
        let text = "model = \"from-file\"\nbase_url = \"http://file:1/v1\"\n[params]\ntemperature = 0.1\nmax_tokens = 50\n";
        let s = settings(text, Env::default(), Overrides::default()).unwrap();
        assert_eq!(s.model, "from-file");
        assert_eq!(s.base_url, "http://file:1/v1");
        let env = Env {
            base_url: Some("http://env:2/v1".into()),
            model: Some("from-env".into()),
            ..Env::default()
        };
        let s = settings(text, env.clone(), Overrides::default()).unwrap();
        assert_eq!(
            (s.model.as_str(), s.base_url.as_str()),
            ("from-env", "http://env:2/v1")
        );
        let mut flags = Overrides {
            model: Some("from-flag".into()),
            base_url: Some("http://flag:3/v1".into()),
            ..Overrides::default()
        };
        flags.params.temperature = Some(0.9);
        let s = settings(text, env, flags).unwrap();
        assert_eq!(
            (s.model.as_str(), s.base_url.as_str()),
            ("from-flag", "http://flag:3/v1")
        );
        assert_eq!(s.params.temperature, Some(0.9));
        assert_eq!(s.params.max_tokens, Some(50));
        let s = settings("", Env::default(), Overrides::default()).unwrap();
        assert_eq!(s.base_url, DEFAULT_BASE_URL);
        assert!(!s.base_url_configured);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = settings(
            "model = \"x\"\n\n[params]\ntemprature = 0.5\n",
            Env::default(),
            Overrides::default(),
        )
        .unwrap_err()
        .0;
        assert!(e.contains("/tmp/chat-tui-test.toml:4:"), "{e}");
        assert!(e.contains("temprature"), "{e}");
        let e = settings("nonsense = 1\n", Env::default(), Overrides::default())
            .unwrap_err()
            .0;
        assert!(e.contains(":1:") && e.contains("nonsense"), "{e}");
        let e = settings("model = \n", Env::default(), Overrides::default())
            .unwrap_err()
            .0;
        assert!(e.contains(":1:"), "{e}");
        let e = settings(
            "[params]\ntemperature = 5.0\n",
            Env::default(),
            Overrides::default(),
        )
        .unwrap_err()
        .0;
        assert!(e.contains("temperature must be between 0 and 2"), "{e}");
    }

    #[test]
    fn profiles_choose_server_and_key() {
        let text = r#"
api_key = "sk-top-NOT-REAL"
[profiles.ollama]
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.2"
[profiles.other]
base_url = "https://other.example/v1"
api_key_env = "OTHER_KEY"
"#;
        let mut env = Env {
            api_key: Some("sk-env-NOT-REAL".into()),
            ..Env::default()
        };
        env.lookup
            .insert("OTHER_KEY".into(), "sk-other-NOT-REAL".into());
        let s = settings(text, env.clone(), Overrides::default()).unwrap();
        assert_eq!(s.key_source, KeySource::Env("OPENAI_API_KEY".into()));
        let flags = Overrides {
            profile: Some("ollama".into()),
            ..Overrides::default()
        };
        let mut s = settings(text, env.clone(), flags).unwrap();
        assert_eq!(s.model, "llama3.2");
        assert_eq!(s.base_url, "http://127.0.0.1:11434/v1");
        assert_eq!(
            s.resolve_key().unwrap(),
            None,
            "the OpenAI key must not go to another server"
        );
        assert_eq!(s.endpoint_name(), "ollama");
        let flags = Overrides {
            profile: Some("other".into()),
            ..Overrides::default()
        };
        let mut s = settings(text, env.clone(), flags).unwrap();
        assert_eq!(
            s.resolve_key().unwrap().unwrap().expose(),
            "sk-other-NOT-REAL"
        );
        let flags = Overrides {
            profile: Some("missing".into()),
            ..Overrides::default()
        };
        let e = settings(text, env, flags).unwrap_err().0;
        assert!(
            e.contains("unknown profile `missing`") && e.contains("ollama, other"),
            "{e}"
        );
    }

    #[test]
    fn key_command_output_is_the_key_and_failures_are_clear() {
        let mut s = settings(
            "api_key_cmd = \"printf 'sk-cmd-NOT-REAL\\\\n'\"\n",
            Env::default(),
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            s.resolve_key().unwrap().unwrap().expose(),
            "sk-cmd-NOT-REAL"
        );
        let e = run_key_command("exit 3").unwrap_err().0;
        assert!(e.contains("failed"), "{e}");
        let e = run_key_command("true").unwrap_err().0;
        assert!(e.contains("printed no key"), "{e}");
    }

    #[test]
    fn extra_fields_pass_through() {
        let s = settings(
            "[extra]\ntop_k = 40\nrepetition_penalty = 1.1\n",
            Env::default(),
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.params.extra.get("top_k"), Some(&serde_json::json!(40)));
    }

    #[test]
    fn host_of_strips_credentials_and_paths() {
        assert_eq!(
            host_of("https://user:pw@api.example.com:8443/v1?key=1"),
            "api.example.com:8443"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/v1"), "127.0.0.1:8080");
    }
}
