//! The systemd access layer ([`kafkactl::systemd`]) against a REAL systemd user manager.
//!
//! Needs the rig: `scripts/systemd-user.sh start` and `eval "$(scripts/systemd-user.sh env)"`
//! (scripts/test.sh does both). Without it every test here FAILS and says so: nothing is
//! skipped silently.
//!
//! Each test installs its own template, `kafkatest-<tag>-<unique>@.service`, into the
//! manager's `~/.config/systemd/user` (so tests can run in parallel, in one process or under
//! nextest) and removes it, its enablement symlinks and its units at the end, even on failure.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use kafkactl::testing::{
    unit_object_path, DbusSystemd, JobAction, JobResult, Scope, SystemdError, SystemdManager,
    UnitStatus,
};

const RIG_HINT: &str = "these tests need a real systemd user manager: run \
    `scripts/systemd-user.sh start` and then `eval \"$(scripts/systemd-user.sh env)\"` \
    before `cargo test --test integration systemd_bus::` (scripts/test.sh does both)";

/// Runs a test body on a runtime, bounded so a hung job fails the test instead of CI, holding
/// the user manager's lock: these tests reload the manager, as the control-plane tests do, and
/// a test that checks what a reload changes must know no other reload happened meanwhile.
fn run<F: Future<Output = ()>>(limit: Duration, body: F) {
    let _lock = crate::common::user_manager::lock();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(limit, body)
                .await
                .unwrap_or_else(|_| panic!("test did not finish within {limit:?}"))
        })
}

/// The user manager of the rig; fails the test with instructions when it is not there.
async fn systemd() -> DbusSystemd {
    match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(addr) if !addr.is_empty() => {}
        _ => panic!("DBUS_SESSION_BUS_ADDRESS is not set; {RIG_HINT}"),
    }
    match DbusSystemd::connect_user().await {
        Ok(sd) => sd,
        Err(e) => panic!("{e} (tests/systemd_bus.rs needs the rig)"),
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/systemd")
}

/// The manager's persistent per-user unit directory, as the manager itself reports it
/// (`Manager.UnitPath`), so the test writes where that manager looks.
async fn user_unit_dir(sd: &DbusSystemd) -> PathBuf {
    let proxy = zbus::Proxy::new(
        sd.connection(),
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
    )
    .await
    .unwrap();
    let paths: Vec<String> = proxy.get_property("UnitPath").await.unwrap();
    let dir = paths
        .iter()
        .find(|p| p.ends_with("/.config/systemd/user"))
        .unwrap_or_else(|| panic!("no ~/.config/systemd/user in the manager's UnitPath {paths:?}"));
    PathBuf::from(dir)
}

enum Exec {
    /// Type=notify service that sends READY=1 and STATUS="ready <instance>", then sleeps.
    NotifyReady,
    /// A service whose process exits 1 before it is ready.
    Fail,
}

/// A uniquely named template unit installed for one test; removed (with its instances'
/// symlinks, after stopping its units) on drop.
struct TestTemplate {
    prefix: String,
    dir: PathBuf,
    path: PathBuf,
}

impl TestTemplate {
    async fn install(sd: &DbusSystemd, tag: &str, exec: Exec) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let prefix = format!("kafkatest-{tag}-{:x}{nanos:x}", std::process::id());
        let dir = user_unit_dir(sd).await;
        std::fs::create_dir_all(&dir).unwrap();
        let template = TestTemplate {
            path: dir.join(format!("{prefix}@.service")),
            prefix,
            dir,
        };
        template.write(&format!("kafkatest {tag}"), exec);
        template
    }

    fn write(&self, description: &str, exec: Exec) {
        let exec_start = match exec {
            Exec::NotifyReady => format!(
                "/bin/sh {} \"ready %i\"",
                fixtures().join("notify-ready.sh").display()
            ),
            Exec::Fail => format!("/bin/sh {}", fixtures().join("fail.sh").display()),
        };
        let text = std::fs::read_to_string(fixtures().join("kafkatest@.service.in"))
            .unwrap()
            .replace("@DESCRIPTION@", description)
            .replace("@EXEC_START@", &exec_start);
        std::fs::write(&self.path, text).unwrap();
    }

    fn instance(&self, name: &str) -> String {
        format!("{}@{name}.service", self.prefix)
    }

    fn pattern(&self) -> String {
        format!("{}@*", self.prefix)
    }
}

