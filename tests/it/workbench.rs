//! The API workbench through `update()`: logprobs and reasoning stored per choice, what
//! reasoning models refuse, what servers refuse (remembered), the server's context window
//! and exact counts, and cost — and how the panels show them. No terminal, no network.

use chat_tui::action::{Action, Effect, Msg, TurnId};
use chat_tui::api::logprobs::{Alternative, TokenLogprob};
use chat_tui::api::server::{ExactCount, ServerInfo, ServerKind};
use chat_tui::api::{Adaptation, FinishReason, Mode, Outcome, Request, StreamEvent, Usage};
use chat_tui::app::server::{self, Exactness};
use chat_tui::app::{App, Event, Focus, NoticeKind, update};
use chat_tui::chat::capabilities::Support;
use chat_tui::chat::conversation::{Conversation, Memory, Speaker};
use chat_tui::ui::theme::Theme;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::support::update::{key, start};

fn new_app(model: &str) -> App {
    let app = App::new(start(Conversation::new(model, Mode::Chat, Memory::Full)));
    app.tokens.counter().warm_up();
    app
}

/// Put `text` in the input and press Enter.
fn enter(app: &mut App, text: &str) -> Vec<Effect> {
    app.set_draft(text);
    update(app, key(KeyCode::Enter))
}

fn the_send(fx: &[Effect]) -> (TurnId, Request) {
    let sends: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Send { turn, request } => Some((*turn, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "one Send in {fx:?}");
    sends.into_iter().next().unwrap()
}

fn ev(app: &mut App, turn: TurnId, event: StreamEvent) -> Vec<Effect> {
    update(app, Event::Msg(Msg::Stream { turn, event }))
}

fn done(app: &mut App, turn: TurnId) -> Vec<Effect> {
    update(
        app,
        Event::Msg(Msg::Done {
            turn,
            result: Ok(Outcome::default()),
        }),
    )
}

fn tok(t: &str, lp: f32) -> TokenLogprob {
    TokenLogprob {
        bytes: t.as_bytes().to_vec(),
        logprob: lp,
        top: vec![
            Alternative {
                bytes: t.as_bytes().to_vec(),
                logprob: lp,
            },
            Alternative {
                bytes: b" else".to_vec(),
                logprob: lp - 2.0,
            },
        ],
    }
}

fn usage(p: u64, c: u64, reasoning: Option<u64>, cached: Option<u64>) -> StreamEvent {
    StreamEvent::Usage(Usage {
        prompt_tokens: p,
        completion_tokens: c,
        total_tokens: p + c,
        reasoning_tokens: reasoning,
        cached_tokens: cached,
    })
}

fn notice(app: &App) -> String {
    app.status
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

/// The screen as text.
fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| chat_tui::ui::layout::draw(f, app, &Theme::default()))
        .unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn logprobs_are_asked_for_stored_per_choice_and_never_sent_back() {
    let mut app = new_app("test-model");
    assert!(enter(&mut app, "/set logprobs 2").is_empty() || app.conv.params.logprobs == Some(2));
    assert_eq!(app.conv.params.logprobs, Some(2));
    enter(&mut app, "/set n 2");
    let (turn, req) = the_send(&enter(&mut app, "hello"));
    let body = req.body(true);
    assert_eq!(body["logprobs"], serde_json::json!(true));
    assert_eq!(body["top_logprobs"], serde_json::json!(2));
    for (i, t) in [(0, "Hi"), (1, "Yo")] {
        ev(
            &mut app,
            turn,
            StreamEvent::Delta {
                index: i,
                text: t.into(),
            },
        );
        ev(
            &mut app,
            turn,
            StreamEvent::Logprobs {
                index: i,
                tokens: vec![tok(t, -0.5 * (i + 1) as f32)],
            },
        );
    }
    done(&mut app, turn);
    let m = app.conv.last_reply().unwrap();
    for (i, t) in [(0usize, "Hi"), (1, "Yo")] {
        let l = m.choices[i].logprobs.as_ref().expect("stored");
        assert!(l.lines_up_with(t));
        assert_eq!(l.get(0).unwrap().alternative_count(), 2);
    }
    // Out of range: refused, the command stays in the input.
    enter(&mut app, "/set logprobs 21");
    assert_eq!(app.draft_text(), "/set logprobs 21");
    assert!(
        notice(&app).contains("logprobs must be between 0 and 20"),
        "{}",
        notice(&app)
    );
    // The next request carries the text only.
    app.set_draft("");
    let (_, req) = the_send(&enter(&mut app, "and?"));
    let sent = serde_json::to_string(&req.body(false)).unwrap();
    assert!(sent.contains("\"Hi\"") && !sent.contains(" else"), "{sent}");
}

#[test]
fn reasoning_streams_into_its_own_block_timed_and_is_never_sent_back() {
    let mut app = new_app("deepseek-reasoner");
    let (turn, _) = the_send(&enter(&mut app, "what is 2+2"));
    for t in ["Two", " and two", " is four."] {
        ev(
            &mut app,
            turn,
            StreamEvent::Reasoning {
                index: 0,
                text: t.into(),
            },
        );
    }
    let shown = screen(&mut app, 100, 30);
    assert!(shown.contains("▸ thinking…"), "{shown}");
    ev(
        &mut app,
        turn,
        StreamEvent::Delta {
            index: 0,
            text: "4".into(),
        },
    );
    ev(&mut app, turn, usage(12, 40, Some(36), None));
    done(&mut app, turn);
    let m = app.conv.last_reply().unwrap();
    assert_eq!(m.text(), "4");
    let r = m.choices[0].reasoning.as_ref().unwrap();
    assert_eq!(r.text, "Two and two is four.");
    assert!(
        r.millis.is_some(),
        "timed from its first text to the reply's"
    );
    // Collapsed: one line, with the tokens.
    let shown = screen(&mut app, 100, 30);
    assert!(shown.contains("▸ thinking · 36 tokens ·"), "{shown}");
    assert!(!shown.contains("Two and two"), "{shown}");
    // `t` in the conversation pane opens it, and closes it again.
    update(&mut app, Event::Action(Action::FocusNext));
    assert_eq!(app.focus, Focus::Conversation);
    update(&mut app, key(KeyCode::Char('t')));
    let shown = screen(&mut app, 100, 30);
    assert!(
        shown.contains("▾ thinking") && shown.contains("│ Two and two is four."),
        "{shown}"
    );
    assert!(
        shown.contains("t thinking"),
        "the hint bar names the key: {shown}"
    );
    update(&mut app, key(KeyCode::Char('t')));
    assert!(!screen(&mut app, 100, 30).contains("Two and two"));
    // The tokens panel shows the reasoning tokens.
    let shown = screen(&mut app, 160, 40);
    assert!(shown.contains("completion 40 (36 reasoning)"), "{shown}");
    // The next request carries the reply, not the reasoning.
    app.focus = Focus::Input;
    let (_, req) = the_send(&enter(&mut app, "and 3+3?"));
    let sent = serde_json::to_string(&req.body(false)).unwrap();
    assert!(
        sent.contains("\"4\"") && !sent.contains("Two and two"),
        "{sent}"
    );
}

#[test]
fn a_reply_that_only_reasoned_says_so_and_is_not_sent_back() {
    let mut app = new_app("o3-mini");
    let (turn, _) = the_send(&enter(&mut app, "think"));
    ev(
        &mut app,
        turn,
        StreamEvent::Reasoning {
            index: 0,
            text: "hmm".into(),
        },
    );
    ev(
        &mut app,
        turn,
        StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Length,
        },
    );
    done(&mut app, turn);
    let n = app.status.notice.clone().unwrap();
    assert_eq!(n.kind, NoticeKind::Warning);
    assert!(n.text.contains("spent every token reasoning"), "{}", n.text);
    let m = app.conv.last_reply().unwrap();
    assert!(m.choices[0].reasoning.as_ref().unwrap().millis.is_some());
    let (_, req) = the_send(&enter(&mut app, "again"));
    let sent = serde_json::to_string(&req.body(false)).unwrap();
    assert!(!sent.contains("hmm"), "{sent}");
    // No reasoning: `t` says so.
    let mut app = new_app("m");
    update(&mut app, Event::Action(Action::ToggleReasoning));
    assert_eq!(notice(&app), "no reply yet");
}

