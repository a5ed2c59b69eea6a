use super::*;
use crate::api::types::{Mode, Params};
use crate::chat::conversation::{Memory, Status};
use search::scan;
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

/// The index, opened as another process would.
fn sql(l: &Library) -> rusqlite::Connection {
    rusqlite::Connection::open(l.dir().join(INDEX_FILE)).unwrap()
}

fn indexed_names(l: &Library) -> Vec<String> {
    let c = sql(l);
    let mut st = c.prepare("SELECT name FROM files ORDER BY name").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn is_sqlite(path: &Path) -> bool {
    fs::read(path).is_ok_and(|b| b.starts_with(b"SQLite format 3\0"))
}

#[test]
fn the_index_is_used_and_is_only_a_cache() {
    let (_t, l) = filled();
    let first = l.list().unwrap();
    let idx = l.dir().join(INDEX_FILE);
    // Prove list() and search() answer from the index when the files are unchanged.
    sql(&l)
        .execute(
            "UPDATE files SET entry = replace(entry, '\"Alpha\"', '\"From the cache\"')",
            [],
        )
        .unwrap();
    let cached = l.list().unwrap();
    assert_eq!(cached[2].title, "From the cache");
    sql(&l)
        .execute(
            "UPDATE parts SET text = 'cached text' WHERE text = 'tell me about Rust'",
            [],
        )
        .unwrap();
    assert_eq!(
        l.search("rust").unwrap()[0].snippet.as_deref(),
        Some("Rust is a language")
    );
    // Deleting the index loses nothing.
    fs::remove_file(&idx).unwrap();
    assert_eq!(l.list().unwrap(), first);
    assert!(is_sqlite(&idx));
    assert_eq!(ids(&l.search("language").unwrap()), ["aaa1"]);
}

#[test]
fn a_corrupt_index_is_rebuilt_and_nothing_is_lost() {
    let (_t, l) = filled();
    let first = l.list().unwrap();
    let idx = l.dir().join(INDEX_FILE);
    for garbage in [
        &b"{not json"[..],
        b"SQLite format 3\0 and then nonsense",
        b"",
    ] {
        close_indexes(l.dir()); // as a new process finds it
        db::remove_files(l.dir());
        fs::write(&idx, garbage).unwrap();
        assert_eq!(l.list().unwrap(), first);
        assert_eq!(ids(&l.search("哪個地區").unwrap()), ["bbb2"]);
        assert!(is_sqlite(&idx));
        assert_eq!(indexed_names(&l).len(), 3);
    }
    // Pages damaged inside a valid file: found when used, rebuilt, answers right.
    close_indexes(l.dir());
    let len = fs::metadata(&idx).unwrap().len();
    let mut bytes = fs::read(&idx).unwrap();
    for b in bytes.iter_mut().skip(4096).take(len as usize - 4096) {
        *b ^= 0x5a;
    }
    db::remove_files(l.dir());
    fs::write(&idx, &bytes).unwrap();
    assert_eq!(l.list().unwrap(), first);
    assert_eq!(ids(&l.search("rust").unwrap()), ["aaa1"]);
    assert_eq!(l.list().unwrap(), first);
}

#[test]
fn an_index_of_another_folder_or_version_is_rebuilt() {
    let (t, l) = filled();
    l.list().unwrap();
    sql(&l)
        .execute(
            "UPDATE files SET entry = replace(entry, '\"Alpha\"', '\"Stale\"')",
            [],
        )
        .unwrap();
    close_indexes(l.dir());
    // A copy of the library in another folder carries the first one's index.
    let copy_dir = t.path().join("copy");
    fs::create_dir(&copy_dir).unwrap();
    for e in fs::read_dir(l.dir()).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, copy_dir.join(p.file_name().unwrap())).unwrap();
    }
    let copy = Library::open(&copy_dir).unwrap();
    let entries = copy.list().unwrap();
    assert_eq!(ids(&entries), ["bbb2", "bbb3", "aaa1"]);
    assert_eq!(entries[2].title, "Alpha", "rebuilt from the files");
    assert_eq!(entries[2].path, copy_dir.join("aaa1.json"));
    let meta: String = sql(&copy)
        .query_row("SELECT value FROM meta WHERE key = 'dir'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(meta, copy_dir.to_string_lossy());
    // An index of another schema version (an older or newer chat-tui) is rebuilt.
    assert_eq!(l.list().unwrap()[2].title, "Stale");
    sql(&l)
        .execute("UPDATE meta SET value = '0' WHERE key = 'version'", [])
        .unwrap();
    close_indexes(l.dir());
    let entries = l.list().unwrap();
    assert_eq!(entries[2].title, "Alpha", "rebuilt from the files");
    let version: String = sql(&l)
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(version, db::SCHEMA_VERSION.to_string());
}

