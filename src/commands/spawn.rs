//! `kafkactl spawn [-c NAME] [-w N]`: bring this machine's instances of one consumer (or of
//! every consumer of the manifest) to the wanted scale, through [`crate::fleet::apply`] as
//! every changing command.

use super::{check_consumer_name, run_options, usage, Context};
use crate::cli::{SpawnArgs, SshArgs};
use crate::fleet::{apply, FleetHost};
use crate::plan::{self, Desired, Observed, PlanOptions};
use crate::target::Target;
use anyhow::Result;

/// `spawn [-c NAME] [-w N]`: NAME:1..N enabled and started, instances above N stopped and
/// disabled; every consumer of the manifest without `-c`.
pub(super) async fn spawn(ctx: &Context, args: &SpawnArgs) -> Result<u8> {
    check_consumer_name(args.consumer.as_deref())?;
    // Validated before anything is touched, even when -c/-w make it unnecessary.
    let manifest = ctx.manifest(args.consumer.is_none() || args.workers.is_none())?;
    let desired: Vec<Desired> = match (&args.consumer, args.workers) {
        (Some(name), Some(scale)) => vec![Desired {
            name: name.clone(),
            scale,
        }],
        (Some(name), None) => {
            let manifest = manifest.as_ref().expect("required above");
            let spec = manifest.consumer(name).ok_or_else(|| {
                usage(format!(
                    "consumer '{name}' is not in {}; pass -w N or add it to the manifest",
                    ctx.manifest.display()
                ))
            })?;
            vec![Desired {
                name: name.clone(),
                scale: spec.scale,
            }]
        }
        (None, Some(_)) => {
            return Err(usage(
                "-w needs -c NAME (without -c every consumer gets the manifest's scale)".into(),
            ))
        }
        (None, None) => Desired::every_consumer(manifest.as_ref().expect("required above")),
    };
    let every_consumer = args.consumer.is_none();
    let host = FleetHost {
        target: Target::Local,
        desired,
    };
    let planner = |host: &FleetHost, observed: &[Observed]| {
        // With -c, other consumers' instances are none of this command's business (not
        // even orphans to mention).
        let scoped: Vec<Observed> = observed
            .iter()
            .filter(|o| every_consumer || host.desired.iter().any(|d| d.name == o.instance.name))
            .cloned()
            .collect();
        plan::reconcile(&host.desired, &scoped, PlanOptions::default())
    };
    let local = SshArgs::this_machine_only();
    let options = run_options(ctx, "spawn", &args.change, &local, 1);
    Ok(apply::run(vec![host], &planner, &options).await)
}
