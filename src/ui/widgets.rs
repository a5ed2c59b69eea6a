//! Pieces every panel uses: the bordered block, a centred (and cleared) rectangle, a hint line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Clear};

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
