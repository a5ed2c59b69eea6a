//! The API client against a real HTTP server on 127.0.0.1 (tests/support/fake_server.rs).

use crate::support;

use std::time::Duration;

use chat_tui::api::client::{ApiKey, Client, ClientConfig, Timeouts};
use chat_tui::api::error::{ApiError, TimeoutKind};
use chat_tui::api::logprobs::{Logprobs, TokenLogprob};
use chat_tui::api::types::{
    Adaptation, FinishReason, Params, Prompt, Request, Role, Shape, StreamEvent, Usage, WireMessage,
};
use serde_json::json;
use support::fake_server::{
    FakeServer, LogprobStyle, Reply, SseStep, Unsupported, chat_chunk, fake_logprob, sse_event,
    usage_chunk,
};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";

fn client(server: &FakeServer) -> Client {
    client_with(server, |_| {})
}

fn client_with(server: &FakeServer, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = ClientConfig {
        base_url: server.url(),
        api_key: None,
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_secs(5),
            idle: Duration::from_secs(5),
        },
        retries: 2,
        backoff: Duration::from_millis(10),
        ..ClientConfig::default()
    };
    f(&mut cfg);
    Client::new(cfg).unwrap()
}

fn chat(text: &str, params: Params) -> Request {
    Request {
        model: "fake-small".into(),
        prompt: Prompt::Chat(vec![WireMessage::new(Role::User, text)]),
        params,
        stream: true,
        shape: Shape::default(),
    }
}

fn completion(text: &str, params: Params) -> Request {
    Request {
        model: "fake-small".into(),
        prompt: Prompt::Completion(text.into()),
        params,
        stream: true,
        shape: Shape::default(),
    }
}

/// What a request produced: per-choice text, per-choice finish reasons, usage, and the result.
#[derive(Debug, Default)]
struct Got {
    texts: Vec<String>,
    reasons: Vec<Option<FinishReason>>,
    usage: Option<Usage>,
    model: Option<String>,
    deltas: usize,
    reasoning: Vec<String>,
    logprobs: Vec<Vec<TokenLogprob>>,
    adapted: Vec<(String, Adaptation, String)>,
}

fn slot<T: Default + Clone>(v: &mut Vec<T>, i: usize) -> &mut T {
    if v.len() <= i {
        v.resize(i + 1, T::default());
    }
    &mut v[i]
}

async fn send(
    client: &Client,
    req: &Request,
) -> (Got, Result<chat_tui::api::types::Outcome, ApiError>) {
    let mut got = Got::default();
    let result = {
        let mut sink = |ev: StreamEvent| match ev {
            StreamEvent::Delta { index, text } => {
                let i = index as usize;
                if got.texts.len() <= i {
                    got.texts.resize(i + 1, String::new());
                }
                got.texts[i].push_str(&text);
                got.deltas += 1;
            }
            StreamEvent::Finish { index, reason } => {
                let i = index as usize;
                if got.reasons.len() <= i {
                    got.reasons.resize(i + 1, None);
                }
                got.reasons[i] = Some(reason);
            }
            StreamEvent::Usage(u) => got.usage = Some(u),
            StreamEvent::Model(m) => got.model = Some(m),
            StreamEvent::Reasoning { index, text } => {
                slot(&mut got.reasoning, index as usize).push_str(&text)
            }
            StreamEvent::Logprobs { index, tokens } => {
                slot(&mut got.logprobs, index as usize).extend(tokens)
            }
            StreamEvent::Adapted {
                model,
                adaptation,
                message,
            } => got.adapted.push((model, adaptation, message)),
        };
        client.send(req, &mut sink).await
    };
    (got, result)
}

fn params(pairs: &[(&str, &str)]) -> Params {
    let mut p = Params::default();
    for (k, v) in pairs {
        p.set(k, v).unwrap();
    }
    p
}

