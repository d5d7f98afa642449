//! [`DbusSystemd`]: [`SystemdManager`] over D-Bus with zbus (async only).
//!
//! It needs nothing but a [`zbus::Connection`] on which `org.freedesktop.systemd1` answers, so
//! the same code drives the local system manager, a user manager on its session bus, or a
//! remote manager through `systemd-stdio-bridge` over SSH.
//!
//! - Manager methods go through the small `#[proxy]` trait `Manager`.
//! - A unit's status is two `Properties.GetAll` calls (the `Unit` and the `Service` interface)
//!   on the unit's object path, computed locally ([`unit_object_path`]); the replies are
//!   deserialized straight into small structs that keep only the properties we use, through
//!   the `#[proxy]` trait `UnitProperties` (typed property getters would cost one call per
//!   property, or a `PropertiesChanged` match rule per unit with caching).
//! - A job (start/stop/restart) is waited for through systemd's `JobRemoved` signal: the
//!   signal stream is subscribed to *before* the method call, so a job that finishes at once
//!   is not missed, and `Manager.Subscribe` is called once per connection (systemd sends job
//!   signals only to subscribed clients).
//! - Method calls carry NO_AUTO_START: a bus without a manager says so instead of trying to
//!   activate `org.freedesktop.systemd1` (Debian's activation file runs `/bin/false`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::OnceCell;
use zbus::proxy::CacheProperties;
use zbus::zvariant::{DeserializeDict, ObjectPath, OwnedObjectPath, OwnedValue, Type};
use zbus::{proxy, Connection};

use super::{
    unit_object_path, JobAction, JobOutcome, JobResult, Result, Scope, SystemdError,
    SystemdManager, UnitFile, UnitFileChange, UnitStatus, UnitSummary,
};

const SYSTEMD_SERVICE: &str = "org.freedesktop.systemd1";
const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";

/// How long [`DbusSystemd`] waits for a start/stop/restart job by default. systemd's own
/// defaults (90 s to start, 90 s to stop) end a hung job well before this.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the `connect_*` helpers wait for the bus to accept and authenticate.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Method call timeout on connections the `connect_*` helpers make (a daemon-reload of a big
/// system can take a while).
const METHOD_TIMEOUT: Duration = Duration::from_secs(120);

/// One row of `ListUnitsByPatterns`: name, description, load, active, sub, following, unit
/// path, job id, job type, job path.
type RawUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

/// `org.freedesktop.systemd1.Manager`, only what kafkactl uses.
#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
trait Manager {
    #[zbus(no_autostart)]
    fn list_units_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<RawUnit>>;

    #[zbus(no_autostart)]
    fn list_unit_files_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<(String, String)>>;

    #[zbus(no_autostart)]
    fn get_unit_file_state(&self, file: &str) -> zbus::Result<String>;

    #[zbus(no_autostart)]
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    #[zbus(no_autostart)]
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    #[zbus(no_autostart)]
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    #[zbus(no_autostart)]
    fn enable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<(bool, Vec<(String, String, String)>)>;

    #[zbus(no_autostart)]
    fn disable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
    ) -> zbus::Result<Vec<(String, String, String)>>;

    #[zbus(no_autostart)]
    fn reload(&self) -> zbus::Result<()>;

    #[zbus(no_autostart)]
    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;

    #[zbus(no_autostart)]
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    #[zbus(no_autostart)]
    fn subscribe(&self) -> zbus::Result<()>;

    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

/// `org.freedesktop.DBus.Properties` on a unit object, with `GetAll` replies deserialized into
/// the few properties kafkactl reads (unknown ones are skipped while parsing).
#[proxy(
    interface = "org.freedesktop.DBus.Properties",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1/unit",
    gen_blocking = false
)]
trait UnitProperties {
    /// `GetAll("org.freedesktop.systemd1.Unit")`.
    #[zbus(name = "GetAll", no_autostart)]
    fn unit_properties(&self, interface: &str) -> zbus::Result<UnitProps>;

    /// `GetAll("org.freedesktop.systemd1.Service")`.
    #[zbus(name = "GetAll", no_autostart)]
    fn service_properties(&self, interface: &str) -> zbus::Result<ServiceProps>;

