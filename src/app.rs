//! The application state and `update()`: every key, task result and tick goes through here,
//! and what must happen outside (requests, saves) comes back as `Effect`s.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use ratatui_textarea::{TextArea, WrapMode};

use crate::action::{Action, Effect, Msg, TurnId};
use crate::api::error::ApiError;
use crate::api::types::{
    Mode, PARAM_NAMES, Params, Prompt, Request, Role, StreamEvent, Usage, WireMessage,
};
use crate::chat::conversation::Memory;
use crate::chat::conversation::{Conversation, MessageId, Speaker, Status};
use crate::chat::memory::{self, Budget, Plan};
use crate::chat::prompt;
use crate::chat::tokens::{self, TokenCounter};
use crate::commands::{self, Command};
use crate::keymap::{Context, Keymap};
use crate::ui::history::HistoryView;

/// Which pane has the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Input,
    History,
    Params,
}

/// A panel over the others.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    /// `/model` with no name: the server's models.
    Models {
        models: Vec<String>,
        selected: usize,
        loading: bool,
        error: Option<String>,
    },
    /// A local server was found at first run.
    LocalServer {
        name: String,
        url: String,
    },
    Sessions(crate::ui::sessions::SessionsState),
}

/// What kind of notice the status line shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    Info,
    Warning,
    Error,
}

/// A message on the status line.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub kind: NoticeKind,
    pub at: Instant,
}

/// The request in flight.
#[derive(Clone, Debug)]
pub struct CurrentTurn {
    pub turn: TurnId,
    pub kind: CurrentKind,
    pub started: Instant,
    pub first_token: Option<Instant>,
    /// Deltas received (a token each, for most servers).
    pub deltas: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CurrentKind {
    /// Writing into reply `reply`; `append` continues choice `choice` (after `/continue`).
    Reply {
        reply: MessageId,
        append: Option<usize>,
    },
    /// Summarising `ids` before answering `user`.
    Summary {
        ids: Vec<MessageId>,
        user: MessageId,
        text: String,
    },
}

/// Where the conversation is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SaveTarget {
    /// The autosave file in the data dir (None when there is no data dir).
    pub autosave: Option<PathBuf>,
    /// Set by `/save PATH` or by opening a file: saved there from then on.
    pub file: Option<PathBuf>,
}

/// What update() works on.
pub struct App {
    pub conv: Conversation,
    pub counter: TokenCounter,
    pub keymap: Keymap,
    pub input: TextArea<'static>,
    pub view: HistoryView,
    pub focus: Focus,
    pub overlay: Option<Overlay>,
    pub show_params: bool,
    pub params_selected: usize,
    /// The value being edited in the parameters panel.
    pub params_edit: Option<String>,
    pub current: Option<CurrentTurn>,
    next_turn: TurnId,
    pub notice: Option<Notice>,
    /// The last error, until the next request.
    pub last_error: Option<String>,
    /// Usage over this session (all conversations).
    pub session_usage: Usage,
    /// Earlier prompts, oldest first, for Up in an empty input.
    pub prompt_history: Vec<String>,
    history_pos: Option<usize>,
    pub save: SaveTarget,
    last_stream_save: Instant,
    /// Where the app talks to: profile or host, for the status line.
    pub endpoint: String,
    pub context_window_override: Option<u64>,
    /// The context window a server stated when it refused a request as too long.
    pub learned_context_window: Option<u64>,
    pub reply_reserve: Option<u64>,
    /// Stream replies (false: wait for whole replies).
    pub stream: bool,
    /// Local token count of the draft (updated on change).
    pub draft_tokens: u64,
    draft_version: u64,
    counted_version: u64,
    /// Redraw needed.
    pub dirty: bool,
    pub quit: bool,
    /// No key and no base URL: show how to set them.
    pub first_run: bool,
    pub spinner: usize,
}

/// Everything update() takes.
#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Paste(String),
    Mouse(MouseEvent),
    Resize,
    Tick,
    Task(Msg),
    Action(Action),
}

/// Settings the app starts with.
pub struct Start {
    pub conv: Conversation,
    pub keymap: Keymap,
    pub endpoint: String,
    pub context_window: Option<u64>,
    pub reply_reserve: Option<u64>,
    pub stream: bool,
    pub save: SaveTarget,
    pub first_run: bool,
    pub prompt_history: Vec<String>,
}

const STREAM_SAVE_EVERY: Duration = Duration::from_secs(1);
const NOTICE_TTL: Duration = Duration::from_secs(8);

fn new_input() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_wrap_mode(WrapMode::WordOrGlyph);
    t.set_cursor_line_style(ratatui::style::Style::default());
    t.set_placeholder_text(
        "Type a message — Enter sends, Alt+Enter for a new line, /help for commands",
    );
    t.set_max_histories(200);
    t
}

