//! Keys to actions, per context (the pane or panel on top). Defaults plus the user's
//! `[keys]`; F1 help and every hint are generated from this table, so they cannot drift
//! from behaviour.
//!
//! A key is looked up in the context on top, then in the contexts it falls back to (the
//! panes fall back to `Global`; the panels drawn over them only to `Quit`). A key no context
//! binds goes to the text field of the context, if it has one (the input, a filter, a value
//! being edited).

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use crate::action::Action;

/// Where a key is pressed: the focused pane, or the panel on top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Anywhere in the main screen (after the focused pane's own bindings).
    Global,
    /// The message being written.
    Input,
    /// The conversation pane.
    Conversation,
    /// The parameters panel (F2).
    Params,
    /// A parameter's value being edited.
    ParamEdit,
    /// The help screen (F1).
    Help,
    /// The model picker (`/model`).
    Models,
    /// The first-run offer of a local server.
    LocalServer,
    /// The saved-conversations browser (its filter takes typing).
    Sessions,
    /// A conversation's new title being typed.
    Rename,
    /// A yes/no question.
    Confirm,
}

impl Context {
    /// Every context, in the order help lists them.
    pub const ALL: &[Context] = &[
        Context::Global,
        Context::Input,
        Context::Conversation,
        Context::Params,
        Context::ParamEdit,
        Context::Help,
        Context::Models,
        Context::LocalServer,
        Context::Sessions,
        Context::Rename,
        Context::Confirm,
    ];

    /// The name in `[keys.NAME]`.
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "global",
            Context::Input => "input",
            Context::Conversation => "conversation",
            Context::Params => "params",
            Context::ParamEdit => "param_edit",
            Context::Help => "help",
            Context::Models => "models",
            Context::LocalServer => "local_server",
            Context::Sessions => "sessions",
            Context::Rename => "rename",
            Context::Confirm => "confirm",
        }
    }

    /// A heading for the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "anywhere",
            Context::Input => "in the input",
            Context::Conversation => "in the conversation",
            Context::Params => "in the parameters panel",
            Context::ParamEdit => "editing a parameter",
            Context::Help => "in this help",
            Context::Models => "in the model picker",
            Context::LocalServer => "in the local-server offer",
            Context::Sessions => "in saved conversations",
            Context::Rename => "renaming a conversation",
            Context::Confirm => "answering a question",
        }
    }

    pub fn from_name(name: &str) -> Option<Context> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        match n.as_str() {
            // `history` was this pane's name before.
            "conversation" | "history" => Some(Context::Conversation),
            "parameters" => Some(Context::Params),
            "parameter_edit" => Some(Context::ParamEdit),
            _ => Context::ALL.iter().copied().find(|c| c.name() == n),
        }
    }

    /// True for the panels drawn over the panes: only their own keys and Quit work there.
    pub fn is_panel(self) -> bool {
        matches!(
            self,
            Context::Help
                | Context::Models
                | Context::LocalServer
                | Context::Sessions
                | Context::Rename
                | Context::Confirm
        )
    }

    /// Takes typed text (unbound printable keys are text, not commands).
    pub fn takes_text(self) -> bool {
        matches!(
            self,
            Context::Input | Context::ParamEdit | Context::Sessions | Context::Rename
        )
    }
}

/// A key with its modifiers (shift folded into the character for printable keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub mods: u8,
}

/// `KeyCode` made orderable for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

