//! Make untrusted text (model output, transcripts, file names) safe to put on a terminal.
//!
//! One set of rules for every output (the screen, Markdown export, headless output,
//! `chat-tui list`): nothing may be a control sequence. Escape characters and other
//! controls become visible symbols, and characters that could hide or reorder text (bidi
//! overrides, zero-width characters) become visible placeholders. The only thing a context
//! may choose is what happens to a tab ([`Tabs`]).

use std::borrow::Cow;

/// Shown for C1 control characters (U+0080–U+009F).
pub const C1_PLACEHOLDER: char = '⍰';
/// Shown for bidi embeddings, overrides and isolates.
pub const BIDI_PLACEHOLDER: char = '⇆';
/// Shown for zero-width characters that could hide text.
pub const ZERO_WIDTH_PLACEHOLDER: char = '⎵';

/// What becomes of a tab. A tab moves the cursor but cannot hide or rewrite text, so a
/// file meant to be read as text (Markdown export) may keep it; the screen may not (its
/// width depends on the column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tabs {
    /// Four spaces (the screen and terminal output).
    #[default]
    Expand,
    /// Left as a tab (Markdown export, where a tab in a code block is content).
    Keep,
}

/// What to put in place of `c`, if it must be replaced.
#[inline]
fn replacement<const KEEP_TABS: bool>(c: char) -> Option<Replacement> {
    let r = match c {
        '\n' => return None,
        '\t' if KEEP_TABS => return None,
        '\t' => Replacement::Str("    "),
        '\u{7f}' => Replacement::Char('␡'),
        // C0 controls (incl. ESC → ␛ and CR → ␍): their Control Pictures.
        '\0'..='\u{1f}' => {
            Replacement::Char(char::from_u32(0x2400 + c as u32).unwrap_or(C1_PLACEHOLDER))
        }
        '\u{80}'..='\u{9f}' => Replacement::Char(C1_PLACEHOLDER),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' => {
            Replacement::Char(BIDI_PLACEHOLDER)
        }
        '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' => {
            Replacement::Char(ZERO_WIDTH_PLACEHOLDER)
        }
        _ => return None,
    };
    Some(r)
}

enum Replacement {
    Char(char),
    Str(&'static str),
}

/// Could a byte start (or be) a character that [`replacement`] replaces?
///
/// ASCII controls and DEL, and the lead bytes of the multi-byte characters replaced:
/// 0xC2 (U+0080–U+00BF), 0xD8 (U+061C), 0xE2 (U+2000–U+2FFF), 0xEF (U+F000–U+FFFF).
#[inline]
fn suspicious<const KEEP_TABS: bool>(b: u8) -> bool {
    (b < 0x20 && b != b'\n' && !(KEEP_TABS && b == b'\t'))
        || b == 0x7f
        || b == 0xc2
        || b == 0xd8
        || b == 0xe2
        || b == 0xef
}

/// `s` with control characters, bidi controls and hiding zero-width characters made
/// visible, and tabs expanded to four spaces. Newlines and combining characters stay.
/// Borrowed when nothing needed replacing. The same as `sanitize_with(s, Tabs::Expand)`.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    run::<false>(s)
}

/// [`sanitize`] with the treatment of tabs chosen; every other rule is the same.
pub fn sanitize_with(s: &str, tabs: Tabs) -> Cow<'_, str> {
    match tabs {
        Tabs::Expand => run::<false>(s),
        Tabs::Keep => run::<true>(s),
    }
}

/// Where the first [`suspicious`] byte of `bytes` is.
///
/// 32 bytes at a time: a chunk is tested whole, without an early exit, so the compiler
/// turns the test into a few vector compares (about 15x faster than a byte-by-byte
/// search on the long replies of a conversation being opened, where nearly every byte
/// is harmless).
#[inline]
fn first_suspicious<const KEEP_TABS: bool>(bytes: &[u8]) -> Option<usize> {
    const CHUNK: usize = 32;
    let mut chunks = bytes.chunks_exact(CHUNK);
    let mut offset = 0;
    for chunk in &mut chunks {
        if chunk
            .iter()
            .fold(false, |any, &b| any | suspicious::<KEEP_TABS>(b))
        {
            return chunk
                .iter()
                .position(|&b| suspicious::<KEEP_TABS>(b))
                .map(|p| offset + p);
        }
        offset += CHUNK;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| suspicious::<KEEP_TABS>(b))
        .map(|p| offset + p)
}

/// Where the first character of `s` at or after byte `from` (a character boundary) that
/// must be replaced is, with its replacement. Suspicious bytes are all ASCII or lead bytes,
/// so each is the start of a character; a harmless one (é, —, “ …) is stepped over.
#[inline]
fn next_replacement<const KEEP_TABS: bool>(
    s: &str,
    mut from: usize,
) -> Option<(usize, char, Replacement)> {
    loop {
        let at = from + first_suspicious::<KEEP_TABS>(&s.as_bytes()[from..])?;
        let c = s[at..].chars().next()?;
        if let Some(r) = replacement::<KEEP_TABS>(c) {
            return Some((at, c, r));
        }
        from = at + c.len_utf8();
    }
}