    /// `Get(interface, name)`.
    #[zbus(name = "Get", no_autostart)]
    fn property(&self, interface: &str, name: &str) -> zbus::Result<OwnedValue>;
}

/// The `org.freedesktop.systemd1.Unit` properties kafkactl reads.
#[derive(Debug, Default, DeserializeDict, Type)]
#[zvariant(
    signature = "a{sv}",
    rename_all = "PascalCase",
    crate = "zbus::zvariant"
)]
struct UnitProps {
    id: Option<String>,
    description: Option<String>,
    load_state: Option<String>,
    active_state: Option<String>,
    sub_state: Option<String>,
    unit_file_state: Option<String>,
    fragment_path: Option<String>,
    need_daemon_reload: Option<bool>,
    active_enter_timestamp: Option<u64>,
}

/// The `org.freedesktop.systemd1.Service` properties kafkactl reads.
#[derive(Debug, Default, DeserializeDict, Type)]
#[zvariant(
    signature = "a{sv}",
    rename_all = "PascalCase",
    crate = "zbus::zvariant"
)]
struct ServiceProps {
    #[zvariant(rename = "MainPID")]
    main_pid: Option<u32>,
    memory_current: Option<u64>,
    #[zvariant(rename = "CPUUsageNSec")]
    cpu_usage_nsec: Option<u64>,
    n_restarts: Option<u32>,
    status_text: Option<String>,
    result: Option<String>,
    exec_main_status: Option<i32>,
}

/// [`SystemdManager`] over a D-Bus connection (see the module docs).
///
/// Cheap to clone (the connection is shared); one value can serve many concurrent calls.
#[derive(Debug, Clone)]
pub struct DbusSystemd {
    conn: Connection,
    scope: Scope,
    endpoint: String,
    job_timeout: Option<Duration>,
    subscribed: Arc<OnceCell<()>>,
}

impl DbusSystemd {
    /// Wraps a connection on which a systemd manager answers (the local system bus, a session
    /// bus, or a channel to `systemd-stdio-bridge`). Assumes the system manager for the hints
    /// in errors; see [`DbusSystemd::with_scope`]. Nothing is sent until the first call.
    pub fn new(conn: Connection) -> Self {
        DbusSystemd {
            conn,
            scope: Scope::System,
            endpoint: "the given D-Bus connection".to_string(),
            job_timeout: Some(DEFAULT_JOB_TIMEOUT),
            subscribed: Arc::new(OnceCell::new()),
        }
    }

