//! The library: a directory of saved conversations, one `<id>.json` each, plus
//! `index.json`, a cache of their metadata keyed by file name and validated against each
//! file's mtime, size and inode. Deleting the index loses nothing.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::chat::conversation::{Conversation, Speaker};
use crate::store::format::{self, FormatError};
use crate::store::save::{self, LoadError};

/// The name of the metadata cache inside the library directory.
pub const INDEX_FILE: &str = "index.json";
const INDEX_FORMAT: &str = "chat-tui-index";
const INDEX_VERSION: u32 = 1;
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

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    mtime_s: u64,
    mtime_ns: u32,
    size: u64,
    ino: u64,
}

impl Stamp {
    fn of(md: &fs::Metadata) -> Self {
        let t = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(md);
        #[cfg(not(unix))]
        let ino = 0;
        Stamp {
            mtime_s: t.as_secs(),
            mtime_ns: t.subsec_nanos(),
            size: md.len(),
            ino,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct IndexRecord {
    stamp: Stamp,
    entry: Entry,
}

#[derive(Deserialize)]
struct IndexFile {
    format: String,
    version: u32,
    files: HashMap<String, IndexRecord>,
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
        let name: String = conv
            .id
            .chars()
            .take(128)
            .map(|c| if safe_id_char(c) { c } else { '_' })
            .collect();
        self.dir.join(format!("{name}.json"))
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
        Ok(path)
    }

    /// Load the conversation an entry stands for.
    pub fn load(&self, entry: &Entry) -> Result<Conversation, LibraryError> {
        Ok(save::load(&entry.path)?)
    }

    /// Every saved conversation, newest (`updated`) first; broken files included.
    /// Reads only files the index does not know in their current state, and rewrites the
    /// index when anything changed.
    pub fn list(&self) -> Result<Vec<Entry>, LibraryError> {
        let dir_err = |source| LibraryError::Dir {
            path: self.dir.clone(),
            source,
        };
        let mut old = self.read_index();
        let stale_index = old.is_none();
        let mut old = old.take().unwrap_or_default();
        let mut changed = stale_index;
        let mut files: Vec<(String, IndexRecord)> = Vec::with_capacity(old.len());
        let mut to_read: Vec<(String, PathBuf, fs::Metadata)> = Vec::new();
        for de in fs::read_dir(&self.dir).map_err(dir_err)? {
            let Ok(de) = de else { continue };
            let file_name = de.file_name();
            let Some(name) = file_name.to_str() else {
                continue;
            };
            if is_temp_name(name) {
                remove_if_stale(&de);
                continue;
            }
            if !is_transcript_name(name) {
                continue;
            }
            let path = de.path();
            // Follow symlinks; skip anything that is not a regular file. `de.metadata()`
            // stats relative to the open directory (no path walk).
            let md = match de.file_type() {
                Ok(t) if !t.is_symlink() => de.metadata(),
                _ => fs::metadata(&path),
            };
            let Ok(md) = md else {
                continue;
            };
            if !md.is_file() {
                continue;
            }
            let stamp = Stamp::of(&md);
            match old.remove(name) {
                Some(r) if r.stamp == stamp => files.push((name.to_string(), r)),
                _ => to_read.push((name.to_string(), path, md)),
            }
        }
        changed |= !to_read.is_empty();
        files.extend(read_entries(to_read));
        changed |= !old.is_empty();
        if changed {
            // The index is a cache: failing to write it costs speed, not data.
            let _ = self.write_index(&files);
        }
        let mut entries: Vec<Entry> = files
            .into_iter()
            .map(|(name, r)| Entry {
                path: self.dir.join(name),
                ..r.entry
            })
            .collect();
        sort_newest_first(&mut entries);
        Ok(entries)
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
        Ok(Entry::of(&conv, e.path, bytes.len() as u64))
    }

    /// Conversations whose title or message text contains `query` (case-insensitive),
    /// newest first, each with a snippet of its first hit. Broken files are not searched.
    pub fn search(&self, query: &str) -> Result<Vec<Entry>, LibraryError> {
        let needle = lowercase(query.trim());
        let entries = self.list()?;
        if needle.is_empty() {
            return Ok(entries);
        }
        // How the needle looks inside a JSON string as serde_json writes it.
        let escaped = serde_json::to_string(&needle)
            .map(|s| s[1..s.len() - 1].to_string())
            .unwrap_or_else(|_| needle.clone());
        // Reading the files dominates: spread them over a few threads, keeping the order.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let chunk = entries.len().div_ceil(threads).max(256);
        let snippets: Vec<Option<String>> = std::thread::scope(|s| {
            let workers: Vec<_> = entries
                .chunks(chunk)
                .map(|part| {
                    let (needle, escaped) = (&needle, &escaped);
                    s.spawn(move || {
                        let mut buf = Vec::new();
                        part.iter()
                            .map(|e| search_one(e, needle, escaped, &mut buf))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| match w.join() {
                    Ok(v) => v,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        Ok(entries
            .into_iter()
            .zip(snippets)
            .filter_map(|(e, snippet)| {
                snippet.map(|s| Entry {
                    snippet: Some(s),
                    ..e
                })
            })
            .collect())
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join(INDEX_FILE)
    }

    fn read_index(&self) -> Option<HashMap<String, IndexRecord>> {
        let bytes = fs::read(self.index_path()).ok()?;
        let idx: IndexFile = serde_json::from_slice(&bytes).ok()?;
        (idx.format == INDEX_FORMAT && idx.version == INDEX_VERSION).then_some(idx.files)
    }

    fn write_index(&self, files: &[(String, IndexRecord)]) -> io::Result<()> {
        /// The records as a JSON object sorted by file name.
        struct Files<'a>(Vec<&'a (String, IndexRecord)>);
        impl Serialize for Files<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
            }
        }
        #[derive(Serialize)]
        struct Out<'a> {
            format: &'static str,
            version: u32,
            files: Files<'a>,
        }
        let mut sorted: Vec<&(String, IndexRecord)> = files.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let bytes = serde_json::to_vec(&Out {
            format: INDEX_FORMAT,
            version: INDEX_VERSION,
            files: Files(sorted),
        })
        .map_err(io::Error::other)?;
        save::write_atomic(&self.index_path(), &bytes)
    }
}

/// The snippet of the first hit of `needle` (lowercased) in this entry, if any.
fn search_one(e: &Entry, needle: &str, escaped: &str, buf: &mut Vec<u8>) -> Option<String> {
    if e.broken.is_some() {
        return None;
    }
    if let Some(s) = snippet(&e.title, needle) {
        return Some(s);
    }
    buf.clear();
    fs::File::open(&e.path)
        .and_then(|mut f| f.read_to_end(buf))
        .ok()?;
    let text = std::str::from_utf8(buf).ok()?;
    if !raw_may_contain(text, escaped) {
        return None;
    }
    let conv = format::parse(buf).ok()?;
    first_hit(&conv, needle)
}

/// Cheap rejection on the raw JSON text: `false` only when no JSON string in `text` can
/// contain `escaped` (the lowercased needle as serde_json escapes it), ignoring case.
///
/// Sound only when every string character is written literally or with a short escape,
/// so any `\u` or `\/` escape answers `true` (the caller then parses). For an ASCII needle
/// ASCII case folding suffices, unless the text holds one of the two non-ASCII characters
/// whose lowercase contains ASCII letters (KELVIN SIGN, LATIN CAPITAL LETTER I WITH DOT).
fn raw_may_contain(text: &str, escaped: &str) -> bool {
    if text.contains("\\u") || text.contains("\\/") {
        return true;
    }
    if escaped.is_ascii() && !text.contains('\u{212a}') && !text.contains('\u{130}') {
        text.to_ascii_lowercase().contains(escaped)
    } else {
        lowercase(text).contains(escaped)
    }
}

/// Lowercase char by char, final sigma folded to σ, as [`find_ci`] does, so the
/// prefilter, the needle and the real match agree.
fn lowercase(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(fold_sigma)
        .collect()
}

/// Read and parse files on a few threads (a cold index means reading them all).
fn read_entries(items: Vec<(String, PathBuf, fs::Metadata)>) -> Vec<(String, IndexRecord)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = items.len().div_ceil(threads).max(256);
    std::thread::scope(|s| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(name, path, md)| {
                            let record = IndexRecord {
                                stamp: Stamp::of(md),
                                entry: read_entry(path, md),
                            };
                            (name.clone(), record)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Temp files of [`save::write_atomic`] (`.<name>.<pid>.<n>.<nanos>.tmp`).
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// A temp file left by a crash is removed once it is an hour old (no write takes that long).
fn remove_if_stale(de: &fs::DirEntry) {
    let old = de
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > std::time::Duration::from_secs(3600));
    if old {
        let _ = fs::remove_file(de.path());
    }
}

fn read_entry(path: &Path, md: &fs::Metadata) -> Entry {
    match fs::read(path) {
        Ok(bytes) => match format::parse(&bytes) {
            Ok(conv) => Entry::of(&conv, path.to_path_buf(), bytes.len() as u64),
            Err(e) => Entry::broken(path.to_path_buf(), md, describe(&e)),
        },
        Err(e) => Entry::broken(path.to_path_buf(), md, format!("cannot read it: {e}")),
    }
}

fn describe(e: &FormatError) -> String {
    e.to_string()
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

fn is_transcript_name(name: &str) -> bool {
    name.ends_with(".json") && name != INDEX_FILE && !name.starts_with('.')
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

fn fold_sigma(c: char) -> char {
    if c == 'ς' { 'σ' } else { c }
}

/// Byte range in `hay` of the first case-insensitive occurrence of `needle_lower`.
fn find_ci(hay: &str, needle_lower: &str) -> Option<(usize, usize)> {
    let mut lower = String::with_capacity(hay.len());
    let mut map = Vec::with_capacity(hay.len() + 1);
    for (i, ch) in hay.char_indices() {
        for lc in ch.to_lowercase().map(fold_sigma) {
            let before = lower.len();
            lower.push(lc);
            map.resize(map.len() + (lower.len() - before), i);
        }
    }
    map.push(hay.len());
    let pos = lower.find(needle_lower)?;
    let start = map[pos];
    let end = map[pos + needle_lower.len()].max(start);
    let end = if end == start {
        hay[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8())
    } else {
        end
    };
    Some((start, end))
}

/// A one-line excerpt around the first hit of `needle_lower` in `text`.
fn snippet(text: &str, needle_lower: &str) -> Option<String> {
    const BEFORE: usize = 30;
    const AFTER: usize = 50;
    let (start, end) = find_ci(text, needle_lower)?;
    let head: Vec<char> = text[..start].chars().rev().take(BEFORE + 1).collect();
    let cut_head = head.len() > BEFORE;
    let head: String = head
        .into_iter()
        .take(BEFORE)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut tail_chars = text[end..].chars();
    let tail: String = tail_chars.by_ref().take(AFTER).collect();
    let cut_tail = tail_chars.next().is_some();
    let mut s = String::new();
    if cut_head {
        s.push('…');
    }
    s.push_str(&head);
    s.push_str(&text[start..end]);
    s.push_str(&tail);
    let mut s = clean_line(&s, usize::MAX);
    if cut_tail {
        s.push('…');
    }
    Some(s)
}

fn first_hit(conv: &Conversation, needle_lower: &str) -> Option<String> {
    if let Some(s) = snippet(&conv.title, needle_lower) {
        return Some(s);
    }
    for m in &conv.messages {
        if let Some(s) = snippet(&m.content, needle_lower) {
            return Some(s);
        }
        for c in &m.choices {
            if let Some(s) = snippet(&c.text, needle_lower) {
                return Some(s);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
