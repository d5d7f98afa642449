//! The seam between kafkactl's control plane and systemd.
//!
//! Everything the control plane asks of systemd (list units and unit files, start/stop/restart
//! and wait for the job, enable/disable, daemon-reload, read a unit's status) goes through one
//! small trait, [`SystemdManager`]. Its one real implementation, [`DbusSystemd`], needs nothing
//! but a [`zbus::Connection`] to a bus on which `org.freedesktop.systemd1` answers: the local
//! system bus, a user's session bus, or a connection carried over an SSH channel to
//! `systemd-stdio-bridge` on a remote host. Plan/apply code is generic over the trait, so its
//! tests can use an in-memory fake.
//!
//! The trait's methods return `impl Future + Send` rather than being plain `async fn`: callers
//! are generic (`S: SystemdManager`), no boxing or `dyn` is needed, and the `Send` bound lets
//! those futures be spawned on tokio's multi-threaded runtime for the per-host fan-out.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafkactl::testing::SystemdError> {
//! use kafkactl::testing::{DbusSystemd, SystemdManager};
//! let sd = DbusSystemd::connect_user().await?;
//! let outcome = sd.start("kafka-consumer@orders:1.service").await?.check()?;
//! let status = sd.unit_status(&outcome.unit).await?;
//! println!("{} is {} (pid {:?})", status.name, status.active_state, status.main_pid);
//! # Ok(()) }
//! ```

mod dbus;
#[cfg(test)]
pub(crate) mod fake;
mod path;

use std::fmt;
use std::future::Future;

use futures::StreamExt;

pub use dbus::DbusSystemd;
pub use path::unit_object_path;

/// How many units [`SystemdManager::statuses`] asks about at once. Each unit costs two
/// `Properties.GetAll` calls in flight; the system bus allows 128 pending replies per
/// connection by default, so this stays well under it.
pub const STATUS_CONCURRENCY: usize = 32;

/// Results of the systemd access layer.
pub type Result<T, E = SystemdError> = std::result::Result<T, E>;

/// Which systemd manager a connection talks to: it only changes the hints in error messages
/// (`journalctl --user -u` vs `journalctl -u`, how to start a missing manager).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The system manager (PID 1), on the system bus.
    System,
    /// A per-user manager (`systemd --user`), on that user's session bus.
    User,
}

impl Scope {
    /// `journalctl` arguments that show this scope's unit logs, before `-u UNIT`.
    pub fn journalctl(self) -> &'static str {
        match self {
            Scope::System => "journalctl",
            Scope::User => "journalctl --user",
        }
    }

    /// `systemctl` with this scope's flag.
    pub fn systemctl(self) -> &'static str {
        match self {
            Scope::System => "systemctl",
            Scope::User => "systemctl --user",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::System => "system",
            Scope::User => "user",
        })
    }
}

/// One loaded unit as `ListUnitsByPatterns` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSummary {
    /// Unit name, e.g. `kafka-consumer@orders:1.service`.
    pub name: String,
    /// The unit's `Description=`.
    pub description: String,
    /// `loaded`, `not-found`, `masked`, `error`, ...
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, ...
    pub active_state: String,
    /// Type-specific state, e.g. `running`, `dead`, `auto-restart`.
    pub sub_state: String,
}

/// One unit file as `ListUnitFilesByPatterns` reports it (a template appears as itself, not
/// as its enabled instances: see [`SystemdManager::list_unit_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// Unit name (the last component of `path`), e.g. `kafka-consumer@.service`.
    pub name: String,
    /// Where systemd found it.
    pub path: String,
    /// `enabled`, `disabled`, `static`, `masked`, `indirect`, `generated`, ...
    pub state: String,
}

/// One change that enabling or disabling made on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFileChange {
    /// `symlink` or `unlink` (systemd may report others, e.g. `masked`).
    pub kind: String,
    /// The symlink created or removed.
    pub path: String,
    /// What the symlink points at (empty for `unlink`).
    pub source: String,
}

/// The job a [`JobOutcome`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobAction {
    /// `StartUnit`.
    Start,
    /// `StopUnit`.
    Stop,
    /// `RestartUnit`.
    Restart,
}

impl fmt::Display for JobAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobAction::Start => "start",
            JobAction::Stop => "stop",
            JobAction::Restart => "restart",
        })
    }
}

