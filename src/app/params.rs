//! The parameters panel (F2): which row is selected, and the value being edited.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::{Action, Effect};
use crate::api::types::{PARAM_NAMES, Params};
use crate::app::{App, Focus, NoticeKind, command};
use crate::commands::Command;

/// Rows above the sampling parameters: settings of the conversation.
pub const SETTINGS: &[&str] = &["model", "mode", "memory", "system"];

/// The panel's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamsPane {
    pub shown: bool,
    pub selected: usize,
    /// The value being edited.
    pub edit: Option<String>,
}

/// The parameters shown in the panel: name and value (or `None`: the server's default).
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

/// Every row of the panel: the settings, then the parameters.
pub fn rows(app: &App) -> Vec<(String, Option<String>)> {
    let mut r = vec![
        ("model".to_string(), Some(app.conv.model.clone())),
        ("mode".to_string(), Some(app.conv.mode.to_string())),
        ("memory".to_string(), Some(app.conv.memory.to_string())),
        ("system".to_string(), app.conv.system.clone()),
    ];
    r.extend(param_rows(&app.conv.params));
    r
}

/// An action while the panel has focus. `None`: not the panel's, the main screen takes it.
pub fn on_action(app: &mut App, a: Action) -> Option<Vec<Effect>> {
    if app.params.edit.is_some() {
        return match a {
            Action::Apply => {
                let value = app.params.edit.take().unwrap_or_default();
                Some(commit(app, value))
            }
            Action::Close => {
                app.params.edit = None;
                Some(Vec::new())
            }
            _ => None,
        };
    }
    let count = rows(app).len();
    let p = &mut app.params;
    match a {
        Action::SelectPrev => p.selected = p.selected.saturating_sub(1),
        Action::SelectNext => p.selected = (p.selected + 1).min(count.saturating_sub(1)),
        Action::Edit => {
            let current = rows(app)
                .get(app.params.selected)
                .and_then(|(_, v)| v.clone())
                .unwrap_or_default();
            app.params.edit = Some(current);
        }
        Action::Unset => return Some(unset(app)),
        Action::Close => {
            app.params.shown = false;
            app.focus = Focus::Input;
        }
        _ => return None,
    }
    Some(Vec::new())
}

/// Typing into the value being edited.
pub fn on_text(app: &mut App, key: KeyEvent) {
    let Some(buf) = app.params.edit.as_mut() else {
        return;
    };
    match key.code {
        KeyCode::Backspace => {
            buf.pop();
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => buf.push(c),
        _ => {}
    }
}

fn unset(app: &mut App) -> Vec<Effect> {
    let Some(name) = rows(app).get(app.params.selected).map(|(n, _)| n.clone()) else {
        return Vec::new();
    };
    match name.as_str() {
        "system" => command::run_or_notify(app, Command::System(None)),
        "model" | "mode" | "memory" => {
            app.notify(NoticeKind::Info, format!("{name} always has a value"));
            Vec::new()
        }
        _ => command::run_or_notify(app, Command::Unset(name)),
    }
}

fn commit(app: &mut App, value: String) -> Vec<Effect> {
    let Some((name, _)) = rows(app).get(app.params.selected).cloned() else {
        return Vec::new();
    };
    let value = value.trim().to_string();
    let cmd = match name.as_str() {
        "model" if !value.is_empty() => Command::Model(Some(value)),
        "mode" => match value.parse() {
            Ok(m) => Command::Mode(m),
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                return Vec::new();
            }
        },
        "memory" => match value.parse() {
            Ok(m) => Command::Memory(m),
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                return Vec::new();
            }
        },
        "system" => Command::System(Some(value)),
        _ if value.is_empty() => Command::Unset(name),
        _ => Command::Set(name, value),
    };
    command::run_or_notify(app, cmd)
}
