//! One SSH session to one host with ssh2 (libssh2): TCP connect with a timeout, the host key
//! checked against known_hosts, public-key authentication (an identity file, else ssh-agent,
//! else ~/.ssh/id_*), SFTP for writing files, and a channel running `systemd-stdio-bridge`.

use super::known_hosts::{self, Verdict};
use super::pump::{self, StderrTail};
use super::{SshOptions, TransportError};
use crate::manifest::Host;
use crate::systemd::Scope;
use ssh2::{HashType, MethodType, OpenFlags, OpenType, RenameFlags, Session};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Seconds between SSH keepalives on an idle connection.
const KEEPALIVE_SECS: u32 = 15;

/// An authenticated SSH session to one host (blocking).
pub struct SshLink {
    session: Session,
    tcp_fd: RawFd,
    label: String,
    user: String,
}

impl std::fmt::Debug for SshLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshLink")
            .field("host", &self.label)
            .field("user", &self.user)
            .finish()
    }
}

/// The user name to log in as when the host does not say: `$USER`, else the effective user's.
pub fn local_user() -> String {
    if let Some(user) = std::env::var("USER").ok().filter(|u| !u.is_empty()) {
        return user;
    }
    effective_user().unwrap_or_else(|| "root".to_string())
}

/// The effective user's name from the password database, with getpwuid_r rather than
/// getpwuid: the latter's static buffer is shared by every thread (the fan-out connects to
/// many hosts at once on tokio's blocking pool).
fn effective_user() -> Option<String> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: all-zero is a valid `passwd` (null pointers, zero ids); getpwuid_r fills it
    // with pointers into `buffer`, which outlives every read below.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to memory we own, `buffer.len()` is its real length.
    let status = unsafe {
        libc::getpwuid_r(
            libc::geteuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buffer`, NUL-terminated by getpwuid_r.
    unsafe { std::ffi::CStr::from_ptr(entry.pw_name) }
        .to_str()
        .ok()
        .map(str::to_string)
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// A suffix no other write uses: this process, the time, and a counter.
fn temp_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl SshLink {
    /// Connects, checks the host key and authenticates. Blocking; every step is bounded by
    /// `options.connect_timeout`.
    pub fn connect(host: &Host, options: &SshOptions) -> Result<SshLink, TransportError> {
        let label = host.to_string();
        let fail = |what: &'static str, reason: String| TransportError::Ssh {
            host: label.clone(),
            what,
            reason,
        };
        let timeout = options.connect_timeout;
        let addrs: Vec<_> = (host.address.as_str(), host.port)
            .to_socket_addrs()
            .map_err(|e| TransportError::Connect {
                host: label.clone(),
                reason: format!("cannot resolve {}: {e}", host.address),
            })?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, timeout) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| TransportError::Connect {
            host: label.clone(),
            reason: match last {
                Some(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    format!("no answer within {} s", timeout.as_secs_f32())
                }
                Some(e) => e.to_string(),
                None => "the address resolves to nothing".into(),
            },
        })?;
        let _ = tcp.set_nodelay(true);
        let tcp_fd = tcp.as_raw_fd();

        let mut session = Session::new().map_err(|e| fail("starting libssh2", e.to_string()))?;
        session.set_timeout(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
        session.set_tcp_stream(tcp);

        let known_text = match std::fs::read_to_string(&options.known_hosts) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(fail(
                    "reading known_hosts",
                    format!("{}: {e}", options.known_hosts.display()),
                ))
            }
        };
        // Prefer the key types on file, so a host with several keys shows the known one.
        let on_file = known_hosts::key_types_on_file(&known_text, &host.address, host.port);
        if let Ok(supported) = session.supported_algs(MethodType::HostKey) {
            let mut prefs: Vec<&str> = on_file
                .iter()
                .map(String::as_str)
                .filter(|t| supported.contains(t))
                .collect();
            if !prefs.is_empty() {
                let rest: Vec<&str> = supported
                    .iter()
                    .copied()
                    .filter(|a| !prefs.contains(a))
                    .collect();
                prefs.extend(rest);
                let _ = session.method_pref(MethodType::HostKey, &prefs.join(","));
            }
        }
        session
            .handshake()
            .map_err(|e| fail("SSH handshake", e.message().to_string()))?;

        check_host_key(&session, host, options, &known_text, &label)?;

        let user = host.user.clone().unwrap_or_else(local_user);
        authenticate(&session, host, options, &user, &label)?;
        session.set_keepalive(false, KEEPALIVE_SECS);
        Ok(SshLink {
            session,
            tcp_fd,
            label,
            user,
        })
    }

    /// The remote user's home directory (SFTP's idea of `.`).
    pub fn home_dir(&self) -> Result<PathBuf, TransportError> {
        let sftp = self.sftp()?;
        sftp.realpath(Path::new("."))
            .map_err(|e| self.ssh_error("finding the home directory", e))
    }

    /// The contents of `path` on the host; `None` when there is no such file.
    pub fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>, TransportError> {
        let sftp = self.sftp()?;
        if sftp.stat(path).is_err() {
            return Ok(None);
        }
        let mut file = sftp
            .open(path)
            .map_err(|e| self.ssh_error("opening a file", e))?;
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut contents)
            .map_err(|e| self.io_error("reading a file", e))?;
        Ok(Some(contents))
    }

    /// Writes `contents` to `path` on the host (creating missing directories), through a
    /// temporary file renamed into place.
    pub fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), TransportError> {
        let sftp = self.sftp()?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        let mut missing = Vec::new();
        let mut at = dir;
        while sftp.stat(at).is_err() {
            missing.push(at.to_path_buf());
            match at.parent() {
                Some(parent) => at = parent,
                None => break,
            }
        }
        for d in missing.iter().rev() {
            sftp.mkdir(d, 0o755)
                .map_err(|e| self.ssh_error("creating a directory", e))?;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A name of its own (two writers never share one), opened exclusively so an existing
        // file (or a link planted there) is never written through, and synced before the
        // rename so a crash cannot leave a truncated unit in place.
        let tmp = dir.join(format!(".{name}.{}.kafkactl-tmp", temp_suffix()));
        {
            let mut file = sftp
                .open_mode(
                    &tmp,
                    OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                    0o644,
                    OpenType::File,
                )
                .map_err(|e| self.ssh_error("creating a file", e))?;
            file.write_all(contents)
                .map_err(|e| self.io_error("writing a file", e))?;
            file.fsync()
                .map_err(|e| self.ssh_error("syncing a file", e))?;
        }
        let flags = Some(RenameFlags::OVERWRITE | RenameFlags::ATOMIC | RenameFlags::NATIVE);
        if sftp.rename(&tmp, path, flags).is_err() {
            // OpenSSH's SFTP (version 3) will not rename over an existing file; rename(2) on
            // the host does, atomically, so the old file is never deleted first.
            let argv: Vec<String> = ["mv", "-f", "--"]
                .into_iter()
                .map(str::to_string)
                .chain([tmp.display().to_string(), path.display().to_string()])
                .collect();
            let moved = self.run(&argv, std::time::Duration::from_secs(30));
            if !matches!(&moved, Ok(out) if out.status == 0) {
                let _ = sftp.unlink(&tmp);
                let why = match moved {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(TransportError::Ssh {
                    host: self.label.clone(),
                    what: "renaming a file into place",
                    reason: why,
                });
            }
        }
        Ok(())
    }

    /// Runs `systemd-stdio-bridge` for the `scope` manager's bus and hands the channel to a
    /// pump thread; returns the socket zbus talks through, and the bridge's stderr.
    pub fn open_bridge(self, scope: Scope) -> Result<(UnixStream, StderrTail), TransportError> {
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| self.ssh_error("opening a channel", e))?;
        channel
            .exec(bridge_command(scope))
            .map_err(|e| self.ssh_error("starting systemd-stdio-bridge", e))?;
        let SshLink {
            session,
            tcp_fd,
            label,
            ..
        } = self;
        pump::start(session, channel, tcp_fd, label.clone()).map_err(|e| TransportError::Ssh {
            host: label,
            what: "starting the channel thread",
            reason: e.to_string(),
        })
    }

    /// Runs `argv` on the host and collects what it prints. Every word is single-quoted for
    /// the remote login shell, so no value reaches that shell as syntax. Bounded by `timeout`
    /// per read.
    pub fn run(
        &self,
        argv: &[String],
        timeout: std::time::Duration,
    ) -> Result<RemoteOutput, TransportError> {
        let mut stdout = Vec::new();
        let mut collect = |line: &[u8]| {
            stdout.extend_from_slice(line);
            true
        };
        let mut out = self.stream_lines(argv, Some(timeout), &mut collect)?;
        out.stdout = stdout;
        Ok(out)
    }

    /// Runs `argv` on the host (quoted as [`SshLink::run`] does) and hands each line of its
    /// stdout, newline included, to `line` as it arrives, until the command ends or `line`
    /// returns false. `timeout` bounds each read; `None` waits as long as it takes (`logs -f`).
    pub fn stream_lines(
        &self,
        argv: &[String],
        timeout: Option<std::time::Duration>,
        line: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<RemoteOutput, TransportError> {
        let command = argv
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ");
        self.session
            .set_timeout(timeout.map_or(0, |t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX)));
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| self.ssh_error("opening a channel", e))?;
        channel
            .exec(&format!("exec {command}"))
            .map_err(|e| self.ssh_error("starting a remote command", e))?;
        let mut pending: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let mut stopped = false;
        loop {
            let n = channel
                .read(&mut chunk)
                .map_err(|e| self.io_error("reading a remote command's output", e))?;
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&chunk[..n]);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let rest = pending.split_off(end + 1);
                let keep_going = line(&pending);
                pending = rest;
                if !keep_going {
                    stopped = true;
                    break;
                }
            }
            if stopped {
                break;
            }
        }
        if !stopped && !pending.is_empty() {
            line(&pending);
        }
        let mut stderr = Vec::new();
        if !stopped {
            let _ = channel.stderr().read_to_end(&mut stderr);
        }
        let _ = channel.close();
        let _ = channel.wait_close();
        let status = channel.exit_status().unwrap_or(-1);
        Ok(RemoteOutput {
            status,
            stdout: Vec::new(),
            stderr,
        })
    }

    fn sftp(&self) -> Result<ssh2::Sftp, TransportError> {
        self.session
            .sftp()
            .map_err(|e| self.ssh_error("starting SFTP", e))
    }

    fn ssh_error(&self, what: &'static str, err: ssh2::Error) -> TransportError {
        TransportError::Ssh {
            host: self.label.clone(),
            what,
            reason: err.message().to_string(),
        }
    }

    fn io_error(&self, what: &'static str, err: std::io::Error) -> TransportError {
        TransportError::Ssh {
            host: self.label.clone(),
            what,
            reason: err.to_string(),
        }
    }
}

/// How a remote command ended, and what it printed.
#[derive(Debug, Default)]
pub struct RemoteOutput {
    /// Its exit status (127: not found; -1 when the host did not say).
    pub status: i32,
    /// Its standard output ([`SshLink::run`] only; streamed lines are handed over instead).
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

/// Quotes one word for a POSIX shell: `'...'`, with each `'` written as `'\''`.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// The remote command that carries D-Bus over the channel, as `systemctl -H` runs it. For a
/// user manager the bus is named explicitly (the remote shell expands `$(id -u)`).
pub fn bridge_command(scope: Scope) -> &'static str {
    match scope {
        Scope::System => "exec systemd-stdio-bridge",
        Scope::User => "exec systemd-stdio-bridge --bus-path=unix:path=/run/user/$(id -u)/bus",
    }
}

fn check_host_key(
    session: &Session,
    host: &Host,
    options: &SshOptions,
    known_text: &str,
    label: &str,
) -> Result<(), TransportError> {
    let (key, kind) = session.host_key().ok_or_else(|| TransportError::Ssh {
        host: label.to_string(),
        what: "reading the host key",
        reason: "the server sent none".into(),
    })?;
    let key_type = known_hosts::key_type_name(kind).unwrap_or("unknown");
    let fingerprint = session
        .host_key_hash(HashType::Sha256)
        .map(known_hosts::fingerprint)
        .unwrap_or_else(|| "(no fingerprint)".into());
    let known_hosts_path = options.known_hosts.display().to_string();
    let verdict = known_hosts::check(known_text, &host.address, host.port, key).map_err(|e| {
        TransportError::Ssh {
            host: label.to_string(),
            what: "checking the host key",
            reason: e,
        }
    })?;
    match verdict {
        Verdict::Known => Ok(()),
        Verdict::Changed => Err(TransportError::ChangedHostKey {
            host: label.to_string(),
            key_type: key_type.to_string(),
            fingerprint,
            known_hosts: known_hosts_path,
            pattern: known_hosts::host_pattern(&host.address, host.port),
        }),
        Verdict::Unknown if options.accept_new_host_keys => {
            let line = known_hosts::known_hosts_line(&host.address, host.port, key_type, key);
            known_hosts::record(&options.known_hosts, &line).map_err(|e| TransportError::Ssh {
                host: label.to_string(),
                what: "recording the new host key",
                reason: format!("{known_hosts_path}: {e}"),
            })?;
            tracing::warn!(
                host = label,
                key = %format!("{key_type} {fingerprint}"),
                file = %known_hosts_path,
                "accepted and recorded a new host key"
            );
            eprintln!(
                "{label}: accepted new host key {key_type} {fingerprint}, recorded in \
                 {known_hosts_path}"
            );
            Ok(())
        }
        Verdict::Revoked => Err(TransportError::Ssh {
            host: label.to_string(),
            what: "checking the host key",
            reason: format!(
                "the host offers {key_type} {fingerprint}, which {known_hosts_path} marks \
                 @revoked: refusing to connect (the host needs a new key)"
            ),
        }),
        Verdict::CertificateAuthority => Err(TransportError::Ssh {
            host: label.to_string(),
            what: "checking the host key",
            reason: format!(
                "{known_hosts_path} vouches for this host only through @cert-authority, and \
                 kafkactl does not check host certificates: add the host's own key \
                 ({key_type} {fingerprint}) to the file, after checking it"
            ),
        }),
        Verdict::Unknown => Err(TransportError::UnknownHostKey {
            host: label.to_string(),
            key_type: key_type.to_string(),
            fingerprint,
            known_hosts: known_hosts_path,
        }),
    }
}

fn authenticate(
    session: &Session,
    host: &Host,
    options: &SshOptions,
    user: &str,
    label: &str,
) -> Result<(), TransportError> {
    let mut tried = Vec::new();
    let identity = host.identity_file.as_ref().or(options.identity.as_ref());
    if let Some(path) = identity {
        match session.userauth_pubkey_file(user, None, path, None) {
            Ok(()) if session.authenticated() => return Ok(()),
            Ok(()) => tried.push(format!("key {}", path.display())),
            Err(e) => tried.push(format!("key {} ({})", path.display(), e.message())),
        }
    } else {
        if std::env::var_os("SSH_AUTH_SOCK").is_some() {
            match session.userauth_agent(user) {
                Ok(()) if session.authenticated() => return Ok(()),
                Ok(()) => tried.push("ssh-agent".to_string()),
                Err(e) => tried.push(format!("ssh-agent ({})", e.message())),
            }
        }
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let path = home().join(".ssh").join(name);
            if !path.exists() {
                continue;
            }
            match session.userauth_pubkey_file(user, None, &path, None) {
                Ok(()) if session.authenticated() => return Ok(()),
                Ok(()) => tried.push(format!("key {}", path.display())),
                Err(e) => tried.push(format!("key {} ({})", path.display(), e.message())),
            }
        }
    }
    if tried.is_empty() {
        tried.push("nothing: no identity file, no ssh-agent, no ~/.ssh/id_* key".into());
    }
    Err(TransportError::Auth {
        host: label.to_string(),
        user: user.to_string(),
        tried: tried.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_user_is_read_from_the_password_database() {
        let out = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(effective_user(), Some(expected));
    }

    #[test]
    fn the_bridge_targets_the_right_bus() {
        assert_eq!(bridge_command(Scope::System), "exec systemd-stdio-bridge");
        assert!(bridge_command(Scope::User).contains("--bus-path=unix:path=/run/user/$(id -u)/bus"));
    }

    #[test]
    fn quoted_words_reach_the_remote_shell_as_data() {
        assert_eq!(shell_quote("journalctl"), "'journalctl'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(reboot); `x` *"), "'$(reboot); `x` *'");
        assert_eq!(shell_quote(""), "''");
    }
}
