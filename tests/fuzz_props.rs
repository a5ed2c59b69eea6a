//! Short property runs over the fuzz targets' entry points (fuzz/fuzz_targets/*), so CI
//! exercises them on every change: arbitrary input never panics, and the invariants hold.

use std::path::Path;

use chat_tui::api::sse::SseParser;
use chat_tui::config::{self, Env, Overrides};
use chat_tui::ui::markdown;
use chat_tui::ui::theme::Theme;
use proptest::prelude::*;
use unicode_width::UnicodeWidthStr;

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

/// Bytes that look a little like SSE, so the parser's branches are reached.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b"data: ".to_vec()),
            Just(b"event: x\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b": c\n".to_vec()),
            Just("你好".as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..6),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn sse_chunking_never_changes_the_events(input in sse_bytes(), sizes in proptest::collection::vec(1usize..13, 1..5)) {
        let run = |sizes: &[usize]| {
            let mut p = SseParser::new();
            let mut out = Vec::new();
            let mut rest = &input[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                p.feed(&rest[..n], &mut out).unwrap();
                rest = &rest[n..];
                i += 1;
            }
            p.finish(&mut out);
            out
        };
        prop_assert_eq!(run(&sizes), run(&[usize::MAX]));
    }

    #[test]
    fn transcripts_read_or_refuse_and_round_trip(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "[{\"role\":\"(user|assistant|system)\",\"content\":\"[a-z 你]{0,10}\"}(,{\"role\":\"user\",\"content\":\"x\"}){0,3}]".prop_map(String::into_bytes),
        "\\{\"format\":\"chat-tui-transcript\",\"version\":[0-9]{1,3}(,\"conversation\":\\{\\})?\\}".prop_map(String::into_bytes),
    ]) {
        if let Ok(conv) = chat_tui::store::parse(&bytes) {
            let again = chat_tui::store::parse(&chat_tui::store::to_json(&conv)).unwrap();
            prop_assert_eq!(again.messages.len(), conv.messages.len());
            let md = chat_tui::store::to_markdown(&conv);
            prop_assert!(!md.contains(char::from(0x1b)), "ESC in the Markdown export");
        }
    }

    #[test]
    fn configs_parse_or_name_the_file(text in prop_oneof![
        ".{0,80}",
        "(model|base_url|mode|memory|temperature|profile) = (\"[a-z:/.0-9]{0,12}\"|[0-9.]{1,4}|true)\n(\\[params\\]\ntemperature = [0-9.]{1,3}\n)?",
    ]) {
        let path = Path::new("prop.toml");
        match config::parse_file(path, &text) {
            Ok(file) => {
                if file.api_key_cmd.is_none() {
                    let _ = config::merge(Some(path.into()), file, &Env::default(), &Overrides::default(), Vec::new());
                }
            }
            Err(e) => prop_assert!(e.0.starts_with("prop.toml"), "{}", e),
        }
    }

    #[test]
    fn markdown_fits_its_width_and_carries_no_controls(text in prop_oneof![
        ".{0,200}",
        "((#|>|-|1\\.|\\|) ?[a-z你好🌊`*_]{0,12}\n{0,2}){0,12}",
        "```[a-z]{0,4}\n[a-z \t(){};]{0,40}\n(```)?",
    ], width in 1u16..90) {
        for line in markdown::render(&text, width, &Theme::default()) {
            let w: usize = line.spans.iter().map(|s| s.content.width()).sum();
            prop_assert!(w <= usize::from(width), "{} cells at width {}: {:?}", w, width, line);
            for s in &line.spans {
                prop_assert!(!s.content.chars().any(char::is_control), "{:?}", s.content);
            }
        }
    }
}

/// Found by the property above: a code block's gutter is wider than a 1-cell width.
#[test]
fn regression_code_gutter_at_width_one() {
    for width in 1..4u16 {
        for line in markdown::render("\ta", width, &Theme::default()) {
            let w: usize = line.spans.iter().map(|s| s.content.width()).sum();
            assert!(w <= usize::from(width), "{w} > {width}: {line:?}");
        }
    }
}
