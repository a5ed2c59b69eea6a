//! The clipboard, two ways at once:
//!
//! - **OSC 52**, always: the text, base64-encoded, in an escape sequence the terminal turns
//!   into a clipboard write. It travels wherever the terminal's output goes (SSH, containers),
//!   and through tmux and GNU screen, wrapped for their passthrough when `TMUX` / `STY` say
//!   we run inside them. The event loop writes it to the terminal between frames (ratatui
//!   owns the output; the sequence goes through the same writer).
//! - **The system clipboard** (arboard: X11 here, or macOS and Windows), when there is a
//!   display (`DISPLAY`). It runs on a thread of its own that owns the clipboard for the app's
//!   lifetime (X11 clipboards are served by their owner; on the way out arboard hands the
//!   text to a clipboard manager). Each copy waits for it at most [`NATIVE_TIMEOUT`]; a
//!   clipboard that fails, hangs or panics costs a notice, never the app.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::sync::oneshot;

/// Base64 bytes of OSC 52 payload many terminals take at most. Terminals differ (some
/// take megabytes, some cut or drop long sequences); 100,000 is the limit vim-oscyank and
/// hterm (ChromeOS) use, and a common denominator. Longer payloads are sent anyway, with a
/// note.
pub const OSC52_LIMIT: usize = 100_000;

/// How long a copy waits for the system clipboard before saying it did not answer.
pub const NATIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The name of the system clipboard's thread (the panic hook leaves its panics alone: they
/// are caught there and reported as a failed copy).
pub const THREAD_NAME: &str = "chat-tui-clipboard";

/// A terminal multiplexer between us and the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mux {
    None,
    Tmux,
    Screen,
}

impl Mux {
    /// From the environment: `TMUX` is set inside tmux, `STY` inside GNU screen.
    pub fn detect(tmux: Option<&str>, sty: Option<&str>) -> Mux {
        let set = |v: Option<&str>| v.is_some_and(|v| !v.is_empty());
        if set(tmux) {
            Mux::Tmux
        } else if set(sty) {
            Mux::Screen
        } else {
            Mux::None
        }
    }

    pub fn from_env() -> Mux {
        let var = |k| std::env::var(k).ok();
        Mux::detect(var("TMUX").as_deref(), var("STY").as_deref())
    }
}

/// The bytes that set the clipboard to `text`, and the length of the base64 payload.
///
/// Inside tmux: the plain sequence (tmux takes it with `set-clipboard on`, and passes it on)
/// and the same wrapped for passthrough (`allow-passthrough on`); either reaching the
/// terminal sets the same text. Inside screen: split into pieces screen passes through
/// (it cuts a single long passthrough string).
pub fn osc52(text: &str, mux: Mux) -> (Vec<u8>, usize) {
    let payload = BASE64.encode(text.as_bytes());
    let plain = format!("\x1b]52;c;{payload}\x07");
    let bytes = match mux {
        Mux::None => plain.into_bytes(),
        Mux::Tmux => {
            let mut out = plain.clone().into_bytes();
            out.extend_from_slice(b"\x1bPtmux;");
            out.extend_from_slice(plain.replace('\x1b', "\x1b\x1b").as_bytes());
            out.extend_from_slice(b"\x1b\\");
            out
        }
        Mux::Screen => {
            let mut out = Vec::with_capacity(payload.len() + payload.len() / 76 * 4 + 32);
            let mut piece = |s: &[u8]| {
                out.extend_from_slice(b"\x1bP");
                out.extend_from_slice(s);
                out.extend_from_slice(b"\x1b\\");
            };
            piece(b"\x1b]52;c;");
            for chunk in payload.as_bytes().chunks(76) {
                piece(chunk);
            }
            piece(b"\x07");
            out
        }
    };
    (bytes, payload.len())
}

/// Is there a system clipboard to try? arboard is built with its X11 backend: on X11, and
/// on Wayland desktops through XWayland, `DISPLAY` names the display. Over SSH, on a console,
/// or in a Wayland session without XWayland there is none, and OSC 52 does the work (the
/// Wayland terminals take it) — rather than a failure notice on every copy.
pub fn display_available(display: Option<&str>) -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    display.is_some_and(|v| !v.trim().is_empty())
}

/// A system clipboard (arboard, or a stand-in in tests).
pub trait SystemClipboard: Send {
    fn set_text(&mut self, text: &str) -> Result<(), String>;
}

/// The system clipboard through arboard, opened at the first copy and kept open.
#[derive(Default)]
pub struct Arboard(Option<arboard::Clipboard>);

