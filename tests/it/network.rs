//! Networks between chat-tui and the server: an HTTP(S) proxy from `HTTPS_PROXY` /
//! `HTTP_PROXY` (and `NO_PROXY`), a certificate authority from `SSL_CERT_FILE`, and the
//! diagnostic log (`--log`, `CHAT_TUI_LOG`). The real binary in headless mode, against the
//! fake server behind a tiny TLS front and a tiny CONNECT/forward proxy, all on loopback.
//!
//! The TLS fixtures (`tests/fixtures/tls/`) are a test CA and a `localhost` / `127.0.0.1`
//! certificate it signed (P-256, valid for 100 years), made with `openssl` for these tests
//! only.

use crate::support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use support::fake_server::FakeServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk-test-NOT-A-REAL-KEY-0123456789";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Run `f` on a thread of its own with a tokio runtime, for as long as the test runs.
fn background<F>(f: impl FnOnce(std::net::TcpListener) -> F + Send + 'static) -> SocketAddr
where
    F: std::future::Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f(listener));
    });
    addr
}

/// TLS in front of `backend`: decrypts and passes the bytes on.
fn tls_front(backend: SocketAddr) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    background(move |l| async move {
        let l = TcpListener::from_std(l).unwrap();
        loop {
            let Ok((sock, _)) = l.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let Ok(mut up) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    })
}

/// A proxy: `CONNECT host:port` tunnels, `METHOD http://host:port/path` is forwarded. It
/// records the first line of each request it gets (and every header name).
struct Proxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let addr = background(move |l| async move {
            let l = TcpListener::from_std(l).unwrap();
            loop {
                let Ok((sock, _)) = l.accept().await else {
                    continue;
                };
                tokio::spawn(proxy_conn(sock, log.clone()));
            }
        });
        Proxy { addr, seen }
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn proxy_conn(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let first = head.lines().next().unwrap_or_default().to_string();
    seen.lock().unwrap().push(first.clone());
    let mut parts = first.split_whitespace();
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    if method == "CONNECT" {
        let Ok(mut up) = TcpStream::connect(target).await else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
            return;
        };
        let _ = client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
        return;
    }
    // Forward: http://host:port/path -> /path to host:port.
    let Some(rest) = target.strip_prefix("http://") else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        return;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let Ok(mut up) = TcpStream::connect(authority).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        return;
    };
    let mut out = format!("{method} {path} {version}\r\n").into_bytes();
    let after_first = head.find("\r\n").map_or(head.len(), |i| i + 2);
    out.extend_from_slice(&buf[after_first..]);
    if up.write_all(&out).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
}

/// The binary, headless, with a clean environment plus `env`.
fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chat-tui"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("OPENAI_API_KEY", KEY)
        .current_dir(home)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn https_through_a_connect_proxy_trusting_ssl_cert_file() {
    let srv = FakeServer::start();
    let front = tls_front(srv.addr());
    let proxy = Proxy::start();
    let home = tempfile::tempdir().unwrap();
    let base = format!("https://localhost:{}/v1", front.port());
    let ca = fixture("ca.pem");
    let out = run(
        home.path(),
        &["-p", "hello through the proxy", "--base-url", &base],
        &[
            ("HTTPS_PROXY", &proxy.url()),
            ("SSL_CERT_FILE", ca.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("echo: hello through the proxy"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        proxy.seen(),
        vec![format!("CONNECT localhost:{} HTTP/1.1", front.port())],
        "the request went through the proxy, as a tunnel"
    );
    // The key went to the server inside the tunnel, never to the proxy in clear.
    assert_eq!(srv.requests().len(), 1);
    assert_eq!(
        srv.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[test]
fn without_the_ca_the_test_server_is_not_trusted() {
    let srv = FakeServer::start();
    let front = tls_front(srv.addr());
    let home = tempfile::tempdir().unwrap();
    let base = format!("https://localhost:{}/v1", front.port());
    // An empty file of certificates: neither the bundled roots nor the system's know the
    // test CA.
    let empty = home.path().join("none.pem");
    std::fs::write(&empty, "").unwrap();
    let out = run(
        home.path(),
        &["-p", "hi", "--base-url", &base],
        &[("SSL_CERT_FILE", empty.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("secure connection"), "{err}");
    assert!(srv.requests().is_empty());
}

#[test]
fn http_proxy_forwards_and_no_proxy_goes_direct() {
    let srv = FakeServer::start();
    let proxy = Proxy::start();
    let home = tempfile::tempdir().unwrap();
    let base = srv.url();
    let out = run(
        home.path(),
        &["-p", "via proxy", "--base-url", &base],
        &[("HTTP_PROXY", &proxy.url())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("echo: via proxy"));
    assert_eq!(
        proxy.seen(),
        vec![format!("POST {base}/chat/completions HTTP/1.1")]
    );
    let out = run(
        home.path(),
        &["-p", "direct", "--base-url", &base],
        &[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", "127.0.0.1")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("echo: direct"));
    assert_eq!(proxy.seen().len(), 1, "NO_PROXY: not through the proxy");
    assert_eq!(srv.requests().len(), 2);
}

#[test]
fn the_log_has_requests_timings_and_retries_and_never_the_key() {
    let srv = FakeServer::start();
    srv.push(support::fake_server::Reply::Status {
        status: 500,
        headers: vec![("Retry-After".into(), "0".into())],
        body: r#"{"error":{"message":"try again"}}"#.into(),
    });
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("logs/chat.log");
    // The URL with credentials and a query: neither may reach the log.
    let base = format!("http://user:sk-in-the-url@{}/v1", srv.addr());
    let out = run(
        home.path(),
        &[
            "-p",
            "log me",
            "--base-url",
            &base,
            "--log",
            log.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = std::fs::read_to_string(&log).unwrap();
    for want in [
        "chat-tui started",
        "request",
        "method=\"POST\"",
        &format!("url=http://{}/v1/chat/completions", srv.addr()),
        "status=500",
        "retrying",
        "status=200",
        "reply complete",
        "ms=",
    ] {
        assert!(body.contains(want), "{want:?} not in the log:\n{body}");
    }
    assert!(!body.contains(KEY), "the key is in the log");
    assert!(
        !body.contains("sk-in-the-url"),
        "URL credentials in the log"
    );
    assert!(!body.contains("Bearer"), "a header in the log");
    assert!(
        !text(&out.stderr).contains("request"),
        "the log is not on stderr"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // CHAT_TUI_LOG alone: the default file under the state directory.
    let out = run(
        home.path(),
        &["-p", "again", "--base-url", &srv.url()],
        &[("CHAT_TUI_LOG", "info")],
    );
    assert!(out.status.success());
    let default = home.path().join(".local/state/chat-tui/chat-tui.log");
    let body = std::fs::read_to_string(&default).unwrap();
    assert!(body.contains("status=200"), "{body}");
    assert!(!body.contains("DEBUG"), "info level: {body}");
    // No log unless asked for.
    let quiet = tempfile::tempdir().unwrap();
    let out = run(
        quiet.path(),
        &["-p", "quiet", "--base-url", &srv.url()],
        &[],
    );
    assert!(out.status.success());
    assert!(
        !quiet
            .path()
            .join(".local/state/chat-tui/chat-tui.log")
            .exists()
    );
}
