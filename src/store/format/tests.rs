use super::*;
use crate::api::types::FinishReason;
use proptest::prelude::*;
use serde_json::json;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        any::<String>(),
        "[\\p{Han}]{0,12}",
        "[😀👍🏽🇨🇭 \n\t]{0,8}",
        prop::sample::select(vec![
            "海洋污染對哪個地區影響最大",
            "\u{1b}[31mred\u{1b}[0m",
            "a\"b\\c\n\t\r\u{0}\u{7f}\u{9b}",
            "\u{feff}bom",
            "line\r\nbreak",
        ])
        .prop_map(String::from),
    ]
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap_or_default())
}

fn small_f64(lo: i32, hi: i32) -> impl Strategy<Value = f64> {
    (lo..=hi).prop_map(|k| f64::from(k) / 100.0)
}

fn params() -> impl Strategy<Value = Params> {
    (
        prop::option::of(small_f64(0, 200)),
        prop::option::of(small_f64(0, 100)),
        prop::option::of(1u32..5000),
        prop::option::of(1u32..8),
        prop::collection::vec(text(), 0..3),
        prop::option::of(small_f64(-200, 200)),
        prop::option::of(text()),
        prop::option::of(any::<i64>()),
        prop::collection::btree_map(
            "[a-z_]{1,8}",
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                text().prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
            ],
            0..3,
        ),
    )
        .prop_map(|(t, p, mt, n, stop, pp, suffix, seed, extra)| Params {
            temperature: t,
            top_p: p,
            max_tokens: mt,
            n,
            stop,
            presence_penalty: pp,
            frequency_penalty: pp.map(|x| -x),
            suffix,
            best_of: n.map(|n| n + 1),
            seed,
            logprobs: seed.map(|s| (s.unsigned_abs() % 21) as u32),
            extra,
        })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Complete),
        Just(Status::Partial),
        Just(Status::Cancelled),
        text().prop_map(|error| Status::Failed { error }),
        Just(Status::Incomplete),
    ]
}

fn finish() -> impl Strategy<Value = Option<FinishReason>> {
    prop::option::of(prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ContentFilter),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::FunctionCall),
        Just(FinishReason::Other("recitation".into())),
    ])
}

fn message() -> impl Strategy<Value = Message> {
    let speaker = prop_oneof![
        Just(Speaker::System),
        Just(Speaker::User),
        Just(Speaker::Assistant),
        Just(Speaker::Summary),
    ];
    let reasoning = prop::option::of((text(), prop::option::of(any::<u64>()))).prop_map(|r| {
        r.map(|(text, millis)| crate::chat::conversation::Reasoning {
            text,
            millis,
            open: false,
        })
    });
    let logprobs = prop::option::of(prop::collection::vec(
        (
            prop::collection::vec(any::<u8>(), 0..6),
            -50.0f32..=0.0,
            prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..4), -50.0f32..=0.0),
                0..4,
            ),
        ),
        0..6,
    ))
    .prop_map(|l| {
        l.map(|tokens| {
            let mut out = crate::api::logprobs::Logprobs::new();
            for (bytes, logprob, top) in tokens {
                out.push(&crate::api::logprobs::TokenLogprob {
                    bytes,
                    logprob,
                    top: top
                        .into_iter()
                        .map(|(bytes, logprob)| crate::api::logprobs::Alternative {
                            bytes,
                            logprob,
                        })
                        .collect(),
                });
            }
            out
        })
    });
    let choices = prop::collection::vec(
        (text(), finish(), reasoning, logprobs).prop_map(
            |(text, finish_reason, reasoning, logprobs)| Choice {
                text,
                finish_reason,
                reasoning,
                logprobs,
            },
        ),
        0..6,
    );
    (
        (speaker, text(), time(), prop::option::of(time()), choices),
        (any::<prop::sample::Index>(), status()),
        (
            prop::option::of((0u64..1 << 40, 0u64..1 << 40, 0u64..1 << 41)),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u64>()),
            prop::option::of(params()),
            prop::option::of(text()),
            prop::collection::vec(any::<u64>(), 0..4),
            prop::option::of(text()),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (speaker, content, created, finished, choices),
                (sel, status),
                (usage, lt, rt, params, model, summary_of, suffix, version),
            )| Message {
                id: 0,
                parent: None,
                speaker,
                content,
                created,
                finished,
                selected: if choices.is_empty() {
                    0
                } else {
                    sel.index(choices.len())
                },
                choices,
                status,
                usage: usage.map(|(p, c, t)| Usage {
                    prompt_tokens: p,
                    completion_tokens: c,
                    total_tokens: t,
                    reasoning_tokens: (c % 3 == 0).then_some(c / 2),
                    cached_tokens: (p % 2 == 0).then_some(p / 3),
                }),
                local_tokens: lt,
                request_tokens: rt,
                params,
                target: model.as_ref().map(|m| format!("p-{}:m", m.len())),
                model,
                summary_of,
                suffix,
                exchange: None,
                version,
                fork: Default::default(),
            },
        )
}

