//! The Markdown renderer: any text at any width renders without panicking, and no line is
//! wider than the width or carries a control character to the terminal.
#![no_main]

use chat_tui::ui::markdown;
use chat_tui::ui::theme::Theme;
use libfuzzer_sys::fuzz_target;
use unicode_width::UnicodeWidthStr;

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let width = u16::from(w % 120) + 1;
    let text = String::from_utf8_lossy(rest);
    for line in markdown::render(&text, width, &Theme::default()) {
        let w: usize = line.spans.iter().map(|s| s.content.width()).sum();
        assert!(w <= usize::from(width), "a line of {w} cells at width {width}");
        for s in &line.spans {
            assert!(!s.content.chars().any(|c| c.is_control()), "control character in {:?}", s.content);
        }
    }
});