    /// Says which manager this is (changes only the hints in error messages).
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Names the endpoint in error messages (e.g. `ssh://host (user bus)`).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The underlying connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The manager's scope.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Connects to the current user's manager on the session bus: `$DBUS_SESSION_BUS_ADDRESS`,
    /// else `$XDG_RUNTIME_DIR/bus` when that socket exists (as sd-bus does), and checks that a
    /// manager is on it. Without one the error says how to start it.
    pub async fn connect_user() -> Result<Self> {
        let address = match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
            Ok(addr) if !addr.is_empty() => addr,
            _ => match std::env::var("XDG_RUNTIME_DIR") {
                Ok(dir) if std::path::Path::new(&dir).join("bus").exists() => {
                    format!("unix:path={dir}/bus")
                }
                _ => {
                    return Err(SystemdError::Unreachable {
                        scope: Scope::User,
                        address: "$DBUS_SESSION_BUS_ADDRESS".to_string(),
                        reason: "DBUS_SESSION_BUS_ADDRESS is not set and there is no \
                                 $XDG_RUNTIME_DIR/bus"
                            .to_string(),
                        hint: unreachable_hint(Scope::User).to_string(),
                    })
                }
            },
        };
        Self::connect_address(&address, Scope::User).await
    }

    /// Connects to the system manager on the system bus (`$DBUS_SYSTEM_BUS_ADDRESS`, else
    /// `/run/dbus/system_bus_socket`) and checks that it answers.
    pub async fn connect_system() -> Result<Self> {
        let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "unix:path=/run/dbus/system_bus_socket".to_string());
        Self::connect_address(&address, Scope::System).await
    }

    /// Connects to the bus at a D-Bus `address` (e.g. `unix:path=/run/user/0/bus`) and checks
    /// that a manager of `scope` answers there.
    pub async fn connect_address(address: &str, scope: Scope) -> Result<Self> {
        let unreachable = |reason: String| SystemdError::Unreachable {
            scope,
            address: address.to_string(),
            reason,
            hint: unreachable_hint(scope).to_string(),
        };
        let builder = zbus::connection::Builder::address(address)
            .map_err(|e| unreachable(format!("not a usable D-Bus address ({e})")))?
            .method_timeout(METHOD_TIMEOUT);
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, builder.build()).await {
            Err(_) => {
                return Err(unreachable(format!(
                    "the bus did not answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(unreachable(connect_failure(&e))),
            Ok(Ok(conn)) => conn,
        };
        let sd = DbusSystemd::new(conn)
            .with_scope(scope)
            .with_endpoint(address);
        sd.check_manager().await?;
        Ok(sd)
    }

    /// The object path systemd itself gives `unit` (`Manager.LoadUnit`, which loads it if
    /// needed). [`unit_object_path`] computes the same locally.
    pub async fn load_unit_path(&self, unit: &str) -> Result<String> {
        let manager = self.manager().await?;
        let path = manager
            .load_unit(unit)
            .await
            .map_err(|e| self.refused("LoadUnit", "load", unit, e))?;
        Ok(path.as_str().to_string())
    }

    async fn manager(&self) -> Result<ManagerProxy<'static>> {
        ManagerProxy::builder(&self.conn)
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(|e| self.bus_error("(proxy)", e))
    }

    async fn unit_properties(&self, unit: &str) -> Result<UnitPropertiesProxy<'static>> {
        let builder = UnitPropertiesProxy::builder(&self.conn)
            .cache_properties(CacheProperties::No)
            .path(unit_object_path(unit))
            .map_err(|e| self.bus_error("(unit path)", e))?;
        builder
            .build()
            .await
            .map_err(|e| self.bus_error("(proxy)", e))
    }

    /// `Manager.Subscribe`, once per connection; "already subscribed" is fine.
    async fn ensure_subscribed(&self, manager: &ManagerProxy<'_>) -> Result<()> {
        self.subscribed
            .get_or_try_init(|| async {
                match manager.subscribe().await {
                    Ok(()) => Ok(()),
                    Err(zbus::Error::MethodError(name, _, _))
                        if name.as_str() == "org.freedesktop.systemd1.AlreadySubscribed" =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(self.refused("Subscribe", "subscribe to", "job signals", e)),
                }
            })
            .await
            .map(|_| ())
    }

    async fn run_job(&self, action: JobAction, unit: &str) -> Result<JobOutcome> {
        let manager = self.manager().await?;
        self.ensure_subscribed(&manager).await?;
        // Subscribe to JobRemoved before queuing the job: a job that ends at once (the unit
        // is already in the wanted state) is removed right after the method reply.
        let removed = manager
            .receive_job_removed()
            .await
            .map_err(|e| self.refused("AddMatch", "watch jobs for", unit, e))?;
        // The stream is consumed and dropped inside: no call below may run while it exists
        // unpolled (see `queue_and_wait`).
        let (job_id, result) = self.queue_and_wait(&manager, removed, action, unit).await?;
        let unit_result = if result != JobResult::Done && unit.ends_with(".service") {
            self.service_result(unit).await
        } else {
            None
        };
        Ok(JobOutcome {
            unit: unit.to_string(),
            action,
            job_id,
            result,
            unit_result,
            scope: self.scope,
        })
    }

    /// Queues the job and waits for its `JobRemoved`.
    ///
    /// The signal stream is polled the whole time, also while the method call is in flight:
    /// zbus delivers messages to a stream through a bounded queue and stops reading the socket
    /// while any stream's queue is full, so a stream left unpolled during a call would, under
    /// a burst of other jobs' signals, block the very reply being awaited.
    async fn queue_and_wait(
        &self,
        manager: &ManagerProxy<'_>,
        mut removed: JobRemovedStream,
        action: JobAction,
        unit: &str,
    ) -> Result<(u32, JobResult)> {
        let call_name = match action {
            JobAction::Start => "StartUnit",
            JobAction::Stop => "StopUnit",
            JobAction::Restart => "RestartUnit",
        };
        let call = async {
            match action {
                JobAction::Start => manager.start_unit(unit, "replace").await,
                JobAction::Stop => manager.stop_unit(unit, "replace").await,
                JobAction::Restart => manager.restart_unit(unit, "replace").await,
            }
        };
        tokio::pin!(call);
        // Jobs removed while the call was in flight: (job path, id, result).
        let mut early: Vec<(String, u32, String)> = Vec::new();
        let job = loop {
            tokio::select! {
                reply = &mut call => {
                    break reply.map_err(|e| self.refused(call_name, &action.to_string(), unit, e))?
                }
                signal = removed.next() => match signal {
                    Some(signal) => {
                        if let Ok(args) = signal.args() {
                            early.push((
                                args.job().as_str().to_string(),
                                *args.id(),
                                args.result().to_string(),
                            ));
                        }
                    }
                    None => {
                        return Err(SystemdError::Disconnected {
                            unit: unit.to_string(),
                            action,
                        })
                    }
                },
            }
        };
        if let Some((_, id, result)) = early.iter().find(|(path, ..)| path == job.as_str()) {
            return Ok((*id, JobResult::parse(result)));
        }
        drop(early);

        let wait = async {
            while let Some(signal) = removed.next().await {
                let Ok(args) = signal.args() else { continue };
                if args.job().as_str() == job.as_str() {
                    return Some((*args.id(), JobResult::parse(args.result())));
                }
            }
            None
        };
        let ended = match self.job_timeout {
            None => wait.await,
            Some(limit) => match tokio::time::timeout(limit, wait).await {
                Ok(ended) => ended,
                Err(_) => {
                    return Err(SystemdError::JobTimeout {
                        unit: unit.to_string(),
                        action,
                        job: job.as_str().to_string(),
                        secs: limit.as_secs(),
                        systemctl: self.scope.systemctl(),
                    })
                }
            },
        };
        ended.ok_or_else(|| SystemdError::Disconnected {
            unit: unit.to_string(),
            action,
        })
    }

    /// The service's `Result` property, best effort (it only adds detail to a failure).
    async fn service_result(&self, unit: &str) -> Option<String> {
        let props = self.unit_properties(unit).await.ok()?;
        let value = props.property(SERVICE_INTERFACE, "Result").await.ok()?;
        String::try_from(value).ok()
    }

    /// An error from a call about `unit`: systemd's refusal, or a transport problem.
    fn refused(
        &self,
        call: &'static str,
        action: &str,
        unit: &str,
        err: zbus::Error,
    ) -> SystemdError {
        match &err {
            zbus::Error::MethodError(name, message, _) if !is_unreachable_error(name.as_str()) => {
                let said = message.clone().unwrap_or_else(|| name.as_str().to_string());
                SystemdError::Refused {
                    action: action.to_string(),
                    unit: unit.to_string(),
                    error_name: name.as_str().to_string(),
                    message: match permission_hint(name.as_str()) {
                        Some(hint) => format!("{said} {hint}"),
                        None => said,
                    },
                }
            }
            _ => self.bus_error(call, err),
        }
    }

    /// A transport-level error: the manager or the bus is gone, or something unexpected.
    fn bus_error(&self, call: &'static str, err: zbus::Error) -> SystemdError {
        let unreachable = |reason: String| SystemdError::Unreachable {
            scope: self.scope,
            address: self.endpoint.clone(),
            reason,
            hint: unreachable_hint(self.scope).to_string(),
        };
        match &err {
            zbus::Error::MethodError(name, message, _) if is_unreachable_error(name.as_str()) => {
                unreachable(format!(
                    "{} ({})",
                    message
                        .as_deref()
                        .unwrap_or("no systemd manager on the bus"),
                    name.as_str()
                ))
            }
            zbus::Error::InputOutput(e) => unreachable(format!("connection lost ({e})")),
            zbus::Error::Connection(e, _) => unreachable(format!("connection lost ({e})")),
            _ => SystemdError::Bus {
                call,
                source: Box::new(err),
            },
        }
    }
}