fn conversation() -> impl Strategy<Value = Conversation> {
    let memory = prop_oneof![
        Just(Memory::None),
        (1usize..50).prop_map(Memory::Last),
        Just(Memory::Full),
        Just(Memory::Summarize),
    ];
    let mode = prop_oneof![Just(Mode::Chat), Just(Mode::Completion)];
    (
        ("[0-9a-f]{32}", text(), time(), time(), mode, text(), memory),
        (
            prop::option::of(text()),
            params(),
            prop::option::of(text()),
            prop::collection::vec((message(), any::<prop::sample::Index>()), 0..8),
            0u64..5,
            any::<prop::sample::Index>(),
        ),
    )
        .prop_map(
            |(
                (id, title, created, updated, mode, model, memory),
                (system, params, endpoint, messages, gap, open),
            )| {
                // A tree: each message follows none or any earlier one.
                let mut all = Vec::new();
                for (i, (mut m, parent)) in messages.into_iter().enumerate() {
                    m.id = (i as u64 + 1) * 3;
                    m.parent = parent
                        .index(i + 1)
                        .checked_sub(1)
                        .map(|p| (p as u64 + 1) * 3);
                    all.push(m);
                }
                let next_id = all.len() as u64 * 3 + 1 + gap;
                let mut c = Conversation {
                    id,
                    title,
                    created,
                    updated,
                    mode,
                    model,
                    memory,
                    system,
                    params,
                    endpoint,
                    messages: Vec::new(),
                    others: all,
                    next_id,
                    problems: Vec::new(),
                };
                // The current path: through any message.
                if !c.others.is_empty() {
                    let at = c.others[open.index(c.others.len())].id;
                    c.open(at);
                }
                c.relabel();
                c
            },
        )
}

fn unversioned(mut c: Conversation) -> Conversation {
    for m in c.messages.iter_mut().chain(c.others.iter_mut()) {
        m.version = 0;
    }
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn round_trips(c in conversation()) {
        prop_assert_eq!(c.check(), Ok(()));
        let bytes = to_json(&c);
        let back = parse(&bytes).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(unversioned(back), unversioned(c.clone()));
        // Stable output: writing the parsed conversation gives the same bytes.
        prop_assert_eq!(to_json(&parse(&bytes).unwrap_or_else(|_| c.clone())), bytes);
    }

    #[test]
    fn one_pass_and_two_passes_read_the_same(c in conversation()) {
        // As written (header first): read in one pass.
        let bytes = to_json(&c);
        let text = std::str::from_utf8(&bytes).unwrap();
        prop_assert!(parse_in_one_pass(text).is_some());
        // The conversation before the header (serde_json's Value sorts the keys): two passes.
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let reordered = serde_json::to_string(&v).unwrap();
        let first = reordered.starts_with("{\"conversation\"");
        prop_assert!(first, "{}", &reordered[..reordered.len().min(40)]);
        prop_assert!(parse_in_one_pass(&reordered).is_none());
        prop_assert_eq!(parse(&bytes).unwrap(), parse(reordered.as_bytes()).unwrap());
    }
}

