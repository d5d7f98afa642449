//! The handler child process: started once, spoken to over its stdin/stdout with the
//! protocol in [`super::protocol`], stopped with `shutdown`, a grace period, then SIGKILL.
//! One task (the worker loop) owns it, as in watchexec's supervisor.
//!
//! The loop reaches it through [`HandlerLauncher`] and [`HandlerConnection`], so that unit
//! tests can drive the loop with scripted handlers instead of processes.

use super::protocol::{self, FromHandler, ProtocolViolation, ToHandler, MAX_REPLY_LINE};
use std::collections::BTreeMap;
use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How to start the handler.
#[derive(Debug, Clone)]
pub struct HandlerSpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment (the manifest's `env:` and `KAFKACTL_*`).
    pub env: BTreeMap<String, String>,
    /// The `init` line's content.
    pub init: ToHandler,
    /// How long the handler may take to answer `init`.
    pub ready_timeout: Duration,
}

/// Why talking to the handler failed. Each means the handler is restarted.
#[derive(Debug)]
pub enum HandlerError {
    /// It could not be started.
    Spawn(std::io::Error),
    /// It exited (stdout closed).
    Exited(Option<ExitStatus>),
    /// It wrote something that is not a valid reply.
    Violation(ProtocolViolation),
    /// Writing to it failed (broken pipe: it exited).
    Io(std::io::Error),
    /// It did not answer `init` in time.
    NotReady(Duration),
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Spawn(e) => write!(f, "cannot start the handler: {e}"),
            HandlerError::Exited(Some(status)) => write!(f, "the handler exited ({status})"),
            HandlerError::Exited(None) => write!(f, "the handler closed its stdout"),
            HandlerError::Violation(v) => write!(f, "{v}"),
            HandlerError::Io(e) => write!(f, "cannot write to the handler: {e}"),
            HandlerError::NotReady(t) => write!(
                f,
                "the handler did not answer init with ready within {}s",
                t.as_secs()
            ),
        }
    }
}

impl std::error::Error for HandlerError {}

/// Starts handlers for the worker loop: [`HandlerSpec`] starts the child process.
pub(crate) trait HandlerLauncher {
    /// A handler it started.
    type Handler: HandlerConnection;

    /// Starts a handler, sends `init` and waits for `ready`.
    async fn start(&self) -> Result<Self::Handler, HandlerError>;

    /// The command it runs, for logs.
    fn command(&self) -> String;
}

/// A running handler that answered `init`, as the worker loop uses it.
pub(crate) trait HandlerConnection {
    /// Its process id, for logs.
    fn pid(&self) -> Option<u32>;

    /// Sends one message and reads one reply, whatever it is: whether the reply answers the
    /// batch in flight is the loop's to check ([`protocol::check_answer`]). An error means the
    /// handler must be restarted.
    async fn exchange(&mut self, message: &ToHandler) -> Result<FromHandler, HandlerError>;

    /// Graceful stop: `shutdown`, then up to `grace` for it to exit, then SIGKILL. Returns
    /// how it ended.
    async fn shutdown(self, reason: &str, grace: Duration) -> String;

    /// Immediate stop (after a protocol violation or when it hangs).
    async fn kill(self);
}

impl HandlerLauncher for HandlerSpec {
    type Handler = Handler;

    async fn start(&self) -> Result<Handler, HandlerError> {
        Handler::start(self).await
    }

    fn command(&self) -> String {
        self.argv.join(" ")
    }
}

/// A running handler that answered `init`.
pub struct Handler {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
}

