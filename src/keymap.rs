//! Keys to actions, per context. Defaults plus the user's `[keys]`; the help screen and the
//! hint bar are generated from this table, so they cannot drift from behaviour.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::Action;

/// Where the key was pressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Anywhere (checked after the focused pane's own bindings).
    Global,
    Input,
    History,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Global => "anywhere",
            Context::Input => "input",
            Context::History => "history",
        }
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
            KeyCodeOrd::Delete => s.push_str("Delete"),
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

/// The table.
#[derive(Clone, Debug)]
pub struct Keymap {
    map: BTreeMap<(Context, Key), Action>,
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
        b(Input, k(C::Up, 0), A::HistoryPrev);
        b(Input, k(C::Down, 0), A::HistoryNext);
        b(Input, k(C::Tab, 0), A::Complete);
        b(History, k(C::Up, 0), A::ScrollUp);
        b(History, k(C::Char('k'), 0), A::ScrollUp);
        b(History, k(C::Down, 0), A::ScrollDown);
        b(History, k(C::Char('j'), 0), A::ScrollDown);
        b(History, k(C::Char('['), 0), A::PrevChoice);
        b(History, k(C::Char(']'), 0), A::NextChoice);
        b(History, k(C::Home, 0), A::ScrollTop);
        b(History, k(C::Char('g'), 0), A::ScrollTop);
        b(History, k(C::End, 0), A::ScrollBottom);
        b(History, k(C::Char('G'), 0), A::ScrollBottom);
        b(History, k(C::Tab, 0), A::FocusNext);
        b(History, k(C::Char('q'), 0), A::Quit);
        Keymap { map }
    }
}

impl Keymap {
    /// Defaults plus the user's bindings (which apply anywhere). Returns the problems found.
    pub fn with_overrides(user: &BTreeMap<String, String>) -> (Keymap, Vec<String>) {
        let mut km = Keymap::default();
        let mut problems = Vec::new();
        for (key, action) in user {
            match (parse_key(key), Action::from_name(action)) {
                (Some(k), Some(a)) => {
                    km.map.insert((Context::Global, k), a);
                }
                (None, _) => {
                    problems.push(format!("[keys] `{key}` is not a key this program knows"))
                }
                (_, None) => problems.push(format!(
                    "[keys] `{key}` = `{action}`: unknown action (F1 lists them)"
                )),
            }
        }
        (km, problems)
    }

    /// The action for `ev` in `ctx` (the context's own binding first, then global ones).
    pub fn lookup(&self, ctx: Context, ev: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(ev)?;
        self.map
            .get(&(ctx, key))
            .or_else(|| self.map.get(&(Context::Global, key)))
            .copied()
    }

    /// Every binding, for the help screen: (context, key label, action).
    pub fn bindings(&self) -> Vec<(Context, String, Action)> {
        self.map
            .iter()
            .map(|((c, k), a)| (*c, k.label(), *a))
            .collect()
    }

    /// The key to show in a hint for `action`: one with Enter in it if any (Alt+Enter
    /// reads better than Ctrl+J), else the shortest.
    pub fn hint_key(&self, ctx: Context, action: Action) -> String {
        self.map
            .iter()
            .filter(|((c, _), a)| (*c == ctx || *c == Context::Global) && **a == action)
            .map(|((_, k), _)| k)
            .min_by_key(|k| (k.code != KeyCodeOrd::Enter, k.label().len()))
            .map(Key::label)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new_with_kind(code, m, KeyEventKind::Press)
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
                Context::History,
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
                Context::History,
                &ev(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::CancelOrQuit)
        );
        assert_eq!(
            km.lookup(
                Context::History,
                &ev(KeyCode::Char('G'), KeyModifiers::SHIFT)
            ),
            Some(Action::ScrollBottom)
        );
    }

    #[test]
    fn user_bindings_and_parsing() {
        let mut user = BTreeMap::new();
        user.insert("ctrl-s".to_string(), "submit".to_string());
        user.insert("ctrl-nope-x".to_string(), "submit".to_string());
        user.insert("f5".to_string(), "launch_rockets".to_string());
        let (km, problems) = Keymap::with_overrides(&user);
        assert_eq!(
            km.lookup(
                Context::History,
                &ev(KeyCode::Char('s'), KeyModifiers::CONTROL)
            ),
            Some(Action::Submit)
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(parse_key("shift-tab").unwrap().code, KeyCodeOrd::BackTab);
        assert_eq!(parse_key("F12").unwrap().code, KeyCodeOrd::F(12));
        assert_eq!(parse_key("Alt+Enter").unwrap().label(), "Alt+Enter");
        assert!(parse_key("ctrl-").is_none());
        for a in Action::ALL {
            assert_eq!(Action::from_name(&a.name()), Some(*a));
        }
    }
}
