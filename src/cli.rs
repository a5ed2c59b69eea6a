//! The command line. Every parameter flag is shared by the TUI and headless mode.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::api::types::{Mode, Params};
use crate::chat::conversation::Memory;
use crate::config::{FileTimeouts, Overrides, ThemeChoice};

#[derive(Parser, Debug, Default)]
#[command(
    name = "chat-tui",
    version,
    about = "A full-screen terminal chat client for OpenAI-compatible APIs",
    after_help = "Run without arguments for the full-screen app. Files: see `chat-tui --paths`.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A transcript to reopen.
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,

    /// Reopen a transcript (same as the PATH argument).
    #[arg(long, value_name = "PATH", conflicts_with = "path")]
    pub open: Option<PathBuf>,

    /// Reopen the most recent conversation.
    #[arg(long, conflicts_with_all = ["path", "open"])]
    pub resume: bool,

    /// Headless: send one prompt, stream the reply to stdout, then exit (`-` reads stdin).
    #[arg(short = 'p', long = "prompt", value_name = "TEXT")]
    pub prompt: Option<String>,

    /// Print where chat-tui keeps its files, then exit.
    #[arg(long)]
    pub paths: bool,

    /// Print a commented example configuration, then exit.
    #[arg(long)]
    pub print_config: bool,

    /// Write a diagnostic log to FILE (requests, timings, retries, saves, locks; never
    /// the key). CHAT_TUI_LOG=LEVEL sets its level (debug by default).
    #[arg(long, value_name = "FILE", global = true)]
    pub log: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List saved conversations (id, date, title), newest first.
    List {
        /// Only those whose title or text contains this.
        #[arg(long, short = 's')]
        search: Option<String>,
        /// Show what each conversation cost (from the usage the server reported and the
        /// model's price; `-` when no reply has a price).
        #[arg(long)]
        cost: bool,
    },
    /// The built-in local model: status, stop, path, install, serve, remove.
    Local {
        #[command(subcommand)]
        action: crate::local::cli::LocalCommand,
    },
    /// Write a saved conversation to stdout (Markdown: the branch shown; JSON: the whole
    /// transcript, every branch).
    Export {
        /// Its id (or a unique prefix), or a path.
        id: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
        format: ExportFormat,
        /// Markdown of every branch, each under its own heading.
        #[arg(long)]
        all_branches: bool,
    },
    /// Print a shell completion script (e.g. `chat-tui completions bash > ~/.local/share/bash-completion/completions/chat-tui`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `chat-tui man | man -l -`.
    Man,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    Md,
    Json,
}

