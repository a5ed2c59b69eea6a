//! What the benches' local servers share: reading one HTTP/1.1 request.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// One request from `r`: its first line (`POST /v1/chat/completions HTTP/1.1`) and its body
/// (`Content-Length` bytes). `None` when the connection ends before the whole request.
pub fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut first = String::new();
    if r.read_line(&mut first).unwrap_or(0) == 0 {
        return None;
    }
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((first, body))
}
