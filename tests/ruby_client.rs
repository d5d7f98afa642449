//! The proxy driven from Ruby exactly the way Rails apps drive it: the `redis` gem (Debian's
//! ruby-redis 4.x) used the way the rafka-rb gem uses it. The Ruby suites are
//! tests/ruby/proxy_test.rb and tests/ruby/batch_dropin_test.rb (clients/ruby/rafka/batch.rb,
//! the batch drop-in for rafka-rb apps, on a stand-in of rafka-rb) (minitest); each test here
//! starts a dev broker and a proxy and runs one slice of a suite (`-n /pattern/`), so the
//! slices run in parallel.

use crate::common;

use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The Ruby suites, and the name prefixes of their tests: every Ruby test must match exactly one
/// slice of its suite.
const SUITE: &str = "tests/ruby/proxy_test.rb";
const SLICES: [&str; 4] = ["test_produce_", "test_group_", "test_blpop_", "test_misc_"];
const DROPIN_SUITE: &str = "tests/ruby/batch_dropin_test.rb";
const DROPIN_SLICES: [&str; 2] = ["test_dropin_", "test_fallback_"];

/// Topics created for one slice (the whole file uses 17).
const TOPIC_POOL: usize = 24;

/// How long one slice may take before it is killed.
const RUBY_DEADLINE: Duration = Duration::from_secs(300);

/// The proxy's consumer settings for these tests, as a Rafka config file.
///
/// The dev broker is librdkafka's mock cluster, whose group coordinator holds every rebalance
/// (a member joining a non-empty group, or the last member leaving) open for
/// `session.timeout.ms - 1000` ms before it assigns anything. With librdkafka's default 45 s a
/// consumer that reconnects to its group would wait 44 s for its partitions; Rafka's own test
/// config uses short session timeouts for the same reason.
const RAFKA_CONFIG: &str = r#"{
  "general": {},
  "consumer": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
  "producer": {}
}"#;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Minitest's summary line: "N runs, N assertions, N failures, N errors, N skips".
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    runs: u64,
    assertions: u64,
    failures: u64,
    errors: u64,
    skips: u64,
}

fn parse_summary(output: &str) -> Option<Summary> {
    output.lines().rev().find_map(|line| {
        let mut counts = std::collections::HashMap::new();
        for part in line.trim().split(", ") {
            let (n, what) = part.split_once(' ')?;
            counts.insert(what, n.parse::<u64>().ok()?);
        }
        Some(Summary {
            runs: *counts.get("runs")?,
            assertions: *counts.get("assertions")?,
            failures: *counts.get("failures")?,
            errors: *counts.get("errors")?,
            skips: *counts.get("skips")?,
        })
    })
}

/// Starts a broker and a proxy, runs the Ruby tests of `suite` whose names match `prefix`, and
/// asserts that they all ran and passed.
fn run_ruby_slice(suite: &str, prefix: &str) {
    // The pool of topics the Ruby tests take from (proxy_test.rb's new_topic): more than any
    // slice uses, 4 partitions each, as the tests expect.
    let pool: Vec<String> = (0..TOPIC_POOL).map(|i| format!("rb-{i}")).collect();
    let specs: Vec<String> = pool.iter().map(|t| format!("{t}:4")).collect();
    let args: Vec<&str> = specs.iter().flat_map(|t| ["--topic", t.as_str()]).collect();
    let broker = Broker::start(&args);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rafka.json");
    std::fs::write(&config, RAFKA_CONFIG).unwrap();
    let proxy = Proxy::start_with_config(&broker.bootstrap, Some(&config), &[]);

    let pattern = format!("/^{prefix}/");
    let mut command = Command::new("ruby");
    command
        .arg(suite)
        .args(["-v", "-n", &pattern])
        .current_dir(manifest_dir())
        .env("KAFKACTL_PROXY", proxy.addr.to_string())
        .env("KAFKACTL_TEST_TOPICS", pool.join(","));
    let (status, output) = common::run_to_end(command, "ruby", RUBY_DEADLINE);
    println!("--- ruby {suite} -v -n {pattern} ---\n{output}");
    let context = || {
        let log = proxy.proc.log_text();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "ruby output:\n{output}\n--- last proxy log lines ---\n{}",
            tail.join("\n")
        )
    };
    let Some(status) = status else {
        panic!(
            "the Ruby tests did not finish within {RUBY_DEADLINE:?}\n{}",
            context()
        );
    };
    let summary = parse_summary(&output)
        .unwrap_or_else(|| panic!("no minitest summary line in the output\n{}", context()));
    assert!(
        summary.runs > 0 && summary.assertions > 0,
        "no Ruby test matched {pattern}: {summary:?}\n{}",
        context()
    );
    assert_eq!(
        (summary.failures, summary.errors, summary.skips),
        (0, 0, 0),
        "Ruby tests failed: {summary:?}\n{}",
        context()
    );
    assert!(status.success(), "ruby exited with {status}\n{}", context());
}

