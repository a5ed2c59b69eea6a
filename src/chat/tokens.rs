//! Local token counts: the encoding chosen by model, and OpenAI's per-message accounting for
//! chat requests. Unknown models are counted with cl100k and labelled an estimate. The
//! counting itself is [`crate::chat::tokenizer`] (tiktoken's counts from compact tables).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::types::WireMessage;
use crate::chat::tokenizer::Bpe;

/// The BPE encodings chat-tui knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    O200k,
    Cl100k,
    P50k,
    R50k,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200k => "o200k_base",
            Encoding::Cl100k => "cl100k_base",
            Encoding::P50k => "p50k_base",
            Encoding::R50k => "r50k_base",
        }
    }

    fn ready_flag(self) -> &'static AtomicBool {
        static READY: [AtomicBool; 4] = [
            AtomicBool::new(false),
            AtomicBool::new(false),
            AtomicBool::new(false),
            AtomicBool::new(false),
        ];
        &READY[self as usize]
    }

    /// The encoding's tables (read in place from the binary: nothing is built).
    pub fn bpe(self) -> &'static Bpe {
        static BPE: [OnceLock<Bpe>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        BPE[self as usize].get_or_init(|| match self {
            Encoding::O200k => Bpe::o200k(),
            Encoding::Cl100k => Bpe::cl100k(),
            Encoding::P50k => Bpe::p50k(),
            Encoding::R50k => Bpe::r50k(),
        })
    }
}

/// tiktoken's model table (`tiktoken_rs::tokenizer`): exact names first.
const MODELS: &[(&str, Encoding)] = &[
    ("o1", Encoding::O200k),
    ("o3", Encoding::O200k),
    ("o4-mini", Encoding::O200k),
    ("gpt-5", Encoding::O200k),
    ("gpt-4.1", Encoding::O200k),
    ("gpt-4o", Encoding::O200k),
    ("gpt-4", Encoding::Cl100k),
    ("gpt-3.5-turbo", Encoding::Cl100k),
    ("gpt-3.5", Encoding::Cl100k),
    ("gpt-35-turbo", Encoding::Cl100k),
    ("davinci-002", Encoding::Cl100k),
    ("babbage-002", Encoding::Cl100k),
    ("text-embedding-ada-002", Encoding::Cl100k),
    ("text-embedding-3-small", Encoding::Cl100k),
    ("text-embedding-3-large", Encoding::Cl100k),
    ("text-davinci-003", Encoding::P50k),
    ("text-davinci-002", Encoding::P50k),
    ("text-davinci-001", Encoding::R50k),
    ("text-curie-001", Encoding::R50k),
    ("text-babbage-001", Encoding::R50k),
    ("text-ada-001", Encoding::R50k),
    ("davinci", Encoding::R50k),
    ("curie", Encoding::R50k),
    ("babbage", Encoding::R50k),
    ("ada", Encoding::R50k),
    ("code-davinci-002", Encoding::P50k),
    ("code-davinci-001", Encoding::P50k),
    ("code-cushman-002", Encoding::P50k),
    ("code-cushman-001", Encoding::P50k),
    ("davinci-codex", Encoding::P50k),
    ("cushman-codex", Encoding::P50k),
    ("text-davinci-edit-001", Encoding::P50k),
    ("code-davinci-edit-001", Encoding::P50k),
    ("text-similarity-davinci-001", Encoding::R50k),
    ("text-similarity-curie-001", Encoding::R50k),
    ("text-similarity-babbage-001", Encoding::R50k),
    ("text-similarity-ada-001", Encoding::R50k),
    ("text-search-davinci-doc-001", Encoding::R50k),
    ("text-search-curie-doc-001", Encoding::R50k),
    ("text-search-babbage-doc-001", Encoding::R50k),
    ("text-search-ada-doc-001", Encoding::R50k),
    ("code-search-babbage-code-001", Encoding::R50k),
    ("code-search-ada-code-001", Encoding::R50k),
    ("gpt2", Encoding::R50k),
    ("gpt-2", Encoding::R50k),
];

