//! Chat memory: which earlier turns go with the next request under the conversation's
//! [`Memory`] setting (defined in [`crate::chat::conversation`]).

use std::collections::HashSet;

use crate::api::types::{Mode, Params, Prompt, Role, WireMessage};
use crate::chat::conversation::{Conversation, Memory, Message, MessageId, Speaker, Status};
use crate::chat::counts::MessageCounts;
use crate::chat::prompt;

/// How many tokens a request may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The model's context window (prompt + reply).
    pub context_window: u64,
    /// Tokens kept free for the reply.
    pub reply_reserve: u64,
}

impl Budget {
    /// Tokens the prompt may use.
    pub fn prompt_limit(&self) -> u64 {
        self.context_window.saturating_sub(self.reply_reserve)
    }
}

/// What to do to answer the message at `upto`.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Send this prompt; `tokens` is its local count.
    Send {
        prompt: Prompt,
        tokens: u64,
        covered: usize,
    },
    /// The history is over budget: first summarise the messages `ids` with `request`,
    /// insert the summary, then plan again.
    Summarize {
        ids: Vec<MessageId>,
        request: Prompt,
        tokens_before: u64,
    },
}

/// A user message and the reply that followed it (if any).
struct Turn<'a> {
    messages: Vec<&'a Message>,
}

/// The longest summary asked for.
pub const SUMMARY_MAX_TOKENS: u32 = 400;

/// Instructions for the summary request.
pub const SUMMARY_INSTRUCTIONS: &str = "You condense conversations. Summarise the conversation below so that it can replace it as memory for the rest of the chat: keep facts, names, numbers, decisions, the user's preferences and open questions; drop pleasantries. Write in the language of the conversation, in at most 200 words, as plain prose.";

/// The previous summary (if any) and the turns not yet covered by it, up to and including
/// the message at `upto`.
fn uncovered_turns<'a>(msgs: &[&'a Message]) -> (Option<&'a Message>, Vec<Turn<'a>>) {
    let summary = msgs
        .iter()
        .filter(|m| m.speaker == Speaker::Summary && m.status == Status::Complete)
        .max_by_key(|m| m.id)
        .copied();
    let covered: HashSet<MessageId> = summary
        .map(|s| s.summary_of.iter().copied().collect())
        .unwrap_or_default();
    let mut turns: Vec<Turn> = Vec::new();
    for &m in msgs {
        if covered.contains(&m.id) {
            continue;
        }
        match m.speaker {
            Speaker::User => turns.push(Turn { messages: vec![m] }),
            Speaker::Assistant => {
                if m.text().is_empty() {
                    continue;
                }
                match turns.last_mut() {
                    Some(t) => t.messages.push(m),
                    None => turns.push(Turn { messages: vec![m] }),
                }
            }
            Speaker::System | Speaker::Summary => {}
        }
    }
    (summary, turns)
}

/// Every user and assistant message up to `upto`, ignoring summaries (the `full` strategy).
fn all_turns<'a>(msgs: &[&'a Message]) -> Vec<Turn<'a>> {
    let mut turns: Vec<Turn> = Vec::new();
    for &m in msgs {
        match m.speaker {
            Speaker::User => turns.push(Turn { messages: vec![m] }),
            Speaker::Assistant if !m.text().is_empty() => match turns.last_mut() {
                Some(t) => t.messages.push(m),
                None => turns.push(Turn { messages: vec![m] }),
            },
            _ => {}
        }
    }
    turns
}

/// What a request carries under the memory strategy: the system text, the summary in
/// force, the turns chosen (oldest first; the last is the one being answered).
struct Selection<'a> {
    system: Option<String>,
    summary: Option<&'a Message>,
    chosen: Vec<Turn<'a>>,
}

