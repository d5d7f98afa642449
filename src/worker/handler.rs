//! The handler child process: started once, spoken to over its stdin/stdout with the
//! protocol in [`super::protocol`], stopped with `shutdown`, a grace period, then SIGKILL.
//! One task (the worker loop) owns it, as in watchexec's supervisor.
//!
//! Batches are pipelined (`batch.in_flight`): the loop may send a batch before the replies
//! to earlier ones were read, so sending also reads the replies that arrive meanwhile and
//! keeps them, in order. Otherwise a handler blocked writing replies to a full stdout pipe
//! would stop reading its stdin while the worker is blocked writing to it.
//!
//! The loop reaches it through [`HandlerLauncher`] and [`HandlerConnection`], so that unit
//! tests can drive the loop with scripted handlers instead of processes.

use super::env_file::{self, Loaded};
use super::protocol::{self, FromHandler, ProtocolViolation, ToHandler, MAX_REPLY_LINE};
use crate::manifest::EnvFile;
use std::collections::{BTreeMap, VecDeque};
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
    /// The manifest's `env:`.
    pub env: BTreeMap<String, String>,
    /// The manifest's `env_file:`, its path resolved against the app's root: read at every
    /// start, so a rotated secret takes effect at the next one.
    pub env_file: Option<EnvFile>,
    /// Who the handler works for (`KAFKACTL_*`): set last, so neither `env:` nor `env_file:`
    /// changes them.
    pub worker_env: BTreeMap<String, String>,
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
    /// Its `env_file:` is missing or does not parse (the message names the file and line).
    EnvFile(String),
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
            HandlerError::EnvFile(why) => write!(f, "cannot start the handler: {why}"),
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

    /// Writes one message, without waiting for its reply. An error means the handler must be
    /// restarted. Not cancel-safe (a line may be half written): the loop only drops it when
    /// it kills the handler.
    async fn send(&mut self, message: &ToHandler) -> Result<(), HandlerError>;

    /// The next reply, in the order the handler wrote them, whatever it is: whether it answers
    /// the oldest batch in flight is the loop's to check ([`protocol::check_answer`]). An
    /// error means the handler must be restarted. Cancel-safe: the loop waits for it and for
    /// messages at once.
    async fn recv(&mut self) -> Result<FromHandler, HandlerError>;

    /// Sends one message and reads one reply (one batch in flight: the lockstep the loop uses
    /// while it settles a failed batch).
    async fn exchange(&mut self, message: &ToHandler) -> Result<FromHandler, HandlerError> {
        self.send(message).await?;
        self.recv().await
    }

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

impl HandlerSpec {
    /// The handler's environment for one start: `env:`, then the variables of the
    /// `env_file:` (they win, as systemd's `EnvironmentFile=` wins over `Environment=`), then
    /// `KAFKACTL_*`.
    pub(crate) fn environment(&self, from_file: Option<&Loaded>) -> BTreeMap<String, String> {
        let mut env = self.env.clone();
        if let Some(loaded) = from_file {
            env.extend(loaded.vars.iter().cloned());
        }
        env.extend(self.worker_env.clone());
        env
    }

    /// Reads the `env_file:` for a start, logging the names it sets and where from, never the
    /// values. `Ok(None)` without one, or when an optional one is missing.
    ///
    /// # Errors
    /// It is missing (and not optional), unreadable or does not parse.
    pub(crate) fn read_env_file(&self) -> Result<Option<Loaded>, String> {
        let Some(file) = &self.env_file else {
            return Ok(None);
        };
        let path = file.path.display();
        // A blocking read on the worker's only thread: a small local file, once per start.
        let Some(loaded) = env_file::read(file)? else {
            tracing::info!(file = %path, "env_file missing; optional (`-`), so none read");
            return Ok(None);
        };
        tracing::info!(file = %path, names = %loaded.names().join(","), "env_file read");
        if loaded.readable_by_others {
            tracing::warn!(
                file = %path,
                "the env_file is readable by every user of this host: chmod 640 it (owner \
                 root, group of the app's user), or 600"
            );
        }
        Ok(Some(loaded))
    }
}

/// A running handler that answered `init`.
pub struct Handler {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// The reply line read so far: kept across calls, so that reading is cancel-safe.
    line: Vec<u8>,
    /// Replies read while a message was being written, in order, for [`Handler::recv`].
    replies: VecDeque<FromHandler>,
    /// How reading ended while a message was being written (the handler exited, or broke the
    /// protocol), for [`Handler::recv`] once `replies` are taken.
    read_error: Option<HandlerError>,
}

impl Handler {
    /// Starts the handler, sends `init` and waits for `ready`.
    pub async fn start(spec: &HandlerSpec) -> Result<Handler, HandlerError> {
        let (program, args) = spec
            .argv
            .split_first()
            .ok_or_else(|| HandlerError::Spawn(std::io::Error::other("empty command")))?;
        let from_file = spec.read_env_file().map_err(HandlerError::EnvFile)?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(spec.environment(from_file.as_ref()))
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
            replies: VecDeque::new(),
            read_error: None,
        };
        handler.send_line(&spec.init).await?;
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

