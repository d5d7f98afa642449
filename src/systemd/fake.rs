//! An in-memory systemd manager for unit tests: units with states, the consumer template
//! installed or not, enablement, jobs that succeed or fail on purpose, and a host that goes
//! away after a number of calls. Every call is written to a log (shared between fakes when
//! a test wants one order across hosts), so tests can assert what was asked and in what
//! order, without root, D-Bus or systemd.

use super::{
    JobAction, JobOutcome, JobResult, Result, Scope, SystemdError, SystemdManager, UnitFile,
    UnitFileChange, UnitStatus, UnitSummary,
};
use crate::units::CONSUMER_TEMPLATE;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// The calls made to fakes, in order, as `"<host> <call> <unit>"`.
pub(crate) type CallLog = Arc<Mutex<Vec<String>>>;

/// One unit the fake knows.
#[derive(Debug, Clone, Default)]
struct FakeUnit {
    active_state: String,
    sub_state: String,
    enabled: bool,
    result: String,
    restarts: u32,
    main_pid: u32,
}

#[derive(Debug, Default)]
struct State {
    units: BTreeMap<String, FakeUnit>,
    template_installed: bool,
    failing: BTreeSet<String>,
    /// Calls left before the manager stops answering; `None`: never.
    calls_left: Option<u32>,
    reloads: u32,
    next_pid: u32,
}

/// An in-memory [`SystemdManager`].
#[derive(Debug, Clone)]
pub(crate) struct FakeSystemd {
    name: String,
    state: Arc<Mutex<State>>,
    log: CallLog,
    jobs: Arc<AtomicU32>,
}

impl FakeSystemd {
    /// A manager named `name` in the log, with the consumer template installed and no units.
    pub(crate) fn new(name: &str) -> FakeSystemd {
        FakeSystemd::with_log(name, CallLog::default())
    }

