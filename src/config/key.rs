//! `api_key_cmd`: the key as the standard output of a command (e.g. a password manager).

use crate::api::client::ApiKey;
use crate::config::ConfigError;

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
