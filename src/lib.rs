//! kafkactl: run Kafka consumers on a fleet of Linux servers.
//!
//! One binary:
//! - `kafkactl proxy` ([`proxy`], [`resp`], [`kafka`]): a Kafka gateway that speaks Rafka's
//!   subset of the Redis protocol, so Redis clients and rafka-rb work unchanged;
//! - `kafkactl worker` ([`worker`], [`metrics`]): one consumer instance under systemd, feeding
//!   the app's handler process over a line protocol, at least once;
//! - the control plane (`spawn`, `status`, `deploy`, ...: [`commands`], [`control`],
//!   [`systemd`], [`plan`]), on this machine and across a fleet over SSH ([`target`],
//!   [`fleet`], [`transport`]);
//! - monitoring (`lag`, `status --lag`, the `check` plugin: [`health`]);
//! - `kafkactl dev broker` ([`dev`]): librdkafka's mock cluster for the quickstart and tests.
//!
//! docs/architecture.md follows one message and one deploy through these modules. Modules
//! are private to the crate so that the compiler reports what nothing uses; [`testing`] is
//! the little the benchmarks and integration tests reach into.

pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod control;
pub(crate) mod dev;
pub(crate) mod error;
pub(crate) mod fleet;
pub(crate) mod health;
pub(crate) mod kafka;
pub(crate) mod manifest;
pub(crate) mod manpages;
pub(crate) mod metrics;
pub(crate) mod notify;
pub(crate) mod plan;
pub(crate) mod proctitle;
pub(crate) mod proxy;
pub(crate) mod resp;
pub(crate) mod stats;
pub(crate) mod systemd;
pub(crate) mod target;
pub(crate) mod transport;
pub(crate) mod units;
pub(crate) mod worker;

#[doc(hidden)]
/// The fuzz targets' invariants (public: the fuzz crate and the corpus replay call them).
pub mod fuzz_checks;

#[doc(hidden)]
/// What the benchmarks, the integration tests and the fuzz targets (fuzz/) use of the
/// library: the RESP frames their Redis client speaks and the parsers the fuzzers drive, the
/// handler-protocol decoder, the systemd layer they check against a real manager, the
/// manifest they parse, and the pure planning code the planning benchmark times.
pub mod testing {
    pub use crate::fleet::report::{plan_text, HostPlan};
    pub use crate::fleet::rolling::{batches as rolling_batches, Member};
    pub use crate::fuzz_checks as fuzz;
    pub use crate::manifest::{Command, Manifest, OnExhausted, Placement};
    pub use crate::plan::{reconcile, Desired, Observed, PlanOptions, Step};
    pub use crate::resp::frame::{
        encode_array_header, encode_bulk, parse_request, parse_request_resuming, Cursor, Frame,
        Limits, ProtocolError,
    };
    pub use crate::systemd::{
        unit_object_path, DbusSystemd, JobAction, JobResult, Scope, SystemdError, SystemdManager,
        UnitStatus,
    };
    pub use crate::units::Instance;
    pub use crate::worker::protocol::{decode_reply, FromHandler};
}

use anyhow::Result;
use clap::{CommandFactory, Parser};
use cli::{Cli, Command, DevCommand};
use dev::broker::{self, BrokerOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use systemd::Scope;
use tokio_util::sync::CancellationToken;
use worker::WorkerOptions;

/// The whole program: parses the command line, sets up logging, runs the command, and turns
/// its outcome into the exit code. The only way from an error to an exit code is
/// [`error::exit_code`].
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return error::usage_error(err),
    };
    init_logging(&cli.log);
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("kafkactl: {err:#}");
            ExitCode::from(error::exit_code(&err))
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    // journald adds its own timestamps.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

fn dispatch(cli: Cli) -> Result<u8> {
    if matches!(
        cli.command,
        Command::Completions(_) | Command::Manpage(_) | Command::Lag(_) | Command::Logs(_)
    ) {
        // Printers whose only pipe is stdout: `kafkactl lag | head` should end quietly, as
        // other Unix tools do, not panic on EPIPE. Commands that write to sockets and pipes of
        // their own (proxy, worker, anything over D-Bus or SSH) keep SIGPIPE ignored.
        // SAFETY: resetting a signal disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match cli.command {
        Command::Completions(args) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "kafkactl",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Manpage(args) => {
            match args.dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
                    for (name, page) in manpages::pages()? {
                        std::fs::write(dir.join(&name), page).map_err(|e| {
                            anyhow::anyhow!("writing {}: {e}", dir.join(&name).display())
                        })?;
                    }
                }
                None => {
                    let pages = manpages::pages()?;
                    std::io::Write::write_all(&mut std::io::stdout(), &pages[0].1)?;
                }
            }
            Ok(0)
        }
        Command::Proxy(args) => {
            let runtime = runtime()?;
            let result = runtime.block_on(async {
                let stop = stop_on_signal()?;
                proxy::run(args, stop).await.map(|()| 0)
            });
            // Past --shutdown-timeout a consumer may still be closing in a blocking thread
            // (librdkafka waits on unreachable brokers): the deadline is the deadline, so the
            // process exits now, non-zero, instead of dropping the runtime and waiting for it.
            runtime.shutdown_background();
            result
        }
        Command::Dev(DevCommand::Broker(args)) => runtime()?.block_on(async {
            let stop = stop_on_signal()?;
            broker::run(
                BrokerOptions {
                    brokers: args.broker_count,
                    partitions: args.partitions,
                    topics: args.topics,
                    address_file: args.address_file,
                    rebalance_delay_ms: args.rebalance_delay_ms,
                    consumer_heartbeat_ms: args.consumer_heartbeat_ms,
                    consumer_session_timeout_ms: args.consumer_session_timeout_ms,
                },
                stop,
            )
            .await
            .map(|()| 0)
        }),
        Command::Worker(args) => {
            let options = WorkerOptions {
                instance: args.instance,
                manifest: cli
                    .manifest
                    .unwrap_or_else(|| PathBuf::from(manifest::DEFAULT_PATH)),
                brokers: args.brokers,
                statsd: args.statsd,
                metrics_listen: args.metrics_listen,
                drain_timeout: Duration::from_secs(args.drain_timeout),
                handler_grace: Duration::from_secs(args.handler_grace),
                ready_timeout: Duration::from_secs(args.ready_timeout),
            };
            // One thread: a worker feeds one handler, and the handler's parent-death signal
            // is tied to the thread that forked it.
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async {
                    let stop = stop_on_signal()?;
                    worker::run(options, stop).await.map(|()| 0)
                })
        }
        command => {
            let ctx = commands::Context {
                scope: if cli.user { Scope::User } else { Scope::System },
                manifest_explicit: cli.manifest.is_some(),
                manifest: cli
                    .manifest
                    .unwrap_or_else(|| PathBuf::from(manifest::DEFAULT_PATH)),
            };
            runtime()?.block_on(commands::run(&ctx, command))
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kafkactl")
        .build()?)
}

/// A token cancelled by the first SIGTERM or SIGINT; a second one exits at once.
fn stop_on_signal() -> Result<CancellationToken> {
    use tokio::signal::unix::{signal, SignalKind};
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let stop = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received; shutting down (send again to exit at once)");
        stop.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("kafkactl: second signal; exiting without finishing the shutdown");
        std::process::exit(130);
    });
    Ok(token)
}
