//! Crash-safe, private file writes and reads.
//!
//! A write goes to a fresh temp file in the target's directory (mode 0600), is flushed to
//! disk, renamed over the target and the directory is synced. Until the rename the old
//! file is untouched; after it the new one is complete. No temp file is left behind when
//! a step fails.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::chat::conversation::Conversation;
use crate::store::format::{self, FormatError};

/// Why a transcript could not be loaded. Always names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {source}", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
}

impl LoadError {
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Io { path, .. } | LoadError::Format { path, .. } => path,
        }
    }
}

/// Read and parse a transcript. Never writes.
pub fn load(path: &Path) -> Result<Conversation, LoadError> {
    let bytes = fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    format::parse(&bytes).map_err(|source| LoadError::Format {
        path: path.to_path_buf(),
        source,
    })
}

/// Create `path` (and missing parents) with mode 0700. An existing directory is left as
/// it is: the files inside are 0600 either way.
pub fn ensure_private_dir(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
}

/// Replace `path` with `bytes` atomically (see the module docs). The new file has mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes)).map(|_| ())
}

/// [`write_atomic`], returning the fingerprint of the file written (taken from the new
/// file itself before it replaces the old one, so no other write can slip in between).
pub fn write_atomic_fingerprint(path: &Path, bytes: &[u8]) -> io::Result<Fingerprint> {
    let md = write_atomic_with(path, |f| f.write_all(bytes))?;
    Ok(Fingerprint::new(&md, bytes))
}

/// What a transcript on disk was when this process last read or wrote it: its size,
/// modification time and inode, and a hash of its bytes. Before each save the file is
/// checked against it: a file someone else changed is never overwritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    size: u64,
    mtime: Option<std::time::SystemTime>,
    ino: u64,
    hash: u64,
}

/// What the file at a path is now, against a fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskState {
    /// The same bytes (possibly touched, or rewritten with the same content).
    Same,
    /// Other bytes.
    Changed,
    /// No file there any more.
    Missing,
}

impl Fingerprint {
    /// The fingerprint of `bytes`, as found in a file with metadata `md`.
    pub fn new(md: &fs::Metadata, bytes: &[u8]) -> Self {
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(md);
        #[cfg(not(unix))]
        let ino = 0;
        Fingerprint {
            size: md.len(),
            mtime: md.modified().ok(),
            ino,
            hash: content_hash(bytes),
        }
    }

    /// Read `path` and fingerprint it. Returns the bytes too.
    pub fn read(path: &Path) -> io::Result<(Vec<u8>, Fingerprint)> {
        let (bytes, md) = read_with_metadata(path)?;
        let fp = Fingerprint::new(&md, &bytes);
        Ok((bytes, fp))
    }

    /// Read `path`, and fingerprint it while `parse` reads its bytes: for a large file the
    /// hash is taken on another thread meanwhile (opening a long conversation waits for
    /// the longer of the two, not for both). The same fingerprint as [`Fingerprint::read`].
    pub fn read_parsed<T>(
        path: &Path,
        parse: impl FnOnce(&[u8]) -> T,
    ) -> io::Result<(T, Fingerprint)> {
        /// Below this, a thread costs more than the hash.
        const HASH_APART: usize = 256 << 10;
        let (bytes, md) = read_with_metadata(path)?;
        let (parsed, hash) = std::thread::scope(|s| {
            let hasher = (bytes.len() >= HASH_APART)
                .then(|| {
                    std::thread::Builder::new()
                        .name("hash".into())
                        .spawn_scoped(s, || content_hash(&bytes))
                        .ok()
                })
                .flatten();
            let parsed = parse(&bytes);
            let hash = match hasher.map(|h| h.join()) {
                Some(Ok(hash)) => hash,
                _ => content_hash(&bytes),
            };
            (parsed, hash)
        });
        let mut fp = Fingerprint::new(&md, &[]);
        fp.hash = hash;
        Ok((parsed, fp))
    }

    /// Compare the file at `path` with this fingerprint. Size, time and inode equal: the
    /// same (nothing is read). Otherwise the bytes decide.
    pub fn check(&self, path: &Path) -> io::Result<DiskState> {
        let md = match fs::metadata(path) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DiskState::Missing),
            Err(e) => return Err(e),
        };
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(&md);
        #[cfg(not(unix))]
        let ino = 0;
        if md.len() == self.size && md.modified().ok() == self.mtime && ino == self.ino {
            return Ok(DiskState::Same);
        }
        if md.len() != self.size {
            return Ok(DiskState::Changed);
        }
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DiskState::Missing),
            Err(e) => return Err(e),
        };
        Ok(if content_hash(&bytes) == self.hash {
            DiskState::Same
        } else {
            DiskState::Changed
        })
    }
}

