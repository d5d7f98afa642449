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
    let out = run(&["install-units", "--force", "--proxy-config", "/dev/null"]);
    assert!(out.status.success(), "{}", text(&out));
    use_fake_worker();
}

fn json_status(consumer: &str) -> Vec<serde_json::Value> {
    let out = run(&["status", "-c", consumer, "-o", "json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    common::schema::assert_valid("status.json", &json);
    assert_eq!(
        json["groups"],
        serde_json::Value::Null,
        "no --lag, no groups"
    );
    json["instances"].as_array().unwrap().clone()
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
        text(&out).contains("plan: 1 host(s): 3 to start, 0 to stop")
            && text(&out).contains("spawn: 1 host(s) done"),
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
        text(&again).contains("localhost: up to date"),
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
        t.contains(&format!("start kafka-consumer@{name}:1.service: FAILED")),
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
        "--force",
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

/// `kafkactl --user -f MANIFEST ARGS` with stdin closed (as CI and Capistrano run it).
fn run_with(manifest: &Path, args: &[&str]) -> Output {
    Command::new(kafkactl())
        .arg("--user")
        .arg("-f")
        .arg(manifest)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn disable_and_stop_takes_down_only_the_manifests_consumers_unless_all() {
    require_rig();
    let _lock = lock();
    install_fake_worker_units();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("kafka_consumers.yml");
    std::fs::write(&manifest, "- name: cp_mine\n  scale: 2\n").unwrap();
    // What a failed earlier run may have left.
    let _ = run(&["disable-and-stop", "-c", "cp_theirs"]);
    let _ = run(&["disable-and-stop", "-c", "cp_mine"]);
    let out = run_with(&manifest, &["spawn"]);
    assert!(out.status.success(), "{}", text(&out));
    // Another app's consumer (not in this manifest) on the same manager.
    let out = run(&["spawn", "-c", "cp_theirs", "-w", "1"]);
    assert!(out.status.success(), "{}", text(&out));

    // The dry run lists the manifest's instances only, exits 4 and changes nothing.
    let out = run_with(&manifest, &["disable-and-stop", "--dry-run", "-o", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::schema::assert_valid("plan.json", &plan);
    let units: Vec<&str> = plan["hosts"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["unit"].as_str().unwrap())
        .collect();
    assert!(units.iter().all(|u| u.contains("cp_mine:")), "{units:?}");
    assert!(
        units.contains(&"kafka-consumer@cp_mine:2.service"),
        "{units:?}"
    );
    assert_eq!(json_status("cp_mine").len(), 2);

    // Plain disable-and-stop, as the seed's Capistrano task runs it: this app only.
    let out = run_with(&manifest, &["disable-and-stop"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        loaded_instances("cp_mine").is_empty(),
        "{:?}",
        loaded_instances("cp_mine")
    );
    let theirs = json_status("cp_theirs");
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(
        theirs[0]["active_state"], "active",
        "another app's instance was stopped"
    );

    // Without a manifest it refuses (exit 2) and touches nothing; --all takes everything.
    let nowhere = dir.path().join("missing.yml");
    let out = Command::new(kafkactl())
        .current_dir(dir.path())
        .args(["--user", "disable-and-stop"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--all"), "{}", text(&out));
    assert_eq!(json_status("cp_theirs")[0]["active_state"], "active");
    let out = run_with(&nowhere, &["disable-and-stop", "--all", "--dry-run"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an -f that names nothing: {}",
        text(&out)
    );
    let out = Command::new(kafkactl())
        .current_dir(dir.path())
        .args(["--user", "disable-and-stop", "--all"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(loaded_instances("cp_theirs").is_empty());
}

#[test]
fn dry_runs_change_nothing_and_exit_4_only_when_something_would_change() {
    require_rig();
    let _lock = lock();
    install_fake_worker_units();
    let name = "cp_dry";
    let _ = run(&["disable-and-stop", "-c", name]);
    let out = run(&["spawn", "-c", name, "-w", "2", "--dry-run"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("+ kafka-consumer@{name}:2.service")),
        "{}",
        text(&out)
    );
    assert!(json_status(name).is_empty(), "a dry run started something");
    let out = run(&["spawn", "-c", name, "-w", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let pids: Vec<u64> = json_status(name)
        .iter()
        .map(|r| r["main_pid"].as_u64().unwrap())
        .collect();
    // Nothing would change: 0.
    let out = run(&["spawn", "-c", name, "-w", "2", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for args in [
        &["spawn", "-c", name, "-w", "1", "--dry-run"][..],
        &["stop", "-c", name, "--dry-run"],
        &["restart", "-c", name, "--dry-run", "-o", "json"],
        &["disable-and-stop", "-c", name, "--dry-run"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", text(&out));
        if args.contains(&"json") {
            let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            common::schema::assert_valid("plan.json", &plan);
            assert_eq!(plan["command"], "restart");
            assert_eq!(plan["dry_run"], true);
            assert_eq!(plan["changes_pending"], true);
            assert_eq!(plan["hosts"][0]["result"], "planned");
        }
    }
    let after: Vec<u64> = json_status(name)
        .iter()
        .map(|r| r["main_pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, after, "a dry run stopped or restarted an instance");
    let out = run(&["disable-and-stop", "-c", name]);
    assert!(out.status.success(), "{}", text(&out));
}

/// Runs `kafkactl --user ARGS` on a pseudo-terminal (util-linux `script`), typing `answer`.
fn on_terminal(args: &str, answer: &str) -> Output {
    let command = format!("{} --user {args}", kafkactl().display());
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_terminal_is_asked_before_instances_are_stopped_and_yes_skips_it() {
    require_rig();
    let _lock = lock();
    install_fake_worker_units();
    let name = "cp_ask";
    let _ = run(&["disable-and-stop", "-c", name]);
    let out = run(&["spawn", "-c", name, "-w", "1"]);
    assert!(out.status.success(), "{}", text(&out));

    // Declined: nothing changes, exit 1.
    let out = on_terminal(&format!("disable-and-stop -c {name}"), "n\n");
    let said = text(&out);
    println!("{said}");
    assert!(
        said.contains("stop 1 instance(s), disable 1 instance(s) on 1 host(s). Proceed? [y/N]"),
        "{said}"
    );
    assert!(said.contains("aborted; nothing was changed"), "{said}");
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert_eq!(json_status(name)[0]["active_state"], "active");

    // Bringing instances up asks nothing.
    let out = on_terminal(&format!("spawn -c {name} -w 2"), "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("Proceed?"), "{}", text(&out));

    // Accepted: done.
    let out = on_terminal(&format!("stop -c {name}:2"), "y\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Proceed?"), "{}", text(&out));
    let rows = json_status(name);
    let states: Vec<&str> = rows
        .iter()
        .map(|r| r["active_state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "inactive"], "{rows:?}");

    // --yes on a terminal, and no terminal at all (stdin closed: CI), ask nothing.
    let out = on_terminal(&format!("restart -c {name} --yes"), "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("Proceed?"), "{}", text(&out));
    let out = Command::new(kafkactl())
        .args(["--user", "disable-and-stop", "-c", name])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("Proceed?"), "{}", text(&out));
    assert!(loaded_instances(name).is_empty());
}

#[test]
fn install_units_resolves_the_manifest_in_the_workdir_prints_and_guards_another_apps_template() {
    require_rig();
    let _lock = lock();
    let root = tempfile::tempdir().unwrap();
    let app = |name: &str| -> std::path::PathBuf {
        let release = root.path().join(format!("{name}-release"));
        std::fs::create_dir_all(release.join("config")).unwrap();
        std::fs::write(release.join("config/kafka_consumers.yml"), "- name: a\n").unwrap();
        // Capistrano's `current`: a link to the release.
        let current = root.path().join(name).join("current");
        std::fs::create_dir_all(current.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&release, &current).unwrap();
        current
    };
    let (one, two) = (app("one"), app("two"));
    let install = |workdir: &Path, extra: &[&str]| -> Output {
        // Run from elsewhere: the manifest is the workdir's, not this directory's.
        Command::new(kafkactl())
            .current_dir(root.path())
            .args([
                "--user",
                "install-units",
                "--proxy-config",
                "/dev/null",
                "--workdir",
            ])
            .arg(workdir)
            .args(extra)
            .output()
            .unwrap()
    };
    let template = || std::fs::read_to_string(unit_dir().join("kafka-consumer@.service")).unwrap();

    // --print writes nothing and shows the paths as given (the link, not the release).
    let before = std::fs::read_to_string(unit_dir().join("kafka-consumer@.service")).ok();
    let out = install(&one, &["--print"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.contains(&format!(
            "Environment=KAFKACTL_MANIFEST={}/config/kafka_consumers.yml",
            one.display()
        )),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("WorkingDirectory={}", one.display())),
        "{printed}"
    );
    assert_eq!(
        std::fs::read_to_string(unit_dir().join("kafka-consumer@.service")).ok(),
        before
    );
    // Without --workdir, run from `current` as a shell does ($PWD names the link): the units
    // name the link, not the release it points at today.
    let out = Command::new(kafkactl())
        .current_dir(&one)
        .env("PWD", &one)
        .args([
            "--user",
            "install-units",
            "--proxy-config",
            "/dev/null",
            "--print",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.contains(&format!("WorkingDirectory={}\n", one.display())),
        "{printed}"
    );

    // A workdir without the manifest is refused, nothing written.
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = install(&empty, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("no manifest at {}/config", empty.display())),
        "{}",
        text(&out)
    );

    // App one installs; app two is refused (exit 1, template untouched) unless --force.
    let out = install(&one, &["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    let ones = template();
    let out = install(&two, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("serves another app"), "{}", text(&out));
    assert_eq!(template(), ones, "the other app's template was replaced");
    // The same app again is fine.
    let out = install(&one, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = install(&two, &["--force"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(template().contains(&format!("WorkingDirectory={}", two.display())));
    // Leave the shared manager's template as the other tests expect it.
    install_fake_worker_units();
}
