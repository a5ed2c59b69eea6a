//! Markdown export. The output is safe to `cat`: it goes through the same sanitizer as the
//! screen ([`crate::text::sanitize`]: ESC → ␛, CR → ␍, DEL → ␡, C1 controls such as the
//! 8-bit CSI → ⍰, bidi controls → ⇆, zero-width characters → ⎵), except that tabs stay
//! tabs ([`Tabs::Keep`]): they are content in a code block.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::api::types::{PARAM_NAMES, Params};
use crate::chat::conversation::{Choice, Conversation, Message, MessageId, Speaker, Status};
use crate::text::{Tabs, sanitize_with};

/// The conversation as Markdown: the branch shown (the current path), with the version
/// and choice selected in each reply (every choice is written, the selected one marked).
pub fn to_markdown(conv: &Conversation) -> String {
    let mut out = header(conv);
    for m in &conv.messages {
        message(&mut out, conv, m, 2);
    }
    finish(out)
}

/// Every branch of the conversation as Markdown, each under its own heading (depth first:
/// the order of `branch i/n`). The first is written whole; each next one from where it
/// leaves the branches before it, naming the message it continues from.
pub fn to_markdown_all(conv: &Conversation) -> String {
    let mut out = header(conv);
    let forest = conv.forest();
    let branches = conv.branches();
    let n = branches.len();
    let mut written: HashSet<MessageId> = HashSet::new();
    for (k, b) in branches.iter().enumerate() {
        let shown = if b.current { " (shown)" } else { "" };
        let _ = writeln!(
            out,
            "## Branch {} of {n}{shown}
",
            k + 1
        );
        let ids = forest.ancestry(b.leaf);
        let start = ids
            .iter()
            .position(|id| !written.contains(id))
            .unwrap_or(ids.len());
        if let Some(prev) = start.checked_sub(1).and_then(|i| conv.get(ids[i])) {
            let who = match prev.speaker {
                Speaker::User => "You",
                Speaker::Assistant => "Assistant",
                Speaker::System => "System",
                Speaker::Summary => "Summary",
            };
            let first: String = prev
                .text()
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            let _ = writeln!(
                out,
                "*Continues after message #{} ({who}: {}), as in an earlier branch.*\n",
                prev.id,
                one_line(first.trim())
            );
        }
        for id in &ids[start..] {
            if let Some(m) = conv.get(*id) {
                message(&mut out, conv, m, 3);
            }
            written.insert(*id);
        }
    }
    finish(out)
}

/// The title and the conversation's settings.
fn header(conv: &Conversation) -> String {
    let mut out = String::new();
    let title = if conv.title.trim().is_empty() {
        "Untitled"
    } else {
        conv.title.trim()
    };
    let _ = writeln!(out, "# {}\n", one_line(title));
    let _ = writeln!(out, "- Model: {}", one_line(&conv.model));
    let _ = writeln!(out, "- Mode: {}", conv.mode);
    let _ = writeln!(out, "- Memory: {}", conv.memory);
    if let Some(e) = &conv.endpoint {
        let _ = writeln!(out, "- Endpoint: {}", one_line(e));
    }
    let _ = writeln!(out, "- Created: {}", time(conv.created));
    let _ = writeln!(out, "- Updated: {}", time(conv.updated));
    let _ = writeln!(out, "- Conversation id: {}", one_line(&conv.id));
    let params = params_line(&conv.params);
    let _ = writeln!(
        out,
        "- Parameters: {}",
        if params.is_empty() {
            "server defaults".to_string()
        } else {
            params
        }
    );
    let usage = conv.total_usage();
    if usage.total_tokens > 0 || usage.prompt_tokens > 0 || usage.completion_tokens > 0 {
        let every = if conv.others.is_empty() {
            ""
        } else {
            " (every version and branch)"
        };
        let _ = writeln!(
            out,
            "- Total usage{every}: {} prompt + {} completion = {} tokens",
            usage.prompt_tokens, usage.completion_tokens, usage.total_tokens
        );
    }
    out.push('\n');
    if let Some(sys) = conv.system.as_deref().filter(|s| !s.is_empty()) {
        out.push_str("**System prompt:**\n\n");
        out.push_str(&quote(sys));
    }
    out
}

