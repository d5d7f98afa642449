//! `kafkactl deploy [-c NAME] [--hosts H,...] [--dry-run] [--prune] [--no-restart]`: converge
//! every host of the manifest (or this machine, when it names none) to what the manifest
//! places there, through [`crate::fleet::apply`].

use super::{run_options, usage, Context};
use crate::cli::DeployArgs;
use crate::fleet::apply;
use crate::fleet::{parse_hosts, targets, FleetHost};
use crate::plan::{self, Observed, PlanOptions};
use anyhow::Result;

/// `deploy`: the exit code of [`apply::run`]. With `-c NAME` only that consumer's instances
/// are planned (started, scaled, restarted) on every host it is placed on.
pub(super) async fn deploy(ctx: &Context, args: &DeployArgs) -> Result<u8> {
    let manifest = ctx.manifest(true)?.expect("required");
    manifest
        .check_runnable()
        .map_err(|e| usage(e.to_string()))?;
    if let Some(name) = &args.consumer {
        crate::manifest::rules::check_consumer_name(name).map_err(usage)?;
        if manifest.consumer(name).is_none() {
            return Err(usage(format!(
                "consumer '{name}' is not in {}; deploy -c takes one of: {}",
                ctx.manifest.display(),
                manifest
                    .consumers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let listed = parse_hosts(&args.ssh.hosts).map_err(usage)?;
    let mut hosts = if listed.is_empty() && manifest.fleet().is_empty() {
        vec![FleetHost::local(&manifest)]
    } else {
        targets(&manifest, &listed).map_err(usage)?
    };
    if let Some(name) = &args.consumer {
        for host in &mut hosts {
            host.desired.retain(|d| &d.name == name);
        }
        hosts.retain(|h| !h.desired.is_empty());
    }
    let mut options = run_options(ctx, "deploy", &args.change, &args.ssh, args.batch_size);
    options.restarts_are_changes = false;
    options.allow_version_skew = args.allow_version_skew;
    let only = args.consumer.as_deref();
    let plan_options = PlanOptions {
        restart_running: !args.no_restart,
        prune: args.prune && only.is_none(),
    };
    let planner = |host: &FleetHost, observed: &[Observed]| {
        let scoped: Vec<Observed> = observed
            .iter()
            .filter(|o| only.is_none_or(|name| o.instance.name == name))
            .cloned()
            .collect();
        plan::reconcile(&host.desired, &scoped, plan_options)
    };
    Ok(apply::run(hosts, &planner, &options).await)
}
