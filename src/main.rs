//! chat-tui: parse the command line, load the configuration, then run headless or full-screen.

use std::process::ExitCode;

use clap::Parser;

use chat_tui::app::{App, SaveTarget, Start};
use chat_tui::chat::conversation::Conversation;
use chat_tui::cli::{Cli, Command, ExportFormat};
use chat_tui::config::{self, Settings};
use chat_tui::headless::{self, EXIT_USAGE};
use chat_tui::keymap::Keymap;
use chat_tui::store::library::Library;
use chat_tui::store::{self, paths};
use chat_tui::tui;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_config {
        print!("{}", config::EXAMPLE_CONFIG);
        return ExitCode::SUCCESS;
    }
    if cli.paths {
        for (what, path) in paths::describe() {
            println!("{what:<15} {path}");
        }
        return ExitCode::SUCCESS;
    }
    let overrides = match cli.settings.overrides() {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let settings = match config::load(&overrides) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    for w in &settings.warnings {
        eprintln!("chat-tui: warning: {w}");
    }
    match &cli.command {
        Some(Command::List { search }) => return list(search.as_deref()),
        Some(Command::Export { id, format }) => return export(id, *format),
        None => {}
    }
    // One thread runs the UI loop and the requests alike: a streaming reply wakes one
    // thread, not a pool (less CPU per token); blocking work (saves) has its own pool.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    if let Some(p) = &cli.prompt {
        let text = match headless::read_prompt(p) {
            Ok(t) => t,
            Err(e) => return fail(&e),
        };
        if text.trim().is_empty() {
            return fail("the prompt is empty");
        }
        return ExitCode::from(runtime.block_on(headless::run(settings, text)));
    }
    let open = cli.path.clone().or(cli.open.clone());
    runtime.block_on(run_tui(settings, open, cli.resume))
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("chat-tui: {msg}");
    ExitCode::from(EXIT_USAGE)
}

fn library() -> Option<Library> {
    paths::conversations_dir().and_then(|d| Library::open(&d).ok())
}

fn list(search: Option<&str>) -> ExitCode {
    let Some(lib) = library() else {
        return fail("no data directory (is HOME set?)");
    };
    let entries = match search {
        Some(q) => lib.search(q),
        None => lib.list(),
    };
    let entries = match entries {
        Ok(e) => e,
        Err(e) => return fail(&e.to_string()),
    };
    for e in entries {
        let when = e
            .updated
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M");
        match &e.broken {
            Some(reason) => println!("{}  {when}  [unreadable: {reason}]", e.id),
            None => println!("{}  {when}  {}", e.id, chat_tui::text::sanitize(&e.title)),
        }
    }
    ExitCode::SUCCESS
}

fn export(id: &str, format: ExportFormat) -> ExitCode {
    let path = std::path::Path::new(id);
    let conv = if path.exists() {
        store::save::load(path).map_err(|e| e.to_string())
    } else {
        match library() {
            Some(lib) => lib
                .find(id)
                .map_err(|e| e.to_string())
                .and_then(|entry| store::save::load(&entry.path).map_err(|e| e.to_string())),
            None => Err("no data directory (is HOME set?)".into()),
        }
    };
    match conv {
        Ok(c) => {
            let out = match format {
                ExportFormat::Md => store::export::to_markdown(&c).into_bytes(),
                ExportFormat::Json => store::format::to_json(&c),
            };
            use std::io::Write;
            let _ = std::io::stdout().write_all(&out);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

async fn run_tui(
    mut settings: Settings,
    open: Option<std::path::PathBuf>,
    resume: bool,
) -> ExitCode {
    let client_config = match settings.client_config() {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let mut notices: Vec<String> = Vec::new();
    let lib = match paths::conversations_dir().map(Library::open) {
        Some(Ok(l)) => Some(l),
        Some(Err(e)) => {
            notices.push(format!(
                "{e}: this conversation will not be autosaved (/save PATH works)"
            ));
            None
        }
        None => {
            notices.push(
                "no data directory: this conversation will not be autosaved (/save PATH works)"
                    .into(),
            );
            None
        }
    };
    let mut file = None;
    let mut conv: Option<Conversation> = None;
    let target = match (&open, resume) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => match lib.as_ref().and_then(|l| l.most_recent().ok().flatten()) {
            Some(e) => Some(e.path),
            None => {
                notices.push("no saved conversation to resume: starting a new one".into());
                None
            }
        },
        _ => None,
    };
    if let Some(path) = target {
        match store::save::load(&path) {
            Ok(mut c) => {
                // An imported OpenAI messages array names no model: use the configured one.
                if c.model.trim().is_empty() {
                    c.model = settings.model.clone();
                }
                // A file outside the library keeps being saved where it is.
                let in_library = lib.as_ref().is_some_and(|l| path.starts_with(l.dir()));
                if !in_library {
                    file = Some(path.clone());
                }
                conv = Some(c);
            }
            Err(e) => notices.push(format!(
                "{e} — it was left untouched; starting a new conversation"
            )),
        }
    }
    let conv = conv.unwrap_or_else(|| settings.new_conversation());
    let mut conv = conv;
    conv.endpoint = Some(settings.endpoint_name());
    let (keymap, key_problems) = Keymap::with_overrides(&settings.keys);
    notices.extend(key_problems);
    notices.extend(settings.warnings.iter().cloned());
    let autosave = lib.as_ref().map(|l| l.path_for(&conv));
    let first_run = !settings.has_key() && !settings.base_url_configured;
    let mut app = App::new(Start {
        endpoint: settings.endpoint_name(),
        context_window: settings.context_window,
        reply_reserve: settings.reply_reserve,
        stream: settings.stream,
        save: SaveTarget { autosave, file },
        first_run,
        prompt_history: tui::load_prompt_history(),
        keymap,
        conv,
    });
    if !notices.is_empty() {
        app.notify(chat_tui::app::NoticeKind::Error, notices.join(" · "));
    }
    let runner = tui::Runner {
        app,
        client_config,
        probe_local: first_run,
    };
    match tui::run(runner).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-tui: {e}");
            ExitCode::from(1)
        }
    }
}
