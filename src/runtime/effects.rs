//! Carrying out effects: every piece of I/O `update()` asks for happens here, and every
//! result goes back to the loop as a `Msg`. Nothing here touches the app's state.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::action::{Effect, Msg};
use crate::api::client::{Client, ClientConfig};
use crate::config::Settings;
use crate::runtime::claims::{self, Opened, Shared};
use crate::runtime::clipboard::{self, Mux, Native};
use crate::runtime::counting::Counting;
use crate::runtime::local::LocalRunner;
use crate::runtime::saver::{SaveJob, Saver, write_conversation};
use crate::runtime::terminal;
use crate::runtime::worker::Worker;
use crate::store::library::{Entry, Library};

/// Runs effects. Owns the request worker and the saver.
pub struct Effects {
    worker: Worker,
    saver: Saver,
    counting: Counting,
    tx: mpsc::UnboundedSender<Msg>,
    listings: Arc<Listings>,
    claims: Shared,
    local: LocalRunner,
    /// Bytes for the terminal (OSC 52), written by the loop between frames.
    to_terminal: Vec<u8>,
    mux: Mux,
    /// The system clipboard's thread, started at the first copy with a display.
    native: Option<Native>,
    profiles: Arc<Profiles>,
}

/// The clients of the config's other profiles (`/compare PROFILE:MODEL`), each built the
/// first time it is used (its key command, if any, runs then, off the UI path).
#[derive(Default)]
pub struct Profiles {
    settings: BTreeMap<String, Result<Box<Settings>, String>>,
    clients: Mutex<HashMap<String, Client>>,
}

