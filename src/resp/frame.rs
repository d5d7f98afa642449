//! RESP2 frames: parsing client requests and encoding replies, with no I/O.
//!
//! Requests are RESP arrays of bulk strings (what every Redis client sends) or inline commands
//! (what a person types into `nc`). Parsing is incremental: it either returns one complete
//! request and consumes its bytes, returns `Ok(None)` when more bytes are needed, or returns a
//! [`ProtocolError`] after which the connection must be closed.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::fmt;

/// Rafka's cap on one bulk string: 32 * 1024 * 1000 bytes.
pub const DEFAULT_MAX_BULK_LEN: usize = 32 * 1024 * 1000;
/// Most arguments one request may carry; a larger array header is refused before allocating.
pub const DEFAULT_MAX_ARGS: usize = 1024 * 1024;
/// Longest inline command (and longest header line) accepted, as in Redis.
pub const MAX_INLINE_LEN: usize = 64 * 1024;

/// Limits applied while parsing a request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest bulk string accepted, in bytes.
    pub max_bulk_len: usize,
    /// Largest number of arguments in one request.
    pub max_args: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_args: DEFAULT_MAX_ARGS,
        }
    }
}

/// A request that breaks the protocol. The reply is `-ERR Protocol error: ...` and the
/// connection is closed, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn protocol_error<T>(msg: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError(msg.into()))
}

/// Parses one request from the front of `buf`.
///
/// On success the request's bytes are removed from `buf` and its arguments returned (the
/// first is the command name). An empty inline line yields an empty vector, which callers
/// skip, as Redis does.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    parse_request_resuming(buf, limits, &mut Cursor::default())
}

/// How far the parse of the request at the front of a buffer got, kept between reads by
/// [`parse_request_resuming`] so that a request arriving in many small reads is read once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Arguments the request announced (`*N`).
    count: usize,
    /// Where the next unread part of the request starts.
    pos: usize,
    /// The arguments found complete so far (start, end).
    spans: Vec<(usize, usize)>,
    /// The buffer length below which parsing again cannot get further.
    need: usize,
    /// Where the search for the end of an unfinished header line goes on (its start was
    /// searched already).
    scan_from: usize,
}

/// [`parse_request`] that resumes where the last call on the same buffer stopped: `cursor`
/// must be the same for every call on a buffer, and only this function may consume from it.
/// Returns `Ok(None)` at once while the buffer is shorter than the last call said it needs.
pub fn parse_request_resuming(
    buf: &mut BytesMut,
    limits: &Limits,
    cursor: &mut Cursor,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if buf.is_empty() || buf.len() < cursor.need {
        return Ok(None);
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, limits, cursor)
    } else {
        let parsed = parse_inline(buf, cursor.pos);
        match &parsed {
            // Scanned up to here without a newline: the next call starts there, once a byte
            // more has arrived.
            Ok(None) => {
                cursor.pos = buf.len();
                cursor.need = buf.len() + 1;
            }
            _ => *cursor = Cursor::default(),
        }
        parsed
    }
}

/// Finds the end of the line starting at `start`: the index of its `\r`.
fn find_crlf(buf: &[u8], start: usize) -> Option<usize> {
    let mut from = start;
    while let Some(pos) = memchr(b'\r', &buf[from..]) {
        let at = from + pos;
        if at + 1 < buf.len() {
            if buf[at + 1] == b'\n' {
                return Some(at);
            }
            from = at + 1;
        } else {
            return None;
        }
    }
    None
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Parses a decimal integer header such as the `3` in `*3\r\n`.
fn parse_header_int(line: &[u8]) -> Option<i64> {
    if line.is_empty() || line.len() > 20 {
        return None;
    }
    let (neg, digits) = match line[0] {
        b'-' => (true, &line[1..]),
        _ => (false, line),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -value } else { value })
}