    /// Like [`FakeSystemd::new`], writing to a log shared with other fakes.
    pub(crate) fn with_log(name: &str, log: CallLog) -> FakeSystemd {
        FakeSystemd {
            name: name.to_string(),
            state: Arc::new(Mutex::new(State {
                template_installed: true,
                next_pid: 1000,
                ..State::default()
            })),
            log,
            jobs: Arc::new(AtomicU32::new(0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake state")
    }

    /// Removes the consumer template (as on a host where `install-units` never ran).
    pub(crate) fn without_template(self) -> Self {
        self.lock().template_installed = false;
        self
    }

    /// Adds a unit, enabled or not, running or not.
    pub(crate) fn with_unit(self, unit: &str, enabled: bool, active: bool) -> Self {
        {
            let mut state = self.lock();
            let pid = if active { state.next_pid } else { 0 };
            state.next_pid += 1;
            state.units.insert(
                unit.to_string(),
                FakeUnit {
                    active_state: if active { "active" } else { "inactive" }.into(),
                    sub_state: if active { "running" } else { "dead" }.into(),
                    enabled,
                    result: "success".into(),
                    restarts: 0,
                    main_pid: pid,
                },
            );
        }
        self
    }

    /// Makes every start and restart of `unit` fail (`result=exit-code`, unit `failed`).
    pub(crate) fn failing(self, unit: &str) -> Self {
        self.lock().failing.insert(unit.to_string());
        self
    }

    /// After `calls` more calls, the manager stops answering (the host went away).
    pub(crate) fn lost_after(&self, calls: u32) {
        self.lock().calls_left = Some(calls);
    }

    /// The calls made so far to every fake sharing this one's log.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.log.lock().expect("fake log").clone()
    }

    /// How often the manager was reloaded.
    pub(crate) fn reloads(&self) -> u32 {
        self.lock().reloads
    }

    /// `(active_state, enabled)` of a unit; `None` when the fake does not know it.
    pub(crate) fn unit(&self, unit: &str) -> Option<(String, bool)> {
        self.lock()
            .units
            .get(unit)
            .map(|u| (u.active_state.clone(), u.enabled))
    }

    /// Logs a call, or fails it when the manager is gone.
    fn call(&self, what: &str, unit: &str) -> Result<()> {
        let mut state = self.lock();
        if let Some(left) = state.calls_left.as_mut() {
            if *left == 0 {
                return Err(SystemdError::Unreachable {
                    scope: Scope::System,
                    address: self.name.clone(),
                    reason: "the host went away".into(),
                    hint: String::new(),
                });
            }
            *left -= 1;
        }
        drop(state);
        let line = format!("{} {what} {unit}", self.name)
            .trim_end()
            .to_string();
        self.log.lock().expect("fake log").push(line);
        Ok(())
    }

    fn no_such_unit(&self, action: &str, unit: &str) -> SystemdError {
        SystemdError::Refused {
            action: action.into(),
            unit: unit.into(),
            error_name: "org.freedesktop.systemd1.NoSuchUnit".into(),
            message: format!("Unit {unit} not found."),
        }
    }

    /// A start or restart: the unit runs, unless it is one of the failing ones.
    fn run_job(&self, action: JobAction, unit: &str) -> Result<JobOutcome> {
        self.call(&action.to_string(), unit)?;
        let mut state = self.lock();
        if !state.template_installed {
            return Err(self.no_such_unit(&action.to_string(), unit));
        }
        let failing = state.failing.contains(unit);
        let pid = state.next_pid;
        state.next_pid += 1;
        let entry = state.units.entry(unit.to_string()).or_default();
        let result = if failing {
            entry.active_state = "failed".into();
            entry.sub_state = "failed".into();
            entry.result = "exit-code".into();
            entry.main_pid = 0;
            JobResult::Failed
        } else {
            entry.active_state = "active".into();
            entry.sub_state = "running".into();
            entry.result = "success".into();
            entry.main_pid = pid;
            JobResult::Done
        };
        Ok(self.outcome(unit, action, result, failing))
    }

    fn outcome(
        &self,
        unit: &str,
        action: JobAction,
        result: JobResult,
        failed: bool,
    ) -> JobOutcome {
        JobOutcome {
            unit: unit.to_string(),
            action,
            job_id: self.jobs.fetch_add(1, Ordering::Relaxed) + 1,
            result,
            unit_result: failed.then(|| "exit-code".to_string()),
            scope: Scope::System,
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.len() >= head.len() + tail.len() && name.starts_with(head) && {
                let rest = &name[head.len()..];
                (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob(tail, &rest[i..]))
            }
        }
    }
}

impl SystemdManager for FakeSystemd {
    async fn check_manager(&self) -> Result<()> {
        self.call("ping", "")
    }

    async fn list_units(&self, patterns: &[&str]) -> Result<Vec<UnitSummary>> {
        self.call("list-units", "")?;
        Ok(self
            .lock()
            .units
            .iter()
            .filter(|(name, _)| patterns.is_empty() || patterns.iter().any(|p| glob(p, name)))
            .map(|(name, u)| UnitSummary {
                name: name.clone(),
                description: String::new(),
                load_state: "loaded".into(),
                active_state: u.active_state.clone(),
                sub_state: u.sub_state.clone(),
            })
            .collect())
    }

    async fn list_unit_files(&self, patterns: &[&str]) -> Result<Vec<UnitFile>> {
        self.call("list-unit-files", "")?;
        let state = self.lock();
        Ok(state
            .template_installed
            .then(|| UnitFile {
                name: CONSUMER_TEMPLATE.into(),
                path: format!("/etc/systemd/system/{CONSUMER_TEMPLATE}"),
                state: "indirect".into(),
            })
            .into_iter()
            .filter(|f| patterns.is_empty() || patterns.iter().any(|p| glob(p, &f.name)))
            .collect())
    }

    async fn unit_file_state(&self, unit: &str) -> Result<String> {
        self.call("file-state", unit)?;
        let state = self.lock();
        if !state.template_installed {
            return Err(SystemdError::Refused {
                action: "read the file state of".into(),
                unit: unit.into(),
                error_name: "org.freedesktop.DBus.Error.FileNotFound".into(),
                message: "No such file or directory".into(),
            });
        }
        let enabled = state.units.get(unit).is_some_and(|u| u.enabled);
        Ok(if unit == CONSUMER_TEMPLATE {
            "indirect"
        } else if enabled {
            "enabled"
        } else {
            "disabled"
        }
        .to_string())
    }

    async fn start(&self, unit: &str) -> Result<JobOutcome> {
        self.run_job(JobAction::Start, unit)
    }

    async fn stop(&self, unit: &str) -> Result<JobOutcome> {
        self.call("stop", unit)?;
        let mut state = self.lock();
        if let Some(u) = state.units.get_mut(unit) {
            if u.active_state != "failed" {
                u.active_state = "inactive".into();
                u.sub_state = "dead".into();
            }
            u.main_pid = 0;
        }
        drop(state);
        Ok(self.outcome(unit, JobAction::Stop, JobResult::Done, false))
    }

    async fn restart(&self, unit: &str) -> Result<JobOutcome> {
        self.run_job(JobAction::Restart, unit)
    }

    async fn enable(&self, units: &[&str]) -> Result<Vec<UnitFileChange>> {
        self.call("enable", &units.join(","))?;
        let mut state = self.lock();
        if !state.template_installed {
            return Err(self.no_such_unit("enable", &units.join(", ")));
        }
        Ok(units
            .iter()
            .map(|unit| {
                let entry = state.units.entry(unit.to_string()).or_insert(FakeUnit {
                    active_state: "inactive".into(),
                    sub_state: "dead".into(),
                    ..FakeUnit::default()
                });
                entry.enabled = true;
                UnitFileChange {
                    kind: "symlink".into(),
                    path: format!("/etc/systemd/system/multi-user.target.wants/{unit}"),
                    source: format!("/etc/systemd/system/{CONSUMER_TEMPLATE}"),
                }
            })
            .collect())
    }

    async fn disable(&self, units: &[&str]) -> Result<Vec<UnitFileChange>> {
        self.call("disable", &units.join(","))?;
        let mut state = self.lock();
        Ok(units
            .iter()
            .filter_map(|unit| {
                let entry = state.units.get_mut(*unit)?;
                entry.enabled = false;
                Some(UnitFileChange {
                    kind: "unlink".into(),
                    path: format!("/etc/systemd/system/multi-user.target.wants/{unit}"),
                    source: String::new(),
                })
            })
            .collect())
    }

    async fn reload(&self) -> Result<()> {
        self.call("reload", "")?;
        self.lock().reloads += 1;
        Ok(())
    }

    async fn reset_failed(&self, unit: &str) -> Result<()> {
        self.call("reset-failed", unit)?;
        let mut state = self.lock();
        if let Some(u) = state.units.get_mut(unit) {
            if u.active_state == "failed" {
                u.active_state = "inactive".into();
                u.sub_state = "dead".into();
            }
            u.restarts = 0;
        }
        Ok(())
    }

    async fn unit_status(&self, unit: &str) -> Result<UnitStatus> {
        self.call("status", unit)?;
        let state = self.lock();
        Ok(match state.units.get(unit) {
            Some(u) => UnitStatus {
                name: unit.into(),
                load_state: "loaded".into(),
                active_state: u.active_state.clone(),
                sub_state: u.sub_state.clone(),
                unit_file_state: if u.enabled { "enabled" } else { "disabled" }.into(),
                main_pid: (u.main_pid != 0).then_some(u.main_pid),
                n_restarts: Some(u.restarts),
                result: Some(u.result.clone()),
                ..UnitStatus::default()
            },
            None => UnitStatus {
                name: unit.into(),
                load_state: "not-found".into(),
                active_state: "inactive".into(),
                sub_state: "dead".into(),
                ..UnitStatus::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_systemd_patterns() {
        assert!(glob(
            "kafka-consumer@*.service",
            "kafka-consumer@a:1.service"
        ));
        assert!(!glob("kafka-consumer@*.service", "kafka-proxy.service"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXbY"));
    }

    #[tokio::test]
    async fn jobs_change_states_and_failing_units_fail() {
        let sd = FakeSystemd::new("h").failing("x@2.service");
        assert!(sd.start("x@1.service").await.unwrap().succeeded());
        assert_eq!(sd.unit("x@1.service").unwrap().0, "active");
        let failed = sd.restart("x@2.service").await.unwrap();
        assert!(!failed.succeeded());
        assert!(failed
            .check()
            .unwrap_err()
            .to_string()
            .contains("exit-code"));
        sd.stop("x@1.service").await.unwrap();
        assert_eq!(sd.unit("x@1.service").unwrap().0, "inactive");
        assert_eq!(
            sd.calls(),
            [
                "h start x@1.service",
                "h restart x@2.service",
                "h stop x@1.service"
            ]
        );
    }

    #[tokio::test]
    async fn a_lost_host_stops_answering() {
        let sd = FakeSystemd::new("h");
        sd.lost_after(1);
        assert!(sd.check_manager().await.is_ok());
        let err = sd.check_manager().await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
    }
}
