//! The token tint (`/logprobs color`): a styling pass over a finished reply's laid-out body
//! lines, colouring each character by the probability of the token it came from. Run when
//! the message's lines are made (so cached with them), only while the tint is on.
//!
//! The lines are rendered Markdown, not the reply's text: markup is gone, lines are
//! wrapped, some characters are sanitized, and decorations (bullets, bars, code labels) are
//! added. Each shown character is matched to the text in order: from where the last match
//! ended, skipping markup (punctuation and whitespace, never a letter or digit) for a
//! short way; when that fails for a letter or digit, the rest of its word is looked for a
//! little further on (a link's URL, say, is skipped that way). A character that matches
//! nothing stays untinted and moves nothing, so colours never shift onto other text.

use std::ops::Range;

use ratatui::text::{Line, Span};

use crate::api::logprobs::Logprobs;
use crate::ui::theme::Theme;

/// How far (bytes) markup is skipped to find the next shown character.
const SKIP: usize = 64;
/// How far (bytes) a word is looked for after a mismatch.
const RESYNC: usize = 1024;

/// Tint `lines` (a reply's body, in order) by the tokens of `l` over `text`.
pub(super) fn tint(lines: &mut [Line<'static>], text: &str, l: &Logprobs, theme: &Theme) {
    // The tokens that line up with the text, in order: (byte range, band).
    let placed: Vec<(Range<usize>, usize)> = l
        .spans(text)
        .into_iter()
        .zip(l.iter())
        .filter_map(|(r, t)| r.map(|r| (r, crate::app::logprobs::band(t.probability()))))
        .collect();
    if placed.is_empty() {
        return;
    }
    let band_at = |pos: usize| -> Option<usize> {
        let i = placed.partition_point(|(r, _)| r.end <= pos);
        placed
            .get(i)
            .filter(|(r, _)| r.start <= pos && pos < r.end)
            .map(|(_, b)| *b)
    };
    let mut pos = 0;
    for line in lines.iter_mut() {
        let mut out: Vec<Span<'static>> = Vec::with_capacity(line.spans.len());
        for span in &line.spans {
            let base = span.style;
            let content = span.content.as_ref();
            let mut run = String::new();
            let mut run_band: Option<usize> = None;
            let flush = |run: &mut String, b: Option<usize>, out: &mut Vec<Span<'static>>| {
                if run.is_empty() {
                    return;
                }
                let style = match b {
                    Some(b) => base.patch(theme.prob[b]),
                    None => base,
                };
                out.push(Span::styled(std::mem::take(run), style));
            };
            for (ci, c) in content.char_indices() {
                let at = find(text, pos, c).or_else(|| {
                    if c.is_alphanumeric() {
                        resync(text, pos, &content[ci..])
                    } else {
                        None
                    }
                });
                let b = at.and_then(|j| {
                    let len = text[j..].chars().next().map_or(1, char::len_utf8);
                    pos = j + len;
                    band_at(j)
                });
                if b != run_band {
                    flush(&mut run, run_band, &mut out);
                    run_band = b;
                }
                run.push(c);
            }
            flush(&mut run, run_band, &mut out);
        }
        line.spans = out;
    }
}

/// Where shown character `c` is in `text` from `pos`: the next character, past markup.
fn find(text: &str, pos: usize, c: char) -> Option<usize> {
    let rest = text.get(pos..)?;
    for (i, rc) in rest.char_indices() {
        if i > SKIP {
            return None;
        }
        // A line break in a paragraph is shown as a space (or as the wrap).
        if rc == c || (c == ' ' && rc == '\n') {
            return Some(pos + i);
        }
        if rc.is_alphanumeric() {
            return None;
        }
    }
    None
}

/// After a mismatch on a letter or digit: the rest of its word (3 characters or more),
/// looked for a little further on. Returns where its first character is.
fn resync(text: &str, pos: usize, shown: &str) -> Option<usize> {
    let word: &str = shown
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .filter(|w| w.chars().count() >= 3)?;
    let rest = text.get(pos..)?;
    let mut end = rest.len().min(RESYNC);
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    rest[..end].find(word).map(|i| pos + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::logprobs::TokenLogprob;

    fn lp(tokens: &[(&str, f32)]) -> Logprobs {
        let mut l = Logprobs::new();
        for (t, p) in tokens {
            l.push(&TokenLogprob {
                bytes: t.as_bytes().to_vec(),
                logprob: p.ln(),
                top: vec![],
            });
        }
        l
    }

    /// Each character's band (None: untinted), per line.
    fn bands(lines: &[Line<'static>], theme: &Theme) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .flat_map(|s| {
                        let b = theme
                            .prob
                            .iter()
                            .position(|p| s.style.fg == p.fg && p.fg.is_some());
                        let ch = b.map_or('.', |b| char::from(b'0' + b as u8));
                        s.content.chars().map(move |_| ch)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn markup_removed_is_skipped_and_decorations_stay_plain() {
        let theme = Theme::default();
        let text = "**Hi** there\n- one";
        let l = lp(&[
            ("**", 0.95),
            ("Hi", 0.95),
            ("**", 0.95),
            (" there", 0.6),
            ("\n", 0.95),
            ("-", 0.3),
            (" one", 0.05),
        ]);
        let mut lines = vec![
            Line::from(vec![Span::raw("Hi"), Span::raw(" there")]),
            Line::from(vec![Span::raw("• "), Span::raw("one")]),
        ];
        tint(&mut lines, text, &l, &theme);
        assert_eq!(bands(&lines, &theme), vec!["00111111", ".0333"]);
        // The bullet's space stands where the line break was: it takes that token's band.
        // The text is unchanged.
        assert_eq!(lines[0].to_string(), "Hi there");
        assert_eq!(lines[1].to_string(), "• one");
    }

    #[test]
    fn what_cannot_be_matched_is_left_untinted_not_shifted() {
        let theme = Theme::default();
        // A link's URL is not shown; a control character is shown sanitized.
        let text = "see [docs](http://x.example/a) now\u{7}ok";
        let l = lp(&[
            ("see [docs](http://x.example/a)", 0.95),
            (" now", 0.2),
            ("\u{7}", 0.95),
            ("ok", 0.01),
        ]);
        let mut lines = vec![Line::from("see docs now␇ok")];
        tint(&mut lines, text, &l, &theme);
        assert_eq!(bands(&lines, &theme), vec!["00000000.222.33"]);
        // Tokens that do not add up to the text: only those that line up are placed.
        let l = lp(&[("see", 0.95), ("<extra>", 0.01)]);
        let mut lines = vec![Line::from("see docs")];
        tint(&mut lines, "see docs", &l, &theme);
        assert_eq!(bands(&lines, &theme), vec!["000....."]);
    }

    #[test]
    fn partial_characters_and_wide_text_keep_their_place() {
        let theme = Theme::default();
        let mut l = Logprobs::new();
        for (b, p) in [
            (vec![0xe4, 0xbd], 0.4f32),
            (vec![0xa0], 0.4),
            ("好".as_bytes().to_vec(), 0.95),
        ] {
            l.push(&TokenLogprob {
                bytes: b,
                logprob: p.ln(),
                top: vec![],
            });
        }
        let mut lines = vec![Line::from("你好")];
        tint(&mut lines, "你好", &l, &theme);
        assert_eq!(bands(&lines, &theme), vec!["20"]);
    }
}
