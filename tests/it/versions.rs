//! Versions and branches end to end: the real `chat-tui` binary in a PTY against the fake
//! OpenAI server (two of them for `/compare` across profiles), with real transcript files.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chat_tui::chat::conversation::{Speaker, Status};
use chat_tui::store;
use support::fake_server::{FakeServer, Reply};
use support::pty::{Key, Tui};
use support::pty::{flat, quit, send, wait_text};
use support::transcript::{home_env, load, transcripts_in};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";
const T: Duration = Duration::from_secs(10);
/// What a terminal sends for Alt+← and Alt+→ (xterm).
const ALT_LEFT: &[u8] = b"\x1b[1;3D";
const ALT_RIGHT: &[u8] = b"\x1b[1;3C";

/// A HOME shared by several runs of the binary.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("chat-tui-versions")
                .tempdir()
                .unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn env(&self) -> Vec<(String, String)> {
        home_env(self.path(), KEY)
    }
    fn transcripts(&self) -> Vec<PathBuf> {
        let dir = self.path().join(".local/share/chat-tui/conversations");
        transcripts_in(&dir)
    }
    fn tui(&self, srv: &FakeServer, args: &[&str]) -> Tui {
        let url = srv.url();
        let mut a = vec!["--base-url", url.as_str(), "--model", "fake-small"];
        a.extend_from_slice(args);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut t = Tui::spawn(&a, &env, 120, 40);
        t.wait_for("● idle", T);
        t
    }
}

fn idle(t: &mut Tui) {
    t.wait_for("● idle", T);
}

