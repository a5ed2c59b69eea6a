//! Turns: sending a message, asking (or summarising first), retrying (a new version),
//! comparing models, continuing, cancelling, and the replies streaming in. Every request
//! starts in [`start_turn`]; several can be in flight (`/compare`).

use std::time::Instant;

use crate::action::{Effect, TurnId};
use crate::api::error::ApiError;
use crate::api::types::{
    FinishReason, Mode, Outcome, Prompt, Request, Role, StreamEvent, WireMessage,
};
use crate::app::{App, Focus, NoticeKind, STREAM_SAVE_EVERY, command, custody, server};
use crate::chat::conversation::Memory;
use crate::chat::conversation::{MessageId, Speaker, Status};
use crate::chat::memory::{self, Plan};
use crate::chat::prompt;

/// The request in flight.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub id: TurnId,
    pub purpose: Purpose,
    pub started: Instant,
    pub first_token: Option<Instant>,
    /// Deltas received (a token each, for most servers).
    pub deltas: u64,
    /// Per choice: when its reasoning began (until its reply text begins).
    pub reasoning_since: Vec<Option<Instant>>,
    /// A summary's request record, kept until the summary message exists.
    pub exchange: Option<Box<crate::api::exchange::Exchange>>,
}

impl InFlight {
    /// The reply being written, if this turn writes one.
    pub fn reply(&self) -> Option<MessageId> {
        match &self.purpose {
            Purpose::Reply { reply, .. } => Some(*reply),
            Purpose::Summary { .. } => None,
        }
    }
}

/// What a request is for.
#[derive(Clone, Debug, PartialEq)]
pub enum Purpose {
    /// Writing into reply `reply`; `append` continues choice `append` (after `/continue`).
    Reply {
        reply: MessageId,
        append: Option<usize>,
    },
    /// Summarising `ids` before answering `user` (asking `then`, see [`ask`]).
    Summary {
        ids: Vec<MessageId>,
        user: MessageId,
        text: String,
        then: Vec<Target>,
    },
}

/// Who answers a request: a model of this server, or of another profile of the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub model: String,
    /// Another profile (`/compare ollama:llama3`); `None`: the server in use.
    pub profile: Option<String>,
}

impl Target {
    /// `MODEL`, or `PROFILE:MODEL` when PROFILE is one of `profiles` (model names may
    /// hold colons themselves: `llama3:8b`).
    pub fn parse(s: &str, profiles: &[String]) -> Target {
        if let Some((p, m)) = s.split_once(':')
            && !m.is_empty()
            && profiles.iter().any(|x| x == p)
        {
            return Target {
                model: m.to_string(),
                profile: Some(p.to_string()),
            };
        }
        Target {
            model: s.to_string(),
            profile: None,
        }
    }

    /// How it is shown: `MODEL` or `PROFILE:MODEL`.
    pub fn label(&self) -> String {
        match &self.profile {
            Some(p) => format!("{p}:{}", self.model),
            None => self.model.clone(),
        }
    }
}

/// The requests in flight, oldest first: one, or one per version of a `/compare`.
#[derive(Clone, Debug, Default)]
pub struct Turns(Vec<InFlight>);

impl Turns {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &InFlight> {
        self.0.iter()
    }

    /// The oldest request in flight (the status line shows it).
    pub fn first(&self) -> Option<&InFlight> {
        self.0.first()
    }

    pub fn first_mut(&mut self) -> Option<&mut InFlight> {
        self.0.first_mut()
    }

    pub fn get(&self, turn: TurnId) -> Option<&InFlight> {
        self.0.iter().find(|t| t.id == turn)
    }

    pub fn get_mut(&mut self, turn: TurnId) -> Option<&mut InFlight> {
        self.0.iter_mut().find(|t| t.id == turn)
    }

    fn push(&mut self, t: InFlight) {
        self.0.push(t);
    }

    fn take(&mut self, turn: TurnId) -> Option<InFlight> {
        let i = self.0.iter().position(|t| t.id == turn)?;
        Some(self.0.remove(i))
    }

    /// Every request, leaving none in flight.
    pub(crate) fn take_all(&mut self) -> Vec<InFlight> {
        std::mem::take(&mut self.0)
    }

    /// The requests `which` picks, leaving the others in flight.
    pub(crate) fn take_if(&mut self, which: impl Fn(&InFlight) -> bool) -> Vec<InFlight> {
        let (taken, kept) = std::mem::take(&mut self.0).into_iter().partition(which);
        self.0 = kept;
        taken
    }

