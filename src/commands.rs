//! `/commands` typed in the input: parsing, completion, and "did you mean".

use std::path::{Path, PathBuf};

use crate::api::types::Mode;
use crate::chat::conversation::Memory;

/// A parsed command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Set(String, String),
    Unset(String),
    /// `None`: pick from the server's list.
    Model(Option<String>),
    Mode(Mode),
    Memory(Memory),
    /// `None` clears it.
    System(Option<String>),
    /// Completion mode: `TEXT [insert] TEXT`.
    Insert(String),
    /// A new version of the reply; `--model NAME` asks another model (`PROFILE:MODEL` for
    /// another profile).
    Retry(Option<String>),
    /// Ask each model (`MODEL` or `PROFILE:MODEL`) the same question: a version each.
    Compare(Vec<String>),
    /// Put the last question in the input; sending it starts a new branch.
    Edit,
    /// List the conversation's branches.
    Branches,
    Continue,
    New,
    Help,
    Quit,
    Save(PathBuf),
    /// Markdown of the current path, or (`--all-branches`) of every branch.
    Export {
        path: PathBuf,
        all_branches: bool,
    },
    Open(PathBuf),
    Sessions,
    Rename(String),
    /// `/local [start|stop|restart|status]`: the built-in local model.
    Local(LocalArg),
    /// `/copy [N|all|last-question]`.
    Copy(CopyWhat),
    /// Edit the draft in `$VISUAL` / `$EDITOR`.
    Editor,
    /// `/request`: the inspector.
    Request,
    /// `/logprobs`: the token view; `/logprobs color`: the tint on or off.
    Logprobs {
        tint: bool,
    },
}

/// What `/local` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalArg {
    Start,
    Stop,
    Restart,
    Status,
}

/// What `/copy` copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyWhat {
    /// The selected choice of the last reply (its Markdown source).
    Reply,
    /// Code block N of the conversation (from 1), without its fences.
    Block(usize),
    /// The whole conversation as Markdown (the exporter's).
    All,
    /// The last question asked.
    LastQuestion,
    /// The selected reply's request as a runnable curl command (the key as `$OPENAI_API_KEY`).
    Curl,
    /// The selected reply's request body, as sent.
    Request,
    /// The selected reply's raw response (events as received, or the body).
    Response,
}

/// The words `/copy` takes (besides a block number), for completion and errors.
pub const COPY_WORDS: &[&str] = &["all", "last-question", "curl", "request", "response"];

impl CopyWhat {
    /// Parse `/copy`'s argument: nothing, a block number, or one of [`COPY_WORDS`].
    pub fn parse(arg: &str) -> Result<CopyWhat, String> {
        let arg = arg.trim();
        if arg.is_empty() {
            return Ok(CopyWhat::Reply);
        }
        if let Ok(n) = arg.trim_start_matches('#').parse::<usize>() {
            return if n == 0 {
                Err("/copy N: code blocks are numbered from 1 (see the [N] labels)".into())
            } else {
                Ok(CopyWhat::Block(n))
            };
        }
        match arg.to_ascii_lowercase().as_str() {
            "all" => Ok(CopyWhat::All),
            "last-question" | "last_question" | "question" => Ok(CopyWhat::LastQuestion),
            "curl" => Ok(CopyWhat::Curl),
            "request" | "body" => Ok(CopyWhat::Request),
            "response" => Ok(CopyWhat::Response),
            other => Err(format!(
                "/copy {other}: expected a code block number or one of: {} (nothing: the last reply)",
                COPY_WORDS.join(", ")
            )),
        }
    }
}

