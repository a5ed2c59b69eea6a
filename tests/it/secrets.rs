//! The API key never lands anywhere: not in a file under HOME (config, transcripts,
//! library index, prompt history, crash reports), not on stdout/stderr, not on the screen —
//! through a good exchange, a 401 and a panic, headless and full-screen.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::fake_server::FakeServer;
use support::pty::{Key, Tui};

const SECRET: &str = "sk-test-SECRET-canary-42";
const OTHER: &str = "sk-test-some-other-key-7";
const SECS10: Duration = Duration::from_secs(10);

fn xdg(home: &Path) -> Vec<(String, PathBuf)> {
    vec![
        ("HOME".into(), home.to_path_buf()),
        ("XDG_CONFIG_HOME".into(), home.join(".config")),
        ("XDG_DATA_HOME".into(), home.join(".local/share")),
        ("XDG_STATE_HOME".into(), home.join(".local/state")),
        ("XDG_CACHE_HOME".into(), home.join(".cache")),
    ]
}

fn headless(home: &Path, prompt: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-tui"));
    cmd.args(["-p", prompt])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .env("OPENAI_API_KEY", SECRET)
        .current_dir(home)
        .stdin(Stdio::null());
    for (k, v) in xdg(home) {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains(SECRET), "{what} holds the key:\n{text}");
    assert!(
        !text.contains("SECRET-canary"),
        "{what} holds part of the key"
    );
    assert!(!text.contains("Bearer"), "{what} holds `Bearer`:\n{text}");
}

#[test]
fn the_key_is_in_no_file_no_output_and_not_on_screen() {
    let server = FakeServer::start();
    server.set_require_key(Some(SECRET));
    let dir = tempfile::Builder::new()
        .prefix("chat-tui-secrets")
        .tempdir()
        .unwrap();
    let home = dir.path();
    for (_, p) in xdg(home) {
        std::fs::create_dir_all(p).unwrap();
    }
    let cfg = home.join(".config/chat-tui/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, format!("base_url = \"{}\"\n", server.url())).unwrap();

    let mut outputs: Vec<(String, Vec<u8>)> = Vec::new();

    // Headless: a good exchange, then a 401 (the server wants another key).
    let ok = headless(home, "headless hello");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("echo: headless hello"));
    server.set_require_key(Some(OTHER));
    let denied = headless(home, "headless denied");
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("HTTP 401"));
    for (name, o) in [("ok", &ok), ("401", &denied)] {
        outputs.push((format!("headless {name} stdout"), o.stdout.clone()));
        outputs.push((format!("headless {name} stderr"), o.stderr.clone()));
    }

    // Full screen in the same HOME: an exchange, a 401, then a panic.
    server.set_require_key(Some(SECRET));
    let mut env: Vec<(String, String)> = xdg(home)
        .into_iter()
        .map(|(k, p)| (k, p.display().to_string()))
        .collect();
    env.push(("OPENAI_API_KEY".into(), SECRET.into()));
    env.push(("CHAT_TUI_TEST_PANIC".into(), "1".into()));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // First session: an exchange and a 401, then quit (writes the prompt history).
    let mut t = Tui::spawn(&[], &env_refs, 110, 32);
    t.wait_for("Welcome to chat-tui", SECS10);
    t.send("tui hello");
    t.key(Key::Enter);
    t.wait_for("echo: tui hello", SECS10);
    server.set_require_key(Some(OTHER));
    t.send("tui denied");
    t.key(Key::Enter);
    t.wait_for("HTTP 401", SECS10);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(SECS10).success());
    outputs.push(("the first session's terminal".into(), t.raw_output()));
    // Second session: an exchange, then a panic (crash report, flushed transcript).
    server.set_require_key(Some(SECRET));
    let mut t = Tui::spawn(&[], &env_refs, 110, 32);
    t.wait_for("Welcome to chat-tui", SECS10);
    t.send("tui again");
    t.key(Key::Enter);
    t.wait_for("echo: tui again", SECS10);
    t.send("/panic");
    t.key(Key::Enter);
    assert!(!t.wait_exit(SECS10).success());
    outputs.push(("the second session's terminal".into(), t.raw_output()));

    // The key did go over the wire, so a clean result means something.
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))),
        "the key was sent"
    );

    let files = files_under(home);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(home).unwrap().display().to_string())
        .collect();
    // Everything this test means to cover was written.
    for want in [
        ".local/share/chat-tui/conversations/",
        ".local/state/chat-tui/crash/crash-",
        ".local/state/chat-tui/prompt-history.json",
        ".config/chat-tui/config.toml",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "no {want}* in {names:?}"
        );
    }
    for (p, name) in files.iter().zip(&names) {
        assert_clean(name, &std::fs::read(p).unwrap());
    }
    for (name, bytes) in &outputs {
        assert_clean(name, bytes);
    }
}
