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
