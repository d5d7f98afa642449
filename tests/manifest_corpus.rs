//! The manifest corpus: every file of `tests/manifests/` through `Manifest::load`.
//!
//! - `good/*.yml` must load (a few are spot-checked value by value), and so must
//!   `examples/kafka_consumers.yml` and the YAML examples of `docs/manifest.md`;
//! - `bad/NAME.yml` must fail, and its sibling `bad/NAME.expected` holds the text the error must
//!   contain: each non-empty line must appear in the message, in order, `FILE:LINE:COLUMN:`
//!   prefix included (FILE is the path as passed to `load`, `tests/manifests/bad/NAME.yml`).
//!
//! `KAFKACTL_PRINT_CORPUS=1 cargo test --test integration manifest_corpus:: -- --nocapture` prints every bad
//! file's message as it is now, for writing a new `.expected`.

use kafkactl::testing::{Command, Manifest, OnExhausted, Placement};
use std::path::{Path, PathBuf};

const GOOD: &str = "tests/manifests/good";
const BAD: &str = "tests/manifests/bad";

/// Files of `dir` ending in `.ext`, sorted, as relative paths (tests run in the package root).
fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| Path::new(dir).join(entry.unwrap().file_name()))
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn load(path: &str) -> Manifest {
    Manifest::load(path).unwrap_or_else(|e| panic!("{path} should load:\n{e}"))
}

#[test]
fn every_good_manifest_loads() {
    let good = files(GOOD, "yml");
    assert!(good.len() >= 2, "{good:?}");
    for path in good {
        if let Err(e) = Manifest::load(&path) {
            panic!("{} should load:\n{e}", path.display());
        }
    }
}

#[test]
fn the_seeds_example_loads_as_is() {
    let m = load("tests/manifests/good/seed.yml");
    assert_eq!(m.consumers.len(), 1);
    let c = m.consumer("price_drops").unwrap();
    assert_eq!(c.scale, 2);
    assert_eq!(c.group_id("myapp"), "myapp-price_drops");
    assert_eq!(c.group_id(&m.app), "kafkactl-price_drops");
    assert_eq!(c.placement, Placement::Everywhere);
    assert!(c.topics.is_empty() && c.command.is_none());
    assert_eq!((c.pos.line, c.pos.column), (8, 3));

    let m = load("tests/manifests/good/seed_several.yml");
    let scales: Vec<(&str, u32)> = m
        .consumers
        .iter()
        .map(|c| (c.name.as_str(), c.scale))
        .collect();
    assert_eq!(
        scales,
        [
            ("price_drops", 2),
            ("order_tracking", 1),
            ("merchant_billing", 0)
        ]
    );
    assert!(load("tests/manifests/good/empty_list.yml")
        .consumers
        .is_empty());
}

