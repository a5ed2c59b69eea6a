//! The soak: the release binary in a real PTY for a long time (default 30 minutes) against a
//! local server that mixes normal and long replies, 429s, 500s, dropped streams, malformed
//! SSE and slow first bytes, while a seeded driver sends, cancels, retries, scrolls,
//! switches sessions, saves (over other files too: the confirm panel), edits a saved file
//! behind the app's back and resizes the terminal at random.
//!
//! It reports resident memory over time, CPU, turns, the faults injected and the panics
//! (there must be none), then checks every file the app wrote: every question that reached
//! the server is in some transcript, and so is every reply the server finished (unless
//! the driver cancelled or switched away while it streamed, or retried the question).
//!
//! Not part of `cargo test`. Run it with `scripts/soak [MINUTES] [SEED]`, or
//! `cargo bench --bench soak -- --minutes 30 --seed 1`; the report goes to stdout and to
//! `docs/soak.md` (`--out FILE` elsewhere, `--out -` nowhere).

#[path = "../tests/support/pty.rs"]
mod pty;

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_tui::chat::conversation::{Conversation, Speaker};
use pty::{Key, Tui};

// ---------------------------------------------------------------------------------------
// A small seeded generator (splitmix64): the same seed, the same run of choices.

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// An index into `weights`, chosen in proportion.
    fn pick(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

// ---------------------------------------------------------------------------------------
// The server

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Fault {
    Normal,
    Long,
    TooMany,
    ServerError,
    Dropped,
    Malformed,
    SlowStart,
}

impl Fault {
    const ALL: [Fault; 7] = [
        Fault::Normal,
        Fault::Long,
        Fault::TooMany,
        Fault::ServerError,
        Fault::Dropped,
        Fault::Malformed,
        Fault::SlowStart,
    ];
    const WEIGHTS: [u64; 7] = [46, 8, 8, 7, 9, 8, 14];
    fn name(self) -> &'static str {
        match self {
            Fault::Normal => "normal reply",
            Fault::Long => "long reply (2,000–4,000 tokens)",
            Fault::TooMany => "429 (Retry-After: 0)",
            Fault::ServerError => "500 with a JSON error",
            Fault::Dropped => "stream dropped mid-way",
            Fault::Malformed => "malformed SSE lines mixed in",
            Fault::SlowStart => "slow first byte (1.5–3 s)",
        }
    }
}

/// One request the server got.
#[derive(Clone, Debug)]
struct Served {
    /// The question: the last user message.
    question: String,
    fault: Fault,
    /// The reply's whole text (for the kinds that send one).
    reply: String,
    arrived: Instant,
    /// When the last byte of a whole reply was written (`None`: not whole).
    finished: Option<Instant>,
}

#[derive(Default)]
struct ServerLog {
    served: Vec<Served>,
}

fn start_server(seed: u64) -> (String, Arc<Mutex<ServerLog>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let log = Arc::new(Mutex::new(ServerLog::default()));
    let rng = Arc::new(Mutex::new(Rng(seed ^ 0x5EED_5EED)));
    let l2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { continue };
            let log = l2.clone();
            let rng = rng.clone();
            std::thread::spawn(move || serve(s, &log, &rng));
        }
    });
    (url, log)
}