#[tokio::test]
async fn chat_streams_text_finish_reason_and_usage() {
    let server = FakeServer::start();
    let (got, result) = send(
        &client(&server),
        &chat("hello there world", Params::default()),
    )
    .await;
    let outcome = result.unwrap();
    assert_eq!(got.texts, vec!["echo: hello there world"]);
    assert!(
        got.deltas >= 3,
        "streamed in pieces, got {} deltas",
        got.deltas
    );
    assert_eq!(got.reasons, vec![Some(FinishReason::Stop)]);
    let u = got
        .usage
        .expect("usage arrives when include_usage is asked");
    assert_eq!(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    assert_eq!(outcome.usage, Some(u));
    assert_eq!(got.model.as_deref(), Some("fake-small"));
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(req.json()["stream"], json!(true));
    assert_eq!(req.json()["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        req.header("authorization"),
        None,
        "no key: no Authorization header"
    );
}

#[tokio::test]
async fn legacy_completions_endpoint() {
    let server = FakeServer::start();
    let (got, result) = send(
        &client(&server),
        &completion("Say this is a test", Params::default()),
    )
    .await;
    result.unwrap();
    assert_eq!(got.texts, vec!["echo: Say this is a test"]);
    let req = &server.requests()[0];
    assert_eq!(req.path, "/v1/completions");
    assert_eq!(req.json()["prompt"], json!("Say this is a test"));
    assert!(req.json().get("messages").is_none());
}

#[tokio::test]
async fn the_key_is_sent_as_a_bearer_token() {
    let server = FakeServer::start();
    server.set_require_key(Some(KEY));
    let c = client_with(&server, |c| c.api_key = ApiKey::new(KEY));
    send(&c, &chat("hi", Params::default())).await.1.unwrap();
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn every_parameter_is_serialised_and_unset_ones_are_omitted() {
    let server = FakeServer::start();
    let p = params(&[
        ("temperature", "0.4"),
        ("top_p", "0.9"),
        ("max_tokens", "300"),
        ("n", "2"),
        ("stop", r#"["迎","好"]"#),
        ("presence_penalty", "-1.5"),
        ("frequency_penalty", "1.25"),
        ("seed", "7"),
        ("top_k", "40"),
    ]);
    send(&client(&server), &chat("嗨", p)).await.1.unwrap();
    let body = server.requests()[0].json();
    for (k, v) in [
        ("temperature", json!(0.4)),
        ("top_p", json!(0.9)),
        ("max_tokens", json!(300)),
        ("n", json!(2)),
        ("stop", json!(["迎", "好"])),
        ("presence_penalty", json!(-1.5)),
        ("frequency_penalty", json!(1.25)),
        ("seed", json!(7)),
        ("top_k", json!(40)),
    ] {
        assert_eq!(body[k], v, "{k}");
    }
    send(&client(&server), &chat("嗨", Params::default()))
        .await
        .1
        .unwrap();
    let body = server.requests()[1].json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["messages", "model", "stream", "stream_options"]);
}

#[tokio::test]
async fn n_choices_arrive_interleaved_and_apart() {
    let server = FakeServer::start();
    let (got, result) = send(&client(&server), &chat("one two", params(&[("n", "3")]))).await;
    result.unwrap();
    assert_eq!(
        got.texts,
        vec!["echo: one two", "echo1: one two", "echo2: one two"]
    );
    assert_eq!(got.reasons.len(), 3);
    assert!(got.reasons.iter().all(|r| *r == Some(FinishReason::Stop)));
}

#[tokio::test]
async fn max_tokens_gives_finish_reason_length() {
    let server = FakeServer::start();
    let (got, result) = send(
        &client(&server),
        &chat("a b c d e f g h", params(&[("max_tokens", "3")])),
    )
    .await;
    result.unwrap();
    assert_eq!(got.reasons, vec![Some(FinishReason::Length)]);
    assert_eq!(got.usage.unwrap().completion_tokens, 3);
}

#[tokio::test]
async fn stop_sequences_cut_the_reply() {
    let server = FakeServer::start();
    let (got, result) = send(
        &client(&server),
        &completion("你好 世界 再見", params(&[("stop", "世界")])),
    )
    .await;
    result.unwrap();
    assert_eq!(got.texts[0].trim_end(), "echo: 你好");
    assert_eq!(got.reasons, vec![Some(FinishReason::Stop)]);
    assert_eq!(server.requests()[0].json()["stop"], json!(["世界"]));
}

#[tokio::test]
async fn suffix_is_sent_in_completion_mode() {
    let server = FakeServer::start();
    let (got, result) = send(
        &client(&server),
        &completion("我想學", params(&[("suffix", "換工作")])),
    )
    .await;
    result.unwrap();
    assert_eq!(server.requests()[0].json()["suffix"], json!("換工作"));
    assert!(!got.texts[0].is_empty());
}

#[tokio::test]
async fn best_of_is_not_streamed() {
    let server = FakeServer::start();
    let (got, result) = send(
        &client(&server),
        &completion("pick the best", params(&[("best_of", "3"), ("n", "2")])),
    )
    .await;
    let outcome = result.unwrap();
    let body = server.requests()[0].json();
    assert_eq!(body["best_of"], json!(3));
    assert!(
        body.get("stream").is_none(),
        "best_of cannot stream: {body}"
    );
    assert!(body.get("stream_options").is_none());
    assert_eq!(got.texts.len(), 2);
    assert!(outcome.usage.is_some());
}

#[tokio::test]
async fn invalid_parameters_are_refused_before_sending() {
    let server = FakeServer::start();
    for (k, v) in [
        ("temperature", "2.5"),
        ("presence_penalty", "3"),
        ("n", "0"),
    ] {
        let (_, r) = send(&client(&server), &chat("x", params(&[(k, v)]))).await;
        assert!(matches!(r, Err(ApiError::Invalid(_))), "{k}={v}: {r:?}");
    }
    let (_, r) = send(&client(&server), &chat("x", params(&[("suffix", "s")]))).await;
    assert!(matches!(r, Err(ApiError::Invalid(_))));
    assert!(server.requests().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn a_400_message_is_shown_verbatim() {
    let server = FakeServer::start();
    server.set_reject_fields(&["max_token"]);
    let (_, r) = send(
        &client(&server),
        &completion("嗨", params(&[("max_token", "300")])),
    )
    .await;
    let e = r.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(
        e.to_string()
            .contains("Unrecognized request argument supplied: max_token"),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_401_says_to_check_the_key_and_never_shows_it() {
    let server = FakeServer::start();
    server.set_require_key(Some("sk-test-the-right-one"));
    let c = client_with(&server, |c| c.api_key = ApiKey::new(KEY));
    let (_, r) = send(&c, &chat("hi", Params::default())).await;
    let e = r.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let s = e.to_string();
    assert!(s.contains("check the API key"), "{s}");
    assert!(!s.contains(KEY), "{s}");
    assert!(!format!("{e:?}").contains(KEY));
    assert!(!format!("{c:?}").contains(KEY));
}

#[tokio::test]
async fn a_429_is_retried_honouring_retry_after_then_succeeds() {
    let server = FakeServer::start();
    server.push(Reply::Status {
        status: 429,
        headers: vec![("Retry-After".into(), "1".into())],
        body: r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#.into(),
    });
    let started = std::time::Instant::now();
    let (got, r) = send(&client(&server), &chat("again", Params::default())).await;
    r.unwrap();
    assert_eq!(got.texts, vec!["echo: again"]);
    assert_eq!(server.requests().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
}

#[tokio::test]
async fn a_500_is_retried_a_few_times_then_reported() {
    let server = FakeServer::start();
    for _ in 0..3 {
        server.push(Reply::Status {
            status: 500,
            headers: vec![],
            body:
                r#"{"error":{"message":"The server had an error while processing your request."}}"#
                    .into(),
        });
    }
    let (_, r) = send(&client(&server), &chat("x", Params::default())).await;
    let e = r.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(e.to_string().contains("The server had an error"), "{e}");
    assert_eq!(server.requests().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn an_html_502_becomes_a_short_readable_message() {
    let server = FakeServer::start();
    server.push(Reply::Status {
        status: 502,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>".into(),
    });
    let c = client_with(&server, |c| c.retries = 0);
    let (_, r) = send(&c, &chat("x", Params::default())).await;
    let s = r.unwrap_err().to_string();
    assert!(
        s.starts_with("HTTP 502 Bad Gateway: 502 Bad Gateway"),
        "{s}"
    );
    assert!(!s.contains('<'), "{s}");
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_keeps_the_partial_text() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        SseStep::Bytes(chat_chunk(0, "partial ", None).into_bytes()),
        SseStep::Bytes(chat_chunk(0, "text", None).into_bytes()),
        SseStep::Drop,
    ]));
    let (got, r) = send(&client(&server), &chat("x", Params::default())).await;
    assert_eq!(got.texts, vec!["partial text"]);
    let e = r.unwrap_err();
    assert!(
        matches!(e, ApiError::Network(_) | ApiError::Incomplete),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_stream_that_ends_without_done_is_incomplete() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![SseStep::Bytes(
        chat_chunk(0, "half", None).into_bytes(),
    )]));
    let (got, r) = send(&client(&server), &chat("x", Params::default())).await;
    assert_eq!(got.texts, vec!["half"]);
    assert_eq!(r.unwrap_err(), ApiError::Incomplete);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = FakeServer::start();
    server.push(Reply::Hang);
    let c = client_with(&server, |c| {
        c.timeouts.first_byte = Duration::from_millis(300)
    });
    let (_, r) = send(&c, &chat("x", Params::default())).await;
    assert!(
        matches!(
            r,
            Err(ApiError::Timeout {
                kind: TimeoutKind::FirstByte,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_stream_that_stalls_times_out_between_chunks() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        SseStep::Bytes(chat_chunk(0, "start", None).into_bytes()),
        SseStep::Sleep(Duration::from_secs(30)),
    ]));
    let c = client_with(&server, |c| c.timeouts.idle = Duration::from_millis(300));
    let (got, r) = send(&c, &chat("x", Params::default())).await;
    assert_eq!(got.texts, vec!["start"]);
    assert!(
        matches!(
            r,
            Err(ApiError::Timeout {
                kind: TimeoutKind::Idle,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn malformed_sse_lines_are_skipped_with_a_warning() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        SseStep::Bytes(chat_chunk(0, "good ", None).into_bytes()),
        SseStep::Bytes(b"data: {not json\n\n".to_vec()),
        SseStep::Bytes(b"garbage line without a field\n\n".to_vec()),
        SseStep::Bytes(b": a comment\n\n".to_vec()),
        SseStep::Bytes(chat_chunk(0, "text", Some("stop")).into_bytes()),
        SseStep::Bytes(b"data: [DONE]\n\n".to_vec()),
    ]));
    let (got, r) = send(&client(&server), &chat("x", Params::default())).await;
    let outcome = r.unwrap();
    assert_eq!(got.texts, vec!["good text"]);
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
}

#[tokio::test]
async fn an_error_object_inside_the_stream_is_reported() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        SseStep::Bytes(chat_chunk(0, "so far", None).into_bytes()),
        SseStep::Bytes(
            b"data: {\"error\":{\"message\":\"The model overloaded\",\"type\":\"server_error\"}}\n\n".to_vec(),
        ),
    ]));
    let (got, r) = send(&client(&server), &chat("x", Params::default())).await;
    assert_eq!(got.texts, vec!["so far"]);
    assert_eq!(
        r.unwrap_err(),
        ApiError::Stream("The model overloaded".into())
    );
}

#[tokio::test]
async fn a_server_that_rejects_stream_options_is_asked_again_without_it_and_remembered() {
    let server = FakeServer::start();
    server.set_reject_fields(&["stream_options"]);
    let c = client(&server);
    let (got, r) = send(&c, &chat("x", Params::default())).await;
    r.unwrap();
    assert_eq!(got.texts, vec!["echo: x"]);
    send(&c, &chat("y", Params::default())).await.1.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[0].json().get("stream_options").is_some());
    assert!(reqs[1].json().get("stream_options").is_none());
    assert!(reqs[2].json().get("stream_options").is_none(), "remembered");
}

#[tokio::test]
async fn usage_from_a_final_chunk_without_choices() {
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        SseStep::Bytes(chat_chunk(0, "hi", Some("stop")).into_bytes()),
        SseStep::Bytes(usage_chunk(5, 1).into_bytes()),
        SseStep::Bytes(b"data: [DONE]\n\n".to_vec()),
    ]));
    let (got, r) = send(&client(&server), &chat("x", Params::default())).await;
    r.unwrap();
    assert_eq!(
        got.usage,
        Some(Usage {
            prompt_tokens: 5,
            completion_tokens: 1,
            total_tokens: 6,
            ..Usage::default()
        })
    );
}

