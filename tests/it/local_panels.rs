//! Snapshots of the local model's views on ratatui's TestBackend: the progress panel, a
//! failure, the offers, and the welcome screen once it runs. The elapsed times are
//! redacted.

use chat_tui::action::{LocalEvent, Msg};
use chat_tui::api::Mode;
use chat_tui::app::{App, Event, Start, update};
use chat_tui::chat::conversation::{Conversation, Memory};
use chat_tui::local::server::Exit;
use chat_tui::local::{Bytes, Failure, LocalError, Package, Progress, ServerInfo, Step};
use chat_tui::ui::layout;
use chat_tui::ui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::support::update::start;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 36)];

fn app(first_run: bool) -> App {
    let app = App::new(Start {
        endpoint: "api.openai.com".into(),
        first_run,
        ..start(Conversation::new("gpt-4o-mini", Mode::Chat, Memory::Full))
    });
    app.tokens.counter().warm_up();
    app
}

fn ev(app: &mut App, job: u64, event: LocalEvent) {
    update(app, Event::Msg(Msg::Local { job, event }));
}

fn progress(app: &mut App, p: Progress) {
    ev(app, app.local.job, LocalEvent::Progress(p));
}

fn working() -> App {
    let mut a = app(false);
    a.local.autostart = true;
    a.start_effects();
    progress(
        &mut a,
        Progress::Plan(vec![
            Step::Python,
            Step::Venv,
            Step::Install(Package::Server),
            Step::Install(Package::Model),
            Step::Start,
        ]),
    );
    progress(&mut a, Progress::Step(Step::Install(Package::Server)));
    progress(
        &mut a,
        Progress::Line(
            "Downloading xllamacpp-2026.10.11549-cp310-abi3-manylinux2014_x86_64.whl (33.8 MB)"
                .into(),
        ),
    );
    progress(
        &mut a,
        Progress::Bytes(Bytes {
            done: 12_300_000,
            total: Some(33_800_000),
        }),
    );
    a
}

/// `0:07 so far` and `· 0:07` are the clock's: every ` M:SS ` becomes ` #:## `.
fn redact(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = c.clone();
    for i in 0..c.len() {
        if c[i] != ':' {
            continue;
        }
        let mut start = i;
        while start > 0 && c[start - 1].is_ascii_digit() {
            start -= 1;
        }
        let two_after = i + 2 < c.len()
            && c[i + 1].is_ascii_digit()
            && c[i + 2].is_ascii_digit()
            && c.get(i + 3).is_none_or(|x| !x.is_ascii_digit());
        if start < i && start > 0 && c[start - 1] == ' ' && two_after {
            for o in out.iter_mut().take(i + 3).skip(start) {
                if *o != ':' {
                    *o = '#';
                }
            }
        }
    }
    out.into_iter().collect()
}

fn snap(name: &str, app: &App) {
    for (w, h) in SIZES {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| layout::draw(f, app, &Theme::default())).unwrap();
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), redact(&t.backend().to_string()));
    }
}

#[test]
fn progress_while_installing() {
    snap("local_progress", &working());
}

#[test]
fn a_failure_to_start() {
    let mut a = working();
    ev(
        &mut a,
        1,
        LocalEvent::Failed(Failure {
            error: LocalError::ModelLoad(
                "gguf_init_from_reader: failed to read key-value pairs".into(),
            ),
            lines: vec![
                "gguf_init_from_reader: failed to read key-value pairs".into(),
                "llama_model_load: error loading model: llama_model_loader: failed to load model from /tmp/broken.gguf".into(),
                "load_model: failed to load model, '/tmp/broken.gguf'".into(),
                "init: exiting due to model loading error".into(),
            ],
        }),
    );
    snap("local_failed", &a);
}

#[test]
fn the_first_run_offer() {
    let mut a = app(true);
    update(&mut a, Event::Msg(Msg::LocalServer(None)));
    snap("local_offer", &a);
}

fn info() -> ServerInfo {
    ServerInfo {
        base_url: "http://127.0.0.1:41234/v1".into(),
        port: 41234,
        model: "smollm2".into(),
        context: Some(4096),
        pid: 4242,
        port_note: Some("port 8080 was taken: using 41234".into()),
    }
}

#[test]
fn running_then_the_restart_offer() {
    let mut a = working();
    ev(&mut a, 1, LocalEvent::Ready(info()));
    snap("local_running", &a);
    ev(
        &mut a,
        1,
        LocalEvent::Exited(Exit {
            status: "killed by SIGKILL".into(),
            lines: vec!["srv  update_slots: all slots are idle".into()],
        }),
    );
    snap("local_restart_offer", &a);
}
