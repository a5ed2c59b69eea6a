//! The full-screen app: terminal setup and restore, the event loop, and carrying out effects.

use std::io::{self, Stdout, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as CtEvent, EventStream, KeyboardEnhancementFlags, PopKeyboardEnhancementFlags,
    PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::action::{Effect, Msg};
use crate::api::client::{Client, ClientConfig};
use crate::app::{self, App, Event};
use crate::chat::conversation::Conversation;
use crate::ui::theme::Theme;
use crate::worker::Worker;

/// At most this often while something changes (~60 fps).
const FRAME: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_millis(100);

/// The latest snapshot sent to the saver, so a panic can still write it.
static LAST_SNAPSHOT: Mutex<Vec<(PathBuf, Arc<Conversation>)>> = Mutex::new(Vec::new());
static ENHANCED_KEYS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

type Term = Terminal<CrosstermBackend<Stdout>>;

/// Raw mode, the alternate screen, bracketed paste, mouse, and (where the terminal reports
/// it) keyboard enhancement so Shift+Enter can be told from Enter.
fn init_terminal() -> io::Result<Term> {
    terminal::enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        EnableBracketedPaste,
        EnableMouseCapture
    )?;
    if matches!(terminal::supports_keyboard_enhancement(), Ok(true)) {
        execute!(
            out,
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )?;
        ENHANCED_KEYS.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let mut t = Terminal::new(CrosstermBackend::new(out))?;
    t.clear()?;
    Ok(t)
}

/// Put the terminal back as it was. Safe to call more than once and from a panic.
pub fn restore_terminal() {
    let mut out = io::stdout();
    if ENHANCED_KEYS.swap(false, std::sync::atomic::Ordering::Relaxed) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

/// On panic: restore the terminal, write the last transcript snapshot and a crash report,
/// then let the default hook print the message on the normal screen.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        if let Ok(mut guard) = LAST_SNAPSHOT.try_lock() {
            for (path, conv) in guard.drain(..) {
                let _ =
                    crate::store::save::write_atomic(&path, &crate::store::format::to_json(&conv));
            }
        }
        if let Some(path) = crate::crash::write_report(info) {
            eprintln!(
                "chat-tui crashed; a report was written to {}",
                path.display()
            );
        }
        previous(info);
    }));
}

/// Everything the loop needs.
pub struct Runner {
    pub app: App,
    pub client_config: ClientConfig,
    /// Probe for a local server at start (first run).
    pub probe_local: bool,
}

/// Run the app until the user quits. The terminal is restored whatever happens.
pub async fn run(runner: Runner) -> anyhow::Result<()> {
    install_panic_hook();
    let mut terminal = init_terminal()?;
    let result = event_loop(&mut terminal, runner).await;
    restore_terminal();
    result
}

async fn event_loop(terminal: &mut Term, runner: Runner) -> anyhow::Result<()> {
    let Runner {
        mut app,
        client_config,
        probe_local,
    } = runner;
    let theme = Theme::default();
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let client = Client::new(client_config)?;
    let mut worker = Worker::new(client, tx.clone());
    let saver = Saver::start(tx.clone());
    // Warm the tokenizer and the highlighter off the UI path.
    {
        let counter = app.counter;
        std::thread::spawn(move || {
            counter.warm_up();
            crate::ui::markdown::warm_up();
        });
    }
    if probe_local {
        tokio::spawn(probe_local_servers(tx.clone()));
    }
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut last_draw = Instant::now() - FRAME;
    let mut batch: Vec<Msg> = Vec::with_capacity(256);
    let mut effects: Vec<Effect> = Vec::new();

    // What the user does is drawn at once; what streams in is drawn at most once a frame.
    let mut input_pending = false;
    loop {
        if app.dirty && (input_pending || last_draw.elapsed() >= FRAME) {
            terminal.draw(|f| crate::ui::layout::draw(f, &mut app, &theme))?;
            app.dirty = false;
            last_draw = Instant::now();
        }
        input_pending = false;
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    let e = match ev {
                        CtEvent::Key(k) => Some(Event::Key(k)),
                        CtEvent::Paste(s) => Some(Event::Paste(s)),
                        CtEvent::Mouse(m) => Some(Event::Mouse(m)),
                        CtEvent::Resize(_, _) => {
                            terminal.autoresize()?;
                            Some(Event::Resize)
                        }
                        _ => None,
                    };
                    if let Some(e) = e {
                        effects.extend(app::update(&mut app, e));
                        input_pending = true;
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    break;
                }
                for m in batch.drain(..) {
                    effects.extend(app::update(&mut app, Event::Task(m)));
                }
            }
            _ = tick.tick() => effects.extend(app::update(&mut app, Event::Tick)),
            _ = tokio::time::sleep_until(next_frame), if app.dirty => {}
            _ = sigterm.recv() => effects.extend(app::on_action(&mut app, crate::action::Action::Quit)),
            _ = sighup.recv() => effects.extend(app::on_action(&mut app, crate::action::Action::Quit)),
        }
        for fx in effects.drain(..) {
            carry_out(fx, &mut app, &mut worker, &saver, &tx);
        }
        if app.quit {
            break;
        }
    }
    drop(worker);
    save_prompt_history(&app.prompt_history);
    saver.finish().await;
    Ok(())
}

