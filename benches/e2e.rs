//! Whole-program performance: the release binary in a real 160x48 pseudo-terminal, against a
//! local server that streams at a fixed rate. Prints a report; run with
//! `cargo bench --bench e2e` (`E2E_ONLY=part` runs one part; `CHAT_TUI_BIN=path` measures
//! another build of chat-tui, e.g. the one before a change). Targets and method:
//! `docs/benchmarks.md` (issue 14). The parts:
//! - `startup`: launch to the complete first screen (the welcome text and `● idle`), against
//!   `less` showing a page of text, in turns, in the same run;
//! - `rss`: resident memory after start with each encoding (after the first count), and with
//!   the shared 2,000-message conversation (`../shared/bench/long_chat.py`) open;
//! - `typing`: a 1 MB paste, then keys typed one by one: key to drawn, key to its count;
//! - `streaming`: plain tokens at 200 tok/s: CPU, the screen's lag behind each token, bytes to
//!   the terminal per token;
//! - `markdown`, `burst`: the shared Markdown reply (`../shared/bench/fake_stream.py`) at 200
//!   tok/s and unthrottled: CPU, bytes to the terminal per token, the end's lag;
//! - `transcript` (or `pager`, the same part): a long transcript opened to its end and paged
//!   up through, against `less +G` on the same text as Markdown, in turns in the same run:
//!   the bench's own transcript and the shared long conversation.

#[path = "../tests/support/pty.rs"]
mod pty;

mod common;

use std::cell::RefCell;
use std::io::{BufReader, Write};
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

/// The chat-tui binary measured: this build, or `CHAT_TUI_BIN`.
fn bin() -> std::path::PathBuf {
    std::env::var_os("CHAT_TUI_BIN")
        .map(Into::into)
        .unwrap_or_else(|| BIN.into())
}

/// Send times of each token of the current stream, shared with the measuring side.
type Sent = Arc<Mutex<Vec<Instant>>>;

/// A server that answers every POST with `tokens` SSE chunks at `rate` per second:
/// the tokens are `t00001`, `t00002`, ... so the screen shows how far it got.
fn start_server(tokens: usize, rate: f64, sent: Sent) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    // Only the first chat request's tokens are timed (the app may send others, e.g. a
    // title request, whose tokens would otherwise mix with the reply's).
    let timed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let sent = sent.clone();
            let timed = timed.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let Some((first, _)) = common::read_request(&mut r) else {
                    return;
                };
                if !first.starts_with("POST") {
                    let b = r#"{"object":"list","data":[{"id":"gpt-4o"}]}"#;
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                        b.len()
                    );
                    return;
                }
                let sent = if timed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    Arc::new(Mutex::new(Vec::new()))
                } else {
                    sent
                };
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
    status_mb(pid, "VmRSS:")
}

/// A memory field of /proc/PID/status (VmRSS, VmHWM: the peak), in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
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

/// The complete first screen: the welcome text and the status line.
fn first_screen(s: &vt100::Screen) -> bool {
    let t = s.contents();
    t.contains("Welcome to chat-tui.") && t.contains("● idle")
}

/// Launch to the complete first screen, chat-tui and `less` on a page of text in turns
/// (medians of `runs` each).
fn startup(runs: usize, dir: &Path, extra: &[&str]) -> (Vec<f64>, Option<Vec<f64>>) {
    let less = ["/usr/bin/less", "/bin/less"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let page = dir.join("page.txt");
    let text: String = (1..=ROWS as usize)
        .map(|i| format!("line {i:02} of a page of plain text for the pager to show\n"))
        .collect();
    std::fs::write(&page, text).expect("write page");
    let last = format!("line {:02} of", ROWS - 1);
    let mut ours = Vec::new();
    let mut pager = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        let mut args = vec!["--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o"];
        args.extend_from_slice(extra);
        let mut tui = Tui::spawn_cmd(&bin(), &args, &[], COLS, ROWS);
        tui.wait_until("the first screen", Duration::from_secs(10), first_screen);
        ours.push(t0.elapsed().as_secs_f64() * 1e3);
        tui.key(Key::Ctrl('q'));
        tui.wait_exit(Duration::from_secs(5));
        if let Some(less) = less {
            let t0 = Instant::now();
            let mut tui =
                Tui::spawn_cmd(Path::new(less), &[&page.to_string_lossy()], &[], COLS, ROWS);
            tui.wait_for(&last, Duration::from_secs(10));
            pager.push(t0.elapsed().as_secs_f64() * 1e3);
            tui.send("q");
            tui.wait_exit(Duration::from_secs(5));
        }
    }
    (ours, less.map(|_| pager))
}