#[test]
fn reasoning_models_leave_out_what_they_refuse_and_say_so_once() {
    let mut app = new_app("o3-mini");
    enter(&mut app, "/set temperature 0.2");
    enter(&mut app, "/set max_tokens 100");
    let (turn, req) = the_send(&enter(&mut app, "hi"));
    let body = req.body(false);
    assert_eq!(body["max_completion_tokens"], serde_json::json!(100));
    assert!(body.get("temperature").is_none() && body.get("max_tokens").is_none());
    assert_eq!(
        notice(&app),
        "temperature not sent; max_tokens sent as max_completion_tokens (o3-mini does not support them)"
    );
    // The parameters panel says so.
    assert_eq!(server::support(&app, "temperature"), Support::NotSent);
    assert_eq!(
        server::support(&app, "max_tokens"),
        Support::SentAs("max_completion_tokens".into())
    );
    app.params.shown = true;
    let shown = screen(&mut app, 120, 40);
    assert!(
        shown.contains("temperature       0.2 (not sent)"),
        "{shown}"
    );
    assert!(shown.contains("top_p             not supported"), "{shown}");
    assert!(shown.contains("max_tokens        100 (renamed)"), "{shown}");
    assert!(shown.contains("│not supported by this model"), "{shown}");
    assert!(
        shown.contains("│max_tokens → max_completion_tokens"),
        "{shown}"
    );
    ev(
        &mut app,
        turn,
        StreamEvent::Delta {
            index: 0,
            text: "ok".into(),
        },
    );
    done(&mut app, turn);
    app.status.notice = None;
    let (turn, _) = the_send(&enter(&mut app, "again"));
    assert_eq!(notice(&app), "", "said once, not on every request");
    done(&mut app, turn);
    // Another model takes them again.
    enter(&mut app, "/model gpt-4o");
    let (_, req) = the_send(&enter(&mut app, "and now"));
    assert_eq!(req.body(false)["temperature"], serde_json::json!(0.2));
}