fn parse_multibulk(
    buf: &mut BytesMut,
    limits: &Limits,
    cursor: &mut Cursor,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    if cursor.spans.is_empty() && cursor.pos == 0 {
        let Some(eol) = find_crlf(buf, cursor.scan_from.max(1)) else {
            if buf.len() > MAX_INLINE_LEN {
                return protocol_error("too big mbulk count string");
            }
            // Nothing to re-read until more of the count line is here; a `\r` last in the
            // buffer may yet be followed by its `\n`.
            cursor.need = buf.len() + 1;
            cursor.scan_from = buf.len().saturating_sub(1).max(1);
            return Ok(None);
        };
        cursor.scan_from = 0;
        let count = match parse_header_int(&buf[1..eol]) {
            Some(n) if n <= limits.max_args as i64 => n,
            Some(_) => return protocol_error("invalid multibulk length"),
            None => return protocol_error("invalid multibulk length"),
        };
        if count <= 0 {
            // `*0` and `*-1` are empty requests; skip them like Redis does. What the cursor
            // knew was about these bytes, now gone.
            buf.advance(eol + 2);
            *cursor = Cursor::default();
            return Ok(Some(Vec::new()));
        }
        cursor.count = count as usize;
        cursor.pos = eol + 2;
    }

    // Check that the whole request is buffered, validating headers as we go, so that nothing
    // is allocated for a request that is still arriving or is malformed. The cursor keeps
    // what is known between calls: a request that arrives slowly is read once, not again
    // from its start on every read.
    while cursor.spans.len() < cursor.count {
        let pos = cursor.pos;
        if pos >= buf.len() {
            cursor.need = pos + 1;
            return Ok(None);
        }
        if buf[pos] != b'$' {
            return protocol_error(format!(
                "expected '$', got '{}'",
                (buf[pos] as char).escape_default()
            ));
        }
        let Some(line_end) = find_crlf(buf, cursor.scan_from.max(pos + 1)) else {
            if buf.len() - pos > MAX_INLINE_LEN {
                return protocol_error("too big bulk count string");
            }
            cursor.need = buf.len() + 1;
            cursor.scan_from = buf.len().saturating_sub(1).max(pos + 1);
            return Ok(None);
        };
        cursor.scan_from = 0;
        let len = match parse_header_int(&buf[pos + 1..line_end]) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len as u64 => n as usize,
            _ => return protocol_error("invalid bulk length"),
        };
        let data_start = line_end + 2;
        let data_end = data_start + len;
        if data_end + 2 > buf.len() {
            // Nothing is reserved for it: the buffer grows as bytes arrive, so a length
            // header alone costs no memory.
            cursor.need = data_end + 2;
            return Ok(None);
        }
        if &buf[data_end..data_end + 2] != b"\r\n" {
            return protocol_error("bulk string not terminated by CRLF");
        }
        cursor.spans.push((data_start, data_end));
        cursor.pos = data_end + 2;
    }

    // Split the request off and slice its arguments without copying.
    let request = buf.split_to(cursor.pos).freeze();
    let args = cursor
        .spans
        .drain(..)
        .map(|(start, end)| request.slice(start..end))
        .collect();
    *cursor = Cursor::default();
    Ok(Some(args))
}

fn parse_inline(buf: &mut BytesMut, scanned: usize) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let from = scanned.min(buf.len());
    let Some(nl) = memchr(b'\n', &buf[from..]).map(|at| from + at) else {
        if buf.len() > MAX_INLINE_LEN {
            return protocol_error("too big inline request");
        }
        return Ok(None);
    };
    let line = buf.split_to(nl + 1).freeze();
    let text = line.slice(..nl);
    let text = text.strip_suffix(b"\r").unwrap_or(&text);
    let mut args = Vec::new();
    let mut current = Vec::new();
    let mut quote: Option<u8> = None;
    let mut in_arg = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        match quote {
            Some(q) if c == q => {
                quote = None;
                // A closing quote must end the argument.
                if i + 1 < text.len() && !text[i + 1].is_ascii_whitespace() {
                    return protocol_error("unbalanced quotes in request");
                }
            }
            Some(b'"') if c == b'\\' && i + 1 < text.len() => {
                i += 1;
                current.push(match text[i] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    other => other,
                });
            }
            Some(_) => current.push(c),
            None if c == b'"' || c == b'\'' => {
                quote = Some(c);
                in_arg = true;
            }
            None if c.is_ascii_whitespace() => {
                if in_arg {
                    args.push(Bytes::from(std::mem::take(&mut current)));
                    in_arg = false;
                }
            }
            None => {
                current.push(c);
                in_arg = true;
            }
        }
        i += 1;
    }
    if quote.is_some() {
        return protocol_error("unbalanced quotes in request");
    }
    if in_arg {
        args.push(Bytes::from(current));
    }
    Ok(Some(args))
}