#[test]
fn the_one_pass_read_leaves_odd_documents_to_the_two_passes() {
    let conv = String::from_utf8(to_json(&sample())).unwrap();
    let body = &conv[conv.find("\"conversation\"").unwrap()..conv.rfind('}').unwrap()];
    for (doc, why) in [
        (
            format!("{{\"format\": \"chat-tui-transcript\", \"version\": 3, {body}}}"),
            "too new",
        ),
        (
            format!("{{\"format\": \"other\", \"version\": 2, {body}}}"),
            "another format",
        ),
        (
            format!("{{\"version\": 2, \"version\": 2, {body}}}"),
            "a repeated key",
        ),
        (format!("{{\"version\": 0, {body}}}"), "version 0"),
        (format!("{{\"version\": 2, {body}}} x"), "trailing text"),
        (format!("{{{body}, \"version\": 2}}"), "the version after"),
    ] {
        assert!(parse_in_one_pass(&doc).is_none(), "{why}");
    }
    // What the two passes say about them is unchanged (the other tests check the words).
    let dup = format!("{{\"version\": 2, \"version\": 2, {body}}}");
    assert!(parse(dup.as_bytes()).is_err());
    let ok = format!("{{\"version\": 2, {body}}}");
    assert!(parse_in_one_pass(&ok).is_some());
    assert_eq!(
        parse(ok.as_bytes()).unwrap(),
        parse(conv.as_bytes()).unwrap()
    );
}

fn sample() -> Conversation {
    let mut c = Conversation::new("gpt-x", Mode::Chat, Memory::Last(4));
    c.push(Speaker::User, "hello 世界");
    let p = Params {
        n: Some(2),
        temperature: Some(0.7),
        ..Params::default()
    };
    let r = c.push_reply(&p, "gpt-x");
    let m = c.get_mut(r).unwrap();
    m.choice_mut(0).text = "one".into();
    m.choice_mut(1).text = "two".into();
    m.selected = 1;
    c
}

#[test]
fn a_large_conversation_round_trips() {
    let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
    let chunk = "Lorem ipsum 海洋污染 😀 \"quoted\" \\ line\n".repeat(250);
    while to_json(&c).len() < 20 << 20 {
        for _ in 0..100 {
            c.push(Speaker::User, chunk.clone());
            let r = c.push_reply(&Params::default(), "m");
            let m = c.get_mut(r).unwrap();
            m.choice_mut(0).text = chunk.clone();
            m.status = Status::Complete;
        }
    }
    let bytes = to_json(&c);
    assert!(bytes.len() >= 20 << 20);
    assert_eq!(unversioned(parse(&bytes).unwrap()), unversioned(c));
}

#[test]
fn the_document_has_a_header_and_no_key() {
    let v: Value = serde_json::from_slice(&to_json(&sample())).unwrap();
    assert_eq!(v["format"], "chat-tui-transcript");
    assert_eq!(v["version"], 2);
    assert_eq!(v["conversation"]["memory"], "last 4");
    assert!(v["conversation"].get("key").is_none());
    assert!(v["conversation"].get("api_key").is_none());
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["conversation", "format", "version"]); // serde_json::Map sorts
    let raw = String::from_utf8(to_json(&sample())).unwrap();
    assert!(raw.find("\"format\"").unwrap() < raw.find("\"version\"").unwrap());
    assert!(raw.find("\"version\"").unwrap() < raw.find("\"conversation\"").unwrap());
}

