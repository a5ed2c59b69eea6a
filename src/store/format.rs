//! The transcript file format: one JSON document per conversation.
//!
//! ```json
//! {"format": "chat-tui-transcript", "version": 2, "conversation": { ... }}
//! ```
//!
//! Version 2 keeps the whole tree of versions and branches: every message names its
//! `parent`, `messages` is the current path and `others` every other message. Version 1
//! files (no parents, no `others`) open as a single path.
//!
//! See `docs/transcript-format.md` for every field and the compatibility rules.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::types::{Mode, Params, Usage};
use crate::chat::conversation::{
    Choice, Conversation, Fork, Memory, Message, MessageId, Speaker, Status,
};
use crate::chat::tree;

/// The value of the top-level `format` field.
pub const FORMAT_NAME: &str = "chat-tui-transcript";
/// The newest format version this build reads and the one it writes.
pub const FORMAT_VERSION: u64 = 2;

/// Why bytes could not be read as a conversation. Every JSON problem names its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the file is empty (0 bytes or only whitespace); it holds no conversation")]
    Empty,
    #[error(
        "the file is not valid UTF-8 text (bad byte at line {line}, column {column}, \
         byte offset {offset}); it is not a transcript or it was damaged"
    )]
    NotUtf8 {
        line: usize,
        column: usize,
        offset: usize,
    },
    #[error(
        "the file ends too early at line {line}, column {column}: it was probably cut off \
         while being written ({message})"
    )]
    Truncated {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unexpected content at line {line}, column {column}: {message}")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "not a chat-tui transcript: {0} (expected {{\"format\": \"chat-tui-transcript\", \
         \"version\": 2, \"conversation\": {{...}}}} or an OpenAI messages array)"
    )]
    NotTranscript(String),
    #[error(
        "this transcript uses format version {found}, but this chat-tui reads versions up to \
         {supported}; it was written by a newer chat-tui — upgrade to open it (the file was \
         not changed)"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("messages array, element {index}: {message}")]
    Import { index: usize, message: String },
}

impl FormatError {
    fn from_json(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        let (line, column) = (e.line(), e.column());
        let mut message = e.to_string();
        if let Some(p) = message.rfind(" at line ") {
            message.truncate(p);
        }
        match e.classify() {
            Category::Eof => FormatError::Truncated {
                line,
                column,
                message,
            },
            Category::Syntax | Category::Io => FormatError::Syntax {
                line,
                column,
                message,
            },
            Category::Data => FormatError::Invalid {
                line,
                column,
                message,
            },
        }
    }
}

/// Parse a transcript (any supported version) or a plain OpenAI messages array.
///
/// Unknown fields are ignored. After parsing, invariants a hand edit could break are
/// repaired (see [`repair`]); what was repaired is listed in the conversation's
/// `problems`. A message marked `partial` stays partial.
pub fn parse(bytes: &[u8]) -> Result<Conversation, FormatError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let offset = e.valid_up_to();
            let (line, column) = position(&bytes[..offset]);
            return Err(FormatError::NotUtf8 {
                line,
                column,
                offset,
            });
        }
    };
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\n', '\r']);
    if trimmed.trim_end().is_empty() {
        return Err(FormatError::Empty);
    }
    // Keep positions relative to the file: only a BOM is dropped, whitespace is JSON's.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut conv = if trimmed.starts_with('[') {
        import_openai(text)?
    } else {
        parse_document(text)?
    };
    repair(&mut conv);
    Ok(conv)
}