const CTRL: u8 = 1;
const ALT: u8 = 2;
const SHIFT: u8 = 4;

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c.to_ascii_lowercase_if_ctrl(ev.modifiers)),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Insert => KeyCodeOrd::Insert,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            _ => return None,
        };
        let mut mods = 0;
        if ev.modifiers.contains(KeyModifiers::CONTROL) {
            mods |= CTRL;
        }
        if ev.modifiers.contains(KeyModifiers::ALT) {
            mods |= ALT;
        }
        // Shift is part of a printed character; it matters for the other keys.
        if ev.modifiers.contains(KeyModifiers::SHIFT) && !matches!(code, KeyCodeOrd::Char(_)) {
            mods |= SHIFT;
        }
        Some(Key { code, mods })
    }

    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.mods & CTRL != 0 {
            s.push_str("Ctrl+");
        }
        if self.mods & ALT != 0 {
            s.push_str("Alt+");
        }
        if self.mods & SHIFT != 0 {
            s.push_str("Shift+");
        }
        match self.code {
            KeyCodeOrd::Char(' ') => s.push_str("Space"),
            KeyCodeOrd::Char(c) if self.mods & (CTRL | ALT) != 0 => s.push(c.to_ascii_uppercase()),
            KeyCodeOrd::Char(c) => s.push(c),
            KeyCodeOrd::F(n) => s.push_str(&format!("F{n}")),
            KeyCodeOrd::Enter => s.push_str("Enter"),
            KeyCodeOrd::Esc => s.push_str("Esc"),
            KeyCodeOrd::Tab => s.push_str("Tab"),
            KeyCodeOrd::BackTab => s.push_str("Shift+Tab"),
            KeyCodeOrd::Backspace => s.push_str("Backspace"),
            KeyCodeOrd::Delete => s.push_str("Del"),
            KeyCodeOrd::Insert => s.push_str("Insert"),
            KeyCodeOrd::Up => s.push('↑'),
            KeyCodeOrd::Down => s.push('↓'),
            KeyCodeOrd::Left => s.push('←'),
            KeyCodeOrd::Right => s.push('→'),
            KeyCodeOrd::Home => s.push_str("Home"),
            KeyCodeOrd::End => s.push_str("End"),
            KeyCodeOrd::PageUp => s.push_str("PgUp"),
            KeyCodeOrd::PageDown => s.push_str("PgDn"),
        }
        s
    }
}

trait LowerIfCtrl {
    fn to_ascii_lowercase_if_ctrl(self, m: KeyModifiers) -> char;
}

impl LowerIfCtrl for char {
    fn to_ascii_lowercase_if_ctrl(self, m: KeyModifiers) -> char {
        if m.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) {
            self.to_ascii_lowercase()
        } else {
            self
        }
    }
}

/// Parse a key as written in `[keys]`: `ctrl-s`, `alt-enter`, `f5`, `pageup`, `shift-tab`, `[`.
pub fn parse_key(s: &str) -> Option<Key> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let mut mods = 0u8;
    let mut rest = lower.as_str();
    loop {
        if let Some(r) = rest
            .strip_prefix("ctrl-")
            .or_else(|| rest.strip_prefix("ctrl+"))
        {
            mods |= CTRL;
            rest = r;
        } else if let Some(r) = rest
            .strip_prefix("alt-")
            .or_else(|| rest.strip_prefix("alt+"))
        {
            mods |= ALT;
            rest = r;
        } else if let Some(r) = rest
            .strip_prefix("shift-")
            .or_else(|| rest.strip_prefix("shift+"))
        {
            mods |= SHIFT;
            rest = r;
        } else {
            break;
        }
    }
    let code = match rest {
        "enter" | "return" => KeyCodeOrd::Enter,
        "esc" | "escape" => KeyCodeOrd::Esc,
        "tab" if mods & SHIFT != 0 => {
            mods &= !SHIFT;
            KeyCodeOrd::BackTab
        }
        "tab" => KeyCodeOrd::Tab,
        "backtab" => KeyCodeOrd::BackTab,
        "backspace" => KeyCodeOrd::Backspace,
        "delete" | "del" => KeyCodeOrd::Delete,
        "insert" | "ins" => KeyCodeOrd::Insert,
        "up" => KeyCodeOrd::Up,
        "down" => KeyCodeOrd::Down,
        "left" => KeyCodeOrd::Left,
        "right" => KeyCodeOrd::Right,
        "home" => KeyCodeOrd::Home,
        "end" => KeyCodeOrd::End,
        "pageup" | "pgup" => KeyCodeOrd::PageUp,
        "pagedown" | "pgdn" => KeyCodeOrd::PageDown,
        "space" => KeyCodeOrd::Char(' '),
        f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
            KeyCodeOrd::F(f[1..].parse().ok()?)
        }
        _ => {
            // A single character, as written (case matters without modifiers).
            let orig = &s[s.len() - rest.len()..];
            let mut chars = orig.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            KeyCodeOrd::Char(if mods & (CTRL | ALT) != 0 {
                c.to_ascii_lowercase()
            } else {
                c
            })
        }
    };
    Some(Key { code, mods })
}

