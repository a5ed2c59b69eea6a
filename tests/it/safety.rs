//! Never losing a turn: two windows on one conversation, a holder killed with -9, a file
//! edited behind the app's back, `/save` onto another file, the terminal closed under the
//! app, and reading that never writes. The real binary in PTYs against the fake server.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chat_tui::api::types::Mode;
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use chat_tui::store;
use support::fake_server::{FakeServer, Reply};
use support::pty::{Key, Tui};
use support::pty::{chat, flat, quit, send, wait_text};
use support::transcript::{home_env, load, transcripts_in};

const KEY: &str = "sk-test-NOT-A-REAL-KEY";
const T: Duration = Duration::from_secs(15);

/// A HOME shared by several runs of the binary.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("chat-tui-safety")
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
    fn library(&self) -> PathBuf {
        self.path().join(".local/share/chat-tui/conversations")
    }
    fn crash_dir(&self) -> PathBuf {
        self.path().join(".local/state/chat-tui/crash")
    }
    /// The transcripts of the library (not the index, lock or temp files).
    fn transcripts(&self) -> Vec<PathBuf> {
        transcripts_in(&self.library())
    }
    /// Wide, so that long notices show whole on the status line.
    fn tui(&self, srv: &FakeServer, args: &[&str]) -> Tui {
        self.tui_sized(srv, args, 220, 40)
    }
    fn tui_sized(&self, srv: &FakeServer, args: &[&str], cols: u16, rows: u16) -> Tui {
        self.tui_ready(srv, args, cols, rows, "fake-small")
    }
    /// The app, once `ready` shows.
    fn tui_ready(&self, srv: &FakeServer, args: &[&str], cols: u16, rows: u16, ready: &str) -> Tui {
        let url = srv.url();
        let mut a = vec!["--base-url", url.as_str(), "--model", "fake-small"];
        a.extend_from_slice(args);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut t = Tui::spawn(&a, &env, cols, rows);
        t.wait_for(ready, T);
        t
    }
}

fn command(t: &mut Tui, line: &str) {
    t.send(line);
    t.key(Key::Enter);
}

/// A lone Esc (with a pause: ESC and the next key in one read would be Alt+key).
fn esc(t: &mut Tui) {
    t.key(Key::Esc);
    std::thread::sleep(Duration::from_millis(250));
}

fn user_texts(c: &Conversation) -> Vec<String> {
    c.messages
        .iter()
        .filter(|m| m.speaker == Speaker::User)
        .map(|m| m.content.clone())
        .collect()
}

/// Every user message the server received.
fn asked(srv: &FakeServer) -> Vec<String> {
    srv.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/completions"))
        .filter_map(|r| {
            let v = r.json();
            let last = v["messages"].as_array()?.last()?.clone();
            last["content"].as_str().map(str::to_string)
        })
        .collect()
}

/// Every transcript under the library and `extra` folders, parsed.
fn all_conversations(home: &Home, extra: &[&Path]) -> Vec<(PathBuf, Conversation)> {
    let mut files = home.transcripts();
    for d in extra {
        files.extend(transcripts_in(d));
    }
    files.into_iter().map(|p| (p.clone(), load(&p))).collect()
}

/// Nothing lost: every question the server got and every reply it finished are in some
/// transcript.
fn assert_nothing_lost(srv: &FakeServer, convs: &[(PathBuf, Conversation)]) {
    for q in asked(srv) {
        let reply = format!("echo: {q}");
        let found = convs.iter().any(|(_, c)| {
            c.messages.iter().any(|m| m.content == q)
                && c.messages.iter().any(|m| m.text() == reply)
        });
        assert!(
            found,
            "{q:?} and its reply are in no file: {:#?}",
            convs
                .iter()
                .map(|(p, c)| (p, user_texts(c)))
                .collect::<Vec<_>>()
        );
    }
}