/// tiktoken's model prefixes, after the exact names.
const MODEL_PREFIXES: &[(&str, Encoding)] = &[
    ("o1-", Encoding::O200k),
    ("o3-", Encoding::O200k),
    ("o4-mini-", Encoding::O200k),
    ("gpt-5", Encoding::O200k),
    ("gpt-4.5-", Encoding::O200k),
    ("gpt-4.1-", Encoding::O200k),
    ("chatgpt-4o-", Encoding::O200k),
    ("gpt-4o-", Encoding::O200k),
    ("gpt-4-", Encoding::Cl100k),
    ("gpt-3.5-turbo-", Encoding::Cl100k),
    ("gpt-35-turbo-", Encoding::Cl100k),
    ("gpt-oss-", Encoding::O200k),
    ("codex-mini", Encoding::O200k),
];

/// tiktoken's choice for `name` (already without a provider prefix).
fn tiktoken_encoding(name: &str) -> Option<Encoding> {
    if let Some(rest) = name.strip_prefix("ft:") {
        return tiktoken_encoding(rest.split(':').next().unwrap_or(rest));
    }
    MODELS
        .iter()
        .find(|(m, _)| name == *m)
        .or_else(|| MODEL_PREFIXES.iter().find(|(p, _)| name.starts_with(p)))
        .map(|(_, e)| *e)
}

/// Counts tokens for one model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenCounter {
    encoding: Encoding,
    estimate: bool,
}

/// The model name without a provider prefix (`openai/gpt-4o` → `gpt-4o`), lowercased.
fn base_name(model: &str) -> String {
    let m = model.trim().to_ascii_lowercase();
    let m = m.rsplit('/').next().unwrap_or(&m).to_string();
    m.strip_prefix("ft:")
        .map(|r| r.split(':').next().unwrap_or(r).to_string())
        .unwrap_or(m)
}

impl TokenCounter {
    /// The encoding for `model` (tiktoken's own table, then known families by prefix).
    pub fn for_model(model: &str) -> Self {
        let name = base_name(model);
        let known = |encoding| Self {
            encoding,
            estimate: false,
        };
        if let Some(e) = tiktoken_encoding(&name) {
            return known(e);
        }
        let starts = |p: &[&str]| p.iter().any(|x| name.starts_with(x));
        if starts(&[
            "gpt-4o",
            "gpt-4.1",
            "gpt-4.5",
            "gpt-5",
            "chatgpt-4o",
            "o1",
            "o3",
            "o4",
            "gpt-oss",
        ]) {
            known(Encoding::O200k)
        } else if starts(&["gpt-4", "gpt-3.5", "gpt-35", "text-embedding-"]) {
            known(Encoding::Cl100k)
        } else if starts(&[
            "text-davinci-002",
            "text-davinci-003",
            "code-davinci",
            "code-cushman",
        ]) {
            known(Encoding::P50k)
        } else if starts(&[
            "davinci",
            "curie",
            "babbage",
            "ada",
            "text-curie",
            "text-babbage",
            "text-ada",
            "gpt2",
            "gpt-2",
        ]) {
            known(Encoding::R50k)
        } else {
            Self {
                encoding: Encoding::Cl100k,
                estimate: true,
            }
        }
    }

    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// True when the model is unknown and cl100k stands in.
    pub fn is_estimate(&self) -> bool {
        self.estimate
    }

    pub fn label(&self) -> String {
        if self.estimate {
            format!("{} (estimate)", self.encoding.name())
        } else {
            self.encoding.name().to_string()
        }
    }

    /// Tokens in `text`, special-token text (`<|endoftext|>`) counted as plain text.
    pub fn count(&self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        self.encoding.bpe().count(text)
    }

    /// A chat request: 3 tokens per message plus its role and content, and 3 that prime
    /// the reply (OpenAI's accounting for current chat models).
    pub fn count_messages(&self, messages: &[WireMessage]) -> usize {
        messages
            .iter()
            .map(|m| 3 + self.count(m.role.as_str()) + self.count(&m.content))
            .sum::<usize>()
            + 3
    }

