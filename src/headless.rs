//! `chat-tui -p TEXT`: one prompt, the reply streamed to stdout, finish_reason and usage on stderr.

use std::io::{IsTerminal, Read, Write};

use crate::api::client::Client;
use crate::api::types::{
    FinishReason, Mode, Prompt, Request, Role, StreamEvent, Usage, WireMessage,
};
use crate::config::Settings;
use crate::text::sanitize;

/// Exit statuses.
pub const EXIT_OK: u8 = 0;
pub const EXIT_API: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INTERRUPTED: u8 = 130;

/// The prompt text: `-` reads standard input.
pub fn read_prompt(arg: &str) -> Result<String, String> {
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the prompt from standard input: {e}"))?;
        Ok(s)
    } else {
        Ok(arg.to_string())
    }
}

/// The request for a one-shot prompt.
pub fn request(settings: &Settings, text: &str) -> Request {
    let prompt = match settings.mode {
        Mode::Chat => {
            let mut m = Vec::new();
            if let Some(s) = settings.system.as_deref().filter(|s| !s.trim().is_empty()) {
                m.push(WireMessage::new(Role::System, s));
            }
            m.push(WireMessage::new(Role::User, text));
            Prompt::Chat(m)
        }
        // The tutorial's way: the prompt exactly as given (a system prompt goes first).
        Mode::Completion => Prompt::Completion(match settings.system.as_deref() {
            Some(s) if !s.trim().is_empty() => format!("{}\n\n{text}", s.trim_end()),
            _ => text.to_string(),
        }),
    };
    Request {
        model: settings.model.clone(),
        prompt,
        params: settings.params.clone(),
        stream: settings.stream,
        // Reasoning models get max_completion_tokens and no sampling parameters.
        shape: crate::chat::capabilities::known_shape(&settings.model, settings.mode),
    }
}

/// Writes the reply as it arrives. With one choice the text streams straight through;
/// with several, each choice is printed whole, labelled, as soon as it finishes.
struct Printer<W: Write> {
    out: W,
    sanitize: bool,
    n: usize,
    texts: Vec<String>,
    printed: Vec<bool>,
    reasons: Vec<Option<FinishReason>>,
    usage: Option<Usage>,
    ends_with_newline: bool,
    wrote_any: bool,
}

impl<W: Write> Printer<W> {
    fn new(out: W, n: usize, sanitize: bool) -> Self {
        Self {
            out,
            sanitize,
            n,
            texts: Vec::new(),
            printed: Vec::new(),
            reasons: Vec::new(),
            usage: None,
            ends_with_newline: true,
            wrote_any: false,
        }
    }

    fn slot(&mut self, index: usize) {
        if self.texts.len() <= index {
            self.texts.resize(index + 1, String::new());
            self.printed.resize(index + 1, false);
            self.reasons.resize(index + 1, None);
        }
    }

    fn write(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        let s = if self.sanitize { sanitize(s) } else { s.into() };
        // A closed stdout (e.g. `| head`) is not worth failing over.
        let _ = self.out.write_all(s.as_bytes());
        let _ = self.out.flush();
        self.ends_with_newline = s.ends_with('\n');
        self.wrote_any = true;
    }

    fn event(&mut self, ev: StreamEvent) {
        match ev {
            StreamEvent::Delta { index, text } => {
                let i = index as usize;
                self.slot(i);
                if self.n == 1 && i == 0 {
                    self.write(&text);
                } else {
                    self.texts[i].push_str(&text);
                }
            }
            StreamEvent::Finish { index, reason } => {
                let i = index as usize;
                self.slot(i);
                self.reasons[i] = Some(reason);
                if self.n > 1 || i > 0 {
                    // Print finished choices in order, each as soon as all before it are out.
                    let mut k = self.printed.iter().take_while(|p| **p).count();
                    while k < self.texts.len() && self.reasons[k].is_some() {
                        self.print_choice(k);
                        k += 1;
                    }
                }
            }
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Adapted {
                model,
                adaptation,
                message,
            } => {
                // stderr, like the other notes: stdout is the reply alone.
                eprintln!(
                    "chat-tui: note: {} ({model} refused it: {}) — sent again",
                    adaptation.describe(),
                    sanitize(&message)
                );
            }
            // The reply alone goes to stdout; reasoning and log probabilities are the
            // full-screen app's.
            StreamEvent::Model(_)
            | StreamEvent::Reasoning { .. }
            | StreamEvent::Logprobs { .. } => {}
        }
    }

    fn print_choice(&mut self, i: usize) {
        if self.printed.get(i).copied().unwrap_or(true) {
            return;
        }
        self.printed[i] = true;
        if !self.ends_with_newline {
            self.write("\n");
        }
        let text = std::mem::take(&mut self.texts[i]);
        self.write(&format!("[choice {}]\n", i + 1));
        self.write(&text);
        if !text.ends_with('\n') {
            self.write("\n");
        }
    }

