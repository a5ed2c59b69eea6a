//! Search: which conversations contain a text (case-insensitive), with a snippet of the
//! first hit. A cheap test on the raw file rejects most files before any parsing.

use std::fs;
use std::io::Read;

use super::db::{Db, stamp_cols};
use super::index::{Found, Stamp};
use super::{
    Catchup, Entry, Library, LibraryError, Quick, Slot, Stamps, clean_line, file_name, reindex,
    sort_newest_first,
};
use crate::chat::conversation::Conversation;
use crate::store::format;

/// How many matches the first batch of a streamed search waits for.
pub const FIRST_BATCH: usize = 40;

impl Library {
    /// Conversations whose title or message text contains `query` (case-insensitive),
    /// newest first, each with a snippet of its first hit. Broken files are not searched.
    /// The index is first brought in step with the folder's listing (files added, removed
    /// or replaced by a rename), and every hit is checked against its file's stamp (a hit
    /// rewritten in place is indexed again and the query run again); a file rewritten in
    /// place that was not a hit is found after the next full check ([`Library::list`]).
    /// Without an index the files are read.
    pub fn search(&self, query: &str) -> Result<Vec<Entry>, LibraryError> {
        self.search_with(query, true)
    }

    /// [`Library::search`], with or without the snippets (`chat-tui list` shows none).
    pub fn search_with(&self, query: &str, snippets: bool) -> Result<Vec<Entry>, LibraryError> {
        let needle = fold(query.trim());
        if needle.is_empty() {
            return self.list();
        }
        let mut hits = match self.quick_view()? {
            Quick::Indexed(slot, stamps) => {
                let r = slot
                    .db
                    .lock()
                    .map_err(|_| rusqlite::Error::InvalidQuery)
                    .and_then(|mut db| checked_search(&mut db, &needle, snippets, stamps));
                match r {
                    Ok(hits) => hits,
                    Err(e) => {
                        slot.failed(&self.dir, &e);
                        scan(self.read_all()?, &needle)
                    }
                }
            }
            Quick::Files(entries) => scan(entries, &needle),
        };
        sort_newest_first(&mut hits);
        Ok(hits)
    }

    /// [`Library::search`] without the index: every file read (what search falls back to
    /// when the index cannot be opened; benchmarks compare the two).
    pub fn search_by_reading(&self, query: &str) -> Result<Vec<Entry>, LibraryError> {
        let needle = fold(query.trim());
        let entries = self.read_all()?;
        if needle.is_empty() {
            return Ok(entries);
        }
        let mut hits = scan(entries, &needle);
        sort_newest_first(&mut hits);
        Ok(hits)
    }

    /// Search for the sessions browser: matches are handed to `each` in batches as they
    /// are found (the first batch after [`FIRST_BATCH`] matches), until `each` returns
    /// false. Trusts the index as it is (the browser synced it when it opened, and saves
    /// keep it current), so a keystroke costs a query, not a walk of the folder. Batches
    /// come most recently indexed first, each sorted newest first; merge them.
    pub fn search_streamed(
        &self,
        query: &str,
        mut each: impl FnMut(Vec<Entry>) -> bool,
    ) -> Result<(), LibraryError> {
        let needle = fold(query.trim());
        if needle.is_empty() {
            each(self.list_now()?);
            return Ok(());
        }
        let mut sorted = |mut batch: Vec<Entry>| {
            sort_newest_first(&mut batch);
            each(batch)
        };
        let slot = Slot::get(&self.dir);
        let entries = match slot.as_ref().map(|s| (s, s.catching_up())) {
            Some((slot, None)) => {
                let r = slot
                    .db
                    .lock()
                    .map_err(|_| rusqlite::Error::InvalidQuery)
                    .and_then(|db| db.search(&needle, true, FIRST_BATCH, &mut sorted));
                match r {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        slot.failed(&self.dir, &e);
                        self.list_with(Catchup::Inline)?
                    }
                }
            }
            Some((_, Some(entries))) => {
                let mut e = entries.as_ref().clone();
                sort_newest_first(&mut e);
                e
            }
            None => self.list()?,
        };
        // No index (or it is catching up): read the files, newest first, a chunk at a time.
        let mut pending = Vec::new();
        let mut limit = FIRST_BATCH;
        for chunk in entries.chunks(256) {
            pending.extend(scan(chunk.to_vec(), &needle));
            if pending.len() >= limit {
                if !sorted(std::mem::take(&mut pending)) {
                    return Ok(());
                }
                limit = 1;
            }
        }
        sorted(pending);
        Ok(())
    }
}

/// Every match of `needle` in the index, each hit's file stat'ed: hits whose file changed
/// since it was indexed (rewritten in place) or is gone are indexed again and the query
/// is run again, so no answer comes from an outdated copy.
fn checked_search(
    db: &mut Db,
    needle: &str,
    snippets: bool,
    stamps: Option<Stamps>,
) -> Result<Vec<Entry>, rusqlite::Error> {
    let run = |db: &mut Db| {
        let mut hits = Vec::new();
        db.search(needle, snippets, usize::MAX, |batch| {
            hits.extend(batch);
            true
        })
        .map(|()| hits)
    };
    let hits = run(db)?;
    // Without the stamps of a listing, the hits' own (all of them when most files match:
    // one read of the table beats a lookup per hit).
    let mut stamps = match stamps {
        Some(s) => s,
        None if hits.len() > 1_000 => db.stamps()?,
        None => {
            let names: Vec<String> = hits.iter().map(|e| file_name(&e.path)).collect();
            db.stamps_of(&names)?
        }
    };
    let mut stale = Vec::new();
    let mut gone = Vec::new();
    for e in &hits {
        let name = file_name(&e.path);
        match fs::metadata(&e.path) {
            Ok(md) if md.is_file() => {
                if stamps.get(&name) != Some(&stamp_cols(&Stamp::of(&md))) {
                    stale.push(Found {
                        name,
                        path: e.path.clone(),
                        md,
                    });
                }
            }
            _ => gone.push(name),
        }
    }
    if stale.is_empty() && gone.is_empty() {
        return Ok(hits);
    }
    reindex(db, stale, &gone, &mut stamps)?;
    run(db)
}

