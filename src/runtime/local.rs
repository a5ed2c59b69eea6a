//! Carrying out the local model's effects: one job at a time installs (when needed) and
//! starts the server, reports progress as `Msg::Local`, then watches the running server
//! until it ends or is stopped. The server process belongs to the job: when the job is
//! dropped (cancelled, chat-tui quits or panics) the process is killed, and when chat-tui
//! itself is killed the pipe on the server's stdin closes and the launcher exits.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::action::{LocalEvent, Msg};
use crate::local::{Failure, Layout, LocalError, Options, Progress, Report, Step, install, server};

/// How long quitting waits for the server to stop cleanly.
const FINISH_WAIT: Duration = Duration::from_secs(6);

/// The local model's job, if any.
pub struct LocalRunner {
    tx: mpsc::UnboundedSender<Msg>,
    job: Option<Job>,
    /// Where it is installed (tests and `chat-tui local` use the same place).
    layout: Option<Layout>,
}

struct Job {
    id: u64,
    handle: JoinHandle<()>,
    /// Asks a running server to stop cleanly.
    stop: Option<oneshot::Sender<()>>,
}

impl LocalRunner {
    pub fn new(tx: mpsc::UnboundedSender<Msg>) -> Self {
        Self {
            tx,
            job: None,
            layout: Layout::standard(),
        }
    }

    /// Start job `id` (an earlier job is stopped first).
    pub fn start(&mut self, id: u64, options: Options) {
        if let Some(old) = self.job.take() {
            Self::wind_down(old);
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let handle = tokio::spawn(run_job(
            id,
            options,
            self.layout.clone(),
            self.tx.clone(),
            stop_rx,
        ));
        self.job = Some(Job {
            id,
            handle,
            stop: Some(stop_tx),
        });
    }

    /// Esc while installing or starting: drop the work now (pip or the server is killed;
    /// the step under way is not marked installed).
    pub fn cancel(&mut self, id: u64) {
        if let Some(job) = self.job.take_if(|j| j.id == id) {
            job.handle.abort();
        }
    }

    /// Stop a running server cleanly (`Msg::Local` stopped follows).
    pub fn stop(&mut self, id: u64) {
        if let Some(job) = self.job.take_if(|j| j.id == id) {
            Self::wind_down(job);
        }
    }

    /// Stop a job in the background: a running server cleanly, anything else at once.
    fn wind_down(mut job: Job) {
        let asked = job.stop.take().is_some_and(|stop| stop.send(()).is_ok());
        // Asked: the job stops its server and ends by itself.
        if !asked {
            job.handle.abort();
        }
    }

    /// On the way out: stop the server cleanly (briefly), else kill it.
    pub async fn finish(mut self) {
        let Some(mut job) = self.job.take() else {
            return;
        };
        if let Some(stop) = job.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(FINISH_WAIT, &mut job.handle)
            .await
            .is_err()
        {
            job.handle.abort();
            let _ = job.handle.await;
        }
    }
}

/// Install (when needed), start, report, then watch the server.
async fn run_job(
    id: u64,
    options: Options,
    layout: Option<Layout>,
    tx: mpsc::UnboundedSender<Msg>,
    mut stop: oneshot::Receiver<()>,
) {
    let send = {
        let tx = tx.clone();
        move |event: LocalEvent| {
            let _ = tx.send(Msg::Local { job: id, event });
        }
    };
    let Some(layout) = layout else {
        send(LocalEvent::Failed(Failure::new(LocalError::NoDataDir)));
        return;
    };
    // Progress goes straight into the app's channel, in order with what follows.
    let report: Report = {
        let tx = tx.clone();
        Arc::new(move |p: Progress| {
            let _ = tx.send(Msg::Local {
                job: id,
                event: LocalEvent::Progress(p),
            });
        })
    };
    let packages = options.packages();
    let mut plan = install::steps_needed(&layout, &packages);
    plan.push(Step::Start);
    report(Progress::Plan(plan));
    let work = async {
        install::ensure(&layout, &packages, &report).await?;
        report(Progress::Step(Step::Start));
        server::start(&layout, &options, &report).await
    };
    // A stop asked for while still installing or starting ends the job here (dropping the
    // work kills pip or the server).
    let mut srv = tokio::select! {
        r = work => match r {
            Ok(s) => s,
            Err(f) => {
                send(LocalEvent::Failed(f));
                return;
            }
        },
        _ = &mut stop => {
            send(LocalEvent::Stopped);
            return;
        }
    };
    send(LocalEvent::Ready(srv.info.clone()));
    tokio::select! {
        exit = srv.wait() => send(LocalEvent::Exited(exit)),
        _ = stop => {
            srv.stop().await;
            send(LocalEvent::Stopped);
        }
    }
}
