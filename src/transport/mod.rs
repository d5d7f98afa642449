//! How kafkactl reaches a host's systemd: a D-Bus connection on which
//! `org.freedesktop.systemd1` answers, made either to the local bus or, for a remote host,
//! over SSH the way `systemctl -H` does it.
//!
//! For a remote host ([`connect`]): one ssh2 session ([`ssh::SshLink`]: host key checked
//! against known_hosts, public-key authentication), a channel running `systemd-stdio-bridge`
//! on the host (with `--bus-path` for a user manager), and a pump thread ([`pump`]) that
//! carries the channel's bytes to one end of a Unix socketpair. zbus gets the other end as
//! its socket and speaks ordinary bus-mode D-Bus through it: SASL `EXTERNAL` authentication
//! and `Hello` are answered by the bridge (which replies to `Hello` with the unique name of
//! its own connection to the host's bus), and every other message is forwarded to the host's
//! bus. The resulting [`DbusSystemd`] is the same type the local commands use, so plan and
//! apply code cannot tell a remote host from the local one.

pub mod known_hosts;
pub mod pump;
pub mod ssh;

use crate::manifest::Host;
use crate::systemd::{DbusSystemd, Scope, SystemdError, SystemdManager};
use ssh::SshLink;
use std::path::PathBuf;
use std::time::Duration;

/// Default time allowed to reach a host and authenticate.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// D-Bus method call timeout on remote connections.
const METHOD_TIMEOUT: Duration = Duration::from_secs(120);

/// How to reach hosts over SSH.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// The known_hosts file host keys are checked against (OpenSSH format).
    pub known_hosts: PathBuf,
    /// Accept (and record in `known_hosts`) the key of a host that is not listed yet. A
    /// changed key is refused regardless.
    pub accept_new_host_keys: bool,
    /// Identity file for hosts whose manifest entry names none (else ssh-agent, then
    /// ~/.ssh/id_ed25519, id_ecdsa, id_rsa).
    pub identity: Option<PathBuf>,
    /// Bound on the TCP connect, the SSH handshake and authentication, each.
    pub connect_timeout: Duration,
}

impl SshOptions {
    /// `~/.ssh/known_hosts`.
    pub fn default_known_hosts() -> PathBuf {
        std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
            .join(".ssh/known_hosts")
    }
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            known_hosts: SshOptions::default_known_hosts(),
            accept_new_host_keys: false,
            identity: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Why a host could not be reached or used. Every message starts with the host.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No TCP connection.
    #[error("{host}: cannot connect: {reason}")]
    Connect {
        /// `user@address:port`.
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// The host's key is not in known_hosts and new keys were not to be accepted.
    #[error(
        "{host}: unknown host key {key_type} {fingerprint}: the host is not in {known_hosts}. \
         Refusing to connect. Compare the fingerprint with the host's own \
         (`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` there), then rerun with \
         --accept-new-host-keys to record it"
    )]
    UnknownHostKey {
        /// `user@address:port`.
        host: String,
        /// e.g. `ssh-ed25519`.
        key_type: String,
        /// `SHA256:...`.
        fingerprint: String,
        /// The known_hosts file.
        known_hosts: String,
    },
    /// The host offers a key other than the one on file.
    #[error(
        "{host}: HOST KEY CHANGED: the host offers {key_type} {fingerprint}, not the key \
         recorded for {pattern} in {known_hosts}. Someone may be intercepting the connection \
         (or the host was reinstalled). Refusing to connect. If the change is expected, remove \
         the old key (`ssh-keygen -R '{pattern}' -f {known_hosts}`) and rerun with \
         --accept-new-host-keys"
    )]
    ChangedHostKey {
        /// `user@address:port`.
        host: String,
        /// e.g. `ssh-ed25519`.
        key_type: String,
        /// `SHA256:...`.
        fingerprint: String,
        /// The known_hosts file.
        known_hosts: String,
        /// The host as known_hosts names it.
        pattern: String,
    },
    /// No key was accepted.
    #[error("{host}: authentication as {user} failed; tried {tried}")]
    Auth {
        /// `user@address:port`.
        host: String,
        /// The login user.
        user: String,
        /// What was offered.
        tried: String,
    },
    /// An SSH step failed.
    #[error("{host}: {what} failed: {reason}")]
    Ssh {
        /// `user@address:port`.
        host: String,
        /// The step.
        what: &'static str,
        /// libssh2's message.
        reason: String,
    },
    /// Connected, but no systemd manager could be reached through the bridge.
    #[error("{host}: no D-Bus through systemd-stdio-bridge: {reason}")]
    Bridge {
        /// `user@address:port`.
        host: String,
        /// What went wrong, with the bridge's stderr when it said anything.
        reason: String,
    },
    /// The manager answered with an error while checking it.
    #[error("{host}: {source}")]
    Systemd {
        /// `user@address:port`.
        host: String,
        /// The error (boxed: it is large).
        #[source]
        source: Box<SystemdError>,
    },
}

