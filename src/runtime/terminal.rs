//! The terminal: raw mode and the alternate screen on the way in, everything put back on
//! the way out — after a normal quit, an error or a panic — and taken back after the editor
//! or a suspension. At start, the background colour is asked for (for the `auto` theme).

use std::io::{self, Stdout, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::layout::Position;

use crate::chat::conversation::Conversation;
use crate::runtime::backend::{Moved, ScreenBackend};

/// The terminal: ratatui over crossterm, writing a frame at once and scrolling rows that
/// moved (`runtime::backend`).
pub type Term = Terminal<ScreenBackend<Stdout>>;

/// Draw a frame: `render` draws the whole screen into the terminal's buffer and says which
/// areas hold the same cells as in the last frame; the backend writes what changed
/// (`ScreenBackend::draw_frame`), not comparing those areas. In place of `Terminal::draw`,
/// which compares every cell of the screen every frame and clears a second buffer.
pub fn draw<W: Write>(
    term: &mut Terminal<ScreenBackend<W>>,
    render: impl FnOnce(&mut ratatui::Frame) -> Vec<ratatui::layout::Rect>,
) -> io::Result<()> {
    draw_kept(term, |f, _| {
        f.buffer_mut().reset();
        (render(f), None)
    })
}

/// How often the terminal's size is asked for between frames (a resize is also reported
/// as an event, which resizes at once): not every frame, an `ioctl` each.
const SIZE_CHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// [`draw`], the buffer not reset: `render` gets the terminal's buffer holding the last
/// frame drawn — exactly what the screen shows — when `kept` is true (else whatever is in
/// it: it must reset it), and must leave in it the whole new frame. A renderer that knows
/// what did not change since the last frame leaves those cells as they are and says so in
/// the areas it returns — and rows it knows moved up unchanged, which the terminal then
/// scrolls (`ScreenBackend::draw_frame_moved`; the areas are what is unchanged after it).
pub fn draw_kept<W: Write>(
    term: &mut Terminal<ScreenBackend<W>>,
    render: impl FnOnce(&mut ratatui::Frame, bool) -> (Vec<ratatui::layout::Rect>, Option<Moved>),
) -> io::Result<()> {
    if term.backend_mut().size_check_due(SIZE_CHECK) {
        term.autoresize()?;
    }
    let area = term.current_buffer_mut().area;
    let kept = term.backend().holds_frame(area);
    let mut frame = term.get_frame();
    let (clean, moved) = render(&mut frame, kept);
    // The buffer stays the terminal's (the next frame draws into it again).
    let buf = std::mem::take(term.current_buffer_mut());
    let written = term.backend_mut().draw_frame_moved(&buf, &clean, moved);
    *term.current_buffer_mut() = buf;
    written?;
    // The views draw their own cursor (a styled cell): the terminal's stays hidden, as
    // `Terminal::draw` leaves it for a frame that sets no cursor position.
    term.hide_cursor()?;
    Backend::flush(term.backend_mut())
}

/// The latest snapshot given to the saver, per file, so a panic can still write it.
static LAST_SNAPSHOT: Mutex<Vec<(PathBuf, Arc<Conversation>)>> = Mutex::new(Vec::new());
/// Keyboard enhancement flags are pushed now (popped on restore).
static ENHANCED_KEYS: AtomicBool = AtomicBool::new(false);
/// The terminal reported keyboard enhancement at start (pushed again on resume).
static SUPPORTS_ENHANCED_KEYS: AtomicBool = AtomicBool::new(false);

/// Remember `conversation` as the latest snapshot for `path` (for the panic hook).
pub fn remember_snapshot(path: &PathBuf, conversation: &Arc<Conversation>) {
    if let Ok(mut g) = LAST_SNAPSHOT.lock() {
        g.retain(|(p, _)| p != path);
        g.push((path.clone(), conversation.clone()));
    }
}

/// The saver wrote `conversation` to `path`: the panic hook has nothing left to write there
/// unless a newer snapshot came meanwhile (then that one stays). Without this every file
/// saved during a session kept its last snapshot to the end: a soak of 200 conversations
/// grew by ~2 MB a minute (docs/soak.md, run 4).
pub fn forget_snapshot(path: &Path, conversation: &Arc<Conversation>) {
    if let Ok(mut g) = LAST_SNAPSHOT.lock() {
        g.retain(|(p, c)| !(p == path && Arc::ptr_eq(c, conversation)));
    }
}

/// Whether the panic hook would write `path` (a snapshot of it is not yet written).
#[cfg(test)]
pub fn holds_snapshot(path: &Path) -> bool {
    LAST_SNAPSHOT
        .lock()
        .map(|g| g.iter().any(|(p, _)| p == path))
        .unwrap_or(false)
}

/// Write the last snapshot of `path` from the panic hook, with the same care as any save
/// (the lock, the check against what this process last wrote there). When the saver is in
/// the middle of a write, wait for it a little.
fn save_snapshot(path: &Path, conv: &Conversation) {
    let Some(claims) = crate::runtime::claims::global() else {
        return;
    };
    for _ in 0..100 {
        match claims.try_lock() {
            Ok(mut c) => {
                if !c.was_released(path) {
                    let _ = c.save(conv, path, false, false);
                }
                return;
            }
            Err(std::sync::TryLockError::Poisoned(p)) => {
                let mut c = p.into_inner();
                if !c.was_released(path) {
                    let _ = c.save(conv, path, false, false);
                }
                return;
            }
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

/// Raw mode, the alternate screen, bracketed paste, mouse, and (where the terminal reports
/// it) keyboard enhancement so Shift+Enter can be told from Enter. `background` is asked for
/// first, before anything reads the terminal's input (the theme's `auto`).
///
/// One round trip to the terminal before the first frame: the background colour (OSC 11,
/// when asked for) and the keyboard enhancement flags (`CSI ? u`) are asked together,
/// ended by a DA1 request every terminal answers. The screen is cleared without asking
/// where the cursor is (ratatui's `Terminal::clear` does: another round trip).
pub fn init(query_background: bool) -> io::Result<(Term, Option<Background>)> {
    terminal::enable_raw_mode()?;
    let answers = query_terminal(query_background, QUERY_TIMEOUT);
    let background = answers
        .as_deref()
        .filter(|_| query_background)
        .and_then(parse_osc11);
    let enhanced = match &answers {
        Some(a) => keyboard_flags_answered(a),
        // No /dev/tty to ask through: crossterm's own query.
        None => matches!(terminal::supports_keyboard_enhancement(), Ok(true)),
    };
    SUPPORTS_ENHANCED_KEYS.store(enhanced, Ordering::Relaxed);
    enter_screen()?;
    let mut t = Terminal::new(ScreenBackend::new(io::stdout()))?;
    // A fresh terminal's buffers are blank already: only the screen needs clearing — through
    // the backend (which then knows the screen is blank), without `Terminal::clear`'s question
    // to the terminal about where the cursor is.
    let b = t.backend_mut();
    b.clear()?;
    b.set_cursor_position(Position::ORIGIN)?;
    Backend::flush(b)?;
    Ok((t, background))
}

/// The alternate screen, bracketed paste, mouse and keyboard enhancement (raw mode is on).
fn enter_screen() -> io::Result<()> {
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableBracketedPaste,
        EnableMouseCapture
    )?;
    if SUPPORTS_ENHANCED_KEYS.load(Ordering::Relaxed) {
        execute!(
            out,
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )?;
        ENHANCED_KEYS.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Take the terminal back after [`restore`] (back from the editor or from a suspension):
/// raw mode, the alternate screen and the rest, and a full redraw on the next frame.
pub fn resume(term: &mut Term) -> io::Result<()> {
    terminal::enable_raw_mode()?;
    enter_screen()?;
    term.clear()
}

/// True when the terminal is gone (hung up: its window closed, its pty's other end
/// released): asking it its size fails. Then nothing more should be written to it.
pub fn is_gone() -> bool {
    terminal::window_size().is_err()
}

/// Hand the terminal back after the loop: restored as it was — unless it is gone
/// (`hangup`), when nothing is written to it. Never fails and never prints: a terminal
/// that cannot be written to is dropped without ratatui's attempt (and complaint on
/// stderr) to show its cursor.
pub fn finish(mut term: Term, hangup: bool) {
    if !hangup && !is_gone() {
        restore();
        if term.show_cursor().is_ok() {
            return;
        }
    }
    // Leaves no raw mode behind for a terminal that may come back (a pty reused).
    let _ = terminal::disable_raw_mode();
    ENHANCED_KEYS.store(false, Ordering::Relaxed);
    std::mem::forget(term);
}

/// Put the terminal back as it was. Safe to call more than once and from a panic.
pub fn restore() {
    let mut out = io::stdout();
    if ENHANCED_KEYS.swap(false, Ordering::Relaxed) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

/// The terminal's background colour, as it reported it (OSC 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Background {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Background {
    /// Light enough that dark text reads best on it (relative luminance over one half).
    pub fn is_light(self) -> bool {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.r) + 0.7152 * lin(self.g) + 0.0722 * lin(self.b) > 0.18
    }
}

/// How long to wait for the terminal to answer the start-up queries (it answers DA1 at
/// once; this is for one that never does).
const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

/// Ask the terminal, in one write, for its background colour (OSC 11, when `background`)
/// and its keyboard enhancement flags (`CSI ? u`), followed by a primary device attributes
/// request (DA1) that every terminal answers, so one that knows neither query is found out
/// at once instead of after the timeout. Read straight from the terminal (raw mode is on;
/// nothing else reads it yet). The bytes it answered, or `None` when there is no terminal
/// to ask.
fn query_terminal(background: bool, timeout: std::time::Duration) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::time::Instant;

    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let mut ask: Vec<u8> = Vec::new();
    if background {
        ask.extend_from_slice(b"\x1b]11;?\x1b\\");
    }
    ask.extend_from_slice(b"\x1b[?u\x1b[c");
    tty.write_all(&ask).ok()?;
    tty.flush().ok()?;
    let deadline = Instant::now() + timeout;
    let mut got: Vec<u8> = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Ok(ts) = rustix::event::Timespec::try_from(left) else {
            break;
        };
        let fd = tty.as_fd();
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e == rustix::io::Errno::INTR => continue,
            Err(_) => break,
        }
        match tty.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if answered_da1(&got) || got.len() > 4096 {
            break;
        }
    }
    Some(got)
}

/// True when `bytes` hold an answer to `CSI ? u` (`ESC [ ? flags u`): the terminal
/// supports keyboard enhancement (crossterm's test, made here in the same round trip).
fn keyboard_flags_answered(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = bytes[i..].windows(3).position(|w| w == b"\x1b[?") {
        let start = i + p + 3;
        let tail = &bytes[start..];
        match tail.iter().position(|b| !b.is_ascii_digit()) {
            Some(k) if tail[k] == b'u' => return true,
            Some(_) => i = start,
            None => return false,
        }
    }
    false
}

/// True once `bytes` hold a DA1 answer (`ESC [ ? … c`): the terminal answered in order, so
/// an OSC 11 answer would have come before it.
fn answered_da1(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = bytes[i..].windows(3).position(|w| w == b"\x1b[?") {
        let start = i + p + 3;
        let tail = &bytes[start..];
        match tail
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b';'))
        {
            Some(k) if tail[k] == b'c' => return true,
            Some(_) => i = start,
            None => return false,
        }
    }
    false
}

