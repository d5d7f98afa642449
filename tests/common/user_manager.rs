//! Helpers for tests that share the systemd user manager of the test rig: the lock that
//! serialises them, where user units live, and the fake worker the control-plane tests run
//! instead of `kafkactl worker` (no Kafka needed).

use std::fs::File;
use std::path::{Path, PathBuf};

/// Serialises, across nextest's processes, the tests that install units into the rig's
/// user manager (they share its kafka-consumer@ namespace).
pub fn lock() -> File {
    super::lock("control-plane-tests")
}

/// `~/.config/systemd/user` of the user running the tests.
pub fn unit_dir() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    Path::new(&home).join(".config/systemd/user")
}

/// tests/fixtures/fake-worker.sh.
pub fn fake_worker() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-worker.sh")
}

/// The installed consumer template `unit`, rewritten to run `fake` instead of the worker.
pub fn with_fake_worker(unit: &str, fake: &Path) -> String {
    let lines: Vec<String> = unit
        .lines()
        .map(|line| {
            if line.starts_with("ExecStart=") {
                format!("ExecStart={} %i", fake.display())
            } else if line == "NotifyAccess=main" {
                // systemd-notify runs as a child of the script.
                "NotifyAccess=all".to_string()
            } else if line.starts_with("WatchdogSec=") {
                // The stand-in does not pet the watchdog.
                String::new()
            } else {
                line.to_string()
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

/// Points this user's installed consumer template at tests/fixtures/fake-worker.sh and reloads
/// the manager.
pub fn use_fake_worker() {
    let path = unit_dir().join("kafka-consumer@.service");
    let unit = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, with_fake_worker(&unit, &fake_worker())).unwrap();
    assert!(std::process::Command::new("systemctl")
        .args(["--user", "daemon-reload"])
        .status()
        .unwrap()
        .success());
}
