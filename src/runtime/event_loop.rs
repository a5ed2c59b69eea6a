//! The loop: draw when something changed, wait for the next event (a key, a background
//! result, a tick, a signal), hand it to `update()`, carry out the effects.
//!
//! What the user does is drawn at once; what streams in is drawn at most once a frame.
//!
//! When the terminal goes away (SIGHUP, the input ends or fails, a frame cannot be
//! written), the loop saves what there is and ends without drawing again: a hangup.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crossterm::event::Event as CtEvent;
use futures_util::FutureExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::action::{Action, Effect, Msg};
use crate::api::client::Client;
use crate::app::{self, App, Event};
use crate::runtime::claims::Shared;
use crate::runtime::effects::Effects;
use crate::runtime::handover;
use crate::runtime::input::Input;
use crate::runtime::terminal::{self, Term};
use crate::ui::theme::Theme;

/// At most this often while something changes (~83 fps): a token waits at most this long
/// for the frame that shows it (the lag target is 20 ms at most, 10 ms median).
const FRAME: Duration = Duration::from_millis(12);
const TICK: Duration = Duration::from_millis(100);
/// Pages above and below the view laid out while idle: once this long has passed since the
/// last frame.
const PREFETCH_PAGES: usize = 4;
const IDLE: Duration = Duration::from_millis(40);

/// How the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The user quit (or SIGTERM): the terminal is there to be restored.
    Quit,
    /// The terminal went away: nothing more is written to it.
    Hangup,
}