impl<'a> Selection<'a> {
    /// Choose from `msgs` (the conversation up to and including the message answered).
    fn of(conv: &Conversation, msgs: &[&'a Message]) -> Self {
        // The system prompt, then any system messages in the conversation itself (an
        // imported OpenAI `messages` array keeps its own), as one system message.
        let parts: Vec<&str> = conv
            .system
            .as_deref()
            .into_iter()
            .chain(
                msgs.iter()
                    .filter(|m| m.speaker == Speaker::System)
                    .map(|m| m.content.as_str()),
            )
            .filter(|s| !s.trim().is_empty())
            .collect();
        let system = (!parts.is_empty()).then(|| parts.join("\n\n"));
        let (summary, mut turns) = match conv.memory {
            Memory::Summarize => uncovered_turns(msgs),
            _ => (None, all_turns(msgs)),
        };
        let keep = match conv.memory {
            Memory::None => 1,
            Memory::Last(n) => n + 1,
            Memory::Full | Memory::Summarize => turns.len(),
        };
        let chosen = turns.split_off(turns.len().saturating_sub(keep));
        Self {
            system,
            summary,
            chosen,
        }
    }

    fn messages(&self) -> Vec<&'a Message> {
        self.chosen
            .iter()
            .flat_map(|t| t.messages.iter().copied())
            .collect()
    }

    fn summary_text(&self) -> Option<&'a str> {
        self.summary.map(|s| s.content.as_str())
    }
}

/// Build the prompt for the message at index `upto` (normally the last user message) under
/// the conversation's memory strategy.
pub fn plan(
    conv: &Conversation,
    upto: usize,
    counts: &dyn MessageCounts,
    budget: Option<Budget>,
) -> Plan {
    let end = upto.min(conv.messages.len().saturating_sub(1));
    let msgs: Vec<&Message> = conv
        .messages
        .get(..=end)
        .unwrap_or_default()
        .iter()
        .collect();
    let sel = Selection::of(conv, &msgs);
    let system = sel.system.as_deref();
    let messages = sel.messages();
    let summary_text = sel.summary_text();
    let prompt = build(conv.mode, conv.memory, system, summary_text, &messages);
    let tokens = estimate(
        counts,
        conv.mode,
        conv.memory,
        system,
        summary_text,
        &messages,
        &|m| Some(counts.tokens(m)),
    )
    .unwrap_or_default();
    let chosen = &sel.chosen;

    if conv.memory == Memory::Summarize
        && let Some(b) = budget
        && tokens > b.prompt_limit()
        && chosen.len() > 1
    {
        // Fold the oldest turns until what is left fits in about half the budget
        // (room for the summary and for the conversation to grow), always keeping
        // the current turn.
        let target = b.prompt_limit() / 2;
        let mut rest_tokens = tokens;
        let mut fold = 0;
        while fold < chosen.len() - 1 && rest_tokens > target {
            let t: u64 = chosen[fold]
                .messages
                .iter()
                .map(|m| counts.tokens(m) + 4)
                .sum();
            rest_tokens = rest_tokens.saturating_sub(t);
            fold += 1;
        }
        // The summary request and the summary itself must fit: fold fewer turns if
        // needed.
        let limit = b
            .context_window
            .saturating_sub(u64::from(SUMMARY_MAX_TOKENS) + 50);
        loop {
            let folded: Vec<&Message> = chosen[..fold]
                .iter()
                .flat_map(|t| t.messages.iter().copied())
                .collect();
            let request = summary_request(conv.mode, summary_text, &folded);
            let request_tokens = estimate(
                counts,
                conv.mode,
                Memory::Full,
                Some(SUMMARY_INSTRUCTIONS),
                summary_text,
                &folded,
                &|m| Some(counts.tokens(m)),
            )
            .unwrap_or_default()
                + 20;
            if request_tokens <= limit || fold <= 1 {
                let mut ids: Vec<MessageId> = sel
                    .summary
                    .map(|s| s.summary_of.clone())
                    .unwrap_or_default();
                ids.extend(folded.iter().map(|m| m.id));
                return Plan::Summarize {
                    ids,
                    request,
                    tokens_before: tokens,
                };
            }
            fold -= 1;
        }
    }
    Plan::Send {
        prompt,
        tokens,
        covered: messages.len(),
    }
}