/// The bytes of `path`, and its metadata taken after the read (a write that raced with the
/// read shows as a change later).
fn read_with_metadata(path: &Path) -> io::Result<(Vec<u8>, fs::Metadata)> {
    let mut f = File::open(path)?;
    let md = f.metadata()?;
    let mut bytes = Vec::with_capacity(md.len() as usize);
    advise_huge_pages(&mut bytes);
    io::Read::read_to_end(&mut f, &mut bytes)?;
    let md = f.metadata().unwrap_or(md);
    Ok((bytes, md))
}

/// Ask the kernel for huge pages under a large read buffer (a hint: on a kernel where
/// transparent huge pages are `madvise`, a 6 MB transcript is read into 2 MB pages instead
/// of faulting in 1,500 pages of 4 KB one by one — about a third of its read time here).
#[cfg(target_os = "linux")]
fn advise_huge_pages(buf: &mut Vec<u8>) {
    const HUGE: usize = 2 << 20;
    if buf.capacity() < 2 * HUGE {
        return;
    }
    let start = buf.as_mut_ptr() as usize;
    let end = start + buf.capacity();
    let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
    if to > from {
        // SAFETY: [from, to) lies inside the vector's allocation, which this function
        // borrows mutably; MADV_HUGEPAGE changes how its pages are backed, never their
        // contents, and its failure is harmless (ignored).
        unsafe {
            libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_: &mut Vec<u8>) {}

/// A hash of a file's bytes (only ever compared within one process).
fn content_hash(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// A new file name beside `path` for a conversation that cannot be saved at `path`:
/// `NAME.YYYYMMDD-HHMMSS.json`, with `-2`, `-3`… when that is taken too.
pub fn sibling_path(path: &Path, now: chrono::DateTime<chrono::Local>) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "conversation".into());
    let stem: String = stem.chars().take(100).collect();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "json".into());
    let stamp = now.format("%Y%m%d-%H%M%S");
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{stem}.{stamp}.{ext}")
        } else {
            format!("{stem}.{stamp}-{n}.{ext}")
        };
        let candidate = path.with_file_name(name);
        if !candidate.exists() && !crate::store::lock::lock_path(&candidate).exists() {
            return candidate;
        }
        n += 1;
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Keep well under NAME_MAX whatever the target's name.
    let short: String = name.to_string_lossy().chars().take(64).collect();
    let tmp = format!(".{short}.{}.{n}.{nanos:08x}.tmp", std::process::id());
    Ok(path.with_file_name(tmp))
}

