//! Running llama.cpp's server: start it on a free loopback port, wait for `GET /health`,
//! ask it for the model's name and context window, notice when it dies, stop it.
//!
//! Its standard input is a pipe held by [`Server`]; the launcher exits when the pipe
//! closes, so the server never outlives chat-tui (quit, panic or SIGKILL alike).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::local::{
    Failure, Layout, LocalError, Options, Progress, Report, SERVER_SCRIPT, SLOTS, ServerInfo, Tail,
};

/// How long a model may take to load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a stopping server gets before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Ports tried when one turns out to be taken.
const PORT_ATTEMPTS: usize = 3;
/// Lines of the server's stderr kept for errors.
const TAIL_LINES: usize = 12;

/// A running server. Dropping it kills the process (and its pipe's closing would too).
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    pub info: ServerInfo,
    tail: Arc<Mutex<Tail>>,
    stderr_done: Option<tokio::task::JoinHandle<()>>,
    _run_file: RunFile,
}

/// What `chat-tui local status|stop` read about a running server (`run/PID.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub pid: u32,
    pub port: u16,
    pub base_url: String,
    pub model: String,
    pub model_path: String,
    pub context: Option<u64>,
    /// Seconds since the Unix epoch.
    pub started: u64,
    /// The chat-tui that started it.
    pub owner: u32,
}

/// Removes the run file when the server is gone.
struct RunFile(Option<PathBuf>);

impl Drop for RunFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// How a server ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// `exit status 1`, `signal 9 (SIGKILL)`…
    pub status: String,
    /// Its last stderr lines.
    pub lines: Vec<String>,
}

/// Start the server for `opts` (installed already) and wait until it answers.
pub async fn start(layout: &Layout, opts: &Options, progress: &Report) -> Result<Server, Failure> {
    write_script(layout)?;
    let model = match &opts.model {
        Some(p) => check_model_file(p)?,
        None => layout.builtin_model().ok_or_else(|| {
            LocalError::ModelFile(format!(
                "SmolLM2 is not in {} (the install looks incomplete: `chat-tui local remove`, then try again)",
                layout.venv().display()
            ))
        })?,
    };
    let size = std::fs::metadata(&model).map(|m| m.len()).unwrap_or(0);
    let mut note = None;
    let mut port = match opts.port.filter(|p| *p != 0) {
        Some(p) if port_is_free(p) => p,
        Some(p) => {
            let free = free_port()?;
            note = Some(format!("port {p} was taken: using {free}"));
            free
        }
        None => free_port()?,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        progress(Progress::Line(format!(
            "starting llama.cpp's server on 127.0.0.1:{port}"
        )));
        match launch(layout, opts, &model, port, size, progress).await {
            Ok(mut server) => {
                server.info.port_note = note;
                return Ok(server);
            }
            Err(Launch::PortTaken) if attempt < PORT_ATTEMPTS => {
                let next = free_port()?;
                note = Some(format!("port {port} was taken: using {next}"));
                port = next;
            }
            Err(Launch::PortTaken) => {
                return Err(LocalError::NoPort(format!(
                    "{PORT_ATTEMPTS} ports were taken one after the other"
                ))
                .into());
            }
            Err(Launch::Failed(f)) => return Err(f),
        }
    }
}

enum Launch {
    PortTaken,
    Failed(Failure),
}

impl From<LocalError> for Launch {
    fn from(e: LocalError) -> Self {
        Launch::Failed(e.into())
    }
}

