//! Writes transcripts off the UI path, one at a time; for autosaves only the latest
//! snapshot of each file is written.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::action::Msg;
use crate::chat::conversation::Conversation;

/// A write to do.
pub struct SaveJob {
    pub conversation: Arc<Conversation>,
    pub path: PathBuf,
    pub explicit: bool,
    pub markdown: bool,
}

pub struct Saver {
    tx: mpsc::UnboundedSender<SaveJob>,
    handle: tokio::task::JoinHandle<()>,
}

impl Saver {
    pub fn start(msgs: mpsc::UnboundedSender<Msg>) -> Saver {
        let (tx, mut rx) = mpsc::unbounded_channel::<SaveJob>();
        let handle = tokio::spawn(async move {
            let mut jobs = Vec::new();
            while rx.recv_many(&mut jobs, 64).await > 0 {
                // Keep explicit saves, and only the newest autosave per path.
                let mut keep: Vec<SaveJob> = Vec::new();
                for job in jobs.drain(..) {
                    if !job.explicit {
                        keep.retain(|k| k.explicit || k.path != job.path);
                    }
                    keep.push(job);
                }
                for job in keep {
                    let msgs = msgs.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        let result = write_job(&job);
                        let _ = msgs.send(Msg::Saved {
                            path: job.path.clone(),
                            result,
                            explicit: job.explicit,
                        });
                    })
                    .await;
                }
            }
        });
        Saver { tx, handle }
    }

    pub fn save(&self, job: SaveJob) {
        let _ = self.tx.send(job);
    }

    /// Finish pending writes (bounded wait).
    pub async fn finish(self) {
        drop(self.tx);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

/// Write `conversation` as JSON (or Markdown) to `path`, atomically, creating the folder
/// (0700) when it is missing.
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

fn write_job(job: &SaveJob) -> Result<(), String> {
    write_conversation(&job.conversation, &job.path, job.markdown)?;
    if !job.markdown {
        // Keep the library's search index in step (a no-op outside a library).
        crate::store::library::note_saved(&job.path, &job.conversation);
    }
    Ok(())
}