fn carry_out(
    fx: Effect,
    app: &mut App,
    worker: &mut Worker,
    saver: &Saver,
    tx: &mpsc::UnboundedSender<Msg>,
) {
    match fx {
        Effect::Send { turn, request } => worker.start(turn, request),
        Effect::Cancel { turn } => worker.cancel(turn),
        Effect::FetchModels => worker.fetch_models(),
        Effect::Save {
            conversation,
            path,
            explicit,
            markdown,
        } => {
            if let Some(path) = path {
                if !explicit && let Ok(mut g) = LAST_SNAPSHOT.lock() {
                    g.retain(|(p, _)| *p != path);
                    g.push((path.clone(), conversation.clone()));
                }
                saver.save(SaveJob {
                    conversation,
                    path,
                    explicit,
                    markdown,
                });
            }
        }
        Effect::Open { path } => {
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                let result = crate::store::save::load(&path)
                    .map(Box::new)
                    .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Opened { path, result });
            });
        }
        Effect::UseServer { base_url, name } => {
            let cfg = ClientConfig {
                base_url,
                api_key: None,
                ..worker.client().config().clone()
            };
            match Client::new(cfg) {
                Ok(c) => {
                    worker.set_client(c);
                    app.endpoint = name.clone();
                    app.conv.endpoint = Some(name.clone());
                    app.notify(crate::app::NoticeKind::Info, format!("using {name}"));
                    app.overlay = Some(crate::app::Overlay::Models {
                        models: Vec::new(),
                        selected: 0,
                        loading: true,
                        error: None,
                    });
                    worker.fetch_models();
                }
                Err(e) => app.notify(crate::app::NoticeKind::Error, e.to_string()),
            }
        }
        Effect::Quit => app.quit = true,
    }
}

/// A write to do.
pub struct SaveJob {
    pub conversation: Arc<Conversation>,
    pub path: PathBuf,
    pub explicit: bool,
    pub markdown: bool,
}

/// Writes transcripts off the UI path, one at a time; for autosaves only the latest
/// snapshot of each file is written.
struct Saver {
    tx: mpsc::UnboundedSender<SaveJob>,
    handle: tokio::task::JoinHandle<()>,
}

impl Saver {
    fn start(msgs: mpsc::UnboundedSender<Msg>) -> Saver {
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

    fn save(&self, job: SaveJob) {
        let _ = self.tx.send(job);
    }

    /// Finish pending writes (bounded wait).
    async fn finish(self) {
        drop(self.tx);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

fn write_job(job: &SaveJob) -> Result<(), String> {
    let bytes = if job.markdown {
        crate::store::export::to_markdown(&job.conversation).into_bytes()
    } else {
        crate::store::format::to_json(&job.conversation)
    };
    if let Some(dir) = job.path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        crate::store::save::ensure_private_dir(dir).map_err(|e| e.to_string())?;
    }
    crate::store::save::write_atomic(&job.path, &bytes).map_err(|e| e.to_string())
}

/// Look for Ollama and llama.cpp on this machine (short timeouts, in the background).
async fn probe_local_servers(tx: mpsc::UnboundedSender<Msg>) {
    let candidates = [
        ("Ollama", "http://127.0.0.1:11434/v1"),
        ("llama.cpp", "http://127.0.0.1:8080/v1"),
    ];
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(300))
        .build()
    else {
        return;
    };
    for (name, url) in candidates {
        if let Ok(r) = http.get(format!("{url}/models")).send().await
            && r.status().is_success()
        {
            let _ = tx.send(Msg::LocalServer(Some((name.to_string(), url.to_string()))));
            return;
        }
    }
    let _ = tx.send(Msg::LocalServer(None));
}

/// Load the prompt history (Up in an empty input).
pub fn load_prompt_history() -> Vec<String> {
    crate::store::prompt_history::load()
}

fn save_prompt_history(items: &[String]) {
    let _ = crate::store::prompt_history::save(items);
}
