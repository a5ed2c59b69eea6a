//! Code blocks: a gutter, syntax highlighting, and hard breaks at the width.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

use super::blocks::Renderer;
use super::highlight::{MAX_HIGHLIGHT_BYTES, MAX_HIGHLIGHT_LINE, find_syntax, highlight_for};
use super::wrap::{fit_grapheme, spaces, spans_width};

impl Renderer<'_> {
    pub(super) fn code_block(
        &mut self,
        lang: &str,
        body: &str,
        first: Vec<Span<'static>>,
        rest: Vec<Span<'static>>,
    ) {
        let t = self.theme;
        let prefix = spans_width(&rest).max(spans_width(&first));
        // The gutter only where it leaves room for a character of code.
        let (gutter, gutter_w) = if self.width >= prefix + 3 {
            (Span::styled("▎ ", t.dim), 2)
        } else {
            (Span::raw(""), 0)
        };
        let avail = self.width.saturating_sub(prefix + gutter_w).max(1);
        // syntect takes about a second per megabyte, worse on very long lines: huge blocks
        // are shown plain rather than stalling the UI.
        let small = body.len() <= MAX_HIGHLIGHT_BYTES
            && body.split('\n').all(|l| l.len() <= MAX_HIGHLIGHT_LINE);
        let highlighted = find_syntax(lang)
            .filter(|_| small)
            .and_then(|syntax| highlight_for(t, syntax, lang, body));
        let body = body.strip_suffix('\n').unwrap_or(body);
        let plain = t.code_bg.patch(t.code);
        let mut is_first = true;
        for (k, src) in body.split('\n').enumerate() {
            let segs: Vec<(Style, &str)> = match highlighted.as_ref().and_then(|h| h.get(k)) {
                Some(line) => line
                    .iter()
                    .map(|(s, text)| (t.code_bg.patch(*s), text.as_str()))
                    .collect(),
                None => vec![(plain, src)],
            };
            let indent = src.len() - src.trim_start_matches(' ').len();
            let indent = indent.min(avail / 2);
            let mut cur: Vec<Span<'static>> = Vec::new();
            let mut cur_w = 0;
            let mut emit = |cur: &mut Vec<Span<'static>>, out: &mut Vec<Line<'static>>| {
                let mut spans = if is_first {
                    first.clone()
                } else {
                    rest.clone()
                };
                is_first = false;
                spans.push(gutter.clone());
                spans.append(cur);
                out.push(Line::from(spans));
            };
            for (style, text) in segs {
                for g in text.graphemes(true) {
                    let (g, w) = fit_grapheme(g, avail);
                    if cur_w > 0 && cur_w + w > avail {
                        emit(&mut cur, &mut self.out);
                        let indent = if indent + w <= avail { indent } else { 0 };
                        if indent > 0 {
                            cur.push(spaces(indent));
                        }
                        cur_w = indent;
                    }
                    match cur.last_mut() {
                        Some(last) if last.style == style => last.content.to_mut().push_str(g),
                        _ => cur.push(Span::styled(g.to_string(), style)),
                    }
                    cur_w += w;
                }
            }
            emit(&mut cur, &mut self.out);
        }
    }
}
