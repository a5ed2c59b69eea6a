//! Whose conversation this is on disk, and what gets written: the choice offered when
//! another chat-tui writes the conversation being opened (read-only, or continue in a
//! copy), the read-only mode, saves the runtime moved to a new file, `/save` onto another
//! file (asks first), and quitting (writes only a conversation that changed; never an empty
//! one). The runtime does the locking and the checks; this is what the app makes of them.

use std::hash::Hasher;
use std::path::PathBuf;
use std::sync::Arc;

use crate::action::{Action, Effect};
use crate::app::{App, NoticeKind, Overlay};
use crate::chat::conversation::{Conversation, Speaker, title_from};
use crate::store::lock::Holder;

/// The conversation is open read-only: another chat-tui writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOnly {
    pub holder: Holder,
    pub path: PathBuf,
}

/// What the conversation was when last handed to the saver, or when opened.
#[derive(Clone, Debug, Default)]
enum Baseline {
    #[default]
    Unknown,
    /// A hash of the conversation as opened (no copy of a large conversation is kept).
    Hash(u64),
    /// Opened at start, not hashed yet: it is before the first event is handled (the hash
    /// of a long conversation costs milliseconds the first frame does not wait for).
    Opening,
    /// The snapshot last given to the saver (shared with it).
    Snapshot(Arc<Conversation>),
}

/// The app's side of keeping conversations safe on disk.
#[derive(Clone, Debug, Default)]
pub struct Custody {
    /// Set while the conversation is open read-only.
    pub read_only: Option<ReadOnly>,
    /// The library folder, whatever the conversation's targets are.
    pub library: Option<PathBuf>,
    /// Files this session's saves were moved away from, and where they went (told again
    /// on the way out).
    pub moved: Vec<(PathBuf, PathBuf)>,
    baseline: Baseline,
}

impl Custody {
    /// Nothing held yet; `library`: the library folder (where the autosave files live).
    pub fn new(library: Option<PathBuf>) -> Self {
        Custody {
            library,
            ..Custody::default()
        }
    }

    /// Remember `conv` as it is now: opened (a hash) or saved (the snapshot).
    pub fn opened(&mut self, conv: &Conversation) {
        self.baseline = Baseline::Hash(hash(conv));
    }

    /// Opened at start: the conversation is hashed by [`Custody::settle`], once the first
    /// frame is drawn and before anything can change it.
    pub fn opening(&mut self) {
        self.baseline = Baseline::Opening;
    }

    /// Take the hash put off by [`Custody::opening`] (`conv` is still as opened).
    pub fn settle(&mut self, conv: &Conversation) {
        if matches!(self.baseline, Baseline::Opening) {
            self.opened(conv);
        }
    }

    pub fn saved(&mut self, snapshot: &Arc<Conversation>) {
        self.baseline = Baseline::Snapshot(snapshot.clone());
    }

    /// Has `conv` changed since it was opened or last saved?
    pub fn changed(&self, conv: &Conversation) -> bool {
        match &self.baseline {
            Baseline::Unknown => true,
            // Nothing was handled since it was opened (`settle` runs before any event).
            Baseline::Opening => false,
            Baseline::Hash(h) => hash(conv) != *h,
            Baseline::Snapshot(s) => **s != *conv,
        }
    }
}

/// A hash of everything a transcript keeps of `conv`.
fn hash(conv: &Conversation) -> u64 {
    struct HashWriter(std::hash::DefaultHasher);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = HashWriter(std::hash::DefaultHasher::new());
    // Serialising into a hasher cannot fail; if it did, the hash would differ: a save.
    let _ = serde_json::to_writer(&mut w, conv);
    w.0.finish()
}

/// The panel offered when the conversation being opened is written by another chat-tui
/// (or, with `conv: None`, when sending in a read-only conversation).
#[derive(Clone, Debug, PartialEq)]
pub struct HeldPanel {
    /// The file asked for.
    pub path: PathBuf,
    pub holder: Holder,
    /// The conversation read, not yet shown (`None`: the one on screen, read-only).
    pub conv: Option<Box<Conversation>>,
    /// A line above the choice ("not sent: …").
    pub note: Option<String>,
}

/// Offer the choice for `conv`, read from `path`, which `holder` writes.
pub fn offer(app: &mut App, path: PathBuf, holder: Holder, conv: Conversation) {
    app.overlay = Some(Overlay::Held(HeldPanel {
        path,
        holder,
        conv: Some(Box::new(conv)),
        note: None,
    }));
    app.dirty = true;
}

/// Sending (or anything that asks the server) in a read-only conversation: refused, with
/// the choice offered again. True when refused.
pub fn refuse_if_read_only(app: &mut App, what: &str) -> bool {
    let Some(ro) = app.custody.read_only.clone() else {
        return false;
    };
    let note = format!(
        "not {what}: this conversation is read-only — {} writes it",
        ro.holder.describe()
    );
    app.notify(NoticeKind::Warning, note.clone());
    app.overlay = Some(Overlay::Held(HeldPanel {
        path: ro.path,
        holder: ro.holder,
        conv: None,
        note: Some(note),
    }));
    true
}