/// Every command with its argument form and what it does (for help and completion).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "/set",
        "NAME VALUE",
        "set a parameter (temperature, max_tokens, n, stop, ... or any extra field)",
    ),
    (
        "/unset",
        "NAME",
        "unset a parameter so the server's default applies",
    ),
    (
        "/model",
        "[NAME]",
        "switch model; with no name, pick from the server's list",
    ),
    (
        "/mode",
        "chat|completion",
        "the endpoint: /chat/completions or the legacy /completions",
    ),
    (
        "/memory",
        "none|last N|full|summarize",
        "how much history each request carries",
    ),
    (
        "/system",
        "[TEXT]",
        "set (or with no text, clear) the system prompt",
    ),
    (
        "/insert",
        "TEXT [insert] TEXT",
        "completion mode: the reply is inserted at [insert] (suffix)",
    ),
    (
        "/retry",
        "",
        "a new version of the reply (the selected one, or the last), the earlier kept; --model NAME asks another model",
    ),
    (
        "/compare",
        "MODEL [MODEL…]",
        "ask each model (or PROFILE:MODEL) the same question: a version each, side by side",
    ),
    (
        "/edit",
        "",
        "edit the last question; sending it starts a new branch (the old one is kept)",
    ),
    (
        "/branches",
        "",
        "list the conversation's branches and open one",
    ),
    (
        "/continue",
        "",
        "ask for more after a reply cut off by max_tokens",
    ),
    ("/new", "", "start a new conversation"),
    (
        "/save",
        "PATH",
        "save the conversation to PATH (.md exports Markdown) and keep saving there",
    ),
    (
        "/export",
        "[--all-branches] PATH",
        "write the conversation (the branch shown, or every branch) as Markdown to PATH",
    ),
    ("/open", "PATH", "open a saved transcript"),
    ("/sessions", "", "browse saved conversations"),
    ("/rename", "TITLE", "rename this conversation"),
    (
        "/local",
        "[stop|restart|status]",
        "download (once) and start a small local model (llama.cpp + SmolLM2-135M); stop it",
    ),
    (
        "/copy",
        "[N|all|last-question|curl|request|response]",
        "copy the last reply (Markdown), code block N, the conversation, the last question, or the selected reply's request (as curl, its body) or raw response",
    ),
    (
        "/request",
        "",
        "inspect the selected reply's request and response, and the next request (F3)",
    ),
    (
        "/logprobs",
        "[color]",
        "the selected reply's tokens with their probabilities and alternatives (Enter continues from one); color: tint replies' tokens by probability",
    ),
    ("/editor", "", "write the message in $VISUAL or $EDITOR"),
    ("/help", "", "every key and command"),
    ("/quit", "", "quit"),
];

/// Parse a line starting with `/`. `home` expands a leading `~/` in paths.
pub fn parse(line: &str, home: Option<&Path>) -> Result<Command, String> {
    let line = line.trim();
    let (name, rest) = match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    };
    let need = |what: &str| -> Result<String, String> {
        if rest.is_empty() {
            Err(format!("{name} needs {what}"))
        } else {
            Ok(rest.to_string())
        }
    };
    let path = |p: String| expand_tilde(&p, home);
    match name {
        "/set" => {
            let (k, v) = rest
                .split_once(char::is_whitespace)
                .map(|(k, v)| (k.trim(), v.trim()))
                .unwrap_or((rest, ""));
            if k.is_empty() || v.is_empty() {
                return Err("/set NAME VALUE (e.g. /set temperature 0.7)".into());
            }
            Ok(Command::Set(k.to_string(), v.to_string()))
        }
        "/unset" => Ok(Command::Unset(need("a parameter name")?)),
        "/model" => Ok(Command::Model((!rest.is_empty()).then(|| rest.to_string()))),
        "/mode" => Ok(Command::Mode(need("chat or completion")?.parse()?)),
        "/memory" => Ok(Command::Memory(
            need("none, last N, full or summarize")?.parse()?,
        )),
        "/system" => Ok(Command::System(
            (!rest.is_empty()).then(|| rest.to_string()),
        )),
        "/insert" => Ok(Command::Insert(need("TEXT [insert] TEXT")?)),
        "/retry" => {
            let mut words = rest.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (None, _, _) => Ok(Command::Retry(None)),
                (Some("--model" | "-m"), Some(m), None) => Ok(Command::Retry(Some(m.to_string()))),
                (Some(w), _, _) if w.starts_with("--model=") && w.len() > 8 => {
                    Ok(Command::Retry(Some(w[8..].to_string())))
                }
                _ => Err("/retry [--model NAME] (NAME: a model, or PROFILE:MODEL)".into()),
            }
        }
        "/compare" => {
            let models: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
            if models.is_empty() {
                return Err(
                    "/compare MODEL [MODEL…] (models of this server, or PROFILE:MODEL)".into(),
                );
            }
            Ok(Command::Compare(models))
        }
        "/edit" => Ok(Command::Edit),
        "/branches" => Ok(Command::Branches),
        "/continue" => Ok(Command::Continue),
        "/new" => Ok(Command::New),
        "/help" | "/?" => Ok(Command::Help),
        "/quit" | "/exit" | "/q" => Ok(Command::Quit),
        "/save" => Ok(Command::Save(path(need("a path")?))),
        "/export" => {
            let (all_branches, p) = match rest.strip_prefix("--all-branches") {
                Some(p) if p.is_empty() || p.starts_with(char::is_whitespace) => (true, p.trim()),
                _ => (false, rest),
            };
            if p.is_empty() {
                return Err(format!("{name} needs a path ([--all-branches] PATH)"));
            }
            Ok(Command::Export {
                path: path(p.to_string()),
                all_branches,
            })
        }
        "/open" => Ok(Command::Open(path(need("a path")?))),
        "/sessions" => Ok(Command::Sessions),
        "/rename" => Ok(Command::Rename(need("a title")?)),
        "/local" => Ok(Command::Local(match rest {
            "" | "start" => LocalArg::Start,
            "stop" => LocalArg::Stop,
            "restart" => LocalArg::Restart,
            "status" => LocalArg::Status,
            other => {
                return Err(format!(
                    "/local {other}: expected start, stop, restart or status"
                ));
            }
        })),
        "/copy" => Ok(Command::Copy(CopyWhat::parse(rest)?)),
        "/editor" => Ok(Command::Editor),
        "/request" | "/inspect" => Ok(Command::Request),
        "/logprobs" => match rest {
            "" => Ok(Command::Logprobs { tint: false }),
            "color" | "colour" | "tint" => Ok(Command::Logprobs { tint: true }),
            other => Err(format!(
                "/logprobs {other}: expected nothing (the token view) or color (the tint)"
            )),
        },
        other => Err(match nearest(other) {
            Some(n) => format!("unknown command {other} — did you mean {n}? (/help lists them)"),
            None => format!(
                "unknown command {other} (/help lists them; //text sends a message starting with /)"
            ),
        }),
    }
}

