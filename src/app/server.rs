//! The app's side of what the server knows, what the model accepts and what replies cost:
//! the probe's answer (kind of server, context window), exact token counts (debounced,
//! one at a time, stale ones dropped), the adaptations for the model, and the session's
//! cost. The I/O happens in the runtime (`Effect::ProbeServer`, `Effect::CountExact`).
//!
//! How it meets local counting (`App::count_pending`, moving to `app/tokens.rs`): the local
//! counts are always there and are the estimate; this module adds the server's exact counts
//! beside them, for the same "next request" ([`crate::chat::memory::next_prompt`] builds
//! exactly what [`crate::chat::memory::next_request_tokens`] counts). The tokens panel asks
//! [`exact`] which one to show.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use crate::action::Effect;
use crate::api::server::{ExactCount, ServerInfo};
use crate::api::types::{Adaptation, Request, Shape, Usage};
use crate::app::{App, NoticeKind};
use crate::chat::capabilities::{self, Learned, Support};
use crate::chat::conversation::MessageId;
use crate::chat::memory;
use crate::chat::prices::{Prices, format_usd};
use crate::chat::tokens;

/// Typing must pause this long before the server is asked for exact counts.
pub const COUNT_DEBOUNCE: Duration = Duration::from_millis(300);

/// What the app knows about the server and the model, and the session's cost.
#[derive(Clone, Debug, Default)]
pub struct ServerState {
    /// The probe's answer, and the model it was about.
    pub info: Option<(String, ServerInfo)>,
    /// Prices: the built-in table and the config's `[prices]`.
    pub prices: Prices,
    /// What the replies of this session cost (those with a price).
    pub session_cost: f64,
    /// Some reply this session had usage but no price.
    pub session_unpriced: bool,
    /// What servers refused, per model (this session).
    pub learned: Learned,
    /// Cost already counted per reply (conversation id, message id): a `/continue` adds
    /// to a reply.
    costed: HashMap<(String, MessageId), f64>,
    /// The last note about parameters not sent, so it is said once per change.
    last_note: Option<String>,
    exact: ExactState,
}

#[derive(Clone, Debug, Default)]
struct ExactState {
    /// What was counted last seen on a tick, and since when.
    seen: u64,
    since: Option<Instant>,
    generation: u64,
    /// The count in flight: (generation, what it counts).
    in_flight: Option<(u64, u64)>,
    counted: Option<(u64, ExactCount)>,
    failed: Option<(u64, String)>,
}

/// Whether the counts shown are the server's.
#[derive(Clone, Debug, PartialEq)]
pub enum Exactness {
    /// The server's tokenizer counted the current request and draft.
    Exact(ExactCount),
    /// The server can count; its count of the current text is on the way.
    Counting,
    /// The server could not count (the reason): the local estimate stands.
    Failed(String),
    /// The server cannot count: the local count.
    Local,
}

/// The server's model can be counted exactly: the kind of server, for the current model.
fn tokenizer(app: &App) -> Option<crate::api::server::ServerKind> {
    let (model, info) = app.server.info.as_ref()?;
    (model == &app.conv.model && info.kind.can_tokenize()).then_some(info.kind)
}

/// A fingerprint of everything the next request depends on.
fn signature(app: &App) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    app.draft.version().hash(&mut h);
    let c = &app.conv;
    (&c.model, c.mode, c.memory.to_string(), &c.system).hash(&mut h);
    for m in &c.messages {
        (
            m.id,
            m.version,
            m.selected,
            m.text().len(),
            m.status.label(),
        )
            .hash(&mut h);
    }
    h.finish()
}

/// The probe to run at start.
pub fn start_effects(app: &App) -> Vec<Effect> {
    vec![probe(app)]
}

fn probe(app: &App) -> Effect {
    let model = app.conv.model.clone();
    let more = tokens::context_window(&model).is_none();
    Effect::ProbeServer { model, more }
}

/// Another model (or server): forget what the old one said, ask the new one.
pub fn model_changed(app: &mut App) -> Vec<Effect> {
    app.server.info = None;
    app.server.exact = ExactState::default();
    app.server.last_note = None;
    vec![probe(app)]
}

/// The probe answered.
pub fn probed(app: &mut App, model: String, result: Result<ServerInfo, String>) {
    if model != app.conv.model {
        return; // about a model no longer in use
    }
    // A server that does not answer the probe is fine: the estimate and the known
    // windows stand.
    app.server.info = result.ok().map(|info| (model, info));
    app.server.exact = ExactState::default();
    app.dirty = true;
}