fn serve(mut s: TcpStream, log: &Mutex<ServerLog>, rng: &Mutex<Rng>) {
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let Some((first, body)) = common::read_request(&mut r) else {
        return;
    };
    if first.starts_with("GET") {
        let b = r#"{"object":"list","data":[{"id":"soak-model"}]}"#;
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        );
        return;
    }
    // Only chat requests are questions: the app's probes of the server (Ollama's `POST
    // /api/show`, llama.cpp's `/apply-template` and `/tokenize`) get a 404 as from OpenAI,
    // and are not counted (they carry no question: they were counted as a lost "").
    let path = first.split_whitespace().nth(1).unwrap_or("");
    if !path.ends_with("/chat/completions") {
        let b = r#"{"error":{"message":"not found","type":"invalid_request_error"}}"#;
        let _ = write!(
            s,
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        );
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let question = v["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string();
    let (fault, seq, words, delay_ms) = {
        let mut g = rng.lock().expect("rng");
        let fault = Fault::ALL[g.pick(&Fault::WEIGHTS)];
        let words = match fault {
            Fault::Long => g.range(2_000, 4_000),
            _ => g.range(8, 60),
        };
        let delay = g.range(1_500, 3_000);
        let seq = log.lock().expect("log").served.len();
        (fault, seq, words as usize, delay)
    };
    let reply = reply_text(seq, words, fault == Fault::Long);
    let idx = {
        let mut l = log.lock().expect("log");
        l.served.push(Served {
            question,
            fault,
            reply: reply.clone(),
            arrived: Instant::now(),
            finished: None,
        });
        l.served.len() - 1
    };
    let status = |s: &mut TcpStream, code: &str, extra: &str, body: &str| {
        let _ = write!(
            s,
            "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            body.len()
        );
    };
    match fault {
        Fault::TooMany => {
            return status(
                &mut s,
                "429 Too Many Requests",
                "Retry-After: 0\r\n",
                r#"{"error":{"message":"slow down (soak)","type":"rate_limit"}}"#,
            );
        }
        Fault::ServerError => {
            return status(
                &mut s,
                "500 Internal Server Error",
                "",
                r#"{"error":{"message":"the soak server failed on purpose"}}"#,
            );
        }
        Fault::SlowStart => std::thread::sleep(Duration::from_millis(delay_ms)),
        _ => {}
    }
    if s
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return;
    }
    let chunk = |s: &mut TcpStream, data: &str| -> bool {
        let ev = format!("data: {data}\n\n");
        s.write_all(format!("{:x}\r\n{ev}\r\n", ev.len()).as_bytes())
            .and_then(|()| s.flush())
            .is_ok()
    };
    let pieces: Vec<&str> = reply.split_inclusive(' ').collect();
    let drop_at = pieces.len() / 2;
    let pace = if fault == Fault::Long {
        Duration::from_micros(300)
    } else {
        Duration::from_millis(3)
    };
    for (i, p) in pieces.iter().enumerate() {
        if fault == Fault::Dropped && i == drop_at {
            // Gone, without the terminating chunk.
            let _ = s.shutdown(std::net::Shutdown::Both);
            return;
        }
        if fault == Fault::Malformed && i % 7 == 3 {
            let _ = chunk(&mut s, "{\"choices\": [ this is not json");
        }
        let data = serde_json::json!({
            "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}],
            "model": "soak-model"
        });
        if !chunk(&mut s, &data.to_string()) {
            return;
        }
        std::thread::sleep(pace);
    }
    let ok = chunk(
        &mut s,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"model":"soak-model"}"#,
    ) && chunk(
        &mut s,
        r#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}"#,
    ) && chunk(&mut s, "[DONE]")
        && s.write_all(b"0\r\n\r\n").and_then(|()| s.flush()).is_ok();
    if ok {
        log.lock().expect("log").served[idx].finished = Some(Instant::now());
    }
}

/// A reply that names itself (`R<seq>`) and, when long, has Markdown in it.
fn reply_text(seq: usize, words: usize, markdown: bool) -> String {
    let vocab = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima",
    ];
    let mut out = format!("R{seq} ");
    for i in 0..words {
        if markdown && i % 300 == 150 {
            out.push_str("\n\n```rust\nfn soak() -> u32 { 42 }\n```\n\n");
        } else if markdown && i % 100 == 50 {
            out.push_str("\n\n- **item** with `code`\n");
        }
        out.push_str(vocab[(seq + i) % vocab.len()]);
        out.push(' ');
    }
    out.push_str("end.");
    out
}

// ---------------------------------------------------------------------------------------
// The driver

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Act {
    Send,
    Cancel,
    Retry,
    Scroll,
    Switch,
    New,
    Save,
    Edit,
    Resize,
    Help,
}

impl Act {
    const ALL: [Act; 10] = [
        Act::Send,
        Act::Cancel,
        Act::Retry,
        Act::Scroll,
        Act::Switch,
        Act::New,
        Act::Save,
        Act::Edit,
        Act::Resize,
        Act::Help,
    ];
    const WEIGHTS: [u64; 10] = [40, 8, 6, 16, 6, 4, 6, 2, 8, 4];
    fn name(self) -> &'static str {
        match self {
            Act::Send => "send",
            Act::Cancel => "cancel (Esc)",
            Act::Retry => "retry (Ctrl+R)",
            Act::Scroll => "scroll / select",
            Act::Switch => "session switch (Ctrl+O)",
            Act::New => "new conversation (/new)",
            Act::Save => "/save to a file",
            Act::Edit => "external edit of a saved file",
            Act::Resize => "resize",
            Act::Help => "help (F1)",
        }
    }
    /// Actions that stop the reply in flight.
    fn disrupts(self) -> bool {
        matches!(self, Act::Cancel | Act::Switch | Act::New)
    }
}

