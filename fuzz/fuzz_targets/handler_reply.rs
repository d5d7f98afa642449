//! Fuzzes the worker's decoder of handler replies, `decode_reply` (src/worker/protocol.rs):
//! whatever an app's handler prints on stdout reaches it.
//!
//! Invariants checked for every input:
//! - the decoder never panics;
//! - a reply it accepts, encoded again as JSON, decodes to the same reply;
//! - a refusal is one line (it goes to the journal and into dead-letter headers) of bounded
//!   length, however long or strange the input.
#![no_main]

use kafkactl::testing::{decode_reply, FromHandler};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