#[test]
fn what_a_server_refused_is_remembered_for_that_model() {
    let mut app = new_app("local-model");
    enter(&mut app, "/set top_p 0.5");
    let (turn, req) = the_send(&enter(&mut app, "hi"));
    assert!(req.shape.is_empty());
    ev(
        &mut app,
        turn,
        StreamEvent::Adapted {
            model: "local-model".into(),
            adaptation: Adaptation::Drop {
                name: "top_p".into(),
            },
            message: "Unsupported parameter: 'top_p' is not supported with this model.".into(),
        },
    );
    let n = notice(&app);
    assert!(
        n.starts_with("top_p not sent — the server refused it"),
        "{n}"
    );
    assert!(n.contains("remembered for local-model"), "{n}");
    done(&mut app, turn);
    let (_, req) = the_send(&enter(&mut app, "again"));
    assert!(req.body(false).get("top_p").is_none());
    assert_eq!(server::support(&app, "top_p"), Support::NotSent);
    enter(&mut app, "/model other-model");
    assert_eq!(server::support(&app, "top_p"), Support::Sent);
}

#[test]
fn the_server_is_asked_at_start_and_on_a_new_model_and_its_window_used() {
    let mut app = new_app("smollm2");
    let fx = app.start_effects();
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::ProbeServer { model, more: true } if model == "smollm2")),
        "{fx:?}"
    );
    assert!(
        app.budget().is_none(),
        "an unknown local model has no known window"
    );
    update(
        &mut app,
        Event::Msg(Msg::ServerProbed {
            model: "smollm2".into(),
            result: Ok(ServerInfo {
                kind: ServerKind::LlamaCpp,
                context_window: Some(2048),
                source: Some("llama.cpp /v1/models meta.n_ctx".into()),
            }),
        }),
    );
    assert_eq!(app.budget().unwrap().context_window, 2048);
    assert!(screen(&mut app, 120, 30).contains("/ 2,048 context (server)"));
    // The first-overflow fallback still wins over it (it is what the server refused at).
    app.tokens.learned_window = Some(1024);
    assert_eq!(app.budget().unwrap().context_window, 1024);
    // And the config over both.
    app.tokens.window_override = Some(512);
    assert_eq!(app.budget().unwrap().context_window, 512);
    app.tokens.window_override = None;
    app.tokens.learned_window = None;
    // A models endpoint without context sizes: nothing known, nothing breaks.
    let fx = enter(&mut app, "/model other");
    assert!(fx.iter().any(|e| matches!(e, Effect::ProbeServer { .. })));
    update(
        &mut app,
        Event::Msg(Msg::ServerProbed {
            model: "other".into(),
            result: Ok(ServerInfo {
                kind: ServerKind::Other,
                context_window: None,
                source: None,
            }),
        }),
    );
    assert!(app.budget().is_none());
    assert!(screen(&mut app, 120, 30).contains("context window unknown"));
    // A probe that failed: the same.
    update(
        &mut app,
        Event::Msg(Msg::ServerProbed {
            model: "other".into(),
            result: Err("HTTP 404".into()),
        }),
    );
    assert!(app.budget().is_none());
}

#[test]
fn exact_counts_replace_the_estimate_and_a_failed_count_is_labelled() {
    let mut app = new_app("smollm2");
    update(
        &mut app,
        Event::Msg(Msg::ServerProbed {
            model: "smollm2".into(),
            result: Ok(ServerInfo {
                kind: ServerKind::LlamaCpp,
                context_window: Some(2048),
                source: None,
            }),
        }),
    );
    app.set_draft("你好");
    update(&mut app, Event::Tick);
    // The draft must be still for a moment before the server is asked (no timing is
    // asserted: the test only waits past the debounce).
    std::thread::sleep(server::COUNT_DEBOUNCE);
    let fx = update(&mut app, Event::Tick);
    let Some(Effect::CountExact {
        generation,
        kind,
        draft,
        ..
    }) = fx.iter().find(|e| matches!(e, Effect::CountExact { .. }))
    else {
        panic!("{fx:?}")
    };
    assert_eq!((*kind, draft.as_str()), (ServerKind::LlamaCpp, "你好"));
    assert_eq!(server::exact(&app), Exactness::Counting);
    update(
        &mut app,
        Event::Msg(Msg::ExactCounted {
            generation: *generation,
            result: Ok(ExactCount {
                request: 34,
                draft: 4,
            }),
        }),
    );
    let shown = screen(&mut app, 160, 40);
    assert!(
        shown.contains("draft 4 exact · next request 34 exact"),
        "{shown}"
    );
    // Typing again: the estimate until the server counts again.
    app.set_draft("你好吗");
    assert!(!screen(&mut app, 160, 40).contains("exact"));
    update(&mut app, Event::Tick);
    std::thread::sleep(server::COUNT_DEBOUNCE);
    let fx = update(&mut app, Event::Tick);
    let Some(Effect::CountExact { generation, .. }) =
        fx.iter().find(|e| matches!(e, Effect::CountExact { .. }))
    else {
        panic!("{fx:?}")
    };
    update(
        &mut app,
        Event::Msg(Msg::ExactCounted {
            generation: *generation,
            result: Err("no answer within 10 s".into()),
        }),
    );
    let shown = screen(&mut app, 160, 40);
    assert!(
        shown.contains("(estimate: the server could not count)"),
        "{shown}"
    );
}

