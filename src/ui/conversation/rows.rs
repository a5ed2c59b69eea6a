//! Drawing the visible rows: a row whose line is unchanged since the last frame is copied
//! from the cells it became then, instead of being laid out again.

use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{ConversationView, RowRef};
use crate::chat::conversation::Message;
use crate::ui::theme::Theme;

impl ConversationView {
    /// Draw the lines from the top position down into `area` (`width` columns of text,
    /// `height` rows), then reset the rows below the last line and the scrollbar column.
    pub(super) fn draw_rows(
        &mut self,
        messages: &[Message],
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
        width: u16,
        height: usize,
    ) {
        let n = self.entries.len();
        if self.rows_area != area {
            self.rows.clear();
            self.rows_area = area;
        }
        let (mut i, mut off) = self.top;
        let mut y = 0;
        while y < height && i < n {
            self.ensure(i, messages, theme);
            let id = self.entries[i].id;
            for (k, line) in self.entries[i].lines.iter().enumerate().skip(off) {
                if y >= height {
                    break;
                }
                self.row_refs.push(RowRef {
                    message: id,
                    line: k,
                });
                self.row_index.push(i);
                let row_y = area.y + y as u16;
                match self.rows.get(y) {
                    Some((prev, cells)) if prev == line => {
                        let start = buf.index_of(area.x, row_y);
                        buf.content[start..start + cells.len()].clone_from_slice(cells);
                    }
                    _ => {
                        buf.set_line(area.x, row_y, line, width);
                        let start = buf.index_of(area.x, row_y);
                        let cells = buf.content[start..start + usize::from(width)].to_vec();
                        if self.rows.len() <= y {
                            self.rows
                                .resize_with(y + 1, || (Line::default(), Vec::new()));
                        }
                        self.rows[y] = (line.clone(), cells);
                    }
                }
                y += 1;
            }
            i += 1;
            off = 0;
        }
        self.rows.truncate(y);
        // Rows below the last line, and the scrollbar column (drawn over below if needed).
        for row in y..height {
            let start = buf.index_of(area.x, area.y + row as u16);
            buf.content[start..start + usize::from(width)].fill(Cell::default());
        }
        for row in 0..height {
            buf[(area.x + width, area.y + row as u16)] = Cell::default();
        }
    }
}
