//! Drive a real program (normally the `chat-tui` binary) in a real
//! pseudo-terminal and look at its screen through a `vt100` emulator.
//!
//! ```ignore
//! mod support;
//! use support::pty::{Key, Tui};
//!
//! let srv = support::fake_server::FakeServer::start();
//! let mut t = Tui::spawn(&["--base-url", &srv.url()], &[("OPENAI_API_KEY", "sk-test-NOT-A-REAL-KEY")], 100, 30);
//! t.wait_for("Ready", Duration::from_secs(5));
//! t.send("hello");
//! t.key(Key::Enter);
//! t.wait_for("echo: hello", Duration::from_secs(5));
//! t.key(Key::Ctrl('c'));
//! assert!(t.wait_exit(Duration::from_secs(5)).success());
//! ```
//!
//! A reader thread feeds everything the program writes into a
//! `vt100::Parser` and keeps the raw bytes.  Like a real terminal it answers
//! the queries crossterm sends at start-up: `ESC[6n` (cursor position) with
//! `ESC[{row};{col}R` taken from the emulator's cursor at that point of the
//! stream, and primary device attributes `ESC[c` / `ESC[0c` with `ESC[?1;2c`.
//! `ESC[?u` (keyboard-enhancement query) is ignored, i.e. not supported.
//! Queries split across reads are handled (the parser is a state machine).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub use portable_pty::ExitStatus;

/// A key press, encoded like xterm does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Enter,
    /// A lone ESC.  crossterm reads ESC followed by more bytes in the same
    /// read as Alt+key, so give the program a moment before the next key.
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// F1..F12
    F(u8),
    /// Ctrl + letter (or one of `@[\]^_ ` and space).
    Ctrl(char),
    /// ESC prefix + char.
    Alt(char),
    /// ESC + CR.
    AltEnter,
}

impl Key {
    /// The bytes a terminal sends for this key.  `app_cursor` selects the
    /// DECCKM (application cursor keys) encoding for arrows/Home/End.
    pub fn bytes(self, app_cursor: bool) -> Vec<u8> {
        let csi_or_ss3 = |c: char| -> Vec<u8> {
            if app_cursor {
                format!("\x1bO{c}").into_bytes()
            } else {
                format!("\x1b[{c}").into_bytes()
            }
        };
        match self {
            Key::Enter => b"\r".to_vec(),
            Key::Esc => b"\x1b".to_vec(),
            Key::Tab => b"\t".to_vec(),
            Key::BackTab => b"\x1b[Z".to_vec(),
            Key::Backspace => b"\x7f".to_vec(),
            Key::Delete => b"\x1b[3~".to_vec(),
            Key::Insert => b"\x1b[2~".to_vec(),
            Key::Up => csi_or_ss3('A'),
            Key::Down => csi_or_ss3('B'),
            Key::Right => csi_or_ss3('C'),
            Key::Left => csi_or_ss3('D'),
            Key::Home => csi_or_ss3('H'),
            Key::End => csi_or_ss3('F'),
            Key::PageUp => b"\x1b[5~".to_vec(),
            Key::PageDown => b"\x1b[6~".to_vec(),
            Key::F(n) => match n {
                1 => b"\x1bOP".to_vec(),
                2 => b"\x1bOQ".to_vec(),
                3 => b"\x1bOR".to_vec(),
                4 => b"\x1bOS".to_vec(),
                5..=12 => {
                    let code = [15, 17, 18, 19, 20, 21, 23, 24][(n - 5) as usize];
                    format!("\x1b[{code}~").into_bytes()
                }
                _ => panic!("Key::F({n}) is not supported (F1..F12)"),
            },
            Key::Ctrl(c) => {
                let c = c.to_ascii_lowercase();
                let b = match c {
                    'a'..='z' => c as u8 - b'a' + 1,
                    ' ' | '@' | '2' => 0,
                    '[' | '3' => 0x1b,
                    '\\' | '4' => 0x1c,
                    ']' | '5' => 0x1d,
                    '^' | '6' => 0x1e,
                    '_' | '7' | '/' => 0x1f,
                    _ => panic!("Key::Ctrl({c:?}) has no control code"),
                };
                vec![b]
            }
            Key::Alt(c) => {
                let mut v = vec![0x1b];
                let mut buf = [0u8; 4];
                v.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                v
            }
            Key::AltEnter => b"\x1b\r".to_vec(),
        }
    }
}