/// How a systemd job ended: the `result` of its `JobRemoved` signal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobResult {
    /// `done`: the job succeeded.
    Done,
    /// `canceled`: another job replaced it, or it was canceled.
    Canceled,
    /// `timeout`: the job's timeout hit.
    Timeout,
    /// `failed`: the unit failed (its `Result` says how, e.g. `exit-code`).
    Failed,
    /// `dependency`: a unit this one requires failed.
    Dependency,
    /// `skipped`: the job did not apply to the unit's state.
    Skipped,
    /// Any other result string a future systemd may send.
    Other(String),
}

impl JobResult {
    /// Parses systemd's result string.
    pub fn parse(s: &str) -> Self {
        match s {
            "done" => JobResult::Done,
            "canceled" => JobResult::Canceled,
            "timeout" => JobResult::Timeout,
            "failed" => JobResult::Failed,
            "dependency" => JobResult::Dependency,
            "skipped" => JobResult::Skipped,
            other => JobResult::Other(other.to_string()),
        }
    }

    /// systemd's result string.
    pub fn as_str(&self) -> &str {
        match self {
            JobResult::Done => "done",
            JobResult::Canceled => "canceled",
            JobResult::Timeout => "timeout",
            JobResult::Failed => "failed",
            JobResult::Dependency => "dependency",
            JobResult::Skipped => "skipped",
            JobResult::Other(s) => s,
        }
    }
}

impl fmt::Display for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a start/stop/restart came to, known once systemd removed the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// The unit the job was for, as the caller named it.
    pub unit: String,
    /// Start, stop or restart.
    pub action: JobAction,
    /// systemd's job id.
    pub job_id: u32,
    /// How the job ended.
    pub result: JobResult,
    /// When the job did not succeed: the unit's own `Result` (`exit-code`, `signal`, `timeout`,
    /// `core-dump`, ...), read right after the job ended; `None` on success or for non-services.
    pub unit_result: Option<String>,
    /// The manager's scope, for the hint in [`JobOutcome::check`]'s error.
    pub scope: Scope,
}

impl JobOutcome {
    /// Did the job succeed (`done`)?
    pub fn succeeded(&self) -> bool {
        self.result == JobResult::Done
    }

    /// The outcome itself when the job succeeded, else [`SystemdError::JobFailed`], whose
    /// message says what failed and where to look, e.g. ``unit kafka-consumer@x:1.service
    /// failed to start: result=exit-code (see `journalctl --user -u ...`)``.
    pub fn check(self) -> Result<Self> {
        if self.succeeded() {
            return Ok(self);
        }
        let result = match &self.unit_result {
            Some(r) if r != "success" && !r.is_empty() => r.clone(),
            _ => self.result.to_string(),
        };
        Err(SystemdError::JobFailed {
            hint: format!("{} -u {}", self.scope.journalctl(), self.unit),
            unit: self.unit,
            action: self.action,
            job_result: self.result,
            result,
        })
    }
}

