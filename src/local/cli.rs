//! `chat-tui local status|stop|path|install|serve|remove`: the local model from scripts.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use crate::local::{Layout, LocalError, Options, Package, Progress, Report, Step, install, server};

/// Exit statuses (as in headless mode).
const OK: u8 = 0;
const FAILED: u8 = 1;
const USAGE: u8 = 2;

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum LocalCommand {
    /// Whether the local model is installed, and the local servers running (one line each).
    Status,
    /// Stop the local servers chat-tui started.
    Stop,
    /// Print the folder the local model lives in.
    Path,
    /// Install llama.cpp's server and SmolLM2 (once; `--local` does this first).
    Install,
    /// Serve the local model in the foreground: prints `READY URL` on stdout once it
    /// answers; stops on Ctrl+C, SIGTERM or the end of stdin.
    Serve(ServeArgs),
    /// Delete the installed server and model.
    Remove,
}

/// `chat-tui local serve` flags (over the config's `[local]`).
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
pub struct ServeArgs {
    /// A GGUF file to serve instead of SmolLM2.
    #[arg(long, value_name = "PATH.gguf")]
    pub model: Option<PathBuf>,
    /// The port to use (another free one when it is taken).
    #[arg(long)]
    pub port: Option<u16>,
    /// Context size per slot, in tokens.
    #[arg(long, value_name = "TOKENS")]
    pub ctx: Option<u32>,
    /// CPU threads.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Also stop when standard input closes (a parent that holds a pipe to it takes the
    /// server with it when it exits).
    #[arg(long)]
    pub exit_on_stdin_eof: bool,
}

/// Run `chat-tui local …` with the configured options `base`.
pub async fn run(cmd: LocalCommand, base: Options) -> u8 {
    let Some(layout) = Layout::standard() else {
        eprintln!("chat-tui: {}", LocalError::NoDataDir);
        return USAGE;
    };
    match cmd {
        LocalCommand::Path => {
            println!("{}", layout.root.display());
            OK
        }
        LocalCommand::Status => status(&layout),
        LocalCommand::Stop => stop(&layout).await,
        LocalCommand::Install => {
            let report = stderr_report();
            report(Progress::Plan(install::steps_needed(
                &layout,
                &[Package::Server, Package::Model],
            )));
            match install::ensure(&layout, &[Package::Server, Package::Model], &report).await {
                Ok(()) => {
                    eprintln!(
                        "chat-tui: the local model is installed in {}",
                        layout.root.display()
                    );
                    OK
                }
                Err(f) => fail(&f),
            }
        }
        LocalCommand::Serve(args) => {
            let opts = Options {
                model: args.model.or(base.model),
                context_size: args.ctx.unwrap_or(base.context_size),
                threads: args.threads.unwrap_or(base.threads),
                port: args.port.or(base.port),
            };
            serve(&layout, &opts, args.exit_on_stdin_eof).await
        }
        LocalCommand::Remove => remove(&layout),
    }
}

fn fail(f: &crate::local::Failure) -> u8 {
    eprintln!("chat-tui: {}", f.error);
    for l in &f.lines {
        eprintln!("  | {l}");
    }
    FAILED
}

/// `chat-tui -p TEXT --local`: install when needed (saying so on stderr), start the
/// server, run the prompt against it, stop it. Returns the exit status.
pub async fn headless(mut settings: crate::config::Settings, text: String) -> u8 {
    let Some(layout) = Layout::standard() else {
        eprintln!("chat-tui: {}", LocalError::NoDataDir);
        return USAGE;
    };
    let opts = settings.local.clone();
    let packages = opts.packages();
    let steps = install::steps_needed(&layout, &packages);
    // Quiet when installed: stdout is the reply, stderr only what matters.
    let report: Report = if steps.is_empty() {
        Arc::new(|_| {})
    } else {
        eprintln!(
            "chat-tui: installing the local model into {} ({}, once)",
            layout.root.display(),
            crate::local::DOWNLOAD_SIZE
        );
        let r = stderr_report();
        r(Progress::Plan(steps));
        r
    };
    let work = async {
        install::ensure(&layout, &packages, &report).await?;
        server::start(&layout, &opts, &report).await
    };
    let srv = tokio::select! {
        r = work => match r {
            Ok(s) => s,
            Err(f) => return fail(&f),
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("chat-tui: cancelled");
            return crate::headless::EXIT_INTERRUPTED;
        }
    };
    settings.point_at_local(&srv.info.base_url, &srv.info.model);
    let status = crate::headless::run(settings, text).await;
    srv.stop().await;
    status
}

/// Progress as lines on stderr.
fn stderr_report() -> Report {
    let steps = Arc::new(std::sync::Mutex::new(Vec::<Step>::new()));
    Arc::new(move |p| {
        let mut err = std::io::stderr().lock();
        match p {
            Progress::Plan(s) => {
                if let Ok(mut g) = steps.lock() {
                    *g = s;
                }
            }
            Progress::Step(s) => {
                let (i, n) = steps
                    .lock()
                    .ok()
                    .map(|g| (g.iter().position(|x| *x == s).map_or(0, |i| i + 1), g.len()))
                    .unwrap_or((0, 0));
                let _ = if i > 0 {
                    writeln!(err, "[{i}/{n}] {}", s.label())
                } else {
                    writeln!(err, "{}", s.label())
                };
            }
            Progress::Line(l) => {
                let _ = writeln!(err, "      {l}");
            }
            Progress::Bytes(_) => {}
        }
    })
}