fn wait_until(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- two windows on one conversation ----

#[test]
fn a_second_window_on_a_held_file_gets_read_only_or_a_copy_and_nothing_is_lost() {
    let srv = FakeServer::start();
    let home = Home::new();
    let notes = home.path().join("notes.json");
    let notes_s = notes.to_string_lossy().into_owned();

    let mut a = home.tui(&srv, &[]);
    chat(&mut a, "first from A");
    command(&mut a, &format!("/save {notes_s}"));
    wait_text(&mut a, "saved to");
    let a_pid = a.pid().unwrap();

    // B opens the same file: told who holds it, and offered the choice.
    let mut b = home.tui(&srv, &[&notes_s]);
    wait_text(&mut b, &format!("is open in chat-tui (pid {a_pid})"));
    wait_text(&mut b, "open it read-only");
    wait_text(&mut b, "continue in a copy");
    b.send("r");
    wait_text(&mut b, "read-only — chat-tui");
    wait_text(&mut b, "first from A");
    // Sending is refused, pointing back at the choice; nothing reaches the server.
    let before = srv.completions().len();
    send(&mut b, "sneaky from B");
    wait_text(&mut b, "not sent: this conversation is read-only");
    wait_text(&mut b, "continue in a copy");
    esc(&mut b);
    assert_eq!(srv.completions().len(), before, "nothing was sent");
    quit(&mut b);

    // A keeps writing its file, unaware.
    chat(&mut a, "second from A");
    wait_until("A's second turn in its file", T, || {
        std::fs::read_to_string(&notes).is_ok_and(|s| s.contains("echo: second from A"))
    });

    // C opens it too and continues in a copy.
    let mut c = home.tui(&srv, &[&notes_s]);
    wait_text(&mut c, "is open in chat-tui");
    c.send("c");
    wait_text(&mut c, "continuing in a copy");
    wait_text(&mut c, "(copy)");
    chat(&mut c, "from the copy");
    quit(&mut c);
    quit(&mut a);

    let at_notes = load(&notes);
    assert_eq!(
        user_texts(&at_notes),
        ["first from A", "second from A"],
        "A's file has A's turns only"
    );
    let convs = all_conversations(&home, &[home.path()]);
    let copy = convs
        .iter()
        .find(|(_, c)| c.title.ends_with("(copy)"))
        .unwrap_or_else(|| panic!("a copy in the library: {convs:#?}"));
    assert_eq!(copy.1.title, "first from A (copy)");
    assert_ne!(copy.1.id, at_notes.id);
    assert!(copy.0.starts_with(home.library()));
    assert_eq!(
        user_texts(&copy.1),
        ["first from A", "second from A", "from the copy"]
    );
    assert!(!asked(&srv).iter().any(|q| q.contains("sneaky")));
    assert_nothing_lost(&srv, &convs);
    // No lock file left behind by anyone.
    let locks: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .chain(std::fs::read_dir(home.library()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert!(locks.is_empty(), "{locks:?}");
}

#[test]
fn the_sessions_browser_offers_the_choice_for_a_conversation_open_elsewhere() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut a = home.tui(&srv, &[]);
    chat(&mut a, "held by A");
    // A's autosave lands just after the reply is on screen.
    wait_until("A's autosave", T, || {
        home.transcripts()
            .iter()
            .any(|p| std::fs::read_to_string(p).is_ok_and(|s| s.contains("echo: held by A")))
    });
    let mut b = home.tui(&srv, &[]);
    b.key(Key::Ctrl('o'));
    wait_text(&mut b, "held by A");
    b.key(Key::Enter);
    wait_text(&mut b, "is open in chat-tui");
    // Esc: not opened, B stays where it was.
    esc(&mut b);
    wait_text(&mut b, "was not opened");
    chat(&mut b, "B's own");
    // Renaming or deleting it from B is refused while A has it open.
    b.key(Key::Ctrl('o'));
    wait_text(&mut b, "held by A");
    b.key(Key::Down);
    b.key(Key::Ctrl('d'));
    b.send("y");
    wait_text(&mut b, "has it open");
    esc(&mut b);
    quit(&mut b);
    quit(&mut a);
    let convs = all_conversations(&home, &[]);
    assert_eq!(convs.len(), 2, "{convs:#?}");
    assert_nothing_lost(&srv, &convs);
}

#[test]
fn resume_picks_the_most_recent_conversation_no_other_window_has_open() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut a = home.tui(&srv, &[]);
    chat(&mut a, "older one");
    quit(&mut a);
    std::thread::sleep(Duration::from_millis(20));
    let mut a = home.tui(&srv, &["--resume"]);
    wait_text(&mut a, "older one");
    command(&mut a, "/new");
    chat(&mut a, "newer one");
    // Saved in the background: B must find it on disk to skip it (under load the reply can
    // be on screen before its autosave is written, and B then rightly resumes "older one"
    // without a word).
    wait_until("the autosave of the newer one", T, || {
        home.transcripts()
            .iter()
            .any(|f| std::fs::read_to_string(f).is_ok_and(|s| s.contains("echo: newer one")))
    });
    // A holds "newer one" (the most recent); B resumes "older one".
    let mut b = home.tui(&srv, &["--resume"]);
    wait_text(&mut b, "older one");
    wait_text(&mut b, "newer one is open in another chat-tui");
    chat(&mut b, "continued by B");
    quit(&mut b);
    quit(&mut a);
    let convs = all_conversations(&home, &[]);
    assert_eq!(convs.len(), 2);
    assert_nothing_lost(&srv, &convs);
}

#[test]
fn a_holder_killed_with_9_leaves_no_obstacle() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut a = home.tui(&srv, &[]);
    chat(&mut a, "before the kill");
    wait_until("the autosave", T, || {
        home.transcripts()
            .first()
            .is_some_and(|f| std::fs::read_to_string(f).is_ok_and(|s| s.contains("echo: before")))
    });
    let file = home.transcripts().pop().unwrap();
    let lock = file.with_file_name(format!(
        ".{}.lock",
        file.file_name().unwrap().to_string_lossy()
    ));
    assert!(lock.exists(), "the holder has a lock file");
    let st = a.sigkill();
    assert!(!st.success());
    assert!(lock.exists(), "kill -9 leaves the lock file behind");
    // Reopened at once: no complaint, no choice to make.
    let mut b = home.tui(&srv, &[file.to_str().unwrap()]);
    wait_text(&mut b, "before the kill");
    std::thread::sleep(Duration::from_millis(300));
    let screen = b.with_screen(flat);
    assert!(!screen.contains("is open in"), "{screen}");
    assert!(!screen.contains("read-only"), "{screen}");
    chat(&mut b, "after the kill");
    quit(&mut b);
    assert_eq!(
        user_texts(&load(&file)),
        ["before the kill", "after the kill"]
    );
    assert!(!lock.exists(), "released on quit");
}