impl App {
    pub fn new(start: Start) -> Self {
        let counter = TokenCounter::for_model(&start.conv.model);
        let mut view = HistoryView::new();
        view.to_bottom();
        Self {
            conv: start.conv,
            counter,
            keymap: start.keymap,
            input: new_input(),
            view,
            focus: Focus::Input,
            overlay: None,
            show_params: false,
            params_selected: 0,
            params_edit: None,
            current: None,
            next_turn: 1,
            notice: None,
            last_error: None,
            session_usage: Usage::default(),
            prompt_history: start.prompt_history,
            history_pos: None,
            save: start.save,
            last_stream_save: Instant::now(),
            endpoint: start.endpoint,
            context_window_override: start.context_window,
            learned_context_window: None,
            reply_reserve: start.reply_reserve,
            stream: start.stream,
            draft_tokens: 0,
            draft_version: 0,
            counted_version: 0,
            dirty: true,
            quit: false,
            first_run: start.first_run,
            spinner: 0,
        }
    }

    /// Count with `counter` from now on; its tables load in the background if needed.
    pub fn set_counter(&mut self, counter: TokenCounter) {
        if !counter.is_ready() {
            std::thread::spawn(move || counter.warm_up());
        }
        self.counter = counter;
    }

    /// The draft as one string.
    pub fn draft(&self) -> String {
        self.input.lines().join("\n")
    }

    pub fn set_draft(&mut self, text: &str) {
        self.input = new_input();
        self.input.insert_str(text);
        self.draft_version += 1;
    }

    pub fn is_busy(&self) -> bool {
        self.current.is_some()
    }

    pub fn notify(&mut self, kind: NoticeKind, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            kind,
            at: Instant::now(),
        });
        self.dirty = true;
    }

    /// The context budget for the current model.
    pub fn budget(&self) -> Option<Budget> {
        let window = self
            .context_window_override
            .or(self.learned_context_window)
            .or_else(|| tokens::context_window(&self.conv.model))?;
        let reserve = self
            .reply_reserve
            .or(self.conv.params.max_tokens.map(u64::from))
            .unwrap_or(1024)
            .min(window / 2);
        Some(Budget {
            context_window: window,
            reply_reserve: reserve,
        })
    }

    /// Local estimate of the next request: the history under the memory strategy plus the draft.
    pub fn next_request_tokens(&self) -> u64 {
        let sys = self
            .conv
            .system
            .as_deref()
            .map(|s| self.counter.count(s) as u64 + 4)
            .unwrap_or(0);
        let msgs = &self.conv.messages;
        let per = |m: &crate::chat::conversation::Message| {
            m.local_tokens.unwrap_or((m.text().len() / 4) as u64) + 4
        };
        let body: u64 = match self.conv.memory {
            Memory::None => 0,
            Memory::Last(n) => {
                let mut turns = 0;
                let mut sum = 0;
                for m in msgs.iter().rev() {
                    if matches!(m.speaker, Speaker::User | Speaker::Assistant) {
                        sum += per(m);
                        if m.speaker == Speaker::User {
                            turns += 1;
                            if turns >= n {
                                break;
                            }
                        }
                    }
                }
                sum
            }
            Memory::Full => msgs
                .iter()
                .filter(|m| matches!(m.speaker, Speaker::User | Speaker::Assistant))
                .map(per)
                .sum(),
            Memory::Summarize => {
                let latest = msgs
                    .iter()
                    .filter(|m| m.speaker == Speaker::Summary)
                    .max_by_key(|m| m.id);
                let covered: std::collections::HashSet<MessageId> = latest
                    .map(|s| s.summary_of.iter().copied().collect())
                    .unwrap_or_default();
                latest.map(per).unwrap_or(0)
                    + msgs
                        .iter()
                        .filter(|m| {
                            matches!(m.speaker, Speaker::User | Speaker::Assistant)
                                && !covered.contains(&m.id)
                        })
                        .map(per)
                        .sum::<u64>()
            }
        };
        sys + body + self.draft_tokens + 4 + 3
    }

    fn alloc_turn(&mut self) -> TurnId {
        let t = self.next_turn;
        self.next_turn += 1;
        t
    }

    /// A snapshot to save, with where to.
    fn save_effect(&mut self) -> Vec<Effect> {
        // The library copy (what `list`, /sessions and --resume see) and, after /save or
        // opening a file, that file too.
        let mut paths: Vec<PathBuf> = self.save.autosave.iter().cloned().collect();
        if let Some(f) = &self.save.file
            && !paths.contains(f)
        {
            paths.push(f.clone());
        }
        if paths.is_empty() {
            return Vec::new();
        }
        self.last_stream_save = Instant::now();
        // One snapshot, shared by every target (and the panic hook).
        let conversation = std::sync::Arc::new(self.conv.clone());
        paths
            .into_iter()
            .map(|path| Effect::Save {
                conversation: conversation.clone(),
                path: Some(path),
                explicit: false,
                markdown: false,
            })
            .collect()
    }

    /// Count the tokens of messages that have no count yet, for at most `budget` of time.
    pub fn count_pending(&mut self, budget: Duration) {
        // Until the tokenizer has loaded (in the background), counting would stall the UI.
        if !self.counter.is_ready() {
            return;
        }
        let started = Instant::now();
        let streaming = self.current.as_ref().and_then(|c| match &c.kind {
            CurrentKind::Reply { reply, .. } => Some(*reply),
            _ => None,
        });
        for m in self.conv.messages.iter_mut().rev() {
            if m.local_tokens.is_none() && Some(m.id) != streaming {
                m.local_tokens = Some(self.counter.count(m.text()) as u64);
                if started.elapsed() >= budget {
                    break;
                }
            }
        }
        if self.counted_version != self.draft_version {
            self.counted_version = self.draft_version;
            self.draft_tokens = self.counter.count(&self.draft()) as u64;
            self.dirty = true;
        }
    }
}