/// D-Bus errors that mean "no manager here" rather than "the manager refused".
/// What to do when systemd (through polkit) refused a caller who is not root: the error says
/// "Interactive authentication required", which names neither the cause nor the fix.
fn permission_hint(error_name: &str) -> Option<&'static str> {
    matches!(
        error_name,
        "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
            | "org.freedesktop.DBus.Error.AccessDenied"
    )
    .then_some(
        "(this user may not manage units of the system manager: connect as root, or grant \
         the user management of kafka-consumer@ units with the polkit rule in \
         docs/operations.md, \"Deploying as a non-root user\")",
    )
}

fn is_unreachable_error(name: &str) -> bool {
    matches!(
        name,
        "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.DBus.Error.Disconnected"
    ) || name.starts_with("org.freedesktop.DBus.Error.Spawn.")
}

fn unreachable_hint(scope: Scope) -> &'static str {
    match scope {
        Scope::User => {
            "Is a systemd user manager running for this user? For the dev/test rig run \
             `scripts/systemd-user.sh start` and then `eval \"$(scripts/systemd-user.sh env)\"`; \
             on a host booted with systemd, `loginctl enable-linger USER` keeps one running"
        }
        Scope::System => {
            "Is systemd PID 1 on that host, and is the system bus (dbus) running? \
             (`systemctl status dbus`)"
        }
    }
}