// ---- a file changed behind the app's back ----

#[test]
fn an_external_edit_between_two_saves_is_kept_and_the_conversation_saved_beside_it() {
    let srv = FakeServer::start();
    let home = Home::new();
    let notes = home.path().join("notes.json");
    let mut a = home.tui(&srv, &[]);
    chat(&mut a, "one");
    command(&mut a, &format!("/save {}", notes.display()));
    wait_text(&mut a, "saved to");
    // Someone edits the file (here: renames the conversation in it by hand).
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&notes).unwrap()).unwrap();
    v["conversation"]["title"] = "edited by hand".into();
    let edited = serde_json::to_string_pretty(&v).unwrap();
    std::fs::write(&notes, &edited).unwrap();
    chat(&mut a, "two");
    wait_text(&mut a, "not overwritten");
    chat(&mut a, "three");
    quit(&mut a);
    // The edit is kept, untouched.
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), edited);
    // The conversation went on in a new file beside it, said once on screen and again
    // after the exit.
    let beside: Vec<PathBuf> = transcripts_in(home.path())
        .into_iter()
        .filter(|p| p != &notes)
        .collect();
    assert_eq!(beside.len(), 1, "{beside:?}");
    let name = beside[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("notes.") && name.ends_with(".json"),
        "{name}"
    );
    assert_eq!(user_texts(&load(&beside[0])), ["one", "two", "three"]);
    let raw = String::from_utf8_lossy(&a.raw_output()).into_owned();
    assert!(
        raw.contains("the conversation was saved to"),
        "the exit note: {raw:?}"
    );
    let convs = all_conversations(&home, &[home.path()]);
    assert_nothing_lost(&srv, &convs);
}

// ---- /save onto a file that exists ----