    /// The replies being written.
    pub fn replies(&self) -> Vec<MessageId> {
        self.0.iter().filter_map(InFlight::reply).collect()
    }

    /// Whether reply `id` is being written.
    pub fn writes(&self, id: MessageId) -> bool {
        self.0.iter().any(|t| t.reply() == Some(id))
    }

    /// Deltas received per second over the requests streaming (the first token on).
    pub fn rate(&self) -> Option<f64> {
        let mut total = 0.0;
        let mut any = false;
        for t in &self.0 {
            if let Some(t0) = t.first_token {
                let secs = t0.elapsed().as_secs_f64().max(0.001);
                total += t.deltas as f64 / secs;
                any = true;
            }
        }
        any.then_some(total)
    }
}

/// Start `request` for `purpose` (through another profile's client for `profile`): the
/// one place a turn begins.
fn start_turn(
    app: &mut App,
    purpose: Purpose,
    request: Request,
    profile: Option<String>,
) -> Vec<Effect> {
    let id = app.alloc_turn();
    app.turns.push(InFlight {
        id,
        purpose,
        started: Instant::now(),
        first_token: None,
        deltas: 0,
        reasoning_since: Vec::new(),
        exchange: None,
    });
    server::note_send(app, &request);
    app.view.get_mut().to_bottom();
    match profile {
        None => vec![Effect::Send { turn: id, request }],
        Some(profile) => vec![Effect::SendWith {
            turn: id,
            request,
            profile,
        }],
    }
}

fn request(app: &App, prompt: Prompt, params: crate::api::types::Params) -> Request {
    Request {
        model: app.conv.model.clone(),
        prompt,
        params,
        stream: app.conn.stream,
        // What the model refuses is adjusted (known in advance, or learnt this session).
        shape: server::shape(app),
    }
}

/// The request Enter would send now with the draft as the question: the memory planner's
/// prompt ([`memory::next_prompt`]) through the same request builder and parameters as
/// [`ask`] (for the inspector's "next request").
pub(crate) fn next_request(app: &App) -> Request {
    let prompt = memory::next_prompt(&app.conv, &app.draft.text());
    let mut params = app.conv.params.clone();
    if app.conv.mode == Mode::Completion
        && matches!(&prompt, Prompt::Completion(p) if p.ends_with(prompt::ASSISTANT_LABEL))
    {
        params = prompt::with_turn_stop(&params);
    }
    request(app, prompt, params)
}

/// A reply is streaming: say so (a new request, and anything that changes the path, must
/// wait for it, or cancel it).
pub(crate) fn still_streaming(app: &mut App) -> bool {
    if !app.turns.is_empty() {
        app.notify(
            NoticeKind::Warning,
            "a reply is still streaming — Esc cancels it",
        );
        true
    } else {
        false
    }
}

/// Enter: run the /command, or send the draft.
pub fn submit(app: &mut App) -> Vec<Effect> {
    let draft = app.draft.text();
    if draft.trim().is_empty() {
        return Vec::new();
    }
    if draft.trim() == "/panic" && app.conn.test_panic {
        // For the fault tests: a panic in the middle of the app.
        panic!("test panic requested with /panic");
    }
    if let Some(rest) = draft.strip_prefix('/')
        && !rest.starts_with('/')
    {
        // A command typed over a message being edited ends the edit.
        let editing = app.editing.take();
        let result = crate::commands::parse(&draft, app.conn.home.as_deref())
            .map_err(command::CommandError)
            .and_then(|cmd| command::run(app, cmd));
        return match result {
            Ok(fx) => {
                app.draft.remember(&draft);
                // A command that fills the input (`/edit`) keeps what it put there.
                if app.draft.text() == draft {
                    app.draft.set("");
                }
                fx
            }
            // A failed command stays in the input, to be corrected.
            Err(e) => {
                if app.editing.is_none() {
                    app.editing = editing;
                }
                app.notify(NoticeKind::Error, e.0);
                Vec::new()
            }
        };
    }
    // `//text` sends `/text`.
    let text = if draft.starts_with("//") {
        draft[1..].to_string()
    } else {
        draft.clone()
    };
    if still_streaming(app)
        || custody::refuse_if_read_only(app, "sent")
        || crate::app::local::blocks_send(app)
    {
        return Vec::new();
    }
    if let Err(e) = app.conv.params.validate(app.conv.mode) {
        app.notify(NoticeKind::Error, format!("not sent: {e}"));
        return Vec::new();
    }
    if let Some(edit) = app.editing.take() {
        return crate::app::branches::send_edit(app, edit, &draft, text);
    }
    // The message takes the draft's count, when it is of this text.
    let count = app
        .tokens
        .draft_count(app.draft.version())
        .filter(|_| text.len() == draft.len());
    app.draft.remember(&draft);
    app.draft.set("");
    app.tokens.sending(text.len(), count);
    send_user_message(app, text, None)
}

