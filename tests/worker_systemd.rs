//! `kafkactl worker` under a real systemd user manager, in real kafka-consumer@ units: the
//! seed's Ruby PriceDropsConsumer at scale 2 with its STATUS line and process title, and a
//! hung handler killed by the systemd watchdog and restarted. Shares the manager's
//! kafka-consumer@ namespace with tests/control_plane.rs, so it holds the same lock.

use crate::common;

use common::user_manager::{lock, unit_dir};
use common::{kafkactl, produce_direct, wait_for, Broker};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

fn text(out: &Output) -> String {
    common::output_text(out)
}

fn systemctl(args: &[&str]) -> Output {
    Command::new("systemctl")
        .arg("--user")
        .args(args)
        .output()
        .unwrap()
}

/// Stops the test's consumers and removes its drop-in, also when an assertion failed.
struct Cleanup {
    manifest: PathBuf,
    dropin: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for consumer in ["price_drops", "stuck"] {
            let _ = Command::new(kafkactl())
                .arg("--user")
                .arg("-f")
                .arg(&self.manifest)
                .args(["disable-and-stop", "-c", consumer])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dropin);
        let _ = systemctl(&["daemon-reload"]);
        let _ = systemctl(&["reset-failed", "kafka-consumer@*"]);
    }
}