#[test]
fn save_onto_another_file_asks_first() {
    let srv = FakeServer::start();
    let home = Home::new();
    let other = home.path().join("other.json");
    let mut theirs = Conversation::new("m", Mode::Chat, Memory::Full);
    theirs.title = "Their conversation".into();
    theirs.push(Speaker::User, "not yours");
    let theirs = store::to_json(&theirs);
    std::fs::write(&other, &theirs).unwrap();
    let mut a = home.tui(&srv, &[]);
    chat(&mut a, "mine");
    command(&mut a, &format!("/save {}", other.display()));
    wait_text(&mut a, "already exists");
    wait_text(&mut a, "Their conversation");
    a.send("n");
    wait_text(&mut a, "not saved");
    assert_eq!(std::fs::read(&other).unwrap(), theirs);
    // Asked again, and this time yes.
    command(&mut a, &format!("/save {}", other.display()));
    wait_text(&mut a, "already exists");
    a.send("y");
    wait_text(&mut a, "saved to");
    assert_eq!(user_texts(&load(&other)), ["mine"]);
    // From now on it is this conversation's file: saved there without asking.
    chat(&mut a, "more");
    quit(&mut a);
    assert_eq!(user_texts(&load(&other)), ["mine", "more"]);
}

// ---- the terminal closed under the app ----

fn no_crash_report(home: &Home) {
    let reports: Vec<_> = std::fs::read_dir(home.crash_dir())
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(reports.is_empty(), "crash reports: {reports:?}");
}

#[test]
fn closing_the_terminal_mid_stream_saves_and_exits_quietly() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    chat(&mut t, "warm up");
    let words: Vec<String> = (0..400).map(|i| format!("w{i:03}")).collect();
    srv.set_token_delay(Duration::from_millis(25));
    srv.push(Reply::Text(vec![words.join(" ")]));
    send(&mut t, "a long one");
    t.wait_for("w010", T);
    t.hangup();
    let st = t.wait_exit(T);
    assert!(st.success(), "{st:?}");
    no_crash_report(&home);
    let files = home.transcripts();
    assert_eq!(files.len(), 1, "{files:?}");
    let c = load(&files[0]);
    assert_eq!(user_texts(&c), ["warm up", "a long one"]);
    let last = c.messages.last().unwrap();
    assert_eq!(last.speaker, Speaker::Assistant);
    assert!(last.text().starts_with("w000 w001"), "{:?}", last.text());
    assert!(last.text().contains("w010"), "what arrived was saved");
    assert_eq!(last.status, Status::Partial);
}

#[test]
fn closing_the_terminal_when_idle_saves_and_exits_quietly() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    chat(&mut t, "just this");
    t.hangup();
    assert!(t.wait_exit(T).success());
    no_crash_report(&home);
    let files = home.transcripts();
    assert_eq!(files.len(), 1);
    assert_eq!(user_texts(&load(&files[0])), ["just this"]);
    // And a window closed before anything was said leaves nothing at all.
    let mut t = home.tui(&srv, &[]);
    t.hangup();
    assert!(t.wait_exit(T).success());
    no_crash_report(&home);
    assert_eq!(home.transcripts().len(), 1, "no empty conversation saved");
}

#[test]
fn starting_and_quitting_saves_no_empty_conversation() {
    let srv = FakeServer::start();
    let home = Home::new();
    for _ in 0..2 {
        let mut t = home.tui(&srv, &[]);
        command(&mut t, "/set temperature 0.5");
        wait_text(&mut t, "temperature = 0.5");
        quit(&mut t);
    }
    assert!(home.transcripts().is_empty(), "{:?}", home.transcripts());
}

// ---- reading never writes ----

/// A big transcript: `n` messages of ~3 KB, the replies without a saved token count.
fn big_conversation(n: usize) -> Conversation {
    let mut c = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    c.title = "big one".into();
    let para = "The quick brown fox jumps over the lazy dog, and then writes a long essay \
                about it with `code`, **bold** words and numbers 12345. ";
    for i in 0..n {
        let text = format!("{i}: {}", para.repeat(22));
        if i % 2 == 0 {
            let id = c.push(Speaker::User, text);
            if i % 4 == 0 {
                c.get_mut(id).unwrap().local_tokens = Some(700);
            }
        } else {
            let r = c.push_reply(&Default::default(), "gpt-4o");
            let m = c.get_mut(r).unwrap();
            m.choice_mut(0).text = text;
            m.status = Status::Complete;
        }
    }
    c
}