/// The entries whose files contain `needle` (folded), each with its snippet, in order.
/// Reads the files on a few threads.
pub(super) fn scan(entries: Vec<Entry>, needle: &str) -> Vec<Entry> {
    // How the needle looks inside a JSON string as serde_json writes it.
    let escaped = serde_json::to_string(needle)
        .map(|s| s[1..s.len() - 1].to_string())
        .unwrap_or_else(|_| needle.to_string());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = entries.len().div_ceil(threads).max(64);
    let snippets: Vec<Option<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                let escaped = &escaped;
                s.spawn(move || {
                    let mut buf = Vec::new();
                    part.iter()
                        .map(|e| search_one(e, needle, escaped, &mut buf))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    entries
        .into_iter()
        .zip(snippets)
        .filter_map(|(e, snippet)| {
            snippet.map(|s| Entry {
                snippet: Some(s),
                ..e
            })
        })
        .collect()
}

/// The snippet of the first hit of `needle` (lowercased) in this entry, if any.
fn search_one(e: &Entry, needle: &str, escaped: &str, buf: &mut Vec<u8>) -> Option<String> {
    if e.broken.is_some() {
        return None;
    }
    if let Some(s) = snippet(&e.title, needle) {
        return Some(s);
    }
    buf.clear();
    fs::File::open(&e.path)
        .and_then(|mut f| f.read_to_end(buf))
        .ok()?;
    let text = std::str::from_utf8(buf).ok()?;
    if !raw_may_contain(text, escaped) {
        return None;
    }
    let conv = format::parse(buf).ok()?;
    first_hit(&conv, needle)
}

/// Cheap rejection on the raw JSON text: `false` only when no JSON string in `text` can
/// contain `escaped` (the lowercased needle as serde_json escapes it), ignoring case.
///
/// Sound only when every string character is written literally or with a short escape,
/// so any `\u` or `\/` escape answers `true` (the caller then parses). For an ASCII needle
/// ASCII case folding suffices, unless the text holds one of the two non-ASCII characters
/// whose lowercase contains ASCII letters (KELVIN SIGN, LATIN CAPITAL LETTER I WITH DOT).
fn raw_may_contain(text: &str, escaped: &str) -> bool {
    if text.contains("\\u") || text.contains("\\/") {
        return true;
    }
    if escaped.is_ascii() && !text.contains('\u{212a}') && !text.contains('\u{130}') {
        text.to_ascii_lowercase().contains(escaped)
    } else {
        fold(text).contains(escaped)
    }
}

/// Lowercase char by char, final sigma folded to σ, as [`find_ci`] does, so the
/// prefilter, the needle, the index and the real match agree; U+FFFF (the index's
/// separator) becomes U+FFFD, so no query can span two indexed parts.
pub(super) fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(fold_sigma)
        .collect()
}

fn fold_sigma(c: char) -> char {
    match c {
        'ς' => 'σ',
        '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Byte range in `hay` of the first case-insensitive occurrence of `needle_lower`.
fn find_ci(hay: &str, needle_lower: &str) -> Option<(usize, usize)> {
    let mut lower = String::with_capacity(hay.len());
    let mut map = Vec::with_capacity(hay.len() + 1);
    for (i, ch) in hay.char_indices() {
        for lc in ch.to_lowercase().map(fold_sigma) {
            let before = lower.len();
            lower.push(lc);
            map.resize(map.len() + (lower.len() - before), i);
        }
    }
    map.push(hay.len());
    let pos = lower.find(needle_lower)?;
    let start = map[pos];
    let end = map[pos + needle_lower.len()].max(start);
    let end = if end == start {
        hay[start..]
            .chars()
            .next()
            .map_or(start, |c| start + c.len_utf8())
    } else {
        end
    };
    Some((start, end))
}

/// A one-line excerpt around the first hit of `needle_lower` in `text`.
pub(super) fn snippet(text: &str, needle_lower: &str) -> Option<String> {
    const BEFORE: usize = 30;
    const AFTER: usize = 50;
    let (start, end) = find_ci(text, needle_lower)?;
    let head: Vec<char> = text[..start].chars().rev().take(BEFORE + 1).collect();
    let cut_head = head.len() > BEFORE;
    let head: String = head
        .into_iter()
        .take(BEFORE)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut tail_chars = text[end..].chars();
    let tail: String = tail_chars.by_ref().take(AFTER).collect();
    let cut_tail = tail_chars.next().is_some();
    let mut s = String::new();
    if cut_head {
        s.push('…');
    }
    s.push_str(&head);
    s.push_str(&text[start..end]);
    s.push_str(&tail);
    let mut s = clean_line(&s, usize::MAX);
    if cut_tail {
        s.push('…');
    }
    Some(s)
}

fn first_hit(conv: &Conversation, needle_lower: &str) -> Option<String> {
    if let Some(s) = snippet(&conv.title, needle_lower) {
        return Some(s);
    }
    // Every version and branch, the one shown first.
    for m in conv.all() {
        if let Some(s) = snippet(&m.content, needle_lower) {
            return Some(s);
        }
        for c in &m.choices {
            if let Some(s) = snippet(&c.text, needle_lower) {
                return Some(s);
            }
        }
    }
    None
}
