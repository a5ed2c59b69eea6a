//! Panels drawn over the screen — help, the model picker, the local-server offer, the
//! sessions browser — and their actions. Only the panel on top gets keys.

use crossterm::event::KeyEvent;

use crate::action::{Action, Effect};
use crate::api::error::ApiError;
use crate::app::{App, NoticeKind, branches, command, compare, custody, sessions};
use crate::commands::Command;
use crate::keymap::Context;

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
    /// The offer to download and start the built-in local model (nothing answered at first
    /// run), or to restart it (`restart`: it died).
    LocalModel {
        restart: bool,
    },
    Sessions(sessions::SessionsPane),
    /// The conversation being opened is written by another chat-tui: read-only, or a copy?
    Held(custody::HeldPanel),
    /// `/save PATH` found another file there: replace it?
    Replace {
        path: std::path::PathBuf,
        /// What is there ("another conversation (…)").
        what: String,
    },
    /// `/branches`: the conversation's branches.
    Branches(branches::BranchesPane),
    /// A reply's versions side by side (`/compare`, `v`).
    Compare(compare::ComparePane),
    /// The inspector (`/request`, F3): a request and its response, or the next request.
    Inspector(crate::app::inspector::InspectorPane),
    /// The token view (`/logprobs`, `p`): a reply's tokens and their probabilities.
    Logprobs(crate::app::logprobs::LogprobsPane),
}

impl Overlay {
    /// The model picker, waiting for the server's list.
    pub fn loading_models() -> Overlay {
        Overlay::Models {
            models: Vec::new(),
            selected: 0,
            loading: true,
            error: None,
        }
    }

    /// Where its keys are looked up.
    pub fn context(&self) -> Context {
        match self {
            Overlay::Help { .. } => Context::Help,
            Overlay::Models { .. } => Context::Models,
            Overlay::LocalServer { .. } => Context::LocalServer,
            Overlay::LocalModel { .. } => Context::LocalModel,
            Overlay::Sessions(s) => match s.mode {
                sessions::SessionsMode::Browse => Context::Sessions,
                sessions::SessionsMode::Rename(_) => Context::Rename,
                sessions::SessionsMode::ConfirmDelete => Context::Confirm,
            },
            Overlay::Held(_) => Context::Held,
            Overlay::Replace { .. } => Context::Confirm,
            Overlay::Branches(_) => Context::Branches,
            Overlay::Compare(_) => Context::Compare,
            Overlay::Inspector(_) => Context::Inspector,
            Overlay::Logprobs(_) => Context::Logprobs,
        }
    }
}

/// An action while a panel is on top.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    let Some(overlay) = app.overlay.as_mut() else {
        return Vec::new();
    };
    match overlay {
        Overlay::Help { scroll } => match a {
            Action::ScrollUp => *scroll = scroll.saturating_sub(1),
            Action::ScrollDown => *scroll = scroll.saturating_add(1),
            Action::PageUp => *scroll = scroll.saturating_sub(10),
            Action::PageDown => *scroll = scroll.saturating_add(10),
            _ => app.overlay = None,
        },
        Overlay::Models {
            models, selected, ..
        } => match a {
            Action::SelectPrev => *selected = selected.saturating_sub(1),
            Action::SelectNext => *selected = (*selected + 1).min(models.len().saturating_sub(1)),
            Action::Accept => {
                let choice = models.get(*selected).cloned();
                app.overlay = None;
                if let Some(m) = choice {
                    return command::run_or_notify(app, Command::Model(Some(m)));
                }
            }
            Action::Close => app.overlay = None,
            _ => {}
        },
        Overlay::LocalServer { url, name } => {
            let (url, name) = (url.clone(), name.clone());
            app.overlay = None;
            app.conn.first_run = false;
            if a == Action::Yes {
                return vec![Effect::UseServer {
                    base_url: url,
                    name,
                }];
            }
            app.notify(
                NoticeKind::Info,
                "set OPENAI_API_KEY or base_url in the config (F1 shows where)",
            );
        }
        Overlay::LocalModel { restart } => {
            let restart = *restart;
            app.overlay = None;
            if a == Action::StartLocal {
                return crate::app::local::start(app);
            }
            if !restart {
                app.notify(
                    NoticeKind::Info,
                    "set OPENAI_API_KEY or base_url in the config (F1 shows where), or /local for a local model",
                );
            }
        }
        Overlay::Sessions(_) => return sessions::on_action(app, a),
        Overlay::Held(_) => return custody::on_action(app, a),
        Overlay::Replace { .. } => return custody::on_replace(app, a),
        Overlay::Branches(_) => return branches::on_action(app, a),
        Overlay::Compare(_) => return compare::on_action(app, a),
        Overlay::Inspector(_) => return crate::app::inspector::on_action(app, a),
        Overlay::Logprobs(_) => return crate::app::logprobs::on_action(app, a),
    }
    Vec::new()
}

/// A key no binding takes, while a panel is on top.
pub fn on_text(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    match &app.overlay {
        // Any other key closes the help…
        Some(Overlay::Help { .. }) => {
            app.overlay = None;
            Vec::new()
        }
        // …and answers no to the offer.
        Some(Overlay::LocalServer { .. } | Overlay::LocalModel { .. }) => {
            on_action(app, Action::No)
        }
        Some(Overlay::Sessions(_)) => sessions::on_text(app, key),
        // Any other key answers no (nothing is replaced).
        Some(Overlay::Replace { .. }) => on_action(app, Action::No),
        Some(
            Overlay::Models { .. }
            | Overlay::Held(_)
            | Overlay::Branches(_)
            | Overlay::Compare(_)
            | Overlay::Inspector(_)
            | Overlay::Logprobs(_),
        )
        | None => Vec::new(),
    }
}

/// The server's model list arrived.
pub fn models_listed(app: &mut App, result: Result<Vec<String>, ApiError>) {
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
}

/// The first-run probe's answer: offer a local server that answers, or else to download
/// and start the built-in local model.
pub fn local_server_found(app: &mut App, found: Option<(String, String)>) {
    match found {
        Some((name, url)) if app.conn.first_run && app.overlay.is_none() => {
            app.overlay = Some(Overlay::LocalServer { name, url });
        }
        None if app.conn.first_run => {
            app.local.probed_none = true;
            if app.overlay.is_none() && matches!(app.local.phase, crate::app::local::Phase::Off) {
                app.overlay = Some(Overlay::LocalModel { restart: false });
            }
        }
        _ => {}
    }
    app.dirty = true;
}