fn status(layout: &Layout) -> u8 {
    let have = install::installed(layout);
    let all = [Package::Server, Package::Model];
    let done: Vec<String> = all
        .iter()
        .map(|p| p.pin())
        .filter(|p| have.contains(p))
        .collect();
    let size = install::disk_usage(layout);
    let where_ = layout.root.display();
    if install::is_installed(layout, &all) {
        println!(
            "installed: yes ({}; {:.0} MB in {where_})",
            done.join(", "),
            size as f64 / 1e6
        );
    } else if install::is_installed(layout, &[Package::Server]) {
        println!(
            "installed: server only ({}; {:.0} MB in {where_}; SmolLM2 is installed when first needed)",
            done.join(", "),
            size as f64 / 1e6
        );
    } else {
        println!(
            "installed: no (`chat-tui --local` or `chat-tui local install` installs it in {where_}: {})",
            crate::local::DOWNLOAD_SIZE
        );
    }
    let servers = server::running(layout);
    if servers.is_empty() {
        println!("running: none");
    }
    for s in servers {
        let ctx = s
            .context
            .map(|c| format!(", context {c}"))
            .unwrap_or_default();
        println!(
            "running: pid {} {} model {}{ctx} (started by chat-tui pid {})",
            s.pid, s.base_url, s.model, s.owner
        );
    }
    OK
}

async fn stop(layout: &Layout) -> u8 {
    let servers = server::running(layout);
    if servers.is_empty() {
        println!("no local server is running");
        return OK;
    }
    let mut status = OK;
    for s in servers {
        crate::local::terminate(s.pid);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while crate::local::alive(s.pid) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        if crate::local::alive(s.pid) && server::is_our_server(layout, s.pid) {
            // SAFETY: our own launcher, checked just above.
            unsafe {
                libc::kill(s.pid as i32, libc::SIGKILL);
            }
        }
        if crate::local::alive(s.pid) && server::is_our_server(layout, s.pid) {
            eprintln!("chat-tui: could not stop pid {} ({})", s.pid, s.base_url);
            status = FAILED;
        } else {
            println!("stopped pid {} ({})", s.pid, s.base_url);
            let _ = std::fs::remove_file(layout.run_dir().join(format!("{}.json", s.pid)));
        }
    }
    status
}

fn remove(layout: &Layout) -> u8 {
    if !server::running(layout).is_empty() {
        eprintln!("chat-tui: a local server is running: `chat-tui local stop` first");
        return FAILED;
    }
    if !layout.root.exists() {
        println!(
            "nothing to remove: {} does not exist",
            layout.root.display()
        );
        return OK;
    }
    let size = install::disk_usage(layout);
    match install::remove(layout) {
        Ok(()) => {
            println!(
                "removed {} ({:.0} MB)",
                layout.root.display(),
                size as f64 / 1e6
            );
            OK
        }
        Err(e) => {
            eprintln!("chat-tui: {e}");
            FAILED
        }
    }
}

async fn serve(layout: &Layout, opts: &Options, exit_on_stdin_eof: bool) -> u8 {
    use tokio::signal::unix::{SignalKind, signal};
    let report = stderr_report();
    let packages = opts.packages();
    let mut plan = install::steps_needed(layout, &packages);
    plan.push(Step::Start);
    report(Progress::Plan(plan));
    let work = async {
        install::ensure(layout, &packages, &report).await?;
        report(Progress::Step(Step::Start));
        server::start(layout, opts, &report).await
    };
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("chat-tui: cannot watch signals");
        return FAILED;
    };
    // A signal while installing or loading drops the work (pip and the server are killed).
    let mut srv = tokio::select! {
        r = work => match r {
            Ok(s) => s,
            Err(f) => return fail(&f),
        },
        _ = term.recv() => return FAILED,
        _ = int.recv() => return FAILED,
        _ = hup.recv() => return FAILED,
    };
    if let Some(n) = &srv.info.port_note {
        eprintln!("chat-tui: {n}");
    }
    eprintln!(
        "chat-tui: serving {} (context {}) — Ctrl+C stops it",
        srv.info.model,
        srv.info
            .context
            .map_or_else(|| "?".to_string(), |c| c.to_string())
    );
    println!("READY {}", srv.info.base_url);
    let _ = std::io::stdout().flush();
    let stdin_closed = async {
        use tokio::io::AsyncReadExt;
        if !exit_on_stdin_eof {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    tokio::select! {
        exit = srv.wait() => {
            eprintln!("chat-tui: the local server stopped ({})", exit.status);
            for l in exit.lines {
                eprintln!("  | {l}");
            }
            return FAILED;
        }
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
        _ = stdin_closed => {}
    }
    srv.stop().await;
    eprintln!("chat-tui: stopped");
    OK
}