async fn launch(
    layout: &Layout,
    opts: &Options,
    model: &Path,
    port: u16,
    size: u64,
    progress: &Report,
) -> Result<Server, Launch> {
    let alias = opts.alias();
    let mut cmd = Command::new(layout.python());
    cmd.arg(layout.server_script())
        .args(["--port", &port.to_string()])
        .args(["--ctx", &opts.context_size.to_string()])
        .args(["--parallel", &SLOTS.to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .arg("--model")
        .arg(model)
        .args(["--alias", &alias])
        .args(["--exit-on-stdin-eof", "--log-errors"])
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: the terminal's signals are for chat-tui, which stops it.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| LocalError::Io(format!("cannot run {}: {e}", layout.python().display())))?;
    let pid = child.id().unwrap_or(0);
    let stdin = child.stdin.take();
    let tail = Arc::new(Mutex::new(Tail::new(TAIL_LINES)));
    let stderr_done = child.stderr.take().map(|err| {
        let tail = tail.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(err);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).into_owned();
                        if let Ok(mut t) = tail.lock() {
                            t.push(&line);
                        }
                        let tidy = crate::local::tidy_line(&line);
                        if !tidy.is_empty() {
                            progress(Progress::Line(tidy));
                        }
                    }
                }
            }
        })
    });
    let mut server = Server {
        child,
        stdin,
        info: ServerInfo {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            port,
            model: alias.clone(),
            context: None,
            pid,
            port_note: None,
        },
        tail,
        stderr_done,
        _run_file: RunFile(None),
    };
    let http = http_client().map_err(Launch::Failed)?;
    let health = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    let mut said_loading = false;
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            let exit = server.finish_exit(status).await;
            let text = exit.lines.join("\n");
            if text.contains("couldn't bind") || text.contains("Address already in use") {
                return Err(Launch::PortTaken);
            }
            return Err(Launch::Failed(Failure {
                error: if is_load_error(&text) {
                    LocalError::ModelLoad(best_load_line(&exit.lines))
                } else {
                    LocalError::ServerExited {
                        status: exit.status.clone(),
                        detail: exit
                            .lines
                            .last()
                            .cloned()
                            .unwrap_or_else(|| "no output".into()),
                    }
                },
                lines: exit.lines,
            }));
        }
        match http.get(&health).send().await {
            Ok(r) if r.status().is_success() => break,
            Ok(r) if r.status().as_u16() == 503 && !said_loading => {
                said_loading = true;
                progress(Progress::Line(format!(
                    "loading {} ({:.0} MB)…",
                    model
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    size as f64 / 1e6
                )));
            }
            _ => {}
        }
        if started.elapsed() > LOAD_TIMEOUT {
            let _ = server.child.start_kill();
            return Err(Launch::Failed(Failure {
                error: LocalError::Timeout(server.info.base_url.clone(), LOAD_TIMEOUT.as_secs()),
                lines: server.lines(),
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (model_name, context) = describe(&http, port).await;
    if let Some(m) = model_name {
        server.info.model = m;
    }
    server.info.context = context.or(Some(u64::from(opts.context_size)));
    server._run_file = write_run_file(layout, &server.info, model);
    Ok(server)
}

impl Server {
    /// The server's last stderr lines.
    pub fn lines(&self) -> Vec<String> {
        self.tail.lock().map(|t| t.lines()).unwrap_or_default()
    }

    /// Wait until the server ends by itself (it crashed, was killed, or `chat-tui local
    /// stop` stopped it).
    pub async fn wait(&mut self) -> Exit {
        match self.child.wait().await {
            Ok(status) => self.finish_exit(status).await,
            Err(e) => Exit {
                status: format!("unknown ({e})"),
                lines: self.lines(),
            },
        }
    }

    async fn finish_exit(&mut self, status: std::process::ExitStatus) -> Exit {
        // Let the reader take in the last lines it wrote.
        if let Some(h) = self.stderr_done.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
        }
        // Gone: its run file goes too.
        drop(std::mem::replace(&mut self._run_file, RunFile(None)));
        Exit {
            status: describe_status(status),
            lines: self.lines(),
        }
    }

    /// Stop it: close its standard input (the launcher shuts down cleanly), SIGTERM, and
    /// SIGKILL if it is still there after a few seconds.
    pub async fn stop(mut self) {
        self.stdin.take();
        if let Some(pid) = self.child.id() {
            crate::local::terminate(pid);
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

/// `exit status 1`, `killed by signal 9 (SIGKILL)`.
pub fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(9)) => "killed by SIGKILL".into(),
        (None, Some(15)) => "stopped by SIGTERM".into(),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "ended".into(),
    }
}

fn is_load_error(text: &str) -> bool {
    text.contains("failed to load model")
        || text.contains("error loading model")
        || text.contains("gguf_init")
}

/// The line that best says why a model did not load (llama.cpp repeats the generic ones).
fn best_load_line(lines: &[String]) -> String {
    const ORDER: &[&str] = &[
        "gguf_init",
        "invalid magic",
        "error loading model:",
        "failed to load model",
    ];
    for needle in ORDER {
        if let Some(l) = lines.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
    }
    lines.last().cloned().unwrap_or_else(|| "no output".into())
}

fn check_model_file(p: &Path) -> Result<PathBuf, LocalError> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() => {
            std::fs::File::open(p).map_err(|e| {
                LocalError::ModelFile(format!("{} cannot be read: {e}", p.display()))
            })?;
            // llama.cpp is started elsewhere: give it the whole path.
            Ok(std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
        }
        Ok(_) => Err(LocalError::ModelFile(format!(
            "{} is not a file",
            p.display()
        ))),
        Err(e) => Err(LocalError::ModelFile(format!("{}: {e}", p.display()))),
    }
}

/// The launcher, written where the venv's Python runs it (again when it changed).
fn write_script(layout: &Layout) -> Result<(), LocalError> {
    let path = layout.server_script();
    if std::fs::read_to_string(&path).ok().as_deref() == Some(SERVER_SCRIPT) {
        return Ok(());
    }
    crate::store::save::write_atomic(&path, SERVER_SCRIPT.as_bytes())
        .map_err(|e| LocalError::Io(format!("cannot write {}: {e}", path.display())))
}

fn http_client() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        // Loopback: never through a proxy.
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| LocalError::Io(format!("could not set up the HTTP client: {e}")).into())
}