/// Append the user's message and ask for the reply. `suffix`: an `/insert`.
pub fn send_user_message(app: &mut App, text: String, suffix: Option<String>) -> Vec<Effect> {
    let id = app.conv.push(Speaker::User, text);
    crate::app::tokens::seed(app, id);
    let counter = *app.tokens.counter();
    if let Some(m) = app.conv.get_mut(id) {
        m.local_tokens = Some(counter.count(&m.content) as u64);
    }
    app.view.get_mut().to_bottom();
    let mut fx = app.save_effect();
    fx.extend(ask(app, id, suffix, Vec::new()));
    fx
}

/// Plan and send the request that answers user message `user` (or summarise first): one
/// reply from the conversation's model, or (with `targets`) one reply per target, each a
/// version of the answer, streaming side by side. The replies follow `user`, which must
/// end the current path; the first is shown.
fn ask(
    app: &mut App,
    user: MessageId,
    suffix: Option<String>,
    targets: Vec<Target>,
) -> Vec<Effect> {
    // The notice that reported the last request's error (error notices do not expire)
    // goes with it; other notices (e.g. start-up warnings) stay.
    if let Some(err) = app.status.last_error.take()
        && app
            .status
            .notice
            .as_ref()
            .is_some_and(|n| n.kind == NoticeKind::Error && n.text == err)
    {
        app.status.notice = None;
    }
    let Some(upto) = app.conv.messages.iter().position(|m| m.id == user) else {
        return Vec::new();
    };
    let plan = if suffix.is_some() {
        // An insertion is standalone: the text before the marker, the suffix after it.
        let text = app.conv.messages[upto].content.clone();
        let tokens = app.tokens.counter().count(&text) as u64;
        Plan::Send {
            prompt: Prompt::Completion(text),
            tokens,
            covered: 1,
        }
    } else {
        memory::plan(&app.conv, upto, &app.tokens.cache, app.budget())
    };
    match plan {
        Plan::Send { prompt, tokens, .. } => {
            let mut params = app.conv.params.clone();
            if let Some(s) = &suffix {
                params.suffix = Some(s.clone());
            }
            if app.conv.mode == Mode::Completion
                && suffix.is_none()
                && matches!(&prompt, Prompt::Completion(p) if p.ends_with(prompt::ASSISTANT_LABEL))
            {
                params = prompt::with_turn_stop(&params);
            }
            // Versions asked of other models are labelled with them.
            let labelled = !targets.is_empty();
            let targets = if targets.is_empty() {
                vec![Target {
                    model: app.conv.model.clone(),
                    profile: None,
                }]
            } else {
                targets
            };
            let mut fx = Vec::new();
            let mut first = None;
            for t in targets {
                // Each reply follows the question: the second and later are versions.
                app.conv.open_at(Some(user));
                let reply = app.conv.push_reply(&params, &t.model);
                if let Some(m) = app.conv.get_mut(reply) {
                    m.request_tokens = Some(tokens);
                    m.suffix = suffix.clone();
                    m.target = labelled.then(|| t.label());
                }
                first.get_or_insert(reply);
                let mut req = request(app, prompt.clone(), params.clone());
                req.model = t.model;
                // What that model refuses, not the conversation's.
                req.shape = server::shape_of(app, &req.model);
                fx.extend(start_turn(
                    app,
                    Purpose::Reply {
                        reply,
                        append: None,
                    },
                    req,
                    t.profile,
                ));
            }
            if let Some(f) = first {
                app.conv.open(f);
            }
            fx
        }
        Plan::Summarize {
            ids,
            request: prompt,
            tokens_before,
        } => {
            app.notify(
                NoticeKind::Info,
                format!(
                    "the history ({tokens_before} tokens) is over the budget: summarising {} earlier messages…",
                    ids.len()
                ),
            );
            let req = request(app, prompt, memory::summary_params(&app.conv.params));
            start_turn(
                app,
                Purpose::Summary {
                    ids,
                    user,
                    text: String::new(),
                    then: targets,
                },
                req,
                None,
            )
        }
    }
}