impl Drop for TestTemplate {
    fn drop(&mut self) {
        // Best effort, also when the test failed half-way: no units left running or failed,
        // no files left behind.
        let pattern = format!("{}@*.service", self.prefix);
        for args in [
            ["stop", pattern.as_str()],
            ["reset-failed", pattern.as_str()],
        ] {
            let _ = Command::new("systemctl")
                .arg("--user")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_file(&self.path);
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for wants in entries.flatten().filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".wants") || name.ends_with(".requires")
            }) {
                if let Ok(links) = std::fs::read_dir(wants.path()) {
                    for link in links.flatten() {
                        if link.file_name().to_string_lossy().starts_with(&self.prefix) {
                            let _ = std::fs::remove_file(link.path());
                        }
                    }
                }
            }
        }
        // Let the manager forget the removed units.
        let _ = Command::new("systemctl")
            .args(["--user", "daemon-reload"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn now_usec() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn refs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

async fn status(sd: &DbusSystemd, unit: &str) -> UnitStatus {
    sd.unit_status(unit)
        .await
        .unwrap_or_else(|e| panic!("status of {unit}: {e}"))
}

#[test]
fn template_instances_enable_start_restart_stop_disable() {
    run(Duration::from_secs(120), async {
        let sd = systemd().await;
        let t = TestTemplate::install(&sd, "life", Exec::NotifyReady).await;
        sd.reload().await.unwrap();

        let names: Vec<String> = ["orders:1", "orders:2", "payments-eu.v2:10"]
            .iter()
            .map(|i| t.instance(i))
            .collect();
        let units = refs(&names);

        // Enable: one symlink per instance, listed as enabled unit files.
        let changes = sd.enable(&units).await.unwrap();
        for name in &names {
            assert!(
                changes
                    .iter()
                    .any(|c| c.kind == "symlink" && c.path.ends_with(&format!("/{name}"))),
                "no symlink for {name} in {changes:?}"
            );
        }
        for name in &names {
            assert_eq!(sd.unit_file_state(name).await.unwrap(), "enabled", "{name}");
        }
        // systemd lists the template (now "indirect"), not its instances...
        let files = sd.list_unit_files(&[&t.pattern()]).await.unwrap();
        let template = files
            .iter()
            .find(|f| f.path == t.path.to_str().unwrap())
            .unwrap_or_else(|| panic!("template not in list_unit_files: {files:?}"));
        assert_eq!(template.state, "indirect", "{files:?}");
        // ...but after a reload the enabled instances are loaded (wanted by default.target),
        // so list_units finds them, still inactive.
        sd.reload().await.unwrap();
        let listed = sd.list_units(&[&t.pattern()]).await.unwrap();
        for name in &names {
            let u = listed
                .iter()
                .find(|u| &u.name == name)
                .unwrap_or_else(|| panic!("enabled {name} not loaded after reload: {listed:?}"));
            assert_eq!(
                (u.load_state.as_str(), u.active_state.as_str()),
                ("loaded", "inactive")
            );
        }

        // Start all three at once; each start returns once its job is gone.
        let started_at = now_usec();
        let outcomes = join_all(units.iter().map(|u| sd.start(u))).await;
        for (unit, outcome) in units.iter().zip(outcomes) {
            let outcome = outcome.unwrap();
            assert_eq!(outcome.unit, *unit);
            assert_eq!(outcome.action, JobAction::Start);
            assert_eq!(outcome.result, JobResult::Done, "{outcome:?}");
            outcome.check().unwrap();
        }

        // Statuses, concurrently and in order.
        let statuses = sd.statuses(&units).await;
        assert_eq!(statuses.len(), 3);
        let mut pids = Vec::new();
        for (name, st) in names.iter().zip(statuses) {
            let st = st.unwrap();
            let instance = name.split_once('@').unwrap().1.trim_end_matches(".service");
            assert_eq!(&st.name, name);
            assert_eq!(st.load_state, "loaded", "{st:?}");
            assert_eq!(
                (st.active_state.as_str(), st.sub_state.as_str()),
                ("active", "running"),
                "{st:?}"
            );
            assert!(st.is_active());
            assert_eq!(
                st.status_text.as_deref(),
                Some(format!("ready {instance}").as_str()),
                "the STATUS= the instance sent: {st:?}"
            );
            let pid = st.main_pid.unwrap_or_else(|| panic!("no main pid: {st:?}"));
            assert!(
                Path::new(&format!("/proc/{pid}")).exists(),
                "main pid {pid} is not running"
            );
            pids.push(pid);
            let memory = st
                .memory_current_bytes
                .unwrap_or_else(|| panic!("no MemoryCurrent (memory accounting): {st:?}"));
            assert!(memory > 0, "{st:?}");
            let entered = st.active_enter_timestamp_usec.unwrap();
            assert!(
                entered + 2_000_000 >= started_at && entered <= now_usec() + 1_000_000,
                "ActiveEnterTimestamp {entered} vs start {started_at}"
            );
            assert_eq!(st.result.as_deref(), Some("success"));
            assert_eq!(st.n_restarts, Some(0));
            assert_eq!(st.unit_file_state, "enabled", "{st:?}");
            assert_eq!(
                st.fragment_path.as_deref(),
                Some(t.path.to_str().unwrap()),
                "an instance is loaded from its template"
            );
            assert!(st.description.contains(instance), "{st:?}");
            assert!(!st.need_daemon_reload);
        }

        // list_units sees them loaded and running.
        let listed = sd.list_units(&[&t.pattern()]).await.unwrap();
        for name in &names {
            let u = listed
                .iter()
                .find(|u| &u.name == name)
                .unwrap_or_else(|| panic!("{name} not in list_units: {listed:?}"));
            assert_eq!(
                (
                    u.load_state.as_str(),
                    u.active_state.as_str(),
                    u.sub_state.as_str()
                ),
                ("loaded", "active", "running")
            );
        }

        // Restart: a new main process, still running and ready again.
        let outcome = sd.restart(units[0]).await.unwrap();
        assert_eq!(outcome.action, JobAction::Restart);
        assert_eq!(outcome.result, JobResult::Done, "{outcome:?}");
        let st = status(&sd, units[0]).await;
        assert!(st.is_active(), "{st:?}");
        let new_pid = st.main_pid.unwrap();
        assert_ne!(new_pid, pids[0], "restart kept main pid {new_pid}");
        assert_eq!(st.n_restarts, Some(0), "a manual restart is not counted");

        // Stop: inactive, no main process.
        for outcome in join_all(units.iter().map(|u| sd.stop(u))).await {
            let outcome = outcome.unwrap();
            assert_eq!(outcome.action, JobAction::Stop);
            assert_eq!(outcome.result, JobResult::Done, "{outcome:?}");
        }
        for st in sd.statuses(&units).await {
            let st = st.unwrap();
            assert_eq!(
                (st.active_state.as_str(), st.sub_state.as_str()),
                ("inactive", "dead"),
                "{st:?}"
            );
            assert_eq!(st.main_pid, None);
        }
        // Stopping a stopped unit is a job too, done at once.
        assert_eq!(sd.stop(units[1]).await.unwrap().result, JobResult::Done);

        // Disable: the symlinks go, nothing is enabled any more.
        let changes = sd.disable(&units).await.unwrap();
        assert_eq!(
            changes.iter().filter(|c| c.kind == "unlink").count(),
            3,
            "{changes:?}"
        );
        for name in &names {
            assert_eq!(
                sd.unit_file_state(name).await.unwrap(),
                "disabled",
                "{name}"
            );
        }
        let files = sd.list_unit_files(&[&t.pattern()]).await.unwrap();
        assert!(
            files
                .iter()
                .all(|f| f.state != "enabled" && f.state != "indirect"),
            "still enabled after disable: {files:?}"
        );
        sd.reload().await.unwrap();
        let st = status(&sd, units[2]).await;
        assert_eq!(st.unit_file_state, "disabled", "{st:?}");
    });
}

#[test]
fn reload_picks_up_a_new_and_a_changed_template() {
    run(Duration::from_secs(60), async {
        let sd = systemd().await;
        let t = TestTemplate::install(&sd, "reload", Exec::NotifyReady).await;
        let unit = t.instance("x:1");
        // Before the reload the manager may or may not have seen the new file; after it, the
        // instance loads from the template.
        sd.reload().await.unwrap();
        let st = status(&sd, &unit).await;
        assert_eq!(st.load_state, "loaded", "{st:?}");
        assert!(st.description.starts_with("kafkatest reload"), "{st:?}");

        // Change the template while an instance runs (a unit that is not running or
        // referenced is unloaded by systemd's GC and re-read on next use anyway): systemd
        // notices the file is newer, keeps the old definition, and a reload applies the new.
        sd.start(&unit).await.unwrap().check().unwrap();
        std::thread::sleep(Duration::from_millis(20)); // a distinct mtime
        t.write("kafkatest changed", Exec::NotifyReady);
        let st = status(&sd, &unit).await;
        // No other reload can happen meanwhile (the lock), so the old definition is still in.
        assert!(
            st.need_daemon_reload && st.description.starts_with("kafkatest reload"),
            "{st:?}"
        );
        sd.reload().await.unwrap();
        let st = status(&sd, &unit).await;
        assert!(!st.need_daemon_reload, "{st:?}");
        assert!(st.description.starts_with("kafkatest changed"), "{st:?}");
        assert!(st.is_active(), "a reload does not restart: {st:?}");
        sd.stop(&unit).await.unwrap().check().unwrap();

        // A unit that does not exist is a status, not an error.
        let missing = format!("{}-missing@1.service", t.prefix);
        let st = status(&sd, &missing).await;
        assert_eq!(st.load_state, "not-found", "{st:?}");
        assert_eq!(st.active_state, "inactive");
    });
}

#[test]
fn a_failing_start_reports_a_failed_job_and_the_exit_code() {
    run(Duration::from_secs(60), async {
        let sd = systemd().await;
        let t = TestTemplate::install(&sd, "fail", Exec::Fail).await;
        sd.reload().await.unwrap();
        let unit = t.instance("broken:1");

        let outcome = sd.start(&unit).await.unwrap();
        assert_eq!(outcome.result, JobResult::Failed, "{outcome:?}");
        assert_eq!(outcome.unit_result.as_deref(), Some("exit-code"));
        assert!(!outcome.succeeded());
        let err = outcome.check().unwrap_err();
        assert!(matches!(err, SystemdError::JobFailed { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "unit {unit} failed to start: result=exit-code (see `journalctl --user -u {unit}`)"
            )
        );

        let st = status(&sd, &unit).await;
        assert!(st.is_failed(), "{st:?}");
        assert_eq!(st.sub_state, "failed");
        assert_eq!(st.result.as_deref(), Some("exit-code"));
        assert_eq!(st.exec_main_status, Some(1));
        assert_eq!(st.main_pid, None);

        sd.reset_failed(&unit).await.unwrap();
        let st = status(&sd, &unit).await;
        assert_eq!(st.active_state, "inactive", "{st:?}");
        assert_eq!(st.result.as_deref(), Some("success"));
    });
}

#[test]
fn unknown_units_and_templates_are_refused_clearly() {
    run(Duration::from_secs(60), async {
        let sd = systemd().await;
        let t = TestTemplate::install(&sd, "refuse", Exec::NotifyReady).await;
        sd.reload().await.unwrap();

        let missing = "kafkatest-no-such-unit-3f9a.service";
        let err = sd.start(missing).await.unwrap_err();
        assert!(err.is_no_such_unit(), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("systemd refused to start {missing}: "))
                && msg.contains("not found"),
            "{msg}"
        );

        let err = sd.stop(missing).await.unwrap_err();
        assert!(err.is_no_such_unit(), "{err:?}");

        // A bare template cannot be started; enabling a missing file is refused.
        let template = format!("{}@.service", t.prefix);
        let err = sd.start(&template).await.unwrap_err();
        assert!(matches!(err, SystemdError::Refused { .. }), "{err:?}");
        let err = sd.enable(&[missing]).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("systemd refused to enable {missing}: ")),
            "{err}"
        );
    });
}

