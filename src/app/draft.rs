//! The message being written: the text area, recalling earlier prompts with Up/Down, and
//! large pastes shown as one element.
//!
//! A paste longer than [`PASTE_COLLAPSE_CHARS`] is kept beside the text area, which shows a
//! placeholder token (`[pasted 12,345 characters]`) in its place. The token behaves as one
//! element: the cursor steps over it, Backspace and Delete remove it whole, and it is replaced
//! by the pasted text when the draft is read ([`Draft::text`]: sending, counting tokens, the
//! external editor) or expanded for editing ([`Draft::expand_paste`]).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Modifier, Style};
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

/// Prompts remembered for recall.
const RECALL_MAX: usize = 1000;

/// Pastes longer than this (in characters) show as one element in the input.
pub const PASTE_COLLAPSE_CHARS: usize = 1000;

/// What every placeholder token starts with.
const TOKEN_START: &str = "[pasted ";
/// Matches the placeholder tokens (to draw them as elements).
const TOKEN_PATTERN: &str = r"\[pasted [0-9,]+ characters(?: #[0-9]+)?\]";

/// A large paste, shown in the text area as `token`.
#[derive(Clone, Debug)]
struct Pasted {
    token: String,
    text: String,
}
/// A draft longer than this is shown without wrapping (long lines scroll sideways): the
/// text area lays out every line again on each key, and word-wrapping a pasted megabyte
/// takes hundreds of milliseconds a key; unwrapped, a few.
pub const WRAP_MAX_BYTES: usize = 128 * 1024;

/// The input box's state.
pub struct Draft {
    /// The text area (drawn by the input panel).
    pub input: TextArea<'static>,
    /// Large pastes, in the order they were made. Kept until the draft is replaced, so a
    /// deleted placeholder that comes back (undo) still expands; a placeholder no longer in
    /// the text sends nothing.
    pastes: Vec<Pasted>,
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

/// Placeholder tokens are drawn as elements: the text area highlights them as matches of
/// [`TOKEN_PATTERN`] (a constant that compiles). Set at the first collapsed paste, not at
/// start: compiling the pattern runs the regex engine's code (~0.4 MB of the binary,
/// touched page by page) before the first frame, and a set pattern is searched on every
/// line at every draw.
fn mark_tokens(t: &mut TextArea<'static>) {
    if t.search_pattern().is_none() && t.set_search_pattern(TOKEN_PATTERN).is_ok() {
        t.set_search_style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    }
}

/// `[pasted 12,345 characters]` (the first paste) or `[pasted 12,345 characters #2]`.
fn token_for(chars: usize, ordinal: usize) -> String {
    let grouped = crate::text::thousands(chars as u64);
    if ordinal <= 1 {
        format!("{TOKEN_START}{grouped} characters]")
    } else {
        format!("{TOKEN_START}{grouped} characters #{ordinal}]")
    }
}

impl Draft {
    pub fn new(recall: Vec<String>) -> Self {
        Self {
            input: new_input(),
            pastes: Vec::new(),
            recall,
            pos: None,
            version: 0,
        }
    }

    /// The draft as one string, large pastes in full: what is sent, counted and edited.
    pub fn text(&self) -> String {
        self.expand(&self.shown())
    }

    /// The draft as the text area shows it (large pastes as their placeholder tokens).
    pub fn shown(&self) -> String {
        self.input.lines().join("\n")
    }

    /// How many large pastes are shown as elements.
    pub fn paste_elements(&self) -> usize {
        if self.pastes.is_empty() {
            return 0;
        }
        let shown = self.shown();
        self.pastes
            .iter()
            .filter(|p| shown.contains(&p.token))
            .count()
    }