/// The colour in an OSC 11 answer: `ESC ] 11 ; rgb:RRRR/GGGG/BBBB` ended by BEL or ST, with
/// 1 to 4 hex digits per component.
pub fn parse_osc11(bytes: &[u8]) -> Option<Background> {
    let text = String::from_utf8_lossy(bytes);
    let start = text.find("\x1b]11;")? + 5;
    let body = &text[start..];
    let end = body.find(['\x07', '\x1b']).unwrap_or(body.len());
    let spec = body[..end].trim();
    let spec = spec
        .strip_prefix("rgb:")
        .or_else(|| spec.strip_prefix("rgba:"))?;
    let mut parts = spec.split('/');
    let mut comp = || -> Option<u8> {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 4 {
            return None;
        }
        let v = u32::from_str_radix(p, 16).ok()?;
        let max = (1u32 << (4 * p.len() as u32)) - 1;
        u8::try_from(v * 255 / max).ok()
    };
    Some(Background {
        r: comp()?,
        g: comp()?,
        b: comp()?,
    })
}

/// `COLORFGBG` (rxvt, Konsole, some others): `FG;BG` in palette numbers; 7 and 15 (and 9
/// to 14) are light backgrounds. `None` when unset or unreadable.
pub fn colorfgbg_is_light(value: Option<&str>) -> Option<bool> {
    let bg: u8 = value?.rsplit(';').next()?.trim().parse().ok()?;
    Some(matches!(bg, 7 | 9..=15))
}

