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
        let same_area = self.rows_area == area;
        if !same_area {
            self.rows.clear();
            self.rows_area = area;
        }
        // Rows drawn last frame, to tell what is unchanged (below them: blank rows).
        let drawn_last = self.rows.len();
        // The buffer holds the last frame and the rows in it are the plain rows drawn then
        // (nothing drawn over them): a row showing the same line in the same place is left.
        let last = self.last_frame;
        let left_as_is =
            self.kept && same_area && last.rendered && !last.decorated && !last.overdrawn;
        // Rows of the last frame taken to another row (the reply grew at the bottom and
        // every row moved up): their place no longer holds what the screen shows there.
        let mut displaced = vec![false; drawn_last];
        // How far rows moved up, once found.
        let mut moved: Option<usize> = None;
        self.clean.clear();
        self.clean.resize(height, false);
        self.shifted.clear();
        self.shifted.resize(height, false);
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
                let start = buf.index_of(area.x, row_y);
                let same = self.rows.get(y).is_some_and(|(prev, _)| prev == line);
                // Else the row that moved here: the first miss looks for the shift.
                let from = if same {
                    Some(y)
                } else {
                    if moved.is_none() {
                        moved = (y + 1..drawn_last)
                            .find(|&j| !displaced[j] && self.rows[j].0 == *line)
                            .map(|j| j - y);
                    }
                    moved
                        .map(|d| y + d)
                        .filter(|&j| j < drawn_last && !displaced[j] && self.rows[j].0 == *line)
                };
                match from {
                    Some(j) => {
                        let clean = j == y && !displaced.get(y).copied().unwrap_or(false);
                        if !(clean && left_as_is) {
                            buf.content[start..start + self.rows[j].1.len()]
                                .clone_from_slice(&self.rows[j].1);
                        }
                        if j == y {
                            self.clean[y] = clean;
                        } else {
                            // Moved up unchanged (all by the same rows): scrolled by the
                            // terminal when the screen shows the last frame.
                            if left_as_is {
                                self.shifted[y] = true;
                                self.moved_by = j - y;
                            }
                            self.rows.swap(y, j);
                            displaced[j] = true;
                        }
                    }
                    None => {
                        if self.kept {
                            // Over the last frame's cells: a line sets only its own cells
                            // (and patches its style over theirs).
                            buf.content[start..start + usize::from(width)].fill(Cell::default());
                        }
                        buf.set_line(area.x, row_y, line, width);
                        let cells = &buf.content[start..start + usize::from(width)];
                        if self.rows.len() <= y {
                            self.rows
                                .resize_with(y + 1, || (Line::default(), Vec::new()));
                        }
                        let row = &mut self.rows[y];
                        row.0.clone_from(line);
                        row.1.clear();
                        row.1.extend_from_slice(cells);
                        if let Some(d) = displaced.get_mut(y) {
                            *d = true;
                        }
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
            self.clean[row] = same_area && row >= drawn_last;
        }
        for row in 0..height {
            buf[(area.x + width, area.y + row as u16)] = Cell::default();
        }
    }
}
