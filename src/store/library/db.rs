//! `index.sqlite`: the library's index, a cache of every transcript's metadata and text with
//! an SQLite FTS5 trigram index over the text, kept in step with the JSON files by their
//! stamps (mtime, size, inode). The JSON files are the truth: a missing, corrupt, foreign
//! (another folder's) or older-schema index is rebuilt from them, and deleting it loses
//! nothing.
//!
//! Search is exact, not fuzzy: the indexed text is each part (title, message, choice)
//! lowercased the same way the query is, so a trigram phrase query finds exactly the parts
//! that contain the query as a substring — CJK included, with no word splitting. Queries of
//! one or two characters look up the trigrams that start with them (each part is padded
//! with two characters no query can contain, so every character starts a trigram).
//!
//! Several processes may share a library: SQLite's locks (WAL mode) keep the file whole;
//! writers wait for each other up to a few seconds, then give up (the index is only a cache
//! and the next sync catches up).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};

use super::index::{Doc, Found, Stamp};
use super::search::{fold, snippet};
use super::{Entry, INDEX_FILE};

const FORMAT: &str = "chat-tui-index";
/// Bumped whenever the tables or what goes into them change; an index with another
/// version is rebuilt.
pub(super) const SCHEMA_VERSION: i64 = 1;
/// After each indexed part: two noncharacters no folded query contains, so that no trigram
/// spans two parts and every one- or two-character substring starts a trigram.
const PAD: &str = "\u{FFFF}\u{FFFF}";
/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(3);
/// Files indexed per transaction while catching up (keeps each lock short).
pub(super) const CHUNK: usize = 256;

const SCHEMA: &str = "
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE files(
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        mtime_s INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        size INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        entry TEXT NOT NULL
    );
    CREATE TABLE parts(
        id INTEGER PRIMARY KEY,
        file INTEGER NOT NULL,
        ord INTEGER NOT NULL,
        hash INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX parts_file ON parts(file, ord);
    CREATE VIRTUAL TABLE fts USING fts5(
        body, content='', contentless_delete=1, tokenize='trigram case_sensitive 1'
    );
";

/// An open index.
pub(super) struct Db {
    conn: Connection,
    dir: PathBuf,
    vocab: std::cell::Cell<bool>,
}

/// What a sync found to do.
pub(super) struct Plan {
    /// Files new or changed since they were indexed.
    pub stale: Vec<Found>,
    /// Indexed files that are gone (by name).
    pub gone: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.stale.is_empty() && self.gone.is_empty()
    }
}

/// Is this index ours, for `dir`, of this schema version?
fn is_current(conn: &Connection, dir: &str) -> Result<bool, rusqlite::Error> {
    let has_meta: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if has_meta == 0 {
        return Ok(false);
    }
    let get = |k: &str| -> Result<Option<String>, rusqlite::Error> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
            .optional()
    };
    Ok(get("format")?.as_deref() == Some(FORMAT)
        && get("version")?.as_deref() == Some(SCHEMA_VERSION.to_string().as_str())
        && get("dir")?.as_deref() == Some(dir))
}

/// Is this error a damaged or foreign file (rebuild it) rather than a passing one?
pub(super) fn is_corrupt(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

pub(super) fn stamp_cols(s: &Stamp) -> [i64; 4] {
    // Stored as SQLite integers (i64); the bits round-trip.
    [
        s.mtime_s as i64,
        i64::from(s.mtime_ns),
        s.size as i64,
        s.ino as i64,
    ]
}

fn part_hash(text: &str) -> i64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish() as i64
}

/// What goes into the full-text index for one part.
fn indexed(text: &str) -> String {
    let mut s = fold(text);
    s.push_str(PAD);
    s
}

