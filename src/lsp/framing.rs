//! The protocol's framing on a byte stream: header lines
//! (`Content-Length: N`, optionally `Content-Type: ...`), each ending in
//! CRLF, a blank line, then exactly N bytes of body.
//!
//! A frame is read whole or not at all, and its length is checked against
//! the limit before anything is allocated. When the framing is lost (a
//! length that is not a number or is over the limit, a header line that
//! does not end in CRLF, a line that is no header, a frame without a
//! length), the reader looks for the next `Content-Length:` (from the
//! second byte of the bad header on) and goes on from there; in a stream
//! of frames within the limit one starts within every
//! `limit + MAX_HEADER_BYTES` bytes, so a scan longer than that gives up
//! for good ([`Frame::Lost`]).

use std::collections::VecDeque;
use std::io::{self, BufRead, Write};

pub use crate::diag::limits::DEFAULT_MAX_MESSAGE_BYTES;

/// The most bytes of header lines a frame may have.
pub const MAX_HEADER_BYTES: usize = 4096;

/// What the header looked for after a loss of framing starts with (case
/// is ignored, as for every header name).
const CONTENT_LENGTH: &[u8] = b"content-length:";

/// What the reader found next.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A frame's body: its header was intact.
    Body(Vec<u8>),
    /// The framing was lost and found again at a header, `skipped` bytes
    /// further on (the bad header's included).
    Resynced { why: Loss, skipped: u64 },
    /// The input ended between frames.
    End,
    /// The framing is lost for good: the input ended inside a frame or
    /// while looking for a header, no header came within the scan, or the
    /// input cannot be read.
    Lost(String),
}

/// Why the framing was lost.
#[derive(Debug, PartialEq, Eq)]
pub struct Loss {
    pub message: String,
    /// `rasp::limit::message` for a frame over the limit.
    pub code: Option<&'static str>,
}

impl Loss {
    fn new(message: impl Into<String>) -> Loss {
        Loss {
            message: message.into(),
            code: None,
        }
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(code) = self.code {
            write!(f, "[{code}] ")?;
        }
        f.write_str(&self.message)
    }
}

/// Reads frames from `input`.
pub struct Reader<R> {
    input: R,
    /// Bytes to read again before `input`'s (after a loss of framing).
    replay: VecDeque<u8>,
    max: u64,
}

