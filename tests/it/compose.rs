//! Getting text in and out, with the real binary: the external editor (Ctrl+G) with
//! scripted editors in a pseudo-terminal, Ctrl+Z and `fg` under a job-control shell, piped
//! standard input, shell completions and the man page, NO_COLOR, and the `auto` theme
//! against a terminal that reports a white background. Every wait is on screen content or
//! process state, never a sleep.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::fake_server::FakeServer;
use support::pty::{Key, Tui};
use support::pty::{input_box, screen_text as full, status_line};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";
/// Generous: the machine is shared and loaded.
const T: Duration = Duration::from_secs(20);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_chat-tui")
}

/// Write an executable script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A folder for scripts and logs that outlives the app (its HOME is the app's own).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("chat-tui-compose")
        .tempdir()
        .unwrap()
}

/// The scripted editor: logs how it was called and what it saw, then does what the file
/// `mode` next to it says: `type` (write one line typed on the terminal), `fail` (exit 1),
/// `empty` (truncate the file).
const EDITOR: &str = r#"
dir=$(dirname "$0")
for f; do :; done   # the file is the last argument
{
  echo "args: $*"
  echo "mode: $(stat -c %a "$f")"
  echo "path: $f"
  echo "draft: $(cat "$f")"
  if stty -a | tr ' ;' '\n\n' | grep -qx icanon; then echo "cooked: yes"; else echo "cooked: no"; fi
} > "$dir/editor.log"
case "$(cat "$dir/mode")" in
  fail) echo "EDITOR FAILING"; exit 1 ;;
  empty) : > "$f"; exit 0 ;;
  sigint) kill -INT $PPID; sleep 0.2; printf 'after sigint\n' > "$f"; exit 0 ;;
esac
printf 'EDITOR READY> '
IFS= read -r line
printf '%s\n' "$line" > "$f"
"#;

fn log_field(dir: &Path, field: &str) -> String {
    let log = std::fs::read_to_string(dir.join("editor.log")).unwrap_or_default();
    log.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}: ")))
        .unwrap_or_default()
        .to_string()
}

fn spawn_app(srv: &FakeServer, env: &[(&str, &str)], cols: u16, rows: u16) -> Tui {
    let url = srv.url();
    let mut all = vec![("OPENAI_API_KEY", KEY)];
    all.extend_from_slice(env);
    let mut t = Tui::spawn(
        &["--base-url", &url, "--model", "fake-small"],
        &all,
        cols,
        rows,
    );
    t.wait_for("Welcome to chat-tui", T);
    t
}

