use super::message::message_lines;
use super::stream::{stable_split, streaming_lines};
use super::*;
use crate::chat::conversation::{Choice, Speaker, Status};
use chrono::FixedOffset;

/// Growing a reply token by token gives, at every step, exactly the lines a full
/// rendering of the same text gives.
#[test]
fn incremental_streaming_render_equals_full_render() {
    let text = "# Title\n\nFirst paragraph with **bold** text and `code`.\n\n- item one\n- item two\n\n1. first\n\n2. loose second\n\n```rust\nfn main() {\n\n    println!(\"hi\");\n}\n```\n\n> quote\n>\n> more quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nLast paragraph 你好 世界 that keeps going and going.";
    let theme = Theme::default();
    let offset = FixedOffset::east_opt(0).unwrap();
    let mut cache = None;
    let mut m = Message::new(1, Speaker::Assistant, "");
    m.status = Status::Partial;
    m.choices = vec![Choice::default()];
    for (i, c) in text.char_indices() {
        m.choices[0].text = text[..i + c.len_utf8()].to_string();
        for width in [17u16, 40, 80] {
            // Numbered after 3 blocks above: the labels match too.
            let inc = streaming_lines(&m, width, &theme, offset, &mut cache, 3);
            let full = message_lines(&m, width, &theme, offset, 3);
            assert_eq!(inc, full, "after {:?}", &m.choices[0].text);
        }
    }
    assert!(stable_split(text) > 0);
}

#[test]
fn splits_only_outside_fences() {
    assert_eq!(stable_split("a\n\nb"), 3);
    assert_eq!(stable_split("a\n\n```\nx\n\ny"), 3);
    assert_eq!(stable_split("no blank line"), 0);
    assert_eq!(stable_split("a\n\n"), 0);
}