/// Flags that set configuration, shared by every mode.
#[derive(Args, Debug, Default, Clone)]
pub struct SettingsArgs {
    /// Read this config file instead of the default one.
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Use a [profiles.NAME] section of the config.
    #[arg(long, value_name = "NAME", global = true)]
    pub profile: Option<String>,
    /// The API's base URL, e.g. http://127.0.0.1:8080/v1.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The model (e.g. gpt-4o-mini; /model in the app lists the server's).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// chat (/chat/completions) or completion (the legacy /completions).
    #[arg(long, value_parser = parse_mode)]
    pub mode: Option<Mode>,
    /// none, "last N", full or summarize.
    #[arg(long, value_parser = parse_memory)]
    pub memory: Option<Memory>,
    /// The system prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Nucleus sampling, 0 to 1.
    #[arg(long)]
    pub top_p: Option<f64>,
    /// Longest reply, in tokens.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Number of choices per reply.
    #[arg(long)]
    pub n: Option<u32>,
    /// A stop sequence (repeat for up to 4).
    #[arg(long, value_name = "TEXT")]
    pub stop: Vec<String>,
    /// Penalise tokens already used, -2 to 2.
    #[arg(long, allow_hyphen_values = true)]
    pub presence_penalty: Option<f64>,
    /// Penalise frequent tokens, -2 to 2.
    #[arg(long, allow_hyphen_values = true)]
    pub frequency_penalty: Option<f64>,
    /// Completion mode: text the reply is inserted before.
    #[arg(long)]
    pub suffix: Option<String>,
    /// Completion mode: generate this many server-side and return the best (not streamed).
    #[arg(long)]
    pub best_of: Option<u32>,
    /// Seed for reproducible sampling (where the server supports it).
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<i64>,
    /// Ask for log probabilities with N alternatives per token (0 to 20).
    #[arg(long, value_name = "N")]
    pub logprobs: Option<u32>,
    /// Any other body field, passed through: NAME=JSON (e.g. top_k=40). Repeatable.
    #[arg(long, value_name = "NAME=JSON")]
    pub extra: Vec<String>,
    /// Wait for whole replies instead of streaming.
    #[arg(long)]
    pub no_stream: bool,
    /// Override the model's context window (tokens).
    #[arg(long)]
    pub context_window: Option<u64>,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,
    /// Seconds to wait for the reply to start.
    #[arg(long, value_name = "SECS")]
    pub first_byte_timeout: Option<f64>,
    /// Seconds to wait between chunks of a reply.
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<f64>,
    /// Chat with a built-in local model: installs llama.cpp's server and SmolLM2-135M
    /// (about 220 MB, once), starts it, and stops it on quit.
    #[arg(long, conflicts_with = "base_url")]
    pub local: bool,
    /// Like --local, serving this GGUF file instead of SmolLM2.
    #[arg(long, value_name = "PATH.gguf", conflicts_with = "base_url")]
    pub local_model: Option<PathBuf>,
    /// Colours: dark, light, or auto (from the terminal's background; dark if it does not say).
    #[arg(long, value_name = "THEME", value_parser = parse_theme)]
    pub theme: Option<ThemeChoice>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn parse_memory(s: &str) -> Result<Memory, String> {
    s.parse()
}

fn parse_theme(s: &str) -> Result<ThemeChoice, String> {
    s.parse()
}

impl SettingsArgs {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> Result<Overrides, String> {
        let mut params = Params {
            temperature: self.temperature,
            top_p: self.top_p,
            max_tokens: self.max_tokens,
            n: self.n,
            stop: self.stop.clone(),
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            suffix: self.suffix.clone(),
            best_of: self.best_of,
            seed: self.seed,
            logprobs: self.logprobs,
            ..Params::default()
        };
        for e in &self.extra {
            let (name, value) = e
                .split_once('=')
                .ok_or_else(|| format!("--extra `{e}`: expected NAME=JSON"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("--extra `{e}`: the name is empty"));
            }
            let v = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
            params.extra.insert(name.to_string(), v);
        }
        Ok(Overrides {
            config: self.config.clone(),
            profile: self.profile.clone(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            mode: self.mode,
            memory: self.memory,
            system: self.system.clone(),
            stream: self.no_stream.then_some(false),
            context_window: self.context_window,
            params,
            timeouts: FileTimeouts {
                connect: self.connect_timeout,
                first_byte: self.first_byte_timeout,
                idle: self.idle_timeout,
            },
            local: self.local,
            local_model: self.local_model.clone(),
            theme: self.theme,
        })
    }
}

/// What to run, from the command line and whether standard input and output are terminals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Run {
    /// The full-screen app.
    App,
    /// Headless: one prompt (`-p TEXT`, or `-p -` / piped: read standard input).
    Headless { from_stdin: bool },
    /// Nothing can run: a one-line reason naming `-p`.
    Refuse(String),
}

/// `echo TEXT | chat-tui` is `chat-tui -p -`. The app needs a terminal on both sides; with
/// none and no prompt, say how to run headless instead of failing on the terminal.
pub fn what_to_run(cli: &Cli, stdin_tty: bool, stdout_tty: bool) -> Run {
    let opens = cli.path.is_some() || cli.open.is_some() || cli.resume;
    if let Some(p) = &cli.prompt {
        return Run::Headless {
            from_stdin: p == "-",
        };
    }
    if !stdin_tty && !opens {
        return Run::Headless { from_stdin: true };
    }
    if !stdout_tty || !stdin_tty {
        let which = if stdout_tty {
            "standard input"
        } else {
            "standard output"
        };
        return Run::Refuse(format!(
            "{which} is not a terminal, so the full-screen app cannot run: give a prompt with -p TEXT (or pipe one in) for headless output"
        ));
    }
    Run::App
}

/// `chat-tui completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<(), String> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "chat-tui", &mut out);
    out.flush()
        .map_err(|e| format!("cannot write the script: {e}"))
}

/// `chat-tui man`: the manual page (roff) on stdout.
pub fn man() -> Result<(), String> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the manual page: {e}"))
}