/// One entry of the config's `[keys]`: `"ctrl-s" = "submit"` (anywhere) or a
/// `[keys.CONTEXT]` table of such bindings for one pane or panel.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum KeyEntry {
    Action(String),
    Context(BTreeMap<String, String>),
}

/// The config's `[keys]` section.
pub type KeyConfig = BTreeMap<String, KeyEntry>;

/// The action name that removes a binding.
const UNBIND: &str = "none";

/// The table: defaults, then the user's bindings over them. `None` unbinds a key.
#[derive(Clone, Debug)]
pub struct Keymap {
    defaults: BTreeMap<(Context, Key), Action>,
    user: BTreeMap<(Context, Key), Option<Action>>,
}

fn k(code: KeyCodeOrd, mods: u8) -> Key {
    Key { code, mods }
}

impl Default for Keymap {
    fn default() -> Self {
        use Action as A;
        use Context::*;
        use KeyCodeOrd as C;
        let mut map = BTreeMap::new();
        let mut b = |ctx, key, action| {
            map.insert((ctx, key), action);
        };
        b(Global, k(C::Char('c'), CTRL), A::CancelOrQuit);
        b(Global, k(C::Char('q'), CTRL), A::Quit);
        b(Global, k(C::Esc, 0), A::Cancel);
        b(Global, k(C::F(1), 0), A::Help);
        b(Global, k(C::F(2), 0), A::ToggleParams);
        b(Global, k(C::Left, ALT), A::PrevChoice);
        b(Global, k(C::Right, ALT), A::NextChoice);
        b(Global, k(C::PageUp, 0), A::PageUp);
        b(Global, k(C::PageDown, 0), A::PageDown);
        b(Global, k(C::Home, CTRL), A::ScrollTop);
        b(Global, k(C::End, CTRL), A::ScrollBottom);
        b(Global, k(C::Char('o'), CTRL), A::Sessions);
        b(Global, k(C::Char('n'), CTRL), A::NewChat);
        b(Global, k(C::Char('r'), CTRL), A::Retry);
        b(Global, k(C::BackTab, 0), A::FocusNext);

        b(Input, k(C::Enter, 0), A::Submit);
        b(Input, k(C::Enter, ALT), A::Newline);
        b(Input, k(C::Enter, SHIFT), A::Newline);
        b(Input, k(C::Char('j'), CTRL), A::Newline);
        b(Input, k(C::Up, 0), A::RecallPrev);
        b(Input, k(C::Down, 0), A::RecallNext);
        b(Input, k(C::Tab, 0), A::Complete);

        b(Conversation, k(C::Up, 0), A::ScrollUp);
        b(Conversation, k(C::Char('k'), 0), A::ScrollUp);
        b(Conversation, k(C::Down, 0), A::ScrollDown);
        b(Conversation, k(C::Char('j'), 0), A::ScrollDown);
        b(Conversation, k(C::Char('['), 0), A::PrevChoice);
        b(Conversation, k(C::Char(']'), 0), A::NextChoice);
        b(Conversation, k(C::Home, 0), A::ScrollTop);
        b(Conversation, k(C::Char('g'), 0), A::ScrollTop);
        b(Conversation, k(C::End, 0), A::ScrollBottom);
        b(Conversation, k(C::Char('G'), 0), A::ScrollBottom);
        b(Conversation, k(C::Tab, 0), A::FocusNext);
        b(Conversation, k(C::Char('q'), 0), A::Quit);

        b(Params, k(C::Up, 0), A::SelectPrev);
        b(Params, k(C::Char('k'), 0), A::SelectPrev);
        b(Params, k(C::Down, 0), A::SelectNext);
        b(Params, k(C::Char('j'), 0), A::SelectNext);
        b(Params, k(C::Enter, 0), A::Edit);
        b(Params, k(C::Char('e'), 0), A::Edit);
        b(Params, k(C::Delete, 0), A::Unset);
        b(Params, k(C::Backspace, 0), A::Unset);
        b(Params, k(C::Char('d'), 0), A::Unset);
        b(Params, k(C::Esc, 0), A::Close);
        b(Params, k(C::Tab, 0), A::FocusNext);

        b(ParamEdit, k(C::Enter, 0), A::Apply);
        b(ParamEdit, k(C::Esc, 0), A::Close);

        b(Help, k(C::Up, 0), A::ScrollUp);
        b(Help, k(C::Char('k'), 0), A::ScrollUp);
        b(Help, k(C::Down, 0), A::ScrollDown);
        b(Help, k(C::Char('j'), 0), A::ScrollDown);
        b(Help, k(C::PageUp, 0), A::PageUp);
        b(Help, k(C::PageDown, 0), A::PageDown);
        b(Help, k(C::Char(' '), 0), A::PageDown);
        b(Help, k(C::Esc, 0), A::Close);
        b(Help, k(C::F(1), 0), A::Close);

        b(Models, k(C::Up, 0), A::SelectPrev);
        b(Models, k(C::Down, 0), A::SelectNext);
        b(Models, k(C::Enter, 0), A::Accept);
        b(Models, k(C::Esc, 0), A::Close);

        b(LocalServer, k(C::Enter, 0), A::Yes);
        b(LocalServer, k(C::Char('y'), 0), A::Yes);
        b(LocalServer, k(C::Char('n'), 0), A::No);
        b(LocalServer, k(C::Esc, 0), A::No);

        b(Sessions, k(C::Up, 0), A::SelectPrev);
        b(Sessions, k(C::Down, 0), A::SelectNext);
        b(Sessions, k(C::PageUp, 0), A::PageUp);
        b(Sessions, k(C::PageDown, 0), A::PageDown);
        b(Sessions, k(C::Enter, 0), A::Accept);
        b(Sessions, k(C::Char('r'), CTRL), A::Rename);
        b(Sessions, k(C::Delete, 0), A::Delete);
        b(Sessions, k(C::Char('d'), CTRL), A::Delete);
        b(Sessions, k(C::Char('e'), CTRL), A::Export);
        b(Sessions, k(C::Esc, 0), A::Close);

        b(Rename, k(C::Enter, 0), A::Apply);
        b(Rename, k(C::Esc, 0), A::Close);

        b(Confirm, k(C::Char('y'), 0), A::Yes);
        b(Confirm, k(C::Char('Y'), 0), A::Yes);
        b(Confirm, k(C::Char('n'), 0), A::No);
        b(Confirm, k(C::Esc, 0), A::No);
        Keymap {
            defaults: map,
            user: BTreeMap::new(),
        }
    }
}

