//! Log probabilities: the three shapes servers send them in, and the compact form a reply
//! keeps them in.
//!
//! On the wire (parsed by [`parse_choice`] / [`parse_completion_probabilities`]):
//! - chat (`/chat/completions`, and llama.cpp's `/completions`): `logprobs.content[]` of
//!   `{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}`;
//! - legacy OpenAI completions: `logprobs.{tokens, token_logprobs, top_logprobs,
//!   text_offset}`, parallel arrays, `top_logprobs` a list of `{token: logprob}` maps;
//! - llama.cpp's native `completion_probabilities[]`, new (`{token, logprob, bytes,
//!   top_logprobs}`) or old (`{content, probs: [{tok_str, prob}]}`).
//!
//! Kept (per choice, [`Logprobs`]): every distinct token text once, in one byte arena; each
//! generated token as (vocabulary id, `f32` log probability, end of its alternatives: 12
//! bytes); each alternative as (id, `f32`: 8 bytes). 20 alternatives on a 20,000-token reply
//! take about 3.5 MB (see the test `twenty_alternatives_on_twenty_thousand_tokens_stay_small`).
//! Never sent back to the API.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::Range;

use serde::de::Deserializer;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most alternatives kept per token (the chat API's `top_logprobs` maximum); a server that
/// sends more has the least likely dropped.
pub const MAX_ALTERNATIVES: usize = 20;

/// Most tokens with log probabilities kept per choice. Beyond it, log probabilities are no
/// longer kept (the reply's text still is); the decoder says so.
pub const MAX_TOKENS: usize = 100_000;

/// Log probabilities are clamped to this floor (OpenAI uses -9999 for "never"), and to 0
/// above.
pub const LOGPROB_FLOOR: f32 = -9999.0;

/// One alternative for a token position: its bytes and log probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    pub bytes: Vec<u8>,
    pub logprob: f32,
}

/// One generated token as a reply delivers it: its bytes (UTF-8 text, or part of a
/// character), its log probability, and the most likely alternatives at its position (most
/// likely first; the token itself is usually among them).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprob {
    pub bytes: Vec<u8>,
    pub logprob: f32,
    pub top: Vec<Alternative>,
}

/// What one `logprobs` object held: the tokens that parsed, and how many entries did not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    pub tokens: Vec<TokenLogprob>,
    /// Entries without a token or a log probability (or of the wrong type), skipped.
    pub malformed: usize,
    /// Alternatives beyond [`MAX_ALTERNATIVES`], dropped.
    pub dropped_alternatives: usize,
}

/// A choice's `logprobs` value (the chat shape or the legacy one). `None` when it is absent,
/// `null`, or holds neither shape.
pub fn parse_choice(v: &Value) -> Option<Parsed> {
    let o = v.as_object()?;
    if let Some(content) = o.get("content").filter(|c| !c.is_null()) {
        return Some(parse_entries(content));
    }
    if o.contains_key("tokens") || o.contains_key("token_logprobs") {
        return Some(parse_legacy(o));
    }
    None
}

/// llama.cpp's `completion_probabilities` array (either of its versions).
pub fn parse_completion_probabilities(v: &Value) -> Parsed {
    parse_entries(v)
}

/// An array of per-token entries: `{token|content, logprob|prob, bytes, top_logprobs|probs}`.
fn parse_entries(v: &Value) -> Parsed {
    let mut out = Parsed::default();
    let Some(items) = v.as_array() else {
        out.malformed += 1;
        return out;
    };
    for item in items {
        let Some(tok) = entry_token(item) else {
            out.malformed += 1;
            continue;
        };
        let mut top = Vec::new();
        let alts = item
            .get("top_logprobs")
            .or_else(|| item.get("probs"))
            .and_then(Value::as_array);
        for alt in alts.into_iter().flatten() {
            match (entry_token(alt), entry_logprob(alt)) {
                (Some(bytes), Some(logprob)) => top.push(Alternative { bytes, logprob }),
                _ => out.malformed += 1,
            }
        }
        // Old llama.cpp gives the token's probability only among its alternatives.
        let own = || top.iter().find(|a| a.bytes == tok).map(|a| a.logprob);
        let Some(logprob) = entry_logprob(item).or_else(own) else {
            out.malformed += 1;
            continue;
        };
        out.dropped_alternatives += keep_most_likely(&mut top);
        out.tokens.push(TokenLogprob {
            bytes: tok,
            logprob,
            top,
        });
    }
    out
}

