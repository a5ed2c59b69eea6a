//! The transcript feature end to end: the real `chat-tui` binary (in a PTY, or as a plain
//! process for the CLI subcommands) against the fake OpenAI server.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chat_tui::api::types::{FinishReason, Mode};
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use chat_tui::store::{self, Library};
use serde_json::Value;
use support::fake_server::{FakeServer, Reply};
use support::pty::{Key, Tui};
use support::pty::{chat, flat, quit, send, wait_text};
use support::transcript::{home_env, load, transcripts_in};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";
const T: Duration = Duration::from_secs(10);

/// A HOME shared by several runs of the binary (each `Tui` would otherwise get its own).
struct Home {
    dir: tempfile::TempDir,
    key: String,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("chat-tui-transcripts")
                .tempdir()
                .unwrap(),
            key: KEY.to_string(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn env(&self) -> Vec<(String, String)> {
        home_env(self.path(), &self.key)
    }
    fn conv_dir(&self) -> PathBuf {
        self.path().join(".local/share/chat-tui/conversations")
    }
    /// The transcript files of the library (not the index, not temp files).
    fn transcripts(&self) -> Vec<PathBuf> {
        transcripts_in(&self.conv_dir())
    }
    /// The app in a PTY, talking to `srv`.
    fn tui(&self, srv: &FakeServer, args: &[&str]) -> Tui {
        let url = srv.url();
        let mut a = vec!["--base-url", url.as_str(), "--model", "fake-small"];
        a.extend_from_slice(args);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut t = Tui::spawn(&a, &env, 120, 40);
        t.wait_for("fake-small", T);
        t
    }
    /// The binary as a plain process (CLI subcommands).
    fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_chat-tui"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env())
            .current_dir(self.path())
            .output()
            .unwrap()
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The only transcript in the library.
fn only_transcript(home: &Home) -> PathBuf {
    let files = home.transcripts();
    assert_eq!(files.len(), 1, "expected one transcript: {files:?}");
    files[0].clone()
}

/// (speaker, text) of each message.
fn turns(c: &Conversation) -> Vec<(Speaker, String)> {
    c.messages
        .iter()
        .map(|m| (m.speaker, m.text().to_string()))
        .collect()
}

/// The `messages` of the last completion request, as (role, content).
fn last_request_messages(srv: &FakeServer) -> Vec<(String, String)> {
    let reqs: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/completions"))
        .collect();
    let body = reqs.last().expect("a completion request").json();
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {body}"))
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn last_request(srv: &FakeServer) -> Value {
    srv.requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/completions"))
        .expect("a completion request")
        .json()
}

/// Every regular file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd {
        let p = e.unwrap().path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            walk(&p, out);
        } else if md.is_file() {
            out.push(p);
        }
    }
}

/// A saved conversation made with the library API, with a chosen `updated` time.
fn saved(
    lib: &Library,
    id: &str,
    model: &str,
    user: &str,
    reply: &str,
    minutes_ago: i64,
) -> PathBuf {
    let mut c = Conversation::new(model, Mode::Chat, Memory::Full);
    c.id = id.to_string();
    c.push(Speaker::User, user);
    let r = c.push_reply(&Default::default(), model);
    let m = c.get_mut(r).unwrap();
    m.choice_mut(0).text = reply.to_string();
    m.status = Status::Complete;
    let t = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    c.created = t;
    c.updated = t;
    lib.save(&c).unwrap()
}