/// The heart of the app.
pub fn update(app: &mut App, ev: Event) -> Vec<Effect> {
    match ev {
        Event::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return Vec::new();
            }
            app.dirty = true;
            on_key(app, key)
        }
        Event::Paste(text) => {
            app.dirty = true;
            if app.overlay.is_some() {
                return Vec::new();
            }
            if app.focus != Focus::Input {
                app.focus = Focus::Input;
            }
            // Pasted text never sends: it goes into the draft, line breaks and all.
            let text = text.replace("\r\n", "\n").replace('\r', "\n");
            app.input.insert_str(&text);
            app.draft_version += 1;
            Vec::new()
        }
        Event::Mouse(m) => {
            match m.kind {
                MouseEventKind::ScrollUp => app.view.scroll_up(3),
                MouseEventKind::ScrollDown => app.view.scroll_down(3),
                _ => return Vec::new(),
            }
            app.dirty = true;
            Vec::new()
        }
        Event::Resize => {
            app.dirty = true;
            Vec::new()
        }
        Event::Tick => {
            if app.current.is_some() {
                app.spinner = app.spinner.wrapping_add(1);
                app.dirty = true;
            }
            if let Some(n) = &app.notice
                && n.kind == NoticeKind::Info
                && n.at.elapsed() > NOTICE_TTL
            {
                app.notice = None;
                app.dirty = true;
            }
            app.count_pending(Duration::from_millis(3));
            Vec::new()
        }
        Event::Task(msg) => on_msg(app, msg),
        Event::Action(a) => {
            app.dirty = true;
            on_action(app, a)
        }
    }
}

fn context(app: &App) -> Context {
    match app.focus {
        Focus::Input => Context::Input,
        Focus::History | Focus::Params => Context::History,
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if app.overlay.is_some() {
        return crate::ui::overlays::on_key(app, key);
    }
    if app.focus == Focus::Params
        && let Some(effects) = crate::ui::params::on_key(app, key)
    {
        return effects;
    }
    let action = app.keymap.lookup(context(app), &key);
    match action {
        Some(Action::HistoryPrev | Action::HistoryNext)
            if !(app.input.is_empty() || app.history_pos.is_some())
                || app.input.lines().len() > 1 =>
        {
            // Inside a draft, Up and Down move the cursor.
            app.input.input(key);
            Vec::new()
        }
        Some(a) => on_action(app, a),
        None => {
            if app.focus == Focus::Input {
                if app.input.input(key) {
                    app.draft_version += 1;
                    app.history_pos = None;
                }
            } else if let crossterm::event::KeyCode::Char(c) = key.code {
                // Typing in the history goes to the input.
                if !key.modifiers.intersects(
                    crossterm::event::KeyModifiers::CONTROL | crossterm::event::KeyModifiers::ALT,
                ) {
                    app.focus = Focus::Input;
                    app.input.insert_char(c);
                    app.draft_version += 1;
                }
            }
            Vec::new()
        }
    }
}

/// Carry out a user action.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    match a {
        Action::Submit => submit(app),
        Action::Newline => {
            app.input.insert_newline();
            app.draft_version += 1;
            Vec::new()
        }
        Action::Cancel => {
            if app.current.is_some() {
                cancel(app)
            } else {
                if app.focus != Focus::Input {
                    app.focus = Focus::Input;
                }
                app.notice = None;
                Vec::new()
            }
        }
        Action::CancelOrQuit => {
            if app.current.is_some() {
                cancel(app)
            } else {
                quit(app)
            }
        }
        Action::Quit => quit(app),
        Action::ScrollUp => {
            app.view.scroll_up(1);
            Vec::new()
        }
        Action::ScrollDown => {
            app.view.scroll_down(1);
            Vec::new()
        }
        Action::PageUp => {
            app.view.page_up();
            Vec::new()
        }
        Action::PageDown => {
            app.view.page_down();
            Vec::new()
        }
        Action::ScrollTop => {
            app.view.to_top();
            Vec::new()
        }
        Action::ScrollBottom => {
            app.view.to_bottom();
            Vec::new()
        }
        Action::NextChoice => switch_choice(app, 1),
        Action::PrevChoice => switch_choice(app, -1),
        Action::ToggleParams => {
            app.show_params = !app.show_params;
            app.focus = if app.show_params {
                Focus::Params
            } else {
                Focus::Input
            };
            Vec::new()
        }
        Action::Help => {
            app.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::FocusNext => {
            app.focus = match app.focus {
                Focus::Input => Focus::History,
                Focus::History if app.show_params => Focus::Params,
                _ => Focus::Input,
            };
            Vec::new()
        }
        Action::HistoryPrev => {
            recall(app, -1);
            Vec::new()
        }
        Action::HistoryNext => {
            recall(app, 1);
            Vec::new()
        }
        Action::Complete => {
            let draft = app.draft();
            if draft.starts_with('/') && !draft.contains('\n') {
                let done = commands::complete(&draft);
                match done.as_slice() {
                    [one] => app.set_draft(one),
                    [] => app.notify(NoticeKind::Info, "no command starts like that"),
                    many => {
                        let common = commands::common_prefix(many);
                        if common.len() > draft.len() {
                            app.set_draft(&common);
                        }
                        app.notify(NoticeKind::Info, many.join("  "));
                    }
                }
            } else {
                app.focus = Focus::History;
            }
            Vec::new()
        }
        Action::Sessions => open_sessions(app),
        Action::NewChat => run_command(app, Command::New),
        Action::Retry => run_command(app, Command::Retry),
    }
}

