//! The conversation model: messages, assistant turns with all their choices, summaries,
//! versions and branches, and the memory setting. Imports nothing else from `chat` but
//! `tree` (ids and parents): `memory`, `prompt` and `tokens` build on it.
//!
//! A conversation is a tree: every message names its parent. `messages` holds the
//! current path (a chain from a root, in order: what is shown, sent, exported and counted)
//! and `others` every message off it. Everything that reads the conversation reads
//! `messages`; only the operations here move messages between the two.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::logprobs::Logprobs;
use crate::api::types::{FinishReason, Mode, Params, Role, Usage};
pub use crate::chat::tree::Fork;
use crate::chat::tree::{self, Forest, TreeError};

/// Identifies a message inside its conversation. Ids only grow.
pub type MessageId = u64;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    System,
    User,
    Assistant,
    /// A summary the model wrote of earlier messages; sent in their place.
    Summary,
}

impl Speaker {
    pub fn wire_role(self) -> Role {
        match self {
            Speaker::System | Speaker::Summary => Role::System,
            Speaker::User => Role::User,
            Speaker::Assistant => Role::Assistant,
        }
    }
}

/// How an assistant reply (or a summary) ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Status {
    /// Finished normally (user and system messages are always complete).
    #[default]
    Complete,
    /// Still streaming, or cut off before it finished (e.g. by a crash).
    Partial,
    /// The user cancelled it; the text so far is kept.
    Cancelled,
    /// The request failed; any text so far is kept.
    Failed { error: String },
    /// The stream ended without `[DONE]` or a finish_reason.
    Incomplete,
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
            Status::Cancelled => "cancelled",
            Status::Failed { .. } => "failed",
            Status::Incomplete => "incomplete",
        }
    }
}

/// One of the `n` alternatives of an assistant reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// What the model reasoned before answering (`reasoning_content` / `reasoning`), kept
    /// apart from `text`: shown and saved, never sent back to the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// The log probabilities of the tokens of `text` (when asked for with `/set logprobs N`):
    /// shown and saved, never sent back to the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Logprobs>,
}

/// A choice's reasoning ("thinking") text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    pub text: String,
    /// How long the model reasoned: from its first reasoning text to the first text of the
    /// reply (or the end of the reply, if it wrote none), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
    /// Shown expanded in the conversation pane. Not saved.
    #[serde(skip)]
    pub open: bool,
}

impl Choice {
    /// The reasoning text, if there is any.
    pub fn reasoning_text(&self) -> Option<&str> {
        self.reasoning
            .as_ref()
            .map(|r| r.text.as_str())
            .filter(|t| !t.is_empty())
    }
}

/// A message in the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    /// The message this one follows (`None`: it starts the conversation, or a branch of
    /// its own). Replies with the same parent are versions; any messages with the same
    /// parent are branches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<MessageId>,
    pub speaker: Speaker,
    /// The text of user, system and summary messages. For assistant messages the text is
    /// in `choices`; use [`Message::text`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<DateTime<Utc>>,
    /// Assistant replies: every choice the API returned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    /// Assistant replies: the choice that continues the conversation.
    #[serde(default)]
    pub selected: usize,
    #[serde(default)]
    pub status: Status,
    /// Usage as the API reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Local token count of this message's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_tokens: Option<u64>,
    /// Local token count of the whole request that produced this reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_tokens: Option<u64>,
    /// The parameters this reply was asked with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Params>,
    /// The model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A version asked of a model other than the conversation's (`/compare`, `/retry
    /// --model`): `MODEL`, or `PROFILE:MODEL` for another profile of the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Summary messages: the ids of the messages this summary stands for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary_of: Vec<MessageId>,
    /// Completion-mode insertions: the suffix the reply was inserted before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// What the request that produced this reply sent and received (the inspector's
    /// record; never its request headers, never the key).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::api::exchange::lenient"
    )]
    pub exchange: Option<Box<crate::api::exchange::Exchange>>,
    /// Bumped on every change, for render caches. Not saved.
    #[serde(skip)]
    pub version: u64,
    /// Where this message stands among its siblings (versions, branches). Computed from
    /// the tree by the conversation; not saved.
    #[serde(skip)]
    pub fork: Fork,
}

