//! The merge: defaults < config file (top level, then the chosen profile) < environment <
//! flags, one small step per setting. Errors name where the setting came from.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::client::{ApiKey, Timeouts};
use crate::api::types::Params;
use crate::config::{
    ConfigError, DEFAULT_BASE_URL, DEFAULT_MODEL, Env, FileConfig, FileTimeouts, KeySource, Layer,
    Overrides, Settings, host_of,
};

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
    let (profile_name, profile) = select_profile(&file, env, flags, &where_)?;
    // Layer: top of the file, then the profile over it.
    let top = file.top();
    let mut layer = top.clone();
    if let Some(p) = &profile {
        overlay(&mut layer, p);
    }
    let profile = profile.as_ref();

    let base_url_configured =
        layer.base_url.is_some() || env.base_url.is_some() || flags.base_url.is_some();
    let base_url = base_url(&layer, profile, env, flags);
    check_url(&base_url)?;
    let key = key(&top, profile, env, &where_)?;
    let params = params(&top, profile, flags);
    let timeouts = timeouts(&layer, flags, &where_)?;
    let model = model(&layer, profile, env, flags);
    let mode = flags.mode.or(layer.mode).unwrap_or_default();
    let memory = flags.memory.or(layer.memory).unwrap_or_default();
    let system = flags.system.clone().or(layer.system.clone());
    if let Err(e) = params.validate(mode) {
        return Err(ConfigError(format!("{where_}: {e}")));
    }
    warnings.extend(key_warnings(&file.keys, &where_));
    for (name, price) in &file.prices {
        crate::chat::prices::check(name, price)
            .map_err(|e| ConfigError(format!("{where_}: {e}")))?;
    }
    let local = local(file.local.as_ref(), env, flags, &where_)?;
    let use_local = flags.local || flags.local_model.is_some();
    let model = if use_local && flags.model.is_none() {
        local.alias()
    } else {
        model
    };
    let theme_file = file.theme.clone().unwrap_or_default();
    Ok(Settings {
        base_url,
        base_url_configured,
        key_source: key.source,
        api_key_cmd: key.command,
        api_key: key.key,
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
        theme: flags.theme.or(theme_file.base).unwrap_or_default(),
        theme_colors: theme_file.colors,
        prices: crate::chat::prices::Prices::new(file.prices),
        config_path: path,
        local,
        use_local,
        warnings,
        profiles: Default::default(),
    })
}

/// `[local]`, with `--local-model` over its model. `~/` in a path is the home folder.
fn local(
    file: Option<&crate::config::FileLocal>,
    env: &Env,
    flags: &Overrides,
    where_: &str,
) -> Result<crate::local::Options, ConfigError> {
    let mut o = crate::local::Options::default();
    let Some(f) = file else {
        o.model = flags.local_model.clone();
        return Ok(o);
    };
    let home = env.lookup.get("HOME").map(PathBuf::from);
    o.model = flags.local_model.clone().or_else(|| {
        f.model
            .as_ref()
            .map(|m| match (m.strip_prefix("~/"), &home) {
                (Some(rest), Some(h)) => h.join(rest),
                _ => PathBuf::from(m),
            })
    });
    if let Some(c) = f.context_size {
        if !(256..=1 << 20).contains(&c) {
            return Err(ConfigError(format!(
                "{where_}: [local] context_size must be between 256 and 1048576 tokens (got {c})"
            )));
        }
        o.context_size = c;
    }
    if let Some(t) = f.threads {
        if !(1..=1024).contains(&t) {
            return Err(ConfigError(format!(
                "{where_}: [local] threads must be between 1 and 1024 (got {t})"
            )));
        }
        o.threads = t;
    }
    o.port = f.port.filter(|p| *p != 0);
    Ok(o)
}

/// The profile's name (flag, then `CHAT_TUI_PROFILE`, then the file's `profile`) and its
/// section. A name with no `[profiles.NAME]` section is an error.
fn select_profile(
    file: &FileConfig,
    env: &Env,
    flags: &Overrides,
    where_: &str,
) -> Result<(Option<String>, Option<Layer>), ConfigError> {
    let name = flags
        .profile
        .clone()
        .or_else(|| env.profile.clone())
        .or_else(|| file.profile.clone());
    let Some(name) = name else {
        return Ok((None, None));
    };
    match file.profiles.get(&name) {
        Some(p) => {
            let p = p.clone();
            Ok((Some(name), Some(p)))
        }
        None => {
            let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
            Err(ConfigError(format!(
                "unknown profile `{name}` ({}: {})",
                where_,
                if known.is_empty() {
                    "no [profiles.NAME] sections".to_string()
                } else {
                    format!("known profiles: {}", known.join(", "))
                }
            )))
        }
    }
}

/// Settings of `over` that are set replace those of `base` (params and extra are merged
/// separately, see [`params`]).
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

