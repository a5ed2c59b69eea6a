//! Start-up: the library, the conversation to open (a path, `--resume`, or a new one), the
//! key map, and the notices to show first.

use std::path::PathBuf;

use crate::api::client::Client;
use crate::app::{App, NoticeKind, SaveTarget, Start, adopt_model};
use crate::chat::conversation::Conversation;
use crate::config::Settings;
use crate::keymap::Keymap;
use crate::runtime::Launch;
use crate::runtime::claims::{Claims, Opened};
use crate::store::library::Library;
use crate::store::lock::Holder;

/// Everything the app needs before the terminal is taken over.
pub fn launch(
    mut settings: Settings,
    open: Option<PathBuf>,
    resume: bool,
) -> Result<Launch, String> {
    let client_config = settings.client_config().map_err(|e| e.to_string())?;
    // Set up after the first frame (`Effect::PrepareClient`), not before it.
    let client = Client::deferred(client_config);
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
    let mut claims = Claims::new(lib.as_ref().map(|l| l.dir().to_path_buf()));
    let mut conv: Option<Conversation> = None;
    let mut file = None;
    // Opened by PATH but written by another chat-tui: the choice is offered at once.
    let mut held: Option<(PathBuf, Holder, Conversation)> = None;
    let mut resumed_note: Option<String> = None;
    let targets =
        |conv: &Conversation| -> Vec<PathBuf> { lib.iter().map(|l| l.path_for(conv)).collect() };
    match (&open, resume) {
        (Some(path), _) => match claims.open(path, targets) {
            Ok(Opened::Ready(mut c)) => {
                adopt_model(&mut c, &settings.model);
                // What a hand edit broke and how it was read (the file is left as it is).
                let problems = std::mem::take(&mut c.problems);
                if !problems.is_empty() {
                    notices.push(format!(
                        "read with repairs: {} — {} is unchanged until you change the conversation",
                        problems.join("; "),
                        path.display()
                    ));
                }
                // A file outside the library keeps being saved where it is.
                let in_library = lib.as_ref().is_some_and(|l| path.starts_with(l.dir()));
                if !in_library {
                    file = Some(path.clone());
                }
                conv = Some(c);
            }
            Ok(Opened::Held {
                conv: mut c,
                holder,
                ..
            }) => {
                adopt_model(&mut c, &settings.model);
                held = Some((path.clone(), holder, c));
            }
            Err(e) => notices.push(format!(
                "{e} — it was left untouched; starting a new conversation"
            )),
        },
        (None, true) => {
            // The most recent conversation no other chat-tui has open.
            let entries = lib.as_ref().and_then(|l| l.list().ok()).unwrap_or_default();
            let mut skipped = 0usize;
            for e in entries.iter().filter(|e| e.broken.is_none()) {
                match claims.open(&e.path, targets) {
                    Ok(Opened::Ready(mut c)) => {
                        adopt_model(&mut c, &settings.model);
                        conv = Some(c);
                        break;
                    }
                    Ok(Opened::Held { .. }) => skipped += 1,
                    Err(_) => {}
                }
            }
            if conv.is_none() {
                notices.push(if skipped > 0 {
                    format!(
                        "every saved conversation is open in another chat-tui ({skipped}): starting a new one"
                    )
                } else {
                    "no saved conversation to resume: starting a new one".into()
                });
            } else if skipped > 0 {
                resumed_note = Some(format!(
                    "resumed the latest conversation not open elsewhere ({skipped} newer {} open in another chat-tui)",
                    if skipped == 1 { "one is" } else { "ones are" }
                ));
            }
        }
        _ => {}
    }
    let mut conv = conv.unwrap_or_else(|| settings.new_conversation());
    conv.endpoint = Some(settings.endpoint_name());
    // Its problems are among the settings' warnings.
    let (keymap, _) = Keymap::with_overrides(&settings.keys);
    notices.extend(settings.warnings.iter().cloned());
    let autosave = lib.as_ref().map(|l| l.path_for(&conv));
    let first_run = !settings.has_key() && !settings.base_url_configured && !settings.use_local;
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
    app.local.options = settings.local.clone();
    app.local.autostart = settings.use_local;
    app.conn.profiles = settings.profiles.keys().cloned().collect();
    app.conn.base_url = client.config().base_url.clone();
    app.conn.key_mask = client
        .config()
        .api_key
        .as_ref()
        .map(|k| crate::api::exchange::mask_key(k.expose()));
    if !notices.is_empty() {
        app.notify(NoticeKind::Error, notices.join(" · "));
    } else if let Some(n) = resumed_note {
        app.notify(NoticeKind::Warning, n);
    }
    if let Some((path, holder, c)) = held {
        crate::app::custody::offer(&mut app, path, holder, c);
    }
    Ok(Launch {
        app,
        client,
        profiles: crate::runtime::effects::Profiles::new(std::mem::take(&mut settings.profiles)),
        probe_local: first_run,
        claims: claims.shared(),
        theme: settings.theme,
        theme_colors: settings.theme_colors.clone(),
    })
}
