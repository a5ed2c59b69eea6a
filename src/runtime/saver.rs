//! Writes transcripts off the UI path, one at a time and in order; for autosaves only the
//! latest snapshot of each file is written. Every transcript write goes through the
//! [`Claims`](crate::runtime::claims): the file's lock, and a check that it is still what
//! this process last read or wrote there.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::action::Msg;
use crate::chat::conversation::Conversation;
use crate::runtime::claims::{self, Outcome, Shared};

/// A write to do.
pub struct SaveJob {
    pub conversation: Arc<Conversation>,
    pub path: PathBuf,
    pub explicit: bool,
    pub markdown: bool,
    /// The user agreed to replace what is there.
    pub replace: bool,
}

/// What the saver does, in order.
enum Job {
    Save(SaveJob),
    /// Stop writing these files (after the saves before).
    Release(Vec<PathBuf>),
}

pub struct Saver {
    tx: mpsc::UnboundedSender<Job>,
    handle: tokio::task::JoinHandle<()>,
}

/// How often autosaves that failed (a full disk, a folder gone) are tried again.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Autosaves still unwritten when the saver stopped (path, why): said on the terminal after
/// quitting, so nobody leaves believing a conversation is on disk when it is not.
static UNSAVED: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// The autosaves the saver could not write before it stopped (see [`UNSAVED`]).
pub fn unsaved() -> Vec<(PathBuf, String)> {
    UNSAVED.lock().map(|u| u.clone()).unwrap_or_default()
}

