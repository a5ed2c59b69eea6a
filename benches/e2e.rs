//! Whole-program performance: the release binary in a real 160x48 pseudo-terminal, against a
//! local server that streams at a fixed rate. Prints a report; run with
//! `cargo bench --bench e2e`. Targets (issue "the full-screen TUI"):
//! - a reply streamed at 200 tokens/s costs < 3 % of one core; the screen trails the server
//!   by < 20 ms;
//! - a 2,000-message, 5 MB transcript opens and shows its end in < 40 ms; each scroll step
//!   is drawn in < 3 ms; resident memory < 40 MB with it open;
//! - start to first frame < 15 ms.
//!
//! A plain pager (`less`) opening the same transcript as Markdown is the floor.

#[path = "../tests/support/pty.rs"]
mod pty;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_tui::api::types::{Mode, Params};
use chat_tui::chat::conversation::{Conversation, Memory, Speaker, Status};
use pty::{Key, Tui};

const COLS: u16 = 160;
const ROWS: u16 = 48;
const BIN: &str = env!("CARGO_BIN_EXE_chat-tui");

/// Send times of each token of the current stream, shared with the measuring side.
type Sent = Arc<Mutex<Vec<Instant>>>;

/// A server that answers every POST with `tokens` SSE chunks at `rate` per second:
/// the tokens are `t00001`, `t00002`, ... so the screen shows how far it got.
fn start_server(tokens: usize, rate: f64, sent: Sent) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let sent = sent.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
                let chunk = |s: &mut std::net::TcpStream, data: &str| {
                    let ev = format!("data: {data}\n\n");
                    let _ = s.write_all(format!("{:x}\r\n{ev}\r\n", ev.len()).as_bytes());
                    let _ = s.flush();
                };
                sent.lock().expect("lock").clear();
                let start = Instant::now();
                let step = Duration::from_secs_f64(1.0 / rate);
                for i in 1..=tokens {
                    let due = start + step * i as u32;
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                    let sep = if i % 12 == 0 { "\\n\\n" } else { " " };
                    chunk(
                        &mut s,
                        &format!(
                            "{{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"t{i:05}{sep}\"}},\"finish_reason\":null}}],\"model\":\"perf\"}}"
                        ),
                    );
                    sent.lock().expect("lock").push(Instant::now());
                }
                chunk(
                    &mut s,
                    "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}",
                );
                chunk(
                    &mut s,
                    &format!(
                        "{{\"choices\":[],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":{tokens},\"total_tokens\":{}}}}}",
                        tokens + 5
                    ),
                );
                chunk(&mut s, "[DONE]");
                let _ = s.write_all(b"0\r\n\r\n");
            });
        }
    });
    url
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    // SC_CLK_TCK is 100 on Linux.
    ticks / 100.0
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn highest_token(screen: &vt100::Screen) -> usize {
    let text = screen.contents();
    let b = text.as_bytes();
    let mut best = 0;
    let mut i = 0;
    while i + 6 <= b.len() {
        if b[i] == b't' && b[i + 1..i + 6].iter().all(u8::is_ascii_digit) {
            let n: usize = text[i + 1..i + 6].parse().unwrap_or(0);
            best = best.max(n);
            i += 6;
        } else {
            i += 1;
        }
    }
    best
}

fn startup(runs: usize, extra: &[&str]) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut args = vec!["--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o"];
        args.extend_from_slice(extra);
        let mut tui = Tui::spawn_cmd(Path::new(BIN), &args, &[], COLS, ROWS);
        tui.wait_for(" message ", Duration::from_secs(10));
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        tui.key(Key::Ctrl('q'));
        tui.wait_exit(Duration::from_secs(5));
    }
    times
}

/// CPU used while the app sits idle for `secs` (the input reader polls, the tick runs).
fn idle(secs: u64) -> f64 {
    let mut tui = Tui::spawn_cmd(
        Path::new(BIN),
        &["--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o"],
        &[],
        COLS,
        ROWS,
    );
    tui.wait_for(" message ", Duration::from_secs(10));
    let pid = tui.pid().expect("pid");
    std::thread::sleep(Duration::from_millis(1500));
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let cpu = cpu_seconds(pid) - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    tui.key(Key::Ctrl('q'));
    tui.wait_exit(Duration::from_secs(5));
    cpu / wall * 100.0
}