/// vt100 callbacks that collect the answers a real terminal would send.
#[derive(Default)]
struct Answers {
    out: Vec<u8>,
    /// The answer to an OSC 11 background-colour query (e.g. `rgb:ffff/ffff/ffff`); no
    /// answer when `None`, like many terminals.
    background: Option<String>,
}

impl vt100::Callbacks for Answers {
    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        _i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first()).copied();
        match (i1, c, first) {
            (None, 'n', Some(6)) => {
                let (row, col) = screen.cursor_position();
                self.out
                    .extend_from_slice(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
            }
            (None, 'n', Some(5)) => self.out.extend_from_slice(b"\x1b[0n"),
            (None, 'c', None | Some(0)) => self.out.extend_from_slice(b"\x1b[?1;2c"),
            _ => {} // includes ESC[?u: no keyboard enhancement
        }
    }

    fn unhandled_osc(&mut self, _screen: &mut vt100::Screen, params: &[&[u8]]) {
        if let (Some(bg), [b"11", b"?"]) = (&self.background, params) {
            self.out
                .extend_from_slice(format!("\x1b]11;{bg}\x1b\\").as_bytes());
        }
    }
}

struct Term {
    parser: vt100::Parser<Answers>,
    raw: Vec<u8>,
    eof: bool,
}

