//! The Markdown renderer: any text at any width renders without panicking, no line wider
//! than the width, and no control characters reach the screen.
#![no_main]

use chat_tui::ui::markdown;
use chat_tui::ui::theme::Theme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let width = u16::from(w % 120);
    let text = String::from_utf8_lossy(rest);
    let theme = Theme::default();
    let lines = markdown::render(&text, width, &theme);
    for line in &lines {
        assert!(
            line.width() <= width as usize,
            "line {:?} wider than {width}",
            line
        );
        for span in &line.spans {
            assert!(
                !span.content.chars().any(|c| c.is_control()),
                "control character in {:?}",
                span.content
            );
        }
    }
});