fn streaming(tokens: usize, rate: f64) -> (f64, Vec<f64>, f64) {
    let sent: Sent = Arc::new(Mutex::new(Vec::new()));
    let url = start_server(tokens, rate, sent.clone());
    let mut tui = Tui::spawn_cmd(
        Path::new(BIN),
        &["--base-url", &url, "--model", "gpt-4o"],
        &[],
        COLS,
        ROWS,
    );
    tui.wait_for(" message ", Duration::from_secs(10));
    let pid = tui.pid().expect("pid");
    // Let start-up work (tokenizer warm-up) finish before measuring.
    std::thread::sleep(Duration::from_millis(1500));
    tui.send("go");
    tui.key(Key::Enter);
    let seen: RefCell<Vec<(usize, Instant)>> = RefCell::new(Vec::new());
    let cpu0 = cpu_seconds(pid);
    let wall0 = Instant::now();
    tui.wait_until(
        "the whole stream",
        Duration::from_secs(tokens as u64 / rate as u64 + 30),
        |s| {
            let n = highest_token(s);
            let mut v = seen.borrow_mut();
            if v.last().is_none_or(|(m, _)| n > *m) {
                v.push((n, Instant::now()));
            }
            n >= tokens
        },
    );
    tui.wait_for("stop", Duration::from_secs(10));
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    let sent = sent.lock().expect("lock").clone();
    // For each token, when it first showed (the first observation with index >= it).
    let seen = seen.into_inner();
    let mut lags = Vec::new();
    let mut j = 0;
    for (k, t_sent) in sent.iter().enumerate() {
        let idx = k + 1;
        while j < seen.len() && seen[j].0 < idx {
            j += 1;
        }
        if let Some((_, t_seen)) = seen.get(j) {
            lags.push(t_seen.saturating_duration_since(*t_sent).as_secs_f64() * 1e3);
        }
    }
    let rss = rss_mb(pid);
    tui.key(Key::Ctrl('q'));
    tui.wait_exit(Duration::from_secs(5));
    (cpu / wall * 100.0, lags, rss)
}

fn transcript(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let mut c = Conversation::new("gpt-4o", Mode::Chat, Memory::Full);
    c.title = "perf".into();
    let para = "Lorem ipsum dolor sit amet, **consectetur** adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ";
    for i in 0..1000 {
        c.push(Speaker::User, format!("question {i}: {}", &para[..60]));
        let id = c.push_reply(&Params::default(), "gpt-4o");
        let m = c.get_mut(id).expect("reply");
        let mut text = format!("## Answer {i}\n\n");
        let mut k = 0;
        while text.len() < 4900 {
            k += 1;
            text.push_str(&format!("[{i}.{k}] "));
            text.push_str(para);
            if text.len() % 7 == 0 {
                text.push_str("\n\n```rust\nfn main() { println!(\"hi\"); }\n```\n\n");
            }
        }
        if i == 999 {
            text.push_str("\n\nEND-OF-TRANSCRIPT-MARKER");
        }
        m.choice_mut(0).text = text;
        m.status = Status::Complete;
    }
    let json = dir.join("perf.json");
    let bytes = chat_tui::store::to_json(&c);
    std::fs::write(&json, &bytes).expect("write");
    let md = dir.join("perf.md");
    std::fs::write(&md, chat_tui::store::to_markdown(&c)).expect("write md");
    let size = format!(
        "{:.1} MB, {} messages",
        bytes.len() as f64 / 1e6,
        c.messages.len()
    );
    (json, md, size)
}