/// The legacy completions shape: parallel arrays.
fn parse_legacy(o: &serde_json::Map<String, Value>) -> Parsed {
    let mut out = Parsed::default();
    let empty = Vec::new();
    let tokens = o.get("tokens").and_then(Value::as_array).unwrap_or(&empty);
    let lps = o
        .get("token_logprobs")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let tops = o.get("top_logprobs").and_then(Value::as_array);
    if tokens.len() != lps.len() {
        out.malformed += tokens.len().abs_diff(lps.len());
    }
    for (i, (t, lp)) in tokens.iter().zip(lps).enumerate() {
        let (Some(bytes), Some(logprob)) = (t.as_str().map(token_bytes), number(lp)) else {
            out.malformed += 1;
            continue;
        };
        let mut top = Vec::new();
        if let Some(map) = tops.and_then(|t| t.get(i)).and_then(Value::as_object) {
            for (k, v) in map {
                match number(v) {
                    Some(logprob) => top.push(Alternative {
                        bytes: token_bytes(k),
                        logprob,
                    }),
                    None => out.malformed += 1,
                }
            }
        }
        out.dropped_alternatives += keep_most_likely(&mut top);
        out.tokens.push(TokenLogprob {
            bytes,
            logprob,
            top,
        });
    }
    out
}

/// Most likely first, at most [`MAX_ALTERNATIVES`]; returns how many were dropped.
fn keep_most_likely(top: &mut Vec<Alternative>) -> usize {
    top.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
    let dropped = top.len().saturating_sub(MAX_ALTERNATIVES);
    top.truncate(MAX_ALTERNATIVES);
    dropped
}

/// The token's bytes: `bytes` when it is a valid byte array, else the `token` (or old
/// llama.cpp's `content` / `tok_str`) text.
fn entry_token(v: &Value) -> Option<Vec<u8>> {
    if let Some(b) = v.get("bytes").and_then(Value::as_array) {
        let bytes: Option<Vec<u8>> = b
            .iter()
            .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect();
        if let Some(bytes) = bytes {
            return Some(bytes);
        }
    }
    v.get("token")
        .or_else(|| v.get("tok_str"))
        .or_else(|| v.get("content"))
        .and_then(Value::as_str)
        .map(token_bytes)
}

/// `logprob`, or old llama.cpp's probability `prob` (as its logarithm).
fn entry_logprob(v: &Value) -> Option<f32> {
    if let Some(lp) = v.get("logprob") {
        return number(lp);
    }
    let p = v.get("prob").and_then(Value::as_f64)?;
    if !(0.0..=1.0).contains(&p) {
        return None;
    }
    Some(clamp(p.ln()))
}

fn number(v: &Value) -> Option<f32> {
    v.as_f64().map(clamp)
}

fn clamp(lp: f64) -> f32 {
    if lp.is_nan() {
        return LOGPROB_FLOOR;
    }
    (lp.clamp(f64::from(LOGPROB_FLOOR), 0.0)) as f32
}

/// A token's text as bytes. OpenAI's legacy endpoint writes a token that is only part of a
/// character as `bytes:\xe4\xbd`; that form is decoded.
fn token_bytes(s: &str) -> Vec<u8> {
    if let Some(rest) = s.strip_prefix("bytes:")
        && let Some(b) = hex_escapes(rest)
    {
        return b;
    }
    s.as_bytes().to_vec()
}

