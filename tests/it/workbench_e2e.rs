//! The API workbench in the real binary: a PTY against the fake server behaving like
//! llama.cpp (its context window, exact counts, reasoning, usage details), and `chat-tui
//! list --cost` on a real library.

use crate::support;

use std::time::Duration;

use chat_tui::api::{Mode, Usage};
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use chat_tui::store::library::Library;
use support::fake_server::FakeServer;
use support::pty::{Key, Tui};

const T: Duration = Duration::from_secs(15);

#[test]
fn the_server_window_exact_counts_and_reasoning_show_in_the_app() {
    let srv = FakeServer::start();
    srv.set_llama_cpp(Some(2048), None);
    srv.set_reasoning("reasoning_content", "I think so");
    srv.set_usage_details(1, 1);
    let url = srv.url();
    let mut t = Tui::spawn(&["--base-url", &url, "--model", "fake-llama"], &[], 110, 32);
    t.wait_for("Welcome to chat-tui", T);
    // The server's window, from its model list.
    t.wait_for("/ 2,048 context (server)", T);
    // Typing, then a pause: the server counts the draft and the next request exactly.
    t.send("hello there world");
    t.wait_for("draft 3 exact · next request 3 exact", T);
    t.key(Key::Enter);
    t.wait_for("echo: hello there world", T);
    t.wait_for("▸ thinking", T);
    // The details beside what they are part of (the words shorten to fit the panel).
    t.wait_for("4 (1 reasoning) · total 7", T);
    assert!(t.screen().contains("3 (1 cached)"), "{}", t.screen());
    assert!(!t.screen().contains("I think so"), "collapsed");
    // In the conversation pane, `t` opens the reasoning.
    t.key(Key::Tab);
    t.wait_for("t thinking", T);
    t.send("t");
    t.wait_for("▾ thinking", T);
    t.wait_for("│ I think so", T);
    // The next request carries the reply, never the reasoning.
    t.key(Key::Esc);
    t.send("again");
    t.key(Key::Enter);
    let reqs = srv.wait_completions(2, T);
    let body = reqs[1].body_str();
    assert!(body.contains("echo: hello there world"), "{body}");
    assert!(!body.contains("I think so"), "{body}");
    // The exact counts were asked at the server's root, not under /v1.
    let paths: Vec<String> = srv.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().any(|p| p == "/apply-template"), "{paths:?}");
    assert!(paths.iter().any(|p| p == "/tokenize"), "{paths:?}");
}

fn saved(lib: &Library, id: &str, model: &str, answered_by: &str, usage: Usage) {
    let mut c = Conversation::new(model, Mode::Chat, Memory::Full);
    c.id = id.to_string();
    c.push(Speaker::User, "hello");
    let r = c.push_reply(&Default::default(), model);
    let m = c.get_mut(r).unwrap();
    m.choice_mut(0).text = "hi".into();
    m.status = Status::Complete;
    m.model = Some(answered_by.to_string());
    m.usage = Some(usage);
    lib.save(&c).unwrap();
}