fn connect_failure(err: &zbus::Error) -> String {
    match err {
        zbus::Error::InputOutput(e) => format!("cannot connect ({e})"),
        zbus::Error::Connection(e, _) => format!("cannot connect ({e})"),
        zbus::Error::Handshake(e) => format!("the bus refused us ({e})"),
        other => other.to_string(),
    }
}

fn none_if_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn changes(raw: Vec<(String, String, String)>) -> Vec<UnitFileChange> {
    raw.into_iter()
        .map(|(kind, path, source)| UnitFileChange { kind, path, source })
        .collect()
}

impl SystemdManager for DbusSystemd {
    async fn check_manager(&self) -> Result<()> {
        let dbus = zbus::fdo::DBusProxy::new(&self.conn)
            .await
            .map_err(|e| self.bus_error("org.freedesktop.DBus", e))?;
        let name = zbus::names::BusName::try_from(SYSTEMD_SERVICE).expect("valid bus name");
        let owned = dbus
            .name_has_owner(name)
            .await
            .map_err(|e| self.bus_error("NameHasOwner", e.into()))?;
        if owned {
            Ok(())
        } else {
            Err(SystemdError::Unreachable {
                scope: self.scope,
                address: self.endpoint.clone(),
                reason: "the bus answers, but no systemd manager (org.freedesktop.systemd1) is \
                         on it"
                    .to_string(),
                hint: unreachable_hint(self.scope).to_string(),
            })
        }
    }

    async fn list_units(&self, patterns: &[&str]) -> Result<Vec<UnitSummary>> {
        let manager = self.manager().await?;
        let raw = manager
            .list_units_by_patterns(&[], patterns)
            .await
            .map_err(|e| {
                let what = format!("units matching {patterns:?}");
                self.refused("ListUnitsByPatterns", "list", &what, e)
            })?;
        Ok(raw
            .into_iter()
            .map(
                |(name, description, load_state, active_state, sub_state, ..)| UnitSummary {
                    name,
                    description,
                    load_state,
                    active_state,
                    sub_state,
                },
            )
            .collect())
    }

    async fn list_unit_files(&self, patterns: &[&str]) -> Result<Vec<UnitFile>> {
        let manager = self.manager().await?;
        let raw = manager
            .list_unit_files_by_patterns(&[], patterns)
            .await
            .map_err(|e| {
                let what = format!("unit files matching {patterns:?}");
                self.refused("ListUnitFilesByPatterns", "list", &what, e)
            })?;
        Ok(raw
            .into_iter()
            .map(|(path, state)| UnitFile {
                name: path.rsplit('/').next().unwrap_or(&path).to_string(),
                path,
                state,
            })
            .collect())
    }

