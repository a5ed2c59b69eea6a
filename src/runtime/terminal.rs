//! The terminal: raw mode and the alternate screen on the way in, everything put back on
//! the way out — after a normal quit, an error or a panic.

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
use ratatui::backend::CrosstermBackend;

use crate::chat::conversation::Conversation;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// The latest snapshot given to the saver, per file, so a panic can still write it.
static LAST_SNAPSHOT: Mutex<Vec<(PathBuf, Arc<Conversation>)>> = Mutex::new(Vec::new());
static ENHANCED_KEYS: AtomicBool = AtomicBool::new(false);

/// Remember `conversation` as the latest snapshot for `path` (for the panic hook).
pub fn remember_snapshot(path: &PathBuf, conversation: &Arc<Conversation>) {
    if let Ok(mut g) = LAST_SNAPSHOT.lock() {
        g.retain(|(p, _)| p != path);
        g.push((path.clone(), conversation.clone()));
    }
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
/// it) keyboard enhancement so Shift+Enter can be told from Enter.
pub fn init() -> io::Result<Term> {
    terminal::enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableBracketedPaste,
        EnableMouseCapture
    )?;
    if matches!(terminal::supports_keyboard_enhancement(), Ok(true)) {
        execute!(
            out,
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )?;
        ENHANCED_KEYS.store(true, Ordering::Relaxed);
    }
    let mut t = Terminal::new(CrosstermBackend::new(out))?;
    t.clear()?;
    Ok(t)
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
