//! What flows through the app: user intents (`Action`), the results of background work
//! (`Msg`) and the work `update()` asks the runtime to do (`Effect`).
//!
//! `update()` never does I/O: it returns `Effect`s, the runtime carries them out, and every
//! result comes back as a `Msg`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::api::server::{ExactCount, ServerInfo, ServerKind};
use crate::api::types::{Outcome, Prompt, Request, StreamEvent};
use crate::chat::conversation::Conversation;
use crate::chat::counts::{CountJob, Counted};
use crate::chat::tokens::TokenCounter;
use crate::store::library::Entry;
use crate::store::lock::Holder;

/// Identifies one request to the API. Results for any turn that is not current are dropped.
pub type TurnId = u64;

/// A user intent. The key map turns keys into actions; the config's `[keys]` names them in
/// snake_case. What an action does can depend on the pane it is pressed in (F1 lists them
/// per pane).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send the draft (or run the /command typed in it).
    Submit,
    /// Insert a line break in the draft.
    Newline,
    /// Complete a /command (Tab); otherwise move focus to the conversation.
    Complete,
    /// Recall the previous prompt (in an empty input).
    #[serde(alias = "history_prev")]
    RecallPrev,
    /// Recall the next prompt.
    #[serde(alias = "history_next")]
    RecallNext,
    /// Cancel the streaming reply.
    Cancel,
    /// Cancel the streaming reply, or quit when idle.
    CancelOrQuit,
    /// Quit (the conversation is saved).
    Quit,
    /// Show every key and command.
    Help,
    /// Show or hide the parameters panel.
    ToggleParams,
    /// Move focus: input → conversation → parameters.
    FocusNext,
    /// Open the saved conversations.
    Sessions,
    /// Start a new conversation.
    NewChat,
    /// Regenerate the last reply.
    Retry,
    /// Show the next of a reply's `n` choices.
    NextChoice,
    /// Show the previous choice.
    PrevChoice,
    /// Show the next branch at the selected message (its next sibling).
    NextBranch,
    /// Show the previous branch at the selected message.
    PrevBranch,
    /// Edit the selected question in the input (sending it starts a new branch).
    EditMessage,
    /// List the conversation's branches.
    Branches,
    /// Show the versions of the selected reply side by side.
    CompareVersions,
    /// Scroll up a line.
    ScrollUp,
    /// Scroll down a line.
    ScrollDown,
    /// Scroll up a page.
    PageUp,
    /// Scroll down a page.
    PageDown,
    /// Go to the start.
    ScrollTop,
    /// Go to the end (and follow a streaming reply).
    ScrollBottom,
    /// Select the item above.
    SelectPrev,
    /// Select the item below.
    SelectNext,
    /// Use the selected item (open it, pick it).
    Accept,
    /// Edit the selected value.
    Edit,
    /// Apply what was typed.
    Apply,
    /// Unset the selected parameter (the server's default applies).
    Unset,
    /// Rename the selected conversation.
    Rename,
    /// Delete the selected conversation (asks first).
    Delete,
    /// Export the selected conversation as Markdown.
    Export,
    /// Answer yes.
    Yes,
    /// Answer no.
    No,
    /// Close the panel (or stop editing).
    Close,
    /// Open a conversation another chat-tui writes, read-only.
    ReadOnly,
    /// Continue a conversation another chat-tui writes in a copy of it.
    ContinueInCopy,
    /// Download (once) and start the built-in local model, or restart it.
    StartLocal,
    /// Copy the selected message (its Markdown source; a reply's selected choice).
    CopyMessage,
    /// Copy the selected message's first code block.
    CopyCode,
    /// Edit the draft in `$VISUAL` / `$EDITOR` (saving replaces the draft).
    Editor,
    /// Expand a large paste shown as one element back into the draft's text.
    ExpandPaste,
    /// Suspend to the shell (like vim and less; `fg` comes back).
    Suspend,
    /// Show or hide the selected reply's reasoning ("thinking").
    ToggleReasoning,
    /// Open the inspector: the selected reply's request and response (`/request`).
    Inspector,
    /// In the inspector: switch between the reply's request and the next one.
    InspectorTab,
    /// Copy the request as a runnable curl command (`/copy curl`).
    CopyCurl,
    /// Copy the request's JSON body (`/copy request`).
    CopyRequest,
    /// Copy the raw response (`/copy response`).
    CopyResponse,
    /// Open the token view: the selected reply's tokens and their probabilities
    /// (`/logprobs`).
    Logprobs,
    /// Tint the tokens of replies by their probability (`/logprobs color`).
    ToggleTint,
}