/// A unit's state as the control plane's `status` shows it: read with one
/// `Properties.GetAll` for the `Unit` interface and one for the `Service` interface.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitStatus {
    /// The unit's name (its `Id`).
    pub name: String,
    /// `Description=`.
    pub description: String,
    /// `loaded`, `not-found`, `masked`, `error`, ...
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`.
    pub active_state: String,
    /// Type-specific state, e.g. `running`, `dead`, `auto-restart`, `failed`.
    pub sub_state: String,
    /// `enabled`, `disabled`, `static`, ... (systemd caches it: reload after enabling).
    pub unit_file_state: String,
    /// The unit file it was loaded from (the template's for an instance); `None` when none.
    pub fragment_path: Option<String>,
    /// The unit file changed on disk since it was loaded: a daemon-reload is due.
    pub need_daemon_reload: bool,
    /// When the unit last entered `active`, in microseconds since the Unix epoch.
    pub active_enter_timestamp_usec: Option<u64>,
    /// The main process (services only; `None` when not running).
    pub main_pid: Option<u32>,
    /// Memory used by the unit's cgroup in bytes; `None` when accounting is unavailable.
    pub memory_current_bytes: Option<u64>,
    /// CPU time used by the unit's cgroup in nanoseconds; `None` when unavailable.
    pub cpu_usage_nsec: Option<u64>,
    /// How often systemd restarted the service automatically (`Restart=`); manual restarts
    /// do not count.
    pub n_restarts: Option<u32>,
    /// The last `STATUS=` text the service sent with sd_notify; `None` when it sent none.
    pub status_text: Option<String>,
    /// The service's `Result`: `success`, `exit-code`, `signal`, `timeout`, `core-dump`, ...
    pub result: Option<String>,
    /// Exit status (or signal number) of the last main process.
    pub exec_main_status: Option<i32>,
}

impl UnitStatus {
    /// Is the unit `active`?
    pub fn is_active(&self) -> bool {
        self.active_state == "active"
    }

    /// Is the unit `failed`?
    pub fn is_failed(&self) -> bool {
        self.active_state == "failed"
    }
}

/// What can go wrong talking to systemd. Every message names the unit and says what to do
/// where there is something to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SystemdError {
    /// No bus at the address, or no systemd manager on it.
    #[error("cannot reach the systemd {scope} manager at {address}: {reason}. {hint}")]
    Unreachable {
        /// Which manager was wanted.
        scope: Scope,
        /// The bus address tried.
        address: String,
        /// What went wrong.
        reason: String,
        /// What to do about it.
        hint: String,
    },
    /// systemd refused the request (unknown unit, bad name, no `[Install]` section, denied, ...).
    #[error("systemd refused to {action} {unit}: {message}")]
    Refused {
        /// What was asked (`start`, `enable`, `read the status of`, ...).
        action: String,
        /// The unit(s) concerned.
        unit: String,
        /// The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`.
        error_name: String,
        /// systemd's own message.
        message: String,
    },
    /// A job ended but did not succeed (made by [`JobOutcome::check`]).
    #[error("unit {unit} failed to {action}: result={result} (see `{hint}`)")]
    JobFailed {
        /// The unit.
        unit: String,
        /// Start, stop or restart.
        action: JobAction,
        /// The job's result.
        job_result: JobResult,
        /// The unit's `Result` when it says more than the job's, else the job's result.
        result: String,
        /// The command that shows the unit's log.
        hint: String,
    },
    /// systemd did not finish the job in time (it may still be running).
    #[error(
        "gave up after {secs} s waiting for systemd to {action} {unit} (job {job}); the job may \
         still be running: check `{systemctl} list-jobs`"
    )]
    JobTimeout {
        /// The unit.
        unit: String,
        /// Start, stop or restart.
        action: JobAction,
        /// The job's object path.
        job: String,
        /// How long we waited.
        secs: u64,
        /// `systemctl` or `systemctl --user`.
        systemctl: &'static str,
    },
    /// The bus connection went away while waiting for a job.
    #[error(
        "lost the connection to systemd while waiting for it to {action} {unit}; the job may \
         still be running"
    )]
    Disconnected {
        /// The unit.
        unit: String,
        /// Start, stop or restart.
        action: JobAction,
    },
    /// Any other D-Bus failure.
    #[error("D-Bus call {call} to systemd failed: {source}")]
    Bus {
        /// The method called.
        call: &'static str,
        /// zbus's error (boxed: it is large).
        #[source]
        source: Box<zbus::Error>,
    },
}

impl SystemdError {
    /// Did systemd say the unit does not exist / is not loaded (`NoSuchUnit`)? Useful to treat
    /// "stop a unit that is already gone" as done.
    pub fn is_no_such_unit(&self) -> bool {
        matches!(self, SystemdError::Refused { error_name, .. }
            if error_name == "org.freedesktop.systemd1.NoSuchUnit")
    }

    /// Is this about reaching the manager at all (rather than about one unit)?
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SystemdError::Unreachable { .. } | SystemdError::Disconnected { .. }
        )
    }
}

/// Everything kafkactl asks of a systemd manager. Implemented over D-Bus by [`DbusSystemd`];
/// generic code takes `S: SystemdManager` so that tests can substitute a fake.
///
/// Unit names are full names with their suffix (`kafka-consumer@orders:1.service`).
pub trait SystemdManager: Send + Sync {
    /// Checks that a systemd manager answers (owns `org.freedesktop.systemd1` on the bus):
    /// [`SystemdError::Unreachable`] when not.
    fn check_manager(&self) -> impl Future<Output = Result<()>> + Send;

    /// Loaded units whose names match any of the glob `patterns` (all loaded units when empty),
    /// in any state (`ListUnitsByPatterns`). Units that are not loaded are not listed: use
    /// [`SystemdManager::list_unit_files`] for what is installed/enabled.
    fn list_units(
        &self,
        patterns: &[&str],
    ) -> impl Future<Output = Result<Vec<UnitSummary>>> + Send;

