//! Fuzzes the client-side RESP reply parser, `kafkactl::resp::frame::Frame::parse`, against
//! `Frame::encode`.
//!
//! Invariants checked for every input:
//! - the parser never panics;
//! - `Ok(Some(frame))` consumes at least one byte and leaves the tail of the input untouched;
//!   `Ok(None)` consumes nothing;
//! - round trip: `encode(frame)` parses back to the frame, consuming exactly the encoding;
//! - every proper prefix of `encode(frame)` is `Ok(None)` (all cuts when the encoding is at
//!   most 128 bytes, else one cut chosen from the input).
//!
//! `encode` deliberately turns CR and LF inside `+`/`-` lines into spaces (so a status line
//! cannot end early), while `parse` accepts a lone CR or LF inside such a line. A frame with
//! one therefore re-parses with spaces in their place; the round trip compares against the
//! frame with that substitution applied. Set `RESP_REPLY_STRICT=1` to compare against the
//! parsed frame itself instead (that fails at once, e.g. on `+a\rb\r\n`).
#![no_main]

use bytes::BytesMut;
use kafkactl::testing::Frame;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("RESP_REPLY_STRICT").is_some_and(|v| v == "1"))
}

/// What `encode` makes of a frame's status and error text.
fn normalize(frame: &Frame) -> Frame {
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    match frame {
        Frame::Simple(s) => Frame::Simple(clean(s)),
        Frame::Error(s) => Frame::Error(clean(s)),
        Frame::Array(items) => Frame::Array(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    // Parse frames one after another, as a client reading pipelined replies does.
    let mut frames = 0usize;
    loop {
        let before = buf.clone();
        match Frame::parse(&mut buf) {
            Ok(Some(frame)) => {
                assert!(buf.len() < before.len(), "Ok(Some) must consume bytes");
                let consumed = before.len() - buf.len();
                assert_eq!(&buf[..], &before[consumed..]);
                check_round_trip(&frame, frames.wrapping_add(consumed));
                frames += 1;
            }
            Ok(None) => {
                assert_eq!(
                    &buf[..],
                    &before[..],
                    "Ok(None) must not consume or alter bytes"
                );
                break;
            }
            Err(_) => break,
        }
    }
});

fn check_round_trip(frame: &Frame, salt: usize) {
    let expected = if strict() {
        frame.clone()
    } else {
        normalize(frame)
    };
    let mut wire = BytesMut::new();
    frame.encode(&mut wire);
    let encoded = wire.clone();

    let reparsed = Frame::parse(&mut wire)
        .expect("encoded frame must parse")
        .expect("encoded frame must be complete");
    assert_eq!(
        reparsed, expected,
        "encode/parse round trip changed the frame"
    );
    assert!(
        wire.is_empty(),
        "encoded frame left {} bytes unparsed",
        wire.len()
    );

    // A proper prefix of a complete frame means "wait for more", never an error. Short
    // encodings are checked at every cut, longer ones at one cut derived from the input.
    if encoded.len() <= 128 {
        for cut in 0..encoded.len() {
            check_prefix(&encoded, cut);
        }
    } else {
        check_prefix(&encoded, salt % encoded.len());
    }
}

fn check_prefix(encoded: &[u8], cut: usize) {
    let mut prefix = BytesMut::from(&encoded[..cut]);
    assert_eq!(
        Frame::parse(&mut prefix).expect("a prefix of a valid frame is not an error"),
        None,
        "a prefix (cut at {cut}) of a valid frame parsed as complete"
    );
    assert_eq!(prefix.len(), cut, "Ok(None) must not consume bytes");
}