/// `/retry`, Ctrl+R (no `targets`: the conversation's model), `/retry --model` (one
/// target) and `/compare` (several): ask the question again; every answer is a new version
/// beside the earlier ones, which are kept. The question is the one of the reply the
/// message cursor is on (in the conversation pane), else the last one. Retrying a reply
/// that is not the last forks there: what followed stays on the earlier version.
pub fn retry(app: &mut App, targets: Vec<Target>) -> Vec<Effect> {
    if still_streaming(app)
        || custody::refuse_if_read_only(app, "retried")
        || crate::app::local::blocks_send(app)
    {
        return Vec::new();
    }
    let Some((question, old)) = retry_point(app) else {
        app.notify(NoticeKind::Info, "nothing to retry yet");
        return Vec::new();
    };
    let suffix = old
        .and_then(|r| app.conv.get(r))
        .and_then(|m| m.suffix.clone());
    let forks = app.conv.messages.last().map(|m| m.id) != old.or(Some(question));
    let summary = crate::app::branches::summary_left_behind(app, Some(question));
    app.conv.open_at(Some(question));
    let n = targets.len();
    let fx = ask(app, question, suffix, targets);
    let first = app.turns.replies().first().copied();
    if let Some(id) = first {
        if app.focus == Focus::Conversation {
            app.selected = Some(id);
        }
        let what = if n > 1 {
            format!("{n} new versions")
        } else {
            "a new version".to_string()
        };
        if forks {
            app.notify(
                NoticeKind::Info,
                format!(
                    "{what} of that reply: what followed stays with the earlier version ({})",
                    crate::app::branches::switch_hint(app)
                ),
            );
        } else if let Some(note) = summary {
            app.notify(NoticeKind::Info, note);
        }
    }
    if n > 1 && app.turns.len() > 1 {
        crate::app::compare::open(app, question);
    }
    fx
}

/// The question to ask again, and the reply it replaces on the path (if any): the reply
/// (or question) under the message cursor when the conversation pane has focus, else the
/// last question.
fn retry_point(app: &App) -> Option<(MessageId, Option<MessageId>)> {
    let msgs = &app.conv.messages;
    let at = app
        .selected
        .filter(|_| app.focus == Focus::Conversation)
        .and_then(|id| msgs.iter().position(|m| m.id == id));
    let q = match at {
        Some(p) => msgs[..=p]
            .iter()
            .rposition(|m| m.speaker == Speaker::User)?,
        None => msgs.iter().rposition(|m| m.speaker == Speaker::User)?,
    };
    let old = match at {
        Some(p) if msgs[p].speaker == Speaker::Assistant => Some(msgs[p].id),
        _ => msgs[q + 1..]
            .iter()
            .take_while(|m| m.speaker != Speaker::User)
            .find(|m| m.speaker == Speaker::Assistant)
            .map(|m| m.id),
    };
    Some((msgs[q].id, old))
}

/// `/continue`: ask for more of the last reply (after `finish_reason: length`).
pub fn continue_reply(app: &mut App) -> Vec<Effect> {
    if still_streaming(app)
        || custody::refuse_if_read_only(app, "continued")
        || crate::app::local::blocks_send(app)
    {
        return Vec::new();
    }
    let Some(pos) = app
        .conv
        .messages
        .iter()
        .rposition(|m| m.speaker == Speaker::Assistant)
    else {
        app.notify(NoticeKind::Info, "no reply to continue");
        return Vec::new();
    };
    let reply = app.conv.messages[pos].id;
    let choice = app.conv.messages[pos].selected;
    let partial = app.conv.messages[pos].text().to_string();
    // The conversation up to and including the partial reply, then a request to go on.
    let Some(user_pos) = app.conv.messages[..pos]
        .iter()
        .rposition(|m| m.speaker == Speaker::User)
    else {
        app.notify(NoticeKind::Info, "no question before that reply");
        return Vec::new();
    };
    let prompt = match memory::plan(&app.conv, user_pos, &app.tokens.cache, None) {
        Plan::Send {
            prompt: Prompt::Chat(mut p),
            ..
        } => {
            p.push(WireMessage::new(Role::Assistant, partial));
            p.push(WireMessage::new(
                Role::User,
                "Continue exactly where you stopped, without repeating anything.",
            ));
            Prompt::Chat(p)
        }
        Plan::Send {
            prompt: Prompt::Completion(p),
            ..
        } => {
            let sep = if p.ends_with(prompt::ASSISTANT_LABEL) {
                " "
            } else {
                ""
            };
            Prompt::Completion(format!("{p}{sep}{partial}"))
        }
        Plan::Summarize { .. } => return Vec::new(),
    };
    let mut params = app.conv.params.clone();
    params.n = None;
    params.best_of = None;
    if app.conv.mode == Mode::Completion {
        params = prompt::with_turn_stop(&params);
    }
    if let Some(m) = app.conv.get_mut(reply) {
        m.status = Status::Partial;
        if let Some(c) = m.choices.get_mut(choice) {
            c.finish_reason = None;
        }
        m.touch();
    }
    let mut req = request(app, prompt, params);
    // A version asked of another model goes on with that model.
    let target = app
        .conv
        .get(reply)
        .and_then(|m| m.target.as_deref())
        .map(|t| Target::parse(t, &app.conn.profiles));
    let mut profile = None;
    if let Some(t) = target {
        req.model = t.model;
        req.shape = server::shape_of(app, &req.model);
        profile = t.profile;
    }
    start_turn(
        app,
        Purpose::Reply {
            reply,
            append: Some(choice),
        },
        req,
        profile,
    )
}