#[test]
fn the_extended_example_has_every_value() {
    let m = load("tests/manifests/good/extended.yml");
    assert_eq!(m.app, "myapp");
    assert_eq!(m.brokers, ["kafka1:9092", "kafka2:9092"]);
    assert_eq!(m.statsd.as_deref(), Some("127.0.0.1:8125"));
    let fleet: Vec<String> = m.fleet().iter().map(ToString::to_string).collect();
    assert_eq!(
        fleet,
        [
            "deploy@10.0.0.4:22",
            "deploy@[fd00::7]:22",
            "deploy@10.0.0.5:22",
            "ops@10.0.0.6:2222"
        ]
    );
    let ops = &m.roles["consumers"][1];
    assert_eq!(
        ops.identity_file.as_deref(),
        Some(Path::new("/home/ops/.ssh/id_ed25519"))
    );

    let p = m.consumer("price_drops").unwrap();
    assert_eq!(p.group_id(&m.app), "myapp-price_drops");
    assert_eq!(p.topics, ["product_changes"]);
    assert_eq!(
        p.command.as_ref().unwrap().argv(),
        [
            "/bin/sh",
            "-c",
            "ruby examples/ruby/price_drops_consumer.rb"
        ]
    );
    assert_eq!(p.scale, 2);
    assert_eq!(p.placement, Placement::Role("consumers".into()));
    assert_eq!(
        (p.batch.max_size, p.batch.max_wait_ms, p.batch.in_flight),
        (1, 500, 16)
    );
    assert_eq!(p.retry.max_backoff_ms, 30000);
    assert_eq!(p.kafka["session.timeout.ms"], "10000");
    assert_eq!(p.env["RAILS_ENV"], "production");
    let env_file = p.env_file.as_ref().unwrap();
    assert_eq!(env_file.path, Path::new("/etc/kafkactl/myapp.env"));
    assert!(env_file.optional);
    assert_eq!(m.hosts_for(p).len(), 2);

    let o = m.consumer("order_tracking").unwrap();
    assert_eq!(o.topics, ["orders", "shipments"]);
    assert_eq!(
        o.command,
        Some(Command::Argv(vec![
            "bin/order_tracking".into(),
            "--verbose".into()
        ]))
    );
    assert_eq!(o.scale, 1);
    assert_eq!(
        (o.batch.max_size, o.batch.max_wait_ms, o.batch.in_flight),
        (100, 250, 2)
    );
    assert_eq!(o.retry.max_attempts, 5);
    assert_eq!(o.retry.backoff_ms, 1000);
    assert_eq!(
        o.retry.on_exhausted,
        OnExhausted::DeadLetter {
            topic: "order_tracking.dlq".into()
        }
    );
    assert_eq!(o.kafka["auto.offset.reset"], "earliest");
    assert_eq!(o.kafka["enable.partition.eof"], "false");
    assert_eq!(o.env["LOG_LEVEL"], "debug");
    let env_file = o.env_file.as_ref().unwrap();
    assert_eq!(env_file.path, Path::new("config/order_tracking.env"));
    assert!(!env_file.optional);

    let b = m.consumer("merchant_billing").unwrap();
    assert_eq!(b.scale, 0);
    assert_eq!(
        b.command,
        Some(Command::Shell("bundle exec rake kafka:consumer".into()))
    );
    let hosts: Vec<String> = m.hosts_for(b).iter().map(ToString::to_string).collect();
    assert_eq!(hosts, ["deploy@[fd00::7]:22"]);
    assert!(m.check_runnable().is_ok());
}

#[test]
fn the_shipped_example_loads() {
    let m = load("examples/kafka_consumers.yml");
    assert_eq!(m.consumers.len(), 1);
    let c = m.consumer("price_drops").unwrap();
    assert_eq!(c.scale, 2);
    assert_eq!(c.topics, ["product_changes"]);
    assert_eq!(
        c.command,
        Some(Command::Shell(
            "ruby examples/ruby/price_drops_consumer.rb".into()
        ))
    );
    assert_eq!(c.group_id(&m.app), "myapp-price_drops");
    assert!(m.check_runnable().is_ok());
}

#[test]
fn the_docs_yaml_examples_load() {
    let doc = std::fs::read_to_string("docs/manifest.md").unwrap();
    let mut blocks = 0;
    for (i, block) in doc.split("```yaml\n").skip(1).enumerate() {
        let yaml = block.split("```").next().unwrap();
        if let Err(e) = Manifest::parse(yaml, format!("docs/manifest.md block {i}")) {
            panic!("{e}\n{yaml}");
        }
        blocks += 1;
    }
    assert!(blocks >= 2, "docs/manifest.md should show both forms");
}

#[test]
fn every_bad_manifest_fails_with_its_expected_message() {
    let bad = files(BAD, "yml");
    assert!(
        bad.len() >= 15,
        "the corpus should keep at least 15 bad manifests, has {}",
        bad.len()
    );
    let print = std::env::var_os("KAFKACTL_PRINT_CORPUS").is_some();
    let mut failures = Vec::new();
    for path in &bad {
        let expected_path = path.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let message = match Manifest::load(path) {
            Ok(m) => {
                failures.push(format!("{} loaded: {m:?}", path.display()));
                continue;
            }
            Err(e) => e.to_string(),
        };
        if print {
            println!("== {}\n{message}", path.display());
        }
        let mut rest = message.as_str();
        for want in expected.lines().filter(|l| !l.trim().is_empty()) {
            match rest.find(want) {
                Some(at) => rest = &rest[at + want.len()..],
                None => {
                    failures.push(format!(
                        "{}: expected (in order):\n  {want}\ngot:\n{message}",
                        path.display()
                    ));
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_expected_file_has_its_manifest() {
    for expected in files(BAD, "expected") {
        assert!(
            expected.with_extension("yml").exists(),
            "{} has no .yml",
            expected.display()
        );
    }
}