fn expand_tilde(p: &str, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(p),
    }
}

/// Completions for a partial command line.
pub fn complete(partial: &str) -> Vec<String> {
    let p = partial.trim_start();
    if let Some((cmd, arg)) = p.split_once(' ') {
        let options: &[&str] = match cmd {
            "/set" | "/unset" => crate::api::types::PARAM_NAMES,
            "/mode" => &["chat", "completion"],
            "/memory" => &["none", "last ", "full", "summarize"],
            "/local" => &["start", "stop", "restart", "status"],
            "/copy" => COPY_WORDS,
            "/logprobs" => &["color"],
            _ => &[],
        };
        return options
            .iter()
            .filter(|o| o.starts_with(arg.trim_start()))
            .map(|o| format!("{cmd} {o}{}", if o.ends_with(' ') { "" } else { " " }))
            .map(|s| {
                if ["/mode", "/memory", "/unset", "/local", "/copy", "/logprobs"].contains(&cmd) {
                    s.trim_end().to_string()
                } else {
                    s
                }
            })
            .collect();
    }
    COMMANDS
        .iter()
        .filter(|(name, _, _)| name.starts_with(p))
        .map(|(name, args, _)| {
            if args.is_empty() {
                name.to_string()
            } else {
                format!("{name} ")
            }
        })
        .collect()
}

/// The longest common prefix of `items`.
pub fn common_prefix(items: &[String]) -> String {
    let Some(first) = items.first() else {
        return String::new();
    };
    let mut len = first.len();
    for s in &items[1..] {
        len = len.min(
            first
                .char_indices()
                .zip(s.chars())
                .take_while(|((_, a), b)| a == b)
                .map(|((i, a), _)| i + a.len_utf8())
                .last()
                .unwrap_or(0),
        );
    }
    first[..len].to_string()
}