/// Poll until `pred` holds for the file's bytes (or panic after `timeout`).
fn wait_file(p: &Path, what: &str, timeout: Duration, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(b) = std::fs::read(p)
            && pred(&b)
        {
            return b;
        }
        if Instant::now() > deadline {
            panic!(
                "waiting for {} to {what}: timed out; it holds {:?}",
                p.display(),
                std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- 1. autosave ----

#[test]
fn autosave_writes_one_private_valid_transcript() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    send(&mut t, "/set temperature 0.3");
    chat(&mut t, "first question");
    chat(&mut t, "second question");
    t.wait_for("● idle", T);
    quit(&mut t);

    let file = only_transcript(&home);
    assert_eq!(mode(&file), 0o600, "{}", file.display());
    assert_eq!(mode(&home.conv_dir()), 0o700);
    assert_eq!(mode(home.conv_dir().parent().unwrap()), 0o700);
    let c = load(&file);
    assert_eq!(
        file.file_name().unwrap().to_string_lossy(),
        format!("{}.json", c.id)
    );
    assert_eq!(
        turns(&c),
        vec![
            (Speaker::User, "first question".into()),
            (Speaker::Assistant, "echo: first question".into()),
            (Speaker::User, "second question".into()),
            (Speaker::Assistant, "echo: second question".into()),
        ]
    );
    assert_eq!(c.title, "first question");
    assert_eq!(c.model, "fake-small");
    assert_eq!(c.mode, Mode::Chat);
    assert_eq!(c.memory, Memory::Full);
    assert_eq!(c.params.temperature, Some(0.3));
    for m in c
        .messages
        .iter()
        .filter(|m| m.speaker == Speaker::Assistant)
    {
        assert_eq!(m.status, Status::Complete);
        assert_eq!(m.choices[0].finish_reason, Some(FinishReason::Stop));
        let u = m.usage.expect("usage saved");
        assert!(u.total_tokens > 0 && u.total_tokens == u.prompt_tokens + u.completion_tokens);
        assert_eq!(m.params.as_ref().unwrap().temperature, Some(0.3));
        assert_eq!(m.model.as_deref(), Some("fake-small"));
    }
    // The request really carried the parameter.
    assert_eq!(last_request(&srv)["temperature"], 0.3);

    // The index and the listing know it.
    let out = home.cli(&["list"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&c.id) && stdout.contains("first question"),
        "{stdout}"
    );
    assert!(home.conv_dir().join("index.sqlite").is_file());
    let entries = Library::open(home.conv_dir()).unwrap().list().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, c.id);
    assert_eq!(entries[0].messages, 4);
    assert_eq!(entries[0].model, "fake-small");
}

// ---- 2. reopen and continue ----

#[test]
fn reopening_a_file_restores_it_and_continues() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    // A long first message, so that the start cannot fit on the screen.
    let long: String = (1..=40).map(|i| format!("line{i:02}\n")).collect();
    t.paste(&format!("{long}end of long"));
    t.key(Key::Enter);
    t.wait_for("echo: line01", T);
    // The whole reply: a message sent while it streams would be refused.
    t.wait_for("● idle", T);
    send(&mut t, "/set temperature 0.3");
    // (A command's notice crowds the status line for a while: do not wait for it there.)
    send(&mut t, "/memory last 1");
    chat(&mut t, "beta two");
    chat(&mut t, "gamma three");
    t.wait_for("● idle", T);
    quit(&mut t);
    let file = only_transcript(&home);

    // Reopen it by path: the end of the conversation is on screen, the settings are back.
    let file_s = file.to_string_lossy().into_owned();
    let mut t = home.tui(&srv, &[&file_s]);
    t.wait_for("echo: gamma three", T);
    t.wait_for("memory last 1", T);
    let screen = t.screen();
    assert!(
        !screen.contains("line01\n") && !screen.contains("│line01"),
        "{screen}"
    );
    chat(&mut t, "delta four");
    let body = last_request(&srv);
    assert_eq!(body["temperature"], 0.3, "{body}");
    // memory `last 1`: the turn before, then the question.
    assert_eq!(
        last_request_messages(&srv),
        vec![
            ("user".into(), "gamma three".into()),
            ("assistant".into(), "echo: gamma three".into()),
            ("user".into(), "delta four".into()),
        ]
    );
    send(&mut t, "/memory full");
    send(&mut t, "/mode completion");
    quit(&mut t);
    assert_eq!(home.transcripts(), vec![file.clone()], "still one file");
    let c = load(&file);
    assert_eq!(c.messages.len(), 8);
    assert_eq!(c.mode, Mode::Completion);

    // `--open PATH`: completion mode, full memory; the prompt carries every earlier turn.
    let mut t = home.tui(&srv, &["--open", &file_s]);
    t.wait_for("echo: delta four", T);
    t.wait_for("· completion ·", T);
    send(&mut t, "epsilon five");
    // In completion mode the fake model echoes the prompt's last line, `Assistant:`.
    t.wait_for("echo: Assistant:", T);
    let reqs = srv.completions();
    let last = reqs.last().unwrap();
    assert_eq!(last.path, "/v1/completions");
    let prompt = last.json()["prompt"].as_str().unwrap().to_string();
    for s in [
        "line01",
        "beta two",
        "echo: gamma three",
        "delta four",
        "epsilon five",
    ] {
        assert!(
            prompt.contains(s),
            "{s:?} missing from the prompt {prompt:?}"
        );
    }
    assert_eq!(last.json()["temperature"], 0.3);
    t.wait_for("● idle", T);
    quit(&mut t);
    assert_eq!(load(&file).messages.len(), 10);
}

