//! `kafkactl stop|restart -c NAME[:K]` and `kafkactl disable-and-stop [-c NAME[:K]]` on this
//! machine.

use super::spawn::finish;
use super::Context;
use crate::cli::{DisableArgs, TargetArgs};
use crate::control::output::ConsoleProgress;
use crate::control::{apply, observe};
use crate::error::Failure;
use crate::plan::{self, Step};
use crate::systemd::DbusSystemd;
use crate::target::Target;
use crate::transport::SshOptions;
use crate::units::InstanceSelector;
use anyhow::Result;

fn selector(arg: &str) -> Result<InstanceSelector> {
    InstanceSelector::parse(arg).map_err(|e| Failure::Usage(e).into())
}

/// This machine's manager, once the arguments and the manifest (when there is one) were
/// checked: a broken manifest is the answer (exit 2), not whether systemd can be reached.
async fn connect(ctx: &Context) -> Result<DbusSystemd> {
    ctx.manifest(false)?;
    Target::Local
        .connect(ctx.scope, &SshOptions::default())
        .await
        .map_err(anyhow::Error::msg)
}

/// `stop -c NAME[:K]` and `restart -c NAME[:K]`.
pub(super) async fn stop_or_restart(ctx: &Context, args: &TargetArgs, step: Step) -> Result<u8> {
    let selector = selector(&args.consumer)?;
    let systemd = connect(ctx).await?;
    let observed = observe(&systemd).await?;
    if !observed.iter().any(|o| selector.matches(&o.instance)) {
        return Err(Failure::Usage(format!(
            "no kafka-consumer instance matches '{}'",
            args.consumer
        ))
        .into());
    }
    let plan = plan::each(&observed, &selector, step);
    if plan.is_empty() {
        println!(
            "nothing to do: no instance of '{}' is running",
            args.consumer
        );
        return Ok(0);
    }
    finish(apply(&systemd, &plan, &ConsoleProgress::new()).await)
}

/// `disable-and-stop [-c NAME]`.
pub(super) async fn disable_and_stop(ctx: &Context, args: &DisableArgs) -> Result<u8> {
    let selector = args.consumer.as_deref().map(selector).transpose()?;
    let systemd = connect(ctx).await?;
    let observed = observe(&systemd).await?;
    let plan = plan::disable_and_stop(&observed, selector.as_ref());
    if plan.is_empty() {
        println!("nothing to do: no kafka-consumer instance is enabled or running");
        return Ok(0);
    }
    finish(apply(&systemd, &plan, &ConsoleProgress::new()).await)
}