#[test]
fn cost_of_the_last_reply_and_the_session_and_none_without_a_price() {
    let mut app = new_app("gpt-4o-mini");
    for (prompt, p, c, cached) in [("one", 1_000_000, 0, None), ("two", 0, 1_000_000, None)] {
        let (turn, _) = the_send(&enter(&mut app, prompt));
        ev(
            &mut app,
            turn,
            StreamEvent::Model("gpt-4o-mini-2024-07-18".into()),
        );
        ev(
            &mut app,
            turn,
            StreamEvent::Delta {
                index: 0,
                text: "ok".into(),
            },
        );
        ev(&mut app, turn, usage(p, c, None, cached));
        done(&mut app, turn);
    }
    // 1M prompt tokens at $0.15, then 1M completion tokens at $0.60.
    let last = app.conv.last_reply().unwrap().id;
    assert_eq!(server::reply_cost(&app, last), Some(0.60));
    assert_eq!(server::session_cost_label(&app).unwrap(), "$0.7500");
    let shown = screen(&mut app, 160, 40);
    assert!(
        shown.contains("tokens · last $0.6000 · session $0.7500"),
        "{shown}"
    );
    // A model without a price: no cost for it (never a guess), the session says so.
    enter(&mut app, "/model smollm2");
    let (turn, _) = the_send(&enter(&mut app, "three"));
    ev(&mut app, turn, StreamEvent::Model("smollm2".into()));
    ev(&mut app, turn, usage(10, 10, None, None));
    done(&mut app, turn);
    let last = app.conv.last_reply().unwrap().id;
    assert_eq!(server::reply_cost(&app, last), None);
    assert_eq!(
        server::session_cost_label(&app).unwrap(),
        "$0.7500 + unpriced"
    );
    let shown = screen(&mut app, 160, 40);
    assert!(
        shown.contains("tokens · session $0.7500 + unpriced"),
        "{shown}"
    );
    // Prices from the config.
    let mut app = new_app("smollm2");
    let mut o = std::collections::BTreeMap::new();
    o.insert(
        "smollm2".to_string(),
        chat_tui::chat::prices::Price {
            input: 1.0,
            cached_input: Some(0.5),
            output: 2.0,
        },
    );
    app.server.prices = chat_tui::chat::prices::Prices::new(o);
    let (turn, _) = the_send(&enter(&mut app, "hi"));
    ev(&mut app, turn, usage(1_000_000, 0, None, Some(500_000)));
    done(&mut app, turn);
    let last = app.conv.last_reply().unwrap().id;
    assert_eq!(server::reply_cost(&app, last), Some(0.75));
}

#[test]
fn a_continued_reply_is_costed_once() {
    let mut app = new_app("gpt-4o-mini");
    let (turn, _) = the_send(&enter(&mut app, "write"));
    ev(
        &mut app,
        turn,
        StreamEvent::Delta {
            index: 0,
            text: "once".into(),
        },
    );
    ev(
        &mut app,
        turn,
        StreamEvent::Finish {
            index: 0,
            reason: FinishReason::Length,
        },
    );
    ev(&mut app, turn, usage(1_000_000, 0, None, None));
    done(&mut app, turn);
    let (turn, _) = the_send(&enter(&mut app, "/continue"));
    ev(&mut app, turn, usage(1_000_000, 0, None, None));
    done(&mut app, turn);
    assert_eq!(
        app.conv
            .messages
            .iter()
            .filter(|m| m.speaker == Speaker::Assistant)
            .count(),
        1
    );
    // Two requests of 1M prompt tokens at $0.15: $0.30, not $0.45.
    assert_eq!(server::session_cost_label(&app).unwrap(), "$0.3000");
}

