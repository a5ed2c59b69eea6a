//! Tables: boxed, aligned, with columns shrunk to fit the width.

use pulldown_cmark::Alignment;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::LineMeta;
use super::blocks::Renderer;
use super::wrap::{Wrapper, spaces, spans_width};

#[derive(Default)]
pub(super) struct TableBuf {
    pub(super) aligns: Vec<Alignment>,
    pub(super) rows: Vec<Vec<Vec<(String, Style)>>>,
    pub(super) header_rows: usize,
    pub(super) row: Vec<Vec<(String, Style)>>,
    pub(super) cell: Vec<(String, Style)>,
    pub(super) in_head: bool,
}

impl Renderer<'_> {
    pub(super) fn table_block(
        &mut self,
        tb: TableBuf,
        first: Vec<Span<'static>>,
        rest: Vec<Span<'static>>,
    ) {
        let t = self.theme;
        let ncols = tb
            .rows
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .max(tb.aligns.len());
        if ncols == 0 {
            return;
        }
        self.fill_meta(LineMeta::default());
        let prefix_w = spans_width(&first).max(spans_width(&rest));
        let chrome = 3 * ncols + 1;
        let avail = self.width.saturating_sub(prefix_w + chrome);
        let cell_w = |cell: &Vec<(String, Style)>| cell.iter().map(|(s, _)| s.width()).sum();
        // Columns are at least 2 cells wide, so any character fits.
        if avail < 2 * ncols {
            // Too narrow for boxes: one wrapped line per row, cells separated by bars.
            let lead = self.quote_lead();
            let mut w = Wrapper::with_prefix(self.width, first, rest).with_leads(lead, lead);
            for row in &tb.rows {
                for (i, cell) in row.iter().enumerate() {
                    if i > 0 {
                        w.push(" │ ", t.border);
                    }
                    for (s, st) in cell {
                        w.push(s, *st);
                    }
                }
                w.push("\n", Style::default());
            }
            let (lines, meta) = w.finish_meta();
            self.fill_meta(LineMeta::default());
            self.out.extend(lines);
            self.meta.extend(meta);
            return;
        }
        let mut natural = vec![2usize; ncols];
        for row in &tb.rows {
            for (i, cell) in row.iter().enumerate() {
                natural[i] = natural[i].max(cell_w(cell));
            }
        }
        let widths = if natural.iter().sum::<usize>() <= avail {
            natural
        } else {
            // Narrow columns keep their width; the rest share what is left.
            let mut order: Vec<usize> = (0..ncols).collect();
            order.sort_by_key(|&i| natural[i]);
            let mut widths = vec![2usize; ncols];
            let mut remaining = avail;
            for (k, &i) in order.iter().enumerate() {
                let share = remaining / (ncols - k);
                widths[i] = natural[i].min(share).max(2);
                remaining = remaining.saturating_sub(widths[i]);
            }
            widths
        };
        let border = |l: &str, m: &str, r: &str| {
            let mut s = String::from(l);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    s.push_str(m);
                }
                s.push_str(&"─".repeat(w + 2));
            }
            s.push_str(r);
            s
        };
        let mut is_first = true;
        let mut push_line = |out: &mut Vec<Line<'static>>, mut spans: Vec<Span<'static>>| {
            let mut line = if is_first {
                first.clone()
            } else {
                rest.clone()
            };
            is_first = false;
            line.append(&mut spans);
            out.push(Line::from(line));
        };
        push_line(
            &mut self.out,
            vec![Span::styled(border("┌", "┬", "┐"), t.border)],
        );
        let empty = Vec::new();
        for (r, row) in tb.rows.iter().enumerate() {
            if r == tb.header_rows && r > 0 {
                push_line(
                    &mut self.out,
                    vec![Span::styled(border("├", "┼", "┤"), t.border)],
                );
            }
            let cells: Vec<Vec<Line<'static>>> = (0..ncols)
                .map(|i| {
                    let mut w = Wrapper::new(widths[i]);
                    for (s, st) in row.get(i).unwrap_or(&empty) {
                        w.push(s, *st);
                    }
                    w.finish()
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
            for k in 0..height {
                let mut spans = vec![Span::styled("│ ", t.border)];
                for (i, lines) in cells.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(" │ ", t.border));
                    }
                    let (content, w) = match lines.get(k) {
                        Some(l) => (l.spans.clone(), l.width()),
                        None => (Vec::new(), 0),
                    };
                    let pad = widths[i].saturating_sub(w);
                    let (left, right) = match tb.aligns.get(i) {
                        Some(Alignment::Right) => (pad, 0),
                        Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                        _ => (0, pad),
                    };
                    if left > 0 {
                        spans.push(spaces(left));
                    }
                    spans.extend(content);
                    if right > 0 {
                        spans.push(spaces(right));
                    }
                }
                spans.push(Span::styled(" │", t.border));
                push_line(&mut self.out, spans);
            }
        }
        push_line(
            &mut self.out,
            vec![Span::styled(border("└", "┴", "┘"), t.border)],
        );
        let lead = self.quote_lead().min(usize::from(u16::MAX)) as u16;
        self.fill_meta(LineMeta {
            lead,
            ..LineMeta::default()
        });
    }
}