impl SystemClipboard for Arboard {
    fn set_text(&mut self, text: &str) -> Result<(), String> {
        let cb = match &mut self.0 {
            Some(cb) => cb,
            None => {
                let cb = arboard::Clipboard::new().map_err(reason)?;
                self.0.insert(cb)
            }
        };
        cb.set_text(text).map_err(reason)
    }
}

/// arboard's error, less its generic preamble ("Unknown error while interacting with the
/// clipboard: …").
fn reason(e: arboard::Error) -> String {
    match e {
        arboard::Error::Unknown { description } => description,
        other => other.to_string(),
    }
}

enum Job {
    Set {
        text: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Finish(oneshot::Sender<()>),
}

type Maker = Box<dyn Fn() -> Box<dyn SystemClipboard> + Send>;

/// The system clipboard's thread.
pub struct Native {
    tx: std_mpsc::Sender<Job>,
    /// Since when a copy has been waiting for the clipboard: sent and not answered yet
    /// (None: idle). Marked when sent, so a thread slow to even start counts as stuck.
    busy_since: Arc<Mutex<Option<Instant>>>,
    timeout: Duration,
}

impl Native {
    /// Start the thread; `make` opens the clipboard (again after a panic).
    pub fn start(make: Maker, timeout: Duration) -> io::Result<Native> {
        let (tx, rx) = std_mpsc::channel::<Job>();
        let busy_since = Arc::new(Mutex::new(None));
        let busy = busy_since.clone();
        std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || serve(make, rx, busy))?;
        Ok(Native {
            tx,
            busy_since,
            timeout,
        })
    }

    /// The arboard clipboard.
    pub fn arboard() -> io::Result<Native> {
        Native::start(Box::new(|| Box::new(Arboard::default())), NATIVE_TIMEOUT)
    }

    /// Set the clipboard to `text`; the answer, or why not (a failure, no answer within the
    /// timeout, a clipboard still stuck on an earlier copy).
    pub fn set(&self, text: String) -> impl Future<Output = Result<(), String>> + use<> {
        let stuck = self
            .busy_since
            .lock()
            .ok()
            .and_then(|b| *b)
            .is_some_and(|t| t.elapsed() >= self.timeout);
        let timeout = self.timeout;
        let sent = if stuck {
            Err("still no answer to an earlier copy".to_string())
        } else {
            let (reply, rx) = oneshot::channel();
            if let Ok(mut b) = self.busy_since.lock() {
                b.get_or_insert_with(Instant::now);
            }
            self.tx
                .send(Job::Set { text, reply })
                .map(|_| rx)
                .map_err(|_| "its thread has stopped".to_string())
        };
        async move {
            let rx = sent?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(result)) => result,
                Ok(Err(_)) => Err("its thread has stopped".into()),
                Err(_) => Err(format!("no answer in {} s", timeout.as_secs_f32())),
            }
        }
    }

    /// Close the clipboard (arboard hands its text to a clipboard manager), waiting at most
    /// `wait`.
    pub async fn finish(self, wait: Duration) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Job::Finish(done)).is_ok() {
            let _ = tokio::time::timeout(wait, rx).await;
        }
    }
}