    /// Print what is left (choices that never finished).
    fn flush_rest(&mut self) {
        for i in 0..self.texts.len() {
            if self.n > 1 || i > 0 {
                self.print_choice(i);
            }
        }
        if self.wrote_any && !self.ends_with_newline {
            self.write("\n");
        }
    }

    fn finish_line(&self) -> String {
        let reason = |r: &Option<FinishReason>| {
            r.as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "none".into())
        };
        if self.reasons.len() <= 1 && self.n <= 1 {
            format!(
                "finish_reason: {}",
                reason(self.reasons.first().unwrap_or(&None))
            )
        } else {
            let parts: Vec<String> = self
                .reasons
                .iter()
                .enumerate()
                .map(|(i, r)| format!("[{}] {}", i + 1, reason(r)))
                .collect();
            format!("finish_reason: {}", parts.join(" "))
        }
    }

    fn usage_line(&self) -> String {
        match self.usage {
            Some(u) => {
                let mut line = format!(
                    "usage: prompt_tokens={} completion_tokens={} total_tokens={}",
                    u.prompt_tokens, u.completion_tokens, u.total_tokens
                );
                if let Some(r) = u.reasoning_tokens {
                    line.push_str(&format!(" reasoning_tokens={r}"));
                }
                if let Some(c) = u.cached_tokens {
                    line.push_str(&format!(" cached_tokens={c}"));
                }
                line
            }
            None => "usage: not reported".into(),
        }
    }
}

/// Run one prompt. Returns the process exit status.
pub async fn run(mut settings: Settings, text: String) -> u8 {
    let req = request(&settings, &text);
    if let Err(e) = req.params.validate(req.mode()) {
        eprintln!("chat-tui: {e}");
        return EXIT_USAGE;
    }
    let cfg = match settings.client_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chat-tui: {e}");
            return EXIT_USAGE;
        }
    };
    let client = match Client::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chat-tui: {e}");
            return EXIT_API;
        }
    };
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let mut printer = Printer::new(stdout, req.params.choices() as usize, tty);
    let result = {
        let mut sink = |ev: StreamEvent| printer.event(ev);
        tokio::select! {
            r = client.send(&req, &mut sink) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    printer.flush_rest();
    let status = match result {
        None => {
            eprintln!("chat-tui: cancelled");
            EXIT_INTERRUPTED
        }
        Some(Ok(outcome)) => {
            for w in &outcome.warnings {
                eprintln!("warning: {w}");
            }
            EXIT_OK
        }
        Some(Err(e)) => {
            eprintln!("{}", printer.finish_line());
            eprintln!("error: {e}");
            return EXIT_API;
        }
    };
    eprintln!("{}", printer.finish_line());
    eprintln!("{}", printer.usage_line());
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(p: &mut Printer<&mut Vec<u8>>, evs: Vec<StreamEvent>) {
        for e in evs {
            p.event(e);
        }
        p.flush_rest();
    }

    #[test]
    fn one_choice_streams_through() {
        let mut buf = Vec::new();
        let mut p = Printer::new(&mut buf, 1, false);
        events(
            &mut p,
            vec![
                StreamEvent::Delta {
                    index: 0,
                    text: "你".into(),
                },
                StreamEvent::Delta {
                    index: 0,
                    text: "好".into(),
                },
                StreamEvent::Finish {
                    index: 0,
                    reason: FinishReason::Stop,
                },
            ],
        );
        assert_eq!(p.finish_line(), "finish_reason: stop");
        assert_eq!(p.usage_line(), "usage: not reported");
        assert_eq!(String::from_utf8(buf).unwrap(), "你好\n");
    }

    #[test]
    fn choices_are_labelled_blocks() {
        let mut buf = Vec::new();
        let mut p = Printer::new(&mut buf, 2, false);
        events(
            &mut p,
            vec![
                StreamEvent::Delta {
                    index: 0,
                    text: "a".into(),
                },
                StreamEvent::Delta {
                    index: 1,
                    text: "b".into(),
                },
                StreamEvent::Delta {
                    index: 0,
                    text: "c".into(),
                },
                StreamEvent::Finish {
                    index: 1,
                    reason: FinishReason::Length,
                },
                StreamEvent::Finish {
                    index: 0,
                    reason: FinishReason::Stop,
                },
                StreamEvent::Usage(Usage {
                    prompt_tokens: 1,
                    completion_tokens: 2,
                    total_tokens: 3,
                    ..Usage::default()
                }),
            ],
        );
        assert_eq!(p.finish_line(), "finish_reason: [1] stop [2] length");
        assert_eq!(
            p.usage_line(),
            "usage: prompt_tokens=1 completion_tokens=2 total_tokens=3"
        );
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "[choice 1]\nac\n[choice 2]\nb\n"
        );
    }

    #[test]
    fn terminals_get_no_escape_sequences() {
        let mut buf = Vec::new();
        let mut p = Printer::new(&mut buf, 1, true);
        events(
            &mut p,
            vec![StreamEvent::Delta {
                index: 0,
                text: "x\x1b[2Jy".into(),
            }],
        );
        assert!(!buf.contains(&0x1b));
    }
}