/// The token view's Enter: continue reply `reply` from one of its tokens — a new version of
/// it (the old one kept) whose text starts as `text` (the reply up to that token, then the
/// token or an alternative; its log probabilities `kept`), and the model writes on from
/// there. Completion mode only: the prompt is the reply's own prompt (as its request
/// record holds it, else as the conversation makes it now) followed by `text`. Chat
/// servers do not all continue an assistant message they are given, so chat mode refuses.
pub(crate) fn continue_from_token(
    app: &mut App,
    reply: MessageId,
    text: String,
    kept: crate::api::logprobs::Logprobs,
) -> Result<Vec<Effect>, String> {
    if app.conv.mode != Mode::Completion {
        return Err(
            "continuing from a token needs completion mode (/mode completion): a chat server need not continue an assistant message it is sent, so nothing was sent".into(),
        );
    }
    if still_streaming(app)
        || custody::refuse_if_read_only(app, "continued")
        || crate::app::local::blocks_send(app)
    {
        return Ok(Vec::new());
    }
    let Some(m) = app.conv.get(reply) else {
        return Err("that reply is gone".into());
    };
    if !app.conv.on_path(reply) {
        return Err("that reply is no longer shown: open it again".into());
    }
    let Some(question) = m.parent.filter(|q| app.conv.get(*q).is_some()) else {
        return Err("that reply has no prompt before it: nothing to continue from".into());
    };
    let suffix = m.suffix.clone();
    let target = m.target.clone();
    // The prompt the reply was asked with: as sent, when its record holds it…
    let sent = m
        .exchange
        .as_ref()
        .and_then(|ex| ex.body.as_deref())
        .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|v| v.get("prompt").and_then(|p| p.as_str()).map(str::to_string));
    // …and as the conversation makes it now.
    let planned = match &suffix {
        Some(_) => app.conv.get(question).map(|q| q.content.clone()),
        None => app
            .conv
            .messages
            .iter()
            .position(|x| x.id == question)
            .and_then(
                |upto| match memory::plan(&app.conv, upto, &app.tokens.cache, None) {
                    Plan::Send {
                        prompt: Prompt::Completion(p),
                        ..
                    } => Some(p),
                    _ => None,
                },
            ),
    };
    let reply_text = m.text();
    let prompt = match (sent, planned) {
        // A reply that was itself continued (`/continue`, or from a token) was sent with
        // its own beginning after the prompt: the prompt is what comes before that.
        (Some(s), Some(p))
            if s != p
                && s.starts_with(&p)
                && (reply_text.starts_with(&s[p.len()..])
                    || s[p.len()..]
                        .strip_prefix(' ')
                        .is_some_and(|r| reply_text.starts_with(r))) =>
        {
            p
        }
        (Some(s), _) => s,
        (None, Some(p)) => p,
        (None, None) => return Err("could not rebuild that reply's prompt".into()),
    };
    let mut params = app.conv.params.clone();
    params.n = None;
    params.best_of = None;
    params.suffix = suffix.clone();
    if suffix.is_none() && prompt.ends_with(prompt::ASSISTANT_LABEL) {
        params = prompt::with_turn_stop(&params);
    }
    let model = target
        .as_deref()
        .map(|t| Target::parse(t, &app.conn.profiles))
        .unwrap_or(Target {
            model: app.conv.model.clone(),
            profile: None,
        });
    let full = format!("{prompt}{text}");
    app.conv.open_at(Some(question));
    let id = app.conv.push_reply(&params, &model.model);
    let tokens = app.tokens.counter().count(&full) as u64;
    if let Some(m) = app.conv.get_mut(id) {
        m.request_tokens = Some(tokens);
        m.suffix = suffix;
        m.target = target;
        let c = m.choice_mut(0);
        c.text = text;
        c.logprobs = Some(kept);
    }
    app.conv.open(id);
    if app.focus == Focus::Conversation {
        app.selected = Some(id);
    }
    let mut req = request(app, Prompt::Completion(full), params);
    req.model = model.model;
    req.shape = server::shape_of(app, &req.model);
    app.notify(
        NoticeKind::Info,
        "continuing from that token: a new version of the reply (the old one is kept)",
    );
    let mut fx = app.save_effect();
    fx.extend(start_turn(
        app,
        Purpose::Reply {
            reply: id,
            append: Some(0),
        },
        req,
        model.profile,
    ));
    Ok(fx)
}