/// On every tick: ask for exact counts once the text has been still for
/// [`COUNT_DEBOUNCE`], one request at a time, never while a reply streams.
pub fn on_tick(app: &mut App) -> Vec<Effect> {
    let Some(kind) = tokenizer(app) else {
        return Vec::new();
    };
    let sig = signature(app);
    let ex = &mut app.server.exact;
    if sig != ex.seen || ex.since.is_none() {
        ex.seen = sig;
        ex.since = Some(Instant::now());
    }
    let done = ex.counted.as_ref().is_some_and(|(s, _)| *s == sig)
        || ex.failed.as_ref().is_some_and(|(s, _)| *s == sig);
    if done
        || ex.in_flight.is_some()
        || !app.turns.is_empty()
        || ex.since.is_some_and(|t| t.elapsed() < COUNT_DEBOUNCE)
    {
        return Vec::new();
    }
    ex.generation += 1;
    ex.in_flight = Some((ex.generation, sig));
    let generation = ex.generation;
    let draft = app.draft.text();
    vec![Effect::CountExact {
        generation,
        kind,
        model: app.conv.model.clone(),
        prompt: memory::next_prompt(&app.conv, &draft),
        draft,
    }]
}

/// The server's counts came back (or not).
pub fn counted(app: &mut App, generation: u64, result: Result<ExactCount, String>) {
    let ex = &mut app.server.exact;
    let Some((g, sig)) = ex.in_flight else {
        return;
    };
    if g != generation {
        return; // an older request's answer
    }
    ex.in_flight = None;
    match result {
        Ok(c) => {
            ex.counted = Some((sig, c));
            ex.failed = None;
        }
        Err(e) => ex.failed = Some((sig, e)),
    }
    app.dirty = true;
}

/// Which counts the tokens panel shows now.
pub fn exact(app: &App) -> Exactness {
    if tokenizer(app).is_none() {
        return Exactness::Local;
    }
    let sig = signature(app);
    let ex = &app.server.exact;
    if let Some((s, c)) = &ex.counted
        && *s == sig
    {
        return Exactness::Exact(*c);
    }
    if let Some((s, e)) = &ex.failed
        && *s == sig
    {
        return Exactness::Failed(e.clone());
    }
    Exactness::Counting
}

/// The context window the server stated for the current model, and where.
pub fn context_window(app: &App) -> Option<(u64, &str)> {
    let (model, info) = app.server.info.as_ref()?;
    if model != &app.conv.model {
        return None;
    }
    Some((
        info.context_window?,
        info.source.as_deref().unwrap_or("the server"),
    ))
}

/// The adaptations for the current model (known, and learnt this session).
pub fn shape(app: &App) -> Shape {
    shape_of(app, &app.conv.model)
}

/// The adaptations for `model` (a version asked of another model: `/compare`,
/// `/retry --model`).
pub fn shape_of(app: &App, model: &str) -> Shape {
    capabilities::shape_for(model, app.conv.mode, &app.server.learned)
}

/// How parameter `name` goes out to the current model (for the parameters panel).
pub fn support(app: &App, name: &str) -> Support {
    capabilities::support(&shape(app), name)
}

/// A request is about to go: say (once per change) which of the user's parameters it
/// leaves out or renames.
pub fn note_send(app: &mut App, req: &Request) {
    let changes = capabilities::affecting(&req.shape, &req.params);
    let note = capabilities::note(&req.model, &changes);
    if note != app.server.last_note {
        if let Some(text) = &note {
            app.notify(NoticeKind::Info, text.clone());
        }
        app.server.last_note = note;
    }
}

/// The server refused a parameter and the request went again without it: remember, say so.
pub fn adapted(app: &mut App, model: &str, a: Adaptation, message: &str) {
    app.server.learned.learn(model, a.clone());
    let said = crate::api::error::excerpt(message);
    app.notify(
        NoticeKind::Info,
        format!(
            "{} — the server refused it (\"{said}\"); asked again, and remembered for {model} this session",
            a.describe()
        ),
    );
    app.dirty = true;
}

/// The model whose price a reply is billed at: the one that answered, else the one asked.
fn billed_model<'a>(app: &'a App, m: &'a crate::chat::conversation::Message) -> &'a str {
    m.model.as_deref().unwrap_or(&app.conv.model)
}

/// What a reply cost (`None`: no usage, or no price for its model).
pub fn reply_cost(app: &App, id: MessageId) -> Option<f64> {
    let m = app.conv.get(id)?;
    let usage = m.usage?;
    let model = billed_model(app, m);
    app.server
        .prices
        .cost(model, &usage)
        .or_else(|| app.server.prices.cost(&app.conv.model, &usage))
}

/// A reply finished: add what it cost (beyond what was counted for it before) to the
/// session.
pub fn count_cost(app: &mut App, id: MessageId) {
    let Some(usage) = app.conv.get(id).and_then(|m| m.usage) else {
        return;
    };
    if usage == Usage::default() {
        return;
    }
    match reply_cost(app, id) {
        Some(c) => {
            let key = (app.conv.id.clone(), id);
            let before = app.server.costed.insert(key, c).unwrap_or(0.0);
            app.server.session_cost += c - before;
        }
        None => app.server.session_unpriced = true,
    }
}