#[test]
fn object_paths_computed_locally_match_systemds() {
    run(Duration::from_secs(60), async {
        let sd = systemd().await;
        let t = TestTemplate::install(&sd, "path", Exec::NotifyReady).await;
        sd.reload().await.unwrap();
        for unit in [
            t.instance("orders:1"),
            t.instance("a.b-c_d:42"),
            "dbus.service".to_string(),
            "-.slice".to_string(),
        ] {
            assert_eq!(
                sd.load_unit_path(&unit).await.unwrap(),
                unit_object_path(&unit),
                "{unit}"
            );
        }
    });
}

/// Starts and stops 20 instances one after another on `sd`.
async fn side_jobs(sd: &DbusSystemd, t: &TestTemplate, tag: &str) {
    for i in 0..20 {
        let unit = t.instance(&format!("side-{tag}:{i}"));
        sd.start(&unit).await.unwrap().check().unwrap();
        sd.stop(&unit).await.unwrap().check().unwrap();
    }
}

#[test]
fn statuses_of_a_hundred_running_units() {
    run(Duration::from_secs(180), async {
        let sd = systemd().await;
        let t = TestTemplate::install(&sd, "many", Exec::NotifyReady).await;
        sd.reload().await.unwrap();
        let names: Vec<String> = (0..100).map(|i| t.instance(&format!("load:{i}"))).collect();
        let units = refs(&names);

        // While the 100 start (and later stop) on one connection, a second connection runs
        // jobs one after another: every JobRemoved of the burst also reaches its job waits,
        // which must not stall its method replies (zbus stops reading a connection while a
        // signal stream's queue is full, so a wait must keep draining its stream during the
        // call). Without that, this hung about one run in three.
        let other = systemd().await;
        let started = Instant::now();
        let (outcomes, ()) = tokio::join!(
            join_all(units.iter().map(|u| sd.start(u))),
            side_jobs(&other, &t, "a")
        );
        for outcome in outcomes {
            assert_eq!(outcome.unwrap().result, JobResult::Done);
        }
        eprintln!("started 100 units in {:?}", started.elapsed());

        let _ = sd.statuses(&units).await; // warm up the connection
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let t0 = Instant::now();
            let statuses = sd.statuses(&units).await;
            let took = t0.elapsed();
            best = best.min(took);
            eprintln!("statuses of 100 running units: {took:?}");
            for (name, st) in names.iter().zip(statuses) {
                let st = st.unwrap();
                assert_eq!(&st.name, name);
                assert!(st.is_active() && st.main_pid.is_some(), "{st:?}");
            }
        }
        // How long it takes is a benchmark's question (benches/), not a test's: a bound here
        // would only measure how busy the CI machine is.
        eprintln!("statuses of 100 running units: best of 3 {best:?}");

        let stopped = Instant::now();
        let (outcomes, ()) = tokio::join!(
            join_all(units.iter().map(|u| sd.stop(u))),
            side_jobs(&other, &t, "b")
        );
        for outcome in outcomes {
            assert_eq!(outcome.unwrap().result, JobResult::Done);
        }
        eprintln!("stopped 100 units in {:?}", stopped.elapsed());
    });
}

