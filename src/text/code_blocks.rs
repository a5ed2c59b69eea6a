//! Code blocks in Markdown: how many there are and what they hold, found with the same
//! parser and options the screen renders with (`ui::markdown`), so block N here is the block
//! drawn with the label `[N]`.
//!
//! The screen renders the sanitized text ([`crate::text::sanitize`]); so does [`count`].
//! [`code_blocks`] returns the bodies as written (tabs, and the rare control character, as
//! the model sent them), from a parse of the raw text — unless sanitizing changed how many
//! blocks there are, in which case the bodies are the ones the screen shows.

use std::borrow::Cow;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::text::sanitize;

/// One code block: its language (the first word of a fence's info string; empty for an
/// indented block) and its text without the fences (and without the final line break).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeBlock {
    pub lang: String,
    pub body: String,
}

/// The Markdown extensions the screen renders with.
pub fn markdown_options() -> Options {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options
}

/// Could `text` hold a code block at all? A fence needs ``` or ~~~; an indented block
/// needs four columns of indentation past its container's markers: four spaces in a row or
/// a tab. Most messages have none of these, and need no parse.
fn may_have_code(text: &str) -> bool {
    text.contains("```") || text.contains("~~~") || text.contains("    ") || text.contains('\t')
}

/// How many code blocks the screen draws for `markdown`.
///
/// Every reply above the screen is counted when a conversation opens (block numbers run
/// across the conversation), so this is on the path to the first frame: the common shape
/// of a reply (fences at the start of a line, lists and quotes without code) is counted
/// from its lines ([`count_by_lines`]), the rest by the parser the screen renders with.
pub fn count(markdown: &str) -> usize {
    if !may_have_code(markdown) {
        return 0;
    }
    let shown = sanitize(markdown);
    count_by_lines(&shown).unwrap_or_else(|| count_parsed(&shown))
}

/// How many code blocks pulldown-cmark finds in `text` (already sanitized): the reference
/// [`count_by_lines`] must agree with.
fn count_parsed(text: &str) -> usize {
    Parser::new_ext(text, markdown_options())
        .filter(|ev| matches!(ev, Event::Start(Tag::CodeBlock(_))))
        .count()
}

/// The code blocks of `text` counted from its lines alone, without a Markdown parse, when
/// the count is certain; `None` when it is not (the parser must count).
///
/// Certain means: every code block is a fence that starts a line (no indentation, no list
/// or quote marker before it), and nothing else could hold or start one. Then the count
/// is the number of such opening fences outside fences, because in CommonMark (and in
/// pulldown-cmark):
/// - an opening fence can interrupt a paragraph, a table and lazy continuation lines, and
///   a line with no indentation and no container marker closes every list and quote, so
///   a fence at the start of a line opens a block at the top level — unless it is inside
///   a fence (tracked here) or an HTML block (a line starting with `<`: not certain);
/// - a fence at the top level ends only at its closing fence (up to three spaces, the
///   same character at least as many times, then only spaces) or at the end of the text;
/// - a backtick fence whose info string holds a backtick is not a fence (inline code);
/// - any other code block needs a fence after indentation or a container marker, or an
///   indented block: four columns of indentation, i.e. a tab or four spaces in a row
///   before the line's text (after the container markers) — each of these is "not
///   certain", as are a `[` (a link reference definition can span lines) and a carriage
///   return (a line end the split on `\n` would not see).
///
/// Container markers are over-approximated: the leading run of spaces, `>`, `-`, `*`,
/// `+`, digits, `.` and `)`, so "not certain" may be said of text that is simple (only
/// slower). Tested against the parser on a corpus and on random text
/// (`count_by_lines_agrees_with_the_parser_*`).
pub fn count_by_lines(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.contains(&b'\r') {
        return None;
    }
    let mut blocks = 0;
    // The open top-level fence: its character and length.
    let mut fence: Option<(u8, usize)> = None;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for end in ends {
        let line = &bytes[start..end];
        start = end + 1;
        if let Some((ch, len)) = fence {
            if closes_fence(line, ch, len) {
                fence = None;
            }
            continue;
        }
        let lead = line
            .iter()
            .position(|&b| {
                !matches!(
                    b,
                    b' ' | b'>' | b'-' | b'*' | b'+' | b'0'..=b'9' | b'.' | b')'
                )
            })
            .unwrap_or(line.len());
        let (marks, rest) = line.split_at(lead);
        if marks.windows(4).any(|w| w == b"    ") && !line.iter().all(|&b| b == b' ') {
            // Four columns of indentation before something (even a marker: `    -` is
            // code): maybe an indented code block.
            return None;
        }
        let Some(&first) = rest.first() else {
            // Blank, or markers only (a rule, an empty item): no code here.
            continue;
        };
        match first {
            b'`' | b'~' => {
                let run = rest.iter().take_while(|&&b| b == first).count();
                if run >= 3 {
                    if lead > 0 {
                        // A fence indented or in a list or quote.
                        return None;
                    }
                    if first == b'~' || !rest[run..].contains(&b'`') {
                        blocks += 1;
                        fence = Some((first, run));
                        continue;
                    }
                    // ``` followed by a backtick: inline code in a paragraph.
                }
            }
            b'[' if lead == 0 && !may_define_link(rest) => {}
            b'<' | b'[' | b'\t' => return None,
            _ => {}
        }
    }
    Some(blocks)
}