/// A query as an FTS5 string (one phrase).
fn phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Db {
    /// Open the index of `dir`: create it when missing; start over when it is damaged,
    /// another folder's, or of another schema version.
    pub fn open(dir: &Path) -> Result<Db, rusqlite::Error> {
        match Self::connect(dir) {
            Ok(mut db) => match db.create_or_check() {
                Ok(true) => return Ok(db),
                Ok(false) => {}
                Err(e) if !is_corrupt(&e) => return Err(e),
                Err(_) => {}
            },
            Err(e) if !is_corrupt(&e) => return Err(e),
            Err(_) => {}
        }
        remove_files(dir);
        let mut db = Self::connect(dir)?;
        if db.create_or_check()? {
            Ok(db)
        } else {
            Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some("the index could not be recreated".into()),
            ))
        }
    }

    fn connect(dir: &Path) -> Result<Db, rusqlite::Error> {
        let path = dir.join(INDEX_FILE);
        create_private(&path);
        let conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A file system that refuses WAL leaves rollback mode, which works too.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        Ok(Db {
            conn,
            dir: dir.to_path_buf(),
            vocab: std::cell::Cell::new(false),
        })
    }

    /// Create the tables in an empty file; true when the index is (now) ours, for this
    /// folder and schema version; false when it is something else.
    fn create_or_check(&mut self) -> Result<bool, rusqlite::Error> {
        let dir = self.dir.to_string_lossy().into_owned();
        if is_current(&self.conn, &dir)? {
            self.add_stamp_index();
            return Ok(true);
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have created it while we waited for the lock.
        if is_current(&tx, &dir)? {
            return Ok(true);
        }
        let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if objects > 0 {
            return Ok(false);
        }
        tx.execute_batch(SCHEMA)?;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('format', ?1), ('version', ?2), ('dir', ?3)",
            params![FORMAT, SCHEMA_VERSION.to_string(), dir],
        )?;
        tx.commit()?;
        self.add_stamp_index();
        Ok(true)
    }

    /// The stamps of every file, readable without the entries: a listing's check reads
    /// this small index instead of the whole table (1,612 page reads at 10,000 files).
    /// Added to older indexes of the same schema on first open (their readers ignore
    /// it); a read-only index goes without.
    fn add_stamp_index(&self) {
        let _ = self.conn.execute_batch(
            "CREATE INDEX IF NOT EXISTS files_stamp \
             ON files(name, mtime_s, mtime_ns, size, ino)",
        );
    }

    /// Compare the folder with the index: what is new or changed, what is gone.
    pub fn plan(&self, found: Vec<Found>) -> Result<Plan, rusqlite::Error> {
        let mut known = self.stamps()?;
        let mut stale = Vec::new();
        for f in found {
            let now = stamp_cols(&Stamp::of(&f.md));
            match known.remove(&f.name) {
                Some(s) if s == now => {}
                _ => stale.push(f),
            }
        }
        Ok(Plan {
            stale,
            gone: known.into_keys().collect(),
        })
    }

    /// Every indexed file's stamp, by name (as [`stamp_cols`] gives them).
    pub fn stamps(&self) -> Result<HashMap<String, [i64; 4]>, rusqlite::Error> {
        let mut known = HashMap::new();
        let mut st = self
            .conn
            .prepare("SELECT name, mtime_s, mtime_ns, size, ino FROM files")?;
        let rows = st.query_map([], |r| {
            Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
        })?;
        for row in rows {
            let (name, stamp) = row?;
            known.insert(name, stamp);
        }
        Ok(known)
    }

    /// The stamps of these files only (those the index knows).
    pub fn stamps_of(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, [i64; 4]>, rusqlite::Error> {
        let mut known = HashMap::with_capacity(names.len());
        let mut st = self
            .conn
            .prepare("SELECT mtime_s, mtime_ns, size, ino FROM files WHERE name = ?1")?;
        for name in names {
            if let Some(stamp) = st
                .query_row([name], |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]))
                .optional()?
            {
                known.insert(name.clone(), stamp);
            }
        }
        Ok(known)
    }

    /// The folder's stamp the last time the index was found in step with its listing
    /// (see `Library::quick_view`), if one was kept.
    pub fn listing_stamp(&self) -> Result<Option<String>, rusqlite::Error> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'listing'", [], |r| {
                r.get(0)
            })
            .optional()
    }

    /// Keep (or, with `None`, forget) the folder's stamp of a listing the index is in step
    /// with.
    pub fn set_listing_stamp(&self, stamp: Option<&str>) -> Result<(), rusqlite::Error> {
        match stamp {
            Some(v) => self.conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('listing', ?1)",
                [v],
            ),
            None => self
                .conn
                .execute("DELETE FROM meta WHERE key = 'listing'", []),
        }
        .map(|_| ())
    }

    /// Index these documents (in this order: later ones get higher row ids, and search
    /// streams its results by row id, highest first) and forget the gone files, in one
    /// transaction.
    pub fn apply(&mut self, docs: &[(Found, Doc)], gone: &[String]) -> Result<(), rusqlite::Error> {
        if docs.is_empty() && gone.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for name in gone {
            remove_in(&tx, name)?;
        }
        for (f, doc) in docs.iter() {
            let parts: Vec<&str> = doc.parts.iter().map(String::as_str).collect();
            upsert_in(&tx, &f.name, &Stamp::of(&f.md), &doc.entry, &parts)?;
        }
        tx.commit()
    }

    /// Index one file whose content is known (a save).
    pub fn upsert(
        &mut self,
        name: &str,
        stamp: &Stamp,
        entry: &Entry,
        parts: &[&str],
    ) -> Result<(), rusqlite::Error> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        upsert_in(&tx, name, stamp, entry, parts)?;
        tx.commit()
    }

    /// Forget one file (deleted).
    pub fn remove(&mut self, name: &str) -> Result<(), rusqlite::Error> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        remove_in(&tx, name)?;
        tx.commit()
    }

    /// Every indexed entry (unsorted).
    pub fn entries(&self) -> Result<Vec<Entry>, rusqlite::Error> {
        let mut st = self.conn.prepare("SELECT name, entry FROM files")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, json) = row?;
            if let Some(e) = self.entry_of(&name, &json) {
                out.push(e);
            }
        }
        Ok(out)
    }

    fn entry_of(&self, name: &str, json: &str) -> Option<Entry> {
        let e: Entry = serde_json::from_str(json).ok()?;
        Some(Entry {
            path: self.dir.join(name),
            ..e
        })
    }

    /// The files whose title or text contains `needle` (already [`fold`]ed, not empty), most
    /// recently indexed first, handed to `each` in batches (the first one small, so the
    /// first matches show at once). With `snippets`, each entry carries an excerpt of its
    /// first hit. `each` returns false to stop.
    ///
    /// A needle of one or two characters (which trigrams cannot hold) is first looked for
    /// by reading the newest [`SCAN_FIRST`] parts, newest first — a common letter fills the
    /// first batch there at once — and then, below them, through the trigrams that start
    /// with it (or by reading on, when that is most of the vocabulary).
    pub fn search(
        &self,
        needle: &str,
        snippets: bool,
        first_batch: usize,
        each: impl FnMut(Vec<Entry>) -> bool,
    ) -> Result<(), rusqlite::Error> {
        let mut out = Hits {
            entry_of: self
                .conn
                .prepare("SELECT name, entry FROM files WHERE id = ?1")?,
            parts_of: self
                .conn
                .prepare("SELECT text FROM parts WHERE file = ?1 ORDER BY ord")?,
            seen: HashSet::new(),
            batch: Vec::new(),
            limit: first_batch.max(1),
            each,
            stopped: false,
        };
        if needle.chars().count() >= 3 {
            self.stream_match(&phrase(needle), i64::MAX, needle, snippets, &mut out)?;
        } else if let Some(below) =
            self.stream_parts(needle, i64::MAX, SCAN_FIRST, snippets, &mut out)?
        {
            match self.match_expr(needle)? {
                Lookup::Nothing => {}
                Lookup::Match(expr) => {
                    self.stream_match(&expr, below, needle, snippets, &mut out)?
                }
                Lookup::Scan => {
                    self.stream_parts(needle, below, usize::MAX, snippets, &mut out)?;
                }
            }
        }
        if !out.stopped {
            (out.each)(out.batch);
        }
        Ok(())
    }

    /// The parts an FTS5 query matches, below row id `below`, newest first.
    fn stream_match<F: FnMut(Vec<Entry>) -> bool>(
        &self,
        expr: &str,
        below: i64,
        needle: &str,
        snippets: bool,
        out: &mut Hits<'_, F>,
    ) -> Result<(), rusqlite::Error> {
        let mut st = self.conn.prepare(
            "SELECT p.file FROM fts JOIN parts p ON p.id = fts.rowid \
             WHERE fts MATCH ?1 AND fts.rowid < ?2 ORDER BY fts.rowid DESC",
        )?;
        let mut rows = st.query(params![expr, below])?;
        while let Some(row) = rows.next()? {
            if out.stopped {
                break;
            }
            let file: i64 = row.get(0)?;
            self.hit(file, needle, snippets, out)?;
        }
        Ok(())
    }

    /// Read at most `max` parts below row id `below`, newest first, keeping the files that
    /// contain `needle`. Returns the lowest row id read when parts are left below it.
    fn stream_parts<F: FnMut(Vec<Entry>) -> bool>(
        &self,
        needle: &str,
        below: i64,
        max: usize,
        snippets: bool,
        out: &mut Hits<'_, F>,
    ) -> Result<Option<i64>, rusqlite::Error> {
        // One table in row-id order: SQLite walks it backwards, no sorting.
        let mut st = self
            .conn
            .prepare("SELECT id, file, text FROM parts WHERE id < ?1 ORDER BY id DESC")?;
        let mut rows = st.query([below])?;
        let mut read = 0usize;
        let mut lowest = below;
        while let Some(row) = rows.next()? {
            if out.stopped {
                return Ok(None);
            }
            if read == max {
                return Ok(Some(lowest));
            }
            read += 1;
            lowest = row.get(0)?;
            let file: i64 = row.get(1)?;
            if out.seen.contains(&file) || !fold(row.get_ref(2)?.as_str()?).contains(needle) {
                continue;
            }
            self.hit(file, needle, snippets, out)?;
        }
        Ok(None)
    }

    /// File `file` has a match: hand its entry on, once.
    fn hit<F: FnMut(Vec<Entry>) -> bool>(
        &self,
        file: i64,
        needle: &str,
        snippets: bool,
        out: &mut Hits<'_, F>,
    ) -> Result<(), rusqlite::Error> {
        if !out.seen.insert(file) {
            return Ok(());
        }
        let Some((name, json)) = out
            .entry_of
            .query_row([file], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
        else {
            return Ok(());
        };
        let Some(mut entry) = self.entry_of(&name, &json) else {
            return Ok(());
        };
        if snippets {
            let texts = out.parts_of.query_map([file], |r| r.get::<_, String>(0))?;
            for t in texts {
                if let Some(s) = snippet(&t?, needle) {
                    entry.snippet = Some(s);
                    break;
                }
            }
        }
        out.push(entry);
        Ok(())
    }

    /// How to find a folded needle: a phrase of its trigrams; for one or two characters,
    /// any trigram that starts with them (or, when that is most of the vocabulary, a read
    /// of the parts).
    fn match_expr(&self, needle: &str) -> Result<Lookup, rusqlite::Error> {
        if needle.chars().count() >= 3 {
            return Ok(Lookup::Match(phrase(needle)));
        }
        if !self.vocab.get() {
            self.conn.execute_batch(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_terms \
                 USING fts5vocab(main, fts, 'row')",
            )?;
            self.vocab.set(true);
        }
        let mut st = self
            .conn
            .prepare("SELECT term FROM temp.fts_terms WHERE term >= ?1")?;
        let mut rows = st.query([needle])?;
        let mut terms = Vec::new();
        while let Some(row) = rows.next()? {
            let term = row.get_ref(0)?.as_str()?;
            if !term.starts_with(needle) {
                break;
            }
            if terms.len() == MAX_TERMS {
                return Ok(Lookup::Scan);
            }
            terms.push(phrase(term));
        }
        Ok(if terms.is_empty() {
            Lookup::Nothing
        } else {
            Lookup::Match(terms.join(" OR "))
        })
    }
}