#[tokio::test]
async fn cancelling_closes_the_stream_at_once() {
    let server = FakeServer::start();
    server.set_token_delay(Duration::from_millis(50));
    let c = client(&server);
    let words = vec!["w"; 200].join(" ");
    let req = chat(&words, Params::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut sink = move |ev: StreamEvent| {
            let _ = tx.send(ev);
        };
        c.send(&req, &mut sink).await
    });
    // Wait for the first text, then cancel.
    loop {
        match rx.recv().await {
            Some(StreamEvent::Delta { .. }) => break,
            Some(_) => continue,
            None => panic!("the stream ended before any text"),
        }
    }
    task.abort();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while server.disconnects() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never saw the client go away"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connection_refused_is_a_clear_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(ClientConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        ..ClientConfig::default()
    })
    .unwrap();
    let (_, r) = send(&c, &chat("x", Params::default())).await;
    let e = r.unwrap_err();
    assert!(matches!(e, ApiError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("could not connect"), "{e}");
}

#[tokio::test]
async fn the_model_list() {
    let server = FakeServer::start();
    let models = client(&server).models().await.unwrap();
    assert_eq!(models, vec!["fake-large", "fake-small"]);
}

#[tokio::test]
async fn a_non_streamed_chat_reply() {
    let server = FakeServer::start();
    let mut req = chat("whole reply please", Params::default());
    req.stream = false;
    let (got, r) = send(&client(&server), &req).await;
    let outcome = r.unwrap();
    assert_eq!(got.texts, vec!["echo: whole reply please"]);
    assert_eq!(got.reasons, vec![Some(FinishReason::Stop)]);
    assert!(outcome.usage.is_some());
    assert!(server.requests()[0].json().get("stream").is_none());
}