/// Could `line` (starting with `[`, at the start of a line) begin a link reference
/// definition (`[label]: destination`, which may run over several lines)? Not when its
/// label closes on this line and no `:` follows — "[1] text", "[a link](url) text" —
/// and holds no other bracket (labels cannot); everything else may.
fn may_define_link(line: &[u8]) -> bool {
    let mut i = 1;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 1,
            b'[' => return true,
            b']' => return line.get(i + 1) == Some(&b':'),
            _ => {}
        }
        i += 1;
    }
    true
}

/// Does `line` close a top-level fence of `len` times `ch`? Up to three spaces, at least
/// `len` times `ch`, then only spaces (pulldown-cmark: a tab after the fence keeps it open;
/// a tab before it is four columns).
fn closes_fence(line: &[u8], ch: u8, len: usize) -> bool {
    if line.first().is_some_and(|&b| b != b' ' && b != ch) {
        return false;
    }
    let indent = line.iter().take_while(|&&b| b == b' ').count();
    if indent >= 4 {
        return false;
    }
    let run = line[indent..].iter().take_while(|&&b| b == ch).count();
    run >= len && line[indent + run..].iter().all(|&b| b == b' ')
}

/// The code blocks of `markdown`, in order (block N is `code_blocks(..)[N - 1]`).
pub fn code_blocks(markdown: &str) -> Vec<CodeBlock> {
    if !may_have_code(markdown) {
        return Vec::new();
    }
    let shown = sanitize(markdown);
    let on_screen = collect(&shown);
    if let Cow::Borrowed(_) = shown {
        return on_screen;
    }
    let raw = collect(markdown);
    if raw.len() == on_screen.len() {
        raw
    } else {
        on_screen
    }
}