/// `/compare` (several requests in flight): each version keeps its own request's
/// reasoning, logprobs and usage, however the streams interleave; each request goes out as
/// its own model accepts it; each version is costed at its model's price, and a saved
/// conversation's cost counts every version.
#[test]
fn compare_keeps_each_versions_own_workbench_data_shape_and_cost() {
    let mut app = new_app("gpt-4o-mini");
    enter(&mut app, "/set temperature 0.2");
    let (turn, _) = the_send(&enter(&mut app, "q"));
    ev(
        &mut app,
        turn,
        StreamEvent::Delta {
            index: 0,
            text: "mine".into(),
        },
    );
    ev(&mut app, turn, usage(10, 2, None, None));
    done(&mut app, turn);
    let mine = app.conv.last_reply().unwrap().id;

    let fx = enter(&mut app, "/compare gpt-4o o3-mini");
    let sends: Vec<(TurnId, Request)> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Send { turn, request } => Some((*turn, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 2, "{fx:?}");
    let (big, small) = (&sends[0], &sends[1]);
    assert_eq!(
        (big.1.model.as_str(), small.1.model.as_str()),
        ("gpt-4o", "o3-mini")
    );
    // Shaped for the model asked, not for the conversation's.
    assert_eq!(big.1.body(false)["temperature"], serde_json::json!(0.2));
    assert!(
        small.1.body(false).get("temperature").is_none(),
        "o3-mini refuses temperature: {}",
        small.1.body(false)
    );
    let reply_of = |app: &App, t: TurnId| app.turns.get(t).and_then(|f| f.reply()).unwrap();
    let (v_big, v_small) = (reply_of(&app, big.0), reply_of(&app, small.0));
    assert_ne!(v_big, v_small);

    // Interleaved streams.
    ev(
        &mut app,
        small.0,
        StreamEvent::Reasoning {
            index: 0,
            text: "think".into(),
        },
    );
    ev(
        &mut app,
        big.0,
        StreamEvent::Delta {
            index: 0,
            text: "big".into(),
        },
    );
    ev(
        &mut app,
        big.0,
        StreamEvent::Logprobs {
            index: 0,
            tokens: vec![tok("big", -0.1)],
        },
    );
    ev(
        &mut app,
        small.0,
        StreamEvent::Delta {
            index: 0,
            text: "small".into(),
        },
    );
    ev(&mut app, small.0, usage(10, 50, Some(40), None));
    ev(&mut app, big.0, usage(10, 5, None, Some(8)));
    done(&mut app, small.0);
    done(&mut app, big.0);
    assert!(app.turns.is_empty());

    let m = app.conv.get(v_big).unwrap();
    assert_eq!(m.text(), "big");
    assert_eq!(m.choices[0].logprobs.as_ref().map(|l| l.len()), Some(1));
    assert!(m.choices[0].reasoning.is_none());
    assert_eq!(m.usage.unwrap().cached_tokens, Some(8));
    assert_eq!(m.usage.unwrap().reasoning_tokens, None);
    let m = app.conv.get(v_small).unwrap();
    assert_eq!(m.text(), "small");
    assert!(m.choices[0].logprobs.is_none());
    let r = m.choices[0].reasoning.as_ref().unwrap();
    assert_eq!(r.text, "think");
    assert!(r.millis.is_some(), "timed until its reply began");
    assert_eq!(m.usage.unwrap().reasoning_tokens, Some(40));
    assert_eq!(m.usage.unwrap().cached_tokens, None);
    assert!(app.conv.get(mine).unwrap().choices[0].reasoning.is_none());

    // Each version at its own model's price; the session and a saved conversation's cost
    // count all three requests.
    let costs: Vec<f64> = [mine, v_big, v_small]
        .iter()
        .map(|id| server::reply_cost(&app, *id).unwrap())
        .collect();
    assert!(costs[2] > costs[1] && costs[1] > costs[0], "{costs:?}");
    let total: f64 = costs.iter().sum();
    assert!((app.server.session_cost - total).abs() < 1e-12);
    let (saved, unpriced) =
        chat_tui::cli::conversation_cost(&app.conv, &app.server.prices).unwrap();
    assert!(!unpriced);
    assert!((saved - total).abs() < 1e-12, "{saved} vs {total}");
}

// ---------------------------------------------------------------------------
// The token view (`/logprobs`), continuing from a token, and the tint.

/// A reply streamed as `tokens` (with `tok`'s two alternatives each, probabilities `ps`).
fn streamed(app: &mut App, question: &str, tokens: &[(&str, f64)]) -> (TurnId, Request) {
    let (turn, req) = the_send(&enter(app, question));
    for (t, p) in tokens {
        ev(
            app,
            turn,
            StreamEvent::Delta {
                index: 0,
                text: (*t).into(),
            },
        );
        ev(
            app,
            turn,
            StreamEvent::Logprobs {
                index: 0,
                tokens: vec![tok(t, p.ln() as f32)],
            },
        );
    }
    (turn, req)
}

fn view_pane(app: &App) -> chat_tui::app::logprobs::LogprobsPane {
    match &app.overlay {
        Some(chat_tui::app::Overlay::Logprobs(p)) => p.clone(),
        o => panic!("the token view is not open: {o:?}"),
    }
}

fn cursor(app: &App) -> usize {
    let len = chat_tui::app::logprobs::view_logprobs(app).map_or(0, |l| l.len());
    view_pane(app).cursor(len)
}

const SENTENCE: &[(&str, f64)] = &[
    ("The", 0.97),
    (" cat", 0.62),
    ("\n", 0.95),
    ("你", 0.3),
    ("\t", 0.05),
    (" sat", 0.0004),
];

#[test]
fn the_token_view_opens_on_the_reply_scrolls_and_chooses_an_alternative() {
    let mut app = new_app("test-model");
    enter(&mut app, "/set logprobs 2");
    let (turn, _) = streamed(&mut app, "hello", SENTENCE);
    done(&mut app, turn);
    let reply = app.conv.last_reply().unwrap().id;
    // `p` in the conversation pane (through the key map) opens it on the selected reply.
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Conversation);
    update(&mut app, key(KeyCode::Char('p')));
    assert_eq!(view_pane(&app).reply, Some(reply));
    assert_eq!(cursor(&app), 0);
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("tokens of"), "{s}");
    // Each token made visible, its probability, and its alternatives.
    assert!(s.contains("The") && s.contains("97.0 %"), "{s}");
    assert!(s.contains("·cat") && s.contains("62.0 %"), "{s}");
    assert!(s.contains("⏎") && s.contains("⇥"), "{s}");
    assert!(s.contains("<0.1 %"), "the tiny one: {s}");
    assert!(s.contains("6 tokens"), "{s}");
    assert!(s.contains("perplexity"), "{s}");
    // Scrolling: ↓, End, Home, PgDn stay within the rows.
    update(&mut app, key(KeyCode::Down));
    assert_eq!(cursor(&app), 1);
    update(&mut app, key(KeyCode::End));
    assert_eq!(cursor(&app), 5);
    update(&mut app, key(KeyCode::Down));
    assert_eq!(cursor(&app), 5, "stops at the last token");
    update(&mut app, key(KeyCode::Home));
    assert_eq!(cursor(&app), 0);
    // The mouse wheel moves the cursor three rows (not the conversation behind).
    let wheel = |kind| {
        Event::Mouse(crossterm::event::MouseEvent {
            kind,
            column: 10,
            row: 10,
            modifiers: KeyModifiers::NONE,
        })
    };
    update(
        &mut app,
        wheel(crossterm::event::MouseEventKind::ScrollDown),
    );
    assert_eq!(cursor(&app), 3);
    update(&mut app, wheel(crossterm::event::MouseEventKind::ScrollUp));
    assert_eq!(cursor(&app), 0);
    update(&mut app, key(KeyCode::PageDown));
    assert_eq!(cursor(&app), 5);
    update(&mut app, key(KeyCode::Up));
    // → and Tab choose among the alternatives, wrapping back to the token itself.
    assert_eq!(view_pane(&app).alt, None);
    update(&mut app, key(KeyCode::Right));
    assert_eq!(view_pane(&app).alt, Some(0));
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(view_pane(&app).alt, Some(1));
    update(&mut app, key(KeyCode::Right));
    assert_eq!(view_pane(&app).alt, None);
    update(&mut app, key(KeyCode::Left));
    assert_eq!(view_pane(&app).alt, Some(1));
    // Moving the cursor drops the choice.
    update(&mut app, key(KeyCode::Up));
    assert_eq!((cursor(&app), view_pane(&app).alt), (3, None));
    // The footer comes from the key map.
    let s = screen(&mut app, 100, 30);
    assert!(s.contains("Enter continue from it"), "{s}");
    assert!(s.contains("Esc close"), "{s}");
    update(&mut app, key(KeyCode::Esc));
    assert!(app.overlay.is_none());
    // `/logprobs` opens it too (the last reply with log probabilities).
    update(&mut app, key(KeyCode::Esc));
    enter(&mut app, "/logprobs");
    assert_eq!(view_pane(&app).reply, Some(reply));
}

