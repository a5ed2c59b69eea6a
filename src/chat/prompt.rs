//! Completion-mode prompts: the conversation as one speaker-labelled text.

use crate::api::types::Params;
use crate::chat::conversation::{Message, Speaker};

/// The label of the user's turns in a completion prompt.
pub const USER_LABEL: &str = "User:";
/// The label of the model's turns.
pub const ASSISTANT_LABEL: &str = "Assistant:";
/// How a summary is introduced to the model.
pub const SUMMARY_PREFIX: &str = "Summary of the earlier conversation: ";
/// The stop sequence that ends the model's turn at the next user label.
pub const TURN_STOP: &str = "\nUser:";

/// `User: ...\nAssistant: ...` for `messages`; with `open_reply`, ends with `Assistant:` for
/// the model to continue.
pub fn transcript(
    system: Option<&str>,
    summary: Option<&str>,
    messages: &[&Message],
    open_reply: bool,
) -> String {
    let mut out = String::new();
    if let Some(s) = system {
        out.push_str(s.trim_end());
        out.push_str("\n\n");
    }
    if let Some(s) = summary {
        out.push_str(SUMMARY_PREFIX);
        out.push_str(s.trim());
        out.push_str("\n\n");
    }
    for m in messages {
        let label = match m.speaker {
            Speaker::User => USER_LABEL,
            Speaker::Assistant => ASSISTANT_LABEL,
            Speaker::System | Speaker::Summary => continue,
        };
        out.push_str(label);
        out.push(' ');
        out.push_str(m.text().trim());
        out.push('\n');
    }
    if open_reply {
        out.push_str(ASSISTANT_LABEL);
    } else if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Completion-mode parameters: the user's, plus a stop at the next user label when there
/// is room (the API takes at most four).
pub fn with_turn_stop(params: &Params) -> Params {
    let mut p = params.clone();
    if p.suffix.is_none() && p.stop.len() < 4 && !p.stop.iter().any(|s| s == TURN_STOP) {
        p.stop.insert(0, TURN_STOP.to_string());
    }
    p
}

/// Split a draft at the `[insert]` marker: (prompt, suffix).
pub fn split_insert(draft: &str) -> Option<(String, String)> {
    let (a, b) = draft.split_once("[insert]")?;
    Some((a.to_string(), b.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_stop_is_added_only_with_room() {
        let mut p = Params::default();
        assert_eq!(with_turn_stop(&p).stop, vec![TURN_STOP]);
        p.stop = vec!["a".into(), "b".into(), "c".into(), "d".into()];
        assert_eq!(with_turn_stop(&p).stop.len(), 4);
        p.stop = vec!["a".into()];
        assert_eq!(
            with_turn_stop(&p).stop,
            vec![TURN_STOP.to_string(), "a".into()]
        );
        p.suffix = Some("x".into());
        assert_eq!(with_turn_stop(&p).stop, vec!["a".to_string()]);
    }

    #[test]
    fn insert_marker_splits() {
        assert_eq!(
            split_insert("我想學[insert]換工作"),
            Some(("我想學".to_string(), "換工作".to_string()))
        );
        assert_eq!(split_insert("no marker"), None);
    }
}
