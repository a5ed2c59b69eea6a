//! Keys as the key map knows them: a key code and its modifiers, read from crossterm's
//! events, written in the config (`ctrl-s`, `alt-enter`, `f5`), and shown in help.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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

pub(super) const CTRL: u8 = 1;
pub(super) const ALT: u8 = 2;
pub(super) const SHIFT: u8 = 4;

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
