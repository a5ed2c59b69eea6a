//! The built-in local model's state — installing, starting, running, failed — and what
//! keys, `/local` and the job's messages do to it. The work itself (pip, the server
//! process) happens in `runtime::local`; this only decides.

use std::time::Instant;

use crate::action::{Effect, LocalEvent};
use crate::app::turn::{InFlight, Target};
use crate::app::{App, NoticeKind, Overlay};
use crate::chat::conversation::{MessageId, Speaker, Status};
use crate::config::LOCAL_ENDPOINT;
use crate::local::{Bytes, Options, Progress, ServerInfo, Step};

/// The local model, as the app sees it.
#[derive(Clone, Debug, Default)]
pub struct LocalModel {
    /// What to serve (`[local]`, `--local-model`).
    pub options: Options,
    pub phase: Phase,
    /// The current job; messages from older ones are dropped.
    pub job: u64,
    /// Start it with the first effects (`--local`).
    pub autostart: bool,
    /// The first-run probe found no server (the welcome says how to get a model).
    pub probed_none: bool,
}

/// Where the local model stands.
#[derive(Clone, Debug, Default)]
pub enum Phase {
    #[default]
    Off,
    /// Installing or starting.
    Working(Work),
    Running(Running),
    /// It could not be installed or started, or it died.
    Failed(Failed),
}

/// Progress of an install or start, for the progress view.
#[derive(Clone, Debug)]
pub struct Work {
    /// The steps of this run (those done before are left out).
    pub steps: Vec<Step>,
    pub current: Option<Step>,
    /// pip's (or the server's) latest line.
    pub line: Option<String>,
    /// Download progress of the current step.
    pub bytes: Option<Bytes>,
    pub started: Instant,
    /// The elapsed second last drawn (the view redraws once a second).
    pub shown_secs: u64,
}

impl Work {
    fn new() -> Self {
        Self {
            steps: Vec::new(),
            current: None,
            line: None,
            bytes: None,
            started: Instant::now(),
            shown_secs: 0,
        }
    }

    /// Position of the current step (1-based) and how many there are.
    pub fn position(&self) -> Option<(usize, usize)> {
        let cur = self.current?;
        let i = self.steps.iter().position(|s| *s == cur)?;
        Some((i + 1, self.steps.len()))
    }
}

/// A server that answers.
#[derive(Clone, Debug)]
pub struct Running {
    pub info: ServerInfo,
    pub since: Instant,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Failed {
    pub error: String,
    /// pip's or the server's last lines.
    pub lines: Vec<String>,
    /// It was running and stopped by itself (rather than failing to start).
    pub died: bool,
}

impl LocalModel {
    pub fn is_working(&self) -> bool {
        matches!(self.phase, Phase::Working(_))
    }

