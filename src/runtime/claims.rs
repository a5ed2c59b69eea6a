//! The transcripts this process writes, and how it keeps from losing anyone's turns: the
//! lock on each file (one writer per conversation, `store::lock`), what each file was when
//! this process last read or wrote it (`store::save::Fingerprint`), and where saves go
//! instead of a file that changed underneath or that another chat-tui holds.
//!
//! Owned by the runtime and shared (behind a mutex) by the saver, the effects that open,
//! rename and delete conversations, and the panic hook. `update()` never sees it: it learns
//! the outcomes as messages (`Msg::Opened { held }`, `Msg::SaveMoved`, `Msg::SaveAsk`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::chat::conversation::Conversation;
use crate::store::library;
use crate::store::lock::{self, Holder, Lock, LockError};
use crate::store::save::{self, DiskState, Fingerprint, LoadError};

/// Claims shared between the runtime's tasks.
pub type Shared = Arc<Mutex<Claims>>;

/// The claims of this process, for the panic hook (set when the effect runner starts).
static GLOBAL: OnceLock<Shared> = OnceLock::new();

/// Make `claims` the ones the panic hook uses.
pub fn set_global(claims: &Shared) {
    let _ = GLOBAL.set(claims.clone());
}

/// The claims the panic hook uses, if set.
pub fn global() -> Option<&'static Shared> {
    GLOBAL.get()
}

/// Lock `shared`, whatever a panicking thread left behind (the data stays consistent: each
/// change is a single insert or remove).
pub fn lock(shared: &Shared) -> MutexGuard<'_, Claims> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// One file this process writes.
#[derive(Debug, Default)]
struct Claim {
    /// `None` when the lock could not be taken for a reason other than another holder
    /// (e.g. a folder we may not create files in); we then write without one.
    lock: Option<Lock>,
    lock_tried: bool,
    /// What the file was when last read or written here.
    seen: Option<Fingerprint>,
}

/// Saves for a file go to another one from now on.
#[derive(Clone, Debug)]
struct Moved {
    to: PathBuf,
    /// The conversation's id in the new file (moves within the library).
    id: Option<String>,
}

/// A transcript read for writing.
#[derive(Debug)]
pub enum Opened {
    /// Its files are ours now (locked, fingerprinted).
    Ready(Conversation),
    /// Another process writes one of its files; nothing was taken.
    Held {
        conv: Conversation,
        holder: Holder,
        path: PathBuf,
    },
}

/// What became of a save.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Written at this path (the one asked for, or where its saves go now).
    Written(PathBuf),
    /// Not written at `from`; written at `to`, where its saves go from now on.
    Moved {
        from: PathBuf,
        to: PathBuf,
        new_id: Option<String>,
        reason: String,
    },
    /// An explicit save found something else there: ask before replacing it.
    Ask(String),
    Failed(String),
}

/// What to do with a save, before writing.
enum Verdict {
    Write,
    /// Do not write here: `reason`.
    Conflict(String),
    Ask(String),
}

/// The transcripts this process writes.
#[derive(Debug, Default)]
pub struct Claims {
    /// The library folder (moves within it give the conversation a new id).
    library: Option<PathBuf>,
    files: HashMap<PathBuf, Claim>,
    moved: HashMap<PathBuf, Moved>,
    /// Files let go of (another conversation is open now): the panic hook leaves them.
    released: std::collections::HashSet<PathBuf>,
}

impl Claims {
    pub fn new(library: Option<PathBuf>) -> Self {
        Claims {
            library,
            ..Claims::default()
        }
    }

    /// The library folder.
    pub fn library(&self) -> Option<&Path> {
        self.library.as_deref()
    }

    pub fn shared(self) -> Shared {
        Arc::new(Mutex::new(self))
    }

    /// The files this process holds the lock of.
    pub fn locked(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .files
            .iter()
            .filter(|(_, c)| c.lock.is_some())
            .map(|(p, _)| p.clone())
            .collect();
        v.sort();
        v
    }

    /// Who else holds `path`, if anyone (never this process).
    pub fn other_holder(&self, path: &Path) -> Option<Holder> {
        if self.files.get(path).is_some_and(|c| c.lock.is_some()) {
            return None;
        }
        lock::holder(path)
    }