/// An action in the panel.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    let Some(Overlay::Held(panel)) = app.overlay.take() else {
        return Vec::new();
    };
    match a {
        Action::ReadOnly => match panel.conv {
            Some(conv) => {
                let fx = app.load_conversation(*conv, Some(panel.path.clone()));
                app.custody.read_only = Some(ReadOnly {
                    holder: panel.holder.clone(),
                    path: panel.path.clone(),
                });
                // Nothing is written for it (`save_effect` checks): its files are the
                // other chat-tui's.
                app.notify(
                    NoticeKind::Warning,
                    format!(
                        "opened {} read-only ({} writes it)",
                        panel.path.display(),
                        panel.holder.describe()
                    ),
                );
                fx
            }
            None => Vec::new(),
        },
        Action::ContinueInCopy => {
            let conv = match panel.conv {
                Some(c) => *c,
                None => app.conv.clone(),
            };
            continue_in_copy(app, conv)
        }
        Action::Close | Action::No => {
            if panel.conv.is_some() {
                app.notify(
                    NoticeKind::Info,
                    format!("{} was not opened", panel.path.display()),
                );
            }
            Vec::new()
        }
        _ => {
            // Other keys leave the panel up.
            app.overlay = Some(Overlay::Held(panel));
            Vec::new()
        }
    }
}

/// A new conversation with `conv`'s messages and settings, titled "… (copy)", saved at
/// once in the library.
pub fn continue_in_copy(app: &mut App, conv: Conversation) -> Vec<Effect> {
    let mut copy = conv;
    let base = if copy.title.trim().is_empty() {
        copy.messages
            .iter()
            .find(|m| m.speaker == Speaker::User)
            .map(|m| title_from(&m.content))
            .unwrap_or_else(|| "Untitled".into())
    } else {
        copy.title.trim().to_string()
    };
    copy.id = crate::chat::conversation::new_id();
    copy.title = format!("{base} (copy)");
    let now = chrono::Utc::now();
    copy.created = now;
    copy.updated = now;
    let mut fx = app.load_conversation(copy, None);
    app.custody.read_only = None;
    fx.extend(app.save_effect());
    let where_ = app
        .save
        .autosave
        .as_ref()
        .map(|p| format!(": {}", p.display()))
        .unwrap_or_else(|| " (not saved: no data directory; /save PATH works)".into());
    app.notify(NoticeKind::Info, format!("continuing in a copy{where_}"));
    fx
}

/// The runtime moved this conversation's saves from `from` to `to`.
pub fn moved(app: &mut App, from: PathBuf, to: PathBuf, new_id: Option<String>, reason: String) {
    let mut ours = false;
    if app.save.autosave.as_ref() == Some(&from) {
        app.save.autosave = Some(to.clone());
        ours = true;
    }
    if app.save.file.as_ref() == Some(&from) {
        app.save.file = Some(to.clone());
        ours = true;
    }
    if ours && let Some(id) = new_id {
        app.conv.id = id;
    }
    // Short enough for the status line: the new file's name alone when it is beside the
    // old one (the full paths are said again on the way out).
    let name = |p: &PathBuf| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    let to_shown = if from.parent() == to.parent() {
        name(&to)
    } else {
        to.display().to_string()
    };
    app.notify(
        NoticeKind::Warning,
        format!(
            "not overwritten: {} — {reason}; {} saved to {to_shown} from now on",
            name(&from),
            if ours {
                "this conversation is"
            } else {
                "the last conversation was"
            },
        ),
    );
    app.custody.moved.push((from, to));
}

/// `/save PATH` found another file at `path`: ask before replacing it.
pub fn ask_replace(app: &mut App, path: PathBuf, what: String) {
    app.overlay = Some(Overlay::Replace { path, what });
    app.dirty = true;
}

/// The answer to "replace it?".
pub fn on_replace(app: &mut App, a: Action) -> Vec<Effect> {
    let Some(Overlay::Replace { path, .. }) = app.overlay.take() else {
        return Vec::new();
    };
    if a != Action::Yes {
        app.notify(
            NoticeKind::Info,
            format!("not saved: {} was left as it is", path.display()),
        );
        return Vec::new();
    }
    let snapshot = Arc::new(app.conv.clone());
    vec![Effect::Save {
        conversation: snapshot,
        path,
        explicit: true,
        markdown: false,
        replace: true,
    }]
}

/// An explicit JSON save succeeded at `path`: the conversation is kept there from now on.
pub fn saved_as(app: &mut App, path: PathBuf) -> Vec<Effect> {
    if app.save.file.as_ref() == Some(&path) || app.save.autosave.as_ref() == Some(&path) {
        return Vec::new();
    }
    let old = app.save.file.replace(path);
    match old {
        Some(old) => vec![Effect::Release { paths: vec![old] }],
        None => Vec::new(),
    }
}

/// What to tell on the normal screen after quitting (files the conversation moved to).
pub fn exit_notes(app: &App) -> Vec<String> {
    app.custody
        .moved
        .iter()
        .map(|(from, to)| {
            format!(
                "{} changed or was taken while chat-tui had it open: it was left as it is, and the conversation was saved to {}",
                from.display(),
                to.display()
            )
        })
        .collect()
}