    pub fn running(&self) -> Option<&Running> {
        match &self.phase {
            Phase::Running(r) => Some(r),
            _ => None,
        }
    }
}

/// Start the local model (`--local`, L in the offer, `/local`).
pub fn start(app: &mut App) -> Vec<Effect> {
    match &app.local.phase {
        Phase::Working(_) => {
            app.notify(
                NoticeKind::Info,
                "the local model is already on its way (Esc cancels)",
            );
            return Vec::new();
        }
        Phase::Running(r) => {
            let text = format!(
                "the local model {} is running at {}",
                r.info.model, r.info.base_url
            );
            app.notify(NoticeKind::Info, text);
            return Vec::new();
        }
        Phase::Off | Phase::Failed(_) => {}
    }
    app.local.job += 1;
    app.local.phase = Phase::Working(Work::new());
    app.conn.first_run = false;
    if app
        .overlay
        .as_ref()
        .is_some_and(|o| matches!(o, Overlay::LocalModel { .. }))
    {
        app.overlay = None;
    }
    app.dirty = true;
    vec![Effect::LocalStart {
        job: app.local.job,
        options: app.local.options.clone(),
    }]
}

/// Esc while it installs or starts: stop, keeping nothing unfinished marked installed.
/// Returns `None` when there is nothing to cancel.
pub fn cancel(app: &mut App) -> Option<Vec<Effect>> {
    match app.local.phase {
        Phase::Working(_) => {
            app.local.phase = Phase::Off;
            app.notify(
                NoticeKind::Info,
                "local model: cancelled — an unfinished step is not kept as installed; /local starts again",
            );
            Some(vec![Effect::LocalCancel { job: app.local.job }])
        }
        // Esc also puts a failure's panel away.
        Phase::Failed(_) => {
            app.local.phase = Phase::Off;
            app.dirty = true;
            Some(Vec::new())
        }
        _ => None,
    }
}

/// `/local stop`.
pub fn stop(app: &mut App) -> Vec<Effect> {
    match &app.local.phase {
        Phase::Working(_) => cancel(app).unwrap_or_default(),
        Phase::Running(_) => {
            let mut fx = Vec::new();
            for cur in take_local_turns(app) {
                fx.push(Effect::Cancel { turn: cur.id });
                if let Some(reply) = cur.reply()
                    && let Some(m) = app.conv.get_mut(reply)
                {
                    m.status = Status::Cancelled;
                    m.finished = Some(chrono::Utc::now());
                    m.touch();
                }
            }
            app.local.phase = Phase::Off;
            app.notify(
                NoticeKind::Info,
                "local model stopped — /local starts it again",
            );
            fx.push(Effect::LocalStop { job: app.local.job });
            fx.extend(app.save_effect());
            fx
        }
        Phase::Off | Phase::Failed(_) => {
            app.notify(NoticeKind::Info, "the local model is not running");
            Vec::new()
        }
    }
}

/// `/local status`: one line on the status line.
pub fn describe(app: &App) -> String {
    match &app.local.phase {
        Phase::Off => format!(
            "local model: not running — /local starts it ({} to download the first time)",
            crate::local::DOWNLOAD_SIZE
        ),
        Phase::Working(w) => format!(
            "local model: {} ({} s)",
            w.current
                .map(Step::label)
                .unwrap_or_else(|| "starting".into()),
            w.started.elapsed().as_secs()
        ),
        Phase::Running(r) => format!(
            "local model: {} at {} (pid {}, context {}), up {} s",
            r.info.model,
            r.info.base_url,
            r.info.pid,
            r.info
                .context
                .map_or_else(|| "?".to_string(), |c| c.to_string()),
            r.since.elapsed().as_secs()
        ),
        Phase::Failed(f) => format!("local model: {}", f.error),
    }
}

/// Is a message to wait for the local model? (Then it is not sent; the draft stays.) Also
/// when the app talks to the local model and it is not running: the message must not go to
/// whatever server the configuration names instead.
pub fn blocks_send(app: &mut App) -> bool {
    let text = match &app.local.phase {
        Phase::Working(_) => {
            "not sent: the local model is not ready yet (the message stays in the input)"
        }
        Phase::Off | Phase::Failed(_) if app.conn.endpoint == LOCAL_ENDPOINT => {
            "not sent: the local model is not running — /local starts it"
        }
        _ => return false,
    };
    app.notify(NoticeKind::Warning, text);
    true
}

/// Redraw once a second while working (the elapsed time).
pub fn on_tick(app: &mut App) {
    if let Phase::Working(w) = &mut app.local.phase {
        let secs = w.started.elapsed().as_secs();
        if secs != w.shown_secs {
            w.shown_secs = secs;
            app.dirty = true;
        }
    }
}

/// News from the job.
pub fn on_event(app: &mut App, job: u64, event: LocalEvent) -> Vec<Effect> {
    if job != app.local.job {
        return Vec::new();
    }
    app.dirty = true;
    match event {
        LocalEvent::Progress(p) => {
            if let Phase::Working(w) = &mut app.local.phase {
                match p {
                    Progress::Plan(steps) => w.steps = steps,
                    Progress::Step(s) => {
                        w.current = Some(s);
                        w.line = None;
                        w.bytes = None;
                    }
                    Progress::Line(l) => w.line = Some(l),
                    Progress::Bytes(b) => w.bytes = Some(b),
                }
            }
            Vec::new()
        }
        LocalEvent::Ready(info) => ready(app, info),
        LocalEvent::Failed(f) => {
            if !app.local.is_working() {
                return Vec::new();
            }
            let error = f.error.to_string();
            app.local.phase = Phase::Failed(Failed {
                error: error.clone(),
                lines: f.lines,
                died: false,
            });
            app.notify(NoticeKind::Error, format!("local model: {error}"));
            Vec::new()
        }
        LocalEvent::Exited(exit) => {
            let Phase::Running(r) = &app.local.phase else {
                return Vec::new();
            };
            let since = r.since;
            let why = exit
                .lines
                .last()
                .map(|l| format!(": {l}"))
                .unwrap_or_default();
            let error = format!("the local server stopped ({}){why}", exit.status);
            app.local.phase = Phase::Failed(Failed {
                // Its lines are shown below it.
                error: format!("the local server stopped ({})", exit.status),
                lines: exit.lines,
                died: true,
            });
            let fx = fail_reply(app, &error, since);
            app.notify(NoticeKind::Error, error);
            if app.overlay.is_none() {
                app.overlay = Some(Overlay::LocalModel { restart: true });
            }
            fx
        }
        LocalEvent::Stopped => {
            if matches!(app.local.phase, Phase::Running(_)) {
                app.local.phase = Phase::Off;
            }
            Vec::new()
        }
    }
}

/// The server answers: talk to it, with its model name and context window.
fn ready(app: &mut App, info: ServerInfo) -> Vec<Effect> {
    if !app.local.is_working() {
        return Vec::new();
    }
    let mut fx = Vec::new();
    app.conn.endpoint = LOCAL_ENDPOINT.to_string();
    app.conn.first_run = false;
    app.conv.endpoint = Some(LOCAL_ENDPOINT.to_string());
    if app.conv.model != info.model {
        app.conv.model = info.model.clone();
        fx.extend(app.use_counter_for(&info.model));
    }
    // The server's own window is the truth (a configured context_window still wins).
    app.tokens.learned_window = info.context;
    // Short, for the status line; the welcome screen and `/local status` say the rest.
    app.notify(
        NoticeKind::Info,
        format!(
            "local model {} ready at 127.0.0.1:{}",
            info.model, info.port
        ),
    );
    fx.push(Effect::UseLocalServer {
        base_url: info.base_url.clone(),
    });
    // Ask it about itself (its window, its tokenizer for exact counts), through the
    // client that now talks to it.
    fx.extend(crate::app::server::model_changed(app));
    app.local.phase = Phase::Running(Running {
        info,
        since: Instant::now(),
    });
    fx
}

/// The requests in flight to the local server, taken out of flight: all but the versions
/// a `/compare` asked of another profile's server.
fn take_local_turns(app: &mut App) -> Vec<InFlight> {
    let elsewhere: Vec<MessageId> = app
        .turns
        .replies()
        .into_iter()
        .filter(|id| {
            app.conv
                .get(*id)
                .and_then(|m| m.target.as_deref())
                .is_some_and(|t| Target::parse(t, &app.conn.profiles).profile.is_some())
        })
        .collect();
    app.turns
        .take_if(|t| !t.reply().is_some_and(|r| elsewhere.contains(&r)))
}

/// The server died: the replies it was writing are marked failed with why (or the last
/// one, when it already ended as cut off or failed — its error said less than this).
fn fail_reply(app: &mut App, error: &str, since: Instant) -> Vec<Effect> {
    let mut fx = Vec::new();
    let mut replies = Vec::new();
    let mut any = false;
    for cur in take_local_turns(app) {
        any = true;
        fx.push(Effect::Cancel { turn: cur.id });
        replies.extend(cur.reply());
    }
    if !any {
        let started =
            chrono::Utc::now() - chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
        replies.extend(
            app.conv
                .messages
                .iter()
                .rev()
                .find(|m| m.speaker == Speaker::Assistant)
                .filter(|m| {
                    matches!(m.status, Status::Incomplete | Status::Failed { .. })
                        && m.finished.is_some_and(|f| f >= started)
                })
                .map(|m| m.id),
        );
    }
    if replies.is_empty() {
        return fx;
    }
    for id in replies {
        if let Some(m) = app.conv.get_mut(id) {
            m.status = Status::Failed {
                error: error.to_string(),
            };
            m.finished = Some(chrono::Utc::now());
            m.touch();
        }
    }
    app.status.last_error = Some(error.to_string());
    fx.extend(app.save_effect());
    fx
}