fn open_transcript(path: &Path, runs: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let mut opens = Vec::new();
    let mut scrolls = Vec::new();
    let mut rss = 0.0;
    for run in 0..runs {
        let p = path.to_string_lossy().to_string();
        let t0 = Instant::now();
        let mut tui = Tui::spawn_cmd(
            Path::new(BIN),
            &[&p, "--base-url", "http://127.0.0.1:9/v1"],
            &[],
            COLS,
            ROWS,
        );
        tui.wait_for("END-OF-TRANSCRIPT-MARKER", Duration::from_secs(30));
        opens.push(t0.elapsed().as_secs_f64() * 1e3);
        if run == 0 {
            std::thread::sleep(Duration::from_millis(500));
            // Focus the history, then scroll page by page; a step is drawn when the screen changes.
            tui.key(Key::Tab);
            for _ in 0..40 {
                let before = tui.screen();
                let t = Instant::now();
                tui.key(Key::PageUp);
                tui.wait_until("the scroll step", Duration::from_secs(5), |s| {
                    let now: String = s.rows(0, COLS).collect::<Vec<_>>().join("\n");
                    let old: Vec<&str> = before.lines().collect();
                    now.lines()
                        .zip(old.iter())
                        .any(|(a, b)| a.trim_end() != b.trim_end())
                });
                scrolls.push(t.elapsed().as_secs_f64() * 1e3);
            }
            rss = rss_mb(tui.pid().expect("pid"));
        }
        tui.key(Key::Ctrl('q'));
        tui.wait_exit(Duration::from_secs(10));
    }
    (opens, scrolls, rss)
}

fn pager(md: &Path, runs: usize) -> Option<Vec<f64>> {
    let less = ["/usr/bin/less", "/bin/less"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut tui = Tui::spawn_cmd(
            Path::new(less),
            &["+G", &md.to_string_lossy()],
            &[],
            COLS,
            ROWS,
        );
        tui.wait_for("END-OF-TRANSCRIPT-MARKER", Duration::from_secs(30));
        times.push(t0.elapsed().as_secs_f64() * 1e3);
        tui.send("q");
        tui.wait_exit(Duration::from_secs(5));
    }
    Some(times)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful: run only
    // when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // E2E_ONLY=startup|idle|streaming|transcript|pager runs one part (e.g. under `perf record`).
    let only = std::env::var("E2E_ONLY").ok();
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("chat-tui whole-program benchmark ({COLS}x{ROWS} pseudo-terminal, release build)");

    if run("startup") {
        // The default theme is `auto`: one background query (OSC 11 + DA1) before the
        // first frame; `--theme dark` asks nothing.
        let mut s = startup(10, &[]);
        let mut d = startup(10, &["--theme", "dark"]);
        println!(
            "start to first frame: median {:.1} ms, p90 {:.1} ms (target < 15 ms); with --theme dark (no background query) median {:.1} ms",
            pct(&mut s, 0.5),
            pct(&mut s, 0.9),
            pct(&mut d, 0.5)
        );
    }

    if run("idle") {
        println!("idle for 10 s: CPU {:.3} % of one core", idle(10));
    }

    if run("streaming") {
        let (cpu, mut lags, rss) = streaming(2000, 200.0);
        println!(
            "streaming 2000 tokens at 200 tok/s: CPU {cpu:.2} % of one core (target < 3 %); screen trails the server by median {:.1} ms, p95 {:.1} ms, max {:.1} ms (target < 20 ms); RSS {rss:.1} MB",
            pct(&mut lags, 0.5),
            pct(&mut lags, 0.95),
            pct(&mut lags, 1.0)
        );
    }

    let (json, md, size) = transcript(dir.path());
    if run("transcript") {
        let (mut opens, mut scrolls, rss) = open_transcript(&json, 5);
        println!(
            "open a {size} transcript and show its end: median {:.1} ms, p90 {:.1} ms (target < 40 ms)",
            pct(&mut opens, 0.5),
            pct(&mut opens, 0.9)
        );
        println!(
            "scroll step (PageUp, key to redrawn screen): median {:.2} ms, p95 {:.2} ms (target < 3 ms); RSS with it open {rss:.1} MB (target < 40 MB)",
            pct(&mut scrolls, 0.5),
            pct(&mut scrolls, 0.95)
        );
    }
    if run("pager") {
        match pager(&md, 5) {
            Some(mut t) => println!(
                "floor: less +G on the same transcript as Markdown: median {:.1} ms",
                pct(&mut t, 0.5)
            ),
            None => println!("floor: less is not installed"),
        }
    }
}
