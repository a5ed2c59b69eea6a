//! Code blocks across a conversation: block N is the Nth code block drawn on screen,
//! counting the messages shown as Markdown (replies and summaries) in order. The screen
//! labels each block `[N]` by the same rule; `/copy N` finds it here.

use crate::chat::conversation::{Message, MessageId, Speaker};
use crate::text::code_blocks::{self, CodeBlock};

/// Whether `m` is drawn as Markdown (its fenced code is drawn, and numbered, as code).
/// Questions and system prompts are shown as typed.
pub fn is_markdown(m: &Message) -> bool {
    matches!(m.speaker, Speaker::Assistant | Speaker::Summary)
}

/// How many code blocks message `m` draws.
pub fn count_in(m: &Message) -> usize {
    if is_markdown(m) {
        code_blocks::count(m.text())
    } else {
        0
    }
}

/// The code blocks of message `m`, in order.
pub fn blocks_in(m: &Message) -> Vec<CodeBlock> {
    if is_markdown(m) {
        code_blocks::code_blocks(m.text())
    } else {
        Vec::new()
    }
}

/// Code block `n` (from 1) of the conversation, and the message holding it.
pub fn find(messages: &[Message], n: usize) -> Option<(MessageId, CodeBlock)> {
    let mut before = 0;
    for m in messages {
        let here = count_in(m);
        if n > before && n <= before + here {
            let block = blocks_in(m).into_iter().nth(n - before - 1)?;
            return Some((m.id, block));
        }
        before += here;
    }
    None
}

/// How many code blocks the conversation draws.
pub fn total(messages: &[Message]) -> usize {
    messages.iter().map(count_in).sum()
}

/// The number (from 1) of the first code block of message `id`, if it has any.
pub fn first_number_in(messages: &[Message], id: MessageId) -> Option<usize> {
    let mut before = 0;
    for m in messages {
        let here = count_in(m);
        if m.id == id {
            return (here > 0).then_some(before + 1);
        }
        before += here;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::conversation::Choice;

    fn reply(id: MessageId, text: &str) -> Message {
        let mut m = Message::new(id, Speaker::Assistant, "");
        m.choices = vec![Choice {
            text: text.into(),
            finish_reason: None,
            ..Choice::default()
        }];
        m
    }

    #[test]
    fn blocks_are_numbered_across_replies_but_not_questions() {
        let msgs = vec![
            Message::new(1, Speaker::User, "```\nnot drawn as code\n```"),
            reply(2, "```\none\n```\n\n```\ntwo\n```"),
            Message::new(3, Speaker::User, "next"),
            reply(4, "text\n\n```py\nthree\n```"),
        ];
        assert_eq!(total(&msgs), 3);
        let (id, b) = find(&msgs, 3).unwrap();
        assert_eq!((id, b.body.as_str(), b.lang.as_str()), (4, "three", "py"));
        assert_eq!(find(&msgs, 1).unwrap().1.body, "one");
        assert!(find(&msgs, 0).is_none());
        assert!(find(&msgs, 4).is_none());
        assert_eq!(first_number_in(&msgs, 4), Some(3));
        assert_eq!(first_number_in(&msgs, 3), None);
    }

    #[test]
    fn the_selected_choice_is_the_one_counted() {
        let mut m = reply(1, "no code");
        m.choices.push(Choice {
            text: "```\nx\n```".into(),
            finish_reason: None,
            ..Choice::default()
        });
        assert_eq!(count_in(&m), 0);
        m.selected = 1;
        assert_eq!(count_in(&m), 1);
    }
}
