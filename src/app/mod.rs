//! The application state and `update()`: every key, paste, tick and background result goes
//! through [`update`], which changes the state and returns the [`Effect`]s (requests, saves,
//! listings…) for the runtime to carry out. No I/O happens here.
//!
//! Keys become [`Action`]s through the key map, for the context on top (a panel, else the
//! focused pane); each pane's actions are handled in its own module.

pub mod branches;
pub mod command;
pub mod compare;
mod conversation;
pub mod custody;
pub mod draft;
pub mod inspector;
pub mod local;
pub mod logprobs;
pub mod overlay;
pub mod params;
mod results;
pub mod selection;
pub mod server;
pub mod sessions;
pub mod tokens;
pub mod turn;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};

use crate::action::{Action, Effect, Msg, TurnId};
use crate::chat::conversation::{Conversation, MessageId};
use crate::chat::memory::{self, Budget};
use crate::chat::tokens::TokenCounter;
use crate::keymap::{Context, Keymap};
use crate::ui::conversation::ConversationView;

pub use branches::{BranchesPane, Editing};
pub use command::CommandError;
pub use compare::ComparePane;
pub use custody::{Custody, HeldPanel, ReadOnly};
pub use draft::Draft;
pub use inspector::InspectorPane;
pub use overlay::Overlay;
pub use params::ParamsPane;
pub use selection::Selection;
pub use sessions::{SessionsMode, SessionsPane};
pub use tokens::Tokens;
pub use turn::{InFlight, Purpose, Target, Turns};

/// Which pane has the keyboard (when no panel is on top).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Input,
    Conversation,
    Params,
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

/// The status line's own state.
#[derive(Clone, Debug, Default)]
pub struct StatusLine {
    pub notice: Option<Notice>,
    /// The last request's error, until the next request.
    pub last_error: Option<String>,
    /// Frame of the busy spinner.
    pub spinner: usize,
}

/// Where the app talks to.
#[derive(Clone, Debug)]
pub struct Connection {
    /// The profile or host, for the status line.
    pub endpoint: String,
    /// Stream replies (false: wait for whole replies).
    pub stream: bool,
    /// No key and no base URL: show how to set them.
    pub first_run: bool,
    /// The fault tests' `/panic` (set from the environment at start).
    pub test_panic: bool,
    /// The home folder, for `~/` in command paths (read at start).
    pub home: Option<PathBuf>,
    /// The first-run look for a local server.
    pub probe: Probe,
    /// The config's profiles, for `/compare PROFILE:MODEL` (read at start).
    pub profiles: Vec<String>,
    /// The server's base URL (read at start), for the inspector's next request.
    pub base_url: String,
    /// The API key as the inspector may show it (`sk-…abcd`), when there is one. Never the
    /// key itself.
    pub key_mask: Option<String>,
}

/// The first-run look for a model server on this machine, as the welcome text tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Not looking (a key or a server is configured).
    Off,
    Looking,
    Found {
        name: String,
        url: String,
    },
    NotFound,
}

/// Where the conversation is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SaveTarget {
    /// The autosave file in the library (None when there is no data dir).
    pub autosave: Option<PathBuf>,
    /// Set by `/save PATH` or by opening a file: saved there from then on.
    pub file: Option<PathBuf>,
}

impl SaveTarget {
    /// The library folder (where the autosave file lives).
    pub fn library(&self) -> Option<PathBuf> {
        self.autosave
            .as_ref()
            .and_then(|p| p.parent().map(PathBuf::from))
    }
}

/// The state `update()` works on.
pub struct App {
    pub conv: Conversation,
    pub keymap: Keymap,
    pub draft: Draft,
    /// The requests in flight (several for `/compare`).
    pub turns: Turns,
    /// A question being edited in the input (`/edit`, `e`): sending it starts a branch.
    pub editing: Option<Editing>,
    /// The conversation pane's scroll position and render cache (widget state: the view
    /// draws through it; `update()` only scrolls it).
    pub view: RefCell<ConversationView>,
    pub focus: Focus,
    /// The message cursor of the conversation pane (highlighted while the pane has focus).
    pub selected: Option<MessageId>,
    /// Text selected with the mouse in the conversation pane.
    pub selection: Selection,
    pub params: ParamsPane,
    pub overlay: Option<Overlay>,
    pub status: StatusLine,
    pub tokens: Tokens,
    /// What the server knows, what the model accepts, what replies cost.
    pub server: server::ServerState,
    pub conn: Connection,
    pub save: SaveTarget,
    /// Read-only, moved saves, and what the conversation was when last saved.
    pub custody: Custody,
    /// The built-in local model (`--local`, `/local`).
    pub local: local::LocalModel,
    last_stream_save: Instant,
    next_turn: TurnId,
    /// Redraw needed.
    /// Replies' tokens tinted by probability in the conversation pane (`/logprobs color`):
    /// for the session.
    pub tint: bool,
    pub dirty: bool,
    pub quit: bool,
}

