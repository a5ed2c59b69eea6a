//! Self-tests of the shared test infrastructure in `tests/support/`.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fake_server::{
    DONE, FakeServer, Reply, SseStep, chat_chunk, completion_chunk, mask_key, usage_chunk,
};
use support::pty::{Key, Tui};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";
const SECS5: Duration = Duration::from_secs(5);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn post(srv: &FakeServer, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", srv.url()))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("request failed")
}

/// Parse an SSE body into its `data:` payloads (JSON values; `[DONE]` as a string).
fn sse_events(body: &str) -> Vec<Value> {
    assert!(
        body.ends_with(DONE),
        "stream must end with [DONE]: {body:?}"
    );
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let d = e
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data event: {e:?}"));
            if d == "[DONE]" {
                Value::String(d.into())
            } else {
                serde_json::from_str(d).unwrap()
            }
        })
        .collect()
}

/// Concatenated content per choice index from chat or completion chunks.
fn stream_texts(events: &[Value], n: usize) -> Vec<String> {
    let mut out = vec![String::new(); n];
    for e in events {
        for c in e["choices"].as_array().into_iter().flatten() {
            let i = c["index"].as_u64().unwrap() as usize;
            if let Some(t) = c["delta"]["content"].as_str().or(c["text"].as_str()) {
                out[i].push_str(t);
            }
        }
    }
    out
}

fn finish_reasons(events: &[Value]) -> Vec<(u64, String)> {
    let mut v = vec![];
    for e in events {
        for c in e["choices"].as_array().into_iter().flatten() {
            if let Some(f) = c["finish_reason"].as_str() {
                v.push((c["index"].as_u64().unwrap(), f.to_string()));
            }
        }
    }
    v
}

#[tokio::test]
async fn smart_chat_non_streamed() {
    let srv = FakeServer::start();
    let r = post(
        &srv,
        "/chat/completions",
        json!({"model": "fake-large", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "hello   big world"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "fake-large");
    assert!(v["id"].is_string() && v["created"].is_u64());
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "echo: hello big world"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["choices"].as_array().unwrap().len(), 1);
    // 2 + 2 + 1 + 3 words in the messages; 4 tokens sent.
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12})
    );
    let reqs = srv.wait_requests(1, SECS5);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(
        reqs[0].header("Authorization"),
        Some("Bearer sk-test-NOT-A-REAL-KEY")
    );
    assert!(reqs[0].headers.iter().all(|(k, _)| *k == k.to_lowercase()));
    assert_eq!(reqs[0].json()["model"], "fake-large");
}