fn quit(app: &mut App) -> Vec<Effect> {
    app.quit = true;
    let mut fx = app.save_effect();
    fx.push(Effect::Quit);
    fx
}

fn recall(app: &mut App, dir: isize) {
    if app.prompt_history.is_empty() {
        return;
    }
    let len = app.prompt_history.len();
    let pos = match (app.history_pos, dir < 0) {
        (None, true) => Some(len - 1),
        (None, false) => None,
        (Some(0), true) => Some(0),
        (Some(p), true) => Some(p - 1),
        (Some(p), false) if p + 1 < len => Some(p + 1),
        (Some(_), false) => None,
    };
    let text = pos
        .and_then(|p| app.prompt_history.get(p).cloned())
        .unwrap_or_default();
    app.set_draft(&text);
    app.history_pos = pos;
}

fn switch_choice(app: &mut App, delta: isize) -> Vec<Effect> {
    let Some(m) = app
        .conv
        .messages
        .iter_mut()
        .rev()
        .find(|m| m.speaker == Speaker::Assistant)
    else {
        return Vec::new();
    };
    let n = m.choices.len();
    if n < 2 {
        app.notify(
            NoticeKind::Info,
            "this reply has one choice (set n with /set n 3)",
        );
        return Vec::new();
    }
    m.selected = ((m.selected as isize + delta).rem_euclid(n as isize)) as usize;
    m.local_tokens = None;
    m.touch();
    app.save_effect()
}

fn cancel(app: &mut App) -> Vec<Effect> {
    let Some(cur) = app.current.take() else {
        return Vec::new();
    };
    match &cur.kind {
        CurrentKind::Reply { reply, .. } => {
            if let Some(m) = app.conv.get_mut(*reply) {
                m.status = Status::Cancelled;
                m.finished = Some(chrono::Utc::now());
                m.touch();
            }
        }
        CurrentKind::Summary { .. } => {}
    }
    app.notify(NoticeKind::Info, "cancelled");
    let mut fx = vec![Effect::Cancel { turn: cur.turn }];
    fx.extend(app.save_effect());
    fx
}

fn submit(app: &mut App) -> Vec<Effect> {
    let draft = app.draft();
    if draft.trim().is_empty() {
        return Vec::new();
    }
    if draft.trim() == "/panic" && std::env::var_os("CHAT_TUI_TEST_PANIC").is_some() {
        // For the fault tests: a panic in the middle of the app.
        panic!("test panic requested with /panic");
    }
    if let Some(rest) = draft.strip_prefix('/')
        && !rest.starts_with('/')
    {
        return match commands::parse(&draft) {
            Ok(cmd) => {
                // The command failed if it raised an error notice of its own; an earlier
                // error still on the status line does not count.
                let before = app.notice.as_ref().map(|n| n.at);
                let fx = run_command(app, cmd);
                let failed = app
                    .notice
                    .as_ref()
                    .is_some_and(|n| n.kind == NoticeKind::Error && Some(n.at) != before);
                if !failed {
                    remember_prompt(app, &draft);
                    app.set_draft("");
                }
                fx
            }
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                Vec::new()
            }
        };
    }
    // `//text` sends `/text`.
    let text = if draft.starts_with("//") {
        draft[1..].to_string()
    } else {
        draft.clone()
    };
    if still_streaming(app) {
        return Vec::new();
    }
    if let Err(e) = app.conv.params.validate(app.conv.mode) {
        app.notify(NoticeKind::Error, format!("not sent: {e}"));
        return Vec::new();
    }
    remember_prompt(app, &draft);
    app.set_draft("");
    app.draft_tokens = 0;
    send_user_message(app, text, None)
}

fn remember_prompt(app: &mut App, text: &str) {
    if app.prompt_history.last().map(String::as_str) != Some(text) {
        app.prompt_history.push(text.to_string());
        let over = app.prompt_history.len().saturating_sub(1000);
        app.prompt_history.drain(..over);
    }
    app.history_pos = None;
}

/// Append the user's message and ask for the reply. `suffix`: an `/insert`.
pub fn send_user_message(app: &mut App, text: String, suffix: Option<String>) -> Vec<Effect> {
    let id = app.conv.push(Speaker::User, text);
    if let Some(m) = app.conv.get_mut(id) {
        m.local_tokens = Some(app.counter.count(&m.content) as u64);
    }
    app.view.to_bottom();
    let mut fx = app.save_effect();
    fx.extend(ask(app, id, suffix));
    fx
}