struct Args {
    minutes: f64,
    seed: u64,
    out: Option<PathBuf>,
    /// `--keep DIR`: the app logs at debug level, and DIR gets the journal of the driver's
    /// actions, the library, the saved files and the app's log (for a run that lost something).
    keep: Option<PathBuf>,
}

fn args() -> Option<Args> {
    let all: Vec<String> = std::env::args().collect();
    if !all.iter().any(|a| a == "--bench") {
        return None;
    }
    // Opt-in: a plain `cargo bench` runs the benchmarks, not a half-hour soak.
    if !all.iter().any(|a| a == "--minutes") {
        eprintln!("soak: skipped (run it with scripts/soak [MINUTES] [SEED])");
        return None;
    }
    let get = |name: &str| {
        all.iter()
            .position(|a| a == name)
            .and_then(|i| all.get(i + 1))
            .cloned()
    };
    let out = match get("--out").as_deref() {
        Some("-") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/soak.md")),
    };
    Some(Args {
        minutes: get("--minutes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(30.0),
        seed: get("--seed").and_then(|v| v.parse().ok()).unwrap_or(1),
        out,
        keep: get("--keep").map(PathBuf::from),
    })
}

/// Copies what a run leaves (the library, the saved files, the app's state with its log)
/// and the driver's journal into `to`.
fn keep_run(to: &Path, journal: &str, home: &Path, saves: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        let _ = std::fs::create_dir_all(to);
        for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                copy_dir(&p, &to.join(e.file_name()));
            } else {
                let _ = std::fs::copy(&p, to.join(e.file_name()));
            }
        }
    }
    let _ = std::fs::create_dir_all(to);
    let _ = std::fs::write(to.join("journal.txt"), journal);
    copy_dir(&home.join(".local/share/chat-tui"), &to.join("share"));
    copy_dir(&home.join(".local/state/chat-tui"), &to.join("state"));
    copy_dir(saves, &to.join("saves"));
    eprintln!("soak: the run is kept in {}", to.display());
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            n.ends_with(".json") && n != "index.json" && !n.starts_with('.')
        })
        .collect();
    v.sort();
    v
}