/// Alt+←/→, `[` `]`: step through the reply's versions and, within a version, its
/// choices (version 1 choice 1, version 1 choice 2, …, version 2 choice 1, …), wrapping.
/// The reply is the one under the message cursor (conversation pane), else the last one.
/// Another version is another branch: what follows it is shown with it.
pub fn switch_choice(app: &mut App, delta: isize) -> Vec<Effect> {
    let at = app
        .selected
        .filter(|_| app.focus == Focus::Conversation)
        .and_then(|id| app.conv.get(id))
        .filter(|m| m.speaker == Speaker::Assistant && app.conv.on_path(m.id))
        .map(|m| m.id);
    let Some(reply) = at.or_else(|| app.conv.last_reply().map(|m| m.id)) else {
        return Vec::new();
    };
    let steps: Vec<(MessageId, usize)> = app
        .conv
        .siblings(reply)
        .into_iter()
        .filter_map(|id| app.conv.get(id))
        .filter(|m| m.speaker == Speaker::Assistant)
        .flat_map(|m| (0..m.choices.len().max(1)).map(move |c| (m.id, c)))
        .collect();
    let selected = app.conv.get(reply).map_or(0, |m| m.selected);
    let Some(cur) = steps.iter().position(|s| *s == (reply, selected)) else {
        return Vec::new();
    };
    if steps.len() < 2 {
        app.notify(
            NoticeKind::Info,
            "this reply has one version and one choice (/retry adds a version; /set n 3 asks for several choices)",
        );
        return Vec::new();
    }
    let (version, choice) = steps[(cur as isize + delta).rem_euclid(steps.len() as isize) as usize];
    if version != reply {
        if !crate::app::branches::may_switch(app, reply, version) {
            return Vec::new();
        }
        app.conv.open(version);
        if app.selected == Some(reply) {
            app.selected = Some(version);
        }
        app.view.get_mut().reveal(version);
    }
    // The saved count is of the text that continues the conversation: the choice shown
    // now (counted now, when the tokenizer is ready, so switching there and back leaves the
    // message — and its file — as it was).
    let counter = *app.tokens.counter();
    if let Some(m) = app.conv.get_mut(version) {
        if m.selected != choice {
            m.selected = choice;
            m.local_tokens = counter.is_ready().then(|| counter.count(m.text()) as u64);
        }
        m.touch();
    }
    app.save_effect()
}

/// Esc: stop every request in flight (all the versions of a `/compare`); a reply keeps
/// its text, marked cancelled.
pub fn cancel(app: &mut App) -> Vec<Effect> {
    let all = app.turns.take_all();
    if all.is_empty() {
        return Vec::new();
    }
    let mut fx = Vec::new();
    for cur in all {
        if let Some(reply) = cur.reply()
            && let Some(m) = app.conv.get_mut(reply)
        {
            m.status = Status::Cancelled;
            m.finished = Some(chrono::Utc::now());
            m.touch();
        }
        fx.push(Effect::Cancel { turn: cur.id });
    }
    app.notify(NoticeKind::Info, "cancelled");
    fx.extend(app.save_effect());
    fx
}

