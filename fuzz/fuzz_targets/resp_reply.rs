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
//!
//! The checks live in the library (src/fuzz_checks.rs) so that the integration tests replay
//! the committed corpus through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kafkactl::testing::fuzz::resp_reply::check(data));