fn hex_escapes(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let hex = rest.strip_prefix("\\x")?;
        let byte = u8::from_str_radix(hex.get(..2)?, 16).ok()?;
        out.push(byte);
        rest = &hex[2..];
    }
    (!out.is_empty()).then_some(out)
}

/// A token's bytes for display: the text, with any byte that is not part of a whole UTF-8
/// character written `\xNN`.
pub fn display_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Cow::Owned(out)
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    /// Vocabulary id of the token.
    id: u32,
    logprob: f32,
    /// End (exclusive) of this token's alternatives in `top`; they start where the previous
    /// token's end.
    top_end: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Alt {
    id: u32,
    logprob: f32,
}

/// The log probabilities of one choice's tokens, compact (see the module docs).
#[derive(Default)]
pub struct Logprobs {
    /// Every distinct token text, concatenated.
    arena: Vec<u8>,
    /// Vocabulary entry `i` is `arena[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    tokens: Vec<Entry>,
    top: Vec<Alt>,
    /// Hash of a token's bytes → its id, for interning while tokens arrive. Not saved, not
    /// cloned (rebuilt when more tokens arrive).
    intern: Option<HashMap<u64, u32>>,
}

/// One token of a [`Logprobs`], borrowed.
#[derive(Clone, Copy, Debug)]
pub struct TokenRef<'a> {
    owner: &'a Logprobs,
    entry: Entry,
    top: &'a [Alt],
}

impl<'a> TokenRef<'a> {
    /// The token's bytes (UTF-8, or part of a character).
    pub fn bytes(&self) -> &'a [u8] {
        self.owner.vocab(self.entry.id)
    }

    /// The token for display (`\xNN` for bytes of a partial character).
    pub fn text(&self) -> Cow<'a, str> {
        display_bytes(self.bytes())
    }

    pub fn logprob(&self) -> f32 {
        self.entry.logprob
    }

    /// The probability, 0 to 1.
    pub fn probability(&self) -> f64 {
        f64::from(self.entry.logprob).exp()
    }

    /// The alternatives at this position, most likely first: (bytes, log probability).
    pub fn alternatives(&self) -> impl Iterator<Item = (&'a [u8], f32)> + 'a {
        let owner = self.owner;
        self.top.iter().map(move |a| (owner.vocab(a.id), a.logprob))
    }

    /// How many alternatives were kept.
    pub fn alternative_count(&self) -> usize {
        self.top.len()
    }
}