/// The known command closest to `name` (edit distance ≤ 3).
pub fn nearest(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|(n, _, _)| (*n, distance(name, n)))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(n, _)| n)
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse("/set temperature 0.7", None),
            Ok(Command::Set("temperature".into(), "0.7".into()))
        );
        assert_eq!(
            parse("/set stop [\"a\", \"b\"]", None),
            Ok(Command::Set("stop".into(), "[\"a\", \"b\"]".into()))
        );
        assert_eq!(
            parse("/memory last 3", None),
            Ok(Command::Memory(Memory::Last(3)))
        );
        assert_eq!(
            parse("/mode completion", None),
            Ok(Command::Mode(Mode::Completion))
        );
        assert_eq!(parse("/model", None), Ok(Command::Model(None)));
        assert_eq!(parse("/system", None), Ok(Command::System(None)));
        assert_eq!(parse("/local", None), Ok(Command::Local(LocalArg::Start)));
        assert_eq!(
            parse("/local stop", None),
            Ok(Command::Local(LocalArg::Stop))
        );
        assert!(parse("/local banana", None).is_err());
        assert_eq!(
            complete("/local st"),
            vec!["/local start", "/local stop", "/local status"]
        );
        assert!(parse("/set temperature", None).is_err());
        assert!(
            parse("/mode banana", None)
                .unwrap_err()
                .contains("unknown mode")
        );
    }

    #[test]
    fn a_leading_tilde_is_the_home_folder() {
        let home = Path::new("/home/someone");
        assert_eq!(
            parse("/save ~/chats/a.json", Some(home)),
            Ok(Command::Save(PathBuf::from("/home/someone/chats/a.json")))
        );
        assert_eq!(
            parse("/save ~/a.json", None),
            Ok(Command::Save(PathBuf::from("~/a.json")))
        );
    }

    #[test]
    fn unknown_commands_suggest_the_nearest() {
        let e = parse("/retyr", None).unwrap_err();
        assert!(e.contains("did you mean /retry"), "{e}");
        let e = parse("/xyzzyplugh", None).unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn versions_and_branches_commands() {
        assert_eq!(parse("/retry", None), Ok(Command::Retry(None)));
        assert_eq!(
            parse("/retry --model gpt-4o", None),
            Ok(Command::Retry(Some("gpt-4o".into())))
        );
        assert_eq!(
            parse("/retry --model=ollama:llama3:8b", None),
            Ok(Command::Retry(Some("ollama:llama3:8b".into())))
        );
        assert!(parse("/retry gpt-4o", None).is_err());
        assert!(parse("/retry --model", None).is_err());
        assert_eq!(
            parse("/compare a  b:c", None),
            Ok(Command::Compare(vec!["a".into(), "b:c".into()]))
        );
        assert!(parse("/compare", None).unwrap_err().contains("MODEL"));
        assert_eq!(parse("/edit", None), Ok(Command::Edit));
        assert_eq!(parse("/branches", None), Ok(Command::Branches));
        assert_eq!(
            parse("/export --all-branches out.md", None),
            Ok(Command::Export {
                path: PathBuf::from("out.md"),
                all_branches: true
            })
        );
        assert_eq!(
            parse("/export --all-branchesX.md", None),
            Ok(Command::Export {
                path: PathBuf::from("--all-branchesX.md"),
                all_branches: false
            })
        );
        assert!(parse("/export --all-branches", None).is_err());
    }

    #[test]
    fn completes() {
        assert_eq!(complete("/ret"), vec!["/retry"]);
        assert_eq!(complete("/se"), vec!["/set ", "/sessions"]);
        assert_eq!(common_prefix(&complete("/se")), "/se");
        assert_eq!(complete("/set temp"), vec!["/set temperature "]);
        assert_eq!(complete("/mode c"), vec!["/mode chat", "/mode completion"]);
        assert_eq!(complete("/cop"), vec!["/copy "]);
        assert_eq!(
            complete("/copy "),
            vec![
                "/copy all",
                "/copy last-question",
                "/copy curl",
                "/copy request",
                "/copy response"
            ]
        );
        assert_eq!(complete("/copy l"), vec!["/copy last-question"]);
        assert_eq!(complete("/copy c"), vec!["/copy curl"]);
        assert_eq!(complete("/req"), vec!["/request"]);
        assert_eq!(parse("/copy curl", None), Ok(Command::Copy(CopyWhat::Curl)));
        assert_eq!(
            parse("/copy request", None),
            Ok(Command::Copy(CopyWhat::Request))
        );
        assert_eq!(
            parse("/copy response", None),
            Ok(Command::Copy(CopyWhat::Response))
        );
        assert_eq!(parse("/request", None), Ok(Command::Request));
    }

    #[test]
    fn copy_takes_a_number_or_a_word() {
        assert_eq!(parse("/copy", None), Ok(Command::Copy(CopyWhat::Reply)));
        assert_eq!(
            parse("/copy 3", None),
            Ok(Command::Copy(CopyWhat::Block(3)))
        );
        assert_eq!(
            parse("/copy #2", None),
            Ok(Command::Copy(CopyWhat::Block(2)))
        );
        assert_eq!(parse("/copy all", None), Ok(Command::Copy(CopyWhat::All)));
        assert_eq!(
            parse("/copy last-question", None),
            Ok(Command::Copy(CopyWhat::LastQuestion))
        );
        let e = parse("/copy 0", None).unwrap_err();
        assert!(e.contains("numbered from 1"), "{e}");
        let e = parse("/copy banana", None).unwrap_err();
        assert!(e.contains("all, last-question"), "{e}");
    }
}
