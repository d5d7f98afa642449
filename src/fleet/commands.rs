//! The fleet subcommands from parsed arguments to an exit code: `deploy`, `status` with
//! `--hosts`/`--fleet`, and `install-units` with `--hosts`/`--fleet`. Everything that can be
//! checked without a connection (the manifest, the host list) is checked first.

use super::deploy::{deploy, DeployOptions};
use super::{fan_out, parse_hosts, targets, FleetHost};
use crate::cli::{DeployArgs, InstallArgs, SshArgs, StatusArgs};
use crate::control::commands::{print_status, unit_settings, ControlContext};
use crate::control::instance_statuses;
use crate::control::output::StatusRow;
use crate::error::Failure;
use crate::manifest::Host;
use crate::systemd::{Scope, SystemdManager};
use crate::transport::{self, SshOptions};
use crate::units::render_units;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

/// The SSH settings of the command line.
pub fn ssh_options(args: &SshArgs) -> SshOptions {
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

fn usage(message: String) -> anyhow::Error {
    Failure::Usage(message).into()
}

/// Whether a status/install-units invocation is about the fleet rather than this host.
pub fn wants_fleet(ssh: &SshArgs, fleet: bool) -> bool {
    fleet || !ssh.hosts.is_empty()
}

/// The hosts of `--hosts` (matched against the manifest when there is one) or `--fleet`.
pub fn selected_hosts(ctx: &ControlContext, ssh: &SshArgs, fleet: bool) -> Result<Vec<FleetHost>> {
    let listed = parse_hosts(&ssh.hosts).map_err(usage)?;
    if fleet && !listed.is_empty() {
        return Err(usage("give --hosts or --fleet, not both".into()));
    }
    let manifest = ctx.manifest(fleet)?;
    match manifest {
        Some(manifest) => targets(&manifest, &listed).map_err(usage),
        None => Ok(listed
            .into_iter()
            .map(|host| FleetHost {
                host,
                desired: Vec::new(),
            })
            .collect()),
    }
}

/// `deploy`.
pub async fn deploy_command(ctx: &ControlContext, args: &DeployArgs) -> Result<u8> {
    let manifest = ctx.manifest(true)?.expect("required");
    manifest
        .check_runnable()
        .map_err(|e| usage(e.to_string()))?;
    let listed = parse_hosts(&args.ssh.hosts).map_err(usage)?;
    let targets = if listed.is_empty() && manifest.fleet().is_empty() {
        vec![FleetHost::local(&manifest)]
    } else {
        targets(&manifest, &listed).map_err(usage)?
    };
    let options = DeployOptions {
        scope: ctx.scope,
        ssh: ssh_options(&args.ssh),
        parallel: args.ssh.parallel as usize,
        batch_size: args.batch_size as usize,
        dry_run: args.dry_run,
        prune: args.prune,
        restart: !args.no_restart,
        allow_version_skew: args.allow_version_skew,
    };
    Ok(deploy(targets, &options).await)
}

/// `status --hosts ...` / `status --fleet`: one table (or JSON list) with a host column.
pub async fn status(ctx: &ControlContext, args: &StatusArgs) -> Result<u8> {
    if let Some(name) = &args.consumer {
        if !crate::units::valid_name(name) {
            return Err(usage(format!(
                "'{name}' is not a valid consumer name (lowercase letters, digits and '_')"
            )));
        }
    }
    let rows = status_rows(ctx, &args.ssh, args.fleet, args.consumer.as_deref()).await?;
    print_status(&rows, args.output, true)
}

/// The instance rows of every host of `--hosts`/`--fleet` (only `consumer`'s when given); a
/// host that cannot be read is one row, `unreachable`, with the reason.
pub async fn status_rows(
    ctx: &ControlContext,
    ssh: &SshArgs,
    fleet: bool,
    consumer: Option<&str>,
) -> Result<Vec<StatusRow>> {
    let hosts = selected_hosts(ctx, ssh, fleet)?;
    let options = ssh_options(ssh);
    let scope = ctx.scope;
    let per_host: Vec<Vec<StatusRow>> = fan_out(hosts, ssh.parallel as usize, |target| {
        let options = &options;
        async move {
            let label = target.label();
            let rows = match transport::connect(&target.host, options, scope).await {
                Ok(systemd) => instance_statuses(&systemd, consumer)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match rows {
                Ok(list) => list
                    .into_iter()
                    .map(|(instance, status)| StatusRow::new(&label, &instance, status))
                    .collect(),
                Err(why) => vec![StatusRow::unreachable(&label, why)],
            }
        }
    })
    .await;
    Ok(per_host.into_iter().flatten().collect())
}

/// `install-units --hosts ...` / `--fleet`: writes the unit files on every host over SFTP, then
/// reloads its manager over D-Bus. Paths in the units are taken to be the same on the hosts as
/// here (a Capistrano-style layout), except the binary (`--kafkactl`).
pub async fn install_units(ctx: &ControlContext, args: &InstallArgs) -> Result<u8> {
    let hosts = selected_hosts(ctx, &args.ssh, args.fleet)?;
    let settings = unit_settings(ctx, args)?;
    let files = render_units(&settings);
    let options = ssh_options(&args.ssh);
    let results: Vec<(String, Result<PathBuf, String>)> =
        fan_out(hosts, args.ssh.parallel as usize, |target| {
            let options = &options;
            let files = &files;
            async move {
                let label = target.label();
                let done = install_on(&target.host, options, ctx.scope, files).await;
                (label, done)
            }
        })
        .await;
    let mut failed = 0;
    for (label, result) in &results {
        match result {
            Ok(dir) => println!(
                "{label}: wrote {} unit file(s) to {}, systemd reloaded",
                files.len(),
                dir.display()
            ),
            Err(why) => {
                failed += 1;
                println!("{label}: FAILED: {why}");
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

async fn install_on(
    host: &Host,
    options: &SshOptions,
    scope: Scope,
    files: &[(&'static str, String)],
) -> Result<PathBuf, String> {
    let link = transport::connect_link(host, options)
        .await
        .map_err(|e| e.to_string())?;
    let files: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(name, text)| (name.to_string(), text.clone().into_bytes()))
        .collect();
    let (link, dir) = tokio::task::spawn_blocking(move || {
        let dir = match scope {
            Scope::System => PathBuf::from("/etc/systemd/system"),
            Scope::User => link
                .home_dir()
                .map_err(|e| e.to_string())?
                .join(".config/systemd/user"),
        };
        for (name, bytes) in &files {
            link.write_file(&dir.join(name), bytes)
                .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>((link, dir))
    })
    .await
    .map_err(|e| e.to_string())??;
    let systemd = transport::systemd_over(link, host, scope, options.connect_timeout)
        .await
        .map_err(|e| e.to_string())?;
    systemd.reload().await.map_err(|e| e.to_string())?;
    Ok(dir)
}