/// The local count of the request that sending a draft of `draft_tokens` tokens would make
/// now: the same selection and accounting as [`plan`] (so the tokens panel shows what will
/// be sent). `None` while a message it needs has not been counted yet (counting is left to
/// the caller, off the hot path). With `summarize` over the budget, this is the count
/// before summarising.
pub fn next_request_tokens(
    conv: &Conversation,
    counts: &dyn MessageCounts,
    draft_tokens: u64,
) -> Option<u64> {
    let mut draft = Message::new(MessageId::MAX, Speaker::User, "");
    draft.local_tokens = Some(draft_tokens);
    let msgs: Vec<&Message> = conv
        .messages
        .iter()
        .chain(std::iter::once(&draft))
        .collect();
    let sel = Selection::of(conv, &msgs);
    estimate(
        counts,
        conv.mode,
        conv.memory,
        sel.system.as_deref(),
        sel.summary_text(),
        &sel.messages(),
        &|m| counts.known(m),
    )
}

/// The prompt Enter would send now with `draft` as the question: what
/// [`next_request_tokens`] counts (the same selection; with `summarize` over the budget, the
/// prompt before summarising). For exact counts by the server's tokenizer.
pub fn next_prompt(conv: &Conversation, draft: &str) -> Prompt {
    let draft = Message::new(MessageId::MAX, Speaker::User, draft);
    let msgs: Vec<&Message> = conv
        .messages
        .iter()
        .chain(std::iter::once(&draft))
        .collect();
    let sel = Selection::of(conv, &msgs);
    build(
        conv.mode,
        conv.memory,
        sel.system.as_deref(),
        sel.summary_text(),
        &sel.messages(),
    )
}

/// The messages [`next_request_tokens`] needs counted that have no count yet, newest first.
pub fn uncounted<'a>(conv: &'a Conversation, counts: &dyn MessageCounts) -> Vec<&'a Message> {
    let msgs: Vec<&Message> = conv.messages.iter().collect();
    let sel = Selection::of(conv, &msgs);
    let mut out: Vec<&Message> = sel
        .messages()
        .into_iter()
        .filter(|m| counts.known(m).is_none())
        .collect();
    out.reverse();
    out
}

/// The local count of the prompt [`build`] makes, from per-message counts, so planning
/// does not re-encode the whole history on every send. For chat prompts this is exactly
/// OpenAI's accounting; for completion prompts, within a few tokens. `None` when `per`
/// knows no count for a message.
fn estimate(
    counts: &dyn MessageCounts,
    mode: Mode,
    memory: Memory,
    system: Option<&str>,
    summary: Option<&str>,
    messages: &[&Message],
    per: &dyn Fn(&Message) -> Option<u64>,
) -> Option<u64> {
    let text = |s: &str| counts.counter().count(s) as u64;
    let mut body = 0;
    for m in messages {
        body += per(m)?;
    }
    let n = messages.len() as u64;
    Some(match mode {
        // Every message: 3 + role (1 token) + content; then 3 that prime the reply.
        Mode::Chat => {
            system.map(|s| 4 + text(s)).unwrap_or(0)
                + summary
                    .map(|s| 4 + text(prompt::SUMMARY_PREFIX) + text(s))
                    .unwrap_or(0)
                + 4 * n
                + body
                + 3
        }
        // The tutorial's first loop sends the question alone, as typed (see `build`).
        Mode::Completion if memory == Memory::None && system.is_none() => body,
        // `User: ...\n` lines: the label, a space and a newline are about 3 tokens.
        Mode::Completion => {
            system.map(|s| 2 + text(s)).unwrap_or(0)
                + summary
                    .map(|s| 2 + text(prompt::SUMMARY_PREFIX) + text(s))
                    .unwrap_or(0)
                + 3 * n
                + body
                + 2
        }
    })
}

#[cfg(test)]
fn count(counter: &crate::chat::tokens::TokenCounter, prompt: &Prompt) -> u64 {
    match prompt {
        Prompt::Chat(m) => counter.count_messages(m) as u64,
        Prompt::Completion(p) => counter.count(p) as u64,
    }
}