/// The size of the most recently written transcript (the conversation in use, nearly
/// always).
fn current_conversation_bytes(dir: &Path) -> u64 {
    json_files(dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .max_by_key(|m| m.modified().ok())
        .map(|m| m.len())
        .unwrap_or(0)
}

fn idle(t: &Tui) -> bool {
    t.with_screen(|s| {
        let text = s.contents();
        (text.contains("● idle") || text.contains("✗ error")) && !text.contains("waiting")
    })
}

fn wait_idle(t: &Tui, max: Duration) -> bool {
    let deadline = Instant::now() + max;
    while Instant::now() < deadline {
        if idle(t) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

fn panel_open(t: &Tui, text: &str) -> bool {
    t.with_screen(|s| s.contents().contains(text))
}

struct Sample {
    at: Duration,
    rss_kb: u64,
    cpu_s: f64,
    conv_bytes: u64,
}

fn main() {
    let Some(args) = args() else {
        return;
    };
    let (url, server) = start_server(args.seed);
    let save_dir = tempfile::Builder::new()
        .prefix("chat-tui-soak-saves")
        .tempdir()
        .expect("temp dir");
    let bin = Path::new(env!("CARGO_BIN_EXE_chat-tui"));
    let (mut cols, mut rows) = (160u16, 48u16);
    let mut t = Tui::spawn_cmd(
        bin,
        &[
            "--base-url",
            &url,
            "--model",
            "soak-model",
            "--context-window",
            "1000000",
        ],
        &if args.keep.is_some() {
            vec![
                ("OPENAI_API_KEY", "sk-soak-NOT-A-REAL-KEY"),
                ("CHAT_TUI_LOG", "debug"),
            ]
        } else {
            vec![("OPENAI_API_KEY", "sk-soak-NOT-A-REAL-KEY")]
        },
        cols,
        rows,
    );
    t.wait_for("soak-model", Duration::from_secs(20));
    let pid = t.pid().expect("pid");
    let lib = t.home().join(".local/share/chat-tui/conversations");
    let crash = t.home().join(".local/state/chat-tui/crash");
    let mut rng = Rng(args.seed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_sample = started;
    let mut acts: BTreeMap<Act, u64> = BTreeMap::new();
    let mut disruptions: Vec<Instant> = Vec::new();
    let mut sent = 0u64;
    let mut confirms = (0u64, 0u64);
    let mut edited: Vec<PathBuf> = Vec::new();
    // What the driver did, when (kept with `--keep`).
    let mut journal = String::new();
    eprintln!(
        "soak: {} min, seed {}, pid {pid}, server {url}",
        args.minutes, args.seed
    );
    while Instant::now() < deadline {
        if Instant::now() >= next_sample {
            samples.push(Sample {
                at: started.elapsed(),
                rss_kb: rss_kb(pid),
                cpu_s: cpu_seconds(pid),
                conv_bytes: current_conversation_bytes(&lib),
            });
            next_sample += Duration::from_secs(10);
            if samples.len() % 30 == 1 {
                eprintln!(
                    "soak: {:>5.1} min  rss {:>6.1} MB  sent {sent}",
                    started.elapsed().as_secs_f64() / 60.0,
                    rss_kb(pid) as f64 / 1024.0
                );
            }
        }
        if t.try_exit().is_some() {
            break;
        }
        // A panel left open (a save that asks): answer it.
        if panel_open(&t, "Replace it with this conversation?") {
            if rng.below(2) == 0 {
                t.send("y");
                confirms.0 += 1;
            } else {
                t.send("n");
                confirms.1 += 1;
            }
            std::thread::sleep(Duration::from_millis(150));
            continue;
        }
        let act = Act::ALL[rng.pick(&Act::WEIGHTS)];
        *acts.entry(act).or_default() += 1;
        journal.push_str(&format!(
            "{:>9.3} {act:?}\n",
            started.elapsed().as_secs_f64()
        ));
        if act.disrupts() {
            disruptions.push(Instant::now());
        }
        match act {
            Act::Send => {
                if !idle(&t) && rng.below(3) != 0 {
                    wait_idle(&t, Duration::from_secs(20));
                }
                sent += 1;
                let words = rng.range(1, 12);
                let mut q = format!("Q{sent}-{}", rng.below(1_000_000));
                for i in 0..words {
                    q.push_str(&format!(" w{}", (i * 7 + sent) % 97));
                }
                journal.push_str(&format!("{:>9.3}   {q}\n", started.elapsed().as_secs_f64()));
                t.send(&q);
                t.key(Key::Enter);
            }
            Act::Cancel => t.key(Key::Esc),
            Act::Retry => t.key(Key::Ctrl('r')),
            Act::Scroll => {
                let k = match rng.below(7) {
                    0 => Key::PageUp,
                    1 => Key::PageDown,
                    2 => Key::Up,
                    3 => Key::Down,
                    4 => Key::Tab,
                    5 => Key::End,
                    _ => Key::Home,
                };
                for _ in 0..rng.range(1, 5) {
                    t.key(k);
                }
            }
            Act::Switch => {
                t.key(Key::Ctrl('o'));
                std::thread::sleep(Duration::from_millis(300));
                for _ in 0..rng.below(6) {
                    t.key(Key::Down);
                }
                t.key(Key::Enter);
                std::thread::sleep(Duration::from_millis(200));
                // An empty list (nothing saved yet) leaves the browser open.
                if panel_open(&t, "conversations —") {
                    t.key(Key::Esc);
                }
            }
            Act::New => {
                t.key(Key::Esc);
                std::thread::sleep(Duration::from_millis(60));
                t.send("/new");
                t.key(Key::Enter);
            }
            Act::Save => {
                wait_idle(&t, Duration::from_secs(20));
                let p = save_dir.path().join(format!("soak-{}.json", rng.below(4)));
                journal.push_str(&format!(
                    "{:>9.3}   /save {}\n",
                    started.elapsed().as_secs_f64(),
                    p.display()
                ));
                t.send(&format!("/save {}", p.display()));
                t.key(Key::Enter);
            }
            Act::Edit => {
                // Someone edits a saved file: change its title in place.
                let files = json_files(save_dir.path());
                if !files.is_empty() {
                    let f = &files[rng.below(files.len() as u64) as usize];
                    if let Ok(bytes) = std::fs::read(f)
                        && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes)
                    {
                        v["conversation"]["title"] = "edited by the soak".into();
                        if std::fs::write(f, serde_json::to_vec_pretty(&v).unwrap_or_default())
                            .is_ok()
                        {
                            journal.push_str(&format!(
                                "{:>9.3}   edited {}\n",
                                started.elapsed().as_secs_f64(),
                                f.display()
                            ));
                            edited.push(f.clone());
                        }
                    }
                }
            }
            Act::Resize => {
                cols = rng.range(60, 200) as u16;
                rows = rng.range(16, 60) as u16;
                t.resize(cols, rows);
            }
            Act::Help => {
                t.key(Key::F(1));
                std::thread::sleep(Duration::from_millis(200));
                t.key(Key::Esc);
            }
        }
        // A lone Esc needs a pause before the next key; a human pace otherwise.
        std::thread::sleep(Duration::from_millis(rng.range(80, 400)));
    }
    // Let the last reply finish, then quit.
    wait_idle(&t, Duration::from_secs(60));
    let end_rss = rss_kb(pid);
    let end_cpu = cpu_seconds(pid);
    let wall = started.elapsed();
    samples.push(Sample {
        at: wall,
        rss_kb: end_rss,
        cpu_s: end_cpu,
        conv_bytes: current_conversation_bytes(&lib),
    });
    if panel_open(&t, "Replace it with this conversation?") {
        t.send("n");
    }
    t.key(Key::Esc);
    std::thread::sleep(Duration::from_millis(300));
    t.key(Key::Ctrl('q'));
    let status = t.wait_exit(Duration::from_secs(60));
    if let Some(keep) = &args.keep {
        keep_run(keep, &journal, t.home(), save_dir.path());
    }
    let raw = String::from_utf8_lossy(&t.raw_output()).into_owned();
    let panics =
        raw.matches("panicked").count() + std::fs::read_dir(&crash).map(|d| d.count()).unwrap_or(0);

    // ---- what is on disk
    let mut files = json_files(&lib);
    files.extend(json_files(save_dir.path()));
    let mut unreadable = Vec::new();
    let mut questions: HashSet<String> = HashSet::new();
    let mut replies: HashSet<String> = HashSet::new();
    for f in &files {
        let parsed = std::fs::read(f)
            .ok()
            .and_then(|b| chat_tui::store::parse(&b).ok());
        let Some(c): Option<Conversation> = parsed else {
            unreadable.push(f.clone());
            continue;
        };
        for m in &c.messages {
            match m.speaker {
                Speaker::User => {
                    questions.insert(m.content.clone());
                }
                Speaker::Assistant => {
                    for ch in &m.choices {
                        replies.insert(ch.text.clone());
                    }
                }
                _ => {}
            }
        }
    }
    let served = server.lock().expect("log").served.clone();
    let mut faults: BTreeMap<Fault, u64> = BTreeMap::new();
    for s in &served {
        *faults.entry(s.fault).or_default() += 1;
    }
    // The last request for each question (a retry asks again and replaces the reply).
    let mut last_for: HashMap<&str, usize> = HashMap::new();
    for (i, s) in served.iter().enumerate() {
        last_for.insert(&s.question, i);
    }
    let grace = Duration::from_secs(2);
    let mut missing_q = Vec::new();
    let mut missing_r = Vec::new();
    let mut checked_r = 0u64;
    for (i, s) in served.iter().enumerate() {
        if !questions.contains(&s.question) {
            missing_q.push(s.question.clone());
        }
        let Some(done) = s.finished else { continue };
        if last_for.get(s.question.as_str()) != Some(&i) {
            continue;
        }
        if disruptions
            .iter()
            .any(|d| *d >= s.arrived && *d <= done + grace)
        {
            continue;
        }
        checked_r += 1;
        if !replies.contains(&s.reply) {
            missing_r.push(s.reply.chars().take(12).collect::<String>());
        }
    }
    let completed = served.iter().filter(|s| s.finished.is_some()).count();

    // ---- the report
    let rss_at = |min: f64| {
        samples
            .iter()
            .find(|s| s.at.as_secs_f64() >= min * 60.0)
            .or(samples.last())
            .map(|s| (s.rss_kb, s.conv_bytes))
            .unwrap_or((0, 0))
    };
    let (rss5, conv5) = rss_at(5.0);
    let growth_kb = end_rss as i64 - rss5 as i64;
    let conv_growth_kb = (samples.last().map_or(0, |s| s.conv_bytes) as i64 - conv5 as i64) / 1024;
    let beyond = growth_kb - conv_growth_kb.max(0);
    let growth_pct = if rss5 > 0 {
        100.0 * beyond as f64 / rss5 as f64
    } else {
        f64::NAN
    };
    let max_rss = samples.iter().map(|s| s.rss_kb).max().unwrap_or(0);
    let mut r = String::new();
    let date = chrono::Local::now().format("%Y-%m-%d %H:%M %Z");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    r.push_str(&format!(
        "# Soak\n\n`scripts/soak {} {}` — {date}. The release binary in a {}x{} PTY (resized at random), \
         against the local fault-injecting server of `benches/soak.rs`, for {:.1} minutes of wall time. \
         Machine: {} cores shared with other builds (load average at the end: {}).\n\n",
        args.minutes,
        args.seed,
        160,
        48,
        wall.as_secs_f64() / 60.0,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    ));
    r.push_str("## Result\n\n| what | value |\n| --- | --- |\n");
    r.push_str(&format!("| seed | {} |\n", args.seed));
    r.push_str(&format!("| exit status | {status:?} |\n"));
    r.push_str(&format!(
        "| panics (output and crash reports) | {panics} |\n"
    ));
    r.push_str(&format!(
        "| messages sent | {sent} |\n| requests served | {} |\n| replies the server finished | {completed} |\n",
        served.len()
    ));
    r.push_str(&format!(
        "| transcripts on disk | {} (unreadable: {}) |\n",
        files.len(),
        unreadable.len()
    ));
    r.push_str(&format!(
        "| questions that reached the server, missing from every file | {} of {} |\n",
        missing_q.len(),
        served.len()
    ));
    r.push_str(&format!(
        "| finished replies checked (not cancelled, switched away from or retried), missing | {} of {checked_r} |\n",
        missing_r.len()
    ));
    r.push_str(&format!(
        "| CPU (user + system) | {:.1} s over {:.1} min = {:.2} % of a core |\n",
        end_cpu,
        wall.as_secs_f64() / 60.0,
        100.0 * end_cpu / wall.as_secs_f64()
    ));
    r.push_str(&format!(
        "| RSS at 5 min → end | {:.1} MB → {:.1} MB (max {:.1} MB) |\n",
        rss5 as f64 / 1024.0,
        end_rss as f64 / 1024.0,
        max_rss as f64 / 1024.0
    ));
    r.push_str(&format!(
        "| RSS growth from minute 5 beyond the conversation's own growth ({} KB) | {} KB = {:.1} % (target < 5 %) |\n",
        conv_growth_kb, beyond, growth_pct
    ));
    r.push_str(&format!(
        "| /save confirm panel answered yes / no | {} / {} |\n| files edited behind the app's back | {} |\n",
        confirms.0,
        confirms.1,
        edited.len()
    ));
    r.push_str("\n## Faults injected (per request)\n\n| fault | requests |\n| --- | --- |\n");
    for f in Fault::ALL {
        r.push_str(&format!(
            "| {} | {} |\n",
            f.name(),
            faults.get(&f).copied().unwrap_or(0)
        ));
    }
    r.push_str("\n## Actions\n\n| action | times |\n| --- | --- |\n");
    for a in Act::ALL {
        r.push_str(&format!(
            "| {} | {} |\n",
            a.name(),
            acts.get(&a).copied().unwrap_or(0)
        ));
    }
    r.push_str("\n## Resident memory over time\n\n| minute | RSS (MB) | CPU so far (s) | conversation file (KB) |\n| --- | --- | --- | --- |\n");
    let mut last_min = -1i64;
    for s in &samples {
        let m = (s.at.as_secs_f64() / 60.0).floor() as i64;
        if m != last_min || std::ptr::eq(s, samples.last().unwrap_or(s)) {
            last_min = m;
            r.push_str(&format!(
                "| {:.1} | {:.1} | {:.1} | {} |\n",
                s.at.as_secs_f64() / 60.0,
                s.rss_kb as f64 / 1024.0,
                s.cpu_s,
                s.conv_bytes / 1024
            ));
        }
    }
    if !missing_q.is_empty() || !missing_r.is_empty() || !unreadable.is_empty() {
        r.push_str(&format!(
            "\n## Lost\n\nquestions: {missing_q:?}\n\nreplies: {missing_r:?}\n\nunreadable: {unreadable:?}\n"
        ));
    }
    println!("{r}");
    if let Some(out) = &args.out {
        let _ = std::fs::write(out, &r);
        eprintln!("soak: report written to {}", out.display());
    }
    let ok = panics == 0
        && status.success()
        && missing_q.is_empty()
        && missing_r.is_empty()
        && unreadable.is_empty();
    if !ok {
        eprintln!("soak: FAILED");
        std::process::exit(1);
    }
}
