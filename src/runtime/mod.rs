//! Running the full-screen app: start-up (the conversation to open, the library), the
//! terminal, the event loop and the effect runner. All of the app's I/O happens under here.

pub mod counting;
pub mod effects;
pub mod event_loop;
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
}

/// Run the app until the user quits. The terminal is restored whatever happens; the
/// prompt history is kept for the next session.
pub async fn run(launch: Launch) -> anyhow::Result<()> {
    let Launch {
        mut app,
        client,
        probe_local,
    } = launch;
    terminal::install_panic_hook();
    let mut term = terminal::init()?;
    let result = event_loop::run(&mut term, &mut app, client, probe_local).await;
    terminal::restore();
    let _ = crate::store::prompt_history::save(app.draft.recall_items());
    result
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
            eprintln!("chat-tui: {e}");
            return ExitCode::from(crate::headless::EXIT_USAGE);
        }
    };
    match run(launch).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat-tui: {e}");
            ExitCode::from(1)
        }
    }
}
