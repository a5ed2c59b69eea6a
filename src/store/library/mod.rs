//! The library: a directory of saved conversations, one `<id>.json` each, plus
//! `index.sqlite`, a cache of their metadata and text with a full-text index, keyed by file
//! name and validated against each file's mtime, size and inode. The JSON files are the
//! truth: deleting the index loses nothing, and a library whose index cannot be opened
//! (a read-only folder) is listed and searched by reading the files.
//!
//! `index` reads the folder and the files; `db` keeps the index; `search` finds text in
//! titles and messages (through the index, or by scanning).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::chat::conversation::{Conversation, Speaker};
use crate::store::format;
use crate::store::save::{self, LoadError};

mod db;
mod index;
mod search;
use db::Db;
#[cfg(test)]
mod tests;

/// The name of the index inside the library directory.
pub const INDEX_FILE: &str = "index.sqlite";
/// The metadata cache of chat-tui versions before the full-text index; never listed.
pub const LEGACY_INDEX_FILE: &str = "index.json";
const FIRST_LINE_CHARS: usize = 120;

/// What can go wrong with the library.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("cannot use the conversation folder {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot delete {}: {source}", path.display())]
    Delete {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "conversation id {0:?} cannot be a file name (use 1–128 letters, digits, '-' or '_', \
         and not \"index\")"
    )]
    InvalidId(String),
    #[error("no saved conversation matches {0:?}")]
    NotFound(String),
    #[error("{query:?} matches {} conversations: {}; type more of the id", ids.len(), ids.join(", "))]
    Ambiguous { query: String, ids: Vec<String> },
    #[error("{} cannot be opened ({reason}); the file was left as it is", path.display())]
    Broken { path: PathBuf, reason: String },
    #[error("a title cannot be empty")]
    EmptyTitle,
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Saving is a library operation; the name the API promised.
pub type SaveError = LibraryError;

/// A saved conversation as listed: its metadata, without its messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The file name without `.json`: the conversation's id for every file the library
    /// saved. (A file copied in under another name, or an imported OpenAI messages array,
    /// is known by its file name, which stays stable and unique.)
    pub id: String,
    /// Where the file is.
    #[serde(skip)]
    pub path: PathBuf,
    pub title: String,
    /// For broken files both times are the file's modification time.
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub model: String,
    /// User and assistant messages (what a person counts).
    pub messages: usize,
    /// The first line of the first user message (at most 120 characters).
    pub first_line: String,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Why the file cannot be opened; such files are listed, never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<String>,
    /// Search results: a short excerpt around the first hit.
    #[serde(skip)]
    pub snippet: Option<String>,
}

impl Entry {
    fn of(conv: &Conversation, path: PathBuf, bytes: u64) -> Self {
        let first_line = conv
            .messages
            .iter()
            .find(|m| m.speaker == Speaker::User)
            .and_then(|m| m.content.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(|l| clean_line(l, FIRST_LINE_CHARS))
            .unwrap_or_default();
        let title = clean_line(&conv.title, 200);
        Entry {
            id: file_stem(&path),
            path,
            title: if title.is_empty() {
                "Untitled".into()
            } else {
                title
            },
            created: conv.created,
            updated: conv.updated,
            model: conv.model.clone(),
            messages: conv.turn_messages(),
            first_line,
            bytes,
            broken: None,
            snippet: None,
        }
    }

    fn broken(path: PathBuf, md: &fs::Metadata, reason: String) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mtime: DateTime<Utc> = md.modified().map(Into::into).unwrap_or_default();
        Entry {
            id: file_stem(&path),
            path,
            title: name,
            created: mtime,
            updated: mtime,
            model: String::new(),
            messages: 0,
            first_line: String::new(),
            bytes: md.len(),
            broken: Some(reason),
            snippet: None,
        }
    }
}

fn file_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.strip_suffix(".json").unwrap_or(&name).to_string()
}

/// The directory of saved conversations.
#[derive(Clone, Debug)]
pub struct Library {
    dir: PathBuf,
}