impl Action {
    /// Every action, for help and for `[keys]` validation.
    pub const ALL: &[Action] = &[
        Action::Submit,
        Action::Newline,
        Action::Complete,
        Action::RecallPrev,
        Action::RecallNext,
        Action::Cancel,
        Action::CancelOrQuit,
        Action::Quit,
        Action::Help,
        Action::ToggleParams,
        Action::FocusNext,
        Action::Sessions,
        Action::NewChat,
        Action::Retry,
        Action::NextChoice,
        Action::PrevChoice,
        Action::NextBranch,
        Action::PrevBranch,
        Action::EditMessage,
        Action::Branches,
        Action::CompareVersions,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::PageUp,
        Action::PageDown,
        Action::ScrollTop,
        Action::ScrollBottom,
        Action::SelectPrev,
        Action::SelectNext,
        Action::Accept,
        Action::Edit,
        Action::Apply,
        Action::Unset,
        Action::Rename,
        Action::Delete,
        Action::Export,
        Action::Yes,
        Action::No,
        Action::Close,
        Action::ReadOnly,
        Action::ContinueInCopy,
        Action::StartLocal,
        Action::CopyMessage,
        Action::CopyCode,
        Action::Editor,
        Action::ExpandPaste,
        Action::Suspend,
        Action::ToggleReasoning,
        Action::Inspector,
        Action::InspectorTab,
        Action::CopyCurl,
        Action::CopyRequest,
        Action::CopyResponse,
        Action::Logprobs,
        Action::ToggleTint,
    ];

    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub fn from_name(name: &str) -> Option<Action> {
        serde_json::from_value(serde_json::Value::String(name.trim().replace('-', "_"))).ok()
    }

