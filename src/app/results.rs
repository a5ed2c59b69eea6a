//! The results of effects (`Msg`s) coming back: each goes to the part of the app it is for.

use crate::action::{Effect, Msg};
use crate::app::{App, NoticeKind, Overlay, overlay, server, sessions, turn};

pub(super) fn on_msg(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Stream { turn, event } => turn::on_stream(app, turn, event),
        Msg::Done { turn, result } => turn::on_done(app, turn, result),
        Msg::Models(result) => {
            overlay::models_listed(app, result);
            Vec::new()
        }
        Msg::LocalServer(found) => {
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
            Vec::new()
        }
        Msg::Saved {
            path,
            result,
            explicit,
        } => {
            match result {
                Ok(()) if explicit => {
                    app.notify(NoticeKind::Info, format!("saved to {}", path.display()))
                }
                Ok(()) => {}
                Err(e) => app.notify(
                    NoticeKind::Error,
                    // The reason first: the status line cuts long notices, and the path is long.
                    format!("could not save: {e} — {}", path.display()),
                ),
            }
            Vec::new()
        }
        Msg::Opened { path, result } => match result {
            Ok(conv) => {
                let mut fx = Vec::new();
                if let Some(cur) = app.turn.take() {
                    fx.push(Effect::Cancel { turn: cur.id });
                }
                fx.extend(app.load_conversation(*conv, Some(path.clone())));
                app.notify(NoticeKind::Info, format!("opened {}", path.display()));
                fx
            }
            Err(e) => {
                app.notify(NoticeKind::Error, e);
                Vec::new()
            }
        },
        Msg::SessionsListed { generation, result } => {
            sessions::listed(app, generation, result);
            Vec::new()
        }
        Msg::SessionRenamed { id, title, result } => sessions::renamed(app, id, title, result),
        Msg::SessionDeleted { title, result } => sessions::deleted(app, title, result),
        Msg::ServerProbed { model, result } => {
            server::probed(app, model, result);
            Vec::new()
        }
        Msg::TokensCounted { generation, result } => {
            server::counted(app, generation, result);
            Vec::new()
        }
    }
}