/// A piece of the reply in flight.
pub fn on_stream(app: &mut App, turn: TurnId, event: StreamEvent) -> Vec<Effect> {
    let Some(cur) = app.turns.get_mut(turn) else {
        return Vec::new(); // a cancelled or superseded turn
    };
    app.dirty = true;
    if let StreamEvent::Adapted {
        model,
        adaptation,
        message,
    } = event
    {
        server::adapted(app, &model, adaptation, &message);
        return Vec::new();
    }
    if let StreamEvent::Delta { .. } | StreamEvent::Reasoning { .. } = &event {
        cur.deltas += 1;
        if cur.first_token.is_none() {
            cur.first_token = Some(Instant::now());
        }
    }
    let (reply, append) = match &mut cur.purpose {
        Purpose::Summary { text, .. } => {
            if let StreamEvent::Delta { index: 0, text: t } = event {
                text.push_str(&t);
            }
            return Vec::new();
        }
        Purpose::Reply { reply, append } => (*reply, *append),
    };
    let Some(m) = app.conv.get_mut(reply) else {
        return Vec::new();
    };
    let since = &mut cur.reasoning_since;
    match event {
        StreamEvent::Delta { index, text } => {
            let i = append.unwrap_or(index as usize);
            let c = m.choice_mut(i);
            c.text.push_str(&text);
            // The reply began: the reasoning before it is over.
            if let Some(r) = c.reasoning.as_mut()
                && r.millis.is_none()
                && let Some(t0) = since.get_mut(i).and_then(Option::take)
            {
                r.millis = Some(t0.elapsed().as_millis() as u64);
            }
        }
        StreamEvent::Reasoning { index, text } => {
            let i = append.unwrap_or(index as usize);
            m.choice_mut(i)
                .reasoning
                .get_or_insert_with(Default::default)
                .text
                .push_str(&text);
            if since.len() <= i {
                since.resize(i + 1, None);
            }
            since[i].get_or_insert_with(Instant::now);
        }
        StreamEvent::Logprobs { index, tokens } => {
            let i = append.unwrap_or(index as usize);
            m.choice_mut(i)
                .logprobs
                .get_or_insert_with(Default::default)
                .extend(&tokens);
        }
        StreamEvent::Adapted { .. } => {}
        StreamEvent::Finish { index, reason } => {
            let i = append.unwrap_or(index as usize);
            m.choice_mut(i).finish_reason = Some(reason);
        }
        StreamEvent::Usage(u) => {
            let mut total = m.usage.unwrap_or_default();
            if append.is_some() {
                total.add(&u);
            } else {
                total = u;
            }
            m.usage = Some(total);
            m.touch();
            app.tokens.session.add(&u);
        }
        StreamEvent::Model(name) => {
            m.model = Some(name);
        }
    }
    if app.last_stream_save.elapsed() >= STREAM_SAVE_EVERY {
        return app.save_effect();
    }
    Vec::new()
}

/// A request in flight finished (or failed).
/// The record of what a request sent and received: kept on its reply (a summary's, on the
/// summary once it exists), for the inspector and the transcript.
pub fn on_exchange(app: &mut App, turn: TurnId, exchange: Box<crate::api::exchange::Exchange>) {
    let Some(cur) = app.turns.get_mut(turn) else {
        return; // a cancelled or superseded turn
    };
    match cur.reply() {
        Some(reply) => {
            if let Some(m) = app.conv.get_mut(reply) {
                m.exchange = Some(exchange);
            }
            app.conv
                .trim_exchanges(crate::api::exchange::KEPT_PER_CONVERSATION);
        }
        None => cur.exchange = Some(exchange),
    }
    app.dirty = true;
}

pub fn on_done(app: &mut App, turn: TurnId, result: Result<Outcome, ApiError>) -> Vec<Effect> {
    let Some(cur) = app.turns.take(turn) else {
        return Vec::new(); // a cancelled or superseded turn
    };
    app.dirty = true;
    // Reasoning that no reply text followed: it lasted until the end.
    if let Some(reply) = cur.reply()
        && let Some(m) = app.conv.get_mut(reply)
    {
        for (i, t0) in cur.reasoning_since.iter().enumerate() {
            if let (Some(t0), Some(c)) = (t0, m.choices.get_mut(i))
                && let Some(r) = c.reasoning.as_mut()
                && r.millis.is_none()
            {
                r.millis = Some(t0.elapsed().as_millis() as u64);
            }
        }
    }
    match cur.purpose {
        Purpose::Summary {
            ids,
            user,
            text,
            then,
        } => match result {
            Ok(_) if !text.trim().is_empty() => {
                let id = app.conv.insert_summary(text.trim().to_string(), ids);
                if let Some(m) = app.conv.get_mut(id) {
                    m.exchange = cur.exchange;
                }
                app.conv
                    .trim_exchanges(crate::api::exchange::KEPT_PER_CONVERSATION);
                let mut fx = app.save_effect();
                fx.extend(ask(app, user, None, then));
                fx
            }
            Ok(_) => fail_summary(app, "the model returned an empty summary".into()),
            Err(e) => fail_summary(app, e.to_string()),
        },
        Purpose::Reply { reply, append } => reply_done(app, reply, append, result),
    }
}

