//! The inspector (`/request`, F3): what the selected reply's request sent and received —
//! method, URL, headers (key masked), the body as sent, the response's status, headers and
//! raw events or body, timings — and, in its second tab, the request Enter would send now.
//! `/copy curl|request|response` copy from the same record.
//!
//! The record is [`crate::api::exchange::Exchange`], made by the client and kept on the reply
//! (see `turn::on_exchange`). This module turns it into the panel's lines; the view only
//! draws them.

use crate::action::{Action, Effect};
use crate::api::exchange::{Exchange, pretty_json};
use crate::app::{App, Focus, NoticeKind, Overlay, selection, server, turn};
use crate::chat::conversation::{Memory, Message, MessageId, Speaker};
use crate::commands::CopyWhat;
use crate::keymap::Context;
use crate::text::thousands;

/// Which request the panel shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// The request that produced the selected reply, and its response.
    Sent,
    /// The request Enter would send now.
    Next,
}

/// The inspector panel.
#[derive(Clone, Debug, PartialEq)]
pub struct InspectorPane {
    /// The reply inspected (`None`: the conversation has none yet).
    pub reply: Option<MessageId>,
    pub tab: Tab,
    /// Lines scrolled.
    pub scroll: u16,
}

/// One line of the panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A section's heading.
    Title(String),
    /// `name: value`.
    Field(String, String),
    /// Text as is (JSON, events).
    Text(String),
    /// An explanation, dimmed.
    Note(String),
    Blank,
}

/// Messages a request produced: replies, and summaries.
fn has_request(m: &Message) -> bool {
    matches!(m.speaker, Speaker::Assistant | Speaker::Summary)
}

/// The reply the inspector and `/copy curl|request|response` act on: the one under the
/// message cursor (in the conversation pane; on a question, its reply), else the last.
pub fn target(app: &App) -> Option<MessageId> {
    let msgs = &app.conv.messages;
    if app.focus == Focus::Conversation
        && let Some(id) = app.selected
        && let Some(pos) = msgs.iter().position(|m| m.id == id)
    {
        if has_request(&msgs[pos]) {
            return Some(id);
        }
        if let Some(m) = msgs[pos..].iter().find(|m| has_request(m)) {
            return Some(m.id);
        }
    }
    msgs.iter()
        .rev()
        .find(|m| m.speaker == Speaker::Assistant)
        .map(|m| m.id)
}

/// `/request`, F3: open the panel on the selected reply (the next request, when there is
/// none yet).
pub fn open(app: &mut App) {
    let reply = target(app);
    app.overlay = Some(Overlay::Inspector(InspectorPane {
        reply,
        tab: if reply.is_some() {
            Tab::Sent
        } else {
            Tab::Next
        },
        scroll: 0,
    }));
}

/// The replies on the path, in order (for ←/→).
fn replies(app: &App) -> Vec<MessageId> {
    app.conv
        .messages
        .iter()
        .filter(|m| has_request(m))
        .map(|m| m.id)
        .collect()
}

/// An action while the inspector is on top.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    let all = replies(app);
    let Some(Overlay::Inspector(pane)) = app.overlay.as_mut() else {
        return Vec::new();
    };
    match a {
        Action::ScrollUp => pane.scroll = pane.scroll.saturating_sub(1),
        Action::ScrollDown => pane.scroll = pane.scroll.saturating_add(1),
        Action::PageUp => pane.scroll = pane.scroll.saturating_sub(10),
        Action::PageDown => pane.scroll = pane.scroll.saturating_add(10),
        Action::ScrollTop => pane.scroll = 0,
        // The view stops at the last line.
        Action::ScrollBottom => pane.scroll = u16::MAX,
        Action::InspectorTab => {
            pane.tab = match pane.tab {
                Tab::Sent => Tab::Next,
                Tab::Next => Tab::Sent,
            };
            pane.scroll = 0;
        }
        Action::PrevChoice | Action::NextChoice => {
            let at = pane.reply.and_then(|r| all.iter().position(|x| *x == r));
            let to = match (a, at) {
                (Action::PrevChoice, Some(i)) => i.checked_sub(1),
                (Action::NextChoice, Some(i)) => (i + 1 < all.len()).then_some(i + 1),
                (_, None) => all.len().checked_sub(1),
                _ => None,
            };
            if let Some(i) = to {
                pane.reply = Some(all[i]);
                pane.tab = Tab::Sent;
                pane.scroll = 0;
            }
        }
        Action::CopyCurl => return copy_from_panel(app, CopyWhat::Curl),
        Action::CopyRequest => return copy_from_panel(app, CopyWhat::Request),
        Action::CopyResponse => return copy_from_panel(app, CopyWhat::Response),
        Action::Close | Action::Inspector => app.overlay = None,
        _ => {}
    }
    Vec::new()
}