/// The "next request ~N" estimate on screen, once counted.
fn estimate(t: &mut Tui) -> String {
    t.wait_until(
        "the next request to be counted",
        Duration::from_secs(60),
        |s| {
            let f = flat(s);
            f.contains("next request ~") && !f.contains("counting")
        },
    );
    let f = t.with_screen(flat);
    let i = f.find("next request ~").unwrap() + "next request ~".len();
    f[i..].split_whitespace().next().unwrap().to_string()
}

#[test]
fn opening_scrolling_searching_and_exporting_never_change_a_transcript() {
    let srv = FakeServer::start();
    let home = Home::new();
    let conv = big_conversation(2_000);
    let file = home.path().join("big.json");
    std::fs::write(&file, store::to_json(&conv)).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 5_000_000, "{}", bytes.len());
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    for round in 0..2 {
        let mut t = home.tui_ready(&srv, &[file.to_str().unwrap()], 160, 48, "big one");
        wait_text(&mut t, "1999:");
        for _ in 0..30 {
            t.key(Key::PageUp);
        }
        t.key(Key::Tab);
        t.key(Key::Home);
        wait_text(&mut t, "0: The quick");
        for _ in 0..20 {
            t.key(Key::Down);
        }
        t.key(Key::End);
        t.key(Key::Tab);
        if round == 0 {
            // Export, and search the library.
            let md = home.path().join("big.md");
            command(&mut t, &format!("/export {}", md.display()));
            wait_text(&mut t, "saved to");
            t.key(Key::Ctrl('o'));
            t.send("fox");
            std::thread::sleep(Duration::from_millis(500));
            esc(&mut t);
        }
        // Give the token counting time to run (it must not write either).
        std::thread::sleep(Duration::from_secs(2));
        quit(&mut t);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            bytes,
            "round {round}: the file is byte for byte the same"
        );
        assert_eq!(std::fs::metadata(&file).unwrap().modified().unwrap(), mtime);
        assert!(
            home.transcripts().is_empty(),
            "round {round}: nothing written to the library either: {:?}",
            home.transcripts()
        );
    }
    assert!(home.path().join("big.md").exists());
}

#[test]
fn the_estimate_of_an_unchanged_conversation_is_the_same_every_time() {
    let srv = FakeServer::start();
    let home = Home::new();
    let conv = big_conversation(240);
    let file = home.path().join("medium.json");
    std::fs::write(&file, store::to_json(&conv)).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let mut estimates = Vec::new();
    for _ in 0..2 {
        let mut t = home.tui_ready(&srv, &[file.to_str().unwrap()], 160, 48, "big one");
        estimates.push(estimate(&mut t));
        for _ in 0..10 {
            t.key(Key::PageUp);
        }
        t.key(Key::Tab);
        t.key(Key::Home);
        t.key(Key::End);
        t.key(Key::Tab);
        estimates.push(estimate(&mut t));
        quit(&mut t);
    }
    assert!(
        estimates.windows(2).all(|w| w[0] == w[1]),
        "the same estimate every time: {estimates:?}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
}

#[test]
fn a_file_changes_only_when_the_conversation_does() {
    let srv = FakeServer::start();
    let home = Home::new();
    let mut t = home.tui(&srv, &[]);
    chat(&mut t, "hello");
    quit(&mut t);
    let file = home.transcripts().pop().unwrap();
    let bytes = std::fs::read(&file).unwrap();
    // Reopened, scrolled, quit: unchanged.
    let mut t = home.tui(&srv, &["--resume"]);
    wait_text(&mut t, "echo: hello");
    t.key(Key::PageUp);
    t.key(Key::PageDown);
    quit(&mut t);
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    // Reopened and changed (a setting): written.
    let mut t = home.tui(&srv, &["--resume"]);
    wait_text(&mut t, "echo: hello");
    command(&mut t, "/set temperature 0.3");
    wait_text(&mut t, "temperature = 0.3");
    quit(&mut t);
    assert_ne!(std::fs::read(&file).unwrap(), bytes);
}