/// Everything update() takes.
#[derive(Debug)]
pub enum Event {
    Key(KeyEvent),
    Paste(String),
    Mouse(MouseEvent),
    Resize,
    Tick,
    /// The result of an effect.
    Msg(Msg),
    Action(Action),
}

/// What the app starts with.
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

impl App {
    pub fn new(start: Start) -> Self {
        let counter = TokenCounter::for_model(&start.conv.model);
        let mut view = ConversationView::new();
        view.to_bottom();
        let mut custody = Custody::new(start.save.library());
        custody.opening();
        Self {
            conv: start.conv,
            keymap: start.keymap,
            draft: Draft::new(start.prompt_history),
            turns: Turns::default(),
            editing: None,
            view: RefCell::new(view),
            focus: Focus::Input,
            selected: None,
            selection: Selection::default(),
            params: ParamsPane::default(),
            overlay: None,
            status: StatusLine::default(),
            tokens: Tokens::new(counter, start.context_window, start.reply_reserve),
            server: server::ServerState::default(),
            conn: Connection {
                endpoint: start.endpoint,
                stream: start.stream,
                first_run: start.first_run,
                test_panic: false,
                home: None,
                probe: if start.first_run {
                    Probe::Looking
                } else {
                    Probe::Off
                },
                profiles: Vec::new(),
                base_url: String::new(),
                key_mask: None,
            },
            save: start.save,
            custody,
            local: local::LocalModel::default(),
            last_stream_save: Instant::now(),
            next_turn: 1,
            tint: false,
            dirty: true,
            quit: false,
        }
    }

    /// The effects to run once at start (loading the token counter's tables; asking the
    /// server about itself; with `--local`, starting the local model).
    pub fn start_effects(&mut self) -> Vec<Effect> {
        self.custody.settle(&self.conv);
        let mut fx = vec![
            Effect::PrepareClient,
            Effect::LoadTokenizer(*self.tokens.counter()),
        ];
        if std::mem::take(&mut self.local.autostart) {
            // The local server is asked about itself once it answers (`local::ready`).
            fx.extend(local::start(self));
        } else {
            fx.extend(server::start_effects(self));
        }
        fx
    }

    /// Count with the counter for `model` from now on; its tables load in the background.
    fn use_counter_for(&mut self, model: &str) -> Vec<Effect> {
        let counter = TokenCounter::for_model(model);
        self.tokens.set_counter(counter);
        if counter.is_ready() {
            Vec::new()
        } else {
            vec![Effect::LoadTokenizer(counter)]
        }
    }

    pub fn is_busy(&self) -> bool {
        !self.turns.is_empty()
    }

    pub fn notify(&mut self, kind: NoticeKind, text: impl Into<String>) {
        self.status.notice = Some(Notice {
            text: text.into(),
            kind,
            at: Instant::now(),
        });
        self.dirty = true;
    }

    /// The draft as one string.
    pub fn draft_text(&self) -> String {
        self.draft.text()
    }

    pub fn set_draft(&mut self, text: &str) {
        self.draft.set(text);
    }

    /// The context budget for the current model: the configured window, else the one a
    /// server stated when it refused a request, else the one it states when asked, else the
    /// known window of the model.
    pub fn budget(&self) -> Option<Budget> {
        let t = &self.tokens;
        let window = t
            .window_override
            .or(t.learned_window)
            .or_else(|| server::context_window(self).map(|(n, _)| n))
            .or_else(|| crate::chat::tokens::context_window(&self.conv.model))?;
        let reserve = t
            .reply_reserve
            .or(self.conv.params.max_tokens.map(u64::from))
            .unwrap_or(1024)
            .min(window / 2);
        Some(Budget {
            context_window: window,
            reply_reserve: reserve,
        })
    }

