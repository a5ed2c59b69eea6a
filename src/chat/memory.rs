//! Chat memory: which earlier turns go with the next request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