impl Message {
    pub fn new(id: MessageId, speaker: Speaker, content: impl Into<String>) -> Self {
        Self {
            id,
            parent: None,
            speaker,
            content: content.into(),
            created: Utc::now(),
            finished: None,
            choices: Vec::new(),
            selected: 0,
            status: Status::Complete,
            usage: None,
            local_tokens: None,
            request_tokens: None,
            params: None,
            model: None,
            target: None,
            summary_of: Vec::new(),
            suffix: None,
            exchange: None,
            version: 0,
            fork: Fork::default(),
        }
    }

    /// The text that continues the conversation: the selected choice for replies.
    pub fn text(&self) -> &str {
        match self.speaker {
            Speaker::Assistant => self
                .choices
                .get(self.selected)
                .or_else(|| self.choices.first())
                .map(|c| c.text.as_str())
                .unwrap_or(""),
            _ => &self.content,
        }
    }

    /// The choice with this index, created (with all before it) when missing.
    pub fn choice_mut(&mut self, index: usize) -> &mut Choice {
        if self.choices.len() <= index {
            self.choices.resize_with(index + 1, Choice::default);
        }
        self.version += 1;
        &mut self.choices[index]
    }

    pub fn touch(&mut self) {
        self.version += 1;
    }

    /// The label of its fork for a header: `version 2/3` for a reply with other versions,
    /// `branch 2/3` for any other message with siblings; `None` without siblings.
    pub fn fork_label(&self) -> Option<String> {
        if !self.fork.is_fork() {
            return None;
        }
        let what = match self.speaker {
            Speaker::Assistant => "version",
            _ => "branch",
        };
        Some(format!("{what} {}/{}", self.fork.index, self.fork.count))
    }
}

/// How much of the conversation each request carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Memory {
    /// Each question alone (the tutorial's first loop).
    None,
    /// The last N turns (a turn is a user message and its reply).
    Last(usize),
    /// Everything (until the server refuses).
    #[default]
    Full,
    /// Everything, but when the request would exceed the budget the oldest turns are
    /// summarised by the model and the summary is sent in their place.
    Summarize,
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Memory::None => f.write_str("none"),
            Memory::Last(n) => write!(f, "last {n}"),
            Memory::Full => f.write_str("full"),
            Memory::Summarize => f.write_str("summarize"),
        }
    }
}

impl FromStr for Memory {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let mut words = s.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("none"), None, _) => Ok(Memory::None),
            (Some("full"), None, _) => Ok(Memory::Full),
            (Some("summarize" | "summarise" | "summary"), None, _) => Ok(Memory::Summarize),
            (Some("last"), Some(n), None) => match n.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Memory::Last(n)),
                _ => Err(format!(
                    "`last {n}`: N must be a whole number of turns, at least 1"
                )),
            },
            _ => Err(format!(
                "unknown memory strategy `{s}` (expected none, last N, full or summarize)"
            )),
        }
    }
}

impl Serialize for Memory {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Memory {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A whole conversation, with the settings in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub title: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub mode: Mode,
    pub model: String,
    pub memory: Memory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default)]
    pub params: Params,
    /// The endpoint's name: the profile, or the base URL's host. Never the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The current path, from its root: what is shown, sent, exported and counted.
    pub messages: Vec<Message>,
    /// Every message not on the current path (other versions and branches), by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<Message>,
    #[serde(default)]
    pub next_id: MessageId,
    /// What was wrong in the file this was read from and how it was read (shown once when
    /// opened; not saved).
    #[serde(skip)]
    pub problems: Vec<String>,
}

impl Conversation {
    pub fn new(model: impl Into<String>, mode: Mode, memory: Memory) -> Self {
        let now = Utc::now();
        Self {
            id: new_id(),
            title: String::new(),
            created: now,
            updated: now,
            mode,
            model: model.into(),
            memory,
            system: None,
            params: Params::default(),
            endpoint: None,
            messages: Vec::new(),
            others: Vec::new(),
            next_id: 1,
            problems: Vec::new(),
        }
    }