/// A reply frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+text`
    Simple(String),
    /// `-text`: the first word is the prefix clients map to exception classes.
    Error(String),
    /// `:n`
    Integer(i64),
    /// `$len` + bytes
    Bulk(Bytes),
    /// `$-1`
    NullBulk,
    /// `*-1`: what BLPOP returns on timeout.
    NullArray,
    /// `*n` + frames
    Array(Vec<Frame>),
}

impl Frame {
    /// An error frame from its full text (prefix included).
    pub fn error(text: impl Into<String>) -> Frame {
        Frame::Error(text.into())
    }

    /// A bulk frame holding a copy of `text`.
    pub fn bulk_str(text: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(text.as_bytes()))
    }

    /// Appends the frame's RESP2 encoding to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => encode_line(out, b'+', s),
            Frame::Error(s) => encode_line(out, b'-', s),
            Frame::Integer(n) => encode_integer(out, *n),
            Frame::Bulk(b) => encode_bulk(out, b),
            Frame::NullBulk => out.put_slice(b"$-1\r\n"),
            Frame::NullArray => out.put_slice(b"*-1\r\n"),
            Frame::Array(items) => {
                encode_array_header(out, items.len());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    /// Parses one reply frame from the front of `buf` (the client side; used by tests and the
    /// benchmark clients). Returns `Ok(None)` when more bytes are needed.
    pub fn parse(buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let mut pos = 0;
        match parse_reply_at(buf, &mut pos, 0)? {
            Some(frame) => {
                buf.advance(pos);
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }
}

/// Deepest array nesting a reply may have; deeper input is refused instead of recursing
/// without bound.
pub const MAX_REPLY_DEPTH: usize = 64;

fn parse_reply_at(
    buf: &[u8],
    pos: &mut usize,
    depth: usize,
) -> Result<Option<Frame>, ProtocolError> {
    if depth > MAX_REPLY_DEPTH {
        return protocol_error("reply nested too deeply");
    }
    if *pos >= buf.len() {
        return Ok(None);
    }
    let Some(eol) = find_crlf(buf, *pos + 1) else {
        return Ok(None);
    };
    let kind = buf[*pos];
    let line = &buf[*pos + 1..eol];
    if line.iter().any(|&b| b == b'\r' || b == b'\n') {
        return protocol_error("CR or LF inside a line");
    }
    let text = || String::from_utf8_lossy(line).into_owned();
    let int = || parse_header_int(line).ok_or_else(|| ProtocolError("invalid integer".into()));
    let after = eol + 2;
    let frame = match kind {
        b'+' => Frame::Simple(text()),
        b'-' => Frame::Error(text()),
        b':' => Frame::Integer(int()?),
        b'$' => {
            let len = int()?;
            if len < 0 {
                Frame::NullBulk
            } else {
                let end = after + len as usize;
                if end + 2 > buf.len() {
                    return Ok(None);
                }
                *pos = end + 2;
                return Ok(Some(Frame::Bulk(Bytes::copy_from_slice(&buf[after..end]))));
            }
        }
        b'*' => {
            let len = int()?;
            if len < 0 {
                Frame::NullArray
            } else {
                let mut inner = after;
                let mut items = Vec::with_capacity((len as usize).min(1024));
                for _ in 0..len {
                    match parse_reply_at(buf, &mut inner, depth + 1)? {
                        Some(f) => items.push(f),
                        None => return Ok(None),
                    }
                }
                *pos = inner;
                return Ok(Some(Frame::Array(items)));
            }
        }
        other => {
            return protocol_error(format!(
                "unknown reply type '{}'",
                (other as char).escape_default()
            ))
        }
    };
    *pos = after;
    Ok(Some(frame))
}

fn encode_line(out: &mut BytesMut, kind: u8, text: &str) {
    out.reserve(text.len() + 3);
    out.put_u8(kind);
    // A CR or LF inside a status line would end it early and desynchronise the client.
    for b in text.bytes() {
        out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.put_slice(b"\r\n");
}

fn put_decimal(out: &mut BytesMut, n: i64) {
    let mut digits = itoa_buf(n);
    out.put_slice(digits.as_bytes_mut());
}

/// A tiny stack buffer for decimal formatting, to avoid allocating on the hot path.
struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(n: i64) -> Decimal {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    Decimal { buf, start: i }
}

/// Appends `:n\r\n`.
pub fn encode_integer(out: &mut BytesMut, n: i64) {
    out.put_u8(b':');
    put_decimal(out, n);
    out.put_slice(b"\r\n");
}

/// Appends `*n\r\n`.
pub fn encode_array_header(out: &mut BytesMut, len: usize) {
    out.put_u8(b'*');
    put_decimal(out, len as i64);
    out.put_slice(b"\r\n");
}

/// Appends a bulk string.
pub fn encode_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    out.put_u8(b'$');
    put_decimal(out, data.len() as i64);
    out.put_slice(b"\r\n");
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(req) = parse_request(&mut buf, &Limits::default())? {
            out.push(req);
        }
        Ok(out)
    }

    fn args(req: &[Bytes]) -> Vec<&[u8]> {
        req.iter().map(|b| b.as_ref()).collect()
    }

    #[test]
    fn parses_a_multibulk_request() {
        let reqs = parse_all(b"*2\r\n$4\r\nPING\r\n$3\r\nabc\r\n").unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(args(&reqs[0]), vec![&b"PING"[..], b"abc"]);
    }

    #[test]
    fn parses_pipelined_requests_in_order() {
        let reqs = parse_all(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n").unwrap();
        assert_eq!(reqs.len(), 2);
        assert_eq!(args(&reqs[1]), vec![&b"QUIT"[..]]);
    }

    #[test]
    fn binary_values_survive() {
        let reqs = parse_all(b"*2\r\n$1\r\nX\r\n$4\r\n\r\n\0\xff\r\n").unwrap();
        assert_eq!(reqs[0][1].as_ref(), b"\r\n\0\xff");
    }

    /// Feeds `input` `step` bytes at a time through one cursor, as a slow client's reads
    /// arrive, and returns what was parsed and the final error, if any.
    fn parse_trickled(
        input: &[u8],
        step: usize,
    ) -> (Vec<Vec<Bytes>>, Option<ProtocolError>, usize) {
        let mut buf = BytesMut::new();
        let mut cursor = Cursor::default();
        let mut out = Vec::new();
        for chunk in input.chunks(step.max(1)) {
            buf.extend_from_slice(chunk);
            loop {
                match parse_request_resuming(&mut buf, &Limits::default(), &mut cursor) {
                    Ok(Some(req)) => out.push(req),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e), buf.len()),
                }
            }
        }
        (out, None, buf.len())
    }

    #[test]
    fn a_request_trickling_in_parses_as_it_would_whole() {
        let stream: &[u8] = b"*3\r\n$6\r\nRPUSHX\r\n$12\r\ntopics:greet\r\n$5\r\nhello\r\n\
            PING hi\r\n*0\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\nQUIT\n*-1\r\nPONG\r\n\
            *1\r\n$3\r\nab";
        let whole = {
            let mut buf = BytesMut::from(stream);
            let mut out = Vec::new();
            while let Some(req) = parse_request(&mut buf, &Limits::default()).unwrap() {
                out.push(req);
            }
            (out, buf.len())
        };
        for step in 1..=stream.len() {
            let (reqs, err, left) = parse_trickled(stream, step);
            assert_eq!(err, None, "step {step}");
            assert_eq!((reqs, left), whole, "step {step}");
        }
        // An empty request consumes its bytes: what the cursor knew of them must go too (the
        // resp_request fuzzer found an inline request after `*-1` never parsed).
        for step in 1..=4 {
            let (reqs, err, left) = parse_trickled(b"*-1\r\nX\r\n", step);
            assert_eq!((reqs.len(), err, left), (2, None, 0), "step {step}");
        }
        for bad in [&b"*2\r\n$4\r\nPING\r\n+x\r\n"[..], b"*1\r\n$3\r\nabcd\r\n"] {
            for step in 1..=bad.len() {
                let (_, err, _) = parse_trickled(bad, step);
                assert!(err.is_some(), "{bad:?} step {step}");
            }
        }
    }

    #[test]
    fn a_cursor_skips_work_until_enough_bytes_are_there() {
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nPING\r\n$10\r\nab"[..]);
        let mut cursor = Cursor::default();
        assert_eq!(
            parse_request_resuming(&mut buf, &Limits::default(), &mut cursor),
            Ok(None)
        );
        // The first argument is known; the second needs its 10 bytes and CRLF.
        assert_eq!(cursor.spans.len(), 1);
        assert_eq!(cursor.need, buf.len() - 2 + 10 + 2);
        buf.extend_from_slice(b"cdefgh");
        let before = cursor.clone();
        assert_eq!(
            parse_request_resuming(&mut buf, &Limits::default(), &mut cursor),
            Ok(None)
        );
        assert_eq!(cursor, before, "not enough yet: nothing re-read");
        buf.extend_from_slice(b"ij\r\n");
        let req = parse_request_resuming(&mut buf, &Limits::default(), &mut cursor).unwrap();
        assert_eq!(args(&req.unwrap()), vec![&b"PING"[..], b"abcdefghij"]);
        assert_eq!(cursor, Cursor::default());
    }

    #[test]
    fn a_length_header_alone_allocates_nothing() {
        let mut buf = BytesMut::from(&b"*1\r\n$32000000\r\nab"[..]);
        let before = buf.capacity();
        assert_eq!(parse_request(&mut buf, &Limits::default()), Ok(None));
        assert_eq!(
            buf.capacity(),
            before,
            "the buffer grows as bytes arrive, not from a header"
        );
    }

    #[test]
    fn incomplete_input_waits_for_more_at_every_cut() {
        let full = b"*3\r\n$6\r\nRPUSHX\r\n$12\r\ntopics:greet\r\n$5\r\nhello\r\n";
        for cut in 0..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(
                parse_request(&mut buf, &Limits::default()).unwrap(),
                None,
                "cut at {cut}"
            );
            assert_eq!(buf.len(), cut, "nothing consumed at cut {cut}");
        }
        let mut buf = BytesMut::from(&full[..]);
        assert!(parse_request(&mut buf, &Limits::default())
            .unwrap()
            .is_some());
        assert!(buf.is_empty());
    }

    #[test]
    fn huge_bulk_header_is_refused_before_allocation() {
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$99999999999\r\n"[..]);
        let err = parse_request(&mut buf, &Limits::default()).unwrap_err();
        assert_eq!(err.0, "invalid bulk length");
        assert!(buf.capacity() < 1024 * 1024);
    }

    #[test]
    fn bulk_at_the_cap_is_accepted_and_one_byte_over_is_not() {
        let limits = Limits {
            max_bulk_len: 5,
            max_args: 8,
        };
        let mut ok = BytesMut::from(&b"*1\r\n$5\r\nhello\r\n"[..]);
        assert!(parse_request(&mut ok, &limits).unwrap().is_some());
        let mut over = BytesMut::from(&b"*1\r\n$6\r\n"[..]);
        assert!(parse_request(&mut over, &limits).is_err());
    }

    #[test]
    fn huge_array_header_is_refused() {
        let limits = Limits {
            max_bulk_len: 5,
            max_args: 8,
        };
        let mut buf = BytesMut::from(&b"*9\r\n"[..]);
        assert_eq!(
            parse_request(&mut buf, &limits).unwrap_err().0,
            "invalid multibulk length"
        );
    }

    #[test]
    fn malformed_headers_are_protocol_errors() {
        for input in [
            &b"*x\r\n"[..],
            b"*1\r\n:5\r\n",
            b"*1\r\n$-3\r\n",
            b"*1\r\n$abc\r\n",
            b"*1\r\n$3\r\nabcXY",
            b"*99999999999999999999999\r\n",
        ] {
            let mut buf = BytesMut::from(input);
            assert!(
                parse_request(&mut buf, &Limits::default()).is_err(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let reqs = parse_all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(reqs.len(), 3);
        assert!(reqs[0].is_empty() && reqs[1].is_empty());
    }

    #[test]
    fn inline_commands_split_on_whitespace_and_honour_quotes() {
        let reqs = parse_all(b"PING\r\nRPUSHX topics:t \"a b\\n\"\nKEYS  'topics:' \r\n").unwrap();
        assert_eq!(args(&reqs[0]), vec![&b"PING"[..]]);
        assert_eq!(args(&reqs[1]), vec![&b"RPUSHX"[..], b"topics:t", b"a b\n"]);
        assert_eq!(args(&reqs[2]), vec![&b"KEYS"[..], b"topics:"]);
    }

    #[test]
    fn inline_unbalanced_quotes_are_an_error() {
        assert!(parse_all(b"PING \"abc\r\n").is_err());
    }

    #[test]
    fn encodes_every_reply_type() {
        let frame = Frame::Array(vec![
            Frame::Simple("OK".into()),
            Frame::error("CONS Server shutdown"),
            Frame::Integer(-42),
            Frame::bulk_str("v"),
            Frame::NullBulk,
            Frame::NullArray,
        ]);
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        assert_eq!(
            &out[..],
            b"*6\r\n+OK\r\n-CONS Server shutdown\r\n:-42\r\n$1\r\nv\r\n$-1\r\n*-1\r\n"
        );
    }

    #[test]
    fn error_text_cannot_break_the_line() {
        let mut out = BytesMut::new();
        Frame::error("ERR bad\r\nthing").encode(&mut out);
        assert_eq!(&out[..], b"-ERR bad  thing\r\n");
    }

    #[test]
    fn reply_parse_roundtrips_encode() {
        let frame = Frame::Array(vec![
            Frame::bulk_str("topic"),
            Frame::bulk_str("t"),
            Frame::bulk_str("partition"),
            Frame::Integer(3),
            Frame::Array(vec![Frame::NullArray, Frame::Integer(i64::MIN + 1)]),
        ]);
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        let mut buf = out.clone();
        assert_eq!(Frame::parse(&mut buf).unwrap(), Some(frame));
        assert!(buf.is_empty());
        let mut partial = out.split_to(out.len() - 1);
        assert_eq!(Frame::parse(&mut partial).unwrap(), None);
    }

    #[test]
    fn replies_refuse_deep_nesting_and_stray_line_breaks() {
        let mut deep = BytesMut::new();
        for _ in 0..=MAX_REPLY_DEPTH + 1 {
            deep.extend_from_slice(b"*1\r\n");
        }
        deep.extend_from_slice(b":1\r\n");
        assert!(Frame::parse(&mut deep).is_err());
        let mut stray = BytesMut::from(&b"+O\nK\r\n"[..]);
        assert!(Frame::parse(&mut stray).is_err());
    }

    #[test]
    fn decimal_formatting_covers_edges() {
        for n in [0i64, 7, -7, 10, i64::MAX, i64::MIN] {
            let mut out = BytesMut::new();
            encode_integer(&mut out, n);
            assert_eq!(out, format!(":{n}\r\n").as_bytes());
        }
    }
}