fn list_cost(home: &std::path::Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chat-tui"))
        .args(["list", "--cost"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn list_shows_what_each_conversation_cost() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let lib = Library::open(h.join(".local/share/chat-tui/conversations")).unwrap();
    let million = |p, c, cached| Usage {
        prompt_tokens: p,
        completion_tokens: c,
        total_tokens: p + c,
        cached_tokens: cached,
        ..Usage::default()
    };
    // gpt-4o-mini (answered by a dated snapshot): 1M prompt tokens, half of them cached,
    // and 1M completion tokens: 0.5 × $0.15 + 0.5 × $0.075 + $0.60.
    saved(
        &lib,
        "priced",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        million(1_000_000, 1_000_000, Some(500_000)),
    );
    saved(&lib, "local", "smollm2", "smollm2", million(100, 100, None));
    let out = list_cost(h);
    let line = |id: &str| {
        out.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} in {out}"))
            .to_string()
    };
    assert!(line("priced").contains("$0.7125"), "{out}");
    assert!(line("local").contains(" - "), "no price, no cost: {out}");
    // The config's prices: the local model gets one.
    std::fs::create_dir_all(h.join(".config/chat-tui")).unwrap();
    std::fs::write(
        h.join(".config/chat-tui/config.toml"),
        "[prices.smollm2]\ninput = 1000\noutput = 1000\n",
    )
    .unwrap();
    let out = list_cost(h);
    assert!(
        out.lines()
            .find(|l| l.starts_with("local"))
            .unwrap()
            .contains("$0.2000"),
        "{out}"
    );
}

#[test]
fn headless_adapts_to_reasoning_models_and_to_what_a_server_refuses() {
    use support::fake_server::Unsupported;
    let srv = FakeServer::start();
    srv.set_unsupported(vec![Unsupported::Value("seed".into())]);
    srv.set_usage_details(2, 1);
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chat-tui"))
        .args([
            "-p",
            "one two three",
            "--base-url",
            &srv.url(),
            "--model",
            "o3-mini",
        ])
        .args(["--temperature", "0.2", "--max-tokens", "2", "--seed", "7"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let reqs = srv.completions();
    assert_eq!(reqs.len(), 2, "sent again once, without seed");
    let last = reqs[1].json();
    assert_eq!(last["max_completion_tokens"], 2);
    assert!(last.get("temperature").is_none() && last.get("max_tokens").is_none());
    assert!(last.get("seed").is_none());
    assert!(
        stderr.contains(
            "chat-tui: note: seed not sent (o3-mini refused it: Unsupported value: 'seed'"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("reasoning_tokens=2 cached_tokens=1"),
        "{stderr}"
    );
}

#[test]
fn the_token_view_shows_the_rows_and_their_probabilities() {
    let srv = FakeServer::start();
    let url = srv.url();
    let mut t = Tui::spawn(
        &["--base-url", &url, "--model", "fake", "--logprobs", "3"],
        &[],
        100,
        30,
    );
    t.wait_for("Welcome to chat-tui", T);
    t.send("hello there");
    t.key(Key::Enter);
    t.wait_for("echo: hello there", T);
    t.send("/logprobs");
    t.key(Key::Enter);
    t.wait_for("tokens of", T);
    // The fake model's tokens: `echo:`, ` hello`, ` there` (probabilities e^0, e^-0.25,
    // e^-0.5), each with its alternatives `alt1`, `alt2`.
    // (Each waited for: a frame can be read half drawn.)
    t.wait_for("3 tokens", T);
    t.wait_for("1 echo:                 100 %", T);
    t.wait_for("2 ·hello               77.9 %", T);
    t.wait_for("3 ·there               60.7 %", T);
    t.wait_for("alt1 22.3 %", T);
    // The cursor token's alternatives, the generated one marked.
    t.wait_for("✓ echo:", T);
    // Enter in chat mode: said, nothing sent.
    t.key(Key::Down);
    t.key(Key::Enter);
    t.wait_for("needs completion mode", T);
    assert_eq!(srv.completions().len(), 1);
    t.key(Key::Esc);
}

#[test]
fn continuing_from_a_token_sends_the_exact_prefix_and_keeps_the_old_version() {
    let srv = FakeServer::start();
    let url = srv.url();
    let mut t = Tui::spawn(
        &[
            "--base-url",
            &url,
            "--model",
            "fake",
            "--mode",
            "completion",
            "--logprobs",
            "3",
        ],
        &[],
        100,
        30,
    );
    t.wait_for("Welcome to chat-tui", T);
    t.send("hello");
    t.key(Key::Enter);
    let first = srv.wait_completions(1, T);
    let prompt = first[0].json()["prompt"].as_str().unwrap().to_string();
    // The fake model echoes the prompt's last line: `echo: Assistant:`, two tokens.
    t.wait_for("echo: Assistant:", T);
    t.send("/logprobs");
    t.key(Key::Enter);
    t.wait_for("2 tokens", T);
    // The second token, its second alternative (`alt1`), Enter.
    t.key(Key::Down);
    t.key(Key::Right);
    t.key(Key::Right);
    t.key(Key::Enter);
    let reqs = srv.wait_completions(2, T);
    let body = reqs[1].json();
    assert_eq!(
        body["prompt"].as_str().unwrap(),
        format!("{prompt}echo:alt1"),
        "{body}"
    );
    // The reply lands as a new version; the old one is kept.
    t.wait_for("version 2/2", T);
    t.wait_for("echo:alt1echo:", T);
    // Again, from a token of the new version (it was itself sent with its beginning: the
    // prompt is still the question's, not doubled).
    t.send("/logprobs");
    t.key(Key::Enter);
    t.wait_for("4 tokens", T);
    t.key(Key::Down);
    t.key(Key::Down);
    t.key(Key::Enter);
    let reqs = srv.wait_completions(3, T);
    let body = reqs[2].json();
    assert_eq!(
        body["prompt"].as_str().unwrap(),
        format!("{prompt}echo:alt1echo:"),
        "{body}"
    );
    t.wait_for("version 3/3", T);
}