#[tokio::test]
async fn per_choice_usage_chunks_are_added_up() {
    // llama.cpp with n = 2: one usage chunk per choice, each with its own completion count.
    let server = FakeServer::start();
    server.push(Reply::Sse(vec![
        SseStep::Bytes(chat_chunk(1, "b", Some("stop")).into_bytes()),
        SseStep::Bytes(usage_chunk(10, 8).into_bytes()),
        SseStep::Bytes(chat_chunk(0, "a", Some("length")).into_bytes()),
        SseStep::Bytes(usage_chunk(10, 5).into_bytes()),
        SseStep::Bytes(b"data: [DONE]\n\n".to_vec()),
    ]));
    let (got, r) = send(&client(&server), &chat("x", params(&[("n", "2")]))).await;
    let outcome = r.unwrap();
    assert_eq!(got.texts, vec!["a", "b"]);
    assert_eq!(
        outcome.usage,
        Some(Usage {
            prompt_tokens: 10,
            completion_tokens: 13,
            total_tokens: 23,
            ..Usage::default()
        })
    );
}

#[tokio::test]
async fn requests_follow_the_official_schemas() {
    let server = FakeServer::start();
    let all = [
        ("temperature", "0.4"),
        ("top_p", "0.9"),
        ("max_tokens", "30"),
        ("n", "2"),
        ("stop", r#"["a","b"]"#),
        ("presence_penalty", "-1"),
        ("frequency_penalty", "1"),
        ("seed", "7"),
    ];
    send(&client(&server), &chat("x", params(&all)))
        .await
        .1
        .unwrap();
    let mut p = params(&all);
    p.set("suffix", "end").unwrap();
    send(&client(&server), &completion("x", p)).await.1.unwrap();
    let mut p = params(&all);
    p.set("best_of", "3").unwrap();
    send(&client(&server), &completion("x", p)).await.1.unwrap();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.schema_errors(), Vec::<String>::new());
}