/// Plan and send the request that answers user message `user`.
fn ask(app: &mut App, user: MessageId, suffix: Option<String>) -> Vec<Effect> {
    // The notice that reported the last request's error (error notices do not expire)
    // goes with it; other notices (e.g. start-up warnings) stay.
    if let Some(err) = app.last_error.take()
        && app
            .notice
            .as_ref()
            .is_some_and(|n| n.kind == NoticeKind::Error && n.text == err)
    {
        app.notice = None;
    }
    let Some(upto) = app.conv.messages.iter().position(|m| m.id == user) else {
        return Vec::new();
    };
    let plan = if let Some(sfx) = &suffix {
        // An insertion is standalone: the text before the marker, the suffix after it.
        let text = app.conv.messages[upto].content.clone();
        let _ = sfx;
        let tokens = app.counter.count(&text) as u64;
        Plan::Send {
            prompt: Prompt::Completion(text),
            tokens,
            covered: 1,
        }
    } else {
        memory::plan(&app.conv, upto, &app.counter, app.budget())
    };
    match plan {
        Plan::Send { prompt, tokens, .. } => {
            let mut params = app.conv.params.clone();
            if let Some(s) = suffix.clone() {
                params.suffix = Some(s);
            }
            if app.conv.mode == Mode::Completion
                && suffix.is_none()
                && matches!(&prompt, Prompt::Completion(p) if p.ends_with(prompt::ASSISTANT_LABEL))
            {
                params = prompt::with_turn_stop(&params);
            }
            let model = app.conv.model.clone();
            let reply = app.conv.push_reply(&params, &model);
            if let Some(m) = app.conv.get_mut(reply) {
                m.request_tokens = Some(tokens);
                m.suffix = suffix;
            }
            let turn = app.alloc_turn();
            app.current = Some(CurrentTurn {
                turn,
                kind: CurrentKind::Reply {
                    reply,
                    append: None,
                },
                started: Instant::now(),
                first_token: None,
                deltas: 0,
            });
            app.view.to_bottom();
            vec![Effect::Send {
                turn,
                request: Request {
                    model,
                    prompt,
                    params,
                    stream: app.stream,
                },
            }]
        }
        Plan::Summarize {
            ids,
            request,
            tokens_before,
        } => {
            let turn = app.alloc_turn();
            let count = ids.len();
            app.current = Some(CurrentTurn {
                turn,
                kind: CurrentKind::Summary {
                    ids,
                    user,
                    text: String::new(),
                },
                started: Instant::now(),
                first_token: None,
                deltas: 0,
            });
            app.notify(
                NoticeKind::Info,
                format!(
                    "the history ({tokens_before} tokens) is over the budget: summarising {count} earlier messages…"
                ),
            );
            vec![Effect::Send {
                turn,
                request: Request {
                    model: app.conv.model.clone(),
                    prompt: request,
                    params: memory::summary_params(&app.conv.params),
                    stream: app.stream,
                },
            }]
        }
    }
}

fn on_msg(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Stream { turn, event } => on_stream(app, turn, event),
        Msg::Done { turn, result } => on_done(app, turn, result),
        Msg::Models(result) => {
            if let Some(Overlay::Models {
                models,
                loading,
                error,
                ..
            }) = &mut app.overlay
            {
                *loading = false;
                match result {
                    Ok(m) => *models = m,
                    Err(e) => *error = Some(e.to_string()),
                }
                app.dirty = true;
            }
            Vec::new()
        }
        Msg::LocalServer(found) => {
            if let Some((name, url)) = found
                && app.first_run
                && app.overlay.is_none()
            {
                app.overlay = Some(Overlay::LocalServer { name, url });
                app.dirty = true;
            }
            Vec::new()
        }
        Msg::Saved {
            path,
            result,
            explicit,
        } => {
            match result {
                Ok(()) if explicit => {
                    app.notify(NoticeKind::Info, format!("saved to {}", path.display()))
                }
                Ok(()) => {}
                Err(e) => app.notify(
                    NoticeKind::Error,
                    // The reason first: the status line cuts long notices, and the path is long.
                    format!("could not save: {e} — {}", path.display()),
                ),
            }
            Vec::new()
        }
        Msg::Opened { path, result } => match result {
            Ok(conv) => {
                let mut fx = Vec::new();
                if let Some(cur) = app.current.take() {
                    fx.push(Effect::Cancel { turn: cur.turn });
                }
                load_conversation(app, *conv, Some(path.clone()));
                app.notify(NoticeKind::Info, format!("opened {}", path.display()));
                fx
            }
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                Vec::new()
            }
        },
    }
}

/// Replace the conversation (opened, resumed or new).
pub fn load_conversation(app: &mut App, mut conv: Conversation, file: Option<PathBuf>) {
    // An imported OpenAI messages array names no model: keep the one in use.
    if conv.model.trim().is_empty() {
        conv.model = app.conv.model.clone();
    }
    app.set_counter(TokenCounter::for_model(&conv.model));
    app.conv = conv;
    app.save.file = file;
    app.save.autosave = app
        .save
        .autosave
        .as_ref()
        .and_then(|p| p.parent().map(|d| d.join(format!("{}.json", app.conv.id))));
    app.view = HistoryView::new();
    app.view.to_bottom();
    app.last_error = None;
    app.dirty = true;
}

