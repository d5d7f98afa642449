//! The kafkactl binary: parses the command line, sets up logging and the runtime, dispatches,
//! and maps errors to exit codes.

use anyhow::Result;
use clap::{CommandFactory, Parser};
use kafkactl::cli::{Cli, Command, DevCommand};
use kafkactl::control::commands::{self, ControlContext};
use kafkactl::dev::broker::{self, BrokerOptions};
use kafkactl::error::exit_code_for;
use kafkactl::fleet;
use kafkactl::monitor;
use kafkactl::plan::Step;
use kafkactl::systemd::Scope;
use kafkactl::worker::WorkerOptions;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if is_check(&err) => {
            // A monitoring plugin's bad arguments are UNKNOWN (3), not CRITICAL (clap's 2).
            let first = err.to_string();
            let first = first.lines().next().unwrap_or_default();
            println!("KAFKACTL UNKNOWN - {}", first.trim_start_matches("error: "));
            eprint!("{err}");
            return ExitCode::from(kafkactl::monitor::check::State::Unknown.code());
        }
        Err(err) => err.exit(),
    };
    init_logging(&cli.log);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            eprintln!("kafkactl: {err:#}");
            ExitCode::from(exit_code_for(&err))
        }
    }
}

/// Whether a command-line error is about `kafkactl check` (not help or version output).
fn is_check(err: &clap::Error) -> bool {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        return false;
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // Global options that take a separate value.
            "-f" | "--manifest" | "--log" => {
                args.next();
            }
            a if a.starts_with('-') => {}
            a => return a == "check",
        }
    }
    false
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

fn run(cli: Cli) -> Result<()> {
    if matches!(
        cli.command,
        Command::Completions(_) | Command::Manpage | Command::Lag(_) | Command::Logs(_)
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
            Ok(())
        }
        Command::Manpage => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Proxy(args) => runtime()?.block_on(async {
            let stop = stop_on_signal()?;
            kafkactl::proxy::run(args, stop).await
        }),
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
        }),
        Command::Worker(args) => {
            let options = WorkerOptions {
                instance: args.instance,
                manifest: cli
                    .manifest
                    .unwrap_or_else(|| PathBuf::from(kafkactl::manifest::DEFAULT_PATH)),
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
                    kafkactl::worker::run(options, stop).await
                })
        }
        control => {
            let ctx = ControlContext {
                scope: if cli.user { Scope::User } else { Scope::System },
                manifest_explicit: cli.manifest.is_some(),
                manifest: cli
                    .manifest
                    .unwrap_or_else(|| PathBuf::from(kafkactl::manifest::DEFAULT_PATH)),
            };
            let code = runtime()?.block_on(run_control(&ctx, control))?;
            if code == 0 {
                Ok(())
            } else {
                Err(Exit(code).into())
            }
        }
    }
}

/// A command finished and wants this exit code; it already said why.
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

async fn run_control(ctx: &ControlContext, command: Command) -> Result<u8> {
    // Fleet commands reach their hosts over SSH; nothing local is needed.
    match &command {
        Command::Deploy(args) => return fleet::commands::deploy_command(ctx, args).await,
        Command::Lag(args) => return monitor::commands::lag(ctx, args).await,
        Command::Logs(args) => return kafkactl::logs::logs(ctx, args).await,
        Command::Check(args) => return Ok(monitor::commands::check(ctx, args).await),
        Command::Status(args) if args.lag => {
            return monitor::commands::status_with_lag(ctx, args).await
        }
        Command::Status(args) if fleet::commands::wants_fleet(&args.ssh, args.fleet) => {
            return fleet::commands::status(ctx, args).await
        }
        Command::InstallUnits(args) if fleet::commands::wants_fleet(&args.ssh, args.fleet) => {
            return fleet::commands::install_units(ctx, args).await
        }
        _ => {}
    }
    // The manifest first, for every local command: a missing or broken one is the answer
    // (exit 2), not whether systemd can be reached.
    let needs_manifest = matches!(
        &command,
        Command::Spawn(args) if args.consumer.is_none() || args.workers.is_none()
    );
    ctx.manifest(needs_manifest)?;
    let systemd = commands::connect(ctx.scope).await?;
    match command {
        Command::Spawn(args) => commands::spawn(ctx, &systemd, &args).await,
        Command::Stop(args) => commands::stop_or_restart(&systemd, &args, Step::Stop).await,
        Command::Restart(args) => commands::stop_or_restart(&systemd, &args, Step::Restart).await,
        Command::DisableAndStop(args) => commands::disable_and_stop(&systemd, &args).await,
        Command::Status(args) => commands::status(&systemd, &args).await,
        Command::InstallUnits(args) => commands::install_units(ctx, &systemd, &args).await,
        other => unreachable!("not a control command: {other:?}"),
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
