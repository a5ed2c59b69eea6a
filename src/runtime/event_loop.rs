//! The loop: draw when something changed, wait for the next event (a key, a background
//! result, a tick, a signal), hand it to `update()`, carry out the effects.
//!
//! What the user does is drawn at once; what streams in is drawn at most once a frame.

use std::time::{Duration, Instant};

use crossterm::event::{Event as CtEvent, EventStream};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::action::{Action, Effect, Msg};
use crate::api::client::Client;
use crate::app::{self, App, Event};
use crate::runtime::effects::Effects;
use crate::runtime::terminal::Term;
use crate::ui::theme::Theme;

/// At most this often while something changes (~60 fps).
const FRAME: Duration = Duration::from_millis(16);
const TICK: Duration = Duration::from_millis(100);

pub async fn run(
    terminal: &mut Term,
    app: &mut App,
    client: Client,
    probe_local: bool,
) -> anyhow::Result<()> {
    let theme = Theme::default();
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut effects = Effects::new(client, tx.clone());
    // Syntax highlighting loads when a code block is first drawn (syntect keeps each
    // language's rules packed until it is used); the tokenizer with the start effects.
    if probe_local {
        tokio::spawn(crate::runtime::probe::local_servers(tx.clone()));
    }
    // The start effects wait for the first frame (nothing before it but the screen).
    let mut pending: Vec<Effect> = Vec::new();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut last_draw = Instant::now() - FRAME;
    let mut batch: Vec<Msg> = Vec::with_capacity(256);
    let mut input_pending = false;
    let mut first_frame = true;
    'run: loop {
        for fx in pending.drain(..) {
            if !effects.run(fx) {
                break 'run;
            }
        }
        if app.quit {
            break;
        }
        if app.dirty && (input_pending || last_draw.elapsed() >= FRAME) {
            terminal.draw(|f| crate::ui::layout::draw(f, app, &theme))?;
            app.dirty = false;
            last_draw = Instant::now();
            if std::mem::take(&mut first_frame) {
                // The first screen is up; now the terminal's answer can be waited for.
                crate::runtime::terminal::enhance_keys()?;
                pending.extend(app.start_effects());
            }
        }
        input_pending = false;
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    let e = match ev {
                        CtEvent::Key(k) => Some(Event::Key(k)),
                        CtEvent::Paste(s) => Some(Event::Paste(s)),
                        CtEvent::Mouse(m) => Some(Event::Mouse(m)),
                        CtEvent::Resize(_, _) => {
                            terminal.autoresize()?;
                            Some(Event::Resize)
                        }
                        _ => None,
                    };
                    if let Some(e) = e {
                        pending.extend(app::update(app, e));
                        input_pending = true;
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            n = rx.recv_many(&mut batch, 256) => {
                if n == 0 {
                    break;
                }
                for m in batch.drain(..) {
                    pending.extend(app::update(app, Event::Msg(m)));
                }
            }
            _ = tick.tick() => pending.extend(app::update(app, Event::Tick)),
            _ = tokio::time::sleep_until(next_frame), if app.dirty => {}
            _ = sigterm.recv() => pending.extend(app::update(app, Event::Action(Action::Quit))),
            _ = sighup.recv() => pending.extend(app::update(app, Event::Action(Action::Quit))),
        }
    }
    // The saves asked for on the way out.
    for fx in pending.drain(..) {
        effects.run(fx);
    }
    effects.finish().await;
    Ok(())
}