// ---- 3. --resume ----

#[test]
fn resume_reopens_the_most_recent_conversation() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &["--resume"]);
    t.wait_for("no saved conversation to resume", T);
    chat(&mut t, "older talk");
    quit(&mut t);
    let mut t = home.tui(&srv, &[]);
    chat(&mut t, "newer talk");
    quit(&mut t);
    assert_eq!(home.transcripts().len(), 2);

    // A broken file, newer than both, is listed as unreadable and skipped by --resume.
    let broken = home.conv_dir().join("broken-one.json");
    std::fs::write(&broken, b"{\"format\": \"chat-tui-transcript\", \"vers").unwrap();
    let out = home.cli(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("broken-one  ") && first.contains("[unreadable: the file ends too early"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    let mut t = home.tui(&srv, &["--resume"]);
    t.wait_for("echo: newer talk", T);
    assert!(!t.screen().contains("older talk"), "{}", t.screen());
    chat(&mut t, "more please");
    let msgs = last_request_messages(&srv);
    assert_eq!(msgs[0], ("user".into(), "newer talk".into()), "{msgs:?}");
    quit(&mut t);
    assert_eq!(
        std::fs::read(&broken).unwrap(),
        b"{\"format\": \"chat-tui-transcript\", \"vers"
    );
    let files: Vec<PathBuf> = home
        .transcripts()
        .into_iter()
        .filter(|p| *p != broken)
        .collect();
    assert_eq!(files.len(), 2, "resuming does not make a new file");
    let resumed: Vec<Conversation> = files
        .iter()
        .map(|f| load(f))
        .filter(|c| c.title == "newer talk")
        .collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].messages.len(), 4);
}

// ---- 4. kill -9 mid-stream ----

#[test]
fn sigkill_mid_stream_leaves_a_valid_file() {
    let srv = FakeServer::start();
    let words: Vec<String> = (0..150).map(|i| format!("word{i:03}")).collect();
    let full = words.join(" ");
    // Kill: as soon as the streaming turn's question is saved; once part of the reply is;
    // once a good part of it is.
    for (run, min_words) in [0usize, 1, 40].into_iter().enumerate() {
        srv.set_token_delay(Duration::ZERO);
        let home = Home::new();
        let mut t = home.tui(&srv, &[]);
        chat(&mut t, "warm up");
        chat(&mut t, "second warm up");
        let file = only_transcript(&home);
        srv.set_token_delay(Duration::from_millis(30));
        srv.push(Reply::Text(vec![full.clone()]));
        send(&mut t, "tell me a long story");
        let want = if min_words == 0 {
            "tell me a long story".to_string()
        } else {
            format!("word{:03}", min_words - 1)
        };
        wait_file(&file, &format!("contain {want:?}"), T, |b| {
            String::from_utf8_lossy(b).contains(&want)
        });
        let st = t.sigkill();
        assert!(!st.success(), "{st:?}");
        assert!(st.signal().is_some_and(|s| s.contains("Kill")), "{st:?}");

        let c = load(&file);
        let tr = turns(&c);
        assert!(tr.len() >= 5, "run {run}: {tr:?}");
        assert_eq!(
            tr[..5],
            [
                (Speaker::User, "warm up".into()),
                (Speaker::Assistant, "echo: warm up".into()),
                (Speaker::User, "second warm up".into()),
                (Speaker::Assistant, "echo: second warm up".into()),
                (Speaker::User, "tell me a long story".into()),
            ],
            "run {run}"
        );
        for m in &c.messages[..4] {
            assert_eq!(m.status, Status::Complete, "run {run}");
        }
        if min_words > 0 {
            assert_eq!(tr.len(), 6, "run {run}: {tr:?}");
        }
        if let Some(m) = c.messages.get(5) {
            assert_eq!(m.speaker, Speaker::Assistant);
            assert_eq!(m.status, Status::Partial, "run {run}");
            let text = m.text();
            assert!(full.starts_with(text), "run {run}: {text:?}");
            assert!(
                text.len() < full.len(),
                "run {run}: the reply was still streaming"
            );
            assert!(
                text.split_whitespace().count() >= min_words,
                "run {run}: {text:?}"
            );
        }
        assert_eq!(c.messages.len(), tr.len().min(6), "run {run}");
        // The library still lists it, readable.
        let out = home.cli(&["list"]);
        assert!(out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("warm up") && !stdout.contains("unreadable"),
            "{stdout}"
        );
    }
    srv.set_token_delay(Duration::ZERO);
}