#[test]
fn a_missing_bus_says_how_to_start_the_rig() {
    run(Duration::from_secs(30), async {
        let err = DbusSystemd::connect_address("unix:path=/nonexistent/kafkactl/bus", Scope::User)
            .await
            .unwrap_err();
        assert!(err.is_unreachable(), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(
                "cannot reach the systemd user manager at unix:path=/nonexistent/kafkactl/bus"
            ) && msg.contains("scripts/systemd-user.sh start"),
            "{msg}"
        );
    });
}

#[test]
fn a_bus_without_a_manager_says_so() {
    // A private dbus-daemon with nothing on it.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("bus");
    let address = format!("unix:path={}", socket.display());
    let mut daemon = Command::new("dbus-daemon")
        .args([
            "--session",
            "--nofork",
            "--nopidfile",
            "--address",
            &address,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("dbus-daemon (Debian package 'dbus') is needed for this test");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "dbus-daemon did not create {socket:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    run(Duration::from_secs(30), async {
        let err = DbusSystemd::connect_address(&address, Scope::User)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("no systemd manager (org.freedesktop.systemd1) is on it")
                && msg.contains("scripts/systemd-user.sh start"),
            "{msg}"
        );
    });
    let _ = daemon.kill();
    let _ = daemon.wait();
}
