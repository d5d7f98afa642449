//! `kafkactl lag`, `status --lag` and the `check` plugin against the test broker and the
//! systemd user manager of scripts/systemd-user.sh. Messages are produced with rdkafka, and a
//! test-side consumer commits chosen offsets for the consumer's group (`<app>-<name>`).
//! The tests that start units share the manager's kafka-consumer@ namespace with
//! tests/control_plane.rs, so they hold its lock and use the same fake worker.

use crate::common;

use common::user_manager::{lock, use_fake_worker};
use common::{kafkactl, wait_for, Broker};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Produces `count` messages to one partition and waits for delivery.
fn produce(bootstrap: &str, topic: &str, partition: i32, count: usize) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for i in 0..count {
        let value = format!("m{i}");
        producer
            .send(
                BaseRecord::<(), _>::to(topic)
                    .partition(partition)
                    .payload(&value),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Commits `offset` for `topic`/`partition` in `group`, as a consumer that joined no group.
fn commit(bootstrap: &str, group: &str, topic: &str, partition: i32, offset: i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .unwrap();
    // A fresh Kafka node may still be loading its offsets topic (seen with two suites at
    // once): like any client, retry what Kafka calls retriable; anything else fails the test.
    let start = Instant::now();
    loop {
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => return,
            Err(KafkaError::ConsumerCommit(
                RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator,
            )) if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("commit of {topic}/{partition}@{offset} for {group}: {e}"),
        }
    }
}

fn text(out: &Output) -> String {
    common::output_text(out)
}

/// The cells of every table row in `text` (`| a | b |` lines), trimmed.
/// The cells of every table in `text` as kafkactl prints them off a terminal: plain columns,
/// each starting where its header word does (headers are upper case; a cell may be empty).
fn rows(text: &str) -> Vec<Vec<String>> {
    let is_header = |line: &str| {
        line.contains("  ")
            && line
                .chars()
                .all(|c| c.is_ascii_uppercase() || " /()".contains(c))
    };
    let mut starts: Option<Vec<usize>> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        if is_header(line) {
            let chars: Vec<char> = line.chars().collect();
            starts = Some(
                (0..chars.len())
                    .filter(|&i| {
                        chars[i] != ' '
                            && (i == 0 || (i >= 2 && chars[i - 1] == ' ' && chars[i - 2] == ' '))
                    })
                    .collect(),
            );
        } else if line.trim().is_empty() || line.starts_with("note:") {
            starts = None;
            continue;
        }
        let Some(starts) = &starts else { continue };
        let chars: Vec<char> = line.chars().collect();
        let cell = |from: usize, to: usize| -> String {
            chars[from.min(chars.len())..to.min(chars.len())]
                .iter()
                .collect::<String>()
                .trim()
                .to_string()
        };
        out.push(
            starts
                .iter()
                .enumerate()
                .map(|(k, &from)| cell(from, starts.get(k + 1).copied().unwrap_or(usize::MAX)))
                .collect(),
        );
    }
    out
}

fn cells(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A broker with topic `orders:2` holding 10 messages in partition 0 and 20 in
/// partition 1; group `lagtest-<name>` committed 4 in partition 0 and nothing in 1: lag
/// 6 + 20 = 26.
struct Lagged {
    broker: Broker,
    dir: tempfile::TempDir,
    name: String,
}

impl Lagged {
    fn new(name: &str) -> Lagged {
        let broker = Broker::start(&["--topic", "orders:2"]);
        produce(&broker.bootstrap, "orders", 0, 10);
        produce(&broker.bootstrap, "orders", 1, 20);
        commit(
            &broker.bootstrap,
            &format!("lagtest-{name}"),
            "orders",
            0,
            4,
        );
        let dir = tempfile::tempdir().unwrap();
        let lagged = Lagged {
            broker,
            dir,
            name: name.to_string(),
        };
        let manifest = format!(
            "app: lagtest\nbrokers: {}\nconsumers:\n  - name: {name}\n    topic: orders\n    \
             command: [python3, handler.py]\n    kafka: {{group.protocol: consumer}}\n",
            lagged.broker.bootstrap
        );
        std::fs::write(lagged.manifest(), manifest).unwrap();
        lagged
    }

    fn manifest(&self) -> PathBuf {
        self.dir.path().join("kafka_consumers.yml")
    }

    /// Runs `kafkactl --user -f MANIFEST args...`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(kafkactl())
            .arg("--user")
            .arg("-f")
            .arg(self.manifest())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("KAFKACTL_BROKERS")
            .output()
            .unwrap()
    }
}

