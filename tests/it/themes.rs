//! The light theme on ratatui's TestBackend: snapshots of the text and of every styled run
//! (colours and attributes), and checks that every colour drawn reads on white — syntax
//! highlighting included — at each colour depth.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chat_tui::action::Msg;
use chat_tui::api::{FinishReason, Outcome, StreamEvent, Usage};
use chat_tui::app::{App, Event, update};
use chat_tui::config::{Role, ThemeChoice};
use chat_tui::runtime::build_theme;
use chat_tui::ui::color::{ColorDepth, contrast_on_white};
use chat_tui::ui::layout;
use chat_tui::ui::theme::{Theme, ThemeKind};
use chrono::{TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};

use crate::support::update::snapshot_app as new_app;

const REPLY: &str = "## Result\n\nA *short* answer with `inline code` and a [link](https://example.com).\n\n> A quoted line\n> that goes on.\n\n1. first\n2. second\n\n```rust\n// add them up\nfn main() {\n    let xs = vec![1, 2, 3];\n    println!(\"{}\", xs.iter().sum::<i32>());\n}\n```\n\nThat's **all**.";

fn with_reply() -> App {
    let mut app = new_app();
    app.set_draft("Show me everything.");
    update(
        &mut app,
        Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let turn = app.turns.first().unwrap().id;
    for event in [
        StreamEvent::Delta {
            index: 0,
            text: REPLY.into(),
        },
        StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Stop,
        },
        StreamEvent::Usage(Usage {
            prompt_tokens: 12,
            completion_tokens: 80,
            total_tokens: 92,
            ..Usage::default()
        }),
    ] {
        update(&mut app, Event::Msg(Msg::Stream { turn, event }));
    }
    update(
        &mut app,
        Event::Msg(Msg::Done {
            turn,
            result: Ok(Outcome::default()),
        }),
    );
    let t = Utc.with_ymd_and_hms(2025, 3, 4, 9, 30, 0).unwrap();
    for m in &mut app.conv.messages {
        m.created = t;
        if m.finished.is_some() {
            m.finished = Some(t);
        }
        m.touch();
    }
    app.count_pending(std::time::Duration::from_secs(5));
    app
}

fn light(depth: ColorDepth) -> Theme {
    build_theme(ThemeChoice::Light, None, None, &BTreeMap::new(), depth)
}

fn draw(app: &App, theme: &Theme, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| layout::draw(f, app, theme)).unwrap();
    t.backend().buffer().clone()
}

