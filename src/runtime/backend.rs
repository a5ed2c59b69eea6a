//! The terminal backend: crossterm's, with two savings on what reaches the terminal.
//!
//! - A frame goes out in one write: crossterm queues each cell's escapes and text on their
//!   own, and `Stdout` would pass them on a kilobyte at a time.
//! - Rows that moved (a reply growing at the bottom of a view that follows it moves every
//!   row of the pane up) are moved by the terminal itself — a scrolling region
//!   (`ESC[top;bottom r`, then `ESC[n S` or `ESC[n T`) — and only the cells that then still
//!   differ are written, instead of every moved row again.
//!
//! For the second it keeps a copy of what the screen shows: the cells of every frame it
//! wrote since the screen was last cleared. When it cannot follow (a cell outside the
//! screen it knows), it only passes frames on until the next clear.

use std::io::{self, Write};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::{Buffer, Cell, CellDiffOption, CellWidth};
use ratatui::layout::{Position, Rect, Size};
use ratatui::style::{Color, Modifier};
use unicode_width::UnicodeWidthStr;

/// Frames that change fewer rows than this are written as they are.
const MIN_ROWS: usize = 4;

/// Rows the caller knows moved up since the last frame: screen rows `top..bottom` scroll up
/// by `by` (the last `by` of them come in blank), as the terminal scrolls them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    pub top: u16,
    pub bottom: u16,
    pub by: u16,
}

/// Bytes held until a flush, then written to `out` at once.
struct Buffered<W: Write> {
    buf: Vec<u8>,
    out: W,
}

impl<W: Write> Write for Buffered<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let r = self.out.write_all(&self.buf);
            self.buf.clear();
            r?;
        }
        self.out.flush()
    }
}

/// Crossterm's backend writing into a buffer that goes to `out` in one write per flush,
/// scrolling rows that moved instead of writing them again.
pub struct ScreenBackend<W: Write> {
    inner: CrosstermBackend<Buffered<W>>,
    /// What the screen shows (None: not known, until the next clear).
    screen: Option<Buffer>,
    /// The size to report instead of asking the terminal (tests).
    fixed_size: Option<Size>,
    /// The screen was cleared (or not known) since the last frame of `draw_frame`: what
    /// the caller knows about unchanged areas does not hold for it.
    fresh: bool,
    /// The cells to write, kept between frames (no allocation per frame).
    updates: Vec<(u16, u16, usize)>,
    /// The area of the last frame `draw_frame` wrote, while the screen shows it and nothing
    /// else was written over it (see [`ScreenBackend::holds_frame`]).
    frame_area: Option<Rect>,
    /// When the terminal's size was last asked for by [`ScreenBackend::size_check_due`].
    size_checked: Option<std::time::Instant>,
    /// Scratch of `draw_frame`, kept between frames.
    skip: Vec<(usize, usize)>,
    touched: Vec<bool>,
}

