//! The handler libraries an app's consumers are written with (examples/ruby/kafka_consumer.rb,
//! examples/python/kafka_consumer.py), tested from the worker's side of the handler protocol
//! (docs/handler-protocol.md). The suites are tests/handlers/ruby_handler_test.rb (minitest)
//! and tests/handlers/python_handler_test.py (unittest); they spawn the example handlers and
//! talk to them over pipes. Each test here runs one suite and asserts that it ran and passed.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// How long one suite may take before it is killed (each takes a few seconds).
const DEADLINE: Duration = Duration::from_secs(180);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `program args...` from the crate root with stdout and stderr in one file; returns the
/// exit status (None when it was killed at the deadline) and the output.
fn run_suite(program: &str, args: &[&str]) -> (Option<ExitStatus>, String) {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(manifest_dir())
        .env_remove("KAFKACTL_HANDLED_LOG");
    let (status, output) = common::run_to_end(command, program, DEADLINE);
    println!("--- {program} {} ---\n{output}", args.join(" "));
    (status, output)
}

/// Minitest's summary line: "N runs, N assertions, N failures, N errors, N skips", as
/// (runs, assertions, failures, errors, skips).
fn minitest_summary(output: &str) -> Option<(u64, u64, u64, u64, u64)> {
    output.lines().rev().find_map(|line| {
        let mut counts = std::collections::HashMap::new();
        for part in line.trim().split(", ") {
            let (n, what) = part.split_once(' ')?;
            counts.insert(what, n.parse::<u64>().ok()?);
        }
        Some((
            *counts.get("runs")?,
            *counts.get("assertions")?,
            *counts.get("failures")?,
            *counts.get("errors")?,
            *counts.get("skips")?,
        ))
    })
}

/// unittest's summary: the test count from "Ran N tests in ..." and whether the verdict line
/// that follows is a plain "OK" (no failures, errors, skips or expected failures).
fn unittest_summary(output: &str) -> Option<(u64, bool)> {
    let mut lines = output.lines().skip_while(|l| !l.starts_with("Ran "));
    let ran = lines.next()?;
    let count = ran.strip_prefix("Ran ")?.split(' ').next()?.parse().ok()?;
    let verdict = lines.find(|l| !l.trim().is_empty())?;
    Some((count, verdict.trim() == "OK"))
}

/// The number of test methods a suite file defines (`def test_...`).
fn defined_tests(suite: &Path) -> u64 {
    let text = std::fs::read_to_string(suite).unwrap();
    text.lines()
        .filter(|l| l.trim_start().starts_with("def test_"))
        .count() as u64
}

#[test]
fn ruby_handler_library_speaks_the_protocol() {
    let suite = "tests/handlers/ruby_handler_test.rb";
    let (status, output) = run_suite("ruby", &[suite, "-v"]);
    let Some(status) = status else {
        panic!("the Ruby handler tests did not finish within {DEADLINE:?}\n{output}");
    };
    let (runs, assertions, failures, errors, skips) = minitest_summary(&output)
        .unwrap_or_else(|| panic!("no minitest summary line in the output\n{output}"));
    assert_eq!(
        runs,
        defined_tests(&manifest_dir().join(suite)),
        "every Ruby test ran\n{output}"
    );
    assert!(assertions > runs, "too few assertions\n{output}");
    assert_eq!(
        (failures, errors, skips),
        (0, 0, 0),
        "Ruby handler tests failed\n{output}"
    );
    assert!(status.success(), "ruby exited with {status}\n{output}");
}

#[test]
fn python_handler_library_speaks_the_protocol() {
    let suite = "tests/handlers/python_handler_test.py";
    let (status, output) = run_suite("python3", &[suite, "-v"]);
    let Some(status) = status else {
        panic!("the Python handler tests did not finish within {DEADLINE:?}\n{output}");
    };
    let (ran, ok) = unittest_summary(&output)
        .unwrap_or_else(|| panic!("no unittest summary in the output\n{output}"));
    assert_eq!(
        ran,
        defined_tests(&manifest_dir().join(suite)),
        "every Python test ran\n{output}"
    );
    assert!(ok, "Python handler tests failed\n{output}");
    assert!(status.success(), "python3 exited with {status}\n{output}");
}

#[test]
fn suite_summaries_parse() {
    let minitest =
        "Finished in 2.1s, 7.4 runs/s.\n\n16 runs, 134 assertions, 0 failures, 1 errors, 0 skips\n";
    assert_eq!(minitest_summary(minitest), Some((16, 134, 0, 1, 0)));
    assert_eq!(minitest_summary("Finished in 0.1s, 9.1 runs/s.\n"), None);

    let ok = "....\n----------------------------------------------------------------------\nRan 16 tests in 2.598s\n\nOK\n";
    assert_eq!(unittest_summary(ok), Some((16, true)));
    let failed = "Ran 16 tests in 2.5s\n\nFAILED (failures=1)\n";
    assert_eq!(unittest_summary(failed), Some((16, false)));
    let skipped = "Ran 3 tests in 0.1s\n\nOK (skipped=1)\n";
    assert_eq!(unittest_summary(skipped), Some((3, false)));
    assert_eq!(
        unittest_summary("Traceback (most recent call last):\n"),
        None
    );
}
