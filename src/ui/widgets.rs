//! Pieces every panel uses: the bordered block, a centred (and cleared) rectangle, a hint line.

use ratatui::Frame;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Clear, Widget};

use crate::ui::theme::Theme;

/// A bordered block titled ` title `: the border brighter when `focused`.
pub fn block<'a>(title: &str, title_style: Style, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Span::styled(format!(" {title} "), title_style))
}

/// A pane of the main screen (dim title).
pub fn pane<'a>(title: &str, theme: &Theme, focused: bool) -> Block<'a> {
    block(title, theme.dim, focused, theme)
}

/// A panel drawn over the screen (always focused, heading title).
pub fn panel<'a>(title: &str, theme: &Theme) -> Block<'a> {
    block(title, theme.heading, true, theme)
}

/// A centred rectangle of at most `w` x `h`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [c] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(r);
    c
}

/// A centred rectangle of at most `w` x `h`, cleared of what is drawn under it: where a panel
/// over the screen draws.
pub fn panel_area(f: &mut Frame, area: Rect, w: u16, h: u16) -> Rect {
    let r = centered(area, w, h);
    f.render_widget(Clear, r);
    r
}

/// The cells a block draws (its border and titles), kept while the block and its area stay
/// the same, so a pane redrawn every frame does not lay its border out again — nor walk
/// every cell of its area, as `Block`'s render does to apply its style.
///
/// Drawn on cells not drawn yet this frame (as a pane's block is), the result is the
/// block's own render. A block whose drawing depends on what is under it (a style of its
/// own, merged borders) is found out when its cells are taken, and rendered as it is.
#[derive(Default)]
pub struct BlockCache {
    block: Option<(Block<'static>, Rect)>,
    /// (column, row, cell) on the screen, or None: render the block itself.
    cells: Option<Vec<(u16, u16, Cell)>>,
}

impl BlockCache {
    /// Draw `block` over `area` of `buf`.
    pub fn render(&mut self, block: Block<'static>, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        if self
            .block
            .as_ref()
            .is_none_or(|(b, a)| *a != area || *b != block)
        {
            self.cells = cells_of(&block, area);
            self.block = Some((block, area));
        }
        match (&self.cells, &self.block) {
            (Some(cells), _) => {
                for (x, y, cell) in cells {
                    let at = buf.index_of(*x, *y);
                    buf.content[at].clone_from(cell);
                }
            }
            (None, Some((b, _))) => b.render(area, buf),
            (None, None) => {}
        }
    }
}

/// The cells `block` draws over `area`, found by drawing it over a marked blank area; None
/// when it changes a cell in a way that depends on the cell (a style over marked cells).
fn cells_of(block: &Block<'static>, area: Rect) -> Option<Vec<(u16, u16, Cell)>> {
    const MARK: &str = "\u{1}";
    let local = Rect::new(0, 0, area.width, area.height);
    let mut mark = Cell::default();
    mark.set_symbol(MARK);
    let mut scratch = Buffer::filled(local, mark.clone());
    block.render(local, &mut scratch);
    let mut cells = Vec::new();
    for (i, cell) in scratch.content.iter().enumerate() {
        if *cell == mark {
            continue;
        }
        if cell.symbol() == MARK {
            return None;
        }
        // A new symbol, its style patched over a blank cell's: as drawn over a blank cell.
        let (x, y) = (i % usize::from(area.width), i / usize::from(area.width));
        cells.push((area.x + x as u16, area.y + y as u16, cell.clone()));
    }
    Some(cells)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::{Color, Modifier};
    use ratatui::text::Line;

    /// After every step of a sequence of blocks and areas (the same one again, a new title,
    /// the other border colour, a moved or resized area, a block with a style of its own),
    /// a frame drawn with the cache equals one drawn by the block itself.
    #[test]
    fn cached_block_cells_equal_the_blocks_own_render() {
        let theme = Theme::default();
        let screen = Rect::new(0, 0, 60, 12);
        let legend = || Line::from(Span::styled(" tokens: ■ low ", theme.dim)).right_aligned();
        let steps: Vec<(Block<'static>, Rect)> = vec![
            (
                block("chat-tui", theme.heading, false, &theme),
                Rect::new(0, 0, 60, 9),
            ),
            (
                block("chat-tui", theme.heading, false, &theme),
                Rect::new(0, 0, 60, 9),
            ),
            (
                block("chat-tui", theme.heading, true, &theme),
                Rect::new(0, 0, 60, 9),
            ),
            (
                block("a title", theme.heading, true, &theme),
                Rect::new(0, 0, 60, 9),
            ),
            (
                block("a title", theme.heading, true, &theme).title(legend()),
                Rect::new(0, 0, 60, 9),
            ),
            (
                block("a title", theme.heading, true, &theme),
                Rect::new(0, 0, 40, 12),
            ),
            (
                block(&"long ".repeat(20), theme.heading, false, &theme),
                Rect::new(2, 1, 30, 5),
            ),
            (
                block("x", theme.heading, false, &theme),
                Rect::new(0, 0, 2, 2),
            ),
            (
                block("x", theme.heading, false, &theme),
                Rect::new(50, 8, 30, 10),
            ),
            (
                block("styled", theme.heading, false, &theme)
                    .style(Style::new().bg(Color::Blue).add_modifier(Modifier::BOLD)),
                Rect::new(0, 0, 60, 9),
            ),
            (
                block("chat-tui", theme.heading, false, &theme),
                Rect::new(0, 0, 60, 9),
            ),
        ];
        let mut cache = BlockCache::default();
        for (i, (b, area)) in steps.into_iter().enumerate() {
            // What is inside the block already (the block leaves it as it is).
            let under = |buf: &mut Buffer| {
                let shown = area.intersection(screen);
                let inner = Rect::new(shown.x + 1, shown.y + 1, shown.width.saturating_sub(2), 1)
                    .intersection(screen);
                if !inner.is_empty() {
                    let text = "under".repeat(12);
                    let style = Style::new().fg(Color::Red);
                    buf.set_stringn(inner.x, inner.y, text, usize::from(inner.width), style);
                }
            };
            let mut want = Buffer::empty(screen);
            under(&mut want);
            b.clone().render(area, &mut want);
            let mut got = Buffer::empty(screen);
            under(&mut got);
            cache.render(b, area, &mut got);
            assert_eq!(got, want, "step {i}");
        }
    }
}
