//! chat-tui: parse the command line, load the configuration, then dispatch: a subcommand,
//! headless mode, or the full-screen app.

use std::process::ExitCode;

use clap::Parser;

use chat_tui::cli::{self, Cli, Command};
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
        Some(Command::Export { id, format }) => return done(cli::export(id, *format)),
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
