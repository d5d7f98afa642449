//! The fuzz targets' committed inputs, replayed through the same invariant checks on stable
//! Rust (src/fuzz_checks.rs, which the fuzz targets call): fuzz/seeds/TARGET/ (hand-written
//! starting points) and fuzz/regressions/TARGET.hex (the corpus of a fuzzing run minimised
//! with `cargo fuzz cmin`, one hex-encoded input per line: scripts/fuzz-regressions.sh).
//! Seconds, not minutes.

use kafkactl::testing::fuzz;
use std::path::Path;

/// Every committed input of `target`, as (where it is, bytes).
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join("seeds").join(target)) {
        for entry in entries {
            let path = entry.unwrap().path();
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    let hex = root.join("regressions").join(format!("{target}.hex"));
    if let Ok(text) = std::fs::read_to_string(&hex) {
        for (n, line) in text.lines().enumerate() {
            let bytes =
                decode_hex(line).unwrap_or_else(|| panic!("{}:{}: not hex", hex.display(), n + 1));
            found.push((format!("{}:{}", hex.display(), n + 1), bytes));
        }
    }
    found.sort();
    found
}

/// `line` as bytes, two hex digits each.
fn decode_hex(line: &str) -> Option<Vec<u8>> {
    if line.len() % 2 != 0 {
        return None;
    }
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(line.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Replays `target`'s inputs through `check`, naming the input that broke an invariant.
fn replay(target: &str, least: usize, check: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(
        inputs.len() >= least,
        "{target}: only {} committed inputs (fuzz/seeds, fuzz/regressions)",
        inputs.len()
    );
    for (path, bytes) in &inputs {
        if std::panic::catch_unwind(|| check(bytes)).is_err() {
            panic!("{path} breaks an invariant of the {target} fuzz target");
        }
    }
}

#[test]
fn resp_request_inputs_keep_their_invariants() {
    replay("resp_request", 400, fuzz::resp_request::check);
}

#[test]
fn resp_reply_inputs_keep_their_invariants() {
    replay("resp_reply", 300, fuzz::resp_reply::check);
}

#[test]
fn handler_reply_inputs_keep_their_invariants() {
    replay("handler_reply", 1000, fuzz::handler_reply::check);
}

#[test]
fn manifest_inputs_keep_their_invariants() {
    replay("manifest", 2000, fuzz::manifest::check);
}
