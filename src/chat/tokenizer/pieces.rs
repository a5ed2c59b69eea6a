//! tiktoken's pre-tokenizers: its regular expressions, written out as matchers that take
//! the same (leftmost-first, backtracking) choices, over the Unicode classes of
//! regex-syntax (laid out by `build.rs`). Every position starts a piece: each pattern ends
//! in alternatives that match any character.
//!
//! r50k and p50k: `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`
//!
//! cl100k: `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|
//! ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
//!
//! o200k: `[^\r\n\p{L}\p{N}]?[A]*[B]+C?|[^\r\n\p{L}\p{N}]?[A]+[B]*C?|\p{N}{1,3}|
//! ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+` with A = `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`,
//! B = `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`, C = `(?i:'s|'t|'re|'ve|'m|'ll|'d)`.

mod tables {
    include!(concat!(env!("OUT_DIR"), "/unicode_classes.rs"));
}

/// `\p{L}`
pub(super) const L: u8 = 1;
/// `\p{N}`
pub(super) const N: u8 = 2;
/// `\s` (White_Space)
pub(super) const S: u8 = 4;
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`
pub(super) const A: u8 = 8;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`
pub(super) const B: u8 = 16;

/// The classes of `c` (a set of the bits above).
#[inline]
pub(super) fn class(c: char) -> u8 {
    let u = c as u32;
    if u < 128 {
        return tables::ASCII[u as usize];
    }
    let i = tables::RUN_STARTS.partition_point(|&s| s <= u);
    tables::RUN_CLASSES[i - 1]
}

/// Which pre-tokenizer an encoding uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// r50k_base and p50k_base (GPT-2, GPT-3).
    R50k,
    Cl100k,
    O200k,
}

impl Pattern {
    /// The pieces of `text`, in order; together they are `text`.
    pub fn pieces(self, text: &str) -> Pieces<'_> {
        Pieces {
            text,
            at: 0,
            pattern: self,
        }
    }
}

pub struct Pieces<'a> {
    text: &'a str,
    at: usize,
    pattern: Pattern,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.at >= self.text.len() {
            return None;
        }
        let s = Scan(self.text);
        let end = match self.pattern {
            Pattern::R50k => s.r50k(self.at),
            Pattern::Cl100k => s.cl100k(self.at),
            Pattern::O200k => s.o200k(self.at),
        };
        let piece = &self.text[self.at..end];
        self.at = end;
        Some(piece)
    }
}

fn is_r(c: char) -> bool {
    c == '\r' || c == '\n'
}

/// `[^\s\p{L}\p{N}]`
fn is_o(k: u8) -> bool {
    k & (S | L | N) == 0
}

/// `[^\r\n\p{L}\p{N}]`
fn is_x(c: char, k: u8) -> bool {
    !is_r(c) && k & (L | N) == 0
}

/// `c` under Unicode simple case folding, for the letters of the contractions.
pub(super) fn fold(c: char) -> char {
    match c {
        '\u{17F}' => 's',
        _ => c.to_ascii_lowercase(),
    }
}

/// The text being split, with the scanning primitives.
#[derive(Clone, Copy)]
struct Scan<'a>(&'a str);

