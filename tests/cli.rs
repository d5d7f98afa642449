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
fn committed_man_pages_match_the_cli_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(kafkactl())
        .arg("manpage")
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    let names = |d: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let regenerate = "regenerate with `kafkactl manpage --dir docs/man`";
    assert_eq!(names(dir.path()), names(&committed), "{regenerate}");
    assert!(names(&committed).len() >= 17, "{:?}", names(&committed));
    for name in names(dir.path()) {
        let fresh = std::fs::read(dir.path().join(&name)).unwrap();
        let old = std::fs::read(committed.join(&name)).unwrap_or_default();
        assert!(fresh == old, "docs/man/{name} is stale: {regenerate}");
    }
}

#[test]
fn every_subcommand_has_examples_and_global_options_have_their_own_heading() {
    let out = Command::new(kafkactl()).arg("--help").output().unwrap();
    let top = String::from_utf8_lossy(&out.stdout);
    assert!(top.contains("Global options:"), "{top}");
    // The exit codes are in the long help.
    assert!(top.contains("Exit status:"), "{top}");
    let subcommands: Vec<&[&str]> = vec![
        &["proxy"],
        &["worker"],
        &["spawn"],
        &["stop"],
        &["restart"],
        &["disable-and-stop"],
        &["status"],
        &["lag"],
        &["logs"],
        &["check"],
        &["top"],
        &["deploy"],
        &["install-units"],
        &["manifest", "check"],
        &["completions"],
        &["dev", "broker"],
    ];
    for sub in subcommands {
        let out = Command::new(kafkactl())
            .args(sub)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{sub:?}: {help}");
        let examples = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub:?} --help has no examples:\n{help}"));
        let first = examples.lines().next().unwrap_or_default().trim();
        assert!(
            ["kafkactl ", "systemctl ", "redis-cli "]
                .iter()
                .any(|p| first.starts_with(p)),
            "{sub:?}: {first}"
        );
        // The globals sit under their own heading, apart from the subcommand's options.
        let (options, globals) = help
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{sub:?}: no Global options heading:\n{help}"));
        assert!(
            !options.contains("--log <LOG>"),
            "{sub:?}: --log among the options"
        );
        assert!(globals.contains("--manifest"), "{sub:?}");
    }
}

#[test]
fn no_short_flag_means_two_things() {
    // -c is a consumer everywhere; the proxy's config is --config only.
    let out = Command::new(kafkactl())
        .args(["proxy", "-c", "/etc/kafkactl/proxy.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::output_text(&out));
    let out = Command::new(kafkactl())
        .args(["proxy", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("      --config <FILE>"), "{help}");
}

#[test]
fn a_listen_address_that_is_a_host_name_says_which_address_to_use() {
    let out = Command::new(kafkactl())
        .args(["proxy", "--listen", "localhost:6380"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'localhost:6380' is not IP:PORT"),
        "{stderr}"
    );
    assert!(stderr.contains("127.0.0.1:6380"), "{stderr}");
}

#[test]
fn a_missing_default_manifest_says_where_it_was_looked_for_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(kafkactl())
        .current_dir(dir.path())
        .args(["manifest", "check"])
        .env_remove("KAFKACTL_MANIFEST")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("config/kafka_consumers.yml"), "{stderr}");
    assert!(stderr.contains("-f FILE"), "{stderr}");
}

#[test]
fn manifest_check_validates_offline_and_prints_the_resolved_consumers() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kafka_consumers.yml");
    let out = Command::new(kafkactl())
        .arg("-f")
        .arg(&example)
        .args(["manifest", "check", "-o", "json"])
        // Offline: no bus, no broker.
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("KAFKACTL_BROKERS", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::schema::assert_valid("manifest-check.json", &json);
    assert_eq!(json["consumers"][0]["name"], "price_drops");
    assert_eq!(json["consumers"][0]["group"], "myapp-price_drops");
    // The extended form, env_file and hosts included, fits the schema too.
    let extended =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/good/extended.yml");
    let out = Command::new(kafkactl())
        .arg("-f")
        .arg(&extended)
        .args(["manifest", "check", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::output_text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::schema::assert_valid("manifest-check.json", &json);
    assert!(
        json["consumers"].as_array().unwrap().iter().any(
            |c| c["env_file"]["path"].is_string() && !c["hosts"].as_array().unwrap().is_empty()
        ),
        "{json:#}"
    );
    let out = Command::new(kafkactl())
        .arg("-f")
        .arg(&example)
        .args(["manifest", "check"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("valid: "), "{table}");
    // Off a terminal: plain columns, no borders.
    let header = table.lines().nth(1).unwrap();
    assert!(header.starts_with("NAME  "), "{table}");
    assert!(
        !table.contains('|') && !table.contains('\u{2502}'),
        "{table}"
    );
    // Every bad manifest of the corpus exits 2 with its problems, nothing on stdout.
    let bad = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/bad");
    let mut checked = 0;
    for entry in std::fs::read_dir(&bad).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let out = Command::new(kafkactl())
            .arg("-f")
            .arg(&path)
            .args(["manifest", "check", "-o", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        assert!(out.stdout.is_empty(), "{}", path.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains(&path.display().to_string()));
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
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
    // With a valid manifest, so that the bad host is what is refused.
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kafka_consumers.yml");
    let out = Command::new(kafkactl())
        .arg("-f")
        .arg(&example)
        .args(["deploy", "--hosts", "a@b@c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a@b@c"), "{stderr}");
    assert!(!stderr.contains("kafka_consumers.yml"), "{stderr}");
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