fn on_stream(app: &mut App, turn: TurnId, event: StreamEvent) -> Vec<Effect> {
    let Some(cur) = app.current.as_mut().filter(|c| c.turn == turn) else {
        return Vec::new(); // a cancelled or superseded turn
    };
    app.dirty = true;
    if let StreamEvent::Delta { .. } = &event {
        cur.deltas += 1;
        if cur.first_token.is_none() {
            cur.first_token = Some(Instant::now());
        }
    }
    match &mut cur.kind {
        CurrentKind::Summary { text, .. } => {
            if let StreamEvent::Delta { index: 0, text: t } = event {
                text.push_str(&t);
            }
            Vec::new()
        }
        CurrentKind::Reply { reply, append } => {
            let (reply, append) = (*reply, *append);
            let Some(m) = app.conv.get_mut(reply) else {
                return Vec::new();
            };
            match event {
                StreamEvent::Delta { index, text } => {
                    let i = append.unwrap_or(index as usize);
                    m.choice_mut(i).text.push_str(&text);
                }
                StreamEvent::Finish { index, reason } => {
                    let i = append.unwrap_or(index as usize);
                    m.choice_mut(i).finish_reason = Some(reason);
                }
                StreamEvent::Usage(u) => {
                    let mut total = m.usage.unwrap_or_default();
                    if append.is_some() {
                        total.add(&u);
                    } else {
                        total = u;
                    }
                    m.usage = Some(total);
                    m.touch();
                    app.session_usage.add(&u);
                }
                StreamEvent::Model(name) => {
                    m.model = Some(name);
                }
            }
            if app.last_stream_save.elapsed() >= STREAM_SAVE_EVERY {
                return app.save_effect();
            }
            Vec::new()
        }
    }
}

fn on_done(
    app: &mut App,
    turn: TurnId,
    result: Result<crate::api::types::Outcome, ApiError>,
) -> Vec<Effect> {
    if app.current.as_ref().is_none_or(|c| c.turn != turn) {
        return Vec::new();
    }
    let Some(cur) = app.current.take() else {
        return Vec::new();
    };
    app.dirty = true;
    match cur.kind {
        CurrentKind::Summary { ids, user, text } => match result {
            Ok(_) if !text.trim().is_empty() => {
                app.conv.insert_summary(text.trim().to_string(), ids);
                let mut fx = app.save_effect();
                fx.extend(ask(app, user, None));
                fx
            }
            Ok(_) => fail_summary(app, "the model returned an empty summary".into()),
            Err(e) => fail_summary(app, e.to_string()),
        },
        CurrentKind::Reply { reply, append } => {
            if let Err(e) = &result
                && let Some(fx) = summarize_after_overflow(app, reply, append, e)
            {
                return fx;
            }
            let counter = app.counter;
            let Some(m) = app.conv.get_mut(reply) else {
                return Vec::new();
            };
            m.finished = Some(chrono::Utc::now());
            match result {
                Ok(outcome) => {
                    m.status = Status::Complete;
                    if let Some(model) = outcome.model {
                        m.model = Some(model);
                    }
                    m.local_tokens = Some(counter.count(m.text()) as u64);
                    if !outcome.warnings.is_empty() {
                        let w = outcome.warnings.join("; ");
                        app.notify(NoticeKind::Warning, w);
                    } else if m.choices.iter().any(|c| {
                        c.finish_reason.as_ref() == Some(&crate::api::types::FinishReason::Length)
                    }) {
                        app.notify(
                            NoticeKind::Info,
                            "the reply hit max_tokens (finish_reason length): /continue asks for more",
                        );
                    }
                }
                Err(e) => {
                    m.status = match e {
                        ApiError::Incomplete => Status::Incomplete,
                        _ => Status::Failed {
                            error: e.to_string(),
                        },
                    };
                    m.touch();
                    let mut text = e.to_string();
                    if e.is_context_overflow() && app.conv.memory != Memory::Summarize {
                        text.push_str(" (/memory summarize folds old turns into a summary; /new starts afresh)");
                    }
                    app.last_error = Some(text.clone());
                    app.notify(NoticeKind::Error, text);
                }
            }
            if let Some(m) = app.conv.get_mut(reply) {
                m.touch();
            }
            app.save_effect()
        }
    }
}

/// With `memory summarize`, a server that refuses the request as too long and says how long
/// its context is teaches us the budget: the failed (empty) reply goes, and the question is
/// asked again — which now summarises the oldest turns first. Only once per stated size, so a
/// server that still refuses gets its error shown.
fn summarize_after_overflow(
    app: &mut App,
    reply: MessageId,
    append: Option<usize>,
    e: &ApiError,
) -> Option<Vec<Effect>> {
    if app.conv.memory != Memory::Summarize || append.is_some() || !e.is_context_overflow() {
        return None;
    }
    let window = e.stated_context_window()?;
    if app.learned_context_window == Some(window) || app.context_window_override.is_some() {
        return None;
    }
    let pos = app.conv.messages.iter().position(|m| m.id == reply)?;
    if !app.conv.messages[pos].text().is_empty() {
        return None;
    }
    let user = app.conv.messages[..pos]
        .iter()
        .rev()
        .find(|m| m.speaker == Speaker::User)?
        .id;
    app.learned_context_window = Some(window);
    app.conv.messages.remove(pos);
    app.notify(
        NoticeKind::Info,
        format!(
            "the server's context is {window} tokens: summarising older turns and asking again"
        ),
    );
    Some(ask(app, user, None))
}