/// The end: no trailing blank lines, and the sanitizer over everything.
fn finish(mut out: String) -> String {
    while out.ends_with("\n\n") {
        out.pop();
    }
    let clean = match sanitize_with(&out, Tabs::Keep) {
        Cow::Owned(o) => Some(o),
        Cow::Borrowed(_) => None,
    };
    clean.unwrap_or(out)
}

/// One message, under a heading of `depth` `#`s (its choices one deeper).
fn message(out: &mut String, conv: &Conversation, m: &Message, depth: usize) {
    let h = "#".repeat(depth);
    let fork = match m.fork_label() {
        Some(l) => format!(" — {}", l.replace('/', " of ")),
        None => String::new(),
    };
    match m.speaker {
        Speaker::User => {
            let _ = writeln!(out, "{h} You{fork}\n");
            body(out, &m.content);
        }
        Speaker::System => {
            let _ = writeln!(out, "{h} System{fork}\n");
            body(out, &m.content);
        }
        Speaker::Summary => {
            let ids: Vec<String> = m.summary_of.iter().map(|id| format!("#{id}")).collect();
            let _ = writeln!(out, "{h} Summary{fork}\n");
            let covers = if ids.is_empty() {
                "earlier messages".to_string()
            } else {
                format!("messages {}", ids.join(", "))
            };
            let _ = writeln!(out, "> **Summary** standing for {covers}:\n>");
            out.push_str(&quote(&m.content));
            status_note(out, &m.status);
        }
        Speaker::Assistant => {
            let model = m
                .target
                .as_deref()
                .or(m.model.as_deref())
                .unwrap_or(&conv.model);
            let _ = writeln!(out, "{h} Assistant ({}){fork}\n", one_line(model));
            status_note(out, &m.status);
            if let Some(p) = &m.params {
                let line = params_line(p);
                if !line.is_empty() {
                    let _ = writeln!(out, "*Parameters: {line}*\n");
                }
            }
            if m.choices.len() > 1 {
                for (k, c) in m.choices.iter().enumerate() {
                    let sel = if k == m.selected { " (selected)" } else { "" };
                    let _ = writeln!(out, "{h}# Choice {}{sel}\n", k + 1);
                    thinking(out, c, None);
                    body(out, &c.text);
                    if let Some(r) = &c.finish_reason {
                        let _ = writeln!(out, "*Finish reason: {}*\n", one_line(r.as_str()));
                    }
                }
            } else {
                if let Some(c) = m.choices.first() {
                    thinking(out, c, m.usage.and_then(|u| u.reasoning_tokens));
                }
                body(out, m.text());
                if let Some(r) = m.choices.first().and_then(|c| c.finish_reason.as_ref()) {
                    let _ = writeln!(out, "*Finish reason: {}*\n", one_line(r.as_str()));
                }
            }
            if let Some(u) = &m.usage {
                let mut details = Vec::new();
                if let Some(c) = u.cached_tokens.filter(|c| *c > 0) {
                    details.push(format!("{c} prompt tokens cached"));
                }
                if let Some(r) = u.reasoning_tokens.filter(|r| *r > 0) {
                    details.push(format!("{r} reasoning"));
                }
                let details = if details.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", details.join(", "))
                };
                let _ = writeln!(
                    out,
                    "*Usage: {} prompt + {} completion = {} tokens{details}*\n",
                    u.prompt_tokens, u.completion_tokens, u.total_tokens
                );
            }
        }
    }
}

/// A choice's reasoning, as a quoted block before its text.
fn thinking(out: &mut String, c: &Choice, tokens: Option<u64>) {
    let Some(r) = c.reasoning.as_ref().filter(|r| !r.text.is_empty()) else {
        return;
    };
    let mut about = Vec::new();
    if let Some(n) = tokens.filter(|n| *n > 0) {
        about.push(format!("{n} tokens"));
    }
    if let Some(ms) = r.millis {
        about.push(format!("{:.1} s", ms as f64 / 1000.0));
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        format!(" ({})", about.join(", "))
    };
    let _ = writeln!(out, "> **Thinking**{about}\n>");
    out.push_str(&quote(&r.text));
}