impl Keymap {
    /// Defaults plus the user's bindings. Returns the problems found (each names the entry).
    pub fn with_overrides(config: &KeyConfig) -> (Keymap, Vec<String>) {
        let mut km = Keymap::default();
        let mut problems = Vec::new();
        for (name, entry) in config {
            match entry {
                KeyEntry::Action(action) => {
                    km.bind(Context::Global, name, action, &mut problems);
                }
                KeyEntry::Context(table) => match Context::from_name(name) {
                    Some(ctx) => {
                        for (key, action) in table {
                            km.bind(ctx, key, action, &mut problems);
                        }
                    }
                    None => problems.push(format!(
                        "[keys.{name}]: no such pane (one of: {})",
                        Context::ALL
                            .iter()
                            .map(|c| c.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                },
            }
        }
        (km, problems)
    }

    fn bind(&mut self, ctx: Context, key: &str, action: &str, problems: &mut Vec<String>) {
        let place = match ctx {
            Context::Global => "[keys]".to_string(),
            c => format!("[keys.{}]", c.name()),
        };
        let Some(k) = parse_key(key) else {
            problems.push(format!("{place} `{key}` is not a key this program knows"));
            return;
        };
        let action = if action.trim().eq_ignore_ascii_case(UNBIND) {
            None
        } else {
            match Action::from_name(action) {
                Some(a) => Some(a),
                None => {
                    problems.push(format!(
                        "{place} `{key}` = `{action}`: unknown action (F1 lists them)"
                    ));
                    return;
                }
            }
        };
        // A plain character bound anywhere would stop it being typed.
        if ctx == Context::Global
            && k.mods & (CTRL | ALT) == 0
            && matches!(k.code, KeyCodeOrd::Char(_))
        {
            problems.push(format!(
                "{place} `{key}`: a plain character cannot be bound everywhere (it could not be typed); bind it in a pane, e.g. [keys.conversation]"
            ));
            return;
        }
        self.user.insert((ctx, k), action);
    }

    /// The contexts a key pressed in `ctx` is looked up in, in order.
    fn chain(ctx: Context) -> &'static [Context] {
        match ctx {
            Context::Global => &[Context::Global],
            Context::Input => &[Context::Input, Context::Global],
            Context::Conversation => &[Context::Conversation, Context::Global],
            Context::Params => &[Context::Params, Context::Global],
            Context::ParamEdit => &[Context::ParamEdit, Context::Global],
            Context::Help => &[Context::Help],
            Context::Models => &[Context::Models],
            Context::LocalServer => &[Context::LocalServer],
            Context::Sessions => &[Context::Sessions],
            Context::Rename => &[Context::Rename],
            Context::Confirm => &[Context::Confirm],
        }
    }

    /// The binding of `key` in exactly `ctx`: the user's, else the default.
    fn get(&self, ctx: Context, key: Key) -> Option<Option<Action>> {
        if let Some(a) = self.user.get(&(ctx, key)) {
            return Some(*a);
        }
        self.defaults.get(&(ctx, key)).map(|a| Some(*a))
    }

    fn resolve(&self, ctx: Context, key: Key) -> Option<Action> {
        let chain = Self::chain(ctx);
        // The user's bindings win over every default along the chain (so a key rebound
        // anywhere also works in a pane that binds it by default)…
        for c in chain {
            if let Some(a) = self.user.get(&(*c, key)) {
                return *a;
            }
        }
        for c in chain {
            if let Some(a) = self.defaults.get(&(*c, key)) {
                return Some(*a);
            }
        }
        // …and over every panel, Quit works.
        if ctx.is_panel()
            && let Some(Some(Action::Quit)) = self.get(Context::Global, key)
        {
            return Some(Action::Quit);
        }
        None
    }

    /// The action for `ev` pressed in `ctx`.
    pub fn lookup(&self, ctx: Context, ev: &KeyEvent) -> Option<Action> {
        self.resolve(ctx, Key::from_event(ev)?)
    }

    /// The keys bound in exactly `ctx` (after the user's changes), for the help screen:
    /// (key label, action), in key order. A key whose binding here is shadowed by a user
    /// binding elsewhere on the chain is listed where that binding is.
    pub fn bindings(&self, ctx: Context) -> Vec<(String, Action)> {
        let mut keys: Vec<Key> = self
            .defaults
            .keys()
            .chain(self.user.keys())
            .filter(|(c, _)| *c == ctx)
            .map(|(_, k)| *k)
            .collect();
        keys.sort();
        keys.dedup();
        // Listed under the context whose own binding is what the key does there.
        keys.into_iter()
            .filter_map(|k| match (self.get(ctx, k), self.resolve(ctx, k)) {
                (Some(Some(own)), Some(does)) if own == does => Some((k.label(), does)),
                _ => None,
            })
            .collect()
    }

    /// Every key that does `action` when pressed in `ctx`, best first for a hint: no
    /// modifiers, then one with Enter (Alt+Enter reads better than Ctrl+J), then a named key
    /// over a letter, then the shortest.
    pub fn keys_for(&self, ctx: Context, action: Action) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .defaults
            .keys()
            .chain(self.user.keys())
            .filter(|(c, _)| Self::chain(ctx).contains(c))
            .map(|(_, k)| *k)
            .filter(|k| self.resolve(ctx, *k) == Some(action))
            .collect();
        keys.sort_by_key(|k| {
            (
                k.mods != 0,
                k.code != KeyCodeOrd::Enter,
                matches!(k.code, KeyCodeOrd::Char(_)),
                matches!(k.code, KeyCodeOrd::Char(c) if c.is_uppercase()),
                k.label().len(),
                *k,
            )
        });
        keys.dedup();
        keys
    }

    /// The key to show in a hint for `action` in `ctx` (empty when nothing is bound).
    pub fn hint_key(&self, ctx: Context, action: Action) -> String {
        self.keys_for(ctx, action)
            .first()
            .map(Key::label)
            .unwrap_or_default()
    }

    /// Like [`Keymap::hint_key`], but a letter when one is bound (a "y / n" question reads
    /// better with letters).
    pub fn letter_key(&self, ctx: Context, action: Action) -> String {
        let keys = self.keys_for(ctx, action);
        keys.iter()
            .find(|k| k.mods == 0 && matches!(k.code, KeyCodeOrd::Char(_)))
            .or(keys.first())
            .map(Key::label)
            .unwrap_or_default()
    }

    /// The keys for a pair of actions (previous/next): "↑↓" for arrows, "[ ]" for other
    /// single keys, else "PgUp/PgDn".
    pub fn hint_pair(&self, ctx: Context, a: Action, b: Action) -> String {
        let (x, y) = (self.hint_key(ctx, a), self.hint_key(ctx, b));
        let arrow = |s: &str| matches!(s, "↑" | "↓" | "←" | "→");
        if x.is_empty() || y.is_empty() || (arrow(&x) && arrow(&y)) {
            format!("{x}{y}")
        } else if x.chars().count() == 1 && y.chars().count() == 1 {
            format!("{x} {y}")
        } else {
            format!("{x}/{y}")
        }
    }
}

/// Hints for a context: `KEY word` items in the order given, skipping actions with no key.
/// Pairs (`(prev, next)`) show both keys under one word.
pub fn hints(km: &Keymap, ctx: Context, items: &[Hint]) -> Vec<String> {
    items
        .iter()
        .filter_map(|h| {
            let (keys, word) = match *h {
                Hint::One(a) => (km.hint_key(ctx, a), a.hint()),
                Hint::Pair(a, b) => (km.hint_pair(ctx, a, b), a.hint()),
                Hint::Named(a, word) => (km.hint_key(ctx, a), word),
            };
            (!keys.is_empty()).then(|| format!("{keys} {word}"))
        })
        .collect()
}

/// An item of the hint bar.
#[derive(Clone, Copy, Debug)]
pub enum Hint {
    One(Action),
    Pair(Action, Action),
    /// An action with a word of its own in this place.
    Named(Action, &'static str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new_with_kind(code, m, KeyEventKind::Press)
    }

