use super::*;
use crate::api::types::{Mode, Params};
use crate::chat::conversation::{Memory, Status};
use std::os::unix::fs::PermissionsExt;

fn conv(id: &str, title: &str, minutes: i64, texts: &[&str]) -> Conversation {
    let mut c = Conversation::new("gpt-x", Mode::Chat, Memory::Full);
    c.id = id.to_string();
    for (i, t) in texts.iter().enumerate() {
        if i % 2 == 0 {
            c.push(Speaker::User, *t);
        } else {
            let r = c.push_reply(&Params::default(), "gpt-x");
            let m = c.get_mut(r).unwrap();
            m.choice_mut(0).text = t.to_string();
            m.status = Status::Complete;
        }
    }
    c.title = title.to_string();
    let t0: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    c.created = t0;
    c.updated = t0 + chrono::Duration::minutes(minutes);
    c
}

fn lib() -> (tempfile::TempDir, Library) {
    let t = tempfile::tempdir().unwrap();
    let l = Library::open(t.path().join("data/conversations")).unwrap();
    (t, l)
}

fn ids(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.id.as_str()).collect()
}

fn filled() -> (tempfile::TempDir, Library) {
    let (t, l) = lib();
    l.save(&conv(
        "aaa1",
        "Alpha",
        1,
        &["tell me about Rust", "Rust is a language"],
    ))
    .unwrap();
    l.save(&conv(
        "bbb2",
        "Beta",
        3,
        &["海洋污染對哪個地區影響最大", "太平洋"],
    ))
    .unwrap();
    l.save(&conv("bbb3", "Gamma", 2, &["quote \"this\"\nplease", "ok"]))
        .unwrap();
    (t, l)
}

