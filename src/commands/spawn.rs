//! `kafkactl spawn [-c NAME] [-w N]`: bring this machine's instances of one consumer (or of
//! every consumer of the manifest) to the wanted scale.

use super::{check_consumer_name, Context};
use crate::cli::SpawnArgs;
use crate::control::output::{self, ConsoleProgress};
use crate::control::{apply, observe, require_template, ApplyReport};
use crate::error::Failure;
use crate::plan::{self, Desired, PlanOptions, Step};
use crate::target::Target;
use crate::transport::SshOptions;
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
                Failure::Usage(format!(
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
            return Err(Failure::Usage(
                "-w needs -c NAME (without -c every consumer gets the manifest's scale)".into(),
            )
            .into())
        }
        (None, None) => Desired::every_consumer(manifest.as_ref().expect("required above")),
    };
    let systemd = Target::Local
        .connect(ctx.scope, &SshOptions::default())
        .await
        .map_err(anyhow::Error::msg)?;
    let systemd = &systemd;
    let observed = observe(systemd).await?;
    let scoped: Vec<_> = observed
        .into_iter()
        .filter(|o| desired.iter().any(|d| d.name == o.instance.name) || args.consumer.is_none())
        .collect();
    let plan = plan::reconcile(&desired, &scoped, PlanOptions::default());
    for orphan in &plan.orphans {
        eprintln!(
            "note: {} is running but not in the manifest (deploy --prune removes it)",
            orphan.unit()
        );
    }
    if plan.is_empty() {
        println!("nothing to do: {}", summary(&desired));
        return Ok(0);
    }
    if !plan.instances(Step::Enable).is_empty() || !plan.instances(Step::Start).is_empty() {
        require_template(systemd, &Target::Local.install_hint(ctx.scope))
            .await
            .map_err(Failure::Usage)?;
    }
    finish(apply(systemd, &plan, &ConsoleProgress::new()).await)
}

fn summary(desired: &[Desired]) -> String {
    desired
        .iter()
        .map(|d| format!("{} at scale {}", d.name, d.scale))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Prints what became of each action; exit 1 when any failed.
pub(super) fn finish(report: ApplyReport) -> Result<u8> {
    print!("{}", output::report_text(&report));
    Ok(if report.succeeded() { 0 } else { 1 })
}
