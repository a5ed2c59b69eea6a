//! Running the full-screen app: start-up (the conversation to open, the library), the
//! terminal, the event loop and the effect runner. All of the app's I/O happens under here.

pub mod backend;
pub mod claims;
pub mod clipboard;
pub mod counting;
pub mod effects;
pub mod event_loop;
pub mod handover;
pub mod input;
pub mod local;
pub mod memory;
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
    /// The config's other profiles, for `/compare PROFILE:MODEL`.
    pub profiles: effects::Profiles,
    /// Look for a local server at start (first run).
    pub probe_local: bool,
    /// The files taken for the conversation opened at start.
    pub claims: claims::Shared,
    /// The palette (`auto`: from the terminal's background) and the colours over it.
    pub theme: crate::config::ThemeChoice,
    pub theme_colors: std::collections::BTreeMap<crate::config::Role, ratatui::style::Color>,
}

/// The theme: the palette chosen (or, for `auto`, the one that suits the background the
/// terminal reported, else `COLORFGBG`, else dark), the config's colours over it, brought to
/// the terminal's colour depth.
pub fn build_theme(
    choice: crate::config::ThemeChoice,
    background: Option<terminal::Background>,
    colorfgbg: Option<&str>,
    colors: &std::collections::BTreeMap<crate::config::Role, ratatui::style::Color>,
    depth: crate::ui::color::ColorDepth,
) -> crate::ui::theme::Theme {
    use crate::config::ThemeChoice;
    use crate::ui::theme::{Theme, ThemeKind};
    let light = match choice {
        ThemeChoice::Dark => false,
        ThemeChoice::Light => true,
        ThemeChoice::Auto => background
            .map(terminal::Background::is_light)
            .or_else(|| terminal::colorfgbg_is_light(colorfgbg))
            .unwrap_or(false),
    };
    let kind = if light {
        ThemeKind::Light
    } else {
        ThemeKind::Dark
    };
    Theme::of(kind).with_colors(colors).for_depth(depth)
}

/// Run the app until the user quits (or the terminal goes away). The terminal is restored
/// whatever happens — unless it is gone, when nothing more is written to it; the prompt
/// history is kept for the next session. Returns how the loop ended.
pub async fn run(launch: Launch) -> anyhow::Result<event_loop::Ended> {
    let Launch {
        mut app,
        client,
        profiles,
        probe_local,
        claims,
        theme,
        theme_colors,
    } = launch;
    memory::tune();
    terminal::install_panic_hook();
    let (mut term, background) = terminal::init(theme == crate::config::ThemeChoice::Auto)
        .map_err(|_| {
            terminal::restore();
            anyhow::anyhow!(
                "no terminal to draw on: give a prompt with -p TEXT (or pipe one in) for headless output"
            )
        })?;
    let theme = build_theme(
        theme,
        background,
        std::env::var("COLORFGBG").ok().as_deref(),
        &theme_colors,
        crate::ui::color::ColorDepth::from_env(),
    );
    let result = event_loop::run(
        &mut term,
        &mut app,
        client,
        profiles,
        probe_local,
        claims,
        &theme,
    )
    .await;
    let hangup = matches!(result, Ok(event_loop::Ended::Hangup));
    tracing::info!(hangup, error = result.is_err(), "ended");
    terminal::finish(term, hangup);
    let _ = crate::store::prompt_history::save(app.draft.recall_items());
    if !hangup {
        // Where the conversation went, when that changed: said again on the normal screen.
        for note in crate::app::custody::exit_notes(&app) {
            say(&format!("chat-tui: {note}"));
        }
        for (path, why) in saver::unsaved() {
            say(&format!(
                "chat-tui: could not save {} ({why}); it is not on disk",
                path.display()
            ));
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ThemeChoice;
    use crate::ui::color::ColorDepth;
    use crate::ui::theme::ThemeKind;

    #[test]
    fn auto_follows_the_background_else_colorfgbg_else_dark() {
        let none = std::collections::BTreeMap::new();
        let white = Some(terminal::Background {
            r: 255,
            g: 255,
            b: 255,
        });
        let black = Some(terminal::Background { r: 0, g: 0, b: 0 });
        let kind = |c, bg, fgbg| build_theme(c, bg, fgbg, &none, ColorDepth::TrueColor).kind;
        assert_eq!(kind(ThemeChoice::Auto, white, None), ThemeKind::Light);
        assert_eq!(
            kind(ThemeChoice::Auto, black, Some("0;15")),
            ThemeKind::Dark
        );
        assert_eq!(
            kind(ThemeChoice::Auto, None, Some("0;15")),
            ThemeKind::Light
        );
        assert_eq!(kind(ThemeChoice::Auto, None, Some("15;0")), ThemeKind::Dark);
        assert_eq!(kind(ThemeChoice::Auto, None, None), ThemeKind::Dark);
        assert_eq!(kind(ThemeChoice::Dark, white, None), ThemeKind::Dark);
        assert_eq!(kind(ThemeChoice::Light, black, None), ThemeKind::Light);
    }
}
