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
    let broker = Broker::start(&[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unit = format!("kafkactl-proxy-test-{port}.service");
    let listen = format!("127.0.0.1:{port}");
    // Type=notify: systemd-run returns once the proxy said READY=1 (or failed).
    let out = Command::new("systemd-run")
        .args([
            "--user",
            "--quiet",
            "--collect",
            "-p",
            "Type=notify",
            "-p",
            "NotifyAccess=main",
        ])
        .arg(format!("--unit={unit}"))
        .arg(kafkactl())
        .args(["proxy", "--listen", &listen, "--brokers", &broker.bootstrap])
        .arg("--config")
        .arg(dev_config())
        .output()
        .unwrap();
    let _cleanup = StopOnDrop(unit.clone());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert!(show(&unit, "StatusText").starts_with(&format!("listening on {listen}")));
    // READY came after the socket was bound: it answers at once.
    let mut raw = Raw::connect(listen.parse().unwrap());
    assert_eq!(raw.cmd("PING"), Frame::Simple("PONG".into()));
    drop(raw);
    wait_for(
        "the periodic STATUS update",
        Duration::from_secs(15),
        || show(&unit, "StatusText").contains("connections"),
    );

    let stop = Command::new("systemctl")
        .args(["--user", "stop", &unit])
        .status()
        .unwrap();
    assert!(stop.success());
    // Stopped by SIGTERM and exited 0 after the drain (a failed exit would leave it failed).
    let state = show(&unit, "ActiveState");
    assert!(
        state == "inactive" || state.is_empty(),
        "state after stop: {state}"
    );
    assert!(
        Command::new("systemctl")
            .args(["--user", "is-failed", "--quiet", &unit])
            .status()
            .unwrap()
            .code()
            != Some(0)
    );
}
