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
use crate::chat::tokens::TokenCounter;
use crate::store::library::Entry;

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
    /// Show or hide the selected reply's reasoning ("thinking").
    ToggleReasoning,
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
        Action::ToggleReasoning,
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
            Action::Retry => "regenerate the last reply",
            Action::NextChoice => "next choice of the reply (n > 1)",
            Action::PrevChoice => "previous choice of the reply",
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
            Action::ToggleReasoning => "show / hide the reply's reasoning (thinking)",
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
            Action::ToggleReasoning => "thinking",
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
    /// An autosave, `/save` or export finished.
    Saved {
        path: PathBuf,
        result: Result<(), String>,
        explicit: bool,
    },
    /// A transcript was read (`/open`, the sessions browser).
    Opened {
        path: PathBuf,
        result: Result<Box<Conversation>, String>,
    },
    /// The saved conversations, listed or searched (`Effect::ListSessions`).
    SessionsListed {
        generation: u64,
        result: Result<Vec<Entry>, String>,
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
    /// Exact token counts from the server's tokenizer (`Effect::CountTokens`); a newer
    /// generation supersedes an older one.
    TokensCounted {
        generation: u64,
        result: Result<ExactCount, String>,
    },
}

/// Work `update()` asks the runtime to do. Each result comes back as a [`Msg`].
#[derive(Debug)]
pub enum Effect {
    /// Start a request in the background; it streams `Msg::Stream` then `Msg::Done`.
    Send { turn: TurnId, request: Request },
    /// Stop a request now (closes its connection).
    Cancel { turn: TurnId },
    /// Ask the server for its models (`Msg::Models`).
    FetchModels,
    /// Write the conversation (a snapshot) to `path` off the UI path (`Msg::Saved`).
    Save {
        conversation: Arc<Conversation>,
        path: PathBuf,
        /// Asked for by the user (`/save`, `/export`): say when it is done.
        explicit: bool,
        markdown: bool,
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
    /// Talk to another server from now on (`Msg::ServerChanged`).
    UseServer { base_url: String, name: String },
    /// Ask the server what it is and `model`'s context window (`Msg::ServerProbed`);
    /// `more`: also try Ollama's and LM Studio's endpoints.
    ProbeServer { model: String, more: bool },
    /// Count `prompt` (the next request) and `draft` with the server's tokenizer
    /// (`Msg::TokensCounted`).
    CountTokens {
        generation: u64,
        kind: ServerKind,
        model: String,
        prompt: Prompt,
        draft: String,
    },
    /// Leave the event loop (after the pending saves).
    Quit,
}
