//! Running a `/command` (parsed in `crate::commands`). A command that fails returns a
//! [`CommandError`]; the caller shows it (and a typed command stays in the input).

use std::path::Path;
use std::sync::Arc;

use crate::action::Effect;
use crate::api::types::{Mode, PARAM_NAMES};
use crate::app::{
    App, NoticeKind, Overlay, Target, branches, custody, local, server, sessions, turn,
};
use crate::chat::prompt;
use crate::commands::{Command, LocalArg};

/// Why a command did nothing (shown as an error; a typed command stays in the input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError(pub String);

/// Run `cmd`; on failure show why.
pub fn run_or_notify(app: &mut App, cmd: Command) -> Vec<Effect> {
    match run(app, cmd) {
        Ok(fx) => fx,
        Err(e) => {
            app.notify(NoticeKind::Error, e.0);
            Vec::new()
        }
    }
}

/// Run a `/command`.
pub fn run(app: &mut App, cmd: Command) -> Result<Vec<Effect>, CommandError> {
    let err = |e: String| CommandError(e);
    Ok(match cmd {
        Command::Help => {
            app.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Command::Quit => crate::app::quit(app),
        Command::New => {
            let conv = app.conv.fresh_like();
            let fx = app.load_conversation(conv, None);
            app.notify(NoticeKind::Info, "new conversation");
            fx
        }
        Command::Set(name, value) => {
            let mut p = app.conv.params.clone();
            p.set(&name, &value)
                .and_then(|_| p.validate(app.conv.mode))
                .map_err(|e| err(e.to_string()))?;
            app.conv.params = p;
            let shown = app.conv.params.get(&name).unwrap_or_default();
            let extra = if PARAM_NAMES.contains(&name.as_str()) {
                ""
            } else {
                " (extra body field)"
            };
            app.notify(NoticeKind::Info, format!("{name} = {shown}{extra}"));
            app.save_effect()
        }
        Command::Unset(name) => {
            app.conv
                .params
                .unset(&name)
                .map_err(|e| err(e.to_string()))?;
            app.notify(
                NoticeKind::Info,
                format!("{name} unset: the server's default applies"),
            );
            app.save_effect()
        }
        Command::Model(Some(name)) => {
            app.conv.model = name.clone();
            app.tokens.learned_window = None;
            let mut fx = app.use_counter_for(&name);
            for m in &mut app.conv.messages {
                m.local_tokens = None;
            }
            app.notify(
                NoticeKind::Info,
                format!(
                    "model: {name} (tokens counted with {})",
                    app.tokens.counter().label()
                ),
            );
            fx.extend(server::model_changed(app));
            fx.extend(app.save_effect());
            fx
        }
        Command::Model(None) => {
            app.overlay = Some(Overlay::loading_models());
            vec![Effect::FetchModels]
        }
        Command::Mode(mode) => {
            let mut p = app.conv.params.clone();
            if mode == Mode::Chat {
                // Completion-only parameters would make every request invalid.
                p.suffix = None;
                p.best_of = None;
            }
            let dropped = p != app.conv.params;
            app.conv.params = p;
            app.conv.mode = mode;
            app.notify(
                NoticeKind::Info,
                format!(
                    "mode: {mode} ({}){}",
                    match mode {
                        Mode::Chat => "/chat/completions",
                        Mode::Completion => "/completions",
                    },
                    if dropped {
                        "; suffix and best_of unset (completion only)"
                    } else {
                        ""
                    }
                ),
            );
            app.save_effect()
        }
        Command::Memory(m) => {
            app.conv.memory = m;
            app.notify(NoticeKind::Info, format!("memory: {m}"));
            app.save_effect()
        }
        Command::System(text) => {
            app.conv.system = text.filter(|t| !t.trim().is_empty());
            app.notify(
                NoticeKind::Info,
                match &app.conv.system {
                    Some(_) => "system prompt set",
                    None => "system prompt cleared",
                },
            );
            app.save_effect()
        }
        Command::Insert(text) => {
            if app.conv.mode != Mode::Completion {
                return Err(err(
                    "/insert needs completion mode (/mode completion)".into()
                ));
            }
            if turn::still_streaming(app)
                || custody::refuse_if_read_only(app, "sent")
                || local::blocks_send(app)
            {
                return Ok(Vec::new());
            }
            let (before, after) = prompt::split_insert(&text).ok_or_else(|| {
                err("/insert TEXT [insert] TEXT: mark where the reply goes with [insert]".into())
            })?;
            turn::send_user_message(app, before, Some(after))
        }
        Command::Retry(model) => {
            let targets = model
                .iter()
                .map(|m| Target::parse(m, &app.conn.profiles))
                .collect();
            turn::retry(app, targets)
        }
        Command::Compare(models) => {
            let targets: Vec<Target> = models
                .iter()
                .map(|m| Target::parse(m, &app.conn.profiles))
                .collect();
            turn::retry(app, targets)
        }
        Command::Edit => {
            branches::edit(app, None);
            Vec::new()
        }
        Command::Branches => {
            branches::open(app);
            Vec::new()
        }
        Command::Continue => turn::continue_reply(app),
        Command::Save(path) => {
            let markdown = is_markdown(&path);
            if !markdown && custody::refuse_if_read_only(app, "saved") {
                return Ok(Vec::new());
            }
            // A transcript becomes where the conversation is kept once it is written
            // (`Msg::Saved`); a file that is not this conversation is not replaced without
            // asking (`Msg::SaveAsk`).
            vec![Effect::Save {
                conversation: Arc::new(app.conv.clone()),
                path,
                explicit: true,
                markdown,
                replace: false,
            }]
        }
        // The branch shown…
        Command::Export {
            path,
            all_branches: false,
        } => vec![Effect::Save {
            conversation: Arc::new(app.conv.clone()),
            path,
            explicit: true,
            markdown: true,
            replace: false,
        }],
        // …or every branch, each under its own heading.
        Command::Export {
            path,
            all_branches: true,
        } => vec![Effect::ExportBranches {
            conversation: Arc::new(app.conv.clone()),
            path,
        }],
        Command::Open(path) => vec![Effect::Open { path }],
        Command::Sessions => sessions::open(app),
        Command::Copy(what) => crate::app::selection::copy_command(app, what)?,
        Command::Request => {
            crate::app::inspector::open(app);
            Vec::new()
        }
        Command::Logprobs { tint: false } => {
            crate::app::logprobs::open(app);
            Vec::new()
        }
        Command::Logprobs { tint: true } => {
            crate::app::logprobs::toggle_tint(app);
            Vec::new()
        }
        // The draft is this command: the editor starts empty.
        Command::Editor => vec![Effect::Edit {
            draft: String::new(),
        }],
        Command::Rename(title) => {
            app.conv.title = title;
            app.notify(NoticeKind::Info, "renamed");
            app.save_effect()
        }
        Command::Local(arg) => match arg {
            LocalArg::Start => local::start(app),
            LocalArg::Stop => local::stop(app),
            LocalArg::Restart => {
                let mut fx = if app.local.running().is_some() {
                    local::stop(app)
                } else {
                    Vec::new()
                };
                fx.extend(local::start(app));
                fx
            }
            LocalArg::Status => {
                let text = local::describe(app);
                app.notify(NoticeKind::Info, text);
                Vec::new()
            }
        },
    })
}

fn is_markdown(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("md" | "markdown")
    )
}
