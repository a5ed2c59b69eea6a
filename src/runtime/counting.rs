//! The counting thread: token counts (`Effect::CountTokens`) made off the UI thread, their
//! results sent back as `Msg::TokensCounted`. The draft's count goes before message
//! batches waiting with it (it is what the user is looking at). `update()` keeps at most
//! one draft count asked for at a time, so keys typed during a count never queue more.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use crate::action::Msg;
use crate::chat::counts::{CountJob, CountOf};

/// The counting thread, started on the first count.
pub struct Counting {
    jobs: Option<std_mpsc::Sender<CountJob>>,
    msgs: mpsc::UnboundedSender<Msg>,
}

impl Counting {
    pub fn new(msgs: mpsc::UnboundedSender<Msg>) -> Self {
        Self { jobs: None, msgs }
    }

    pub fn count(&mut self, job: CountJob) {
        let jobs = self.jobs.get_or_insert_with(|| {
            let (tx, rx) = std_mpsc::channel();
            let msgs = self.msgs.clone();
            std::thread::Builder::new()
                .name("token-count".into())
                .spawn(move || run(rx, msgs))
                .map(|_| tx)
                .unwrap_or_else(|_| std_mpsc::channel().0)
        });
        if let Err(e) = jobs.send(job) {
            // No thread (it could not start): count here rather than never.
            let _ = self.msgs.send(Msg::TokensCounted(e.0.run()));
        }
    }
}

fn is_draft(job: &CountJob) -> bool {
    job.items
        .iter()
        .any(|(of, _)| matches!(of, CountOf::Draft { .. }))
}

fn run(rx: std_mpsc::Receiver<CountJob>, msgs: mpsc::UnboundedSender<Msg>) {
    let mut queue: VecDeque<CountJob> = VecDeque::new();
    loop {
        if queue.is_empty() {
            match rx.recv() {
                Ok(job) => queue.push_back(job),
                Err(_) => return,
            }
        }
        queue.extend(rx.try_iter());
        let at = queue.iter().position(is_draft).unwrap_or(0);
        let job = queue.remove(at);
        let Some(job) = job else { continue };
        if msgs.send(Msg::TokensCounted(job.run())).is_err() {
            return;
        }
    }
}