struct Shared {
    term: Mutex<Term>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Term> {
        self.term.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A program running in a pseudo-terminal.  Dropping it kills the program if
/// it is still running.
pub struct Tui {
    child: Box<dyn Child + Send + Sync>,
    /// `None` after [`Tui::hangup`].
    master: Option<Box<dyn MasterPty + Send>>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    shared: Arc<Shared>,
    home: tempfile::TempDir,
    exit: Option<ExitStatus>,
    /// Tells the reader thread to let go of its end of the pty.
    closing: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// A new file on the same open pty master (`dup`): our own reader and writer, closed like
/// any file (portable-pty's writer sends a newline and EOF when dropped).
fn dup_master(master: &dyn MasterPty) -> std::fs::File {
    let fd = master.as_raw_fd().expect("a unix pty has a fd");
    // SAFETY: `fd` is open for as long as `master` lives, which outlasts this call.
    let owned = unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .expect("dup the pty master");
    std::fs::File::from(owned)
}

/// Wait up to `ms` for `fd` to be readable (or hung up). False on timeout.
fn readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n != 0
}

impl Tui {
    /// Run the `chat-tui` binary of this package (only usable from
    /// integration tests: it relies on `CARGO_BIN_EXE_chat-tui`).
    pub fn spawn(args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Tui {
        Self::spawn_cmd(
            Path::new(env!("CARGO_BIN_EXE_chat-tui")),
            args,
            env,
            cols,
            rows,
        )
    }

    /// Run any program.  The environment is cleared to: `PATH` (inherited),
    /// `HOME` = a fresh temp dir (also the working directory),
    /// `XDG_CONFIG_HOME`/`XDG_DATA_HOME`/`XDG_STATE_HOME`/`XDG_CACHE_HOME` =
    /// `HOME/.config`, `HOME/.local/share`, `HOME/.local/state`,
    /// `HOME/.cache` (created), `TERM=xterm-256color`, `LANG=C.UTF-8`;
    /// then `env` is applied on top (so it can override any of these).
    pub fn spawn_cmd(
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        cols: u16,
        rows: u16,
    ) -> Tui {
        Self::spawn_answering(program, args, env, cols, rows, None)
    }

    /// Like [`Tui::spawn_cmd`], with a terminal that answers the OSC 11 background-colour
    /// query with `background` (e.g. `rgb:ffff/ffff/ffff`).
    pub fn spawn_answering(
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        cols: u16,
        rows: u16,
        background: Option<&str>,
    ) -> Tui {
        let home = tempfile::Builder::new()
            .prefix("chat-tui-test-home")
            .tempdir()
            .expect("temp home");
        let hp = home.path().to_path_buf();
        let xdg: [(&str, PathBuf); 4] = [
            ("XDG_CONFIG_HOME", hp.join(".config")),
            ("XDG_DATA_HOME", hp.join(".local/share")),
            ("XDG_STATE_HOME", hp.join(".local/state")),
            ("XDG_CACHE_HOME", hp.join(".cache")),
        ];
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env_clear();
        cmd.env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        );
        cmd.env("HOME", &hp);
        cmd.env("TERM", "xterm-256color");
        cmd.env("LANG", "C.UTF-8");
        for (k, p) in &xdg {
            std::fs::create_dir_all(p).expect("create xdg dir");
            cmd.env(k, p);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.cwd(&hp);

        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let child = pair
            .slave
            .spawn_command(cmd)
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", program.display()));
        // Close our copy of the slave so reads see EOF/EIO once the child exits.
        drop(pair.slave);
        let master = pair.master;
        let mut reader = dup_master(&*master);
        let writer: Arc<Mutex<Box<dyn Write + Send>>> =
            Arc::new(Mutex::new(Box::new(dup_master(&*master))));
        let closing = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            term: Mutex::new(Term {
                parser: vt100::Parser::new_with_callbacks(
                    nz(rows),
                    nz(cols),
                    0,
                    Answers {
                        out: Vec::new(),
                        background: background.map(str::to_string),
                    },
                ),
                raw: Vec::new(),
                eof: false,
            }),
            cond: Condvar::new(),
        });
        let sh = shared.clone();
        let wr = writer.clone();
        let stop = closing.clone();
        let reader_thread = std::thread::Builder::new()
            .name("pty-reader".into())
            .spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    // Poll first, so that `hangup` can take the pty away from us.
                    if !readable(reader.as_raw_fd(), 50) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        continue;
                    }
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let n = match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let answers = {
                        let mut t = sh.lock();
                        t.raw.extend_from_slice(&buf[..n]);
                        t.parser.process(&buf[..n]);
                        std::mem::take(&mut t.parser.callbacks_mut().out)
                    };
                    if !answers.is_empty() {
                        let mut w = wr.lock().unwrap_or_else(|e| e.into_inner());
                        let _ = w.write_all(&answers);
                        let _ = w.flush();
                    }
                    sh.cond.notify_all();
                }
                sh.lock().eof = true;
                sh.cond.notify_all();
            })
            .expect("spawn pty reader");
        Tui {
            child,
            master: Some(master),
            writer,
            shared,
            home,
            exit: None,
            closing,
            reader: Some(reader_thread),
        }
    }

    /// Close the terminal under the program, as closing its window does: every file of
    /// the pty's master side is closed, so the program gets SIGHUP and its reads and
    /// writes fail (EIO). Nothing more is read from it afterwards.
    pub fn hangup(&mut self) {
        self.closing.store(true, Ordering::Relaxed);
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
        *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = Box::new(std::io::sink());
        self.master = None;
    }

    fn master(&self) -> &dyn MasterPty {
        self.master.as_deref().expect("the terminal was hung up")
    }

    /// The temporary `HOME` (deleted on drop).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Write raw bytes to the terminal (as if typed).
    pub fn send(&mut self, s: &str) {
        self.send_bytes(s.as_bytes());
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(b).expect("write to pty");
        w.flush().expect("flush pty");
    }

    /// Press a key (arrow keys follow the program's DECCKM mode).
    pub fn key(&mut self, k: Key) {
        let app = self.shared.lock().parser.screen().application_cursor();
        self.send_bytes(&k.bytes(app));
    }

    /// Bracketed paste: `ESC[200~ s ESC[201~` (sent whether or not the
    /// program enabled bracketed paste mode).
    pub fn paste(&mut self, s: &str) {
        let mut v = b"\x1b[200~".to_vec();
        v.extend_from_slice(s.as_bytes());
        v.extend_from_slice(b"\x1b[201~");
        self.send_bytes(&v);
    }

    /// Wait until the screen contains `text`; on timeout panic with the screen.
    pub fn wait_for(&mut self, text: &str, timeout: Duration) {
        self.wait_until(&format!("screen to contain {text:?}"), timeout, |s| {
            screen_text(s).contains(text)
        });
    }

    /// Wait until `pred(screen)` holds; on timeout panic with `what` and the
    /// screen.  Also panics early if the program's output ended (it exited)
    /// and the predicate still fails.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&vt100::Screen) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        let mut t = self.shared.lock();
        loop {
            if pred(t.parser.screen()) {
                return;
            }
            let now = Instant::now();
            if now >= deadline || t.eof {
                let why = if t.eof {
                    "the program's output ended"
                } else {
                    "timed out"
                };
                let screen = screen_text(t.parser.screen());
                let tail_start = t.raw.len().saturating_sub(600);
                let tail = String::from_utf8_lossy(&t.raw[tail_start..]).into_owned();
                drop(t);
                panic!(
                    "waiting for {what}: {why} after {:?}\n----- screen -----\n{screen}\n------------------\nlast raw output: {tail:?}",
                    timeout.saturating_sub(deadline.saturating_duration_since(now))
                );
            }
            t = self
                .shared
                .cond
                .wait_timeout(t, (deadline - now).min(Duration::from_millis(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The screen: rows joined by `'\n'`, trailing spaces trimmed.
    pub fn screen(&self) -> String {
        screen_text(self.shared.lock().parser.screen())
    }

    /// Run `f` on the emulator screen (cells, colours, cursor...).
    pub fn with_screen<R>(&self, f: impl FnOnce(&vt100::Screen) -> R) -> R {
        f(self.shared.lock().parser.screen())
    }

    /// Resize the terminal (the program gets SIGWINCH).
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.shared.lock().parser.set_size(nz(rows), nz(cols));
        self.master()
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize pty");
    }

    /// Wait for the program to exit (panics with the screen on timeout), then
    /// briefly for its remaining output to be read.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(s) = &self.exit {
            return s.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                // Let the reader drain what is left (EOF comes once the
                // slave side is closed by every process).
                let drain = Instant::now() + Duration::from_millis(500);
                let mut t = self.shared.lock();
                while !t.eof && Instant::now() < drain {
                    t = self
                        .shared
                        .cond
                        .wait_timeout(t, Duration::from_millis(20))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                drop(t);
                self.exit = Some(st.clone());
                return st;
            }
            if Instant::now() >= deadline {
                panic!(
                    "program did not exit within {timeout:?}\n----- screen -----\n{}\n------------------",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `Some(status)` if the program has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit.clone()
    }

    /// Everything the program wrote so far.
    pub fn raw_output(&self) -> Vec<u8> {
        self.shared.lock().raw.clone()
    }

    /// Whether the program currently has the alternate screen active.
    pub fn alternate_screen(&self) -> bool {
        self.shared.lock().parser.screen().alternate_screen()
    }

    /// Whether the cursor is visible (not hidden with `ESC[?25l`).
    pub fn cursor_visible(&self) -> bool {
        !self.shared.lock().parser.screen().hide_cursor()
    }

    /// Whether the program enabled bracketed paste mode.
    pub fn bracketed_paste(&self) -> bool {
        self.shared.lock().parser.screen().bracketed_paste()
    }

    /// Whether the pty's line discipline is in canonical ("cooked") mode
    /// with echo on, i.e. not raw.  Works after the program exited, so a
    /// test can prove the terminal was restored.  `None` if the termios
    /// cannot be read.
    pub fn termios_is_cooked(&self) -> Option<bool> {
        let t = self.master.as_deref()?.get_termios()?;
        let lflags = t.local_flags.bits() as u64;
        Some(lflags & ICANON != 0 && lflags & ECHO != 0)
    }

    /// Stop the program (no-op if it already exited). Note: portable-pty sends SIGHUP
    /// first and SIGKILL only if the program is still running ~200 ms later, so a program
    /// that handles SIGHUP (chat-tui does: it saves and quits) exits cleanly. For a real
    /// crash use [`Tui::sigkill`].
    pub fn kill(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            if let Ok(st) = self.child.wait() {
                self.exit = Some(st);
            }
        }
    }
}

impl Tui {
    /// The program's process id (`None` once it has been reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Send SIGKILL right away (no signal handler runs, nothing is flushed) and reap it.
    /// No-op if it already exited.
    pub fn sigkill(&mut self) -> ExitStatus {
        if let Some(st) = self.try_exit() {
            return st;
        }
        let pid = self.pid().expect("a running child has a pid");
        let ok = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("run kill(1)")
            .success();
        assert!(ok, "kill -KILL {pid} failed");
        let st = self.child.wait().expect("wait for the killed child");
        self.exit = Some(st.clone());
        st
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const ICANON: u64 = 0o000002;
#[cfg(any(target_os = "linux", target_os = "android"))]
const ECHO: u64 = 0o000010;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const ICANON: u64 = 0x100;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const ECHO: u64 = 0x8;

impl Drop for Tui {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The screen's rows joined by `'\n'`, trailing spaces trimmed (what `Tui::screen` returns).
pub fn screen_text(s: &vt100::Screen) -> String {
    let (_, cols) = s.size();
    s.rows(0, cols.get())
        .map(|r| r.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn nz(v: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(v).expect("terminal size must be non-zero")
}

// ----------------------------------------------------------------------------------------
// Helpers shared by the tests that drive the binary in a PTY
// ----------------------------------------------------------------------------------------

/// How long the helpers below wait for the screen or the exit.
const HELPER_WAIT: Duration = Duration::from_secs(15);

/// The status line (the last row of the screen).
pub fn status_line(screen: &str) -> String {
    screen.lines().last().unwrap_or("").to_string()
}

/// The screen's text with box borders and line breaks removed, so that a wrapped
/// sentence reads as one line.
pub fn flat(screen: &vt100::Screen) -> String {
    let (_, cols) = screen.size();
    screen
        .rows(0, cols.get())
        .map(|l| l.trim().trim_matches('│').trim().to_string())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wait until `text` shows up, possibly wrapped over several rows of a box.
pub fn wait_text(t: &mut Tui, text: &str) {
    t.wait_until(&format!("{text:?} (unwrapped)"), HELPER_WAIT, |s| {
        flat(s).contains(text)
    });
}

/// Type `text` and press Enter.
pub fn send(t: &mut Tui, text: &str) {
    t.send(text);
    t.key(Key::Enter);
}

/// Send a message and wait for the fake model's whole reply (it echoes: `echo: {text}`).
pub fn chat(t: &mut Tui, text: &str) {
    send(t, text);
    t.wait_for(&format!("echo: {text}"), HELPER_WAIT);
    t.wait_for("● idle", HELPER_WAIT);
}

/// Ctrl+Q, and the program exits well.
pub fn quit(t: &mut Tui) {
    t.key(Key::Ctrl('q'));
    assert!(t.wait_exit(HELPER_WAIT).success(), "{}", t.screen());
}

/// The rows of the input box, borders stripped, joined by '\n' (empty for the placeholder).
pub fn input_box(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(start) = lines.iter().rposition(|l| l.starts_with("┌ message")) else {
        return String::new();
    };
    let text = lines[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with('└'))
        .map(|l| {
            l.trim_start_matches('│')
                .trim_end()
                .trim_end_matches('│')
                .trim()
        })
        .collect::<Vec<_>>()
        .join("\n");
    if text.starts_with("Type a message — Enter sends") {
        String::new()
    } else {
        text
    }
}

/// Every text the program put on the clipboard through OSC 52 (in `raw`, the program's
/// output), in order.
pub fn osc52_texts(raw: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    let s = String::from_utf8_lossy(raw);
    let mut out = Vec::new();
    let mut rest = &s[..];
    while let Some(i) = rest.find("\x1b]52;c;") {
        let after = &rest[i + 7..];
        let Some(end) = after.find(['\x07', '\x1b']) else {
            break;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&after[..end])
            .expect("valid base64");
        out.push(String::from_utf8(bytes).expect("UTF-8"));
        rest = &after[end..];
    }
    out
}