    /// A new, empty conversation with this one's settings (model, mode, memory, system
    /// prompt, parameters, endpoint).
    pub fn fresh_like(&self) -> Conversation {
        let mut c = Conversation::new(self.model.clone(), self.mode, self.memory);
        c.system = self.system.clone();
        c.params = self.params.clone();
        c.endpoint = self.endpoint.clone();
        c
    }

    /// Append a message at the end of the current path and return its id.
    pub fn push(&mut self, speaker: Speaker, content: impl Into<String>) -> MessageId {
        let id = self.alloc_id();
        let mut msg = Message::new(id, speaker, content);
        if speaker == Speaker::User && self.title.trim().is_empty() {
            self.title = title_from(&msg.content);
        }
        msg.parent = self.messages.last().map(|m| m.id);
        self.messages.push(msg);
        self.updated = Utc::now();
        self.relabel();
        id
    }

    /// Append an empty assistant reply at the end of the current path, marked partial until
    /// it finishes. After a question that has replies, it is a new version of them.
    pub fn push_reply(&mut self, params: &Params, model: &str) -> MessageId {
        let id = self.alloc_id();
        let mut msg = Message::new(id, Speaker::Assistant, "");
        msg.status = Status::Partial;
        msg.params = Some(params.clone());
        msg.model = Some(model.to_string());
        msg.choices = vec![Choice::default(); params.choices() as usize];
        msg.parent = self.messages.last().map(|m| m.id);
        self.messages.push(msg);
        self.updated = Utc::now();
        self.relabel();
        id
    }

    /// Insert a summary that stands for `of` on the current path, after the last message
    /// it covers (so it reads in order): the message that followed now follows the summary.
    /// It goes no higher than the last fork on the path, so that branches made before it do
    /// not get it: a summary belongs to the path it summarised (and to branches made from it
    /// later). It never goes after the last message of the path (the question it is made
    /// for).
    pub fn insert_summary(&mut self, text: String, of: Vec<MessageId>) -> MessageId {
        let id = self.alloc_id();
        let mut msg = Message::new(id, Speaker::Summary, text);
        msg.summary_of = of;
        let covered = |m: &Message| msg.summary_of.contains(&m.id);
        let mut pos = self
            .messages
            .iter()
            .rposition(covered)
            .map(|p| p + 1)
            .unwrap_or(0);
        let forest = self.forest();
        let n = self.messages.len();
        // The last message before the end with a child off the path: a fork.
        if let Some(k) = (0..n.saturating_sub(1))
            .rev()
            .find(|&k| forest.children(Some(self.messages[k].id)).len() > 1)
        {
            pos = pos.max(k + 1);
        }
        msg.parent = pos.checked_sub(1).map(|p| self.messages[p].id);
        if let Some(next) = self.messages.get_mut(pos) {
            next.parent = Some(id);
        }
        self.messages.insert(pos, msg);
        self.updated = Utc::now();
        self.relabel();
        id
    }

