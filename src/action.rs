//! What flows through the app: user intents (`Action`), task results (`Msg`) and the work
//! `update()` asks for (`Effect`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::api::types::{Outcome, Request, StreamEvent};
use crate::chat::conversation::Conversation;

/// Identifies one request to the API. Results for any turn that is not current are dropped.
pub type TurnId = u64;

/// A user intent. Named in the config's `[keys]` section in snake_case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send the draft (or run the command typed in it).
    Submit,
    /// Insert a line break in the draft.
    Newline,
    /// Cancel the streaming reply; close an overlay.
    Cancel,
    /// Cancel when streaming, otherwise quit.
    CancelOrQuit,
    Quit,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    ScrollTop,
    ScrollBottom,
    /// Show the next of the reply's `n` choices.
    NextChoice,
    PrevChoice,
    /// Show or hide the parameters panel.
    ToggleParams,
    /// Show every key and command.
    Help,
    /// Move focus between the input, the history and the parameters panel.
    FocusNext,
    /// Recall an earlier prompt (in an empty input).
    HistoryPrev,
    HistoryNext,
    /// Complete a `/command`.
    Complete,
    /// Open the list of saved conversations.
    Sessions,
    /// Start a new conversation.
    NewChat,
    /// Regenerate the last reply.
    Retry,
}

impl Action {
    /// Every action, for help and for `[keys]` validation.
    pub const ALL: &[Action] = &[
        Action::Submit,
        Action::Newline,
        Action::Cancel,
        Action::CancelOrQuit,
        Action::Quit,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::PageUp,
        Action::PageDown,
        Action::ScrollTop,
        Action::ScrollBottom,
        Action::NextChoice,
        Action::PrevChoice,
        Action::ToggleParams,
        Action::Help,
        Action::FocusNext,
        Action::HistoryPrev,
        Action::HistoryNext,
        Action::Complete,
        Action::Sessions,
        Action::NewChat,
        Action::Retry,
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
            Action::Cancel => "cancel the streaming reply / close a panel",
            Action::CancelOrQuit => "cancel the streaming reply, or quit when idle",
            Action::Quit => "quit",
            Action::ScrollUp => "scroll the history up",
            Action::ScrollDown => "scroll the history down",
            Action::PageUp => "scroll up a page",
            Action::PageDown => "scroll down a page",
            Action::ScrollTop => "go to the start of the conversation",
            Action::ScrollBottom => "go to the end (and follow the stream)",
            Action::NextChoice => "next choice of the reply (n > 1)",
            Action::PrevChoice => "previous choice of the reply",
            Action::ToggleParams => "show / hide the parameters panel",
            Action::Help => "this help",
            Action::FocusNext => "move focus: input → history → parameters",
            Action::HistoryPrev => "recall the previous prompt",
            Action::HistoryNext => "recall the next prompt",
            Action::Complete => "complete a /command",
            Action::Sessions => "saved conversations",
            Action::NewChat => "new conversation",
            Action::Retry => "regenerate the last reply",
        }
    }
}

/// A background result.
#[derive(Debug)]
pub enum Msg {
    Stream {
        turn: TurnId,
        event: StreamEvent,
    },
    Done {
        turn: TurnId,
        result: Result<Outcome, ApiError>,
    },
    Models(Result<Vec<String>, ApiError>),
    /// A local server was found (name, base URL).
    LocalServer(Option<(String, String)>),
    /// An autosave or `/save` finished.
    Saved {
        path: PathBuf,
        result: Result<(), String>,
        explicit: bool,
    },
    /// A transcript was read for `/open`.
    Opened {
        path: PathBuf,
        result: Result<Box<Conversation>, String>,
    },
}

/// Work `update()` asks the event loop to do.
#[derive(Debug)]
pub enum Effect {
    /// Start a request in the background.
    Send {
        turn: TurnId,
        request: Request,
    },
    /// Stop a request now (closes its connection).
    Cancel {
        turn: TurnId,
    },
    FetchModels,
    /// Write the conversation (a snapshot) to `path` off the UI path.
    Save {
        conversation: std::sync::Arc<Conversation>,
        path: Option<PathBuf>,
        explicit: bool,
        markdown: bool,
    },
    /// Read a transcript off the UI path.
    Open {
        path: PathBuf,
    },
    /// Talk to another server from now on (the first-run offer of a local server).
    UseServer {
        base_url: String,
        name: String,
    },
    Quit,
}