#[test]
fn lag_json_shows_committed_offsets_behind_the_high_watermark() {
    let lagged = Lagged::new("lag_json");
    let out = lagged.run(&["lag", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    crate::common::schema::assert_valid("lag.json", &json);
    assert_eq!(json["window"], Value::Null);
    let groups = json["groups"].as_array().unwrap().clone();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let g = &groups[0];
    assert_eq!(g["group"], "lagtest-lag_json");
    assert_eq!(g["total_lag"], 26);
    assert_eq!(g["max_partition_lag"], 20);
    let p = g["partitions"].as_array().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (&p[0]["topic"], &p[0]["partition"], &p[0]["committed"]),
        (&Value::from("orders"), &Value::from(0), &Value::from(4))
    );
    assert_eq!(
        (&p[0]["high"], &p[0]["lag"]),
        (&Value::from(10), &Value::from(6))
    );
    assert_eq!(p[1]["committed"], Value::Null);
    assert_eq!(
        (&p[1]["low"], &p[1]["high"]),
        (&Value::from(0), &Value::from(20))
    );
    assert_eq!(p[1]["lag"], 20);
    // Nobody consumes: no partition has a member. Real Kafka describes the (empty) group;
    // the dev broker cannot describe groups, so there members are unknown, and said so.
    assert_eq!(p[0]["member"], Value::Null);
    if lagged.broker.is_kafka() {
        assert_eq!(g["members_unknown"], Value::Null, "{g}");
        assert_eq!(g["state"], "Empty", "{g}");
    } else {
        assert!(g["members_unknown"].is_string(), "{g}");
    }

    let table = lagged.run(&["lag", "-c", &lagged.name]);
    assert!(table.status.success(), "{}", text(&table));
    let t = text(&table);
    assert!(
        rows(&t).contains(&cells(&[
            "lagtest-lag_json",
            "orders",
            "0",
            "0",
            "10",
            "4",
            "6",
            "-"
        ])),
        "{t}"
    );
    assert!(
        rows(&t).contains(&cells(&[
            "lagtest-lag_json",
            "(total)",
            "",
            "",
            "",
            "",
            "26",
            // The group's state where it is known (real Kafka), else `-`.
            if lagged.broker.is_kafka() {
                "Empty"
            } else {
                "-"
            }
        ])),
        "{t}"
    );
    assert!(t.contains("COMMITTED -: nothing committed"), "{t}");
}

#[test]
fn check_is_ok_warning_or_critical_by_lag_and_unknown_without_a_broker() {
    let lagged = Lagged::new("lag_check");
    let check = |args: &[&str]| {
        let mut all = vec!["check", "-c", "lag_check"];
        all.extend_from_slice(args);
        lagged.run(&all)
    };
    // Nothing of lag_check runs although the manifest wants one instance: CRITICAL, named.
    let out = check(&["--lag-warning", "100", "--lag-critical", "1000"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with(
            "KAFKACTL CRITICAL - lag_check: 1 of 1 instance(s) missing on localhost \
             (lag_check:1), 0 instance(s) active, max lag 26 (lag_check) | "
        ),
        "{line}"
    );
    // With that instance allowed to be missing, the lag alone decides.
    let allow_missing = ["--missing-warning", "1", "--missing-critical", "1"];
    let out = check(
        &[
            &allow_missing[..],
            &["--lag-warning", "100", "--lag-critical", "1000"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("KAFKACTL OK - 0 instance(s) active, max lag 26 (lag_check) | "),
        "{line}"
    );
    assert!(line.contains("'lag_check_lag'=26;100;1000;0"), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");

    let out = check(
        &[
            &allow_missing[..],
            &["--lag-warning", "25", "--lag-critical", "1000"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("KAFKACTL WARNING - lag_check lag 26 > 25"),
        "{}",
        text(&out)
    );

    let out = check(
        &[
            &allow_missing[..],
            &["--lag-warning", "10", "--lag-critical", "20"],
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("KAFKACTL CRITICAL - lag_check lag 26 > 20"),
        "{}",
        text(&out)
    );

    // Nothing listens on port 1.
    let out = check(&[
        "--missing-warning",
        "1",
        "--missing-critical",
        "1",
        "--lag-warning",
        "100",
        "--brokers",
        "127.0.0.1:1",
        "--kafka-timeout",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with(
            "KAFKACTL UNKNOWN - lag_check lag: cannot read from the brokers 127.0.0.1:1"
        ),
        "{line}"
    );

    // So is `lag`, with a non-zero exit.
    let out = lagged.run(&["lag", "--brokers", "127.0.0.1:1", "--kafka-timeout", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("cannot read from the brokers 127.0.0.1:1"),
        "{}",
        text(&out)
    );

    // Bad arguments are UNKNOWN too, not clap's 2 (which Icinga would read as CRITICAL).
    let out = check(&["--lag-warning", "lots"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("KAFKACTL UNKNOWN - "));
}

/// Installs the real units, then points the consumer template at the fake worker (as
/// tests/control_plane.rs does).
fn install_fake_worker_units(lagged: &Lagged) {
    let out = lagged.run(&["install-units", "--force", "--proxy-config", "/dev/null"]);
    assert!(out.status.success(), "{}", text(&out));
    use_fake_worker();
}

/// Stops the test's instances, also when an assertion failed.
struct Stop<'a>(&'a Lagged, &'static [&'static str]);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        for name in self.1 {
            let _ = self.0.run(&["disable-and-stop", "-c", name]);
        }
    }
}

#[test]
fn check_counts_inactive_instances_and_status_lag_joins_instances_with_partitions() {
    let _lock = lock();
    let lagged = Lagged::new("lagck");
    install_fake_worker_units(&lagged);
    let _stop = Stop(&lagged, &["lagck", "fail_lagck"]);
    for name in ["lagck", "fail_lagck"] {
        let _ = lagged.run(&["disable-and-stop", "-c", name]);
    }
    let out = lagged.run(&["spawn", "-c", "lagck", "-w", "2"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = lagged.run(&[
        "check",
        "-c",
        "lagck",
        "--inactive-critical",
        "0",
        "--lag-warning",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("KAFKACTL OK - 2 instance(s) active, max lag 26 (lagck) | 'active'=2;;;0 'inactive'=0;;0;0"),
        "{line}"
    );

    // status --lag: both instances, and the group's partitions (members unknown on the dev
    // broker, so under INSTANCE -).
    let out = lagged.run(&["status", "--lag", "-c", "lagck", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::common::schema::assert_valid("status.json", &v);
    let instances = v["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{v}");
    assert_eq!(instances[0]["instance"], "lagck:1");
    assert_eq!(instances[0]["group"], "lagtest-lagck");
    assert_eq!(instances[0]["active_state"], "active");
    assert_eq!(v["groups"][0]["total_lag"], 26);
    let table = lagged.run(&["status", "--lag", "-c", "lagck"]);
    assert!(table.status.success(), "{}", text(&table));
    let t = text(&table);
    assert!(t.contains("kafka-consumer@lagck:1.service"), "{t}");
    assert!(
        rows(&t).contains(&cells(&[
            "-",
            "lagtest-lagck",
            "orders/1",
            "-",
            "-",
            "20",
            "20"
        ])),
        "{t}"
    );

    // An instance that keeps failing (the fake worker fails consumers named fail_*).
    let out = lagged.run(&["spawn", "-c", "fail_lagck", "-w", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let out = lagged.run(&[
        "check",
        "-c",
        "fail_lagck",
        "--inactive-warning",
        "0",
        "--inactive-critical",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with(
            "KAFKACTL WARNING - 1 instance(s) not active > 0 (fail_lagck:1), 0 of 1 instance(s) active"
        ),
        "{line}"
    );
    assert!(line.contains("'inactive'=1;0;1;0"), "{line}");
    let out = lagged.run(&["check", "-c", "fail_lagck", "--inactive-critical", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // systemd restarts it (Restart=on-failure): NRestarts is judged too.
    let mut last = String::new();
    wait_for("an automatic restart", Duration::from_secs(60), || {
        let out = lagged.run(&["check", "-c", "fail_lagck", "--restarts-warning", "0"]);
        last = text(&out);
        out.status.code() == Some(1)
    });
    assert!(
        last.starts_with("KAFKACTL WARNING - fail_lagck:1 restarted "),
        "{last}"
    );
    assert!(last.contains("'restarts_max'="), "{last}");
}

#[test]
fn check_names_the_wanted_instances_that_do_not_run() {
    let _lock = lock();
    let lagged = Lagged::new("wanted");
    // The manifest wants two instances.
    let manifest = std::fs::read_to_string(lagged.manifest()).unwrap();
    std::fs::write(
        lagged.manifest(),
        manifest.replace("    topic: orders\n", "    topic: orders\n    scale: 2\n"),
    )
    .unwrap();
    install_fake_worker_units(&lagged);
    let _stop = Stop(&lagged, &["wanted"]);
    let _ = lagged.run(&["disable-and-stop", "-c", "wanted"]);
    let check = || {
        let out = lagged.run(&["check", "--no-lag"]);
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), line)
    };

    // None spawned: the whole consumer is down.
    let (code, line) = check();
    assert_eq!(code, Some(2), "{line}");
    assert!(
        line.starts_with(
            "KAFKACTL CRITICAL - wanted: 2 of 2 instance(s) missing on localhost \
             (wanted:1, wanted:2)"
        ),
        "{line}"
    );
    assert!(line.contains("'wanted'=2;;;0 'missing'=2;0;;0"), "{line}");

    // Half spawned.
    let out = lagged.run(&["spawn", "-c", "wanted", "-w", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, line) = check();
    assert_eq!(code, Some(1), "{line}");
    assert!(
        line.starts_with(
            "KAFKACTL WARNING - wanted: 1 of 2 instance(s) missing on localhost (wanted:2)"
        ),
        "{line}"
    );
    assert!(line.contains("'missing'=1;0;;0"), "{line}");

    // All up.
    let out = lagged.run(&["spawn", "-c", "wanted"]);
    assert!(out.status.success(), "{}", text(&out));
    let (code, line) = check();
    assert_eq!(code, Some(0), "{line}");
    assert!(line.contains("'wanted'=2;;;0 'missing'=0;0;;0"), "{line}");

    // A host that cannot be reached is UNKNOWN, not missing instances.
    let out = lagged.run(&[
        "check",
        "--no-lag",
        "--hosts",
        "127.0.0.1:1",
        "--connect-timeout",
        "2",
    ]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{line}");
    assert!(
        line.starts_with("KAFKACTL UNKNOWN - 127.0.0.1:1: "),
        "{line}"
    );
    assert!(!line.contains("missing on"), "{line}");
    assert!(line.contains("'wanted'=0;;;0"), "{line}");
}

/// Reads lines of a child's stderr until one contains `wanted`; returns them all.
fn wait_for_line(child: &mut std::process::Child, wanted: &str) -> String {
    use std::io::BufRead;
    let stderr = child.stderr.as_mut().unwrap();
    let mut reader = std::io::BufReader::new(stderr);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("stderr ended before {wanted:?}: {seen}");
        }
        seen.push_str(&line);
        if line.contains(wanted) {
            return seen;
        }
    }
}

#[test]
fn a_window_tells_stalled_lagging_and_caught_up_groups_apart() {
    let broker = Broker::start(&["--topic", "win:1"]);
    produce(&broker.bootstrap, "win", 0, 100);
    for name in ["stalled", "slow", "caughtup"] {
        commit(&broker.bootstrap, &format!("wintest-{name}"), "win", 0, 40);
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("kafka_consumers.yml");
    let mut text_of = format!("app: wintest\nbrokers: {}\nconsumers:\n", broker.bootstrap);
    for name in ["stalled", "slow", "caughtup"] {
        text_of.push_str(&format!(
            "  - name: {name}\n    topic: win\n    command: [python3, handler.py]\n"
        ));
    }
    std::fs::write(&manifest, text_of).unwrap();
    let mut child = Command::new(kafkactl())
        .arg("-f")
        .arg(&manifest)
        .args(["lag", "--window", "5", "-o", "json"])
        .env_remove("KAFKACTL_BROKERS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Inside the window: 100 more messages; `slow` commits 20 of them, `caughtup` all.
    wait_for_line(&mut child, "first reading taken");
    produce(&broker.bootstrap, "win", 0, 100);
    commit(&broker.bootstrap, "wintest-slow", "win", 0, 60);
    commit(&broker.bootstrap, "wintest-caughtup", "win", 0, 200);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::common::schema::assert_valid("lag.json", &json);
    let verdict = |group: &str| -> Value {
        json["window"]["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == group)
            .cloned()
            .unwrap_or_else(|| panic!("no {group} in {json}"))
    };
    let stalled = verdict("wintest-stalled");
    assert_eq!(stalled["progress"], "STALLED", "{json}");
    assert_eq!(
        (stalled["lag_start"].as_i64(), stalled["lag_end"].as_i64()),
        (Some(60), Some(160))
    );
    assert_eq!(stalled["committed"], 0, "{json}");
    let slow = verdict("wintest-slow");
    assert_eq!(slow["progress"], "LAGGING", "{json}");
    assert_eq!(slow["committed"], 20, "{json}");
    assert!(slow["rate"].as_f64().unwrap() > 0.0, "{json}");
    let caught_up = verdict("wintest-caughtup");
    assert_eq!(caught_up["progress"], "OK", "{json}");
    assert_eq!(caught_up["lag_end"], 0, "{json}");

    // The plugin: a stalled group is CRITICAL, named with its lag (its missing instance
    // allowed, so that only the window decides).
    let out = Command::new(kafkactl())
        .arg("--user")
        .arg("-f")
        .arg(&manifest)
        .args([
            "check",
            "-c",
            "stalled",
            "--window",
            "1",
            "--missing-warning",
            "1",
            "--missing-critical",
            "1",
        ])
        .env_remove("KAFKACTL_BROKERS")
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        line.starts_with("KAFKACTL CRITICAL - stalled STALLED: lag 160 -> 160 in 1 s, 0 committed"),
        "{line}"
    );
    assert!(line.contains("'stalled_rate'=0.0;;;0"), "{line}");
}