/// The session's cost for the tokens panel: `$0.0123`, `$0.0123 + unpriced`, or `None`
/// when nothing had a price.
pub fn session_cost_label(app: &App) -> Option<String> {
    if app.server.costed.is_empty() {
        return None;
    }
    let mut s = format_usd(app.server.session_cost);
    if app.server.session_unpriced {
        s.push_str(" + unpriced");
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::server::ServerKind;
    use crate::api::types::Mode;
    use crate::app::Start;
    use crate::chat::conversation::{Conversation, Memory};
    use crate::keymap::Keymap;

    fn app(model: &str) -> App {
        App::new(Start {
            conv: Conversation::new(model, Mode::Chat, Memory::Full),
            keymap: Keymap::default(),
            endpoint: "test".into(),
            context_window: None,
            reply_reserve: None,
            stream: true,
            save: Default::default(),
            first_run: false,
            prompt_history: Vec::new(),
        })
    }

    fn llama(app: &mut App) {
        let model = app.conv.model.clone();
        probed(
            app,
            model,
            Ok(ServerInfo {
                kind: ServerKind::LlamaCpp,
                context_window: Some(2048),
                source: Some("llama.cpp /v1/models meta.n_ctx".into()),
            }),
        );
    }

    #[test]
    fn counts_wait_for_typing_to_pause_and_go_one_at_a_time() {
        let mut a = app("smollm2");
        assert_eq!(exact(&a), Exactness::Local);
        assert!(on_tick(&mut a).is_empty(), "no tokenizer known yet");
        llama(&mut a);
        assert_eq!(exact(&a), Exactness::Counting);
        a.set_draft("你好");
        assert!(on_tick(&mut a).is_empty(), "just typed: wait");
        a.server.exact.since = Some(Instant::now() - COUNT_DEBOUNCE);
        let fx = on_tick(&mut a);
        let Some(Effect::CountExact {
            generation, draft, ..
        }) = fx.first()
        else {
            panic!("{fx:?}")
        };
        assert_eq!(draft, "你好");
        let generation = *generation;
        // One at a time: while it runs, more typing asks for nothing.
        a.set_draft("你好!");
        a.server.exact.since = Some(Instant::now() - COUNT_DEBOUNCE);
        assert!(on_tick(&mut a).is_empty());
        // Its answer is about older text: not shown as exact.
        counted(
            &mut a,
            generation,
            Ok(ExactCount {
                request: 34,
                draft: 4,
            }),
        );
        assert_eq!(exact(&a), Exactness::Counting);
        // The next tick asks about the current text.
        a.server.exact.since = Some(Instant::now() - COUNT_DEBOUNCE);
        let fx = on_tick(&mut a);
        let Some(Effect::CountExact { generation, .. }) = fx.first() else {
            panic!("{fx:?}")
        };
        let g = *generation;
        counted(&mut a, g + 5, Err("stale".into()));
        assert_eq!(
            exact(&a),
            Exactness::Counting,
            "an unknown generation is ignored"
        );
        counted(
            &mut a,
            g,
            Ok(ExactCount {
                request: 35,
                draft: 5,
            }),
        );
        assert_eq!(
            exact(&a),
            Exactness::Exact(ExactCount {
                request: 35,
                draft: 5
            })
        );
        assert!(on_tick(&mut a).is_empty(), "counted: nothing more to ask");
    }

    #[test]
    fn a_failed_count_falls_back_to_the_estimate_labelled() {
        let mut a = app("smollm2");
        llama(&mut a);
        assert!(on_tick(&mut a).is_empty(), "first seen: wait");
        a.server.exact.since = Some(Instant::now() - COUNT_DEBOUNCE);
        let fx = on_tick(&mut a);
        let Some(Effect::CountExact { generation, .. }) = fx.first() else {
            panic!("{fx:?}")
        };
        counted(&mut a, *generation, Err("timed out".into()));
        assert_eq!(exact(&a), Exactness::Failed("timed out".into()));
        a.server.exact.since = Some(Instant::now() - COUNT_DEBOUNCE);
        assert!(
            on_tick(&mut a).is_empty(),
            "not asked again for the same text"
        );
        a.set_draft("more");
        a.server.exact.since = None;
        on_tick(&mut a);
        a.server.exact.since = Some(Instant::now() - COUNT_DEBOUNCE);
        assert_eq!(on_tick(&mut a).len(), 1, "new text: asked again");
    }

    #[test]
    fn the_probe_is_per_model() {
        let mut a = app("smollm2");
        probed(
            &mut a,
            "other".into(),
            Ok(ServerInfo {
                kind: ServerKind::LlamaCpp,
                context_window: Some(4096),
                source: None,
            }),
        );
        assert_eq!(context_window(&a), None, "an answer about another model");
        llama(&mut a);
        assert_eq!(context_window(&a).map(|x| x.0), Some(2048));
        let fx = model_changed(&mut a);
        assert!(matches!(&fx[..], [Effect::ProbeServer { .. }]));
        assert_eq!(context_window(&a), None);
        probed(&mut a, "smollm2".into(), Err("404".into()));
        assert_eq!(a.server.info, None);
    }
}