    /// One line for the help screen.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Submit => "send the message (or run the /command)",
            Action::Newline => "new line in the message",
            Action::Complete => "complete a /command; otherwise focus the conversation",
            Action::RecallPrev => "recall the previous prompt (empty input)",
            Action::RecallNext => "recall the next prompt",
            Action::Cancel => "cancel the streaming reply",
            Action::CancelOrQuit => "cancel the streaming reply, or quit when idle",
            Action::Quit => "quit",
            Action::Help => "this help",
            Action::ToggleParams => "show / hide the parameters panel",
            Action::FocusNext => "move focus: input → conversation → parameters",
            Action::Sessions => "saved conversations",
            Action::NewChat => "new conversation",
            Action::Retry => "regenerate the reply: a new version, the old kept",
            Action::NextChoice => "next choice, then next version, of the reply",
            Action::PrevChoice => "previous choice or version of the reply",
            Action::NextBranch => "next branch at the selected message",
            Action::PrevBranch => "previous branch at the selected message",
            Action::EditMessage => "edit the selected question (sending it starts a branch)",
            Action::Branches => "list the conversation's branches",
            Action::CompareVersions => "the reply's versions side by side",
            Action::ScrollUp => "scroll up",
            Action::ScrollDown => "scroll down",
            Action::PageUp => "up a page",
            Action::PageDown => "down a page",
            Action::ScrollTop => "go to the start",
            Action::ScrollBottom => "go to the end (and follow the stream)",
            Action::SelectPrev => "select the one above (message, row)",
            Action::SelectNext => "select the one below",
            Action::Accept => "use the selected item",
            Action::Edit => "edit the selected value",
            Action::Apply => "apply what was typed",
            Action::Unset => "unset the parameter (server default)",
            Action::Rename => "rename the selected conversation",
            Action::Delete => "delete the selected conversation (asks first)",
            Action::Export => "export the selected conversation as Markdown",
            Action::Yes => "yes",
            Action::No => "no",
            Action::Close => "close the panel / stop editing",
            Action::ReadOnly => "open it read-only (the other chat-tui keeps writing it)",
            Action::ContinueInCopy => "continue in a copy (a new conversation, same messages)",
            Action::StartLocal => "download (once) and start the local model, or restart it",
            Action::CopyMessage => "copy the selected message (its Markdown source)",
            Action::CopyCode => "copy the selected message's first code block",
            Action::Editor => "edit the message in $VISUAL / $EDITOR (saving replaces it)",
            Action::ExpandPaste => "expand a large paste (shown as one element) into editable text",
            Action::Suspend => "suspend to the shell (fg comes back)",
            Action::ToggleReasoning => "show / hide the reply's reasoning (thinking)",
            Action::Inspector => "inspect the selected reply's request and response (/request)",
            Action::InspectorTab => "switch between the reply's request and the next request",
            Action::CopyCurl => "copy the request as a curl command (/copy curl)",
            Action::CopyRequest => "copy the request's JSON body (/copy request)",
            Action::CopyResponse => "copy the raw response (/copy response)",
            Action::Logprobs => "the selected reply's tokens and their probabilities (/logprobs)",
            Action::ToggleTint => "tint replies' tokens by probability (/logprobs color)",
        }
    }

    /// A word or two for the hint bar.
    pub fn hint(self) -> &'static str {
        match self {
            Action::Submit => "send",
            Action::Newline => "newline",
            Action::Complete => "complete",
            Action::RecallPrev | Action::RecallNext => "recall",
            Action::Cancel => "cancel",
            Action::CancelOrQuit | Action::Quit => "quit",
            Action::Help => "help",
            Action::ToggleParams => "params",
            Action::FocusNext => "focus",
            Action::Sessions => "sessions",
            Action::NewChat => "new",
            Action::Retry => "retry",
            Action::NextChoice | Action::PrevChoice => "choice",
            Action::NextBranch | Action::PrevBranch => "branch",
            Action::EditMessage => "edit",
            Action::Branches => "branches",
            Action::CompareVersions => "compare",
            Action::ScrollUp | Action::ScrollDown => "scroll",
            Action::PageUp | Action::PageDown => "page",
            Action::ScrollTop => "top",
            Action::ScrollBottom => "end",
            Action::SelectPrev | Action::SelectNext => "select",
            Action::Accept => "open",
            Action::Edit => "edit",
            Action::Apply => "apply",
            Action::Unset => "unset",
            Action::Rename => "rename",
            Action::Delete => "delete",
            Action::Export => "export",
            Action::Yes => "yes",
            Action::No => "no",
            Action::Close => "close",
            Action::ReadOnly => "read-only",
            Action::ContinueInCopy => "copy",
            Action::StartLocal => "local model",
            Action::CopyMessage => "copy",
            Action::CopyCode => "copy code",
            Action::Editor => "editor",
            Action::ExpandPaste => "expand paste",
            Action::Suspend => "suspend",
            Action::ToggleReasoning => "thinking",
            Action::Inspector => "inspector",
            Action::InspectorTab => "next request",
            Action::CopyCurl => "copy curl",
            Action::CopyRequest => "copy body",
            Action::CopyResponse => "copy response",
            Action::Logprobs => "tokens",
            Action::ToggleTint => "tint",
        }
    }
}

