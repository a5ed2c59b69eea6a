//! The saved-conversations browser (`/sessions`, Ctrl+O): its state, and what its actions
//! ask for. Listing, searching, opening, renaming, deleting and exporting are effects: the
//! browser never waits on the disk, and typing in its filter never blocks.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::{Action, Effect};
use crate::app::{App, NoticeKind, Overlay};
use crate::store::library::Entry;

/// What the browser is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionsMode {
    Browse,
    /// A new title being typed.
    Rename(String),
    /// Asking before deleting the selected conversation.
    ConfirmDelete,
}

/// The browser's state.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionsPane {
    /// The library folder.
    pub dir: PathBuf,
    pub filter: String,
    pub entries: Vec<Entry>,
    pub selected: usize,
    pub mode: SessionsMode,
    pub message: Option<String>,
    /// A listing or search is under way (its results replace `entries`).
    pub loading: bool,
    /// The generation of the latest listing asked for; older results are dropped.
    generation: u64,
}

impl SessionsPane {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            filter: String::new(),
            entries: Vec::new(),
            selected: 0,
            mode: SessionsMode::Browse,
            message: None,
            loading: false,
            generation: 0,
        }
    }

    pub fn current(&self) -> Option<&Entry> {
        self.entries.get(self.selected)
    }

    /// List (or search, with a filter) again.
    fn refresh(&mut self) -> Effect {
        self.generation += 1;
        self.loading = true;
        let q = self.filter.trim();
        Effect::ListSessions {
            dir: self.dir.clone(),
            query: (!q.is_empty()).then(|| q.to_string()),
            generation: self.generation,
        }
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.entries.len().saturating_sub(1));
    }
}

/// Open the browser (it lists the library in the background).
pub fn open(app: &mut App) -> Vec<Effect> {
    let Some(dir) = app.save.library() else {
        app.notify(
            NoticeKind::Error,
            "no data directory: conversations are not being saved",
        );
        return Vec::new();
    };
    let mut pane = SessionsPane::new(dir);
    let fx = pane.refresh();
    app.overlay = Some(Overlay::Sessions(pane));
    vec![fx]
}

fn pane(app: &mut App) -> Option<&mut SessionsPane> {
    match app.overlay.as_mut() {
        Some(Overlay::Sessions(s)) => Some(s),
        _ => None,
    }
}

/// An action while the browser is open.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    let open_id = app.conv.id.clone();
    // The files this process writes for the open conversation.
    let ours = if app.custody.read_only.is_some() {
        Vec::new()
    } else {
        app.save_paths()
    };
    let Some(s) = pane(app) else {
        return Vec::new();
    };
    match s.mode.clone() {
        SessionsMode::Rename(buf) => {
            let mut rename_open = None;
            match a {
                Action::Apply => {
                    let title = buf.trim().to_string();
                    s.mode = SessionsMode::Browse;
                    if title.is_empty() {
                        s.message = Some("a title cannot be empty".into());
                    } else if let Some(e) = s.current() {
                        if !ours.contains(&e.path) {
                            return vec![Effect::RenameSession {
                                dir: s.dir.clone(),
                                id: e.id.clone(),
                                title,
                            }];
                        }
                        // The open conversation: renamed here and saved like any change
                        // (its file is this process's to write).
                        let i = s.selected;
                        if let Some(entry) = s.entries.get_mut(i) {
                            entry.title = title.clone();
                        }
                        s.message = Some(format!("renamed to {title}"));
                        rename_open = Some(title);
                    }
                }
                Action::Close => s.mode = SessionsMode::Browse,
                _ => {}
            }
            if let Some(title) = rename_open {
                app.conv.title = title;
                app.dirty = true;
                return app.save_effect();
            }
            return Vec::new();
        }
        SessionsMode::ConfirmDelete => {
            s.mode = SessionsMode::Browse;
            if a != Action::Yes {
                s.message = Some("not deleted".into());
                return Vec::new();
            }
            let Some(e) = s.current().cloned() else {
                return Vec::new();
            };
            if e.id == open_id {
                s.message = Some("that is the open conversation: /new first".into());
                return Vec::new();
            }
            return vec![Effect::DeleteSession {
                dir: s.dir.clone(),
                id: e.id,
                title: e.title,
            }];
        }
        SessionsMode::Browse => {}
    }
    let last = s.entries.len().saturating_sub(1);
    match a {
        Action::Close => app.overlay = None,
        Action::SelectPrev => s.selected = s.selected.saturating_sub(1),
        Action::SelectNext => s.selected = (s.selected + 1).min(last),
        Action::PageUp => s.selected = s.selected.saturating_sub(10),
        Action::PageDown => s.selected = (s.selected + 10).min(last),
        Action::Accept => {
            if let Some(e) = s.current().cloned() {
                if let Some(reason) = &e.broken {
                    s.message = Some(format!("cannot open {}: {reason}", e.path.display()));
                } else {
                    app.overlay = None;
                    return vec![Effect::Open { path: e.path }];
                }
            }
        }
        Action::Rename => {
            if let Some(e) = s.current() {
                s.mode = SessionsMode::Rename(e.title.clone());
            }
        }
        Action::Delete if s.current().is_some() => s.mode = SessionsMode::ConfirmDelete,
        Action::Export => {
            if let Some(e) = s.current().cloned() {
                if let Some(reason) = &e.broken {
                    s.message = Some(format!("cannot export {}: {reason}", e.path.display()));
                } else {
                    let out = PathBuf::from(format!("chat-{}.md", &e.id[..e.id.len().min(12)]));
                    app.overlay = None;
                    app.notify(NoticeKind::Info, format!("exporting to {}", out.display()));
                    return vec![Effect::ExportFile {
                        source: e.path,
                        out,
                    }];
                }
            }
        }
        _ => {}
    }
    Vec::new()
}

