//! An incremental Server-Sent Events parser (the WHATWG event-stream rules), fed raw bytes
//! as they arrive. Lines are decoded only when complete, so a UTF-8 character split across
//! reads survives; `\n`, `\r\n` and a lone `\r` all end a line, even when a `\r\n` pair is
//! split between two reads.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("a server-sent event line exceeded {limit} bytes")]
    LineTooLong { limit: usize },
}

/// The parser's state between reads.
#[derive(Debug)]
pub struct SseParser {
    /// The incomplete line carried over from the previous read.
    line: Vec<u8>,
    /// The previous read ended in `\r`: a `\n` starting the next read belongs to it.
    after_cr: bool,
    /// Still at the very start of the stream (a BOM may follow).
    at_start: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
    max_line: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    /// A parser with a 64 MiB line limit.
    pub fn new() -> Self {
        Self::with_max_line(64 * 1024 * 1024)
    }

    pub fn with_max_line(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            has_data: false,
            event: None,
            id: None,
            max_line: limit,
        }
    }

    /// Feed the next bytes; every event they complete is appended to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = chunk.strip_prefix(b"\n") {
                chunk = rest;
            }
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|b| *b == b'\n' || *b == b'\r') {
                Some(pos) => {
                    let end = chunk[pos];
                    if self.line.is_empty() {
                        self.check_len(pos)?;
                        self.process_line(&chunk[..pos], out);
                    } else {
                        self.check_len(self.line.len() + pos)?;
                        let mut line = std::mem::take(&mut self.line);
                        line.extend_from_slice(&chunk[..pos]);
                        self.process_line(&line, out);
                        line.clear();
                        self.line = line;
                    }
                    chunk = &chunk[pos + 1..];
                    if end == b'\r' {
                        match chunk.first() {
                            Some(b'\n') => chunk = &chunk[1..],
                            Some(_) => {}
                            None => self.after_cr = true,
                        }
                    }
                }
                None => {
                    self.check_len(self.line.len() + chunk.len())?;
                    self.line.extend_from_slice(chunk);
                    break;
                }
            }
        }
        Ok(())
    }

    /// The stream ended. A last line without its line end, and an event without its blank
    /// line, are dispatched anyway (servers often omit the final blank line).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
        }
        self.dispatch(out);
        self.after_cr = false;
    }

    fn check_len(&self, len: usize) -> Result<(), SseError> {
        if len > self.max_line {
            Err(SseError::LineTooLong {
                limit: self.max_line,
            })
        } else {
            Ok(())
        }
    }

    fn process_line(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) {
        if self.at_start {
            self.at_start = false;
            if let Some(rest) = line.strip_prefix(BOM) {
                line = rest;
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // a comment (keep-alive)
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => {
                self.id = Some(String::from_utf8_lossy(value).into_owned());
            }
            _ => {} // `retry` and unknown fields are ignored
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
                id: self.id.clone(),
            });
        }
        self.has_data = false;
        self.data.clear();
        self.event = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STREAM: &str = concat!(
        ": keep-alive\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"你好\"}}]}\n\n",
        "event: message\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" 🌊 world\"}}]}\n\n",
        "data: first line\n",
        "data:second line\n",
        "id: 7\n\n",
        "event: ping\n\n",
        "data: [DONE]\n\n",
    );

    fn whole(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        p.feed(input, &mut out).unwrap();
        p.finish(&mut out);
        out
    }

    fn chunked(input: &[u8], sizes: &[usize]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let mut rest = input;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(1)
                .clamp(1, rest.len());
            p.feed(&rest[..n], &mut out).unwrap();
            rest = &rest[n..];
            i += 1;
        }
        p.finish(&mut out);
        out
    }

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: None,
                data: "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"你好\"}}]}".into(),
                id: None,
            },
            SseEvent {
                event: Some("message".into()),
                data: "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\" 🌊 world\"}}]}".into(),
                id: None,
            },
            SseEvent {
                event: None,
                data: "first line\nsecond line".into(),
                id: Some("7".into()),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
                id: Some("7".into()),
            },
        ]
    }

    #[test]
    fn a_whole_stream() {
        assert_eq!(whole(STREAM.as_bytes()), expected());
    }

    #[test]
    fn split_at_every_byte_position_with_every_line_ending() {
        for ending in ["\n", "\r\n", "\r"] {
            let s = STREAM.replace('\n', ending);
            let bytes = s.as_bytes();
            for cut in 0..=bytes.len() {
                let mut p = SseParser::new();
                let mut out = Vec::new();
                p.feed(&bytes[..cut], &mut out).unwrap();
                p.feed(&bytes[cut..], &mut out).unwrap();
                p.finish(&mut out);
                assert_eq!(out, expected(), "ending {ending:?}, cut at {cut}");
            }
            assert_eq!(chunked(bytes, &[1]), expected(), "byte by byte, {ending:?}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let out = whole(b"data: a\xFF\xFEb\n\n");
        assert_eq!(out[0].data, "a\u{FFFD}\u{FFFD}b");
    }

    #[test]
    fn bom_and_missing_final_blank_line() {
        let out = whole(b"\xEF\xBB\xBFdata: x\n\ndata: [DONE]");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].data, "x");
        assert_eq!(out[1].data, "[DONE]");
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        assert!(whole(b"event: x\n\n: c\n\nretry: 5\n\n").is_empty());
        assert_eq!(whole(b"data\n\n")[0].data, "");
    }

    #[test]
    fn overlong_lines_are_refused() {
        let mut p = SseParser::with_max_line(16);
        let mut out = Vec::new();
        p.feed(b"data: 0123456", &mut out).unwrap();
        assert_eq!(
            p.feed(b"789abcdef", &mut out),
            Err(SseError::LineTooLong { limit: 16 })
        );
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_events(
            datas in proptest::collection::vec("[a-z 你好🌊:\\[\\]{}\"]{0,12}", 1..8),
            sizes in proptest::collection::vec(1usize..9, 1..6),
            crlf in any::<bool>(),
        ) {
            let mut s = String::new();
            for d in &datas {
                s.push_str(&format!("data: {d}\n\n"));
            }
            if crlf {
                s = s.replace('\n', "\r\n");
            }
            prop_assert_eq!(chunked(s.as_bytes(), &sizes), whole(s.as_bytes()));
        }
    }
}
