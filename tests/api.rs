//! The API client against a real HTTP server on 127.0.0.1 (tests/support/fake_server.rs).

mod support;

use std::time::Duration;

use chat_tui::api::client::{ApiKey, Client, ClientConfig, Timeouts};
use chat_tui::api::error::{ApiError, TimeoutKind};
use chat_tui::api::types::{
    FinishReason, Params, Prompt, Request, Role, StreamEvent, Usage, WireMessage,
};
use serde_json::json;
use support::fake_server::{FakeServer, Reply, SseStep, chat_chunk, usage_chunk};

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
    }
}

fn completion(text: &str, params: Params) -> Request {
    Request {
        model: "fake-small".into(),
        prompt: Prompt::Completion(text.into()),
        params,
        stream: true,
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
            total_tokens: 6
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
            total_tokens: 23
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