    /// `raw` with every placeholder token replaced by its paste, in one pass (a paste that
    /// itself contains token-like text is not expanded again).
    fn expand(&self, raw: &str) -> String {
        if self.pastes.is_empty() {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find(TOKEN_START) {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            match self.pastes.iter().find(|p| tail.starts_with(&p.token)) {
                Some(p) => {
                    out.push_str(&p.text);
                    rest = &tail[p.token.len()..];
                }
                None => {
                    out.push_str(TOKEN_START);
                    rest = &tail[TOKEN_START.len()..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The placeholder tokens on line `row`: (first char, one past the last char).
    fn tokens_on(&self, row: usize) -> Vec<(usize, usize)> {
        let Some(line) = self.input.lines().get(row) else {
            return Vec::new();
        };
        if self.pastes.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(i) = line[from..].find(TOKEN_START) {
            let at = from + i;
            let tail = &line[at..];
            match self.pastes.iter().find(|p| tail.starts_with(&p.token)) {
                Some(p) => {
                    let start = line[..at].chars().count();
                    out.push((start, start + p.token.chars().count()));
                    from = at + p.token.len();
                }
                None => from = at + TOKEN_START.len(),
            }
        }
        out
    }

    /// The token that ends right at the cursor, or starts right at it.
    fn token_before_cursor(&self) -> Option<(usize, usize)> {
        let (row, col) = (self.input.cursor().0, self.input.cursor().1);
        self.tokens_on(row).into_iter().find(|&(_, end)| end == col)
    }

    fn token_after_cursor(&self) -> Option<(usize, usize)> {
        let (row, col) = (self.input.cursor().0, self.input.cursor().1);
        self.tokens_on(row)
            .into_iter()
            .find(|&(start, _)| start == col)
    }

    fn step(&mut self, m: CursorMove, times: usize) {
        for _ in 0..times {
            self.input.move_cursor(m);
        }
    }

    /// Delete the token `(start, end)` on the cursor's line (the cursor is at one of its ends).
    fn delete_token(&mut self, (start, end): (usize, usize)) {
        let col = self.input.cursor().1;
        if col > start {
            self.step(CursorMove::Back, col - start);
        }
        self.input.delete_str(end - start);
    }

    /// Keys that treat a placeholder token as one element. True when handled.
    fn on_token_key(&mut self, key: &KeyEvent) -> bool {
        if self.pastes.is_empty() || self.input.is_selecting() {
            return false;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let backward_delete = match key.code {
            KeyCode::Backspace => true,
            KeyCode::Char('h') => ctrl || alt,
            KeyCode::Char('w') => ctrl,
            _ => false,
        };
        let forward_delete = match key.code {
            KeyCode::Delete => true,
            KeyCode::Char('d') => ctrl || alt,
            _ => false,
        };
        let left =
            !shift && (key.code == KeyCode::Left || (ctrl && key.code == KeyCode::Char('b')));
        let right =
            !shift && (key.code == KeyCode::Right || (ctrl && key.code == KeyCode::Char('f')));
        if backward_delete && let Some(t) = self.token_before_cursor() {
            self.delete_token(t);
            return true;
        }
        if forward_delete && let Some(t) = self.token_after_cursor() {
            self.delete_token(t);
            return true;
        }
        if left && let Some((start, end)) = self.token_before_cursor() {
            self.step(CursorMove::Back, end - start);
            return true;
        }
        if right && let Some((start, end)) = self.token_after_cursor() {
            self.step(CursorMove::Forward, end - start);
            return true;
        }
        false
    }

    /// A cursor that landed inside a token (moving up or down, Home/End of a wrapped line…)
    /// goes to its end, so nothing can be typed into it.
    fn snap_out_of_tokens(&mut self) {
        let (row, col) = (self.input.cursor().0, self.input.cursor().1);
        if let Some((_, end)) = self
            .tokens_on(row)
            .into_iter()
            .find(|&(start, end)| start < col && col < end)
        {
            self.step(CursorMove::Forward, end - col);
        }
    }

    /// Expand the pasted block at the cursor (or, with none there, every one) into the
    /// draft's text, for editing. False when there is none to expand.
    pub fn expand_paste(&mut self) -> bool {
        if let Some(t) = self
            .token_before_cursor()
            .or_else(|| self.token_after_cursor())
        {
            let row = self.input.cursor().0;
            let token: String = self.input.lines()[row]
                .chars()
                .skip(t.0)
                .take(t.1 - t.0)
                .collect();
            let Some(text) = self
                .pastes
                .iter()
                .find(|p| p.token == token)
                .map(|p| p.text.clone())
            else {
                return false;
            };
            self.delete_token(t);
            self.input.insert_str(&text);
            self.version += 1;
            self.pos = None;
            self.fit_wrap();
            return true;
        }
        if self.paste_elements() == 0 {
            return false;
        }
        let text = self.text();
        let pastes = std::mem::take(&mut self.pastes);
        self.set(&text);
        // Keep the blocks (undo can bring a token back).
        self.pastes = pastes;
        mark_tokens(&mut self.input);
        true
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

    /// Replace the text (large pastes in it are shown in full).
    pub fn set(&mut self, text: &str) {
        let cursor = self.input.cursor_style();
        self.input = new_input();
        self.input.set_cursor_style(cursor);
        self.input.insert_str(text);
        self.pastes.clear();
        self.version += 1;
        self.fit_wrap();
    }

    /// A key the text area handles itself (editing, cursor movement); placeholder tokens
    /// move and delete as one element.
    pub fn input(&mut self, key: KeyEvent) {
        if self.on_token_key(&key) {
            self.version += 1;
            self.pos = None;
            return;
        }
        if self.input.input(key) {
            self.version += 1;
            self.pos = None;
            self.fit_wrap();
        }
        if !self.pastes.is_empty() {
            self.snap_out_of_tokens();
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

    /// Pasted text, line breaks normalised. Longer than [`PASTE_COLLAPSE_CHARS`], it is shown
    /// as one element; returns its length in characters then.
    pub fn paste(&mut self, text: &str) -> Option<usize> {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let chars = text.chars().count();
        self.version += 1;
        self.pos = None;
        if chars <= PASTE_COLLAPSE_CHARS {
            self.input.insert_str(&text);
            self.fit_wrap();
            return None;
        }
        let token = token_for(chars, self.pastes.len() + 1);
        mark_tokens(&mut self.input);
        self.input.insert_str(&token);
        self.pastes.push(Pasted { token, text });
        self.fit_wrap();
        Some(chars)
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

    #[cfg(test)]
    fn insert_str_for_test(&mut self, s: &str) {
        self.input.insert_str(s);
        self.version += 1;
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
        // A large paste is one element until it is expanded for editing.
        d.paste(&"a line of a long paste\n".repeat(WRAP_MAX_BYTES / 20));
        assert!(d.is_wrapped(), "an element is short");
        assert!(d.expand_paste());
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

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn big(c: char, n: usize) -> String {
        std::iter::repeat_n(c, n).collect()
    }

    #[test]
    fn placeholder_tokens_are_marked_from_the_first_collapsed_paste() {
        let mut d = Draft::new(Vec::new());
        assert!(
            d.input.search_pattern().is_none(),
            "nothing compiled at start"
        );
        d.paste("a short paste");
        assert!(d.input.search_pattern().is_none(), "a short paste is text");
        d.paste(&big('x', 1500));
        let pattern = d
            .input
            .search_pattern()
            .expect("marked from the first element");
        assert!(pattern.is_match(&d.shown()));
        // Expanded for editing, the draft is a new text area: still marked, as undo can
        // bring a token back.
        assert!(d.expand_paste());
        assert!(d.input.search_pattern().is_some());
        // A draft replaced (sent, recalled) has no element left.
        d.set("next");
        assert!(d.input.search_pattern().is_none());
    }

    #[test]
    fn a_large_paste_is_one_element_that_expands_when_read() {
        let mut d = Draft::new(Vec::new());
        d.insert_char('>');
        let body = format!("{}\r\nend", big('x', 1500));
        assert_eq!(d.paste(&body), Some(1504));
        assert_eq!(d.shown(), ">[pasted 1,504 characters]");
        assert_eq!(d.line_count(), 1);
        assert_eq!(d.text(), format!(">{}\nend", big('x', 1500)));
        assert_eq!(d.paste_elements(), 1);
        // A small paste goes in as text.
        assert_eq!(d.paste(" and more"), None);
        assert_eq!(d.shown(), ">[pasted 1,504 characters] and more");
        // Exactly the limit is still text.
        let mut d = Draft::new(Vec::new());
        assert_eq!(d.paste(&big('y', PASTE_COLLAPSE_CHARS)), None);
        assert_eq!(d.shown().len(), PASTE_COLLAPSE_CHARS);
    }

    #[test]
    fn two_pastes_of_the_same_size_keep_their_own_text() {
        let mut d = Draft::new(Vec::new());
        d.paste(&big('a', 1200));
        d.insert_char(' ');
        d.paste(&big('b', 1200));
        assert_eq!(
            d.shown(),
            "[pasted 1,200 characters] [pasted 1,200 characters #2]"
        );
        assert_eq!(d.text(), format!("{} {}", big('a', 1200), big('b', 1200)));
    }

    #[test]
    fn backspace_and_delete_remove_the_element_whole_and_undo_brings_it_back() {
        let mut d = Draft::new(Vec::new());
        d.insert_char('a');
        d.paste(&big('x', 2000));
        d.insert_char('b');
        d.input(key(KeyCode::Backspace));
        assert_eq!(d.shown(), "a[pasted 2,000 characters]");
        let v = d.version();
        d.input(key(KeyCode::Backspace));
        assert_eq!(d.shown(), "a");
        assert_eq!(d.text(), "a");
        assert!(d.version() > v);
        d.input(ctrl('u'));
        assert_eq!(d.text(), format!("a{}", big('x', 2000)), "undo");
        // Delete in front of it.
        d.input(key(KeyCode::Home));
        d.input(key(KeyCode::Right));
        d.input(key(KeyCode::Delete));
        assert_eq!(d.shown(), "a");
        // Ctrl+W right after it removes it too, not just its last word.
        d.input(ctrl('u'));
        d.input(key(KeyCode::End));
        d.input(ctrl('w'));
        assert_eq!(d.shown(), "a");
    }

    #[test]
    fn the_cursor_steps_over_the_element_and_never_lands_inside() {
        let mut d = Draft::new(Vec::new());
        d.paste(&big('x', 1001));
        d.insert_str_for_test("tail");
        let len = "[pasted 1,001 characters]".chars().count();
        d.input(key(KeyCode::Home));
        assert_eq!(d.input.cursor(), (0, 0));
        d.input(key(KeyCode::Right));
        assert_eq!(d.input.cursor(), (0, len), "one step over the element");
        d.input(key(KeyCode::Left));
        assert_eq!(d.input.cursor(), (0, 0));
        // From the line below, Up lands in the middle of the token: it goes to its end.
        d.input(key(KeyCode::End));
        d.insert_newline();
        d.insert_str_for_test("0123456789");
        d.input(key(KeyCode::Up));
        assert_eq!(
            d.input.cursor(),
            (0, len),
            "moved out of the token to its end"
        );
        d.insert_char('!');
        assert_eq!(d.text(), format!("{}!tail\n0123456789", big('x', 1001)));
    }

    #[test]
    fn expanding_puts_the_text_in_the_draft() {
        let mut d = Draft::new(Vec::new());
        d.paste(&format!("{}\nline two", big('x', 1100)));
        d.insert_char('!');
        // Not touching the element: every element expands.
        assert!(d.expand_paste());
        assert_eq!(d.shown(), format!("{}\nline two!", big('x', 1100)));
        assert_eq!(d.paste_elements(), 0);
        assert!(!d.expand_paste(), "nothing left to expand");
        // Right after one: that one.
        let mut d = Draft::new(Vec::new());
        d.paste(&big('a', 1100));
        d.insert_char(' ');
        d.paste(&big('b', 1100));
        assert!(d.expand_paste());
        assert_eq!(
            d.shown(),
            format!("[pasted 1,100 characters] {}", big('b', 1100))
        );
        assert_eq!(d.text(), format!("{} {}", big('a', 1100), big('b', 1100)));
    }

    #[test]
    fn replacing_the_draft_forgets_the_pastes() {
        let mut d = Draft::new(Vec::new());
        d.paste(&big('x', 1100));
        d.set("");
        d.insert_str_for_test("[pasted 1,100 characters]");
        assert_eq!(d.text(), "[pasted 1,100 characters]", "typed text is text");
    }
}