    fn alloc_id(&mut self) -> MessageId {
        let max = self.all().map(|m| m.id).max().unwrap_or(0);
        self.next_id = self.next_id.max(max + 1);
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A message on the path or off it.
    pub fn get(&self, id: MessageId) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.id == id)
            .or_else(|| self.others.iter().find(|m| m.id == id))
    }

    /// A message on the path or off it (a reply streams into its version wherever it is).
    pub fn get_mut(&mut self, id: MessageId) -> Option<&mut Message> {
        if let Some(i) = self.messages.iter().rposition(|m| m.id == id) {
            return self.messages.get_mut(i);
        }
        self.others.iter_mut().find(|m| m.id == id)
    }

    /// The last reply on the current path.
    pub fn last_reply(&self) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.speaker == Speaker::Assistant)
    }

    /// Every message: the current path in order, then the others by id.
    pub fn all(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().chain(self.others.iter())
    }

    /// Keeps the bodies and events of the newest request records (every version and branch)
    /// within `budget` bytes, the newest one whole whatever its size, and trims the older
    /// ones to their summary (see `api::exchange::KEPT_PER_CONVERSATION`). Returns how many
    /// it trimmed.
    pub fn trim_exchanges(&mut self, budget: usize) -> usize {
        let mut records: Vec<(DateTime<Utc>, MessageId, usize)> = self
            .all()
            .filter_map(|m| {
                let ex = m.exchange.as_deref().filter(|e| !e.trimmed)?;
                Some((m.created, m.id, ex.bulk()))
            })
            .collect();
        records.sort_unstable_by_key(|r| std::cmp::Reverse((r.0, r.1)));
        let mut used = 0usize;
        let mut trim = std::collections::HashSet::new();
        for (i, (_, id, bulk)) in records.iter().enumerate() {
            used = used.saturating_add(*bulk);
            if i > 0 && (used > budget || !trim.is_empty()) {
                trim.insert(*id);
            }
        }
        if trim.is_empty() {
            return 0;
        }
        for m in self.messages.iter_mut().chain(self.others.iter_mut()) {
            if trim.contains(&m.id)
                && let Some(ex) = m.exchange.as_deref_mut()
            {
                ex.trim();
            }
        }
        trim.len()
    }

    /// Sum of the usage the API reported over the whole conversation (every version and
    /// branch: each was asked for).
    pub fn total_usage(&self) -> Usage {
        let mut u = Usage::default();
        for m in self.all() {
            if let Some(x) = &m.usage {
                u.add(x);
            }
        }
        u
    }

    /// Number of user and assistant messages (what a person counts).
    pub fn turn_messages(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| matches!(m.speaker, Speaker::User | Speaker::Assistant))
            .count()
    }

    // ---- the tree: versions and branches ----

    /// (id, parent) of every message.
    pub fn links(&self) -> Vec<(MessageId, Option<MessageId>)> {
        self.all().map(|m| (m.id, m.parent)).collect()
    }

    /// The tree's shape.
    pub fn forest(&self) -> Forest {
        Forest::new(self.all().map(|m| (m.id, m.parent)))
    }

    /// The ids of the current path, in order.
    pub fn path_ids(&self) -> Vec<MessageId> {
        self.messages.iter().map(|m| m.id).collect()
    }

    /// Whether message `id` is on the current path.
    pub fn on_path(&self, id: MessageId) -> bool {
        self.messages.iter().any(|m| m.id == id)
    }

    /// Check the invariants: ids unique, every parent exists, no cycles, the path a chain
    /// from a root, `others` by id.
    pub fn check(&self) -> Result<(), TreeError> {
        tree::check(&self.links(), &self.path_ids())?;
        if let Some(w) = self.others.windows(2).find(|w| w[0].id >= w[1].id) {
            return Err(TreeError::DuplicateId(w[1].id));
        }
        Ok(())
    }

    /// Make `path` (a chain from a root of this tree) the current path: its messages move
    /// to `messages`, every other to `others`.
    fn set_path(&mut self, path: &[MessageId]) {
        let mut all: std::collections::HashMap<MessageId, Message> =
            std::mem::take(&mut self.messages)
                .into_iter()
                .chain(std::mem::take(&mut self.others))
                .map(|m| (m.id, m))
                .collect();
        self.messages = path.iter().filter_map(|id| all.remove(id)).collect();
        let mut others: Vec<Message> = all.into_values().collect();
        others.sort_by_key(|m| m.id);
        self.others = others;
        self.relabel();
    }

    /// Make `path` the current path if it is a chain from a root of this tree (it need not
    /// end at a leaf). False (and nothing changed) otherwise.
    pub fn open_path(&mut self, path: &[MessageId]) -> bool {
        let links = self.links();
        if tree::valid_prefix(&links, path) != path.len() {
            return false;
        }
        self.set_path(path);
        true
    }

    /// Show the branch through message `id`: the path from its root to it, then on down
    /// along the branch written to last at each fork. False when there is no such message.
    pub fn open(&mut self, id: MessageId) -> bool {
        let path = self.forest().path_through(id);
        if path.is_empty() {
            return false;
        }
        if path != self.path_ids() {
            self.set_path(&path);
        }
        true
    }

    /// End the current path exactly at `id` (`None`: an empty path), so that what is added
    /// next follows it: a new version of a reply, a new branch after a message. Nothing is
    /// removed; what followed stays on its branch. False when there is no such message.
    pub fn open_at(&mut self, id: Option<MessageId>) -> bool {
        let path = match id {
            Some(id) => self.forest().ancestry(id),
            None => Vec::new(),
        };
        if id.is_some() && path.is_empty() {
            return false;
        }
        if path != self.path_ids() {
            self.set_path(&path);
        }
        true
    }

    /// `id` and its siblings (same parent), by id.
    pub fn siblings(&self, id: MessageId) -> Vec<MessageId> {
        self.forest().siblings(id).to_vec()
    }

    /// The sibling `delta` steps from `id` (wrapping); `None` when it has none.
    pub fn sibling(&self, id: MessageId, delta: isize) -> Option<MessageId> {
        let s = self.siblings(id);
        let i = s.iter().position(|x| *x == id)?;
        if s.len() < 2 {
            return None;
        }
        let j = (i as isize + delta).rem_euclid(s.len() as isize) as usize;
        Some(s[j])
    }

    /// Recompute every message's place among its siblings (bumping the version of those
    /// whose label changes, so views redraw them).
    pub fn relabel(&mut self) {
        let forest = self.forest();
        for m in self.messages.iter_mut().chain(self.others.iter_mut()) {
            let f = forest.fork(m.id);
            if m.fork != f {
                m.fork = f;
                m.version += 1;
            }
        }
    }

    /// Remove message `id` if nothing follows it (the end of the path, or a leaf off it).
    pub fn remove_leaf(&mut self, id: MessageId) -> bool {
        if self.all().any(|m| m.parent == Some(id)) {
            return false;
        }
        if self.messages.last().is_some_and(|m| m.id == id) {
            self.messages.pop();
        } else if let Some(i) = self.others.iter().position(|m| m.id == id) {
            self.others.remove(i);
        } else {
            return false;
        }
        self.relabel();
        true
    }

    /// Every branch (one per leaf of the tree), depth first.
    pub fn branches(&self) -> Vec<Branch> {
        let forest = self.forest();
        let path = self.path_ids();
        let current_leaf = path
            .last()
            .and_then(|last| forest.path_through(*last).last().copied());
        forest
            .leaves()
            .into_iter()
            .map(|leaf| {
                let ids = forest.ancestry(leaf);
                let fork = ids
                    .iter()
                    .zip(path.iter().map(Some).chain(std::iter::repeat(None)))
                    .find(|(a, b)| Some(*a) != *b)
                    .map(|(a, _)| *a);
                let last = ids
                    .iter()
                    .filter_map(|id| self.get(*id))
                    .map(|m| m.finished.unwrap_or(m.created).max(m.created))
                    .max()
                    .unwrap_or(self.created);
                Branch {
                    leaf,
                    fork,
                    len: ids.len(),
                    last,
                    current: Some(leaf) == current_leaf,
                }
            })
            .collect()
    }
}

