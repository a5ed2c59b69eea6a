//! chat-tui: parse the command line, load the configuration, then dispatch: a subcommand,
//! headless mode, or the full-screen app.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use chat_tui::cli::{self, Cli, Command, Run};
use chat_tui::config;
use chat_tui::headless::{self, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_config {
        print!("{}", config::EXAMPLE_CONFIG);
        return ExitCode::SUCCESS;
    }
    if cli.paths {
        for (what, path) in chat_tui::store::paths::describe() {
            println!("{what:<15} {path}");
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = chat_tui::diag::init(cli.log.as_deref()) {
        eprintln!("chat-tui: warning: {e}");
    }
    // Before the configuration: a broken config file must not stop these.
    match &cli.command {
        Some(Command::Completions { shell }) => return done(cli::completions(*shell)),
        Some(Command::Man) => return done(cli::man()),
        _ => {}
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
        Some(Command::List { search, cost }) => {
            let prices = cost.then_some(&settings.prices);
            return done(cli::list(search.as_deref(), prices));
        }
        Some(Command::Export {
            id,
            format,
            all_branches,
        }) => return done(cli::export(id, *format, *all_branches)),
        _ => {}
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
    if let Some(Command::Local { action }) = &cli.command {
        return ExitCode::from(runtime.block_on(chat_tui::local::cli::run(
            action.clone(),
            settings.local.clone(),
        )));
    }
    let run = cli::what_to_run(
        &cli,
        std::io::stdin().is_terminal(),
        std::io::stdout().is_terminal(),
    );
    if let Run::Refuse(why) = &run {
        return fail(why);
    }
    if let Run::Headless { from_stdin } = run {
        let arg = if from_stdin {
            "-"
        } else {
            cli.prompt.as_deref().unwrap_or("")
        };
        let text = match headless::read_prompt(arg) {
            Ok(t) => t,
            Err(e) => return fail(&e),
        };
        if text.trim().is_empty() {
            return fail(if cli.prompt.is_none() {
                "nothing came on standard input: pipe a prompt in, or give one with -p TEXT"
            } else {
                "the prompt is empty"
            });
        }
        if settings.use_local {
            return ExitCode::from(
                runtime.block_on(chat_tui::local::cli::headless(settings, text)),
            );
        }
        return ExitCode::from(runtime.block_on(headless::run(settings, text)));
    }
    let open = cli.path.clone().or(cli.open.clone());
    runtime.block_on(chat_tui::runtime::main(settings, open, cli.resume))
}

fn done(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("chat-tui: {msg}");
    ExitCode::from(EXIT_USAGE)
}