/// CPU used while the app sits idle for `secs` (the input reader polls, the tick runs).
fn idle(secs: u64) -> f64 {
    let mut tui = Tui::spawn_cmd(
        &bin(),
        &["--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o"],
        &[],
        COLS,
        ROWS,
    );
    tui.wait_until("the first screen", Duration::from_secs(10), first_screen);
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

/// Resident memory (now, peak) in MB after start with `model`, once a draft has been
/// counted (the tokenizer in use) and start-up work has settled.
fn rss_after_start(model: &str) -> (f64, f64) {
    let mut tui = Tui::spawn_cmd(
        &bin(),
        &["--base-url", "http://127.0.0.1:9/v1", "--model", model],
        &[],
        COLS,
        ROWS,
    );
    tui.wait_until("the first screen", Duration::from_secs(10), first_screen);
    tui.send("hello world, how are you?");
    tui.wait_for("draft 7", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(2000));
    let pid = tui.pid().expect("pid");
    let r = (status_mb(pid, "VmRSS:"), status_mb(pid, "VmHWM:"));
    tui.key(Key::Ctrl('q'));
    tui.wait_exit(Duration::from_secs(5));
    r
}

/// The shared workload's folder (`../shared/bench`, or `CHAT_TUI_BENCH_SHARED`) holding `file`.
fn shared_script(file: &str) -> Option<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("CHAT_TUI_BENCH_SHARED")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain([
            root.join("../shared/bench"),
            root.join("../../shared/bench"),
        ])
        .map(|d| d.join(file))
        .find(|p| p.exists())
}

/// The shared 2,000-message conversation (`long_chat.py`), written to `dir`.
fn shared_long_chat(dir: &Path) -> Option<std::path::PathBuf> {
    let script = shared_script("long_chat.py")?;
    let out = dir.join("long_chat.json");
    let ok = std::process::Command::new("python3")
        .arg(&script)
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(out)
}