impl Logprobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tokens kept.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Add a token. Returns false (and keeps nothing) once [`MAX_TOKENS`] are kept.
    pub fn push(&mut self, t: &TokenLogprob) -> bool {
        if self.tokens.len() >= MAX_TOKENS {
            return false;
        }
        let id = self.intern(&t.bytes);
        for alt in t.top.iter().take(MAX_ALTERNATIVES) {
            let alt_id = self.intern(&alt.bytes);
            self.top.push(Alt {
                id: alt_id,
                logprob: alt.logprob,
            });
        }
        self.tokens.push(Entry {
            id,
            logprob: t.logprob,
            top_end: self.top.len() as u32,
        });
        true
    }

    /// Give back the room kept for more tokens, and the interning table (once the reply
    /// is complete; more tokens can still be added later, e.g. by `/continue`).
    pub fn shrink_to_fit(&mut self) {
        self.arena.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.tokens.shrink_to_fit();
        self.top.shrink_to_fit();
        self.intern = None;
    }

    /// Add tokens in order; returns how many did not fit.
    pub fn extend(&mut self, tokens: &[TokenLogprob]) -> usize {
        tokens.iter().filter(|t| !self.push(t)).count()
    }

    /// Token `i`.
    pub fn get(&self, i: usize) -> Option<TokenRef<'_>> {
        let entry = *self.tokens.get(i)?;
        let start = if i == 0 {
            0
        } else {
            self.tokens[i - 1].top_end as usize
        };
        let end = (entry.top_end as usize).min(self.top.len());
        Some(TokenRef {
            owner: self,
            entry,
            top: self.top.get(start.min(end)..end).unwrap_or(&[]),
        })
    }

    /// Every token, in order.
    pub fn iter(&self) -> impl Iterator<Item = TokenRef<'_>> + '_ {
        (0..self.tokens.len()).filter_map(|i| self.get(i))
    }

    /// The tokens' bytes joined: what the reply's text should be.
    pub fn joined(&self) -> Vec<u8> {
        self.iter()
            .flat_map(|t| t.bytes().iter().copied())
            .collect()
    }

    /// Where each token is in the reply's `text`: a byte range, or `None` for a token that
    /// does not line up (the server's tokens need not add up to the text: a token missing,
    /// an extra one, another spelling). A token that is part of a character gets a range
    /// inside it. Tokens are matched in order; one that does not line up is skipped and the
    /// next is tried at the same place.
    pub fn spans(&self, text: &str) -> Vec<Option<Range<usize>>> {
        let bytes = text.as_bytes();
        let mut pos = 0;
        self.iter()
            .map(|t| {
                let b = t.bytes();
                if bytes[pos..].starts_with(b) {
                    let r = pos..pos + b.len();
                    pos += b.len();
                    Some(r)
                } else {
                    None
                }
            })
            .collect()
    }

    /// True when the tokens add up exactly to `text`.
    pub fn lines_up_with(&self, text: &str) -> bool {
        self.joined() == text.as_bytes()
    }

    /// Heap memory held, in bytes (capacities; the interning table estimated).
    pub fn heap_bytes(&self) -> usize {
        let intern = self
            .intern
            .as_ref()
            .map(|m| m.capacity() * (std::mem::size_of::<(u64, u32)>() + 1))
            .unwrap_or(0);
        self.arena.capacity()
            + self.ends.capacity() * 4
            + self.tokens.capacity() * std::mem::size_of::<Entry>()
            + self.top.capacity() * std::mem::size_of::<Alt>()
            + intern
    }

    /// Distinct token texts held.
    pub fn vocabulary_size(&self) -> usize {
        self.ends.len()
    }

    fn vocab(&self, id: u32) -> &[u8] {
        let i = id as usize;
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        self.arena.get(start.min(end)..end).unwrap_or(&[])
    }

    fn hash(bytes: &[u8]) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    }

    fn intern(&mut self, bytes: &[u8]) -> u32 {
        if self.intern.is_none() {
            let mut map = HashMap::with_capacity(self.ends.len());
            for id in 0..self.ends.len() as u32 {
                map.entry(Self::hash(self.vocab(id))).or_insert(id);
            }
            self.intern = Some(map);
        }
        let h = Self::hash(bytes);
        if let Some(&id) = self.intern.as_ref().and_then(|m| m.get(&h))
            && self.vocab(id) == bytes
        {
            return id;
        }
        let id = self.ends.len() as u32;
        self.arena.extend_from_slice(bytes);
        self.ends.push(self.arena.len() as u32);
        // On a (64-bit) hash collision the first text keeps the slot; this one is simply
        // stored again next time.
        if let Some(m) = self.intern.as_mut() {
            m.entry(h).or_insert(id);
        }
        id
    }
}

impl Clone for Logprobs {
    fn clone(&self) -> Self {
        Self {
            arena: self.arena.clone(),
            ends: self.ends.clone(),
            tokens: self.tokens.clone(),
            top: self.top.clone(),
            intern: None,
        }
    }
}

impl std::fmt::Debug for Logprobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logprobs")
            .field("tokens", &self.tokens.len())
            .field("alternatives", &self.top.len())
            .field("vocabulary", &self.ends.len())
            .finish()
    }
}