/// How a search runs.
enum Lookup {
    /// No indexed text can contain the needle.
    Nothing,
    /// This FTS5 query finds the parts that contain it.
    Match(String),
    /// Read every part, newest first.
    Scan,
}

/// Matches found so far, handed on in batches.
struct Hits<'c, F> {
    /// A file's name and entry by id.
    entry_of: rusqlite::Statement<'c>,
    /// A file's parts in order.
    parts_of: rusqlite::Statement<'c>,
    /// Files already handed on.
    seen: HashSet<i64>,
    batch: Vec<Entry>,
    /// The size of the batch that goes out next.
    limit: usize,
    each: F,
    /// `each` said stop.
    stopped: bool,
}

impl<F: FnMut(Vec<Entry>) -> bool> Hits<'_, F> {
    fn push(&mut self, e: Entry) {
        self.batch.push(e);
        if self.batch.len() >= self.limit {
            if !(self.each)(std::mem::take(&mut self.batch)) {
                self.stopped = true;
            }
            self.limit = 500;
        }
    }
}

/// How many of the newest parts a one- or two-character search reads before it turns to
/// the index (a common letter is found among them at once; a rare one costs this read).
/// (Small in tests, so that they cover the turn to the index.)
const SCAN_FIRST: usize = if cfg!(test) { 8 } else { 2_000 };

