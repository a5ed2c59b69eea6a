//! Running the full-screen app: start-up (the conversation to open, the library), the
//! terminal, the event loop and the effect runner. All of the app's I/O happens under here.

pub mod claims;
pub mod clipboard;
pub mod effects;
pub mod event_loop;
pub mod local;
pub mod probe;
pub mod saver;
pub mod start;
pub mod terminal;
pub mod worker;

use std::process::ExitCode;

use crate::api::client::Client;
use crate::app::App;

/// What the loop starts with.
pub struct Launch {
    pub app: App,
    pub client: Client,
    /// Look for a local server at start (first run).
    pub probe_local: bool,
    /// The files taken for the conversation opened at start.
    pub claims: claims::Shared,
}

/// Run the app until the user quits (or the terminal goes away). The terminal is restored
/// whatever happens — unless it is gone, when nothing more is written to it; the prompt
/// history is kept for the next session. Returns how the loop ended.
pub async fn run(launch: Launch) -> anyhow::Result<event_loop::Ended> {
    let Launch {
        mut app,
        client,
        probe_local,
        claims,
    } = launch;
    terminal::install_panic_hook();
    let mut term = terminal::init()?;
    let result = event_loop::run(&mut term, &mut app, client, probe_local, claims).await;
    let hangup = matches!(result, Ok(event_loop::Ended::Hangup));
    tracing::info!(hangup, error = result.is_err(), "ended");
    terminal::finish(term, hangup);
    let _ = crate::store::prompt_history::save(app.draft.recall_items());
    if !hangup {
        // Where the conversation went, when that changed: said again on the normal screen.
        for note in crate::app::custody::exit_notes(&app) {
            say(&format!("chat-tui: {note}"));
        }
    }
    result
}

/// A line on stderr, if it can be written (never a panic on a closed terminal).
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Start the app for `settings` (opening `open`, or the most recent conversation with
/// `resume`) and run it.
pub async fn main(
    settings: crate::config::Settings,
    open: Option<std::path::PathBuf>,
    resume: bool,
) -> ExitCode {
    let launch = match start::launch(settings, open, resume) {
        Ok(l) => l,
        Err(e) => {
            say(&format!("chat-tui: {e}"));
            return ExitCode::from(crate::headless::EXIT_USAGE);
        }
    };
    match run(launch).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("chat-tui: {e}"));
            ExitCode::from(1)
        }
    }
}