/// Equal when they hold the same tokens (log probabilities compared bit for bit).
impl PartialEq for Logprobs {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|(a, b)| {
                a.bytes() == b.bytes()
                    && a.logprob().to_bits() == b.logprob().to_bits()
                    && a.alternative_count() == b.alternative_count()
                    && a.alternatives()
                        .zip(b.alternatives())
                        .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
            })
    }
}

impl Eq for Logprobs {}

/// Saved as `{"vocab": [token text, …], "tokens": [[id, logprob, alt id, alt logprob, …],
/// …]}`; a vocabulary entry that is not valid UTF-8 is an array of bytes.
impl Serialize for Logprobs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Vocab<'a>(&'a Logprobs);
        impl Serialize for Vocab<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.ends.len()))?;
                for id in 0..self.0.ends.len() as u32 {
                    let b = self.0.vocab(id);
                    match std::str::from_utf8(b) {
                        Ok(text) => seq.serialize_element(text)?,
                        Err(_) => seq.serialize_element(b)?,
                    }
                }
                seq.end()
            }
        }
        struct Row<'a>(TokenRef<'a>);
        impl Serialize for Row<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let t = &self.0;
                let mut seq = s.serialize_seq(Some(2 + 2 * t.top.len()))?;
                seq.serialize_element(&t.entry.id)?;
                seq.serialize_element(&t.entry.logprob)?;
                for a in t.top {
                    seq.serialize_element(&a.id)?;
                    seq.serialize_element(&a.logprob)?;
                }
                seq.end()
            }
        }
        struct Rows<'a>(&'a Logprobs);
        impl Serialize for Rows<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for t in self.0.iter() {
                    seq.serialize_element(&Row(t))?;
                }
                seq.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("vocab", &Vocab(self))?;
        m.serialize_entry("tokens", &Rows(self))?;
        m.end()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum VocabIn {
    Text(String),
    Bytes(Vec<u8>),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct LogprobsIn {
    #[serde(default)]
    vocab: Vec<VocabIn>,
    #[serde(default)]
    tokens: Vec<Vec<f64>>,
}

/// Read leniently: a row that names an unknown vocabulary entry or is cut short is skipped
/// (a hand edit must not make the transcript unreadable).
impl<'de> Deserialize<'de> for Logprobs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = LogprobsIn::deserialize(d)?;
        let mut out = Logprobs::new();
        for v in &raw.vocab {
            let b: &[u8] = match v {
                VocabIn::Text(s) => s.as_bytes(),
                VocabIn::Bytes(b) => b,
                VocabIn::Other(_) => &[],
            };
            out.arena.extend_from_slice(b);
            out.ends.push(out.arena.len() as u32);
        }
        let n = out.ends.len();
        let id = |x: f64| -> Option<u32> {
            (x.fract() == 0.0 && x >= 0.0 && x < n as f64).then_some(x as u32)
        };
        for row in raw.tokens.iter().take(MAX_TOKENS) {
            let (Some(tid), Some(lp)) = (row.first().and_then(|x| id(*x)), row.get(1)) else {
                continue;
            };
            for pair in row[2..].chunks_exact(2).take(MAX_ALTERNATIVES) {
                if let Some(aid) = id(pair[0]) {
                    out.top.push(Alt {
                        id: aid,
                        logprob: clamp(pair[1]),
                    });
                }
            }
            out.tokens.push(Entry {
                id: tid,
                logprob: clamp(*lp),
                top_end: out.top.len() as u32,
            });
        }
        out.shrink_to_fit();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tok(t: &str, lp: f32, top: &[(&str, f32)]) -> TokenLogprob {
        TokenLogprob {
            bytes: t.as_bytes().to_vec(),
            logprob: lp,
            top: top
                .iter()
                .map(|(t, lp)| Alternative {
                    bytes: t.as_bytes().to_vec(),
                    logprob: *lp,
                })
                .collect(),
        }
    }

    #[test]
    fn the_chat_shape_parses_with_bytes_and_alternatives() {
        // llama.cpp's answer to `logprobs: true, top_logprobs: 2` (docs/local-llm.md).
        let v = json!({"content": [
            {"id": 57, "token": "I", "bytes": [73], "logprob": -2.2564542293548584,
             "top_logprobs": [
                {"id": 19556, "token": "Hello", "bytes": [72,101,108,108,111], "logprob": -2.3952271938323975},
                {"id": 57, "token": "I", "bytes": [73], "logprob": -2.2564542293548584}]},
            {"token": "\\xe4\\xbd", "bytes": [228, 189], "logprob": -0.5, "top_logprobs": []},
            {"token": "x"},
            {"logprob": -1.0},
            {"token": "y", "logprob": "high", "extra": true}
        ]});
        let p = parse_choice(&json!(v)).unwrap();
        assert_eq!(p.malformed, 3);
        assert_eq!(p.tokens.len(), 2);
        assert_eq!(p.tokens[0].bytes, b"I");
        assert_eq!(p.tokens[0].logprob, -2.2564542293548584f64 as f32);
        // Most likely first, whatever order they came in.
        assert_eq!(p.tokens[0].top[0].bytes, b"I");
        assert_eq!(p.tokens[0].top[1].bytes, b"Hello");
        assert_eq!(p.tokens[1].bytes, vec![228, 189]);
        assert_eq!(display_bytes(&p.tokens[1].bytes), "\\xe4\\xbd");
    }

    #[test]
    fn the_legacy_shape_parses_and_decodes_partial_characters() {
        let v = json!({
            "tokens": [" Paris", "bytes:\\xe4\\xbd", "."],
            "token_logprobs": [-0.25, -1.5, null],
            "top_logprobs": [{" Paris": -0.25, " the": -2.75}, null],
            "text_offset": [0, 6, 8]
        });
        let p = parse_choice(&v).unwrap();
        assert_eq!(p.malformed, 1, "the null log probability");
        assert_eq!(p.tokens.len(), 2);
        assert_eq!(p.tokens[0].top.len(), 2);
        assert_eq!(p.tokens[0].top[0].bytes, b" Paris");
        assert_eq!(p.tokens[1].bytes, vec![0xe4, 0xbd]);
        assert!(p.tokens[1].top.is_empty());
        // Arrays of different lengths: the extra entries are counted, not trusted.
        let v = json!({"tokens": ["a", "b", "c"], "token_logprobs": [-1.0]});
        let p = parse_choice(&v).unwrap();
        assert_eq!((p.tokens.len(), p.malformed), (1, 2));
    }

    #[test]
    fn llama_cpp_completion_probabilities_old_and_new() {
        let new = json!([{"id": 7042, "token": " Paris", "bytes": [32,80,97,114,105,115],
            "logprob": -0.25, "top_logprobs": [{"token": " Paris", "logprob": -0.25}]}]);
        let p = parse_completion_probabilities(&new);
        assert_eq!(p.tokens[0].bytes, b" Paris");
        // The old shape gives the token's own probability among its alternatives.
        let old = json!([{"content": " Paris", "probs": [
            {"tok_str": " the", "prob": 0.25}, {"tok_str": " Paris", "prob": 0.5}]}]);
        let p = parse_completion_probabilities(&old);
        assert_eq!(p.malformed, 0);
        assert!((p.tokens[0].logprob - 0.5f64.ln() as f32).abs() < 1e-6);
        assert_eq!(p.tokens[0].top[0].bytes, b" Paris");
        let old = json!([{"content": "?", "probs": [{"tok_str": " the", "prob": 0.25}]}]);
        assert_eq!(parse_completion_probabilities(&old).malformed, 1);
        let old = json!([{"content": " Paris", "prob": 0.5, "probs": [
            {"tok_str": " Paris", "prob": 0.5}, {"tok_str": " the", "prob": 0.25}, {"tok_str": "?", "prob": 7}]}]);
        let p = parse_completion_probabilities(&old);
        assert_eq!(p.tokens.len(), 1);
        assert_eq!(p.malformed, 1, "a probability above 1");
        assert!((p.tokens[0].top[1].logprob - 0.25f64.ln() as f32).abs() < 1e-6);
        assert_eq!(parse_completion_probabilities(&json!("nope")).malformed, 1);
        assert!(parse_choice(&json!(null)).is_none());
        assert!(parse_choice(&json!({"refusal": null})).is_none());
    }

    #[test]
    fn more_than_twenty_alternatives_keep_the_most_likely() {
        let top: Vec<Value> = (0..30)
            .map(|i| json!({"token": format!("t{i}"), "logprob": -(i as f64)}))
            .collect();
        let p = parse_choice(
            &json!({"content": [{"token": "t0", "logprob": 0.0, "top_logprobs": top}]}),
        )
        .unwrap();
        assert_eq!(p.tokens[0].top.len(), MAX_ALTERNATIVES);
        assert_eq!(p.dropped_alternatives, 10);
        assert_eq!(p.tokens[0].top[19].bytes, b"t19");
    }

    #[test]
    fn values_are_clamped() {
        let p = parse_choice(&json!({"content": [
            {"token": "a", "logprob": 0.5}, {"token": "b", "logprob": -1e300}]}))
        .unwrap();
        assert_eq!(p.tokens[0].logprob, 0.0);
        assert_eq!(p.tokens[1].logprob, LOGPROB_FLOOR);
    }

    #[test]
    fn the_store_interns_and_reads_back() {
        let mut l = Logprobs::new();
        l.push(&tok("Hello", -0.1, &[("Hello", -0.1), (" Hi", -2.5)]));
        l.push(&tok(" Hi", -0.7, &[(" Hi", -0.7), ("Hello", -3.0)]));
        l.push(&tok("!", -0.01, &[]));
        assert_eq!(l.len(), 3);
        assert_eq!(l.vocabulary_size(), 3, "each text is kept once");
        let t = l.get(1).unwrap();
        assert_eq!(t.text(), " Hi");
        assert!((t.probability() - (-0.7f64).exp()).abs() < 1e-6);
        let alts: Vec<_> = t.alternatives().collect();
        assert_eq!(alts, vec![(&b" Hi"[..], -0.7), (&b"Hello"[..], -3.0)]);
        assert_eq!(l.get(2).unwrap().alternative_count(), 0);
        assert!(l.get(3).is_none());
        assert!(l.lines_up_with("Hello Hi!"));
        assert_eq!(
            l.spans("Hello Hi!"),
            vec![Some(0..5), Some(5..8), Some(8..9)]
        );
    }

    #[test]
    fn tokens_that_do_not_add_up_to_the_text_are_marked() {
        let mut l = Logprobs::new();
        for t in ["The", " cat", "<|extra|>", " sat"] {
            l.push(&tok(t, -1.0, &[]));
        }
        assert!(!l.lines_up_with("The cat sat"));
        assert_eq!(
            l.spans("The cat sat"),
            vec![Some(0..3), Some(3..7), None, Some(7..11)]
        );
        // A token missing from the list: the rest cannot be placed.
        let mut l = Logprobs::new();
        l.push(&tok("The", -1.0, &[]));
        l.push(&tok(" sat", -1.0, &[]));
        assert_eq!(l.spans("The cat sat"), vec![Some(0..3), None]);
        // Partial characters: two tokens make one character.
        let mut l = Logprobs::new();
        l.push(&TokenLogprob {
            bytes: vec![0xe4, 0xbd],
            logprob: -1.0,
            top: vec![],
        });
        l.push(&TokenLogprob {
            bytes: vec![0xa0],
            logprob: -1.0,
            top: vec![],
        });
        assert!(l.lines_up_with("你"));
        assert_eq!(l.spans("你"), vec![Some(0..2), Some(2..3)]);
    }

    #[test]
    fn it_round_trips_through_json_exactly() {
        let mut l = Logprobs::new();
        l.push(&tok(
            "I",
            -2.256_454_2,
            &[("I", -2.256_454_2), ("Hello", -2.395_227)],
        ));
        l.push(&TokenLogprob {
            bytes: vec![0xe4, 0xbd],
            logprob: -0.000_123_4,
            top: vec![Alternative {
                bytes: vec![0xe4, 0xbd],
                logprob: -0.000_123_4,
            }],
        });
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(
            v,
            json!({"vocab": ["I", "Hello", [228, 189]],
                   "tokens": [[0, -2.2564542f32, 0, -2.2564542f32, 1, -2.395227f32],
                              [2, -0.0001234f32, 2, -0.0001234f32]]})
        );
        let text = serde_json::to_string(&l).unwrap();
        let back: Logprobs = serde_json::from_str(&text).unwrap();
        assert_eq!(back, l);
        assert_eq!(serde_json::to_string(&back).unwrap(), text);
        // Many values: what is written reads back bit for bit.
        let mut l = Logprobs::new();
        let mut x: u32 = 12345;
        for i in 0..20_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let lp = -(x as f32 / u32::MAX as f32) * 30.0;
            l.push(&tok(&format!("t{}", i % 97), lp, &[("z", lp / 3.0)]));
        }
        let back: Logprobs = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn bad_saved_rows_are_skipped_not_fatal() {
        let back: Logprobs = serde_json::from_value(json!({
            "vocab": ["a", {"odd": 1}, "b"],
            "tokens": [[0, -1.0], [9, -1.0], [2], [2, -0.5, 0, -0.7, 7, -1.0, 0], [1.5, -1.0]]
        }))
        .unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back.get(1).unwrap().text(), "b");
        assert_eq!(back.get(1).unwrap().alternative_count(), 1);
        let empty: Logprobs = serde_json::from_value(json!({})).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn twenty_alternatives_on_twenty_thousand_tokens_stay_small() {
        // A realistic vocabulary: a few thousand distinct texts among the alternatives.
        let words: Vec<String> = (0..4000).map(|i| format!(" word{i}")).collect();
        let mut l = Logprobs::new();
        let mut x: u64 = 7;
        let mut next = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as usize
        };
        for _ in 0..20_000 {
            let top: Vec<Alternative> = (0..20)
                .map(|k| Alternative {
                    bytes: words[next() % words.len()].as_bytes().to_vec(),
                    logprob: -(k as f32),
                })
                .collect();
            let t = TokenLogprob {
                bytes: words[next() % words.len()].as_bytes().to_vec(),
                logprob: -0.5,
                top,
            };
            assert!(l.push(&t));
        }
        // While it grows: the vectors' spare room and the interning table.
        let growing = l.heap_bytes();
        assert!(growing < 6 * 1024 * 1024, "{growing} bytes");
        l.shrink_to_fit();
        let bytes = l.heap_bytes();
        // 20,000 × 12 + 400,000 × 8 = 3.44 MB of entries, plus the vocabulary.
        eprintln!("20 alternatives × 20,000 tokens: {bytes} bytes ({growing} while growing)");
        assert!(bytes < 3_500_000, "{bytes} bytes");
        // The naive form (a String per token and alternative, f64s) would be over 10 MB.
        let naive = 20_000 * 21 * (std::mem::size_of::<String>() + 10 + 8);
        assert!(bytes * 2 < naive, "{bytes} vs {naive}");
        // A clone (a save's snapshot) leaves the interning table behind.
        assert!(l.clone().heap_bytes() <= bytes);
    }

    #[test]
    fn the_store_stops_at_its_cap() {
        let mut l = Logprobs::new();
        let t = tok("a", -1.0, &[]);
        for _ in 0..MAX_TOKENS {
            assert!(l.push(&t));
        }
        assert!(!l.push(&t));
        assert_eq!(l.extend(&[t.clone(), t]), 2);
        assert_eq!(l.len(), MAX_TOKENS);
    }
}
