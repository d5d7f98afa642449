//! Fuzzes the server-side RESP request parser: `parse_request`, and `parse_request_resuming`
//! with a cursor kept between reads (what a connection uses).
//!
//! Invariants checked for every input:
//! - the parser never panics (any panic is a libFuzzer crash);
//! - `Ok(Some(args))` removes at least one byte from the buffer, and the arguments' total
//!   length is at most the number of bytes removed;
//! - `Ok(None)` leaves the buffer untouched (same length, same bytes);
//! - a request that parsed, re-encoded as a RESP array of bulk strings, parses back to the
//!   same arguments and consumes exactly the encoding;
//! - incremental consistency: feeding the stream in two chunks (split at an offset taken from
//!   the input's first two bytes) yields the same requests, the same final error (if any) and
//!   the same number of consumed bytes as feeding it in one go;
//! - the resuming parser, fed the stream in chunks of the size the third byte picks through
//!   one cursor (as a slow client's reads arrive), yields the same outcome.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafkactl::testing::{
    encode_array_header, encode_bulk, parse_request, parse_request_resuming, Cursor, Limits,
    ProtocolError,
};
use libfuzzer_sys::fuzz_target;

/// Small limits so that the size checks are reachable with short inputs.
const LIMITS: Limits = Limits {
    max_bulk_len: 4096,
    max_args: 64,
};

/// What happened when a byte stream was fed to the parser.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    requests: Vec<Vec<Bytes>>,
    /// The error that ended parsing, if any (the connection would be closed here).
    error: Option<ProtocolError>,
    /// Bytes of the stream consumed by the requests above; when there is no error the rest
    /// is still buffered (a request still arriving).
    consumed: usize,
}

/// Parses one request, checking the per-call invariants.
fn parse_one(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let before = buf.clone();
    let result = parse_request(buf, &LIMITS);
    match &result {
        Ok(Some(args)) => {
            assert!(buf.len() < before.len(), "Ok(Some) must consume bytes");
            let consumed = before.len() - buf.len();
            let total: usize = args.iter().map(|a| a.len()).sum();
            assert!(
                total <= consumed,
                "arguments ({total} bytes) longer than the request ({consumed} bytes)"
            );
            // What remains is exactly the tail of what was there.
            assert_eq!(&buf[..], &before[consumed..]);
            check_reencode(args);
        }
        Ok(None) => {
            assert_eq!(
                &buf[..],
                &before[..],
                "Ok(None) must not consume or alter bytes"
            );
        }
        Err(_) => {}
    }
    result
}

/// A parsed request, encoded the way a client sends it, must parse back to itself.
fn check_reencode(args: &[Bytes]) {
    if args.is_empty() {
        return; // `*0`, `*-1` and blank inline lines: nothing to send.
    }
    let mut wire = BytesMut::new();
    encode_array_header(&mut wire, args.len());
    for a in args {
        encode_bulk(&mut wire, a);
    }
    let wire_len = wire.len();
    // Inline requests are not bounded by `max_args`, so re-parse with limits that fit.
    let limits = Limits {
        max_bulk_len: args.iter().map(|a| a.len()).max().unwrap_or(0),
        max_args: args.len(),
    };
    let reparsed = parse_request(&mut wire, &limits)
        .expect("re-encoded request must parse")
        .expect("re-encoded request must be complete");
    assert_eq!(reparsed, args, "re-encoded request parsed differently");
    assert!(
        wire.is_empty(),
        "re-encoded request left {} of {wire_len} bytes",
        wire.len()
    );
}

/// Feeds `chunks` one after the other to `parse`, parsing as far as possible after each.
fn run(
    chunks: impl IntoIterator<Item = impl AsRef<[u8]>>,
    mut parse: impl FnMut(&mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError>,
) -> Outcome {
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut fed = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk.as_ref());
        fed += chunk.as_ref().len();
        loop {
            match parse(&mut buf) {
                Ok(Some(args)) => requests.push(args),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        requests,
                        error: Some(e),
                        consumed: fed - buf.len(),
                    }
                }
            }
        }
    }
    Outcome {
        requests,
        error: None,
        consumed: fed - buf.len(),
    }
}

/// Feeds `chunks` to the stateless parser, checking each call.
fn feed(chunks: &[&[u8]]) -> Outcome {
    run(chunks, parse_one)
}

/// Feeds `stream` `step` bytes at a time through one cursor, as a connection does.
fn trickle(stream: &[u8], step: usize) -> Outcome {
    let mut cursor = Cursor::default();
    run(stream.chunks(step.max(1)), |buf| {
        parse_request_resuming(buf, &LIMITS, &mut cursor)
    })
}

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the split point, the third the trickle's read size; the rest
    // is the byte stream.
    if data.len() < 3 {
        return;
    }
    let (head, stream) = data.split_at(3);
    let cut = usize::from(u16::from_le_bytes([head[0], head[1]])) % (stream.len() + 1);
    let whole = feed(&[stream]);
    let (a, b) = stream.split_at(cut);
    let split = feed(&[a, b]);
    assert_eq!(
        whole, split,
        "parsing in two chunks (cut at {cut}) differs from one go"
    );
    let step = usize::from(head[2] % 16) + 1;
    let trickled = trickle(stream, step);
    assert_eq!(
        whole, trickled,
        "parsing {step} bytes at a time through a cursor differs from one go"
    );
});