#[test]
fn a_reply_without_logprobs_says_how_to_get_them_and_a_streaming_one_is_followed() {
    let mut app = new_app("test-model");
    let (turn, _) = the_send(&enter(&mut app, "hello"));
    ev(
        &mut app,
        turn,
        StreamEvent::Delta {
            index: 0,
            text: "Hi".into(),
        },
    );
    done(&mut app, turn);
    enter(&mut app, "/logprobs");
    let s = screen(&mut app, 80, 24);
    assert!(s.contains("/set logprobs N"), "{s}");
    assert!(s.contains("then ask again"), "{s}");
    // Enter does nothing but say so.
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Send { .. })));
    update(&mut app, key(KeyCode::Esc));
    // While a reply streams, the view follows its new tokens.
    enter(&mut app, "/set logprobs 2");
    let (turn, _) = streamed(&mut app, "again", &SENTENCE[..2]);
    enter(&mut app, "/logprobs");
    assert!(view_pane(&app).follow);
    assert_eq!(cursor(&app), 1);
    assert!(screen(&mut app, 80, 24).contains("streaming"));
    for (t, p) in &SENTENCE[2..4] {
        ev(
            &mut app,
            turn,
            StreamEvent::Logprobs {
                index: 0,
                tokens: vec![tok(t, p.ln() as f32)],
            },
        );
    }
    assert_eq!(cursor(&app), 3, "follows the new tokens");
    // Moving up stops following; End follows again.
    update(&mut app, key(KeyCode::Up));
    ev(
        &mut app,
        turn,
        StreamEvent::Logprobs {
            index: 0,
            tokens: vec![tok("x", -0.1)],
        },
    );
    assert_eq!(cursor(&app), 2);
    update(&mut app, key(KeyCode::End));
    assert_eq!(cursor(&app), 4);
    done(&mut app, turn);
}

#[test]
fn enter_on_a_token_continues_from_it_as_a_new_version_in_completion_mode() {
    let mut app = new_app("test-model");
    enter(&mut app, "/mode completion");
    enter(&mut app, "/set logprobs 2");
    let (turn, first) = streamed(
        &mut app,
        "The capital of France?",
        &[(" Paris", 0.9), (" is", 0.5), (" nice", 0.3)],
    );
    done(&mut app, turn);
    let old = app.conv.last_reply().unwrap().id;
    let prompt = first.body(true)["prompt"].as_str().unwrap().to_string();
    enter(&mut app, "/logprobs");
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Right));
    update(&mut app, key(KeyCode::Right));
    assert_eq!(view_pane(&app).alt, Some(1), "` else`");
    let fx = update(&mut app, key(KeyCode::Enter));
    let (turn, req) = the_send(&fx);
    // The exact prefix: the reply's prompt, the reply up to the token, the alternative.
    let body = req.body(true);
    assert_eq!(
        body["prompt"].as_str().unwrap(),
        format!("{prompt} Paris else")
    );
    assert!(body.get("n").is_none());
    assert!(app.overlay.is_none(), "the view closes");
    // A new version of the reply, starting with that text; the old one is kept.
    let new = app.conv.last_reply().unwrap();
    assert_ne!(new.id, old);
    assert_eq!(new.text(), " Paris else");
    assert_eq!(new.fork_label().as_deref(), Some("version 2/2"));
    assert_eq!(app.conv.siblings(new.id).len(), 2);
    ev(
        &mut app,
        turn,
        StreamEvent::Delta {
            index: 0,
            text: " too".into(),
        },
    );
    ev(
        &mut app,
        turn,
        StreamEvent::Logprobs {
            index: 0,
            tokens: vec![tok(" too", -0.2)],
        },
    );
    done(&mut app, turn);
    let new = app.conv.last_reply().unwrap();
    assert_eq!(new.text(), " Paris else too");
    // Its log probabilities: the kept prefix (the alternative as the token), then the new.
    let l = new.choices[0].logprobs.as_ref().unwrap();
    assert!(l.lines_up_with(" Paris else too"));
    assert_eq!(l.get(1).unwrap().text(), " else");
    assert_eq!(app.conv.get(old).unwrap().text(), " Paris is nice");
}

