//! Carries bytes between an SSH channel and one end of a Unix socketpair, on a thread of its
//! own, so that zbus (async) can use the other end as its socket while libssh2 (blocking C)
//! owns the channel.
//!
//! libssh2 serializes every call on a session behind one lock, so a blocking read on the
//! channel would keep a writer out: the session is switched to non-blocking mode and one
//! thread does both directions, waiting in `poll(2)` on the TCP socket and the Unix socket
//! when neither side can move. The thread ends when either side closes; the other side then
//! sees end-of-file (zbus reports the connection lost).

use ssh2::{BlockDirections, Channel, Session};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

/// Most bytes held in each direction before reading from that side pauses.
const BUFFER_LIMIT: usize = 256 * 1024;
/// Longest wait in poll(2) before keepalives are looked at again, in ms.
const POLL_MS: i32 = 1000;
/// Most of the remote command's stderr kept for error messages.
const STDERR_KEPT: usize = 4096;

/// libssh2's "would block" (`LIBSSH2_ERROR_EAGAIN`).
const LIBSSH2_ERROR_EAGAIN: libc::c_int = -37;

/// What the remote command wrote to stderr (the tail of it), shared with the caller for
/// error messages.
pub type StderrTail = Arc<Mutex<String>>;

/// Starts the pump thread for `channel` (already running its command) and returns the local
/// end of the socketpair.
pub fn start(
    session: Session,
    channel: Channel,
    tcp_fd: RawFd,
    label: String,
) -> std::io::Result<(UnixStream, StderrTail)> {
    let (ours, theirs) = UnixStream::pair()?;
    theirs.set_nonblocking(true)?;
    session.set_blocking(false);
    let stderr: StderrTail = Arc::new(Mutex::new(String::new()));
    let tail = stderr.clone();
    std::thread::Builder::new()
        .name(format!("ssh-{label}"))
        .spawn(move || {
            let mut pump = Pump {
                session,
                channel,
                tcp_fd,
                unix: theirs,
                stderr: tail,
            };
            match pump.run() {
                Ok(()) => tracing::debug!(host = %label, "ssh channel closed"),
                Err(err) => tracing::debug!(host = %label, error = %err, "ssh channel failed"),
            }
            pump.close();
        })?;
    Ok((ours, stderr))
}

struct Pump {
    session: Session,
    channel: Channel,
    tcp_fd: RawFd,
    unix: UnixStream,
    stderr: StderrTail,
}

/// `Ok(None)` for "would block".
fn nonblocking<T>(r: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(e),
    }
}

impl Pump {
    fn run(&mut self) -> std::io::Result<()> {
        let mut up: Vec<u8> = Vec::new(); // local -> remote
        let mut down: Vec<u8> = Vec::new(); // remote -> local
        let mut buf = vec![0u8; 32 * 1024];
        let mut local_closed = false;
        let mut remote_closed = false;
        loop {
            let mut moved = false;
            if !local_closed && up.len() < BUFFER_LIMIT {
                match nonblocking(self.unix.read(&mut buf))? {
                    Some(0) => {
                        local_closed = true;
                        moved = true;
                    }
                    Some(n) => {
                        up.extend_from_slice(&buf[..n]);
                        moved = true;
                    }
                    None => {}
                }
            }
            if !up.is_empty() {
                if let Some(n) = nonblocking(self.channel.write(&up))? {
                    up.drain(..n);
                    moved |= n > 0;
                }
            }
            if local_closed && up.is_empty() {
                // zbus is done with the connection.
                return Ok(());
            }
            if !remote_closed && down.len() < BUFFER_LIMIT {
                match nonblocking(self.channel.read(&mut buf))? {
                    Some(0) if self.channel.eof() => {
                        remote_closed = true;
                        moved = true;
                    }
                    Some(0) => {}
                    Some(n) => {
                        down.extend_from_slice(&buf[..n]);
                        moved = true;
                    }
                    None => {}
                }
            }
            if let Some(n) = nonblocking(self.channel.stderr().read(&mut buf))? {
                if n > 0 {
                    self.keep_stderr(&buf[..n]);
                    moved = true;
                }
            }
            if !down.is_empty() {
                match nonblocking(self.unix.write(&down)) {
                    Ok(Some(n)) => {
                        down.drain(..n);
                        moved |= n > 0;
                    }
                    Ok(None) => {}
                    // zbus went away while we still had bytes for it.
                    Err(_) => return Ok(()),
                }
            }
            if remote_closed && down.is_empty() {
                return Ok(());
            }
            if !moved {
                // Errors other than "would block" mean the transport is gone.
                if let Err(err) = self.session.keepalive_send() {
                    if err.code() != ssh2::ErrorCode::Session(LIBSSH2_ERROR_EAGAIN) {
                        return Err(err.into());
                    }
                }
                self.wait(!local_closed && up.len() < BUFFER_LIMIT, !down.is_empty())?;
            }
        }
    }

    fn keep_stderr(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        tracing::debug!(stderr = %text.trim_end(), "remote command wrote to stderr");
        let mut kept = self.stderr.lock().expect("stderr lock");
        kept.push_str(&text);
        if kept.len() > STDERR_KEPT {
            let cut = kept.len() - STDERR_KEPT;
            let cut = (cut..kept.len())
                .find(|&i| kept.is_char_boundary(i))
                .unwrap_or(kept.len());
            kept.drain(..cut);
        }
    }

    /// Sleeps until the TCP socket or the Unix socket can move, or the poll interval passes.
    fn wait(&self, want_local_read: bool, want_local_write: bool) -> std::io::Result<()> {
        let mut tcp_events = libc::POLLIN;
        if matches!(
            self.session.block_directions(),
            BlockDirections::Outbound | BlockDirections::Both
        ) {
            tcp_events |= libc::POLLOUT;
        }
        let mut unix_events = 0;
        if want_local_read {
            unix_events |= libc::POLLIN;
        }
        if want_local_write {
            unix_events |= libc::POLLOUT;
        }
        let mut fds = [
            libc::pollfd {
                fd: self.tcp_fd,
                events: tcp_events,
                revents: 0,
            },
            libc::pollfd {
                fd: self.unix.as_raw_fd(),
                events: unix_events,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, POLL_MS) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(())
    }

    fn close(&mut self) {
        let _ = self.unix.shutdown(std::net::Shutdown::Both);
        // Best effort: the session is non-blocking, so these may not complete, and the TCP
        // connection closes when the session is dropped anyway.
        let _ = self.channel.send_eof();
        let _ = self.channel.close();
        let _ = self.session.disconnect(None, "kafkactl is done", None);
    }
}
