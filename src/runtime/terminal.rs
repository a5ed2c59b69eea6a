//! The terminal: raw mode and the alternate screen on the way in, everything put back on
//! the way out — after a normal quit, an error or a panic.

use std::io::{self, Stdout, Write};
use std::path::PathBuf;
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

/// Raw mode, the alternate screen (cleared), bracketed paste and mouse. Nothing here waits
/// for the terminal to answer: the screen is cleared without asking where the cursor is
/// (ratatui's `clear` does), and keyboard enhancement is asked for after the first frame
/// ([`enhance_keys`]).
pub fn init() -> io::Result<Term> {
    terminal::enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        terminal::Clear(terminal::ClearType::All),
        EnableBracketedPaste,
        EnableMouseCapture
    )?;
    Terminal::new(CrosstermBackend::new(out))
}

/// Where the terminal reports it, keyboard enhancement, so Shift+Enter can be told from
/// Enter. Asks the terminal and waits for its answer (a round trip through the terminal):
/// called once the first frame is on screen.
pub fn enhance_keys() -> io::Result<()> {
    if matches!(terminal::supports_keyboard_enhancement(), Ok(true)) {
        execute!(
            io::stdout(),
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )?;
        ENHANCED_KEYS.store(true, Ordering::Relaxed);
    }
    Ok(())
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
        restore();
        if let Ok(mut guard) = LAST_SNAPSHOT.try_lock() {
            for (path, conv) in guard.drain(..) {
                let _ =
                    crate::store::save::write_atomic(&path, &crate::store::format::to_json(&conv));
            }
        }
        if let Some(path) = crate::crash::write_report(info) {
            eprintln!(
                "chat-tui crashed; a report was written to {}",
                path.display()
            );
        }
        previous(info);
    }));
}
