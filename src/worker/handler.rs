//! The handler child process: started once, spoken to over its stdin/stdout with the
//! protocol in [`super::protocol`], stopped with `shutdown`, a grace period, then SIGKILL.
//! One task (the worker loop) owns it, as in watchexec's supervisor.
//!
//! The loop reaches it through [`HandlerLauncher`] and [`HandlerConnection`], so that unit
//! tests can drive the loop with scripted handlers instead of processes.

use super::env_file::{self, Loaded};
use super::protocol::{self, FromHandler, ProtocolViolation, ToHandler, MAX_REPLY_LINE};
use crate::manifest::EnvFile;
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
    line: Vec<u8>,
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