impl<W: Write> ScreenBackend<W> {
    pub fn new(out: W) -> Self {
        Self {
            inner: CrosstermBackend::new(Buffered {
                buf: Vec::with_capacity(64 * 1024),
                out,
            }),
            screen: None,
            fixed_size: None,
            fresh: true,
            updates: Vec::new(),
            frame_area: None,
            size_checked: None,
            skip: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// A backend of a screen `width` x `height` that never asks the terminal (tests).
    pub fn with_size(out: W, width: u16, height: u16) -> Self {
        let mut b = Self::new(out);
        b.fixed_size = Some(Size { width, height });
        b
    }
}

impl<W: Write> ScreenBackend<W> {
    /// True when the screen shows exactly the last frame given to `draw_frame`, of `area`
    /// (nothing cleared or written over it since): a caller that kept that frame's buffer
    /// may draw the next one over it.
    pub fn holds_frame(&self, area: Rect) -> bool {
        !self.fresh && self.frame_area == Some(area)
    }

    /// True (and the time noted) when the terminal's size is to be asked for again: `every`
    /// since the last time, or the screen was cleared since.
    pub fn size_check_due(&mut self, every: std::time::Duration) -> bool {
        let now = std::time::Instant::now();
        if self
            .size_checked
            .is_some_and(|t| now.duration_since(t) < every)
        {
            return false;
        }
        self.size_checked = Some(now);
        true
    }

    /// Write `frame`, the whole screen: the cells that differ from what the screen shows,
    /// rows that moved scrolled by the terminal. `clean`: areas whose cells are the same as
    /// in the last frame this method wrote — not compared again (unless the screen was
    /// cleared since, or is not known).
    ///
    /// `Terminal::draw` compares every cell of the screen every frame (and its backend
    /// call gets only the cells that differ); a caller that knows what did not change
    /// draws its frame into the terminal's buffer and hands it here instead.
    pub fn draw_frame(&mut self, frame: &Buffer, clean: &[Rect]) -> io::Result<()> {
        self.draw_frame_moved(frame, clean, None)
    }

    /// [`Self::draw_frame`], with rows the caller knows moved up since the last frame
    /// (`moved`): the terminal scrolls them first, and `clean` is what is unchanged once they
    /// are scrolled. Both are ignored when the screen was cleared since the last frame.
    pub fn draw_frame_moved(
        &mut self,
        frame: &Buffer,
        clean: &[Rect],
        moved: Option<Moved>,
    ) -> io::Result<()> {
        self.frame_area = None;
        let area = frame.area;
        let screen = match self.screen.as_mut() {
            Some(s) if s.area == area => s,
            _ => {
                // Not known: start from a blank screen.
                self.inner.write_all(b"\x1b[0m")?;
                self.inner.clear_region(ClearType::All)?;
                self.fresh = true;
                self.screen.insert(Buffer::empty(area))
            }
        };
        let w = usize::from(area.width);
        let mut skip = std::mem::take(&mut self.skip);
        skip.clear();
        if !std::mem::take(&mut self.fresh) {
            if let Some(m) = moved.filter(|m| {
                m.by > 0 && m.top + m.by < m.bottom && m.bottom <= area.height && area.y == 0
            }) {
                // Blank rows scroll in with the current background: reset it first. The
                // region is reset after (which also moves the cursor home).
                write!(
                    self.inner,
                    "\x1b[0m\x1b[{};{}r\x1b[{}S\x1b[r",
                    m.top + 1,
                    m.bottom,
                    m.by
                )?;
                scroll(
                    screen,
                    Shift {
                        top: m.top,
                        bottom: m.bottom,
                        by: m.by as i16,
                    },
                );
            }
            for r in clean {
                let r = r.intersection(area);
                for y in r.top()..r.bottom() {
                    let row = usize::from(y - area.y) * w;
                    skip.push((
                        row + usize::from(r.x - area.x),
                        row + usize::from(r.right() - area.x),
                    ));
                }
            }
            skip.sort_unstable();
        }
        let mut updates = std::mem::take(&mut self.updates);
        updates.clear();
        diff_into(screen, frame, 0, frame.content.len(), &skip, &mut updates);
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        touched.resize(usize::from(area.height), false);
        for &(_, _, i) in &updates {
            touched[i / w] = true;
        }
        let shift = if touched.iter().filter(|t| **t).count() < MIN_ROWS {
            None
        } else {
            find_shift(screen, frame, &touched)
        };
        if let Some(s) = shift {
            // Blank rows scroll in with the current background: reset it first. The
            // region is reset after (which also moves the cursor home).
            let (verb, n) = if s.by > 0 { ('S', s.by) } else { ('T', -s.by) };
            write!(
                self.inner,
                "\x1b[0m\x1b[{};{}r\x1b[{n}{verb}\x1b[r",
                s.top + 1,
                s.bottom
            )?;
            scroll(screen, s);
            // The region's rows are compared again, whole; the other rows' cells stand.
            let (a, b) = (usize::from(s.top) * w, usize::from(s.bottom) * w);
            let from = updates.partition_point(|u| u.2 < a);
            let to = updates.partition_point(|u| u.2 < b);
            let mut moved = Vec::new();
            diff_into(screen, frame, a, b, &[], &mut moved);
            updates.splice(from..to, moved);
        }
        for &(x, y, i) in &updates {
            let cell = &frame.content[i];
            let j = screen.index_of(x, y);
            screen.content[j].clone_from(cell);
            let cw = cell.symbol().width().max(1) as u16;
            for dx in 1..cw.min(area.right() - x) {
                screen.content[j + usize::from(dx)] = Cell::default();
            }
        }
        let r = self
            .inner
            .draw(updates.iter().map(|&(x, y, i)| (x, y, &frame.content[i])));
        self.updates = updates;
        self.skip = skip;
        self.touched = touched;
        if r.is_ok() {
            self.frame_area = Some(area);
        }
        r
    }
}

/// Modifiers that show on a blank cell (as in ratatui's diff).
const VISIBLE_ON_BLANK: Modifier = Modifier::REVERSED
    .union(Modifier::UNDERLINED)
    .union(Modifier::SLOW_BLINK)
    .union(Modifier::RAPID_BLINK)
    .union(Modifier::CROSSED_OUT);

#[allow(deprecated)]
fn is_skip(cell: &Cell) -> bool {
    matches!(cell.diff_option, CellDiffOption::Skip)
        || (cell.skip && matches!(cell.diff_option, CellDiffOption::None))
}

/// The cells of `next` (indices `from..to`) to write over `prev`, as ratatui's
/// `Buffer::diff` gives them (wide characters, their trailing columns), pushed as
/// (x, y, index). The index ranges `skip` (sorted) hold the same cells in both and are
/// not compared.
fn diff_into(
    prev: &Buffer,
    next: &Buffer,
    from: usize,
    to: usize,
    skip: &[(usize, usize)],
    out: &mut Vec<(u16, u16, usize)>,
) {
    let (p, n) = (&prev.content, &next.content);
    let all = p.len().min(n.len());
    let len = to.min(all);
    let w = usize::from(next.area.width);
    let pos_of = |i: usize| ((i % w) as u16 + next.area.x, (i / w) as u16 + next.area.y);
    let mut push = |i: usize| {
        let (x, y) = pos_of(i);
        out.push((x, y, i));
    };
    let mut s = skip.iter().peekable();
    let mut pos = from;
    while pos < len {
        if let Some(&&(a, b)) = s.peek() {
            if b <= pos {
                s.next();
                continue;
            }
            if a <= pos {
                s.next();
                // A wide character at the end of the range covers the column after it.
                pos = b + usize::from(n[b - 1].cell_width().max(1)) - 1;
                continue;
            }
        }
        let i = pos;
        pos += 1;
        let (cur, old) = (&n[i], &p[i]);
        match cur.diff_option {
            CellDiffOption::Skip => {}
            _ if is_skip(cur) => {}
            CellDiffOption::ForcedWidth(width) => {
                pos = pos.saturating_add(usize::from(width.get()) - 1);
                if cur != old {
                    push(i);
                }
            }
            CellDiffOption::None | CellDiffOption::AlwaysUpdate => {
                let cw = usize::from(cur.cell_width());
                if matches!(cur.diff_option, CellDiffOption::None) && cur == old {
                    pos += cw.saturating_sub(1);
                    continue;
                }
                let ow = usize::from(old.cell_width());
                push(i);
                // Trailing columns written again: a wide emoji with VS16 (some terminals
                // leave them), or a wide character's styled remains.
                let trailing = if cw > 1 && cur.symbol().chars().any(|c| c == '\u{FE0F}') {
                    Some(((i + cw).min(all), false))
                } else if cw > 1 {
                    pos += cw - 1;
                    None
                } else if ow > cw
                    && (old.bg != Color::Reset || old.modifier.intersects(VISIBLE_ON_BLANK))
                {
                    Some(((i + ow).min(all), true))
                } else {
                    None
                };
                if let Some((mut end, force)) = trailing {
                    let mut j = i + 1;
                    while j < end {
                        let k = j;
                        j += usize::from(n[k].cell_width().max(1));
                        end = end.max(j).min(all);
                        if !is_skip(&n[k]) && (force || p[k].symbol() != n[k].symbol()) {
                            push(k);
                        }
                    }
                    pos = end.max(pos);
                }
            }
        }
    }
}

impl<W: Write> Write for ScreenBackend<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.inner)
    }
}