    /// The local count of what Enter would send now (the memory planner's own count), or
    /// `None` while messages it needs are still being counted.
    pub fn next_request_tokens(&self) -> Option<u64> {
        memory::next_request_tokens(&self.conv, &self.tokens.cache, self.tokens.draft)
    }

    fn alloc_turn(&mut self) -> TurnId {
        let t = self.next_turn;
        self.next_turn += 1;
        t
    }

    /// The files the conversation is written to: the library copy and (after `/save` or
    /// opening a file) that file too.
    pub fn save_paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.save.autosave.iter().cloned().collect();
        if let Some(f) = &self.save.file
            && !paths.contains(f)
        {
            paths.push(f.clone());
        }
        paths
    }

    /// Save effects: one snapshot, written to every file of [`App::save_paths`]. None for
    /// a conversation without a message, or one open read-only.
    fn save_effect(&mut self) -> Vec<Effect> {
        let paths = self.save_paths();
        if paths.is_empty() || self.conv.messages.is_empty() || self.custody.read_only.is_some() {
            return Vec::new();
        }
        self.last_stream_save = Instant::now();
        let conversation = Arc::new(self.conv.clone());
        self.custody.saved(&conversation);
        paths
            .into_iter()
            .map(|path| Effect::Save {
                conversation: conversation.clone(),
                path,
                explicit: false,
                markdown: false,
                replace: false,
            })
            .collect()
    }

    /// Count what the background counting would, here and now, for at most `budget` (for
    /// tests and benchmarks; the app counts off the UI thread: `tokens::request`).
    pub fn count_pending(&mut self, budget: Duration) {
        tokens::count_now(self, budget);
    }

    /// The context keys are looked up in: the panel on top, else the focused pane.
    pub fn key_context(&self) -> Context {
        if let Some(o) = &self.overlay {
            return o.context();
        }
        match self.focus {
            Focus::Input => Context::Input,
            Focus::Conversation => Context::Conversation,
            Focus::Params if self.params.edit.is_some() => Context::ParamEdit,
            Focus::Params => Context::Params,
        }
    }

    /// Replace the conversation (opened, resumed or new). A reply still streaming stops,
    /// kept with what arrived and saved; the files of the conversation before are released
    /// (after its pending saves).
    pub fn load_conversation(
        &mut self,
        mut conv: Conversation,
        file: Option<PathBuf>,
    ) -> Vec<Effect> {
        let mut fx = if !self.turns.is_empty() {
            turn::cancel(self)
        } else {
            Vec::new()
        };
        adopt_model(&mut conv, &self.conv.model);
        let old = if self.custody.read_only.is_some() {
            Vec::new()
        } else {
            self.save_paths()
        };
        let other_model = conv.model != self.conv.model;
        fx.extend(self.use_counter_for(&conv.model));
        self.tokens.cache.clear();
        self.conv = conv;
        self.custody.read_only = None;
        self.custody.opened(&self.conv);
        self.save.file = file;
        self.save.autosave = self
            .custody
            .library
            .as_ref()
            .map(|d| crate::store::library::path_in(d, &self.conv.id));
        let new = self.save_paths();
        let release: Vec<PathBuf> = old.into_iter().filter(|p| !new.contains(p)).collect();
        if !release.is_empty() {
            fx.push(Effect::Release { paths: release });
        }
        let mut view = ConversationView::new();
        view.to_bottom();
        self.view = RefCell::new(view);
        self.selection.clear();
        self.status.last_error = None;
        self.editing = None;
        self.selected = None;
        self.dirty = true;
        if other_model {
            fx.extend(server::model_changed(self));
        }
        fx
    }

    /// What was wrong in the file the conversation was read from (once; the file is left
    /// as it is until the conversation changes). True when there was something to say.
    pub fn show_problems(&mut self) -> bool {
        let problems = std::mem::take(&mut self.conv.problems);
        if problems.is_empty() {
            return false;
        }
        self.notify(
            NoticeKind::Warning,
            format!(
                "read with repairs: {} — the file is unchanged until you change the conversation",
                problems.join("; ")
            ),
        );
        true
    }
}

/// An imported OpenAI messages array names no model: use `model` (the one in use, or the
/// configured one).
pub fn adopt_model(conv: &mut Conversation, model: &str) {
    if conv.model.trim().is_empty() {
        conv.model = model.to_string();
    }
}