/// The fenced code blocks written in the last `window` bytes of a transcript's JSON text,
/// found without parsing it: `(language, code)` of each fence with a language whose code
/// follows it in the same JSON string, its escapes undone (roughly: `\uXXXX` dropped), at
/// most two blocks of each language and 4 KB of each. What the end of a conversation will
/// highlight, known before the file is parsed ([`crate::ui::markdown::warm_code`]);
/// only the highlighter's speed depends on it, never what is read or shown.
pub fn code_near_end(json: &[u8], window: usize) -> Vec<(String, String)> {
    const MAX_CODE: usize = 4 << 10;
    let tail = &json[json.len().saturating_sub(window)..];
    let mut found: Vec<(String, String)> = Vec::new();
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&tail[at..], b"```") {
        let open = at + i;
        at = open + 3;
        // An opening fence starts a line of the string: after `\n` or the opening quote.
        if !(tail[..open].ends_with(b"\\n") || tail[..open].ends_with(b"\"")) {
            continue;
        }
        let lang_len = tail[at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || b"+-_#.".contains(b))
            .count();
        if lang_len == 0 {
            continue;
        }
        let lang = String::from_utf8_lossy(&tail[at..at + lang_len]).into_owned();
        at += lang_len;
        if found.iter().filter(|(l, _)| *l == lang).count() >= 2 {
            continue;
        }
        let Some(body) = tail[at..].strip_prefix(b"\\n") else {
            continue;
        };
        let end = memchr::memmem::find(body, b"\\n```")
            .or_else(|| memchr::memchr(b'"', body))
            .unwrap_or(body.len())
            .min(MAX_CODE);
        let mut code = Vec::with_capacity(end + 1);
        let mut escaped = body[..end].iter();
        while let Some(&b) = escaped.next() {
            if b != b'\\' {
                code.push(b);
                continue;
            }
            match escaped.next() {
                Some(b'n') => code.push(b'\n'),
                Some(b't') => code.push(b'\t'),
                Some(&c @ (b'"' | b'\\' | b'/')) => code.push(c),
                _ => {}
            }
        }
        code.push(b'\n');
        found.push((lang, String::from_utf8_lossy(&code).into_owned()));
    }
    found
}

/// Line and column (1-based, column in characters) just after `before`.
fn position(before: &[u8]) -> (usize, usize) {
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default, rename = "conversation")]
    has_conversation: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Body {
    conversation: ConversationIn,
}

fn parse_document(text: &str) -> Result<Conversation, FormatError> {
    if let Some((version, conv)) = parse_in_one_pass(text) {
        return Ok(conv.into_conversation(version));
    }
    // First pass: only the header, so that a newer version is reported as such even when
    // its conversation no longer fits this version's types.
    let header: Header = match serde_json::from_str(text) {
        Ok(h) => h,
        Err(e) if e.classify() == serde_json::error::Category::Data && !text_is_object(text) => {
            return Err(FormatError::NotTranscript(
                "the top level is neither an object nor an array".into(),
            ));
        }
        Err(e) => return Err(FormatError::from_json(e)),
    };
    if let Some(f) = header.format.as_deref().filter(|f| *f != FORMAT_NAME) {
        return Err(FormatError::NotTranscript(format!("its `format` is {f:?}")));
    }
    let Some(version) = header.version else {
        return Err(FormatError::NotTranscript(
            "it has no `version` field".into(),
        ));
    };
    if version > FORMAT_VERSION {
        return Err(FormatError::TooNew {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(FormatError::NotTranscript(
            "`version` 0 does not exist (versions start at 1)".into(),
        ));
    }
    if header.has_conversation.is_none() {
        return Err(FormatError::NotTranscript(
            "it has no `conversation` object".into(),
        ));
    }
    let body: Body = serde_json::from_str(text).map_err(FormatError::from_json)?;
    Ok(body.conversation.into_conversation(version))
}

/// The document read in one pass, when its `format` and `version` come before its
/// `conversation` (as chat-tui writes them) and are ones this version reads: the
/// conversation goes straight into its types, without a first pass over the whole text
/// for the header. `None` otherwise (another order, a repeated key, a newer version, any
/// error): the two passes of [`parse_document`] then read it, or say exactly what is wrong.
fn parse_in_one_pass(text: &str) -> Option<(u64, ConversationIn)> {
    use serde::de::{IgnoredAny, MapAccess, Visitor};

    struct Document(Option<(u64, ConversationIn)>);
    struct DocumentVisitor;

    impl<'de> Visitor<'de> for DocumentVisitor {
        type Value = Document;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a transcript object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
            let (mut format, mut version, mut conv) = (None, None, None);
            let mut usable = true;
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "format" if format.is_none() => {
                        let f: Option<String> = map.next_value()?;
                        usable &= f.as_deref().is_none_or(|f| f == FORMAT_NAME);
                        format = Some(());
                    }
                    "version" if version.is_none() => {
                        let v: Option<u64> = map.next_value()?;
                        let v = v.filter(|v| (1..=FORMAT_VERSION).contains(v));
                        usable &= v.is_some();
                        version = Some(v.unwrap_or(0));
                    }
                    "conversation" if conv.is_none() && usable && version.is_some() => {
                        conv = Some(map.next_value::<ConversationIn>()?);
                    }
                    "format" | "version" | "conversation" => {
                        // Repeated, or the conversation before the version: two passes.
                        usable = false;
                        map.next_value::<IgnoredAny>()?;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Document(match (usable, version, conv) {
                (true, Some(v), Some(c)) => Some((v, c)),
                _ => None,
            }))
        }
    }

    impl<'de> Deserialize<'de> for Document {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(DocumentVisitor)
        }
    }

    serde_json::from_str::<Document>(text).ok()?.0
}