/// A copy key in the panel: of what it shows (the next request, in that tab).
fn copy_from_panel(app: &mut App, what: CopyWhat) -> Vec<Effect> {
    let Some(Overlay::Inspector(pane)) = &app.overlay else {
        return Vec::new();
    };
    let result = match (pane.tab, pane.reply) {
        (Tab::Next, _) => copy_next(app, what),
        (Tab::Sent, reply) => copy(app, reply, what),
    };
    match result {
        Ok(fx) => fx,
        Err(e) => {
            app.notify(NoticeKind::Warning, e);
            Vec::new()
        }
    }
}

/// `/copy curl|request|response`: of the selected reply's request.
pub fn copy_command(app: &mut App, what: CopyWhat) -> Result<Vec<Effect>, String> {
    let reply = target(app);
    copy(app, reply, what)
}

fn word(what: CopyWhat) -> &'static str {
    match what {
        CopyWhat::Curl => "curl",
        CopyWhat::Request => "request",
        _ => "response",
    }
}

fn copy(app: &mut App, reply: Option<MessageId>, what: CopyWhat) -> Result<Vec<Effect>, String> {
    let w = word(what);
    let Some(m) = reply.and_then(|id| app.conv.get(id)) else {
        return Err(format!(
            "/copy {w}: no reply yet (the inspector's next request: F3, Tab)"
        ));
    };
    let name = selection::describe(&app.conv.messages, m);
    let Some(ex) = m.exchange.as_deref() else {
        return Err(format!(
            "/copy {w}: {name} has no request record (saved by an older chat-tui, or still being sent)"
        ));
    };
    if ex.trimmed {
        return Err(format!(
            "/copy {w}: only the summary of {name}'s request is kept ({})",
            trimmed_why()
        ));
    }
    let too_big = || {
        format!(
            "/copy {w}: the request body of {name} ({} bytes) was too large to keep",
            ex.body_bytes
        )
    };
    let (text, label) = match what {
        CopyWhat::Curl => (
            ex.curl().ok_or_else(too_big)?,
            format!("curl command, {name}"),
        ),
        CopyWhat::Request => (
            ex.body.clone().ok_or_else(too_big)?,
            format!("request body, {name}"),
        ),
        _ => {
            let raw = ex.raw_response();
            if raw.is_empty() {
                return Err(format!("/copy response: {name} got no response"));
            }
            (raw, format!("raw response, {name}"))
        }
    };
    Ok(selection::copy(app, text, label))
}

/// Why an older record shows only its summary.
fn trimmed_why() -> String {
    format!(
        "a conversation keeps the bodies and events of its newest requests, up to {} MiB, \
         and the summary of older ones",
        crate::api::exchange::KEPT_PER_CONVERSATION / (1024 * 1024)
    )
}

/// The next request (what Enter would send) as an [`Exchange`] without a response.
fn next_exchange(app: &App) -> Exchange {
    let req = turn::next_request(app);
    let body = req.body(req.streams()).to_string();
    let mut rec = crate::api::exchange::Recorder::default();
    rec.begin(
        &format!("{}{}", app.conn.base_url.trim_end_matches('/'), req.path()),
        None,
        &body,
        req.streams(),
    );
    let mut ex = rec.finish();
    ex.duration_ms = None;
    if let Some(mask) = &app.conn.key_mask {
        ex.authorized = true;
        ex.request_headers
            .insert(0, ("Authorization".into(), format!("Bearer {mask}")));
    }
    ex
}