#[test]
fn a_newer_version_is_refused_clearly() {
    let doc =
        br#"{"format": "chat-tui-transcript", "version": 7, "conversation": {"shape": "new"}}"#;
    let e = parse(doc).unwrap_err();
    assert_eq!(
        e,
        FormatError::TooNew {
            found: 7,
            supported: 2
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains("version 7") && msg.contains("newer chat-tui"),
        "{msg}"
    );
}

#[test]
fn syntax_errors_name_the_position() {
    let e =
        parse(b"{\"format\": \"chat-tui-transcript\",\n  \"version\": 2,\n  oops}").unwrap_err();
    match &e {
        FormatError::Syntax { line, column, .. } => assert_eq!((*line, *column), (3, 3)),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("line 3, column 3"), "{e}");
}

#[test]
fn truncated_files_say_so() {
    let bytes = to_json(&sample());
    let cut = &bytes[..bytes.len() / 2];
    let e = parse(cut).unwrap_err();
    match &e {
        FormatError::Truncated { line, .. } => assert!(*line > 3),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("cut off"), "{e}");
}

#[test]
fn empty_and_non_utf8_files() {
    assert_eq!(parse(b"").unwrap_err(), FormatError::Empty);
    assert_eq!(parse(b" \n\t ").unwrap_err(), FormatError::Empty);
    let e = parse(b"{\"version\": 1,\n \"x\": \"ab\xff\"}").unwrap_err();
    assert_eq!(
        e,
        FormatError::NotUtf8 {
            line: 2,
            column: 10,
            offset: 24
        }
    );
    assert!(e.to_string().contains("UTF-8"));
}

#[test]
fn wrong_shapes_name_the_position() {
    let mut v: Value = serde_json::from_slice(&to_json(&sample())).unwrap();
    v["conversation"].as_object_mut().unwrap().remove("model");
    let bytes = serde_json::to_vec_pretty(&v).unwrap();
    let e = parse(&bytes).unwrap_err();
    assert!(matches!(e, FormatError::Invalid { .. }), "{e:?}");
    assert!(
        e.to_string().contains("model") && e.to_string().contains("line "),
        "{e}"
    );

    let e = parse(br#"{"format": "something-else", "version": 1}"#).unwrap_err();
    assert!(matches!(e, FormatError::NotTranscript(_)), "{e:?}");
    let e = parse(br#"{"hello": "world"}"#).unwrap_err();
    assert!(e.to_string().contains("no `version`"), "{e}");
    let e = parse(br#"{"version": 0, "conversation": {}}"#).unwrap_err();
    assert!(matches!(e, FormatError::NotTranscript(_)), "{e:?}");
    let e = parse(b"42").unwrap_err();
    assert!(matches!(e, FormatError::NotTranscript(_)), "{e:?}");
}

#[test]
fn unknown_fields_are_ignored_everywhere() {
    let c = sample();
    let mut v: Value = serde_json::from_slice(&to_json(&c)).unwrap();
    v["future"] = json!({"x": 1});
    v["conversation"]["folder"] = json!("work");
    v["conversation"]["params"]["top_k_v2"] = json!(5);
    v["conversation"]["params"]["temperature"] = json!(0.25);
    v["conversation"]["params"]["max_tokens"] = json!("lots"); // wrong type: dropped
    let msgs = v["conversation"]["messages"].as_array_mut().unwrap();
    msgs[0]["attachments"] = json!([]);
    msgs[1]["params"]["reasoning_effort_v2"] = json!("high");
    msgs[1]["choices"][0]["logprobs"] = json!(null);
    msgs[1]["usage"] = json!({"prompt_tokens": 1, "audio_tokens": 9});
    let back = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    let mut want = unversioned(c);
    want.params.temperature = Some(0.25);
    want.messages[1].usage = Some(Usage {
        prompt_tokens: 1,
        ..Usage::default()
    });
    assert_eq!(unversioned(back), want);
}

#[test]
fn hand_edits_are_repaired() {
    let mut v: Value = serde_json::from_slice(&to_json(&sample())).unwrap();
    let conv = &mut v["conversation"];
    conv["next_id"] = json!(0);
    conv["messages"][1]["selected"] = json!(9);
    let dup = conv["messages"][0].clone();
    conv["messages"].as_array_mut().unwrap().push(dup);
    let c = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(c.messages[1].selected, 0);
    let ids: Vec<u64> = c.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, [1, 2]);
    // The copy gets a fresh id; it starts a branch of its own (it names no parent).
    assert_eq!(c.others.len(), 1);
    assert_eq!(c.others[0].id, 3);
    assert_eq!(c.next_id, 4);
    assert_eq!(c.others[0].content, "hello 世界");
    assert_eq!(c.check(), Ok(()));
    assert_eq!(c.messages[0].fork_label().as_deref(), Some("branch 1/2"));
}

#[test]
fn a_partial_reply_stays_partial() {
    let mut c = sample();
    c.messages[1].status = Status::Partial;
    let back = parse(&to_json(&c)).unwrap();
    assert_eq!(back.messages[1].status, Status::Partial);
    assert_eq!(back.messages[1].status.label(), "partial");
}

#[test]
fn openai_messages_arrays_open_as_conversations() {
    let doc = r#"[
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "Rust?"}]},
        {"role": "assistant", "content": "A language.", "refusal": null},
        {"role": "user", "content": "海洋"}
    ]"#;
    let c = parse(doc.as_bytes()).unwrap();
    assert_eq!(c.messages.len(), 4);
    assert_eq!(c.messages[0].speaker, Speaker::System);
    assert_eq!(c.messages[0].content, "You are terse.");
    assert_eq!(c.messages[1].content, "What is Rust?");
    assert_eq!(c.title, "What is Rust?");
    let a = &c.messages[2];
    assert_eq!(a.speaker, Speaker::Assistant);
    assert_eq!(a.choices.len(), 1);
    assert_eq!(a.text(), "A language.");
    assert_eq!(a.status, Status::Complete);
    assert_eq!(c.messages[3].content, "海洋");
    assert_eq!(c.next_id, 5);
    assert!(crate::store::is_safe_id(&c.id));

    let e = parse(br#"[{"role": "tool", "content": "x"}]"#).unwrap_err();
    assert!(e.to_string().contains("element 0"), "{e}");
    let e = parse(br#"[{"content": "x"}]"#).unwrap_err();
    assert!(matches!(e, FormatError::Import { index: 0, .. }), "{e:?}");
    let e = parse(b"[{\"role\": \"user\",\n \"content\": \"x\"").unwrap_err();
    assert!(matches!(e, FormatError::Truncated { line: 2, .. }), "{e:?}");
}

/// The example in docs/transcript-format.md is exactly what `to_json` writes.
fn doc_example() -> Conversation {
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let mut c = Conversation::new("gpt-4o-mini", Mode::Chat, Memory::Last(4));
    c.id = "0193f0c2a1b27c3e9d4f5a6b7c8d9e0f".into();
    c.system = Some("You are a concise assistant.".into());
    c.endpoint = Some("openai".into());
    c.params.temperature = Some(0.7);
    c.params.n = Some(2);
    let u = c.push(
        Speaker::User,
        "Which region suffers most from ocean pollution?",
    );
    let mut p = c.params.clone();
    p.n = Some(2);
    let r = c.push_reply(&p, "gpt-4o-mini-2024-07-18");
    {
        let m = c.get_mut(r).unwrap();
        m.choices = vec![
            Choice {
                text: "Southeast Asia's coasts.".into(),
                finish_reason: Some(FinishReason::Stop),
                ..Choice::default()
            },
            Choice {
                text: "The North Pacific gyre.".into(),
                finish_reason: Some(FinishReason::Length),
                ..Choice::default()
            },
        ];
        m.selected = 1;
        m.status = Status::Complete;
        m.created = t("2025-03-01T09:15:03.120Z");
        m.finished = Some(t("2025-03-01T09:15:04.981Z"));
        m.usage = Some(Usage {
            prompt_tokens: 31,
            completion_tokens: 12,
            total_tokens: 43,
            ..Usage::default()
        });
        m.local_tokens = Some(6);
        m.request_tokens = Some(30);
    }
    c.insert_summary(
        "The user asked where ocean pollution is worst.".into(),
        vec![u, r],
    );
    let r2 = c.push_reply(&Params::default(), "gpt-4o-mini");
    {
        let m = c.get_mut(r2).unwrap();
        m.choice_mut(0).text = "It depends on".into();
        m.created = t("2025-03-01T09:16:00Z");
    }
    c.messages[0].created = t("2025-03-01T09:15:02.500Z");
    c.messages[2].created = t("2025-03-01T09:15:30Z");
    c.created = t("2025-03-01T09:15:02.500Z");
    // A second version of the first reply (/retry --model llama3 on another profile),
    // then back to the first: the second is kept off the current path.
    let path = c.path_ids();
    c.open_at(Some(u));
    let v2 = c.push_reply(&Params::default(), "llama3");
    {
        let m = c.get_mut(v2).unwrap();
        m.choice_mut(0).text = "The Mediterranean, for plastics.".into();
        m.choices[0].finish_reason = Some(FinishReason::Stop);
        m.status = Status::Complete;
        m.target = Some("ollama:llama3".into());
        m.created = t("2025-03-01T09:16:40Z");
        m.finished = Some(t("2025-03-01T09:17:00Z"));
    }
    assert!(c.open_path(&path));
    c.updated = t("2025-03-01T09:17:00Z");
    c
}

/// The version 1 example, as the documentation showed it before version 2.
const V1_EXAMPLE: &str = include_str!("../../../tests/fixtures/transcript-v1.json");

#[test]
fn a_version_1_file_opens_as_one_path_and_is_written_as_version_2() {
    let c = parse(V1_EXAMPLE.as_bytes()).unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert!(c.others.is_empty());
    assert_eq!(c.check(), Ok(()));
    let ids: Vec<_> = c.messages.iter().map(|m| (m.id, m.parent)).collect();
    assert_eq!(ids, [(1, None), (2, Some(1)), (3, Some(2)), (4, Some(3))]);
    // The same messages as the version 2 example's current path.
    let mut want = unversioned(doc_example());
    want.others.clear();
    want.relabel();
    want.updated = c.updated;
    want.next_id = c.next_id;
    assert_eq!(unversioned(c.clone()), unversioned(want));
    // Written back: version 2, every message naming its parent; read again, the same.
    let out = to_json(&c);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["conversation"]["messages"][3]["parent"], 3);
    assert!(v["conversation"]["messages"][0].get("parent").is_none());
    assert_eq!(unversioned(parse(&out).unwrap()), unversioned(c));
}

