//! The token view (`/logprobs`, `p` in the conversation): the selected reply's tokens, one
//! row each, with their probabilities and alternatives; Enter continues generation from a
//! token (or one of its alternatives) as a new version of the reply. And the tint
//! (`/logprobs color`, `P`): the conversation pane colours replies' tokens by probability.
//!
//! The log probabilities are the reply's own ([`crate::api::logprobs::Logprobs`], kept per
//! choice); this module holds the panel's cursor and the text helpers the view draws with.
//! Nothing here is proportional to the reply per frame: the view asks for the rows it
//! shows.

use std::borrow::Cow;
use std::cell::Cell;

use crate::action::{Action, Effect};
use crate::api::logprobs::{Logprobs, TokenRef};
use crate::app::{App, Focus, NoticeKind, Overlay, selection};
use crate::chat::conversation::{Message, MessageId, Speaker, Status};
use crate::keymap::Context;

/// The token view.
#[derive(Clone, Debug, PartialEq)]
pub struct LogprobsPane {
    /// The reply shown (its selected choice).
    pub reply: Option<MessageId>,
    /// The token row under the cursor (see [`LogprobsPane::cursor`]).
    pub row: usize,
    /// Following a streaming reply: the cursor stays on its last token.
    pub follow: bool,
    /// The alternative chosen for Enter (`None`: the token itself).
    pub alt: Option<usize>,
    /// The first row drawn last frame, and how many rows fitted (the view writes them, so
    /// paging moves by what is on screen).
    pub top: Cell<usize>,
    pub page: Cell<usize>,
}

impl LogprobsPane {
    /// The cursor's row among `len` tokens.
    pub fn cursor(&self, len: usize) -> usize {
        if self.follow {
            len.saturating_sub(1)
        } else {
            self.row.min(len.saturating_sub(1))
        }
    }
}

/// The reply the view opens on: the one under the message cursor (conversation pane; on a
/// question, its reply), else the last reply with log probabilities, else the last reply.
pub fn target(app: &App) -> Option<MessageId> {
    let msgs = &app.conv.messages;
    if app.focus == Focus::Conversation
        && let Some(id) = app.selected
        && let Some(pos) = msgs.iter().position(|m| m.id == id)
        && let Some(m) = msgs[pos..].iter().find(|m| m.speaker == Speaker::Assistant)
    {
        return Some(m.id);
    }
    msgs.iter()
        .rev()
        .find(|m| m.speaker == Speaker::Assistant && choice_logprobs(m).is_some())
        .or_else(|| msgs.iter().rev().find(|m| m.speaker == Speaker::Assistant))
        .map(|m| m.id)
}

/// The log probabilities of the choice a reply shows.
pub fn choice_logprobs(m: &Message) -> Option<&Logprobs> {
    m.choices
        .get(m.selected)
        .or_else(|| m.choices.first())
        .and_then(|c| c.logprobs.as_ref())
        .filter(|l| !l.is_empty())
}

/// `/logprobs`, `p`: open the view.
pub fn open(app: &mut App) {
    let reply = target(app);
    let streaming = reply.is_some_and(|r| app.turns.writes(r));
    app.overlay = Some(Overlay::Logprobs(LogprobsPane {
        reply,
        row: 0,
        follow: streaming,
        alt: None,
        top: Cell::new(0),
        page: Cell::new(10),
    }));
}

/// `/logprobs color`, `P`: tint replies' tokens by probability (for the session).
pub fn toggle_tint(app: &mut App) {
    app.tint = !app.tint;
    let any = app
        .conv
        .messages
        .iter()
        .any(|m| m.speaker == Speaker::Assistant && choice_logprobs(m).is_some());
    let text = match (app.tint, any) {
        (false, _) => "token tint off".to_string(),
        (true, true) => "token tint on: replies' tokens coloured by probability".to_string(),
        (true, false) => format!(
            "token tint on — no reply here has log probabilities yet: /set logprobs N{}, then ask",
            hint_suffix(app)
        ),
    };
    app.notify(NoticeKind::Info, text);
}

fn hint_suffix(app: &App) -> String {
    let k = app
        .keymap
        .hint_key(Context::Conversation, Action::ToggleTint);
    if k.is_empty() {
        String::new()
    } else {
        format!(" ({k} turns the tint off)")
    }
}

