//! Token counts of messages, for the memory planner: the count saved with a message, or one
//! counted since the conversation was opened (kept beside it, so counting never changes the
//! conversation or its file).

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

/// Counts made in this session for messages that have none saved, keyed by the message and
/// what its text is (choice and length: a streaming reply or another choice is counted
/// again).
#[derive(Clone, Debug)]
pub struct TokenCache {
    counter: TokenCounter,
    map: HashMap<MessageId, (usize, usize, u64)>,
}

impl TokenCache {
    pub fn new(counter: TokenCounter) -> Self {
        Self {
            counter,
            map: HashMap::new(),
        }
    }

    /// Count with `counter` from now on (forgets the counts made with another).
    pub fn set_counter(&mut self, counter: TokenCounter) {
        if counter != self.counter {
            self.map.clear();
        }
        self.counter = counter;
    }

    /// Forget every count (another conversation).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Count `m` now and remember it.
    pub fn count(&mut self, m: &Message) -> u64 {
        let n = self.counter.count(m.text()) as u64;
        self.map.insert(m.id, (m.selected, m.text().len(), n));
        n
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
}