fn color(c: Color) -> String {
    match c {
        Color::Rgb(r, g, b) => format!("#{r:02x}{g:02x}{b:02x}"),
        Color::Indexed(i) => format!("i{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn describe(s: Style) -> String {
    let mut parts = Vec::new();
    if let Some(fg) = s.fg.filter(|c| *c != Color::Reset) {
        parts.push(format!("fg {}", color(fg)));
    }
    if let Some(bg) = s.bg.filter(|c| *c != Color::Reset) {
        parts.push(format!("bg {}", color(bg)));
    }
    for (m, name) in [
        (Modifier::BOLD, "bold"),
        (Modifier::DIM, "dim"),
        (Modifier::ITALIC, "italic"),
        (Modifier::UNDERLINED, "underlined"),
        (Modifier::REVERSED, "reversed"),
        (Modifier::CROSSED_OUT, "crossed"),
    ] {
        if s.add_modifier.contains(m) {
            parts.push(name.into());
        }
    }
    parts.join(" ")
}

/// Each row's text, then its styled runs: `  x0-x1 fg #rrggbb bold …` (unstyled runs left
/// out).
fn styled(buf: &Buffer) -> String {
    let mut out = String::new();
    let area = buf.area;
    for y in 0..area.height {
        let mut text = String::new();
        let mut runs: Vec<(u16, u16, String)> = Vec::new();
        for x in 0..area.width {
            let cell = &buf[(x, y)];
            text.push_str(cell.symbol());
            let d = describe(cell.style());
            match runs.last_mut() {
                Some((_, end, last)) if *last == d && *end + 1 == x => *end = x,
                _ => runs.push((x, x, d)),
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
        for (a, b, d) in runs.into_iter().filter(|r| !r.2.is_empty()) {
            let _ = writeln!(out, "    {a:>2}-{b:<2} {d}");
        }
    }
    out
}

/// The exact colour of a 24-bit or 256-palette colour (the 16 named ones are the
/// terminal's own).
fn rgb_of(c: Color) -> Option<(u8, u8, u8)> {
    match c {
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Indexed(i) if i >= 16 => Some(chat_tui::ui::color::ansi256_rgb(i)),
        _ => None,
    }
}

#[test]
fn light_theme_snapshot_80x24() {
    let app = with_reply();
    insta::assert_snapshot!(
        "light_truecolor_80x24",
        styled(&draw(&app, &light(ColorDepth::TrueColor), 80, 24))
    );
}

#[test]
fn light_theme_snapshot_256_colours() {
    let app = with_reply();
    insta::assert_snapshot!(
        "light_256_100x40",
        styled(&draw(&app, &light(ColorDepth::Ansi256), 100, 40))
    );
}

#[test]
fn light_theme_welcome_snapshot() {
    let app = new_app();
    insta::assert_snapshot!(
        "light_welcome_80x24",
        styled(&draw(&app, &light(ColorDepth::TrueColor), 80, 24))
    );
}

#[test]
fn every_colour_of_the_light_theme_reads_on_white_at_every_depth() {
    for depth in [
        ColorDepth::TrueColor,
        ColorDepth::Ansi256,
        ColorDepth::Ansi16,
    ] {
        let buf = draw(&with_reply(), &light(depth), 100, 40);
        let mut seen = 0;
        for cell in buf.content() {
            if cell.symbol().trim().is_empty() {
                continue;
            }
            let s = cell.style();
            // Reversed text is drawn in the background's colour: not a foreground.
            if s.add_modifier.contains(Modifier::REVERSED) {
                continue;
            }
            let Some(fg) = s.fg.filter(|c| *c != Color::Reset) else {
                continue;
            };
            seen += 1;
            if depth == ColorDepth::Ansi16 {
                // The 16 colours are the terminal's own: none of the pale ones.
                assert!(
                    matches!(
                        fg,
                        Color::Black
                            | Color::Red
                            | Color::Green
                            | Color::Blue
                            | Color::Magenta
                            | Color::DarkGray
                    ),
                    "{fg:?} on {:?}",
                    cell.symbol()
                );
                continue;
            }
            if let Some(rgb) = rgb_of(fg) {
                let ratio = contrast_on_white(rgb);
                assert!(
                    ratio >= 3.0,
                    "{depth:?}: {:?} on {:?} has contrast {ratio:.2} on white",
                    s.fg,
                    cell.symbol()
                );
            }
        }
        assert!(seen > 100, "{depth:?}: only {seen} coloured cells");
    }
}

#[test]
fn syntax_colours_follow_the_theme_and_the_depth() {
    // A new app per theme: the conversation pane keeps what it drew (the app's theme never
    // changes while it runs).
    let code_colours = |theme: &Theme| -> Vec<Color> {
        let buf = draw(&with_reply(), theme, 100, 40);
        // The code block's rows start with its gutter.
        let mut out = Vec::new();
        for y in 0..buf.area.height {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            if row.contains("▎ fn main") {
                for x in 0..buf.area.width {
                    if let Some(c) = buf[(x, y)].style().fg {
                        out.push(c);
                    }
                }
            }
        }
        out
    };
    let dark = code_colours(&Theme::default());
    let light_true = code_colours(&light(ColorDepth::TrueColor));
    assert!(light_true.iter().any(|c| matches!(c, Color::Rgb(..))));
    assert_ne!(
        dark, light_true,
        "the light theme highlights with its own colours"
    );
    // Without 24-bit colour, no RGB reaches the terminal.
    for depth in [ColorDepth::Ansi256, ColorDepth::Ansi16] {
        let cs = code_colours(&light(depth));
        assert!(!cs.is_empty());
        assert!(
            cs.iter().all(|c| !matches!(c, Color::Rgb(..))),
            "{depth:?}: {cs:?}"
        );
        if depth == ColorDepth::Ansi16 {
            assert!(
                cs.iter().all(|c| !matches!(c, Color::Indexed(_))),
                "{depth:?}: {cs:?}"
            );
        }
    }
}

#[test]
fn theme_colours_by_role_are_drawn() {
    let app = with_reply();
    let mut colors = BTreeMap::new();
    colors.insert(Role::Assistant, Color::Rgb(0x12, 0x34, 0x56));
    colors.insert(Role::Heading, Color::Indexed(202));
    let theme = build_theme(
        ThemeChoice::Dark,
        None,
        None,
        &colors,
        ColorDepth::TrueColor,
    );
    assert_eq!(theme.kind, ThemeKind::Dark);
    let buf = draw(&app, &theme, 100, 40);
    let find = |text: &str| -> Style {
        for y in 0..buf.area.height {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            if let Some(i) = row.find(text) {
                let x = row[..i].chars().count() as u16;
                return buf[(x, y)].style();
            }
        }
        panic!("{text:?} not on screen");
    };
    assert_eq!(find("Assistant").fg, Some(Color::Rgb(0x12, 0x34, 0x56)));
    assert!(find("Assistant").add_modifier.contains(Modifier::BOLD));
    assert_eq!(find("Result").fg, Some(Color::Indexed(202)));
}

/// Code in the languages people paste most, each with the constructs whose colours depend on
/// the syntax definitions' regular expressions (strings with escapes, comments, numbers,
/// keywords, look-behinds and back-references in heredocs and raw strings).
const CODE_SAMPLES: &[(&str, &str)] = &[
    (
        "rust",
        "/// Sum them.\n#[inline]\npub fn sum<'a, T: Copy + Into<u64>>(xs: &'a [T]) -> u64 {\n    let r = r#\"raw \"quoted\" text\"#;\n    let n = 0x1f_u8 as u64 + 1.5e3 as u64; // tail\n    xs.iter().map(|&x| x.into()).sum::<u64>() + n + r.len() as u64\n}\nmacro_rules! m { ($e:expr) => { println!(\"{}\\n\", $e) }; }\n",
    ),
    (
        "python",
        "import os\nfrom typing import Any\n\n@dataclass\nclass Handler(Base):\n    \"\"\"Doc string.\"\"\"\n    def handle(self, request: dict[str, Any]) -> dict:\n        data = request.get(\"payload\", {})  # comment\n        return {\"status\": f\"ok {len(data):>4}\", \"n\": 0b1010, \"r\": r'\\d+'}\n",
    ),
    (
        "javascript",
        "const f = async (a, b = 2) => {\n  // comment\n  const re = /ab+c/gi;\n  return `${a} and ${b}` + 'x' + 3.5e2;\n};\nexport default class A extends B { #p = null; }\n",
    ),
    (
        "perl",
        "use strict;\nmy %h = (a => 1);\nforeach my $k (sort keys %h) { print \"$k=$h{$k}\\n\" if $k =~ m/^a/; } # c\n",
    ),
    (
        "bash",
        "#!/bin/bash\nset -euo pipefail\nfor f in \"$@\"; do\n  echo \"${f%.txt}\" | grep -E '^[a-z]+$' >> out.log\ndone\ncat <<EOF\nheredoc $HOME\nEOF\n",
    ),
    (
        "json",
        "{\"name\": \"chat-tui\", \"version\": 1.5, \"tags\": [\"a\", true, null], \"nested\": {\"k\": -3e-2}}\n",
    ),
    (
        "c",
        "#include <stdio.h>\n#define N 10\nstatic int add(int a, int b) { return a + b; } /* block */\nint main(void) { char *s = \"x\\n\"; printf(\"%d %s\", add(N, 0x2A), s); return 0; }\n",
    ),
    (
        "cpp",
        "template <typename T> class Box { public: explicit Box(T v) : v_(std::move(v)) {} private: T v_; };\nauto main() -> int { std::vector<int> v{1, 2}; return v.size() > 1 ? 0 : 1; }\n",
    ),
    (
        "go",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tch := make(chan int, 3)\n\tgo func() { ch <- 42 }()\n\tfmt.Printf(\"%v\\n\", <-ch) // done\n}\n",
    ),
    (
        "java",
        "public final class App {\n  @Override public String toString() { return \"App\" + 1L; }\n  public static void main(String[] args) throws Exception { System.out.println(args.length); }\n}\n",
    ),
    (
        "html",
        "<!DOCTYPE html>\n<html lang=\"en\"><body class=\"x\"><!-- note --><a href=\"/a?b=1&amp;c\">link</a><script>let x = 1;</script></body></html>\n",
    ),
    (
        "css",
        ".card > a:hover, #id::before { color: #ff0080; margin: 0 auto 1.5em; }\n@media (max-width: 600px) { .card { display: none !important; } }\n",
    ),
    (
        "sql",
        "SELECT u.id, COUNT(*) AS n FROM users u LEFT JOIN posts p ON p.user_id = u.id\nWHERE u.name LIKE 'a%' AND u.age > 21 -- adults\nGROUP BY u.id HAVING n > 2 ORDER BY n DESC;\n",
    ),
    (
        "yaml",
        "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest # comment\n    steps:\n      - run: cargo test --all\n        env: { RUST_LOG: \"debug\", N: 3 }\n",
    ),
    (
        "diff",
        "--- a/src/main.rs\n+++ b/src/main.rs\n@@ -1,3 +1,3 @@\n-fn old() {}\n+fn new() {}\n context\n",
    ),
    (
        "markdown",
        "# Title\n\nSome *emphasis*, `code` and a [link](http://x.invalid).\n\n- item\n",
    ),
    (
        "ruby",
        "class Greeter < Base\n  attr_reader :name\n  def greet(who = \"world\") = puts \"hi #{who}!\" if who =~ /\\w+/\nend\n",
    ),
    (
        "php",
        "<?php\nfunction f(array $xs): int { return count($xs) + 0x10; } // c\necho \"v: {$xs[0]}\\n\";\n",
    ),
    (
        "haskell",
        "module Main where\nmain :: IO ()\nmain = mapM_ print [x * 2 | x <- [1..10], odd x] -- comment\n",
    ),
    (
        "lua",
        "local t = { a = 1, [\"b\"] = 'two' }\nfunction t:go(n) return n and #self or nil end -- c\nprint([[long string]])\n",
    ),
];

/// Every styled run of a rendered Markdown text: `fg/bg/modifiers|text` per run, a line
/// per rendered line.
fn code_runs(md: &str, theme: &Theme) -> String {
    let mut out = String::new();
    for line in chat_tui::ui::markdown::render(md, 100, theme) {
        for span in &line.spans {
            let s = span.style.patch(line.style);
            let _ = write!(
                out,
                "[{:?}/{:?}/{:?}|{}]",
                s.fg, s.bg, s.add_modifier, span.content
            );
        }
        out.push('\n');
    }
    out
}

/// The colours syntax highlighting gives code in twenty languages, with the dark and the
/// light theme in 24-bit colour, pinned: a change of the highlighter's regular-expression
/// engine, its syntax set or its themes must leave them exactly as they are.
#[test]
fn syntax_colours_of_pasted_languages_are_unchanged() {
    let mut all = String::new();
    for (name, theme) in [
        ("dark", Theme::default()),
        ("light", light(ColorDepth::TrueColor)),
    ] {
        for (lang, code) in CODE_SAMPLES {
            let md = format!("```{lang}\n{code}```\n");
            let runs = code_runs(&md, &theme);
            let _ = writeln!(all, "== {name} {lang}\n{runs}");
        }
    }
    // Every sample is highlighted (more than one colour on its lines).
    for (lang, code) in CODE_SAMPLES {
        let runs = code_runs(&format!("```{lang}\n{code}```\n"), &Theme::default());
        assert!(
            runs.matches("Some(Rgb(").count() > 3,
            "{lang} was not highlighted:\n{runs}"
        );
    }
    insta::assert_snapshot!(all);
}