fn collect(text: &str) -> Vec<CodeBlock> {
    let mut out = Vec::new();
    let mut cur: Option<CodeBlock> = None;
    for ev in Parser::new_ext(text, markdown_options()) {
        match ev {
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',' || c == '{')
                        .next()
                        .unwrap_or("")
                        .to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                cur = Some(CodeBlock {
                    lang,
                    body: String::new(),
                });
            }
            Event::Text(s) | Event::Html(s) => {
                if let Some(c) = &mut cur {
                    c.body.push_str(&s);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(mut c) = cur.take() {
                    if c.body.ends_with('\n') {
                        c.body.pop();
                        if c.body.ends_with('\r') {
                            c.body.pop();
                        }
                    }
                    out.push(c);
                }
            }
            _ => {}
        }
    }
    // An unterminated block (a reply still streaming) is shown as far as it goes.
    if let Some(c) = cur {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(md: &str) -> Vec<String> {
        code_blocks(md).into_iter().map(|c| c.body).collect()
    }

    #[test]
    fn fenced_and_indented_blocks_in_order() {
        let md = "Intro\n\n```rust\nfn main() {}\n```\n\ntext\n\n    indented\n    code\n\n~~~\ntilde\n~~~\n";
        let blocks = code_blocks(md);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].lang, "rust");
        assert_eq!(blocks[0].body, "fn main() {}");
        assert_eq!(blocks[1].lang, "");
        assert_eq!(blocks[1].body, "indented\ncode");
        assert_eq!(blocks[2].body, "tilde");
        assert_eq!(count(md), 3);
    }

    #[test]
    fn blocks_inside_lists_and_quotes_lose_their_container_indentation() {
        let md =
            "- item\n\n  ```sh\n  echo hi\n    indented more\n  ```\n\n> ```\n> quoted\n> ```\n";
        assert_eq!(bodies(md), ["echo hi\n  indented more", "quoted"]);
    }

    #[test]
    fn an_unterminated_fence_runs_to_the_end() {
        assert_eq!(
            bodies("text\n\n```py\nprint(1)\nprint(2"),
            ["print(1)\nprint(2"]
        );
    }

    #[test]
    fn tabs_stay_tabs_in_the_copy() {
        let md = "```make\nall:\n\tcc -o x x.c\n```\n";
        assert_eq!(bodies(md), ["all:\n\tcc -o x x.c"]);
        assert_eq!(count(md), 1);
    }

    #[test]
    fn crlf_line_ends_are_not_part_of_the_code() {
        let md = "```\r\na\r\nb\r\n```\r\n";
        assert_eq!(count(md), 1);
        // The parser ends lines with \n.
        assert_eq!(bodies(md), ["a\nb"]);
    }

    /// Markdown where the line count is easy to get wrong: fences in lists and quotes,
    /// indented code, unclosed fences, ``` against ~~~, HTML blocks, link definitions,
    /// tables, tabs, CJK.
    const TRICKY: &[&str] = &[
        "```\na\n```\n",
        "```rust\nfn main() {}\n```\n\ntext\n\n~~~\ntilde\n~~~\n",
        "```\nunclosed\n",
        "```\n~~~\nstill the first\n```\n~~~\nsecond, unclosed",
        "~~~\n```\n~~~\n```\n```\n",
        "````\n```\nfour closes only with four\n````\nafter\n```\n",
        "```\na\n   ```\nthree spaces close\n```\n",
        "```\na\n    ```\nfour do not\n```\n",
        "```\na\n``` x\nnot a closer\n```\n",
        "```\na\n```   \nspaces after close\n",
        "```\na\n```\t\ntab after: open in pulldown-cmark\n```\n",
        "```\na\n\t```\ntab before\n```\n",
        "``` `x` ```\ninline code, not a fence\n",
        "```a`b\nnot a fence\n```\n",
        "~~~ a`b\ntilde info may hold a backtick\n~~~\n",
        "para\n```\ninterrupts\n```\n",
        "- item\n```\nnot lazy: closes the list\n```\n",
        "- item\n\n  ```\n  in the item\n  ```\n",
        "- item\n  ```\n  in the item\nout\n```\n",
        "1. step\n\n   ```sh\n   run\n   ```\n",
        "> ```\n> quoted\n> ```\n",
        "> ```\n```\n",
        "> quote\n```\ncode\n```\n",
        "- a\n  - b\n    - c\n\n```\nx\n```\n",
        "    indented\n    code\n",
        "para\n    not code: a continuation\n",
        "# head\n    code after a heading\n",
        "- a\n\n      code in an item\n",
        "-     code in an item too\n",
        ">     code in a quote\n",
        "\tcode after a tab\n",
        "-\tcode after a tab\n",
        "<div>\n```\nin html\n```\n</div>\n",
        "<!--\n```\n-->\n```\nx\n```\n",
        "<pre>\n```\n</pre>\n",
        "[a]: /url\n```\nx\n```\n",
        "[1] a citation\n```\nx\n```\n[2] another\n",
        "[a link](http://x) first\n```\nx\n```\n",
        "[a\\]b]: /u\n```\nx\n```\n",
        "[[a]]: /u\n```\nx\n```\n",
        "[a\nb]: /u\n```\nx\n```\n",
        "[a] : /u\n```\nx\n```\n",
        "[a]:\n/u\n```\nx\n```\n",
        "[^1]: note\n```\nx\n```\n",
        "[a]: /url '\n```\n'\n",
        "| a | b |\n|---|---|\n| 1 | 2 |\n```\nafter a table\n```\n",
        "| a | b |\n|---|---|\n```\nx\n```\n| 1 | 2 |\n",
        "a\n---\n```\nx\n```\n***\n",
        "中文段落\n```python\nprint('你好')\n```\n日本語\n~~~\n한국어\n~~~\n",
        "```\r\na\r\n```\r\n",
        "text\r```\rcr only\r```\r",
        "- [ ] task\n- [x] ```\n",
        "``\nnot a fence\n``\n",
        "```\n",
        "",
        "   \n\n  \n",
        "2.5    apples\n",
        "    - \n",
        "-    \n      x\n",
        "* * *\n```\nx\n```\n",
        "```\n<div>\n[a]: b\n    indented\n\tx\n```\n",
    ];

    #[test]
    fn count_by_lines_agrees_with_the_parser_on_tricky_markdown() {
        let mut certain = 0;
        for md in TRICKY {
            if let Some(n) = count_by_lines(md) {
                assert_eq!(n, count_parsed(md), "{md:?}");
                certain += 1;
            }
            assert_eq!(count(md), count_parsed(&sanitize(md)), "{md:?}");
        }
        // The shortcut applies to the plain shapes, not only to nothing.
        assert!(certain >= 20, "only {certain} counted by lines");
        for md in [
            "```\na\n```\n",
            "para\n```\ninterrupts\n```\n",
            "- a\n  - b\n\n> q\n\n| a |\n|---|\n```\nx\n```\n",
            "```\n<div>\n[a]: b\n    indented\n\tx\n```\n",
            "[1] a citation\n```\nx\n```\n[2] another\n",
        ] {
            assert!(count_by_lines(md).is_some(), "{md:?}");
        }
        for md in [
            "1. step\n\n   ```sh\n   run\n   ```\n",
            "    indented\n    code\n",
            "<div>\n```\nin html\n```\n</div>\n",
            "\tcode after a tab\n",
        ] {
            assert_eq!(count_by_lines(md), None, "{md:?}");
        }
    }

    mod random {
        use super::super::*;
        use proptest::prelude::*;

        /// Pieces of Markdown that decide where code blocks are.
        const PIECES: &[&str] = &[
            "```", "~~~", "````", "`", "~", " ", "  ", "   ", "    ", "\t", "\n", "\n", "\n",
            "\n\n", "\r", "- ", "* ", "+ ", "1. ", "2) ", "10. ", "> ", ">", "<div>", "<!--",
            "-->", "</pre>", "[a]: /u", "[", "]", "]:", "[1] ", "[a](u)", "\\]", ":", "| a |",
            "|---|", "---", "===", "# ", "x", "code", "rust", "中文", "\u{a0}", "- [ ] ", "***",
            "\\", "\u{1b}",
        ];

        /// The shapes the shortcut counts (most replies): fences, lists, quotes, tables,
        /// up to three spaces of indentation, so that most samples are counted by lines.
        const PLAIN: &[&str] = &[
            "```", "```", "~~~", "````", "```py", "``` `x`", "`", " ", "  ", "   ", "\n", "\n",
            "\n", "\n", "\n\n", "- ", "* ", "1. ", "> ", "| a |", "|---|", "---", "# ", "x",
            "text", "中文", "~", "[1] ", "[a](u) ", "]", ":",
        ];

        fn markdown() -> impl Strategy<Value = String> {
            prop_oneof![pieces(PIECES), pieces(PLAIN)]
        }

        fn pieces(from: &'static [&'static str]) -> impl Strategy<Value = String> {
            proptest::collection::vec(0..from.len(), 0..40)
                .prop_map(move |ix| ix.into_iter().map(|i| from[i]).collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]
            #[test]
            fn count_by_lines_agrees_with_the_parser_on_random_text(md in markdown()) {
                if let Some(n) = count_by_lines(&md) {
                    prop_assert_eq!(n, count_parsed(&md));
                }
                prop_assert_eq!(count(&md), count_parsed(&sanitize(&md)));
            }
        }

        #[test]
        fn plain_random_text_is_mostly_counted_by_lines() {
            use proptest::strategy::ValueTree;
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let (mut certain, mut with_code) = (0, 0);
            for _ in 0..1000 {
                let md = pieces(PLAIN).new_tree(&mut runner).unwrap().current();
                if let Some(n) = count_by_lines(&md) {
                    certain += 1;
                    with_code += usize::from(n > 0);
                }
            }
            assert!(
                certain > 500 && with_code > 250,
                "{certain} certain, {with_code} with code"
            );
        }
    }

    #[test]
    fn inline_code_and_plain_text_have_no_blocks() {
        assert_eq!(count("use `x` and ``y``, then `` ` ``"), 0);
        assert_eq!(count("no code here at all"), 0);
        assert!(code_blocks("").is_empty());
    }
}
