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
pub fn count(markdown: &str) -> usize {
    if !may_have_code(markdown) {
        return 0;
    }
    Parser::new_ext(&sanitize(markdown), markdown_options())
        .filter(|ev| matches!(ev, Event::Start(Tag::CodeBlock(_))))
        .count()
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

    #[test]
    fn inline_code_and_plain_text_have_no_blocks() {
        assert_eq!(count("use `x` and ``y``, then `` ` ``"), 0);
        assert_eq!(count("no code here at all"), 0);
        assert!(code_blocks("").is_empty());
    }
}