#[tokio::test]
async fn a_server_that_hangs_up_without_answering_is_not_a_connect_error() {
    let server = FakeServer::start();
    server.push(Reply::Close);
    let c = client_with(&server, |c| c.retries = 0);
    let (_, r) = send(&c, &chat("x", Params::default())).await;
    let e = r.unwrap_err();
    assert!(matches!(e, ApiError::Network(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("closed the connection before answering"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// Logprobs, reasoning, usage details, unsupported parameters, what the server knows

fn with_logprobs(mut p: Params, n: u32) -> Params {
    p.logprobs = Some(n);
    p
}

/// The reply's tokens joined, and each token's (text, logprob, alternatives).
fn check_logprobs(tokens: &[TokenLogprob], text: &str, alts: usize) {
    let mut l = Logprobs::new();
    l.extend(tokens);
    assert!(l.lines_up_with(text), "tokens {tokens:?} vs {text:?}");
    for (k, t) in tokens.iter().enumerate() {
        assert_eq!(t.logprob, fake_logprob(k, 0), "token {k}");
        assert_eq!(t.top.len(), alts, "token {k}");
        if alts > 0 {
            assert_eq!(
                t.top[0].bytes, t.bytes,
                "the token itself is the most likely"
            );
        }
        for (j, a) in t.top.iter().enumerate().skip(1) {
            assert_eq!(a.bytes, format!("alt{j}").into_bytes());
            assert_eq!(a.logprob, fake_logprob(k, j));
        }
    }
}

#[tokio::test]
async fn logprobs_in_chat_mode_streamed_and_not() {
    let server = FakeServer::start();
    let c = client(&server);
    for stream in [true, false] {
        let mut req = chat("the cat sat down", with_logprobs(params(&[("n", "2")]), 3));
        req.stream = stream;
        let (got, result) = send(&c, &req).await;
        result.unwrap();
        assert_eq!(got.logprobs.len(), 2, "stream={stream}: per choice");
        check_logprobs(&got.logprobs[0], &got.texts[0], 3);
        check_logprobs(&got.logprobs[1], &got.texts[1], 3);
    }
    let reqs = server.requests();
    for r in &reqs {
        assert_eq!(r.json()["logprobs"], json!(true));
        assert_eq!(r.json()["top_logprobs"], json!(3));
    }
    assert_eq!(server.schema_errors(), Vec::<String>::new());
}

#[tokio::test]
async fn logprobs_in_the_legacy_completion_shape_streamed_and_not() {
    let server = FakeServer::start();
    let c = client(&server);
    for stream in [true, false] {
        let mut req = completion("once upon a time", with_logprobs(Params::default(), 2));
        req.stream = stream;
        let (got, result) = send(&c, &req).await;
        result.unwrap();
        check_logprobs(&got.logprobs[0], &got.texts[0], 2);
    }
    for r in server.requests() {
        assert_eq!(r.json()["logprobs"], json!(2));
        assert!(r.json().get("top_logprobs").is_none());
    }
    assert_eq!(server.schema_errors(), Vec::<String>::new());
}

#[tokio::test]
async fn logprobs_in_llama_cpps_completion_shape_streamed_and_not() {
    let server = FakeServer::start();
    server.set_logprobs_style(LogprobStyle::LlamaCpp);
    let c = client(&server);
    for stream in [true, false] {
        let mut req = completion("the capital of France", with_logprobs(Params::default(), 2));
        req.stream = stream;
        let (got, result) = send(&c, &req).await;
        result.unwrap();
        check_logprobs(&got.logprobs[0], &got.texts[0], 2);
    }
    // llama.cpp's native answer: `completion_probabilities` at the top of a chunk.
    server.push(Reply::Sse(vec![
        SseStep::text(&sse_event(&json!({"content": " Paris", "stop": false,
            "completion_probabilities": [{"id": 7042, "token": " Paris", "bytes": [32,80,97,114,105,115],
                "logprob": -0.25, "top_logprobs": [{"id": 7042, "token": " Paris", "logprob": -0.25}]}]}))),
        SseStep::text(&support::fake_server::completion_chunk(0, " Paris", Some("stop"))),
        SseStep::text(support::fake_server::DONE),
    ]));
    let (got, result) = send(&c, &completion("x", with_logprobs(Params::default(), 1))).await;
    result.unwrap();
    assert_eq!(got.logprobs[0][0].bytes, b" Paris");
}

#[tokio::test]
async fn logprobs_with_missing_or_extra_fields_are_skipped_with_a_warning() {
    let server = FakeServer::start();
    let chunk = |lp: serde_json::Value, text: &str| {
        SseStep::text(&sse_event(&json!({"model": "fake-small", "choices": [
            {"index": 0, "delta": {"content": text}, "logprobs": lp, "finish_reason": null}]})))
    };
    server.push(Reply::Sse(vec![
        chunk(
            json!({"content": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "extra": 1,
            "top_logprobs": [{"token": "Hi", "logprob": -0.5}, {"token": "Yo"}]}]}),
            "Hi",
        ),
        chunk(json!({"content": [{"token": " there"}]}), " there"),
        chunk(json!({"content": "not a list"}), "!"),
        chunk(json!({"refusal": null, "content": null}), ""),
        SseStep::text(&chat_chunk(0, "", Some("stop"))),
        SseStep::text(support::fake_server::DONE),
    ]));
    let (got, result) = send(
        &client(&server),
        &chat("x", with_logprobs(Params::default(), 2)),
    )
    .await;
    let outcome = result.unwrap();
    assert_eq!(got.texts, vec!["Hi there!"]);
    assert_eq!(got.logprobs[0].len(), 1, "the one good token is kept");
    assert_eq!(got.logprobs[0][0].top.len(), 1);
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("3 malformed logprobs entries")),
        "{:?}",
        outcome.warnings
    );
    // The text is whole even though the tokens do not add up to it.
    let mut l = Logprobs::new();
    l.extend(&got.logprobs[0]);
    assert!(!l.lines_up_with(&got.texts[0]));
    assert_eq!(l.spans(&got.texts[0]), vec![Some(0..2)]);
}

#[tokio::test]
async fn reasoning_content_and_reasoning_arrive_apart_from_the_reply() {
    for field in ["reasoning_content", "reasoning"] {
        let server = FakeServer::start();
        server.set_reasoning(field, "Two and two make four.");
        let c = client(&server);
        for stream in [true, false] {
            let mut req = chat("what is 2+2", Params::default());
            req.stream = stream;
            let (got, result) = send(&c, &req).await;
            result.unwrap();
            assert_eq!(
                got.reasoning,
                vec!["Two and two make four."],
                "{field} stream={stream}"
            );
            assert_eq!(
                got.texts,
                vec!["echo: what is 2+2"],
                "{field} stream={stream}"
            );
        }
    }
}

#[tokio::test]
async fn reasoning_with_no_content_after_it_still_finishes() {
    let server = FakeServer::start();
    let r = |t: &str| {
        SseStep::text(&sse_event(&json!({"model": "m", "choices": [
            {"index": 0, "delta": {"content": null, "reasoning_content": t}, "finish_reason": null}]})))
    };
    server.push(Reply::Sse(vec![
        r("Let me think"),
        r(" very hard"),
        SseStep::text(&chat_chunk(0, "", Some("length"))),
        SseStep::text(support::fake_server::DONE),
    ]));
    let (got, result) = send(&client(&server), &chat("x", Params::default())).await;
    result.unwrap();
    assert_eq!(got.reasoning, vec!["Let me think very hard"]);
    assert!(got.texts.iter().all(String::is_empty));
    assert_eq!(got.reasons, vec![Some(FinishReason::Length)]);
}

#[tokio::test]
async fn usage_details_are_read_streamed_and_not() {
    let server = FakeServer::start();
    server.set_usage_details(312, 24);
    let c = client(&server);
    for stream in [true, false] {
        let mut req = chat("hello there", Params::default());
        req.stream = stream;
        let (got, result) = send(&c, &req).await;
        result.unwrap();
        let u = got.usage.unwrap();
        assert_eq!(
            (u.reasoning_tokens, u.cached_tokens),
            (Some(312), Some(24)),
            "stream={stream}"
        );
    }
    // A server that sends none: none.
    let plain = FakeServer::start();
    let (got, _) = send(&client(&plain), &chat("hello", Params::default())).await;
    let u = got.usage.unwrap();
    assert_eq!((u.reasoning_tokens, u.cached_tokens), (None, None));
}

#[tokio::test]
async fn an_unsupported_parameter_is_renamed_once_and_the_request_sent_again() {
    let server = FakeServer::start();
    server.set_unsupported(vec![Unsupported::Rename(
        "max_tokens".into(),
        "max_completion_tokens".into(),
    )]);
    let (got, result) = send(
        &client(&server),
        &chat("a b c d e f", params(&[("max_tokens", "3")])),
    )
    .await;
    result.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].json()["max_tokens"], json!(3));
    assert!(reqs[1].json().get("max_tokens").is_none());
    assert_eq!(reqs[1].json()["max_completion_tokens"], json!(3));
    assert_eq!(
        got.reasons,
        vec![Some(FinishReason::Length)],
        "the renamed value took effect"
    );
    assert_eq!(got.adapted.len(), 1);
    let (model, a, message) = &got.adapted[0];
    assert_eq!(model, "fake-small");
    assert_eq!(
        a,
        &Adaptation::Rename {
            from: "max_tokens".into(),
            to: "max_completion_tokens".into()
        }
    );
    assert!(message.contains("Use 'max_completion_tokens' instead"));
}