/// The heart of the app.
pub fn update(app: &mut App, ev: Event) -> Vec<Effect> {
    // The baseline of the conversation opened at start, before anything changes it.
    app.custody.settle(&app.conv);
    if !matches!(ev, Event::Tick) {
        app.tokens.unsettle();
    }
    let fx = match ev {
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
            app.focus = Focus::Input;
            // Pasted text never sends: it goes into the draft, line breaks and all (a large
            // paste as one element).
            if let Some(chars) = app.draft.paste(&text) {
                let key = app.keymap.hint_key(Context::Input, Action::ExpandPaste);
                let how = if key.is_empty() {
                    String::new()
                } else {
                    format!(" ({key} expands it for editing)")
                };
                app.notify(
                    NoticeKind::Info,
                    format!(
                        "pasted {} characters as one element: it is sent in full{how}",
                        crate::text::thousands(chars as u64)
                    ),
                );
            }
            Vec::new()
        }
        Event::Mouse(m) => selection::on_mouse(app, m),
        Event::Resize => {
            app.dirty = true;
            // The lines wrap anew: a selection would land on other text.
            app.selection.clear();
            Vec::new()
        }
        Event::Tick => on_tick(app),
        Event::Msg(msg) => results::on_msg(app, msg),
        Event::Action(a) => {
            app.dirty = true;
            on_action(app, a)
        }
    };
    app.draft
        .show_cursor(app.focus == Focus::Input && app.overlay.is_none());
    // A changed draft is counted in the background.
    let mut fx = fx;
    fx.extend(tokens::request(app, false));
    fx
}

fn on_tick(app: &mut App) -> Vec<Effect> {
    if !app.turns.is_empty() {
        app.status.spinner = app.status.spinner.wrapping_add(1);
        app.dirty = true;
    }
    if let Some(n) = &app.status.notice
        && n.kind == NoticeKind::Info
        && n.at.elapsed() > NOTICE_TTL
    {
        app.status.notice = None;
        app.dirty = true;
    }
    local::on_tick(app);
    // The messages the next request needs, counted in the background; the server's exact
    // count when it has a tokenizer.
    let unsettled = !app.tokens.settled();
    let mut fx = tokens::request(app, unsettled);
    fx.extend(server::on_tick(app));
    fx
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let ctx = app.key_context();
    match app.keymap.lookup(ctx, &key) {
        // Inside a draft, Up and Down move the cursor.
        Some(Action::RecallPrev | Action::RecallNext)
            if ctx == Context::Input && !app.draft.can_recall() =>
        {
            app.draft.input(key);
            Vec::new()
        }
        Some(a) => on_action(app, a),
        None => on_text(app, ctx, key),
    }
}

/// A key no context binds: typing, for the contexts that take text.
fn on_text(app: &mut App, ctx: Context, key: KeyEvent) -> Vec<Effect> {
    match ctx {
        Context::Input => {
            app.draft.input(key);
            Vec::new()
        }
        Context::Conversation | Context::Params => {
            // Typing outside the input goes to the input.
            if let KeyCode::Char(c) = key.code
                && !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            {
                app.focus = Focus::Input;
                app.draft.insert_char(c);
            }
            Vec::new()
        }
        Context::ParamEdit => {
            params::on_text(app, key);
            Vec::new()
        }
        Context::Global => Vec::new(),
        _ => overlay::on_text(app, key),
    }
}

/// Carry out a user action in the context on top.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    if a == Action::Quit {
        return quit(app);
    }
    if app.overlay.is_some() {
        return overlay::on_action(app, a);
    }
    if app.focus == Focus::Params
        && let Some(fx) = params::on_action(app, a)
    {
        return fx;
    }
    main_action(app, a)
}