#[test]
fn saves_privately_and_lists_newest_first() {
    let (_t, l) = filled();
    let dir_mode = fs::metadata(l.dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let entries = l.list().unwrap();
    assert_eq!(ids(&entries), ["bbb2", "bbb3", "aaa1"]);
    for e in &entries {
        assert_eq!(e.path, l.dir().join(format!("{}.json", e.id)));
        assert_eq!(
            fs::metadata(&e.path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(e.broken.is_none());
    }
    let a = &entries[2];
    assert_eq!(a.title, "Alpha");
    assert_eq!(a.model, "gpt-x");
    assert_eq!(a.messages, 2);
    assert_eq!(a.first_line, "tell me about Rust");
    assert_eq!(a.bytes, fs::metadata(&a.path).unwrap().len());
    let idx = l.dir().join(INDEX_FILE);
    assert_eq!(
        fs::metadata(&idx).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(l.most_recent().unwrap().unwrap().id, "bbb2");
    // Loading gives back what was saved.
    let c = l.load(&entries[0]).unwrap();
    assert_eq!(c.title, "Beta");
    // No temp files around.
    let names: Vec<String> = fs::read_dir(l.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn the_index_is_used_and_is_only_a_cache() {
    let (_t, l) = filled();
    let first = l.list().unwrap();
    let idx = l.dir().join(INDEX_FILE);
    // Prove list() answers from the index when the files are unchanged.
    let text = fs::read_to_string(&idx).unwrap();
    fs::write(&idx, text.replace("\"Alpha\"", "\"From the cache\"")).unwrap();
    let cached = l.list().unwrap();
    assert_eq!(cached[2].title, "From the cache");
    // Deleting the index loses nothing.
    fs::remove_file(&idx).unwrap();
    assert_eq!(l.list().unwrap(), first);
    assert!(idx.exists());
    // A garbage index is ignored and replaced.
    fs::write(&idx, b"{not json").unwrap();
    assert_eq!(l.list().unwrap(), first);
    assert!(serde_json::from_slice::<serde_json::Value>(&fs::read(&idx).unwrap()).is_ok());
}

#[test]
fn the_index_follows_changes_behind_its_back() {
    let (_t, l) = filled();
    l.list().unwrap();
    // Another process rewrites a file in place and deletes another.
    let p = l.dir().join("aaa1.json");
    let mut c = save::load(&p).unwrap();
    c.title = "Changed elsewhere".into();
    c.updated += chrono::Duration::hours(1);
    fs::write(&p, format::to_json(&c)).unwrap();
    fs::remove_file(l.dir().join("bbb3.json")).unwrap();
    // A new file appears.
    fs::write(
        l.dir().join("ccc4.json"),
        format::to_json(&conv("ccc4", "New", 0, &["x"])),
    )
    .unwrap();
    let entries = l.list().unwrap();
    assert_eq!(ids(&entries), ["aaa1", "bbb2", "ccc4"]);
    assert_eq!(entries[0].title, "Changed elsewhere");
    let idx = fs::read_to_string(l.dir().join(INDEX_FILE)).unwrap();
    assert!(!idx.contains("bbb3"));
    assert!(idx.contains("Changed elsewhere"));
}

#[test]
fn broken_files_are_listed_and_never_touched() {
    let (_t, l) = filled();
    let future = br#"{"format": "chat-tui-transcript", "version": 3, "conversation": {"x": 1}}"#;
    let cases: [(&str, &[u8]); 4] = [
        ("future.json", future),
        (
            "cut.json",
            b"{\"format\": \"chat-tui-transcript\", \"version\": 1, \"conv",
        ),
        ("empty.json", b""),
        ("binary.json", b"\xff\xfe\x00garbage"),
    ];
    for (name, bytes) in cases {
        fs::write(l.dir().join(name), bytes).unwrap();
    }
    let stamp = |n: &str| fs::metadata(l.dir().join(n)).unwrap().modified().unwrap();
    let before: Vec<_> = cases.iter().map(|(n, _)| stamp(n)).collect();
    // Not JSON files and temp files are not listed at all.
    fs::write(l.dir().join("notes.txt"), b"x").unwrap();
    fs::write(l.dir().join(".aaa1.json.1.2.tmp"), b"x").unwrap();
    for _ in 0..2 {
        let entries = l.list().unwrap();
        assert_eq!(entries.len(), 7);
        let broken: Vec<&Entry> = entries.iter().filter(|e| e.broken.is_some()).collect();
        assert_eq!(broken.len(), 4);
        let future = entries.iter().find(|e| e.id == "future").unwrap();
        let reason = future.broken.as_deref().unwrap();
        assert!(reason.contains("newer chat-tui"), "{reason}");
        let cut = entries.iter().find(|e| e.id == "cut").unwrap();
        assert!(cut.broken.as_deref().unwrap().contains("line 1"));
        let empty = entries.iter().find(|e| e.id == "empty").unwrap();
        assert!(empty.broken.as_deref().unwrap().contains("empty"));
    }
    for ((name, bytes), t) in cases.iter().zip(before) {
        assert_eq!(&fs::read(l.dir().join(name)).unwrap()[..], *bytes);
        assert_eq!(stamp(name), t);
    }
    // A broken file cannot be renamed but can be deleted.
    assert!(matches!(
        l.rename("future", "x"),
        Err(LibraryError::Broken { .. })
    ));
    assert_eq!(fs::read(l.dir().join("future.json")).unwrap(), future);
    l.delete("future").unwrap();
    assert!(!l.dir().join("future.json").exists());
    // A broken newest file does not become "most recent".
    fs::write(l.dir().join("zzz.json"), b"{").unwrap();
    assert_eq!(l.most_recent().unwrap().unwrap().id, "bbb2");
}

#[test]
fn find_rename_and_delete() {
    let (_t, l) = filled();
    assert_eq!(l.find("aaa").unwrap().id, "aaa1");
    assert_eq!(l.find("bbb2").unwrap().id, "bbb2");
    match l.find("bbb") {
        Err(LibraryError::Ambiguous { ids, .. }) => assert_eq!(ids.len(), 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(l.find("zzz"), Err(LibraryError::NotFound(_))));
    assert!(matches!(l.find(""), Err(LibraryError::NotFound(_))));

    let before = l.find("aaa1").unwrap();
    let e = l.rename("aaa", "  Renamed\n\u{1b}title ").unwrap();
    assert_eq!(e.title, "Renamed title");
    let c = save::load(&before.path).unwrap();
    assert_eq!(c.title, "Renamed title");
    assert_eq!(c.updated, before.updated);
    assert_eq!(l.find("aaa1").unwrap().title, "Renamed title");
    assert!(matches!(
        l.rename("aaa1", " \n "),
        Err(LibraryError::EmptyTitle)
    ));

    let gone = l.delete("bbb3").unwrap();
    assert!(!gone.path.exists());
    assert_eq!(ids(&l.list().unwrap()), ["bbb2", "aaa1"]);
    assert!(matches!(l.delete("bbb3"), Err(LibraryError::NotFound(_))));
}

#[test]
fn search_titles_and_text() {
    let (_t, l) = filled();
    let hits = l.search("rust").unwrap();
    assert_eq!(ids(&hits), ["aaa1"]);
    assert!(hits[0].snippet.as_deref().unwrap().contains("Rust"));
    let hits = l.search("  LANGUAGE ").unwrap();
    assert_eq!(ids(&hits), ["aaa1"]);
    assert_eq!(hits[0].snippet.as_deref(), Some("Rust is a language"));
    let hits = l.search("哪個地區").unwrap();
    assert_eq!(ids(&hits), ["bbb2"]);
    assert!(hits[0].snippet.as_deref().unwrap().contains("哪個地區"));
    assert_eq!(ids(&l.search("太平洋").unwrap()), ["bbb2"]);
    assert_eq!(ids(&l.search("gamma").unwrap()), ["bbb3"]);
    assert_eq!(ids(&l.search("\"THIS\"\nplease").unwrap()), ["bbb3"]);
    // Words that only occur as JSON keys or values other than text do not match.
    assert!(l.search("speaker").unwrap().is_empty());
    assert!(l.search("gpt-x").unwrap().is_empty());
    assert!(l.search("nowhere").unwrap().is_empty());
    assert_eq!(l.search("").unwrap().len(), 3);
}

#[test]
fn the_count_is_the_branch_shown_and_search_finds_every_branch() {
    let (_t, l) = lib();
    let mut c = conv("ccc4", "Branches", 1, &["q1", "a1", "q2", "a2"]);
    // An edited first question, off the path now: a branch with its own reply.
    let shown = c.path_ids();
    c.open_at(None);
    c.push(Speaker::User, "an edited question about walruses");
    assert!(c.open_path(&shown));
    l.save(&c).unwrap();
    let e = &l.list().unwrap()[0];
    assert_eq!(e.messages, 4, "the messages of the branch shown");
    assert_eq!(e.first_line, "q1");
    let hits = l.search("walrus").unwrap();
    assert_eq!(ids(&hits), ["ccc4"]);
    assert!(hits[0].snippet.as_deref().unwrap().contains("walruses"));
    assert!(
        l.search("others").unwrap().is_empty(),
        "a JSON key is not text"
    );
}

#[test]
fn search_finds_text_in_files_written_with_unicode_escapes() {
    let (_t, l) = lib();
    let c = conv("esc1", "Escaped", 1, &["ask about Ünïcödé", "fine"]);
    // As Python's json.dump writes it (ensure_ascii): every non-ASCII char as \uXXXX.
    let json = String::from_utf8(format::to_json(&c)).unwrap();
    let ascii: String = json
        .chars()
        .map(|ch| {
            if ch.is_ascii() {
                ch.to_string()
            } else {
                format!("\\u{:04x}", ch as u32)
            }
        })
        .collect();
    fs::write(l.dir().join("esc1.json"), ascii).unwrap();
    let hits = l.search("ünïcödé").unwrap();
    assert_eq!(ids(&hits), ["esc1"]);
    assert!(hits[0].snippet.as_deref().unwrap().contains("Ünïcödé"));
}

#[test]
fn long_hits_get_a_short_snippet() {
    let (_t, l) = lib();
    let text = format!("{} needle {}", "before ".repeat(50), "after ".repeat(50));
    l.save(&conv("long1", "t", 1, &["q", &text])).unwrap();
    let hits = l.search("NEEDLE").unwrap();
    let s = hits[0].snippet.as_deref().unwrap();
    assert!(
        s.starts_with('…') && s.ends_with('…') && s.contains("needle"),
        "{s}"
    );
    assert!(s.chars().count() < 100, "{s}");
}

#[test]
fn unsafe_ids_are_refused() {
    let (t, l) = lib();
    for id in ["../escape", "", "index", "a/b", "a.b"] {
        let c = conv(id, "x", 1, &["x"]);
        assert!(
            matches!(l.save(&c), Err(LibraryError::InvalidId(_))),
            "{id}"
        );
    }
    assert!(!t.path().join("data/escape.json").exists());
    assert!(l.path_for(&conv("../x", "x", 1, &[])).starts_with(l.dir()));
}

#[test]
fn default_dir_is_under_the_data_dir() {
    if let Some(d) = Library::default_dir() {
        assert!(d.ends_with("chat-tui/conversations"), "{}", d.display());
    }
}

const SECRET: &str = "sk-test-SECRET-123";
const CHILD: &str = "CHAT_TUI_STORE_SECRET_CHILD";

/// Runs in a child process with `OPENAI_API_KEY` set (see below); a no-op otherwise.
#[test]
fn secret_child() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    assert_eq!(std::env::var("OPENAI_API_KEY").unwrap(), SECRET);
    let l = Library::open(PathBuf::from(dir)).unwrap();
    let mut c = conv("secret1", "Keys", 1, &["hello", "hi"]);
    c.endpoint = Some("api.openai.com".into());
    c.params.set("temperature", "0.3").unwrap();
    l.save(&c).unwrap();
    l.list().unwrap();
    l.rename("secret1", "Still no keys").unwrap();
    l.list().unwrap();
    let md = crate::store::export::to_markdown(&c);
    assert!(!md.contains(SECRET));
}

#[test]
fn the_key_never_reaches_the_disk() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("lib");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::library::tests::secret_child",
            "--test-threads=1",
        ])
        .env(CHILD, &dir)
        .env("OPENAI_API_KEY", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    let mut files = 0;
    for e in fs::read_dir(&dir).unwrap() {
        let bytes = fs::read(e.unwrap().path()).unwrap();
        files += 1;
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the key leaked"
        );
    }
    assert_eq!(files, 2); // the transcript and the index
}

#[test]
fn search_folds_case_beyond_ascii() {
    let (_t, l) = lib();
    // KELVIN SIGN lowercases to an ASCII 'k'; Ä to ä; Σ to σ.
    l.save(&conv(
        "k1",
        "t",
        1,
        &["q", "300 \u{212a}ELVIN at ÄRGER ΣΟΦΙΑ"],
    ))
    .unwrap();
    assert_eq!(ids(&l.search("kelvin").unwrap()), ["k1"]);
    assert_eq!(ids(&l.search("ärger").unwrap()), ["k1"]);
    assert_eq!(ids(&l.search("σοφ").unwrap()), ["k1"]);
    assert!(l.search("kelvinx").unwrap().is_empty());
    // A word-final capital sigma matches whichever sigma the query uses.
    l.save(&conv("s1", "t", 2, &["q", "ΟΔΟΣ ΠΑΝ"])).unwrap();
    assert_eq!(ids(&l.search("οδοσ").unwrap()), ["s1"]);
    assert_eq!(ids(&l.search("ΟΔΟΣ").unwrap()), ["s1"]);
    assert_eq!(ids(&l.search("οδος").unwrap()), ["s1"]);
}

#[test]
fn an_unchanged_library_does_not_rewrite_the_index() {
    use std::os::unix::fs::MetadataExt;
    let (_t, l) = filled();
    l.list().unwrap();
    let idx = l.dir().join(INDEX_FILE);
    let ino = fs::metadata(&idx).unwrap().ino();
    l.list().unwrap();
    l.search("rust").unwrap();
    assert_eq!(fs::metadata(&idx).unwrap().ino(), ino);
}

#[test]
fn temp_files_left_by_a_crash_are_cleaned_up_when_old() {
    let (_t, l) = filled();
    let fresh = l.dir().join(".aaa1.json.99.0.0000.tmp");
    let stale = l.dir().join(".aaa1.json.98.0.0000.tmp");
    fs::write(&fresh, b"half").unwrap();
    fs::write(&stale, b"half").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    assert_eq!(l.list().unwrap().len(), 3);
    assert!(fresh.exists(), "a write may still be in progress");
    assert!(!stale.exists());
}

#[test]
fn foreign_files_are_known_by_their_file_name() {
    let (_t, l) = lib();
    let chat = br#"[{"role": "user", "content": "exported elsewhere"}, {"role": "assistant", "content": "yes"}]"#;
    fs::write(l.dir().join("exported.json"), chat).unwrap();
    let copy = conv("orig1", "Copied", 1, &["x"]);
    fs::write(l.dir().join("copy-of-orig.json"), format::to_json(&copy)).unwrap();
    let entries = l.list().unwrap();
    assert_eq!(ids(&entries), ["exported", "copy-of-orig"]);
    assert_eq!(entries[0].title, "exported elsewhere");
    assert_eq!(entries[0].messages, 2);
    // Stable across cold reads even though an import gets a fresh conversation id.
    fs::remove_file(l.dir().join(INDEX_FILE)).unwrap();
    assert_eq!(ids(&l.list().unwrap()), ["exported", "copy-of-orig"]);
    assert_eq!(l.find("exported").unwrap().first_line, "exported elsewhere");
    assert_eq!(l.search("elsewhere").unwrap().len(), 1);
    assert_eq!(fs::read(l.dir().join("exported.json")).unwrap(), chat);
}