/// One branch of the conversation: the path from a root to `leaf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    /// Its last message (a leaf of the tree).
    pub leaf: MessageId,
    /// Its first message that is not on the current path (`None`: the current path, or one
    /// that only runs further along it).
    pub fork: Option<MessageId>,
    /// How many messages it has, from the root.
    pub len: usize,
    /// When it was last written to.
    pub last: DateTime<Utc>,
    /// It is the branch shown.
    pub current: bool,
}

/// A short title from the first line of a message.
pub fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().filter(|c| !c.is_control()).take(60).collect();
    if line.chars().count() > 60 {
        out.push('…');
    }
    if out.is_empty() {
        "Untitled".to_string()
    } else {
        out
    }
}

/// A new, time-sortable conversation id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_records_are_kept_whole_newest_first_within_the_budget() {
        use crate::api::exchange::{Exchange, RawEvent};
        let record = |n: usize| Exchange {
            method: "POST".into(),
            url: "http://127.0.0.1:8080/v1/chat/completions".into(),
            body: Some("b".repeat(n)),
            body_bytes: n as u64,
            status: Some(200),
            events: vec![RawEvent {
                ms: 1,
                event: None,
                data: "d".repeat(n / 10),
            }],
            total_events: 1,
            response_bytes: 7,
            duration_ms: Some(5),
            ..Exchange::default()
        };
        let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
        let mut replies = Vec::new();
        for i in 0..6 {
            c.push(Speaker::User, format!("q{i}"));
            let id = c.push_reply(&Params::default(), "m");
            c.get_mut(id).unwrap().exchange = Some(Box::new(record(1000)));
            replies.push(id);
        }
        // Each record holds 1,000 + 100 + 16 bytes: the newest two fit in 3,000, a third not.
        assert_eq!(record(1000).bulk(), 1116);
        assert_eq!(c.trim_exchanges(3000), 4);
        for (i, id) in replies.iter().enumerate() {
            let ex = c.get(*id).unwrap().exchange.as_deref().unwrap();
            assert_eq!(ex.trimmed, i < 4, "reply {i}");
            assert_eq!(ex.body.is_none(), i < 4, "reply {i}");
            assert_eq!(ex.events.is_empty(), i < 4, "reply {i}");
            // The summary stays.
            assert_eq!(
                (ex.body_bytes, ex.total_events, ex.status, ex.response_bytes),
                (1000, 1, Some(200), 7)
            );
            assert_eq!(ex.duration_ms, Some(5));
        }
        // Trimmed records count no more; within the budget nothing changes.
        assert_eq!(c.trim_exchanges(3000), 0);
        // The newest record stays whole whatever its size.
        assert_eq!(c.trim_exchanges(10), 1);
        let newest = c.get(replies[5]).unwrap().exchange.as_deref().unwrap();
        assert!(!newest.trimmed && newest.body.is_some());
        // A version off the current path counts as well.
        let extra = c.push_reply(&Params::default(), "m");
        c.get_mut(extra).unwrap().exchange = Some(Box::new(record(1000)));
        let moved = c.messages.pop().unwrap();
        c.others.push(moved);
        assert_eq!(c.trim_exchanges(10), 1);
        assert!(
            c.get(replies[5])
                .unwrap()
                .exchange
                .as_deref()
                .unwrap()
                .trimmed
        );
        assert!(!c.get(extra).unwrap().exchange.as_deref().unwrap().trimmed);
        // `trimmed` is saved, and only when true.
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json.matches("\"trimmed\":true").count(), 6);
        assert!(!json.contains("\"trimmed\":false"));
        let back: Conversation = serde_json::from_str(&json).unwrap();
        assert!(
            back.get(replies[0])
                .unwrap()
                .exchange
                .as_deref()
                .unwrap()
                .trimmed
        );
    }

    #[test]
    fn titles_come_from_the_first_user_line() {
        let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
        c.push(Speaker::User, "\n  海洋污染對哪個地區影響最大\nmore");
        c.push(Speaker::User, "second");
        assert_eq!(c.title, "海洋污染對哪個地區影響最大");
        assert_eq!(title_from("   "), "Untitled");
        assert_eq!(title_from(&"x".repeat(100)).chars().count(), 61);
    }

    #[test]
    fn replies_keep_every_choice_and_the_selection() {
        let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
        c.push(Speaker::User, "hi");
        let p = Params {
            n: Some(3),
            ..Params::default()
        };
        let id = c.push_reply(&p, "m");
        let m = c.get_mut(id).unwrap();
        assert_eq!(m.choices.len(), 3);
        m.choice_mut(1).text.push_str("second");
        m.choice_mut(4).text.push_str("fifth");
        m.selected = 1;
        assert_eq!(m.text(), "second");
        assert_eq!(m.choices.len(), 5);
        assert_eq!(m.status, Status::Partial);
    }

    #[test]
    fn ids_grow_and_summaries_sit_after_what_they_cover() {
        let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
        let a = c.push(Speaker::User, "a");
        let b = c.push(Speaker::Assistant, "b");
        let d = c.push(Speaker::User, "d");
        let s = c.insert_summary("sum".into(), vec![a, b]);
        assert!(s > d);
        let order: Vec<_> = c.messages.iter().map(|m| m.id).collect();
        assert_eq!(order, vec![a, b, s, d]);
    }

    /// q1 a1 q2 a2, then a second version of a1 (the path back on the first).
    fn forked() -> (Conversation, [MessageId; 5]) {
        let mut c = Conversation::new("m", Mode::Chat, Memory::Full);
        let q1 = c.push(Speaker::User, "q1");
        let a1 = c.push(Speaker::Assistant, "a1");
        let q2 = c.push(Speaker::User, "q2");
        let a2 = c.push(Speaker::Assistant, "a2");
        assert!(c.open_at(Some(q1)));
        let b1 = c.push_reply(&Params::default(), "m");
        assert!(c.open(a1));
        (c, [q1, a1, q2, a2, b1])
    }

    #[test]
    fn versions_and_branches_keep_every_message() {
        let (mut c, [q1, a1, q2, a2, b1]) = forked();
        assert_eq!(
            c.path_ids(),
            [q1, a1, q2, a2],
            "back on the branch written to last"
        );
        assert_eq!(c.others.iter().map(|m| m.id).collect::<Vec<_>>(), [b1]);
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.messages[1].fork_label().as_deref(), Some("version 1/2"));
        assert_eq!(
            c.get(b1).unwrap().fork_label().as_deref(),
            Some("version 2/2")
        );
        assert_eq!(c.sibling(a1, 1), Some(b1));
        assert_eq!(c.sibling(a1, -1), Some(b1));
        assert_eq!(c.sibling(q1, 1), None);
        // A new branch at q2: an edited question beside it.
        assert!(c.open_at(Some(a1)));
        let q2b = c.push(Speaker::User, "q2b");
        assert_eq!(c.path_ids(), [q1, a1, q2b]);
        assert_eq!(c.messages[2].fork_label().as_deref(), Some("branch 2/2"));
        assert_eq!(c.all().count(), 6);
        // Branches: one per leaf, depth first; the current one marked.
        let b = c.branches();
        assert_eq!(b.iter().map(|b| b.leaf).collect::<Vec<_>>(), [a2, q2b, b1]);
        assert_eq!(
            b.iter().map(|b| b.current).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert_eq!(b[0].fork, Some(q2));
        assert_eq!(b[2].fork, Some(b1));
        assert_eq!(b.iter().map(|b| b.len).collect::<Vec<_>>(), [4, 3, 2]);
        // Removing: only what nothing follows.
        assert!(!c.remove_leaf(a1));
        assert!(c.remove_leaf(q2b));
        assert!(c.remove_leaf(b1));
        assert_eq!(c.check(), Ok(()));
        assert!(!c.open(99));
        assert!(!c.open_path(&[q1, q2]));
    }

    #[test]
    fn a_summary_goes_no_higher_than_the_last_fork() {
        let (mut c, [q1, a1, q2, a2, _]) = forked();
        // On the first branch, a question after a2; the summary covers q1 a1 only, but a1
        // has another version: it goes below the fork, after a1 (which it covers anyway).
        let q3 = c.push(Speaker::User, "q3");
        let s = c.insert_summary("sum".into(), vec![q1, a1]);
        assert_eq!(c.path_ids(), [q1, a1, s, q2, a2, q3]);
        assert_eq!(c.check(), Ok(()));
        // A branch at a2 (an edited q3): a summary made there of q1..a1 goes after a2.
        assert!(c.open_at(Some(a2)));
        let q3b = c.push(Speaker::User, "q3b");
        let s2 = c.insert_summary("sum2".into(), vec![q1, a1, q2]);
        assert_eq!(c.path_ids(), [q1, a1, s, q2, a2, s2, q3b]);
        // The first branch does not get it.
        assert!(c.open(q3));
        assert_eq!(c.path_ids(), [q1, a1, s, q2, a2, q3]);
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn memory_parses_and_prints() {
        for s in ["none", "last 3", "full", "summarize"] {
            assert_eq!(s.parse::<Memory>().unwrap().to_string(), s);
        }
        assert!("last 0".parse::<Memory>().is_err());
        assert!("last".parse::<Memory>().is_err());
        assert!("sometimes".parse::<Memory>().is_err());
    }
}