    fn user(entries: &[(&str, &str)], tables: &[(&str, &[(&str, &str)])]) -> KeyConfig {
        let mut c = KeyConfig::new();
        for (k, a) in entries {
            c.insert(k.to_string(), KeyEntry::Action(a.to_string()));
        }
        for (ctx, table) in tables {
            c.insert(
                ctx.to_string(),
                KeyEntry::Context(
                    table
                        .iter()
                        .map(|(k, a)| (k.to_string(), a.to_string()))
                        .collect(),
                ),
            );
        }
        c
    }

    #[test]
    fn defaults() {
        let km = Keymap::default();
        assert_eq!(
            km.lookup(Context::Input, &ev(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Action::Submit)
        );
        assert_eq!(
            km.lookup(Context::Input, &ev(KeyCode::Enter, KeyModifiers::ALT)),
            Some(Action::Newline)
        );
        assert_eq!(
            km.lookup(
                Context::Input,
                &ev(KeyCode::Char('j'), KeyModifiers::CONTROL)
            ),
            Some(Action::Newline)
        );
        assert_eq!(
            km.lookup(Context::Input, &ev(KeyCode::Char('['), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            km.lookup(
                Context::Conversation,
                &ev(KeyCode::Char('['), KeyModifiers::NONE)
            ),
            Some(Action::PrevChoice)
        );
        assert_eq!(
            km.lookup(Context::Input, &ev(KeyCode::Right, KeyModifiers::ALT)),
            Some(Action::NextChoice)
        );
        assert_eq!(
            km.lookup(
                Context::Conversation,
                &ev(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::CancelOrQuit)
        );
        assert_eq!(
            km.lookup(
                Context::Conversation,
                &ev(KeyCode::Char('G'), KeyModifiers::SHIFT)
            ),
            Some(Action::ScrollBottom)
        );
    }

    #[test]
    fn panels_see_their_own_keys_and_quit_only() {
        let km = Keymap::default();
        assert_eq!(
            km.lookup(
                Context::Sessions,
                &ev(KeyCode::Char('r'), KeyModifiers::CONTROL)
            ),
            Some(Action::Rename),
            "the panel's Ctrl+R, not the global retry"
        );
        assert_eq!(
            km.lookup(Context::Sessions, &ev(KeyCode::F(2), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            km.lookup(
                Context::Models,
                &ev(KeyCode::Char('q'), KeyModifiers::CONTROL)
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            km.lookup(
                Context::Sessions,
                &ev(KeyCode::Char('x'), KeyModifiers::NONE)
            ),
            None,
            "typing goes to the filter"
        );
    }

    #[test]
    fn user_bindings_and_parsing() {
        let (km, problems) = Keymap::with_overrides(&user(
            &[
                ("ctrl-s", "submit"),
                ("ctrl-nope-x", "submit"),
                ("f5", "launch_rockets"),
                ("x", "quit"),
            ],
            &[],
        ));
        assert_eq!(
            km.lookup(
                Context::Conversation,
                &ev(KeyCode::Char('s'), KeyModifiers::CONTROL)
            ),
            Some(Action::Submit)
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[2].contains("plain character"), "{problems:?}");
        assert_eq!(parse_key("shift-tab").unwrap().code, KeyCodeOrd::BackTab);
        assert_eq!(parse_key("F12").unwrap().code, KeyCodeOrd::F(12));
        assert_eq!(parse_key("Alt+Enter").unwrap().label(), "Alt+Enter");
        assert!(parse_key("ctrl-").is_none());
        for a in Action::ALL {
            assert_eq!(Action::from_name(&a.name()), Some(*a));
        }
        assert_eq!(Action::from_name("history_prev"), Some(Action::RecallPrev));
    }

    #[test]
    fn a_pane_key_can_be_rebound_in_its_pane() {
        let (km, problems) = Keymap::with_overrides(&user(
            &[("tab", "help")],
            &[
                ("conversation", &[("j", "scroll_up"), ("k", "none")]),
                ("input", &[("enter", "newline"), ("ctrl-s", "submit")]),
                ("sessions", &[("ctrl-x", "delete"), ("delete", "none")]),
                ("nowhere", &[("a", "quit")]),
            ],
        ));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("[keys.nowhere]"), "{problems:?}");
        let j = ev(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(km.lookup(Context::Conversation, &j), Some(Action::ScrollUp));
        let kk = ev(KeyCode::Char('k'), KeyModifiers::NONE);
        assert_eq!(km.lookup(Context::Conversation, &kk), None, "unbound");
        let enter = ev(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(km.lookup(Context::Input, &enter), Some(Action::Newline));
        assert_eq!(km.hint_key(Context::Input, Action::Submit), "Ctrl+S");
        let tab = ev(KeyCode::Tab, KeyModifiers::NONE);
        assert_eq!(
            km.lookup(Context::Input, &tab),
            Some(Action::Help),
            "a key rebound anywhere wins over a pane's default"
        );
        let ctrl_x = ev(KeyCode::Char('x'), KeyModifiers::CONTROL);
        assert_eq!(km.lookup(Context::Sessions, &ctrl_x), Some(Action::Delete));
        let del = ev(KeyCode::Delete, KeyModifiers::NONE);
        assert_eq!(km.lookup(Context::Sessions, &del), None);
        let listed = km.bindings(Context::Input);
        assert!(listed.contains(&("Enter".to_string(), Action::Newline)));
        assert!(!listed.iter().any(|(k, _)| k == "Tab"), "{listed:?}");
    }

    #[test]
    fn hints_come_from_the_table() {
        let km = Keymap::default();
        assert_eq!(km.hint_key(Context::Input, Action::Newline), "Alt+Enter");
        assert_eq!(km.hint_key(Context::Sessions, Action::Delete), "Del");
        assert_eq!(km.hint_key(Context::Params, Action::Unset), "Del");
        assert_eq!(km.hint_key(Context::Conversation, Action::ScrollUp), "↑");
        assert_eq!(km.hint_key(Context::Confirm, Action::Yes), "y");
        assert_eq!(km.letter_key(Context::Confirm, Action::No), "n");
        assert_eq!(
            km.hint_pair(Context::Params, Action::SelectPrev, Action::SelectNext),
            "↑↓"
        );
        let h = hints(
            &km,
            Context::Sessions,
            &[Hint::One(Action::Rename), Hint::One(Action::Close)],
        );
        assert_eq!(h, vec!["Ctrl+R rename", "Esc close"]);
    }

    #[test]
    fn every_context_has_a_unique_name() {
        for c in Context::ALL {
            assert_eq!(Context::from_name(c.name()), Some(*c));
        }
        assert_eq!(Context::from_name("history"), Some(Context::Conversation));
    }
}