#[test]
fn parents_that_point_nowhere_or_in_a_cycle_are_cut_and_reported() {
    let mut v: Value = serde_json::from_slice(&to_json(&doc_example())).unwrap();
    let conv = &mut v["conversation"];
    // The version off the path names a parent that does not exist.
    conv["others"][0]["parent"] = json!(42);
    let c = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(c.check(), Ok(()));
    assert_eq!(c.messages.len() + c.others.len(), 5, "nothing is dropped");
    assert_eq!(c.messages.len(), 4, "the path opens whole");
    assert_eq!(c.others[0].parent, None, "a branch of its own");
    assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
    assert!(
        c.problems[0].contains("message 5") && c.problems[0].contains("42"),
        "{:?}",
        c.problems
    );

    // A cycle on the path: 2 → 4 → 3 → 2. The path opens as far as it is a chain.
    let mut v: Value = serde_json::from_slice(&to_json(&doc_example())).unwrap();
    v["conversation"]["messages"][1]["parent"] = json!(4);
    let c = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(c.check(), Ok(()));
    assert_eq!(c.messages.len() + c.others.len(), 5, "nothing is dropped");
    let path: Vec<_> = c.messages.iter().map(|m| m.id).collect();
    assert_eq!(path, [1], "opened up to where the path breaks");
    assert!(
        c.problems.iter().any(|p| p.contains("cycle")),
        "{:?}",
        c.problems
    );
    assert!(
        c.problems
            .iter()
            .any(|p| p.contains("path breaks at message 2")),
        "{:?}",
        c.problems
    );
    // Stable: what is written reads back the same, with nothing left to report.
    let again = parse(&to_json(&c)).unwrap();
    assert!(again.problems.is_empty());
    assert_eq!(
        unversioned(again),
        unversioned(Conversation {
            problems: Vec::new(),
            ..c
        })
    );
}