fn text_is_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// The saved form of a conversation, parsed with lenient `params`.
#[derive(Deserialize)]
struct ConversationIn {
    id: String,
    title: String,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    mode: Mode,
    model: String,
    memory: Memory,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    params: LenientParams,
    #[serde(default)]
    endpoint: Option<String>,
    messages: Vec<MessageIn>,
    #[serde(default)]
    others: Vec<MessageIn>,
    #[serde(default)]
    next_id: MessageId,
}

#[derive(Deserialize)]
struct MessageIn {
    id: MessageId,
    #[serde(default)]
    parent: Option<MessageId>,
    speaker: Speaker,
    #[serde(default)]
    content: String,
    created: DateTime<Utc>,
    #[serde(default)]
    finished: Option<DateTime<Utc>>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    selected: usize,
    #[serde(default)]
    status: Status,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    local_tokens: Option<u64>,
    #[serde(default)]
    request_tokens: Option<u64>,
    #[serde(default)]
    params: Option<LenientParams>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    summary_of: Vec<MessageId>,
    #[serde(default)]
    suffix: Option<String>,
    #[serde(default, deserialize_with = "crate::api::exchange::lenient")]
    exchange: Option<Box<crate::api::exchange::Exchange>>,
}

impl ConversationIn {
    fn into_conversation(self, version: u64) -> Conversation {
        let mut messages: Vec<Message> = self
            .messages
            .into_iter()
            .map(MessageIn::into_message)
            .collect();
        if version < 2 {
            // Version 1 had no tree: its messages are one path, in order.
            let mut prev = None;
            for m in &mut messages {
                m.parent = prev;
                prev = Some(m.id);
            }
        }
        Conversation {
            id: self.id,
            title: self.title,
            created: self.created,
            updated: self.updated,
            mode: self.mode,
            model: self.model,
            memory: self.memory,
            system: self.system,
            params: self.params.0,
            endpoint: self.endpoint,
            messages,
            others: self
                .others
                .into_iter()
                .map(MessageIn::into_message)
                .collect(),
            next_id: self.next_id,
            problems: Vec::new(),
        }
    }
}

impl MessageIn {
    fn into_message(self) -> Message {
        Message {
            id: self.id,
            parent: self.parent,
            speaker: self.speaker,
            content: self.content,
            created: self.created,
            finished: self.finished,
            choices: self.choices,
            selected: self.selected,
            status: self.status,
            usage: self.usage,
            local_tokens: self.local_tokens,
            request_tokens: self.request_tokens,
            params: self.params.map(|p| p.0),
            model: self.model,
            target: self.target,
            summary_of: self.summary_of,
            suffix: self.suffix,
            exchange: self.exchange,
            version: 0,
            fork: Fork::default(),
        }
    }
}

/// `Params` denies unknown fields (right for the config file, wrong for transcripts
/// written by a newer version). Here unknown names and values of the wrong type are
/// dropped one by one, keeping everything that still makes sense.
#[derive(Default)]
struct LenientParams(Params);

impl<'de> Deserialize<'de> for LenientParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default();
        if let Ok(p) = serde_json::from_value::<Params>(Value::Object(map.clone())) {
            return Ok(LenientParams(p));
        }
        let mut params = Params::default();
        for (k, v) in map {
            let mut one = Map::new();
            one.insert(k, v);
            if let Ok(p) = serde_json::from_value::<Params>(Value::Object(one)) {
                params.merge(&p);
            }
        }
        Ok(LenientParams(params))
    }
}

/// Fix what a hand-edited file can break without making it unreadable:
/// `selected` out of range → 0, duplicate message ids → later ones get fresh ids,
/// `next_id` at or below the largest id → one past it; a parent that does not exist, or
/// parents that form a cycle, are cut (the message starts a branch of its own, nothing is
/// dropped); a current path that is not a chain from a root is opened as far as it is one
/// (the rest stays, on other branches). What was cut is listed in `conv.problems`.
pub fn repair(conv: &mut Conversation) {
    let total = conv.messages.len() + conv.others.len();
    let mut seen = HashSet::with_capacity(total);
    let max = conv.all().map(|m| m.id).max().unwrap_or(0);
    let mut next = conv.next_id.max(max.saturating_add(1)).max(1);
    for m in conv.messages.iter_mut().chain(conv.others.iter_mut()) {
        if !seen.insert(m.id) {
            m.id = next;
            seen.insert(next);
            next = next.saturating_add(1);
        }
        if m.selected >= m.choices.len().max(1) {
            m.selected = 0;
        }
    }
    conv.next_id = next;
    repair_tree(conv);
}