/// The newest autosave per path since the last release, with every explicit save and
/// release, in order.
fn coalesce(jobs: impl Iterator<Item = Job>) -> Vec<Job> {
    let mut keep: Vec<Job> = Vec::new();
    for job in jobs {
        if let Job::Save(j) = &job
            && !j.explicit
        {
            let since = keep
                .iter()
                .rposition(|k| matches!(k, Job::Release(_)))
                .map_or(0, |i| i + 1);
            let mut i = since;
            while i < keep.len() {
                if matches!(&keep[i], Job::Save(k) if !k.explicit && k.path == j.path) {
                    keep.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        keep.push(job);
    }
    keep
}

/// An autosave that failed, kept to be tried again (with why it failed).
struct Failed {
    job: SaveJob,
    error: String,
}

impl Saver {
    pub fn start(msgs: mpsc::UnboundedSender<Msg>, claims: Shared) -> Saver {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let handle = tokio::spawn(async move {
            let mut jobs = Vec::new();
            // Autosaves that failed: each holds its snapshot (the conversation may no longer
            // be open) until it is written or a newer snapshot of the same file replaces it.
            let mut failed: Vec<Failed> = Vec::new();
            loop {
                let open = if failed.is_empty() {
                    rx.recv_many(&mut jobs, 64).await > 0
                } else {
                    match tokio::time::timeout(RETRY_EVERY, rx.recv_many(&mut jobs, 64)).await {
                        Ok(n) => n > 0,
                        // Time to try the failed ones again.
                        Err(_) => true,
                    }
                };
                // A newer snapshot of a file replaces its failed one.
                failed.retain(|f| {
                    !jobs
                        .iter()
                        .any(|j| matches!(j, Job::Save(s) if !s.explicit && s.path == f.job.path))
                });
                // The failed ones first (older), then what came in.
                let retries = std::mem::take(&mut failed)
                    .into_iter()
                    .map(|f| (Job::Save(f.job), true));
                let todo: Vec<(Job, bool)> = retries
                    .chain(coalesce(jobs.drain(..)).into_iter().map(|j| (j, false)))
                    .collect();
                let wrote = todo.iter().any(|(j, _)| matches!(j, Job::Save(_)));
                for (job, retry) in todo {
                    let msgs = msgs.clone();
                    let claims = claims.clone();
                    let kept = tokio::task::spawn_blocking(move || match job {
                        Job::Release(paths) => {
                            claims::lock(&claims).release(&paths);
                            None
                        }
                        Job::Save(job) => attempt(job, retry, &claims, &msgs),
                    })
                    .await;
                    if let Ok(Some(f)) = kept {
                        failed.push(f);
                    }
                }
                if wrote {
                    // The snapshots and their JSON are freed: hand the pages back.
                    let _ =
                        tokio::task::spawn_blocking(crate::runtime::memory::release_freed).await;
                }
                if !open {
                    break;
                }
            }
            if let Ok(mut u) = UNSAVED.lock() {
                u.extend(failed.into_iter().map(|f| (f.job.path, f.error)));
            }
        });
        Saver { tx, handle }
    }

    pub fn save(&self, job: SaveJob) {
        let _ = self.tx.send(Job::Save(job));
    }

    /// Release `paths` once the saves asked for before are written.
    pub fn release(&self, paths: Vec<PathBuf>) {
        let _ = self.tx.send(Job::Release(paths));
    }

    /// Finish pending writes (bounded wait).
    pub async fn finish(self) {
        drop(self.tx);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

/// Write `job` and tell the app what became of it; the autosave to keep, when it failed. A
/// `retry` that fails again says nothing (its failure was said once); one that succeeds says
/// the file was saved after all.
fn attempt(
    job: SaveJob,
    retry: bool,
    claims: &Shared,
    msgs: &mpsc::UnboundedSender<Msg>,
) -> Option<Failed> {
    let out = save(&job, claims);
    let error = if job.explicit { None } else { failure(&out) };
    let written = out
        .iter()
        .any(|m| matches!(m, Msg::Saved { result: Ok(()), .. }));
    if !job.explicit && written {
        crate::runtime::terminal::forget_snapshot(&job.path, &job.conversation);
    }
    if retry && error.is_none() {
        let _ = msgs.send(Msg::SaveRecovered {
            path: job.path.clone(),
        });
    }
    if !retry || error.is_none() {
        for m in out {
            let _ = msgs.send(m);
        }
    }
    error.map(|error| Failed { job, error })
}

/// Why an autosave failed, when it did (a write error; not a moved save or a question).
fn failure(out: &[Msg]) -> Option<String> {
    out.iter().find_map(|m| match m {
        Msg::Saved {
            result: Err(e),
            explicit: false,
            ..
        } => Some(e.clone()),
        _ => None,
    })
}

/// Carry out one save; the messages that tell the app what became of it.
pub fn save(job: &SaveJob, claims: &Shared) -> Vec<Msg> {
    let saved = |path: PathBuf, result| Msg::Saved {
        path,
        result,
        explicit: job.explicit,
        markdown: job.markdown,
    };
    if job.markdown {
        let result = write_conversation(&job.conversation, &job.path, true);
        return vec![saved(job.path.clone(), result)];
    }
    let outcome =
        claims::lock(claims).save(&job.conversation, &job.path, job.explicit, job.replace);
    match outcome {
        Outcome::Written(path) => {
            // Keep the library's search index in step (a no-op outside a library).
            crate::store::library::note_saved(&path, &job.conversation);
            vec![saved(path, Ok(()))]
        }
        Outcome::Failed(e) => vec![saved(job.path.clone(), Err(e))],
        Outcome::Ask(what) => vec![Msg::SaveAsk {
            path: job.path.clone(),
            what,
        }],
        Outcome::Moved {
            from,
            to,
            new_id,
            reason,
        } => vec![Msg::SaveMoved {
            from,
            to,
            new_id,
            reason,
        }],
    }
}

/// Write `conversation` as JSON (or Markdown) to `path`, atomically, creating the folder
/// (0700) when it is missing. No lock, no check: for exports (and files nobody else
/// writes).
pub fn write_conversation(
    conversation: &Conversation,
    path: &std::path::Path,
    markdown: bool,
) -> Result<(), String> {
    let bytes = if markdown {
        crate::store::export::to_markdown(conversation).into_bytes()
    } else {
        crate::store::format::to_json(conversation)
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        crate::store::save::ensure_private_dir(dir).map_err(|e| e.to_string())?;
    }
    crate::store::save::write_atomic(path, &bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::Mode;
    use crate::chat::conversation::{Memory, Speaker};
    use crate::runtime::claims::Claims;

    fn conversation(text: &str) -> Arc<Conversation> {
        let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
        c.push(Speaker::User, text);
        Arc::new(c)
    }

    fn autosave(conversation: Arc<Conversation>, path: &std::path::Path) -> SaveJob {
        SaveJob {
            conversation,
            path: path.to_path_buf(),
            explicit: false,
            markdown: false,
            replace: false,
        }
    }

    /// The panic hook's copy of an autosave's snapshot is let go once the snapshot is
    /// written (a session kept one per file it ever saved), and kept while it is not.
    #[test]
    fn a_written_snapshot_is_not_kept_for_the_panic_hook() {
        let dir = tempfile::tempdir().unwrap();
        let claims = Claims::new(None).shared();
        let (tx, _rx) = mpsc::unbounded_channel();
        let path = dir.path().join("written.json");
        let snap = conversation("written");
        crate::runtime::terminal::remember_snapshot(&path, &snap);
        assert!(crate::runtime::terminal::holds_snapshot(&path));
        assert!(attempt(autosave(snap, &path), false, &claims, &tx).is_none());
        assert!(!crate::runtime::terminal::holds_snapshot(&path));
        // A newer snapshot given meanwhile stays when the older one is written.
        let (older, newer) = (conversation("older"), conversation("newer"));
        crate::runtime::terminal::remember_snapshot(&path, &newer);
        assert!(attempt(autosave(older, &path), false, &claims, &tx).is_none());
        assert!(crate::runtime::terminal::holds_snapshot(&path));
        crate::runtime::terminal::forget_snapshot(&path, &newer);
        // One that cannot be written stays.
        let blocker = dir.path().join("library");
        std::fs::write(&blocker, "a file where the folder goes").unwrap();
        let failing = blocker.join("c.json");
        let snap = conversation("not written");
        crate::runtime::terminal::remember_snapshot(&failing, &snap);
        assert!(attempt(autosave(snap.clone(), &failing), false, &claims, &tx).is_some());
        assert!(crate::runtime::terminal::holds_snapshot(&failing));
        crate::runtime::terminal::forget_snapshot(&failing, &snap);
    }

    /// A full disk (here: a folder that cannot be made) fails an autosave; the saver keeps
    /// the snapshot and writes it once it can — even with the conversation long closed.
    #[test]
    fn a_failed_autosave_is_written_when_it_can_be() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let blocker = dir.path().join("library");
            std::fs::write(&blocker, "a file where the folder goes").unwrap();
            let path = blocker.join("c.json");
            let (tx, mut rx) = mpsc::unbounded_channel();
            let saver = Saver::start(tx, Claims::new(None).shared());
            saver.save(autosave(conversation("kept through a failure"), &path));
            match rx.recv().await {
                Some(Msg::Saved { result: Err(_), .. }) => {}
                other => panic!("the first save fails: {other:?}"),
            }
            // Room again: the next try writes it, and says so.
            std::fs::remove_file(&blocker).unwrap();
            let deadline = RETRY_EVERY * 10;
            let recovered = tokio::time::timeout(deadline, async {
                loop {
                    match rx.recv().await {
                        Some(Msg::SaveRecovered { path: p }) => break p,
                        Some(_) => {}
                        None => panic!("the saver stopped"),
                    }
                }
            })
            .await
            .expect("tried again");
            assert_eq!(recovered, path);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("kept through a failure"), "{text}");
            saver.finish().await;
            assert!(unsaved().iter().all(|(p, _)| p != &path));
        });
    }

    /// What still cannot be written when the saver stops is listed for the exit message.
    #[test]
    fn what_cannot_be_written_by_the_end_is_listed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let blocker = dir.path().join("never-a-folder");
            std::fs::write(&blocker, "x").unwrap();
            let path = blocker.join("c.json");
            let (tx, mut rx) = mpsc::unbounded_channel();
            let saver = Saver::start(tx, Claims::new(None).shared());
            saver.save(autosave(conversation("lost?"), &path));
            assert!(matches!(
                rx.recv().await,
                Some(Msg::Saved { result: Err(_), .. })
            ));
            saver.finish().await;
            assert!(unsaved().iter().any(|(p, _)| p == &path), "{:?}", unsaved());
        });
    }
}