/// The actions of the main screen (the input, the conversation, anywhere).
fn main_action(app: &mut App, a: Action) -> Vec<Effect> {
    let view = app.view.get_mut();
    match a {
        Action::Submit => return turn::submit(app),
        Action::Newline => app.draft.insert_newline(),
        Action::Cancel => {
            if !app.turns.is_empty() {
                return turn::cancel(app);
            }
            if let Some(fx) = local::cancel(app) {
                return fx;
            }
            if app.editing.is_some() {
                branches::cancel_edit(app);
                return Vec::new();
            }
            app.focus = Focus::Input;
            app.status.notice = None;
            app.selection.clear();
        }
        Action::CancelOrQuit => {
            return if !app.turns.is_empty() {
                turn::cancel(app)
            } else {
                quit(app)
            };
        }
        Action::Quit => return quit(app),
        Action::ScrollUp => view.scroll_up(1),
        Action::ScrollDown => view.scroll_down(1),
        Action::SelectPrev => conversation::select(app, -1),
        Action::SelectNext => conversation::select(app, 1),
        Action::PageUp => view.page_up(),
        Action::PageDown => view.page_down(),
        Action::ScrollTop => {
            view.to_top();
            if app.focus == Focus::Conversation {
                app.selected = app.conv.messages.first().map(|m| m.id);
            }
        }
        Action::ScrollBottom => {
            view.to_bottom();
            if app.focus == Focus::Conversation {
                app.selected = app.conv.messages.last().map(|m| m.id);
            }
        }
        Action::NextChoice => return turn::switch_choice(app, 1),
        Action::PrevChoice => return turn::switch_choice(app, -1),
        Action::NextBranch => return branches::switch(app, 1),
        Action::PrevBranch => return branches::switch(app, -1),
        Action::EditMessage => branches::edit_selected(app),
        Action::Branches => branches::open(app),
        Action::CompareVersions => compare::open_selected(app),
        Action::ToggleParams => {
            app.params.shown = !app.params.shown;
            // The conversation pane changes width: its lines wrap anew.
            app.selection.clear();
            app.focus = if app.params.shown {
                Focus::Params
            } else {
                Focus::Input
            };
        }
        Action::Help => app.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::FocusNext => {
            app.focus = match app.focus {
                Focus::Input => Focus::Conversation,
                Focus::Conversation if app.params.shown => Focus::Params,
                _ => Focus::Input,
            };
            if app.focus == Focus::Conversation {
                conversation::enter(app);
            }
        }
        Action::RecallPrev => app.draft.recall(-1),
        Action::RecallNext => app.draft.recall(1),
        Action::Complete => conversation::complete(app),
        Action::Sessions => return sessions::open(app),
        Action::NewChat => return command::run_or_notify(app, crate::commands::Command::New),
        Action::Retry => {
            return command::run_or_notify(app, crate::commands::Command::Retry(None));
        }
        Action::StartLocal => return local::start(app),
        Action::CopyMessage => return selection::copy_message(app),
        Action::CopyCode => return selection::copy_first_code(app),
        Action::Editor => {
            app.focus = Focus::Input;
            return vec![Effect::Edit {
                draft: app.draft.text(),
            }];
        }
        Action::Suspend => return vec![Effect::Suspend],
        Action::ExpandPaste => {
            if !app.draft.expand_paste() {
                app.notify(NoticeKind::Info, "no pasted block to expand");
            }
        }
        Action::ToggleReasoning => conversation::toggle_reasoning(app),
        Action::Inspector => inspector::open(app),
        Action::Logprobs => logprobs::open(app),
        Action::ToggleTint => logprobs::toggle_tint(app),
        Action::CopyCurl | Action::CopyRequest | Action::CopyResponse => {
            let what = match a {
                Action::CopyCurl => crate::commands::CopyWhat::Curl,
                Action::CopyRequest => crate::commands::CopyWhat::Request,
                _ => crate::commands::CopyWhat::Response,
            };
            return match inspector::copy_command(app, what) {
                Ok(fx) => fx,
                Err(e) => {
                    app.notify(NoticeKind::Warning, e);
                    Vec::new()
                }
            };
        }
        // Panel actions pressed where no panel is: nothing to do.
        Action::Accept
        | Action::Edit
        | Action::Apply
        | Action::Unset
        | Action::Rename
        | Action::Delete
        | Action::Export
        | Action::Yes
        | Action::No
        | Action::Close
        | Action::ReadOnly
        | Action::InspectorTab
        | Action::ContinueInCopy => {}
    }
    Vec::new()
}

/// Quit: the conversation is saved when it changed since it was opened or last saved (a
/// conversation only read is never rewritten).
pub(crate) fn quit(app: &mut App) -> Vec<Effect> {
    app.quit = true;
    app.overlay = None;
    let mut fx = if app.custody.changed(&app.conv) {
        app.save_effect()
    } else {
        Vec::new()
    };
    fx.push(Effect::Quit);
    fx
}
