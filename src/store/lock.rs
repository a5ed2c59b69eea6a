//! One writer per transcript: an advisory lock (`flock`) on a lock file beside it.
//!
//! The lock file of `dir/name.json` is `dir/.name.json.lock`. The holder writes its
//! process id into it, so a second chat-tui can say who has the conversation open. The
//! lock belongs to the open file: it goes away with the process that held it, however
//! that process ended (`kill -9` included), so a lock file left behind is never an
//! obstacle — only a lock that is actually held is. On release the holder removes the
//! file; a process that opened the old file just before checks, after locking, that the
//! path still names the file it locked, and starts over when it does not.
//!
//! The transcript itself is never locked: saves replace it by renaming a new file over it,
//! which would leave a lock on the old file behind.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Another process holds the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Its process id, as it wrote it (`None` while it has not yet).
    pub pid: Option<u32>,
}

impl Holder {
    /// "chat-tui (pid 1234)" — for messages.
    pub fn describe(&self) -> String {
        match self.pid {
            Some(pid) => format!("chat-tui (pid {pid})"),
            None => "another chat-tui".to_string(),
        }
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} has it open", .0.describe())]
    Held(Holder),
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A held lock. Dropping it releases the lock and removes the lock file.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
    target: PathBuf,
}

impl Lock {
    /// The transcript this lock is for.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Remove the file while still holding the lock, and only if it is still ours.
        if same_file(&self.path, &self.file) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// The lock file for `target`: `.NAME.lock` beside it (names too long for that are
/// shortened and given a hash of the full name, so they stay distinct).
pub fn lock_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let short = if name.len() > 200 {
        let cut: String = name.chars().take(120).collect();
        format!("{cut}-{:016x}", fnv1a(name.as_bytes()))
    } else {
        name
    };
    target.with_file_name(format!(".{short}.lock"))
}

/// Take the lock for `target` (creating its lock file, mode 0600). Fails at once with
/// [`LockError::Held`] when another process (or another lock in this one) holds it.
pub fn acquire(target: &Path) -> Result<Lock, LockError> {
    let path = lock_path(target);
    let io_err = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    // A holder that releases removes the file: if it did so between our open and our
    // lock, we locked a file nobody else can find, so start over (a few times at most).
    for _ in 0..8 {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&path).map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(LockError::Held(Holder {
                    pid: read_pid(&mut file),
                }));
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        if !same_file(&path, &file) {
            continue;
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(io_err)?;
        return Ok(Lock {
            file,
            path,
            target: target.to_path_buf(),
        });
    }
    Err(io_err(io::Error::other(
        "the lock file kept being replaced",
    )))
}

/// Who holds the lock for `target`, if anyone does (this process included, through
/// another lock). Never creates a file.
pub fn holder(target: &Path) -> Option<Holder> {
    let mut file = File::open(lock_path(target)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(fs::TryLockError::WouldBlock) => Some(Holder {
            pid: read_pid(&mut file),
        }),
        Err(fs::TryLockError::Error(_)) => None,
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(32).read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

#[cfg(unix)]
fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(path: &Path, _file: &File) -> bool {
    path.exists()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_the_holder_is_named() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("a.json");
        let lock = acquire(&target).unwrap();
        assert_eq!(lock.target(), target);
        assert_eq!(lock.path(), t.path().join(".a.json.lock"));
        let me = Some(std::process::id());
        assert_eq!(holder(&target), Some(Holder { pid: me }));
        match acquire(&target) {
            Err(LockError::Held(h)) => {
                assert_eq!(h.pid, me);
                assert!(
                    h.describe()
                        .contains(&format!("pid {}", std::process::id()))
                );
            }
            other => panic!("{other:?}"),
        }
        drop(lock);
        assert_eq!(holder(&target), None);
        assert!(
            !t.path().join(".a.json.lock").exists(),
            "released locks leave no file"
        );
        let again = acquire(&target).unwrap();
        drop(again);
    }

    #[test]
    fn a_lock_file_nobody_holds_is_no_obstacle() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("a.json");
        // What a process killed with -9 leaves: the file with its pid, no lock.
        fs::write(lock_path(&target), "999999\n").unwrap();
        assert_eq!(holder(&target), None);
        let lock = acquire(&target).unwrap();
        assert_eq!(
            fs::read_to_string(lock.path()).unwrap().trim(),
            std::process::id().to_string()
        );
    }

    #[test]
    fn holder_never_creates_a_file() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(holder(&t.path().join("x.json")), None);
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_released_and_replaced_lock_file_is_not_trusted() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("a.json");
        let first = acquire(&target).unwrap();
        // Someone opens the lock file, then the holder releases (and removes it).
        let stale = File::open(lock_path(&target)).unwrap();
        drop(first);
        // A lock on the removed file does not count: a new holder takes the path.
        stale.try_lock().unwrap();
        let second = acquire(&target).unwrap();
        assert!(holder(&target).is_some());
        drop(second);
        drop(stale);
    }

    #[test]
    fn long_names_get_short_distinct_lock_files() {
        let dir = Path::new("/x");
        let a = lock_path(&dir.join(format!("{}a.json", "n".repeat(240))));
        let b = lock_path(&dir.join(format!("{}b.json", "n".repeat(240))));
        assert_ne!(a, b);
        assert!(a.file_name().unwrap().len() < 160);
        assert_eq!(lock_path(&dir.join("c.json")), dir.join(".c.json.lock"));
    }

    #[test]
    fn a_missing_folder_is_an_io_error_naming_the_lock_file() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("no/such/a.json");
        match acquire(&target) {
            Err(e @ LockError::Io { .. }) => assert!(e.to_string().contains(".a.json.lock")),
            other => panic!("{other:?}"),
        }
    }
}
