//! Reading the library folder: which transcripts are there (with a stamp of each file's
//! mtime, size and inode, so the index can tell what changed without reading it), and what
//! one file holds (its [`Entry`] and the texts search looks in).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::{Entry, INDEX_FILE, LEGACY_INDEX_FILE};
use crate::chat::conversation::Conversation;
use crate::store::format;

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    pub mtime_s: u64,
    pub mtime_ns: u32,
    pub size: u64,
    pub ino: u64,
}

impl Stamp {
    pub fn of(md: &fs::Metadata) -> Self {
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

/// A transcript file found in the folder.
pub(super) struct Found {
    pub name: String,
    pub path: PathBuf,
    pub md: fs::Metadata,
}

/// What one transcript file holds, for the index.
pub(super) struct Doc {
    pub entry: Entry,
    /// The texts search looks in, in the order the first hit is taken from: the title,
    /// then each message's text and its choices. Empty for broken files.
    pub parts: Vec<String>,
}

/// Every transcript file in `dir` (following symlinks; temp files of crashed writes are
/// removed once old). Only failing to read the directory itself is an error.
pub(super) fn scan_dir(dir: &Path) -> io::Result<Vec<Found>> {
    let mut out = Vec::new();
    for (de, name) in transcripts(dir)? {
        let path = de.path();
        // `de.metadata()` stats relative to the open directory (no path walk).
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
        out.push(Found { name, path, md });
    }
    Ok(out)
}

/// A transcript as the folder lists it, without a stat: its name and, when the listing
/// can be trusted for it (a regular file on Unix), its inode number.
pub(super) struct Listed {
    pub name: String,
    /// `None` for a symlink (the listing gives the link's inode, not its target's) and off
    /// Unix: such files are always stat'ed.
    pub ino: Option<u64>,
}

/// Every transcript name in `dir` with its inode, from the directory listing alone (no
/// stat per file: `readdir` gives the inode and, on most file systems, the type). Temp
/// files of crashed writes are removed once old, as [`scan_dir`] does.
pub(super) fn list_dir(dir: &Path) -> io::Result<Vec<Listed>> {
    let mut out = Vec::new();
    for (de, name) in transcripts(dir)? {
        // The type comes with the listing (`d_type`); std stats only when it does not.
        let ino = match de.file_type() {
            Ok(t) if t.is_file() => dir_entry_ino(&de),
            Ok(t) if t.is_dir() => continue,
            _ => None,
        };
        out.push(Listed { name, ino });
    }
    Ok(out)
}

/// The folder's entries named like transcripts, with their names (temp files of crashed
/// writes are removed once old on the way; names that are not UTF-8 are skipped). Only
/// failing to read the directory itself is an error.
fn transcripts(dir: &Path) -> io::Result<impl Iterator<Item = (fs::DirEntry, String)>> {
    Ok(fs::read_dir(dir)?.filter_map(|de| {
        let de = de.ok()?;
        let name = de.file_name().into_string().ok()?;
        if is_temp_name(&name) {
            remove_if_stale(&de);
            return None;
        }
        is_transcript_name(&name).then_some((de, name))
    }))
}

#[cfg(unix)]
fn dir_entry_ino(de: &fs::DirEntry) -> Option<u64> {
    Some(std::os::unix::fs::DirEntryExt::ino(de))
}

#[cfg(not(unix))]
fn dir_entry_ino(_: &fs::DirEntry) -> Option<u64> {
    None
}

pub(super) fn is_transcript_name(name: &str) -> bool {
    name.ends_with(".json")
        && name != LEGACY_INDEX_FILE
        && name != INDEX_FILE
        && !name.starts_with('.')
}

/// Read and parse files on a few threads (a cold index means reading them all).
pub(super) fn read_docs(items: Vec<Found>) -> Vec<(Found, Doc)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = items.len().div_ceil(threads).max(256);
    let mut items = items;
    let mut parts = Vec::new();
    while items.len() > chunk {
        let rest = items.split_off(chunk);
        parts.push(std::mem::replace(&mut items, rest));
    }
    parts.push(items);
    std::thread::scope(|s| {
        let workers: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .map(|f| {
                            let doc = read_doc(&f.path, &f.md);
                            (f, doc)
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

/// Temp files of [`crate::store::save::write_atomic`] (`.<name>.<pid>.<n>.<nanos>.tmp`).
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

/// The entry and texts of one file; a file that cannot be read or parsed is a broken entry.
pub(super) fn read_doc(path: &Path, md: &fs::Metadata) -> Doc {
    match fs::read(path) {
        Ok(bytes) => match format::parse(&bytes) {
            Ok(conv) => Doc {
                entry: Entry::of(&conv, path.to_path_buf(), bytes.len() as u64),
                parts: parts_of(&conv).map(str::to_string).collect(),
            },
            Err(e) => Doc {
                entry: Entry::broken(path.to_path_buf(), md, e.to_string()),
                parts: Vec::new(),
            },
        },
        Err(e) => Doc {
            entry: Entry::broken(path.to_path_buf(), md, format!("cannot read it: {e}")),
            parts: Vec::new(),
        },
    }
}

/// The texts search looks in, in order: the title, then every message's text and choices.
/// The texts search looks in: the title, then every message of every branch (the path
/// shown first), each with every choice.
pub(super) fn parts_of(conv: &Conversation) -> impl Iterator<Item = &str> {
    std::iter::once(conv.title.as_str()).chain(conv.messages.iter().chain(&conv.others).flat_map(
        |m| std::iter::once(m.content.as_str()).chain(m.choices.iter().map(|c| c.text.as_str())),
    ))
}
