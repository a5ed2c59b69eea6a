//! What a model accepts: the parameters reasoning models refuse (known in advance), and
//! what servers said they refuse (learnt during the session, per model).
//!
//! Both become a [`Shape`] on the request: the body is adjusted (a field renamed or not
//! sent) without changing the conversation's parameters, so switching back to a model that
//! takes them sends them again.

use std::collections::HashMap;

use crate::api::types::{Adaptation, Mode, Params, Shape};

/// Parameters OpenAI's reasoning models (o1, o3, o4, gpt-5 families) refuse: sampling
/// settings and log probabilities. Source: OpenAI's reasoning guide and the API's errors
/// ("Unsupported parameter" / "Unsupported value: 'temperature' … Only the default (1)
/// value is supported").
pub const REFUSED_BY_REASONING_MODELS: &[&str] = &[
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
];

/// The model name without a provider prefix or fine-tune decoration, lowercased.
fn base_name(model: &str) -> String {
    let m = model.trim().to_ascii_lowercase();
    let m = m.rsplit('/').next().unwrap_or(&m).to_string();
    m.strip_prefix("ft:")
        .map(|r| r.split(':').next().unwrap_or(r).to_string())
        .unwrap_or(m)
}

/// One of OpenAI's reasoning models: `o1`, `o3`, `o4` (and their `-mini`, dated… forms) or
/// `gpt-5` (but not `gpt-5-chat`, which is a plain chat model).
pub fn is_reasoning_model(model: &str) -> bool {
    let n = base_name(model);
    let family = |p: &str| {
        n == p
            || n.strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('-') || rest.starts_with('.'))
    };
    if n.starts_with("gpt-5") {
        return !n.contains("-chat");
    }
    family("o1") || family("o3") || family("o4")
}

/// The adaptations known in advance for `model` in `mode`.
pub fn known_shape(model: &str, mode: Mode) -> Shape {
    let mut shape = Shape::default();
    if is_reasoning_model(model) {
        if mode == Mode::Chat {
            shape.push(Adaptation::Rename {
                from: "max_tokens".into(),
                to: "max_completion_tokens".into(),
            });
        }
        for name in REFUSED_BY_REASONING_MODELS {
            shape.push(Adaptation::Drop {
                name: (*name).into(),
            });
        }
    }
    shape
}

/// What servers said, per model, this session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Learned {
    by_model: HashMap<String, Shape>,
}

impl Learned {
    /// Remember `a` for `model`. False when it was already known.
    pub fn learn(&mut self, model: &str, a: Adaptation) -> bool {
        let shape = self.by_model.entry(model.to_string()).or_default();
        if shape.get(a.param()).is_some() {
            return false;
        }
        shape.push(a);
        true
    }

    /// What was learnt for `model`.
    pub fn get(&self, model: &str) -> Option<&Shape> {
        self.by_model.get(model)
    }
}

/// Everything known about `model`: the known adaptations, then the learnt ones.
pub fn shape_for(model: &str, mode: Mode, learned: &Learned) -> Shape {
    let mut shape = known_shape(model, mode);
    for a in learned.get(model).into_iter().flat_map(|s| &s.adaptations) {
        shape.push(a.clone());
    }
    shape
}

/// How a parameter of the panel goes out under a shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// As it is.
    Sent,
    /// Not at all (the model does not accept it).
    NotSent,
    /// Under another name.
    SentAs(String),
}

/// How parameter `name` (as `/set` names it) goes out. `logprobs` also goes when
/// `top_logprobs` is dropped (they go together).
pub fn support(shape: &Shape, name: &str) -> Support {
    let a = shape.get(name).or_else(|| match name {
        "logprobs" => shape.get("top_logprobs"),
        _ => None,
    });
    match a {
        None => Support::Sent,
        Some(Adaptation::Drop { .. }) => Support::NotSent,
        Some(Adaptation::Rename { to, .. }) => Support::SentAs(to.clone()),
    }
}