#[test]
fn ruby_producing_with_the_redis_gem() {
    run_ruby_slice(SUITE, "test_produce_");
}

#[test]
fn ruby_consumer_groups_with_the_redis_gem() {
    run_ruby_slice(SUITE, "test_group_");
}

#[test]
fn ruby_blpop_key_forms_with_the_redis_gem() {
    run_ruby_slice(SUITE, "test_blpop_");
}

#[test]
fn ruby_errors_identity_and_generic_commands_with_the_redis_gem() {
    run_ruby_slice(SUITE, "test_misc_");
}

/// clients/ruby/rafka/batch.rb against the proxy: complete, ordered batches in one BLMPOP and
/// one RPUSH each, commits only after the block returns, redelivery after a raise, rafka-rb's
/// return values and errors.
#[test]
fn ruby_rafka_rb_batch_dropin_against_the_proxy() {
    run_ruby_slice(DROPIN_SUITE, "test_dropin_");
}

/// clients/ruby/rafka/batch.rb against a fake Rafka (no BLMPOP): rafka-rb's own consume_batch.
#[test]
fn ruby_rafka_rb_batch_dropin_falls_back_against_rafka() {
    run_ruby_slice(DROPIN_SUITE, "test_fallback_");
}

/// Every Ruby test is run by exactly one of the tests above.
#[test]
fn every_ruby_test_belongs_to_one_slice() {
    check_slices(SUITE, &SLICES, 10);
    check_slices(DROPIN_SUITE, &DROPIN_SLICES, 6);
}

fn check_slices(suite: &str, slices: &[&str], at_least: usize) {
    let text = std::fs::read_to_string(manifest_dir().join(suite)).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("def "))
        .map(|rest| {
            rest.split(|c: char| c == '(' || c.is_whitespace())
                .next()
                .unwrap()
        })
        .filter(|name| name.starts_with("test_"))
        .collect();
    assert!(
        names.len() >= at_least,
        "too few Ruby tests found in {suite}: {names:?}"
    );
    for name in names {
        let matching = slices.iter().filter(|p| name.starts_with(*p)).count();
        assert_eq!(
            matching, 1,
            "{name} ({suite}) must start with exactly one of {slices:?}"
        );
    }
}

#[test]
fn minitest_summaries_parse() {
    let out =
        "Finished in 1.2s, 0.8 runs/s.\n\n18 runs, 576 assertions, 1 failures, 0 errors, 0 skips\n";
    assert_eq!(
        parse_summary(out),
        Some(Summary {
            runs: 18,
            assertions: 576,
            failures: 1,
            errors: 0,
            skips: 0
        })
    );
    assert_eq!(
        parse_summary("Finished in 0.1s, 9.1 runs/s, 9.1 assertions/s.\n"),
        None
    );
}