#[tokio::test]
async fn smart_chat_streamed_without_usage() {
    let srv = FakeServer::start();
    let r = post(
        &srv,
        "/chat/completions",
        json!({"model": "m1", "stream": true, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(r.headers()["transfer-encoding"], "chunked");
    let ev = sse_events(&r.text().await.unwrap());
    assert_eq!(ev[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(ev[0]["object"], "chat.completion.chunk");
    assert_eq!(ev[0]["model"], "m1");
    assert_eq!(stream_texts(&ev, 1), vec!["echo: hi there"]);
    // role chunk + 3 tokens + finish chunk + [DONE]
    assert_eq!(ev.len(), 6);
    assert_eq!(finish_reasons(&ev), vec![(0, "stop".to_string())]);
    assert!(
        ev.iter().all(|e| e.get("usage").is_none()),
        "no usage unless asked"
    );
}

#[tokio::test]
async fn include_usage_adds_final_usage_chunk() {
    let srv = FakeServer::start();
    let r = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
               "messages": [{"role": "user", "content": "one two three"}]}),
    )
    .await;
    let ev = sse_events(&r.text().await.unwrap());
    let last = &ev[ev.len() - 2];
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
    );
    // Like OpenAI, the other chunks carry "usage": null.
    assert!(ev[..ev.len() - 2].iter().all(|e| e["usage"].is_null()));
}

#[tokio::test]
async fn n3_choices_are_interleaved() {
    let srv = FakeServer::start();
    let r = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "stream": true, "n": 3, "messages": [{"role": "user", "content": "a b"}]}),
    )
    .await;
    let ev = sse_events(&r.text().await.unwrap());
    assert_eq!(
        stream_texts(&ev, 3),
        vec!["echo: a b", "echo1: a b", "echo2: a b"]
    );
    let order: Vec<u64> = ev
        .iter()
        .filter(|e| {
            e["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
        })
        .map(|e| e["choices"][0]["index"].as_u64().unwrap())
        .collect();
    assert_eq!(order, vec![0, 1, 2, 0, 1, 2, 0, 1, 2]);

    // Non-streamed n=3.
    let v: Value = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "n": 3, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let texts: Vec<&str> = v["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["echo: x", "echo1: x", "echo2: x"]);
    assert_eq!(v["usage"]["completion_tokens"], 6);
}

#[tokio::test]
async fn max_tokens_and_stop() {
    let srv = FakeServer::start();
    let msgs = json!([{"role": "user", "content": "one two three four"}]);
    let r = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "stream": true, "max_tokens": 2, "messages": msgs}),
    )
    .await;
    let ev = sse_events(&r.text().await.unwrap());
    assert_eq!(stream_texts(&ev, 1), vec!["echo: one"]);
    assert_eq!(finish_reasons(&ev), vec![(0, "length".to_string())]);

    let v: Value = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "max_completion_tokens": 3, "messages": msgs}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "echo: one two");
    assert_eq!(v["choices"][0]["finish_reason"], "length");

    let v: Value = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "stop": ["zzz", " thr"], "messages": msgs}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "echo: one two");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    let r = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "stream": true, "stop": "four", "max_tokens": 100, "messages": msgs}),
    )
    .await;
    let ev = sse_events(&r.text().await.unwrap());
    assert_eq!(stream_texts(&ev, 1), vec!["echo: one two three"]);
    assert_eq!(finish_reasons(&ev), vec![(0, "stop".to_string())]);
}

