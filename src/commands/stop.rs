//! `kafkactl stop|restart -c NAME[:K]` and `kafkactl disable-and-stop [-c NAME[:K] | --all]`,
//! on this machine or, with `--hosts`/`--fleet`, across hosts: one path through
//! [`crate::fleet::apply`] either way.

use super::{run_options, select, usage, Context};
use crate::cli::{DisableArgs, RestartArgs, StopArgs};
use crate::fleet::apply;
use crate::plan::{self, Step};
use crate::units::InstanceSelector;
use anyhow::Result;
use std::collections::BTreeSet;

fn selector(arg: &str) -> Result<InstanceSelector> {
    InstanceSelector::parse(arg).map_err(usage)
}

/// `stop -c NAME[:K]`: the matching running instances stop (they stay enabled, so they come
/// back at boot; `disable-and-stop` keeps them down).
pub(super) async fn stop(ctx: &Context, args: &StopArgs) -> Result<u8> {
    let args = &args.instances;
    let selector = selector(&args.consumer)?;
    // Checked before anything is reached: a broken manifest is the answer, not a host.
    let (_, hosts) = select(ctx, &args.ssh, args.fleet, false)?;
    let mut options = run_options(ctx, "stop", &args.change, &args.ssh, 1);
    options.must_match = Some(selector.clone());
    let planner = |_: &_, observed: &[_]| plan::each(observed, &selector, Step::Stop);
    Ok(apply::run(hosts, &planner, &options).await)
}

/// `restart -c NAME[:K]`: the matching instances restart rolling, `--batch-size` at a time
/// across the hosts, each batch waited for (READY) before the next, as `deploy` does.
pub(super) async fn restart(ctx: &Context, args: &RestartArgs) -> Result<u8> {
    let batch_size = args.batch_size;
    let args = &args.instances;
    let selector = selector(&args.consumer)?;
    let (_, hosts) = select(ctx, &args.ssh, args.fleet, false)?;
    let mut options = run_options(ctx, "restart", &args.change, &args.ssh, batch_size);
    options.must_match = Some(selector.clone());
    let planner = |_: &_, observed: &[_]| plan::each(observed, &selector, Step::Restart);
    Ok(apply::run(hosts, &planner, &options).await)
}

/// `disable-and-stop [-c NAME[:K] | --all]`: without `-c`, the manifest's consumers only, so
/// one app's deploy never takes down instances it does not own; `--all` is every
/// `kafka-consumer@` instance of the manager.
pub(super) async fn disable_and_stop(ctx: &Context, args: &DisableArgs) -> Result<u8> {
    let selector = args.consumer.as_deref().map(selector).transpose()?;
    let needs_manifest = selector.is_none() && !args.all;
    let (manifest, hosts) = select(ctx, &args.ssh, args.fleet, false)?;
    let owned: Option<BTreeSet<String>> = match (&manifest, needs_manifest) {
        (_, false) => None,
        (Some(manifest), true) => Some(manifest.consumers.iter().map(|c| c.name.clone()).collect()),
        (None, true) => {
            return Err(usage(format!(
                "disable-and-stop acts on the manifest's consumers and there is no manifest at \
                 {}: run it from the app's root, name the manifest with -f FILE, pick one \
                 consumer with -c NAME, or say --all for every kafka-consumer@ instance",
                ctx.manifest.display()
            )))
        }
    };
    let options = run_options(ctx, "disable-and-stop", &args.change, &args.ssh, 1);
    let planner = |_: &_, observed: &[plan::Observed]| {
        let mine: Vec<plan::Observed> = observed
            .iter()
            .filter(|o| {
                owned
                    .as_ref()
                    .is_none_or(|names| names.contains(&o.instance.name))
            })
            .cloned()
            .collect();
        plan::disable_and_stop(&mine, selector.as_ref())
    };
    Ok(apply::run(hosts, &planner, &options).await)
}