/// Set the cells `updates` (as a frame's diff gives them) in `screen`. A wide character's
/// other columns become blank, as in ratatui's own buffers.
fn apply(screen: &mut Buffer, updates: &[(u16, u16, &Cell)]) {
    let area = screen.area;
    for &(x, y, cell) in updates {
        let i = screen.index_of(x, y);
        screen.content[i] = cell.clone();
        let w = cell.symbol().width().max(1) as u16;
        for dx in 1..w.min(area.width - x) {
            screen.content[i + dx as usize] = Cell::default();
        }
    }
}

/// A block of rows that moved: rows `top..bottom` scroll by `by` (> 0: up, the content
/// moves to lower row numbers; < 0: down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shift {
    top: u16,
    bottom: u16,
    by: i16,
}

/// The rows of `old` that moved to become rows of `new`: the shift most of the changed
/// rows (`touched`) show, over the rows from the first to the last of them — when it saves
/// writing more rows than it costs.
fn find_shift(old: &Buffer, new: &Buffer, touched: &[bool]) -> Option<Shift> {
    let w = old.area.width as usize;
    let h = old.area.height as usize;
    fn row(b: &Buffer, y: usize, w: usize) -> &[Cell] {
        &b.content[y * w..(y + 1) * w]
    }
    // The row of `old` that row `y` of `new` would show after shifting by `k`.
    let from = |y: usize, k: isize| y.checked_add_signed(k).filter(|&s| s < h);
    // Row `y` of `new` is row `y + k` of `old`: moved (when it changed), or the same.
    let moved = |y: usize, k: isize| from(y, k).is_some_and(|s| row(new, y, w) == row(old, s, w));
    let matches = |y: usize, k: isize| touched[y] && moved(y, k);
    // The shifts worth counting: those that bring a row of the last frame to one of the
    // first changed rows with text on them. A row much like others (blank but for a
    // border) matches many shifts and says nothing.
    let blank = Cell::default();
    let mut candidates: Vec<isize> = Vec::new();
    let mut probes = 0;
    for y in (0..h).filter(|&y| touched[y] && row(new, y, w).iter().any(|c| *c != blank)) {
        let ks: Vec<isize> = (1..h / 2)
            .flat_map(|d| [d as isize, -(d as isize)])
            .filter(|&k| moved(y, k))
            .take(5)
            .collect();
        if ks.len() <= 4 {
            for k in ks {
                if !candidates.contains(&k) {
                    candidates.push(k);
                }
            }
            probes += 1;
            if probes == 3 {
                break;
            }
        }
    }
    // Ties go to the smallest shift, up first (as when every shift was counted).
    candidates.sort_by_key(|k| (k.unsigned_abs(), *k < 0));
    let mut best: Option<(usize, isize)> = None;
    for k in candidates {
        let votes = (0..h).filter(|&y| matches(y, k)).count();
        if votes >= MIN_ROWS - 1 && best.is_none_or(|(v, _)| votes > v) {
            best = Some((votes, k));
        }
    }
    let (votes, k) = best?;
    let first = (0..h).find(|&y| matches(y, k))?;
    let last = (0..h).rev().find(|&y| matches(y, k))?;
    // Rows in between that neither moved nor changed must now be written again, and so
    // must the `|k|` rows the scroll blanks.
    let rewritten = (first..=last)
        .filter(|&y| !touched[y] && !moved(y, k))
        .count()
        + k.unsigned_abs();
    if votes <= rewritten + 1 {
        return None;
    }
    let (top, bottom) = if k > 0 {
        (first, last + 1 + k as usize)
    } else {
        (first - k.unsigned_abs(), last + 1)
    };
    Some(Shift {
        top: top as u16,
        bottom: bottom as u16,
        by: k as i16,
    })
}

