//! Writes transcripts off the UI path, one at a time and in order; for autosaves only the
//! latest snapshot of each file is written. Every transcript write goes through the
//! [`Claims`](crate::runtime::claims): the file's lock, and a check that it is still what
//! this process last read or wrote there.

use std::path::PathBuf;
use std::sync::Arc;
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

impl Saver {
    pub fn start(msgs: mpsc::UnboundedSender<Msg>, claims: Shared) -> Saver {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let handle = tokio::spawn(async move {
            let mut jobs = Vec::new();
            while rx.recv_many(&mut jobs, 64).await > 0 {
                // Keep explicit saves and releases, and only the newest autosave per path
                // since the last release.
                let mut keep: Vec<Job> = Vec::new();
                for job in jobs.drain(..) {
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
                for job in keep {
                    let msgs = msgs.clone();
                    let claims = claims.clone();
                    let _ = tokio::task::spawn_blocking(move || run(job, &claims, &msgs)).await;
                }
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

fn run(job: Job, claims: &Shared, msgs: &mpsc::UnboundedSender<Msg>) {
    match job {
        Job::Release(paths) => claims::lock(claims).release(&paths),
        Job::Save(job) => {
            for msg in save(&job, claims) {
                let _ = msgs.send(msg);
            }
        }
    }
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
