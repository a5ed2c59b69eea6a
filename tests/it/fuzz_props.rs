//! Short property runs over the four fuzzed entry points (see fuzz/ and scripts/fuzz), for
//! CI: a few hundred cases each, well under five seconds together. Crash inputs the fuzzer
//! found are pinned in `regressions()` tests at the bottom.

use std::path::{Path, PathBuf};

use chat_tui::api::sse::{SseEvent, SseParser};
use chat_tui::config::{self, Env, Overrides};
use chat_tui::store::format;
use chat_tui::ui::markdown;
use chat_tui::ui::theme::Theme;
use proptest::prelude::*;

fn sse(input: &[u8], sizes: &[usize]) -> Vec<SseEvent> {
    let mut p = SseParser::with_max_line(1 << 20);
    let mut out = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = if sizes.is_empty() {
            rest.len()
        } else {
            sizes[i % sizes.len()].clamp(1, rest.len())
        };
        p.feed(&rest[..n], &mut out).unwrap();
        rest = &rest[n..];
        i += 1;
    }
    p.finish(&mut out);
    out
}

/// Bytes that look like an event stream: field names, separators, line ends, UTF-8.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event: error".to_vec()),
        Just(b"id: 1".to_vec()),
        Just(b": c".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just("你🌊".as_bytes().to_vec()),
        Just(b"{\"choices\":[]}".to_vec()),
        Just(b"[DONE]".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn check_markdown(text: &str, width: u16) {
    let lines = markdown::render(text, width, &Theme::default());
    for l in &lines {
        assert!(
            l.width() <= width as usize,
            "{:?} is wider than {width}",
            l.to_string()
        );
        for s in &l.spans {
            assert!(
                !s.content.chars().any(char::is_control),
                "control in {:?}",
                s.content
            );
        }
    }
}

fn check_config(text: &str) {
    let path = Path::new("/props/config.toml");
    match config::parse_file(path, text) {
        Ok(file) => {
            let _ = config::merge(
                Some(PathBuf::from(path)),
                file,
                &Env::default(),
                &Overrides::default(),
                Vec::new(),
            );
        }
        Err(e) => assert!(e.0.starts_with("/props/config.toml"), "{}", e.0),
    }
}

fn check_transcript(bytes: &[u8]) {
    if let Ok(conv) = format::parse(bytes) {
        let out = format::to_json(&conv);
        let again = format::parse(&out).expect("what we write parses");
        assert_eq!(format::to_json(&again), out);
    }
}

/// A valid transcript to mutate.
fn sample_transcript() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/transcript/chat.json"
    ))
    .unwrap()
}

/// Markdown built from the pieces that make or break code blocks: fences, indentation,
/// tabs, list and quote markers, line ends.
fn code_markdown() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("```"),
        Just("~~~"),
        Just("````"),
        Just("`"),
        Just("    "),
        Just("  "),
        Just("\t"),
        Just("\n"),
        Just("\n\n"),
        Just("\r\n"),
        Just("- "),
        Just("1. "),
        Just("> "),
        Just("rust"),
        Just("code"),
        Just("| a |"),
        Just("<div>"),
        Just("\u{1b}"),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// `/copy N` finds block N where the screen draws the label `[N]`: the finder counts what
    /// the renderer draws, at any width.
    #[test]
    fn code_blocks_found_are_the_code_blocks_drawn(md in code_markdown(), width in 4u16..60) {
        let r = markdown::render_full(&md, width, &Theme::default(), 0);
        let labels = r.meta.iter().filter(|m| m.deco).count();
        prop_assert_eq!(r.code_blocks, labels);
        prop_assert_eq!(chat_tui::text::code_blocks::count(&md), labels);
        prop_assert_eq!(chat_tui::text::code_blocks::code_blocks(&md).len(), labels);
        prop_assert_eq!(r.meta.len(), r.lines.len());
    }

    #[test]
    fn sse_any_chunking_gives_the_same_events(
        input in sse_bytes(),
        sizes in proptest::collection::vec(1usize..12, 1..5),
    ) {
        prop_assert_eq!(sse(&input, &sizes), sse(&input, &[]));
        prop_assert_eq!(sse(&input, &[1]), sse(&input, &[]));
    }

    #[test]
    fn sse_arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        sse(&input, &[3]);
    }

    #[test]
    fn transcript_arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_transcript(&input);
    }

    #[test]
    fn transcript_mutations_parse_or_fail_cleanly(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = sample_transcript();
        for (at, b, op) in edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match op {
                0 if i < bytes.len() => bytes[i] = b,
                1 => bytes.insert(i, b),
                _ => bytes.truncate(i),
            }
        }
        check_transcript(&bytes);
    }

    #[test]
    fn config_arbitrary_text_never_panics(text in "(\\PC|\n){0,80}") {
        check_config(&text);
    }

    #[test]
    fn config_toml_shaped_text_never_panics(
        lines in proptest::collection::vec(
            (
                prop::sample::select(vec![
                    "model", "base_url", "api_key", "retries", "max_reply_bytes",
                    "context_window", "mode", "memory", "stream", "[params]",
                    "[timeouts]", "[profiles.x]", "[keys]", "[extra]", "temperature",
                    "n", "stop", "connect", "idle", "\"ctrl-s\"", "profile",
                ]),
                prop::sample::select(vec![
                    "\"x\"", "1", "-1", "1e400", "nan", "inf", "-0.0", "18446744073709551616",
                    "true", "[]", "[\"a\"]", "{}", "\"chat\"", "\"summarize\"", "0.5", "2.5",
                    "\"http://[::1]:0/v1\"", "\"\"", "4294967296",
                ]),
            ),
            0..8,
        )
    ) {
        let text: String = lines
            .iter()
            .map(|(k, v)| if k.starts_with('[') { format!("{k}\n") } else { format!("{k} = {v}\n") })
            .collect();
        check_config(&text);
    }

    #[test]
    fn markdown_arbitrary_text_fits_and_has_no_controls(
        text in "(\\PC|[\n\t\r\u{1b}\u{9b}\u{202e}\u{200b}]){0,120}",
        width in 0u16..100,
    ) {
        check_markdown(&text, width);
    }

    #[test]
    fn markdown_shaped_text_fits(
        parts in proptest::collection::vec(
            prop::sample::select(vec![
                "# ", "> ", "- ", "1. ", "* ", "```", "```rust", "`", "**", "_", "~~", "|", "|---|",
                "[", "](http://x)", "<b>", "\n", "\n\n", "    ", "- [ ] ", "---", "界", "e\u{301}",
                "word", "averyveryverylongwordwithoutspaces", "\t", "\\", "![i](u)",
            ]),
            0..40,
        ),
        width in 1u16..40,
    ) {
        check_markdown(&parts.concat(), width);
    }
}

/// Inputs the fuzzer (or the fault tests) found, kept as regressions.
#[test]
fn regressions() {
    // markdown: a code block at width 2 was 3 cells wide (the gutter).
    check_markdown("```\naaaa\n```", 2);
    // markdown (proptest): a wide character at width 1 made a 2-cell line.
    check_markdown("界", 1);
    check_markdown("```\n𚿵\u{acd}\n```", 1);
}
