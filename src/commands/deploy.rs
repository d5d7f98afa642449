//! `kafkactl deploy [--hosts H,...] [--dry-run] [--prune] [--no-restart]`: converge every host
//! of the manifest (or this machine, when it names none) to what the manifest places there;
//! the engine is [`crate::fleet::deploy`].

use super::{ssh_options, usage, Context};
use crate::cli::DeployArgs;
use crate::fleet::deploy::{deploy as run_deploy, DeployOptions};
use crate::fleet::{parse_hosts, targets, FleetHost};
use anyhow::Result;

/// `deploy`: the exit code of [`run_deploy`].
pub(super) async fn deploy(ctx: &Context, args: &DeployArgs) -> Result<u8> {
    let manifest = ctx.manifest(true)?.expect("required");
    manifest
        .check_runnable()
        .map_err(|e| usage(e.to_string()))?;
    let listed = parse_hosts(&args.ssh.hosts).map_err(usage)?;
    let hosts = if listed.is_empty() && manifest.fleet().is_empty() {
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
    Ok(run_deploy(hosts, &options).await)
}
