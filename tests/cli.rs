//! The command line as an operator meets it: help, completions, exit codes.

use crate::common;

use common::kafkactl;
use std::process::Command;

#[test]
fn committed_completions_match_the_cli_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(kafkactl())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .join(format!("kafkactl.{shell}"));
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "{} is stale: regenerate with `kafkactl completions {shell} > {}`",
            path.display(),
            path.display()
        );
    }
}

#[test]
fn committed_man_page_matches_the_cli_definitions() {
    let out = Command::new(kafkactl()).arg("manpage").output().unwrap();
    assert!(out.status.success());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/kafkactl.1");
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == out.stdout,
        "{} is stale: regenerate with `kafkactl manpage > docs/kafkactl.1`",
        path.display()
    );
}

#[test]
fn deploy_checks_its_manifest_and_hosts_before_connecting() {
    let out = Command::new(kafkactl())
        .args([
            "-f",
            "/nonexistent/kafka_consumers.yml",
            "deploy",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/kafka_consumers.yml"));
    let out = Command::new(kafkactl())
        .args(["deploy", "--hosts", "a@b@c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_command_checks_its_manifest_before_reaching_systemd() {
    // DBUS_SYSTEM_BUS_ADDRESS points nowhere: a command that connected first would fail with
    // "cannot reach the systemd system manager" (exit 1) instead of naming the manifest.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("kafka_consumers.yml");
    std::fs::write(&broken, "- name: Bad-Name\n").unwrap();
    for manifest in [
        std::path::PathBuf::from("/nonexistent/kafka_consumers.yml"),
        broken,
    ] {
        for args in [
            &["spawn"][..],
            &["spawn", "-c", "a", "-w", "1"],
            &["stop", "-c", "a"],
            &["restart", "-c", "a:1"],
            &["disable-and-stop"],
            &["status"],
            &["logs"],
        ] {
            let out = Command::new(kafkactl())
                .arg("-f")
                .arg(&manifest)
                .args(args)
                .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&manifest.display().to_string()),
                "{args:?}: {stderr}"
            );
        }
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let out = Command::new(kafkactl())
        .args(["dev", "broker", "--topic", "bad name"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'bad name' is not a valid topic name"));
    let out = Command::new(kafkactl())
        .args(["proxy", "--max-connections", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_lists_the_whole_subcommand_tree() {
    let out = Command::new(kafkactl()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in [
        "proxy",
        "worker",
        "spawn",
        "stop",
        "restart",
        "disable-and-stop",
        "status",
        "deploy",
        "install-units",
        "completions",
        "dev",
    ] {
        assert!(text.contains(sub), "{sub} missing from --help:\n{text}");
    }
}

#[test]
fn dev_broker_writes_its_address_and_exits_cleanly_on_sigterm() {
    let mut broker = common::Broker::dev(&["--topic", "a:2"]);
    let (host, port) = broker.bootstrap.rsplit_once(':').unwrap();
    assert_eq!(host, "127.0.0.1");
    assert!(port.parse::<u16>().unwrap() > 0);
    assert!(std::net::TcpStream::connect(&broker.bootstrap).is_ok());
    let status = broker
        .dev_proc()
        .signal_and_wait(libc::SIGTERM, std::time::Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly_like_other_unix_tools() {
    use std::os::unix::process::ExitStatusExt;
    // `kafkactl completions bash | head -0`: the reader is gone before the first write.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(kafkactl())
        .args(["completions", "bash"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