// ---- 5. corrupt, truncated and future-version files ----

#[test]
fn broken_files_are_reported_and_left_untouched() {
    let srv = FakeServer::start();
    let cases: [(&str, &[u8], &[&str]); 4] = [
        (
            "truncated.json",
            b"{\"format\": \"chat-tui-transcript\", \"version\": 1,\n  \"conversation\": {\"id\": \"abc\", \"title\": \"cut",
            &["truncated.json", "ends too early at line 2, column"],
        ),
        (
            "syntax.json",
            b"{\"format\": \"chat-tui-transcript\",\n  \"version\": 1,\n  \"conversation\": {,}}\n",
            &["syntax.json", "invalid JSON at line 3, column 20: key must be a string"],
        ),
        (
            "future.json",
            b"{\"format\": \"chat-tui-transcript\", \"version\": 99, \"conversation\": {\"new\": true}}\n",
            &["future.json", "version 99", "upgrade"],
        ),
        (
            "empty.json",
            b"",
            &["empty.json", "the file is empty"],
        ),
    ];
    for (name, bytes, expect) in cases {
        let home = Home::new();
        let bad = home.path().join(name);
        std::fs::write(&bad, bytes).unwrap();
        let mtime = std::fs::metadata(&bad).unwrap().modified().unwrap();
        let bad_s = bad.to_string_lossy().into_owned();

        let mut t = home.tui(&srv, &[&bad_s]);
        for e in expect {
            wait_text(&mut t, e);
        }
        wait_text(&mut t, "left untouched; starting a new conversation");
        chat(&mut t, "fresh start");
        quit(&mut t);
        assert_eq!(std::fs::read(&bad).unwrap(), bytes, "{name} was changed");
        assert_eq!(std::fs::metadata(&bad).unwrap().modified().unwrap(), mtime);
        let saved = only_transcript(&home);
        assert_eq!(
            turns(&load(&saved))[0],
            (Speaker::User, "fresh start".into())
        );
        let leftovers: Vec<_> = std::fs::read_dir(home.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(name) && n != name)
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        let out = home.cli(&["export", &bad_s]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for e in expect {
            assert!(stderr.contains(e), "{name}: {e:?} not in {stderr:?}");
        }
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read(&bad).unwrap(), bytes);
    }
}

// ---- 6. /save, /export, OpenAI messages arrays ----