/// On panic: restore the terminal, write the last transcript snapshots and a crash report,
/// then let the default hook print the message on the normal screen.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // The system clipboard's thread catches its own panics and reports a failed copy:
        // the app goes on, with its terminal as it is.
        if std::thread::current().name() == Some(crate::runtime::clipboard::THREAD_NAME) {
            return;
        }
        // Nor does the highlighter's warm-up (`ui::markdown::warm_code`): its work is
        // only done early, the screen's own highlighting does it again if it must.
        if std::thread::current().name() == Some(crate::ui::markdown::WARM_THREAD) {
            return;
        }
        let gone = is_gone();
        if !gone {
            restore();
        }
        if let Ok(mut guard) = LAST_SNAPSHOT.try_lock() {
            for (path, conv) in guard.drain(..) {
                save_snapshot(&path, &conv);
            }
        }
        let report = crate::crash::write_report(info);
        if gone {
            // Nobody to tell: printing to a closed terminal would fail (and panic again).
            return;
        }
        if let Some(path) = report {
            let _ = writeln!(
                io::stderr(),
                "chat-tui crashed; a report was written to {}",
                path.display()
            );
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc11_answers_parse_with_either_terminator_and_any_digit_count() {
        let white = Background {
            r: 255,
            g: 255,
            b: 255,
        };
        assert_eq!(
            parse_osc11(b"\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[?62;22c"),
            Some(white)
        );
        assert_eq!(parse_osc11(b"\x1b]11;rgb:ff/ff/ff\x07"), Some(white));
        assert_eq!(
            parse_osc11(b"\x1b]11;rgb:0/8/f\x07"),
            Some(Background {
                r: 0,
                g: 136,
                b: 255
            })
        );
        assert_eq!(
            parse_osc11(b"\x1b]11;rgb:1e1e/1e1e/2e2e\x1b\\"),
            Some(Background {
                r: 30,
                g: 30,
                b: 46
            })
        );
        // No answer (only the DA1 sentinel), or nonsense.
        assert_eq!(parse_osc11(b"\x1b[?1;2c"), None);
        assert_eq!(parse_osc11(b"\x1b]11;rgb:zz/00/00\x07"), None);
        assert_eq!(parse_osc11(b"\x1b]11;rgb:00/00\x07"), None);
    }

    #[test]
    fn the_keyboard_flags_answer_is_told_from_da1() {
        // kitty, foot, WezTerm: the flags (here 0) before the DA1 answer.
        assert!(keyboard_flags_answered(
            b"\x1b]11;rgb:0/0/0\x07\x1b[?0u\x1b[?62;22c"
        ));
        assert!(keyboard_flags_answered(b"\x1b[?31u\x1b[?1;2c"));
        // xterm, tmux without it: only DA1 (and maybe the colour).
        assert!(!keyboard_flags_answered(b"\x1b[?62;22c"));
        assert!(!keyboard_flags_answered(
            b"\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[?1;2c"
        ));
        assert!(!keyboard_flags_answered(b""));
    }

    #[test]
    fn the_da1_sentinel_is_recognised() {
        assert!(answered_da1(b"\x1b]11;rgb:0/0/0\x07\x1b[?62;22c"));
        assert!(answered_da1(b"\x1b[?1;2c"));
        assert!(!answered_da1(b"\x1b[?1;2"));
        assert!(!answered_da1(b"\x1b]11;rgb:0/0/0\x07"));
    }

    #[test]
    fn light_and_dark_backgrounds() {
        let bg = |r, g, b| Background { r, g, b }.is_light();
        assert!(bg(255, 255, 255));
        assert!(bg(0xfd, 0xf6, 0xe3)); // Solarized light
        assert!(!bg(0, 0, 0));
        assert!(!bg(0x00, 0x2b, 0x36)); // Solarized dark
        assert!(!bg(0x28, 0x2c, 0x34));
        assert_eq!(colorfgbg_is_light(Some("0;15")), Some(true));
        assert_eq!(colorfgbg_is_light(Some("15;default;0")), Some(false));
        assert_eq!(colorfgbg_is_light(Some("garbage")), None);
        assert_eq!(colorfgbg_is_light(None), None);
    }
}