#[tokio::test]
async fn an_unsupported_value_is_dropped_once_and_the_request_sent_again() {
    let server = FakeServer::start();
    server.set_unsupported(vec![
        Unsupported::Value("temperature".into()),
        Unsupported::Parameter("top_p".into()),
    ]);
    let (got, result) = send(
        &client(&server),
        &chat(
            "hi",
            params(&[("temperature", "0.2"), ("top_p", "0.5"), ("seed", "1")]),
        ),
    )
    .await;
    result.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3, "one retry per refused parameter");
    let last = reqs[2].json();
    assert!(last.get("temperature").is_none() && last.get("top_p").is_none());
    assert_eq!(last["seed"], json!(1), "the others are still sent");
    let changes: Vec<_> = got.adapted.iter().map(|(_, a, _)| a.clone()).collect();
    assert_eq!(
        changes,
        vec![
            Adaptation::Drop {
                name: "temperature".into()
            },
            Adaptation::Drop {
                name: "top_p".into()
            }
        ]
    );
}

#[tokio::test]
async fn an_unsupported_error_naming_a_parameter_not_sent_is_shown_as_is() {
    let server = FakeServer::start();
    let msg = "Unsupported parameter: 'tools' is not supported with this model.";
    server.push(Reply::error(400, msg));
    let (got, result) = send(
        &client(&server),
        &chat("hi", params(&[("temperature", "0.2")])),
    )
    .await;
    let err = result.unwrap_err();
    assert_eq!(err.to_string(), format!("HTTP 400 Bad Request: {msg}"));
    assert_eq!(server.requests().len(), 1, "no retry");
    assert!(got.adapted.is_empty());
}