#[test]
fn save_and_export_write_where_asked() {
    let srv = FakeServer::start();
    let home = Home::new();
    let out_dir = home.path().join("out");
    let json_path = out_dir.join("chat.json");
    let md_path = out_dir.join("chat.md");
    let export_path = out_dir.join("export.md");
    let mut t = home.tui(&srv, &[]);
    chat(&mut t, "what is rust");
    send(&mut t, &format!("/save {}", json_path.display()));
    wait_text(&mut t, "saved to");
    let c = load(&json_path);
    assert_eq!(c.messages.len(), 2);
    assert_eq!(mode(&json_path), 0o600);
    assert_eq!(mode(&out_dir), 0o700, "a folder /save creates is private");

    // Later messages go to that file too.
    chat(&mut t, "and what is cargo");
    wait_file(&json_path, "hold the second turn", T, |b| {
        store::parse(b)
            .is_ok_and(|c| c.messages.len() == 4 && c.messages[3].status == Status::Complete)
    });
    assert_eq!(
        turns(&load(&json_path))[3],
        (Speaker::Assistant, "echo: and what is cargo".into())
    );

    // Markdown: /save PATH.md and /export PATH.md.
    send(&mut t, &format!("/save {}", md_path.display()));
    let md = wait_file(&md_path, "be written", T, |b| !b.is_empty());
    send(&mut t, &format!("/export {}", export_path.display()));
    let exported = wait_file(&export_path, "be written", T, |b| !b.is_empty());
    for bytes in [&md, &exported] {
        let md = String::from_utf8_lossy(bytes);
        assert!(md.starts_with("# what is rust\n"), "{md}");
        assert!(md.contains("- Model: fake-small"), "{md}");
        for s in [
            "what is rust",
            "echo: what is rust",
            "and what is cargo",
            "echo: and what is cargo",
        ] {
            assert!(md.contains(s), "{s:?} missing:\n{md}");
        }
    }
    // Markdown does not switch where the conversation is saved.
    chat(&mut t, "third one");
    wait_file(&json_path, "hold the third turn", T, |b| {
        store::parse(b).is_ok_and(|c| c.messages.len() == 6)
    });
    quit(&mut t);
    assert_eq!(load(&json_path).messages.len(), 6);
    assert!(!String::from_utf8_lossy(&std::fs::read(&md_path).unwrap()).contains("third one"));
    assert!(!String::from_utf8_lossy(&std::fs::read(&export_path).unwrap()).contains("third one"));
}