/// The result of background work, handed to `update()`.
#[derive(Debug)]
pub enum Msg {
    /// A piece of a streaming reply.
    Stream { turn: TurnId, event: StreamEvent },
    /// A request finished (or failed).
    Done {
        turn: TurnId,
        result: Result<Outcome, ApiError>,
    },
    /// What a request sent and received (its final attempt), for the inspector; sent just
    /// before its `Done`.
    Exchange {
        turn: TurnId,
        exchange: Box<crate::api::exchange::Exchange>,
    },
    /// The server's model list (`GET /models`).
    Models(Result<Vec<String>, ApiError>),
    /// The first-run probe: a local server that answers (name, base URL), or none.
    LocalServer(Option<(String, String)>),
    /// The client now talks to another server (`Effect::UseServer`).
    ServerChanged {
        name: String,
        result: Result<(), String>,
    },
    /// The tables of a token counter are loaded: counting no longer stalls.
    TokenizerReady,
    /// Token counts made in the background (`Effect::CountTokens`).
    TokensCounted(Counted),
    /// An autosave that had failed (a full disk, a folder gone) was written when the saver
    /// tried it again (`saver::RETRY_EVERY`).
    SaveRecovered { path: PathBuf },
    /// An autosave, `/save` or export finished.
    Saved {
        path: PathBuf,
        result: Result<(), String>,
        explicit: bool,
        /// Written as Markdown (an export): not a file the conversation is kept in.
        markdown: bool,
    },
    /// A save did not go to `from` — the file changed on disk since this process last
    /// read or wrote it, or another chat-tui holds it — but to the new file `to`, where
    /// this conversation is saved from now on. `new_id`: the conversation's id there (a
    /// file moved within the library becomes a conversation of its own).
    SaveMoved {
        from: PathBuf,
        to: PathBuf,
        new_id: Option<String>,
        reason: String,
    },
    /// `/save PATH` found a file there that is not this conversation: ask first.
    SaveAsk { path: PathBuf, what: String },
    /// A transcript was read (`/open`, the sessions browser). `held`: another chat-tui
    /// writes it (nothing was locked: the user chooses read-only or a copy).
    Opened {
        path: PathBuf,
        result: Result<Box<Conversation>, String>,
        held: Option<Holder>,
    },
    /// The saved conversations, listed or searched (`Effect::ListSessions`): replaces
    /// what the browser shows. `partial`: a search goes on, more matches follow as
    /// `Msg::SessionsMore`.
    SessionsListed {
        generation: u64,
        result: Result<Vec<Entry>, String>,
        partial: bool,
    },
    /// More matches of the same search (newest first within the batch); `partial` as above.
    SessionsMore {
        generation: u64,
        entries: Vec<Entry>,
        partial: bool,
    },
    /// A saved conversation was renamed.
    SessionRenamed {
        id: String,
        title: String,
        result: Result<(), String>,
    },
    /// A saved conversation was deleted.
    SessionDeleted {
        title: String,
        result: Result<(), String>,
    },
    /// What the server said about itself and `model` (`Effect::ProbeServer`).
    ServerProbed {
        model: String,
        result: Result<ServerInfo, String>,
    },
    /// Exact token counts from the server's tokenizer (`Effect::CountExact`); a newer
    /// generation supersedes an older one.
    ExactCounted {
        generation: u64,
        result: Result<ExactCount, String>,
    },
    /// News from the local model's job `job` (`Effect::LocalStart`); an older job's news is
    /// dropped.
    Local { job: u64, event: LocalEvent },
    /// Text went to the terminal's clipboard (OSC 52), and to the system clipboard when
    /// there is one (its failure comes as `ClipboardFailed`). `note`: something to add, such
    /// as a payload over what many terminals accept.
    Copied {
        what: String,
        chars: usize,
        note: Option<String>,
    },
    /// The system clipboard failed or did not answer (the text still went through OSC 52).
    ClipboardFailed(String),
    /// The external editor closed (`Effect::Edit`): the new draft, or why the draft was
    /// kept (the editor failed, was not found, or left the file empty).
    Edited(Result<String, String>),
    /// Back from a suspension (`Effect::Suspend`): the terminal is ours again, or why it
    /// could not be suspended.
    Resumed(Result<(), String>),
}

/// What the local model's job reports.
#[derive(Debug)]
pub enum LocalEvent {
    /// Install or start progress.
    Progress(crate::local::Progress),
    /// The server answers.
    Ready(crate::local::ServerInfo),
    /// It could not be installed or started (nothing unfinished is marked installed).
    Failed(crate::local::Failure),
    /// The running server ended by itself.
    Exited(crate::local::server::Exit),
    /// It was stopped (`Effect::LocalStop`).
    Stopped,
}