    /// Writes one message to the handler, reading the replies that arrive meanwhile into
    /// `replies` (see the module's doc).
    pub async fn send_line(&mut self, message: &ToHandler) -> Result<(), HandlerError> {
        let line = protocol::encode(message);
        let mut written = 0;
        while written < line.len() {
            tokio::select! {
                // Writing first: a pipe with room takes the line in one write, and no read is
                // tried at all.
                biased;
                result = self.stdin.write(&line[written..]) => match result {
                    Ok(0) => {
                        let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                        return Err(self.exited_or(HandlerError::Io(e)).await);
                    }
                    Ok(n) => written += n,
                    Err(e) => return Err(self.exited_or(HandlerError::Io(e)).await),
                },
                // `write` is cancel-safe (nothing was written when another branch wins), and
                // so is `read_line`. Once reading failed, it stays failed: stop trying.
                reply = read_line(&mut self.stdout, &mut self.line), if self.read_error.is_none() => {
                    match reply {
                        Ok(reply) => self.replies.push_back(reply),
                        Err(e) => self.read_error = Some(e),
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads and decodes one reply line; at most [`MAX_REPLY_LINE`] bytes are buffered.
    async fn read_reply(&mut self) -> Result<FromHandler, HandlerError> {
        if let Some(reply) = self.replies.pop_front() {
            return Ok(reply);
        }
        let result = match self.read_error.take() {
            Some(e) => Err(e),
            None => read_line(&mut self.stdout, &mut self.line).await,
        };
        match result {
            // End of output: say how it exited, if it did.
            Err(HandlerError::Exited(None)) => {
                let status = self.reap(Duration::from_secs(2)).await;
                Err(HandlerError::Exited(status))
            }
            Err(HandlerError::Io(e)) => Err(self.exited_or(HandlerError::Io(e)).await),
            other => other,
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

    async fn send(&mut self, message: &ToHandler) -> Result<(), HandlerError> {
        self.send_line(message).await
    }

    async fn recv(&mut self) -> Result<FromHandler, HandlerError> {
        self.read_reply().await
    }

    /// Graceful stop: `shutdown`, then up to `grace` for it to exit, then SIGKILL. Returns
    /// how it ended.
    async fn shutdown(mut self, reason: &str, grace: Duration) -> String {
        let goodbye = ToHandler::Shutdown {
            reason: reason.to_string(),
        };
        if self.send_line(&goodbye).await.is_ok() {
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

/// Reads and decodes one reply line from `stdout`; at most [`MAX_REPLY_LINE`] bytes are
/// buffered. Cancel-safe: the part of a line read so far stays in `line`. The end of output is
/// `Exited(None)` (the caller finds out how it exited).
async fn read_line(
    stdout: &mut BufReader<ChildStdout>,
    line: &mut Vec<u8>,
) -> Result<FromHandler, HandlerError> {
    loop {
        let available = stdout.fill_buf().await.map_err(HandlerError::Io)?;
        if available.is_empty() {
            return Err(HandlerError::Exited(None));
        }
        let (used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = MAX_REPLY_LINE + 1 - line.len();
        line.extend_from_slice(&available[..used.min(room)]);
        stdout.consume(used);
        if line.len() > MAX_REPLY_LINE {
            line.clear();
            return Err(HandlerError::Violation(ProtocolViolation(format!(
                "a reply line longer than {MAX_REPLY_LINE} bytes"
            ))));
        }
        if done {
            let reply = protocol::decode_reply(line).map_err(HandlerError::Violation);
            line.clear();
            return reply;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(env_file: Option<EnvFile>) -> HandlerSpec {
        HandlerSpec {
            argv: vec!["true".into()],
            env: BTreeMap::from([
                ("RAILS_ENV".into(), "production".into()),
                ("DATABASE_URL".into(), "postgres://localhost/dev".into()),
            ]),
            env_file,
            worker_env: BTreeMap::from([("KAFKACTL_INSTANCE".into(), "1".into())]),
            init: ToHandler::Shutdown {
                reason: "unused".into(),
            },
            ready_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_env_file_wins_over_env_but_not_over_the_workers_own() {
        let loaded = Loaded {
            vars: vec![
                ("DATABASE_URL".into(), "postgres://db/prod".into()),
                ("API_TOKEN".into(), "t0ken".into()),
                ("KAFKACTL_INSTANCE".into(), "9".into()),
            ],
            readable_by_others: false,
        };
        let env = spec(None).environment(Some(&loaded));
        assert_eq!(env["RAILS_ENV"], "production");
        assert_eq!(env["DATABASE_URL"], "postgres://db/prod");
        assert_eq!(env["API_TOKEN"], "t0ken");
        assert_eq!(env["KAFKACTL_INSTANCE"], "1");
        let env = spec(None).environment(None);
        assert_eq!(env["DATABASE_URL"], "postgres://localhost/dev");
        assert!(!env.contains_key("API_TOKEN"));
    }

    #[test]
    fn the_env_file_is_read_at_every_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.env");
        let spec = spec(Some(EnvFile {
            path: path.clone(),
            optional: false,
        }));
        assert!(spec
            .read_env_file()
            .unwrap_err()
            .contains("cannot read the env_file"));
        std::fs::write(&path, "API_TOKEN=old\n").unwrap();
        let first = spec.read_env_file().unwrap();
        assert_eq!(spec.environment(first.as_ref())["API_TOKEN"], "old");
        // Rotated: the next start sees the new value.
        std::fs::write(&path, "API_TOKEN=new\n").unwrap();
        let second = spec.read_env_file().unwrap();
        assert_eq!(spec.environment(second.as_ref())["API_TOKEN"], "new");
    }
}