#[test]
fn an_openai_messages_array_opens_as_a_conversation() {
    let srv = FakeServer::start();
    let home = Home::new();
    let arr = home.path().join("openai.json");
    std::fs::write(
        &arr,
        r#"[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]"#,
    )
    .unwrap();
    let arr_s = arr.to_string_lossy().into_owned();
    let url = srv.url();
    let env = home.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut t = Tui::spawn(
        &["--base-url", &url, "--model", "fake-small", &arr_s],
        &env,
        120,
        40,
    );
    t.wait_for("hello", T);
    t.wait_for("hi", T);
    chat(&mut t, "how are you");
    // The array names no model: the configured one is used.
    assert_eq!(last_request(&srv)["model"], "fake-small");
    assert_eq!(
        last_request_messages(&srv),
        vec![
            ("user".into(), "hi".into()),
            ("assistant".into(), "hello".into()),
            ("user".into(), "how are you".into()),
        ]
    );
    quit(&mut t);
    // It keeps being saved where it is, now as a transcript with every turn.
    let c = load(&arr);
    assert_eq!(
        turns(&c),
        vec![
            (Speaker::User, "hi".into()),
            (Speaker::Assistant, "hello".into()),
            (Speaker::User, "how are you".into()),
            (Speaker::Assistant, "echo: how are you".into()),
        ]
    );
    assert_eq!(c.title, "hi");

    // The same from inside the app, with /open; a broken file is refused, untouched.
    let arr2 = home.path().join("second.json");
    std::fs::write(&arr2, r#"[{"role":"user","content":"ping"}]"#).unwrap();
    let bad = home.path().join("bad.json");
    std::fs::write(&bad, "[{\"role\": \"user\",").unwrap();
    let mut t = home.tui(&srv, &[]);
    send(&mut t, &format!("/open {}", bad.display()));
    wait_text(&mut t, "bad.json: the file ends too early at line 1");
    send(&mut t, &format!("/open {}", arr2.display()));
    t.wait_for("ping", T);
    chat(&mut t, "pong?");
    assert_eq!(last_request(&srv)["model"], "fake-small");
    assert_eq!(
        last_request_messages(&srv),
        vec![
            ("user".into(), "ping".into()),
            ("user".into(), "pong?".into())
        ]
    );
    quit(&mut t);
    assert_eq!(std::fs::read(&bad).unwrap(), b"[{\"role\": \"user\",");
    assert_eq!(load(&arr2).messages.len(), 3);
}

#[test]
fn an_imported_system_message_is_sent() {
    let srv = FakeServer::start();
    let home = Home::new();
    let arr = home.path().join("openai.json");
    std::fs::write(
        &arr,
        r#"[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]"#,
    )
    .unwrap();
    let mut t = home.tui(&srv, &[&arr.to_string_lossy()]);
    t.wait_for("be brief", T);
    chat(&mut t, "how are you");
    assert_eq!(
        last_request_messages(&srv)[0],
        ("system".into(), "be brief".into())
    );
}

// ---- 7. CLI: list, list --search, export ----

#[test]
fn cli_list_search_and_export() {
    let home = Home::new();
    let lib = Library::open(home.conv_dir()).unwrap();
    saved(
        &lib,
        "alpha-001",
        "fake-small",
        "Oldest about rust",
        "Rust is a language.",
        30,
    );
    saved(
        &lib,
        "beta-002",
        "fake-large",
        "海洋污染對哪個地區影響最大",
        "太平洋的垃圾帶 tentacle",
        20,
    );
    saved(
        &lib,
        "gamma-003",
        "fake-small",
        "Newest about cargo",
        "Cargo builds it.",
        10,
    );

    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let out = home.cli(&["list"]);
    assert!(out.status.success());
    let lines: Vec<String> = text(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let expect = [
        ("gamma-003", "Newest about cargo"),
        ("beta-002", "海洋污染對哪個地區影響最大"),
        ("alpha-001", "Oldest about rust"),
    ];
    for (line, (id, title)) in lines.iter().zip(expect) {
        assert!(line.starts_with(id), "{line}");
        assert!(line.ends_with(title), "{line}");
        // id, date, title
        let date = line[id.len()..].trim_start();
        assert!(
            date.len() > 16 && date.as_bytes()[4] == b'-' && date.as_bytes()[13] == b':',
            "{line}"
        );
    }

    // Search: titles and message text (replies too), case-insensitive, CJK.
    let ids = |args: &[&str]| -> Vec<String> {
        let o = home.cli(args);
        assert!(o.status.success(), "{args:?}");
        text(&o)
            .lines()
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&["list", "--search", "CARGO"]), ["gamma-003"]);
    assert_eq!(ids(&["list", "--search", "language"]), ["alpha-001"]);
    assert_eq!(ids(&["list", "--search", "海洋"]), ["beta-002"]);
    assert_eq!(ids(&["list", "--search", "垃圾"]), ["beta-002"]);
    assert_eq!(ids(&["list", "-s", "about"]), ["gamma-003", "alpha-001"]);
    assert!(ids(&["list", "--search", "nowhere-to-be-found"]).is_empty());

    // Export by id or prefix.
    let out = home.cli(&["export", "beta", "--format", "md"]);
    assert!(out.status.success());
    let md = text(&out);
    assert!(md.starts_with("# 海洋污染對哪個地區影響最大\n"), "{md}");
    assert!(
        md.contains("- Model: fake-large") && md.contains("太平洋的垃圾帶"),
        "{md}"
    );
    let out = home.cli(&["export", "gamma-003", "--format", "json"]);
    assert!(out.status.success());
    let c = store::parse(&out.stdout).unwrap();
    assert_eq!(c.id, "gamma-003");
    assert_eq!(
        turns(&c),
        vec![
            (Speaker::User, "Newest about cargo".into()),
            (Speaker::Assistant, "Cargo builds it.".into()),
        ]
    );
    assert_eq!(
        out.stdout,
        std::fs::read(home.conv_dir().join("gamma-003.json")).unwrap(),
        "the JSON export is the saved document"
    );
    let out = home.cli(&["export", "gam"]);
    assert!(out.status.success() && text(&out).starts_with("# Newest about cargo"));

    // Unknown and ambiguous ids.
    let out = home.cli(&["export", "zeta"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no saved conversation matches \"zeta\""),
        "{err}"
    );
    saved(&lib, "gamma-004", "fake-small", "Another", "reply", 5);
    let out = home.cli(&["export", "gamma"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"gamma\" matches 2 conversations") && err.contains("gamma-004"),
        "{err}"
    );
}

// ---- 8. the /sessions browser ----

/// The row of the screen that contains `text`.
fn row_of(screen: &str, text: &str) -> Option<usize> {
    screen.lines().position(|l| l.contains(text))
}

#[test]
fn sessions_browser_lists_filters_opens_renames_and_deletes() {
    let srv = FakeServer::start();
    let home = Home::new();
    let lib = Library::open(home.conv_dir()).unwrap();
    let old = saved(
        &lib,
        "s-old",
        "fake-small",
        "Old chat about tides",
        "tides reply",
        30,
    );
    let mid = saved(
        &lib,
        "s-mid",
        "fake-large",
        "海洋污染對哪個地區影響最大",
        "太平洋 reply",
        20,
    );
    let new = saved(
        &lib,
        "s-new",
        "fake-small",
        "Newest chat about moons",
        "moons reply",
        10,
    );

    let mut t = home.tui(&srv, &[]);
    send(&mut t, "/sessions");
    t.wait_for("3 conversations", T);
    let screen = t.screen();
    let rows: Vec<usize> = [
        "Newest chat about moons",
        "海洋污染",
        "Old chat about tides",
    ]
    .iter()
    .map(|s| row_of(&screen, s).unwrap_or_else(|| panic!("{s} not listed:\n{screen}")))
    .collect();
    assert!(
        rows[0] < rows[1] && rows[1] < rows[2],
        "newest first:\n{screen}"
    );
    let mid_row = screen.lines().nth(rows[1]).unwrap();
    assert!(
        mid_row.contains("fake-large") && mid_row.contains("2 msgs"),
        "{mid_row}"
    );

    // Typing filters (message text too); Enter opens the selection.
    t.send("太平洋");
    t.wait_for("1 conversations", T);
    assert!(!t.screen().contains("Newest chat about moons"));
    t.key(Key::Enter);
    t.wait_for("太平洋 reply", T);
    t.wait_for("You", T);
    assert!(
        !t.screen().contains("1 conversations"),
        "the browser closed"
    );

    // The open conversation cannot be deleted.
    t.key(Key::Ctrl('o'));
    t.wait_for("3 conversations", T);
    t.send("太平洋");
    t.wait_for("1 conversations", T);
    t.key(Key::Delete);
    t.wait_for("for good? y / n", T);
    t.send("y");
    t.wait_for("that is the open conversation", T);
    assert!(mid.exists());
    t.key(Key::Esc);
    t.wait_until("the browser to close", T, |s| {
        !flat(s).contains("conversations —")
    });

    // Ctrl+O: rename the oldest one.
    t.key(Key::Ctrl('o'));
    t.wait_for("3 conversations", T);
    t.send("tides");
    t.wait_for("1 conversations", T);
    t.key(Key::Ctrl('r'));
    t.wait_for("new title:", T);
    for _ in 0.."Old chat about tides".chars().count() {
        t.key(Key::Backspace);
    }
    t.send("Renamed tides");
    t.key(Key::Enter);
    t.wait_for("renamed to Renamed tides", T);
    let c = load(&old);
    assert_eq!(c.title, "Renamed tides");
    assert_eq!(c.messages.len(), 2, "renaming keeps the messages");

    // Delete: n keeps the file, y deletes it.
    for _ in 0.."tides".len() {
        t.key(Key::Backspace);
    }
    t.wait_for("3 conversations", T);
    let screen = t.screen();
    assert!(
        row_of(&screen, "Newest chat about moons").unwrap()
            < row_of(&screen, "Renamed tides").unwrap()
    );
    // The first row (newest) is selected.
    t.key(Key::Delete);
    t.wait_for("for good? y / n", T);
    wait_text(&mut t, "delete “Newest chat about moons” for good?");
    t.send("n");
    t.wait_for("not deleted", T);
    assert!(new.exists());
    t.key(Key::Delete);
    t.wait_for("for good? y / n", T);
    t.send("y");
    t.wait_for("2 conversations", T);
    assert!(!new.exists(), "deleted");
    assert!(old.exists() && mid.exists());
    t.wait_for("deleted Newest chat about moons", T);
    let screen = t.screen();
    let listed: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("Newest chat about moons"))
        .collect();
    assert_eq!(listed.len(), 1, "only the message names it:\n{screen}");
    assert!(listed[0].contains("deleted"));
    t.key(Key::Esc);
    t.wait_until("the browser to close", T, |s| {
        !flat(s).contains("conversations —")
    });
    // The opened conversation continues.
    chat(&mut t, "more about the ocean");
    quit(&mut t);
    let c = load(&mid);
    assert_eq!(c.messages.len(), 4);
    assert_eq!(home.transcripts().len(), 2);
}