#[test]
fn continuing_from_a_token_is_refused_where_it_cannot_be_made_right() {
    // Chat mode: said in the status line, nothing sent.
    let mut app = new_app("test-model");
    enter(&mut app, "/set logprobs 2");
    let (turn, _) = streamed(&mut app, "hello", &[("Hi", 0.9), (" there", 0.5)]);
    done(&mut app, turn);
    enter(&mut app, "/logprobs");
    update(&mut app, key(KeyCode::Down));
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::Send { .. })),
        "{fx:?}"
    );
    assert!(
        notice(&app).contains("needs completion mode"),
        "{}",
        notice(&app)
    );
    assert!(app.overlay.is_some(), "the view stays open");
    // Completion mode, a token that does not line up with the text, and one that ends
    // inside a character.
    let mut app = new_app("test-model");
    enter(&mut app, "/mode completion");
    enter(&mut app, "/set logprobs 2");
    let (turn, _) = the_send(&enter(&mut app, "hi"));
    ev(
        &mut app,
        turn,
        StreamEvent::Delta {
            index: 0,
            text: "你好".into(),
        },
    );
    let part = |b: &[u8]| TokenLogprob {
        bytes: b.to_vec(),
        logprob: -0.5,
        top: vec![],
    };
    ev(
        &mut app,
        turn,
        StreamEvent::Logprobs {
            index: 0,
            tokens: vec![
                part(&[0xe4, 0xbd]),
                part(&[0xa0]),
                part(b"<extra>"),
                part("好".as_bytes()),
            ],
        },
    );
    done(&mut app, turn);
    enter(&mut app, "/logprobs");
    let s = screen(&mut app, 160, 40);
    assert!(s.contains("<0xE4><0xBD>") && s.contains("<0xA0>"), "{s}");
    assert!(s.contains("do not add up"), "{s}");
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(fx.is_empty());
    assert!(
        notice(&app).contains("ends inside a character"),
        "{}",
        notice(&app)
    );
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Down));
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(fx.is_empty());
    assert!(
        notice(&app).contains("does not line up"),
        "{}",
        notice(&app)
    );
    // The token after a partial one completes the character: that one can be continued.
    update(&mut app, key(KeyCode::Up));
    let fx = update(&mut app, key(KeyCode::Enter));
    let (_, req) = the_send(&fx);
    assert!(
        req.body(true)["prompt"].as_str().unwrap().ends_with("你"),
        "{:?}",
        req.body(true)
    );
    // A reply with no prompt before it (a transcript that starts with one).
    let mut app = new_app("test-model");
    app.conv.mode = Mode::Completion;
    let r = app.conv.push_reply(&Default::default(), "test-model");
    let m = app.conv.get_mut(r).unwrap();
    m.status = chat_tui::chat::conversation::Status::Complete;
    m.choice_mut(0).text = "Hi".into();
    let mut l = chat_tui::api::logprobs::Logprobs::new();
    l.push(&tok("Hi", -0.1));
    m.choice_mut(0).logprobs = Some(l);
    enter(&mut app, "/logprobs");
    let fx = update(&mut app, key(KeyCode::Enter));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Send { .. })));
    assert!(
        notice(&app).contains("no prompt before it"),
        "{}",
        notice(&app)
    );
}

/// The screen, then each cell's tint band (`0`–`3`; `.` for text not tinted).
fn tinted(app: &mut App, w: u16, h: u16) -> String {
    let theme = Theme::default();
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| chat_tui::ui::layout::draw(f, app, &theme))
        .unwrap();
    let buf = t.backend().buffer().clone();
    let mut text = String::new();
    let mut bands = String::new();
    for y in 0..h {
        for x in 0..w {
            let c = &buf[(x, y)];
            text.push_str(c.symbol());
            let b = theme
                .prob
                .iter()
                .position(|p| p.fg.is_some() && p.fg == Some(c.fg));
            bands.push(match b {
                Some(b) => char::from(b'0' + b as u8),
                None if c.symbol().trim().is_empty() => ' ',
                None => '.',
            });
        }
        text.push('\n');
        bands.push('\n');
    }
    format!("{text}--- tint bands ---\n{bands}")
}

