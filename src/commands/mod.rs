//! The operator's subcommands, one file each, from parsed arguments to an exit code.
//!
//! Every command that acts on systemd resolves its hosts to [`Target`]s first (this machine
//! unless `--hosts`/`--fleet` name others: [`select`]) and then runs one code path for all of
//! them. What can be checked without a connection (flags, the manifest, the host list) is
//! checked before anything is reached, so bad input exits 2 having touched nothing.

mod check;
mod deploy;
mod install_units;
mod lag;
mod logs;
mod manifest_check;
mod spawn;
mod status;
mod stop;
mod top;

use crate::cli::{ChangeArgs, Command, OutputFormat, SshArgs};
use crate::error::Failure;
use crate::fleet::apply::RunOptions;
use crate::fleet::{self, FleetHost};
use crate::manifest::Manifest;
use crate::systemd::Scope;
use crate::target::Target;
use crate::transport::SshOptions;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

/// Global settings the commands share.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// System or user manager.
    pub scope: Scope,
    /// The manifest path (`-f`).
    pub manifest: PathBuf,
    /// Whether `-f`/`KAFKACTL_MANIFEST` named it (then it must exist).
    pub manifest_explicit: bool,
}

impl Context {
    /// Loads and validates the manifest; `Ok(None)` when it is optional and absent.
    pub fn manifest(&self, required: bool) -> Result<Option<Manifest>> {
        if !self.manifest.exists() {
            if !required && !self.manifest_explicit {
                return Ok(None);
            }
            let cwd = std::env::current_dir()
                .map(|d| format!(" in {}", d.display()))
                .unwrap_or_default();
            return Err(Failure::Usage(if self.manifest_explicit {
                format!(
                    "no manifest at {} (given by -f or $KAFKACTL_MANIFEST){}",
                    self.manifest.display(),
                    if self.manifest.is_relative() {
                        cwd
                    } else {
                        String::new()
                    }
                )
            } else {
                format!(
                    "no manifest at {}{cwd}: run kafkactl from the app's root directory, or \
                     name the manifest with -f FILE (or $KAFKACTL_MANIFEST)",
                    self.manifest.display()
                )
            })
            .into());
        }
        Manifest::load(&self.manifest)
            .map(Some)
            .map_err(|e| Failure::Usage(e.to_string()).into())
    }
}

/// Runs one control-plane or monitoring command and returns its exit code.
pub(crate) async fn run(ctx: &Context, command: Command) -> Result<u8> {
    match command {
        Command::Spawn(args) => spawn::spawn(ctx, &args).await,
        Command::Stop(args) => stop::stop(ctx, &args).await,
        Command::Restart(args) => stop::restart(ctx, &args).await,
        Command::DisableAndStop(args) => stop::disable_and_stop(ctx, &args).await,
        Command::Status(args) => status::status(ctx, &args).await,
        Command::InstallUnits(args) => install_units::install_units(ctx, &args).await,
        Command::Deploy(args) => deploy::deploy(ctx, &args).await,
        Command::Lag(args) => lag::lag(ctx, &args).await,
        Command::Check(args) => Ok(check::check(ctx, &args).await),
        Command::Top(args) => top::top(ctx, &args).await,
        Command::Logs(args) => logs::logs(ctx, &args).await,
        Command::Manifest(crate::cli::ManifestCommand::Check(args)) => {
            manifest_check::check(ctx, &args)
        }
        Command::Proxy(_)
        | Command::Worker(_)
        | Command::Dev(_)
        | Command::Completions(_)
        | Command::Manpage(_) => unreachable!("not a control command: {command:?}"),
    }
}

/// A bad-input error (exit 2).
fn usage(message: String) -> anyhow::Error {
    Failure::Usage(message).into()
}

/// Refuses a `-c` that cannot be a consumer name, before anything is reached.
fn check_consumer_name(name: Option<&str>) -> Result<()> {
    name.map_or(Ok(()), crate::manifest::rules::check_consumer_name)
        .map_err(usage)
}

/// The SSH settings of the command line.
fn ssh_options(args: &SshArgs) -> SshOptions {
    SshOptions {
        known_hosts: args
            .known_hosts
            .clone()
            .unwrap_or_else(SshOptions::default_known_hosts),
        accept_new_host_keys: args.accept_new_host_keys,
        identity: args.identity.clone(),
        connect_timeout: Duration::from_secs(args.connect_timeout),
    }
}

/// How a changing command runs through [`crate::fleet::apply`]: `--dry-run`, `--yes` (asked
/// only when stdin and stderr are a terminal: CI and Capistrano never are), `-o`, and the
/// hosts' SSH settings.
fn run_options(
    ctx: &Context,
    command: &'static str,
    change: &ChangeArgs,
    ssh: &SshArgs,
    batch_size: u32,
) -> RunOptions {
    use std::io::IsTerminal;
    RunOptions {
        command,
        scope: ctx.scope,
        ssh: ssh_options(ssh),
        parallel: ssh.parallel as usize,
        batch_size: batch_size as usize,
        dry_run: change.dry_run,
        restarts_are_changes: true,
        ask: !change.yes
            && !change.dry_run
            && std::io::stdin().is_terminal()
            && std::io::stderr().is_terminal(),
        json: change.output == OutputFormat::Json,
        allow_version_skew: false,
        must_match: None,
    }
}

/// The hosts a command acts on, each with what the manifest places there: the hosts of
/// `--hosts` (matched against the manifest when there is one) or of `--fleet`; without
/// either, this machine with every consumer of the manifest (when there is one). Returns the
/// manifest too, loaded once, for the caller's other uses.
///
/// `manifest_required` makes a missing manifest an error even without `--fleet`.
fn select(
    ctx: &Context,
    ssh: &SshArgs,
    fleet: bool,
    manifest_required: bool,
) -> Result<(Option<Manifest>, Vec<FleetHost>)> {
    let listed = fleet::parse_hosts(&ssh.hosts).map_err(usage)?;
    if fleet && !listed.is_empty() {
        return Err(usage("give --hosts or --fleet, not both".into()));
    }
    let manifest = ctx.manifest(fleet || manifest_required)?;
    let hosts = if !fleet && listed.is_empty() {
        vec![match &manifest {
            Some(manifest) => fleet::this_machine(manifest, &crate::worker::settings::hostname()),
            None => FleetHost {
                target: Target::Local,
                desired: Vec::new(),
            },
        }]
    } else {
        match &manifest {
            Some(manifest) => fleet::targets(manifest, &listed).map_err(usage)?,
            None => listed
                .into_iter()
                .map(|host| FleetHost {
                    target: Target::Ssh(host),
                    desired: Vec::new(),
                })
                .collect(),
        }
    };
    Ok((manifest, hosts))
}