fn serve(make: Maker, rx: std_mpsc::Receiver<Job>, busy: Arc<Mutex<Option<Instant>>>) {
    let mut cb = make();
    while let Ok(job) = rx.recv() {
        match job {
            Job::Set { text, reply } => {
                let result = match catch_unwind(AssertUnwindSafe(|| cb.set_text(&text))) {
                    Ok(r) => r,
                    Err(panic) => {
                        // Start afresh: the clipboard's state is unknown after a panic.
                        cb = make();
                        Err(format!(
                            "the clipboard library failed ({})",
                            panic_text(&*panic)
                        ))
                    }
                };
                if let Ok(mut b) = busy.lock() {
                    *b = None;
                }
                let _ = reply.send(result);
            }
            Job::Finish(done) => {
                drop(cb);
                let _ = done.send(());
                return;
            }
        }
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// "123,456 bytes" in kB for notes.
pub fn kilobytes(n: usize) -> String {
    format!("{} kB", n.div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text every OSC 52 sequence in `bytes` sets (tmux's doubled ESCs and screen's
    /// pieces undone first).
    fn decode_all(bytes: &[u8]) -> Vec<String> {
        let s = String::from_utf8(bytes.to_vec()).unwrap();
        // Undo screen's pieces and tmux's wrapping the way the multiplexer would.
        let s = s.replace("\x1b\\\x1bP", "").replace("\x1bPtmux;", "\n");
        let s = s.replace("\x1b\x1b", "\x1b");
        let mut out = Vec::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find("\x1b]52;c;") {
            let after = &rest[i + 7..];
            let end = after.find('\x07').unwrap();
            out.push(String::from_utf8(BASE64.decode(&after[..end]).unwrap()).unwrap());
            rest = &after[end..];
        }
        out
    }

    #[test]
    fn plain_osc52_is_base64_of_the_text() {
        let (b, n) = osc52("héllo\nwörld", Mux::None);
        assert_eq!(b, b"\x1b]52;c;aMOpbGxvCnfDtnJsZA==\x07");
        assert_eq!(n, 20);
        assert_eq!(decode_all(&b), ["héllo\nwörld"]);
    }

    #[test]
    fn tmux_gets_the_plain_sequence_and_a_passthrough_copy() {
        let (b, _) = osc52("copied", Mux::Tmux);
        let s = String::from_utf8(b.clone()).unwrap();
        assert!(s.starts_with("\x1b]52;c;"));
        assert!(s.contains("\x1bPtmux;\x1b\x1b]52;c;"));
        assert!(s.ends_with("\x1b\\"));
        assert_eq!(decode_all(&b), ["copied", "copied"]);
    }

    #[test]
    fn screen_gets_pieces_it_passes_through() {
        let text = "x".repeat(1000);
        let (b, n) = osc52(&text, Mux::Screen);
        let s = String::from_utf8(b.clone()).unwrap();
        // No passthrough string longer than screen takes.
        for piece in s.split("\x1bP").skip(1) {
            assert!(piece.len() <= 80, "{} bytes", piece.len());
        }
        assert!(n > 1000);
        assert_eq!(decode_all(&b), [text]);
    }

    #[test]
    fn multiplexers_and_displays_come_from_the_environment() {
        assert_eq!(
            Mux::detect(Some("/tmp/tmux-0/default,1,0"), None),
            Mux::Tmux
        );
        assert_eq!(Mux::detect(None, Some("1234.pts-0.host")), Mux::Screen);
        assert_eq!(Mux::detect(Some(""), None), Mux::None);
        if !cfg!(any(target_os = "macos", target_os = "windows")) {
            assert!(!display_available(None));
            assert!(!display_available(Some(" ")));
            assert!(display_available(Some(":0")));
        }
    }

    struct Fake(fn(&str) -> Result<(), String>);

    impl SystemClipboard for Fake {
        fn set_text(&mut self, text: &str) -> Result<(), String> {
            (self.0)(text)
        }
    }

    fn native(f: fn(&str) -> Result<(), String>, timeout: Duration) -> Native {
        Native::start(Box::new(move || Box::new(Fake(f))), timeout).unwrap()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn a_working_clipboard_says_ok() {
        let n = native(|_| Ok(()), Duration::from_secs(30));
        assert_eq!(rt().block_on(n.set("hi".into())), Ok(()));
    }

    #[test]
    fn a_failing_clipboard_says_why() {
        let n = native(|_| Err("no X server".into()), Duration::from_secs(30));
        assert_eq!(rt().block_on(n.set("hi".into())), Err("no X server".into()));
    }

    #[test]
    fn a_panicking_clipboard_is_a_failure_and_the_next_copy_works() {
        fn boom(text: &str) -> Result<(), String> {
            if text == "boom" {
                panic!("clipboard exploded");
            }
            Ok(())
        }
        let n = native(boom, Duration::from_secs(30));
        let rt = rt();
        let e = rt.block_on(n.set("boom".into())).unwrap_err();
        assert!(e.contains("clipboard exploded"), "{e}");
        assert_eq!(rt.block_on(n.set("fine".into())), Ok(()));
    }

    #[test]
    fn a_hanging_clipboard_times_out_and_is_then_skipped() {
        fn hang(_: &str) -> Result<(), String> {
            std::thread::sleep(Duration::from_secs(3600));
            Ok(())
        }
        let n = native(hang, Duration::from_millis(50));
        let rt = rt();
        let e = rt.block_on(n.set("a".into())).unwrap_err();
        assert_eq!(e, "no answer in 0.05 s");
        // Still stuck: the next copy is not queued behind it.
        let e = rt.block_on(n.set("b".into())).unwrap_err();
        assert_eq!(e, "still no answer to an earlier copy");
        // Quitting does not wait for it past the bound.
        rt.block_on(n.finish(Duration::from_millis(50)));
    }
}