fn reply_done(
    app: &mut App,
    reply: MessageId,
    append: Option<usize>,
    result: Result<Outcome, ApiError>,
) -> Vec<Effect> {
    if let Err(e) = &result
        && let Some(fx) = summarize_after_overflow(app, reply, append, e)
    {
        return fx;
    }
    let counter = *app.tokens.counter();
    let Some(m) = app.conv.get_mut(reply) else {
        return Vec::new();
    };
    m.finished = Some(chrono::Utc::now());
    for c in &mut m.choices {
        if let Some(l) = c.logprobs.as_mut() {
            l.shrink_to_fit();
        }
    }
    let notice = match result {
        Ok(outcome) => {
            m.status = Status::Complete;
            if let Some(model) = outcome.model {
                m.model = Some(model);
            }
            m.local_tokens = Some(counter.count(m.text()) as u64);
            let only_reasoned = m.text().is_empty()
                && m.choices
                    .get(m.selected)
                    .and_then(|c| c.reasoning_text())
                    .is_some();
            if !outcome.warnings.is_empty() {
                Some((NoticeKind::Warning, outcome.warnings.join("; ")))
            } else if only_reasoned {
                let cut = m
                    .choices
                    .get(m.selected)
                    .is_some_and(|c| c.finish_reason == Some(FinishReason::Length));
                Some((
                    NoticeKind::Warning,
                    if cut {
                        "the model spent every token reasoning and wrote no reply (finish_reason length): raise max_tokens and /retry".to_string()
                    } else {
                        "the model reasoned but wrote no reply: /retry, or ask again".to_string()
                    },
                ))
            } else if m
                .choices
                .iter()
                .any(|c| c.finish_reason.as_ref() == Some(&FinishReason::Length))
            {
                Some((
                    NoticeKind::Info,
                    "the reply hit max_tokens (finish_reason length): /continue asks for more"
                        .to_string(),
                ))
            } else {
                None
            }
        }
        Err(e) => {
            m.status = match e {
                ApiError::Incomplete => Status::Incomplete,
                _ => Status::Failed {
                    error: e.to_string(),
                },
            };
            let mut text = e.to_string();
            if e.is_context_overflow() && app.conv.memory != Memory::Summarize {
                text.push_str(
                    " (/memory summarize folds old turns into a summary; /new starts afresh)",
                );
            }
            app.status.last_error = Some(text.clone());
            Some((NoticeKind::Error, text))
        }
    };
    if let Some(m) = app.conv.get_mut(reply) {
        m.touch();
    }
    server::count_cost(app, reply);
    if let Some((kind, text)) = notice {
        app.notify(kind, text);
    }
    app.save_effect()
}

/// With `memory summarize`, a server that refuses the request as too long and says how long
/// its context is teaches us the budget: the failed (empty) reply goes, and the question is
/// asked again — which now summarises the oldest turns first. Only once per stated size, so a
/// server that still refuses gets its error shown.
fn summarize_after_overflow(
    app: &mut App,
    reply: MessageId,
    append: Option<usize>,
    e: &ApiError,
) -> Option<Vec<Effect>> {
    if app.conv.memory != Memory::Summarize
        || append.is_some()
        || !e.is_context_overflow()
        || !app.turns.is_empty()
        || !app.conv.on_path(reply)
    {
        return None;
    }
    let window = e.stated_context_window()?;
    if app.tokens.learned_window == Some(window) || app.tokens.window_override.is_some() {
        return None;
    }
    let pos = app.conv.messages.iter().position(|m| m.id == reply)?;
    if !app.conv.messages[pos].text().is_empty() {
        return None;
    }
    let user = app.conv.messages[..pos]
        .iter()
        .rev()
        .find(|m| m.speaker == Speaker::User)?
        .id;
    let target = app.conv.messages[pos].target.clone();
    if !app.conv.remove_leaf(reply) {
        return None;
    }
    app.tokens.learned_window = Some(window);
    app.notify(
        NoticeKind::Info,
        format!(
            "the server's context is {window} tokens: summarising older turns and asking again"
        ),
    );
    // The same model again (the conversation's own, unless it was another one's version).
    let targets: Vec<Target> = target
        .iter()
        .map(|t| Target::parse(t, &app.conn.profiles))
        .collect();
    app.conv.open_at(Some(user));
    Some(ask(app, user, None, targets))
}

fn fail_summary(app: &mut App, error: String) -> Vec<Effect> {
    let text = format!("could not summarise the earlier conversation: {error}");
    let model = app.conv.model.clone();
    let params = app.conv.params.clone();
    let reply = app.conv.push_reply(&params, &model);
    if let Some(m) = app.conv.get_mut(reply) {
        m.status = Status::Failed {
            error: text.clone(),
        };
        m.finished = Some(chrono::Utc::now());
    }
    app.status.last_error = Some(text.clone());
    app.notify(NoticeKind::Error, text);
    app.save_effect()
}