impl Handler {
    /// Starts the handler, sends `init` and waits for `ready`.
    pub async fn start(spec: &HandlerSpec) -> Result<Handler, HandlerError> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| HandlerError::Spawn(std::io::Error::other("empty command")))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(&spec.env)
            // systemd's notify socket and watchdog are the worker's, not the handler's.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // stderr is the worker's: under systemd, the journal, tagged with the instance.
            .stderr(Stdio::inherit())
            // Its own process group: a Ctrl-C at a terminal reaches the worker only, which
            // then shuts the handler down in order.
            .process_group(0)
            .kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe. The handler gets SIGTERM if the worker dies
        // (even kill -9); the worker runs a current-thread runtime, so the forking thread
        // is the main thread and lives as long as the worker.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(HandlerError::Spawn)?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = BufReader::with_capacity(64 * 1024, child.stdout.take().expect("piped"));
        let mut handler = Handler {
            child,
            stdin,
            stdout,
            line: Vec::with_capacity(256),
        };
        handler.send(&spec.init).await?;
        let reply = match tokio::time::timeout(spec.ready_timeout, handler.read_reply()).await {
            Ok(reply) => reply?,
            Err(_) => {
                handler.kill().await;
                return Err(HandlerError::NotReady(spec.ready_timeout));
            }
        };
        match reply {
            FromHandler::Ready { version } if version == protocol::VERSION => Ok(handler),
            FromHandler::Ready { version } => {
                Err(HandlerError::Violation(ProtocolViolation(format!(
                    "it speaks protocol version {version}; this worker speaks {}",
                    protocol::VERSION
                ))))
            }
            other => Err(HandlerError::Violation(ProtocolViolation(format!(
                "{other:?} in answer to init (expected {{\"type\":\"ready\",\"version\":1}})"
            )))),
        }
    }

    /// Sends one message to the handler.
    pub async fn send(&mut self, message: &ToHandler) -> Result<(), HandlerError> {
        let line = protocol::encode(message);
        if let Err(e) = self.stdin.write_all(&line).await {
            return Err(self.exited_or(HandlerError::Io(e)).await);
        }
        if let Err(e) = self.stdin.flush().await {
            return Err(self.exited_or(HandlerError::Io(e)).await);
        }
        Ok(())
    }

    /// Reads and decodes one reply line; at most [`MAX_REPLY_LINE`] bytes are buffered.
    async fn read_reply(&mut self) -> Result<FromHandler, HandlerError> {
        self.line.clear();
        loop {
            let available = match self.stdout.fill_buf().await {
                Ok(buf) => buf,
                Err(e) => return Err(self.exited_or(HandlerError::Io(e)).await),
            };
            if available.is_empty() {
                let status = self.reap(Duration::from_secs(2)).await;
                return Err(HandlerError::Exited(status));
            }
            let (used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let room = MAX_REPLY_LINE + 1 - self.line.len();
            self.line.extend_from_slice(&available[..used.min(room)]);
            self.stdout.consume(used);
            if self.line.len() > MAX_REPLY_LINE {
                return Err(HandlerError::Violation(ProtocolViolation(format!(
                    "a reply line longer than {MAX_REPLY_LINE} bytes"
                ))));
            }
            if done {
                return protocol::decode_reply(&self.line).map_err(HandlerError::Violation);
            }
        }
    }

    /// If the handler has exited, say so (a broken pipe is its symptom), else `error`.
    async fn exited_or(&mut self, error: HandlerError) -> HandlerError {
        match self.reap(Duration::from_millis(500)).await {
            Some(status) => HandlerError::Exited(Some(status)),
            None => error,
        }
    }

    /// Waits up to `wait` for the handler to exit.
    async fn reap(&mut self, wait: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(wait, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

impl HandlerConnection for Handler {
    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn exchange(&mut self, message: &ToHandler) -> Result<FromHandler, HandlerError> {
        self.send(message).await?;
        self.read_reply().await
    }

    /// Graceful stop: `shutdown`, then up to `grace` for it to exit, then SIGKILL. Returns
    /// how it ended.
    async fn shutdown(mut self, reason: &str, grace: Duration) -> String {
        let goodbye = ToHandler::Shutdown {
            reason: reason.to_string(),
        };
        if self.send(&goodbye).await.is_ok() {
            // Closing stdin is the second signal: handlers that loop on reading lines stop.
            drop(self.stdin);
            match tokio::time::timeout(grace, self.child.wait()).await {
                Ok(Ok(status)) => return format!("exited ({status})"),
                Ok(Err(e)) => return format!("wait failed: {e}"),
                Err(_) => {}
            }
        }
        let _ = self.child.start_kill();
        match self.child.wait().await {
            Ok(status) => format!("killed after {}s ({status})", grace.as_secs()),
            Err(e) => format!("kill failed: {e}"),
        }
    }

    /// Immediate stop (after a protocol violation or when it hangs).
    async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