/// The adaptations that change a parameter the user set (for the status line): a shape
/// that only touches unset parameters changes nothing worth saying.
pub fn affecting(shape: &Shape, params: &Params) -> Vec<Adaptation> {
    shape
        .adaptations
        .iter()
        .filter(|a| {
            let name = match a.param() {
                "top_logprobs" => "logprobs",
                n => n,
            };
            params.get(name).is_some()
        })
        .cloned()
        .collect()
}

/// "temperature, top_p not sent; max_tokens sent as max_completion_tokens (o3-mini does
/// not support them)".
pub fn note(model: &str, changes: &[Adaptation]) -> Option<String> {
    if changes.is_empty() {
        return None;
    }
    let dropped: Vec<&str> = changes
        .iter()
        .filter_map(|a| match a {
            Adaptation::Drop { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut parts = Vec::new();
    if !dropped.is_empty() {
        parts.push(format!("{} not sent", dropped.join(", ")));
    }
    for a in changes {
        if let Adaptation::Rename { .. } = a {
            parts.push(a.describe());
        }
    }
    Some(format!(
        "{} ({} does not support {})",
        parts.join("; "),
        model,
        if changes.len() == 1 { "it" } else { "them" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_families() {
        for m in [
            "o1",
            "o1-mini",
            "o1-2024-12-17",
            "o3",
            "o3-mini",
            "o4-mini",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5.1",
            "openai/o3-mini",
            "O3-MINI",
        ] {
            assert!(is_reasoning_model(m), "{m}");
        }
        for m in [
            "gpt-4o",
            "gpt-4.1",
            "gpt-5-chat-latest",
            "o10-model",
            "llama3.2",
            "omni",
            "smollm2",
        ] {
            assert!(!is_reasoning_model(m), "{m}");
        }
    }

    #[test]
    fn reasoning_models_get_max_completion_tokens_and_no_sampling() {
        let s = known_shape("o3-mini", Mode::Chat);
        assert_eq!(
            support(&s, "max_tokens"),
            Support::SentAs("max_completion_tokens".into())
        );
        for p in ["temperature", "top_p", "logprobs", "presence_penalty"] {
            assert_eq!(support(&s, p), Support::NotSent, "{p}");
        }
        assert_eq!(support(&s, "seed"), Support::Sent);
        assert!(known_shape("gpt-4o", Mode::Chat).is_empty());
        // The legacy endpoint has no max_completion_tokens.
        assert_eq!(
            support(&known_shape("o1", Mode::Completion), "max_tokens"),
            Support::Sent
        );
    }

    #[test]
    fn learnt_adaptations_are_per_model_and_once() {
        let mut l = Learned::default();
        let a = Adaptation::Drop {
            name: "stop".into(),
        };
        assert!(l.learn("o3", a.clone()));
        assert!(!l.learn("o3", a));
        assert_eq!(
            support(&shape_for("o3", Mode::Chat, &l), "stop"),
            Support::NotSent
        );
        assert_eq!(
            support(&shape_for("gpt-4o", Mode::Chat, &l), "stop"),
            Support::Sent
        );
        // top_logprobs dropped: logprobs goes with it.
        l.learn(
            "local",
            Adaptation::Drop {
                name: "top_logprobs".into(),
            },
        );
        assert_eq!(
            support(&shape_for("local", Mode::Chat, &l), "logprobs"),
            Support::NotSent
        );
    }

    #[test]
    fn the_note_names_only_what_the_user_set() {
        let mut p = Params::default();
        p.set("temperature", "0.2").unwrap();
        p.set("max_tokens", "100").unwrap();
        let s = known_shape("o3-mini", Mode::Chat);
        let changes = affecting(&s, &p);
        assert_eq!(
            note("o3-mini", &changes).unwrap(),
            "temperature not sent; max_tokens sent as max_completion_tokens (o3-mini does not support them)"
        );
        assert_eq!(note("o3-mini", &affecting(&s, &Params::default())), None);
    }
}