/// What a saved conversation cost: the sum over its replies with a price (every version and
/// branch: each was a request), and whether some reply with usage had none. `None` when no
/// reply had a price.
pub fn conversation_cost(
    conv: &crate::chat::conversation::Conversation,
    prices: &crate::chat::prices::Prices,
) -> Option<(f64, bool)> {
    let mut total = 0.0;
    let mut priced = false;
    let mut unpriced = false;
    for m in conv.messages.iter().chain(&conv.others) {
        let Some(u) = &m.usage else { continue };
        let model = m.model.as_deref().unwrap_or(&conv.model);
        match prices
            .cost(model, u)
            .or_else(|| prices.cost(&conv.model, u))
        {
            Some(c) => {
                total += c;
                priced = true;
            }
            None => unpriced = true,
        }
    }
    priced.then_some((total, unpriced))
}

/// `chat-tui list [--search TEXT] [--cost]`: one line per saved conversation, newest
/// first. With `cost`, each line says what the conversation cost after its date.
pub fn list(
    search: Option<&str>,
    cost: Option<&crate::chat::prices::Prices>,
) -> Result<(), String> {
    let lib = library()?;
    // Through the index (brought in step with the folder first); by reading the files
    // when the index cannot be opened.
    let entries = match search {
        Some(q) => lib.search_with(q, false),
        None => lib.list(),
    }
    .map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for e in entries {
        let when = e
            .updated
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M");
        let spent = match (cost, &e.broken) {
            (Some(prices), None) => {
                let c = crate::store::save::load(&e.path)
                    .ok()
                    .and_then(|conv| conversation_cost(&conv, prices));
                Some(match c {
                    Some((usd, false)) => crate::chat::prices::format_usd(usd),
                    Some((usd, true)) => format!("{}+", crate::chat::prices::format_usd(usd)),
                    None => "-".to_string(),
                })
            }
            (Some(_), Some(_)) => Some("-".to_string()),
            (None, _) => None,
        };
        let when = match spent {
            Some(s) => format!("{when}  {s:>10}"),
            None => when.to_string(),
        };
        let line = match &e.broken {
            Some(reason) => format!("{}  {when}  [unreadable: {reason}]", e.id),
            None => format!("{}  {when}  {}", e.id, crate::text::sanitize(&e.title)),
        };
        if writeln!(out, "{line}").is_err() {
            break; // stdout closed (e.g. piped into head)
        }
    }
    Ok(())
}

/// `chat-tui export ID|PREFIX|PATH --format md|json [--all-branches]`: the conversation on
/// stdout.
pub fn export(id: &str, format: ExportFormat, all_branches: bool) -> Result<(), String> {
    let path = std::path::Path::new(id);
    let conv = if path.exists() {
        crate::store::save::load(path).map_err(|e| e.to_string())?
    } else {
        let entry = library()?.find(id).map_err(|e| e.to_string())?;
        crate::store::save::load(&entry.path).map_err(|e| e.to_string())?
    };
    let out = match format {
        ExportFormat::Md if all_branches => {
            crate::store::export::to_markdown_all(&conv).into_bytes()
        }
        ExportFormat::Md => crate::store::export::to_markdown(&conv).into_bytes(),
        ExportFormat::Json if all_branches => {
            return Err("--all-branches is for Markdown: JSON always holds every branch".into());
        }
        ExportFormat::Json => crate::store::format::to_json(&conv),
    };
    let _ = std::io::stdout().write_all(&out);
    Ok(())
}