/// The flag; else the profile's own base URL (it was chosen by name, so it wins over
/// `OPENAI_BASE_URL`); else the environment; else the file; else the default.
fn base_url(layer: &Layer, profile: Option<&Layer>, env: &Env, flags: &Overrides) -> String {
    flags
        .base_url
        .clone()
        .or_else(|| {
            profile
                .and_then(|p| p.base_url.clone())
                .or_else(|| env.base_url.clone())
                .or_else(|| layer.base_url.clone())
        })
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
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

/// Where the key comes from, and the key itself when it is known without running a
/// command.
struct KeyChoice {
    key: Option<ApiKey>,
    command: Option<String>,
    source: KeySource,
}

impl KeyChoice {
    const NONE: KeyChoice = KeyChoice {
        key: None,
        command: None,
        source: KeySource::None,
    };
}

/// The key. A profile that names its own key source uses it; a profile that points at
/// another server without naming one gets no key (never send the OpenAI key elsewhere).
/// Otherwise `OPENAI_API_KEY`, then the top of the file.
fn key(
    top: &Layer,
    profile: Option<&Layer>,
    env: &Env,
    where_: &str,
) -> Result<KeyChoice, ConfigError> {
    if let Some(p) = profile {
        if p.api_key.is_some() || p.api_key_cmd.is_some() || p.api_key_env.is_some() {
            return key_from_layer(p, env, where_);
        }
        if p.base_url.is_some() {
            return Ok(KeyChoice::NONE);
        }
    }
    if let Some(k) = env.api_key.as_ref().and_then(|k| ApiKey::new(k.clone())) {
        return Ok(KeyChoice {
            key: Some(k),
            command: None,
            source: KeySource::Env("OPENAI_API_KEY".into()),
        });
    }
    key_from_layer(top, env, where_)
}

/// The key a layer names: `api_key_env`, else `api_key_cmd`, else `api_key`.
fn key_from_layer(layer: &Layer, env: &Env, where_: &str) -> Result<KeyChoice, ConfigError> {
    let mut choice = KeyChoice::NONE;
    if let Some(var) = &layer.api_key_env {
        let v = env.lookup.get(var).cloned().unwrap_or_default();
        choice.key = ApiKey::new(v);
        if choice.key.is_none() {
            return Err(ConfigError(format!(
                "{where_}: api_key_env names `{var}`, which is not set"
            )));
        }
        choice.source = KeySource::Env(var.clone());
    } else if let Some(cmd) = &layer.api_key_cmd {
        choice.command = Some(cmd.clone());
        choice.source = KeySource::Command(cmd.clone());
    } else if let Some(k) = &layer.api_key {
        choice.key = ApiKey::new(k.0.clone());
        if choice.key.is_some() {
            choice.source = KeySource::File;
        }
    }
    Ok(choice)
}

/// The file's params and extra fields, then the profile's, then the flags'.
fn params(top: &Layer, profile: Option<&Layer>, flags: &Overrides) -> Params {
    let mut params = Params::default();
    for layer in std::iter::once(top).chain(profile) {
        if let Some(p) = &layer.params {
            params.merge(p);
        }
        if let Some(x) = &layer.extra {
            params.extra.extend(x.clone());
        }
    }
    params.merge(&flags.params);
    params
}

/// The defaults, then the file's (profile's) timeouts, then the flags'.
fn timeouts(layer: &Layer, flags: &Overrides, where_: &str) -> Result<Timeouts, ConfigError> {
    let mut timeouts = Timeouts::default();
    if let Some(t) = &layer.timeouts {
        apply_timeouts(&mut timeouts, t, where_)?;
    }
    apply_timeouts(&mut timeouts, &flags.timeouts, where_)?;
    Ok(timeouts)
}

fn apply_timeouts(
    timeouts: &mut Timeouts,
    t: &FileTimeouts,
    where_: &str,
) -> Result<(), ConfigError> {
    if let Some(d) = seconds("connect", t.connect, where_)? {
        timeouts.connect = d;
    }
    if let Some(d) = seconds("first_byte", t.first_byte, where_)? {
        timeouts.first_byte = d;
    }
    if let Some(d) = seconds("idle", t.idle, where_)? {
        timeouts.idle = d;
    }
    Ok(())
}

fn seconds(name: &str, v: Option<f64>, where_: &str) -> Result<Option<Duration>, ConfigError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e6 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(ConfigError(format!(
            "{where_}: timeouts.{name} must be a positive number of seconds (got {s})"
        ))),
    }
}

/// The flag; else the profile's model; else `CHAT_TUI_MODEL`; else the file; else the
/// default.
fn model(layer: &Layer, profile: Option<&Layer>, env: &Env, flags: &Overrides) -> String {
    flags
        .model
        .clone()
        .or_else(|| profile.and_then(|p| p.model.clone()))
        .or_else(|| env.model.clone())
        .or_else(|| layer.model.clone())
        .unwrap_or_else(|| DEFAULT_MODEL.to_string())
}

/// A warning for each `[keys]` entry the key map cannot take (an unknown key, action or
/// pane).
fn key_warnings(keys: &crate::keymap::KeyConfig, where_: &str) -> Vec<String> {
    crate::keymap::Keymap::with_overrides(keys)
        .1
        .into_iter()
        .map(|p| format!("{where_}: {p}"))
        .collect()
}