/// A header line, or why there is none.
enum Line {
    /// Its bytes, the line end included.
    Full(Vec<u8>),
    /// The input ended: the bytes read before.
    End(Vec<u8>),
    /// Longer than the header may be: the bytes read.
    TooLong(Vec<u8>),
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R, max_message_bytes: u64) -> Reader<R> {
        Reader {
            input,
            replay: VecDeque::new(),
            max: max_message_bytes,
        }
    }

    /// The next frame.
    pub fn next_frame(&mut self) -> Frame {
        match self.frame() {
            Ok(f) => f,
            Err(e) => Frame::Lost(format!("cannot read the input: {e}")),
        }
    }

    fn frame(&mut self) -> io::Result<Frame> {
        // The header's bytes so far, to look through again on a loss.
        let mut header: Vec<u8> = Vec::new();
        let mut length: Option<u64> = None;
        let loss = loop {
            let room = MAX_HEADER_BYTES - header.len();
            let line = match self.line(room)? {
                Line::Full(l) => l,
                Line::End(l) if header.is_empty() && l.is_empty() => return Ok(Frame::End),
                Line::End(l) => {
                    let inside = if header.is_empty() {
                        "a header line"
                    } else {
                        "a header"
                    };
                    return Ok(Frame::Lost(format!(
                        "the input ended inside {inside} ({} bytes)",
                        header.len() + l.len()
                    )));
                }
                Line::TooLong(l) => {
                    header.extend_from_slice(&l);
                    break Loss::new(format!(
                        "a header longer than {MAX_HEADER_BYTES} bytes (or bytes that are no header)"
                    ));
                }
            };
            header.extend_from_slice(&line);
            let Some(text) = line.strip_suffix(b"\r\n") else {
                break Loss::new(format!(
                    "a header line that does not end in CRLF: {}",
                    shown(&line)
                ));
            };
            if text.is_empty() {
                match length {
                    Some(n) => return self.body(n),
                    None => break Loss::new("a header without Content-Length"),
                }
            }
            match header_field(text, self.max) {
                Ok(Some(n)) => length = Some(n),
                Ok(None) => {}
                Err(loss) => break loss,
            }
        };
        self.resync(header, loss)
    }

    /// Exactly `n` bytes of body (`n` is within the limit).
    fn body(&mut self, n: u64) -> io::Result<Frame> {
        let n = n as usize;
        let mut body = Vec::with_capacity(n);
        while body.len() < n
            && let Some(b) = self.replay.pop_front()
        {
            body.push(b);
        }
        while body.len() < n {
            let buf = match self.input.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(Frame::Lost(format!(
                    "the input ended {} bytes into a message of {n} bytes",
                    body.len()
                )));
            }
            let take = buf.len().min(n - body.len());
            body.extend_from_slice(&buf[..take]);
            self.input.consume(take);
        }
        Ok(Frame::Body(body))
    }

    /// After a loss: the next `Content-Length:` from the second byte of
    /// the bad header on, within the scan's bound.
    fn resync(&mut self, header: Vec<u8>, why: Loss) -> io::Result<Frame> {
        for &b in header.iter().skip(1).rev() {
            self.replay.push_front(b);
        }
        let bound = self.max.saturating_add(MAX_HEADER_BYTES as u64);
        let mut skipped: u64 = header.len().min(1) as u64;
        let mut matched = 0;
        while matched < CONTENT_LENGTH.len() {
            if skipped > bound {
                return Ok(Frame::Lost(format!(
                    "{why}; no Content-Length header in the next {bound} bytes"
                )));
            }
            let Some(b) = self.byte()? else {
                return Ok(Frame::Lost(format!(
                    "{why}; the input ended before another header"
                )));
            };
            skipped += 1;
            let b = b.to_ascii_lowercase();
            if b == CONTENT_LENGTH[matched] {
                matched += 1;
            } else {
                // The pattern's first letter appears nowhere else in it.
                matched = usize::from(b == CONTENT_LENGTH[0]);
            }
        }
        for &b in CONTENT_LENGTH.iter().rev() {
            self.replay.push_front(b);
        }
        Ok(Frame::Resynced {
            why,
            skipped: skipped - CONTENT_LENGTH.len() as u64,
        })
    }

    /// One line (to `\n`), at most `room` bytes.
    fn line(&mut self, room: usize) -> io::Result<Line> {
        let mut line = Vec::new();
        loop {
            if line.len() >= room {
                return Ok(Line::TooLong(line));
            }
            let Some(b) = self.byte()? else {
                return Ok(Line::End(line));
            };
            line.push(b);
            if b == b'\n' {
                return Ok(Line::Full(line));
            }
        }
    }

    fn byte(&mut self) -> io::Result<Option<u8>> {
        if let Some(b) = self.replay.pop_front() {
            return Ok(Some(b));
        }
        loop {
            match self.input.fill_buf() {
                Ok([]) => return Ok(None),
                Ok(buf) => {
                    let b = buf[0];
                    self.input.consume(1);
                    return Ok(Some(b));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A header line (without its CRLF): the length it gives, if it is
/// `Content-Length`; a loss when it is not a header the protocol has or
/// its length is not a number within the limit.
fn header_field(text: &[u8], max: u64) -> Result<Option<u64>, Loss> {
    let Some(colon) = text.iter().position(|&b| b == b':') else {
        return Err(Loss::new(format!("not a header: {}", shown(text))));
    };
    let (name, value) = (&text[..colon], text[colon + 1..].trim_ascii());
    if name.eq_ignore_ascii_case(b"content-type") {
        return Ok(None);
    }
    if !name.eq_ignore_ascii_case(b"content-length") {
        return Err(Loss::new(format!(
            "not a header of the protocol: {}",
            shown(text)
        )));
    }
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Loss::new(format!(
            "Content-Length is not a number: {}",
            shown(value)
        )));
    }
    // All digits: only too many of them fails to parse.
    let n = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    match n {
        Some(n) if n <= max => Ok(Some(n)),
        _ => Err(Loss {
            message: format!(
                "a message of {} bytes, over the limit of {max} bytes (raise it with `rasp lsp --max-message-bytes`)",
                String::from_utf8_lossy(value)
            ),
            code: Some(crate::diag::codes::LIMIT_MESSAGE),
        }),
    }
}

/// Bytes as they may be shown in a message: lossy UTF-8, escaped, cut.
fn shown(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(60)];
    let mut s = format!("{:?}", String::from_utf8_lossy(cut));
    if cut.len() < bytes.len() {
        s.push_str("...");
    }
    s
}

/// Write one frame: its header and body in one write, then flush.
pub fn write_frame(out: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    out.write_all(&frame)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: u64) -> Vec<Frame> {
        let mut r = Reader::new(input, max);
        let mut out = Vec::new();
        loop {
            let f = r.next_frame();
            let last = matches!(f, Frame::End | Frame::Lost(_));
            out.push(f);
            if last {
                return out;
            }
        }
    }

    fn body(s: &str) -> Frame {
        Frame::Body(s.as_bytes().to_vec())
    }

    fn is_resync(f: &Frame, skipped: u64) -> bool {
        matches!(f, Frame::Resynced { skipped: s, .. } if *s == skipped)
    }

    #[test]
    fn intact_frames_and_their_headers() {
        let input = b"Content-Length: 2\r\n\r\n{}content-length:3\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n[1]";
        assert_eq!(frames(input, 100), [body("{}"), body("[1]"), Frame::End]);
        assert_eq!(frames(b"", 100), [Frame::End]);
        // A body may hold anything, headers and newlines included.
        let input = b"Content-Length: 19\r\n\r\nContent-Length: 5\r\n";
        assert_eq!(
            frames(input, 100),
            [body("Content-Length: 5\r\n"), Frame::End]
        );
    }

    #[test]
    fn lost_framing_resynchronises_at_the_next_header() {
        let good = "Content-Length: 2\r\n\r\n{}";
        let cases: [(&str, u64); 8] = [
            // An LF-only header: its frame is skipped.
            ("Content-Length: 2\n\n{}", 21),
            // Not a number, negative, empty.
            ("Content-Length: abc\r\n\r\n{}", 25),
            ("Content-Length: -2\r\n\r\n{}", 24),
            ("Content-Length:\r\n\r\n{}", 21),
            // No length at all; an unknown header; garbage before a header.
            ("Content-Type: x\r\n\r\n{}", 21),
            ("X-Thing: 1\r\n\r\n{}", 16),
            ("garbage", 7),
            ("\r\n", 2),
        ];
        for (bad, skipped) in cases {
            let input = format!("{bad}{good}");
            let got = frames(input.as_bytes(), 100);
            assert!(is_resync(&got[0], skipped), "{bad:?}: {got:?}");
            assert_eq!(got[1..], [body("{}"), Frame::End], "{bad:?}");
        }
        // Garbage glued to a header: found from the garbage's second byte.
        let got = frames(b"xyContent-Length: 2\r\n\r\n{}", 100);
        assert!(is_resync(&got[0], 2), "{got:?}");
        assert_eq!(got[1], body("{}"));
    }

    #[test]
    fn lengths_over_the_limit_are_refused_before_reading() {
        for n in [
            "18446744073709551615",
            "1000000000000000000",
            "99999999999999999999999",
            "101",
        ] {
            let input = format!("Content-Length: {n}\r\n\r\n{{}}Content-Length: 2\r\n\r\n[]");
            let got = frames(input.as_bytes(), 100);
            let Frame::Resynced { why, .. } = &got[0] else {
                panic!("{n}: {got:?}")
            };
            assert_eq!(why.code, Some(crate::diag::codes::LIMIT_MESSAGE));
            assert!(
                why.message.contains("--max-message-bytes"),
                "{}",
                why.message
            );
            assert_eq!(got[1..], [body("[]"), Frame::End]);
        }
        // At the limit: read.
        assert_eq!(frames(b"Content-Length: 2\r\n\r\n{}", 2)[0], body("{}"));
    }

    #[test]
    fn framing_lost_for_good() {
        let lost = |input: &[u8], max: u64| match frames(input, max).pop() {
            Some(Frame::Lost(why)) => why,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        };
        assert!(
            lost(b"Content-Length: 10\r\n\r\n{}", 100).contains("2 bytes into a message of 10")
        );
        assert!(lost(b"Content-Length: 10\r\n", 100).contains("inside a header"));
        assert!(lost(b"Content-Len", 100).contains("inside a header line"));
        assert!(
            lost(b"Content-Length: x\r\n\r\nno header follows", 100)
                .contains("ended before another header")
        );
        // No header within the scan: the limit plus a header's room.
        let garbage = vec![b'z'; 100 + MAX_HEADER_BYTES + 10];
        assert!(lost(&garbage, 100).contains("no Content-Length header in the next"));
        // A header line that never ends, read at most MAX_HEADER_BYTES at a time.
        let long = vec![b'a'; 3 * MAX_HEADER_BYTES];
        assert!(lost(&long, 10).contains("no Content-Length header"));
    }

    #[test]
    fn writes_whole_frames() {
        let mut out = Vec::new();
        write_frame(&mut out, b"{\"a\":1}").expect("written");
        assert_eq!(out, b"Content-Length: 7\r\n\r\n{\"a\":1}");
        let mut closed = ClosedPipe;
        assert!(write_frame(&mut closed, b"{}").is_err());
    }

    struct ClosedPipe;
    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