/// Make the messages a tree and the current path a chain from one of its roots.
fn repair_tree(conv: &mut Conversation) {
    let mut links = conv.links();
    let cuts = tree::repair(&mut links);
    if !cuts.is_empty() {
        let fixed: std::collections::HashMap<MessageId, Option<MessageId>> =
            links.iter().copied().collect();
        for m in conv.messages.iter_mut().chain(conv.others.iter_mut()) {
            if let Some(p) = fixed.get(&m.id) {
                m.parent = *p;
            }
        }
        conv.problems.extend(cuts.iter().map(ToString::to_string));
    }
    let path = conv.path_ids();
    let valid = tree::valid_prefix(&links, &path);
    let sorted = conv.others.windows(2).all(|w| w[0].id < w[1].id);
    if valid == path.len() && sorted {
        conv.relabel();
        return;
    }
    let open: Vec<MessageId> = if valid > 0 {
        path[..valid].to_vec()
    } else {
        tree::Forest::new(links).newest_path()
    };
    if valid < path.len() {
        let broken = path[valid];
        conv.problems.push(match valid.checked_sub(1).map(|i| path[i]) {
            Some(after) => format!(
                "the conversation's path breaks at message {broken} (it does not follow message {after}): opened up to message {after}; the rest is kept on other branches"
            ),
            None => format!(
                "the conversation's path does not start at its first message ({broken} follows another message): opened the branch written to last"
            ),
        });
    }
    conv.open_path(&open);
}

#[derive(Serialize)]
struct DocumentOut<'a> {
    format: &'static str,
    version: u64,
    conversation: &'a Conversation,
}

/// The transcript document for `conv` (in the newest version): pretty JSON, fields in a
/// fixed order.
pub fn to_json(conv: &Conversation) -> Vec<u8> {
    let doc = DocumentOut {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        conversation: conv,
    };
    // Cannot fail: every map key is a string and serde_json writes non-finite floats as null.
    let mut out = serde_json::to_vec_pretty(&doc).expect("a Conversation always serialises");
    out.push(b'\n');
    out
}

// ---- OpenAI messages array import ----

#[derive(Deserialize)]
struct OpenAiMessage {
    role: String,
    #[serde(default)]
    content: Option<OpenAiContent>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OpenAiContent {
    Text(String),
    Parts(Vec<Value>),
}

fn import_openai(text: &str) -> Result<Conversation, FormatError> {
    let items: Vec<Value> = serde_json::from_str(text).map_err(FormatError::from_json)?;
    let mut conv = Conversation::new(String::new(), Mode::Chat, Memory::default());
    for (index, item) in items.into_iter().enumerate() {
        let msg: OpenAiMessage = serde_json::from_value(item).map_err(|e| FormatError::Import {
            index,
            message: e.to_string(),
        })?;
        let content = match msg.content {
            None => String::new(),
            Some(OpenAiContent::Text(s)) => s,
            Some(OpenAiContent::Parts(parts)) => {
                let mut out = String::new();
                for part in parts {
                    if part.get("type").and_then(Value::as_str) == Some("text")
                        && let Some(t) = part.get("text").and_then(Value::as_str)
                    {
                        out.push_str(t);
                    }
                }
                out
            }
        };
        match msg.role.as_str() {
            "system" | "developer" => {
                conv.push(Speaker::System, content);
            }
            "user" => {
                conv.push(Speaker::User, content);
            }
            "assistant" => {
                let id = conv.push(Speaker::Assistant, String::new());
                if let Some(m) = conv.get_mut(id) {
                    m.choices = vec![Choice {
                        text: content,
                        finish_reason: None,
                        ..Choice::default()
                    }];
                    m.status = Status::Complete;
                    m.finished = Some(m.created);
                }
            }
            other => {
                return Err(FormatError::Import {
                    index,
                    message: format!(
                        "role {other:?} is not supported (expected system, user or assistant)"
                    ),
                });
            }
        }
    }
    if conv.title.is_empty() {
        conv.title = "Untitled".into();
    }
    Ok(conv)
}

#[cfg(test)]
mod tests;