fn fail_summary(app: &mut App, error: String) -> Vec<Effect> {
    let text = format!("could not summarise the earlier conversation: {error}");
    let model = app.conv.model.clone();
    let params = app.conv.params.clone();
    let reply = app.conv.push_reply(&params, &model);
    if let Some(m) = app.conv.get_mut(reply) {
        m.status = Status::Failed {
            error: text.clone(),
        };
        m.finished = Some(chrono::Utc::now());
    }
    app.last_error = Some(text.clone());
    app.notify(NoticeKind::Error, text);
    app.save_effect()
}

fn open_sessions(app: &mut App) -> Vec<Effect> {
    let dir = app
        .save
        .autosave
        .as_ref()
        .and_then(|p| p.parent().map(PathBuf::from));
    match dir {
        Some(dir) => {
            app.overlay = Some(Overlay::Sessions(crate::ui::sessions::SessionsState::load(
                &dir,
            )));
        }
        None => app.notify(
            NoticeKind::Error,
            "no data directory: conversations are not being saved",
        ),
    }
    Vec::new()
}

/// Run a `/command`.
pub fn run_command(app: &mut App, cmd: Command) -> Vec<Effect> {
    match cmd {
        Command::Help => {
            app.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Command::Quit => quit(app),
        Command::New => {
            let mut fx = Vec::new();
            if let Some(cur) = app.current.take() {
                fx.push(Effect::Cancel { turn: cur.turn });
            }
            let mut conv =
                Conversation::new(app.conv.model.clone(), app.conv.mode, app.conv.memory);
            conv.system = app.conv.system.clone();
            conv.params = app.conv.params.clone();
            conv.endpoint = app.conv.endpoint.clone();
            load_conversation(app, conv, None);
            app.notify(NoticeKind::Info, "new conversation");
            fx
        }
        Command::Set(name, value) => {
            let mut p = app.conv.params.clone();
            match p.set(&name, &value).and_then(|_| p.validate(app.conv.mode)) {
                Ok(()) => {
                    app.conv.params = p;
                    let shown = app.conv.params.get(&name).unwrap_or_default();
                    let extra = if PARAM_NAMES.contains(&name.as_str()) {
                        ""
                    } else {
                        " (extra body field)"
                    };
                    app.notify(NoticeKind::Info, format!("{name} = {shown}{extra}"));
                    app.save_effect()
                }
                Err(e) => {
                    app.notify(NoticeKind::Error, e.to_string());
                    Vec::new()
                }
            }
        }
        Command::Unset(name) => match app.conv.params.unset(&name) {
            Ok(()) => {
                app.notify(
                    NoticeKind::Info,
                    format!("{name} unset: the server's default applies"),
                );
                app.save_effect()
            }
            Err(e) => {
                app.notify(NoticeKind::Error, e.to_string());
                Vec::new()
            }
        },
        Command::Model(Some(name)) => {
            app.conv.model = name.clone();
            app.learned_context_window = None;
            app.set_counter(TokenCounter::for_model(&name));
            for m in &mut app.conv.messages {
                m.local_tokens = None;
            }
            app.draft_version += 1;
            app.notify(
                NoticeKind::Info,
                format!(
                    "model: {name} (tokens counted with {})",
                    app.counter.label()
                ),
            );
            app.save_effect()
        }
        Command::Model(None) => {
            app.overlay = Some(Overlay::Models {
                models: Vec::new(),
                selected: 0,
                loading: true,
                error: None,
            });
            vec![Effect::FetchModels]
        }
        Command::Mode(mode) => {
            let mut p = app.conv.params.clone();
            if mode == Mode::Chat {
                // Completion-only parameters would make every request invalid.
                p.suffix = None;
                p.best_of = None;
            }
            let dropped = p != app.conv.params;
            app.conv.params = p;
            app.conv.mode = mode;
            app.notify(
                NoticeKind::Info,
                format!(
                    "mode: {mode} ({}){}",
                    match mode {
                        Mode::Chat => "/chat/completions",
                        Mode::Completion => "/completions",
                    },
                    if dropped {
                        "; suffix and best_of unset (completion only)"
                    } else {
                        ""
                    }
                ),
            );
            app.save_effect()
        }
        Command::Memory(m) => {
            app.conv.memory = m;
            app.notify(NoticeKind::Info, format!("memory: {m}"));
            app.save_effect()
        }
        Command::System(text) => {
            app.conv.system = text.filter(|t| !t.trim().is_empty());
            app.notify(
                NoticeKind::Info,
                match &app.conv.system {
                    Some(_) => "system prompt set",
                    None => "system prompt cleared",
                },
            );
            app.save_effect()
        }
        Command::Insert(text) => {
            if app.conv.mode != Mode::Completion {
                app.notify(
                    NoticeKind::Error,
                    "/insert needs completion mode (/mode completion)",
                );
                return Vec::new();
            }
            if still_streaming(app) {
                return Vec::new();
            }
            match prompt::split_insert(&text) {
                Some((before, after)) => send_user_message(app, before, Some(after)),
                None => {
                    app.notify(
                        NoticeKind::Error,
                        "/insert TEXT [insert] TEXT: mark where the reply goes with [insert]",
                    );
                    Vec::new()
                }
            }
        }
        Command::Retry => retry(app),
        Command::Continue => continue_reply(app),
        Command::Save(path) => {
            let markdown = is_markdown(&path);
            if !markdown {
                app.save.file = Some(path.clone());
            }
            vec![Effect::Save {
                conversation: std::sync::Arc::new(app.conv.clone()),
                path: Some(path),
                explicit: true,
                markdown,
            }]
        }
        Command::Export(path) => vec![Effect::Save {
            conversation: std::sync::Arc::new(app.conv.clone()),
            path: Some(path),
            explicit: true,
            markdown: true,
        }],
        Command::Open(path) => vec![Effect::Open { path }],
        Command::Sessions => open_sessions(app),
        Command::Rename(title) => {
            app.conv.title = title;
            app.notify(NoticeKind::Info, "renamed");
            app.save_effect()
        }
    }
}

/// A reply is streaming: say so (a new request must wait for it, or cancel it).
fn still_streaming(app: &mut App) -> bool {
    if app.current.is_some() {
        app.notify(
            NoticeKind::Warning,
            "a reply is still streaming — Esc cancels it",
        );
        true
    } else {
        false
    }
}

fn is_markdown(p: &std::path::Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("md" | "markdown")
    )
}