/// Typing: the filter (or the new title).
pub fn on_text(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(s) = pane(app) else {
        return Vec::new();
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match &mut s.mode {
        SessionsMode::Rename(buf) => {
            match key.code {
                KeyCode::Backspace => {
                    buf.pop();
                }
                KeyCode::Char(c) if !ctrl => buf.push(c),
                _ => {}
            }
            Vec::new()
        }
        // Any other key answers no.
        SessionsMode::ConfirmDelete => on_action(app, Action::No),
        SessionsMode::Browse => match key.code {
            KeyCode::Backspace => {
                s.filter.pop();
                vec![s.refresh()]
            }
            KeyCode::Char(c) if !ctrl => {
                s.filter.push(c);
                s.selected = 0;
                vec![s.refresh()]
            }
            _ => Vec::new(),
        },
    }
}

/// A listing or search came back (or its first matches: `partial`, more follow).
pub fn listed(app: &mut App, generation: u64, result: Result<Vec<Entry>, String>, partial: bool) {
    let Some(s) = pane(app) else {
        return;
    };
    if generation != s.generation {
        return; // superseded by a newer filter
    }
    s.loading = partial;
    match result {
        Ok(entries) => s.entries = entries,
        Err(e) => {
            s.loading = false;
            s.message = Some(e);
        }
    }
    s.clamp();
    app.dirty = true;
}

/// More matches of the search under way: merged in newest-first order, the selection
/// staying on the conversation it was on.
pub fn more(app: &mut App, generation: u64, entries: Vec<Entry>, partial: bool) {
    let Some(s) = pane(app) else {
        return;
    };
    if generation != s.generation {
        return;
    }
    s.loading = partial;
    if !entries.is_empty() {
        let selected = s.current().map(|e| e.path.clone());
        let old = std::mem::take(&mut s.entries);
        s.entries = merge_newest_first(old, entries);
        if let Some(p) = selected {
            s.selected = s.entries.iter().position(|e| e.path == p).unwrap_or(0);
        }
    }
    s.clamp();
    app.dirty = true;
}

/// Two lists sorted newest first (then by id, descending) merged into one.
fn merge_newest_first(a: Vec<Entry>, b: Vec<Entry>) -> Vec<Entry> {
    let key = |e: &Entry| (e.updated, e.id.clone());
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => key(x) >= key(y),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { a.next() } else { b.next() };
        out.extend(next);
    }
    out
}

pub fn renamed(
    app: &mut App,
    id: String,
    title: String,
    result: Result<(), String>,
) -> Vec<Effect> {
    if result.is_ok() && id == app.conv.id {
        app.conv.title = title.clone();
    }
    app.dirty = true;
    let Some(s) = pane(app) else {
        return Vec::new();
    };
    s.message = Some(match result {
        Ok(()) => format!("renamed to {title}"),
        Err(e) => e,
    });
    vec![s.refresh()]
}

pub fn deleted(app: &mut App, title: String, result: Result<(), String>) -> Vec<Effect> {
    app.dirty = true;
    let Some(s) = pane(app) else {
        return Vec::new();
    };
    s.message = Some(match result {
        Ok(()) => format!("deleted {title}"),
        Err(e) => e,
    });
    vec![s.refresh()]
}
