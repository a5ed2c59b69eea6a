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

use pulldown_cmark::Parser;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::text::sanitize;
use crate::ui::theme::Theme;

use self::blocks::Renderer;
use self::wrap::{Wrapper, spans_width, truncate_spans};

pub use self::highlight::{
    MAX_HIGHLIGHT_BYTES, MAX_HIGHLIGHT_LINE, WARM_THREAD, clear_highlight_cache, warm_code, warm_up,
};

/// Containers nested deeper than this add no more indentation (nor markers).
pub const MAX_DEPTH: usize = 12;

/// What a drawn line is made of, for copying text off the screen: which cells are drawing
/// rather than text, and whether it goes on from the line above.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineMeta {
    /// Leading cells that are drawing, not text: quote bars, the code gutter, the hanging
    /// indent of a wrapped line. Never copied.
    pub lead: u16,
    /// The line goes on from the one above (the text was wrapped there): copied without a
    /// line break, with the `space` spaces the wrap took.
    pub soft: bool,
    pub space: u8,
    /// Nothing on the line is text (a code block's label line): copied as nothing at all.
    pub deco: bool,
}

/// Rendered Markdown: the lines, what each is made of, and how many code blocks it drew.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rendered {
    pub lines: Vec<Line<'static>>,
    pub meta: Vec<LineMeta>,
    pub code_blocks: usize,
}

/// Wrap styled spans (sanitized first) to `width` cells; `\n` breaks lines.
pub fn wrap_spans(spans: &[Span<'_>], width: u16) -> Vec<Line<'static>> {
    wrap_spans_meta(spans, width).0
}

/// [`wrap_spans`], with what each line is made of.
pub fn wrap_spans_meta(spans: &[Span<'_>], width: u16) -> (Vec<Line<'static>>, Vec<LineMeta>) {
    if width == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut w = Wrapper::new(width as usize);
    for s in spans {
        w.push(&sanitize(&s.content), s.style);
    }
    w.finish_meta()
}

/// Plain text (no Markdown), sanitized and wrapped to `width`, newlines preserved.
pub fn render_plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    render_plain_meta(text, width, style).0
}

/// [`render_plain`], with what each line is made of.
pub fn render_plain_meta(
    text: &str,
    width: u16,
    style: Style,
) -> (Vec<Line<'static>>, Vec<LineMeta>) {
    if width == 0 {
        return (Vec::new(), Vec::new());
    }
    let text = sanitize(text);
    let mut w = Wrapper::new(width as usize);
    w.push(&text, style);
    let (mut lines, mut meta) = w.finish_meta();
    while lines.last().is_some_and(|l| l.width() == 0) {
        lines.pop();
        meta.pop();
    }
    (lines, meta)
}

/// Render Markdown to styled lines no wider than `width` cells (code blocks numbered from
/// 1).
pub fn render(text: &str, width: u16, theme: &Theme) -> Vec<Line<'static>> {
    render_full(text, width, theme, 0).lines
}

/// Render Markdown: the lines, what each is made of, and the number of code blocks. The
/// code blocks are labelled `[code_base + 1]`, `[code_base + 2]`, … (numbered across a
/// conversation: `code_base` is the count of blocks above this text).
pub fn render_full(text: &str, width: u16, theme: &Theme, code_base: usize) -> Rendered {
    if width == 0 {
        return Rendered::default();
    }
    let text = sanitize(text);
    let mut r = Renderer::new(theme, width as usize, code_base);
    for ev in Parser::new_ext(&text, crate::text::code_blocks::markdown_options()) {
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
    r.fill_meta(LineMeta::default());
    // At very small widths the fixed decorations (a code gutter, quote bars, list markers)
    // can be wider than the width itself: cut what is left over so no line overflows.
    let width = usize::from(width);
    for line in &mut r.out {
        if spans_width(&line.spans) > width {
            let spans = std::mem::take(&mut line.spans);
            line.spans = truncate_spans(spans, width).0;
        }
    }
    Rendered {
        lines: r.out,
        meta: r.meta,
        code_blocks: r.code_blocks,
    }
}