    /// Unit files whose names match any of the glob `patterns` (all when empty), with their
    /// enablement state (`ListUnitFilesByPatterns`).
    ///
    /// systemd (252, Debian 12) lists a template only as itself (`foo@.service`, state
    /// `indirect` once an instance is enabled), NOT its enabled instances. To find enabled
    /// instances: [`SystemdManager::reload`], then [`SystemdManager::list_units`] (enabled
    /// instances are loaded because their target wants them) and
    /// [`SystemdManager::unit_file_state`] for each.
    fn list_unit_files(
        &self,
        patterns: &[&str],
    ) -> impl Future<Output = Result<Vec<UnitFile>>> + Send;

    /// The enablement state of one unit file or template instance, read from disk
    /// (`GetUnitFileState`, no reload needed): `enabled`, `disabled`, `static`, `indirect`,
    /// `masked`, ...; an instance of an installed template that is not enabled is `disabled`.
    /// A unit with no unit file at all is a [`SystemdError::Refused`] ("No such file or
    /// directory").
    fn unit_file_state(&self, unit: &str) -> impl Future<Output = Result<String>> + Send;

    /// Starts `unit` (job mode `replace`) and waits until systemd removes the job.
    /// `Ok` carries the job's result whatever it was; use [`JobOutcome::check`] to turn a
    /// failed job into an error. `Err` means the job could not be queued or waited for.
    fn start(&self, unit: &str) -> impl Future<Output = Result<JobOutcome>> + Send;

    /// Stops `unit` and waits for the job, like [`SystemdManager::start`].
    fn stop(&self, unit: &str) -> impl Future<Output = Result<JobOutcome>> + Send;

    /// Restarts `unit` (starts it if stopped) and waits for the job, like
    /// [`SystemdManager::start`].
    fn restart(&self, unit: &str) -> impl Future<Output = Result<JobOutcome>> + Send;

    /// Enables unit files persistently (`EnableUnitFiles`, runtime=false, force=true) and
    /// returns the symlinks made. Like `systemctl enable --no-reload`: call
    /// [`SystemdManager::reload`] afterwards for `UnitFileState` to show it.
    fn enable(&self, units: &[&str]) -> impl Future<Output = Result<Vec<UnitFileChange>>> + Send;

    /// Disables unit files (`DisableUnitFiles`, runtime=false) and returns the symlinks
    /// removed. Does not stop anything.
    fn disable(&self, units: &[&str]) -> impl Future<Output = Result<Vec<UnitFileChange>>> + Send;

    /// daemon-reload (`Manager.Reload`): re-reads all unit files; returns once done.
    fn reload(&self) -> impl Future<Output = Result<()>> + Send;

    /// Clears a unit's `failed` state and its restart counter (`ResetFailedUnit`).
    fn reset_failed(&self, unit: &str) -> impl Future<Output = Result<()>> + Send;

    /// The status of one unit. A unit that does not exist comes back with
    /// `load_state == "not-found"`, not as an error.
    fn unit_status(&self, unit: &str) -> impl Future<Output = Result<UnitStatus>> + Send;

    /// The statuses of many units, in the order given, at most [`STATUS_CONCURRENCY`] in
    /// flight at once. One unit's error does not hide the others'.
    fn statuses(&self, units: &[&str]) -> impl Future<Output = Vec<Result<UnitStatus>>> + Send {
        async move {
            // Futures are lazy: building them all up front sends nothing yet.
            let lookups: Vec<_> = units.iter().map(|unit| self.unit_status(unit)).collect();
            futures::stream::iter(lookups)
                .buffered(STATUS_CONCURRENCY)
                .collect()
                .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: JobResult, unit_result: Option<&str>) -> JobOutcome {
        JobOutcome {
            unit: "kafka-consumer@x:1.service".into(),
            action: JobAction::Start,
            job_id: 7,
            result,
            unit_result: unit_result.map(str::to_string),
            scope: Scope::User,
        }
    }

    #[test]
    fn job_results_round_trip() {
        for s in [
            "done",
            "canceled",
            "timeout",
            "failed",
            "dependency",
            "skipped",
            "new",
        ] {
            assert_eq!(JobResult::parse(s).as_str(), s);
        }
        assert_eq!(JobResult::parse("new"), JobResult::Other("new".into()));
    }

    #[test]
    fn a_failed_job_says_what_and_where_to_look() {
        let err = outcome(JobResult::Failed, Some("exit-code"))
            .check()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unit kafka-consumer@x:1.service failed to start: result=exit-code \
             (see `journalctl --user -u kafka-consumer@x:1.service`)"
        );
        let err = outcome(JobResult::Dependency, Some("success"))
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("result=dependency"), "{err}");
        assert!(outcome(JobResult::Done, None).check().is_ok());
    }
}