/// An action while the view is on top.
pub fn on_action(app: &mut App, a: Action) -> Vec<Effect> {
    let len = view_logprobs(app).map_or(0, Logprobs::len);
    let alts = view_logprobs(app)
        .zip(cursor_of(app))
        .and_then(|(l, c)| l.get(c))
        .map_or(0, |t| t.alternative_count());
    let Some(Overlay::Logprobs(pane)) = app.overlay.as_mut() else {
        return Vec::new();
    };
    let cur = pane.cursor(len);
    let page = pane.page.get().max(1);
    let go = |pane: &mut LogprobsPane, to: usize| {
        pane.follow = false;
        pane.row = to.min(len.saturating_sub(1));
        pane.alt = None;
    };
    match a {
        Action::SelectPrev | Action::ScrollUp => go(pane, cur.saturating_sub(1)),
        Action::SelectNext | Action::ScrollDown => go(pane, cur + 1),
        Action::PageUp => go(pane, cur.saturating_sub(page)),
        Action::PageDown => go(pane, cur + page),
        Action::ScrollTop => go(pane, 0),
        // The last token, and the new ones while the reply streams.
        Action::ScrollBottom => {
            pane.follow = true;
            pane.alt = None;
        }
        Action::NextChoice | Action::PrevChoice => {
            if alts == 0 {
                return Vec::new();
            }
            pane.row = cur;
            pane.follow = false;
            pane.alt = match (a, pane.alt) {
                (Action::NextChoice, None) => Some(0),
                (Action::NextChoice, Some(i)) if i + 1 < alts => Some(i + 1),
                (Action::NextChoice, Some(_)) => None,
                (_, None) => Some(alts - 1),
                (_, Some(0)) => None,
                (_, Some(i)) => Some(i - 1),
            };
        }
        Action::Accept => return continue_here(app),
        Action::ToggleTint => toggle_tint(app),
        Action::Close | Action::Logprobs => app.overlay = None,
        _ => {}
    }
    Vec::new()
}

/// The mouse wheel over the view: three rows at a time.
pub fn wheel(app: &mut App, down: bool) {
    for _ in 0..3 {
        on_action(
            app,
            if down {
                Action::SelectNext
            } else {
                Action::SelectPrev
            },
        );
    }
}

fn cursor_of(app: &App) -> Option<usize> {
    let Some(Overlay::Logprobs(pane)) = &app.overlay else {
        return None;
    };
    let len = view_logprobs(app).map_or(0, Logprobs::len);
    Some(pane.cursor(len))
}

/// The reply the view shows.
pub fn view_reply(app: &App) -> Option<&Message> {
    let Some(Overlay::Logprobs(pane)) = &app.overlay else {
        return None;
    };
    pane.reply.and_then(|id| app.conv.get(id))
}

/// The log probabilities the view shows.
pub fn view_logprobs(app: &App) -> Option<&Logprobs> {
    view_reply(app).and_then(choice_logprobs)
}

/// What the view says when it has no rows to show.
pub fn empty_note(app: &App) -> String {
    let Some(m) = view_reply(app) else {
        return "no reply yet: ask something first (with /set logprobs N to get the tokens' probabilities)".into();
    };
    let name = selection::describe(&app.conv.messages, m);
    let asked = app.conv.params.logprobs.is_some();
    if app.turns.writes(m.id) {
        if asked {
            return format!("{name} is streaming: its tokens appear here as they come");
        }
        return format!(
            "{name} is streaming without log probabilities: /set logprobs N (0–20 alternatives), then ask again"
        );
    }
    if matches!(m.status, Status::Failed { .. }) && m.text().is_empty() {
        return format!("{name} failed: it has no tokens");
    }
    format!(
        "{name} has no log probabilities: /set logprobs N (0–20 alternatives per token, e.g. /set logprobs 5), then ask again (/retry makes a new version with them)"
    )
}

/// The view's header numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub tokens: usize,
    /// Mean of the tokens' probabilities, 0 to 1.
    pub mean: f64,
    /// The least likely token: (row, probability).
    pub min: (usize, f64),
    /// exp(−mean log probability).
    pub perplexity: f64,
}

/// The header's numbers over every token (no allocation: one pass).
pub fn stats(l: &Logprobs) -> Option<Stats> {
    if l.is_empty() {
        return None;
    }
    let mut sum_p = 0.0;
    let mut sum_lp = 0.0;
    let mut min = (0, f64::INFINITY);
    for (i, t) in l.iter().enumerate() {
        let p = t.probability();
        sum_p += p;
        sum_lp += f64::from(t.logprob());
        if p < min.1 {
            min = (i, p);
        }
    }
    let n = l.len() as f64;
    Some(Stats {
        tokens: l.len(),
        mean: sum_p / n,
        min,
        perplexity: (-sum_lp / n).exp(),
    })
}

/// A probability as a percentage: `97.3 %`, `<0.1 %` for tiny ones, `100 %` for a sure one.
pub fn percent(p: f64) -> String {
    let pct = p * 100.0;
    if pct < 0.05 {
        "<0.1 %".into()
    } else if pct >= 99.95 {
        "100 %".into()
    } else {
        format!("{pct:.1} %")
    }
}