// ---- 9. the API key is never written ----

#[test]
fn the_api_key_is_never_written_to_disk() {
    const SECRET: &str = "sk-test-SECRET-do-not-save-123";
    let srv = FakeServer::start();
    srv.set_require_key(Some(SECRET));
    let mut home = Home::new();
    home.key = SECRET.to_string();
    let mut t = home.tui(&srv, &[]);
    chat(&mut t, "keep my secrets");
    let out = home.path().join("saved");
    send(&mut t, &format!("/save {}", out.join("a.json").display()));
    wait_file(&out.join("a.json"), "be written", T, |b| !b.is_empty());
    send(&mut t, &format!("/save {}", out.join("a.md").display()));
    send(&mut t, &format!("/export {}", out.join("b.md").display()));
    wait_file(&out.join("b.md"), "be written", T, |b| !b.is_empty());
    chat(&mut t, "second message");
    send(&mut t, "/rename secret test");
    quit(&mut t);
    // The key was really used.
    let reqs = srv.requests();
    assert!(reqs.len() >= 2);
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
    }
    // The CLI subcommands write the index too.
    assert!(home.cli(&["list"]).status.success());

    let mut files = Vec::new();
    walk(home.path(), &mut files);
    walk(t.home(), &mut files);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "a.json",
        "a.md",
        "b.md",
        "index.sqlite",
        "prompt-history.json",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    assert_eq!(home.transcripts().len(), 1, "the autosave before /save");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "{} holds the key", f.display());
        assert!(
            !text.contains("do-not-save"),
            "{} holds part of the key",
            f.display()
        );
        assert!(
            !text.to_ascii_lowercase().contains("authorization"),
            "{} mentions Authorization",
            f.display()
        );
    }
}