    async fn unit_file_state(&self, unit: &str) -> Result<String> {
        let manager = self.manager().await?;
        manager
            .get_unit_file_state(unit)
            .await
            .map_err(|e| self.refused("GetUnitFileState", "read the unit file state of", unit, e))
    }

    async fn start(&self, unit: &str) -> Result<JobOutcome> {
        self.run_job(JobAction::Start, unit).await
    }

    async fn stop(&self, unit: &str) -> Result<JobOutcome> {
        self.run_job(JobAction::Stop, unit).await
    }

    async fn restart(&self, unit: &str) -> Result<JobOutcome> {
        self.run_job(JobAction::Restart, unit).await
    }

    async fn enable(&self, units: &[&str]) -> Result<Vec<UnitFileChange>> {
        let manager = self.manager().await?;
        let (carries_install_info, raw) = manager
            .enable_unit_files(units, false, true)
            .await
            .map_err(|e| self.refused("EnableUnitFiles", "enable", &units.join(", "), e))?;
        if !carries_install_info && raw.is_empty() {
            return Err(SystemdError::Refused {
                action: "enable".to_string(),
                unit: units.join(", "),
                error_name: String::new(),
                message: "the unit file has no [Install] section (WantedBy=...), so there is \
                          nothing to enable"
                    .to_string(),
            });
        }
        Ok(changes(raw))
    }

    async fn disable(&self, units: &[&str]) -> Result<Vec<UnitFileChange>> {
        let manager = self.manager().await?;
        let raw = manager
            .disable_unit_files(units, false)
            .await
            .map_err(|e| self.refused("DisableUnitFiles", "disable", &units.join(", "), e))?;
        Ok(changes(raw))
    }

    async fn reload(&self) -> Result<()> {
        let manager = self.manager().await?;
        manager
            .reload()
            .await
            .map_err(|e| self.refused("Reload", "reload", "its unit files", e))
    }

    async fn reset_failed(&self, unit: &str) -> Result<()> {
        let manager = self.manager().await?;
        manager
            .reset_failed_unit(unit)
            .await
            .map_err(|e| self.refused("ResetFailedUnit", "reset the failed state of", unit, e))
    }

    async fn unit_status(&self, unit: &str) -> Result<UnitStatus> {
        let props = self.unit_properties(unit).await?;
        let read = |e| self.refused("GetAll", "read the status of", unit, e);
        let (u, s) = if unit.ends_with(".service") {
            let (u, s) = futures::join!(
                props.unit_properties(UNIT_INTERFACE),
                props.service_properties(SERVICE_INTERFACE)
            );
            (u.map_err(read)?, s.map_err(read)?)
        } else {
            let u = props.unit_properties(UNIT_INTERFACE).await.map_err(read)?;
            (u, ServiceProps::default())
        };
        Ok(UnitStatus {
            name: u.id.unwrap_or_else(|| unit.to_string()),
            description: u.description.unwrap_or_default(),
            load_state: u.load_state.unwrap_or_default(),
            active_state: u.active_state.unwrap_or_default(),
            sub_state: u.sub_state.unwrap_or_default(),
            unit_file_state: u.unit_file_state.unwrap_or_default(),
            fragment_path: none_if_empty(u.fragment_path),
            need_daemon_reload: u.need_daemon_reload.unwrap_or(false),
            active_enter_timestamp_usec: u.active_enter_timestamp.filter(|&t| t != 0),
            main_pid: s.main_pid.filter(|&p| p != 0),
            // systemd says "not available" with u64::MAX.
            memory_current_bytes: s.memory_current.filter(|&m| m != u64::MAX),
            cpu_usage_nsec: s.cpu_usage_nsec.filter(|&c| c != u64::MAX),
            n_restarts: s.n_restarts,
            status_text: none_if_empty(s.status_text),
            result: none_if_empty(s.result),
            exec_main_status: s.exec_main_status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_by_polkit_say_how_to_grant_access() {
        let hint =
            permission_hint("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired").unwrap();
        assert!(hint.contains("polkit") && hint.contains("docs/operations.md"));
        assert!(permission_hint("org.freedesktop.DBus.Error.AccessDenied").is_some());
        assert_eq!(permission_hint("org.freedesktop.systemd1.NoSuchUnit"), None);
    }
}