/// Bytes a process has written (`wchar` of /proc/PID/io): to the terminal, and also the
/// request and the autosaves of the transcript while the reply streams.
fn wchar(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The shared streaming server (`fake_stream.py`: the rich Markdown reply, one token per
/// SSE event), serving one request; killed on drop.
struct FakeStream {
    child: std::process::Child,
    url: String,
    log: std::path::PathBuf,
}

impl FakeStream {
    fn start(dir: &Path, tokens: usize, tps: f64) -> Option<FakeStream> {
        let script = shared_script("fake_stream.py")?;
        let port_file = dir.join(format!("port-{tokens}-{tps}"));
        let log = dir.join(format!("log-{tokens}-{tps}.jsonl"));
        let _ = std::fs::remove_file(&port_file);
        let _ = std::fs::remove_file(&log);
        let child = std::process::Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--port-file"])
            .arg(&port_file)
            .args(["--tokens", &tokens.to_string(), "--tps", &tps.to_string()])
            .args([
                "--chunk",
                "1",
                "--max-requests",
                "1",
                "--max-seconds",
                "900",
            ])
            .arg("--log")
            .arg(&log)
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let mut server = FakeStream {
            child,
            url: String::new(),
            log,
        };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(port) = std::fs::read_to_string(&port_file) {
                server.url = format!("http://127.0.0.1:{}/v1", port.trim());
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// When the server wrote the reply's last byte (seconds since the epoch), from its log.
    fn ended(&self) -> Option<f64> {
        let log = std::fs::read_to_string(&self.log).ok()?;
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["phase"] == "end")
            .and_then(|v| v["t_end"].as_f64())
    }
}

impl Drop for FakeStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One reply of the shared workload streamed to chat-tui.
struct SharedRun {
    tokens: usize,
    /// CPU-seconds from Enter to the reply's end on screen.
    cpu: f64,
    wall: f64,
    /// Bytes the terminal received over the reply (read off the pseudo-terminal).
    pty_bytes: usize,
    /// `wchar` over the same span (adds the request and the autosaves).
    wchar: u64,
    /// The server's last byte to the end marker on screen, in ms.
    lag: f64,
}

/// Stream the shared Markdown reply (`tokens` at `tps` tokens a second, 0: unthrottled,
/// one token per event) and measure CPU, bytes to the terminal and the end's lag.
fn shared_stream(dir: &Path, tokens: usize, tps: f64) -> Option<SharedRun> {
    let server = FakeStream::start(dir, tokens, tps)?;
    let mut tui = Tui::spawn_cmd(
        &bin(),
        &["--base-url", &server.url, "--model", "gpt-4o"],
        &[],
        COLS,
        ROWS,
    );
    tui.wait_for(" message ", Duration::from_secs(10));
    let pid = tui.pid().expect("pid");
    // Let start-up work (tokenizer warm-up) finish before measuring.
    std::thread::sleep(Duration::from_millis(1500));
    let bytes0 = tui.raw_output().len();
    let (cpu0, w0) = (cpu_seconds(pid), wchar(pid));
    let t0 = Instant::now();
    tui.send("go");
    tui.key(Key::Enter);
    let budget = if tps > 0.0 { tokens as f64 / tps } else { 60.0 };
    tui.wait_for("ZQXENDMARK", Duration::from_secs_f64(budget + 60.0));
    let seen = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    // The status line's end of the reply, then what it all wrote.
    tui.wait_for("stop", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let pty_bytes = tui.raw_output().len() - bytes0;
    let wchar = wchar(pid) - w0;
    let lag = server.ended().map_or(f64::NAN, |end| (seen - end) * 1e3);
    tui.key(Key::Ctrl('q'));
    tui.wait_exit(Duration::from_secs(10));
    Some(SharedRun {
        tokens,
        cpu,
        wall,
        pty_bytes,
        wchar,
        lag,
    })
}

fn print_shared(what: &str, r: &SharedRun) {
    println!(
        "{what}: CPU {:.3} s over {:.2} s = {:.2} % of one core; to the terminal {:.0} KB = {:.1} bytes/token (wchar {:.0} KB = {:.1} bytes/token); the end on screen {:.1} ms after the server's last byte",
        r.cpu,
        r.wall,
        r.cpu / r.wall * 100.0,
        r.pty_bytes as f64 / 1e3,
        r.pty_bytes as f64 / r.tokens as f64,
        r.wchar as f64 / 1e3,
        r.wchar as f64 / r.tokens as f64,
        r.lag
    );
}

/// Open `path` (ending in `marker`): time to its end on screen, then resident memory
/// (now, peak) once the background counts have settled.
fn rss_with(path: &Path, marker: &str) -> (f64, f64, f64) {
    let t0 = Instant::now();
    let mut tui = Tui::spawn_cmd(
        &bin(),
        &[
            &path.to_string_lossy(),
            "--base-url",
            "http://127.0.0.1:9/v1",
        ],
        &[],
        COLS,
        ROWS,
    );
    tui.wait_for(marker, Duration::from_secs(60));
    let open = t0.elapsed().as_secs_f64() * 1e3;
    tui.wait_until("the counts", Duration::from_secs(60), |s| {
        s.contents().contains("next request ~")
    });
    std::thread::sleep(Duration::from_millis(2000));
    let pid = tui.pid().expect("pid");
    let r = (open, status_mb(pid, "VmRSS:"), status_mb(pid, "VmHWM:"));
    tui.key(Key::Ctrl('q'));
    tui.wait_exit(Duration::from_secs(10));
    r
}

/// About `bytes` of English prose in paragraphs, for the paste.
fn prose(bytes: usize) -> String {
    let para = "The tutorial drives the text-completion API from Python and turns it into a chatbot; each request carries the earlier turns, so the prompt grows with the conversation. ";
    let mut s = String::with_capacity(bytes + 1000);
    let mut i = 0;
    while s.len() < bytes {
        i += 1;
        s.push_str(&format!("{i}. "));
        s.push_str(para);
        if i % 4 == 0 {
            s.push_str("\n\n");
        }
    }
    s
}

/// A 1 MB paste into the input, then `keys` letters typed one at a time, each once the
/// previous one is drawn and counted: (paste to its count shown, key to drawn, key to the
/// new count shown), in ms.
fn typing(keys: usize) -> (f64, Vec<f64>, Vec<f64>) {
    use chat_tui::chat::tokens::TokenCounter;
    let counter = TokenCounter::for_model("gpt-4o");
    let shown = |n: usize| format!("draft {} ", chat_tui::ui::panels::thousands(n as u64));
    let mut tui = Tui::spawn_cmd(
        &bin(),
        &["--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o"],
        &[],
        COLS,
        ROWS,
    );
    tui.wait_until("the first screen", Duration::from_secs(10), first_screen);
    let mut text = prose(1 << 20);
    text.push_str("\nTYPED:");
    let t0 = Instant::now();
    tui.paste(&text);
    let want = shown(counter.count(&text));
    tui.wait_for(&want, Duration::from_secs(60));
    let paste = t0.elapsed().as_secs_f64() * 1e3;
    let mut drawn = Vec::new();
    let mut counted = Vec::new();
    // The draft shows a paste this long as one `[pasted N characters]` chip: the keys typed
    // after it follow its closing bracket.
    let mut typed = String::from("]");
    for k in 0..keys {
        let c = if k % 3 == 2 {
            ' '
        } else {
            (b'a' + (k % 26) as u8) as char
        };
        typed.push(c);
        text.push(c);
        let on_screen = typed.trim_end().to_string();
        let want = shown(counter.count(&text));
        let t = Instant::now();
        tui.send(&c.to_string());
        let seen: std::cell::Cell<Option<f64>> = std::cell::Cell::new(None);
        tui.wait_until("the key and its count", Duration::from_secs(30), |s| {
            let screen = s.contents();
            let here = screen.contains(&on_screen);
            if here && seen.get().is_none() {
                seen.set(Some(t.elapsed().as_secs_f64() * 1e3));
            }
            here && screen.contains(&want)
        });
        counted.push(t.elapsed().as_secs_f64() * 1e3);
        // A space changes nothing visible at the end of the line: only letters are timed
        // for "drawn".
        if c != ' ' {
            drawn.extend(seen.get());
        }
    }
    tui.key(Key::Ctrl('q'));
    tui.wait_exit(Duration::from_secs(10));
    (paste, drawn, counted)
}

fn streaming(tokens: usize, rate: f64) -> (f64, Vec<f64>, f64, f64) {
    let sent: Sent = Arc::new(Mutex::new(Vec::new()));
    let url = start_server(tokens, rate, sent.clone());
    let mut tui = Tui::spawn_cmd(
        &bin(),
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
    let bytes0 = tui.raw_output().len();
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
    if std::env::var_os("E2E_DEBUG").is_some() {
        let t0 = sent.first().copied().unwrap_or(wall0);
        for (n, t) in seen.iter().step_by(seen.len() / 30 + 1) {
            let s = sent.get(n.saturating_sub(1)).map_or(f64::NAN, |s| {
                s.saturating_duration_since(t0).as_secs_f64() * 1e3
            });
            println!(
                "token {n}: seen at {:.1} ms, sent at {s:.1} ms",
                t.saturating_duration_since(t0).as_secs_f64() * 1e3
            );
        }
        println!("sent {} tokens", sent.len());
    }
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
    let raw = tui.raw_output();
    let per_token = (raw.len() - bytes0) as f64 / tokens as f64;
    // E2E_RAW=path: what the terminal received over the stream, to look at.
    if let Some(path) = std::env::var_os("E2E_RAW") {
        let _ = std::fs::write(path, &raw[bytes0..]);
    }
    tui.key(Key::Ctrl('q'));
    tui.wait_exit(Duration::from_secs(5));
    (cpu / wall * 100.0, lags, rss, per_token)
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

/// 40 PageUps in `tui` (already at the end of a long text): each timed from the key to the
/// first screen that differs from the one before it.
fn page_up_steps(tui: &mut Tui) -> Vec<f64> {
    let mut steps = Vec::new();
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
        steps.push(t.elapsed().as_secs_f64() * 1e3);
    }
    steps
}

/// One long text, chat-tui against `less +G`, in turns in the same run.
struct LongText {
    /// Launch to the end (the marker) on screen: chat-tui, less.
    open: (Vec<f64>, Vec<f64>),
    /// PageUp, key to the changed screen (first launch of each): chat-tui, less.
    step: (Vec<f64>, Vec<f64>),
    /// chat-tui's resident memory after the steps (MB).
    rss: f64,
}

/// Open `json` in chat-tui and its Markdown (`md`) in `less +G`, in turns, `runs` times
/// each, timing each to `marker` on screen; in the first run of each, 40 PageUps.
fn long_text(json: &Path, md: &Path, marker: &str, runs: usize) -> LongText {
    let less = ["/usr/bin/less", "/bin/less"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let mut r = LongText {
        open: (Vec::new(), Vec::new()),
        step: (Vec::new(), Vec::new()),
        rss: 0.0,
    };
    for run in 0..runs {
        let p = json.to_string_lossy().to_string();
        let t0 = Instant::now();
        let mut tui = Tui::spawn_cmd(
            &bin(),
            &[&p, "--base-url", "http://127.0.0.1:9/v1"],
            &[],
            COLS,
            ROWS,
        );
        tui.wait_for(marker, Duration::from_secs(30));
        r.open.0.push(t0.elapsed().as_secs_f64() * 1e3);
        if run == 0 {
            std::thread::sleep(Duration::from_millis(500));
            // Focus the history, then scroll page by page.
            tui.key(Key::Tab);
            r.step.0 = page_up_steps(&mut tui);
            r.rss = rss_mb(tui.pid().expect("pid"));
        }
        tui.key(Key::Ctrl('q'));
        tui.wait_exit(Duration::from_secs(10));
        if let Some(less) = less {
            let t0 = Instant::now();
            let mut tui = Tui::spawn_cmd(
                Path::new(less),
                &["+G", &md.to_string_lossy()],
                &[],
                COLS,
                ROWS,
            );
            tui.wait_for(marker, Duration::from_secs(30));
            r.open.1.push(t0.elapsed().as_secs_f64() * 1e3);
            if run == 0 {
                std::thread::sleep(Duration::from_millis(500));
                r.step.1 = page_up_steps(&mut tui);
            }
            tui.send("q");
            tui.wait_exit(Duration::from_secs(5));
        }
    }
    r
}

/// Print a [`LongText`]'s medians and its ratios to less's.
fn report_long_text(what: &str, mut r: LongText) {
    let ours = pct(&mut r.open.0, 0.5);
    let less = pct(&mut r.open.1, 0.5);
    println!(
        "open {what} and show its end: median {ours:.1} ms, p90 {:.1} ms; less +G on the same text as Markdown: median {less:.1} ms; ratio {:.1} (target <= 3)",
        pct(&mut r.open.0, 0.9),
        ours / less
    );
    let ours = pct(&mut r.step.0, 0.5);
    let less = pct(&mut r.step.1, 0.5);
    println!(
        "  PageUp (key to redrawn screen): median {ours:.2} ms, p95 {:.2} ms; less: median {less:.2} ms, p95 {:.2} ms; ratio {:.2} (target <= 2); RSS with it open {:.1} MB",
        pct(&mut r.step.0, 0.95),
        pct(&mut r.step.1, 0.95),
        ours / less,
        r.rss
    );
}

/// The shared long conversation (`long_chat.py`) and its Markdown, for `less`.
fn shared_long_chat_md(dir: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let json = shared_long_chat(dir)?;
    let bytes = std::fs::read(&json).ok()?;
    let conv = chat_tui::store::parse(&bytes).ok()?;
    let md = dir.join("long_chat.md");
    std::fs::write(&md, chat_tui::store::to_markdown(&conv)).ok()?;
    Some((json, md))
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful: run only
    // when benchmarking.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // E2E_ONLY=startup|idle|rss|typing|streaming|markdown|burst|transcript|pager runs one
    // part (e.g. under `perf record`); E2E_TOKENS sets the Markdown reply's length.
    let only = std::env::var("E2E_ONLY").ok();
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("chat-tui whole-program benchmark ({COLS}x{ROWS} pseudo-terminal, release build)");

    if run("startup") {
        // The default theme is `auto`: one background query (OSC 11 + DA1) before the
        // first frame; `--theme dark` asks nothing.
        let (mut s, pager) = startup(10, dir.path(), &[]);
        let (mut d, _) = startup(10, dir.path(), &["--theme", "dark"]);
        println!(
            "with --theme dark (no background query): median {:.1} ms",
            pct(&mut d, 0.5)
        );
        let ours = pct(&mut s, 0.5);
        print!(
            "start to the complete first screen: median {ours:.1} ms, p90 {:.1} ms",
            pct(&mut s, 0.9)
        );
        match pager {
            Some(mut p) => {
                let less = pct(&mut p, 0.5);
                println!(
                    "; less on a page of text: median {less:.1} ms; ratio {:.2} (target <= 1.5)",
                    ours / less
                );
            }
            None => println!(" (less is not installed)"),
        }
    }

    if run("idle") {
        println!("idle for 10 s: CPU {:.3} % of one core", idle(10));
    }

    if run("rss") {
        for model in ["gpt-4o", "gpt-4", "text-davinci-003", "davinci", "llama3.2"] {
            let (now, peak) = rss_after_start(model);
            println!(
                "RSS after start with {model} (after its first count): {now:.1} MB, peak {peak:.1} MB (target <= 12 MB)"
            );
        }
        match shared_long_chat(dir.path()) {
            Some(path) => {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let (open, now, peak) = rss_with(&path, "ZQXLASTMARK");
                println!(
                    "the shared long conversation ({:.1} MB, long_chat.py): open to its end {open:.0} ms; RSS with it open (counted) {now:.1} MB, peak {peak:.1} MB (target <= 30 MB)",
                    size as f64 / 1e6
                );
            }
            None => println!(
                "the shared long conversation: ../shared/bench/long_chat.py not found (set CHAT_TUI_BENCH_SHARED)"
            ),
        }
    }

    if run("typing") {
        let (paste, mut drawn, mut counted) = typing(30);
        println!(
            "a 1 MB paste: its count shown {paste:.0} ms after the paste; then each key drawn: median {:.1} ms, max {:.1} ms (target <= 16 ms); its count shown: median {:.1} ms, max {:.1} ms (target <= 50 ms)",
            pct(&mut drawn, 0.5),
            pct(&mut drawn, 1.0),
            pct(&mut counted, 0.5),
            pct(&mut counted, 1.0)
        );
    }

    if run("streaming") {
        let (cpu, mut lags, rss, per_token) = streaming(2000, 200.0);
        println!(
            "streaming 2000 plain tokens at 200 tok/s: CPU {cpu:.2} % of one core (target <= 2 %); screen trails the server by median {:.1} ms, p95 {:.1} ms, max {:.1} ms (target <= 10 / <= 20 ms); to the terminal {per_token:.1} bytes/token; RSS {rss:.1} MB",
            pct(&mut lags, 0.5),
            pct(&mut lags, 0.95),
            pct(&mut lags, 1.0)
        );
    }

    // The shared workload (`../shared/bench/fake_stream.py`): the rich Markdown reply.
    if run("markdown") {
        let tokens = std::env::var("E2E_TOKENS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        match shared_stream(dir.path(), tokens, 200.0) {
            Some(r) => print_shared(
                &format!(
                    "the shared Markdown reply, {tokens} tokens at 200 tok/s (targets: CPU <= 2 %, bytes/token <= 2x aichat's 55)"
                ),
                &r,
            ),
            None => println!(
                "the shared Markdown reply: ../shared/bench/fake_stream.py not found (set CHAT_TUI_BENCH_SHARED)"
            ),
        }
    }
    if run("burst") {
        match shared_stream(dir.path(), 20_000, 0.0) {
            Some(r) => print_shared(
                "burst: the shared Markdown reply, 20000 tokens unthrottled (targets: <= 0.5 CPU-s, the end on screen <= 1000 ms after)",
                &r,
            ),
            None => println!(
                "burst: ../shared/bench/fake_stream.py not found (set CHAT_TUI_BENCH_SHARED)"
            ),
        }
    }

    if run("transcript") || run("pager") {
        // `pager` names the same part: less is measured in it, in turns with chat-tui.
        let (json, md, size) = transcript(dir.path());
        report_long_text(
            &format!("the bench's {size} transcript"),
            long_text(&json, &md, "END-OF-TRANSCRIPT-MARKER", 5),
        );
        match shared_long_chat_md(dir.path()) {
            Some((json, md)) => {
                let size = std::fs::metadata(&json).map(|m| m.len()).unwrap_or(0);
                report_long_text(
                    &format!(
                        "the shared long conversation ({:.1} MB, long_chat.py)",
                        size as f64 / 1e6
                    ),
                    long_text(&json, &md, "ZQXLASTMARK", 5),
                );
            }
            None => println!(
                "the shared long conversation: ../shared/bench/long_chat.py not found (set CHAT_TUI_BENCH_SHARED)"
            ),
        }
    }
}