    /// Map the encoding's tables now (nothing is built: they are read in place, paged in as
    /// counting touches them).
    pub fn warm_up(&self) {
        let _ = self.encoding.bpe();
        self.encoding.ready_flag().store(true, Ordering::Release);
    }

    /// The tables are loaded: counting will not stall while they load.
    pub fn is_ready(&self) -> bool {
        self.encoding.ready_flag().load(Ordering::Acquire)
    }
}

/// The context window (prompt + reply tokens) of known models.
pub fn context_window(model: &str) -> Option<u64> {
    let n = base_name(model);
    let starts = |p: &str| n.starts_with(p);
    Some(if starts("gpt-4.1") {
        1_047_576
    } else if starts("gpt-5") {
        400_000
    } else if starts("o1") || starts("o3") || starts("o4") {
        200_000
    } else if starts("gpt-4o")
        || starts("chatgpt-4o")
        || starts("gpt-4-turbo")
        || starts("gpt-4.5")
        || starts("gpt-4-1106")
        || starts("gpt-4-0125")
    {
        128_000
    } else if starts("gpt-4-32k") {
        32_768
    } else if starts("gpt-4") {
        8_192
    } else if starts("gpt-3.5-turbo-instruct") {
        4_096
    } else if starts("gpt-3.5") || starts("gpt-35") {
        16_385
    } else if starts("text-davinci-003") || starts("text-davinci-002") {
        4_097
    } else if starts("davinci-002") || starts("babbage-002") {
        16_384
    } else if ["davinci", "curie", "babbage", "ada"].contains(&n.as_str()) {
        2_049
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::Role;

    #[test]
    fn the_tutorials_hamburger_is_three_gpt2_tokens() {
        let c = TokenCounter::for_model("davinci");
        assert_eq!(c.encoding(), Encoding::R50k);
        let bpe = Encoding::R50k.bpe();
        let ranks: Vec<_> = ["ham", "bur", "ger"]
            .iter()
            .map(|t| bpe.rank(t.as_bytes()))
            .collect();
        assert_eq!(ranks, vec![Some(2763), Some(6236), Some(1362)]);
        assert_eq!(c.count("hamburger"), 3);
    }

    #[test]
    fn known_counts() {
        assert_eq!(TokenCounter::for_model("gpt-4").count("hello world"), 2);
        assert_eq!(TokenCounter::for_model("gpt-4o").count("hello world"), 2);
        assert_eq!(TokenCounter::for_model("gpt-4o").count(""), 0);
    }

    #[test]
    fn chinese_text() {
        let text = "海洋污染對哪個地區影響最大";
        let chars = text.chars().count();
        let o200k = TokenCounter::for_model("gpt-4o").count(text);
        let cl100k = TokenCounter::for_model("gpt-4").count(text);
        let r50k = TokenCounter::for_model("davinci").count(text);
        // Exact values, pinned from tiktoken; the newer encodings are denser.
        assert_eq!((o200k, cl100k, r50k), (11, 22, 31));
        assert!(o200k < cl100k && cl100k < r50k);
        assert!(r50k > chars);
    }

    #[test]
    fn models_choose_encodings() {
        let enc = |m| TokenCounter::for_model(m).encoding();
        assert_eq!(enc("gpt-4o-mini"), Encoding::O200k);
        assert_eq!(enc("openai/gpt-4.1-nano"), Encoding::O200k);
        assert_eq!(enc("o3-mini"), Encoding::O200k);
        assert_eq!(enc("gpt-4-0613"), Encoding::Cl100k);
        assert_eq!(enc("gpt-3.5-turbo"), Encoding::Cl100k);
        assert_eq!(enc("text-davinci-003"), Encoding::P50k);
        assert_eq!(enc("text-ada-001"), Encoding::R50k);
        let local = TokenCounter::for_model("llama3.2");
        assert!(local.is_estimate());
        assert_eq!(local.label(), "cl100k_base (estimate)");
        assert!(!TokenCounter::for_model("gpt-4o").is_estimate());
    }

    #[test]
    fn models_choose_tiktokens_encodings() {
        use tiktoken_rs::tokenizer::{Tokenizer, get_tokenizer};
        let models = [
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "gpt-4o-mini",
            "chatgpt-4o-latest",
            "gpt-4.1",
            "gpt-4.1-nano",
            "gpt-4.5-preview",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5.2-codex",
            "o1",
            "o1-mini",
            "o3",
            "o3-mini",
            "o4-mini",
            "o4-mini-high",
            "gpt-oss-20b",
            "codex-mini-latest",
            "gpt-4",
            "gpt-4-0613",
            "gpt-4-32k",
            "gpt-4-turbo",
            "gpt-3.5-turbo",
            "gpt-3.5",
            "gpt-3.5-turbo-16k",
            "gpt-35-turbo",
            "gpt-35-turbo-16k",
            "davinci-002",
            "babbage-002",
            "text-embedding-ada-002",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-davinci-003",
            "text-davinci-002",
            "text-davinci-001",
            "text-curie-001",
            "text-babbage-001",
            "text-ada-001",
            "davinci",
            "curie",
            "babbage",
            "ada",
            "code-davinci-002",
            "code-cushman-001",
            "davinci-codex",
            "text-davinci-edit-001",
            "code-davinci-edit-001",
            "text-similarity-ada-001",
            "code-search-ada-code-001",
            "gpt2",
            "gpt-2",
            "ft:gpt-4o-mini:org::abc",
            "ft:davinci-002:org",
            "llama3.2",
        ];
        for m in models {
            let theirs = get_tokenizer(m).map(|t| match t {
                Tokenizer::O200kBase | Tokenizer::O200kHarmony => Encoding::O200k,
                Tokenizer::Cl100kBase => Encoding::Cl100k,
                Tokenizer::P50kBase | Tokenizer::P50kEdit => Encoding::P50k,
                Tokenizer::R50kBase | Tokenizer::Gpt2 => Encoding::R50k,
            });
            assert_eq!(tiktoken_encoding(m), theirs, "{m}");
        }
    }

    #[test]
    fn special_token_text_is_plain_text() {
        let c = TokenCounter::for_model("gpt-4o");
        assert!(c.count("<|endoftext|> and <|im_start|>") > 2);
    }

    #[test]
    fn chat_messages_follow_openais_accounting() {
        // OpenAI cookbook, "How to count tokens with tiktoken": these messages are 129
        // prompt tokens for gpt-3.5-turbo-0613 / gpt-4-0613.
        let m = |role, content: &str| WireMessage::new(role, content);
        let messages = vec![
            m(
                Role::System,
                "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
            ),
            m(
                Role::System,
                "New synergies will help drive top-line growth.",
            ),
            m(
                Role::System,
                "Things working well together will increase revenue.",
            ),
            m(
                Role::System,
                "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
            ),
            m(
                Role::System,
                "Let's talk later when we're less busy about how to do better.",
            ),
            m(
                Role::User,
                "This late pivot means we don't have time to boil the ocean for the client deliverable.",
            ),
        ];
        // The cookbook's example also gives four of the system messages a `name`
        // (example_user, example_assistant, twice each), which costs one token plus the
        // name's own tokens; chat-tui sends no names, so those are added here.
        let c = TokenCounter::for_model("gpt-4-0613");
        let names: usize = [
            "example_user",
            "example_assistant",
            "example_user",
            "example_assistant",
        ]
        .iter()
        .map(|n| 1 + c.count(n))
        .sum();
        assert_eq!(c.count_messages(&messages) + names, 129);
    }

    #[test]
    fn context_windows() {
        assert_eq!(context_window("gpt-4o-mini"), Some(128_000));
        assert_eq!(context_window("gpt-4"), Some(8_192));
        assert_eq!(context_window("text-davinci-003"), Some(4_097));
        assert_eq!(context_window("gpt-4.1"), Some(1_047_576));
        assert_eq!(context_window("llama3.2"), None);
    }
}
