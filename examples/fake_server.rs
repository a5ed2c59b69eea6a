//! Run the test suite's fake OpenAI-compatible server in the foreground, for
//! manual checks (tmux) and whole-program benchmarks.
//!
//! ```text
//! cargo run --example fake_server -- [--port N] [--token-delay-ms N] [--require-key KEY] [--quiet]
//! ```
//!
//! Prints `http://127.0.0.1:PORT/v1` on the first line of stdout, then one
//! line per request received (unless `--quiet`).  Stop with Ctrl-C.

#[path = "../tests/support/fake_server.rs"]
mod fake_server;

use std::io::Write;
use std::time::Duration;

fn usage() -> ! {
    eprintln!("usage: fake_server [--port N] [--token-delay-ms N] [--require-key KEY] [--quiet]");
    std::process::exit(2)
}

fn main() {
    let mut port = 0u16;
    let mut delay_ms = 0u64;
    let mut key: Option<String> = None;
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--token-delay-ms" => {
                delay_ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--require-key" => key = Some(args.next().unwrap_or_else(|| usage())),
            "--quiet" => quiet = true,
            _ => usage(),
        }
    }
    let srv = fake_server::FakeServer::start_on(port);
    srv.set_token_delay(Duration::from_millis(delay_ms));
    srv.set_require_key(key.as_deref());
    println!("{}", srv.url());
    let _ = std::io::stdout().flush();
    let mut seen = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let reqs = srv.requests();
        if !quiet {
            for r in &reqs[seen..] {
                println!(
                    "{} {} ({} bytes) {}",
                    r.method,
                    r.path,
                    r.body.len(),
                    String::from_utf8_lossy(&r.body)
                );
            }
            let _ = std::io::stdout().flush();
        }
        seen = reqs.len();
    }
}
