//! Code blocks: a label line (`[N] lang`: block N of the conversation, for `/copy N`), a
//! gutter, syntax highlighting, and hard breaks at the width.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

use super::LineMeta;
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
        // The label line: `▎ [N] lang`, in the first line's prefix (a list marker goes here).
        let n = self.next_code_label();
        let mut label = first;
        label.push(gutter.clone());
        label.push(Span::styled(format!("[{n}]"), t.accent));
        if !lang.is_empty() {
            label.push(Span::styled(format!(" {lang}"), t.dim));
        }
        self.fill_meta(LineMeta::default());
        self.out.push(Line::from(label));
        self.meta.push(LineMeta {
            deco: true,
            ..LineMeta::default()
        });
        let lead = (spans_width(&rest) + gutter_w).min(usize::from(u16::MAX)) as u16;
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
            // The source line's first part is a hard line; the parts broken off at the width
            // go on from it, their repeated indentation drawing only.
            let mut meta = LineMeta {
                lead,
                ..LineMeta::default()
            };
            let emit = |cur: &mut Vec<Span<'static>>,
                        meta: LineMeta,
                        out: &mut Vec<Line<'static>>,
                        metas: &mut Vec<LineMeta>| {
                let mut spans = rest.clone();
                spans.push(gutter.clone());
                spans.append(cur);
                out.push(Line::from(spans));
                metas.push(meta);
            };
            for (style, text) in segs {
                for g in text.graphemes(true) {
                    let (g, w) = fit_grapheme(g, avail);
                    if cur_w > 0 && cur_w + w > avail {
                        emit(&mut cur, meta, &mut self.out, &mut self.meta);
                        let indent = if indent + w <= avail { indent } else { 0 };
                        if indent > 0 {
                            cur.push(spaces(indent));
                        }
                        cur_w = indent;
                        meta = LineMeta {
                            lead: lead.saturating_add(indent.min(usize::from(u16::MAX)) as u16),
                            soft: true,
                            ..LineMeta::default()
                        };
                    }
                    match cur.last_mut() {
                        Some(last) if last.style == style => last.content.to_mut().push_str(g),
                        _ => cur.push(Span::styled(g.to_string(), style)),
                    }
                    cur_w += w;
                }
            }
            emit(&mut cur, meta, &mut self.out, &mut self.meta);
        }
    }
}
