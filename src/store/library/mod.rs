//! The library: a directory of saved conversations, one `<id>.json` each, plus
//! `index.json`, a cache of their metadata keyed by file name and validated against each
//! file's mtime, size and inode. Deleting the index loses nothing.
//!
//! `index` keeps the cache and scans the directory; `search` finds text in titles and
//! messages.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::chat::conversation::{Conversation, Speaker};
use crate::store::format;
use crate::store::save::{self, LoadError};

mod index;
mod search;
#[cfg(test)]
mod tests;

/// The name of the metadata cache inside the library directory.
pub const INDEX_FILE: &str = "index.json";
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
        let files = index::current(&self.dir).map_err(|source| LibraryError::Dir {
            path: self.dir.clone(),
            source,
        })?;
        let mut entries: Vec<Entry> = files
            .into_iter()
            .map(|(name, entry)| Entry {
                path: self.dir.join(name),
                ..entry
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
