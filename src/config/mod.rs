//! Configuration: built-in defaults < config file < environment < flags, in one merge.
//!
//! `file` reads and parses the config file, `merge` combines it with the environment and
//! the flags into [`Settings`], `key` runs `api_key_cmd`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::api::client::{ApiKey, ClientConfig, Timeouts};
use crate::api::types::{Mode, Params};
use crate::chat::conversation::{Conversation, Memory};

mod file;
mod key;
mod merge;
#[cfg(test)]
mod tests;
mod theme;

pub use file::{FileConfig, FileLocal, FileTimeouts, Layer, Secret, parse_file, read_file};
pub use key::run_key_command;
pub use merge::merge;
pub use theme::{Role, ThemeChoice, ThemeConfig, parse_color};

/// The commented example shipped with the program (`chat-tui --print-config`).
pub const EXAMPLE_CONFIG: &str = include_str!("../../assets/config.example.toml");

/// The model used when nothing else names one.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The endpoint name of the built-in local model (status line, transcripts).
pub const LOCAL_ENDPOINT: &str = "local";
/// The base URL used when nothing else names one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// A problem with the configuration. Always names where it came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

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
    /// `--local`: start the built-in local model.
    pub local: bool,
    /// `--local-model PATH.gguf`: serve this file (implies `--local`).
    pub local_model: Option<PathBuf>,
    pub theme: Option<ThemeChoice>,
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
    pub keys: crate::keymap::KeyConfig,
    /// The palette (`--theme`, else the config's `theme`; `auto` by default).
    pub theme: ThemeChoice,
    /// The config's `[theme]` colours by role, over the palette.
    pub theme_colors: BTreeMap<Role, ratatui::style::Color>,
    /// OpenAI's prices with the config's `[prices]` over them.
    pub prices: crate::chat::prices::Prices,
    /// The file that was read, if any.
    pub config_path: Option<PathBuf>,
    /// The local model's options (`[local]`, `--local-model`).
    pub local: crate::local::Options,
    /// `--local` or `--local-model`: the app starts the local model and talks to it.
    pub use_local: bool,
    /// Things the user should know (e.g. a key in a file others can read).
    pub warnings: Vec<String>,
    /// Every `[profiles.NAME]` of the config, merged as `--profile NAME` would be (the same
    /// key rules: a profile pointing at another server gets no OpenAI key), or why it
    /// cannot be: what `/compare PROFILE:MODEL` talks to. Empty in these nested settings.
    pub profiles: BTreeMap<String, Result<Box<Settings>, String>>,
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

    /// A name for the endpoint that is safe to save and show: the profile, or the host
    /// (`local` for the built-in local model).
    pub fn endpoint_name(&self) -> String {
        if self.use_local {
            return LOCAL_ENDPOINT.to_string();
        }
        if let Some(p) = &self.profile {
            return p.clone();
        }
        host_of(&self.base_url)
    }

    /// Talk to the local server at `base_url` serving `model`: no key goes there.
    pub fn point_at_local(&mut self, base_url: &str, model: &str) {
        self.base_url = base_url.to_string();
        self.model = model.to_string();
        self.api_key = None;
        self.api_key_cmd = None;
        self.key_source = KeySource::None;
        self.use_local = true;
    }

    /// A new, empty conversation with the configured model, mode, memory, system prompt
    /// and parameters, naming this endpoint.
    pub fn new_conversation(&self) -> Conversation {
        let mut c = Conversation::new(self.model.clone(), self.mode, self.memory);
        c.system = self.system.clone();
        c.params = self.params.clone();
        c.endpoint = Some(self.endpoint_name());
        c
    }
}

/// `host[:port]` of a URL, without user info, path or query.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    host.to_string()
}

/// Load everything: the file (or `--config`), the process environment, the flags.
pub fn load(flags: &Overrides) -> Result<Settings, ConfigError> {
    let (path, file, warnings) = read_file(flags.config.as_deref())?;
    let env = Env::from_process();
    let mut settings = merge(path.clone(), file.clone(), &env, flags, warnings)?;
    settings.profiles = profiles(&path, &file, &env, flags);
    Ok(settings)
}

/// Each profile of `file` merged on its own (as `--profile NAME` with no other flag but the
/// timeouts): the settings a request through it uses.
pub fn profiles(
    path: &Option<PathBuf>,
    file: &FileConfig,
    env: &Env,
    flags: &Overrides,
) -> BTreeMap<String, Result<Box<Settings>, String>> {
    file.profiles
        .keys()
        .map(|name| {
            let only = Overrides {
                config: flags.config.clone(),
                profile: Some(name.clone()),
                timeouts: flags.timeouts.clone(),
                ..Overrides::default()
            };
            let s = merge(path.clone(), file.clone(), env, &only, Vec::new())
                .map(Box::new)
                .map_err(|e| e.to_string());
            (name.clone(), s)
        })
        .collect()
}
