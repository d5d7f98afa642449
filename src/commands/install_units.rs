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
    let cwd = logical_current_dir()?;
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

/// The current directory as the shell names it (`$PWD`, symlinks kept) when that is where we
/// are: run from `/srv/myapp/current`, the units must name `current`, not the release it
/// points at today, or every later deploy would restart the workers into that old release.
fn logical_current_dir() -> Result<PathBuf> {
    let physical = std::env::current_dir()?;
    let logical = std::env::var_os("PWD")
        .map(PathBuf::from)
        .filter(|pwd| pwd.is_absolute())
        .filter(|pwd| pwd.canonicalize().is_ok_and(|p| p == physical));
    Ok(logical.unwrap_or(physical))
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

/// The manifest the units name: a relative `-f` (or the default `config/kafka_consumers.yml`)
/// is the app's, so it resolves against `--workdir` when one is given, not against wherever
/// the command happens to run. On this machine it must exist there.
fn manifest_in_workdir(ctx: &Context, args: &InstallArgs) -> Result<Context> {
    let Some(workdir) = &args.workdir else {
        return Ok(ctx.clone());
    };
    let mut resolved = ctx.clone();
    if ctx.manifest.is_relative() {
        resolved.manifest = workdir.join(&ctx.manifest);
    }
    let local = args.ssh.hosts.is_empty() && !args.fleet;
    if local && !resolved.manifest.is_file() {
        return Err(Failure::Usage(format!(
            "no manifest at {} (the units would point the workers at it): check --workdir, \
             or name the manifest with -f FILE",
            resolved.manifest.display()
        ))
        .into());
    }
    // The workers read it there: the flag's own file, not one of the same name here.
    resolved.manifest_explicit = true;
    Ok(resolved)
}

/// `install-units`. Paths in the units are taken to be the same on the hosts as here (a
/// Capistrano-style layout), except the binary (`--kafkactl`). Exit 1 when any target failed.
/// A consumer template installed for another manifest or app directory is another app's and
/// is not replaced without `--force` (one app per systemd manager).
pub(super) async fn install_units(ctx: &Context, args: &InstallArgs) -> Result<u8> {
    let resolved = manifest_in_workdir(ctx, args)?;
    let ctx = &resolved;
    let (manifest, targets) = select(ctx, &args.ssh, args.fleet, false)?;
    let settings = unit_settings(ctx, args, manifest.as_ref())?;
    let files = render_units(&settings).map_err(Failure::Usage)?;
    if args.print {
        for (name, text) in &files {
            println!("# {}", ctx.scope.unit_dir().join(name).display());
            println!("{text}");
        }
        return Ok(0);
    }
    let rendered_template = files
        .iter()
        .find(|(name, _)| *name == crate::units::CONSUMER_TEMPLATE)
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    let force = args.force;
    let vet = move |name: &str, existing: &str| -> Result<(), String> {
        if force || name != crate::units::CONSUMER_TEMPLATE {
            return Ok(());
        }
        match crate::units::other_app(existing, &rendered_template) {
            None => Ok(()),
            Some(why) => Err(format!(
                "the installed {name} serves another app: {why}. One template serves one app \
                 per systemd manager (docs/operations.md); run the other app under its own \
                 user's manager (--user) or on other hosts, or replace it with --force"
            )),
        }
    };
    let vet = &vet;
    let options = ssh_options(&args.ssh);
    let results: Vec<(String, Result<PathBuf, String>)> =
        fan_out(targets, args.ssh.parallel as usize, |host| {
            let (options, files) = (&options, &files);
            async move {
                let done = host
                    .target
                    .install_unit_files(ctx.scope, options, files, vet)
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