/// The same as [`write_atomic`], with the writing step supplied (tests inject failures).
pub(crate) fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<fs::Metadata> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let (tmp, mut file) = loop {
        let tmp = temp_path(path)?;
        match opts.open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let result = write(&mut file)
        .and_then(|()| file.sync_all())
        .and_then(|()| file.metadata())
        .and_then(|md| {
            drop(file);
            fs::rename(&tmp, path).map(|()| md)
        });
    match result {
        Ok(md) => sync_dir(&dir).map(|()| md),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_private_files_and_leaves_no_temp() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(mode(&p), 0o600);
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(mode(&p), 0o600);
        assert_eq!(names(t.path()), vec!["a.json"]);
    }

    #[test]
    fn private_dirs_are_0700() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("x/y/z");
        ensure_private_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&t.path().join("x")), 0o700);
        ensure_private_dir(&d).unwrap();
    }

    #[test]
    fn a_failing_write_keeps_the_old_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.json");
        write_atomic(&p, b"old content").unwrap();
        // Half the data goes out, then the disk is full.
        let err = write_atomic_with(&p, |f| {
            f.write_all(b"new cont")?;
            Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
        })
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(fs::read(&p).unwrap(), b"old content");
        assert_eq!(names(t.path()), vec!["a.json"]);
    }

    #[test]
    fn a_failing_rename_keeps_the_old_target_and_cleans_up() {
        let t = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: rename(2) must fail.
        let p = t.path().join("a.json");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("inner"), b"keep").unwrap();
        assert!(write_atomic(&p, b"new").is_err());
        assert_eq!(fs::read(p.join("inner")).unwrap(), b"keep");
        assert_eq!(names(t.path()), vec!["a.json"]);
    }

    #[test]
    fn a_read_only_directory_keeps_the_old_file() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("ro");
        fs::create_dir(&d).unwrap();
        let p = d.join("a.json");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o500)).unwrap();
        let probe = fs::File::create(d.join("probe"));
        if probe.is_ok() {
            // Running as root: permissions do not stop us; the fake-writer test covers this.
            fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
            return;
        }
        assert!(write_atomic(&p, b"new").is_err());
        assert_eq!(fs::read(&p).unwrap(), b"old");
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn a_newer_file_is_refused_and_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("future.json");
        let bytes: &[u8] =
            br#"{"format": "chat-tui-transcript", "version": 3, "conversation": {"new": true}}"#;
        fs::write(&p, bytes).unwrap();
        let before = fs::metadata(&p).unwrap().modified().unwrap();
        match load(&p) {
            Err(LoadError::Format {
                source:
                    FormatError::TooNew {
                        found: 3,
                        supported: 2,
                    },
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read(&p).unwrap(), bytes);
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), before);
    }

    #[test]
    fn reading_while_parsing_gives_the_fingerprint_and_bytes_of_a_plain_read() {
        let t = tempfile::tempdir().unwrap();
        // Small (hashed on this thread) and large (hashed on another, in 2 MB pages).
        for len in [7usize, 300 << 10, 5 << 20] {
            let p = t.path().join(format!("{len}.json"));
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let written = write_atomic_fingerprint(&p, &bytes).unwrap();
            let (seen, fp) = Fingerprint::read_parsed(&p, |b| b.to_vec()).unwrap();
            assert_eq!(seen, bytes, "{len}");
            assert_eq!(fp, written, "{len}");
            assert_eq!(fp, Fingerprint::read(&p).unwrap().1, "{len}");
            assert_eq!(fp.check(&p).unwrap(), DiskState::Same);
        }
        let missing = t.path().join("missing.json");
        assert!(Fingerprint::read_parsed(&missing, |b| b.len()).is_err());
    }

    #[test]
    fn a_fingerprint_tells_a_changed_file_from_a_touched_one() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.json");
        let fp = write_atomic_fingerprint(&p, b"one two").unwrap();
        assert_eq!(fp.check(&p).unwrap(), DiskState::Same);
        // Read back: the same fingerprint.
        let (bytes, read) = Fingerprint::read(&p).unwrap();
        assert_eq!(bytes, b"one two");
        assert_eq!(read, fp);
        // Touched (new mtime), same bytes: the same.
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        drop(f);
        assert_eq!(fp.check(&p).unwrap(), DiskState::Same);
        // Same size, other bytes, same mtime as before: changed (the hash decides).
        fs::write(&p, b"one TWO").unwrap();
        assert_eq!(fp.check(&p).unwrap(), DiskState::Changed);
        // Another size: changed without reading.
        fs::write(&p, b"one").unwrap();
        assert_eq!(fp.check(&p).unwrap(), DiskState::Changed);
        // Replaced by rename with the original bytes: the same.
        write_atomic(&p, b"one two").unwrap();
        assert_eq!(fp.check(&p).unwrap(), DiskState::Same);
        fs::remove_file(&p).unwrap();
        assert_eq!(fp.check(&p).unwrap(), DiskState::Missing);
    }

    #[test]
    fn sibling_paths_are_new_files_beside_the_old_one() {
        use chrono::TimeZone;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("notes.json");
        let now = chrono::Local
            .with_ymd_and_hms(2026, 5, 1, 18, 30, 12)
            .unwrap();
        let a = sibling_path(&p, now);
        assert_eq!(a, t.path().join("notes.20260501-183012.json"));
        fs::write(&a, b"x").unwrap();
        let b = sibling_path(&p, now);
        assert_eq!(b, t.path().join("notes.20260501-183012-2.json"));
    }

    #[test]
    fn long_names_still_get_a_temp_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join(format!("{}.json", "n".repeat(240)));
        write_atomic(&p, b"x").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x");
    }

    #[test]
    fn load_names_the_file_and_never_writes() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("bad.json");
        fs::write(&p, b"{\"version\": 1,").unwrap();
        let before = fs::metadata(&p).unwrap().modified().unwrap();
        let e = load(&p).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("bad.json"), "{msg}");
        assert!(msg.contains("line 1"), "{msg}");
        assert_eq!(fs::read(&p).unwrap(), b"{\"version\": 1,");
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), before);
        let e = load(&t.path().join("missing.json")).unwrap_err();
        assert!(matches!(e, LoadError::Io { .. }));
        assert!(e.to_string().contains("missing.json"));
    }
}
