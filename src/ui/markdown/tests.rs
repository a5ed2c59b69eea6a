use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;

use super::*;

fn text(lines: &[Line<'_>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.to_string().trim_end().to_string())
        .collect()
}

fn assert_fits(lines: &[Line<'_>], width: u16) {
    for l in lines {
        assert!(
            l.width() <= width as usize,
            "line {:?} is {} wide, more than {width}",
            l.to_string(),
            l.width()
        );
    }
}

fn th() -> Theme {
    Theme::default()
}

#[test]
fn paragraphs_word_wrap() {
    let lines = render("the quick brown fox jumps over the lazy dog", 12, &th());
    assert_eq!(
        text(&lines),
        ["the quick", "brown fox", "jumps over", "the lazy dog"]
    );
}

#[test]
fn cjk_wraps_between_characters_and_long_words_break() {
    let lines = render_plain("海洋污染對哪個地區影響最大", 9, Style::default());
    assert_eq!(text(&lines), ["海洋污染", "對哪個地", "區影響最", "大"]);
    let lines = render_plain("abcdefghijkl xy", 5, Style::default());
    assert_eq!(text(&lines), ["abcde", "fghij", "kl xy"]);
}

#[test]
fn no_line_is_wider_than_the_width() {
    let samples = [
        "海洋污染對哪個地區影響最大 mixed with English words and 😀👍🏽 emoji 👨‍👩‍👧 family",
        "e\u{301}e\u{301}e\u{301} combining ﷽ wide ＡＢＣ fullwidth",
        "a_very_long_identifier_that_cannot_possibly_fit_on_one_line_at_all",
        "- list item with 漢字 text\n  - nested 😀 item with more text\n\n> quote 海洋污染對哪個地區影響最大",
        "| 名前 | value |\n|---|--:|\n| 海洋污染對哪個地區 | 😀😀😀😀 long cell text |\n",
        "```\n\t海洋污染對哪個地區影響最大 let x = 1; 😀😀😀😀😀😀\n```",
    ];
    for s in samples {
        for w in 4..50u16 {
            assert_fits(&render(s, w, &th()), w);
            assert_fits(&render_plain(s, w, Style::default()), w);
        }
    }
}

#[test]
fn wide_characters_at_width_1_become_a_one_cell_stand_in() {
    // Found by tests/fuzz_props.rs: "界" at width 1 made a line 2 cells wide.
    for md in ["界", "a界b", "```\n界\n```", "`界`"] {
        let lines = render(md, 1, &th());
        assert_fits(&lines, 1);
        assert!(
            text(&lines).concat().contains('?'),
            "{md}: {:?}",
            text(&lines)
        );
    }
    assert_eq!(text(&render("界", 2, &th())), ["界"]);
}

#[test]
fn code_blocks_fit_even_narrower_than_their_gutter() {
    // Found by the fault tests: at width 2 the gutter plus one character made 3.
    for width in 1..=4 {
        let lines = render(
            "```
abcdefgh
```

> ```
> xyz
> ```",
            width,
            &th(),
        );
        assert_fits(&lines, width);
        assert!(text(&lines).concat().contains('h'), "{:?}", text(&lines));
    }
}

#[test]
fn plain_text_keeps_newlines_and_indentation() {
    let lines = render_plain("a\n\n    b\r\n", 20, Style::default());
    assert_eq!(text(&lines), ["a", "", "    b␍"]);
}

#[test]
fn inline_styles() {
    let lines = render("*it* **bold** ~~gone~~ `code`", 80, &th());
    let spans = &lines[0].spans;
    let find = |t: &str| spans.iter().find(|s| s.content.contains(t)).unwrap().style;
    assert!(find("it").add_modifier.contains(Modifier::ITALIC));
    assert!(find("bold").add_modifier.contains(Modifier::BOLD));
    assert!(find("gone").add_modifier.contains(Modifier::CROSSED_OUT));
    assert_eq!(find("code").fg, th().code.fg);
}

#[test]
fn headings_keep_markers_and_are_styled() {
    let lines = render("## Title\n\ntext", 80, &th());
    assert_eq!(text(&lines), ["## Title", "", "text"]);
    assert!(
        lines[0].spans[0]
            .style
            .add_modifier
            .contains(Modifier::BOLD)
    );
}

#[test]
fn links_show_their_url_unless_it_is_the_text() {
    let lines = render("see [docs](https://d.rs) and <https://x.io>", 80, &th());
    assert_eq!(text(&lines), ["see docs (https://d.rs) and https://x.io"]);
    let url = lines[0]
        .spans
        .iter()
        .find(|s| s.content.contains("(https://d.rs)"))
        .unwrap();
    assert!(url.style.add_modifier.contains(Modifier::DIM));
    let lines = render("mail <a@b.co>", 80, &th());
    assert_eq!(text(&lines), ["mail a@b.co"]);
}

#[test]
fn quotes_nest() {
    let lines = render("> a\n>> b\n\n> c", 80, &th());
    // A blank line ends a quote: "> c" starts a new one.
    assert_eq!(text(&lines), ["│ a", "│", "│ │ b", "", "│ c"]);
    let lines = render("> a\n>\n> b", 80, &th());
    assert_eq!(text(&lines), ["│ a", "│", "│ b"]);
}

#[test]
fn lists_nest_with_hanging_indent() {
    let lines = render("- one two three\n  - four five\n3. x\n4. y", 10, &th());
    assert_eq!(
        text(&lines),
        [
            "• one two",
            "  three",
            "  ◦ four",
            "    five",
            "",
            "3. x",
            "4. y"
        ]
    );
}

#[test]
fn task_lists_and_rules() {
    let lines = render("- [x] done\n- [ ] todo\n\n---", 10, &th());
    assert_eq!(text(&lines), ["• [x] done", "• [ ] todo", "", "──────────"]);
}

#[test]
fn tables_are_boxed_aligned_and_fit() {
    let md = "| a | b |\n|:-:|--:|\n| x | 12345 |\n| long cell | 1 |";
    let lines = render(md, 40, &th());
    assert_eq!(
        text(&lines),
        [
            "┌───────────┬───────┐",
            "│     a     │     b │",
            "├───────────┼───────┤",
            "│     x     │ 12345 │",
            "│ long cell │     1 │",
            "└───────────┴───────┘",
        ]
    );
    let lines = render(md, 16, &th());
    assert_fits(&lines, 16);
    assert!(text(&lines).iter().any(|l| l.contains("│ long")));
}

#[test]
fn code_is_highlighted_and_hard_broken() {
    let md = "```rust\nfn main() {\n    let s = \"0123456789012345678901234567890\";\n}\n```";
    let lines = render(md, 24, &th());
    assert_fits(&lines, 24);
    let t = text(&lines);
    // The label line first: block 1, its language.
    assert_eq!(t[0], "▎ [1] rust");
    assert_eq!(t[1], "▎ fn main() {");
    // Broken at the width, continuation keeps the indentation.
    assert_eq!(t[2], "▎     let s = \"012345678");
    assert!(t[3].starts_with("▎     9012"), "{t:?}");
    assert_eq!(t.last().unwrap(), "▎ }");
    let rgb = lines[1]
        .spans
        .iter()
        .any(|s| matches!(s.style.fg, Some(Color::Rgb(..))));
    assert!(rgb, "rust code should be highlighted");
    // Not word-wrapped: spaces do not move words.
    let lines = render("```\nab cd ef gh\n```", 6, &th());
    assert_eq!(text(&lines), ["▎ [1]", "▎ ab c", "▎ d ef", "▎  gh"]);
}

#[test]
fn streamed_code_highlights_like_a_cold_render() {
    let full = "Intro\n\n```rust\n/* a comment\n   over lines */\nfn f() -> &'static str {\n    \"s\\\"x\"\n}\n```\n\n```python\ndef g():\n    return \"\"\"x\n    y\"\"\"\n```\n";
    let mut streamed = Vec::new();
    for end in (0..=full.len()).filter(|&i| full.is_char_boundary(i)) {
        streamed = render(&full[..end], 30, &th());
    }
    clear_highlight_cache();
    let cold = render(full, 30, &th());
    assert_eq!(streamed, cold);
    // A cache hit gives the same again.
    assert_eq!(render(full, 30, &th()), cold);
}

#[test]
fn huge_code_blocks_are_not_highlighted() {
    let long_line = format!(
        "```rust\nlet s = \"{}\";\n```",
        "x".repeat(MAX_HIGHLIGHT_LINE)
    );
    let lines = render(&long_line, 80, &th());
    assert!(lines.len() > 50);
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l.spans[1].style.fg == th().code.fg)
    );
}

#[test]
fn unknown_language_and_unterminated_fence_are_plain_code() {
    let lines = render("```nosuchlang\nx <- 1\n```", 40, &th());
    assert_eq!(text(&lines), ["▎ [1] nosuchlang", "▎ x <- 1"]);
    assert_eq!(lines[1].spans[1].style.fg, th().code.fg);
    // Streaming: the closing fence has not arrived yet.
    let lines = render("text\n\n```python\ndef f():\n    return 1", 40, &th());
    assert_eq!(
        text(&lines),
        ["text", "", "▎ [1] python", "▎ def f():", "▎     return 1"]
    );
}

#[test]
fn control_sequences_are_neutralised() {
    let lines = render("\x1b[2J hi *\x1b]52;c;eA==\x07*", 80, &th());
    assert_eq!(text(&lines), ["␛[2J hi ␛]52;c;eA==␇"]);
}

#[test]
fn deep_nesting_is_capped_and_fast() {
    let t0 = std::time::Instant::now();
    let quotes = format!("{} deep", ">".repeat(10_000));
    let lines = render(&quotes, 80, &th());
    assert_fits(&lines, 80);
    assert!(text(&lines).iter().any(|l| l.ends_with("deep")));
    let mut lists = String::new();
    for i in 0..10_000 {
        lists.push_str(&"  ".repeat(i.min(3)));
        lists.push_str("- x\n");
    }
    let lists2 = "- ".repeat(10_000) + "leaf";
    for md in [&lists, &lists2] {
        let lines = render(md, 60, &th());
        assert_fits(&lines, 60);
    }
    // A guard against a hang (exponential nesting), not a speed test: far beyond any run.
    assert!(t0.elapsed().as_secs() < 120, "took {:?}", t0.elapsed());
}

#[test]
fn huge_replies_render_whole_and_in_proportion() {
    // How fast is a benchmark's question (benches/render.rs, markdown/render_*); here: a reply
    // four times longer renders four times the lines, all of them fitting.
    let chunk = "Some *text* with `code` and a [link](http://x).\n\n```rust\nlet x = 1;\n```\n\n";
    let small = render(&chunk.repeat(200), 80, &th());
    let big = render(&chunk.repeat(800), 80, &th());
    assert_fits(&big, 80);
    // Every chunk makes the same lines (the last blank line of a reply is not drawn).
    assert_eq!(big.len() + 1, (small.len() + 1) * 4);
}

// ---------------------------------------------------------------------------
// Code block labels, and what each line is made of (for copying).

#[test]
fn code_blocks_get_a_numbered_label_line() {
    let md = "- item\n\n  ```rust\n  fn x() {}\n  ```\n\n```\nplain\n```";
    let r = render_full(md, 40, &th(), 4);
    assert_eq!(
        text(&r.lines),
        [
            "• item",
            "",
            "  ▎ [5] rust",
            "  ▎ fn x() {}",
            "",
            "▎ [6]",
            "▎ plain"
        ]
    );
    assert_eq!(r.code_blocks, 2);
    let deco: Vec<bool> = r.meta.iter().map(|m| m.deco).collect();
    assert_eq!(deco, [false, false, true, false, false, true, false]);
    // The code's lead is the indentation and the gutter: copying takes the code alone.
    assert_eq!(r.meta[3].lead, 4);
    assert_eq!(r.meta[6].lead, 2);
}

#[test]
fn wrapped_lines_say_they_go_on_and_which_cells_are_drawing() {
    let r = render_full("> alpha beta gamma delta", 14, &th(), 0);
    assert_eq!(text(&r.lines), ["│ alpha beta", "│ gamma delta"]);
    assert_eq!(
        r.meta[0],
        LineMeta {
            lead: 2,
            soft: false,
            space: 0,
            deco: false
        }
    );
    assert_eq!(
        r.meta[1],
        LineMeta {
            lead: 2,
            soft: true,
            space: 1,
            deco: false
        }
    );
    // A code line broken at the width goes on from the line above, without a space.
    let r = render_full("```\nabcdefghijkl\n```", 8, &th(), 0);
    assert_eq!(text(&r.lines), ["▎ [1]", "▎ abcdef", "▎ ghijkl"]);
    assert!(!r.meta[1].soft && r.meta[2].soft && r.meta[2].space == 0);
    // A hard break is a hard line.
    let r = render_full("one  \ntwo", 20, &th(), 0);
    assert_eq!(text(&r.lines), ["one", "two"]);
    assert!(!r.meta[1].soft);
    assert_eq!(r.meta.len(), r.lines.len());
}

/// Markdown that puts code blocks in every place the parser allows, and things that look
/// like code blocks but are not.
const CODE_CORPUS: &[&str] = &[
    "```\na\n```",
    "~~~py\nb\n~~~",
    "    indented\n    code",
    "\tcode after a tab",
    "  \tmixed indentation",
    "- item\n\n      indented in a list\n",
    "- item\n  ```\n  in a list\n  ```\n- next",
    "> ```\n> quoted\n> ```\n>\n>     indented quoted",
    "1. one\n   ```sh\n   echo\n   ```\n2. two\n\n   ~~~\n   x\n   ~~~",
    "```\nunterminated",
    "````\n```\nnested fence\n```\n````",
    "`inline` and ``` not a fence ``` here",
    "| a | b |\n|---|---|\n| ```x``` | y |",
    "<div>\n```\nin html\n```\n</div>",
    "```\r\nwindows\r\n```\r\n",
    "text\n    not code (a lazy continuation)",
    "- a\n-     b (code in an item)",
    "> > ```\n> > deep\n> > ```",
    "```\n\u{1b}[31mred\u{1b}[0m\n```",
    "  ```\n  two-space fence\n  ```",
    "     ```\n     five spaces: indented, not a fence\n     ```",
];

#[test]
fn the_code_block_finder_agrees_with_what_is_drawn() {
    for md in CODE_CORPUS {
        for width in [8u16, 40, 120] {
            let r = render_full(md, width, &th(), 0);
            let labels = r.meta.iter().filter(|m| m.deco).count();
            assert_eq!(r.code_blocks, labels, "{md:?} at {width}");
            assert_eq!(
                crate::text::code_blocks::count(md),
                labels,
                "{md:?} at {width}"
            );
            assert_eq!(
                crate::text::code_blocks::code_blocks(md).len(),
                labels,
                "{md:?} at {width}"
            );
        }
        // Where the screen shows the text as written, at a width where nothing wraps, the
        // bodies found are the lines drawn after each label (less their lead).
        if crate::text::sanitize(md) != *md {
            continue;
        }
        let r = render_full(md, 200, &th(), 0);
        let mut drawn: Vec<Vec<String>> = Vec::new();
        let mut in_block = false;
        for (line, meta) in r.lines.iter().zip(&r.meta) {
            let s = line.to_string();
            if meta.deco {
                drawn.push(Vec::new());
                in_block = true;
            } else if in_block && s.contains('▎') {
                let body: String = s.chars().skip(usize::from(meta.lead)).collect();
                if let Some(b) = drawn.last_mut() {
                    b.push(body);
                }
            } else {
                in_block = false;
            }
        }
        let drawn: Vec<String> = drawn.iter().map(|b| b.join("\n")).collect();
        let found: Vec<String> = crate::text::code_blocks::code_blocks(md)
            .into_iter()
            .map(|b| b.body)
            .collect();
        assert_eq!(found, drawn, "{md:?}");
    }
}