impl Scan<'_> {
    /// The character at byte `i`, if any.
    #[inline]
    fn at(self, i: usize) -> Option<char> {
        self.0.get(i..).and_then(|s| s.chars().next())
    }

    /// The character at `i` with its classes and the byte after it.
    #[inline]
    fn next(self, i: usize) -> Option<(char, u8, usize)> {
        self.at(i).map(|c| (c, class(c), i + c.len_utf8()))
    }

    /// The end of the run of characters from `i` that `keep` accepts.
    fn run(self, mut i: usize, keep: impl Fn(char, u8) -> bool) -> usize {
        while let Some((c, k, j)) = self.next(i) {
            if !keep(c, k) {
                break;
            }
            i = j;
        }
        i
    }

    /// The end of `\p{N}{1,3}` whose first digit ends at `j`.
    fn digits_after(self, j: usize) -> usize {
        let mut e = j;
        for _ in 0..2 {
            match self.next(e) {
                Some((_, k, j)) if k & N != 0 => e = j,
                _ => break,
            }
        }
        e
    }

    /// ` ?[^\s\p{L}\p{N}]+` then a run of `trail` characters, for the character `c` (classes
    /// `k`) at `i` ending at `j`; `None` when it does not start one.
    fn punctuation(
        self,
        c: char,
        k: u8,
        i: usize,
        j: usize,
        trail: impl Fn(char) -> bool,
    ) -> Option<usize> {
        let start = if c == ' ' && self.next(j).is_some_and(|(_, k2, _)| is_o(k2)) {
            j
        } else if is_o(k) {
            i
        } else {
            return None;
        };
        let e = self.run(start, |_, k| is_o(k));
        Some(self.run(e, |c, _| trail(c)))
    }

    /// The end of `'` + one of `words` (letters compared as `fold` does when
    /// `ignore_case`), the first that matches.
    fn contraction(self, i: usize, words: &[&str], ignore_case: bool) -> Option<usize> {
        if self.at(i) != Some('\'') {
            return None;
        }
        'words: for w in words {
            let mut j = i + 1;
            for want in w.chars() {
                match self.at(j) {
                    Some(c) if c == want || (ignore_case && fold(c) == want) => j += c.len_utf8(),
                    _ => continue 'words,
                }
            }
            return Some(j);
        }
        None
    }

    /// A whitespace run from `i`: its end, the start of its last character, how many
    /// characters, and the end of its last `\r`/`\n` (if any).
    fn spaces(self, i: usize) -> (usize, usize, usize, Option<usize>) {
        let (mut end, mut last, mut n, mut last_r) = (i, i, 0, None);
        while let Some((c, k, j)) = self.next(end) {
            if k & S == 0 {
                break;
            }
            if is_r(c) {
                last_r = Some(j);
            }
            last = end;
            end = j;
            n += 1;
        }
        (end, last, n, last_r)
    }

    // --- r50k / p50k -------------------------------------------------------------------

    fn r50k(self, i: usize) -> usize {
        const WORDS: [&str; 7] = ["s", "d", "m", "t", "ll", "ve", "re"];
        if let Some(e) = self.contraction(i, &WORDS, false) {
            return e;
        }
        let Some((c, k, j)) = self.next(i) else {
            return i;
        };
        // ` ?\p{L}++`, ` ?\p{N}++`, ` ?[^\s\p{L}\p{N}]++`
        let classes: [fn(u8) -> bool; 3] = [|k| k & L != 0, |k| k & N != 0, is_o];
        for is in classes {
            if c == ' '
                && let Some((_, k2, _)) = self.next(j)
                && is(k2)
            {
                return self.run(j, |_, k| is(k));
            }
            if is(k) {
                return self.run(i, |_, k| is(k));
            }
        }
        // `\s++$|\s+(?!\S)|\s` (every other character matched above)
        let (end, last, n, _) = self.spaces(i);
        if end == self.0.len() {
            end
        } else if n >= 2 {
            last
        } else {
            j
        }
    }

    // --- cl100k ------------------------------------------------------------------------

    fn cl100k(self, i: usize) -> usize {
        const WORDS: [&str; 7] = ["s", "d", "m", "t", "ll", "ve", "re"];
        if let Some(e) = self.contraction(i, &WORDS, true) {
            return e;
        }
        let Some((c, k, j)) = self.next(i) else {
            return i;
        };
        // `[^\r\n\p{L}\p{N}]?+\p{L}++` (possessive: a leading X never gives itself back)
        if is_x(c, k) {
            if let Some((_, k2, _)) = self.next(j)
                && k2 & L != 0
            {
                return self.run(j, |_, k| k & L != 0);
            }
        } else if k & L != 0 {
            return self.run(i, |_, k| k & L != 0);
        }
        // `\p{N}{1,3}+`
        if k & N != 0 {
            return self.digits_after(j);
        }
        // ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
        if let Some(e) = self.punctuation(c, k, i, j, is_r) {
            return e;
        }
        // `\s++$|\s*[\r\n]|\s+(?!\S)|\s`
        let (end, last, n, last_r) = self.spaces(i);
        if end == self.0.len() {
            end
        } else if let Some(r) = last_r {
            r
        } else if n >= 2 {
            last
        } else {
            j
        }
    }

    // --- o200k -------------------------------------------------------------------------

    /// `C?` after a match that ends at `e`.
    fn o200k_suffix(self, e: usize) -> usize {
        const WORDS: [&str; 7] = ["s", "t", "re", "ve", "m", "ll", "d"];
        self.contraction(e, &WORDS, true).unwrap_or(e)
    }

    /// `[A]*[B]+C?` from `p`.
    fn o200k_lower(self, p: usize) -> Option<usize> {
        // The A* run gives back characters until a B can start: the last B in the run, or
        // the character after it.
        let mut b_start = None;
        let mut i = p;
        loop {
            match self.next(i) {
                Some((_, k, j)) if k & A != 0 => {
                    if k & B != 0 {
                        b_start = Some(i);
                    }
                    i = j;
                }
                Some((_, k, _)) => {
                    if k & B != 0 {
                        b_start = Some(i);
                    }
                    break;
                }
                None => break,
            }
        }
        let b = b_start?;
        let e = self.run(b, |_, k| k & B != 0);
        Some(self.o200k_suffix(e))
    }

    /// `[A]+[B]*C?` from `p`.
    fn o200k_upper(self, p: usize) -> Option<usize> {
        let q = self.run(p, |_, k| k & A != 0);
        if q == p {
            return None;
        }
        let e = self.run(q, |_, k| k & B != 0);
        Some(self.o200k_suffix(e))
    }

    fn o200k(self, i: usize) -> usize {
        let Some((c, k, j)) = self.next(i) else {
            return i;
        };
        let x = is_x(c, k);
        for alt in [Self::o200k_lower, Self::o200k_upper] {
            if x && let Some(e) = alt(self, j) {
                return e;
            }
            if let Some(e) = alt(self, i) {
                return e;
            }
        }
        // `\p{N}{1,3}`
        if k & N != 0 {
            return self.digits_after(j);
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        if let Some(e) = self.punctuation(c, k, i, j, |c| is_r(c) || c == '/') {
            return e;
        }
        // `\s*[\r\n]+|\s+(?!\S)|\s+`
        let (end, last, n, last_r) = self.spaces(i);
        if let Some(r) = last_r {
            r
        } else if end == self.0.len() {
            end
        } else if n >= 2 {
            last
        } else {
            end
        }
    }
}