/// A short query matching more trigrams than this reads the parts instead.
const MAX_TERMS: usize = 300;

fn upsert_in(
    tx: &Transaction,
    name: &str,
    stamp: &Stamp,
    entry: &Entry,
    parts: &[&str],
) -> Result<(), rusqlite::Error> {
    let json = serde_json::to_string(entry)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    let [s, ns, size, ino] = stamp_cols(stamp);
    let id: Option<i64> = tx
        .query_row("SELECT id FROM files WHERE name = ?1", [name], |r| r.get(0))
        .optional()?;
    let id = match id {
        Some(id) => {
            tx.execute(
                "UPDATE files SET mtime_s = ?2, mtime_ns = ?3, size = ?4, ino = ?5, entry = ?6 \
                 WHERE id = ?1",
                params![id, s, ns, size, ino, json],
            )?;
            id
        }
        None => {
            tx.execute(
                "INSERT INTO files(name, mtime_s, mtime_ns, size, ino, entry) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, s, ns, size, ino, json],
            )?;
            tx.last_insert_rowid()
        }
    };
    // Parts already indexed with the same text stay; the rest are replaced. An autosave
    // while a reply streams re-indexes only the message that grew.
    let mut old: HashMap<i64, (i64, i64)> = HashMap::new();
    {
        let mut st = tx.prepare("SELECT ord, id, hash FROM parts WHERE file = ?1")?;
        let rows = st.query_map([id], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        for row in rows {
            let (ord, v) = row?;
            old.insert(ord, v);
        }
    }
    let mut del_fts = tx.prepare("DELETE FROM fts WHERE rowid = ?1")?;
    let mut del_part = tx.prepare("DELETE FROM parts WHERE id = ?1")?;
    let mut add_part =
        tx.prepare("INSERT INTO parts(file, ord, hash, text) VALUES (?1, ?2, ?3, ?4)")?;
    let mut add_fts = tx.prepare("INSERT INTO fts(rowid, body) VALUES (?1, ?2)")?;
    for (ord, text) in parts.iter().enumerate() {
        let ord = ord as i64;
        if text.is_empty() {
            continue;
        }
        let hash = part_hash(text);
        match old.remove(&ord) {
            Some((_, h)) if h == hash => continue,
            Some((pid, _)) => {
                del_fts.execute([pid])?;
                del_part.execute([pid])?;
            }
            None => {}
        }
        add_part.execute(params![id, ord, hash, text])?;
        let pid = tx.last_insert_rowid();
        add_fts.execute(params![pid, indexed(text)])?;
    }
    for (pid, _) in old.into_values() {
        del_fts.execute([pid])?;
        del_part.execute([pid])?;
    }
    Ok(())
}

fn remove_in(tx: &Transaction, name: &str) -> Result<(), rusqlite::Error> {
    let Some(id): Option<i64> = tx
        .query_row("SELECT id FROM files WHERE name = ?1", [name], |r| r.get(0))
        .optional()?
    else {
        return Ok(());
    };
    tx.execute(
        "DELETE FROM fts WHERE rowid IN (SELECT id FROM parts WHERE file = ?1)",
        [id],
    )?;
    tx.execute("DELETE FROM parts WHERE file = ?1", [id])?;
    tx.execute("DELETE FROM files WHERE id = ?1", [id])?;
    Ok(())
}

/// Create the index file empty and private (0600) before SQLite opens it: it holds the
/// conversations' text, and SQLite gives its -wal and -shm files the same mode.
fn create_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Delete the index (and its WAL files): it is rebuilt from the transcripts.
pub(super) fn remove_files(dir: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = fs::remove_file(dir.join(format!("{INDEX_FILE}{suffix}")));
    }
}
