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
//!
//! The checks live in the library (src/fuzz_checks.rs) so that the integration tests replay
//! the committed corpus through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kafkactl::testing::fuzz::resp_request::check(data));