pub async fn run(
    term: &mut Term,
    app: &mut App,
    client: Client,
    profiles: crate::runtime::effects::Profiles,
    probe_local: bool,
    claims: Shared,
    theme: &Theme,
) -> anyhow::Result<Ended> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut effects = Effects::new(client, tx.clone(), claims, profiles);
    // Syntax highlighting loads when a code block is first drawn (syntect keeps each
    // language's rules packed until it is used); the tokenizer with the start effects.
    if probe_local {
        tokio::spawn(crate::runtime::probe::local_servers(tx.clone()));
    }
    // The start effects wait for the first frame (nothing before it but the screen).
    let mut pending: Vec<Effect> = Vec::new();
    let mut events = Input::start();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // In raw mode Ctrl+C is a key; SIGINT comes from `kill -INT` (quit, saving) or from
    // Ctrl+C typed in the external editor (it is the editor's: ignored here).
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut last_draw = Instant::now() - FRAME;
    let mut batch: Vec<Msg> = Vec::with_capacity(256);
    let mut input_pending = false;
    // Set when the terminal is gone; `failure`: an error of a terminal still there.
    let mut hangup = false;
    let mut failure: Option<anyhow::Error> = None;
    let mut first_frame = true;
    // What the small panels showed last frame (drawn again only when it changes).
    let mut panels = crate::ui::layout::FrameCache::default();
    // The conversation's pages around the view may still be laid out while idle.
    let mut prefetch = false;
    'run: loop {
        let mut handed_over: Vec<Msg> = Vec::new();
        for fx in pending.drain(..) {
            // The effects that need the terminal itself (none once it is gone).
            match fx {
                Effect::Edit { .. } | Effect::Suspend if hangup || failure.is_some() => {}
                Effect::Edit { draft } => {
                    handed_over.push(handover::edit(term, &events, &draft).await);
                    while let Some(Some(())) = sigint.recv().now_or_never() {}
                }
                Effect::Suspend => handed_over.push(handover::suspend(term, &events)),
                fx => {
                    if !effects.run(fx) {
                        break 'run;
                    }
                }
            }
        }
        if !handed_over.is_empty() {
            for m in handed_over {
                pending.extend(app::update(app, Event::Msg(m)));
            }
            input_pending = true;
            continue;
        }
        // OSC 52 and the like: through the terminal's writer, between frames.
        let out = effects.take_terminal_output();
        if !out.is_empty() && !hangup && failure.is_none() {
            let w = term.backend_mut();
            if let Err(e) = w.write_all(&out).and_then(|()| w.flush()) {
                tracing::info!(error = %e, "cannot write to the terminal: ending");
                lost_terminal(app, &mut pending, &mut hangup, &mut failure, e.into());
                continue;
            }
        }
        if app.quit {
            break;
        }
        if app.dirty
            && !hangup
            && failure.is_none()
            && (input_pending || last_draw.elapsed() >= FRAME)
        {
            let drawn = terminal::draw_kept(term, |f, kept| {
                crate::ui::layout::draw_frame(f, app, theme, &mut panels, kept)
            });
            if let Err(e) = drawn {
                tracing::info!(error = %e, "cannot draw: ending");
                lost_terminal(app, &mut pending, &mut hangup, &mut failure, e.into());
                continue;
            }
            app.dirty = false;
            last_draw = Instant::now();
            prefetch = true;
            if std::mem::take(&mut first_frame) {
                // The first screen is up: now the start-up work (the tokenizer's).
                pending.extend(app.start_effects());
            }
        }
        input_pending = false;
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        // A frame is due (something changed, drawn at the next frame boundary): what the
        // network sends until then is taken then, all at once, not one wake-up per message
        // (at 200 tokens a second, three or four of them per frame).
        let frame_due = app.dirty && !hangup && failure.is_none();
        let idle = prefetch && !app.dirty && !hangup && failure.is_none();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => {
                    let e = match ev {
                        CtEvent::Key(k) => Some(Event::Key(k)),
                        CtEvent::Paste(s) => Some(Event::Paste(s)),
                        CtEvent::Mouse(m) => Some(Event::Mouse(m)),
                        CtEvent::Resize(_, _) => match term.autoresize() {
                            Ok(()) => Some(Event::Resize),
                            Err(e) => {
                                lost_terminal(app, &mut pending, &mut hangup, &mut failure, e.into());
                                None
                            }
                        },
                        _ => None,
                    };
                    if let Some(e) = e {
                        // What came from the network before this key (held while a frame
                        // was due) first: the key acts on what is already there.
                        drain(&mut rx, &mut batch, app, &mut pending);
                        pending.extend(app::update(app, e));
                        input_pending = true;
                    }
                }
                Some(Err(e)) => {
                    tracing::info!(error = %e, "cannot read the terminal: ending");
                    lost_terminal(app, &mut pending, &mut hangup, &mut failure, e.into());
                }
                None => {
                    tracing::info!("the terminal's input ended: ending");
                    lost_terminal(app, &mut pending, &mut hangup, &mut failure, anyhow::anyhow!("the terminal's input ended"));
                }
            },
            n = rx.recv_many(&mut batch, 256), if !frame_due => {
                if n == 0 {
                    break;
                }
                for m in batch.drain(..) {
                    pending.extend(app::update(app, Event::Msg(m)));
                }
            }
            _ = tick.tick() => pending.extend(app::update(app, Event::Tick)),
            // Nothing else to do for a while: lay out a message of the pages around the view
            // (one at a time, so a key is not kept waiting long), for the next PageUp or
            // PageDown. Not between keys that come quickly (a held PageUp): there each
            // page is laid out when it is shown, as without this.
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(last_draw + IDLE)), if idle => {
                prefetch = app.view.borrow_mut().prefetch(&app.conv.messages, theme, PREFETCH_PAGES);
            }
            _ = tokio::time::sleep_until(next_frame), if app.dirty => {
                // The messages that came while waiting for the frame.
                drain(&mut rx, &mut batch, app, &mut pending);
            }
            _ = sigterm.recv() => pending.extend(app::update(app, Event::Action(Action::Quit))),
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: saving and ending");
                hangup |= terminal::is_gone();
                pending.extend(app::update(app, Event::Action(Action::Quit)));
            }
            _ = sigint.recv() => pending.extend(app::update(app, Event::Action(Action::Quit))),
        }
    }
    // The saves asked for on the way out.
    for fx in pending.drain(..) {
        effects.run(fx);
    }
    effects.finish().await;
    match failure {
        _ if hangup => Ok(Ended::Hangup),
        Some(e) => Err(e),
        None => Ok(Ended::Quit),
    }
}

/// Hand the messages waiting in `rx` to `update()` (up to 1,024: the rest at the next turn
/// of the loop).
fn drain(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    batch: &mut Vec<Msg>,
    app: &mut App,
    pending: &mut Vec<Effect>,
) {
    while batch.len() < 1024 {
        match rx.try_recv() {
            Ok(m) => batch.push(m),
            Err(_) => break,
        }
    }
    for m in batch.drain(..) {
        pending.extend(app::update(app, Event::Msg(m)));
    }
}

/// The terminal failed (`e`): quit as the user would (saving), and draw no more. When the
/// terminal is gone it is a hangup; otherwise the error is reported after the saves.
fn lost_terminal(
    app: &mut App,
    pending: &mut Vec<Effect>,
    hangup: &mut bool,
    failure: &mut Option<anyhow::Error>,
    e: anyhow::Error,
) {
    if terminal::is_gone() {
        *hangup = true;
    } else if failure.is_none() {
        *failure = Some(e);
    }
    if !app.quit {
        pending.extend(app::update(app, Event::Action(Action::Quit)));
    }
}