#[test]
fn a_path_that_does_not_start_at_a_root_opens_the_newest_branch() {
    let mut v: Value = serde_json::from_slice(&to_json(&doc_example())).unwrap();
    // The path's first message claims to follow the version off the path.
    v["conversation"]["messages"][0]["parent"] = json!(5);
    v["conversation"]["others"][0]["parent"] = json!(null);
    let c = parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(c.check(), Ok(()));
    assert_eq!(c.messages.len() + c.others.len(), 5);
    assert_eq!(c.messages[0].id, 5);
    assert!(!c.messages.is_empty());
    assert!(c.problems[0].contains("does not start"), "{:?}", c.problems);
}

#[test]
fn the_documented_example_is_current() {
    let json = String::from_utf8(to_json(&doc_example())).unwrap();
    if std::env::var_os("PRINT_DOC_EXAMPLE").is_some() {
        println!("{json}");
    }
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/transcript-format.md"
    ))
    .unwrap();
    assert!(
        doc.contains(&json),
        "update the example in docs/transcript-format.md"
    );
    assert_eq!(
        unversioned(parse(json.as_bytes()).unwrap()),
        unversioned(doc_example())
    );
    // The current path and the version kept beside it.
    let c = doc_example();
    assert_eq!(c.check(), Ok(()));
    assert_eq!(c.messages[1].fork_label().as_deref(), Some("version 1/2"));
    assert_eq!(c.others[0].fork_label().as_deref(), Some("version 2/2"));
}

