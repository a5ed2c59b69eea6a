//! Start-up: the library, the conversation to open (a path, `--resume`, or a new one), the
//! key map, and the notices to show first.

use std::path::PathBuf;

use crate::api::client::Client;
use crate::app::{App, NoticeKind, SaveTarget, Start, adopt_model};
use crate::chat::conversation::Conversation;
use crate::config::Settings;
use crate::keymap::Keymap;
use crate::runtime::Launch;
use crate::store::library::Library;

/// Everything the app needs before the terminal is taken over.
pub fn launch(
    mut settings: Settings,
    open: Option<PathBuf>,
    resume: bool,
) -> Result<Launch, String> {
    let client_config = settings.client_config().map_err(|e| e.to_string())?;
    let client = Client::new(client_config).map_err(|e| e.to_string())?;
    let mut notices: Vec<String> = Vec::new();
    let lib = match crate::store::paths::conversations_dir().map(Library::open) {
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
    let mut file = None;
    let mut conv: Option<Conversation> = None;
    if let Some(path) = target {
        match crate::store::save::load(&path) {
            Ok(mut c) => {
                adopt_model(&mut c, &settings.model);
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
    let mut conv = conv.unwrap_or_else(|| settings.new_conversation());
    conv.endpoint = Some(settings.endpoint_name());
    // Its problems are among the settings' warnings.
    let (keymap, _) = Keymap::with_overrides(&settings.keys);
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
        prompt_history: crate::store::prompt_history::load(),
        keymap,
        conv,
    });
    app.server.prices = settings.prices.clone();
    app.conn.test_panic = std::env::var_os("CHAT_TUI_TEST_PANIC").is_some();
    app.conn.home = std::env::var_os("HOME").map(PathBuf::from);
    if !notices.is_empty() {
        app.notify(NoticeKind::Error, notices.join(" · "));
    }
    Ok(Launch {
        app,
        client,
        probe_local: first_run,
    })
}
