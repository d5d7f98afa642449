//! Fuzzes the worker's decoder of handler replies, `decode_reply` (src/worker/protocol.rs):
//! whatever an app's handler prints on stdout reaches it.
//!
//! Invariants checked for every input:
//! - the decoder never panics;
//! - a reply it accepts, encoded again as JSON, decodes to the same reply;
//! - a refusal is one line (it goes to the journal and into dead-letter headers) of bounded
//!   length, however long or strange the input.
//!
//! The checks live in the library (src/fuzz_checks.rs) so that the integration tests replay
//! the committed corpus through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kafkactl::testing::fuzz::handler_reply::check(data));
