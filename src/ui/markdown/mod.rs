//! Markdown to styled, wrapped terminal lines.
//!
//! Everything here is linear in the input: the parser is driven as a flat event stream, the
//! container stack is only walked to a fixed depth, and inline styles are kept as a stack of
//! already-combined styles.
//!
//! By job: `wrap` (word wrapping and display widths), `blocks` (the pulldown-cmark event
//! renderer), `code` and `table` (laying out those blocks), `highlight` (syntect and its
//! cache).

mod blocks;
mod code;
mod highlight;
mod table;
mod wrap;

#[cfg(test)]
mod tests;

use pulldown_cmark::{Options, Parser};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::text::sanitize;
use crate::ui::theme::Theme;

use self::blocks::Renderer;
use self::wrap::{Wrapper, spans_width, truncate_spans};

pub use self::highlight::{
    MAX_HIGHLIGHT_BYTES, MAX_HIGHLIGHT_LINE, clear_highlight_cache, warm_up,
};

/// Containers nested deeper than this add no more indentation (nor markers).
pub const MAX_DEPTH: usize = 12;

/// Wrap styled spans (sanitized first) to `width` cells; `\n` breaks lines.
pub fn wrap_spans(spans: &[Span<'_>], width: u16) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let mut w = Wrapper::new(width as usize);
    for s in spans {
        w.push(&sanitize(&s.content), s.style);
    }
    w.finish()
}

/// Plain text (no Markdown), sanitized and wrapped to `width`, newlines preserved.
pub fn render_plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let text = sanitize(text);
    let mut w = Wrapper::new(width as usize);
    w.push(&text, style);
    let mut lines = w.finish();
    while lines.last().is_some_and(|l| l.width() == 0) {
        lines.pop();
    }
    lines
}

/// Render Markdown to styled lines no wider than `width` cells.
pub fn render(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let text = sanitize(text);
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut r = Renderer::new(theme, width as usize);
    for ev in Parser::new_ext(&text, options) {
        r.event(ev);
    }
    // Unterminated constructs (streaming): show what there is.
    if let Some((lang, body)) = r.code.take() {
        let (first, rest) = r.begin_block();
        r.code_block(&lang, &body, first, rest);
    }
    if let Some(tb) = r.table.take() {
        let (first, rest) = r.begin_block();
        r.table_block(tb, first, rest);
    }
    r.flush_wrapper();
    // At very small widths the fixed decorations (a code gutter, quote bars, list markers)
    // can be wider than the width itself: cut what is left over so no line overflows.
    let width = usize::from(width);
    for line in &mut r.out {
        if spans_width(&line.spans) > width {
            let spans = std::mem::take(&mut line.spans);
            line.spans = truncate_spans(spans, width).0;
        }
    }
    r.out
}