/// The model's name and context window per slot, from `GET /v1/models` (llama.cpp puts
/// `meta.n_ctx` there), else `GET /props`.
async fn describe(http: &reqwest::Client, port: u16) -> (Option<String>, Option<u64>) {
    let get = |path: &str| {
        let url = format!("http://127.0.0.1:{port}{path}");
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            r.json::<serde_json::Value>().await.ok()
        }
    };
    let mut name = None;
    let mut ctx = None;
    if let Some(v) = get("/v1/models").await
        && let Some(first) = v["data"].as_array().and_then(|a| a.first())
    {
        name = first["id"].as_str().map(str::to_string);
        ctx = first["meta"]["n_ctx"].as_u64();
    }
    if ctx.is_none()
        && let Some(v) = get("/props").await
    {
        ctx = v["default_generation_settings"]["n_ctx"].as_u64();
    }
    (name, ctx.filter(|c| *c > 0))
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> Result<u16, LocalError> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| LocalError::NoPort(e.to_string()))
}

fn write_run_file(layout: &Layout, info: &ServerInfo, model: &Path) -> RunFile {
    let dir = layout.run_dir();
    if crate::store::save::ensure_private_dir(&dir).is_err() {
        return RunFile(None);
    }
    let rec = RunRecord {
        pid: info.pid,
        port: info.port,
        base_url: info.base_url.clone(),
        model: info.model.clone(),
        model_path: model.display().to_string(),
        context: info.context,
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        owner: std::process::id(),
    };
    let path = dir.join(format!("{}.json", info.pid));
    match serde_json::to_vec_pretty(&rec)
        .ok()
        .map(|b| crate::store::save::write_atomic(&path, &b))
    {
        Some(Ok(())) => RunFile(Some(path)),
        _ => RunFile(None),
    }
}

/// The servers recorded as running (dead ones' files are removed).
pub fn running(layout: &Layout) -> Vec<RunRecord> {
    let Ok(entries) = std::fs::read_dir(layout.run_dir()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        let rec = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok());
        match rec {
            Some(r) if is_our_server(layout, r.pid) => out.push(r),
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    out.sort_by_key(|r| r.started);
    out
}

/// The process `pid` is alive and is our launcher (not a process that reused the pid).
pub fn is_our_server(layout: &Layout, pid: u32) -> bool {
    if !crate::local::alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let script = layout.server_script();
            let needle = script.as_os_str().as_encoded_bytes();
            cmdline.windows(needle.len().max(1)).any(|w| w == needle)
        }
        // No /proc (not Linux): trust the record.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_a_model_did_not_load_is_the_specific_line() {
        let lines: Vec<String> = [
            "gguf_init_from_reader: failed to read key-value pairs",
            "llama_model_load: error loading model: llama_model_loader: failed to load model from /tmp/bad.gguf",
            "load_model: failed to load model, '/tmp/bad.gguf'",
            "init: exiting due to model loading error",
        ]
        .map(String::from)
        .to_vec();
        assert!(is_load_error(&lines.join("\n")));
        assert_eq!(
            best_load_line(&lines),
            "gguf_init_from_reader: failed to read key-value pairs"
        );
        assert!(!is_load_error("start: couldn't bind HTTP server socket"));
    }

    #[test]
    fn a_missing_model_file_is_named() {
        let e = check_model_file(Path::new("/nonexistent/m.gguf")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/m.gguf"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let e = check_model_file(d.path()).unwrap_err();
        assert!(e.to_string().contains("is not a file"), "{e}");
    }

    #[test]
    fn a_taken_port_is_seen() {
        let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let p = l.local_addr().unwrap().port();
        assert!(!port_is_free(p));
        drop(l);
        assert!(free_port().unwrap() > 0);
    }
}