// ---- 10. titles ----

#[test]
fn titles_come_from_the_first_user_message() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    t.paste("\n   \n  Plan a trip to Kyoto  \nwith details on the second line");
    t.key(Key::Enter);
    t.wait_for("echo:", T);
    t.wait_for("● idle", T);
    chat(&mut t, "a later message");
    quit(&mut t);
    let c = load(&only_transcript(&home));
    assert_eq!(c.title, "Plan a trip to Kyoto");
    let out = home.cli(&["list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Plan a trip to Kyoto"));

    // Only whitespace and control characters: still saved, titled "Untitled".
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    t.paste(" \t\u{7}\n \u{1}\u{7f} \n");
    t.key(Key::Enter);
    let file = wait_file_in(&home);
    let b = wait_file(&file, "hold the reply", T, |b| {
        store::parse(b)
            .is_ok_and(|c| c.messages.len() == 2 && c.messages[1].status == Status::Complete)
    });
    let c = store::parse(&b).unwrap();
    assert_eq!(c.title, "Untitled");
    assert_eq!(c.messages[0].speaker, Speaker::User);
    assert!(
        c.messages[0].content.contains('\u{7}'),
        "{:?}",
        c.messages[0].content
    );
    chat(&mut t, "now a real question");
    quit(&mut t);
    let c = load(&file);
    assert_eq!(c.title, "Untitled", "a later message does not retitle it");
    assert_eq!(c.messages.len(), 4);
    let out = home.cli(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&c.id) && stdout.trim_end().ends_with("Untitled"),
        "{stdout}"
    );
}

/// Wait until the library holds a transcript; return it.
fn wait_file_in(home: &Home) -> PathBuf {
    let deadline = Instant::now() + T;
    loop {
        if let Some(p) = home.transcripts().into_iter().next() {
            return p;
        }
        assert!(Instant::now() < deadline, "no transcript was saved");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn resume_after_save_elsewhere_reopens_the_latest_version() {
    let srv = FakeServer::start();
    let home = Home::new();
    let elsewhere = home.path().join("kept.json");
    let mut t = home.tui(&srv, &[]);
    chat(&mut t, "before save");
    send(&mut t, &format!("/save {}", elsewhere.display()));
    wait_file(&elsewhere, "be written", T, |b| !b.is_empty());
    chat(&mut t, "after save");
    quit(&mut t);
    assert_eq!(load(&elsewhere).messages.len(), 4);
    // The library still lists the conversation, so it should be the current one.
    let mut t = home.tui(&srv, &["--resume"]);
    t.wait_for("echo: before save", T);
    t.wait_for("echo: after save", Duration::from_secs(2));
}