/// Work `update()` asks the runtime to do. Each result comes back as a [`Msg`].
#[derive(Debug)]
pub enum Effect {
    /// Start a request in the background; it streams `Msg::Stream` then `Msg::Done`.
    Send { turn: TurnId, request: Request },
    /// The same, through the client of another profile of the config (`/compare
    /// PROFILE:MODEL`), built with that profile's base URL and key rules.
    SendWith {
        turn: TurnId,
        request: Request,
        profile: String,
    },
    /// Stop a request now (closes its connection).
    Cancel { turn: TurnId },
    /// Ask the server for its models (`Msg::Models`).
    FetchModels,
    /// Write the conversation (a snapshot) to `path` off the UI path (`Msg::Saved`). A
    /// transcript (not Markdown) is written only when the file is what this process last
    /// read or wrote there, and nobody else holds it; otherwise it goes to a new file beside
    /// it (`Msg::SaveMoved`) — or, for `/save` onto another file, the user is asked
    /// (`Msg::SaveAsk`).
    Save {
        conversation: Arc<Conversation>,
        path: PathBuf,
        /// Asked for by the user (`/save`, `/export`): say when it is done.
        explicit: bool,
        markdown: bool,
        /// The user agreed to replace what is at `path`.
        replace: bool,
    },
    /// Stop writing these files: release their locks once the saves before are done.
    Release { paths: Vec<PathBuf> },
    /// Write every branch of the conversation as Markdown to `path` (`/export
    /// --all-branches`; `Msg::Saved`).
    ExportBranches {
        conversation: Arc<Conversation>,
        path: PathBuf,
    },
    /// Read a transcript (`Msg::Opened`).
    Open { path: PathBuf },
    /// Read a saved transcript and write it as Markdown to `out` (`Msg::Saved`).
    ExportFile { source: PathBuf, out: PathBuf },
    /// List the saved conversations in `dir`, or search them for `query`
    /// (`Msg::SessionsListed`; a newer generation supersedes an older one).
    ListSessions {
        dir: PathBuf,
        query: Option<String>,
        generation: u64,
    },
    /// Rename a saved conversation (`Msg::SessionRenamed`).
    RenameSession {
        dir: PathBuf,
        id: String,
        title: String,
    },
    /// Delete a saved conversation (`Msg::SessionDeleted`).
    DeleteSession {
        dir: PathBuf,
        id: String,
        title: String,
    },
    /// Load a token counter's tables off the UI thread (`Msg::TokenizerReady`).
    LoadTokenizer(TokenCounter),
    /// Set up the HTTP client off the UI thread (the system's TLS roots are read): asked
    /// for once the first frame is drawn, so the first request does not wait for it.
    PrepareClient,
    /// Count texts (the draft, messages) off the UI thread (`Msg::TokensCounted`; while a
    /// count runs, only the newest draft waits).
    CountTokens(CountJob),
    /// Talk to another server from now on (`Msg::ServerChanged`).
    UseServer { base_url: String, name: String },
    /// Install (when needed) and start the local model as job `job`: `Msg::Local` progress,
    /// then ready or failed; later, exited or stopped.
    LocalStart {
        job: u64,
        options: crate::local::Options,
    },
    /// Stop job `job` while it installs or starts (pip or the server is killed).
    LocalCancel { job: u64 },
    /// Stop job `job`'s running server (`Msg::Local` stopped).
    LocalStop { job: u64 },
    /// Send requests to the local server at `base_url` (no key) from now on.
    UseLocalServer { base_url: String },
    /// Put `text` on the clipboard: the terminal's (OSC 52) and the system's (`Msg::Copied`,
    /// `Msg::ClipboardFailed`). `what` names it on the status line ("reply 3").
    Copy { text: String, what: String },
    /// Hand the terminal to `$VISUAL` / `$EDITOR` on `draft` in a private temporary file,
    /// then take it back (`Msg::Edited`).
    Edit { draft: String },
    /// Give the terminal back to the shell and stop (SIGTSTP); redraw on `fg`
    /// (`Msg::Resumed`).
    Suspend,
    /// Ask the server what it is and `model`'s context window (`Msg::ServerProbed`);
    /// `more`: also try Ollama's and LM Studio's endpoints.
    ProbeServer { model: String, more: bool },
    /// Count `prompt` (the next request) and `draft` with the server's tokenizer
    /// (`Msg::ExactCounted`).
    CountExact {
        generation: u64,
        kind: ServerKind,
        model: String,
        prompt: Prompt,
        draft: String,
    },
    /// Leave the event loop (after the pending saves).
    Quit,
}