/// `screen` after the terminal scrolled `s` (the rows scrolled in are blank).
fn scroll(screen: &mut Buffer, s: Shift) {
    let w = screen.area.width as usize;
    let (top, bottom) = (s.top as usize * w, s.bottom as usize * w);
    let n = s.by.unsigned_abs() as usize * w;
    let rows = &mut screen.content[top..bottom];
    if s.by > 0 {
        rows.rotate_left(n);
        let len = rows.len();
        rows[len - n..].fill(Cell::default());
    } else {
        rows.rotate_right(n);
        rows[..n].fill(Cell::default());
    }
}

impl<W: Write> Backend for ScreenBackend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.frame_area = None;
        let Some(screen) = self.screen.as_mut() else {
            return self.inner.draw(content);
        };
        let updates: Vec<(u16, u16, &Cell)> = content.collect();
        let area = screen.area;
        if updates
            .iter()
            .any(|&(x, y, _)| x >= area.width || y >= area.height)
        {
            self.screen = None;
            self.fresh = true;
            return self.inner.draw(updates.into_iter());
        }
        let mut touched = vec![false; area.height as usize];
        for &(_, y, _) in &updates {
            touched[y as usize] = true;
        }
        if touched.iter().filter(|t| **t).count() < MIN_ROWS {
            apply(screen, &updates);
            return self.inner.draw(updates.into_iter());
        }
        let mut new = screen.clone();
        apply(&mut new, &updates);
        match find_shift(screen, &new, &touched) {
            Some(s) => {
                // Blank rows scroll in with the current background: reset it first. The
                // region is reset after (which also moves the cursor home).
                let (verb, n) = if s.by > 0 { ('S', s.by) } else { ('T', -s.by) };
                write!(
                    self.inner,
                    "\x1b[0m\x1b[{};{}r\x1b[{n}{verb}\x1b[r",
                    s.top + 1,
                    s.bottom
                )?;
                scroll(screen, s);
                let diff = screen.diff(&new);
                let r = self.inner.draw(diff.into_iter());
                *screen = new;
                r
            }
            None => {
                *screen = new;
                self.inner.draw(updates.into_iter())
            }
        }
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.frame_area = None;
        self.screen = None;
        self.fresh = true;
        self.inner.append_lines(n)
    }

    // Queued with the frame, not written on their own.
    fn hide_cursor(&mut self) -> io::Result<()> {
        crossterm::queue!(self.inner, crossterm::cursor::Hide)
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        crossterm::queue!(self.inner, crossterm::cursor::Show)
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        if self.fixed_size.is_some() {
            return Ok(Position::ORIGIN);
        }
        Write::flush(&mut self.inner)?;
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.fresh = true;
        self.frame_area = None;
        self.size_checked = None;
        self.screen = match clear_type {
            ClearType::All => {
                let size = self.size()?;
                Some(Buffer::empty(Rect::new(0, 0, size.width, size.height)))
            }
            _ => None,
        };
        // Blank cells take the current background: reset it first.
        self.inner.write_all(b"\x1b[0m")?;
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        match self.fixed_size {
            Some(s) => Ok(s),
            None => self.inner.size(),
        }
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        match self.fixed_size {
            Some(s) => Ok(WindowSize {
                columns_rows: s,
                pixels: Size::default(),
            }),
            None => self.inner.window_size(),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use ratatui::style::{Color, Style};
    use ratatui::{Terminal, TerminalOptions, Viewport};

    /// Bytes written, readable while the terminal holds its writer.
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Sink {
        fn bytes(&self) -> Vec<u8> {
            self.0.lock().unwrap().clone()
        }
    }

    fn terminal(w: u16, h: u16, sink: &Sink) -> Terminal<ScreenBackend<Sink>> {
        Terminal::new(ScreenBackend::with_size(sink.clone(), w, h)).unwrap()
    }

    /// What a terminal shows after `bytes`, cell by cell (symbol, fg, bg).
    fn shown(bytes: &[u8], w: u16, h: u16) -> Vec<Vec<(String, vt100::Color, vt100::Color)>> {
        let nz = |v| std::num::NonZeroU16::new(v).unwrap();
        let mut p = vt100::Parser::new(nz(h), nz(w), 0);
        p.process(bytes);
        let s = p.screen();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| match s.cell(y, x) {
                        Some(c) if !c.is_wide_continuation() => {
                            let t = c.contents();
                            let t = if t.is_empty() {
                                " ".to_string()
                            } else {
                                t.to_string()
                            };
                            (t, c.fgcolor(), c.bgcolor())
                        }
                        _ => (String::new(), vt100::Color::Default, vt100::Color::Default),
                    })
                    .collect()
            })
            .collect()
    }

    /// What the buffer asks for, in the same terms.
    fn wanted(buf: &Buffer) -> Vec<Vec<(String, vt100::Color, vt100::Color)>> {
        let conv = |c: Color| match c {
            Color::Reset => vt100::Color::Default,
            Color::Rgb(r, g, b) => vt100::Color::Rgb(r, g, b),
            Color::Indexed(i) => vt100::Color::Idx(i),
            other => panic!("colour {other:?} not used in these tests"),
        };
        let (w, h) = (buf.area.width, buf.area.height);
        let mut out: Vec<Vec<(String, vt100::Color, vt100::Color)>> = Vec::new();
        for y in 0..h {
            let mut row = Vec::new();
            let mut skip = 0;
            for x in 0..w {
                if skip > 0 {
                    skip -= 1;
                    row.push((String::new(), vt100::Color::Default, vt100::Color::Default));
                    continue;
                }
                let c = &buf[(x, y)];
                skip = c.symbol().width().saturating_sub(1);
                row.push((c.symbol().to_string(), conv(c.fg), conv(c.bg)));
            }
            out.push(row);
        }
        out
    }

    /// A line of a "document": words in colours, some wide characters.
    fn doc_line(i: usize) -> (String, Style) {
        let words = ["alpha", "beta", "gamma", "δέλτα", "x", "end", "zeta"];
        let mut s = format!("{i:03} ");
        for k in 0..(i % 7 + 1) {
            s.push_str(words[(i + k) % words.len()]);
            s.push(' ');
        }
        let style = match i % 3 {
            0 => Style::default().fg(Color::Rgb(200, (i * 7 % 256) as u8, 40)),
            1 => Style::default()
                .fg(Color::Indexed(33))
                .bg(Color::Rgb(10, 10, 10)),
            _ => Style::default(),
        };
        (s, style)
    }

    /// A bordered pane showing lines `top..` of a document of `len` lines, and under it a
    /// status row that changes every frame.
    fn paint(buf: &mut Buffer, top: usize, len: usize, frame: usize) {
        let (w, h) = (buf.area.width, buf.area.height);
        for y in 0..h - 3 {
            buf.set_string(0, y, "│", Style::default());
            buf.set_string(w - 1, y, "│", Style::default());
            if top + (y as usize) < len {
                let (text, style) = doc_line(top + y as usize);
                buf.set_stringn(2, y, &text, w as usize - 4, style);
            }
        }
        buf.set_string(0, h - 3, "─".repeat(w as usize), Style::default());
        buf.set_string(
            0,
            h - 2,
            format!("frame {frame} len {len}"),
            Style::default(),
        );
        let spin = ["⠋", "⠙", "⠹"][frame % 3];
        buf.set_string(0, h - 1, spin, Style::default().fg(Color::Rgb(1, 2, 3)));
    }

    /// Frames of a pane over a growing document end up on a real terminal emulator exactly
    /// as drawn, whatever the scroll (following the bottom, jumps up and down, a line at a
    /// time), and rows that moved are scrolled, not written again.
    #[test]
    fn frames_show_exactly_what_was_drawn_with_scrolled_rows() {
        let (w, h) = (40u16, 14u16);
        let pane = h as usize - 3;
        let mut rng = Rng(7);
        let sink = Sink::default();
        let mut term = terminal(w, h, &sink);
        term.clear().unwrap();
        let (mut len, mut top, mut scrolled) = (3usize, 0usize, 0);
        let plain_sink = Sink::default();
        let mut plain = Terminal::with_options(
            CrosstermBackend::new(plain_sink.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )
        .unwrap();
        for frame in 0..400 {
            match rng.below(10) {
                0..=5 => len += rng.below(3),
                6 => top = top.saturating_sub(rng.below(4)),
                7 => top += rng.below(4),
                8 => top = rng.below(len),
                _ => {}
            }
            if rng.below(4) != 0 {
                top = len.saturating_sub(pane);
            }
            let before = sink.bytes().len();
            term.draw(|f| paint(f.buffer_mut(), top, len, frame))
                .unwrap();
            let bytes = sink.bytes();
            if bytes[before..].windows(3).any(|s| s == b"\x1b[r") {
                scrolled += 1;
            }
            let mut want = Buffer::empty(Rect::new(0, 0, w, h));
            paint(&mut want, top, len, frame);
            assert_eq!(shown(&bytes, w, h), wanted(&want), "frame {frame}");
            // The same frames through crossterm's backend alone, for the byte count.
            plain
                .draw(|f| paint(f.buffer_mut(), top, len, frame))
                .unwrap();
        }
        assert!(scrolled > 20, "the terminal scrolled only {scrolled} times");
        let (ours, theirs) = (sink.bytes().len(), plain_sink.bytes().len());
        assert!(
            ours < theirs * 3 / 4,
            "{ours} bytes, crossterm alone {theirs}"
        );
    }

    /// Our diff of whole buffers is ratatui's, cell for cell: wide characters, emoji with
    /// VS16, styled wide characters replaced by narrow ones.
    #[test]
    fn diff_into_gives_ratatuis_diff() {
        let mut rng = Rng(5);
        let syms = ["a", "b", " ", "你", "界", "❤\u{fe0f}", "δ", "─"];
        let styles = [
            Style::default(),
            Style::default().bg(Color::Rgb(9, 9, 9)),
            Style::default().fg(Color::Indexed(3)),
        ];
        let area = Rect::new(0, 0, 17, 5);
        let random = |rng: &mut Rng| {
            let mut b = Buffer::empty(area);
            for y in 0..area.height {
                let mut x = 0;
                while x < area.width {
                    let s = syms[rng.below(syms.len())];
                    b.set_stringn(x, y, s, usize::from(area.width - x), styles[rng.below(3)]);
                    x += s.width().max(1) as u16;
                }
            }
            b
        };
        for _ in 0..300 {
            let prev = random(&mut rng);
            let mut next = prev.clone();
            for _ in 0..rng.below(8) {
                let (x, y) = (rng.below(17) as u16, rng.below(5) as u16);
                let s = syms[rng.below(syms.len())];
                next.set_stringn(x, y, s, usize::from(area.width - x), styles[rng.below(3)]);
            }
            if rng.below(3) == 0 {
                next = random(&mut rng);
            }
            let mut ours = Vec::new();
            diff_into(&prev, &next, 0, next.content.len(), &[], &mut ours);
            let ours: Vec<(u16, u16, &Cell)> = ours
                .iter()
                .map(|&(x, y, i)| (x, y, &next.content[i]))
                .collect();
            assert_eq!(ours, prev.diff(&next));
        }
    }

    /// Frames written by `draw_frame` with the areas the caller says are unchanged (any
    /// of the rows and runs of cells equal to the last frame's) end up on a terminal
    /// emulator exactly as drawn — also after the screen was cleared behind the caller's
    /// back (the areas no longer hold) — with rows that moved scrolled, and in fewer bytes
    /// than crossterm's backend alone.
    #[test]
    fn frames_with_clean_areas_show_exactly_what_was_drawn() {
        let (w, h) = (40u16, 14u16);
        let pane = h as usize - 3;
        let mut rng = Rng(9);
        let sink = Sink::default();
        let mut term = terminal(w, h, &sink);
        term.clear().unwrap();
        let plain_sink = Sink::default();
        let mut plain = Terminal::with_options(
            CrosstermBackend::new(plain_sink.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )
        .unwrap();
        let (mut len, mut top, mut scrolled, mut skipped) = (3usize, 0usize, 0, 0);
        let mut last = Buffer::empty(Rect::new(0, 0, w, h));
        for frame in 0..400 {
            match rng.below(10) {
                0..=5 => len += rng.below(3),
                6 => top = top.saturating_sub(rng.below(4)),
                7 => top += rng.below(4),
                8 => top = rng.below(len),
                _ => {}
            }
            if rng.below(4) != 0 {
                top = len.saturating_sub(pane);
            }
            if rng.below(30) == 0 {
                term.clear().unwrap();
            }
            let mut want = Buffer::empty(Rect::new(0, 0, w, h));
            paint(&mut want, top, len, frame);
            // Runs of cells equal to the last frame's, some of them.
            let mut clean = Vec::new();
            for y in 0..h {
                let mut x = 0;
                while x < w {
                    let same = |x: u16| want[(x, y)] == last[(x, y)];
                    if !same(x) {
                        x += 1;
                        continue;
                    }
                    let start = x;
                    while x < w && same(x) {
                        x += 1;
                    }
                    if rng.below(4) != 0 {
                        let a = start + rng.below(usize::from(x - start)) as u16;
                        clean.push(Rect::new(a, y, x - a, 1));
                        skipped += usize::from(x - a);
                    }
                }
            }
            let before = sink.bytes().len();
            crate::runtime::terminal::draw(&mut term, |f| {
                paint(f.buffer_mut(), top, len, frame);
                clean
            })
            .unwrap();
            let bytes = sink.bytes();
            if bytes[before..].windows(3).any(|s| s == b"\x1b[r") {
                scrolled += 1;
            }
            assert_eq!(shown(&bytes, w, h), wanted(&want), "frame {frame}");
            plain
                .draw(|f| paint(f.buffer_mut(), top, len, frame))
                .unwrap();
            last = want;
        }
        assert!(scrolled > 20, "the terminal scrolled only {scrolled} times");
        assert!(skipped > 10_000, "only {skipped} cells said to be clean");
        let (ours, theirs) = (sink.bytes().len(), plain_sink.bytes().len());
        assert!(
            ours < theirs * 3 / 4,
            "{ours} bytes, crossterm alone {theirs}"
        );
    }

    #[test]
    fn shift_found_only_where_it_saves() {
        let area = Rect::new(0, 0, 5, 8);
        let mut old = Buffer::empty(area);
        for y in 0..8 {
            old.set_string(0, y, format!("row{y}"), Style::default());
        }
        // Everything moved up by two; two new rows at the bottom.
        let mut new = Buffer::empty(area);
        for y in 0..6 {
            new.set_string(0, y, format!("row{}", y + 2), Style::default());
        }
        new.set_string(0, 6, "new6", Style::default());
        new.set_string(0, 7, "new7", Style::default());
        let touched = vec![true; 8];
        assert_eq!(
            find_shift(&old, &new, &touched),
            Some(Shift {
                top: 0,
                bottom: 8,
                by: 2
            })
        );
        let mut s = old.clone();
        scroll(
            &mut s,
            Shift {
                top: 0,
                bottom: 8,
                by: 2,
            },
        );
        assert_eq!(s.content[..30], new.content[..30]);
        // Every other row blank (paragraphs): the blank rows need no writing either way.
        let tall = Rect::new(0, 0, 5, 12);
        let (mut old12, mut new12) = (Buffer::empty(tall), Buffer::empty(tall));
        for y in (0..12).step_by(2) {
            old12.set_string(0, y, format!("p{y}"), Style::default());
            new12.set_string(0, y, format!("p{}", y + 2), Style::default());
        }
        let touched: Vec<bool> = (0..12).map(|y| y % 2 == 0).collect();
        assert_eq!(
            find_shift(&old12, &new12, &touched),
            Some(Shift {
                top: 0,
                bottom: 11,
                by: 2
            })
        );
        let touched = vec![true; 8];
        // Unrelated rows: no shift.
        let mut other = Buffer::empty(area);
        for y in 0..8 {
            other.set_string(0, y, format!("z{y}"), Style::default());
        }
        assert_eq!(find_shift(&old, &other, &touched), None);
    }
}