    /// Read the transcript at `path` to write it (and the other `targets` the conversation
    /// read is saved to): take their locks and remember what each file is now. When
    /// another process holds one of them, nothing is taken.
    pub fn open(
        &mut self,
        path: &Path,
        targets: impl FnOnce(&Conversation) -> Vec<PathBuf>,
    ) -> Result<Opened, LoadError> {
        let (parsed, fp) = Fingerprint::read_parsed(path, |bytes| {
            // The languages of the last screen compile while the file parses.
            crate::ui::markdown::warm_code(crate::store::format::code_near_end(bytes, 64 << 10));
            crate::store::format::parse(bytes)
        })
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let conv = parsed.map_err(|source| LoadError::Format {
            path: path.to_path_buf(),
            source,
        })?;
        let mut targets = targets(&conv);
        if !targets.iter().any(|t| t == path) {
            targets.insert(0, path.to_path_buf());
        }
        targets.dedup();
        let mut taken: Vec<(PathBuf, Option<Lock>)> = Vec::new();
        for t in &targets {
            self.released.remove(t);
            if self.files.get(t).is_some_and(|c| c.lock.is_some()) {
                continue;
            }
            match lock::acquire(t) {
                Ok(l) => taken.push((t.clone(), Some(l))),
                Err(LockError::Held(holder)) => {
                    tracing::info!(path = %t.display(), holder = ?holder.pid, "held by another process");
                    return Ok(Opened::Held {
                        conv,
                        holder,
                        path: t.clone(),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "writing without a lock");
                    taken.push((t.clone(), None));
                }
            }
        }
        for (t, l) in taken {
            tracing::debug!(path = %t.display(), locked = l.is_some(), "claimed");
            let c = self.files.entry(t).or_default();
            c.lock = l;
            c.lock_tried = true;
        }
        for t in &targets {
            // Opened again: its saves go to it again.
            self.moved.remove(t);
            let seen = if t == path {
                Some(fp)
            } else {
                Fingerprint::read(t).ok().map(|(_, fp)| fp)
            };
            if let Some(c) = self.files.get_mut(t)
                && seen.is_some()
            {
                c.seen = seen;
            }
        }
        Ok(Opened::Ready(conv))
    }

    /// Stop writing `paths` (and wherever their saves were moved to): release the locks.
    pub fn release(&mut self, paths: &[PathBuf]) {
        for p in paths {
            let mut cur = p.clone();
            for _ in 0..8 {
                self.released.insert(cur.clone());
                if self.files.remove(&cur).is_some() {
                    tracing::debug!(path = %cur.display(), "released");
                }
                match self.moved.remove(&cur) {
                    Some(m) => cur = m.to,
                    None => break,
                }
            }
        }
    }

    /// Was `path` let go of (its conversation closed)? Then a late snapshot of it (the panic
    /// hook's) is not written.
    pub fn was_released(&self, path: &Path) -> bool {
        self.released.contains(path)
    }

    /// Where saves for `path` go now, and the conversation id there (when it changed).
    fn follow(&self, path: &Path) -> (PathBuf, Option<String>) {
        let mut cur = path.to_path_buf();
        let mut id = None;
        for _ in 0..8 {
            match self.moved.get(&cur) {
                Some(m) => {
                    cur = m.to.clone();
                    if m.id.is_some() {
                        id = m.id.clone();
                    }
                }
                None => break,
            }
        }
        (cur, id)
    }

    /// Write `conv` as a transcript for `path` — there if that is safe, else to a new file
    /// beside it (see [`Outcome`]). `explicit`: the user asked (`/save`): a file that is not
    /// this conversation is not replaced without `replace`, and nothing is moved.
    pub fn save(
        &mut self,
        conv: &Conversation,
        path: &Path,
        explicit: bool,
        replace: bool,
    ) -> Outcome {
        let (target, id) = self.follow(path);
        self.released.remove(path);
        self.released.remove(&target);
        let renamed;
        let conv = match id {
            Some(id) if id != conv.id => {
                let mut c = conv.clone();
                c.id = id;
                renamed = c;
                &renamed
            }
            _ => conv,
        };
        let fresh = !self.files.contains_key(&target);
        match self.verdict(&target, conv, explicit, replace) {
            Verdict::Write => match self.write(&target, conv) {
                Ok(()) => Outcome::Written(target),
                Err(e) => Outcome::Failed(e),
            },
            Verdict::Ask(what) => {
                if fresh {
                    self.files.remove(&target);
                }
                Outcome::Ask(what)
            }
            Verdict::Conflict(reason) if explicit => {
                if fresh {
                    self.files.remove(&target);
                }
                Outcome::Failed(reason)
            }
            Verdict::Conflict(reason) => self.move_away(&target, conv, reason),
        }
    }

    fn verdict(
        &mut self,
        path: &Path,
        conv: &Conversation,
        explicit: bool,
        replace: bool,
    ) -> Verdict {
        let claim = self.files.entry(path.to_path_buf()).or_default();
        if claim.lock.is_none() && !claim.lock_tried {
            match lock::acquire(path) {
                Ok(l) => {
                    tracing::debug!(path = %path.display(), "locked");
                    claim.lock = Some(l);
                    claim.lock_tried = true;
                }
                Err(LockError::Held(h)) => {
                    tracing::info!(path = %path.display(), holder = ?h.pid, "held by another process");
                    return Verdict::Conflict(format!("{} has it open", h.describe()));
                }
                Err(e) => {
                    // Most likely the folder does not exist yet: the write creates it.
                    tracing::debug!(error = %e, "lock not taken yet");
                }
            }
        }
        let state = match &claim.seen {
            Some(fp) => fp.check(path).unwrap_or(DiskState::Same),
            None if !path.exists() => DiskState::Missing,
            None => DiskState::Changed,
        };
        match state {
            DiskState::Same => Verdict::Write,
            DiskState::Missing => {
                if claim.seen.is_some() {
                    tracing::info!(path = %path.display(), "the file was removed; writing it again");
                }
                Verdict::Write
            }
            DiskState::Changed if explicit && replace => Verdict::Write,
            DiskState::Changed if explicit => match (&claim.seen, describe_file(path)) {
                (Some(_), _) => {
                    Verdict::Ask("it changed on disk since chat-tui last wrote it".to_string())
                }
                (None, Found::Transcript { id, .. }) if id == conv.id => Verdict::Write,
                (None, found) => Verdict::Ask(found.describe()),
            },
            DiskState::Changed => Verdict::Conflict(match claim.seen {
                Some(_) => "it changed on disk (edited elsewhere?)".to_string(),
                None => "another file is already there".to_string(),
            }),
        }
    }

    /// Write `conv` at `path` (creating its folder, mode 0700) and remember the file; take
    /// its lock if that failed before because the folder was missing.
    fn write(&mut self, path: &Path, conv: &Conversation) -> Result<(), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            save::ensure_private_dir(dir).map_err(|e| e.to_string())?;
        }
        let bytes = crate::store::format::to_json(conv);
        let started = std::time::Instant::now();
        let fp = save::write_atomic_fingerprint(path, &bytes).map_err(|e| {
            tracing::warn!(path = %path.display(), error = %e, "save failed");
            e.to_string()
        })?;
        tracing::debug!(
            path = %path.display(),
            bytes = bytes.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "saved"
        );
        let claim = self.files.entry(path.to_path_buf()).or_default();
        claim.seen = Some(fp);
        if claim.lock.is_none() && !claim.lock_tried {
            claim.lock_tried = true;
            match lock::acquire(path) {
                Ok(l) => claim.lock = Some(l),
                Err(e) => tracing::warn!(error = %e, "writing without a lock"),
            }
        }
        Ok(())
    }

    /// `path` cannot be written: save to a new file beside it (in the library: a
    /// conversation of its own, with a new id), and send its saves there from now on.
    fn move_away(&mut self, path: &Path, conv: &Conversation, reason: String) -> Outcome {
        let in_library = self
            .library
            .as_ref()
            .is_some_and(|l| path.parent() == Some(l.as_path()));
        let (to, new_id) = match (&self.library, in_library) {
            (Some(lib), true) => {
                let id = crate::chat::conversation::new_id();
                (library::path_in(lib, &id), Some(id))
            }
            _ => (save::sibling_path(path, chrono::Local::now()), None),
        };
        tracing::warn!(from = %path.display(), to = %to.display(), %reason, "save moved");
        let renamed;
        let conv = match &new_id {
            Some(id) => {
                let mut c = conv.clone();
                c.id = id.clone();
                renamed = c;
                &renamed
            }
            None => conv,
        };
        // The file we no longer write is left to whoever changed or holds it.
        self.files.remove(path);
        if let Err(e) = self.write(&to, conv) {
            return Outcome::Failed(format!(
                "{} {reason}, and the new file {} could not be written: {e}",
                path.display(),
                to.display()
            ));
        }
        self.moved.insert(
            path.to_path_buf(),
            Moved {
                to: to.clone(),
                id: new_id.clone(),
            },
        );
        Outcome::Moved {
            from: path.to_path_buf(),
            to,
            new_id,
            reason,
        }
    }
}

