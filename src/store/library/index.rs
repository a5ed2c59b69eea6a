//! `index.json`: the metadata of every transcript, keyed by file name and validated
//! against each file's mtime, size and inode, so listing reads only files that changed.
//! A cache: failing to read or write it costs speed, never data.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::{Entry, INDEX_FILE};
use crate::store::format::{self, FormatError};
use crate::store::save;

const INDEX_FORMAT: &str = "chat-tui-index";
const INDEX_VERSION: u32 = 1;

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

/// `(file name, entry)` for every transcript in `dir`, from the index where it is current
/// and by reading the file where not; rewrites the index when anything changed. Only
/// failing to read the directory itself is an error.
pub(super) fn current(dir: &Path) -> io::Result<Vec<(String, Entry)>> {
    let mut old = read_index(dir);
    let stale_index = old.is_none();
    let mut old = old.take().unwrap_or_default();
    let mut changed = stale_index;
    let mut files: Vec<(String, IndexRecord)> = Vec::with_capacity(old.len());
    let mut to_read: Vec<(String, PathBuf, fs::Metadata)> = Vec::new();
    for de in fs::read_dir(dir)? {
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
        let _ = write_index(dir, &files);
    }
    Ok(files.into_iter().map(|(name, r)| (name, r.entry)).collect())
}

fn index_path(dir: &Path) -> PathBuf {
    dir.join(INDEX_FILE)
}

fn read_index(dir: &Path) -> Option<HashMap<String, IndexRecord>> {
    let bytes = fs::read(index_path(dir)).ok()?;
    let idx: IndexFile = serde_json::from_slice(&bytes).ok()?;
    (idx.format == INDEX_FORMAT && idx.version == INDEX_VERSION).then_some(idx.files)
}

fn write_index(dir: &Path, files: &[(String, IndexRecord)]) -> io::Result<()> {
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
    save::write_atomic(&index_path(dir), &bytes)
}

fn is_transcript_name(name: &str) -> bool {
    name.ends_with(".json") && name != INDEX_FILE && !name.starts_with('.')
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
