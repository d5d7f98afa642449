//! `kafkactl deploy`, `status --fleet` and `install-units --hosts` against a local fleet of
//! three test hosts (scripts/fleet-rig.sh): users h1..h3, each with its own systemd user
//! manager and its own sshd on 127.0.0.11-13. The real binary connects over SSH and speaks
//! D-Bus to each host's manager through systemd-stdio-bridge.
//!
//! The tests share the hosts' kafka-consumer@ namespaces and some of them take a host down or
//! swap its key, so they hold a file lock and run one at a time. Each uses its own consumer
//! names and starts by deploying them at scale 0. Needs root (the rig creates users and
//! cgroups); scripts/test.sh runs as root, as CI does.

use crate::common;

use common::kafkactl;
use common::user_manager::with_fake_worker;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HOSTS: [&str; 3] = [
    "h1@127.0.0.11:2211",
    "h2@127.0.0.12:2212",
    "h3@127.0.0.13:2213",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rig_dir() -> PathBuf {
    std::env::var_os("KAFKACTL_FLEET_DIR")
        .map_or_else(|| PathBuf::from("/var/lib/kafkactl-fleet"), PathBuf::from)
}

fn rig(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repo().join("scripts/fleet-rig.sh"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    common::output_text(out)
}

/// Holds the fleet for one test: the lock, and the rig up with the fake worker installed.
struct Fleet {
    _lock: File,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn get() -> Fleet {
        let lock = File::create("/tmp/kafkactl-fleet-tests.lock").unwrap();
        // SAFETY: flock on a file descriptor we own.
        assert_eq!(
            unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) },
            0
        );
        let out = rig(&["start"]);
        assert!(out.status.success(), "fleet rig: {}", text(&out));
        let fleet = Fleet {
            _lock: lock,
            dir: tempfile::tempdir().unwrap(),
        };
        fleet.install_fake_worker();
        fleet
    }

    fn ssh_args(&self) -> Vec<String> {
        vec![
            "--known-hosts".into(),
            rig_dir().join("known_hosts").display().to_string(),
            "-i".into(),
            rig_dir().join("id_ed25519").display().to_string(),
            "--connect-timeout".into(),
            "5".into(),
        ]
    }

    /// Installs the real units on every host over SSH, then points the template at the fake
    /// worker (as the control-plane tests do locally) and reloads each manager.
    fn install_fake_worker(&self) {
        let manifest = self.fleet_manifest("install", &[]);
        let out = self.run(
            &manifest,
            &["install-units", "--fleet", "--proxy-config", "/dev/null"],
        );
        assert!(out.status.success(), "{}", text(&out));
        for n in 1..=3 {
            let user = format!("h{n}");
            let path = PathBuf::from(format!(
                "/home/{user}/.config/systemd/user/kafka-consumer@.service"
            ));
            let unit = std::fs::read_to_string(&path).unwrap();
            assert!(unit.contains("worker %i"), "install-units wrote {unit}");
            std::fs::write(
                &path,
                with_fake_worker(&unit, &rig_dir().join("bin/fake-worker.sh")),
            )
            .unwrap();
            let uid = String::from_utf8(
                Command::new("id")
                    .args(["-u", &user])
                    .output()
                    .unwrap()
                    .stdout,
            )
            .unwrap();
            let status = Command::new("runuser")
                .args(["-u", &user, "--", "env"])
                .arg(format!("XDG_RUNTIME_DIR=/run/user/{}", uid.trim()))
                .args(["systemctl", "--user", "daemon-reload"])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    fn manifest(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.yml"));
        std::fs::write(&path, body).unwrap();
        path
    }

    /// A manifest placing `consumers` (name, scale) on every host of the fleet.
    fn fleet_manifest(&self, name: &str, consumers: &[(&str, u32)]) -> PathBuf {
        let mut body = format!(
            "app: fleettest\nroles:\n  consumers: [{}]\ndefaults:\n  role: consumers\n  \
             command: /bin/true\nconsumers:\n",
            HOSTS.join(", ")
        );
        for (consumer, scale) in consumers {
            body.push_str(&format!(
                "  - {{name: {consumer}, topic: t_{consumer}, scale: {scale}}}\n"
            ));
        }
        if consumers.is_empty() {
            body = body.replace("\nconsumers:\n", "\nconsumers: []\n");
        }
        self.manifest(name, &body)
    }

    fn run(&self, manifest: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(kafkactl());
        cmd.arg("--user")
            .arg("-f")
            .arg(manifest)
            .args(args)
            .args(self.ssh_args())
            .env("NO_COLOR", "1");
        cmd.output().unwrap()
    }

    fn deploy(&self, manifest: &Path, args: &[&str]) -> Output {
        let mut all = vec!["deploy"];
        all.extend_from_slice(args);
        self.run(manifest, &all)
    }

    /// `status --fleet -o json` rows of `consumer`: (host, instance) -> row.
    fn status(&self, manifest: &Path, consumer: &str) -> BTreeMap<(String, String), Value> {
        let out = self.run(
            manifest,
            &["status", "--fleet", "-c", consumer, "-o", "json"],
        );
        let rows: Vec<Value> =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        rows.into_iter()
            .map(|r| {
                (
                    (
                        r["host"].as_str().unwrap().to_string(),
                        r["instance"].as_str().unwrap().to_string(),
                    ),
                    r,
                )
            })
            .collect()
    }

    fn active(&self, manifest: &Path, consumer: &str) -> Vec<(String, String)> {
        self.status(manifest, consumer)
            .into_iter()
            .filter(|(_, r)| r["active_state"] == "active")
            .map(|(k, _)| k)
            .collect()
    }

    /// Every instance of `consumers` stopped and disabled on every host.
    fn reset(&self, consumers: &[&str]) {
        let zero: Vec<(&str, u32)> = consumers.iter().map(|c| (*c, 0)).collect();
        let manifest = self.fleet_manifest("reset", &zero);
        let out = self.deploy(&manifest, &["--no-restart"]);
        assert!(out.status.success(), "reset: {}", text(&out));
    }
}

fn every_host(instances: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = HOSTS
        .iter()
        .flat_map(|h| {
            instances
                .iter()
                .map(move |i| (h.to_string(), i.to_string()))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn deploy_from_nothing_converges_scales_down_and_dry_run_changes_nothing() {
    let fleet = Fleet::get();
    fleet.reset(&["fl_orders", "fl_audit"]);
    let manifest = fleet.fleet_manifest("m", &[("fl_orders", 2), ("fl_audit", 1)]);

    // The plan, and nothing changed: exit 2 (drifted).
    let out = fleet.deploy(&manifest, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    for host in HOSTS {
        assert!(plan.contains(&format!("{host}:\n")), "{plan}");
    }
    assert_eq!(
        plan.matches("+ kafka-consumer@fl_orders:2.service").count(),
        3,
        "{plan}"
    );
    assert!(plan.contains("plan: 3 host(s): 9 to start"), "{plan}");
    assert!(fleet.active(&manifest, "fl_orders").is_empty());

    // From nothing.
    let out = fleet.deploy(&manifest, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("deploy: 3 host(s) converged"),
        "{}",
        text(&out)
    );
    assert_eq!(
        fleet.active(&manifest, "fl_orders"),
        every_host(&["fl_orders:1", "fl_orders:2"])
    );
    assert_eq!(
        fleet.active(&manifest, "fl_audit"),
        every_host(&["fl_audit:1"])
    );

    // Converged: a dry run has only the routine restarts to do.
    let out = fleet.deploy(&manifest, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = fleet.deploy(&manifest, &["--dry-run", "--no-restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        !plan.contains("fl_orders") && !plan.contains("fl_audit"),
        "{plan}"
    );

    // Scale down.
    let smaller = fleet.fleet_manifest("smaller", &[("fl_orders", 1), ("fl_audit", 1)]);
    let out = fleet.deploy(&smaller, &["--no-restart"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("- kafka-consumer@fl_orders:2.service"),
        "{}",
        text(&out)
    );
    assert_eq!(
        fleet.active(&smaller, "fl_orders"),
        every_host(&["fl_orders:1"])
    );
    fleet.reset(&["fl_orders", "fl_audit"]);
}

#[test]
fn restarts_roll_across_the_fleet_batch_after_batch() {
    let fleet = Fleet::get();
    fleet.reset(&["fl_roll"]);
    let manifest = fleet.fleet_manifest("roll", &[("fl_roll", 2)]);
    let out = fleet.deploy(&manifest, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let before = fleet.status(&manifest, "fl_roll");

    let out = fleet.deploy(&manifest, &["--batch-size", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // "rolling restart K/N: fl_roll:1 on h1@..., ..." in order.
    let batches: Vec<Vec<(String, String)>> = stderr
        .lines()
        .filter_map(|l| l.split_once("rolling restart ").map(|(_, rest)| rest))
        .map(|rest| {
            let (_, members) = rest.split_once(": ").unwrap();
            members
                .split(", ")
                .map(|m| {
                    let (instance, host) = m.split_once(" on ").unwrap();
                    (host.to_string(), instance.to_string())
                })
                .collect()
        })
        .collect();
    assert_eq!(batches.len(), 3, "6 members, 2 at a time: {stderr}");
    let mut all: Vec<_> = batches.iter().flatten().cloned().collect();
    all.sort();
    assert_eq!(all, every_host(&["fl_roll:1", "fl_roll:2"]));
    for batch in &batches {
        assert!(batch.len() <= 2, "{batch:?}");
    }

    // Each batch came up after the one before it: later batches became active later, and
    // every member was restarted.
    let after = fleet.status(&manifest, "fl_roll");
    let since = |key: &(String, String)| after[key]["active_since_usec"].as_u64().unwrap();
    for key in after.keys() {
        assert_ne!(
            before[key]["main_pid"], after[key]["main_pid"],
            "{key:?} was not restarted"
        );
    }
    for pair in batches.windows(2) {
        let last_of_earlier = pair[0].iter().map(since).max().unwrap();
        let first_of_later = pair[1].iter().map(since).min().unwrap();
        assert!(
            first_of_later >= last_of_earlier,
            "batch order not kept: {pair:?}"
        );
    }
    fleet.reset(&["fl_roll"]);
}

/// Brings a host back up even when the test fails half-way.
struct HostDown(&'static str);

impl Drop for HostDown {
    fn drop(&mut self) {
        let _ = rig(&["up", self.0]);
    }
}

#[test]
fn an_unreachable_host_fails_alone_and_a_rerun_converges() {
    let fleet = Fleet::get();
    fleet.reset(&["fl_down"]);
    let manifest = fleet.fleet_manifest("down", &[("fl_down", 1)]);

    let down = HostDown("2");
    let out = rig(&["down", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = fleet.deploy(&manifest, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("h2@127.0.0.12:2212: UNREACHABLE: h2@127.0.0.12:2212: cannot connect"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("h2@127.0.0.12:2212") && l.contains("| unreachable |")),
        "{stdout}"
    );
    assert!(stdout.contains("deploy: 1 of 3 host(s) failed"), "{stdout}");
    drop(down);

    let active = fleet.active(&manifest, "fl_down");
    assert_eq!(
        active,
        [
            (HOSTS[0].to_string(), "fl_down:1".to_string()),
            (HOSTS[2].to_string(), "fl_down:1".to_string())
        ]
    );
    let out = fleet.deploy(&manifest, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fleet.active(&manifest, "fl_down"),
        every_host(&["fl_down:1"])
    );
    fleet.reset(&["fl_down"]);
}

/// Puts a host's original key back even when the test fails half-way.
struct KeySwapped(&'static str);

impl Drop for KeySwapped {
    fn drop(&mut self) {
        let _ = rig(&["restore-key", self.0]);
    }
}

#[test]
fn host_keys_are_checked_and_new_ones_accepted_only_when_asked() {
    let fleet = Fleet::get();
    let manifest = fleet.fleet_manifest("keys", &[("fl_keys", 0)]);

    // A changed key is refused; the other hosts are read.
    let swapped = KeySwapped("3");
    let out = rig(&["swap-key", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = fleet.deploy(&manifest, &["--dry-run", "--accept-new-host-keys"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("h3@127.0.0.13:2213: UNREACHABLE: h3@127.0.0.13:2213: HOST KEY CHANGED"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("h1@127.0.0.11:2211: UNREACHABLE")
            && !stdout.contains("h2@127.0.0.12:2212: UNREACHABLE"),
        "{stdout}"
    );
    drop(swapped);

    // An unknown host is refused, and accepted (and recorded) only with the flag.
    let known = fleet.dir.path().join("known_hosts");
    std::fs::write(&known, "").unwrap();
    let with_known = |extra: &[&str]| {
        let mut cmd = Command::new(kafkactl());
        cmd.args(["--user", "-f"])
            .arg(&manifest)
            .args(["deploy", "--dry-run"])
            .args(extra)
            .arg("--known-hosts")
            .arg(&known)
            .arg("-i")
            .arg(rig_dir().join("id_ed25519"));
        cmd.output().unwrap()
    };
    let out = with_known(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("unknown host key ssh-ed25519 SHA256:")
            .count(),
        3,
        "{}",
        text(&out)
    );
    assert!(std::fs::read_to_string(&known).unwrap().is_empty());
    let out = with_known(&["--accept-new-host-keys"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("accepted new host key ssh-ed25519"),
        "{}",
        text(&out)
    );
    let recorded = std::fs::read_to_string(&known).unwrap();
    let rig_known = std::fs::read_to_string(rig_dir().join("known_hosts")).unwrap();
    let mut a: Vec<&str> = recorded.lines().collect();
    let mut b: Vec<&str> = rig_known.lines().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "recorded keys differ from the hosts' own");
    let out = with_known(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_manifest_with_an_unknown_role_is_rejected_before_any_connection() {
    let fleet = Fleet::get();
    let manifest = fleet.manifest(
        "badrole",
        "roles:\n  consumers: [h1@127.0.0.11:2211]\nconsumers:\n  - {name: fl_bad, topic: t, \
         command: /bin/true, role: workers}\n",
    );
    let out = fleet.deploy(&manifest, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("badrole.yml:4:"), "{stderr}");
    assert!(stderr.contains("workers"), "{stderr}");
    assert!(!text(&out).contains("connecting"), "{}", text(&out));
}

#[test]
fn orphans_are_reported_and_pruned_only_when_asked() {
    let fleet = Fleet::get();
    fleet.reset(&["fl_keep", "fl_gone"]);
    let both = fleet.fleet_manifest("both", &[("fl_keep", 1), ("fl_gone", 1)]);
    let out = fleet.deploy(&both, &[]);
    assert!(out.status.success(), "{}", text(&out));

    let keep = fleet.fleet_manifest("keep", &[("fl_keep", 1)]);
    let out = fleet.deploy(&keep, &["--no-restart"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("? kafka-consumer@fl_gone:1.service").count(),
        3,
        "{stdout}"
    );
    assert_eq!(
        fleet.active(&keep, "fl_gone").len(),
        3,
        "kept without --prune"
    );

    let out = fleet.deploy(&keep, &["--no-restart", "--prune"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(fleet.active(&keep, "fl_gone").is_empty());
    fleet.reset(&["fl_keep", "fl_gone"]);
}
