//! The invariants the fuzz targets (fuzz/fuzz_targets/) check, as plain functions: libFuzzer
//! drives them from `cargo fuzz run`, and the integration tests replay every committed seed and
//! minimised corpus input through them on stable Rust, in seconds (tests/fuzz_corpora.rs). Each
//! panics on a broken invariant.

pub mod handler_reply {
    //! Fuzzes the worker's decoder of handler replies, `decode_reply` (src/worker/protocol.rs):
    //! whatever an app's handler prints on stdout reaches it.
    //!
    //! Invariants checked for every input:
    //! - the decoder never panics;
    //! - a reply it accepts, encoded again as JSON, decodes to the same reply;
    //! - a refusal is one line (it goes to the journal and into dead-letter headers) of bounded
    //!   length, however long or strange the input.
    use crate::testing::{decode_reply, FromHandler};

    /// Checks every invariant of this target on one input (panics on a broken one).
    pub fn check(data: &[u8]) {
        match decode_reply(data) {
            Ok(reply) => {
                let mut line = serde_json::to_vec(&reply).expect("replies serialize");
                line.push(b'\n');
                let again: FromHandler = decode_reply(&line).expect("an accepted reply re-encodes");
                assert_eq!(again, reply, "re-encoded reply decoded differently");
            }
            Err(violation) => {
                let text = violation.to_string();
                assert!(!text.contains('\n'), "a refusal spans lines: {text:?}");
                assert!(text.len() < 2048, "a refusal of {} bytes", text.len());
            }
        }
    }
}

pub mod manifest {
    //! Fuzzes the manifest loader, `Manifest::parse` (src/manifest/): the YAML parser, the tree
    //! walk and every validation rule, on text a person (or a bad merge) could commit.
    //!
    //! Invariants checked for every input that is UTF-8:
    //! - loading never panics, nor does anything a command then asks of a loaded manifest
    //!   (`check_runnable`, the fleet, each consumer's hosts);
    //! - a refusal names at least one problem, each at a position inside the text (line 1 to
    //!   the number of lines + 1, lines broken as YAML breaks them, column from 1), and renders
    //!   as one `fuzz.yml:LINE:COL: ...` line per problem.
    use crate::testing::Manifest;

    /// Checks every invariant of this target on one input (panics on a broken one).
    pub fn check(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        match Manifest::parse(text, "fuzz.yml") {
            Ok(manifest) => {
                let _ = manifest.check_runnable();
                let _ = manifest.fleet();
                for consumer in &manifest.consumers {
                    let _ = manifest.hosts_for(consumer);
                }
            }
            Err(err) => {
                let problems = err.problems();
                assert!(!problems.is_empty(), "a refusal without a problem");
                // Lines as YAML counts them: a lone `\r` breaks a line too.
                let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() + 1;
                for problem in problems {
                    assert!(
                        problem.pos.line >= 1 && problem.pos.line <= lines.max(1),
                        "line {} outside a text of {lines} lines",
                        problem.pos.line
                    );
                    assert!(problem.pos.column >= 1, "column 0");
                }
                let rendered = err.to_string();
                assert_eq!(rendered.lines().count(), problems.len(), "{rendered}");
                assert!(
                    rendered.lines().all(|l| l.starts_with("fuzz.yml:")),
                    "{rendered}"
                );
            }
        }
    }
}

pub mod resp_reply {
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
    use crate::testing::Frame;
    use bytes::BytesMut;
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

    /// Checks every invariant of this target on one input (panics on a broken one).
    pub fn check(data: &[u8]) {
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
    }

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
}

pub mod resp_request {
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
    use crate::testing::{
        encode_array_header, encode_bulk, parse_request, parse_request_resuming, Cursor, Limits,
        ProtocolError,
    };
    use bytes::{Bytes, BytesMut};

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

    /// Checks every invariant of this target on one input (panics on a broken one).
    pub fn check(data: &[u8]) {
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
    }
}