#[tokio::test]
async fn adapting_never_loops() {
    // A server that refuses the renamed field too (and asks for the first back).
    let server = FakeServer::start();
    server.set_unsupported(vec![
        Unsupported::Rename("max_tokens".into(), "max_completion_tokens".into()),
        Unsupported::Rename("max_completion_tokens".into(), "max_tokens".into()),
    ]);
    let (got, result) = send(
        &client(&server),
        &chat("hi", params(&[("max_tokens", "3")])),
    )
    .await;
    let err = result.unwrap_err();
    assert!(err.to_string().contains("'max_completion_tokens'"), "{err}");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(got.adapted.len(), 1);
}

#[tokio::test]
async fn reasoning_models_get_max_completion_tokens_and_no_sampling_parameters() {
    let server = FakeServer::start();
    let mut req = chat(
        "hi",
        params(&[
            ("max_tokens", "5"),
            ("temperature", "0.2"),
            ("top_p", "0.3"),
            ("logprobs", "2"),
        ]),
    );
    req.model = "o3-mini".into();
    req.shape = chat_tui::chat::capabilities::known_shape("o3-mini", chat_tui::api::Mode::Chat);
    let (_, result) = send(&client(&server), &req).await;
    result.unwrap();
    let body = server.requests()[0].json();
    assert_eq!(body["max_completion_tokens"], json!(5));
    for gone in [
        "max_tokens",
        "temperature",
        "top_p",
        "logprobs",
        "top_logprobs",
    ] {
        assert!(body.get(gone).is_none(), "{gone} in {body}");
    }
    assert_eq!(server.schema_errors(), Vec::<String>::new());
}

