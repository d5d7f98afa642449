//! `kafkactl install-units [--hosts H,... | --fleet]`: writes the unit files, with this binary's
//! path, the manifest, the app directory and the user filled in, into the manager's unit
//! directory of every target (the file system here, SFTP on a host), then reloads it.

use super::{select, ssh_options, Context};
use crate::cli::InstallArgs;
use crate::error::Failure;
use crate::fleet::fan_out;
use crate::manifest::Manifest;
use crate::systemd::Scope;
use crate::units::{render_units, RunAs, UnitSettings};
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

/// What `install-units` writes into the units: `--kafkactl` (else this binary), the manifest,
/// `--workdir` (else the current directory) and `--proxy-config`, as absolute paths.
fn unit_settings(
    ctx: &Context,
    args: &InstallArgs,
    manifest: Option<&Manifest>,
) -> Result<UnitSettings> {
    let cwd = std::env::current_dir()?;
    let absolute = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let kafkactl = match &args.kafkactl {
        Some(path) => absolute(path),
        None => std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .context("finding the kafkactl binary")?,
    };
    Ok(UnitSettings {
        kafkactl,
        manifest: absolute(&ctx.manifest),
        workdir: args
            .workdir
            .as_deref()
            .map_or_else(|| cwd.clone(), absolute),
        proxy_config: absolute(&args.proxy_config),
        scope: ctx.scope,
        run_as: run_as(ctx, args, manifest)?,
    })
}

/// Who the consumers run as: `--run-as`, else the manifest's `run_as:`. The system scope needs
/// one (a unit without `User=` runs its handler as root); root itself must be named, and is
/// warned about. A user manager runs everything as its own user.
fn run_as(ctx: &Context, args: &InstallArgs, manifest: Option<&Manifest>) -> Result<Option<RunAs>> {
    if ctx.scope == Scope::User {
        return Ok(None);
    }
    let run_as = match &args.run_as {
        Some(run_as) => run_as.clone(),
        None => match manifest.and_then(|m| m.run_as.clone()) {
            Some(run_as) => run_as,
            None => {
                return Err(Failure::Usage(format!(
                    "say which user the consumers' handlers run as: --run-as USER[:GROUP], or \
                     `run_as: USER` in {}. Without it systemd would run them as root; if that \
                     is really wanted, say --run-as root",
                    ctx.manifest.display()
                ))
                .into())
            }
        },
    };
    if run_as.is_root() {
        eprintln!(
            "kafkactl: warning: consumers and their handlers will run as root (--run-as root): \
             any bug in a handler has the whole host; prefer the app's own user"
        );
    }
    Ok(Some(run_as))
}

/// `install-units`. Paths in the units are taken to be the same on the hosts as here (a
/// Capistrano-style layout), except the binary (`--kafkactl`). Exit 1 when any target failed.
pub(super) async fn install_units(ctx: &Context, args: &InstallArgs) -> Result<u8> {
    let (manifest, targets) = select(ctx, &args.ssh, args.fleet, false)?;
    let settings = unit_settings(ctx, args, manifest.as_ref())?;
    let files = render_units(&settings).map_err(Failure::Usage)?;
    let options = ssh_options(&args.ssh);
    let results: Vec<(String, Result<PathBuf, String>)> =
        fan_out(targets, args.ssh.parallel as usize, |host| {
            let (options, files) = (&options, &files);
            async move {
                let done = host
                    .target
                    .install_unit_files(ctx.scope, options, files)
                    .await;
                (host.label(), done)
            }
        })
        .await;
    let mut failed = 0;
    for (label, result) in &results {
        match result {
            Ok(dir) => println!(
                "{label}: wrote {} to {}, systemd reloaded",
                files
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", "),
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