fn copy_next(app: &mut App, what: CopyWhat) -> Result<Vec<Effect>, String> {
    let ex = next_exchange(app);
    let w = word(what);
    let text = match what {
        CopyWhat::Curl => ex.curl(),
        CopyWhat::Request => ex.body.clone(),
        _ => return Err("/copy response: the next request has no response yet".into()),
    }
    .ok_or_else(|| format!("/copy {w}: the next request is too large to copy"))?;
    Ok(selection::copy(app, text, format!("next request ({w})")))
}

/// The panel's title: which request it shows.
pub fn title(app: &App, pane: &InspectorPane) -> String {
    match pane.tab {
        Tab::Next => "next request — what Enter would send now".into(),
        Tab::Sent => match pane.reply.and_then(|id| app.conv.get(id)) {
            Some(m) => format!("request of {}", selection::describe(&app.conv.messages, m)),
            None => "request".into(),
        },
    }
}

/// The panel's lines, for the tab shown.
pub fn lines(app: &App, pane: &InspectorPane) -> Vec<Line> {
    match pane.tab {
        Tab::Sent => sent_lines(app, pane.reply),
        Tab::Next => next_lines(app),
    }
}

fn request_lines(out: &mut Vec<Line>, ex: &Exchange, saved_note: bool) {
    out.push(Line::Title("Request".into()));
    out.push(Line::Text(format!("{} {}", ex.method, ex.url)));
    if ex.retries > 0 {
        out.push(Line::Note(format!(
            "the last of {} attempts (retries and adaptations): what is shown",
            ex.retries + 1
        )));
    }
    out.push(Line::Blank);
    out.push(Line::Title("Request headers".into()));
    if ex.request_headers.is_empty() {
        if saved_note {
            out.push(Line::Note(
                "not saved with the transcript (only the session that sent it shows them)".into(),
            ));
        }
    } else {
        for (k, v) in &ex.request_headers {
            out.push(Line::Field(k.clone(), v.clone()));
        }
    }
    out.push(Line::Blank);
    out.push(Line::Title(format!(
        "Request body · {} bytes",
        thousands(ex.body_bytes)
    )));
    match ex.pretty_body() {
        Some(b) => out.extend(b.lines().map(|l| Line::Text(l.to_string()))),
        None if ex.trimmed => out.push(Line::Note(format!("not kept: {}", trimmed_why()))),
        None => out.push(Line::Note(format!(
            "not kept: over the {} KiB the inspector keeps",
            crate::api::exchange::MAX_REQUEST_BODY / 1024
        ))),
    }
}