fn run<const KEEP_TABS: bool>(s: &str) -> Cow<'_, str> {
    let Some(mut next) = next_replacement::<KEEP_TABS>(s, 0) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    let mut done = 0;
    loop {
        let (at, c, r) = next;
        out.push_str(&s[done..at]);
        match r {
            Replacement::Char(r) => out.push(r),
            Replacement::Str(r) => out.push_str(r),
        }
        done = at + c.len_utf8();
        match next_replacement::<KEEP_TABS>(s, done) {
            Some(n) => next = n,
            None => break,
        }
    }
    out.push_str(&s[done..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(s: &str) -> String {
        match sanitize(s) {
            Cow::Owned(o) => o,
            Cow::Borrowed(b) => panic!("expected a change in {b:?}"),
        }
    }

    /// The rules applied one character at a time: what the chunked search must equal.
    fn reference(s: &str, tabs: Tabs) -> String {
        let mut out = String::new();
        for c in s.chars() {
            let r = match tabs {
                Tabs::Expand => replacement::<false>(c),
                Tabs::Keep => replacement::<true>(c),
            };
            match r {
                None => out.push(c),
                Some(Replacement::Char(r)) => out.push(r),
                Some(Replacement::Str(r)) => out.push_str(r),
            }
        }
        out
    }

    #[test]
    fn the_chunked_search_equals_the_rules_one_character_at_a_time() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        // Every character, at every offset in a 32-byte chunk.
        for pad in 0..33 {
            let s = format!("{}{all}{}", "a".repeat(pad), "é—".repeat(pad));
            for tabs in [Tabs::Expand, Tabs::Keep] {
                assert_eq!(sanitize_with(&s, tabs), reference(&s, tabs), "pad {pad}");
            }
        }
    }

    mod random {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn sanitize_equals_the_rules_on_random_text(
                s in "([a-z \n]{0,40}|[\t\r\x1b\x7f\u{85}\u{9b}é—“’\u{200b}\u{202e}\u{2066}\u{feff}\u{061c}ØĀ漢😀]){0,24}"
            ) {
                for tabs in [Tabs::Expand, Tabs::Keep] {
                    let out = sanitize_with(&s, tabs);
                    prop_assert_eq!(&*out, reference(&s, tabs));
                    prop_assert_eq!(matches!(out, Cow::Borrowed(_)), out == s);
                }
            }
        }
    }

    #[test]
    fn plain_text_is_borrowed() {
        for s in [
            "",
            "hello\nworld",
            "héllo — “quotes” ½ ©",
            "海洋污染",
            "e\u{301}",
            "😀👍🏽",
        ] {
            assert!(matches!(sanitize(s), Cow::Borrowed(_)), "{s:?}");
        }
    }

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(owned("\x1b[31mred\x1b[0m"), "␛[31mred␛[0m");
        // OSC 8 hyperlink and OSC 52 clipboard write, BEL- and ST-terminated.
        assert_eq!(
            owned("\x1b]8;;http://evil\x07click\x1b]8;;\x07"),
            "␛]8;;http://evil␇click␛]8;;␇"
        );
        assert_eq!(owned("\x1b]52;c;aGk=\x1b\\"), "␛]52;c;aGk=␛\\");
        assert!(!owned("\x1b]52;c;aGk=\x07").chars().any(|c| c.is_control()));
    }

    #[test]
    fn c0_c1_and_del() {
        assert_eq!(owned("a\0b\x07c\x08d"), "a␀b␇c␈d");
        assert_eq!(owned("x\x7f"), "x␡");
        // C1: CSI (U+009B) and OSC (U+009D) would start sequences on some terminals.
        assert_eq!(owned("\u{9b}31m\u{9d}0;t\u{9c}"), "⍰31m⍰0;t⍰");
        // Latin-1 letters share the C1 lead byte and stay.
        assert_eq!(owned("é\u{85}ü"), "é⍰ü");
    }

    #[test]
    fn bidi_and_zero_width_become_placeholders() {
        assert_eq!(owned("abc\u{202e}fed\u{202c}"), "abc⇆fed⇆");
        assert_eq!(owned("\u{2066}x\u{2069}"), "⇆x⇆");
        assert_eq!(owned("pass\u{200b}word\u{feff}\u{2060}"), "pass⎵word⎵⎵");
        assert_eq!(owned("\u{200e}\u{200f}"), "⎵⎵");
    }

    #[test]
    fn crlf_and_tabs() {
        assert_eq!(owned("a\r\nb\rc"), "a␍\nb␍c");
        assert_eq!(owned("\tx\ty"), "    x    y");
    }

    #[test]
    fn combining_and_wide_text_stays() {
        assert_eq!(owned("\x1be\u{301}漢"), "␛e\u{301}漢");
    }

    #[test]
    fn output_has_no_controls_but_newlines() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = sanitize(&all);
        assert!(out.chars().all(|c| c == '\n' || !c.is_control()));
        assert!(!out.contains('\u{202e}') && !out.contains('\u{200b}'));
    }

    #[test]
    fn kept_tabs_are_the_only_difference() {
        assert_eq!(sanitize_with("a\tb", Tabs::Keep), "a\tb");
        assert!(matches!(
            sanitize_with("a\tb", Tabs::Keep),
            Cow::Borrowed(_)
        ));
        assert_eq!(sanitize_with("a\tb", Tabs::Expand), "a    b");
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let kept = sanitize_with(&all, Tabs::Keep);
        assert_eq!(kept.replace('\t', "    "), sanitize(&all));
        assert!(
            kept.chars()
                .all(|c| c == '\n' || c == '\t' || !c.is_control())
        );
    }
}
