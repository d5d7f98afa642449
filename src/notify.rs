//! sd_notify: tells systemd (Type=notify units) about readiness, status and shutdown.
//! Every call is a no-op when not started by systemd (no NOTIFY_SOCKET).

use sd_notify::NotifyState;

/// READY=1 with a status line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// STATUS=... alone.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// STOPPING=1.
pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("Shutting down..."),
    ]);
}

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(err) = sd_notify::notify(states) {
        tracing::debug!(error = %err, "sd_notify failed");
    }
}

/// WATCHDOG=1: the service is alive.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The unit's WatchdogSec, when systemd enabled the watchdog for this process.
pub fn watchdog_interval() -> Option<std::time::Duration> {
    sd_notify::watchdog_enabled()
}