impl Library {
    /// Open (creating it with mode 0700 if needed) the library in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, LibraryError> {
        let dir = dir.into();
        save::ensure_private_dir(&dir).map_err(|source| LibraryError::Dir {
            path: dir.clone(),
            source,
        })?;
        Ok(Library { dir })
    }

    /// `<data dir>/chat-tui/conversations`, e.g. `$XDG_DATA_HOME/chat-tui/conversations`
    /// (`~/.local/share/...` when unset) on Linux.
    pub fn default_dir() -> Option<PathBuf> {
        crate::store::paths::conversations_dir()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<id>.json`. Ids that are not safe file names are mangled here, and refused by
    /// [`Library::save`].
    pub fn path_for(&self, conv: &Conversation) -> PathBuf {
        path_in(&self.dir, &conv.id)
    }

    /// Save atomically to [`Library::path_for`]; returns the path.
    pub fn save(&self, conv: &Conversation) -> Result<PathBuf, SaveError> {
        if !is_safe_id(&conv.id) {
            return Err(LibraryError::InvalidId(conv.id.clone()));
        }
        save::ensure_private_dir(&self.dir).map_err(|source| LibraryError::Dir {
            path: self.dir.clone(),
            source,
        })?;
        let path = self.path_for(conv);
        save::write_atomic(&path, &format::to_json(conv)).map_err(|source| {
            LibraryError::Write {
                path: path.clone(),
                source,
            }
        })?;
        note_saved(&path, conv);
        Ok(path)
    }

    /// Load the conversation an entry stands for.
    pub fn load(&self, entry: &Entry) -> Result<Conversation, LibraryError> {
        Ok(save::load(&entry.path)?)
    }

    /// Every saved conversation, newest (`updated`) first; broken files included.
    /// Reads only files the index does not know in their current state, and indexes them.
    pub fn list(&self) -> Result<Vec<Entry>, LibraryError> {
        self.list_with(Catchup::Inline)
    }

    /// [`Library::list`] for the sessions browser: when many files need indexing (a new or
    /// rebuilt index), they are indexed on a background thread and the listing comes back
    /// at once; searches read the files until the index has caught up.
    pub fn list_now(&self) -> Result<Vec<Entry>, LibraryError> {
        self.list_with(Catchup::Background)
    }

    fn list_with(&self, mode: Catchup) -> Result<Vec<Entry>, LibraryError> {
        let mut entries = match self.view(mode)? {
            View::Indexed(slot) => match slot.entries() {
                Ok(e) => e,
                Err(e) => {
                    slot.failed(&self.dir, &e);
                    self.read_all()?
                }
            },
            View::Files(e) => e,
        };
        sort_newest_first(&mut entries);
        Ok(entries)
    }

    /// Every file read and parsed (no index).
    fn read_all(&self) -> Result<Vec<Entry>, LibraryError> {
        let found = index::scan_dir(&self.dir).map_err(|source| LibraryError::Dir {
            path: self.dir.clone(),
            source,
        })?;
        Ok(index::read_docs(found)
            .into_iter()
            .map(|(_, d)| d.entry)
            .collect())
    }

    /// Bring the index in step with the folder; say how to answer.
    fn view(&self, mode: Catchup) -> Result<View, LibraryError> {
        let found = index::scan_dir(&self.dir).map_err(|source| LibraryError::Dir {
            path: self.dir.clone(),
            source,
        })?;
        let Some(slot) = Slot::get(&self.dir) else {
            let entries = index::read_docs(found).into_iter().map(|(_, d)| d.entry);
            return Ok(View::Files(entries.collect()));
        };
        if let Some(entries) = slot.catching_up() {
            // A background catch-up owns the index: answer from the listing it started
            // from (searches read those files).
            return Ok(View::Files(entries.as_ref().clone()));
        }
        match slot.sync(found, mode) {
            Ok(None) => Ok(View::Indexed(slot)),
            Ok(Some(entries)) => Ok(View::Files(entries)),
            Err(e) => {
                slot.failed(&self.dir, &e);
                Ok(View::Files(self.read_all()?))
            }
        }
    }

    /// Bring the index in step with the folder as its *listing* shows it, for a search from
    /// the command line: files added, removed or replaced by a rename (a new inode: every
    /// save chat-tui makes, and most editors' and tools') are picked up without a stat per
    /// file; only files the listing cannot vouch for (new, another inode, a symlink) are
    /// stat'ed. What the listing cannot show — a file rewritten in place, or replaced so
    /// often that it came back with its old inode number — [`Library::search_with`] catches
    /// for the files it is about to answer with (it stats its hits); for the rest the next
    /// full check catches it ([`Library::list`], the sessions browser).
    fn quick_view(&self) -> Result<Quick, LibraryError> {
        // The folder's stamp comes before its listing: a file added after it changes it.
        let folder = folder_stamp(&self.dir);
        if let Some(stamp) = &folder
            && let Some(slot) = Slot::get(&self.dir)
            && slot.catching_up().is_none()
        {
            let same = slot
                .db
                .lock()
                .ok()
                .and_then(|db| db.listing_stamp().ok().flatten())
                .is_some_and(|kept| kept == stamp.value);
            if same {
                // Nothing was added, removed or renamed since the index was last found in
                // step with the listing: no need to read the listing again.
                return Ok(Quick::Indexed(slot, None));
            }
        }
        let listed = index::list_dir(&self.dir).map_err(|source| LibraryError::Dir {
            path: self.dir.clone(),
            source,
        })?;
        let slot = match Slot::get(&self.dir) {
            Some(slot) if slot.catching_up().is_none() => slot,
            // No index, or a catch-up owns it: the full path (it reads the files).
            _ => match self.view(Catchup::Inline)? {
                View::Files(e) => return Ok(Quick::Files(e)),
                View::Indexed(slot) => slot,
            },
        };
        let r = slot
            .db
            .lock()
            .map_err(|_| rusqlite::Error::InvalidQuery)
            .and_then(|mut db| {
                let stamps = quick_sync(&mut db, &self.dir, listed)?;
                // Kept only once the folder's last change is old enough that a later one
                // cannot carry the same time (coarse file system clocks); a failure to keep
                // it only costs the next search a listing.
                let settled = folder
                    .as_ref()
                    .filter(|f| f.settled())
                    .map(|f| f.value.as_str());
                let _ = db.set_listing_stamp(settled);
                Ok(stamps)
            });
        match r {
            Ok(stamps) => Ok(Quick::Indexed(slot, Some(stamps))),
            Err(e) => {
                slot.failed(&self.dir, &e);
                Ok(Quick::Files(self.read_all()?))
            }
        }
    }

    /// The most recently updated conversation that can be opened.
    pub fn most_recent(&self) -> Result<Option<Entry>, LibraryError> {
        Ok(self.list()?.into_iter().find(|e| e.broken.is_none()))
    }

    /// The entry whose id is `id_or_prefix`, or the only one whose id starts with it.
    pub fn find(&self, id_or_prefix: &str) -> Result<Entry, LibraryError> {
        let q = id_or_prefix.trim();
        if q.is_empty() {
            return Err(LibraryError::NotFound(q.to_string()));
        }
        let entries = self.list()?;
        let exact: Vec<&Entry> = entries.iter().filter(|e| e.id == q).collect();
        let hits = if exact.is_empty() {
            entries.iter().filter(|e| e.id.starts_with(q)).collect()
        } else {
            exact
        };
        match hits.as_slice() {
            [] => Err(LibraryError::NotFound(q.to_string())),
            [one] => Ok((*one).clone()),
            many => Err(LibraryError::Ambiguous {
                query: q.to_string(),
                ids: many.iter().map(|e| e.id.clone()).collect(),
            }),
        }
    }

    /// Delete a saved conversation (broken ones too). Returns what was deleted.
    pub fn delete(&self, id_or_prefix: &str) -> Result<Entry, LibraryError> {
        let e = self.find(id_or_prefix)?;
        fs::remove_file(&e.path).map_err(|source| LibraryError::Delete {
            path: e.path.clone(),
            source,
        })?;
        if let Some(slot) = Slot::get(&self.dir) {
            slot.forget(&self.dir, &file_name(&e.path));
        }
        Ok(e)
    }

    /// Give a saved conversation a new title (control characters removed). `updated` is
    /// kept, so renaming does not reorder the list.
    pub fn rename(&self, id_or_prefix: &str, title: &str) -> Result<Entry, LibraryError> {
        let title = clean_line(title, usize::MAX);
        if title.is_empty() {
            return Err(LibraryError::EmptyTitle);
        }
        let e = self.find(id_or_prefix)?;
        if let Some(reason) = e.broken {
            return Err(LibraryError::Broken {
                path: e.path,
                reason,
            });
        }
        let mut conv = save::load(&e.path)?;
        conv.title = title;
        let bytes = format::to_json(&conv);
        save::write_atomic(&e.path, &bytes).map_err(|source| LibraryError::Write {
            path: e.path.clone(),
            source,
        })?;
        note_saved(&e.path, &conv);
        Ok(Entry::of(&conv, e.path, bytes.len() as u64))
    }
}

/// Tell the index that `conv` was just written to `path` (the saver calls this after each
/// successful write; cheap: only the parts whose text changed are indexed again). Does
/// nothing unless `path` is a transcript in a folder that has an index, or when the index
/// is busy catching up (its next sync picks the file up by its stamp).
pub fn note_saved(path: &Path, conv: &Conversation) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    if !index::is_transcript_name(name) || !dir.join(INDEX_FILE).is_file() {
        return;
    }
    let Some(slot) = Slot::get(dir) else {
        return;
    };
    let Ok(md) = fs::metadata(path) else {
        return;
    };
    let entry = Entry::of(conv, path.to_path_buf(), md.len());
    let parts: Vec<&str> = index::parts_of(conv).collect();
    slot.note(dir, name, &index::Stamp::of(&md), &entry, &parts);
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// How a sync indexes many files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Catchup {
    /// Now, before answering (the command line, tests).
    Inline,
    /// On a background thread; the caller gets the listing at once.
    Background,
}

/// The stamps the index holds, by file name.
type Stamps = std::collections::HashMap<String, [i64; 4]>;

/// How a command-line search answers ([`Library::quick_view`]).
enum Quick {
    /// From the index, in step with the folder's listing; the stamps it holds now (`None`:
    /// the listing was not read again, the folder being unchanged — ask the index).
    Indexed(Arc<Slot>, Option<Stamps>),
    /// From these entries (read from the files): no index, or it is catching up.
    Files(Vec<Entry>),
}

/// How long after a folder's last change its stamp is trusted to tell a later change: file
/// systems keep times as coarse as 2 s (FAT), so a change within that time of the last one
/// could leave the same stamp.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

/// The folder's modification time and inode: any file added, removed or renamed in it
/// changes the time (a file rewritten in place does not: see `Library::search`).
struct FolderStamp {
    value: String,
    modified: std::time::SystemTime,
}

impl FolderStamp {
    /// Old enough to be kept: see [`SETTLE`] (a time in the future never is).
    fn settled(&self) -> bool {
        std::time::SystemTime::now()
            .duration_since(self.modified)
            .is_ok_and(|age| age >= SETTLE)
    }
}

#[cfg(unix)]
fn folder_stamp(dir: &Path) -> Option<FolderStamp> {
    use std::os::unix::fs::MetadataExt;
    let md = fs::metadata(dir).ok()?;
    Some(FolderStamp {
        value: format!(
            "{}.{:09} {} {}",
            md.mtime(),
            md.mtime_nsec(),
            md.ino(),
            md.dev()
        ),
        modified: md.modified().ok()?,
    })
}

#[cfg(not(unix))]
fn folder_stamp(_: &Path) -> Option<FolderStamp> {
    None
}

/// Compare the folder's listing with the index (a stat only where the listing's inode
/// differs from the indexed one, or cannot be trusted) and index what changed.
fn quick_sync(
    db: &mut Db,
    dir: &Path,
    listed: Vec<index::Listed>,
) -> Result<Stamps, rusqlite::Error> {
    let mut stamps = db.stamps()?;
    let mut seen = std::collections::HashSet::with_capacity(listed.len());
    let mut stale = Vec::new();
    for l in listed {
        let known = stamps.get(&l.name);
        if let (Some(k), Some(ino)) = (known, l.ino)
            && k[3] == ino as i64
        {
            seen.insert(l.name);
            continue;
        }
        let path = dir.join(&l.name);
        let Ok(md) = fs::metadata(&path) else {
            continue; // gone since the listing
        };
        if !md.is_file() {
            continue;
        }
        let same = known == Some(&db::stamp_cols(&index::Stamp::of(&md)));
        seen.insert(l.name.clone());
        if !same {
            stale.push(index::Found {
                name: l.name,
                path,
                md,
            });
        }
    }
    let gone: Vec<String> = stamps
        .keys()
        .filter(|n| !seen.contains(n.as_str()))
        .cloned()
        .collect();
    reindex(db, stale, &gone, &mut stamps)?;
    Ok(stamps)
}

/// Read and index these files, forget the gone ones, and update `stamps` to match.
fn reindex(
    db: &mut Db,
    stale: Vec<index::Found>,
    gone: &[String],
    stamps: &mut Stamps,
) -> Result<(), rusqlite::Error> {
    if stale.is_empty() && gone.is_empty() {
        return Ok(());
    }
    let mut docs = index::read_docs(stale);
    // Oldest first, as in a full sync (the newest get the highest row ids).
    docs.sort_by(|a, b| (a.1.entry.updated, &a.0.name).cmp(&(b.1.entry.updated, &b.0.name)));
    db.apply(&[], gone)?;
    for chunk in docs.chunks(db::CHUNK) {
        db.apply(chunk, &[])?;
    }
    for name in gone {
        stamps.remove(name);
    }
    for (f, _) in &docs {
        stamps.insert(f.name.clone(), db::stamp_cols(&index::Stamp::of(&f.md)));
    }
    Ok(())
}

/// How to answer a listing or search.
enum View {
    /// From the index, which is in step with the folder.
    Indexed(Arc<Slot>),
    /// From these entries (read from the files): no index, or it is catching up.
    Files(Vec<Entry>),
}

/// The open index of one library folder, shared by this process's threads.
struct Slot {
    db: Mutex<Db>,
    /// The index file's inode when opened: a deleted or replaced index is opened again.
    ino: u64,
    /// A background catch-up is indexing files: the listing it started from (searches
    /// scan these files until it is done).
    catching_up: Mutex<Option<Arc<Vec<Entry>>>>,
}

/// Close the index of `dir` this process has open (tests: as if another process came
/// along). Only that folder's: tests run in parallel, each with its own folder.
#[cfg(test)]
fn close_indexes(dir: &Path) {
    if let Ok(mut s) = SLOTS.lock() {
        s.retain(|(d, _)| d != dir);
    }
}

/// Every index this process has open.
static SLOTS: Mutex<Vec<(PathBuf, Arc<Slot>)>> = Mutex::new(Vec::new());

fn index_ino(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(dir.join(INDEX_FILE)).ok().map(|m| m.ino())
    }
    #[cfg(not(unix))]
    {
        fs::metadata(dir.join(INDEX_FILE)).ok().map(|_| 0)
    }
}

impl Slot {
    /// The index of `dir`, opened (created, rebuilt) on first use. None when it cannot
    /// be opened (a read-only folder, a full disk): callers read the files instead.
    fn get(dir: &Path) -> Option<Arc<Slot>> {
        let mut slots = SLOTS.lock().ok()?;
        let ino = index_ino(dir);
        if let Some(i) = slots.iter().position(|(d, _)| d == dir) {
            if ino == Some(slots[i].1.ino) {
                return Some(slots[i].1.clone());
            }
            slots.remove(i); // deleted or replaced behind our back
        }
        let db = Db::open(dir).ok()?;
        let slot = Arc::new(Slot {
            db: Mutex::new(db),
            ino: index_ino(dir)?,
            catching_up: Mutex::new(None),
        });
        slots.push((dir.to_path_buf(), slot.clone()));
        Some(slot)
    }

    fn catching_up(&self) -> Option<Arc<Vec<Entry>>> {
        self.catching_up.lock().ok().and_then(|c| c.clone())
    }

    /// Forget a broken index: close it, delete it (the next use rebuilds it).
    fn failed(&self, dir: &Path, e: &rusqlite::Error) {
        if let Ok(mut slots) = SLOTS.lock() {
            slots.retain(|(d, s)| !(d == dir && std::ptr::eq(Arc::as_ptr(s), self)));
        }
        if db::is_corrupt(e) {
            db::remove_files(dir);
        }
    }

    fn entries(&self) -> Result<Vec<Entry>, rusqlite::Error> {
        match self.db.lock() {
            Ok(db) => db.entries(),
            Err(_) => Err(rusqlite::Error::InvalidQuery),
        }
    }

    /// Index what changed in the folder. `Ok(None)`: the index is in step. `Ok(Some(e))`:
    /// a background catch-up was started; `e` is the listing meanwhile.
    fn sync(
        self: &Arc<Self>,
        found: Vec<index::Found>,
        mode: Catchup,
    ) -> Result<Option<Vec<Entry>>, rusqlite::Error> {
        let mut db = self.db.lock().map_err(|_| rusqlite::Error::InvalidQuery)?;
        let plan = db.plan(found)?;
        if plan.is_empty() {
            return Ok(None);
        }
        let mut docs = index::read_docs(plan.stale);
        // Oldest first, so the newest conversations get the highest row ids (a streamed
        // search comes newest first).
        docs.sort_by(|a, b| (a.1.entry.updated, &a.0.name).cmp(&(b.1.entry.updated, &b.0.name)));
        if mode == Catchup::Inline || docs.len() <= db::CHUNK {
            // A transaction per chunk: another process's save never waits long.
            db.apply(&[], &plan.gone)?;
            for chunk in docs.chunks(db::CHUNK) {
                db.apply(chunk, &[])?;
            }
            return Ok(None);
        }
        // Many files (a new or rebuilt index): list now, index in the background.
        let changed: std::collections::HashSet<String> = docs
            .iter()
            .map(|(f, _)| f.name.clone())
            .chain(plan.gone.iter().cloned())
            .collect();
        let mut entries: Vec<Entry> = db
            .entries()?
            .into_iter()
            .filter(|e| !changed.contains(&file_name(&e.path)))
            .collect();
        entries.extend(docs.iter().map(|(_, d)| d.entry.clone()));
        if let Ok(mut c) = self.catching_up.lock() {
            *c = Some(Arc::new(entries.clone()));
        }
        drop(db);
        let slot = self.clone();
        let gone = plan.gone;
        std::thread::spawn(move || slot.catch_up(docs, gone));
        Ok(Some(entries))
    }

    /// Index `docs` a chunk per transaction (other threads and processes get the index
    /// between chunks).
    fn catch_up(&self, docs: Vec<(index::Found, index::Doc)>, gone: Vec<String>) {
        let mut gone = gone;
        for chunk in docs.chunks(db::CHUNK) {
            let Ok(mut db) = self.db.lock() else { break };
            if db.apply(chunk, &std::mem::take(&mut gone)).is_err() {
                break; // the next sync finds what is missing by its stamp
            }
        }
        if let Ok(mut c) = self.catching_up.lock() {
            *c = None;
        }
    }

    /// A file was saved by this process.
    fn note(&self, dir: &Path, name: &str, stamp: &index::Stamp, entry: &Entry, parts: &[&str]) {
        if self.catching_up().is_some() {
            return;
        }
        // Never make a save wait on a long search or sync: skip, the stamp catches it up.
        let Ok(mut db) = self.db.try_lock() else {
            return;
        };
        if let Err(e) = db.upsert(name, stamp, entry, parts) {
            drop(db);
            self.failed(dir, &e);
        }
    }

    /// A file was deleted by this process.
    fn forget(&self, dir: &Path, name: &str) {
        let Ok(mut db) = self.db.lock() else { return };
        if let Err(e) = db.remove(name) {
            drop(db);
            self.failed(dir, &e);
        }
    }
}

fn sort_newest_first(entries: &mut [Entry]) {
    // Entries are large: sort keys, then permute once.
    entries.sort_by_cached_key(|e| {
        (
            std::cmp::Reverse(e.updated),
            std::cmp::Reverse(e.id.clone()),
            std::cmp::Reverse(e.path.clone()),
        )
    });
}

/// `<dir>/<id>.json` for a library in `dir`, without touching the disk ([`Library::path_for`]).
pub fn path_in(dir: &Path, id: &str) -> PathBuf {
    let name: String = id
        .chars()
        .take(128)
        .map(|c| if safe_id_char(c) { c } else { '_' })
        .collect();
    dir.join(format!("{name}.json"))
}

fn safe_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Can this id be used as a file name in the library?
pub fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.chars().all(safe_id_char)
        && !id.eq_ignore_ascii_case("index")
}

/// One line: control characters dropped, whitespace runs collapsed, at most `max`
/// characters (then `…`).
fn clean_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    for word in s
        .split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let word: String = word.chars().filter(|c| !c.is_control()).collect();
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        out.push_str(&word);
        count += word.chars().count();
    }
    if count > max {
        let mut cut: String = out.chars().take(max).collect();
        cut.push('…');
        return cut;
    }
    out
}
