//! The conversation model: messages, assistant turns with all their choices, summaries,
//! and the memory setting. Imports nothing else from `chat`: `memory`, `prompt` and
//! `tokens` build on it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::logprobs::Logprobs;
use crate::api::types::{FinishReason, Mode, Params, Role, Usage};

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
    /// Summary messages: the ids of the messages this summary stands for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary_of: Vec<MessageId>,
    /// Completion-mode insertions: the suffix the reply was inserted before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Bumped on every change, for render caches. Not saved.
    #[serde(skip)]
    pub version: u64,
}

impl Message {
    pub fn new(id: MessageId, speaker: Speaker, content: impl Into<String>) -> Self {
        Self {
            id,
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
            summary_of: Vec::new(),
            suffix: None,
            version: 0,
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
    pub messages: Vec<Message>,
    #[serde(default)]
    pub next_id: MessageId,
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
            next_id: 1,
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

    /// Append a message and return its id.
    pub fn push(&mut self, speaker: Speaker, content: impl Into<String>) -> MessageId {
        let id = self.alloc_id();
        let msg = Message::new(id, speaker, content);
        if speaker == Speaker::User && self.title.trim().is_empty() {
            self.title = title_from(&msg.content);
        }
        self.messages.push(msg);
        self.updated = Utc::now();
        id
    }

    /// Append an empty assistant reply, marked partial until it finishes.
    pub fn push_reply(&mut self, params: &Params, model: &str) -> MessageId {
        let id = self.alloc_id();
        let mut msg = Message::new(id, Speaker::Assistant, "");
        msg.status = Status::Partial;
        msg.params = Some(params.clone());
        msg.model = Some(model.to_string());
        msg.choices = vec![Choice::default(); params.choices() as usize];
        self.messages.push(msg);
        self.updated = Utc::now();
        id
    }

    /// Insert a summary that stands for `of`, placed just before the first message
    /// that is not summarised (so it reads in order).
    pub fn insert_summary(&mut self, text: String, of: Vec<MessageId>) -> MessageId {
        let id = self.alloc_id();
        let mut msg = Message::new(id, Speaker::Summary, text);
        msg.summary_of = of;
        let covered = |m: &Message| msg.summary_of.contains(&m.id);
        let pos = self
            .messages
            .iter()
            .rposition(covered)
            .map(|p| p + 1)
            .unwrap_or(0);
        self.messages.insert(pos, msg);
        self.updated = Utc::now();
        id
    }

    fn alloc_id(&mut self) -> MessageId {
        let max = self.messages.iter().map(|m| m.id).max().unwrap_or(0);
        self.next_id = self.next_id.max(max + 1);
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn get(&self, id: MessageId) -> Option<&Message> {
        self.messages.iter().rev().find(|m| m.id == id)
    }

    pub fn get_mut(&mut self, id: MessageId) -> Option<&mut Message> {
        self.messages.iter_mut().rev().find(|m| m.id == id)
    }

    pub fn last_reply(&self) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.speaker == Speaker::Assistant)
    }

    /// Sum of the usage the API reported over the whole conversation.
    pub fn total_usage(&self) -> Usage {
        let mut u = Usage::default();
        for m in &self.messages {
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