/// The prompt for `messages` with the system prompt and the earlier summary.
fn build(
    mode: Mode,
    memory: Memory,
    system: Option<&str>,
    summary: Option<&str>,
    messages: &[&Message],
) -> Prompt {
    match mode {
        Mode::Chat => {
            let mut out = Vec::with_capacity(messages.len() + 2);
            if let Some(s) = system {
                out.push(WireMessage::new(Role::System, s));
            }
            if let Some(s) = summary {
                out.push(WireMessage::new(
                    Role::System,
                    format!("{}{s}", prompt::SUMMARY_PREFIX),
                ));
            }
            for m in messages {
                out.push(WireMessage::new(m.speaker.wire_role(), m.text()));
            }
            Prompt::Chat(out)
        }
        Mode::Completion => {
            if memory == Memory::None && system.is_none() {
                // The tutorial's first loop: the question alone, as typed.
                let text = messages.last().map(|m| m.text()).unwrap_or("");
                return Prompt::Completion(text.to_string());
            }
            Prompt::Completion(prompt::transcript(system, summary, messages, true))
        }
    }
}

/// The request that asks the model for a summary of `folded` (and the previous summary).
pub fn summary_request(mode: Mode, previous: Option<&str>, folded: &[&Message]) -> Prompt {
    let body = prompt::transcript(None, previous, folded, false);
    match mode {
        Mode::Chat => Prompt::Chat(vec![
            WireMessage::new(Role::System, SUMMARY_INSTRUCTIONS),
            WireMessage::new(
                Role::User,
                format!("{body}\n\nWrite the summary of the conversation above."),
            ),
        ]),
        Mode::Completion => {
            Prompt::Completion(format!("{SUMMARY_INSTRUCTIONS}\n\n{body}\n\nSummary:"))
        }
    }
}

