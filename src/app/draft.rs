//! The message being written: the text area, and recalling earlier prompts with Up/Down.

use crossterm::event::KeyEvent;
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{TextArea, WrapMode};

/// Prompts remembered for recall.
const RECALL_MAX: usize = 1000;

/// A draft longer than this is shown without wrapping (long lines scroll sideways): the
/// text area lays out every line again on each key, and word-wrapping a pasted megabyte
/// takes hundreds of milliseconds a key; unwrapped, a few.
pub const WRAP_MAX_BYTES: usize = 128 * 1024;

/// The input box's state.
pub struct Draft {
    /// The text area (drawn by the input panel).
    pub input: TextArea<'static>,
    /// Earlier prompts, oldest first.
    recall: Vec<String>,
    /// Where recall is (an index into `recall`), while recalling.
    pos: Option<usize>,
    /// Bumped on every change (for the token count).
    version: u64,
}

fn new_input() -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_wrap_mode(WrapMode::WordOrGlyph);
    t.set_cursor_line_style(Style::default());
    t.set_placeholder_text(
        "Type a message — Enter sends, Alt+Enter for a new line, /help for commands",
    );
    t.set_max_histories(200);
    t.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
    t
}

impl Draft {
    pub fn new(recall: Vec<String>) -> Self {
        Self {
            input: new_input(),
            recall,
            pos: None,
            version: 0,
        }
    }

    /// The draft as one string.
    pub fn text(&self) -> String {
        self.input.lines().join("\n")
    }

    pub fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    pub fn line_count(&self) -> usize {
        self.input.lines().len()
    }

    /// Bumped on every change.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Replace the text.
    pub fn set(&mut self, text: &str) {
        let cursor = self.input.cursor_style();
        self.input = new_input();
        self.input.set_cursor_style(cursor);
        self.input.insert_str(text);
        self.version += 1;
        self.fit_wrap();
    }

    /// A key the text area handles itself (editing, cursor movement).
    pub fn input(&mut self, key: KeyEvent) {
        if self.input.input(key) {
            self.version += 1;
            self.pos = None;
            self.fit_wrap();
        }
    }

    pub fn insert_char(&mut self, c: char) {
        self.input.insert_char(c);
        self.version += 1;
    }

    pub fn insert_newline(&mut self) {
        self.input.insert_newline();
        self.version += 1;
    }

    /// Pasted text, line breaks normalised.
    pub fn paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        self.input.insert_str(&text);
        self.version += 1;
        self.fit_wrap();
    }

    /// Wrap the draft's lines, unless it is too long to wrap on every key
    /// ([`WRAP_MAX_BYTES`]).
    fn fit_wrap(&mut self) {
        let bytes: usize = self.input.lines().iter().map(|l| l.len() + 1).sum();
        let mode = if bytes > WRAP_MAX_BYTES {
            WrapMode::None
        } else {
            WrapMode::WordOrGlyph
        };
        if self.input.wrap_mode() != mode {
            self.input.set_wrap_mode(mode);
        }
    }

    /// Whether the draft is shown wrapped (false for a very long one).
    pub fn is_wrapped(&self) -> bool {
        self.input.wrap_mode() != WrapMode::None
    }

    /// Show the cursor (when the input has focus) or not.
    pub fn show_cursor(&mut self, focused: bool) {
        let style = if focused {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        if self.input.cursor_style() != style {
            self.input.set_cursor_style(style);
        }
    }

    /// Up and Down recall prompts in an empty input (or while recalling); inside a
    /// written draft they move the cursor.
    pub fn can_recall(&self) -> bool {
        (self.input.is_empty() || self.pos.is_some()) && self.line_count() <= 1
    }

    /// Step through earlier prompts: -1 older, +1 newer (past the newest: empty).
    pub fn recall(&mut self, dir: isize) {
        if self.recall.is_empty() {
            return;
        }
        let len = self.recall.len();
        let pos = match (self.pos, dir < 0) {
            (None, true) => Some(len - 1),
            (None, false) => None,
            (Some(0), true) => Some(0),
            (Some(p), true) => Some(p - 1),
            (Some(p), false) if p + 1 < len => Some(p + 1),
            (Some(_), false) => None,
        };
        let text = pos
            .and_then(|p| self.recall.get(p).cloned())
            .unwrap_or_default();
        self.set(&text);
        self.pos = pos;
    }

    /// Remember a sent prompt (not twice in a row; at most the last 1,000).
    pub fn remember(&mut self, text: &str) {
        if self.recall.last().map(String::as_str) != Some(text) {
            self.recall.push(text.to_string());
            let over = self.recall.len().saturating_sub(RECALL_MAX);
            self.recall.drain(..over);
        }
        self.pos = None;
    }

    /// The prompts to keep for the next session.
    pub fn recall_items(&self) -> &[String] {
        &self.recall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_very_long_draft_is_not_wrapped() {
        let mut d = Draft::new(Vec::new());
        d.paste("short");
        assert!(d.is_wrapped());
        d.paste(&"a line of a long paste\n".repeat(WRAP_MAX_BYTES / 20));
        assert!(!d.is_wrapped(), "too long to wrap on every key");
        d.set("short again");
        assert!(d.is_wrapped());
    }

    #[test]
    fn recall_walks_back_and_forth() {
        let mut d = Draft::new(vec!["one".into(), "two".into()]);
        assert!(d.can_recall());
        d.recall(-1);
        assert_eq!(d.text(), "two");
        d.recall(-1);
        assert_eq!(d.text(), "one");
        d.recall(-1);
        assert_eq!(d.text(), "one");
        d.recall(1);
        assert_eq!(d.text(), "two");
        d.recall(1);
        assert_eq!(d.text(), "");
        d.set("typed");
        assert!(!d.can_recall(), "a written draft keeps Up for the cursor");
    }

    #[test]
    fn remember_skips_repeats_and_caps() {
        let mut d = Draft::new(Vec::new());
        for i in 0..1005 {
            d.remember(&format!("p{i}"));
            d.remember(&format!("p{i}"));
        }
        assert_eq!(d.recall_items().len(), 1000);
        assert_eq!(d.recall_items()[0], "p5");
    }
}