fn library() -> Result<crate::store::library::Library, String> {
    let dir = crate::store::paths::conversations_dir()
        .ok_or_else(|| "no data directory (is HOME set?)".to_string())?;
    crate::store::library::Library::open(&dir).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], stdin_tty: bool, stdout_tty: bool) -> Run {
        let mut all = vec!["chat-tui"];
        all.extend_from_slice(args);
        what_to_run(&Cli::try_parse_from(all).unwrap(), stdin_tty, stdout_tty)
    }

    #[test]
    fn pipes_choose_headless_and_no_terminal_names_p() {
        assert_eq!(run(&[], true, true), Run::App);
        // echo hi | chat-tui (whatever stdout is)
        assert_eq!(run(&[], false, true), Run::Headless { from_stdin: true });
        assert_eq!(run(&[], false, false), Run::Headless { from_stdin: true });
        // -p always wins
        assert_eq!(
            run(&["-p", "hi"], true, false),
            Run::Headless { from_stdin: false }
        );
        assert_eq!(
            run(&["-p", "-"], true, true),
            Run::Headless { from_stdin: true }
        );
        // chat-tui > file: no terminal to draw on, no prompt
        match run(&[], true, false) {
            Run::Refuse(e) => {
                assert!(
                    e.contains("-p TEXT") && e.contains("standard output"),
                    "{e}"
                );
                assert!(!e.contains("os error"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        // A transcript opens in the app, which needs the terminal.
        assert!(
            matches!(run(&["chat.json"], false, true), Run::Refuse(e) if e.contains("standard input"))
        );
        assert!(matches!(run(&["--resume"], true, false), Run::Refuse(_)));
    }

    #[test]
    fn every_parameter_flag_parses() {
        let cli = Cli::try_parse_from([
            "chat-tui",
            "-p",
            "hi",
            "--model",
            "m",
            "--temperature",
            "0.4",
            "--max-tokens",
            "30",
            "--n",
            "2",
            "--stop",
            "迎",
            "--stop",
            "好",
            "--presence-penalty",
            "-1",
            "--frequency-penalty",
            "1.5",
            "--suffix",
            "換工作",
            "--best-of",
            "3",
            "--seed",
            "7",
            "--mode",
            "completion",
            "--extra",
            "top_k=40",
            "--extra",
            "max_token=300",
            "--memory",
            "last 3",
            "--logprobs",
            "5",
        ])
        .unwrap();
        let o = cli.settings.overrides().unwrap();
        assert_eq!(o.params.stop, vec!["迎", "好"]);
        assert_eq!(o.params.presence_penalty, Some(-1.0));
        assert_eq!(o.params.extra["max_token"], serde_json::json!(300));
        assert_eq!(o.mode, Some(Mode::Completion));
        assert_eq!(o.memory, Some(Memory::Last(3)));
        assert_eq!(o.params.logprobs, Some(5));
        assert_eq!(cli.prompt.as_deref(), Some("hi"));
    }

    #[test]
    fn subcommands_and_paths() {
        let cli = Cli::try_parse_from(["chat-tui", "list"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::List { cost: false, .. })
        ));
        let cli = Cli::try_parse_from(["chat-tui", "list", "--cost"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::List { cost: true, .. })
        ));
        let cli = Cli::try_parse_from(["chat-tui", "chat.json"]).unwrap();
        assert_eq!(cli.path, Some(PathBuf::from("chat.json")));
        let cli = Cli::try_parse_from(["chat-tui", "export", "abc", "--format", "json"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Export {
                format: ExportFormat::Json,
                all_branches: false,
                ..
            })
        ));
        let cli = Cli::try_parse_from(["chat-tui", "export", "abc", "--all-branches"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Export {
                format: ExportFormat::Md,
                all_branches: true,
                ..
            })
        ));
        let cli = Cli::try_parse_from(["chat-tui", "local", "serve", "--port", "9000"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Local {
                action: crate::local::cli::LocalCommand::Serve(_)
            })
        ));
        let cli = Cli::try_parse_from(["chat-tui", "--local-model", "m.gguf"]).unwrap();
        let o = cli.settings.overrides().unwrap();
        assert_eq!(o.local_model, Some(PathBuf::from("m.gguf")));
        assert!(Cli::try_parse_from(["chat-tui", "--local", "--base-url", "http://x/v1"]).is_err());
        // Subcommands win over a transcript path.
        let cli = Cli::try_parse_from(["chat-tui", "completions", "bash"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Completions {
                shell: clap_complete::Shell::Bash
            })
        ));
        assert_eq!(cli.path, None);
        let cli = Cli::try_parse_from(["chat-tui", "man"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Man)));
        assert!(Cli::try_parse_from(["chat-tui", "completions", "tcsh"]).is_err());
        let cli = Cli::try_parse_from(["chat-tui", "--theme", "light"]).unwrap();
        assert_eq!(
            cli.settings.overrides().unwrap().theme,
            Some(ThemeChoice::Light)
        );
        assert!(Cli::try_parse_from(["chat-tui", "--theme", "sepia"]).is_err());
        assert!(
            Cli::try_parse_from(["chat-tui", "--extra", "novalue"])
                .unwrap()
                .settings
                .overrides()
                .is_err()
        );
    }
}