/// A token's text made visible on one row: a space as `·`, a newline as `⏎`, a tab as `⇥`,
/// other control characters as `\u{..}` escapes, and bytes that are not a whole UTF-8
/// character as `<0xE4>`.
pub fn visible(bytes: &[u8]) -> Cow<'_, str> {
    let plain = |c: char| !c.is_control() && c != ' ' && !is_invisible(c);
    if let Ok(s) = std::str::from_utf8(bytes)
        && s.chars().all(plain)
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                ' ' => out.push('·'),
                '\n' => out.push('⏎'),
                '\t' => out.push('⇥'),
                '\r' => out.push_str("\\r"),
                c if c.is_control() || is_invisible(c) => {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("<0x{b:02X}>"));
        }
    }
    Cow::Owned(out)
}

/// Characters that draw nothing (or move the cursor) but are not "control": zero-width and
/// bidirectional marks, the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{ad}')
}

/// Which of the 4 tint bands a probability falls in: 0 for ≥ 90 %, 1 for ≥ 50 %, 2 for
/// ≥ 10 %, 3 below.
pub fn band(p: f64) -> usize {
    if p >= 0.9 {
        0
    } else if p >= 0.5 {
        1
    } else if p >= 0.1 {
        2
    } else {
        3
    }
}

/// The labels of the bands, for the legend.
pub const BANDS: [&str; 4] = ["≥90 %", "≥50 %", "≥10 %", "<10 %"];

/// Enter: continue generation from the cursor's token (or the alternative chosen) — a new
/// version of the reply whose text is the reply up to that token plus the choice.
fn continue_here(app: &mut App) -> Vec<Effect> {
    let Some(Overlay::Logprobs(pane)) = &app.overlay else {
        return Vec::new();
    };
    let (reply, alt) = (pane.reply, pane.alt);
    let Some(m) = reply.and_then(|id| app.conv.get(id)) else {
        return Vec::new();
    };
    let Some(l) = choice_logprobs(m) else {
        app.notify(NoticeKind::Info, empty_note(app));
        return Vec::new();
    };
    let row = pane.cursor(l.len());
    match continuation(m, l, row, alt) {
        Ok((text, kept)) => {
            let id = m.id;
            match crate::app::turn::continue_from_token(app, id, text, kept) {
                Ok(fx) => {
                    app.overlay = None;
                    fx
                }
                Err(e) => {
                    app.notify(NoticeKind::Warning, e);
                    Vec::new()
                }
            }
        }
        Err(e) => {
            app.notify(NoticeKind::Warning, e);
            Vec::new()
        }
    }
}

/// The text a continuation from token `row` starts with (the reply's text before the token,
/// then the token or alternative `alt`) and the log probabilities that text keeps.
pub fn continuation(
    m: &Message,
    l: &Logprobs,
    row: usize,
    alt: Option<usize>,
) -> Result<(String, Logprobs), String> {
    let text = m.text();
    let Some(tok) = l.get(row) else {
        return Err("no token there".into());
    };
    let spans = l.spans(text);
    let Some(Some(at)) = spans.get(row) else {
        return Err(format!(
            "token {} does not line up with the reply's text (the server's tokens do not add up to it): cannot continue from it",
            row + 1
        ));
    };
    let (bytes, logprob): (&[u8], f32) = match alt {
        None => (tok.bytes(), tok.logprob()),
        Some(i) => match tok.alternatives().nth(i) {
            Some(a) => a,
            None => return Err("no such alternative".into()),
        },
    };
    let mut out = text.as_bytes()[..at.start].to_vec();
    out.extend_from_slice(bytes);
    let Ok(text) = String::from_utf8(out) else {
        return Err(format!(
            "token {} ({}) ends inside a character: continue from a token that completes it",
            row + 1,
            visible(bytes)
        ));
    };
    let mut kept = Logprobs::new();
    for t in l.iter().take(row) {
        kept.push(&owned(t, t.bytes(), t.logprob()));
    }
    kept.push(&owned(tok, bytes, logprob));
    Ok((text, kept))
}

fn owned(t: TokenRef<'_>, bytes: &[u8], logprob: f32) -> crate::api::logprobs::TokenLogprob {
    crate::api::logprobs::TokenLogprob {
        bytes: bytes.to_vec(),
        logprob,
        top: t
            .alternatives()
            .map(|(b, lp)| crate::api::logprobs::Alternative {
                bytes: b.to_vec(),
                logprob: lp,
            })
            .collect(),
    }
}

/// True when the tokens add up exactly to `text` (without building the joined text).
pub fn lines_up(l: &Logprobs, text: &str) -> bool {
    let mut rest = text.as_bytes();
    for t in l.iter() {
        match rest.strip_prefix(t.bytes()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}
