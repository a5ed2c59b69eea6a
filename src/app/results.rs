//! The results of effects (`Msg`s) coming back: each goes to the part of the app it is for.

use crate::action::{Effect, Msg};
use crate::app::{
    App, Focus, NoticeKind, Overlay, Probe, custody, overlay, server, sessions, tokens, turn,
};

pub(super) fn on_msg(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Stream { turn, event } => turn::on_stream(app, turn, event),
        Msg::Done { turn, result } => turn::on_done(app, turn, result),
        Msg::Exchange { turn, exchange } => {
            turn::on_exchange(app, turn, exchange);
            Vec::new()
        }
        Msg::Models(result) => {
            overlay::models_listed(app, result);
            Vec::new()
        }
        Msg::LocalServer(found) => {
            app.conn.probe = match &found {
                Some((name, url)) => Probe::Found {
                    name: name.clone(),
                    url: url.clone(),
                },
                None => Probe::NotFound,
            };
            overlay::local_server_found(app, found);
            Vec::new()
        }
        Msg::ServerChanged { name, result } => match result {
            Ok(()) => {
                app.conn.endpoint = name.clone();
                app.conv.endpoint = Some(name.clone());
                app.notify(NoticeKind::Info, format!("using {name}"));
                app.overlay = Some(Overlay::loading_models());
                let mut fx = vec![Effect::FetchModels];
                fx.extend(server::model_changed(app));
                fx
            }
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                Vec::new()
            }
        },
        Msg::TokenizerReady => {
            app.dirty = true;
            tokens::request(app, true)
        }
        Msg::TokensCounted(c) => tokens::counted(app, c),
        Msg::Saved {
            path,
            result,
            explicit,
            markdown,
        } => {
            let mut fx = Vec::new();
            match result {
                Ok(()) if explicit => {
                    if !markdown {
                        fx = custody::saved_as(app, path.clone());
                    }
                    app.notify(NoticeKind::Info, format!("saved to {}", path.display()))
                }
                Ok(()) => {}
                Err(e) => app.notify(
                    NoticeKind::Error,
                    // The reason first: the status line cuts long notices, and the path is long.
                    format!("could not save: {e} — {}", path.display()),
                ),
            }
            fx
        }
        Msg::SaveRecovered { path } => {
            app.notify(
                NoticeKind::Info,
                format!(
                    "saved after all (an earlier save had failed) — {}",
                    path.display()
                ),
            );
            Vec::new()
        }
        Msg::SaveMoved {
            from,
            to,
            new_id,
            reason,
        } => {
            custody::moved(app, from, to, new_id, reason);
            Vec::new()
        }
        Msg::SaveAsk { path, what } => {
            custody::ask_replace(app, path, what);
            Vec::new()
        }
        Msg::Opened { path, result, held } => match (result, held) {
            (Ok(conv), Some(holder)) => {
                custody::offer(app, path, holder, *conv);
                Vec::new()
            }
            (Ok(conv), None) => {
                let fx = app.load_conversation(*conv, Some(path.clone()));
                if !app.show_problems() {
                    app.notify(NoticeKind::Info, format!("opened {}", path.display()));
                }
                fx
            }
            (Err(e), _) => {
                app.notify(NoticeKind::Error, e);
                Vec::new()
            }
        },
        Msg::SessionsListed {
            generation,
            result,
            partial,
        } => {
            sessions::listed(app, generation, result, partial);
            Vec::new()
        }
        Msg::SessionsMore {
            generation,
            entries,
            partial,
        } => {
            sessions::more(app, generation, entries, partial);
            Vec::new()
        }
        Msg::SessionRenamed { id, title, result } => sessions::renamed(app, id, title, result),
        Msg::SessionDeleted { title, result } => sessions::deleted(app, title, result),
        Msg::Local { job, event } => crate::app::local::on_event(app, job, event),
        Msg::Copied { what, chars, note } => {
            let s = if chars == 1 { "" } else { "s" };
            let n = crate::text::thousands(chars as u64);
            match note {
                None => app.notify(
                    NoticeKind::Info,
                    format!("copied {n} character{s} ({what})"),
                ),
                Some(note) => app.notify(
                    NoticeKind::Warning,
                    format!("copied {n} character{s} ({what}) — {note}"),
                ),
            }
            Vec::new()
        }
        Msg::ClipboardFailed(e) => {
            app.notify(NoticeKind::Warning, e);
            Vec::new()
        }
        Msg::Edited(result) => {
            match result {
                Ok(text) => {
                    app.draft.set(&text);
                    app.focus = Focus::Input;
                    app.notify(NoticeKind::Info, "message updated from the editor");
                }
                Err(why) => app.notify(
                    NoticeKind::Warning,
                    format!("{why}: the message is unchanged"),
                ),
            }
            Vec::new()
        }
        Msg::Resumed(result) => {
            app.dirty = true;
            if let Err(e) = result {
                app.notify(NoticeKind::Error, e);
            }
            Vec::new()
        }
        Msg::ServerProbed { model, result } => {
            server::probed(app, model, result);
            Vec::new()
        }
        Msg::ExactCounted { generation, result } => {
            server::counted(app, generation, result);
            Vec::new()
        }
    }
}