fn sent_lines(app: &App, reply: Option<MessageId>) -> Vec<Line> {
    let tab = app
        .keymap
        .hint_key(Context::Inspector, Action::InspectorTab);
    let mut out = Vec::new();
    let Some(m) = reply.and_then(|id| app.conv.get(id)) else {
        out.push(Line::Note(format!(
            "no reply yet: {tab} shows the request Enter would send"
        )));
        return out;
    };
    let Some(ex) = m.exchange.as_deref() else {
        let why = if app.turns.writes(m.id) {
            "its request is still running: the record comes when it ends"
        } else if m.status == crate::chat::conversation::Status::Cancelled {
            "no request record: the request was cancelled before it ended"
        } else {
            "no request record: this reply was saved by a chat-tui that did not keep one"
        };
        out.push(Line::Note(why.into()));
        out.push(Line::Note(format!(
            "{tab} shows the request Enter would send"
        )));
        return out;
    };
    request_lines(&mut out, ex, true);
    out.push(Line::Blank);
    out.push(Line::Title("Response".into()));
    match ex.status {
        Some(s) => out.push(Line::Field(
            "status".into(),
            ex.status_line().unwrap_or(s.to_string()),
        )),
        None => {
            out.push(Line::Note("no response".into()));
            if let crate::chat::conversation::Status::Failed { error } = &m.status {
                out.push(Line::Field("error".into(), error.clone()));
            }
        }
    }
    if !ex.response_headers.is_empty() {
        out.push(Line::Blank);
        out.push(Line::Title("Response headers".into()));
        for (k, v) in &ex.response_headers {
            out.push(Line::Field(k.clone(), v.clone()));
        }
    }
    out.push(Line::Blank);
    if ex.trimmed {
        out.push(Line::Title(if ex.total_events > 0 {
            format!(
                "Events · {} received · {} bytes",
                thousands(ex.total_events),
                thousands(ex.response_bytes)
            )
        } else {
            format!("Response body · {} bytes", thousands(ex.response_bytes))
        }));
        out.push(Line::Note(format!("not kept: {}", trimmed_why())));
    } else if ex.total_events > 0 {
        let left = ex.events_left_out();
        let kept = if left > 0 {
            format!(
                " · first {} and last {} shown",
                ex.events.len(),
                ex.tail.len()
            )
        } else {
            String::new()
        };
        out.push(Line::Title(format!(
            "Events · {} received{kept} · ms from send",
            thousands(ex.total_events)
        )));
        let event = |e: &crate::api::exchange::RawEvent| {
            let name = e
                .event
                .as_deref()
                .map(|n| format!("{n}: "))
                .unwrap_or_default();
            Line::Text(format!("{:>7}  {name}{}", e.ms, e.data))
        };
        out.extend(ex.events.iter().map(event));
        if left > 0 {
            out.push(Line::Note(format!(
                "   … {} events not kept …",
                thousands(left)
            )));
        }
        out.extend(ex.tail.iter().map(event));
    } else if let Some(body) = &ex.response_body {
        let json = serde_json::from_str::<serde_json::Value>(body).is_ok();
        out.push(Line::Title(format!(
            "Response body · {} bytes{}",
            thousands(ex.response_bytes),
            if json { "" } else { " · not JSON" }
        )));
        out.extend(pretty_json(body).lines().map(|l| Line::Text(l.to_string())));
        if ex.response_bytes as usize > crate::api::exchange::MAX_RESPONSE_BODY {
            out.push(Line::Note(format!(
                "cut at {} KiB",
                crate::api::exchange::MAX_RESPONSE_BODY / 1024
            )));
        }
    } else if ex.status.is_some() {
        out.push(Line::Note("the response had no body".into()));
    }
    out.push(Line::Blank);
    out.push(Line::Title("Timings".into()));
    let ms = |v: Option<u64>| v.map_or("—".into(), |v| format!("{} ms", thousands(v)));
    out.push(Line::Field("time to first byte".into(), ms(ex.ttfb_ms)));
    if ex.first_data_ms != ex.ttfb_ms {
        out.push(Line::Field("first data".into(), ms(ex.first_data_ms)));
    }
    out.push(Line::Field("duration".into(), ms(ex.duration_ms)));
    let (tokens, how) = match (&m.usage, m.local_tokens) {
        (Some(u), _) if u.completion_tokens > 0 => (u.completion_tokens, "the server's count"),
        (_, Some(n)) => (n, "counted here"),
        _ => (0, ""),
    };
    let rate = ex.tokens_per_second(tokens).map_or("—".into(), |r| {
        format!(
            "{r:.1} ({} tokens, {how}, after the first data)",
            thousands(tokens)
        )
    });
    out.push(Line::Field("tokens/s".into(), rate));
    out
}

fn next_lines(app: &App) -> Vec<Line> {
    let mut out = Vec::new();
    let ex = next_exchange(app);
    let local = app.next_request_tokens();
    let count = match server::exact(app) {
        server::Exactness::Exact(c) => {
            format!("{} (exact, the server's tokenizer)", thousands(c.request))
        }
        _ => match local {
            Some(n) => format!("{} (estimate)", thousands(n)),
            None => "counting…".into(),
        },
    };
    out.push(Line::Field("tokens".into(), count));
    let mut memory = app.conv.memory.to_string();
    if let (Memory::Summarize, Some(b), Some(n)) = (app.conv.memory, app.budget(), local)
        && n > b.prompt_limit()
    {
        memory.push_str(&format!(
            " · over the budget ({}): Enter summarises earlier messages first",
            thousands(b.prompt_limit())
        ));
    }
    out.push(Line::Field("memory".into(), memory));
    if app.draft.text().trim().is_empty() {
        out.push(Line::Note(
            "the draft is empty: what you type goes in the last message".into(),
        ));
    }
    out.push(Line::Blank);
    request_lines(&mut out, &ex, false);
    out
}
