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
    write_atomic_with(path, |f| f.write_all(bytes))
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
) -> io::Result<()> {
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
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp, path)
        });
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(&dir)
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