/// What an explicit save found at its path.
enum Found {
    Transcript {
        id: String,
        title: String,
        messages: usize,
    },
    Other {
        bytes: u64,
    },
}

impl Found {
    fn describe(&self) -> String {
        match self {
            Found::Transcript {
                title, messages, ..
            } => format!(
                "another conversation (\"{}\", {messages} message{})",
                crate::text::sanitize(title),
                if *messages == 1 { "" } else { "s" }
            ),
            Found::Other { bytes } => format!("a file that is not a transcript ({bytes} bytes)"),
        }
    }
}

fn describe_file(path: &Path) -> Found {
    let bytes = std::fs::read(path).unwrap_or_default();
    match crate::store::format::parse(&bytes) {
        Ok(c) => Found::Transcript {
            messages: c.turn_messages(),
            title: c.title,
            id: c.id,
        },
        Err(_) => Found::Other {
            bytes: bytes.len() as u64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::Mode;
    use crate::chat::conversation::{Memory, Speaker};
    use std::fs;

    fn conv(text: &str) -> Conversation {
        let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
        c.push(Speaker::User, text);
        c
    }

    fn lib_targets(lib: &Path) -> impl FnOnce(&Conversation) -> Vec<PathBuf> + '_ {
        move |c| vec![library::path_in(lib, &c.id)]
    }

    fn load(p: &Path) -> Conversation {
        crate::store::format::parse(&fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn opening_takes_the_lock_and_a_second_process_sees_it_held() {
        let t = tempfile::tempdir().unwrap();
        let c = conv("hello");
        let path = library::path_in(t.path(), &c.id);
        fs::write(&path, crate::store::format::to_json(&c)).unwrap();
        let mut mine = Claims::new(Some(t.path().to_path_buf()));
        match mine.open(&path, lib_targets(t.path())).unwrap() {
            Opened::Ready(read) => assert_eq!(read.id, c.id),
            other => panic!("{other:?}"),
        }
        assert_eq!(mine.locked(), vec![path.clone()]);
        assert_eq!(mine.other_holder(&path), None, "not another holder: us");
        // Another "process" (another set of locks: flock conflicts between open files).
        let mut other = Claims::new(Some(t.path().to_path_buf()));
        match other.open(&path, lib_targets(t.path())).unwrap() {
            Opened::Held {
                holder, path: p, ..
            } => {
                assert_eq!(holder.pid, Some(std::process::id()));
                assert_eq!(p, path);
            }
            other => panic!("{other:?}"),
        }
        assert!(other.locked().is_empty(), "nothing taken");
        assert!(other.other_holder(&path).is_some());
        mine.release(std::slice::from_ref(&path));
        assert!(mine.locked().is_empty());
        assert!(lock::holder(&path).is_none());
        assert!(matches!(
            other.open(&path, lib_targets(t.path())).unwrap(),
            Opened::Ready(_)
        ));
    }

    #[test]
    fn saves_go_where_they_were_read_until_someone_else_changes_the_file() {
        let t = tempfile::tempdir().unwrap();
        let mut c = conv("hello");
        let path = library::path_in(t.path(), &c.id);
        fs::write(&path, crate::store::format::to_json(&c)).unwrap();
        let mut claims = Claims::new(Some(t.path().to_path_buf()));
        assert!(matches!(
            claims.open(&path, lib_targets(t.path())).unwrap(),
            Opened::Ready(_)
        ));
        c.push(Speaker::User, "second");
        assert_eq!(
            claims.save(&c, &path, false, false),
            Outcome::Written(path.clone())
        );
        assert_eq!(load(&path).messages.len(), 2);
        // Edited behind our back.
        let edited = b"{\"edited\": \"by hand\"}".to_vec();
        fs::write(&path, &edited).unwrap();
        c.push(Speaker::User, "third");
        let (to, id) = match claims.save(&c, &path, false, false) {
            Outcome::Moved {
                from,
                to,
                new_id: Some(id),
                reason,
            } => {
                assert_eq!(from, path);
                assert!(reason.contains("changed on disk"), "{reason}");
                (to, id)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(fs::read(&path).unwrap(), edited, "the edit is kept");
        assert_eq!(to, library::path_in(t.path(), &id));
        let moved = load(&to);
        assert_eq!(moved.id, id, "a conversation of its own in the library");
        assert_eq!(moved.messages.len(), 3);
        // From now on saves for the old path go to the new file (with the new id).
        c.push(Speaker::User, "fourth");
        assert_eq!(
            claims.save(&c, &path, false, false),
            Outcome::Written(to.clone())
        );
        assert_eq!(load(&to).messages.len(), 4);
        assert_eq!(load(&to).id, id);
        assert_eq!(fs::read(&path).unwrap(), edited);
        assert_eq!(claims.locked(), vec![to.clone()], "the old file is let go");
    }

    #[test]
    fn a_file_outside_the_library_moves_to_a_new_file_beside_it() {
        let t = tempfile::tempdir().unwrap();
        let lib = t.path().join("lib");
        let c = conv("hello");
        let path = t.path().join("notes.json");
        let mut claims = Claims::new(Some(lib));
        assert_eq!(
            claims.save(&c, &path, false, false),
            Outcome::Written(path.clone())
        );
        fs::write(&path, b"my notes").unwrap();
        match claims.save(&c, &path, false, false) {
            Outcome::Moved {
                to, new_id: None, ..
            } => {
                assert_eq!(to.parent(), Some(t.path()));
                let name = to.file_name().unwrap().to_string_lossy().into_owned();
                assert!(
                    name.starts_with("notes.") && name.ends_with(".json"),
                    "{name}"
                );
                assert_eq!(load(&to).id, c.id);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), b"my notes");
    }

    #[test]
    fn an_autosave_never_replaces_a_file_it_did_not_read_or_write() {
        let t = tempfile::tempdir().unwrap();
        let c = conv("hello");
        let path = t.path().join("taken.json");
        fs::write(&path, b"someone's file").unwrap();
        let mut claims = Claims::new(None);
        assert!(matches!(
            claims.save(&c, &path, false, false),
            Outcome::Moved { .. }
        ));
        assert_eq!(fs::read(&path).unwrap(), b"someone's file");
    }

    #[test]
    fn an_explicit_save_asks_before_replacing_another_file() {
        let t = tempfile::tempdir().unwrap();
        let c = conv("mine");
        let mut other = conv("theirs");
        other.title = "Their chat".into();
        let path = t.path().join("x.json");
        let theirs = crate::store::format::to_json(&other);
        fs::write(&path, &theirs).unwrap();
        let mut claims = Claims::new(None);
        match claims.save(&c, &path, true, false) {
            Outcome::Ask(what) => {
                assert!(what.contains("another conversation"), "{what}");
                assert!(what.contains("Their chat"), "{what}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), theirs, "nothing replaced");
        assert!(
            claims.locked().is_empty(),
            "no lock kept for a file not taken"
        );
        assert!(lock::holder(&path).is_none());
        // Not a transcript at all.
        fs::write(&path, b"plain text").unwrap();
        match claims.save(&c, &path, true, false) {
            Outcome::Ask(what) => assert!(what.contains("not a transcript"), "{what}"),
            other => panic!("{other:?}"),
        }
        // The user agreed.
        assert_eq!(
            claims.save(&c, &path, true, true),
            Outcome::Written(path.clone())
        );
        assert_eq!(load(&path).id, c.id);
        // An older copy of this same conversation is replaced without asking.
        let copy = t.path().join("copy.json");
        fs::write(&copy, crate::store::format::to_json(&c)).unwrap();
        assert_eq!(
            claims.save(&c, &copy, true, false),
            Outcome::Written(copy.clone())
        );
    }

    #[test]
    fn a_file_another_process_holds_is_not_written() {
        let t = tempfile::tempdir().unwrap();
        let c = conv("hello");
        let path = t.path().join("held.json");
        let _theirs = lock::acquire(&path).unwrap();
        let mut claims = Claims::new(None);
        match claims.save(&c, &path, true, false) {
            Outcome::Failed(e) => assert!(e.contains("has it open"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(!path.exists());
        match claims.save(&c, &path, false, false) {
            Outcome::Moved { to, reason, .. } => {
                assert!(reason.contains("has it open"), "{reason}");
                assert_eq!(load(&to).id, c.id);
            }
            other => panic!("{other:?}"),
        }
        assert!(!path.exists());
    }

    #[test]
    fn released_files_are_known_until_written_again() {
        let t = tempfile::tempdir().unwrap();
        let c = conv("hello");
        let path = t.path().join("a.json");
        let mut claims = Claims::new(None);
        assert_eq!(
            claims.save(&c, &path, false, false),
            Outcome::Written(path.clone())
        );
        assert!(!claims.was_released(&path));
        claims.release(std::slice::from_ref(&path));
        assert!(claims.was_released(&path));
        assert!(lock::holder(&path).is_none());
        assert_eq!(
            claims.save(&c, &path, true, false),
            Outcome::Written(path.clone())
        );
        assert!(!claims.was_released(&path));
    }

    #[test]
    fn a_removed_file_is_written_again() {
        let t = tempfile::tempdir().unwrap();
        let c = conv("hello");
        let path = t.path().join("a.json");
        let mut claims = Claims::new(None);
        assert_eq!(
            claims.save(&c, &path, false, false),
            Outcome::Written(path.clone())
        );
        fs::remove_file(&path).unwrap();
        assert_eq!(
            claims.save(&c, &path, false, false),
            Outcome::Written(path.clone())
        );
        assert!(path.exists());
    }
}
