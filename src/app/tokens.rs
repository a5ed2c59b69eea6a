//! Token counting for the tokens panel and the memory planner, off the UI thread: the draft
//! and the messages the next request needs are counted in the background
//! (`Effect::CountTokens`), and the counts come back as `Msg::TokensCounted`.
//!
//! - The draft: one count runs at a time. Keys typed meanwhile wait for it; when it comes
//!   back, the draft as it is then is counted (so typing into a huge draft never queues a
//!   count per key, and a count for a version that is no longer the draft is dropped).
//! - Messages: in batches of at most [`BATCH_BYTES`] of text, one batch at a time, asked for
//!   on the tick and when a batch comes back. Counts for another conversation or another
//!   counter (the cache's epoch and source) are dropped.
//!
//! Counts have a source ([`crate::chat::counts::CountSource`]): today the local tokenizer; a server's own count
//! can come back through the same message as a second source.

use crate::action::Effect;
use crate::api::types::Usage;
use crate::app::App;
use crate::chat::conversation::MessageId;
use crate::chat::counts::{CountJob, CountOf, Counted, MessageCounts, TokenCache};
use crate::chat::memory;
use crate::chat::tokens::TokenCounter;

/// At most this much message text goes to one background count.
pub const BATCH_BYTES: usize = 256 * 1024;

/// Token counting and the context budget.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// Counts for messages that have none saved (never written into the conversation).
    pub cache: TokenCache,
    /// Local count of the draft, as of `draft_version`.
    pub draft: u64,
    /// The draft version `draft` counts.
    draft_version: Option<u64>,
    /// The draft version being counted in the background.
    draft_asked: Option<u64>,
    /// A batch of messages is being counted.
    messages_asked: bool,
    /// Every message the next request needs had a count at the last look, and no event came
    /// since: the tick need not look again (a look walks the whole conversation).
    settled: bool,
    /// The count of a draft just sent, for its message (text length, tokens).
    sent: Option<(usize, u64)>,
    /// Usage over this session (all conversations).
    pub session: Usage,
    /// `context_window` from the config or flags.
    pub window_override: Option<u64>,
    /// The context window a server stated when it refused a request as too long.
    pub learned_window: Option<u64>,
    pub reply_reserve: Option<u64>,
}

impl Tokens {
    pub fn new(
        counter: TokenCounter,
        window_override: Option<u64>,
        reply_reserve: Option<u64>,
    ) -> Self {
        Self {
            cache: TokenCache::new(counter),
            draft: 0,
            draft_version: Some(0),
            draft_asked: None,
            messages_asked: false,
            settled: false,
            sent: None,
            session: Usage::default(),
            window_override,
            learned_window: None,
            reply_reserve,
        }
    }

    pub fn counter(&self) -> &TokenCounter {
        self.cache.counter()
    }

    /// Something happened that may leave a message uncounted (any event but the tick).
    pub fn unsettle(&mut self) {
        self.settled = false;
    }

    /// Whether the last look found every message the next request needs counted (or being
    /// streamed), with no event since: the tick then skips the look.
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// Count with `counter` from now on: the message counts of another are forgotten and
    /// the draft is counted again.
    pub fn set_counter(&mut self, counter: TokenCounter) {
        if counter != *self.counter() {
            self.draft_version = None;
        }
        self.cache.set_counter(counter);
    }

    /// The draft's count when it is of draft version `version`.
    pub fn draft_count(&self, version: u64) -> Option<u64> {
        (self.draft_version == Some(version)).then_some(self.draft)
    }

    /// The draft about to be sent as a message of `len` bytes has this count (if known):
    /// the message takes it instead of being counted again.
    pub fn sending(&mut self, len: usize, count: Option<u64>) {
        self.sent = count.map(|n| (len, n));
        self.draft = 0;
    }
}

/// The effects that count what is not counted yet: the draft (when it changed and no count
/// of it is running) and, with `messages`, a batch of the messages the next request needs.
pub fn request(app: &mut App, messages: bool) -> Vec<Effect> {
    let mut fx = Vec::new();
    let version = app.draft.version();
    let t = &mut app.tokens;
    if t.draft_version != Some(version) && t.draft_asked.is_none() {
        if app.draft.is_empty() {
            t.draft = 0;
            t.draft_version = Some(version);
            app.dirty = true;
        } else {
            t.draft_asked = Some(version);
            fx.push(Effect::CountTokens(CountJob {
                counter: *t.counter(),
                epoch: t.cache.epoch(),
                items: vec![(CountOf::Draft { version }, app.draft.text())],
            }));
        }
    }
    if messages && !app.tokens.messages_asked {
        let streaming = app.turns.replies();
        let mut items = Vec::new();
        let mut bytes = 0;
        for m in memory::uncounted(&app.conv, &app.tokens.cache) {
            if streaming.contains(&m.id) {
                continue;
            }
            if bytes > 0 && bytes + m.text().len() > BATCH_BYTES {
                break;
            }
            bytes += m.text().len();
            items.push((CountOf::message(m), m.text().to_string()));
        }
        if items.is_empty() {
            app.tokens.settled = true;
        } else {
            app.tokens.messages_asked = true;
            fx.push(Effect::CountTokens(CountJob {
                counter: *app.tokens.counter(),
                epoch: app.tokens.cache.epoch(),
                items,
            }));
        }
    }
    fx
}

/// Counts came back: the draft's (when still the draft), the messages' (when still this
/// conversation's); then whatever is left is asked for.
pub fn counted(app: &mut App, c: Counted) -> Vec<Effect> {
    let source = app.tokens.cache.source();
    let mut messages = false;
    for &(of, n) in &c.counts {
        match of {
            CountOf::Draft { version } => {
                if app.tokens.draft_asked == Some(version) {
                    app.tokens.draft_asked = None;
                }
                if version == app.draft.version() && c.source == source {
                    app.tokens.draft = n;
                    app.tokens.draft_version = Some(version);
                    app.dirty = true;
                }
            }
            CountOf::Message { .. } => messages = true,
        }
    }
    if messages {
        app.tokens.messages_asked = false;
        if app.tokens.cache.accept(&c) > 0 {
            app.dirty = true;
        }
    }
    request(app, messages)
}

/// The user message `id` was just added from the draft: it takes the draft's count.
pub fn seed(app: &mut App, id: MessageId) {
    let Some((len, n)) = app.tokens.sent.take() else {
        return;
    };
    if let Some(m) = app.conv.get(id)
        && m.text().len() == len
        && app.tokens.cache.known(m).is_none()
    {
        app.tokens.cache.insert(CountOf::message(m), n);
    }
}

/// Count here, on this thread, what the background counting would (the draft and the
/// messages), for at most `budget`: for tests and benchmarks, which have no runtime.
pub fn count_now(app: &mut App, budget: std::time::Duration) {
    let started = std::time::Instant::now();
    // Counts asked for and never carried out (no runtime here) are asked for again.
    app.tokens.draft_asked = None;
    app.tokens.messages_asked = false;
    let mut fx = request(app, true);
    while !fx.is_empty() && started.elapsed() < budget {
        let mut next = Vec::new();
        for e in fx {
            if let Effect::CountTokens(job) = e {
                next.extend(counted(app, job.run()));
            }
        }
        fx = next;
    }
}