#[test]
fn the_code_near_the_end_is_found_in_the_json_text() {
    let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
    c.push(Speaker::User, "old question");
    let id = c.push_reply(&Params::default(), "m");
    c.get_mut(id).unwrap().choice_mut(0).text =
        "```c\nint old;\n```\n".to_string() + &"filler ".repeat(20_000);
    c.push(Speaker::User, "q");
    let id = c.push_reply(&Params::default(), "m");
    c.get_mut(id).unwrap().choice_mut(0).text = "Here:\n\n```rust\nfn main() {\n\tprintln!(\"a \\\\ b\");\n}\n```\n\n```\nno language\n```\n\n```python\nprint('é')\n```\n```rust\nlet x = 1;\n```\n```rust\nthird rust block\n```".into();
    let json = to_json(&c);
    let found = code_near_end(&json, 64 << 10);
    assert_eq!(
        found,
        [
            (
                "rust".to_string(),
                "fn main() {\n\tprintln!(\"a \\\\ b\");\n}\n".to_string()
            ),
            ("python".into(), "print('é')\n".into()),
            ("rust".into(), "let x = 1;\n".into()),
        ]
    );
    // Only the end is looked at: the C block is 140 KB before it.
    assert!(found.iter().all(|(l, _)| l != "c"));
    assert!(code_near_end(&json, 1 << 30).iter().any(|(l, _)| l == "c"));
    assert!(code_near_end(b"", 100).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn code_near_end_takes_any_bytes(
        bytes in proptest::collection::vec(
            prop::sample::select(vec![b'`', b'\\', b'n', b'"', b'r', b'u', b'\n', 0xe4, 0xb8, b'x']),
            0..200,
        ),
        window in 0usize..300,
    ) {
        for (lang, code) in code_near_end(&bytes, window) {
            prop_assert!(!lang.is_empty() && code.ends_with('\n'));
        }
    }
}