/// Parameters for the summary request: the conversation's model settings, but one choice,
/// a bounded length, no stop sequences or insertion suffix.
pub fn summary_params(params: &Params) -> Params {
    let mut p = Params {
        temperature: Some(0.3),
        max_tokens: Some(SUMMARY_MAX_TOKENS),
        seed: params.seed,
        extra: params.extra.clone(),
        ..Params::default()
    };
    p.n = None;
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::tokens::TokenCounter;

    fn conv(memory: Memory, mode: Mode, turns: usize) -> Conversation {
        let mut c = Conversation::new("gpt-4o", mode, memory);
        for i in 0..turns {
            c.push(Speaker::User, format!("question {i}"));
            let id = c.push_reply(&Params::default(), "gpt-4o");
            let m = c.get_mut(id).unwrap();
            m.choice_mut(0).text = format!("answer {i}");
            if memory == Memory::Summarize {
                // Long answers, so that budgets are realistic (thousands of tokens).
                m.choice_mut(0)
                    .text
                    .push_str(&" and some more words".repeat(100));
            }
            m.status = Status::Complete;
        }
        c.push(Speaker::User, "current question");
        c
    }

    fn chat_contents(p: &Plan) -> Vec<String> {
        match p {
            Plan::Send {
                prompt: Prompt::Chat(m),
                ..
            } => m
                .iter()
                .map(|m| format!("{}:{}", m.role.as_str(), m.content))
                .collect(),
            other => panic!("unexpected plan {other:?}"),
        }
    }

    #[test]
    fn none_sends_the_question_alone() {
        let c = conv(Memory::None, Mode::Chat, 3);
        let p = plan(
            &c,
            c.messages.len() - 1,
            &TokenCounter::for_model("gpt-4o"),
            None,
        );
        assert_eq!(chat_contents(&p), vec!["user:current question"]);
    }

    #[test]
    fn last_n_keeps_n_earlier_turns() {
        let mut c = conv(Memory::Last(2), Mode::Chat, 4);
        c.system = Some("be brief".into());
        let p = plan(
            &c,
            c.messages.len() - 1,
            &TokenCounter::for_model("gpt-4o"),
            None,
        );
        assert_eq!(
            chat_contents(&p),
            vec![
                "system:be brief",
                "user:question 2",
                "assistant:answer 2",
                "user:question 3",
                "assistant:answer 3",
                "user:current question"
            ]
        );
    }

    #[test]
    fn full_sends_everything_and_skips_empty_failed_replies() {
        let mut c = conv(Memory::Full, Mode::Chat, 2);
        let id = c.push_reply(&Params::default(), "m");
        c.get_mut(id).unwrap().status = Status::Failed { error: "x".into() };
        c.push(Speaker::User, "again");
        let p = plan(
            &c,
            c.messages.len() - 1,
            &TokenCounter::for_model("gpt-4o"),
            None,
        );
        let got = chat_contents(&p);
        assert_eq!(got.len(), 6);
        assert_eq!(got[4], "user:current question");
        assert_eq!(got[5], "user:again");
    }

    #[test]
    fn summarize_asks_for_a_summary_over_budget_then_uses_it() {
        let mut c = conv(Memory::Summarize, Mode::Chat, 6);
        let counter = TokenCounter::for_model("gpt-4o");
        let upto = c.messages.len() - 1;
        let full = match plan(&c, upto, &counter, None) {
            Plan::Send { tokens, .. } => tokens,
            p => panic!("{p:?}"),
        };
        let budget = Budget {
            context_window: full - 10 + 50,
            reply_reserve: 50,
        };
        let (ids, request) = match plan(&c, upto, &counter, Some(budget)) {
            Plan::Summarize { ids, request, .. } => (ids, request),
            p => panic!("expected a summary, got {p:?}"),
        };
        // The oldest turns are folded, the current question never.
        assert!(!ids.is_empty());
        assert_eq!(ids[0], c.messages[0].id);
        let last_id = c.messages[upto].id;
        assert!(!ids.contains(&last_id));
        match &request {
            Prompt::Chat(m) => assert!(m[1].content.contains("question 0")),
            _ => panic!(),
        }
        c.insert_summary("SUMMARY TEXT".into(), ids.clone());
        let upto = c.messages.len() - 1;
        let p = plan(&c, upto, &counter, Some(budget));
        let got = chat_contents(&p);
        assert!(
            got[0].starts_with("system:") && got[0].contains("SUMMARY TEXT"),
            "{got:?}"
        );
        assert!(!got.iter().any(|m| m == "user:question 0"));
        assert_eq!(got.last().unwrap(), "user:current question");
        match p {
            Plan::Send { tokens, .. } => assert!(tokens <= budget.prompt_limit()),
            _ => unreachable!(),
        }
    }

    #[test]
    fn completion_mode_labels_turns() {
        let c = conv(Memory::Full, Mode::Completion, 1);
        let p = plan(
            &c,
            c.messages.len() - 1,
            &TokenCounter::for_model("davinci"),
            None,
        );
        match p {
            Plan::Send {
                prompt: Prompt::Completion(s),
                ..
            } => assert_eq!(
                s,
                "User: question 0\nAssistant: answer 0\nUser: current question\nAssistant:"
            ),
            p => panic!("{p:?}"),
        }
        let c = conv(Memory::None, Mode::Completion, 1);
        match plan(
            &c,
            c.messages.len() - 1,
            &TokenCounter::for_model("davinci"),
            None,
        ) {
            Plan::Send {
                prompt: Prompt::Completion(s),
                ..
            } => assert_eq!(s, "current question"),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn the_estimate_matches_a_full_count_for_chat() {
        let mut c = conv(Memory::Full, Mode::Chat, 5);
        c.system = Some("You are terse. 你好".into());
        let counter = TokenCounter::for_model("gpt-4o");
        match plan(&c, c.messages.len() - 1, &counter, None) {
            Plan::Send { prompt, tokens, .. } => assert_eq!(tokens, count(&counter, &prompt)),
            p => panic!("{p:?}"),
        }
        // Cached counts are used as they are (here: deliberately wrong, to prove it).
        for m in &mut c.messages {
            m.local_tokens = Some(1000);
        }
        match plan(&c, c.messages.len() - 1, &counter, None) {
            Plan::Send { tokens, .. } => assert!(tokens > 11_000),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn the_next_request_estimate_is_what_plan_sends() {
        use crate::chat::counts::TokenCache;
        let counter = TokenCounter::for_model("gpt-4o");
        let draft = "and what about 漢字 and emoji 🦀?";
        for mode in [Mode::Chat, Mode::Completion] {
            for memory in [
                Memory::None,
                Memory::Last(2),
                Memory::Full,
                Memory::Summarize,
            ] {
                let mut c = conv(memory, mode, 4);
                if mode == Mode::Chat {
                    c.system = Some("Be brief.".into());
                }
                let mut cache = TokenCache::new(counter);
                if memory != Memory::None {
                    assert_eq!(
                        next_request_tokens(&c, &cache, counter.count(draft) as u64),
                        None,
                        "{mode} {memory}: nothing counted yet"
                    );
                }
                for m in c.messages.clone() {
                    cache.count(&m);
                }
                assert!(uncounted(&c, &cache).is_empty());
                let estimate = next_request_tokens(&c, &cache, counter.count(draft) as u64)
                    .expect("everything is counted");
                let id = c.push(Speaker::User, draft);
                assert!(c.get(id).is_some());
                match plan(&c, c.messages.len() - 1, &cache, None) {
                    Plan::Send { tokens, .. } => {
                        assert_eq!(tokens, estimate, "{mode} {memory}")
                    }
                    p => panic!("{p:?}"),
                }
            }
        }
    }

    #[test]
    fn the_next_prompt_is_what_plan_sends() {
        for mode in [Mode::Chat, Mode::Completion] {
            for memory in [Memory::None, Memory::Last(1), Memory::Full] {
                let mut c = conv(memory, mode, 3);
                c.system = Some("Be brief.".into());
                let next = next_prompt(&c, "and 你好?");
                c.push(Speaker::User, "and 你好?");
                let counter = TokenCounter::for_model("gpt-4o");
                match plan(&c, c.messages.len() - 1, &counter, None) {
                    Plan::Send { prompt, .. } => assert_eq!(prompt, next, "{mode} {memory}"),
                    p => panic!("{p:?}"),
                }
            }
        }
    }

    #[test]
    fn reasoning_and_logprobs_are_never_sent_back() {
        use crate::api::logprobs::{Logprobs, TokenLogprob};
        use crate::chat::conversation::Reasoning;
        let mut c = conv(Memory::Full, Mode::Chat, 1);
        let reply = c.messages[1].id;
        let m = c.get_mut(reply).unwrap();
        m.choice_mut(0).reasoning = Some(Reasoning {
            text: "SECRET THOUGHTS".into(),
            ..Reasoning::default()
        });
        let mut l = Logprobs::new();
        l.push(&TokenLogprob {
            bytes: b"PROBABLE".to_vec(),
            logprob: -0.1,
            top: vec![],
        });
        m.choice_mut(0).logprobs = Some(l);
        let counter = TokenCounter::for_model("gpt-4o");
        let p = plan(&c, c.messages.len() - 1, &counter, None);
        let all = format!("{p:?}");
        assert!(all.contains("answer 0"));
        assert!(
            !all.contains("SECRET") && !all.contains("PROBABLE"),
            "{all}"
        );
        // A reply that only reasoned (no text) is not sent at all.
        let mut c = conv(Memory::Full, Mode::Chat, 1);
        let reply = c.messages[1].id;
        let m = c.get_mut(reply).unwrap();
        m.choice_mut(0).text.clear();
        m.choice_mut(0).reasoning = Some(Reasoning {
            text: "only thinking".into(),
            ..Reasoning::default()
        });
        let p = plan(&c, c.messages.len() - 1, &counter, None);
        assert_eq!(
            chat_contents(&p),
            vec!["user:question 0", "user:current question"]
        );
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