fn status_note(out: &mut String, status: &Status) {
    let note = match status {
        Status::Complete => return,
        Status::Partial => "partial — the reply was cut off before it finished".to_string(),
        Status::Cancelled => "cancelled — the text so far is kept".to_string(),
        Status::Failed { error } => format!("failed — {}", one_line(error)),
        Status::Incomplete => "incomplete — the stream ended without finishing".to_string(),
    };
    let _ = writeln!(out, "> ⚠ *{note}*\n");
}

fn body(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str("*(empty)*\n\n");
    } else {
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
}

fn quote(text: &str) -> String {
    let mut s = String::new();
    for line in text.lines() {
        if line.is_empty() {
            s.push_str(">\n");
        } else {
            let _ = writeln!(s, "> {line}");
        }
    }
    s.push('\n');
    s
}

fn params_line(p: &Params) -> String {
    let mut parts = Vec::new();
    for name in PARAM_NAMES {
        if let Some(v) = p.get(name) {
            parts.push(format!("{name}={v}"));
        }
    }
    for (k, v) in &p.extra {
        parts.push(format!("{k}={v}"));
    }
    one_line(&parts.join(", "))
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::types::{FinishReason, Mode, Usage};
    use crate::chat::conversation::{Choice, Memory};

    fn sample() -> Conversation {
        let mut c = Conversation::new("gpt-test", Mode::Chat, Memory::Last(4));
        c.id = "0190abc".into();
        c.created = "2024-05-01T10:00:00Z".parse().unwrap();
        c.endpoint = Some("openai".into());
        c.system = Some("Be brief.\nAlways.".into());
        c.params.set("temperature", "0.5").unwrap();
        c.params.set("top_k", "40").unwrap();
        let a = c.push(Speaker::User, "What is Rust?");
        let p = Params {
            n: Some(2),
            ..Params::default()
        };
        let r = c.push_reply(&p, "gpt-test-0501");
        {
            let m = c.get_mut(r).unwrap();
            m.choices = vec![
                Choice {
                    text: "A language.".into(),
                    finish_reason: Some(FinishReason::Stop),
                    ..Choice::default()
                },
                Choice {
                    text: "A fungus.".into(),
                    finish_reason: Some(FinishReason::Length),
                    ..Choice::default()
                },
            ];
            m.selected = 1;
            m.status = Status::Complete;
            m.usage = Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                total_tokens: 15,
                ..Usage::default()
            });
        }
        c.insert_summary("They asked about Rust.".into(), vec![a, r]);
        c.push(Speaker::User, "And then?");
        let r2 = c.push_reply(&Params::default(), "gpt-test");
        c.get_mut(r2).unwrap().choice_mut(0).text = "Then".into();
        let r3 = c.push_reply(&Params::default(), "gpt-test");
        c.get_mut(r3).unwrap().status = Status::Failed {
            error: "HTTP 500".into(),
        };
        c.updated = "2024-05-01T10:05:00Z".parse().unwrap();
        c
    }

    #[test]
    fn markdown_has_the_important_parts() {
        let md = to_markdown(&sample());
        assert!(md.starts_with("# What is Rust?\n"), "{md}");
        for needle in [
            "- Model: gpt-test\n",
            "- Mode: chat\n",
            "- Memory: last 4\n",
            "- Endpoint: openai\n",
            "- Created: 2024-05-01 10:00:00 UTC\n",
            "- Updated: 2024-05-01 10:05:00 UTC\n",
            "- Parameters: temperature=0.5, top_k=40\n",
            "**System prompt:**\n\n> Be brief.\n> Always.\n",
            "## You\n\nWhat is Rust?\n",
            "## Assistant (gpt-test-0501)\n",
            "*Parameters: n=2*",
            "### Choice 1\n\nA language.\n\n*Finish reason: stop*",
            "### Choice 2 (selected)\n\nA fungus.\n\n*Finish reason: length*",
            "*Usage: 10 prompt + 5 completion = 15 tokens*",
            "> **Summary** standing for messages #1, #2:\n>\n> They asked about Rust.\n",
            "partial — the reply was cut off",
            "failed — HTTP 500",
            "- Total usage: 10 prompt + 5 completion = 15 tokens\n",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
        insta::assert_snapshot!("sample_markdown", md);
        // Turns appear in conversation order.
        let you = md.find("## You").unwrap();
        let summary = md.find("## Summary").unwrap();
        let then = md.find("And then?").unwrap();
        assert!(you < summary && summary < then);
    }

    #[test]
    fn the_shown_branch_and_every_branch() {
        let mut c = sample();
        let q = c.messages[0].id;
        let shown = c.path_ids();
        // A second version of the first reply, from another model; then back.
        c.open_at(Some(q));
        let v2 = c.push_reply(&Params::default(), "other");
        {
            let m = c.get_mut(v2).unwrap();
            m.choice_mut(0).text = "A kind of oxide.".into();
            m.status = Status::Complete;
            m.target = Some("other".into());
        }
        assert!(c.open_path(&shown));
        let md = to_markdown(&c);
        assert!(!md.contains("A kind of oxide."), "{md}");
        assert!(
            md.contains("## Assistant (gpt-test-0501) — version 1 of 2\n"),
            "{md}"
        );
        assert!(!md.contains("Branch 1"), "{md}");

        let all = to_markdown_all(&c);
        assert!(all.starts_with("# What is Rust?\n"), "{all}");
        let b1 = all.find("## Branch 1 of 2 (shown)\n").expect(&all);
        let b2 = all.find("## Branch 2 of 2\n").expect(&all);
        assert!(b1 < b2);
        // The first branch whole, the second from where it leaves the first.
        assert_eq!(all.matches("### You\n\nWhat is Rust?").count(), 1, "{all}");
        assert!(all[b1..b2].contains("And then?"));
        assert!(
            all[b2..].contains("*Continues after message #1 (You: What is Rust?)"),
            "{all}"
        );
        assert!(
            all[b2..].contains("### Assistant (other) — version 2 of 2\n\nA kind of oxide."),
            "{all}"
        );
        assert!(all[b1..b2].contains("#### Choice 2 (selected)"), "{all}");
        assert!(all.contains("Total usage (every version and branch)"));
    }

    #[test]
    fn reasoning_is_a_quoted_block_before_the_reply() {
        use crate::chat::conversation::Reasoning;
        let mut c = Conversation::new("deepseek-reasoner", Mode::Chat, Memory::Full);
        c.push(Speaker::User, "2+2?");
        let r = c.push_reply(&Params::default(), "deepseek-reasoner");
        {
            let m = c.get_mut(r).unwrap();
            m.choice_mut(0).text = "4".into();
            m.choice_mut(0).reasoning = Some(Reasoning {
                text: "Two and two.\n\nThat makes four.".into(),
                millis: Some(4100),
                open: false,
            });
            m.status = Status::Complete;
            m.usage = Some(Usage {
                prompt_tokens: 10,
                completion_tokens: 320,
                total_tokens: 330,
                reasoning_tokens: Some(312),
                cached_tokens: Some(8),
            });
        }
        let md = to_markdown(&c);
        assert!(
            md.contains(
                "> **Thinking** (312 tokens, 4.1 s)\n>\n> Two and two.\n>\n> That makes four.\n\n4\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("*Usage: 10 prompt + 320 completion = 330 tokens (8 prompt tokens cached, 312 reasoning)*"),
            "{md}"
        );
    }

    #[test]
    fn hostile_text_cannot_drive_the_terminal() {
        let mut c = Conversation::new("m\x1b[2J", Mode::Chat, Memory::Full);
        c.push(
            Speaker::User,
            "hi\x1b]0;pwned\x07 \r\u{9b}31m \u{7f} \u{202e}rtl\u{200b}",
        );
        let r = c.push_reply(&Params::default(), "m");
        c.get_mut(r).unwrap().choice_mut(0).text = "\x1b[31mred\x1b[0m\tok\n".into();
        c.get_mut(r).unwrap().status = Status::Failed {
            error: "bad\x1bc".into(),
        };
        let md = to_markdown(&c);
        assert!(!md.contains('\x1b'));
        assert!(
            !md.chars()
                .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
        );
        assert!(md.contains("␛[31mred␛[0m\tok"));
        assert!(md.contains("␇"));
        assert!(md.contains("␍"));
        assert!(md.contains("⍰31m"));
        assert!(md.contains("␡"));
        // The screen's rules for what hides or reorders text apply to the file too.
        assert!(md.contains("⇆rtl⎵"));
    }
}
