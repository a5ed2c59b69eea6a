//! Token counts of messages, for the memory planner: the count saved with a message, or one
//! counted since the conversation was opened (kept beside it, so counting never changes the
//! conversation or its file). Counting runs in the background ([`CountJob`], carried out by
//! the runtime); its results ([`Counted`]) come back to the cache.

use std::collections::HashMap;

use crate::chat::conversation::{Message, MessageId};
use crate::chat::tokens::TokenCounter;

/// Where the planner gets a message's token count.
pub trait MessageCounts {
    fn counter(&self) -> &TokenCounter;

    /// The count, when known without encoding the text.
    fn known(&self, m: &Message) -> Option<u64>;

    /// The count, encoding the text when it is not known.
    fn tokens(&self, m: &Message) -> u64 {
        self.known(m)
            .unwrap_or_else(|| self.counter().count(m.text()) as u64)
    }
}

/// A counter alone knows the counts saved with messages.
impl MessageCounts for TokenCounter {
    fn counter(&self) -> &TokenCounter {
        self
    }

    fn known(&self, m: &Message) -> Option<u64> {
        m.local_tokens
    }
}

/// What a background count is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountOf {
    /// The draft, at this version (`Draft::version`).
    Draft { version: u64 },
    /// A message's text: its selected choice and length (a changed text is another count).
    Message {
        id: MessageId,
        choice: usize,
        len: usize,
    },
}

impl CountOf {
    /// What `m`'s text is now.
    pub fn message(m: &Message) -> Self {
        CountOf::Message {
            id: m.id,
            choice: m.selected,
            len: m.text().len(),
        }
    }
}

/// Who counted: the local tokenizer. (A server's own count — `/tokenize` — would be a
/// second source, told apart here so that counts of one never stand for the other.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountSource {
    Local(TokenCounter),
}

/// Texts to count off the UI thread.
#[derive(Debug)]
pub struct CountJob {
    pub counter: TokenCounter,
    /// The cache's epoch when asked (counts for another conversation are dropped).
    pub epoch: u64,
    pub items: Vec<(CountOf, String)>,
}

impl CountJob {
    /// Count every text (the runtime calls this on its counting thread).
    pub fn run(self) -> Counted {
        Counted {
            source: CountSource::Local(self.counter),
            epoch: self.epoch,
            counts: self
                .items
                .iter()
                .map(|(of, text)| (*of, self.counter.count(text) as u64))
                .collect(),
        }
    }

    /// Bytes of text to count.
    pub fn bytes(&self) -> usize {
        self.items.iter().map(|(_, t)| t.len()).sum()
    }
}

/// The counts of a [`CountJob`].
#[derive(Clone, Debug, PartialEq)]
pub struct Counted {
    pub source: CountSource,
    pub epoch: u64,
    pub counts: Vec<(CountOf, u64)>,
}

/// Counts made in this session for messages that have none saved, keyed by the message and
/// what its text is (choice and length: a streaming reply or another choice is counted
/// again).
#[derive(Clone, Debug)]
pub struct TokenCache {
    counter: TokenCounter,
    map: HashMap<MessageId, (usize, usize, u64)>,
    /// Bumped when the counts are forgotten (another conversation or counter).
    epoch: u64,
}

impl TokenCache {
    pub fn new(counter: TokenCounter) -> Self {
        Self {
            counter,
            map: HashMap::new(),
            epoch: 0,
        }
    }

    /// Count with `counter` from now on (forgets the counts made with another).
    pub fn set_counter(&mut self, counter: TokenCounter) {
        if counter != self.counter {
            self.clear();
        }
        self.counter = counter;
    }

    /// Forget every count (another conversation).
    pub fn clear(&mut self) {
        self.map.clear();
        self.epoch += 1;
    }

    /// Changes whenever the counts are forgotten: a count asked for in another epoch is
    /// not for this conversation or counter.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// This cache's counts come from `source`.
    pub fn source(&self) -> CountSource {
        CountSource::Local(self.counter)
    }

    /// Count `m` now and remember it.
    pub fn count(&mut self, m: &Message) -> u64 {
        let n = self.counter.count(m.text()) as u64;
        self.map.insert(m.id, (m.selected, m.text().len(), n));
        n
    }

    /// Remember a count made elsewhere (`of` must be a message).
    pub fn insert(&mut self, of: CountOf, n: u64) {
        if let CountOf::Message { id, choice, len } = of {
            self.map.insert(id, (choice, len, n));
        }
    }

    /// Take the message counts of `c` when they are for this conversation and counter.
    /// Returns how many were taken.
    pub fn accept(&mut self, c: &Counted) -> usize {
        if c.epoch != self.epoch || c.source != self.source() {
            return 0;
        }
        let mut taken = 0;
        for &(of, n) in &c.counts {
            if matches!(of, CountOf::Message { .. }) {
                self.insert(of, n);
                taken += 1;
            }
        }
        taken
    }
}

impl MessageCounts for TokenCache {
    fn counter(&self) -> &TokenCounter {
        &self.counter
    }

    fn known(&self, m: &Message) -> Option<u64> {
        m.local_tokens.or_else(|| {
            self.map
                .get(&m.id)
                .filter(|(sel, len, _)| *sel == m.selected && *len == m.text().len())
                .map(|(_, _, n)| *n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::conversation::Speaker;

    #[test]
    fn counts_are_kept_beside_the_message() {
        let counter = TokenCounter::for_model("gpt-4o");
        let mut cache = TokenCache::new(counter);
        let mut m = Message::new(1, Speaker::User, "hamburger");
        assert_eq!(cache.known(&m), None);
        let n = cache.count(&m);
        assert_eq!(cache.known(&m), Some(n));
        assert_eq!(m.local_tokens, None, "the message is not changed");
        m.content.push_str(" and fries");
        assert_eq!(cache.known(&m), None, "a changed text is counted again");
        m.local_tokens = Some(7);
        assert_eq!(cache.known(&m), Some(7), "a saved count wins");
    }

    #[test]
    fn background_counts_are_taken_only_for_this_conversation_and_counter() {
        let counter = TokenCounter::for_model("gpt-4o");
        let mut cache = TokenCache::new(counter);
        let m = Message::new(1, Speaker::User, "hamburger and fries");
        let job = |cache: &TokenCache| CountJob {
            counter,
            epoch: cache.epoch(),
            items: vec![(CountOf::message(&m), m.text().to_string())],
        };
        let n = counter.count(m.text()) as u64;
        let done = job(&cache).run();
        assert_eq!(done.counts, vec![(CountOf::message(&m), n)]);
        // Another conversation opened meanwhile: the count is not for it.
        let stale = job(&cache).run();
        cache.clear();
        assert_eq!(cache.accept(&stale), 0);
        assert_eq!(cache.known(&m), None);
        // Another model: counted with another encoding, dropped too.
        let mut other = job(&cache);
        other.counter = TokenCounter::for_model("gpt-4");
        assert_eq!(cache.accept(&other.run()), 0);
        assert_eq!(cache.accept(&job(&cache).run()), 1);
        assert_eq!(cache.known(&m), Some(n));
    }
}