#[tokio::test]
async fn the_server_states_the_context_window_or_not() {
    // llama.cpp: in the model list.
    let server = FakeServer::start();
    server.set_llama_cpp(Some(2048), Some(4096));
    let info = client(&server).probe("whatever", true).await.unwrap();
    assert_eq!(info.kind, chat_tui::api::server::ServerKind::LlamaCpp);
    assert_eq!(info.context_window, Some(2048));
    assert!(info.source.unwrap().contains("meta.n_ctx"));
    // llama.cpp without it in the list: /props.
    let server = FakeServer::start();
    server.set_llama_cpp(None, Some(4096));
    let info = client(&server).probe("whatever", true).await.unwrap();
    assert_eq!(info.context_window, Some(4096));
    // A model list without context sizes (and no other endpoint): fine, nothing known.
    let server = FakeServer::start();
    let info = client(&server).probe("fake-small", true).await.unwrap();
    assert_eq!(info.context_window, None);
    assert_eq!(info.kind, chat_tui::api::server::ServerKind::Other);
    // Ollama's and LM Studio's endpoints were tried (404 here), nothing else.
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/v1/models", "/api/show", "/api/v0/models/fake-small"]
    );
}

#[tokio::test]
async fn exact_counts_from_the_tokenizer_match_the_prompt_tokens() {
    let server = FakeServer::start();
    server.set_llama_cpp(Some(2048), None);
    let c = client(&server);
    let messages = vec![
        WireMessage::new(Role::System, "be brief"),
        WireMessage::new(Role::User, "what is the capital of France"),
    ];
    let exact = c
        .count_tokens(
            chat_tui::api::server::ServerKind::LlamaCpp,
            "fake-llama",
            &Prompt::Chat(messages.clone()),
            "what is the capital of France",
        )
        .await
        .unwrap();
    let req = Request {
        model: "fake-llama".into(),
        prompt: Prompt::Chat(messages),
        params: Params::default(),
        stream: true,
        shape: Shape::default(),
    };
    let (got, result) = send(&c, &req).await;
    result.unwrap();
    assert_eq!(exact.request, got.usage.unwrap().prompt_tokens);
    assert_eq!(exact.draft, 6);
}

#[tokio::test]
async fn a_tokenize_that_fails_or_hangs_is_an_error_not_a_wait() {
    use support::fake_server::Tokenize;
    let server = FakeServer::start();
    server.set_llama_cpp(Some(2048), None);
    server.set_tokenize(Tokenize::Fails);
    let kind = chat_tui::api::server::ServerKind::LlamaCpp;
    let prompt = Prompt::Completion("hello".into());
    let err = client(&server)
        .count_tokens(kind, "m", &prompt, "hello")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tokenizer exploded"), "{err}");
    server.set_tokenize(Tokenize::Hangs);
    let quick = client_with(&server, |c| {
        c.timeouts.first_byte = Duration::from_millis(200);
        c.timeouts.connect = Duration::from_millis(200);
    });
    let err = quick
        .count_tokens(kind, "m", &prompt, "hello")
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err}");
}