/// Connects to `host` over SSH and authenticates (blocking work on tokio's blocking pool).
pub async fn connect_link(host: &Host, options: &SshOptions) -> Result<SshLink, TransportError> {
    let host_owned = host.clone();
    let options_owned = options.clone();
    let label = host.to_string();
    // Each step inside is bounded by connect_timeout; this bounds them all together.
    let limit = options.connect_timeout * 4;
    let work = tokio::task::spawn_blocking(move || SshLink::connect(&host_owned, &options_owned));
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(TransportError::Ssh {
            host: label,
            what: "connecting",
            reason: join.to_string(),
        }),
        Err(_) => Err(TransportError::Connect {
            host: label,
            reason: format!("gave up after {} s", limit.as_secs()),
        }),
    }
}

/// Opens the D-Bus bridge on an authenticated link and checks that a `scope` manager answers.
pub async fn systemd_over(
    link: SshLink,
    host: &Host,
    scope: Scope,
    connect_timeout: Duration,
) -> Result<DbusSystemd, TransportError> {
    let label = host.to_string();
    let opened = tokio::task::spawn_blocking(move || link.open_bridge(scope))
        .await
        .map_err(|e| TransportError::Ssh {
            host: label.clone(),
            what: "opening the bridge",
            reason: e.to_string(),
        })??;
    let (socket, stderr) = opened;
    let bridge_error = |reason: String| {
        let said = stderr
            .lock()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        TransportError::Bridge {
            host: label.clone(),
            reason: if said.is_empty() {
                reason
            } else {
                format!("{reason}; the bridge said: {said}")
            },
        }
    };
    socket
        .set_nonblocking(true)
        .map_err(|e| bridge_error(e.to_string()))?;
    let socket =
        tokio::net::UnixStream::from_std(socket).map_err(|e| bridge_error(e.to_string()))?;
    let (read, write) = socket.into_split();
    let split: zbus::connection::socket::BoxedSplit =
        zbus::connection::socket::Split::new(Box::new(NoFdPassing(read)), Box::new(write));
    let builder = zbus::connection::Builder::socket(split).method_timeout(METHOD_TIMEOUT);
    let conn = match tokio::time::timeout(connect_timeout, builder.build()).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(bridge_error(format!("D-Bus handshake failed ({e})"))),
        Err(_) => {
            return Err(bridge_error(format!(
                "no D-Bus handshake within {} s",
                connect_timeout.as_secs()
            )))
        }
    };
    let systemd = DbusSystemd::new(conn)
        .with_scope(scope)
        .with_endpoint(format!("ssh://{label} ({scope} manager)"));
    match tokio::time::timeout(connect_timeout, systemd.check_manager()).await {
        Ok(Ok(())) => Ok(systemd),
        Ok(Err(source)) => Err(TransportError::Systemd {
            host: label,
            source: Box::new(source),
        }),
        Err(_) => Err(bridge_error("the manager did not answer".into())),
    }
}

/// The read half of the socket to the bridge, saying that file descriptors cannot be passed:
/// they cannot cross SSH, and the bridge refuses them (zbus would log a warning for every
/// connection when it asked).
#[derive(Debug)]
struct NoFdPassing(tokio::net::unix::OwnedReadHalf);

#[async_trait::async_trait]
impl zbus::connection::socket::ReadHalf for NoFdPassing {
    async fn recvmsg(
        &mut self,
        buf: &mut [u8],
    ) -> std::io::Result<(usize, Vec<std::os::fd::OwnedFd>)> {
        zbus::connection::socket::ReadHalf::recvmsg(&mut self.0, buf).await
    }
}

/// The version of the kafkactl the host runs (`kafkactl --version` there, through the login
/// shell's PATH, where the package puts it); `None` when the host has no `kafkactl`.
pub async fn remote_version(
    link: SshLink,
    timeout: Duration,
) -> (SshLink, Result<Option<String>, TransportError>) {
    tokio::task::spawn_blocking(move || {
        let argv = ["kafkactl".to_string(), "--version".to_string()];
        let result = link.run(&argv, timeout).map(|out| {
            if out.status != 0 {
                return None;
            }
            version_of(&String::from_utf8_lossy(&out.stdout)).map(str::to_string)
        });
        (link, result)
    })
    .await
    .expect("the version probe does not panic")
}

/// The version in `kafkactl --version` output (`kafkactl 0.1.0`).
fn version_of(output: &str) -> Option<&str> {
    output
        .lines()
        .next()?
        .strip_prefix("kafkactl ")
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Connects to the `scope` systemd manager of `host` over SSH.
pub async fn connect(
    host: &Host,
    options: &SshOptions,
    scope: Scope,
) -> Result<DbusSystemd, TransportError> {
    let link = connect_link(host, options).await?;
    systemd_over(link, host, scope, options.connect_timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_first_line() {
        assert_eq!(version_of("kafkactl 0.1.0\n"), Some("0.1.0"));
        assert_eq!(version_of("kafkactl 1.2.3-rc1\nmore\n"), Some("1.2.3-rc1"));
        assert_eq!(version_of("bash: kafkactl: command not found\n"), None);
        assert_eq!(version_of("kafkactl \n"), None);
        assert_eq!(version_of(""), None);
    }
}