impl Profiles {
    pub fn new(settings: BTreeMap<String, Result<Box<Settings>, String>>) -> Self {
        Self {
            settings,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client of profile `name`: built once (running its key command on the blocking
    /// pool), then shared.
    async fn client(self: Arc<Self>, name: String) -> Result<Client, String> {
        if let Some(c) = self.clients.lock().ok().and_then(|m| m.get(&name).cloned()) {
            return Ok(c);
        }
        let mut settings = match self.settings.get(&name) {
            Some(Ok(s)) => (**s).clone(),
            Some(Err(e)) => return Err(format!("profile {name}: {e}")),
            None => return Err(format!("no profile named {name} in the config")),
        };
        let client = tokio::task::spawn_blocking(move || {
            let cfg = settings.client_config().map_err(|e| e.to_string())?;
            Client::new(cfg).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("profile {name}: {e}"))?;
        if let Ok(mut m) = self.clients.lock() {
            m.insert(name, client.clone());
        }
        Ok(client)
    }
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
    /// `claims`: the files this process writes (those taken at start included);
    /// `profiles`: the config's other profiles (`/compare PROFILE:MODEL`).
    pub fn new(
        client: Client,
        tx: mpsc::UnboundedSender<Msg>,
        claims: Shared,
        profiles: Profiles,
    ) -> Self {
        claims::set_global(&claims);
        Self {
            worker: Worker::new(client, tx.clone()),
            saver: Saver::start(tx.clone(), claims.clone()),
            local: LocalRunner::new(tx.clone()),
            counting: Counting::new(tx.clone()),
            tx,
            listings: Arc::new(Listings::default()),
            claims,
            to_terminal: Vec::new(),
            mux: Mux::from_env(),
            native: None,
            profiles: Arc::new(profiles),
        }
    }

    /// What the effects want written to the terminal (the loop writes it through the
    /// terminal's own writer, between frames).
    pub fn take_terminal_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.to_terminal)
    }

    /// Copy: OSC 52 to the terminal, and the system clipboard when there is a display.
    fn copy(&mut self, text: String, what: String) {
        let chars = text.chars().count();
        let (bytes, payload) = clipboard::osc52(&text, self.mux);
        self.to_terminal.extend_from_slice(&bytes);
        let display = clipboard::display_available(std::env::var("DISPLAY").ok().as_deref());
        if display && self.native.is_none() {
            match Native::arboard() {
                Ok(n) => self.native = Some(n),
                Err(e) => {
                    let _ = self.tx.send(Msg::ClipboardFailed(format!(
                        "copied through the terminal only (OSC 52); system clipboard: {e}"
                    )));
                }
            }
        }
        let native = display.then_some(self.native.as_ref()).flatten();
        let note = (payload > clipboard::OSC52_LIMIT).then(|| {
            format!(
                "{} of OSC 52, over the {} many terminals take: sent anyway{}",
                clipboard::kilobytes(payload),
                clipboard::kilobytes(clipboard::OSC52_LIMIT),
                if native.is_some() {
                    " (the system clipboard has it all)"
                } else {
                    " (the terminal may cut or drop it)"
                }
            )
        });
        if let Some(n) = native {
            let job = n.set(text);
            let tx = self.tx.clone();
            tokio::spawn(async move {
                if let Err(e) = job.await {
                    let _ = tx.send(Msg::ClipboardFailed(format!(
                        "copied through the terminal only (OSC 52); system clipboard: {e}"
                    )));
                }
            });
        }
        let _ = self.tx.send(Msg::Copied { what, chars, note });
    }

    /// Carry out `fx`. Returns false for `Effect::Quit`.
    pub fn run(&mut self, fx: Effect) -> bool {
        match fx {
            Effect::Send { turn, request } => self.worker.start(turn, request),
            Effect::SendWith {
                turn,
                request,
                profile,
            } => {
                let client = self.profiles.clone().client(profile);
                self.worker.start_with(turn, request, client);
            }
            Effect::ExportBranches { conversation, path } => self.blocking(move || {
                let bytes = crate::store::export::to_markdown_all(&conversation);
                let result = write_bytes(&path, bytes.as_bytes());
                Msg::Saved {
                    path,
                    result,
                    explicit: true,
                    markdown: true,
                }
            }),
            Effect::Cancel { turn } => self.worker.cancel(turn),
            Effect::FetchModels => self.worker.fetch_models(),
            Effect::Save {
                conversation,
                path,
                explicit,
                markdown,
                replace,
            } => {
                if !explicit {
                    terminal::remember_snapshot(&path, &conversation);
                }
                self.saver.save(SaveJob {
                    conversation,
                    path,
                    explicit,
                    markdown,
                    replace,
                });
            }
            Effect::Release { paths } => self.saver.release(paths),
            Effect::Open { path } => {
                let claims = self.claims.clone();
                self.blocking(move || open(&claims, path))
            }
            Effect::ExportFile { source, out } => self.blocking(move || {
                let result = crate::store::save::load(&source)
                    .map_err(|e| e.to_string())
                    .and_then(|conv| write_conversation(&conv, &out, true));
                Msg::Saved {
                    path: out,
                    result,
                    explicit: true,
                    markdown: true,
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
            Effect::RenameSession { dir, id, title } => {
                let claims = self.claims.clone();
                self.blocking(move || {
                    let result = Library::open(&dir)
                        .map_err(|e| e.to_string())
                        .and_then(|lib| {
                            not_held(&claims, &lib, &id, "rename")?;
                            lib.rename(&id, &title)
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        });
                    Msg::SessionRenamed { id, title, result }
                })
            }
            Effect::DeleteSession { dir, id, title } => {
                let claims = self.claims.clone();
                self.blocking(move || {
                    let result = Library::open(&dir)
                        .map_err(|e| e.to_string())
                        .and_then(|lib| {
                            not_held(&claims, &lib, &id, "delete")?;
                            lib.delete(&id).map(|_| ()).map_err(|e| e.to_string())
                        });
                    Msg::SessionDeleted { title, result }
                })
            }
            Effect::PrepareClient => {
                let client = self.worker.client().clone();
                // A failure is reported by the first request that needs the client.
                tokio::task::spawn_blocking(move || client.warm());
            }
            Effect::LoadTokenizer(counter) => {
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    counter.warm_up();
                    let _ = tx.send(Msg::TokenizerReady);
                });
            }
            Effect::CountTokens(job) => self.counting.count(job),
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
            Effect::LocalStart { job, options } => self.local.start(job, options),
            Effect::LocalCancel { job } => self.local.cancel(job),
            Effect::LocalStop { job } => self.local.stop(job),
            Effect::UseLocalServer { base_url } => {
                let cfg = ClientConfig {
                    base_url,
                    // The local server wants no key: never send one there.
                    api_key: None,
                    ..self.worker.client().config().clone()
                };
                match Client::new(cfg) {
                    Ok(c) => self.worker.set_client(c),
                    Err(e) => {
                        let _ = self.tx.send(Msg::ServerChanged {
                            name: crate::config::LOCAL_ENDPOINT.into(),
                            result: Err(e.to_string()),
                        });
                    }
                }
            }
            Effect::Copy { text, what } => self.copy(text, what),
            // Carried out by the loop, which owns the terminal (runtime/handover.rs).
            Effect::Edit { .. } | Effect::Suspend => {}
            Effect::ProbeServer { model, more } => {
                let client = self.worker.client().clone();
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = client.probe(&model, more).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::ServerProbed { model, result });
                });
            }
            Effect::CountExact {
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
                    let _ = tx.send(Msg::ExactCounted { generation, result });
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
                run_listing(&job, &listings, &tx);
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

    /// Stop the requests and the local model, write what is pending, release the locks.
    pub async fn finish(self) {
        drop(self.worker);
        tokio::join!(self.saver.finish(), self.local.finish());
        if let Some(n) = self.native {
            n.finish(std::time::Duration::from_millis(500)).await;
        }
        let held = claims::lock(&self.claims).locked();
        claims::lock(&self.claims).release(&held);
    }
}

/// Read a transcript for `/open` or the sessions browser, taking its files for this
/// process unless another one writes them.
fn open(claims: &Shared, path: PathBuf) -> Msg {
    let library = claims::lock(claims).library().map(PathBuf::from);
    let opened = claims::lock(claims).open(&path, |conv| {
        library
            .iter()
            .map(|lib| crate::store::library::path_in(lib, &conv.id))
            .collect()
    });
    match opened {
        Ok(Opened::Ready(conv)) => Msg::Opened {
            path,
            result: Ok(Box::new(conv)),
            held: None,
        },
        Ok(Opened::Held { conv, holder, .. }) => Msg::Opened {
            path,
            result: Ok(Box::new(conv)),
            held: Some(holder),
        },
        Err(e) => Msg::Opened {
            path,
            result: Err(e.to_string()),
            held: None,
        },
    }
}

/// Refuse to change a saved conversation another chat-tui has open.
fn not_held(claims: &Shared, lib: &Library, id: &str, what: &str) -> Result<(), String> {
    let e = lib.find(id).map_err(|e| e.to_string())?;
    match claims::lock(claims).other_holder(&e.path) {
        Some(h) => Err(format!(
            "cannot {what} \"{}\": {} has it open (do it there)",
            e.title,
            h.describe()
        )),
        None => Ok(()),
    }
}

/// Write `bytes` to `path` atomically, creating its folder (0700) when missing.
fn write_bytes(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        crate::store::save::ensure_private_dir(dir).map_err(|e| e.to_string())?;
    }
    crate::store::save::write_atomic(path, bytes).map_err(|e| e.to_string())
}

/// One listing or search. A search streams: its first matches go out at once
/// (`Msg::SessionsListed` with `partial`), the rest as `Msg::SessionsMore`; it stops as soon
/// as a newer request waits (the browser would drop its results anyway).
fn run_listing(job: &ListJob, listings: &Listings, tx: &mpsc::UnboundedSender<Msg>) {
    let generation = job.generation;
    let lib = match Library::open(&job.dir) {
        Ok(lib) => lib,
        Err(e) => {
            let _ = tx.send(Msg::SessionsListed {
                generation,
                result: Err(e.to_string()),
                partial: false,
            });
            return;
        }
    };
    let Some(query) = &job.query else {
        let _ = tx.send(Msg::SessionsListed {
            generation,
            result: lib.list_now().map_err(|e| e.to_string()),
            partial: false,
        });
        return;
    };
    let superseded = || listings.state.lock().map_or(true, |st| st.next.is_some());
    let mut sent_first = false;
    let mut send = |entries: Vec<Entry>, partial: bool| {
        let msg = if std::mem::replace(&mut sent_first, true) {
            Msg::SessionsMore {
                generation,
                entries,
                partial,
            }
        } else {
            Msg::SessionsListed {
                generation,
                result: Ok(entries),
                partial,
            }
        };
        let _ = tx.send(msg);
    };
    let mut stopped = false;
    let result = lib.search_streamed(query, |batch| {
        send(batch, true);
        stopped = superseded();
        !stopped
    });
    match result {
        // The search is over: say so (an empty last batch).
        Ok(()) if !stopped => send(Vec::new(), false),
        Ok(()) => {}
        Err(e) => {
            let _ = tx.send(Msg::SessionsListed {
                generation,
                result: Err(e.to_string()),
                partial: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_profile_that_cannot_be_used_says_why() {
        let mut map = BTreeMap::new();
        map.insert(
            "broken".to_string(),
            Err("api_key_env names `NOPE`, which is not set".to_string()),
        );
        let p = Arc::new(Profiles::new(map));
        let e = p.clone().client("broken".into()).await.err().unwrap();
        assert!(e.starts_with("profile broken: api_key_env"), "{e}");
        let e = p.client("elsewhere".into()).await.err().unwrap();
        assert!(e.contains("no profile named elsewhere"), "{e}");
    }
}
