//! Carrying out effects: every piece of I/O `update()` asks for happens here, and every
//! result goes back to the loop as a `Msg`. Nothing here touches the app's state.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::action::{Effect, Msg};
use crate::api::client::{Client, ClientConfig};
use crate::runtime::saver::{SaveJob, Saver, write_conversation};
use crate::runtime::terminal;
use crate::runtime::worker::Worker;
use crate::store::library::Library;

/// Runs effects. Owns the request worker and the saver.
pub struct Effects {
    worker: Worker,
    saver: Saver,
    tx: mpsc::UnboundedSender<Msg>,
    listings: Arc<Listings>,
}

/// Library listings and searches, latest wins: one runs at a time, and while it runs only
/// the newest request waits (typing in the sessions filter never queues a search per key).
#[derive(Default)]
struct Listings {
    state: Mutex<ListingState>,
}

#[derive(Default)]
struct ListingState {
    running: bool,
    next: Option<ListJob>,
}

struct ListJob {
    dir: PathBuf,
    query: Option<String>,
    generation: u64,
}

impl Effects {
    pub fn new(client: Client, tx: mpsc::UnboundedSender<Msg>) -> Self {
        Self {
            worker: Worker::new(client, tx.clone()),
            saver: Saver::start(tx.clone()),
            tx,
            listings: Arc::new(Listings::default()),
        }
    }

    /// Carry out `fx`. Returns false for `Effect::Quit`.
    pub fn run(&mut self, fx: Effect) -> bool {
        match fx {
            Effect::Send { turn, request } => self.worker.start(turn, request),
            Effect::Cancel { turn } => self.worker.cancel(turn),
            Effect::FetchModels => self.worker.fetch_models(),
            Effect::Save {
                conversation,
                path,
                explicit,
                markdown,
            } => {
                if !explicit {
                    terminal::remember_snapshot(&path, &conversation);
                }
                self.saver.save(SaveJob {
                    conversation,
                    path,
                    explicit,
                    markdown,
                });
            }
            Effect::Open { path } => self.blocking(move || {
                let result = crate::store::save::load(&path)
                    .map(Box::new)
                    .map_err(|e| e.to_string());
                Msg::Opened { path, result }
            }),
            Effect::ExportFile { source, out } => self.blocking(move || {
                let result = crate::store::save::load(&source)
                    .map_err(|e| e.to_string())
                    .and_then(|conv| write_conversation(&conv, &out, true));
                Msg::Saved {
                    path: out,
                    result,
                    explicit: true,
                }
            }),
            Effect::ListSessions {
                dir,
                query,
                generation,
            } => self.list(ListJob {
                dir,
                query,
                generation,
            }),
            Effect::RenameSession { dir, id, title } => self.blocking(move || {
                let result = Library::open(&dir)
                    .and_then(|lib| lib.rename(&id, &title).map(|_| ()))
                    .map_err(|e| e.to_string());
                Msg::SessionRenamed { id, title, result }
            }),
            Effect::DeleteSession { dir, id, title } => self.blocking(move || {
                let result = Library::open(&dir)
                    .and_then(|lib| lib.delete(&id).map(|_| ()))
                    .map_err(|e| e.to_string());
                Msg::SessionDeleted { title, result }
            }),
            Effect::LoadTokenizer(counter) => {
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    counter.warm_up();
                    let _ = tx.send(Msg::TokenizerReady);
                });
            }
            Effect::UseServer { base_url, name } => {
                let cfg = ClientConfig {
                    base_url,
                    api_key: None,
                    ..self.worker.client().config().clone()
                };
                let result = Client::new(cfg)
                    .map(|c| self.worker.set_client(c))
                    .map_err(|e| e.to_string());
                let _ = self.tx.send(Msg::ServerChanged { name, result });
            }
            Effect::ProbeServer { model, more } => {
                let client = self.worker.client().clone();
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = client.probe(&model, more).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::ServerProbed { model, result });
                });
            }
            Effect::CountTokens {
                generation,
                kind,
                model,
                prompt,
                draft,
            } => {
                let client = self.worker.client().clone();
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    // Each request has its own timeout; this bounds the pair.
                    let limit = crate::api::server::SERVER_TIMEOUT * 2;
                    let result = match tokio::time::timeout(
                        limit,
                        client.count_tokens(kind, &model, &prompt, &draft),
                    )
                    .await
                    {
                        Ok(r) => r.map_err(|e| e.to_string()),
                        Err(_) => Err(format!("no answer within {} s", limit.as_secs())),
                    };
                    let _ = tx.send(Msg::TokensCounted { generation, result });
                });
            }
            Effect::Quit => return false,
        }
        true
    }

    /// Run `job` on the blocking pool; its message goes back to the loop.
    fn blocking(&self, job: impl FnOnce() -> Msg + Send + 'static) {
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(job());
        });
    }

    fn list(&self, job: ListJob) {
        {
            let Ok(mut st) = self.listings.state.lock() else {
                return;
            };
            if st.running {
                st.next = Some(job);
                return;
            }
            st.running = true;
        }
        let listings = self.listings.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let mut job = job;
            loop {
                let result = Library::open(&job.dir)
                    .and_then(|lib| match &job.query {
                        Some(q) => lib.search(q),
                        None => lib.list(),
                    })
                    .map_err(|e| e.to_string());
                let _ = tx.send(Msg::SessionsListed {
                    generation: job.generation,
                    result,
                });
                let Ok(mut st) = listings.state.lock() else {
                    return;
                };
                match st.next.take() {
                    Some(next) => job = next,
                    None => {
                        st.running = false;
                        return;
                    }
                }
            }
        });
    }

    /// Stop the requests, write what is pending.
    pub async fn finish(self) {
        drop(self.worker);
        self.saver.finish().await;
    }
}