fn n_restarts(unit: &str) -> u32 {
    let out = systemctl(&["show", "-p", "NRestarts", "--value", unit]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn the_ruby_consumer_runs_in_real_units_and_a_hung_handler_is_restarted_by_the_watchdog() {
    let _lock = lock();
    assert!(
        systemctl(&["show", "-p", "Version"]).status.success(),
        "no systemd user manager: scripts/test.sh starts one"
    );
    // The manifest names the broker; a KAFKACTL_BROKERS left in the manager's environment
    // (by an interrupted quickstart) would override it for every unit.
    assert!(systemctl(&["unset-environment", "KAFKACTL_BROKERS"])
        .status
        .success());
    let broker = Broker::start(&["--topic", "product_changes:4", "--topic", "stuck:1"]);
    // Outside the test's own tempdir conventions: the units' processes write here.
    let dir = tempfile::tempdir().unwrap();
    let handled = dir.path().join("handled.log");
    let drops = dir.path().join("drops.log");
    let manifest = dir.path().join("kafka_consumers.yml");
    let repo = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        &manifest,
        format!(
            "app: myapp\nbrokers: {bootstrap}\nconsumers:\n\
             \x20 - name: price_drops\n\
             \x20   topic: product_changes\n\
             \x20   command: ruby examples/ruby/price_drops_consumer.rb\n\
             \x20   scale: 2\n\
             \x20   kafka: {{group.protocol: consumer}}\n\
             \x20   env: {{KAFKACTL_HANDLED_LOG: {handled}, PRICE_DROPS_LOG: {drops}}}\n\
             \x20 - name: stuck\n\
             \x20   topic: stuck\n\
             \x20   command: [python3, tests/fixtures/drill_handler.py]\n\
             \x20   scale: 1\n\
             \x20   kafka: {{group.protocol: consumer}}\n\
             \x20   env: {{DRILL_DIR: {dir}}}\n",
            bootstrap = broker.bootstrap,
            handled = handled.display(),
            drops = drops.display(),
            dir = dir.path().display(),
        ),
    )
    .unwrap();
    let dropin = unit_dir().join("kafka-consumer@stuck:1.service.d");
    let _cleanup = Cleanup {
        manifest: manifest.clone(),
        dropin: dropin.clone(),
    };
    let kafkactl_user = |args: &[&str]| -> Output {
        Command::new(kafkactl())
            .arg("--user")
            .arg("-f")
            .arg(&manifest)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let out = kafkactl_user(&[
        "install-units",
        "--force",
        "--proxy-config",
        "/dev/null",
        "--workdir",
        repo,
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // The seed's consumer, at scale 2, under real units.
    let out = kafkactl_user(&["spawn", "-c", "price_drops"]);
    assert!(out.status.success(), "{}", text(&out));
    let events: Vec<String> = (0..200)
        .map(|i| {
            format!(
                r#"{{"id":{i},"old_price":100,"new_price":{}}}"#,
                90 + i % 20
            )
        })
        .collect();
    produce_direct(&broker.bootstrap, "product_changes", &events);
    let unique = || {
        std::fs::read_to_string(&handled)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
            .len()
    };
    wait_for("200 events handled", Duration::from_secs(90), || {
        unique() == 200
    });
    // new_price < old_price for 90..99: 10 of every 20.
    let drop_lines = std::fs::read_to_string(&drops).unwrap();
    assert_eq!(drop_lines.lines().count(), 100, "{drop_lines}");

    // Both instances got partitions; each shows the seed's STATUS line once it has handled
    // something (the status is throttled to one per second).
    let mut shown = String::new();
    wait_for(
        "a STATUS line with an offset",
        Duration::from_secs(30),
        || {
            shown = text(&systemctl(&[
                "status",
                "--no-pager",
                "--lines=0",
                "kafka-consumer@price_drops:1.service",
            ]));
            shown.contains("(offset=") && !shown.contains("(offset=-")
        },
    );
    eprintln!("{shown}");
    assert!(shown.contains("Active: active (running)"), "{shown}");
    assert!(
        shown.contains("Status: \"myapp-price_drops:") && shown.contains("-price_drops-1 (offset="),
        "{shown}"
    );
    assert!(
        shown.contains("consumer=myapp-price_drops:"),
        "process title: {shown}"
    );
    let out = kafkactl_user(&["status", "-c", "price_drops"]);
    assert!(out.status.success(), "{}", text(&out));

    // `status --lag` joins each instance with the partitions its group member holds. Real
    // Kafka describes the group (DescribeConsumerGroups), so the 4 partitions are split
    // between the two instances, each named by its member; the dev broker cannot describe
    // groups and says so.
    let lag_rows = || -> Vec<serde_json::Value> {
        let out = kafkactl_user(&["status", "--lag", "-c", "price_drops", "-o", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        json["instances"]
            .as_array()
            .unwrap_or_else(|| panic!("no instance rows: {json}"))
            .clone()
    };
    if broker.is_kafka() {
        let mut rows = Vec::new();
        wait_for(
            "both instances holding partitions in status --lag",
            Duration::from_secs(60),
            || {
                rows = lag_rows();
                rows.len() == 2
                    && rows.iter().all(|r| {
                        r["partitions"].as_array().is_some_and(|p| {
                            !p.is_empty() && p.iter().all(|p| p["member"].is_string())
                        })
                    })
                    && rows
                        .iter()
                        .map(|r| r["partitions"].as_array().unwrap().len())
                        .sum::<usize>()
                        == 4
            },
        );
        for row in &rows {
            let instance = row["instance"].as_str().unwrap();
            let n = instance.rsplit_once(':').unwrap().1;
            for p in row["partitions"].as_array().unwrap() {
                assert_eq!(p["instance"], instance, "{row}");
                let member = p["member"].as_str().unwrap();
                assert!(member.ends_with(&format!("-price_drops-{n}")), "{row}");
            }
        }
    } else {
        let out = kafkactl_user(&["lag", "-c", "price_drops", "-o", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        // `lag -o json` is {"groups": [...], "errors": [...], ...} (docs/schemas/lag.json).
        let lag: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(lag["groups"][0]["members_unknown"].is_string(), "{lag}");
    }

    // A hung handler: the watchdog (3 s here) kills the instance and systemd restarts it.
    std::fs::create_dir_all(&dropin).unwrap();
    std::fs::write(
        dropin.join("watchdog.conf"),
        "[Service]\nWatchdogSec=3s\nRestartSec=1s\n",
    )
    .unwrap();
    assert!(systemctl(&["daemon-reload"]).status.success());
    let out = kafkactl_user(&["spawn", "-c", "stuck"]);
    assert!(out.status.success(), "{}", text(&out));
    let unit = "kafka-consumer@stuck:1.service";
    assert_eq!(n_restarts(unit), 0);
    produce_direct(&broker.bootstrap, "stuck", &["hang".to_string()]);
    wait_for("a watchdog restart", Duration::from_secs(60), || {
        n_restarts(unit) >= 1
    });
    let out = kafkactl_user(&["disable-and-stop", "-c", "stuck"]);
    assert!(out.status.success(), "{}", text(&out));

    // A clean stop: inactive, not failed.
    let out = kafkactl_user(&["disable-and-stop", "-c", "price_drops"]);
    assert!(out.status.success(), "{}", text(&out));
    let state = systemctl(&[
        "show",
        "-p",
        "ActiveState",
        "--value",
        "kafka-consumer@price_drops:1.service",
    ]);
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "inactive");
}
