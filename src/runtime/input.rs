//! Reading the terminal: a thread turns crossterm's events into a channel the loop awaits,
//! and can be paused so that another program (the external editor, the shell after Ctrl+Z)
//! gets every byte typed while it runs.
//!
//! crossterm's own `EventStream` cannot be paused: its helper thread may sit in a blocking
//! read of the terminal and eat the editor's input. This reader polls with a short timeout
//! and, when asked to pause, parks between two polls and says so before the terminal is
//! handed over.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crossterm::event::{self, Event};
use tokio::sync::mpsc;

/// How long one poll waits: the longest a pause waits for the reader to park. Input itself
/// is read as soon as it arrives.
const POLL: Duration = Duration::from_millis(50);

#[derive(Default)]
struct State {
    /// Asked to stop reading.
    paused: bool,
    /// The reader is parked (reads nothing until resumed).
    parked: bool,
    /// The loop is gone: the reader ends.
    stop: bool,
}

#[derive(Default)]
struct Control {
    state: Mutex<State>,
    changed: Condvar,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The terminal's events, read on a thread of their own.
pub struct Input {
    rx: mpsc::UnboundedReceiver<io::Result<Event>>,
    control: Arc<Control>,
}

impl Input {
    /// Start reading.
    pub fn start() -> Input {
        let (tx, rx) = mpsc::unbounded_channel();
        let control = Arc::new(Control::default());
        let (c, t) = (control.clone(), tx.clone());
        if let Err(e) = std::thread::Builder::new()
            .name("terminal-input".into())
            .spawn(move || read_loop(&c, &t))
        {
            // No reader: the loop hears why from the channel it reads.
            let _ = tx.send(Err(e));
        }
        Input { rx, control }
    }

    /// The next event (`None` once the reader has ended).
    pub async fn next(&mut self) -> Option<io::Result<Event>> {
        self.rx.recv().await
    }

    /// Stop reading the terminal; returns once the reader is parked (within one poll).
    pub fn pause(&self) {
        let mut st = self.control.lock();
        st.paused = true;
        while !st.parked && !st.stop {
            st = self
                .control
                .changed
                .wait_timeout(st, POLL * 4)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Read the terminal again.
    pub fn resume(&self) {
        let mut st = self.control.lock();
        st.paused = false;
        self.control.changed.notify_all();
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        let mut st = self.control.lock();
        st.stop = true;
        st.paused = false;
        self.control.changed.notify_all();
    }
}

fn read_loop(control: &Control, tx: &mpsc::UnboundedSender<io::Result<Event>>) {
    loop {
        {
            let mut st = control.lock();
            while st.paused && !st.stop {
                st.parked = true;
                control.changed.notify_all();
                st = control
                    .changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            st.parked = false;
            if st.stop {
                return;
            }
        }
        let ev = match event::poll(POLL) {
            Ok(true) => event::read(),
            Ok(false) => continue,
            Err(e) => Err(e),
        };
        let failed = ev.is_err();
        if tx.send(ev).is_err() || failed {
            // The loop is gone, or the terminal cannot be read: nothing more to do.
            let mut st = control.lock();
            st.stop = true;
            control.changed.notify_all();
            return;
        }
    }
}
