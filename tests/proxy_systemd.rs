//! The proxy under a real systemd (the test rig's user manager) as a Type=notify service:
//! systemd sees it active only once it listens, reads its STATUS, and on stop sees STOPPING
//! and a clean exit.

use crate::common;

use common::*;
use kafkactl::testing::Frame;
use std::process::Command;
use std::time::Duration;

fn show(unit: &str, property: &str) -> String {
    let out = Command::new("systemctl")
        .args(["--user", "show", unit, "--value", "-p", property])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Stops the transient unit even when an assertion fails first.
struct StopOnDrop(String);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("systemctl")
            .args(["--user", "stop", &self.0])
            .status();
    }
}

#[test]
fn the_proxy_is_a_type_notify_service() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "no systemd user manager: run `scripts/systemd-user.sh start` and \
         `eval \"$(scripts/systemd-user.sh env)\"` (scripts/test.sh does both)"
    );
    // The dev broker, always: the test freezes it to hold the shutdown in its first stage.
    let mut broker = Broker::dev(&["--topic", "sd:1"]);
    // The kernel picks the port (no probe-then-bind race); the STATUS text says which.
    let unit = format!("kafkactl-proxy-test-{}.service", std::process::id());
    // --wait: systemd-run stays until the unit ends and then says how its main process exited
    // (the unit itself may be unloaded by then, taking its properties with it).
    let run = Command::new("systemd-run")
        .args([
            "--user",
            "--wait",
            "-p",
            "Type=notify",
            "-p",
            "NotifyAccess=main",
        ])
        .arg(format!("--unit={unit}"))
        .arg(kafkactl())
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--brokers",
            &broker.bootstrap,
        ])
        .arg("--config")
        .arg(dev_config())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _cleanup = StopOnDrop(unit.clone());
    // Type=notify: active only once the proxy said READY=1, which it says once it listens.
    wait_for("the unit to be active", Duration::from_secs(30), || {
        show(&unit, "ActiveState") == "active"
    });
    let status = show(&unit, "StatusText");
    let listen = status
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("STATUS: {status}"))
        .split(':')
        .take(2)
        .collect::<Vec<_>>()
        .join(":");
    assert!(listen.starts_with("127.0.0.1:"), "{status}");
    let mut raw = Raw::connect(listen.parse().unwrap());
    assert_eq!(raw.cmd("PING"), Frame::Simple("PONG".into()));
    drop(raw);
    wait_for(
        "the periodic STATUS update",
        Duration::from_secs(15),
        || show(&unit, "StatusText").contains("connections"),
    );

    // A consumer whose final commit waits on a frozen broker holds the drain in its first
    // stage: meanwhile systemd shows the unit deactivating, as STOPPING=1 tells it. It has
    // joined its group and acked a message first, so that its close has a commit to make and
    // a group to leave (a consumer frozen mid-join had neither, and closed at once: seen with
    // two suites at once).
    let mut c = Raw::connect(listen.parse().unwrap());
    c.send(&[b"CLIENT", b"SETNAME", b"sd:c1"]);
    assert!(matches!(c.read(), Some(Frame::Bulk(_) | Frame::Simple(_))));
    produce_direct(&broker.bootstrap, "sd", &["joined".to_string()]);
    let first = blpop(&mut c, "topics:sd", 30).expect("the first message");
    assert_eq!(
        c.cmd(&format!("RPUSH acks {}", first.ack())),
        Frame::Integer(1)
    );
    blpop_in_flight(listen.parse().unwrap(), &mut c, "topics:sd");
    let broker_pid = broker.dev_proc().child.id() as i32;
    // SAFETY: signals to a child process of this test.
    assert_eq!(unsafe { libc::kill(broker_pid, libc::SIGSTOP) }, 0);
    let term = Command::new("systemctl")
        .args(["--user", "kill", "--kill-whom=main", "-s", "TERM", &unit])
        .status()
        .unwrap();
    assert!(term.success());
    wait_for("STOPPING=1 (deactivating)", Duration::from_secs(15), || {
        show(&unit, "ActiveState") == "deactivating"
    });
    assert_eq!(unsafe { libc::kill(broker_pid, libc::SIGCONT) }, 0);
    let out = run.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    // A clean drain exits 0: the unit's result is success, not exit-code.
    assert!(out.status.success(), "systemd-run: {said}");
    assert!(said.contains("Finished with result: success"), "{said}");
    assert!(said.contains("code=exited/status=0"), "{said}");
}