#[test]
fn ctrl_g_hands_the_terminal_to_the_editor_and_its_text_becomes_the_message() {
    let srv = FakeServer::start();
    let dir = scratch();
    let ed = script(dir.path(), "ed.sh", EDITOR);
    std::fs::write(dir.path().join("mode"), "type").unwrap();
    // An editor given with arguments, like `code --wait`.
    let editor = format!("{} --wait", ed.display());
    let mut t = spawn_app(&srv, &[("EDITOR", &editor)], 120, 30);
    t.send("first draft ");
    // (Typed keys and a paste read together would leave the paste's tail unread until the
    // next key: crossterm stops reading at the first complete event.)
    t.wait_until("the typed text", T, |s| {
        input_box(&full(s)) == "first draft"
    });
    let pasted = "p".repeat(1500);
    t.paste(&pasted);
    t.wait_for("[pasted 1,500 characters]", T);
    t.key(Key::Ctrl('g'));
    t.wait_for("EDITOR READY>", T);
    // The terminal is the editor's: normal screen, no mouse, no bracketed paste, cooked.
    assert!(!t.alternate_screen(), "still on the alternate screen");
    assert!(!t.bracketed_paste(), "bracketed paste left on");
    assert_eq!(
        t.with_screen(|s| s.mouse_protocol_mode()),
        vt100::MouseProtocolMode::None
    );
    assert!(t.cursor_visible());
    assert_eq!(log_field(dir.path(), "cooked"), "yes", "raw mode left on");
    assert_eq!(
        log_field(dir.path(), "args"),
        format!("--wait {}", log_field(dir.path(), "path"))
    );
    assert_eq!(
        log_field(dir.path(), "mode"),
        "600",
        "the temporary file is private"
    );
    let path = PathBuf::from(log_field(dir.path(), "path"));
    assert_eq!(path.extension().and_then(|e| e.to_str()), Some("md"));
    assert_eq!(
        log_field(dir.path(), "draft"),
        format!("first draft {pasted}"),
        "the editor gets the draft, the paste in full"
    );
    // What is typed now reaches the editor, not chat-tui.
    t.send("typed in the editor\r");
    t.wait_until("the app back with the edited message", T, |s| {
        let sc = full(s);
        s.alternate_screen() && input_box(&sc) == "typed in the editor"
    });
    assert!(t.bracketed_paste(), "bracketed paste back on");
    assert!(!path.exists(), "the temporary file is removed");
    t.wait_for("message updated from the editor", T);
    // And the app still works: send it.
    t.key(Key::Enter);
    t.wait_for("echo: typed in the editor", T);
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn an_editor_that_fails_or_leaves_the_file_empty_keeps_the_draft() {
    let srv = FakeServer::start();
    let dir = scratch();
    let ed = script(dir.path(), "ed.sh", EDITOR);
    let editor = ed.display().to_string();
    let mut t = spawn_app(&srv, &[("VISUAL", &editor), ("EDITOR", "false")], 160, 30);
    t.send("keep me");
    std::fs::write(dir.path().join("mode"), "fail").unwrap();
    t.key(Key::Ctrl('g'));
    t.wait_until("the failure reported, the draft kept", T, |s| {
        let sc = full(s);
        s.alternate_screen()
            && status_line(&sc).contains("exited with status 1: the message is unchanged")
            && input_box(&sc) == "keep me"
    });
    let path = PathBuf::from(log_field(dir.path(), "path"));
    assert!(
        !path.as_os_str().is_empty() && !path.exists(),
        "removed after a failure too"
    );
    std::fs::write(dir.path().join("mode"), "empty").unwrap();
    t.key(Key::Ctrl('g'));
    t.wait_until("the empty file reported, the draft kept", T, |s| {
        let sc = full(s);
        s.alternate_screen()
            && status_line(&sc).contains("left the file empty: the message is unchanged")
            && input_box(&sc) == "keep me"
    });
    // A Ctrl+C typed in the editor is the editor's: chat-tui does not quit.
    std::fs::write(dir.path().join("mode"), "sigint").unwrap();
    t.key(Key::Ctrl('g'));
    t.wait_until("back after a SIGINT, with the edited message", T, |s| {
        let sc = full(s);
        s.alternate_screen() && input_box(&sc) == "after sigint"
    });
    assert!(
        t.try_exit().is_none(),
        "chat-tui quit on the editor's SIGINT"
    );
    // /editor works the same way (and starts empty: the draft is the command).
    std::fs::write(dir.path().join("mode"), "type").unwrap();
    t.key(Key::Ctrl('a')); // clear the line
    t.key(Key::Ctrl('k'));
    t.send("/editor\r");
    t.wait_for("EDITOR READY>", T);
    assert_eq!(log_field(dir.path(), "draft"), "");
    t.send("from slash editor\r");
    t.wait_until("the edited message", T, |s| {
        input_box(&full(s)) == "from slash editor"
    });
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn a_missing_editor_is_named_and_the_draft_kept() {
    let srv = FakeServer::start();
    let mut t = spawn_app(
        &srv,
        &[("EDITOR", "/nonexistent/bin/some-editor --flag")],
        160,
        30,
    );
    t.send("still here");
    t.key(Key::Ctrl('g'));
    t.wait_until("the missing editor reported", T, |s| {
        let sc = full(s);
        s.alternate_screen()
            && status_line(&sc).contains("not found (set $VISUAL or $EDITOR)")
            && status_line(&sc).contains("/nonexistent/bin/some-editor")
            && input_box(&sc) == "still here"
    });
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

#[test]
fn ctrl_z_without_job_control_goes_on() {
    // Started straight in the terminal, with no job-control shell: the kernel ignores the
    // stop (an orphaned process group), and the app takes the terminal back at once.
    let srv = FakeServer::start();
    let mut t = spawn_app(&srv, &[], 100, 30);
    t.send("abc");
    t.wait_until("abc in the input", T, |s| input_box(&full(s)) == "abc");
    t.key(Key::Ctrl('z'));
    t.send("d");
    t.wait_until("still running, still typing", T, |s| {
        s.alternate_screen() && input_box(&full(s)) == "abcd"
    });
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

/// The process with this parent and command name, from /proc.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid …
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        if comm == name && rest.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
            return Some(pid);
        }
    }
    None
}

fn state_of(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rfind(')')
        .and_then(|i| stat[i + 2..].chars().next())
        .unwrap_or('?')
}

fn wait_state(pid: u32, want: impl Fn(char) -> bool, what: &str) {
    let deadline = Instant::now() + T;
    while !want(state_of(pid)) {
        assert!(
            Instant::now() < deadline,
            "process {pid} never {what} (state {})",
            state_of(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_z_suspends_to_the_shell_and_fg_redraws_everything() {
    let srv = FakeServer::start();
    // A job-control shell, as in real use (a process in an orphaned process group cannot
    // be stopped by SIGTSTP).
    let mut t = Tui::spawn_cmd(
        Path::new("/bin/bash"),
        &["--norc", "--noprofile", "--noediting", "-i"],
        &[("PS1", "SHELL$ "), ("OPENAI_API_KEY", KEY)],
        100,
        30,
    );
    t.wait_for("SHELL$", T);
    let bash = t.pid().unwrap();
    t.send(&format!(
        "'{}' --base-url {} --model fake-small\r",
        bin(),
        srv.url()
    ));
    t.wait_for("Welcome to chat-tui", T);
    let pid = child_named(bash, "chat-tui").expect("chat-tui under the shell");
    t.send("abc");
    t.wait_until("abc in the input", T, |s| input_box(&full(s)) == "abc");

    t.key(Key::Ctrl('z'));
    t.wait_for("Stopped", T);
    wait_state(pid, |c| c == 'T', "stopped");
    // The terminal is the shell's again.
    assert!(!t.alternate_screen(), "alternate screen still active");
    assert!(t.cursor_visible(), "cursor left hidden");
    assert!(!t.bracketed_paste(), "bracketed paste left on");
    assert_eq!(
        t.with_screen(|s| s.mouse_protocol_mode()),
        vt100::MouseProtocolMode::None,
        "mouse capture left on"
    );

    // fg: SIGCONT, the app takes the terminal back and redraws it all.
    t.send("fg\r");
    wait_state(pid, |c| c != 'T', "continued");
    t.wait_until("the whole screen redrawn", T, |s| {
        let sc = full(s);
        s.alternate_screen()
            && sc.contains("Welcome to chat-tui")
            && input_box(&sc) == "abc"
            && status_line(&sc).contains("idle")
    });
    // And it still works.
    t.send("d");
    t.wait_until("typing works", T, |s| input_box(&full(s)) == "abcd");
    t.key(Key::Enter);
    t.wait_for("echo: abcd", T);
    t.key(Key::Ctrl('q'));
    wait_state(pid, |c| c == '?', "exited");
    t.wait_until("back at the shell", T, |s| !s.alternate_screen());
    t.send("exit\r");
    t.wait_exit(T);
}

/// Run the binary outside a terminal, in a clean HOME.
fn run(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let home = scratch();
    let hp = home.path();
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", hp)
        .env("LANG", "C.UTF-8")
        .env("XDG_CONFIG_HOME", hp.join(".config"))
        .env("XDG_DATA_HOME", hp.join(".local/share"))
        .env("XDG_STATE_HOME", hp.join(".local/state"))
        .current_dir(hp)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        let mut i = child.stdin.take().unwrap();
        i.write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn piped_stdin_is_a_headless_prompt() {
    let srv = FakeServer::start();
    let url = srv.url();
    let o = run(
        &["--base-url", &url, "--model", "fake-small"],
        &[("OPENAI_API_KEY", KEY)],
        Some("hi from a pipe\n"),
    );
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout).trim(), "echo: hi from a pipe");
    assert!(
        text(&o.stderr).contains("finish_reason: stop"),
        "{}",
        text(&o.stderr)
    );
    let reqs = srv.wait_requests(1, T);
    assert_eq!(
        reqs[0].json()["messages"][0]["content"],
        "hi from a pipe\n",
        "the prompt is what came in"
    );
}

#[test]
fn no_terminal_and_no_prompt_is_a_one_line_error_naming_p() {
    // Nothing on standard input, output to a pipe.
    let o = run(&[], &[], None);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("-p TEXT"), "{e}");
    assert!(!e.contains("os error"), "{e}");
    // Standard input a terminal, output to a file: the app cannot draw.
    let dir = scratch();
    let out = dir.path().join("out.txt");
    let mut t = Tui::spawn_cmd(
        Path::new("/bin/sh"),
        &[
            "-c",
            "\"$0\" > \"$1\"; echo \"exit=$?\"",
            bin(),
            out.to_str().unwrap(),
        ],
        &[],
        120,
        10,
    );
    t.wait_for("exit=2", T);
    let screen = t.screen();
    assert!(
        screen.contains("standard output is not a terminal") && screen.contains("-p TEXT"),
        "{screen}"
    );
    assert!(!screen.contains("os error"), "{screen}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "",
        "nothing drawn into the file"
    );
}

#[test]
fn completions_for_every_shell_and_a_man_page() {
    // A broken config does not stop them.
    let dir = scratch();
    let cfg = dir.path().join("broken.toml");
    std::fs::write(&cfg, "model = [unclosed\n").unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = run(&["completions", shell], &[], None);
        assert!(o.status.success(), "{shell}: {}", text(&o.stderr));
        let script = text(&o.stdout);
        for word in ["list", "export", "completions", "man", "base-url", "theme"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let o = run(
        &["completions", "bash", "--config", cfg.to_str().unwrap()],
        &[],
        None,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(&["completions", "tcsh"], &[], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("possible values"),
        "{}",
        text(&o.stderr)
    );

    let o = run(&["man"], &[], None);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let page = text(&o.stdout);
    assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
    assert!(page.contains(".TH chat-tui"), "{page}");
    assert!(
        page.contains("theme") && page.contains("completions"),
        "{page}"
    );
}

/// (cells with a colour, cells in total) of the screen.
fn coloured_cells(t: &Tui) -> (usize, usize) {
    t.with_screen(|s| {
        let (rows, cols) = s.size();
        let mut coloured = 0;
        let mut total = 0;
        for r in 0..rows.get() {
            for c in 0..cols.get() {
                if let Some(cell) = s.cell(r, c) {
                    total += 1;
                    if cell.fgcolor() != vt100::Color::Default
                        || cell.bgcolor() != vt100::Color::Default
                    {
                        coloured += 1;
                    }
                }
            }
        }
        (coloured, total)
    })
}

#[test]
fn no_color_draws_no_colour_at_all() {
    let srv = FakeServer::start();
    // Without NO_COLOR the same screen has colour (so this test can fail).
    let mut t = spawn_app(&srv, &[], 100, 30);
    t.wait_for("idle", T);
    assert!(coloured_cells(&t).0 > 10, "the control has colour");
    t.key(Key::Ctrl('q'));
    t.wait_exit(T);

    let mut t = spawn_app(&srv, &[("NO_COLOR", "1")], 100, 30);
    t.send("hello");
    t.key(Key::Enter);
    t.wait_for("echo: hello", T);
    t.wait_for("stop", T);
    let (coloured, total) = coloured_cells(&t);
    assert_eq!(coloured, 0, "of {total} cells");
    let raw = String::from_utf8_lossy(&t.raw_output()).into_owned();
    for sgr in ["\x1b[38;", "\x1b[48;", "\x1b[31m", "\x1b[32m", "\x1b[36m"] {
        assert!(!raw.contains(sgr), "colour sequence {sgr:?} written");
    }
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}

/// The colour of the first cell of `text` on the screen.
fn colour_of(t: &Tui, text: &str) -> vt100::Color {
    t.with_screen(|s| {
        let (rows, cols) = s.size();
        for r in 0..rows.get() {
            let row = s
                .rows(0, cols.get())
                .nth(usize::from(r))
                .unwrap_or_default();
            if let Some(i) = row.find(text) {
                let col = row[..i].chars().count() as u16;
                return s.cell(r, col).map(|c| c.fgcolor()).unwrap_or_default();
            }
        }
        panic!("{text:?} not on screen");
    })
}

#[test]
fn auto_theme_follows_the_background_the_terminal_reports() {
    let srv = FakeServer::start();
    let url = srv.url();
    let args = ["--base-url", url.as_str(), "--model", "fake-small"];
    let env = [("OPENAI_API_KEY", KEY), ("COLORTERM", "truecolor")];
    // A terminal that answers OSC 11 with white: the light theme (its heading colour).
    let mut t = Tui::spawn_answering(
        Path::new(bin()),
        &args,
        &env,
        100,
        30,
        Some("rgb:ffff/ffff/ffff"),
    );
    t.wait_for("Welcome to chat-tui", T);
    assert_eq!(
        colour_of(&t, "Welcome to chat-tui"),
        vt100::Color::Rgb(0x0a, 0x30, 0x69)
    );
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
    // Black: dark (the ANSI blue of the dark theme's headings).
    let mut t = Tui::spawn_answering(
        Path::new(bin()),
        &args,
        &env,
        100,
        30,
        Some("rgb:0000/0000/0000"),
    );
    t.wait_for("Welcome to chat-tui", T);
    assert_eq!(colour_of(&t, "Welcome to chat-tui"), vt100::Color::Idx(4));
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
    // A terminal that does not answer (only the device attributes): dark, at once; and
    // `--theme light` needs no answer, at 256 colours without COLORTERM.
    let mut light_args = args.to_vec();
    light_args.extend(["--theme", "light"]);
    let mut t = Tui::spawn(&light_args, &[("OPENAI_API_KEY", KEY)], 100, 30);
    t.wait_for("Welcome to chat-tui", T);
    let want = chat_tui::ui::color::nearest_ansi256((0x0a, 0x30, 0x69));
    assert_eq!(
        colour_of(&t, "Welcome to chat-tui"),
        vt100::Color::Idx(want)
    );
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(T).success());
}