#[test]
fn without_an_index_search_reads_the_files() {
    let (_t, l) = filled();
    close_indexes(l.dir());
    db::remove_files(l.dir());
    // Something that cannot be opened as the index.
    fs::create_dir(l.dir().join(INDEX_FILE)).unwrap();
    assert_eq!(ids(&l.list().unwrap()), ["bbb2", "bbb3", "aaa1"]);
    assert_eq!(ids(&l.search("哪個地區").unwrap()), ["bbb2"]);
    assert_eq!(
        l.search("language").unwrap()[0].snippet.as_deref(),
        Some("Rust is a language")
    );
    let mut streamed = Vec::new();
    l.search_streamed("rust", |b| {
        streamed.extend(b);
        true
    })
    .unwrap();
    assert_eq!(ids(&streamed), ["aaa1"]);
    fs::remove_dir(l.dir().join(INDEX_FILE)).unwrap();
}

#[test]
fn a_read_only_folder_is_still_listed_and_searched() {
    let (_t, l) = filled();
    close_indexes(l.dir());
    db::remove_files(l.dir());
    fs::set_permissions(l.dir(), fs::Permissions::from_mode(0o500)).unwrap();
    let probe = l.dir().join("probe");
    let root = fs::write(&probe, b"x").is_ok(); // root ignores the mode
    let _ = fs::remove_file(&probe);
    assert_eq!(ids(&l.list().unwrap()), ["bbb2", "bbb3", "aaa1"]);
    assert_eq!(ids(&l.search("太平洋").unwrap()), ["bbb2"]);
    assert_eq!(ids(&l.search("rust").unwrap()), ["aaa1"]);
    if !root {
        assert!(!l.dir().join(INDEX_FILE).exists());
    }
    fs::set_permissions(l.dir(), fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_transcript_edited_by_hand_is_picked_up() {
    let (_t, l) = filled();
    assert_eq!(ids(&l.search("language").unwrap()), ["aaa1"]);
    // Another program rewrites the file in place (same inode: the listing shows no change).
    let p = l.dir().join("aaa1.json");
    let ino = inode(&p);
    let text = fs::read_to_string(&p)
        .unwrap()
        .replace("Rust is a language", "Go is a language");
    fs::write(&p, text).unwrap();
    assert_eq!(inode(&p), ino, "written in place");
    // It was a hit for "rust is": checked, indexed again, not an answer any more.
    assert!(l.search("rust is").unwrap().is_empty());
    assert_eq!(ids(&l.search("go is").unwrap()), ["aaa1"]);
    // A new file dropped in, another one deleted by hand.
    fs::write(
        l.dir().join("new5.json"),
        format::to_json(&conv("new5", "Fresh", 9, &["zebra crossing"])),
    )
    .unwrap();
    fs::remove_file(l.dir().join("bbb2.json")).unwrap();
    assert_eq!(ids(&l.search("zebra").unwrap()), ["new5"]);
    assert!(l.search("太平洋").unwrap().is_empty());
    assert_eq!(indexed_names(&l), ["aaa1.json", "bbb3.json", "new5.json"]);
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(p).unwrap().ino()
}

/// Replace `name` in the library the way editors and chat-tui do: a new file renamed over it.
fn replace_by_rename(l: &Library, name: &str, conv: &Conversation) {
    let tmp = l.dir().join(".outside.tmp");
    fs::write(&tmp, format::to_json(conv)).unwrap();
    fs::rename(&tmp, l.dir().join(name)).unwrap();
}

#[test]
fn search_follows_files_added_removed_and_replaced_by_rename_from_the_listing() {
    let (_t, l) = filled();
    l.list().unwrap();
    // Behind the library's back: one file added, one removed, one replaced by a rename.
    fs::write(
        l.dir().join("new5.json"),
        format::to_json(&conv("new5", "Fresh", 9, &["a walrus appears"])),
    )
    .unwrap();
    fs::remove_file(l.dir().join("bbb2.json")).unwrap();
    let before = inode(&l.dir().join("bbb3.json"));
    replace_by_rename(
        &l,
        "bbb3.json",
        &conv("bbb3", "Gamma", 2, &["walrus tusks", "ok"]),
    );
    assert_ne!(inode(&l.dir().join("bbb3.json")), before);
    // None of them was a hit before, and no full check ran: the listing told.
    assert_eq!(ids(&l.search("walrus").unwrap()), ["new5", "bbb3"]);
    assert!(l.search("太平洋").unwrap().is_empty());
    assert!(l.search("please").unwrap().is_empty());
    assert_eq!(indexed_names(&l), ["aaa1.json", "bbb3.json", "new5.json"]);
    // The entries come from the new files too.
    let hit = l.search_with("tusks", false).unwrap();
    assert_eq!(hit[0].title, "Gamma");
    assert_eq!(hit[0].messages, 2);
}

#[test]
fn search_checks_its_hits_and_answers_from_their_current_text() {
    let (_t, l) = filled();
    l.list().unwrap();
    let p = l.dir().join("aaa1.json");
    let ino = inode(&p);
    // Rewritten in place (same inode, same name): still a hit, with a new title.
    let mut c = save::load(&p).unwrap();
    c.title = "Retitled in place".into();
    fs::write(&p, format::to_json(&c)).unwrap();
    assert_eq!(inode(&p), ino);
    let hits = l.search("language").unwrap();
    assert_eq!(ids(&hits), ["aaa1"]);
    assert_eq!(hits[0].title, "Retitled in place");
    // Rewritten in place so that it no longer matches: no stale answer.
    let mut c = save::load(&p).unwrap();
    c.messages[1].choice_mut(0).text = "nothing to see".into();
    fs::write(&p, format::to_json(&c)).unwrap();
    assert!(l.search_with("language", false).unwrap().is_empty());
    assert_eq!(ids(&l.search("nothing to see").unwrap()), ["aaa1"]);
}

/// docs/faults.md: a file rewritten in place (same inode) that was not a hit is not found
/// by a search until a full check ([`Library::list`], the sessions browser) reads its stamp.
#[test]
fn an_edit_in_place_of_a_file_that_was_no_hit_is_found_after_the_next_full_check() {
    let (_t, l) = filled();
    l.list().unwrap();
    let p = l.dir().join("bbb3.json");
    let mut c = save::load(&p).unwrap();
    c.messages[0].content = "a narwhal question".into();
    fs::write(&p, format::to_json(&c)).unwrap();
    // The listing shows the same name and inode: the search trusts the index.
    assert!(l.search("narwhal").unwrap().is_empty());
    // A full check (what `chat-tui list` and the sessions browser do) reads the stamps.
    l.list().unwrap();
    assert_eq!(ids(&l.search("narwhal").unwrap()), ["bbb3"]);
}

/// The folder's stamp kept with the index (`meta.listing`), as another process reads it.
fn kept_listing(l: &Library) -> Option<String> {
    use rusqlite::OptionalExtension;
    sql(l)
        .query_row("SELECT value FROM meta WHERE key = 'listing'", [], |r| {
            r.get(0)
        })
        .optional()
        .unwrap()
}

/// Sets the folder's modification time (what adding, removing or renaming a file changes).
fn set_folder_time(l: &Library, t: std::time::SystemTime) {
    fs::File::open(l.dir()).unwrap().set_modified(t).unwrap();
}

/// A search in a folder unchanged since the index was last found in step with its listing
/// does not read the listing again (docs/benchmarks.md: 10,003 names and a hash-map
/// comparison per search), still checks its hits, and reads the listing as soon as a file
/// is added.
#[test]
fn a_search_in_an_unchanged_folder_trusts_the_index_and_still_checks_its_hits() {
    let (_t, l) = filled();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    // Just changed: a change within a coarse file-system clock could keep its time, so the
    // folder's stamp is not kept yet.
    assert_eq!(ids(&l.search("language").unwrap()), ["aaa1"]);
    assert_eq!(kept_listing(&l), None);
    set_folder_time(&l, an_hour_ago);
    assert_eq!(ids(&l.search("language").unwrap()), ["aaa1"]);
    let kept = kept_listing(&l).expect("the stamp of a settled folder is kept");
    // A file added changes the folder's time: the listing is read and the file found.
    fs::write(
        l.dir().join("new5.json"),
        format::to_json(&conv("new5", "Fresh", 9, &["a walrus appears"])),
    )
    .unwrap();
    assert_eq!(ids(&l.search("walrus").unwrap()), ["new5"]);
    assert_eq!(kept_listing(&l), None);
    set_folder_time(&l, an_hour_ago);
    assert_eq!(ids(&l.search("walrus").unwrap()), ["new5"]);
    assert_eq!(kept_listing(&l).as_deref(), Some(kept.as_str()));
    // Unchanged folder: the hits are still checked against their files.
    let p = l.dir().join("aaa1.json");
    let mut c = save::load(&p).unwrap();
    c.title = "Retitled in place".into();
    fs::write(&p, format::to_json(&c)).unwrap();
    let hits = l.search("language").unwrap();
    assert_eq!(
        (ids(&hits), hits[0].title.as_str()),
        (vec!["aaa1"], "Retitled in place")
    );
    fs::remove_file(l.dir().join("new5.json")).unwrap();
    set_folder_time(&l, an_hour_ago);
    assert!(
        l.search("walrus").unwrap().is_empty(),
        "a gone hit is dropped"
    );
    // The listing is not read while the folder's stamp holds: a file added with the
    // folder's time put back (no program does that by accident) is found by the next full
    // check, as an edit in place is (docs/faults.md).
    fs::write(
        l.dir().join("new6.json"),
        format::to_json(&conv("new6", "Sixth", 9, &["a narwhal appears"])),
    )
    .unwrap();
    set_folder_time(&l, an_hour_ago);
    assert!(l.search("narwhal").unwrap().is_empty());
    l.list().unwrap();
    assert_eq!(ids(&l.search("narwhal").unwrap()), ["new6"]);
}

#[test]
fn saves_renames_and_deletes_keep_the_index_in_step() {
    let (_t, l) = filled();
    l.list().unwrap();
    // search_streamed trusts the index: what it finds, the index knows.
    let streamed = |q: &str| {
        let mut all = Vec::new();
        l.search_streamed(q, |b| {
            all.extend(b);
            true
        })
        .unwrap();
        sort_newest_first(&mut all);
        all
    };
    let path = l.dir().join("aaa1.json");
    let mut c = save::load(&path).unwrap();
    c.push(Speaker::User, "a new question about octopuses");
    save::write_atomic(&path, &format::to_json(&c)).unwrap();
    note_saved(&path, &c);
    assert_eq!(ids(&streamed("octopus")), ["aaa1"]);
    assert_eq!(ids(&streamed("language")), ["aaa1"], "unchanged parts stay");
    l.rename("aaa1", "Cephalopods").unwrap();
    assert_eq!(ids(&streamed("cephalo")), ["aaa1"]);
    assert!(streamed("alpha").is_empty());
    l.delete("bbb2").unwrap();
    assert!(streamed("太平洋").is_empty());
    assert_eq!(indexed_names(&l), ["aaa1.json", "bbb3.json"]);
    // A save outside any library (a /save to another folder) creates no index.
    let t2 = tempfile::tempdir().unwrap();
    let elsewhere = t2.path().join("x.json");
    save::write_atomic(&elsewhere, &format::to_json(&c)).unwrap();
    note_saved(&elsewhere, &c);
    assert!(!t2.path().join(INDEX_FILE).exists());
}

#[test]
fn search_streams_the_first_matches_then_the_rest() {
    let (_t, l) = lib();
    for i in 0..100 {
        let text = if i % 2 == 0 {
            "the common word"
        } else {
            "something else"
        };
        l.save(&conv(&format!("c{i:03}"), "t", i, &[text])).unwrap();
    }
    let all = l.search("common").unwrap();
    assert_eq!(all.len(), 50);
    let mut batches = Vec::new();
    l.search_streamed("common", |b| {
        batches.push(b);
        true
    })
    .unwrap();
    assert_eq!(batches[0].len(), search::FIRST_BATCH);
    assert!(batches.len() >= 2);
    // The newest come first.
    assert_eq!(batches[0][0].id, "c098");
    let mut merged: Vec<Entry> = batches.concat();
    sort_newest_first(&mut merged);
    assert_eq!(merged, all);
    // Stopping after the first batch stops the search.
    let mut calls = 0;
    l.search_streamed("common", |_| {
        calls += 1;
        false
    })
    .unwrap();
    assert_eq!(calls, 1);
}

#[test]
fn index_and_scan_agree() {
    let (_t, l) = lib();
    let texts = [
        "Straße und STRASSE",
        "ΟΔΟΣ σοφία",
        "300 \u{212a}ELVIN",
        "İstanbul",
        "海洋污染對哪個地區影響最大",
        "a",
        "ab",
        "emoji 🦀 crab",
        "tab\tand\nnewline",
        "quote \" and \\ backslash",
        "\u{FFFF} noncharacter",
    ];
    for (i, t) in texts.iter().enumerate() {
        let c = conv(&format!("x{i}"), &format!("title {i}"), i as i64, &["q", t]);
        l.save(&c).unwrap();
    }
    let queries = [
        "a",
        "ab",
        "b",
        "海",
        "海洋",
        "地區影",
        "straße",
        "ss",
        "οδοσ",
        "ς",
        "kelvin",
        "k",
        "i̇",
        "🦀",
        "\t",
        "\"",
        "\\",
        "e\nn",
        "title",
        "1",
        "x",
        "\u{FFFF}",
        "\u{FFFD}",
        "zz",
        "q",
    ];
    let files = l.list().unwrap();
    for q in queries {
        if q.trim().is_empty() {
            continue; // an empty query lists everything (see search_titles_and_text)
        }
        let indexed = l.search(q).unwrap();
        let mut scanned = scan(files.clone(), &search::fold(q.trim()));
        sort_newest_first(&mut scanned);
        assert_eq!(indexed, scanned, "query {q:?}");
    }
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
    assert_eq!(indexed_names(&l), ["aaa1.json", "bbb2.json", "ccc4.json"]);
    assert_eq!(ids(&l.search("changed elsewhere").unwrap()), ["aaa1"]);
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
    assert!(files >= 2); // the transcript and the index (and its WAL files)
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
    let (_t, l) = filled();
    l.list().unwrap();
    let version = |c: &rusqlite::Connection| -> i64 {
        c.query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    let watcher = sql(&l);
    let v0 = version(&watcher);
    l.list().unwrap();
    l.search("rust").unwrap();
    l.search("a").unwrap();
    assert_eq!(version(&watcher), v0, "nothing was written to the index");
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

const WRITER_CHILD: &str = "CHAT_TUI_INDEX_WRITER_CHILD";

/// Runs in a child process (see below): saves conversations into a shared library.
#[test]
fn index_writer_child() {
    let Some(dir) = std::env::var_os(WRITER_CHILD) else {
        return;
    };
    let l = Library::open(PathBuf::from(dir)).unwrap();
    for i in 0..40 {
        l.save(&conv(
            &format!("child{i:02}"),
            "from the child",
            i,
            &["shared walrus"],
        ))
        .unwrap();
        if i % 10 == 0 {
            l.list().unwrap();
        }
    }
}

#[test]
fn two_processes_share_the_index_without_damage() {
    let (_t, l) = filled();
    l.list().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::library::tests::index_writer_child",
            "--test-threads=1",
        ])
        .env(WRITER_CHILD, l.dir())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Meanwhile this process saves, lists and searches the same library.
    for i in 0..40 {
        l.save(&conv(
            &format!("parent{i:02}"),
            "from the parent",
            i,
            &["shared walrus"],
        ))
        .unwrap();
        l.search("walrus").unwrap();
    }
    assert!(child.wait().unwrap().success());
    let ok: String = sql(&l)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    assert_eq!(l.search("shared walrus").unwrap().len(), 80);
    assert_eq!(l.list().unwrap().len(), 83);
    // The index agrees with a fresh one built from the files.
    let fts: i64 = sql(&l)
        .query_row(
            "SELECT count(*) FROM fts WHERE fts MATCH '\"walrus\"'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fts, 80);
}

#[test]
fn a_new_index_of_many_files_is_filled_in_the_background() {
    let (_t, l) = lib();
    let n = db::CHUNK + 44;
    for i in 0..n {
        let c = conv(
            &format!("m{i:04}"),
            "many",
            i as i64,
            &[&format!("text {i} narwhal")],
        );
        fs::write(l.path_for(&c), format::to_json(&c)).unwrap();
    }
    // The browser's listing comes back at once, complete.
    let listed = l.list_now().unwrap();
    assert_eq!(listed.len(), n);
    assert_eq!(listed[0].id, format!("m{:04}", n - 1));
    // Searches answer right whether or not the index has caught up yet.
    let mut found = Vec::new();
    l.search_streamed("narwhal", |b| {
        found.extend(b);
        true
    })
    .unwrap();
    assert_eq!(found.len(), n);
    let slot = Slot::get(l.dir()).unwrap();
    while slot.catching_up().is_some() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(indexed_names(&l).len(), n);
    let mut found = Vec::new();
    l.search_streamed("text 12 narwhal", |b| {
        found.extend(b);
        true
    })
    .unwrap();
    assert_eq!(ids(&found), ["m0012"]);
}