#[test]
fn the_tint_colours_tokens_by_probability_with_a_legend_and_toggles() {
    let mut app = new_app("test-model");
    enter(&mut app, "/set logprobs 2");
    let (turn, _) = streamed(
        &mut app,
        "hello",
        &[
            ("**Sure**", 0.97),
            (",", 0.6),
            (" the", 0.2),
            (" answer", 0.04),
            (" is", 0.95),
            (" `42`", 0.7),
        ],
    );
    done(&mut app, turn);
    // Fixed times, for the snapshots.
    let noon = chrono::DateTime::parse_from_rfc3339("2026-01-02T12:00:00Z").unwrap();
    for m in &mut app.conv.messages {
        m.created = noon.to_utc();
    }
    app.view.get_mut().set_utc_offset(*noon.offset());
    // Off by default.
    assert!(!app.tint);
    assert!(!tinted(&mut app, 80, 24).contains("≥90 %"));
    // `P` in the conversation pane turns it on (through the key map)…
    update(&mut app, key(KeyCode::Tab));
    update(&mut app, key(KeyCode::Char('P')));
    assert!(app.tint);
    update(&mut app, key(KeyCode::Esc));
    let s = tinted(&mut app, 80, 24);
    assert!(s.contains("■ ≥90 %"), "the legend: {s}");
    // The reply: **Sure** ≥90 %, `,` ≥50 %, ` the` ≥10 %, ` answer` below, ` is` ≥90 %,
    // ` 42` (its backticks not shown) ≥50 %. (The status line's dot is the `ok` green.)
    assert!(s.contains(". 0000122223333333000111 "), "{s}");
    insta::assert_snapshot!("logprobs_tint_80x24", s);
    insta::assert_snapshot!("logprobs_tint_160x48", tinted(&mut app, 160, 48));
    // …and `/logprobs color` off again (for the session: a new conversation keeps it).
    enter(&mut app, "/logprobs color");
    assert!(!app.tint);
    assert!(!tinted(&mut app, 80, 24).contains("≥90 %"));
    enter(&mut app, "/logprobs color");
    enter(&mut app, "/new");
    assert!(app.tint);
    // With no reply that has log probabilities, turning it on says how to get them.
    enter(&mut app, "/logprobs color");
    enter(&mut app, "/logprobs color");
    assert!(notice(&app).contains("/set logprobs N"), "{}", notice(&app));
    enter(&mut app, "/logprobs colour please");
    assert!(
        notice(&app).contains("expected nothing"),
        "{}",
        notice(&app)
    );
}

/// The token view alone, drawn over a blank screen.
fn panel_only(app: &App, w: u16, h: u16) -> String {
    let pane = view_pane(app);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| chat_tui::ui::logprobs::draw(f, f.area(), app, &pane, &Theme::default()))
        .unwrap();
    t.backend().to_string()
}

#[test]
fn the_token_view_snapshots() {
    let mut app = new_app("test-model");
    enter(&mut app, "/set logprobs 2");
    let (turn, _) = streamed(&mut app, "hello", SENTENCE);
    done(&mut app, turn);
    enter(&mut app, "/logprobs");
    update(&mut app, key(KeyCode::Down));
    update(&mut app, key(KeyCode::Right));
    insta::assert_snapshot!("logprobs_view_80x24", panel_only(&app, 80, 24));
    insta::assert_snapshot!("logprobs_view_160x48", panel_only(&app, 160, 48));
    enter(&mut app, "/logprobs");
}

#[test]
fn twenty_thousand_tokens_with_twenty_alternatives_draw_only_the_rows_shown() {
    let mut app = new_app("test-model");
    enter(&mut app, "/set logprobs 20");
    let (turn, _) = the_send(&enter(&mut app, "long"));
    let mut text = String::new();
    let mut toks = Vec::new();
    for i in 0..20_000usize {
        let t = format!(" w{}", i % 500);
        text.push_str(&t);
        toks.push(TokenLogprob {
            bytes: t.as_bytes().to_vec(),
            logprob: -((i % 7) as f32) * 0.3,
            top: (0..20)
                .map(|j| Alternative {
                    bytes: format!(" a{}", (i + j) % 900).into_bytes(),
                    logprob: -(j as f32),
                })
                .collect(),
        });
    }
    ev(&mut app, turn, StreamEvent::Delta { index: 0, text });
    ev(
        &mut app,
        turn,
        StreamEvent::Logprobs {
            index: 0,
            tokens: toks,
        },
    );
    done(&mut app, turn);
    enter(&mut app, "/logprobs");
    let t0 = std::time::Instant::now();
    let s = screen(&mut app, 160, 48);
    let first = t0.elapsed();
    assert!(s.contains("20,000 tokens"), "{s}");
    update(&mut app, key(KeyCode::End));
    let t0 = std::time::Instant::now();
    let s = screen(&mut app, 160, 48);
    let end = t0.elapsed();
    assert!(s.contains(" 20000 ") || s.contains("20000 "), "{s}");
    assert!(!s.contains("     1 "), "{s}");
    for _ in 0..50 {
        update(&mut app, key(KeyCode::PageUp));
    }
    assert!(cursor(&app) < 19_999);
    // The panel alone, 20 frames. Not asserted (machines are noisy): printed for the notes.
    let t0 = std::time::Instant::now();
    for _ in 0..20 {
        panel_only(&app, 160, 48);
    }
    let panel = t0.elapsed() / 20;
    eprintln!(
        "token view, 20,000 tokens × 20 alternatives, 160x48: whole screen first {first:?}, at the end {end:?}; the panel alone {panel:?} a frame"
    );
}