fn retry(app: &mut App) -> Vec<Effect> {
    if still_streaming(app) {
        return Vec::new();
    }
    // The last user message; its reply (if any, and if last) is replaced.
    let Some(user_pos) = app
        .conv
        .messages
        .iter()
        .rposition(|m| m.speaker == Speaker::User)
    else {
        app.notify(NoticeKind::Info, "nothing to retry yet");
        return Vec::new();
    };
    let user = app.conv.messages[user_pos].id;
    let suffix = app
        .conv
        .messages
        .iter()
        .skip(user_pos + 1)
        .find(|m| m.speaker == Speaker::Assistant)
        .and_then(|m| m.suffix.clone());
    // Replies after the question go (ids only grow, so "after" is "a larger id").
    app.conv
        .messages
        .retain(|m| !(m.speaker == Speaker::Assistant && m.id > user));
    ask(app, user, suffix)
}

fn continue_reply(app: &mut App) -> Vec<Effect> {
    if still_streaming(app) {
        return Vec::new();
    }
    let Some(pos) = app
        .conv
        .messages
        .iter()
        .rposition(|m| m.speaker == Speaker::Assistant)
    else {
        app.notify(NoticeKind::Info, "no reply to continue");
        return Vec::new();
    };
    let reply = app.conv.messages[pos].id;
    let choice = app.conv.messages[pos].selected;
    let partial = app.conv.messages[pos].text().to_string();
    // The conversation up to and including the partial reply, then a request to go on.
    let Some(user_pos) = app.conv.messages[..pos]
        .iter()
        .rposition(|m| m.speaker == Speaker::User)
    else {
        app.notify(NoticeKind::Info, "no question before that reply");
        return Vec::new();
    };
    let prompt = match memory::plan(&app.conv, user_pos, &app.counter, None) {
        Plan::Send {
            prompt: Prompt::Chat(mut p),
            ..
        } => {
            p.push(WireMessage::new(Role::Assistant, partial));
            p.push(WireMessage::new(
                Role::User,
                "Continue exactly where you stopped, without repeating anything.",
            ));
            Prompt::Chat(p)
        }
        Plan::Send {
            prompt: Prompt::Completion(p),
            ..
        } => {
            let sep = if p.ends_with(prompt::ASSISTANT_LABEL) {
                " "
            } else {
                ""
            };
            Prompt::Completion(format!("{p}{sep}{partial}"))
        }
        Plan::Summarize { .. } => return Vec::new(),
    };
    let mut params = app.conv.params.clone();
    params.n = None;
    params.best_of = None;
    if app.conv.mode == Mode::Completion {
        params = prompt::with_turn_stop(&params);
    }
    if let Some(m) = app.conv.get_mut(reply) {
        m.status = Status::Partial;
        if let Some(c) = m.choices.get_mut(choice) {
            c.finish_reason = None;
        }
        m.touch();
    }
    let turn = app.alloc_turn();
    app.current = Some(CurrentTurn {
        turn,
        kind: CurrentKind::Reply {
            reply,
            append: Some(choice),
        },
        started: Instant::now(),
        first_token: None,
        deltas: 0,
    });
    app.view.to_bottom();
    vec![Effect::Send {
        turn,
        request: Request {
            model: app.conv.model.clone(),
            prompt,
            params,
            stream: app.stream,
        },
    }]
}

/// The parameters shown in the panel: name and value (or "default").
pub fn param_rows(params: &Params) -> Vec<(String, Option<String>)> {
    let mut rows: Vec<(String, Option<String>)> = PARAM_NAMES
        .iter()
        .map(|n| (n.to_string(), params.get(n)))
        .collect();
    for (k, v) in &params.extra {
        rows.push((k.clone(), Some(v.to_string())));
    }
    rows
}