#[tokio::test]
async fn smart_completion_mode() {
    let srv = FakeServer::start();
    let v: Value = post(
        &srv,
        "/completions",
        json!({"model": "fake-small", "prompt": "line one\nsay this\n", "suffix": "END"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "echo: say this ⟨before suffix⟩");
    assert_eq!(v["usage"]["prompt_tokens"], 4);

    let r = post(
        &srv,
        "/completions",
        json!({"model": "fake-small", "prompt": "go now", "stream": true, "n": 2}),
    )
    .await;
    let ev = sse_events(&r.text().await.unwrap());
    assert_eq!(ev[0]["object"], "text_completion");
    assert_eq!(stream_texts(&ev, 2), vec!["echo: go now", "echo1: go now"]);
    assert_eq!(finish_reasons(&ev).len(), 2);

    // best_of: fine without streaming, 400 with it.
    let r = post(
        &srv,
        "/completions",
        json!({"model": "m", "prompt": "p", "best_of": 2}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &srv,
        "/completions",
        json!({"model": "m", "prompt": "p", "best_of": 2, "stream": true}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("best_of"));
}

#[tokio::test]
async fn models_list_and_404() {
    let srv = FakeServer::start();
    let v: Value = client()
        .get(format!("{}/models", srv.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["fake-small", "fake-large"]);
    assert_eq!(v["data"][0]["owned_by"], "test");

    let r = client()
        .get(format!("{}/nope", srv.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].is_string());
}

#[tokio::test]
async fn require_key_gives_401_with_masked_key() {
    let srv = FakeServer::start();
    srv.set_require_key(Some(KEY));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
    let url = format!("{}/chat/completions", srv.url());

    let r = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");

    let wrong = "sk-test-WRONG-BUT-FAKE-1234";
    let r = client()
        .post(&url)
        .bearer_auth(wrong)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(!text.contains(wrong), "key must not be echoed: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Incorrect API key provided: sk-te**"),
        "{msg}"
    );
    assert!(msg.contains(&mask_key(wrong)) && mask_key(wrong).ends_with("1234"));

    let r = post(&srv, "/chat/completions", body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(srv.requests().len(), 3);
}

#[tokio::test]
async fn reject_fields_gives_400_and_keeps_scripted_reply() {
    let srv = FakeServer::start();
    srv.set_reject_fields(&["max_token", "stream_options"]);
    srv.push(Reply::Text(vec!["scripted".into()]));
    let r = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "max_token": 5, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "Unrecognized request argument supplied: max_token"
    );
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(srv.pending_replies(), 1);
    let v: Value = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "scripted");
    assert_eq!(srv.pending_replies(), 0);
}

#[tokio::test]
async fn scripted_replies_in_order_then_smart() {
    let srv = FakeServer::start();
    srv.push(Reply::Text(vec!["first reply".into(), "other".into()]));
    srv.push(Reply::error(400, "bad thing"));
    let body = json!({"model": "m", "n": 3, "stream": true, "messages": [{"role": "user", "content": "q"}]});
    let ev = sse_events(
        &post(&srv, "/chat/completions", body.clone())
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(stream_texts(&ev, 3), vec!["first reply", "other", "other"]);
    let r = post(&srv, "/chat/completions", body.clone()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "bad thing"
    );
    let ev = sse_events(
        &post(&srv, "/chat/completions", body)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(stream_texts(&ev, 3)[0], "echo: q");
}

#[tokio::test]
async fn status_replies() {
    let srv = FakeServer::start();
    srv.push(Reply::Status {
        status: 429,
        headers: vec![("Retry-After".into(), "7".into())],
        body: r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#.into(),
    });
    srv.push(Reply::Status {
        status: 502,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: "<html><body>Bad gateway</body></html>".into(),
    });
    srv.push(Reply::Status {
        status: 503,
        headers: vec![],
        body: String::new(),
    });
    let body = json!({"model": "m", "messages": []});
    let r = post(&srv, "/chat/completions", body.clone()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let r = post(&srv, "/chat/completions", body.clone()).await;
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert!(r.text().await.unwrap().contains("Bad gateway"));
    let r = post(&srv, "/chat/completions", body).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.text().await.unwrap(), "");
}

#[tokio::test]
async fn sse_script_and_drop_mid_stream() {
    let srv = FakeServer::start();
    // Byte-exact: an event split over two chunks, then a usage chunk.
    srv.push(Reply::Sse(vec![
        SseStep::text("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel"),
        SseStep::Sleep(Duration::from_millis(20)),
        SseStep::text("lo\"}}]}\n\n"),
        SseStep::text(&completion_chunk(0, "x", Some("stop"))),
        SseStep::text(&usage_chunk(1, 2)),
        SseStep::text(DONE),
    ]));
    srv.push(Reply::Sse(vec![
        SseStep::text(&chat_chunk(0, "partial", None)),
        SseStep::Drop,
    ]));
    let body = json!({"model": "m", "stream": true, "messages": []});
    let ev = sse_events(
        &post(&srv, "/chat/completions", body.clone())
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(ev[0]["choices"][0]["delta"]["content"], "Hello");
    assert_eq!(ev[1]["choices"][0]["text"], "x");
    assert_eq!(ev[2]["usage"]["total_tokens"], 3);

    let mut r = post(&srv, "/chat/completions", body.clone()).await;
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("partial"));
    let rest = r.chunk().await;
    assert!(
        rest.is_err(),
        "a dropped stream must be an error, got {rest:?}"
    );
    assert_eq!(
        srv.disconnects(),
        0,
        "a scripted drop is not a client disconnect"
    );
}

#[tokio::test]
async fn hang_times_out_on_client() {
    let srv = FakeServer::start();
    srv.push(Reply::Hang);
    let t0 = Instant::now();
    let r = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .post(format!("{}/chat/completions", srv.url()))
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await;
    let e = r.expect_err("must time out");
    assert!(e.is_timeout(), "{e:?}");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn hang_after_headers_and_disconnect_count() {
    let srv = FakeServer::start();
    srv.push(Reply::HangAfterHeaders);
    let mut r = post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let chunk = tokio::time::timeout(Duration::from_millis(200), r.chunk()).await;
    assert!(chunk.is_err(), "no body should arrive");
    drop(r);
    srv.wait_disconnects_async(1, SECS5).await;
}

#[tokio::test]
async fn close_without_response_is_an_error() {
    let srv = FakeServer::start();
    srv.push(Reply::Close);
    let r = client()
        .post(format!("{}/chat/completions", srv.url()))
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await;
    assert!(r.is_err());
    assert_eq!(srv.wait_requests(1, SECS5).len(), 1);
}

#[tokio::test]
async fn dropping_a_stream_counts_as_disconnect_and_token_delay_applies() {
    let srv = FakeServer::start();
    srv.set_token_delay(Duration::from_millis(40));
    let words = vec!["w"; 40].join(" ");
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": words}]});
    let mut r = post(&srv, "/chat/completions", body.clone()).await;
    let mut got = String::new();
    while !got.contains("echo:") {
        got.push_str(&String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()));
    }
    drop(r);
    // Only a stream cut short counts (a complete one would not).
    assert_eq!(srv.wait_disconnects_async(1, SECS5).await, 1);

    // A fully read stream is not a disconnect, and takes ≥ delay × (events-1).
    srv.set_token_delay(Duration::from_millis(15));
    let t0 = Instant::now();
    let body =
        json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "a b c"}]});
    let ev = sse_events(
        &post(&srv, "/chat/completions", body)
            .await
            .text()
            .await
            .unwrap(),
    );
    // role + 4 tokens + finish = 6 events → 5 delays.
    assert_eq!(ev.len(), 7);
    assert!(
        t0.elapsed() >= Duration::from_millis(75),
        "{:?}",
        t0.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(srv.disconnects(), 1);
}

#[test]
fn works_from_sync_code_and_stops_on_drop() {
    let srv = FakeServer::start();
    let addr = srv.addr();
    // Raw HTTP/1.1 by hand.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"raw"}]}"#;
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Connection: close"));
    assert!(resp.contains("echo: raw"));
    let reqs = srv.wait_requests(1, SECS5);
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    drop(srv);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "server must stop on drop"
    );
}

#[test]
#[should_panic(expected = "expected at least 2 request(s)")]
fn wait_requests_panics_clearly() {
    let srv = FakeServer::start();
    srv.wait_requests(2, Duration::from_millis(50));
}

#[test]
fn mask_key_never_reveals_key() {
    assert_eq!(mask_key("sk-test-NOT-A-REAL-KEY"), "sk-te*************-KEY");
    assert_eq!(mask_key("short"), "sh***");
}

// ---------------------------------------------------------------------------
// Tui

fn sh(script: &str, cols: u16, rows: u16) -> Tui {
    Tui::spawn_cmd(
        Path::new("/bin/sh"),
        &["-c", script],
        &[("FOO", "bar")],
        cols,
        rows,
    )
}

#[test]
fn tui_answers_cursor_position_and_device_attributes() {
    let mut t = sh(
        r#"stty -echo -icanon min 1; printf '\033[?1049h\033[3;5H\033[6n'; x=$(dd bs=6 count=1 2>/dev/null); printf '\033[?u\033[c'; y=$(dd bs=7 count=1 2>/dev/null); stty sane; printf '\033[H'; printf 'got:%s|%s\n' "$x" "$y" | tr '\033' E; read z; printf '\033[?1049l'; echo "z=$z""#,
        80,
        24,
    );
    t.wait_for("got:E[3;5R|E[?1;2c", SECS5);
    assert!(t.alternate_screen());
    t.send("typed");
    t.key(Key::Enter);
    let st = t.wait_exit(SECS5);
    assert!(st.success());
    assert!(!t.alternate_screen());
    assert!(t.screen().contains("z=typed"), "{}", t.screen());
    let raw = t.raw_output();
    assert!(raw.windows(8).any(|w| w == b"\x1b[?1049l"));
    assert_eq!(t.termios_is_cooked(), Some(true));
}

#[test]
fn tui_resize_env_and_exit_status() {
    let mut t = sh(
        r#"echo "H=$HOME"; echo "T=$TERM F=$FOO"; echo "C=$XDG_CONFIG_HOME"; echo "P=$(pwd)"; stty size; read x; stty size; printf '\033[?25l'; read y; exit 3"#,
        80,
        24,
    );
    t.wait_for("24 80", SECS5);
    let home = t.home().to_str().unwrap().to_string();
    let screen = t.screen();
    assert!(screen.contains(&format!("H={home}")), "{screen}");
    assert!(screen.contains("T=xterm-256color F=bar"), "{screen}");
    assert!(screen.contains(&format!("C={home}/.config")), "{screen}");
    assert!(t.home().join(".config").is_dir());
    assert!(t.cursor_visible());
    t.resize(100, 30);
    t.key(Key::Enter);
    t.wait_for("30 100", SECS5);
    t.wait_until("cursor hidden", SECS5, |s| s.hide_cursor());
    assert!(!t.cursor_visible());
    t.key(Key::Enter);
    let st = t.wait_exit(SECS5);
    assert!(!st.success());
    assert_eq!(st.exit_code(), 3);
}

#[test]
fn tui_keys_and_paste_bytes() {
    let mut t = sh("stty -echo; exec cat -v", 80, 24);
    std::thread::sleep(Duration::from_millis(100)); // let stty run before typing
    t.send("x");
    for k in [
        Key::Up,
        Key::F(5),
        Key::Alt('b'),
        Key::Ctrl('a'),
        Key::PageDown,
    ] {
        t.key(k);
    }
    t.key(Key::Enter);
    t.wait_for("x^[[A^[[15~^[b^A^[[6~", SECS5);
    t.paste("hi");
    t.key(Key::Enter);
    t.wait_for("^[[200~hi^[[201~", SECS5);
    t.key(Key::Ctrl('d'));
    assert!(t.wait_exit(SECS5).success());
}

#[test]
fn key_encodings() {
    assert_eq!(Key::Up.bytes(false), b"\x1b[A");
    assert_eq!(Key::Up.bytes(true), b"\x1bOA");
    assert_eq!(Key::Backspace.bytes(false), b"\x7f");
    assert_eq!(Key::Tab.bytes(false), b"\t");
    assert_eq!(Key::BackTab.bytes(false), b"\x1b[Z");
    assert_eq!(Key::AltEnter.bytes(false), b"\x1b\r");
    assert_eq!(Key::Ctrl('C').bytes(false), b"\x03");
    assert_eq!(Key::F(1).bytes(false), b"\x1bOP");
    assert_eq!(Key::F(12).bytes(false), b"\x1b[24~");
    assert_eq!(Key::Alt('é').bytes(false), "\x1bé".as_bytes());
}

#[test]
fn tui_detects_raw_mode_left_behind() {
    let mut t = sh("stty raw -echo; echo done; exit 0", 80, 24);
    t.wait_exit(SECS5);
    assert_eq!(t.termios_is_cooked(), Some(false));
}

#[test]
fn tui_wait_for_panics_with_screen() {
    let mut t = sh("echo visible-text; sleep 5", 80, 24);
    t.wait_for("visible-text", SECS5);
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        t.wait_for("never-there", Duration::from_millis(100))
    }))
    .expect_err("must panic");
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("never-there") && msg.contains("visible-text"),
        "{msg}"
    );
    // Drop kills the sleeping shell.
    let t0 = Instant::now();
    drop(t);
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn schema_errors_flag_bad_request_bodies() {
    let srv = FakeServer::start();
    // Valid bodies: no errors.
    post(
        &srv,
        "/chat/completions",
        json!({"model": "fake-small", "stream": true, "stream_options": {"include_usage": true},
               "max_tokens": 10, "stop": ["a"], "n": 2, "temperature": 0.5,
               "messages": [{"role": "system", "content": "s"},
                            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                            {"role": "assistant", "content": "yo"}]}),
    )
    .await;
    post(
        &srv,
        "/completions",
        json!({"model": "fake-small", "prompt": "p", "suffix": "s", "best_of": 2, "max_tokens": 5}),
    )
    .await;
    assert_eq!(srv.schema_errors(), Vec::<String>::new());

    // Invalid: wrong role, empty messages, out-of-range temperature, missing prompt.
    post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "messages": [{"role": "bot", "content": "x"}]}),
    )
    .await;
    post(
        &srv,
        "/chat/completions",
        json!({"model": "m", "messages": [], "temperature": 7}),
    )
    .await;
    post(&srv, "/completions", json!({"model": "m"})).await;
    let errs = srv.schema_errors();
    assert!(
        errs.iter()
            .any(|e| e.contains("#2") && e.contains("/messages/0")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("#3") && e.contains("/messages: fewer than 1 items")),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("#3") && e.contains("/temperature: 7 > maximum 2")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("POST /v1/completions #4")
            && e.contains("missing required property \"prompt\"")),
        "{errs:#?}"
    );
}
