//! The control plane against a real systemd user manager (scripts/systemd-user.sh starts
//! it): spawn, scale down, status, restart, failures, disable-and-stop, and bad manifests
//! that must touch nothing. These tests share the manager's kafka-consumer@ namespace, so
//! they hold a file lock and run one at a time.

use crate::common;

use common::kafkactl;
use common::user_manager::{lock, unit_dir, use_fake_worker};
use std::path::Path;
use std::process::{Command, Output};

fn require_rig() {
    let ok = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && Command::new("systemctl")
            .args(["--user", "show", "--property=Version"])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "no systemd user manager: run `scripts/systemd-user.sh start` and \
         `eval \"$(scripts/systemd-user.sh env)\"` (scripts/test.sh does both)"
    );
}

fn run(args: &[&str]) -> Output {
    Command::new(kafkactl())
        .arg("--user")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    common::output_text(out)
}

/// Installs the real units, then points the consumer template at the fake worker.
fn install_fake_worker_units() {
    let out = run(&["install-units", "--proxy-config", "/dev/null"]);
    assert!(out.status.success(), "{}", text(&out));
    use_fake_worker();
}

fn json_status(consumer: &str) -> Vec<serde_json::Value> {
    let out = run(&["status", "-c", consumer, "-o", "json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn loaded_instances(consumer: &str) -> Vec<String> {
    let out = Command::new("systemctl")
        .args(["--user", "list-units", "--all", "--plain", "--no-legend"])
        .arg(format!("kafka-consumer@{consumer}:*"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

fn enabled(unit: &str) -> bool {
    Command::new("systemctl")
        .args(["--user", "is-enabled", unit])
        .output()
        .unwrap()
        .stdout
        .starts_with(b"enabled")
}

#[test]
fn spawn_scale_status_restart_and_disable_and_stop() {
    require_rig();
    let _lock = lock();
    install_fake_worker_units();
    let name = "cp_orders";
    let _ = run(&["disable-and-stop", "-c", name]);

    // spawn 3 -> 3 active, enabled, each with the STATUS text it sent.
    let out = run(&["spawn", "-c", name, "-w", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("6 action(s): 6 ok, 0 failed"),
        "{}",
        text(&out)
    );
    let rows = json_status(name);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            row["unit"],
            format!("kafka-consumer@{name}:{}.service", i + 1)
        );
        assert_eq!(row["active_state"], "active");
        assert!(row["main_pid"].as_u64().unwrap() > 0);
        let status = row["status_text"].as_str().unwrap();
        assert!(
            status.contains("(offset=0,partition=0) | Working..."),
            "{status}"
        );
        assert!(enabled(row["unit"].as_str().unwrap()));
    }
    let table = run(&["status", "-c", name]);
    assert!(table.status.success());
    assert!(text(&table).contains("active/running"), "{}", text(&table));

    // Spawning again changes nothing.
    let again = run(&["spawn", "-c", name, "-w", "3"]);
    assert!(
        text(&again).starts_with("nothing to do"),
        "{}",
        text(&again)
    );

    // Scale to 1 -> 2 and 3 stopped and disabled.
    let out = run(&["spawn", "-c", name, "-w", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let rows = json_status(name);
    assert_eq!(rows.len(), 1, "{rows:?}");
    for k in [2, 3] {
        let unit = format!("kafka-consumer@{name}:{k}.service");
        assert!(!enabled(&unit), "{unit} still enabled");
        assert!(
            !loaded_instances(name).contains(&unit),
            "{unit} still loaded"
        );
    }

    // Restart changes the main PID.
    let before = json_status(name)[0]["main_pid"].as_u64().unwrap();
    let out = run(&["restart", "-c", &format!("{name}:1")]);
    assert!(out.status.success(), "{}", text(&out));
    let after = json_status(name)[0]["main_pid"].as_u64().unwrap();
    assert_ne!(before, after);

    // disable-and-stop leaves no instance loaded.
    let out = run(&["disable-and-stop", "-c", name]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        loaded_instances(name).is_empty(),
        "{:?}",
        loaded_instances(name)
    );
    assert!(!enabled(&format!("kafka-consumer@{name}:1.service")));
}

#[test]
fn a_failed_start_is_reported_with_state_and_result_and_exits_non_zero() {
    require_rig();
    let _lock = lock();
    install_fake_worker_units();
    let name = "fail_cp";
    let out = run(&["spawn", "-c", name, "-w", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("FAILED start kafka-consumer@{name}:1.service")),
        "{t}"
    );
    assert!(t.contains("result exit-code"), "{t}");
    // systemd retries it (Restart=on-failure) until its start limit, then it is failed:
    // status shows it so and exits 3.
    let start = std::time::Instant::now();
    loop {
        let rows = json_status(name);
        if rows[0]["active_state"] == "failed" {
            break;
        }
        assert_ne!(rows[0]["active_state"], "active");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "never failed: {rows:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let status = run(&["status", "-c", name]);
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));
    assert!(text(&status).contains("failed/failed"), "{}", text(&status));
    let out = run(&["disable-and-stop", "-c", name]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(loaded_instances(name).is_empty());
}

#[test]
fn bad_manifests_are_refused_before_anything_is_touched() {
    require_rig();
    let _lock = lock();
    install_fake_worker_units();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/bad");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let before = loaded_instances("*");
        let out = Command::new(kafkactl())
            .arg("--user")
            .arg("-f")
            .arg(&path)
            .arg("spawn")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            path.display(),
            text(&out)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        for want in expected.lines().filter(|l| !l.trim().is_empty()) {
            // The corpus records messages with the relative path the corpus test loads.
            let want = want.replace("tests/manifests/bad/", &format!("{}/", dir.display()));
            assert!(
                stderr.contains(want.trim()),
                "{}:\nwant {want}\ngot {stderr}",
                path.display()
            );
        }
        assert_eq!(
            loaded_instances("*"),
            before,
            "{} touched systemd",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} bad manifests");
}

#[test]
fn installed_units_pass_systemd_analyze_verify() {
    require_rig();
    let _lock = lock();
    let out = run(&[
        "install-units",
        "--proxy-config",
        "/etc/kafkactl/proxy.json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("kafka-consumer@.service") && t.contains("kafkactl-proxy.service"),
        "{t}"
    );
    let consumer = std::fs::read_to_string(unit_dir().join("kafka-consumer@.service")).unwrap();
    let binary = kafkactl().canonicalize().unwrap();
    assert!(
        consumer.contains(&format!("ExecStart={} worker %i", binary.display())),
        "{consumer}"
    );
    let verify = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(unit_dir().join("kafka-consumer@.service"))
        .arg(unit_dir().join("kafkactl-proxy.service"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", text(&verify));
    install_fake_worker_units();
}