fn wait_file(p: &Path, what: &str, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + T;
    loop {
        if let Ok(b) = std::fs::read(p)
            && pred(&b)
        {
            return b;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {} to {what}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The chat messages of the last completion request the server got, as (role, content).
fn last_messages(srv: &FakeServer) -> Vec<(String, String)> {
    let body = srv
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/completions"))
        .expect("a completion request")
        .json();
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

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn retry_then_alt_left_shows_the_first_version_and_the_next_request_carries_it() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    srv.push(Reply::Text(vec!["Teal, the first version.".into()]));
    send(&mut t, "Pick a colour");
    wait_text(&mut t, "Teal, the first version.");
    idle(&mut t);
    srv.push(Reply::Text(vec!["Ochre, the second version.".into()]));
    t.key(Key::Ctrl('r'));
    wait_text(&mut t, "Ochre, the second version.");
    wait_text(&mut t, "version 2/2");
    idle(&mut t);
    assert!(!flat(&t.with_screen(|s| s.clone())).contains("Teal"));

    t.send_bytes(ALT_LEFT);
    t.wait_until("the first version again", T, |s| {
        let f = flat(s);
        f.contains("Teal, the first version.") && f.contains("version 1/2") && !f.contains("Ochre")
    });
    send(&mut t, "Why that one?");
    wait_text(&mut t, "echo: Why that one?");
    idle(&mut t);
    assert_eq!(
        last_messages(&srv),
        pairs(&[
            ("user", "Pick a colour"),
            ("assistant", "Teal, the first version."),
            ("user", "Why that one?"),
        ]),
        "the request carries the version shown"
    );
    // In the conversation pane, `]` on that reply goes to the second version again: the
    // branch after the first version goes with it (kept, not shown).
    t.key(Key::Tab);
    t.key(Key::Up);
    t.key(Key::Up);
    t.send("]");
    t.wait_until("the second version, alone", T, |s| {
        let f = flat(s);
        f.contains("Ochre, the second version.") && !f.contains("Why that one?")
    });
    t.send_bytes(ALT_LEFT);
    wait_text(&mut t, "Why that one?");
    t.send_bytes(ALT_RIGHT);
    wait_text(&mut t, "Ochre, the second version.");
    quit(&mut t);
    let files = home.transcripts();
    assert_eq!(files.len(), 1);
    let c = load(&files[0]);
    assert_eq!(c.check(), Ok(()));
    // The second version is shown (saved as the selection); the first, with what followed
    // it, is kept.
    assert_eq!(
        c.messages.last().unwrap().text(),
        "Ochre, the second version."
    );
    let others: Vec<&str> = c.others.iter().map(|m| m.text()).collect();
    assert_eq!(
        others,
        [
            "Teal, the first version.",
            "Why that one?",
            "echo: Why that one?"
        ]
    );
}

#[test]
fn sigkill_mid_stream_on_a_branch_keeps_every_branch() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    for q in ["first question", "second question"] {
        send(&mut t, q);
        wait_text(&mut t, &format!("echo: {q}"));
        idle(&mut t);
    }
    // A second version of the last reply…
    srv.push(Reply::Text(vec!["another answer".into()]));
    t.key(Key::Ctrl('r'));
    wait_text(&mut t, "another answer");
    idle(&mut t);
    // …then an edited second question, whose reply streams slowly.
    send(&mut t, "/edit");
    t.wait_until("the question in the input", T, |s| {
        flat(s).contains("editing a question")
    });
    let words: Vec<String> = (0..150).map(|i| format!("word{i:03}")).collect();
    srv.set_token_delay(Duration::from_millis(30));
    srv.push(Reply::Text(vec![words.join(" ")]));
    send(&mut t, " (edited)");
    let file = {
        let deadline = Instant::now() + T;
        loop {
            if let Some(f) = home.transcripts().into_iter().next() {
                break f;
            }
            assert!(Instant::now() < deadline, "no transcript");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_file(&file, "hold part of the branch's reply", |b| {
        String::from_utf8_lossy(b).contains("word010")
    });
    let st = t.sigkill();
    assert!(!st.success(), "{st:?}");
    srv.set_token_delay(Duration::ZERO);

    let c = load(&file);
    assert_eq!(c.check(), Ok(()));
    let path: Vec<(Speaker, String)> = c
        .messages
        .iter()
        .map(|m| (m.speaker, m.text().to_string()))
        .collect();
    assert_eq!(path.len(), 4, "{path:?}");
    assert_eq!(path[2], (Speaker::User, "second question (edited)".into()));
    let streaming = &c.messages[3];
    assert_eq!(streaming.status, Status::Partial);
    assert!(streaming.text().starts_with("word000 word001"));
    assert!(streaming.text().len() < words.join(" ").len());
    // The other branch, with both versions of its reply, is all there.
    let others: Vec<&str> = c.others.iter().map(|m| m.text()).collect();
    assert_eq!(
        others,
        ["second question", "echo: second question", "another answer"]
    );
    assert!(c.others.iter().all(|m| m.status == Status::Complete));
    // It opens again: the branch it was on, with the partial reply marked as such.
    let mut t = home.tui(&srv, &[file.to_str().unwrap()]);
    wait_text(&mut t, "second question (edited)");
    wait_text(&mut t, "branch 2/2");
    quit(&mut t);
}

#[test]
fn compare_streams_side_by_side_through_two_profiles_without_sending_the_key_elsewhere() {
    let here = FakeServer::start();
    let elsewhere = FakeServer::start();
    let home = Home::new();
    let cfg = home.path().join(".config/chat-tui");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        format!(
            "[profiles.local]\nbase_url = \"{}\"\nmodel = \"fake-large\"\n",
            elsewhere.url()
        ),
    )
    .unwrap();
    let mut t = home.tui(&here, &[]);
    send(&mut t, "hello");
    wait_text(&mut t, "echo: hello");
    idle(&mut t);
    here.set_token_delay(Duration::from_millis(20));
    elsewhere.set_token_delay(Duration::from_millis(20));
    here.push(Reply::Text(vec!["Answer from fake-large.".into()]));
    elsewhere.push(Reply::Text(vec!["Elsewhere, fake-small answers.".into()]));
    send(&mut t, "/compare fake-large local:fake-small");
    t.wait_until("both answers side by side", T, |s| {
        let f = flat(s);
        f.contains("versions side by side")
            && f.contains("Answer from fake-large.")
            && f.contains("Elsewhere, fake-small answers.")
            && f.contains("local:fake-small")
    });
    t.wait_until("both done", T, |s| {
        flat(s).matches("· stop").count() >= 2 || flat(s).contains("● idle")
    });
    // Each went to its server: the key only to the one it belongs to.
    let reqs = |srv: &FakeServer| -> Vec<support::fake_server::Recorded> {
        srv.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/completions"))
            .collect()
    };
    let h = reqs(&here);
    let e = reqs(&elsewhere);
    assert_eq!(h.len(), 2, "hello, then fake-large");
    assert_eq!(e.len(), 1);
    assert_eq!(h[1].json()["model"], "fake-large");
    assert_eq!(e[0].json()["model"], "fake-small");
    assert_eq!(
        h[1].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        e[0].header("authorization"),
        None,
        "a profile pointing elsewhere gets no OpenAI key"
    );
    assert_eq!(
        h[1].json()["messages"],
        e[0].json()["messages"],
        "the same question"
    );
    // Enter shows the focused version (the first of the compare, in focus) in the
    // conversation; Esc had closed the panel otherwise.
    t.key(Key::Right);
    t.key(Key::Enter);
    t.wait_until("the panel closed", T, |s| {
        !flat(s).contains("versions side by side")
    });
    wait_text(&mut t, "version 3/3");
    idle(&mut t);
    quit(&mut t);
    let c = load(&home.transcripts()[0]);
    let versions: Vec<(Option<&str>, &str)> = c
        .all()
        .filter(|m| m.speaker == Speaker::Assistant)
        .map(|m| (m.target.as_deref(), m.text()))
        .collect();
    assert_eq!(
        versions,
        [
            (Some("local:fake-small"), "Elsewhere, fake-small answers."),
            (None, "echo: hello"),
            (Some("fake-large"), "Answer from fake-large."),
        ],
        "the shown one first (the path), then the others by id"
    );
}

#[test]
fn a_version_1_file_is_left_alone_until_it_changes() {
    let srv = FakeServer::start();
    let home = Home::new();
    let file = home.path().join("old.json");
    let v1 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/transcript-v1.json"
    ))
    .unwrap();
    std::fs::write(&file, &v1).unwrap();
    let mut t = home.tui(&srv, &[file.to_str().unwrap()]);
    wait_text(&mut t, "Which region suffers most from ocean pollution?");
    quit(&mut t);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        v1,
        "opened and closed: unchanged"
    );
    assert!(
        home.transcripts().is_empty(),
        "nothing written to the library either"
    );

    let mut t = home.tui(&srv, &[file.to_str().unwrap()]);
    wait_text(&mut t, "Which region suffers most from ocean pollution?");
    send(&mut t, "And the Atlantic?");
    wait_text(&mut t, "echo: And the Atlantic?");
    idle(&mut t);
    quit(&mut t);
    let bytes = std::fs::read(&file).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["version"], 2, "changed: written as version 2");
    assert_eq!(v["conversation"]["messages"][4]["parent"], 4);
    let c = load(&file);
    assert_eq!(c.check(), Ok(()));
    assert_eq!(c.messages.len(), 6);
}

#[test]
fn a_hand_edited_cycle_is_reported_opened_as_far_as_valid_and_left_untouched() {
    let srv = FakeServer::start();
    let home = Home::new();
    let file = home.path().join("edited.json");
    // The version 1 example as version 2, with the second message's parent making a cycle
    // (2 → 4 → 3 → 2).
    let mut v: serde_json::Value =
        serde_json::from_slice(&store::to_json(&load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/transcript-v1.json"
        )))))
        .unwrap();
    v["conversation"]["messages"][1]["parent"] = serde_json::json!(4);
    let bytes = serde_json::to_vec_pretty(&v).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let mut t = home.tui(&srv, &[file.to_str().unwrap()]);
    wait_text(&mut t, "Which region suffers most from ocean pollution?");
    wait_text(&mut t, "read with repairs: messages 2, 3, 4 form a cycle");
    // Opened as far as the path is valid: the question, not its reply.
    assert!(!flat(&t.with_screen(|s| s.clone())).contains("North Pacific"));
    quit(&mut t);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the file is untouched"
    );
}
